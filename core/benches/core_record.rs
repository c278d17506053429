//! Benchmarks of the core record (issue 2), with their baselines measured in the same run.
//!
//!     cargo bench -p doorstep-core --bench core_record [-- record|open|queries|disk|memory]
//!
//! 1. `record`  — `record_visit` (8 observations, 3 interventions, 500-character note) into a
//!    warm store: median and p99 per call, interleaved in rounds with the floor (plain SQLite,
//!    1 visit row + 8 observation rows in one transaction) and the same rows in SQLCipher with a
//!    raw key. Everything is WAL + `synchronous = FULL`.
//! 2. `open`    — a fresh process opens the 500 × 50 store and lists the caseload (the bench
//!    re-executes itself with `--child`), against fresh processes that open the floors.
//! 3. `queries` — `caseload()` and `search_patients()` over that store, against the same queries
//!    over the floors.
//! 4. `disk`    — bytes on disk per visit after `compact_now`, and after a `VACUUM` of a copy.
//! 5. `memory`  — VmHWM of a fresh process that opens the store, lists the caseload and opens 20
//!    patient records, against the same process before opening.
//!
//! The 500 × 50 store is generated once with `record_visit` and cached in `target/bench-data/`
//! (delete that directory to regenerate). A plain-text copy of the results is written to
//! `target/bench-data/core_record-results.txt`.
//!
//! Diagnostics, run by hand (see docs/performance.md):
//!
//!     cargo bench -p doorstep-core --bench core_record -- --child diagnose record
//!     cargo bench -p doorstep-core --bench core_record -- --child diagnose compression
//!     cargo bench -p doorstep-core --bench core_record -- --child diagnose automerge
//!     perf record -g --call-graph dwarf <bench executable> --child profile record 3000

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::*;
use doorstep_core::{testing, FieldStore};
use rusqlite::Connection;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |s: &str| filters.is_empty() || filters.iter().any(|f| s.contains(f));
    let mut out = Out::default();
    machine(&mut out);
    let t = Instant::now();
    if want("record") {
        bench_record(&mut out);
    }
    if want("open") || want("queries") || want("disk") || want("memory") {
        let g = ensure_store();
        ensure_floor(false);
        ensure_floor(true);
        if g.regenerated {
            out.line(&format!(
                "(generated the 500 x 50 store in {:.1} s; cached for later runs)",
                g.seconds
            ));
        }
    }
    if want("open") {
        bench_open(&mut out);
    }
    if want("queries") {
        bench_queries(&mut out);
    }
    if want("disk") {
        bench_disk(&mut out);
    }
    if want("memory") {
        bench_memory(&mut out);
    }
    out.line(&format!(
        "\ncore_record finished in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let path = data_dir().join("core_record-results.txt");
    let _ = std::fs::write(&path, &out.text);
    println!("(results also written to {})", path.display());
}

#[derive(Default)]
struct Out {
    text: String,
}

impl Out {
    fn line(&mut self, s: &str) {
        println!("{s}");
        self.text.push_str(s);
        self.text.push('\n');
    }
}

fn machine(out: &mut Out) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    out.line(&format!(
        "core_record benchmarks — {} UTC — {cores} cores, {cpu}, Linux {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        kernel.trim()
    ));
    out.line("Every store and baseline: WAL, synchronous = FULL (each commit fsynced: survives power loss).");
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".into()
    }
}

// ------------------------------------------------------------------ 1. record_visit

const WARM_PEOPLE: usize = 50;
const WARM_VISITS: usize = 5;
const ROUNDS: usize = 100;
const PER_ROUND: usize = 20;

#[allow(clippy::large_enum_variant)] // four values, made once
enum Subject {
    Store(FieldStore),
    Floor(Connection, FloorAuthor),
}

struct Timed {
    name: &'static str,
    subject: Subject,
    path: PathBuf,
    cipher: bool,
    ids: Vec<String>,
    next: usize,
    wall_us: Vec<f64>,
    thread_cpu_ns: u64,
}

impl Timed {
    fn record(&mut self) -> f64 {
        let person = self.ids[self.next % self.ids.len()].clone();
        self.next += 1;
        let input = testing::full_visit(0);
        let t = Instant::now();
        match &mut self.subject {
            Subject::Store(s) => {
                s.record_visit(&person, input).expect("record_visit");
            }
            Subject::Floor(c, a) => {
                floor_record_visit(c, &person, &input, a).expect("floor insert");
            }
        }
        micros(t.elapsed())
    }
}

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

