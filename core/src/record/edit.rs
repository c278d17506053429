//! The write half of the record, sans-IO: one function per operation. Each checks its whole
//! input before it touches the document, then makes its ops on the compartment document it is
//! given and returns an [`Edit`]: the value the caller gets back, the audit summary the change is
//! stamped with, and the [`Delta`]s the store applies to its projection tables. No SQL, no
//! network, no clock but the author's time: the store commits the change, persists it and
//! applies the deltas in one transaction (`store::FieldStore::write`).
//!
//! A function that fails may have made ops on the document already; the caller rolls the
//! document back (`AutoCommit::rollback`).
//!
//! | operation | compartment |
//! |---|---|
//! | [`register`], [`update_demographics`] | demographics |
//! | [`schedule_visit`], [`record_visit`], [`record_observations`], [`add_note`], [`set_alert`], [`resolve_conflict`], [`add_episode`], [`discharge_episode`], [`set_care_plan`] | clinical |
//! | [`add_advice_need`], [`add_advice_action`], [`record_advice_outcome`], [`set_consent_to_share`]; outcomes with their financial effect, need status and referrals out in [`super::outreach_edit`] | advice |
//! | [`mark_entered_in_error`] | the entry's (see [`layout::holds_entry`]) |
//! | [`record_assessment`], [`record_wound_assessment`] | clinical |

use automerge::AutoCommit;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::layout::{self, key, *};
use super::model::*;
use super::read::{self, ClinicalRecord, Discharge};
use crate::clinical::news2::{self, ClinicalRisk, News2Result};
use crate::clinical::observations::Observations;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

/// How far ahead of the author's clock a recorded time may be (clock drift between devices).
pub const CLOCK_SKEW: Duration = Duration::minutes(10);

/// What one operation did to its document.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit<T> {
    /// What the caller gets back.
    pub value: T,
    /// The change's audit summary, e.g. "recorded a home visit (completed): wound care".
    pub summary: String,
    /// How the projection rows of the person change.
    pub deltas: Vec<Delta>,
}

/// One change to the projection rows of the person edited, as data.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// The person's row (lists and search) now holds these demographics.
    Person(Box<Demographics>),
    /// A new planned visit.
    Planned(Box<PlannedVisit>),
    /// A visit was recorded at `started_at`; it fulfils the planned visit `fulfils`, if any.
    Visit {
        started_at: DateTime<Utc>,
        fulfils: Option<String>,
    },
    /// A scored observation set, which may be the person's latest NEWS2.
    News2 {
        observations_id: String,
        taken_at: DateTime<Utc>,
        total: Option<u8>,
        risk: Option<ClinicalRisk>,
    },
    /// The person's alerts are now these.
    Alerts(Vec<Alert>),
    /// Every clinical row of the person is derived again from this record.
    Clinical(Box<ClinicalRecord>),
    /// A visit was recorded as the outcome of a scheduled visit (issue 12), first due on
    /// `origin_date`.
    ScheduledVisitDone {
        visit_ref: String,
        origin_date: NaiveDate,
        done: Box<super::schedule::DoneVisit>,
    },
    /// The person's advice rows (appointments, follow-ups) are derived again from this record.
    Advice(Box<super::read::AdviceRecord>),
    /// The person's referrals between teams are now these.
    Referrals(Vec<super::referral::ReferralView>),
    /// The person's possible duplicates and their decisions are now these.
    Duplicates(Vec<super::duplicates::DuplicateView>),
}

pub(super) fn edit<T>(value: T, summary: impl Into<String>, deltas: Vec<Delta>) -> Result<Edit<T>> {
    Ok(Edit {
        value,
        summary: summary.into(),
        deltas,
    })
}

fn not_found(what: &'static str, id: &str) -> Error {
    Error::NotFound {
        what,
        id: id.to_string(),
    }
}

fn not_future(
    what: &'static str,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ValidationError> {
    if t > now + CLOCK_SKEW {
        return Err(ValidationError::DateInFuture {
            what,
            value: t.format("%Y-%m-%d %H:%M UTC").to_string(),
        });
    }
    Ok(())
}

fn day_not_future(
    what: &'static str,
    d: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), ValidationError> {
    if d > now.date_naive() {
        return Err(ValidationError::DateInFuture {
            what,
            value: d.to_string(),
        });
    }
    Ok(())
}

pub(super) fn require_key(
    doc: &AutoCommit,
    prefix: &str,
    id: &str,
    what: &'static str,
) -> Result<()> {
    if layout::has_key(doc, &key(prefix, id))? {
        Ok(())
    } else {
        Err(not_found(what, id))
    }
}

// ------------------------------------------------------------------ demographics

/// A new person's demographics, into their (empty) demographics document. The caller makes the
/// person's id and checks that no one else on the device has the same NHS number.
pub fn register(
    doc: &mut AutoCommit,
    author: &Author,
    demographics: Demographics,
) -> Result<Edit<Demographics>> {
    let d = demographics.validated(author.at.date_naive())?;
    put_demographics(doc, None, &d)?;
    let summary = format!("registered {}", d.display_name());
    edit(d.clone(), summary, vec![Delta::Person(Box::new(d))])
}

