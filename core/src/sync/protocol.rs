//! The sync wire format, shared by the client in this crate and the server (`doorstep-server`).
//! Sans-IO: types and their encoding only. See `docs/sync-protocol.md`.
//!
//! A body is a [postcard](https://docs.rs/postcard) encoding of the message, compressed with
//! zstd. Media type [`MEDIA_TYPE`]; the protocol version travels in the [`VERSION_HEADER`]
//! header and inside every message.

use serde::{Deserialize, Serialize};

use crate::record::Compartment;

pub const PROTOCOL_VERSION: u32 = 1;
pub const MEDIA_TYPE: &str = "application/vnd.doorstep.sync.v1+zstd";
pub const VERSION_HEADER: &str = "doorstep-protocol";
pub const SYNC_PATH: &str = "/v1/sync";
pub const ENROL_PATH: &str = "/v1/enrol";
/// The largest body either side accepts, compressed.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest body either side accepts, decompressed.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

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

/// Enrolment request (JSON): a one-time code from the operator and the store's actor id.
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

pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, DecodeError> {
    let raw = decompress_bounded(body)?;
    postcard::from_bytes(&raw).map_err(|e| DecodeError::Format(e.to_string()))
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
