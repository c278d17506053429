use chrono::{Duration, Utc};

use super::*;
use crate::clinical::escalation::EscalationBand;
use crate::clinical::readings::{Reading, ReadingKind};
use crate::record::escalation::{self, EscalationEventKind};
use crate::record::layout::AuditStamp;
use crate::record::validate::{self, Refusal};
use crate::record::ward::tests::clinician;
use crate::record::ward::DischargeDestination;
use crate::testing;

const PERSON: &str = "0190a000-0000-7000-8000-000000000002";

fn commit(doc: &mut AutoCommit, stamp: &AuditStamp) -> automerge::Change {
    testing::commit_stamped(doc, stamp)
}

/// Admitted a day ago (by a clinician's change).
fn admitted() -> AutoCommit {
    let a = clinician("hub", -24 * 60);
    let mut doc = AutoCommit::new();
    crate::record::ward::admit(&mut doc, PERSON, &a, testing::ward_admission(None)).unwrap();
    commit(&mut doc, &AuditStamp::new(&a, "admitted"));
    doc
}

fn server_at(at: DateTime<Utc>) -> Author {
    home::server_author("test-1", at)
}

/// Home readings making a NEWS2 9 set, taken three hours ago; returns when the set was taken.
fn escalating_set(doc: &mut AutoCommit) -> DateTime<Utc> {
    let t = Utc::now() - Duration::hours(3);
    let r = |kind, value, unit: &str, m| Reading {
        kind,
        value,
        unit: unit.into(),
        taken_at: t + Duration::minutes(m),
    };
    let readings = vec![
        r(ReadingKind::Spo2, 91.0, "%", 0),
        r(ReadingKind::Pulse, 118.0, "/min", 1),
        r(ReadingKind::SystolicBp, 104.0, "mmHg", 2),
        r(ReadingKind::RespirationRate, 23.0, "/min", 3),
        r(ReadingKind::Temperature, 38.3, "Cel", 4),
    ];
    let author = server_at(t + Duration::minutes(5));
    let e = home::write_sets(doc, PERSON, &author, &readings).unwrap();
    let change = commit(doc, &home::server_stamp(&author, e.summary));
    validate::check_change(Compartment::Clinical, &change).unwrap();
    t + Duration::minutes(4)
}

/// The watch at `at`, committed and checked as every phone checks it.
fn watch(
    doc: &mut AutoCommit,
    at: DateTime<Utc>,
    monitored: Option<Option<DateTime<Utc>>>,
) -> Result<Watched, Refusal> {
    let author = server_at(at);
    let e = write_due(doc, PERSON, &author, &WatchRules::default(), monitored).unwrap();
    if e.value.is_empty() {
        return Ok(e.value);
    }
    let change = commit(doc, &home::server_stamp(&author, e.summary));
    validate::check_change(Compartment::Clinical, &change)?;
    Ok(e.value)
}

