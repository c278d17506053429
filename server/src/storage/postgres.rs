//! PostgreSQL backend: several server processes (behind a load balancer) share one database and
//! keep no state of their own. Sync `postgres` client, `r2d2` pool, no TLS — so the database
//! must be on this machine (loopback or a Unix socket); other hosts are refused.
//!
//! # Ordering of sequence numbers
//!
//! A device's cursor is "every change up to N": a reader must never see seq N+1 committed while
//! N is still uncommitted, or the cursor moves past N and the device never receives it. The
//! counter is one row (`counters.name = 'seq'`); [`Tx::next_seq`] is
//! `UPDATE counters SET value = value + 1 … RETURNING value`, and the row lock it takes is held
//! until the transaction commits or rolls back. A second writer's UPDATE waits for that lock and,
//! once the first has committed, re-reads the row and takes the next number. So numbers are
//! handed out in commit order, a rolled-back transaction gives its numbers back (the UPDATE is
//! undone too), and the committed numbers always form a prefix 1..=max_seq.
//!
//! Every write transaction takes that same row lock *first* (`SELECT … FOR UPDATE`), so write
//! transactions are serialised across all processes exactly as SQLite's single writer is
//! (`BEGIN IMMEDIATE`). The sync logic reads, checks, then writes (is this actor bound? is this
//! person known? does the team exist?) before it allocates a number; with the lock taken only at
//! `next_seq`, two processes could both pass a check and both act on it (a person joined to two
//! teams; a duplicate-key error, or a deadlock between an unbound actor and the counter). Readers
//! never wait for the lock (MVCC), and `read` uses a REPEATABLE READ READ ONLY snapshot so the
//! several queries of one response agree with the `max_seq` they started from.
//!
//! Statements are prepared once per pooled connection and kept in the connection's r2d2
//! extensions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use doorstep_core::record::{Compartment, User};
use postgres::config::Host;
use postgres::types::ToSql;
use postgres::{Config, IsolationLevel, NoTls, Row, Statement, Transaction};
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

use super::{parse_role, role_str, DeviceInfo, DeviceRow, NewChange, StoredChange, Tx};
use crate::error::{Result, ServerError};

/// Connections per server process. Several processes share the database's `max_connections`
/// (100 by default): four processes use at most 64.
pub const POOL_SIZE: u32 = 16;

/// Key of the advisory lock held while creating the schema ("doorstep" in ASCII).
const SCHEMA_LOCK: i64 = 0x646f_6f72_7374_6570;

const SCHEMA: &str = r#"
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
CREATE TABLE IF NOT EXISTS memberships (
    team_id TEXT NOT NULL, person_id TEXT NOT NULL, joined_seq BIGINT NOT NULL, left_seq BIGINT);
CREATE INDEX IF NOT EXISTS memberships_team ON memberships (team_id, left_seq);
CREATE INDEX IF NOT EXISTS memberships_person ON memberships (person_id);
CREATE TABLE IF NOT EXISTS consents (person_id TEXT PRIMARY KEY, consented BOOLEAN NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS purge_reports (device_id TEXT NOT NULL, person_id TEXT NOT NULL, reported_ms BIGINT NOT NULL);
"#;

/// Run at the start of every write transaction: bound how long it waits for the writer lock (as
/// SQLite's busy_timeout does) and how long a stalled process may sit on it, then take it.
const WRITE_BEGIN: &str = "SET LOCAL lock_timeout = '10s';
    SET LOCAL idle_in_transaction_session_timeout = '60s';
    SELECT value FROM counters WHERE name = 'seq' FOR UPDATE;";

type Manager = PostgresConnectionManager<NoTls>;

pub struct PgStorage {
    pool: Pool<Manager>,
    target: String,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStorage({})", self.target)
    }
}

