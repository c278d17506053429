//! `FieldStore`: the record a device holds, in an encrypted SQLite file.
//!
//! One writer connection (behind a mutex, with the warm documents) and one reader connection for
//! the projection queries, as in mozilla/application-services. Every write is one SQLite
//! transaction that appends the Automerge change and updates the projections; it is fsynced
//! (`synchronous = FULL`) before the call returns.

mod access;
mod compaction;
mod day;
mod db;
mod docs;
mod drafts;
mod duplicates;
mod exchange;
mod fhir;
mod import;
mod observe;
mod outreach;
mod projections;
mod quarantine;
mod queries;
mod referrals;
mod refusals;
mod reproject;
mod schema;
mod snapshots;
mod spread;
mod sync_state;
mod ward;
mod wound_drafts;
mod write;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};

pub use day::{DayQuery, DayScope, DayVisit, ReviewDue, TodayList, VisitKey};
pub use db::KEY_LEN;
pub use exchange::{ChangeBatch, ExportedChange, ImportReport, PendingChange};
pub use observe::{HeldNotifications, StoreChange, StoreObserver};
pub use quarantine::{QuarantinedEntry, UnreportedQuarantine};
pub use queries::{
    AlertSummary, CaseloadCursor, CaseloadEntry, CaseloadPage, CaseloadRow, PlannedVisitSummary,
    MAX_CASELOAD_PAGE,
};
pub use refusals::RefusedLocal;
pub use snapshots::MAX_SNAPSHOT_BYTES;
pub use sync_state::{Outbox, PageOutcome, SyncPage};
pub use ward::{CensusEntry, WardCensus};
pub use write::RecordedVisit;

use crate::error::{Error, Result};
use crate::record::edit::Edit;
use crate::record::layout::AuditStamp;
use crate::record::policy::{self, Action, Principal};
use crate::record::{
    self, Author, ClinicalConflict, Compartment, HistoryEntry, PersonRecord, User,
};
use docs::{DocCache, DocKey, NewChange};

/// What `FieldStore::open` needs.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StoreConfig {
    /// The database file. Created if absent.
    pub path: PathBuf,
    /// 32 random bytes held in the Android Keystore / iOS Keychain. Never typed, never logged.
    pub key: Vec<u8>,
    /// This device's id, as enrolled.
    pub device_id: String,
    /// Who is using the device.
    pub user: User,
    /// How many person-compartment documents to keep warm in memory.
    #[cfg_attr(feature = "uniffi", uniffi(default = 128))]
    pub doc_cache_size: u32,
    /// Compact documents on a background thread as changes accumulate.
    #[cfg_attr(feature = "uniffi", uniffi(default = true))]
    pub background_compaction: bool,
}

impl StoreConfig {
    pub fn new(
        path: impl Into<PathBuf>,
        key: &[u8],
        device_id: impl Into<String>,
        user: User,
    ) -> Self {
        StoreConfig {
            path: path.into(),
            key: key.to_vec(),
            device_id: device_id.into(),
            user,
            doc_cache_size: 128,
            background_compaction: true,
        }
    }
}

struct Writer {
    conn: Connection,
    docs: DocCache,
}

/// The offline record store of one device, in an encrypted SQLite file. Every method blocks
/// until the write is on disk (or the read is done): foreign layers call it off the UI thread
/// (Kotlin `Dispatchers.IO`, Swift a dispatch queue). It is `Send + Sync`; writes are serialised.
#[cfg_attr(feature = "uniffi", derive(uniffi::Object))]
pub struct FieldStore {
    config: StoreConfig,
    /// Who writes through this store: its user on this device.
    principal: Principal,
    access: access::Access,
    writer: Mutex<Writer>,
    reader: Mutex<Connection>,
    compactor: Option<compaction::Compactor>,
    /// Shared with the compactor: writes go before its next document (`compaction::WriteGate`).
    gate: Arc<compaction::WriteGate>,
    /// Live queries: who is told what changed ([`StoreObserver`]).
    notifier: observe::Notifier,
    /// What the writes of the current critical section changed; told once the writer is free.
    changed: Mutex<StoreChange>,
}

