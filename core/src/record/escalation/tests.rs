use chrono::Duration;

use super::*;
use crate::record::edit;
use crate::record::ward::tests::{check, clinician};
use crate::record::ward::{self as w};
use crate::testing;

fn on_ward() -> (AutoCommit, Author) {
    let a = clinician("hub", 0);
    let mut doc = AutoCommit::new();
    w::admit(&mut doc, "p", &a, testing::ward_admission(None)).unwrap();
    doc.commit();
    (doc, a)
}

#[test]
fn news2_six_on_the_ward_raises_one_escalation_named_by_its_set() {
    let (mut doc, a) = on_ward();
    let set =
        edit::record_observations(&mut doc, "p", &a, a.at, testing::news2_six(), None).unwrap();
    assert!(
        set.deltas.iter().any(|d| matches!(d, Delta::Clinical(_))),
        "a set on the ward derives the ward's rows again"
    );
    let set = set.value;
    let c = read::clinical("p", &doc).unwrap();
    let [e] = c.escalations.as_slice() else {
        panic!("{:?}", c.escalations)
    };
    assert_eq!(e.id, escalation_id(&set.id));
    assert_eq!(e.band, EscalationBand::Medium);
    assert_eq!(e.response, crate::clinical::news2::RESPONSE_MEDIUM);
    assert_eq!(e.status, EscalationStatus::Open);
    assert_eq!(
        e.reasons,
        "NEWS2 6; pulse 112 outside the personal range 55–100"
    );
    // The same documents read anywhere give the same escalation.
    let again = escalations("p", &read::clinical("p", &doc.fork()).unwrap());
    assert_eq!(again, c.escalations);
}

#[test]
fn off_the_ward_or_entered_in_error_nothing_escalates() {
    let a = clinician("dn", 0);
    let mut doc = AutoCommit::new();
    let set =
        edit::record_observations(&mut doc, "p", &a, a.at, testing::news2_six(), None).unwrap();
    assert_eq!(set.deltas.len(), 1, "off the ward only the summary row");
    assert!(read::clinical("p", &doc).unwrap().escalations.is_empty());
    let (mut doc, a) = on_ward();
    let set = edit::record_observations(&mut doc, "p", &a, a.at, testing::news2_six(), None)
        .unwrap()
        .value;
    edit::mark_entered_in_error(
        &mut doc,
        "p",
        Compartment::Clinical,
        &a,
        &set.id,
        "wrong person",
    )
    .unwrap();
    assert!(read::clinical("p", &doc).unwrap().escalations.is_empty());
    // Before the admission the ward's rules do not apply.
    let (mut doc, a) = on_ward();
    let before = a.at - Duration::days(5);
    edit::record_observations(&mut doc, "p", &a, before, testing::news2_six(), None).unwrap();
    assert!(read::clinical("p", &doc).unwrap().escalations.is_empty());
}

#[test]
fn a_hub_and_a_phone_acknowledging_at_once_make_one_acknowledgement_both_kept() {
    let (mut hub, a) = on_ward();
    let set = edit::record_observations(&mut hub, "p", &a, a.at, testing::news2_six(), None)
        .unwrap()
        .value;
    hub.commit();
    let id = escalation_id(&set.id);
    let mut phone = hub.fork().with_actor(automerge::ActorId::random());
    record_event(
        &mut phone,
        "p",
        &clinician("phone", 1),
        &id,
        EscalationEventKind::Acknowledged,
        None,
    )
    .unwrap();
    record_event(
        &mut hub,
        "p",
        &clinician("hub", 2),
        &id,
        EscalationEventKind::Acknowledged,
        Some("calling now".into()),
    )
    .unwrap();
    hub.commit();
    phone.commit();
    hub.merge(&mut phone).unwrap();
    let e = escalations("p", &read::clinical("p", &hub).unwrap()).remove(0);
    assert_eq!(e.status, EscalationStatus::Acknowledged);
    assert_eq!(e.acknowledgements, 2);
    assert_eq!(e.history.len(), 2);
    assert_eq!(e.acknowledged_by.unwrap().device_id, "phone");
    // A third acknowledgement is refused, saying who acknowledged it.
    let err = record_event(
        &mut hub,
        "p",
        &clinician("hub", 3),
        &id,
        EscalationEventKind::Acknowledged,
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("acknowledged by Clinician phone"),
        "{err}"
    );
}

