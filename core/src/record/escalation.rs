//! Escalations on the virtual ward (issue 13, item 3; docs/virtual-ward.md), sans-IO.
//!
//! An escalation is **worked out when read**, never stored: an observation set taken while the
//! person is on the virtual ward escalates when `clinical::escalation::triggers` says so, with
//! the personal parameters of the admission it was taken under. Its id is the set's
//! (`esc-<observation set id>`), so a nurse's NEWS2 of 5 recorded offline raises the escalation
//! on her phone at once and the same one — the same id — on the server and every other phone
//! once the set has synced. A set marked entered in error withdraws its escalation.
//!
//! What people do about it is stored: each acknowledgement, action and outcome is an immutable
//! `esc_event:<id>` entry naming the escalation, with its author and time. Two acknowledging at
//! once (a hub and a phone, offline) make two entries, both kept in its history; the escalation
//! is acknowledged once, by the earlier. It is closed once an outcome is recorded.

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use super::edit::{Delta, Edit};
use super::layout::{self, key, ESCALATION_EVENT};
use super::model::*;
use super::read::{self, ClinicalRecord};
use super::ward;
use super::watch::{self, ReadingsGap};
use crate::clinical::escalation::{self as rules, EscalationBand, Trigger};
use crate::clinical::news2::{ClinicalRisk, SpO2Scale};
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

/// The prefix of escalation ids; the rest is the observation set's id.
pub const ID_PREFIX: &str = "esc-";

/// The id of the escalation an observation set raises.
pub fn escalation_id(observations_id: &str) -> String {
    format!("{ID_PREFIX}{observations_id}")
}

/// What was done about an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum EscalationEventKind {
    /// Someone has seen it and is dealing with it.
    Acknowledged,
    /// What was done ("phoned, advised to use inhaler; video review booked 14:00").
    Action,
    /// How it ended ("stable on review, stays on the ward"); closes it.
    Outcome,
}

impl EscalationEventKind {
    pub fn label(&self) -> &'static str {
        match self {
            EscalationEventKind::Acknowledged => "acknowledged",
            EscalationEventKind::Action => "recorded an action on",
            EscalationEventKind::Outcome => "recorded the outcome of",
        }
    }
}

/// One acknowledgement, action or outcome (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EscalationEvent {
    pub id: String,
    pub escalation_id: String,
    pub kind: EscalationEventKind,
    /// Required for an action and an outcome.
    pub note: Option<String>,
    pub author: Author,
}

impl EscalationEvent {
    /// What every copy must hold (the edit and the validator).
    pub fn check(&self) -> Result<(), ValidationError> {
        required_short(
            "escalation",
            &self.escalation_id,
            "name the escalation acted on",
        )?;
        if !self.escalation_id.starts_with(ID_PREFIX) {
            return Err(ValidationError::Invalid {
                field: "escalation",
                reason: format!("{} is not an escalation id", self.escalation_id),
            });
        }
        match (&self.note, self.kind) {
            (Some(n), _) => text("escalation note", n),
            (None, EscalationEventKind::Acknowledged) => Ok(()),
            (None, _) => Err(ValidationError::MissingField {
                field: "escalation note",
                hint: "say what was done, or how it ended",
            }),
        }
    }
}

/// Where an escalation stands, worked out from its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum EscalationStatus {
    Open,
    Acknowledged,
    Actioned,
    Closed,
}

impl EscalationStatus {
    pub fn is_open(&self) -> bool {
        *self != EscalationStatus::Closed
    }
}

