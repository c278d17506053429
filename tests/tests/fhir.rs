//! The FHIR export (issue 15, items 1 and 2) checked by the real HAPI FHIR validator (8.8.0,
//! offline, FHIR R4 + UK Core 2.0.0: `tests/fhir-validator`), and its NEWS2 codes compared with
//! NHS England's example bundle.
//!
//! Needs Java 17 and Maven (scripts/setup-jvm.sh) and the conformance resources in
//! `../shared/fhir` beside the repository (or `DOORSTEP_FHIR_DIR`): without them the test fails
//! saying what is missing. It never skips. `scripts/test.sh` runs this file as its own stage.
//!
//!     cargo test -p doorstep-tests --test fhir -- --nocapture

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{Duration, Utc};
use doorstep_core::clinical::assessments::AssessmentAnswer as A;
use doorstep_core::record::schedule::local_date;
use doorstep_core::testing::{self, fuzz::Rng};
use doorstep_core::*;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `../shared/fhir` beside the repository, or `DOORSTEP_FHIR_DIR`.
fn fhir_dir() -> PathBuf {
    let dir = match std::env::var_os("DOORSTEP_FHIR_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root()
            .parent()
            .expect("the repository has a parent")
            .join("shared/fhir"),
    };
    assert!(
        dir.join("ukcore/structuredefinitions").is_dir(),
        "the UK Core conformance resources are not at {} (expected ../shared/fhir beside the \
         repository, as CI lays it out; set DOORSTEP_FHIR_DIR to the shared/fhir folder)",
        dir.display()
    );
    dir
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn newest_mtime(dir: &Path) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .expect("read validator sources")
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                newest = newest.max(t);
            }
        }
    }
    newest
}

/// The validator's jar, built with Maven once per run if it is missing or older than its sources.
fn validator() -> &'static Path {
    static JAR: OnceLock<PathBuf> = OnceLock::new();
    JAR.get_or_init(|| {
        assert!(
            have("java", "-version"),
            "`java` is not on PATH: the FHIR validation needs Java 17 or newer and Maven \
             (run scripts/setup-jvm.sh)"
        );
        let module = repo_root().join("tests/fhir-validator");
        let jar = module.join("target/fhir-validator.jar");
        let sources = newest_mtime(&module.join("src")).max(
            std::fs::metadata(module.join("pom.xml"))
                .and_then(|m| m.modified())
                .expect("tests/fhir-validator/pom.xml"),
        );
        let stale = std::fs::metadata(&jar)
            .and_then(|m| m.modified())
            .map(|built| built < sources)
            .unwrap_or(true);
        if stale {
            assert!(
                have("mvn", "-v"),
                "`mvn` is not on PATH and {} is not built: the FHIR validation needs Maven \
                 (run scripts/setup-jvm.sh)",
                jar.display()
            );
            let out = Command::new("mvn")
                .args(["-q", "-B", "-ntp", "package"])
                .current_dir(&module)
                .output()
                .expect("run mvn");
            assert!(
                out.status.success(),
                "building the FHIR validator failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        jar
    })
}

/// One issue the validator printed.
#[derive(Debug, Clone)]
struct Issue {
    file: String,
    severity: String,
    line: String,
}

struct Validation {
    code: Option<i32>,
    issues: Vec<Issue>,
    summary: String,
    stdout: String,
}

fn validate(dir: &Path) -> Validation {
    validate_with(dir, None)
}

/// Validate every JSON file of `dir`, with the JSON resources of `conformance` (Doorstep's
/// Questionnaires and CodeSystems) loaded beside UK Core.
fn validate_with(dir: &Path, conformance: Option<&Path>) -> Validation {
    let mut cmd = Command::new("java");
    cmd.arg("-jar")
        .arg(validator())
        .arg(dir)
        .arg("--ukcore")
        .arg(fhir_dir().join("ukcore"));
    if let Some(c) = conformance {
        cmd.arg("--conformance").arg(c);
    }
    let out = cmd.output().expect("run the FHIR validator");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let issues = stdout
        .lines()
        .filter_map(|l| {
            let (file, rest) = l.split_once(".json: ")?;
            let severity = rest.split_whitespace().next()?.to_string();
            Some(Issue {
                file: format!("{file}.json"),
                severity,
                line: l.to_string(),
            })
        })
        .collect();
    let summary = stdout
        .lines()
        .filter(|l| l.starts_with("validated ") || l.starts_with("warnings of kind"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        stdout.contains("validated "),
        "the validator did not finish (exit {:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    Validation {
        code: out.status.code(),
        issues,
        summary,
        stdout,
    }
}

fn errors<'a>(v: &'a Validation, file: &str) -> Vec<&'a Issue> {
    v.issues
        .iter()
        .filter(|i| i.file == file && (i.severity == "ERROR" || i.severity == "FATAL"))
        .collect()
}

// ---------------------------------------------------------------- random records

fn pick<'a, T>(rng: &mut Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.below(xs.len())]
}

