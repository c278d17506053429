//! Server storage: an append-only change log with a server-assigned sequence, plus identities
//! (teams, users, devices, enrolment codes) and scope (caseload memberships, consent).
//!
//! Two real backends implement [`Tx`]: embedded SQLite (default) and PostgreSQL (several server
//! processes sharing one database). The sync logic in `crate::sync` is written once against
//! [`Tx`]. Writers are serialised by the sequence counter (a row lock held to commit), so
//! committed sequence numbers always form a prefix: a reader never sees seq N+1 before N, and a
//! device's cursor never skips a change.

#[cfg(test)]
mod contract;
pub mod pg_tls;
pub mod postgres;
pub mod schema;
pub mod sqlite;

use doorstep_core::record::{Compartment, Role, User};

use crate::error::Result;

/// A referral between teams as the server keeps it (issue 14 item 5): the referral entry itself
/// is in the person's demographics document; this row is what the server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRow {
    pub referral_id: String,
    pub person_id: String,
    pub from_team: String,
    pub to_team: String,
    /// The compartments shared once accepted, comma-separated ("advice", "clinical,advice", "").
    pub shares: String,
    /// pending, accepted or declined.
    pub status: String,
    pub raised_seq: u64,
    pub answered_seq: Option<u64>,
    /// Who answered (display name and role), and when.
    pub answered_by: Option<String>,
    pub answered_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub user: User,
    /// Revoked as lost (or already wiped after retiring): nothing it sends is stored; it wipes.
    pub revoked: bool,
    /// Retired (a leaver, a replaced phone): its pending upload is accepted, then it wipes.
    pub retired: bool,
    /// It authenticated with the rotated token it has not used before (see `rotate-token`).
    pub pending_token: bool,
    /// When it was enrolled (a change stamped before this has a wrong clock).
    pub enrolled_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// The first 12 hex digits of the code's hash: names the code without revealing it.
    pub id: String,
    pub user_id: String,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
    pub cancelled_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub device_id: String,
    pub user_id: String,
    pub enrolled_ms: i64,
    pub revoked_ms: Option<i64>,
    pub last_sync_ms: Option<i64>,
    pub retired_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    pub seq: u64,
    pub person_id: String,
    pub compartment: Compartment,
    pub bytes: Vec<u8>,
    pub origin_device: String,
    /// The change's hash, as stored.
    pub hash: Vec<u8>,
    /// When the server received it, kept only when the phone's clock was implausible.
    pub clock_note_ms: Option<i64>,
}

/// A stored change without its bytes: enough to choose a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeMeta {
    pub seq: u64,
    pub person_id: String,
    pub compartment: Compartment,
    pub len: u64,
    pub origin_device: String,
    pub hash: Vec<u8>,
    pub clock_note_ms: Option<i64>,
}

pub use doorstep_core::clinical::routes::EscalationRoutes;

/// What a national return names a team by (`doorstep admin set-team-profile`): its ODS code
/// (ORGANISATION IDENTIFIER (CODE OF PROVIDER)) and its service type (SERVICE OR TEAM TYPE
/// REFERRED TO (COMMUNITY CARE)), both checked by `core::record::dictionary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamProfile {
    pub ods_code: String,
    pub service_type: String,
}

/// A stored routes row (in hours, out of hours, opens, closes, weekends) as the record's type.
pub(crate) fn routes_of(
    (in_hours, out_of_hours, opens, closes, weekends): (String, String, String, String, bool),
) -> Result<EscalationRoutes> {
    let time = |s: &str| {
        chrono::NaiveTime::parse_from_str(s, "%H:%M").map_err(|e| {
            crate::error::ServerError::Storage(format!(
                "a stored escalation route has a bad time {s:?}: {e}"
            ))
        })
    };
    Ok(EscalationRoutes {
        in_hours,
        out_of_hours,
        opens: time(&opens)?,
        closes: time(&closes)?,
        weekends,
    })
}

