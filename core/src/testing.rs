//! Builders shared by this crate's tests, the cross-crate tests in `tests/` and the benchmarks.
//! Real stores in real files: nothing here is a mock.

use std::path::Path;

use chrono::{Duration, Utc};

use crate::clinical::observations::{Consciousness, Observations};
use crate::record::*;
use crate::store::{FieldStore, StoreConfig};

/// A GP summary for NHS England's example patient (Richard Smith, NHS number 991 200 3888), with
/// the codes of UK Core's example AllergyIntolerance (amoxicillin, urticarial rash), Condition
/// (bleeding from ear) and Flag (peanut-free diet). HAPI validates it (tests/tests/fhir.rs).
pub const GP_SUMMARY: &str = include_str!("fhir/import/gp-summary.json");

/// An active imported entry (`record::imported`) of `kind` with this code, by `author`.
pub fn imported_entry(
    id: &str,
    kind: crate::record::imported::ImportedKind,
    snomed: Option<&str>,
    text: &str,
    author: &Author,
) -> crate::record::imported::ImportedEntry {
    use crate::record::imported::*;
    ImportedEntry {
        id: id.into(),
        kind,
        code: ImportedCode {
            snomed: snomed.map(str::to_string),
            text: text.into(),
        },
        status: ImportedStatus::Active,
        reactions: vec![],
        recorded_on: None,
        note: None,
        source: ImportSource {
            resource: format!("AllergyIntolerance/{id}"),
            bundle: None,
        },
        author: author.clone(),
    }
}

/// A fixed test key (a real app takes 32 random bytes from the Keystore/Keychain).
pub const TEST_KEY: [u8; 32] = [7u8; 32];

/// Commit what `doc` holds as one change stamped with `stamp`, as a phone or the server would,
/// and return it (to check it with `validate::check_change`).
pub fn commit_stamped(
    doc: &mut automerge::AutoCommit,
    stamp: &crate::record::layout::AuditStamp,
) -> automerge::Change {
    let msg = serde_json::to_string(stamp).expect("a stamp is JSON");
    let hash = doc
        .commit_with(automerge::transaction::CommitOptions::default().with_message(msg))
        .expect("something to commit");
    doc.get_change_by_hash(&hash)
        .expect("the change just made")
        .clone()
}

/// Make one edit and commit it as a phone would, stamped with `a` and timed at `a.at`; return what
/// the edit made (the benches build server databases of real changes with it).
pub fn commit_edit<T>(
    doc: &mut automerge::AutoCommit,
    a: &crate::record::Author,
    f: impl FnOnce(&mut automerge::AutoCommit) -> crate::record::edit::Edit<T>,
) -> T {
    let e = f(doc);
    let stamp = crate::record::layout::AuditStamp::new(a, e.summary.clone());
    let msg = serde_json::to_string(&stamp).expect("a stamp is JSON");
    doc.commit_with(
        automerge::transaction::CommitOptions::default()
            .with_message(msg)
            .with_time(a.at.timestamp_millis()),
    );
    e.value
}

pub fn user(id: &str, role: Role) -> User {
    User {
        id: id.to_string(),
        display_name: format!("{} {id}", role.label()),
        role,
        team: "team-a".to_string(),
    }
}

pub fn config(path: &Path, device: &str, role: Role) -> StoreConfig {
    StoreConfig::new(
        path,
        &TEST_KEY,
        device,
        user(&format!("user-{device}"), role),
    )
}

pub fn open(path: &Path, device: &str, role: Role) -> FieldStore {
    FieldStore::open(config(path, device, role)).expect("open store")
}

pub fn demographics(given: &str, family: &str, nhs: Option<&str>, postcode: &str) -> Demographics {
    Demographics {
        nhs_number: nhs.map(str::to_string),
        given_name: given.to_string(),
        family_name: family.to_string(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1941, 3, 9),
        address: Some(Address {
            lines: vec!["12 Mill Lane".into(), "Hebden Bridge".into()],
            postcode: postcode.to_string(),
        }),
        access_notes: Some("Key safe by back door, code with coordinator. Friendly dog.".into()),
        ..Default::default()
    }
}

/// A full set of observations (8 values) that scores NEWS2 0.
pub fn normal_observations() -> Observations {
    Observations {
        respiration_rate: Some(16),
        spo2_percent: Some(97),
        on_oxygen: Some(false),
        systolic_bp: Some(128),
        diastolic_bp: Some(78),
        pulse: Some(72),
        consciousness: Some(Consciousness::Alert),
        temperature_c: Some(36.8),
    }
}

