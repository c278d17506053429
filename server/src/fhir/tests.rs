//! FHIR reads against a real SQLite store holding real phones' uploads: the server's export is
//! the phone's, byte for byte; the scope, the consent rule and the kinds of credential decide
//! what is read; bad searches are refused with what to do.

use doorstep_core::record::{Compartment, Role};
use doorstep_core::{testing, FieldStore};
use serde_json::Value;

use super::{everything, search, NHS_NUMBER_SYSTEM};
use crate::http::{write_sync, App, ServerConfig, Upload, Written};
use crate::storage::{sqlite::SqliteStorage, IntegrationRow, Storage};
use crate::{admin, integrations, sync};

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
    let outbox = phone.sync_outbox(usize::MAX).unwrap();
    let upload = Upload {
        parsed: sync::parse_upload(&outbox.changes).unwrap(),
        purged: &[],
        quarantined: &[],
        all_or_nothing: false,
    };
    match write_sync(app, &row, upload, 100, admin::now_ms()).unwrap() {
        Written::Stored(o) => o.verdicts.refused.len(),
        _ => panic!("the upload was not stored"),
    }
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
