//! The FHIR routes, held to the server's limits cheapest first: per-address rate → bearer token
//! (an integration's) → per-credential rate → the read (blocking pool) → its audit row → the
//! answer. Answers are `application/fhir+json`; a refusal is an `OperationOutcome` whose
//! diagnostics say what to do, with the HTTP status of the refusal.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::Answer;
use crate::admin::now_ms;
use crate::error::{Result, ServerError};
use crate::http::{announced_length, blocking, rate, read_body, App, Client};
use crate::ingest::http::authenticate;
use crate::storage::{FhirReadRow, IntegrationRow};

pub const PATIENT_PATH: &str = "/fhir/Patient";
pub const EVERYTHING_PATH: &str = "/fhir/Patient/{id}/$everything";
/// A GP summary to import (`?team=` names the team a new person joins).
pub const BUNDLE_PATH: &str = "/fhir/Bundle";

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// The assessment definitions as published: not patient data, so no credential is asked.
pub const QUESTIONNAIRE_PATH: &str = "/fhir/Questionnaire/{id}";
pub const CODE_SYSTEM_PATH: &str = "/fhir/CodeSystem/{id}";

pub fn router() -> axum::Router<Arc<App>> {
    axum::Router::new()
        .route(PATIENT_PATH, axum::routing::get(search_handler))
        .route(EVERYTHING_PATH, axum::routing::get(everything_handler))
        .route(BUNDLE_PATH, axum::routing::post(import_handler))
        .route(
            QUESTIONNAIRE_PATH,
            axum::routing::get(|s, c, p| published_handler(s, c, p, "Questionnaire")),
        )
        .route(
            CODE_SYSTEM_PATH,
            axum::routing::get(|s, c, p| published_handler(s, c, p, "CodeSystem")),
        )
}

/// The published definitions, built once per process (they are the code's, not the data's).
fn published() -> &'static [serde_json::Value] {
    static PUBLISHED: std::sync::OnceLock<Vec<serde_json::Value>> = std::sync::OnceLock::new();
    PUBLISHED.get_or_init(doorstep_core::fhir::questionnaires::published)
}

