use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ObjType, ROOT};

use super::*;
use crate::record::layout::AuditStamp;
use crate::testing;

fn stamp(user: &str, device: &str, role: Role) -> AuditStamp {
    AuditStamp::new(
        &Author {
            user_id: user.into(),
            display_name: format!("Name {user}"),
            role,
            device_id: device.into(),
            at: chrono::Utc::now(),
        },
        "test",
    )
}

/// One change made by hand on a fresh document.
fn forge(stamp: &AuditStamp, edit: impl FnOnce(&mut AutoCommit)) -> Vec<u8> {
    let mut doc = AutoCommit::new();
    edit(&mut doc);
    let msg = serde_json::to_string(stamp).unwrap();
    let hash = doc
        .commit_with(CommitOptions::default().with_message(msg))
        .unwrap();
    doc.get_change_by_hash(&hash).unwrap().raw_bytes().to_vec()
}

/// Every change a real store writes for a day of work, with its compartment.
fn real_changes() -> Vec<(Compartment, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let nurse = testing::open(&dir.path().join("n.db"), "dev-n", Role::DistrictNurse);
    let p = nurse
        .register_patient(testing::demographics(
            "Ada",
            "Lovelace",
            Some("9434765919"),
            "ls1 4ap",
        ))
        .unwrap();
    nurse.record_visit(&p, testing::full_visit(30)).unwrap();
    nurse.add_note(&p, None, "Spoke to the GP").unwrap();
    nurse
        .set_alert(
            &p,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "Penicillin".into(),
                active: true,
            },
        )
        .unwrap();
    nurse
        .set_care_plan(
            &p,
            CarePlan {
                goals: vec!["heal".into()],
                interventions: vec!["dress".into()],
                review_date: None,
            },
        )
        .unwrap();
    nurse
        .record_assessment(
            &p,
            crate::record::AssessmentInput {
                definition_id: "must".into(),
                definition_version: 1,
                answers: testing::must_measured(),
                visit_id: None,
                assessed_at: chrono::Utc::now(),
            },
        )
        .unwrap();
    let d = nurse
        .save_assessment_draft(
            &p,
            None,
            crate::record::AssessmentDraftInput {
                definition_id: "waterlow".into(),
                definition_version: 1,
                answers: [
                    testing::waterlow_first_half(),
                    testing::waterlow_second_half(),
                ]
                .concat(),
                visit_id: None,
            },
        )
        .unwrap();
    nurse
        .finish_assessment_draft(&d.id, chrono::Utc::now())
        .unwrap();
    let w = nurse
        .record_wound_assessment(&p, testing::wound(None, 40.0, 30.0, 7))
        .unwrap();
    nurse
        .record_wound_assessment(&p, testing::wound(Some(w.wound_id), 35.0, 30.0, 0))
        .unwrap();
    day_of_work(&nurse, &p);
    // A GP summary imported (issue 15 item 3): the demographics with layout 7's GP practice
    // code, and the imported allergy, problem and flag.
    nurse.import_fhir(crate::testing::GP_SUMMARY).unwrap();
    let advice = testing::open(&dir.path().join("a.db"), "dev-a", Role::AdviceWorker);
    let q = advice
        .register_patient(testing::demographics("Mary", "Seacole", None, "m1 1aa"))
        .unwrap();
    let need = advice
        .add_advice_need(&q, AdviceCategory::Debt, "Council tax arrears")
        .unwrap();
    advice
        .record_advice_outcome(&q, &need.id, "Written off", 12_000)
        .unwrap();
    advice.set_consent_to_share(&q, true).unwrap();
    let appt = advice
        .book_outreach_appointment(
            &q,
            crate::record::AppointmentInput {
                starts_at: chrono::Utc::now() - chrono::Duration::hours(2),
                minutes: 45,
                venue: crate::record::AppointmentVenue {
                    kind: crate::record::VenueKind::Library,
                    name: Some("Hyde Library".into()),
                },
                case_worker: None,
                follows: None,
                need_ids: vec![need.id.clone()],
                note: Some("Bring the council tax letters".into()),
            },
        )
        .unwrap();
    let dna = advice
        .record_appointment_attendance(&q, &appt.id, crate::record::Attendance::DidNotAttend, None)
        .unwrap();
    advice
        .set_advice_follow_up_status(
            &q,
            &dna.follow_up.unwrap().id,
            crate::record::TaskStatus::Completed,
            None,
        )
        .unwrap();
    let mut out = Vec::new();
    for s in [&nurse, &advice] {
        for c in s.export_changes(0).unwrap().changes {
            out.push((c.compartment, c.bytes));
        }
    }
    out.extend(server_changes());
    out
}