/// An escalation as every screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Escalation {
    /// `esc-<observation set id>`: the same on every device.
    pub id: String,
    pub person_id: String,
    /// The observation set that raised it, or the readings gap (`record::watch`) for a "no
    /// readings" escalation.
    pub observations_id: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "taken_at_ms"))]
    pub taken_at: chrono::DateTime<chrono::Utc>,
    pub band: EscalationBand,
    pub triggers: Vec<Trigger>,
    /// The triggers in words: "NEWS2 6; pulse 118 outside the personal range 55–100".
    pub reasons: String,
    /// The response for the band (the RCP's for NEWS2 bands).
    pub response: String,
    pub news2_total: Option<u8>,
    pub news2_risk: Option<ClinicalRisk>,
    /// "assumed on air, alert" when the set is a home-monitoring set that assumed what no
    /// reading gave: shown beside its NEWS2.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub news2_assumed: Option<String>,
    pub spo2_scale: SpO2Scale,
    pub status: EscalationStatus,
    /// The acknowledgement that counts: the earliest.
    pub acknowledged_by: Option<Author>,
    /// How many acknowledgements were recorded (more than one: at once on two devices).
    pub acknowledgements: u32,
    /// Every event, oldest first.
    pub history: Vec<EscalationEvent>,
    /// How many times the server has re-alerted it unacknowledged (the latest re-alert's
    /// number; `record::watch`).
    #[cfg_attr(feature = "uniffi", uniffi(default = 0))]
    #[serde(default)]
    pub realerts: u32,
    #[cfg_attr(feature = "uniffi", uniffi(name = "last_realerted_at_ms", default))]
    #[serde(default)]
    pub last_realerted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A "no readings" escalation: when a reading next came (it still needs acknowledging).
    #[cfg_attr(feature = "uniffi", uniffi(name = "readings_resumed_at_ms", default))]
    #[serde(default)]
    pub readings_resumed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every escalation the record raises, oldest first: by its observation sets, and by the
/// server noticing that a monitored person's devices went quiet (`record::watch`).
pub fn escalations(person_id: &str, c: &ClinicalRecord) -> Vec<Escalation> {
    let by_sets = c
        .observations
        .iter()
        .filter(|o| !c.is_entered_in_error(&o.id))
        .filter_map(|o| raised_by(c, o));
    let by_gaps = c
        .readings_gaps
        .iter()
        .filter(|g| !c.is_entered_in_error(&g.id))
        .filter_map(|g| raised_by_gap(c, g));
    let mut out: Vec<Escalation> = by_sets
        .chain(by_gaps)
        .map(|raised| standing(person_id, c, raised))
        .collect();
    out.sort_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
    out
}

