//! End to end, through real `doorstep serve` processes on loopback: devices that worked offline
//! converge within their scopes; faults lose and duplicate nothing; revoked, locked, out-of-scope,
//! malformed and forged traffic is refused. Each scenario runs on embedded SQLite and on
//! PostgreSQL (a private cluster), including two server processes sharing one database.

use std::collections::BTreeSet;

use chrono::Utc;
use doorstep_core::record::*;
use doorstep_core::sync::protocol;
use doorstep_core::{testing, Error};
use doorstep_tests::proxy::{Cut, Proxy};
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

/// A seeded shuffle (xorshift), so a failure can be replayed from the printed seed.
fn shuffle<T>(v: &mut [T], seed: &mut u64) {
    for i in (1..v.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        v.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

fn seed() -> u64 {
    let s = std::env::var("DOORSTEP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or(7) as u64 | 1);
    eprintln!("seed {s} (set DOORSTEP_SEED to replay)");
    s
}

fn alert(kind: AlertKind, text: &str) -> AlertInput {
    AlertInput {
        kind,
        text: text.into(),
        active: true,
    }
}

fn visit_ids(d: &Device, person: &str) -> BTreeSet<String> {
    d.store
        .patient(person)
        .ok()
        .and_then(|r| r.clinical)
        .map(|c| c.visits.into_iter().map(|v| v.id).collect())
        .unwrap_or_default()
}

/// Three devices — two nurses and an advice worker — work offline with overlapping edits and
/// sync in random orders, through one or two server processes.
fn offline_day_converges(backend: &Backend, servers: &[&ServerProc]) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "north");
    let url = |i: usize| servers[i % servers.len()].url.clone();
    let mut n1 = Device::enrol(&rt, backend, &url(0), "north-nurse1", dir.path());
    let mut n2 = Device::enrol(&rt, backend, &url(1), "north-nurse2", dir.path());
    let mut a1 = Device::enrol(&rt, backend, &url(0), "north-advice1", dir.path());

    let edith = n1
        .store
        .register_patient(testing::demographics(
            "Edith",
            "Crawley",
            Some("9434765919"),
            "HX7 8AB",
        ))
        .unwrap();
    let arthur = n1
        .store
        .register_patient(testing::demographics("Arthur", "Holroyd", None, "HX7 5QP"))
        .unwrap();
    n1.store
        .set_alert(
            &edith,
            alert(AlertKind::Allergies, "No known drug allergies"),
        )
        .unwrap();
    let first = n1.sync(&rt).unwrap();
    assert_eq!((first.round_trips, first.changes_sent), (1, 3));
    for d in [&n2, &a1] {
        let r = d.sync(&rt).unwrap();
        assert_eq!(r.people_added.len(), 2, "{r:?}");
    }
    assert!(
        a1.store.patient(&edith).unwrap().clinical.is_none(),
        "advice worker sees no clinical record without consent"
    );

    // A day offline, with overlapping edits.
    n1.store
        .set_alert(
            &edith,
            alert(AlertKind::Allergies, "Penicillin: anaphylaxis"),
        )
        .unwrap();
    n2.store
        .set_alert(&edith, alert(AlertKind::Allergies, "Latex: rash"))
        .unwrap();
    for _ in 0..3 {
        n1.store
            .record_visit(&edith, testing::full_visit(30))
            .unwrap();
        n2.store
            .record_visit(&arthur, testing::full_visit(20))
            .unwrap();
    }
    n2.store
        .record_visit(&edith, testing::full_visit(10))
        .unwrap();
    let need = a1
        .store
        .add_advice_need(
            &edith,
            AdviceCategory::UtilitiesAndCommunications,
            "Prepayment meter debt",
        )
        .unwrap();
    a1.store
        .record_advice_outcome(&edith, &need.id, "Hardship grant", 25_000)
        .unwrap();
    a1.store.set_consent_to_share(&edith, true).unwrap();
    let zed = a1
        .store
        .register_patient(testing::demographics("Zed", "Ackroyd", None, "HX1 1AA"))
        .unwrap();
    let recorded: BTreeSet<String> = visit_ids(&n1, &edith)
        .union(&visit_ids(&n2, &edith))
        .cloned()
        .collect();

    // Sync in a random order, twice round, alternating servers.
    let mut s = seed();
    let mut order = vec![0usize, 1, 2, 0, 1, 2];
    shuffle(&mut order, &mut s);
    for (round, i) in order.iter().enumerate() {
        let dev = match i {
            0 => &mut n1,
            1 => &mut n2,
            _ => &mut a1,
        };
        dev.via(&url(round));
        dev.sync(&rt).unwrap();
    }
    for d in [&n1, &n2, &a1] {
        let r = d.sync(&rt).unwrap();
        assert_eq!(r.round_trips, 1);
    }

    // The nurses hold the same documents, projections and conflicts.
    assert_eq!(
        n1.store.document_heads().unwrap(),
        n2.store.document_heads().unwrap()
    );
    assert_eq!(
        n1.store.projection_dump().unwrap(),
        n2.store.projection_dump().unwrap()
    );
    let conflicts = n1.store.conflicts(None).unwrap();
    assert_eq!(
        conflicts.len(),
        1,
        "the concurrent allergy edit is a clinical conflict"
    );
    assert_eq!(conflicts[0].values.len(), 2);
    assert_eq!(n2.store.conflicts(None).unwrap(), conflicts);
    // The advice worker, with Edith's consent, sees her clinical record and the same conflict.
    assert_eq!(a1.store.conflicts(None).unwrap(), conflicts);
    assert_eq!(visit_ids(&a1, &edith), recorded);
    assert_eq!(visit_ids(&n1, &edith), recorded, "every visit survives");
    assert_eq!(visit_ids(&n2, &arthur).len(), 3);
    // Scope: no consent for Arthur, so no clinical record for the advice worker...
    assert!(a1.store.patient(&arthur).unwrap().clinical.is_none());
    // ...and the nurses see Edith's advice record (consent) but not Arthur's (none).
    let adv = n1
        .store
        .patient(&edith)
        .unwrap()
        .advice
        .expect("consented advice record");
    assert_eq!(adv.outcomes[0].financial_gain_pence, 25_000);
    assert!(n1.store.patient(&arthur).unwrap().advice.is_none());
    // The advice worker's new client reached the team.
    assert!(n1.store.patient(&zed).unwrap().demographics.is_some());
    for d in [&n1, &n2, &a1] {
        assert!(d.store.pending_changes().unwrap().is_empty());
    }
}

/// Revocation wipes, lost-phone lock, out-of-scope writes, purge on leaving the caseload.
fn access_rules(backend: &Backend, server: &ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "east");
    team(backend, "west");
    let east = Device::enrol(&rt, backend, &server.url, "east-nurse1", dir.path());
    let west = Device::enrol(&rt, backend, &server.url, "west-nurse1", dir.path());
    let person = east
        .store
        .register_patient(testing::demographics("Ivy", "Shaw", None, "HX2 2BB"))
        .unwrap();
    east.store
        .record_visit(&person, testing::full_visit(5))
        .unwrap();
    east.sync(&rt).unwrap();

    // Out of scope: the west device never receives Ivy...
    west.sync(&rt).unwrap();
    assert!(west.store.caseload().unwrap().is_empty());
    // ...and a write to her from the west device (changes smuggled across) is refused, alone:
    // it goes into the west device's quarantine (and the server's), and the sync succeeds.
    west.store
        .import_changes(&east.store.export_changes(0).unwrap())
        .unwrap();
    west.store
        .record_visit(&person, testing::full_visit(1))
        .unwrap();
    let before = backend_changes(backend, server);
    let r = west.sync(&rt).unwrap();
    assert_eq!(r.quarantined, 1, "{r:?}");
    let q = west.store.quarantine().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].direction.as_str(), q[0].code.as_str()),
        ("outgoing", "out_of_scope")
    );
    assert!(
        q[0].reason.contains("not on your team's caseload"),
        "{}",
        q[0].reason
    );
    assert!(
        q[0].summary.contains("recorded a home visit"),
        "{}",
        q[0].summary
    );
    assert!(
        west.store.pending_changes().unwrap().is_empty(),
        "nothing jams the outbox"
    );
    assert_eq!(
        backend_changes(backend, server),
        before,
        "the refused visit is not stored in the log"
    );
    let listed = backend.admin(&["quarantine", "list"]);
    assert!(listed.contains("out_of_scope"), "{listed}");
    assert!(listed.contains(&person), "{listed}");

    // Moving Ivy to the west team: east purges her, west receives her whole record.
    let moved = backend.admin(&["move-person", &person, "west"]);
    assert!(moved.contains("from east to west"), "{moved}");
    let r = east.sync(&rt).unwrap();
    assert_eq!(r.people_purged, vec![person.clone()]);
    assert!(east.store.caseload().unwrap().is_empty());
    assert!(matches!(
        east.store.patient(&person),
        Err(Error::NotFound { .. })
    ));
    let r = west.sync(&rt).unwrap();
    assert_eq!(
        west.store
            .patient(&person)
            .unwrap()
            .clinical
            .unwrap()
            .visits
            .len(),
        1,
        "east's visit; west's refused one stays in quarantine for the nurse: {r:?}"
    );
    assert_eq!(west.store.quarantine().unwrap().len(), 1);

    // Revoked: the next sync erases the device.
    let victim = Device::enrol(&rt, backend, &server.url, "west-nurse2", dir.path());
    victim.sync(&rt).unwrap();
    assert!(!victim.store.caseload().unwrap().is_empty());
    backend.admin(&["revoke", &victim.device_id]);
    let err = victim.sync(&rt).unwrap_err();
    assert!(matches!(err, Error::Wiped), "{err}");
    assert!(!victim.path.exists(), "the database file is deleted");
    assert!(matches!(victim.store.caseload(), Err(Error::Wiped)));
}

