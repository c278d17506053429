use automerge::transaction::CommitOptions;
use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::record::edit::add_advice_need;
use crate::record::layout::AuditStamp;
use crate::record::outreach_edit::set_need_status;
use crate::record::read;
use crate::record::validate::{self, Refusal};

fn worker(device: &str, at: DateTime<Utc>) -> Author {
    Author {
        user_id: format!("u-{device}"),
        display_name: format!("Worker {device}"),
        role: Role::AdviceWorker,
        device_id: device.into(),
        at,
    }
}

fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn library() -> AppointmentVenue {
    AppointmentVenue {
        kind: VenueKind::Library,
        name: Some("Hyde Library".into()),
    }
}

fn input(at: DateTime<Utc>, follows: Option<String>) -> AppointmentInput {
    AppointmentInput {
        starts_at: at,
        minutes: 45,
        venue: library(),
        case_worker: None,
        follows,
        need_ids: vec![],
        note: None,
    }
}

/// Commit what `doc` holds as one change by `author` with `layout`, and check it as the server
/// and every phone do.
fn check(doc: &mut AutoCommit, author: &Author, layout: u32) -> std::result::Result<(), Refusal> {
    let mut stamp = AuditStamp::new(author, "test");
    stamp.layout = layout;
    let msg = serde_json::to_string(&stamp).unwrap();
    let hash = doc
        .commit_with(CommitOptions::default().with_message(msg))
        .unwrap();
    let change = doc.get_change_by_hash(&hash).unwrap().clone();
    validate::check_change(Compartment::Advice, &change).map(|_| ())
}

#[test]
fn an_attended_appointment_is_completed_and_passes_the_servers_checks() {
    let mut doc = AutoCommit::new();
    let a = worker("ca", monday() - Duration::days(1));
    let need = add_advice_need(&mut doc, &a, AdviceCategory::Debt, "Council tax arrears")
        .unwrap()
        .value;
    let mut booking = input(monday(), None);
    booking.need_ids = vec![need.id.clone()];
    let e = book_appointment(&mut doc, &a, booking).unwrap();
    assert!(
        e.summary
            .contains("2026-11-02 at 09:00 (Hyde Library (library), 45 minutes"),
        "{}",
        e.summary
    );
    assert!(matches!(e.deltas.as_slice(), [Delta::Advice(_)]));
    check(&mut doc, &a, layout::LAYOUT_VERSION).unwrap();
    let appt = e.value;
    assert_eq!((appt.attempt, appt.case_worker_id.as_str()), (1, "u-ca"));

    let later = worker("ca", monday() + Duration::minutes(50));
    let done = record_attendance(&mut doc, &later, &appt.id, Attendance::Attended, None).unwrap();
    assert!(done.value.follow_up.is_none() && !done.value.case_closed);
    check(&mut doc, &later, layout::LAYOUT_VERSION).unwrap();
    let r = read::advice(&doc).unwrap();
    let views = appointments("p", &r);
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].status(later.at), VisitStatus::Completed);

    let again = record_attendance(&mut doc, &later, &appt.id, Attendance::DidNotAttend, None)
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("already recorded as attended by Worker ca"),
        "{again}"
    );
}

