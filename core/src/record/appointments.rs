//! Outreach appointments (issue 14 item 4, layout 6): a case worker's appointments with a
//! client at home or in a community venue, what happened at each, and what follows a missed
//! one. Everything is an immutable entry of the **advice** document, sans-IO like
//! [`super::edit`]; the phone's lists read them through the store's projection.
//!
//! | entry | key |
//! |---|---|
//! | [`OutreachAppointment`] | `appt:<id>` |
//! | [`AppointmentOutcome`] (attended, did not attend, cancelled) | `appt_outcome:<id>` |
//! | a follow-up ([`CareTask`], with its status changes) | `advice_task:<id>`, `advice_task_status:<id>` |
//!
//! **Did not attend.** Recording a did-not-attend in one change also writes what follows it:
//! before the last attempt, a follow-up for the case worker (contact the client, offer another
//! appointment, booked with `follows` so it counts as the next attempt); at the last attempt
//! ([`DNA_ATTEMPTS_BEFORE_CLOSING`]), the client's open needs are closed with the reason and the
//! open follow-ups cancelled. Two phones recording different outcomes of one appointment offline
//! both keep theirs: the earlier counts and the appointment shows as in conflict.

use automerge::AutoCommit;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::edit::{Delta, Edit, CLOCK_SKEW};
use super::layout::{self, key, ADVICE_TASK, ADVICE_TASK_STATUS, APPOINTMENT, APPOINTMENT_OUTCOME};
use super::model::*;
use super::outreach::{NeedStatus, NeedStatusChange};
use super::schedule::{local_date, local_hhmm, VisitStatus};
use super::task::{CareTask, TaskAssignee, TaskKind, TaskStatus, TaskStatusChange, TaskView};
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

/// Missed appointments in a row after which the client's case is closed (Citizens Advice's
/// usual "three attempts to contact").
pub const DNA_ATTEMPTS_BEFORE_CLOSING: u32 = 3;
/// The shortest and longest appointment, in minutes.
pub const MIN_MINUTES: u32 = 5;
pub const MAX_MINUTES: u32 = 480;
/// How far back an appointment may be booked (recorded after the event) and how far ahead.
pub const MAX_DAYS_BACK: i64 = 31;
pub const MAX_DAYS_AHEAD: i64 = 366;
/// The kind of follow-up a missed appointment raises.
pub const MISSED_APPOINTMENT: &str = "missed appointment";

/// Where an appointment takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// The client's home (the address on their record).
    Home,
    Library,
    GpSurgery,
    /// A hospital ward, before discharge.
    HospitalWard,
    CommunityCentre,
    Other,
}

impl VenueKind {
    pub fn label(&self) -> &'static str {
        match self {
            VenueKind::Home => "home",
            VenueKind::Library => "library",
            VenueKind::GpSurgery => "GP surgery",
            VenueKind::HospitalWard => "hospital ward",
            VenueKind::CommunityCentre => "community centre",
            VenueKind::Other => "other venue",
        }
    }
}

/// The venue: its kind and, away from home, its name ("Hyde Library", "Ward 7, Tameside").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AppointmentVenue {
    pub kind: VenueKind,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AppointmentVenue {
    /// "home", or the venue's name and kind.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.name) {
            (VenueKind::Home, _) => "home".into(),
            (k, Some(n)) => format!("{n} ({})", k.label()),
            (k, None) => k.label().into(),
        }
    }

    fn validated(&self) -> std::result::Result<AppointmentVenue, ValidationError> {
        let name = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if name.is_none() && self.kind != VenueKind::Home {
            return Err(ValidationError::MissingField {
                field: "venue",
                hint: "name the venue (\"Hyde Library\"): only a home appointment goes without one",
            });
        }
        if let Some(n) = name {
            short("venue", n)?;
        }
        let name = name.map(str::to_string);
        Ok(AppointmentVenue {
            kind: self.kind,
            name,
        })
    }
}

