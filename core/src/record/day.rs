//! The district nurse's day (issue 12), the write half and its reads: care-plan edits and the
//! exceptions of scheduled visits, in the style of [`super::edit`] — each function checks its
//! whole input, makes its ops on the clinical document, and returns an [`Edit`] with its audit
//! summary and projection deltas; no SQL, no clock but the author's.
//!
//! | operation | key written |
//! |---|---|
//! | [`add_plan_problem`], [`update_plan_problem`] | `cp_problem:<id>` |
//! | [`add_plan_goal`], [`update_plan_goal`] | `cp_goal:<id>` |
//! | [`add_plan_intervention`], [`update_plan_intervention`] | `cp_int:<id>` |
//! | [`set_plan_review`] | `cp_review` |
//! | [`move_visit`] | `dv_move:<visit ref>` |
//! | [`hand_over_visit`] | `dv_handover:<visit ref>` |
//! | [`cancel_visit`] | `dv_cancel:<visit ref>` |
//! | [`set_visit_priority`] | `dv_priority:<visit ref>` |
//!
//! All are single-value registers: a later edit replaces the value it saw, concurrent edits are
//! a [`super::conflict::FieldConflict`], and an edit of a field in conflict is refused until it
//! is resolved. A visit's outcome is a recorded visit (`record_visit` with its
//! `scheduled_visit`), which is immutable.

use automerge::AutoCommit;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::conflict::{self, refuse_if_in_conflict};
use super::edit::{Delta, Edit};
use super::layout::{self, key, *};
use super::model::*;
use super::plan::*;
use super::read;
use super::schedule::{self, local_date};
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

// ---------------------------------------------------------------- exceptions

/// A scheduled visit moved to another day or window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitMove {
    pub visit_ref: String,
    pub to_date: NaiveDate,
    pub window_start: String,
    pub window_end: String,
    pub reason: Option<String>,
    pub author: Author,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitMoveInput {
    pub to_date: NaiveDate,
    /// Local "HH:MM".
    pub window_start: String,
    pub window_end: String,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub reason: Option<String>,
}

/// A visit handed to a colleague, with a note for her.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitHandover {
    pub visit_ref: String,
    pub to_user_id: String,
    pub to_name: String,
    pub note: String,
    pub author: Author,
}

/// A visit the service cancelled (not the person: that is a declined visit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitCancellation {
    pub visit_ref: String,
    pub reason: String,
    pub author: Author,
}

/// A priority set by hand for one visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitPriorityOverride {
    pub visit_ref: String,
    pub priority: VisitPriority,
    pub reason: Option<String>,
    pub author: Author,
}

/// Every stored exception of the person's scheduled visits (the value each register shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitExceptions {
    pub moves: Vec<VisitMove>,
    pub handovers: Vec<VisitHandover>,
    pub cancellations: Vec<VisitCancellation>,
    pub priorities: Vec<VisitPriorityOverride>,
}

// ---------------------------------------------------------------- reads

/// The care plan's new-style items (without the first version: see [`with_first_version`]).
pub fn plan(person_id: &str, doc: &AutoCommit) -> Result<CarePlanView> {
    let mut in_conflict = Vec::new();
    let mut read_all = |prefix: &str| -> Result<Vec<String>> {
        let keys = layout::prefix_keys(doc, prefix);
        for k in &keys {
            if layout::get_all_json::<serde_json::Value>(doc, k)?.len() > 1 {
                in_conflict.push(k[prefix.len()..].to_string());
            }
        }
        Ok(keys)
    };
    let problem_keys = read_all(CP_PROBLEM)?;
    let goal_keys = read_all(CP_GOAL)?;
    let int_keys = read_all(CP_INTERVENTION)?;
    let _ = person_id;
    let problems = problem_keys
        .iter()
        .filter_map(|k| layout::get_json::<PlanProblem>(doc, k).transpose())
        .collect::<Result<Vec<_>>>()?;
    let goals = goal_keys
        .iter()
        .filter_map(|k| layout::get_json::<PlanGoal>(doc, k).transpose())
        .collect::<Result<Vec<_>>>()?;
    let interventions = int_keys
        .iter()
        .filter_map(|k| layout::get_json::<PlanIntervention>(doc, k).transpose())
        .collect::<Result<Vec<_>>>()?;
    if layout::get_all_json::<serde_json::Value>(doc, CP_REVIEW)?.len() > 1 {
        in_conflict.push("review".into());
    }
    let review: Option<PlanReview> = layout::get_json(doc, CP_REVIEW)?;
    let legacy: Option<CarePlan> = layout::get_json(doc, CARE_PLAN)?;
    Ok(CarePlanView {
        problems,
        goals,
        interventions,
        review_date: review
            .map(|r| r.review_date)
            .or(legacy.and_then(|l| l.review_date)),
        in_conflict,
        first_version: false,
    })
}

