//! `doorstep`: `serve` (the sync server), `admin` (operator actions), `demo` (the README's
//! end-to-end story) and `loadgen` (the server benchmark).

mod admin_cmd;
mod demo;
mod loadgen;

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
    /// Use PostgreSQL instead, e.g. postgres://user@127.0.0.1:5432/doorstep
    #[arg(long)]
    postgres: Option<String>,
}

impl StorageArgs {
    pub fn open(&self) -> Result<Storage, String> {
        match &self.postgres {
            Some(url) => open_postgres(url),
            None => SqliteStorage::open(&self.data_dir)
                .map(Storage::Sqlite)
                .map_err(|e| e.to_string()),
        }
    }
}

fn open_postgres(url: &str) -> Result<Storage, String> {
    doorstep_server::storage::postgres::PgStorage::open(url)
        .map(Storage::Postgres)
        .map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        /// Days without a sync after which a device locks itself.
        #[arg(long, default_value_t = 14)]
        lock_after_days: u32,
    },
    /// Operator actions: teams, users, enrolment codes, revocation, caseloads.
    Admin {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(subcommand)]
        action: admin_cmd::AdminAction,
    },
    /// The main job, end to end on loopback: a server, three enrolled phones, a day of visits
    /// offline, one sync each, and what every phone then holds.
    Demo(demo::DemoArgs),
    /// Load test: enrol many devices, give each a day's work, sync them all at once, report
    /// throughput and latency.
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
        Command::Serve {
            storage,
            listen,
            lock_after_days,
        } => serve(storage, &listen, lock_after_days),
        Command::Admin { storage, action } => {
            storage.open().and_then(|s| admin_cmd::run(&s, action))
        }
        Command::Demo(args) => demo::run(args),
        Command::Loadgen(args) => loadgen::run(args),
    };
    if let Err(e) = result {
        eprintln!("doorstep: {e}");
        std::process::exit(1);
    }
}

fn serve(storage: StorageArgs, listen: &str, lock_after_days: u32) -> Result<(), String> {
    let store = storage.open()?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!(
            "doorstep sync server listening on http://{addr} ({})",
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
        doorstep_server::serve(listener, store, ServerConfig { lock_after_days }, shutdown)
            .await
            .map_err(|e| e.to_string())
    })
}
