//! Clinical conflicts on any single-value field (issue 12), generalising the alert-only
//! [`super::read::conflicts`]: alerts, care-plan problems, goals, interventions and review date,
//! and the exceptions of scheduled visits (moved, handed over, cancelled, priority). Each of
//! these is a register whose value names its author; Automerge keeps every concurrent value,
//! and while there is more than one a [`FieldConflict`] shows them all with their authors.
//!
//! Conflict ids are `<person>/<field>/<hash of the values' op ids>`, with the alert kind as the
//! field for alerts (so an alert's id is the same as [`super::read::conflicts`] gives) and the
//! key otherwise: the same on every device.

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::day::{VisitCancellation, VisitHandover, VisitMove, VisitPriorityOverride};
use super::edit::{Delta, Edit};
use super::layout::{self, key, ALERT};
use super::model::*;
use super::plan::{PlanGoal, PlanIntervention, PlanProblem, PlanReview};
use super::read;
use crate::error::{Error, Result, ValidationError};

/// Key prefixes of the registers (besides alerts) whose concurrent values are conflicts.
pub const REGISTER_PREFIXES: [&str; 7] = [
    layout::CP_PROBLEM,
    layout::CP_GOAL,
    layout::CP_INTERVENTION,
    layout::DV_MOVE,
    layout::DV_HANDOVER,
    layout::DV_CANCEL,
    layout::DV_PRIORITY,
];

/// One concurrent value of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConflictValue {
    /// The value in words ("goal: Wound healed by 2027-01-31 (active)").
    pub summary: String,
    pub author: Author,
    /// The value as stored (JSON), for a screen that shows every field.
    pub value_json: String,
}

/// Concurrent values of one single-value field, shown together until a clinician resolves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FieldConflict {
    pub id: String,
    pub person_id: String,
    /// The document key ("cp_goal:<id>", "dv_move:<visit ref>", "alert:allergies").
    pub key: String,
    /// What the field is, in words ("care-plan goal", "the move of visit 2026-12-01T0900").
    pub what: String,
    /// Every value, oldest first, each with its author.
    pub values: Vec<ConflictValue>,
}

fn what_of(k: &str) -> String {
    if let Some(kind) = k.strip_prefix(ALERT).and_then(AlertKind::parse) {
        return kind.label().to_string();
    }
    let pairs: [(&str, &str); 7] = [
        (layout::CP_PROBLEM, "care-plan problem"),
        (layout::CP_GOAL, "care-plan goal"),
        (layout::CP_INTERVENTION, "care-plan intervention"),
        (layout::DV_MOVE, "the move of visit"),
        (layout::DV_HANDOVER, "the hand-over of visit"),
        (layout::DV_CANCEL, "the cancellation of visit"),
        (layout::DV_PRIORITY, "the priority of visit"),
    ];
    for (prefix, words) in pairs {
        if let Some(id) = k.strip_prefix(prefix) {
            return format!("{words} {id}");
        }
    }
    if k == layout::CP_REVIEW {
        return "care-plan review date".into();
    }
    k.to_string()
}

/// The value in words, from its typed form.
fn describe(k: &str, json: &str) -> String {
    let parsed = || -> Option<String> {
        if k.starts_with(ALERT) {
            let v: AlertValue = serde_json::from_str(json).ok()?;
            return Some(format!(
                "{}{}",
                v.text,
                if v.active { "" } else { " (no longer applies)" }
            ));
        }
        if k.starts_with(layout::CP_PROBLEM) {
            let v: PlanProblem = serde_json::from_str(json).ok()?;
            return Some(format!(
                "{}{}",
                v.text,
                if v.active { "" } else { " (closed)" }
            ));
        }
        if k.starts_with(layout::CP_GOAL) {
            let v: PlanGoal = serde_json::from_str(json).ok()?;
            let by = v
                .target_date
                .map(|d| format!(" by {d}"))
                .unwrap_or_default();
            return Some(format!("{}{by} ({:?})", v.text, v.status).to_lowercase());
        }
        if k.starts_with(layout::CP_INTERVENTION) {
            let v: PlanIntervention = serde_json::from_str(json).ok()?;
            return Some(format!(
                "{}{}",
                v.label(),
                if v.active { "" } else { " (stopped)" }
            ));
        }
        if k == layout::CP_REVIEW {
            let v: PlanReview = serde_json::from_str(json).ok()?;
            return Some(format!("review on {}", v.review_date));
        }
        if k.starts_with(layout::DV_MOVE) {
            let v: VisitMove = serde_json::from_str(json).ok()?;
            return Some(format!(
                "moved to {} {}–{}",
                v.to_date, v.window_start, v.window_end
            ));
        }
        if k.starts_with(layout::DV_HANDOVER) {
            let v: VisitHandover = serde_json::from_str(json).ok()?;
            return Some(format!("handed over to {}: {}", v.to_name, v.note));
        }
        if k.starts_with(layout::DV_CANCEL) {
            let v: VisitCancellation = serde_json::from_str(json).ok()?;
            return Some(format!("cancelled by the service: {}", v.reason));
        }
        if k.starts_with(layout::DV_PRIORITY) {
            let v: VisitPriorityOverride = serde_json::from_str(json).ok()?;
            return Some(format!("priority {}", v.priority.label()));
        }
        None
    };
    parsed().unwrap_or_else(|| json.chars().take(200).collect())
}

