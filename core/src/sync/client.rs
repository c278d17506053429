//! The sync client: one HTTP round trip for a typical sync (send what the server lacks, receive
//! what the device lacks), paging for a large backlog, retries with backoff on network errors.
//! Each page is applied to the store in one transaction, so an interrupted sync loses nothing
//! and the next one carries on from the last page applied.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::protocol::{self, Instruction, SyncRequest, SyncResponse, WireChange};
use crate::error::{Error, Result};
use crate::record::ClinicalConflict;
use crate::store::{ExportedChange, FieldStore, SyncPage};

/// Where and as whom to sync.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncEndpoint {
    /// e.g. `https://sync.trust.nhs.uk` (no trailing path).
    pub url: String,
    /// The token this device received at enrolment (from the Keystore/Keychain).
    pub device_token: String,
}

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Largest response page to ask for (uncompressed change bytes).
    pub max_page_bytes: u32,
    /// Largest upload per request (uncompressed change bytes); a bigger outbox takes more trips.
    pub max_upload_bytes: usize,
    /// Attempts per request on network errors and 5xx answers.
    pub attempts: u32,
    /// First retry delay; doubled each time.
    pub backoff: Duration,
    pub timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_page_bytes: 4 * 1024 * 1024,
            max_upload_bytes: 4 * 1024 * 1024,
            attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Progress of a sync in flight, after each page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncProgressEvent {
    pub round_trips: u32,
    pub changes_sent: u64,
    pub changes_received: u64,
    /// Changes the server still has to send.
    pub remaining: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, event: &SyncProgressEvent);
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
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub round_trips: u32,
    pub duration_ms: u64,
}

fn to_wire(c: ExportedChange) -> WireChange {
    WireChange {
        person_id: c.person_id,
        compartment: c.compartment,
        bytes: c.bytes,
    }
}

fn from_wire(c: WireChange) -> ExportedChange {
    ExportedChange {
        person_id: c.person_id,
        compartment: c.compartment,
        bytes: c.bytes,
    }
}

fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Network(e.to_string()))
}

