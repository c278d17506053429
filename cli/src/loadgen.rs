//! `doorstep loadgen`: many enrolled devices, each with a day's work in its own encrypted store,
//! syncing at once against one server; reports throughput and latency (docs/performance.md).
//!
//! Phases: operator set-up (teams, users, one-time codes, straight on the server's storage, as
//! `doorstep admin` does) → every device enrols over HTTP and opens its own store → morning: the
//! first device of each team registers the team's people and syncs, then every other device
//! syncs to receive them → the day: every device records its visits offline → **evening: every
//! device syncs its day's work, all at once (or `--concurrency` at a time); this is what is
//! measured.** Everything runs on loopback and is bounded in count (`--devices`) and time
//! (`--timeout-secs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use doorstep_core::record::*;
use doorstep_core::sync::protocol::{self, SyncResponse};
use doorstep_core::sync::{self, SyncEndpoint, SyncOptions, SyncReport};
use doorstep_core::sync::{Session, SessionOptions};
use doorstep_core::{testing, FieldStore, StoreConfig};
use doorstep_server::storage::postgres::PgStorage;
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::{admin, ServerConfig, Storage};
use serde::Serialize;

#[derive(clap::Args, Clone)]
pub struct LoadgenArgs {
    /// Load a server that is already running at this URL (e.g. http://127.0.0.1:8700). Its
    /// storage (--data-dir or --postgres) is needed too, for the operator steps (teams, users,
    /// enrolment codes), as `doorstep admin` does. Without --url, loadgen starts a server itself,
    /// in this process, on loopback.
    #[arg(long)]
    url: Option<String>,
    /// Start the server on embedded SQLite (the default): in --data-dir, or a new temporary
    /// directory that is removed at the end.
    #[arg(long, conflicts_with = "postgres")]
    sqlite: bool,
    /// PostgreSQL, e.g. postgres://postgres@127.0.0.1:5432/doorstep: the database of the server at
    /// --url, or the one to start a server on.
    #[arg(long)]
    postgres: Option<String>,
    /// The embedded SQLite data directory: of the server at --url, or the one to start a server on.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Devices to enrol (each with its own encrypted store).
    #[arg(long, default_value_t = 500)]
    devices: usize,
    /// Devices per team (a team shares one caseload).
    #[arg(long, default_value_t = 20)]
    team_size: usize,
    /// People on each team's caseload.
    #[arg(long, default_value_t = 10)]
    people_per_team: usize,
    /// Visits each device records during the day (each with 8 observations, 3 interventions and a
    /// 500-character note), spread over 3 people of its team.
    #[arg(long, default_value_t = 10)]
    visits: usize,
    /// Syncs in flight at once in the measured (evening) phase; 0 means every device at once.
    #[arg(long, default_value_t = 0)]
    concurrency: usize,
    /// Worker threads of the devices' tokio runtime (the server started here gets its own 2).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Give up (and fail) if the whole run takes longer than this.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
    /// Print the result as one JSON object on stdout (the progress lines go to stderr).
    #[arg(long)]
    json: bool,
    /// How devices sync in the measured phase. `full`: the real sync client, which also merges
    /// what it receives into the device's encrypted store (on this machine's cores, beside the
    /// server). `wire`: the same request bodies (each device's outbox and cursor, encoded as the
    /// client encodes them) posted over HTTP by one shared HTTP client and the answers decoded,
    /// but not applied — the server's load without the phones' own work.
    #[arg(long, value_enum, default_value_t = ClientMode::Full)]
    client: ClientMode,
    /// Run the in-process server without its request limits (rate limits, per-request bounds,
    /// minimum body rate), to measure what the limits cost. Default: the server's defaults,
    /// which admit 500 devices on one address.
    #[arg(long)]
    no_limits: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMode {
    Full,
    Wire,
}

type R<T> = Result<T, String>;

const MAX_DEVICES: usize = 5_000;
const SERVER_THREAD: &str = "doorstep-server";
const CLIENT_THREAD: &str = "loadgen-client";

struct Device {
    team: usize,
    index_in_team: usize,
    store: Arc<FieldStore>,
    endpoint: SyncEndpoint,
}

/// One phase of concurrent syncs, measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseResult {
    pub syncs: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub concurrency: usize,
    pub wall_s: f64,
    pub syncs_per_s: f64,
    pub changes_sent: u64,
    pub changes_received: u64,
    pub changes_per_s: f64,
    pub round_trips: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU seconds of the in-process server's threads during the phase (None for --url).
    pub server_cpu_s: Option<f64>,
    /// CPU seconds of the devices' threads (sync client, encrypted stores) during the phase.
    pub client_cpu_s: f64,
    /// CPU seconds the whole machine was busy during the phase (every process: this one, a
    /// database server, and anything else running on a shared machine).
    pub machine_cpu_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadgenResult {
    pub backend: String,
    pub client: ClientMode,
    pub in_process_server: bool,
    pub devices: usize,
    pub teams: usize,
    pub people_per_team: usize,
    pub visits_per_device: usize,
    pub cores: usize,
    pub setup_operator_s: f64,
    pub enrol_s: f64,
    pub open_stores_s: f64,
    pub day_work_s: f64,
    pub morning: PhaseResult,
    pub evening: PhaseResult,
}

pub fn run(args: LoadgenArgs) -> R<()> {
    if args.devices == 0 || args.devices > MAX_DEVICES {
        return Err(format!("--devices must be between 1 and {MAX_DEVICES}"));
    }
    if args.team_size == 0 || args.people_per_team < 3 || args.visits == 0 {
        return Err(
            "--team-size and --visits must be at least 1, --people-per-team at least 3".into(),
        );
    }
    let log = |s: String| {
        if args.json {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    };
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let check_time = |phase: &str| -> R<()> {
        if Instant::now() > deadline {
            Err(format!(
                "gave up after --timeout-secs {} (during {phase})",
                args.timeout_secs
            ))
        } else {
            Ok(())
        }
    };

    // ---------------------------------------------------------------- storage and server
    let mut _server_tmp = None;
    let storage = match (&args.postgres, &args.data_dir) {
        (Some(url), _) => Storage::Postgres(PgStorage::open(url).map_err(|e| e.to_string())?),
        (None, Some(dir)) => Storage::Sqlite(SqliteStorage::open(dir).map_err(|e| e.to_string())?),
        (None, None) => {
            if args.url.is_some() {
                return Err("with --url, give the running server's storage too (--data-dir or --postgres), for the operator steps".into());
            }
            let t = tempfile::Builder::new()
                .prefix("doorstep-loadgen-server-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            let s = SqliteStorage::open(t.path()).map_err(|e| e.to_string())?;
            _server_tmp = Some(t);
            Storage::Sqlite(s)
        }
    };
    let backend = match &storage {
        Storage::Sqlite(_) => "sqlite",
        Storage::Postgres(_) => "postgresql",
    };
    let describe = storage.describe();

    // Operator set-up, straight on the storage.
    let teams = args.devices.div_ceil(args.team_size);
    let prefix = format!("lg{}", Utc::now().format("%H%M%S%3f"));
    let t = Instant::now();
    let mut codes = Vec::with_capacity(args.devices);
    for team in 0..teams {
        let team_id = format!("{prefix}-t{team:03}");
        admin::create_team(&storage, &team_id, &format!("Load team {team}"))
            .map_err(|e| e.to_string())?;
        let members = args.team_size.min(args.devices - team * args.team_size);
        for i in 0..members {
            let user_id = format!("{team_id}-u{i:02}");
            let role = if i % 2 == 0 {
                Role::DistrictNurse
            } else {
                Role::VirtualWardClinician
            };
            admin::create_user(
                &storage,
                &user_id,
                &format!("Clinician {i} of team {team}"),
                role,
                &team_id,
            )
            .map_err(|e| e.to_string())?;
            codes.push((
                team,
                i,
                admin::issue_code(&storage, &user_id).map_err(|e| e.to_string())?,
            ));
        }
    }
    let setup_operator_s = t.elapsed().as_secs_f64();
    check_time("operator set-up")?;

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (url, server) = match &args.url {
        Some(url) => {
            drop(stopped);
            (url.trim_end_matches('/').to_string(), None)
        }
        None => {
            let listener = server_rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .map_err(|e| format!("cannot listen on loopback: {e}"))?;
            let url = format!(
                "http://{}",
                listener.local_addr().map_err(|e| e.to_string())?
            );
            let handle = server_rt.spawn(doorstep_server::serve(
                listener,
                storage,
                server_config(args.no_limits),
                async move {
                    let _ = stopped.await;
                },
            ));
            (url, Some(handle))
        }
    };
    let in_process = server.is_some();
    let guard = ServerGuard {
        rt: Some(server_rt),
        handle: server,
        stop: Some(stop),
        graceful: backend == "sqlite",
    };
    log(format!(
        "doorstep loadgen: {} devices in {teams} teams of up to {}, {} people per team, {} visits per device",
        args.devices, args.team_size, args.people_per_team, args.visits
    ));
    log(format!(
        "server: {} at {url} ({describe})",
        if in_process {
            "in this process"
        } else {
            "already running"
        }
    ));
    log(format!(
        "set-up: teams, users and enrolment codes in {setup_operator_s:.1} s"
    ));

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .thread_name(CLIENT_THREAD)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    // ---------------------------------------------------------------- enrol and open stores
    let t = Instant::now();
    let enrolled = client_rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(32));
        let mut tasks = Vec::new();
        for (team, i, code) in codes {
            let url = url.clone();
            let sem = sem.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                sync::enrol(&url, &code).await.map(|e| (team, i, e))
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(
                t.await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("enrolment failed: {e}"))?,
            );
        }
        Ok::<_, String>(out)
    })?;
    let enrol_s = t.elapsed().as_secs_f64();
    log(format!(
        "enrolled {} devices over HTTP in {enrol_s:.1} s",
        enrolled.len()
    ));
    check_time("enrolment")?;

    let stores_dir = stores_tempdir()?;
    let t = Instant::now();
    let devices: Vec<Device> = parallel(enrolled, |(team, i, e)| {
        let mut config = StoreConfig::new(
            stores_dir.path().join(format!("{}.db", e.device_id)),
            &testing::TEST_KEY,
            &e.device_id,
            e.user.clone(),
        );
        // Hundreds of stores in one process: no compaction thread each, a small warm cache.
        config.background_compaction = false;
        config.doc_cache_size = 16;
        let store =
            FieldStore::open(config).map_err(|e| format!("cannot open a device store: {e}"))?;
        Ok(Device {
            team,
            index_in_team: i,
            store: Arc::new(store),
            endpoint: SyncEndpoint {
                url: url.clone(),
                device_token: e.device_token,
            },
        })
    })?;
    let open_stores_s = t.elapsed().as_secs_f64();
    log(format!(
        "opened {} encrypted stores in {} in {open_stores_s:.1} s",
        devices.len(),
        stores_dir.path().display()
    ));
    check_time("opening stores")?;

    // ---------------------------------------------------------------- morning
    let firsts: Vec<&Device> = devices.iter().filter(|d| d.index_in_team == 0).collect();
    parallel(firsts.clone(), |d| {
        for p in 0..args.people_per_team {
            let id = d
                .store
                .register_patient(testing::demographics(
                    &format!("Person{p}"),
                    &format!("Team{}", d.team),
                    None,
                    "HX7 8AB",
                ))
                .map_err(|e| e.to_string())?;
            d.store
                .set_alert(
                    &id,
                    AlertInput {
                        kind: AlertKind::Allergies,
                        text: "No known drug allergies".into(),
                        active: true,
                    },
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    let seeded = sync_all(
        &client_rt,
        &firsts,
        0,
        ClientMode::Full,
        in_process,
        deadline,
    )?;
    let rest: Vec<&Device> = devices.iter().filter(|d| d.index_in_team != 0).collect();
    let morning = sync_all(&client_rt, &rest, 0, ClientMode::Full, in_process, deadline)?;
    log(format!(
        "morning: {} first devices registered {} people each and synced ({:.1} s); {} devices received their team's caseload: {}",
        seeded.syncs,
        args.people_per_team,
        seeded.wall_s,
        morning.syncs,
        summary(&morning)
    ));
    if seeded.errors + morning.errors > 0 {
        return Err(format!(
            "{} syncs failed in the morning: {}",
            seeded.errors + morning.errors,
            seeded
                .first_error
                .or(morning.first_error)
                .unwrap_or_default()
        ));
    }
    check_time("morning sync")?;

    // ---------------------------------------------------------------- the day, offline
    let t = Instant::now();
    let visits = args.visits;
    parallel(devices.iter().collect(), |d| {
        let caseload = d.store.caseload().map_err(|e| e.to_string())?;
        if caseload.len() < 3 {
            return Err(format!(
                "a device holds {} people after the morning sync",
                caseload.len()
            ));
        }
        let mine: Vec<&str> = (0..3)
            .map(|k| {
                caseload[(d.index_in_team + k) % caseload.len()]
                    .person_id
                    .as_str()
            })
            .collect();
        for j in 0..visits {
            d.store
                .record_visit(mine[j % 3], testing::full_visit(30 * (visits - j) as i64))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    let day_work_s = t.elapsed().as_secs_f64();
    log(format!(
        "the day: {} visits recorded offline in {day_work_s:.1} s",
        devices.len() * visits
    ));
    check_time("the day's work")?;

    // ---------------------------------------------------------------- evening: measured
    let all: Vec<&Device> = devices.iter().collect();
    let evening = sync_all(
        &client_rt,
        &all,
        args.concurrency,
        args.client,
        in_process,
        deadline,
    )?;
    let expected_sent = (devices.len() * visits) as u64;
    let mut evening = evening;
    if evening.errors == 0 && evening.changes_sent != expected_sent {
        evening.errors += 1;
        evening.first_error = Some(format!(
            "{} changes sent, expected {expected_sent}",
            evening.changes_sent
        ));
    }

    drop(guard);
    let result = LoadgenResult {
        backend: backend.into(),
        client: args.client,
        in_process_server: args.url.is_none(),
        devices: devices.len(),
        teams,
        people_per_team: args.people_per_team,
        visits_per_device: visits,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        setup_operator_s,
        enrol_s,
        open_stores_s,
        day_work_s,
        morning,
        evening: evening.clone(),
    };
    let e = &evening;
    log(format!(
        "evening: {} devices sync their day at once (concurrency {}, {}):",
        e.syncs,
        e.concurrency,
        match args.client {
            ClientMode::Full => "full client: answers merged into each device's store",
            ClientMode::Wire => "wire client: the same requests, answers decoded but not applied",
        }
    ));
    log(format!(
        "  syncs        {} ({} errors), {} round trips",
        e.syncs, e.errors, e.round_trips
    ));
    log(format!("  wall time    {:.2} s", e.wall_s));
    log(format!(
        "  throughput   {:.1} syncs/s; {:.0} changes/s ({} sent, {} received)",
        e.syncs_per_s, e.changes_per_s, e.changes_sent, e.changes_received
    ));
    log(format!(
        "  latency      p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        e.p50_ms, e.p95_ms, e.p99_ms, e.max_ms
    ));
    log(format!(
        "  bytes        up {}, down {} (compressed bodies)",
        mb(e.bytes_up),
        mb(e.bytes_down)
    ));
    log(format!(
        "  CPU          server threads {}, device threads {:.1} s, whole machine {} busy, over {:.1} s wall on {} cores",
        e.server_cpu_s.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "not in this process".into()),
        e.client_cpu_s,
        e.machine_cpu_s.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "?".into()),
        e.wall_s,
        result.cores
    ));
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&result).map_err(|e| e.to_string())?
        );
    }
    drop(devices);
    if e.errors > 0 {
        return Err(format!(
            "{} syncs failed: {}",
            e.errors,
            e.first_error.clone().unwrap_or_default()
        ));
    }
    Ok(())
}

/// The server started in this process: stopped gracefully when dropped — except on PostgreSQL,
/// where a graceful stop drops the connection pool on a runtime thread and the synchronous
/// `postgres` client's Drop panics there ("Cannot start a runtime from within a runtime"); that
/// server is left running and ends with the process, right after the report.
struct ServerGuard {
    rt: Option<tokio::runtime::Runtime>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    graceful: bool,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let (Some(rt), Some(handle), Some(stop)) =
            (self.rt.take(), self.handle.take(), self.stop.take())
        else {
            return;
        };
        if self.graceful {
            let _ = stop.send(());
            let _ = rt.block_on(handle);
        } else {
            std::mem::forget(stop);
            std::mem::forget(handle);
            std::mem::forget(rt);
        }
    }
}

