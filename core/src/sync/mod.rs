//! Sync: the wire protocol (sans-IO, always built) and the HTTP client (feature `sync`).
//! The record and store code never depend on this module; it depends on them.

pub mod protocol;
pub mod session;

#[cfg(feature = "sync")]
mod client;

#[cfg(feature = "sync")]
pub use client::{enrol, sync, sync_with, SyncEndpoint, SyncOptions, SyncProgress};
pub use session::{Next, Session, SessionOptions, SyncProgressEvent, SyncReport};