/// A signed-in hub user's session: the token's hash (the cookie holds the token), and the CSRF
/// token every form of the session must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSession {
    pub token_hash: String,
    pub user_id: String,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

pub struct NewChange<'a> {
    pub seq: u64,
    pub person_id: &'a str,
    pub compartment: Compartment,
    pub hash: &'a [u8],
    pub bytes: &'a [u8],
    pub origin_device: &'a str,
    pub received_ms: i64,
    /// The Automerge actor (hex) and its change number: unique per document (schema 3).
    pub actor: Option<&'a str>,
    pub actor_seq: Option<u64>,
    /// `received_ms` again when the change's own time is implausible (a clock note).
    pub clock_note_ms: Option<i64>,
}

/// A change a device put in quarantine, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub device_id: String,
    pub user_id: String,
    pub person_id: String,
    pub compartment: Compartment,
    pub direction: String,
    pub change_hash: Option<String>,
    pub code: String,
    pub reason: String,
    pub summary: String,
    pub at_ms: i64,
    pub reported_ms: i64,
    pub bytes: Vec<u8>,
}

/// A system integration's credential (schema 6): a remote-monitoring service posting readings.
/// Its token is stored only as a hash, as a device's is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRow {
    pub integration_id: String,
    /// `monitoring` (the only kind so far).
    pub kind: String,
    pub name: String,
    /// The team whose caseload its monitors may be registered to.
    pub team_id: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// One FHIR read by an integration (schema 10): every search and export, answered or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirReadRow {
    pub integration_id: String,
    pub at_ms: i64,
    /// What was asked, as the request line's path and query (`GET /fhir/Patient/…/$everything`).
    pub request: String,
    /// The person whose record was read, when one was.
    pub person_id: Option<String>,
    /// The compartments sent, comma-separated (empty when nothing was).
    pub compartments: String,
    /// `exported`, `matched N`, `no match`, or the refusal's code.
    pub outcome: String,
    pub peer: String,
}

/// One reading to store (schema 6). `(integration_id, person_id, kind, taken_ms)` is unique.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading<'a> {
    pub integration_id: &'a str,
    pub person_id: &'a str,
    pub kind: &'a str,
    pub taken_ms: i64,
    pub value: f64,
    pub unit: &'a str,
    pub serial: &'a str,
    pub received_ms: i64,
}

/// What the database did with a reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadingInsert {
    Stored,
    /// The same source, person, kind and time is held already, with this value.
    Duplicate {
        stored_value: f64,
    },
}

/// A stored reading.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    pub integration_id: String,
    pub kind: String,
    pub taken_ms: i64,
    pub value: f64,
    pub unit: String,
    pub serial: String,
}

/// A line of an upload that was refused, kept for operators (schema 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestRefusal {
    pub integration_id: String,
    pub at_ms: i64,
    pub line: u64,
    pub code: String,
    pub reason: String,
}

