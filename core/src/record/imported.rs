//! What a GP summary brought into the record (issue 15 item 3, layout 8): coded allergies,
//! problems and flags imported from a UK Core Bundle (`crate::fhir::import`), each an immutable
//! entry `imported:<id>` of the clinical record with the resource it came from.
//!
//! An imported allergy never overwrites the free-text allergies alert a clinician keeps: it sits
//! beside it, and [`allergy_disagreements`] works out, whenever the record is read, where the two
//! disagree (an allergy the alert does not mention, "no known drug allergy" against an alert that
//! lists some, imported allergies and no alert at all), so the clinician sees it and decides. A
//! wrong import is marked entered in error like any entry.

use automerge::AutoCommit;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::edit::{self, Edit};
use super::layout::{self, key, IMPORTED};
use super::model::*;
use crate::clinical::snomed;
use crate::error::{Result, ValidationError};

/// The most reactions kept for one allergy.
pub const MAX_REACTIONS: usize = 20;

/// The SNOMED CT situations that say the person has no known allergy of some kind: no known
/// allergy, no known drug allergy, no known food allergy, no known environmental allergy.
pub const NO_KNOWN_ALLERGY: [&str; 4] = ["716186003", "409137002", "429625007", "428607008"];

/// What kind of resource an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ImportedKind {
    /// An AllergyIntolerance (or a "no known allergy" statement).
    Allergy,
    /// A Condition: a problem on the GP's problem list.
    Condition,
    /// A Flag: something to know before the visit (a diet, a risk).
    Flag,
}

impl ImportedKind {
    pub fn label(&self) -> &'static str {
        match self {
            ImportedKind::Allergy => "allergy",
            ImportedKind::Condition => "problem",
            ImportedKind::Flag => "flag",
        }
    }
}

/// Whether the source still holds it to be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ImportedStatus {
    Active,
    Inactive,
    Resolved,
}

/// A coded concept as the source gave it: a SNOMED CT concept id when it had one, and the words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ImportedCode {
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub snomed: Option<String>,
    pub text: String,
}

/// Where an entry came from: the resource in the source system, and the Bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ImportSource {
    /// "AllergyIntolerance/<id>" as the source named it.
    pub resource: String,
    /// The Bundle's identifier or id, when it had one.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub bundle: Option<String>,
}

/// One imported allergy, problem or flag (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ImportedEntry {
    pub id: String,
    pub kind: ImportedKind,
    pub code: ImportedCode,
    pub status: ImportedStatus,
    /// An allergy's reactions (urticarial rash, anaphylaxis).
    #[serde(default)]
    pub reactions: Vec<ImportedCode>,
    /// When the source recorded it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub recorded_on: Option<NaiveDate>,
    /// The source's further words (a Flag's "Patient has a severe peanut allergy.").
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub note: Option<String>,
    pub source: ImportSource,
    /// Who imported it, on which device, when.
    pub author: Author,
}

impl ImportedEntry {
    /// The record's rules for an imported entry, on the phone before it writes and on the
    /// server before it stores: words present and bounded, codes that are SNOMED CT concept ids,
    /// no date after `today`.
    pub fn check(&self, today: NaiveDate) -> Result<(), ValidationError> {
        check_code("imported code", &self.code)?;
        if self.reactions.len() > MAX_REACTIONS {
            return Err(ValidationError::Invalid {
                field: "reactions",
                reason: format!(
                    "{} reactions; at most {MAX_REACTIONS} are kept",
                    self.reactions.len()
                ),
            });
        }
        for r in &self.reactions {
            check_code("reaction", r)?;
        }
        if let Some(n) = &self.note {
            text("imported note", n)?;
        }
        if let Some(d) = self.recorded_on {
            if d > today {
                return Err(ValidationError::DateInFuture {
                    what: "date recorded",
                    value: d.to_string(),
                });
            }
        }
        required_short(
            "source resource",
            &self.source.resource,
            "name the resource",
        )?;
        if let Some(b) = &self.source.bundle {
            short("source bundle", b)?;
        }
        Ok(())
    }

    /// "allergy: Amoxicillin".
    pub fn label(&self) -> String {
        format!("{}: {}", self.kind.label(), self.code.text)
    }

    /// A "no known allergy" statement rather than an allergy.
    pub fn is_no_known_allergy(&self) -> bool {
        self.kind == ImportedKind::Allergy
            && self
                .code
                .snomed
                .as_deref()
                .is_some_and(|c| NO_KNOWN_ALLERGY.contains(&c))
    }

    /// Whether `other` says the same thing (same kind and concept, or the same words when
    /// uncoded): importing it again adds nothing.
    pub fn same_as(&self, kind: ImportedKind, code: &ImportedCode) -> bool {
        self.kind == kind
            && match (&self.code.snomed, &code.snomed) {
                (Some(a), Some(b)) => a == b,
                _ => self.code.text.trim().eq_ignore_ascii_case(code.text.trim()),
            }
    }
}

