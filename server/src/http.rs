//! The HTTP surface (axum): `POST /v1/sync` (binary, zstd), `POST /v1/enrol` (JSON),
//! `GET /v1/health`. Blocking work (storage, decoding, validation) runs on tokio's blocking pool,
//! never on the async workers.
//!
//! Order of checks on a sync, cheapest first, so that nobody unauthenticated makes the server
//! read or hold a body: protocol header → per-address rate → announced length → token →
//! per-device rate → revoked? (wipe, body unread) → body read at a minimum rate → decoded and
//! bounded (changes, bytes, purged ids) → write transaction (revoke re-checked inside it, new
//! people bounded) → response from a read snapshot. A read-only sync never takes the writer.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use doorstep_core::sync::protocol::{
    self, EnrolRequest, EnrolResponse, SyncRequest, SyncResponse, PROTOCOL_VERSION,
};

use crate::admin::now_ms;
use crate::auth;
use crate::error::{Result, ServerError};
use crate::limits::{self, Counters, Limits};
use crate::listen::ConnLimits;
use crate::metrics::{self, Metrics};
use crate::storage::{schema, DeviceRow, Storage};
use crate::sync;

/// How long health waits for a read. A read never waits for the writer (WAL snapshots, MVCC),
/// so a read this slow means the database is in trouble, not merely busy.
const HEALTH_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest enrolment body (a JSON code).
const MAX_ENROL_BODY: usize = 4096;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Days without a sync after which a device locks itself.
    pub lock_after_days: u32,
    /// Per-request bounds and rate limits.
    pub limits: Limits,
    /// Connection limits (timeouts, how many).
    pub conn: ConnLimits,
    /// Reverse proxies whose `X-Forwarded-For` is believed; from anyone else it is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Serve `/metrics` on this address (never on the public one).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            lock_after_days: 14,
            limits: Limits::default(),
            conn: ConnLimits::default(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
        }
    }
}

pub struct App {
    pub storage: Storage,
    pub config: ServerConfig,
    pub counters: Counters,
    pub metrics: Metrics,
}

impl App {
    pub fn new(storage: Storage, config: ServerConfig) -> App {
        App {
            storage,
            config,
            counters: Counters::default(),
            metrics: Metrics::default(),
        }
    }
}

/// The address a request came from, as far as it can be believed.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub IpAddr);

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(protocol::SYNC_PATH, post(sync_handler))
        .route(protocol::ENROL_PATH, post(enrol_handler))
        .route("/v1/health", get(health))
        // Bodies are read by the handlers themselves, after authentication, with a size limit
        // and a minimum rate.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

/// The metrics router, for its own listener.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    app.metrics.render(),
                )
            }),
        )
        .with_state(app)
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the nearest address
/// in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

async fn observe(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = metrics::route(req.uri().path());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let client = client_addr(peer, req.headers(), &app.config.trusted_proxies);
    req.extensions_mut().insert(Client(client));
    let response = next.run(req).await;
    app.metrics
        .request(route, response.status().as_u16(), start.elapsed());
    response
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let writer = if app.storage.writer_busy() {
        "busy"
    } else {
        "idle"
    };
    let app2 = app.clone();
    // A read snapshot only: a slow writer never makes health fail (a load balancer must not
    // drop every process because one sync is long); only storage being down does.
    let read = tokio::time::timeout(
        HEALTH_READ_TIMEOUT,
        blocking(move || app2.storage.read(|tx| tx.max_seq())),
    )
    .await
    .unwrap_or_else(|_| {
        Err(ServerError::Storage(format!(
            "no answer from the database within {} s",
            HEALTH_READ_TIMEOUT.as_secs()
        )))
    });
    match read {
        Ok(seq) => format!(
            "ok protocol={PROTOCOL_VERSION} seq={seq} schema={} writer={writer} storage=ok\n",
            schema::CURRENT
        )
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health: storage is down");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unavailable protocol={PROTOCOL_VERSION} writer={writer} storage=down\n"),
            )
                .into_response()
        }
    }
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
            client: v.chars().take(20).collect(),
        }),
        None => Err(ServerError::BadRequest(format!(
            "missing {} header",
            protocol::VERSION_HEADER
        ))),
    }
}

