//! The record's shapes for scored assessments (MUST, Waterlow: `clinical::assessments`) and
//! wound assessments (`clinical::wound`), their drafts, and the wound-area trend read from the
//! record. Entries are immutable: `assessment:<id>` and `wound:<id>` in the clinical document
//! (`layout`), written by `edit::record_assessment` / `edit::record_wound_assessment`. A draft
//! lives only in the phone's own SQLite table (`store::drafts`), never in a document.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Author, EnteredInError};
use crate::clinical::assessments::{AssessmentAnswer, AssessmentScore};
use crate::clinical::wound::{self, AreaTrend, ExudateLevel, Odour, TissueShare, WoundSize};

/// A finished assessment, as entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentInput {
    /// `"must"`, `"waterlow"` (docs/assessments.md).
    pub definition_id: String,
    pub definition_version: u32,
    pub answers: Vec<AssessmentAnswer>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub visit_id: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "assessed_at_ms"))]
    pub assessed_at: DateTime<Utc>,
}

/// A recorded assessment with the score it had when recorded (the server scores it again and
/// refuses it if the two differ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Assessment {
    pub id: String,
    pub definition_id: String,
    pub definition_version: u32,
    pub visit_id: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "assessed_at_ms"))]
    pub assessed_at: DateTime<Utc>,
    pub answers: Vec<AssessmentAnswer>,
    pub score: AssessmentScore,
    pub author: Author,
}

/// What a half-filled assessment holds so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentDraftInput {
    pub definition_id: String,
    pub definition_version: u32,
    pub answers: Vec<AssessmentAnswer>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub visit_id: Option<String>,
}

/// A half-filled assessment kept on this phone (never synced), with its partial score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentDraft {
    /// Also the id the finished assessment will have.
    pub id: String,
    pub person_id: String,
    pub definition_id: String,
    pub definition_version: u32,
    pub visit_id: Option<String>,
    pub answers: Vec<AssessmentAnswer>,
    /// The score so far: `missing` lists what is still to answer.
    pub score: AssessmentScore,
    #[cfg_attr(feature = "uniffi", uniffi(name = "started_at_ms"))]
    pub started_at: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "updated_at_ms"))]
    pub updated_at: DateTime<Utc>,
}

/// A wound assessment as entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundAssessmentInput {
    /// The wound this is a later assessment of (its `wound_id`); `None` for a new wound.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub wound_id: Option<String>,
    /// Where it is, e.g. "left heel", "sacrum".
    pub site: String,
    pub size: WoundSize,
    pub tissue: Vec<TissueShare>,
    pub exudate: ExudateLevel,
    pub odour: Odour,
    /// 0–10.
    pub pain: u32,
    /// The app's own reference to a photo it holds; photos are not synced.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub photo_ref: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub visit_id: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "assessed_at_ms"))]
    pub assessed_at: DateTime<Utc>,
}

/// A wound assessment being filled in, kept on this phone as a draft (never synced): every field
/// may still be empty. Each field that is given is checked as it would be when recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundDraftInput {
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub wound_id: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub site: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub size: Option<WoundSize>,
    /// Empty until the wound bed is described.
    pub tissue: Vec<TissueShare>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub exudate: Option<ExudateLevel>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub odour: Option<Odour>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub pain: Option<u32>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub photo_ref: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub visit_id: Option<String>,
}

impl WoundDraftInput {
    /// The fields still to fill in before the draft can be recorded, in form order.
    pub fn missing(&self) -> Vec<String> {
        let given = [
            (
                "site",
                self.site.as_deref().is_some_and(|s| !s.trim().is_empty()),
            ),
            ("size", self.size.is_some()),
            ("tissue", !self.tissue.is_empty()),
            ("exudate", self.exudate.is_some()),
            ("odour", self.odour.is_some()),
            ("pain", self.pain.is_some()),
        ];
        given
            .iter()
            .filter(|(_, g)| !g)
            .map(|(f, _)| f.to_string())
            .collect()
    }

