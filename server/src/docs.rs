//! The documents the server applies every accepted change to (docs/decisions/0003): a bounded
//! cache of warm person × compartment documents, each with the log position it reflects and the
//! last sequence number of every actor in it. The database is the truth: before a document is
//! used, the changes other processes stored since it was loaded are applied, and a document whose
//! write transaction did not commit, or that panicked Automerge, is dropped and loaded again.
//!
//! A document is loaded from its stored snapshot (table `documents`, schema 5) and the log after
//! the seq the snapshot covers. When a new one is due ([`snapshot_due`]: at least
//! [`COMPACT_AFTER`] changes beside the snapshot, adding up to a quarter of its size, or
//! [`COMPACT_AT_MOST`] changes), the write transaction that applied them stores a new one
//! (`save()`, with the seq it covers) before it commits: a snapshot is always of a committed prefix of the log,
//! because it commits with the changes it covers, and writers are serialised (0006).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use automerge::{ActorId, AutoCommit, Change};
use doorstep_core::record::apply::{self, ApplyError};
use doorstep_core::record::{validate, Compartment};

use crate::error::{Result, ServerError};
use crate::storage::Tx;

type Key = (String, Compartment);

/// How many changes may be applied beside a document's stored snapshot before a new one may be
/// stored ([`snapshot_due`]; a first sync sends the snapshot and the changes after it). A new
/// phone applies those changes one by one into the loaded snapshot, which was a fifth of its
/// first sync at 64 (~25 a document); a year of visits to one person costs the server ~10
/// `save()`s at 16.
pub const COMPACT_AFTER: u64 = 16;

/// Past [`COMPACT_AFTER`], a new snapshot waits until the changes beside the stored one add up
/// to a quarter of its size (or [`COMPACT_AT_MOST`] changes): a `save()` costs the whole
/// document, so saving every 16 changes of a document that only grows (a virtual-ward patient's
/// sets, rewritten on every upload for months) costs the square of its history; saving at a
/// fixed fraction of it costs a constant share of each change. A caseload's documents (a visit a
/// change) reach a quarter of their snapshot at about the same 16 changes.
const TAIL_SHARE: u64 = 4;
/// The most changes beside a snapshot, whatever their size: what a first sync replays.
pub const COMPACT_AT_MOST: u64 = 128;

/// Whether a document is due a new snapshot: `tail` changes of `tail_bytes` beside a stored
/// snapshot of `snapshot_bytes` (0: none).
pub fn snapshot_due(tail: u64, tail_bytes: u64, snapshot_bytes: u64) -> bool {
    tail >= COMPACT_AFTER
        && (tail >= COMPACT_AT_MOST || tail_bytes.saturating_mul(TAIL_SHARE) >= snapshot_bytes)
}

/// A warm document.
pub struct ServerDoc {
    pub doc: AutoCommit,
    /// The highest log sequence number applied.
    pub up_to: u64,
    /// The seq the stored snapshot covers (0: none stored).
    snapshot_seq: u64,
    /// Changes applied since that snapshot, and their bytes.
    tail: u64,
    tail_bytes: u64,
    /// The size of the stored snapshot (0: none).
    snapshot_bytes: u64,
    /// Each actor's last change number in this document, and the highest operation number of
    /// that change.
    actor_seqs: HashMap<ActorId, (u64, u64)>,
    last_used: u64,
}

/// How a change's actor sequence number fits the document.
#[derive(Debug, PartialEq, Eq)]
pub enum SeqFit {
    Next,
    /// The actor already wrote a different change with this number (a phone restored from a
    /// backup): refused, and the device is told to switch actor.
    Reused {
        held: u64,
    },
    /// An earlier change of the actor is missing.
    Gap {
        held: u64,
    },
    /// Its operation numbers do not follow those of its dependencies or of the actor's previous
    /// change (a well-formed change never does this; applying it would disorder the document).
    OpsOverlap,
}

impl ServerDoc {
    fn new(mut doc: AutoCommit, loaded: Loaded) -> ServerDoc {
        let mut actor_seqs: HashMap<ActorId, (u64, u64)> = HashMap::new();
        for meta in doc.get_changes_meta(&[]) {
            let e = actor_seqs.entry(meta.actor.into_owned()).or_insert((0, 0));
            if meta.seq > e.0 {
                *e = (meta.seq, meta.max_op);
            }
        }
        ServerDoc {
            doc,
            up_to: loaded.up_to,
            snapshot_seq: loaded.snapshot_seq,
            tail: loaded.tail,
            tail_bytes: loaded.tail_bytes,
            snapshot_bytes: loaded.snapshot_bytes,
            actor_seqs,
            last_used: 0,
        }
    }

