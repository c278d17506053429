use chrono::NaiveDate;
use serde_json::{json, Value};

use super::*;

use crate::testing::GP_SUMMARY;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).expect("date")
}

fn fixture() -> Value {
    serde_json::from_str(GP_SUMMARY).expect("fixture is JSON")
}

fn read_value(v: &Value) -> Result<GpSummary, BundleRefused> {
    read(&v.to_string(), today())
}

fn resource_mut(b: &mut Value, i: usize) -> &mut Value {
    &mut b["entry"][i]["resource"]
}

#[test]
fn the_gp_summary_reads_as_the_person_and_three_entries() {
    let s = read(GP_SUMMARY, today()).expect("read");
    let d = &s.demographics;
    assert_eq!(d.nhs_number.as_deref(), Some("9912003888"));
    assert_eq!(
        (d.given_name.as_str(), d.family_name.as_str()),
        ("Richard", "SMITH")
    );
    assert_eq!(d.date_of_birth, NaiveDate::from_ymd_opt(1970, 9, 11));
    let a = d.address.as_ref().expect("address");
    assert_eq!(a.lines, vec!["4 Sandmoor Drive", "LEEDS"]);
    assert_eq!(a.postcode, "LS17 7DF");
    assert_eq!(d.phone.as_deref(), Some("01131231234"));
    assert_eq!(d.gp_practice_ods.as_deref(), Some("B82033"));
    assert_eq!(d.gp_practice.as_deref(), Some("Moorside Surgery"));
    assert_eq!(
        s.bundle.as_deref(),
        Some("gp-summary-richard-smith-2024-03-01")
    );
    let drafts: Vec<&Draft> = s
        .verdicts
        .iter()
        .map(|v| v.result.as_ref().expect("imported"))
        .collect();
    assert_eq!(drafts.len(), 3);
    let allergy = drafts[0];
    assert_eq!(allergy.kind, ImportedKind::Allergy);
    assert_eq!(allergy.code.snomed.as_deref(), Some("372687004"));
    assert_eq!(allergy.code.text, "Amoxicillin");
    assert_eq!(allergy.reactions[0].snomed.as_deref(), Some("247472004"));
    assert_eq!(allergy.recorded_on, NaiveDate::from_ymd_opt(2019, 12, 10));
    assert_eq!(
        allergy.resource,
        "AllergyIntolerance/0e4bbd4f-3c63-4b1f-9b1c-6a7d5c7b0a02"
    );
    assert_eq!(drafts[1].kind, ImportedKind::Condition);
    assert_eq!(drafts[1].code.snomed.as_deref(), Some("26322001"));
    let flag = drafts[2];
    assert_eq!(flag.kind, ImportedKind::Flag);
    assert_eq!(flag.code.text, "Peanut-free diet");
    assert_eq!(
        flag.note.as_deref(),
        Some("Patient has a severe peanut allergy.")
    );
    assert_eq!(s.verdicts[2].what, "flag: Peanut-free diet");
}

#[test]
fn a_bundle_that_cannot_be_matched_is_refused_whole() {
    let refused = |v: Value| read_value(&v).expect_err("refused");
    assert!(matches!(
        read("not json", today()),
        Err(BundleRefused::NotJson(_))
    ));
    assert!(matches!(
        refused(json!({"resourceType": "Patient"})),
        BundleRefused::NotBundle(_)
    ));
    let mut no_patient = fixture();
    no_patient["entry"]
        .as_array_mut()
        .expect("entries")
        .remove(0);
    assert_eq!(refused(no_patient), BundleRefused::NoPatient);
    let mut two = fixture();
    let p = two["entry"][0].clone();
    two["entry"].as_array_mut().expect("entries").push(p);
    assert_eq!(refused(two), BundleRefused::SeveralPatients(2));
    let mut no_nhs = fixture();
    resource_mut(&mut no_nhs, 0)["identifier"] = json!([]);
    assert_eq!(refused(no_nhs), BundleRefused::NoNhsNumber);
    let mut bad_nhs = fixture();
    resource_mut(&mut bad_nhs, 0)["identifier"][0]["value"] = json!("9912003889");
    let e = refused(bad_nhs);
    assert!(e.to_string().contains("NHS number"), "{e}");
    let mut unborn = fixture();
    resource_mut(&mut unborn, 0)["birthDate"] = json!("2031-01-01");
    assert!(matches!(refused(unborn), BundleRefused::Patient(_)));
    let mut long_address = fixture();
    resource_mut(&mut long_address, 0)["address"][0]["line"] = json!(vec!["a line"; 50_000]);
    let e = refused(long_address);
    assert!(e.to_string().contains("50001 lines"), "{e}");
    let big = " ".repeat(MAX_BUNDLE_BYTES + 1);
    assert!(matches!(
        read(&big, today()),
        Err(BundleRefused::TooLarge(_))
    ));
}