    /// The assessment this draft records, once nothing is missing; otherwise an error naming
    /// every missing field.
    pub fn completed(
        &self,
        assessed_at: DateTime<Utc>,
    ) -> Result<WoundAssessmentInput, crate::error::ValidationError> {
        let incomplete = || crate::error::ValidationError::Invalid {
            field: "wound assessment",
            reason: format!(
                "still to fill in: {}; the draft is kept",
                self.missing().join(", ")
            ),
        };
        let (Some(site), Some(size), Some(exudate), Some(odour), Some(pain)) = (
            self.site.clone(),
            self.size,
            self.exudate,
            self.odour,
            self.pain,
        ) else {
            return Err(incomplete());
        };
        if !self.missing().is_empty() {
            return Err(incomplete());
        }
        Ok(WoundAssessmentInput {
            wound_id: self.wound_id.clone(),
            site,
            size,
            tissue: self.tissue.clone(),
            exudate,
            odour,
            pain,
            photo_ref: self.photo_ref.clone(),
            visit_id: self.visit_id.clone(),
            assessed_at,
        })
    }
}

/// A half-filled wound assessment kept on this phone (never synced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundDraft {
    /// Also the id the finished assessment will have.
    pub id: String,
    pub person_id: String,
    pub input: WoundDraftInput,
    /// What is still to fill in ("site", "size", "tissue", "exudate", "odour", "pain").
    pub missing: Vec<String>,
    /// Length × width, mm², once the size is given.
    pub area_mm2: Option<f64>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "started_at_ms"))]
    pub started_at: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "updated_at_ms"))]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundAssessment {
    pub id: String,
    /// The id of the wound's first assessment: every later assessment of it carries the same.
    pub wound_id: String,
    pub site: String,
    pub size: WoundSize,
    /// Length × width, mm².
    pub area_mm2: f64,
    pub tissue: Vec<TissueShare>,
    pub exudate: ExudateLevel,
    pub odour: Odour,
    pub pain: u32,
    pub photo_ref: Option<String>,
    pub visit_id: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "assessed_at_ms"))]
    pub assessed_at: DateTime<Utc>,
    pub author: Author,
}

/// One measurement of a wound's area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundAreaPoint {
    pub assessment_id: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "assessed_at_ms"))]
    pub assessed_at: DateTime<Utc>,
    pub area_mm2: f64,
}

/// A wound's area over the visits, oldest first, with its direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundTrend {
    pub wound_id: String,
    /// The site as last recorded.
    pub site: String,
    pub points: Vec<WoundAreaPoint>,
    /// Latest area against the first, in % (one decimal); `None` with one measurement.
    pub change_percent: Option<f64>,
    pub trend: AreaTrend,
}

/// The area trend of every wound, from its assessments (entries marked entered in error left
/// out), in the order the wounds were first assessed.
pub fn wound_trends(wounds: &[WoundAssessment], eie: &[EnteredInError]) -> Vec<WoundTrend> {
    let mut out: Vec<WoundTrend> = Vec::new();
    let mut sorted: Vec<&WoundAssessment> = wounds
        .iter()
        .filter(|w| !eie.iter().any(|m| m.entry_id == w.id))
        .collect();
    sorted.sort_by(|a, b| (a.assessed_at, &a.id).cmp(&(b.assessed_at, &b.id)));
    for w in sorted {
        let point = WoundAreaPoint {
            assessment_id: w.id.clone(),
            assessed_at: w.assessed_at,
            area_mm2: w.area_mm2,
        };
        match out.iter_mut().find(|t| t.wound_id == w.wound_id) {
            Some(t) => {
                t.points.push(point);
                t.site = w.site.clone();
            }
            None => out.push(WoundTrend {
                wound_id: w.wound_id.clone(),
                site: w.site.clone(),
                points: vec![point],
                change_percent: None,
                trend: AreaTrend::FirstMeasurement,
            }),
        }
    }
    for t in &mut out {
        if let (Some(first), Some(last)) = (t.points.first(), t.points.last()) {
            let (change, trend) = wound::area_trend(first.area_mm2, last.area_mm2, t.points.len());
            t.change_percent = change;
            t.trend = trend;
        }
    }
    out
}
