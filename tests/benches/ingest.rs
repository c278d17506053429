//! Remote-monitoring ingest (issue 13) through a real `doorstep serve` on loopback: JSON batches
//! of readings posted to `POST /v1/readings`, on embedded SQLite and on a private PostgreSQL
//! cluster. Behind "Remote-monitoring ingest (issue 13)" in docs/performance.md.
//!
//!     cargo build --release -p doorstep-cli --bin doorstep
//!     DOORSTEP_BIN=$PWD/target/release/doorstep cargo bench -p doorstep-tests --bench ingest -- \
//!         --batch 100 --count 2000 --clients 4 [--people 20] [--backend sqlite|postgres|both]
//!
//! (Without `DOORSTEP_BIN` the debug `doorstep` the tests use is served: not a measure.)
//!
//! Every batch holds new readings (no duplicates), spread over `--people` people on the ward,
//! each with a registered monitor. Reported: readings/s over the whole run, median and p99 of a
//! batch, and as the baseline measured in the same run, the median of `GET /v1/health` (one
//! loopback round trip and one read of the database) from the same clients.

use std::time::{Duration, Instant};

use chrono::Utc;
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};
use serde_json::json;

fn flag(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn num(name: &str, default: usize) -> usize {
    flag(name, &default.to_string())
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Figures {
    readings_per_s: f64,
    batch_p50: Duration,
    batch_p99: Duration,
    health_p50: Duration,
}

fn run(backend: Backend, prefix: &str) -> Figures {
    let (batch, count, clients, people) = (
        num("--batch", 100),
        num("--count", 2000),
        num("--clients", 4),
        num("--people", 20),
    );
    let dir = tempfile::tempdir().unwrap();
    // The address and credential limits are raised: one loopback address carries every client.
    let server = ServerProc::start_with(
        &backend,
        &[
            "--address-per-minute",
            "100000000",
            "--integration-per-minute",
            "100000000",
        ],
    );
    let rt = runtime();
    team(&backend, prefix);
    let phone = Device::enrol(
        &rt,
        &backend,
        &server.url,
        &format!("{prefix}-nurse2"),
        dir.path(),
    );
    let ids: Vec<String> = (0..people)
        .map(|i| {
            let p = phone
                .store
                .register_patient(testing::demographics(
                    "Ann",
                    &format!("Bench{i}"),
                    None,
                    "HX1 1AA",
                ))
                .unwrap();
            phone
                .store
                .admit_to_ward(&p, testing::ward_admission(None))
                .unwrap();
            p
        })
        .collect();
    phone.sync(&rt).unwrap();
    let (integration, token) = doorstep_tests::monitoring_integration(&backend, "bench", prefix);
    for (i, p) in ids.iter().enumerate() {
        backend.admin(&[
            "register-monitor",
            "--integration",
            &integration,
            "--person",
            p,
            "--serial",
            &format!("M{i}"),
        ]);
    }
    // Bodies made before timing: batch b holds readings at distinct times (one a second, going
    // back from now), each for person (k mod people).
    let start_ms = Utc::now().timestamp_millis() - 60_000;
    let bodies: Vec<String> = (0..count)
        .map(|b| {
            let readings: Vec<_> = (0..batch)
                .map(|k| {
                    let n = (b * batch + k) as i64;
                    let who = (n as usize) % people;
                    let t = chrono::DateTime::from_timestamp_millis(start_ms - n * 1000).unwrap();
                    json!({"serial": format!("M{who}"), "person_id": ids[who], "kind": "pulse",
                           "value": 60 + (n % 40), "unit": "/min", "taken_at": t.to_rfc3339()})
                })
                .collect();
            json!({"readings": readings}).to_string()
        })
        .collect();
    let client = reqwest::Client::new();
    let url = server.url.clone();
    let (took, mut lat, mut health) = rt.block_on(async {
        let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (queue, client, url, token) =
                    (queue.clone(), client.clone(), url.clone(), token.clone());
                tokio::spawn(async move {
                    let (mut lat, mut health) = (Vec::new(), Vec::new());
                    loop {
                        let Some(body) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        let t = Instant::now();
                        let r = client
                            .post(format!("{url}/v1/readings"))
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status().as_u16(), 200);
                        let a: serde_json::Value = r.json().await.unwrap();
                        lat.push(t.elapsed());
                        assert_eq!(a["refused"].as_u64(), Some(0), "{a}");
                        if lat.len() % 10 == 0 {
                            let t = Instant::now();
                            let h = client.get(format!("{url}/v1/health")).send().await.unwrap();
                            assert!(h.status().is_success());
                            let _ = h.bytes().await;
                            health.push(t.elapsed());
                        }
                    }
                    (lat, health)
                })
            })
            .collect();
        let (mut lat, mut health) = (Vec::new(), Vec::new());
        for t in tasks {
            let (l, h) = t.await.unwrap();
            lat.extend(l);
            health.extend(h);
        }
        (t0.elapsed(), lat, health)
    });
    lat.sort();
    health.sort();
    Figures {
        readings_per_s: (batch * count) as f64 / took.as_secs_f64(),
        batch_p50: percentile(&lat, 0.5),
        batch_p99: percentile(&lat, 0.99),
        health_p50: percentile(&health, 0.5),
    }
}

fn print(name: &str, f: &Figures) {
    println!(
        "{name}: {:.0} readings/s; batch p50 {:.1} ms, p99 {:.1} ms; baseline GET /v1/health p50 {:.2} ms (batch p50 = {:.1}× health)",
        f.readings_per_s,
        f.batch_p50.as_secs_f64() * 1e3,
        f.batch_p99.as_secs_f64() * 1e3,
        f.health_p50.as_secs_f64() * 1e3,
        f.batch_p50.as_secs_f64() / f.health_p50.as_secs_f64().max(1e-9),
    );
}

fn main() {
    let which = flag("--backend", "both");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.trim());
    if which == "sqlite" || which == "both" {
        let dir = tempfile::tempdir().unwrap();
        let f = run(Backend::Sqlite(dir.path().join("server")), "bsq");
        print("SQLite", &f);
    }
    if which == "postgres" || which == "both" {
        let pg = Postgres::start();
        let f = run(Backend::Postgres(pg.url.clone()), "bpg");
        print("PostgreSQL", &f);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
}
