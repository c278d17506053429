//! The district nurse's day against real encrypted stores: care plans make the visits when
//! read, exceptions change them, two phones agree or surface a conflict.

use chrono::{Duration, NaiveDate, NaiveTime, Utc};

use super::*;
use crate::error::Error;
use crate::record::schedule::{instant, local_date};
use crate::record::*;
use crate::testing::{self, demographics, exchange, open};

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

fn today() -> NaiveDate {
    local_date(Utc::now())
}

fn at(d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    instant(d, NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

fn team(day: NaiveDate) -> DayQuery {
    DayQuery {
        day,
        scope: DayScope::Team,
        base_postcode: None,
    }
}

fn mine(day: NaiveDate) -> DayQuery {
    DayQuery {
        scope: DayScope::Mine,
        ..team(day)
    }
}

/// A plan of one problem and goal; returns the goal id.
fn goal(s: &FieldStore, person: &str, text: &str) -> String {
    let p = s
        .add_plan_problem(person, "Type 2 diabetes and leg ulcer")
        .unwrap();
    s.add_plan_goal(
        person,
        GoalInput {
            problem_id: p.id,
            text: text.into(),
            target_date: None,
            status: GoalStatus::Active,
        },
    )
    .unwrap()
    .id
}

fn intervention(
    goal_id: &str,
    kind: Intervention,
    frequency: Frequency,
    clinician: Option<&str>,
) -> PlanInterventionInput {
    PlanInterventionInput {
        goal_id: goal_id.into(),
        description: kind.label(),
        kind,
        frequency,
        window_start: None,
        window_end: None,
        tolerance_minutes: None,
        priority: None,
        clinician: clinician.map(str::to_string),
        starts_on: today(),
        ends_on: None,
        contact_type: ContactType::HomeVisit,
    }
}

fn insulin_twice_daily(goal_id: &str, clinician: Option<&str>) -> PlanInterventionInput {
    intervention(
        goal_id,
        Intervention::Insulin,
        Frequency::DailyAt {
            times: vec!["08:00".into(), "17:00".into()],
        },
        clinician,
    )
}

fn visit(
    scheduled: &str,
    outcome: VisitOutcome,
    reason: Option<&str>,
    done: Vec<String>,
) -> VisitInput {
    let mut v = testing::full_visit(0);
    v.scheduled_visit = Some(scheduled.into());
    v.outcome = outcome;
    v.outcome_reason = reason.map(str::to_string);
    v.interventions_done = done;
    v.observations = None;
    v
}

#[test]
fn a_care_plan_makes_the_day_list_when_read() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let me = s.user().id;
    let edith = s
        .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    s.set_alert(
        &edith,
        AlertInput {
            kind: AlertKind::RiskToStaff,
            text: "Dog: ask for it to be shut away".into(),
            active: true,
        },
    )
    .unwrap();
    let g = goal(&s, &edith, "Blood glucose 4–10 mmol/L");
    let insulin = s
        .add_plan_intervention(&edith, insulin_twice_daily(&g, Some(&me)))
        .unwrap();
    let mut dressing = intervention(
        &g,
        Intervention::WoundCare,
        Frequency::EveryNDays { days: 1 },
        Some(&me),
    );
    dressing.window_start = Some("07:30".into());
    dressing.window_end = Some("11:00".into());
    let dressing = s.add_plan_intervention(&edith, dressing).unwrap();

    let list = s.today_list_at(mine(today()), at(today(), 6, 0)).unwrap();
    assert_eq!(list.visits.len(), 2, "{list:#?}");
    let morning = &list.visits[0];
    assert_eq!(morning.visit_ref, format!("{}T0730", today()));
    assert_eq!(morning.window, "07:30–11:00");
    assert_eq!(morning.priority, VisitPriority::TimeCriticalMedication);
    let ids: Vec<&str> = morning
        .interventions
        .iter()
        .map(|i| i.intervention_id.as_str())
        .collect();
    assert_eq!(ids, vec![insulin.id.as_str(), dressing.id.as_str()]);
    assert_eq!(morning.display_name, "Edith Crawley");
    assert!(morning
        .access_notes
        .as_deref()
        .unwrap()
        .contains("Key safe"));
    assert_eq!(morning.alerts[0].kind, AlertKind::RiskToStaff);
    assert_eq!(list.visits[1].window, "16:30–17:30");
    assert_eq!((list.open, list.overdue, list.done), (2, 0, 0));
    // Nothing was generated and stored: the list is worked out from the plan.
    let rows = s.projection_dump().unwrap();
    assert!(rows.iter().all(|r| !r.starts_with("planned_visits:")));
    // Overdue is worked out when read.
    let later = s.today_list_at(mine(today()), at(today(), 12, 0)).unwrap();
    assert_eq!(later.visits[0].status, VisitStatus::Overdue);
    assert_eq!(later.visits[1].status, VisitStatus::Due);
    // Each visit records which interventions were done; the list shows it at once.
    s.record_visit(
        &edith,
        visit(
            &morning.visit_ref,
            VisitOutcome::Completed,
            None,
            vec![insulin.id.clone()],
        ),
    )
    .unwrap();
    let after = s.today_list_at(mine(today()), at(today(), 12, 0)).unwrap();
    assert_eq!(after.visits[0].status, VisitStatus::Completed);
    assert_eq!((after.open, after.done), (1, 1));
    let recorded = s.patient(&edith).unwrap().clinical.unwrap().visits;
    assert_eq!(recorded[0].interventions_done, vec![insulin.id.clone()]);
    // The projections are derived: a rebuild gives the same rows.
    let before = s.projection_dump().unwrap();
    s.rebuild_projections().unwrap();
    assert_eq!(before, s.projection_dump().unwrap());
    // Another nurse's list does not have Edith's visits; the team's does.
    assert_eq!(
        s.today_list_at(team(today()), at(today(), 6, 0))
            .unwrap()
            .visits
            .len(),
        2
    );
}

#[test]
fn outcomes_other_than_completed_need_a_reason_and_cancelled_is_the_services() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&s, &p, "Stable glucose");
    s.add_plan_intervention(&p, insulin_twice_daily(&g, None))
        .unwrap();
    let list = s.today_list_at(team(today()), at(today(), 6, 0)).unwrap();
    let (am, pm) = (&list.visits[0].visit_ref, &list.visits[1].visit_ref);
    let e = s
        .record_visit(&p, visit(am, VisitOutcome::NoAccess, None, vec![]))
        .unwrap_err();
    assert!(
        e.to_string().starts_with("outcome reason is required"),
        "{e}"
    );
    let e = s
        .record_visit(
            &p,
            visit("2020-01-01T0730", VisitOutcome::Completed, None, vec![]),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotFound {
                what: "scheduled visit",
                ..
            }
        ),
        "{e}"
    );
    let e = s
        .record_visit(
            &p,
            visit(am, VisitOutcome::Completed, None, vec!["nope".into()]),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotFound {
                what: "care-plan intervention",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(s.patient(&p).unwrap().clinical.unwrap().visits.len(), 0);
    s.record_visit(
        &p,
        visit(
            am,
            VisitOutcome::NoAccess,
            Some("not at home, neighbour says at daughter's"),
            vec![],
        ),
    )
    .unwrap();
    let e = s.cancel_visit(&p, pm, "  ").unwrap_err();
    assert!(
        e.to_string().starts_with("cancellation reason is required"),
        "{e}"
    );
    s.cancel_visit(
        &p,
        pm,
        "staff shortage: GP practice nurse to give evening dose",
    )
    .unwrap();
    let list = s.today_list_at(team(today()), at(today(), 20, 0)).unwrap();
    assert_eq!(list.visits[0].status, VisitStatus::NoAccess);
    assert_eq!(
        list.visits[0].status_reason.as_deref(),
        Some("not at home, neighbour says at daughter's")
    );
    assert_eq!(list.visits[1].status, VisitStatus::CancelledByService);
    assert_eq!((list.open, list.overdue), (0, 0));
    let history: Vec<String> = s
        .history(&p)
        .unwrap()
        .into_iter()
        .map(|h| h.summary)
        .collect();
    assert!(
        history
            .iter()
            .any(|h| h.contains("(no access) because \"not at home")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h.starts_with(&format!("cancelled visit {pm} (by the service)"))),
        "{history:?}"
    );
}

#[test]
fn a_moved_visit_leaves_its_day_and_a_move_to_the_past_is_refused() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&s, &p, "Healed ulcer");
    s.add_plan_intervention(
        &p,
        intervention(
            &g,
            Intervention::WoundCare,
            Frequency::EveryNDays { days: 2 },
            None,
        ),
    )
    .unwrap();
    let r = s
        .today_list_at(team(today()), at(today(), 6, 0))
        .unwrap()
        .visits[0]
        .visit_ref
        .clone();
    let yesterday = today() - Duration::days(1);
    let e = s
        .move_visit(
            &p,
            &r,
            VisitMoveInput {
                to_date: yesterday,
                window_start: "09:00".into(),
                window_end: "10:00".into(),
                reason: None,
            },
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("new visit date:"), "{e}");
    let e = s
        .move_visit(
            &p,
            &r,
            VisitMoveInput {
                to_date: today(),
                window_start: "11:00".into(),
                window_end: "10:00".into(),
                reason: None,
            },
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("new window end:"), "{e}");
    assert!(s
        .patient(&p)
        .unwrap()
        .clinical
        .unwrap()
        .visit_exceptions
        .moves
        .is_empty());
    let tomorrow = today() + Duration::days(1);
    s.move_visit(
        &p,
        &r,
        VisitMoveInput {
            to_date: tomorrow,
            window_start: "13:00".into(),
            window_end: "14:00".into(),
            reason: Some("hospital appointment in the morning".into()),
        },
    )
    .unwrap();
    assert!(s
        .today_list_at(team(today()), at(today(), 6, 0))
        .unwrap()
        .visits
        .is_empty());
    let t = s.today_list_at(team(tomorrow), at(today(), 6, 0)).unwrap();
    assert_eq!(t.visits.len(), 1, "{t:#?}");
    assert_eq!(t.visits[0].visit_ref, r);
    assert_eq!(t.visits[0].window, "13:00–14:00");
    assert_eq!(t.visits[0].moved_from, Some(today()));
    // The 14-day schedule agrees: one visit every other day, the first moved.
    let sched = s.team_schedule_at(today(), 14, at(today(), 6, 0)).unwrap();
    let counts: Vec<usize> = sched.iter().map(|d| d.visits.len()).collect();
    assert_eq!(counts, vec![0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
}

#[test]
fn a_handed_over_visit_is_on_the_colleagues_list_after_sync() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let p = a
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&a, &p, "Stable glucose");
    a.add_plan_intervention(&p, insulin_twice_daily(&g, Some(&a.user().id)))
        .unwrap();
    exchange(&a, &b);
    let pm = a
        .today_list_at(mine(today()), at(today(), 6, 0))
        .unwrap()
        .visits[1]
        .visit_ref
        .clone();
    assert!(b
        .today_list_at(mine(today()), at(today(), 6, 0))
        .unwrap()
        .visits
        .is_empty());
    let e = a
        .hand_over_visit(&p, &pm, &b.user().id, "Bea", " ")
        .unwrap_err();
    assert!(
        e.to_string().starts_with("hand-over note is required"),
        "{e}"
    );
    a.hand_over_visit(
        &p,
        &pm,
        &b.user().id,
        "Bea",
        "Evening insulin: 18 units NovoMix, pen in fridge",
    )
    .unwrap();
    assert_eq!(
        a.today_list_at(mine(today()), at(today(), 6, 0))
            .unwrap()
            .visits
            .len(),
        1
    );
    exchange(&a, &b);
    let theirs = b.today_list_at(mine(today()), at(today(), 6, 0)).unwrap();
    assert_eq!(theirs.visits.len(), 1);
    let v = &theirs.visits[0];
    assert_eq!(v.visit_ref, pm);
    assert_eq!(
        v.handover_note.as_deref(),
        Some("Evening insulin: 18 units NovoMix, pen in fridge")
    );
    assert_eq!(
        v.handed_over_by.as_deref(),
        Some(a.user().display_name.as_str())
    );
}