fn backend_changes(backend: &Backend, server: &ServerProc) -> u64 {
    let _ = backend;
    // The health endpoint reports the log's sequence: equal means nothing was appended. (It
    // also reports whether the writer is busy, which says nothing about what was stored.)
    let rt = runtime();
    let text = rt.block_on(async {
        reqwest::get(format!("{}/v1/health", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("seq="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("health answer without seq: {text}"))
}

/// A device not synced for longer than the server's limit locks until it syncs.
fn lost_phone_lock(backend: &Backend) {
    let server = ServerProc::start_with(backend, &["--lock-after-days", "1"]);
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "lock");
    let d = Device::enrol(&rt, backend, &server.url, "lock-nurse1", dir.path());
    let p = d
        .store
        .register_patient(testing::demographics("Amy", "Ng", None, "HX3 3CC"))
        .unwrap();
    d.sync(&rt).unwrap();
    drop(d);
    // Two days pass without a sync (rewind the recorded sync time in the encrypted file).
    let path = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "db"))
        .unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let hex: String = testing::TEST_KEY
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
            .unwrap();
        let two_days_ago = Utc::now().timestamp_millis() - 2 * 24 * 3600 * 1000;
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'last_sync_ms'",
            [two_days_ago.to_string()],
        )
        .unwrap();
    }
    let store = doorstep_core::FieldStore::open(doorstep_core::StoreConfig::new(
        &path,
        &testing::TEST_KEY,
        path.file_stem().unwrap().to_str().unwrap(),
        doorstep_core::testing::user("lock-nurse1", Role::DistrictNurse),
    ))
    .unwrap();
    let err = store.caseload().unwrap_err();
    assert!(matches!(err, Error::Locked { days: 1 }), "{err}");
    assert!(err.to_string().contains("sync to unlock"), "{err}");
    assert!(store.patient(&p).is_err());
    let _ = server;
}

