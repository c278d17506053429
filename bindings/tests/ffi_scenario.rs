//! The scenario's sync step in Rust, through the functions Kotlin, Swift and Python call
//! (`doorstep_ffi::sync::{enrol, sync}` on the library's own runtime, with the store object core
//! exports). Kotlin: android/src/test/.../SyncTest.kt; Swift: ios/Tests/DoorstepTests/SyncTests.swift.

use std::path::Path;
use std::sync::{Arc, Mutex};

use doorstep_core::sync::{SyncEndpoint, SyncProgressEvent};
use doorstep_core::testing::{self, demographics, full_visit};
use doorstep_core::{Role, StoreConfig};
use doorstep_ffi::sync::{enrol, sync, SyncProgress};
use doorstep_ffi::{DoorstepError, FieldStore};
use doorstep_tests::{team, Backend, ServerProc};

fn config(dir: &Path, device: &str) -> StoreConfig {
    testing::config(
        &dir.join(format!("{device}.db")),
        device,
        Role::DistrictNurse,
    )
}

#[test]
fn the_store_object_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FieldStore>();
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(FieldStore::open(config(dir.path(), "phone-a")).unwrap());
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AA"))
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let (s, id) = (s.clone(), id.clone());
            std::thread::spawn(move || {
                for i in 0..5 {
                    s.record_visit(&id, full_visit(n * 10 + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.patient(&id).unwrap().clinical.unwrap().visits.len(), 20);
}

/// Through a real `doorstep serve` on loopback, with two enrolled devices, the visit recorded on
/// one arrives on the other; progress reaches the callback; failures are typed.
#[test]
fn a_visit_reaches_a_second_device_through_a_real_sync_server_on_loopback() {
    struct Events(Mutex<Vec<SyncProgressEvent>>);
    impl SyncProgress for Events {
        fn on_progress(&self, event: SyncProgressEvent) {
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
        let mut cfg = config(dir.path(), &e.device_id);
        cfg.user = e.user.clone();
        let store = Arc::new(FieldStore::open(cfg).expect("open"));
        let endpoint = SyncEndpoint {
            url: server.url.clone(),
            device_token: e.device_token,
        };
        (store, endpoint)
    };
    let (a, a_end) = device("north-nurse1");
    let (b, b_end) = device("north-nurse2");

    let id = a
        .register_patient(demographics(
            "Edith",
            "Crawley",
            Some("9434765919"),
            "HX7 8AA",
        ))
        .unwrap();
    let recorded = a.record_visit(&id, full_visit(0)).unwrap();

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

    let got = rt.block_on(sync(b.clone(), b_end, None)).expect("sync b");
    assert_eq!(got.people_added, vec![id.clone()]);
    let visits = b.patient(&id).unwrap().clinical.unwrap().visits;
    assert_eq!(visits, vec![recorded.visit]);
    assert_eq!(b.caseload().unwrap()[0].latest_news2, Some(0));

    // A wrong token and a used code are typed errors.
    let forged = SyncEndpoint {
        url: server.url.clone(),
        device_token: "forged".into(),
    };
    assert!(matches!(
        rt.block_on(sync(b.clone(), forged, None)),
        Err(DoorstepError::AuthFailed)
    ));
    assert!(matches!(
        rt.block_on(enrol(server.url.clone(), "NOT-A-CODE".into())),
        Err(DoorstepError::EnrolmentRefused)
    ));
}