#[test]
fn a_resource_that_cannot_be_imported_refuses_only_itself() {
    let mut b = fixture();
    // About someone else.
    resource_mut(&mut b, 1)["patient"]["reference"] = json!("Patient/someone-else");
    // Entered in error at the source.
    resource_mut(&mut b, 2)["verificationStatus"]["coding"][0]["code"] = json!("entered-in-error");
    // A mistyped SNOMED CT code.
    resource_mut(&mut b, 3)["code"]["coding"][0]["code"] = json!("226201009");
    let entries = b["entry"].as_array_mut().expect("entries");
    entries.push(json!({"resource": {"resourceType": "Encounter", "id": "e1"}}));
    entries.push(json!({"resource": {
        "resourceType": "AllergyIntolerance", "id": "a2",
        "verificationStatus": {"coding": [{"code": "refuted"}]},
        "code": {"text": "Latex"},
        "patient": {"reference": "Patient/0e4bbd4f-3c63-4b1f-9b1c-6a7d5c7b0a01"}}}));
    entries.push(json!({"resource": {
        "resourceType": "Condition", "id": "c2",
        "subject": {"reference": "Patient/0e4bbd4f-3c63-4b1f-9b1c-6a7d5c7b0a01"}}}));
    entries.push(json!({"resource": {
        "resourceType": "Condition", "id": "c3", "recordedDate": "2030-01-01",
        "code": {"text": "Leg ulcer"},
        "subject": {"reference": "Patient/0e4bbd4f-3c63-4b1f-9b1c-6a7d5c7b0a01"}}}));
    // "Patient/<id>" names the Patient as well as its fullUrl does.
    entries.push(json!({"resource": {
        "resourceType": "Condition", "id": "c4",
        "code": {"text": "Type 2 diabetes"},
        "clinicalStatus": {"coding": [{"code": "remission"}]},
        "subject": {"reference": "Patient/0e4bbd4f-3c63-4b1f-9b1c-6a7d5c7b0a01"}}}));
    let s = read_value(&b).expect("the person is still matched");
    let why: Vec<String> = s
        .verdicts
        .iter()
        .map(|v| match &v.result {
            Ok(_) => "imported".to_string(),
            Err(e) => e.clone(),
        })
        .collect();
    assert!(
        why[0].contains("not about the Bundle's Patient"),
        "{}",
        why[0]
    );
    assert!(why[1].contains("entered in error"), "{}", why[1]);
    assert!(why[2].contains("check digit"), "{}", why[2]);
    assert!(why[3].contains("not imported"), "{}", why[3]);
    assert!(why[4].contains("refuted"), "{}", why[4]);
    assert!(why[5].contains("no code"), "{}", why[5]);
    assert!(why[6].contains("future"), "{}", why[6]);
    assert_eq!(why[7], "imported");
    let c4 = s.verdicts[7].result.as_ref().expect("c4");
    assert_eq!(c4.status, ImportedStatus::Inactive);
    assert_eq!(c4.code.snomed, None);
}

fn held(kind: ImportedKind, snomed: Option<&str>, text: &str) -> ImportedEntry {
    crate::testing::imported_entry("earlier", kind, snomed, text, &probe_author())
}

