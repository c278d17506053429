//! The background compactor: folds a document's accumulated changes into a fresh snapshot on
//! its own thread and connection, so that writes stay cheap (one appended row) and loads stay
//! fast (one snapshot plus a few changes).

use std::collections::BTreeSet;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::docs::{self, DocKey};

pub struct Compactor {
    tx: Option<Sender<DocKey>>,
    handle: Option<JoinHandle<()>>,
}

impl Compactor {
    pub fn spawn(conn: Connection, serial: Arc<Mutex<()>>) -> Compactor {
        let (tx, rx) = channel();
        let handle = std::thread::Builder::new()
            .name("doorstep-compactor".into())
            .spawn(move || run(conn, rx, serial))
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

fn run(mut conn: Connection, rx: Receiver<DocKey>, serial: Arc<Mutex<()>>) {
    while let Ok(first) = rx.recv() {
        // Gather whatever else is queued so each document is compacted once.
        let mut batch: BTreeSet<DocKey> = BTreeSet::new();
        batch.insert(first);
        while let Ok(k) = rx.try_recv() {
            batch.insert(k);
        }
        for (person, comp) in batch {
            let Ok(_guard) = serial.lock() else { return };
            // A failure leaves the changes where they were: compaction is only an optimisation.
            if let Err(e) = docs::compact(&mut conn, &person, comp) {
                tracing::warn!(person = %person, compartment = comp.as_str(), error = %e, "compaction failed; changes kept as they were");
            }
        }
        // Hand the pages of folded changes back to the file system.
        if let Err(e) = docs::incremental_vacuum(&conn) {
            tracing::warn!(error = %e, "incremental vacuum failed");
        }
    }
}