#[test]
fn two_phones_moving_the_same_visit_is_a_conflict_with_both_authors() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let p = a
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&a, &p, "Stable glucose");
    a.add_plan_intervention(&p, insulin_twice_daily(&g, None))
        .unwrap();
    exchange(&a, &b);
    let r = a
        .today_list_at(team(today()), at(today(), 6, 0))
        .unwrap()
        .visits[1]
        .visit_ref
        .clone();
    let to = |h: &str| VisitMoveInput {
        to_date: today() + Duration::days(1),
        window_start: format!("{h}:00"),
        window_end: format!("{h}:30"),
        reason: None,
    };
    a.move_visit(&p, &r, to("18")).unwrap();
    b.move_visit(&p, &r, to("19")).unwrap();
    exchange(&a, &b);
    exchange(&b, &a);
    for s in [&a, &b] {
        let c = s.field_conflicts(None).unwrap();
        assert_eq!(c.len(), 1, "{c:#?}");
        assert_eq!(c[0].key, format!("dv_move:{r}"));
        let devices: Vec<&str> = c[0]
            .values
            .iter()
            .map(|v| v.author.device_id.as_str())
            .collect();
        assert!(
            devices.contains(&"a") && devices.contains(&"b"),
            "{devices:?}"
        );
        let l = s
            .today_list_at(team(today() + Duration::days(1)), at(today(), 6, 0))
            .unwrap();
        let v = l.visits.iter().find(|v| v.visit_ref == r).unwrap();
        assert!(v.in_conflict);
        assert_eq!(v.open_conflicts, 1);
    }
    let c = a.field_conflicts(Some(p.clone())).unwrap().remove(0);
    assert_eq!(
        c.id,
        b.field_conflicts(Some(p.clone())).unwrap()[0].id,
        "the same id on both phones"
    );
    let e = a.move_visit(&p, &r, to("20")).unwrap_err();
    assert!(e.to_string().contains("resolve the conflict"), "{e}");
    assert!(matches!(
        a.resolve_field_conflict(&c.id, 5),
        Err(Error::Validation(_))
    ));
    let keep = c
        .values
        .iter()
        .position(|v| v.author.device_id == "b")
        .unwrap() as u32;
    let res = a.resolve_field_conflict(&c.id, keep).unwrap();
    assert_eq!(res.superseded, 2);
    exchange(&a, &b);
    for s in [&a, &b] {
        assert!(s.field_conflicts(None).unwrap().is_empty());
        let l = s
            .today_list_at(team(today() + Duration::days(1)), at(today(), 6, 0))
            .unwrap();
        let v = l.visits.iter().find(|v| v.visit_ref == r).unwrap();
        assert_eq!(v.window, "19:00–19:30");
        assert!(!v.in_conflict);
    }
}

