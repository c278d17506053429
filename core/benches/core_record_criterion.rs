//! Criterion's view of the core record benchmarks (medians with confidence intervals), beside
//! the `core_record` harness that interleaves subject and baselines and reports p99.
//!
//!     cargo bench -p doorstep-core --bench core_record_criterion
//!
//! Each group measures the store and its baselines one after another in the same run (criterion
//! does not interleave). Medians are in `target/criterion/<group>/<bench>/new/estimates.json`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::{testing, FieldStore};

const WARM_PEOPLE: usize = 50;

fn record_visit(c: &mut Criterion) {
    let dir = scratch_dir("criterion-record");
    let specs = people();
    let mut g = c.benchmark_group("record_visit");

    let store = FieldStore::open(store_config(&dir.path().join("store.db"))).expect("open");
    let ids: Vec<String> = specs[..WARM_PEOPLE]
        .iter()
        .map(|p| store.register_patient(p.demographics()).expect("register"))
        .collect();
    for k in 0..5 {
        for id in &ids {
            store
                .record_visit(id, testing::full_visit((5 - k) * 2880))
                .expect("warm");
        }
    }
    let mut i = 0;
    g.bench_function("store", |b| {
        b.iter(|| {
            i += 1;
            black_box(
                store
                    .record_visit(&ids[i % ids.len()], testing::full_visit(0))
                    .expect("record_visit"),
            )
        })
    });

    for (name, cipher) in [("floor_plain_sqlite", false), ("sqlcipher_raw_key", true)] {
        let mut conn = open_floor(&dir.path().join(format!("{name}.db")), cipher);
        create_floor_schema(&conn);
        let author = FloorAuthor::bench();
        let fids: Vec<String> = specs[..WARM_PEOPLE]
            .iter()
            .map(|p| {
                let id = uuid::Uuid::now_v7().to_string();
                let d = p
                    .demographics()
                    .validated(chrono::Utc::now().date_naive())
                    .expect("valid");
                floor_insert_person(&conn, &id, &d);
                id
            })
            .collect();
        for k in 0..5 {
            for id in &fids {
                floor_record_visit(&mut conn, id, &testing::full_visit((5 - k) * 2880), &author)
                    .expect("warm");
            }
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let v = testing::full_visit(0);
                black_box(
                    floor_record_visit(&mut conn, &fids[i % fids.len()], &v, &author)
                        .expect("floor insert"),
                )
            })
        });
    }
    g.finish();
}

fn queries(c: &mut Criterion) {
    ensure_store();
    ensure_floor(false);
    let store = FieldStore::open(store_config(&store_path())).expect("open store");
    let plain = open_floor(&floor_path(false), false);
    let specs = people();
    let name = specs[42].family[..4].to_lowercase();
    let nhs = specs[17].nhs_number.clone().expect("nhs");
    let postcode = specs[300].postcode.clone();

    let mut g = c.benchmark_group("caseload_500x50");
    g.bench_function("store", |b| {
        b.iter(|| black_box(store.caseload().expect("caseload")))
    });
    g.bench_function("floor_plain_sqlite", |b| {
        b.iter(|| black_box(floor_caseload(&plain)))
    });
    g.finish();

    let mut g = c.benchmark_group("search_500x50");
    for (label, q) in [
        ("name_prefix", &name),
        ("nhs_number", &nhs),
        ("postcode", &postcode),
    ] {
        g.bench_function(format!("store_{label}"), |b| {
            b.iter(|| black_box(store.search_patients(q).expect("search")))
        });
        g.bench_function(format!("floor_plain_sqlite_{label}"), |b| {
            b.iter(|| black_box(floor_search(&plain, q)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = record_visit, queries
}
criterion_main!(benches);