/// Change a person's details; only the fields that differ are written, so a colleague's
/// concurrent edit of another field survives.
pub fn update_demographics(
    doc: &mut AutoCommit,
    author: &Author,
    demographics: Demographics,
) -> Result<Edit<Demographics>> {
    let d = demographics.validated(author.at.date_naive())?;
    let before = read::demographics(doc)?;
    put_demographics(doc, before.as_ref(), &d)?;
    let after = read::demographics(doc)?
        .ok_or_else(|| Error::Document("the details just written cannot be read back".into()))?;
    let summary = format!("updated the details of {}", d.display_name());
    edit(after.clone(), summary, vec![Delta::Person(Box::new(after))])
}

/// Mark the person's NHS number as verified (a GP summary says its system traced it). Only that
/// field is written; the number must be the one held (else the mark would be about someone's
/// previous number, and the import reports it instead).
pub fn mark_nhs_number_verified(doc: &mut AutoCommit, number: &str) -> Result<Edit<Demographics>> {
    let before = read::demographics(doc)?
        .ok_or_else(|| Error::Document("the person's details cannot be read".into()))?;
    if before.nhs_number.as_deref() != Some(number) {
        return Err(ValidationError::Invalid {
            field: "verified NHS number",
            reason: "it is not the number held for this person".into(),
        }
        .into());
    }
    let d = Demographics {
        nhs_number_verified: Some(number.to_string()),
        ..before.clone()
    };
    put_demographics(doc, Some(&before), &d)?;
    let summary = format!(
        "marked the NHS number of {} verified, as the GP summary gives it",
        d.display_name()
    );
    edit(d.clone(), summary, vec![Delta::Person(Box::new(d))])
}

