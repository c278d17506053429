//! The virtual ward (issue 13): the ward census of 200 people with length of stay, latest NEWS2
//! and open escalations, beside a baseline measured in the same run: the caseload of the same
//! store (`FieldStore::caseload`, one scan of the `people` rows: the list a nurse already opens).
//! Each person has a number of observation sets; every fourth person's latest set escalates.
//!
//!     cargo bench -p doorstep-core --bench ward
//!     DOORSTEP_WARD_PEOPLE=200 DOORSTEP_WARD_SETS=12 cargo bench -p doorstep-core --bench ward
//!
//! Medians in `target/criterion/ward_census_*/*/new/estimates.json`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::{testing, FieldStore};

fn ward_store(dir: &std::path::Path, people: usize, sets: usize) -> FieldStore {
    let store = FieldStore::open(store_config(&dir.join("ward.db"))).expect("open");
    let specs = common::people();
    let now = Utc::now();
    for i in 0..people {
        let p = store
            .register_patient(specs[i % specs.len()].demographics())
            .expect("register");
        store
            .admit_to_ward(&p, testing::ward_admission(None))
            .expect("admit");
        for k in 0..sets {
            let at = now - Span::hours(4 * (sets - k) as i64);
            let escalates = k + 1 == sets && i % 4 == 0;
            let obs = if escalates {
                testing::news2_six()
            } else {
                testing::normal_observations()
            };
            store
                .record_observations(&p, at, obs, None)
                .expect("observations");
        }
    }
    store
}

fn ward(c: &mut Criterion) {
    let people = env_usize("DOORSTEP_WARD_PEOPLE", 200);
    let sets = env_usize("DOORSTEP_WARD_SETS", 12);
    let dir = scratch_dir("ward");
    let store = ward_store(dir.path(), people, sets);
    let census = store.ward_census().expect("census");
    assert_eq!(census.people.len(), people);
    assert_eq!(census.open_escalations as usize, people.div_ceil(4));
    assert_eq!(store.caseload().expect("caseload").len(), people);
    eprintln!("ward bench: {people} people on the ward, {sets} observation sets each");

    let mut g = c.benchmark_group(format!("ward_census_{people}x{sets}"));
    g.bench_function("ward_census", |b| {
        b.iter(|| black_box(store.ward_census().expect("census")))
    });
    g.bench_function("baseline_caseload", |b| {
        b.iter(|| black_box(store.caseload().expect("caseload")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = ward
}
criterion_main!(benches);
