//! Issue 8, through real `doorstep serve` processes on SQLite and PostgreSQL: one bad change
//! never stops a team. Each scenario of the "Why" ends with the bad change refused or
//! quarantined with a message a person can act on, and every other change of the same device and
//! team synced.

use std::io::Write;

use automerge::ActorId;
use doorstep_core::record::layout::AuditStamp;
use doorstep_core::record::{Compartment, Note, Role};
use doorstep_core::sync::protocol::{self, Instruction};
use doorstep_core::testing::{self, fuzz};
use doorstep_core::{ids, Error};
use doorstep_tests::wire::{self, author, forge};
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

fn note_json(device: &Device, text: &str) -> (String, String) {
    let n = Note {
        id: ids::new_id(),
        visit_id: None,
        text: text.into(),
        author: author(device),
    };
    (format!("note:{}", n.id), serde_json::to_string(&n).unwrap())
}

fn stamp(device: &Device) -> AuditStamp {
    AuditStamp::new(&author(device), "added a note")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The actor of a device's store, read from one of its changes.
fn actor_of(device: &Device) -> ActorId {
    let batch = device.store.export_changes(0).unwrap();
    let change = automerge::Change::from_bytes(batch.changes[0].bytes.clone()).unwrap();
    change.actor_id().clone()
}

/// A deflate bomb: a compressed Automerge chunk that would inflate to 64 MiB (from ~64 KB).
fn deflate_bomb() -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    fuzz::seal(2, &enc.finish().unwrap())
}

/// Bad changes of every kind, each in a request with good ones: the bad are refused with their
/// reason, the good stored, and the rest of the team — a device enrolled afterwards too — syncs
/// and reads every record.
fn bad_changes_are_refused_alone(backend: &Backend, server: &ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "rr");
    let nurse = Device::enrol(&rt, backend, &server.url, "rr-nurse1", dir.path());
    let colleague = Device::enrol(&rt, backend, &server.url, "rr-nurse2", dir.path());
    let advice = Device::enrol(&rt, backend, &server.url, "rr-advice1", dir.path());
    let p = nurse
        .store
        .register_patient(testing::demographics("Ada", "Bloom", None, "HX1 1AA"))
        .unwrap();
    nurse
        .store
        .record_visit(&p, testing::full_visit(10))
        .unwrap();
    nurse.sync(&rt).unwrap();
    advice.sync(&rt).unwrap();

    let s = stamp(&nurse);
    let fresh = ActorId::random;
    let (key, json) = note_json(&nurse, "good note");
    let good = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &s,
        now_ms(),
        &[(&key, json)],
    );
    let not_json = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &s,
        now_ms(),
        &[(
            &format!("note:{}", ids::new_id()),
            "this is not JSON".into(),
        )],
    );
    let mut renamed = s.clone();
    renamed.display_name = "Dr Somebody Else".into();
    let (k2, j2) = note_json(&nurse, "forged name");
    let forged_name = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &renamed,
        now_ms(),
        &[(&k2, j2)],
    );
    let mut promoted = s.clone();
    promoted.role = Role::VirtualWardClinician;
    let (k3, j3) = note_json(&nurse, "forged role");
    let forged_role = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &promoted,
        now_ms(),
        &[(&k3, j3)],
    );
    // The nurse's own actor again at sequence 1: what a phone restored from a backup sends.
    let (k4, j4) = note_json(&nurse, "same actor, same number");
    let reused = forge(
        &p,
        Compartment::Clinical,
        actor_of(&nurse),
        &s,
        now_ms(),
        &[(&k4, j4)],
    );
    let bomb = protocol::Change {
        person_id: p.clone(),
        compartment: Compartment::Clinical,
        bytes: deflate_bomb(),
    };
    let request = wire::request(vec![not_json, good, forged_name, forged_role, reused, bomb]);
    let r = wire::post(&rt, &nurse, &request).expect("a request with bad changes is answered");
    assert_eq!(r.verdicts.stored, 1, "{:?}", r.verdicts);
    let codes: Vec<(u32, &str)> = r
        .verdicts
        .refused
        .iter()
        .map(|x| (x.index, x.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            (0, "invalid_content"),
            (2, "forged_author"),
            (3, "forged_author"),
            (4, "actor_seq_reused"),
            (5, "compressed")
        ],
        "{:?}",
        r.verdicts.refused
    );
    for x in &r.verdicts.refused {
        assert!(x.message.len() > 20, "a message a person can read: {x:?}");
    }
    assert!(r.instructions.contains(&Instruction::ResetActor));

    // A phone clock two days fast, or before the device was enrolled: stored, not refused, and
    // the server's receive time comes back beside it.
    let day = 24 * 3600 * 1000;
    let (k6, j6) = note_json(&nurse, "clock fast");
    let fast = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &s,
        now_ms() + 2 * day,
        &[(&k6, j6)],
    );
    let (k7, j7) = note_json(&nurse, "clock slow");
    let slow = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &s,
        946_684_800_000,
        &[(&k7, j7)],
    );
    let r = wire::post(&rt, &nurse, &wire::request(vec![fast, slow])).unwrap();
    assert_eq!(r.verdicts.stored, 2, "{:?}", r.verdicts);
    assert_eq!(r.clock_notes.len(), 2, "{:?}", r.clock_notes);
    assert!(r
        .clock_notes
        .iter()
        .all(|n| (n.received_ms - now_ms()).abs() < 60_000));

    // An advice worker's clinical entry is refused by the policy; their advice entry is stored.
    let sa = AuditStamp::new(&author(&advice), "added a note");
    let (k5, j5) = note_json(&advice, "not mine to write");
    let clinical = forge(
        &p,
        Compartment::Clinical,
        fresh(),
        &sa,
        now_ms(),
        &[(&k5, j5)],
    );
    let need = advice
        .store
        .add_advice_need(&p, doorstep_core::AdviceCategory::Debt, "Rent arrears")
        .unwrap();
    let mut outbox = advice.store.sync_outbox(usize::MAX).unwrap().changes;
    outbox.insert(0, clinical);
    let r = wire::post(&rt, &advice, &wire::request(outbox)).unwrap();
    assert_eq!(r.verdicts.stored, 1);
    assert_eq!(r.verdicts.refused.len(), 1);
    assert_eq!(r.verdicts.refused[0].code, "forbidden");
    assert!(
        r.verdicts.refused[0]
            .message
            .contains("may not write the clinical record"),
        "{:?}",
        r.verdicts.refused[0]
    );

    // The team keeps syncing, and a device enrolled now reads everything the server holds.
    for d in [&nurse, &colleague, &advice] {
        let r = d.sync(&rt).unwrap();
        assert_eq!(
            r.quarantined, 0,
            "nothing the server stored is unreadable: {r:?}"
        );
    }
    let newcomer = Device::enrol(&rt, backend, &server.url, "rr-nurse1", dir.path());
    let r = newcomer.sync(&rt).unwrap();
    assert_eq!(r.quarantined, 0, "{r:?}");
    let record = newcomer.store.patient(&p).unwrap();
    let mut notes: Vec<String> = record
        .clinical
        .unwrap()
        .notes
        .into_iter()
        .map(|n| n.text)
        .collect();
    notes.sort();
    assert_eq!(notes, ["clock fast", "clock slow", "good note"]);
    // Every device that reads those notes' history is told the phone's clock was wrong.
    for d in [&newcomer, &colleague] {
        let history = d.store.history(&p).unwrap();
        let wrong: Vec<&str> = history
            .iter()
            .filter(|h| h.server_received.is_some())
            .map(|h| h.sentence.as_str())
            .collect();
        assert_eq!(wrong.len(), 2, "{history:#?}");
        assert!(
            wrong.iter().all(|s| s.contains("device clock wrong")),
            "{wrong:?}"
        );
    }
    assert_eq!(
        colleague
            .store
            .patient(&p)
            .unwrap()
            .clinical
            .unwrap()
            .visits
            .len(),
        1
    );
    let _ = need;
}

