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
    self, v1, AppVersion, Bounds, Cursor, EnrolRequest, EnrolResponse, Instruction, SyncRequest,
    SyncResponse, PROTOCOL_VERSION,
};

use crate::admin::now_ms;
use crate::auth;
use crate::docs::ServerDocs;
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
    /// Apps older than this release are told to update (docs/decisions/0002).
    pub min_app_version: Option<String>,
    /// The oldest sync protocol answered (docs/decisions/0001).
    pub min_protocol: u32,
    /// The ward watch: re-alerts and missing readings (issue 13).
    pub watch: crate::watch::WatchConfig,
    /// Mark the hub's cookies Secure (served over TLS, here or at a proxy in front).
    pub hub_secure_cookies: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            lock_after_days: 14,
            limits: Limits::default(),
            conn: ConnLimits::default(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            min_app_version: None,
            min_protocol: 1,
            watch: crate::watch::WatchConfig::default(),
            hub_secure_cookies: false,
        }
    }
}

pub struct App {
    pub storage: Storage,
    pub config: ServerConfig,
    pub counters: Counters,
    pub metrics: Metrics,
    /// Warm documents the server applies changes to (a cache of the log; docs/decisions/0003).
    pub docs: ServerDocs,
    /// This process as the author of what the server writes itself (home-monitoring sets).
    pub identity: crate::identity::ServerIdentity,
}

impl App {
    pub fn new(storage: Storage, config: ServerConfig) -> App {
        App {
            storage,
            config,
            counters: Counters::default(),
            metrics: Metrics::default(),
            docs: ServerDocs::new(2_000),
            identity: crate::identity::ServerIdentity::new(),
        }
    }
}

/// The address a request came from, as far as it can be believed.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub IpAddr);

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(protocol::SYNC_PATH, post(sync_handler))
        .route(v1::SYNC_PATH, post(sync_v1_handler))
        .route(protocol::ENROL_PATH, post(enrol_handler))
        .route("/v1/health", get(health))
        .route(
            crate::ingest::http::READINGS_PATH,
            post(crate::ingest::http::readings_handler),
        )
        // FHIR reads by an integration (GETs: no body).
        .merge(crate::fhir::http::router())
        // Bodies are read by the handlers themselves, after authentication, with a size limit
        // and a minimum rate.
        .layer(DefaultBodyLimit::disable())
        // The hub's pages: small forms, with their own body limit.
        .merge(crate::hub::router())
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

/// Run blocking work (storage, decoding, validation) on the blocking pool. A panic there is a
/// refused request, never a dead worker or a poisoned lock: it is caught and answered 500.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
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

