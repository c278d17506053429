//! The sync wire format, shared by the client in this crate and the server (`doorstep-server`).
//! Sans-IO: types and their encoding only. See `docs/sync-protocol.md` and
//! `docs/decisions/0001-sync-protocol-v2.md`.
//!
//! A body is a [postcard](https://docs.rs/postcard) encoding of the message, compressed with
//! zstd and decoded with a bounded decompressor. Media type [`MEDIA_TYPE`]; the protocol version
//! travels in the [`VERSION_HEADER`] header and inside every message. postcard is not
//! self-describing: a field added to a message is a new protocol version.

pub mod v1;

use serde::{Deserialize, Serialize};

use crate::record::Compartment;

/// One Automerge change of one compartment document: the same type from the store to the wire.
pub use crate::store::ExportedChange as Change;

pub const PROTOCOL_VERSION: u32 = 2;
pub const MEDIA_TYPE: &str = "application/vnd.doorstep.sync.v2+zstd";
pub const VERSION_HEADER: &str = "doorstep-protocol";
pub const SYNC_PATH: &str = "/v2/sync";
pub const ENROL_PATH: &str = "/v1/enrol";
/// The largest body either side accepts, compressed.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest body either side accepts, decompressed.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

/// Which app wrote a request: its release and the record layout it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppVersion {
    pub release: String,
    pub layout: u32,
}

impl AppVersion {
    /// This build of the core.
    pub fn current() -> AppVersion {
        AppVersion {
            release: env!("CARGO_PKG_VERSION").to_string(),
            layout: crate::record::layout::LAYOUT_VERSION,
        }
    }
}

/// Where a device has read the server's log up to: every item whose effective sequence number is
/// at most `seq`, then the first `skip` items of the next group (a document entering scope whose
/// history is larger than one page is split across pages).
///
/// A `skip` with [`SNAPSHOT_PHASE`] set is a first sync by snapshots (docs/decisions/0010): a
/// device that holds nothing of the server's log asks `{seq: 0, skip: SNAPSHOT_PHASE}`, and the
/// server answers with the documents in scope as snapshots, each followed by the changes after
/// it, up to the log position `seq` of the answer; the rest of `skip` says which documents were
/// sent. Only the server reads it; the device keeps and sends back what it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub seq: u64,
    pub skip: u64,
}

/// The bit of [`Cursor::skip`] that marks a first sync by snapshots.
pub const SNAPSHOT_PHASE: u64 = 1 << 63;

impl Cursor {
    /// The cursor a device that holds nothing of the log starts from: ask for snapshots.
    pub fn first_sync() -> Cursor {
        Cursor {
            seq: 0,
            skip: SNAPSHOT_PHASE,
        }
    }

    pub fn in_snapshot_phase(&self) -> bool {
        self.skip & SNAPSHOT_PHASE != 0
    }
}

/// Which way a quarantined change was going when it was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Written on this device, refused by the server.
    Outgoing,
    /// Received from the server, refused by this device.
    Incoming,
}

/// A change a device put in quarantine, uploaded so that nothing lives only on one phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineReport {
    pub person_id: String,
    pub compartment: Compartment,
    pub direction: Direction,
    /// Hex hash of the change, if it could be decoded.
    pub change_hash: Option<String>,
    /// A short stable code (`record::validate::Refusal::code`, or a server refusal code).
    pub code: String,
    pub reason: String,
    pub summary: String,
    pub at_ms: i64,
    pub bytes: Vec<u8>,
}

/// Device → server: what the server has not acknowledged, and where to continue from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    pub app: AppVersion,
    pub cursor: Cursor,
    /// Local changes not yet acknowledged, oldest first.
    pub changes: Vec<Change>,
    /// The largest response page the device wants, in uncompressed bytes of change data.
    pub max_page_bytes: u32,
    /// People the device purged on the server's instruction since its last sync.
    pub purged: Vec<String>,
    /// Changes the device put in quarantine since its last sync.
    pub quarantined: Vec<QuarantineReport>,
}

/// Why the server refused one uploaded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// Index of the change in the request.
    pub index: u32,
    /// Hex hash, if the change could be decoded.
    pub hash: Option<String>,
    /// A short stable code: a `record::validate::Refusal::code`, or `out_of_scope`,
    /// `actor_seq_reused`, `missing_dependency`, `depends_on_refused`, `actor_of_another_device`.
    pub code: String,
    /// What a person can do about it.
    pub message: String,
}

/// The server's verdict on every uploaded change: stored, held already, or refused with a reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdicts {
    pub stored: u32,
    pub already_held: u32,
    pub refused: Vec<Refused>,
}

/// A compacted document (Automerge `save()`), sent in a first sync by snapshots: it holds every
/// change of the document up to the log position it covers (docs/decisions/0010).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub person_id: String,
    pub compartment: Compartment,
    pub bytes: Vec<u8>,
}

