//! `doorstep report csds` (issue 15 item 4, target: a 500-person team over a month < 1 s) over a
//! server SQLite database holding `--people` people, each with demographics (the layout-7
//! codes), an episode and a year of visits (`--visits`, 156 = three a week), recorded by six
//! nurses of team `hyde` as real stamped Automerge changes, with each document's stored snapshot
//! as a live server keeps it (decision 0010). Measured, `--rounds` times each, medians printed:
//! - `baseline_load_documents`: loading every clinical and demographics document alone
//!   (`docs::replay`), the floor any extract from the server's documents pays;
//! - `extract_in_process`: what the CLI does (load and read the records, the extract, the CSVs);
//! - `doorstep_binary`: the real binary end to end (process start, database open, files written).
//!
//!     cargo bench -p doorstep-cli --bench csds -- --people 500 --visits 156 --rounds 10
//!
//! Flags: `--people N` (500), `--visits N` per person over the year (156), `--rounds N` (10),
//! `--month YYYY-MM` (2026-11, the extract's month).

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use automerge::AutoCommit;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use doorstep_core::csds::{csv, extract, ReportMonth};
use doorstep_core::record::edit;
use doorstep_core::record::*;
use doorstep_core::testing;
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::storage::{NewChange, TeamProfile};
use doorstep_server::Storage;

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn nurse(n: usize, at: DateTime<Utc>) -> Author {
    Author {
        user_id: format!("hyde-nurse{n}"),
        display_name: format!("Nurse {n}"),
        role: Role::DistrictNurse,
        device_id: format!("hyde-nurse{n}-phone"),
        at,
    }
}

/// One person's two documents: demographics with codes, an episode and `visits` over 2026.
fn person(i: usize, visits: usize) -> (AutoCommit, AutoCommit) {
    let start: DateTime<Utc> = "2026-01-05T09:00:00Z".parse().unwrap();
    let a = nurse(i % 6, start);
    let mut demo = AutoCommit::new();
    let nhs = nhs_number(i);
    let mut d = testing::demographics(&format!("Person{i}"), "Test", Some(&nhs), "SK14 1AA");
    d.stated_gender = Some(StatedGender::ALL[i % 4]);
    d.ethnic_category = Some(EthnicCategory::ALL[i % 18]);
    d.gp_practice_ods = Some(format!("P{:05}", 84_000 + i % 40));
    testing::commit_edit(&mut demo, &a, |doc| edit::register(doc, &a, d).unwrap());
    let mut clinical = AutoCommit::new();
    let input = EpisodeInput {
        service: Service::DistrictNursing,
        referral_source: "GP".into(),
        referral_reason: "leg ulcer, dressings".into(),
        accepted_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
    };
    testing::commit_edit(&mut clinical, &a, |doc| {
        edit::add_episode(doc, &a, input).unwrap()
    });
    let person_id = format!("p{i:04}");
    let every = Duration::minutes(525_600 / visits.max(1) as i64);
    for v in 0..visits {
        let at = start + every * v as i32;
        let a = nurse((i + v) % 6, at + Duration::minutes(40));
        let outcome = if v % 20 == 7 {
            VisitOutcome::NoAccess
        } else {
            VisitOutcome::Completed
        };
        let input = VisitInput {
            planned_visit_id: None,
            contact_type: ContactType::HomeVisit,
            started_at: at,
            ended_at: Some(at + Duration::minutes(30)),
            outcome,
            interventions: vec![Intervention::WoundCare],
            note: Some("Dressing changed, wound bed granulating.".into()),
            observations: (v % 4 == 0).then(testing::normal_observations),
            scheduled_visit: None,
            outcome_reason: (outcome == VisitOutcome::NoAccess).then(|| "no answer".into()),
            interventions_done: vec![],
        };
        testing::commit_edit(&mut clinical, &a, |doc| {
            edit::record_visit(doc, &person_id, &a, input).unwrap()
        });
    }
    (demo, clinical)
}

/// A valid NHS number for person `i` (modulus 11 check digit; those that would need 10 skipped).
fn nhs_number(i: usize) -> String {
    (i * 7..)
        .map(|n| format!("{:09}", 400_000_000 + n))
        .find_map(|body| {
            let sum: u32 = body
                .bytes()
                .zip((2..=10).rev())
                .map(|(b, w)| (b - b'0') as u32 * w)
                .sum();
            match 11 - sum % 11 {
                11 => Some(format!("{body}0")),
                10 => None,
                d => Some(format!("{body}{d}")),
            }
        })
        .unwrap()
}

