//! The server's schema, versioned: numbered migrations for both backends, applied in order at
//! start, each in one transaction together with the row that records it. A database newer than
//! this server knows is refused (as the device's `core/src/store/schema.rs` does).
//!
//! **Adding a migration is one edit**: append a [`Migration`] to [`MIGRATIONS`] with the next
//! number and its SQL for each backend. Never edit or reorder a migration once released: databases
//! in the field have run it. `server/tests/fixtures/schema-v1/` holds databases made by the first
//! release; the migration tests upgrade them.
//!
//! Version 1 is the first release's schema exactly, as it was created then (every statement
//! `IF NOT EXISTS`). Databases made before versioning existed have its tables but no
//! `schema_version` table: they are recognised as version 1 (migration 1 is re-run, which changes
//! nothing on such a database, and recorded) and then migrated on from there.
//!
//! Several server processes may start at once on one PostgreSQL database: each migration runs
//! under a transaction-scoped advisory lock and re-reads the version inside it, so each is
//! applied exactly once.

use crate::error::{Result, ServerError};

/// One schema step: its number, what it does (for the operator), and its SQL per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Every migration, in order. `MIGRATIONS[i].version == i + 1`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "first release: log, identities, scope",
        sqlite: r#"
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('seq', 0);
CREATE TABLE IF NOT EXISTS teams (team_id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (team_id));
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (user_id),
    expires_ms INTEGER NOT NULL, used_ms INTEGER);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (user_id),
    token_hash TEXT NOT NULL UNIQUE, enrolled_ms INTEGER NOT NULL,
    revoked_ms INTEGER, last_sync_ms INTEGER);
CREATE TABLE IF NOT EXISTS actors (actor TEXT PRIMARY KEY, device_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY, person_id TEXT NOT NULL, compartment TEXT NOT NULL,
    hash BLOB NOT NULL, bytes BLOB NOT NULL, origin_device TEXT NOT NULL, received_ms INTEGER NOT NULL,
    UNIQUE (person_id, compartment, hash));
CREATE INDEX IF NOT EXISTS changes_doc ON changes (person_id, compartment, seq);
CREATE INDEX IF NOT EXISTS changes_person_seq ON changes (person_id, seq);
CREATE TABLE IF NOT EXISTS memberships (
    team_id TEXT NOT NULL, person_id TEXT NOT NULL, joined_seq INTEGER NOT NULL, left_seq INTEGER);
CREATE INDEX IF NOT EXISTS memberships_team ON memberships (team_id, left_seq);
CREATE INDEX IF NOT EXISTS memberships_person ON memberships (person_id);
CREATE TABLE IF NOT EXISTS consents (person_id TEXT PRIMARY KEY, consented INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS purge_reports (device_id TEXT NOT NULL, person_id TEXT NOT NULL, reported_ms INTEGER NOT NULL);
"#,
        postgres: r#"
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO counters (name, value) VALUES ('seq', 0) ON CONFLICT (name) DO NOTHING;
CREATE TABLE IF NOT EXISTS teams (team_id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (team_id));
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (user_id),
    expires_ms BIGINT NOT NULL, used_ms BIGINT);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (user_id),
    token_hash TEXT NOT NULL UNIQUE, enrolled_ms BIGINT NOT NULL,
    revoked_ms BIGINT, last_sync_ms BIGINT);
CREATE TABLE IF NOT EXISTS actors (actor TEXT PRIMARY KEY, device_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    seq BIGINT PRIMARY KEY, person_id TEXT NOT NULL, compartment TEXT NOT NULL,
    hash BYTEA NOT NULL, bytes BYTEA NOT NULL, origin_device TEXT NOT NULL, received_ms BIGINT NOT NULL,
    UNIQUE (person_id, compartment, hash));
CREATE INDEX IF NOT EXISTS changes_doc ON changes (person_id, compartment, seq);
CREATE INDEX IF NOT EXISTS changes_person_seq ON changes (person_id, seq);
CREATE TABLE IF NOT EXISTS memberships (
    team_id TEXT NOT NULL, person_id TEXT NOT NULL, joined_seq BIGINT NOT NULL, left_seq BIGINT);
