//! Alerts as UKCore-Flag, one per value, and the allergies alert also as UKCore-AllergyIntolerance.
//! An alert in conflict exports every concurrent value, each tagged `in-conflict` (and, as an
//! allergy, `unconfirmed`) until a clinician resolves it.

use serde_json::Value;

use super::obj::obj;

use super::bundle::{coding_concept, instant, meta_tagged, Builder};
use super::{codes, text};
use crate::record::{Alert, AlertKind, AlertValue, ClinicalRecord};

pub(crate) fn alerts(b: &mut Builder<'_>, c: &ClinicalRecord) {
    for alert in &c.alerts {
        for (i, v) in alert.values.iter().enumerate() {
            alert_value(b, alert, i, v);
        }
    }
}

/// The flag category of each kind of alert.
fn category(kind: AlertKind) -> (&'static str, &'static str) {
    match kind {
        AlertKind::Allergies => ("clinical", "Clinical"),
        AlertKind::Resuscitation => ("advance-directive", "Advance Directive"),
        AlertKind::Safeguarding => ("safety", "Safety"),
        AlertKind::RiskToStaff => ("safety", "Safety"),
        AlertKind::InfectionStatus => ("clinical", "Clinical"),
        AlertKind::Spo2Scale2 => ("clinical", "Clinical"),
    }
}

fn alert_value(b: &mut Builder<'_>, alert: &Alert, index: usize, v: &AlertValue) {
    let at = v.author.at.timestamp_millis().to_string();
    // An alert value has no entry id: it is named by its kind, author, device and time.
    let entry = format!(
        "alert:{}:{}:{}:{at}",
        alert.kind.as_str(),
        v.author.user_id,
        v.author.device_id
    );
    let conflict_words = if alert.in_conflict {
        format!(
            " [in conflict: value {} of {} recorded concurrently; a clinician must resolve it]",
            index + 1,
            alert.values.len()
        )
    } else {
        String::new()
    };
    let words = text::string_or(&v.text, "(no text)");
    let who = b.practitioner(&v.author);
    let (cat, cat_display) = category(alert.kind);
    let flag = obj!({
        "resourceType": "Flag",
        "id": b.id("Flag", &[&entry]),
        "meta": meta_tagged("UKCore-Flag", alert.in_conflict),
        "status": if v.active { "active" } else { "inactive" },
        "category": [coding_concept(codes::FLAG_CATEGORY, cat, cat_display)],
        "code": {"text": format!("{}: {words}{conflict_words}", capitalise(alert.kind.label()))},
        "subject": b.patient.clone(),
        "period": {"start": instant(v.author.at)},
        "author": who.clone(),
    });
    let mut resources = vec![flag];
    if alert.kind == AlertKind::Allergies {
        resources.push(allergy(b, alert, &entry, v, &words, who));
    }
    b.add_entry(&entry, &v.author, resources);
}

fn allergy(
    b: &Builder<'_>,
    alert: &Alert,
    entry: &str,
    v: &AlertValue,
    words: &str,
    recorder: Value,
) -> Value {
    let (status, status_display) = if v.active {
        ("active", "Active")
    } else {
        ("inactive", "Inactive")
    };
    obj!({
        "resourceType": "AllergyIntolerance",
        "id": b.id("AllergyIntolerance", &[entry]),
        "meta": meta_tagged("UKCore-AllergyIntolerance", alert.in_conflict),
        "clinicalStatus": coding_concept(codes::ALLERGY_CLINICAL, status, status_display),
        "verificationStatus": alert.in_conflict.then(|| coding_concept(
            codes::ALLERGY_VERIFICATION, "unconfirmed", "Unconfirmed")),
        // The alert is free text as the nurse wrote it ("Penicillin: anaphylaxis", "No known
        // drug allergies"): a coded allergy is for the GP record's import (issue 15 item 3).
        "code": {"text": words},
        "patient": b.patient.clone(),
        "recordedDate": instant(v.author.at),
        "recorder": recorder,
    })
}

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