/// What the server writes on its own authority (layout 5): home-monitoring sets, a re-alert, a
/// readings gap and the consent note, each change checked as a phone checks it.
fn server_changes() -> Vec<(Compartment, Vec<u8>)> {
    use crate::clinical::readings::{Reading, ReadingKind};
    use crate::record::{consent_note, home, ward, watch};
    use chrono::{Duration, Utc};
    let person = "0190a000-0000-7000-8000-00000000000f";
    let clinician = ward::tests::clinician("hub", -24 * 60);
    let mut doc = AutoCommit::new();
    ward::admit(&mut doc, person, &clinician, testing::ward_admission(None)).unwrap();
    testing::commit_stamped(
        &mut doc,
        &crate::record::layout::AuditStamp::new(&clinician, "admitted"),
    );
    let taken = Utc::now() - Duration::hours(10);
    let r = |kind, value, unit: &str| Reading {
        kind,
        value,
        unit: unit.into(),
        taken_at: taken,
    };
    let readings = [
        r(ReadingKind::Spo2, 91.0, "%"),
        r(ReadingKind::Pulse, 118.0, "/min"),
        r(ReadingKind::SystolicBp, 104.0, "mmHg"),
        r(ReadingKind::RespirationRate, 23.0, "/min"),
        r(ReadingKind::Temperature, 38.3, "Cel"),
    ];
    let server = home::server_author("seed", Utc::now());
    let mut out = Vec::new();
    let mut commit = |doc: &mut AutoCommit, summary: String| {
        let c = testing::commit_stamped(doc, &home::server_stamp(&server, summary));
        check_change(Compartment::Clinical, &c).unwrap();
        out.push((Compartment::Clinical, c.raw_bytes().to_vec()));
    };
    let sets = home::write_sets(&mut doc, person, &server, &readings).unwrap();
    commit(&mut doc, sets.summary);
    let due = watch::write_due(
        &mut doc,
        person,
        &server,
        &watch::WatchRules::default(),
        Some(Some(taken)),
    )
    .unwrap();
    assert!(due.value.gap.is_some() && !due.value.realerts.is_empty());
    commit(&mut doc, due.summary);
    let mut adviser = ward::tests::clinician("dev-a", -5);
    adviser.role = Role::AdviceWorker;
    let consent = ConsentToShare {
        consented: false,
        author: adviser,
    };
    let note = consent_note::note_of(&[consent], &server).unwrap();
    let written = consent_note::write(&mut doc, note).unwrap();
    commit(&mut doc, written.summary);
    out
}

/// The district nurse's day (issue 12): a care plan, its visit's exceptions, an outcome.
fn day_of_work(nurse: &crate::store::FieldStore, p: &str) {
    use crate::record::day::VisitMoveInput;
    use crate::record::plan::*;
    use crate::record::task::{TaskAssignee, TaskInput, TaskKind};
    use crate::store::{DayQuery, DayScope};
    let today = crate::record::schedule::local_date(chrono::Utc::now());
    let problem = nurse.add_plan_problem(p, "Leg ulcer").unwrap();
    let goal = nurse
        .add_plan_goal(
            p,
            GoalInput {
                problem_id: problem.id,
                text: "Healed".into(),
                target_date: None,
                status: GoalStatus::Active,
            },
        )
        .unwrap();
    let iv = nurse
        .add_plan_intervention(
            p,
            PlanInterventionInput {
                goal_id: goal.id,
                kind: Intervention::Insulin,
                description: "NovoMix 30".into(),
                frequency: Frequency::DailyAt {
                    times: vec!["08:00".into(), "17:00".into()],
                },
                window_start: None,
                window_end: None,
                tolerance_minutes: Some(45),
                priority: None,
                clinician: None,
                starts_on: today,
                ends_on: None,
                contact_type: ContactType::HomeVisit,
            },
        )
        .unwrap();
    nurse.set_plan_review(p, today).unwrap();
    let list = nurse
        .today_list(DayQuery {
            day: today,
            scope: DayScope::Team,
            base_postcode: None,
        })
        .unwrap();
    let (am, pm) = (&list.visits[0].visit_ref, &list.visits[1].visit_ref);
    nurse
        .move_visit(
            p,
            pm,
            VisitMoveInput {
                to_date: today,
                window_start: "18:00".into(),
                window_end: "19:00".into(),
                reason: None,
            },
        )
        .unwrap();
    nurse
        .hand_over_visit(p, pm, "user-x", "Bea", "Pen in fridge")
        .unwrap();
    nurse
        .set_visit_priority(
            p,
            pm,
            VisitPriority::EndOfLife,
            Some("deteriorating".into()),
        )
        .unwrap();
    nurse
        .cancel_visit(p, pm, "GP practice nurse to give it")
        .unwrap();
    let mut v = testing::full_visit(5);
    v.scheduled_visit = Some(am.clone());
    v.interventions_done = vec![iv.id];
    nurse.record_visit(p, v).unwrap();
    let t = nurse
        .add_task(
            p,
            TaskInput {
                kind: TaskKind::Review,
                description: "Review insulin doses with the GP".into(),
                assignee: TaskAssignee::Role {
                    role: Role::DistrictNurse,
                },
                due: today,
                ready: false,
            },
        )
        .unwrap();
    nurse
        .complete_task(p, &t.id, Some("doses agreed".into()))
        .unwrap();
    nurse
        .record_medication(
            p,
            crate::record::medication::MedicationInput {
                visit_id: None,
                drug: "Insulin aspart".into(),
                dose: 8.0,
                unit: crate::record::medication::DoseUnit::Units,
                route: crate::record::medication::Route::Subcutaneous,
                at: chrono::Utc::now(),
                given: false,
                not_given_reason: Some("blood glucose 3.1: held, GP informed".into()),
                controlled_drug: false,
                witness: None,
                syringe_driver: None,
                note: None,
            },
        )
        .unwrap();
}