#[test]
fn three_missed_appointments_raise_follow_ups_then_close_the_case_with_the_reason() {
    let mut doc = AutoCommit::new();
    let a = worker("ca", monday() - Duration::days(1));
    let open = add_advice_need(&mut doc, &a, AdviceCategory::UniversalCredit, "UC claim")
        .unwrap()
        .value;
    let resolved = add_advice_need(&mut doc, &a, AdviceCategory::Housing, "Repairs")
        .unwrap()
        .value;
    set_need_status(&mut doc, &a, &resolved.id, NeedStatus::Resolved, None).unwrap();

    let mut previous: Option<String> = None;
    let mut follow_ups_raised = Vec::new();
    for week in 0..3i64 {
        let start = monday() + Duration::weeks(week);
        let booker = worker("ca", start - Duration::days(2));
        let appt = book_appointment(&mut doc, &booker, input(start, previous.clone()))
            .unwrap()
            .value;
        assert_eq!(appt.attempt, week as u32 + 1);
        let after = worker("ca", start + Duration::hours(1));
        let r =
            record_attendance(&mut doc, &after, &appt.id, Attendance::DidNotAttend, None).unwrap();
        check(&mut doc, &after, layout::LAYOUT_VERSION).unwrap();
        if week < 2 {
            let t = r
                .value
                .follow_up
                .expect("a follow-up before the last attempt");
            assert_eq!(t.due, local_date(after.at) + Duration::days(1));
            assert!(t.description.contains("book attempt"), "{}", t.description);
            assert!(!r.value.case_closed);
            follow_ups_raised.push(t.id);
        } else {
            assert!(r.value.follow_up.is_none());
            assert!(r.value.case_closed);
            assert!(
                r.summary.contains("closed after 3 missed appointments"),
                "{}",
                r.summary
            );
            assert_eq!(
                r.value.closed_needs.len(),
                1,
                "only the open need is closed"
            );
            let note = r.value.closed_needs[0].note.clone().unwrap();
            assert_eq!(
                note,
                "Closed after 3 missed appointments (2 Nov 2026, 9 Nov 2026, 16 Nov 2026)"
            );
            assert_eq!(r.value.cancelled_follow_ups.len(), 2);
        }
        previous = Some(appt.id);
    }
    let r = read::advice(&doc).unwrap();
    assert_eq!(
        crate::record::outreach::need_status(&r.need_status_changes, &open.id),
        NeedStatus::Closed
    );
    let day = local_date(monday() + Duration::weeks(3));
    assert!(follow_ups("p", &r, day).iter().all(|t| !t.status.is_open()));
    let views = appointments("p", &r);
    let last = views.iter().find(|v| v.appointment.attempt == 3).unwrap();
    assert_eq!(
        last.status(monday() + Duration::weeks(3)),
        VisitStatus::DidNotAttend
    );
    assert_eq!(last.status_reason().as_deref(), Some("attempt 3 of 3"));
}

#[test]
fn a_rebooking_after_an_attended_appointment_starts_again_at_attempt_one() {
    let mut doc = AutoCommit::new();
    let a = worker("ca", monday() - Duration::days(1));
    let first = book_appointment(&mut doc, &a, input(monday(), None))
        .unwrap()
        .value;
    let after = worker("ca", monday() + Duration::hours(1));
    record_attendance(&mut doc, &after, &first.id, Attendance::Attended, None).unwrap();
    let next = book_appointment(
        &mut doc,
        &after,
        input(monday() + Duration::weeks(1), Some(first.id.clone())),
    )
    .unwrap()
    .value;
    assert_eq!(next.attempt, 1);
}

#[test]
fn bad_bookings_and_outcomes_are_refused_with_what_to_do_and_write_nothing() {
    let mut doc = AutoCommit::new();
    let a = worker("ca", monday() - Duration::days(1));
    let err = |i: AppointmentInput, doc: &mut AutoCommit| {
        book_appointment(doc, &a, i).unwrap_err().to_string()
    };
    let mut no_name = input(monday(), None);
    no_name.venue.name = Some("  ".into());
    assert!(err(no_name, &mut doc).contains("name the venue"));
    let mut zero = input(monday(), None);
    zero.minutes = 0;
    assert!(err(zero, &mut doc).contains("lasts 5 to 480 minutes"));
    let far = input(monday() + Duration::days(400), None);
    assert!(err(far, &mut doc).contains("check the date"));
    let mut role = input(monday(), None);
    role.case_worker = Some(TaskAssignee::Role {
        role: Role::AdviceWorker,
    });
    assert!(err(role, &mut doc).contains("choose who, not a role"));
    let mut unknown_need = input(monday(), None);
    unknown_need.need_ids = vec!["nope".into()];
    assert!(err(unknown_need, &mut doc).contains("nope"));
    assert!(err(input(monday(), Some("nope".into())), &mut doc).contains("nope"));
    assert!(read::advice(&doc).unwrap().appointments.is_empty());

    let home = AppointmentInput {
        venue: AppointmentVenue {
            kind: VenueKind::Home,
            name: None,
        },
        ..input(monday(), None)
    };
    let appt = book_appointment(&mut doc, &a, home).unwrap().value;
    assert_eq!(appt.venue.describe(), "home");
    let early = record_attendance(&mut doc, &a, &appt.id, Attendance::DidNotAttend, None)
        .unwrap_err()
        .to_string();
    assert!(early.contains("once it has begun"), "{early}");
    let no_reason = record_attendance(&mut doc, &a, &appt.id, Attendance::CancelledByClient, None)
        .unwrap_err()
        .to_string();
    assert!(
        no_reason.contains("say why the appointment was cancelled"),
        "{no_reason}"
    );
    assert!(record_attendance(&mut doc, &a, "nope", Attendance::Attended, None).is_err());
    assert!(read::advice(&doc).unwrap().appointment_outcomes.is_empty());
    let c = record_attendance(
        &mut doc,
        &a,
        &appt.id,
        Attendance::CancelledByClient,
        Some("In hospital".into()),
    )
    .unwrap();
    assert!(c.value.follow_up.is_none());
}

