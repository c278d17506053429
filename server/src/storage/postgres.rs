//! PostgreSQL backend: several server processes (behind a load balancer) share one database and
//! keep no state of their own. Sync `postgres` client, `r2d2` pool, TLS by rustls
//! (`pg_tls.rs`): a database on this machine (loopback or a Unix socket) may be reached in the
//! clear; any other host only with `sslmode=require` in the URL, so the connection is encrypted
//! and the server's certificate checked.
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
use postgres::config::SslMode;
use postgres::types::ToSql;
use postgres::{Config, IsolationLevel, Row, Statement, Transaction};
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

use super::{
    parse_role, role_str, routes_of, schema, ChangeMeta, CodeInfo, DeviceInfo, DeviceRow,
    EscalationRoutes, FhirReadRow, HubSession, IngestRefusal, IntegrationRow, NewChange,
    NewReading, QuarantineRow, ReadingInsert, ReferralRow, SnapshotInfo, StoredChange,
    StoredReading, TeamProfile, Tx,
};
use crate::error::{Result, ServerError};

/// Connections per server process. Several processes share the database's `max_connections`
/// (100 by default): four processes use at most 64.
pub const POOL_SIZE: u32 = 16;

/// Run at the start of every write transaction: bound how long it waits for the writer lock (as
/// SQLite's busy_timeout does) and how long a stalled process may sit on it, then take it.
const WRITE_BEGIN: &str = "SET LOCAL lock_timeout = '10s';
    SET LOCAL idle_in_transaction_session_timeout = '60s';
    SELECT value FROM counters WHERE name = 'seq' FOR UPDATE;";

type Manager = PostgresConnectionManager<super::pg_tls::MakeRustlsConnect>;

/// How to reach the database beyond its URL.
#[derive(Debug, Default, Clone, Copy)]
pub struct PgOptions<'a> {
    /// The password (never in the URL).
    pub password: Option<&'a str>,
    /// PEM file of the CA that signed the database server's certificate (else the system's
    /// trust store).
    pub ca_file: Option<&'a std::path::Path>,
}

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

/// Refuse a host off this machine unless TLS is required (`sslmode=require`).
fn check_local(config: &Config) -> Result<()> {
    let tls_required = config.get_ssl_mode() == SslMode::Require;
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
        if !local && !tls_required {
            return Err(ServerError::Storage(
                "the PostgreSQL server must be on this machine (127.0.0.1, ::1, localhost or a Unix socket) \
                 unless the connection is encrypted: add sslmode=require to the URL (and --postgres-ca FILE \
                 if its certificate comes from a private CA)"
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
        Self::open_with(url, &PgOptions::default())
    }

    /// As [`PgStorage::open_with`], with only a password.
    pub fn open_with_password(url: &str, password: Option<&str>) -> Result<PgStorage> {
        Self::open_with(
            url,
            &PgOptions {
                password,
                ca_file: None,
            },
        )
    }

    /// As [`PgStorage::open`], with the password given apart from the URL (from the environment
    /// or a file) and the CA that signed the database's certificate. A URL that carries a
    /// password itself is refused: it would show in process lists, shell history and service
    /// files.
    pub fn open_with(url: &str, options: &PgOptions<'_>) -> Result<PgStorage> {
        let password = options.password;
        let mut config = Config::from_str(url)
            .map_err(|e| ServerError::Storage(format!("the PostgreSQL URL is not valid: {e}")))?;
        if config.get_password().is_some() {
            return Err(ServerError::Storage(
                "the PostgreSQL URL carries a password; remove it and give the password in the \
                 DOORSTEP_PG_PASSWORD environment variable or with --postgres-password-file"
                    .into(),
            ));
        }
        if let Some(p) = password {
            config.password(p);
        }
        check_local(&config)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("doorstep-server");
        }
        let target = describe_target(&config);
        let tls = super::pg_tls::MakeRustlsConnect::new(options.ca_file)?;
        // One connection first, to fail at once with the cause (the pool would retry for its
        // timeout and then report only "error connecting to server").
        let mut client = config.connect(tls.clone()).map_err(|e| {
            ServerError::Storage(format!(
                "cannot connect to PostgreSQL at {target}: {}",
                with_causes(&e)
            ))
        })?;
        schema::migrate_postgres(&mut client, schema::MIGRATIONS, &target)?;
        drop(client);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(15))
            .build(PostgresConnectionManager::new(config, tls))
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

fn device_row(r: Option<Row>) -> Result<Option<DeviceRow>> {
    let Some(r) = r else {
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
    let retired: Option<i64> = r.try_get(6)?;
    let pending: bool = r.try_get(7)?;
    let enrolled_ms: i64 = r.try_get(8)?;
    Ok(parse_role(&role).map(|role| DeviceRow {
        device_id,
        user: User {
            id,
            display_name,
            role,
            team,
        },
        revoked: revoked.is_some(),
        retired: retired.is_some(),
        pending_token: pending,
        enrolled_ms,
    }))
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
                hash: r.try_get(5)?,
                clock_note_ms: r.try_get(6)?,
            })
        })
        .collect()
}

