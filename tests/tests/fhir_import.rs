//! A GP summary imported through a real `doorstep serve` (issue 15 item 3, the server half): the
//! trust's EPR, as a `fhir` integration made with `doorstep admin`, posts a UK Core Bundle; the
//! record it adds to, or the person it registers, reaches the nurse's phone on her next sync,
//! checked there by the same record rules; refusals are OperationOutcomes; every import is in
//! `doorstep admin fhir-reads`.

use doorstep_core::record::{AlertInput, AlertKind};
use doorstep_core::testing;
use doorstep_tests::{integration, leeds_nurse_with_ada, runtime};
use serde_json::Value;

/// POST a body to a FHIR route of a real server: (status, body).
fn post(rt: &tokio::runtime::Runtime, url: &str, token: &str, body: String) -> (u16, String) {
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    })
}

fn diagnostics(outcome: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(outcome).expect("json");
    assert_eq!(v["resourceType"], "OperationOutcome", "{outcome}");
    v["issue"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["diagnostics"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_gp_summary_posted_by_the_epr_reaches_the_nurses_phone_on_her_next_sync() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let (backend, server, nurse, ada) = leeds_nurse_with_ada(&rt, dir.path());
    let s = &nurse.store;
    s.set_alert(
        &ada,
        AlertInput {
            kind: AlertKind::Allergies,
            text: "Penicillin".into(),
            active: true,
        },
    )
    .expect("alert");
    nurse.sync(&rt).expect("sync");

    let (id, token) = integration(&backend, "fhir", "Leeds EPR", "leeds");
    let url = format!("{}/fhir/Bundle", server.url);
    // Into the record the phone made: three entries added, the NHS number marked verified (the
    // summary gives it as traced), the disagreement with the alert said.
    let (status, outcome) = post(
        &rt,
        &url,
        &token,
        testing::GP_SUMMARY.replace("9912003888", "9434765919"),
    );
    assert_eq!(status, 200, "{outcome}");
    let lines = diagnostics(&outcome);
    assert!(
        lines[0].contains("4 added, 1 already there, 0 refused"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the NHS number's verification status") && l.contains("added")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("(allergy: Amoxicillin): added")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("does not mention")),
        "{lines:?}"
    );
    // A person not on the caseload: registered on the integration's team.
    let (status, outcome) = post(&rt, &url, &token, testing::GP_SUMMARY.to_string());
    assert_eq!(status, 201, "{outcome}");
    // A Bundle that cannot be matched: refused whole, with what to do.
    let (status, outcome) = post(&rt, &url, &token, "{\"resourceType\":\"Patient\"}".into());
    assert_eq!(status, 422, "{outcome}");
    assert!(
        diagnostics(&outcome)[0].contains("not a FHIR Bundle"),
        "{outcome}"
    );
    let (status, _) = post(&rt, &format!("{url}?colour=red"), &token, String::new());
    assert_eq!(status, 400);

    let report = nurse.sync(&rt).expect("sync");
    assert_eq!(report.quarantined, 0, "{report:?}");
    let held = s.patient(&ada).expect("read");
    let demographics = held.demographics.expect("demographics");
    assert!(
        demographics.nhs_number_verified_now(),
        "the integration's mark reached the phone: {demographics:?}"
    );
    let record = held.clinical.expect("clinical");
    assert_eq!(record.imported.len(), 3);
    assert_eq!(record.imported[0].code.snomed.as_deref(), Some("372687004"));
    assert_eq!(record.allergy_disagreements.len(), 1);
    assert_eq!(
        record.alerts[0].values[0].text, "Penicillin",
        "the alert is untouched"
    );
    let caseload = s.caseload().expect("caseload");
    let richard = caseload
        .iter()
        .find(|c| c.display_name.contains("SMITH"))
        .expect("the registered person is on the phone");
    let theirs = s.patient(&richard.person_id).expect("read");
    assert_eq!(theirs.clinical.expect("clinical").imported.len(), 3);

    let audit = backend.admin(&["fhir-reads"]);
    assert!(
        audit.contains(&id)
            && audit.contains("POST /fhir/Bundle")
            && audit.contains("imported: 4 added, 1 already there"),
        "{audit}"
    );
}
