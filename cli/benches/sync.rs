//! Sync benchmarks behind the "Sync (issue 3)" section of docs/performance.md. Every baseline is
//! measured in the same run, on the same data, over the same loopback HTTP.
//!
//!     cargo bench -p doorstep-cli --bench sync               # all three
//!     cargo bench -p doorstep-cli --bench sync -- first day  # (b) then (a)
//!     cargo bench -p doorstep-cli --bench sync -- load       # (c)
//!     cargo bench -p doorstep-cli --bench sync -- phone      # (b)'s phone alone, its memory
//!
//! (a) `day`: a day's work on one phone (10 visits with observations and notes, edits to 3
//!     people) while the server received 12 visits and 2 person edits from another device, one of
//!     them on the same field of the same person. Doorstep's sync against Automerge's own sync
//!     protocol run per document over HTTP (a small axum endpoint below holding the server's
//!     documents and per-peer sync states, persisted between syncs; zstd bodies like ours), one
//!     POST per message exchange per document — and, as the strongest form of that baseline, the
//!     same protocol with every document's message batched into one POST per exchange.
//! (b) `first`: a new phone's first sync of a caseload of 50 people × 1 year (100 visits each,
//!     recorded by two other devices and already on the server). Baselines: the Automerge
//!     `save()` of the same documents, zstd, in one response (precomputed, loaded on the client);
//!     and the Automerge sync protocol from empty (per document, and batched).
//!     `phone` runs only (b)'s last step: first syncs by a phone in a process of its own, with its
//!     time and peak resident memory (`DOORSTEP_BENCH_PHONE_RUNS`, default 3).
//!     `--snapshot-page-kb K[,K…]` sets the pages the phone asks for while documents arrive whole,
//!     one child sync each (default: the app's, `sync::session::SNAPSHOT_PAGE_BYTES`).
//! (c) `load`: `doorstep loadgen` (500 devices, a day's work each, all syncing at once) on
//!     embedded SQLite and on a private PostgreSQL cluster, with the full client and the wire
//!     client.
//!
//! Subjects and baselines are interleaved, in a different order each run; figures are medians.
//! The phone's store is on disk (target/tmp); the two recording devices' stores are on tmpfs
//! when there is one (their writing is set-up, not measured). Doorstep's server runs in this
//! process on its own 2-thread runtime, on embedded SQLite in target/tmp.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::sync::{self as am_sync, SyncDoc};
use automerge::{AutoCommit, Change};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::routing::{get, post};
use axum::Router;
use doorstep_core::record::*;
use doorstep_core::store::ExportedChange;
use doorstep_core::sync::{self, SyncEndpoint, SyncReport};
use doorstep_core::{testing, FieldStore, StoreConfig};
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::{admin, ServerConfig, Storage};
use serde::{Deserialize, Serialize};

/// `--people N` (default 50) and `--visits V` per person (default 156: 3 a week for a year).
fn flag(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(default)
}

static SIZES: std::sync::OnceLock<(usize, usize)> = std::sync::OnceLock::new();

fn sizes() -> (usize, usize) {
    *SIZES.get_or_init(|| (flag("--people", 50), flag("--visits", 156)))
}
const TEAM: &str = "bench";

fn runs(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(PHONE_CHILD) {
        return phone_child(&args[1..]);
    }
    let parts: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let after_flag = i
                .checked_sub(1)
                .and_then(|j| args.get(j))
                .is_some_and(|f| f == "--people" || f == "--visits" || f == SNAPSHOT_PAGE_FLAG);
            !a.starts_with('-') && !after_flag
        })
        .map(|(_, a)| a.clone())
        .collect();
    let want = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    println!(
        "Doorstep sync benchmarks ({} cores; release build)",
        cores()
    );
    if parts.iter().any(|a| a == "phone") {
        let world = World::build();
        let dir = scratch("phones");
        let (people, visits) = sizes();
        println!("\n(b) alone: a new phone's first sync of {people} people × {visits} visits, in a process of its own");
        for _ in 0..runs("DOORSTEP_BENCH_PHONE_RUNS", 3) {
            for kb in snapshot_page_kbs() {
                phone_in_child(&world, dir.path(), kb);
            }
        }
        return;
    }
    if want("first") || want("day") {
        let world = World::build();
        let first_runs = if want("first") {
            runs("DOORSTEP_BENCH_FIRST_RUNS", 5)
        } else {
            1
        };
        let mut peers = bench_first_sync(&world, first_runs);
        if want("day") {
            bench_day(&world, &mut peers, runs("DOORSTEP_BENCH_DAYS", 7));
        }
    }
    if want("load") {
        bench_load(runs("DOORSTEP_BENCH_LOAD_RUNS", 3));
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

// ======================================================================== statistics

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn kb(b: f64) -> String {
    if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else {
        format!("{:.1} KB", b / 1e3)
    }
}

/// What one sync cost on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct Wire {
    round_trips: u64,
    up: u64,
    down: u64,
    ms: f64,
}

impl Wire {
    fn total(&self) -> u64 {
        self.up + self.down
    }
}

fn medians(ws: &[Wire]) -> Wire {
    let m = |f: fn(&Wire) -> f64| median(ws.iter().map(f).collect());
    Wire {
        round_trips: m(|w| w.round_trips as f64) as u64,
        up: m(|w| w.up as f64) as u64,
        down: m(|w| w.down as f64) as u64,
        ms: m(|w| w.ms),
    }
}

