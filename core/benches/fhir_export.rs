//! FHIR export of one person (issue 15: "export of one person with a year of visits (156):
//! < 50 ms from the core"), beside a baseline measured in the same run: `patient(id)`, reading the
//! same record the export reads, so the ratio is what building the Bundle adds.
//!
//!     cargo bench -p doorstep-core --bench fhir_export
//!     DOORSTEP_FHIR_PEOPLE=1 DOORSTEP_FHIR_VISITS=156 cargo bench -p doorstep-core --bench fhir_export
//!
//! Each person has `DOORSTEP_FHIR_VISITS` visits (default 156: three a week for a year), each a
//! completed home visit with 8 observations (NEWS2 scored), 3 interventions and a 500-character
//! note, plus four alerts, a care plan with two interventions, a task, a medication
//! administration, a MUST and a wound assessment. Each iteration exports the next person in turn
//! (`DOORSTEP_FHIR_PEOPLE`, default 1). Medians are in
//! `target/criterion/fhir_export/*/new/estimates.json`.
//!
//! | bench | what |
//! |---|---|
//! | `export_fhir` | `FieldStore::export_fhir(id)`: the record read under one lock, the policy, the Bundle built and serialised |
//! | `patient_read` | the baseline: `FieldStore::patient(id)` of the same person (the documents read into a `PersonRecord`) |

mod common;

use std::hint::black_box;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::record::*;
use doorstep_core::{testing, FieldStore};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn person(store: &FieldStore, spec: &PersonSpec, visits: usize) -> String {
    let p = store
        .register_patient(spec.demographics())
        .expect("register");
    let now = Utc::now();
    for (kind, text) in [
        (AlertKind::Allergies, "Penicillin: anaphylaxis"),
        (AlertKind::Resuscitation, "DNACPR in place"),
        (AlertKind::Safeguarding, "Financial abuse concern"),
        (AlertKind::RiskToStaff, "Dog in the kitchen"),
    ] {
        store
            .set_alert(
                &p,
                AlertInput {
                    kind,
                    text: text.into(),
                    active: true,
                },
            )
            .expect("alert");
    }
    for i in 0..visits {
        // Three visits a week, oldest first, over the year before now.
        let mut v = testing::full_visit(0);
        v.started_at = now - Days::hours(1 + (visits - i) as i64 * 56);
        v.ended_at = Some(v.started_at + Days::minutes(25));
        store.record_visit(&p, v).expect("visit");
    }
    let today = doorstep_core::record::schedule::local_date(now);
    let problem = store.add_plan_problem(&p, "Leg ulcer").expect("problem");
    let goal = store
        .add_plan_goal(
            &p,
            GoalInput {
                problem_id: problem.id,
                text: "Healed".into(),
                target_date: None,
                status: GoalStatus::Active,
            },
        )
        .expect("goal");
    for f in [
        Frequency::TimesPerWeek { times: 3 },
        Frequency::DailyAt {
            times: vec!["08:00".into()],
        },
    ] {
        store
            .add_plan_intervention(
                &p,
                PlanInterventionInput {
                    goal_id: goal.id.clone(),
                    kind: Intervention::WoundCare,
                    description: "Dressing change".into(),
                    frequency: f,
                    window_start: None,
                    window_end: None,
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
    store
        .add_task(
            &p,
            TaskInput {
                kind: TaskKind::BloodsDue,
                description: "HbA1c".into(),
                assignee: TaskAssignee::Role {
                    role: Role::DistrictNurse,
                },
                due: today,
                ready: false,
            },
        )
        .expect("task");
    store
        .record_medication(
            &p,
            MedicationInput {
                visit_id: None,
                drug: "Insulin aspart".into(),
                dose: 8.0,
                unit: DoseUnit::Units,
                route: Route::Subcutaneous,
                at: now - Days::hours(2),
                given: true,
                not_given_reason: None,
                controlled_drug: false,
                witness: None,
                syringe_driver: None,
                note: None,
            },
        )
        .expect("medication");
    store
        .record_assessment(
            &p,
            AssessmentInput {
                definition_id: "must".into(),
                definition_version: 1,
                answers: testing::must_measured(),
                visit_id: None,
                assessed_at: now - Days::hours(1),
            },
        )
        .expect("MUST");
    store
        .record_wound_assessment(&p, testing::wound(None, 40.0, 30.0, 1))
        .expect("wound");
    p
}

fn export(c: &mut Criterion) {
    let people = env_usize("DOORSTEP_FHIR_PEOPLE", 1).max(1);
    let visits = env_usize("DOORSTEP_FHIR_VISITS", 156);
    let dir = scratch_dir("fhir-export");
    let store = FieldStore::open(store_config(&dir.path().join("store.db"))).expect("open");
    let specs = common::people();
    let ids: Vec<String> = specs
        .iter()
        .cycle()
        .take(people)
        .map(|s| person(&store, s, visits))
        .collect();
    store.compact_now().expect("compact");
    let first = store.export_fhir(&ids[0]).expect("export");
    let entries = serde_json::from_str::<serde_json::Value>(&first).expect("json")["entry"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    eprintln!(
        "fhir_export: {people} person(s) × {visits} visits; one Bundle is {} KB, {entries} entries",
        first.len() / 1024
    );

    let mut g = c.benchmark_group("fhir_export");
    let mut i = 0;
    g.bench_function("export_fhir", |b| {
        b.iter(|| {
            i += 1;
            black_box(store.export_fhir(&ids[i % ids.len()]).expect("export"))
        })
    });
    let mut i = 0;
    g.bench_function("patient_read", |b| {
        b.iter(|| {
            i += 1;
            black_box(store.patient(&ids[i % ids.len()]).expect("patient"))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .sample_size(30);
    targets = export
}
criterion_main!(benches);
