//! Referrals on real encrypted stores: the referrer's list, the receiving phone that holds the
//! person only through the referral (not on its caseload, nothing but the answer written), and
//! the rows equal to a rebuild.

use crate::record::*;
use crate::store::{FieldStore, StoreConfig};
use crate::testing::{self, demographics, exchange};

fn on_team(dir: &std::path::Path, device: &str, role: Role, team: &str) -> FieldStore {
    let mut user = testing::user(&format!("user-{device}"), role);
    user.team = team.into();
    FieldStore::open(StoreConfig::new(
        dir.join(format!("{device}.db")),
        &testing::TEST_KEY,
        device,
        user,
    ))
    .unwrap()
}

#[test]
fn a_referred_person_is_listed_not_on_the_caseload_and_only_the_answer_may_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let vw = on_team(dir.path(), "vw", Role::VirtualWardClinician, "vw-calder");
    let ca = on_team(dir.path(), "ca", Role::AdviceWorker, "ca-hyde");
    let p = vw
        .register_patient(demographics("Walter", "Ackroyd", None, "HX7 8DE"))
        .unwrap();
    let r = vw
        .refer_person(
            &p,
            ReferralInput {
                to_team: "ca-hyde".into(),
                reason: "Worried about heating bills".into(),
                urgency: ReferralUrgency::Routine,
                shares: vec![Compartment::Advice],
            },
        )
        .unwrap();
    let out = vw.referrals(false).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, ReferralStatus::Pending);
    assert!(vw.referrals(true).unwrap().is_empty());
    assert_eq!(
        vw.caseload().unwrap().len(),
        1,
        "the referrer keeps the person"
    );

    // What the server would send the receiving team's phone while the referral waits.
    exchange(&vw, &ca);
    let incoming = ca.referrals(true).unwrap();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].referral.id, r.id);
    assert!(
        ca.caseload().unwrap().is_empty(),
        "not on the caseload until accepted"
    );
    let refused = ca
        .add_advice_need(&p, AdviceCategory::UtilitiesAndCommunications, "Fuel debt")
        .unwrap_err();
    assert!(
        refused.to_string().contains("accept the referral first"),
        "{refused}"
    );

    let a = ca
        .answer_referral(&p, &r.id, ReferralDecision::Accepted, None)
        .unwrap();
    assert_eq!(a.team, "ca-hyde");
    assert_eq!(ca.caseload().unwrap().len(), 1, "accepted: on the caseload");
    ca.add_advice_need(&p, AdviceCategory::UtilitiesAndCommunications, "Fuel debt")
        .unwrap();
    let twice = ca
        .answer_referral(&p, &r.id, ReferralDecision::Declined, Some("x".into()))
        .unwrap_err();
    assert!(twice.to_string().contains("already accepted"), "{twice}");

    exchange(&ca, &vw);
    let seen = vw.referrals(false).unwrap();
    assert_eq!(
        seen[0].status,
        ReferralStatus::Accepted,
        "the referrer sees the answer"
    );

    let before = ca.projection_dump().unwrap();
    assert!(before.iter().any(|r| r.starts_with("referrals:")));
    ca.rebuild_projections().unwrap();
    assert_eq!(ca.projection_dump().unwrap(), before);
}