fn server_db(dir: &Path, people: usize, visits: usize) -> Storage {
    let storage = Storage::Sqlite(SqliteStorage::open(dir).unwrap());
    storage
        .write(|tx| {
            tx.create_team("hyde", "Hyde")?;
            for n in 0..6 {
                tx.create_user(&User {
                    id: format!("hyde-nurse{n}"),
                    display_name: format!("Nurse {n}"),
                    role: Role::DistrictNurse,
                    team: "hyde".into(),
                })?;
            }
            let profile = TeamProfile {
                ods_code: "RX101".into(),
                service_type: "05".into(),
            };
            tx.set_team_profile("hyde", &profile, 0)
        })
        .unwrap();
    let mut seq = 0u64;
    for i in 0..people {
        let person_id = format!("p{i:04}");
        let (mut demo, mut clinical) = person(i, visits);
        storage
            .write(|tx| {
                for (comp, doc) in [
                    (Compartment::Demographics, &mut demo),
                    (Compartment::Clinical, &mut clinical),
                ] {
                    for change in doc.get_changes(&[]) {
                        seq += 1;
                        tx.insert_change(&NewChange {
                            seq,
                            person_id: &person_id,
                            compartment: comp,
                            hash: &change.hash().0,
                            bytes: change.raw_bytes(),
                            origin_device: "dev-0",
                            received_ms: 0,
                            actor: None,
                            actor_seq: None,
                            clock_note_ms: None,
                        })?;
                    }
                    tx.put_doc_snapshot(&person_id, comp, &doc.save(), seq)?;
                }
                tx.join("hyde", &person_id, seq)
            })
            .unwrap();
    }
    storage
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn time(rounds: usize, mut f: impl FnMut()) -> f64 {
    f();
    let ms = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    median(ms)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let people = flag(&args, "--people", 500usize);
    let visits = flag(&args, "--visits", 156usize);
    let rounds = flag(&args, "--rounds", 10usize);
    let month: ReportMonth = flag(&args, "--month", "2026-11".to_string())
        .parse()
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::tempdir_in(&root).unwrap();
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data).unwrap();
    let built = Instant::now();
    let storage = server_db(&data, people, visits);
    eprintln!(
        "csds: {people} people × {visits} visits built in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let (team, recs) = doorstep_server::csds::csds_input(&storage, "hyde").unwrap();
    let check = extract(&team, &recs, month);
    assert_eq!(
        check.people.len(),
        people,
        "{} records read, team {:?}",
        recs.len(),
        team
    );
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
    eprintln!(
        "csds: {month}: {} referrals, {} contacts, {} activities",
        check.referrals.len(),
        check.contacts.len(),
        check.activities.len()
    );
    drop(recs);

    let baseline = time(rounds, || {
        storage
            .read(|tx| {
                let mut n = 0;
                for p in tx.ever_members("hyde")? {
                    for comp in [Compartment::Demographics, Compartment::Clinical] {
                        n += doorstep_server::docs::replay(tx, &p, comp)?.1;
                    }
                }
                Ok(black_box(n))
            })
            .unwrap();
    });
    let in_process = time(rounds, || {
        let (team, recs) = doorstep_server::csds::csds_input(&storage, "hyde").unwrap();
        black_box(csv::files(&extract(&team, &recs, month)));
    });
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let binary = time(rounds, || {
        let status = Command::new(env!("CARGO_BIN_EXE_doorstep"))
            .args(["report", "--data-dir"])
            .arg(&data)
            .args([
                "csds",
                "--team",
                "hyde",
                "--month",
                &month.to_string(),
                "--out",
            ])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    });
    println!("csds ({people} people, {visits} visits each, {rounds} rounds, medians)");
    println!("baseline_load_documents {baseline:.1} ms");
    println!(
        "extract_in_process      {in_process:.1} ms  {:.2}x baseline",
        in_process / baseline
    );
    println!(
        "doorstep_binary         {binary:.1} ms  {:.2}x baseline",
        binary / baseline
    );
}
