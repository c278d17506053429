//! Tests of the store against real encrypted SQLite files.

use chrono::{Duration, Utc};

use crate::error::{Error, ValidationError};
use crate::record::*;
use crate::store::FieldStore;
use crate::testing::{self, demographics, exchange, full_visit, open};
use crate::Consciousness;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn nurse(dir: &tempfile::TempDir, name: &str) -> FieldStore {
    open(
        &dir.path().join(format!("{name}.db")),
        name,
        Role::DistrictNurse,
    )
}

#[test]
fn register_read_and_list() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics(
            "Edith",
            "Crawley",
            Some("943 476 5919"),
            "hx7 8ab",
        ))
        .unwrap();
    let rec = s.patient(&id).unwrap();
    let d = rec.demographics.unwrap();
    assert_eq!(d.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(d.address.unwrap().postcode, "HX7 8AB");
    let list = s.caseload().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].display_name, "Edith Crawley");
    for q in [
        "crawl",
        "Edith",
        "edith cra",
        "943 476",
        "9434765919",
        "hx7",
        "HX7 8A",
    ] {
        let found = s.search_patients(q).unwrap();
        assert_eq!(found.len(), 1, "search {q:?}");
    }
    for q in ["smith", "1234", "LS1", "rawley", "%", "_"] {
        assert!(
            s.search_patients(q).unwrap().is_empty(),
            "search {q:?} should find nothing"
        );
    }
}

/// Every person's id, walking the caseload a page of `limit` at a time.
fn walk_pages(s: &FieldStore, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.caseload_page(after, limit).unwrap();
        assert!(page.rows.len() <= limit as usize);
        seen.extend(page.rows.iter().map(|r| r.person_id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}

#[test]
fn caseload_pages_walk_the_caseload_in_its_order_once() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    // Same family names in different cases and same full names: the order's ties.
    for (i, (given, family)) in [
        ("Edith", "Crawley"),
        ("albert", "crawley"),
        ("Edith", "Crawley"),
        ("Mary", "Abbott"),
        ("Zac", "Young"),
        ("Ivy", "de Souza"),
        ("Tom", "Brown"),
    ]
    .iter()
    .enumerate()
    {
        s.register_patient(demographics(given, family, None, &format!("HX{i} 8AB")))
            .unwrap();
    }
    let whole: Vec<String> = s
        .caseload()
        .unwrap()
        .into_iter()
        .map(|e| e.person_id)
        .collect();
    for limit in [1, 2, 3, 7, 8, 500] {
        assert_eq!(walk_pages(&s, limit), whole, "pages of {limit}");
    }
    let last = s.caseload_page(None, 7).unwrap();
    assert!(last.next.is_none(), "exactly a page: no next page");
    let first = s.caseload_page(None, 2).unwrap();
    assert_eq!(first.rows[0].display_name, "Mary Abbott");
    assert_eq!(first.rows[0].postcode.as_deref(), Some("HX3 8AB"));
}

#[test]
fn a_caseload_cursor_holds_while_the_list_changes_before_it() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let mut ids = Vec::new();
    for family in ["Baker", "Carter", "Dixon", "Evans", "Foster"] {
        ids.push(
            s.register_patient(demographics("Ann", family, None, "HX7 8AB"))
                .unwrap(),
        );
    }
    let first = s.caseload_page(None, 2).unwrap();
    let next = first.next.clone().expect("more to come");
    // While the first page is on screen: someone joins at the top, and the person on the
    // screen's last line is renamed to the end of the list.
    s.register_patient(demographics("Ann", "Adams", None, "HX7 8AB"))
        .unwrap();
    let mut renamed = demographics("Ann", "Young", None, "HX7 8AB");
    renamed.nhs_number = None;
    s.update_demographics(&ids[1], renamed).unwrap();
    let second = s.caseload_page(Some(next), 2).unwrap();
    let names: Vec<&str> = second
        .rows
        .iter()
        .map(|r| r.display_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Ann Dixon", "Ann Evans"],
        "neither shifted nor repeated"
    );
    let third = s.caseload_page(second.next, 2).unwrap();
    let names: Vec<&str> = third.rows.iter().map(|r| r.display_name.as_str()).collect();
    assert_eq!(
        names,
        ["Ann Foster", "Ann Young"],
        "the renamed person in their new place"
    );
    assert!(third.next.is_none());
}

#[test]
fn a_caseload_row_names_every_active_or_conflicting_alert() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let alert = |kind, text: &str, active| AlertInput {
        kind,
        text: text.into(),
        active,
    };
    a.set_alert(
        &id,
        alert(AlertKind::Safeguarding, "Adult safeguarding plan", true),
    )
    .unwrap();
    a.set_alert(
        &id,
        alert(AlertKind::InfectionStatus, "MRSA cleared", false),
    )
    .unwrap();
    a.set_alert(
        &id,
        alert(AlertKind::Allergies, "No known drug allergies", false),
    )
    .unwrap();
    exchange(&a, &b);
    a.set_alert(
        &id,
        alert(AlertKind::Allergies, "Penicillin: anaphylaxis", true),
    )
    .unwrap();
    b.set_alert(&id, alert(AlertKind::Allergies, "Latex: rash", true))
        .unwrap();
    exchange(&a, &b);
    exchange(&b, &a);
    let row = &a.caseload_page(None, 10).unwrap().rows[0];
    assert_eq!(row.alerts, [AlertKind::Allergies, AlertKind::Safeguarding]);
    assert_eq!(row.open_conflicts, 1);
    let entry = &a.caseload().unwrap()[0];
    assert_eq!(
        row.open_conflicts, entry.open_conflicts,
        "as the full caseload says"
    );
    assert_eq!(row.latest_news2, entry.latest_news2);
}

#[test]
fn a_caseload_page_out_of_bounds_is_refused_with_what_to_ask() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    for limit in [0, crate::store::MAX_CASELOAD_PAGE + 1] {
        let err = s.caseload_page(None, limit).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Validation(ValidationError::Invalid { field: "limit", .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("ask for 1 to 500"), "{err}");
    }
    let huge = crate::store::CaseloadCursor {
        family_name: "x".repeat(5_000),
        given_name: String::new(),
        person_id: String::new(),
    };
    let err = s.caseload_page(Some(huge), 10).unwrap_err();
    assert!(err.to_string().contains("next"), "{err}");
}