/// A 500-character visit note.
pub fn note_500() -> String {
    let base = "Wound on left lower leg reviewed; dressing changed with aseptic technique. Exudate moderate, no odour, edges healthy. Patient reports pain 3/10, taking paracetamol as prescribed. Carer present throughout. ";
    base.repeat(3).chars().take(500).collect()
}

/// The benchmark's visit: a completed home visit with 8 observations, 3 interventions and a
/// 500-character note.
pub fn full_visit(minutes_ago: i64) -> VisitInput {
    let start = Utc::now() - Duration::minutes(minutes_ago + 30);
    VisitInput {
        planned_visit_id: None,
        contact_type: ContactType::HomeVisit,
        started_at: start,
        ended_at: Some(start + Duration::minutes(25)),
        outcome: VisitOutcome::Completed,
        interventions: vec![
            Intervention::WoundCare,
            Intervention::Insulin,
            Intervention::MedicationPrompt,
        ],
        note: Some(note_500()),
        observations: Some(normal_observations()),
        scheduled_visit: None,
        outcome_reason: None,
        interventions_done: Vec::new(),
    }
}

/// Pass every change `from` holds to `to`.
pub fn exchange(from: &FieldStore, to: &FieldStore) -> crate::store::ImportReport {
    let batch = from.export_changes(0).expect("export");
    to.import_changes(&batch).expect("import")
}

/// Mutations of Automerge changes for fuzzing (the bounded runs in the tests, the long runs in
/// `scripts/fuzz.sh`). A mutation flips, inserts or removes bytes of the change's body, or cuts
/// it short, and then (most of the time) seals the chunk again with a correct length and checksum,
/// so that the mutation reaches the decoder's and Automerge's inner layers rather than stopping at
/// the checksum.
pub mod fuzz {
    use sha2::{Digest, Sha256};

    /// A small deterministic generator (xorshift64*), so a failing run can be replayed by seed.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next_u64() % n as u64) as usize
            }
        }
    }

    fn uleb(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// The chunk type and body of a change (after magic, checksum, type and length).
    fn split(bytes: &[u8]) -> Option<(u8, Vec<u8>)> {
        let kind = *bytes.get(8)?;
        let mut i = 9;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = *bytes.get(i)?;
            i += 1;
            len |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift > 28 {
                break;
            }
        }
        Some((kind, bytes.get(i..)?.get(..len)?.to_vec()))
    }

    /// A chunk with a correct length and checksum around `body`.
    pub fn seal(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut hashed = vec![kind];
        uleb(body.len(), &mut hashed);
        hashed.extend_from_slice(body);
        let digest = Sha256::digest(&hashed);
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
        out.extend_from_slice(&digest[..4]);
        out.extend_from_slice(&hashed);
        out
    }

    /// One mutation of `change`.
    pub fn mutate(change: &[u8], rng: &mut Rng) -> Vec<u8> {
        let Some((kind, mut body)) = split(change) else {
            return change.to_vec();
        };
        for _ in 0..1 + rng.below(3) {
            let pos = rng.below(body.len().max(1));
            match rng.below(6) {
                0 if !body.is_empty() => body[pos] = rng.next_u64() as u8,
                1 if !body.is_empty() => body[pos] ^= 1 << rng.below(8),
                2 => body.insert(pos.min(body.len()), rng.next_u64() as u8),
                3 if !body.is_empty() => {
                    body.remove(pos);
                }
                4 => body.truncate(pos),
                _ if !body.is_empty() => body[pos] = [0, 0x7f, 0x80, 0xff][rng.below(4)],
                _ => {}
            }
        }
        if rng.below(8) == 0 {
            // Unsealed: the checksum no longer matches.
            let mut out = change.get(..9).unwrap_or_default().to_vec();
            uleb(body.len(), &mut out);
            out.extend_from_slice(&body);
            out
        } else {
            seal(kind, &body)
        }
    }
}

// ---------------------------------------------------------------- scored assessments