    pub fn seq_fit(&mut self, change: &Change) -> SeqFit {
        let (held, own_max_op) = self
            .actor_seqs
            .get(change.actor_id())
            .copied()
            .unwrap_or((0, 0));
        match change.seq() {
            s if s == held + 1 => {}
            s if s <= held => return SeqFit::Reused { held },
            _ => return SeqFit::Gap { held },
        }
        let deps_max_op = change
            .deps()
            .iter()
            .filter_map(|d| self.doc.get_change_meta_by_hash(d).map(|m| m.max_op))
            .max()
            .unwrap_or(0);
        if change.start_op().get() <= deps_max_op.max(own_max_op) {
            return SeqFit::OpsOverlap;
        }
        SeqFit::Next
    }

    /// Make this process's `actor` the author of what is written on the document next. Call it
    /// before writing: Automerge commits any pending operations when the actor changes.
    pub fn act_as(&mut self, actor: &ActorId) {
        if self.doc.get_actor() != actor {
            self.doc.set_actor(actor.clone());
        }
    }

    /// Commit what was written on the document (after [`Self::act_as`]) as one change,
    /// stamped `message` (JSON of the audit stamp) at `at_ms`: the change to check and store
    /// at log position `seq`. None if nothing was written.
    pub fn commit_local(&mut self, message: String, at_ms: i64, seq: u64) -> Option<Change> {
        use automerge::transaction::CommitOptions;
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(at_ms),
        )?;
        let change = self.doc.get_last_local_change()?;
        let e = self
            .actor_seqs
            .entry(change.actor_id().clone())
            .or_insert((0, 0));
        *e = (change.seq(), change.max_op());
        self.up_to = self.up_to.max(seq);
        self.tail += 1;
        self.tail_bytes += change.raw_bytes().len() as u64;
        Some(change)
    }

    /// Apply one accepted change (stored at log position `seq`) inside panic isolation.
    pub fn apply(&mut self, change: Change, seq: u64) -> std::result::Result<(), ApplyError> {
        let actor = change.actor_id().clone();
        let (n, max_op) = (change.seq(), change.max_op());
        let bytes = change.raw_bytes().len() as u64;
        apply::apply_isolated(&mut self.doc, vec![change])?;
        let e = self.actor_seqs.entry(actor).or_insert((0, 0));
        if n > e.0 {
            *e = (n, max_op);
        }
        self.up_to = self.up_to.max(seq);
        self.tail += 1;
        self.tail_bytes += bytes;
        Ok(())
    }
}

pub struct ServerDocs {
    inner: Mutex<Inner>,
}

struct Inner {
    docs: HashMap<Key, ServerDoc>,
    tick: u64,
    capacity: usize,
}

impl ServerDocs {
    pub fn new(capacity: usize) -> ServerDocs {
        ServerDocs {
            inner: Mutex::new(Inner {
                docs: HashMap::new(),
                tick: 0,
                capacity: capacity.max(16),
            }),
        }
    }

    /// Exclusive use of the cache for one write transaction. A panic while it was held leaves
    /// documents in an unknown state: they are all dropped.
    pub fn lock(&self) -> DocsGuard<'_> {
        let guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                g.docs.clear();
                self.inner.clear_poison();
                g
            }
        };
        DocsGuard {
            inner: guard,
            touched: Vec::new(),
        }
    }
}

/// The cache, for one write transaction. Documents it touched are dropped unless
/// [`DocsGuard::committed`] is called after the transaction commits.
pub struct DocsGuard<'a> {
    inner: MutexGuard<'a, Inner>,
    touched: Vec<Key>,
}

