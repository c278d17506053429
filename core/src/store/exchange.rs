//! Exchanging changes: what a device has to send, taking in what others recorded, and the
//! projections that follow. This is the sans-IO half of sync: the network client (a later
//! module) and tests that pass changes between two stores directly both use it.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Change, ChangeHash};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::docs::{self, DocCache, NewChange};
use super::quarantine;
use super::{reproject, FieldStore, StoreChange, Writer};
use crate::error::{Error, Result};
use crate::record::layout::AuditStamp;
use crate::record::{self, apply, validate, ClinicalConflict, Compartment};

/// One Automerge change of one compartment document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ExportedChange {
    pub person_id: String,
    pub compartment: Compartment,
    pub bytes: Vec<u8>,
}

/// Changes to hand to another store, and the point to ask from next time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ChangeBatch {
    pub changes: Vec<ExportedChange>,
    /// This store's change sequence number up to which the batch reaches.
    pub up_to: i64,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ImportReport {
    /// Changes in the batch.
    pub received: u64,
    /// Changes this store did not hold before.
    pub new_changes: u64,
    /// Changes held but waiting for earlier changes they depend on (they apply when those arrive).
    pub waiting: u64,
    /// People this device did not hold before.
    pub people_added: Vec<String>,
    /// Clinical conflicts opened by the import.
    pub new_conflicts: Vec<ClinicalConflict>,
    /// Received changes this device could not accept, now in quarantine (the rest were kept).
    #[serde(default)]
    pub quarantined: u64,
}

/// A change recorded on this device that no server has acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PendingChange {
    pub seq: i64,
    pub person_id: String,
    pub compartment: Compartment,
    pub at_ms: i64,
    pub summary: String,
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Every change this store holds (its own and those it received) after `since`, a value of
    /// `ChangeBatch::up_to` from an earlier export (0 for everything).
    pub fn export_changes(&self, since: i64) -> Result<ChangeBatch> {
        self.access.check(super::now())?;
        Ok(self.export_where(since, false, usize::MAX)?.0)
    }

    /// Take in changes from another device. All of them are checked before anything is stored;
    /// a batch with any unreadable change is refused whole. Sending the same change twice stores
    /// it once.
    pub fn import_changes(&self, batch: &ChangeBatch) -> Result<ImportReport> {
        let parsed = parse_batch(batch)?;
        let mut guard = self.writer()?;
        let Writer { conn, docs } = &mut *guard;
        let touched: Vec<(String, Compartment)> = parsed.keys();
        let result = (|| {
            let tx = conn.transaction()?;
            let report = import_parsed(&tx, docs, parsed, batch.changes.len(), false)?;
            tx.commit()?;
            Ok(report)
        })();
        if result.is_err() {
            for k in &touched {
                docs.evict(k);
            }
        }
        drop(guard);
        if let Ok(r) = &result {
            if r.new_changes > 0 {
                self.notify(StoreChange::of_people(touched.into_iter().map(|(p, _)| p)));
            }
        }
        result
    }

    /// Local changes that no server has acknowledged, oldest first.
    pub fn pending_changes(&self) -> Result<Vec<PendingChange>> {
        let r = self.reader()?;
        let mut stmt = r.prepare_cached(
            "SELECT seq, person_id, compartment, at_ms, summary FROM changes
             WHERE local = 1 AND acked = 0 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(seq, person_id, c, at_ms, summary)| {
                Compartment::parse(&c).map(|compartment| PendingChange {
                    seq,
                    person_id,
                    compartment,
                    at_ms,
                    summary,
                })
            })
            .collect())
    }

    /// Mark this device's changes up to and including `seq` as safely received elsewhere.
    /// Changes recorded after `seq` (for instance while a sync was in flight) stay pending.
    pub fn acknowledge(&self, seq: i64) -> Result<u64> {
        let w = self.writer()?;
        let n = w.conn.execute(
            "UPDATE changes SET acked = 1 WHERE local = 1 AND acked = 0 AND seq <= ?1",
            [seq],
        )?;
        drop(w);
        if n > 0 {
            self.notify(StoreChange {
                pending: true,
                ..Default::default()
            });
        }
        Ok(n as u64)
    }
}