/// The first half of a Waterlow card (what a nurse fills before being called away): six of its
/// thirteen sections.
pub fn waterlow_first_half() -> Vec<crate::clinical::assessments::AssessmentAnswer> {
    use crate::clinical::assessments::AssessmentAnswer as A;
    vec![
        A::measured("build", &[("height_cm", 162.0), ("weight_kg", 49.5)]),
        A::choices("skin", &["tissue_paper", "dry"]),
        A::choice("sex", "female"),
        A::choice("age", "81_plus"),
        A::choice("mst_weight_loss", "yes_0_5_to_5_kg"),
        A::choice("mst_eating_poorly", "yes"),
    ]
}

/// The rest of that card. With the first half: build 3 (BMI 18.9), skin 2, female 2, 81+ 5,
/// MST 1 + 1, continence 1, mobility 3, anaemia 2, neurological 4, no surgery, steroids 4:
/// total 28, very high risk.
pub fn waterlow_second_half() -> Vec<crate::clinical::assessments::AssessmentAnswer> {
    use crate::clinical::assessments::AssessmentAnswer as A;
    vec![
        A::choice("continence", "urinary"),
        A::choice("mobility", "restricted"),
        A::choices("tissue_malnutrition", &["anaemia"]),
        A::points("neurological_deficit", 4),
        A::choice("surgery_orthopaedic_spinal", "no"),
        A::choice("surgery_time_on_table", "none"),
        A::choices("medication", &["steroids"]),
    ]
}

/// A complete MUST from measurements: BMI 19.1 (1), weight loss 10.3 % (2), not acutely ill:
/// total 3, high risk.
pub fn must_measured() -> Vec<crate::clinical::assessments::AssessmentAnswer> {
    use crate::clinical::assessments::AssessmentAnswer as A;
    vec![
        A::measured("bmi", &[("height_cm", 165.0), ("weight_kg", 52.0)]),
        A::measured(
            "weight_loss",
            &[("earlier_weight_kg", 58.0), ("current_weight_kg", 52.0)],
        ),
        A::choice("acute_disease", "no"),
    ]
}

/// A wound assessment of the left heel, `length` × `width` × 3 mm, assessed `days_ago`.
pub fn wound(
    wound_id: Option<String>,
    length: f64,
    width: f64,
    days_ago: i64,
) -> WoundAssessmentInput {
    use crate::clinical::wound::*;
    WoundAssessmentInput {
        wound_id,
        site: "left heel".into(),
        size: WoundSize {
            length_mm: length,
            width_mm: width,
            depth_mm: 3.0,
        },
        tissue: vec![
            TissueShare {
                tissue: TissueType::Granulating,
                percent: 60,
            },
            TissueShare {
                tissue: TissueType::Slough,
                percent: 40,
            },
        ],
        exudate: ExudateLevel::Low,
        odour: Odour::None,
        pain: 2,
        photo_ref: Some("IMG_0042".into()),
        visit_id: None,
        assessed_at: Utc::now() - Duration::days(days_ago),
    }
}

// ---------------------------------------------------------------- a full record (FHIR export)

