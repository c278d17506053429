//! The case worker's day on the device (issue 14 item 4, docs/outreach.md): outreach
//! appointments and follow-ups (each one `record::appointments` edit of the advice document),
//! their projection rows, and the case worker's today list — the same list as the district
//! nurse's ([`TodayList`], ordered by [`super::ordered_list`]), over the advice compartment.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, Transaction};

use super::{DayQuery, DayScope, PeopleInfo, TodayList, VisitKey};
use crate::error::Result;
use crate::record::appointments::{self, AppointmentView};
use crate::record::plan::VisitPriority;
use crate::record::policy::Action;
use crate::record::schedule::{self, Exceptions, PlanVisit, ScheduledVisit};
use crate::record::task::{CareTask, TaskInput, TaskStatus, TaskStatusChange, TaskView};
use crate::record::{
    AdviceRecord, AppointmentInput, Attendance, AttendanceResult, Compartment, ContactType,
    OutreachAppointment, VenueKind,
};
use crate::store::{now, FieldStore};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Book an outreach appointment with the client, at home or at a community venue (a
    /// second attempt after a missed one names it in `follows`).
    pub fn book_outreach_appointment(
        &self,
        person_id: &str,
        input: AppointmentInput,
    ) -> Result<OutreachAppointment> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            appointments::book_appointment(doc, a, input)
        })
    }

    /// Record what happened at an appointment. A did-not-attend raises the case worker's
    /// follow-up or, at the last attempt, closes the case with the reason (in the same change).
    pub fn record_appointment_attendance(
        &self,
        person_id: &str,
        appointment_id: &str,
        attendance: Attendance,
        reason: Option<String>,
    ) -> Result<AttendanceResult> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            appointments::record_attendance(doc, a, appointment_id, attendance, reason)
        })
    }

    /// Add a follow-up of the client's case (a call back, a form to chase), due on a day.
    pub fn add_advice_follow_up(&self, person_id: &str, input: TaskInput) -> Result<CareTask> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            appointments::add_follow_up(doc, a, input)
        })
    }

    /// Move a follow-up on: ready, in progress, completed, or cancelled (the reason in `note`).
    pub fn set_advice_follow_up_status(
        &self,
        person_id: &str,
        task_id: &str,
        status: TaskStatus,
        note: Option<String>,
    ) -> Result<TaskStatusChange> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            appointments::set_follow_up_status(doc, a, task_id, status, note)
        })
    }

    /// The client's outreach appointments, earliest first, each with its outcome.
    pub fn outreach_appointments(&self, person_id: &str) -> Result<Vec<AppointmentView>> {
        self.allow(Action::Read(Compartment::Advice))?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT body FROM advice_appointments WHERE person_id = ?1 ORDER BY starts_at, appointment_id",
        )?;
        let rows = stmt
            .query_map([person_id], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|b| Ok(serde_json::from_str(b)?)).collect()
    }

    /// The case worker's list for a London day: her appointments (or the team's), in time and
    /// travel order, with their outcomes, and the open follow-ups due by that day.
    pub fn advice_today_list(&self, query: DayQuery) -> Result<TodayList> {
        self.advice_today_list_at(query, now())
    }

    /// Follow-ups of the signed-in case worker (hers or her role's) or the team, with status
    /// and overdue worked out for `day`; closed ones only with `include_closed`. By due date.
    pub fn advice_follow_ups(
        &self,
        day: NaiveDate,
        scope: DayScope,
        include_closed: bool,
    ) -> Result<Vec<TaskView>> {
        self.allow(Action::Read(Compartment::Advice))?;
        let conn = self.reader()?;
        let all = follow_ups(&conn, None, day)?;
        Ok(all
            .into_iter()
            .filter(|t| scope == DayScope::Team || t.task.assignee.includes(&self.config.user))
            .filter(|t| include_closed || t.status.is_open())
            .collect())
    }
}