/// The care plan of a clinical document, with the first release's plan as its first version.
pub fn plan_view(person_id: &str, doc: &mut AutoCommit) -> Result<CarePlanView> {
    let view = plan(person_id, doc)?;
    let legacy: Option<crate::record::CarePlan> = layout::get_json(doc, layout::CARE_PLAN)?;
    let legacy_author = match &legacy {
        Some(_) => author_of_key(doc, layout::CARE_PLAN)?,
        None => None,
    };
    Ok(with_first_version(
        view,
        legacy.as_ref(),
        legacy_author.as_ref(),
    ))
}

/// Who last wrote `k`, from the audit stamp of the change holding the winning op.
fn author_of_key(doc: &mut AutoCommit, k: &str) -> Result<Option<Author>> {
    let Some((_, automerge::ObjId::Id(counter, actor, _))) =
        automerge::ReadDoc::get(doc, automerge::ROOT, k)?
    else {
        return Ok(None);
    };
    for meta in doc.get_changes_meta(&[]) {
        if *meta.actor == actor && meta.start_op <= counter && counter <= meta.max_op {
            let Some(stamp) = meta
                .message
                .as_deref()
                .and_then(|m| serde_json::from_str::<AuditStamp>(m).ok())
            else {
                return Ok(None);
            };
            return Ok(Some(Author {
                user_id: stamp.user_id,
                display_name: stamp.display_name,
                role: stamp.role,
                device_id: stamp.device_id,
                at: chrono::DateTime::from_timestamp_millis(meta.timestamp)
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH),
            }));
        }
    }
    Ok(None)
}

/// The plan with the first release's single care plan read as its first version, authored by
/// `legacy_author` (whoever last set it). New-style items with a first-version id replace it.
pub fn with_first_version(
    mut view: CarePlanView,
    legacy: Option<&CarePlan>,
    legacy_author: Option<&Author>,
) -> CarePlanView {
    let (Some(plan), Some(author)) = (legacy, legacy_author) else {
        return view;
    };
    let first = first_version(plan, author, author.at.date_naive());
    for p in first.problems {
        if !view.problems.iter().any(|x| x.id == p.id) {
            view.problems.insert(0, p);
        }
    }
    let mut at = 0;
    for g in first.goals {
        if !view.goals.iter().any(|x| x.id == g.id) {
            view.goals.insert(at, g);
            at += 1;
        }
    }
    let mut at = 0;
    for i in first.interventions {
        if !view.interventions.iter().any(|x| x.id == i.id) {
            view.interventions.insert(at, i);
            at += 1;
        }
    }
    view.first_version = true;
    view
}

/// Every visit exception the document holds.
pub fn exceptions(doc: &AutoCommit) -> Result<VisitExceptions> {
    Ok(VisitExceptions {
        moves: layout::entries(doc, DV_MOVE)?,
        handovers: layout::entries(doc, DV_HANDOVER)?,
        cancellations: layout::entries(doc, DV_CANCEL)?,
        priorities: layout::entries(doc, DV_PRIORITY)?,
    })
}

