//! Per-request bounds and rate limits, and the counters behind them (docs/decisions/0006: no
//! state only in a process).
//!
//! - Request counts per device and per address use **fixed one-minute windows** in the database
//!   table `rate_counters` (subject, window start), incremented with one upsert. So that a
//!   read-only sync does not write, each process counts locally and flushes its counts at most
//!   once a second ([`Counters::flush`]); a request is refused when the shared count last read
//!   plus this process's unflushed count reaches the limit. Error bound: one second of traffic
//!   per process.
//! - Wrong enrolment codes per address are counted in the database at once (they are rare, and
//!   refusing them is the point); successful enrolments do not count.
//! - Last-sync times are batched the same way: a read-only sync never takes the writer.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Result, ServerError};
use crate::storage::Storage;

/// Every bound and rate a request is held to. `Default` gives the documented defaults
/// (docs/operations.md); each has a `doorstep serve` flag.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A body announced (Content-Length) or found larger than this is refused with 413 (16 MiB,
    /// compressed).
    pub max_body_bytes: usize,
    /// A body must arrive at no less than this many bytes a second on average, after
    /// `body_grace_s` (rural 2G is about 20 kB/s; default 1 kB/s).
    pub min_body_rate: u64,
    pub body_grace_s: u64,
    /// Changes in one request (413 above).
    pub max_changes: usize,
    /// Bytes of changes in one request, decoded (413 above; default 32 MiB).
    pub max_upload_bytes: usize,
    /// Purged person ids reported in one request (413 above).
    pub max_purged: usize,
    /// People new to the server created by one request (413 above).
    pub max_new_people: usize,
    /// Sync requests per device per minute (429 above).
    pub device_per_minute: u64,
    /// Requests per client address per minute, sync and enrolment (429 above).
    pub address_per_minute: u64,
    /// `POST /v1/readings` requests per integration credential per minute (429 above; default
    /// 12,000: 200 a second, twice what 10,000 readings a second in batches of 100 needs).
    pub integration_per_minute: u64,
    /// Wrong enrolment codes per address per minute before enrolment answers 429 (default 20).
    pub enrol_failures_per_minute: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: doorstep_core::sync::protocol::MAX_BODY_BYTES,
            min_body_rate: 1024,
            body_grace_s: 10,
            max_changes: crate::sync::MAX_CHANGES_PER_REQUEST,
            max_upload_bytes: 32 * 1024 * 1024,
            max_purged: 10_000,
            max_new_people: 5_000,
            device_per_minute: 120,
            address_per_minute: 6_000,
            integration_per_minute: 12_000,
            enrol_failures_per_minute: 20,
        }
    }
}

impl Limits {
    /// How long a body of `len` bytes may take to arrive.
    pub fn body_deadline(&self, len: usize) -> std::time::Duration {
        let rate = self.min_body_rate.max(1);
        std::time::Duration::from_secs(self.body_grace_s + (len as u64).div_ceil(rate))
    }
}

pub const WINDOW_MS: i64 = 60_000;

pub fn window_start(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(WINDOW_MS)
}

/// Seconds until the window holding `now_ms` ends (at least 1).
pub fn retry_after_s(now_ms: i64) -> u64 {
    let end = window_start(now_ms) + WINDOW_MS;
    ((end - now_ms).max(1) as u64).div_ceil(1000)
}

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    window: i64,
    /// Counted here, not yet added to the database.
    unflushed: u64,
    /// The database's count for this window when last flushed or read.
    shared: u64,
}

/// Request counters of this process, flushed to the database once a second.
#[derive(Default)]
pub struct Counters {
    counts: Mutex<HashMap<String, Count>>,
    last_seen: Mutex<HashMap<String, i64>>,
}

impl Counters {
    /// Count one request by `subject` (e.g. `dev:<id>`, `ip:<addr>`); refuse it if the window's
    /// count reaches `limit`. A refused request is not counted.
    pub fn hit(&self, subject: &str, limit: u64, now_ms: i64) -> std::result::Result<(), u64> {
        let w = window_start(now_ms);
        let Ok(mut counts) = self.counts.lock() else {
            return Ok(());
        };
        let c = counts.entry(subject.to_string()).or_default();
        if c.window != w {
            *c = Count {
                window: w,
                unflushed: 0,
                shared: 0,
            };
        }
        if c.shared + c.unflushed >= limit {
            return Err(retry_after_s(now_ms));
        }
        c.unflushed += 1;
        Ok(())
    }

    /// Remember that a device synced at `now_ms` (written by the next flush).
    pub fn seen(&self, device_id: &str, now_ms: i64) {
        if let Ok(mut s) = self.last_seen.lock() {
            s.insert(device_id.to_string(), now_ms);
        }
    }