fn metas(rows: Vec<Row>) -> Result<Vec<ChangeMeta>> {
    rows.into_iter()
        .map(|r| {
            let len: i64 = r.try_get(3)?;
            Ok(ChangeMeta {
                seq: seq_value(r.try_get(0)?),
                person_id: r.try_get(1)?,
                compartment: comp(r.try_get(2)?)?,
                len: len.max(0) as u64,
                origin_device: r.try_get(4)?,
                hash: r.try_get(5)?,
                clock_note_ms: r.try_get(6)?,
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
             WHERE code_hash = $1 AND used_ms IS NULL AND cancelled_ms IS NULL AND expires_ms > $2
               AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = enrolment_codes.user_id
                               AND u.disabled_ms IS NOT NULL)
             RETURNING user_id",
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
        let r = self.query_first(
            "SELECT d.device_id, u.user_id, u.display_name, u.role, u.team_id, d.revoked_ms,
                    d.retired_ms, COALESCE(d.pending_token_hash = $1, false), d.enrolled_ms
             FROM devices d JOIN users u ON u.user_id = d.user_id
             WHERE d.token_hash = $1 OR d.pending_token_hash = $1",
            &[&token_hash],
        )?;
        device_row(r)
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
            "SELECT device_id, user_id, enrolled_ms, revoked_ms, last_sync_ms, retired_ms FROM devices
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
                retired_ms: r.try_get(5)?,
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
            "INSERT INTO changes (seq, person_id, compartment, hash, bytes, origin_device, received_ms,
                 actor, actor_seq, clock_note_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &seq_param(c.seq),
                &c.person_id,
                &c.compartment.as_str(),
                &c.hash,
                &c.bytes,
                &c.origin_device,
                &c.received_ms,
                &c.actor,
                &c.actor_seq.map(|n| n as i64),
                &c.clock_note_ms,
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
            "SELECT seq, person_id, compartment, bytes, origin_device, hash, clock_note_ms FROM changes
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
            "SELECT seq, person_id, compartment, bytes, origin_device, hash, clock_note_ms FROM changes
             WHERE person_id = $1 AND compartment = $2 AND seq > $3 ORDER BY seq",
            &[&person_id, &c.as_str(), &seq_param(after)],
        )?;
        stored(rows)
    }

    fn team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<StoredChange>> {
        let rows = self.query(
            // Driven by the team's members, each a range seek on (person_id, seq): the cost
            // follows the team's own changes, not every team's changes in the range.
            "SELECT c.seq, c.person_id, c.compartment, c.bytes, c.origin_device, c.hash, c.clock_note_ms
             FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = $1 AND m.left_seq IS NULL AND c.seq > $2 AND c.seq <= $3
             ORDER BY c.seq",
            &[&team_id, &seq_param(after), &seq_param(up_to)],
        )?;
        stored(rows)
    }

    fn team_change_meta(
        &mut self,
        team_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<ChangeMeta>> {
        let rows = self.query(
            "SELECT c.seq, c.person_id, c.compartment, octet_length(c.bytes)::BIGINT, c.origin_device,
                    c.hash, c.clock_note_ms
             FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = $1 AND m.left_seq IS NULL AND c.seq > $2 AND c.seq <= $3
             ORDER BY c.seq",
            &[&team_id, &seq_param(after), &seq_param(up_to)],
        )?;
        metas(rows)
    }

    fn doc_change_meta(
        &mut self,
        person_id: &str,
        c: Compartment,
        up_to: u64,
    ) -> Result<Vec<ChangeMeta>> {
        let rows = self.query(
            "SELECT seq, person_id, compartment, octet_length(bytes)::BIGINT, origin_device, hash,
                    clock_note_ms
             FROM changes WHERE person_id = $1 AND compartment = $2 AND seq <= $3 ORDER BY seq",
            &[&person_id, &c.as_str(), &seq_param(up_to)],
        )?;
        metas(rows)
    }

    fn change_bytes(&mut self, seqs: &[u64]) -> Result<Vec<(u64, Vec<u8>)>> {
        let wanted: Vec<i64> = seqs.iter().map(|s| seq_param(*s)).collect();
        let rows = self.query(
            "SELECT seq, bytes FROM changes WHERE seq = ANY($1)",
            &[&wanted],
        )?;
        rows.into_iter()
            .map(|r| Ok((seq_value(r.try_get(0)?), r.try_get(1)?)))
            .collect()
    }

    fn count_team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<u64> {
        let r = self.query_one(
            "SELECT COUNT(*) FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = $1 AND m.left_seq IS NULL AND c.seq > $2 AND c.seq <= $3",
            &[&team_id, &seq_param(after), &seq_param(up_to)],
        )?;
        let n: i64 = r.try_get(0)?;
        Ok(n.max(0) as u64)
    }

    fn members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>> {
        // COLLATE "C": byte order, as SQLite's, whatever the database's locale.
        self.query(
            "SELECT person_id, joined_seq FROM memberships WHERE team_id = $1 AND left_seq IS NULL
               AND NOT pending ORDER BY person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, seq_value(r.try_get(1)?))))
        .collect()
    }

    fn current_people(&mut self) -> Result<Vec<String>> {
        self.query(
            "SELECT DISTINCT person_id COLLATE \"C\" FROM memberships WHERE left_seq IS NULL
               AND NOT pending ORDER BY 1",
            &[],
        )?
        .into_iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn was_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = $1 AND person_id = $2 AND NOT pending)",
            &[&team_id, &person_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn ever_members(&mut self, team_id: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT person_id FROM memberships WHERE team_id = $1 AND NOT pending
             GROUP BY person_id ORDER BY person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .into_iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn teams_of(&mut self, person_id: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT team_id FROM memberships WHERE person_id = $1 AND left_seq IS NULL AND NOT pending
             ORDER BY team_id COLLATE \"C\"",
            &[&person_id],
        )?
        .into_iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn is_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = $1 AND person_id = $2
               AND left_seq IS NULL AND NOT pending)",
            &[&team_id, &person_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn pending_members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>> {
        self.query(
            "SELECT person_id, joined_seq FROM memberships WHERE team_id = $1 AND left_seq IS NULL
               AND pending ORDER BY person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, seq_value(r.try_get(1)?))))
        .collect()
    }

    fn is_pending_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = $1 AND person_id = $2
               AND left_seq IS NULL AND pending)",
            &[&team_id, &person_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn member_shares(&mut self, team_id: &str) -> Result<Vec<(String, String)>> {
        self.query(
            "SELECT person_id, shares FROM memberships WHERE team_id = $1 AND left_seq IS NULL
               AND NOT pending AND shares IS NOT NULL ORDER BY person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn join_pending(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<()> {
        self.execute(
            "INSERT INTO memberships (team_id, person_id, joined_seq, pending) VALUES ($1, $2, $3, TRUE)",
            &[&team_id, &person_id, &seq_param(seq)],
        )?;
        Ok(())
    }

    fn accept_pending(
        &mut self,
        team_id: &str,
        person_id: &str,
        seq: u64,
        shares: &str,
    ) -> Result<bool> {
        let n = self.execute(
            "UPDATE memberships SET pending = FALSE, joined_seq = $3, shares = $4
             WHERE team_id = $1 AND person_id = $2 AND left_seq IS NULL AND pending",
            &[&team_id, &person_id, &seq_param(seq), &shares],
        )?;
        Ok(n > 0)
    }

    fn insert_referral(&mut self, r: &ReferralRow) -> Result<()> {
        self.execute(
            "INSERT INTO referrals (referral_id, person_id, from_team, to_team, shares, status, raised_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &r.referral_id,
                &r.person_id,
                &r.from_team,
                &r.to_team,
                &r.shares,
                &r.status,
                &seq_param(r.raised_seq),
            ],
        )?;
        Ok(())
    }

    fn set_identity_keys(&mut self, person_id: &str, keys: &[(String, String)]) -> Result<()> {
        self.execute(
            "DELETE FROM identity_keys WHERE person_id = $1",
            &[&person_id],
        )?;
        for (kind, key) in keys {
            self.execute(
                "INSERT INTO identity_keys (kind, key, person_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[kind, key, &person_id],
            )?;
        }
        Ok(())
    }

    fn people_with_identity(&mut self, kind: &str, key: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT person_id FROM identity_keys WHERE kind = $1 AND key = $2
             ORDER BY person_id COLLATE \"C\"",
            &[&kind, &key],
        )?
        .into_iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn referral(&mut self, referral_id: &str) -> Result<Option<ReferralRow>> {
        let Some(r) = self.query_first(
            "SELECT referral_id, person_id, from_team, to_team, shares, status, raised_seq,
                    answered_seq, answered_by, answered_ms FROM referrals WHERE referral_id = $1",
            &[&referral_id],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(ReferralRow {
            referral_id: r.try_get(0)?,
            person_id: r.try_get(1)?,
            from_team: r.try_get(2)?,
            to_team: r.try_get(3)?,
            shares: r.try_get(4)?,
            status: r.try_get(5)?,
            raised_seq: seq_value(r.try_get(6)?),
            answered_seq: r.try_get::<_, Option<i64>>(7)?.map(seq_value),
            answered_by: r.try_get(8)?,
            answered_ms: r.try_get(9)?,
        }))
    }

    fn answer_referral(
        &mut self,
        referral_id: &str,
        status: &str,
        seq: u64,
        by: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.execute(
            "UPDATE referrals SET status = $2, answered_seq = $3, answered_by = $4, answered_ms = $5
             WHERE referral_id = $1",
            &[&referral_id, &status, &seq_param(seq), &by, &at_ms],
        )?;
        Ok(())
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

    fn device_by_id(&mut self, device_id: &str) -> Result<Option<DeviceRow>> {
        let r = self.query_first(
            "SELECT d.device_id, u.user_id, u.display_name, u.role, u.team_id, d.revoked_ms,
                    d.retired_ms, false, d.enrolled_ms
             FROM devices d JOIN users u ON u.user_id = d.user_id WHERE d.device_id = $1",
            &[&device_id],
        )?;
        device_row(r)
    }

    fn retire_device(&mut self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.execute(
            "UPDATE devices SET retired_ms = $2
             WHERE device_id = $1 AND revoked_ms IS NULL AND retired_ms IS NULL",
            &[&device_id, &now_ms],
        )?;
        Ok(n == 1)
    }

    fn touch_devices(&mut self, seen: &[(String, i64)]) -> Result<()> {
        for (device_id, ms) in seen {
            self.execute(
                "UPDATE devices SET last_sync_ms = GREATEST(COALESCE(last_sync_ms, 0), $2)
                 WHERE device_id = $1",
                &[device_id, ms],
            )?;
        }
        Ok(())
    }

    fn codes(&mut self) -> Result<Vec<CodeInfo>> {
        self.query(
            "SELECT substr(code_hash, 1, 12), user_id, expires_ms, used_ms, cancelled_ms
             FROM enrolment_codes ORDER BY expires_ms DESC, code_hash COLLATE \"C\"",
            &[],
        )?
        .into_iter()
        .map(|r| {
            Ok(CodeInfo {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                expires_ms: r.try_get(2)?,
                used_ms: r.try_get(3)?,
                cancelled_ms: r.try_get(4)?,
            })
        })
        .collect()
    }

    fn cancel_codes(
        &mut self,
        id_prefix: Option<&str>,
        user_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64> {
        let prefix = id_prefix.map(|p| format!("{}%", p.to_ascii_lowercase()));
        self.execute(
            "UPDATE enrolment_codes SET cancelled_ms = $3
             WHERE used_ms IS NULL AND cancelled_ms IS NULL
               AND ($1::text IS NULL OR code_hash LIKE $1) AND ($2::text IS NULL OR user_id = $2)
               AND ($1::text IS NOT NULL OR $2::text IS NOT NULL)",
            &[&prefix, &user_id, &now_ms],
        )
    }

    fn expire_codes(&mut self, user_id: Option<&str>, now_ms: i64) -> Result<u64> {
        self.execute(
            "UPDATE enrolment_codes SET expires_ms = $2
             WHERE used_ms IS NULL AND cancelled_ms IS NULL AND expires_ms > $2
               AND ($1::text IS NULL OR user_id = $1)",
            &[&user_id, &now_ms],
        )
    }

    fn disable_user(&mut self, user_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.execute(
            "UPDATE users SET disabled_ms = $2 WHERE user_id = $1 AND disabled_ms IS NULL",
            &[&user_id, &now_ms],
        )?;
        Ok(n == 1)
    }

    fn user_disabled(&mut self, user_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM users WHERE user_id = $1 AND disabled_ms IS NOT NULL)",
            &[&user_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn user_devices(&mut self, user_id: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT device_id FROM devices WHERE user_id = $1
             ORDER BY enrolled_ms, device_id COLLATE \"C\"",
            &[&user_id],
        )?
        .into_iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn request_rotation(&mut self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.execute(
            "UPDATE devices SET rotate_requested_ms = $2 WHERE device_id = $1 AND revoked_ms IS NULL",
            &[&device_id, &now_ms],
        )?;
        Ok(n == 1)
    }

    fn rotation_requested(&mut self, device_id: &str) -> Result<bool> {
        let r = self.query_one(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE device_id = $1 AND rotate_requested_ms IS NOT NULL)",
            &[&device_id],
        )?;
        Ok(r.try_get(0)?)
    }

    fn set_pending_token(&mut self, device_id: &str, token_hash: &str) -> Result<bool> {
        let n = self.execute(
            "UPDATE devices SET pending_token_hash = $2
             WHERE device_id = $1 AND revoked_ms IS NULL",
            &[&device_id, &token_hash],
        )?;
        Ok(n == 1)
    }

    fn promote_pending_token(&mut self, device_id: &str) -> Result<()> {
        self.execute(
            "UPDATE devices SET token_hash = pending_token_hash, pending_token_hash = NULL,
                 rotate_requested_ms = NULL
             WHERE device_id = $1 AND pending_token_hash IS NOT NULL",
            &[&device_id],
        )?;
        Ok(())
    }

    fn bump_counter(&mut self, subject: &str, window_start: i64, by: u64) -> Result<u64> {
        let by = i64::try_from(by).unwrap_or(i64::MAX);
        let r = self.query_one(
            "INSERT INTO rate_counters (subject, window_start, count) VALUES ($1, $2, $3)
             ON CONFLICT (subject, window_start)
             DO UPDATE SET count = rate_counters.count + excluded.count
             RETURNING count",
            &[&subject, &window_start, &by],
        )?;
        let v: i64 = r.try_get(0)?;
        Ok(v.max(0) as u64)
    }

    fn counter(&mut self, subject: &str, window_start: i64) -> Result<u64> {
        let v: Option<i64> = match self.query_first(
            "SELECT count FROM rate_counters WHERE subject = $1 AND window_start = $2",
            &[&subject, &window_start],
        )? {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        };
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    fn prune_counters(&mut self, before: i64) -> Result<()> {
        self.execute(
            "DELETE FROM rate_counters WHERE window_start < $1",
            &[&before],
        )?;
        Ok(())
    }

    fn doc_snapshot(&mut self, person_id: &str, c: Compartment) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(
            match self.query_first(
                "SELECT snapshot, up_to_seq FROM documents WHERE person_id = $1 AND compartment = $2",
                &[&person_id, &c.as_str()],
            )? {
                Some(r) => Some((r.try_get(0)?, seq_value(r.try_get(1)?))),
                None => None,
            },
        )
    }

    fn put_doc_snapshot(
        &mut self,
        person_id: &str,
        c: Compartment,
        snapshot: &[u8],
        up_to_seq: u64,
    ) -> Result<bool> {
        let n = self.execute(
            "INSERT INTO documents (person_id, compartment, snapshot, up_to_seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (person_id, compartment) DO UPDATE
                 SET snapshot = excluded.snapshot, up_to_seq = excluded.up_to_seq
                 WHERE documents.up_to_seq < excluded.up_to_seq",
            &[&person_id, &c.as_str(), &snapshot, &seq_param(up_to_seq)],
        )?;
        Ok(n > 0)
    }

    fn team_snapshot_info(&mut self, team_id: &str) -> Result<Vec<SnapshotInfo>> {
        let rows = self.query(
            "SELECT d.person_id, d.compartment, d.up_to_seq, octet_length(d.snapshot)::BIGINT
             FROM memberships m JOIN documents d ON d.person_id = m.person_id
             WHERE m.team_id = $1 AND m.left_seq IS NULL",
            &[&team_id],
        )?;
        rows.into_iter()
            .map(|r| {
                let c: String = r.try_get(1)?;
                let len: i64 = r.try_get(3)?;
                Ok(SnapshotInfo {
                    person_id: r.try_get(0)?,
                    compartment: comp(&c)?,
                    up_to_seq: seq_value(r.try_get(2)?),
                    len: len.max(0) as u64,
                })
            })
            .collect()
    }
    // ---- remote-monitoring ingest (schema 6)

    fn add_integration(&mut self, i: &IntegrationRow, token_hash: &str) -> Result<()> {
        self.execute(
            "INSERT INTO integrations (integration_id, kind, name, team_id, token_hash, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &i.integration_id,
                &i.kind,
                &i.name,
                &i.team_id,
                &token_hash,
                &i.created_ms,
            ],
        )?;
        Ok(())
    }

    fn integration(&mut self, integration_id: &str) -> Result<Option<IntegrationRow>> {
        self.query_first(
            "SELECT integration_id, kind, name, team_id, created_ms, revoked_ms
             FROM integrations WHERE integration_id = $1",
            &[&integration_id],
        )?
        .map(|r| integration_row(&r))
        .transpose()
    }

    fn integration_by_token(&mut self, token_hash: &str) -> Result<Option<IntegrationRow>> {
        self.query_first(
            "SELECT integration_id, kind, name, team_id, created_ms, revoked_ms
             FROM integrations WHERE token_hash = $1",
            &[&token_hash],
        )?
        .map(|r| integration_row(&r))
        .transpose()
    }

    fn integrations(&mut self) -> Result<Vec<IntegrationRow>> {
        self.query(
            "SELECT integration_id, kind, name, team_id, created_ms, revoked_ms
             FROM integrations ORDER BY created_ms, integration_id",
            &[],
        )?
        .iter()
        .map(integration_row)
        .collect()
    }

    fn revoke_integration(&mut self, integration_id: &str, now_ms: i64) -> Result<bool> {
        Ok(self.execute(
            "UPDATE integrations SET revoked_ms = $2 WHERE integration_id = $1 AND revoked_ms IS NULL",
            &[&integration_id, &now_ms],
        )? == 1)
    }

    fn register_monitor(
        &mut self,
        integration_id: &str,
        serial: &str,
        person_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO monitors (integration_id, serial, person_id, registered_ms)
             VALUES ($1, $2, $3, $4)",
            &[&integration_id, &serial, &person_id, &now_ms],
        )?;
        Ok(())
    }

    fn monitor_person(&mut self, integration_id: &str, serial: &str) -> Result<Option<String>> {
        match self.query_first(
            "SELECT person_id FROM monitors
             WHERE integration_id = $1 AND serial = $2 AND unregistered_ms IS NULL",
            &[&integration_id, &serial],
        )? {
            Some(r) => Ok(Some(r.try_get(0)?)),
            None => Ok(None),
        }
    }

    fn unregister_monitor(
        &mut self,
        integration_id: &str,
        serial: &str,
        now_ms: i64,
    ) -> Result<bool> {
        Ok(self.execute(
            "UPDATE monitors SET unregistered_ms = $3
             WHERE integration_id = $1 AND serial = $2 AND unregistered_ms IS NULL",
            &[&integration_id, &serial, &now_ms],
        )? == 1)
    }

    fn insert_reading(&mut self, r: &NewReading<'_>) -> Result<ReadingInsert> {
        let n = self.execute(
            "INSERT INTO readings
             (integration_id, person_id, kind, taken_ms, value, unit, serial, received_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (integration_id, person_id, kind, taken_ms) DO NOTHING",
            &[
                &r.integration_id,
                &r.person_id,
                &r.kind,
                &r.taken_ms,
                &r.value,
                &r.unit,
                &r.serial,
                &r.received_ms,
            ],
        )?;
        if n == 1 {
            return Ok(ReadingInsert::Stored);
        }
        let row = self.query_one(
            "SELECT value FROM readings
             WHERE integration_id = $1 AND person_id = $2 AND kind = $3 AND taken_ms = $4",
            &[&r.integration_id, &r.person_id, &r.kind, &r.taken_ms],
        )?;
        Ok(ReadingInsert::Duplicate {
            stored_value: row.try_get(0)?,
        })
    }

    /// One multi-row insert and at most one read of held values, whatever the batch's size
    /// (each statement is a round trip to the database).
    fn insert_readings(&mut self, rs: &[NewReading<'_>]) -> Result<Vec<ReadingInsert>> {
        type Key<'k> = (&'k str, &'k str, &'k str, i64);
        let key = |r: &NewReading<'_>| -> (String, String, String, i64) {
            (
                r.integration_id.to_string(),
                r.person_id.to_string(),
                r.kind.to_string(),
                r.taken_ms,
            )
        };
        let mut first: std::collections::HashMap<Key<'_>, usize> = Default::default();
        let mut unique: Vec<&NewReading<'_>> = Vec::new();
        for (i, r) in rs.iter().enumerate() {
            first
                .entry((r.integration_id, r.person_id, r.kind, r.taken_ms))
                .or_insert_with(|| {
                    unique.push(r);
                    i
                });
        }
        let col =
            |f: fn(&NewReading<'_>) -> String| unique.iter().map(|r| f(r)).collect::<Vec<String>>();
        let (ints, people, kinds, units, serials) = (
            col(|r| r.integration_id.to_string()),
            col(|r| r.person_id.to_string()),
            col(|r| r.kind.to_string()),
            col(|r| r.unit.to_string()),
            col(|r| r.serial.to_string()),
        );
        let taken: Vec<i64> = unique.iter().map(|r| r.taken_ms).collect();
        let values: Vec<f64> = unique.iter().map(|r| r.value).collect();
        let received: Vec<i64> = unique.iter().map(|r| r.received_ms).collect();
        let stored: std::collections::HashSet<(String, String, String, i64)> = self
            .query(
                "INSERT INTO readings
                 (integration_id, person_id, kind, taken_ms, value, unit, serial, received_ms)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                                      $5::float8[], $6::text[], $7::text[], $8::bigint[])
                 ON CONFLICT (integration_id, person_id, kind, taken_ms) DO NOTHING
                 RETURNING integration_id, person_id, kind, taken_ms",
                &[
                    &ints, &people, &kinds, &taken, &values, &units, &serials, &received,
                ],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_>>()?;
        let mut held: std::collections::HashMap<(String, String, String, i64), f64> =
            Default::default();
        if stored.len() < unique.len() {
            for row in self.query(
                "SELECT r.integration_id, r.person_id, r.kind, r.taken_ms, r.value
                 FROM readings r
                 JOIN unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS k (i, p, kd, t)
                   ON r.integration_id = k.i AND r.person_id = k.p AND r.kind = k.kd AND r.taken_ms = k.t",
                &[&ints, &people, &kinds, &taken],
            )? {
                held.insert(
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?),
                    row.try_get(4)?,
                );
            }
        }
        rs.iter()
            .enumerate()
            .map(|(i, r)| {
                let k = key(r);
                let first_index = first
                    .get(&(r.integration_id, r.person_id, r.kind, r.taken_ms))
                    .copied()
                    .unwrap_or(i);
                let first_stored = stored.contains(&k);
                match (first_index == i, first_stored) {
                    (true, true) => Ok(ReadingInsert::Stored),
                    (false, true) => Ok(ReadingInsert::Duplicate {
                        stored_value: rs.get(first_index).map_or(r.value, |f| f.value),
                    }),
                    (_, false) => held
                        .get(&k)
                        .map(|v| ReadingInsert::Duplicate { stored_value: *v })
                        .ok_or_else(|| {
                            ServerError::Storage(
                                "a reading was neither stored nor held: try the upload again"
                                    .into(),
                            )
                        }),
                }
            })
            .collect()
    }

    fn set_hub_password(&mut self, user_id: &str, hash: &str, now_ms: i64) -> Result<()> {
        self.execute(
            "INSERT INTO hub_passwords (user_id, password_hash, set_ms) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, set_ms = excluded.set_ms",
            &[&user_id, &hash, &now_ms],
        )?;
        Ok(())
    }

    fn hub_password(&mut self, user_id: &str) -> Result<Option<String>> {
        Ok(self
            .query(
                "SELECT password_hash FROM hub_passwords WHERE user_id = $1",
                &[&user_id],
            )?
            .first()
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    fn add_hub_session(&mut self, s: &HubSession) -> Result<()> {
        self.execute(
            "INSERT INTO hub_sessions (token_hash, user_id, csrf, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &s.token_hash,
                &s.user_id,
                &s.csrf,
                &s.created_ms,
                &s.expires_ms,
            ],
        )?;
        Ok(())
    }

    fn hub_session(&mut self, token_hash: &str, now_ms: i64) -> Result<Option<HubSession>> {
        self.query(
            "SELECT token_hash, user_id, csrf, created_ms, expires_ms FROM hub_sessions
             WHERE token_hash = $1 AND expires_ms > $2",
            &[&token_hash, &now_ms],
        )?
        .first()
        .map(|r| {
            Ok(HubSession {
                token_hash: r.try_get(0)?,
                user_id: r.try_get(1)?,
                csrf: r.try_get(2)?,
                created_ms: r.try_get(3)?,
                expires_ms: r.try_get(4)?,
            })
        })
        .transpose()
    }

    fn end_hub_session(&mut self, token_hash: &str) -> Result<()> {
        self.execute(
            "DELETE FROM hub_sessions WHERE token_hash = $1",
            &[&token_hash],
        )?;
        Ok(())
    }

    fn end_hub_sessions_of(&mut self, user_id: &str) -> Result<u64> {
        self.execute("DELETE FROM hub_sessions WHERE user_id = $1", &[&user_id])
    }

    fn add_hub_view(
        &mut self,
        user_id: &str,
        person_id: &str,
        at_ms: i64,
        what: &str,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO hub_views (user_id, person_id, at_ms, what) VALUES ($1, $2, $3, $4)",
            &[&user_id, &person_id, &at_ms, &what],
        )?;
        Ok(())
    }

    fn hub_views(&mut self, person_id: &str) -> Result<Vec<(String, i64, String)>> {
        self.query(
            "SELECT user_id, at_ms, what FROM hub_views WHERE person_id = $1 ORDER BY at_ms, id",
            &[&person_id],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
    }

    fn set_escalation_routes(
        &mut self,
        team_id: &str,
        r: &EscalationRoutes,
        now_ms: i64,
    ) -> Result<()> {
        let (opens, closes) = (
            r.opens.format("%H:%M").to_string(),
            r.closes.format("%H:%M").to_string(),
        );
        self.execute(
            "INSERT INTO escalation_routes (team_id, in_hours, out_of_hours, opens, closes, weekends, set_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (team_id) DO UPDATE SET in_hours = excluded.in_hours,
               out_of_hours = excluded.out_of_hours, opens = excluded.opens,
               closes = excluded.closes, weekends = excluded.weekends, set_ms = excluded.set_ms",
            &[&team_id, &r.in_hours, &r.out_of_hours, &opens, &closes, &r.weekends, &now_ms],
        )?;
        Ok(())
    }

    fn escalation_routes(&mut self, team_id: &str) -> Result<Option<EscalationRoutes>> {
        self.query(
            "SELECT in_hours, out_of_hours, opens, closes, weekends FROM escalation_routes
             WHERE team_id = $1",
            &[&team_id],
        )?
        .first()
        .map(|r| {
            routes_of((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            ))
        })
        .transpose()
    }

    fn set_team_profile(&mut self, team_id: &str, p: &TeamProfile, now_ms: i64) -> Result<()> {
        self.execute(
            "INSERT INTO team_profiles (team_id, ods_code, service_type, set_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (team_id) DO UPDATE SET ods_code = excluded.ods_code,
               service_type = excluded.service_type, set_ms = excluded.set_ms",
            &[&team_id, &p.ods_code, &p.service_type, &now_ms],
        )?;
        Ok(())
    }

    fn team_profile(&mut self, team_id: &str) -> Result<Option<TeamProfile>> {
        self.query(
            "SELECT ods_code, service_type FROM team_profiles WHERE team_id = $1",
            &[&team_id],
        )?
        .first()
        .map(|r| {
            Ok(TeamProfile {
                ods_code: r.try_get(0)?,
                service_type: r.try_get(1)?,
            })
        })
        .transpose()
    }

    fn set_integration_scope(
        &mut self,
        integration_id: &str,
        team_id: &str,
        compartments: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO integration_scopes (integration_id, team_id, compartments, set_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (integration_id, team_id) DO UPDATE
               SET compartments = excluded.compartments, set_ms = excluded.set_ms",
            &[&integration_id, &team_id, &compartments, &now_ms],
        )?;
        Ok(())
    }

    fn remove_integration_scope(&mut self, integration_id: &str, team_id: &str) -> Result<bool> {
        Ok(self.execute(
            "DELETE FROM integration_scopes WHERE integration_id = $1 AND team_id = $2",
            &[&integration_id, &team_id],
        )? > 0)
    }

    fn integration_scopes(&mut self, integration_id: &str) -> Result<Vec<(String, String)>> {
        self.query(
            "SELECT team_id, compartments FROM integration_scopes WHERE integration_id = $1
             ORDER BY team_id",
            &[&integration_id],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn members_without_identity_keys(&mut self, team_id: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT m.person_id FROM memberships m WHERE m.team_id = $1 AND m.left_seq IS NULL
               AND NOT m.pending
               AND NOT EXISTS (SELECT 1 FROM identity_keys k WHERE k.person_id = m.person_id)
             ORDER BY m.person_id COLLATE \"C\"",
            &[&team_id],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn add_fhir_read(&mut self, r: &FhirReadRow) -> Result<()> {
        self.execute(
            "INSERT INTO fhir_reads (integration_id, at_ms, request, person_id, compartments, outcome, peer)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &r.integration_id,
                &r.at_ms,
                &r.request,
                &r.person_id,
                &r.compartments,
                &r.outcome,
                &r.peer,
            ],
        )?;
        Ok(())
    }

    fn fhir_reads(&mut self, person_id: Option<&str>) -> Result<Vec<FhirReadRow>> {
        self.query(
            "SELECT integration_id, at_ms, request, person_id, compartments, outcome, peer
             FROM fhir_reads WHERE $1::text IS NULL OR person_id = $1 ORDER BY at_ms, id",
            &[&person_id],
        )?
        .iter()
        .map(|r| {
            Ok(FhirReadRow {
                integration_id: r.try_get(0)?,
                at_ms: r.try_get(1)?,
                request: r.try_get(2)?,
                person_id: r.try_get(3)?,
                compartments: r.try_get(4)?,
                outcome: r.try_get(5)?,
                peer: r.try_get(6)?,
            })
        })
        .collect()
    }

    fn team_users(&mut self, team_id: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT user_id FROM users WHERE team_id = $1 ORDER BY user_id COLLATE \"C\"",
            &[&team_id],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn monitored_people(&mut self) -> Result<Vec<(String, Option<i64>)>> {
        self.query(
            "SELECT m.person_id, (SELECT max(r.taken_ms) FROM readings r WHERE r.person_id = m.person_id)
             FROM (SELECT DISTINCT person_id FROM monitors WHERE unregistered_ms IS NULL) m
             ORDER BY m.person_id COLLATE \"C\"",
            &[],
        )?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn readings_of(
        &mut self,
        person_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StoredReading>> {
        self.query(
            "SELECT integration_id, kind, taken_ms, value, unit, serial FROM readings
             WHERE person_id = $1 AND taken_ms >= $2 AND taken_ms < $3
             ORDER BY taken_ms, kind, integration_id",
            &[&person_id, &from_ms, &to_ms],
        )?
        .iter()
        .map(|r| {
            Ok(StoredReading {
                integration_id: r.try_get(0)?,
                kind: r.try_get(1)?,
                taken_ms: r.try_get(2)?,
                value: r.try_get(3)?,
                unit: r.try_get(4)?,
                serial: r.try_get(5)?,
            })
        })
        .collect()
    }

    fn add_ingest_refusals(&mut self, refused: &[IngestRefusal]) -> Result<()> {
        for r in refused {
            let line = i64::try_from(r.line).unwrap_or(i64::MAX);
            self.execute(
                "INSERT INTO ingest_refusals (integration_id, at_ms, line, code, reason)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&r.integration_id, &r.at_ms, &line, &r.code, &r.reason],
            )?;
        }
        Ok(())
    }

    fn ingest_refusal_counts(&mut self) -> Result<Vec<(String, u64)>> {
        self.query(
            "SELECT code, COUNT(*) FROM ingest_refusals GROUP BY code ORDER BY COUNT(*) DESC, code",
            &[],
        )?
        .iter()
        .map(|r| {
            let n: i64 = r.try_get(1)?;
            Ok((r.try_get(0)?, n.max(0) as u64))
        })
        .collect()
    }
}

fn integration_row(r: &Row) -> Result<IntegrationRow> {
    Ok(IntegrationRow {
        integration_id: r.try_get(0)?,
        kind: r.try_get(1)?,
        name: r.try_get(2)?,
        team_id: r.try_get(3)?,
        created_ms: r.try_get(4)?,
        revoked_ms: r.try_get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};

    use doorstep_core::record::Role;
    use doorstep_tests::pg;

    use super::*;
    use crate::admin;
    use crate::storage::contract::{change, seqs};
    use crate::storage::Storage;

    /// Writers on two instances (two server processes) allocate numbers and store changes, some
    /// rolling back, while a reader on a third follows with a cursor as a device does: every
    /// snapshot's committed numbers must be exactly 1..=max_seq, so the cursor never skips one.
    #[test]
    fn postgres_commits_sequence_numbers_in_order_under_concurrency() {
        const WRITERS: usize = 6;
        const TXS: usize = 40;
        let (_server, url) = pg::fresh_database();
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
        let (_server, url) = pg::fresh_database();
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
            vec!["t1".to_string()]
        );
        assert_eq!(
            b.read(|tx| tx.teams_of("p1")).unwrap(),
            vec!["t2".to_string()]
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
                        if tx.teams_of("p2")?.is_empty() {
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
        let (_server, url) = pg::fresh_database();
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
        for url in [
            "postgres://doorstep:secret@127.0.0.1:5432/doorstep",
            "host=127.0.0.1 user=doorstep password=secret",
        ] {
            match PgStorage::open_with_password(url, Some("x")) {
                Err(ServerError::Storage(m)) => {
                    assert!(
                        m.contains("carries a password") && m.contains("DOORSTEP_PG_PASSWORD"),
                        "{url}: {m}"
                    )
                }
                other => panic!("{url}: {other:?}"),
            }
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

    /// The storage contract over TLS on loopback (sslmode=require, a CA made here); the session
    /// really is encrypted; a database whose certificate the CA did not sign is refused; and a
    /// host off this machine is accepted only with sslmode=require.
    #[test]
    fn postgres_over_tls_meets_the_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        doorstep_tests::make_test_ca(dir.path());
        let cluster = pg::Cluster::start_with(pg::Options {
            fsync: false,
            tls: Some((dir.path().join("server.crt"), dir.path().join("server.key"))),
        });
        let url = format!("{}?sslmode=require", cluster.url);
        let ca = dir.path().join("ca.crt");
        let options = PgOptions {
            password: None,
            ca_file: Some(&ca),
        };
        let s = Storage::Postgres(PgStorage::open_with(&url, &options).unwrap());
        crate::storage::contract::conformance(&s);
        let mut client = Config::from_str(&url)
            .unwrap()
            .connect(super::super::pg_tls::MakeRustlsConnect::new(Some(&ca)).unwrap())
            .unwrap();
        let ssl: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(ssl, "the session is encrypted");

        let other = tempfile::tempdir().unwrap();
        doorstep_tests::make_test_ca(other.path());
        let wrong = other.path().join("ca.crt");
        match PgStorage::open_with(
            &url,
            &PgOptions {
                password: None,
                ca_file: Some(&wrong),
            },
        ) {
            Err(ServerError::Storage(m)) => assert!(m.contains("cannot connect"), "{m}"),
            other => panic!("a certificate from another CA must be refused: {other:?}"),
        }
        for url in [
            "postgres://doorstep@db.example.com/doorstep?sslmode=require",
            "host=10.0.0.5 user=doorstep sslmode=require",
        ] {
            check_local(&Config::from_str(url).unwrap()).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        drop(s);
    }
}
