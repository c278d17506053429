//! Makes the server schema migration fixture (docs/decisions/0008): a server database written by
//! this release's `doorstep serve` and `doorstep admin`, with real devices syncing through it.
//! Run by `server/tests/fixtures/schema-v1/make.sh`; the output is committed and never remade
//! once a later schema exists (it stands for databases in the field).
//!
//! `make_schema_v1_fixture OUT_DIR` writes:
//! - `server.db`: the embedded SQLite database (one file, no WAL);
//! - `postgres.sql`: a plain-SQL `pg_dump` of the same scenario run on PostgreSQL;
//! - `manifest-sqlite.json`, `manifest-postgres.json`: what a migration test can check (people,
//!   users, a device token that still works, the highest sequence number).

use std::path::{Path, PathBuf};
use std::process::Command;

use doorstep_core::record::{AdviceCategory, AlertInput, AlertKind};
use doorstep_core::testing;
use doorstep_tests::{pg_bin, runtime, team, Backend, Device, Postgres, ServerProc};

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: make_schema_v1_fixture OUT_DIR"),
    );
    std::fs::create_dir_all(&out).expect("create the output directory");

    // Embedded SQLite.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let backend = Backend::Sqlite(data.clone());
    let manifest = scenario(&backend, dir.path());
    let target = out.join("server.db");
    let _ = std::fs::remove_file(&target);
    let conn = rusqlite::Connection::open(data.join("server.db")).expect("open server.db");
    conn.execute("VACUUM INTO ?1", [target.display().to_string()])
        .expect("copy server.db");
    drop(conn);
    write_manifest(&out.join("manifest-sqlite.json"), &manifest);

    // PostgreSQL.
    let pg = Postgres::start();
    let backend = Backend::Postgres(pg.url.clone());
    let pdir = tempfile::tempdir().expect("temp dir");
    let manifest = scenario(&backend, pdir.path());
    let dump = Command::new(pg_bin().join("pg_dump"))
        .args([
            "--no-owner",
            "--no-privileges",
            "--format=plain",
            "--dbname",
            &pg.url,
        ])
        .output()
        .expect("run pg_dump");
    assert!(
        dump.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    std::fs::write(out.join("postgres.sql"), &dump.stdout).expect("write postgres.sql");
    write_manifest(&out.join("manifest-postgres.json"), &manifest);
    eprintln!("fixture written to {}", out.display());
}

fn write_manifest(path: &Path, m: &serde_json::Value) {
    std::fs::write(
        path,
        serde_json::to_string_pretty(m).expect("manifest json") + "\n",
    )
    .expect("write manifest");
}

fn alert(kind: AlertKind, text: &str) -> AlertInput {
    AlertInput {
        kind,
        text: text.into(),
        active: true,
    }
}

/// Two teams, their users and devices; people in every compartment, a consent to share, a move
/// between caseloads (memberships left, purges reported), a revoked device, used and unused codes.
fn scenario(backend: &Backend, dir: &Path) -> serde_json::Value {
    let rt = runtime();
    team(backend, "north");
    team(backend, "south");
    let server = ServerProc::start(backend);
    let url = server.url.clone();
    let n1 = Device::enrol(&rt, backend, &url, "north-nurse1", dir);
    let n2 = Device::enrol(&rt, backend, &url, "north-nurse2", dir);
    let a1 = Device::enrol(&rt, backend, &url, "north-advice1", dir);
    let s1 = Device::enrol(&rt, backend, &url, "south-nurse1", dir);

    let edith = n1
        .store
        .register_patient(testing::demographics(
            "Edith",
            "Crawley",
            Some("9434765919"),
            "HX7 8AB",
        ))
        .expect("register");
    let arthur = n1
        .store
        .register_patient(testing::demographics("Arthur", "Holroyd", None, "HX7 5QP"))
        .expect("register");
    n1.store
        .set_alert(
            &edith,
            alert(AlertKind::Allergies, "Penicillin: anaphylaxis"),
        )
        .expect("alert");
    n1.store
        .record_visit(&edith, testing::full_visit(30))
        .expect("visit");
    n1.sync(&rt).expect("sync n1");
    a1.sync(&rt).expect("sync a1");
    let need = a1
        .store
        .add_advice_need(
            &edith,
            AdviceCategory::UtilitiesAndCommunications,
            "Prepayment meter debt",
        )
        .expect("need");
    a1.store
        .record_advice_outcome(&edith, &need.id, "Hardship grant", 25_000)
        .expect("outcome");
    a1.store
        .set_consent_to_share(&edith, true)
        .expect("consent");
    let zed = a1
        .store
        .register_patient(testing::demographics("Zed", "Ackroyd", None, "HX1 1AA"))
        .expect("register");
    a1.sync(&rt).expect("sync a1");
    n2.sync(&rt).expect("sync n2");
    n2.store
        .record_visit(&arthur, testing::full_visit(20))
        .expect("visit");
    n2.sync(&rt).expect("sync n2");
    let mabel = s1
        .store
        .register_patient(testing::demographics("Mabel", "Sutcliffe", None, "HX3 9ZZ"))
        .expect("register");
    s1.store
        .record_visit(&mabel, testing::full_visit(15))
        .expect("visit");
    s1.sync(&rt).expect("sync s1");

    // Arthur moves to the south team: north's devices purge him and report it.
    backend.admin(&["move-person", &arthur, "south"]);
    for d in [&n1, &n2, &a1, &s1] {
        d.sync(&rt).expect("sync after the move");
    }
    // A replaced phone, revoked; it is told to wipe at its next sync.
    let old = Device::enrol(&rt, backend, &url, "north-nurse2", dir);
    old.sync(&rt).expect("sync old phone");
    backend.admin(&["revoke", &old.device_id]);
    let _ = old.sync(&rt);
    // A code never used.
    backend.admin(&["issue-code", "south-advice1"]);
    n1.store
        .record_visit(&edith, testing::full_visit(5))
        .expect("visit");
    n1.sync(&rt).expect("sync n1");

    let health = rt
        .block_on(async { reqwest::get(format!("{url}/v1/health")).await?.text().await })
        .expect("health");
    let max_seq: u64 = health
        .split_whitespace()
        .find_map(|w| w.strip_prefix("seq="))
        .and_then(|s| s.parse().ok())
        .expect("seq in health");
    drop(server);
    serde_json::json!({
        "made_by": "tests/src/bin/make_schema_v1_fixture.rs (server schema version 1)",
        "max_seq": max_seq,
        "people": {
            "edith": {"id": edith, "team": "north", "given": "Edith"},
            "zed": {"id": zed, "team": "north", "given": "Zed"},
            "arthur": {"id": arthur, "team": "south", "given": "Arthur"},
            "mabel": {"id": mabel, "team": "south", "given": "Mabel"},
        },
        "devices": {
            "north-nurse1": {"device_id": n1.device_id, "token": n1.endpoint.device_token},
            "south-nurse1": {"device_id": s1.device_id, "token": s1.endpoint.device_token},
            "revoked": {"device_id": old.device_id, "token": old.endpoint.device_token},
        },
        "users": ["north-nurse1", "north-nurse2", "north-advice1",
                  "south-nurse1", "south-nurse2", "south-advice1"],
    })
}
