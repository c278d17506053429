//! What was imported from a GP summary (`record::imported`), exported again as the resources it
//! came from: AllergyIntolerance, Condition (a problem-list item) and Flag, with their SNOMED CT
//! codes, the source's resource named in an identifier, and the importing clinician's
//! Provenance. An import marked entered in error keeps its resource, with that status.

use serde_json::Value;

use super::bundle::{coding, coding_concept, instant, meta, Builder};
use super::obj::obj;
use super::{codes, text};
use crate::record::imported::{ImportedCode, ImportedEntry, ImportedKind, ImportedStatus};
use crate::record::ClinicalRecord;

/// The identifier system naming the resource an entry was imported from.
pub const IMPORTED_FROM: &str = "https://doorstep.example.org/fhir/Id/imported-from";

pub(crate) fn imported(b: &mut Builder<'_>, c: &ClinicalRecord) {
    for e in &c.imported {
        let r = resource(b, e);
        b.add_entry(&e.id, &e.author, vec![r]);
    }
}

fn resource(b: &mut Builder<'_>, e: &ImportedEntry) -> Value {
    let eie = b.entered_in_error(&e.id).is_some();
    let recorder = b.practitioner(&e.author);
    let identifier = obj!([{
        "system": IMPORTED_FROM,
        "value": text::string_or(&e.source.resource, "unnamed"),
    }]);
    let notes = e
        .note
        .as_deref()
        .and_then(text::string)
        .map(|n| obj!([{"text": n}]));
    let recorded = e
        .recorded_on
        .map(|d| d.to_string())
        .unwrap_or_else(|| instant(e.author.at));
    match e.kind {
        ImportedKind::Allergy => obj!({
            "resourceType": "AllergyIntolerance",
            "id": b.id("AllergyIntolerance", &[&e.id]),
            "meta": meta("UKCore-AllergyIntolerance"),
            "identifier": identifier,
            "clinicalStatus": (!eie).then(|| status(codes::ALLERGY_CLINICAL, e.status)),
            "verificationStatus": eie.then(|| coding_concept(
                codes::ALLERGY_VERIFICATION, "entered-in-error", "Entered in Error")),
            "code": concept(&e.code),
            "patient": b.patient.clone(),
            "recordedDate": recorded,
            "recorder": recorder,
            "reaction": (!e.reactions.is_empty()).then(|| obj!([{
                "manifestation": e.reactions.iter().map(concept).collect::<Vec<_>>(),
            }])),
            "note": notes,
        }),
        ImportedKind::Condition => obj!({
            "resourceType": "Condition",
            "id": b.id("Condition", &[&e.id]),
            "meta": meta("UKCore-Condition"),
            "identifier": identifier,
            "clinicalStatus": (!eie).then(|| status(codes::CONDITION_CLINICAL, e.status)),
            "verificationStatus": eie.then(|| coding_concept(
                codes::CONDITION_VERIFICATION, "entered-in-error", "Entered in Error")),
            "category": [coding_concept(codes::CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
            "code": concept(&e.code),
            "subject": b.patient.clone(),
            "recordedDate": recorded,
            "recorder": recorder,
            "note": notes,
        }),
        ImportedKind::Flag => {
            let mut code = concept(&e.code);
            // A Flag has no note: the source's words go with its code.
            if let Some(n) = e.note.as_deref().and_then(text::string) {
                code["text"] = obj!(n);
            }
            let flag_status = match (eie, e.status) {
                (true, _) => "entered-in-error",
                (false, ImportedStatus::Active) => "active",
                (false, _) => "inactive",
            };
            obj!({
                "resourceType": "Flag",
                "id": b.id("Flag", &[&e.id]),
                "meta": meta("UKCore-Flag"),
                "identifier": identifier,
                "status": flag_status,
                "code": code,
                "subject": b.patient.clone(),
                "period": {"start": recorded},
                "author": recorder,
            })
        }
    }
}

fn status(system: &str, s: ImportedStatus) -> Value {
    let (code, display) = match s {
        ImportedStatus::Active => ("active", "Active"),
        ImportedStatus::Inactive => ("inactive", "Inactive"),
        ImportedStatus::Resolved => ("resolved", "Resolved"),
    };
    coding_concept(system, code, display)
}

fn concept(c: &ImportedCode) -> Value {
    let words = text::string_or(&c.text, "(no text)");
    match &c.snomed {
        Some(code) => obj!({"coding": [coding(codes::SNOMED, code, &words)]}),
        None => obj!({"text": words}),
    }
}