/// Write the demographics fields that differ from `before`, one key per field.
fn put_demographics(
    doc: &mut AutoCommit,
    before: Option<&Demographics>,
    d: &Demographics,
) -> Result<()> {
    let new = serde_json::to_value(d)?;
    let old = before.map(serde_json::to_value).transpose()?;
    let serde_json::Value::Object(fields) = new else {
        return Err(Error::Document(
            "demographics did not serialise to an object".into(),
        ));
    };
    for (field, value) in fields {
        let unchanged = old.as_ref().and_then(|o| o.get(&field)) == Some(&value);
        if !unchanged {
            layout::put_json(doc, &format!("{DEMOGRAPHICS}.{field}"), &value)?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ visits and observations

/// Book a visit.
pub fn schedule_visit(
    doc: &mut AutoCommit,
    author: &Author,
    input: PlannedVisitInput,
) -> Result<Edit<PlannedVisit>> {
    if let Some(end) = input.planned_end {
        if end < input.planned_start {
            return Err(ValidationError::Inconsistent(
                "the planned end is before the planned start: check the times".into(),
            )
            .into());
        }
    }
    if let Some(p) = &input.purpose {
        text("purpose", p)?;
    }
    let planned = PlannedVisit {
        id: new_id(),
        planned_start: input.planned_start,
        planned_end: input.planned_end,
        clinician: input.clinician,
        contact_type: input.contact_type,
        purpose: input.purpose,
        author: author.clone(),
    };
    layout::put_json(doc, &key(PLANNED, &planned.id), &planned)?;
    let summary = format!(
        "booked a {} for {}",
        planned.contact_type.label(),
        planned.planned_start.format("%-d %b %Y %H:%M UTC")
    );
    edit(
        planned.clone(),
        summary,
        vec![Delta::Planned(Box::new(planned))],
    )
}

/// Check a visit as entered, before anything is written.
pub fn validate_visit(v: &VisitInput, now: DateTime<Utc>) -> Result<(), ValidationError> {
    not_future("visit start", v.started_at, now)?;
    if let Some(end) = v.ended_at {
        if end < v.started_at {
            return Err(ValidationError::Inconsistent(
                "the visit ends before it starts: check the times".into(),
            ));
        }
        not_future("visit end", end, now)?;
    }
    if let Some(n) = &v.note {
        text("visit note", n)?;
    }
    for i in &v.interventions {
        if let Intervention::Other(s) = i {
            required_short("other intervention", s, "name the intervention")?;
        }
    }
    if let Some(o) = &v.observations {
        o.validate()?;
    }
    Ok(())
}

fn scored(
    doc: &AutoCommit,
    author: &Author,
    taken_at: DateTime<Utc>,
    observations: Observations,
    visit_id: Option<String>,
) -> Result<ObservationSet> {
    let scale = read::spo2_scale(doc)?;
    Ok(ObservationSet {
        id: new_id(),
        visit_id,
        taken_at,
        news2: news2::score(&observations, scale),
        observations,
        author: author.clone(),
        assumed: Vec::new(),
        home: None,
    })
}

fn news2_delta(o: &ObservationSet) -> Delta {
    Delta::News2 {
        observations_id: o.id.clone(),
        taken_at: o.taken_at,
        total: o.news2.total,
        risk: o.news2.risk,
    }
}

/// Record a contact as it happened, with its observations if any, scored with NEWS2 on the
/// SpO2 scale the record prescribes ([`read::spo2_scale`]).
pub fn record_visit(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    input: VisitInput,
) -> Result<Edit<RecordedVisit>> {
    validate_visit(&input, author.at)?;
    if let Some(p) = &input.planned_visit_id {
        require_key(doc, PLANNED, p, "planned visit")?;
    }
    super::day::check_scheduled_visit(person_id, doc, &input)?;
    let visit_id = new_id();
    let observations = input
        .observations
        .map(|o| scored(doc, author, input.started_at, o, Some(visit_id.clone())))
        .transpose()?;
    let visit = Visit {
        id: visit_id,
        planned_visit_id: input.planned_visit_id,
        contact_type: input.contact_type,
        started_at: input.started_at,
        ended_at: input.ended_at,
        outcome: input.outcome,
        interventions: input.interventions,
        note: input
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        observations_id: observations.as_ref().map(|o| o.id.clone()),
        author: author.clone(),
        scheduled_visit: input.scheduled_visit,
        outcome_reason: input
            .outcome_reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        interventions_done: input.interventions_done,
    };
    let mut deltas = vec![Delta::Visit {
        started_at: visit.started_at,
        fulfils: visit.planned_visit_id.clone(),
    }];
    if let Some(r) = &visit.scheduled_visit {
        let origin_date =
            super::day::origin_date(doc, r)?.ok_or_else(|| not_found("scheduled visit", r))?;
        deltas.push(Delta::ScheduledVisitDone {
            visit_ref: r.clone(),
            origin_date,
            done: Box::new(super::schedule::DoneVisit::of(&visit)),
        });
    }
    if let Some(o) = &observations {
        layout::put_json(doc, &key(OBSERVATIONS, &o.id), o)?;
        deltas.push(news2_delta(o));
    }
    layout::put_json(doc, &key(VISIT, &visit.id), &visit)?;
    if observations.is_some() {
        deltas.extend(ward_delta(doc, person_id)?);
    }
    let news2 = observations.as_ref().map(|o| o.news2.clone());
    let summary = visit_summary(&visit, news2.as_ref());
    edit(
        RecordedVisit {
            visit,
            observations,
            news2,
        },
        summary,
        deltas,
    )
}

/// Record a set of observations outside a visit record (or against one) and score it.
pub fn record_observations(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    taken_at: DateTime<Utc>,
    observations: Observations,
    visit_id: Option<String>,
) -> Result<Edit<ObservationSet>> {
    observations.validate()?;
    not_future("observation time", taken_at, author.at)?;
    if let Some(v) = &visit_id {
        require_key(doc, VISIT, v, "visit")?;
    }
    let set = scored(doc, author, taken_at, observations, visit_id)?;
    layout::put_json(doc, &key(OBSERVATIONS, &set.id), &set)?;
    let summary = format!("recorded observations: {}", news2_words(&set.news2));
    let mut deltas = vec![news2_delta(&set)];
    deltas.extend(ward_delta(doc, person_id)?);
    edit(set, summary, deltas)
}

/// On the virtual ward a new set may raise an escalation: the ward's rows are derived again
/// (elsewhere a set touches only the person's summary row).
fn ward_delta(doc: &AutoCommit, person_id: &str) -> Result<Option<Delta>> {
    if !super::ward::has_ward_episode(doc)? {
        return Ok(None);
    }
    Ok(Some(Delta::Clinical(Box::new(read::clinical(
        person_id, doc,
    )?))))
}

fn visit_summary(v: &Visit, news2: Option<&News2Result>) -> String {
    let mut s = format!(
        "recorded a {} ({})",
        v.contact_type.label(),
        v.outcome.label()
    );
    if let Some(r) = &v.outcome_reason {
        s.push_str(&format!(" because \"{r}\""));
    }
    if let Some(r) = &v.scheduled_visit {
        s.push_str(&format!(" for scheduled visit {r}"));
    }
    if !v.interventions.is_empty() {
        let list: Vec<String> = v.interventions.iter().map(|i| i.label()).collect();
        s.push_str(&format!(": {}", list.join(", ")));
    }
    if let Some(n) = news2 {
        s.push_str(&format!("; {}", news2_words(n)));
    }
    s
}

fn news2_words(n: &News2Result) -> String {
    match (n.total, n.risk) {
        (Some(t), Some(r)) => format!("NEWS2 {t} ({} risk)", r.label()),
        _ => "observations (incomplete set, no NEWS2 total)".to_string(),
    }
}

/// Add a free-text note, optionally about a visit.
pub fn add_note(
    doc: &mut AutoCommit,
    author: &Author,
    visit_id: Option<String>,
    note: &str,
) -> Result<Edit<Note>> {
    let text = required_text("note", note, "write the note before saving")?;
    if let Some(v) = &visit_id {
        require_key(doc, VISIT, v, "visit")?;
    }
    let n = Note {
        id: new_id(),
        visit_id,
        text,
        author: author.clone(),
    };
    layout::put_json(doc, &key(NOTE, &n.id), &n)?;
    edit(n, "added a note", vec![])
}

// ------------------------------------------------------------------ alerts and conflicts

/// Set an alert. Refused while that alert has an open conflict: resolve it first, so that no
/// colleague's value is overwritten unseen.
pub fn set_alert(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    input: AlertInput,
) -> Result<Edit<Alert>> {
    let text = required_short("alert text", &input.text, "say what the visitor must know")?;
    if let Some(c) = read::conflicts(person_id, doc)?
        .into_iter()
        .find(|c| c.kind == input.kind)
    {
        return Err(ValidationError::Inconsistent(format!(
            "{} has {} conflicting values from different colleagues: resolve the conflict (id {}) instead of overwriting it",
            input.kind.label(),
            c.values.len(),
            c.id
        ))
        .into());
    }
    let summary = format!("set {} to \"{text}\"", input.kind.label());
    put_alert(doc, author, input.kind, text, input.active, summary)
}

/// The person a conflict id belongs to (ids are `<person>/<field>/<hash>`).
pub fn conflict_person(conflict_id: &str) -> Result<&str> {
    conflict_id
        .split('/')
        .next()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::ConflictNotOpen {
            id: conflict_id.to_string(),
        })
}

/// Resolve a clinical conflict with the value the clinician decided on (one of the values
/// shown, or a new one that combines them). It supersedes every value it saw.
pub fn resolve_conflict(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    conflict_id: &str,
    resolution: AlertInput,
) -> Result<Edit<Alert>> {
    let text = required_short(
        "alert text",
        &resolution.text,
        "say what the visitor must know",
    )?;
    let conflict = read::conflicts(person_id, doc)?
        .into_iter()
        .find(|c| c.id == conflict_id)
        .ok_or_else(|| Error::ConflictNotOpen {
            id: conflict_id.to_string(),
        })?;
    if conflict.kind != resolution.kind {
        return Err(ValidationError::Inconsistent(format!(
            "this conflict is about {}, not {}",
            conflict.kind.label(),
            resolution.kind.label()
        ))
        .into());
    }
    let summary = format!(
        "resolved conflicting {} ({} values) as \"{text}\"",
        conflict.kind.label(),
        conflict.values.len(),
    );
    put_alert(
        doc,
        author,
        resolution.kind,
        text,
        resolution.active,
        summary,
    )
}

fn put_alert(
    doc: &mut AutoCommit,
    author: &Author,
    kind: AlertKind,
    text: String,
    active: bool,
    summary: String,
) -> Result<Edit<Alert>> {
    let value = AlertValue {
        kind,
        text,
        active,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ALERT, kind.as_str()), &value)?;
    let alerts = read::alerts(doc)?;
    let alert = alerts
        .iter()
        .find(|a| a.kind == kind)
        .cloned()
        .ok_or_else(|| Error::Document("the alert just set cannot be read back".into()))?;
    edit(alert, summary, vec![Delta::Alerts(alerts)])
}

// ------------------------------------------------------------------ entered in error

/// Mark an entry (visit, planned visit, observations, note, episode, advice entry) as entered
/// in error, in `doc`, the document of `compartment` that holds it (see
/// [`layout::holds_entry`]). The entry stays, with this marker beside it.
pub fn mark_entered_in_error(
    doc: &mut AutoCommit,
    person_id: &str,
    compartment: Compartment,
    author: &Author,
    entry_id: &str,
    reason: &str,
) -> Result<Edit<EnteredInError>> {
    let reason = required_short("reason", reason, "say why the entry is wrong")?;
    if !layout::holds_entry(doc, compartment, entry_id)? {
        return Err(not_found("entry", entry_id));
    }
    let marker = EnteredInError {
        entry_id: entry_id.to_string(),
        reason,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ENTERED_IN_ERROR, entry_id), &marker)?;
    let deltas = if compartment == Compartment::Clinical {
        vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))]
    } else {
        vec![]
    };
    let summary = format!(
        "marked entry {entry_id} as entered in error: {}",
        marker.reason
    );
    edit(marker, summary, deltas)
}