CREATE INDEX IF NOT EXISTS memberships_team ON memberships (team_id, left_seq);
CREATE INDEX IF NOT EXISTS memberships_person ON memberships (person_id);
CREATE TABLE IF NOT EXISTS consents (person_id TEXT PRIMARY KEY, consented BOOLEAN NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS purge_reports (device_id TEXT NOT NULL, person_id TEXT NOT NULL, reported_ms BIGINT NOT NULL);
"#,
    },
    Migration {
        version: 2,
        name: "hardening: code cancelling, retired and disabled, token rotation, rate counters",
        sqlite: r#"
ALTER TABLE enrolment_codes ADD COLUMN cancelled_ms INTEGER;
CREATE INDEX enrolment_codes_user ON enrolment_codes (user_id);
ALTER TABLE users ADD COLUMN disabled_ms INTEGER;
ALTER TABLE devices ADD COLUMN retired_ms INTEGER;
ALTER TABLE devices ADD COLUMN pending_token_hash TEXT;
ALTER TABLE devices ADD COLUMN rotate_requested_ms INTEGER;
CREATE UNIQUE INDEX devices_pending_token ON devices (pending_token_hash);
CREATE TABLE rate_counters (
    subject TEXT NOT NULL, window_start INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (subject, window_start));
"#,
        postgres: r#"
ALTER TABLE enrolment_codes ADD COLUMN cancelled_ms BIGINT;
CREATE INDEX enrolment_codes_user ON enrolment_codes (user_id);
ALTER TABLE users ADD COLUMN disabled_ms BIGINT;
ALTER TABLE devices ADD COLUMN retired_ms BIGINT;
ALTER TABLE devices ADD COLUMN pending_token_hash TEXT;
ALTER TABLE devices ADD COLUMN rotate_requested_ms BIGINT;
CREATE UNIQUE INDEX devices_pending_token ON devices (pending_token_hash);
CREATE TABLE rate_counters (
    subject TEXT NOT NULL, window_start BIGINT NOT NULL, count BIGINT NOT NULL,
    PRIMARY KEY (subject, window_start));
"#,
    },
    Migration {
        version: 3,
        name: "record rules: quarantine reported by devices; an actor's change numbers unique per document",
        sqlite: r#"
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, user_id TEXT NOT NULL,
    person_id TEXT NOT NULL, compartment TEXT NOT NULL, direction TEXT NOT NULL, change_hash TEXT,
    code TEXT NOT NULL, reason TEXT NOT NULL, summary TEXT NOT NULL, at_ms INTEGER NOT NULL,
    reported_ms INTEGER NOT NULL, bytes BLOB NOT NULL,
    UNIQUE (device_id, person_id, change_hash, direction));
CREATE INDEX quarantine_code ON quarantine (code);
ALTER TABLE changes ADD COLUMN actor TEXT;
ALTER TABLE changes ADD COLUMN actor_seq INTEGER;
CREATE UNIQUE INDEX changes_actor_seq ON changes (person_id, compartment, actor, actor_seq);
"#,
        postgres: r#"
CREATE TABLE quarantine (
    id BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL, user_id TEXT NOT NULL,
    person_id TEXT NOT NULL, compartment TEXT NOT NULL, direction TEXT NOT NULL, change_hash TEXT,
    code TEXT NOT NULL, reason TEXT NOT NULL, summary TEXT NOT NULL, at_ms BIGINT NOT NULL,
    reported_ms BIGINT NOT NULL, bytes BYTEA NOT NULL,
    UNIQUE (device_id, person_id, change_hash, direction));
