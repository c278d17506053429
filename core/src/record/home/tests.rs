use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::clinical::news2::Parameter;
use crate::clinical::readings::ReadingKind;
use crate::record::validate::{self, Refusal};
use crate::record::ward::tests::clinician;
use crate::record::{edit as record_edit, escalation};
use crate::testing;

const PERSON: &str = "0190a000-0000-7000-8000-000000000001";

/// Three hours ago, on the hour (one base for every call), plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    use chrono::DurationRound;
    let base = (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::hours(1))
        .unwrap();
    base + Duration::minutes(minutes)
}

fn reading(kind: ReadingKind, value: f64, unit: &str, minutes: i64) -> Reading {
    Reading {
        kind,
        value,
        unit: unit.into(),
        taken_at: at(minutes),
    }
}

/// SpO2 91 (3), pulse 118 (2), BP 104/68 (1), RR 23 (2), 38.3 °C (1): NEWS2 9 on air and alert
/// (high), and pulse 118 outside the personal pulse range.
fn unwell(start: i64) -> Vec<Reading> {
    vec![
        reading(ReadingKind::Spo2, 91.0, "%", start),
        reading(ReadingKind::Pulse, 118.0, "/min", start + 1),
        reading(ReadingKind::SystolicBp, 104.0, "mmHg", start + 2),
        reading(ReadingKind::DiastolicBp, 68.0, "mmHg", start + 2),
        reading(ReadingKind::RespirationRate, 23.0, "/min", start + 5),
        reading(ReadingKind::Temperature, 38.3, "Cel", start + 10),
    ]
}

/// A document with a virtual-ward admission, committed as a clinician's change.
fn admitted() -> AutoCommit {
    let a = clinician("hub", -24 * 60);
    let mut doc = AutoCommit::new();
    ward::admit(&mut doc, PERSON, &a, testing::ward_admission(None)).unwrap();
    commit(&mut doc, &AuditStamp::new(&a, "admitted"));
    doc
}

fn commit(doc: &mut AutoCommit, stamp: &AuditStamp) -> automerge::Change {
    testing::commit_stamped(doc, stamp)
}

fn server() -> Author {
    server_author("test-1", Utc::now())
}

/// Write the sets as the server does and check the change as every phone and server does.
fn write(doc: &mut AutoCommit, readings: &[Reading]) -> Result<Vec<ObservationSet>, Refusal> {
    let author = server();
    let e = write_sets(doc, PERSON, &author, readings).unwrap();
    if e.value.is_empty() {
        return Ok(e.value);
    }
    let change = commit(doc, &server_stamp(&author, e.summary));
    validate::check_change(Compartment::Clinical, &change)?;
    Ok(e.value)
}

#[test]
fn set_ids_are_the_same_on_every_server_and_sort_by_opening() {
    let t = Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap();
    let a = set_id(PERSON, t);
    assert_eq!(a, set_id(PERSON, t));
    assert_ne!(a, set_id("another person", t));
    let later = set_id(PERSON, t + Duration::milliseconds(1));
    assert!(a < later, "{a} sorts before {later}");
    let u = uuid::Uuid::parse_str(&a).unwrap();
    assert_eq!(u.get_version_num(), 7);
}

#[test]
fn readings_make_one_scored_set_that_says_what_it_assumed_and_escalates() {
    let mut doc = admitted();
    let written = write(&mut doc, &unwell(0)).unwrap();
    assert_eq!(written.len(), 1);
    let s = &written[0];
    assert_eq!(s.home.as_ref().unwrap().readings, 6);
    assert_eq!(s.home.as_ref().unwrap().opened_at, at(0));
    assert_eq!(s.taken_at, at(10));
    assert_eq!(
        s.assumed,
        vec![Parameter::AirOrOxygen, Parameter::Consciousness]
    );
    assert_eq!(s.news2.total, Some(9));
    let record = read::clinical(PERSON, &doc).unwrap();
    assert_eq!(record.observations, written);
    let esc = escalation::escalations(PERSON, &record);
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0].id, escalation::escalation_id(&s.id));
    assert_eq!(
        esc[0].news2_assumed.as_deref(),
        Some("assumed on air, alert")
    );
}

