//! `doorstep loadgen`, small: enrols devices, gives each a day's work, syncs them all at once
//! against a server it starts itself, and reports no errors.

use std::process::Command;

use doorstep_tests::doorstep_bin;

#[test]
fn loadgen_runs_a_small_load_without_errors() {
    let out = Command::new(doorstep_bin())
        .args([
            "loadgen",
            "--devices",
            "6",
            "--team-size",
            "3",
            "--people-per-team",
            "4",
            "--visits",
            "2",
            "--json",
            "--timeout-secs",
            "120",
        ])
        .output()
        .expect("run doorstep loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "loadgen failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("loadgen --json printed no JSON ({e}):\n{stdout}"));
    let text = json.to_string();
    assert!(text.contains("\"errors\":0"), "no sync failed: {text}");
    assert!(
        text.contains("\"syncs\":6"),
        "every device synced once: {text}"
    );
}
