//! The hub's screen at `/hub` (issue 13, item 5; docs/hub.md): hub staff sign in with an account
//! made by `doorstep admin create-hub-user`, see their team's ward census and open escalations
//! (highest band, then newest), acknowledge one, and open a person's trend charts.
//!
//! Server-rendered HTML (askama templates in `server/templates/hub/`, escaped by default) and no
//! script. Every form carries the session's CSRF token (sign-in its own, double-submitted with a
//! cookie); cookies are HttpOnly and SameSite=Strict (and Secure behind TLS); every page has a
//! strict Content-Security-Policy. Every person a page shows is audited (`hub_views`), and an
//! acknowledgement is written into the person's record by this server process on the hub
//! user's behalf (`authored::Writer::Hub`), checked by the phone's own rules; phones get it on
//! their next sync.

pub mod session;
pub mod views;

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Utc;
use doorstep_core::record::escalation::{self, EscalationEventKind};
use doorstep_core::record::User;
use serde::Deserialize;

use crate::authored::{self, Writer};
use crate::error::ServerError;
use crate::http::{blocking, App, Client};
use crate::storage::HubSession;
use session::{LOGIN_COOKIE, SESSION_COOKIE};

/// The confirmations a redirect after a form may carry (then the person's name).
const DONE: [&str; 3] = [
    "acknowledged the escalation of ",
    "recorded an action on the escalation of ",
    "recorded the outcome of the escalation of ",
];

/// The largest form a hub page posts.
const MAX_FORM_BYTES: usize = 16 * 1024;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/hub", get(|| async { Redirect::to("/hub/ward") }))
        .route("/hub/hub.css", get(stylesheet))
        .route("/hub/login", get(login_page).post(login))
        .route("/hub/logout", post(logout))
        .route("/hub/ward", get(ward_page))
        .route("/hub/escalations/acknowledge", post(acknowledge))
        .route("/hub/escalations/record", post(acknowledge))
        .route("/hub/people/{id}", get(person_page))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

// ---------------------------------------------------------------- templates

#[derive(Template)]
#[template(path = "hub/login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    user: &'a str,
    error: Option<&'a str>,
    limit: u64,
}

#[derive(Template)]
#[template(path = "hub/ward.html")]
struct WardPage<'a> {
    who: &'a str,
    team: &'a str,
    csrf: &'a str,
    notice: Option<String>,
    error: Option<String>,
    escalations: Vec<views::EscalationRow>,
    routes: Option<views::RoutesView>,
    census: Vec<views::CensusRow>,
}

#[derive(Template)]
#[template(path = "hub/person.html")]
struct PersonPage<'a> {
    who: &'a str,
    team: &'a str,
    csrf: &'a str,
    name: &'a str,
    escalations: Vec<views::EscalationRow>,
    routes: Option<views::RoutesView>,
    charts: Vec<views::Chart>,
}

#[derive(Template)]
#[template(path = "hub/error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
}

// ---------------------------------------------------------------- responses

/// An HTML page with the hub's security headers.
fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

fn render(t: &impl Template) -> Result<String, ServerError> {
    t.render().map_err(|e| {
        tracing::error!(error = %e, "a hub page could not be rendered");
        ServerError::Internal
    })
}

/// A refusal as a page a person can act on.
fn error_page(e: ServerError) -> Response {
    let (status, heading) = match &e {
        ServerError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        ServerError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        ServerError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        ServerError::BadRequest(_) => (StatusCode::BAD_REQUEST, "That did not work"),
        ServerError::Conflict(_) => (StatusCode::CONFLICT, "Already done"),
        ServerError::Storage(d) => {
            tracing::error!(detail = %d, "hub: storage failure");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is having trouble",
            )
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
    };
    let message = match &e {
        ServerError::Storage(_) => {
            "The server could not reach its database; nothing was changed. Try again in a minute; if it keeps failing, tell your Doorstep operator.".to_string()
        }
        other => other.to_string(),
    };
    let page = ErrorPage {
        heading,
        message: &message,
    };
    match page.render() {
        Ok(body) => html(status, body, &[]),
        Err(_) => (status, message).into_response(),
    }
}

/// Address rate limit, as for every other route.
fn rate(app: &App, client: IpAddr) -> Result<(), ServerError> {
    let now = crate::admin::now_ms();
    app.counters
        .hit(
            &format!("ip:{client}"),
            app.config.limits.address_per_minute,
            now,
        )
        .map_err(|retry_after_s| ServerError::RateLimited {
            what: "too many requests from this address".into(),
            retry_after_s,
        })
}

fn secure(app: &App) -> bool {
    app.config.hub_secure_cookies
}

/// The signed-in user, or a redirect to the sign-in page.
async fn session_of(
    app: &Arc<App>,
    headers: &HeaderMap,
) -> Result<Option<(HubSession, User)>, ServerError> {
    let Some(token) = session::cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let app = app.clone();
    blocking(move || {
        app.storage
            .read(|tx| session::signed_in(tx, &token, crate::admin::now_ms()))
    })
    .await
}