/// The live interventions of a plan (open, with an open goal and problem), counting the goals
/// and problem of the first release's care plan (`legacy`), which are always open.
pub fn live_interventions(view: &CarePlanView, legacy: Option<&CarePlan>) -> Vec<PlanIntervention> {
    let merged;
    let view = match legacy {
        Some(l) => {
            merged = with_first_version(view.clone(), Some(l), Some(&neutral_author()));
            &merged
        }
        None => view,
    };
    view.interventions
        .iter()
        .filter(|i| view.is_live(i))
        .cloned()
        .collect()
}

/// An author for first-version items whose liveness is all that is read (never shown).
fn neutral_author() -> Author {
    Author {
        user_id: String::new(),
        display_name: String::new(),
        role: Role::DistrictNurse,
        device_id: String::new(),
        at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    }
}

/// The date a visit ref was originally due: a plan ref's date, a booked visit's London date.
pub fn origin_date(doc: &AutoCommit, visit_ref: &str) -> Result<Option<NaiveDate>> {
    if let Some((d, _)) = schedule::parse_plan_ref(visit_ref) {
        return Ok(Some(d));
    }
    let planned: Option<PlannedVisit> = layout::get_json(doc, &key(PLANNED, visit_ref))?;
    Ok(planned.map(|p| local_date(p.planned_start)))
}

/// Check that `visit_ref` names a visit of this person: a booked visit, or a visit the care plan
/// makes on the ref's date.
pub fn require_visit(person_id: &str, doc: &AutoCommit, visit_ref: &str) -> Result<NaiveDate> {
    let not_found = || Error::NotFound {
        what: "scheduled visit",
        id: visit_ref.to_string(),
    };
    if let Some((date, _)) = schedule::parse_plan_ref(visit_ref) {
        let legacy: Option<CarePlan> = layout::get_json(doc, CARE_PLAN)?;
        let live = live_interventions(&plan(person_id, doc)?, legacy.as_ref());
        return if schedule::plan_visits_on(person_id, &live, date)
            .iter()
            .any(|v| v.visit_ref == visit_ref)
        {
            Ok(date)
        } else {
            Err(not_found())
        };
    }
    origin_date(doc, visit_ref)?.ok_or_else(not_found)
}

fn clinical_delta(person_id: &str, doc: &AutoCommit) -> Result<Vec<Delta>> {
    Ok(vec![Delta::Clinical(Box::new(read::clinical(
        person_id, doc,
    )?))])
}

fn done<T>(value: T, summary: String, deltas: Vec<Delta>) -> Result<Edit<T>> {
    Ok(Edit {
        value,
        summary,
        deltas,
    })
}

// ---------------------------------------------------------------- care-plan edits

/// Add a problem to the care plan.
pub fn add_plan_problem(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    text: &str,
) -> Result<Edit<PlanProblem>> {
    let text = required_text("problem", text, "say what the problem is")?;
    let p = PlanProblem {
        id: new_id(),
        text,
        active: true,
        author: author.clone(),
    };
    layout::put_json(doc, &key(CP_PROBLEM, &p.id), &p)?;
    let summary = format!("added care-plan problem \"{}\"", p.text);
    done(p, summary, clinical_delta(person_id, doc)?)
}

/// Change a problem's text, or close it (`active` false): its goals' visits stop.
pub fn update_plan_problem(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    problem_id: &str,
    text: &str,
    active: bool,
) -> Result<Edit<PlanProblem>> {
    let text = required_text("problem", text, "say what the problem is")?;
    let k = key(CP_PROBLEM, problem_id);
    require_plan_item(doc, &k, problem_id, "care-plan problem")?;
    refuse_if_in_conflict(person_id, doc, &k)?;
    let p = PlanProblem {
        id: problem_id.to_string(),
        text,
        active,
        author: author.clone(),
    };
    layout::put_json(doc, &k, &p)?;
    let summary = format!(
        "{} care-plan problem \"{}\"",
        if active { "updated" } else { "closed" },
        p.text
    );
    done(p, summary, clinical_delta(person_id, doc)?)
}