/// A record like the demo's, with something of every kind the FHIR export maps: visits with
/// observations and NEWS2 (complete, partial, on oxygen), a no-access visit, a telephone
/// contact, a note with control characters, episodes (one discharged), alerts (allergies,
/// DNACPR, safeguarding, risk to staff) and an alert in conflict between two nurses, a care plan
/// (the first release's and problems, goals, interventions, a review date), tasks (completed,
/// cancelled, open), medication (given, a syringe driver with a witness, not given), MUST,
/// Waterlow, two assessments of one wound, entries marked entered in error, and an advice record
/// with consent to share (written by an advice worker's phone and passed to the nurse's).
///
/// Returns the district nurse's store (holding all of it) and the person's id. The other phones'
/// files are left in `dir`.
pub fn full_record(dir: &Path) -> (FieldStore, String) {
    use crate::clinical::assessments::AssessmentAnswer as A;
    use chrono::NaiveDate;
    let nurse = open(&dir.join("nurse.db"), "phone-nurse", Role::DistrictNurse);
    let colleague = open(
        &dir.join("colleague.db"),
        "phone-colleague",
        Role::DistrictNurse,
    );
    let adviser = open(&dir.join("adviser.db"), "phone-adviser", Role::AdviceWorker);
    let mut d = demographics("Edith", "Clarke", Some("943 476 5919"), "hx7 8ab");
    d.preferred_name = Some("Edie".into());
    d.phone = Some("01422 555 0101".into());
    d.gp_practice = Some("Calder Valley Medical Practice".into());
    d.gp_practice_ods = Some("B86010".into());
    d.stated_gender = Some(crate::record::StatedGender::Female);
    d.ethnic_category = Some(crate::record::EthnicCategory::WhiteBritish);
    d.next_of_kin = Some(Contact {
        name: "Martin Clarke".into(),
        relationship: Some("son".into()),
        phone: Some("07700 900123".into()),
    });
    d.carer = Some(Contact {
        name: "Jo Patel".into(),
        relationship: None,
        phone: None,
    });
    let p = nurse.register_patient(d).expect("register");
    let now = Utc::now();
    let today = crate::record::schedule::local_date(now);
    let alert = |s: &FieldStore, kind, text: &str| {
        s.set_alert(
            &p,
            AlertInput {
                kind,
                text: text.into(),
                active: true,
            },
        )
        .expect("alert");
    };
    alert(&nurse, AlertKind::Allergies, "Penicillin: anaphylaxis");
    alert(
        &nurse,
        AlertKind::Resuscitation,
        "DNACPR in place (ReSPECT form in the blue folder)",
    );
    alert(
        &nurse,
        AlertKind::Safeguarding,
        "Financial abuse concern raised 3 Nov",
    );
    exchange(&nurse, &colleague);
    // Two nurses set "risk to staff" offline: a conflict with both values.
    alert(
        &nurse,
        AlertKind::RiskToStaff,
        "Dog: shut it in the kitchen before entering",
    );
    alert(
        &colleague,
        AlertKind::RiskToStaff,
        "Son can be verbally aggressive: visit in pairs",
    );
    exchange(&colleague, &nurse);

    let episode = nurse
        .add_episode(
            &p,
            EpisodeInput {
                service: Service::DistrictNursing,
                referral_source: "GP".into(),
                referral_reason: "Leg ulcer, left gaiter".into(),
                accepted_on: today - Duration::days(60),
            },
        )
        .expect("episode");
    let ward = nurse
        .add_episode(
            &p,
            EpisodeInput {
                service: Service::VirtualWard(VirtualWardPathway::Copd),
                referral_source: "Respiratory team".into(),
                referral_reason: "COPD exacerbation".into(),
                accepted_on: today - Duration::days(40),
            },
        )
        .expect("ward");
    nurse
        .discharge_episode(&p, &ward.id, today - Duration::days(30), "Stable")
        .expect("discharge");

    let visit = |start_mins: i64, outcome, obs: Option<Observations>, note: Option<&str>| {
        let start = now - Duration::minutes(start_mins);
        nurse
            .record_visit(
                &p,
                VisitInput {
                    planned_visit_id: None,
                    contact_type: ContactType::HomeVisit,
                    started_at: start,
                    ended_at: Some(start + Duration::minutes(25)),
                    outcome,
                    interventions: if outcome == VisitOutcome::Completed {
                        vec![
                            Intervention::WoundCare,
                            Intervention::Other("Leg elevation advice".into()),
                        ]
                    } else {
                        vec![]
                    },
                    note: note.map(str::to_string),
                    observations: obs,
                    scheduled_visit: None,
                    outcome_reason: (outcome != VisitOutcome::Completed)
                        .then(|| "No answer at the door; key safe empty".to_string()),
                    interventions_done: vec![],
                },
            )
            .expect("visit")
    };
    visit(
        60 * 24 * 7,
        VisitOutcome::Completed,
        Some(normal_observations()),
        Some(&note_500()),
    );
    let unwell = Observations {
        respiration_rate: Some(24),
        spo2_percent: Some(91),
        on_oxygen: Some(true),
        systolic_bp: Some(98),
        diastolic_bp: Some(60),
        pulse: Some(118),
        consciousness: Some(Consciousness::NewConfusion),
        temperature_c: Some(38.6),
    };
    let high = visit(
        60 * 24 * 3,
        VisitOutcome::Completed,
        Some(unwell),
        Some("Unwell, new confusion.\u{0007} Escalated to GP\u{0000} & 999 <urgent>."),
    );
    assert_eq!(high.news2.as_ref().and_then(|n| n.total), Some(15));
    let partial = Observations {
        respiration_rate: Some(18),
        pulse: Some(80),
        diastolic_bp: Some(70),
        ..Default::default()
    };
    visit(60 * 24 * 2, VisitOutcome::Completed, Some(partial), None);
    visit(60 * 24, VisitOutcome::NoAccess, None, None);
    let start = now - Duration::hours(5);
    nurse
        .record_visit(
            &p,
            VisitInput {
                planned_visit_id: None,
                contact_type: ContactType::Telephone,
                started_at: start,
                ended_at: Some(start + Duration::minutes(10)),
                outcome: VisitOutcome::Completed,
                interventions: vec![Intervention::MedicationPrompt],
                note: Some("Phoned to prompt evening inhaler.".into()),
                observations: None,
                scheduled_visit: None,
                outcome_reason: None,
                interventions_done: vec![],
            },
        )
        .expect("telephone");
    let wrong = visit(
        60 * 30,
        VisitOutcome::Completed,
        Some(normal_observations()),
        None,
    );
    nurse
        .mark_entered_in_error(&p, &wrong.visit.id, "Recorded against the wrong person")
        .expect("eie visit");
    if let Some(o) = &wrong.observations {
        nurse
            .mark_entered_in_error(&p, &o.id, "Recorded against the wrong person")
            .expect("eie obs");
    }
    nurse
        .add_note(
            &p,
            Some(high.visit.id.clone()),
            "Daughter informed by phone.",
        )
        .expect("note");
    nurse
        .schedule_visit(
            &p,
            PlannedVisitInput {
                planned_start: now + Duration::days(1),
                planned_end: Some(now + Duration::days(1) + Duration::minutes(30)),
                clinician: Some("user-phone-nurse".into()),
                contact_type: ContactType::HomeVisit,
                purpose: Some("Dressing change".into()),
            },
        )
        .expect("planned");

    nurse
        .set_care_plan(
            &p,
            CarePlan {
                goals: vec!["Ulcer healed".into()],
                interventions: vec!["Compression bandaging".into()],
                review_date: Some(today + Duration::days(14)),
            },
        )
        .expect("legacy plan");
    let problem = nurse
        .add_plan_problem(&p, "Type 2 diabetes on insulin")
        .expect("problem");
    let goal = nurse
        .add_plan_goal(
            &p,
            GoalInput {
                problem_id: problem.id.clone(),
                text: "Blood glucose 6–10 mmol/l before meals".into(),
                target_date: Some(today + Duration::days(30)),
                status: GoalStatus::Active,
            },
        )
        .expect("goal");
    let insulin = |frequency, kind| PlanInterventionInput {
        goal_id: goal.id.clone(),
        kind,
        description: "NovoMix 30 insulin".into(),
        frequency,
        window_start: None,
        window_end: None,
        tolerance_minutes: None,
        priority: None,
        clinician: Some("user-phone-nurse".into()),
        starts_on: today,
        ends_on: Some(today + Duration::days(90)),
        contact_type: ContactType::HomeVisit,
    };
    nurse
        .add_plan_intervention(
            &p,
            insulin(
                Frequency::DailyAt {
                    times: vec!["08:00".into(), "17:00".into()],
                },
                Intervention::Insulin,
            ),
        )
        .expect("insulin");
    for f in [
        Frequency::TimesPerWeek { times: 3 },
        Frequency::OnWeekdays {
            days: vec![DayOfWeek::Monday, DayOfWeek::Thursday],
        },
        Frequency::EveryNDays { days: 14 },
        Frequency::AsNeeded,
    ] {
        nurse
            .add_plan_intervention(&p, insulin(f, Intervention::WoundCare))
            .expect("intervention");
    }
    nurse
        .set_plan_review(&p, today + Duration::days(28))
        .expect("review");

    let task = |kind, due_days| {
        nurse
            .add_task(
                &p,
                TaskInput {
                    kind,
                    description: "HbA1c and U&Es".into(),
                    assignee: TaskAssignee::Role {
                        role: Role::DistrictNurse,
                    },
                    due: today + Duration::days(due_days),
                    ready: false,
                },
            )
            .expect("task")
    };
    let done = task(TaskKind::BloodsDue, 0);
    nurse
        .complete_task(&p, &done.id, Some("Taken, sent to the lab".into()))
        .expect("complete");
    let cancelled = task(TaskKind::Referral, 3);
    nurse
        .set_task_status(
            &p,
            &cancelled.id,
            TaskStatus::Cancelled,
            Some("GP referred instead".into()),
        )
        .expect("cancel");
    nurse
        .add_task(
            &p,
            TaskInput {
                kind: TaskKind::Other("Order compression hosiery".into()),
                description: "Class 2, below knee".into(),
                assignee: TaskAssignee::User {
                    user_id: "user-phone-colleague".into(),
                    display_name: "Priya Shah".into(),
                },
                due: today + Duration::days(7),
                ready: true,
            },
        )
        .expect("task for a colleague");

    let med = |input: MedicationInput| nurse.record_medication(&p, input).expect("medication");
    let dose = MedicationInput {
        visit_id: Some(high.visit.id.clone()),
        drug: "Insulin aspart (NovoRapid)".into(),
        dose: 8.0,
        unit: DoseUnit::Units,
        route: Route::Subcutaneous,
        at: now - Duration::hours(3),
        given: true,
        not_given_reason: None,
        controlled_drug: false,
        witness: None,
        syringe_driver: None,
        note: None,
    };
    med(dose.clone());
    med(MedicationInput {
        drug: "Morphine sulfate".into(),
        dose: 10.0,
        unit: DoseUnit::Milligrams,
        route: Route::SyringeDriver,
        controlled_drug: true,
        witness: Some(Witness {
            user_id: "user-phone-colleague".into(),
            display_name: "Priya Shah".into(),
        }),
        syringe_driver: Some(SyringeDriverCheck {
            rate_ml_per_hour: 0.7,
            volume_remaining_ml: 12.5,
            site: "left upper chest".into(),
            site_ok: true,
        }),
        ..dose.clone()
    });
    med(MedicationInput {
        given: false,
        not_given_reason: Some("Blood glucose 3.2 mmol/l: GP informed".into()),
        ..dose.clone()
    });
    let mistake = med(MedicationInput { dose: 80.0, ..dose });
    nurse
        .mark_entered_in_error(&p, &mistake.id, "Typed 80 for 8")
        .expect("eie medication");

    let assess = |definition: &str, answers: Vec<A>| {
        nurse
            .record_assessment(
                &p,
                AssessmentInput {
                    definition_id: definition.into(),
                    definition_version: 1,
                    answers,
                    visit_id: Some(high.visit.id.clone()),
                    assessed_at: now - Duration::hours(2),
                },
            )
            .expect("assessment")
    };
    assess("must", must_measured());
    assess(
        "must",
        vec![
            A::choice("bmi", "subjective_thin"),
            A::choice("weight_loss", "subjective_signs_of_loss"),
            A::choice("acute_disease", "no"),
            A::choice("overall_risk", "medium"),
        ],
    );
    let mut waterlow = waterlow_first_half();
    waterlow.extend(waterlow_second_half());
    assess("waterlow", waterlow);
    let first = nurse
        .record_wound_assessment(&p, wound(None, 42.0, 30.5, 14))
        .expect("wound");
    nurse
        .record_wound_assessment(&p, wound(Some(first.wound_id.clone()), 35.0, 22.0, 1))
        .expect("wound again");
    let _ = (&episode, NaiveDate::MIN);

    // The advice record, written on the advice worker's phone with the person's consent.
    exchange(&nurse, &adviser);
    let need = adviser
        .add_advice_need(
            &p,
            AdviceCategory::BenefitsAndTaxCredits,
            "Attendance Allowance not claimed",
        )
        .expect("need");
    adviser
        .add_advice_action(&p, &need.id, "Helped complete the AA1 form")
        .expect("action");
    adviser
        .record_advice_outcome(
            &p,
            &need.id,
            "Attendance Allowance awarded, higher rate",
            108_900,
        )
        .expect("outcome");
    adviser.set_consent_to_share(&p, true).expect("consent");
    exchange(&adviser, &nurse);
    (nurse, p)
}

