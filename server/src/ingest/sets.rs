//! After the readings of an upload are stored: each person's home-monitoring sets assembled and
//! written into their clinical document by this server process as its own principal
//! (docs/decisions/0011, `doorstep_core::record::home`), in the same write transaction, so a
//! reading and the set it joins commit together or not at all. The change is checked by the
//! same `validate::check_change` every phone runs on it, and stored in the log like any other:
//! the team's phones receive it on their next sync, and escalations follow from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use doorstep_core::clinical::readings::{Reading, ReadingKind};
use doorstep_core::record::home;

use crate::authored;
use crate::docs::DocsGuard;
use crate::error::{Result, ServerError};
use crate::identity::ServerIdentity;
use crate::storage::{StoredReading, Tx};

/// The earliest and latest new reading of each person in an upload.
#[derive(Debug, Default)]
pub struct Touched(BTreeMap<String, (i64, i64)>);

impl Touched {
    pub fn note(&mut self, person_id: &str, taken_ms: i64) {
        let e = self
            .0
            .entry(person_id.to_string())
            .or_insert((taken_ms, taken_ms));
        e.0 = e.0.min(taken_ms);
        e.1 = e.1.max(taken_ms);
    }
}

/// Write the sets every touched person's new readings join or open. How many sets were written.
pub fn write_all(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    touched: &Touched,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut written = 0;
    for (person_id, (first, last)) in &touched.0 {
        written += write_person(tx, docs, me, person_id, (*first, *last), now)?;
    }
    Ok(written)
}

fn write_person(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    person_id: &str,
    (first, last): (i64, i64),
    now: DateTime<Utc>,
) -> Result<u64> {
    let (Some(f), Some(l)) = (
        DateTime::from_timestamp_millis(first),
        DateTime::from_timestamp_millis(last),
    ) else {
        return Err(storage(
            person_id,
            "a reading's time is out of range".into(),
        ));
    };
    let new = (f, l);
    // Every reading of the sets the new ones join or open, so each is assembled whole: from the
    // opening of the set holding the first new reading to an hour after the last.
    let (from, to) = {
        let doc = docs.get(tx, person_id, doorstep_core::record::Compartment::Clinical)?;
        home::readings_span(&doc.doc, f, l).map_err(|e| storage(person_id, e.to_string()))?
    };
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    let stored = tx.readings_of(person_id, from, to + 1)?;
    let readings: Vec<Reading> = stored.iter().filter_map(reading_of).collect();
    let written = authored::write_clinical(
        tx,
        docs,
        me,
        authored::Writer::Server,
        person_id,
        now,
        &storage,
        |doc, author| {
            let edit = home::write_sets_for(doc, person_id, author, &readings, new)?;
            Ok((!edit.value.is_empty()).then_some((edit.value.len() as u64, edit.summary)))
        },
    )?;
    Ok(written.unwrap_or(0))
}

fn storage(person_id: &str, why: String) -> ServerError {
    ServerError::Storage(format!(
        "the home-monitoring sets of {person_id} could not be written ({why}); the upload was not stored, send it again"
    ))
}

/// A stored reading as the record's rules take it (a kind this build does not know is skipped).
fn reading_of(r: &StoredReading) -> Option<Reading> {
    let kind: ReadingKind =
        serde_json::from_value(serde_json::Value::String(r.kind.clone())).ok()?;
    Some(Reading {
        kind,
        value: r.value,
        unit: r.unit.clone(),
        taken_at: DateTime::from_timestamp_millis(r.taken_ms)?,
    })
}