impl DocsGuard<'_> {
    /// The document, loaded or brought up to date from the log.
    pub fn get(
        &mut self,
        tx: &mut dyn Tx,
        person_id: &str,
        comp: Compartment,
    ) -> Result<&mut ServerDoc> {
        let key = (person_id.to_string(), comp);
        self.inner.tick += 1;
        let tick = self.inner.tick;
        if !self.inner.docs.contains_key(&key) {
            let loaded = load(tx, person_id, comp)?;
            if self.inner.docs.len() >= self.inner.capacity {
                self.evict_oldest();
            }
            self.inner.docs.insert(key.clone(), loaded);
        } else {
            let up_to = self.inner.docs.get(&key).map(|d| d.up_to).unwrap_or(0);
            let newer = tx.doc_changes_after(person_id, comp, up_to)?;
            if !newer.is_empty() {
                let doc =
                    self.inner.docs.get_mut(&key).ok_or_else(|| {
                        ServerError::Storage("document cache lost an entry".into())
                    })?;
                if catch_up(doc, newer).is_err() {
                    self.inner.docs.remove(&key);
                    let loaded = load(tx, person_id, comp)?;
                    self.inner.docs.insert(key.clone(), loaded);
                }
            }
        }
        self.touched.push(key.clone());
        let doc = self
            .inner
            .docs
            .get_mut(&key)
            .ok_or_else(|| ServerError::Storage("document cache lost an entry".into()))?;
        doc.last_used = tick;
        Ok(doc)
    }

    /// Drop one document (it panicked Automerge, or its state is not what the log says).
    pub fn drop_doc(&mut self, person_id: &str, comp: Compartment) {
        self.inner.docs.remove(&(person_id.to_string(), comp));
    }

    /// Store a new snapshot of every document this transaction touched that is due one
    /// ([`snapshot_due`]). Call it last in the write transaction:
    /// the snapshot commits (or rolls back) with the changes it covers.
    pub fn compact_touched(&mut self, tx: &mut dyn Tx) -> Result<()> {
        let mut keys = self.touched.clone();
        keys.sort();
        keys.dedup();
        for key in keys {
            let Some(doc) = self.inner.docs.get_mut(&key) else {
                continue;
            };
            let due = snapshot_due(doc.tail, doc.tail_bytes, doc.snapshot_bytes);
            if !due || doc.up_to <= doc.snapshot_seq {
                continue;
            }
            let bytes = doc.doc.save();
            tx.put_doc_snapshot(&key.0, key.1, &bytes, doc.up_to)?;
            doc.snapshot_seq = doc.up_to;
            doc.snapshot_bytes = bytes.len() as u64;
            doc.tail = 0;
            doc.tail_bytes = 0;
        }
        Ok(())
    }

    /// The transaction committed: the touched documents are what the log says.
    pub fn committed(mut self) {
        self.touched.clear();
    }

    fn evict_oldest(&mut self) {
        if let Some(k) = self
            .inner
            .docs
            .iter()
            .min_by_key(|(_, d)| d.last_used)
            .map(|(k, _)| k.clone())
        {
            self.inner.docs.remove(&k);
        }
    }
}

impl Drop for DocsGuard<'_> {
    fn drop(&mut self) {
        for k in std::mem::take(&mut self.touched) {
            self.inner.docs.remove(&k);
        }
    }
}

fn catch_up(doc: &mut ServerDoc, newer: Vec<crate::storage::StoredChange>) -> Result<()> {
    for c in newer {
        let change = validate::parse_change(&c.bytes)
            .map_err(|e| ServerError::Storage(format!("a stored change cannot be read: {e}")))?;
        doc.apply(change, c.seq)
            .map_err(|e| ServerError::Storage(format!("a stored change cannot be applied: {e}")))?;
    }
    Ok(())
}

/// Where a loaded document stands against the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The last seq applied (0: none).
    pub up_to: u64,
    /// The seq of the stored snapshot it started from (0: none).
    pub snapshot_seq: u64,
    /// Changes applied from the log after that snapshot, and their bytes.
    pub tail: u64,
    pub tail_bytes: u64,
    /// The size of that snapshot (0: none).
    pub snapshot_bytes: u64,
}

/// Load a document: its stored snapshot, then the log after it. Stored changes were checked when
/// they arrived; a stored change that still cannot be applied is an operator matter, reported as
/// a storage failure. A stored snapshot that cannot be loaded is ignored (the log is the truth)
/// and the document replayed from the log.
fn load(tx: &mut dyn Tx, person_id: &str, comp: Compartment) -> Result<ServerDoc> {
    let (doc, loaded) = load_counted(tx, person_id, comp)?;
    Ok(ServerDoc::new(doc, loaded))
}

