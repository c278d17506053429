//! FHIR reads against a real SQLite store holding real phones' uploads: the server's export is
//! the phone's, byte for byte; the scope, the consent rule and the kinds of credential decide
//! what is read; bad searches are refused with what to do.

use doorstep_core::record::{Compartment, Role};
use doorstep_core::{testing, FieldStore};
use serde_json::Value;

use super::{everything, search, NHS_NUMBER_SYSTEM};
use crate::http::{App, ServerConfig};
use crate::storage::{sqlite::SqliteStorage, IntegrationRow, Storage};
use crate::{admin, integrations};

struct Served {
    _dir: tempfile::TempDir,
    app: App,
    nurse: FieldStore,
    person: String,
    fhir: IntegrationRow,
}

/// Upload the phone's outbox as its own device; how many changes were refused.
fn upload(app: &App, phone: &FieldStore, device: &str, role: Role) -> usize {
    let user = testing::user(&format!("user-{device}"), role);
    let token = format!("tok-{device}");
    if app
        .storage
        .read(|tx| tx.device_by_token(&token))
        .unwrap()
        .is_none()
    {
        admin::create_user(&app.storage, &user.id, &user.display_name, role, "team-a").unwrap();

        app.storage
            .write(|tx| tx.add_device(device, &user.id, &token, 1))
            .unwrap();
    }
    let row = app
        .storage
        .read(|tx| tx.device_by_token(&format!("tok-{device}")))
        .unwrap()
        .unwrap();
    crate::http::test_upload::store_outbox(app, &row, phone).len()
}

/// The full test record, made on three phones, uploaded by each; a FHIR integration of team-a.
fn served() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let (nurse, person) = testing::full_record(dir.path());
    let storage = Storage::Sqlite(SqliteStorage::open(&dir.path().join("server")).unwrap());
    admin::create_team(&storage, "team-a", "Team A").unwrap();
    admin::create_team(&storage, "team-b", "Team B").unwrap();
    let app = App::new(storage, ServerConfig::default());
    let others: Vec<(FieldStore, &str, Role)> = [
        ("phone-colleague", Role::DistrictNurse),
        ("phone-adviser", Role::AdviceWorker),
    ]
    .into_iter()
    .map(|(device, role)| {
        let path = dir.path().join(format!("{}.db", &device[6..]));
        (testing::open(&path, device, role), device, role)
    })
    .collect();
    // The phones' changes depend on each other's: upload in rounds until nothing is refused
    // (a refused change stays in its phone's outbox).
    let mut refused = usize::MAX;
    for _ in 0..4 {
        refused = upload(&app, &nurse, "phone-nurse", Role::DistrictNurse);
        for (phone, device, role) in &others {
            refused += upload(&app, phone, device, *role);
        }
        if refused == 0 {
            break;
        }
    }
    assert_eq!(refused, 0, "the phones' changes were not all stored");
    let fhir = integrations::create(&app.storage, "fhir", "Trust EPR", "team-a")
        .unwrap()
        .integration;
    Served {
        _dir: dir,
        app,
        nurse,
        person,
        fhir,
    }
}

fn ident(n: &str) -> String {
    format!("{NHS_NUMBER_SYSTEM}|{n}")
}