/// The per-request bounds the server enforces; the client splits its uploads to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    pub max_changes: u32,
    pub max_upload_bytes: u64,
    pub max_purged: u32,
    pub max_new_people: u32,
    pub max_quarantined: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_changes: 5_000,
            max_upload_bytes: 8 * 1024 * 1024,
            max_purged: 1_000,
            max_new_people: 500,
            max_quarantined: 200,
        }
    }
}

/// A change whose time, as the phone stamped it, is implausible by the server's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockNote {
    pub person_id: String,
    pub compartment: Compartment,
    pub hash: String,
    pub received_ms: i64,
}

/// Server → device: verdicts, what the device lacks, a new cursor and any instructions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    pub verdicts: Verdicts,
    /// Changes the device lacks, dependencies first.
    pub changes: Vec<Change>,
    pub snapshots: Vec<Snapshot>,
    pub cursor: Cursor,
    /// More pages follow: ask again with `cursor`.
    pub more: bool,
    /// Items still to come after this page (for progress).
    pub remaining: u64,
    pub instructions: Vec<Instruction>,
    /// Days without a sync after which the device locks itself.
    pub lock_after_days: u32,
    pub bounds: Bounds,
    /// A new device token; use it from the next request on.
    pub new_token: Option<String>,
    /// Changes in this page (or uploaded in this request) whose phone clock was implausible.
    pub clock_notes: Vec<ClockNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instruction {
    /// The person left this device's caseload: remove all their documents.
    Purge { person_id: String },
    /// One compartment is no longer readable (e.g. consent to share withdrawn).
    PurgeCompartment {
        person_id: String,
        compartment: Compartment,
    },
    /// The device was revoked: erase everything.
    Wipe,
    /// This store's Automerge actor reused a sequence number the server already holds (a phone
    /// restored from a backup): switch to a fresh actor and write the unsent work again.
    ResetActor,
}

/// Enrolment request (JSON): a one-time code from the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
}

/// Enrolment answer (JSON). The token is shown once; the server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: String,
    pub device_token: String,
    pub user: crate::record::User,
    pub lock_after_days: u32,
}

/// An error body (JSON), for people: what went wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the body is not valid zstd: {0}")]
    Compression(String),
    #[error("the body decompresses to more than {MAX_DECODED_BYTES} bytes")]
    TooLarge,
    #[error("the body is not a valid message: {0}")]
    Format(String),
}

/// postcard, then zstd.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // postcard to a Vec cannot fail for these types (no maps with non-string keys, no floats).
    let raw = postcard::to_stdvec(msg).unwrap_or_default();
    zstd::bulk::compress(&raw, 3).unwrap_or_default()
}

/// Decode a body, bounded in memory; never panics on foreign bytes.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, DecodeError> {
    let raw = decompress_bounded(body)?;
    std::panic::catch_unwind(|| postcard::from_bytes(&raw))
        .map_err(|_| DecodeError::Format("decoding failed".into()))?
        .map_err(|e| DecodeError::Format(e.to_string()))
}

fn decompress_bounded(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|e| DecodeError::Compression(e.to_string()))?;
    let mut out = Vec::new();
    let mut limited = decoder.take(MAX_DECODED_BYTES as u64 + 1);
    limited
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Compression(e.to_string()))?;
    if out.len() > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            protocol: PROTOCOL_VERSION,
            app: AppVersion::current(),
            cursor: Cursor { seq: 42, skip: 3 },
            changes: vec![Change {
                person_id: "p".into(),
                compartment: Compartment::Clinical,
                bytes: vec![1, 2, 3],
            }],
            max_page_bytes: 1 << 20,
            purged: vec![],
            quarantined: vec![],
        }
    }

    #[test]
    fn round_trip() {
        let r = request();
        assert_eq!(decode::<SyncRequest>(&encode(&r)).unwrap(), r);
    }

    #[test]
    fn a_v1_body_is_not_a_v2_request() {
        let v1 = v1::SyncRequest {
            protocol: 1,
            cursor: 1,
            changes: vec![],
            max_page_bytes: 1 << 20,
            purged: vec![],
        };
        assert!(decode::<SyncRequest>(&encode(&v1)).is_err());
    }

    /// Bounded run of random bodies through the decoder (the long run is `scripts/fuzz.sh`).
    #[test]
    fn random_bodies_never_panic_the_decoder() {
        let good = postcard::to_stdvec(&request()).unwrap();
        let mut rng = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut raw = good.clone();
            let pos = (rng as usize) % raw.len();
            raw[pos] = (rng >> 32) as u8;
            if rng.is_multiple_of(3) {
                raw.truncate(pos);
            }
            let body = zstd::bulk::compress(&raw, 1).unwrap();
            let _ = decode::<SyncRequest>(&body);
            let _ = decode::<SyncResponse>(&body);
        }
    }
}