#[test]
fn duplicate_nhs_number_is_refused() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    s.register_patient(demographics(
        "Edith",
        "Crawley",
        Some("9434765919"),
        "HX7 8AB",
    ))
    .unwrap();
    let err = s
        .register_patient(demographics(
            "E",
            "Crawley",
            Some("943-476-5919"),
            "HX7 8AB",
        ))
        .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
}

#[test]
fn record_visit_scores_news2_and_survives_reopen() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    let (id, visit_id) = {
        let s = open(&path, "a", Role::DistrictNurse);
        let id = s
            .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
            .unwrap();
        let r = s.record_visit(&id, full_visit(0)).unwrap();
        let n = r.news2.unwrap();
        assert_eq!(n.total, Some(0));
        (id, r.visit.id)
    };
    let s = open(&path, "a", Role::DistrictNurse);
    let rec = s.patient(&id).unwrap().clinical.unwrap();
    assert_eq!(rec.visits.len(), 1);
    assert_eq!(rec.visits[0].id, visit_id);
    assert_eq!(
        rec.visits[0].note.as_deref().map(|n| n.chars().count()),
        Some(500)
    );
    assert_eq!(rec.observations.len(), 1);
    let row = &s.caseload().unwrap()[0];
    assert_eq!(row.latest_news2, Some(0));
    assert!(row.last_visit.is_some());
}

#[test]
fn spo2_scale_2_only_when_prescribed() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Arthur", "Dent", None, "HX7 8AB"))
        .unwrap();
    let mut obs = testing::normal_observations();
    obs.spo2_percent = Some(89);
    // Scale 1: 89 % scores 3.
    let on1 = s
        .record_observations(&id, Utc::now(), obs.clone(), None)
        .unwrap();
    assert_eq!(on1.news2.scale, crate::SpO2Scale::Scale1);
    assert_eq!(on1.news2.total, Some(3));
    s.set_alert(
        &id,
        AlertInput {
            kind: AlertKind::Spo2Scale2,
            text: "Prescribed by respiratory team, target 88–92 %".into(),
            active: true,
        },
    )
    .unwrap();
    let on2 = s.record_observations(&id, Utc::now(), obs, None).unwrap();
    assert_eq!(on2.news2.scale, crate::SpO2Scale::Scale2);
    assert_eq!(on2.news2.total, Some(0));
}

#[test]
fn high_news2_is_flagged() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Arthur", "Dent", None, "HX7 8AB"))
        .unwrap();
    let mut v = full_visit(0);
    let o = v.observations.as_mut().unwrap();
    o.respiration_rate = Some(25); // 3
    o.pulse = Some(115); // 2
    o.consciousness = Some(Consciousness::NewConfusion); // 3
    let r = s.record_visit(&id, v).unwrap();
    let n = r.news2.unwrap();
    assert_eq!(n.total, Some(8));
    assert_eq!(n.risk, Some(crate::ClinicalRisk::High));
    assert_eq!(
        s.caseload().unwrap()[0].latest_news2_risk.as_deref(),
        Some("high")
    );
    let h = s.history(&id).unwrap();
    assert!(
        h.last().unwrap().summary.contains("NEWS2 8 (high risk)"),
        "{:?}",
        h.last()
    );
}

#[test]
fn validation_errors_write_nothing() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let before = s.pending_changes().unwrap().len();
    let cases: Vec<(Box<dyn Fn() -> Result<(), Error>>, &str)> = vec![
        (
            Box::new(|| {
                s.register_patient(demographics("A", "B", Some("9434765918"), "X"))
                    .map(|_| ())
            }),
            "check digit",
        ),
        (
            Box::new(|| {
                s.register_patient(demographics("A", "B", Some("12345"), "X"))
                    .map(|_| ())
            }),
            "10 digits",
        ),
        (
            Box::new(|| {
                s.register_patient(demographics(" ", "B", None, "X"))
                    .map(|_| ())
            }),
            "given name is required",
        ),
        (
            Box::new(|| {
                s.register_patient(demographics("A", "", None, "X"))
                    .map(|_| ())
            }),
            "family name is required",
        ),
        (
            Box::new(|| {
                let mut d = demographics("A", "B", None, "X");
                d.date_of_birth = Some((Utc::now() + Duration::days(2)).date_naive());
                s.register_patient(d).map(|_| ())
            }),
            "date of birth",
        ),
        (
            Box::new(|| s.add_note(&id, None, "   ").map(|_| ())),
            "note is required",
        ),
        (
            Box::new(|| s.add_note(&id, None, &"x".repeat(20_001)).map(|_| ())),
            "too long",
        ),
        (
            Box::new(|| s.add_note("no-such-person", None, "hello").map(|_| ())),
            "No person",
        ),
        (
            Box::new(|| {
                let mut v = full_visit(0);
                v.started_at = Utc::now() + Duration::hours(3);
                v.ended_at = None;
                s.record_visit(&id, v).map(|_| ())
            }),
            "in the future",
        ),
        (
            Box::new(|| {
                let mut v = full_visit(0);
                v.planned_visit_id = Some("nope".into());
                s.record_visit(&id, v).map(|_| ())
            }),
            "No planned visit",
        ),
    ];
    for (f, expect) in cases {
        let err = f().unwrap_err();
        assert!(
            err.to_string().contains(expect),
            "expected {expect:?} in {err}"
        );
    }
    // One per observation limit, each naming the parameter and the range.
    let limits: [(&str, fn(&mut crate::Observations)); 10] = [
        ("respiration rate of 81", |o| o.respiration_rate = Some(81)),
        ("SpO2 of 49", |o| o.spo2_percent = Some(49)),
        ("SpO2 of 101", |o| o.spo2_percent = Some(101)),
        ("systolic blood pressure of 39", |o| {
            o.systolic_bp = Some(39)
        }),
        ("systolic blood pressure of 301", |o| {
            o.systolic_bp = Some(301)
        }),
        ("pulse of 19", |o| o.pulse = Some(19)),
        ("pulse of 251", |o| o.pulse = Some(251)),
        ("temperature of 24.9", |o| o.temperature_c = Some(24.9)),
        ("temperature of 45.1", |o| o.temperature_c = Some(45.1)),
        ("temperature of NaN", |o| o.temperature_c = Some(f64::NAN)),
    ];
    for (expect, change) in limits {
        let mut v = full_visit(0);
        change(v.observations.as_mut().unwrap());
        let err = s.record_visit(&id, v).unwrap_err();
        assert!(
            matches!(err, Error::Validation(ValidationError::OutOfRange { .. })),
            "{err}"
        );
        assert!(
            err.to_string().contains(expect),
            "expected {expect:?} in {err}"
        );
        assert!(err.to_string().contains("check the reading"), "{err}");
    }
    // The limits themselves are accepted.
    let mut v = full_visit(0);
    let o = v.observations.as_mut().unwrap();
    (
        o.respiration_rate,
        o.spo2_percent,
        o.systolic_bp,
        o.diastolic_bp,
        o.pulse,
        o.temperature_c,
    ) = (
        Some(0),
        Some(50),
        Some(300),
        Some(20),
        Some(250),
        Some(45.0),
    );
    s.record_visit(&id, v).unwrap();
    assert_eq!(
        s.pending_changes().unwrap().len(),
        before + 1,
        "only the valid visit was written"
    );
    assert_eq!(s.patient(&id).unwrap().clinical.unwrap().visits.len(), 1);
}