/// An appointment as booked (immutable; a change of plan is a cancellation and a new booking).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OutreachAppointment {
    pub id: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "starts_at_ms"))]
    pub starts_at: DateTime<Utc>,
    pub minutes: u32,
    pub venue: AppointmentVenue,
    /// The case worker who will see the client.
    pub case_worker_id: String,
    pub case_worker_name: String,
    /// 1 for a first appointment; one more than the appointment it follows when that one was
    /// missed.
    pub attempt: u32,
    /// The missed (or earlier) appointment this one was booked after.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// The advice needs it is about (may be none: a first appointment).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub need_ids: Vec<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub author: Author,
}

impl OutreachAppointment {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + Duration::minutes(i64::from(self.minutes))
    }

    /// The rules the edit function and the server's validator both apply to a stored one.
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        if !(MIN_MINUTES..=MAX_MINUTES).contains(&self.minutes) {
            return Err(ValidationError::Invalid {
                field: "length",
                reason: format!(
                    "{} minutes: an appointment lasts {MIN_MINUTES} to {MAX_MINUTES} minutes",
                    self.minutes
                ),
            });
        }
        if self.attempt == 0 || self.attempt > DNA_ATTEMPTS_BEFORE_CLOSING + 20 {
            return Err(ValidationError::Invalid {
                field: "attempt",
                reason: format!("attempt {} is not a number of attempts", self.attempt),
            });
        }
        let v = self.venue.validated()?;
        if v != self.venue {
            return Err(ValidationError::Invalid {
                field: "venue",
                reason: "the venue's name has spaces around it".into(),
            });
        }
        required_short(
            "case worker",
            &self.case_worker_id,
            "choose the case worker",
        )?;
        required_short(
            "case worker's name",
            &self.case_worker_name,
            "choose the case worker",
        )?;
        if let Some(n) = &self.note {
            text("note", n)?;
        }
        for n in &self.need_ids {
            short("advice need", n)?;
        }
        Ok(())
    }
}

/// What the case worker enters to book an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AppointmentInput {
    #[cfg_attr(feature = "uniffi", uniffi(name = "starts_at_ms"))]
    pub starts_at: DateTime<Utc>,
    pub minutes: u32,
    pub venue: AppointmentVenue,
    /// Another case worker of the team (none: the one booking it).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub case_worker: Option<TaskAssignee>,
    /// The appointment this one follows (a second attempt after a missed one).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub follows: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub need_ids: Vec<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub note: Option<String>,
}

/// What happened at an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Attended,
    DidNotAttend,
    /// The client called it off (give the reason).
    CancelledByClient,
    /// The service called it off (give the reason).
    CancelledByService,
}

impl Attendance {
    pub fn label(&self) -> &'static str {
        match self {
            Attendance::Attended => "attended",
            Attendance::DidNotAttend => "did not attend",
            Attendance::CancelledByClient => "cancelled by the client",
            Attendance::CancelledByService => "cancelled by the service",
        }
    }

    fn needs_reason(&self) -> bool {
        matches!(
            self,
            Attendance::CancelledByClient | Attendance::CancelledByService
        )
    }

    /// Attended and did-not-attend are known only once the appointment has started.
    fn after_start(&self) -> bool {
        matches!(self, Attendance::Attended | Attendance::DidNotAttend)
    }
}

/// The outcome of one appointment (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AppointmentOutcome {
    pub id: String,
    pub appointment_id: String,
    pub attendance: Attendance,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub author: Author,
}

impl AppointmentOutcome {
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        match (self.attendance.needs_reason(), self.reason.as_deref()) {
            (true, None) => Err(ValidationError::MissingField {
                field: "reason",
                hint: "say why the appointment was cancelled",
            }),
            (_, Some(r)) => short("reason", r),
            (false, None) => Ok(()),
        }
    }
}

