//! `doorstep`: `serve` (the sync server), `admin` (operator actions), `demo` (the README's
//! end-to-end story) and `loadgen` (the server benchmark).

mod admin_cmd;
mod demo;
mod loadgen;
mod report_cmd;
mod report_out;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::{ServerConfig, Storage};

#[derive(Parser)]
#[command(
    name = "doorstep",
    version,
    about = "Doorstep: offline-first records for care at home"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server keeps its data.
#[derive(clap::Args, Clone)]
pub struct StorageArgs {
    /// Directory for the embedded SQLite database (the default backend).
    #[arg(long, default_value = "./doorstep-data")]
    data_dir: PathBuf,
    /// Use PostgreSQL instead, e.g. postgres://user@127.0.0.1:5432/doorstep. The URL must not
    /// carry a password: give it in $DOORSTEP_PG_PASSWORD or --postgres-password-file.
    #[arg(long)]
    postgres: Option<String>,
    /// A file holding the PostgreSQL password (its first line).
    #[arg(long)]
    postgres_password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the PostgreSQL server's certificate (with sslmode=require
    /// in the URL; default: $DOORSTEP_PG_CA, else the system's trust store).
    #[arg(long)]
    postgres_ca: Option<PathBuf>,
}

impl StorageArgs {
    pub fn open(&self) -> Result<Storage, String> {
        match &self.postgres {
            Some(url) => {
                let password = match (
                    &self.postgres_password_file,
                    std::env::var("DOORSTEP_PG_PASSWORD"),
                ) {
                    (Some(f), _) => Some(
                        std::fs::read_to_string(f)
                            .map_err(|e| {
                                format!(
                                    "cannot read the PostgreSQL password file {}: {e}",
                                    f.display()
                                )
                            })?
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    (None, Ok(p)) if !p.is_empty() => Some(p),
                    _ => None,
                };
                let ca = self
                    .postgres_ca
                    .clone()
                    .or_else(|| std::env::var_os("DOORSTEP_PG_CA").map(PathBuf::from));
                doorstep_server::storage::postgres::PgStorage::open_with(
                    url,
                    &doorstep_server::storage::postgres::PgOptions {
                        password: password.as_deref(),
                        ca_file: ca.as_deref(),
                    },
                )
                .map(Storage::Postgres)
                .map_err(|e| e.to_string())
            }
            None => SqliteStorage::open(&self.data_dir)
                .map(Storage::Sqlite)
                .map_err(|e| e.to_string()),
        }
    }
}

/// `doorstep serve` options beyond storage. Defaults are the documented ones
/// (docs/operations.md).
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: String,
    /// Days without a sync after which a device locks itself.
    #[arg(long, default_value_t = 14)]
    lock_after_days: u32,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (keep it off the public network).
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeat for several).
    #[arg(long = "trusted-proxy")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds a client has to send a request's headers.
    #[arg(long, default_value_t = 30)]
    header_timeout_s: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, default_value_t = 60)]
    idle_timeout_s: u64,
    /// Most open connections (default: the file-descriptor limit less headroom).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Minimum average upload rate of a body, bytes a second (after a 10 s grace).
    #[arg(long, default_value_t = 1024)]
    min_body_rate: u64,
    /// Seconds a body may take before the minimum rate applies.
    #[arg(long, default_value_t = 10)]
    body_grace_s: u64,
    /// Largest request body, bytes (compressed).
    #[arg(long, default_value_t = doorstep_core::sync::protocol::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Most changes in one sync request.
    #[arg(long, default_value_t = doorstep_server::sync::MAX_CHANGES_PER_REQUEST)]
    max_changes: usize,
    /// Most purged person ids reported in one sync request.
    #[arg(long, default_value_t = 10_000)]
    max_purged: usize,
    /// Most people new to the server in one sync request.
    #[arg(long, default_value_t = 5_000)]
    max_new_people: usize,
    /// Sync requests a device may make per minute.
    #[arg(long, default_value_t = 120)]
    device_per_minute: u64,
    /// Requests one client address may make per minute.
    #[arg(long, default_value_t = 6_000)]
    address_per_minute: u64,
    /// `POST /v1/readings` requests one integration credential may make per minute.
    #[arg(long, default_value_t = 12_000)]
    integration_per_minute: u64,
    /// Wrong enrolment codes from one address per minute before enrolment answers 429.
    #[arg(long, default_value_t = 20)]
    enrol_failures_per_minute: u64,
    /// Refuse syncs from apps older than this release (e.g. 0.2.0): they are told to update,
    /// and lose nothing (their unsent work stays on the phone).
    #[arg(long)]
    min_app_version: Option<String>,
    /// The oldest sync protocol answered (1 = the first release's phones; 2 after the cut-off,
    /// docs/decisions/0001).
    #[arg(long, default_value_t = 1)]
    min_protocol: u32,
    /// Seconds between rounds of the ward watch (re-alerts, missing readings); 0 turns it off.
    #[arg(long, default_value_t = 60)]
    watch_every_s: u64,
    /// Minutes an escalation may stay unacknowledged before it is re-alerted (and again after
    /// each further such time).
    #[arg(long, default_value_t = 30)]
    realert_after_min: u32,
    /// Minutes without readings from a monitored person's devices that raise an escalation.
    #[arg(long, default_value_t = 480)]
    no_readings_after_min: u32,
}