#[test]
fn wrong_key_is_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    let id = {
        let s = open(&path, "a", Role::DistrictNurse);
        s.register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
            .unwrap()
    };
    let mut cfg = testing::config(&path, "a", Role::DistrictNurse);
    cfg.key = vec![9u8; 32];
    let err = FieldStore::open(cfg.clone())
        .err()
        .expect("wrong key must fail");
    assert!(matches!(err, Error::WrongKey { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot be opened with this key"),
        "{err}"
    );
    // Without the key-check file, SQLCipher's own check still gives a wrong-key error.
    std::fs::remove_file(dir.path().join("a.db.keycheck")).unwrap();
    let err = FieldStore::open(cfg.clone())
        .err()
        .expect("wrong key must fail");
    assert!(matches!(err, Error::WrongKey { .. }), "{err:?}");
    cfg.key = vec![1u8; 16];
    let err = FieldStore::open(cfg).err().unwrap();
    assert!(err.to_string().contains("exactly 32 bytes"), "{err}");
    // The right key still opens it: nothing was changed by the failed attempts.
    let s = open(&path, "a", Role::DistrictNurse);
    assert!(s.patient(&id).is_ok());
}

#[test]
fn the_file_is_encrypted() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    {
        let s = open(&path, "a", Role::DistrictNurse);
        s.register_patient(demographics("Zebedee", "Quartermaine", None, "HX7 8AB"))
            .unwrap();
        s.compact_now().unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(12).any(|w| w == b"Quartermaine"));
    assert!(!bytes.starts_with(b"SQLite format 3"));
}

#[test]
fn truncated_and_corrupted_files_are_damaged_not_crashes() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    {
        let s = open(&path, "a", Role::DistrictNurse);
        let id = s
            .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
            .unwrap();
        for _ in 0..40 {
            s.record_visit(&id, full_visit(0)).unwrap();
        }
        s.compact_now().unwrap();
    }
    let good = std::fs::read(&path).unwrap();
    assert!(
        good.len() >= 4096 * 8,
        "test needs a multi-page file, got {}",
        good.len()
    );

    // Truncated mid-page.
    std::fs::write(&path, &good[..good.len() - 1000]).unwrap();
    let err = FieldStore::open(testing::config(&path, "a", Role::DistrictNurse))
        .err()
        .unwrap();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"), "{err}");

    // First page overwritten, with the right key.
    let mut bad = good.clone();
    for b in &mut bad[100..300] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bad).unwrap();
    let err = FieldStore::open(testing::config(&path, "a", Role::DistrictNurse))
        .err()
        .unwrap();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("damaged"), "{err}");

    // Truncated at a page boundary: opens, but reading the lost pages is a Damaged error.
    std::fs::write(&path, &good[..4096 * 2]).unwrap();
    let result = FieldStore::open(testing::config(&path, "a", Role::DistrictNurse))
        .and_then(|s| s.caseload().map(|_| s.integrity_check()));
    match result {
        Err(Error::Damaged { .. }) => {}
        Ok(Ok(report)) => assert_ne!(
            report, "ok",
            "a truncated file must not pass the integrity check"
        ),
        other => panic!("expected a Damaged error, got {other:?}"),
    }
}

#[test]
fn concurrent_allergy_edits_become_a_clinical_conflict() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    a.set_alert(
        &id,
        AlertInput {
            kind: AlertKind::Allergies,
            text: "No known drug allergies".into(),
            active: false,
        },
    )
    .unwrap();
    exchange(&a, &b);
    a.set_alert(
        &id,
        AlertInput {
            kind: AlertKind::Allergies,
            text: "Penicillin: anaphylaxis".into(),
            active: true,
        },
    )
    .unwrap();
    b.set_alert(
        &id,
        AlertInput {
            kind: AlertKind::Allergies,
            text: "Latex: rash".into(),
            active: true,
        },
    )
    .unwrap();
    let rep = exchange(&a, &b);
    assert_eq!(rep.new_conflicts.len(), 1);
    exchange(&b, &a);
    for s in [&a, &b] {
        let c = s.conflicts(None).unwrap();
        assert_eq!(c.len(), 1);
        let texts: Vec<&str> = c[0].values.iter().map(|v| v.text.as_str()).collect();
        assert!(
            texts.contains(&"Penicillin: anaphylaxis") && texts.contains(&"Latex: rash"),
            "{texts:?}"
        );
        assert!(c[0].values.iter().any(|v| v.author.device_id == "a"));
        assert!(c[0].values.iter().any(|v| v.author.device_id == "b"));
        let row = &s.caseload().unwrap()[0];
        assert_eq!(row.open_conflicts, 1);
        assert!(
            row.alerts[0].summary.contains("Penicillin") && row.alerts[0].summary.contains("Latex")
        );
        let alert = s
            .patient(&id)
            .unwrap()
            .clinical
            .unwrap()
            .alert(AlertKind::Allergies)
            .cloned()
            .unwrap();
        assert_eq!(alert.values.len(), 2, "the record shows both values");
    }
    assert_eq!(a.conflicts(None).unwrap(), b.conflicts(None).unwrap());
    // Overwriting without resolving is refused.
    let err = a
        .set_alert(
            &id,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "Penicillin".into(),
                active: true,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("resolve the conflict"), "{err}");
    let conflict_id = a.conflicts(None).unwrap()[0].id.clone();
    let resolved = a
        .resolve_conflict(
            &conflict_id,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "Penicillin: anaphylaxis; latex: rash".into(),
                active: true,
            },
        )
        .unwrap();
    assert_eq!(resolved.values.len(), 1);
    assert!(a.conflicts(None).unwrap().is_empty());
    let err = a
        .resolve_conflict(
            &conflict_id,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "x".into(),
                active: true,
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::ConflictNotOpen { .. }), "{err}");
    exchange(&a, &b);
    assert!(b.conflicts(None).unwrap().is_empty());
    assert!(b
        .history(&id)
        .unwrap()
        .iter()
        .any(|h| h.summary.contains("resolved conflicting allergies")));
}

