//! The rows of the extract and how each is read from the record (docs/interop.md, "CSDS
//! extract", has the field-by-field mapping and the Data Dictionary codes).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveTime, Utc};

use super::{CsdsPerson, CsdsTeam, ReportMonth};
use crate::record::schedule::{instant, local_date, parse_plan_ref, LONDON};
use crate::record::{ContactType, Episode, Intervention, Visit, VisitOutcome};

/// CYP001/CYP002-like: who the person is, for the month's other rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub local_patient_id: String,
    pub nhs_number: String,
    /// NHS NUMBER STATUS INDICATOR CODE: "01" (present and verified) for a number a GP summary
    /// gave as traced and unchanged since, else "02" (present but not traced); blank without a
    /// number.
    pub nhs_number_status: String,
    pub birth_date: String,
    pub postcode: String,
    /// PERSON STATED GENDER CODE ("1", "2", "9", "X"); blank when never recorded.
    pub stated_gender: String,
    /// ETHNIC CATEGORY ("A" … "S", "Z", "99"); blank when never recorded.
    pub ethnic_category: String,
    /// GENERAL MEDICAL PRACTICE CODE (PATIENT REGISTRATION); blank when not recorded.
    pub gp_practice: String,
}

/// CYP101-like: an episode of care (a referral accepted by the team) open during the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRow {
    pub service_request_id: String,
    pub local_patient_id: String,
    pub provider: String,
    pub service_type: String,
    /// REFERRAL REQUEST RECEIVED DATE: the record holds the day the referral was accepted.
    pub received_date: String,
    /// The referral's source as recorded (free text): SOURCE OF REFERRAL FOR COMMUNITY is blank.
    pub source_text: String,
    /// The primary reason as recorded (free text): its code column is blank.
    pub reason_text: String,
    /// SERVICE DISCHARGE DATE, when it is on or before the month's last day.
    pub discharge_date: String,
}

/// CYP201-like: a care contact (a visit that was recorded, or a scheduled visit the service
/// cancelled) in the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub care_contact_id: String,
    pub local_patient_id: String,
    /// The episode the contact belongs to: the team's episode open on the contact's day.
    pub service_request_id: String,
    pub care_professional: String,
    pub contact_date: String,
    pub contact_time: String,
    /// CLINICAL CONTACT DURATION OF CARE CONTACT, whole minutes; blank without an end time or
    /// when the contact did not take place.
    pub duration_minutes: String,
    /// CONSULTATION MEDIUM USED: "01" face to face, "02" telephone, "11" video consultation.
    pub consultation_medium: String,
    /// ACTIVITY LOCATION TYPE CODE: "A01" (patient's home) for a home visit; blank for a remote
    /// contact, whose location the record does not hold.
    pub location_type: String,
    /// ATTENDED OR DID NOT ATTEND: "5" seen, "3" did not attend (no access), "2" cancelled by
    /// the patient (declined), "4" cancelled or postponed by the provider.
    pub attended: String,
    /// What the visitor recorded (completed, no access, declined, rescheduled, cancelled by the
    /// service) and why, for the reader.
    pub outcome: String,
}

/// CYP202-like: a care activity done at a contact that took place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    pub care_activity_id: String,
    pub care_contact_id: String,
    pub local_patient_id: String,
    /// Doorstep's code for the activity (`wound_care`, `insulin`, …, `observations`,
    /// `medication_administration`, `other`): the record holds no SNOMED CT procedure code.
    pub activity_code: String,
    pub activity: String,
    /// CODED PROCEDURE (SNOMED CT): blank, never guessed (see `activity_code`).
    pub procedure_snomed: String,
}

pub(super) fn person(p: &CsdsPerson) -> PersonRow {
    let d = p.demographics.as_ref();
    let nhs_number = d.and_then(|d| d.nhs_number.clone()).unwrap_or_default();
    PersonRow {
        local_patient_id: p.person_id.clone(),
        nhs_number_status: match d {
            _ if nhs_number.is_empty() => "",
            Some(d) if d.nhs_number_verified_now() => "01",
            _ => "02",
        }
        .into(),
        nhs_number,
        birth_date: d
            .and_then(|d| d.date_of_birth)
            .map(|b| b.to_string())
            .unwrap_or_default(),
        postcode: d
            .and_then(|d| d.address.as_ref())
            .map(|a| a.postcode.clone())
            .unwrap_or_default(),
        stated_gender: d
            .and_then(|d| d.stated_gender)
            .map(|g| g.code().to_string())
            .unwrap_or_default(),
        ethnic_category: d
            .and_then(|d| d.ethnic_category)
            .map(|e| e.code().to_string())
            .unwrap_or_default(),
        gp_practice: d
            .and_then(|d| d.gp_practice_ods.clone())
            .unwrap_or_default(),
    }
}

