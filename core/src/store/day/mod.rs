//! The district nurse's day on the device (issue 12, docs/day.md): the care-plan and
//! visit-exception writes (each one `record::day` edit run by [`FieldStore::write`]), their
//! projection rows, and the today list and team schedule, worked out when read from the
//! projections by `record::schedule` (no visit is ever generated and stored).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::queries::{self, AlertSummary};
use super::{lock, now, FieldStore, StoreChange, Writer};
use crate::error::{Error, Result, ValidationError};
use crate::record::conflict::{self, ConflictResolution, FieldConflict};
use crate::record::day::{
    self as dayedit, VisitCancellation, VisitHandover, VisitMove, VisitMoveInput,
    VisitPriorityOverride,
};
use crate::record::layout;
use crate::record::plan::*;
use crate::record::policy::Action;
use crate::record::schedule::{
    self, DoneVisit, Exceptions, PlanVisit, ScheduleInputs, ScheduledIntervention, ScheduledVisit,
    VisitStatus,
};
use crate::record::task::{self, CareTask, TaskInput, TaskStatus, TaskStatusChange, TaskView};
use crate::record::{ClinicalRecord, Compartment, ContactType};

// ---------------------------------------------------------------- the lists

/// Whose visits a day list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum DayScope {
    /// The signed-in nurse's: allocated to her by the plan or booking, or handed over to her.
    Mine,
    /// Everyone's on the team's caseload held by this device.
    Team,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DayQuery {
    pub day: NaiveDate,
    pub scope: DayScope,
    /// Where the round starts (the team base), for the travel order.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub base_postcode: Option<String>,
}

/// One visit on a day list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DayVisit {
    pub person_id: String,
    /// The visit's ref: a care-plan visit's `<date>T<HHMM>`, a booked visit's id. Pass it to
    /// `move_visit`, `hand_over_visit`, `cancel_visit`, and as `VisitInput::scheduled_visit`.
    pub visit_ref: String,
    pub display_name: String,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub access_notes: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "window_start_ms"))]
    pub window_start: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "window_end_ms"))]
    pub window_end: DateTime<Utc>,
    /// The window in London time, "07:30–08:30".
    pub window: String,
    pub priority: VisitPriority,
    pub priority_overridden: bool,
    pub interventions: Vec<ScheduledIntervention>,
    pub contact_type: ContactType,
    /// Set for a booked visit.
    pub planned_visit_id: Option<String>,
    /// User id of the nurse it is for (none: the team's).
    pub assigned_to: Option<String>,
    pub handed_over_by: Option<String>,
    pub handover_note: Option<String>,
    /// The day it was first due, when it was moved from another day.
    pub moved_from: Option<NaiveDate>,
    /// Worked out when the list is read: overdue once the window has ended undone.
    pub status: VisitStatus,
    pub status_reason: Option<String>,
    pub alerts: Vec<AlertSummary>,
    /// Open conflicts in the person's record (alerts, care plan, visits).
    pub open_conflicts: u32,
    /// This visit's own move, hand-over, cancellation or priority has concurrent values.
    pub in_conflict: bool,
    /// Placed by the nurse's own re-ordering.
    pub manually_placed: bool,
    /// An outreach appointment's venue (the case worker's list, issue 14); none on a nurse's
    /// list. Every outreach appointment is in person: `contact_type` is a home visit, and
    /// this says where; away from home, `address` and `postcode` are left empty.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub venue: Option<crate::record::AppointmentVenue>,
}

/// A care-plan review that is due (raised by the plan's review date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReviewDue {
    pub person_id: String,
    pub display_name: String,
    pub review_date: NaiveDate,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TodayList {
    pub day: NaiveDate,
    pub scope: DayScope,
    pub visits: Vec<DayVisit>,
    pub open: u32,
    pub overdue: u32,
    pub done: u32,
    pub reviews_due: Vec<ReviewDue>,
    /// Open virtual-ward escalations of everyone on this device, highest band first, then
    /// newest (issue 13).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub escalations: Vec<crate::record::Escalation>,
    /// The case worker's open follow-ups due by this day (the advice list, issue 14); a
    /// nurse's tasks are `FieldStore::tasks`.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub follow_ups: Vec<TaskView>,
}

