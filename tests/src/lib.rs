//! Harness for the cross-crate scenarios in `tests/tests/`: real `doorstep serve` processes on
//! loopback (embedded SQLite or a private PostgreSQL cluster), enrolled devices with real
//! encrypted stores, and a TCP proxy that cuts connections.

pub mod proxy;

pub mod wire;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;

use doorstep_core::record::User;
use doorstep_core::sync::{self, SyncEndpoint};
use doorstep_core::{FieldStore, StoreConfig};

/// The `doorstep` binary, built once per test process.
pub fn doorstep_bin() -> PathBuf {
    static BUILD: Once = Once::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    BUILD.call_once(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-q", "-p", "doorstep-cli", "--bin", "doorstep"])
            .current_dir(&root)
            .status()
            .expect("run cargo build for the doorstep binary");
        assert!(status.success(), "building the doorstep binary failed");
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("debug").join("doorstep")
}

/// Where a server keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    pub fn args(&self) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => vec!["--data-dir".into(), dir.display().to_string()],
            Backend::Postgres(url) => vec!["--postgres".into(), url.clone()],
        }
    }

    /// Run `doorstep admin <args>`; panics with its stderr if it fails.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(doorstep_bin())
            .arg("admin")
            .args(self.args())
            .args(args)
            .output()
            .expect("run doorstep admin");
        assert!(
            out.status.success(),
            "doorstep admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run `doorstep admin <args>` expecting failure; returns stderr.
    pub fn admin_fails(&self, args: &[&str]) -> String {
        let out = Command::new(doorstep_bin())
            .arg("admin")
            .args(self.args())
            .args(args)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "doorstep admin {args:?} should have failed"
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }
}

/// A `doorstep serve` process. Killed (SIGKILL) when dropped.
pub struct ServerProc {
    child: Child,
    pub url: String,
    backend: Backend,
    extra: Vec<String>,
}

impl ServerProc {
    pub fn start(backend: &Backend) -> ServerProc {
        Self::start_with(backend, &[])
    }

    pub fn start_with(backend: &Backend, extra: &[&str]) -> ServerProc {
        Self::spawn(
            backend,
            "127.0.0.1:0",
            extra.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn spawn(backend: &Backend, listen: &str, extra: Vec<String>) -> ServerProc {
        let mut child = Command::new(doorstep_bin())
            .arg("serve")
            .args(backend.args())
            .args(["--listen", listen])
            .args(&extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start doorstep serve");
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read server banner");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("server did not print its address: {line:?}"))
            .to_string();
        ServerProc {
            child,
            url,
            backend: backend.clone(),
            extra,
        }
    }

    /// SIGKILL the server process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send `signal` (e.g. "-INT" for Ctrl-C, "-TERM") for a graceful shutdown. Returns whether
    /// the process exited cleanly.
    pub fn stop_with(&mut self, signal: &str) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        sent && self.child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// Ctrl-C.
    pub fn interrupt(&mut self) -> bool {
        self.stop_with("-INT")
    }

    /// Start it again on the same address and data.
    pub fn restart(&mut self) {
        self.kill();
        let listen = self.url.trim_start_matches("http://").to_string();
        let again = Self::spawn(&self.backend, &listen, self.extra.clone());
        *self = again;
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A device: an enrolled encrypted store and its sync endpoint.
pub struct Device {
    pub store: FieldStore,
    pub endpoint: SyncEndpoint,
    pub user: User,
    pub device_id: String,
    pub path: PathBuf,
}

impl Device {
    /// Enrol a new device for `user_id` (an operator issues the code) and open its store.
    pub fn enrol(
        rt: &tokio::runtime::Runtime,
        backend: &Backend,
        url: &str,
        user_id: &str,
        dir: &Path,
    ) -> Device {
        let code = backend.admin(&["issue-code", user_id]);
        let e = rt.block_on(sync::enrol(url, &code)).expect("enrol");
        let path = dir.join(format!("{}.db", e.device_id));
        let store = FieldStore::open(StoreConfig::new(
            &path,
            &doorstep_core::testing::TEST_KEY,
            &e.device_id,
            e.user.clone(),
        ))
        .expect("open device store");
        Device {
            store,
            endpoint: SyncEndpoint {
                url: url.to_string(),
                device_token: e.device_token,
            },
            user: e.user,
            device_id: e.device_id,
            path,
        }
    }

    pub fn sync(&self, rt: &tokio::runtime::Runtime) -> doorstep_core::Result<sync::SyncReport> {
        rt.block_on(sync::sync(&self.store, &self.endpoint, None))
    }

    /// Point the device at another server address (a proxy, another server process).
    pub fn via(&mut self, url: &str) {
        self.endpoint.url = url.to_string();
    }
}

/// Create a team with two nurses and an advice worker.
pub fn team(backend: &Backend, team: &str) {
    backend.admin(&["create-team", team, &format!("Team {team}")]);
    for (user, role) in [
        ("nurse1", "district-nurse"),
        ("nurse2", "virtual-ward-clinician"),
        ("advice1", "advice-worker"),
    ] {
        let id = format!("{team}-{user}");
        backend.admin(&[
            "create-user",
            &id,
            "--name",
            &format!("{user} of {team}"),
            "--role",
            role,
            "--team",
            team,
        ]);
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Count the change rows a SQLite-backed server holds, and how many distinct changes.
pub fn sqlite_server_counts(data_dir: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(data_dir.join("server.db")).expect("open server db");
    conn.query_row(
        "SELECT count(*), count(DISTINCT person_id || compartment || hex(hash)) FROM changes",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("count changes")
}

/// A private PostgreSQL cluster on loopback, stopped and removed when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub url: String,
}

fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("DOORSTEP_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL server binaries not found under /usr/lib/postgresql: install the 'postgresql' package (scripts/test.sh does)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("doorstep-pg")
            .tempdir()
            .expect("pg tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("runuser")
                .arg("-u")
                .arg("postgres")
                .arg("--")
                .args(args)
                .output()
                .expect("runuser");
            assert!(
                out.status.success(),
                "{args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(chown.success());
        let data_s = data.display().to_string();
        run(&[
            bin.join("initdb").to_str().unwrap(),
            "-D",
            &data_s,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        let port = free_port();
        let opts = format!("-p {port} -k {data_s} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200");
        let log = dir.path().join("log").display().to_string();
        run(&[
            bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            &data_s,
            "-o",
            &opts,
            "-l",
            &log,
            "-w",
            "start",
        ]);
        run(&[
            bin.join("createdb").to_str().unwrap(),
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "doorstep",
        ]);
        Postgres {
            dir,
            bin,
            url: format!("postgres://postgres@127.0.0.1:{port}/doorstep"),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}
