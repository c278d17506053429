//! # doorstep-server
//!
//! Carries Automerge changes between enrolled devices. Every change is checked (it decodes, its
//! dependencies are known, its author is the enrolled device, it is within the device's scope)
//! and appended to a log with a server-assigned sequence; a device asks for everything in its
//! scope after its cursor. See docs/sync-protocol.md and docs/access.md.
//!
//! Depends on `doorstep-core` (protocol types, record layout); the core never depends on this.

pub mod admin;
pub mod auth;
pub mod authored;
pub mod csds;
pub mod docs;
pub mod duplicates;
pub mod error;
pub mod fhir;
pub mod http;
pub mod hub;
pub mod identity;
pub mod ingest;
pub mod integrations;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod outreach;
pub mod quarantine;
pub mod referrals;
pub mod storage;
pub mod sync;
pub mod tls;
pub mod watch;

use std::sync::Arc;

pub use error::{Result, ServerError};
pub use http::{App, ServerConfig};
pub use storage::Storage;

/// Serve on an already-bound listener until `shutdown` resolves (plain HTTP).
pub async fn serve(
    listener: tokio::net::TcpListener,
    storage: Storage,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, storage, config, None, shutdown).await
}

/// Serve with TLS if `tls` is given. Starts the metrics listener (if configured) and the
/// once-a-second flush of rate counters and last-sync times; flushes once more at shutdown.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    storage: Storage,
    config: ServerConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let conn_limits = config.conn.clone();
    let metrics_listen = config.metrics_listen;
    let app = Arc::new(App::new(storage, config));
    let router = http::router(app.clone()).layer(tower_http::trace::TraceLayer::new_for_http());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let metrics_task = match metrics_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot listen for metrics on {addr}: {e}"),
                )
            })?;
            let mut stop = stop_rx.clone();
            let m = http::metrics_router(app.clone());
            Some(tokio::spawn(async move {
                let _ = axum::serve(l, m)
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .await;
            }))
        }
        None => None,
    };
    let watch_task = tokio::spawn(watch::run(app.clone(), stop_rx.clone()));
    let flusher = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let stopping = tokio::select! {
                    _ = tick.tick() => false,
                    _ = stop_rx.changed() => true,
                };
                let a = app.clone();
                let r = tokio::task::spawn_blocking(move || {
                    a.counters.flush(&a.storage, admin::now_ms())
                })
                .await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(error = %e, "could not write rate counters and last-sync times; will retry");
                }
                if stopping {
                    return;
                }
            }
        })
    };
    let served = listen::serve(listener, router, conn_limits, tls, shutdown).await;
    let _ = stop_tx.send(true);
    let _ = flusher.await;
    let _ = watch_task.await;
    if let Some(t) = metrics_task {
        let _ = t.await;
    }
    // The PostgreSQL client's connections must not be closed on a runtime thread (its Drop blocks
    // on a runtime of its own): let the last reference go on the blocking pool.
    let _ = tokio::task::spawn_blocking(move || drop(app)).await;
    served
}
