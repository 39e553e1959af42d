//! The rustls server configuration of both listeners.
//!
//! The crypto provider is passed explicitly (`ring`), so the receiver works
//! whatever the process-wide default is, and never installs one.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::config::ReceiverTls;
use super::error::ReceiverError;

/// ALPN for a gRPC listener: HTTP/2 only.
pub(crate) const ALPN_GRPC: &[&[u8]] = &[b"h2"];
/// ALPN for an HTTP listener: HTTP/2 preferred, HTTP/1.1 accepted.
pub(crate) const ALPN_HTTP: &[&[u8]] = &[b"h2", b"http/1.1"];

fn tls_error(what: &str, error: impl std::fmt::Display) -> ReceiverError {
    ReceiverError::Tls(format!("{what}: {error}"))
}

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, ReceiverError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| tls_error(what, error))?;
    if certificates.is_empty() {
        return Err(tls_error(what, "no CERTIFICATE block in the PEM"));
    }
    Ok(certificates)
}

/// Builds the server configuration, requiring client certificates when a
/// client CA is set.
pub(crate) fn server_config(
    tls: &ReceiverTls,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, ReceiverError> {
    // rustls 0.23.48 deprecates ring's provider for its lack of post-quantum
    // key exchange; ring is the one provider this crate builds with.
    #[allow(deprecated)]
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&tls.cert_pem, "cert_pem")?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())
        .map_err(|error| tls_error("key_pem", error))?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error("protocol versions", error))?;
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca_pem) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(ca_pem, "client_ca_pem")? {
                roots
                    .add(certificate)
                    .map_err(|error| tls_error("client_ca_pem", error))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| tls_error("client_ca_pem", error))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| tls_error("cert_pem/key_pem", error))?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}
