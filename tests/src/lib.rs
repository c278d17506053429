//! Harness for the cross-crate scenarios in `tests/tests/`: real `doorstep serve` processes on
//! loopback (embedded SQLite or a private PostgreSQL cluster), enrolled devices with real
//! encrypted stores, a TCP proxy that cuts connections, and the private-PostgreSQL harness
//! ([`pg`]) that the server's own storage tests use too.

pub mod browser;
pub mod pg;
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
/// `DOORSTEP_BIN`, when set, names a binary to use instead (a release build, for benchmarks).
pub fn doorstep_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("DOORSTEP_BIN") {
        return PathBuf::from(bin);
    }
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

    /// Run `doorstep admin <args>` with `input` on its standard input (a password).
    pub fn admin_with_input(&self, args: &[&str], input: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(doorstep_bin())
            .arg("admin")
            .args(self.args())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run doorstep admin");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("wait for doorstep admin")
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

    /// Start with the process's file-descriptor limit set to `nofile` (soft and hard).
    pub fn start_with_fd_limit(backend: &Backend, extra: &[&str], nofile: u32) -> ServerProc {
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        extra.insert(0, format!("--fd-limit={nofile}"));
        Self::spawn(backend, "127.0.0.1:0", extra)
    }

    /// `extra` may start with `--fd-limit=N` (from [`ServerProc::start_with_fd_limit`]): the
    /// server then runs under `ulimit -n N`; the marker is kept for `restart`.
    fn spawn(backend: &Backend, listen: &str, extra: Vec<String>) -> ServerProc {
        let (mut cmd, args) = match extra.first().and_then(|a| a.strip_prefix("--fd-limit=")) {
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")])
                    .arg(doorstep_bin());
                (c, &extra[1..])
            }
            None => (Command::new(doorstep_bin()), &extra[..]),
        };
        let mut child = cmd
            .arg("serve")
            .args(backend.args())
            .args(["--listen", listen])
            .args(args)
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
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
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
        let listen = self
            .url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string();
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

/// A monitoring integration of `team` made with `doorstep admin create-integration`: its id and
/// the token the command prints once.
pub fn monitoring_integration(backend: &Backend, name: &str, team: &str) -> (String, String) {
    integration(backend, "monitoring", name, team)
}

/// A real `doorstep serve` on SQLite in `dir` with team `leeds`, its first district nurse's
/// phone enrolled, and on it Ada Adams (NHS number 943 476 5919, LS6 2QT), not yet synced:
/// the start of the FHIR scenarios. Returns the server's backend and process, the phone, and
/// Ada's person id.
pub fn leeds_nurse_with_ada(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
) -> (Backend, ServerProc, Device, String) {
    let backend = Backend::Sqlite(dir.join("server"));
    let server = ServerProc::start(&backend);
    team(&backend, "leeds");
    let nurse = Device::enrol(rt, &backend, &server.url, "leeds-nurse1", dir);
    let ada = nurse
        .store
        .register_patient(doorstep_core::testing::demographics(
            "Ada",
            "Adams",
            Some("943 476 5919"),
            "LS6 2QT",
        ))
        .expect("register");
    (backend, server, nurse, ada)
}

/// An integration of `kind` (`monitoring`, `fhir`) of `team` made with `doorstep admin
/// create-integration`: its id and the token the command prints once.
pub fn integration(backend: &Backend, kind: &str, name: &str, team: &str) -> (String, String) {
    let out = backend.admin(&[
        "create-integration",
        "--kind",
        kind,
        "--name",
        name,
        "--team",
        team,
    ]);
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("int-"))
        .unwrap_or_else(|| panic!("no integration id in: {out}"))
        .to_string();
    let token = out
        .lines()
        .find_map(|l| l.split("integration): ").nth(1))
        .unwrap_or_else(|| panic!("no token in: {out}"))
        .trim()
        .to_string();
    (id, token)
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

/// A private PostgreSQL cluster of its own for one scenario (see [`pg`]).
pub use pg::Cluster as Postgres;

/// The directory of the PostgreSQL binaries (see [`pg::bin_dir`]).
pub fn pg_bin() -> PathBuf {
    pg::bin_dir()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (apt-get install -y openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA (`ca.crt`) and a server certificate for 127.0.0.1 and localhost
/// (`server.crt`, `server.key`) in `dir`, made with the `openssl` command.
pub fn make_test_ca(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Doorstep test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}
