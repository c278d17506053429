//! The demo's case-worker section (issue 14 item 4): Joe's day of outreach appointments — Harold
//! seen at home, Rose missing her appointment at the library (a follow-up for tomorrow and a
//! second attempt booked), Joe's own today list, and the outreach report's totals.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use doorstep_core::record::appointments::DNA_ATTEMPTS_BEFORE_CLOSING;
use doorstep_core::record::schedule::local_date;
use doorstep_core::record::*;
use doorstep_core::store::{DayQuery, DayScope};

use super::{err, Phone, R};

pub(super) fn run(joe: &Phone, harold: &str) -> R<()> {
    let now = Utc::now();
    let rose = joe
        .store
        .register_patient(Demographics {
            nhs_number: None,
            given_name: "Rose".into(),
            family_name: "Kaur".into(),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1952, 8, 14),
            address: Some(Address {
                lines: vec!["Flat 9, Calder Court".into(), "Hyde".into()],
                postcode: "SK14 1RE".into(),
            }),
            phone: Some("0161 496 0731".into()),
            ..Default::default()
        })
        .map_err(err("register Rose"))?;
    let debt = joe
        .store
        .add_advice_need(
            &rose,
            AdviceCategory::Debt,
            "Rent arrears after a benefit sanction",
        )
        .map_err(err("advice need"))?;
    println!("  Joe registers Rose Kaur (no NHS number: an advice client found by name, date of birth, postcode or phone).");
    let home = AppointmentVenue {
        kind: VenueKind::Home,
        name: None,
    };
    let library = AppointmentVenue {
        kind: VenueKind::Library,
        name: Some("Hyde Library".into()),
    };
    let book =
        |person: &str, minutes_ago: i64, venue: &AppointmentVenue, follows: Option<String>| {
            joe.store.book_outreach_appointment(
                person,
                AppointmentInput {
                    starts_at: now - Duration::minutes(minutes_ago),
                    minutes: 40,
                    venue: venue.clone(),
                    case_worker: None,
                    follows,
                    need_ids: vec![],
                    note: None,
                },
            )
        };
    let seen = book(harold, 150, &home, None).map_err(err("book Harold"))?;
    let missed = book(&rose, 90, &library, None).map_err(err("book Rose"))?;
    joe.store
        .record_appointment_attendance(harold, &seen.id, Attendance::Attended, None)
        .map_err(err("attendance"))?;
    let dna = joe
        .store
        .record_appointment_attendance(&rose, &missed.id, Attendance::DidNotAttend, None)
        .map_err(err("did not attend"))?;
    println!(
        "  Harold is seen at home (attended); Rose does not come to Hyde Library (did not attend)."
    );
    if let Some(t) = &dna.follow_up {
        println!(
            "    Follow-up for {}, due {}: {}",
            t.assignee.describe(),
            t.due,
            t.description
        );
    }
    let again = joe
        .store
        .book_outreach_appointment(
            &rose,
            AppointmentInput {
                starts_at: now + Duration::days(7),
                minutes: 40,
                venue: library.clone(),
                case_worker: None,
                follows: Some(missed.id.clone()),
                need_ids: vec![debt.id.clone()],
                note: Some("Rose asked for a morning slot".into()),
            },
        )
        .map_err(err("second attempt"))?;
    println!(
        "    Joe books attempt {} of {DNA_ATTEMPTS_BEFORE_CLOSING} for {} (a third miss closes the case with the dates as the reason).",
        again.attempt,
        local_date(again.starts_at)
    );
    let days: BTreeSet<_> = [seen.starts_at, missed.starts_at]
        .iter()
        .map(|t| local_date(*t))
        .collect();
    for day in days {
        let list = joe
            .store
            .advice_today_list(DayQuery {
                day,
                scope: DayScope::Mine,
                base_postcode: None,
            })
            .map_err(err("Joe's list"))?;
        println!(
            "  Joe's list for {day} ({} done, {} open):",
            list.done, list.open
        );
        for v in &list.visits {
            let venue = v.venue.as_ref().map(|x| x.describe()).unwrap_or_default();
            println!(
                "    {}  {:<16} {:<28} {}",
                v.window,
                v.display_name,
                venue,
                v.status.label()
            );
        }
    }
    let tomorrow = local_date(now) + Duration::days(1);
    let follow_ups = joe
        .store
        .advice_follow_ups(tomorrow, DayScope::Mine, false)
        .map_err(err("follow-ups"))?;
    println!("  Follow-ups due by {tomorrow}: {}", follow_ups.len());
    Ok(())
}

