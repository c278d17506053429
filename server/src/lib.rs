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
pub mod docs;
pub mod error;
pub mod http;
pub mod quarantine;
pub mod storage;
pub mod sync;

use std::net::SocketAddr;
use std::sync::Arc;

pub use error::{Result, ServerError};
pub use http::{App, ServerConfig};
pub use storage::Storage;

/// Serve on an already-bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    storage: Storage,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Arc::new(App::new(storage, config));
    let router = http::router(app.clone()).layer(tower_http::trace::TraceLayer::new_for_http());
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    // The PostgreSQL client's connections must not be closed on a runtime thread (its Drop blocks
    // on a runtime of its own): let the last reference go on the blocking pool.
    let _ = tokio::task::spawn_blocking(move || drop(app)).await;
    served
}