    /// Add local counts to the shared ones and learn the totals; write batched last-sync times.
    /// One write transaction, or none if there is nothing to write. Blocking.
    pub fn flush(&self, storage: &Storage, now_ms: i64) -> Result<()> {
        let pending: Vec<(String, i64, u64)> = match self.counts.lock() {
            Ok(mut counts) => {
                let w = window_start(now_ms);
                counts.retain(|_, c| c.window == w || c.unflushed > 0);
                counts
                    .iter()
                    .filter(|(_, c)| c.unflushed > 0)
                    .map(|(s, c)| (s.clone(), c.window, c.unflushed))
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        let seen: Vec<(String, i64)> = match self.last_seen.lock() {
            Ok(mut s) => s.drain().collect(),
            Err(_) => Vec::new(),
        };
        if pending.is_empty() && seen.is_empty() {
            return Ok(());
        }
        let prune = now_ms.rem_euclid(WINDOW_MS) < 1000;
        let totals = storage.write(|tx| {
            let mut totals = Vec::with_capacity(pending.len());
            for (subject, window, n) in &pending {
                totals.push(tx.bump_counter(subject, *window, *n)?);
            }
            tx.touch_devices(&seen)?;
            if prune {
                tx.prune_counters(window_start(now_ms) - WINDOW_MS)?;
            }
            Ok(totals)
        });
        let totals = match totals {
            Ok(t) => t,
            Err(e) => {
                // Keep the last-sync times for the next flush; the counts stay unflushed.
                if let Ok(mut s) = self.last_seen.lock() {
                    for (d, t) in seen {
                        s.entry(d).or_insert(t);
                    }
                }
                return Err(e);
            }
        };
        if let Ok(mut counts) = self.counts.lock() {
            for ((subject, window, n), total) in pending.iter().zip(totals) {
                if let Some(c) = counts.get_mut(subject) {
                    if c.window == *window {
                        c.unflushed = c.unflushed.saturating_sub(*n);
                        c.shared = total;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Enrolment attempts from one address: refused with 429 once `limit` wrong codes were counted
/// in the current window (by any process). Run inside the enrolment's write transaction.
pub fn enrol_allowed(
    tx: &mut dyn crate::storage::Tx,
    address: &str,
    limit: u64,
    now_ms: i64,
) -> Result<()> {
    let subject = format!("enrol-fail:{address}");
    if tx.counter(&subject, window_start(now_ms))? >= limit {
        return Err(ServerError::RateLimited {
            what: "too many wrong enrolment codes from this address".into(),
            retry_after_s: retry_after_s(now_ms),
        });
    }
    Ok(())
}

pub fn count_enrol_failure(
    tx: &mut dyn crate::storage::Tx,
    address: &str,
    now_ms: i64,
) -> Result<u64> {
    tx.bump_counter(&format!("enrol-fail:{address}"), window_start(now_ms), 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStorage;

    #[test]
    fn windows_and_retry_after() {
        assert_eq!(window_start(125_000), 120_000);
        assert_eq!(retry_after_s(120_000), 60);
        assert_eq!(retry_after_s(179_500), 1);
        let l = Limits::default();
        assert_eq!(l.body_deadline(0).as_secs(), 10);
        assert_eq!(l.body_deadline(16 * 1024 * 1024).as_secs(), 10 + 16 * 1024);
    }

    /// Two processes' counters share one database: each refuses once the shared count (as of
    /// its last flush) plus its own unflushed count reaches the limit.
    #[test]
    fn counts_are_shared_through_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap());
        let (a, b) = (Counters::default(), Counters::default());
        let now = 600_000;
        for _ in 0..6 {
            a.hit("dev:x", 10, now).unwrap();
        }
        a.seen("d1", now);
        a.flush(&s, now + 10).unwrap();
        assert_eq!(s.read(|tx| tx.counter("dev:x", now)).unwrap(), 6);
        for _ in 0..3 {
            b.hit("dev:x", 10, now + 20).unwrap();
        }
        b.flush(&s, now + 30).unwrap();
        assert_eq!(s.read(|tx| tx.counter("dev:x", now)).unwrap(), 9);
        // b knows 9 now: one more, then refused, with the seconds left in the window.
        b.hit("dev:x", 10, now + 40).unwrap();
        assert_eq!(b.hit("dev:x", 10, now + 40), Err(60));
        // a learns the total at its next flush.
        a.hit("dev:x", 10, now + 50).unwrap();
        a.flush(&s, now + 60).unwrap();
        assert!(a.hit("dev:x", 10, now + 70).is_err());
        // A new window starts from nothing.
        a.hit("dev:x", 10, now + WINDOW_MS).unwrap();
        assert!(a.hit("dev:other", 10, now + 70).is_ok());
    }
}