// ------------------------------------------------------------------ episodes and care plan

/// Open an episode of care (district nursing, or a virtual ward with its pathway).
pub fn add_episode(
    doc: &mut AutoCommit,
    author: &Author,
    input: EpisodeInput,
) -> Result<Edit<Episode>> {
    add_episode_with(doc, author, input, None)
}

/// [`add_episode`] with a virtual-ward admission's details (`record::ward::admit`), checked.
pub fn add_episode_with(
    doc: &mut AutoCommit,
    author: &Author,
    input: EpisodeInput,
    admission: Option<super::ward::WardAdmission>,
) -> Result<Edit<Episode>> {
    if let Some(a) = &admission {
        a.validate()?;
    }
    let referral_source = required_short(
        "referral source",
        &input.referral_source,
        "say who referred the person",
    )?;
    let referral_reason = required_text(
        "referral reason",
        &input.referral_reason,
        "say why they were referred",
    )?;
    day_not_future("accepted date", input.accepted_on, author.at)?;
    let e = Episode {
        id: new_id(),
        service: input.service,
        referral_source,
        referral_reason,
        accepted_on: input.accepted_on,
        discharged_on: None,
        author: author.clone(),
        admission,
    };
    layout::put_json(doc, &key(EPISODE, &e.id), &e)?;
    edit(e, "accepted a referral", vec![])
}

