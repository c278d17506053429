//! The background compactor: folds a document's accumulated changes into a fresh snapshot on
//! its own thread and connection, so that writes stay cheap (one appended row) and loads stay
//! fast (one snapshot plus a few changes).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::docs::{self, DocKey};

/// Pages of free space handed back per step of the vacuum (one short write each).
const VACUUM_STEP_PAGES: u32 = 256;

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
    tx: Option<Sender<DocKey>>,
    handle: Option<JoinHandle<()>>,
}

impl Compactor {
    pub fn spawn(conn: Connection, gate: Arc<WriteGate>) -> Compactor {
        let (tx, rx) = channel();
        let handle = std::thread::Builder::new()
            .name("doorstep-compactor".into())
            .spawn(move || run(conn, rx, gate))
            .ok();
        Compactor {
            tx: Some(tx),
            handle,
        }
    }

    /// Ask for a document to be compacted (soon, not now).
    pub fn request(&self, key: DocKey) {
        if let Some(tx) = &self.tx {
            // If the thread has gone, the next open compacts; nothing is lost either way.
            let _ = tx.send(key);
        }
    }

    /// Finish queued work and stop the thread.
    pub fn stop(mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(mut conn: Connection, rx: Receiver<DocKey>, gate: Arc<WriteGate>) {
    while let Ok(first) = rx.recv() {
        // Gather whatever else is queued so each document is compacted once.
        let mut batch: BTreeSet<DocKey> = BTreeSet::new();
        batch.insert(first);
        while let Ok(k) = rx.try_recv() {
            batch.insert(k);
        }
        for (person, comp) in batch {
            let Some(_gate) = gate.for_compactor() else {
                return;
            };
            // A failure leaves the changes where they were: compaction is only an optimisation.
            if let Err(e) = docs::compact(&mut conn, &person, comp) {
                tracing::warn!(person = %person, compartment = comp.as_str(), error = %e, "compaction failed; changes kept as they were");
            }
        }
        if let Err(e) = vacuum(&conn, &gate) {
            tracing::warn!(error = %e, "incremental vacuum failed");
        }
    }
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