#[test]
fn concurrent_visits_notes_and_observations_all_survive() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    exchange(&a, &b);
    for s in [&a, &b] {
        s.record_visit(&id, full_visit(5)).unwrap();
        s.add_note(&id, None, "Daughter phoned; will be present tomorrow.")
            .unwrap();
        s.record_observations(&id, Utc::now(), testing::normal_observations(), None)
            .unwrap();
    }
    exchange(&a, &b);
    exchange(&b, &a);
    for s in [&a, &b] {
        let c = s.patient(&id).unwrap().clinical.unwrap();
        assert_eq!(c.visits.len(), 2);
        assert_eq!(c.notes.len(), 2);
        assert_eq!(c.observations.len(), 4);
    }
    assert_eq!(a.document_heads().unwrap(), b.document_heads().unwrap());
    assert_eq!(a.projection_dump().unwrap(), b.projection_dump().unwrap());
}

#[test]
fn concurrent_edits_of_different_demographic_fields_both_survive() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    exchange(&a, &b);
    let mut da = a.patient(&id).unwrap().demographics.unwrap();
    da.phone = Some("01422 000000".into());
    a.update_demographics(&id, da).unwrap();
    let mut db = b.patient(&id).unwrap().demographics.unwrap();
    db.gp_practice = Some("Calder Valley Medical Practice".into());
    b.update_demographics(&id, db).unwrap();
    exchange(&a, &b);
    exchange(&b, &a);
    for s in [&a, &b] {
        let d = s.patient(&id).unwrap().demographics.unwrap();
        assert_eq!(d.phone.as_deref(), Some("01422 000000"));
        assert_eq!(
            d.gp_practice.as_deref(),
            Some("Calder Valley Medical Practice")
        );
    }
}

#[test]
fn entered_in_error_keeps_the_entry_and_its_history() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let planned = s
        .schedule_visit(
            &id,
            PlannedVisitInput {
                planned_start: Utc::now() + Duration::hours(1),
                planned_end: None,
                clinician: Some("user-a".into()),
                contact_type: ContactType::HomeVisit,
                purpose: Some("Dressing change".into()),
            },
        )
        .unwrap();
    let mut v = full_visit(0);
    v.planned_visit_id = Some(planned.id.clone());
    let r = s.record_visit(&id, v).unwrap();
    assert!(
        s.caseload().unwrap()[0].next_visit.is_none(),
        "the planned visit is done"
    );
    let err = s.mark_entered_in_error(&id, &r.visit.id, "").unwrap_err();
    assert!(err.to_string().contains("reason is required"), "{err}");
    s.mark_entered_in_error(&id, &r.visit.id, "Recorded against the wrong person")
        .unwrap();
    let c = s.patient(&id).unwrap().clinical.unwrap();
    assert_eq!(c.visits.len(), 1, "the entry stays");
    assert!(c.is_entered_in_error(&r.visit.id));
    let row = &s.caseload().unwrap()[0];
    assert!(
        row.last_visit.is_none(),
        "an entry in error is not the last visit"
    );
    assert!(row.next_visit.is_some(), "the planned visit is open again");
    let h = s.history(&id).unwrap();
    assert!(h
        .iter()
        .any(|e| e.summary.starts_with("recorded a home visit")));
    assert!(h.iter().any(|e| e
        .summary
        .contains("entered in error: Recorded against the wrong person")));
    let err = s
        .mark_entered_in_error(&id, "no-such-entry", "x")
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
}

#[test]
fn history_is_attributable_and_readable() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    s.record_visit(&id, full_visit(0)).unwrap();
    let h = s.history(&id).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].user_id, "user-a");
    assert_eq!(h[0].device_id, "a");
    assert_eq!(h[0].role, Some(Role::DistrictNurse));
    let sentence = h[1].sentence.clone();
    assert!(sentence.contains("district nurse user-a (district nurse, device a): recorded a home visit (completed): wound care, insulin, medication prompt; NEWS2 0 (low risk)"), "{sentence}");
}

#[test]
fn projections_rebuild_to_the_same_rows() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    for i in 0..5 {
        let id = a
            .register_patient(demographics(&format!("P{i}"), "Crawley", None, "HX7 8AB"))
            .unwrap();
        let p = a
            .schedule_visit(
                &id,
                PlannedVisitInput {
                    planned_start: Utc::now() + Duration::hours(i),
                    planned_end: None,
                    clinician: None,
                    contact_type: ContactType::Telephone,
                    purpose: None,
                },
            )
            .unwrap();
        let mut v = full_visit(i);
        if i % 2 == 0 {
            v.planned_visit_id = Some(p.id);
        }
        a.record_visit(&id, v).unwrap();
        a.set_alert(
            &id,
            AlertInput {
                kind: AlertKind::RiskToStaff,
                text: "Two staff only".into(),
                active: true,
            },
        )
        .unwrap();
    }
    let before = a.projection_dump().unwrap();
    assert_eq!(before.len(), 15, "5 people, 5 alerts, 5 planned visits");
    a.rebuild_projections().unwrap();
    assert_eq!(a.projection_dump().unwrap(), before);
    // And a store that only ever imported builds the same rows.
    exchange(&a, &b);
    assert_eq!(b.projection_dump().unwrap(), before);
}

