//! Shared by the `core_record` benchmarks: the 500-person data set (generated once with the
//! public `FieldStore` API and cached under `target/bench-data/`), the plain-SQLite and SQLCipher
//! floors that store the same visits as plain rows, and small statistics helpers.
//!
//! Nothing here touches the store's internals: the store is written only through
//! `register_patient`, `set_alert`, `schedule_visit`, `record_visit` and `compact_now`.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, Utc};
use doorstep_core::record::*;
use doorstep_core::{testing, Consciousness, FieldStore, Observations, StoreConfig};
use rusqlite::types::Value;
use rusqlite::{params, Connection};

pub const PEOPLE: usize = 500;
pub const VISITS_PER_PERSON: usize = 50;
pub const TOTAL_VISITS: usize = PEOPLE * VISITS_PER_PERSON;
/// Bump when the generated data changes, so stale caches are not reused.
pub const DATASET_VERSION: u32 = 3;
pub const DEVICE: &str = "bench-phone-01";

// ------------------------------------------------------------------ paths

/// `target/bench-data/` (next to Cargo's `target/tmp`).
pub fn data_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp
        .parent()
        .map(|p| p.join("bench-data"))
        .unwrap_or_else(|| tmp.join("bench-data"));
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    dir
}

/// A scratch directory on the same file system as the cached data (never tmpfs), so that every
/// subject and baseline pays the same fsync.
pub fn scratch_dir(label: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("create target/tmp");
    tempfile::Builder::new()
        .prefix(&format!("doorstep-bench-{label}-"))
        .tempdir_in(base)
        .expect("scratch dir")
}

pub fn store_path() -> PathBuf {
    data_dir().join(format!(
        "store-{PEOPLE}x{VISITS_PER_PERSON}-v{DATASET_VERSION}.db"
    ))
}