fn summary(p: &PhaseResult) -> String {
    format!(
        "{:.2} s wall, {:.0} syncs/s, p50 {:.0} ms, p99 {:.0} ms, {} errors",
        p.wall_s, p.syncs_per_s, p.p50_ms, p.p99_ms, p.errors
    )
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// The device stores live on tmpfs when there is one (so the devices' fsyncs do not compete with
/// the server's), else in the system temporary directory.
fn stores_tempdir() -> R<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    let mut b = tempfile::Builder::new();
    b.prefix("doorstep-loadgen-devices-");
    if shm.is_dir() {
        b.tempdir_in(shm)
    } else {
        b.tempdir()
    }
    .map_err(|e| format!("cannot make a directory for the device stores: {e}"))
}

/// Run `f` over `items` on as many threads as there are cores.
fn parallel<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> R<U> + Sync) -> R<Vec<U>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(1);
    let n = items.len();
    let mut chunks: Vec<Vec<(usize, T)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        chunks[i % threads].push((i, item));
    }
    let f = &f;
    let results: Vec<R<Vec<(usize, U)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(i, t)| f(t).map(|u| (i, u)))
                        .collect::<R<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a worker thread panicked".into()))
            })
            .collect()
    });
    let mut out: Vec<Option<U>> = (0..n).map(|_| None).collect();
    for r in results {
        for (i, u) in r? {
            out[i] = Some(u);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Sync every device, `concurrency` at a time (0: all at once), and measure.
fn sync_all(
    rt: &tokio::runtime::Runtime,
    devices: &[&Device],
    concurrency: usize,
    mode: ClientMode,
    in_process_server: bool,
    deadline: Instant,
) -> R<PhaseResult> {
    let limit = if concurrency == 0 {
        devices.len().max(1)
    } else {
        concurrency
    };
    let options = SyncOptions {
        // A load test counts every failure: no silent retries.
        attempts: 1,
        timeout: Duration::from_secs(300),
        ..SyncOptions::default()
    };
    // The wire client shares one HTTP client (its TLS and connection set-up are the phones'
    // cost, not the server's); the full client makes its own per sync, as a phone does whose
    // kept connection has closed since its last sync (an evening's syncs are hours apart).
    let http = reqwest::Client::builder()
        .timeout(options.timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let cpu_before = thread_cpu();
    let machine_before = machine_busy();
    let started = Instant::now();
    let outcomes = rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut tasks = Vec::with_capacity(devices.len());
        for d in devices {
            let store = d.store.clone();
            let endpoint = d.endpoint.clone();
            let sem = sem.clone();
            let options = options.clone();
            let http = http.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let t = Instant::now();
                let r = match mode {
                    ClientMode::Full => sync::sync_with(&store, &endpoint, &options, None)
                        .await
                        .map_err(|e| e.to_string()),
                    ClientMode::Wire => wire_sync(&http, &store, &endpoint, &options).await,
                };
                (t.elapsed(), r)
            }));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let all = async {
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await);
            }
            out
        };
        tokio::time::timeout(remaining, all).await
    });
    let wall = started.elapsed();
    let cpu_after = thread_cpu();
    let machine_after = machine_busy();
    let outcomes = outcomes
        .map_err(|_| "gave up: the syncs did not finish before --timeout-secs".to_string())?;
    let mut p = PhaseResult {
        syncs: devices.len(),
        concurrency: limit,
        ..Default::default()
    };
    let mut latencies = Vec::with_capacity(devices.len());
    for o in outcomes {
        match o {
            Ok((lat, Ok(report))) => {
                latencies.push(lat.as_secs_f64() * 1000.0);
                p.changes_sent += report.changes_sent;
                p.changes_received += report.changes_received;
                p.round_trips += u64::from(report.round_trips);
                p.bytes_up += report.bytes_sent;
                p.bytes_down += report.bytes_received;
            }
            Ok((lat, Err(e))) => {
                latencies.push(lat.as_secs_f64() * 1000.0);
                p.errors += 1;
                p.first_error.get_or_insert(e);
            }
            Err(e) => {
                p.errors += 1;
                p.first_error
                    .get_or_insert_with(|| format!("a sync task failed: {e}"));
            }
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    p.wall_s = wall.as_secs_f64();
    p.syncs_per_s = p.syncs as f64 / p.wall_s;
    p.changes_per_s = (p.changes_sent + p.changes_received) as f64 / p.wall_s;
    p.p50_ms = percentile(&latencies, 50.0);
    p.p95_ms = percentile(&latencies, 95.0);
    p.p99_ms = percentile(&latencies, 99.0);
    p.max_ms = latencies.last().copied().unwrap_or(0.0);
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        p.client_cpu_s = a.client - b.client;
        p.server_cpu_s = in_process_server.then_some(a.server - b.server);
    }
    if let (Some(b), Some(a)) = (machine_before, machine_after) {
        p.machine_cpu_s = Some(a - b);
    }
    Ok(p)
}