#[test]
fn compaction_folds_changes_and_loses_nothing() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    let mut cfg = testing::config(&path, "a", Role::DistrictNurse);
    cfg.background_compaction = false;
    let s = FieldStore::open(cfg.clone()).unwrap();
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    for i in 0..50 {
        s.record_visit(&id, full_visit(i)).unwrap();
    }
    let before = s.patient(&id).unwrap();
    s.compact_now().unwrap();
    s.record_visit(&id, full_visit(0)).unwrap();
    drop(s);
    let s = FieldStore::open(cfg).unwrap();
    let after = s.patient(&id).unwrap();
    let c = after.clinical.unwrap();
    assert_eq!(c.visits.len(), 51);
    assert_eq!(&c.visits[..50], &before.clinical.unwrap().visits[..]);
    // Exporting after compaction still yields every change.
    assert_eq!(s.export_changes(0).unwrap().changes.len(), 52);
}

#[test]
fn background_compaction_runs_while_writing() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    let s = open(&path, "a", Role::DistrictNurse);
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    for i in 0..100 {
        s.record_visit(&id, full_visit(i)).unwrap();
    }
    drop(s); // waits for the compactor to finish its queue
    let s = open(&path, "a", Role::DistrictNurse);
    assert_eq!(s.patient(&id).unwrap().clinical.unwrap().visits.len(), 100);
    let w = s.writer.lock().unwrap();
    let unfolded: i64 = w
        .conn
        .query_row("SELECT count(*) FROM change_bytes", [], |r| r.get(0))
        .unwrap();
    assert!(
        unfolded < 100,
        "the compactor folded changes ({unfolded} left beside the snapshot)"
    );
}

/// Past SQLite's threshold the WAL is checkpointed by the compactor's thread, not by the nurse's
/// write that crossed it: the writer's connection hands it over through its WAL hook.
#[test]
fn the_compactor_checkpoints_the_log_instead_of_the_write() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    let s = open(&path, "a", Role::DistrictNurse);
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let compactor = s
        .compactor
        .as_ref()
        .expect("background compaction is on by default");
    // About 11 frames a visit: 150 visits take the log well past 1,000 frames.
    for i in 0..150 {
        s.record_visit(&id, full_visit(i)).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while compactor.checkpoints() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(compactor.checkpoints() > 0, "the compactor checkpointed");
    drop(s);
    let s = open(&path, "a", Role::DistrictNurse);
    assert_eq!(s.patient(&id).unwrap().clinical.unwrap().visits.len(), 150);
}

#[test]
fn pending_changes_and_acknowledgement() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    s.record_visit(&id, full_visit(0)).unwrap();
    let p = s.pending_changes().unwrap();
    assert_eq!(p.len(), 2);
    assert!(p[1].summary.starts_with("recorded a home visit"));
    let sent_up_to = s.export_changes(0).unwrap().up_to;
    // A visit recorded while that "sync" was in flight stays pending after the acknowledgement.
    s.add_note(&id, None, "written during sync").unwrap();
    assert_eq!(s.acknowledge(sent_up_to).unwrap(), 2);
    let p = s.pending_changes().unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].summary, "added a note");
}

#[test]
fn imports_are_idempotent_and_a_malformed_change_is_quarantined_not_fatal() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    a.record_visit(&id, full_visit(0)).unwrap();
    let batch = a.export_changes(0).unwrap();
    let r1 = b.import_changes(&batch).unwrap();
    assert_eq!(
        (r1.received, r1.new_changes, r1.people_added.len()),
        (2, 2, 1)
    );
    let r2 = b.import_changes(&batch).unwrap();
    assert_eq!((r2.new_changes, r2.people_added.len()), (0, 0));
    assert_eq!(b.export_changes(0).unwrap().changes.len(), 2);

    let c = nurse(&dir, "c");
    let mut bad = batch.clone();
    let half = bad.changes[1].bytes.len() / 2;
    bad.changes[1].bytes.truncate(half);
    // The good change is kept; the cut one is quarantined with its reason, not fatal.
    let r = c.import_changes(&bad).unwrap();
    assert_eq!((r.new_changes, r.quarantined), (1, 1));
    assert_eq!(c.export_changes(0).unwrap().changes.len(), 1);
    assert_eq!(c.caseload().unwrap().len(), 1);
    let q = c.quarantine().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].direction.as_str(), q[0].code.as_str()),
        ("incoming", "malformed")
    );
    assert!(q[0].reason.contains("cannot be read"), "{}", q[0].reason);
    // Sending the good change again does not quarantine anything new.
    let again = c.import_changes(&batch).unwrap();
    assert_eq!((again.new_changes, again.quarantined), (1, 0));
}

#[test]
fn out_of_order_changes_wait_for_their_dependencies() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    a.record_visit(&id, full_visit(2)).unwrap();
    a.record_visit(&id, full_visit(1)).unwrap();
    let mut batch = a.export_changes(0).unwrap();
    let last = batch.changes.pop().unwrap();
    let r = b
        .import_changes(&crate::ChangeBatch {
            changes: vec![last],
            up_to: 0,
        })
        .unwrap();
    assert_eq!(r.waiting, 1);
    drop(b);
    // The waiting change was stored: after a restart, the missing one completes the record.
    let b = nurse(&dir, "b");
    b.import_changes(&batch).unwrap();
    assert_eq!(b.patient(&id).unwrap().clinical.unwrap().visits.len(), 2);
    assert_eq!(a.document_heads().unwrap(), b.document_heads().unwrap());
}