/// The address rate limit, then the signed-in user: or the page to answer with instead (the
/// sign-in page, or a refusal).
async fn signed_in_page(
    app: &Arc<App>,
    client: IpAddr,
    headers: &HeaderMap,
) -> Result<(HubSession, User), Response> {
    rate(app, client).map_err(error_page)?;
    match session_of(app, headers).await {
        Ok(Some(x)) => Ok(x),
        Ok(None) => Err(to_login()),
        Err(e) => Err(error_page(e)),
    }
}

/// A form carries its session's CSRF token, or nothing it asks is done.
#[allow(clippy::result_large_err)] // the page is answered at once, never propagated
fn same_session(s: &HubSession, csrf: &str) -> Result<(), Response> {
    if session::same_secret(&s.csrf, csrf) {
        return Ok(());
    }
    Err(error_page(ServerError::Forbidden(
        "That form was not from this session. Go back, reload the page and try again.".into(),
    )))
}

fn to_login() -> Response {
    Redirect::to("/hub/login").into_response()
}

// ---------------------------------------------------------------- handlers

async fn stylesheet() -> Response {
    let mut r = include_str!("../../templates/hub/hub.css").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r
}

fn login_form(app: &App, status: StatusCode, user: &str, error: Option<&str>) -> Response {
    let csrf = crate::auth::new_token();
    let page = LoginPage {
        csrf: &csrf,
        user,
        error,
        limit: session::FAILURES_PER_MINUTE,
    };
    match render(&page) {
        Ok(body) => html(
            status,
            body,
            &[session::set_cookie(LOGIN_COOKIE, &csrf, 3600, secure(app))],
        ),
        Err(e) => error_page(e),
    }
}

