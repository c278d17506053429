//! Sync with the Doorstep server, for the apps: `enrol` once, then `sync` whenever there is a
//! signal (Android: WorkManager; iOS: BGTaskScheduler). Both are `async` across the boundary
//! (Kotlin `suspend fun`, Swift `async`, Python coroutine); the network work runs on a tokio
//! runtime this library owns (two worker threads, started on first use), so the app needs no
//! Rust runtime of its own. Progress reaches the app through the [`SyncProgress`] callback.
//!
//! Cancelling the caller (a cancelled coroutine or Task) aborts the sync: every page is applied
//! to the store in one transaction, so an interrupted sync loses nothing and the next one
//! carries on from the last page applied.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use doorstep_core as dc;

use dc::sync::{SyncEndpoint, SyncProgressEvent, SyncReport};
use dc::{Error, FieldStore, Result, User};

/// What enrolment gives the device: its id, its token (keep it in the Keystore/Keychain; it is
/// shown once), the user it belongs to, and after how many days without sync it locks itself.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolment {
    pub device_id: String,
    pub device_token: String,
    pub user: User,
    pub lock_after_days: u32,
}

impl From<dc::sync::protocol::EnrolResponse> for Enrolment {
    fn from(e: dc::sync::protocol::EnrolResponse) -> Self {
        Enrolment {
            device_id: e.device_id,
            device_token: e.device_token,
            user: e.user,
            lock_after_days: e.lock_after_days,
        }
    }
}

/// Told about each page of a sync as it is applied. Called on a library thread: hand the
/// event to the UI thread yourself. Keep it quick; the sync waits for it.
#[uniffi::export(with_foreign)]
pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, event: SyncProgressEvent);
}

struct Progress(Arc<dyn SyncProgress>);

impl dc::sync::SyncProgress for Progress {
    fn on_progress(&self, event: &SyncProgressEvent) {
        self.0.on_progress(event.clone());
    }
}

/// The runtime the library owns for network work.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("doorstep-sync")
            .enable_all()
            .build()
            .expect("cannot start the sync runtime (threads or timers unavailable)")
    })
}

/// Aborts the spawned task when the caller stops waiting (the foreign future was cancelled).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run `fut` on the library's runtime and wait for it from whatever executor the caller uses.
async fn on_runtime<T: Send + 'static>(
    fut: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let mut task = AbortOnDrop(runtime().spawn(fut));
    match (&mut task.0).await {
        Ok(r) => r,
        Err(e) => Err(Error::Interrupted(e.to_string())),
    }
}

/// Enrol this device with a one-time code from the operator.
#[uniffi::export]
pub async fn enrol(url: String, code: String) -> Result<Enrolment> {
    on_runtime(async move { dc::sync::enrol(&url, &code).await.map(Enrolment::from) }).await
}

/// Send every change the server lacks, receive every change this device lacks, and apply the
/// server's instructions (purge, lock, wipe). Throws `Wiped` after erasing a revoked device,
/// `Network` when the server cannot be reached (the records stay safe on the device).
#[uniffi::export]
pub async fn sync(
    store: Arc<FieldStore>,
    endpoint: SyncEndpoint,
    progress: Option<Arc<dyn SyncProgress>>,
) -> Result<SyncReport> {
    on_runtime(async move {
        let progress = progress.map(Progress);
        // Observers hear of the whole sync once, when it ends (or fails part-way).
        let _held = store.hold_notifications();
        // Every sync runs on this library's one runtime, so one HTTP client (and its open
        // connection) serves them all.
        let mut options = dc::sync::SyncOptions::default();
        options.http = Some(dc::sync::transport::kept_client(options.timeout)?);
        dc::sync::sync_with(
            &store,
            &endpoint,
            &options,
            progress.as_ref().map(|p| p as &dyn dc::sync::SyncProgress),
        )
        .await
    })
    .await
}
