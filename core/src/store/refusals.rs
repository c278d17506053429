//! What a device does when the server refuses some of its changes (issue 8): the refused changes
//! leave the outbox for the quarantine, the document is rebuilt without them (it then holds what
//! the server holds), and the device's other unsent work on that document is written again on top:
//! immutable entries (visits, observations, notes…) as they were, with their original times and
//! authors; edits of single-value fields (alerts, consent, demographics, care plan) are not
//! re-applied silently, because re-applying them could turn a colleague's concurrent edit into an
//! overwrite: they are quarantined for the clinician to re-apply.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use automerge::legacy::{Key, OpType};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, Change, ChangeHash, ScalarValue, ROOT};
use rusqlite::{params, OptionalExtension, Transaction};

use super::docs::{self, DocCache, DocKey, NewChange};
use super::quarantine::{self, NewQuarantine};
use crate::error::{Error, Result};
use crate::record::{apply, validate, Compartment};

/// One of this device's changes the server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedLocal {
    /// The change's local sequence number (its place in the outbox).
    pub seq: i64,
    pub code: String,
    pub message: String,
}

/// Refusal codes after which the entry itself is sound and may be written again.
const REWRITABLE: &[&str] = &[
    "depends_on_refused",
    "actor_seq_reused",
    "recorded_after_refused",
];

#[derive(Debug, Default)]
pub(super) struct Handled {
    pub quarantined: usize,
    pub rewritten: usize,
    pub people: BTreeSet<String>,
}

struct Removed {
    seq: i64,
    change: Change,
    code: String,
    message: String,
}

/// Quarantine refused changes, rebuild their documents and write the rest of the unsent work
/// again, all in the caller's transaction.
pub(super) fn handle(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    refused: &[RefusedLocal],
    now_ms: i64,
) -> Result<Handled> {
    let mut by_doc: BTreeMap<DocKey, Vec<&RefusedLocal>> = BTreeMap::new();
    for r in refused {
        if let Some(key) = local_doc_of(tx, r.seq)? {
            by_doc.entry(key).or_default().push(r);
        }
    }
    let mut handled = Handled::default();
    for (key, list) in by_doc {
        handle_doc(tx, docs, &key, &list, now_ms, &mut handled)?;
        handled.people.insert(key.0.clone());
    }
    Ok(handled)
}

fn local_doc_of(tx: &Transaction<'_>, seq: i64) -> Result<Option<DocKey>> {
    let row: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT person_id, compartment FROM changes WHERE seq = ?1 AND local = 1 AND acked = 0",
        )?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.and_then(|(p, c)| Compartment::parse(&c).map(|c| (p, c))))
}

fn handle_doc(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    key: &DocKey,
    refused: &[&RefusedLocal],
    now_ms: i64,
    handled: &mut Handled,
) -> Result<()> {
    let removed = removed_changes(tx, docs, key, refused)?;
    let gone: HashSet<ChangeHash> = removed.iter().map(|r| r.change.hash()).collect();
    let actor = docs.actor().clone();
    let mut rebuilt = rebuild_without(docs, tx, key, &gone, actor)?;
    for r in &removed {
        tx.execute("DELETE FROM changes WHERE seq = ?1", [r.seq])?;
    }
    tx.execute(
        "DELETE FROM change_bytes WHERE person_id = ?1 AND compartment = ?2",
        params![key.0, key.1.as_str()],
    )?;
    for r in &removed {
        if rewritable(key.1, r) {
            rewrite(tx, &mut rebuilt, key, &r.change)?;
            handled.rewritten += 1;
        } else {
            quarantine_outgoing(tx, key, r, now_ms)?;
            handled.quarantined += 1;
        }
    }
    tx.prepare_cached(
        "INSERT INTO documents (person_id, compartment, snapshot) VALUES (?1, ?2, ?3)
         ON CONFLICT (person_id, compartment) DO UPDATE SET snapshot = excluded.snapshot",
    )?
    .execute(params![key.0, key.1.as_str(), rebuilt.save()])?;
    docs.evict(key);
    Ok(())
}