/// A visit in a nurse's own order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitKey {
    pub person_id: String,
    pub visit_ref: String,
}

/// The longest day order accepted.
pub const MAX_DAY_ORDER: usize = 1_000;
/// The most days a team schedule covers at once.
pub const MAX_SCHEDULE_DAYS: u32 = 62;

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    // ------------------------------------------------------------ care plans

    /// The person's care plan: problems, goals, interventions with their frequencies, review
    /// date, and which items are in conflict. The first release's single care plan shows as
    /// the plan's first version.
    pub fn care_plan(&self, person_id: &str) -> Result<CarePlanView> {
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            let Writer { conn, docs } = w;
            let doc = &mut docs
                .get(conn, &(person_id.to_string(), Compartment::Clinical))?
                .doc;
            plan_view(person_id, doc)
        })
    }

    /// Add a problem to the person's care plan.
    pub fn add_plan_problem(&self, person_id: &str, text: &str) -> Result<PlanProblem> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::add_plan_problem(doc, person_id, a, text)
        })
    }

    /// Change a problem's text or close it (its goals' visits stop).
    pub fn update_plan_problem(
        &self,
        person_id: &str,
        problem_id: &str,
        text: &str,
        active: bool,
    ) -> Result<PlanProblem> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::update_plan_problem(doc, person_id, a, problem_id, text, active)
        })
    }

    /// Add a goal to a problem.
    pub fn add_plan_goal(&self, person_id: &str, goal: GoalInput) -> Result<PlanGoal> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::add_plan_goal(doc, person_id, a, goal)
        })
    }

    /// Change a goal. Refused while a colleague's concurrent edit of it is unresolved.
    pub fn update_plan_goal(
        &self,
        person_id: &str,
        goal_id: &str,
        goal: GoalInput,
    ) -> Result<PlanGoal> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::update_plan_goal(doc, person_id, a, goal_id, goal)
        })
    }

    /// Add an intervention with its frequency: its visits appear on the day lists from its
    /// start date.
    pub fn add_plan_intervention(
        &self,
        person_id: &str,
        intervention: PlanInterventionInput,
    ) -> Result<PlanIntervention> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::add_plan_intervention(doc, person_id, a, intervention)
        })
    }

    /// Change an intervention or stop it (`active` false).
    pub fn update_plan_intervention(
        &self,
        person_id: &str,
        intervention_id: &str,
        intervention: PlanInterventionInput,
        active: bool,
    ) -> Result<PlanIntervention> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::update_plan_intervention(
                doc,
                person_id,
                a,
                intervention_id,
                intervention,
                active,
            )
        })
    }

    /// Set the care plan's next review date (the review shows on the day lists from then).
    pub fn set_plan_review(&self, person_id: &str, review_date: NaiveDate) -> Result<PlanReview> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::set_plan_review(doc, person_id, a, review_date)
        })
    }

    // ------------------------------------------------------------ visit exceptions

    /// Move a scheduled visit to another day (today or later) or window.
    pub fn move_visit(
        &self,
        person_id: &str,
        visit_ref: &str,
        to: VisitMoveInput,
    ) -> Result<VisitMove> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::move_visit(doc, person_id, a, visit_ref, to)
        })
    }

    /// Hand a visit over to a colleague with a note; it is on her list once her phone syncs.
    pub fn hand_over_visit(
        &self,
        person_id: &str,
        visit_ref: &str,
        to_user_id: &str,
        to_name: &str,
        note: &str,
    ) -> Result<VisitHandover> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::hand_over_visit(doc, person_id, a, visit_ref, to_user_id, to_name, note)
        })
    }

    /// Record that the service cancelled a visit, with the reason.
    pub fn cancel_visit(
        &self,
        person_id: &str,
        visit_ref: &str,
        reason: &str,
    ) -> Result<VisitCancellation> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::cancel_visit(doc, person_id, a, visit_ref, reason)
        })
    }

    /// Set a visit's priority by hand, overriding the care plan's.
    pub fn set_visit_priority(
        &self,
        person_id: &str,
        visit_ref: &str,
        priority: VisitPriority,
        reason: Option<String>,
    ) -> Result<VisitPriorityOverride> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            dayedit::set_visit_priority(doc, person_id, a, visit_ref, priority, reason)
        })
    }

    // ------------------------------------------------------------ conflicts

    /// Open conflicts on every single-value field (alerts, care plan, visit exceptions), of one
    /// person or (with `None`) of everyone on the device.
    pub fn field_conflicts(&self, person_id: Option<String>) -> Result<Vec<FieldConflict>> {
        self.writing(|w| {
            let people: Vec<String> = match person_id {
                Some(p) => {
                    self.require_person(&w.conn, &p)?;
                    vec![p]
                }
                None => {
                    let mut stmt = w.conn.prepare_cached(
                        "SELECT person_id FROM alerts WHERE in_conflict = 1
                         UNION SELECT person_id FROM field_conflicts ORDER BY 1",
                    )?;
                    let rows = stmt
                        .query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    rows
                }
            };
            let Writer { conn, docs } = w;
            let mut out = Vec::new();
            for p in people {
                let entry = docs.get(conn, &(p.clone(), Compartment::Clinical))?;
                out.extend(conflict::field_conflicts(&p, &entry.doc)?);
            }
            Ok(out)
        })
    }

    /// Resolve a conflict on any single-value field by keeping one of its values (`keep`: its
    /// index in `FieldConflict::values`), written again with you as its author.
    pub fn resolve_field_conflict(
        &self,
        conflict_id: &str,
        keep: u32,
    ) -> Result<ConflictResolution> {
        self.allow(Action::ResolveConflict(Compartment::Clinical))?;
        let person_id = crate::record::edit::conflict_person(conflict_id)?;
        self.write(person_id, Compartment::Clinical, |doc, a| {
            conflict::resolve_field_conflict(doc, person_id, a, conflict_id, keep)
        })
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::ConflictNotOpen {
                id: conflict_id.to_string(),
            },
            e => e,
        })
    }

    // ------------------------------------------------------------ medication

    /// Record a medication given or not given (with the reason), at a visit or not: controlled
    /// drugs with a witness, a syringe driver with its check. Recorded once, never edited: a
    /// correction is `mark_entered_in_error` plus a new record.
    pub fn record_medication(
        &self,
        person_id: &str,
        input: crate::record::medication::MedicationInput,
    ) -> Result<crate::record::medication::MedicationAdministration> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            crate::record::medication::record_medication(doc, a, input)
        })
    }

    // ------------------------------------------------------------ tasks

    /// Add a task (bloods due, a prescription request, a referral, a review) for a nurse or a
    /// role, due on a day.
    pub fn add_task(&self, person_id: &str, input: TaskInput) -> Result<CareTask> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            task::add_task(doc, person_id, a, input)
        })
    }

    /// Move a task to ready, in progress, completed (an action of the access policy) or
    /// cancelled (with the reason in `note`).
    pub fn set_task_status(
        &self,
        person_id: &str,
        task_id: &str,
        status: TaskStatus,
        note: Option<String>,
    ) -> Result<TaskStatusChange> {
        if status == TaskStatus::Completed {
            self.allow(Action::CompleteTask)?;
        }
        self.write(person_id, Compartment::Clinical, |doc, a| {
            task::set_task_status(doc, person_id, a, task_id, status, note)
        })
    }

    /// Complete a task. Completed once: if a colleague completed it on another phone while
    /// both were offline, both completions are kept in its history and the earlier counts.
    pub fn complete_task(
        &self,
        person_id: &str,
        task_id: &str,
        note: Option<String>,
    ) -> Result<TaskStatusChange> {
        self.set_task_status(person_id, task_id, TaskStatus::Completed, note)
    }

    /// Tasks for the signed-in user (hers or her role's) or the team, with status and overdue
    /// worked out for `day`; closed ones only with `include_closed`. By due date.
    pub fn tasks(
        &self,
        day: NaiveDate,
        scope: DayScope,
        include_closed: bool,
    ) -> Result<Vec<TaskView>> {
        self.allow(Action::Read(Compartment::Clinical))?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT person_id, body, history FROM tasks ORDER BY due, person_id, task_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for (person, body, history) in rows {
            let t: CareTask = serde_json::from_str(&body)?;
            if scope == DayScope::Mine && !t.assignee.includes(&self.config.user) {
                continue;
            }
            let h: Vec<TaskStatusChange> = serde_json::from_str(&history)?;
            let v = TaskView::of(&person, t, h, day);
            if include_closed || v.status.is_open() {
                out.push(v);
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------ day lists

    /// The visits of a London day, for the signed-in nurse or the team: worked out from the
    /// care plans and bookings with their exceptions, ordered by window then travel order (or
    /// the nurse's own order), with overdue worked out now.
    pub fn today_list(&self, query: DayQuery) -> Result<TodayList> {
        self.today_list_at(query, now())
    }

    /// The team's schedule for `days` days from `from` (at most 62), one list per day.
    pub fn team_schedule(&self, from: NaiveDate, days: u32) -> Result<Vec<TodayList>> {
        self.team_schedule_at(from, days, now())
    }

    /// Put the signed-in nurse's list for `day` in her own order. Visits added later slot in
    /// where the computed order puts them; the order stays on this phone.
    pub fn reorder_day(&self, day: NaiveDate, order: Vec<VisitKey>) -> Result<()> {
        self.allow(Action::Read(Compartment::Clinical))?;
        let today = schedule::local_date(now());
        if day < today {
            return Err(ValidationError::Invalid {
                field: "day",
                reason: format!(
                    "{day} is in the past: only today's and later lists can be re-ordered"
                ),
            }
            .into());
        }
        if order.len() > MAX_DAY_ORDER {
            return Err(ValidationError::Invalid {
                field: "order",
                reason: format!("{} visits; at most {MAX_DAY_ORDER}", order.len()),
            }
            .into());
        }
        let mut seen = std::collections::HashSet::new();
        for k in &order {
            if !seen.insert(k) {
                return Err(ValidationError::Invalid {
                    field: "order",
                    reason: format!("visit {} of {} is listed twice", k.visit_ref, k.person_id),
                }
                .into());
            }
        }
        let user = self.config.user.id.clone();
        self.writing(|w| {
            let tx = w.conn.transaction()?;
            tx.execute(
                "DELETE FROM day_order WHERE user_id = ?1 AND day = ?2",
                params![user, day.to_string()],
            )?;
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO day_order (user_id, day, position, person_id, visit_ref) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (i, k) in order.iter().enumerate() {
                    ins.execute(params![user, day.to_string(), i as i64, k.person_id, k.visit_ref])?;
                }
            }
            tx.commit()?;
            if let Ok(mut c) = lock(&self.changed) {
                c.merge(StoreChange {
                    planned_visits: true,
                    ..Default::default()
                });
            }
            Ok(())
        })
    }
}

/// Reads at a given instant (for tests and benchmarks; the app uses the clock).
impl FieldStore {
    pub fn today_list_at(&self, query: DayQuery, now: DateTime<Utc>) -> Result<TodayList> {
        self.allow(Action::Read(Compartment::Clinical))?;
        let conn = self.reader()?;
        let inputs = schedule_inputs(&conn, query.day, query.day)?;
        let manual = match query.scope {
            DayScope::Mine => manual_order(&conn, &self.config.user.id, query.day)?,
            DayScope::Team => Vec::new(),
        };
        let mut people = PeopleInfo::default();
        day_list(
            &conn,
            &inputs,
            &query,
            now,
            &self.config.user.id,
            &manual,
            &mut people,
        )
    }

    pub fn team_schedule_at(
        &self,
        from: NaiveDate,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<TodayList>> {
        self.allow(Action::Read(Compartment::Clinical))?;
        if days == 0 || days > MAX_SCHEDULE_DAYS {
            return Err(ValidationError::Invalid {
                field: "days",
                reason: format!("{days} days: ask for 1 to {MAX_SCHEDULE_DAYS}"),
            }
            .into());
        }
        let to = from + Duration::days(i64::from(days) - 1);
        let conn = self.reader()?;
        let inputs = schedule_inputs(&conn, from, to)?;
        let mut people = PeopleInfo::default();
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            let q = DayQuery {
                day: d,
                scope: DayScope::Team,
                base_postcode: None,
            };
            out.push(day_list(
                &conn,
                &inputs,
                &q,
                now,
                &self.config.user.id,
                &[],
                &mut people,
            )?);
            d += Duration::days(1);
        }
        Ok(out)
    }
}

/// The care plan of a clinical document, with the first release's plan as its first version.
pub(super) fn plan_view(person_id: &str, doc: &mut automerge::AutoCommit) -> Result<CarePlanView> {
    dayedit::plan_view(person_id, doc)
}

// ---------------------------------------------------------------- projections

/// Re-derive the person's day rows from their clinical record (called by
/// `projections::replace_clinical`).
pub(super) fn replace_rows(
    tx: &Transaction<'_>,
    person_id: &str,
    c: &ClinicalRecord,
) -> Result<()> {
    delete_rows(tx, person_id)?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO plan_interventions (person_id, intervention_id, body) VALUES (?1, ?2, ?3)",
    )?;
    for i in dayedit::live_interventions(&c.plan, c.care_plan.as_ref()).iter() {
        if matches!(i.frequency, Frequency::AsNeeded) {
            continue;
        }
        ins.execute(params![person_id, i.id, serde_json::to_string(i)?])?;
    }
    let conflicted: std::collections::HashSet<&str> =
        c.field_conflicts.iter().map(|f| f.key.as_str()).collect();
    let origin = |r: &str| -> Option<NaiveDate> {
        if let Some((d, _)) = schedule::parse_plan_ref(r) {
            return Some(d);
        }
        c.planned_visits
            .iter()
            .find(|p| p.id == r)
            .map(|p| schedule::local_date(p.planned_start))
    };
    let ex = &c.visit_exceptions;
    let mut rows: Vec<(String, &str, Option<NaiveDate>, String, &str)> = Vec::new();
    for m in &ex.moves {
        rows.push((
            m.visit_ref.clone(),
            "move",
            Some(m.to_date),
            serde_json::to_string(m)?,
            layout::DV_MOVE,
        ));
    }
    for h in &ex.handovers {
        rows.push((
            h.visit_ref.clone(),
            "handover",
            None,
            serde_json::to_string(h)?,
            layout::DV_HANDOVER,
        ));
    }
    for x in &ex.cancellations {
        rows.push((
            x.visit_ref.clone(),
            "cancel",
            None,
            serde_json::to_string(x)?,
            layout::DV_CANCEL,
        ));
    }
    for p in &ex.priorities {
        rows.push((
            p.visit_ref.clone(),
            "priority",
            None,
            serde_json::to_string(p)?,
            layout::DV_PRIORITY,
        ));
    }
    for (r, kind, target, body, prefix) in rows {
        let Some(o) = origin(&r) else { continue };
        let in_conflict = conflicted.contains(layout::key(prefix, &r).as_str());
        insert_exception(tx, person_id, &r, kind, "", o, target, &body, in_conflict)?;
    }
    for v in c.visits.iter().filter(|v| !c.is_entered_in_error(&v.id)) {
        let Some(r) = &v.scheduled_visit else {
            continue;
        };
        let Some(o) = origin(r) else { continue };
        insert_done(tx, person_id, r, o, &DoneVisit::of(v))?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR REPLACE INTO field_conflicts (person_id, conflict_id, key) VALUES (?1, ?2, ?3)",
    )?;
    for f in c
        .field_conflicts
        .iter()
        .filter(|f| !f.key.starts_with(layout::ALERT))
    {
        ins.execute(params![person_id, f.id, f.key])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR REPLACE INTO tasks (person_id, task_id, due, body, history) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for t in c.tasks.iter().filter(|t| !c.is_entered_in_error(&t.id)) {
        let history: Vec<&TaskStatusChange> = c
            .task_status_changes
            .iter()
            .filter(|s| s.task_id == t.id)
            .collect();
        ins.execute(params![
            person_id,
            t.id,
            t.due.to_string(),
            serde_json::to_string(t)?,
            serde_json::to_string(&history)?
        ])?;
    }
    if let Some(d) = c.plan.review_date {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO plan_reviews (person_id, review_date) VALUES (?1, ?2)",
        )?
        .execute(params![person_id, d.to_string()])?;
    }
    Ok(())
}