fn check_version_is(headers: &HeaderMap, expected: u32) -> Result<()> {
    match headers
        .get(protocol::VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v.trim() == expected.to_string() => Ok(()),
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
pub(crate) fn announced_length(headers: &HeaderMap, max: usize) -> Result<Option<usize>> {
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
pub(crate) async fn read_body(
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

pub(crate) fn rate(counters: &Counters, subject: String, limit: u64, what: &str) -> Result<()> {
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
    let r = sync_inner(&app, client, &headers, body, &mut device, PROTOCOL_VERSION).await;
    if let Err(e) = &r {
        if !matches!(e, ServerError::Storage(_)) {
            security_refusal(&app, client, device.as_ref(), e);
        }
    }
    r
}

/// Sync protocol 1, for phones of the first release until the operator's cut-off
/// (docs/decisions/0001): checked by the same rules. Version 1 cannot carry per-change refusals,
/// so a request with any refused change stores nothing and asks the user to update the app.
async fn sync_v1_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let mut device = None;
    let r = sync_inner(
        &app,
        client,
        &headers,
        body,
        &mut device,
        v1::PROTOCOL_VERSION,
    )
    .await;
    if let Err(e) = &r {
        if !matches!(e, ServerError::Storage(_)) {
            security_refusal(&app, client, device.as_ref(), e);
        }
    }
    r
}

/// What one request asks the writer to do.
pub(crate) struct Upload<'a> {
    pub parsed: sync::Parsed,
    pub purged: &'a [String],
    pub quarantined: &'a [protocol::QuarantineReport],
    /// Version 1: any refusal stores nothing.
    pub all_or_nothing: bool,
}

/// The write half of a sync, in one transaction. The device is re-read inside it: a revoke (or
/// retire) that committed after authentication but before this write is honoured, and nothing
/// of the upload is stored.
pub(crate) fn write_sync(
    app: &App,
    dev: &DeviceRow,
    upload: Upload<'_>,
    max_new_people: usize,
    now: i64,
) -> Result<Written> {
    let read_only = upload.parsed.uploads.is_empty()
        && upload.parsed.refused.is_empty()
        && upload.purged.is_empty()
        && upload.quarantined.is_empty();
    let mut docs = app.docs.lock();
    let written = app.storage.write(|tx| {
        let current = tx.device_by_id(&dev.device_id)?;
        let Some(current) = current.filter(|d| !d.revoked) else {
            return Ok(Written::Wipe);
        };
        if current.retired && read_only {
            // Nothing left to send: wipe it, and the token stops working.
            tx.revoke_device(&dev.device_id, now)?;
            return Ok(Written::Wipe);
        }
        check_new_people(tx, dev, &upload.parsed.uploads, max_new_people)?;
        let outcome = sync::store_uploads(tx, &mut docs, &app.identity, dev, upload.parsed, now)?;
        if upload.all_or_nothing {
            if let Some(first) = outcome.verdicts.refused.first() {
                return Err(ServerError::Protocol {
                    server: PROTOCOL_VERSION,
                    client: format!(
                        "1, and this sync holds entries the server cannot accept (first: {}). Nothing was lost: update the app, which sends the others and shows these",
                        first.message
                    ),
                });
            }
        }
        tx.record_purges(&dev.device_id, upload.purged, now)?;
        crate::quarantine::record(tx, dev, upload.quarantined, now)?;
        Ok(if current.retired {
            Written::Retired(outcome)
        } else {
            Written::Stored(outcome)
        })
    })?;
    docs.committed();
    Ok(written)
}

pub(crate) enum Written {
    Stored(sync::Outcome),
    /// Retired: the upload was stored; nothing is sent back.
    Retired(sync::Outcome),
    Wipe,
}

/// A version-1 request, as version 2 sees it.
fn from_v1(r: v1::SyncRequest) -> SyncRequest {
    SyncRequest {
        protocol: PROTOCOL_VERSION,
        app: AppVersion {
            release: "first release".into(),
            layout: 1,
        },
        cursor: Cursor {
            seq: r.cursor,
            skip: 0,
        },
        changes: r
            .changes
            .into_iter()
            .map(|w| protocol::Change {
                person_id: w.person_id,
                compartment: w.compartment,
                bytes: w.bytes,
            })
            .collect(),
        max_page_bytes: r.max_page_bytes,
        purged: r.purged,
        quarantined: Vec::new(),
    }
}

/// A version-2 answer, as a version-1 phone reads it.
fn to_v1(r: SyncResponse) -> v1::SyncResponse {
    v1::SyncResponse {
        protocol: v1::PROTOCOL_VERSION,
        stored: r.verdicts.stored,
        changes: r
            .changes
            .into_iter()
            .map(|c| v1::WireChange {
                person_id: c.person_id,
                compartment: c.compartment,
                bytes: c.bytes,
            })
            .collect(),
        cursor: r.cursor.seq,
        more: r.more,
        remaining: r.remaining,
        instructions: r
            .instructions
            .into_iter()
            .filter_map(|i| match i {
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
            })
            .collect(),
        lock_after_days: r.lock_after_days,
    }
}

/// Refuse an app older than the operator's minimum release (426: the app says "update").
fn check_app_version(app: &AppVersion, min: Option<&str>) -> Result<()> {
    let Some(min) = min else {
        return Ok(());
    };
    if release_parts(&app.release) >= release_parts(min) {
        return Ok(());
    }
    Err(ServerError::Protocol {
        server: PROTOCOL_VERSION,
        client: format!(
            "{PROTOCOL_VERSION} from app release {}, older than the {min} this server requires. Nothing was lost: update the app",
            app.release.chars().take(40).collect::<String>()
        ),
    })
}

/// "1.2.3" → [1, 2, 3]; anything that is not a number counts as 0.
fn release_parts(v: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = v
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    parts.resize(3, 0);
    parts
}

/// The bounds this server enforces, as it advertises them to the client.
fn bounds(l: &Limits) -> Bounds {
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Bounds {
        max_changes: clamp(l.max_changes),
        max_upload_bytes: l.max_upload_bytes as u64,
        max_purged: clamp(l.max_purged),
        max_new_people: clamp(l.max_new_people),
        max_quarantined: clamp(MAX_QUARANTINE_REPORTS),
    }
}

/// The metric a refused change is counted under.
fn refusal_metric(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "too_large",
        "compressed",
        "malformed",
        "no_stamp",
        "forged_author",
        "forbidden",
        "structure",
        "invalid_content",
        "overwrite",
        "out_of_scope",
        "actor_seq_reused",
        "missing_dependency",
        "depends_on_refused",
        "actor_of_another_device",
        "unappliable",
    ];
    KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("change_refused_other")
}

/// Quarantine reports in one request (413 above).
const MAX_QUARANTINE_REPORTS: usize = 200;

fn encode_for(version: u32, response: SyncResponse) -> (Vec<u8>, &'static str) {
    if version == v1::PROTOCOL_VERSION {
        (protocol::encode(&to_v1(response)), v1::MEDIA_TYPE)
    } else {
        (protocol::encode(&response), protocol::MEDIA_TYPE)
    }
}

fn decode_for(version: u32, body: &[u8]) -> Result<SyncRequest> {
    let bad = |e: protocol::DecodeError| ServerError::BadRequest(e.to_string());
    if version == v1::PROTOCOL_VERSION {
        let r: v1::SyncRequest = protocol::decode(body).map_err(bad)?;
        if r.protocol != v1::PROTOCOL_VERSION {
            return Err(ServerError::Protocol {
                server: PROTOCOL_VERSION,
                client: r.protocol.to_string(),
            });
        }
        return Ok(from_v1(r));
    }
    let r: SyncRequest = protocol::decode(body).map_err(bad)?;
    if r.protocol != PROTOCOL_VERSION {
        return Err(ServerError::Protocol {
            server: PROTOCOL_VERSION,
            client: r.protocol.to_string(),
        });
    }
    Ok(r)
}

async fn sync_inner(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
    body: Body,
    device_out: &mut Option<DeviceRow>,
    version: u32,
) -> Result<Response> {
    let l = app.config.limits.clone();
    let lock_after_days = app.config.lock_after_days;
    check_version_is(headers, version)?;
    if version < app.config.min_protocol {
        return Err(ServerError::Protocol {
            server: PROTOCOL_VERSION,
            client: format!(
                "{version}, which this server no longer answers (it needs {} or later). Nothing was lost: update the app",
                app.config.min_protocol
            ),
        });
    }
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
        let (body, media) = encode_for(version, sync::wipe_response(lock_after_days));
        return Ok(binary(body, media));
    }
    rate(
        &app.counters,
        format!("dev:{}", device.device_id),
        l.device_per_minute,
        "this device is syncing too often",
    )?;
    let body = read_body(body, announced, l.max_body_bytes, &l).await?;
    let l2 = l.clone();
    let min_app = app.config.min_app_version.clone();
    let (request, parsed) = blocking(move || {
        let request = decode_for(version, &body)?;
        check_app_version(&request.app, min_app.as_deref())?;
        check_bounds(&request, &l2)?;
        let parsed = sync::parse_upload(&request.changes)?;
        Ok((request, parsed))
    })
    .await?;
    let app2 = app.clone();
    let dev = device.clone();
    let (response, wiped, refused_people) = blocking(move || {
        let now = now_ms();
        let upload = Upload {
            parsed,
            purged: &request.purged,
            quarantined: &request.quarantined,
            all_or_nothing: version == v1::PROTOCOL_VERSION,
        };
        let read_only = upload.parsed.uploads.is_empty()
            && upload.parsed.refused.is_empty()
            && upload.purged.is_empty()
            && upload.quarantined.is_empty();
        let written = if read_only && !dev.retired {
            Written::Stored(sync::Outcome::default())
        } else {
            write_sync(&app2, &dev, upload, l.max_new_people, now)?
        };
        let split = version != v1::PROTOCOL_VERSION;
        let response = match written {
            Written::Wipe => sync::wipe_response(lock_after_days),
            Written::Retired(outcome) => {
                let page = sync::Page {
                    changes: Vec::new(),
                    snapshots: Vec::new(),
                    cursor: request.cursor,
                    more: false,
                    remaining: 0,
                    instructions: Vec::new(),
                    clock_notes: Vec::new(),
                };
                sync::response(page, outcome, lock_after_days, bounds(&l))
            }
            Written::Stored(outcome) => {
                let (page, rotate) = app2.storage.read(|tx| {
                    let page =
                        sync::build_page(tx, &dev, request.cursor, request.max_page_bytes, split)?;
                    let rotate =
                        split && !dev.pending_token && tx.rotation_requested(&dev.device_id)?;
                    Ok((page, rotate))
                })?;
                let mut response = sync::response(page, outcome, lock_after_days, bounds(&l));
                if rotate {
                    response.new_token = app2
                        .storage
                        .write(|tx| crate::admin::take_rotation(tx, &dev))?;
                }
                response
            }
        };
        let wiped = response.instructions.contains(&Instruction::Wipe);
        let people: Vec<String> = response
            .verdicts
            .refused
            .iter()
            .map(|r| {
                request
                    .changes
                    .get(r.index as usize)
                    .map(|c| c.person_id.clone())
                    .unwrap_or_default()
            })
            .collect();
        Ok((response, wiped, people))
    })
    .await?;
    if wiped {
        tracing::warn!(
            target: "doorstep::security",
            event = "revoked_device_sync",
            device = %device.device_id,
            user = %device.user.id,
            peer = %client,
            "device revoked or retired during or before this sync; told to wipe"
        );
    }
    for (r, person) in response.verdicts.refused.iter().zip(&refused_people) {
        app.metrics.refusal(refusal_metric(&r.code));
        change_refused_event(client, &device, person, &r.code);
    }
    app.counters.seen(&device.device_id, now_ms());
    app.metrics.sync_done();
    let (encoded, media) = blocking(move || Ok(encode_for(version, response))).await?;
    Ok(binary(encoded, media))
}

