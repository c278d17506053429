use chrono::{Duration, TimeZone, Utc};

use super::*;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn r(kind: ReadingKind, value: f64, unit: &str, minutes: i64) -> Reading {
    Reading {
        kind,
        value,
        unit: unit.into(),
        taken_at: at(minutes),
    }
}

fn full_home_set(start: i64) -> Vec<Reading> {
    vec![
        r(ReadingKind::Spo2, 90.0, "%", start),
        r(ReadingKind::Pulse, 112.0, "/min", start + 1),
        r(ReadingKind::SystolicBp, 104.0, "mmHg", start + 2),
        r(ReadingKind::DiastolicBp, 68.0, "mmHg", start + 2),
        r(ReadingKind::RespirationRate, 23.0, "/min", start + 5),
        r(ReadingKind::Temperature, 38.3, "Cel", start + 10),
    ]
}

#[test]
fn a_set_opens_at_its_first_reading_and_closes_sixty_minutes_later() {
    let mut readings = full_home_set(0);
    readings.push(r(ReadingKind::Pulse, 96.0, "/min", 59));
    readings.push(r(ReadingKind::Pulse, 88.0, "/min", 60));
    let sets = assemble(&readings, SpO2Scale::Scale1, false);
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0].readings, 7);
    assert_eq!(sets[0].opened_at, at(0));
    assert_eq!(sets[0].taken_at, at(59));
    // The later pulse in the window counts.
    assert_eq!(sets[0].observations.pulse, Some(96));
    assert_eq!(sets[1].readings, 1);
    assert_eq!(sets[1].opened_at, at(60));
}

#[test]
fn air_and_alert_are_assumed_and_said_and_scale_two_is_used() {
    let sets = assemble(&full_home_set(0), SpO2Scale::Scale2, false);
    let s = &sets[0];
    assert_eq!(
        s.assumed,
        vec![Parameter::AirOrOxygen, Parameter::Consciousness]
    );
    assert_eq!(s.observations.on_oxygen, Some(false));
    // RR 23 (2) + SpO2 90 on scale 2 (0) + air (0) + BP 104 (1) + pulse 112 (2) + alert (0)
    // + 38.3 (1) = 6.
    assert_eq!(s.news2.scale, SpO2Scale::Scale2);
    assert_eq!(s.news2.total, Some(6));
    assert_eq!(
        assumed_words(&s.assumed, false).as_deref(),
        Some("assumed on air, alert")
    );
    // On scale 1 the same 90 % scores 3.
    assert_eq!(
        assemble(&full_home_set(0), SpO2Scale::Scale1, false)[0]
            .news2
            .total,
        Some(9)
    );
    // Usually on oxygen at home: scored on oxygen, and said.
    let o2 = assemble(&full_home_set(0), SpO2Scale::Scale1, true);
    assert_eq!(o2[0].observations.on_oxygen, Some(true));
    assert_eq!(
        assumed_words(&o2[0].assumed, true).as_deref(),
        Some("assumed on oxygen, alert")
    );
    // A consciousness reading is used, not assumed.
    let mut with = full_home_set(0);
    with.push(r(ReadingKind::Consciousness, 2.0, "acvpu", 3));
    let s = &assemble(&with, SpO2Scale::Scale1, false)[0];
    assert_eq!(s.assumed, vec![Parameter::AirOrOxygen]);
    assert_eq!(s.observations.consciousness, Some(Consciousness::Voice));
}

#[test]
fn a_set_missing_a_reading_is_incomplete_never_zero() {
    let mut readings = full_home_set(0);
    readings.retain(|r| r.kind != ReadingKind::Temperature);
    let s = &assemble(&readings, SpO2Scale::Scale1, false)[0];
    assert_eq!(s.news2.total, None);
    assert_eq!(s.news2.missing, vec![Parameter::Temperature]);
}

