//! The Rust side of the boundary-cost benchmark (docs/performance.md, "Mobile boundary").
//!
//! The same workload as android/src/test/kotlin/org/doorstep/bench/BoundaryBench.kt and
//! ios/Sources/BoundaryBench/main.swift: a store with 200 people, each with one visit; then
//! `record_visit` (a completed home visit with 8 observations, 3 interventions and a
//! 500-character note) and `caseload` (200 lines), each call timed on its own, medians reported.
//! Here the calls are made on `doorstep_core::FieldStore` directly: the baseline. Core exports
//! that same object and its types through UniFFI, so there is no Rust wrapper left to time; the
//! foreign runs measure the whole crossing.
//!
//!   cargo bench -p doorstep-ffi --bench boundary          (or scripts/bench-boundary.sh)
//!
//! `trivial_call` is `key_length()`, a call with no work: the fixed cost of one crossing.
//!
//! `today_list` (issue 12) is the signed-in nurse's list of one London day over a caseload whose
//! people each have a care plan, built as `core/benches/day.rs` builds it: of DOORSTEP_DAY_PEOPLE
//! people (default 350), DOORSTEP_DAY_VISITS (default 40) are due today (even: insulin at 08:00,
//! odd: a daily dressing), the rest on other days (3× weekly from yesterday, or weekly on another
//! weekday); every intervention is the nurse's own. Each call is `today_list` as the apps call it
//! (the clock's "now", so the overdue status is worked out as on a phone), timed on its own after
//! 30 warm-ups. The people are `testing::demographics` with five postcode areas and nine sectors
//! (so travel order has work to do); the Kotlin and Swift benches build the same.
//!
//! `today_list_lower` is where a foreign caller's extra time starts: the same list serialised
//! into UniFFI's buffer, as the generated scaffolding does on return (`bytes=` is its size); the
//! Kotlin and Swift benches time the other half, `today_list_lift`, decoding those bytes.
//!
//! Prints one line per measurement: `rust <api> <op> median_us=… p90_us=… n=…`.

use std::path::Path;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use doorstep_core::record::schedule::local_date;
use doorstep_core::store::{DayQuery, DayScope, TodayList};
use doorstep_core::testing;
use doorstep_core::{FieldStore, Role, StoreConfig};

const PEOPLE: usize = 200;
const WARMUP: usize = 30;
const RECORD_N: usize = 300;
const CASELOAD_N: usize = 300;
/// Rows on one screen of the caseload (`caseload_page`).
const SCREEN: u32 = 20;
const TODAY_N: usize = 300;

/// Sizes of the today-list workload, as in core/benches/day.rs.
fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The today-list caseload's postcode for person `i` (the same in the Kotlin and Swift benches).
fn day_postcode(i: usize) -> String {
    const AREAS: [&str; 5] = ["HX7", "HX1", "HD1", "LS6", "BD7"];
    format!("{} {}AB", AREAS[i % 5], 1 + (i / 5) % 9)
}

/// `people` people with a care plan each, `visits` of them due on `today` (see the module doc).
fn plans_store(store: &FieldStore, people: usize, visits: usize, today: NaiveDate) {
    let me = store.user().id;
    for i in 0..people {
        let p = store
            .register_patient(testing::demographics(
                &format!("Given{i}"),
                &format!("Family{i:03}"),
                None,
                &day_postcode(i),
            ))
            .expect("register");
        testing::day_plan(store, &p, i, i < visits, today, &me).expect("care plan");
    }
}

fn config(dir: &Path, device: &str) -> StoreConfig {
    testing::config(
        &dir.join(format!("{device}.db")),
        device,
        Role::DistrictNurse,
    )
}

fn report(lang: &str, api: &str, op: &str, samples: Vec<f64>) {
    report_with(lang, api, op, samples, "");
}

fn report_with(lang: &str, api: &str, op: &str, mut samples: Vec<f64>, extra: &str) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{lang} {api} {op} median_us={:.2} p90_us={:.2} n={}{extra}",
        q(0.5),
        q(0.9),
        samples.len()
    );
}

