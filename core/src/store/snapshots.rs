//! Documents that arrive whole, as snapshots: a first sync by snapshots (docs/decisions/0010).
//!
//! A snapshot is decoded only below a size bound and inside panic isolation, and every change in
//! it is checked with the record's rules (`record::validate`, as every received change is). One
//! that fails any of this is refused whole: it goes into quarantine, is reported, and nothing of
//! it is stored; the rest of the page is applied. A document this store does not hold yet takes
//! the snapshot as it came: its bytes become the document's stored snapshot, with one `changes`
//! row per change in it (hash, time, summary: the history view, and a later duplicate of a change
//! is recognised as held), and no per-change apply or storage. A document the store already holds
//! (a phone that recorded before its first sync) gets the snapshot's changes it lacks as received
//! changes, through the same path as any page's changes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::{AutoCommit, Change};
use rusqlite::{params, Transaction};

use super::docs::{DocCache, DocKey};
use super::exchange::{quarantine_incoming, valid_person_id, BadIncoming, Parsed};
use crate::error::{Error, Result};
use crate::record::layout::AuditStamp;
use crate::record::{self, apply, validate, Compartment};
use crate::sync::protocol::Snapshot;

/// The largest snapshot a phone takes (a document of years of daily visits is a few MB).
pub const MAX_SNAPSHOT_BYTES: usize = 16 * 1024 * 1024;

/// A snapshot decoded and checked, ready to store.
pub(super) struct Decoded {
    key: DocKey,
    doc: AutoCommit,
    bytes: Vec<u8>,
}

/// Decode and check every snapshot of a page (CPU work, before the writer is taken, spread over
/// the phone's cores: `store::spread`). A snapshot that fails is set aside for quarantine; it
/// never fails the page.
pub(super) fn decode_all(snapshots: &[Snapshot]) -> Result<(Vec<Decoded>, Vec<BadIncoming>)> {
    if let Some(s) = snapshots.iter().find(|s| !valid_person_id(&s.person_id)) {
        return Err(Error::BadChanges(format!(
            "a snapshot names no valid person ('{}')",
            s.person_id.chars().take(70).collect::<String>()
        )));
    }
    let mut good = Vec::with_capacity(snapshots.len());
    let mut bad = Vec::new();
    for (s, decoded) in snapshots.iter().zip(decode_spread(snapshots)?) {
        match decoded {
            Ok(doc) => good.push(Decoded {
                key: (s.person_id.clone(), s.compartment),
                doc,
                bytes: s.bytes.clone(),
            }),
            Err((code, reason)) => {
                tracing::warn!(person = %s.person_id, %code, "received snapshot refused");
                bad.push(BadIncoming {
                    person_id: s.person_id.clone(),
                    compartment: s.compartment,
                    hash: None,
                    code: code.to_string(),
                    reason,
                    bytes: s.bytes.clone(),
                    stamp: None,
                    at_ms: 0,
                });
            }
        }
    }
    Ok((good, bad))
}

/// Below this many snapshots a page is decoded on the calling thread.
pub(super) const SPREAD_FROM: usize = 16;

/// A snapshot decoded and checked, or why not: (code, reason for a person).
type Outcome = std::result::Result<AutoCommit, (&'static str, String)>;

/// [`decode`] every snapshot, in order, spread over the phone's cores. A panic while checking
/// one snapshot refuses that snapshot only.
fn decode_spread(snapshots: &[Snapshot]) -> Result<Vec<Outcome>> {
    super::spread::map_in_order(snapshots, SPREAD_FROM, "checking received records", |s| {
        catch_unwind(AssertUnwindSafe(|| decode(s))).unwrap_or_else(|_| {
            Err((
                "malformed",
                "a record arrived whole but checking it failed".to_string(),
            ))
        })
    })
}

/// Load a snapshot and check every change in it. Errors are (code, reason for a person).
fn decode(s: &Snapshot) -> Outcome {
    if s.bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err((
            "too_large",
            format!(
                "a {} record of {} KB arrived whole, larger than the {} KB this app takes",
                s.compartment.as_str(),
                s.bytes.len() / 1024,
                MAX_SNAPSHOT_BYTES / 1024
            ),
        ));
    }
    let mut doc = apply::load_isolated(&s.bytes).map_err(|e| {
        (
            "malformed",
            format!(
                "a {} record arrived whole but cannot be read: {e}",
                s.compartment.as_str()
            ),
        )
    })?;
    let changes: Vec<Change> =
        catch_unwind(AssertUnwindSafe(|| doc.get_changes(&[]))).map_err(|_| {
            (
                "malformed",
                "a record arrived whole but its changes cannot be read".to_string(),
            )
        })?;
    for c in &changes {
        if let Err(refusal) = validate::check_change(s.compartment, c) {
            return Err((
                refusal.code(),
                format!(
                    "a {} record arrived whole with a change this app refuses: {refusal}",
                    s.compartment.as_str()
                ),
            ));
        }
    }
    Ok(doc)
}

/// Store the page's snapshots inside the caller's transaction, before its changes: refused ones
/// are quarantined; a document new to this store is adopted as it came; the changes a held
/// document lacks go to the front of its received changes in `parsed`. On error the caller must
/// evict every warm document (as for changes).
pub(super) fn import(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    decoded: Vec<Decoded>,
    bad: Vec<BadIncoming>,
    parsed: &mut Parsed,
) -> Result<()> {
    for b in &bad {
        quarantine_incoming(tx, b)?;
    }
    parsed.adopted.quarantined += bad.len() as u64;
    for d in decoded {
        let entry = docs.get(tx, &d.key)?;
        if entry.unfolded == 0 && entry.doc.get_heads().is_empty() {
            adopt(tx, docs, d, parsed)?;
        } else {
            let mut incoming = d.doc;
            let lacking = entry.doc.get_changes_added(&mut incoming);
            let queued = parsed.docs.entry(d.key).or_default();
            let mut all = lacking;
            all.append(queued);
            *queued = all;
        }
    }
    Ok(())
}

/// A document new to this store: its stored snapshot is the bytes received, and every change in
/// it gets its `changes` row (no bytes: they are in the snapshot).
fn adopt(tx: &Transaction<'_>, docs: &mut DocCache, d: Decoded, parsed: &mut Parsed) -> Result<()> {
    let Decoded {
        key: (person_id, comp),
        mut doc,
        bytes,
    } = d;
    let mut new = 0u64;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO changes (person_id, compartment, hash, local, at_ms, summary)
             VALUES (?1, ?2, ?3, 0, ?4, ?5)",
        )?;
        for m in doc.get_changes_meta(&[]) {
            let stamp: Option<AuditStamp> = m
                .message
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok());
            let summary = stamp
                .map(|s| s.summary)
                .unwrap_or_else(|| "changed the record".into());
            new += insert.execute(params![
                person_id,
                comp.as_str(),
                m.hash.as_ref(),
                m.timestamp,
                summary
            ])? as u64;
        }
    }
    tx.prepare_cached(
        "INSERT INTO documents (person_id, compartment, snapshot) VALUES (?1, ?2, ?3)
         ON CONFLICT (person_id, compartment) DO UPDATE SET snapshot = excluded.snapshot",
    )?
    .execute(params![person_id, comp.as_str(), bytes])?;
    if comp == Compartment::Clinical {
        parsed
            .adopted
            .new_conflicts
            .extend(record::read::conflicts(&person_id, &doc)?);
    }
    parsed.adopted.new_changes += new;
    if new > 0 {
        parsed.adopted_people.insert(person_id.clone());
    }
    docs.adopt((person_id, comp), doc);
    Ok(())
}
