use automerge::transaction::CommitOptions;
use chrono::{Duration, Utc};

use super::*;
use crate::clinical::escalation::ReadingRange;
use crate::record::layout::AuditStamp;
use crate::record::validate::{self, Refusal};
use crate::testing;

pub(crate) fn clinician(device: &str, minutes: i64) -> Author {
    Author {
        user_id: format!("u-{device}"),
        display_name: format!("Clinician {device}"),
        role: Role::VirtualWardClinician,
        device_id: device.into(),
        at: Utc::now() + Duration::minutes(minutes),
    }
}

/// Commit what `doc` holds as one change stamped by `author` with `layout`, and check it as
/// the server and every phone do.
pub(crate) fn check(doc: &mut AutoCommit, author: &Author, layout: u32) -> Result<(), Refusal> {
    let mut stamp = AuditStamp::new(author, "test");
    stamp.layout = layout;
    let msg = serde_json::to_string(&stamp).unwrap();
    let hash = doc
        .commit_with(CommitOptions::default().with_message(msg))
        .unwrap();
    let change = doc.get_change_by_hash(&hash).unwrap().clone();
    validate::check_change(Compartment::Clinical, &change).map(|_| ())
}

#[test]
fn an_spo2_target_of_88_to_92_prescribes_scale_2_and_sets_are_scored_on_it() {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    let e = admit(
        &mut doc,
        "p",
        &a,
        testing::ward_admission(Some(ReadingRange { low: 88, high: 92 })),
    )
    .unwrap();
    assert!(
        e.summary.contains("SpO2 scale 2 prescribed"),
        "{}",
        e.summary
    );
    assert!(matches!(e.deltas.as_slice(), [Delta::Clinical(_)]));
    let admission = e.value.admission.clone().unwrap();
    assert_eq!(admission.route, AdmissionRoute::StepDownHospital);
    assert_eq!(read::spo2_scale(&doc).unwrap(), SpO2Scale::Scale2);
    check(&mut doc, &a, layout::LAYOUT_VERSION).unwrap();
    let mut obs = testing::normal_observations();
    obs.spo2_percent = Some(89);
    let set = edit::record_observations(&mut doc, "p", &a, a.at, obs, None)
        .unwrap()
        .value;
    assert_eq!(set.news2.scale, SpO2Scale::Scale2);
    assert_eq!(set.news2.total, Some(0));
}

#[test]
fn a_target_above_92_stays_on_scale_1() {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    admit(
        &mut doc,
        "p",
        &a,
        testing::ward_admission(Some(ReadingRange { low: 94, high: 98 })),
    )
    .unwrap();
    assert_eq!(read::spo2_scale(&doc).unwrap(), SpO2Scale::Scale1);
}

#[test]
fn bad_admissions_write_nothing_and_a_second_admission_is_refused() {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    let mut zero = testing::ward_admission(None);
    zero.expected_length_of_stay_days = 0;
    let mut inverted = testing::ward_admission(None);
    inverted.parameters.pulse = Some(ReadingRange { low: 110, high: 60 });
    let mut nobody = testing::ward_admission(None);
    nobody.responsible_clinician = "  ".into();
    let mut future = testing::ward_admission(None);
    future.admitted_on = ward_day(Utc::now()) + Duration::days(3);
    for bad in [zero, inverted, nobody, future] {
        let err = admit(&mut doc, "p", &a, bad).unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{err}");
        doc.rollback();
    }
    assert!(doc.is_empty());
    admit(&mut doc, "p", &a, testing::ward_admission(None)).unwrap();
    let again = admit(&mut doc, "p", &a, testing::ward_admission(None)).unwrap_err();
    assert!(
        again.to_string().contains("on the virtual ward already"),
        "{again}"
    );
}

