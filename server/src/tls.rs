//! TLS for `doorstep serve --tls-cert FILE --tls-key FILE` (rustls, aws-lc-rs). The files are PEM:
//! the certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::{Result, ServerError};

fn bad(what: &str, path: &Path, e: impl std::fmt::Display) -> ServerError {
    ServerError::BadRequest(format!("cannot use the TLS {what} {}: {e}", path.display()))
}

/// A TLS acceptor from PEM files; HTTP/1.1 only.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate", cert, e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("certificate", cert, e))?;
    if certs.is_empty() {
        return Err(bad("certificate", cert, "no CERTIFICATE block in it"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::BadRequest(format!("TLS setup failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ServerError::BadRequest(format!(
                "the TLS certificate {} and key do not go together: {e}",
                cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
