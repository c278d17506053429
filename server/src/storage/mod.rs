//! Server storage: an append-only change log with a server-assigned sequence, plus identities
//! (teams, users, devices, enrolment codes) and scope (caseload memberships, consent).
//!
//! Two real backends implement [`Tx`]: embedded SQLite (default) and PostgreSQL (several server
//! processes sharing one database). The sync logic in `crate::sync` is written once against
//! [`Tx`]. Writers are serialised by the sequence counter (a row lock held to commit), so
//! committed sequence numbers always form a prefix: a reader never sees seq N+1 before N, and a
//! device's cursor never skips a change.

pub mod postgres;
pub mod sqlite;

use doorstep_core::record::{Compartment, Role, User};

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub user: User,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub device_id: String,
    pub user_id: String,
    pub enrolled_ms: i64,
    pub revoked_ms: Option<i64>,
    pub last_sync_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    pub seq: u64,
    pub person_id: String,
    pub compartment: Compartment,
    pub bytes: Vec<u8>,
    pub origin_device: String,
}

pub struct NewChange<'a> {
    pub seq: u64,
    pub person_id: &'a str,
    pub compartment: Compartment,
    pub hash: &'a [u8],
    pub bytes: &'a [u8],
    pub origin_device: &'a str,
    pub received_ms: i64,
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

    // scope
    /// Current caseload: (person, seq at which they joined).
    fn members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>>;
    fn was_member(&mut self, team_id: &str, person_id: &str) -> Result<bool>;
    fn current_team(&mut self, person_id: &str) -> Result<Option<String>>;
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
