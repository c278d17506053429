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
    self, EnrolRequest, EnrolResponse, SyncRequest, PROTOCOL_VERSION,
};

use crate::admin::now_ms;
use crate::auth;
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
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(protocol::SYNC_PATH, post(sync_handler))
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

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Storage(format!("worker failed: {e}")))?
}

fn check_version(headers: &HeaderMap) -> Result<()> {
    match headers
        .get(protocol::VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v.trim() == PROTOCOL_VERSION.to_string() => Ok(()),
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
    let request: SyncRequest =
        protocol::decode(&body).map_err(|e| ServerError::BadRequest(e.to_string()))?;
    if request.protocol != PROTOCOL_VERSION {
        return Err(ServerError::Protocol {
            server: PROTOCOL_VERSION,
            client: request.protocol.to_string(),
        });
    }
    let uploads = sync::parse_upload(&request)?;
    let response = blocking(move || {
        let now = now_ms();
        let stored = app.storage.write(|tx| {
            let stored = sync::store_uploads(tx, &device, &uploads, now)?;
            tx.touch_device(&device.device_id, now)?;
            tx.record_purges(&device.device_id, &request.purged, now)?;
            Ok(stored)
        })?;
        app.storage.read(|tx| {
            sync::build_response(
                tx,
                &device,
                request.cursor,
                request.max_page_bytes,
                stored,
                lock_after_days,
            )
        })
    })
    .await?;
    Ok(binary(protocol::encode(&response)))
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