#[test]
fn planned_visits_for_a_day() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    s.set_alert(
        &id,
        AlertInput {
            kind: AlertKind::Resuscitation,
            text: "DNACPR in place".into(),
            active: true,
        },
    )
    .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2030, 1, 15).unwrap();
    for h in [9, 14] {
        let start = day.and_hms_opt(h, 0, 0).unwrap().and_utc();
        s.schedule_visit(
            &id,
            PlannedVisitInput {
                planned_start: start,
                planned_end: None,
                clinician: None,
                contact_type: ContactType::HomeVisit,
                purpose: None,
            },
        )
        .unwrap();
    }
    let list = s.planned_visits(day).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].planned_start < list[1].planned_start);
    assert_eq!(list[0].alerts[0].kind, AlertKind::Resuscitation);
    assert!(s
        .planned_visits(day.succ_opt().unwrap())
        .unwrap()
        .is_empty());
}

#[test]
fn advice_compartment_records_needs_and_outcomes() {
    let dir = tmp();
    let s = open(&dir.path().join("w.db"), "w", Role::AdviceWorker);
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let need = s
        .add_advice_need(
            &id,
            AdviceCategory::UtilitiesAndCommunications,
            "Prepayment meter debt",
        )
        .unwrap();
    s.add_advice_action(&id, &need.id, "Applied to the supplier's hardship fund")
        .unwrap();
    s.record_advice_outcome(&id, &need.id, "Debt written off", 48_250)
        .unwrap();
    s.set_consent_to_share(&id, true).unwrap();
    let err = s.record_advice_outcome(&id, "nope", "x", 1).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    let a = s.patient(&id).unwrap().advice.unwrap();
    assert_eq!(a.outcomes[0].financial_gain_pence, 48_250);
    assert!(a.consent_to_share.unwrap().consented);
    s.mark_entered_in_error(&id, &need.id, "Duplicate").unwrap();
    assert_eq!(
        s.patient(&id)
            .unwrap()
            .advice
            .unwrap()
            .entered_in_error
            .len(),
        1
    );
    assert!(s
        .history(&id)
        .unwrap()
        .iter()
        .any(|h| h.summary.contains("gain £482.50")));
}

#[test]
fn compaction_gives_space_back() {
    let dir = tmp();
    let path = dir.path().join("a.db");
    let mut cfg = testing::config(&path, "a", Role::DistrictNurse);
    cfg.background_compaction = false;
    let s = FieldStore::open(cfg).unwrap();
    {
        let w = s.writer.lock().unwrap();
        let mode: i64 = w
            .conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 2, "incremental auto-vacuum");
    }
    let id = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    for i in 0..200 {
        s.record_visit(&id, full_visit(i)).unwrap();
    }
    s.compact_now().unwrap();
    let w = s.writer.lock().unwrap();
    let free: i64 = w
        .conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert!(free < 8, "{free} free pages left after compaction");
}

#[test]
fn out_of_role_writes_are_refused_at_once_and_never_reach_the_outbox() {
    let dir = tmp();
    let w = open(&dir.path().join("w.db"), "w", Role::AdviceWorker);
    let id = w
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let before = w.pending_changes().unwrap().len();
    let err = w.record_visit(&id, full_visit(0)).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "an advice worker may not write the clinical record: this is outside the role. Nothing was saved."
    );
    let note = w.add_note(&id, None, "seen").unwrap_err();
    assert!(matches!(note, Error::NotAllowed(_)), "{note:?}");
    assert!(matches!(
        w.set_alert(
            &id,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "Penicillin".into(),
                active: true,
            },
        ),
        Err(Error::NotAllowed(_))
    ));
    assert_eq!(w.pending_changes().unwrap().len(), before);
    assert!(w.patient(&id).unwrap().clinical.is_none());
    // What the role may write still goes through.
    w.add_advice_need(&id, AdviceCategory::Debt, "Council tax arrears")
        .unwrap();
    assert_eq!(w.pending_changes().unwrap().len(), before + 1);

    let n = nurse(&dir, "n");
    let pid = n
        .register_patient(demographics("Arthur", "Dent", None, "HX7 8AB"))
        .unwrap();
    let err = n
        .add_advice_need(&pid, AdviceCategory::Debt, "x")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a district nurse may not write the advice record: this is outside the role. Nothing was saved."
    );
    assert!(matches!(
        n.set_consent_to_share(&pid, true),
        Err(Error::NotAllowed(_))
    ));
    assert_eq!(n.pending_changes().unwrap().len(), 1);
}

#[test]
fn a_nurse_cannot_mark_an_advice_entry_entered_in_error() {
    let dir = tmp();
    let w = open(&dir.path().join("w.db"), "w", Role::AdviceWorker);
    let n = nurse(&dir, "n");
    let id = w
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let need = w
        .add_advice_need(
            &id,
            AdviceCategory::UtilitiesAndCommunications,
            "Prepayment meter debt",
        )
        .unwrap();
    exchange(&w, &n);
    let err = n
        .mark_entered_in_error(&id, &need.id, "Duplicate")
        .unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    assert!(matches!(
        n.mark_entered_in_error(&id, "no-such-entry", "x"),
        Err(Error::NotFound { .. })
    ));
}

/// A sync's pages before the last leave projections pending (derived once, from complete
/// documents); the last page derives them, and a cut-off sync's pending people are derived by the
/// next sync's last page. The record itself reads at once.
#[test]
fn projections_wait_for_the_last_page_of_a_sync() {
    use crate::store::SyncPage;
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    a.record_visit(&id, full_visit(0)).unwrap();
    let changes = a.export_changes(0).unwrap().changes;
    let page = |changes, more_pages| SyncPage {
        changes,
        cursor: 1,
        lock_after_days: 14,
        more_pages,
        ..Default::default()
    };
    let outcome = b.apply_sync_page(&page(changes, true)).unwrap();
    assert_eq!(outcome.import.new_changes, 2);
    assert!(b.caseload().unwrap().is_empty(), "not yet derived");
    assert_eq!(b.patient(&id).unwrap().clinical.unwrap().visits.len(), 1);
    // The sync was cut off here; the next one's last page derives what was pending.
    let outcome = b.apply_sync_page(&page(Vec::new(), false)).unwrap();
    assert_eq!(outcome.import.people_added, vec![id.clone()]);
    let caseload = b.caseload().unwrap();
    assert_eq!(caseload.len(), 1);
    assert!(caseload[0].last_visit.is_some());
}

