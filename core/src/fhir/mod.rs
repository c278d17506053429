//! FHIR R4 (UK Core 2.0.0) export of one person's record, sans-IO: what the store read
//! ([`Source`]) becomes a `Bundle` of type `collection`, as JSON text (docs/interop.md has the
//! mapping resource by resource). `FieldStore::export_fhir` (store/fhir.rs) reads the record under
//! one lock, applies the access policy, and calls [`export`].
//!
//! * **Stable**: every resource id (and its `urn:uuid:` fullUrl) is derived from the person's id
//!   and the entry's id ([`ids`]); lists are exported in a fixed order and nothing depends on the
//!   clock, so the same record exports byte-for-byte the same Bundle.
//! * **Nothing dropped**: an entry marked entered in error keeps its resource, with status
//!   `entered-in-error` (and the general UK Core profile where the specific one fixes the status
//!   to `final`); every value of an alert in conflict is exported, each tagged `in-conflict`.
//! * **Valid strings**: free text goes through [`text::string`] (control characters removed,
//!   surrounding whitespace trimmed, empty text left out), as FHIR's `string` type requires.
//!
//! Why `collection` and not `document`: a FHIR document is an attested clinical document led by a
//! `Composition` (title, sections with narrative, author, attester); a phone's summary of a
//! record is not an authored document, and a collection is exactly "a set of resources collected
//! into a single package" (NHS England's NEWS2 example bundle is one too).

mod access;
mod advice;
mod alerts;
mod assessments;
mod bundle;
mod care;
pub mod codes;
mod encounters;
pub mod ids;
pub mod import;
mod imported;
mod obj;
mod observations;
mod patient;
pub mod questionnaires;
pub mod readings;
pub mod text;
mod typed;

pub use access::{allowed, export_for, patient_id, searchset, Export, Readable};

use crate::error::Result;
use crate::record::{AdviceRecord, CarePlanView, ClinicalRecord, Demographics};

/// What the export reads: only the compartments the reader may see are filled in.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub person_id: &'a str,
    pub demographics: Option<&'a Demographics>,
    pub clinical: Option<&'a ClinicalRecord>,
    /// The care plan with the first release's plan as its first version (`FieldStore::care_plan`).
    pub plan: Option<&'a CarePlanView>,
    pub advice: Option<&'a AdviceRecord>,
}

/// The person's record as a FHIR R4 Bundle (type `collection`), JSON text.
pub fn export(source: &Source<'_>) -> Result<String> {
    bundle::build(source)
}

#[cfg(test)]
mod tests;