#[test]
fn discharge_records_the_destination_once() {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    let e = admit(&mut doc, "p", &a, testing::ward_admission(None))
        .unwrap()
        .value;
    let today = ward_day(a.at);
    let d = discharge(
        &mut doc,
        "p",
        &a,
        &e.id,
        today,
        DischargeDestination::UsualCare,
        "Stable on air, self-managing",
    )
    .unwrap();
    assert_eq!(d.value.destination, Some(DischargeDestination::UsualCare));
    assert!(d.summary.contains("home under usual care"), "{}", d.summary);
    check(&mut doc, &a, layout::LAYOUT_VERSION).unwrap();
    let c = read::clinical("p", &doc).unwrap();
    assert_eq!(
        stay_on(&c, today).map(|e| e.id.as_str()),
        Some(e.id.as_str())
    );
    assert!(stay_on(&c, today + Duration::days(1)).is_none());
    let twice = discharge(
        &mut doc,
        "p",
        &a,
        &e.id,
        today,
        DischargeDestination::Hospital,
        "x",
    )
    .unwrap_err();
    assert!(twice.to_string().contains("discharged"), "{twice}");
    // A district-nursing episode is not discharged from the ward.
    let dn = edit::add_episode(
        &mut doc,
        &a,
        EpisodeInput {
            service: Service::DistrictNursing,
            referral_source: "GP".into(),
            referral_reason: "Leg ulcer".into(),
            accepted_on: today,
        },
    )
    .unwrap()
    .value;
    let wrong = discharge(
        &mut doc,
        "p",
        &a,
        &dn.id,
        today,
        DischargeDestination::Died,
        "x",
    )
    .unwrap_err();
    assert!(
        wrong.to_string().contains("not a virtual-ward episode"),
        "{wrong}"
    );
    assert!(matches!(
        discharge(
            &mut doc,
            "p",
            &a,
            "nope",
            today,
            DischargeDestination::Died,
            "x"
        ),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn the_validator_refuses_admissions_in_layout_1_or_on_district_nursing() {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    admit(&mut doc, "p", &a, testing::ward_admission(None)).unwrap();
    let refused = check(&mut doc, &a, 1).unwrap_err();
    assert_eq!(refused.code(), "structure", "{refused}");
    // A forged episode: district nursing with a ward admission, or an impossible range.
    let mut forged = AutoCommit::new();
    let admission = WardAdmission {
        route: AdmissionRoute::StepUpGp,
        expected_length_of_stay_days: 7,
        responsible_clinician: "Dr B".into(),
        parameters: PersonalParameters::default(),
    };
    let mut e = edit::add_episode_with(
        &mut AutoCommit::new(),
        &a,
        EpisodeInput {
            service: Service::DistrictNursing,
            referral_source: "GP".into(),
            referral_reason: "x".into(),
            accepted_on: ward_day(a.at),
        },
        None,
    )
    .unwrap()
    .value;
    e.admission = Some(admission.clone());
    layout::put_json(&mut forged, &layout::key(EPISODE, &e.id), &e).unwrap();
    let r = check(&mut forged, &a, layout::LAYOUT_VERSION).unwrap_err();
    assert!(r.to_string().contains("virtual-ward episode"), "{r}");
    let mut impossible = AutoCommit::new();
    e.service = Service::VirtualWard(VirtualWardPathway::Frailty);
    e.admission = Some(WardAdmission {
        parameters: PersonalParameters {
            pulse: Some(ReadingRange { low: 5, high: 300 }),
            ..Default::default()
        },
        ..admission
    });
    layout::put_json(&mut impossible, &layout::key(EPISODE, &e.id), &e).unwrap();
    let r = check(&mut impossible, &a, layout::LAYOUT_VERSION).unwrap_err();
    assert_eq!(r.code(), "invalid_content", "{r}");
}

#[test]
fn trends_give_each_measure_over_time_with_gaps_never_zero() {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    admit(&mut doc, "p", &a, testing::ward_admission(None)).unwrap();
    let at = |h: i64| a.at - Duration::hours(h);
    let mut first = testing::normal_observations();
    first.pulse = Some(80);
    edit::record_observations(&mut doc, "p", &a, at(3), first, None).unwrap();
    let partial = Observations {
        pulse: Some(95),
        spo2_percent: Some(93),
        ..Default::default()
    };
    let gap = edit::record_observations(&mut doc, "p", &a, at(2), partial, None)
        .unwrap()
        .value;
    let mut worse = testing::normal_observations();
    worse.pulse = Some(112);
    worse.respiration_rate = Some(23);
    let last = edit::record_observations(&mut doc, "p", &a, at(1), worse.clone(), None)
        .unwrap()
        .value;
    let wrong = edit::record_observations(&mut doc, "p", &a, at(0), worse, None)
        .unwrap()
        .value;
    edit::mark_entered_in_error(
        &mut doc,
        "p",
        Compartment::Clinical,
        &a,
        &wrong.id,
        "wrong person",
    )
    .unwrap();
    let c = read::clinical("p", &doc).unwrap();
    let t = trends("p", &c, None, None);
    assert_eq!(t.series.len(), TrendMeasure::ALL.len());
    let news2 = &t.series[0];
    assert_eq!(news2.measure, TrendMeasure::News2);
    let values: Vec<f64> = news2.points.iter().map(|p| p.value).collect();
    assert_eq!(values, vec![0.0, 4.0]);
    assert_eq!(news2.points[1].risk, Some(ClinicalRisk::Low));
    assert_eq!(news2.gaps, vec![gap.id.clone()]);
    let pulse = t
        .series
        .iter()
        .find(|s| s.measure == TrendMeasure::Pulse)
        .unwrap();
    let values: Vec<(f64, Option<u8>)> = pulse
        .points
        .iter()
        .map(|p| (p.value, p.sub_score))
        .collect();
    assert_eq!(
        values,
        vec![(80.0, Some(0)), (95.0, Some(1)), (112.0, Some(2))]
    );
    assert_eq!(pulse.unit, "/min");
    assert_eq!(pulse.points[2].observations_id, last.id);
    let temp = t
        .series
        .iter()
        .find(|s| s.measure == TrendMeasure::Temperature)
        .unwrap();
    assert_eq!(temp.gaps, vec![gap.id]);
    // A period: only the last two hours.
    let recent = trends("p", &c, Some(at(2)), None);
    assert_eq!(recent.series[0].points.len(), 1);
    assert!(!recent.mixed_spo2_scales);
}

#[test]
fn length_of_stay_counts_london_days() {
    let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    assert_eq!(length_of_stay(d(11, 28), d(12, 1)), 3);
    assert_eq!(length_of_stay(d(12, 1), d(12, 1)), 0);
    assert_eq!(length_of_stay(d(12, 2), d(12, 1)), 0);
}
