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
