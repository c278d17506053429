//! Talking to a real server as a broken or hostile client would: raw sync requests, and changes
//! forged by hand with a device's exact audit stamp.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ROOT};
use doorstep_core::record::layout::AuditStamp;
use doorstep_core::record::{Author, Compartment};
use doorstep_core::sync::protocol::{self, AppVersion, Change, Cursor, SyncRequest, SyncResponse};

use crate::Device;

/// A version-2 request carrying `changes`, from cursor 0.
pub fn request(changes: Vec<Change>) -> SyncRequest {
    SyncRequest {
        protocol: protocol::PROTOCOL_VERSION,
        app: AppVersion::current(),
        cursor: Cursor::default(),
        changes,
        max_page_bytes: 1 << 20,
        purged: vec![],
        quarantined: vec![],
    }
}

/// POST a sync request as `device`; the decoded answer, or the status and error text.
pub fn post(
    rt: &tokio::runtime::Runtime,
    device: &Device,
    request: &SyncRequest,
) -> Result<SyncResponse, (u16, String)> {
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{}{}", device.endpoint.url, protocol::SYNC_PATH))
            .bearer_auth(&device.endpoint.device_token)
            .header(
                protocol::VERSION_HEADER,
                protocol::PROTOCOL_VERSION.to_string(),
            )
            .header(reqwest::header::CONTENT_TYPE, protocol::MEDIA_TYPE)
            .body(protocol::encode(request))
            .send()
            .await
            .map_err(|e| (0, e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| (status, e.to_string()))?;
        if status != 200 {
            return Err((status, String::from_utf8_lossy(&body).to_string()));
        }
        protocol::decode(&body).map_err(|e| (status, e.to_string()))
    })
}

/// The device's author, now.
pub fn author(device: &Device) -> Author {
    Author {
        user_id: device.user.id.clone(),
        display_name: device.user.display_name.clone(),
        role: device.user.role,
        device_id: device.device_id.clone(),
        at: chrono::Utc::now(),
    }
}

/// One change putting `entries` (key, JSON text) into a fresh document with `actor`, stamped
/// with `stamp` at `time_ms`.
pub fn forge(
    person_id: &str,
    compartment: Compartment,
    actor: ActorId,
    stamp: &AuditStamp,
    time_ms: i64,
    entries: &[(&str, String)],
) -> Change {
    let mut doc = AutoCommit::new().with_actor(actor);
    for (k, v) in entries {
        doc.put(ROOT, *k, v.as_str()).expect("put");
    }
    let message = serde_json::to_string(stamp).expect("stamp");
    let hash = doc
        .commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(time_ms),
        )
        .expect("a change");
    Change {
        person_id: person_id.to_string(),
        compartment,
        bytes: doc
            .get_change_by_hash(&hash)
            .expect("made")
            .raw_bytes()
            .to_vec(),
    }
}