/// The tables of the day's projections (for purge, wipe and rebuild).
pub(super) const TABLES: [&str; 5] = [
    "plan_interventions",
    "visit_exceptions",
    "field_conflicts",
    "plan_reviews",
    "tasks",
];

pub(super) fn delete_rows(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    for t in TABLES {
        tx.prepare_cached(&format!("DELETE FROM {t} WHERE person_id = ?1"))?
            .execute([person_id])?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_exception(
    tx: &Transaction<'_>,
    person_id: &str,
    visit_ref: &str,
    kind: &str,
    entry_id: &str,
    origin: NaiveDate,
    target: Option<NaiveDate>,
    body: &str,
    in_conflict: bool,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO visit_exceptions
           (person_id, visit_ref, kind, entry_id, origin_day, target_day, body, in_conflict)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        person_id,
        visit_ref,
        kind,
        entry_id,
        origin.to_string(),
        target.map(|d| d.to_string()),
        body,
        in_conflict
    ])?;
    Ok(())
}

/// A visit recorded as the outcome of a scheduled visit (the incremental path of a visit).
pub(super) fn insert_done(
    tx: &Transaction<'_>,
    person_id: &str,
    visit_ref: &str,
    origin: NaiveDate,
    done: &DoneVisit,
) -> Result<()> {
    insert_exception(
        tx,
        person_id,
        visit_ref,
        "visit",
        &done.visit_id,
        origin,
        None,
        &serde_json::to_string(done)?,
        false,
    )
}