fn load_counted(
    tx: &mut dyn Tx,
    person_id: &str,
    comp: Compartment,
) -> Result<(AutoCommit, Loaded)> {
    let stored = tx.doc_snapshot(person_id, comp)?.and_then(|(bytes, seq)| {
        match apply::load_isolated(&bytes) {
            Ok(doc) => Some((doc, seq, bytes.len() as u64)),
            Err(e) => {
                tracing::warn!(person = %person_id, compartment = comp.as_str(), error = %e,
                    "a stored snapshot cannot be loaded; replaying the document from the log");
                None
            }
        }
    });
    let Some((mut doc, snapshot_seq, snapshot_bytes)) = stored else {
        let (doc, up_to, n, tail_bytes) = replay_log_counted(tx, person_id, comp)?;
        return Ok((
            doc,
            Loaded {
                up_to,
                snapshot_seq: 0,
                tail: n,
                tail_bytes,
                snapshot_bytes: 0,
            },
        ));
    };
    let tail = tx.doc_changes_after(person_id, comp, snapshot_seq)?;
    let up_to = tail.last().map(|c| c.seq).unwrap_or(snapshot_seq);
    let n = tail.len() as u64;
    let tail_bytes = stored_bytes(&tail);
    let changes = parse_stored(person_id, tail)?;
    apply::apply_isolated(&mut doc, changes).map_err(|e| cannot_load(person_id, comp, &e))?;
    Ok((
        doc,
        Loaded {
            up_to,
            snapshot_seq,
            tail: n,
            tail_bytes,
            snapshot_bytes,
        },
    ))
}

fn parse_stored(person_id: &str, stored: Vec<crate::storage::StoredChange>) -> Result<Vec<Change>> {
    stored
        .into_iter()
        .map(|c| {
            validate::parse_change(&c.bytes).map_err(|e| {
                ServerError::Storage(format!(
                    "a stored change of {person_id} cannot be read: {e}"
                ))
            })
        })
        .collect()
}

fn cannot_load(person_id: &str, comp: Compartment, e: &ApplyError) -> ServerError {
    ServerError::Storage(format!(
        "the {} record of {person_id} cannot be loaded: {e}",
        comp.as_str()
    ))
}

/// A document as the server holds it (stored snapshot and the log after it), with the last seq
/// applied (0: none).
pub fn replay(tx: &mut dyn Tx, person_id: &str, comp: Compartment) -> Result<(AutoCommit, u64)> {
    let (doc, loaded) = load_counted(tx, person_id, comp)?;
    Ok((doc, loaded.up_to))
}

/// A document replayed from the whole stored change log, ignoring any snapshot, with the last
/// seq applied (0: none).
pub fn replay_log(
    tx: &mut dyn Tx,
    person_id: &str,
    comp: Compartment,
) -> Result<(AutoCommit, u64)> {
    let (doc, up_to, _, _) = replay_log_counted(tx, person_id, comp)?;
    Ok((doc, up_to))
}

fn replay_log_counted(
    tx: &mut dyn Tx,
    person_id: &str,
    comp: Compartment,
) -> Result<(AutoCommit, u64, u64, u64)> {
    let stored = tx.doc_changes(person_id, comp, u64::MAX)?;
    let up_to = stored.last().map(|c| c.seq).unwrap_or(0);
    let n = stored.len() as u64;
    let bytes = stored_bytes(&stored);
    let changes = parse_stored(person_id, stored)?;
    let mut doc = AutoCommit::new();
    apply::apply_isolated(&mut doc, changes).map_err(|e| cannot_load(person_id, comp, &e))?;
    Ok((doc, up_to, n, bytes))
}

