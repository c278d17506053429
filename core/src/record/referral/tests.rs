use automerge::transaction::CommitOptions;
use chrono::Utc;

use super::*;
use crate::record::layout::AuditStamp;
use crate::record::validate::{self, Refusal};

fn by(device: &str, role: Role) -> Author {
    Author {
        user_id: format!("u-{device}"),
        display_name: format!("User {device}"),
        role,
        device_id: device.into(),
        at: Utc::now(),
    }
}

fn input(to: &str) -> ReferralInput {
    ReferralInput {
        to_team: to.into(),
        reason: "Fuel debt and not claiming Attendance Allowance".into(),
        urgency: ReferralUrgency::Urgent,
        shares: vec![Compartment::Advice, Compartment::Advice],
    }
}

fn check(doc: &mut AutoCommit, author: &Author, layout: u32) -> std::result::Result<(), Refusal> {
    let mut stamp = AuditStamp::new(author, "test");
    stamp.layout = layout;
    let msg = serde_json::to_string(&stamp).unwrap();
    let hash = doc
        .commit_with(CommitOptions::default().with_message(msg))
        .unwrap();
    let change = doc.get_change_by_hash(&hash).unwrap().clone();
    validate::check_change(Compartment::Demographics, &change).map(|_| ())
}

#[test]
fn a_referral_is_answered_once_by_the_team_it_was_made_to() {
    let mut doc = AutoCommit::new();
    let vw = by("vw", Role::VirtualWardClinician);
    let r = refer(&mut doc, "p", &vw, "vw-calder", input("ca-hyde")).unwrap();
    assert_eq!(r.value.shares, vec![Compartment::Advice], "deduplicated");
    assert!(
        r.summary.contains(
            "referred the person to ca-hyde (urgent; sharing the demographics and the advice)"
        ),
        "{}",
        r.summary
    );
    check(&mut doc, &vw, layout::LAYOUT_VERSION).unwrap();
    let again = refer(&mut doc, "p", &vw, "vw-calder", input("ca-hyde")).unwrap_err();
    assert!(
        again.to_string().contains("already referred to ca-hyde"),
        "{again}"
    );

    let ca = by("ca", Role::AdviceWorker);
    let wrong = answer(
        &mut doc,
        "p",
        &ca,
        "dn-calder",
        &r.value.id,
        ReferralDecision::Accepted,
        None,
    )
    .unwrap_err();
    assert!(
        wrong.to_string().contains("only that team may answer it"),
        "{wrong}"
    );
    let no_reason = answer(
        &mut doc,
        "p",
        &ca,
        "ca-hyde",
        &r.value.id,
        ReferralDecision::Declined,
        None,
    )
    .unwrap_err();
    assert!(
        no_reason
            .to_string()
            .contains("say why the referral is declined"),
        "{no_reason}"
    );
    let a = answer(
        &mut doc,
        "p",
        &ca,
        "ca-hyde",
        &r.value.id,
        ReferralDecision::Accepted,
        None,
    )
    .unwrap();
    check(&mut doc, &ca, layout::LAYOUT_VERSION).unwrap();
    assert!(
        matches!(a.deltas.as_slice(), [Delta::Referrals(v)] if v[0].status == ReferralStatus::Accepted)
    );
    let twice = answer(
        &mut doc,
        "p",
        &ca,
        "ca-hyde",
        &r.value.id,
        ReferralDecision::Accepted,
        None,
    )
    .unwrap_err();
    assert!(
        twice.to_string().contains("already accepted by User ca"),
        "{twice}"
    );
    let views = referrals("p", &doc).unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].answer.as_ref().unwrap().team, "ca-hyde");
}

#[test]
fn a_referral_to_the_own_team_or_to_no_team_is_refused_and_writes_nothing() {
    let mut doc = AutoCommit::new();
    let vw = by("vw", Role::VirtualWardClinician);
    let own = refer(&mut doc, "p", &vw, "vw-calder", input("vw-calder")).unwrap_err();
    assert!(own.to_string().contains("the person's own team"), "{own}");
    let none = refer(&mut doc, "p", &vw, "vw-calder", input("  ")).unwrap_err();
    assert!(none.to_string().contains("is not a team id"), "{none}");
    let mut demo = input("ca-hyde");
    demo.shares = vec![Compartment::Demographics];
    assert!(refer(&mut doc, "p", &vw, "vw-calder", demo).is_err());
    assert!(answer(
        &mut doc,
        "p",
        &vw,
        "ca-hyde",
        "nope",
        ReferralDecision::Accepted,
        None
    )
    .is_err());
    assert!(referrals("p", &doc).unwrap().is_empty());
}

#[test]
fn the_server_refuses_a_tampered_referral_or_one_stamped_with_an_older_layout() {
    let vw = by("vw", Role::VirtualWardClinician);
    let mut older = AutoCommit::new();
    refer(&mut older, "p", &vw, "vw-calder", input("ca-hyde")).unwrap();
    let r = check(&mut older, &vw, layout::LAYOUT_HOME).unwrap_err();
    assert!(r.to_string().contains("added in layout 6"), "{r}");
    let good = Referral {
        id: new_id(),
        from_team: "vw-calder".into(),
        to_team: "ca-hyde".into(),
        reason: "r".into(),
        urgency: ReferralUrgency::Routine,
        shares: vec![],
        author: vw.clone(),
    };
    for bad in [
        Referral {
            to_team: "vw-calder".into(),
            ..good.clone()
        },
        Referral {
            reason: " ".into(),
            ..good.clone()
        },
        Referral {
            author: by("elsewhere", Role::VirtualWardClinician),
            ..good.clone()
        },
    ] {
        let mut d = AutoCommit::new();
        layout::put_json(&mut d, &key(REFERRAL, &bad.id), &bad).unwrap();
        assert!(
            check(&mut d, &vw, layout::LAYOUT_VERSION).is_err(),
            "{bad:?}"
        );
    }
    let mut d = AutoCommit::new();
    layout::put_json(&mut d, &key(REFERRAL, &good.id), &good).unwrap();
    check(&mut d, &vw, layout::LAYOUT_VERSION).unwrap();
}

#[test]
fn the_server_reads_the_referrals_and_answers_a_change_writes() {
    let vw = by("vw", Role::VirtualWardClinician);
    let mut doc = AutoCommit::new();
    let r = refer(&mut doc, "p", &vw, "vw-calder", input("ca-hyde"))
        .unwrap()
        .value;
    let change = crate::testing::commit_stamped(&mut doc, &AuditStamp::new(&vw, "refer"));
    let (refs, answers) = validate::referral_entries(Compartment::Demographics, &change);
    assert_eq!((refs.len(), answers.len()), (1, 0));
    assert_eq!(refs[0].id, r.id);
    assert!(!validate::only_referral_answers(
        Compartment::Demographics,
        &change
    ));
    let ca = by("ca", Role::AdviceWorker);
    answer(
        &mut doc,
        "p",
        &ca,
        "ca-hyde",
        &r.id,
        ReferralDecision::Accepted,
        None,
    )
    .unwrap();
    let change = crate::testing::commit_stamped(&mut doc, &AuditStamp::new(&ca, "accept"));
    assert!(validate::only_referral_answers(
        Compartment::Demographics,
        &change
    ));
    let (refs, answers) = validate::referral_entries(Compartment::Demographics, &change);
    assert_eq!((refs.len(), answers.len()), (0, 1));
}