#[test]
fn edits_of_different_goals_merge_and_of_the_same_goal_conflict() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let p = a
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g1 = goal(&a, &p, "Ulcer healed");
    let problem = a.care_plan(&p).unwrap().problems[0].id.clone();
    let g2 = a
        .add_plan_goal(
            &p,
            GoalInput {
                problem_id: problem.clone(),
                text: "Pain controlled".into(),
                target_date: None,
                status: GoalStatus::Active,
            },
        )
        .unwrap()
        .id;
    exchange(&a, &b);
    let edit = |s: &FieldStore, id: &str, text: &str| {
        s.update_plan_goal(
            &p,
            id,
            GoalInput {
                problem_id: problem.clone(),
                text: text.into(),
                target_date: None,
                status: GoalStatus::Active,
            },
        )
        .unwrap();
    };
    edit(&a, &g1, "Ulcer healed by end of January");
    edit(&b, &g2, "Pain 3/10 or less");
    exchange(&a, &b);
    exchange(&b, &a);
    for s in [&a, &b] {
        let plan = s.care_plan(&p).unwrap();
        let texts: Vec<&str> = plan.goals.iter().map(|g| g.text.as_str()).collect();
        assert_eq!(
            texts,
            vec!["Ulcer healed by end of January", "Pain 3/10 or less"]
        );
        assert!(plan.in_conflict.is_empty());
    }
    edit(&a, &g1, "Ulcer healed by 31 January");
    edit(&b, &g1, "Ulcer smaller by half by 31 January");
    exchange(&a, &b);
    exchange(&b, &a);
    for s in [&a, &b] {
        let plan = s.care_plan(&p).unwrap();
        assert_eq!(plan.in_conflict, vec![g1.clone()]);
        let c = s.field_conflicts(Some(p.clone())).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].what, format!("care-plan goal {g1}"));
        let names: Vec<&str> = c[0]
            .values
            .iter()
            .map(|v| v.author.display_name.as_str())
            .collect();
        assert_eq!(names.len(), 2);
        assert_ne!(names[0], names[1]);
        assert!(c[0]
            .values
            .iter()
            .any(|v| v.summary.starts_with("ulcer smaller by half")));
    }
}

