//! The server's checks of advice entries of layout 4 (issue 14).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ROOT};

use super::*;
use crate::record::layout::LAYOUT_OUTREACH;
use crate::record::outreach::{
    FinancialEffect, FinancialEffectKind, NeedStatus, NeedStatusChange, Period,
    ReferralDestination, ReferralOut,
};

fn author() -> Author {
    Author {
        user_id: "u".into(),
        display_name: "Sam".into(),
        role: Role::AdviceWorker,
        device_id: "d".into(),
        at: chrono::Utc::now(),
    }
}

fn check_json(layout_version: u32, key: &str, json: String) -> Result<Checked, Refusal> {
    let mut stamp = AuditStamp::new(&author(), "test");
    stamp.layout = layout_version;
    let mut doc = AutoCommit::new();
    doc.put(ROOT, key, json).unwrap();
    let hash = doc
        .commit_with(CommitOptions::default().with_message(serde_json::to_string(&stamp).unwrap()))
        .unwrap();
    let bytes = doc.get_change_by_hash(&hash).unwrap().raw_bytes().to_vec();
    check_change(Compartment::Advice, &parse_change(&bytes).unwrap())
}

fn outcome(effect: Option<FinancialEffect>, gain: i64) -> AdviceOutcome {
    AdviceOutcome {
        id: "o1".into(),
        need_id: "n1".into(),
        description: "UC awarded".into(),
        financial_gain_pence: gain,
        author: author(),
        effect,
    }
}

fn check_outcome(layout_version: u32, o: &AdviceOutcome) -> Result<Checked, Refusal> {
    check_json(
        layout_version,
        "outcome:o1",
        serde_json::to_string(o).unwrap(),
    )
}

#[test]
fn a_typed_outcome_is_accepted_with_the_gain_its_effect_gives() {
    let monthly = FinancialEffect {
        kind: FinancialEffectKind::IncomeGained,
        amount_pence: 40_000,
        period: Some(Period::Monthly),
    };
    check_outcome(LAYOUT_OUTREACH, &outcome(Some(monthly.clone()), 480_000)).unwrap();
    let e = check_outcome(LAYOUT_OUTREACH, &outcome(Some(monthly.clone()), 40_000)).unwrap_err();
    assert_eq!(e.code(), "invalid_content");
    assert!(e.to_string().contains("worked it out wrongly"), "{e}");
    let e = check_outcome(LAYOUT_OUTREACH - 1, &outcome(Some(monthly), 480_000)).unwrap_err();
    assert!(e.to_string().contains("added in layout 4"), "{e}");
    // The first release's untyped outcome still passes.
    check_outcome(1, &outcome(None, 25_000)).unwrap();
}

#[test]
fn negative_absurd_and_one_off_only_amounts_are_refused() {
    let e = check_outcome(1, &outcome(None, -1)).unwrap_err();
    assert!(e.to_string().contains("cannot be negative"), "{e}");
    let e = check_outcome(1, &outcome(None, 100_000_001)).unwrap_err();
    assert!(e.to_string().contains("£1,000,000"), "{e}");
    let recurring_grant = FinancialEffect {
        kind: FinancialEffectKind::GrantOrOneOff,
        amount_pence: 100,
        period: Some(Period::Weekly),
    };
    let e = check_outcome(LAYOUT_OUTREACH, &outcome(Some(recurring_grant), 5_200)).unwrap_err();
    assert!(e.to_string().contains("one-off"), "{e}");
}

#[test]
fn unknown_categories_and_outcome_types_are_refused_and_new_categories_need_layout_3() {
    let need = |cat: &str| {
        format!(
            r#"{{"id":"n1","category":"{cat}","description":"x","author":{}}}"#,
            serde_json::to_string(&author()).unwrap()
        )
    };
    check_json(1, "need:n1", need("energy")).unwrap();
    check_json(LAYOUT_OUTREACH, "need:n1", need("universal_credit")).unwrap();
    let e = check_json(LAYOUT_OUTREACH - 1, "need:n1", need("universal_credit")).unwrap_err();
    assert!(e.to_string().contains("added in layout 4"), "{e}");
    let e = check_json(LAYOUT_OUTREACH, "need:n1", need("parking")).unwrap_err();
    assert_eq!(e.code(), "invalid_content");
    let mut o = serde_json::to_value(outcome(Some(FinancialEffect::legacy(100)), 100)).unwrap();
    o["effect"]["kind"] = "lottery_win".into();
    let e = check_json(LAYOUT_OUTREACH, "outcome:o1", o.to_string()).unwrap_err();
    assert_eq!(e.code(), "invalid_content");
}

#[test]
fn statuses_and_referrals_are_entries_of_layout_3_never_overwritten() {
    let status = NeedStatusChange {
        id: "s1".into(),
        need_id: "n1".into(),
        status: NeedStatus::Referred,
        note: None,
        author: author(),
    };
    let json = serde_json::to_string(&status).unwrap();
    check_json(LAYOUT_OUTREACH, "need_status:s1", json.clone()).unwrap();
    assert!(check_json(LAYOUT_OUTREACH - 1, "need_status:s1", json.clone()).is_err());
    assert_eq!(
        check_json(LAYOUT_OUTREACH, "need_status:s2", json)
            .unwrap_err()
            .code(),
        "invalid_content"
    );
    let referral = ReferralOut {
        id: "r1".into(),
        need_id: "n1".into(),
        destination: ReferralDestination::FoodBank,
        organisation: "Trussell".into(),
        reason: "No food until payday".into(),
        author: author(),
    };
    check_json(
        LAYOUT_OUTREACH,
        "referral_out:r1",
        serde_json::to_string(&referral).unwrap(),
    )
    .unwrap();
    let long = ReferralOut {
        organisation: "x".repeat(MAX_SHORT + 1),
        ..referral
    };
    assert!(check_json(
        LAYOUT_OUTREACH,
        "referral_out:r1",
        serde_json::to_string(&long).unwrap()
    )
    .is_err());
    assert!(is_immutable_entry(Compartment::Advice, "referral_out:r1"));
    assert!(is_immutable_entry(Compartment::Advice, "need_status:s1"));
}