/// The refused changes of one document, and every later unsent change of it (they depend on the
/// refused ones), oldest first.
fn removed_changes(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    key: &DocKey,
    refused: &[&RefusedLocal],
) -> Result<Vec<Removed>> {
    let first = refused.iter().map(|r| r.seq).min().unwrap_or(i64::MAX);
    let rows: Vec<(i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT seq, hash FROM changes WHERE person_id = ?1 AND compartment = ?2
               AND local = 1 AND acked = 0 AND seq >= ?3 ORDER BY seq",
        )?
        .query_map(params![key.0, key.1.as_str(), first], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let doc = &mut docs.get(tx, key)?.doc;
    let mut out = Vec::new();
    for (seq, hash) in rows {
        let hash = ChangeHash::try_from(hash.as_slice()).map_err(|e| Error::Damaged {
            detail: format!("bad change hash: {e}"),
        })?;
        let Some(change) = doc.get_change_by_hash(&hash) else {
            continue;
        };
        let (code, message) = match refused.iter().find(|r| r.seq == seq) {
            Some(r) => (r.code.clone(), r.message.clone()),
            None => (
                "recorded_after_refused".to_string(),
                "recorded after a change the server refused".to_string(),
            ),
        };
        out.push(Removed {
            seq,
            change,
            code,
            message,
        });
    }
    Ok(out)
}

/// The document as it would be without `gone`: every other change it holds, applied afresh.
fn rebuild_without(
    docs: &mut DocCache,
    tx: &Transaction<'_>,
    key: &DocKey,
    gone: &HashSet<ChangeHash>,
    actor: ActorId,
) -> Result<AutoCommit> {
    let doc = &mut docs.get(tx, key)?.doc;
    let kept: Vec<Change> = doc
        .get_changes(&[])
        .into_iter()
        .filter(|c| !gone.contains(&c.hash()))
        .collect();
    let mut rebuilt = AutoCommit::new().with_actor(actor);
    apply::apply_isolated(&mut rebuilt, kept).map_err(|e| {
        Error::Document(format!(
            "the {} record of {} could not be rebuilt without the refused changes: {e}",
            key.1.as_str(),
            key.0
        ))
    })?;
    Ok(rebuilt)
}

/// Whether a removed change is sound in itself and writes only immutable entries.
fn rewritable(comp: Compartment, r: &Removed) -> bool {
    REWRITABLE.contains(&r.code.as_str())
        && validate::check_change(comp, &r.change).is_ok()
        && puts(&r.change)
            .iter()
            .all(|(k, _)| validate::is_immutable_entry(comp, k))
}

fn puts(change: &Change) -> Vec<(String, String)> {
    change
        .decode()
        .operations
        .into_iter()
        .filter_map(|op| match (op.key, op.action) {
            (Key::Map(k), OpType::Put(ScalarValue::Str(v))) => Some((k.to_string(), v.to_string())),
            _ => None,
        })
        .collect()
}

/// Write a removed change's entries again as a new change of this device, with the original
/// audit stamp and time.
fn rewrite(
    tx: &Transaction<'_>,
    doc: &mut AutoCommit,
    key: &DocKey,
    change: &Change,
) -> Result<()> {
    for (k, v) in puts(change) {
        doc.put(ROOT, k.as_str(), v)?;
    }
    let message = change.message().unwrap_or_default().to_string();
    let summary = validate::stamp_of(change)
        .map(|s| s.summary)
        .unwrap_or_else(|_| "changed the record".into());
    let Some(hash) = doc.commit_with(
        CommitOptions::default()
            .with_message(message)
            .with_time(change.timestamp()),
    ) else {
        return Ok(());
    };
    let new = doc
        .get_change_by_hash(&hash)
        .ok_or_else(|| Error::Document("the rewritten change cannot be found".into()))?;
    docs::insert_change(
        tx,
        &NewChange {
            person_id: &key.0,
            compartment: key.1,
            hash,
            bytes: new.raw_bytes(),
            local: true,
            at_ms: change.timestamp(),
            summary: &summary,
        },
    )?;
    Ok(())
}

fn quarantine_outgoing(tx: &Transaction<'_>, key: &DocKey, r: &Removed, now_ms: i64) -> Result<()> {
    let stamp = validate::stamp_of(&r.change).ok();
    let reason = if REWRITABLE.contains(&r.code.as_str()) {
        format!(
            "{}; it changes a field a colleague may also have changed, so it was not re-applied: enter it again if it is still right",
            r.message
        )
    } else {
        r.message.clone()
    };
    tracing::warn!(person = %key.0, code = %r.code, "change refused by the server quarantined");
    quarantine::insert(
        tx,
        &NewQuarantine {
            person_id: &key.0,
            compartment: key.1,
            outgoing: true,
            hash: Some(r.change.hash().to_string()),
            code: &r.code,
            reason: &reason,
            bytes: r.change.raw_bytes(),
            stamp: stamp.as_ref(),
            at_ms: r.change.timestamp(),
            now_ms,
        },
    )
}