#[test]
fn the_first_care_plan_reads_as_version_one_with_its_author() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    s.set_care_plan(
        &p,
        CarePlan {
            goals: vec!["Ulcer healed".into()],
            interventions: vec!["Dressing change".into()],
            review_date: NaiveDate::from_ymd_opt(2027, 1, 31),
        },
    )
    .unwrap();
    let plan = s.care_plan(&p).unwrap();
    assert!(plan.first_version);
    assert_eq!(plan.goals[0].text, "Ulcer healed");
    assert_eq!(plan.goals[0].author.display_name, s.user().display_name);
    assert_eq!(plan.interventions[0].frequency, Frequency::AsNeeded);
    assert_eq!(plan.review_date, NaiveDate::from_ymd_opt(2027, 1, 31));
    // Editing a first-version goal writes it as a new-style goal with the same id.
    let g = plan.goals[0].clone();
    s.update_plan_goal(
        &p,
        &g.id,
        GoalInput {
            problem_id: g.problem_id.clone(),
            text: "Ulcer healed by 31 January".into(),
            target_date: None,
            status: GoalStatus::Active,
        },
    )
    .unwrap();
    let plan = s.care_plan(&p).unwrap();
    assert_eq!(plan.goals.len(), 1);
    assert_eq!(plan.goals[0].text, "Ulcer healed by 31 January");
    // And an intervention with a frequency added to it is scheduled.
    s.add_plan_intervention(
        &p,
        intervention(
            &g.id,
            Intervention::WoundCare,
            Frequency::EveryNDays { days: 1 },
            None,
        ),
    )
    .unwrap();
    assert_eq!(
        s.today_list_at(team(today()), at(today(), 6, 0))
            .unwrap()
            .visits
            .len(),
        1
    );
}