/// The primitive operations of one transaction. Backends implement these; nothing else.
pub trait Tx {
    // identities
    fn create_team(&mut self, team_id: &str, name: &str) -> Result<()>;
    fn team_exists(&mut self, team_id: &str) -> Result<bool>;
    fn create_user(&mut self, user: &User) -> Result<()>;
    fn user(&mut self, user_id: &str) -> Result<Option<User>>;
    fn add_code(&mut self, code_hash: &str, user_id: &str, expires_ms: i64) -> Result<()>;
    /// Mark an unused, unexpired code used and return its user.
    fn take_code(&mut self, code_hash: &str, now_ms: i64) -> Result<Option<String>>;
    fn add_device(
        &mut self,
        device_id: &str,
        user_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<()>;
    fn device_by_token(&mut self, token_hash: &str) -> Result<Option<DeviceRow>>;
    fn revoke_device(&mut self, device_id: &str, now_ms: i64) -> Result<bool>;
    fn touch_device(&mut self, device_id: &str, now_ms: i64) -> Result<()>;
    fn devices(&mut self) -> Result<Vec<DeviceInfo>>;
    fn actor_owner(&mut self, actor: &str) -> Result<Option<String>>;
    fn bind_actor(&mut self, actor: &str, device_id: &str) -> Result<()>;

    // the log
    /// Allocate the next sequence number (serialises writers until commit).
    fn next_seq(&mut self) -> Result<u64>;
    /// The highest committed sequence number.
    fn max_seq(&mut self) -> Result<u64>;
    fn has_change(&mut self, person_id: &str, comp: Compartment, hash: &[u8]) -> Result<bool>;
    /// Store a change; false if it was already held.
    fn insert_change(&mut self, c: &NewChange<'_>) -> Result<bool>;
    /// Whether the server holds anything of this person (changes or caseload history).
    fn person_known(&mut self, person_id: &str) -> Result<bool>;
    /// A document's changes with seq <= `up_to`, in order.
    fn doc_changes(
        &mut self,
        person_id: &str,
        comp: Compartment,
        up_to: u64,
    ) -> Result<Vec<StoredChange>>;
    /// A document's changes with seq > `after`, in order.
    fn doc_changes_after(
        &mut self,
        person_id: &str,
        comp: Compartment,
        after: u64,
    ) -> Result<Vec<StoredChange>>;
    /// Changes with `after < seq <= up_to` of people currently on the team's caseload, in order.
    fn team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<StoredChange>>;
    /// As `team_changes`, without the bytes (a page is chosen from these, then its bytes read).
    fn team_change_meta(
        &mut self,
        team_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<ChangeMeta>>;
    /// As `doc_changes`, without the bytes.
    fn doc_change_meta(
        &mut self,
        person_id: &str,
        c: Compartment,
        up_to: u64,
    ) -> Result<Vec<ChangeMeta>>;
    /// The bytes of the changes with these sequence numbers (any order; unknown ones left out).
    fn change_bytes(&mut self, seqs: &[u64]) -> Result<Vec<(u64, Vec<u8>)>>;
    /// How many changes with `after < seq <= up_to` people on the team's caseload have.
    fn count_team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<u64>;

    // scope
    /// Current caseload: (person, seq at which they joined). Not the people only referred to
    /// the team and not yet accepted ([`Tx::pending_members`]).
    fn members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>>;
    /// Whether the person is, or was, on the team's caseload (a pending referral is not).
    fn was_member(&mut self, team_id: &str, person_id: &str) -> Result<bool>;
    /// Everyone who is or ever was on the team's caseload, by id (reports: issue 14).
    fn ever_members(&mut self, team_id: &str) -> Result<Vec<String>>;
    /// The teams whose caseload the person is on now (several, after accepted referrals).
    fn teams_of(&mut self, person_id: &str) -> Result<Vec<String>>;
    /// Whether the person is on the team's caseload now.
    fn is_member(&mut self, team_id: &str, person_id: &str) -> Result<bool>;
    // referrals between teams (schema 8, issue 14 item 5)
    /// People referred to the team and not yet accepted: (person, seq of the referral).
    fn pending_members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>>;
    fn is_pending_member(&mut self, team_id: &str, person_id: &str) -> Result<bool>;
    /// Current members who came by a referral that shares only some compartments: (person,
    /// the shares, comma-separated).
    fn member_shares(&mut self, team_id: &str) -> Result<Vec<(String, String)>>;
    /// The person joins the team pending a referral's answer (they see the demographics only).
    fn join_pending(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<()>;
    /// The pending membership becomes the team's own from `seq`, sharing `shares`.
    fn accept_pending(
        &mut self,
        team_id: &str,
        person_id: &str,
        seq: u64,
        shares: &str,
    ) -> Result<bool>;
    fn insert_referral(&mut self, r: &ReferralRow) -> Result<()>;
    // tell it once (schema 8, issue 14 item 6)
    /// The person's identity keys (kind, key) are now these.
    fn set_identity_keys(&mut self, person_id: &str, keys: &[(String, String)]) -> Result<()>;
    /// Everyone with this identity key, by id.
    fn people_with_identity(&mut self, kind: &str, key: &str) -> Result<Vec<String>>;
    fn referral(&mut self, referral_id: &str) -> Result<Option<ReferralRow>>;
    fn answer_referral(
        &mut self,
        referral_id: &str,
        status: &str,
        seq: u64,
        by: &str,
        at_ms: i64,
    ) -> Result<()>;
    /// Everyone on some team's caseload now, by id (the ward watch's round).
    fn current_people(&mut self) -> Result<Vec<String>>;
    fn join(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<()>;
    fn leave(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<bool>;
    /// People who left the team with `after < left_seq <= up_to`.
    fn left_between(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<String>>;
    /// Consent of the team's current members: (person, consented, seq it was last set).
    fn consents(&mut self, team_id: &str) -> Result<Vec<(String, bool, u64)>>;
    fn consent(&mut self, person_id: &str) -> Result<Option<(bool, u64)>>;
    fn set_consent(&mut self, person_id: &str, consented: bool, seq: u64) -> Result<()>;
    fn record_purges(&mut self, device_id: &str, people: &[String], now_ms: i64) -> Result<()>;

    // quarantine
    /// Keep a device's quarantine report; a repeat of one already held is ignored.
    fn add_quarantine(&mut self, q: &QuarantineRow) -> Result<()>;
    /// (reason code, count), most frequent first.
    fn quarantine_counts(&mut self) -> Result<Vec<(String, u64)>>;
    fn quarantine_newest(&mut self, limit: u32) -> Result<Vec<QuarantineRow>>;

    // hardening (schema 2)
    /// The device by id, as [`Tx::device_by_token`] gives it (for checks inside a write).
    fn device_by_id(&mut self, device_id: &str) -> Result<Option<DeviceRow>>;
    /// Mark a device retired (its next upload is accepted, then it wipes); false if it is
    /// already revoked or retired, or unknown.
    fn retire_device(&mut self, device_id: &str, now_ms: i64) -> Result<bool>;
    /// Record when devices last synced, in one statement per device (batched by the caller).
    fn touch_devices(&mut self, seen: &[(String, i64)]) -> Result<()>;
    /// Every enrolment code, newest first.
    fn codes(&mut self) -> Result<Vec<CodeInfo>>;
    /// Cancel unused codes: those whose hash starts with `id_prefix` (at least 8 hex digits),
    /// or all of `user_id`'s. Returns how many.
    fn cancel_codes(
        &mut self,
        id_prefix: Option<&str>,
        user_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64>;
    /// Make unused, unexpired codes (all, or `user_id`'s) expire now. Returns how many.
    fn expire_codes(&mut self, user_id: Option<&str>, now_ms: i64) -> Result<u64>;
    fn disable_user(&mut self, user_id: &str, now_ms: i64) -> Result<bool>;
    fn user_disabled(&mut self, user_id: &str) -> Result<bool>;
    /// The device ids of a user.
    fn user_devices(&mut self, user_id: &str) -> Result<Vec<String>>;
    /// Ask for a device's token to be rotated at its next sync; false if revoked or unknown.
    fn request_rotation(&mut self, device_id: &str, now_ms: i64) -> Result<bool>;
    fn rotation_requested(&mut self, device_id: &str) -> Result<bool>;
    /// Set the token a device will switch to (and clear the request); the current one keeps
    /// working until the new one is used.
    fn set_pending_token(&mut self, device_id: &str, token_hash: &str) -> Result<bool>;
    /// The device used its pending token: it becomes the token and the old one stops working.
    fn promote_pending_token(&mut self, device_id: &str) -> Result<()>;
    /// Add `by` to a fixed-window counter (one upsert); its new total.
    fn bump_counter(&mut self, subject: &str, window_start: i64, by: u64) -> Result<u64>;
    fn counter(&mut self, subject: &str, window_start: i64) -> Result<u64>;
    /// Drop windows that started before `before`.
    fn prune_counters(&mut self, before: i64) -> Result<()>;

    // remote-monitoring ingest (schema 6)
    fn add_integration(&mut self, i: &IntegrationRow, token_hash: &str) -> Result<()>;
    fn integration(&mut self, integration_id: &str) -> Result<Option<IntegrationRow>>;
    fn integration_by_token(&mut self, token_hash: &str) -> Result<Option<IntegrationRow>>;
    /// Every integration, oldest first.
    fn integrations(&mut self) -> Result<Vec<IntegrationRow>>;
    /// False if unknown or revoked already.
    fn revoke_integration(&mut self, integration_id: &str, now_ms: i64) -> Result<bool>;
    /// Register a monitor's serial to a person for an integration (one active registration per
    /// serial and integration: a second is a storage error; check with `monitor_person`).
    fn register_monitor(
        &mut self,
        integration_id: &str,
        serial: &str,
        person_id: &str,
        now_ms: i64,
    ) -> Result<()>;
    /// The person a serial is registered to now, for this integration.
    fn monitor_person(&mut self, integration_id: &str, serial: &str) -> Result<Option<String>>;
    /// End a serial's active registration; false if it had none.
    fn unregister_monitor(
        &mut self,
        integration_id: &str,
        serial: &str,
        now_ms: i64,
    ) -> Result<bool>;
    /// Store a reading unless its (integration, person, kind, time) is held already.
    fn insert_reading(&mut self, r: &NewReading<'_>) -> Result<ReadingInsert>;
    /// Store a batch of readings, each as [`Tx::insert_reading`] would, in order: a repeat
    /// within the batch is a duplicate of its first (with the first's value if that was stored).
    fn insert_readings(&mut self, rs: &[NewReading<'_>]) -> Result<Vec<ReadingInsert>> {
        rs.iter().map(|r| self.insert_reading(r)).collect()
    }
    /// A person's readings with `from_ms <= taken_ms < to_ms`, oldest first.
    fn readings_of(
        &mut self,
        person_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StoredReading>>;
    /// Everyone with a registered home monitor now, with the time of their latest reading
    /// (from any integration; `None` when none was ever stored), by id.
    fn monitored_people(&mut self) -> Result<Vec<(String, Option<i64>)>>;
    // the hub's screen (issue 13, item 5)
    /// Set (or replace) a hub user's password hash (argon2id, PHC string).
    fn set_hub_password(&mut self, user_id: &str, hash: &str, now_ms: i64) -> Result<()>;
    fn hub_password(&mut self, user_id: &str) -> Result<Option<String>>;
    fn add_hub_session(&mut self, s: &HubSession) -> Result<()>;
    /// The session with this token hash, if it has not expired at `now_ms`.
    fn hub_session(&mut self, token_hash: &str, now_ms: i64) -> Result<Option<HubSession>>;
    fn end_hub_session(&mut self, token_hash: &str) -> Result<()>;
    /// Sign a user out everywhere (a disabled account, a new password).
    fn end_hub_sessions_of(&mut self, user_id: &str) -> Result<u64>;
    /// Audit one view of a person's record by a hub user.
    fn add_hub_view(
        &mut self,
        user_id: &str,
        person_id: &str,
        at_ms: i64,
        what: &str,
    ) -> Result<()>;
    /// Views of a person's record, oldest first: (user, at, what).
    fn hub_views(&mut self, person_id: &str) -> Result<Vec<(String, i64, String)>>;
    /// Set (or replace) a team's escalation routes.
    fn set_escalation_routes(
        &mut self,
        team_id: &str,
        r: &EscalationRoutes,
        now_ms: i64,
    ) -> Result<()>;
    fn escalation_routes(&mut self, team_id: &str) -> Result<Option<EscalationRoutes>>;
    /// Set (or replace) a team's ODS code and service type (the CSDS extract's provider).
    fn set_team_profile(&mut self, team_id: &str, p: &TeamProfile, now_ms: i64) -> Result<()>;
    fn team_profile(&mut self, team_id: &str) -> Result<Option<TeamProfile>>;
    /// The ids of the users of a team (disabled ones too: what they recorded is the team's).
    fn team_users(&mut self, team_id: &str) -> Result<Vec<String>>;
    // FHIR integrations (schema 10, issue 15)
    /// Set (or replace) the compartments, comma-separated, an integration may read of a team's
    /// caseload.
    fn set_integration_scope(
        &mut self,
        integration_id: &str,
        team_id: &str,
        compartments: &str,
        now_ms: i64,
    ) -> Result<()>;
    /// Take a team out of an integration's scope; whether it was in it.
    fn remove_integration_scope(&mut self, integration_id: &str, team_id: &str) -> Result<bool>;
    /// (team, compartments comma-separated), by team.
    fn integration_scopes(&mut self, integration_id: &str) -> Result<Vec<(String, String)>>;
    /// The team's current members with no identity key (their demographics unchanged since
    /// schema 8, or holding neither an NHS number nor a date of birth and postcode).
    fn members_without_identity_keys(&mut self, team_id: &str) -> Result<Vec<String>>;
    fn add_fhir_read(&mut self, r: &FhirReadRow) -> Result<()>;
    /// The FHIR reads of one person's record (every one when `None`), oldest first.
    fn fhir_reads(&mut self, person_id: Option<&str>) -> Result<Vec<FhirReadRow>>;
    fn add_ingest_refusals(&mut self, refused: &[IngestRefusal]) -> Result<()>;
    /// (reason code, count), most frequent first.
    fn ingest_refusal_counts(&mut self) -> Result<Vec<(String, u64)>>;
    // the read model (schema 5, docs/decisions/0003)
    /// A document's stored snapshot and the log seq it covers (every change of the document
    /// with seq <= it, and none after).
    fn doc_snapshot(
        &mut self,
        person_id: &str,
        comp: Compartment,
    ) -> Result<Option<(Vec<u8>, u64)>>;
    /// Store a document's snapshot covering the log up to `up_to_seq`. A stored snapshot that
    /// covers as much or more is kept (a write never moves `up_to_seq` backwards). Returns
    /// whether it was written.
    fn put_doc_snapshot(
        &mut self,
        person_id: &str,
        comp: Compartment,
        snapshot: &[u8],
        up_to_seq: u64,
    ) -> Result<bool>;
    /// The seq each of the team's current members' stored snapshots covers, with its size.
    fn team_snapshot_info(&mut self, team_id: &str) -> Result<Vec<SnapshotInfo>>;
}

/// A stored snapshot without its bytes: enough to choose a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub person_id: String,
    pub compartment: Compartment,
    pub up_to_seq: u64,
    pub len: u64,
}

/// A backend. `write` runs a serialised read-write transaction; `read` a consistent snapshot.
pub enum Storage {
    Sqlite(sqlite::SqliteStorage),
    Postgres(postgres::PgStorage),
}

impl Storage {
    pub fn write<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        match self {
            Storage::Sqlite(s) => s.write(f),
            Storage::Postgres(s) => s.write(f),
        }
    }

    pub fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        match self {
            Storage::Sqlite(s) => s.read(f),
            Storage::Postgres(s) => s.read(f),
        }
    }

    /// Whether a write transaction is running in this process now (SQLite's one writer; for
    /// PostgreSQL, the writers are in the database and this reports false).
    pub fn writer_busy(&self) -> bool {
        match self {
            Storage::Sqlite(s) => s.writer_busy(),
            Storage::Postgres(_) => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Storage::Sqlite(s) => format!("embedded SQLite at {}", s.path().display()),
            Storage::Postgres(s) => format!("PostgreSQL at {}", s.target()),
        }
    }
}

pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::DistrictNurse => "district_nurse",
        Role::VirtualWardClinician => "virtual_ward_clinician",
        Role::AdviceWorker => "advice_worker",
    }
}

pub fn parse_role(s: &str) -> Option<Role> {
    [
        Role::DistrictNurse,
        Role::VirtualWardClinician,
        Role::AdviceWorker,
    ]
    .into_iter()
    .find(|r| role_str(*r) == s)
}