#[test]
fn a_completed_task_is_a_named_action_of_the_policy() {
    let changes = real_changes();
    let named: Vec<_> = changes
        .iter()
        .flat_map(|(c, b)| named_actions(*c, &parse_change(b).unwrap()))
        .collect();
    assert_eq!(named, vec![crate::record::policy::Action::CompleteTask]);
}

#[test]
fn day_entries_need_layout_2_and_valid_values() {
    let mut old = stamp("u", "d", Role::DistrictNurse);
    old.layout = 1;
    let author = Author {
        user_id: "u".into(),
        display_name: "Name u".into(),
        role: Role::DistrictNurse,
        device_id: "d".into(),
        at: chrono::Utc::now(),
    };
    let cancel =
        serde_json::json!({"visit_ref": "r1", "reason": "x", "author": author}).to_string();
    let bytes = forge(&old, |d| {
        d.put(ROOT, "dv_cancel:r1", cancel.as_str()).unwrap();
    });
    let e = check_change(Compartment::Clinical, &parse_change(&bytes).unwrap()).unwrap_err();
    assert_eq!(e.code(), "structure", "{e}");
    let s = stamp("u", "d", Role::DistrictNurse);
    let ok = forge(&s, |d| {
        d.put(ROOT, "dv_cancel:r1", cancel.as_str()).unwrap();
    });
    check_change(Compartment::Clinical, &parse_change(&ok).unwrap()).unwrap();
    let wrong_ref = forge(&s, |d| {
        d.put(ROOT, "dv_cancel:r2", cancel.as_str()).unwrap();
    });
    let e = check_change(Compartment::Clinical, &parse_change(&wrong_ref).unwrap()).unwrap_err();
    assert_eq!(e.code(), "invalid_content", "{e}");
    let mv =
        serde_json::json!({"visit_ref": "r1", "to_date": "2026-12-01", "window_start": "10:00",
        "window_end": "09:00", "reason": null, "author": author})
        .to_string();
    let bad_move = forge(&s, |d| {
        d.put(ROOT, "dv_move:r1", mv.as_str()).unwrap();
    });
    let e = check_change(Compartment::Clinical, &parse_change(&bad_move).unwrap()).unwrap_err();
    assert!(
        e.to_string().contains("window ends before it starts"),
        "{e}"
    );
    // Not in the advice record.
    let e = check_change(Compartment::Advice, &parse_change(&ok).unwrap()).unwrap_err();
    assert_eq!(e.code(), "structure", "{e}");
}

#[test]
fn every_change_the_store_writes_passes() {
    let changes = real_changes();
    assert!(changes.len() >= 8);
    for (comp, bytes) in changes {
        let change = parse_change(&bytes).unwrap();
        let checked = check_change(comp, &change).unwrap_or_else(|e| panic!("{comp:?}: {e}"));
        assert!(!checked.newer_layout);
    }
}

