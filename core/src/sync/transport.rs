//! The sync client's transport: building the HTTP client, what it may connect to, how much it
//! reads, and how long it waits when told to. `client.rs` (the protocol loop) calls only this for
//! anything about the connection.
//!
//! - **https only**, except to loopback (`127.0.0.0/8`, `::1`, `localhost`: tests, a developer's
//!   machine). An `http://` URL to anywhere else is refused before any connection is attempted:
//!   a `Wipe` from whoever answers would erase the phone.
//! - Certificates are checked by the platform verifier (rustls-platform-verifier: Android's and
//!   Apple's trust stores). Nothing is pinned by default; [`configure`] adds a CA (a private PKI).
//! - A response is read up to [`TransportConfig::max_response_bytes`] (default 24 MiB: the
//!   server's largest page is 8 MiB of changes, compressed smaller) and refused beyond, so a
//!   broken or hostile server cannot make the phone hold gigabytes.
//! - `Retry-After` (seconds) on 429 and 503 is honoured, up to [`MAX_RETRY_AFTER`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::error::{Error, Result};

/// The longest `Retry-After` the client waits inside one sync; longer, and it gives up for now.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Extra trusted CA certificates, PEM (one or more). Added to the platform's roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// The largest response body read.
    pub max_response_bytes: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            extra_ca_pem: None,
            max_response_bytes: 24 * 1024 * 1024,
        }
    }
}

static CONFIG: RwLock<Option<TransportConfig>> = RwLock::new(None);

/// Counts [`configure`] calls: a kept client made before the last one is made again.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Set the transport configuration for every later enrol and sync in this process.
pub fn configure(config: TransportConfig) {
    if let Ok(mut c) = CONFIG.write() {
        *c = Some(config);
    }
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// A client kept for reuse, and what it was made with.
struct Kept {
    generation: u64,
    timeout: Duration,
    client: reqwest::Client,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

/// One HTTP client kept for the process and reused by every sync that asks for it
/// (`SyncOptions::http`), so that a sync with nothing to carry pays no client set-up, and its
/// connection (and TLS session) is reused rather than made again. Made again after
/// [`configure`] or for another timeout. Only for a process whose syncs all run on one tokio
/// runtime, as the bindings' do: a client's pooled connections belong to the runtime that
/// opened them.
pub fn kept_client(timeout: Duration) -> Result<reqwest::Client> {
    let mut kept = KEPT
        .lock()
        .map_err(|_| Error::Network("the kept HTTP client was poisoned".into()))?;
    reuse(
        &mut kept,
        GENERATION.load(Ordering::SeqCst),
        timeout,
        || client(timeout),
    )
}

/// The kept client if it was made for `generation` and `timeout`, else a new one, kept.
fn reuse(
    kept: &mut Option<Kept>,
    generation: u64,
    timeout: Duration,
    make: impl FnOnce() -> Result<reqwest::Client>,
) -> Result<reqwest::Client> {
    match kept {
        Some(k) if k.generation == generation && k.timeout == timeout => Ok(k.client.clone()),
        _ => {
            let client = make()?;
            *kept = Some(Kept {
                generation,
                timeout,
                client: client.clone(),
            });
            Ok(client)
        }
    }
}

pub(crate) fn config() -> TransportConfig {
    CONFIG
        .read()
        .ok()
        .and_then(|c| c.clone())
        .unwrap_or_default()
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Refuse any URL but `https://…`, or `http://` to loopback.
pub fn check_url(url: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Network(format!("the server address {url} is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if parsed.host_str().map(is_loopback_host).unwrap_or(false) => Ok(()),
        "http" => Err(Error::Network(format!(
            "refused to use {url}: the sync server must be reached over https:// (plain http is \
             allowed only to this device itself). Ask your administrator for the https address"
        ))),
        other => Err(Error::Network(format!(
            "the server address {url} uses {other}://; it must be https://"
        ))),
    }
}

/// The HTTP client for enrol and sync.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder().timeout(timeout);
    if let Some(pem) = config().extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Network(format!("the configured CA certificate is not usable: {e}"))
        })?;
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| Error::Network(e.to_string()))
}

/// Read a response body, refusing one larger than the configured cap (from its announced length
/// first, then as it arrives).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
) -> std::result::Result<Vec<u8>, String> {
    let cap = config().max_response_bytes;
    if let Some(len) = resp.content_length() {
        if len > cap as u64 {
            return Err(format!(
                "the server's answer is {len} bytes, more than the {cap} this app accepts"
            ));
        }
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > cap {
            return Err(format!(
                "the server's answer is larger than the {cap} bytes this app accepts"
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// How long the server asked us to wait (`Retry-After` in seconds), capped.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let s: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://sync.example.nhs.uk",
            "https://10.0.0.5:8700",
            "http://127.0.0.1:8700",
            "http://127.9.9.9",
            "http://localhost:1",
            "http://[::1]:8700",
        ] {
            check_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://sync.example.nhs.uk",
            "http://10.0.0.5:8700",
            "http://[2001:db8::1]/",
            "ftp://127.0.0.1",
            "not a url",
        ] {
            assert!(matches!(check_url(bad), Err(Error::Network(_))), "{bad}");
        }
    }

    /// The kept client is made once and reused; another configuration or timeout makes it
    /// again, and a failure to make one keeps nothing.
    #[test]
    fn a_kept_client_is_made_once_per_configuration() {
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            client(Duration::from_secs(5))
        };
        let mut kept = None;
        let t = Duration::from_secs(5);
        reuse(&mut kept, 1, t, make).unwrap();
        reuse(&mut kept, 1, t, make).unwrap();
        assert_eq!(made.get(), 1, "reused");
        reuse(&mut kept, 2, t, make).unwrap();
        assert_eq!(made.get(), 2, "configured again");
        reuse(&mut kept, 2, Duration::from_secs(9), make).unwrap();
        assert_eq!(made.get(), 3, "another timeout");
        let mut none = None;
        let failed = reuse(&mut none, 1, t, || Err(Error::Network("no".into())));
        assert!(failed.is_err() && none.is_none());
    }

    #[test]
    fn retry_after_is_read_and_capped() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "99999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
