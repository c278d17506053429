//! Child process for the crash test: records visits in a loop and prints `ACK <visit id>` after
//! each `record_visit` returns Ok. The test kills it with SIGKILL at random moments.
//!
//! Usage: crash_writer <db path> <person id> <max visits>

use std::io::Write;

use doorstep_core::record::Role;
use doorstep_core::testing;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: crash_writer <db path> <person id> <max visits>");
        std::process::exit(2);
    }
    let max: usize = args[3].parse().unwrap_or(1000);
    let store = match doorstep_core::FieldStore::open(testing::config(
        std::path::Path::new(&args[1]),
        "crash-device",
        Role::DistrictNurse,
    )) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "READY");
    let _ = out.flush();
    for i in 0..max {
        match store.record_visit(&args[2], testing::full_visit(i as i64 % 600)) {
            Ok(r) => {
                let _ = writeln!(out, "ACK {}", r.visit.id);
                let _ = out.flush();
            }
            Err(e) => {
                eprintln!("record_visit failed: {e}");
                std::process::exit(1);
            }
        }
    }
}