/// A plan item exists: as a new-style key, or as a first-version item (read from the first
/// release's care plan).
fn require_plan_item(doc: &AutoCommit, k: &str, id: &str, what: &'static str) -> Result<()> {
    if layout::has_key(doc, k)? {
        return Ok(());
    }
    if let Some(legacy) = layout::get_json::<CarePlan>(doc, CARE_PLAN)? {
        let first = first_version(&legacy, &neutral_author(), NaiveDate::MIN);
        let known = first.problems.iter().any(|p| p.id == id)
            || first.goals.iter().any(|g| g.id == id)
            || first.interventions.iter().any(|i| i.id == id);
        if known {
            return Ok(());
        }
    }
    Err(Error::NotFound {
        what,
        id: id.to_string(),
    })
}

/// Add a goal to a problem.
pub fn add_plan_goal(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    input: GoalInput,
) -> Result<Edit<PlanGoal>> {
    let input = input.validated()?;
    require_plan_item(
        doc,
        &key(CP_PROBLEM, &input.problem_id),
        &input.problem_id,
        "care-plan problem",
    )?;
    let g = PlanGoal {
        id: new_id(),
        problem_id: input.problem_id,
        text: input.text,
        target_date: input.target_date,
        status: input.status,
        author: author.clone(),
    };
    layout::put_json(doc, &key(CP_GOAL, &g.id), &g)?;
    let summary = format!("added care-plan goal \"{}\"", g.text);
    done(g, summary, clinical_delta(person_id, doc)?)
}

/// Change a goal (its text, target date, status). Refused while the goal is in conflict.
pub fn update_plan_goal(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    goal_id: &str,
    input: GoalInput,
) -> Result<Edit<PlanGoal>> {
    let input = input.validated()?;
    let k = key(CP_GOAL, goal_id);
    require_plan_item(doc, &k, goal_id, "care-plan goal")?;
    require_plan_item(
        doc,
        &key(CP_PROBLEM, &input.problem_id),
        &input.problem_id,
        "care-plan problem",
    )?;
    refuse_if_in_conflict(person_id, doc, &k)?;
    let g = PlanGoal {
        id: goal_id.to_string(),
        problem_id: input.problem_id,
        text: input.text,
        target_date: input.target_date,
        status: input.status,
        author: author.clone(),
    };
    layout::put_json(doc, &k, &g)?;
    let summary = format!(
        "updated care-plan goal \"{}\" ({})",
        g.text,
        format!("{:?}", g.status).to_lowercase()
    );
    done(g, summary, clinical_delta(person_id, doc)?)
}

fn intervention_of(
    id: String,
    input: PlanInterventionInput,
    active: bool,
    author: &Author,
) -> PlanIntervention {
    PlanIntervention {
        id,
        goal_id: input.goal_id,
        kind: input.kind,
        description: input.description,
        frequency: input.frequency,
        window_start: input.window_start,
        window_end: input.window_end,
        tolerance_minutes: input.tolerance_minutes,
        priority: input.priority,
        clinician: input.clinician,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        contact_type: input.contact_type,
        active,
        author: author.clone(),
    }
}

/// Add an intervention (with its frequency) to a goal: from its start date its visits appear on
/// the day lists of every phone that holds the plan.
pub fn add_plan_intervention(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    input: PlanInterventionInput,
) -> Result<Edit<PlanIntervention>> {
    let input = input.validated()?;
    not_too_far("intervention start date", input.starts_on, author)?;
    require_plan_item(
        doc,
        &key(CP_GOAL, &input.goal_id),
        &input.goal_id,
        "care-plan goal",
    )?;
    let i = intervention_of(new_id(), input, true, author);
    layout::put_json(doc, &key(CP_INTERVENTION, &i.id), &i)?;
    let summary = format!("added care-plan intervention {}", i.label());
    done(i, summary, clinical_delta(person_id, doc)?)
}

