//! A new phone's first sync by snapshots (issue 11, docs/decisions/0010) through a real
//! `doorstep serve`, on SQLite and PostgreSQL: the server's stored snapshots travel with the
//! changes after them, in pages; a sync cut after its first page shows that page's people and
//! carries on from its cursor; the store it makes is the store a sync by changes makes (heads,
//! caseload, every record and its history, projections rebuilt).

use doorstep_core::record::Compartment;
use doorstep_core::sync::protocol::{self, SyncResponse};
use doorstep_core::sync::{Next, Session, SessionOptions, SyncOptions};
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

const PAGE: u32 = 64 * 1024;

/// One page of a sync, then the sync is cut (the session dropped, as when the app is killed).
fn one_page_then_cut(rt: &tokio::runtime::Runtime, d: &Device) -> (SyncResponse, u64) {
    let mut session = Session::new(SessionOptions {
        max_page_bytes: PAGE,
        ..Default::default()
    });
    let request = session.start(&d.store).unwrap();
    assert!(
        request.cursor.in_snapshot_phase(),
        "a new phone asks for snapshots"
    );
    let body = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}{}", d.endpoint.url, protocol::SYNC_PATH))
            .bearer_auth(&d.endpoint.device_token)
            .header(reqwest::header::CONTENT_TYPE, protocol::MEDIA_TYPE)
            .header(
                protocol::VERSION_HEADER,
                protocol::PROTOCOL_VERSION.to_string(),
            )
            .body(protocol::encode(&request))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    let response: SyncResponse = protocol::decode(&body).unwrap();
    let copy = response.clone();
    match session.receive(&d.store, response).unwrap() {
        Next::Request(_) => {}
        Next::Done(r) => panic!("the first page should not be the last: {r:?}"),
    }
    (copy, body.len() as u64)
}

fn paged_sync(rt: &tokio::runtime::Runtime, d: &Device) -> doorstep_core::sync::SyncReport {
    let options = SyncOptions {
        max_page_bytes: PAGE,
        ..Default::default()
    };
    rt.block_on(doorstep_core::sync::sync_with(
        &d.store,
        &d.endpoint,
        &options,
        None,
    ))
    .unwrap()
}