/// Free text as a nurse (or a buggy keyboard) might type it: words, punctuation, markup,
/// accents, emoji, and now and then a control character FHIR cannot carry.
fn words(rng: &mut Rng, n: usize) -> String {
    const W: &[&str] = &[
        "wound",
        "dressing",
        "changed",
        "Aquacel",
        "<b>",
        "&",
        "\"quoted\"",
        "café",
        "naïve",
        "😀",
        "—",
        "pain 3/10",
        "\u{0}",
        "\u{7}",
        "\u{1b}[31m",
        "\t",
        "\n",
        "\u{85}",
        "ok",
        "leg",
        "GP",
        "O'Neil",
        "50%",
        "{x}",
        "\\",
        "  ",
    ];
    let mut s = String::new();
    for _ in 0..(1 + rng.below(n)) {
        s.push_str(*pick(rng, W));
        s.push(' ');
    }
    s.push_str("end");
    s
}

/// A valid NHS number made from 9 random digits (those whose check digit would be 10 are
/// skipped).
fn nhs_number(rng: &mut Rng) -> String {
    loop {
        let digits: Vec<u32> = (0..9).map(|_| rng.below(10) as u32).collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * (10 - i as u32))
            .sum();
        let check = (11 - sum % 11) % 11;
        if check == 10 {
            continue;
        }
        let mut s: String = digits
            .iter()
            .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
            .collect();
        s.push(char::from_digit(check, 10).unwrap_or('0'));
        return s;
    }
}

fn random_observations(rng: &mut Rng) -> Option<Observations> {
    let some = |rng: &mut Rng| rng.below(5) != 0;
    let mut o = Observations::default();
    if some(rng) {
        o.respiration_rate = Some(5 + rng.below(40) as u32);
    }
    if some(rng) {
        o.spo2_percent = Some(80 + rng.below(21) as u32);
    }
    if some(rng) {
        o.on_oxygen = Some(rng.below(3) == 0);
    }
    if some(rng) {
        o.systolic_bp = Some(70 + rng.below(150) as u32);
    }
    if some(rng) {
        let cap = o.systolic_bp.unwrap_or(200).saturating_sub(21).max(20);
        o.diastolic_bp = Some(20 + rng.below((cap - 20 + 1) as usize) as u32);
    }
    if some(rng) {
        o.pulse = Some(30 + rng.below(150) as u32);
    }
    if some(rng) {
        o.consciousness = Some(*pick(
            rng,
            &[
                Consciousness::Alert,
                Consciousness::NewConfusion,
                Consciousness::Voice,
                Consciousness::Pain,
                Consciousness::Unresponsive,
            ],
        ));
    }
    if some(rng) {
        o.temperature_c = Some(34.0 + rng.below(80) as f64 / 10.0);
    }
    (!o.is_empty()).then_some(o)
}

