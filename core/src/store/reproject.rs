//! Deriving a person's projection rows (caseload, alerts, the day's rows, referrals, duplicates,
//! advice) from their documents, in two steps: reading the documents into the typed record (pure
//! CPU work, which for many people is spread over the phone's cores by `store::spread`) and
//! writing the rows (in the caller's transaction, one person after another).
//!
//! Invariant: the rows written are exactly what [`read_person`] reads from the documents, so a
//! person projected alone and a person projected in a batch get the same rows.

use rusqlite::Transaction;

use super::docs::{DocCache, DocKey};
use crate::error::{Error, Result};
use crate::record::duplicates::DuplicateView;
use crate::record::model::Demographics;
use crate::record::read::{AdviceRecord, ClinicalRecord};
use crate::record::referral::ReferralView;
use crate::record::{self, Compartment};

/// Below this many people a batch is read on the calling thread.
const SPREAD_FROM: usize = 8;

/// What one person's rows are derived from.
struct Reading {
    demographics: Option<Demographics>,
    clinical: Option<ClinicalRecord>,
    referrals: Vec<ReferralView>,
    duplicates: Vec<DuplicateView>,
    advice: Option<AdviceRecord>,
}

/// Re-derive all projection rows of one person from their documents.
pub(super) fn project_person(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    person_id: &str,
) -> Result<()> {
    warm(tx, docs, person_id)?;
    let reading = read_person(docs, person_id)?;
    write_person(tx, person_id, &reading)
}

/// Re-derive the rows of every person in `people`: their documents are read on several threads,
/// as many people at a time as the warm documents allow, and the rows written in order.
pub(super) fn project_people(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    people: &[String],
) -> Result<()> {
    let batch = (docs.capacity() / Compartment::ALL.len()).max(1);
    for people in people.chunks(batch) {
        for p in people {
            warm(tx, docs, p)?;
        }
        let readings = read_spread(docs, people)?;
        for (p, reading) in people.iter().zip(readings) {
            write_person(tx, p, &reading?)?;
        }
    }
    Ok(())
}

fn key(person_id: &str, comp: Compartment) -> DocKey {
    (person_id.to_string(), comp)
}

/// Bring the person's documents into the cache.
fn warm(tx: &Transaction<'_>, docs: &mut DocCache, person_id: &str) -> Result<()> {
    for comp in Compartment::ALL {
        docs.get(tx, &key(person_id, comp))?;
    }
    Ok(())
}

/// Read each person of `people` (whose documents are warm), spread over the phone's cores, in
/// order.
fn read_spread(docs: &DocCache, people: &[String]) -> Result<Vec<Result<Reading>>> {
    super::spread::map_in_order(people, SPREAD_FROM, "reading the caseload's records", |p| {
        read_person(docs, p)
    })
}

/// Read the person's warm documents into what their rows are derived from.
fn read_person(docs: &DocCache, person_id: &str) -> Result<Reading> {
    let doc = |comp| {
        docs.peek(&key(person_id, comp)).ok_or_else(|| {
            Error::Document(format!(
                "the {} record of {person_id} is not loaded",
                comp.as_str()
            ))
        })
    };
    let demographics = doc(Compartment::Demographics)?;
    let clinical = doc(Compartment::Clinical)?;
    let advice = doc(Compartment::Advice)?;
    Ok(Reading {
        demographics: record::read::demographics(demographics)?,
        clinical: if clinical.is_empty() {
            None
        } else {
            Some(record::read::clinical(person_id, clinical)?)
        },
        referrals: record::referral::referrals(person_id, demographics)?,
        duplicates: record::duplicates::duplicates(person_id, demographics)?,
        advice: if advice.is_empty() {
            None
        } else {
            Some(record::read::advice(advice)?)
        },
    })
}

/// Write the person's rows from what was read.
fn write_person(tx: &Transaction<'_>, person_id: &str, r: &Reading) -> Result<()> {
    super::projections::replace_person(
        tx,
        person_id,
        r.demographics.as_ref(),
        r.clinical.as_ref(),
    )?;
    super::referrals::replace_rows(tx, person_id, &r.referrals)?;
    super::duplicates::replace_rows(tx, person_id, &r.duplicates)?;
    match &r.advice {
        Some(advice) => super::day::advice::replace_rows(tx, person_id, advice),
        None => super::day::advice::delete_rows(tx, person_id),
    }
}
