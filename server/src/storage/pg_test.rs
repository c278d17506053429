//! Test support: a private PostgreSQL server on 127.0.0.1, started from the installed binaries
//! (`initdb`, `pg_ctl`) in a temporary directory, and stopped and removed when the last test
//! using it is done. Each test gets its own database on it.
//!
//! The binaries are looked for in `$DOORSTEP_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin`,
//! then `PATH`. If they are missing the test fails, saying how to install them. PostgreSQL
//! refuses to run as root; as root the server runs as the `postgres` user (via `runuser`).

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The running test server, started if no test holds it now.
pub fn server() -> Arc<PgServer> {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = shared.upgrade() {
        return s;
    }
    let s = Arc::new(PgServer::start());
    *shared = Arc::downgrade(&s);
    s
}

/// A new, empty database on the test server: (the server, to keep it running; its URL).
pub fn fresh_database() -> (Arc<PgServer>, String) {
    let server = server();
    let name = format!(
        "doorstep_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls)
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to the test PostgreSQL: {e}\n{}",
                server.log()
            )
        });
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let url = server.url(&name);
    (server, url)
}

fn find_bin() -> PathBuf {
    let has_initdb = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("DOORSTEP_PG_BIN") {
        let d = PathBuf::from(d);
        assert!(
            has_initdb(&d),
            "DOORSTEP_PG_BIN={} has no initdb and pg_ctl; install PostgreSQL (apt-get install -y postgresql) \
             or point DOORSTEP_PG_BIN at its bin directory",
            d.display()
        );
        return d;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_initdb(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_initdb(&d) {
                return d;
            }
        }
    }
    panic!(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found in $DOORSTEP_PG_BIN, \
         /usr/lib/postgresql/*/bin or PATH. The PostgreSQL backend tests need a real server: \
         install it (Debian/Ubuntu: apt-get install -y postgresql; scripts/test.sh does this) \
         or set DOORSTEP_PG_BIN to the directory holding initdb."
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

impl PgServer {
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
    }

    fn start() -> PgServer {
        let bin = find_bin();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("doorstep-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("create data dir");
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .output()
                .expect("run chown");
            assert!(
                out.status.success(),
                "cannot give {} to the postgres user (PostgreSQL refuses to run as root; is there a \
                 'postgres' user?): {}",
                data.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut server = PgServer {
            bin,
            dir,
            data,
            port: 0,
            as_postgres,
        };
        let data_s = server.data.to_str().expect("utf-8 temp path").to_string();
        let out = server.run(
            "initdb",
            &[
                "-D",
                &data_s,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let log = server.data.join("log");
        let log_s = log.to_str().unwrap().to_string();
        // A port picked here may be taken by someone else before the server binds it: retry.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-p {port} -k {data_s} -c listen_addresses=127.0.0.1 -c max_connections=300 \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            );
            let out = server.run(
                "pg_ctl",
                &[
                    "-D", &data_s, "-o", &opts, "-l", &log_s, "-w", "-t", "60", "start",
                ],
            );
            if out.status.success() {
                server.port = port;
                return server;
            }
            last = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                server.log()
            );
        }
        panic!("the test PostgreSQL did not start: {last}");
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.port != 0 {
            let data_s = self.data.to_str().unwrap_or_default().to_string();
            let _ = self.run("pg_ctl", &["-D", &data_s, "-m", "fast", "-w", "stop"]);
        }
        // The TempDir removes the directory.
    }
}
