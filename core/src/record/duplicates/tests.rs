use automerge::transaction::CommitOptions;
use chrono::Utc;

use super::*;
use crate::record::home::{server_author, server_stamp};
use crate::record::layout::AuditStamp;
use crate::record::validate::{self, Refusal};

fn nurse() -> Author {
    Author {
        user_id: "u-n".into(),
        display_name: "Sam Patel".into(),
        role: Role::DistrictNurse,
        device_id: "dev-n".into(),
        at: Utc::now(),
    }
}

fn commit(doc: &mut AutoCommit, stamp: &AuditStamp) -> std::result::Result<(), Refusal> {
    let msg = serde_json::to_string(stamp).unwrap();
    let hash = doc
        .commit_with(CommitOptions::default().with_message(msg))
        .unwrap();
    let change = doc.get_change_by_hash(&hash).unwrap().clone();
    validate::check_change(Compartment::Demographics, &change).map(|_| ())
}

fn person(given: &str, nhs: Option<&str>, postcode: &str) -> Demographics {
    crate::testing::demographics(given, "Crawley", nhs, postcode)
}

#[test]
fn identity_keys_ignore_case_spaces_and_punctuation() {
    let a = identity_keys(&person("Edith", Some("943 476 5919"), "HX7 8AB"));
    let b = identity_keys(&Demographics {
        given_name: "EDITH".into(),
        ..person("Edith", Some("9434765919"), "hx78ab")
    });
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
    let no_dob = Demographics {
        date_of_birth: None,
        ..person("Edith", None, "HX7 8AB")
    };
    assert!(identity_keys(&no_dob).is_empty(), "nothing to match on");
}

#[test]
fn a_flag_is_the_servers_and_a_decision_is_the_clinicians_copied_by_the_server() {
    let at = Utc::now();
    let server = server_author("s1", at);
    let id = flag_id("p1", "p2", DuplicateMatch::NhsNumber, at);
    assert_eq!(
        id,
        flag_id("p2", "p1", DuplicateMatch::NhsNumber, at),
        "both records, one id"
    );
    let flag = PossibleDuplicate {
        id: id.clone(),
        other_person_id: "p2".into(),
        other_teams: vec!["ca-hyde".into()],
        matched_on: DuplicateMatch::NhsNumber,
        author: server.clone(),
    };
    let mut doc = AutoCommit::new();
    note_duplicate(&mut doc, &flag).unwrap();
    commit(&mut doc, &server_stamp(&server, "flag")).unwrap();
    assert!(flagged(&doc, "p2", DuplicateMatch::NhsNumber).unwrap());

    // A phone may not write a flag.
    let n = nurse();
    let mut forged = AutoCommit::new();
    note_duplicate(
        &mut forged,
        &PossibleDuplicate {
            author: n.clone(),
            ..flag.clone()
        },
    )
    .unwrap();
    let r = commit(&mut forged, &AuditStamp::new(&n, "flag")).unwrap_err();
    assert_eq!(r.code(), "forbidden", "{r}");

    let v = &duplicates("p1", &doc).unwrap()[0];
    assert!(v.open());
    assert!(
        v.words()
            .contains("on the caseload of ca-hyde (the same NHS number)"),
        "{}",
        v.words()
    );
    let e = link_records(
        &mut doc,
        "p1",
        &n,
        &id,
        LinkDecision::SamePerson,
        Some(" checked DOB ".into()),
    )
    .unwrap();
    commit(&mut doc, &AuditStamp::new(&n, &e.summary)).unwrap();
    let v = &duplicates("p1", &doc).unwrap()[0];
    assert!(!v.open());
    assert!(
        v.words()
            .contains("the same person (decided by Sam Patel (district nurse))"),
        "{}",
        v.words()
    );
    assert!(link_records(&mut doc, "p1", &n, "nope", LinkDecision::NotTheSame, None).is_err());

    // The server's copy in the other record names the deciding record; a phone may not copy.
    let mut other = AutoCommit::new();
    mirror_link(&mut other, &e.value, "p1", &server).unwrap();
    commit(&mut other, &server_stamp(&server, "copy")).unwrap();
    let copies: Vec<RecordLink> = layout::entries(&other, RECORD_LINK).unwrap();
    assert_eq!(copies[0].other_person_id, "p1");
    assert_eq!(
        copies[0].mirrored_from.as_deref(),
        Some(e.value.id.as_str())
    );
    let mut forged = AutoCommit::new();
    mirror_link(&mut forged, &e.value, "p1", &n).unwrap();
    assert!(commit(&mut forged, &AuditStamp::new(&n, "copy")).is_err());
}
