//! Compartment documents on disk and warm in memory.
//!
//! On disk a document is its last snapshot (`documents`) plus the changes not yet folded into it
//! (`change_bytes`). In memory the writer keeps recently used documents warm, so a
//! write costs one Automerge op and one appended row, not a load.

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::error::{Error, Result};
use crate::record::Compartment;

pub type DocKey = (String, Compartment);

/// How many documents stay warm while a sync's pages come in (1,500 is a 500-person caseload's
/// three compartments; a document of a year's visits is ~100 KB in memory).
pub const SYNC_CAPACITY: usize = 1_600;

/// How many changes may pile up beside a snapshot before the document is compacted.
pub const COMPACT_AFTER: usize = 32;

pub struct CachedDoc {
    pub doc: AutoCommit,
    last_used: u64,
    /// Changes stored beside the snapshot, i.e. not yet compacted.
    pub unfolded: usize,
}

/// The writer's warm documents, least recently used evicted first.
pub struct DocCache {
    docs: HashMap<DocKey, CachedDoc>,
    tick: u64,
    capacity: usize,
    base_capacity: usize,
    actor: ActorId,
}

impl DocCache {
    pub fn new(actor: ActorId, capacity: usize) -> Self {
        DocCache {
            docs: HashMap::new(),
            tick: 0,
            capacity: capacity.max(4),
            base_capacity: capacity.max(4),
            actor,
        }
    }

    /// The document for `key`, loaded from `conn` if it is not warm.
    pub fn get(&mut self, conn: &Connection, key: &DocKey) -> Result<&mut CachedDoc> {
        self.tick += 1;
        if !self.docs.contains_key(key) {
            if self.docs.len() >= self.capacity {
                self.evict_oldest();
            }
            let (mut doc, unfolded) = load(conn, &key.0, key.1)?;
            doc.set_actor(self.actor.clone());
            self.docs.insert(
                key.clone(),
                CachedDoc {
                    doc,
                    last_used: 0,
                    unfolded,
                },
            );
        }
        let tick = self.tick;
        let entry = self
            .docs
            .get_mut(key)
            .ok_or_else(|| Error::Document("document vanished from the cache".into()))?;
        entry.last_used = tick;
        Ok(entry)
    }

    /// The warm document for `key`, if it is warm (no load, no change to the eviction order).
    pub fn peek(&self, key: &DocKey) -> Option<&AutoCommit> {
        self.docs.get(key).map(|d| &d.doc)
    }

    /// How many documents are warm now.
    #[cfg(test)]
    pub fn warm(&self) -> usize {
        self.docs.len()
    }

    /// How many documents may be warm at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// While a sync whose pages carry changes has more pages to come, keep up to
    /// `SYNC_CAPACITY` documents warm: such pages each touch most of the caseload, and loading
    /// every document again for every page made the import grow with the square of the caseload.
    pub fn widen_for_sync(&mut self) {
        self.widen_to(SYNC_CAPACITY);
    }

    /// Keep up to `n` documents warm until [`narrow`](Self::narrow) (a page of snapshots keeps
    /// just its own documents warm: their projections are derived on that page).
    pub fn widen_to(&mut self, n: usize) {
        self.capacity = self.capacity.max(self.base_capacity.max(n));
    }

    /// Back to the configured size, the least recently used evicted: what a wider cache held
    /// is on disk, so memory goes back to the configured bound.
    pub fn narrow(&mut self) {
        self.capacity = self.base_capacity;
        while self.docs.len() > self.capacity {
            self.evict_oldest();
        }
    }

    /// The actor this device writes with.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// Write with a new actor from now on (warm documents included).
    pub fn set_actor(&mut self, actor: ActorId) {
        for d in self.docs.values_mut() {
            d.doc.set_actor(actor.clone());
        }
        self.actor = actor;
    }

    /// Keep `doc` warm as the document for `key` (it arrived whole as a snapshot, which is what
    /// the disk now holds).
    pub fn adopt(&mut self, key: DocKey, mut doc: AutoCommit) {
        if !self.docs.contains_key(&key) && self.docs.len() >= self.capacity {
            self.evict_oldest();
        }
        doc.set_actor(self.actor.clone());
        self.tick += 1;
        self.docs.insert(
            key,
            CachedDoc {
                doc,
                last_used: self.tick,
                unfolded: 0,
            },
        );
    }

    /// Forget a document (after a failed write, its in-memory copy may be ahead of the disk).
    pub fn evict(&mut self, key: &DocKey) {
        self.docs.remove(key);
    }

    pub fn evict_all(&mut self) {
        self.docs.clear();
    }