fn warm_store(path: &Path, background_compaction: bool) -> (FieldStore, Vec<String>) {
    let mut cfg = store_config(path);
    cfg.background_compaction = background_compaction;
    let store = FieldStore::open(cfg).expect("open");
    let specs = people();
    let ids: Vec<String> = specs[..WARM_PEOPLE]
        .iter()
        .map(|p| store.register_patient(p.demographics()).expect("register"))
        .collect();
    for k in 0..WARM_VISITS {
        for id in &ids {
            store
                .record_visit(
                    id,
                    testing::full_visit(((WARM_VISITS - k) * 2 * 1440) as i64),
                )
                .expect("warm visit");
        }
    }
    (store, ids)
}

fn warm_floor(path: &Path, cipher: bool) -> (Connection, Vec<String>) {
    let mut conn = open_floor(path, cipher);
    create_floor_schema(&conn);
    let author = FloorAuthor::bench();
    let specs = people();
    let ids: Vec<String> = specs[..WARM_PEOPLE]
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
    for k in 0..WARM_VISITS {
        for id in &ids {
            floor_record_visit(
                &mut conn,
                id,
                &testing::full_visit(((WARM_VISITS - k) * 2 * 1440) as i64),
                &author,
            )
            .expect("warm floor");
        }
    }
    (conn, ids)
}

/// Checkpoint the subject's WAL to nothing, make `n` calls, and count the pages appended.
fn wal_pages_per_call(s: &mut Timed, n: usize) -> f64 {
    let conn = Connection::open(&s.path).expect("open for checkpoint");
    if s.cipher {
        conn.execute_batch(&key_pragma()).expect("key");
    }
    // SQLCipher answers `PRAGMA page_size` with its cipher_page_size, as text.
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .ok()
        .and_then(|v| match v {
            rusqlite::types::Value::Integer(i) => Some(i),
            rusqlite::types::Value::Text(t) => t.parse().ok(),
            _ => None,
        })
        .unwrap_or(4096);
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .expect("checkpoint");
    let wal = wal_path(&s.path);
    let before = file_len(&wal);
    if busy != 0 || before != 0 {
        return f64::NAN;
    }
    for _ in 0..n {
        s.record();
    }
    let after = file_len(&wal);
    (after.saturating_sub(32)) as f64 / (page + 24) as f64 / n as f64
}

/// The Automerge half of a `record_visit`, done outside the store with the record's own layout
/// helpers: two JSON values put into the root map, one commit, the change read back.
fn automerge_part(prefill: usize) -> (Summary, usize) {
    use automerge::transaction::CommitOptions;
    use automerge::AutoCommit;
    use doorstep_core::record::layout::{self, key, AuditStamp, OBSERVATIONS, VISIT};
    let dir = scratch_dir("automerge");
    let store = FieldStore::open(store_config(&dir.path().join("s.db"))).expect("open");
    let id = store
        .register_patient(people()[0].demographics())
        .expect("register");
    let rv = store
        .record_visit(&id, testing::full_visit(0))
        .expect("visit");
    let (visit, obs) = (rv.visit, rv.observations.expect("observations"));
    let stamp = serde_json::to_string(&AuditStamp::new(&visit.author, "recorded a home visit (completed): wound care, insulin, medication prompt; NEWS2 0 (low risk)")).expect("stamp");
    let mut doc = AutoCommit::new();
    let one = |doc: &mut AutoCommit| -> usize {
        let (mut v, mut o) = (visit.clone(), obs.clone());
        v.id = doorstep_core::ids::new_id();
        o.id = doorstep_core::ids::new_id();
        layout::put_json(doc, &key(OBSERVATIONS, &o.id), &o).expect("put");
        layout::put_json(doc, &key(VISIT, &v.id), &v).expect("put");
        let hash = doc
            .commit_with(
                CommitOptions::default()
                    .with_message(stamp.clone())
                    .with_time(0),
            )
            .expect("commit");
        doc.get_change_by_hash(&hash)
            .expect("change")
            .raw_bytes()
            .len()
    };
    for _ in 0..prefill {
        one(&mut doc);
    }
    let base = doc.save();
    let mut us = Vec::new();
    let mut bytes = 0;
    for i in 0..500 {
        // Keep the document between 50 and 60 visits, like the warm store's.
        if i % 10 == 0 {
            doc = AutoCommit::load(&base).expect("reload");
        }
        let t = Instant::now();
        bytes = one(&mut doc);
        us.push(micros(t.elapsed()));
    }
    (summarise(&us), bytes)
}

