//! The HTTP surface (axum): `POST /v1/sync` (binary, zstd), `POST /v1/enrol` (JSON),
//! `GET /v1/health`. Blocking storage work runs on tokio's blocking pool.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use doorstep_core::sync::protocol::{
    self, v1, Bounds, Cursor, EnrolRequest, EnrolResponse, Instruction, SyncRequest,
    PROTOCOL_VERSION,
};

use crate::admin::now_ms;
use crate::auth;
use crate::docs::ServerDocs;
use crate::error::{Result, ServerError};
use crate::storage::{DeviceRow, Storage};
use crate::sync;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Days without a sync after which a device locks itself.
    pub lock_after_days: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            lock_after_days: 14,
        }
    }
}

pub struct App {
    pub storage: Storage,
    pub config: ServerConfig,
    /// Warm documents the server applies changes to (a cache of the log; docs/decisions/0003).
    pub docs: ServerDocs,
}

impl App {
    pub fn new(storage: Storage, config: ServerConfig) -> App {
        App {
            storage,
            config,
            docs: ServerDocs::new(2_000),
        }
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(protocol::SYNC_PATH, post(sync_handler))
        .route(v1::SYNC_PATH, post(sync_v1_handler))
        .route(protocol::ENROL_PATH, post(enrol_handler))
        .route("/v1/health", get(health))
        .layer(DefaultBodyLimit::max(protocol::MAX_BODY_BYTES))
        .with_state(app)
}

async fn health(State(app): State<Arc<App>>) -> Result<String> {
    let app2 = app.clone();
    let seq = blocking(move || app2.storage.read(|tx| tx.max_seq())).await?;
    Ok(format!("ok protocol={PROTOCOL_VERSION} seq={seq}\n"))
}

/// Run blocking work (storage, decoding, validation) on the blocking pool. A panic there is a
/// refused request, never a dead worker: it is caught and answered 500.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    let caught = move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
            tracing::error!("a request panicked; it was refused and nothing of it was stored");
            Err(ServerError::Internal)
        })
    };
    tokio::task::spawn_blocking(caught)
        .await
        .map_err(|e| ServerError::Storage(format!("worker failed: {e}")))?
}

fn check_version(headers: &HeaderMap) -> Result<()> {
    check_version_is(headers, PROTOCOL_VERSION)
}

fn check_version_is(headers: &HeaderMap, expected: u32) -> Result<()> {
    match headers
        .get(protocol::VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v.trim() == expected.to_string() => Ok(()),
        Some(v) => Err(ServerError::Protocol {
            server: PROTOCOL_VERSION,
            client: v.to_string(),
        }),
        None => Err(ServerError::BadRequest(format!(
            "missing {} header",
            protocol::VERSION_HEADER
        ))),
    }
}

async fn authenticate(app: &Arc<App>, headers: &HeaderMap) -> Result<DeviceRow> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ServerError::Unauthorized)?;
    let hash = auth::hash(token);
    let app = app.clone();
    blocking(move || app.storage.read(|tx| tx.device_by_token(&hash)))
        .await?
        .ok_or(ServerError::Unauthorized)
}

async fn sync_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    check_version(&headers)?;
    let device = authenticate(&app, &headers).await?;
    let lock_after_days = app.config.lock_after_days;
    if device.revoked {
        tracing::warn!(device = %device.device_id, "revoked device synced; told to wipe");
        return Ok(binary(protocol::encode(&sync::wipe_response(
            lock_after_days,
        ))));
    }
    let response = blocking(move || {
        let request: SyncRequest =
            protocol::decode(&body).map_err(|e| ServerError::BadRequest(e.to_string()))?;
        if request.protocol != PROTOCOL_VERSION {
            return Err(ServerError::Protocol {
                server: PROTOCOL_VERSION,
                client: request.protocol.to_string(),
            });
        }
        check_bounds(&request)?;
        let parsed = sync::parse_upload(&request.changes)?;
        let now = now_ms();
        let mut docs = app.docs.lock();
        let outcome = app.storage.write(|tx| {
            let outcome = sync::store_uploads(tx, &mut docs, &device, parsed, now)?;
            tx.touch_device(&device.device_id, now)?;
            tx.record_purges(&device.device_id, &request.purged, now)?;
            crate::quarantine::record(tx, &device, &request.quarantined, now)?;
            Ok(outcome)
        })?;
        docs.committed();
        let page = app.storage.read(|tx| {
            sync::build_page(tx, &device, request.cursor, request.max_page_bytes, true)
        })?;
        Ok(sync::response(
            page,
            outcome,
            lock_after_days,
            Bounds::default(),
        ))
    })
    .await?;
    Ok(binary(protocol::encode(&response)))
}

/// The advertised bounds, enforced (the client splits to fit them).
fn check_bounds(r: &SyncRequest) -> Result<()> {
    let b = Bounds::default();
    for (what, n, max) in [
        ("changes", r.changes.len(), b.max_changes as usize),
        ("purged people", r.purged.len(), b.max_purged as usize),
        (
            "quarantine reports",
            r.quarantined.len(),
            b.max_quarantined as usize,
        ),
    ] {
        if n > max {
            return Err(ServerError::TooLarge(format!(
                "{n} {what} in one request; at most {max}. Nothing was stored; the app splits its uploads to fit"
            )));
        }
    }
    Ok(())
}