fn row(name: &str, w: &Wire, reference: Option<&Wire>) {
    let ratio = reference
        .map(|r| format!("{:>6.2}×", w.total() as f64 / r.total().max(1) as f64))
        .unwrap_or_else(|| "      –".into());
    println!(
        "  {:<58} {:>6} {:>10} {:>10} {:>10} {} {:>9.1} ms",
        name,
        w.round_trips,
        kb(w.up as f64),
        kb(w.down as f64),
        kb(w.total() as f64),
        ratio,
        w.ms
    );
}

fn header(first_col: &str) {
    println!(
        "  {:<58} {:>6} {:>10} {:>10} {:>10} {:>7} {:>12}",
        first_col, "trips", "up", "down", "both", "ratio", "time"
    );
}

// ======================================================================== Automerge baseline server

type DocKey = (String, Compartment);

/// One set of server-side documents with the sync states of every peer that syncs with it.
#[derive(Default)]
struct Universe {
    docs: BTreeMap<DocKey, AutoCommit>,
    states: HashMap<(String, DocKey), am_sync::State>,
    snapshot: Vec<u8>,
}

#[derive(Default)]
struct AmServer {
    universes: Vec<Universe>,
}

type Shared = Arc<Mutex<AmServer>>;

#[derive(Serialize, Deserialize)]
struct AmItem {
    person: String,
    comp: Compartment,
    /// An encoded Automerge sync message, or none (nothing to say).
    msg: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct AmRequest {
    peer: String,
    items: Vec<AmItem>,
}

fn pack<T: Serialize>(v: &T) -> Vec<u8> {
    zstd::bulk::compress(&postcard::to_stdvec(v).expect("postcard"), 3).expect("zstd")
}

fn unpack<T: for<'de> Deserialize<'de>>(b: &[u8]) -> T {
    let raw = zstd::stream::decode_all(b).expect("zstd");
    postcard::from_bytes(&raw).expect("postcard")
}

/// POST /am/{u}/sync: receive each document's message with this peer's state, answer with the
/// next message for it (if any). The Automerge work is the same a user's server would do.
async fn am_sync_handler(
    State(s): State<Shared>,
    UrlPath(u): UrlPath<usize>,
    body: Bytes,
) -> Vec<u8> {
    let req: AmRequest = unpack(&body);
    let mut guard = s.lock().unwrap();
    let uni = &mut guard.universes[u];
    let mut out = Vec::with_capacity(req.items.len());
    for item in req.items {
        let key = (item.person.clone(), item.comp);
        let doc = uni.docs.entry(key.clone()).or_default();
        let state = uni.states.entry((req.peer.clone(), key)).or_default();
        if let Some(m) = item.msg {
            let msg = am_sync::Message::decode(&m).expect("sync message");
            doc.sync()
                .receive_sync_message(state, msg)
                .expect("receive");
        }
        let reply = doc.sync().generate_sync_message(state).map(|m| m.encode());
        out.push(AmItem {
            person: item.person,
            comp: item.comp,
            msg: reply,
        });
    }
    pack(&out)
}

/// GET /am/{u}/docs: the document keys (a client starting from nothing must ask).
async fn am_docs_handler(State(s): State<Shared>, UrlPath(u): UrlPath<usize>) -> Vec<u8> {
    let guard = s.lock().unwrap();
    let keys: Vec<DocKey> = guard.universes[u].docs.keys().cloned().collect();
    pack(&keys)
}

/// GET /am/{u}/snapshot: every document's `save()`, zstd, in one response (precomputed).
async fn am_snapshot_handler(State(s): State<Shared>, UrlPath(u): UrlPath<usize>) -> Vec<u8> {
    s.lock().unwrap().universes[u].snapshot.clone()
}

/// A phone's side of the Automerge baseline.
struct AmPeer {
    id: String,
    universe: usize,
    docs: BTreeMap<DocKey, AutoCommit>,
    states: BTreeMap<DocKey, am_sync::State>,
}

impl AmPeer {
    fn new(id: &str, universe: usize) -> Self {
        AmPeer {
            id: id.into(),
            universe,
            docs: BTreeMap::new(),
            states: BTreeMap::new(),
        }
    }

    /// Fetch the document list (a client starting from nothing does not know it).
    fn fetch_doc_list(&mut self, w: &World, wire: &mut Wire) {
        let body = w.get(&format!("{}/am/{}/docs", w.am_url, self.universe));
        wire.round_trips += 1;
        wire.down += body.len() as u64;
        let keys: Vec<DocKey> = unpack(&body);
        for k in keys {
            self.docs.entry(k).or_default();
        }
    }

    fn post(&self, w: &World, items: Vec<AmItem>, wire: &mut Wire) -> Vec<AmItem> {
        let body = pack(&AmRequest {
            peer: self.id.clone(),
            items,
        });
        wire.up += body.len() as u64;
        let answer = w.post(&format!("{}/am/{}/sync", w.am_url, self.universe), body);
        wire.down += answer.len() as u64;
        wire.round_trips += 1;
        unpack(&answer)
    }