/// Malformed, truncated, oversized, forged and unauthenticated bodies: refused with a clear
/// 4xx, and nothing stored.
fn hostile_requests(backend: &Backend, server: &ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "south");
    let a = Device::enrol(&rt, backend, &server.url, "south-nurse1", dir.path());
    let b = Device::enrol(&rt, backend, &server.url, "south-nurse2", dir.path());
    let p = a
        .store
        .register_patient(testing::demographics("Bea", "Lowe", None, "HX4 4DD"))
        .unwrap();
    a.store.record_visit(&p, testing::full_visit(3)).unwrap();
    a.store.record_visit(&p, testing::full_visit(2)).unwrap();
    let outbox = a.store.sync_outbox(usize::MAX).unwrap();
    let wire: Vec<protocol::Change> = outbox.changes.clone();
    let request = |changes: Vec<protocol::Change>| protocol::SyncRequest {
        protocol: protocol::PROTOCOL_VERSION,
        app: protocol::AppVersion::current(),
        cursor: protocol::Cursor::default(),
        changes,
        max_page_bytes: 1 << 20,
        purged: vec![],
        quarantined: vec![],
    };
    let post = |token: Option<&str>, version: &str, body: Vec<u8>| -> (u16, Vec<u8>) {
        rt.block_on(async {
            let mut req = reqwest::Client::new()
                .post(format!("{}{}", server.url, protocol::SYNC_PATH))
                .header(protocol::VERSION_HEADER, version)
                .body(body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            // An oversized body is answered (413) from its announced length and the connection
            // closed before it is all sent: the sender may see the close first (status 0).
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => return (0, format!("closed while sending: {e}").into_bytes()),
            };
            let status = resp.status().as_u16();
            (status, resp.bytes().await.unwrap_or_default().to_vec())
        })
    };
    let before = backend_changes(backend, server);
    let tb = b.endpoint.device_token.as_str();
    let ta = a.endpoint.device_token.as_str();
    let good = protocol::encode(&request(wire.clone()));
    // Whole requests that cannot be taken: a clear 4xx and nothing stored.
    let cases: Vec<(&str, Option<&str>, &str, Vec<u8>, u16, &str)> = vec![
        ("no token", None, "2", good.clone(), 401, "not enrolled"),
        (
            "bad token",
            Some("0123"),
            "2",
            good.clone(),
            401,
            "not enrolled",
        ),
        (
            "wrong protocol",
            Some(ta),
            "99",
            good.clone(),
            426,
            "protocol",
        ),
        (
            "garbage",
            Some(ta),
            "2",
            b"this is not a sync body".to_vec(),
            400,
            "malformed",
        ),
        (
            "truncated",
            Some(ta),
            "2",
            good[..good.len() / 2].to_vec(),
            400,
            "malformed",
        ),
        (
            "oversized",
            Some(ta),
            "2",
            vec![0u8; protocol::MAX_BODY_BYTES + 1],
            413,
            "",
        ),
    ];
    for (what, token, version, body, status, needle) in cases {
        let (got, text) = post(token, version, body);
        let text = String::from_utf8_lossy(&text).to_string();
        if status == 413 && got == 0 {
            assert!(text.contains("closed while sending"), "{what}: {text}");
        } else {
            assert_eq!(got, status, "{what}: {text}");
            assert!(text.contains(needle), "{what}: {text}");
        }
        assert_eq!(
            backend_changes(backend, server),
            before,
            "{what}: nothing stored"
        );
    }
    // Bad changes inside a good request: each refused with its reason, nothing of it stored.
    let verdicts = |token: &str, changes: Vec<protocol::Change>| -> protocol::Verdicts {
        let (status, body) = post(Some(token), "2", protocol::encode(&request(changes)));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        protocol::decode::<protocol::SyncResponse>(&body)
            .unwrap()
            .verdicts
    };
    let v = verdicts(tb, wire.clone());
    assert_eq!(v.stored, 0, "another device's changes are not stored");
    assert_eq!(v.refused.len(), 3);
    assert_eq!(v.refused[0].code, "forged_author", "{:?}", v.refused[0]);
    assert!(
        v.refused[0].message.contains("enrolled as"),
        "{:?}",
        v.refused[0]
    );
    assert_eq!(backend_changes(backend, server), before);
    let mut corrupt = wire.clone();
    let n = corrupt[1].bytes.len();
    corrupt[1].bytes[n - 5] ^= 0xff;
    let v = verdicts(
        ta,
        vec![wire[0].clone(), corrupt[1].clone(), wire[2].clone()],
    );
    assert_eq!(v.stored, 1, "the good first change is stored");
    let codes: Vec<&str> = v.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        ["malformed", "missing_dependency"],
        "{:?}",
        v.refused
    );
    assert_eq!(backend_changes(backend, server), before + 1);
    // Through the client: a wrong token is an authentication error the user can act on.
    let mut stranger = Device::enrol(&rt, backend, &server.url, "south-advice1", dir.path());
    stranger.endpoint.device_token = "not-a-token".into();
    let err = stranger.sync(&rt).unwrap_err();
    assert!(matches!(err, Error::AuthFailed), "{err}");
    assert!(err.to_string().contains("enrol the device again"), "{err}");
    // The genuine request goes through, exactly once even if sent twice.
    let v = verdicts(ta, wire.clone());
    assert_eq!((v.stored, v.already_held, v.refused.len()), (2, 1, 0));
    let after_one = backend_changes(backend, server);
    let v = verdicts(ta, wire);
    assert_eq!((v.stored, v.already_held), (0, 3));
    assert_eq!(
        backend_changes(backend, server),
        after_one,
        "a change sent twice is stored once"
    );
}