#[test]
fn a_value_that_is_not_json_is_refused() {
    let s = stamp("u", "d", Role::DistrictNurse);
    let bytes = forge(&s, |d| {
        d.put(ROOT, "visit:abc", "this is not json").unwrap();
    });
    let e = check_change(Compartment::Clinical, &parse_change(&bytes).unwrap()).unwrap_err();
    assert_eq!(e.code(), "invalid_content", "{e}");
    assert!(e.to_string().contains("visit:abc"), "{e}");
}

#[test]
fn nested_objects_non_text_values_and_unknown_keys_are_refused() {
    let s = stamp("u", "d", Role::DistrictNurse);
    let nested = forge(&s, |d| {
        d.put_object(ROOT, "visit:x", ObjType::Map).unwrap();
    });
    let number = forge(&s, |d| {
        d.put(ROOT, "care_plan", 42_i64).unwrap();
    });
    let unknown = forge(&s, |d| {
        d.put(ROOT, "wibble:1", "{}").unwrap();
    });
    let wrong_compartment = forge(&s, |d| {
        d.put(ROOT, "need:1", "{}").unwrap();
    });
    for (bytes, code) in [
        (nested, "structure"),
        (number, "invalid_content"),
        (unknown, "structure"),
        (wrong_compartment, "structure"),
    ] {
        let e = check_change(Compartment::Clinical, &parse_change(&bytes).unwrap()).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
    }
}

#[test]
fn an_immutable_entry_may_not_be_overwritten_but_an_alert_may() {
    let s = stamp("u", "d", Role::DistrictNurse);
    let author = Author {
        user_id: "u".into(),
        display_name: "Name u".into(),
        role: Role::DistrictNurse,
        device_id: "d".into(),
        at: chrono::Utc::now(),
    };
    let note = Note {
        id: "n1".into(),
        visit_id: None,
        text: "first".into(),
        author: author.clone(),
    };
    let alert = AlertValue {
        kind: AlertKind::Allergies,
        text: "none".into(),
        active: true,
        author,
    };
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "note:n1", serde_json::to_string(&note).unwrap())
        .unwrap();
    doc.put(
        ROOT,
        "alert:allergies",
        serde_json::to_string(&alert).unwrap(),
    )
    .unwrap();
    doc.commit_with(CommitOptions::default().with_message(serde_json::to_string(&s).unwrap()));
    let again = |doc: &mut AutoCommit, key: &str, json: String| {
        let mut fork = doc.fork();
        fork.put(ROOT, key, json).unwrap();
        let h = fork
            .commit_with(CommitOptions::default().with_message(serde_json::to_string(&s).unwrap()))
            .unwrap();
        fork.get_change_by_hash(&h).unwrap().raw_bytes().to_vec()
    };
    let edited_note = Note {
        text: "second".into(),
        ..note.clone()
    };
    let edited = again(
        &mut doc,
        "note:n1",
        serde_json::to_string(&edited_note).unwrap(),
    );
    let e = check_change(Compartment::Clinical, &parse_change(&edited).unwrap()).unwrap_err();
    assert_eq!(e.code(), "overwrite", "{e}");
    let changed_alert = AlertValue {
        text: "penicillin".into(),
        ..alert.clone()
    };
    let realert = again(
        &mut doc,
        "alert:allergies",
        serde_json::to_string(&changed_alert).unwrap(),
    );
    check_change(Compartment::Clinical, &parse_change(&realert).unwrap()).unwrap();
}

#[test]
fn an_entry_naming_someone_else_or_a_wrong_news2_is_refused() {
    let changes = real_changes();
    let (_, visit_change) = changes
        .iter()
        .find(|(c, b)| {
            *c == Compartment::Clinical
                && parse_change(b)
                    .unwrap()
                    .decode()
                    .operations
                    .iter()
                    .any(|op| matches!(&op.key, Key::Map(k) if k.starts_with("obs:")))
        })
        .unwrap();
    let change = parse_change(visit_change).unwrap();
    let expanded = change.decode();
    let obs_json = expanded
        .operations
        .iter()
        .find_map(|op| match (&op.key, &op.action) {
            (Key::Map(k), OpType::Put(ScalarValue::Str(s))) if k.starts_with("obs:") => {
                Some((k.to_string(), s.to_string()))
            }
            _ => None,
        })
        .unwrap();
    let mut set: ObservationSet = serde_json::from_str(&obs_json.1).unwrap();
    let s = stamp(&set.author.user_id, &set.author.device_id, set.author.role);
    set.news2.total = Some(0).filter(|_| set.news2.total != Some(0)).or(Some(9));
    let wrong = forge(&s, |d| {
        d.put(
            ROOT,
            obs_json.0.as_str(),
            serde_json::to_string(&set).unwrap(),
        )
        .unwrap();
    });
    let e = check_change(Compartment::Clinical, &parse_change(&wrong).unwrap()).unwrap_err();
    assert!(e.to_string().contains("NEWS2"), "{e}");
    let other = stamp("someone-else", "their-device", Role::DistrictNurse);
    let (_, first) = changes
        .iter()
        .find(|(c, _)| *c == Compartment::Clinical)
        .unwrap();
    let mut doc = AutoCommit::new();
    for op in parse_change(first).unwrap().decode().operations {
        if let (Key::Map(k), OpType::Put(ScalarValue::Str(v))) = (&op.key, &op.action) {
            doc.put(ROOT, k.as_str(), v.as_str()).unwrap();
        }
    }
    let h = doc
        .commit_with(CommitOptions::default().with_message(serde_json::to_string(&other).unwrap()))
        .unwrap();
    let forged = doc.get_change_by_hash(&h).unwrap().raw_bytes().to_vec();
    let e = check_change(Compartment::Clinical, &parse_change(&forged).unwrap()).unwrap_err();
    assert_eq!(e.code(), "forged_author", "{e}");
}