async fn login_page(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
) -> Response {
    if let Err(e) = rate(&app, client) {
        return error_page(e);
    }
    login_form(&app, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    csrf: String,
}

async fn login(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Err(e) = rate(&app, client) {
        return error_page(e);
    }
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !session::same_secret(&expected, &f.csrf) {
        return login_form(
            &app,
            StatusCode::FORBIDDEN,
            &f.user,
            Some("This sign-in form had expired or came from another site. Sign in again here."),
        );
    }
    let user_id = f.user.trim().to_string();
    let a = app.clone();
    let address = client.to_string();
    let uid = user_id.clone();
    let result = blocking(move || {
        session::sign_in(
            &a.storage,
            &address,
            &uid,
            &f.password,
            crate::admin::now_ms(),
        )
    })
    .await;
    match result {
        Ok((token, _, user)) => {
            tracing::info!(target: "doorstep::security", event = "hub_sign_in", user = %user.id, peer = %client, "a hub user signed in");
            let mut r = Redirect::to("/hub/ward").into_response();
            for c in [
                session::set_cookie(
                    SESSION_COOKIE,
                    &token,
                    session::SESSION_MS / 1000,
                    secure(&app),
                ),
                session::set_cookie(LOGIN_COOKIE, "", 0, secure(&app)),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(e) => {
            tracing::warn!(target: "doorstep::security", event = "hub_sign_in_refused", peer = %client, reason = %e, "a hub sign-in was refused");
            let status = match e {
                ServerError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                ServerError::Forbidden(_) => StatusCode::UNAUTHORIZED,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let words = match &e {
                ServerError::Storage(_) | ServerError::Internal => {
                    "The server could not check your sign-in just now. Try again in a minute."
                        .to_string()
                }
                other => other.to_string(),
            };
            login_form(&app, status, &user_id, Some(&words))
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Ok(Some((s, _))) = session_of(&app, &headers).await else {
        return to_login();
    };
    if let Err(page) = same_session(&s, &f.csrf) {
        return page;
    }
    let a = app.clone();
    let _ = blocking(move || a.storage.write(|tx| tx.end_hub_session(&s.token_hash))).await;
    let mut r = to_login();
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(SESSION_COOKIE, "", 0, secure(&app)))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct WardQuery {
    /// What was just done, for the confirmation ("acknowledged the escalation of Edith Crawley").
    done: Option<String>,
}

async fn ward_page(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Query(q): Query<WardQuery>,
) -> Response {
    let (s, user) = match signed_in_page(&app, client, &headers).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    // Only the confirmations this server writes: a crafted link cannot put words on the page.
    let notice = q
        .done
        .filter(|what| DONE.iter().any(|d| what.starts_with(d)) && what.chars().count() <= 200)
        .map(|what| format!("You {what}."));
    ward_response(&app, &s, user, StatusCode::OK, notice, None).await
}

async fn ward_response(
    app: &Arc<App>,
    s: &HubSession,
    user: User,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let a = app.clone();
    let u = user.clone();
    let view = match blocking(move || views::ward(&a, &u, Utc::now())).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let page = WardPage {
        who: &user.display_name,
        team: &view.team,
        csrf: &s.csrf,
        notice,
        error,
        escalations: view.escalations,
        routes: view.routes,
        census: view.census,
    };
    match render(&page) {
        Ok(body) => html(status, body, &[]),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct AcknowledgeForm {
    csrf: String,
    person_id: String,
    escalation_id: String,
    #[serde(default)]
    note: String,
    /// `acknowledged` (the default), `action` or `outcome`.
    #[serde(default)]
    kind: String,
}

impl AcknowledgeForm {
    fn kind(&self) -> Result<EscalationEventKind, ServerError> {
        match self.kind.as_str() {
            "" | "acknowledged" => Ok(EscalationEventKind::Acknowledged),
            "action" => Ok(EscalationEventKind::Action),
            "outcome" => Ok(EscalationEventKind::Outcome),
            other => Err(ServerError::BadRequest(format!(
                "{other:?} is not something to record on an escalation (acknowledged, action or outcome)"
            ))),
        }
    }
}

async fn acknowledge(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Form(f): Form<AcknowledgeForm>,
) -> Response {
    let (s, user) = match signed_in_page(&app, client, &headers).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    if let Err(page) = same_session(&s, &f.csrf) {
        return page;
    }
    let a = app.clone();
    let u = user.clone();
    let done = match f.kind() {
        Ok(EscalationEventKind::Acknowledged) => DONE[0],
        Ok(EscalationEventKind::Action) => DONE[1],
        Ok(EscalationEventKind::Outcome) => DONE[2],
        Err(e) => return error_page(e),
    };
    let written = blocking(move || write_acknowledgement(&a, &u, &f)).await;
    match written {
        Ok(name) => {
            let to = format!(
                "/hub/ward?done={}",
                form_urlencoded(&format!("{done}{name}"))
            );
            Redirect::to(&to).into_response()
        }
        Err(ServerError::Conflict(why)) | Err(ServerError::NotFound(why)) => {
            ward_response(&app, &s, user, StatusCode::CONFLICT, None, Some(why)).await
        }
        Err(e) => error_page(e),
    }
}

fn form_urlencoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The acknowledgement, action or outcome, in one write transaction: the person is on the
/// user's team, the record's own rules hold (acknowledged once; an action or outcome only after
/// an acknowledgement, with a note; nothing after the outcome), and the change is checked as a
/// phone checks it.
/// Returns the person's name, for the confirmation.
fn write_acknowledgement(
    app: &App,
    user: &User,
    f: &AcknowledgeForm,
) -> Result<String, ServerError> {
    views::may_read(user)?;
    let kind = f.kind()?;
    let note = Some(f.note.trim().to_string()).filter(|n| !n.is_empty());
    let mut docs = app.docs.lock();
    let name = app.storage.write(|tx| {
        if !tx.is_member(&user.team, &f.person_id)? {
            return Err(ServerError::NotFound(
                "That person is not on your team's caseload; nothing was recorded.".into(),
            ));
        }
        authored::write_clinical(
            tx,
            &mut docs,
            &app.identity,
            Writer::Hub(user),
            &f.person_id,
            Utc::now(),
            &|_, why| ServerError::Conflict(why),
            |doc, author| {
                let e = escalation::record_event(
                    doc,
                    &f.person_id,
                    author,
                    &f.escalation_id,
                    kind,
                    note.clone(),
                )?;
                Ok(Some(((), e.summary)))
            },
        )?;
        docs.compact_touched(tx)?;
        views::display_name(tx, &mut docs, &f.person_id)
    })?;
    docs.committed();
    Ok(name)
}

async fn person_page(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, user) = match signed_in_page(&app, client, &headers).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let a = app.clone();
    let u = user.clone();
    let now = Utc::now();
    let p = match blocking(move || views::person_page(&a, &u, &id, now)).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let charts = views::charts(&p, now);
    let routes = {
        let a = app.clone();
        let team = user.team.clone();
        match blocking(move || views::routes(&a, &team, now)).await {
            Ok(r) => r,
            Err(e) => return error_page(e),
        }
    };
    let mut open: Vec<_> = p
        .record
        .escalations
        .iter()
        .filter(|e| e.status.is_open())
        .cloned()
        .collect();
    open.sort_by(escalation::by_urgency);
    let page = PersonPage {
        who: &user.display_name,
        team: &user.team,
        csrf: &s.csrf,
        name: &p.name,
        escalations: open
            .into_iter()
            .map(|e| views::escalation_row(e, p.name.clone()))
            .collect(),
        routes,
        charts,
    };
    match render(&page) {
        Ok(body) => html(StatusCode::OK, body, &[]),
        Err(e) => error_page(e),
    }
}