#[test]
fn bad_plan_input_names_the_field_and_stores_nothing() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&s, &p, "Stable glucose");
    let pending = s.pending_changes().unwrap().len();
    let mut bad = insulin_twice_daily(&g, None);
    bad.frequency = Frequency::DailyAt {
        times: vec!["8am".into()],
    };
    let e = s.add_plan_intervention(&p, bad).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("frequency time: '8am' is not a time of day"),
        "{e}"
    );
    let mut bad = insulin_twice_daily(&g, None);
    bad.goal_id = "no-such-goal".into();
    assert!(matches!(
        s.add_plan_intervention(&p, bad),
        Err(Error::NotFound {
            what: "care-plan goal",
            ..
        })
    ));
    let e = s
        .set_plan_review(&p, today() - Duration::days(3))
        .unwrap_err();
    assert!(e.to_string().starts_with("review date:"), "{e}");
    assert_eq!(s.pending_changes().unwrap().len(), pending);
    assert!(s.care_plan(&p).unwrap().interventions.is_empty());
}

#[test]
fn the_list_orders_by_window_then_travel_and_a_manual_order_sticks() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let me = s.user().id;
    let mut people = Vec::new();
    for (name, pc) in [
        ("Ann", "LS7 3AB"),
        ("Bob", "LS6 2QT"),
        ("Cat", "HX7 8AD"),
        ("Dan", "LS6 2AA"),
    ] {
        let p = s
            .register_patient(demographics(name, "Test", None, pc))
            .unwrap();
        let g = goal(&s, &p, "Healed");
        s.add_plan_intervention(
            &p,
            intervention(
                &g,
                Intervention::WoundCare,
                Frequency::EveryNDays { days: 1 },
                Some(&me),
            ),
        )
        .unwrap();
        people.push(p);
    }
    let q = DayQuery {
        base_postcode: Some("LS6 1AB".into()),
        ..mine(today())
    };
    let names = |l: &TodayList| {
        l.visits
            .iter()
            .map(|v| v.display_name.clone())
            .collect::<Vec<_>>()
    };
    let list = s.today_list_at(q.clone(), at(today(), 6, 0)).unwrap();
    assert_eq!(
        names(&list),
        vec!["Dan Test", "Bob Test", "Ann Test", "Cat Test"]
    );
    // A timed visit comes first by its window.
    let g = goal(&s, &people[2], "Glucose");
    s.add_plan_intervention(
        &people[2],
        intervention(
            &g,
            Intervention::Insulin,
            Frequency::DailyAt {
                times: vec!["08:00".into()],
            },
            Some(&me),
        ),
    )
    .unwrap();
    let list = s.today_list_at(q.clone(), at(today(), 6, 0)).unwrap();
    // Then the round goes on from Cat's: Cat's 09:00 visit is nearest.
    assert_eq!(
        names(&list),
        vec!["Cat Test", "Cat Test", "Dan Test", "Bob Test", "Ann Test"]
    );
    // Her own order sticks across reads; a visit added later slots in.
    let mut order: Vec<VisitKey> = list
        .visits
        .iter()
        .map(|v| VisitKey {
            person_id: v.person_id.clone(),
            visit_ref: v.visit_ref.clone(),
        })
        .collect();
    order.reverse();
    let e = s
        .reorder_day(today() - Duration::days(1), order.clone())
        .unwrap_err();
    assert!(e.to_string().starts_with("day:"), "{e}");
    s.reorder_day(today(), order).unwrap();
    let again = s.today_list_at(q.clone(), at(today(), 6, 0)).unwrap();
    assert_eq!(
        names(&again),
        vec!["Ann Test", "Bob Test", "Dan Test", "Cat Test", "Cat Test"]
    );
    assert!(again.visits.iter().all(|v| v.manually_placed));
    let eve = s
        .register_patient(demographics("Eve", "Test", None, "LS6 2AB"))
        .unwrap();
    let g = goal(&s, &eve, "Healed");
    s.add_plan_intervention(
        &eve,
        intervention(
            &g,
            Intervention::WoundCare,
            Frequency::EveryNDays { days: 1 },
            Some(&me),
        ),
    )
    .unwrap();
    let with_eve = s.today_list_at(q, at(today(), 6, 0)).unwrap();
    assert_eq!(with_eve.visits.len(), 6);
    let eve_row = with_eve.visits.iter().find(|v| v.person_id == eve).unwrap();
    assert!(!eve_row.manually_placed);
}

