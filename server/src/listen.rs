//! Accepting connections, with the limits a server on the open internet needs (issue 10):
//!
//! - **headers within 30 s**: from the first byte of a request until its headers are complete (the
//!   request reaches the router); a client trickling a request line or headers is closed. (Not
//!   hyper's own `header_read_timeout`, which also runs while a kept-alive connection waits for
//!   its next request and would cut the idle time to the header time.)
//! - **idle keep-alive 60 s**: a connection with no request in flight and no bytes either way for
//!   that long is closed;
//! - **a connection limit** derived from the process's file-descriptor limit, keeping headroom for
//!   the database, health checks and the listener itself. At the limit a new connection is still
//!   accepted and the **oldest idle** connection is closed instead; only if every connection is busy
//!   is the new one closed;
//! - **TLS** (rustls), when a certificate and key are configured; the handshake must also finish
//!   within the header timeout.
//!
//! Body limits (size announced and minimum rate) are per request, in `http.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Connection limits. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// A request's line and headers must arrive within this (default 30 s).
    pub header_read_timeout: Duration,
    /// A connection with nothing in flight is closed after this long without traffic (60 s).
    pub idle_timeout: Duration,
    /// At most this many open connections; `None`: derived from the file-descriptor limit.
    pub max_connections: Option<usize>,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
        }
    }
}

/// File descriptors kept back from connections: database connections, the listener, log files,
/// TLS key files, the metrics listener.
pub fn fd_headroom(fd_limit: usize) -> usize {
    (fd_limit / 10).max(64)
}

/// The soft file-descriptor limit of this process.
pub fn fd_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other effect.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    if ok {
        usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    }
}

/// The connection limit in force for `limits`.
pub fn max_connections(limits: &ConnLimits) -> usize {
    limits.max_connections.unwrap_or_else(|| {
        let fds = fd_limit().min(1 << 20);
        fds.saturating_sub(fd_headroom(fds)).max(16)
    })
}

/// What the accept loop knows about one open connection.
struct Conn {
    /// Milliseconds since `epoch` at the last byte read or written.
    last_active: AtomicU64,
    /// Milliseconds since `epoch` when the first byte of a request not yet routed arrived
    /// (`u64::MAX`: none).
    header_started: AtomicU64,
    in_flight: AtomicUsize,
    close: tokio::sync::Notify,
}

