//! Tell it once on the server (issue 14 item 6, docs/outreach.md): after a person's
//! demographics change, the server looks for other records with the same NHS number, or the same
//! name, date of birth and postcode, and flags each pair in **both** records as its own
//! principal (`authored::write_record`), in the upload's transaction; a clinician's decision on
//! a flag is copied into the other record the same way. Only the server sees every team's
//! registrations, so only it can tell two teams that they hold the same person.

use chrono::{DateTime, Utc};
use doorstep_core::record::duplicates::{self, PossibleDuplicate, RecordLink};
use doorstep_core::record::{read, Compartment};

use crate::authored::{self, Writer};
use crate::docs::DocsGuard;
use crate::error::{Result, ServerError};
use crate::identity::ServerIdentity;
use crate::storage::Tx;

/// The most other records one key flags: a real duplicate is one or two registrations; a key
/// shared by many (a test data set, a care home's address and a common name) must not write
/// a flag per pair.
pub const MAX_FLAGS_PER_KEY: usize = 10;

fn fail(p: &str, why: String) -> ServerError {
    ServerError::Storage(format!(
        "a possible duplicate of {p} could not be noted ({why}); the upload was not stored, sync again"
    ))
}

/// The person's demographics changed: keep their identity keys and flag every other record
/// that shares one, in both records, once per pair and kind of match.
pub fn after_demographics(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    person_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let keys = {
        let doc = docs.get(tx, person_id, Compartment::Demographics)?;
        match read::demographics(&doc.doc) {
            Ok(Some(d)) => duplicates::identity_keys(&d),
            _ => Vec::new(),
        }
    };
    let rows: Vec<(String, String)> = keys
        .iter()
        .map(|(m, k)| (m.code().to_string(), k.clone()))
        .collect();
    tx.set_identity_keys(person_id, &rows)?;
    for (matched_on, key) in keys {
        let others = tx.people_with_identity(matched_on.code(), &key)?;
        for other in others.into_iter().take(MAX_FLAGS_PER_KEY) {
            if other == person_id {
                continue;
            }
            let already = {
                let doc = docs.get(tx, person_id, Compartment::Demographics)?;
                duplicates::flagged(&doc.doc, &other, matched_on).unwrap_or(false)
            };
            if already {
                continue;
            }
            let id = duplicates::flag_id(person_id, &other, matched_on, now);
            for (here, there) in [(person_id, other.as_str()), (other.as_str(), person_id)] {
                let other_teams = tx.teams_of(there)?;
                flag(tx, docs, me, here, there, &id, other_teams, matched_on, now)?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn flag(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    here: &str,
    there: &str,
    id: &str,
    other_teams: Vec<String>,
    matched_on: duplicates::DuplicateMatch,
    now: DateTime<Utc>,
) -> Result<()> {
    authored::write_record(
        tx,
        docs,
        me,
        Writer::Server,
        (here, Compartment::Demographics),
        now,
        &fail,
        |doc, author| {
            if duplicates::flagged(doc, there, matched_on)? {
                return Ok(None);
            }
            let f = PossibleDuplicate {
                id: id.to_string(),
                other_person_id: there.to_string(),
                other_teams,
                matched_on,
                author: author.clone(),
            };
            let summary = duplicates::note_duplicate(doc, &f)?;
            Ok(Some(((), summary)))
        },
    )?;
    Ok(())
}

/// A clinician decided on a flag of `person_id`'s record: copy the decision into the other
/// record, so its team sees it too.
pub fn mirror(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    person_id: &str,
    link: &RecordLink,
    now: DateTime<Utc>,
) -> Result<()> {
    if link.other_person_id == person_id || !tx.person_known(&link.other_person_id)? {
        return Ok(());
    }
    authored::write_record(
        tx,
        docs,
        me,
        Writer::Server,
        (&link.other_person_id, Compartment::Demographics),
        now,
        &fail,
        |doc, author| {
            let summary = duplicates::mirror_link(doc, link, person_id, author)?;
            Ok(Some(((), summary)))
        },
    )?;
    Ok(())
}