    /// One POST per message exchange per document, documents one after another.
    fn sync_per_doc(&mut self, w: &World) -> Wire {
        let started = Instant::now();
        let mut wire = Wire::default();
        if self.docs.is_empty() {
            self.fetch_doc_list(w, &mut wire);
        }
        let keys: Vec<DocKey> = self.docs.keys().cloned().collect();
        for key in keys {
            loop {
                let doc = self.docs.get_mut(&key).unwrap();
                let state = self.states.entry(key.clone()).or_default();
                let Some(msg) = doc.sync().generate_sync_message(state) else {
                    break;
                };
                let reply = self.post(
                    w,
                    vec![AmItem {
                        person: key.0.clone(),
                        comp: key.1,
                        msg: Some(msg.encode()),
                    }],
                    &mut wire,
                );
                let doc = self.docs.get_mut(&key).unwrap();
                let state = self.states.get_mut(&key).unwrap();
                if let Some(m) = reply.into_iter().next().and_then(|i| i.msg) {
                    doc.sync()
                        .receive_sync_message(state, am_sync::Message::decode(&m).unwrap())
                        .unwrap();
                }
            }
        }
        wire.ms = started.elapsed().as_secs_f64() * 1000.0;
        wire
    }

    /// Every document's next message in one POST per exchange, until no document has more.
    fn sync_batched(&mut self, w: &World) -> Wire {
        let started = Instant::now();
        let mut wire = Wire::default();
        if self.docs.is_empty() {
            self.fetch_doc_list(w, &mut wire);
        }
        loop {
            let mut items = Vec::new();
            for (key, doc) in self.docs.iter_mut() {
                let state = self.states.entry(key.clone()).or_default();
                if let Some(m) = doc.sync().generate_sync_message(state) {
                    items.push(AmItem {
                        person: key.0.clone(),
                        comp: key.1,
                        msg: Some(m.encode()),
                    });
                }
            }
            if items.is_empty() {
                break;
            }
            for reply in self.post(w, items, &mut wire) {
                if let Some(m) = reply.msg {
                    let key = (reply.person, reply.comp);
                    let doc = self.docs.get_mut(&key).unwrap();
                    let state = self.states.get_mut(&key).unwrap();
                    doc.sync()
                        .receive_sync_message(state, am_sync::Message::decode(&m).unwrap())
                        .unwrap();
                }
            }
        }
        wire.ms = started.elapsed().as_secs_f64() * 1000.0;
        wire
    }

    /// Between two syncs a real client keeps only the persisted form of its sync states (and
    /// the server its own): `State::encode`/`decode`, as Automerge documents.
    fn persist_states(&mut self, w: &World) {
        for s in self.states.values_mut() {
            *s = am_sync::State::decode(&s.encode()).unwrap();
        }
        let mut guard = w.am.lock().unwrap();
        for ((peer, _), s) in guard.universes[self.universe].states.iter_mut() {
            if *peer == self.id {
                *s = am_sync::State::decode(&s.encode()).unwrap();
            }
        }
    }

    fn apply(&mut self, changes: &[ExportedChange]) {
        apply_to(&mut self.docs, changes);
    }
}

fn apply_to(docs: &mut BTreeMap<DocKey, AutoCommit>, changes: &[ExportedChange]) {
    let mut by_doc: BTreeMap<DocKey, Vec<Change>> = BTreeMap::new();
    for c in changes {
        by_doc
            .entry((c.person_id.clone(), c.compartment))
            .or_default()
            .push(Change::from_bytes(c.bytes.clone()).expect("change"));
    }
    for (k, cs) in by_doc {
        docs.entry(k).or_default().apply_changes(cs).expect("apply");
    }
}

fn heads(doc: &mut AutoCommit) -> Vec<String> {
    let mut h: Vec<String> = doc.get_heads().into_iter().map(|h| h.to_string()).collect();
    h.sort();
    h
}

// ======================================================================== the world

struct Dev {
    store: FieldStore,
    endpoint: SyncEndpoint,
}

struct World {
    _disk: tempfile::TempDir,
    _fast: tempfile::TempDir,
    _server_rt: tokio::runtime::Runtime,
    client_rt: tokio::runtime::Runtime,
    url: String,
    am_url: String,
    am: Shared,
    admin: Storage,
    http: reqwest::Client,
    nurse: Dev,
    clinician: Dev,
    people: Vec<String>,
    enrolled: Mutex<usize>,
}

fn scratch(label: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    tempfile::Builder::new()
        .prefix(&format!("doorstep-bench-{label}-"))
        .tempdir_in(base)
        .unwrap()
}

fn fast_dir(label: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::Builder::new()
            .prefix(&format!("doorstep-bench-{label}-"))
            .tempdir_in(shm)
            .unwrap()
    } else {
        scratch(label)
    }
}

/// Enrol a device for `user` over HTTP with a one-time code, and open its encrypted store.
fn enrol_dev(
    admin_storage: &Storage,
    rt: &tokio::runtime::Runtime,
    url: &str,
    user: &str,
    path: std::path::PathBuf,
) -> Dev {
    let code = admin::issue_code(admin_storage, user).unwrap();
    let e = rt.block_on(sync::enrol(url, &code)).unwrap();
    let store = FieldStore::open(StoreConfig::new(
        path,
        &testing::TEST_KEY,
        &e.device_id,
        e.user.clone(),
    ))
    .unwrap();
    Dev {
        store,
        endpoint: SyncEndpoint {
            url: url.to_string(),
            device_token: e.device_token,
        },
    }
}