/// A random record on a nurse's phone (and, with a colleague's, conflicts; with an adviser's,
/// an advice record): every call goes through the store's public API, so the record is one the
/// app could hold.
fn random_record(dir: &Path, seed: u64) -> (FieldStore, String) {
    let mut rng = Rng::new(seed);
    let nurse = testing::open(&dir.join("nurse.db"), "phone-n", Role::DistrictNurse);
    let now = Utc::now();
    let today = local_date(now);
    let nhs = (rng.below(4) != 0).then(|| nhs_number(&mut rng));
    let d = Demographics {
        // Half the numbers as a GP summary gave them, traced ("01"), half typed in ("02").
        nhs_number_verified: nhs.clone().filter(|_| rng.below(2) == 0),
        nhs_number: nhs,
        given_name: words(&mut rng, 2),
        family_name: format!("Family{seed}"),
        preferred_name: (rng.below(3) == 0).then(|| words(&mut rng, 1)),
        date_of_birth: (rng.below(5) != 0)
            .then(|| today - Duration::days(365 * 20 + rng.below(365 * 80) as i64)),
        address: (rng.below(5) != 0).then(|| Address {
            lines: vec![words(&mut rng, 3)],
            postcode: "LS6 2QT".into(),
        }),
        phone: (rng.below(2) == 0).then(|| "0113 496 0000".into()),
        access_notes: (rng.below(2) == 0).then(|| words(&mut rng, 6)),
        gp_practice: (rng.below(2) == 0).then(|| words(&mut rng, 2)),
        gp_practice_ods: (rng.below(2) == 0).then(|| format!("P{:05}", rng.below(99_999))),
        stated_gender: (rng.below(3) != 0).then(|| *pick(&mut rng, &StatedGender::ALL)),
        ethnic_category: (rng.below(3) != 0).then(|| *pick(&mut rng, &EthnicCategory::ALL)),
        next_of_kin: (rng.below(2) == 0).then(|| Contact {
            name: words(&mut rng, 2),
            relationship: (rng.below(2) == 0).then(|| words(&mut rng, 1)),
            phone: None,
        }),
        carer: (rng.below(3) == 0).then(|| Contact {
            name: words(&mut rng, 2),
            relationship: None,
            phone: Some("07700 900000".into()),
        }),
        ..Default::default()
    };
    let p = nurse.register_patient(d).expect("register");
    let mut entries: Vec<String> = Vec::new();
    for _ in 0..rng.below(4) {
        let kind = *pick(&mut rng, &AlertKind::ALL);
        nurse
            .set_alert(
                &p,
                AlertInput {
                    kind,
                    text: words(&mut rng, 4),
                    active: rng.below(4) != 0,
                },
            )
            .ok();
    }
    if rng.below(3) == 0 {
        // A conflict: a colleague sets the same alert offline.
        let colleague = testing::open(&dir.join("colleague.db"), "phone-c", Role::DistrictNurse);
        testing::exchange(&nurse, &colleague);
        let kind = *pick(&mut rng, &AlertKind::ALL);
        for s in [&nurse, &colleague] {
            s.set_alert(
                &p,
                AlertInput {
                    kind,
                    text: words(&mut rng, 3),
                    active: true,
                },
            )
            .ok();
        }
        testing::exchange(&colleague, &nurse);
    }
    for _ in 0..rng.below(3) {
        let e = nurse
            .add_episode(
                &p,
                EpisodeInput {
                    service: *pick(
                        &mut rng,
                        &[
                            Service::DistrictNursing,
                            Service::VirtualWard(VirtualWardPathway::Frailty),
                            Service::VirtualWard(VirtualWardPathway::HeartFailure),
                            Service::VirtualWard(VirtualWardPathway::Other),
                        ],
                    ),
                    referral_source: words(&mut rng, 2),
                    referral_reason: words(&mut rng, 3),
                    accepted_on: today - Duration::days(10 + rng.below(100) as i64),
                },
            )
            .expect("episode");
        if rng.below(2) == 0 {
            nurse
                .discharge_episode(
                    &p,
                    &e.id,
                    today - Duration::days(rng.below(9) as i64),
                    "done",
                )
                .expect("discharge");
        }
        entries.push(e.id);
    }
    let mut visits = Vec::new();
    for i in 0..rng.below(12) {
        let start = now - Duration::hours(2 + 24 * i as i64 + rng.below(20) as i64);
        let outcome = *pick(
            &mut rng,
            &[
                VisitOutcome::Completed,
                VisitOutcome::Completed,
                VisitOutcome::NoAccess,
                VisitOutcome::Declined,
                VisitOutcome::Rescheduled,
            ],
        );
        let r = nurse
            .record_visit(
                &p,
                VisitInput {
                    planned_visit_id: None,
                    contact_type: *pick(
                        &mut rng,
                        &[
                            ContactType::HomeVisit,
                            ContactType::Telephone,
                            ContactType::Video,
                        ],
                    ),
                    started_at: start,
                    ended_at: (rng.below(4) != 0).then(|| start + Duration::minutes(20)),
                    outcome,
                    interventions: (0..rng.below(3))
                        .map(|_| {
                            pick(
                                &mut rng,
                                &[
                                    Intervention::WoundCare,
                                    Intervention::Insulin,
                                    Intervention::CatheterCare,
                                    Intervention::Venepuncture,
                                    Intervention::PalliativeCare,
                                    Intervention::Other("Falls advice".into()),
                                ],
                            )
                            .clone()
                        })
                        .collect(),
                    note: (rng.below(2) == 0).then(|| words(&mut rng, 12)),
                    observations: if outcome == VisitOutcome::Completed {
                        random_observations(&mut rng)
                    } else {
                        None
                    },
                    scheduled_visit: None,
                    outcome_reason: (outcome != VisitOutcome::Completed)
                        .then(|| words(&mut rng, 3)),
                    interventions_done: vec![],
                },
            )
            .expect("visit");
        entries.push(r.visit.id.clone());
        if let Some(o) = &r.observations {
            entries.push(o.id.clone());
        }
        visits.push(r.visit.id);
    }
    if rng.below(2) == 0 {
        let visit = (!visits.is_empty()).then(|| pick(&mut rng, &visits).clone());
        let n = nurse
            .add_note(&p, visit, &words(&mut rng, 8))
            .expect("note");
        entries.push(n.id);
    }
    if rng.below(2) == 0 {
        let problem = nurse
            .add_plan_problem(&p, &words(&mut rng, 3))
            .expect("problem");
        let goal = nurse
            .add_plan_goal(
                &p,
                GoalInput {
                    problem_id: problem.id,
                    text: words(&mut rng, 4),
                    target_date: (rng.below(2) == 0).then(|| today + Duration::days(20)),
                    status: *pick(
                        &mut rng,
                        &[
                            GoalStatus::Active,
                            GoalStatus::Achieved,
                            GoalStatus::Stopped,
                        ],
                    ),
                },
            )
            .expect("goal");
        for _ in 0..1 + rng.below(3) {
            let frequency = pick(
                &mut rng,
                &[
                    Frequency::DailyAt {
                        times: vec!["09:30".into()],
                    },
                    Frequency::TimesPerWeek { times: 2 },
                    Frequency::OnWeekdays {
                        days: vec![DayOfWeek::Friday],
                    },
                    Frequency::EveryNDays { days: 3 },
                    Frequency::AsNeeded,
                ],
            )
            .clone();
            nurse
                .add_plan_intervention(
                    &p,
                    PlanInterventionInput {
                        goal_id: goal.id.clone(),
                        kind: Intervention::WoundCare,
                        description: words(&mut rng, 3),
                        frequency,
                        window_start: Some("09:00".into()),
                        window_end: Some("12:00".into()),
                        tolerance_minutes: None,
                        priority: None,
                        clinician: None,
                        starts_on: today,
                        ends_on: None,
                        contact_type: ContactType::HomeVisit,
                    },
                )
                .expect("intervention");
        }
    }
    for _ in 0..rng.below(3) {
        let t = nurse
            .add_task(
                &p,
                TaskInput {
                    kind: TaskKind::Review,
                    description: words(&mut rng, 3),
                    assignee: TaskAssignee::Role {
                        role: Role::DistrictNurse,
                    },
                    due: today + Duration::days(rng.below(10) as i64),
                    ready: rng.below(2) == 0,
                },
            )
            .expect("task");
        match rng.below(3) {
            0 => {
                nurse
                    .complete_task(&p, &t.id, Some(words(&mut rng, 2)))
                    .expect("complete");
            }
            1 => {
                nurse
                    .set_task_status(&p, &t.id, TaskStatus::InProgress, None)
                    .expect("in progress");
            }
            _ => {}
        }
        entries.push(t.id);
    }
    for _ in 0..rng.below(3) {
        let given = rng.below(3) != 0;
        let m = nurse
            .record_medication(
                &p,
                MedicationInput {
                    visit_id: (!visits.is_empty()).then(|| pick(&mut rng, &visits).clone()),
                    drug: words(&mut rng, 2),
                    dose: 1.0 + rng.below(40) as f64 / 4.0,
                    unit: *pick(
                        &mut rng,
                        &[
                            DoseUnit::Milligrams,
                            DoseUnit::Micrograms,
                            DoseUnit::Units,
                            DoseUnit::Millilitres,
                        ],
                    ),
                    route: *pick(
                        &mut rng,
                        &[
                            Route::Oral,
                            Route::Subcutaneous,
                            Route::Intramuscular,
                            Route::Intravenous,
                            Route::Topical,
                            Route::Inhaled,
                        ],
                    ),
                    at: now - Duration::hours(1 + rng.below(48) as i64),
                    given,
                    not_given_reason: (!given).then(|| words(&mut rng, 2)),
                    controlled_drug: false,
                    witness: None,
                    syringe_driver: None,
                    note: (rng.below(2) == 0).then(|| words(&mut rng, 3)),
                },
            )
            .expect("medication");
        entries.push(m.id);
    }
    if rng.below(2) == 0 {
        let a = nurse
            .record_assessment(
                &p,
                AssessmentInput {
                    definition_id: "must".into(),
                    definition_version: 1,
                    answers: vec![
                        A::measured(
                            "bmi",
                            &[
                                ("height_cm", 150.0 + rng.below(40) as f64),
                                ("weight_kg", 40.0 + rng.below(60) as f64),
                            ],
                        ),
                        A::choice(
                            "weight_loss",
                            *pick(&mut rng, &["loss_under_5", "loss_5_to_10", "loss_over_10"]),
                        ),
                        A::choice("acute_disease", *pick(&mut rng, &["no", "yes"])),
                    ],
                    visit_id: None,
                    assessed_at: now - Duration::hours(1),
                },
            )
            .expect("MUST");
        entries.push(a.id);
    }
    if rng.below(2) == 0 {
        let mut answers = testing::waterlow_first_half();
        answers.extend(testing::waterlow_second_half());
        let a = nurse
            .record_assessment(
                &p,
                AssessmentInput {
                    definition_id: "waterlow".into(),
                    definition_version: 1,
                    answers,
                    visit_id: None,
                    assessed_at: now - Duration::hours(1),
                },
            )
            .expect("Waterlow");
        entries.push(a.id);
    }
    if rng.below(2) == 0 {
        let w = nurse
            .record_wound_assessment(
                &p,
                testing::wound(None, 10.0 + rng.below(50) as f64, 5.0, 3),
            )
            .expect("wound");
        entries.push(w.id);
    }
    // Some entries are marked entered in error.
    for _ in 0..rng.below(3) {
        if entries.is_empty() {
            break;
        }
        let e = pick(&mut rng, &entries).clone();
        nurse
            .mark_entered_in_error(&p, &e, &words(&mut rng, 2))
            .ok();
    }
    if rng.below(2) == 0 {
        let adviser = testing::open(&dir.join("adviser.db"), "phone-a", Role::AdviceWorker);
        testing::exchange(&nurse, &adviser);
        let need = adviser
            .add_advice_need(&p, AdviceCategory::Debt, &words(&mut rng, 3))
            .expect("need");
        adviser
            .add_advice_action(&p, &need.id, &words(&mut rng, 3))
            .expect("action");
        adviser
            .record_advice_outcome(&p, &need.id, &words(&mut rng, 2), rng.below(500_000) as i64)
            .expect("outcome");
        adviser
            .set_consent_to_share(&p, rng.below(2) == 0)
            .expect("consent");
        testing::exchange(&adviser, &nurse);
    }
    (nurse, p)
}