CREATE INDEX quarantine_code ON quarantine (code);
ALTER TABLE changes ADD COLUMN actor TEXT;
ALTER TABLE changes ADD COLUMN actor_seq BIGINT;
CREATE UNIQUE INDEX changes_actor_seq ON changes (person_id, compartment, actor, actor_seq);
"#,
    },
    Migration {
        version: 4,
        name: "clock notes: the server's receive time beside a change whose phone clock was implausible",
        sqlite: "ALTER TABLE changes ADD COLUMN clock_note_ms INTEGER;",
        postgres: "ALTER TABLE changes ADD COLUMN clock_note_ms BIGINT;",
    },
    Migration {
        version: 5,
        name: "read model: a compacted snapshot of each document and the log seq it covers",
        sqlite: "CREATE TABLE documents (
    person_id TEXT NOT NULL, compartment TEXT NOT NULL, snapshot BLOB NOT NULL,
    up_to_seq INTEGER NOT NULL, PRIMARY KEY (person_id, compartment));",
        postgres: "CREATE TABLE documents (
    person_id TEXT NOT NULL, compartment TEXT NOT NULL, snapshot BYTEA NOT NULL,
    up_to_seq BIGINT NOT NULL, PRIMARY KEY (person_id, compartment));",
    },
    Migration {
        version: 6,
        name: "remote-monitoring ingest: integrations, registered monitors, readings, refused lines",
        sqlite: r#"
CREATE TABLE integrations (
    integration_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (team_id), token_hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE monitors (
    integration_id TEXT NOT NULL REFERENCES integrations (integration_id), serial TEXT NOT NULL,
    person_id TEXT NOT NULL, registered_ms INTEGER NOT NULL, unregistered_ms INTEGER);
CREATE UNIQUE INDEX monitors_active ON monitors (integration_id, serial) WHERE unregistered_ms IS NULL;
CREATE TABLE readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, integration_id TEXT NOT NULL, person_id TEXT NOT NULL,
    kind TEXT NOT NULL, taken_ms INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL,
    serial TEXT NOT NULL, received_ms INTEGER NOT NULL,
    UNIQUE (integration_id, person_id, kind, taken_ms));
CREATE INDEX readings_person ON readings (person_id, taken_ms);
CREATE TABLE ingest_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, integration_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    line INTEGER NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX ingest_refusals_code ON ingest_refusals (code);
"#,
        postgres: r#"
CREATE TABLE integrations (
    integration_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (team_id), token_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL, revoked_ms BIGINT);
CREATE TABLE monitors (
    integration_id TEXT NOT NULL REFERENCES integrations (integration_id), serial TEXT NOT NULL,
    person_id TEXT NOT NULL, registered_ms BIGINT NOT NULL, unregistered_ms BIGINT);
CREATE UNIQUE INDEX monitors_active ON monitors (integration_id, serial) WHERE unregistered_ms IS NULL;
CREATE TABLE readings (
    id BIGSERIAL PRIMARY KEY, integration_id TEXT NOT NULL, person_id TEXT NOT NULL,
    kind TEXT NOT NULL, taken_ms BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, unit TEXT NOT NULL,
    serial TEXT NOT NULL, received_ms BIGINT NOT NULL,
    UNIQUE (integration_id, person_id, kind, taken_ms));
CREATE INDEX readings_person ON readings (person_id, taken_ms);
CREATE TABLE ingest_refusals (
    id BIGSERIAL PRIMARY KEY, integration_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
    line BIGINT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX ingest_refusals_code ON ingest_refusals (code);
"#,
    },
    Migration {
        version: 7,
        name: "the hub's screen: hub staff passwords, sessions with their CSRF tokens, views of a record; teams' escalation routes",
        sqlite: r#"
CREATE TABLE hub_passwords (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id), password_hash TEXT NOT NULL,
    set_ms INTEGER NOT NULL);
CREATE TABLE hub_sessions (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (user_id),
    csrf TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE hub_views (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, person_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL, what TEXT NOT NULL);
CREATE INDEX hub_views_person ON hub_views (person_id, at_ms);
CREATE TABLE escalation_routes (
    team_id TEXT PRIMARY KEY REFERENCES teams (team_id), in_hours TEXT NOT NULL,
    out_of_hours TEXT NOT NULL, opens TEXT NOT NULL, closes TEXT NOT NULL,
    weekends INTEGER NOT NULL, set_ms INTEGER NOT NULL);
"#,
        postgres: r#"
CREATE TABLE hub_passwords (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id), password_hash TEXT NOT NULL,
    set_ms BIGINT NOT NULL);
CREATE TABLE hub_sessions (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (user_id),
    csrf TEXT NOT NULL, created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL);
CREATE TABLE hub_views (
    id BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, person_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL, what TEXT NOT NULL);
CREATE INDEX hub_views_person ON hub_views (person_id, at_ms);
CREATE TABLE escalation_routes (
    team_id TEXT PRIMARY KEY REFERENCES teams (team_id), in_hours TEXT NOT NULL,
    out_of_hours TEXT NOT NULL, opens TEXT NOT NULL, closes TEXT NOT NULL,
    weekends BOOLEAN NOT NULL, set_ms BIGINT NOT NULL);
"#,
    },
    Migration {
        version: 8,
        name: "referrals between teams: referrals and their answers; a membership pending a referral's answer, and what an accepted one shares; identity keys for possible duplicates",
        sqlite: r#"
ALTER TABLE memberships ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN shares TEXT;
CREATE TABLE referrals (
    referral_id TEXT PRIMARY KEY, person_id TEXT NOT NULL, from_team TEXT NOT NULL,
    to_team TEXT NOT NULL, shares TEXT NOT NULL, status TEXT NOT NULL,
    raised_seq INTEGER NOT NULL, answered_seq INTEGER, answered_by TEXT, answered_ms INTEGER);
CREATE INDEX referrals_person ON referrals (person_id);
CREATE TABLE identity_keys (
    kind TEXT NOT NULL, key TEXT NOT NULL, person_id TEXT NOT NULL,
    PRIMARY KEY (kind, key, person_id));
CREATE INDEX identity_keys_person ON identity_keys (person_id);
"#,
        postgres: r#"
ALTER TABLE memberships ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE memberships ADD COLUMN shares TEXT;
CREATE TABLE referrals (
    referral_id TEXT PRIMARY KEY, person_id TEXT NOT NULL, from_team TEXT NOT NULL,
    to_team TEXT NOT NULL, shares TEXT NOT NULL, status TEXT NOT NULL,
    raised_seq BIGINT NOT NULL, answered_seq BIGINT, answered_by TEXT, answered_ms BIGINT);
CREATE INDEX referrals_person ON referrals (person_id);
CREATE TABLE identity_keys (
    kind TEXT NOT NULL, key TEXT NOT NULL, person_id TEXT NOT NULL,
    PRIMARY KEY (kind, key, person_id));
CREATE INDEX identity_keys_person ON identity_keys (person_id);
"#,
    },
    Migration {
        version: 9,
        name: "national returns: a team's ODS code and service type for the CSDS extract",
        sqlite: r#"
CREATE TABLE team_profiles (
    team_id TEXT PRIMARY KEY REFERENCES teams (team_id), ods_code TEXT NOT NULL,
    service_type TEXT NOT NULL, set_ms INTEGER NOT NULL);
CREATE INDEX users_team ON users (team_id);
"#,
        postgres: r#"
CREATE TABLE team_profiles (
    team_id TEXT PRIMARY KEY REFERENCES teams (team_id), ods_code TEXT NOT NULL,
    service_type TEXT NOT NULL, set_ms BIGINT NOT NULL);
CREATE INDEX users_team ON users (team_id);
"#,
    },
    Migration {
        version: 10,
        name: "FHIR integrations: the teams and compartments an integration may read, and the audit of every FHIR read",
        sqlite: r#"
CREATE TABLE integration_scopes (
    integration_id TEXT NOT NULL REFERENCES integrations (integration_id),
    team_id TEXT NOT NULL REFERENCES teams (team_id), compartments TEXT NOT NULL,
    set_ms INTEGER NOT NULL, PRIMARY KEY (integration_id, team_id));
CREATE TABLE fhir_reads (
    id INTEGER PRIMARY KEY AUTOINCREMENT, integration_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    request TEXT NOT NULL, person_id TEXT, compartments TEXT NOT NULL, outcome TEXT NOT NULL,
    peer TEXT NOT NULL);
CREATE INDEX fhir_reads_person ON fhir_reads (person_id, at_ms);
"#,
        postgres: r#"
CREATE TABLE integration_scopes (
    integration_id TEXT NOT NULL REFERENCES integrations (integration_id),
    team_id TEXT NOT NULL REFERENCES teams (team_id), compartments TEXT NOT NULL,
    set_ms BIGINT NOT NULL, PRIMARY KEY (integration_id, team_id));
CREATE TABLE fhir_reads (
    id BIGSERIAL PRIMARY KEY, integration_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
    request TEXT NOT NULL, person_id TEXT, compartments TEXT NOT NULL, outcome TEXT NOT NULL,
    peer TEXT NOT NULL);
CREATE INDEX fhir_reads_person ON fhir_reads (person_id, at_ms);
"#,
    },
    Migration {
        version: 11,
        name: "remote-monitoring ingest: the readings an upload re-reads come from one covering index, in order",
        sqlite: r#"
CREATE INDEX readings_span ON readings (person_id, taken_ms, kind, integration_id, value, unit, serial);
DROP INDEX readings_person;
"#,
        postgres: r#"
CREATE INDEX readings_span ON readings (person_id, taken_ms, kind, integration_id, value, unit, serial);
DROP INDEX readings_person;
"#,
    },
];

