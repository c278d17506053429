//! What the server watches for on the virtual ward between uploads (issue 13, item 3;
//! docs/virtual-ward.md, "Re-alerts and no readings"; docs/decisions/0011), sans-IO: the
//! server's ward watch calls [`write_due`] for each person on a timer, inside its write
//! transaction, and phones read what it wrote with the rest of the clinical record.
//!
//! * **A re-alert**: an escalation still open and unacknowledged `realert_after` after it was
//!   raised, and every `realert_after` after that, is re-alerted: an immutable
//!   `esc_realert:<id>` entry numbered 1, 2, …. Only the latest number due is written, so a
//!   server that was down does not send a burst. The escalation says how many times and when.
//!   A "no readings" escalation whose readings have come back is not re-alerted (it still
//!   waits for someone to acknowledge it).
//! * **No readings**: a person on the ward with a registered home monitor whose devices have
//!   sent nothing for `no_readings_after` since their last reading of this admission (or since
//!   the admission was recorded, when none came) gets an immutable `home_gap:<id>` entry, which raises an
//!   escalation of its own (band "no readings", `record::escalation`).
//!
//! Invariants:
//! * Ids come from the data (the escalation and the number; the person and when the silence
//!   began), and what is due is worked out from the document as the write transaction sees it,
//!   under the server's one-writer lock: two processes never write the same re-alert or gap.
//! * Nothing is written for a person who is not on the ward now.
//! * Only the server writes these entries (`validate::check_principal`).

use automerge::AutoCommit;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::edit::{edit, Edit};
use super::escalation::{Escalation, EscalationStatus};
use super::home;
use super::layout::{self, key, ESCALATION_REALERT, READINGS_GAP};
use super::model::*;
use super::read::{self, ClinicalRecord};
use super::ward;
use crate::clinical::escalation::{duration_words, Trigger};
use crate::error::{Result, ValidationError};

/// The server's re-alert of an escalation nobody acknowledged (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EscalationRealert {
    /// Derived from the escalation and the number ([`realert_id`]).
    pub id: String,
    pub escalation_id: String,
    /// 1 for the first re-alert, then 2, …: how many times `realert_after` had passed.
    pub number: u32,
    /// How long the escalation had gone unacknowledged, in minutes.
    pub unacknowledged_minutes: u32,
    /// The server process, and when it re-alerted.
    pub author: Author,
}

impl EscalationRealert {
    /// What every copy must hold (the watch and the validator).
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        let invalid = |reason: String| ValidationError::Invalid {
            field: "re-alert",
            reason,
        };
        if !self.escalation_id.starts_with(super::escalation::ID_PREFIX) {
            return Err(invalid(format!(
                "{} is not an escalation id",
                self.escalation_id
            )));
        }
        if self.number == 0 {
            return Err(invalid("a re-alert is numbered from 1".into()));
        }
        Ok(())
    }
}

/// A monitored person's devices sent nothing for the team's time (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReadingsGap {
    /// Derived from the person and `since` ([`gap_id`]).
    pub id: String,
    /// When the silence began: the last reading, or when the admission was recorded.
    #[cfg_attr(feature = "uniffi", uniffi(name = "since_ms"))]
    pub since: DateTime<Utc>,
    /// The last reading of this admission (`None`: none came).
    #[cfg_attr(feature = "uniffi", uniffi(name = "last_reading_at_ms"))]
    pub last_reading_at: Option<DateTime<Utc>>,
    /// The time without readings in force when it was noticed, in minutes.
    pub after_minutes: u32,
    /// The server process, and when it noticed.
    pub author: Author,
}

impl ReadingsGap {
    /// How long the devices had been silent when the server noticed, in minutes.
    pub fn silent_minutes(&self) -> u32 {
        minutes(self.author.at - self.since)
    }

    /// What every copy must hold (the watch and the validator).
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        let invalid = |reason: String| ValidationError::Invalid {
            field: "no readings",
            reason,
        };
        if self.after_minutes == 0 {
            return Err(invalid(
                "the time without readings must be at least a minute".into(),
            ));
        }
        if self.last_reading_at.is_some_and(|t| t > self.since) {
            return Err(invalid(
                "the silence cannot begin before the last reading".into(),
            ));
        }
        if self.silent_minutes() < self.after_minutes {
            return Err(invalid(format!(
                "noticed after {} of silence, before the {} that raise it",
                duration_words(self.silent_minutes()),
                duration_words(self.after_minutes)
            )));
        }
        Ok(())
    }
}

/// When the server re-alerts and when silence is an escalation. Teams review these
/// (docs/virtual-ward.md); the server's operator sets them (`doorstep serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchRules {
    /// An open, unacknowledged escalation is re-alerted after this, and after each further this.
    pub realert_after: Duration,
    /// A monitored person with no readings for this long is an escalation.
    pub no_readings_after: Duration,
}

impl Default for WatchRules {
    fn default() -> Self {
        WatchRules {
            realert_after: Duration::minutes(30),
            no_readings_after: Duration::hours(8),
        }
    }
}

impl WatchRules {
    /// Both times are whole minutes, at least one, at most a week.
    pub fn new(realert_minutes: u32, no_readings_minutes: u32) -> Result<WatchRules> {
        for (field, m) in [
            ("re-alert after", realert_minutes),
            ("no readings after", no_readings_minutes),
        ] {
            if !(1..=7 * 24 * 60).contains(&m) {
                return Err(ValidationError::Invalid {
                    field,
                    reason: format!("{m} minutes: give between 1 minute and 7 days (10080)"),
                }
                .into());
            }
        }
        Ok(WatchRules {
            realert_after: Duration::minutes(i64::from(realert_minutes)),
            no_readings_after: Duration::minutes(i64::from(no_readings_minutes)),
        })
    }
}