// ---------------------------------------------------------------- queries

fn day_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Everything the schedule of `from..=to` is worked out from, read from the projections.
pub(crate) fn schedule_inputs(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ScheduleInputs> {
    let mut inputs = ScheduleInputs::default();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT person_id, body FROM plan_interventions ORDER BY person_id, intervention_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (person, body) = row?;
            let iv: PlanIntervention = serde_json::from_str(&body)?;
            inputs.plans.entry(person).or_default().push(iv);
        }
    }
    let (f, t) = (day_str(from), day_str(to));
    let mut moved_booked: Vec<String> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT person_id, visit_ref, kind, body, in_conflict FROM visit_exceptions
             WHERE origin_day BETWEEN ?1 AND ?2 OR (target_day BETWEEN ?1 AND ?2)
                OR (person_id, visit_ref) IN (SELECT person_id, visit_ref FROM visit_exceptions
                                              WHERE kind = 'move' AND target_day BETWEEN ?1 AND ?2)",
        )?;
        let rows = stmt.query_map(params![f, t], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        for row in rows {
            let (person, r, kind, body, in_conflict) = row?;
            let e: &mut Exceptions = inputs.exceptions.entry((person, r.clone())).or_default();
            e.in_conflict |= in_conflict;
            match kind.as_str() {
                "move" => {
                    let m: VisitMove = serde_json::from_str(&body)?;
                    if schedule::parse_plan_ref(&r).is_none() {
                        moved_booked.push(r.clone());
                    }
                    e.moved = Some(m);
                }
                "handover" => e.handover = Some(serde_json::from_str(&body)?),
                "cancel" => e.cancelled = Some(serde_json::from_str(&body)?),
                "priority" => e.priority = Some(serde_json::from_str(&body)?),
                "visit" => e.done.push(serde_json::from_str(&body)?),
                _ => {}
            }
        }
    }
    let (start, _) = schedule::day_bounds(from);
    let (_, end) = schedule::day_bounds(to);
    let mut stmt = conn.prepare_cached(
        "SELECT visit_id, person_id, starts_at, clinician, contact_type, completed FROM planned_visits
         WHERE entered_in_error = 0 AND starts_at >= ?1 AND starts_at < ?2",
    )?;
    let mut booked = stmt
        .query_map(
            params![start.timestamp_millis(), end.timestamp_millis()],
            booked_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut by_id = conn.prepare_cached(
        "SELECT visit_id, person_id, starts_at, clinician, contact_type, completed FROM planned_visits
         WHERE entered_in_error = 0 AND visit_id = ?1",
    )?;
    for id in moved_booked {
        if booked.iter().any(|(v, _)| v.visit_ref == id) {
            continue;
        }
        if let Some(row) = by_id.query_row([&id], booked_row).optional()? {
            booked.push(row);
        }
    }
    inputs.booked = booked;
    Ok(inputs)
}