/// Discharge from an episode of care.
pub fn discharge_episode(
    doc: &mut AutoCommit,
    author: &Author,
    episode_id: &str,
    on: NaiveDate,
    reason: &str,
) -> Result<Edit<Discharge>> {
    discharge_episode_to(doc, author, episode_id, on, reason, None)
}

/// [`discharge_episode`] with where the person went (a virtual-ward discharge).
pub fn discharge_episode_to(
    doc: &mut AutoCommit,
    author: &Author,
    episode_id: &str,
    on: NaiveDate,
    reason: &str,
    destination: Option<super::ward::DischargeDestination>,
) -> Result<Edit<Discharge>> {
    let reason = required_short(
        "discharge reason",
        reason,
        "say why the person is discharged",
    )?;
    day_not_future("discharge date", on, author.at)?;
    let episode: Episode = layout::get_json(doc, &key(EPISODE, episode_id))?
        .ok_or_else(|| not_found("episode", episode_id))?;
    if on < episode.accepted_on {
        return Err(ValidationError::Inconsistent(format!(
            "the discharge date {on} is before the episode was accepted ({}): check the date",
            episode.accepted_on
        ))
        .into());
    }
    let d = Discharge {
        episode_id: episode_id.to_string(),
        discharged_on: on,
        reason,
        author: author.clone(),
        destination,
    };
    layout::put_json(doc, &key(DISCHARGE, &new_id()), &d)?;
    edit(d, "discharged from an episode of care", vec![])
}

/// Replace the care plan.
pub fn set_care_plan(doc: &mut AutoCommit, plan: CarePlan) -> Result<Edit<CarePlan>> {
    for g in plan.goals.iter().chain(plan.interventions.iter()) {
        text("care plan item", g)?;
    }
    layout::put_json(doc, CARE_PLAN, &plan)?;
    edit(plan, "updated the care plan", vec![])
}

// ------------------------------------------------------------------ advice

/// Record an advice need (Citizens Advice).
pub fn add_advice_need(
    doc: &mut AutoCommit,
    author: &Author,
    category: AdviceCategory,
    description: &str,
) -> Result<Edit<AdviceNeed>> {
    let description = required_text(
        "advice need",
        description,
        "describe what the person needs help with",
    )?;
    let n = AdviceNeed {
        id: new_id(),
        category,
        description,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ADVICE_NEED, &n.id), &n)?;
    edit(n, "recorded an advice need", vec![])
}

/// Record an action taken on an advice need.
pub fn add_advice_action(
    doc: &mut AutoCommit,
    author: &Author,
    need_id: &str,
    description: &str,
) -> Result<Edit<AdviceAction>> {
    let description = required_text("action", description, "describe the action taken")?;
    require_key(doc, ADVICE_NEED, need_id, "advice need")?;
    let a = AdviceAction {
        id: new_id(),
        need_id: need_id.to_string(),
        description,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ADVICE_ACTION, &a.id), &a)?;
    edit(a, "recorded an advice action", vec![])
}

/// Record the outcome of an advice need, with any financial gain in pence: a one-off income
/// gain (typed outcomes: [`super::outreach_edit::record_outcome`]).
pub fn record_advice_outcome(
    doc: &mut AutoCommit,
    author: &Author,
    need_id: &str,
    description: &str,
    financial_gain_pence: i64,
) -> Result<Edit<AdviceOutcome>> {
    super::outreach_edit::record_one_off_income(
        doc,
        author,
        need_id,
        description,
        financial_gain_pence,
    )
}

/// Record whether the person consents to their advice and clinical records being shared
/// between the advice worker and the health team.
pub fn set_consent_to_share(
    doc: &mut AutoCommit,
    author: &Author,
    consented: bool,
) -> Result<Edit<ConsentToShare>> {
    let c = ConsentToShare {
        consented,
        author: author.clone(),
    };
    layout::put_json(doc, CONSENT, &c)?;
    let summary = if consented {
        "recorded consent to share with the health team"
    } else {
        "recorded that the person does not consent to share"
    };
    edit(c, summary, vec![])
}