/// The writer, held with the write gate (so the compactor's connection is not mid-write).
struct WriterGuard<'a> {
    writer: MutexGuard<'a, Writer>,
    _gate: MutexGuard<'a, ()>,
}

impl std::ops::Deref for WriterGuard<'_> {
    type Target = Writer;
    fn deref(&self) -> &Writer {
        &self.writer
    }
}

impl std::ops::DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut Writer {
        &mut self.writer
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock().map_err(|_| poisoned())
}

fn poisoned() -> Error {
    Error::Storage("an earlier operation failed part-way; reopen the store".into())
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Open (or create) the store. A wrong key (`WrongKey`), a damaged file (`Damaged`) or a
    /// store from a newer app (`TooNew`) is an error and nothing on disk is changed.
    #[cfg_attr(feature = "uniffi", uniffi::constructor)]
    pub fn open(config: StoreConfig) -> Result<FieldStore> {
        let key = db::DbKey::new(&config.key)?;
        validate_config(&config)?;
        let mut conn = db::open(&config.path, &key, false)?;
        schema::migrate(&mut conn, &config.path)?;
        let actor = actor_id(&conn)?;
        let reader = db::open(&config.path, &key, true)?;
        let gate = Arc::new(compaction::WriteGate::default());
        let compactor = if config.background_compaction {
            let conn = db::open(&config.path, &key, false)?;
            Some(compaction::Compactor::spawn(conn, gate.clone()))
        } else {
            None
        };
        if let Some(nudge) = compactor.as_ref().and_then(|c| c.checkpoint_nudge()) {
            nudge.install(&mut conn)?;
        }
        let access = access::Access::load(&conn)?;
        Ok(FieldStore {
            principal: Principal::Device {
                device_id: config.device_id.clone(),
                user: config.user.clone(),
            },
            access,
            writer: Mutex::new(Writer {
                conn,
                docs: DocCache::new(actor, config.doc_cache_size as usize),
            }),
            reader: Mutex::new(reader),
            compactor,
            gate,
            notifier: observe::Notifier::new(),
            changed: Mutex::new(StoreChange::default()),
            config,
        })
    }

    /// The person using this device.
    pub fn user(&self) -> User {
        self.config.user.clone()
    }

    /// This device's id, as enrolled.
    pub fn device_id(&self) -> String {
        self.config.device_id.clone()
    }

    // ------------------------------------------------------------------ reads

    /// Everything this device holds about a person.
    pub fn patient(&self, person_id: &str) -> Result<PersonRecord> {
        self.writing(|w| self.read_person(w, person_id))
    }

    /// Everyone on this device's caseload, by family name, with alerts, next and last visit and
    /// latest NEWS2.
    pub fn caseload(&self) -> Result<Vec<CaseloadEntry>> {
        queries::caseload(&*self.reader()?, &self.config.user.team)
    }

    /// A screenful of the caseload for the list screen: up to `limit` slim rows (1 to 500)
    /// after `after` (the `next` of the page before; none for the first page), in the order of
    /// `caseload()`. Each row carries what the line shows, every active or conflicting alert by
    /// kind among it; open the person with `patient` for the rest.
    pub fn caseload_page(&self, after: Option<CaseloadCursor>, limit: u32) -> Result<CaseloadPage> {
        queries::caseload_page(
            &*self.reader()?,
            &self.config.user.team,
            after.as_ref(),
            limit,
        )
    }

    /// Search by name (each word a prefix of a name), NHS number (digits), postcode, date of
    /// birth (1941-03-02 or 02/03/1941) or phone number (at least 7 digits, spaces and +44 aside):
    /// advice clients often have no NHS number (issue 14).
    pub fn search_patients(&self, query: &str) -> Result<Vec<CaseloadEntry>> {
        queries::search(&*self.reader()?, query)
    }

    /// The planned visits of a day, in time order.
    pub fn planned_visits(&self, day: NaiveDate) -> Result<Vec<PlannedVisitSummary>> {
        queries::planned_visits(&*self.reader()?, day)
    }

    /// Open clinical conflicts, of one person or (with `None`) of everyone on the device.
    pub fn conflicts(&self, person_id: Option<String>) -> Result<Vec<ClinicalConflict>> {
        self.writing(|w| {
            let people: Vec<String> = match person_id {
                Some(p) => {
                    self.require_person(&w.conn, &p)?;
                    vec![p]
                }
                None => {
                    let mut stmt = w.conn.prepare_cached(
                        "SELECT DISTINCT person_id FROM alerts WHERE in_conflict = 1 ORDER BY person_id",
                    )?;
                    let rows = stmt
                        .query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    rows
                }
            };
            let Writer { conn, docs } = w;
            let mut out = Vec::new();
            for p in people {
                let entry = docs.get(conn, &(p.clone(), Compartment::Clinical))?;
                out.extend(record::read::conflicts(&p, &entry.doc)?);
            }
            Ok(out)
        })
    }

    /// Who changed what in a person's record and when, oldest first.
    pub fn history(&self, person_id: &str) -> Result<Vec<HistoryEntry>> {
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            let notes = queries::clock_notes(&w.conn, person_id)?;
            let Writer { conn, docs } = w;
            let mut all = Vec::new();
            for c in Compartment::ALL {
                let entry = docs.get(conn, &(person_id.to_string(), c))?;
                all.extend(record::history::history(&mut entry.doc, c, &notes));
            }
            all.sort_by(|a, b| (a.at, &a.change).cmp(&(b.at, &b.change)));
            Ok(all)
        })
    }

    // ------------------------------------------------------------------ maintenance

    /// Fold every document's pending changes into its snapshot now (the background thread does
    /// this as changes accumulate).
    pub fn compact_now(&self) -> Result<()> {
        let path = self.config.path.clone();
        let key = db::DbKey::new(&self.config.key)?;
        let mut conn = db::open(&path, &key, false)?;
        for (person, comp) in docs::documents_with_unfolded(&conn)? {
            let _gate = self.gate.for_compactor().ok_or_else(poisoned)?;
            docs::compact(&mut conn, &person, comp)?;
        }
        compaction::vacuum(&conn, &self.gate)?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// Throw away every projection row and derive them again from the documents.
    pub fn rebuild_projections(&self) -> Result<()> {
        self.writing(|w| {
            let Writer { conn, docs } = w;
            let tx = conn.transaction()?;
            let people: Vec<String> = {
                let mut stmt =
                    tx.prepare("SELECT DISTINCT person_id FROM changes ORDER BY person_id")?;
                let rows = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows
            };
            for t in ["people", "alerts", "planned_visits"]
                .into_iter()
                .chain(day::TABLES)
                .chain(ward::TABLES)
                .chain(day::advice::TABLES)
                .chain(["referrals", "duplicates"])
            {
                tx.execute(&format!("DELETE FROM {t}"), [])?;
            }
            reproject::project_people(&tx, docs, &people)?;
            tx.commit()?;
            if let Ok(mut c) = lock(&self.changed) {
                c.merge(StoreChange {
                    caseload: true,
                    conflicts: true,
                    planned_visits: true,
                    ..Default::default()
                });
            }
            Ok(())
        })
    }

    /// SQLite's own check of the file ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String> {
        let r = self.reader()?;
        let s: String = r.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(s)
    }
}

