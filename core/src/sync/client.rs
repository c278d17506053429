//! The sync client: one HTTP round trip for a typical sync (send what the server lacks, receive
//! what the device lacks), paging for a large backlog, retries with backoff on network errors.
//! Each page is applied to the store in one transaction, so an interrupted sync loses nothing
//! and the next one carries on from the last page applied.

use std::time::{Duration, Instant};

use super::protocol::{self, SyncResponse};
use super::session::{version_error, Next, Session, SessionOptions, SyncProgressEvent, SyncReport};
use crate::error::{Error, Result};
use crate::store::FieldStore;

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
    /// Largest page to ask for while documents arrive whole (a first sync): bounds the phone's
    /// peak memory (`SessionOptions::max_snapshot_page_bytes`).
    pub max_snapshot_page_bytes: u32,
    /// Largest upload per request (uncompressed change bytes); a bigger outbox takes more trips.
    pub max_upload_bytes: usize,
    /// Attempts per request on network errors and 5xx answers.
    pub attempts: u32,
    /// First retry delay; doubled each time.
    pub backoff: Duration,
    pub timeout: Duration,
    /// An HTTP client to reuse across syncs (`transport::kept_client`): no set-up per sync, and
    /// its open connection is used again. `None` makes one for this sync.
    pub http: Option<reqwest::Client>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_page_bytes: 8 * 1024 * 1024,
            max_snapshot_page_bytes: super::session::SNAPSHOT_PAGE_BYTES,
            max_upload_bytes: 4 * 1024 * 1024,
            attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
            http: None,
        }
    }
}

pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, event: &SyncProgressEvent);
}

fn http_client(url: &str, timeout: Duration) -> Result<reqwest::Client> {
    super::transport::check_url(url)?;
    super::transport::client(timeout)
}

/// Enrol this device with a one-time code from the operator. Keep the returned token in the
/// Keystore/Keychain; it is shown once.
pub async fn enrol(url: &str, code: &str) -> Result<protocol::EnrolResponse> {
    let client = http_client(url, Duration::from_secs(30))?;
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
/// The protocol is [`Session`]'s; this function only carries its messages over HTTP.
pub async fn sync_with(
    store: &FieldStore,
    endpoint: &SyncEndpoint,
    options: &SyncOptions,
    progress: Option<&dyn SyncProgress>,
) -> Result<SyncReport> {
    let started = Instant::now();
    let client = match &options.http {
        Some(kept) => {
            super::transport::check_url(&endpoint.url)?;
            kept.clone()
        }
        None => http_client(&endpoint.url, options.timeout)?,
    };
    let url = format!(
        "{}{}",
        endpoint.url.trim_end_matches('/'),
        protocol::SYNC_PATH
    );
    let mut session = Session::new(SessionOptions {
        max_page_bytes: options.max_page_bytes,
        max_snapshot_page_bytes: options.max_snapshot_page_bytes,
        max_upload_bytes: options.max_upload_bytes,
        ..SessionOptions::default()
    });
    let mut request = session.start(store)?;
    loop {
        let body = protocol::encode(&request);
        // A rotated token (`SyncReport::new_token`) is used only from the next sync, once the app
        // has stored it: the old one keeps working until then, so a sync cut off after the
        // hand-over never locks the phone out.
        let token = &endpoint.device_token;
        let sent_at = std::time::Instant::now();
        let answer = match post(&client, &url, token, body.clone(), options).await {
            // Too large for this server: send the same in smaller pieces.
            Err(Error::ServerRejected {
                status: 413,
                message,
            }) => match session.too_large(store)? {
                Some(smaller) => {
                    request = smaller;
                    continue;
                }
                None => {
                    return Err(Error::ServerRejected {
                        status: 413,
                        message,
                    })
                }
            },
            other => other?,
        };
        session.note_bytes(body.len() as u64, answer.len() as u64);
        session.note_link(body.len() as u64, sent_at.elapsed());
        let response: SyncResponse = protocol::decode(&answer)
            .map_err(|e| Error::Network(format!("the server's answer could not be read: {e}")))?;
        let next = session.receive(store, response)?;
        if let Some(p) = progress {
            p.on_progress(&session.progress());
        }
        match next {
            Next::Request(r) => request = *r,
            Next::Done(mut report) => {
                report.duration_ms = started.elapsed().as_millis() as u64;
                return Ok(report);
            }
        }
    }
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
                if let Some(wait) = super::transport::retry_after(resp.headers()) {
                    // The server said when to come back (429, 503): wait that long, not less.
                    delay = delay.max(wait);
                }
                match super::transport::read_capped(resp).await {
                    Ok(bytes) if (200..300).contains(&status) => return Ok(bytes),
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