fn check_code(field: &'static str, c: &ImportedCode) -> Result<(), ValidationError> {
    required_short(field, &c.text, "give the words of the code")?;
    if let Some(id) = &c.snomed {
        if let Some(reason) = snomed::concept_id_problem(id) {
            return Err(ValidationError::Invalid { field, reason });
        }
    }
    Ok(())
}

/// Where an imported allergy and the allergies alert disagree, for the clinician to settle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AllergyDisagreement {
    /// The imported entry it is about.
    pub imported_id: String,
    pub message: String,
}

/// Every disagreement between the active imported allergies and the allergies alert (all its
/// values, while it is in conflict), worked out when read: setting the alert to mention the
/// allergy, or marking the import entered in error, ends it.
pub fn allergy_disagreements(
    alerts: &[Alert],
    imported: &[ImportedEntry],
    entered_in_error: &[EnteredInError],
) -> Vec<AllergyDisagreement> {
    let wrong = |id: &str| entered_in_error.iter().any(|e| e.entry_id == id);
    let texts: Vec<(&str, String)> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Allergies)
        .flat_map(|a| a.values.iter())
        .filter(|v| v.active && !v.text.trim().is_empty())
        .map(|v| (v.text.trim(), v.text.to_lowercase()))
        .collect();
    imported
        .iter()
        .filter(|e| e.kind == ImportedKind::Allergy && e.status == ImportedStatus::Active)
        .filter(|e| !wrong(&e.id))
        .filter_map(|e| disagreement(e, &texts))
        .collect()
}

/// `alert_texts`: each active value of the allergies alert, as written and in lower case.
fn disagreement(e: &ImportedEntry, alert_texts: &[(&str, String)]) -> Option<AllergyDisagreement> {
    let message = if e.is_no_known_allergy() {
        let (listed, _) = alert_texts.iter().find(|(_, t)| !says_none(t))?;
        format!(
            "The GP record says \"{}\", but the allergies alert says \"{listed}\": check with the person and the GP, then update the alert or mark the import entered in error.",
            e.code.text
        )
    } else if alert_texts.is_empty() {
        format!(
            "The GP record lists an allergy to {}, and this record has no allergies alert: check with the person and set the allergies alert.",
            e.code.text
        )
    } else if !alert_texts.iter().any(|(_, t)| mentions(t, &e.code.text)) {
        format!(
            "The GP record lists an allergy to {}, which the allergies alert does not mention: check with the person and update the alert.",
            e.code.text
        )
    } else {
        return None;
    };
    Some(AllergyDisagreement {
        imported_id: e.id.clone(),
        message,
    })
}

/// An alert whose words say there is no known allergy.
fn says_none(alert_text: &str) -> bool {
    let t = alert_text.trim();
    t == "none"
        || t == "nil"
        || t.contains("nkda")
        || t.contains("no known")
        || t.starts_with("none ")
}

/// Whether the alert's words name the allergen: any word of four letters or more of the coded
/// words, other than the words every allergy shares.
fn mentions(alert_text: &str, allergen: &str) -> bool {
    const COMMON: [&str; 8] = [
        "allergy",
        "allergic",
        "intolerance",
        "drug",
        "food",
        "substance",
        "product",
        "containing",
    ];
    allergen
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && !COMMON.contains(w))
        .any(|w| alert_text.contains(w))
}

/// Write imported entries (already built and ids given by `fhir::import`), each checked by the
/// record's rules; nothing is written if one fails. The change's summary names them.
pub fn add(
    doc: &mut AutoCommit,
    entries: Vec<ImportedEntry>,
    today: NaiveDate,
) -> Result<Edit<Vec<ImportedEntry>>> {
    for e in &entries {
        e.check(today)?;
    }
    for e in &entries {
        layout::put_json(doc, &key(IMPORTED, &e.id), e)?;
    }
    let summary = summary(&entries);
    edit::edit(entries, summary, vec![])
}

/// "imported from a GP summary: allergy: Amoxicillin; problem: Bleeding from ear", at most 400
/// characters.
fn summary(entries: &[ImportedEntry]) -> String {
    let labels: Vec<String> = entries.iter().map(ImportedEntry::label).collect();
    let s = format!("imported from a GP summary: {}", labels.join("; "));
    if s.chars().count() > 400 {
        s.chars().take(399).collect::<String>() + "…"
    } else {
        s
    }
}

/// The imported entries of a clinical document, oldest first.
pub fn stored(doc: &AutoCommit) -> Result<Vec<ImportedEntry>> {
    layout::entries(doc, IMPORTED)
}

/// The imported entries a record still holds: less those marked entered in error (a clinician
/// said they were wrong; importing them again brings them back to be seen).
pub fn still_held(doc: &AutoCommit) -> Result<Vec<ImportedEntry>> {
    let wrong: Vec<EnteredInError> = layout::entries(doc, layout::ENTERED_IN_ERROR)?;
    Ok(stored(doc)?
        .into_iter()
        .filter(|e| !wrong.iter().any(|m| m.entry_id == e.id))
        .collect())
}

#[cfg(test)]
mod tests;