// ---------------------------------------------------------------- the virtual ward (issue 13)

/// A step-down COPD admission two days ago: expected stay 10 days, a personal pulse range of
/// 55–100/min and, if given, an SpO2 target.
pub fn ward_admission(
    spo2_target: Option<crate::clinical::escalation::ReadingRange>,
) -> AdmissionInput {
    use crate::clinical::escalation::{PersonalParameters, ReadingRange};
    AdmissionInput {
        pathway: VirtualWardPathway::Copd,
        route: AdmissionRoute::StepDownHospital,
        referral_source: "Ward 7, Calderdale Royal".into(),
        referral_reason: "COPD exacerbation, early supported discharge".into(),
        admitted_on: crate::record::ward::ward_day(Utc::now()) - Duration::days(2),
        expected_length_of_stay_days: 10,
        responsible_clinician: "Dr A Khan, respiratory consultant".into(),
        parameters: PersonalParameters {
            spo2_target,
            pulse: Some(ReadingRange { low: 55, high: 100 }),
            ..Default::default()
        },
    }
}

/// A complete set scoring NEWS2 6 (medium): RR 22 (2), pulse 112 (2), temperature 38.5 (1),
/// systolic 105 (1).
pub fn news2_six() -> Observations {
    Observations {
        respiration_rate: Some(22),
        pulse: Some(112),
        temperature_c: Some(38.5),
        systolic_bp: Some(105),
        ..normal_observations()
    }
}