/// The team's episodes of this person open at any time in the month.
fn team_episodes<'a>(team: &CsdsTeam, p: &'a CsdsPerson, month: ReportMonth) -> Vec<&'a Episode> {
    p.clinical
        .episodes
        .iter()
        .filter(|e| {
            team.staff.contains(&e.author.user_id)
                && !p.clinical.is_entered_in_error(&e.id)
                && e.accepted_on <= month.last_day()
                && e.discharged_on.is_none_or(|d| d >= month.first_day())
        })
        .collect()
}

pub(super) fn referrals(team: &CsdsTeam, p: &CsdsPerson, month: ReportMonth) -> Vec<ReferralRow> {
    let mut rows: Vec<ReferralRow> = team_episodes(team, p, month)
        .into_iter()
        .map(|e| ReferralRow {
            service_request_id: e.id.clone(),
            local_patient_id: p.person_id.clone(),
            provider: team.ods_code.clone().unwrap_or_default(),
            service_type: team.service_type.clone().unwrap_or_default(),
            received_date: e.accepted_on.to_string(),
            source_text: e.referral_source.clone(),
            reason_text: e.referral_reason.clone(),
            discharge_date: e
                .discharged_on
                .filter(|d| *d <= month.last_day())
                .map(|d| d.to_string())
                .unwrap_or_default(),
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.received_date, &a.service_request_id).cmp(&(&b.received_date, &b.service_request_id))
    });
    rows
}

/// The contacts of the month (visits, then cancellations by the service) and the activities of
/// those that took place.
pub(super) fn contacts(
    team: &CsdsTeam,
    p: &CsdsPerson,
    month: ReportMonth,
) -> (Vec<ContactRow>, Vec<ActivityRow>) {
    let episodes = team_episodes(team, p, month);
    let mut contacts = Vec::new();
    let mut activities = Vec::new();
    let mut seen_refs = BTreeSet::new();
    for v in &p.clinical.visits {
        if let Some(r) = &v.scheduled_visit {
            seen_refs.insert(r.as_str());
        }
        if !team.staff.contains(&v.author.user_id)
            || p.clinical.is_entered_in_error(&v.id)
            || !month.contains(v.started_at)
        {
            continue;
        }
        let row = visit_contact(p, v, &episodes);
        if v.outcome == VisitOutcome::Completed {
            activities.extend(visit_activities(p, v));
        }
        contacts.push((v.started_at, row));
    }
    for c in &p.clinical.visit_exceptions.cancellations {
        if !team.staff.contains(&c.author.user_id) || seen_refs.contains(c.visit_ref.as_str()) {
            continue;
        }
        let Some(at) = scheduled_start(p, &c.visit_ref) else {
            continue;
        };
        if !month.contains(at) {
            continue;
        }
        let mut row = contact_row(p, &c.visit_ref, at, &episodes);
        row.care_contact_id = format!("cancelled:{}", c.visit_ref);
        row.care_professional = c.author.user_id.clone();
        row.attended = "4".into();
        row.outcome = format!("cancelled by the service: {}", c.reason);
        contacts.push((at, row));
    }
    contacts.sort_by(|a, b| (a.0, &a.1.care_contact_id).cmp(&(b.0, &b.1.care_contact_id)));
    (contacts.into_iter().map(|(_, r)| r).collect(), activities)
}

/// When a scheduled visit was due: a plan's visit ref carries its London date and time, a
/// booked visit its planned start.
fn scheduled_start(p: &CsdsPerson, visit_ref: &str) -> Option<DateTime<Utc>> {
    if let Some((date, time)) = parse_plan_ref(visit_ref) {
        return Some(instant(date, time));
    }
    p.clinical
        .planned_visits
        .iter()
        .find(|v| v.id == visit_ref)
        .map(|v| v.planned_start)
}