#[derive(Deserialize)]
struct Authored {
    author: Author,
}

fn conflict_id(person_id: &str, field: &str, op_ids: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(person_id.as_bytes());
    h.update(field.as_bytes());
    for id in op_ids {
        h.update(b"|");
        h.update(id.as_bytes());
    }
    let digest = h.finalize();
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{person_id}/{field}/{short}")
}

/// The conflict on `k`, if it holds more than one value.
pub fn conflict_on(person_id: &str, doc: &AutoCommit, k: &str) -> Result<Option<FieldConflict>> {
    let all = layout::get_all_json::<serde_json::Value>(doc, k)?;
    if all.len() < 2 {
        return Ok(None);
    }
    let mut op_ids: Vec<String> = all.iter().map(|(_, id)| id.to_string()).collect();
    op_ids.sort();
    let mut values = Vec::new();
    for (v, id) in all {
        let json = v.to_string();
        let author = serde_json::from_value::<Authored>(v)
            .map_err(|e| Error::Document(format!("a value of {k} names no author: {e}")))?
            .author;
        values.push((
            ConflictValue {
                summary: describe(k, &json),
                author,
                value_json: json,
            },
            id.to_string(),
        ));
    }
    values.sort_by(|(a, ia), (b, ib)| (a.author.at, ia).cmp(&(b.author.at, ib)));
    let field = k.strip_prefix(ALERT).unwrap_or(k);
    Ok(Some(FieldConflict {
        id: conflict_id(person_id, field, &op_ids),
        person_id: person_id.to_string(),
        key: k.to_string(),
        what: what_of(k),
        values: values.into_iter().map(|(v, _)| v).collect(),
    }))
}

/// Every open conflict of the clinical document: alerts first, then the care plan and visits.
pub fn field_conflicts(person_id: &str, doc: &AutoCommit) -> Result<Vec<FieldConflict>> {
    let mut keys: Vec<String> = AlertKind::ALL
        .iter()
        .map(|k| key(ALERT, k.as_str()))
        .collect();
    keys.push(layout::CP_REVIEW.to_string());
    for prefix in REGISTER_PREFIXES {
        keys.extend(layout::prefix_keys(doc, prefix));
    }
    let mut out = Vec::new();
    for k in keys {
        if let Some(c) = conflict_on(person_id, doc, &k)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Refuse to overwrite a field while its values are in conflict.
pub fn refuse_if_in_conflict(person_id: &str, doc: &AutoCommit, k: &str) -> Result<()> {
    if let Some(c) = conflict_on(person_id, doc, k)? {
        let who: Vec<String> = c
            .values
            .iter()
            .map(|v| v.author.display_name.clone())
            .collect();
        return Err(ValidationError::Inconsistent(format!(
            "{} has {} conflicting values (from {}): resolve the conflict (id {}) instead of overwriting it",
            c.what,
            c.values.len(),
            who.join(" and "),
            c.id
        ))
        .into());
    }
    Ok(())
}

/// What resolving a conflict wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConflictResolution {
    pub conflict_id: String,
    pub key: String,
    /// The value kept, now authored by the clinician who resolved the conflict.
    pub kept: ConflictValue,
    /// How many values the resolution superseded.
    pub superseded: u32,
}

/// Resolve a conflict on any single-value field by keeping one of its values (`keep`, an index
/// into [`FieldConflict::values`]). The value is written again with the resolving clinician as
/// its author, superseding every value the conflict showed; to combine values, resolve and then
/// edit. A value written concurrently with the resolution opens a new conflict.
pub fn resolve_field_conflict(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    conflict_id: &str,
    keep: u32,
) -> Result<Edit<ConflictResolution>> {
    let conflict = field_conflicts(person_id, doc)?
        .into_iter()
        .find(|c| c.id == conflict_id)
        .ok_or_else(|| Error::ConflictNotOpen {
            id: conflict_id.to_string(),
        })?;
    let n = conflict.values.len();
    let chosen = conflict
        .values
        .get(keep as usize)
        .ok_or_else(|| ValidationError::Invalid {
            field: "value kept",
            reason: format!(
                "choose one of the {n} values shown (0 to {})",
                n.saturating_sub(1)
            ),
        })?
        .clone();
    let mut value: serde_json::Value = serde_json::from_str(&chosen.value_json)?;
    let serde_json::Value::Object(map) = &mut value else {
        return Err(Error::Document(format!(
            "{} does not hold an object",
            conflict.key
        )));
    };
    map.insert("author".into(), serde_json::to_value(author)?);
    layout::put_json(doc, &conflict.key, &value)?;
    let kept = ConflictValue {
        summary: chosen.summary.clone(),
        author: author.clone(),
        value_json: value.to_string(),
    };
    let summary = format!(
        "resolved conflicting {} ({n} values) keeping {}'s: {}",
        conflict.what, chosen.author.display_name, chosen.summary
    );
    let deltas = vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))];
    Ok(Edit {
        value: ConflictResolution {
            conflict_id: conflict.id,
            key: conflict.key,
            kept,
            superseded: n as u32,
        },
        summary,
        deltas,
    })
}
