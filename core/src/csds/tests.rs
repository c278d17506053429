use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::*;
use crate::record::{
    edit, read, Author, Compartment, ContactType, EpisodeInput, EthnicCategory, Intervention,
    PlannedVisitInput, Role, Service, StatedGender, VisitInput, VisitOutcome,
};
use automerge::AutoCommit;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn nurse(user: &str, at: DateTime<Utc>) -> Author {
    Author {
        user_id: user.into(),
        display_name: format!("Nurse {user}"),
        role: Role::DistrictNurse,
        device_id: format!("{user}-phone"),
        at,
    }
}

fn visit(
    at: DateTime<Utc>,
    minutes: i64,
    contact: ContactType,
    outcome: VisitOutcome,
) -> VisitInput {
    VisitInput {
        planned_visit_id: None,
        contact_type: contact,
        started_at: at,
        ended_at: Some(at + Duration::minutes(minutes)),
        outcome,
        interventions: vec![],
        note: None,
        observations: None,
        scheduled_visit: None,
        outcome_reason: match outcome {
            VisitOutcome::NoAccess => Some("no answer at the door".into()),
            VisitOutcome::Declined => Some("did not want the dressing changed".into()),
            _ => None,
        },
        interventions_done: vec![],
    }
}

fn team() -> CsdsTeam {
    CsdsTeam {
        team_id: "hyde".into(),
        ods_code: Some("RX101".into()),
        service_type: Some("05".into()),
        staff: ["amy".to_string(), "ben".to_string()].into(),
    }
}

fn person(id: &str, doc: &AutoCommit, demographics: Option<Demographics>) -> CsdsPerson {
    CsdsPerson {
        person_id: id.into(),
        demographics,
        clinical: read::clinical(id, doc).unwrap(),
    }
}

fn november() -> ReportMonth {
    "2026-11".parse().unwrap()
}

/// One person's November: an episode, five contacts by the team, one by another team's nurse,
/// one entered in error, one in October and a booked visit the service cancelled.
fn mrs_adams() -> CsdsPerson {
    let id = "p-adams";
    let mut doc = AutoCommit::new();
    let amy = |at| nurse("amy", at);
    let e = edit::add_episode(
        &mut doc,
        &amy(utc(2026, 10, 1, 9, 0)),
        EpisodeInput {
            service: Service::DistrictNursing,
            referral_source: "GP, Hyde Surgery".into(),
            referral_reason: "leg ulcer, weekly dressing".into(),
            accepted_on: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        },
    )
    .unwrap()
    .value;
    let mut record = |author: Author, v: VisitInput| {
        edit::record_visit(&mut doc, id, &author, v)
            .unwrap()
            .value
            .visit
            .id
    };
    let mut home = visit(
        utc(2026, 11, 2, 10, 0),
        40,
        ContactType::HomeVisit,
        VisitOutcome::Completed,
    );
    home.interventions = vec![
        Intervention::WoundCare,
        Intervention::Other("Doppler, left leg".into()),
    ];
    home.observations = Some(crate::testing::normal_observations());
    let home_id = record(amy(utc(2026, 11, 2, 11, 0)), home);
    record(
        amy(utc(2026, 11, 9, 11, 0)),
        visit(
            utc(2026, 11, 9, 10, 0),
            0,
            ContactType::HomeVisit,
            VisitOutcome::NoAccess,
        ),
    );
    record(
        nurse("ben", utc(2026, 11, 16, 12, 0)),
        visit(
            utc(2026, 11, 16, 11, 0),
            10,
            ContactType::Telephone,
            VisitOutcome::Completed,
        ),
    );
    record(
        amy(utc(2026, 11, 23, 11, 0)),
        visit(
            utc(2026, 11, 23, 10, 0),
            20,
            ContactType::Video,
            VisitOutcome::Declined,
        ),
    );
    // 00:30 on 1 December in London is still 30 November in UTC only in summer; in winter
    // London is UTC, so this one is December's.
    record(
        amy(utc(2026, 12, 1, 1, 0)),
        visit(
            utc(2026, 12, 1, 0, 30),
            15,
            ContactType::HomeVisit,
            VisitOutcome::Completed,
        ),
    );
    record(
        amy(utc(2026, 10, 30, 11, 0)),
        visit(
            utc(2026, 10, 30, 10, 0),
            30,
            ContactType::HomeVisit,
            VisitOutcome::Completed,
        ),
    );
    record(
        nurse("zoe-ward", utc(2026, 11, 3, 11, 0)),
        visit(
            utc(2026, 11, 3, 10, 0),
            30,
            ContactType::HomeVisit,
            VisitOutcome::Completed,
        ),
    );
    let wrong = record(
        amy(utc(2026, 11, 4, 11, 0)),
        visit(
            utc(2026, 11, 4, 10, 0),
            30,
            ContactType::HomeVisit,
            VisitOutcome::Completed,
        ),
    );
    edit::mark_entered_in_error(
        &mut doc,
        id,
        Compartment::Clinical,
        &amy(utc(2026, 11, 4, 12, 0)),
        &wrong,
        "wrong person",
    )
    .unwrap();
    let booked = edit::schedule_visit(
        &mut doc,
        &amy(utc(2026, 11, 20, 9, 0)),
        PlannedVisitInput {
            planned_start: utc(2026, 11, 27, 14, 0),
            planned_end: None,
            clinician: Some("amy".into()),
            contact_type: ContactType::HomeVisit,
            purpose: Some("dressing".into()),
        },
    )
    .unwrap()
    .value;
    crate::record::day::cancel_visit(
        &mut doc,
        id,
        &amy(utc(2026, 11, 26, 9, 0)),
        &booked.id,
        "staff sickness",
    )
    .unwrap();
    let mut d = crate::testing::demographics("Ada", "Adams", Some("943 476 5919"), "sk14 1aa");
    d.stated_gender = Some(StatedGender::Female);
    d.ethnic_category = Some(EthnicCategory::WhiteIrish);
    d.gp_practice_ods = Some("p84001".into());
    let d = d
        .validated(NaiveDate::from_ymd_opt(2026, 12, 3).unwrap())
        .unwrap();
    let p = person(id, &doc, Some(d));
    assert!(p.clinical.visits.iter().any(|v| v.id == home_id));
    assert_eq!(e.id, p.clinical.episodes[0].id);
    p
}