/// A phone restored from a backup reuses its actor's sequence numbers. The server refuses the
/// first such change and says so; the phone switches to a new actor and writes its unsent visits
/// again, in the same sync; nothing is lost and nothing is quarantined.
fn restored_from_backup(backend: &Backend, server: &ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "bk");
    let nurse = Device::enrol(&rt, backend, &server.url, "bk-nurse1", dir.path());
    let colleague = Device::enrol(&rt, backend, &server.url, "bk-nurse2", dir.path());
    let p = nurse
        .store
        .register_patient(testing::demographics("Bo", "Peep", None, "HX2 2BB"))
        .unwrap();
    nurse.sync(&rt).unwrap();
    let backup = dir.path().join("backup.db");
    nurse.store.compact_now().unwrap();
    std::fs::copy(&nurse.path, &backup).unwrap();
    nurse
        .store
        .record_visit(&p, testing::full_visit(40))
        .unwrap();
    nurse.sync(&rt).unwrap();
    let user = nurse.user.clone();
    let (device_id, endpoint, path) = (
        nurse.device_id.clone(),
        nurse.endpoint.clone(),
        nurse.path.clone(),
    );
    drop(nurse);
    std::fs::copy(&backup, &path).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = doorstep_core::FieldStore::open(doorstep_core::StoreConfig::new(
        &path,
        &testing::TEST_KEY,
        &device_id,
        user.clone(),
    ))
    .unwrap();
    let restored = Device {
        store,
        endpoint,
        user,
        device_id,
        path,
    };
    let second = restored
        .store
        .record_visit(&p, testing::full_visit(20))
        .unwrap();
    let r = restored.sync(&rt).unwrap();
    assert_eq!((r.rewritten, r.quarantined), (1, 0), "{r:?}");
    assert!(
        restored.store.pending_changes().unwrap().is_empty(),
        "{r:?}"
    );
    colleague.sync(&rt).unwrap();
    let visits: Vec<String> = colleague
        .store
        .patient(&p)
        .unwrap()
        .clinical
        .unwrap()
        .visits
        .into_iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(visits.len(), 2, "both visits reached the team: {visits:?}");
    assert!(visits.contains(&second.visit.id));
}

