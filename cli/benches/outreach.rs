//! `doorstep report outreach` (issue 14) over a server database holding 286 clients with 1,500
//! advice needs between them over a year (each need an action and an outcome), written as real
//! stamped Automerge changes straight into the server's change log (no stored snapshots yet: the
//! worst case). Measured: the report as the CLI makes it in-process (every advice and
//! demographics document loaded by `docs::replay`, here its whole log in one batch, then the
//! report), and the real `doorstep` binary end to end (process start, database open, CSV and HTML written). Baseline in
//! the same run: loading the same documents alone.
//!
//!     cargo bench -p doorstep-cli --bench outreach -- --quick
//!     DOORSTEP_OUTREACH_CLIENTS=286 DOORSTEP_OUTREACH_NEEDS=1500 cargo bench -p doorstep-cli --bench outreach
//!
//! Medians in `target/criterion/outreach_cli/*/new/estimates.json`.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use automerge::AutoCommit;
use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::record::edit;
use doorstep_core::record::outreach_edit::record_outcome;
use doorstep_core::record::outreach_report::outreach_report;
use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::storage::NewChange;
use doorstep_server::Storage;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The server database: team `hyde`, every client a member, their documents' changes stored.
fn server_db(dir: &Path, clients: usize, needs: usize) -> Storage {
    let start: DateTime<Utc> = "2026-01-01T09:00:00Z".parse().unwrap();
    let mut demo: Vec<AutoCommit> = Vec::new();
    let mut advice: Vec<AutoCommit> = Vec::new();
    for i in 0..clients {
        let mut d = AutoCommit::new();
        let a = testing::advice_worker(0, start);
        let who = Demographics {
            given_name: format!("Client{i}"),
            family_name: "Test".into(),
            ..Default::default()
        };
        testing::commit_edit(&mut d, &a, |doc| edit::register(doc, &a, who).unwrap());
        demo.push(d);
        advice.push(AutoCommit::new());
    }
    for i in 0..needs {
        let doc = &mut advice[i % clients];
        let at = |h: i64| {
            testing::advice_worker(
                i % 6,
                start + chrono::Duration::hours((i as i64 * 5) % 8_000 + h),
            )
        };
        let category = AdviceCategory::ALL[i % AdviceCategory::ALL.len()];
        let a = at(0);
        let need = testing::commit_edit(doc, &a, |d| {
            edit::add_advice_need(d, &a, category, "Need").unwrap()
        });
        let a = at(24);
        testing::commit_edit(doc, &a, |d| {
            edit::add_advice_action(d, &a, &need.id, "Called").unwrap()
        });
        let a = at(240);
        testing::commit_edit(doc, &a, |d| {
            record_outcome(d, &a, &need.id, "Outcome", &testing::financial_effect(i)).unwrap()
        });
    }
    let storage = Storage::Sqlite(SqliteStorage::open(dir).unwrap());
    storage
        .write(|tx| {
            tx.create_team("hyde", "Hyde")?;
            let mut seq = 0u64;
            for i in 0..clients {
                let person = format!("p{i:04}");
                for (comp, doc) in [
                    (Compartment::Demographics, &mut demo[i]),
                    (Compartment::Advice, &mut advice[i]),
                ] {
                    for change in doc.get_changes(&[]) {
                        seq += 1;
                        let hash = change.hash();
                        tx.insert_change(&NewChange {
                            seq,
                            person_id: &person,
                            compartment: comp,
                            hash: &hash.0,
                            bytes: change.raw_bytes(),
                            origin_device: "dev-0",
                            received_ms: 0,
                            actor: None,
                            actor_seq: None,
                            clock_note_ms: None,
                        })?;
                    }
                }
                tx.join("hyde", &person, seq)?;
            }
            Ok(())
        })
        .unwrap();
    storage
}

fn bench(c: &mut Criterion) {
    let (clients, needs) = (
        env("DOORSTEP_OUTREACH_CLIENTS", 286),
        env("DOORSTEP_OUTREACH_NEEDS", 1_500),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::tempdir_in(&root).unwrap();
    let data = dir.path().join("server");
    let storage = server_db(&data, clients, needs);
    let (from, to) = ("2026-01-01".parse().unwrap(), "2026-12-31".parse().unwrap());
    let check = outreach_report(
        &doorstep_server::outreach::outreach_clients(&storage, "hyde").unwrap(),
        from,
        to,
    )
    .unwrap();
    let total = check.total().unwrap();
    assert_eq!(
        (total.clients_seen as usize, total.needs_recorded as usize),
        (clients, needs)
    );
    eprintln!(
        "outreach_cli: {clients} clients, {needs} needs, {} rows",
        check.rows.len()
    );

    let mut g = c.benchmark_group("outreach_cli");
    g.measurement_time(Duration::from_secs(8));
    g.sample_size(10);
    g.bench_function("baseline_replay_documents", |b| {
        b.iter(|| {
            storage
                .read(|tx| {
                    let mut n = 0;
                    for p in tx.ever_members("hyde")? {
                        for comp in [Compartment::Advice, Compartment::Demographics] {
                            n += doorstep_server::docs::replay(tx, &p, comp)?.1;
                        }
                    }
                    Ok(black_box(n))
                })
                .unwrap()
        })
    });
    g.bench_function("report_in_process", |b| {
        b.iter(|| {
            let clients = doorstep_server::outreach::outreach_clients(&storage, "hyde").unwrap();
            black_box(outreach_report(&clients, from, to).unwrap())
        })
    });
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    g.bench_function("doorstep_binary", |b| {
        b.iter(|| {
            let status = Command::new(env!("CARGO_BIN_EXE_doorstep"))
                .args(["report", "--data-dir"])
                .arg(&data)
                .args(["outreach", "--team", "hyde", "--from", "2026-01-01"])
                .args(["--to", "2026-12-31", "--out"])
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