#[test]
fn a_verified_number_is_status_01_until_it_changes_and_no_number_is_blank() {
    let mut verified = mrs_adams();
    let d = verified.demographics.as_mut().unwrap();
    d.nhs_number_verified = d.nhs_number.clone();
    let mut changed = verified.clone();
    changed.person_id = "changed".into();
    changed.demographics.as_mut().unwrap().nhs_number = Some("9912003888".into());
    let mut none = verified.clone();
    none.person_id = "none".into();
    none.demographics.as_mut().unwrap().nhs_number = None;
    let x = extract(&team(), &[verified, changed, none], november());
    let status = |id: &str| {
        x.people
            .iter()
            .find(|p| p.local_patient_id == id)
            .map(|p| p.nhs_number_status.clone())
    };
    assert_eq!(status(&mrs_adams().person_id).as_deref(), Some("01"));
    assert_eq!(status("changed").as_deref(), Some("02"));
    assert_eq!(status("none").as_deref(), Some(""));
}

#[test]
fn a_month_of_contacts_is_coded_as_the_data_dictionary_codes_them() {
    let x = extract(&team(), &[mrs_adams()], november());
    assert_eq!(x.month, "2026-11");
    let p = &x.people[0];
    assert_eq!(
        (
            p.nhs_number.as_str(),
            p.nhs_number_status.as_str(),
            p.postcode.as_str()
        ),
        ("9434765919", "02", "SK14 1AA")
    );
    assert_eq!(
        (p.stated_gender.as_str(), p.ethnic_category.as_str()),
        ("2", "B")
    );
    assert_eq!(p.gp_practice, "P84001");

    let r = &x.referrals[0];
    assert_eq!(
        (r.provider.as_str(), r.service_type.as_str()),
        ("RX101", "05")
    );
    assert_eq!(
        (r.received_date.as_str(), r.discharge_date.as_str()),
        ("2026-10-01", "")
    );
    assert_eq!(r.source_text, "GP, Hyde Surgery");

    let coded: Vec<(&str, &str, &str, &str, &str)> = x
        .contacts
        .iter()
        .map(|c| {
            (
                c.contact_date.as_str(),
                c.consultation_medium.as_str(),
                c.location_type.as_str(),
                c.attended.as_str(),
                c.duration_minutes.as_str(),
            )
        })
        .collect();
    assert_eq!(
        coded,
        [
            ("2026-11-02", "01", "A01", "5", "40"),
            ("2026-11-09", "01", "A01", "3", ""),
            ("2026-11-16", "02", "", "5", "10"),
            ("2026-11-23", "11", "", "2", ""),
            ("2026-11-27", "", "", "4", ""),
        ],
        "October's, December's, another team's and the one in error are left out"
    );
    assert!(x
        .contacts
        .iter()
        .all(|c| c.service_request_id == r.service_request_id));
    assert_eq!(x.contacts[1].outcome, "no access: no answer at the door");
    assert_eq!(
        x.contacts[4].outcome,
        "cancelled by the service: staff sickness"
    );
    assert_eq!(x.contacts[2].care_professional, "ben");
    assert_eq!(x.contacts[0].contact_time, "10:00:00");

    let acts: Vec<(&str, &str)> = x
        .activities
        .iter()
        .map(|a| (a.activity_code.as_str(), a.activity.as_str()))
        .collect();
    assert_eq!(
        acts,
        [
            ("wound_care", "wound care"),
            ("other", "Doppler, left leg"),
            ("observations", "observations (NEWS2)"),
        ],
        "the telephone contact had no interventions"
    );
    assert!(x.activities.iter().all(|a| a.procedure_snomed.is_empty()));
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
}

