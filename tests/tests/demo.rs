//! `doorstep demo`, the README's main job, run as a user runs it: the binary, on loopback.
//! Checks the lines that carry the story: one round trip per sync, the NEWS2 7 flagged high with
//! the RCP response, the allergy edited on two phones surfacing as one clinical conflict on every
//! phone that holds Edith's clinical record, and each role seeing only what it may.

use std::process::Command;

use doorstep_tests::doorstep_bin;

fn run_demo(extra: &[&str]) -> String {
    let out = Command::new(doorstep_bin())
        .arg("demo")
        .args(extra)
        .output()
        .expect("run doorstep demo");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "doorstep demo failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn demo_tells_the_story_end_to_end() {
    let out = run_demo(&[]);
    let has = |s: &str| assert!(out.contains(s), "demo output lacks {s:?}\n{out}");

    // Set-up through the real server: three enrolled phones.
    has("Sync server listening on http://127.0.0.1:");
    for who in ["Sam Patel", "Dr Priya Shah", "Joe Brennan"] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(who) && l.contains("device ")),
            "{who} not enrolled\n{out}"
        );
    }

    // NEWS2 7, flagged high, with the RCP response.
    has("home visit with Arthur Holroyd: medication prompt; NEWS2 7 (high risk)");
    has("!!! Arthur Holroyd — NEWS2 7 — HIGH CLINICAL RISK");
    has("RCP response: High clinical risk (NEWS2 score 7 or more");

    // Every sync is one round trip; 3 in the morning, 6 after the day.
    let syncs: Vec<&str> = out.lines().filter(|l| l.contains(" round trip")).collect();
    assert_eq!(syncs.len(), 9, "{out}");
    assert!(
        syncs.iter().all(|l| l.contains(" 1 round trip,")),
        "{syncs:#?}"
    );

    // The concurrent allergy edit is a clinical conflict, raised where it arrives and shown on
    // every phone holding Edith's clinical record (both clinicians, and the advice worker with
    // Edith's consent), with both values and their authors.
    assert_eq!(
        count(&out, "NEW CLINICAL CONFLICT Edith Crawley: allergies"),
        3,
        "{out}"
    );
    assert_eq!(count(&out, "! allergies IN CONFLICT: Penicillin: anaphylaxis (GP letter, 1998) | Latex: contact dermatitis"), 3, "{out}");
    assert_eq!(count(&out, "Open clinical conflicts (1):"), 3, "{out}");
    assert_eq!(
        count(
            &out,
            "\"Penicillin: anaphylaxis (GP letter, 1998)\" — Sam Patel (district nurse), device "
        ),
        3,
        "{out}"
    );
    assert_eq!(count(&out, "\"Latex: contact dermatitis (daughter, last spring)\" — Dr Priya Shah (virtual-ward clinician), device "), 3, "{out}");
    // Remote monitoring: readings become a server-written set that escalates, the ward watch
    // re-alerts it (unacknowledged for 35 minutes), one sync brings it, Priya acknowledges.
    has("posts 6 readings taken 35 minutes ago: 5 stored, 1 refused (Pulse of 880 /min is outside the possible range");
    has("1 set written by the server");
    has("after one sync (1 request to the server): escalation band high, NEWS2 9 (assumed on air, alert)");
    has("so the ward watch re-alerted it (re-alert 1, at ");
    has("Priya acknowledges; Sam's phone shows it Acknowledged by Dr Priya Shah");

    assert_eq!(
        count(&out, "latest NEWS2 7 (high)  <-- HIGH"),
        2,
        "the clinicians' caseloads flag Arthur\n{out}"
    );

    // Scope: consent to share for Edith only.
    assert_eq!(
        count(&out, "Cannot see: the advice record of Harold Greenwood"),
        2,
        "{out}"
    );
    has("Cannot see: the clinical records of Harold Greenwood, Arthur Holroyd and Margaret Sutcliffe");
    has("clinical records of Edith Crawley (2 visits");
    has("advice records of Edith Crawley and Harold Greenwood");

    // Convergence.
    has("on every phone holding her clinical record (Sam, Priya, Joe): yes");
    has("Sam's and Priya's phones hold the same 11 clinical entries (visits, observations, notes): yes");
    has("Changes still waiting to sync on any phone: 0");

    // Scored assessments: a Waterlow kept as a draft and finished later, a MUST from
    // measurements, both reaching the other clinician's phone with the same scores.
    has("Sam starts Edith's Waterlow (BMI 20.5): 11 points so far, 7 sections still to answer");
    has("Sam resumes Edith's Waterlow draft and finishes it: Waterlow 20 (very high risk)");
    has("Sam screens Harold with MUST: BMI 18.6 kg/m², 7.3 % weight lost in 3 months: MUST 2 (high risk)");
    has("Sam's and Priya's phones hold the same 2 scored assessments (MUST, Waterlow), with the same scores: yes");

    // The virtual ward (issue 13): scale 2 from the admission, one escalation id, acknowledged.
    has("NEWS2 6 on SpO2 scale 2");
    has("band medium: NEWS2 6; pulse 112 outside the personal range 50–105");
    has("Walter Ackroyd       day 1 of 7 expected, latest NEWS2 6, open escalations 1");
    has("the same escalation (one id) after one sync: true");
    has("after sync Sam's phone shows it Acknowledged by Dr Priya Shah");

    // The case worker's day (issue 14): an attended and a missed appointment on Joe's list, the
    // follow-up the missed one raised, and the second attempt counted as one.
    has("Harold Greenwood home                         completed");
    has("Rose Kaur        Hyde Library (library)       did not attend");
    has("(Hyde Library (library), attempt 1 of 3): contact the client and book attempt 2");
    has("Joe books attempt 2 of 3 for");
    has("Follow-ups due by");

    // A referral between teams (issue 14 item 5): held as demographics only until accepted.
    has("caseload 0 people; of Walter it holds the demographics only.");
    has("Priya's phone shows the referral accepted by Aisha Khan.");
}

#[test]
fn demo_keeps_its_files_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let out = run_demo(&["--keep", keep.to_str().unwrap()]);
    assert!(out.contains("Kept the server database"), "{out}");
    assert!(keep.join("server/server.db").exists());
    for phone in ["sam", "priya", "joe"] {
        assert!(
            keep.join(format!("phones/{phone}.db")).exists(),
            "{phone}'s store"
        );
        let key = std::fs::read_to_string(keep.join(format!("phones/{phone}.key"))).unwrap();
        assert_eq!(key.len(), 64, "32-byte key in hex");
    }
    // A second run into the same (now non-empty) directory is refused, not mixed in.
    let again = Command::new(doorstep_bin())
        .args(["demo", "--keep", keep.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}