pub fn floor_path(cipher: bool) -> PathBuf {
    let kind = if cipher { "sqlcipher" } else { "plain" };
    data_dir().join(format!(
        "floor-{kind}-{PEOPLE}x{VISITS_PER_PERSON}-v{DATASET_VERSION}.db"
    ))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub fn wal_path(path: &Path) -> PathBuf {
    with_suffix(path, "-wal")
}

fn done_marker(path: &Path) -> PathBuf {
    with_suffix(path, ".done")
}

fn remove_db_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", ".keycheck", ".done"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Size of the database file plus its WAL (if any).
pub fn db_bytes(path: &Path) -> (u64, u64) {
    (file_len(path), file_len(&wal_path(path)))
}

pub fn store_config(path: &Path) -> StoreConfig {
    testing::config(path, DEVICE, Role::DistrictNurse)
}

// ------------------------------------------------------------------ deterministic data

/// xorshift64*: deterministic, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi - lo + 1)) as u32
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const GIVEN: &[&str] = &[
    "Edith",
    "Arthur",
    "Margaret",
    "Harold",
    "Joan",
    "Albert",
    "Dorothy",
    "Stanley",
    "Irene",
    "Wilfred",
    "Mavis",
    "Kenneth",
    "Barbara",
    "Dennis",
    "Brenda",
    "Norman",
    "Shirley",
    "Eric",
    "Pauline",
    "Ronald",
    "Sheila",
    "Derek",
    "Maureen",
    "Clifford",
    "Jean",
    "Leonard",
    "Doreen",
    "Frank",
    "Vera",
    "George",
    "Elsie",
    "Raymond",
    "Hilda",
    "Walter",
    "Phyllis",
    "Gordon",
    "Olive",
    "Bernard",
    "Ivy",
    "Cyril",
    "Amrit",
    "Farida",
    "Tariq",
    "Nasreen",
    "Mohammed",
    "Shabana",
    "Krzysztof",
    "Halina",
    "Wojciech",
    "Agnieszka",
    "Patrick",
    "Bridget",
    "Winston",
    "Gloria",
];

const FAMILY: &[&str] = &[
    "Crawley",
    "Holroyd",
    "Sutcliffe",
    "Greenwood",
    "Ackroyd",
    "Barraclough",
    "Haigh",
    "Thornton",
    "Mitchell",
    "Uttley",
    "Wadsworth",
    "Hirst",
    "Priestley",
    "Bairstow",
    "Holdsworth",
    "Crabtree",
    "Lumb",
    "Pickles",
    "Firth",
    "Sunderland",
    "Shackleton",
    "Horsfall",
    "Helliwell",
    "Whiteley",
    "Ramsden",
    "Stansfield",
    "Gledhill",
    "Hanson",
    "Binns",
    "Marsden",
    "Hussain",
    "Khan",
    "Akhtar",
    "Begum",
    "Iqbal",
    "Kowalski",
    "Nowak",
    "Murphy",
    "O'Connor",
    "Campbell",
    "Clarke",
    "Brown",
    "Holt",
    "Hollas",
    "Holmes",
    "Crossley",
    "Cockroft",
    "Sharp",
    "Walsh",
    "Jagger",
];

/// (outward code, town)
const AREAS: &[(&str, &str)] = &[
    ("HX1", "Halifax"),
    ("HX2", "Halifax"),
    ("HX3", "Halifax"),
    ("HX4", "Halifax"),
    ("HX5", "Elland"),
    ("HX6", "Sowerby Bridge"),
    ("HX7", "Hebden Bridge"),
    ("OL14", "Todmorden"),
    ("BD13", "Queensbury"),
    ("HD6", "Brighouse"),
];

const STREETS: &[&str] = &[
    "Mill Lane",
    "Heptonstall Road",
    "Market Street",
    "Birchcliffe Road",
    "Keighley Road",
    "Burnley Road",
    "Albert Street",
    "Victoria Road",
    "Church Lane",
    "Savile Park Road",
    "Wakefield Road",
    "Station Road",
    "Hollins Lane",
    "Old Town Lane",
    "Moor End Road",
];

const ACCESS: &[&str] = &[
    "Key safe by back door, code with coordinator. Friendly dog.",
    "Ring twice and wait; daughter lets visitors in before 10 am.",
    "Ground-floor flat, buzzer 3. Parking on the street only.",
    "Side gate, door at the back. Cat must not get out.",
    "Key safe left of front door. Hard of hearing: knock loudly.",
    "Warden-controlled flats: sign in at the office.",
];

/// One person of the data set.
#[derive(Debug, Clone)]
pub struct PersonSpec {
    pub given: String,
    pub family: String,
    pub nhs_number: Option<String>,
    pub postcode: String,
    pub town: String,
    pub street: String,
    pub date_of_birth: NaiveDate,
    pub access: String,
}

impl PersonSpec {
    pub fn demographics(&self) -> Demographics {
        let mut d = testing::demographics(
            &self.given,
            &self.family,
            self.nhs_number.as_deref(),
            &self.postcode,
        );
        d.date_of_birth = Some(self.date_of_birth);
        d.address = Some(Address {
            lines: vec![self.street.clone(), self.town.clone()],
            postcode: self.postcode.clone(),
        });
        d.access_notes = Some(self.access.clone());
        d
    }
}

/// A valid NHS number (Modulus 11, as core/src/clinical/nhs_number.rs checks it) or `None` when
/// the nine digits need check value 10.
pub fn nhs_with_check(first_nine: &[u32; 9]) -> Option<String> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return None,
        c => c,
    };
    let mut s: String = first_nine
        .iter()
        .map(|d| char::from(b'0' + *d as u8))
        .collect();
    s.push(char::from(b'0' + check as u8));
    Some(s)
}