fn bench_record(out: &mut Out) {
    out.line("\n## 1. record_visit (testing::full_visit: 8 observations, 3 interventions, 500-char note)");
    let dir = scratch_dir("record");
    let p = |f: &str| dir.path().join(f);
    let (store, store_ids) = warm_store(&p("store.db"), true);
    let (store_nc, nc_ids) = warm_store(&p("store-nocompaction.db"), false);
    let (plain, plain_ids) = warm_floor(&p("floor-plain.db"), false);
    let (cipher, cipher_ids) = warm_floor(&p("floor-sqlcipher.db"), true);
    let mk = |name, subject, ids, file: &str, cipher| Timed {
        name,
        subject,
        path: p(file),
        cipher,
        ids,
        next: 0,
        wall_us: Vec::new(),
        thread_cpu_ns: 0,
    };
    let mut subjects = vec![
        mk(
            "store (default: background compaction)",
            Subject::Store(store),
            store_ids,
            "store.db",
            true,
        ),
        mk(
            "store, background_compaction = false",
            Subject::Store(store_nc),
            nc_ids,
            "store-nocompaction.db",
            true,
        ),
        mk(
            "(a) floor: plain SQLite, 1 + 8 rows",
            Subject::Floor(plain, FloorAuthor::bench()),
            plain_ids,
            "floor-plain.db",
            false,
        ),
        mk(
            "(b) SQLCipher raw key, 1 + 8 rows",
            Subject::Floor(cipher, FloorAuthor::bench()),
            cipher_ids,
            "floor-sqlcipher.db",
            true,
        ),
    ];
    // One unmeasured round to settle caches.
    for s in subjects.iter_mut() {
        for _ in 0..PER_ROUND {
            s.record();
        }
    }
    let all_cpu0 = process_cpu_ns();
    let main_cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let n = subjects.len();
    for round in 0..ROUNDS {
        for j in 0..n {
            let s = &mut subjects[(round + j) % n];
            let c0 = thread_cpu_ns();
            for _ in 0..PER_ROUND {
                let us = s.record();
                s.wall_us.push(us);
            }
            s.thread_cpu_ns += thread_cpu_ns() - c0;
        }
    }
    let elapsed = t0.elapsed();
    let background_cpu_ns =
        (process_cpu_ns() - all_cpu0).saturating_sub(thread_cpu_ns() - main_cpu0);
    let sums: Vec<Summary> = subjects.iter().map(|s| summarise(&s.wall_us)).collect();
    let (floor, cipher) = (sums[2], sums[3]);
    out.line(&format!(
        "{ROUNDS} rounds x {PER_ROUND} calls per subject, order rotated each round; {} calls each, {:.1} s in all. \
         Warm: {WARM_PEOPLE} people registered with {WARM_VISITS} visits each, calls cycle through them. Times in µs.",
        ROUNDS * PER_ROUND,
        elapsed.as_secs_f64()
    ));
    out.line("| subject | median | p90 | p99 | max | mean | caller CPU/call | median / (a) | median / (b) | p99 / (a) | p99 / (b) |");
    out.line("|---|---|---|---|---|---|---|---|---|---|---|");
    for (s, m) in subjects.iter().zip(&sums) {
        out.line(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} |",
            s.name,
            m.median,
            m.p90,
            m.p99,
            m.max,
            m.mean,
            s.thread_cpu_ns as f64 / 1e3 / s.wall_us.len() as f64,
            ratio(m.median, floor.median),
            ratio(m.median, cipher.median),
            ratio(m.p99, floor.p99),
            ratio(m.p99, cipher.p99),
        ));
    }
    out.line(&format!(
        "Background (compactor) threads used {:.0} ms of CPU over the measured rounds, i.e. {:.0} µs per visit recorded by the default store.",
        background_cpu_ns as f64 / 1e6,
        background_cpu_ns as f64 / 1e3 / (ROUNDS * PER_ROUND) as f64
    ));
    // Where the time goes: pages written to the WAL per call (each one encrypted and
    // HMAC-signed by SQLCipher), and the Automerge part alone.
    let frames: Vec<String> = subjects[1..]
        .iter_mut()
        .map(|s| {
            let pages = wal_pages_per_call(s, 20);
            format!("{} {pages:.1}", s.name)
        })
        .collect();
    out.line(&format!(
        "Pages appended to the WAL per call (after a TRUNCATE checkpoint, 20 calls): {}.",
        frames.join("; ")
    ));
    let am = automerge_part(50);
    out.line(&format!(
        "Automerge part alone (put_json of the observation set and the visit, commit with the audit stamp, \
         get_change_by_hash, raw_bytes) on a document already holding 50 visits: median {:.0} µs, p99 {:.0} µs \
         ({} calls; {} bytes per change).",
        am.0.median, am.0.p99, am.0.n, am.1
    ));
    let target_met = sums[0].median <= 2.0 * floor.median;
    out.line(&format!(
        "Target median <= 2x the floor (a): {} ({:.2}x).",
        if target_met { "MET" } else { "MISSED" },
        sums[0].median / floor.median
    ));
    drop(subjects);
}