#[test]
fn a_review_date_raises_a_review_on_the_day_list() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    s.set_plan_review(&p, today() + Duration::days(2)).unwrap();
    assert!(s
        .today_list_at(team(today()), Utc::now())
        .unwrap()
        .reviews_due
        .is_empty());
    let l = s
        .today_list_at(team(today() + Duration::days(3)), Utc::now())
        .unwrap();
    assert_eq!(l.reviews_due.len(), 1);
    assert!(l.reviews_due[0].overdue);
    assert_eq!(l.reviews_due[0].display_name, "Joan Hirst");
    // The review date also raised a task, due that day, for the nurses.
    let tasks = s.tasks(today(), DayScope::Mine, false).unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].task.kind, TaskKind::Review);
    assert_eq!(tasks[0].task.due, today() + Duration::days(2));
    assert!(!tasks[0].overdue);
    assert!(
        s.tasks(today() + Duration::days(3), DayScope::Mine, false)
            .unwrap()[0]
            .overdue
    );
}

#[test]
fn a_write_tells_the_day_lists_to_refresh() {
    use std::sync::mpsc;
    use std::sync::Arc;
    struct Tx(std::sync::Mutex<mpsc::Sender<StoreChange>>);
    impl crate::store::StoreObserver for Tx {
        fn on_change(&self, c: StoreChange) {
            if let Ok(t) = self.0.lock() {
                let _ = t.send(c);
            }
        }
    }
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&s, &p, "Glucose");
    let (tx, rx) = mpsc::channel();
    s.observe(Arc::new(Tx(std::sync::Mutex::new(tx))));
    s.add_plan_intervention(&p, insulin_twice_daily(&g, None))
        .unwrap();
    let c = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert!(c.planned_visits && c.people == vec![p.clone()]);
}