#[test]
fn what_is_held_is_not_added_again_nor_twice_from_one_bundle() {
    let mut b = fixture();
    let again = b["entry"][1].clone();
    b["entry"].as_array_mut().expect("entries").push(again);
    let s = read_value(&b).expect("read");
    let fresh = plan(s.verdicts.clone(), &[]);
    assert_eq!(fresh.add.len(), 3);
    assert_eq!(fresh.items[3].outcome, FhirImportOutcome::AlreadyThere);
    assert!(fresh.items[3]
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("twice"));
    // Held already: the same concept under another resource id, and an uncoded problem with the
    // same words in another case.
    let record = [
        held(ImportedKind::Allergy, Some("372687004"), "Amoxicillin"),
        held(ImportedKind::Condition, None, "BLEEDING FROM EAR"),
    ];
    let p = plan(s.verdicts, &record);
    let outcomes: Vec<FhirImportOutcome> = p.items.iter().map(|i| i.outcome).collect();
    use FhirImportOutcome::*;
    assert_eq!(
        outcomes,
        vec![AlreadyThere, AlreadyThere, Added, AlreadyThere]
    );
    assert_eq!(p.add.len(), 1);
    assert_eq!(p.add[0].kind, ImportedKind::Flag);
}

#[test]
fn the_patient_line_reports_what_differs_and_keeps_the_record_here() {
    let s = read(GP_SUMMARY, today()).expect("read");
    let mut here = s.demographics.clone();
    assert_eq!(patient_item(&s, Some(&here)).reason, None);
    here.date_of_birth = NaiveDate::from_ymd_opt(1970, 11, 9);
    let item = patient_item(&s, Some(&here));
    assert_eq!(item.outcome, FhirImportOutcome::AlreadyThere);
    let why = item.reason.expect("a difference");
    assert!(
        why.contains("1970-09-11 in the GP summary, 1970-11-09 here"),
        "{why}"
    );
    assert_eq!(patient_item(&s, None).outcome, FhirImportOutcome::Added);
}

/// A small deterministic generator (no dependency for a test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn hostile_bundles_are_refused_or_read_never_panicking() {
    // Deep nesting is refused by the JSON reader's recursion limit.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        read(&deep, today()),
        Err(BundleRefused::NotJson(_))
    ));
    // Wrong types everywhere a field is read.
    let mut b = fixture();
    resource_mut(&mut b, 0)["name"] = json!("Richard");
    resource_mut(&mut b, 1)["reaction"] = json!({"manifestation": 3});
    resource_mut(&mut b, 2)["code"] = json!([1, 2]);
    resource_mut(&mut b, 3)["status"] = json!({"a": 1});
    let _ = read_value(&b);
    // Byte mutations of the fixture: each is read or refused, none panics.
    let bytes = GP_SUMMARY.as_bytes();
    let mut rng = Lcg(15);
    for _ in 0..2_000 {
        let mut m = bytes.to_vec();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % m.len();
            m[at] = (rng.next() % 128) as u8;
        }
        if let Ok(text) = std::str::from_utf8(&m) {
            if let Ok(s) = read(text, today()) {
                let _ = plan(s.verdicts, &[]);
            }
        }
    }
}

/// Only UK Core's England code "01" under its own system says verified; any other code, another
/// system, or an extension of the wrong shape reads as "not traced", never as a refusal or a panic.
#[test]
fn only_uk_cores_01_under_its_system_reads_as_a_verified_number() {
    let verified = read_value(&fixture()).expect("read");
    assert_eq!(
        verified.demographics.nhs_number_verified.as_deref(),
        Some("9912003888")
    );
    let patient = |b: &mut Value| -> usize {
        b["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .position(|e| e["resource"]["resourceType"] == "Patient")
            .expect("a Patient")
    };
    let coding = "/identifier/0/extension/0/valueCodeableConcept/coding/0";
    for (path, value) in [
        (format!("{coding}/code"), json!("02")),
        (format!("{coding}/code"), json!(1)),
        (
            format!("{coding}/system"),
            json!("https://example.org/other-status"),
        ),
        (
            "/identifier/0/extension/0/url".to_string(),
            json!("https://example.org/ext"),
        ),
        (
            "/identifier/0/extension/0/valueCodeableConcept".to_string(),
            json!("01"),
        ),
        ("/identifier/0/extension".to_string(), json!({"url": "x"})),
    ] {
        let mut b = fixture();
        let i = patient(&mut b);
        *resource_mut(&mut b, i).pointer_mut(&path).expect("path") = value.clone();
        let s = read_value(&b).unwrap_or_else(|e| panic!("{path} = {value}: {e}"));
        assert_eq!(s.demographics.nhs_number_verified, None, "{path} = {value}");
        assert_eq!(s.demographics.nhs_number.as_deref(), Some("9912003888"));
    }
}
