//! Errors. [`ValidationError`] says what is wrong with input a clinician typed; [`Error`] is the
//! store's public error. Internal failures (SQLite, Automerge) are wrapped with a message that says
//! what happened to the data ("nothing was saved") and what to do next.

use std::path::PathBuf;

/// Input that cannot be recorded as given. Nothing is written when one of these is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("NHS number '{value}' is not valid: {reason}. Check it against the referral letter or the GP record, or leave it empty if the person has none.")]
    InvalidNhsNumber { value: String, reason: String },

    #[error("{field} is required: {hint}.")]
    MissingField {
        field: &'static str,
        hint: &'static str,
    },

    #[error("{what} of {value} {unit} is outside the possible range {min}–{max} {unit}: check the reading and re-enter it.")]
    OutOfRange {
        what: &'static str,
        value: String,
        unit: &'static str,
        min: String,
        max: String,
    },

    #[error("{what} {value} is in the future: check the date.")]
    DateInFuture { what: &'static str, value: String },

    #[error("{what} '{value}' is not a valid date: use the form YYYY-MM-DD.")]
    InvalidDate { what: &'static str, value: String },

    #[error("{field} is too long ({len} characters; at most {max}): shorten it.")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },

    #[error("{0}")]
    Inconsistent(String),

    // ---- scored assessments (core::clinical::assessments)
    #[error("There is no assessment '{definition}' version {version}: {known}. Update the app, or start the assessment again.")]
    UnknownAssessment {
        definition: String,
        version: u32,
        known: String,
    },

    #[error("{field}: {reason}.")]
    InvalidAnswer { field: String, reason: String },

    /// A field whose value cannot be accepted (issue 12: times, frequencies, visit moves).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// An advice category, outcome type, amount or period that cannot be recorded (issue 14).
    #[error(transparent)]
    Outreach(#[from] crate::record::outreach::OutreachError),
}

/// The error every public `FieldStore` call returns. Across the boundary it is `DoorstepError`
/// (Kotlin `DoorstepException`): one case per variant, carrying this message, which is written
/// for the clinician or operator who reads it.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(
    feature = "uniffi",
    derive(uniffi::Error),
    uniffi(flat_error, name = "DoorstepError")
)]
pub enum Error {
    #[error("{0}")]
    Validation(#[from] ValidationError),

    #[cfg_attr(feature = "uniffi", uniffi(name = "InvalidKey"))]
    #[error("The encryption key must be exactly 32 bytes (it was {0}). The app should read it from the device's Keystore/Keychain; do not type it.")]
    BadKeyLength(usize),

    #[error("The record store at {} cannot be opened with this key: the key from the device's Keystore/Keychain is not the one the store was created with. Nothing was changed; do not delete the file — contact your system administrator.", path.display())]
    WrongKey { path: PathBuf },

    #[error("The record store is damaged and cannot be read ({detail}). Nothing was changed. Do not delete the file; contact your system administrator, who can restore the records from the sync server.")]
    Damaged { detail: String },

    #[error("The record store at {} was written by a newer version of Doorstep (schema {found}, this app knows up to {supported}). Update the app.", path.display())]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("No {what} with id {id} on this device. It may not have synced yet, or it is not on your caseload.")]
    NotFound { what: &'static str, id: String },

    #[error("Conflict {id} is not open (it was resolved already, or the values have changed). Reload the person's record and look again.")]
    ConflictNotOpen { id: String },

    #[error("Changes received could not be read ({0}). Nothing from them was saved; the sender should send them again.")]
    BadChanges(String),

    #[error("The record store could not save or read data ({0}). Nothing from this action was saved; try again, and if it keeps failing contact your system administrator.")]
    Storage(String),

    #[error("This device has not synced for more than {days} days, so its records are locked in case the phone has been lost. Connect to the network and sync to unlock them.")]
    Locked { days: u32 },

    #[error("This device was withdrawn by your administrator and the records on it have been erased. Contact your team coordinator to enrol it again.")]
    Wiped,

    #[error("Cannot reach the sync server ({0}). Your records are safe on this device; sync again when you have a signal.")]
    Network(String),

    #[error("The sync server did not accept this device's credentials. Ask your administrator to enrol the device again.")]
    AuthFailed,

    #[error("The sync server and this app do not speak the same sync protocol (server: {server}; app: {app}). {advice}")]
    ProtocolMismatch {
        server: String,
        app: u32,
        advice: &'static str,
    },

    #[error("The sync server refused the request ({status}): {message}")]
    ServerRejected { status: u16, message: String },

    #[error("This enrolment code was not accepted (it may have been used already, or expired). Ask your administrator for a new one.")]
    EnrolmentRefused,

    #[error(
        "The sync stopped unexpectedly ({0}). Your records are safe on this device; sync again."
    )]
    Interrupted(String),

    /// The access policy refuses this action to this user (`record::policy`).
    #[error("{0}. Nothing was saved.")]
    NotAllowed(#[from] crate::record::policy::Denied),

    #[error("A record document could not be processed ({0}). Nothing from this action was saved; contact your system administrator.")]
    Document(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match e.sqlite_error_code() {
            Some(DatabaseCorrupt) | Some(NotADatabase) => Error::Damaged {
                detail: e.to_string(),
            },
            _ => Error::Storage(e.to_string()),
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Document(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
