//! The district nurse's day (issue 12) through a real `doorstep serve` on loopback: a visit
//! handed over reaches the colleague's list after sync, and two phones moving the same visit
//! offline surface a conflict with both authors on both phones, which one resolves for both.

use chrono::{Duration, Utc};
use doorstep_core::record::schedule::local_date;
use doorstep_core::record::*;
use doorstep_core::store::{DayQuery, DayScope};
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, ServerProc};

fn query(day: chrono::NaiveDate, scope: DayScope) -> DayQuery {
    DayQuery {
        day,
        scope,
        base_postcode: None,
    }
}

#[test]
fn hand_over_and_two_phones_moving_one_visit_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    let server = ServerProc::start(&backend);
    let rt = runtime();
    team(&backend, "day");
    let a = Device::enrol(&rt, &backend, &server.url, "day-nurse1", dir.path());
    let b = Device::enrol(&rt, &backend, &server.url, "day-nurse2", dir.path());
    let today = local_date(Utc::now());

    // A care plan on phone a: insulin at 08:00 and 17:00, allocated to nurse 1.
    let p = a
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    let problem = a
        .store
        .add_plan_problem(&p, "Type 2 diabetes on insulin")
        .unwrap();
    let goal = a
        .store
        .add_plan_goal(
            &p,
            GoalInput {
                problem_id: problem.id,
                text: "Blood glucose 4–10 mmol/L".into(),
                target_date: None,
                status: GoalStatus::Active,
            },
        )
        .unwrap();
    a.store
        .add_plan_intervention(
            &p,
            PlanInterventionInput {
                goal_id: goal.id,
                kind: Intervention::Insulin,
                description: "NovoMix 30".into(),
                frequency: Frequency::DailyAt {
                    times: vec!["08:00".into(), "17:00".into()],
                },
                window_start: None,
                window_end: None,
                tolerance_minutes: None,
                priority: None,
                clinician: Some(a.user.id.clone()),
                starts_on: today,
                ends_on: None,
                contact_type: ContactType::HomeVisit,
            },
        )
        .unwrap();
    a.sync(&rt).unwrap();
    b.sync(&rt).unwrap();
    // Both phones work the same visits out of the same plan: the same refs, never two copies.
    let on_a = a.store.today_list(query(today, DayScope::Team)).unwrap();
    let on_b = b.store.today_list(query(today, DayScope::Team)).unwrap();
    let refs = |l: &doorstep_core::store::TodayList| {
        l.visits
            .iter()
            .map(|v| v.visit_ref.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(refs(&on_a), refs(&on_b));
    assert_eq!(on_a.visits.len(), 2);
    assert!(b
        .store
        .today_list(query(today, DayScope::Mine))
        .unwrap()
        .visits
        .is_empty());

    // Hand-over: the evening visit to nurse 2, with a note.
    let evening = on_a.visits[1].visit_ref.clone();
    a.store
        .hand_over_visit(
            &p,
            &evening,
            &b.user.id,
            &b.user.display_name,
            "Evening dose: pen in the fridge",
        )
        .unwrap();
    a.sync(&rt).unwrap();
    b.sync(&rt).unwrap();
    let mine_b = b.store.today_list(query(today, DayScope::Mine)).unwrap();
    assert_eq!(mine_b.visits.len(), 1);
    assert_eq!(mine_b.visits[0].visit_ref, evening);
    assert_eq!(
        mine_b.visits[0].handover_note.as_deref(),
        Some("Evening dose: pen in the fridge")
    );
    assert_eq!(
        a.store
            .today_list(query(today, DayScope::Mine))
            .unwrap()
            .visits
            .len(),
        1
    );

    // Two phones move the morning visit offline, to different windows tomorrow.
    let morning = on_a.visits[0].visit_ref.clone();
    let tomorrow = today + Duration::days(1);
    let to = |start: &str, end: &str| VisitMoveInput {
        to_date: tomorrow,
        window_start: start.into(),
        window_end: end.into(),
        reason: Some("hospital appointment".into()),
    };
    a.store
        .move_visit(&p, &morning, to("10:00", "10:30"))
        .unwrap();
    b.store
        .move_visit(&p, &morning, to("11:00", "11:30"))
        .unwrap();
    a.sync(&rt).unwrap();
    b.sync(&rt).unwrap();
    a.sync(&rt).unwrap();
    for d in [&a, &b] {
        assert!(
            d.store.quarantine().unwrap().is_empty(),
            "the server stored both moves"
        );
        let c = d.store.field_conflicts(None).unwrap();
        assert_eq!(c.len(), 1, "{c:#?}");
        assert_eq!(c[0].key, format!("dv_move:{morning}"));
        let who: Vec<&str> = c[0]
            .values
            .iter()
            .map(|v| v.author.user_id.as_str())
            .collect();
        assert!(
            who.contains(&"day-nurse1") && who.contains(&"day-nurse2"),
            "{who:?}"
        );
        let l = d.store.today_list(query(tomorrow, DayScope::Team)).unwrap();
        let v = l
            .visits
            .iter()
            .find(|v| v.visit_ref == morning)
            .expect("moved visit on tomorrow's list");
        assert!(v.in_conflict);
        assert!(d
            .store
            .today_list(query(today, DayScope::Team))
            .unwrap()
            .visits
            .iter()
            .all(|v| v.visit_ref != morning));
    }
    let c = b.store.field_conflicts(None).unwrap().remove(0);
    assert_eq!(c.id, a.store.field_conflicts(None).unwrap()[0].id);
    let keep = c
        .values
        .iter()
        .position(|v| v.author.user_id == "day-nurse1")
        .unwrap() as u32;
    b.store.resolve_field_conflict(&c.id, keep).unwrap();
    b.sync(&rt).unwrap();
    a.sync(&rt).unwrap();
    for d in [&a, &b] {
        assert!(d.store.field_conflicts(None).unwrap().is_empty());
        let l = d.store.today_list(query(tomorrow, DayScope::Team)).unwrap();
        let v = l.visits.iter().find(|v| v.visit_ref == morning).unwrap();
        assert_eq!(v.window, "10:00–10:30");
        assert!(!v.in_conflict);
    }
}
