//! What the sync client needs from the store, with no network in sight: the outbox of local
//! changes, the server cursor, applying one page of a server response atomically (changes,
//! cursor, acknowledgement, purges), and wiping the store when the server says so.

use rusqlite::{params, OptionalExtension, Transaction};

use super::exchange::{import_parsed, parse_batch};
use super::refusals::{self, RefusedLocal};
use super::snapshots;
use super::{
    now, quarantine, ChangeBatch, ExportedChange, FieldStore, ImportReport, StoreChange, Writer,
};
use crate::error::{Error, Result};
use crate::record::Compartment;

/// Local changes not yet acknowledged by the server.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    pub changes: Vec<ExportedChange>,
    /// The local sequence number of each change in `changes`, in the same order.
    pub seqs: Vec<i64>,
    /// The local sequence number of the last change in `changes` (0 when empty).
    pub up_to: i64,
    /// More local changes wait beyond this outbox (it was cut for size).
    pub more: bool,
}

/// One page of a server response, to apply as a unit.
#[derive(Debug, Clone, Default)]
pub struct SyncPage {
    pub changes: Vec<ExportedChange>,
    /// Documents that arrive whole (a first sync by snapshots), stored before `changes`.
    pub snapshots: Vec<crate::sync::protocol::Snapshot>,
    /// The server cursor to ask from next time: its sequence number, and how many items of the
    /// next group were already delivered.
    pub cursor: u64,
    pub cursor_skip: u64,
    /// The outbox that this response acknowledges (local changes up to this seq were stored
    /// by the server or refused), if the request carried one.
    pub acked_up_to: Option<i64>,
    /// Outbox changes the server refused: quarantined or written again, never acknowledged.
    pub refused: Vec<RefusedLocal>,
    /// The server saw this store's actor reuse a sequence number: switch to a fresh actor first.
    pub reset_actor: bool,
    /// The quarantine reports up to this id reached the server with the request.
    pub quarantine_reported_up_to: Option<i64>,
    /// (person, compartment, change hash hex, server receive time) of changes whose phone clock
    /// the server found implausible.
    pub clock_notes: Vec<(String, Compartment, String, i64)>,
    /// People who left this device's scope.
    pub purge_people: Vec<String>,
    /// Compartments of people that left this device's scope (e.g. consent withdrawn).
    pub purge_compartments: Vec<(String, Compartment)>,
    /// Days without sync after which the store locks (from the server).
    pub lock_after_days: u32,
    /// The server has more pages for this sync: projections of the people a page of changes
    /// touched wait for the last page (they are derived once, from complete documents); a page
    /// of snapshots derives its own people's.
    pub more_pages: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageOutcome {
    pub import: ImportReport,
    /// This device's changes the server refused and that are now in quarantine.
    pub quarantined_outgoing: u64,
    /// This device's unsent changes written again after a refusal.
    pub rewritten: usize,
    /// People whose documents were removed from the device.
    pub purged: Vec<String>,
    /// People whose purge was held back because changes recorded here are not yet on the server.
    pub purge_deferred: Vec<String>,
}

impl FieldStore {
    fn sync_writer(&self) -> Result<super::WriterGuard<'_>> {
        self.access.check_not_wiped()?;
        self.lock_writer()
    }

    /// The server cursor this device last reached (0 before the first sync).
    pub fn sync_cursor(&self) -> Result<u64> {
        Ok(self.sync_position()?.0)
    }