#[test]
fn actions_need_an_acknowledgement_and_a_note_and_an_outcome_closes_it() {
    let (mut doc, a) = on_ward();
    let set = edit::record_observations(&mut doc, "p", &a, a.at, testing::news2_six(), None)
        .unwrap()
        .value;
    let id = escalation_id(&set.id);
    let ev = |doc: &mut AutoCommit, kind, note: Option<&str>| {
        record_event(doc, "p", &a, &id, kind, note.map(str::to_string))
    };
    let early = ev(&mut doc, EscalationEventKind::Action, Some("phoned")).unwrap_err();
    assert!(
        early.to_string().contains("acknowledge the escalation"),
        "{early}"
    );
    ev(&mut doc, EscalationEventKind::Acknowledged, None).unwrap();
    let bare = ev(&mut doc, EscalationEventKind::Action, Some("  ")).unwrap_err();
    assert!(matches!(
        bare,
        Error::Validation(ValidationError::MissingField { .. })
    ));
    ev(
        &mut doc,
        EscalationEventKind::Action,
        Some("video review, antibiotics started"),
    )
    .unwrap();
    let e = escalations("p", &read::clinical("p", &doc).unwrap()).remove(0);
    assert_eq!(e.status, EscalationStatus::Actioned);
    ev(
        &mut doc,
        EscalationEventKind::Outcome,
        Some("stable on review, stays on the ward"),
    )
    .unwrap();
    let e = escalations("p", &read::clinical("p", &doc).unwrap()).remove(0);
    assert_eq!(e.status, EscalationStatus::Closed);
    assert!(!e.status.is_open());
    let late = ev(&mut doc, EscalationEventKind::Action, Some("x")).unwrap_err();
    assert!(late.to_string().contains("closed"), "{late}");
    let unknown = record_event(
        &mut doc,
        "p",
        &a,
        "esc-nope",
        EscalationEventKind::Acknowledged,
        None,
    )
    .unwrap_err();
    assert!(matches!(
        unknown,
        Error::NotFound {
            what: "escalation",
            ..
        }
    ));
    check(&mut doc, &a, crate::record::layout::LAYOUT_VERSION).unwrap();
}

#[test]
fn the_validator_refuses_forged_events() {
    let a = clinician("hub", 0);
    let event = |kind, note: Option<&str>, escalation: &str| EscalationEvent {
        id: crate::ids::new_id(),
        escalation_id: escalation.into(),
        kind,
        note: note.map(str::to_string),
        author: a.clone(),
    };
    let put = |e: &EscalationEvent| {
        let mut doc = AutoCommit::new();
        layout::put_json(&mut doc, &key(ESCALATION_EVENT, &e.id), e).unwrap();
        doc
    };
    let ok = event(EscalationEventKind::Acknowledged, None, "esc-1");
    check(&mut put(&ok), &a, layout::LAYOUT_VERSION).unwrap();
    let r = check(&mut put(&ok), &a, 1).unwrap_err();
    assert_eq!(r.code(), "structure", "{r}");
    let silent = event(EscalationEventKind::Outcome, None, "esc-1");
    let r = check(&mut put(&silent), &a, layout::LAYOUT_VERSION).unwrap_err();
    assert_eq!(r.code(), "invalid_content", "{r}");
    let stray = event(EscalationEventKind::Acknowledged, None, "task-1");
    let r = check(&mut put(&stray), &a, layout::LAYOUT_VERSION).unwrap_err();
    assert_eq!(r.code(), "invalid_content", "{r}");
    let someone_else = EscalationEvent {
        author: clinician("other", 0),
        ..ok.clone()
    };
    let r = check(&mut put(&someone_else), &a, layout::LAYOUT_VERSION).unwrap_err();
    assert_eq!(r.code(), "forged_author", "{r}");
    // Written once: an event is never overwritten.
    let mut doc = put(&ok);
    check(&mut doc, &a, layout::LAYOUT_VERSION).unwrap();
    let changed = EscalationEvent {
        note: Some("changed my mind".into()),
        ..ok.clone()
    };
    layout::put_json(&mut doc, &key(ESCALATION_EVENT, &ok.id), &changed).unwrap();
    let r = check(&mut doc, &a, layout::LAYOUT_VERSION).unwrap_err();
    assert_eq!(r.code(), "overwrite", "{r}");
}