fn stored_bytes(changes: &[crate::storage::StoredChange]) -> u64 {
    changes.iter().map(|c| c.bytes.len() as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{NewChange, Storage};
    use automerge::transaction::Transactable;

    /// `n` changes of one document, each setting one key.
    fn changes(n: usize) -> Vec<Change> {
        let mut doc = AutoCommit::new();
        (0..n)
            .map(|i| {
                doc.put(automerge::ROOT, format!("k{i}"), i as i64).unwrap();
                doc.commit();
                doc.get_last_local_change().unwrap()
            })
            .collect()
    }

    fn store(tx: &mut dyn Tx, c: &Change) -> Result<u64> {
        let seq = tx.next_seq()?;
        let hash = c.hash();
        tx.insert_change(&NewChange {
            seq,
            person_id: "p1",
            compartment: Compartment::Clinical,
            hash: hash.as_ref(),
            bytes: c.raw_bytes(),
            origin_device: "d1",
            received_ms: 1,
            actor: None,
            actor_seq: None,
            clock_note_ms: None,
        })?;
        Ok(seq)
    }

    fn sqlite() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap());
        (dir, s)
    }

    /// A document loaded from a stored snapshot and the log after it is the document replayed
    /// from the whole log: same heads, same last seq.
    #[test]
    fn snapshot_and_tail_equal_the_log_replayed() {
        let (_dir, s) = sqlite();
        let all = changes(100);
        let mut prefix = AutoCommit::new();
        prefix.apply_changes(all[..60].to_vec()).unwrap();
        s.write(|tx| {
            let mut at_60 = 0;
            for (i, c) in all.iter().enumerate() {
                let seq = store(tx, c)?;
                if i == 59 {
                    at_60 = seq;
                }
            }
            tx.put_doc_snapshot("p1", Compartment::Clinical, &prefix.save(), at_60)?;
            Ok(())
        })
        .unwrap();
        let (mut from_snapshot, up_a) = s
            .read(|tx| replay(tx, "p1", Compartment::Clinical))
            .unwrap();
        let (mut from_log, up_b) = s
            .read(|tx| replay_log(tx, "p1", Compartment::Clinical))
            .unwrap();
        assert_eq!(up_a, up_b);
        assert_eq!(up_a, 100);
        assert_eq!(from_snapshot.get_heads(), from_log.get_heads());
        assert_eq!(from_snapshot.get_changes(&[]).len(), 100);
        let loaded = s
            .read(|tx| load_counted(tx, "p1", Compartment::Clinical))
            .unwrap()
            .1;
        let snapshot_bytes = prefix.save().len() as u64;
        let tail_bytes: u64 = all[60..].iter().map(|c| c.raw_bytes().len() as u64).sum();
        assert_eq!(
            loaded,
            Loaded {
                up_to: 100,
                snapshot_seq: 60,
                tail: 40,
                tail_bytes,
                snapshot_bytes,
            }
        );
    }

    /// A small document is saved every 16 changes; a large one once its changes add up to a
    /// quarter of it, and never past 128 changes.
    #[test]
    fn a_snapshot_is_due_at_a_share_of_the_document_not_a_fixed_count() {
        assert!(!snapshot_due(15, 1 << 20, 0), "below the count");
        assert!(snapshot_due(16, 0, 0), "no snapshot yet");
        assert!(snapshot_due(16, 10_000, 40_000), "a caseload document");
        assert!(!snapshot_due(16, 16_000, 400_000), "a large document waits");
        assert!(snapshot_due(100, 100_000, 400_000));
        assert!(snapshot_due(COMPACT_AT_MOST, 1, u64::MAX), "the cap");
    }

    /// Changes applied through the cache store a snapshot once more than `COMPACT_AFTER` pile up,
    /// in the same transaction; a write that does not commit stores none; another process's
    /// cache loads the snapshot and the tail after it.
    #[test]
    fn compaction_stores_a_snapshot_of_what_commits() {
        let (_dir, s) = sqlite();
        let all = changes(COMPACT_AFTER as usize + 10);
        let docs = ServerDocs::new(16);
        let (first, rest) = all.split_at(COMPACT_AFTER as usize - 1);
        let write = |batch: &[Change], fail: bool| {
            let mut guard = docs.lock();
            let r = s.write(|tx| {
                for c in batch {
                    // As `store_uploads` does: the document first, then the change stored.
                    let doc = guard.get(tx, "p1", Compartment::Clinical)?;
                    let seq = store(tx, c)?;
                    doc.apply(c.clone(), seq)
                        .map_err(|e| ServerError::Storage(e.to_string()))?;
                }
                guard.compact_touched(tx)?;
                if fail {
                    return Err(ServerError::Conflict("stop".into()));
                }
                Ok(())
            });
            if r.is_ok() {
                guard.committed();
            }
            r
        };
        write(first, false).unwrap();
        assert_eq!(
            s.read(|tx| tx.doc_snapshot("p1", Compartment::Clinical))
                .unwrap(),
            None,
            "below the threshold"
        );
        assert!(write(rest, true).is_err());
        assert_eq!(
            s.read(|tx| tx.doc_snapshot("p1", Compartment::Clinical))
                .unwrap(),
            None,
            "rolled back with its changes"
        );
        write(rest, false).unwrap();
        let (_, covered) = s
            .read(|tx| tx.doc_snapshot("p1", Compartment::Clinical))
            .unwrap()
            .unwrap();
        assert_eq!(covered, all.len() as u64);
        let other = ServerDocs::new(16);
        let mut guard = other.lock();
        let heads = s
            .write(|tx| {
                let d = guard.get(tx, "p1", Compartment::Clinical)?;
                Ok((d.doc.get_heads(), d.up_to, d.snapshot_seq, d.tail))
            })
            .unwrap();
        let (mut log, _) = s
            .read(|tx| replay_log(tx, "p1", Compartment::Clinical))
            .unwrap();
        assert_eq!(heads.0, log.get_heads());
        assert_eq!((heads.1, heads.2, heads.3), (covered, covered, 0));
    }
}