/// The schema version this server writes and reads.
pub const CURRENT: u32 = MIGRATIONS.len() as u32;

/// Key of the advisory lock held while migrating PostgreSQL ("doorstep" in ASCII).
const PG_LOCK: i64 = 0x646f_6f72_7374_6570;

const SQLITE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)";
const PG_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)";

/// What to do with a database found at `found`, for a server whose migrations are `known`.
/// `Ok(None)`: up to date; `Ok(Some(m))`: apply `m` next.
fn next_step<'m>(
    found: u32,
    known: &'m [Migration],
    target: &str,
) -> Result<Option<&'m Migration>> {
    let newest = known.len() as u32;
    if found > newest {
        return Err(ServerError::SchemaTooNew {
            target: target.to_string(),
            found,
            known: newest,
        });
    }
    Ok(known.get(found as usize))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Bring an SQLite database to the newest of `known` (normally [`MIGRATIONS`]). Returns the
/// version it was found at. Each migration and its version row commit together.
pub fn migrate_sqlite(
    conn: &mut rusqlite::Connection,
    known: &[Migration],
    target: &str,
) -> Result<u32> {
    let mut first = None;
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let versioned: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
            [],
            |r| r.get(0),
        )?;
        let found: u32 = if versioned {
            tx.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )?
        } else {
            // Made before versioning (the first release): its tables are migration 1's.
            let v1: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'counters')",
                [],
                |r| r.get(0),
            )?;
            if v1 {
                1
            } else {
                0
            }
        };
        first.get_or_insert(found);
        if !versioned {
            tx.execute_batch(SQLITE_VERSION_TABLE)?;
            if found == 1 {
                record_sqlite(&tx, &known[0])?;
            }
        }
        let Some(m) = next_step(found, known, target)? else {
            tx.commit()?;
            return Ok(first.unwrap_or(found));
        };
        tx.execute_batch(m.sqlite)
            .map_err(|e| failed(m, target, &e))?;
        record_sqlite(&tx, m)?;
        tx.commit().map_err(|e| failed(m, target, &e))?;
        tracing::info!(version = m.version, name = m.name, %target, "schema migrated");
    }
}