/// Refuse from its announced length a body larger than `max`, before reading any of it.
fn announced_length(headers: &HeaderMap, max: usize) -> Result<Option<usize>> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let len: usize = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| ServerError::BadRequest("Content-Length is not a number".into()))?;
    if len > max {
        return Err(ServerError::TooLarge(format!(
            "the request body is {len} bytes; this server accepts at most {max}"
        )));
    }
    Ok(Some(len))
}

/// Read a body of at most `max` bytes, at no less than the configured minimum rate.
async fn read_body(
    body: Body,
    announced: Option<usize>,
    max: usize,
    l: &Limits,
) -> Result<Vec<u8>> {
    let deadline = l.body_deadline(announced.unwrap_or(max));
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, max)).await {
        Ok(Ok(b)) => Ok(b.to_vec()),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .map(|s| s.is::<http_body_util::LengthLimitError>())
                .unwrap_or(false)
                || e.to_string().contains("length limit");
            if too_large {
                Err(ServerError::TooLarge(format!(
                    "the request body is larger than {max} bytes"
                )))
            } else {
                Err(ServerError::BadRequest(format!(
                    "the request body could not be read: {e}"
                )))
            }
        }
        Err(_) => Err(ServerError::Timeout(format!(
            "the request body did not arrive within {} s (at least {} bytes a second are needed)",
            deadline.as_secs(),
            l.min_body_rate
        ))),
    }
}

fn security_refusal(app: &App, client: IpAddr, device: Option<&DeviceRow>, e: &ServerError) {
    app.metrics.refusal(e.code());
    match device {
        Some(d) => tracing::warn!(
            target: "doorstep::security",
            event = "refused",
            reason = e.code(),
            device = %d.device_id,
            user = %d.user.id,
            peer = %client,
            detail = %e,
        ),
        None => tracing::warn!(
            target: "doorstep::security",
            event = "refused",
            reason = e.code(),
            peer = %client,
            detail = %e,
        ),
    }
}

fn rate(counters: &Counters, subject: String, limit: u64, what: &str) -> Result<()> {
    counters
        .hit(&subject, limit, now_ms())
        .map_err(|retry_after_s| ServerError::RateLimited {
            what: what.to_string(),
            retry_after_s,
        })
}

async fn authenticate(app: &Arc<App>, headers: &HeaderMap) -> Result<DeviceRow> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or(ServerError::Unauthorized)?;
    let hash = auth::hash(token);
    let app = app.clone();
    blocking(move || {
        let device = app
            .storage
            .read(|tx| tx.device_by_token(&hash))?
            .ok_or(ServerError::Unauthorized)?;
        if device.pending_token && !device.revoked {
            // The phone has its rotated token: the old one stops working now.
            app.storage
                .write(|tx| tx.promote_pending_token(&device.device_id))?;
            tracing::info!(device = %device.device_id, "rotated token in use; the old one no longer works");
        }
        Ok(device)
    })
    .await
}

async fn sync_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let mut device = None;
    let r = sync_inner(&app, client, &headers, body, &mut device).await;
    if let Err(e) = &r {
        if !matches!(e, ServerError::Storage(_)) {
            security_refusal(&app, client, device.as_ref(), e);
        }
    }
    r
}

/// The write half of a sync, in one transaction. The device is re-read inside it: a revoke (or
/// retire) that committed after authentication but before this write is honoured, and nothing
/// of the upload is stored.
pub(crate) fn write_sync(
    storage: &Storage,
    dev: &DeviceRow,
    uploads: &[sync::Upload],
    purged: &[String],
    max_new_people: usize,
    now: i64,
) -> Result<Written> {
    let read_only = uploads.is_empty() && purged.is_empty();
    storage.write(|tx| {
        let current = tx.device_by_id(&dev.device_id)?;
        let Some(current) = current.filter(|d| !d.revoked) else {
            return Ok(Written::Wipe);
        };
        if current.retired && read_only {
            // Nothing left to send: wipe it, and the token stops working.
            tx.revoke_device(&dev.device_id, now)?;
            return Ok(Written::Wipe);
        }
        check_new_people(tx, dev, uploads, max_new_people)?;
        let stored = sync::store_uploads(tx, dev, uploads, now)?;
        tx.record_purges(&dev.device_id, purged, now)?;
        Ok(if current.retired {
            Written::Retired(stored)
        } else {
            Written::Stored(stored)
        })
    })
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    Stored(u32),
    /// Retired: the upload was stored; nothing is sent back.
    Retired(u32),
    Wipe,
}