fn booked_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(PlanVisit, bool)> {
    let id: String = r.get(0)?;
    let start = DateTime::from_timestamp_millis(r.get(2)?).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let contact: String = r.get(4)?;
    let contact_type = serde_json::from_value(serde_json::Value::String(contact))
        .unwrap_or(ContactType::HomeVisit);
    Ok((
        PlanVisit {
            person_id: r.get(1)?,
            visit_ref: id.clone(),
            date: schedule::local_date(start),
            start,
            end: start + Duration::minutes(schedule::DEFAULT_BOOKED_MINUTES),
            interventions: Vec::new(),
            clinician: r.get(3)?,
            contact_type,
            planned_visit_id: Some(id),
        },
        r.get(5)?,
    ))
}

fn manual_order(conn: &Connection, user: &str, day: NaiveDate) -> Result<Vec<VisitKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person_id, visit_ref FROM day_order WHERE user_id = ?1 AND day = ?2 ORDER BY position",
    )?;
    let rows = stmt
        .query_map(params![user, day.to_string()], |r| {
            Ok(VisitKey {
                person_id: r.get(0)?,
                visit_ref: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, Default)]
struct Person {
    display_name: String,
    address: Option<String>,
    postcode: Option<String>,
    access_notes: Option<String>,
    alerts: Vec<AlertSummary>,
    conflicts: u32,
}

/// People's rows, read once per list (or per schedule).
#[derive(Default)]
struct PeopleInfo {
    loaded: bool,
    people: HashMap<String, Person>,
}

impl PeopleInfo {
    fn load(&mut self, conn: &Connection) -> Result<()> {
        if self.loaded {
            return Ok(());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT person_id, display_name, address, postcode, access_notes FROM people",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Person {
                    display_name: r.get(1)?,
                    address: r.get(2)?,
                    postcode: r.get(3)?,
                    access_notes: r.get(4)?,
                    ..Default::default()
                },
            ))
        })?;
        for row in rows {
            let (id, p) = row?;
            self.people.insert(id, p);
        }
        for (id, alerts) in queries::alerts_by_person(conn)? {
            let p = self.people.entry(id).or_default();
            p.conflicts += alerts.iter().filter(|a| a.in_conflict).count() as u32;
            p.alerts = alerts;
        }
        let mut stmt = conn
            .prepare_cached("SELECT person_id, count(*) FROM field_conflicts GROUP BY person_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
        for row in rows {
            let (id, n) = row?;
            self.people.entry(id).or_default().conflicts += n;
        }
        self.loaded = true;
        Ok(())
    }
}