/// A person whose history is larger than a page, moved into a team: the history arrives over
/// several pages and the cursor keeps moving.
fn large_history_is_paged(backend: &Backend, server: &ServerProc) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "pa");
    team(backend, "pb");
    let a = Device::enrol(&rt, backend, &server.url, "pa-nurse1", dir.path());
    let b = Device::enrol(&rt, backend, &server.url, "pb-nurse1", dir.path());
    let p = a
        .store
        .register_patient(testing::demographics("Cy", "Long", None, "HX3 3CC"))
        .unwrap();
    for i in 0..80 {
        a.store
            .record_visit(&p, testing::full_visit(1000 + i))
            .unwrap();
    }
    a.sync(&rt).unwrap();
    // b has synced before, so the person enters its scope mid-life (a new phone's first sync
    // takes documents whole, as snapshots: tests/tests/first_sync.rs).
    b.sync(&rt).unwrap();
    backend.admin(&["move-person", &p, "pb"]);
    let options = doorstep_core::sync::SyncOptions {
        max_page_bytes: 64 * 1024,
        ..Default::default()
    };
    let r = rt
        .block_on(doorstep_core::sync::sync_with(
            &b.store,
            &b.endpoint,
            &options,
            None,
        ))
        .unwrap();
    assert!(r.round_trips >= 3, "the history was split: {r:?}");
    assert_eq!(
        b.store.patient(&p).unwrap().clinical.unwrap().visits.len(),
        80
    );
}

/// At least 100,000 mutated changes, in batches, through a real server: no panic escapes (every
/// request answered), nothing a phone then cannot read is stored, and the team keeps syncing.
fn fuzzed_changes(backend: &Backend, server: &ServerProc, total: usize) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "fz");
    let nurse = Device::enrol(&rt, backend, &server.url, "fz-nurse1", dir.path());
    let advice = Device::enrol(&rt, backend, &server.url, "fz-advice1", dir.path());
    let p = nurse
        .store
        .register_patient(testing::demographics("Di", "Fuzz", None, "HX4 4DD"))
        .unwrap();
    nurse
        .store
        .record_visit(&p, testing::full_visit(30))
        .unwrap();
    nurse.store.add_note(&p, None, "Spoke to the GP").unwrap();
    let q = advice
        .store
        .register_patient(testing::demographics("Em", "Fuzz", None, "HX4 4DE"))
        .unwrap();
    advice
        .store
        .add_advice_need(&q, doorstep_core::AdviceCategory::Housing, "Damp")
        .unwrap();
    let seeds: Vec<(&Device, Vec<protocol::Change>)> = [&nurse, &advice]
        .into_iter()
        .map(|d| (d, d.store.sync_outbox(usize::MAX).unwrap().changes))
        .collect();
    nurse.sync(&rt).unwrap();
    advice.sync(&rt).unwrap();
    let mut rng = fuzz::Rng::new(0xD00E_57E9);
    let batch = 2_000;
    let mut sent = 0;
    let mut stored = 0u64;
    while sent < total {
        for (device, base) in &seeds {
            let changes: Vec<protocol::Change> = (0..batch / 2)
                .map(|i| {
                    let c = &base[i % base.len()];
                    protocol::Change {
                        bytes: fuzz::mutate(&c.bytes, &mut rng),
                        ..c.clone()
                    }
                })
                .collect();
            sent += changes.len();
            let r = wire::post(&rt, device, &wire::request(changes))
                .unwrap_or_else(|e| panic!("every request is answered: {e:?}"));
            stored += u64::from(r.verdicts.stored);
        }
    }
    // The genuine work still syncs. A mutated copy that passed every check may have taken the
    // device's next change number (anyone holding its token could): the device then switches
    // actor and writes its entry again, and nothing it receives is quarantined.
    nurse
        .store
        .record_visit(&p, testing::full_visit(5))
        .unwrap();
    advice
        .store
        .add_advice_need(&q, doorstep_core::AdviceCategory::Debt, "Arrears")
        .unwrap();
    for d in [&nurse, &advice] {
        let r = d.sync(&rt).unwrap();
        assert!(d.store.pending_changes().unwrap().is_empty(), "{r:?}");
        for e in d.store.quarantine().unwrap() {
            assert_eq!(
                e.direction, "outgoing",
                "nothing received is unreadable: {e:?}"
            );
        }
    }
    let newcomer = Device::enrol(&rt, backend, &server.url, "fz-nurse2", dir.path());
    let r = newcomer.sync(&rt).unwrap();
    assert_eq!(
        r.quarantined, 0,
        "nothing stored that a phone cannot read: {r:?}"
    );
    for person in newcomer.store.caseload().unwrap() {
        newcomer.store.patient(&person.person_id).unwrap();
    }
    assert!(
        !newcomer
            .store
            .patient(&p)
            .unwrap()
            .clinical
            .unwrap()
            .visits
            .is_empty(),
        "the genuine visits arrived"
    );
    eprintln!("fuzzed {sent} mutated changes through the server; {stored} passed every check");
}