fn time<T>(n: usize, mut f: impl FnMut(usize) -> T) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            std::hint::black_box(f(i));
            t.elapsed().as_nanos() as f64 / 1000.0
        })
        .collect()
}

/// The fixed cost of one crossing: a call with no work and no payload, averaged over a batch
/// (a single call is below the clock's resolution).
fn trivial_calls(lang: &str, f: impl Fn() -> u32) {
    let samples: Vec<f64> = (0..30)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..10_000 {
                std::hint::black_box(f());
            }
            t.elapsed().as_nanos() as f64 / 10_000.0 / 1000.0
        })
        .collect();
    report(lang, "ffi", "trivial_call", samples);
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    trivial_calls("rust", || {
        std::hint::black_box(doorstep_core::ffi::key_length())
    });

    // Baseline: the core, called from Rust.
    let core = FieldStore::open(config(dir.path(), "rust-core")).expect("open");
    let ids: Vec<String> = (0..PEOPLE)
        .map(|i| {
            let id = core
                .register_patient(testing::demographics(
                    &format!("Given{i}"),
                    &format!("Family{i:03}"),
                    None,
                    "HX7 8AA",
                ))
                .unwrap();
            core.record_visit(&id, testing::full_visit(600)).unwrap();
            id
        })
        .collect();
    time(WARMUP, |i| {
        core.record_visit(&ids[i % PEOPLE], testing::full_visit(0))
            .unwrap()
    });
    let samples = time(RECORD_N, |i| {
        core.record_visit(&ids[i % PEOPLE], testing::full_visit(0))
            .unwrap()
    });
    report("rust", "core", "record_visit", samples);
    time(WARMUP, |_| core.caseload().unwrap());
    let samples = time(CASELOAD_N, |_| core.caseload().unwrap());
    report("rust", "core", "caseload", samples);
    // A screenful of the list screen: SCREEN slim rows from the middle of the caseload.
    let mid = core.caseload_page(None, 100).unwrap().next;
    assert!(mid.is_some(), "the caseload goes on past row 100");
    time(WARMUP, |_| core.caseload_page(mid.clone(), SCREEN).unwrap());
    let samples = time(CASELOAD_N, |_| {
        core.caseload_page(mid.clone(), SCREEN).unwrap()
    });
    report("rust", "core", "caseload_page", samples);

    // The today list (issue 12): a 40-visit day over a 350-person caseload.
    let (people, visits) = (
        env("DOORSTEP_DAY_PEOPLE", 350),
        env("DOORSTEP_DAY_VISITS", 40),
    );
    let day = FieldStore::open(config(dir.path(), "rust-day")).expect("open");
    let today = local_date(Utc::now());
    plans_store(&day, people, visits, today);
    let query = DayQuery {
        day: today,
        scope: DayScope::Mine,
        base_postcode: None,
    };
    let list = day.today_list(query.clone()).unwrap();
    assert_eq!(
        list.visits.len(),
        visits,
        "the day has the visits asked for"
    );
    eprintln!("today_list: {visits} visits on {today} of {people} people with care plans");
    time(WARMUP, |_| day.today_list(query.clone()).unwrap());
    let samples = time(TODAY_N, |_| day.today_list(query.clone()).unwrap());
    report("rust", "core", "today_list", samples);

    // The list serialised for the boundary, as the scaffolding does on return (not the core's
    // work: each clone is made before the clock starts).
    fn lower(list: TodayList) -> uniffi::RustBuffer {
        <TodayList as uniffi::Lower<doorstep_core::UniFfiTag>>::lower_into_rust_buffer(list)
    }
    let bytes = lower(list.clone()).destroy_into_vec().len();
    let mut samples = Vec::with_capacity(TODAY_N);
    for i in 0..WARMUP + TODAY_N {
        let copy = list.clone();
        let t = Instant::now();
        let buf = std::hint::black_box(lower(copy));
        let us = t.elapsed().as_nanos() as f64 / 1000.0;
        buf.destroy();
        if i >= WARMUP {
            samples.push(us);
        }
    }
    report_with(
        "rust",
        "ffi",
        "today_list_lower",
        samples,
        &format!(" bytes={bytes}"),
    );
}
