//! Opening a draft assessment and scoring it (issue 12: target < 5 ms median), against the
//! floor of reading the same row from SQLCipher and parsing its answers, in the same run.
//!
//!     cargo bench -p doorstep-core --bench assessment_draft
//!     DOORSTEP_BENCH_DRAFT_PEOPLE=350 DOORSTEP_BENCH_DRAFTS_EACH=2 cargo bench -p doorstep-core --bench assessment_draft
//!
//! The phone holds `DOORSTEP_BENCH_DRAFT_PEOPLE` people (default 350, a caseload) with
//! `DOORSTEP_BENCH_DRAFTS_EACH` drafts each (default 1): half-filled Waterlow cards (6 of 13
//! sections, a measured BMI among them) and, for every third person, a complete MUST. Each
//! iteration opens the next draft in turn. Medians are in
//! `target/criterion/assessment_draft/*/new/estimates.json`.
//!
//! | bench | what |
//! |---|---|
//! | `store_open_and_score` | `FieldStore::assessment_draft(id)`: the row read, answers parsed, the definition looked up, scored (partial score, missing items) |
//! | `floor_sqlcipher_row` | the baseline: the same row shape read by primary key from a SQLCipher file and its answers parsed, nothing scored |
//! | `score_only` | `clinical::assessments::score` of the parsed answers alone |

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::clinical::assessments::{self, AssessmentAnswer};
use doorstep_core::record::AssessmentDraftInput;
use doorstep_core::{testing, FieldStore};
use rusqlite::params;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn open_draft(c: &mut Criterion) {
    let people = env_usize("DOORSTEP_BENCH_DRAFT_PEOPLE", 350).max(1);
    let each = env_usize("DOORSTEP_BENCH_DRAFTS_EACH", 1).max(1);
    let dir = scratch_dir("assessment-draft");
    let store = FieldStore::open(store_config(&dir.path().join("store.db"))).expect("open");
    let specs = common::people();
    let mut drafts = Vec::new();
    for (i, p) in specs.iter().cycle().take(people).enumerate() {
        let mut d = p.demographics();
        d.nhs_number = None;
        let id = store.register_patient(d).expect("register");
        for _ in 0..each {
            let waterlow = AssessmentDraftInput {
                definition_id: "waterlow".into(),
                definition_version: 1,
                answers: testing::waterlow_first_half(),
                visit_id: None,
            };
            let d = store
                .save_assessment_draft(&id, None, waterlow)
                .expect("draft");
            drafts.push(d.id);
        }
        if i % 3 == 0 {
            let must = AssessmentDraftInput {
                definition_id: "must".into(),
                definition_version: 1,
                answers: testing::must_measured(),
                visit_id: None,
            };
            store.save_assessment_draft(&id, None, must).expect("draft");
        }
    }
    eprintln!(
        "assessment_draft: {people} people, {} drafts ({} Waterlow opened in turn)",
        store.assessment_drafts(None).expect("list").len(),
        drafts.len()
    );

    // The floor: the same rows in a SQLCipher file, read by key and parsed.
    let floor = open_floor(&dir.path().join("floor.db"), true);
    floor
        .execute_batch(
            "CREATE TABLE drafts (draft_id TEXT PRIMARY KEY, person_id TEXT NOT NULL,
                definition_id TEXT NOT NULL, definition_version INTEGER NOT NULL,
                answers TEXT NOT NULL, updated_ms INTEGER NOT NULL) WITHOUT ROWID;",
        )
        .expect("floor schema");
    let answers_json = serde_json::to_string(&testing::waterlow_first_half()).expect("json");
    for (i, id) in drafts.iter().enumerate() {
        floor
            .execute(
                "INSERT INTO drafts VALUES (?1, ?2, 'waterlow', 1, ?3, ?4)",
                params![id, format!("p{i}"), answers_json, i as i64],
            )
            .expect("floor insert");
    }

    let mut g = c.benchmark_group("assessment_draft");
    let mut i = 0;
    g.bench_function("store_open_and_score", |b| {
        b.iter(|| {
            i += 1;
            let d = store
                .assessment_draft(&drafts[i % drafts.len()])
                .expect("open draft");
            assert_eq!(d.score.missing.len(), 7);
            black_box(d)
        })
    });
    let mut i = 0;
    g.bench_function("floor_sqlcipher_row", |b| {
        b.iter(|| {
            i += 1;
            let json: String = floor
                .prepare_cached("SELECT answers FROM drafts WHERE draft_id = ?1")
                .expect("prepare")
                .query_row([&drafts[i % drafts.len()]], |r| r.get(0))
                .expect("row");
            let answers: Vec<AssessmentAnswer> = serde_json::from_str(&json).expect("parse");
            black_box(answers)
        })
    });
    let def = assessments::definition("waterlow", 1).expect("definition");
    let answers = testing::waterlow_first_half();
    g.bench_function("score_only", |b| {
        b.iter(|| black_box(assessments::score(def, black_box(&answers))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = open_draft
}
criterion_main!(benches);