impl World {
    fn build() -> World {
        let started = Instant::now();
        let disk = scratch("sync");
        let fast = fast_dir("recorders");
        let server_dir = disk.path().join("server");
        let storage = Storage::Sqlite(SqliteStorage::open(&server_dir).unwrap());
        admin::create_team(&storage, TEAM, "Bench team").unwrap();
        admin::create_user(
            &storage,
            "rec-nurse",
            "Recording nurse",
            Role::DistrictNurse,
            TEAM,
        )
        .unwrap();
        admin::create_user(
            &storage,
            "rec-clinician",
            "Recording clinician",
            Role::VirtualWardClinician,
            TEAM,
        )
        .unwrap();
        admin::create_user(&storage, "phone", "Phone user", Role::DistrictNurse, TEAM).unwrap();
        // A second handle on the same database, for operator actions while the server runs.
        let admin_handle = Storage::Sqlite(SqliteStorage::open(&server_dir).unwrap());

        let server_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = server_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        server_rt.spawn(doorstep_server::serve(
            listener,
            storage,
            ServerConfig::default(),
            std::future::pending(),
        ));

        let am: Shared = Arc::new(Mutex::new(AmServer::default()));
        let router = Router::new()
            .route("/am/{u}/sync", post(am_sync_handler))
            .route("/am/{u}/docs", get(am_docs_handler))
            .route("/am/{u}/snapshot", get(am_snapshot_handler))
            .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
            .with_state(am.clone());
        let am_listener = server_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let am_url = format!("http://{}", am_listener.local_addr().unwrap());
        server_rt.spawn(async move { axum::serve(am_listener, router).await });

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap();
        let nurse = enrol_dev(
            &admin_handle,
            &client_rt,
            &url,
            "rec-nurse",
            fast.path().join("rec-nurse.db"),
        );
        let clinician = enrol_dev(
            &admin_handle,
            &client_rt,
            &url,
            "rec-clinician",
            fast.path().join("rec-clinician.db"),
        );
        let mut w = World {
            _disk: disk,
            _fast: fast,
            _server_rt: server_rt,
            client_rt,
            url,
            am_url,
            am,
            admin: admin_handle,
            http,
            nurse,
            clinician,
            people: Vec::new(),
            enrolled: Mutex::new(0),
        };
        w.generate();
        w.build_baseline();
        println!(
            "  (set-up: data generated, uploaded and baseline documents built in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        w
    }

    fn enrol(&self, user: &str, dir: &Path) -> Dev {
        let n = {
            let mut g = self.enrolled.lock().unwrap();
            *g += 1;
            *g
        };
        enrol_dev(
            &self.admin,
            &self.client_rt,
            &self.url,
            user,
            dir.join(format!("{user}-{n}.db")),
        )
    }

    fn sync(&self, d: &Dev) -> SyncReport {
        self.client_rt
            .block_on(sync::sync(&d.store, &d.endpoint, None))
            .expect("sync")
    }

    fn get(&self, url: &str) -> Vec<u8> {
        self.client_rt.block_on(async {
            let r = self.http.get(url).send().await.unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap().to_vec()
        })
    }

    fn post(&self, url: &str, body: Vec<u8>) -> Vec<u8> {
        self.client_rt.block_on(async {
            let r = self.http.post(url).body(body).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap().to_vec()
        })
    }

    /// 50 people registered by the nurse; 100 visits each over a year, alternately by the nurse
    /// and the virtual-ward clinician; everything uploaded to the server.
    fn generate(&mut self) {
        let t = Instant::now();
        let families = [
            "Crawley",
            "Holroyd",
            "Sutcliffe",
            "Greenwood",
            "Ackroyd",
            "Haigh",
            "Thornton",
            "Uttley",
            "Hirst",
            "Lumb",
        ];
        let given = ["Edith", "Arthur", "Margaret", "Harold", "Joan"];
        for i in 0..sizes().0 {
            let id = self
                .nurse
                .store
                .register_patient(testing::demographics(
                    given[i % 5],
                    &format!("{}{}", families[i % 10], i / 10),
                    None,
                    "HX7 8AB",
                ))
                .unwrap();
            self.nurse
                .store
                .set_alert(
                    &id,
                    AlertInput {
                        kind: AlertKind::Allergies,
                        text: "No known drug allergies".into(),
                        active: true,
                    },
                )
                .unwrap();
            if i % 3 == 0 {
                self.nurse
                    .store
                    .set_alert(
                        &id,
                        AlertInput {
                            kind: AlertKind::Resuscitation,
                            text: "DNACPR in place".into(),
                            active: true,
                        },
                    )
                    .unwrap();
            }
            self.people.push(id);
        }
        self.sync(&self.nurse);
        self.sync(&self.clinician);
        let people = &self.people;
        let year_minutes = 365 * 24 * 60;
        std::thread::scope(|s| {
            for (dev, parity) in [(&self.nurse, 0), (&self.clinician, 1)] {
                s.spawn(move || {
                    let visits = sizes().1;
                    for k in (parity..visits).step_by(2) {
                        let minutes_ago = (year_minutes * (visits - k) / visits) as i64;
                        for p in people {
                            dev.store
                                .record_visit(p, testing::full_visit(minutes_ago))
                                .unwrap();
                        }
                    }
                });
            }
        });
        let a = self.sync(&self.nurse);
        let b = self.sync(&self.clinician);
        self.sync(&self.nurse);
        let seq = self.admin.read(|tx| tx.max_seq()).unwrap();
        println!(
            "  data: {} people × {} visits (8 observations, 3 interventions, 500-character note each) by two devices; {} changes on the server ({} + {} uploaded in {} + {} round trips); generated in {:.1} s",
            sizes().0,
            sizes().1,
            seq,
            a.changes_sent,
            b.changes_sent,
            a.round_trips,
            b.round_trips,
            t.elapsed().as_secs_f64()
        );
    }

    /// The baseline server's documents: exactly the changes Doorstep's server holds, per
    /// document, in two independent copies (per-document and batched baselines), and the
    /// precomputed snapshot.
    fn build_baseline(&self) {
        let mut docs: BTreeMap<DocKey, AutoCommit> = BTreeMap::new();
        let changes: Vec<ExportedChange> = self
            .admin
            .read(|tx| {
                let mut out = Vec::new();
                for (p, _) in tx.members(TEAM)? {
                    for c in Compartment::ALL {
                        for sc in tx.doc_changes(&p, c, u64::MAX)? {
                            out.push(ExportedChange {
                                person_id: sc.person_id,
                                compartment: sc.compartment,
                                bytes: sc.bytes,
                            });
                        }
                    }
                }
                Ok(out)
            })
            .unwrap();
        apply_to(&mut docs, &changes);
        let snapshot: Vec<(String, Compartment, Vec<u8>)> = docs
            .iter_mut()
            .map(|((p, c), d)| (p.clone(), *c, d.save()))
            .collect();
        let snapshot = pack(&snapshot);
        let mut am = self.am.lock().unwrap();
        for _ in 0..2 {
            let copy: BTreeMap<DocKey, AutoCommit> =
                docs.iter().map(|(k, d)| (k.clone(), d.clone())).collect();
            am.universes.push(Universe {
                docs: copy,
                states: HashMap::new(),
                snapshot: snapshot.clone(),
            });
        }
        println!(
            "  baseline server: {} Automerge documents from the same {} changes; snapshot (save() of each, zstd) {}",
            docs.len(),
            changes.len(),
            kb(snapshot.len() as f64)
        );
    }

    /// The Doorstep phone's document heads, to compare with a baseline peer's.
    fn phone_heads(&self, phone: &Dev) -> BTreeMap<DocKey, Vec<String>> {
        phone
            .store
            .document_heads()
            .unwrap()
            .into_iter()
            .map(|(p, c, h)| ((p, c), h))
            .collect()
    }
}

fn peer_heads(peer: &mut AmPeer) -> BTreeMap<DocKey, Vec<String>> {
    peer.docs
        .iter_mut()
        .map(|(k, d)| (k.clone(), heads(d)))
        .collect()
}

// ======================================================================== (b) first sync

struct Peers {
    phone: Dev,
    per_doc: AmPeer,
    batched: AmPeer,
}

fn bench_first_sync(w: &World, n: usize) -> Peers {
    let (people, visits) = sizes();
    println!("\n(b) A new phone's first sync: {people} people × {visits} visits, already on the server ({n} runs, medians)");
    let phone_dir = scratch("phones");
    let mut ours = Vec::new();
    let mut pages = Vec::new();
    let mut received = Vec::new();
    let mut snap = Vec::new();
    let mut per_doc = Vec::new();
    let mut batched = Vec::new();
    let mut last = None;
    for i in 0..n {
        let phone = w.enrol("phone", phone_dir.path());
        let mut pd = AmPeer::new(&format!("per-doc-{i}"), 0);
        let mut bt = AmPeer::new(&format!("batched-{i}"), 1);
        // The four subjects in a different order each run.
        for k in 0..4 {
            match (k + i) % 4 {
                0 => {
                    let t = Instant::now();
                    let r = w.sync(&phone);
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    ours.push(Wire {
                        round_trips: r.round_trips as u64,
                        up: r.bytes_sent,
                        down: r.bytes_received,
                        ms,
                    });
                    pages.push(r.round_trips as f64);
                    received.push(r.changes_received as f64);
                }
                1 => {
                    // Baseline 1: one snapshot response, loaded into documents.
                    let t = Instant::now();
                    let body = w.get(&format!("{}/am/0/snapshot", w.am_url));
                    let docs: Vec<(String, Compartment, Vec<u8>)> = unpack(&body);
                    let loaded: Vec<AutoCommit> = docs
                        .iter()
                        .map(|(_, _, b)| AutoCommit::load(b).unwrap())
                        .collect();
                    snap.push(Wire {
                        round_trips: 1,
                        up: 0,
                        down: body.len() as u64,
                        ms: t.elapsed().as_secs_f64() * 1000.0,
                    });
                    assert_eq!(loaded.len(), docs.len());
                }
                // Baselines 2 and 3: Automerge's sync protocol from empty.
                2 => per_doc.push(pd.sync_per_doc(w)),
                _ => batched.push(bt.sync_batched(w)),
            }
        }
        assert_eq!(phone.store.caseload().unwrap().len(), sizes().0);
        last = Some(Peers {
            phone,
            per_doc: pd,
            batched: bt,
        });
    }
    let mut peers = last.unwrap();
    // Same documents everywhere: the phone's heads equal both baseline peers'.
    let ph = w.phone_heads(&peers.phone);
    assert_eq!(
        ph,
        peer_heads(&mut peers.per_doc),
        "Doorstep phone and per-document baseline differ"
    );
    assert_eq!(
        ph,
        peer_heads(&mut peers.batched),
        "Doorstep phone and batched baseline differ"
    );

    let o = medians(&ours);
    println!(
        "  Doorstep received {} changes in {} pages ({} round trips); every document's heads equal the baselines' ({} documents)",
        median(received),
        median(pages),
        o.round_trips,
        ph.len()
    );
    header("first sync");
    row(
        "Doorstep sync (into the encrypted store, projections built)",
        &o,
        None,
    );
    row(
        "Automerge save() of every document, zstd, one response",
        &medians(&snap),
        Some(&o),
    );
    row(
        "Automerge sync protocol from empty, per document",
        &medians(&per_doc),
        Some(&o),
    );
    row(
        "Automerge sync protocol from empty, batched",
        &medians(&batched),
        Some(&o),
    );
    println!("  (ratios: baseline bytes ÷ Doorstep bytes; baselines keep documents in memory only, Doorstep writes them to SQLCipher with projections)");
    println!(
        "  Doorstep first-sync times, ms: {}",
        list(&ours.iter().map(|w| w.ms).collect::<Vec<_>>())
    );
    for kb in snapshot_page_kbs() {
        phone_in_child(w, phone_dir.path(), kb);
    }
    peers.per_doc.persist_states(w);
    peers.batched.persist_states(w);
    peers
}

// ======================================================================== the phone alone

/// `--snapshot-page-kb K[,K…]`: the pages the child phone asks for while documents arrive whole,
/// one child sync each (0, the default, is the app's own).
const SNAPSHOT_PAGE_FLAG: &str = "--snapshot-page-kb";

fn snapshot_page_kbs() -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == SNAPSHOT_PAGE_FLAG)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
        .filter(|kbs: &Vec<usize>| !kbs.is_empty())
        .unwrap_or_else(|| vec![0])
}