/// One refused change in the security log: who sent it, from where, for which person id and
/// why; never the change's content (names, clinical text).
fn change_refused_event(client: IpAddr, device: &DeviceRow, person: &str, code: &str) {
    tracing::warn!(
        target: "doorstep::security",
        event = "change_refused",
        reason = code,
        device = %device.device_id,
        user = %device.user.id,
        person = %person,
        peer = %client,
        "a change was refused; the rest of the request was stored"
    );
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
    if r.quarantined.len() > MAX_QUARANTINE_REPORTS {
        return Err(ServerError::TooLarge(format!(
            "{} quarantine reports in one request; this server accepts at most {MAX_QUARANTINE_REPORTS}",
            r.quarantined.len()
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

fn binary(body: Vec<u8>, media: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, media)], body).into_response()
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
    // Enrolment is the same JSON for phones of either protocol version.
    check_version_is(headers, PROTOCOL_VERSION)
        .or_else(|_| check_version_is(headers, v1::PROTOCOL_VERSION))?;
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

/// Storing a real phone's outbox as a sync would, for the server's own tests.
#[cfg(test)]
pub(crate) mod test_upload {
    use super::*;

    pub(crate) fn upload_of(phone: &doorstep_core::FieldStore) -> sync::Parsed {
        let outbox = phone.sync_outbox(usize::MAX).unwrap();
        sync::parse_upload(&outbox.changes).unwrap()
    }

    pub(crate) fn write(app: &App, device: &DeviceRow, parsed: sync::Parsed, now: i64) -> Written {
        let upload = Upload {
            parsed,
            purged: &[],
            quarantined: &[],
            all_or_nothing: false,
        };
        write_sync(app, device, upload, 100, now).unwrap()
    }

    /// Store everything in the phone's outbox as `device`; the refusals.
    pub(crate) fn store_outbox(
        app: &App,
        device: &DeviceRow,
        phone: &doorstep_core::FieldStore,
    ) -> Vec<doorstep_core::sync::protocol::Refused> {
        match write(app, device, upload_of(phone), crate::admin::now_ms()) {
            Written::Stored(o) => o.verdicts.refused,
            _ => panic!("the phone's upload was not stored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_upload::{upload_of, write};
    use super::*;

    /// A revoke that commits between the sync's authentication and its write wins: the upload is
    /// not stored and the device is told to wipe.
    #[test]
    fn a_revoke_between_authentication_and_write_stores_nothing() {
        use doorstep_core::record::Role;

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
        let app = App::new(storage, ServerConfig::default());
        let phone =
            doorstep_core::testing::open(&dir.path().join("p.db"), "d1", Role::DistrictNurse);
        phone
            .register_patient(doorstep_core::testing::demographics(
                "Ada", "Moss", None, "HX1 1AA",
            ))
            .unwrap();
        // Authenticated while active...
        let device = app
            .storage
            .read(|tx| tx.device_by_token("tok"))
            .unwrap()
            .unwrap();
        assert!(!device.revoked);
        // ...revoked before the write...
        crate::admin::revoke_device(&app.storage, "d1").unwrap();
        assert!(matches!(
            write(&app, &device, upload_of(&phone), 5),
            Written::Wipe
        ));
        assert_eq!(
            app.storage.read(|tx| tx.max_seq()).unwrap(),
            0,
            "nothing stored"
        );

        // The same kind of upload from an active device is stored.
        let user2 = doorstep_core::testing::user("user-d2", Role::DistrictNurse);
        crate::admin::create_user(
            &app.storage,
            &user2.id,
            &user2.display_name,
            user2.role,
            "team-a",
        )
        .unwrap();
        app.storage
            .write(|tx| tx.add_device("d2", &user2.id, "tok2", 1))
            .unwrap();
        let phone2 =
            doorstep_core::testing::open(&dir.path().join("q.db"), "d2", Role::DistrictNurse);
        phone2
            .register_patient(doorstep_core::testing::demographics(
                "Bo", "Moss", None, "HX1 1AA",
            ))
            .unwrap();
        let device2 = app
            .storage
            .read(|tx| tx.device_by_token("tok2"))
            .unwrap()
            .unwrap();
        let parsed = upload_of(&phone2);
        let n = parsed.uploads.len() as u32;
        match write(&app, &device2, parsed, 6) {
            Written::Stored(outcome) => assert_eq!(outcome.verdicts.stored, n),
            _ => panic!("an active device's upload is stored"),
        }
    }

    #[test]
    fn apps_older_than_the_minimum_release_are_told_to_update() {
        let app = |r: &str| AppVersion {
            release: r.into(),
            layout: 1,
        };
        assert!(check_app_version(&app("0.1.0"), None).is_ok());
        assert!(check_app_version(&app("0.2.0"), Some("0.2.0")).is_ok());
        assert!(check_app_version(&app("0.10.1"), Some("0.9.9")).is_ok());
        let e = check_app_version(&app("0.1.9"), Some("0.2.0")).unwrap_err();
        assert!(matches!(e, ServerError::Protocol { .. }));
        assert!(e.to_string().contains("update the app"), "{e}");
        assert!(check_app_version(&app("first release"), Some("0.1.0")).is_err());
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