impl FieldStore {
    /// Changes after `since` in order, all of them or only local unacknowledged ones, stopping
    /// once about `max_bytes` have been gathered (always at least one change).
    /// Returns the batch, whether changes were left out for size, and each change's local seq.
    pub(super) fn export_where(
        &self,
        since: i64,
        local_unacked: bool,
        max_bytes: usize,
    ) -> Result<(ChangeBatch, bool, Vec<i64>)> {
        let mut guard = self.lock_writer()?;
        let Writer { conn, docs } = &mut *guard;
        let rows: Vec<LogRow> = {
            // Two statements, so that the outbox query can use the partial index of pending changes.
            let sql = if local_unacked {
                "SELECT c.seq, c.person_id, c.compartment, c.hash, b.bytes
                 FROM changes c LEFT JOIN change_bytes b ON b.seq = c.seq
                 WHERE c.seq > ?1 AND c.local = 1 AND c.acked = 0 ORDER BY c.seq"
            } else {
                "SELECT c.seq, c.person_id, c.compartment, c.hash, b.bytes
                 FROM changes c LEFT JOIN change_bytes b ON b.seq = c.seq
                 WHERE c.seq > ?1 ORDER BY c.seq"
            };
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt
                .query_map(params![since], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        let mut batch = ChangeBatch {
            changes: Vec::with_capacity(rows.len()),
            up_to: since,
        };
        let mut gathered = 0usize;
        let total = rows.len();
        let mut seqs = Vec::with_capacity(rows.len());
        for (seq, person_id, comp, hash, bytes) in rows {
            let compartment = Compartment::parse(&comp).ok_or_else(|| Error::Damaged {
                detail: format!("unknown compartment {comp}"),
            })?;
            let bytes = match bytes {
                Some(b) => b,
                None => {
                    let hash =
                        ChangeHash::try_from(hash.as_slice()).map_err(|e| Error::Damaged {
                            detail: format!("bad change hash: {e}"),
                        })?;
                    let entry = docs.get(conn, &(person_id.clone(), compartment))?;
                    entry
                        .doc
                        .get_change_by_hash(&hash)
                        .map(|c| c.raw_bytes().to_vec())
                        .ok_or_else(|| Error::Damaged {
                            detail: format!(
                                "change {hash} of {person_id} is missing from its document"
                            ),
                        })?
                }
            };
            batch.changes.push(ExportedChange {
                person_id,
                compartment,
                bytes,
            });
            batch.up_to = seq;
            seqs.push(seq);
            gathered += batch.changes.last().map(|c| c.bytes.len()).unwrap_or(0);
            if gathered >= max_bytes {
                break;
            }
        }
        let truncated = batch.changes.len() < total;
        Ok((batch, truncated, seqs))
    }
}

/// seq, person, compartment, hash, bytes (None once folded into the snapshot).
type LogRow = (i64, String, String, Vec<u8>, Option<Vec<u8>>);

/// A batch of received changes, sorted into those to apply (per document) and those that failed
/// this app's checks (to quarantine).
#[derive(Default)]
pub(super) struct Parsed {
    pub docs: BTreeMap<(String, Compartment), Vec<Change>>,
    pub bad: Vec<BadIncoming>,
    /// What documents that arrived whole as snapshots already did (`snapshots::import`): the
    /// people they touched and what they add to the report.
    pub adopted_people: BTreeSet<String>,
    pub adopted: ImportReport,
}

impl Parsed {
    pub fn keys(&self) -> Vec<(String, Compartment)> {
        self.docs.keys().cloned().collect()
    }
}

/// A received change this device will not apply, and why.
pub(super) struct BadIncoming {
    pub person_id: String,
    pub compartment: Compartment,
    pub hash: Option<String>,
    pub code: String,
    pub reason: String,
    pub bytes: Vec<u8>,
    pub stamp: Option<AuditStamp>,
    pub at_ms: i64,
}

pub(super) fn valid_person_id(id: &str) -> bool {
    !id.trim().is_empty() && id.len() <= 64 && !id.contains('/')
}

/// Check every received change with the record's rules (`record::validate`, the same code the
/// server runs). A change that fails is set aside for quarantine; it never fails the batch.
pub(super) fn parse_batch(batch: &ChangeBatch) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    for c in &batch.changes {
        if !valid_person_id(&c.person_id) {
            return Err(Error::BadChanges(format!(
                "a change names no valid person ('{}')",
                c.person_id.chars().take(70).collect::<String>()
            )));
        }
        let checked = validate::parse_change(&c.bytes)
            .and_then(|change| validate::check_change(c.compartment, &change).map(|_| change));
        match checked {
            Ok(change) => parsed
                .docs
                .entry((c.person_id.clone(), c.compartment))
                .or_default()
                .push(change),
            Err(refusal) => parsed
                .bad
                .push(bad_incoming(c, &refusal.to_string(), refusal.code())),
        }
    }
    Ok(parsed)
}

fn bad_incoming(c: &ExportedChange, reason: &str, code: &str) -> BadIncoming {
    let change = validate::parse_change(&c.bytes).ok();
    BadIncoming {
        person_id: c.person_id.clone(),
        compartment: c.compartment,
        hash: change.as_ref().map(|ch| ch.hash().to_string()),
        code: code.to_string(),
        reason: reason.to_string(),
        stamp: change.as_ref().and_then(|ch| validate::stamp_of(ch).ok()),
        at_ms: change.as_ref().map(|ch| ch.timestamp()).unwrap_or(0),
        bytes: c.bytes.clone(),
    }
}

pub(super) fn quarantine_incoming(tx: &Transaction<'_>, b: &BadIncoming) -> Result<()> {
    tracing::warn!(person = %b.person_id, code = %b.code, "received change quarantined");
    quarantine::insert(
        tx,
        &quarantine::NewQuarantine {
            person_id: &b.person_id,
            compartment: b.compartment,
            outgoing: false,
            hash: b.hash.clone(),
            code: &b.code,
            reason: &b.reason,
            bytes: &b.bytes,
            stamp: b.stamp.as_ref(),
            at_ms: b.at_ms,
            now_ms: super::now().timestamp_millis(),
        },
    )
}

/// Store and apply parsed changes inside the caller's transaction. On error the caller must
/// evict the touched documents (their warm copies may hold changes that were not stored).
///
/// With `defer_projection` (a sync page with more pages to come), the people whose documents
/// gained changes are only noted as pending, durably, and projected once by the first import
/// without it: during a first sync, every page touches most people, and deriving each person's
/// rows on every page made the import grow with the square of the caseload.
pub(super) fn import_parsed(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    parsed: Parsed,
    received: usize,
    defer_projection: bool,
) -> Result<ImportReport> {
    let mut report = ImportReport {
        received: received as u64,
        ..parsed.adopted
    };
    for b in &parsed.bad {
        quarantine_incoming(tx, b)?;
    }
    report.quarantined += parsed.bad.len() as u64;
    // People whose documents gained changes: only their projections need deriving again.
    let mut people: BTreeSet<String> = parsed.adopted_people;
    for ((person_id, comp), changes) in parsed.docs {
        let key = (person_id.clone(), comp);
        let conflicts_before = if comp == Compartment::Clinical {
            record::read::conflicts(&person_id, &docs.get(tx, &key)?.doc)?
        } else {
            Vec::new()
        };
        let applied = apply_to_doc(tx, docs, &key, changes, &mut report)?;
        let entry = docs.get(tx, &key)?;
        let mut changed = false;
        for c in &applied {
            if store_received(tx, &person_id, comp, c)? {
                report.new_changes += 1;
                entry.unfolded += 1;
                changed = true;
            }
        }
        report.waiting += applied
            .iter()
            .filter(|c| entry.doc.get_change_meta_by_hash(&c.hash()).is_none())
            .count() as u64;
        if comp == Compartment::Clinical {
            let after = record::read::conflicts(&person_id, &entry.doc)?;
            report.new_conflicts.extend(
                after
                    .into_iter()
                    .filter(|c| !conflicts_before.iter().any(|b| b.id == c.id)),
            );
        }
        if changed {
            people.insert(person_id);
        }
    }
    let mut pending = pending_projections(tx)?;
    pending.extend(people);
    let people = if defer_projection {
        set_pending_projections(tx, &pending)?;
        BTreeSet::new()
    } else {
        if !pending.is_empty() {
            set_pending_projections(tx, &BTreeSet::new())?;
        }
        pending
    };
    let people: Vec<String> = people.into_iter().collect();
    let known_before = people
        .iter()
        .map(|p| is_known(tx, p))
        .collect::<Result<Vec<bool>>>()?;
    reproject::project_people(tx, docs, &people)?;
    for (p, known) in people.iter().zip(known_before) {
        if !known && is_known(tx, p)? {
            report.people_added.push(p.clone());
        }
    }
    Ok(report)
}

/// Whether the caseload has a row for the person.
fn is_known(tx: &Transaction<'_>, person_id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM people WHERE person_id = ?1)")?
        .query_row(params![person_id], |r| r.get(0))?)
}

