//! # doorstep-ffi
//!
//! The library Kotlin (Android), Swift (iOS) and Python load: the Doorstep core through UniFFI.
//! Core exports its own types, `FieldStore` and its error (`DoorstepError`) behind its `uniffi`
//! feature (see `doorstep_core::ffi` for how times and dates cross); this crate adds only what is
//! truly foreign-facing:
//!
//! * `enrol` and `sync`, async across the boundary (Kotlin `suspend`, Swift `async`) on a tokio
//!   runtime the library owns; sync progress comes back through the `SyncProgress` callback
//!   interface ([`sync`]);
//! * the scaffolding, and the `uniffi-bindgen` binary that generates the bindings from the built
//!   library (library mode) at build/test time; they are never committed (`scripts/bindings.sh`).

uniffi::setup_scaffolding!("doorstep_ffi");

pub mod sync;

pub use doorstep_core::{Error as DoorstepError, FieldStore};