#[test]
fn a_later_reading_in_the_hour_rewrites_the_set_and_the_same_readings_write_nothing() {
    let mut doc = admitted();
    let first = write(&mut doc, &unwell(0)).unwrap();
    assert!(write(&mut doc, &unwell(0)).unwrap().is_empty());
    let mut more = unwell(0);
    more.push(reading(ReadingKind::Consciousness, 2.0, "acvpu", 20));
    let again = write(&mut doc, &more).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id, "the same set, rewritten");
    assert_eq!(again[0].assumed, vec![Parameter::AirOrOxygen]);
    assert_eq!(again[0].home.as_ref().unwrap().readings, 7);
    let record = read::clinical(PERSON, &doc).unwrap();
    assert_eq!(record.observations.len(), 1);
    // A reading an hour after the first starts a new set; the first stays as written.
    let mut next = more.clone();
    next.push(reading(ReadingKind::Pulse, 80.0, "/min", 60));
    let third = write(&mut doc, &next).unwrap();
    assert_eq!(third.len(), 1);
    assert_ne!(third[0].id, first[0].id);
    assert_eq!(read::clinical(PERSON, &doc).unwrap().observations.len(), 2);
}

#[test]
fn of_two_servers_writing_at_once_every_reader_takes_the_set_with_more_readings() {
    let mut doc = admitted();
    write(&mut doc, &unwell(0)).unwrap();
    let mut other = doc.fork();
    let mut seven = unwell(0);
    seven.push(reading(ReadingKind::Pulse, 96.0, "/min", 30));
    let mut eight = seven.clone();
    eight.push(reading(ReadingKind::Pulse, 99.0, "/min", 40));
    write(&mut doc, &seven).unwrap();
    write(&mut other, &eight).unwrap();
    doc.merge(&mut other).unwrap();
    other.merge(&mut doc).unwrap();
    for d in [&doc, &other] {
        let sets = stored(d).unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].home.as_ref().unwrap().readings, 8);
    }
}

#[test]
fn only_the_server_writes_home_sets_and_it_writes_nothing_else() {
    let mut doc = admitted();
    let author = server();
    let e = write_sets(&mut doc, PERSON, &author, &unwell(0)).unwrap();
    // The same entry stamped by a phone: refused.
    let nurse = clinician("phone-1", 0);
    let mut forged = e.value[0].clone();
    forged.author = nurse.clone();
    layout::put_json(&mut doc, &key(HOME_OBSERVATIONS, &forged.id), &forged).unwrap();
    let change = commit(&mut doc, &AuditStamp::new(&nurse, "forged"));
    let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    assert!(
        err.to_string().contains("only the Doorstep server"),
        "{err}"
    );
    // The server writing a clinician's kind of entry: refused.
    let mut doc = admitted();
    let mut as_server = author.clone();
    as_server.at = Utc::now();
    record_edit::record_observations(
        &mut doc,
        PERSON,
        &as_server,
        at(0),
        testing::normal_observations(),
        None,
    )
    .unwrap();
    let change = commit(&mut doc, &server_stamp(&as_server, "observations"));
    let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
}