fn the_escalation(doc: &AutoCommit) -> Escalation {
    let record = read::clinical(PERSON, doc).unwrap();
    let mut all = escalation::escalations(PERSON, &record);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn an_unacknowledged_escalation_is_re_alerted_every_half_hour_and_once_at_each() {
    let mut doc = admitted();
    let taken = escalating_set(&mut doc);
    assert!(watch(&mut doc, taken + Duration::minutes(29), None)
        .unwrap()
        .is_empty());
    let first = watch(&mut doc, taken + Duration::minutes(31), None).unwrap();
    assert_eq!(first.realerts.len(), 1);
    assert_eq!(first.realerts[0].number, 1);
    assert_eq!(first.realerts[0].unacknowledged_minutes, 31);
    // Asked again in the same half hour: nothing more.
    assert!(watch(&mut doc, taken + Duration::minutes(45), None)
        .unwrap()
        .is_empty());
    let second = watch(&mut doc, taken + Duration::minutes(61), None).unwrap();
    assert_eq!(second.realerts[0].number, 2);
    let e = the_escalation(&doc);
    assert_eq!(e.realerts, 2);
    assert_eq!(e.last_realerted_at, Some(taken + Duration::minutes(61)));
    // Acknowledged: never re-alerted again.
    let nurse = clinician("phone-1", 0);
    escalation::record_event(
        &mut doc,
        PERSON,
        &nurse,
        &e.id,
        EscalationEventKind::Acknowledged,
        None,
    )
    .unwrap();
    commit(&mut doc, &AuditStamp::new(&nurse, "acknowledged"));
    assert!(watch(&mut doc, taken + Duration::minutes(200), None)
        .unwrap()
        .is_empty());
}

#[test]
fn a_server_that_was_down_writes_one_re_alert_with_the_number_due_not_a_burst() {
    let mut doc = admitted();
    let taken = escalating_set(&mut doc);
    let w = watch(&mut doc, taken + Duration::minutes(4 * 60 + 5), None).unwrap();
    assert_eq!(w.realerts.len(), 1);
    assert_eq!(w.realerts[0].number, 8);
    assert_eq!(the_escalation(&doc).realerts, 8);
}

#[test]
fn two_servers_re_alerting_at_once_write_one_entry() {
    let mut doc = admitted();
    let taken = escalating_set(&mut doc);
    let mut other = doc.fork();
    let a = watch(&mut doc, taken + Duration::minutes(31), None).unwrap();
    let b = watch(&mut other, taken + Duration::minutes(32), None).unwrap();
    assert_eq!(
        a.realerts[0].id, b.realerts[0].id,
        "the id comes from the data"
    );
    doc.merge(&mut other).unwrap();
    let record = read::clinical(PERSON, &doc).unwrap();
    assert_eq!(the_escalation(&doc).realerts, 1);
    assert_eq!(
        layout::prefix_keys(&doc, ESCALATION_REALERT).len(),
        1,
        "{:?}",
        record.escalation_realerts
    );
}

#[test]
fn devices_silent_for_eight_hours_raise_one_no_readings_escalation_until_readings_resume() {
    let mut doc = admitted();
    let last = Utc::now() - Duration::hours(9);
    // Not monitored (no registered device): silence is no escalation.
    assert!(watch(&mut doc, Utc::now(), None).unwrap().is_empty());
    assert!(watch(
        &mut doc,
        last + Duration::minutes(7 * 60 + 59),
        Some(Some(last))
    )
    .unwrap()
    .is_empty());
    let w = watch(
        &mut doc,
        last + Duration::minutes(8 * 60 + 1),
        Some(Some(last)),
    )
    .unwrap();
    let gap = w.gap.expect("a gap");
    assert_eq!(gap.since, last);
    assert_eq!(gap.last_reading_at, Some(last));
    assert_eq!(gap.after_minutes, 8 * 60);
    let e = the_escalation(&doc);
    assert_eq!(e.band, EscalationBand::NoReadings);
    assert_eq!(e.reasons, "no home-monitoring readings for 8 h 1 min");
    assert_eq!(e.response, EscalationBand::NoReadings.response());
    assert_eq!(e.news2_total, None);
    assert_eq!(e.observations_id, gap.id);
    // The same silence, asked about later: no second gap (but a re-alert once due).
    let later = watch(
        &mut doc,
        last + Duration::minutes(8 * 60 + 35),
        Some(Some(last)),
    )
    .unwrap();
    assert!(later.gap.is_none());
    assert_eq!(later.realerts.len(), 1);
    // Readings come back: the escalation says when, and is re-alerted no more.
    let back = Reading {
        kind: ReadingKind::Pulse,
        value: 80.0,
        unit: "/min".into(),
        taken_at: Utc::now() - Duration::minutes(10),
    };
    let author = server_at(Utc::now());
    let e = home::write_sets(&mut doc, PERSON, &author, std::slice::from_ref(&back)).unwrap();
    commit(&mut doc, &home::server_stamp(&author, e.summary));
    let esc = the_escalation(&doc);
    assert_eq!(esc.readings_resumed_at, Some(back.taken_at));
    let w = watch(
        &mut doc,
        Utc::now() + Duration::hours(2),
        Some(Some(back.taken_at)),
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn with_no_reading_ever_the_silence_counts_from_the_admission() {
    let mut doc = admitted();
    let admitted_at = read::clinical(PERSON, &doc).unwrap().episodes[0].author.at;
    // A reading from before this admission does not count.
    let old = admitted_at - Duration::days(3);
    let w = watch(&mut doc, admitted_at + Duration::hours(9), Some(Some(old))).unwrap();
    let gap = w.gap.expect("a gap");
    assert_eq!(gap.since, admitted_at);
    assert_eq!(gap.last_reading_at, None);
}

#[test]
fn nothing_is_due_for_a_person_discharged_from_the_ward() {
    let mut doc = admitted();
    let taken = escalating_set(&mut doc);
    let nurse = clinician("hub", 0);
    let episode = read::clinical(PERSON, &doc).unwrap().episodes[0].id.clone();
    let yesterday = crate::record::ward::ward_day(Utc::now()) - Duration::days(1);
    crate::record::ward::discharge(
        &mut doc,
        PERSON,
        &nurse,
        &episode,
        yesterday,
        DischargeDestination::UsualCare,
        "recovered",
    )
    .unwrap();
    commit(&mut doc, &AuditStamp::new(&nurse, "discharged"));
    let w = watch(&mut doc, taken + Duration::hours(2), Some(None)).unwrap();
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn only_the_server_writes_re_alerts_and_gaps_and_a_gap_noticed_too_soon_is_refused() {
    let mut doc = admitted();
    let taken = escalating_set(&mut doc);
    let e = the_escalation(&doc);
    let nurse = clinician("phone-1", 0);
    let forged = EscalationRealert {
        id: realert_id(&e, 1),
        escalation_id: e.id.clone(),
        number: 1,
        unacknowledged_minutes: 31,
        author: nurse.clone(),
    };
    layout::put_json(&mut doc, &key(ESCALATION_REALERT, &forged.id), &forged).unwrap();
    let change = commit(&mut doc, &AuditStamp::new(&nurse, "forged"));
    let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    assert!(
        err.to_string()
            .contains("written only by the Doorstep server"),
        "{err}"
    );

    let mut doc = admitted();
    let server = server_at(taken);
    let early = ReadingsGap {
        id: gap_id(PERSON, taken - Duration::hours(1)),
        since: taken - Duration::hours(1),
        last_reading_at: Some(taken - Duration::hours(1)),
        after_minutes: 8 * 60,
        author: server.clone(),
    };
    layout::put_json(&mut doc, &key(READINGS_GAP, &early.id), &early).unwrap();
    let change = commit(&mut doc, &home::server_stamp(&server, "gap"));
    let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
    assert_eq!(err.code(), "invalid_content", "{err}");
    assert!(err.to_string().contains("before the 8 h"), "{err}");
}

#[test]
fn watch_rules_take_between_a_minute_and_a_week() {
    assert!(WatchRules::new(30, 480).is_ok());
    let e = WatchRules::new(0, 480).unwrap_err();
    assert!(e.to_string().contains("re-alert after"), "{e}");
    assert!(WatchRules::new(30, 7 * 24 * 60 + 1).is_err());
}