/// The 500 people: nine in ten have a valid, unique NHS number (the rest, like many Citizens
/// Advice clients, have none); names, streets and postcodes vary.
pub fn people() -> Vec<PersonSpec> {
    let mut rng = Rng::new(20_261_123);
    let mut seen = HashSet::new();
    let letters = b"ABDEFGHJLNPQRSTUWXYZ";
    (0..PEOPLE)
        .map(|i| {
            let nhs_number = if i % 10 == 9 {
                None
            } else {
                loop {
                    let mut d = [0u32; 9];
                    d[0] = *rng.pick(&[4u32, 6, 7, 9]);
                    for x in d.iter_mut().skip(1) {
                        *x = rng.below(10) as u32;
                    }
                    if let Some(n) = nhs_with_check(&d) {
                        if seen.insert(n.clone()) {
                            break Some(n);
                        }
                    }
                }
            };
            let (outward, town) = *rng.pick(AREAS);
            let postcode = format!(
                "{outward} {}{}{}",
                rng.range(1, 9),
                letters[rng.below(letters.len() as u64) as usize] as char,
                letters[rng.below(letters.len() as u64) as usize] as char
            );
            PersonSpec {
                given: rng.pick(GIVEN).to_string(),
                family: rng.pick(FAMILY).to_string(),
                nhs_number,
                postcode,
                town: town.to_string(),
                street: format!("{} {}", rng.range(1, 180), rng.pick(STREETS)),
                date_of_birth: NaiveDate::from_ymd_opt(
                    rng.range(1925, 1965) as i32,
                    rng.range(1, 12),
                    rng.range(1, 28),
                )
                .expect("date"),
                access: rng.pick(ACCESS).to_string(),
            }
        })
        .collect()
}

const NOTE_SENTENCES: &[&str] = &[
    "Wound on {side} lower leg reviewed; dressing changed with aseptic technique.",
    "Exudate {amount}, no odour, wound edges healthy, measures {n} x {m} cm.",
    "Patient reports pain {p}/10, taking paracetamol as prescribed.",
    "{carer} present throughout the visit.",
    "Blood glucose {g}.{d} mmol/L before lunch; insulin given as per chart, site {site}.",
    "Pressure areas checked: sacrum and heels intact, skin {skin}.",
    "Eating and drinking well; encouraged {fluid} ml fluids daily.",
    "Medication prompt given, blister pack for {day} correct.",
    "Mobilising with {aid}; no falls since last visit.",
    "Catheter draining clear urine, {u} ml in bag.",
    "Mood {mood}; discussed plan for the week with {carer_l}.",
    "Bowels opened {b} days ago, advised on fluids and fibre.",
    "Compression bandaging reapplied, toes warm and pink.",
    "Next visit booked for {day}; to contact the team if the dressing leaks.",
    "Reviewed by GP on {day}, antibiotics course {abx}.",
    "Chest clear on listening, no new cough, ankles {oedema}.",
];

fn fill(template: &str, rng: &mut Rng) -> String {
    let mut out = template.to_string();
    let subs: &[(&str, &[&str])] = &[
        ("{side}", &["left", "right"]),
        ("{amount}", &["low", "moderate", "heavy", "minimal"]),
        (
            "{carer}",
            &["Daughter", "Son", "Husband", "Wife", "Carer", "Neighbour"],
        ),
        (
            "{carer_l}",
            &[
                "her daughter",
                "his son",
                "the carer",
                "his wife",
                "her husband",
            ],
        ),
        (
            "{site}",
            &["abdomen left", "abdomen right", "left thigh", "right thigh"],
        ),
        (
            "{skin}",
            &["intact", "dry but intact", "slightly red, blanching"],
        ),
        (
            "{day}",
            &[
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ],
        ),
        (
            "{aid}",
            &["a frame", "a stick", "two sticks", "a rollator", "no aid"],
        ),
        (
            "{mood}",
            &[
                "bright",
                "low",
                "settled",
                "anxious about the hospital letter",
                "cheerful",
            ],
        ),
        (
            "{abx}",
            &["completed", "ongoing, day 3 of 7", "started today"],
        ),
        (
            "{oedema}",
            &["not swollen", "mildly swollen", "pitting to mid-shin"],
        ),
    ];
    for (k, vs) in subs {
        while out.contains(k) {
            let v = *rng.pick(vs);
            out = out.replacen(k, v, 1);
        }
    }
    for (k, lo, hi) in [
        ("{n}", 1, 9),
        ("{m}", 1, 6),
        ("{p}", 0, 8),
        ("{g}", 4, 16),
        ("{d}", 0, 9),
        ("{fluid}", 12, 20),
        ("{u}", 150, 900),
        ("{b}", 1, 4),
    ] {
        while out.contains(k) {
            let v = if k == "{fluid}" {
                rng.range(lo, hi) * 100
            } else {
                rng.range(lo, hi)
            };
            out = out.replacen(k, &v.to_string(), 1);
        }
    }
    out
}

