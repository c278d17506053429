//! Embedded SQLite backend: one file under the data directory, nothing to install. One writer
//! connection (writers are serialised anyway) and a small pool of readers (WAL snapshots).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use doorstep_core::record::{Compartment, User};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{
    parse_role, role_str, routes_of, schema, ChangeMeta, CodeInfo, DeviceInfo, DeviceRow,
    EscalationRoutes, FhirReadRow, HubSession, IngestRefusal, IntegrationRow, NewChange,
    NewReading, QuarantineRow, ReadingInsert, ReferralRow, SnapshotInfo, StoredChange,
    StoredReading, TeamProfile, Tx,
};
use crate::error::{Result, ServerError};

pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

/// A person's readings over a span, in order: every upload re-reads these (`ingest::sets`), so
/// they come from the covering index `readings_span` (schema 11), with no sort.
const READINGS_OF: &str = "SELECT integration_id, kind, taken_ms, value, unit, serial FROM readings
     WHERE person_id = ?1 AND taken_ms >= ?2 AND taken_ms < ?3
     ORDER BY taken_ms, kind, integration_id";

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| ServerError::Storage(format!("cannot open {}: {e}", path.display())))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

impl SqliteStorage {
    /// Open (or create) `server.db` under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteStorage> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            ServerError::Storage(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join("server.db");
        let mut conn = connect(&path)?;
        schema::migrate_sqlite(&mut conn, schema::MIGRATIONS, &path.display().to_string())?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Whether the writer connection is in use now.
    pub fn writer_busy(&self) -> bool {
        matches!(
            self.writer.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        // A panic inside an earlier transaction rolled it back as it unwound (rusqlite rolls back
        // on drop): the connection is sound, so a poisoned lock is taken over, not fatal.
        let mut conn = self.writer.lock().unwrap_or_else(|poisoned| {
            self.writer.clear_poison();
            poisoned.into_inner()
        });
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut t = SqliteTx { tx };
        let r = f(&mut t)?;
        t.tx.commit()?;
        Ok(r)
    }

    pub fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let r = {
            let tx = conn.transaction()?;
            let mut t = SqliteTx { tx };
            let r = f(&mut t);
            t.tx.rollback()?;
            r
        };
        if let Ok(mut p) = self.readers.lock() {
            if p.len() < 8 {
                p.push(conn);
            }
        }
        r
    }
}

struct SqliteTx<'c> {
    tx: Transaction<'c>,
}

type DeviceCols = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    bool,
    i64,
);

