use crate::fhir::import::FhirImportOutcome::*;
use crate::record::imported::ImportedKind;
use crate::record::{AlertInput, AlertKind, Role};
use crate::testing;
use crate::testing::GP_SUMMARY;

fn outcomes(
    r: &crate::fhir::import::FhirImportReport,
) -> Vec<crate::fhir::import::FhirImportOutcome> {
    r.items.iter().map(|i| i.outcome).collect()
}

#[test]
fn a_gp_summary_registers_the_person_with_their_allergy_problem_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(&dir.path().join("n.db"), "dev-n", Role::DistrictNurse);
    let report = nurse.import_fhir(GP_SUMMARY).unwrap();
    assert!(report.registered);
    assert_eq!(outcomes(&report), vec![Added, Added, Added, Added]);
    assert_eq!(
        (report.added, report.already_there, report.refused),
        (4, 0, 0)
    );
    // No allergies alert yet: the imported allergy is surfaced for the nurse to settle.
    assert_eq!(report.allergy_disagreements.len(), 1);
    let caseload = nurse.caseload().unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].person_id, report.person_id);
    let record = nurse.patient(&report.person_id).unwrap();
    let d = record.demographics.unwrap();
    assert_eq!(d.nhs_number.as_deref(), Some("9912003888"));
    assert_eq!(d.gp_practice_ods.as_deref(), Some("B82033"));
    assert!(
        d.nhs_number_verified_now(),
        "the summary gives the number as verified"
    );
    let clinical = record.clinical.unwrap();
    let kinds: Vec<ImportedKind> = clinical.imported.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ImportedKind::Allergy,
            ImportedKind::Condition,
            ImportedKind::Flag
        ]
    );
    assert_eq!(clinical.imported[0].author.device_id, "dev-n");
    assert_eq!(
        clinical.imported[0].source.bundle.as_deref(),
        Some("gp-summary-richard-smith-2024-03-01")
    );
    // Both documents were written, each as one change with the audit summary.
    let history = nurse.history(&report.person_id).unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().any(|h| h
        .summary
        .contains("imported from a GP summary: allergy: Amoxicillin")));
}