/// An appointment as a list shows it: the outcome that counts (the earliest recorded) and
/// whether another phone recorded a different one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AppointmentView {
    pub person_id: String,
    pub appointment: OutreachAppointment,
    pub outcome: Option<AppointmentOutcome>,
    /// Different outcomes were recorded (two phones offline): the earlier counts; resolve it by
    /// marking the wrong one entered in error.
    pub in_conflict: bool,
}

impl AppointmentView {
    /// The view of `a` with the outcomes recorded for it (entries in error already left out).
    pub fn of(person_id: &str, a: OutreachAppointment, outcomes: &[AppointmentOutcome]) -> Self {
        let mut mine: Vec<&AppointmentOutcome> = outcomes
            .iter()
            .filter(|o| o.appointment_id == a.id)
            .collect();
        mine.sort_by(|x, y| (x.author.at, &x.id).cmp(&(y.author.at, &y.id)));
        let first = mine.first().map(|o| (*o).clone());
        let in_conflict = mine.iter().any(|o| o.attendance != mine[0].attendance);
        AppointmentView {
            person_id: person_id.to_string(),
            appointment: a,
            outcome: first,
            in_conflict,
        }
    }

    /// Where it stands at `now`, as a day list shows it.
    pub fn status(&self, now: DateTime<Utc>) -> VisitStatus {
        match self.outcome.as_ref().map(|o| o.attendance) {
            Some(Attendance::Attended) => VisitStatus::Completed,
            Some(Attendance::DidNotAttend) => VisitStatus::DidNotAttend,
            Some(Attendance::CancelledByClient) => VisitStatus::CancelledByPerson,
            Some(Attendance::CancelledByService) => VisitStatus::CancelledByService,
            None if now >= self.appointment.ends_at() => VisitStatus::Overdue,
            None => VisitStatus::Due,
        }
    }

    /// The words beside the status: "attempt 2 of 3", the reason of a cancellation.
    pub fn status_reason(&self) -> Option<String> {
        let attempt = (self.appointment.attempt > 1).then(|| {
            format!(
                "attempt {} of {DNA_ATTEMPTS_BEFORE_CLOSING}",
                self.appointment.attempt
            )
        });
        let reason = self.outcome.as_ref().and_then(|o| o.reason.clone());
        match (attempt, reason) {
            (Some(a), Some(r)) => Some(format!("{a}: {r}")),
            (a, r) => a.or(r),
        }
    }
}

/// Every appointment of an advice record with its outcome, entries in error left out.
pub fn appointments(person_id: &str, r: &super::AdviceRecord) -> Vec<AppointmentView> {
    let eie = |id: &str| r.entered_in_error.iter().any(|m| m.entry_id == id);
    let outcomes: Vec<AppointmentOutcome> = r
        .appointment_outcomes
        .iter()
        .filter(|o| !eie(&o.id))
        .cloned()
        .collect();
    r.appointments
        .iter()
        .filter(|a| !eie(&a.id))
        .map(|a| AppointmentView::of(person_id, a.clone(), &outcomes))
        .collect()
}

/// Every follow-up of an advice record with its status worked out for `day`.
pub fn follow_ups(person_id: &str, r: &super::AdviceRecord, day: NaiveDate) -> Vec<TaskView> {
    let eie = |id: &str| r.entered_in_error.iter().any(|m| m.entry_id == id);
    r.tasks
        .iter()
        .filter(|t| !eie(&t.id))
        .map(|t| {
            let h = r
                .task_status_changes
                .iter()
                .filter(|c| c.task_id == t.id)
                .cloned()
                .collect();
            TaskView::of(person_id, t.clone(), h, day)
        })
        .collect()
}

// ---------------------------------------------------------------- writing

/// An edit of the advice document, with the record its projection rows are derived from.
fn projected<T>(doc: &AutoCommit, value: T, summary: String) -> Result<Edit<T>> {
    Ok(Edit {
        value,
        summary,
        deltas: vec![Delta::Advice(Box::new(super::read::advice(doc)?))],
    })
}