// ------------------------------------------------------------------ children (fresh processes)

fn child(args: &[String]) {
    let mode = args.first().map(String::as_str).unwrap_or("");
    let kind = args.get(1).map(String::as_str).unwrap_or("");
    match (mode, kind) {
        ("open", "store") => {
            let t0 = Instant::now();
            let store = FieldStore::open(store_config(&store_path())).expect("open");
            let t1 = Instant::now();
            let list = store.caseload().expect("caseload");
            let t2 = Instant::now();
            let again = store.caseload().expect("caseload");
            let t3 = Instant::now();
            println!(
                "RESULT open_ms={:.3} caseload_ms={:.3} total_ms={:.3} second_caseload_ms={:.3} rows={}",
                millis(t1 - t0),
                millis(t2 - t1),
                millis(t2 - t0),
                millis(t3 - t2),
                list.len().min(again.len())
            );
        }
        ("open", floor) => {
            let cipher = floor == "sqlcipher";
            let t0 = Instant::now();
            let conn = open_floor(&floor_path(cipher), cipher);
            let t1 = Instant::now();
            let list = floor_caseload(&conn);
            let t2 = Instant::now();
            let again = floor_caseload(&conn);
            let t3 = Instant::now();
            println!(
                "RESULT open_ms={:.3} caseload_ms={:.3} total_ms={:.3} second_caseload_ms={:.3} rows={}",
                millis(t1 - t0),
                millis(t2 - t1),
                millis(t2 - t0),
                millis(t3 - t2),
                list.len().min(again.len())
            );
        }
        ("memory", "store") => {
            let before = status_kb("VmHWM");
            let store = FieldStore::open(store_config(&store_path())).expect("open");
            let opened = status_kb("VmHWM");
            let list = store.caseload().expect("caseload");
            let listed = status_kb("VmHWM");
            let mut open_ms = Vec::new();
            for e in list.iter().step_by(list.len() / 20).take(20) {
                let t = Instant::now();
                let r = store.patient(&e.person_id).expect("patient");
                open_ms.push(millis(t.elapsed()));
                assert!(r.clinical.map(|c| c.visits.len()).unwrap_or(0) >= VISITS_PER_PERSON);
            }
            let after = status_kb("VmHWM");
            let p = summarise(&open_ms);
            println!(
                "RESULT before_kb={before} opened_kb={opened} listed_kb={listed} after_kb={after} rss_kb={} patients={} patient_median_ms={:.3} patient_max_ms={:.3}",
                status_kb("VmRSS"),
                open_ms.len(),
                p.median,
                p.max
            );
        }
        ("memory", floor) => {
            let cipher = floor == "sqlcipher";
            let before = status_kb("VmHWM");
            let conn = open_floor(&floor_path(cipher), cipher);
            let opened = status_kb("VmHWM");
            let list = floor_caseload(&conn);
            let listed = status_kb("VmHWM");
            let mut open_ms = Vec::new();
            for e in list.iter().step_by(list.len() / 20).take(20) {
                let t = Instant::now();
                let rows = floor_open_person(&conn, &e.person_id);
                open_ms.push(millis(t.elapsed()));
                assert!(rows >= VISITS_PER_PERSON * 8);
            }
            let after = status_kb("VmHWM");
            let p = summarise(&open_ms);
            println!(
                "RESULT before_kb={before} opened_kb={opened} listed_kb={listed} after_kb={after} rss_kb={} patients={} patient_median_ms={:.3} patient_max_ms={:.3}",
                status_kb("VmRSS"),
                open_ms.len(),
                p.median,
                p.max
            );
        }
        ("diagnose", "automerge") => {
            for n in [10, 50, 150, 500] {
                let (m, b) = automerge_part(n);
                println!(
                    "prefill {n}: median {:.0} us p99 {:.0} us ({b} B)",
                    m.median, m.p99
                );
            }
        }
        ("diagnose", "record") => diagnose_record(),
        ("diagnose", "compression") => diagnose_compression(),
        ("profile", "record") => {
            // For `perf record`: only record_visit into a warm store (see docs/performance.md).
            let n: usize = args.get(2).and_then(|x| x.parse().ok()).unwrap_or(3000);
            let dir = scratch_dir("profile");
            let (store, ids) = warm_store(&dir.path().join("store.db"), true);
            let t = Instant::now();
            for i in 0..n {
                store
                    .record_visit(&ids[i % ids.len()], testing::full_visit(0))
                    .expect("record_visit");
            }
            println!(
                "RESULT calls={n} mean_us={:.1}",
                micros(t.elapsed()) / n as f64
            );
        }
        _ => {
            eprintln!("unknown child mode {args:?}");
            std::process::exit(2);
        }
    }
}