#[test]
fn the_month_is_londons_so_a_summer_midnight_is_the_next_month() {
    let id = "p-bell";
    let mut doc = AutoCommit::new();
    // 23:30 UTC on 31 March 2026 is 00:30 BST on 1 April.
    let at = utc(2026, 3, 31, 23, 30);
    edit::add_episode(
        &mut doc,
        &nurse("amy", at),
        EpisodeInput {
            service: Service::DistrictNursing,
            referral_source: "hospital discharge team".into(),
            referral_reason: "insulin".into(),
            accepted_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        },
    )
    .unwrap();
    edit::record_visit(
        &mut doc,
        id,
        &nurse("amy", at + Duration::hours(1)),
        visit(at, 15, ContactType::HomeVisit, VisitOutcome::Completed),
    )
    .unwrap();
    let p = person(id, &doc, None);
    let march = extract(
        &team(),
        std::slice::from_ref(&p),
        "2026-03".parse().unwrap(),
    );
    let april = extract(
        &team(),
        std::slice::from_ref(&p),
        "2026-04".parse().unwrap(),
    );
    assert!(march.contacts.is_empty());
    assert_eq!(april.contacts[0].contact_date, "2026-04-01");
    assert_eq!(april.contacts[0].contact_time, "00:30:00");
    // The episode is open in both months; a person without details still gets a row, blank.
    assert_eq!((march.referrals.len(), april.referrals.len()), (1, 1));
    assert_eq!(april.people[0].nhs_number, "");
    assert!(april.warnings.iter().any(|w| w.contains("no NHS number")));
}

#[test]
fn a_discharged_episode_leaves_the_months_after_and_a_team_without_codes_is_warned() {
    let id = "p-cole";
    let mut doc = AutoCommit::new();
    let amy = nurse("amy", utc(2026, 11, 30, 12, 0));
    let e = edit::add_episode(
        &mut doc,
        &amy,
        EpisodeInput {
            service: Service::DistrictNursing,
            referral_source: "self".into(),
            referral_reason: "catheter".into(),
            accepted_on: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        },
    )
    .unwrap()
    .value;
    let on = NaiveDate::from_ymd_opt(2026, 10, 12).unwrap();
    edit::discharge_episode(&mut doc, &amy, &e.id, on, "catheter removed").unwrap();
    let p = person(id, &doc, None);
    let october = extract(
        &team(),
        std::slice::from_ref(&p),
        "2026-10".parse().unwrap(),
    );
    assert_eq!(october.referrals[0].discharge_date, "2026-10-12");
    let september = extract(
        &team(),
        std::slice::from_ref(&p),
        "2026-09".parse().unwrap(),
    );
    assert_eq!(
        september.referrals[0].discharge_date, "",
        "not yet discharged in September"
    );
    assert!(extract(&team(), std::slice::from_ref(&p), november())
        .people
        .is_empty());

    let bare = CsdsTeam {
        ods_code: None,
        service_type: None,
        ..team()
    };
    let x = extract(&bare, &[p.clone(), p], "2026-10".parse().unwrap());
    assert_eq!(
        x.people.len(),
        1,
        "the same person given twice is one person"
    );
    assert_eq!(x.referrals[0].provider, "");
    assert!(
        x.warnings[0].contains("set-team-profile hyde"),
        "{:?}",
        x.warnings
    );
}

#[test]
fn months_that_are_not_months_are_refused_with_the_form() {
    for bad in [
        "2026-13",
        "2026-1",
        "26-11",
        "November",
        "2026-11-01",
        "1999-01",
        "",
    ] {
        let e = bad.parse::<ReportMonth>().unwrap_err().to_string();
        assert!(e.contains("YYYY-MM"), "{bad}: {e}");
    }
    let dec: ReportMonth = "2026-12".parse().unwrap();
    assert_eq!(
        dec.last_day(),
        NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
    );
    assert_eq!(dec.to_string(), "2026-12");
}

#[test]
fn the_csv_files_quote_free_text_and_defuse_formulas() {
    let mut x = extract(&team(), &[mrs_adams()], november());
    x.referrals[0].source_text = "=HYPERLINK(\"x\")".into();
    let files = csv::files(&x);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "csds-people-2026-11.csv",
            "csds-referrals-2026-11.csv",
            "csds-care-contacts-2026-11.csv",
            "csds-care-activities-2026-11.csv"
        ]
    );
    let referrals = &files[1].1;
    assert!(
        referrals.contains(",\"'=HYPERLINK(\"\"x\"\")\","),
        "{referrals}"
    );
    for (name, text) in &files {
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let header = lines.next().unwrap();
        assert!(text.ends_with("\r\n"), "{name}");
        let columns = header.split(',').count();
        for l in lines {
            // No field of the fixture holds a comma except the quoted ones, so counting commas
            // outside quotes gives the column count.
            let mut n = 1;
            let mut quoted = false;
            for c in l.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => n += 1,
                    _ => {}
                }
            }
            assert_eq!(n, columns, "{name}: {l}");
        }
    }
    assert!(files[3].1.contains("\"Doppler, left leg\""));
}
