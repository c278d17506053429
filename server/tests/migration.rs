//! The migration test (docs/decisions/0008): each committed schema-v1 fixture (a database made
//! by the first release's server) is opened by today's code, migrated, served on loopback, and
//! real devices sync against it: a device enrolled then syncs again with its old token and
//! receives its team's people, a new device enrols with a code issued on the migrated database,
//! and the revoked phone is still told to wipe.

use std::path::{Path, PathBuf};

use doorstep_core::record::{Role, User};
use doorstep_core::sync::{self, SyncEndpoint};
use doorstep_core::{testing, Error, FieldStore, StoreConfig};
use doorstep_server::storage::postgres::PgStorage;
use doorstep_server::storage::schema;
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::{admin, ServerConfig, Storage};
use doorstep_tests::pg;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schema-v1")
        .join(name)
}

fn manifest(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn text(v: &Value, path: &[&str]) -> String {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("{path:?} in the manifest"))
        .to_string()
}

/// Serve `storage` on loopback and run the device scenario against it.
fn sync_against(storage: Storage, m: &Value) {
    assert_eq!(
        storage.read(|tx| tx.max_seq()).unwrap(),
        m["max_seq"].as_u64().unwrap(),
        "the fixture's log is intact"
    );
    let code = admin::issue_code(&storage, "south-nurse1").unwrap();
    let north_code = admin::issue_code(&storage, "north-nurse2").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(doorstep_server::serve(
        listener,
        storage,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let person = |k: &str| text(m, &["people", k, "id"]);

    // North's first nurse, enrolled by the first release, syncs from scratch with its old token.
    let device_id = text(m, &["devices", "north-nurse1", "device_id"]);
    let user = User {
        id: "north-nurse1".into(),
        display_name: "nurse1 of north".into(),
        role: Role::DistrictNurse,
        team: "north".into(),
    };
    let store = FieldStore::open(StoreConfig::new(
        dir.path().join("n1.db"),
        &testing::TEST_KEY,
        &device_id,
        user,
    ))
    .unwrap();
    let endpoint = SyncEndpoint {
        url: url.clone(),
        device_token: text(m, &["devices", "north-nurse1", "token"]),
    };
    let report = rt
        .block_on(sync::sync(&store, &endpoint, None))
        .expect("the fixture's device syncs");
    // A device is not sent back what it sent itself (Edith was registered on this phone), so
    // it receives what colleagues recorded: Zed, registered by the advice worker.
    assert_eq!(report.people_added, vec![person("zed")]);
    // It can write too: a visit recorded today is stored on the migrated database.
    store
        .record_visit(&person("zed"), testing::full_visit(1))
        .unwrap();
    let report = rt.block_on(sync::sync(&store, &endpoint, None)).unwrap();
    assert_eq!(report.changes_sent, 1);

    // A new phone for north's other nurse, enrolled with a code issued on the migrated database,
    // receives the whole caseload the first release stored.
    let (north, report) = enrol_and_sync(&rt, &url, &north_code, &dir.path().join("n2.db"));
    let mut added = report.people_added.clone();
    added.sort();
    let mut want = vec![person("edith"), person("zed")];
    want.sort();
    assert_eq!(
        added, want,
        "north's caseload, without Arthur (moved south)"
    );
    let edith = north.patient(&person("edith")).unwrap();
    assert_eq!(edith.demographics.unwrap().given_name, "Edith");
    assert!(edith.clinical.unwrap().visits.len() >= 2);
    assert!(
        edith.advice.is_some(),
        "Edith's consent to share, recorded in the fixture, still opens her advice record"
    );
    assert_eq!(
        north
            .patient(&person("zed"))
            .unwrap()
            .clinical
            .unwrap()
            .visits
            .len(),
        1
    );

    // A new phone for south's nurse.
    let (south, report) = enrol_and_sync(&rt, &url, &code, &dir.path().join("s1.db"));
    let mut added = report.people_added.clone();
    added.sort();
    let mut want = vec![person("arthur"), person("mabel")];
    want.sort();
    assert_eq!(added, want, "south's caseload, Arthur included");
    assert_eq!(
        south
            .patient(&person("mabel"))
            .unwrap()
            .demographics
            .unwrap()
            .given_name,
        "Mabel"
    );

    // The phone revoked in the fixture is still told to wipe.
    let revoked = FieldStore::open(StoreConfig::new(
        dir.path().join("old.db"),
        &testing::TEST_KEY,
        text(m, &["devices", "revoked", "device_id"]),
        User {
            id: "north-nurse2".into(),
            display_name: "nurse2 of north".into(),
            role: Role::VirtualWardClinician,
            team: "north".into(),
        },
    ))
    .unwrap();
    let r = rt.block_on(sync::sync(
        &revoked,
        &SyncEndpoint {
            url,
            device_token: text(m, &["devices", "revoked", "token"]),
        },
        None,
    ));
    assert!(matches!(r, Err(Error::Wiped)), "{r:?}");

    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
}

fn enrol_and_sync(
    rt: &tokio::runtime::Runtime,
    url: &str,
    code: &str,
    path: &Path,
) -> (FieldStore, sync::SyncReport) {
    let e = rt
        .block_on(sync::enrol(url, code))
        .expect("enrol on the migrated database");
    let store = FieldStore::open(StoreConfig::new(
        path,
        &testing::TEST_KEY,
        &e.device_id,
        e.user.clone(),
    ))
    .unwrap();
    let endpoint = SyncEndpoint {
        url: url.to_string(),
        device_token: e.device_token,
    };
    let report = rt.block_on(sync::sync(&store, &endpoint, None)).unwrap();
    (store, report)
}

#[test]
fn the_sqlite_fixture_migrates_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("server.db"), dir.path().join("server.db")).unwrap();
    let storage = Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap());
    let version: u32 = rusqlite::Connection::open(dir.path().join("server.db"))
        .unwrap()
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::CURRENT);
    sync_against(storage, &manifest("manifest-sqlite.json"));
}

#[test]
fn the_postgres_fixture_migrates_and_syncs() {
    let cluster = pg::Cluster::start();
    let url = cluster.restore("fixture", &fixture("postgres.sql"));
    let storage = Storage::Postgres(PgStorage::open(&url).unwrap());
    let version = cluster.psql(
        "fixture",
        &["-A", "-t", "-c", "SELECT max(version) FROM schema_version"],
    );
    assert_eq!(version.trim(), schema::CURRENT.to_string());
    sync_against(storage, &manifest("manifest-postgres.json"));
}
