//! Contacts: UKCore-EpisodeOfCare per episode, UKCore-Encounter per visit (and per booked visit
//! no visit fulfils, as `planned`), UKCore-Procedure per intervention done at a visit, and a
//! ClinicalImpression per note (a visit's own note and the record's notes).

use serde_json::Value;

use super::obj::obj;

use super::bundle::{coding, instant, meta, narrative, reference, snomed, text_concept, Builder};
use super::{codes, text};
use crate::record::{
    ClinicalRecord, ContactType, Episode, Intervention, Service, VirtualWardPathway, Visit,
    VisitOutcome,
};

pub(crate) fn episodes(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut episodes: Vec<&Episode> = c.episodes.iter().collect();
    episodes.sort_by(|x, y| (x.accepted_on, &x.id).cmp(&(y.accepted_on, &y.id)));
    for e in episodes {
        let status = if b.entered_in_error(&e.id).is_some() {
            "entered-in-error"
        } else if e.discharged_on.is_some() {
            "finished"
        } else {
            "active"
        };
        let service = service(e.service);
        let r = obj!({
            "resourceType": "EpisodeOfCare",
            "id": b.id("EpisodeOfCare", &[&e.id]),
            "meta": meta("UKCore-EpisodeOfCare"),
            "text": narrative(&format!(
                "{service}: referred by {} for {}; accepted {}{}.",
                text::string_or(&e.referral_source, "(not given)"),
                text::string_or(&e.referral_reason, "(not given)"),
                e.accepted_on,
                e.discharged_on.map(|d| format!(", discharged {d}")).unwrap_or_default()
            )),
            "identifier": identifier(&e.id),
            "status": status,
            "type": [{"text": service}],
            "patient": b.patient.clone(),
            "period": {
                "start": e.accepted_on.to_string(),
                "end": e.discharged_on.map(|d| d.to_string()),
            },
        });
        b.add_entry(&e.id, &e.author, vec![r]);
    }
}

fn service(s: Service) -> String {
    match s {
        Service::DistrictNursing => "District nursing".into(),
        Service::VirtualWard(p) => format!(
            "Virtual ward ({})",
            match p {
                VirtualWardPathway::Frailty => "frailty",
                VirtualWardPathway::Copd => "COPD",
                VirtualWardPathway::HeartFailure => "heart failure",
                VirtualWardPathway::Other => "other pathway",
            }
        ),
    }
}

/// `[{system: RFC 4122, value: <entry id>}]` for an entry id that is a UUID, else nothing.
pub(crate) fn identifier(entry_id: &str) -> Option<Value> {
    super::ids::is_uuid(entry_id)
        .then(|| obj!([{"system": codes::URI, "value": format!("urn:uuid:{entry_id}")}]))
}

fn class(t: ContactType) -> Value {
    let (code, display) = match t {
        ContactType::HomeVisit => codes::CLASS_HOME,
        ContactType::Telephone | ContactType::Video => codes::CLASS_VIRTUAL,
    };
    coding(codes::ACT_CODE, code, display)
}

pub(crate) fn planned_visits(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut planned: Vec<_> = c
        .planned_visits
        .iter()
        // A booked visit that a visit fulfils is that visit's Encounter.
        .filter(|p| {
            !c.visits
                .iter()
                .any(|v| v.planned_visit_id.as_deref() == Some(p.id.as_str()))
        })
        .collect();
    planned.sort_by(|x, y| (x.planned_start, &x.id).cmp(&(y.planned_start, &y.id)));
    for p in planned {
        let status = if b.entered_in_error(&p.id).is_some() {
            "entered-in-error"
        } else {
            "planned"
        };
        let participant = p.clinician.as_deref().map(|u| {
            let who = b.person_reference(u, u);
            obj!([{"individual": who}])
        });
        let r = obj!({
            "resourceType": "Encounter",
            "id": b.id("Encounter", &[&p.id]),
            "meta": meta("UKCore-Encounter"),
            "identifier": identifier(&p.id),
            "status": status,
            "class": class(p.contact_type),
            "type": [{"text": format!("{} (booked)", p.contact_type.label())}],
            "subject": b.patient.clone(),
            "participant": participant,
            "period": {
                "start": instant(p.planned_start),
                "end": p.planned_end.map(instant),
            },
            "reasonCode": p.purpose.as_deref().and_then(text::string).map(|t| obj!([{"text": t}])),
        });
        b.add_entry(&p.id, &p.author, vec![r]);
    }
}

/// The Encounter's reference for a visit id, if the record has that visit.
pub(crate) fn encounter_of(
    b: &Builder<'_>,
    c: &ClinicalRecord,
    visit_id: Option<&str>,
) -> Option<Value> {
    let v = visit_id?;
    c.visits
        .iter()
        .any(|x| x.id == v)
        .then(|| reference(&b.id("Encounter", &[v])))
}

pub(crate) fn visits(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut visits: Vec<&Visit> = c.visits.iter().collect();
    visits.sort_by(|x, y| (x.started_at, &x.id).cmp(&(y.started_at, &y.id)));
    for v in visits {
        visit(b, v);
    }
}

