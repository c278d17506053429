//! Consent to share shown to both sides (issue 14, items 1 and 6) through a real `doorstep
//! serve`: the advice worker records it in the advice record; the server notes it in the
//! clinical record for the health team, as its own principal; after a withdrawal the advice
//! record leaves the nurse's phone and "withdrawn on D, recorded by …" stays. SQLite and
//! PostgreSQL.

use doorstep_core::record::AdviceCategory;
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

fn consent_both_sides(backend: &Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(backend);
    let rt = runtime();
    team(backend, prefix);
    let adviser = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{prefix}-advice1"),
        dir.path(),
    );
    let nurse = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{prefix}-nurse1"),
        dir.path(),
    );
    let p = adviser
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    adviser
        .store
        .add_advice_need(&p, AdviceCategory::Debt, "Council tax arrears")
        .unwrap();
    adviser.store.set_consent_to_share(&p, true).unwrap();
    adviser.sync(&rt).unwrap();

    let report = nurse.sync(&rt).unwrap();
    assert_eq!(report.round_trips, 1, "{report:?}");
    let record = nurse.store.patient(&p).unwrap();
    assert!(
        record.advice.is_some(),
        "consent given: the nurse reads the advice record"
    );
    let note = record
        .clinical
        .unwrap()
        .advice_consent
        .expect("the server's note");
    assert!(note.consented && !note.in_conflict, "{note:?}");
    assert!(note.words().contains("given on"), "{}", note.words());
    assert!(
        note.author.device_id.starts_with("server:"),
        "{:?}",
        note.author
    );
    assert!(
        note.recorded_by.contains("advice worker"),
        "{}",
        note.recorded_by
    );

    // Withdrawn: the advice record leaves the nurse's phone and the withdrawal stays visible.
    adviser.store.set_consent_to_share(&p, false).unwrap();
    adviser.sync(&rt).unwrap();
    nurse.sync(&rt).unwrap();
    let record = nurse.store.patient(&p).unwrap();
    assert!(
        record.advice.is_none(),
        "the advice record left the nurse's phone"
    );
    let note = record
        .clinical
        .unwrap()
        .advice_consent
        .expect("the withdrawal, noted");
    assert!(!note.consented, "{note:?}");
    assert!(
        note.words()
            .starts_with("Consent to share the advice record withdrawn or not given on"),
        "{}",
        note.words()
    );
    let history = nurse.store.history(&p).unwrap();
    assert!(
        history.iter().any(|h| h
            .summary
            .starts_with("noted for the health team: Consent to share")),
        "{history:?}"
    );
}

#[test]
fn consent_to_share_is_shown_to_both_sides_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    consent_both_sides(&Backend::Sqlite(dir.path().join("server")), "cs");
}

#[test]
fn consent_to_share_is_shown_to_both_sides_on_postgres() {
    let pg = Postgres::start();
    consent_both_sides(&Backend::Postgres(pg.url.clone()), "cspg");
}
