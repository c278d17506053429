//! # doorstep-ffi
//!
//! The Doorstep core for Kotlin (Android), Swift (iOS) and Python, through UniFFI proc-macros.
//! The apps never touch SQLite or Automerge: they call [`FieldStore`] here, which calls
//! `doorstep_core::FieldStore` under the same method names.
//!
//! * Times cross as `i64` epoch milliseconds (UTC) in fields ending `_ms`; calendar dates as
//!   `"YYYY-MM-DD"` strings (see [`types`]).
//! * Every failure is one [`DoorstepError`] whose message says what to do.
//! * `enrol` and `sync` are async (Kotlin `suspend`, Swift `async`) on a tokio runtime the
//!   library owns; sync progress comes back through the `SyncProgress` callback interface.
//! * Bindings are generated from the built library (library mode) by this crate's
//!   `uniffi-bindgen` binary at build/test time and never committed (see `scripts/bindings.sh`).

uniffi::setup_scaffolding!("doorstep_ffi");

pub mod error;
pub mod store;
pub mod sync;
pub mod types;

pub use error::DoorstepError;
pub use store::FieldStore;

use doorstep_core as dc;

/// Score a set of observations with NEWS2 without storing them (e.g. to show the score while
/// the nurse is still entering values). Use `Scale2` only when it is prescribed in the record.
#[uniffi::export]
pub fn score_news2(observations: dc::Observations, scale: dc::SpO2Scale) -> dc::News2Result {
    dc::clinical::news2::score(&observations, scale)
}

/// Check an NHS number (Modulus 11); returns it as 10 digits without spaces.
#[uniffi::export]
pub fn validate_nhs_number(nhs_number: String) -> Result<String, DoorstepError> {
    dc::clinical::nhs_number::validate(&nhs_number).map_err(|e| dc::Error::from(e).into())
}

/// An NHS number in its display form, 3-3-4 ("943 476 5919").
#[uniffi::export]
pub fn format_nhs_number(nhs_number: String) -> String {
    dc::clinical::nhs_number::format(&nhs_number)
}

/// The length, in bytes, of the database key the app must hold in the Keystore/Keychain.
#[uniffi::export]
pub fn key_length() -> u32 {
    dc::store::KEY_LEN as u32
}