async fn sync_inner(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
    body: Body,
    device_out: &mut Option<DeviceRow>,
) -> Result<Response> {
    let l = app.config.limits.clone();
    let lock_after_days = app.config.lock_after_days;
    check_version(headers)?;
    rate(
        &app.counters,
        format!("ip:{client}"),
        l.address_per_minute,
        "too many requests from this address",
    )?;
    let announced = announced_length(headers, l.max_body_bytes)?;
    let device = authenticate(app, headers).await?;
    *device_out = Some(device.clone());
    if device.revoked {
        tracing::warn!(
            target: "doorstep::security",
            event = "revoked_device_sync",
            device = %device.device_id,
            user = %device.user.id,
            peer = %client,
            "revoked device synced; told to wipe, nothing it sent was read"
        );
        app.metrics.refusal("revoked");
        return Ok(binary(protocol::encode(&sync::wipe_response(
            lock_after_days,
        ))));
    }
    rate(
        &app.counters,
        format!("dev:{}", device.device_id),
        l.device_per_minute,
        "this device is syncing too often",
    )?;
    let body = read_body(body, announced, l.max_body_bytes, &l).await?;
    let l2 = l.clone();
    let (request, uploads) = blocking(move || {
        let request: SyncRequest =
            protocol::decode(&body).map_err(|e| ServerError::BadRequest(e.to_string()))?;
        if request.protocol != PROTOCOL_VERSION {
            return Err(ServerError::Protocol {
                server: PROTOCOL_VERSION,
                client: request.protocol.to_string(),
            });
        }
        check_bounds(&request, &l2)?;
        let uploads = sync::parse_upload(&request)?;
        Ok((request, uploads))
    })
    .await?;
    let app2 = app.clone();
    let dev = device.clone();
    let (response, stored) = blocking(move || {
        let now = now_ms();
        let read_only = uploads.is_empty() && request.purged.is_empty();
        let written = if read_only && !dev.retired {
            Written::Stored(0)
        } else {
            write_sync(
                &app2.storage,
                &dev,
                &uploads,
                &request.purged,
                l.max_new_people,
                now,
            )?
        };
        let response = match written {
            Written::Wipe => sync::wipe_response(lock_after_days),
            Written::Retired(stored) => SyncResponse {
                protocol: PROTOCOL_VERSION,
                stored,
                changes: Vec::new(),
                cursor: request.cursor,
                more: false,
                remaining: 0,
                instructions: Vec::new(),
                lock_after_days,
            },
            Written::Stored(stored) => app2.storage.read(|tx| {
                sync::build_response(
                    tx,
                    &dev,
                    request.cursor,
                    request.max_page_bytes,
                    stored,
                    lock_after_days,
                )
            })?,
        };
        Ok((response, matches!(written, Written::Wipe)))
    })
    .await?;
    if stored {
        tracing::warn!(
            target: "doorstep::security",
            event = "revoked_device_sync",
            device = %device.device_id,
            user = %device.user.id,
            peer = %client,
            "device revoked or retired during or before this sync; told to wipe"
        );
    }
    app.counters.seen(&device.device_id, now_ms());
    app.metrics.sync_done();
    let encoded = blocking(move || Ok(protocol::encode(&response))).await?;
    Ok(binary(encoded))
}

