//! One sync as a sans-IO state machine, in the manner of Automerge's
//! `generate_sync_message`/`receive_sync_message`: [`Session::start`] gives the first request,
//! [`Session::receive`] applies a response to the store and gives the next request or the report.
//! The HTTP client, the load generator, the benchmarks and the tests all drive this one session;
//! retries, back-off and bytes on the wire belong to whoever carries the messages.

use serde::{Deserialize, Serialize};

use super::protocol::{
    AppVersion, Bounds, Cursor, Direction, Instruction, QuarantineReport, SyncRequest,
    SyncResponse, PROTOCOL_VERSION,
};
use crate::error::{Error, Result};
use crate::record::ClinicalConflict;
use crate::store::{FieldStore, RefusedLocal, SyncPage};

/// Progress of a sync in flight, after each page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncProgressEvent {
    pub round_trips: u32,
    pub changes_sent: u64,
    pub changes_received: u64,
    /// Items the server still has to send.
    pub remaining: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncReport {
    pub changes_sent: u64,
    /// Changes received that this device did not hold.
    pub changes_received: u64,
    pub people_added: Vec<String>,
    pub people_purged: Vec<String>,
    /// People whose removal waits until this device's changes to them reach the server.
    pub purge_deferred: Vec<String>,
    pub new_conflicts: Vec<ClinicalConflict>,
    /// Changes (sent or received) that went into quarantine during this sync: the clinician
    /// sees them in `FieldStore::quarantine()`.
    pub quarantined: u64,
    /// This device's unsent entries written again after the server refused an earlier change.
    pub rewritten: u64,
    /// A new device token from the server: keep it in the Keystore/Keychain in place of the old.
    pub new_token: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub round_trips: u32,
    pub duration_ms: u64,
}

/// What the session wants next.
#[derive(Debug)]
pub enum Next {
    Request(Box<SyncRequest>),
    Done(SyncReport),
}

/// A request that took longer than this (seconds) marks the link as slow.
const SLOW_REQUEST_SECS: f64 = 10.0;
/// The default [`SessionOptions::max_snapshot_page_bytes`]: about 100 people with a year of
/// visits each, ~110 MB once loaded (each MB of such a page adds ~55 MB to the phone's peak
/// memory: docs/performance.md, "Bounded memory").
pub const SNAPSHOT_PAGE_BYTES: u32 = 2 * 1024 * 1024;
/// Uploads are never made smaller than this.
const MIN_UPLOAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Largest response page to ask for (uncompressed change bytes).
    pub max_page_bytes: u32,
    /// Largest page to ask for while documents arrive whole, as snapshots (a first sync): a
    /// page's documents are held in memory together, and a compact snapshot unfolds to many
    /// times its size, so this bounds the phone's peak memory.
    pub max_snapshot_page_bytes: u32,
    /// Largest upload per request (uncompressed change bytes); the server's bounds may lower it.
    pub max_upload_bytes: usize,
    /// A sync that has not finished after this many requests stops with an error.
    pub max_round_trips: u32,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            max_page_bytes: 8 * 1024 * 1024,
            max_snapshot_page_bytes: SNAPSHOT_PAGE_BYTES,
            max_upload_bytes: 4 * 1024 * 1024,
            max_round_trips: 100_000,
        }
    }
}

/// What one request carried, to match the response against.
#[derive(Debug, Default)]
struct InFlight {
    seqs: Vec<i64>,
    up_to: Option<i64>,
    more_outbox: bool,
    quarantine_up_to: Option<i64>,
    more_quarantine: bool,
    purged_left: bool,
}

/// One sync of one store.
#[derive(Debug)]
pub struct Session {
    options: SessionOptions,
    bounds: Bounds,
    report: SyncReport,
    to_report: Vec<String>,
    in_flight: InFlight,
    remaining: u64,
    /// Progress as of the last response applied (kept when the report is handed over).
    last: SyncProgressEvent,
    /// At most this many changes per request, after the server said a request was too large.
    shrunk_to: Option<usize>,
}