#[test]
fn a_newer_layout_is_accepted_with_only_the_shared_structure_checked() {
    let mut s = stamp("u", "d", Role::DistrictNurse);
    s.layout = LAYOUT_VERSION + 1;
    let bytes = forge(&s, |d| {
        d.put(ROOT, "task:1", r#"{"a new kind":"of entry"}"#)
            .unwrap();
    });
    let checked = check_change(Compartment::Clinical, &parse_change(&bytes).unwrap()).unwrap();
    assert!(checked.newer_layout);
    let nested = forge(&s, |d| {
        d.put_object(ROOT, "task:2", ObjType::Map).unwrap();
    });
    assert!(check_change(Compartment::Clinical, &parse_change(&nested).unwrap()).is_err());
}

/// What a newer app wrote is kept, and the record still reads: the entries this version knows
/// are shown, and the ones it cannot read are counted, not dropped in silence.
#[test]
fn a_record_with_newer_entries_still_reads_and_counts_them() {
    let nurse = stamp("u", "d", Role::DistrictNurse);
    let (_, visit) = real_changes()
        .into_iter()
        .find(|(c, b)| {
            *c == Compartment::Clinical && {
                let change = parse_change(b).unwrap();
                change.message().is_some_and(|m| m.contains("home visit"))
            }
        })
        .expect("a visit change");
    let mut newer = nurse.clone();
    newer.layout = LAYOUT_VERSION + 1;
    let new_kind = forge(&newer, |d| {
        d.put(ROOT, "task:1", r#"{"a new kind":"of entry"}"#)
            .unwrap();
    });
    let new_shape = forge(&newer, |d| {
        d.put(
            ROOT,
            "visit:0190",
            r#"{"id":"0190","outcome":"a new outcome"}"#,
        )
        .unwrap();
    });
    let mut doc = AutoCommit::new();
    for bytes in [&visit, &new_kind, &new_shape] {
        let change = parse_change(bytes).unwrap();
        check_change(Compartment::Clinical, &change).unwrap();
        doc.apply_changes([change]).unwrap();
    }
    let record = crate::record::read::clinical_for_display("p", &doc).unwrap();
    assert_eq!(record.visits.len(), 1, "the visit this app knows");
    assert_eq!(record.newer_entries, 2);
    assert_eq!(unreadable(Compartment::Clinical, &doc), 2);
}

#[test]
fn compressed_oversized_and_garbage_changes_are_refused_before_automerge_sees_them() {
    let (_, good) = real_changes().remove(0);
    let mut compressed = good.clone();
    compressed[8] = 2;
    assert_eq!(parse_change(&compressed).unwrap_err(), Refusal::Compressed);
    let big = vec![0u8; MAX_CHANGE_BYTES + 1];
    assert_eq!(parse_change(&big).unwrap_err().code(), "too_large");
    assert_eq!(parse_change(b"hello").unwrap_err().code(), "malformed");
    assert_eq!(
        parse_change(&good[..good.len() / 2]).unwrap_err().code(),
        "malformed"
    );
    let no_stamp = forge_without_message();
    let e = check_change(Compartment::Clinical, &parse_change(&no_stamp).unwrap()).unwrap_err();
    assert_eq!(e.code(), "no_stamp");
}

fn forge_without_message() -> Vec<u8> {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "care_plan", "{}").unwrap();
    let h = doc.commit().unwrap();
    doc.get_change_by_hash(&h).unwrap().raw_bytes().to_vec()
}

/// A bounded mutation run (the long run is `scripts/fuzz.sh`): mutated real changes, re-sealed
/// with a correct checksum so they reach Automerge's inner decoder, never panic the checker; and
/// whatever it accepts applies to a document inside panic isolation.
#[test]
fn mutated_changes_never_panic_and_accepted_ones_apply_in_isolation() {
    let changes = real_changes();
    let runs = std::env::var("DOORSTEP_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000usize);
    let mut rng = testing::fuzz::Rng::new(0x9E37_79B9_7F4A_7C15);
    let (mut parsed, mut accepted) = (0, 0);
    for i in 0..runs {
        let (comp, base) = &changes[i % changes.len()];
        let bytes = testing::fuzz::mutate(base, &mut rng);
        let Ok(change) = parse_change(&bytes) else {
            continue;
        };
        parsed += 1;
        if check_change(*comp, &change).is_ok() {
            accepted += 1;
            let _ = crate::record::apply::apply_isolated(&mut AutoCommit::new(), vec![change]);
        }
    }
    assert!(
        parsed > 0,
        "mutations reach past the checksum ({parsed} parsed)"
    );
    assert!(accepted < parsed);
}

/// Seeds for `scripts/fuzz.sh`: real changes, each prefixed with its compartment's index.
#[test]
#[ignore = "writes fuzzing seeds; run by scripts/fuzz.sh"]
fn write_fuzz_seeds() {
    let Ok(dir) = std::env::var("DOORSTEP_FUZZ_SEEDS") else {
        return;
    };
    for (i, (comp, bytes)) in real_changes().into_iter().enumerate() {
        let index = Compartment::ALL.iter().position(|c| *c == comp).unwrap() as u8;
        let mut seed = vec![index];
        seed.extend(bytes);
        std::fs::write(format!("{dir}/seed-{i}"), seed).unwrap();
    }
}

// ---------------------------------------------------------------- scored and wound assessments

/// A MUST assessment entry as a store writes it, by `role`.
fn must_entry(role: Role) -> (AuditStamp, crate::record::Assessment) {
    let s = stamp("u", "d", role);
    let author = Author {
        user_id: "u".into(),
        display_name: "Name u".into(),
        role,
        device_id: "d".into(),
        at: chrono::Utc::now(),
    };
    let mut doc = AutoCommit::new();
    let a = crate::record::edit::record_assessment(
        &mut doc,
        &author,
        "a1".into(),
        crate::record::AssessmentInput {
            definition_id: "must".into(),
            definition_version: 1,
            answers: testing::must_measured(),
            visit_id: None,
            assessed_at: author.at,
        },
    )
    .unwrap()
    .value;
    (s, a)
}

fn check_assessment_json(
    s: &AuditStamp,
    a: &crate::record::Assessment,
) -> Result<Checked, Refusal> {
    let json = serde_json::to_string(a).unwrap();
    let bytes = forge(s, |d| {
        d.put(ROOT, format!("assessment:{}", a.id), json).unwrap();
    });
    check_change(Compartment::Clinical, &parse_change(&bytes).unwrap())
}

#[test]
fn an_assessment_is_rescored_and_a_wrong_score_refused() {
    let (s, a) = must_entry(Role::DistrictNurse);
    check_assessment_json(&s, &a).unwrap();
    // The app that wrote it said "medium" for a MUST of 3.
    let mut wrong = a.clone();
    wrong.score.band = Some("medium".into());
    let e = check_assessment_json(&s, &wrong).unwrap_err();
    assert_eq!(e.code(), "invalid_content", "{e}");
    assert!(e.to_string().contains("does not match its answers"), "{e}");
    let mut wrong = a.clone();
    wrong.score.total = Some(2);
    assert_eq!(
        check_assessment_json(&s, &wrong).unwrap_err().code(),
        "invalid_content"
    );
    // An answer changed after scoring.
    let mut wrong = a.clone();
    wrong.answers[2] =
        crate::clinical::assessments::AssessmentAnswer::choice("acute_disease", "yes");
    assert_eq!(
        check_assessment_json(&s, &wrong).unwrap_err().code(),
        "invalid_content"
    );
    // Incomplete, outside the definition, an unknown version.
    let mut wrong = a.clone();
    wrong.answers.pop();
    wrong.score = crate::clinical::assessments::score(
        &crate::clinical::assessments::must::MUST_V1,
        &wrong.answers,
    );
    let e = check_assessment_json(&s, &wrong).unwrap_err();
    assert!(e.to_string().contains("not complete"), "{e}");
    let mut wrong = a.clone();
    wrong.answers[2] =
        crate::clinical::assessments::AssessmentAnswer::choice("acute_disease", "maybe");
    assert!(check_assessment_json(&s, &wrong)
        .unwrap_err()
        .to_string()
        .contains("acute_disease"));
    let mut wrong = a.clone();
    wrong.definition_version = 7;
    let e = check_assessment_json(&s, &wrong).unwrap_err();
    assert!(e.to_string().contains("version 7"), "{e}");
}

#[test]
fn assessments_need_a_clinical_role_and_layout_2() {
    let (s, a) = must_entry(Role::AdviceWorker);
    let e = check_assessment_json(&s, &a).unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    let (mut s, a) = must_entry(Role::DistrictNurse);
    s.layout = 1;
    let e = check_assessment_json(&s, &a).unwrap_err();
    assert_eq!(e.code(), "structure", "{e}");
    assert!(e.to_string().contains("layout 2"), "{e}");
}

#[test]
fn a_wound_assessment_with_an_impossible_size_or_a_wrong_area_is_refused() {
    use crate::clinical::wound::*;
    let s = stamp("u", "d", Role::DistrictNurse);
    let author = Author {
        user_id: "u".into(),
        display_name: "Name u".into(),
        role: Role::DistrictNurse,
        device_id: "d".into(),
        at: chrono::Utc::now(),
    };
    let w = crate::record::WoundAssessment {
        id: "w1".into(),
        wound_id: "w1".into(),
        site: "sacrum".into(),
        size: WoundSize {
            length_mm: 30.0,
            width_mm: 20.0,
            depth_mm: 1.0,
        },
        area_mm2: 600.0,
        tissue: vec![TissueShare {
            tissue: TissueType::Granulating,
            percent: 100,
        }],
        exudate: ExudateLevel::Low,
        odour: Odour::None,
        pain: 0,
        photo_ref: None,
        visit_id: None,
        assessed_at: author.at,
        author,
    };
    let check = |w: &crate::record::WoundAssessment| {
        let json = serde_json::to_string(w).unwrap();
        let bytes = forge(&s, |d| {
            d.put(ROOT, "wound:w1", json).unwrap();
        });
        check_change(Compartment::Clinical, &parse_change(&bytes).unwrap())
    };
    check(&w).unwrap();
    let mut bad = w.clone();
    bad.area_mm2 = 60.0;
    assert!(check(&bad)
        .unwrap_err()
        .to_string()
        .contains("length × width"));
    let mut bad = w.clone();
    bad.size.length_mm = 5000.0;
    assert!(check(&bad)
        .unwrap_err()
        .to_string()
        .contains("wound length"));
    let mut bad = w.clone();
    bad.tissue[0].percent = 90;
    assert!(check(&bad)
        .unwrap_err()
        .to_string()
        .contains("tissue types"));
}

#[test]
fn the_fields_national_returns_need_are_layout_7_and_hold_dictionary_codes() {
    let check = |layout: u32, field: &str, json: &str| {
        let mut s = stamp("u", "d", Role::DistrictNurse);
        s.layout = layout;
        let bytes = forge(&s, |d| {
            d.put(ROOT, format!("demographics.{field}"), json).unwrap();
        });
        check_change(Compartment::Demographics, &parse_change(&bytes).unwrap())
    };
    check(7, "stated_gender", "\"2\"").unwrap();
    check(7, "ethnic_category", "\"99\"").unwrap();
    check(7, "gp_practice_ods", "\"B82033\"").unwrap();
    check(7, "gp_practice_ods", "null").unwrap();
    let e = check(6, "stated_gender", "\"2\"").unwrap_err();
    assert_eq!(e.code(), "structure", "{e}");
    assert!(e.to_string().contains("added in layout 7"), "{e}");
    for (field, json) in [
        ("stated_gender", "\"female\""),
        ("ethnic_category", "\"Q\""),
        ("gp_practice_ods", "\"Hyde Surgery\""),
    ] {
        let e = check(7, field, json).unwrap_err();
        assert_eq!(e.code(), "invalid_content", "{field}: {e}");
    }
    // The first release's fields are still accepted from an older phone.
    check(6, "gp_practice", "\"Hyde Surgery\"").unwrap();
}

#[test]
fn a_verified_nhs_number_is_layout_9_and_must_be_a_valid_number() {
    let check = |layout: u32, json: &str| {
        let mut s = stamp("u", "d", Role::DistrictNurse);
        s.layout = layout;
        let bytes = forge(&s, |d| {
            d.put(ROOT, "demographics.nhs_number_verified", json)
                .unwrap();
        });
        check_change(Compartment::Demographics, &parse_change(&bytes).unwrap())
    };
    check(9, "\"9434765919\"").unwrap();
    check(9, "null").unwrap();
    let e = check(8, "\"9434765919\"").unwrap_err();
    assert_eq!(e.code(), "structure", "{e}");
    assert!(e.to_string().contains("added in layout 9"), "{e}");
    let e = check(9, "\"9434765918\"").unwrap_err();
    assert_eq!(e.code(), "invalid_content", "{e}");
}

#[test]
fn a_verified_nhs_number_counts_only_while_it_is_the_number_held() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let d = Demographics {
        given_name: "Edith".into(),
        family_name: "Crawley".into(),
        nhs_number: Some("943 476 5919".into()),
        nhs_number_verified: Some(" 943 476 5919 ".into()),
        ..Default::default()
    }
    .validated(today)
    .unwrap();
    assert_eq!(d.nhs_number_verified.as_deref(), Some("9434765919"));
    assert!(d.nhs_number_verified_now());
    let moved = Demographics {
        nhs_number: Some("9912003888".into()),
        ..d.clone()
    };
    assert!(!moved.nhs_number_verified_now());
    let none = Demographics {
        nhs_number: None,
        ..d
    };
    assert!(!none.nhs_number_verified_now());
    let bad = Demographics {
        given_name: "Edith".into(),
        family_name: "Crawley".into(),
        nhs_number_verified: Some("1234567890".into()),
        ..Default::default()
    };
    assert!(bad.validated(today).is_err());
}

// ---------------------------------------------------------------- imported from a GP summary

fn imported_entry(author: &Author) -> crate::record::imported::ImportedEntry {
    testing::imported_entry(
        "01890000-0000-7000-8000-000000000001",
        crate::record::imported::ImportedKind::Allergy,
        Some("372687004"),
        "Amoxicillin",
        author,
    )
}

#[test]
fn an_imported_entry_is_layout_8_checked_by_the_records_rules_and_never_rewritten() {
    let check = |s: &AuditStamp, e: &crate::record::imported::ImportedEntry, twice: bool| {
        let k = format!("imported:{}", e.id);
        let json = serde_json::to_string(e).unwrap();
        let msg = serde_json::to_string(s).unwrap();
        let mut doc = AutoCommit::new();
        doc.put(ROOT, &k, json.clone()).unwrap();
        let mut hash = doc.commit_with(CommitOptions::default().with_message(msg.clone()));
        if twice {
            // A second change that writes over the first.
            doc.put(ROOT, &k, json.replace("Amoxicillin", "Penicillin"))
                .unwrap();
            hash = doc.commit_with(CommitOptions::default().with_message(msg));
        }
        let bytes = doc
            .get_change_by_hash(&hash.unwrap())
            .unwrap()
            .raw_bytes()
            .to_vec();
        check_change(Compartment::Clinical, &parse_change(&bytes).unwrap())
    };
    let s = stamp("u", "d", Role::DistrictNurse);
    let author = Author {
        user_id: "u".into(),
        display_name: "Name u".into(),
        role: Role::DistrictNurse,
        device_id: "d".into(),
        at: chrono::Utc::now(),
    };
    let good = imported_entry(&author);
    check(&s, &good, false).unwrap();
    let mut older = s.clone();
    older.layout = 7;
    let e = check(&older, &good, false).unwrap_err();
    assert!(e.to_string().contains("added in layout 8"), "{e}");
    let e = check(&s, &good, true).unwrap_err();
    assert_eq!(e.code(), "overwrite", "{e}");
    let mut bad_code = good.clone();
    bad_code.code.snomed = Some("372687005".into());
    let e = check(&s, &bad_code, false).unwrap_err();
    assert!(e.to_string().contains("check digit"), "{e}");
    let mut future = good.clone();
    future.recorded_on = Some(chrono::Utc::now().date_naive() + chrono::Days::new(3));
    assert_eq!(
        check(&s, &future, false).unwrap_err().code(),
        "invalid_content"
    );
    let mut server = s.clone();
    server.principal = crate::record::layout::PRINCIPAL_SERVER.into();
    assert_eq!(
        check(&server, &good, false).unwrap_err().code(),
        "forbidden"
    );
    let mut other = good.clone();
    other.author.user_id = "someone-else".into();
    assert_eq!(
        check(&s, &other, false).unwrap_err().code(),
        "forged_author"
    );
}