/// Per-request bounds on every list, checked before anything is stored.
fn check_bounds(r: &SyncRequest, l: &Limits) -> Result<()> {
    if r.changes.len() > l.max_changes {
        return Err(ServerError::TooLarge(format!(
            "{} changes in one request; this server accepts at most {} (send them in smaller batches)",
            r.changes.len(),
            l.max_changes
        )));
    }
    let bytes: usize = r.changes.iter().map(|c| c.bytes.len()).sum();
    if bytes > l.max_upload_bytes {
        return Err(ServerError::TooLarge(format!(
            "{bytes} bytes of changes in one request; this server accepts at most {}",
            l.max_upload_bytes
        )));
    }
    if r.purged.len() > l.max_purged {
        return Err(ServerError::TooLarge(format!(
            "{} purged people reported in one request; this server accepts at most {}",
            r.purged.len(),
            l.max_purged
        )));
    }
    for p in &r.purged {
        if !is_person_id(p) {
            return Err(ServerError::BadRequest(format!(
                "purged: '{}' is not a valid person id",
                p.chars().take(70).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// The same rule as for the person ids of changes (`sync::parse_upload`).
fn is_person_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// At most `max` people new to the server in one request (in the write transaction).
fn check_new_people(
    tx: &mut dyn crate::storage::Tx,
    device: &DeviceRow,
    uploads: &[sync::Upload],
    max: usize,
) -> Result<()> {
    let people: BTreeSet<&str> = uploads.iter().map(|u| u.person_id.as_str()).collect();
    if people.len() <= max {
        return Ok(());
    }
    let mut new = 0usize;
    for p in people {
        if !tx.was_member(&device.user.team, p)? && !tx.person_known(p)? {
            new += 1;
        }
    }
    if new > max {
        return Err(ServerError::TooLarge(format!(
            "{new} people new to the server in one request; this server accepts at most {max}"
        )));
    }
    Ok(())
}

fn binary(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, protocol::MEDIA_TYPE)],
        body,
    )
        .into_response()
}

enum Enrolled {
    Yes(EnrolResponse),
    WrongCode(u64),
}

async fn enrol_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<EnrolResponse>> {
    let r = enrol_inner(&app, client, &headers, body).await;
    if let Err(e) = &r {
        if !matches!(e, ServerError::Storage(_) | ServerError::Forbidden(_)) {
            security_refusal(&app, client, None, e);
        }
    }
    r
}

async fn enrol_inner(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<EnrolResponse>> {
    check_version(headers)?;
    let l = app.config.limits.clone();
    rate(
        &app.counters,
        format!("ip:{client}"),
        l.address_per_minute,
        "too many requests from this address",
    )?;
    let announced = announced_length(headers, MAX_ENROL_BODY)?;
    let body = read_body(body, announced, MAX_ENROL_BODY, &l).await?;
    let req: EnrolRequest = serde_json::from_slice(&body)
        .map_err(|e| ServerError::BadRequest(format!("the enrolment request is not valid: {e}")))?;
    let lock_after_days = app.config.lock_after_days;
    let code_hash = auth::hash(&auth::normalise_code(&req.code));
    let app2 = app.clone();
    let address = client.to_string();
    let outcome = blocking(move || {
        app2.storage.write(|tx| {
            let now = now_ms();
            limits::enrol_allowed(tx, &address, l.enrol_failures_per_minute, now)?;
            let Some(user_id) = tx.take_code(&code_hash, now)? else {
                // Counted (and committed) so the limit holds across processes.
                return Ok(Enrolled::WrongCode(limits::count_enrol_failure(
                    tx, &address, now,
                )?));
            };
            let user = tx
                .user(&user_id)?
                .ok_or_else(|| ServerError::NotFound(format!("user {user_id} no longer exists")))?;
            let device_id = doorstep_core::ids::new_id();
            let token = auth::new_token();
            tx.add_device(&device_id, &user_id, &auth::hash(&token), now)?;
            Ok(Enrolled::Yes(EnrolResponse {
                device_id,
                device_token: token,
                user,
                lock_after_days,
            }))
        })
    })
    .await?;
    match outcome {
        Enrolled::Yes(response) => {
            tracing::info!(device = %response.device_id, user = %response.user.id, peer = %client, "device enrolled");
            Ok(Json(response))
        }
        Enrolled::WrongCode(failures) => {
            app.metrics.refusal("enrol_failed");
            tracing::warn!(
                target: "doorstep::security",
                event = "enrol_failed",
                peer = %client,
                failures_this_minute = failures,
                "an enrolment code was wrong, used, cancelled or expired"
            );
            Err(ServerError::Forbidden(
                "this enrolment code is not valid, was used already or has expired".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A revoke that commits between the sync's authentication and its write wins: the upload is
    /// not stored and the device is told to wipe.
    #[test]
    fn a_revoke_between_authentication_and_write_stores_nothing() {
        use doorstep_core::record::Role;
        use doorstep_core::sync::protocol::WireChange;

        let dir = tempfile::tempdir().unwrap();
        let storage =
            Storage::Sqlite(crate::storage::sqlite::SqliteStorage::open(dir.path()).unwrap());
        crate::admin::create_team(&storage, "team-a", "Team A").unwrap();
        let user = doorstep_core::testing::user("user-d1", Role::DistrictNurse);
        crate::admin::create_user(&storage, &user.id, &user.display_name, user.role, "team-a")
            .unwrap();
        storage
            .write(|tx| tx.add_device("d1", &user.id, "tok", 1))
            .unwrap();
        let phone =
            doorstep_core::testing::open(&dir.path().join("p.db"), "d1", Role::DistrictNurse);
        phone
            .register_patient(doorstep_core::testing::demographics(
                "Ada", "Moss", None, "HX1 1AA",
            ))
            .unwrap();
        let outbox = phone.sync_outbox(usize::MAX).unwrap();
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: 0,
            changes: outbox
                .changes
                .iter()
                .map(|c| WireChange {
                    person_id: c.person_id.clone(),
                    compartment: c.compartment,
                    bytes: c.bytes.clone(),
                })
                .collect(),
            max_page_bytes: 1 << 20,
            purged: vec![],
        };
        let uploads = sync::parse_upload(&request).unwrap();
        // Authenticated while active...
        let device = storage
            .read(|tx| tx.device_by_token("tok"))
            .unwrap()
            .unwrap();
        assert!(!device.revoked);
        // ...revoked before the write...
        crate::admin::revoke_device(&storage, "d1").unwrap();
        let w = write_sync(&storage, &device, &uploads, &[], 100, 5).unwrap();
        assert_eq!(w, Written::Wipe);
        assert_eq!(
            storage.read(|tx| tx.max_seq()).unwrap(),
            0,
            "nothing stored"
        );

        // The same upload from an active device is stored.
        let user2 = doorstep_core::testing::user("user-d2", Role::DistrictNurse);
        crate::admin::create_user(
            &storage,
            &user2.id,
            &user2.display_name,
            user2.role,
            "team-a",
        )
        .unwrap();
        storage
            .write(|tx| tx.add_device("d2", &user2.id, "tok2", 1))
            .unwrap();
        let phone2 =
            doorstep_core::testing::open(&dir.path().join("q.db"), "d2", Role::DistrictNurse);
        phone2
            .register_patient(doorstep_core::testing::demographics(
                "Bo", "Moss", None, "HX1 1AA",
            ))
            .unwrap();
        let outbox = phone2.sync_outbox(usize::MAX).unwrap();
        let mut r2 = request;
        r2.changes = outbox
            .changes
            .iter()
            .map(|c| WireChange {
                person_id: c.person_id.clone(),
                compartment: c.compartment,
                bytes: c.bytes.clone(),
            })
            .collect();
        let uploads = sync::parse_upload(&r2).unwrap();
        let device2 = storage
            .read(|tx| tx.device_by_token("tok2"))
            .unwrap()
            .unwrap();
        let n = r2.changes.len() as u32;
        assert_eq!(
            write_sync(&storage, &device2, &uploads, &[], 100, 6).unwrap(),
            Written::Stored(n)
        );
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let outer: IpAddr = "10.0.0.1".parse().unwrap();
        let phone: IpAddr = "81.2.69.160".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 81.2.69.160, 10.0.0.1".parse().unwrap(),
        );
        assert_eq!(client_addr(proxy, &h, &[]), proxy, "no proxies trusted");
        assert_eq!(client_addr(proxy, &h, &[proxy, outer]), phone);
        assert_eq!(client_addr(phone, &h, &[proxy]), phone, "not from a proxy");
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_addr(proxy, &junk, &[proxy]), proxy);
    }

    #[test]
    fn announced_lengths_over_the_limit_are_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(announced_length(&h, 10).unwrap(), None);
        h.insert(header::CONTENT_LENGTH, "10".parse().unwrap());
        assert_eq!(announced_length(&h, 10).unwrap(), Some(10));
        h.insert(header::CONTENT_LENGTH, "11".parse().unwrap());
        assert!(matches!(
            announced_length(&h, 10),
            Err(ServerError::TooLarge(_))
        ));
        h.insert(header::CONTENT_LENGTH, "x".parse().unwrap());
        assert!(matches!(
            announced_length(&h, 10),
            Err(ServerError::BadRequest(_))
        ));
    }
}
