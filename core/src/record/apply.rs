//! Applying foreign changes to a document inside panic isolation (issue 8). Automerge can panic
//! on changes that decode but are inconsistent with the document; a panic here is a refused
//! change, never a poisoned lock or a dead process. After a panic the document may be half
//! updated: the caller drops it and loads it again from storage.

use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::{AutoCommit, Change};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("Automerge refused the change: {0}")]
    Refused(String),
    #[error("applying the change failed inside Automerge; the document was dropped and will be reloaded")]
    Panicked,
}

/// Apply `changes` to `doc`. On [`ApplyError::Panicked`] the document must not be used again.
pub fn apply_isolated(doc: &mut AutoCommit, changes: Vec<Change>) -> Result<(), ApplyError> {
    match catch_unwind(AssertUnwindSafe(|| doc.apply_changes(changes))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApplyError::Refused(e.to_string())),
        Err(_) => Err(ApplyError::Panicked),
    }
}

/// Load a document from saved bytes (a snapshot or concatenated changes) inside panic isolation.
pub fn load_isolated(bytes: &[u8]) -> Result<AutoCommit, ApplyError> {
    match catch_unwind(AssertUnwindSafe(|| AutoCommit::load(bytes))) {
        Ok(Ok(doc)) => Ok(doc),
        Ok(Err(e)) => Err(ApplyError::Refused(e.to_string())),
        Err(_) => Err(ApplyError::Panicked),
    }
}