fn stored_appointment(doc: &AutoCommit, id: &str) -> Result<OutreachAppointment> {
    layout::get_json(doc, &key(APPOINTMENT, id))?.ok_or_else(|| Error::NotFound {
        what: "outreach appointment",
        id: id.to_string(),
    })
}

fn attempt_after(doc: &AutoCommit, follows: &str) -> Result<u32> {
    let before = stored_appointment(doc, follows)?;
    let record = super::read::advice(doc)?;
    let view = AppointmentView::of("", before.clone(), &record.appointment_outcomes);
    Ok(match view.outcome.map(|o| o.attendance) {
        Some(Attendance::DidNotAttend) => before.attempt.saturating_add(1),
        _ => 1,
    })
}

/// Book an appointment with the client: when, how long, where, with whom.
pub fn book_appointment(
    doc: &mut AutoCommit,
    author: &Author,
    input: AppointmentInput,
) -> Result<Edit<OutreachAppointment>> {
    let now = author.at;
    if input.starts_at < now - Duration::days(MAX_DAYS_BACK)
        || input.starts_at > now + Duration::days(MAX_DAYS_AHEAD)
    {
        return Err(ValidationError::Invalid {
            field: "appointment time",
            reason: format!(
                "{} is not within {MAX_DAYS_BACK} days back or {MAX_DAYS_AHEAD} days ahead: check the date",
                local_date(input.starts_at)
            ),
        }
        .into());
    }
    let (case_worker_id, case_worker_name) = match input.case_worker {
        None => (author.user_id.clone(), author.display_name.clone()),
        Some(TaskAssignee::User {
            user_id,
            display_name,
        }) => (user_id.trim().to_string(), display_name.trim().to_string()),
        Some(TaskAssignee::Role { .. }) => {
            return Err(ValidationError::Invalid {
                field: "case worker",
                reason: "an appointment is with one case worker: choose who, not a role".into(),
            }
            .into())
        }
    };
    let note = input
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    for n in &input.need_ids {
        super::edit::require_key(doc, layout::ADVICE_NEED, n, "advice need")?;
    }
    let attempt = match &input.follows {
        Some(f) => attempt_after(doc, f)?,
        None => 1,
    };
    let a = OutreachAppointment {
        id: new_id(),
        starts_at: input.starts_at,
        minutes: input.minutes,
        venue: input.venue.validated()?,
        case_worker_id,
        case_worker_name,
        attempt,
        follows: input.follows,
        need_ids: input.need_ids,
        note,
        author: author.clone(),
    };
    a.check()?;
    layout::put_json(doc, &key(APPOINTMENT, &a.id), &a)?;
    let summary = format!(
        "booked an outreach appointment on {} at {} ({}, {} minutes, with {}{})",
        local_date(a.starts_at),
        local_hhmm(a.starts_at),
        a.venue.describe(),
        a.minutes,
        a.case_worker_name,
        if attempt > 1 {
            format!(", attempt {attempt} of {DNA_ATTEMPTS_BEFORE_CLOSING}")
        } else {
            String::new()
        }
    );
    projected(doc, a, summary)
}

/// What recording an appointment's outcome wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AttendanceResult {
    pub outcome: AppointmentOutcome,
    /// A missed appointment before the last attempt: the follow-up for the case worker.
    pub follow_up: Option<CareTask>,
    /// A missed last attempt: the needs closed, with the reason.
    pub closed_needs: Vec<NeedStatusChange>,
    /// A missed last attempt: the open follow-ups cancelled.
    pub cancelled_follow_ups: Vec<TaskStatusChange>,
    /// The case was closed for non-attendance.
    pub case_closed: bool,
}

