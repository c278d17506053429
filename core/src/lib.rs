//! # doorstep-core
//!
//! The offline-first record of people cared for at home. Each person is a small set of
//! Automerge documents (one per [`record::Compartment`]) kept in an encrypted SQLite file by a
//! [`FieldStore`]. See `docs/ARCHITECTURE.md` for the map and `docs/data-model.md` for the record.
//!
//! Dependencies point one way: `clinical` (pure rules) ← `record` (documents, sans-IO) ←
//! `store` (SQLite). Nothing here knows about HTTP.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("doorstep_core");

pub mod clinical;
pub mod csds;
pub mod error;
#[cfg(feature = "uniffi")]
pub mod ffi;
pub mod fhir;
pub mod ids;
pub mod record;
pub mod store;
pub mod sync;
#[doc(hidden)]
pub mod testing;

pub use clinical::assessments::{
    AnswerValue, AssessmentAnswer, AssessmentScore, ItemScore, Measurement,
};
pub use clinical::news2::{ClinicalRisk, News2Result, Parameter, SpO2Scale, SubScore};
pub use clinical::observations::{Consciousness, Observations};
pub use clinical::wound::{AreaTrend, ExudateLevel, Odour, TissueShare, TissueType, WoundSize};
pub use error::{Error, Result, ValidationError};
pub use record::*;
pub use store::{
    AlertSummary, CaseloadCursor, CaseloadEntry, CaseloadPage, CaseloadRow, ChangeBatch,
    ExportedChange, FieldStore, ImportReport, PendingChange, PlannedVisitSummary, RecordedVisit,
    StoreChange, StoreConfig, StoreObserver,
};