/// Prepared statements of one connection, by their SQL.
#[derive(Default)]
struct Statements(HashMap<&'static str, Statement>);

fn is_loopback_name(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

/// Refuse anything but loopback or a Unix socket: the connection is not encrypted.
fn check_local(config: &Config) -> Result<()> {
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    if hosts.is_empty() && addrs.is_empty() {
        return Err(ServerError::Storage(
            "the PostgreSQL URL names no host; use e.g. postgres://doorstep@127.0.0.1:5432/doorstep".into(),
        ));
    }
    for i in 0..hosts.len().max(addrs.len()) {
        let local = match (addrs.get(i), hosts.get(i)) {
            (Some(ip), _) => ip.is_loopback(),
            (None, Some(Host::Tcp(name))) => is_loopback_name(name),
            (None, Some(Host::Unix(_))) => true,
            (None, None) => false,
        };
        if !local {
            return Err(ServerError::Storage(
                "the PostgreSQL server must be on this machine (127.0.0.1, ::1, localhost or a Unix socket): \
                 the connection is not encrypted"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// "host:port/dbname", without the user's password.
fn describe_target(config: &Config) -> String {
    let host = match (config.get_hostaddrs().first(), config.get_hosts().first()) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(Host::Tcp(h))) => h.clone(),
        (None, Some(Host::Unix(p))) => p.display().to_string(),
        (None, None) => "?".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("?");
    format!("{host}:{port}/{db}")
}

impl PgStorage {
    /// Connect to `url` (e.g. `postgres://doorstep@127.0.0.1:5432/doorstep`) and create the schema
    /// if it is absent. Safe when several processes start at once.
    pub fn open(url: &str) -> Result<PgStorage> {
        let mut config = Config::from_str(url)
            .map_err(|e| ServerError::Storage(format!("the PostgreSQL URL is not valid: {e}")))?;
        check_local(&config)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("doorstep-server");
        }
        let target = describe_target(&config);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(15))
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| ServerError::Storage(format!("cannot connect to PostgreSQL at {target}: {e}")))?;
        let mut conn = pool.get()?;
        // DDL under a transaction-scoped advisory lock: concurrent CREATE TABLE IF NOT EXISTS can
        // otherwise fail on the catalogue's unique indexes. Released at commit.
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        tx.batch_execute(SCHEMA)?;
        tx.commit()?;
        drop(conn);
        Ok(PgStorage { pool, target })
    }

    /// "host:port/dbname".
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A read-write transaction, serialised with every other write transaction on the database
    /// (see the module documentation). Committed if `f` succeeds, rolled back otherwise.
    pub fn write<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let mut conn = self.pool.get()?;
        let stmts = PooledConnection::extensions_mut(&mut conn).remove::<Statements>().unwrap_or_default();
        let (result, stmts) = {
            let tx = conn.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start()?;
            let mut t = PgTx { tx, stmts };
            let r = match t.tx.batch_execute(WRITE_BEGIN) {
                Ok(()) => f(&mut t),
                Err(e) => Err(e.into()),
            };
            let PgTx { tx, stmts } = t;
            let result = match r {
                Ok(v) => tx.commit().map(|()| v).map_err(ServerError::from),
                Err(e) => {
                    let _ = tx.rollback();
                    Err(e)
                }
            };
            (result, stmts)
        };
        PooledConnection::extensions_mut(&mut conn).insert(stmts);
        result
    }

    /// A read-only snapshot (REPEATABLE READ): every query of `f` sees the same committed state.
    pub fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let mut conn = self.pool.get()?;
        let stmts = PooledConnection::extensions_mut(&mut conn).remove::<Statements>().unwrap_or_default();
        let (result, stmts) = {
            let tx = conn
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let mut t = PgTx { tx, stmts };
            let r = f(&mut t);
            let PgTx { tx, stmts } = t;
            let end = tx.rollback();
            let result = match (r, end) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e.into()),
                (Ok(v), Ok(())) => Ok(v),
            };
            (result, stmts)
        };
        PooledConnection::extensions_mut(&mut conn).insert(stmts);
        result
    }
}