/// Record what happened at an appointment; a missed one brings its follow-up or, at the last
/// attempt, closes the case (see the module's notes).
pub fn record_attendance(
    doc: &mut AutoCommit,
    author: &Author,
    appointment_id: &str,
    attendance: Attendance,
    reason: Option<String>,
) -> Result<Edit<AttendanceResult>> {
    let a = stored_appointment(doc, appointment_id)?;
    let record = super::read::advice(doc)?;
    let view = AppointmentView::of("", a.clone(), &record.appointment_outcomes);
    if let Some(o) = &view.outcome {
        return Err(ValidationError::Invalid {
            field: "attendance",
            reason: format!(
                "this appointment was already recorded as {} by {} on {}; if that was wrong, mark it entered in error first",
                o.attendance.label(),
                o.author.display_name,
                local_date(o.author.at)
            ),
        }
        .into());
    }
    if attendance.after_start() && a.starts_at > author.at + CLOCK_SKEW {
        return Err(ValidationError::Invalid {
            field: "attendance",
            reason: format!(
                "the appointment starts at {} on {}: record whether the client attended once it has begun, or cancel it",
                local_hhmm(a.starts_at),
                local_date(a.starts_at)
            ),
        }
        .into());
    }
    let outcome = AppointmentOutcome {
        id: new_id(),
        appointment_id: a.id.clone(),
        attendance,
        reason: reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        author: author.clone(),
    };
    outcome.check()?;
    layout::put_json(doc, &key(APPOINTMENT_OUTCOME, &outcome.id), &outcome)?;
    let mut result = AttendanceResult {
        outcome,
        follow_up: None,
        closed_needs: Vec::new(),
        cancelled_follow_ups: Vec::new(),
        case_closed: false,
    };
    let mut summary = format!(
        "recorded the outreach appointment of {} as {}",
        local_date(a.starts_at),
        attendance.label()
    );
    if attendance == Attendance::DidNotAttend {
        if a.attempt >= DNA_ATTEMPTS_BEFORE_CLOSING {
            close_case(doc, author, &a, &record, &mut result)?;
            summary.push_str(&format!(
                "; the case was closed after {} missed appointments ({} needs closed)",
                a.attempt,
                result.closed_needs.len()
            ));
        } else {
            let t = follow_up_task(doc, author, &a)?;
            summary.push_str(&format!("; follow-up due {}", t.due));
            result.follow_up = Some(t);
        }
    }
    projected(doc, result, summary)
}

fn follow_up_task(
    doc: &mut AutoCommit,
    author: &Author,
    a: &OutreachAppointment,
) -> Result<CareTask> {
    let t = CareTask {
        id: new_id(),
        kind: TaskKind::Other(MISSED_APPOINTMENT.into()),
        description: format!(
            "Missed the appointment of {} at {} ({}, attempt {} of {DNA_ATTEMPTS_BEFORE_CLOSING}): contact the client and book attempt {}",
            local_date(a.starts_at),
            local_hhmm(a.starts_at),
            a.venue.describe(),
            a.attempt,
            a.attempt + 1
        ),
        assignee: TaskAssignee::User {
            user_id: a.case_worker_id.clone(),
            display_name: a.case_worker_name.clone(),
        },
        due: local_date(author.at) + Duration::days(1),
        status: TaskStatus::Ready,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ADVICE_TASK, &t.id), &t)?;
    Ok(t)
}

/// The missed appointments in a row ending with `a` (following `follows`), oldest first.
fn missed_chain(a: &OutreachAppointment, r: &super::AdviceRecord) -> Vec<NaiveDate> {
    let mut out = vec![local_date(a.starts_at)];
    let mut at = a.follows.clone();
    while let Some(id) = at {
        let Some(prev) = r.appointments.iter().find(|x| x.id == id) else {
            break;
        };
        if out.len() > 64 {
            break;
        }
        out.push(local_date(prev.starts_at));
        at = prev.follows.clone();
    }
    out.reverse();
    out
}

