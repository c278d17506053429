//! The documents the server applies every accepted change to (docs/decisions/0003): a bounded
//! cache of warm person × compartment documents, each with the log position it reflects and the
//! last sequence number of every actor in it. The database is the truth: before a document is
//! used, the changes other processes stored since it was loaded are applied, and a document whose
//! write transaction did not commit, or that panicked Automerge, is dropped and loaded again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use automerge::{ActorId, AutoCommit, Change};
use doorstep_core::record::apply::{self, ApplyError};
use doorstep_core::record::{validate, Compartment};

use crate::error::{Result, ServerError};
use crate::storage::Tx;

type Key = (String, Compartment);

/// A warm document.
pub struct ServerDoc {
    pub doc: AutoCommit,
    /// The highest log sequence number applied.
    pub up_to: u64,
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
    fn new(mut doc: AutoCommit, up_to: u64) -> ServerDoc {
        let mut actor_seqs: HashMap<ActorId, (u64, u64)> = HashMap::new();
        for meta in doc.get_changes_meta(&[]) {
            let e = actor_seqs.entry(meta.actor.into_owned()).or_insert((0, 0));
            if meta.seq > e.0 {
                *e = (meta.seq, meta.max_op);
            }
        }
        ServerDoc {
            doc,
            up_to,
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

    /// Apply one accepted change (stored at log position `seq`) inside panic isolation.
    pub fn apply(&mut self, change: Change, seq: u64) -> std::result::Result<(), ApplyError> {
        let actor = change.actor_id().clone();
        let (n, max_op) = (change.seq(), change.max_op());
        apply::apply_isolated(&mut self.doc, vec![change])?;
        let e = self.actor_seqs.entry(actor).or_insert((0, 0));
        if n > e.0 {
            *e = (n, max_op);
        }
        self.up_to = self.up_to.max(seq);
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

/// Load a document from the log. Stored changes were checked when they arrived; a stored change
/// that still cannot be applied is an operator matter, reported as a storage failure.
fn load(tx: &mut dyn Tx, person_id: &str, comp: Compartment) -> Result<ServerDoc> {
    let (doc, up_to) = replay(tx, person_id, comp)?;
    Ok(ServerDoc::new(doc, up_to))
}

/// A document replayed from the stored change log, with the last seq applied (0: none).
pub fn replay(tx: &mut dyn Tx, person_id: &str, comp: Compartment) -> Result<(AutoCommit, u64)> {
    let stored = tx.doc_changes(person_id, comp, u64::MAX)?;
    let up_to = stored.last().map(|c| c.seq).unwrap_or(0);
    let mut changes = Vec::with_capacity(stored.len());
    for c in stored {
        changes.push(validate::parse_change(&c.bytes).map_err(|e| {
            ServerError::Storage(format!(
                "a stored change of {person_id} cannot be read: {e}"
            ))
        })?);
    }
    let mut doc = AutoCommit::new();
    apply::apply_isolated(&mut doc, changes).map_err(|e| {
        ServerError::Storage(format!(
            "the {} record of {person_id} cannot be loaded: {e}",
            comp.as_str()
        ))
    })?;
    Ok((doc, up_to))
}
