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
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("this server speaks sync protocol {server}; the app sent {client}. Update the app (or the server).")]
    Protocol { server: u32, client: String },
    #[error("{0}")]
    Conflict(String),
    #[error("the server's database failed: {0}")]
    Storage(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("the server failed while handling this request; nothing of it was stored. Try again; if it keeps failing, tell your administrator")]
    Internal,
}

impl ServerError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServerError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServerError::Protocol { .. } => StatusCode::UPGRADE_REQUIRED,
            ServerError::Conflict(_) => StatusCode::CONFLICT,
            ServerError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ServerError::BadRequest(_) => "bad_request",
            ServerError::Unauthorized => "unauthorized",
            ServerError::Forbidden(_) => "forbidden",
            ServerError::NotFound(_) => "not_found",
            ServerError::Unprocessable(_) => "unprocessable",
            ServerError::Protocol { .. } => "protocol",
            ServerError::Conflict(_) => "conflict",
            ServerError::Storage(_) => "unavailable",
            ServerError::TooLarge(_) => "too_large",
            ServerError::Internal => "internal",
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
        (self.status(), axum::Json(body)).into_response()
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