/// Run this binary again as `--child <mode> <kind>` and parse its `RESULT k=v ...` line.
fn run_child(mode: &str, kind: &str) -> Vec<(String, f64)> {
    let exe = std::env::current_exe().expect("current exe");
    let o = Command::new(exe)
        .args(["--child", mode, kind])
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() {
        panic!(
            "child {mode} {kind} failed: {}\n{stdout}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("child {mode} {kind} printed no RESULT:\n{stdout}"));
    line["RESULT ".len()..]
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
        .collect()
}

fn get(r: &[(String, f64)], k: &str) -> f64 {
    r.iter()
        .find(|(kk, _)| kk == k)
        .map(|(_, v)| *v)
        .unwrap_or(f64::NAN)
}

const KINDS: [(&str, &str); 3] = [
    ("store", "store (500 x 50, SQLCipher + Automerge)"),
    ("plain", "(a) floor: plain SQLite, same visits as rows"),
    ("sqlcipher", "(b) SQLCipher raw key, same rows"),
];

// ------------------------------------------------------------------ 2. cold open

const OPEN_RUNS: usize = 9;

fn bench_open(out: &mut Out) {
    out.line("\n## 2. Open the 500 x 50 store in a fresh process and list the caseload");
    let mut results: Vec<Vec<Vec<(String, f64)>>> = vec![Vec::new(); KINDS.len()];
    for run in 0..OPEN_RUNS {
        for j in 0..KINDS.len() {
            let k = (run + j) % KINDS.len();
            results[k].push(run_child("open", KINDS[k].0));
        }
    }
    out.line(&format!(
        "{OPEN_RUNS} fresh processes per subject, interleaved; timed inside the process from before open to holding the first caseload. \
         The OS page cache is warm (the files were just written or read), so this is a cold process, not a cold disk. Medians in ms."
    ));
    out.line("| subject | open | first caseload | open + first caseload | (min..max) | 2nd caseload | rows | total / (a) | total / (b) |");
    out.line("|---|---|---|---|---|---|---|---|---|");
    let med =
        |k: usize, f: &str| summarise(&results[k].iter().map(|r| get(r, f)).collect::<Vec<_>>());
    let (ta, tb) = (med(1, "total_ms").median, med(2, "total_ms").median);
    for (k, (_, name)) in KINDS.iter().enumerate() {
        let total = med(k, "total_ms");
        out.line(&format!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1}..{:.1} | {:.1} | {:.0} | {} | {} |",
            med(k, "open_ms").median,
            med(k, "caseload_ms").median,
            total.median,
            total.min,
            total.max,
            med(k, "second_caseload_ms").median,
            med(k, "rows").median,
            ratio(total.median, ta),
            ratio(total.median, tb),
        ));
    }
    let store_total = med(0, "total_ms").median;
    out.line(&format!(
        "Target open + first caseload < 300 ms: {} ({store_total:.1} ms).",
        if store_total < 300.0 { "MET" } else { "MISSED" }
    ));
}

// ------------------------------------------------------------------ 3. caseload and search

const QUERY_ROUNDS: usize = 40;