    /// The server cursor and the number of items of the next group already received.
    pub fn sync_position(&self) -> Result<(u64, u64)> {
        let w = self.sync_writer()?;
        let get = |key: &str| -> Result<u64> {
            let v: Option<String> = w
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        Ok((get("sync_cursor")?, get("sync_cursor_skip")?))
    }

    /// Local changes not yet acknowledged, oldest first, up to about `max_bytes` (at least one).
    pub fn sync_outbox(&self, max_bytes: usize) -> Result<Outbox> {
        self.access.check_not_wiped()?;
        let (batch, more, seqs) = self.export_where(0, true, max_bytes)?;
        Ok(Outbox {
            seqs,
            up_to: if batch.changes.is_empty() {
                0
            } else {
                batch.up_to
            },
            changes: batch.changes,
            more,
        })
    }

    /// Apply one page of a sync response in one SQLite transaction: store and apply its
    /// changes, mark the acknowledged outbox as sent, purge what left scope, and move the cursor.
    /// If anything fails, none of it happens and the same page can be applied again.
    pub fn apply_sync_page(&self, page: &SyncPage) -> Result<PageOutcome> {
        let mut parsed = parse_batch(&ChangeBatch {
            changes: page.changes.clone(),
            up_to: 0,
        })?;
        let (decoded, bad_snapshots) = snapshots::decode_all(&page.snapshots)?;
        let mut touched = parsed.keys();
        touched.extend(
            page.snapshots
                .iter()
                .map(|s| (s.person_id.clone(), s.compartment)),
        );
        let mut guard = self.sync_writer()?;
        let Writer { conn, docs } = &mut *guard;
        let synced_at = now();
        if page.reset_actor {
            reset_actor(conn, docs)?;
        }
        // A page of documents arriving whole (a first sync) derives its people's projections
        // itself and keeps only its own documents warm, so memory is bounded by the page, not by
        // the caseload. A page of changes with more to come leaves its people pending for the
        // sync's last page and keeps the caseload warm until then.
        let whole = !page.snapshots.is_empty();
        let defer_projection = page.more_pages && !whole;
        if whole {
            docs.widen_to(people_touched(&touched) * Compartment::ALL.len());
        } else if page.more_pages {
            docs.widen_for_sync();
        }
        let result = (|| {
            let tx = conn.transaction()?;
            let handled = refusals::handle(&tx, docs, &page.refused, synced_at.timestamp_millis())?;
            snapshots::import(&tx, docs, decoded, bad_snapshots, &mut parsed)?;
            let import = import_parsed(&tx, docs, parsed, page.changes.len(), defer_projection)?;
            if let Some(up_to) = page.acked_up_to {
                tx.execute(
                    "UPDATE changes SET acked = 1 WHERE local = 1 AND acked = 0 AND seq <= ?1",
                    [up_to],
                )?;
            }
            if let Some(id) = page.quarantine_reported_up_to {
                quarantine::mark_reported(&tx, id)?;
            }
            note_clocks(&tx, &page.clock_notes)?;
            let mut outcome = PageOutcome {
                import,
                quarantined_outgoing: handled.quarantined as u64,
                rewritten: handled.rewritten,
                ..Default::default()
            };
            for p in &handled.people {
                super::reproject::project_person(&tx, docs, p)?;
            }
            for p in &page.purge_people {
                if has_unsent(&tx, p, None)? {
                    outcome.purge_deferred.push(p.clone());
                } else {
                    purge(&tx, p, None)?;
                    outcome.purged.push(p.clone());
                }
            }
            for (p, c) in &page.purge_compartments {
                if has_unsent(&tx, p, Some(*c))? {
                    outcome.purge_deferred.push(p.clone());
                } else {
                    purge(&tx, p, Some(*c))?;
                }
            }
            set_meta(&tx, "sync_cursor", &page.cursor.to_string())?;
            set_meta(&tx, "sync_cursor_skip", &page.cursor_skip.to_string())?;
            self.access
                .record_sync(&tx, synced_at, page.lock_after_days)?;
            tx.commit()?;
            Ok(outcome)
        })();
        if !defer_projection {
            docs.narrow();
        }
        match &result {
            Ok(outcome) => {
                self.access.synced(synced_at, page.lock_after_days);
                for p in &outcome.purged {
                    for c in Compartment::ALL {
                        docs.evict(&(p.clone(), c));
                    }
                }
                for (p, c) in &page.purge_compartments {
                    docs.evict(&(p.clone(), *c));
                }
            }
            Err(_) => {
                docs.evict_all();
            }
        }
        drop(guard);
        if let Ok(outcome) = &result {
            self.notify(page_change(page, outcome, touched));
        }
        result
    }

    /// Erase every record from this device (the server revoked it). The file is emptied, then
    /// removed; every later call fails with [`Error::Wiped`].
    pub fn wipe(&self) -> Result<()> {
        let mut guard = self.lock_writer()?;
        let Writer { conn, docs } = &mut *guard;
        docs.evict_all();
        conn.execute_batch(
            "PRAGMA secure_delete = ON;
             BEGIN IMMEDIATE;
             DELETE FROM changes; DELETE FROM change_bytes; DELETE FROM documents; DELETE FROM people;
             DELETE FROM alerts; DELETE FROM planned_visits; DELETE FROM meta; DELETE FROM quarantine;
             DELETE FROM assessment_drafts; DELETE FROM wound_drafts;
             DELETE FROM plan_interventions; DELETE FROM visit_exceptions; DELETE FROM field_conflicts;
             DELETE FROM plan_reviews; DELETE FROM day_order; DELETE FROM tasks;
             DELETE FROM ward_stays; DELETE FROM escalations;
             DELETE FROM advice_appointments; DELETE FROM advice_tasks; DELETE FROM referrals; DELETE FROM duplicates;
             COMMIT;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
        self.access.mark_wiped();
        let path = &self.config.path;
        for suffix in ["", "-wal", "-shm", "-journal", ".keycheck"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Storage(format!(
                        "the records were erased but the file {} could not be removed: {e}",
                        std::path::Path::new(&p).display()
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Switch this store to a fresh Automerge actor (the old one reused a sequence number the server
/// holds: a phone restored from a backup). Committed at once: a new actor is always safe.
fn reset_actor(conn: &mut rusqlite::Connection, docs: &mut super::docs::DocCache) -> Result<()> {
    let actor = automerge::ActorId::random();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('actor', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [actor.to_hex_string()],
    )?;
    tracing::warn!(
        "the server saw this store's actor reuse a sequence number; switched to a new actor"
    );
    docs.set_actor(actor);
    Ok(())
}

/// How many people the documents in `touched` belong to.
fn people_touched(touched: &[(String, Compartment)]) -> usize {
    touched
        .iter()
        .map(|(p, _)| p.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

fn note_clocks(tx: &Transaction<'_>, notes: &[(String, Compartment, String, i64)]) -> Result<()> {
    for (person, comp, hash, received) in notes {
        let Ok(bytes) = hex_bytes(hash) else {
            continue;
        };
        tx.execute(
            "UPDATE changes SET server_received_ms = ?4
             WHERE person_id = ?1 AND compartment = ?2 AND hash = ?3",
            params![person, comp.as_str(), bytes, received],
        )?;
    }
    Ok(())
}

fn hex_bytes(h: &str) -> std::result::Result<Vec<u8>, ()> {
    if !h.len().is_multiple_of(2) {
        return Err(());
    }
    (0..h.len())
        .step_by(2)
        .map(|i| {
            h.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or(())
        })
        .collect()
}

/// What a page changed, for observers.
fn page_change(
    page: &SyncPage,
    outcome: &PageOutcome,
    touched: Vec<(String, Compartment)>,
) -> StoreChange {
    let received = outcome.import.new_changes > 0;
    let mut c = StoreChange::of_people(
        touched
            .into_iter()
            .filter(|_| received)
            .map(|(p, _)| p)
            .filter(|p| !outcome.purged.contains(p)),
    );
    c.merge(StoreChange {
        removed: outcome.purged.clone(),
        caseload: !outcome.purged.is_empty(),
        conflicts: !outcome.purged.is_empty(),
        planned_visits: !outcome.purged.is_empty(),
        pending: page.acked_up_to.is_some()
            || outcome.quarantined_outgoing > 0
            || outcome.rewritten > 0
            || outcome.import.quarantined > 0,
        ..Default::default()
    });
    c
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn has_unsent(tx: &Transaction<'_>, person_id: &str, comp: Option<Compartment>) -> Result<bool> {
    let n: i64 = tx.query_row(
        "SELECT count(*) FROM changes WHERE person_id = ?1 AND local = 1 AND acked = 0
           AND (?2 IS NULL OR compartment = ?2)",
        params![person_id, comp.map(|c| c.as_str())],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Remove a person's documents (all, or one compartment) and the projection rows built from them.
fn purge(tx: &Transaction<'_>, person_id: &str, comp: Option<Compartment>) -> Result<()> {
    let c = comp.map(|c| c.as_str());
    for table in ["changes", "change_bytes"] {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE person_id = ?1 AND (?2 IS NULL OR compartment = ?2)"
            ),
            params![person_id, c],
        )?;
    }
    tx.execute(
        "DELETE FROM documents WHERE person_id = ?1 AND (?2 IS NULL OR compartment = ?2)",
        params![person_id, c],
    )?;
    let tables: &[&str] = match comp {
        None => &["people", "alerts", "planned_visits"],
        Some(Compartment::Demographics) => &["people"],
        Some(Compartment::Clinical) => &["alerts", "planned_visits"],
        Some(Compartment::Advice) => &[],
    };
    for t in tables {
        tx.execute(
            &format!("DELETE FROM {t} WHERE person_id = ?1"),
            [person_id],
        )?;
    }
    if comp == Some(Compartment::Clinical) {
        super::projections::clear_clinical_summary(tx, person_id)?;
    }
    if matches!(comp, None | Some(Compartment::Clinical)) {
        super::drafts::purge(tx, person_id)?;
        super::wound_drafts::purge(tx, person_id)?;
        super::day::delete_rows(tx, person_id)?;
        super::ward::delete_rows(tx, person_id)?;
        tx.execute("DELETE FROM day_order WHERE person_id = ?1", [person_id])?;
    }
    if matches!(comp, None | Some(Compartment::Demographics)) {
        super::referrals::delete_rows(tx, person_id)?;
        super::duplicates::delete_rows(tx, person_id)?;
    }
    if matches!(comp, None | Some(Compartment::Advice)) {
        super::day::advice::delete_rows(tx, person_id)?;
    }
    Ok(())
}
