//! Sync protocol version 1, as the first release's phones speak it. The server keeps answering
//! it until the operator's cut-off (docs/decisions/0001); nothing new is added here.

use serde::{Deserialize, Serialize};

use crate::record::Compartment;

pub const PROTOCOL_VERSION: u32 = 1;
pub const MEDIA_TYPE: &str = "application/vnd.doorstep.sync.v1+zstd";
pub const SYNC_PATH: &str = "/v1/sync";

/// One Automerge change of one compartment document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireChange {
    pub person_id: String,
    pub compartment: Compartment,
    pub bytes: Vec<u8>,
}

/// Device → server: everything the server has not acknowledged, and where to continue from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    /// The server cursor from the last response this device applied (0 at first).
    pub cursor: u64,
    /// Local changes not yet acknowledged, oldest first.
    pub changes: Vec<WireChange>,
    /// The largest response page the device wants, in uncompressed bytes of change data.
    pub max_page_bytes: u32,
    /// People the device purged on the server's instruction since its last sync (reported
    /// for the operator's audit).
    pub purged: Vec<String>,
}

/// Server → device: what the device lacks, a new cursor and any instructions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    /// How many of the uploaded changes were new to the server (the rest it already held).
    pub stored: u32,
    /// Changes the device lacks, dependencies first.
    pub changes: Vec<WireChange>,
    pub cursor: u64,
    /// More pages follow: ask again with `cursor`.
    pub more: bool,
    /// Changes still to come after this page (for progress).
    pub remaining: u64,
    pub instructions: Vec<Instruction>,
    /// Days without a sync after which the device locks itself.
    pub lock_after_days: u32,
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
}

#[cfg(test)]
mod tests {
    use super::super::{decode, encode, DecodeError, MAX_DECODED_BYTES};
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: 42,
            changes: vec![WireChange {
                person_id: "p".into(),
                compartment: Compartment::Clinical,
                bytes: vec![1, 2, 3],
            }],
            max_page_bytes: 1 << 20,
            purged: vec![],
        }
    }

    #[test]
    fn round_trip() {
        let r = request();
        assert_eq!(decode::<SyncRequest>(&encode(&r)).unwrap(), r);
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        let body = encode(&request());
        assert!(matches!(
            decode::<SyncRequest>(b"not zstd"),
            Err(DecodeError::Compression(_))
        ));
        assert!(decode::<SyncRequest>(&body[..body.len() / 2]).is_err());
        let junk = zstd::bulk::compress(b"\xff\xff\xff\xff\xff\xff\xff", 3).unwrap();
        assert!(matches!(
            decode::<SyncRequest>(&junk),
            Err(DecodeError::Format(_))
        ));
    }

    #[test]
    fn zip_bombs_are_refused() {
        let big = vec![0u8; MAX_DECODED_BYTES + 10];
        let body = zstd::bulk::compress(&big, 19).unwrap();
        assert!(body.len() < 1 << 20);
        assert_eq!(decode::<SyncRequest>(&body), Err(DecodeError::TooLarge));
    }
}