/// Connections cut mid-request and mid-response: retries converge, nothing lost or duplicated.
fn cut_connections(backend: &Backend, server: &ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "cut");
    let upstream: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let mut a = Device::enrol(&rt, backend, &server.url, "cut-nurse1", dir.path());
    let b = Device::enrol(&rt, backend, &server.url, "cut-nurse2", dir.path());
    let p = a
        .store
        .register_patient(testing::demographics("Cal", "Dyer", None, "HX5 5EE"))
        .unwrap();
    let mut b = b;
    for (up, down) in [
        (Cut::Request(150), Cut::Response(60)),
        (Cut::Request(700), Cut::Response(1_200)),
    ] {
        for i in 0..5 {
            a.store.record_visit(&p, testing::full_visit(i)).unwrap();
        }
        // Upload through a proxy that cuts the first two requests...
        let proxy = rt.block_on(Proxy::start(upstream, up, 2));
        a.via(&proxy.url);
        a.sync(&rt).expect("retries get the upload through");
        assert_eq!(
            proxy.connections.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "{up:?}: two cut, one through"
        );
        assert!(a.store.pending_changes().unwrap().is_empty(), "{up:?}");
        // ...and download through one that cuts the first two responses.
        let proxy = rt.block_on(Proxy::start(upstream, down, 2));
        b.via(&proxy.url);
        b.sync(&rt).expect("retries get the download through");
        assert_eq!(
            proxy.connections.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "{down:?}: two cut, one through"
        );
    }
    b.sync(&rt).unwrap();
    assert_eq!(visit_ids(&b, &p), visit_ids(&a, &p));
    assert_eq!(visit_ids(&b, &p).len(), 10);
    if let Backend::Sqlite(dir) = backend {
        let (rows, distinct) = doorstep_tests::sqlite_server_counts(dir);
        assert_eq!(rows, distinct, "no change stored twice");
    }
}