const PENDING_KEY: &str = "projections_pending";

/// People whose documents are newer than their projection rows (a sync still under way).
fn pending_projections(tx: &Transaction<'_>) -> Result<BTreeSet<String>> {
    let v: Option<String> = tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([PENDING_KEY], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

fn set_pending_projections(tx: &Transaction<'_>, people: &BTreeSet<String>) -> Result<()> {
    let json = serde_json::to_string(people)
        .map_err(|e| Error::Document(format!("pending projections: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![PENDING_KEY, json])?;
    Ok(())
}

fn store_received(
    tx: &Transaction<'_>,
    person_id: &str,
    comp: Compartment,
    c: &Change,
) -> Result<bool> {
    let stamp: Option<AuditStamp> = c.message().and_then(|m| serde_json::from_str(m).ok());
    let summary = stamp
        .map(|s| s.summary)
        .unwrap_or_else(|| "changed the record".into());
    docs::insert_change(
        tx,
        &NewChange {
            person_id,
            compartment: comp,
            hash: c.hash(),
            bytes: c.raw_bytes(),
            local: false,
            at_ms: c.timestamp(),
            summary: &summary,
        },
    )
}

/// Apply a document's received changes inside panic isolation. If Automerge fails on the batch,
/// the document is dropped and reloaded, and the changes are applied one at a time: the ones it
/// cannot apply are quarantined, the rest are kept. Returns the changes that were applied (or
/// wait for their dependencies inside Automerge's queue).
fn apply_to_doc(
    tx: &Transaction<'_>,
    docs: &mut DocCache,
    key: &(String, Compartment),
    changes: Vec<Change>,
    report: &mut ImportReport,
) -> Result<Vec<Change>> {
    let entry = docs.get(tx, key)?;
    if apply::apply_isolated(&mut entry.doc, changes.clone()).is_ok() {
        return Ok(changes);
    }
    docs.evict(key);
    let mut kept: Vec<Change> = Vec::new();
    for c in changes {
        let entry = docs.get(tx, key)?;
        let Err(e) = apply::apply_isolated(&mut entry.doc, vec![c.clone()]) else {
            kept.push(c);
            continue;
        };
        docs.evict(key);
        let exported = ExportedChange {
            person_id: key.0.clone(),
            compartment: key.1,
            bytes: c.raw_bytes().to_vec(),
        };
        quarantine_incoming(tx, &bad_incoming(&exported, &e.to_string(), "unappliable"))?;
        report.quarantined += 1;
        // The document was reloaded from storage: apply again what was kept so far.
        let entry = docs.get(tx, key)?;
        apply::apply_isolated(&mut entry.doc, kept.clone())
            .map_err(|e| Error::Document(format!("received changes cannot be applied: {e}")))?;
    }
    Ok(kept)
}