fn record_sqlite(tx: &rusqlite::Transaction<'_>, m: &Migration) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO schema_version (version, name, applied_ms) VALUES (?1, ?2, ?3)",
        rusqlite::params![m.version, m.name, now_ms()],
    )?;
    Ok(())
}

/// Bring a PostgreSQL database to the newest of `known`. Safe when several processes start at
/// once. Returns the version it was found at.
pub fn migrate_postgres(
    client: &mut postgres::Client,
    known: &[Migration],
    target: &str,
) -> Result<u32> {
    let mut first = None;
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_LOCK])?;
        let versioned: bool = tx
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
            .try_get(0)?;
        let found: u32 = if versioned {
            let v: i32 = tx
                .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
                .try_get(0)?;
            u32::try_from(v).unwrap_or(0)
        } else {
            let v1: bool = tx
                .query_one("SELECT to_regclass('counters') IS NOT NULL", &[])?
                .try_get(0)?;
            if v1 {
                1
            } else {
                0
            }
        };
        first.get_or_insert(found);
        if !versioned {
            tx.batch_execute(PG_VERSION_TABLE)?;
            if found == 1 {
                record_postgres(&mut tx, &known[0])?;
            }
        }
        let Some(m) = next_step(found, known, target)? else {
            tx.commit()?;
            return Ok(first.unwrap_or(found));
        };
        tx.batch_execute(m.postgres)
            .map_err(|e| failed(m, target, &e))?;
        record_postgres(&mut tx, m)?;
        tx.commit().map_err(|e| failed(m, target, &e))?;
        tracing::info!(version = m.version, name = m.name, %target, "schema migrated");
    }
}

