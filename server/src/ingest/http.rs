//! `POST /v1/readings`: a monitoring integration's upload, held to the server's limits in the
//! same order as a sync, cheapest first — per-address rate → announced length → bearer token
//! (an integration's, never a device's) → revoked? → per-credential rate → body read at a
//! minimum rate and bounded → lines read and bounded → one write transaction → the answer.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::formats::{self, Format};
use super::{Answer, MAX_LINES};
use crate::admin::now_ms;
use crate::auth;
use crate::error::{Result, ServerError};
use crate::http::{announced_length, blocking, rate, read_body, App, Client};
use crate::storage::IntegrationRow;

pub const READINGS_PATH: &str = "/v1/readings";

pub async fn readings_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let mut integration = None;
    let r = readings_inner(&app, client, &headers, body, &mut integration).await;
    if let Err(e) = &r {
        if !matches!(e, ServerError::Storage(_)) {
            app.metrics.refusal(e.code());
            tracing::warn!(
                target: "doorstep::security",
                event = "readings_refused",
                reason = e.code(),
                integration = integration.as_ref().map(|i: &IntegrationRow| i.integration_id.as_str()).unwrap_or("-"),
                peer = %client,
                detail = %e,
            );
        }
    }
    r
}

async fn readings_inner(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
    body: Body,
    out: &mut Option<IntegrationRow>,
) -> Result<Response> {
    let l = app.config.limits.clone();
    rate(
        &app.counters,
        format!("ip:{client}"),
        l.address_per_minute,
        "too many requests from this address",
    )?;
    let format = Format::of(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let announced = announced_length(headers, l.max_body_bytes)?;
    let integration = authenticate(app, headers).await?;
    *out = Some(integration.clone());
    if let Some(at) = integration.revoked_ms {
        return Err(ServerError::Forbidden(format!(
            "integration {} was revoked on {}: nothing it sends is stored. Ask the operator for a new credential (`doorstep admin create-integration`)",
            integration.integration_id,
            chrono::DateTime::from_timestamp_millis(at)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        )));
    }
    if integration.kind != "monitoring" {
        return Err(ServerError::Forbidden(format!(
            "integration {} is a {} integration: readings are posted with a monitoring integration's credential",
            integration.integration_id, integration.kind
        )));
    }
    rate(
        &app.counters,
        format!("int:{}", integration.integration_id),
        l.integration_per_minute,
        "this integration is posting too often (send larger batches)",
    )?;
    let body = read_body(body, announced, l.max_body_bytes, &l).await?;
    let app2 = app.clone();
    let answer = blocking(move || {
        let lines = formats::lines(format, &body)?;
        if lines.len() > MAX_LINES {
            return Err(ServerError::TooLarge(format!(
                "{} readings in one request; this server takes at most {MAX_LINES} (send them in smaller batches)",
                lines.len()
            )));
        }
        write(&app2, &integration, lines)
    })
    .await?;
    report(app, client, out.as_ref(), &answer);
    Ok(Json(answer).into_response())
}

/// The bearer token is an integration's (a device's token is not taken here).
pub(crate) async fn authenticate(app: &Arc<App>, headers: &HeaderMap) -> Result<IntegrationRow> {
    let unauthorized = || {
        ServerError::IntegrationUnauthorized(
            "this integration's bearer token is missing or unknown: send `Authorization: Bearer <token>` with the token `doorstep admin create-integration` printed".into(),
        )
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(unauthorized)?;
    let hash = auth::hash(token);
    let app = app.clone();
    blocking(move || app.storage.read(|tx| tx.integration_by_token(&hash)))
        .await?
        .ok_or_else(unauthorized)
}

/// One write transaction: the lines' verdicts, and the refused ones kept for operators. The
/// integration is re-read inside it: a revoke that committed after authentication is honoured.
pub(crate) fn write(
    app: &App,
    integration: &IntegrationRow,
    lines: Vec<super::Line>,
) -> Result<Answer> {
    let now = chrono::Utc::now();
    let mut docs = app.docs.lock();
    let answer = app.storage.write(|tx| {
        let current = tx.integration(&integration.integration_id)?;
        if current.is_none_or(|i| i.revoked_ms.is_some()) {
            return Err(ServerError::Forbidden(format!(
                "integration {} was revoked while this upload arrived: nothing of it was stored",
                integration.integration_id
            )));
        }
        let answer = super::store(tx, &mut docs, &app.identity, integration, lines, now)?;
        tx.add_ingest_refusals(&answer.refusals(&integration.integration_id, now_ms()))?;
        Ok(answer)
    })?;
    docs.committed();
    Ok(answer)
}

/// Counts in the metrics; each refused line in the security/operations log (which person id,
/// which line, why; never the value).
fn report(app: &App, client: IpAddr, integration: Option<&IntegrationRow>, a: &Answer) {
    app.metrics.readings("stored", a.stored);
    app.metrics.readings("duplicate", a.duplicate);
    let id = integration
        .map(|i| i.integration_id.as_str())
        .unwrap_or("-");
    for l in a.lines.iter().filter(|l| l.verdict == "refused") {
        let code = l.code.unwrap_or("refused");
        app.metrics.readings(code, 1);
        tracing::warn!(
            target: "doorstep::security",
            event = "reading_refused",
            reason = code,
            integration = id,
            line = l.line,
            peer = %client,
            "a reading was refused (its reason went back to the integration and is kept in ingest_refusals); the rest of the upload was stored"
        );
    }
}