// ------------------------------------------------------------------ scored and wound assessments

use super::assessments::{
    Assessment, AssessmentInput, WoundAssessment, WoundAssessmentInput, WoundDraftInput,
};

/// Record a finished scored assessment (MUST, Waterlow) under `id` (a new id, or the id of the
/// draft it finishes). The answers are checked against the definition and scored; an
/// assessment with items missing is refused, naming them (keep it as a draft until then).
pub fn record_assessment(
    doc: &mut AutoCommit,
    author: &Author,
    id: String,
    input: AssessmentInput,
) -> Result<Edit<Assessment>> {
    use crate::clinical::assessments;
    let def = assessments::definition(&input.definition_id, input.definition_version)?;
    assessments::validate_answers(def, &input.answers)?;
    not_future("assessment time", input.assessed_at, author.at)?;
    let score = assessments::score(def, &input.answers);
    if !score.is_complete() {
        return Err(ValidationError::InvalidAnswer {
            field: score.missing.join(", "),
            reason: format!(
                "not answered yet: {} is recorded only when every item is answered; keep it as a draft until then",
                def.title
            ),
        }
        .into());
    }
    if let Some(v) = &input.visit_id {
        require_key(doc, VISIT, v, "visit")?;
    }
    if layout::has_key(doc, &key(ASSESSMENT, &id))? {
        return Err(ValidationError::Inconsistent(format!(
            "assessment {id} is already recorded: it cannot be recorded twice"
        ))
        .into());
    }
    let a = Assessment {
        id,
        definition_id: def.id.to_string(),
        definition_version: def.version,
        visit_id: input.visit_id,
        assessed_at: input.assessed_at,
        answers: input.answers,
        score,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ASSESSMENT, &a.id), &a)?;
    let summary = format!("recorded {}", a.score.words(def.title));
    edit(a, summary, vec![])
}

/// Check a wound assessment as entered, before anything is written.
pub fn validate_wound(w: &WoundAssessmentInput, now: DateTime<Utc>) -> Result<(), ValidationError> {
    use crate::clinical::wound;
    required_short(
        "wound site",
        &w.site,
        "say where the wound is, e.g. left heel",
    )?;
    w.size.validate()?;
    wound::validate_tissue(&w.tissue)?;
    wound::validate_pain(w.pain)?;
    if let Some(p) = &w.photo_ref {
        short("photo reference", p)?;
    }
    not_future("wound assessment time", w.assessed_at, now)
}

/// Check what a wound draft holds so far: each field given is checked as [`validate_wound`]
/// checks it when recorded, and a visit or wound it names must be in the record.
pub fn validate_wound_draft(doc: &AutoCommit, w: &WoundDraftInput) -> Result<()> {
    use crate::clinical::wound;
    if let Some(site) = &w.site {
        short("wound site", site)?;
    }
    if let Some(size) = &w.size {
        size.validate()?;
    }
    if !w.tissue.is_empty() {
        wound::validate_tissue(&w.tissue)?;
    }
    if let Some(pain) = w.pain {
        wound::validate_pain(pain)?;
    }
    if let Some(p) = &w.photo_ref {
        short("photo reference", p)?;
    }
    if let Some(v) = &w.visit_id {
        require_key(doc, VISIT, v, "visit")?;
    }
    if let Some(id) = &w.wound_id {
        require_wound(doc, id)?;
    }
    Ok(())
}

fn require_wound(doc: &AutoCommit, wound_id: &str) -> Result<()> {
    let known = layout::entries::<WoundAssessment>(doc, WOUND)?
        .iter()
        .any(|e| e.wound_id == wound_id);
    if known {
        Ok(())
    } else {
        Err(not_found("wound", wound_id))
    }
}

/// Record a wound assessment: a new wound, or a later assessment of one (`wound_id`).
pub fn record_wound_assessment(
    doc: &mut AutoCommit,
    author: &Author,
    input: WoundAssessmentInput,
) -> Result<Edit<WoundAssessment>> {
    record_wound_assessment_as(doc, author, new_id(), input)
}

/// [`record_wound_assessment`] with the entry's id given (a finished draft keeps its id).
pub fn record_wound_assessment_as(
    doc: &mut AutoCommit,
    author: &Author,
    id: String,
    input: WoundAssessmentInput,
) -> Result<Edit<WoundAssessment>> {
    validate_wound(&input, author.at)?;
    if let Some(v) = &input.visit_id {
        require_key(doc, VISIT, v, "visit")?;
    }
    let wound_id = match input.wound_id {
        Some(w) => {
            require_wound(doc, &w)?;
            w
        }
        None => id.clone(),
    };
    let w = WoundAssessment {
        id,
        wound_id,
        site: input.site.trim().to_string(),
        area_mm2: input.size.area_mm2(),
        size: input.size,
        tissue: input.tissue,
        exudate: input.exudate,
        odour: input.odour,
        pain: input.pain,
        photo_ref: input.photo_ref,
        visit_id: input.visit_id,
        assessed_at: input.assessed_at,
        author: author.clone(),
    };
    layout::put_json(doc, &key(WOUND, &w.id), &w)?;
    let summary = format!(
        "recorded a wound assessment: {}, {} × {} × {} mm ({} mm²)",
        w.site, w.size.length_mm, w.size.width_mm, w.size.depth_mm, w.area_mm2
    );
    edit(w, summary, vec![])
}