/// The server killed with SIGKILL mid-sync and restarted: nothing acknowledged is lost.
fn server_killed_mid_sync(backend: &Backend, server: &mut ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "kill");
    let a = Device::enrol(&rt, backend, &server.url, "kill-nurse1", dir.path());
    let p = a
        .store
        .register_patient(testing::demographics("Dot", "Eyre", None, "HX6 6FF"))
        .unwrap();
    for i in 0..10 {
        a.store.record_visit(&p, testing::full_visit(i)).unwrap();
    }
    a.sync(&rt).unwrap();
    let acked = visit_ids(&a, &p);
    for i in 0..200 {
        a.store.record_visit(&p, testing::full_visit(i)).unwrap();
    }
    // Kill the server while the device's big sync is in flight.
    let endpoint = a.endpoint.clone();
    let handle = std::thread::scope(|s| {
        let t = s.spawn(|| {
            rt.block_on(doorstep_core::sync::sync_with(
                &a.store,
                &endpoint,
                &doorstep_core::sync::SyncOptions {
                    attempts: 1,
                    ..Default::default()
                },
                None,
            ))
        });
        std::thread::sleep(std::time::Duration::from_millis(30));
        server.kill();
        t.join().unwrap()
    });
    server.restart();
    // Whatever happened, a fresh device sees every acknowledged visit, and after the device
    // syncs again, every visit.
    let b = Device::enrol(&rt, backend, &server.url, "kill-nurse2", dir.path());
    b.sync(&rt).unwrap();
    assert!(
        acked.is_subset(&visit_ids(&b, &p)),
        "acknowledged visits survived the kill ({handle:?})"
    );
    a.sync(&rt).unwrap();
    b.sync(&rt).unwrap();
    assert_eq!(visit_ids(&b, &p).len(), 210);
    assert!(a.store.pending_changes().unwrap().is_empty());
}