fn day_list(
    conn: &Connection,
    inputs: &ScheduleInputs,
    query: &DayQuery,
    now: DateTime<Utc>,
    user: &str,
    manual: &[VisitKey],
    people: &mut PeopleInfo,
) -> Result<TodayList> {
    people.load(conn)?;
    let visits: Vec<ScheduledVisit> = schedule::day_schedule(inputs, query.day, now)
        .into_iter()
        .filter(|v| match query.scope {
            DayScope::Team => true,
            DayScope::Mine => v.assignee.as_deref() == Some(user),
        })
        .collect();
    let postcode = |v: &ScheduledVisit| {
        people
            .people
            .get(&v.visit.person_id)
            .and_then(|p| p.postcode.clone())
    };
    let out = ordered_list(
        visits,
        query.base_postcode.clone(),
        manual,
        people,
        &postcode,
    );
    let reviews_due = reviews_due(conn, query.day, people)?;
    let mut list = list_of(query, out);
    list.reviews_due = reviews_due;
    list.escalations = super::ward::open_escalations(conn)?;
    Ok(list)
}

/// A day list of these visits, with its counts.
fn list_of(query: &DayQuery, visits: Vec<DayVisit>) -> TodayList {
    TodayList {
        day: query.day,
        scope: query.scope,
        open: visits.iter().filter(|v| v.status.is_open()).count() as u32,
        overdue: visits
            .iter()
            .filter(|v| v.status == VisitStatus::Overdue)
            .count() as u32,
        done: visits.iter().filter(|v| !v.status.is_open()).count() as u32,
        visits,
        reviews_due: Vec::new(),
        escalations: Vec::new(),
        follow_ups: Vec::new(),
    }
}