/// What raised an escalation, before its events are counted.
struct Raised {
    source_id: String,
    taken_at: chrono::DateTime<chrono::Utc>,
    band: EscalationBand,
    triggers: Vec<Trigger>,
    news2_total: Option<u8>,
    news2_risk: Option<ClinicalRisk>,
    news2_assumed: Option<String>,
    spo2_scale: SpO2Scale,
    readings_resumed_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn raised_by(c: &ClinicalRecord, o: &ObservationSet) -> Option<Raised> {
    let stay = ward::stay_on(c, ward::ward_day(o.taken_at))?;
    let params = stay.admission.as_ref().map(|a| &a.parameters);
    let triggers = rules::triggers(&o.observations, &o.news2, params);
    Some(Raised {
        band: rules::band(&triggers)?,
        triggers,
        source_id: o.id.clone(),
        taken_at: o.taken_at,
        news2_total: o.news2.total,
        news2_risk: o.news2.risk,
        news2_assumed: o.assumed_words(),
        spo2_scale: o.news2.scale,
        readings_resumed_at: None,
    })
}

fn raised_by_gap(c: &ClinicalRecord, g: &ReadingsGap) -> Option<Raised> {
    let stay = ward::stay_on(c, ward::ward_day(g.author.at))?;
    let scale2 = stay
        .admission
        .as_ref()
        .is_some_and(|a| a.parameters.wants_spo2_scale2());
    let triggers = vec![watch::trigger(g)];
    Some(Raised {
        band: rules::band(&triggers)?,
        triggers,
        source_id: g.id.clone(),
        taken_at: g.author.at,
        news2_total: None,
        news2_risk: None,
        news2_assumed: None,
        spo2_scale: if scale2 {
            SpO2Scale::Scale2
        } else {
            SpO2Scale::Scale1
        },
        readings_resumed_at: c
            .observations
            .iter()
            .filter(|o| o.home.is_some() && o.taken_at > g.since)
            .filter(|o| !c.is_entered_in_error(&o.id))
            .map(|o| o.taken_at)
            .min(),
    })
}

/// The escalation with what people (and the server's re-alerts) did about it.
fn standing(person_id: &str, c: &ClinicalRecord, r: Raised) -> Escalation {
    let id = escalation_id(&r.source_id);
    let mut history: Vec<EscalationEvent> = c
        .escalation_events
        .iter()
        .filter(|e| e.escalation_id == id && !c.is_entered_in_error(&e.id))
        .cloned()
        .collect();
    history.sort_by(|a, b| (a.author.at, &a.id).cmp(&(b.author.at, &b.id)));
    let acks: Vec<&EscalationEvent> = history
        .iter()
        .filter(|e| e.kind == EscalationEventKind::Acknowledged)
        .collect();
    let has = |k| history.iter().any(|e| e.kind == k);
    let status = if has(EscalationEventKind::Outcome) {
        EscalationStatus::Closed
    } else if has(EscalationEventKind::Action) {
        EscalationStatus::Actioned
    } else if acks.is_empty() {
        EscalationStatus::Open
    } else {
        EscalationStatus::Acknowledged
    };
    let latest_realert = c
        .escalation_realerts
        .iter()
        .filter(|a| a.escalation_id == id)
        .max_by_key(|a| (a.number, a.author.at));
    Escalation {
        reasons: r
            .triggers
            .iter()
            .map(Trigger::words)
            .collect::<Vec<_>>()
            .join("; "),
        response: r.band.response().to_string(),
        acknowledged_by: acks.first().map(|e| e.author.clone()),
        acknowledgements: acks.len() as u32,
        realerts: latest_realert.map_or(0, |a| a.number),
        last_realerted_at: latest_realert.map(|a| a.author.at),
        id,
        person_id: person_id.to_string(),
        observations_id: r.source_id,
        taken_at: r.taken_at,
        band: r.band,
        triggers: r.triggers,
        news2_total: r.news2_total,
        news2_risk: r.news2_risk,
        news2_assumed: r.news2_assumed,
        spo2_scale: r.spo2_scale,
        readings_resumed_at: r.readings_resumed_at,
        status,
        history,
    }
}

/// Record an acknowledgement, an action or an outcome of an escalation. Refused when this
/// device already knows it closed, an acknowledgement when it is acknowledged already (by
/// whom and when is said), and an action or outcome before it is acknowledged.
pub fn record_event(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    escalation_id: &str,
    kind: EscalationEventKind,
    note: Option<String>,
) -> Result<Edit<EscalationEvent>> {
    let event = EscalationEvent {
        id: new_id(),
        escalation_id: escalation_id.to_string(),
        kind,
        note: note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
        author: author.clone(),
    };
    event.check()?;
    let record = read::clinical(person_id, doc)?;
    let now = escalations(person_id, &record)
        .into_iter()
        .find(|e| e.id == escalation_id)
        .ok_or_else(|| Error::NotFound {
            what: "escalation",
            id: escalation_id.to_string(),
        })?;
    refuse_out_of_turn(&now, kind)?;
    layout::put_json(doc, &key(ESCALATION_EVENT, &event.id), &event)?;
    let summary = format!(
        "{} the escalation of {} ({}){}",
        kind.label(),
        now.taken_at.format("%-d %b %Y %H:%M UTC"),
        now.reasons,
        event
            .note
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );
    Ok(Edit {
        value: event,
        summary,
        deltas: vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))],
    })
}

fn refuse_out_of_turn(now: &Escalation, kind: EscalationEventKind) -> Result<()> {
    let refuse = |why: String| Err(ValidationError::Inconsistent(why).into());
    if now.status == EscalationStatus::Closed {
        return refuse(
            "this escalation is closed (its outcome is recorded): nothing to add".into(),
        );
    }
    match (kind, &now.acknowledged_by) {
        (EscalationEventKind::Acknowledged, Some(a)) => refuse(format!(
            "this escalation was acknowledged by {} on {} already",
            a.display_name,
            a.at.format("%-d %b %Y %H:%M UTC")
        )),
        (EscalationEventKind::Action | EscalationEventKind::Outcome, None) => {
            refuse("acknowledge the escalation before recording an action or outcome".into())
        }
        _ => Ok(()),
    }
}

/// Highest band first, then newest: the order a hub works through open escalations.
pub fn by_urgency(a: &Escalation, b: &Escalation) -> std::cmp::Ordering {
    (a.band, std::cmp::Reverse(a.taken_at), &a.id).cmp(&(
        b.band,
        std::cmp::Reverse(b.taken_at),
        &b.id,
    ))
}

#[cfg(test)]
mod tests;