/// A 500-character note made of varied clinical sentences (so that compression sees text that
/// differs from visit to visit, not one note repeated 25,000 times).
pub fn varied_note(rng: &mut Rng) -> String {
    let mut s = String::new();
    while s.chars().count() < 500 {
        let template = *rng.pick(NOTE_SENTENCES);
        s.push_str(&fill(template, rng));
        s.push(' ');
    }
    let mut note: String = s
        .chars()
        .take(499)
        .collect::<String>()
        .trim_end()
        .to_string();
    while note.chars().count() < 500 {
        note.push('.');
    }
    note
}

/// 8 observation values in physiological ranges, varying so NEWS2 varies.
pub fn varied_observations(rng: &mut Rng) -> Observations {
    let systolic = rng.range(95, 165);
    Observations {
        respiration_rate: Some(rng.range(12, 24)),
        spo2_percent: Some(rng.range(91, 99)),
        on_oxygen: Some(rng.below(20) == 0),
        systolic_bp: Some(systolic),
        diastolic_bp: Some(rng.range(55, (systolic - 20).min(95))),
        pulse: Some(rng.range(55, 115)),
        consciousness: Some(if rng.below(50) == 0 {
            Consciousness::NewConfusion
        } else {
            Consciousness::Alert
        }),
        temperature_c: Some(f64::from(rng.range(355, 385)) / 10.0),
    }
}

/// `testing::full_visit` (8 observations, 3 interventions, a 500-character note) with the note
/// and the values varied.
pub fn varied_visit(rng: &mut Rng, minutes_ago: i64) -> VisitInput {
    let mut v = testing::full_visit(minutes_ago);
    v.note = Some(varied_note(rng));
    v.observations = Some(varied_observations(rng));
    let pool = [
        Intervention::WoundCare,
        Intervention::Insulin,
        Intervention::MedicationPrompt,
        Intervention::CatheterCare,
        Intervention::Venepuncture,
        Intervention::PalliativeCare,
    ];
    let first = rng.below(pool.len() as u64) as usize;
    v.interventions = (0..3)
        .map(|k| pool[(first + k * 2) % pool.len()].clone())
        .collect();
    v
}

/// Visit `round` (0 = oldest) of person `i`: one visit per person every two days.
pub fn minutes_ago(round: usize, person: usize) -> i64 {
    let days_ago = ((VISITS_PER_PERSON - 1 - round) * 2) as i64;
    days_ago * 24 * 60 + ((person * 7) % 480) as i64 + 60
}

// ------------------------------------------------------------------ the floors