struct PgTx<'c> {
    tx: Transaction<'c>,
    stmts: Statements,
}

/// A sequence number as stored (BIGINT). `u64::MAX` ("no upper bound") becomes `i64::MAX`.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn seq_value(v: i64) -> u64 {
    v.max(0) as u64
}

fn comp(s: &str) -> Result<Compartment> {
    Compartment::parse(s).ok_or_else(|| ServerError::Storage(format!("unknown compartment {s}")))
}

fn stored(rows: Vec<Row>) -> Result<Vec<StoredChange>> {
    rows.into_iter()
        .map(|r| {
            Ok(StoredChange {
                seq: seq_value(r.try_get(0)?),
                person_id: r.try_get(1)?,
                compartment: comp(r.try_get(2)?)?,
                bytes: r.try_get(3)?,
                origin_device: r.try_get(4)?,
            })
        })
        .collect()
}

impl PgTx<'_> {
    fn stmt(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.stmts.0.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.stmts.0.insert(sql, s.clone());
        Ok(s)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.stmt(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.stmt(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    /// At most one row expected; the first if there are more (as SQLite's `query_row`).
    fn query_first(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn query_one(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_first(sql, params)?
            .ok_or_else(|| ServerError::Storage(format!("no row from: {sql}")))
    }
}

impl Tx for PgTx<'_> {
    fn create_team(&mut self, team_id: &str, name: &str) -> Result<()> {
        self.execute("INSERT INTO teams (team_id, name) VALUES ($1, $2)", &[&team_id, &name])?;
        Ok(())
    }

    fn team_exists(&mut self, team_id: &str) -> Result<bool> {
        let r = self.query_one("SELECT EXISTS(SELECT 1 FROM teams WHERE team_id = $1)", &[&team_id])?;
        Ok(r.try_get(0)?)
    }

    fn create_user(&mut self, u: &User) -> Result<()> {
        self.execute(
            "INSERT INTO users (user_id, display_name, role, team_id) VALUES ($1, $2, $3, $4)",
            &[&u.id, &u.display_name, &role_str(u.role), &u.team],
        )?;
        Ok(())
    }

    fn user(&mut self, user_id: &str) -> Result<Option<User>> {
        let Some(r) = self.query_first(
            "SELECT user_id, display_name, role, team_id FROM users WHERE user_id = $1",
            &[&user_id],
        )?
        else {
            return Ok(None);
        };
        let (id, display_name, role, team): (String, String, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        Ok(parse_role(&role).map(|role| User { id, display_name, role, team }))
    }

    fn add_code(&mut self, code_hash: &str, user_id: &str, expires_ms: i64) -> Result<()> {
        self.execute(
            "INSERT INTO enrolment_codes (code_hash, user_id, expires_ms) VALUES ($1, $2, $3)",
            &[&code_hash, &user_id, &expires_ms],
        )?;
        Ok(())
    }

    fn take_code(&mut self, code_hash: &str, now_ms: i64) -> Result<Option<String>> {
        // One statement: a concurrent taker waits for the row lock, re-checks `used_ms IS NULL`
        // on the committed row and finds nothing.
        let r = self.query_first(
            "UPDATE enrolment_codes SET used_ms = $2
             WHERE code_hash = $1 AND used_ms IS NULL AND expires_ms > $2 RETURNING user_id",
            &[&code_hash, &now_ms],
        )?;
        Ok(match r {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    fn add_device(&mut self, device_id: &str, user_id: &str, token_hash: &str, now_ms: i64) -> Result<()> {
        self.execute(
            "INSERT INTO devices (device_id, user_id, token_hash, enrolled_ms) VALUES ($1, $2, $3, $4)",
            &[&device_id, &user_id, &token_hash, &now_ms],
        )?;
        Ok(())
    }

    fn device_by_token(&mut self, token_hash: &str) -> Result<Option<DeviceRow>> {
        let Some(r) = self.query_first(
            "SELECT d.device_id, u.user_id, u.display_name, u.role, u.team_id, d.revoked_ms
             FROM devices d JOIN users u ON u.user_id = d.user_id WHERE d.token_hash = $1",
            &[&token_hash],
        )?
        else {
            return Ok(None);
        };
        let (device_id, id, display_name, role, team): (String, String, String, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        let revoked: Option<i64> = r.try_get(5)?;
        Ok(parse_role(&role).map(|role| DeviceRow {
            device_id,
            user: User { id, display_name, role, team },
            revoked: revoked.is_some(),
        }))
    }

    fn revoke_device(&mut self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.execute(
            "UPDATE devices SET revoked_ms = $2 WHERE device_id = $1 AND revoked_ms IS NULL",
            &[&device_id, &now_ms],
        )?;
        Ok(n == 1)
    }

    fn touch_device(&mut self, device_id: &str, now_ms: i64) -> Result<()> {
        self.execute("UPDATE devices SET last_sync_ms = $2 WHERE device_id = $1", &[&device_id, &now_ms])?;
        Ok(())
    }

    fn devices(&mut self) -> Result<Vec<DeviceInfo>> {
        self.query(
            "SELECT device_id, user_id, enrolled_ms, revoked_ms, last_sync_ms FROM devices
             ORDER BY enrolled_ms, device_id COLLATE \"C\"",
            &[],
        )?
        .into_iter()
        .map(|r| {
            Ok(DeviceInfo {
                device_id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                enrolled_ms: r.try_get(2)?,
                revoked_ms: r.try_get(3)?,
                last_sync_ms: r.try_get(4)?,
            })
        })
        .collect()
    }

    fn actor_owner(&mut self, actor: &str) -> Result<Option<String>> {
        Ok(match self.query_first("SELECT device_id FROM actors WHERE actor = $1", &[&actor])? {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    fn bind_actor(&mut self, actor: &str, device_id: &str) -> Result<()> {
        self.execute("INSERT INTO actors (actor, device_id) VALUES ($1, $2)", &[&actor, &device_id])?;
        Ok(())
    }

    fn next_seq(&mut self) -> Result<u64> {
        // The row lock taken here (already held: `write` takes it first) lasts until commit, so
        // no other transaction can take a number until this one has committed or rolled back:
        // numbers become visible in order, and a rollback returns its numbers. See module docs.
        let r = self.query_one("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value", &[])?;
        Ok(seq_value(r.try_get(0)?))
    }

    fn max_seq(&mut self) -> Result<u64> {
        let r = self.query_one("SELECT value FROM counters WHERE name = 'seq'", &[])?;
        Ok(seq_value(r.try_get(0)?))
    }

    fn has_change(&mut self, person_id: &str, c: Compartment, hash: &[u8]) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM changes WHERE person_id = $1 AND compartment = $2 AND hash = $3)",
            &[&person_id, &c.as_str(), &hash],
        )?;
        Ok(r.try_get(0)?)
    }

    fn insert_change(&mut self, c: &NewChange<'_>) -> Result<bool> {
        // As SQLite's ON CONFLICT DO NOTHING: a clash on either the seq or the
        // (person, compartment, hash) key stores nothing and is not an error.
        let n = self.execute(
            "INSERT INTO changes (seq, person_id, compartment, hash, bytes, origin_device, received_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &seq_param(c.seq),
                &c.person_id,
                &c.compartment.as_str(),
                &c.hash,
                &c.bytes,
                &c.origin_device,
                &c.received_ms,
            ],
        )?;
        Ok(n == 1)
    }

    fn person_known(&mut self, person_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM changes WHERE person_id = $1)
                 OR EXISTS(SELECT 1 FROM memberships WHERE person_id = $1)",
            &[&person_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn doc_changes(&mut self, person_id: &str, c: Compartment, up_to: u64) -> Result<Vec<StoredChange>> {
        let rows = self.query(
            "SELECT seq, person_id, compartment, bytes, origin_device FROM changes
             WHERE person_id = $1 AND compartment = $2 AND seq <= $3 ORDER BY seq",
            &[&person_id, &c.as_str(), &seq_param(up_to)],
        )?;
        stored(rows)
    }

    fn team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<StoredChange>> {
        let rows = self.query(
            "SELECT c.seq, c.person_id, c.compartment, c.bytes, c.origin_device FROM changes c
             WHERE c.seq > $2 AND c.seq <= $3 AND c.person_id IN
               (SELECT person_id FROM memberships WHERE team_id = $1 AND left_seq IS NULL)
             ORDER BY c.seq",
            &[&team_id, &seq_param(after), &seq_param(up_to)],
        )?;
        stored(rows)
    }

    fn members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>> {
        // COLLATE "C": byte order, as SQLite's, whatever the database's locale.
        self.query(
            "SELECT person_id, joined_seq FROM memberships WHERE team_id = $1 AND left_seq IS NULL
             ORDER BY person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, seq_value(r.try_get(1)?))))
        .collect()
    }

    fn was_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = $1 AND person_id = $2)",
            &[&team_id, &person_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn current_team(&mut self, person_id: &str) -> Result<Option<String>> {
        Ok(
            match self.query_first(
                "SELECT team_id FROM memberships WHERE person_id = $1 AND left_seq IS NULL",
                &[&person_id],
            )? {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            },
        )
    }

    fn join(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<()> {
        self.execute(
            "INSERT INTO memberships (team_id, person_id, joined_seq) VALUES ($1, $2, $3)",
            &[&team_id, &person_id, &seq_param(seq)],
        )?;
        Ok(())
    }

    fn leave(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<bool> {
        let n = self.execute(
            "UPDATE memberships SET left_seq = $3 WHERE team_id = $1 AND person_id = $2 AND left_seq IS NULL",
            &[&team_id, &person_id, &seq_param(seq)],
        )?;
        Ok(n > 0)
    }

    fn left_between(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<String>> {
        self.query(
            "SELECT DISTINCT person_id COLLATE \"C\" FROM memberships
             WHERE team_id = $1 AND left_seq > $2 AND left_seq <= $3 ORDER BY 1",
            &[&team_id, &seq_param(after), &seq_param(up_to)],
        )?
        .into_iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn consents(&mut self, team_id: &str) -> Result<Vec<(String, bool, u64)>> {
        self.query(
            "SELECT c.person_id, c.consented, c.seq FROM consents c JOIN memberships m
               ON m.person_id = c.person_id AND m.team_id = $1 AND m.left_seq IS NULL
             ORDER BY c.person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, seq_value(r.try_get(2)?))))
        .collect()
    }

    fn consent(&mut self, person_id: &str) -> Result<Option<(bool, u64)>> {
        Ok(
            match self.query_first("SELECT consented, seq FROM consents WHERE person_id = $1", &[&person_id])? {
                Some(r) => Some((r.try_get(0)?, seq_value(r.try_get(1)?))),
                None => None,
            },
        )
    }

    fn set_consent(&mut self, person_id: &str, consented: bool, seq: u64) -> Result<()> {
        self.execute(
            "INSERT INTO consents (person_id, consented, seq) VALUES ($1, $2, $3)
             ON CONFLICT (person_id) DO UPDATE SET consented = excluded.consented, seq = excluded.seq",
            &[&person_id, &consented, &seq_param(seq)],
        )?;
        Ok(())
    }

    fn record_purges(&mut self, device_id: &str, people: &[String], now_ms: i64) -> Result<()> {
        for p in people {
            self.execute(
                "INSERT INTO purge_reports (device_id, person_id, reported_ms) VALUES ($1, $2, $3)",
                &[&device_id, p, &now_ms],
            )?;
        }
        Ok(())
    }
}