fn record_postgres(tx: &mut postgres::Transaction<'_>, m: &Migration) -> Result<()> {
    let version = i32::try_from(m.version).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, $2, $3)
         ON CONFLICT (version) DO NOTHING",
        &[&version, &m.name, &now_ms()],
    )?;
    Ok(())
}

fn failed(m: &Migration, target: &str, e: &dyn std::error::Error) -> ServerError {
    ServerError::Storage(format!(
        "schema migration {} ({}) failed on {target} and was rolled back; the database is still at version {}: {e}",
        m.version,
        m.name,
        m.version - 1
    ))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use doorstep_tests::pg;
    use rusqlite::Connection;

    use super::*;
    use crate::storage::postgres::PgStorage;
    use crate::storage::sqlite::SqliteStorage;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/schema-v1")
            .join(name)
    }

    /// A copy of the committed SQLite fixture as `server.db` in a new directory.
    fn sqlite_fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixture("server.db"), dir.path().join("server.db")).unwrap();
        dir
    }

    fn sqlite_versions(path: &Path) -> Vec<u32> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT version FROM schema_version ORDER BY version")
            .unwrap();
        let v = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<u32>>>()
            .unwrap();
        v
    }

    /// The tables and indexes of a database, as SQLite keeps their definitions.
    fn sqlite_schema(path: &Path) -> Vec<(String, String)> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL
                 AND name <> 'schema_version' ORDER BY name",
            )
            .unwrap();
        let v = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        v
    }

    fn count(path: &Path, table: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
        assert_eq!(CURRENT as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_new_sqlite_database_gets_every_migration() {
        let dir = tempfile::tempdir().unwrap();
        SqliteStorage::open(dir.path()).unwrap();
        let path = dir.path().join("server.db");
        assert_eq!(sqlite_versions(&path), (1..=CURRENT).collect::<Vec<_>>());
        // Opening again changes nothing.
        let before = sqlite_schema(&path);
        SqliteStorage::open(dir.path()).unwrap();
        assert_eq!(sqlite_schema(&path), before);
        assert_eq!(sqlite_versions(&path), (1..=CURRENT).collect::<Vec<_>>());
    }

    /// Migration 1 is the first release's schema exactly: a database made by migration 1 alone
    /// has the same tables and indexes, defined by the same SQL, as the committed fixture.
    #[test]
    fn migration_1_is_the_first_release_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(
            migrate_sqlite(&mut conn, &MIGRATIONS[..1], "test").unwrap(),
            0
        );
        drop(conn);
        assert_eq!(sqlite_schema(&path), sqlite_schema(&fixture("server.db")));
        assert_eq!(sqlite_versions(&path), vec![1]);
    }

    #[test]
    fn the_sqlite_fixture_is_recognised_as_version_1_and_migrated() {
        let dir = sqlite_fixture();
        let path = dir.path().join("server.db");
        let changes = count(&path, "changes");
        assert!(changes > 0);
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(
            migrate_sqlite(&mut conn, MIGRATIONS, "fixture").unwrap(),
            1,
            "a database without schema_version but with the first release's tables is version 1"
        );
        drop(conn);
        assert_eq!(sqlite_versions(&path), (1..=CURRENT).collect::<Vec<_>>());
        for table in [
            "teams",
            "users",
            "devices",
            "enrolment_codes",
            "memberships",
            "consents",
        ] {
            assert!(count(&path, table) > 0, "{table} kept");
        }
        assert_eq!(count(&path, "changes"), changes);
        assert_eq!(count(&path, "purge_reports"), 4);
    }

    #[test]
    fn a_newer_sqlite_schema_is_refused_naming_both_versions() {
        let dir = sqlite_fixture();
        let path = dir.path().join("server.db");
        SqliteStorage::open(dir.path()).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO schema_version (version, name, applied_ms) VALUES (?1, 'from the future', 0)",
                [CURRENT + 1],
            )
            .unwrap();
        let before = sqlite_schema(&path);
        match SqliteStorage::open(dir.path()) {
            Err(e @ ServerError::SchemaTooNew { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains(&format!("schema version {}", CURRENT + 1))
                        && m.contains(&format!("only up to version {CURRENT}"))
                        && m.contains("server.db"),
                    "{m}"
                );
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
        assert_eq!(sqlite_schema(&path), before, "nothing changed");
    }

    fn test_migrations() -> Vec<Migration> {
        let mut list: Vec<Migration> = MIGRATIONS.to_vec();
        let n = CURRENT;
        list.push(Migration {
            version: n + 1,
            name: "good",
            sqlite: "CREATE TABLE good_one (x INTEGER);",
            postgres: "CREATE TABLE good_one (x INTEGER);",
        });
        list.push(Migration {
            version: n + 2,
            name: "bad",
            sqlite: "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);",
            postgres: "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);",
        });
        list
    }

    /// Each migration commits alone: a failing one is rolled back whole, the ones before it stay,
    /// and the error names it.
    #[test]
    fn a_failed_sqlite_migration_rolls_back_alone() {
        let dir = sqlite_fixture();
        let path = dir.path().join("server.db");
        let mut conn = Connection::open(&path).unwrap();
        let list = test_migrations();
        match migrate_sqlite(&mut conn, &list, "fixture") {
            Err(ServerError::Storage(m)) => assert!(
                m.contains(&format!("migration {} (bad)", CURRENT + 2))
                    && m.contains(&format!("still at version {}", CURRENT + 1)),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        drop(conn);
        assert_eq!(
            sqlite_versions(&path),
            (1..=CURRENT + 1).collect::<Vec<_>>()
        );
        let names: Vec<String> = sqlite_schema(&path).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"good_one".to_string()));
        assert!(!names.contains(&"half_done".to_string()));
    }

    fn pg_versions(cluster: &pg::Cluster, db: &str) -> String {
        cluster
            .psql(
                db,
                &[
                    "-A",
                    "-t",
                    "-c",
                    "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version",
                ],
            )
            .trim()
            .to_string()
    }

    fn all_versions(up_to: u32) -> String {
        (1..=up_to)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn the_postgres_fixture_is_recognised_as_version_1_migrated_and_a_newer_one_refused() {
        let cluster = pg::shared();
        let db = format!("fixture_{}", std::process::id());
        let url = cluster.restore(&db, &fixture("postgres.sql"));
        let changes = cluster.psql(&db, &["-A", "-t", "-c", "SELECT count(*) FROM changes"]);
        let s = PgStorage::open(&url).unwrap();
        assert_eq!(pg_versions(&cluster, &db), all_versions(CURRENT));
        assert_eq!(
            cluster.psql(&db, &["-A", "-t", "-c", "SELECT count(*) FROM changes"]),
            changes
        );
        assert!(s.read(|tx| tx.max_seq()).unwrap() > 0);
        drop(s);
        // Reopening changes nothing; a newer schema is refused.
        PgStorage::open(&url).unwrap();
        cluster.psql(
            &db,
            &[
                "-c",
                &format!(
                    "INSERT INTO schema_version VALUES ({}, 'from the future', 0)",
                    CURRENT + 1
                ),
            ],
        );
        match PgStorage::open(&url) {
            Err(e @ ServerError::SchemaTooNew { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains(&format!("schema version {}", CURRENT + 1))
                        && m.contains(&format!("only up to version {CURRENT}")),
                    "{m}"
                );
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }

    #[test]
    fn a_failed_postgres_migration_rolls_back_alone() {
        let (cluster, url) = pg::fresh_database();
        let db = url.rsplit('/').next().unwrap().to_string();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        match migrate_postgres(&mut client, &test_migrations(), "test") {
            Err(ServerError::Storage(m)) => assert!(
                m.contains(&format!("migration {} (bad)", CURRENT + 2)),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(pg_versions(&cluster, &db), all_versions(CURRENT + 1));
        let tables = cluster.psql(
            &db,
            &[
                "-A",
                "-t",
                "-c",
                "SELECT to_regclass('good_one') IS NOT NULL, to_regclass('half_done') IS NOT NULL",
            ],
        );
        assert_eq!(tables.trim(), "t|f");
    }
}
