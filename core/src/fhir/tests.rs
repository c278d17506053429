//! The export's own rules, on real stores (the HAPI validator's verdict is in tests/tests/fhir.rs).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::record::*;
use crate::testing::{self, full_record, open};

fn resources(bundle: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(bundle).expect("json");
    assert_eq!(v["resourceType"], "Bundle");
    assert_eq!(v["type"], "collection");
    v["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let id = e["resource"]["id"].as_str().expect("id");
            assert_eq!(e["fullUrl"], format!("urn:uuid:{id}"));
            e["resource"].clone()
        })
        .collect()
}

fn of_type<'a>(rs: &'a [Value], t: &str) -> Vec<&'a Value> {
    rs.iter().filter(|r| r["resourceType"] == t).collect()
}

/// Every string in the tree (keys' values), for the control-character check.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn references<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("reference") {
                out.push(r);
            }
            m.values().for_each(|x| references(x, out));
        }
        _ => {}
    }
}

#[test]
fn full_record_exports_every_kind_of_entry_stably() {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, p) = full_record(dir.path());
    let text = nurse.export_fhir(&p).unwrap();
    assert_eq!(
        text,
        nurse.export_fhir(&p).unwrap(),
        "the same record exports the same Bundle"
    );
    let rs = resources(&text);

    // Ids are unique and every reference resolves inside the Bundle.
    let ids: BTreeSet<String> = rs
        .iter()
        .map(|r| format!("urn:uuid:{}", r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids.len(), rs.len());
    let mut refs = Vec::new();
    rs.iter().for_each(|r| references(r, &mut refs));
    for r in refs {
        assert!(ids.contains(r), "dangling reference {r}");
    }
    // No string holds a control character FHIR refuses, none is empty or padded.
    let mut all = Vec::new();
    rs.iter().for_each(|r| strings(r, &mut all));
    for s in all {
        assert!(!s.is_empty() && s.trim() == s, "{s:?}");
        assert!(
            !s.chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
            "{s:?}"
        );
    }

    let patient = &of_type(&rs, "Patient")[0];
    assert_eq!(
        patient["identifier"][0]["system"],
        "https://fhir.nhs.uk/Id/nhs-number"
    );
    assert_eq!(patient["identifier"][0]["value"], "9434765919");
    assert_eq!(
        patient["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "02"
    );
    assert_eq!(patient["birthDate"], "1941-03-09");
    assert_eq!(patient["address"][0]["postalCode"], "HX7 8AB");
    // The layout-7 codes (decision 0014): gender, UK Core's ethnic category, the GP by ODS code.
    assert_eq!(patient["gender"], "female");
    let ethnic = &patient["extension"][0];
    assert_eq!(
        ethnic["url"],
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
    );
    assert_eq!(ethnic["valueCodeableConcept"]["coding"][0]["code"], "A");
    let gp = &patient["generalPractitioner"][0];
    assert_eq!(
        gp["identifier"]["system"],
        "https://fhir.nhs.uk/Id/ods-organization-code"
    );
    assert_eq!(gp["identifier"]["value"], "B86010");
    assert_eq!(gp["display"], "Calder Valley Medical Practice");

    let count = |t: &str| of_type(&rs, t).len();
    // 6 visits + 1 booked visit not yet done.
    assert_eq!(count("Encounter"), 7);
    assert_eq!(count("EpisodeOfCare"), 2);
    assert_eq!(count("AllergyIntolerance"), 1);
    assert_eq!(count("CarePlan"), 1);
    // Its three tasks and the review task its care-plan review date raises.
    assert_eq!(count("Task"), 3 + 1);
    assert_eq!(count("MedicationAdministration"), 4);
    assert_eq!(count("QuestionnaireResponse"), 3);
    assert_eq!(count("BodyStructure"), 1);
    assert_eq!(
        count("Consent"),
        1,
        "the advice record, shared with consent"
    );

    // The alert in conflict: both values, both tagged.
    let risk: Vec<&Value> = of_type(&rs, "Flag")
        .into_iter()
        .filter(|f| {
            f["code"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Risk to staff")
        })
        .collect();
    assert_eq!(risk.len(), 2);
    for f in &risk {
        assert_eq!(f["meta"]["tag"][0]["code"], "in-conflict");
        assert!(f["code"]["text"].as_str().unwrap().contains("in conflict"));
    }
    let flags = of_type(&rs, "Flag");
    assert!(flags
        .iter()
        .any(|f| f["category"][0]["coding"][0]["code"] == "advance-directive"));

    // Entered in error: kept, with that status, under the general profile.
    let eie: Vec<&Value> = rs
        .iter()
        .filter(|r| r["status"] == "entered-in-error")
        .collect();
    let kinds: BTreeSet<&str> = eie
        .iter()
        .map(|r| r["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "Encounter",
            "Observation",
            "Procedure",
            "MedicationAdministration"
        ])
    );
    for o in eie.iter().filter(|r| r["resourceType"] == "Observation") {
        assert_eq!(
            o["meta"]["profile"][0],
            "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"
        );
    }
    let eie_provenance = of_type(&rs, "Provenance")
        .into_iter()
        .filter(|p| p["activity"]["text"] == "marked as entered in error")
        .count();
    assert_eq!(eie_provenance, 3);

    // NEWS2: one total per complete set (the partial set has none), derived from its vitals.
    let news2: Vec<&Value> = of_type(&rs, "Observation")
        .into_iter()
        .filter(|o| o["code"]["coding"][0]["code"] == "1104051000000101")
        .collect();
    assert_eq!(
        news2.len(),
        3,
        "two complete sets and the one entered in error"
    );
    let high = news2
        .iter()
        .find(|o| o["valueQuantity"]["value"] == 15)
        .expect("NEWS2 15");
    assert_eq!(high["derivedFrom"].as_array().unwrap().len(), 7);
    assert_eq!(high["component"].as_array().unwrap().len(), 7);
    assert!(high["note"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("High clinical risk"));

    // Every entry has a Provenance naming its author, role and device.
    for prov in of_type(&rs, "Provenance") {
        assert_eq!(prov["agent"][0]["type"]["coding"][0]["code"], "author");
        assert!(prov["agent"][0]["role"][0]["text"].is_string());
        assert!(prov["agent"][1]["who"]["reference"].is_string());
    }
    let targeted: BTreeSet<&str> = of_type(&rs, "Provenance")
        .iter()
        .flat_map(|p| {
            p["target"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["reference"].as_str().unwrap())
        })
        .collect();
    for r in &rs {
        let t = r["resourceType"].as_str().unwrap();
        if ["Patient", "Practitioner", "Device", "Provenance"].contains(&t)
            || r["code"]["text"]
                .as_str()
                .is_some_and(|c| c.starts_with("Access to the home"))
        {
            continue;
        }
        let url = format!("urn:uuid:{}", r["id"].as_str().unwrap());
        assert!(
            targeted.contains(url.as_str()),
            "{t} {url} has no Provenance"
        );
    }
    let devices: BTreeMap<&str, &Value> = of_type(&rs, "Device")
        .into_iter()
        .map(|d| (d["identifier"][0]["value"].as_str().unwrap(), d))
        .collect();
    assert!(
        devices.contains_key("phone-nurse")
            && devices.contains_key("phone-colleague")
            && devices.contains_key("phone-adviser")
    );
}

#[test]
fn the_access_policy_decides_what_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, p) = full_record(dir.path());
    let adviser = open(
        &dir.path().join("adviser.db"),
        "phone-adviser",
        Role::AdviceWorker,
    );
    let has = |s: &crate::FieldStore, t: &str| {
        resources(&s.export_fhir(&p).unwrap())
            .iter()
            .any(|r| r["resourceType"] == t)
    };
    // Consent given: the nurse sees the advice record, the adviser the clinical one.
    assert!(has(&nurse, "Consent") && has(&nurse, "Encounter"));
    testing::exchange(&nurse, &adviser);
    assert!(
        has(&adviser, "Encounter"),
        "an advice worker with consent reads the clinical record"
    );
    // Consent withdrawn: neither crosses.
    adviser.set_consent_to_share(&p, false).unwrap();
    testing::exchange(&adviser, &nurse);
    assert!(!has(&nurse, "Consent"), "no advice record without consent");
    assert!(
        !of_type(&resources(&nurse.export_fhir(&p).unwrap()), "Condition")
            .iter()
            .any(|c| c["code"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Advice need"))
    );
    assert!(has(&nurse, "Encounter"));
    let a = resources(&adviser.export_fhir(&p).unwrap());
    // The access notes' Flag is demographics, which every role reads; no clinical alert.
    assert!(of_type(&a, "Flag")
        .iter()
        .all(|f| f["category"][0]["coding"][0]["code"] == "admin"));
    for t in [
        "Encounter",
        "AllergyIntolerance",
        "MedicationAdministration",
        "CarePlan",
        "Task",
    ] {
        assert!(
            !a.iter().any(|r| r["resourceType"] == t),
            "an advice worker without consent got a {t}"
        );
    }
    // Its only Observation is the advice outcome.
    let obs = of_type(&a, "Observation");
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0]["category"][0]["coding"][0]["code"], "social-history");
    assert!(a.iter().any(|r| r["resourceType"] == "Patient"));
    assert!(
        a.iter().any(|r| r["resourceType"] == "Consent"),
        "the advice record is the adviser's own"
    );
}

