//! The scenario in Rust, through the same wrappers Kotlin, Swift and Python call (the
//! `doorstep_ffi` types, epoch-millisecond times and `DoorstepError`), so the three languages
//! and Rust check one behaviour. Kotlin: android/src/test/.../ScenarioTest.kt; Swift:
//! ios/Tests/DoorstepTests/ScenarioTests.swift.

use std::path::Path;
use std::sync::Arc;

use doorstep_core::{
    Address, ClinicalRisk, Consciousness, ContactType, Intervention, Observations, Role, SpO2Scale,
    User, VisitOutcome,
};
use doorstep_ffi::types::{Demographics, StoreConfig, VisitInput};
use doorstep_ffi::{DoorstepError, FieldStore};

const KEY: [u8; 32] = [7; 32];

fn config(dir: &Path, device: &str, key: &[u8]) -> StoreConfig {
    StoreConfig {
        path: dir.join(format!("{device}.db")).display().to_string(),
        key: key.to_vec(),
        device_id: device.into(),
        user: User {
            id: format!("user-{device}"),
            display_name: format!("Nurse {device}"),
            role: Role::DistrictNurse,
            team: "team-a".into(),
        },
        doc_cache_size: 128,
        background_compaction: true,
    }
}

fn demographics(given: &str, family: &str, nhs: Option<&str>) -> Demographics {
    Demographics {
        nhs_number: nhs.map(Into::into),
        given_name: given.into(),
        family_name: family.into(),
        date_of_birth: Some("1941-03-09".into()),
        address: Some(Address {
            lines: vec!["12 Mill Lane".into(), "Hebden Bridge".into()],
            postcode: "hx7 8aa".into(),
        }),
        access_notes: Some("Key safe by back door. Friendly dog.".into()),
        ..Default::default()
    }
}

/// RCP chart: 22 -> 2, 95 % (scale 1) -> 1, air -> 0, 105 -> 1, 95 -> 1, alert -> 0,
/// 38.5 °C -> 1: total 6, medium clinical risk.
fn observations_scoring_6() -> Observations {
    Observations {
        respiration_rate: Some(22),
        spo2_percent: Some(95),
        on_oxygen: Some(false),
        systolic_bp: Some(105),
        diastolic_bp: Some(70),
        pulse: Some(95),
        consciousness: Some(Consciousness::Alert),
        temperature_c: Some(38.5),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn open(dir: &Path, device: &str) -> Arc<FieldStore> {
    FieldStore::open(config(dir, device, &KEY)).expect("open")
}

#[test]
fn a_visit_recorded_offline_is_scored_listed_guarded_by_typed_errors_and_reaches_a_second_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "phone-a");
    let id = a
        .register_patient(demographics("Edith", "Crawley", Some("943 476 5919")))
        .unwrap();

    let start = now_ms() - 30 * 60_000;
    let recorded = a
        .record_visit(
            id.clone(),
            VisitInput {
                planned_visit_id: None,
                contact_type: ContactType::HomeVisit,
                started_at_ms: start,
                ended_at_ms: Some(start + 25 * 60_000),
                outcome: VisitOutcome::Completed,
                interventions: vec![Intervention::WoundCare, Intervention::Insulin],
                note: Some("Dressing changed.".into()),
                observations: Some(observations_scoring_6()),
            },
        )
        .unwrap();
    let news2 = recorded.news2.clone().expect("observations were taken");
    assert_eq!(news2.total, Some(6));
    assert_eq!(news2.risk, Some(ClinicalRisk::Medium));
    assert_eq!(news2.scale, SpO2Scale::Scale1);
    assert!(news2.missing.is_empty());
    let subs: Vec<u8> = news2.sub_scores.iter().map(|s| s.score).collect();
    assert_eq!(subs, [2, 1, 0, 1, 1, 0, 1]);
    assert!(news2.response.starts_with("Medium clinical risk"));
    assert_eq!(recorded.visit.started_at_ms, start);

    let caseload = a.caseload().unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].person_id, id);
    assert_eq!(caseload[0].nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(caseload[0].latest_news2, Some(6));
    assert_eq!(caseload[0].last_visit_ms, Some(start));

    match a.register_patient(demographics("Ann", "Other", Some("943 476 5918"))) {
        Err(DoorstepError::Validation(m)) => {
            assert!(m.contains("NHS number '943 476 5918' is not valid"), "{m}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(a.caseload().unwrap().len(), 1, "nothing was written");

    let b = open(dir.path(), "phone-b");
    let report = b.import_changes(a.export_changes(0).unwrap()).unwrap();
    assert_eq!(report.people_added, vec![id.clone()]);
    assert_eq!(report.new_changes, 2);
    let there = b.patient(id.clone()).unwrap();
    let clinical = there.clinical.expect("clinical compartment arrived");
    assert_eq!(clinical.visits, vec![recorded.visit.clone()]);
    assert_eq!(clinical.observations[0].news2.total, Some(6));
    assert_eq!(b.caseload().unwrap()[0].latest_news2, Some(6));
    assert!(b.pending_changes().unwrap().is_empty());
    drop((a, b));

    match FieldStore::open(config(dir.path(), "phone-a", &[9; 32])) {
        Err(DoorstepError::WrongKey(m)) => {
            assert!(m.contains("cannot be opened with this key"), "{m}")
        }
        Err(e) => panic!("expected WrongKey, got {e:?}"),
        Ok(_) => panic!("a wrong key opened the store"),
    }
    assert_eq!(open(dir.path(), "phone-a").caseload().unwrap().len(), 1);
}

#[test]
fn core_errors_map_to_distinct_variants_and_keep_their_messages() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), "phone-a");
    assert!(matches!(
        s.patient("nobody".into()),
        Err(DoorstepError::NotFound(m)) if m.starts_with("No person with id nobody on this device")
    ));
    assert!(matches!(
        s.resolve_conflict(
            "nobody/allergies/00".into(),
            doorstep_core::AlertInput {
                kind: doorstep_core::AlertKind::Allergies,
                text: "NKDA".into(),
                active: true
            }
        ),
        Err(DoorstepError::ConflictNotOpen(_))
    ));
    let id = s
        .register_patient(demographics("Edith", "Crawley", None))
        .unwrap();
    assert!(matches!(
        s.record_observations(id.clone(), i64::MAX, observations_scoring_6(), None),
        Err(DoorstepError::Validation(m)) if m.contains("not a valid time")
    ));
    let mut bad_dob = demographics("Ann", "Lee", None);
    bad_dob.date_of_birth = Some("09/03/1941".into());
    assert!(matches!(
        s.register_patient(bad_dob),
        Err(DoorstepError::Validation(m)) if m.contains("use the form YYYY-MM-DD")
    ));
    assert!(matches!(
        FieldStore::open(config(dir.path(), "phone-b", &[1; 16])),
        Err(DoorstepError::InvalidKey(m)) if m.contains("exactly 32 bytes")
    ));
    // A file that is not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    assert!(matches!(
        FieldStore::open(config(dir.path(), "junk", &KEY)),
        Err(DoorstepError::Damaged(_)) | Err(DoorstepError::WrongKey(_))
    ));
}