/// A sync as the server sees it — the device's outbox and cursor, encoded as the client encodes
/// them, one POST per page — without applying the answers to the store.
async fn wire_sync(
    client: &reqwest::Client,
    store: &FieldStore,
    endpoint: &SyncEndpoint,
    options: &SyncOptions,
) -> R<SyncReport> {
    let url = format!("{}{}", endpoint.url, protocol::SYNC_PATH);
    // The request is the session's own first request; its answers are not applied.
    let mut session = Session::new(SessionOptions {
        max_page_bytes: options.max_page_bytes,
        max_snapshot_page_bytes: options.max_snapshot_page_bytes,
        max_upload_bytes: options.max_upload_bytes,
        ..SessionOptions::default()
    });
    let mut request = session.start(store).map_err(|e| e.to_string())?;
    if store
        .sync_outbox(options.max_upload_bytes)
        .map_err(|e| e.to_string())?
        .more
    {
        return Err("the outbox does not fit one request; the wire client sends one".into());
    }
    let mut report = SyncReport::default();
    loop {
        report.changes_sent += request.changes.len() as u64;
        let body = protocol::encode(&request);
        request.changes.clear();
        report.bytes_sent += body.len() as u64;
        let resp = client
            .post(&url)
            .bearer_auth(&endpoint.device_token)
            .header(reqwest::header::CONTENT_TYPE, protocol::MEDIA_TYPE)
            .header(
                protocol::VERSION_HEADER,
                protocol::PROTOCOL_VERSION.to_string(),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let answer = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "server answered {status}: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
        report.bytes_received += answer.len() as u64;
        report.round_trips += 1;
        let r: SyncResponse = protocol::decode(&answer).map_err(|e| e.to_string())?;
        report.changes_received += r.changes.len() as u64;
        request.cursor = r.cursor;
        if !r.more {
            return Ok(report);
        }
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Busy CPU seconds of the whole machine since boot (Linux /proc/stat: every state but idle
/// and iowait).
fn machine_busy() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy = v
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, x)| x)
        .sum::<f64>();
    Some(busy / 100.0)
}

struct Cpu {
    server: f64,
    client: f64,
}

/// CPU seconds used so far by this process's server and device threads (Linux /proc; None
/// elsewhere). Threads are told apart by the names their tokio runtimes give them.
fn thread_cpu() -> Option<Cpu> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut cpu = Cpu {
        server: 0.0,
        client: 0.0,
    };
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the parenthesised name: state is field 3; utime and stime are 14 and 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let secs = (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks;
        let name = comm.trim();
        if SERVER_THREAD.starts_with(name) && !name.is_empty() {
            cpu.server += secs;
        } else if CLIENT_THREAD.starts_with(name) && !name.is_empty() {
            cpu.client += secs;
        }
    }
    Some(cpu)
}

/// The in-process server's configuration: its defaults, or with every request limit lifted.
fn server_config(no_limits: bool) -> ServerConfig {
    let mut c = ServerConfig::default();
    if no_limits {
        let l = &mut c.limits;
        l.min_body_rate = 1;
        l.body_grace_s = 3600;
        l.max_changes = usize::MAX;
        l.max_upload_bytes = usize::MAX;
        l.max_purged = usize::MAX;
        l.max_new_people = usize::MAX;
        l.device_per_minute = u64::MAX;
        l.address_per_minute = u64::MAX;
        l.enrol_failures_per_minute = u64::MAX;
    }
    c
}