#[test]
fn consent_in_conflict_counts_as_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, p) = full_record(dir.path());
    let a1 = open(
        &dir.path().join("adviser.db"),
        "phone-adviser",
        Role::AdviceWorker,
    );
    let a2 = open(
        &dir.path().join("adviser2.db"),
        "phone-adviser-2",
        Role::AdviceWorker,
    );
    testing::exchange(&a1, &a2);
    a1.set_consent_to_share(&p, true).unwrap();
    a2.set_consent_to_share(&p, false).unwrap();
    testing::exchange(&a1, &nurse);
    testing::exchange(&a2, &nurse);
    let rs = resources(&nurse.export_fhir(&p).unwrap());
    assert!(!rs.iter().any(|r| r["resourceType"] == "Consent"));
}

#[test]
fn an_unknown_person_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir.path().join("s.db"), "d", Role::DistrictNurse);
    assert!(matches!(
        s.export_fhir("nobody"),
        Err(crate::Error::NotFound { .. })
    ));
}

fn readable(s: &crate::FieldStore, p: &str) -> crate::fhir::Readable {
    let mut clinical = s.document_copy(p, Compartment::Clinical).unwrap();
    crate::fhir::Readable::from_documents(
        p,
        &s.document_copy(p, Compartment::Demographics).unwrap(),
        &mut clinical,
        &s.document_copy(p, Compartment::Advice).unwrap(),
    )
    .unwrap()
}