fn types(bundle: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(bundle).unwrap();
    v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_servers_export_is_the_phones_and_the_scope_narrows_it() {
    let s = served();
    let found = search(
        &s.app.storage,
        &s.fhir,
        &ident("943 476 5919"),
        "https://h/fhir",
    )
    .unwrap();
    assert_eq!(found.outcome, "matched 1");
    let v: Value = serde_json::from_str(&found.body).unwrap();
    let id = v["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id, doorstep_core::fhir::patient_id(&s.person));
    // Demographics and clinical by default; the phone's nurse has the advice record too (the
    // person consents), so compare with the scope widened to it.
    let a = everything(&s.app.storage, &s.fhir, &id).unwrap();
    assert_eq!(
        a.compartments,
        vec![Compartment::Demographics, Compartment::Clinical]
    );
    assert!(!types(&a.body).contains(&"Consent".to_string()));
    integrations::set_scope(
        &s.app.storage,
        &s.fhir.integration_id,
        "team-a",
        &Compartment::ALL,
    )
    .unwrap();
    let a = everything(&s.app.storage, &s.fhir, &id).unwrap();
    assert_eq!(a.compartments, Compartment::ALL.to_vec());
    assert_eq!(
        a.body,
        s.nurse.export_fhir(&s.person).unwrap(),
        "the server's Bundle is the phone's"
    );
    // Demographics only.
    integrations::set_scope(
        &s.app.storage,
        &s.fhir.integration_id,
        "team-a",
        &[Compartment::Demographics],
    )
    .unwrap();
    let a = everything(&s.app.storage, &s.fhir, &id).unwrap();
    assert!(!types(&a.body).contains(&"Encounter".to_string()));
    // Out of scope: the team taken out, or another team's integration.
    integrations::set_scope(&s.app.storage, &s.fhir.integration_id, "team-a", &[]).unwrap();
    let e = everything(&s.app.storage, &s.fhir, &id).unwrap_err();
    assert!(e.to_string().contains("no Patient"), "{e}");
    let found = search(&s.app.storage, &s.fhir, &ident("9434765919"), "b").unwrap();
    assert_eq!(found.outcome, "no match");
    let other = integrations::create(&s.app.storage, "fhir", "B's EPR", "team-b")
        .unwrap()
        .integration;
    assert!(everything(&s.app.storage, &other, &id).is_err());
}

#[test]
fn credentials_and_searches_that_cannot_be_answered_are_refused_with_what_to_do() {
    let s = served();
    let monitoring = integrations::create(&s.app.storage, "monitoring", "Oximetry", "team-a")
        .unwrap()
        .integration;
    let e = search(&s.app.storage, &monitoring, &ident("9434765919"), "b").unwrap_err();
    assert!(e.to_string().contains("need a fhir integration"), "{e}");
    for (bad, says) in [
        ("9434765919", "the system, a bar, the number"),
        ("https://example.org/mrn|9434765919", "by NHS number only"),
        (&ident("9434765918")[..], "not valid"),
        (&ident("94347")[..], "10 digits"),
    ] {
        let e = search(&s.app.storage, &s.fhir, bad, "b").unwrap_err();
        assert!(e.to_string().contains(says), "{bad}: {e}");
    }
    for bad in ["not-a-uuid", "../../etc", ""] {
        let e = everything(&s.app.storage, &s.fhir, bad).unwrap_err();
        assert!(e.to_string().contains("not a Patient id"), "{e}");
    }
    let e = everything(
        &s.app.storage,
        &s.fhir,
        &doorstep_core::fhir::patient_id("nobody"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no Patient"), "{e}");
    // Scopes: fhir integrations only, the demographics always, teams that exist.
    let id = &s.fhir.integration_id;
    let e = integrations::set_scope(&s.app.storage, id, "team-a", &[Compartment::Clinical]);
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("always holds the demographics"));
    let e = integrations::set_scope(&s.app.storage, id, "no-team", &[Compartment::Demographics]);
    assert!(e.unwrap_err().to_string().contains("no team no-team"));
    let e = integrations::set_scope(
        &s.app.storage,
        &monitoring.integration_id,
        "team-a",
        &[Compartment::Demographics],
    );
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("only a fhir integration"));
    let e = integrations::register_monitor(&s.app.storage, id, &s.person, "OX-9");
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("register monitors to a monitoring one"));
    // Revoked: reads nothing.
    integrations::revoke(&s.app.storage, id).unwrap();
    let revoked = s
        .app
        .storage
        .read(|tx| tx.integration(id))
        .unwrap()
        .unwrap();
    let e = search(&s.app.storage, &revoked, &ident("9434765919"), "b").unwrap_err();
    assert!(e.to_string().contains("was revoked"), "{e}");
}

#[test]
fn without_consent_the_advice_record_stays_home_whatever_the_scope() {
    let s = served();
    integrations::set_scope(
        &s.app.storage,
        &s.fhir.integration_id,
        "team-a",
        &Compartment::ALL,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let adviser = testing::open(
        &dir.path().join("a2.db"),
        "phone-adviser-2",
        Role::AdviceWorker,
    );
    testing::exchange(&s.nurse, &adviser);
    adviser.set_consent_to_share(&s.person, false).unwrap();
    assert_eq!(
        upload(&s.app, &adviser, "phone-adviser-2", Role::AdviceWorker),
        0
    );
    let id = doorstep_core::fhir::patient_id(&s.person);
    let a = everything(&s.app.storage, &s.fhir, &id).unwrap();
    assert_eq!(
        a.compartments,
        vec![Compartment::Demographics, Compartment::Clinical]
    );
    assert!(!types(&a.body).contains(&"Consent".to_string()));
}

// ---------------------------------------------------------------- import of a GP summary

/// The GP summary fixture, for the person with `nhs` (formatted or not).
fn summary_for(nhs: &str) -> String {
    testing::GP_SUMMARY.replace("9912003888", nhs)
}

fn clinical_of(app: &App, person: &str) -> doorstep_core::record::ClinicalRecord {
    app.storage
        .read(|tx| {
            let (doc, _) = crate::docs::replay(tx, person, Compartment::Clinical)?;
            Ok(doorstep_core::record::read::clinical(person, &doc).unwrap())
        })
        .unwrap()
}

#[test]
fn a_gp_summary_adds_to_the_record_held_and_only_once() {
    use doorstep_core::fhir::import::FhirImportOutcome::*;
    let s = served();
    let done = super::import::import(&s.app, &s.fhir, None, &summary_for("9434765919")).unwrap();
    let r = &done.report;
    assert_eq!(r.person_id, s.person);
    assert!(!r.registered);
    let outcomes: Vec<_> = r.items.iter().map(|i| i.outcome).collect();
    // The patient, the NHS number's verification (the summary gives it as traced), 3 entries.
    assert_eq!(outcomes, vec![AlreadyThere, Added, Added, Added, Added]);
    assert_eq!(r.items[1].what, "the NHS number's verification status");
    // The record held is Ada Lovelace's: the summary's name is reported, not written.
    assert!(
        r.items[0].reason.as_deref().unwrap().contains("the name"),
        "{r:?}"
    );
    assert_eq!(
        done.compartments,
        vec![Compartment::Demographics, Compartment::Clinical]
    );
    let held = clinical_of(&s.app, &s.person);
    assert_eq!(held.imported.len(), 3);
    assert!(held.imported[0].author.user_id.starts_with("integration:"));
    // Stored as the integration's own change, checked as a phone checks it; the phone's export
    // from the server now holds the coded allergy.
    let bundle = everything(
        &s.app.storage,
        &s.fhir,
        &doorstep_core::fhir::patient_id(&s.person),
    )
    .unwrap()
    .body;
    assert!(bundle.contains("\"code\":\"372687004\""));
    assert!(bundle.contains("Number present and verified"), "{bundle}");
    let again = super::import::import(&s.app, &s.fhir, None, &summary_for("9434765919")).unwrap();
    assert_eq!(again.report.added, 0);
    assert!(again.compartments.is_empty());
    assert_eq!(clinical_of(&s.app, &s.person).imported.len(), 3);
    // The OperationOutcome says it line by line.
    let oo = super::import::outcome(&again.report).to_string();
    assert!(oo.contains("0 added, 4 already there, 0 refused"), "{oo}");
}

/// A summary that brings only the news that the number is verified writes the demographics
/// alone, and says so.
#[test]
fn a_verified_number_alone_writes_only_the_demographics() {
    use doorstep_core::fhir::import::FhirImportOutcome::*;
    let s = served();
    let untraced = summary_for("9434765919").replace("\"code\": \"01\"", "\"code\": \"02\"");
    let first = super::import::import(&s.app, &s.fhir, None, &untraced).unwrap();
    assert_eq!(first.compartments, vec![Compartment::Clinical]);
    let then = super::import::import(&s.app, &s.fhir, None, &summary_for("9434765919")).unwrap();
    let outcomes: Vec<_> = then.report.items.iter().map(|i| i.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            AlreadyThere,
            Added,
            AlreadyThere,
            AlreadyThere,
            AlreadyThere
        ]
    );
    assert_eq!(then.compartments, vec![Compartment::Demographics]);
}

#[test]
fn a_new_person_joins_the_scopes_team_and_out_of_scope_records_are_not_touched() {
    let s = served();
    let done = super::import::import(&s.app, &s.fhir, None, testing::GP_SUMMARY).unwrap();
    assert!(done.report.registered);
    assert_eq!(done.report.added, 4);
    let p = done.report.person_id.clone();
    assert!(s.app.storage.read(|tx| tx.is_member("team-a", &p)).unwrap());
    // Found by NHS number at once (its identity keys were kept).
    let found = search(
        &s.app.storage,
        &s.fhir,
        &ident("9912003888"),
        "https://h/fhir",
    )
    .unwrap();
    assert_eq!(found.person_id.as_deref(), Some(p.as_str()));
    // A team out of scope is refused by name; a monitoring credential imports nothing.
    let e = super::import::import(&s.app, &s.fhir, Some("team-b"), &summary_for("9876543210"))
        .unwrap_err();
    assert!(matches!(e, crate::error::ServerError::Forbidden(_)), "{e}");
    let monitor = integrations::create(&s.app.storage, "monitoring", "Monitors", "team-a")
        .unwrap()
        .integration;
    assert!(super::import::import(&s.app, &monitor, None, testing::GP_SUMMARY).is_err());
    // A scope without the clinical record imports nothing into the record it reads.
    integrations::set_scope(
        &s.app.storage,
        &s.fhir.integration_id,
        "team-a",
        &[Compartment::Demographics],
    )
    .unwrap();
    let e = super::import::import(&s.app, &s.fhir, None, &summary_for("9434765919")).unwrap_err();
    assert!(e.to_string().contains("no team in its scope"), "{e}");
    assert!(clinical_of(&s.app, &s.person).imported.is_empty());
}

#[test]
fn a_bundle_that_cannot_be_matched_is_refused_with_what_to_do() {
    let s = served();
    for (body, words) in [
        ("{", "not JSON"),
        (r#"{"resourceType":"Patient"}"#, "not a FHIR Bundle"),
        (
            &testing::GP_SUMMARY.replace("https://fhir.nhs.uk/Id/nhs-number", "urn:x"),
            "register the person by hand",
        ),
    ] {
        let e = super::import::import(&s.app, &s.fhir, None, body).unwrap_err();
        assert!(
            matches!(e, crate::error::ServerError::Unprocessable(_)),
            "{e:?}"
        );
        assert!(e.to_string().contains(words), "{e}");
    }
}
