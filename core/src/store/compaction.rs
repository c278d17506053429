//! The background compactor: folds a document's accumulated changes into a fresh snapshot on
//! its own thread and connection, so that writes stay cheap (one appended row) and loads stay
//! fast (one snapshot plus a few changes). It also checkpoints the WAL, which SQLite would
//! otherwise do on the thread of whichever commit takes the log past its threshold: a nurse's
//! write (see [`CheckpointNudge`]).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::docs::{self, DocKey};

/// Pages of free space handed back per step of the vacuum (one short write each).
const VACUUM_STEP_PAGES: u32 = 256;
/// WAL frames after which the writer asks the compactor to checkpoint (SQLite's own default).
const CHECKPOINT_AT_FRAMES: i32 = 1_000;
/// WAL frames after which the writer checkpoints itself, should the compactor fall behind.
const CHECKPOINT_VALVE_FRAMES: i32 = 8 * CHECKPOINT_AT_FRAMES;

/// What the compactor is asked to do.
enum Job {
    Compact(DocKey),
    Checkpoint,
    /// Finish what was asked before and end the thread (the writer's hook holds a sender too,
    /// so the channel alone would never close).
    Stop,
}

/// The writer's side of the checkpoint hand-off, installed as its connection's WAL hook in
/// place of SQLite's automatic checkpoint: past [`CHECKPOINT_AT_FRAMES`] it asks the compactor
/// (once, until the compactor has done it), and only past the valve does the writer's own
/// commit checkpoint. The log stays bounded either way; the write that crosses the line no
/// longer waits for the copy and the database file's fsync.
pub struct CheckpointNudge {
    tx: Sender<Job>,
    asked: Arc<AtomicBool>,
}

impl CheckpointNudge {
    /// Install on the writer's connection.
    pub fn install(self, conn: &mut Connection) -> rusqlite::Result<()> {
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, frames: i32| {
            if frames >= CHECKPOINT_VALVE_FRAMES {
                // Never an error from here: SQLite would report it for a commit that has
                // happened, and the nurse would be told a saved visit was not saved.
                if let Err(e) = wal.checkpoint() {
                    tracing::warn!(error = %e, frames, "WAL checkpoint at the valve failed");
                }
                return Ok(());
            }
            if frames >= CHECKPOINT_AT_FRAMES && !self.asked.swap(true, Ordering::SeqCst) {
                // If the thread has gone, the valve above still bounds the log.
                let _ = self.tx.send(Job::Checkpoint);
            }
            Ok(())
        }))
    }
}

/// Who may write to the file now: the store's writer, or the compactor between two of its
/// documents. The compactor writes through a connection of its own; left to SQLite's busy
/// handler, a writer polling for the lock while the compactor works through a long queue (a
/// store that has just received or recorded thousands of changes) can miss every gap for the
/// whole busy timeout and fail with "database is locked". Through the gate a writer waits for
/// at most one document's compaction or one step of the vacuum, and a waiting writer goes
/// before the compactor's next document.
#[derive(Default)]
pub struct WriteGate {
    lock: Mutex<()>,
    writers_waiting: AtomicUsize,
}

impl WriteGate {
    /// The gate for a write of the store's own (`None`: poisoned by a panic mid-write).
    pub fn for_writer(&self) -> Option<MutexGuard<'_, ()>> {
        self.writers_waiting.fetch_add(1, Ordering::SeqCst);
        let guard = self.lock.lock().ok();
        self.writers_waiting.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// The gate for one step of the compactor's work, once no writer is waiting for it.
    pub fn for_compactor(&self) -> Option<MutexGuard<'_, ()>> {
        while self.writers_waiting.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.lock.lock().ok()
    }
}

pub struct Compactor {
    tx: Option<Sender<Job>>,
    handle: Option<JoinHandle<()>>,
    checkpoint_asked: Arc<AtomicBool>,
    /// Read by the tests; kept in every build so the thread's work is the same in both.
    #[cfg_attr(not(test), allow(dead_code))]
    checkpoints: Arc<AtomicUsize>,
}

impl Compactor {
    pub fn spawn(conn: Connection, gate: Arc<WriteGate>) -> Compactor {
        let (tx, rx) = channel();
        let checkpoint_asked = Arc::new(AtomicBool::new(false));
        let checkpoints = Arc::new(AtomicUsize::new(0));
        let state = Checkpoints {
            asked: checkpoint_asked.clone(),
            done: checkpoints.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("doorstep-compactor".into())
            .spawn(move || run(conn, rx, gate, state))
            .ok();
        Compactor {
            tx: Some(tx),
            handle,
            checkpoint_asked,
            checkpoints,
        }
    }

    /// Ask for a document to be compacted (soon, not now).
    pub fn request(&self, key: DocKey) {
        if let Some(tx) = &self.tx {
            // If the thread has gone, the next open compacts; nothing is lost either way.
            let _ = tx.send(Job::Compact(key));
        }
    }

    /// The hook that hands the writer's checkpoints to this thread.
    pub fn checkpoint_nudge(&self) -> Option<CheckpointNudge> {
        Some(CheckpointNudge {
            tx: self.tx.clone()?,
            asked: self.checkpoint_asked.clone(),
        })
    }

    /// WAL checkpoints this thread has made.
    #[cfg(test)]
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.load(Ordering::SeqCst)
    }