fn visit(b: &mut Builder<'_>, v: &Visit) {
    let eie = b.entered_in_error(&v.id).is_some();
    // A contact that did not take place (no access, declined, rescheduled) is `cancelled`;
    // which of them it was, and why, is the narrative (R4's Encounter has no element for it).
    let status = match (eie, v.outcome) {
        (true, _) => "entered-in-error",
        (false, VisitOutcome::Completed) => "finished",
        (false, _) => "cancelled",
    };
    let encounter_type = match (v.outcome, v.contact_type) {
        (VisitOutcome::Completed, ContactType::HomeVisit) => {
            obj!({"coding": [snomed(codes::SEEN_IN_OWN_HOME)], "text": "home visit"})
        }
        (VisitOutcome::Completed, ContactType::Telephone) => {
            obj!({"coding": [snomed(codes::TELEPHONE_ENCOUNTER)], "text": "telephone contact"})
        }
        (VisitOutcome::Completed, ContactType::Video) => {
            obj!({"coding": [snomed(codes::VIDEO_ENCOUNTER)], "text": "video contact"})
        }
        (o, t) => obj!({"text": format!("{} ({})", t.label(), o.label())}),
    };
    let mut words = format!("{}: {}", capital(v.contact_type.label()), v.outcome.label());
    if let Some(r) = v.outcome_reason.as_deref().and_then(text::string) {
        words.push_str(&format!(" — {r}"));
    }
    if !v.interventions.is_empty() {
        let list: Vec<String> = v.interventions.iter().map(Intervention::label).collect();
        words.push_str(&format!(". Interventions: {}", list.join(", ")));
    }
    words.push('.');
    let id = b.id("Encounter", &[&v.id]);
    let who = b.practitioner(&v.author);
    let encounter = obj!({
        "resourceType": "Encounter",
        "id": id.as_str(),
        "meta": meta("UKCore-Encounter"),
        "text": narrative(&words),
        "identifier": identifier(&v.id),
        "status": status,
        "class": class(v.contact_type),
        "type": [encounter_type],
        "subject": b.patient.clone(),
        "participant": [{"individual": who.clone()}],
        "period": {
            "start": instant(v.started_at),
            "end": v.ended_at.map(instant),
        },
    });
    let mut resources = vec![encounter];
    let procedure_status = if eie { "entered-in-error" } else { "completed" };
    if v.outcome == VisitOutcome::Completed || eie {
        for (i, iv) in v.interventions.iter().enumerate() {
            let label = iv.label();
            resources.push(procedure(
                b,
                &v.id,
                &format!("intervention-{i}"),
                procedure_status,
                &label,
                v,
                &who,
                None,
            ));
        }
        for done in &v.interventions_done {
            let desc = b.plan_intervention(done).unwrap_or_else(|| done.clone());
            let plan = b.care_plan_reference();
            resources.push(procedure(
                b,
                &v.id,
                &format!("plan-{done}"),
                procedure_status,
                &desc,
                v,
                &who,
                plan,
            ));
        }
    }
    if let Some(note) = v.note.as_deref().and_then(text::string) {
        resources.push(impression(
            b,
            &v.id,
            "visit-note",
            eie,
            &note,
            Some(reference(&id)),
            v.started_at,
            who,
        ));
    }
    b.add_entry(&v.id, &v.author, resources);
}

#[allow(clippy::too_many_arguments)]
fn procedure(
    b: &Builder<'_>,
    visit_id: &str,
    part: &str,
    status: &str,
    what: &str,
    v: &Visit,
    who: &Value,
    based_on: Option<Value>,
) -> Value {
    obj!({
        "resourceType": "Procedure",
        "id": b.id("Procedure", &[visit_id, part]),
        "meta": meta("UKCore-Procedure"),
        "basedOn": based_on.map(|p| obj!([p])),
        "status": status,
        "code": text_concept(what, "intervention"),
        "subject": b.patient.clone(),
        "encounter": reference(&b.id("Encounter", &[visit_id])),
        "performedPeriod": {"start": instant(v.started_at), "end": v.ended_at.map(instant)},
        "performer": [{"actor": who.clone()}],
    })
}

#[allow(clippy::too_many_arguments)]
fn impression(
    b: &Builder<'_>,
    entry_id: &str,
    part: &str,
    entered_in_error: bool,
    note: &str,
    encounter: Option<Value>,
    at: chrono::DateTime<chrono::Utc>,
    who: Value,
) -> Value {
    obj!({
        "resourceType": "ClinicalImpression",
        "id": b.id("ClinicalImpression", &[entry_id, part]),
        "status": if entered_in_error { "entered-in-error" } else { "completed" },
        "code": {"text": "Clinical note"},
        "subject": b.patient.clone(),
        "encounter": encounter,
        "date": instant(at),
        "assessor": who,
        "summary": note,
    })
}

pub(crate) fn notes(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut notes: Vec<_> = c.notes.iter().collect();
    notes.sort_by(|x, y| (x.author.at, &x.id).cmp(&(y.author.at, &y.id)));
    for n in notes {
        let Some(t) = text::string(&n.text) else {
            continue;
        };
        let eie = b.entered_in_error(&n.id).is_some();
        let who = b.practitioner(&n.author);
        let enc = encounter_of(b, c, n.visit_id.as_deref());
        let r = impression(b, &n.id, "note", eie, &t, enc, n.author.at, who);
        b.add_entry(&n.id, &n.author, vec![r]);
    }
}

fn capital(s: &str) -> String {
    super::alerts::capitalise(s)
}