/// Sync protocol 1, for phones of the first release until the operator's cut-off
/// (docs/decisions/0001). Checked by the same rules; version 1 cannot carry per-change refusals,
/// so a request with any refused change stores nothing and asks the user to update the app.
async fn sync_v1_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    check_version_is(&headers, v1::PROTOCOL_VERSION)?;
    let device = authenticate(&app, &headers).await?;
    let lock_after_days = app.config.lock_after_days;
    if device.revoked {
        tracing::warn!(device = %device.device_id, "revoked device synced (v1); told to wipe");
        return Ok(binary_v1(protocol::encode(&v1_wipe(lock_after_days))));
    }
    let response = blocking(move || {
        let request: v1::SyncRequest =
            protocol::decode(&body).map_err(|e| ServerError::BadRequest(e.to_string()))?;
        let changes: Vec<protocol::Change> = request
            .changes
            .into_iter()
            .map(|w| protocol::Change {
                person_id: w.person_id,
                compartment: w.compartment,
                bytes: w.bytes,
            })
            .collect();
        let parsed = sync::parse_upload(&changes)?;
        let now = now_ms();
        let mut docs = app.docs.lock();
        let outcome = app.storage.write(|tx| {
            let outcome = sync::store_uploads(tx, &mut docs, &device, parsed, now)?;
            if let Some(first) = outcome.verdicts.refused.first() {
                return Err(ServerError::Protocol {
                    server: PROTOCOL_VERSION,
                    client: format!(
                        "1, and this sync holds entries the server cannot accept (first: {}). Nothing was lost: update the app, which sends the others and shows these",
                        first.message
                    ),
                });
            }
            tx.touch_device(&device.device_id, now)?;
            tx.record_purges(&device.device_id, &request.purged, now)?;
            Ok(outcome)
        })?;
        docs.committed();
        let cursor = Cursor {
            seq: request.cursor,
            skip: 0,
        };
        let page = app
            .storage
            .read(|tx| sync::build_page(tx, &device, cursor, request.max_page_bytes, false))?;
        Ok(v1::SyncResponse {
            protocol: v1::PROTOCOL_VERSION,
            stored: outcome.verdicts.stored,
            changes: page
                .changes
                .into_iter()
                .map(|c| v1::WireChange {
                    person_id: c.person_id,
                    compartment: c.compartment,
                    bytes: c.bytes,
                })
                .collect(),
            cursor: page.cursor.seq,
            more: page.more,
            remaining: page.remaining,
            instructions: page.instructions.into_iter().filter_map(v1_instruction).collect(),
            lock_after_days,
        })
    })
    .await?;
    Ok(binary_v1(protocol::encode(&response)))
}

fn v1_instruction(i: Instruction) -> Option<v1::Instruction> {
    match i {
        Instruction::Purge { person_id } => Some(v1::Instruction::Purge { person_id }),
        Instruction::PurgeCompartment {
            person_id,
            compartment,
        } => Some(v1::Instruction::PurgeCompartment {
            person_id,
            compartment,
        }),
        Instruction::Wipe => Some(v1::Instruction::Wipe),
        Instruction::ResetActor => None,
    }
}

fn v1_wipe(lock_after_days: u32) -> v1::SyncResponse {
    v1::SyncResponse {
        protocol: v1::PROTOCOL_VERSION,
        stored: 0,
        changes: Vec::new(),
        cursor: 0,
        more: false,
        remaining: 0,
        instructions: vec![v1::Instruction::Wipe],
        lock_after_days,
    }
}

fn binary_v1(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, v1::MEDIA_TYPE)],
        body,
    )
        .into_response()
}

fn binary(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, protocol::MEDIA_TYPE)],
        body,
    )
        .into_response()
}

async fn enrol_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(req): Json<EnrolRequest>,
) -> Result<Json<EnrolResponse>> {
    check_version(&headers)?;
    let lock_after_days = app.config.lock_after_days;
    let code_hash = auth::hash(&auth::normalise_code(&req.code));
    let response = blocking(move || {
        app.storage.write(|tx| {
            let user_id = tx.take_code(&code_hash, now_ms())?.ok_or_else(|| {
                ServerError::Forbidden(
                    "this enrolment code is not valid, was used already or has expired".into(),
                )
            })?;
            let user = tx
                .user(&user_id)?
                .ok_or_else(|| ServerError::NotFound(format!("user {user_id} no longer exists")))?;
            let device_id = uuid_v7();
            let token = auth::new_token();
            tx.add_device(&device_id, &user_id, &auth::hash(&token), now_ms())?;
            Ok(EnrolResponse {
                device_id,
                device_token: token,
                user,
                lock_after_days,
            })
        })
    })
    .await?;
    tracing::info!(device = %response.device_id, user = %response.user.id, "device enrolled");
    Ok(Json(response))
}

fn uuid_v7() -> String {
    doorstep_core::ids::new_id()
}
