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
/// Every reading passed is new.
fn write(doc: &mut AutoCommit, readings: &[Reading]) -> Result<Vec<ObservationSet>, Refusal> {
    let first = readings.iter().map(|r| r.taken_at).min().unwrap();
    let last = readings.iter().map(|r| r.taken_at).max().unwrap();
    write_new(doc, readings, (first, last))
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

/// A reading that arrives late, before a set already written, opens its own set and takes none
/// of the later set's readings: the server passes every reading within the hour either side, and
/// each must find the set it was counted in, whether that set opened before the new reading or
/// after it (a later set's readings counted twice would score a set that was never taken).
#[test]
fn a_late_reading_before_a_written_set_opens_its_own_and_counts_nothing_twice() {
    let mut doc = admitted();
    let mut later = unwell(30);
    later.truncate(3);
    assert_eq!(write(&mut doc, &later).unwrap().len(), 1);
    // What the server passes for a late reading at minute 0: it and the readings within an hour.
    let late = reading(ReadingKind::RespirationRate, 23.0, "/min", 0);
    let mut passed = vec![late];
    passed.extend(later.iter().cloned());
    let written = write(&mut doc, &passed).unwrap();
    assert_eq!(written.len(), 1, "{written:?}");
    let opened = written[0].home.as_ref().unwrap();
    assert_eq!((opened.opened_at, opened.readings), (at(0), 1));
    let sets = stored(&doc).unwrap();
    let counts: Vec<(DateTime<Utc>, u32)> = sets
        .iter()
        .map(|s| s.home.as_ref().map(|h| (h.opened_at, h.readings)).unwrap())
        .collect();
    assert_eq!(counts, vec![(at(0), 1), (at(30), 3)]);
}

/// The server reads only [`readings_span`] of a person's stored readings for each upload; the
/// sets written are the same as when it read an hour either side, for uploads in order, late,
/// and out of order.
#[test]
fn the_readings_span_writes_the_sets_an_hour_either_side_writes() {
    let kinds = [
        (ReadingKind::Spo2, 93.0, "%"),
        (ReadingKind::Pulse, 104.0, "/min"),
        (ReadingKind::RespirationRate, 21.0, "/min"),
        (ReadingKind::Temperature, 37.9, "Cel"),
    ];
    // Readings every 7 minutes over 150 minutes, uploaded in batches of 3, in an order that
    // sends some late (a batch from before the sets already written) and some out of order.
    let all: Vec<Reading> = (0..22)
        .map(|i| {
            let (k, v, u) = kinds[i % kinds.len()];
            reading(k, v + (i % 3) as f64, u, i as i64 * 7 - 30)
        })
        .collect();
    let mut batches: Vec<Vec<Reading>> = all.chunks(3).map(<[Reading]>::to_vec).collect();
    batches.swap(1, 4);
    batches.swap(2, 6);
    let (mut wide, mut narrow) = (admitted(), admitted());
    let mut stored_readings: Vec<Reading> = Vec::new();
    for batch in &batches {
        stored_readings.extend(batch.iter().cloned());
        let first = batch.iter().map(|r| r.taken_at).min().unwrap();
        let last = batch.iter().map(|r| r.taken_at).max().unwrap();
        let within = |from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<Reading> {
            stored_readings
                .iter()
                .filter(|r| r.taken_at >= from && r.taken_at <= to)
                .cloned()
                .collect()
        };
        let hour = readings::SET_WINDOW;
        write_new(&mut wide, &within(first - hour, last + hour), (first, last)).unwrap();
        let (from, to) = readings_span(&narrow, first, last).unwrap();
        assert!(from >= first - hour && to == last + hour);
        write_new(&mut narrow, &within(from, to), (first, last)).unwrap();
    }
    let shape = |doc: &AutoCommit| -> Vec<(String, u32, Option<u8>)> {
        stored(doc)
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.id.clone(),
                    s.home.as_ref().unwrap().readings,
                    s.news2.total,
                )
            })
            .collect()
    };
    assert_eq!(shape(&narrow), shape(&wide));
    let counted: u32 = shape(&narrow).iter().map(|s| s.1).sum();
    assert_eq!(
        counted as usize,
        all.len(),
        "every reading in exactly one set"
    );
}

/// Write the sets new readings from `new.0` to `new.1` touch, as the server does, with `passed`
/// the new and the stored readings it read.
fn write_new(
    doc: &mut AutoCommit,
    passed: &[Reading],
    new: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<ObservationSet>, Refusal> {
    let author = server();
    let e = write_sets_for(doc, PERSON, &author, passed, new).unwrap();
    if e.value.is_empty() {
        return Ok(e.value);
    }
    let change = commit(doc, &server_stamp(&author, e.summary));
    validate::check_change(Compartment::Clinical, &change)?;
    Ok(e.value)
}

/// A set that opened before the readings passed holds only part of its readings among them:
/// it is not rewritten from that part (its score would lose the vitals left out), and the new
/// readings' own set is written.
#[test]
fn a_set_wholly_before_the_new_readings_is_not_rewritten_from_part_of_its_readings() {
    let mut doc = admitted();
    let earlier = unwell(0);
    assert_eq!(write(&mut doc, &earlier).unwrap().len(), 1);
    let before = stored(&doc).unwrap();
    assert_eq!(before[0].news2.total, Some(9));
    // An hour either side of a reading at minute 68 holds only the earlier set's last reading.
    let new = reading(ReadingKind::Pulse, 96.0, "/min", 68);
    let mut passed: Vec<Reading> = earlier
        .iter()
        .filter(|r| r.taken_at >= at(8))
        .cloned()
        .collect();
    passed.push(new.clone());
    let written = write_new(&mut doc, &passed, (new.taken_at, new.taken_at)).unwrap();
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].home.as_ref().unwrap().opened_at, at(68));
    let after = stored(&doc).unwrap();
    assert_eq!(after[0], before[0], "the earlier set is as it was");
}