/// An advice worker `w<n>` at `at` (the outreach benches' case workers).
pub fn advice_worker(n: usize, at: chrono::DateTime<Utc>) -> Author {
    Author {
        user_id: format!("w{n}"),
        display_name: format!("Worker {n}"),
        role: Role::AdviceWorker,
        device_id: format!("dev-{n}"),
        at,
    }
}

/// The `i`th of a mix of financial effects: weekly and monthly income, a write-off, a grant,
/// four-weekly costs avoided and one-off income, with amounts from £10 to £2,010.
pub fn financial_effect(i: usize) -> FinancialEffectInput {
    use FinancialEffectKind::*;
    let (kind, period) = match i % 6 {
        0 => (IncomeGained, Some(Period::Weekly)),
        1 => (IncomeGained, Some(Period::Monthly)),
        2 => (DebtWrittenOff, None),
        3 => (GrantOrOneOff, None),
        4 => (CostsAvoided, Some(Period::FourWeekly)),
        _ => (IncomeGained, None),
    };
    FinancialEffectInput {
        kind,
        amount_pence: 1_000 + (i as i64 * 7_919) % 200_000,
        recurring: period.is_some(),
        period,
    }
}

/// The day benchmarks' care plan for the `i`th person of a caseload (core/benches/day.rs,
/// bindings/benches/boundary.rs and, written again in their languages, the Kotlin and Swift
/// boundary benches): one problem, one goal and one intervention allocated to `clinician`. With
/// `due_today`, the intervention is due on `today` (even `i`: insulin at 08:00; odd: a daily
/// dressing); otherwise on other days (even: 3× weekly from yesterday; odd: weekly on another
/// weekday).
pub fn day_plan(
    store: &FieldStore,
    person_id: &str,
    i: usize,
    due_today: bool,
    today: chrono::NaiveDate,
    clinician: &str,
) -> crate::error::Result<()> {
    let problem = store.add_plan_problem(person_id, "Leg ulcer and diabetes")?;
    let goal = store.add_plan_goal(
        person_id,
        GoalInput {
            problem_id: problem.id,
            text: "Healed by the review".into(),
            target_date: None,
            status: GoalStatus::Active,
        },
    )?;
    let (kind, frequency, starts_on) = match (due_today, i.is_multiple_of(2)) {
        (true, true) => (
            Intervention::Insulin,
            Frequency::DailyAt {
                times: vec!["08:00".into()],
            },
            today,
        ),
        (true, false) => (
            Intervention::WoundCare,
            Frequency::EveryNDays { days: 1 },
            today,
        ),
        // 3× weekly (days 0, 2, 4 of each week from the start): day 1 is today.
        (false, true) => (
            Intervention::WoundCare,
            Frequency::TimesPerWeek { times: 3 },
            today - Duration::days(1),
        ),
        (false, false) => {
            let other = DayOfWeek::of(today + Duration::days(1 + (i as i64 % 6)));
            (
                Intervention::CatheterCare,
                Frequency::OnWeekdays { days: vec![other] },
                today,
            )
        }
    };
    store.add_plan_intervention(
        person_id,
        PlanInterventionInput {
            goal_id: goal.id,
            description: kind.label(),
            kind,
            frequency,
            window_start: None,
            window_end: None,
            tolerance_minutes: None,
            priority: None,
            clinician: Some(clinician.to_string()),
            starts_on,
            ends_on: None,
            contact_type: ContactType::HomeVisit,
        },
    )?;
    Ok(())
}