/// A referral from the virtual ward to a Citizens Advice team (issue 14 item 5): Priya refers
/// Walter; Aisha's phone, on the other team, holds his demographics and the referral only until
/// she accepts; then he is on both caseloads, and Priya sees the answer.
pub(super) fn referral(
    rt: &tokio::runtime::Runtime,
    priya: &Phone,
    walter: &str,
    server_dir: &std::path::Path,
    phones_dir: &std::path::Path,
    url: &str,
) -> R<()> {
    let storage = doorstep_server::Storage::Sqlite(
        doorstep_server::storage::sqlite::SqliteStorage::open(server_dir)
            .map_err(err("open the server database"))?,
    );
    let team = "ca-tameside";
    doorstep_server::admin::create_team(
        &storage,
        team,
        "Citizens Advice Tameside, hospital to home",
    )
    .map_err(err("create team"))?;
    doorstep_server::admin::create_user(
        &storage,
        "aisha.khan",
        "Aisha Khan",
        Role::AdviceWorker,
        team,
    )
    .map_err(err("create user"))?;
    let code =
        doorstep_server::admin::issue_code(&storage, "aisha.khan").map_err(err("issue code"))?;
    let aisha = super::enrol(rt, url, &code, phones_dir, "Aisha", None)?;
    println!("  The operator creates team \"{team}\" with Aisha Khan (advice worker), whose phone enrols.");
    let r = priya
        .store
        .refer_person(
            walter,
            ReferralInput {
                to_team: team.into(),
                reason: "Worried about heating the house on a pension; not claiming Attendance Allowance".into(),
                urgency: ReferralUrgency::Urgent,
                shares: vec![Compartment::Advice],
            },
        )
        .map_err(err("refer"))?;
    super::sync_phone(rt, priya)?;
    println!("  Priya refers Walter to {team} (urgent, sharing the advice record) and syncs.");
    super::sync_phone(rt, &aisha)?;
    let incoming = aisha.store.referrals(true).map_err(err("referrals"))?;
    let held = aisha.store.patient(walter).map_err(err("patient"))?;
    println!(
        "  Aisha's phone: {} referral waiting ({}), caseload {} people; of Walter it holds the demographics{}.",
        incoming.len(),
        incoming
            .first()
            .map(|v| v.referral.reason.clone())
            .unwrap_or_default(),
        aisha.store.caseload().map_err(err("caseload"))?.len(),
        if held.clinical.is_none() && held.advice.is_none() {
            " only"
        } else {
            " and more"
        }
    );
    aisha
        .store
        .answer_referral(walter, &r.id, ReferralDecision::Accepted, None)
        .map_err(err("accept"))?;
    super::sync_phone(rt, &aisha)?;
    aisha
        .store
        .add_advice_need(
            walter,
            AdviceCategory::UtilitiesAndCommunications,
            "Fuel costs on a pension",
        )
        .map_err(err("advice need"))?;
    super::sync_phone(rt, &aisha)?;
    super::sync_phone(rt, priya)?;
    let out = priya.store.referrals(false).map_err(err("referrals"))?;
    let answered = out.iter().find(|v| v.referral.id == r.id);
    println!(
        "  Aisha accepts and records an advice need; Walter is on both caseloads. Priya's phone shows the referral {}{}.",
        match answered.map(|v| v.status) {
            Some(ReferralStatus::Accepted) => "accepted",
            Some(ReferralStatus::Declined) => "declined",
            _ => "still waiting",
        },
        answered
            .and_then(|v| v.answer.as_ref())
            .map(|a| format!(" by {}", a.author.display_name))
            .unwrap_or_default()
    );
    Ok(())
}