    /// Finish queued work and stop the thread.
    pub fn stop(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Job::Stop);
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The compactor's view of the checkpoint hand-off: whether one was asked for, and a count.
struct Checkpoints {
    asked: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
}

impl Checkpoints {
    /// A passive checkpoint, outside the gate: it copies what it can without waiting for, or
    /// holding up, the writer or a reader.
    fn make(&self, conn: &Connection) {
        self.asked.store(false, Ordering::SeqCst);
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => {
                self.done.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer's valve still bounds the log")
            }
        }
    }
}

fn run(mut conn: Connection, rx: Receiver<Job>, gate: Arc<WriteGate>, checkpoints: Checkpoints) {
    // This connection's own commits must not checkpoint inside the gate either.
    if let Err(e) = conn.pragma_update(None, "wal_autocheckpoint", 0) {
        tracing::warn!(error = %e, "could not turn off the compactor's automatic checkpoint");
    }
    while let Ok(first) = rx.recv() {
        // Gather whatever else is queued so each document is compacted once.
        let mut batch: BTreeSet<DocKey> = BTreeSet::new();
        let (mut checkpoint, mut stop) = (false, false);
        for job in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match job {
                Job::Compact(k) => {
                    batch.insert(k);
                }
                Job::Checkpoint => checkpoint = true,
                Job::Stop => {
                    stop = true;
                    break;
                }
            }
        }
        if checkpoint {
            checkpoints.make(&conn);
        }
        if !compact_batch(&mut conn, batch, &gate) || stop {
            return;
        }
    }
}

/// Compact each document of `batch` once, each through the gate, then vacuum. False when the
/// gate is poisoned (a writer panicked mid-write): the thread then stops.
fn compact_batch(conn: &mut Connection, batch: BTreeSet<DocKey>, gate: &WriteGate) -> bool {
    if batch.is_empty() {
        return true;
    }
    for (person, comp) in batch {
        let Some(_gate) = gate.for_compactor() else {
            return false;
        };
        // A failure leaves the changes where they were: compaction is only an optimisation.
        if let Err(e) = docs::compact(conn, &person, comp) {
            tracing::warn!(person = %person, compartment = comp.as_str(), error = %e, "compaction failed; changes kept as they were");
        }
    }
    if let Err(e) = vacuum(conn, gate) {
        tracing::warn!(error = %e, "incremental vacuum failed");
    }
    true
}

/// Hand the pages of folded changes back to the file system, a bounded step at a time, each
/// through the gate.
pub fn vacuum(conn: &Connection, gate: &WriteGate) -> crate::error::Result<()> {
    loop {
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if free <= 0 {
            return Ok(());
        }
        let Some(_gate) = gate.for_compactor() else {
            return Ok(());
        };
        docs::incremental_vacuum(conn, VACUUM_STEP_PAGES)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no compactor to answer (its thread gone), the writer's own commit checkpoints once
    /// the log reaches the valve: the log stays bounded, and SQLite's automatic checkpoint at
    /// 1,000 frames is off.
    #[test]
    fn the_writer_checkpoints_at_the_valve_when_no_compactor_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("valve.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; CREATE TABLE t (x BLOB);",
        )
        .unwrap();
        let (tx, rx) = channel();
        drop(rx);
        let nudge = CheckpointNudge {
            tx,
            asked: Arc::new(AtomicBool::new(false)),
        };
        nudge.install(&mut conn).unwrap();
        let frame = 4096 + 24;
        let mut largest = 0;
        for _ in 0..5_000 {
            conn.execute("INSERT INTO t VALUES (randomblob(3000))", [])
                .unwrap();
            let wal = std::fs::metadata(dir.path().join("valve.db-wal")).unwrap();
            largest = largest.max(wal.len());
        }
        assert!(
            largest > 2 * CHECKPOINT_AT_FRAMES as u64 * frame,
            "the automatic checkpoint is off ({largest} bytes at most)"
        );
        assert!(
            largest < (CHECKPOINT_VALVE_FRAMES as u64 + 16) * frame + 32,
            "the valve bounds the log ({largest} bytes at most)"
        );
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 5_000);
    }

    /// A writer that waits at the gate goes before the compactor's next step, however quickly
    /// the compactor comes back for it.
    #[test]
    fn a_waiting_writer_goes_before_the_compactor() {
        let gate = Arc::new(WriteGate::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = gate.for_compactor().unwrap();
        let writer = {
            let (gate, order) = (gate.clone(), order.clone());
            std::thread::spawn(move || {
                let _g = gate.for_writer().unwrap();
                std::thread::sleep(Duration::from_millis(20));
                order.lock().unwrap().push("writer");
            })
        };
        while gate.writers_waiting.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(held);
        {
            let _g = gate.for_compactor().unwrap();
            order.lock().unwrap().push("compactor");
        }
        writer.join().unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["writer", "compactor"]);
    }
}
