//! Remote-monitoring ingest (issue 13, item 2) through a real `doorstep serve`: an integration
//! made by `doorstep admin create-integration` posts JSON, CSV and FHIR batches with good, bad and
//! duplicate lines and gets a verdict per line; an unregistered serial and a person not on the
//! ward are refused per line; a revoked integration is refused with a clear message. SQLite and
//! PostgreSQL.

use chrono::{Duration, Utc};
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};
use serde_json::{json, Value};

fn post(
    rt: &tokio::runtime::Runtime,
    url: &str,
    token: &str,
    media: &str,
    body: String,
) -> (u16, Value) {
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/v1/readings"))
            .bearer_auth(token)
            .header("content-type", media)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    })
}

fn verdicts(answer: &Value) -> Vec<(u64, String, String)> {
    answer["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["verdict"].as_str().unwrap().to_string(),
                l["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn v(line: u64, verdict: &str, code: &str) -> (u64, String, String) {
    (line, verdict.into(), code.into())
}

fn counts(a: &Value) -> (u64, u64, u64) {
    (
        a["stored"].as_u64().unwrap(),
        a["duplicate"].as_u64().unwrap(),
        a["refused"].as_u64().unwrap(),
    )
}

fn ingest_through_the_server(backend: Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(&backend);
    let rt = runtime();
    team(&backend, prefix);
    let phone = Device::enrol(
        &rt,
        &backend,
        &server.url,
        &format!("{prefix}-nurse2"),
        dir.path(),
    );
    let p = phone
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    phone
        .store
        .admit_to_ward(&p, testing::ward_admission(None))
        .unwrap();
    let q = phone
        .store
        .register_patient(testing::demographics("Frank", "Dale", None, "HX7 8AC"))
        .unwrap();
    phone.sync(&rt).unwrap();

    let (id, token) = doorstep_tests::monitoring_integration(&backend, "Acme oximetry", prefix);
    for (person, serial) in [(&p, "OX-1"), (&q, "OX-2")] {
        backend.admin(&[
            "register-monitor",
            "--integration",
            &id,
            "--person",
            person,
            "--serial",
            serial,
        ]);
    }
    let t = (Utc::now() - Duration::minutes(20)).to_rfc3339();
    let reading = |serial: &str, person: &str, kind: &str, value: Value, unit: &str| json!({"serial": serial, "person_id": person, "kind": kind, "value": value, "unit": unit, "taken_at": t});

    // JSON: good, duplicate, wrong unit, unregistered serial, not on the ward, malformed.
    let body = json!({"readings": [
        reading("OX-1", &p, "spo2", json!(91), "%"),
        reading("OX-1", &p, "pulse", json!(118), "/min"),
        reading("OX-1", &p, "spo2", json!(91), "%"),
        reading("OX-1", &p, "temperature", json!(101.2), "°F"),
        reading("OX-9", &p, "pulse", json!(90), "/min"),
        reading("OX-2", &q, "pulse", json!(90), "/min"),
        {"serial": "OX-1", "person_id": p, "kind": "pulse"},
    ]});
    let (status, a) = post(
        &rt,
        &server.url,
        &token,
        "application/json",
        body.to_string(),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        verdicts(&a),
        vec![
            v(1, "stored", ""),
            v(2, "stored", ""),
            v(3, "duplicate", ""),
            v(4, "refused", "wrong_unit"),
            v(5, "refused", "unknown_device"),
            v(6, "refused", "not_on_ward"),
            v(7, "refused", "malformed"),
        ]
    );
    assert_eq!(counts(&a), (2, 1, 4));
    assert!(
        a["lines"][4]["reason"]
            .as_str()
            .unwrap()
            .contains("register-monitor"),
        "{a}"
    );

    // CSV: one already held by the JSON batch, one new, one out of range.
    let csv = format!(
        "serial,person_id,kind,value,unit,taken_at\nOX-1,{p},pulse,118,/min,{t}\nOX-1,{p},respiration_rate,24,/min,{t}\nOX-1,{p},spo2,9.1,%,{t}\n"
    );
    let (status, a) = post(&rt, &server.url, &token, "text/csv", csv);
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        verdicts(&a),
        vec![
            v(2, "duplicate", ""),
            v(3, "stored", ""),
            v(4, "refused", "not_whole"),
        ]
    );

    // FHIR: a blood pressure (two readings from one entry) and an unknown code.
    let obs = |code: Value, extra: Value| {
        let mut o = json!({"resourceType": "Observation", "status": "final",
            "subject": {"reference": format!("Patient/{p}")},
            "device": {"identifier": {"value": "OX-1"}},
            "effectiveDateTime": t, "code": code});
        for (k, val) in extra.as_object().unwrap() {
            o[k] = val.clone();
        }
        json!({"resource": o})
    };
    let loinc = |c: &str| json!({"coding": [{"system": "http://loinc.org", "code": c}]});
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        obs(loinc("85354-9"), json!({"component": [
            {"code": loinc("8480-6"), "valueQuantity": {"value": 88, "code": "mm[Hg]"}},
            {"code": loinc("8462-4"), "valueQuantity": {"value": 55, "code": "mm[Hg]"}},
        ]})),
        obs(loinc("29463-7"), json!({"valueQuantity": {"value": 70, "code": "kg"}})),
    ]});
    let (status, a) = post(
        &rt,
        &server.url,
        &token,
        "application/fhir+json",
        bundle.to_string(),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        verdicts(&a),
        vec![
            v(1, "stored", ""),
            v(1, "stored", ""),
            v(2, "refused", "malformed"),
        ]
    );
    let refused = backend.admin(&["ingest-refusals"]);
    assert!(refused.contains("6 refused readings"), "{refused}");

    // A device's token is not an integration's; a revoked integration is refused, saying so.
    let (status, a) = post(&rt, &server.url, "not-a-token", "text/csv", String::new());
    assert_eq!(status, 401, "{a}");
    backend.admin(&["revoke-integration", &id]);
    let (status, a) = post(
        &rt,
        &server.url,
        &token,
        "application/json",
        json!({"readings": [reading("OX-1", &p, "pulse", json!(80), "/min")]}).to_string(),
    );
    assert_eq!(status, 403, "{a}");
    let message = a["message"].as_str().unwrap();
    assert!(
        message.contains("was revoked") && message.contains("nothing it sends is stored"),
        "{message}"
    );
}