impl FieldStore {
    /// [`FieldStore::advice_today_list`] at a given instant (tests and benchmarks).
    pub fn advice_today_list_at(&self, query: DayQuery, now: DateTime<Utc>) -> Result<TodayList> {
        self.allow(Action::Read(Compartment::Advice))?;
        let conn = self.reader()?;
        let user = &self.config.user;
        let mut people = PeopleInfo::default();
        people.load(&conn)?;
        let views: Vec<AppointmentView> = day_appointments(&conn, query.day)?
            .into_iter()
            .filter(|v| query.scope == DayScope::Team || v.appointment.case_worker_id == user.id)
            .collect();
        let away: HashSet<VisitKey> = views
            .iter()
            .filter(|v| v.appointment.venue.kind != VenueKind::Home)
            .map(|v| VisitKey {
                person_id: v.person_id.clone(),
                visit_ref: v.appointment.id.clone(),
            })
            .collect();
        let scheduled: Vec<ScheduledVisit> =
            views.iter().map(|v| scheduled(v, query.day, now)).collect();
        let postcode = |v: &ScheduledVisit| {
            let k = VisitKey {
                person_id: v.visit.person_id.clone(),
                visit_ref: v.visit.visit_ref.clone(),
            };
            if away.contains(&k) {
                return None;
            }
            people
                .people
                .get(&v.visit.person_id)
                .and_then(|p| p.postcode.clone())
        };
        let mut visits = super::ordered_list(
            scheduled,
            query.base_postcode.clone(),
            &[],
            &people,
            &postcode,
        );
        for d in &mut visits {
            let Some(v) = views
                .iter()
                .find(|v| v.person_id == d.person_id && v.appointment.id == d.visit_ref)
            else {
                continue;
            };
            let venue = v.appointment.venue.clone();
            if venue.kind != VenueKind::Home {
                d.address = venue.name.clone();
                d.postcode = None;
                d.access_notes = None;
            }
            d.venue = Some(venue);
        }
        let mut list = super::list_of(&query, visits);
        list.follow_ups = follow_ups(&conn, Some(query.day), query.day)?
            .into_iter()
            .filter(|t| t.status.is_open())
            .filter(|t| query.scope == DayScope::Team || t.task.assignee.includes(user))
            .collect();
        Ok(list)
    }
}

/// An appointment as the day list's schedule has it.
fn scheduled(v: &AppointmentView, day: NaiveDate, now: DateTime<Utc>) -> ScheduledVisit {
    let a = &v.appointment;
    ScheduledVisit {
        visit: PlanVisit {
            person_id: v.person_id.clone(),
            visit_ref: a.id.clone(),
            date: day,
            start: a.starts_at,
            end: a.ends_at(),
            interventions: Vec::new(),
            clinician: Some(a.case_worker_id.clone()),
            contact_type: ContactType::HomeVisit,
            planned_visit_id: None,
        },
        origin_date: day,
        priority: VisitPriority::Routine,
        priority_overridden: false,
        assignee: Some(a.case_worker_id.clone()),
        status: v.status(now),
        status_reason: v.status_reason(),
        exceptions: Exceptions {
            in_conflict: v.in_conflict,
            ..Default::default()
        },
    }
}

fn day_appointments(conn: &Connection, day: NaiveDate) -> Result<Vec<AppointmentView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT body FROM advice_appointments WHERE day = ?1 ORDER BY starts_at, person_id",
    )?;
    let rows = stmt
        .query_map([day.to_string()], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter().map(|b| Ok(serde_json::from_str(b)?)).collect()
}

/// Follow-ups (due by `due_by`, or all), status worked out for `day`, by due date.
fn follow_ups(
    conn: &Connection,
    due_by: Option<NaiveDate>,
    day: NaiveDate,
) -> Result<Vec<TaskView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person_id, body, history FROM advice_tasks WHERE ?1 IS NULL OR due <= ?1
         ORDER BY due, person_id, task_id",
    )?;
    let rows = stmt
        .query_map([due_by.map(|d| d.to_string())], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (person, body, history) in rows {
        let t: CareTask = serde_json::from_str(&body)?;
        let h: Vec<TaskStatusChange> = serde_json::from_str(&history)?;
        out.push(TaskView::of(&person, t, h, day));
    }
    Ok(out)
}

// ---------------------------------------------------------------- projections

/// The tables of the advice day's projections (for purge, wipe and rebuild).
pub(in crate::store) const TABLES: [&str; 2] = ["advice_appointments", "advice_tasks"];

pub(in crate::store) fn delete_rows(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    for t in TABLES {
        tx.prepare_cached(&format!("DELETE FROM {t} WHERE person_id = ?1"))?
            .execute([person_id])?;
    }
    Ok(())
}

/// Re-derive the person's appointment and follow-up rows from their advice record.
pub(in crate::store) fn replace_rows(
    tx: &Transaction<'_>,
    person_id: &str,
    r: &AdviceRecord,
) -> Result<()> {
    delete_rows(tx, person_id)?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO advice_appointments (person_id, appointment_id, day, starts_at, case_worker, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for v in appointments::appointments(person_id, r) {
        let a = &v.appointment;
        ins.execute(params![
            person_id,
            a.id,
            schedule::local_date(a.starts_at).to_string(),
            a.starts_at.timestamp_millis(),
            a.case_worker_id,
            serde_json::to_string(&v)?
        ])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT INTO advice_tasks (person_id, task_id, due, body, history) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let eie = |id: &str| r.entered_in_error.iter().any(|m| m.entry_id == id);
    for t in r.tasks.iter().filter(|t| !eie(&t.id)) {
        let history: Vec<&TaskStatusChange> = r
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
    Ok(())
}

#[cfg(test)]
mod tests;