/// Change an intervention, or stop it (`active` false). Refused while it is in conflict.
pub fn update_plan_intervention(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    intervention_id: &str,
    input: PlanInterventionInput,
    active: bool,
) -> Result<Edit<PlanIntervention>> {
    let input = input.validated()?;
    let k = key(CP_INTERVENTION, intervention_id);
    require_plan_item(doc, &k, intervention_id, "care-plan intervention")?;
    require_plan_item(
        doc,
        &key(CP_GOAL, &input.goal_id),
        &input.goal_id,
        "care-plan goal",
    )?;
    refuse_if_in_conflict(person_id, doc, &k)?;
    let i = intervention_of(intervention_id.to_string(), input, active, author);
    layout::put_json(doc, &k, &i)?;
    let summary = format!(
        "{} care-plan intervention {}",
        if active { "updated" } else { "stopped" },
        i.label()
    );
    done(i, summary, clinical_delta(person_id, doc)?)
}

/// Set the date the plan is next reviewed (a task on the day lists from that date).
pub fn set_plan_review(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    review_date: NaiveDate,
) -> Result<Edit<PlanReview>> {
    if review_date < local_date(author.at) {
        return Err(ValidationError::Invalid {
            field: "review date",
            reason: format!("{review_date} is in the past: choose today or a later day"),
        }
        .into());
    }
    not_too_far("review date", review_date, author)?;
    refuse_if_in_conflict(person_id, doc, CP_REVIEW)?;
    let r = PlanReview {
        review_date,
        author: author.clone(),
    };
    layout::put_json(doc, CP_REVIEW, &r)?;
    let raised = super::task::raise_review_task(doc, person_id, author, review_date)?;
    let summary = format!(
        "set the care-plan review for {review_date}{}",
        if raised.is_some() {
            " and raised a review task"
        } else {
            ""
        }
    );
    done(r, summary, clinical_delta(person_id, doc)?)
}