#[test]
fn a_task_completed_on_two_offline_phones_is_completed_once_with_both_kept() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let p = a
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let input = |due| TaskInput {
        kind: TaskKind::BloodsDue,
        description: "HbA1c and U&Es".into(),
        assignee: TaskAssignee::Role {
            role: Role::DistrictNurse,
        },
        due,
        ready: true,
    };
    let e = a
        .add_task(&p, input(today() - Duration::days(1)))
        .unwrap_err();
    assert!(e.to_string().starts_with("due date:"), "{e}");
    let t = a.add_task(&p, input(today())).unwrap();
    exchange(&a, &b);
    assert_eq!(
        b.tasks(today(), DayScope::Mine, false).unwrap().len(),
        1,
        "assigned to her role"
    );
    let e = a
        .set_task_status(&p, &t.id, TaskStatus::Cancelled, None)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("cancellation reason is required"),
        "{e}"
    );
    a.set_task_status(&p, &t.id, TaskStatus::InProgress, None)
        .unwrap();
    a.complete_task(&p, &t.id, Some("taken, sent to the lab".into()))
        .unwrap();
    b.complete_task(&p, &t.id, None).unwrap();
    exchange(&a, &b);
    exchange(&b, &a);
    for s in [&a, &b] {
        let all = s.tasks(today(), DayScope::Team, true).unwrap();
        assert_eq!(all.len(), 1);
        let v = &all[0];
        assert_eq!(v.status, TaskStatus::Completed);
        assert_eq!(v.completions, 2);
        let statuses: Vec<TaskStatus> = v.history.iter().map(|h| h.status).collect();
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == TaskStatus::Completed)
                .count(),
            2
        );
        assert!(statuses.contains(&TaskStatus::InProgress));
        assert!(
            s.tasks(today(), DayScope::Team, false).unwrap().is_empty(),
            "closed tasks are left out"
        );
    }
    let e = a.complete_task(&p, &t.id, None).unwrap_err();
    assert!(e.to_string().contains("is already completed by"), "{e}");
    let history: Vec<String> = a
        .history(&p)
        .unwrap()
        .into_iter()
        .map(|h| h.summary)
        .collect();
    assert!(
        history.iter().any(
            |h| h == "completed the task (bloods due): HbA1c and U&Es — taken, sent to the lab"
        ),
        "{history:?}"
    );
    // Projections rebuild to the same rows.
    let before = a.projection_dump().unwrap();
    a.rebuild_projections().unwrap();
    assert_eq!(before, a.projection_dump().unwrap());
}

#[test]
fn overdue_tasks_and_an_advice_worker_may_not_complete_one() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let p = a
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let t = a
        .add_task(
            &p,
            TaskInput {
                kind: TaskKind::PrescriptionRequest,
                description: "Dressings to the GP".into(),
                assignee: TaskAssignee::User {
                    user_id: "someone-else".into(),
                    display_name: "Bea".into(),
                },
                due: today(),
                ready: false,
            },
        )
        .unwrap();
    assert!(a.tasks(today(), DayScope::Mine, false).unwrap().is_empty());
    let later = a
        .tasks(today() + Duration::days(1), DayScope::Team, false)
        .unwrap();
    assert!(later[0].overdue);
    assert_eq!(later[0].status, TaskStatus::Requested);
    let w = open(&dir.path().join("w.db"), "w", Role::AdviceWorker);
    let e = w.complete_task(&p, &t.id, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "an advice worker may not complete a task: this is outside the role. Nothing was saved."
    );
    assert!(matches!(e, Error::NotAllowed(_)));
}