    fn evict_oldest(&mut self) {
        if let Some(k) = self
            .docs
            .iter()
            .min_by_key(|(_, d)| d.last_used)
            .map(|(k, _)| k.clone())
        {
            self.docs.remove(&k);
        }
    }
}

/// Load a document: its snapshot, then every change stored beside it. Changes whose
/// dependencies have not arrived yet wait inside Automerge's queue.
pub fn load(conn: &Connection, person_id: &str, comp: Compartment) -> Result<(AutoCommit, usize)> {
    let snapshot: Option<Vec<u8>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE person_id = ?1 AND compartment = ?2")?
        .query_row(params![person_id, comp.as_str()], |r| r.get(0))
        .optional()?;
    let mut doc = match snapshot {
        Some(bytes) => AutoCommit::load(&bytes).map_err(|e| Error::Damaged {
            detail: format!(
                "the {} record of {person_id} cannot be loaded: {e}",
                comp.as_str()
            ),
        })?,
        None => AutoCommit::new(),
    };
    let changes = unfolded_changes(conn, person_id, comp)?;
    let n = changes.len();
    if n > 0 {
        let parsed = changes
            .into_iter()
            .map(|(_, bytes)| {
                Change::from_bytes(bytes).map_err(|e| Error::Damaged {
                    detail: format!("a stored change of {person_id} cannot be read: {e}"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        doc.apply_changes(parsed)?;
    }
    Ok((doc, n))
}

fn unfolded_changes(
    conn: &Connection,
    person_id: &str,
    comp: Compartment,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, bytes FROM change_bytes WHERE person_id = ?1 AND compartment = ?2 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map(params![person_id, comp.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A change to append to the log.
pub struct NewChange<'a> {
    pub person_id: &'a str,
    pub compartment: Compartment,
    pub hash: ChangeHash,
    pub bytes: &'a [u8],
    pub local: bool,
    pub at_ms: i64,
    pub summary: &'a str,
}

/// Append a change; a change already held is ignored. Returns whether it was new.
pub fn insert_change(tx: &Transaction<'_>, c: &NewChange<'_>) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO changes (person_id, compartment, hash, local, at_ms, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            c.person_id,
            c.compartment.as_str(),
            c.hash.as_ref(),
            c.local,
            c.at_ms,
            c.summary
        ])?;
    if n == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO change_bytes (seq, person_id, compartment, bytes) VALUES (last_insert_rowid(), ?1, ?2, ?3)",
    )?
    .execute(params![c.person_id, c.compartment.as_str(), c.bytes])?;
    Ok(true)
}

/// Fold a document's stored changes into a new snapshot. Safe to run beside the writer: only
/// the changes it loaded are folded; later ones stay beside the new snapshot. Callers must not
/// compact the same document from two threads at once (the store serialises compactions).
pub fn compact(conn: &mut Connection, person_id: &str, comp: Compartment) -> Result<()> {
    let (mut doc, _) = load(conn, person_id, comp)?;
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT b.seq, c.hash FROM change_bytes b JOIN changes c ON c.seq = b.seq
             WHERE b.person_id = ?1 AND b.compartment = ?2 ORDER BY b.seq",
        )?
        .query_map(params![person_id, comp.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let folded: Vec<i64> = rows
        .into_iter()
        .filter(|(_, h)| {
            ChangeHash::try_from(h.as_slice())
                .map(|h| doc.get_change_meta_by_hash(&h).is_some())
                .unwrap_or(false)
        })
        .map(|(seq, _)| seq)
        .collect();
    if folded.is_empty() {
        return Ok(());
    }
    let snapshot = doc.save();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "INSERT INTO documents (person_id, compartment, snapshot) VALUES (?1, ?2, ?3)
         ON CONFLICT (person_id, compartment) DO UPDATE SET snapshot = excluded.snapshot",
    )?
    .execute(params![person_id, comp.as_str(), snapshot])?;
    {
        let mut clear = tx.prepare_cached("DELETE FROM change_bytes WHERE seq = ?1")?;
        for seq in folded {
            clear.execute([seq])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Every document that has changes beside its snapshot.
pub fn documents_with_unfolded(conn: &Connection) -> Result<Vec<DocKey>> {
    let mut stmt = conn.prepare("SELECT DISTINCT person_id, compartment FROM change_bytes")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, c)| Compartment::parse(&c).map(|c| (p, c)))
        .collect())
}

/// Return up to `pages` free pages to the file system. `PRAGMA incremental_vacuum` frees one
/// page per step, so it must be stepped to the end.
pub fn incremental_vacuum(conn: &Connection, pages: u32) -> Result<()> {
    let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}