/// What one person's watch wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watched {
    pub realerts: Vec<EscalationRealert>,
    pub gap: Option<ReadingsGap>,
}

impl Watched {
    pub fn is_empty(&self) -> bool {
        self.realerts.is_empty() && self.gap.is_none()
    }
}

/// The id of an escalation's `number`th re-alert: the same on every server process.
pub fn realert_id(escalation: &Escalation, number: u32) -> String {
    home::derived_id(
        "realert",
        &format!("{}\u{0}{number}", escalation.id),
        escalation.taken_at,
    )
}

/// The id of the silence of a person's devices that began at `since`.
pub fn gap_id(person_id: &str, since: DateTime<Utc>) -> String {
    home::derived_id("readings-gap", person_id, since)
}

/// Write what is due for this person at `author.at`: re-alerts of their open, unacknowledged
/// escalations, and, when `monitored` (they have a registered home monitor; its value is their
/// last reading), a gap when the devices have been silent for too long. The edit's value says
/// what was written (empty: nothing to commit).
pub fn write_due(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    rules: &WatchRules,
    monitored: Option<Option<DateTime<Utc>>>,
) -> Result<Edit<Watched>> {
    let record = read::clinical(person_id, doc)?;
    let watched = due(person_id, &record, author, rules, monitored);
    for r in &watched.realerts {
        layout::put_json(doc, &key(ESCALATION_REALERT, &r.id), r)?;
    }
    if let Some(g) = &watched.gap {
        layout::put_json(doc, &key(READINGS_GAP, &g.id), g)?;
    }
    // Only the server writes these: phones derive their projections when the change arrives.
    let summary = summary(&record, &watched);
    edit(watched, summary, Vec::new())
}

/// What is due for this person at `author.at` (see [`write_due`]).
pub fn due(
    person_id: &str,
    c: &ClinicalRecord,
    author: &Author,
    rules: &WatchRules,
    monitored: Option<Option<DateTime<Utc>>>,
) -> Watched {
    let Some(stay) = ward::stay_on(c, ward::ward_day(author.at)) else {
        return Watched::default();
    };
    let admission = Admitted {
        from: super::schedule::day_bounds(stay.accepted_on).0,
        recorded: stay.author.at,
    };
    Watched {
        realerts: c
            .escalations
            .iter()
            .filter_map(|e| due_realert(e, author, rules))
            .collect(),
        gap: monitored.and_then(|last| due_gap(person_id, c, author, rules, &admission, last)),
    }
}

fn due_realert(e: &Escalation, author: &Author, rules: &WatchRules) -> Option<EscalationRealert> {
    if e.status != EscalationStatus::Open || e.readings_resumed_at.is_some() {
        return None;
    }
    let waited = author.at - e.taken_at;
    let every = rules.realert_after.num_milliseconds().max(1);
    let number = u32::try_from(waited.num_milliseconds() / every).unwrap_or(u32::MAX);
    if number == 0 || number <= e.realerts {
        return None;
    }
    Some(EscalationRealert {
        id: realert_id(e, number),
        escalation_id: e.id.clone(),
        number,
        unacknowledged_minutes: minutes(waited),
        author: author.clone(),
    })
}

/// When the admission in force began (the start of its London day) and when it was recorded.
struct Admitted {
    from: DateTime<Utc>,
    recorded: DateTime<Utc>,
}

fn due_gap(
    person_id: &str,
    c: &ClinicalRecord,
    author: &Author,
    rules: &WatchRules,
    admission: &Admitted,
    last: Option<DateTime<Utc>>,
) -> Option<ReadingsGap> {
    // A reading from before this admission says nothing about this one; with none, the
    // silence counts from when the admission was recorded (no device was expected before).
    let last = last.filter(|t| *t >= admission.from);
    let since = last.unwrap_or(admission.recorded);
    if author.at - since < rules.no_readings_after {
        return None;
    }
    let id = gap_id(person_id, since);
    if c.readings_gaps.iter().any(|g| g.id == id) {
        return None;
    }
    Some(ReadingsGap {
        id,
        since,
        last_reading_at: last,
        after_minutes: minutes(rules.no_readings_after),
        author: author.clone(),
    })
}

/// The trigger a gap raises.
pub fn trigger(g: &ReadingsGap) -> Trigger {
    Trigger::NoReadings {
        minutes: g.silent_minutes(),
    }
}

fn minutes(d: Duration) -> u32 {
    u32::try_from(d.num_minutes().max(0)).unwrap_or(u32::MAX)
}

fn summary(before: &ClinicalRecord, w: &Watched) -> String {
    let mut parts: Vec<String> = w
        .realerts
        .iter()
        .map(|r| {
            let reasons = before
                .escalations
                .iter()
                .find(|e| e.id == r.escalation_id)
                .map_or(String::new(), |e| format!(" ({})", e.reasons));
            format!(
                "re-alerted an escalation not acknowledged for {}{reasons}",
                duration_words(r.unacknowledged_minutes)
            )
        })
        .collect();
    if let Some(g) = &w.gap {
        parts.push(format!(
            "no home-monitoring readings for {}: escalated",
            duration_words(g.silent_minutes())
        ));
    }
    format!("ward watch: {}", parts.join("; "))
}

#[cfg(test)]
mod tests;
