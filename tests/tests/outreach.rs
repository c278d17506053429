//! `doorstep report outreach` through a real server database (issue 14): two advice workers'
//! phones record outcomes offline, sync through a real `doorstep serve`, the person then leaves
//! the team's caseload, and the report read from the server's change log still counts them,
//! each outcome once.

use std::process::Command;

use doorstep_core::record::schedule::local_date;
use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_tests::{doorstep_bin, runtime, team, Backend, Device, ServerProc};

fn report(backend: &Backend, args: &[&str]) -> std::process::Output {
    Command::new(doorstep_bin())
        .args(["report"])
        .args(backend.args())
        .arg("outreach")
        .args(args)
        .output()
        .expect("run doorstep report")
}

#[test]
fn the_outreach_report_counts_a_client_who_left_and_each_outcome_once() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    let server = ServerProc::start(&backend);
    team(&backend, "hyde");
    backend.admin(&["create-team", "leeds", "Team leeds"]);
    backend.admin(&[
        "create-user",
        "hyde-advice2",
        "--name",
        "Alex Caseworker",
        "--role",
        "advice-worker",
        "--team",
        "hyde",
    ]);
    let a1 = Device::enrol(&rt, &backend, &server.url, "hyde-advice1", dir.path());
    let a2 = Device::enrol(&rt, &backend, &server.url, "hyde-advice2", dir.path());
    let edith = a1
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "SK14 1AA"))
        .unwrap();
    let need = a1
        .store
        .add_advice_need(&edith, AdviceCategory::UniversalCredit, "UC claim")
        .unwrap();
    a1.sync(&rt).unwrap();
    a2.sync(&rt).unwrap();
    // Offline on both phones.
    let monthly = FinancialEffectInput {
        kind: FinancialEffectKind::IncomeGained,
        amount_pence: 40_000,
        recurring: true,
        period: Some(Period::Monthly),
    };
    a1.store
        .record_advice_outcome_with_effect(&edith, &need.id, "UC awarded", monthly)
        .unwrap();
    let grant = FinancialEffectInput {
        kind: FinancialEffectKind::GrantOrOneOff,
        amount_pence: 10_000,
        recurring: false,
        period: None,
    };
    a2.store
        .record_advice_outcome_with_effect(&edith, &need.id, "Hardship grant", grant)
        .unwrap();
    for d in [&a1, &a2, &a1] {
        d.sync(&rt).unwrap();
    }
    assert_eq!(
        a1.store
            .patient(&edith)
            .unwrap()
            .advice
            .unwrap()
            .outcomes
            .len(),
        2,
        "both phones' outcomes merged"
    );
    backend.admin(&["move-person", &edith, "leeds"]);

    let today = local_date(chrono::Utc::now()).to_string();
    let out_dir = dir.path().join("reports");
    std::fs::create_dir(&out_dir).unwrap();
    let out = report(
        &backend,
        &[
            "--team",
            "hyde",
            "--from",
            &today,
            "--to",
            &today,
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
    assert!(stdout.contains("£4,900.00"), "{stdout}");
    let stem = format!("outreach-hyde-{today}-{today}");
    let csv = std::fs::read_to_string(out_dir.join(format!("{stem}.csv"))).unwrap();
    let total = csv.lines().nth(1).unwrap();
    assert_eq!(
        total, "total,all,All clients,1,1,1.0,2,4800.00,0.00,100.00,4900.00,0.00,0.00",
        "£400 a month × 12 + a £100 grant, each once"
    );
    assert!(
        csv.contains("case worker,hyde-advice2,Alex Caseworker,1,0,0.0,1,0.00,0.00,100.00,100.00")
    );
    assert!(csv.contains("client,") && csv.contains("Edith Crawley"));
    let html = std::fs::read_to_string(out_dir.join(format!("{stem}.html"))).unwrap();
    assert!(html.contains("Universal Credit") && html.contains("<svg role=\"img\""));

    let wrong_team = report(
        &backend,
        &["--team", "nope", "--from", &today, "--to", &today],
    );
    assert!(!wrong_team.status.success());
    assert!(String::from_utf8_lossy(&wrong_team.stderr).contains("there is no team 'nope'"));
    let backwards = report(
        &backend,
        &[
            "--team",
            "hyde",
            "--from",
            "2026-12-31",
            "--to",
            "2026-01-01",
        ],
    );
    assert!(String::from_utf8_lossy(&backwards.stderr).contains("swap the dates"));
}
