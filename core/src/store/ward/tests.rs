use chrono::{Duration, Utc};

use super::*;
use crate::clinical::escalation::ReadingRange;
use crate::record::ward::AdmissionRoute;
use crate::record::Role;
use crate::store::{DayQuery, DayScope};
use crate::testing;

fn person(s: &FieldStore, family: &str) -> String {
    s.register_patient(testing::demographics("Ada", family, None, "HX7 8AB"))
        .unwrap()
}

#[test]
fn the_census_lists_who_is_on_the_ward_with_stay_and_latest_news2() {
    let dir = tempfile::tempdir().unwrap();
    let s = testing::open(
        &dir.path().join("hub.db"),
        "hub-1",
        Role::VirtualWardClinician,
    );
    let on = person(&s, "Byron");
    let gone = person(&s, "Carter");
    let never = person(&s, "Dunn");
    let e = s.admit_to_ward(&on, testing::ward_admission(None)).unwrap();
    let g = s
        .admit_to_ward(&gone, testing::ward_admission(None))
        .unwrap();
    s.discharge_from_ward(
        &gone,
        &g.id,
        ward::ward_day(Utc::now()),
        DischargeDestination::Hospital,
        "Conveyed with chest pain",
    )
    .unwrap();
    s.record_observations(
        &on,
        Utc::now() - Duration::hours(2),
        testing::normal_observations(),
        None,
    )
    .unwrap();
    s.record_observations(
        &on,
        Utc::now() - Duration::minutes(5),
        testing::news2_six(),
        None,
    )
    .unwrap();
    s.record_observations(&never, Utc::now(), testing::news2_six(), None)
        .unwrap();
    let census = s.ward_census().unwrap();
    assert_eq!(census.team, "team-a");
    let [entry] = census.people.as_slice() else {
        panic!("{:?}", census.people)
    };
    assert_eq!(entry.person_id, on);
    assert_eq!(entry.episode_id, e.id);
    assert_eq!(entry.length_of_stay_days, 2);
    assert_eq!(entry.expected_length_of_stay_days, Some(10));
    assert!(!entry.beyond_expected_stay);
    assert_eq!(entry.route, Some(AdmissionRoute::StepDownHospital));
    assert_eq!(entry.latest_news2, Some(6));
    assert_eq!(entry.latest_news2_risk, Some(ClinicalRisk::Medium));
    assert_eq!(entry.open_escalations, 1);
    assert_eq!(entry.highest_open_band, Some(EscalationBand::Medium));
    assert_eq!(census.open_escalations, 1);
    // The server's hub works the row out from the record itself: the same row.
    let record = s.patient(&on).unwrap().clinical.unwrap();
    let day = ward::ward_day(Utc::now());
    let mut row = ward::census_entry(&on, &entry.display_name, &record, day).unwrap();
    // The projection keeps milliseconds.
    row.latest_news2_at = row
        .latest_news2_at
        .and_then(|t| chrono::DateTime::from_timestamp_millis(t.timestamp_millis()));
    assert_eq!(&row, entry);
    let gone_record = s.patient(&gone).unwrap().clinical.unwrap();
    assert_eq!(
        ward::census_entry(&gone, "x", &gone_record, day + Duration::days(1)),
        None
    );
    // Twelve days on: beyond the expected stay.
    let later = s.ward_census_at(Utc::now() + Duration::days(10)).unwrap();
    assert!(later.people[0].beyond_expected_stay);
    // The projections are what a rebuild gives.
    let before = s.projection_dump().unwrap();
    s.rebuild_projections().unwrap();
    assert_eq!(s.projection_dump().unwrap(), before);
}

#[test]
fn an_offline_escalation_is_one_escalation_everywhere_acknowledged_once() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(
        &dir.path().join("n.db"),
        "phone-1",
        Role::VirtualWardClinician,
    );
    let hub = testing::open(
        &dir.path().join("h.db"),
        "hub-1",
        Role::VirtualWardClinician,
    );
    let p = person(&nurse, "Byron");
    nurse
        .admit_to_ward(
            &p,
            testing::ward_admission(Some(ReadingRange { low: 88, high: 92 })),
        )
        .unwrap();
    testing::exchange(&nurse, &hub);
    // Offline: NEWS2 6, and SpO2 89 % scored on scale 2 as the admission prescribed.
    let mut obs = testing::news2_six();
    obs.spo2_percent = Some(89);
    let set = nurse
        .record_observations(&p, Utc::now(), obs, None)
        .unwrap();
    assert_eq!(set.news2.scale, crate::SpO2Scale::Scale2);
    assert_eq!(set.news2.total, Some(6));
    let on_phone = nurse.escalations(None).unwrap();
    assert_eq!(on_phone.len(), 1);
    let id = on_phone[0].id.clone();
    assert_eq!(id, escalation::escalation_id(&set.id));
    // On the nurse's today list at once.
    let today = nurse
        .today_list(DayQuery {
            day: ward::ward_day(Utc::now()),
            scope: DayScope::Team,
            base_postcode: None,
        })
        .unwrap();
    assert_eq!(
        today.escalations.iter().map(|e| &e.id).collect::<Vec<_>>(),
        vec![&id]
    );
    // After the exchange the hub has the same escalation; both acknowledge before the next.
    testing::exchange(&nurse, &hub);
    let on_hub = hub.escalations(Some(p.clone())).unwrap();
    assert_eq!(on_hub, on_phone);
    hub.acknowledge_escalation(&p, &id, Some("calling".into()))
        .unwrap();
    nurse.acknowledge_escalation(&p, &id, None).unwrap();
    testing::exchange(&nurse, &hub);
    testing::exchange(&hub, &nurse);
    for s in [&nurse, &hub] {
        let e = s.escalations(Some(p.clone())).unwrap().remove(0);
        assert_eq!(e.acknowledgements, 2);
        assert_eq!(e.history.len(), 2);
        assert_eq!(e.status, crate::record::EscalationStatus::Acknowledged);
        assert!(e.acknowledged_by.is_some());
    }
    let a = nurse.escalations(Some(p.clone())).unwrap().remove(0);
    let b = hub.escalations(Some(p.clone())).unwrap().remove(0);
    assert_eq!(
        a.acknowledged_by, b.acknowledged_by,
        "the same acknowledgement counts"
    );
    // An outcome closes it and it leaves the today list.
    hub.escalation_event(
        &p,
        &id,
        EscalationEventKind::Outcome,
        Some("reviewed, stays on ward".into()),
    )
    .unwrap();
    assert!(hub.escalations(None).unwrap().is_empty());
    assert!(hub.ward_census().unwrap().people[0].open_escalations == 0);
}

#[test]
fn trends_come_from_the_store_and_unknown_people_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = testing::open(
        &dir.path().join("t.db"),
        "hub-1",
        Role::VirtualWardClinician,
    );
    let p = person(&s, "Byron");
    s.admit_to_ward(&p, testing::ward_admission(None)).unwrap();
    for h in [3, 2, 1] {
        s.record_observations(
            &p,
            Utc::now() - Duration::hours(h),
            testing::normal_observations(),
            None,
        )
        .unwrap();
    }
    let t = s.trends(&p, None, None).unwrap();
    assert_eq!(t.series[0].points.len(), 3);
    assert!(matches!(
        s.trends("nobody", None, None),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.escalations(Some("nobody".into())),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.acknowledge_escalation(&p, "esc-none", None),
        Err(Error::NotFound {
            what: "escalation",
            ..
        })
    ));
}