fn not_too_far(field: &'static str, d: NaiveDate, author: &Author) -> Result<(), ValidationError> {
    let limit = local_date(author.at) + Duration::days(MAX_DAYS_AHEAD);
    if d > limit {
        return Err(ValidationError::Invalid {
            field,
            reason: format!("{d} is more than a year ahead: check the year"),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- visit exceptions

/// Move a scheduled visit (from a care plan or booked) to another day or window. A visit cannot
/// be moved to a day in the past, nor once it is cancelled; refused while its move is in
/// conflict. Two phones moving the same visit offline make a conflict with both authors.
pub fn move_visit(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    visit_ref: &str,
    input: VisitMoveInput,
) -> Result<Edit<VisitMove>> {
    let today = local_date(author.at);
    if input.to_date < today {
        return Err(ValidationError::Invalid {
            field: "new visit date",
            reason: format!(
                "{} is in the past (today is {today}): a visit can only be moved to today or later",
                input.to_date
            ),
        }
        .into());
    }
    not_too_far("new visit date", input.to_date, author)?;
    let start = parse_hhmm("new window start", &input.window_start)?;
    let end = parse_hhmm("new window end", &input.window_end)?;
    if end <= start {
        return Err(ValidationError::Invalid {
            field: "new window end",
            reason: "the window ends before it starts: check the times".into(),
        }
        .into());
    }
    let reason = input
        .reason
        .as_deref()
        .map(|r| required_short("reason for the move", r, "say why it moves"))
        .transpose()?;
    require_visit(person_id, doc, visit_ref)?;
    if layout::has_key(doc, &key(DV_CANCEL, visit_ref))? {
        return Err(ValidationError::Inconsistent(format!(
            "visit {visit_ref} was cancelled by the service: book a new visit instead of moving it"
        ))
        .into());
    }
    let k = key(DV_MOVE, visit_ref);
    refuse_if_in_conflict(person_id, doc, &k)?;
    let m = VisitMove {
        visit_ref: visit_ref.to_string(),
        to_date: input.to_date,
        window_start: start.format("%H:%M").to_string(),
        window_end: end.format("%H:%M").to_string(),
        reason,
        author: author.clone(),
    };
    layout::put_json(doc, &k, &m)?;
    let summary = format!(
        "moved visit {visit_ref} to {} {}–{}",
        m.to_date.format("%-d %b %Y"),
        m.window_start,
        m.window_end
    );
    done(m, summary, clinical_delta(person_id, doc)?)
}

/// Hand a visit to a colleague with a note; it appears on her list once her phone has synced.
pub fn hand_over_visit(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    visit_ref: &str,
    to_user_id: &str,
    to_name: &str,
    note: &str,
) -> Result<Edit<VisitHandover>> {
    let to_user_id = required_short("colleague", to_user_id, "choose who takes the visit")?;
    let to_name = required_short("colleague's name", to_name, "choose who takes the visit")?;
    let note = required_text(
        "hand-over note",
        note,
        "tell your colleague what is left to do",
    )?;
    require_visit(person_id, doc, visit_ref)?;
    let k = key(DV_HANDOVER, visit_ref);
    refuse_if_in_conflict(person_id, doc, &k)?;
    let h = VisitHandover {
        visit_ref: visit_ref.to_string(),
        to_user_id,
        to_name,
        note,
        author: author.clone(),
    };
    layout::put_json(doc, &k, &h)?;
    let summary = format!("handed visit {visit_ref} over to {}: {}", h.to_name, h.note);
    done(h, summary, clinical_delta(person_id, doc)?)
}

/// Record that the service cancelled a visit, with the reason.
pub fn cancel_visit(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    visit_ref: &str,
    reason: &str,
) -> Result<Edit<VisitCancellation>> {
    let reason = required_short(
        "cancellation reason",
        reason,
        "say why the service cancelled the visit",
    )?;
    require_visit(person_id, doc, visit_ref)?;
    let k = key(DV_CANCEL, visit_ref);
    refuse_if_in_conflict(person_id, doc, &k)?;
    let c = VisitCancellation {
        visit_ref: visit_ref.to_string(),
        reason,
        author: author.clone(),
    };
    layout::put_json(doc, &k, &c)?;
    let summary = format!("cancelled visit {visit_ref} (by the service): {}", c.reason);
    done(c, summary, clinical_delta(person_id, doc)?)
}

/// Set a visit's priority by hand (it overrides the care plan's).
pub fn set_visit_priority(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    visit_ref: &str,
    priority: VisitPriority,
    reason: Option<String>,
) -> Result<Edit<VisitPriorityOverride>> {
    let reason = reason
        .as_deref()
        .map(|r| required_short("reason for the priority", r, "say why"))
        .transpose()?;
    require_visit(person_id, doc, visit_ref)?;
    let k = key(DV_PRIORITY, visit_ref);
    refuse_if_in_conflict(person_id, doc, &k)?;
    let p = VisitPriorityOverride {
        visit_ref: visit_ref.to_string(),
        priority,
        reason,
        author: author.clone(),
    };
    layout::put_json(doc, &k, &p)?;
    let summary = format!("set visit {visit_ref} to priority {}", priority.label());
    done(p, summary, clinical_delta(person_id, doc)?)
}

/// Check the scheduled-visit part of a recorded visit: its ref names a visit of the person, a
/// no-access or declined outcome has a reason, and the interventions done are the plan's.
pub fn check_scheduled_visit(person_id: &str, doc: &AutoCommit, v: &VisitInput) -> Result<()> {
    if matches!(v.outcome, VisitOutcome::NoAccess | VisitOutcome::Declined)
        && v.scheduled_visit.is_some()
    {
        let has_reason = v
            .outcome_reason
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty());
        if !has_reason {
            return Err(ValidationError::MissingField {
                field: "outcome reason",
                hint: "say why the visit could not go ahead (not at home, refused, …)",
            }
            .into());
        }
    }
    if let Some(r) = &v.outcome_reason {
        short("outcome reason", r)?;
    }
    if let Some(r) = &v.scheduled_visit {
        require_visit(person_id, doc, r)?;
    }
    if !v.interventions_done.is_empty() {
        let view = plan(person_id, doc)?;
        for id in &v.interventions_done {
            if !view.interventions.iter().any(|i| &i.id == id) {
                return Err(Error::NotFound {
                    what: "care-plan intervention",
                    id: id.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Every open conflict of the person's clinical record (alerts, care plan, visit exceptions).
pub fn conflicts(person_id: &str, doc: &AutoCommit) -> Result<Vec<conflict::FieldConflict>> {
    conflict::field_conflicts(person_id, doc)
}
