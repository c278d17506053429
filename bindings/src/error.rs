//! The one error every call can throw. Each variant carries the core's message unchanged: those
//! messages are written for the clinician or operator who will read them and say what to do.
//! Kotlin sees `DoorstepException.Validation` etc. (`e.message` is the text), Swift
//! `DoorstepError.Validation(message:)`, Python `DoorstepError.Validation`.

use doorstep_core as dc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum DoorstepError {
    /// Input that cannot be recorded as given (a wrong NHS number, a reading out of range, a
    /// missing field). Nothing was written: show the message beside the field and let the user
    /// correct it.
    #[error("{0}")]
    Validation(String),

    /// The key handed to `open` is not 32 bytes: a programming error in the app's key handling.
    #[error("{0}")]
    InvalidKey(String),

    /// The store exists but this key does not open it. Nothing was changed; never delete the file.
    #[error("{0}")]
    WrongKey(String),

    /// The store file is damaged. Nothing was changed; never delete the file.
    #[error("{0}")]
    Damaged(String),

    /// The store was written by a newer app version: the app must be updated.
    #[error("{0}")]
    TooNew(String),

    /// No person, visit, entry… with that id on this device.
    #[error("{0}")]
    NotFound(String),

    /// The conflict was resolved already or its values changed: reload and show it again.
    #[error("{0}")]
    ConflictNotOpen(String),

    /// Changes received from elsewhere could not be read; nothing from them was stored.
    #[error("{0}")]
    BadChanges(String),

    /// The device has not synced for too long and its records are locked: sync to unlock.
    #[error("{0}")]
    Locked(String),

    /// The administrator withdrew this device and its records were erased.
    #[error("{0}")]
    Wiped(String),

    /// The sync server cannot be reached; the records are safe on the device. Try again later.
    #[error("{0}")]
    Network(String),

    /// The server did not accept this device's token: the device must be enrolled again.
    #[error("{0}")]
    AuthFailed(String),

    /// The server and the app speak different sync protocol versions.
    #[error("{0}")]
    ProtocolMismatch(String),

    /// The server refused the request (the message gives its reason).
    #[error("{0}")]
    ServerRejected(String),

    /// The enrolment code was not accepted (used, expired or mistyped).
    #[error("{0}")]
    EnrolmentRefused(String),

    /// Anything else (storage or document failures); the message says what to do.
    #[error("{0}")]
    Other(String),
}

impl From<dc::Error> for DoorstepError {
    fn from(e: dc::Error) -> Self {
        use dc::Error as E;
        let message = e.to_string();
        match e {
            E::Validation(_) => DoorstepError::Validation(message),
            E::BadKeyLength(_) => DoorstepError::InvalidKey(message),
            E::WrongKey { .. } => DoorstepError::WrongKey(message),
            E::Damaged { .. } => DoorstepError::Damaged(message),
            E::TooNew { .. } => DoorstepError::TooNew(message),
            E::NotFound { .. } => DoorstepError::NotFound(message),
            E::ConflictNotOpen { .. } => DoorstepError::ConflictNotOpen(message),
            E::BadChanges(_) => DoorstepError::BadChanges(message),
            E::Locked { .. } => DoorstepError::Locked(message),
            E::Wiped => DoorstepError::Wiped(message),
            E::Network(_) => DoorstepError::Network(message),
            E::AuthFailed => DoorstepError::AuthFailed(message),
            E::ProtocolMismatch { .. } => DoorstepError::ProtocolMismatch(message),
            E::ServerRejected { .. } => DoorstepError::ServerRejected(message),
            E::EnrolmentRefused => DoorstepError::EnrolmentRefused(message),
            #[allow(unreachable_patterns)]
            _ => DoorstepError::Other(message),
        }
    }
}

pub type Result<T, E = DoorstepError> = std::result::Result<T, E>;