fn fhir_integration() -> policy::Principal {
    policy::Principal::Integration {
        id: "int-1".into(),
        kind: "fhir".into(),
    }
}

#[test]
fn read_from_the_documents_as_a_clinician_an_integration_gets_the_phones_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, p) = full_record(dir.path());
    let r = readable(&nurse, &p);
    let e = crate::fhir::export_for(&fhir_integration(), None, &r).unwrap();
    assert_eq!(e.bundle, nurse.export_fhir(&p).unwrap());
    assert_eq!(
        e.compartments,
        Compartment::ALL.to_vec(),
        "consent is given in the full record"
    );
    // Narrowed by its scope: the demographics only.
    let e = crate::fhir::export_for(&fhir_integration(), Some(&[Compartment::Demographics]), &r)
        .unwrap();
    assert_eq!(e.compartments, vec![Compartment::Demographics]);
    let rs = resources(&e.bundle);
    assert!(rs
        .iter()
        .all(|x| ["Patient", "Flag", "Provenance"].contains(&x["resourceType"].as_str().unwrap())));
    // A scope without the demographics exports nothing; a monitoring integration reads nothing.
    let no_patient =
        crate::fhir::export_for(&fhir_integration(), Some(&[Compartment::Clinical]), &r);
    assert!(no_patient
        .unwrap_err()
        .to_string()
        .contains("always holds the Patient"));
    let monitoring = policy::Principal::Integration {
        id: "int-2".into(),
        kind: "monitoring".into(),
    };
    let e = crate::fhir::export_for(&monitoring, None, &r).unwrap_err();
    assert!(
        e.to_string()
            .contains("the monitoring integration may not read"),
        "{e}"
    );
}

#[test]
fn without_consent_an_integration_gets_no_advice_record() {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, p) = full_record(dir.path());
    let adviser = open(&dir.path().join("a.db"), "phone-a", Role::AdviceWorker);
    testing::exchange(&nurse, &adviser);
    adviser.set_consent_to_share(&p, false).unwrap();
    testing::exchange(&adviser, &nurse);
    let e = crate::fhir::export_for(&fhir_integration(), None, &readable(&nurse, &p)).unwrap();
    assert_eq!(
        e.compartments,
        vec![Compartment::Demographics, Compartment::Clinical]
    );
    assert!(!resources(&e.bundle)
        .iter()
        .any(|r| r["resourceType"] == "Consent"));
}

#[test]
fn a_search_answer_is_a_searchset_of_patients() {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, p) = full_record(dir.path());
    let r = readable(&nurse, &p);
    let text = crate::fhir::searchset("https://ehr.example/fhir/", &[&r.record]).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "searchset");
    assert_eq!(v["total"], 1);
    let id = crate::fhir::patient_id(&p);
    assert_eq!(
        v["entry"][0]["fullUrl"],
        format!("https://ehr.example/fhir/Patient/{id}")
    );
    assert_eq!(v["entry"][0]["resource"]["id"], id.as_str());
    assert_eq!(v["entry"][0]["search"]["mode"], "match");
    assert_eq!(v["entry"].as_array().unwrap().len(), 1, "the Patient only");
    let none: Value = serde_json::from_str(&crate::fhir::searchset("b", &[]).unwrap()).unwrap();
    assert_eq!(none["total"], 0);
}
