//! `doorstep report csds` through a real server database (issue 15 item 4): two nurses' phones
//! record a person's stated gender, ethnic category and GP practice, an episode and contacts
//! (one offline), sync through a real `doorstep serve`, and the extract read from the server's
//! database codes them as the Data Dictionary does. A team's ODS code and service type are set
//! with `doorstep admin set-team-profile`; bad input is refused with words.

use std::process::Command;

use chrono::{Duration, Utc};
use doorstep_core::record::schedule::local_date;
use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_tests::{doorstep_bin, runtime, team, Backend, Device, ServerProc};

fn report(backend: &Backend, args: &[&str]) -> std::process::Output {
    Command::new(doorstep_bin())
        .args(["report"])
        .args(backend.args())
        .arg("csds")
        .args(args)
        .output()
        .expect("run doorstep report")
}

fn contact(at: chrono::DateTime<Utc>, kind: ContactType, outcome: VisitOutcome) -> VisitInput {
    VisitInput {
        planned_visit_id: None,
        contact_type: kind,
        started_at: at,
        ended_at: Some(at + Duration::minutes(25)),
        outcome,
        interventions: vec![Intervention::WoundCare],
        note: None,
        observations: None,
        scheduled_visit: None,
        outcome_reason: (outcome == VisitOutcome::NoAccess).then(|| "no answer".to_string()),
        interventions_done: vec![],
    }
}

#[test]
fn the_csds_extract_codes_what_two_phones_recorded() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    let server = ServerProc::start(&backend);
    team(&backend, "hyde");
    let set = backend.admin(&[
        "set-team-profile",
        "hyde",
        "--ods-code",
        "rx101",
        "--service-type",
        "05",
    ]);
    assert!(set.contains("ODS code RX101, service type 05"), "{set}");
    let refused = backend.admin_fails(&[
        "set-team-profile",
        "hyde",
        "--ods-code",
        "R",
        "--service-type",
        "05",
    ]);
    assert!(refused.contains("3 to 5 letters and digits"), "{refused}");
    let refused = backend.admin_fails(&[
        "set-team-profile",
        "nope",
        "--ods-code",
        "RX1",
        "--service-type",
        "05",
    ]);
    assert!(refused.contains("no team nope"), "{refused}");

    let n1 = Device::enrol(&rt, &backend, &server.url, "hyde-nurse1", dir.path());
    let n2 = Device::enrol(&rt, &backend, &server.url, "hyde-nurse2", dir.path());
    let mut d = testing::demographics("Ada", "Adams", Some("9434765919"), "SK14 1AA");
    d.stated_gender = Some(StatedGender::Female);
    d.ethnic_category = Some(EthnicCategory::NotStated);
    d.gp_practice_ods = Some("p84 001".into());
    let mut bad = d.clone();
    bad.gp_practice_ods = Some("Hyde Surgery".into());
    let e = n1.store.register_patient(bad).unwrap_err().to_string();
    assert!(e.contains("letter and five digits"), "{e}");
    let ada = n1.store.register_patient(d).unwrap();
    let at = Utc::now() - Duration::minutes(90);
    let episode = n1
        .store
        .add_episode(
            &ada,
            EpisodeInput {
                service: Service::DistrictNursing,
                referral_source: "GP".into(),
                referral_reason: "leg ulcer".into(),
                accepted_on: local_date(at),
            },
        )
        .unwrap();
    n1.store
        .record_visit(
            &ada,
            contact(at, ContactType::HomeVisit, VisitOutcome::Completed),
        )
        .unwrap();
    n1.sync(&rt).unwrap();
    n2.sync(&rt).unwrap();
    // Offline on the second phone.
    n2.store
        .record_visit(
            &ada,
            contact(
                at + Duration::minutes(30),
                ContactType::HomeVisit,
                VisitOutcome::NoAccess,
            ),
        )
        .unwrap();
    n2.sync(&rt).unwrap();

    let month = local_date(at).format("%Y-%m").to_string();
    let out_dir = dir.path().join("csds");
    std::fs::create_dir(&out_dir).unwrap();
    let out = report(
        &backend,
        &[
            "--team",
            "hyde",
            "--month",
            &month,
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 people, 1 referrals, 2 care contacts, 1 care activities"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning"), "{stdout}");
    let read = |t: &str| std::fs::read_to_string(out_dir.join(format!("csds-{t}-{month}.csv")));
    let people = read("people").unwrap();
    assert!(
        people.contains(&format!("{ada},9434765919,02,"))
            && people.contains(",SK14 1AA,2,Z,P84001\r\n"),
        "{people}"
    );
    let referrals = read("referrals").unwrap();
    assert!(
        referrals.contains(&format!("{},{ada},RX101,05,", episode.id)),
        "{referrals}"
    );
    let contacts = read("care-contacts").unwrap();
    let coded: Vec<&str> = contacts
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(9).unwrap_or(""))
        .collect();
    assert_eq!(coded, ["5", "3"], "{contacts}");
    assert!(
        contacts.contains(",hyde-nurse2,"),
        "the offline phone's contact: {contacts}"
    );
    let activities = read("care-activities").unwrap();
    assert!(
        activities.contains(",wound_care,wound care,\r\n"),
        "{activities}"
    );

    let bad_month = report(&backend, &["--team", "hyde", "--month", "2026-13"]);
    assert!(!bad_month.status.success());
    assert!(String::from_utf8_lossy(&bad_month.stderr).contains("use the form YYYY-MM"));
    let wrong_team = report(&backend, &["--team", "nope", "--month", &month]);
    assert!(String::from_utf8_lossy(&wrong_team.stderr).contains("there is no team 'nope'"));
}