#[cfg(test)]
mod assessment_tests {
    use super::*;
    use crate::clinical::assessments::AssessmentAnswer as A;
    use crate::clinical::wound::*;

    fn author() -> Author {
        Author {
            user_id: "u1".into(),
            display_name: "Sam Patel".into(),
            role: Role::DistrictNurse,
            device_id: "phone-1".into(),
            at: Utc::now(),
        }
    }

    fn must(answers: Vec<A>) -> AssessmentInput {
        AssessmentInput {
            definition_id: "must".into(),
            definition_version: 1,
            answers,
            visit_id: None,
            assessed_at: Utc::now(),
        }
    }

    #[test]
    fn a_complete_must_is_one_entry_with_its_score() {
        let mut doc = AutoCommit::new();
        let e = record_assessment(
            &mut doc,
            &author(),
            new_id(),
            must(vec![
                A::measured("bmi", &[("height_cm", 165.0), ("weight_kg", 52.0)]),
                A::measured(
                    "weight_loss",
                    &[("earlier_weight_kg", 58.0), ("current_weight_kg", 52.0)],
                ),
                A::choice("acute_disease", "no"),
            ]),
        )
        .unwrap();
        // BMI 19.1 → 1; loss 10.3 % → 2.
        assert_eq!(e.value.score.total, Some(3));
        assert_eq!(e.summary, "recorded MUST 3 (high risk)");
        assert!(layout::has_key(&doc, &key(ASSESSMENT, &e.value.id)).unwrap());
    }

