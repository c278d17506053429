//! Referrals between teams (issue 14 item 5) through a real `doorstep serve`: a virtual-ward
//! clinician refers a person to a Citizens Advice team; until it accepts, the advice team's
//! phones hold the demographics and the referral only; two advice phones accept offline and the
//! referral is accepted once; accepted, the person is on both caseloads with the advice record
//! shared; a declined referral is purged from the receiving phones and the referrer sees why; a
//! referral to a team that does not exist is refused with words. SQLite and PostgreSQL.

use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

fn referral(to: &str, shares: Vec<Compartment>) -> ReferralInput {
    ReferralInput {
        to_team: to.into(),
        reason: "Fuel debt; not claiming Attendance Allowance".into(),
        urgency: ReferralUrgency::Urgent,
        shares,
    }
}

fn referrals_between_teams(backend: &Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(backend);
    let rt = runtime();
    let (vw_team, ca_team) = (format!("{prefix}vw"), format!("{prefix}ca"));
    team(backend, &vw_team);
    team(backend, &ca_team);
    let vw = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{vw_team}-nurse2"),
        dir.path(),
    );
    let ca1 = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{ca_team}-advice1"),
        dir.path(),
    );
    let ca2 = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{ca_team}-advice1"),
        dir.path(),
    );

    let walter = vw
        .store
        .register_patient(testing::demographics("Walter", "Ackroyd", None, "HX7 8DE"))
        .unwrap();
    vw.store
        .add_note(&walter, None, "Worried about heating the house")
        .unwrap();
    let r = vw
        .store
        .refer_person(&walter, referral(&ca_team, vec![Compartment::Advice]))
        .unwrap();
    let harold = vw
        .store
        .register_patient(testing::demographics(
            "Harold",
            "Greenwood",
            None,
            "HX7 5QT",
        ))
        .unwrap();
    let declined = vw
        .store
        .refer_person(&harold, referral(&ca_team, vec![Compartment::Advice]))
        .unwrap();
    let nobody = vw
        .store
        .register_patient(testing::demographics("Ivy", "Hartley", None, "HX7 6AA"))
        .unwrap();
    vw.store
        .refer_person(&nobody, referral(&format!("{prefix}nope"), vec![]))
        .unwrap();
    vw.sync(&rt).unwrap();
    let refused = vw.store.quarantine().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].reason.contains("there is no team")
            && refused[0].reason.contains("the referral was not sent"),
        "{refused:?}"
    );

    // Pending: the advice phones hold the demographics and the referral, nothing else.
    for ca in [&ca1, &ca2] {
        ca.sync(&rt).unwrap();
        let incoming = ca.store.referrals(true).unwrap();
        assert_eq!(incoming.len(), 2, "{incoming:?}");
        assert!(incoming.iter().all(|v| v.status == ReferralStatus::Pending));
        assert!(ca.store.caseload().unwrap().is_empty());
        let rec = ca.store.patient(&walter).unwrap();
        assert!(rec.demographics.is_some());
        assert!(rec.clinical.is_none() && rec.advice.is_none(), "{rec:?}");
    }
    assert!(
        ca1.store.patient(&nobody).is_err(),
        "a refused referral sends nothing"
    );

    // Two phones accept offline: accepted once.
    ca1.store
        .answer_referral(&walter, &r.id, ReferralDecision::Accepted, None)
        .unwrap();
    ca2.store
        .answer_referral(&walter, &r.id, ReferralDecision::Accepted, None)
        .unwrap();
    ca1.store
        .answer_referral(
            &harold,
            &declined.id,
            ReferralDecision::Declined,
            Some("Already supported by Age UK".into()),
        )
        .unwrap();
    ca1.sync(&rt).unwrap();
    let second = ca2.sync(&rt).unwrap();
    assert_eq!(second.quarantined, 1, "{second:?}");
    let q = ca2.store.quarantine().unwrap();
    assert!(
        q[0].reason
            .contains("this referral was already accepted by")
            && q[0].code == "referral_answered",
        "{q:?}"
    );
    for ca in [&ca1, &ca2] {
        ca.sync(&rt).unwrap();
        let on: Vec<String> = ca
            .store
            .caseload()
            .unwrap()
            .into_iter()
            .map(|e| e.person_id)
            .collect();
        assert_eq!(
            on,
            vec![walter.clone()],
            "accepted once; the declined one purged"
        );
        assert!(ca.store.patient(&harold).is_err(), "declined: purged");
        let v = ca.store.referrals(true).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].status, ReferralStatus::Accepted);
    }
    // Accepted: the advice team works on the shared advice record; the clinical record stays
    // with the health team (the advice worker's role, no consent recorded).
    let need = ca1
        .store
        .add_advice_need(
            &walter,
            AdviceCategory::UtilitiesAndCommunications,
            "Fuel debt",
        )
        .unwrap();
    ca1.sync(&rt).unwrap();
    assert!(ca1.store.patient(&walter).unwrap().clinical.is_none());

    // The referrer sees both answers and keeps the person.
    vw.sync(&rt).unwrap();
    let out = vw.store.referrals(false).unwrap();
    let status = |id: &str| out.iter().find(|v| v.referral.id == id).unwrap();
    assert_eq!(status(&r.id).status, ReferralStatus::Accepted);
    let d = status(&declined.id);
    assert_eq!(d.status, ReferralStatus::Declined);
    assert_eq!(
        d.answer.as_ref().unwrap().reason.as_deref(),
        Some("Already supported by Age UK")
    );
    assert!(vw
        .store
        .caseload()
        .unwrap()
        .iter()
        .any(|e| e.person_id == walter));
    let _ = need;
}

#[test]
fn referrals_between_teams_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    referrals_between_teams(&Backend::Sqlite(dir.path().join("server")), "rf");
}

#[test]
fn referrals_between_teams_on_postgres() {
    let pg = Postgres::start();
    referrals_between_teams(&Backend::Postgres(pg.url.clone()), "rfpg");
}
