//! The district nurse's day (issue 12): the today list of a 40-visit day over a 350-person
//! caseload, and a team's 14-day schedule worked out from 350 care plans, each beside a baseline
//! measured in the same run: reading the same visits back as stored rows (`planned_visits` of a
//! store in which they were booked one by one), i.e. what a generate-and-store design would read.
//!
//!     cargo bench -p doorstep-core --bench day
//!     DOORSTEP_DAY_PEOPLE=350 DOORSTEP_DAY_VISITS=40 DOORSTEP_DAY_DAYS=14 cargo bench -p doorstep-core --bench day
//!
//! Medians in `target/criterion/day_*/*/new/estimates.json`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use chrono::{Duration as Days, NaiveTime, Utc};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use doorstep_core::record::schedule::{instant, local_date};
use doorstep_core::record::*;
use doorstep_core::store::{DayQuery, DayScope};
use doorstep_core::{testing, FieldStore};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Sizes {
    people: usize,
    visits: usize,
    days: usize,
}

fn sizes() -> Sizes {
    Sizes {
        people: env("DOORSTEP_DAY_PEOPLE", 350),
        visits: env("DOORSTEP_DAY_VISITS", 40),
        days: env("DOORSTEP_DAY_DAYS", 14),
    }
}

/// A store whose `people` each have a care plan; `visits` of them are due today (half insulin
/// at 08:00 and 17:00 counted as one visit each day by taking only the 08:00 dose, half a daily
/// dressing), the rest are due on other days of the week (3× weekly from a start that misses
/// today, or weekly on another weekday).
fn plans_store(dir: &std::path::Path, s: &Sizes) -> (FieldStore, Vec<String>) {
    let store = FieldStore::open(store_config(&dir.join("plans.db"))).expect("open");
    let today = local_date(Utc::now());
    let specs = people();
    let mut ids = Vec::new();
    for i in 0..s.people {
        let spec = &specs[i % specs.len()];
        let p = store
            .register_patient(spec.demographics())
            .expect("register");
        testing::day_plan(&store, &p, i, i < s.visits, today, &store.user().id).expect("care plan");
        ids.push(p);
    }
    (store, ids)
}

/// The baseline: the same caseload with each of the schedule's visits booked as a stored row.
fn booked_store(
    dir: &std::path::Path,
    s: &Sizes,
    schedule: &[Vec<(String, chrono::DateTime<Utc>)>],
) -> FieldStore {
    let store = FieldStore::open(store_config(&dir.join("booked.db"))).expect("open");
    let specs = people();
    let mut map = std::collections::HashMap::new();
    for day in schedule {
        for (person, start) in day {
            let id = match map.get(person) {
                Some(id) => String::clone(id),
                None => {
                    let spec = &specs[map.len() % specs.len()];
                    let id = store
                        .register_patient(spec.demographics())
                        .expect("register");
                    map.insert(person.clone(), id.clone());
                    id
                }
            };
            store
                .schedule_visit(
                    &id,
                    PlannedVisitInput {
                        planned_start: *start,
                        planned_end: None,
                        clinician: Some(store.user().id),
                        contact_type: ContactType::HomeVisit,
                        purpose: None,
                    },
                )
                .expect("book");
        }
    }
    while map.len() < s.people {
        let spec = &specs[map.len() % specs.len()];
        let id = store
            .register_patient(spec.demographics())
            .expect("register");
        map.insert(format!("extra-{}", map.len()), id);
    }
    store
}

fn day(c: &mut Criterion) {
    let s = sizes();
    let dir = scratch_dir("criterion-day");
    let (store, _) = plans_store(dir.path(), &s);
    let today = local_date(Utc::now());
    let six = instant(today, NaiveTime::from_hms_opt(6, 0, 0).expect("06:00"));
    let query = DayQuery {
        day: today,
        scope: DayScope::Mine,
        base_postcode: None,
    };
    let list = store.today_list_at(query.clone(), six).expect("today");
    assert_eq!(
        list.visits.len(),
        s.visits,
        "the day has the visits asked for"
    );
    let schedule = store
        .team_schedule_at(today, s.days as u32, six)
        .expect("schedule");
    let per_day: Vec<Vec<(String, chrono::DateTime<Utc>)>> = schedule
        .iter()
        .map(|d| {
            d.visits
                .iter()
                .map(|v| (v.person_id.clone(), v.window_start))
                .collect()
        })
        .collect();
    let total: usize = per_day.iter().map(Vec::len).sum();
    eprintln!(
        "day bench: {} people with care plans, {} visits today, {} visits over {} days",
        s.people, s.visits, total, s.days
    );
    let booked = booked_store(dir.path(), &s, &per_day);
    assert_eq!(
        booked.planned_visits(today).expect("booked").len(),
        s.visits
    );

    let mut g = c.benchmark_group(format!("day_today_{}of{}", s.visits, s.people));
    g.bench_function("today_list", |b| {
        b.iter(|| black_box(store.today_list_at(query.clone(), six).expect("today")))
    });
    g.bench_function("baseline_stored_rows", |b| {
        b.iter(|| black_box(booked.planned_visits(today).expect("planned")))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("day_schedule_{}d_{}plans", s.days, s.people));
    g.bench_function("team_schedule", |b| {
        b.iter(|| {
            black_box(
                store
                    .team_schedule_at(today, s.days as u32, six)
                    .expect("schedule"),
            )
        })
    });
    g.bench_function("baseline_stored_rows", |b| {
        b.iter(|| {
            for k in 0..s.days {
                black_box(
                    booked
                        .planned_visits(today + Days::days(k as i64))
                        .expect("planned"),
                );
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = day
}
criterion_main!(benches);