// ---------------------------------------------------------------- the tests

/// Every exported Bundle — the full record (as the nurse, as the advice worker who wrote its
/// advice record) and 20 random records — validates against FHIR R4 + UK Core 2.0.0 with zero
/// errors. A deliberately broken copy is validated in the same run and must fail, so the run
/// shows the validator sees errors at all.
#[test]
fn hapi_validates_every_exported_bundle_with_zero_errors() {
    let work = tempfile::tempdir().expect("tempdir");
    // The Bundles are kept for a look after the run (target/tmp/fhir-bundles).
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhir-bundles");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("mkdir");
    let full = work.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    let (nurse, person) = testing::full_record(&full);
    let bundle = nurse.export_fhir(&person).expect("export");
    std::fs::write(out.join("full-nurse.json"), &bundle).expect("write");
    let adviser = testing::open(
        &full.join("adviser.db"),
        "phone-adviser",
        Role::AdviceWorker,
    );
    std::fs::write(
        out.join("full-adviser.json"),
        adviser.export_fhir(&person).expect("export"),
    )
    .expect("write");

    let mut exported = vec![
        "full-nurse.json".to_string(),
        "full-adviser.json".to_string(),
    ];
    for seed in 1..=20u64 {
        let d = work.path().join(format!("random-{seed}"));
        std::fs::create_dir(&d).expect("mkdir");
        let (s, p) = random_record(&d, seed);
        let name = format!("random-{seed:02}.json");
        std::fs::write(out.join(&name), s.export_fhir(&p).expect("export")).expect("write");
        exported.push(name);
    }

    // A GP summary (the import's fixture) validates itself; imported into a caseload, with one
    // import marked entered in error and the allergies alert beside it, it exports again as
    // coded AllergyIntolerance, Condition and Flag resources.
    let summary_text =
        std::fs::read_to_string(repo_root().join("core/src/fhir/import/gp-summary.json"))
            .expect("the GP summary fixture");
    std::fs::write(out.join("import-gp-summary.json"), &summary_text).expect("write");
    exported.push("import-gp-summary.json".to_string());
    let imp = work.path().join("imported");
    std::fs::create_dir(&imp).expect("mkdir");
    let importer = testing::open(&imp.join("nurse.db"), "phone-i", Role::DistrictNurse);
    let report = importer.import_fhir(&summary_text).expect("import");
    assert_eq!(report.added, 4, "{report:?}");
    let held = importer.patient(&report.person_id).expect("read");
    let flag = &held.clinical.as_ref().expect("clinical").imported[2];
    importer
        .mark_entered_in_error(&report.person_id, &flag.id, "not this person's diet")
        .expect("mark");
    let again = importer.export_fhir(&report.person_id).expect("export");
    let kinds: Vec<String> = serde_json::from_str::<Value>(&again).expect("json")["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| {
            e["resource"]["identifier"][0]["system"]
                .as_str()
                .is_some_and(|s| s.ends_with("/Id/imported-from"))
        })
        .map(|e| {
            format!(
                "{} {}",
                e["resource"]["resourceType"].as_str().unwrap_or_default(),
                e["resource"]["code"]["coding"][0]["code"]
                    .as_str()
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "AllergyIntolerance 372687004",
            "Condition 26322001",
            "Flag 226201008"
        ]
    );
    assert!(again.contains("\"status\":\"entered-in-error\""));
    std::fs::write(out.join("imported-nurse.json"), &again).expect("write");
    exported.push("imported-nurse.json".to_string());

    // The control: the full Bundle with one SpO2 unit changed to "%" (UK Core fixes "percent").
    let mut broken: Value = serde_json::from_str(&bundle).expect("json");
    let entries = broken["entry"].as_array_mut().expect("entries");
    let spo2 = entries
        .iter_mut()
        .find(|e| {
            e["resource"]["meta"]["profile"][0]
                .as_str()
                .is_some_and(|p| p.ends_with("VitalSigns-OxygenSaturation"))
        })
        .expect("an SpO2 observation");
    spo2["resource"]["valueQuantity"]["unit"] = Value::from("%");
    std::fs::write(out.join("control-broken.json"), broken.to_string()).expect("write");
    // The second control: a QuestionnaireResponse answering with a code its Questionnaire does
    // not offer (so the responses are checked against the published Questionnaires).
    let mut off_form: Value = serde_json::from_str(&bundle).expect("json");
    let qr = off_form["entry"]
        .as_array_mut()
        .expect("entries")
        .iter_mut()
        .find(|e| e["resource"]["resourceType"] == "QuestionnaireResponse")
        .expect("a QuestionnaireResponse");
    let answer = qr["resource"]["item"]
        .as_array_mut()
        .and_then(|items| {
            items
                .iter_mut()
                .find(|i| i["answer"][0]["valueCoding"].is_object())
        })
        .expect("a coded answer");
    answer["answer"][0]["valueCoding"]["code"] = Value::from("not-on-the-form");
    std::fs::write(out.join("control-off-form.json"), off_form.to_string()).expect("write");

    // The assessment definitions as published (Questionnaires and their answer CodeSystems):
    // validated themselves, and loaded so every QuestionnaireResponse is checked against its
    // Questionnaire.
    let published = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhir-published");
    let _ = std::fs::remove_dir_all(&published);
    std::fs::create_dir_all(&published).expect("mkdir");
    for r in doorstep_core::fhir::questionnaires::published() {
        let name = format!(
            "{}-{}.json",
            r["resourceType"].as_str().expect("type"),
            r["id"].as_str().expect("id")
        );
        std::fs::write(published.join(&name), r.to_string()).expect("write");
        std::fs::write(out.join(format!("published-{name}")), r.to_string()).expect("write");
        exported.push(format!("published-{name}"));
    }

    let v = validate_with(&out, Some(&published));
    println!("{}", v.summary);
    let failed: Vec<&Issue> = exported.iter().flat_map(|f| errors(&v, f)).collect();
    assert!(
        failed.is_empty(),
        "{} validation errors in the exported Bundles (kept in {}):\n{}",
        failed.len(),
        out.display(),
        failed
            .iter()
            .take(200)
            .map(|i| i.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let control = errors(&v, "control-broken.json");
    assert!(
        control
            .iter()
            .any(|i| i.line.contains("fixed to 'percent'")),
        "the broken control was not refused:\n{}",
        v.stdout
    );
    let off = errors(&v, "control-off-form.json");
    assert!(
        off.iter().any(|i| i.line.contains("not-on-the-form")),
        "the off-form answer was not refused:\n{}",
        v.stdout
    );
    assert_eq!(
        v.code,
        Some(1),
        "the validator exits 1 when a file has an error"
    );
    println!(
        "{} exported bundles validated with 0 errors ({} warnings); the broken control had {} error(s)",
        exported.len(),
        v.issues
            .iter()
            .filter(|i| i.severity == "WARNING" && !i.file.starts_with("control-"))
            .count(),
        control.len()
    );
}

// ---------------------------------------------------------------- against NHS England's example

/// `(system, code)` pairs of every coding of an XML element's `<code>` (not nested deeper than
/// `<code><coding>`), read with a small scanner: the example file is machine-written XML.
fn xml_codings(block: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = block;
    while let Some(i) = rest.find("<coding>") {
        let after = &rest[i..];
        let end = after.find("</coding>").unwrap_or(after.len());
        let c = &after[..end];
        let attr = |tag: &str| {
            c.find(&format!("<{tag} value=\""))
                .map(|s| {
                    let v = &c[s + tag.len() + 9..];
                    v[..v.find('"').unwrap_or(0)].to_string()
                })
                .unwrap_or_default()
        };
        out.push((attr("system"), attr("code")));
        rest = &after[end..];
    }
    out
}

/// The example's Observations: each one's codings (of its `<code>`, its components' and its
/// value), its unit codes, and its category codes.
struct XmlObservation {
    code: Vec<(String, String)>,
    components: Vec<Vec<(String, String)>>,
    units: Vec<String>,
    value: Vec<(String, String)>,
    derived_from: usize,
}

fn example_observations() -> Vec<XmlObservation> {
    let path = fhir_dir().join("ukcore/examples/UKCore-Bundle-NEWS2Observations-Example.xml");
    let xml = std::fs::read_to_string(&path).expect("the NEWS2 example");
    xml.split("<Observation>")
        .skip(1)
        .map(|o| {
            let o = &o[..o.find("</Observation>").unwrap_or(o.len())];
            let section = |open: &str, close: &str, s: &str| -> Vec<String> {
                s.split(open)
                    .skip(1)
                    .map(|x| x[..x.find(close).unwrap_or(x.len())].to_string())
                    .collect()
            };
            let head = &o[..o.find("<component>").unwrap_or(o.len())];
            let code_block = section("<code>", "</code>\n", head)
                .into_iter()
                .next()
                .unwrap_or_default();
            XmlObservation {
                code: xml_codings(&code_block),
                components: section("<component>", "</component>", o)
                    .iter()
                    .map(|c| xml_codings(c))
                    .collect(),
                units: o
                    .split("<code value=\"")
                    .skip(1)
                    .filter_map(|x| x.split('"').next())
                    .filter(|c| {
                        c.starts_with('{')
                            || ["%", "Cel", "mm[Hg]", "{beats}/min", "{Breaths}/min"].contains(c)
                    })
                    .map(str::to_string)
                    .collect(),
                value: section("<valueCodeableConcept>", "</valueCodeableConcept>", o)
                    .iter()
                    .flat_map(|c| xml_codings(c))
                    .collect(),
                derived_from: o.matches("<derivedFrom>").count(),
            }
        })
        .collect()
}

fn json_codings(v: &Value) -> Vec<(String, String)> {
    v["coding"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["system"].as_str().unwrap_or_default().to_string(),
                        c["code"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";

/// The NEWS2 total and the vitals it is derived from use NHS England's code systems and codes
/// (UKCore-Bundle-NEWS2Observations-Example.xml): the total's SNOMED CT code and `{ScoreOf}`
/// unit, the same sub-score codes for the same parameters, and for every vital the example's
/// LOINC code and a SNOMED CT code the example uses — except SpO2, where Doorstep codes
/// 431314004 "Peripheral oxygen saturation" (UK Core's own SpO2 example; the NEWS2 example has
/// its parent 103228002), a documented difference this test holds to.
#[test]
fn news2_codes_match_nhs_englands_example() {
    let example = example_observations();
    let total = example
        .iter()
        .find(|o| o.code.contains(&(SNOMED.into(), "1104051000000101".into())))
        .expect("the example's NEWS2 total");
    assert_eq!(total.derived_from, 7);
    assert!(
        total.units.iter().all(|u| u == "{ScoreOf}"),
        "{:?}",
        total.units
    );

    // A complete set on air, scale 1, with every parameter (as in the example).
    let dir = tempfile::tempdir().expect("tempdir");
    let store = testing::open(&dir.path().join("n.db"), "phone-n", Role::DistrictNurse);
    let p = store
        .register_patient(testing::demographics("A", "B", None, "LS1 1AA"))
        .expect("register");
    let obs = testing::normal_observations();
    let set = store
        .record_observations(&p, Utc::now() - Duration::minutes(5), obs, None)
        .expect("observations");
    assert_eq!(set.news2.total, Some(0));
    let bundle: Value =
        serde_json::from_str(&store.export_fhir(&p).expect("export")).expect("json");
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let by_id: BTreeMap<String, &Value> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["fullUrl"].as_str().unwrap_or_default().to_string(),
                &e["resource"],
            )
        })
        .collect();
    let news2 = resources
        .iter()
        .find(|r| json_codings(&r["code"]).contains(&(SNOMED.into(), "1104051000000101".into())))
        .expect("our NEWS2 total");
    assert_eq!(news2["valueQuantity"]["code"], "{ScoreOf}");
    assert_eq!(
        news2["valueQuantity"]["system"],
        "http://unitsofmeasure.org"
    );
    assert_eq!(news2["category"][0]["coding"][0]["code"], "survey");
    // Sub-scores: the same set of codes as the example's components.
    let ours: std::collections::BTreeSet<(String, String)> = news2["component"]
        .as_array()
        .expect("components")
        .iter()
        .inspect(|c| assert_eq!(c["valueQuantity"]["code"], "{ScoreOf}"))
        .flat_map(|c| json_codings(&c["code"]))
        .collect();
    let theirs: std::collections::BTreeSet<(String, String)> =
        total.components.iter().flatten().cloned().collect();
    assert_eq!(ours, theirs, "NEWS2 sub-score codes");
    // Every vital the total is derived from, against the example's vital of the same kind.
    let derived: Vec<&Value> = news2["derivedFrom"]
        .as_array()
        .expect("derivedFrom")
        .iter()
        .map(|r| by_id[r["reference"].as_str().unwrap_or_default()])
        .collect();
    assert_eq!(
        derived.len(),
        total.derived_from,
        "one vital per parameter, as in the example"
    );
    let vitals: Vec<&XmlObservation> = example.iter().filter(|o| o.derived_from == 0).collect();
    for v in &derived {
        let codes = json_codings(&v["code"]);
        let loinc: Vec<&(String, String)> = codes.iter().filter(|c| c.0 == LOINC).collect();
        let snomed: Vec<&(String, String)> = codes.iter().filter(|c| c.0 == SNOMED).collect();
        if codes.contains(&(SNOMED.into(), "431314004".into())) {
            let theirs = vitals
                .iter()
                .find(|x| x.code.contains(&(LOINC.into(), "2708-6".into())))
                .expect("the example's SpO2");
            assert_eq!(loinc, vec![&(LOINC.to_string(), "2708-6".to_string())]);
            assert!(theirs.code.contains(&(SNOMED.into(), "103228002".into())));
            assert_eq!(v["valueQuantity"]["code"], "%");
            continue;
        }
        // The example's observation with a SNOMED CT code we use.
        let theirs = vitals
            .iter()
            .find(|x| snomed.iter().any(|c| x.code.contains(c)))
            .unwrap_or_else(|| panic!("no observation in the example has the codes {codes:?}"));
        let their_loinc: Vec<&(String, String)> =
            theirs.code.iter().filter(|c| c.0 == LOINC).collect();
        assert_eq!(loinc, their_loinc, "LOINC of {codes:?}");
        // Units: the example's UCUM code, where it has one our profile allows.
        if let Some(unit) = v["valueQuantity"]["code"].as_str() {
            match unit {
                "/min" => assert!(
                    theirs.units.iter().any(|u| u.ends_with("/min")),
                    "{:?}",
                    theirs.units
                ),
                u => assert!(
                    theirs.units.iter().any(|x| x == u),
                    "{u} vs {:?}",
                    theirs.units
                ),
            }
        }
        for (i, c) in v["component"].as_array().into_iter().flatten().enumerate() {
            let mut cc = json_codings(&c["code"]);
            let mut tc = theirs.components[i].clone();
            cc.sort();
            tc.sort();
            assert_eq!(cc, tc, "component {i} of the blood pressure");
            assert_eq!(c["valueQuantity"]["code"], "mm[Hg]");
        }
        if let Some(value) = v.get("valueCodeableConcept") {
            assert_eq!(json_codings(value), theirs.value, "ACVPU value");
        }
    }
}

/// GET a FHIR route of a real server: (status, content type, body).
fn get(rt: &tokio::runtime::Runtime, url: &str, token: Option<&str>) -> (u16, String, String) {
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("GET");
        let status = r.status().as_u16();
        let media = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, media, r.text().await.expect("body"))
    })
}

