//! Ingest against a real SQLite store and a real phone's admission: every verdict a line can
//! get, and nothing double-counted.

use chrono::{Duration, Utc};
use doorstep_core::clinical::readings::ReadingKind;
use doorstep_core::record::Role;
use doorstep_core::testing;

use super::formats::{self, Format};
use crate::http::{App, ServerConfig};
use crate::storage::{sqlite::SqliteStorage, Storage};
use crate::{admin, integrations};

pub(crate) struct Ward {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) app: App,
    pub(crate) on_ward: String,
    pub(crate) not_on_ward: String,
    pub(crate) integration: crate::storage::IntegrationRow,
}

/// A team with one person admitted to the virtual ward (by a real phone's change, checked and
/// stored as any sync's) and one who is not, both wearing registered monitors.
pub(crate) fn ward() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap());
    admin::create_team(&storage, "team-a", "Team A").unwrap();
    let user = testing::user("user-d1", Role::VirtualWardClinician);
    admin::create_user(&storage, &user.id, &user.display_name, user.role, "team-a").unwrap();
    storage
        .write(|tx| tx.add_device("d1", &user.id, "tok", 1))
        .unwrap();
    let app = App::new(storage, ServerConfig::default());
    let phone = testing::open(&dir.path().join("p.db"), "d1", Role::VirtualWardClinician);
    let on_ward = phone
        .register_patient(testing::demographics("Ada", "Moss", None, "HX1 1AA"))
        .unwrap();
    phone
        .admit_to_ward(&on_ward, testing::ward_admission(None))
        .unwrap();
    let not_on_ward = phone
        .register_patient(testing::demographics("Bea", "Lowe", None, "HX1 1AB"))
        .unwrap();
    let device = app
        .storage
        .read(|tx| tx.device_by_token("tok"))
        .unwrap()
        .unwrap();
    let refused = crate::http::test_upload::store_outbox(&app, &device, &phone);
    assert!(refused.is_empty(), "{refused:?}");
    let created =
        integrations::create(&app.storage, "monitoring", "Acme oximetry", "team-a").unwrap();
    let id = created.integration.integration_id.clone();
    integrations::register_monitor(&app.storage, &id, &on_ward, "OX-1").unwrap();
    integrations::register_monitor(&app.storage, &id, &not_on_ward, "OX-2").unwrap();
    Ward {
        dir,
        app,
        on_ward,
        not_on_ward,
        integration: created.integration,
    }
}

pub(crate) fn csv(rows: &[String]) -> Vec<super::Line> {
    let body = format!("{}\n{}\n", formats::CSV_HEADER, rows.join("\n"));
    formats::lines(Format::Csv, body.as_bytes()).unwrap()
}

#[test]
fn every_line_gets_its_verdict_and_a_repeat_is_a_duplicate() {
    let w = ward();
    let t = (Utc::now() - Duration::minutes(10)).to_rfc3339();
    let future = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let (p, q) = (&w.on_ward, &w.not_on_ward);
    let rows = vec![
        format!("OX-1,{p},spo2,93,%,{t}"),           // 2 stored
        format!("OX-1,{p},pulse,88,/min,{t}"),       // 3 stored
        format!("OX-1,{p},spo2,93,%,{t}"),           // 4 duplicate (same value)
        format!("OX-1,{p},spo2,91,%,{t}"),           // 5 duplicate (another value: first stands)
        format!("OX-1,{p},temperature,98.6,°F,{t}"), // 6 wrong unit
        format!("OX-1,{p},pulse,880,/min,{t}"),      // 7 out of range
        format!("OX-1,{p},pulse,88.5,/min,{t}"),     // 8 not whole
        format!("OX-9,{p},pulse,88,/min,{t}"),       // 9 unknown device
        format!("OX-2,{p},pulse,88,/min,{t}"),       // 10 another person's monitor
        format!("OX-2,{q},pulse,88,/min,{t}"),       // 11 not on the ward
        format!("OX-1,{p},pulse,70,/min,{future}"),  // 12 future
        format!("OX-1,{p},pulse"),                   // 13 malformed
    ];
    let a = super::http::write(&w.app, &w.integration, csv(&rows)).unwrap();
    let verdicts: Vec<(u64, &str, Option<&str>)> = a
        .lines
        .iter()
        .map(|l| (l.line, l.verdict, l.code))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (2, "stored", None),
            (3, "stored", None),
            (4, "duplicate", None),
            (5, "duplicate", None),
            (6, "refused", Some("wrong_unit")),
            (7, "refused", Some("out_of_range")),
            (8, "refused", Some("not_whole")),
            (9, "refused", Some("unknown_device")),
            (10, "refused", Some("device_of_another_person")),
            (11, "refused", Some("not_on_ward")),
            (12, "refused", Some("future")),
            (13, "refused", Some("malformed")),
        ]
    );
    assert_eq!((a.stored, a.duplicate, a.refused), (2, 2, 8));
    assert!(a.lines[3].reason.as_deref().unwrap().contains("value 93"));
    assert!(a.lines[7]
        .reason
        .as_deref()
        .unwrap()
        .contains("register-monitor"));
    assert_eq!(a.lines[0].kind, Some(ReadingKind::Spo2));

    // The same upload again: nothing new is stored.
    let again = super::http::write(&w.app, &w.integration, csv(&rows)).unwrap();
    assert_eq!((again.stored, again.duplicate, again.refused), (0, 4, 8));
    let held = w
        .app
        .storage
        .read(|tx| tx.readings_of(p, 0, i64::MAX))
        .unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
    assert_eq!(held.iter().find(|r| r.kind == "spo2").unwrap().value, 93.0);
    // Every refusal is kept for operators.
    let counts = integrations::refusal_counts(&w.app.storage).unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 16);
    assert!(counts.contains(&("unknown_device".to_string(), 2)));
}

#[test]
fn a_revoked_integration_stores_nothing() {
    let w = ward();
    let t = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    integrations::revoke(&w.app.storage, &w.integration.integration_id).unwrap();
    let e = super::http::write(
        &w.app,
        &w.integration,
        csv(&[format!("OX-1,{},pulse,80,/min,{t}", w.on_ward)]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    assert!(w
        .app
        .storage
        .read(|tx| tx.readings_of(&w.on_ward, 0, i64::MAX))
        .unwrap()
        .is_empty());
    assert!(matches!(
        integrations::revoke(&w.app.storage, &w.integration.integration_id),
        Err(crate::ServerError::Conflict(_))
    ));
}

#[test]
fn monitors_are_registered_to_people_on_the_integrations_team() {
    let w = ward();
    let id = &w.integration.integration_id;
    let e = integrations::register_monitor(&w.app.storage, id, "nobody", "OX-3").unwrap_err();
    assert!(e.to_string().contains("not on the caseload"), "{e}");
    let e = integrations::register_monitor(&w.app.storage, id, &w.not_on_ward, "OX-1").unwrap_err();
    assert!(e.to_string().contains("another person"), "{e}");
    integrations::unregister_monitor(&w.app.storage, id, "OX-1").unwrap();
    integrations::register_monitor(&w.app.storage, id, &w.not_on_ward, "OX-1").unwrap();
    assert!(integrations::unregister_monitor(&w.app.storage, id, "OX-7").is_err());
    assert!(integrations::create(&w.app.storage, "fax", "x", "team-a").is_err());
    assert!(integrations::create(&w.app.storage, "monitoring", "x", "no-team").is_err());
}