#[test]
fn a_medication_is_recorded_once_and_corrected_by_entered_in_error() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let driver = MedicationInput {
        visit_id: None,
        drug: "Midazolam".into(),
        dose: 10.0,
        unit: DoseUnit::Milligrams,
        route: Route::SyringeDriver,
        at: Utc::now(),
        given: true,
        not_given_reason: None,
        controlled_drug: true,
        witness: Some(Witness {
            user_id: "user-b".into(),
            display_name: "Bea Ward".into(),
        }),
        syringe_driver: Some(SyringeDriverCheck {
            rate_ml_per_hour: 0.7,
            volume_remaining_ml: 12.5,
            site: "left upper chest".into(),
            site_ok: true,
        }),
        note: None,
    };
    let mut bad = driver.clone();
    bad.dose = -1.0;
    let e = s.record_medication(&p, bad).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("dose of -1 mg is outside the possible range"),
        "{e}"
    );
    let mut bad = driver.clone();
    bad.at = Utc::now() + Duration::hours(3);
    assert!(s
        .record_medication(&p, bad)
        .unwrap_err()
        .to_string()
        .starts_with("administration time"));
    assert!(
        s.patient(&p).unwrap().clinical.is_none(),
        "nothing was written"
    );
    let wrong = s.record_medication(&p, driver.clone()).unwrap();
    s.mark_entered_in_error(&p, &wrong.id, "wrong syringe volume")
        .unwrap();
    let mut right = driver;
    right.syringe_driver.as_mut().unwrap().volume_remaining_ml = 15.0;
    s.record_medication(&p, right).unwrap();
    let c = s.patient(&p).unwrap().clinical.unwrap();
    assert_eq!(c.medications.len(), 2);
    assert!(c.is_entered_in_error(&wrong.id));
    let history: Vec<String> = s
        .history(&p)
        .unwrap()
        .into_iter()
        .map(|h| h.summary)
        .collect();
    assert!(
        history.iter().any(|h| h.starts_with(
            "gave Midazolam 10 mg (syringe driver (CSCI)), witnessed by Bea Ward; syringe driver 0.7 ml/h, 12.5 ml left"
        )),
        "{history:?}"
    );
}

#[test]
fn eight_o_clock_daily_stays_at_eight_local_across_the_clock_change() {
    let dir = tmp();
    let s = nurse(&dir, "a");
    let p = s
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    let g = goal(&s, &p, "Glucose");
    let mut i = intervention(
        &g,
        Intervention::Insulin,
        Frequency::DailyAt {
            times: vec!["08:00".into()],
        },
        None,
    );
    i.tolerance_minutes = Some(0);
    s.add_plan_intervention(&p, i).unwrap();
    // The next spring-forward day at least two days ahead (the day before it is in the plan).
    let spring = (2..368)
        .map(|d| today() + Duration::days(d))
        .find(|d| {
            let (a, b) = crate::record::schedule::day_bounds(*d);
            (b - a).num_hours() == 23
        })
        .unwrap();
    let sched = s
        .team_schedule_at(spring - Duration::days(1), 3, Utc::now())
        .unwrap();
    let starts: Vec<String> = sched
        .iter()
        .map(|d| d.visits[0].window_start.format("%H:%M").to_string())
        .collect();
    // 08:00 GMT the day before, 08:00 BST (07:00 UTC) on the day and after.
    assert_eq!(starts, vec!["08:00", "07:00", "07:00"]);
    assert!(sched.iter().all(|d| d.visits[0].window == "08:00–08:00"));
}

#[test]
fn two_phones_setting_the_same_review_date_offline_raise_one_task() {
    let dir = tmp();
    let a = nurse(&dir, "a");
    let b = nurse(&dir, "b");
    let p = a
        .register_patient(demographics("Joan", "Hirst", None, "HX7 8AB"))
        .unwrap();
    exchange(&a, &b);
    let review = today() + Duration::days(14);
    a.set_plan_review(&p, review).unwrap();
    b.set_plan_review(&p, review).unwrap();
    let ra = exchange(&a, &b);
    let rb = exchange(&b, &a);
    assert_eq!((ra.quarantined, rb.quarantined), (0, 0), "{ra:?} {rb:?}");
    for s in [&a, &b] {
        let t = s.tasks(today(), DayScope::Team, true).unwrap();
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0].task.due, review);
        assert_eq!(t[0].status, TaskStatus::Requested);
    }
}