impl Session {
    pub fn new(options: SessionOptions) -> Session {
        Session {
            options,
            bounds: Bounds::default(),
            report: SyncReport::default(),
            to_report: Vec::new(),
            in_flight: InFlight::default(),
            remaining: 0,
            last: SyncProgressEvent::default(),
            shrunk_to: None,
        }
    }

    /// The first request.
    pub fn start(&mut self, store: &FieldStore) -> Result<SyncRequest> {
        self.next_request(store)
    }

    /// Progress as of the last response applied (bytes are the transport's to fill in with
    /// [`Session::note_bytes`] before it hands the response over).
    pub fn progress(&self) -> SyncProgressEvent {
        self.last.clone()
    }

    fn snapshot(&self) -> SyncProgressEvent {
        SyncProgressEvent {
            round_trips: self.report.round_trips,
            changes_sent: self.report.changes_sent,
            changes_received: self.report.changes_received,
            remaining: self.remaining,
            bytes_sent: self.report.bytes_sent,
            bytes_received: self.report.bytes_received,
        }
    }

    /// The transport's count of bytes for one round trip.
    pub fn note_bytes(&mut self, sent: u64, received: u64) {
        self.report.bytes_sent += sent;
        self.report.bytes_received += received;
    }

    /// The new token the server handed over in this session, if it rotated it: the app stores
    /// it (Keystore/Keychain) and uses it from the next sync on.
    pub fn token(&self) -> Option<&str> {
        self.report.new_token.as_deref()
    }

    /// How long the last request took to send and answer, and how many bytes it sent. On a slow
    /// link (rural 2G is ~20 kB/s) the uploads that follow are made smaller, so that each request
    /// finishes well inside the server's minimum body rate and a cut connection loses little.
    pub fn note_link(&mut self, sent_bytes: u64, elapsed: std::time::Duration) {
        let secs = elapsed.as_secs_f64();
        if secs < SLOW_REQUEST_SECS || sent_bytes < MIN_UPLOAD_BYTES as u64 {
            return;
        }
        // Aim for a request of about `SLOW_REQUEST_SECS / 2` at the rate just seen.
        let rate = sent_bytes as f64 / secs;
        let target = (rate * SLOW_REQUEST_SECS / 2.0) as usize;
        self.options.max_upload_bytes =
            target.clamp(MIN_UPLOAD_BYTES, self.options.max_upload_bytes);
    }

    /// The most change bytes the next request will carry (the app's limit, lowered on a slow
    /// link; the server's bounds may lower it again).
    pub fn upload_limit(&self) -> usize {
        self.options
            .max_upload_bytes
            .min(self.bounds.max_upload_bytes as usize)
    }

    /// The server refused the last request as too large (413): send the same in smaller pieces.
    /// Returns the smaller request, or `None` when it was already one change (nothing to split).
    pub fn too_large(&mut self, store: &FieldStore) -> Result<Option<SyncRequest>> {
        let sent = self.in_flight.seqs.len();
        if sent <= 1 {
            return Ok(None);
        }
        self.shrunk_to = Some((sent / 2).max(1));
        // Purge reports not acknowledged go out again.
        Ok(Some(self.next_request(store)?))
    }