/// Enrol this device with a one-time code from the operator. Keep the returned token in the
/// Keystore/Keychain; it is shown once.
pub async fn enrol(url: &str, code: &str) -> Result<protocol::EnrolResponse> {
    let client = http_client(Duration::from_secs(30))?;
    let resp = client
        .post(format!(
            "{}{}",
            url.trim_end_matches('/'),
            protocol::ENROL_PATH
        ))
        .header(
            protocol::VERSION_HEADER,
            protocol::PROTOCOL_VERSION.to_string(),
        )
        .json(&protocol::EnrolRequest {
            code: code.trim().to_string(),
        })
        .send()
        .await
        .map_err(|e| Error::Network(e.to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return resp.json().await.map_err(|e| Error::Network(e.to_string()));
    }
    let body = resp.bytes().await.unwrap_or_default();
    Err(match status.as_u16() {
        401 | 403 | 404 | 410 => Error::EnrolmentRefused,
        _ => status_error(status.as_u16(), &body),
    })
}

/// Sync with default options.
pub async fn sync(
    store: &FieldStore,
    endpoint: &SyncEndpoint,
    progress: Option<&dyn SyncProgress>,
) -> Result<SyncReport> {
    sync_with(store, endpoint, &SyncOptions::default(), progress).await
}

/// Send every change the server lacks, receive every change this device lacks, apply
/// instructions (purge, wipe, lock). Returns [`Error::Wiped`] after erasing a revoked device.
pub async fn sync_with(
    store: &FieldStore,
    endpoint: &SyncEndpoint,
    options: &SyncOptions,
    progress: Option<&dyn SyncProgress>,
) -> Result<SyncReport> {
    let started = Instant::now();
    let client = http_client(options.timeout)?;
    let url = format!(
        "{}{}",
        endpoint.url.trim_end_matches('/'),
        protocol::SYNC_PATH
    );
    let mut report = SyncReport::default();
    let mut to_report: Vec<String> = Vec::new();
    loop {
        let outbox = store.sync_outbox(options.max_upload_bytes)?;
        let request = SyncRequest {
            protocol: protocol::PROTOCOL_VERSION,
            cursor: store.sync_cursor()?,
            changes: outbox.changes.iter().cloned().map(to_wire).collect(),
            max_page_bytes: options.max_page_bytes,
            purged: std::mem::take(&mut to_report),
        };
        let body = protocol::encode(&request);
        report.bytes_sent += body.len() as u64;
        let answer = post(&client, &url, &endpoint.device_token, body, options).await?;
        report.bytes_received += answer.len() as u64;
        report.round_trips += 1;
        let response: SyncResponse = protocol::decode(&answer)
            .map_err(|e| Error::Network(format!("the server's answer could not be read: {e}")))?;
        if response.protocol != protocol::PROTOCOL_VERSION {
            return Err(version_error(&response.protocol.to_string()));
        }
        if response.instructions.contains(&Instruction::Wipe) {
            store.wipe()?;
            return Err(Error::Wiped);
        }
        let page = page_of(
            response.clone(),
            (!outbox.changes.is_empty()).then_some(outbox.up_to),
        );
        let outcome = store.apply_sync_page(&page)?;
        report.changes_sent += outbox.changes.len() as u64;
        report.changes_received += outcome.import.new_changes as u64;
        report.people_added.extend(outcome.import.people_added);
        report.new_conflicts.extend(outcome.import.new_conflicts);
        report.purge_deferred.extend(outcome.purge_deferred);
        report.people_purged.extend(outcome.purged.iter().cloned());
        to_report = outcome.purged;
        if let Some(p) = progress {
            p.on_progress(&SyncProgressEvent {
                round_trips: report.round_trips,
                changes_sent: report.changes_sent,
                changes_received: report.changes_received,
                remaining: response.remaining,
                bytes_sent: report.bytes_sent,
                bytes_received: report.bytes_received,
            });
        }
        // Carry on while the server has more pages, the outbox was cut for size, or purges
        // still have to be reported to the server.
        if !response.more && !outbox.more && to_report.is_empty() {
            break;
        }
        if report.round_trips >= 100_000 {
            return Err(Error::Network(
                "the sync did not finish after 100,000 requests".into(),
            ));
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

fn page_of(r: SyncResponse, acked_up_to: Option<i64>) -> SyncPage {
    let mut page = SyncPage {
        changes: r.changes.into_iter().map(from_wire).collect(),
        cursor: r.cursor,
        acked_up_to,
        lock_after_days: r.lock_after_days,
        ..Default::default()
    };
    for i in r.instructions {
        match i {
            Instruction::Purge { person_id } => page.purge_people.push(person_id),
            Instruction::PurgeCompartment {
                person_id,
                compartment,
            } => page.purge_compartments.push((person_id, compartment)),
            Instruction::Wipe => {}
        }
    }
    page
}

/// POST a sync body, retrying network failures and 5xx answers with exponential backoff.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Vec<u8>,
    options: &SyncOptions,
) -> Result<Vec<u8>> {
    let mut delay = options.backoff;
    let mut last = String::new();
    for attempt in 1..=options.attempts.max(1) {
        let sent = client
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, protocol::MEDIA_TYPE)
            .header(
                protocol::VERSION_HEADER,
                protocol::PROTOCOL_VERSION.to_string(),
            )
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(bytes) if (200..300).contains(&status) => return Ok(bytes.to_vec()),
                    Ok(bytes) if status >= 500 || status == 429 => {
                        last = format!(
                            "server answered {status}: {}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                    Ok(bytes) => return Err(status_error(status, &bytes)),
                    Err(e) => last = format!("the answer was cut off: {e}"),
                }
            }
            Err(e) => last = e.to_string(),
        }
        if attempt < options.attempts {
            tracing::info!(attempt, error = %last, "sync request failed; retrying");
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    Err(Error::Network(last))
}

fn status_error(status: u16, body: &[u8]) -> Error {
    let parsed: Option<protocol::ErrorBody> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .map(|b| b.message.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
    match (status, parsed.as_ref().map(|b| b.code.as_str())) {
        (401, _) => Error::AuthFailed,
        (_, Some("protocol")) | (426, _) => version_error(&message),
        _ => Error::ServerRejected { status, message },
    }
}

fn version_error(server: &str) -> Error {
    Error::ProtocolMismatch {
        server: server.to_string(),
        app: protocol::PROTOCOL_VERSION,
        advice: "Update the app, or ask your administrator whether the server needs updating.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&protocol::ErrorBody {
            code: code.into(),
            message: message.into(),
        })
        .unwrap()
    }

    #[test]
    fn answers_map_to_errors_a_user_can_act_on() {
        assert!(matches!(status_error(401, b""), Error::AuthFailed));
        let e = status_error(426, &body("protocol", "this server speaks sync protocol 2"));
        assert!(matches!(e, Error::ProtocolMismatch { .. }), "{e}");
        assert!(e.to_string().contains("Update the app"), "{e}");
        let e = status_error(
            403,
            &body("forbidden", "person x is not on your team's caseload"),
        );
        assert!(matches!(e, Error::ServerRejected { status: 403, .. }));
        assert!(e.to_string().contains("not on your team's caseload"), "{e}");
        // A body that is not JSON is shown as text, cut short.
        let e = status_error(400, &[b'x'; 2000]);
        assert!(e.to_string().len() < 800, "{e}");
    }
}
