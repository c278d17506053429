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
//! Prints one line per measurement: `rust <api> <op> median_us=… p90_us=… n=…`.

use std::path::Path;
use std::time::Instant;

use doorstep_core::testing;
use doorstep_core::{FieldStore, Role, StoreConfig};

const PEOPLE: usize = 200;
const WARMUP: usize = 30;
const RECORD_N: usize = 300;
const CASELOAD_N: usize = 300;

fn config(dir: &Path, device: &str) -> StoreConfig {
    testing::config(
        &dir.join(format!("{device}.db")),
        device,
        Role::DistrictNurse,
    )
}

fn report(lang: &str, api: &str, op: &str, mut samples: Vec<f64>) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{lang} {api} {op} median_us={:.2} p90_us={:.2} n={}",
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
}
