//! The ward watch (issue 13, item 3) through real `doorstep serve` processes: an escalation
//! nobody acknowledged is re-alerted, and a monitored person whose devices went quiet raises a
//! "no readings" escalation; a colleague's phone gets both in one sync; with two server
//! processes on one PostgreSQL database each is written once, however many rounds run.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use doorstep_core::clinical::escalation::EscalationBand;
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};
use serde_json::{json, Value};

const WATCH: [&str; 6] = [
    "--watch-every-s",
    "1",
    "--realert-after-min",
    "30",
    "--no-readings-after-min",
    "60",
];

fn post(rt: &tokio::runtime::Runtime, url: &str, token: &str, body: Value) -> Value {
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/v1/readings"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.unwrap()
    })
}

fn history_lines(device: &Device, person: &str, words: &str) -> usize {
    device
        .store
        .history(person)
        .unwrap()
        .iter()
        .filter(|h| h.summary.starts_with("ward watch") && h.summary.contains(words))
        .count()
}

fn ward_watch(backend: &Backend, servers: &[&ServerProc], prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    team(backend, prefix);
    let url = &servers[0].url;
    let hub = Device::enrol(&rt, backend, url, &format!("{prefix}-nurse2"), dir.path());
    let admit = |given: &str| {
        let p = hub
            .store
            .register_patient(testing::demographics(given, "Crawley", None, "HX7 8AB"))
            .unwrap();
        hub.store
            .admit_to_ward(&p, testing::ward_admission(None))
            .unwrap();
        p
    };
    let (unwell, quiet) = (admit("Edith"), admit("Ivy"));
    hub.sync(&rt).unwrap();
    let colleague = Device::enrol(&rt, backend, url, &format!("{prefix}-nurse1"), dir.path());
    colleague.sync(&rt).unwrap();

    let (id, token) = doorstep_tests::monitoring_integration(backend, "Acme hub", prefix);
    for (person, serial) in [(&unwell, "HUB-1"), (&quiet, "HUB-2")] {
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
    // NEWS2 9 taken 40 minutes ago and not acknowledged: past the 30-minute re-alert. A normal
    // pulse 70 minutes ago and nothing since: past the hour without readings.
    let at = |m: i64| (Utc::now() - Duration::minutes(m)).to_rfc3339();
    let r = |serial: &str, p: &str, kind: &str, value: Value, unit: &str, m: i64| json!({"serial": serial, "person_id": p, "kind": kind, "value": value, "unit": unit, "taken_at": at(m)});
    let a = post(
        &rt,
        url,
        &token,
        json!({"readings": [
            r("HUB-1", &unwell, "spo2", json!(91), "%", 40),
            r("HUB-1", &unwell, "pulse", json!(118), "/min", 40),
            r("HUB-1", &unwell, "systolic_bp", json!(104), "mmHg", 40),
            r("HUB-1", &unwell, "respiration_rate", json!(23), "/min", 40),
            r("HUB-1", &unwell, "temperature", json!(38.3), "Cel", 40),
            r("HUB-2", &quiet, "pulse", json!(72), "/min", 70),
        ]}),
    );
    assert_eq!(a["stored"], 6, "{a}");

    // The hub's phone waits for the watch's rounds (every second on each process).
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        hub.sync(&rt).unwrap();
        let esc = hub.store.escalations(None).unwrap();
        let realerted = esc.iter().any(|e| e.person_id == unwell && e.realerts >= 1);
        let silent = esc
            .iter()
            .any(|e| e.person_id == quiet && e.band == EscalationBand::NoReadings);
        if realerted && silent {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watch wrote nothing: {esc:?}"
        );
        std::thread::sleep(StdDuration::from_millis(300));
    }
    // More rounds on every process: still one re-alert and one gap.
    std::thread::sleep(StdDuration::from_secs(3));

    let report = colleague.sync(&rt).unwrap();
    assert_eq!(report.round_trips, 1, "one sync: {report:?}");
    let esc = colleague.store.escalations(None).unwrap();
    let first = esc.iter().find(|e| e.person_id == unwell).unwrap();
    assert_eq!(first.realerts, 1, "{first:?}");
    assert!(first.last_realerted_at.is_some());
    assert_eq!(first.news2_total, Some(9));
    let gap = esc.iter().find(|e| e.person_id == quiet).unwrap();
    assert_eq!(gap.band, EscalationBand::NoReadings);
    assert!(
        gap.reasons
            .starts_with("no home-monitoring readings for 1 h"),
        "{}",
        gap.reasons
    );
    assert_eq!(history_lines(&colleague, &unwell, "re-alerted"), 1);
    assert_eq!(
        history_lines(&colleague, &quiet, "no home-monitoring readings"),
        1
    );

    // Acknowledged on the phone: the next rounds leave it alone, and the hub sees who.
    colleague
        .store
        .acknowledge_escalation(&unwell, &first.id, None)
        .unwrap();
    colleague.sync(&rt).unwrap();
    std::thread::sleep(StdDuration::from_secs(2));
    hub.sync(&rt).unwrap();
    let seen = hub.store.escalations(Some(unwell.clone())).unwrap();
    assert_eq!(seen[0].acknowledgements, 1);
    assert_eq!(history_lines(&hub, &unwell, "re-alerted"), 1);
}

#[test]
fn the_ward_watch_re_alerts_and_escalates_silence_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    let server = ServerProc::start_with(&backend, &WATCH);
    ward_watch(&backend, &[&server], "ww");
}

#[test]
fn two_postgres_servers_re_alert_and_escalate_silence_once() {
    let pg = Postgres::start();
    let backend = Backend::Postgres(pg.url.clone());
    let s1 = ServerProc::start_with(&backend, &WATCH);
    let s2 = ServerProc::start_with(&backend, &WATCH);
    ward_watch(&backend, &[&s1, &s2], "wwpg");
}