fn bench_queries(out: &mut Out) {
    out.line("\n## 3. caseload() and search_patients() over the 500 x 50 store");
    let store = FieldStore::open(store_config(&store_path())).expect("open store");
    let plain = open_floor(&floor_path(false), false);
    let cipher = open_floor(&floor_path(true), true);
    let specs = people();
    let name = specs[42].family[..4].to_lowercase();
    let nhs = specs[17].nhs_number.clone().expect("nhs");
    let nhs_typed = format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..]);
    let postcode = specs[300].postcode.clone();
    let district = specs[300]
        .postcode
        .split(' ')
        .next()
        .unwrap_or("HX7")
        .to_string();
    let queries: Vec<(String, Option<String>)> = vec![
        ("caseload()".into(), None),
        (
            format!("search \"{name}\" (name prefix)"),
            Some(name.clone()),
        ),
        (
            format!("search \"{nhs_typed}\" (NHS number)"),
            Some(nhs_typed.clone()),
        ),
        (
            format!("search \"{postcode}\" (postcode)"),
            Some(postcode.clone()),
        ),
        (
            format!("search \"{district}\" (postcode district)"),
            Some(district.clone()),
        ),
    ];
    // [query][subject] -> samples (ms), rows
    let mut samples = vec![vec![Vec::new(); 3]; queries.len()];
    let mut rows = vec![[0usize; 3]; queries.len()];
    let run = |q: &Option<String>, subject: usize| -> usize {
        match (q, subject) {
            (None, 0) => store.caseload().expect("caseload").len(),
            (Some(q), 0) => store.search_patients(q).expect("search").len(),
            (None, 1) => floor_caseload(&plain).len(),
            (Some(q), 1) => floor_search(&plain, q).len(),
            (None, _) => floor_caseload(&cipher).len(),
            (Some(q), _) => floor_search(&cipher, q).len(),
        }
    };
    for ((_, q), counts) in queries.iter().zip(rows.iter_mut()) {
        for (s, count) in counts.iter_mut().enumerate() {
            *count = run(q, s); // warm-up, and the row count
        }
    }
    for round in 0..QUERY_ROUNDS {
        for (qi, (_, q)) in queries.iter().enumerate() {
            for j in 0..3 {
                let s = (round + j) % 3;
                let t = Instant::now();
                std::hint::black_box(run(q, s));
                samples[qi][s].push(millis(t.elapsed()));
            }
        }
    }
    out.line(&format!(
        "{QUERY_ROUNDS} rounds, subjects interleaved; warm process (store already open). Medians in ms (p90 in brackets). \
         The floor's caseload is people + last visit (no alerts, next planned visit or NEWS2, which the floor schema does not have)."
    ));
    out.line("| query | store | rows | (a) plain SQLite | (b) SQLCipher | store / (a) | store / (b) | target < 10 ms |");
    out.line("|---|---|---|---|---|---|---|---|");
    for (qi, (label, _)) in queries.iter().enumerate() {
        let s: Vec<Summary> = samples[qi].iter().map(|x| summarise(x)).collect();
        out.line(&format!(
            "| {label} | {:.2} ({:.2}) | {} | {:.2} | {:.2} | {} | {} | {} |",
            s[0].median,
            s[0].p90,
            rows[qi][0],
            s[1].median,
            s[2].median,
            ratio(s[0].median, s[1].median),
            ratio(s[0].median, s[2].median),
            if s[0].median < 10.0 { "met" } else { "MISSED" }
        ));
    }
}

// ------------------------------------------------------------------ 4. bytes on disk