/// A first-release phone (protocol 1) is still answered with the same rules; a request of it with
/// a bad change stores nothing and says to update the app; after the cut-off it is told to update.
fn version_1_phones(backend: &Backend, server: &ServerProc) {
    use doorstep_core::sync::protocol::v1;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    team(backend, "v1");
    let nurse = Device::enrol(&rt, backend, &server.url, "v1-nurse1", dir.path());
    let p = nurse
        .store
        .register_patient(testing::demographics("Old", "Phone", None, "HX5 5EE"))
        .unwrap();
    nurse
        .store
        .record_visit(&p, testing::full_visit(5))
        .unwrap();
    let wire: Vec<v1::WireChange> = nurse
        .store
        .sync_outbox(usize::MAX)
        .unwrap()
        .changes
        .into_iter()
        .map(|c| v1::WireChange {
            person_id: c.person_id,
            compartment: c.compartment,
            bytes: c.bytes,
        })
        .collect();
    let post = |changes: Vec<v1::WireChange>| -> (u16, Vec<u8>) {
        let body = protocol::encode(&v1::SyncRequest {
            protocol: 1,
            cursor: 0,
            changes,
            max_page_bytes: 1 << 20,
            purged: vec![],
        });
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{}{}", server.url, v1::SYNC_PATH))
                .bearer_auth(&nurse.endpoint.device_token)
                .header(protocol::VERSION_HEADER, "1")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
        })
    };
    let mut bad = wire.clone();
    let n = bad[1].bytes.len();
    bad[1].bytes[n - 3] ^= 0x55;
    let (status, body) = post(bad);
    assert_eq!(status, 426, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("update the app"));
    let (status, body) = post(wire);
    assert_eq!(status, 200);
    let r: v1::SyncResponse = protocol::decode(&body).unwrap();
    assert_eq!(r.stored, 2);
}

fn sqlite_backend() -> (tempfile::TempDir, Backend) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    (dir, backend)
}

fn fuzz_total() -> usize {
    std::env::var("DOORSTEP_FUZZ_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[test]
fn sqlite_bad_changes_are_refused_alone() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    bad_changes_are_refused_alone(&backend, &server);
}

#[test]
fn sqlite_restored_from_backup() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    restored_from_backup(&backend, &server);
}

#[test]
fn sqlite_large_history_is_paged() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    large_history_is_paged(&backend, &server);
}

#[test]
fn sqlite_fuzzed_changes_through_a_real_server() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    fuzzed_changes(&backend, &server, fuzz_total());
}

#[test]
fn sqlite_version_1_phones_and_the_cut_off() {
    let (_d, backend) = sqlite_backend();
    let server = ServerProc::start(&backend);
    version_1_phones(&backend, &server);
    drop(server);
    let cut = ServerProc::start_with(&backend, &["--min-protocol", "2"]);
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let nurse = Device::enrol(&rt, &backend, &cut.url, "v1-nurse2", dir.path());
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}{}", cut.url, protocol::v1::SYNC_PATH))
            .bearer_auth(&nurse.endpoint.device_token)
            .header(protocol::VERSION_HEADER, "1")
            .body(protocol::encode(&protocol::v1::SyncRequest {
                protocol: 1,
                cursor: 0,
                changes: vec![],
                max_page_bytes: 1 << 20,
                purged: vec![],
            }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 426);
    // A current phone still syncs.
    nurse.sync(&rt).unwrap();
}

#[test]
fn postgres_record_rules_with_two_servers() {
    let pg = Postgres::start();
    let backend = Backend::Postgres(pg.url.clone());
    let s1 = ServerProc::start(&backend);
    let s2 = ServerProc::start(&backend);
    bad_changes_are_refused_alone(&backend, &s1);
    restored_from_backup(&backend, &s2);
    large_history_is_paged(&backend, &s1);
    version_1_phones(&backend, &s2);
    fuzzed_changes(&backend, &s2, fuzz_total() / 5);
    let _ = Error::Wiped;
}