fn close_case(
    doc: &mut AutoCommit,
    author: &Author,
    a: &OutreachAppointment,
    r: &super::AdviceRecord,
    result: &mut AttendanceResult,
) -> Result<()> {
    let dates: Vec<String> = missed_chain(a, r)
        .iter()
        .map(|d| d.format("%-d %b %Y").to_string())
        .collect();
    let note = format!(
        "Closed after {} missed appointments ({})",
        a.attempt,
        dates.join(", ")
    );
    let note = match &result.outcome.reason {
        Some(why) => format!("{note}: {why}"),
        None => note,
    };
    let eie = |id: &str| r.entered_in_error.iter().any(|m| m.entry_id == id);
    for need in r.needs.iter().filter(|n| !eie(&n.id)) {
        let status = super::outreach::need_status(&r.need_status_changes, &need.id);
        if matches!(status, NeedStatus::Resolved | NeedStatus::Closed) {
            continue;
        }
        let c = NeedStatusChange {
            id: new_id(),
            need_id: need.id.clone(),
            status: NeedStatus::Closed,
            note: Some(note.clone()),
            author: author.clone(),
        };
        layout::put_json(doc, &key(layout::NEED_STATUS, &c.id), &c)?;
        result.closed_needs.push(c);
    }
    let day = local_date(author.at);
    for t in follow_ups("", r, day)
        .into_iter()
        .filter(|t| t.status.is_open())
    {
        let c = TaskStatusChange {
            id: new_id(),
            task_id: t.task.id.clone(),
            status: TaskStatus::Cancelled,
            note: Some(note.clone()),
            author: author.clone(),
        };
        layout::put_json(doc, &key(ADVICE_TASK_STATUS, &c.id), &c)?;
        result.cancelled_follow_ups.push(c);
    }
    result.case_closed = true;
    Ok(())
}

/// Add a follow-up of the client's case for a case worker (or any advice worker), due on a day.
pub fn add_follow_up(
    doc: &mut AutoCommit,
    author: &Author,
    input: super::task::TaskInput,
) -> Result<Edit<CareTask>> {
    let input = input.validated(local_date(author.at))?;
    let t = CareTask {
        id: new_id(),
        kind: input.kind,
        description: input.description,
        assignee: input.assignee,
        due: input.due,
        status: if input.ready {
            TaskStatus::Ready
        } else {
            TaskStatus::Requested
        },
        author: author.clone(),
    };
    layout::put_json(doc, &key(ADVICE_TASK, &t.id), &t)?;
    let summary = format!(
        "added a follow-up ({}) for {}, due {}",
        t.kind.label(),
        t.assignee.describe(),
        t.due
    );
    projected(doc, t, summary)
}

/// Move a follow-up on (ready, in progress, completed, or cancelled with the reason in `note`).
pub fn set_follow_up_status(
    doc: &mut AutoCommit,
    author: &Author,
    task_id: &str,
    status: TaskStatus,
    note: Option<String>,
) -> Result<Edit<TaskStatusChange>> {
    let record = super::read::advice(doc)?;
    let day = local_date(author.at);
    let Some(t) = follow_ups("", &record, day)
        .into_iter()
        .find(|t| t.task.id == task_id)
    else {
        return Err(Error::NotFound {
            what: "follow-up",
            id: task_id.to_string(),
        });
    };
    if !t.status.is_open() {
        return Err(ValidationError::Invalid {
            field: "status",
            reason: format!("this follow-up is already {}", t.status.label()),
        }
        .into());
    }
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if status == TaskStatus::Cancelled && note.is_none() {
        return Err(ValidationError::MissingField {
            field: "note",
            hint: "say why the follow-up is cancelled",
        }
        .into());
    }
    if let Some(n) = &note {
        text("note", n)?;
    }
    let c = TaskStatusChange {
        id: new_id(),
        task_id: task_id.to_string(),
        status,
        note,
        author: author.clone(),
    };
    layout::put_json(doc, &key(ADVICE_TASK_STATUS, &c.id), &c)?;
    let summary = format!("set a follow-up to {}", status.label());
    projected(doc, c, summary)
}

#[cfg(test)]
mod tests;
