//! Tell it once (issue 14 item 6) through a real `doorstep serve`: a district nurse and a
//! Citizens Advice case worker on two teams register the same woman (one with her NHS number,
//! one without); the server flags the possible duplicate in both records, once; the nurse
//! decides they are the same person, and the case worker's phone shows the decision, with both
//! records kept. SQLite and PostgreSQL.

use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

fn flagged_in_both_records(backend: &Backend, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(backend);
    let rt = runtime();
    let (dn, ca) = (format!("{prefix}dn"), format!("{prefix}ca"));
    team(backend, &dn);
    team(backend, &ca);
    let nurse = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{dn}-nurse1"),
        dir.path(),
    );
    let adviser = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{ca}-advice1"),
        dir.path(),
    );

    let edith = nurse
        .store
        .register_patient(testing::demographics(
            "Edith",
            "Crawley",
            Some("9434765919"),
            "HX7 8AB",
        ))
        .unwrap();
    nurse
        .store
        .register_patient(testing::demographics(
            "Harold",
            "Greenwood",
            None,
            "HX7 5QT",
        ))
        .unwrap();
    nurse.sync(&rt).unwrap();
    let client = adviser
        .store
        .register_patient(testing::demographics("EDITH", "crawley", None, "hx7 8ab"))
        .unwrap();
    adviser.sync(&rt).unwrap();
    adviser.sync(&rt).unwrap();
    nurse.sync(&rt).unwrap();

    let mine = nurse.store.possible_duplicates(None).unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let flag = &mine[0];
    assert_eq!(flag.person_id, edith);
    assert_eq!(flag.flag.other_person_id, client);
    assert_eq!(
        flag.flag.matched_on,
        DuplicateMatch::NameDateOfBirthPostcode
    );
    assert!(
        flag.words().contains(&format!("on the caseload of {ca}")),
        "{}",
        flag.words()
    );
    let theirs = adviser
        .store
        .possible_duplicates(Some(client.clone()))
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        theirs[0].flag.id, flag.flag.id,
        "one flag id in both records"
    );
    assert!(theirs[0].open());

    nurse
        .store
        .link_records(
            &edith,
            &flag.flag.id,
            LinkDecision::SamePerson,
            Some("Same DOB and address; she sees Citizens Advice".into()),
        )
        .unwrap();
    nurse.sync(&rt).unwrap();
    adviser.sync(&rt).unwrap();
    let theirs = adviser.store.possible_duplicates(None).unwrap();
    assert_eq!(theirs.len(), 1, "flagged once however often they sync");
    let d = theirs[0]
        .decision
        .as_ref()
        .expect("the nurse's decision, copied");
    assert_eq!(d.decision, LinkDecision::SamePerson);
    assert!(d.decided_by.contains("district nurse"), "{d:?}");
    assert!(
        theirs[0].words().contains("Linked to another record"),
        "{}",
        theirs[0].words()
    );
    // Both records kept: each team still holds its own.
    assert!(adviser
        .store
        .patient(&client)
        .unwrap()
        .demographics
        .is_some());
    assert!(
        adviser.store.patient(&edith).is_err(),
        "the other team's record is not sent"
    );
    assert_eq!(nurse.store.caseload().unwrap().len(), 2);
}

#[test]
fn a_possible_duplicate_is_flagged_in_both_records_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    flagged_in_both_records(&Backend::Sqlite(dir.path().join("server")), "dp");
}

#[test]
fn a_possible_duplicate_is_flagged_in_both_records_on_postgres() {
    let pg = Postgres::start();
    flagged_in_both_records(&Backend::Postgres(pg.url.clone()), "dppg");
}