impl ServeArgs {
    fn config(&self) -> Result<ServerConfig, String> {
        let rules = doorstep_core::record::watch::WatchRules::new(
            self.realert_after_min,
            self.no_readings_after_min,
        )
        .map_err(|e| format!("--realert-after-min / --no-readings-after-min: {e}"))?;
        let mut c = ServerConfig {
            watch: doorstep_server::watch::WatchConfig {
                every: std::time::Duration::from_secs(self.watch_every_s),
                rules,
            },
            lock_after_days: self.lock_after_days,
            trusted_proxies: self.trusted_proxies.clone(),
            metrics_listen: self.metrics_listen,
            min_app_version: self.min_app_version.clone(),
            min_protocol: self.min_protocol,
            // Behind TLS here or at a trusted proxy: the hub's cookies go only over TLS.
            hub_secure_cookies: self.tls_cert.is_some() || !self.trusted_proxies.is_empty(),
            ..ServerConfig::default()
        };
        c.conn.header_read_timeout = std::time::Duration::from_secs(self.header_timeout_s.max(1));
        c.conn.idle_timeout = std::time::Duration::from_secs(self.idle_timeout_s.max(1));
        c.conn.max_connections = self.max_connections;
        let l = &mut c.limits;
        l.min_body_rate = self.min_body_rate;
        l.body_grace_s = self.body_grace_s;
        l.max_body_bytes = self.max_body_bytes;
        l.max_changes = self.max_changes;
        l.max_purged = self.max_purged;
        l.max_new_people = self.max_new_people;
        l.device_per_minute = self.device_per_minute;
        l.address_per_minute = self.address_per_minute;
        l.integration_per_minute = self.integration_per_minute;
        l.enrol_failures_per_minute = self.enrol_failures_per_minute;
        Ok(c)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Operator actions: teams, users, enrolment codes, revocation, caseloads.
    Admin {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(subcommand)]
        action: admin_cmd::AdminAction,
    },
    /// Reports from the server's database (e.g. `report outreach --team T --from D --to D`).
    Report {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(subcommand)]
        kind: report_cmd::ReportKind,
    },
    /// [development tool] The main job, end to end on loopback: a server, three enrolled
    /// phones, a day of visits offline, one sync each, and what every phone then holds.
    Demo(demo::DemoArgs),
    /// [development tool] Load test: enrol many devices, give each a day's work, sync them all
    /// at once, report throughput and latency.
    Loadgen(loadgen::LoadgenArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOORSTEP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { storage, args } => serve(storage, args),
        Command::Admin { storage, action } => {
            storage.open().and_then(|s| admin_cmd::run(&s, action))
        }
        Command::Report { storage, kind } => storage.open().and_then(|s| report_cmd::run(&s, kind)),
        Command::Demo(args) => demo::run(args),
        Command::Loadgen(args) => loadgen::run(args),
    };
    if let Err(e) = result {
        eprintln!("doorstep: {e}");
        std::process::exit(1);
    }
}

fn serve(storage: StorageArgs, args: ServeArgs) -> Result<(), String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => {
            Some(doorstep_server::tls::acceptor(c, k).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = args.config()?;
    let listen = args.listen.as_str();
    let store = storage.open()?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!(
            "doorstep sync server listening on {scheme}://{addr} ({})",
            store.describe()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // Ctrl-C or SIGTERM (what service managers send) shut down gracefully.
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let sigterm = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = sigterm => {},
            }
        };
        doorstep_server::serve_with(listener, store, config, tls, shutdown)
            .await
            .map_err(|e| e.to_string())
    })
}