#[test]
fn wrong_units_impossible_and_broken_values_are_refused_with_a_reason() {
    assert!(full_home_set(0).iter().all(|r| check(r).is_ok()));
    assert!(matches!(
        check(&r(ReadingKind::Temperature, 101.3, "[degF]", 0)),
        Err(ReadingError::WrongUnit { .. })
    ));
    let e = check(&r(ReadingKind::Spo2, 0.97, "%", 0)).unwrap_err();
    assert!(matches!(e, ReadingError::NotWhole { .. }), "{e}");
    let e = check(&r(ReadingKind::Spo2, 9.0, "%", 0)).unwrap_err();
    assert!(
        e.to_string().contains("outside the possible range 50–100"),
        "{e}"
    );
    assert!(matches!(
        check(&r(ReadingKind::Pulse, f64::NAN, "/min", 0)),
        Err(ReadingError::NotANumber { .. })
    ));
    assert!(matches!(
        check(&r(ReadingKind::Consciousness, 5.0, "acvpu", 0)),
        Err(ReadingError::OutOfRange { .. })
    ));
    assert!(check(&r(ReadingKind::Temperature, 36.85, "°C", 0)).is_ok());
}

#[test]
fn a_late_reading_joins_the_written_set_whose_window_holds_it() {
    // A set was written opening at 08:00; a pulse taken at 08:40 arrives later.
    let late = vec![r(ReadingKind::Pulse, 131.0, "/min", 40)];
    let mut all = full_home_set(0);
    all.extend(late);
    let sets = assemble_anchored(&all, &[at(0)], SpO2Scale::Scale1, false);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].opened_at, at(0));
    assert_eq!(sets[0].readings, 7);
    assert_eq!(sets[0].observations.pulse, Some(131));
}

#[test]
fn a_late_reading_before_a_written_set_opens_its_own_and_moves_nothing() {
    // Written: a set opening at 09:00. Late: readings at 08:30 and 09:10. Unanchored, 08:30
    // would open a set taking 09:10 and the 09:00 set would move; anchored, 09:10 stays in the
    // 09:00 set and 08:30 opens a set of its own.
    let mut all = full_home_set(60);
    all.push(r(ReadingKind::Pulse, 90.0, "/min", 30));
    all.push(r(ReadingKind::Pulse, 95.0, "/min", 70));
    let sets = assemble_anchored(&all, &[at(60)], SpO2Scale::Scale1, false);
    let opened: Vec<_> = sets.iter().map(|s| (s.opened_at, s.readings)).collect();
    assert_eq!(opened, vec![(at(30), 1), (at(60), 7)]);
    assert_eq!(sets[1].observations.pulse, Some(95));
    // Without the anchor, the sets would be cut differently: that is what anchoring prevents.
    let loose = assemble(&all, SpO2Scale::Scale1, false);
    assert_eq!(loose[0].opened_at, at(30));
    assert_eq!(loose[0].readings, 8);
}

#[test]
fn an_anchor_whose_window_has_passed_takes_no_reading() {
    let sets = assemble_anchored(
        &[r(ReadingKind::Pulse, 90.0, "/min", 60)],
        &[at(0)],
        SpO2Scale::Scale1,
        false,
    );
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].opened_at, at(60));
}

#[test]
fn only_air_and_alert_can_be_assumed() {
    let s = &assemble(&full_home_set(0), SpO2Scale::Scale1, false)[0];
    assert_eq!(check_assumed(&s.assumed, &s.observations), Ok(()));
    assert!(check_assumed(&[Parameter::Pulse], &s.observations).is_err());
    let twice = [Parameter::AirOrOxygen, Parameter::AirOrOxygen];
    assert!(check_assumed(&twice, &s.observations).is_err());
    let mut voice = s.observations.clone();
    voice.consciousness = Some(Consciousness::Voice);
    assert!(check_assumed(&[Parameter::Consciousness], &voice).is_err());
}