/// The floor's schema: a visit is 1 row, its observations 8 rows.
pub const FLOOR_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS people (
    person_id    TEXT PRIMARY KEY,
    nhs_number   TEXT,
    given_name   TEXT NOT NULL,
    family_name  TEXT NOT NULL,
    display_name TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    date_of_birth TEXT,
    postcode     TEXT,
    postcode_key TEXT,
    address      TEXT,
    access_notes TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS people_order ON people (family_name COLLATE NOCASE, given_name COLLATE NOCASE, person_id);
CREATE TABLE IF NOT EXISTS visits (
    visit_id         TEXT PRIMARY KEY,
    person_id        TEXT NOT NULL,
    planned_visit_id TEXT,
    contact_type     TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER,
    outcome          TEXT NOT NULL,
    interventions    TEXT NOT NULL,
    note             TEXT,
    author_id        TEXT NOT NULL,
    author_name      TEXT NOT NULL,
    author_role      TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    recorded_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_person ON visits (person_id, started_at);
CREATE TABLE IF NOT EXISTS observations (
    visit_id TEXT NOT NULL,
    code     TEXT NOT NULL,
    value,
    PRIMARY KEY (visit_id, code)
) WITHOUT ROWID;
";

pub fn key_pragma() -> String {
    let hex: String = testing::TEST_KEY
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("PRAGMA key = \"x'{hex}'\";")
}

/// Open a floor database: plain SQLite (`cipher == false`) or SQLCipher with the raw 32-byte key,
/// both WAL with `synchronous = FULL`, as the store.
pub fn open_floor(path: &Path, cipher: bool) -> Connection {
    let conn = Connection::open(path).expect("open floor db");
    if cipher {
        conn.execute_batch(&key_pragma()).expect("key");
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 10000;",
    )
    .expect("pragmas");
    conn
}

pub fn create_floor_schema(conn: &Connection) {
    conn.execute_batch(FLOOR_SCHEMA).expect("floor schema");
}

fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

pub fn floor_insert_person(conn: &Connection, person_id: &str, d: &Demographics) {
    let postcode = d.address.as_ref().map(|a| a.postcode.clone());
    let address = d.address.as_ref().map(|a| {
        let mut parts = a.lines.clone();
        parts.push(a.postcode.clone());
        parts.join(", ")
    });
    conn.prepare_cached(
        "INSERT INTO people (person_id, nhs_number, given_name, family_name, display_name, name_key,
                             date_of_birth, postcode, postcode_key, address, access_notes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .expect("prepare person")
    .execute(params![
        person_id,
        d.nhs_number.as_ref().map(|n| n.replace(' ', "")),
        d.given_name,
        d.family_name,
        d.display_name(),
        format!(" {} {}", d.family_name.to_lowercase(), d.given_name.to_lowercase()),
        d.date_of_birth.map(|x| x.to_string()),
        postcode,
        postcode.as_ref().map(|p| p.replace(' ', "").to_uppercase()),
        address,
        d.access_notes,
    ])
    .expect("insert person");
}

/// Who the floor records as author (the same user and device as the store's).
pub struct FloorAuthor {
    pub user: User,
    pub device: String,
}

impl FloorAuthor {
    pub fn bench() -> Self {
        let cfg = store_config(Path::new("unused"));
        FloorAuthor {
            user: cfg.user,
            device: cfg.device_id,
        }
    }
}

fn observation_rows(o: &Observations) -> [(&'static str, Value); 8] {
    let int = |v: Option<u32>| {
        v.map(|x| Value::Integer(i64::from(x)))
            .unwrap_or(Value::Null)
    };
    [
        ("respiration_rate", int(o.respiration_rate)),
        ("spo2_percent", int(o.spo2_percent)),
        (
            "on_oxygen",
            o.on_oxygen
                .map(|b| Value::Integer(i64::from(b)))
                .unwrap_or(Value::Null),
        ),
        ("systolic_bp", int(o.systolic_bp)),
        ("diastolic_bp", int(o.diastolic_bp)),
        ("pulse", int(o.pulse)),
        (
            "consciousness",
            o.consciousness
                .map(|c| Value::Text(serde_name(&c)))
                .unwrap_or(Value::Null),
        ),
        (
            "temperature_c",
            o.temperature_c.map(Value::Real).unwrap_or(Value::Null),
        ),
    ]
}

/// The floor's `record_visit`: 1 visit row + 8 observation rows in one transaction (one fsync of
/// the WAL at commit, as `synchronous = FULL` does for the store).
pub fn floor_record_visit(
    conn: &mut Connection,
    person_id: &str,
    v: &VisitInput,
    author: &FloorAuthor,
) -> rusqlite::Result<String> {
    let visit_id = uuid::Uuid::now_v7().to_string();
    let tx = conn.transaction()?;
    tx.prepare_cached(
        "INSERT INTO visits (visit_id, person_id, planned_visit_id, contact_type, started_at, ended_at,
                             outcome, interventions, note, author_id, author_name, author_role,
                             device_id, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        visit_id,
        person_id,
        v.planned_visit_id,
        serde_name(&v.contact_type),
        v.started_at.timestamp_millis(),
        v.ended_at.map(|t| t.timestamp_millis()),
        serde_name(&v.outcome),
        serde_json::to_string(&v.interventions).unwrap_or_default(),
        v.note,
        author.user.id,
        author.user.display_name,
        serde_name(&author.user.role),
        author.device,
        Utc::now().timestamp_millis(),
    ])?;
    if let Some(o) = &v.observations {
        let mut ins = tx.prepare_cached(
            "INSERT INTO observations (visit_id, code, value) VALUES (?1, ?2, ?3)",
        )?;
        for (code, value) in observation_rows(o) {
            ins.execute(params![visit_id, code, value])?;
        }
    }
    tx.commit()?;
    Ok(visit_id)
}

/// The floor's caseload: everyone by family name, with the last visit.
pub const FLOOR_CASELOAD_SQL: &str = "
SELECT p.person_id, p.display_name, p.nhs_number, p.date_of_birth, p.address, p.postcode, p.access_notes,
  (SELECT max(started_at) FROM visits v WHERE v.person_id = p.person_id)
FROM people p";

#[derive(Debug)]
pub struct FloorEntry {
    pub person_id: String,
    pub display_name: String,
    pub nhs_number: Option<String>,
    pub date_of_birth: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub access_notes: Option<String>,
    pub last_visit: Option<i64>,
}

fn floor_entries(
    conn: &Connection,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Vec<FloorEntry> {
    let sql = format!(
        "{FLOOR_CASELOAD_SQL} {where_sql} ORDER BY p.family_name COLLATE NOCASE, p.given_name COLLATE NOCASE, p.person_id"
    );
    let mut stmt = conn.prepare_cached(&sql).expect("prepare floor caseload");
    let rows = stmt
        .query_map(args, |r| {
            Ok(FloorEntry {
                person_id: r.get(0)?,
                display_name: r.get(1)?,
                nhs_number: r.get(2)?,
                date_of_birth: r.get(3)?,
                address: r.get(4)?,
                postcode: r.get(5)?,
                access_notes: r.get(6)?,
                last_visit: r.get(7)?,
            })
        })
        .expect("query floor caseload")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows");
    rows
}

pub fn floor_caseload(conn: &Connection) -> Vec<FloorEntry> {
    floor_entries(conn, "", &[])
}

/// The same three kinds of search as `FieldStore::search_patients`, with the same LIKE patterns.
pub fn floor_search(conn: &Connection, q: &str) -> Vec<FloorEntry> {
    let digits: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() >= 3 && digits.chars().all(|c| c.is_ascii_digit()) {
        let pattern = format!("{digits}%");
        return floor_entries(conn, "WHERE p.nhs_number LIKE ?1", &[&pattern]);
    }
    let postcode = format!("{}%", q.replace(' ', "").to_uppercase());
    let words: Vec<String> = q
        .split_whitespace()
        .take(4)
        .map(|w| format!("% {}%", w.to_lowercase()))
        .collect();
    let mut clause = String::from("WHERE (p.postcode_key LIKE ?1) OR (");
    for i in 0..words.len() {
        if i > 0 {
            clause.push_str(" AND ");
        }
        clause.push_str(&format!("p.name_key LIKE ?{}", i + 2));
    }
    clause.push(')');
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&postcode];
    for w in &words {
        args.push(w);
    }
    floor_entries(conn, &clause, &args)
}

/// What the floor reads to open one person: their visits and observations, newest first.
pub fn floor_open_person(conn: &Connection, person_id: &str) -> usize {
    let mut stmt = conn
        .prepare_cached(
            "SELECT v.visit_id, v.started_at, v.ended_at, v.contact_type, v.outcome, v.interventions,
                    v.note, v.author_name, o.code, o.value
             FROM visits v LEFT JOIN observations o ON o.visit_id = v.visit_id
             WHERE v.person_id = ?1 ORDER BY v.started_at DESC",
        )
        .expect("prepare person");
    let rows = stmt
        .query_map([person_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Value>(9)?,
            ))
        })
        .expect("query person")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows");
    rows.len()
}

// ------------------------------------------------------------------ the cached data sets

#[derive(Debug, Clone, Default)]
pub struct GenReport {
    pub seconds: f64,
    pub regenerated: bool,
}

/// The 500 × 50 store, generated with `record_visit` (and compacted with `compact_now`) if it is
/// missing or cannot be opened.
pub fn ensure_store() -> GenReport {
    let path = store_path();
    if done_marker(&path).exists() && opens(&path) {
        return GenReport::default();
    }
    eprintln!(
        "generating {} ({PEOPLE} people x {VISITS_PER_PERSON} visits with record_visit; once, cached)...",
        path.display()
    );
    remove_db_files(&path);
    let t = Instant::now();
    let (db, wal) = generate_store(&path);
    let seconds = t.elapsed().as_secs_f64();
    std::fs::write(
        done_marker(&path),
        format!("seconds={seconds:.1}\ndb_after_compact_now={db}\nwal_after_compact_now={wal}\n"),
    )
    .expect("write marker");
    eprintln!("  generated in {seconds:.1} s");
    GenReport {
        seconds,
        regenerated: true,
    }
}

fn opens(path: &Path) -> bool {
    match FieldStore::open(store_config(path)) {
        Ok(s) => s.caseload().map(|c| c.len() == PEOPLE).unwrap_or(false),
        Err(_) => false,
    }
}

/// What `ensure_store` noted when it generated the store (`seconds`, `db_after_compact_now`,
/// `wal_after_compact_now`).
pub fn store_marker() -> Vec<(String, String)> {
    std::fs::read_to_string(done_marker(&store_path()))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Returns the database and WAL sizes right after `compact_now`, with the store still open.
fn generate_store(path: &Path) -> (u64, u64) {
    let mut cfg = store_config(path);
    // Keep all 1,000 documents warm while generating (one visit per person per round).
    cfg.doc_cache_size = (2 * PEOPLE + 64) as u32;
    let store = FieldStore::open(cfg).expect("open store for generation");
    let specs = people();
    let mut ids = Vec::with_capacity(PEOPLE);
    for (i, p) in specs.iter().enumerate() {
        let id = store.register_patient(p.demographics()).expect("register");
        if i % 5 == 0 {
            let (kind, text) = [
                (AlertKind::Allergies, "Penicillin: anaphylaxis"),
                (
                    AlertKind::Resuscitation,
                    "DNACPR in place (form in blue folder)",
                ),
                (AlertKind::RiskToStaff, "Visit in pairs after 6 pm"),
                (AlertKind::InfectionStatus, "MRSA positive (wound swab)"),
            ][(i / 5) % 4];
            store
                .set_alert(
                    &id,
                    AlertInput {
                        kind,
                        text: text.into(),
                        active: true,
                    },
                )
                .expect("alert");
        }
        store
            .schedule_visit(
                &id,
                PlannedVisitInput {
                    planned_start: Utc::now() + Duration::hours(2 + (i % 96) as i64),
                    planned_end: None,
                    clinician: None,
                    contact_type: ContactType::HomeVisit,
                    purpose: Some("Wound care".into()),
                },
            )
            .expect("plan");
        ids.push(id);
    }
    let mut rng = Rng::new(7);
    for round in 0..VISITS_PER_PERSON {
        for (i, id) in ids.iter().enumerate() {
            store
                .record_visit(id, varied_visit(&mut rng, minutes_ago(round, i)))
                .expect("record visit");
        }
        if round % 10 == 9 {
            eprintln!("  {} of {TOTAL_VISITS} visits", (round + 1) * PEOPLE);
        }
    }
    store.compact_now().expect("compact");
    let sizes = db_bytes(path);
    drop(store);
    sizes
}

/// The same people and visits (same generator, same seeds) as plain rows: in plain SQLite and in
/// SQLCipher with the raw key.
pub fn ensure_floor(cipher: bool) {
    let path = floor_path(cipher);
    if done_marker(&path).exists() && path.exists() {
        return;
    }
    remove_db_files(&path);
    let mut conn = open_floor(&path, cipher);
    create_floor_schema(&conn);
    let author = FloorAuthor::bench();
    let specs = people();
    let ids: Vec<String> = specs
        .iter()
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    {
        let tx = conn.transaction().expect("tx");
        for (id, p) in ids.iter().zip(&specs) {
            let d = p
                .demographics()
                .validated(Utc::now().date_naive())
                .expect("valid");
            floor_insert_person(&tx, id, &d);
        }
        tx.commit().expect("commit");
    }
    let mut rng = Rng::new(7);
    for round in 0..VISITS_PER_PERSON {
        // One transaction per round keeps generation quick; the row layout is the same.
        conn.execute_batch("BEGIN").expect("begin");
        for (i, id) in ids.iter().enumerate() {
            let v = varied_visit(&mut rng, minutes_ago(round, i));
            insert_visit_rows(&conn, id, &v, &author);
        }
        conn.execute_batch("COMMIT").expect("commit");
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(conn);
    std::fs::write(done_marker(&path), "ok\n").expect("marker");
}

fn insert_visit_rows(conn: &Connection, person_id: &str, v: &VisitInput, author: &FloorAuthor) {
    let visit_id = uuid::Uuid::now_v7().to_string();
    conn.prepare_cached(
        "INSERT INTO visits (visit_id, person_id, planned_visit_id, contact_type, started_at, ended_at,
                             outcome, interventions, note, author_id, author_name, author_role,
                             device_id, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .expect("prepare")
    .execute(params![
        visit_id,
        person_id,
        v.planned_visit_id,
        serde_name(&v.contact_type),
        v.started_at.timestamp_millis(),
        v.ended_at.map(|t| t.timestamp_millis()),
        serde_name(&v.outcome),
        serde_json::to_string(&v.interventions).unwrap_or_default(),
        v.note,
        author.user.id,
        author.user.display_name,
        serde_name(&author.user.role),
        author.device,
        Utc::now().timestamp_millis(),
    ])
    .expect("insert visit");
    if let Some(o) = &v.observations {
        let mut ins = conn
            .prepare_cached("INSERT INTO observations (visit_id, code, value) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for (code, value) in observation_rows(o) {
            ins.execute(params![visit_id, code, value])
                .expect("insert obs");
        }
    }
}

// ------------------------------------------------------------------ statistics

#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentiles of `xs` (any unit).
pub fn summarise(xs: &[f64]) -> Summary {
    if xs.is_empty() {
        return Summary::default();
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = |p: f64| {
        let k = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[k.clamp(1, v.len()) - 1]
    };
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Summary {
        n: v.len(),
        median,
        p90: rank(90.0),
        p99: rank(99.0),
        min: v[0],
        max: v[v.len() - 1],
        mean: v.iter().sum::<f64>() / v.len() as f64,
    }
}

pub fn micros(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn millis(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// On-CPU time of every thread of this process so far (ns), from the scheduler's accounting.
pub fn process_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse::<u64>().ok())
        })
        .sum()
}

/// A field of /proc/self/status in kB (VmHWM, VmRSS, ...).
pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{field}:")))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|x| x.parse().ok())
        })
        .unwrap_or(0)
}

/// A size from the environment (`DOORSTEP_…`), or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