fn bench_disk(out: &mut Out) {
    out.line("\n## 4. Bytes on disk per visit (500 people x 50 visits = 25,000 visits)");
    let marker = store_marker();
    let m = |k: &str| {
        marker
            .iter()
            .find(|(kk, _)| kk == k)
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let path = store_path();
    let (db, wal) = db_bytes(&path);
    let per = |b: f64| b / TOTAL_VISITS as f64;
    // VACUUM a copy (the store has no VACUUM of its own).
    let dir = scratch_dir("disk");
    let copy = dir.path().join("store-copy.db");
    std::fs::copy(&path, &copy).expect("copy store");
    let conn = Connection::open(&copy).expect("open copy");
    conn.execute_batch(&key_pragma()).expect("key");
    let breakdown = table_breakdown(&conn);
    let (snap_bytes, snaps): (i64, i64) = conn
        .query_row(
            "SELECT coalesce(sum(length(snapshot)), 0), count(*) FROM documents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0));
    let (changes, summary_bytes, unfolded): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(length(summary)), 0), (SELECT count(*) FROM change_bytes) FROM changes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or((0, 0, 0));
    let free_pages: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap_or(0);
    let t = Instant::now();
    conn.execute_batch("VACUUM;").expect("vacuum");
    let vacuum_s = t.elapsed().as_secs_f64();
    drop(conn);
    let vacuumed = file_len(&copy) + file_len(&wal_path(&copy));
    let plain = file_len(&floor_path(false)) + file_len(&wal_path(&floor_path(false)));
    let cipher = file_len(&floor_path(true)) + file_len(&wal_path(&floor_path(true)));
    out.line("| file | bytes | bytes / visit | / floor (a) | target < 2 KB (2,048 B) |");
    out.line("|---|---|---|---|---|");
    let row = |out: &mut Out, label: &str, b: f64| {
        out.line(&format!(
            "| {label} | {:.0} | {:.0} | {} | {} |",
            b,
            per(b),
            ratio(b, plain as f64),
            if per(b) < 2048.0 { "met" } else { "MISSED" }
        ))
    };
    row(
        out,
        &format!(
            "store, right after compact_now (db {:.0} + wal {:.0}), store open",
            m("db_after_compact_now"),
            m("wal_after_compact_now")
        ),
        m("db_after_compact_now") + m("wal_after_compact_now"),
    );
    row(
        out,
        &format!("store, closed (db {db} + wal {wal})"),
        (db + wal) as f64,
    );
    row(
        out,
        &format!("store after VACUUM of a copy ({vacuum_s:.1} s)"),
        vacuumed as f64,
    );
    row(
        out,
        "(a) floor: plain SQLite, same visits as rows",
        plain as f64,
    );
    row(out, "(b) SQLCipher raw key, same rows", cipher as f64);
    out.line(&format!(
        "Store contents: {snaps} document snapshots, {snap_bytes} bytes ({:.0} B/visit); {changes} change rows \
         ({unfolded} still holding bytes; summaries {summary_bytes} B, {:.0} B/visit); {free_pages} free pages before VACUUM. \
         Besides the 25,000 visits the store holds 500 registrations, 100 alerts and 500 planned visits.",
        per(snap_bytes as f64),
        per(summary_bytes as f64),
    ));
    if !breakdown.is_empty() {
        out.line("Pages by table/index before VACUUM (dbstat):");
        out.line("| table or index | bytes | bytes / visit | unused space in its pages |");
        out.line("|---|---|---|---|");
        for (name, bytes, unused) in breakdown {
            out.line(&format!(
                "| {name} | {bytes} | {:.0} | {:.0}% |",
                per(bytes as f64),
                100.0 * unused as f64 / bytes.max(1) as f64
            ));
        }
    }
}

fn table_breakdown(conn: &Connection) -> Vec<(String, i64, i64)> {
    let Ok(mut stmt) = conn
        .prepare("SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC")
    else {
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map(|rows| rows.filter_map(|r| r.ok()).collect())
        .unwrap_or_default()
}

// ------------------------------------------------------------------ 5. peak memory

const MEMORY_RUNS: usize = 5;

fn bench_memory(out: &mut Out) {
    out.line("\n## 5. Peak memory: fresh process opens the store, lists the caseload, opens 20 patient records");
    let mut results: Vec<Vec<Vec<(String, f64)>>> = vec![Vec::new(); KINDS.len()];
    for run in 0..MEMORY_RUNS {
        for j in 0..KINDS.len() {
            let k = (run + j) % KINDS.len();
            results[k].push(run_child("memory", KINDS[k].0));
        }
    }
    out.line(&format!(
        "{MEMORY_RUNS} fresh processes per subject, interleaved; VmHWM from /proc/self/status. Medians in MiB. \
         Baseline = the same process's VmHWM just before opening. The floors read each person's 50 visit rows + 400 observation rows instead of `patient()`."
    ));
    out.line("| subject | VmHWM before open | after open | after caseload | after 20 records | growth | VmRSS at end | growth / store growth | open one record (median ms, max) |");
    out.line("|---|---|---|---|---|---|---|---|---|");
    let med = |k: usize, f: &str| {
        summarise(&results[k].iter().map(|r| get(r, f)).collect::<Vec<_>>()).median
    };
    let store_growth = med(0, "after_kb") - med(0, "before_kb");
    for (k, (_, name)) in KINDS.iter().enumerate() {
        let growth = med(k, "after_kb") - med(k, "before_kb");
        out.line(&format!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.2} ({:.2}) |",
            med(k, "before_kb") / 1024.0,
            med(k, "opened_kb") / 1024.0,
            med(k, "listed_kb") / 1024.0,
            med(k, "after_kb") / 1024.0,
            growth / 1024.0,
            med(k, "rss_kb") / 1024.0,
            ratio(growth, store_growth),
            med(k, "patient_median_ms"),
            med(k, "patient_max_ms"),
        ));
    }
}