    /// Apply a response to the store, and say what to send next.
    pub fn receive(&mut self, store: &FieldStore, response: SyncResponse) -> Result<Next> {
        if response.protocol != PROTOCOL_VERSION {
            return Err(version_error(&response.protocol.to_string()));
        }
        self.report.round_trips += 1;
        if response.instructions.contains(&Instruction::Wipe) {
            store.wipe()?;
            return Err(Error::Wiped);
        }
        self.bounds = response.bounds;
        if let Some(t) = &response.new_token {
            self.report.new_token = Some(t.clone());
        }
        self.remaining = response.remaining;
        let more = response.more;
        let page = self.page_of(response);
        let outcome = store.apply_sync_page(&page)?;
        let sent = self.in_flight.seqs.len() as u64 - page.refused.len() as u64;
        self.report.changes_sent += sent;
        self.report.changes_received += outcome.import.new_changes;
        self.report.quarantined += outcome.import.quarantined + outcome.quarantined_outgoing;
        self.report.rewritten += outcome.rewritten as u64;
        self.report.people_added.extend(outcome.import.people_added);
        self.report
            .new_conflicts
            .extend(outcome.import.new_conflicts);
        self.report.purge_deferred.extend(outcome.purge_deferred);
        self.report
            .people_purged
            .extend(outcome.purged.iter().cloned());
        self.to_report.extend(outcome.purged);
        // Entries written again must be sent, and new quarantine entries reported, in this sync.
        let again = outcome.rewritten > 0
            || outcome.quarantined_outgoing > 0
            || outcome.import.quarantined > 0;
        self.last = self.snapshot();
        let f = &self.in_flight;
        // Carry on while the server has more pages, the outbox or quarantine was cut to fit,
        // entries were written again, or purges still have to be reported.
        if !more
            && !f.more_outbox
            && !f.more_quarantine
            && !f.purged_left
            && !again
            && self.to_report.is_empty()
        {
            return Ok(Next::Done(std::mem::take(&mut self.report)));
        }
        if self.report.round_trips >= self.options.max_round_trips {
            return Err(Error::Network(format!(
                "the sync did not finish after {} requests; it will carry on from here next time",
                self.report.round_trips
            )));
        }
        Ok(Next::Request(Box::new(self.next_request(store)?)))
    }

    fn next_request(&mut self, store: &FieldStore) -> Result<SyncRequest> {
        let limit = self
            .options
            .max_upload_bytes
            .min(self.bounds.max_upload_bytes as usize);
        let mut outbox = store.sync_outbox(limit)?;
        let keep = self.fit(&outbox.changes);
        if keep < outbox.changes.len() {
            outbox.changes.truncate(keep);
            outbox.seqs.truncate(keep);
            outbox.up_to = outbox.seqs.last().copied().unwrap_or(0);
            outbox.more = true;
        }
        let quarantine_limit = self.bounds.max_quarantined as usize;
        let reports = store.unreported_quarantine(quarantine_limit + 1)?;
        let more_quarantine = reports.len() > quarantine_limit;
        let reports: Vec<_> = reports.into_iter().take(quarantine_limit).collect();
        let purged_take = self.to_report.len().min(self.bounds.max_purged as usize);
        let purged: Vec<String> = self.to_report.drain(..purged_take).collect();
        let (seq, skip) = store.sync_position()?;
        // A store that holds nothing of the server's log asks for a first sync by snapshots.
        let cursor = if (seq, skip) == (0, 0) {
            Cursor::first_sync()
        } else {
            Cursor { seq, skip }
        };
        self.in_flight = InFlight {
            up_to: (!outbox.changes.is_empty()).then_some(outbox.up_to),
            seqs: outbox.seqs,
            more_outbox: outbox.more,
            quarantine_up_to: reports.last().map(|r| r.id),
            more_quarantine,
            purged_left: !self.to_report.is_empty(),
        };
        Ok(SyncRequest {
            protocol: PROTOCOL_VERSION,
            app: AppVersion::current(),
            cursor,
            changes: outbox.changes,
            max_page_bytes: if cursor.in_snapshot_phase() {
                self.options
                    .max_page_bytes
                    .min(self.options.max_snapshot_page_bytes)
            } else {
                self.options.max_page_bytes
            },
            purged,
            quarantined: reports.into_iter().map(report_of).collect(),
        })
    }

    /// How many of the outbox's changes fit the server's bounds: changes per request, and
    /// distinct people (a person new to the server counts against its new-people bound).
    fn fit(&self, changes: &[super::protocol::Change]) -> usize {
        let max_changes =
            (self.bounds.max_changes.max(1) as usize).min(self.shrunk_to.unwrap_or(usize::MAX));
        let max_people = self.bounds.max_new_people.max(1) as usize;
        let mut people = std::collections::HashSet::new();
        for (i, c) in changes.iter().enumerate() {
            if i >= max_changes {
                return i;
            }
            people.insert(c.person_id.as_str());
            if people.len() > max_people {
                return i;
            }
        }
        changes.len()
    }