/// The NHS NUMBER STATUS of a FHIR Patient's identifier, as exported.
fn exported_status(store: &crate::FieldStore, person: &str) -> String {
    let bundle: serde_json::Value =
        serde_json::from_str(&store.export_fhir(person).unwrap()).unwrap();
    let patient = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Patient")
        .unwrap()
        .clone();
    patient["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_summary_that_gives_the_number_as_verified_marks_it_until_the_number_changes() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(&dir.path().join("n.db"), "dev-n", Role::DistrictNurse);
    let p = nurse
        .register_patient(testing::demographics(
            "Richard",
            "Smith",
            Some("991 200 3888"),
            "ls17 7df",
        ))
        .unwrap();
    assert_eq!(
        exported_status(&nurse, &p),
        "02",
        "typed in by hand: present but not traced"
    );
    let report = nurse.import_fhir(GP_SUMMARY).unwrap();
    let item = &report.items[1];
    assert_eq!(
        (item.what.as_str(), item.outcome),
        ("the NHS number's verification status", Added)
    );
    let d = nurse.patient(&p).unwrap().demographics.unwrap();
    assert_eq!(d.nhs_number_verified.as_deref(), Some("9912003888"));
    assert!(d.nhs_number_verified_now());
    assert_eq!(exported_status(&nurse, &p), "01");
    let history = nurse.history(&p).unwrap();
    assert!(
        history.iter().any(|h| h
            .summary
            .contains("marked the NHS number of Richard Smith verified")),
        "{history:?}"
    );
    // A number corrected by hand is no longer the verified one, with nothing else to do.
    let corrected = crate::record::Demographics {
        nhs_number: Some("943 476 5919".into()),
        ..d
    };
    let back = nurse.update_demographics(&p, corrected).unwrap();
    assert!(!back.nhs_number_verified_now());
    assert_eq!(exported_status(&nurse, &p), "02");
    // A summary whose number is "present but not traced" marks nothing.
    let dir2 = tempfile::tempdir().unwrap();
    let other = testing::open(&dir2.path().join("o.db"), "dev-o", Role::DistrictNurse);
    let untraced = GP_SUMMARY.replace("\"code\": \"01\"", "\"code\": \"02\"");
    assert_ne!(untraced, GP_SUMMARY);
    let r = other.import_fhir(&untraced).unwrap();
    let d = other.patient(&r.person_id).unwrap().demographics.unwrap();
    assert_eq!(d.nhs_number_verified, None);
    assert_eq!(exported_status(&other, &r.person_id), "02");
}

#[test]
fn importing_again_or_into_a_known_person_adds_only_what_is_new_and_keeps_their_details() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(&dir.path().join("n.db"), "dev-n", Role::DistrictNurse);
    let mut by_hand = testing::demographics("Richard", "Smith", Some("991 200 3888"), "ls17 7df");
    by_hand.date_of_birth = chrono::NaiveDate::from_ymd_opt(1970, 11, 9);
    let p = nurse.register_patient(by_hand).unwrap();
    nurse
        .set_alert(
            &p,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "Amoxicillin - rash".into(),
                active: true,
            },
        )
        .unwrap();
    let first = nurse.import_fhir(GP_SUMMARY).unwrap();
    assert!(!first.registered);
    assert_eq!(first.person_id, p);
    // The patient, the number's verification (the summary gives it as traced), three entries.
    assert_eq!(
        outcomes(&first),
        vec![AlreadyThere, Added, Added, Added, Added]
    );
    let why = first.items[0].reason.clone().unwrap();
    assert!(
        why.contains("date of birth (1970-09-11 in the GP summary, 1970-11-09 here)"),
        "{why}"
    );
    // The alert names amoxicillin: nothing to settle; the alert is untouched.
    assert!(first.allergy_disagreements.is_empty());
    let record = nurse.patient(&p).unwrap();
    assert_eq!(
        record.demographics.unwrap().date_of_birth,
        chrono::NaiveDate::from_ymd_opt(1970, 11, 9)
    );
    let clinical = record.clinical.unwrap();
    assert_eq!(clinical.alerts[0].values[0].text, "Amoxicillin - rash");
    let again = nurse.import_fhir(GP_SUMMARY).unwrap();
    assert_eq!(outcomes(&again), vec![AlreadyThere; 4]);
    assert_eq!(again.added, 0);
    assert_eq!(
        nurse.patient(&p).unwrap().clinical.unwrap().imported.len(),
        3
    );
    // An import marked entered in error comes back on the next import, to be seen again.
    let allergy = clinical.imported[0].id.clone();
    nurse
        .mark_entered_in_error(&p, &allergy, "wrong person")
        .unwrap();
    let third = nurse.import_fhir(GP_SUMMARY).unwrap();
    assert_eq!(
        outcomes(&third),
        vec![AlreadyThere, Added, AlreadyThere, AlreadyThere]
    );
}

#[test]
fn a_refused_bundle_or_role_changes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(&dir.path().join("n.db"), "dev-n", Role::DistrictNurse);
    let no_nhs = GP_SUMMARY.replace("https://fhir.nhs.uk/Id/nhs-number", "urn:other");
    let e = nurse.import_fhir(&no_nhs).unwrap_err();
    assert!(
        e.to_string().contains("matches imports by NHS number"),
        "{e}"
    );
    assert!(nurse.caseload().unwrap().is_empty());
    let advice = testing::open(&dir.path().join("a.db"), "dev-a", Role::AdviceWorker);
    let e = advice.import_fhir(GP_SUMMARY).unwrap_err();
    assert!(matches!(e, crate::error::Error::NotAllowed(_)), "{e:?}");
    assert!(advice.caseload().unwrap().is_empty());
}

#[test]
fn an_imported_record_syncs_to_a_colleague_through_the_record_rules() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(&dir.path().join("n.db"), "dev-n", Role::DistrictNurse);
    let colleague = testing::open(&dir.path().join("c.db"), "dev-c", Role::DistrictNurse);
    let report = nurse.import_fhir(GP_SUMMARY).unwrap();
    let received = testing::exchange(&nurse, &colleague);
    assert_eq!(received.quarantined, 0);
    let theirs = colleague
        .patient(&report.person_id)
        .unwrap()
        .clinical
        .unwrap();
    assert_eq!(theirs.imported.len(), 3);
    assert_eq!(theirs.allergy_disagreements.len(), 1);
    assert_eq!(
        nurse.projection_dump().unwrap(),
        colleague.projection_dump().unwrap()
    );
}