fn contact_row(p: &CsdsPerson, id: &str, at: DateTime<Utc>, episodes: &[&Episode]) -> ContactRow {
    let day = local_date(at);
    let episode = episodes
        .iter()
        .filter(|e| e.accepted_on <= day && e.discharged_on.is_none_or(|d| d >= day))
        .max_by_key(|e| (e.accepted_on, e.id.as_str()));
    ContactRow {
        care_contact_id: id.to_string(),
        local_patient_id: p.person_id.clone(),
        service_request_id: episode.map(|e| e.id.clone()).unwrap_or_default(),
        care_professional: String::new(),
        contact_date: day.to_string(),
        contact_time: local_time(at).format("%H:%M:%S").to_string(),
        duration_minutes: String::new(),
        consultation_medium: String::new(),
        location_type: String::new(),
        attended: String::new(),
        outcome: String::new(),
    }
}

fn local_time(t: DateTime<Utc>) -> NaiveTime {
    t.with_timezone(&LONDON).time()
}

fn visit_contact(p: &CsdsPerson, v: &Visit, episodes: &[&Episode]) -> ContactRow {
    let mut row = contact_row(p, &v.id, v.started_at, episodes);
    row.care_professional = v.author.user_id.clone();
    row.consultation_medium = match v.contact_type {
        ContactType::HomeVisit => "01",
        ContactType::Telephone => "02",
        ContactType::Video => "11",
    }
    .into();
    if v.contact_type == ContactType::HomeVisit {
        row.location_type = "A01".into();
    }
    row.attended = match v.outcome {
        VisitOutcome::Completed => "5",
        VisitOutcome::NoAccess => "3",
        VisitOutcome::Declined => "2",
        VisitOutcome::Rescheduled => "4",
    }
    .into();
    if v.outcome == VisitOutcome::Completed {
        row.duration_minutes = v
            .ended_at
            .filter(|end| *end >= v.started_at)
            .map(|end| ((end - v.started_at).num_seconds() as f64 / 60.0).round() as i64)
            .map(|m| m.to_string())
            .unwrap_or_default();
    }
    row.outcome = match &v.outcome_reason {
        Some(reason) => format!("{}: {reason}", v.outcome.label()),
        None => v.outcome.label().to_string(),
    };
    row
}

/// What was done at a visit that took place: its interventions (those ticked and the care
/// plan's done), the observations taken and the medications given, each once.
fn visit_activities(p: &CsdsPerson, v: &Visit) -> Vec<ActivityRow> {
    let mut done: Vec<(String, String)> = Vec::new();
    let mut push = |code: String, label: String| {
        if !done.iter().any(|(c, l)| *c == code && *l == label) {
            done.push((code, label));
        }
    };
    let planned = v.interventions_done.iter().filter_map(|id| {
        p.clinical
            .plan
            .interventions
            .iter()
            .find(|i| &i.id == id)
            .map(|i| &i.kind)
    });
    for i in v.interventions.iter().chain(planned) {
        push(intervention_code(i).to_string(), i.label());
    }
    if v.observations_id.is_some() {
        push("observations".into(), "observations (NEWS2)".into());
    }
    for m in &p.clinical.medications {
        let given = m.given && m.visit_id.as_deref() == Some(v.id.as_str());
        if given && !p.clinical.is_entered_in_error(&m.id) {
            push(
                "medication_administration".into(),
                format!("{} given", m.drug),
            );
        }
    }
    done.into_iter()
        .enumerate()
        .map(|(n, (code, label))| ActivityRow {
            care_activity_id: format!("{}:{}", v.id, n + 1),
            care_contact_id: v.id.clone(),
            local_patient_id: p.person_id.clone(),
            activity_code: code,
            activity: label,
            procedure_snomed: String::new(),
        })
        .collect()
}

fn intervention_code(i: &Intervention) -> &'static str {
    match i {
        Intervention::WoundCare => "wound_care",
        Intervention::Insulin => "insulin",
        Intervention::CatheterCare => "catheter_care",
        Intervention::MedicationPrompt => "medication_prompt",
        Intervention::Venepuncture => "venepuncture",
        Intervention::PalliativeCare => "palliative_care",
        Intervention::Other(_) => "other",
    }
}