fn first_sync_by_snapshots(backend: Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(&backend);
    let rt = runtime();
    team(&backend, prefix);
    let nurse3 = format!("{prefix}-nurse3");
    backend.admin(&[
        "create-user",
        &nurse3,
        "--name",
        "Third nurse",
        "--role",
        "district-nurse",
        "--team",
        prefix,
    ]);
    let a = Device::enrol(
        &rt,
        &backend,
        &server.url,
        &format!("{prefix}-nurse1"),
        dir.path(),
    );
    // This phone synced before there was anything: it takes what follows as changes.
    let by_changes = Device::enrol(&rt, &backend, &server.url, &nurse3, dir.path());
    by_changes.sync(&rt).unwrap();

    let people: Vec<String> = (0..4)
        .map(|i| {
            a.store
                .register_patient(testing::demographics(
                    &format!("P{i}"),
                    "Snapshot",
                    None,
                    "HX7 8AB",
                ))
                .unwrap()
        })
        .collect();
    // 70 visits each, uploaded in one request: more than the server's compaction threshold,
    // so each clinical document gets a stored snapshot; then 5 more each, after it.
    for p in &people {
        for i in 0..70 {
            a.store.record_visit(p, testing::full_visit(i)).unwrap();
        }
    }
    a.sync(&rt).unwrap();
    for p in &people {
        for i in 0..5 {
            a.store
                .record_visit(p, testing::full_visit(100 + i))
                .unwrap();
        }
    }
    a.sync(&rt).unwrap();

    let by_snapshot = Device::enrol(&rt, &backend, &server.url, &nurse3, dir.path());
    let (first, first_bytes) = one_page_then_cut(&rt, &by_snapshot);
    assert!(
        !first.snapshots.is_empty(),
        "the first page carries snapshots"
    );
    assert!(first.more && first.remaining > 0, "{:?}", first.cursor);
    // Cut after one page: a page of snapshots derives its own people's rows, so the people
    // whose records came on it are shown already, from what the phone holds, and nobody else.
    let on_page: std::collections::BTreeSet<&str> = first
        .snapshots
        .iter()
        .map(|s| s.person_id.as_str())
        .chain(first.changes.iter().map(|c| c.person_id.as_str()))
        .collect();
    let shown = by_snapshot.store.caseload().unwrap();
    assert!(!shown.is_empty(), "the first page's people are shown");
    assert!(shown.len() < people.len(), "only the first page's people");
    for e in &shown {
        assert!(
            on_page.contains(e.person_id.as_str()),
            "{} shown",
            e.person_id
        );
    }
    let rest = paged_sync(&rt, &by_snapshot);
    assert!(
        rest.changes_received > 0,
        "it carried on from its cursor: {rest:?}"
    );
    // Bytes are about even on this repetitive data (zstd over many similar changes does as well
    // as Automerge's compressed columns); what snapshots save is the per-change work.
    let report = by_changes.sync(&rt).unwrap();
    println!(
        "down: {} bytes by snapshots, {} by changes",
        rest.bytes_received + first_bytes,
        report.bytes_received
    );
    assert_eq!(
        by_snapshot.store.document_heads().unwrap(),
        by_changes.store.document_heads().unwrap()
    );
    assert_eq!(
        by_snapshot.store.document_heads().unwrap(),
        a.store.document_heads().unwrap()
    );
    assert_eq!(
        by_snapshot.store.caseload().unwrap(),
        by_changes.store.caseload().unwrap()
    );
    assert_eq!(by_snapshot.store.caseload().unwrap().len(), people.len());
    for p in &people {
        let record = by_snapshot.store.patient(p).unwrap();
        assert_eq!(record.clinical.as_ref().unwrap().visits.len(), 75);
        assert_eq!(record, by_changes.store.patient(p).unwrap());
        assert_eq!(
            by_snapshot.store.history(p).unwrap(),
            by_changes.store.history(p).unwrap()
        );
    }
    by_snapshot.store.rebuild_projections().unwrap();
    assert_eq!(
        by_snapshot.store.caseload().unwrap(),
        by_changes.store.caseload().unwrap()
    );
    assert!(by_snapshot.store.quarantine().unwrap().is_empty());

    // Later syncs are ordinary: a visit recorded on a reaches both the same way.
    a.store
        .record_visit(&people[0], testing::full_visit(500))
        .unwrap();
    a.sync(&rt).unwrap();
    by_snapshot.sync(&rt).unwrap();
    by_changes.sync(&rt).unwrap();
    assert_eq!(
        by_snapshot.store.document_heads().unwrap(),
        by_changes.store.document_heads().unwrap()
    );
    // And the snapshot phone's own work reaches the server.
    by_snapshot
        .store
        .record_visit(&people[1], testing::full_visit(600))
        .unwrap();
    by_snapshot.sync(&rt).unwrap();
    a.sync(&rt).unwrap();
    let heads = |d: &Device| {
        d.store
            .document_heads()
            .unwrap()
            .into_iter()
            .filter(|(p, c, _)| p == &people[1] && *c == Compartment::Clinical)
            .collect::<Vec<_>>()
    };
    assert_eq!(heads(&a), heads(&by_snapshot));
}

#[test]
fn first_sync_by_snapshots_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    first_sync_by_snapshots(Backend::Sqlite(dir.path().join("server")), "snap");
}

#[test]
fn first_sync_by_snapshots_on_postgres() {
    let pg = Postgres::start();
    first_sync_by_snapshots(Backend::Postgres(pg.url.clone()), "snappg");
}
