//! The one private-PostgreSQL test harness, for the server's unit tests and the cross-process
//! scenarios alike: a cluster on 127.0.0.1 started from the installed binaries (`initdb`,
//! `pg_ctl`) in a temporary directory, stopped and removed when dropped.
//!
//! Two ways to use it:
//! - [`fresh_database`]: one cluster shared by every test of a test process that holds it, a new
//!   database per test (cheap; `fsync=off`). The server's storage tests use this.
//! - [`Cluster::start`]: a cluster of its own for one scenario (`fsync=on`, as in production),
//!   with a database `doorstep`; `tests/` scenarios that kill processes use this.
//!
//! [`Options::tls`] starts the cluster with TLS on (a server certificate made by the test), for
//! the PostgreSQL-over-TLS suite.
//!
//! The binaries are looked for in `$DOORSTEP_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin`,
//! then `PATH`; if they are missing the test fails saying how to install them. PostgreSQL refuses
//! to run as root: as root the cluster runs as the `postgres` user (via `runuser`).

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Durable writes (`fsync=on`), as a production server has them. Off: faster, for unit tests.
    pub fsync: bool,
    /// Serve TLS with this certificate and key (PEM files); connections may still be plain.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running private cluster.
pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    /// URL of the database `doorstep` (created by [`Cluster::start`]).
    pub url: String,
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The shared test cluster, started if no test holds it now.
pub fn shared() -> Arc<Cluster> {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = shared.upgrade() {
        return s;
    }
    let s = Arc::new(Cluster::start_with(Options::default()));
    *shared = Arc::downgrade(&s);
    s
}

/// A new, empty database on the shared cluster: (the cluster, to keep it running; its URL).
pub fn fresh_database() -> (Arc<Cluster>, String) {
    let cluster = shared();
    let name = format!(
        "doorstep_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let url = cluster.create_database(&name);
    (cluster, url)
}

/// The directory holding `initdb`, `pg_ctl`, `psql` and `pg_dump`.
pub fn bin_dir() -> PathBuf {
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
         /usr/lib/postgresql/*/bin or PATH. The PostgreSQL tests need a real server: \
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

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Cluster {
    /// A cluster of its own, durable, with an empty database `doorstep` at [`Cluster::url`].
    pub fn start() -> Cluster {
        Self::start_with(Options {
            fsync: true,
            tls: None,
        })
    }

    pub fn start_with(options: Options) -> Cluster {
        let bin = bin_dir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("doorstep-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("create data dir");
        let mut cluster = Cluster {
            bin,
            dir,
            data,
            port: 0,
            as_postgres,
            url: String::new(),
        };
        let data_s = cluster.data.to_str().expect("utf-8 temp path").to_string();
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(cluster.dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            cluster.chown(&cluster.data.clone());
        }
        let out = cluster.run(
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
        assert!(out.status.success(), "initdb failed: {}", text(&out));
        let mut settings = format!(
            "-c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync={}",
            if options.fsync { "on" } else { "off" }
        );
        if !options.fsync {
            settings.push_str(" -c synchronous_commit=off -c full_page_writes=off");
        }
        if let Some((cert, key)) = &options.tls {
            // The key must belong to the server's user and be private.
            let (c, k) = (
                cluster.data.join("server.crt"),
                cluster.data.join("server.key"),
            );
            std::fs::copy(cert, &c).expect("copy the TLS certificate");
            std::fs::copy(key, &k).expect("copy the TLS key");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            if as_postgres {
                cluster.chown(&c);
                cluster.chown(&k);
            }
            settings.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log_s = cluster
            .data
            .join("log")
            .to_str()
            .unwrap_or_default()
            .to_string();
        // A port picked here may be taken by someone else before the server binds it: retry.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let opts = format!("-p {port} -k {data_s} {settings}");
            let out = cluster.run(
                "pg_ctl",
                &[
                    "-D", &data_s, "-o", &opts, "-l", &log_s, "-w", "-t", "60", "start",
                ],
            );
            if out.status.success() {
                cluster.port = port;
                cluster.url = cluster.create_database("doorstep");
                return cluster;
            }
            last = format!("{}\n{}", text(&out), cluster.log());
        }
        panic!("the test PostgreSQL did not start: {last}");
    }

    fn chown(&self, path: &Path) {
        let out = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .output()
            .expect("run chown");
        assert!(
            out.status.success(),
            "cannot give {} to the postgres user (PostgreSQL refuses to run as root; is there a \
             'postgres' user?): {}",
            path.display(),
            text(&out)
        );
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
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

    /// `psql` on database `db` with extra arguments; panics with its output if it fails.
    pub fn psql(&self, db: &str, args: &[&str]) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url_plain(db),
            ])
            .args(args)
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {args:?} on {db} failed: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Create an empty database; its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &["-c", &format!("CREATE DATABASE {name}")]);
        self.url_plain(name)
    }

    /// Load a plain-SQL dump (`pg_dump --format=plain`) into a new database; its URL.
    pub fn restore(&self, name: &str, dump: &Path) -> String {
        let url = self.create_database(name);
        let file = dump.to_str().expect("utf-8 dump path");
        self.psql(name, &["-f", file]);
        url
    }

    /// A plain-SQL dump of database `db`.
    pub fn dump(&self, db: &str) -> Vec<u8> {
        let out = Command::new(self.bin.join("pg_dump"))
            .args([
                "--no-owner",
                "--no-privileges",
                "--format=plain",
                "--dbname",
            ])
            .arg(self.url_plain(db))
            .output()
            .expect("run pg_dump");
        assert!(out.status.success(), "pg_dump failed: {}", text(&out));
        out.stdout
    }

    /// `postgres://postgres@127.0.0.1:PORT/db` (trust authentication, no password).
    pub fn url_plain(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data_s = self.data.to_str().unwrap_or_default().to_string();
            let _ = self.run("pg_ctl", &["-D", &data_s, "-m", "fast", "-w", "stop"]);
        }
        // The TempDir removes the directory.
    }
}