/// The machinery of every call: locks, the author, the policy, the write path.
impl FieldStore {
    /// Everything this device holds about a person, under the writer lock already taken.
    fn read_person(&self, w: &mut Writer, person_id: &str) -> Result<PersonRecord> {
        self.require_person(&w.conn, person_id)?;
        let Writer { conn, docs } = w;
        let key = |c: Compartment| (person_id.to_string(), c);
        let demographics =
            record::read::demographics(&docs.get(conn, &key(Compartment::Demographics))?.doc)?;
        let clinical = match &docs.get(conn, &key(Compartment::Clinical))?.doc {
            d if d.is_empty() => None,
            d => Some(record::read::clinical_for_display(person_id, d)?),
        };
        let advice = match &docs.get(conn, &key(Compartment::Advice))?.doc {
            d if d.is_empty() => None,
            d => Some(record::read::advice_for_display(d)?),
        };
        Ok(PersonRecord {
            person_id: person_id.to_string(),
            demographics,
            clinical,
            advice,
        })
    }

    /// The writer connection and warm documents, once the store is known to be usable.
    fn writer(&self) -> Result<WriterGuard<'_>> {
        self.access.check(now())?;
        self.lock_writer()
    }

    /// The writer and the write gate, in that order (every path to the writer comes here).
    fn lock_writer(&self) -> Result<WriterGuard<'_>> {
        let writer = lock(&self.writer)?;
        let gate = self.gate.for_writer().ok_or_else(poisoned)?;
        Ok(WriterGuard {
            writer,
            _gate: gate,
        })
    }

    /// The reader connection, once the store is known to be usable.
    fn reader(&self) -> Result<MutexGuard<'_, Connection>> {
        self.access.check(now())?;
        lock(&self.reader)
    }

    fn author(&self) -> Author {
        let u = &self.config.user;
        Author {
            user_id: u.id.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            device_id: self.config.device_id.clone(),
            at: now(),
        }
    }

    /// Refuse an action this store's user may not take, before anything is touched: an
    /// out-of-role write never reaches a document or the outbox. No write row of the policy
    /// depends on consent, so the person's consent is not read for it (a `WithConsent` write
    /// row would be refused here until it is).
    fn allow(&self, action: Action) -> Result<()> {
        let context = policy::Context {
            consent: policy::Consent::NotRecorded,
        };
        policy::allows(&self.principal, action, &context)?;
        Ok(())
    }

    /// Run `f` holding the writer: the one critical section of a public call. What its writes
    /// changed is told to the observers once the writer is released.
    fn writing<R>(&self, f: impl FnOnce(&mut Writer) -> Result<R>) -> Result<R> {
        let mut guard = self.writer()?;
        let result = f(&mut guard);
        drop(guard);
        let changed = lock(&self.changed).map(|mut c| std::mem::take(&mut *c));
        if let Ok(c) = changed {
            self.notify(c);
        }
        result
    }

    /// The write path of every operation on a person already on the device: the policy, then
    /// under the writer lock (taken once) the person looked up and the edit committed
    /// ([`FieldStore::commit_edit`]).
    fn write<T>(
        &self,
        person_id: &str,
        compartment: Compartment,
        edit: impl FnOnce(&mut AutoCommit, &Author) -> Result<Edit<T>>,
    ) -> Result<T> {
        self.allow(Action::Write(compartment))?;
        let author = self.author();
        let key: DocKey = (person_id.to_string(), compartment);
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            self.refuse_if_only_referred(&w.conn, person_id)?;
            self.commit_edit(w, &key, &author, |doc| edit(doc, &author))
        })
    }

    /// Make one change to one compartment document and persist it, with the projection deltas,
    /// in one SQLite transaction. `edit` runs against the warm document; if it fails, its ops are
    /// rolled back; if persisting fails, the warm copy is dropped so memory never runs ahead of
    /// the disk.
    fn commit_edit<T>(
        &self,
        w: &mut Writer,
        key: &DocKey,
        author: &Author,
        edit: impl FnOnce(&mut AutoCommit) -> Result<Edit<T>>,
    ) -> Result<T> {
        let Writer { conn, docs } = w;
        let result = write_one(conn, docs, key, author, edit);
        if let Ok((_, _, Some(change))) = &result {
            if let Ok(mut c) = lock(&self.changed) {
                c.merge(change.clone());
            }
        }
        match &result {
            Err(_) => docs.evict(key),
            Ok((_, unfolded, _)) if *unfolded >= docs::COMPACT_AFTER => {
                if let Some(c) = &self.compactor {
                    c.request(key.clone());
                    if let Ok(entry) = docs.get(conn, key) {
                        entry.unfolded = 0;
                    }
                }
            }
            Ok(_) => {}
        }
        result.map(|(v, _, _)| v)
    }

    /// Two edits (of two documents) persisted in one SQLite transaction: both land or neither,
    /// and on failure both warm copies are dropped so memory never runs ahead of the disk.
    fn commit_both<A, B>(
        &self,
        w: &mut Writer,
        author: &Author,
        first: (&DocKey, impl FnOnce(&mut AutoCommit) -> Result<Edit<A>>),
        second: (&DocKey, impl FnOnce(&mut AutoCommit) -> Result<Edit<B>>),
    ) -> Result<(A, B)> {
        let Writer { conn, docs } = w;
        let result = (|| {
            let (a, staged_a) = stage(conn, docs, first.0, author, first.1)?;
            let (b, staged_b) = stage(conn, docs, second.0, author, second.1)?;
            let tx = conn.transaction()?;
            let mut observed = Vec::new();
            for (key, staged) in [(first.0, &staged_a), (second.0, &staged_b)] {
                if let Some(st) = staged {
                    persist(&tx, key, st)?;
                    observed.push(st.observed(key));
                }
            }
            tx.commit()?;
            Ok((a, b, observed))
        })();
        match result {
            Ok((a, b, observed)) => {
                if let Ok(mut c) = lock(&self.changed) {
                    for change in observed {
                        c.merge(change);
                    }
                }
                Ok((a, b))
            }
            Err(e) => {
                docs.evict(first.0);
                docs.evict(second.0);
                Err(e)
            }
        }
    }

    /// True when this device holds anything of the person.
    fn person_known(conn: &Connection, person_id: &str) -> Result<bool> {
        Ok(conn
            .prepare_cached(
                "SELECT 1 FROM people WHERE person_id = ?1
                 UNION ALL SELECT 1 FROM changes WHERE person_id = ?1 LIMIT 1",
            )?
            .query_row([person_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn require_person(&self, conn: &Connection, person_id: &str) -> Result<()> {
        if Self::person_known(conn, person_id)? {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: "person",
                id: person_id.to_string(),
            })
        }
    }
}

/// For tests that compare stores.
impl FieldStore {
    /// A stable dump of the projection tables (for tests that compare stores).
    pub fn projection_dump(&self) -> Result<Vec<String>> {
        queries::dump(&*self.reader()?)
    }

    /// The heads of every document this device holds, hex, sorted (for tests that compare stores).
    pub fn document_heads(&self) -> Result<Vec<(String, Compartment, Vec<String>)>> {
        self.writing(|w| {
            let Writer { conn, docs } = w;
            let keys: Vec<(String, String)> = {
                let mut stmt = conn.prepare(
                    "SELECT DISTINCT person_id, compartment FROM changes ORDER BY person_id, compartment",
                )?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows
            };
            let mut out = Vec::new();
            for (p, c) in keys {
                let Some(comp) = Compartment::parse(&c) else {
                    continue;
                };
                let entry = docs.get(conn, &(p.clone(), comp))?;
                let mut heads: Vec<String> = entry
                    .doc
                    .get_heads()
                    .into_iter()
                    .map(|h| h.to_string())
                    .collect();
                heads.sort();
                out.push((p, comp, heads));
            }
            Ok(out)
        })
    }
}

/// Run `edit` on the document of `key`, commit its ops as one Automerge change stamped with
/// the author and the edit's summary, and store the change and the edit's projection deltas in
/// one SQLite transaction. Returns the edit's value, how many changes now lie beside the
/// document's snapshot, and what changed for observers (nothing when the edit made no ops).
fn write_one<T>(
    conn: &mut Connection,
    docs: &mut DocCache,
    key: &DocKey,
    author: &Author,
    edit: impl FnOnce(&mut AutoCommit) -> Result<Edit<T>>,
) -> Result<(T, usize, Option<StoreChange>)> {
    let (value, staged) = stage(conn, docs, key, author, edit)?;
    let Some(staged) = staged else {
        let unfolded = docs.get(conn, key)?.unfolded;
        return Ok((value, unfolded, None));
    };
    let tx = conn.transaction()?;
    persist(&tx, key, &staged)?;
    tx.commit()?;
    Ok((value, staged.unfolded, Some(staged.observed(key))))
}

/// An edit committed to its warm document and not yet on disk.
struct Staged {
    hash: automerge::ChangeHash,
    bytes: Vec<u8>,
    at_ms: i64,
    summary: String,
    deltas: Vec<record::edit::Delta>,
    /// Changes beside the document's snapshot, this one included.
    unfolded: usize,
}

impl Staged {
    fn observed(&self, key: &DocKey) -> StoreChange {
        StoreChange::of_edit(&key.0, key.1, &self.deltas)
    }
}

/// Run `edit` on the warm document of `key` and commit its ops as one Automerge change stamped
/// with the author and the edit's summary; `None` when the edit made no ops. The caller persists
/// it ([`persist`]) or, if that fails, evicts the document.
fn stage<T>(
    conn: &mut Connection,
    docs: &mut DocCache,
    key: &DocKey,
    author: &Author,
    edit: impl FnOnce(&mut AutoCommit) -> Result<Edit<T>>,
) -> Result<(T, Option<Staged>)> {
    let entry = docs.get(conn, key)?;
    let Edit {
        value,
        summary,
        deltas,
    } = match edit(&mut entry.doc) {
        Ok(e) => e,
        Err(e) => {
            entry.doc.rollback();
            return Err(e);
        }
    };
    let stamp = serde_json::to_string(&AuditStamp::new(author, summary.as_str()))?;
    let at_ms = author.at.timestamp_millis();
    let committed = entry.doc.commit_with(
        CommitOptions::default()
            .with_message(stamp)
            .with_time(at_ms),
    );
    let Some(hash) = committed else {
        return Ok((value, None));
    };
    let bytes = entry
        .doc
        .get_change_by_hash(&hash)
        .ok_or_else(|| Error::Document("the change just made cannot be found".into()))?
        .raw_bytes()
        .to_vec();
    entry.unfolded += 1;
    let staged = Staged {
        hash,
        bytes,
        at_ms,
        summary,
        deltas,
        unfolded: entry.unfolded,
    };
    Ok((value, Some(staged)))
}

/// Append a staged change and its projection deltas inside `tx`.
fn persist(tx: &rusqlite::Transaction<'_>, key: &DocKey, staged: &Staged) -> Result<()> {
    docs::insert_change(
        tx,
        &NewChange {
            person_id: &key.0,
            compartment: key.1,
            hash: staged.hash,
            bytes: &staged.bytes,
            local: true,
            at_ms: staged.at_ms,
            summary: &staged.summary,
        },
    )?;
    projections::apply(tx, &key.0, &staged.deltas)
}

impl Drop for FieldStore {
    fn drop(&mut self) {
        self.notifier.stop();
        if let Some(c) = self.compactor.take() {
            c.stop();
        }
    }
}

fn validate_config(config: &StoreConfig) -> Result<()> {
    use crate::error::ValidationError::MissingField;
    if config.device_id.trim().is_empty() {
        return Err(MissingField {
            field: "device id",
            hint: "enrol the device first",
        }
        .into());
    }
    if config.user.id.trim().is_empty() {
        return Err(MissingField {
            field: "user id",
            hint: "sign in first",
        }
        .into());
    }
    if config.user.display_name.trim().is_empty() {
        return Err(MissingField {
            field: "user display name",
            hint: "sign in first",
        }
        .into());
    }
    Ok(())
}

/// This store's Automerge actor: random, made once when the store is created, so that a
/// re-created store on the same device never reuses an actor's sequence numbers.
fn actor_id(conn: &Connection) -> Result<ActorId> {
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'actor'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(hex) = existing {
        return ActorId::try_from(hex.as_str()).map_err(|e| Error::Damaged {
            detail: format!("the store's actor id is unreadable: {e}"),
        });
    }
    let actor = ActorId::random();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('actor', ?1)",
        [actor.to_hex_string()],
    )?;
    Ok(actor)
}

/// Wall-clock now, to the millisecond (the resolution of Automerge timestamps).
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}
#[cfg(test)]
mod tests;