impl SqliteTx<'_> {
    fn device_where(&mut self, condition: &str, key: &str) -> Result<Option<DeviceRow>> {
        let sql = format!(
            "SELECT d.device_id, u.user_id, u.display_name, u.role, u.team_id, d.revoked_ms,
                    d.retired_ms, COALESCE(d.pending_token_hash = ?1, 0), d.enrolled_ms
             FROM devices d JOIN users u ON u.user_id = d.user_id WHERE {condition}"
        );
        let row: Option<DeviceCols> = self
            .tx
            .prepare_cached(&sql)?
            .query_row([key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .optional()?;
        Ok(row.and_then(
            |(device_id, id, display_name, role, team, revoked, retired, pending, enrolled_ms)| {
                parse_role(&role).map(|role| DeviceRow {
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
                })
            },
        ))
    }
}

/// Sequence numbers are u64 in the API and signed 64-bit in SQL.
fn clamp(seq: u64) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

fn comp(s: &str) -> Result<Compartment> {
    Compartment::parse(s).ok_or_else(|| ServerError::Storage(format!("unknown compartment {s}")))
}

type ChangeRow = (i64, String, String, Vec<u8>, String, Vec<u8>, Option<i64>);

fn stored(rows: Vec<ChangeRow>) -> Result<Vec<StoredChange>> {
    rows.into_iter()
        .map(
            |(seq, person_id, c, bytes, origin_device, hash, clock_note_ms)| {
                Ok(StoredChange {
                    seq: seq as u64,
                    person_id,
                    compartment: comp(&c)?,
                    bytes,
                    origin_device,
                    hash,
                    clock_note_ms,
                })
            },
        )
        .collect()
}

type MetaRow = (i64, String, String, i64, String, Vec<u8>, Option<i64>);

fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MetaRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn metas(rows: Vec<MetaRow>) -> Result<Vec<ChangeMeta>> {
    rows.into_iter()
        .map(
            |(seq, person_id, c, len, origin_device, hash, clock_note_ms)| {
                Ok(ChangeMeta {
                    seq: seq as u64,
                    person_id,
                    compartment: comp(&c)?,
                    len: len.max(0) as u64,
                    origin_device,
                    hash,
                    clock_note_ms,
                })
            },
        )
        .collect()
}

impl Tx for SqliteTx<'_> {
    fn create_team(&mut self, team_id: &str, name: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO teams (team_id, name) VALUES (?1, ?2)",
            params![team_id, name],
        )?;
        Ok(())
    }

    fn team_exists(&mut self, team_id: &str) -> Result<bool> {
        Ok(self.tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM teams WHERE team_id = ?1)",
            [team_id],
            |r| r.get(0),
        )?)
    }

    fn create_user(&mut self, u: &User) -> Result<()> {
        self.tx.execute(
            "INSERT INTO users (user_id, display_name, role, team_id) VALUES (?1, ?2, ?3, ?4)",
            params![u.id, u.display_name, role_str(u.role), u.team],
        )?;
        Ok(())
    }

    fn user(&mut self, user_id: &str) -> Result<Option<User>> {
        let row: Option<(String, String, String, String)> = self
            .tx
            .query_row(
                "SELECT user_id, display_name, role, team_id FROM users WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        Ok(row.and_then(|(id, display_name, role, team)| {
            parse_role(&role).map(|role| User {
                id,
                display_name,
                role,
                team,
            })
        }))
    }

    fn add_code(&mut self, code_hash: &str, user_id: &str, expires_ms: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO enrolment_codes (code_hash, user_id, expires_ms) VALUES (?1, ?2, ?3)",
            params![code_hash, user_id, expires_ms],
        )?;
        Ok(())
    }

    fn take_code(&mut self, code_hash: &str, now_ms: i64) -> Result<Option<String>> {
        let user: Option<String> = self
            .tx
            .query_row(
                "UPDATE enrolment_codes SET used_ms = ?2
                 WHERE code_hash = ?1 AND used_ms IS NULL AND cancelled_ms IS NULL AND expires_ms > ?2
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = enrolment_codes.user_id
                                   AND u.disabled_ms IS NOT NULL)
                 RETURNING user_id",
                params![code_hash, now_ms],
                |r| r.get(0),
            )
            .optional()?;
        Ok(user)
    }

    fn add_device(
        &mut self,
        device_id: &str,
        user_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO devices (device_id, user_id, token_hash, enrolled_ms) VALUES (?1, ?2, ?3, ?4)",
            params![device_id, user_id, token_hash, now_ms],
        )?;
        Ok(())
    }

    fn device_by_token(&mut self, token_hash: &str) -> Result<Option<DeviceRow>> {
        self.device_where("d.token_hash = ?1 OR d.pending_token_hash = ?1", token_hash)
    }

    fn revoke_device(&mut self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE devices SET revoked_ms = ?2 WHERE device_id = ?1 AND revoked_ms IS NULL",
            params![device_id, now_ms],
        )?;
        Ok(n == 1)
    }

    fn touch_device(&mut self, device_id: &str, now_ms: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE devices SET last_sync_ms = ?2 WHERE device_id = ?1",
            params![device_id, now_ms],
        )?;
        Ok(())
    }

    fn devices(&mut self) -> Result<Vec<DeviceInfo>> {
        let mut stmt = self.tx.prepare(
            "SELECT device_id, user_id, enrolled_ms, revoked_ms, last_sync_ms, retired_ms FROM devices
             ORDER BY enrolled_ms, device_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DeviceInfo {
                    device_id: r.get(0)?,
                    user_id: r.get(1)?,
                    enrolled_ms: r.get(2)?,
                    revoked_ms: r.get(3)?,
                    last_sync_ms: r.get(4)?,
                    retired_ms: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn actor_owner(&mut self, actor: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .query_row(
                "SELECT device_id FROM actors WHERE actor = ?1",
                [actor],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn bind_actor(&mut self, actor: &str, device_id: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO actors (actor, device_id) VALUES (?1, ?2)",
            params![actor, device_id],
        )?;
        Ok(())
    }

    fn next_seq(&mut self) -> Result<u64> {
        let v: i64 = self.tx.query_row(
            "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value",
            [],
            |r| r.get(0),
        )?;
        Ok(v as u64)
    }

    fn max_seq(&mut self) -> Result<u64> {
        let v: i64 =
            self.tx
                .query_row("SELECT value FROM counters WHERE name = 'seq'", [], |r| {
                    r.get(0)
                })?;
        Ok(v as u64)
    }

    fn has_change(&mut self, person_id: &str, c: Compartment, hash: &[u8]) -> Result<bool> {
        Ok(self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM changes WHERE person_id = ?1 AND compartment = ?2 AND hash = ?3)",
        )?
        .query_row(params![person_id, c.as_str(), hash], |r| r.get(0))?)
    }

    fn insert_change(&mut self, c: &NewChange<'_>) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO changes (seq, person_id, compartment, hash, bytes, origin_device, received_ms,
                     actor, actor_seq, clock_note_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                c.seq as i64,
                c.person_id,
                c.compartment.as_str(),
                c.hash,
                c.bytes,
                c.origin_device,
                c.received_ms,
                c.actor,
                c.actor_seq.map(|n| n as i64),
                c.clock_note_ms
            ])?;
        Ok(n == 1)
    }

    fn person_known(&mut self, person_id: &str) -> Result<bool> {
        Ok(self.tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM changes WHERE person_id = ?1)
                 OR EXISTS(SELECT 1 FROM memberships WHERE person_id = ?1)",
            [person_id],
            |r| r.get(0),
        )?)
    }

    fn doc_changes(
        &mut self,
        person_id: &str,
        c: Compartment,
        up_to: u64,
    ) -> Result<Vec<StoredChange>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, person_id, compartment, bytes, origin_device, hash, clock_note_ms FROM changes
             WHERE person_id = ?1 AND compartment = ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![person_id, c.as_str(), clamp(up_to)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        stored(rows)
    }

    fn doc_changes_after(
        &mut self,
        person_id: &str,
        c: Compartment,
        after: u64,
    ) -> Result<Vec<StoredChange>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, person_id, compartment, bytes, origin_device, hash, clock_note_ms FROM changes
             WHERE person_id = ?1 AND compartment = ?2 AND seq > ?3 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![person_id, c.as_str(), clamp(after)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        stored(rows)
    }

    fn team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<StoredChange>> {
        let mut stmt = self.tx.prepare_cached(
            // Driven by the team's members, each a range seek on (person_id, seq): the cost
            // follows the team's own changes, not every team's changes in the range.
            "SELECT c.seq, c.person_id, c.compartment, c.bytes, c.origin_device, c.hash, c.clock_note_ms
             FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = ?1 AND m.left_seq IS NULL AND c.seq > ?2 AND c.seq <= ?3
             ORDER BY c.seq",
        )?;
        let rows = stmt
            .query_map(params![team_id, clamp(after), clamp(up_to)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        stored(rows)
    }

    fn team_change_meta(
        &mut self,
        team_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<ChangeMeta>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT c.seq, c.person_id, c.compartment, length(c.bytes), c.origin_device, c.hash,
                    c.clock_note_ms
             FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = ?1 AND m.left_seq IS NULL AND c.seq > ?2 AND c.seq <= ?3
             ORDER BY c.seq",
        )?;
        let rows = stmt
            .query_map(params![team_id, clamp(after), clamp(up_to)], meta_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        metas(rows)
    }

    fn doc_change_meta(
        &mut self,
        person_id: &str,
        c: Compartment,
        up_to: u64,
    ) -> Result<Vec<ChangeMeta>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, person_id, compartment, length(bytes), origin_device, hash, clock_note_ms
             FROM changes WHERE person_id = ?1 AND compartment = ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![person_id, c.as_str(), clamp(up_to)], meta_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        metas(rows)
    }

    fn change_bytes(&mut self, seqs: &[u64]) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT bytes FROM changes WHERE seq = ?1")?;
        let mut out = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            let bytes: Option<Vec<u8>> = stmt.query_row([clamp(seq)], |r| r.get(0)).optional()?;
            if let Some(b) = bytes {
                out.push((seq, b));
            }
        }
        Ok(out)
    }

    fn count_team_changes(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<u64> {
        let n: i64 = self
            .tx
            .prepare_cached(
                "SELECT COUNT(*) FROM memberships m JOIN changes c ON c.person_id = m.person_id
             WHERE m.team_id = ?1 AND m.left_seq IS NULL AND c.seq > ?2 AND c.seq <= ?3",
            )?
            .query_row(params![team_id, clamp(after), clamp(up_to)], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    fn members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT person_id, joined_seq FROM memberships WHERE team_id = ?1 AND left_seq IS NULL AND pending = 0 ORDER BY person_id",
        )?;
        let rows = stmt
            .query_map([team_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn current_people(&mut self) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT person_id FROM memberships WHERE left_seq IS NULL AND pending = 0 ORDER BY person_id",
        )?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn was_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = ?1 AND person_id = ?2 AND pending = 0)",
            )?
            .query_row(params![team_id, person_id], |r| r.get(0))?)
    }

    fn ever_members(&mut self, team_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT person_id FROM memberships WHERE team_id = ?1 AND pending = 0 ORDER BY person_id",
        )?;
        let rows = stmt
            .query_map([team_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    fn teams_of(&mut self, person_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT team_id FROM memberships WHERE person_id = ?1 AND left_seq IS NULL AND pending = 0
             ORDER BY team_id",
        )?;
        let rows = stmt
            .query_map([person_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    fn is_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = ?1 AND person_id = ?2
                   AND left_seq IS NULL AND pending = 0)",
            )?
            .query_row(params![team_id, person_id], |r| r.get(0))?)
    }

    fn pending_members(&mut self, team_id: &str) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT person_id, joined_seq FROM memberships WHERE team_id = ?1 AND left_seq IS NULL AND pending = 1
             ORDER BY person_id",
        )?;
        let rows = stmt
            .query_map([team_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn is_pending_member(&mut self, team_id: &str, person_id: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM memberships WHERE team_id = ?1 AND person_id = ?2
                   AND left_seq IS NULL AND pending = 1)",
            )?
            .query_row(params![team_id, person_id], |r| r.get(0))?)
    }

    fn member_shares(&mut self, team_id: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT person_id, shares FROM memberships WHERE team_id = ?1 AND left_seq IS NULL
               AND pending = 0 AND shares IS NOT NULL ORDER BY person_id",
        )?;
        let rows = stmt
            .query_map([team_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn join_pending(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO memberships (team_id, person_id, joined_seq, pending) VALUES (?1, ?2, ?3, 1)",
            params![team_id, person_id, seq as i64],
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
        let n = self.tx.execute(
            "UPDATE memberships SET pending = 0, joined_seq = ?3, shares = ?4
             WHERE team_id = ?1 AND person_id = ?2 AND left_seq IS NULL AND pending = 1",
            params![team_id, person_id, seq as i64, shares],
        )?;
        Ok(n > 0)
    }

    fn insert_referral(&mut self, r: &ReferralRow) -> Result<()> {
        self.tx.execute(
            "INSERT INTO referrals (referral_id, person_id, from_team, to_team, shares, status, raised_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.referral_id,
                r.person_id,
                r.from_team,
                r.to_team,
                r.shares,
                r.status,
                r.raised_seq as i64
            ],
        )?;
        Ok(())
    }

    fn set_identity_keys(&mut self, person_id: &str, keys: &[(String, String)]) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM identity_keys WHERE person_id = ?1")?
            .execute([person_id])?;
        let mut ins = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO identity_keys (kind, key, person_id) VALUES (?1, ?2, ?3)",
        )?;
        for (kind, key) in keys {
            ins.execute(params![kind, key, person_id])?;
        }
        Ok(())
    }

    fn people_with_identity(&mut self, kind: &str, key: &str) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT person_id FROM identity_keys WHERE kind = ?1 AND key = ?2 ORDER BY person_id",
        )?;
        let rows = stmt
            .query_map(params![kind, key], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    fn referral(&mut self, referral_id: &str) -> Result<Option<ReferralRow>> {
        Ok(self
            .tx
            .query_row(
                "SELECT referral_id, person_id, from_team, to_team, shares, status, raised_seq,
                        answered_seq, answered_by, answered_ms FROM referrals WHERE referral_id = ?1",
                [referral_id],
                |r| {
                    Ok(ReferralRow {
                        referral_id: r.get(0)?,
                        person_id: r.get(1)?,
                        from_team: r.get(2)?,
                        to_team: r.get(3)?,
                        shares: r.get(4)?,
                        status: r.get(5)?,
                        raised_seq: r.get::<_, i64>(6)? as u64,
                        answered_seq: r.get::<_, Option<i64>>(7)?.map(|s| s as u64),
                        answered_by: r.get(8)?,
                        answered_ms: r.get(9)?,
                    })
                },
            )
            .optional()?)
    }

    fn answer_referral(
        &mut self,
        referral_id: &str,
        status: &str,
        seq: u64,
        by: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE referrals SET status = ?2, answered_seq = ?3, answered_by = ?4, answered_ms = ?5
             WHERE referral_id = ?1",
            params![referral_id, status, seq as i64, by, at_ms],
        )?;
        Ok(())
    }

    fn join(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO memberships (team_id, person_id, joined_seq) VALUES (?1, ?2, ?3)",
            params![team_id, person_id, seq as i64],
        )?;
        Ok(())
    }

    fn leave(&mut self, team_id: &str, person_id: &str, seq: u64) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE memberships SET left_seq = ?3 WHERE team_id = ?1 AND person_id = ?2 AND left_seq IS NULL",
            params![team_id, person_id, seq as i64],
        )?;
        Ok(n > 0)
    }

    fn left_between(&mut self, team_id: &str, after: u64, up_to: u64) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT person_id FROM memberships WHERE team_id = ?1 AND left_seq > ?2 AND left_seq <= ?3",
        )?;
        let rows = stmt
            .query_map(params![team_id, clamp(after), clamp(up_to)], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn consents(&mut self, team_id: &str) -> Result<Vec<(String, bool, u64)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT c.person_id, c.consented, c.seq FROM consents c JOIN memberships m
               ON m.person_id = c.person_id AND m.team_id = ?1 AND m.left_seq IS NULL",
        )?;
        let rows = stmt
            .query_map([team_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn consent(&mut self, person_id: &str) -> Result<Option<(bool, u64)>> {
        Ok(self
            .tx
            .query_row(
                "SELECT consented, seq FROM consents WHERE person_id = ?1",
                [person_id],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
            )
            .optional()?)
    }

    fn set_consent(&mut self, person_id: &str, consented: bool, seq: u64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO consents (person_id, consented, seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (person_id) DO UPDATE SET consented = excluded.consented, seq = excluded.seq",
            params![person_id, consented, seq as i64],
        )?;
        Ok(())
    }

    fn add_quarantine(&mut self, q: &QuarantineRow) -> Result<()> {
        self.tx.execute(
            "INSERT INTO quarantine (device_id, user_id, person_id, compartment, direction,
                 change_hash, code, reason, summary, at_ms, reported_ms, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (device_id, person_id, change_hash, direction) DO NOTHING",
            params![
                q.device_id,
                q.user_id,
                q.person_id,
                q.compartment.as_str(),
                q.direction,
                q.change_hash,
                q.code,
                q.reason,
                q.summary,
                q.at_ms,
                q.reported_ms,
                q.bytes
            ],
        )?;
        Ok(())
    }

    fn quarantine_counts(&mut self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT code, count(*) FROM quarantine GROUP BY code ORDER BY count(*) DESC, code",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .map(|(c, n)| (c, n.max(0) as u64))
            .collect())
    }

    fn quarantine_newest(&mut self, limit: u32) -> Result<Vec<QuarantineRow>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT device_id, user_id, person_id, compartment, direction, change_hash, code,
                    reason, summary, at_ms, reported_ms, bytes
             FROM quarantine ORDER BY reported_ms DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([i64::from(limit)], |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ),
                    r.get::<_, String>(3)?,
                    (
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, String>(6)?,
                    ),
                    (r.get::<_, String>(7)?, r.get::<_, String>(8)?),
                    (
                        r.get::<_, i64>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, Vec<u8>>(11)?,
                    ),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(
                    (device_id, user_id, person_id),
                    comp,
                    (direction, change_hash, code),
                    (reason, summary),
                    (at_ms, reported_ms, bytes),
                )| {
                    Some(QuarantineRow {
                        device_id,
                        user_id,
                        person_id,
                        compartment: Compartment::parse(&comp)?,
                        direction,
                        change_hash,
                        code,
                        reason,
                        summary,
                        at_ms,
                        reported_ms,
                        bytes,
                    })
                },
            )
            .collect())
    }

    fn record_purges(&mut self, device_id: &str, people: &[String], now_ms: i64) -> Result<()> {
        for p in people {
            self.tx.execute(
                "INSERT INTO purge_reports (device_id, person_id, reported_ms) VALUES (?1, ?2, ?3)",
                params![device_id, p, now_ms],
            )?;
        }
        Ok(())
    }

    fn device_by_id(&mut self, device_id: &str) -> Result<Option<DeviceRow>> {
        self.device_where("d.device_id = ?1", device_id)
    }

    fn retire_device(&mut self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE devices SET retired_ms = ?2
             WHERE device_id = ?1 AND revoked_ms IS NULL AND retired_ms IS NULL",
            params![device_id, now_ms],
        )?;
        Ok(n == 1)
    }

    fn touch_devices(&mut self, seen: &[(String, i64)]) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE devices SET last_sync_ms = max(COALESCE(last_sync_ms, 0), ?2) WHERE device_id = ?1",
        )?;
        for (device_id, ms) in seen {
            stmt.execute(params![device_id, ms])?;
        }
        Ok(())
    }

    fn codes(&mut self) -> Result<Vec<CodeInfo>> {
        let mut stmt = self.tx.prepare(
            "SELECT substr(code_hash, 1, 12), user_id, expires_ms, used_ms, cancelled_ms
             FROM enrolment_codes ORDER BY expires_ms DESC, code_hash",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CodeInfo {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    expires_ms: r.get(2)?,
                    used_ms: r.get(3)?,
                    cancelled_ms: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn cancel_codes(
        &mut self,
        id_prefix: Option<&str>,
        user_id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64> {
        let prefix = id_prefix.map(|p| format!("{}%", p.to_ascii_lowercase()));
        let n = self.tx.execute(
            "UPDATE enrolment_codes SET cancelled_ms = ?3
             WHERE used_ms IS NULL AND cancelled_ms IS NULL
               AND (?1 IS NULL OR code_hash LIKE ?1) AND (?2 IS NULL OR user_id = ?2)
               AND (?1 IS NOT NULL OR ?2 IS NOT NULL)",
            params![prefix, user_id, now_ms],
        )?;
        Ok(n as u64)
    }

    fn expire_codes(&mut self, user_id: Option<&str>, now_ms: i64) -> Result<u64> {
        let n = self.tx.execute(
            "UPDATE enrolment_codes SET expires_ms = ?2
             WHERE used_ms IS NULL AND cancelled_ms IS NULL AND expires_ms > ?2
               AND (?1 IS NULL OR user_id = ?1)",
            params![user_id, now_ms],
        )?;
        Ok(n as u64)
    }

    fn disable_user(&mut self, user_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE users SET disabled_ms = ?2 WHERE user_id = ?1 AND disabled_ms IS NULL",
            params![user_id, now_ms],
        )?;
        Ok(n == 1)
    }

    fn user_disabled(&mut self, user_id: &str) -> Result<bool> {
        Ok(self.tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM users WHERE user_id = ?1 AND disabled_ms IS NOT NULL)",
            [user_id],
            |r| r.get(0),
        )?)
    }

    fn user_devices(&mut self, user_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare(
            "SELECT device_id FROM devices WHERE user_id = ?1 ORDER BY enrolled_ms, device_id",
        )?;
        let rows = stmt
            .query_map([user_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn request_rotation(&mut self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE devices SET rotate_requested_ms = ?2 WHERE device_id = ?1 AND revoked_ms IS NULL",
            params![device_id, now_ms],
        )?;
        Ok(n == 1)
    }

    fn rotation_requested(&mut self, device_id: &str) -> Result<bool> {
        Ok(self.tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE device_id = ?1 AND rotate_requested_ms IS NOT NULL)",
            [device_id],
            |r| r.get(0),
        )?)
    }

    fn set_pending_token(&mut self, device_id: &str, token_hash: &str) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE devices SET pending_token_hash = ?2
             WHERE device_id = ?1 AND revoked_ms IS NULL",
            params![device_id, token_hash],
        )?;
        Ok(n == 1)
    }

    fn promote_pending_token(&mut self, device_id: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE devices SET token_hash = pending_token_hash, pending_token_hash = NULL,
                 rotate_requested_ms = NULL
             WHERE device_id = ?1 AND pending_token_hash IS NOT NULL",
            [device_id],
        )?;
        Ok(())
    }

    fn bump_counter(&mut self, subject: &str, window_start: i64, by: u64) -> Result<u64> {
        let by = i64::try_from(by).unwrap_or(i64::MAX);
        let v: i64 = self
            .tx
            .prepare_cached(
                "INSERT INTO rate_counters (subject, window_start, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject, window_start) DO UPDATE SET count = count + excluded.count
                 RETURNING count",
            )?
            .query_row(params![subject, window_start, by], |r| r.get(0))?;
        Ok(v.max(0) as u64)
    }

    fn counter(&mut self, subject: &str, window_start: i64) -> Result<u64> {
        let v: Option<i64> = self
            .tx
            .prepare_cached(
                "SELECT count FROM rate_counters WHERE subject = ?1 AND window_start = ?2",
            )?
            .query_row(params![subject, window_start], |r| r.get(0))
            .optional()?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    fn prune_counters(&mut self, before: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM rate_counters WHERE window_start < ?1",
            [before],
        )?;
        Ok(())
    }

    fn doc_snapshot(&mut self, person_id: &str, c: Compartment) -> Result<Option<(Vec<u8>, u64)>> {
        let row: Option<(Vec<u8>, i64)> = self
            .tx
            .prepare_cached(
                "SELECT snapshot, up_to_seq FROM documents WHERE person_id = ?1 AND compartment = ?2",
            )?
            .query_row(params![person_id, c.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(b, s)| (b, s.max(0) as u64)))
    }

    fn put_doc_snapshot(
        &mut self,
        person_id: &str,
        c: Compartment,
        snapshot: &[u8],
        up_to_seq: u64,
    ) -> Result<bool> {
        let n = self.tx.prepare_cached(
            "INSERT INTO documents (person_id, compartment, snapshot, up_to_seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (person_id, compartment) DO UPDATE
                 SET snapshot = excluded.snapshot, up_to_seq = excluded.up_to_seq
                 WHERE documents.up_to_seq < excluded.up_to_seq",
        )?
        .execute(params![person_id, c.as_str(), snapshot, clamp(up_to_seq)])?;
        Ok(n > 0)
    }

    fn team_snapshot_info(&mut self, team_id: &str) -> Result<Vec<SnapshotInfo>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT d.person_id, d.compartment, d.up_to_seq, length(d.snapshot)
             FROM memberships m JOIN documents d ON d.person_id = m.person_id
             WHERE m.team_id = ?1 AND m.left_seq IS NULL",
        )?;
        let rows = stmt
            .query_map([team_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(person_id, c, seq, len)| {
                Ok(SnapshotInfo {
                    person_id,
                    compartment: comp(&c)?,
                    up_to_seq: seq.max(0) as u64,
                    len: len.max(0) as u64,
                })
            })
            .collect()
    }
    // ---- remote-monitoring ingest (schema 6)

    fn add_integration(&mut self, i: &IntegrationRow, token_hash: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO integrations (integration_id, kind, name, team_id, token_hash, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                i.integration_id,
                i.kind,
                i.name,
                i.team_id,
                token_hash,
                i.created_ms
            ],
        )?;
        Ok(())
    }

    fn integration(&mut self, integration_id: &str) -> Result<Option<IntegrationRow>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT integration_id, kind, name, team_id, created_ms, revoked_ms
                 FROM integrations WHERE integration_id = ?1",
            )?
            .query_row([integration_id], integration_row)
            .optional()?)
    }

    fn integration_by_token(&mut self, token_hash: &str) -> Result<Option<IntegrationRow>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT integration_id, kind, name, team_id, created_ms, revoked_ms
                 FROM integrations WHERE token_hash = ?1",
            )?
            .query_row([token_hash], integration_row)
            .optional()?)
    }

    fn integrations(&mut self) -> Result<Vec<IntegrationRow>> {
        let mut st = self.tx.prepare(
            "SELECT integration_id, kind, name, team_id, created_ms, revoked_ms
             FROM integrations ORDER BY created_ms, integration_id",
        )?;
        let rows = st.query_map([], integration_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn revoke_integration(&mut self, integration_id: &str, now_ms: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "UPDATE integrations SET revoked_ms = ?2 WHERE integration_id = ?1 AND revoked_ms IS NULL",
            params![integration_id, now_ms],
        )? == 1)
    }

    fn register_monitor(
        &mut self,
        integration_id: &str,
        serial: &str,
        person_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO monitors (integration_id, serial, person_id, registered_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![integration_id, serial, person_id, now_ms],
        )?;
        Ok(())
    }

    fn monitor_person(&mut self, integration_id: &str, serial: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT person_id FROM monitors
                 WHERE integration_id = ?1 AND serial = ?2 AND unregistered_ms IS NULL",
            )?
            .query_row([integration_id, serial], |r| r.get(0))
            .optional()?)
    }

    fn unregister_monitor(
        &mut self,
        integration_id: &str,
        serial: &str,
        now_ms: i64,
    ) -> Result<bool> {
        Ok(self.tx.execute(
            "UPDATE monitors SET unregistered_ms = ?3
             WHERE integration_id = ?1 AND serial = ?2 AND unregistered_ms IS NULL",
            params![integration_id, serial, now_ms],
        )? == 1)
    }

    fn insert_reading(&mut self, r: &NewReading<'_>) -> Result<ReadingInsert> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO readings
                 (integration_id, person_id, kind, taken_ms, value, unit, serial, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (integration_id, person_id, kind, taken_ms) DO NOTHING",
            )?
            .execute(params![
                r.integration_id,
                r.person_id,
                r.kind,
                r.taken_ms,
                r.value,
                r.unit,
                r.serial,
                r.received_ms
            ])?;
        if n == 1 {
            return Ok(ReadingInsert::Stored);
        }
        let stored_value: f64 = self
            .tx
            .prepare_cached(
                "SELECT value FROM readings
                 WHERE integration_id = ?1 AND person_id = ?2 AND kind = ?3 AND taken_ms = ?4",
            )?
            .query_row(
                params![r.integration_id, r.person_id, r.kind, r.taken_ms],
                |row| row.get(0),
            )?;
        Ok(ReadingInsert::Duplicate { stored_value })
    }

    fn set_hub_password(&mut self, user_id: &str, hash: &str, now_ms: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO hub_passwords (user_id, password_hash, set_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, set_ms = excluded.set_ms",
            params![user_id, hash, now_ms],
        )?;
        Ok(())
    }

    fn hub_password(&mut self, user_id: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT password_hash FROM hub_passwords WHERE user_id = ?1")?
            .query_row([user_id], |r| r.get(0))
            .optional()?)
    }

    fn add_hub_session(&mut self, s: &HubSession) -> Result<()> {
        self.tx.execute(
            "INSERT INTO hub_sessions (token_hash, user_id, csrf, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.token_hash, s.user_id, s.csrf, s.created_ms, s.expires_ms],
        )?;
        Ok(())
    }

    fn hub_session(&mut self, token_hash: &str, now_ms: i64) -> Result<Option<HubSession>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT token_hash, user_id, csrf, created_ms, expires_ms FROM hub_sessions
                 WHERE token_hash = ?1 AND expires_ms > ?2",
            )?
            .query_row(params![token_hash, now_ms], |r| {
                Ok(HubSession {
                    token_hash: r.get(0)?,
                    user_id: r.get(1)?,
                    csrf: r.get(2)?,
                    created_ms: r.get(3)?,
                    expires_ms: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn end_hub_session(&mut self, token_hash: &str) -> Result<()> {
        self.tx.execute(
            "DELETE FROM hub_sessions WHERE token_hash = ?1",
            [token_hash],
        )?;
        Ok(())
    }

    fn end_hub_sessions_of(&mut self, user_id: &str) -> Result<u64> {
        Ok(self
            .tx
            .execute("DELETE FROM hub_sessions WHERE user_id = ?1", [user_id])? as u64)
    }

    fn add_hub_view(
        &mut self,
        user_id: &str,
        person_id: &str,
        at_ms: i64,
        what: &str,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO hub_views (user_id, person_id, at_ms, what) VALUES (?1, ?2, ?3, ?4)",
            params![user_id, person_id, at_ms, what],
        )?;
        Ok(())
    }

    fn hub_views(&mut self, person_id: &str) -> Result<Vec<(String, i64, String)>> {
        let mut st = self.tx.prepare_cached(
            "SELECT user_id, at_ms, what FROM hub_views WHERE person_id = ?1 ORDER BY at_ms, id",
        )?;
        let rows = st
            .query_map([person_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn set_escalation_routes(
        &mut self,
        team_id: &str,
        r: &EscalationRoutes,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO escalation_routes (team_id, in_hours, out_of_hours, opens, closes, weekends, set_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (team_id) DO UPDATE SET in_hours = excluded.in_hours,
               out_of_hours = excluded.out_of_hours, opens = excluded.opens,
               closes = excluded.closes, weekends = excluded.weekends, set_ms = excluded.set_ms",
            params![
                team_id,
                r.in_hours,
                r.out_of_hours,
                r.opens.format("%H:%M").to_string(),
                r.closes.format("%H:%M").to_string(),
                r.weekends,
                now_ms
            ],
        )?;
        Ok(())
    }

    fn escalation_routes(&mut self, team_id: &str) -> Result<Option<EscalationRoutes>> {
        let row: Option<(String, String, String, String, bool)> = self
            .tx
            .prepare_cached(
                "SELECT in_hours, out_of_hours, opens, closes, weekends FROM escalation_routes
                 WHERE team_id = ?1",
            )?
            .query_row([team_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        row.map(routes_of).transpose()
    }

    fn set_team_profile(&mut self, team_id: &str, p: &TeamProfile, now_ms: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO team_profiles (team_id, ods_code, service_type, set_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (team_id) DO UPDATE SET ods_code = excluded.ods_code,
               service_type = excluded.service_type, set_ms = excluded.set_ms",
            params![team_id, p.ods_code, p.service_type, now_ms],
        )?;
        Ok(())
    }

    fn team_profile(&mut self, team_id: &str) -> Result<Option<TeamProfile>> {
        Ok(self
            .tx
            .prepare_cached("SELECT ods_code, service_type FROM team_profiles WHERE team_id = ?1")?
            .query_row([team_id], |r| {
                Ok(TeamProfile {
                    ods_code: r.get(0)?,
                    service_type: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn set_integration_scope(
        &mut self,
        integration_id: &str,
        team_id: &str,
        compartments: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO integration_scopes (integration_id, team_id, compartments, set_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (integration_id, team_id) DO UPDATE
               SET compartments = excluded.compartments, set_ms = excluded.set_ms",
            params![integration_id, team_id, compartments, now_ms],
        )?;
        Ok(())
    }

    fn remove_integration_scope(&mut self, integration_id: &str, team_id: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "DELETE FROM integration_scopes WHERE integration_id = ?1 AND team_id = ?2",
            params![integration_id, team_id],
        )? > 0)
    }

    fn integration_scopes(&mut self, integration_id: &str) -> Result<Vec<(String, String)>> {
        let mut st = self.tx.prepare_cached(
            "SELECT team_id, compartments FROM integration_scopes WHERE integration_id = ?1
             ORDER BY team_id",
        )?;
        let rows = st
            .query_map([integration_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn members_without_identity_keys(&mut self, team_id: &str) -> Result<Vec<String>> {
        let mut st = self.tx.prepare_cached(
            "SELECT m.person_id FROM memberships m WHERE m.team_id = ?1 AND m.left_seq IS NULL
               AND m.pending = 0
               AND NOT EXISTS (SELECT 1 FROM identity_keys k WHERE k.person_id = m.person_id)
             ORDER BY m.person_id",
        )?;
        let rows = st
            .query_map([team_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    fn add_fhir_read(&mut self, r: &FhirReadRow) -> Result<()> {
        self.tx.execute(
            "INSERT INTO fhir_reads (integration_id, at_ms, request, person_id, compartments, outcome, peer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.integration_id,
                r.at_ms,
                r.request,
                r.person_id,
                r.compartments,
                r.outcome,
                r.peer
            ],
        )?;
        Ok(())
    }

    fn fhir_reads(&mut self, person_id: Option<&str>) -> Result<Vec<FhirReadRow>> {
        let mut st = self.tx.prepare_cached(
            "SELECT integration_id, at_ms, request, person_id, compartments, outcome, peer
             FROM fhir_reads WHERE ?1 IS NULL OR person_id = ?1 ORDER BY at_ms, id",
        )?;
        let rows = st
            .query_map([person_id], |r| {
                Ok(FhirReadRow {
                    integration_id: r.get(0)?,
                    at_ms: r.get(1)?,
                    request: r.get(2)?,
                    person_id: r.get(3)?,
                    compartments: r.get(4)?,
                    outcome: r.get(5)?,
                    peer: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn team_users(&mut self, team_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT user_id FROM users WHERE team_id = ?1 ORDER BY user_id")?;
        let rows = stmt
            .query_map([team_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    fn monitored_people(&mut self) -> Result<Vec<(String, Option<i64>)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT m.person_id, (SELECT max(r.taken_ms) FROM readings r WHERE r.person_id = m.person_id)
             FROM (SELECT DISTINCT person_id FROM monitors WHERE unregistered_ms IS NULL) m
             ORDER BY m.person_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn readings_of(
        &mut self,
        person_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StoredReading>> {
        let mut st = self.tx.prepare_cached(READINGS_OF)?;
        let rows = st.query_map(params![person_id, from_ms, to_ms], |r| {
            Ok(StoredReading {
                integration_id: r.get(0)?,
                kind: r.get(1)?,
                taken_ms: r.get(2)?,
                value: r.get(3)?,
                unit: r.get(4)?,
                serial: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn add_ingest_refusals(&mut self, refused: &[IngestRefusal]) -> Result<()> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO ingest_refusals (integration_id, at_ms, line, code, reason)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for r in refused {
            let line = i64::try_from(r.line).unwrap_or(i64::MAX);
            st.execute(params![r.integration_id, r.at_ms, line, r.code, r.reason])?;
        }
        Ok(())
    }

    fn ingest_refusal_counts(&mut self) -> Result<Vec<(String, u64)>> {
        let mut st = self.tx.prepare(
            "SELECT code, COUNT(*) FROM ingest_refusals GROUP BY code ORDER BY COUNT(*) DESC, code",
        )?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

fn integration_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IntegrationRow> {
    Ok(IntegrationRow {
        integration_id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        team_id: r.get(3)?,
        created_ms: r.get(4)?,
        revoked_ms: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The readings an upload re-reads come from the covering index alone, already in order.
    #[test]
    fn the_readings_of_a_span_are_read_from_the_covering_index_without_a_sort() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let conn = connect(&dir.path().join("server.db")).unwrap();
        drop(storage);
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {READINGS_OF}"))
            .unwrap()
            .query_map(params!["p", 0, 1], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join(" | ");
        assert!(plan.contains("COVERING INDEX readings_span"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
