//! After the readings of an upload are stored: each person's home-monitoring sets assembled and
//! written into their clinical document by this server process as its own principal
//! (docs/decisions/0011, `doorstep_core::record::home`), in the same write transaction, so a
//! reading and the set it joins commit together or not at all. The change is checked by the
//! same `validate::check_change` every phone runs on it, and stored in the log like any other:
//! the team's phones receive it on their next sync, and escalations follow from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use doorstep_core::clinical::readings::{Reading, ReadingKind, SET_WINDOW};
use doorstep_core::record::policy::{self, Action, Context, Principal};
use doorstep_core::record::{home, validate, Compartment};

use crate::docs::DocsGuard;
use crate::error::{Result, ServerError};
use crate::identity::ServerIdentity;
use crate::storage::{NewChange, StoredReading, Tx};

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
    let principal = Principal::Server {
        instance: me.instance.clone(),
    };
    policy::allows(
        &principal,
        Action::Write(Compartment::Clinical),
        &Context::default(),
    )
    .map_err(|d| ServerError::Storage(d.to_string()))?;
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
    // Every reading within an hour either side: each set the new ones join is assembled whole.
    let hour = SET_WINDOW.num_milliseconds();
    let stored = tx.readings_of(person_id, first - hour, last + hour + 1)?;
    let readings: Vec<Reading> = stored.iter().filter_map(reading_of).collect();
    let author = me.author(now);
    let doc = docs.get(tx, person_id, Compartment::Clinical)?;
    doc.act_as(&me.actor);
    let edit = match home::write_sets(&mut doc.doc, person_id, &author, &readings) {
        Ok(e) => e,
        Err(e) => {
            doc.doc.rollback();
            docs.drop_doc(person_id, Compartment::Clinical);
            return Err(storage(person_id, e.to_string()));
        }
    };
    if edit.value.is_empty() {
        return Ok(0);
    }
    let stamp = home::server_stamp(&author, edit.summary);
    let message = serde_json::to_string(&stamp).map_err(|e| storage(person_id, e.to_string()))?;
    let seq = tx.next_seq()?;
    let change = doc
        .commit_local(message, now.timestamp_millis(), seq)
        .ok_or_else(|| storage(person_id, "the sets made no change".into()))?;
    // The rules every phone applies to it: nothing is stored that a phone would refuse.
    if let Err(refusal) = validate::check_change(Compartment::Clinical, &change) {
        docs.drop_doc(person_id, Compartment::Clinical);
        return Err(storage(person_id, refusal.to_string()));
    }
    bind_actor(tx, me)?;
    let actor = change.actor_id().to_hex_string();
    let device_id = me.device_id();
    let hash = change.hash();
    let inserted = tx.insert_change(&NewChange {
        seq,
        person_id,
        compartment: Compartment::Clinical,
        hash: hash.as_ref(),
        bytes: change.raw_bytes(),
        origin_device: &device_id,
        received_ms: now.timestamp_millis(),
        actor: Some(&actor),
        actor_seq: Some(change.seq()),
        clock_note_ms: None,
    })?;
    if !inserted {
        docs.drop_doc(person_id, Compartment::Clinical);
        return Err(storage(
            person_id,
            "the log already holds this server's change number".into(),
        ));
    }
    Ok(edit.value.len() as u64)
}

/// The process's actor is bound to it on its first write, so no device may use it.
fn bind_actor(tx: &mut dyn Tx, me: &ServerIdentity) -> Result<()> {
    let actor = me.actor.to_hex_string();
    match tx.actor_owner(&actor)? {
        None => tx.bind_actor(&actor, &me.device_id()),
        Some(owner) if owner == me.device_id() => Ok(()),
        Some(owner) => Err(ServerError::Storage(format!(
            "this server's actor {actor} is bound to {owner}; restart the server to take a new one"
        ))),
    }
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
