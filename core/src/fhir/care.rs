//! The care plan (UKCore-CarePlan: problems as UKCore-Condition, goals as Goal, interventions as
//! activities with their frequency as a Timing), tasks (UKCore-Task) and medication
//! administrations (UKCore-MedicationAdministration).

use serde_json::Value;

use super::obj::obj;

use super::bundle::{
    annotation, coding_concept, instant, meta, quantity, reference, snomed, Builder,
};
use super::{codes, text};
use crate::record::{
    CarePlanView, ClinicalRecord, DayOfWeek, DoseUnit, Frequency, GoalStatus,
    MedicationAdministration, PlanIntervention, Route, TaskAssignee, TaskStatus, TaskView,
};

pub(crate) fn care_plan(b: &mut Builder<'_>, plan: &CarePlanView) {
    let id = b.id("CarePlan", &[]);
    let condition =
        |b: &Builder<'_>, problem_id: &str| reference(&b.id("Condition", &[problem_id]));
    let goal = |b: &Builder<'_>, goal_id: &str| reference(&b.id("Goal", &[goal_id]));
    let active = plan.problems.iter().any(|p| p.active)
        || plan.goals.iter().any(|g| g.status == GoalStatus::Active);
    let activities: Vec<Value> = plan
        .interventions
        .iter()
        .map(|i| {
            let status = if b.entered_in_error(&i.id).is_some() {
                "entered-in-error"
            } else if i.active {
                "in-progress"
            } else {
                "stopped"
            };
            let performer = i.clinician.as_deref().map(|u| obj!([b.person_reference(u, u)]));
            obj!({"detail": {
                "code": {"text": i.kind.label()},
                "goal": plan.goals.iter().any(|g| g.id == i.goal_id).then(|| obj!([goal(b, &i.goal_id)])),
                "status": status,
                "scheduledTiming": timing(i),
                "performer": performer,
                "description": text::string(&format!(
                    "{} ({}, {}{})",
                    i.description,
                    i.frequency.describe(),
                    i.contact_type.label(),
                    window(i)
                )),
            }})
        })
        .collect();
    let note = plan
        .review_date
        .map(|d| obj!([{"text": format!("Care plan review due {d}.")}]));
    let in_conflict = !plan.in_conflict.is_empty();
    let r = obj!({
        "resourceType": "CarePlan",
        "id": id.as_str(),
        "meta": super::bundle::meta_tagged("UKCore-CarePlan", in_conflict),
        "status": if active { "active" } else { "completed" },
        "intent": "plan",
        "title": "Community nursing care plan",
        "subject": b.patient.clone(),
        "addresses": plan.problems.iter().map(|p| condition(b, &p.id)).collect::<Vec<_>>(),
        "goal": plan.goals.iter().map(|g| goal(b, &g.id)).collect::<Vec<_>>(),
        "activity": activities,
        "note": note,
    });
    b.add(r);
    for p in &plan.problems {
        let eie = b.entered_in_error(&p.id).is_some();
        let (status, display) = if p.active {
            ("active", "Active")
        } else {
            ("inactive", "Inactive")
        };
        let recorder = b.practitioner(&p.author);
        let r = obj!({
            "resourceType": "Condition",
            "id": b.id("Condition", &[&p.id]),
            "meta": super::bundle::meta_tagged("UKCore-Condition", plan.in_conflict.contains(&p.id)),
            "clinicalStatus": (!eie).then(|| coding_concept(codes::CONDITION_CLINICAL, status, display)),
            "verificationStatus": eie.then(|| coding_concept(codes::CONDITION_VERIFICATION, "entered-in-error", "Entered in Error")),
            "category": [coding_concept(codes::CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
            "code": {"text": text::string_or(&p.text, "problem")},
            "subject": b.patient.clone(),
            "recordedDate": instant(p.author.at),
            "recorder": recorder,
        });
        b.add_entry(&p.id, &p.author, vec![r]);
    }
    for g in &plan.goals {
        let (status, achievement) = if b.entered_in_error(&g.id).is_some() {
            ("entered-in-error", None)
        } else {
            match g.status {
                GoalStatus::Active => ("active", None),
                GoalStatus::Achieved => (
                    "completed",
                    Some(coding_concept(
                        "http://terminology.hl7.org/CodeSystem/goal-achievement",
                        "achieved",
                        "Achieved",
                    )),
                ),
                GoalStatus::Stopped => ("cancelled", None),
            }
        };
        let by = b.practitioner(&g.author);
        let r = obj!({
            "resourceType": "Goal",
            "id": b.id("Goal", &[&g.id]),
            // UK Core 2.0.0 has no Goal profile: base R4 Goal.
            "meta": super::bundle::conflict_tag(plan.in_conflict.contains(&g.id)),
            "lifecycleStatus": status,
            "achievementStatus": achievement,
            "description": {"text": text::string_or(&g.text, "goal")},
            "subject": b.patient.clone(),
            "target": g.target_date.map(|d| obj!([{"dueDate": d.to_string()}])),
            "expressedBy": by,
            "addresses": plan.problems.iter().any(|p| p.id == g.problem_id).then(|| obj!([condition(b, &g.problem_id)])),
        });
        b.add_entry(&g.id, &g.author, vec![r]);
    }
    for i in &plan.interventions {
        b.attribute(&i.id, &i.author, &id);
    }
}

fn window(i: &PlanIntervention) -> String {
    match (&i.window_start, &i.window_end) {
        (Some(s), Some(e)) => format!(", window {s}–{e}"),
        _ => String::new(),
    }
}

/// "HH:MM" as FHIR `time`, or `None` if it is not one.
fn time(t: &str) -> Option<String> {
    let ok = t.len() == 5
        && t.as_bytes()[2] == b':'
        && chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok();
    ok.then(|| format!("{t}:00"))
}

/// An intervention's frequency as a Timing (none for "as needed").
fn timing(i: &PlanIntervention) -> Option<Value> {
    let mut repeat = match &i.frequency {
        Frequency::DailyAt { times } => {
            let t: Vec<String> = times.iter().filter_map(|t| time(t)).collect();
            obj!({"frequency": t.len().max(1), "period": 1, "periodUnit": "d", "timeOfDay": t})
        }
        Frequency::TimesPerWeek { times } => {
            obj!({"frequency": *times, "period": 1, "periodUnit": "wk"})
        }
        Frequency::OnWeekdays { days } => {
            let d: Vec<&str> = days.iter().map(|d| day(*d)).collect();
            obj!({"dayOfWeek": d})
        }
        Frequency::EveryNDays { days } => {
            obj!({"frequency": 1, "period": *days, "periodUnit": "d"})
        }
        Frequency::AsNeeded => return None,
    };
    repeat["boundsPeriod"] = obj!({
        "start": i.starts_on.to_string(),
        "end": i.ends_on.map(|d| d.to_string()),
    });
    Some(obj!({"repeat": repeat}))
}

fn day(d: DayOfWeek) -> &'static str {
    match d {
        DayOfWeek::Monday => "mon",
        DayOfWeek::Tuesday => "tue",
        DayOfWeek::Wednesday => "wed",
        DayOfWeek::Thursday => "thu",
        DayOfWeek::Friday => "fri",
        DayOfWeek::Saturday => "sat",
        DayOfWeek::Sunday => "sun",
    }
}

// ---------------------------------------------------------------- tasks

pub(crate) fn tasks(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut tasks: Vec<_> = c.tasks.iter().collect();
    tasks.sort_by(|x, y| (x.author.at, &x.id).cmp(&(y.author.at, &y.id)));
    for t in tasks {
        let history: Vec<_> = c
            .task_status_changes
            .iter()
            .filter(|s| s.task_id == t.id)
            .cloned()
            .collect();
        // The status does not depend on the day ("overdue" does, and is not exported).
        let view = TaskView::of(b.person_id, t.clone(), history, t.due);
        let id = b.id("Task", &[&t.id]);
        let status = if b.entered_in_error(&t.id).is_some() {
            "entered-in-error"
        } else {
            match view.status {
                TaskStatus::Requested => "requested",
                TaskStatus::Ready => "ready",
                TaskStatus::InProgress => "in-progress",
                TaskStatus::Completed => "completed",
                TaskStatus::Cancelled => "cancelled",
            }
        };
        let owner = match &t.assignee {
            TaskAssignee::User {
                user_id,
                display_name,
            } => b.person_reference(user_id, display_name),
            TaskAssignee::Role { .. } => obj!({"display": t.assignee.describe()}),
        };
        let requester = b.practitioner(&t.author);
        let mut notes = Vec::new();
        for h in &view.history {
            let by = b.practitioner(&h.author);
            let words = match h.note.as_deref().and_then(text::string) {
                Some(n) => format!("{}: {n}", h.status.label()),
                None => h.status.label().to_string(),
            };
            notes.push(annotation(&words, Some(by), Some(h.author.at)));
        }
        let cancelled_reason = view
            .history
            .iter()
            .find(|h| h.status == TaskStatus::Cancelled)
            .and_then(|h| h.note.as_deref())
            .and_then(text::string);
        let r = obj!({
            "resourceType": "Task",
            "id": id.as_str(),
            "meta": meta("UKCore-Task"),
            "identifier": super::encounters::identifier(&t.id),
            "status": status,
            "statusReason": (view.status == TaskStatus::Cancelled).then(|| obj!({"text": cancelled_reason})),
            "intent": "order",
            "code": {"text": t.kind.label()},
            "description": text::string(&t.description),
            "for": b.patient.clone(),
            "authoredOn": instant(t.author.at),
            "lastModified": view.history.last().map(|h| instant(h.author.at)),
            "requester": requester,
            "owner": owner,
            "restriction": {"period": {"end": t.due.to_string()}},
            "note": notes,
        });
        b.add_entry(&t.id, &t.author, vec![r]);
        for h in &view.history {
            b.attribute(&h.id, &h.author, &id);
        }
    }
}

// ---------------------------------------------------------------- medication

pub(crate) fn medications(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut meds: Vec<&MedicationAdministration> = c.medications.iter().collect();
    meds.sort_by(|x, y| (x.at, &x.id).cmp(&(y.at, &y.id)));
    for m in meds {
        medication(b, c, m);
    }
}

fn route(r: Route) -> (&'static str, &'static str) {
    match r {
        Route::Oral => codes::ROUTE_ORAL,
        Route::Subcutaneous | Route::SyringeDriver => codes::ROUTE_SUBCUTANEOUS,
        Route::Intramuscular => codes::ROUTE_INTRAMUSCULAR,
        Route::Intravenous => codes::ROUTE_INTRAVENOUS,
        Route::Topical => codes::ROUTE_TOPICAL,
        Route::Inhaled => codes::ROUTE_INHALATION,
    }
}

/// `(unit text, UCUM code)` of a dose unit.
fn unit(u: DoseUnit) -> (&'static str, &'static str) {
    match u {
        DoseUnit::Milligrams => ("mg", "mg"),
        DoseUnit::Micrograms => ("microgram", "ug"),
        DoseUnit::Units => ("unit", "[iU]"),
        DoseUnit::Millilitres => ("mL", "mL"),
    }
}

fn medication(b: &mut Builder<'_>, c: &ClinicalRecord, m: &MedicationAdministration) {
    let status = if b.entered_in_error(&m.id).is_some() {
        "entered-in-error"
    } else if m.given {
        "completed"
    } else {
        "not-done"
    };
    let mut performers = vec![obj!({"actor": b.practitioner(&m.author)})];
    if let Some(w) = &m.witness {
        let who = b.person_reference(&w.user_id, &w.display_name);
        performers.push(obj!({
            "function": coding_concept(codes::MED_ADMIN_FUNCTION, "witness", "Witness"),
            "actor": who,
        }));
    }
    let by = b.practitioner(&m.author);
    let mut notes = Vec::new();
    if m.controlled_drug {
        notes.push(annotation(
            "Controlled drug (Schedule 2 or 3), witnessed.",
            Some(by.clone()),
            Some(m.at),
        ));
    }
    if let Some(d) = &m.syringe_driver {
        notes.push(annotation(
            &format!(
                "Syringe driver check: rate {} ml/h, {} ml remaining, site {} ({}).",
                d.rate_ml_per_hour,
                d.volume_remaining_ml,
                text::string_or(&d.site, "not given"),
                if d.site_ok {
                    "satisfactory"
                } else {
                    "NOT satisfactory"
                }
            ),
            Some(by.clone()),
            Some(m.at),
        ));
    }
    if let Some(n) = m.note.as_deref() {
        notes.push(annotation(n, Some(by.clone()), Some(m.at)));
    }
    let (unit_text, ucum) = unit(m.unit);
    let rate = m
        .syringe_driver
        .as_ref()
        .and_then(|d| quantity(d.rate_ml_per_hour, "mL/h", "mL/h"));
    let r = obj!({
        "resourceType": "MedicationAdministration",
        "id": b.id("MedicationAdministration", &[&m.id]),
        "meta": meta("UKCore-MedicationAdministration"),
        "identifier": super::encounters::identifier(&m.id),
        "status": status,
        "statusReason": (!m.given).then(|| obj!([{"text": m.not_given_reason.as_deref().and_then(text::string)
            .unwrap_or_else(|| "not given".into())}])),
        "medicationCodeableConcept": {"text": text::string_or(&m.drug, "medication")},
        "subject": b.patient.clone(),
        "context": super::encounters::encounter_of(b, c, m.visit_id.as_deref()),
        "effectiveDateTime": instant(m.at),
        "performer": performers,
        "note": notes,
        "dosage": {
            "text": text::string(&format!("{} {} {}", m.dose, m.unit.label(), m.route.label())),
            "route": {"coding": [snomed(route(m.route))], "text": m.route.label()},
            "dose": quantity(m.dose, unit_text, ucum),
            "rateQuantity": rate,
        },
    });
    b.add_entry(&m.id, &m.author, vec![r]);
}
