//! The person's record: its data model, its layout in Automerge documents, and reading it back.
//! Pure data and document logic; no SQLite, no network. `edit` is the write half (one function
//! per operation), `read` the read half, `policy` who may do what.

pub mod apply;
pub mod assessments;
pub mod edit;
pub mod history;
pub mod layout;
pub mod model;
pub mod policy;
pub mod read;
pub mod validate;

pub use assessments::*;
pub use history::HistoryEntry;
pub use model::*;
pub use read::{AdviceRecord, ClinicalRecord, Discharge, PersonRecord};