/// Visits by window start, then in travel order within visits whose windows start together
/// (continuing from the previous stop, from `base`; `postcode` says where each one is), then
/// the nurse's own order; each with its person's details.
fn ordered_list(
    mut visits: Vec<ScheduledVisit>,
    base: Option<String>,
    manual: &[VisitKey],
    people: &PeopleInfo,
    postcode: &dyn Fn(&ScheduledVisit) -> Option<String>,
) -> Vec<DayVisit> {
    visits.sort_by(|a, b| {
        (a.visit.start, &a.visit.person_id, &a.visit.visit_ref).cmp(&(
            b.visit.start,
            &b.visit.person_id,
            &b.visit.visit_ref,
        ))
    });
    let mut ordered: Vec<ScheduledVisit> = Vec::with_capacity(visits.len());
    let mut from = base;
    let mut i = 0;
    while i < visits.len() {
        let start = visits[i].visit.start;
        let mut j = i;
        while j < visits.len() && visits[j].visit.start == start {
            j += 1;
        }
        let group: Vec<ScheduledVisit> = visits[i..j].to_vec();
        let pcs: Vec<Option<String>> = group.iter().map(postcode).collect();
        for k in schedule::travel_order(&pcs, from.as_deref()) {
            if let Some(v) = group.get(k) {
                if let Some(p) = pcs.get(k).cloned().flatten() {
                    from = Some(p);
                }
                ordered.push(v.clone());
            }
        }
        i = j;
    }
    let computed: Vec<VisitKey> = ordered
        .iter()
        .map(|v| VisitKey {
            person_id: v.visit.person_id.clone(),
            visit_ref: v.visit.visit_ref.clone(),
        })
        .collect();
    let final_keys = if manual.is_empty() {
        computed.clone()
    } else {
        schedule::merge_manual_order(&computed, manual)
    };
    let mut by_key: HashMap<VisitKey, ScheduledVisit> = computed.into_iter().zip(ordered).collect();
    let mut out = Vec::with_capacity(final_keys.len());
    for k in final_keys {
        let Some(v) = by_key.remove(&k) else { continue };
        let placed = manual.contains(&k);
        out.push(day_visit(k, v, placed, people));
    }
    out
}

