//! The advice compartment, exported only where the access policy lets the reader see it (an
//! advice worker; a clinician where the person consents to share): needs as UKCore-Condition
//! (a problem-list item "Advice need (<category>): …"), actions as UKCore-Procedure, outcomes as UKCore-Observation of
//! the financial gain (GBP), consent as UKCore-Consent.

use super::obj::obj;

use super::bundle::{annotation, coding_concept, instant, meta, reference, Builder};
use super::{codes, text};
use crate::record::{AdviceCategory, AdviceRecord};

fn category(c: AdviceCategory) -> &'static str {
    c.code()
}

pub(crate) fn advice(b: &mut Builder<'_>, a: &AdviceRecord) {
    let mut needs: Vec<_> = a.needs.iter().collect();
    needs.sort_by(|x, y| (x.author.at, &x.id).cmp(&(y.author.at, &y.id)));
    let need_ref = |b: &Builder<'_>, id: &str| {
        a.needs
            .iter()
            .any(|n| n.id == id)
            .then(|| reference(&b.id("Condition", &[id])))
    };
    for n in needs {
        let eie = b.entered_in_error(&n.id).is_some();
        let recorder = b.practitioner(&n.author);
        let r = obj!({
            "resourceType": "Condition",
            "id": b.id("Condition", &[&n.id]),
            "meta": meta("UKCore-Condition"),
            "clinicalStatus": (!eie).then(|| coding_concept(codes::CONDITION_CLINICAL, "active", "Active")),
            "verificationStatus": eie.then(|| coding_concept(codes::CONDITION_VERIFICATION, "entered-in-error", "Entered in Error")),
            // R4's condition-category has only problem-list-item and encounter-diagnosis.
            "category": [coding_concept(codes::CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
            "code": {"text": format!("Advice need ({}): {}", category(n.category), text::string_or(&n.description, "no description"))},
            "subject": b.patient.clone(),
            "recordedDate": instant(n.author.at),
            "recorder": recorder,
        });
        b.add_entry(&n.id, &n.author, vec![r]);
    }
    let mut actions: Vec<_> = a.actions.iter().collect();
    actions.sort_by(|x, y| (x.author.at, &x.id).cmp(&(y.author.at, &y.id)));
    for act in actions {
        let eie = b.entered_in_error(&act.id).is_some();
        let who = b.practitioner(&act.author);
        let r = obj!({
            "resourceType": "Procedure",
            "id": b.id("Procedure", &[&act.id]),
            "meta": meta("UKCore-Procedure"),
            "status": if eie { "entered-in-error" } else { "completed" },
            "category": {"text": "Advice action"},
            "code": {"text": text::string_or(&act.description, "advice action")},
            "subject": b.patient.clone(),
            "performedDateTime": instant(act.author.at),
            "performer": [{"actor": who}],
            "reasonReference": need_ref(b, &act.need_id).map(|r| obj!([r])),
        });
        b.add_entry(&act.id, &act.author, vec![r]);
    }
    let mut outcomes: Vec<_> = a.outcomes.iter().collect();
    outcomes.sort_by(|x, y| (x.author.at, &x.id).cmp(&(y.author.at, &y.id)));
    for o in outcomes {
        let eie = b.entered_in_error(&o.id).is_some();
        let who = b.practitioner(&o.author);
        // Whole pence as pounds: exact for every amount a person can gain (|p| < 2^53).
        let pounds = o.financial_gain_pence as f64 / 100.0;
        let r = obj!({
            "resourceType": "Observation",
            "id": b.id("Observation", &[&o.id]),
            "meta": meta("UKCore-Observation"),
            "status": if eie { "entered-in-error" } else { "final" },
            "category": [coding_concept(codes::OBSERVATION_CATEGORY, "social-history", "Social History")],
            "code": {"text": "Advice outcome: financial gain"},
            "subject": b.patient.clone(),
            "focus": need_ref(b, &o.need_id).map(|r| obj!([r])),
            "effectiveDateTime": instant(o.author.at),
            "performer": [who.clone()],
            "valueQuantity": {"value": super::bundle::number(pounds), "unit": "GBP", "system": codes::ISO_4217, "code": "GBP"},
            "note": annotation(&o.description, Some(who), Some(o.author.at)).map(|n| obj!([n])),
        });
        b.add_entry(&o.id, &o.author, vec![r]);
    }
    if let Some(c) = &a.consent_to_share {
        let entry = format!("consent:{}", c.author.at.timestamp_millis());
        let performer = b.practitioner(&c.author);
        let r = obj!({
            "resourceType": "Consent",
            "id": b.id("Consent", &["consent-to-share"]),
            "meta": meta("UKCore-Consent"),
            "status": "active",
            "scope": coding_concept(codes::CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
            "category": [coding_concept(codes::ACT_CODE, "INFA", "information access")],
            "patient": b.patient.clone(),
            "dateTime": instant(c.author.at),
            "performer": [b.patient.clone(), performer],
            "policyRule": {"text": "Sharing between the person's health team and their advice service (Doorstep consent to share)"},
            "provision": {"type": if c.consented { "permit" } else { "deny" }},
        });
        b.add_entry(&entry, &c.author, vec![r]);
    }
}