/// The server's FHIR reads through a real `doorstep serve` (issue 15 item 1, the server half):
/// a nurse's phone records and syncs; a FHIR integration made with `doorstep admin` finds the
/// person by NHS number and reads `$everything`, which is the phone's own export byte for byte;
/// refusals are OperationOutcomes; every read is in `doorstep admin fhir-reads`; and the
/// searchset, the Bundle and a refusal validate with HAPI with zero errors.
#[test]
fn hapi_validates_the_servers_fhir_answers_and_every_read_is_audited() {
    use doorstep_tests::{integration, leeds_nurse_with_ada, runtime};
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let (backend, server, nurse, p) = leeds_nurse_with_ada(&rt, dir.path());
    let s = &nurse.store;
    s.set_alert(
        &p,
        AlertInput {
            kind: AlertKind::Resuscitation,
            text: "DNACPR form in the blue folder".into(),
            active: true,
        },
    )
    .expect("alert");
    s.add_episode(
        &p,
        EpisodeInput {
            service: Service::DistrictNursing,
            referral_source: "GP".into(),
            referral_reason: "leg ulcer".into(),
            accepted_on: local_date(Utc::now()) - Duration::days(20),
        },
    )
    .expect("episode");
    let mut rng = Rng::new(7);
    for i in 0..3i64 {
        let start = Utc::now() - Duration::days(i + 1);
        s.record_visit(
            &p,
            VisitInput {
                planned_visit_id: None,
                contact_type: ContactType::HomeVisit,
                started_at: start,
                ended_at: Some(start + Duration::minutes(30)),
                outcome: VisitOutcome::Completed,
                interventions: vec![Intervention::WoundCare],
                note: Some(format!("visit {i}")),
                observations: random_observations(&mut rng),
                scheduled_visit: None,
                outcome_reason: None,
                interventions_done: vec![],
            },
        )
        .expect("visit");
    }
    nurse.sync(&rt).expect("sync");

    let (id, token) = integration(&backend, "fhir", "Leeds EPR", "leeds");
    let (_, monitoring) = integration(&backend, "monitoring", "Oximetry", "leeds");
    let search =
        |q: &str, t: Option<&str>| get(&rt, &format!("{}/fhir/Patient?{q}", server.url), t);
    let (status, media, found) = search(
        "identifier=https://fhir.nhs.uk/Id/nhs-number%7C9434765919",
        Some(&token),
    );
    assert_eq!(status, 200, "{found}");
    assert!(media.starts_with("application/fhir+json"), "{media}");
    let v: Value = serde_json::from_str(&found).expect("json");
    assert_eq!(v["type"], "searchset");
    assert_eq!(v["total"], 1);
    let patient = v["entry"][0]["resource"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let everything = |t: Option<&str>, pid: &str| {
        get(
            &rt,
            &format!("{}/fhir/Patient/{pid}/$everything", server.url),
            t,
        )
    };
    let (status, _, bundle) = everything(Some(&token), &patient);
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(
        bundle,
        s.export_fhir(&p).expect("export"),
        "the server's Bundle is the phone's"
    );

    // Refusals, each an OperationOutcome that says what to do.
    let refusals = [
        (
            search("identifier=9434765919", Some(&token)),
            400,
            "the system, a bar",
        ),
        (
            search(
                "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765918",
                Some(&token),
            ),
            400,
            "not valid",
        ),
        (
            search("name=Adams", Some(&token)),
            400,
            "'name' is not supported",
        ),
        (search("identifier=x", None), 401, "bearer token"),
        (search("identifier=x", Some("wrong")), 401, "bearer token"),
        (
            search("identifier=x", Some(&monitoring)),
            403,
            "need a fhir integration",
        ),
        (everything(Some(&token), "nope"), 400, "not a Patient id"),
        (
            everything(Some(&token), "0b1c2d3e-0000-8000-8000-000000000000"),
            404,
            "no Patient",
        ),
    ];
    let mut outcome = String::new();
    for ((status, media, body), want, says) in refusals {
        assert_eq!(status, want, "{body}");
        assert!(media.starts_with("application/fhir+json"), "{media}");
        let o: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(o["resourceType"], "OperationOutcome");
        let d = o["issue"][0]["diagnostics"].as_str().unwrap_or_default();
        assert!(d.contains(says), "{d}");
        outcome = body;
    }

    // The audit: the export with what it sent, the search, the refusals of a known credential.
    let reads = backend.admin(&["fhir-reads", "--person", &p]);
    assert!(
        reads.contains(&id)
            && reads.contains("$everything")
            && reads.contains("sent [demographics,clinical]  exported"),
        "{reads}"
    );
    assert!(reads.contains("matched 1"), "{reads}");
    let all = backend.admin(&["fhir-reads"]);
    assert!(
        all.contains("bad_request") && all.contains("not_found") && all.contains("forbidden"),
        "{all}"
    );
    let listed = backend.admin(&["integrations"]);
    assert!(
        listed.contains("reads team leeds: demographics, clinical"),
        "{listed}"
    );
    // A scope without the clinical record: the Patient and its Flags only.
    backend.admin(&[
        "set-integration-scope",
        &id,
        "--team",
        "leeds",
        "--compartments",
        "demographics",
    ]);
    let (_, _, narrow) = everything(Some(&token), &patient);
    assert!(!narrow.contains("\"Encounter\""), "{narrow}");
    let refused = backend.admin_fails(&[
        "set-integration-scope",
        &id,
        "--team",
        "leeds",
        "--compartments",
        "clinical,wards",
    ]);
    assert!(refused.contains("unknown compartment 'wards'"), "{refused}");

    // The assessment definitions, published without a credential.
    for r in doorstep_core::fhir::questionnaires::published() {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let (status, _, body) = get(&rt, &format!("{}/fhir/{path}", server.url), None);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).expect("json"), r);
    }
    let (status, _, body) = get(
        &rt,
        &format!("{}/fhir/Questionnaire/phq-9", server.url),
        None,
    );
    assert_eq!(status, 404);
    assert!(body.contains("must-1, waterlow-1"), "{body}");

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhir-server");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("mkdir");
    for (name, text) in [
        ("searchset.json", &found),
        ("everything.json", &bundle),
        ("outcome.json", &outcome),
    ] {
        std::fs::write(out.join(name), text).expect("write");
    }
    let v = validate(&out);
    println!("{}", v.summary);
    let failed: Vec<&Issue> = ["searchset.json", "everything.json", "outcome.json"]
        .iter()
        .flat_map(|f| errors(&v, f))
        .collect();
    assert!(
        failed.is_empty(),
        "validation errors in the server's answers (kept in {}):\n{}",
        out.display(),
        failed
            .iter()
            .map(|i| i.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!(
        "the server's searchset, $everything Bundle and OperationOutcome validated with 0 errors"
    );
}
