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

use super::{
    parse_role, role_str, DeviceInfo, DeviceRow, NewChange, QuarantineRow, StoredChange, Tx,
};
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
CREATE INDEX IF NOT EXISTS changes_person_seq ON changes (person_id, seq);
CREATE TABLE IF NOT EXISTS memberships (
    team_id TEXT NOT NULL, person_id TEXT NOT NULL, joined_seq BIGINT NOT NULL, left_seq BIGINT);
CREATE INDEX IF NOT EXISTS memberships_team ON memberships (team_id, left_seq);
CREATE INDEX IF NOT EXISTS memberships_person ON memberships (person_id);
CREATE TABLE IF NOT EXISTS consents (person_id TEXT PRIMARY KEY, consented BOOLEAN NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS purge_reports (device_id TEXT NOT NULL, person_id TEXT NOT NULL, reported_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    id BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL, user_id TEXT NOT NULL,
    person_id TEXT NOT NULL, compartment TEXT NOT NULL, direction TEXT NOT NULL, change_hash TEXT,
    code TEXT NOT NULL, reason TEXT NOT NULL, summary TEXT NOT NULL, at_ms BIGINT NOT NULL,
    reported_ms BIGINT NOT NULL, bytes BYTEA NOT NULL,
    UNIQUE (device_id, person_id, change_hash, direction));
CREATE INDEX IF NOT EXISTS quarantine_code ON quarantine (code);
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
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
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

/// An error and its causes, e.g. "error connecting to server: Connection refused (os error 111)".
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        cause = c.source();
    }
    s
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
        // One connection first, to fail at once with the cause (the pool would retry for its
        // timeout and then report only "error connecting to server").
        let mut client = config.connect(NoTls).map_err(|e| {
            ServerError::Storage(format!(
                "cannot connect to PostgreSQL at {target}: {}",
                with_causes(&e)
            ))
        })?;
        // DDL under a transaction-scoped advisory lock: concurrent CREATE TABLE IF NOT EXISTS can
        // otherwise fail on the catalogue's unique indexes. Released at commit.
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        tx.batch_execute(SCHEMA).map_err(|e| {
            ServerError::Storage(format!(
                "cannot create the schema at {target}: {}",
                with_causes(&e)
            ))
        })?;
        tx.commit()?;
        drop(client);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(15))
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| {
                ServerError::Storage(format!("cannot connect to PostgreSQL at {target}: {e}"))
            })?;
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
        let stmts = PooledConnection::extensions_mut(&mut conn)
            .remove::<Statements>()
            .unwrap_or_default();
        let (result, stmts) = {
            let tx = conn
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()?;
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
        let stmts = PooledConnection::extensions_mut(&mut conn)
            .remove::<Statements>()
            .unwrap_or_default();
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
    fn query_first(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn query_one(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_first(sql, params)?
            .ok_or_else(|| ServerError::Storage(format!("no row from: {sql}")))
    }
}

impl Tx for PgTx<'_> {
    fn create_team(&mut self, team_id: &str, name: &str) -> Result<()> {
        self.execute(
            "INSERT INTO teams (team_id, name) VALUES ($1, $2)",
            &[&team_id, &name],
        )?;
        Ok(())
    }

    fn team_exists(&mut self, team_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM teams WHERE team_id = $1)",
            &[&team_id],
        )?;
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
        Ok(parse_role(&role).map(|role| User {
            id,
            display_name,
            role,
            team,
        }))
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

    fn add_device(
        &mut self,
        device_id: &str,
        user_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<()> {
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
        let (device_id, id, display_name, role, team): (String, String, String, String, String) = (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        );
        let revoked: Option<i64> = r.try_get(5)?;
        Ok(parse_role(&role).map(|role| DeviceRow {
            device_id,
            user: User {
                id,
                display_name,
                role,
                team,
            },
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
        self.execute(
            "UPDATE devices SET last_sync_ms = $2 WHERE device_id = $1",
            &[&device_id, &now_ms],
        )?;
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
        Ok(
            match self.query_first("SELECT device_id FROM actors WHERE actor = $1", &[&actor])? {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            },
        )
    }

    fn bind_actor(&mut self, actor: &str, device_id: &str) -> Result<()> {
        self.execute(
            "INSERT INTO actors (actor, device_id) VALUES ($1, $2)",
            &[&actor, &device_id],
        )?;
        Ok(())
    }

    fn next_seq(&mut self) -> Result<u64> {
        // The row lock taken here (already held: `write` takes it first) lasts until commit, so
        // no other transaction can take a number until this one has committed or rolled back:
        // numbers become visible in order, and a rollback returns its numbers. See module docs.
        let r = self.query_one(
            "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value",
            &[],
        )?;
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

    fn doc_changes(
        &mut self,
        person_id: &str,
        c: Compartment,
        up_to: u64,
    ) -> Result<Vec<StoredChange>> {
        let rows = self.query(
            "SELECT seq, person_id, compartment, bytes, origin_device FROM changes
             WHERE person_id = $1 AND compartment = $2 AND seq <= $3 ORDER BY seq",
            &[&person_id, &c.as_str(), &seq_param(up_to)],
        )?;
        stored(rows)
    }

    fn doc_changes_after(
        &mut self,
        person_id: &str,
        c: Compartment,
        after: u64,
    ) -> Result<Vec<StoredChange>> {
        let rows = self.query(
            "SELECT seq, person_id, compartment, bytes, origin_device FROM changes
             WHERE person_id = $1 AND compartment = $2 AND seq > $3 ORDER BY seq",
            &[&person_id, &c.as_str(), &seq_param(after)],
        )?;
        stored(rows)
    }

    fn team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<StoredChange>> {
        let rows = self.query(
            // Driven by the team's members, each a range seek on (person_id, seq): the cost
            // follows the team's own changes, not every team's changes in the range.
            "SELECT c.seq, c.person_id, c.compartment, c.bytes, c.origin_device
             FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = $1 AND m.left_seq IS NULL AND c.seq > $2 AND c.seq <= $3
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
            match self.query_first(
                "SELECT consented, seq FROM consents WHERE person_id = $1",
                &[&person_id],
            )? {
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

    fn add_quarantine(&mut self, q: &QuarantineRow) -> Result<()> {
        self.execute(
            "INSERT INTO quarantine (device_id, user_id, person_id, compartment, direction,
                 change_hash, code, reason, summary, at_ms, reported_ms, bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (device_id, person_id, change_hash, direction) DO NOTHING",
            &[
                &q.device_id,
                &q.user_id,
                &q.person_id,
                &q.compartment.as_str(),
                &q.direction,
                &q.change_hash,
                &q.code,
                &q.reason,
                &q.summary,
                &q.at_ms,
                &q.reported_ms,
                &q.bytes,
            ],
        )?;
        Ok(())
    }

    fn quarantine_counts(&mut self) -> Result<Vec<(String, u64)>> {
        let rows = self.query(
            "SELECT code, count(*) FROM quarantine GROUP BY code ORDER BY count(*) DESC, code",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }

    fn quarantine_newest(&mut self, limit: u32) -> Result<Vec<QuarantineRow>> {
        let rows = self.query(
            "SELECT device_id, user_id, person_id, compartment, direction, change_hash, code,
                    reason, summary, at_ms, reported_ms, bytes
             FROM quarantine ORDER BY reported_ms DESC, id DESC LIMIT $1",
            &[&i64::from(limit)],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(QuarantineRow {
                    device_id: r.get(0),
                    user_id: r.get(1),
                    person_id: r.get(2),
                    compartment: Compartment::parse(r.get::<_, &str>(3))?,
                    direction: r.get(4),
                    change_hash: r.get(5),
                    code: r.get(6),
                    reason: r.get(7),
                    summary: r.get(8),
                    at_ms: r.get(9),
                    reported_ms: r.get(10),
                    bytes: r.get(11),
                })
            })
            .collect())
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

#[cfg(test)]
#[path = "pg_test.rs"]
pub(crate) mod pg_test;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};

    use doorstep_core::record::Role;

    use super::*;
    use crate::admin;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::Storage;

    fn user(id: &str, name: &str, role: Role, team: &str) -> User {
        User {
            id: id.into(),
            display_name: name.into(),
            role,
            team: team.into(),
        }
    }

    fn is_storage_err<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(ServerError::Storage(_)))
    }

    fn change<'a>(
        seq: u64,
        person: &'a str,
        c: Compartment,
        hash: &'a [u8],
        bytes: &'a [u8],
        origin: &'a str,
    ) -> NewChange<'a> {
        NewChange {
            seq,
            person_id: person,
            compartment: c,
            hash,
            bytes,
            origin_device: origin,
            received_ms: 10,
        }
    }

    fn seqs(changes: &[StoredChange]) -> Vec<u64> {
        changes.iter().map(|c| c.seq).collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    /// Every `Tx` method against fixed expectations, on an empty store. Run for each backend so
    /// that they cannot drift apart.
    fn conformance(s: &Storage) {
        use Compartment::*;
        let conflict = || ServerError::Conflict("stop".into());
        assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 0);

        // Teams. A failed statement fails the whole write, and nothing of it is kept.
        s.write(|tx| tx.create_team("t1", "Team one")).unwrap();
        s.write(|tx| tx.create_team("t2", "Team two")).unwrap();
        assert!(is_storage_err(s.write(|tx| {
            tx.create_team("t3", "Team three")?;
            tx.create_team("t1", "again")
        })));
        assert_eq!(
            s.read(|tx| Ok((
                tx.team_exists("t1")?,
                tx.team_exists("t2")?,
                tx.team_exists("t3")?,
                tx.team_exists("x")?
            )))
            .unwrap(),
            (true, true, false, false)
        );

        // Users.
        let nurse = user("u1", "Ann Nurse", Role::DistrictNurse, "t1");
        let adviser = user("u2", "Bob Adviser", Role::AdviceWorker, "t1");
        s.write(|tx| {
            tx.create_user(&nurse)?;
            tx.create_user(&adviser)
        })
        .unwrap();
        assert!(is_storage_err(s.write(|tx| tx.create_user(&user(
            "u3",
            "No Team",
            Role::AdviceWorker,
            "nope"
        )))));
        assert!(is_storage_err(s.write(|tx| tx.create_user(&nurse))));
        assert_eq!(
            s.read(|tx| Ok((tx.user("u1")?, tx.user("u2")?, tx.user("u3")?)))
                .unwrap(),
            (Some(nurse.clone()), Some(adviser.clone()), None)
        );

        // Enrolment codes: one use each, only before they expire.
        s.write(|tx| {
            tx.add_code("h1", "u1", 1000)?;
            tx.add_code("h2", "u2", 1000)?;
            tx.add_code("h4", "u1", 1000)
        })
        .unwrap();
        assert!(is_storage_err(
            s.write(|tx| tx.add_code("h3", "nobody", 1000))
        ));
        assert!(is_storage_err(s.write(|tx| tx.add_code("h1", "u2", 1000))));
        assert_eq!(
            s.write(|tx| tx.take_code("h1", 999)).unwrap(),
            Some("u1".into())
        );
        assert_eq!(s.write(|tx| tx.take_code("h1", 999)).unwrap(), None);
        assert_eq!(s.write(|tx| tx.take_code("h1", 0)).unwrap(), None);
        assert_eq!(
            s.write(|tx| tx.take_code("h2", 1000)).unwrap(),
            None,
            "expired at 1000"
        );
        assert_eq!(
            s.write(|tx| tx.take_code("h2", 999)).unwrap(),
            Some("u2".into())
        );
        assert_eq!(s.write(|tx| tx.take_code("missing", 0)).unwrap(), None);
        let r = s.write(|tx| {
            assert_eq!(tx.take_code("h4", 0)?, Some("u1".into()));
            Err::<(), _>(conflict())
        });
        assert!(
            matches!(r, Err(ServerError::Conflict(_))),
            "the closure's own error comes back: {r:?}"
        );
        assert_eq!(
            s.write(|tx| tx.take_code("h4", 0)).unwrap(),
            Some("u1".into()),
            "a rolled-back take"
        );

        // Devices.
        s.write(|tx| {
            tx.add_device("d1", "u1", "tok1", 100)?;
            tx.add_device("d2", "u2", "tok2", 200)
        })
        .unwrap();
        assert!(
            is_storage_err(s.write(|tx| tx.add_device("d3", "u1", "tok1", 300))),
            "token reused"
        );
        assert!(
            is_storage_err(s.write(|tx| tx.add_device("d1", "u1", "tokX", 300))),
            "device id reused"
        );
        assert!(
            is_storage_err(s.write(|tx| tx.add_device("d4", "nobody", "tok4", 300))),
            "no such user"
        );
        assert_eq!(
            s.read(|tx| Ok((tx.device_by_token("tok1")?, tx.device_by_token("tokX")?)))
                .unwrap(),
            (
                Some(DeviceRow {
                    device_id: "d1".into(),
                    user: nurse.clone(),
                    revoked: false
                }),
                None
            )
        );
        assert_eq!(
            s.write(|tx| Ok((
                tx.revoke_device("d2", 300)?,
                tx.revoke_device("d2", 301)?,
                tx.revoke_device("x", 1)?
            )))
            .unwrap(),
            (true, false, false)
        );
        assert_eq!(
            s.read(|tx| tx.device_by_token("tok2")).unwrap(),
            Some(DeviceRow {
                device_id: "d2".into(),
                user: adviser.clone(),
                revoked: true
            })
        );
        s.write(|tx| {
            tx.touch_device("d1", 400)?;
            tx.touch_device("nope", 400)
        })
        .unwrap();
        assert_eq!(
            s.read(|tx| tx.devices()).unwrap(),
            vec![
                DeviceInfo {
                    device_id: "d1".into(),
                    user_id: "u1".into(),
                    enrolled_ms: 100,
                    revoked_ms: None,
                    last_sync_ms: Some(400)
                },
                DeviceInfo {
                    device_id: "d2".into(),
                    user_id: "u2".into(),
                    enrolled_ms: 200,
                    revoked_ms: Some(300),
                    last_sync_ms: None
                },
            ]
        );

        // Actors.
        assert_eq!(s.read(|tx| tx.actor_owner("a1")).unwrap(), None);
        s.write(|tx| tx.bind_actor("a1", "d1")).unwrap();
        assert_eq!(
            s.read(|tx| tx.actor_owner("a1")).unwrap(),
            Some("d1".into())
        );
        assert!(is_storage_err(s.write(|tx| tx.bind_actor("a1", "d2"))));

        // The sequence: a rolled-back transaction gives its numbers back.
        assert_eq!(
            s.write(|tx| Ok((tx.next_seq()?, tx.next_seq()?, tx.max_seq()?)))
                .unwrap(),
            (1, 2, 2)
        );
        assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 2);
        let r = s.write(|tx| {
            tx.next_seq()?;
            tx.next_seq()?;
            Err::<(), _>(conflict())
        });
        assert!(matches!(r, Err(ServerError::Conflict(_))));
        assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 2);

        // The log. Person ids whose byte order differs from a natural-language collation.
        let (h1, h2, h3, h4, h9) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32], [9u8; 32]);
        s.write(|tx| {
            assert_eq!(tx.next_seq()?, 3);
            tx.join("t1", "a-1", 3)?;
            assert_eq!(tx.next_seq()?, 4);
            tx.join("t1", "B-2", 4)?;
            assert_eq!(tx.next_seq()?, 5);
            assert!(tx.insert_change(&change(5, "a-1", Demographics, &h1, &[0, 255, 1], "d1"))?);
            assert_eq!(tx.next_seq()?, 6);
            assert!(tx.insert_change(&change(6, "B-2", Clinical, &h2, b"b2", "d1"))?);
            assert_eq!(tx.next_seq()?, 7);
            assert!(tx.insert_change(&change(7, "a-1", Demographics, &h3, &[3], "d1"))?);
            assert_eq!(tx.next_seq()?, 8);
            assert!(
                !tx.insert_change(&change(8, "a-1", Demographics, &h1, b"dup", "d2"))?,
                "same hash"
            );
            assert!(
                !tx.insert_change(&change(5, "zz", Advice, &h9, b"dup", "d2"))?,
                "same seq"
            );
            assert_eq!(tx.next_seq()?, 9);
            assert!(tx.insert_change(&change(9, "loner", Advice, &h4, b"l", "d2"))?);
            Ok(())
        })
        .unwrap();
        s.read(|tx| {
            assert_eq!(tx.max_seq()?, 9);
            assert!(tx.has_change("a-1", Demographics, &h1)?);
            assert!(!tx.has_change("a-1", Clinical, &h1)?);
            assert!(!tx.has_change("B-2", Demographics, &h1)?);
            assert!(!tx.has_change("zz", Advice, &h9)?);
            assert!(tx.person_known("a-1")?);
            assert!(tx.person_known("loner")?, "changes only");
            assert!(!tx.person_known("zz")?);
            let all = tx.doc_changes("a-1", Demographics, u64::MAX)?;
            assert_eq!(
                all,
                vec![
                    StoredChange {
                        seq: 5,
                        person_id: "a-1".into(),
                        compartment: Demographics,
                        bytes: vec![0, 255, 1],
                        origin_device: "d1".into()
                    },
                    StoredChange {
                        seq: 7,
                        person_id: "a-1".into(),
                        compartment: Demographics,
                        bytes: vec![3],
                        origin_device: "d1".into()
                    },
                ]
            );
            assert_eq!(seqs(&tx.doc_changes("a-1", Demographics, 6)?), vec![5]);
            assert_eq!(
                seqs(&tx.doc_changes("a-1", Demographics, 4)?),
                Vec::<u64>::new()
            );
            assert_eq!(
                seqs(&tx.doc_changes("a-1", Clinical, 9)?),
                Vec::<u64>::new()
            );
            assert_eq!(seqs(&tx.doc_changes("loner", Advice, 9)?), vec![9]);
            let team = tx.team_changes("t1", 0, 9)?;
            assert_eq!(seqs(&team), vec![5, 6, 7], "the loner is on no caseload");
            assert_eq!(team[1].compartment, Clinical);
            assert_eq!(team[1].bytes, b"b2");
            assert_eq!(seqs(&tx.team_changes("t1", 5, 6)?), vec![6]);
            assert_eq!(seqs(&tx.team_changes("t1", 0, u64::MAX)?), vec![5, 6, 7]);
            assert_eq!(seqs(&tx.team_changes("t1", 7, 9)?), Vec::<u64>::new());
            assert_eq!(seqs(&tx.team_changes("t2", 0, 9)?), Vec::<u64>::new());
            assert_eq!(
                tx.members("t1")?,
                vec![("B-2".into(), 4), ("a-1".into(), 3)],
                "byte order"
            );
            assert!(tx.was_member("t1", "a-1")?);
            assert!(!tx.was_member("t2", "a-1")?);
            assert_eq!(tx.current_team("a-1")?, Some("t1".into()));
            assert_eq!(tx.current_team("loner")?, None);
            Ok(())
        })
        .unwrap();

        // Caseload moves.
        s.write(|tx| {
            assert_eq!(tx.next_seq()?, 10);
            assert!(tx.leave("t1", "a-1", 10)?);
            assert!(!tx.leave("t1", "a-1", 10)?);
            assert!(!tx.leave("t2", "a-1", 10)?);
            assert_eq!(tx.next_seq()?, 11);
            tx.join("t2", "a-1", 11)?;
            assert_eq!(tx.next_seq()?, 12);
            tx.join("t1", "a_3", 12)
        })
        .unwrap();
        s.read(|tx| {
            assert_eq!(
                tx.members("t1")?,
                vec![("B-2".into(), 4), ("a_3".into(), 12)]
            );
            assert_eq!(tx.members("t2")?, vec![("a-1".into(), 11)]);
            assert!(tx.was_member("t1", "a-1")?, "history counts");
            assert_eq!(tx.current_team("a-1")?, Some("t2".into()));
            assert_eq!(seqs(&tx.team_changes("t1", 0, 12)?), vec![6]);
            assert_eq!(seqs(&tx.team_changes("t2", 0, 12)?), vec![5, 7]);
            assert_eq!(tx.left_between("t1", 0, 12)?, strs(&["a-1"]));
            assert_eq!(tx.left_between("t1", 9, 10)?, strs(&["a-1"]));
            assert_eq!(tx.left_between("t1", 10, 12)?, Vec::<String>::new());
            assert_eq!(tx.left_between("t2", 0, 12)?, Vec::<String>::new());
            assert!(tx.person_known("a_3")?, "caseload only");
            Ok(())
        })
        .unwrap();
        s.write(|tx| {
            assert_eq!(tx.next_seq()?, 13);
            assert!(tx.leave("t2", "a-1", 13)?);
            assert_eq!(tx.next_seq()?, 14);
            tx.join("t1", "a-1", 14)?;
            assert_eq!(tx.next_seq()?, 15);
            assert!(tx.leave("t1", "a-1", 15)?);
            assert_eq!(tx.next_seq()?, 16);
            assert!(tx.leave("t1", "B-2", 16)?);
            Ok(())
        })
        .unwrap();
        s.read(|tx| {
            assert_eq!(
                sorted(tx.left_between("t1", 0, 16)?),
                strs(&["B-2", "a-1"]),
                "each person once"
            );
            assert_eq!(tx.left_between("t1", 15, 16)?, strs(&["B-2"]));
            assert_eq!(tx.members("t1")?, vec![("a_3".into(), 12)]);
            assert_eq!(tx.current_team("a-1")?, None);
            Ok(())
        })
        .unwrap();

        // Consent.
        assert_eq!(
            s.read(|tx| Ok((tx.consent("a_3")?, tx.consents("t1")?)))
                .unwrap(),
            (None, vec![])
        );
        s.write(|tx| {
            assert_eq!(tx.next_seq()?, 17);
            tx.set_consent("a_3", true, 17)?;
            tx.set_consent("a-1", true, 17)
        })
        .unwrap();
        s.read(|tx| {
            assert_eq!(tx.consent("a_3")?, Some((true, 17)));
            assert_eq!(tx.consent("a-1")?, Some((true, 17)));
            assert_eq!(
                tx.consents("t1")?,
                vec![("a_3".into(), true, 17)],
                "current members only"
            );
            assert_eq!(tx.consents("t2")?, vec![]);
            Ok(())
        })
        .unwrap();
        s.write(|tx| {
            assert_eq!(tx.next_seq()?, 18);
            tx.set_consent("a_3", false, 18)
        })
        .unwrap();
        assert_eq!(
            s.read(|tx| Ok((tx.consent("a_3")?, tx.consents("t1")?)))
                .unwrap(),
            (Some((false, 18)), vec![("a_3".into(), false, 18)])
        );

        // Purge reports.
        s.write(|tx| {
            tx.record_purges("d1", &strs(&["a-1", "B-2"]), 500)?;
            tx.record_purges("d1", &[], 500)
        })
        .unwrap();

        // A read keeps nothing, and returns the closure's own error unchanged.
        let _ = s.read(|tx| tx.create_team("t9", "in a read"));
        assert!(!s.read(|tx| tx.team_exists("t9")).unwrap());
        let r = s.read(|_| Err::<(), _>(ServerError::NotFound("x".into())));
        assert!(matches!(r, Err(ServerError::NotFound(_))));
        assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 18);
    }

    #[test]
    fn sqlite_meets_the_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        conformance(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
    }

    #[test]
    fn postgres_meets_the_storage_contract() {
        let (_server, url) = pg_test::fresh_database();
        let s = Storage::Postgres(PgStorage::open(&url).unwrap());
        assert!(
            s.describe().starts_with("PostgreSQL at 127.0.0.1:"),
            "{}",
            s.describe()
        );
        conformance(&s);
    }

    /// Writers on two instances (two server processes) allocate numbers and store changes, some
    /// rolling back, while a reader on a third follows with a cursor as a device does: every
    /// snapshot's committed numbers must be exactly 1..=max_seq, so the cursor never skips one.
    #[test]
    fn postgres_commits_sequence_numbers_in_order_under_concurrency() {
        const WRITERS: usize = 6;
        const TXS: usize = 40;
        let (_server, url) = pg_test::fresh_database();
        let people = ["p0", "p1", "p2", "p3"];
        let setup = PgStorage::open(&url).unwrap();
        let joined: BTreeSet<u64> = setup
            .write(|tx| {
                tx.create_team("t", "Team")?;
                people
                    .iter()
                    .map(|p| {
                        let seq = tx.next_seq()?;
                        tx.join("t", p, seq)?;
                        Ok(seq)
                    })
                    .collect()
            })
            .unwrap();
        let instances = [
            Arc::new(PgStorage::open(&url).unwrap()),
            Arc::new(PgStorage::open(&url).unwrap()),
        ];
        let reader = PgStorage::open(&url).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));

        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let s = instances[w % 2].clone();
                let committed = committed.clone();
                std::thread::spawn(move || {
                    for i in 0..TXS {
                        let n = 1 + (w + i) % 3;
                        let abort = i % 7 == 3;
                        let r = s.write(|tx| {
                            for j in 0..n {
                                let seq = tx.next_seq()?;
                                // Widen the window between taking a number and committing it.
                                std::thread::sleep(Duration::from_micros(
                                    ((w * 7 + i * 3 + j) % 5) as u64 * 300,
                                ));
                                let hash = [w as u8, i as u8, j as u8, 0xAB];
                                let person = people[(w + j) % people.len()];
                                let bytes = format!("w{w} i{i} j{j}").into_bytes();
                                assert!(tx.insert_change(&change(
                                    seq,
                                    person,
                                    Compartment::Clinical,
                                    &hash,
                                    &bytes,
                                    "d"
                                ))?);
                            }
                            if abort {
                                return Err(ServerError::Conflict("abort".into()));
                            }
                            Ok(())
                        });
                        match r {
                            Ok(()) => {
                                committed.fetch_add(n as u64, Ordering::SeqCst);
                            }
                            Err(ServerError::Conflict(_)) if abort => {}
                            Err(e) => panic!("writer {w} tx {i}: {e}"),
                        }
                    }
                })
            })
            .collect();

        let follow = {
            let done = done.clone();
            let joined = joined.clone();
            std::thread::spawn(move || {
                let mut cursor = 0u64;
                let mut snapshots = 0u32;
                let mut last_max = 0u64;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let (now, new, all) = reader
                        .read(|tx| {
                            let now = tx.max_seq()?;
                            Ok((
                                now,
                                tx.team_changes("t", cursor, now)?,
                                tx.team_changes("t", 0, u64::MAX)?,
                            ))
                        })
                        .unwrap();
                    let expected: Vec<u64> =
                        (cursor + 1..=now).filter(|s| !joined.contains(s)).collect();
                    assert_eq!(
                        seqs(&new),
                        expected,
                        "changes after cursor {cursor} up to {now}"
                    );
                    let everything: Vec<u64> = (1..=now).filter(|s| !joined.contains(s)).collect();
                    assert_eq!(
                        seqs(&all),
                        everything,
                        "the snapshot at max_seq {now} is not a gap-free prefix"
                    );
                    assert!(
                        now >= last_max,
                        "max_seq went back from {last_max} to {now}"
                    );
                    last_max = now;
                    cursor = now;
                    snapshots += 1;
                    if finished {
                        return (cursor, snapshots);
                    }
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let (cursor, snapshots) = follow.join().unwrap();
        let total = committed.load(Ordering::SeqCst);
        assert_eq!(
            cursor,
            people.len() as u64 + total,
            "every committed change, and nothing else, numbered"
        );
        assert!(
            snapshots > 20,
            "the reader should have raced the writers ({snapshots} snapshots)"
        );
    }

    /// Two instances stand in for two server processes on one database: each sees what the
    /// other wrote, an enrolment code is taken once between them, and check-then-act writes
    /// (a person joins a caseload only if on none) are serialised across them.
    #[test]
    fn postgres_instances_share_one_database() {
        let (_server, url) = pg_test::fresh_database();
        let a = Arc::new(Storage::Postgres(PgStorage::open(&url).unwrap()));
        let b = Arc::new(Storage::Postgres(PgStorage::open(&url).unwrap()));
        admin::create_team(&a, "t1", "Team one").unwrap();
        admin::create_team(&b, "t2", "Team two").unwrap();
        assert!(matches!(
            admin::create_team(&b, "t1", "again"),
            Err(ServerError::Conflict(_))
        ));
        admin::create_user(&b, "u1", "Ann Nurse", Role::DistrictNurse, "t1").unwrap();
        let code = admin::issue_code(&a, "u1").unwrap();
        let code_hash = crate::auth::hash(&crate::auth::normalise_code(&code));

        // Eight enrolments race for one code, alternating between the instances.
        let gate = Arc::new(Barrier::new(8));
        let takers: Vec<_> = (0..8)
            .map(|i| {
                let s = if i % 2 == 0 { a.clone() } else { b.clone() };
                let (gate, code_hash) = (gate.clone(), code_hash.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    s.write(|tx| {
                        let user = tx.take_code(&code_hash, admin::now_ms())?;
                        if user.is_some() {
                            tx.add_device(
                                &format!("d{i}"),
                                "u1",
                                &format!("tok{i}"),
                                admin::now_ms(),
                            )?;
                        }
                        Ok(user)
                    })
                    .unwrap()
                })
            })
            .collect();
        let winners: Vec<_> = takers
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(winners, vec!["u1".to_string()], "exactly one enrolment");
        let devices = admin::devices(&a).unwrap();
        assert_eq!(devices.len(), 1);
        let token = format!("tok{}", &devices[0].device_id[1..]);
        assert_eq!(
            b.read(|tx| tx.device_by_token(&token))
                .unwrap()
                .unwrap()
                .user
                .id,
            "u1"
        );

        // A change stored through one is read through the other.
        let seq = b
            .write(|tx| {
                let seq = tx.next_seq()?;
                tx.join("t1", "p1", seq)?;
                let seq = tx.next_seq()?;
                tx.insert_change(&change(
                    seq,
                    "p1",
                    Compartment::Clinical,
                    &[7; 32],
                    b"visit",
                    &devices[0].device_id,
                ))?;
                Ok(seq)
            })
            .unwrap();
        a.read(|tx| {
            assert_eq!(tx.max_seq()?, seq);
            assert_eq!(seqs(&tx.team_changes("t1", 0, seq)?), vec![seq]);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            admin::move_person(&a, "p1", "t2").unwrap(),
            Some("t1".into())
        );
        assert_eq!(
            b.read(|tx| tx.current_team("p1")).unwrap(),
            Some("t2".into())
        );
        admin::revoke_device(&b, &devices[0].device_id).unwrap();
        assert!(
            a.read(|tx| tx.device_by_token(&token))
                .unwrap()
                .unwrap()
                .revoked
        );

        // Check, pause, act: with writes serialised only one of the racers acts.
        let gate = Arc::new(Barrier::new(8));
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let s = if i % 2 == 0 { a.clone() } else { b.clone() };
                let gate = gate.clone();
                std::thread::spawn(move || {
                    gate.wait();
                    s.write(|tx| {
                        if tx.current_team("p2")?.is_none() {
                            std::thread::sleep(Duration::from_millis(20));
                            let seq = tx.next_seq()?;
                            tx.join(if i % 2 == 0 { "t1" } else { "t2" }, "p2", seq)?;
                        }
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for r in racers {
            r.join().unwrap();
        }
        let on = a
            .read(|tx| Ok((tx.members("t1")?, tx.members("t2")?)))
            .unwrap();
        let count =
            on.0.iter()
                .chain(on.1.iter())
                .filter(|(p, _)| p == "p2")
                .count();
        assert_eq!(count, 1, "p2 joined once: {on:?}");
    }

    /// Several processes starting at once on an empty database all create (or find) the schema;
    /// opening again later keeps the data.
    #[test]
    fn postgres_open_is_idempotent_and_safe_when_concurrent() {
        let (_server, url) = pg_test::fresh_database();
        let gate = Arc::new(Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let (gate, url) = (gate.clone(), url.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    PgStorage::open(&url)
                })
            })
            .collect();
        let opened: Vec<PgStorage> = openers
            .into_iter()
            .map(|o| o.join().unwrap().unwrap())
            .collect();
        for s in &opened {
            assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 0);
        }
        assert_eq!(opened[0].write(|tx| tx.next_seq()).unwrap(), 1);
        let again = PgStorage::open(&url).unwrap();
        assert_eq!(again.read(|tx| tx.max_seq()).unwrap(), 1);
        assert_eq!(opened[5].write(|tx| tx.next_seq()).unwrap(), 2);
    }

    #[test]
    fn postgres_is_refused_off_this_machine_and_on_bad_urls() {
        for url in [
            "postgres://doorstep@db.example.com/doorstep",
            "postgres://doorstep@10.0.0.5:5432/doorstep",
            "host=192.168.1.1 user=doorstep",
            "postgres://doorstep@127.0.0.1,db.example.com/doorstep",
            "host=localhost hostaddr=10.1.2.3 user=doorstep",
        ] {
            match PgStorage::open(url) {
                Err(ServerError::Storage(m)) => {
                    assert!(m.contains("on this machine"), "{url}: {m}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        for url in [
            "postgres://doorstep@127.0.0.1:5432/doorstep",
            "postgres://doorstep@localhost/doorstep",
            "postgres://doorstep@[::1]:5432/doorstep",
            "host=/var/run/postgresql user=doorstep dbname=doorstep",
        ] {
            check_local(&Config::from_str(url).unwrap()).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        assert!(matches!(
            PgStorage::open("postgres://[bad"),
            Err(ServerError::Storage(_))
        ));
        assert!(
            matches!(
                PgStorage::open("user=doorstep"),
                Err(ServerError::Storage(_))
            ),
            "no host"
        );
        match PgStorage::open("postgres://doorstep@127.0.0.1:1/doorstep") {
            Err(ServerError::Storage(m)) => assert!(
                m.contains("cannot connect to PostgreSQL at 127.0.0.1:1/doorstep: "),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