/// A large backlog arrives in bounded pages with progress; a visit recorded while the sync is in
/// flight is neither lost nor marked sent.
fn paged_backlog_with_progress(backend: &Backend, server: &ServerProc) {
    use doorstep_core::sync::{SyncOptions, SyncProgress, SyncProgressEvent};
    use std::sync::Mutex;

    struct Recorder<'a> {
        events: Mutex<Vec<SyncProgressEvent>>,
        store: &'a doorstep_core::FieldStore,
        person: String,
        recorded: Mutex<Option<String>>,
    }
    impl SyncProgress for Recorder<'_> {
        fn on_progress(&self, e: &SyncProgressEvent) {
            self.events.lock().unwrap().push(e.clone());
            let mut r = self.recorded.lock().unwrap();
            if r.is_none() {
                let v = self
                    .store
                    .record_visit(&self.person, testing::full_visit(0))
                    .unwrap();
                *r = Some(v.visit.id);
            }
        }
    }

    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "page");
    let a = Device::enrol(&rt, backend, &server.url, "page-nurse1", dir.path());
    let b = Device::enrol(&rt, backend, &server.url, "page-nurse2", dir.path());
    // 32 people × 40 visits: as snapshots (one every 16 changes on the server) about 200 KB.
    let people: Vec<String> = (0..32)
        .map(|i| {
            a.store
                .register_patient(testing::demographics(
                    &format!("P{i}"),
                    "Page",
                    None,
                    "HX9 9ZZ",
                ))
                .unwrap()
        })
        .collect();
    for p in &people {
        for i in 0..40 {
            a.store.record_visit(p, testing::full_visit(i)).unwrap();
        }
    }
    a.sync(&rt).unwrap();
    // b knows the first person already, so it can record a visit for them mid-sync.
    b.store
        .import_changes(&a.store.export_changes(0).unwrap())
        .unwrap();
    let rec = Recorder {
        events: Mutex::new(vec![]),
        store: &b.store,
        person: people[0].clone(),
        recorded: Mutex::new(None),
    };
    let options = SyncOptions {
        max_page_bytes: 64 * 1024,
        ..Default::default()
    };
    let report = rt
        .block_on(doorstep_core::sync::sync_with(
            &b.store,
            &b.endpoint,
            &options,
            Some(&rec),
        ))
        .unwrap();
    let events = rec.events.lock().unwrap().clone();
    assert!(
        report.round_trips >= 3,
        "1,280 visits in 64 KB pages take several trips: {report:?}"
    );
    assert_eq!(events.len() as u32, report.round_trips);
    assert!(
        events.windows(2).all(|w| w[1].remaining <= w[0].remaining),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap().remaining, 0);
    let mid = rec.recorded.lock().unwrap().clone().unwrap();
    let pending = b.store.pending_changes().unwrap();
    assert!(
        b.store
            .patient(&people[0])
            .unwrap()
            .clinical
            .unwrap()
            .visits
            .iter()
            .any(|v| v.id == mid),
        "the visit recorded mid-sync is kept"
    );
    // It was either sent by a later page's request (and acknowledged) or is still pending.
    let r2 = b.sync(&rt).unwrap();
    assert!(
        b.store.pending_changes().unwrap().is_empty(),
        "{pending:?} {r2:?}"
    );
    a.sync(&rt).unwrap();
    assert!(
        visit_ids(&a, &people[0]).contains(&mid),
        "the mid-sync visit reached the server"
    );
    for p in &people {
        assert_eq!(visit_ids(&b, p), visit_ids(&a, p));
    }
}

fn sqlite_backend() -> (tempfile::TempDir, Backend) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    (dir, backend)
}

#[test]
fn sqlite_offline_day_converges() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    offline_day_converges(&backend, &[&server]);
}

#[test]
fn sqlite_access_rules() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    access_rules(&backend, &server);
    lost_phone_lock(&backend);
}

#[test]
fn sqlite_hostile_requests() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    hostile_requests(&backend, &server);
}

#[test]
fn sqlite_paged_backlog_with_progress() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    paged_backlog_with_progress(&backend, &server);
}

#[test]
fn sqlite_faults() {
    let (_d, backend) = sqlite_backend();
    let mut server = ServerProc::start(&backend);
    cut_connections(&backend, &server);
    server_killed_mid_sync(&backend, &mut server);
    assert!(server.interrupt(), "Ctrl-C shuts the server down cleanly");
}

#[test]
fn postgres_suite_with_two_servers() {
    let pg = Postgres::start();
    let backend = Backend::Postgres(pg.url.clone());
    let mut s1 = ServerProc::start(&backend);
    let s2 = ServerProc::start(&backend);
    offline_day_converges(&backend, &[&s1, &s2]);
    access_rules(&backend, &s2);
    lost_phone_lock(&backend);
    hostile_requests(&backend, &s1);
    cut_connections(&backend, &s2);
    paged_backlog_with_progress(&backend, &s1);
    server_killed_mid_sync(&backend, &mut s1);
    let mut s2 = s2;
    assert!(
        s2.stop_with("-TERM"),
        "SIGTERM shuts a PostgreSQL-backed server down cleanly"
    );
}
