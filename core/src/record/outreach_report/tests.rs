//! Hand-computed totals for the outreach report (docs/outreach.md has the same example).

use automerge::AutoCommit;

use super::*;
use crate::record::edit::{add_advice_action, add_advice_need, record_advice_outcome};
use crate::record::outreach::{FinancialEffectInput, Period};
use crate::record::outreach_edit::record_outcome;
use crate::record::{read, Role};

fn by(user: &str, name: &str, at: &str) -> Author {
    Author {
        user_id: user.into(),
        display_name: name.into(),
        role: Role::AdviceWorker,
        device_id: format!("dev-{user}"),
        at: at.parse().unwrap(),
    }
}

fn sam(at: &str) -> Author {
    by("w1", "Sam Adviser", at)
}

fn alex(at: &str) -> Author {
    by("w2", "Alex Caseworker", at)
}

fn effect(kind: FinancialEffectKind, pence: i64, period: Option<Period>) -> FinancialEffectInput {
    FinancialEffectInput {
        kind,
        amount_pence: pence,
        recurring: period.is_some(),
        period,
    }
}

fn client(person: &str, team: &str, doc: &AutoCommit) -> OutreachClient {
    OutreachClient {
        person_id: person.into(),
        name: None,
        team: team.into(),
        advice: read::advice(doc).unwrap(),
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// P1 and P2 on team t1, P3 on t2; November 2026 (GMT throughout).
fn november() -> Vec<OutreachClient> {
    use FinancialEffectKind::*;
    let mut p1 = AutoCommit::new();
    let n1 = add_advice_need(
        &mut p1,
        &sam("2026-10-20T10:00:00Z"),
        AdviceCategory::Debt,
        "Arrears",
    )
    .unwrap()
    .value;
    let e = effect(DebtWrittenOff, 120_000, None);
    record_outcome(
        &mut p1,
        &sam("2026-11-01T00:30:00Z"),
        &n1.id,
        "Written off",
        &e,
    )
    .unwrap();
    let n2 = add_advice_need(
        &mut p1,
        &sam("2026-11-05T10:00:00Z"),
        AdviceCategory::UniversalCredit,
        "UC claim",
    )
    .unwrap()
    .value;
    let e = effect(IncomeGained, 40_000, Some(Period::Monthly));
    record_outcome(
        &mut p1,
        &sam("2026-11-10T10:00:00Z"),
        &n2.id,
        "UC awarded",
        &e,
    )
    .unwrap();
    let e = effect(CostsAvoided, 500, Some(Period::Weekly));
    record_outcome(
        &mut p1,
        &sam("2026-11-12T10:00:00Z"),
        &n2.id,
        "Social tariff",
        &e,
    )
    .unwrap();

    let mut p2 = AutoCommit::new();
    let n3 = add_advice_need(
        &mut p2,
        &alex("2026-11-30T23:30:00Z"),
        AdviceCategory::BenefitsAndTaxCredits,
        "PIP",
    )
    .unwrap()
    .value;
    record_advice_outcome(
        &mut p2,
        &alex("2026-12-01T00:10:00Z"),
        &n3.id,
        "Arrears",
        25_000,
    )
    .unwrap();
    add_advice_action(&mut p2, &alex("2026-11-15T10:00:00Z"), &n3.id, "Called DWP").unwrap();
    let e = effect(GrantOrOneOff, 10_000, None);
    record_outcome(
        &mut p2,
        &alex("2026-11-20T10:00:00Z"),
        &n3.id,
        "Hardship grant",
        &e,
    )
    .unwrap();

    let mut p3 = AutoCommit::new();
    let n4 = add_advice_need(
        &mut p3,
        &sam("2026-10-31T23:59:00Z"),
        AdviceCategory::Housing,
        "Damp",
    )
    .unwrap()
    .value;
    record_advice_outcome(
        &mut p3,
        &sam("2026-12-01T09:00:00Z"),
        &n4.id,
        "Repaired",
        9_999,
    )
    .unwrap();
    vec![
        client("p1", "t1", &p1),
        client("p2", "t1", &p2),
        client("p3", "t2", &p3),
    ]
}

#[test]
fn the_total_annualises_income_and_leaves_costs_avoided_apart() {
    let r = outreach_report(&november(), day("2026-11-01"), day("2026-11-30")).unwrap();
    let t = r.total().unwrap();
    assert_eq!(t.clients_seen, 2, "p3's entries are all outside November");
    assert_eq!(t.needs_recorded, 2);
    assert_eq!(t.needs_per_client, 1.0);
    assert_eq!(t.outcomes, 4);
    assert_eq!(t.income_gained_annual_pence, 480_000, "£400 a month × 12");
    assert_eq!(t.debt_written_off_pence, 120_000);
    assert_eq!(t.one_off_gains_pence, 10_000);
    assert_eq!(t.total_gain_pence, 610_000);
    assert_eq!(
        t.costs_avoided_pence, 26_000,
        "£5 a week × 52, not in the total"
    );
    assert_eq!(r.category_list_version, CATEGORY_LIST_VERSION);
}

#[test]
fn rows_per_worker_team_category_month_and_client() {
    let r = outreach_report(&november(), day("2026-11-01"), day("2026-11-30")).unwrap();
    let sam = r.row(ReportGrouping::CaseWorker, "w1").unwrap();
    assert_eq!((sam.label.as_str(), sam.clients_seen), ("Sam Adviser", 1));
    assert_eq!(
        (sam.needs_recorded, sam.outcomes, sam.total_gain_pence),
        (1, 3, 600_000)
    );
    let alex = r.row(ReportGrouping::CaseWorker, "w2").unwrap();
    assert_eq!(
        (alex.needs_recorded, alex.outcomes, alex.total_gain_pence),
        (1, 1, 10_000)
    );
    assert_eq!(
        r.row(ReportGrouping::Team, "t1").unwrap().total_gain_pence,
        610_000
    );
    assert!(r.row(ReportGrouping::Team, "t2").is_none());
    let uc = r.row(ReportGrouping::Category, "universal_credit").unwrap();
    assert_eq!(
        (uc.total_gain_pence, uc.costs_avoided_pence),
        (480_000, 26_000)
    );
    let debt = r.row(ReportGrouping::Category, "debt").unwrap();
    assert_eq!(
        (
            debt.needs_recorded,
            debt.clients_seen,
            debt.total_gain_pence
        ),
        (0, 1, 120_000)
    );
    let benefits = r.row(ReportGrouping::Category, "benefits").unwrap();
    assert_eq!(benefits.label, "Benefits and tax credits");
    assert_eq!(benefits.one_off_gains_pence, 10_000);
    assert_eq!(
        r.row(ReportGrouping::Month, "2026-11")
            .unwrap()
            .total_gain_pence,
        610_000
    );
    let p2 = r.row(ReportGrouping::Client, "p2").unwrap();
    assert_eq!((p2.needs_recorded, p2.outcomes), (1, 1));
}

#[test]
fn date_boundaries_are_london_days_inclusive() {
    let clients = november();
    // December 1st alone: p2's untyped gain (00:10 on the 1st) and p3's outcome.
    let r = outreach_report(&clients, day("2026-12-01"), day("2026-12-01")).unwrap();
    let t = r.total().unwrap();
    assert_eq!((t.clients_seen, t.outcomes), (2, 2));
    assert_eq!(
        t.one_off_gains_pence,
        25_000 + 9_999,
        "untyped gains are one-off income"
    );
    assert_eq!(t.needs_recorded, 0);
    // 30 September 23:30 UTC is 1 October 00:30 in London (summer time).
    let mut doc = AutoCommit::new();
    let a = sam("2026-09-30T23:30:00Z");
    add_advice_need(&mut doc, &a, AdviceCategory::Tax, "Tax code").unwrap();
    let one = [client("p9", "t1", &doc)];
    let oct = outreach_report(&one, day("2026-10-01"), day("2026-10-31")).unwrap();
    assert_eq!(oct.total().unwrap().needs_recorded, 1);
    let sep = outreach_report(&one, day("2026-09-01"), day("2026-09-30")).unwrap();
    assert!(sep.total().is_none(), "nothing was recorded in September");
}

#[test]
fn an_outcome_merged_from_two_phones_counts_once() {
    let mut phone_a = AutoCommit::new();
    let need = add_advice_need(
        &mut phone_a,
        &sam("2026-11-02T09:00:00Z"),
        AdviceCategory::Debt,
        "Arrears",
    )
    .unwrap()
    .value;
    record_advice_outcome(
        &mut phone_a,
        &sam("2026-11-02T10:00:00Z"),
        &need.id,
        "Grant",
        5_000,
    )
    .unwrap();
    let mut phone_b = phone_a.fork();
    record_advice_outcome(
        &mut phone_b,
        &alex("2026-11-03T10:00:00Z"),
        &need.id,
        "More",
        7_000,
    )
    .unwrap();
    phone_a.merge(&mut phone_b).unwrap();
    phone_b.merge(&mut phone_a).unwrap();
    let clients = [client("p5", "t1", &phone_a), client("p5", "t1", &phone_b)];
    let r = outreach_report(&clients, day("2026-11-01"), day("2026-11-30")).unwrap();
    let t = r.total().unwrap();
    assert_eq!((t.clients_seen, t.needs_recorded, t.outcomes), (1, 1, 2));
    assert_eq!(t.one_off_gains_pence, 12_000);
}

#[test]
fn entries_entered_in_error_are_left_out() {
    let mut doc = AutoCommit::new();
    let a = sam("2026-11-02T09:00:00Z");
    let need = add_advice_need(&mut doc, &a, AdviceCategory::Debt, "Arrears")
        .unwrap()
        .value;
    let o = record_advice_outcome(&mut doc, &a, &need.id, "Typo", 99_000)
        .unwrap()
        .value;
    crate::record::edit::mark_entered_in_error(
        &mut doc,
        "p6",
        crate::record::Compartment::Advice,
        &a,
        &o.id,
        "wrong person",
    )
    .unwrap();
    let r = outreach_report(
        &[client("p6", "t1", &doc)],
        day("2026-11-01"),
        day("2026-11-30"),
    )
    .unwrap();
    assert_eq!(r.total().unwrap().outcomes, 0);
    assert_eq!(r.total().unwrap().total_gain_pence, 0);
}

#[test]
fn a_period_that_ends_before_it_starts_is_refused() {
    let e = outreach_report(&[], day("2026-11-30"), day("2026-11-01")).unwrap_err();
    assert!(e.to_string().contains("swap the dates"));
}

#[test]
fn an_attended_appointment_counts_the_client_as_seen_and_a_missed_one_does_not() {
    use crate::record::appointments::{
        book_appointment, record_attendance, AppointmentInput, AppointmentVenue, Attendance,
        VenueKind,
    };
    let booking = |at: &str| AppointmentInput {
        starts_at: at.parse().unwrap(),
        minutes: 30,
        venue: AppointmentVenue {
            kind: VenueKind::Home,
            name: None,
        },
        case_worker: None,
        follows: None,
        need_ids: vec![],
        note: None,
    };
    let mut seen = AutoCommit::new();
    let a = book_appointment(
        &mut seen,
        &sam("2026-10-01T09:00:00Z"),
        booking("2026-11-10T10:00:00Z"),
    )
    .unwrap()
    .value;
    record_attendance(
        &mut seen,
        &sam("2026-11-10T10:40:00Z"),
        &a.id,
        Attendance::Attended,
        None,
    )
    .unwrap();
    let mut missed = AutoCommit::new();
    let b = book_appointment(
        &mut missed,
        &sam("2026-10-01T09:00:00Z"),
        booking("2026-11-11T10:00:00Z"),
    )
    .unwrap()
    .value;
    record_attendance(
        &mut missed,
        &sam("2026-11-11T10:40:00Z"),
        &b.id,
        Attendance::DidNotAttend,
        None,
    )
    .unwrap();
    let clients = [client("p1", "t1", &seen), client("p2", "t1", &missed)];
    let r = outreach_report(&clients, day("2026-11-01"), day("2026-11-30")).unwrap();
    let t = r.total().unwrap();
    assert_eq!((t.clients_seen, t.needs_recorded, t.outcomes), (1, 0, 0));
    assert!(r.row(ReportGrouping::Client, "p1").is_some());
    assert!(r.row(ReportGrouping::Client, "p2").is_none());
}