/// `GET /fhir/Questionnaire/{id}`, `GET /fhir/CodeSystem/{id}`: a published definition
/// (`must-1`, `must-1-answers`), rate-limited per address.
async fn published_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    Path(id): Path<String>,
    kind: &'static str,
) -> Response {
    let l = &app.config.limits;
    let found = rate(
        &app.counters,
        format!("ip:{client}"),
        l.address_per_minute,
        "too many requests from this address",
    )
    .and_then(|()| {
        published()
            .iter()
            .find(|r| r["resourceType"] == kind && r["id"] == id.as_str())
            .ok_or_else(|| {
                ServerError::NotFound(format!(
                    "no {kind} '{id}' is published here: the assessment definitions are {}",
                    published()
                        .iter()
                        .filter(|r| r["resourceType"] == kind)
                        .filter_map(|r| r["id"].as_str().map(String::from))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    });
    match found {
        Ok(r) => fhir_json(StatusCode::OK, r.to_string()),
        Err(e) => operation_outcome(&e),
    }
}

async fn search_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = format!("GET {PATIENT_PATH}?{}", query.as_deref().unwrap_or(""));
    let base = base_url(&app, &headers);
    let query = query.unwrap_or_default();
    serve(&app, client, &headers, request, None, move |app, i, _| {
        let identifier = identifier_of(&query)?;
        super::search(&app.storage, i, &identifier, &base)
    })
    .await
}

async fn everything_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let request = format!("GET /fhir/Patient/{id}/$everything");
    serve(&app, client, &headers, request, None, move |app, i, _| {
        super::everything(&app.storage, i, &id)
    })
    .await
}

/// `POST /fhir/Bundle[?team=T]`: import a GP summary (`super::import`). 201 when the person was
/// registered from it, 200 when it was added to a record held; the body is an
/// OperationOutcome with a line per resource.
async fn import_handler(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let request = format!("POST {BUNDLE_PATH}?{}", query.as_deref().unwrap_or(""));
    let query = query.unwrap_or_default();
    serve(
        &app,
        client,
        &headers,
        request,
        Some(body),
        move |app, i, body| {
            let team = team_of(&query)?;
            let text = std::str::from_utf8(&body).map_err(|_| {
                ServerError::BadRequest("the GP summary is not UTF-8 text: send FHIR JSON".into())
            })?;
            let done = super::import::import(app, i, team.as_deref(), text)?;
            let r = &done.report;
            Ok(Answer {
                created: r.registered,
                body: super::import::outcome(r).to_string(),
                person_id: Some(r.person_id.clone()),
                compartments: done.compartments,
                outcome: format!(
                    "imported: {} added, {} already there, {} refused",
                    r.added, r.already_there, r.refused
                ),
            })
        },
    )
    .await
}

/// The one optional `team` parameter of an import (no other parameter is taken).
fn team_of(query: &str) -> Result<Option<String>> {
    let mut team = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "team" if team.is_none() && !v.is_empty() && v.len() <= 100 => {
                team = Some(v.into_owned())
            }
            "team" => {
                return Err(ServerError::BadRequest(
                    "name one team, as `?team=<team id>`".into(),
                ))
            }
            other => {
                return Err(ServerError::BadRequest(format!(
                    "an import takes only `team`; '{}' is not understood",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    Ok(team)
}

/// The one `identifier` parameter of a Patient search (no other parameter is taken: a search
/// that silently ignored one could answer a different question than was asked).
fn identifier_of(query: &str) -> Result<String> {
    let mut identifier = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "identifier" if identifier.is_none() => identifier = Some(v.into_owned()),
            "identifier" => {
                return Err(ServerError::BadRequest(
                    "give one identifier per search".into(),
                ))
            }
            "_format" if matches!(v.as_ref(), "json" | "application/fhir+json") => {}
            other => {
                return Err(ServerError::BadRequest(format!(
                    "this server searches Patients by identifier (NHS number) only; parameter '{}' is not supported",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    identifier.ok_or_else(|| {
        ServerError::BadRequest(format!(
            "search with ?identifier={}|<NHS number>",
            super::NHS_NUMBER_SYSTEM
        ))
    })
}

/// This server's FHIR base as the client reached it (for a searchset's fullUrls): the Host it
/// asked for, https when the server (or a proxy in front of it) serves TLS.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = if app.config.hub_secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/fhir")
}

/// Authenticate, rate-limit, read the body (when the route takes one), answer, audit.
async fn serve<F>(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
    request: String,
    body: Option<Body>,
    read: F,
) -> Response
where
    F: FnOnce(&App, &IntegrationRow, Vec<u8>) -> Result<Answer> + Send + 'static,
{
    let mut integration = None;
    let r = serve_inner(app, client, headers, &request, body, read, &mut integration).await;
    match r {
        Ok(answer) => {
            let status = if answer.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            fhir_json(status, answer.body)
        }
        Err(e) => {
            // A storage failure is the operator's, logged as such by `operation_outcome`; the
            // rest are refusals of what the caller sent or may do.
            if !matches!(e, ServerError::Storage(_)) {
                app.metrics.refusal(e.code());
                tracing::warn!(
                    target: "doorstep::security",
                    event = "fhir_request_refused",
                    reason = e.code(),
                    integration = integration.as_ref().map(|i: &IntegrationRow| i.integration_id.as_str()).unwrap_or("-"),
                    peer = %client,
                    detail = %e,
                );
            }
            if let Some(i) = &integration {
                let row = audit_row(i, client, &request, None, &[], e.code());
                let app = app.clone();
                // A refusal is audited too; failing to is logged, the refusal still sent.
                if let Err(a) =
                    blocking(move || app.storage.write(|tx| tx.add_fhir_read(&row))).await
                {
                    tracing::error!(detail = %a, "a refused FHIR read could not be audited");
                }
            }
            operation_outcome(&e)
        }
    }
}

async fn serve_inner<F>(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
    request: &str,
    body: Option<Body>,
    read: F,
    out: &mut Option<IntegrationRow>,
) -> Result<Answer>
where
    F: FnOnce(&App, &IntegrationRow, Vec<u8>) -> Result<Answer> + Send + 'static,
{
    let l = &app.config.limits;
    rate(
        &app.counters,
        format!("ip:{client}"),
        l.address_per_minute,
        "too many requests from this address",
    )?;
    let announced = match &body {
        Some(_) => announced_length(headers, l.max_body_bytes)?,
        None => None,
    };
    let integration = authenticate(app, headers).await?;
    *out = Some(integration.clone());
    super::check_reader(&integration)?;
    rate(
        &app.counters,
        format!("int:{}", integration.integration_id),
        l.integration_per_minute,
        "this integration is reading too often",
    )?;
    let bytes = match body {
        Some(b) => read_body(b, announced, l.max_body_bytes, l).await?,
        None => Vec::new(),
    };
    let app2 = app.clone();
    let request = request.to_string();
    blocking(move || {
        let answer = read(&app2, &integration, bytes)?;
        // The export is sent only once its audit row is stored.
        let row = audit_row(
            &integration,
            client,
            &request,
            answer.person_id.as_deref(),
            &answer.compartments,
            &answer.outcome,
        );
        app2.storage.write(|tx| tx.add_fhir_read(&row))?;
        Ok(answer)
    })
    .await
}

fn audit_row(
    i: &IntegrationRow,
    client: IpAddr,
    request: &str,
    person_id: Option<&str>,
    compartments: &[doorstep_core::record::Compartment],
    outcome: &str,
) -> FhirReadRow {
    FhirReadRow {
        integration_id: i.integration_id.clone(),
        at_ms: now_ms(),
        request: request.chars().take(500).collect(),
        person_id: person_id.map(String::from),
        compartments: compartments
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(","),
        outcome: outcome.to_string(),
        peer: client.to_string(),
    }
}

/// A FHIR JSON answer.
fn fhir_json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

/// A refusal as FHIR: an OperationOutcome with the message in `diagnostics`.
fn operation_outcome(e: &ServerError) -> Response {
    let code = match e {
        ServerError::BadRequest(_) => "invalid",
        ServerError::IntegrationUnauthorized(_) | ServerError::Unauthorized => "login",
        ServerError::Forbidden(_) => "forbidden",
        ServerError::NotFound(_) => "not-found",
        ServerError::Unprocessable(_) => "processing",
        ServerError::Conflict(_) => "conflict",
        ServerError::RateLimited { .. } => "throttled",
        ServerError::TooLarge(_) => "too-costly",
        ServerError::Timeout(_) => "timeout",
        _ => "exception",
    };
    let diagnostics = match e {
        ServerError::Storage(detail) => {
            tracing::error!(%detail, "storage failure in a FHIR request");
            "the server could not use its database; nothing was exported or imported. Try again shortly."
                .to_string()
        }
        other => other.to_string(),
    };
    let body = serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    });
    let mut response = fhir_json(e.status(), body.to_string());
    if let ServerError::RateLimited { retry_after_s, .. } = e {
        if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dependency for a test).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n.max(1)
        }
    }

    /// Queries as a hostile client might write them: the parameters' names, separators,
    /// percent escapes (broken ones too), plus signs, bars, long runs and non-ASCII.
    fn hostile(rng: &mut Lcg) -> String {
        const PIECES: &[&str] = &[
            "identifier",
            "team",
            "_format",
            "=",
            "&",
            "|",
            "%7C",
            "%",
            "%zz",
            "%00",
            "+",
            "https://fhir.nhs.uk/Id/nhs-number",
            "9434765919",
            "json",
            "é",
            "\u{202e}",
            ";",
            "identifier=",
            "team=",
            "&&",
            "==",
        ];
        let n = rng.below(30);
        let mut q = String::new();
        for _ in 0..n {
            q.push_str(PIECES[rng.below(PIECES.len())]);
        }
        if rng.below(10) == 0 {
            q.push_str(&"x".repeat(5_000));
        }
        q
    }

    #[test]
    fn hostile_queries_are_answered_or_refused_briefly_never_panicking() {
        let mut rng = Lcg(15);
        for _ in 0..5_000 {
            let q = hostile(&mut rng);
            let names: Vec<String> = form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect();
            match identifier_of(&q) {
                Ok(id) => {
                    assert_eq!(
                        names.iter().filter(|k| *k == "identifier").count(),
                        1,
                        "{q}"
                    );
                    let _ = super::super::nhs_number_of(&id);
                }
                Err(e) => assert!(e.to_string().len() < 400, "a refusal echoes too much: {q}"),
            }
            match team_of(&q) {
                Ok(Some(t)) => assert!(t.len() <= 100 && names.iter().all(|k| k == "team"), "{q}"),
                Ok(None) => assert!(names.is_empty(), "{q}"),
                Err(e) => assert!(e.to_string().len() < 400, "{q}"),
            }
        }
    }
}
