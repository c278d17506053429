//! The ward watch against a real SQLite store: a phone's admission, readings posted by an
//! integration, and two server processes (two `App`s, each with its own identity and document
//! cache) running rounds over the same database.

use chrono::{Duration, Utc};
use doorstep_core::clinical::escalation::EscalationBand;
use doorstep_core::record::escalation::{self, Escalation};
use doorstep_core::record::{read, Compartment};

use super::*;
use crate::http::ServerConfig;
use crate::ingest::tests::{csv, ward};
use crate::storage::{sqlite::SqliteStorage, Storage};

fn escalations(app: &App, person: &str) -> Vec<Escalation> {
    let (doc, _) = app
        .storage
        .read(|tx| crate::docs::replay(tx, person, Compartment::Clinical))
        .unwrap();
    escalation::escalations(person, &read::clinical(person, &doc).unwrap())
}

#[test]
fn two_processes_re_alert_an_unacknowledged_escalation_once_and_silence_escalates_once() {
    let w = ward();
    let p = &w.on_ward;
    // NEWS2 9 on air and alert, taken three hours ago.
    let t = (Utc::now() - Duration::hours(3)).to_rfc3339();
    let rows: Vec<String> = [
        ("spo2", "91", "%"),
        ("pulse", "118", "/min"),
        ("systolic_bp", "104", "mmHg"),
        ("respiration_rate", "23", "/min"),
        ("temperature", "38.3", "Cel"),
    ]
    .iter()
    .map(|(kind, value, unit)| format!("OX-1,{p},{kind},{value},{unit},{t}"))
    .collect();
    let a = crate::ingest::http::write(&w.app, &w.integration, csv(&rows)).unwrap();
    assert_eq!(a.sets_written, 1);

    let other = App::new(
        Storage::Sqlite(SqliteStorage::open(w.dir.path()).unwrap()),
        ServerConfig::default(),
    );
    let now = Utc::now();
    let first = round(&w.app, now).unwrap();
    assert_eq!(
        (first.people, first.realerts, first.gaps),
        (2, 1, 0),
        "{first:?}"
    );
    assert!(first.failed.is_empty());
    let second = round(&other, now + Duration::seconds(5)).unwrap();
    assert_eq!((second.realerts, second.gaps), (0, 0), "{second:?}");
    let esc = escalations(&w.app, p);
    assert_eq!(esc.len(), 1);
    assert_eq!(
        esc[0].realerts, 6,
        "three hours unacknowledged: the sixth half hour"
    );

    // Nine hours on: eight hours without readings is an escalation of its own (once), and
    // the first is re-alerted again. The person not on the ward raises nothing.
    let later = now + Duration::hours(9);
    let r = round(&other, later).unwrap();
    assert_eq!((r.realerts, r.gaps), (1, 1), "{r:?}");
    let r = round(&w.app, later + Duration::seconds(5)).unwrap();
    assert_eq!((r.realerts, r.gaps), (0, 0), "{r:?}");
    let esc = escalations(&w.app, p);
    assert_eq!(esc.len(), 2, "{esc:?}");
    let gap = esc
        .iter()
        .find(|e| e.band == EscalationBand::NoReadings)
        .unwrap();
    assert!(
        gap.reasons
            .starts_with("no home-monitoring readings for 12 h"),
        "{}",
        gap.reasons
    );
    assert!(escalations(&w.app, &w.not_on_ward).is_empty());

    // What the watch wrote is in the log under the process that wrote it, checked like any
    // change; a phone reading the log gets the same escalations.
    let origins = w
        .app
        .storage
        .read(|tx| {
            let up_to = tx.max_seq()?;
            tx.doc_change_meta(p, Compartment::Clinical, up_to)
        })
        .unwrap();
    let servers: Vec<&str> = origins
        .iter()
        .map(|c| c.origin_device.as_str())
        .filter(|d| d.starts_with("server:"))
        .collect();
    assert_eq!(
        servers.len(),
        3,
        "the set, the first re-alert, then the gap and re-alert: {servers:?}"
    );
    assert!(servers.contains(&other.identity.device_id().as_str()));
}

#[test]
fn a_watch_round_with_no_ward_writes_nothing() {
    let w = ward();
    let r = round(&w.app, Utc::now()).unwrap();
    assert_eq!((r.people, r.realerts, r.gaps), (2, 0, 0), "{r:?}");
}
