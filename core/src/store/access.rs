//! Whether the store may be used: not after the server told the device to wipe itself, and not
//! when the device has gone too long without syncing (lost-phone protection).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};

const DAY_MS: i64 = 24 * 3600 * 1000;

pub struct Access {
    wiped: AtomicBool,
    /// Milliseconds since the epoch of the last successful sync (0: never synced).
    last_sync_ms: AtomicI64,
    /// Days without a sync after which the store locks (0: never), as the server last said.
    lock_after_days: AtomicI64,
}

fn meta_i64(conn: &Connection, key: &str) -> Result<i64> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

impl Access {
    pub fn load(conn: &Connection) -> Result<Access> {
        Ok(Access {
            wiped: AtomicBool::new(false),
            last_sync_ms: AtomicI64::new(meta_i64(conn, "last_sync_ms")?),
            lock_after_days: AtomicI64::new(meta_i64(conn, "lock_after_days")?),
        })
    }

    /// Refuse use of a wiped or locked store.
    pub fn check(&self, now: DateTime<Utc>) -> Result<()> {
        if self.wiped.load(Ordering::SeqCst) {
            return Err(Error::Wiped);
        }
        self.check_lock(now)
    }

    pub fn check_lock(&self, now: DateTime<Utc>) -> Result<()> {
        let days = self.lock_after_days.load(Ordering::SeqCst);
        let last = self.last_sync_ms.load(Ordering::SeqCst);
        if days > 0 && last > 0 && now.timestamp_millis() - last > days * DAY_MS {
            return Err(Error::Locked { days: days as u32 });
        }
        Ok(())
    }

    pub fn check_not_wiped(&self) -> Result<()> {
        if self.wiped.load(Ordering::SeqCst) {
            return Err(Error::Wiped);
        }
        Ok(())
    }

    /// Record a successful sync (in the caller's transaction) and unlock.
    pub fn record_sync(
        &self,
        tx: &rusqlite::Transaction<'_>,
        at: DateTime<Utc>,
        lock_after_days: u32,
    ) -> Result<()> {
        let ms = at.timestamp_millis();
        for (k, v) in [
            ("last_sync_ms", ms),
            ("lock_after_days", i64::from(lock_after_days)),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rusqlite::params![k, v.to_string()],
            )?;
        }
        Ok(())
    }

    /// After the transaction that recorded the sync has committed.
    pub fn synced(&self, at: DateTime<Utc>, lock_after_days: u32) {
        self.last_sync_ms
            .store(at.timestamp_millis(), Ordering::SeqCst);
        self.lock_after_days
            .store(i64::from(lock_after_days), Ordering::SeqCst);
    }

    pub fn mark_wiped(&self) {
        self.wiped.store(true, Ordering::SeqCst);
    }
}
