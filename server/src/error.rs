//! The server's error: each variant knows its HTTP status and says what to do, for the device's
//! user or the operator. Internal details (SQL errors) are logged, not sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use doorstep_core::sync::protocol::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the request is malformed: {0}")]
    BadRequest(String),
    #[error("this device is not enrolled or its token is wrong")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// An integration's bearer token is missing or unknown (`POST /v1/readings`).
    #[error("{0}")]
    IntegrationUnauthorized(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("this server speaks sync protocol {server}; the app sent {client}. Update the app (or the server).")]
    Protocol { server: u32, client: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Timeout(String),
    #[error("too many requests: {what}; try again in {retry_after_s} s")]
    RateLimited { what: String, retry_after_s: u64 },
    #[error("the server's database failed: {0}")]
    Storage(String),
    #[error("the server failed while handling this request; nothing of it was stored. Try again; if it keeps failing, tell your administrator")]
    Internal,
    #[error(
        "the database at {target} has schema version {found}, but this doorstep server knows only up to \
         version {known}: it was upgraded by a newer server. Run that newer server version (or restore a \
         backup taken before the upgrade); this server will not start on it"
    )]
    SchemaTooNew {
        target: String,
        found: u32,
        known: u32,
    },
}

impl ServerError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServerError::Unauthorized | ServerError::IntegrationUnauthorized(_) => {
                StatusCode::UNAUTHORIZED
            }
            ServerError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServerError::Protocol { .. } => StatusCode::UPGRADE_REQUIRED,
            ServerError::Conflict(_) => StatusCode::CONFLICT,
            ServerError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ServerError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServerError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ServerError::Storage(_) | ServerError::SchemaTooNew { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ServerError::BadRequest(_) => "bad_request",
            ServerError::Unauthorized | ServerError::IntegrationUnauthorized(_) => "unauthorized",
            ServerError::UnsupportedMedia(_) => "unsupported_media_type",
            ServerError::Forbidden(_) => "forbidden",
            ServerError::NotFound(_) => "not_found",
            ServerError::Unprocessable(_) => "unprocessable",
            ServerError::Protocol { .. } => "protocol",
            ServerError::Conflict(_) => "conflict",
            ServerError::TooLarge(_) => "too_large",
            ServerError::Timeout(_) => "timeout",
            ServerError::RateLimited { .. } => "rate_limited",
            ServerError::Internal => "internal",
            ServerError::Storage(_) | ServerError::SchemaTooNew { .. } => "unavailable",
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let message = match &self {
            ServerError::Storage(detail) => {
                tracing::error!(%detail, "storage failure");
                "the server could not reach its database; nothing from this request was stored. Try again shortly.".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            code: self.code().to_string(),
            message,
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let ServerError::RateLimited { retry_after_s, .. } = &self {
            if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_s.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        if matches!(
            self,
            ServerError::TooLarge(_)
                | ServerError::Timeout(_)
                | ServerError::Unauthorized
                | ServerError::IntegrationUnauthorized(_)
        ) {
            // The body may be unread: do not keep reading it on this connection.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<rusqlite::Error> for ServerError {
    fn from(e: rusqlite::Error) -> Self {
        ServerError::Storage(e.to_string())
    }
}

impl From<postgres::Error> for ServerError {
    fn from(e: postgres::Error) -> Self {
        ServerError::Storage(e.to_string())
    }
}

impl From<r2d2::Error> for ServerError {
    fn from(e: r2d2::Error) -> Self {
        ServerError::Storage(e.to_string())
    }
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;
