//! UKCore-Patient from the demographics compartment (and the access notes as an admin Flag).

use serde_json::Value;

use super::obj::obj;

use super::bundle::{coding, coding_concept, meta, Builder};
use super::{codes, text, Source};

pub(crate) fn patient(b: &mut Builder<'_>, source: &Source<'_>) {
    let p = resource(b, source);
    b.add(p);
    let notes = source
        .demographics
        .and_then(|d| d.access_notes.as_deref())
        .and_then(text::string);
    if let Some(notes) = notes {
        let flag = obj!({
            "resourceType": "Flag",
            "id": b.id("Flag", &["access-notes"]),
            "meta": meta("UKCore-Flag"),
            "status": "active",
            "category": [coding_concept(codes::FLAG_CATEGORY, "admin", "Administrative")],
            "code": {"text": format!("Access to the home: {notes}")},
            "subject": b.patient.clone(),
        });
        b.add(flag);
    }
}

/// The Patient resource alone (a search answers with it, `bundle::patient_resource`).
pub(crate) fn resource(b: &mut Builder<'_>, source: &Source<'_>) -> Value {
    let id = b.id("Patient", &[]);
    let mut p = obj!({
        "resourceType": "Patient",
        "id": id,
        "meta": meta("UKCore-Patient"),
    });
    let Some(d) = source.demographics else {
        return p;
    };
    if let Some(n) = d.nhs_number.as_deref().and_then(text::string) {
        // Doorstep checks an NHS number's Modulus 11 digit but never traces it against PDS:
        // a number is "verified" only as a GP summary gave it, and only while it is unchanged.
        let (code, display) = if d.nhs_number_verified_now() {
            ("01", "Number present and verified")
        } else {
            ("02", "Number present but not traced")
        };
        p["identifier"] = obj!([{
            "extension": [{
                "url": codes::NHS_NUMBER_VERIFICATION_EXT,
                "valueCodeableConcept": coding_concept(codes::NHS_NUMBER_VERIFICATION, code, display),
            }],
            "system": codes::NHS_NUMBER,
            "value": n,
        }]);
    }
    let mut names = vec![obj!({
        "use": "official",
        "family": text::string(&d.family_name),
        "given": [text::string(&d.given_name)],
    })];
    if let Some(pref) = d.preferred_name.as_deref().and_then(text::string) {
        names.push(obj!({"use": "usual", "given": [pref]}));
    }
    p["name"] = obj!(names);
    if let Some(phone) = d.phone.as_deref().and_then(text::string) {
        p["telecom"] = obj!([{"system": "phone", "value": phone, "use": "home"}]);
    }
    if let Some(dob) = d.date_of_birth {
        p["birthDate"] = obj!(dob.to_string());
    }
    if let Some(a) = &d.address {
        let lines: Vec<String> = a.lines.iter().filter_map(|l| text::string(l)).collect();
        p["address"] = obj!([{
            "use": "home",
            "line": lines,
            "postalCode": text::string(&a.postcode),
        }]);
    }
    if let Some(e) = d.ethnic_category {
        p["extension"] = obj!([{
            "url": codes::ETHNIC_CATEGORY_EXT,
            "valueCodeableConcept": coding_concept(
                codes::ETHNIC_CATEGORY_ENGLAND, e.code(), e.label()),
        }]);
    }
    if let Some(g) = d.stated_gender {
        p["gender"] = obj!(administrative_gender(g));
    }
    let gp_name = d.gp_practice.as_deref().and_then(text::string);
    match (d.gp_practice_ods.as_deref(), gp_name) {
        (Some(ods), name) => {
            p["generalPractitioner"] = obj!([{
                "type": "Organization",
                "identifier": {"system": codes::ODS_ORGANISATION, "value": ods},
                "display": name,
            }]);
        }
        // A name typed by the nurse, not an ODS code: a reference by display only.
        (None, Some(gp)) => p["generalPractitioner"] = obj!([{"display": gp}]),
        (None, None) => {}
    }
    let mut contacts = Vec::new();
    if let Some(c) = &d.next_of_kin {
        contacts.push(contact(
            c,
            Some(coding(codes::V2_RELATIONSHIP, "N", "Next-of-Kin")),
            "next of kin",
        ));
    }
    if let Some(c) = &d.carer {
        contacts.push(contact(c, None, "carer"));
    }
    p["contact"] = obj!(contacts);
    p
}

/// Patient.gender from the stated gender, as the Data Dictionary's codes map to FHIR's
/// administrative gender (1 male, 2 female, 9 other, X unknown).
fn administrative_gender(g: crate::record::StatedGender) -> &'static str {
    use crate::record::StatedGender::*;
    match g {
        Male => "male",
        Female => "female",
        Indeterminate => "other",
        NotKnown => "unknown",
    }
}

fn contact(c: &crate::record::Contact, code: Option<Value>, role: &str) -> Value {
    let words = match c.relationship.as_deref().and_then(text::string) {
        Some(r) => format!("{role} ({r})"),
        None => role.to_string(),
    };
    let relationship = obj!([{"coding": code.map(|c| vec![c]), "text": words}]);
    obj!({
        "relationship": relationship,
        "name": {"text": text::string(&c.name)},
        "telecom": c.phone.as_deref().and_then(text::string).map(|p| obj!([{"system": "phone", "value": p}])),
    })
}