#[test]
fn readings_are_checked_line_by_line_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    ingest_through_the_server(Backend::Sqlite(dir.path().join("server")), "ing");
}

#[test]
fn readings_are_checked_line_by_line_on_postgres() {
    let pg = Postgres::start();
    ingest_through_the_server(Backend::Postgres(pg.url.clone()), "ingpg");
}

/// Issue 13, item 2 step 3 and the measure "from a reading that escalates arriving at the server
/// to the escalation on a phone: one sync". Readings posted by the integration become one set
/// written by the server as its own principal; a colleague's phone that never saw the readings
/// gets the set, its escalation and its "assumed on air, alert" in one sync; a repeat upload
/// writes nothing; a late reading in the hour rewrites the same set, not a second one.
fn readings_reach_a_phone_as_an_escalating_set(backend: Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(&backend);
    let rt = runtime();
    team(&backend, prefix);
    let hub = Device::enrol(
        &rt,
        &backend,
        &server.url,
        &format!("{prefix}-nurse2"),
        dir.path(),
    );
    let p = hub
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    hub.store
        .admit_to_ward(&p, testing::ward_admission(None))
        .unwrap();
    hub.sync(&rt).unwrap();
    let colleague = Device::enrol(
        &rt,
        &backend,
        &server.url,
        &format!("{prefix}-nurse1"),
        dir.path(),
    );
    colleague.sync(&rt).unwrap();
    assert!(colleague.store.escalations(None).unwrap().is_empty());

    let (id, token) = doorstep_tests::monitoring_integration(&backend, "Acme hub", prefix);
    backend.admin(&[
        "register-monitor",
        "--integration",
        &id,
        "--person",
        &p,
        "--serial",
        "HUB-1",
    ]);
    let t0 = Utc::now() - Duration::minutes(30);
    let at = |m: i64| (t0 + Duration::minutes(m)).to_rfc3339();
    let reading = |kind: &str, value: Value, unit: &str, m: i64| json!({"serial": "HUB-1", "person_id": p, "kind": kind, "value": value, "unit": unit, "taken_at": at(m)});
    // SpO2 91 (3), pulse 118 (2), systolic 104 (1), RR 23 (2), 38.3 °C (1): NEWS2 9 on air and
    // alert, which no device reported.
    let set = json!({"readings": [
        reading("spo2", json!(91), "%", 0),
        reading("pulse", json!(118), "/min", 1),
        reading("systolic_bp", json!(104), "mmHg", 2),
        reading("respiration_rate", json!(23), "/min", 5),
        reading("temperature", json!(38.3), "Cel", 10),
    ]});
    let (status, a) = post(
        &rt,
        &server.url,
        &token,
        "application/json",
        set.to_string(),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        (counts(&a), a["sets_written"].as_u64()),
        ((5, 0, 0), Some(1)),
        "{a}"
    );

    let report = colleague.sync(&rt).unwrap();
    assert_eq!(report.round_trips, 1, "one sync: {report:?}");
    let esc = colleague.store.escalations(None).unwrap();
    assert_eq!(esc.len(), 1, "{esc:?}");
    assert_eq!(esc[0].news2_total, Some(9));
    assert_eq!(
        esc[0].news2_assumed.as_deref(),
        Some("assumed on air, alert")
    );
    let census = colleague.store.ward_census().unwrap();
    let row = census.people.iter().find(|r| r.person_id == p).unwrap();
    assert_eq!(row.latest_news2, Some(9));
    assert_eq!(
        row.latest_news2_assumed.as_deref(),
        Some("assumed on air, alert")
    );
    let record = colleague.store.patient(&p).unwrap();
    let sets = &record.clinical.as_ref().unwrap().observations;
    assert_eq!(sets.len(), 1);
    assert!(
        sets[0].author.device_id.starts_with("server:"),
        "{:?}",
        sets[0].author
    );
    // The FHIR export says what was assumed and does not claim it as measured.
    let bundle: Value = serde_json::from_str(&colleague.store.export_fhir(&p).unwrap()).unwrap();
    let observations: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Observation")
        .collect();
    let acvpu = observations
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == "1104441000000107")
        .count();
    assert_eq!(acvpu, 0, "no ACVPU Observation for an assumed 'alert'");
    let news2 = observations
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "1104051000000101")
        .expect("a NEWS2 Observation");
    let note = news2["note"][0]["text"].as_str().unwrap();
    assert!(note.contains("assumed on air, alert"), "{note}");

    // The same upload again: duplicates, no set written, nothing new for the phones.
    let (_, a) = post(
        &rt,
        &server.url,
        &token,
        "application/json",
        set.to_string(),
    );
    assert_eq!(
        (counts(&a), a["sets_written"].as_u64()),
        ((0, 5, 0), Some(0)),
        "{a}"
    );
    // A reading within the hour (consciousness entered by the person) joins the same set.
    let late = json!({"readings": [reading("consciousness", json!(0), "acvpu", 20)]});
    let (_, a) = post(
        &rt,
        &server.url,
        &token,
        "application/json",
        late.to_string(),
    );
    assert_eq!(a["sets_written"].as_u64(), Some(1), "{a}");
    colleague.sync(&rt).unwrap();
    let esc = colleague.store.escalations(None).unwrap();
    assert_eq!(esc.len(), 1, "rewritten, not a second set: {esc:?}");
    assert_eq!(esc[0].news2_assumed.as_deref(), Some("assumed on air"));

    // The colleague acknowledges; the phone that admitted the person sees it after its sync.
    colleague
        .store
        .acknowledge_escalation(&p, &esc[0].id, None)
        .unwrap();
    colleague.sync(&rt).unwrap();
    hub.sync(&rt).unwrap();
    let seen = hub.store.escalations(None).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].acknowledgements, 1, "{seen:?}");
}

#[test]
fn readings_reach_a_phone_as_an_escalating_set_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    readings_reach_a_phone_as_an_escalating_set(Backend::Sqlite(dir.path().join("server")), "hs");
}

#[test]
fn readings_reach_a_phone_as_an_escalating_set_on_postgres() {
    let pg = Postgres::start();
    readings_reach_a_phone_as_an_escalating_set(Backend::Postgres(pg.url.clone()), "hspg");
}