fn day_visit(
    k: VisitKey,
    v: ScheduledVisit,
    manually_placed: bool,
    people: &PeopleInfo,
) -> DayVisit {
    let p = people
        .people
        .get(&v.visit.person_id)
        .cloned()
        .unwrap_or_else(|| Person {
            display_name: "(details not yet synced)".into(),
            ..Default::default()
        });
    let handover = v.exceptions.handover.as_ref();
    DayVisit {
        manually_placed,
        person_id: k.person_id,
        visit_ref: k.visit_ref,
        display_name: p.display_name,
        address: p.address,
        postcode: p.postcode,
        access_notes: p.access_notes,
        window_start: v.visit.start,
        window_end: v.visit.end,
        window: format!(
            "{}–{}",
            schedule::local_hhmm(v.visit.start),
            schedule::local_hhmm(v.visit.end)
        ),
        priority: v.priority,
        priority_overridden: v.priority_overridden,
        interventions: v.visit.interventions.clone(),
        contact_type: v.visit.contact_type,
        planned_visit_id: v.visit.planned_visit_id.clone(),
        assigned_to: v.assignee.clone(),
        handed_over_by: handover.map(|h| h.author.display_name.clone()),
        handover_note: handover.map(|h| h.note.clone()),
        moved_from: (v.origin_date != v.visit.date).then_some(v.origin_date),
        status: v.status,
        status_reason: v.status_reason.clone(),
        alerts: p.alerts,
        open_conflicts: p.conflicts,
        in_conflict: v.exceptions.in_conflict,
        venue: None,
    }
}

/// Care-plan reviews due on or before `day` (overdue when before it).
fn reviews_due(conn: &Connection, day: NaiveDate, people: &PeopleInfo) -> Result<Vec<ReviewDue>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person_id, review_date FROM plan_reviews WHERE review_date <= ?1 ORDER BY review_date, person_id",
    )?;
    let rows = stmt
        .query_map([day_str(day)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(person_id, d)| {
            let review_date = NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()?;
            Some(ReviewDue {
                display_name: people
                    .people
                    .get(&person_id)
                    .map(|p| p.display_name.clone())
                    .unwrap_or_default(),
                person_id,
                review_date,
                overdue: review_date < day,
            })
        })
        .collect())
}

pub(super) mod advice;

#[cfg(test)]
mod tests;
