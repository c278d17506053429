//! The outreach report (issue 14): 286 clients with 1,500 advice needs between them over a year
//! (each need an action and an outcome of a mix of financial effects), as the Citizens Advice
//! hospital-to-home service had. Measured beside a baseline in the same run: reading the same
//! advice documents (`record::read::advice`) without the report, which is what any screen of
//! them costs already.
//!
//!     cargo bench -p doorstep-core --bench outreach -- --quick
//!     DOORSTEP_OUTREACH_CLIENTS=286 DOORSTEP_OUTREACH_NEEDS=1500 cargo bench -p doorstep-core --bench outreach
//!
//! Medians in `target/criterion/outreach/*/new/estimates.json`.

use std::hint::black_box;
use std::time::Duration;

use automerge::AutoCommit;
use chrono::{DateTime, NaiveDate, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::record::edit::{add_advice_action, add_advice_need};
use doorstep_core::record::outreach_edit::record_outcome;
use doorstep_core::record::outreach_report::{outreach_report, OutreachClient};
use doorstep_core::record::*;
use doorstep_core::testing;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One advice document per client; needs dealt round the clients, dated over 2026.
fn documents(clients: usize, needs: usize) -> Vec<AutoCommit> {
    let start: DateTime<Utc> = "2026-01-01T09:00:00Z".parse().unwrap();
    let mut docs: Vec<AutoCommit> = (0..clients).map(|_| AutoCommit::new()).collect();
    for i in 0..needs {
        let doc = &mut docs[i % clients];
        let worker = i % 6;
        let at = |d: i64| {
            testing::advice_worker(
                worker,
                start + chrono::Duration::hours((i as i64 * 5) % 8_000 + d),
            )
        };
        let category = AdviceCategory::ALL[i % AdviceCategory::ALL.len()];
        let need = add_advice_need(doc, &at(0), category, "Need")
            .unwrap()
            .value;
        add_advice_action(doc, &at(24), &need.id, "Called").unwrap();
        record_outcome(
            doc,
            &at(240),
            &need.id,
            "Outcome",
            &testing::financial_effect(i),
        )
        .unwrap();
    }
    docs
}

fn clients(docs: &[AutoCommit]) -> Vec<OutreachClient> {
    docs.iter()
        .enumerate()
        .map(|(i, d)| OutreachClient {
            person_id: format!("p{i}"),
            name: Some(format!("Client {i}")),
            team: format!("team-{}", i % 2),
            advice: read::advice(d).unwrap(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (n_clients, n_needs) = (
        env("DOORSTEP_OUTREACH_CLIENTS", 286),
        env("DOORSTEP_OUTREACH_NEEDS", 1_500),
    );
    let docs = documents(n_clients, n_needs);
    let from: NaiveDate = "2026-01-01".parse().unwrap();
    let to: NaiveDate = "2026-12-31".parse().unwrap();
    let check = outreach_report(&clients(&docs), from, to).unwrap();
    let total = check.total().unwrap();
    assert_eq!(total.needs_recorded as usize, n_needs);
    assert_eq!(total.clients_seen as usize, n_clients);
    eprintln!(
        "outreach: {n_clients} clients, {n_needs} needs, {} rows, total gain {} pence",
        check.rows.len(),
        total.total_gain_pence
    );
    let mut g = c.benchmark_group("outreach");
    g.measurement_time(Duration::from_secs(5));
    g.sample_size(20);
    g.bench_function("baseline_read_documents", |b| {
        b.iter(|| black_box(clients(&docs)))
    });
    g.bench_function("read_documents_and_report", |b| {
        b.iter(|| black_box(outreach_report(&clients(&docs), from, to).unwrap()))
    });
    let read = clients(&docs);
    g.bench_function("report_only", |b| {
        b.iter(|| black_box(outreach_report(&read, from, to).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