struct Registry {
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn len(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Ask the idle connection quiet for longest to close; false if every one is busy.
    fn shed_oldest_idle(&self) -> bool {
        let Ok(conns) = self.conns.lock() else {
            return false;
        };
        let oldest = conns
            .values()
            .filter(|c| c.in_flight.load(Ordering::SeqCst) == 0)
            .min_by_key(|c| c.last_active.load(Ordering::SeqCst));
        match oldest {
            Some(c) => {
                // Count it as active now so the next shed picks another.
                c.last_active.store(u64::MAX, Ordering::SeqCst);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Bytes either way mark the connection active.
struct Tracked<IO> {
    io: IO,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl<IO> Tracked<IO> {
    fn active(&self) {
        let now = self.registry.now();
        let _ = self
            .conn
            .last_active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v != u64::MAX).then_some(now)
            });
    }

    /// Bytes read: active, and if no request is in flight, a request's headers have begun.
    fn touch(&self) {
        let now = self.registry.now();
        if self.conn.in_flight.load(Ordering::SeqCst) == 0 {
            let _ = self.conn.header_started.compare_exchange(
                u64::MAX,
                now,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
        let _ = self
            .conn
            .last_active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v != u64::MAX).then_some(now)
            });
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.active();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serve `router` on `listener` until `shutdown` resolves, then let open connections finish
/// their requests (for at most `header_read_timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = max_connections(&limits);
    tracing::info!(
        max_connections = max,
        header_read_timeout_s = limits.header_read_timeout.as_secs(),
        idle_timeout_s = limits.idle_timeout.as_secs(),
        tls = tls.is_some(),
        "accepting connections"
    );
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        conns: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors (EMFILE/ENFILE) or a connection reset before accept:
                // make room and carry on, never stop accepting.
                tracing::warn!(error = %e, open = registry.len(), "accept failed");
                registry.shed_oldest_idle();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if registry.len() >= max && !registry.shed_oldest_idle() {
            tracing::warn!(%peer, open = registry.len(), "connection limit reached and every connection is busy: closed a new one");
            drop(tcp);
            continue;
        }
        let id = registry.next_id.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn {
            last_active: AtomicU64::new(registry.now()),
            header_started: AtomicU64::new(u64::MAX),
            in_flight: AtomicUsize::new(0),
            close: tokio::sync::Notify::new(),
        });
        if let Ok(mut c) = registry.conns.lock() {
            c.insert(id, conn.clone());
        }
        let (registry2, router, limits, tls, stop) = (
            registry.clone(),
            router.clone(),
            limits.clone(),
            tls.clone(),
            stop_rx.clone(),
        );
        tasks.spawn(async move {
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            serve_one(stream, peer, conn, &registry2, router, &limits, stop).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_one(tcp, peer, conn, &registry2, router, &limits, stop).await,
            }
            if let Ok(mut c) = registry2.conns.lock() {
                c.remove(&id);
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Let requests in flight finish; idle connections close at once.
    let _ = tokio::time::timeout(limits.header_read_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    Ok(())
}

async fn serve_one<IO>(
    io: IO,
    peer: SocketAddr,
    conn: Arc<Conn>,
    registry: &Arc<Registry>,
    router: Router,
    limits: &ConnLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = Tracked {
        io,
        conn: conn.clone(),
        registry: registry.clone(),
    };
    let state = conn.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let state = state.clone();
            state.in_flight.fetch_add(1, Ordering::SeqCst);
            // Its headers are complete.
            state.header_started.store(u64::MAX, Ordering::SeqCst);
            let router = router.clone();
            async move {
                let r = router.oneshot(req.map(axum::body::Body::new)).await;
                state.in_flight.fetch_sub(1, Ordering::SeqCst);
                r
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let tick = (limits.idle_timeout.min(limits.header_read_timeout) / 8)
        .clamp(Duration::from_millis(50), Duration::from_secs(2));
    let idle_ms = limits.idle_timeout.as_millis() as u64;
    let header_ms = limits.header_read_timeout.as_millis() as u64;
    let mut closing = false;
    loop {
        tokio::select! {
            r = connection.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            _ = conn.close.notified(), if !closing => {
                tracing::debug!(%peer, "closing the oldest idle connection to make room");
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = stop.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = tokio::time::sleep(tick) => {
                let started = conn.header_started.load(Ordering::SeqCst);
                if started != u64::MAX && registry.now().saturating_sub(started) >= header_ms {
                    // Dropping the connection closes the socket: a trickler gets no answer.
                    tracing::debug!(%peer, "request headers not complete in time; connection closed");
                    return;
                }
                if closing {
                    continue;
                }
                let last = conn.last_active.load(Ordering::SeqCst);
                let idle = conn.in_flight.load(Ordering::SeqCst) == 0
                    && last != u64::MAX
                    && registry.now().saturating_sub(last) >= idle_ms;
                if idle {
                    tracing::debug!(%peer, "idle connection closed");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_connection_limit_from_the_fd_limit() {
        let d = ConnLimits::default();
        assert_eq!(d.header_read_timeout, Duration::from_secs(30));
        assert_eq!(d.idle_timeout, Duration::from_secs(60));
        assert_eq!(fd_headroom(1024), 102);
        assert_eq!(fd_headroom(100), 64);
        let derived = max_connections(&d);
        assert_eq!(derived, (fd_limit() - fd_headroom(fd_limit())).max(16));
        let fixed = ConnLimits {
            max_connections: Some(7),
            ..ConnLimits::default()
        };
        assert_eq!(max_connections(&fixed), 7);
    }
}