#[test]
fn a_client_without_an_nhs_number_is_found_by_name_birth_date_postcode_or_phone() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let mut d = demographics("Harold", "Greenwood", None, "SK14 1AA");
    d.date_of_birth = Some("1941-03-02".parse().unwrap());
    d.phone = Some("07700 900-123".into());
    let id = s.register_patient(d).unwrap();
    let mut other = demographics("Mary", "Greenwood", None, "SK14 2BB");
    other.date_of_birth = Some("1950-07-30".parse().unwrap());
    other.phone = Some("+44 161 496 0000".into());
    let mary = s.register_patient(other).unwrap();
    for q in [
        "harold",
        "green har",
        "SK14 1",
        "1941-03-02",
        "02/03/1941",
        "2-3-1941",
        "07700900123",
        "07700 900123",
        "+44 7700 900 123",
        "0770090",
    ] {
        let found: Vec<String> = s
            .search_patients(q)
            .unwrap()
            .into_iter()
            .map(|e| e.person_id)
            .collect();
        assert_eq!(found, vec![id.clone()], "search {q:?}");
    }
    let found = s.search_patients("0161 496").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].person_id, mary);
    for q in ["1941-03-03", "31/02/1941", "077009", "0161 497"] {
        assert!(s.search_patients(q).unwrap().is_empty(), "search {q:?}");
    }
}

/// Documents of `changes`, each `save()`d: what the server's read model sends.
fn snapshots_of(changes: &[crate::store::ExportedChange]) -> Vec<crate::sync::protocol::Snapshot> {
    use std::collections::BTreeMap;
    let mut docs: BTreeMap<(String, Compartment), automerge::AutoCommit> = BTreeMap::new();
    for c in changes {
        let change = automerge::Change::from_bytes(c.bytes.clone()).unwrap();
        docs.entry((c.person_id.clone(), c.compartment))
            .or_default()
            .apply_changes([change])
            .unwrap();
    }
    docs.into_iter()
        .map(
            |((person_id, compartment), mut d)| crate::sync::protocol::Snapshot {
                person_id,
                compartment,
                bytes: d.save(),
            },
        )
        .collect()
}

