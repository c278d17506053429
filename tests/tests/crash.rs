//! Kill -9 at random moments: every visit the store acknowledged is there after reopening, and
//! SQLite's integrity check passes.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use doorstep_core::record::Role;
use doorstep_core::testing;

/// xorshift: enough randomness for kill timing without another dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn acknowledged_visits_survive_sigkill() {
    let runs: usize = std::env::var("DOORSTEP_CRASH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(42)
        | 1;
    eprintln!("crash test seed {seed}, {runs} runs");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let person = {
        let s = testing::open(&path, "crash-device", Role::DistrictNurse);
        s.register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
            .unwrap()
    };
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut killed_mid_stream = 0;
    for run in 0..runs {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(&path)
            .arg(&person)
            .arg("100000")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn crash_writer");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until it is writing, then let it run for a random while and kill it.
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("writer did not start");
        assert_eq!(ready, "READY");
        let wait = Duration::from_millis(5 + rng.below(400));
        let start = Instant::now();
        let mut this_run = 0;
        while start.elapsed() < wait {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(1)) {
                if let Some(id) = line.strip_prefix("ACK ") {
                    acked.insert(id.to_string());
                    this_run += 1;
                }
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "run {run}: the writer was killed, not finished"
        );
        reader.join().unwrap();
        for line in rx.try_iter() {
            if let Some(id) = line.strip_prefix("ACK ") {
                acked.insert(id.to_string());
                this_run += 1;
            }
        }
        if this_run > 0 {
            killed_mid_stream += 1;
        }
        // Reopen: every acknowledged visit is there and the file is sound.
        let s = testing::open(&path, "crash-device", Role::DistrictNurse);
        assert_eq!(s.integrity_check().unwrap(), "ok", "run {run}");
        let held: BTreeSet<String> = s
            .patient(&person)
            .unwrap()
            .clinical
            .map(|c| c.visits.into_iter().map(|v| v.id).collect())
            .unwrap_or_default();
        let lost: Vec<&String> = acked.difference(&held).collect();
        assert!(
            lost.is_empty(),
            "run {run}: acknowledged visits lost after SIGKILL: {lost:?}"
        );
        // The projections agree with the documents after every crash.
        let before = s.projection_dump().unwrap();
        s.rebuild_projections().unwrap();
        assert_eq!(
            s.projection_dump().unwrap(),
            before,
            "run {run}: projections diverged"
        );
    }
    eprintln!(
        "{} acknowledged visits over {runs} kills ({killed_mid_stream} runs killed while writing)",
        acked.len()
    );
    assert!(
        killed_mid_stream >= runs / 2,
        "most runs must be killed while writing"
    );
    assert!(acked.len() > runs, "the writer made progress");
}
