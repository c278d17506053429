//! A TCP proxy on loopback that cuts connections: the first `faults` connections are cut after
//! a number of bytes in the chosen direction, later ones pass through untouched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy)]
pub enum Cut {
    /// Close after forwarding this many bytes of the request.
    Request(usize),
    /// Close after forwarding this many bytes of the response.
    Response(usize),
}

pub struct Proxy {
    pub url: String,
    pub connections: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, cut: Cut, faults: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let cut = (n < faults).then_some(cut);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, cut).await;
                    }
                });
            }
        });
        Proxy { url, connections }
    }
}

async fn pipe(client: TcpStream, server: TcpStream, cut: Option<Cut>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up_limit = match cut {
        Some(Cut::Request(n)) => Some(n),
        _ => None,
    };
    let down_limit = match cut {
        Some(Cut::Response(n)) => Some(n),
        _ => None,
    };
    let up = async move { copy_limited(&mut cr, &mut sw, up_limit).await };
    let down = async move { copy_limited(&mut sr, &mut cw, down_limit).await };
    // Whichever side is cut ends the whole connection.
    tokio::select! {
        _ = up => {},
        _ = down => {},
    }
}

async fn copy_limited<R: AsyncReadExt + Unpin, W: AsyncWriteExt + Unpin>(
    r: &mut R,
    w: &mut W,
    limit: Option<usize>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut sent = 0usize;
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                if limit.is_none() {
                    // Half-close: keep the other direction alive until it finishes.
                    let _ = w.shutdown().await;
                    std::future::pending::<()>().await;
                }
                return;
            }
            Ok(n) => n,
        };
        let n = match limit {
            Some(l) if sent + n >= l => {
                let _ = w.write_all(&buf[..l - sent]).await;
                return;
            }
            _ => n,
        };
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
        sent += n;
    }
}