/// A way to spoil a set, and the words its refusal must contain.
type Spoil = (&'static str, Box<dyn Fn(&mut ObservationSet)>);

#[test]
fn a_home_set_that_scored_wrongly_or_assumed_a_reading_is_refused() {
    let author = server();
    let cases: Vec<Spoil> = vec![
        (
            "does not match",
            Box::new(|s| s.news2.total = s.news2.total.map(|t| t - 1)),
        ),
        (
            "only come from a reading",
            Box::new(|s| s.assumed.push(Parameter::Pulse)),
        ),
        ("must say when it opened", Box::new(|s| s.home = None)),
        (
            "within 60 minutes",
            Box::new(|s| s.taken_at += Duration::minutes(90)),
        ),
        (
            "at least one reading",
            Box::new(|s| s.home.as_mut().unwrap().readings = 0),
        ),
    ];
    for (words, spoil) in cases {
        let mut doc = admitted();
        let mut set = write_sets(&mut doc, PERSON, &author, &unwell(0))
            .unwrap()
            .value[0]
            .clone();
        spoil(&mut set);
        layout::put_json(&mut doc, &key(HOME_OBSERVATIONS, &set.id), &set).unwrap();
        let change = commit(&mut doc, &server_stamp(&author, "spoiled"));
        let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
        assert!(err.to_string().contains(words), "{words}: {err}");
    }
}

#[test]
fn a_clinicians_set_assumes_nothing_and_an_older_layout_cannot_hold_a_home_set() {
    let nurse = clinician("phone-1", 0);
    let mut doc = admitted();
    let mut set = record_edit::record_observations(
        &mut doc.fork(),
        PERSON,
        &nurse,
        at(0),
        testing::normal_observations(),
        None,
    )
    .unwrap()
    .value;
    set.assumed = vec![Parameter::Consciousness];
    layout::put_json(&mut doc, &key(layout::OBSERVATIONS, &set.id), &set).unwrap();
    let change = commit(&mut doc, &AuditStamp::new(&nurse, "assumed"));
    let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
    assert!(err.to_string().contains("assumes nothing"), "{err}");

    let mut doc = admitted();
    let author = server();
    let e = write_sets(&mut doc, PERSON, &author, &unwell(0)).unwrap();
    let mut old = server_stamp(&author, e.summary);
    old.layout = layout::LAYOUT_OUTREACH;
    let change = commit(&mut doc, &old);
    let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
    assert_eq!(err.code(), "structure", "{err}");
}

#[test]
fn a_set_marked_entered_in_error_withdraws_its_escalation() {
    let mut doc = admitted();
    let set = write(&mut doc, &unwell(0)).unwrap().remove(0);
    let nurse = clinician("phone-1", 0);
    record_edit::mark_entered_in_error(
        &mut doc,
        PERSON,
        Compartment::Clinical,
        &nurse,
        &set.id,
        "the oximeter was on a cold finger",
    )
    .unwrap();
    let change = commit(&mut doc, &AuditStamp::new(&nurse, "eie"));
    validate::check_change(Compartment::Clinical, &change).unwrap();
    let record = read::clinical(PERSON, &doc).unwrap();
    assert!(escalation::escalations(PERSON, &record).is_empty());
}

#[test]
fn the_sets_of_a_window_are_found_by_key_range_exactly_as_a_full_read_finds_them() {
    let mut doc = admitted();
    // Sets opening every 90 minutes over the last 3 hours and before (each its own set).
    for start in [-540, -450, -360, -270, -180, -90, 0, 90] {
        let mut rs = unwell(start);
        rs.truncate(2);
        assert_eq!(write(&mut doc, &rs).unwrap().len(), 1, "{start}");
    }
    let all = stored(&doc).unwrap();
    assert_eq!(all.len(), 8);
    for (from, to) in [
        (-600, 200),
        (-360, -360),
        (-361, -269),
        (-100, -1),
        (91, 500),
        (-90, 0),
    ] {
        let within = stored_within(&doc, at(from), at(to)).unwrap();
        let expected: Vec<&ObservationSet> = all
            .iter()
            .filter(|s| {
                let o = s.home.as_ref().unwrap().opened_at;
                o >= at(from) && o <= at(to)
            })
            .collect();
        assert_eq!(within.iter().collect::<Vec<_>>(), expected, "{from}..{to}");
    }
    // A late reading 30 minutes into a set written long before the others still joins it (its
    // anchor is within the window read), and no set moves.
    let late = vec![reading(ReadingKind::RespirationRate, 23.0, "/min", -330)];
    let mut with_late = unwell(-360);
    with_late.truncate(2);
    with_late.extend(late);
    let rewritten = write(&mut doc, &with_late).unwrap();
    assert_eq!(rewritten.len(), 1);
    assert_eq!(rewritten[0].home.as_ref().unwrap().opened_at, at(-360));
    assert_eq!(rewritten[0].home.as_ref().unwrap().readings, 3);
    assert_eq!(stored(&doc).unwrap().len(), 8);
}