/// The argument that makes this executable the phone of [`phone_in_child`].
const PHONE_CHILD: &str = "--phone-child";

/// One more first sync, by a phone that is a child process of its own (this executable again),
/// so that its peak resident memory is the phone's alone: the server, the recording devices and
/// the baselines stay in this process.
fn phone_in_child(w: &World, dir: &Path, snapshot_page_kb: usize) {
    let code = admin::issue_code(&w.admin, "phone").unwrap();
    let path = dir.join("child-phone.db");
    let _ = std::fs::remove_file(&path);
    let page_kb = snapshot_page_kb.to_string();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([PHONE_CHILD, &w.url, &code, path.to_str().unwrap(), &page_kb])
        .output()
        .expect("start the phone's process");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the phone's process failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("  {}", text.trim());
}

/// The phone's process: enrol with `code`, sync once into a new store at `path`, and say what it
/// took, with the process's peak resident memory (`VmHWM`).
fn phone_child(args: &[String]) {
    let [url, code, path, page_kb] = args else {
        panic!("usage: {PHONE_CHILD} URL CODE PATH SNAPSHOT_PAGE_KB");
    };
    let mut options = sync::SyncOptions::default();
    if let Some(kb) = page_kb.parse::<u32>().ok().filter(|kb| *kb > 0) {
        options.max_snapshot_page_bytes = kb * 1024;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(sync::enrol(url, code)).unwrap();
    let store = FieldStore::open(StoreConfig::new(
        std::path::PathBuf::from(path),
        &testing::TEST_KEY,
        &e.device_id,
        e.user.clone(),
    ))
    .unwrap();
    let endpoint = SyncEndpoint {
        url: url.clone(),
        device_token: e.device_token,
    };
    let before = peak_resident_kb();
    let t = Instant::now();
    let r = rt
        .block_on(sync::sync_with(&store, &endpoint, &options, None))
        .unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "Doorstep phone in a process of its own: first sync {ms:.0} ms, {} round trips ({} KB snapshot pages), {} people; peak resident memory {:.0} MB ({:.0} MB before the sync)",
        r.round_trips,
        options.max_snapshot_page_bytes / 1024,
        store.caseload().unwrap().len(),
        peak_resident_kb() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

/// This process's peak resident set size in KB (Linux `/proc/self/status`, `VmHWM`).
fn peak_resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn list(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ======================================================================== (a) a day's sync

fn bench_day(w: &World, peers: &mut Peers, days: usize) {
    println!(
        "\n(a) A day's sync: the phone recorded 10 visits and edited 3 people; the server received 12 visits and 2 person edits from another device, one on the same field of the same person ({days} days, medians)"
    );
    let mut ours = Vec::new();
    let mut per_doc = Vec::new();
    let mut batched = Vec::new();
    let mut conflicts = Vec::new();
    let n = w.people.len();
    for day in 0..days {
        let same = &w.people[(day * 5) % n];
        // The other device's day, already on the server.
        let other = &w.clinician;
        for j in 0..12 {
            other
                .store
                .record_visit(
                    &w.people[(day * 7 + j) % n],
                    testing::full_visit(600 - 30 * j as i64),
                )
                .unwrap();
        }
        other
            .store
            .set_alert(
                same,
                AlertInput {
                    kind: AlertKind::Allergies,
                    text: format!("Latex: rash (day {day}, clinician)"),
                    active: true,
                },
            )
            .unwrap();
        edit_phone_number(
            &other.store,
            &w.people[(day * 5 + 1) % n],
            &format!("01422 88{day:04}"),
        );
        let from_other = other.store.sync_outbox(usize::MAX).unwrap().changes;
        assert_eq!(from_other.len(), 14);
        w.sync(other);
        {
            let mut am = w.am.lock().unwrap();
            for u in am.universes.iter_mut() {
                apply_to(&mut u.docs, &from_other);
            }
        }

        // The phone's day, offline.
        let phone = &peers.phone;
        for j in 0..10 {
            phone
                .store
                .record_visit(
                    &w.people[(day * 3 + j) % n],
                    testing::full_visit(570 - 30 * j as i64),
                )
                .unwrap();
        }
        phone
            .store
            .set_alert(
                same,
                AlertInput {
                    kind: AlertKind::Allergies,
                    text: format!("Penicillin: anaphylaxis (day {day}, phone)"),
                    active: true,
                },
            )
            .unwrap();
        edit_phone_number(
            &phone.store,
            &w.people[(day * 5 + 2) % n],
            &format!("01422 77{day:04}"),
        );
        edit_phone_number(
            &phone.store,
            &w.people[(day * 5 + 3) % n],
            &format!("01422 66{day:04}"),
        );
        let from_phone = phone.store.sync_outbox(usize::MAX).unwrap().changes;
        assert_eq!(from_phone.len(), 13);
        peers.per_doc.apply(&from_phone);
        peers.batched.apply(&from_phone);

        // Measure Doorstep and the two baselines (each against its own copy of the server), in
        // a different order each day.
        for k in 0..3 {
            match (k + day) % 3 {
                0 => {
                    let t = Instant::now();
                    let r = w.sync(phone);
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    assert_eq!((r.changes_sent, r.changes_received), (13, 14), "{r:?}");
                    conflicts.push(r.new_conflicts.len() as f64);
                    ours.push(Wire {
                        round_trips: r.round_trips as u64,
                        up: r.bytes_sent,
                        down: r.bytes_received,
                        ms,
                    });
                }
                1 => per_doc.push(peers.per_doc.sync_per_doc(w)),
                _ => batched.push(peers.batched.sync_batched(w)),
            }
        }
        peers.per_doc.persist_states(w);
        peers.batched.persist_states(w);

        // All three ended with the same documents.
        let ph = w.phone_heads(phone);
        assert_eq!(
            ph,
            peer_heads(&mut peers.per_doc),
            "day {day}: per-document baseline differs"
        );
        assert_eq!(
            ph,
            peer_heads(&mut peers.batched),
            "day {day}: batched baseline differs"
        );
        w.sync(other);
    }
    let o = medians(&ours);
    let pd = medians(&per_doc);
    let bt = medians(&batched);
    println!(
        "  documents on the phone: {}; new clinical conflicts per day (the same-field edit): {}; every day all three clients ended with identical document heads",
        peers.per_doc.docs.len(),
        median(conflicts)
    );
    header("day's sync");
    row("Doorstep sync", &o, None);
    row(
        "Automerge sync protocol, persisted states, per document",
        &pd,
        Some(&o),
    );
    row(
        "Automerge sync protocol, persisted states, batched",
        &bt,
        Some(&o),
    );
    println!(
        "  (ratios: baseline bytes ÷ Doorstep bytes.) Target: 1 round trip and at most half the baseline's bytes: Doorstep {} round trip(s), {:.0}% of the per-document baseline's bytes, {:.0}% of the batched baseline's.",
        o.round_trips,
        100.0 * o.total() as f64 / pd.total() as f64,
        100.0 * o.total() as f64 / bt.total() as f64
    );
    println!(
        "  Doorstep bytes per day (both ways): {}",
        list(&ours.iter().map(|w| w.total() as f64).collect::<Vec<_>>())
    );
    println!(
        "  Doorstep times per day, ms: {}",
        list(&ours.iter().map(|w| w.ms).collect::<Vec<_>>())
    );
    probe_fixed_costs(w, &peers.phone);
}

/// Where the time of a sync with nothing to carry goes, on this phone (it holds the whole
/// caseload): the client's own steps, timed one by one through the public API.
fn probe_fixed_costs(w: &World, phone: &Dev) {
    use doorstep_core::store::SyncPage;
    use doorstep_core::sync::protocol;
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        ("whole sync, nothing to send or receive", vec![]),
        (
            "whole sync, the same, HTTP client kept (as the bindings do)",
            vec![],
        ),
        ("  building the HTTP client (reqwest, rustls)", vec![]),
        (
            "  Session::start (outbox, cursor, quarantine from the store)",
            vec![],
        ),
        ("  the HTTP round trip (server work included)", vec![]),
        (
            "  apply_sync_page of an empty page (one SQLite commit)",
            vec![],
        ),
    ];
    let mut kept = sync::SyncOptions::default();
    kept.http = Some(sync::transport::kept_client(kept.timeout).unwrap());
    for _ in 0..5 {
        let t = Instant::now();
        let r = w.sync(phone);
        rows[0].1.push(ms(t));
        assert_eq!(r.changes_sent + r.changes_received, 0);
        let t = Instant::now();
        let r = w
            .client_rt
            .block_on(sync::sync_with(&phone.store, &phone.endpoint, &kept, None))
            .unwrap();
        rows[1].1.push(ms(t));
        assert_eq!(r.changes_sent + r.changes_received, 0);
        let t = Instant::now();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        rows[2].1.push(ms(t));
        let t = Instant::now();
        let mut session = sync::Session::new(sync::SessionOptions::default());
        let request = session.start(&phone.store).unwrap();
        rows[3].1.push(ms(t));
        assert!(request.changes.is_empty());
        let body = protocol::encode(&request);
        let t = Instant::now();
        let answer = w.client_rt.block_on(async {
            client
                .post(format!("{}{}", w.url, protocol::SYNC_PATH))
                .bearer_auth(&phone.endpoint.device_token)
                .header(reqwest::header::CONTENT_TYPE, protocol::MEDIA_TYPE)
                .header(
                    protocol::VERSION_HEADER,
                    protocol::PROTOCOL_VERSION.to_string(),
                )
                .body(body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        rows[4].1.push(ms(t));
        let r: protocol::SyncResponse = protocol::decode(&answer).unwrap();
        let t = Instant::now();
        phone
            .store
            .apply_sync_page(&SyncPage {
                cursor: r.cursor.seq,
                cursor_skip: r.cursor.skip,
                lock_after_days: r.lock_after_days,
                ..Default::default()
            })
            .unwrap();
        rows[5].1.push(ms(t));
    }
    let held = phone
        .store
        .export_changes(0)
        .map(|b| b.changes.len())
        .unwrap_or(0);
    println!("  Fixed cost of a sync on this phone (it holds {held} changes), medians of 5, ms:");
    for (name, xs) in rows {
        println!("    {:<58} {:>7.1}", name, median(xs));
    }
}

fn edit_phone_number(store: &FieldStore, person: &str, phone: &str) {
    let mut d = store.patient(person).unwrap().demographics.unwrap();
    d.phone = Some(phone.into());
    store.update_demographics(person, d).unwrap();
}

// ======================================================================== (c) the server under loadgen

fn bench_load(n: usize) {
    println!("\n(c) The server under `doorstep loadgen`: 500 devices (25 teams of 20), 10 visits each, all syncing at once ({n} runs each, medians)");
    let bin = env!("CARGO_BIN_EXE_doorstep");
    let have_pg =
        Path::new("/usr/lib/postgresql").is_dir() || std::env::var("DOORSTEP_PG_BIN").is_ok();
    println!(
        "  {:<12} {:<6} {:>8} {:>11} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11}",
        "backend",
        "client",
        "wall s",
        "syncs/s",
        "changes/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "server CPU",
        "device CPU",
        "machine CPU"
    );
    for backend in ["sqlite", "postgresql"] {
        if backend == "postgresql" && !have_pg {
            println!(
                "  postgresql: skipped (no PostgreSQL server binaries under /usr/lib/postgresql)"
            );
            continue;
        }
        for mode in ["full", "wire"] {
            let mut results = Vec::new();
            for _ in 0..n {
                // A fresh database each run.
                let pg = (backend == "postgresql").then(doorstep_tests::Postgres::start);
                let mut cmd = Command::new(bin);
                cmd.args(["loadgen", "--json", "--client", mode]);
                if let Some(pg) = &pg {
                    cmd.args(["--postgres", &pg.url]);
                }
                let out = cmd.output().expect("run doorstep loadgen");
                assert!(
                    out.status.success(),
                    "loadgen failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let stdout = String::from_utf8_lossy(&out.stdout);
                let v: serde_json::Value =
                    serde_json::from_str(stdout.lines().last().unwrap_or(""))
                        .expect("loadgen JSON");
                results.push(v["evening"].clone());
                drop(pg);
            }
            let m = |k: &str| {
                median(
                    results
                        .iter()
                        .map(|r| r[k].as_f64().unwrap_or(f64::NAN))
                        .collect(),
                )
            };
            let errors: u64 = results
                .iter()
                .map(|r| r["errors"].as_u64().unwrap_or(1))
                .sum();
            println!(
                "  {:<12} {:<6} {:>8.2} {:>11.1} {:>10.0} {:>9.0} {:>9.0} {:>9.0} {:>9} {:>9.1} s {:>9.1} s {:>9.1} s",
                backend,
                mode,
                m("wall_s"),
                m("syncs_per_s"),
                m("changes_per_s"),
                m("p50_ms"),
                m("p95_ms"),
                m("p99_ms"),
                errors,
                m("server_cpu_s"),
                m("client_cpu_s"),
                m("machine_cpu_s")
            );
            println!(
                "  {:<12} {:<6} per run: syncs/s {}; p99 ms {}",
                "",
                "",
                list(
                    &results
                        .iter()
                        .map(|r| r["syncs_per_s"].as_f64().unwrap_or(f64::NAN))
                        .collect::<Vec<_>>()
                ),
                list(
                    &results
                        .iter()
                        .map(|r| r["p99_ms"].as_f64().unwrap_or(f64::NAN))
                        .collect::<Vec<_>>()
                )
            );
        }
    }
    println!("  (CPU seconds during the measured phase. server: the in-process server's threads; device: the devices' threads; machine: every process on the machine, which on PostgreSQL includes the database's and on a shared machine anything else running)");
}