/// A first sync by snapshots gives the store what a sync by changes gives: the same heads,
/// record, caseload and history; a change that arrives again later is recognised as held; purge
/// and rebuilding the projections work for a document that arrived whole.
#[test]
fn a_document_arriving_as_a_snapshot_is_the_document_by_changes() {
    use crate::store::SyncPage;
    let dir = tmp();
    let a = nurse(&dir, "a");
    let by_changes = nurse(&dir, "b");
    let by_snapshot = nurse(&dir, "c");
    let id = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    for i in 0..5 {
        a.record_visit(&id, full_visit(60 * i)).unwrap();
    }
    let changes = a.export_changes(0).unwrap().changes;
    by_changes
        .apply_sync_page(&SyncPage {
            changes: changes.clone(),
            cursor: 10,
            lock_after_days: 14,
            ..Default::default()
        })
        .unwrap();
    let (head, tail) = changes.split_at(4);
    let outcome = by_snapshot
        .apply_sync_page(&SyncPage {
            snapshots: snapshots_of(head),
            // The last of the snapshot's changes again, then the rest.
            changes: changes[3..].to_vec(),
            cursor: 10,
            lock_after_days: 14,
            more_pages: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(outcome.import.new_changes, changes.len() as u64);
    assert_eq!(outcome.import.quarantined, 0);
    // A page of snapshots derives its people's rows itself, before the sync's last page.
    assert_eq!(outcome.import.people_added, vec![id.clone()]);
    assert!(!tail.is_empty());
    let outcome = by_snapshot
        .apply_sync_page(&SyncPage {
            changes: changes.clone(),
            cursor: 11,
            lock_after_days: 14,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(outcome.import.new_changes, 0, "every change already held");
    assert!(outcome.import.people_added.is_empty());
    assert_eq!(
        by_snapshot.document_heads().unwrap(),
        by_changes.document_heads().unwrap()
    );
    assert_eq!(
        by_snapshot.patient(&id).unwrap(),
        by_changes.patient(&id).unwrap()
    );
    assert_eq!(
        by_snapshot.caseload().unwrap(),
        by_changes.caseload().unwrap()
    );
    assert_eq!(
        by_snapshot.history(&id).unwrap(),
        by_changes.history(&id).unwrap()
    );
    by_snapshot.rebuild_projections().unwrap();
    assert_eq!(
        by_snapshot.caseload().unwrap(),
        by_changes.caseload().unwrap()
    );
    // What the store sends on is every change, the snapshot's included.
    assert_eq!(
        by_snapshot.export_changes(0).unwrap().changes.len(),
        changes.len()
    );
    let outcome = by_snapshot
        .apply_sync_page(&SyncPage {
            purge_people: vec![id.clone()],
            cursor: 12,
            lock_after_days: 14,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(outcome.purged, vec![id.clone()]);
    assert!(by_snapshot.caseload().unwrap().is_empty());
    assert!(by_snapshot.document_heads().unwrap().is_empty());
}

/// A snapshot that is malformed, too large or holds a change the record's rules refuse is
/// quarantined whole and reported; the rest of the page is applied and nothing of it is stored.
#[test]
fn a_bad_snapshot_is_quarantined_not_fatal() {
    use crate::store::SyncPage;
    use crate::sync::protocol::Snapshot;
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let good = a
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let changes = a.export_changes(0).unwrap().changes;
    // A document with a change that writes a key the layout does not have.
    let mut stray = automerge::AutoCommit::new();
    {
        use automerge::transaction::Transactable;
        stray.put(automerge::ROOT, "no_such_key", "x").unwrap();
    }
    let mut good_snaps = snapshots_of(&changes);
    let page = SyncPage {
        snapshots: vec![
            Snapshot {
                person_id: "p-bytes".into(),
                compartment: Compartment::Clinical,
                bytes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
            },
            Snapshot {
                person_id: "p-big".into(),
                compartment: Compartment::Clinical,
                bytes: vec![0; crate::store::MAX_SNAPSHOT_BYTES + 1],
            },
            Snapshot {
                person_id: "p-rules".into(),
                compartment: Compartment::Demographics,
                bytes: stray.save(),
            },
            good_snaps.remove(0),
        ],
        cursor: 5,
        lock_after_days: 14,
        ..Default::default()
    };
    let outcome = b.apply_sync_page(&page).unwrap();
    assert_eq!(outcome.import.quarantined, 3);
    let q = b.quarantine().unwrap();
    assert_eq!(q.len(), 3, "{q:?}");
    let mut codes: Vec<String> = q.iter().map(|e| e.code.clone()).collect();
    codes.sort();
    assert!(codes.contains(&"malformed".to_string()), "{codes:?}");
    assert!(codes.contains(&"too_large".to_string()), "{codes:?}");
    assert_eq!(b.caseload().unwrap().len(), 1);
    assert!(b.patient(&good).is_ok());
    let heads: Vec<String> = b
        .document_heads()
        .unwrap()
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(heads, vec![good], "nothing of a refused snapshot is stored");
    assert_eq!(b.sync_cursor().unwrap(), 5);
}

/// A page of many snapshots is decoded on several threads: every good one is stored as the
/// person it names (order kept across the threads), and a bad one among them is refused alone.
#[test]
fn a_large_page_of_snapshots_keeps_each_document_with_its_person() {
    use crate::store::SyncPage;
    use crate::sync::protocol::Snapshot;
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let mut names = std::collections::BTreeMap::new();
    for i in 0..24 {
        let family = format!("Crawley{}", "x".repeat(i));
        let id = a
            .register_patient(demographics("Edith", &family, None, "HX7 8AB"))
            .unwrap();
        names.insert(id, family);
    }
    let mut snapshots = snapshots_of(&a.export_changes(0).unwrap().changes);
    for at in [0, 11, 23] {
        snapshots.insert(
            at,
            Snapshot {
                person_id: format!("p-bad-{at}"),
                compartment: Compartment::Demographics,
                bytes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
            },
        );
    }
    assert!(snapshots.len() >= super::snapshots::SPREAD_FROM);
    let outcome = b
        .apply_sync_page(&SyncPage {
            snapshots,
            cursor: 5,
            lock_after_days: 14,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(outcome.import.quarantined, 3);
    let q: Vec<String> = b
        .quarantine()
        .unwrap()
        .into_iter()
        .map(|e| e.person_id)
        .collect();
    assert_eq!(q.len(), 3, "{q:?}");
    assert!(q.iter().all(|p| p.starts_with("p-bad-")), "{q:?}");
    assert_eq!(b.caseload().unwrap().len(), names.len());
    for (id, family) in &names {
        let d = b.patient(id).unwrap().demographics.unwrap();
        assert_eq!(&d.family_name, family, "person {id}");
    }
}

/// A page of snapshots (a first sync) derives its own people's rows, so a sync cut after it
/// already shows them, and leaves no more documents warm than the store's configured number: the
/// phone's memory is bounded by a page, not by the caseload. A page of changes with more to come
/// still leaves its people for the sync's last page.
#[test]
fn a_page_of_snapshots_shows_its_people_and_keeps_memory_to_the_page() {
    use crate::store::SyncPage;
    let dir = tmp();
    let a = nurse(&dir, "a");
    let mut config = testing::config(&dir.path().join("b.db"), "b", Role::DistrictNurse);
    config.doc_cache_size = 4;
    let b = FieldStore::open(config).unwrap();
    for i in 0..10 {
        let id = a
            .register_patient(demographics(&format!("G{i}"), "Crawley", None, "HX7 8AB"))
            .unwrap();
        a.record_visit(&id, full_visit(60)).unwrap();
    }
    let page = |changes, snapshots, more_pages| SyncPage {
        changes,
        snapshots,
        cursor: 5,
        lock_after_days: 14,
        more_pages,
        ..Default::default()
    };
    let changes = a.export_changes(0).unwrap().changes;
    b.apply_sync_page(&page(vec![], snapshots_of(&changes), true))
        .unwrap();
    assert_eq!(
        b.caseload().unwrap().len(),
        10,
        "shown before the last page"
    );
    let warm = b.writer().unwrap().docs.warm();
    assert!(warm <= 4, "{warm} documents warm after a page of snapshots");
    a.register_patient(demographics("Late", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let changes = a.export_changes(0).unwrap().changes;
    let outcome = b.apply_sync_page(&page(changes, vec![], true)).unwrap();
    assert_eq!(outcome.import.new_changes, 1);
    assert_eq!(b.caseload().unwrap().len(), 10, "a page of changes defers");
    b.apply_sync_page(&page(vec![], vec![], false)).unwrap();
    assert_eq!(b.caseload().unwrap().len(), 11, "derived at the last page");
    assert_eq!(b.caseload().unwrap(), a.caseload().unwrap());
}

/// Projecting many people at once (their records read on several threads) writes exactly the
/// rows each person's own record gives: a rebuild of a varied caseload changes nothing, and a
/// second phone that receives it all in one page holds the same rows.
#[test]
fn projecting_a_caseload_at_once_gives_each_person_their_own_rows() {
    let dir = tmp();
    let (s, _full) = testing::full_record(dir.path());
    for i in 0..12 {
        let id = s
            .register_patient(demographics(
                &format!("Given{i}"),
                "Crawley",
                None,
                "HX7 8AB",
            ))
            .unwrap();
        for v in 0..(i % 4) {
            s.record_visit(&id, full_visit(60 * (v as i64 + 1)))
                .unwrap();
        }
        if i % 3 == 0 {
            s.record_observations(&id, Utc::now(), testing::news2_six(), None)
                .unwrap();
        }
    }
    let before = s.projection_dump().unwrap();
    s.rebuild_projections().unwrap();
    assert_eq!(s.projection_dump().unwrap(), before);
    let other = nurse(&dir, "other");
    exchange(&s, &other);
    assert_eq!(other.caseload().unwrap(), s.caseload().unwrap());
    other.rebuild_projections().unwrap();
    assert_eq!(other.caseload().unwrap(), s.caseload().unwrap());
}