#[test]
fn two_phones_recording_different_outcomes_offline_keep_both_and_show_a_conflict() {
    let mut doc = AutoCommit::new();
    let a = worker("ca", monday() - Duration::days(1));
    let appt = book_appointment(&mut doc, &a, input(monday(), None))
        .unwrap()
        .value;
    let mut other = doc.fork();
    let first = worker("ca", monday() + Duration::minutes(50));
    let second = worker("cb", monday() + Duration::minutes(70));
    record_attendance(&mut doc, &first, &appt.id, Attendance::Attended, None).unwrap();
    record_attendance(
        &mut other,
        &second,
        &appt.id,
        Attendance::DidNotAttend,
        None,
    )
    .unwrap();
    doc.merge(&mut other).unwrap();
    let r = read::advice(&doc).unwrap();
    assert_eq!(r.appointment_outcomes.len(), 2, "both kept");
    let v = &appointments("p", &r)[0];
    assert!(v.in_conflict);
    assert_eq!(v.outcome.as_ref().unwrap().attendance, Attendance::Attended);
    // The DNA's follow-up was written on the other phone and is kept too.
    assert_eq!(r.tasks.len(), 1);
}

#[test]
fn the_server_refuses_appointments_it_would_not_accept_from_the_edit_functions() {
    let a = worker("ca", monday() - Duration::days(1));
    let mut doc = AutoCommit::new();
    let appt = book_appointment(&mut doc, &a, input(monday(), None))
        .unwrap()
        .value;
    // An older layout does not have appointments.
    let mut older = AutoCommit::new();
    book_appointment(&mut older, &a, input(monday(), None)).unwrap();
    let r = check(&mut older, &a, layout::LAYOUT_HOME).unwrap_err();
    assert!(r.to_string().contains("added in layout 6"), "{r}");
    // Tampered: a day-long appointment, a library without a name, another author.
    for bad in [
        OutreachAppointment {
            minutes: 2_000,
            ..appt.clone()
        },
        OutreachAppointment {
            venue: AppointmentVenue {
                kind: VenueKind::GpSurgery,
                name: None,
            },
            ..appt.clone()
        },
        OutreachAppointment {
            author: worker("elsewhere", a.at),
            ..appt.clone()
        },
    ] {
        let mut d = AutoCommit::new();
        layout::put_json(&mut d, &key(APPOINTMENT, &bad.id), &bad).unwrap();
        assert!(
            check(&mut d, &a, layout::LAYOUT_VERSION).is_err(),
            "{bad:?}"
        );
    }
    let mut d = AutoCommit::new();
    let cancel = AppointmentOutcome {
        id: new_id(),
        appointment_id: appt.id.clone(),
        attendance: Attendance::CancelledByService,
        reason: None,
        author: a.clone(),
    };
    layout::put_json(&mut d, &key(APPOINTMENT_OUTCOME, &cancel.id), &cancel).unwrap();
    let r = check(&mut d, &a, layout::LAYOUT_VERSION).unwrap_err();
    assert!(r.to_string().contains("say why"), "{r}");
}