    fn page_of(&self, r: SyncResponse) -> SyncPage {
        let refused = r
            .verdicts
            .refused
            .iter()
            .filter_map(|x| {
                let seq = *self.in_flight.seqs.get(x.index as usize)?;
                Some(RefusedLocal {
                    seq,
                    code: x.code.clone(),
                    message: x.message.clone(),
                })
            })
            .collect();
        let mut page = SyncPage {
            changes: r.changes,
            snapshots: r.snapshots,
            cursor: r.cursor.seq,
            cursor_skip: r.cursor.skip,
            acked_up_to: self.in_flight.up_to,
            refused,
            reset_actor: r.instructions.contains(&Instruction::ResetActor),
            quarantine_reported_up_to: self.in_flight.quarantine_up_to,
            clock_notes: r
                .clock_notes
                .into_iter()
                .map(|n| (n.person_id, n.compartment, n.hash, n.received_ms))
                .collect(),
            lock_after_days: r.lock_after_days,
            // The session carries on (more pages, or more outbox to send): projections wait.
            more_pages: r.more || self.in_flight.more_outbox || self.in_flight.more_quarantine,
            ..Default::default()
        };
        for i in r.instructions {
            match i {
                Instruction::Purge { person_id } => page.purge_people.push(person_id),
                Instruction::PurgeCompartment {
                    person_id,
                    compartment,
                } => page.purge_compartments.push((person_id, compartment)),
                Instruction::Wipe | Instruction::ResetActor => {}
            }
        }
        page
    }
}

fn report_of(u: crate::store::UnreportedQuarantine) -> QuarantineReport {
    QuarantineReport {
        person_id: u.entry.person_id,
        compartment: u.entry.compartment,
        direction: if u.entry.direction == "incoming" {
            Direction::Incoming
        } else {
            Direction::Outgoing
        },
        change_hash: u.hash,
        code: u.entry.code,
        reason: u.entry.reason,
        summary: u.entry.summary,
        at_ms: u.entry.at_ms,
        bytes: u.bytes,
    }
}

pub(crate) fn version_error(server: &str) -> Error {
    Error::ProtocolMismatch {
        server: server.to_string(),
        app: PROTOCOL_VERSION,
        advice: "Update the app, or ask your administrator whether the server needs updating.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A 4 MB upload that took 200 s (20 kB/s, rural 2G) makes the next uploads ~100 kB; a fast
    /// or small request changes nothing; never below 64 kB.
    #[test]
    fn a_slow_link_makes_the_next_uploads_smaller() {
        let mut s = Session::new(SessionOptions::default());
        let full = s.upload_limit();
        s.note_link(4_000_000, Duration::from_secs(2));
        assert_eq!(s.upload_limit(), full, "fast");
        s.note_link(10_000, Duration::from_secs(60));
        assert_eq!(s.upload_limit(), full, "small");
        s.note_link(4_000_000, Duration::from_secs(200));
        assert_eq!(s.upload_limit(), 100_000);
        s.note_link(100_000, Duration::from_secs(100));
        assert_eq!(s.upload_limit(), MIN_UPLOAD_BYTES);
    }

    /// While documents arrive whole (a first sync) the phone asks for the smaller snapshot
    /// page, which bounds its memory; after that, for the ordinary page.
    #[test]
    fn a_first_sync_asks_for_pages_its_memory_can_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::testing::open(
            &dir.path().join("p.db"),
            "p",
            crate::record::Role::DistrictNurse,
        );
        let options = SessionOptions::default();
        let first = Session::new(options.clone()).start(&store).unwrap();
        assert!(first.cursor.in_snapshot_phase());
        assert_eq!(first.max_page_bytes, SNAPSHOT_PAGE_BYTES);
        assert!(SNAPSHOT_PAGE_BYTES < options.max_page_bytes);
        store
            .apply_sync_page(&crate::store::SyncPage {
                cursor: 5,
                lock_after_days: 14,
                ..Default::default()
            })
            .unwrap();
        let later = Session::new(options.clone()).start(&store).unwrap();
        assert!(!later.cursor.in_snapshot_phase());
        assert_eq!(later.max_page_bytes, options.max_page_bytes);
    }
}