#[test]
fn the_store_object_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FieldStore>();
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), "phone-a");
    let id = s
        .register_patient(demographics("Edith", "Crawley", None))
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let (s, id) = (s.clone(), id.clone());
            std::thread::spawn(move || {
                for i in 0..5 {
                    s.record_observations(
                        id.clone(),
                        now_ms() - (n * 10 + i) * 1000,
                        observations_scoring_6(),
                        None,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        s.patient(id).unwrap().clinical.unwrap().observations.len(),
        20
    );
}

/// The scenario's sync step: through a real `doorstep serve` on loopback, with two enrolled
/// devices, the visit recorded on one arrives on the other; progress reaches the callback.
#[test]
fn a_visit_reaches_a_second_device_through_a_real_sync_server_on_loopback() {
    use doorstep_ffi::sync::{enrol, sync, SyncProgress};
    use doorstep_tests::{team, Backend, ServerProc};
    use std::sync::Mutex;

    struct Events(Mutex<Vec<doorstep_core::sync::SyncProgressEvent>>);
    impl SyncProgress for Events {
        fn on_progress(&self, event: doorstep_core::sync::SyncProgressEvent) {
            self.0.lock().unwrap().push(event);
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    team(&backend, "north");
    let server = ServerProc::start(&backend);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let device = |user: &str| {
        let code = backend.admin(&["issue-code", user]);
        let e = rt.block_on(enrol(server.url.clone(), code)).expect("enrol");
        let mut cfg = config(dir.path(), &e.device_id, &KEY);
        cfg.user = e.user.clone();
        let store = FieldStore::open(cfg).expect("open");
        let endpoint = doorstep_core::sync::SyncEndpoint {
            url: server.url.clone(),
            device_token: e.device_token,
        };
        (store, endpoint)
    };
    let (a, a_end) = device("north-nurse1");
    let (b, b_end) = device("north-nurse2");

    let id = a
        .register_patient(demographics("Edith", "Crawley", Some("9434765919")))
        .unwrap();
    let start = now_ms() - 30 * 60_000;
    let recorded = a
        .record_visit(
            id.clone(),
            VisitInput {
                planned_visit_id: None,
                contact_type: ContactType::HomeVisit,
                started_at_ms: start,
                ended_at_ms: None,
                outcome: VisitOutcome::Completed,
                interventions: vec![],
                note: None,
                observations: Some(observations_scoring_6()),
            },
        )
        .unwrap();

    let events = Arc::new(Events(Mutex::new(Vec::new())));
    let sent = rt
        .block_on(sync(a.clone(), a_end, Some(events.clone())))
        .expect("sync a");
    assert_eq!(sent.changes_sent, 2);
    assert!(
        a.pending_changes().unwrap().is_empty(),
        "the server acknowledged them"
    );
    let seen = events.0.lock().unwrap().clone();
    assert!(!seen.is_empty(), "progress reached the callback");
    assert_eq!(seen.last().unwrap().changes_sent, 2);

    let got = rt
        .block_on(sync(b.clone(), b_end.clone(), None))
        .expect("sync b");
    assert_eq!(got.people_added, vec![id.clone()]);
    let visits = b.patient(id.clone()).unwrap().clinical.unwrap().visits;
    assert_eq!(visits, vec![recorded.visit]);
    assert_eq!(b.caseload().unwrap()[0].latest_news2, Some(6));

    // A wrong token and a used code are typed errors.
    let forged = doorstep_core::sync::SyncEndpoint {
        url: server.url.clone(),
        device_token: "forged".into(),
    };
    assert!(matches!(
        rt.block_on(sync(b.clone(), forged, None)),
        Err(DoorstepError::AuthFailed(_))
    ));
    assert!(matches!(
        rt.block_on(enrol(server.url.clone(), "NOT-A-CODE".into())),
        Err(DoorstepError::EnrolmentRefused(_))
    ));
}