    #[test]
    fn incomplete_unknown_or_impossible_assessments_write_nothing() {
        let a = author();
        let mut doc = AutoCommit::new();
        let err = record_assessment(
            &mut doc,
            &a,
            new_id(),
            must(vec![A::choice("bmi", "bmi_over_20")]),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Validation(ValidationError::InvalidAnswer { field, .. }) if field == "weight_loss, acute_disease"),
            "{err}"
        );
        let mut unknown = must(vec![]);
        unknown.definition_version = 2;
        assert!(matches!(
            record_assessment(&mut doc, &a, new_id(), unknown),
            Err(Error::Validation(ValidationError::UnknownAssessment { .. }))
        ));
        let impossible = must(vec![A::measured(
            "bmi",
            &[("height_cm", 400.0), ("weight_kg", 60.0)],
        )]);
        assert!(matches!(
            record_assessment(&mut doc, &a, new_id(), impossible),
            Err(Error::Validation(ValidationError::OutOfRange {
                what: "height",
                ..
            }))
        ));
        let mut wound = wound_input(None, 40.0, 30.0);
        wound.size.depth_mm = -2.0;
        assert!(matches!(
            record_wound_assessment(&mut doc, &a, wound),
            Err(Error::Validation(ValidationError::OutOfRange {
                what: "wound depth",
                ..
            }))
        ));
        assert!(doc.is_empty());
    }

    fn wound_input(wound_id: Option<String>, length: f64, width: f64) -> WoundAssessmentInput {
        WoundAssessmentInput {
            wound_id,
            site: "left heel".into(),
            size: WoundSize {
                length_mm: length,
                width_mm: width,
                depth_mm: 2.0,
            },
            tissue: vec![
                TissueShare {
                    tissue: TissueType::Granulating,
                    percent: 80,
                },
                TissueShare {
                    tissue: TissueType::Slough,
                    percent: 20,
                },
            ],
            exudate: ExudateLevel::Moderate,
            odour: Odour::None,
            pain: 3,
            photo_ref: Some("photo://2026/abc".into()),
            visit_id: None,
            assessed_at: Utc::now(),
        }
    }

    #[test]
    fn later_wound_assessments_name_their_wound() {
        let a = author();
        let mut doc = AutoCommit::new();
        let first = record_wound_assessment(&mut doc, &a, wound_input(None, 40.0, 30.0)).unwrap();
        assert_eq!(first.value.wound_id, first.value.id);
        assert_eq!(first.value.area_mm2, 1200.0);
        assert_eq!(
            first.summary,
            "recorded a wound assessment: left heel, 40 × 30 × 2 mm (1200 mm²)"
        );
        let later = record_wound_assessment(
            &mut doc,
            &a,
            wound_input(Some(first.value.wound_id.clone()), 30.0, 20.0),
        )
        .unwrap();
        assert_eq!(later.value.wound_id, first.value.id);
        assert!(matches!(
            record_wound_assessment(&mut doc, &a, wound_input(Some("nope".into()), 1.0, 1.0)),
            Err(Error::NotFound { what: "wound", .. })
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn author() -> Author {
        Author {
            user_id: "u1".into(),
            display_name: "Sam Patel".into(),
            role: Role::DistrictNurse,
            device_id: "phone-1".into(),
            at: Utc::now(),
        }
    }

    #[test]
    fn a_visit_is_one_entry_per_kind_with_its_deltas() {
        let mut doc = AutoCommit::new();
        let e = record_visit(&mut doc, "p", &author(), testing::full_visit(0)).unwrap();
        let r = &e.value;
        assert_eq!(r.news2.as_ref().and_then(|n| n.total), Some(0));
        assert!(layout::has_key(&doc, &key(VISIT, &r.visit.id)).unwrap());
        let o = r.observations.as_ref().unwrap();
        assert_eq!(r.visit.observations_id.as_deref(), Some(o.id.as_str()));
        assert_eq!(o.visit_id.as_deref(), Some(r.visit.id.as_str()));
        assert!(layout::has_key(&doc, &key(OBSERVATIONS, &o.id)).unwrap());
        assert_eq!(
            e.summary,
            "recorded a home visit (completed): wound care, insulin, medication prompt; NEWS2 0 (low risk)"
        );
        assert_eq!(e.deltas.len(), 2);
        assert!(matches!(&e.deltas[1], Delta::News2 { total: Some(0), .. }));
    }

    #[test]
    fn the_prescribed_spo2_scale_is_used_and_a_conflict_falls_back_to_scale_1() {
        let a = author();
        let mut doc = AutoCommit::new();
        let mut obs = testing::normal_observations();
        obs.spo2_percent = Some(89);
        let score = |doc: &mut AutoCommit| {
            record_observations(doc, "p", &a, a.at, obs.clone(), None)
                .unwrap()
                .value
                .news2
        };
        assert_eq!(score(&mut doc).total, Some(3));
        let scale2 = AlertInput {
            kind: AlertKind::Spo2Scale2,
            text: "target 88–92 %".into(),
            active: true,
        };
        set_alert(&mut doc, "p", &a, scale2.clone()).unwrap();
        let n = score(&mut doc);
        assert_eq!((n.scale, n.total), (crate::SpO2Scale::Scale2, Some(0)));
        // A concurrent second value from another device: scale 1 until resolved.
        let mut other = doc.fork().with_actor(automerge::ActorId::random());
        let mut mine = doc.fork().with_actor(automerge::ActorId::random());
        let again = AlertInput {
            text: "target 88–92 % (GP)".into(),
            ..scale2.clone()
        };
        set_alert(&mut other, "p", &a, again).unwrap();
        let also = AlertInput {
            text: "target 88–92 % (respiratory team)".into(),
            ..scale2
        };
        set_alert(&mut mine, "p", &a, also).unwrap();
        assert!(other.commit().is_some() && mine.commit().is_some());
        mine.merge(&mut other).unwrap();
        let n = score(&mut mine);
        assert_eq!((n.scale, n.total), (crate::SpO2Scale::Scale1, Some(3)));
    }

    #[test]
    fn invalid_input_touches_nothing() {
        let a = author();
        let mut doc = AutoCommit::new();
        let mut v = testing::full_visit(0);
        v.started_at = a.at + Duration::hours(2);
        assert!(matches!(
            record_visit(&mut doc, "p", &a, v),
            Err(Error::Validation(ValidationError::DateInFuture { .. }))
        ));
        let mut v = testing::full_visit(0);
        v.planned_visit_id = Some("nope".into());
        assert!(matches!(
            record_visit(&mut doc, "p", &a, v),
            Err(Error::NotFound { .. })
        ));
        assert!(add_note(&mut doc, &a, None, "   ").is_err());
        assert!(record_advice_outcome(&mut doc, &a, "nope", "x", -1).is_err());
        assert!(doc.is_empty());
        assert_eq!(doc.get_heads().len(), 0);
    }

    #[test]
    fn entered_in_error_needs_the_entry_in_that_compartment() {
        let a = author();
        let mut clinical = AutoCommit::new();
        let note = add_note(&mut clinical, &a, None, "seen").unwrap().value;
        let mut advice = AutoCommit::new();
        assert!(layout::holds_entry(&clinical, Compartment::Clinical, &note.id).unwrap());
        assert!(!layout::holds_entry(&clinical, Compartment::Advice, &note.id).unwrap());
        assert!(!layout::holds_entry(&clinical, Compartment::Clinical, "x").unwrap());
        let e = mark_entered_in_error(
            &mut clinical,
            "p",
            Compartment::Clinical,
            &a,
            &note.id,
            "wrong person",
        )
        .unwrap();
        assert!(matches!(e.deltas.as_slice(), [Delta::Clinical(_)]));
        assert!(matches!(
            mark_entered_in_error(&mut advice, "p", Compartment::Advice, &a, &note.id, "x"),
            Err(Error::NotFound { .. })
        ));
    }
}
