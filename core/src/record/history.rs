//! Who changed what, when: read from the audit stamp every Automerge change carries.

use std::collections::HashMap;

use automerge::AutoCommit;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::layout::AuditStamp;
use super::model::{Compartment, Role};

/// One change to a person's record, in words a person can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HistoryEntry {
    #[cfg_attr(feature = "uniffi", uniffi(name = "at_ms"))]
    pub at: DateTime<Utc>,
    pub compartment: Compartment,
    pub user_id: String,
    pub display_name: String,
    pub role: Option<Role>,
    pub device_id: String,
    /// What was done, e.g. "recorded a home visit (completed): wound care".
    pub summary: String,
    /// Id of the underlying change (hex), for support staff.
    pub change: String,
    /// The whole line: "23 Nov 2026 10:15 UTC — Sam Patel (district nurse, device 0193…):
    /// recorded a home visit".
    pub sentence: String,
    /// When the server received this change, known only when the phone that wrote it had an
    /// implausible clock (more than a day ahead of the server, or before it was enrolled): the
    /// time above is then the phone's and cannot be trusted.
    #[cfg_attr(feature = "uniffi", uniffi(name = "server_received_ms", default = None))]
    pub server_received: Option<DateTime<Utc>>,
}

fn sentence(e: &HistoryEntry) -> String {
    let role = e.role.map(|r| r.label()).unwrap_or("unknown role");
    let clock = match e.server_received {
        Some(r) => format!(
            " [device clock wrong: the server received this on {}]",
            r.format("%-d %b %Y %H:%M UTC")
        ),
        None => String::new(),
    };
    format!(
        "{} — {} ({}, device {}): {}{clock}",
        e.at.format("%-d %b %Y %H:%M UTC"),
        e.display_name,
        role,
        e.device_id,
        e.summary
    )
}

/// Every change in `doc`, oldest first. Changes without a readable stamp (which Doorstep never
/// writes) are still listed, attributed to "unknown". `clock_notes` maps a change's hash (hex)
/// to the time the server received it, for changes whose phone clock was wrong.
pub fn history(
    doc: &mut AutoCommit,
    compartment: Compartment,
    clock_notes: &HashMap<String, DateTime<Utc>>,
) -> Vec<HistoryEntry> {
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|meta| {
            let at = Utc
                .timestamp_millis_opt(meta.timestamp)
                .single()
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
            let stamp: Option<AuditStamp> = meta
                .message
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok());
            let change = meta.hash.to_string();
            let server_received = clock_notes.get(&change).copied();
            let mut entry = match stamp {
                Some(s) => HistoryEntry {
                    at,
                    compartment,
                    user_id: s.user_id,
                    display_name: s.display_name,
                    role: Some(s.role),
                    device_id: s.device_id,
                    summary: s.summary,
                    change,
                    sentence: String::new(),
                    server_received,
                },
                None => HistoryEntry {
                    at,
                    compartment,
                    user_id: "unknown".into(),
                    display_name: "unknown".into(),
                    role: None,
                    device_id: meta.actor.to_hex_string(),
                    summary: meta
                        .message
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "changed the record".into()),
                    change,
                    sentence: String::new(),
                    server_received,
                },
            };
            entry.sentence = sentence(&entry);
            entry
        })
        .collect()
}

#[cfg(test)]
mod assessment_tests {
    use automerge::transaction::CommitOptions;
    use chrono::TimeZone;

    use super::*;
    use crate::record::model::Author;

    /// A recorded assessment reads in the history with its score and band, and a wound
    /// assessment with its size and area (the summaries `record::edit` writes).
    #[test]
    fn assessments_read_as_sentences() {
        let author = Author {
            user_id: "u1".into(),
            display_name: "Sam Patel".into(),
            role: Role::DistrictNurse,
            device_id: "phone-1".into(),
            at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 15, 0).unwrap(),
        };
        let mut doc = AutoCommit::new();
        let edits = [
            crate::record::edit::record_assessment(
                &mut doc,
                &author,
                "a1".into(),
                crate::record::AssessmentInput {
                    definition_id: "must".into(),
                    definition_version: 1,
                    answers: crate::testing::must_measured(),
                    visit_id: None,
                    assessed_at: author.at,
                },
            )
            .unwrap()
            .summary,
            crate::record::edit::record_wound_assessment(
                &mut doc,
                &author,
                crate::record::WoundAssessmentInput {
                    assessed_at: author.at,
                    ..crate::testing::wound(None, 42.0, 30.5, 0)
                },
            )
            .unwrap()
            .summary,
        ];
        assert_eq!(edits[0], "recorded MUST 3 (high risk)");
        // Commit the two as one change each, as the store does.
        let mut doc2 = AutoCommit::new();
        for s in &edits {
            use automerge::transaction::Transactable;
            doc2.put(automerge::ROOT, s.as_str(), "{}").unwrap();
            let stamp = serde_json::to_string(&AuditStamp::new(&author, s.as_str())).unwrap();
            doc2.commit_with(
                CommitOptions::default()
                    .with_message(stamp)
                    .with_time(author.at.timestamp_millis()),
            );
        }
        let h = history(&mut doc2, Compartment::Clinical, &HashMap::new());
        assert_eq!(
            h[0].sentence,
            "23 Nov 2026 10:15 UTC — Sam Patel (district nurse, device phone-1): recorded MUST 3 (high risk)"
        );
        assert_eq!(
            h[1].sentence,
            "23 Nov 2026 10:15 UTC — Sam Patel (district nurse, device phone-1): recorded a wound assessment: left heel, 42 × 30.5 × 3 mm (1281 mm²)"
        );
    }
}