// ------------------------------------------------------------------ diagnosis (manual)

/// `--child diagnose record`: which tables and indexes the pages a `record_visit` appends to the
/// WAL belong to (frame headers are not encrypted; page numbers are mapped with dbstat).
fn diagnose_record() {
    const CALLS: usize = 40;
    let dir = scratch_dir("diagnose-record");
    let store_db = dir.path().join("store.db");
    let floor_db = dir.path().join("floor.db");
    let (store, ids) = warm_store(&store_db, false);
    let (mut floor, fids) = warm_floor(&floor_db, true);
    let author = FloorAuthor::bench();
    type Call<'a> = Box<dyn FnMut(usize) + 'a>;
    let mut subjects: Vec<(&str, &Path, Call<'_>)> = vec![
        (
            "store",
            &store_db,
            Box::new(|i| {
                store
                    .record_visit(&ids[i % ids.len()], testing::full_visit(0))
                    .expect("record");
            }),
        ),
        (
            "floor (SQLCipher, 1 + 8 rows)",
            &floor_db,
            Box::new(|i| {
                floor_record_visit(
                    &mut floor,
                    &fids[i % fids.len()],
                    &testing::full_visit(0),
                    &author,
                )
                .expect("floor");
            }),
        ),
    ];
    for (name, path, call) in subjects.iter_mut() {
        let path: &Path = path;
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(&key_pragma()).expect("key");
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .expect("checkpoint");
        assert_eq!(busy, 0, "checkpoint blocked");
        for i in 0..CALLS {
            call(i);
        }
        let wal = std::fs::read(wal_path(path)).unwrap_or_default();
        let page = 4096usize;
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        let names: std::collections::HashMap<i64, String> = conn
            .prepare("SELECT pageno, name FROM dbstat")
            .expect("dbstat")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("dbstat rows")
            .filter_map(|r| r.ok())
            .collect();
        let mut off = 32;
        let mut frames = 0;
        while off + 24 + page <= wal.len() {
            let pgno = u32::from_be_bytes([wal[off], wal[off + 1], wal[off + 2], wal[off + 3]]);
            let name = names
                .get(&i64::from(pgno))
                .cloned()
                .unwrap_or_else(|| "(free list / other)".into());
            *counts.entry(name).or_default() += 1;
            frames += 1;
            off += 24 + page;
        }
        println!(
            "\n{name}: {:.1} pages appended to the WAL per call ({CALLS} calls)",
            frames as f64 / CALLS as f64
        );
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by_key(|x| std::cmp::Reverse(x.1));
        for (n, c) in v {
            println!("  {:>5.2}  {n}", c as f64 / CALLS as f64);
        }
    }
}

/// `--child diagnose compression`: how much the snapshot size per visit depends on how well the
/// notes compress. 20 people x 50 visits with the data set's varied notes, and again with notes of
/// random letters (incompressible text), each compacted; snapshot bytes per visit.
fn diagnose_compression() {
    for random in [false, true] {
        let dir = scratch_dir("diagnose-compression");
        let path = dir.path().join("s.db");
        let mut cfg = store_config(&path);
        cfg.background_compaction = false;
        let store = FieldStore::open(cfg).expect("open");
        let ids: Vec<String> = people()[..20]
            .iter()
            .map(|p| store.register_patient(p.demographics()).expect("register"))
            .collect();
        let mut rng = Rng::new(99);
        for round in 0..VISITS_PER_PERSON {
            for (i, id) in ids.iter().enumerate() {
                let mut v = varied_visit(&mut rng, minutes_ago(round, i));
                if random {
                    let note: String = (0..500)
                        .map(|k| {
                            if k % 6 == 5 {
                                ' '
                            } else {
                                char::from(b'a' + rng.below(26) as u8)
                            }
                        })
                        .collect();
                    v.note = Some(note.trim().to_string() + "x");
                }
                store.record_visit(id, v).expect("visit");
            }
        }
        store.compact_now().expect("compact");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(&key_pragma()).expect("key");
        let snap: i64 = conn
            .query_row(
                "SELECT sum(length(snapshot)) FROM documents WHERE compartment = 'clinical'",
                [],
                |r| r.get(0),
            )
            .expect("sum");
        let n = 20 * VISITS_PER_PERSON;
        println!(
            "{}: clinical snapshots {:.0} B per visit",
            if random {
                "random-letter notes"
            } else {
                "the data set's varied notes"
            },
            snap as f64 / n as f64
        );
    }
}
