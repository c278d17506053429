//! Opening the encrypted SQLite file: SQLCipher with a raw 32-byte key (no key derivation: the
//! key comes from the Android Keystore / iOS Keychain, not a password), WAL, and full fsync on
//! commit so that an acknowledged write survives power loss.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const KEY_LEN: usize = 32;
const PAGE_SIZE: u64 = 4096;

/// A 32-byte database key. Debug output never shows it.
#[derive(Clone)]
pub struct DbKey([u8; KEY_LEN]);

impl DbKey {
    pub fn new(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::BadKeyLength(bytes.len()))?;
        Ok(DbKey(arr))
    }

    fn pragma(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("PRAGMA key = \"x'{hex}'\";")
    }

    /// A one-way fingerprint stored beside the database so that a wrong key can be told apart
    /// from a damaged file. It reveals nothing usable about a random 256-bit key.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"doorstep key check v1\0");
        h.update(self.0);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(<redacted>)")
    }
}

fn keycheck_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".keycheck");
    PathBuf::from(p)
}

/// Whether the file at `path` already holds a database.
pub fn exists(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
}

/// Open (or create) the database at `path` with `key`, as the writer (`read_only == false`) or a
/// reader. Tells a wrong key from a damaged file.
pub fn open(path: &Path, key: &DbKey, read_only: bool) -> Result<Connection> {
    initialise_sqlcipher()?;
    let existed = exists(path);
    if existed {
        precheck(path, key)?;
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| Error::Storage(format!("cannot open {}: {e}", path.display())))?;
    // SQLCipher logs a failed page HMAC (a wrong key) to stderr; the caller gets a typed error
    // instead, so keep the log quiet.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.execute_batch(&key.pragma())?;
    if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        return Err(classify_open_error(path, key, e));
    }
    if !existed && !read_only {
        // Must precede the first table: lets compaction hand freed pages back to the file system.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 10000;
         PRAGMA temp_store = MEMORY;",
    )?;
    if read_only {
        conn.execute_batch("PRAGMA query_only = 1;")?;
    }
    if !existed && !read_only {
        std::fs::write(keycheck_path(path), key.fingerprint())
            .map_err(|e| Error::Storage(format!("cannot write the key check file: {e}")))?;
    }
    Ok(conn)
}

/// SQLite marks itself initialised before it runs SQLCipher's own initialisation
/// (`SQLITE_EXTRA_INIT`, after the init mutex is released), so a second thread opening its first
/// connection in that gap gets a connection whose `PRAGMA key` fails ("PRAGMA key requires a key of
/// one or more characters"). Initialising once, with every other opener waiting, closes the gap.
fn initialise_sqlcipher() -> Result<()> {
    static INIT: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    // SAFETY: sqlite3_initialize takes no arguments and may be called any number of times; the
    // OnceLock makes every other thread wait until the first call, SQLCipher's part included, has
    // returned.
    let rc = *INIT.get_or_init(|| unsafe { rusqlite::ffi::sqlite3_initialize() });
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(Error::Storage(format!(
            "the encrypted database library could not start (SQLite code {rc}); restart the app, and if it keeps failing reinstall it"
        )))
    }
}

/// Cheap checks before SQLCipher sees the file: a key that provably does not match, and a file
/// that is not a whole number of pages (a truncated copy).
fn precheck(path: &Path, key: &DbKey) -> Result<()> {
    if let Ok(expected) = std::fs::read_to_string(keycheck_path(path)) {
        if expected.trim() != key.fingerprint() {
            return Err(Error::WrongKey {
                path: path.to_path_buf(),
            });
        }
    }
    let len = std::fs::metadata(path)
        .map_err(|e| Error::Storage(format!("cannot read {}: {e}", path.display())))?
        .len();
    if len % PAGE_SIZE != 0 {
        return Err(Error::Damaged {
            detail: format!(
                "the file is {len} bytes, not a whole number of {PAGE_SIZE}-byte pages: it was truncated or overwritten"
            ),
        });
    }
    Ok(())
}

fn classify_open_error(path: &Path, key: &DbKey, e: rusqlite::Error) -> Error {
    let key_known_good = std::fs::read_to_string(keycheck_path(path))
        .map(|k| k.trim() == key.fingerprint())
        .unwrap_or(false);
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            if key_known_good {
                Error::Damaged {
                    detail: format!("the key is right but the file cannot be decrypted: {e}"),
                }
            } else {
                Error::WrongKey {
                    path: path.to_path_buf(),
                }
            }
        }
        _ => Error::from(e),
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::{Arc, Barrier};

    use super::*;

    const CHILD: &str = "DOORSTEP_FIRST_OPEN_CHILD";
    const PROCESSES: usize = 300;
    const THREADS: usize = 8;

    /// The gap between SQLite's initialisation and SQLCipher's exists once per process, so this
    /// test runs itself again in fresh processes, each racing its threads through their first
    /// open. Without [`initialise_sqlcipher`] about one process in 150 failed here.
    #[test]
    fn the_first_opens_of_a_process_from_many_threads_all_succeed() {
        if std::env::var_os(CHILD).is_some() {
            race_first_opens();
            return;
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let name = "store::db::tests::the_first_opens_of_a_process_from_many_threads_all_succeed";
        for run in 0..PROCESSES {
            let out = Command::new(&exe)
                .args(["--exact", name, "--test-threads=1", "--nocapture"])
                .env(CHILD, "1")
                .output()
                .expect("run the test binary again");
            assert!(
                out.status.success(),
                "process {run}: a first open failed:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    fn race_first_opens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let barrier = Arc::new(Barrier::new(THREADS));
        let key = DbKey::new(&[7u8; KEY_LEN]).expect("key");
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let path = dir.path().join(format!("phone-{i}.db"));
                let (barrier, key) = (Arc::clone(&barrier), key.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    open(&path, &key, false).map(drop)
                })
            })
            .collect();
        let failed: Vec<String> = threads
            .into_iter()
            .filter_map(|t| match t.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("a thread panicked".into()),
            })
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
    }
}
