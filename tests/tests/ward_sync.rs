//! The virtual ward (issue 13) through a real `doorstep serve`: an admission passes the server's
//! validation and reaches the hub's census; a NEWS2 of 6 recorded offline on a phone raises its
//! escalation there at once and the same escalation (one id) on the hub after sync; the hub and
//! the phone acknowledging at once make one acknowledgement, both recorded on both. SQLite and
//! PostgreSQL.

use chrono::Utc;
use doorstep_core::clinical::escalation::ReadingRange;
use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

fn escalation_through_the_server(backend: Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(&backend);
    let rt = runtime();
    team(&backend, prefix);
    let hub_user = format!("{prefix}-hub1");
    backend.admin(&[
        "create-user",
        &hub_user,
        "--name",
        "Hub clinician",
        "--role",
        "virtual-ward-clinician",
        "--team",
        prefix,
    ]);
    let phone = Device::enrol(
        &rt,
        &backend,
        &server.url,
        &format!("{prefix}-nurse2"),
        dir.path(),
    );
    let hub = Device::enrol(&rt, &backend, &server.url, &hub_user, dir.path());

    let p = phone
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let target = ReadingRange { low: 88, high: 92 };
    phone
        .store
        .admit_to_ward(&p, testing::ward_admission(Some(target)))
        .unwrap();
    phone.sync(&rt).unwrap();
    hub.sync(&rt).unwrap();
    let census = hub.store.ward_census().unwrap();
    assert_eq!(census.people.len(), 1, "{census:?}");
    assert_eq!(census.people[0].person_id, p);

    // Offline on the phone: NEWS2 6, SpO2 89 % on scale 2 (the admission's target).
    let mut obs = testing::news2_six();
    obs.spo2_percent = Some(89);
    let set = phone
        .store
        .record_observations(&p, Utc::now(), obs, None)
        .unwrap();
    assert_eq!(set.news2.scale, doorstep_core::SpO2Scale::Scale2);
    let on_phone = phone.store.escalations(None).unwrap();
    assert_eq!(on_phone.len(), 1);
    let id = on_phone[0].id.clone();

    phone.sync(&rt).unwrap();
    hub.sync(&rt).unwrap();
    let on_hub = hub.store.escalations(None).unwrap();
    assert_eq!(
        on_hub, on_phone,
        "one escalation, the same id, after one sync"
    );

    // Both acknowledge before either syncs again.
    hub.store
        .acknowledge_escalation(&p, &id, Some("calling now".into()))
        .unwrap();
    phone.store.acknowledge_escalation(&p, &id, None).unwrap();
    for _ in 0..2 {
        phone.sync(&rt).unwrap();
        hub.sync(&rt).unwrap();
    }
    let seen: Vec<Escalation> = [&phone, &hub]
        .iter()
        .map(|d| d.store.escalations(Some(p.clone())).unwrap().remove(0))
        .collect();
    for e in &seen {
        assert_eq!(e.acknowledgements, 2, "{e:?}");
        assert_eq!(e.status, EscalationStatus::Acknowledged);
    }
    assert_eq!(seen[0].acknowledged_by, seen[1].acknowledged_by);
    for d in [&phone, &hub] {
        assert!(
            d.store.quarantine().unwrap().is_empty(),
            "the server accepted every ward change"
        );
    }
    // The hub closes it; the phone's today list no longer shows it after sync.
    hub.store
        .escalation_event(
            &p,
            &id,
            EscalationEventKind::Outcome,
            Some("video review: stable, stays on the ward".into()),
        )
        .unwrap();
    hub.sync(&rt).unwrap();
    phone.sync(&rt).unwrap();
    assert!(phone.store.escalations(None).unwrap().is_empty());
}

#[test]
fn an_offline_escalation_through_the_server_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    escalation_through_the_server(Backend::Sqlite(dir.path().join("server")), "ward");
}

#[test]
fn an_offline_escalation_through_the_server_on_postgres() {
    let pg = Postgres::start();
    escalation_through_the_server(Backend::Postgres(pg.url.clone()), "wardpg");
}
