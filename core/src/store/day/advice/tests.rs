//! The case worker's day against real encrypted stores: appointments and follow-ups reach the
//! list, a missed appointment brings its follow-up, another phone sees the same list, and the
//! rows always equal a rebuild.

use chrono::{Duration, NaiveDate, NaiveTime, Utc};

use super::*;
use crate::record::schedule::{instant, local_date};
use crate::record::*;
use crate::store::queries;
use crate::testing::{self, demographics, exchange, open};

fn today() -> NaiveDate {
    local_date(Utc::now())
}

fn at(d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    instant(d, NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

fn query(day: NaiveDate, scope: DayScope) -> DayQuery {
    DayQuery {
        day,
        scope,
        base_postcode: None,
    }
}

fn booking(starts_at: DateTime<Utc>, venue: AppointmentVenue) -> AppointmentInput {
    AppointmentInput {
        starts_at,
        minutes: 30,
        venue,
        case_worker: None,
        follows: None,
        need_ids: vec![],
        note: None,
    }
}

fn home() -> AppointmentVenue {
    AppointmentVenue {
        kind: VenueKind::Home,
        name: None,
    }
}

fn dump(s: &FieldStore) -> Vec<String> {
    queries::dump(&s.reader().unwrap()).unwrap()
}

#[test]
fn a_case_workers_list_holds_her_appointments_with_their_venues_and_follow_ups() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir.path().join("ca.db"), "ca", Role::AdviceWorker);
    let edith = s
        .register_patient(demographics("Edith", "Crawley", None, "SK14 2AB"))
        .unwrap();
    let joe = s
        .register_patient(demographics("Joe", "Brennan", None, "SK14 5XY"))
        .unwrap();
    // Yesterday's (so that both can be recorded now, whatever the time), and one for a colleague.
    let day = today() - Duration::days(1);
    let lib = AppointmentVenue {
        kind: VenueKind::Library,
        name: Some("Hyde Library".into()),
    };
    let at_home = s
        .book_outreach_appointment(&edith, booking(at(day, 0, 30), home()))
        .unwrap();
    let at_library = s
        .book_outreach_appointment(&joe, booking(at(day, 0, 10), lib))
        .unwrap();
    let mut colleague = booking(at(day, 0, 20), home());
    colleague.case_worker = Some(TaskAssignee::User {
        user_id: "u-other".into(),
        display_name: "Sam Other".into(),
    });
    s.book_outreach_appointment(&joe, colleague).unwrap();

    let now = at(day, 0, 5);
    let list = s
        .advice_today_list_at(query(day, DayScope::Mine), now)
        .unwrap();
    let refs: Vec<&str> = list.visits.iter().map(|v| v.visit_ref.as_str()).collect();
    assert_eq!(refs, vec![at_library.id.as_str(), at_home.id.as_str()]);
    let l = &list.visits[0];
    assert_eq!(l.display_name, "Joe Brennan");
    assert_eq!(l.address.as_deref(), Some("Hyde Library"));
    assert_eq!(l.postcode, None);
    assert_eq!(l.venue.as_ref().unwrap().kind, VenueKind::Library);
    assert_eq!(list.visits[1].postcode.as_deref(), Some("SK14 2AB"));
    assert_eq!((list.open, list.done), (2, 0));
    let team = s
        .advice_today_list_at(query(day, DayScope::Team), now)
        .unwrap();
    assert_eq!(team.visits.len(), 3);

    s.record_appointment_attendance(&joe, &at_library.id, Attendance::Attended, None)
        .unwrap();
    let missed = s
        .record_appointment_attendance(&edith, &at_home.id, Attendance::DidNotAttend, None)
        .unwrap();
    let follow_up = missed.follow_up.unwrap();
    let list = s.advice_today_list(query(day, DayScope::Mine)).unwrap();
    let statuses: Vec<VisitStatus> = list.visits.iter().map(|v| v.status).collect();
    assert_eq!(
        statuses,
        vec![VisitStatus::Completed, VisitStatus::DidNotAttend]
    );
    assert!(
        list.follow_ups.is_empty(),
        "the follow-up is due the day after it was raised"
    );
    let tomorrow = s
        .advice_today_list(query(today() + Duration::days(1), DayScope::Mine))
        .unwrap();
    assert_eq!(tomorrow.follow_ups.len(), 1);
    assert_eq!(tomorrow.follow_ups[0].task.id, follow_up.id);
    assert_eq!(s.outreach_appointments(&edith).unwrap().len(), 1);

    s.set_advice_follow_up_status(&edith, &follow_up.id, TaskStatus::Completed, None)
        .unwrap();
    assert!(s
        .advice_follow_ups(day, DayScope::Mine, false)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.advice_follow_ups(day, DayScope::Mine, true)
            .unwrap()
            .len(),
        1
    );

    let before = dump(&s);
    assert!(before.iter().any(|r| r.starts_with("advice_appointments:")));
    s.rebuild_projections().unwrap();
    assert_eq!(dump(&s), before, "the rows equal a rebuild");
}

#[test]
fn another_phone_of_the_team_sees_the_same_appointments_after_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir.path().join("a.db"), "a", Role::AdviceWorker);
    let b = open(&dir.path().join("b.db"), "b", Role::AdviceWorker);
    let p = a
        .register_patient(demographics("Edith", "Crawley", None, "SK14 2AB"))
        .unwrap();
    let day = today() + Duration::days(2);
    let appt = a
        .book_outreach_appointment(&p, booking(at(day, 10, 0), home()))
        .unwrap();
    exchange(&a, &b);
    let list = b.advice_today_list(query(day, DayScope::Team)).unwrap();
    assert_eq!(list.visits.len(), 1);
    assert_eq!(list.visits[0].visit_ref, appt.id);
    assert_eq!(list.visits[0].status, VisitStatus::Due);
    assert_eq!(
        list.visits[0].assigned_to.as_deref(),
        Some(a.user().id.as_str())
    );
    assert!(b
        .advice_today_list(query(day, DayScope::Mine))
        .unwrap()
        .visits
        .is_empty());
}

#[test]
fn a_nurse_may_not_book_an_outreach_appointment() {
    let dir = tempfile::tempdir().unwrap();
    let s = testing::open(&dir.path().join("n.db"), "n", Role::DistrictNurse);
    let p = s
        .register_patient(demographics("Edith", "Crawley", None, "SK14 2AB"))
        .unwrap();
    let err = s
        .book_outreach_appointment(&p, booking(at(today(), 10, 0), home()))
        .unwrap_err();
    assert!(err.to_string().contains("may not"), "{err}");
}
