//! The rustls client configuration handed to reqwest, built on the
//! provider the application installed as the process default, else on
//! `ring`, as the gRPC exporter (through tonic) does.
//!
//! reqwest's `rustls-no-provider` backend asks rustls for the process-wide
//! default provider when it builds its own TLS configuration, and panics when
//! there is none. Handing it a finished configuration
//! (`tls_backend_preconfigured`) skips that code entirely: the exporter never
//! needs the application to call `CryptoProvider::install_default`; an
//! application that does (for `aws-lc-rs`, FIPS, post-quantum key exchange,
//! or cipher suites of its own) gets its provider for the exporter's
//! connections too.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use otlp_sdk::config::{TlsFile, redact_userinfo};
use reqwest::Url;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_platform_verifier::Verifier;

use crate::error::HttpExporterError;

/// Where a PEM document came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PemOrigin {
    /// Given in code, through this builder method.
    Method(&'static str),
    /// Read from a file named by this configuration key.
    File { key: &'static str, path: PathBuf },
}

impl fmt::Display for PemOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemOrigin::Method(method) => write!(f, "`{method}`"),
            PemOrigin::File { key, path } => {
                write!(f, "{key} file `{}`", TlsFile::shown_path(key, path))
            }
        }
    }
}

/// One PEM document (a certificate bundle or a private key). `Debug` shows
/// only its origin: keys must never reach a log.
#[derive(Clone)]
pub(crate) struct Pem {
    pub(crate) origin: PemOrigin,
    pub(crate) bytes: Vec<u8>,
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pem({}, {} bytes)", self.origin, self.bytes.len())
    }
}

impl Pem {
    pub(crate) fn from_method(method: &'static str, bytes: &[u8]) -> Self {
        Pem {
            origin: PemOrigin::Method(method),
            bytes: bytes.to_vec(),
        }
    }

    /// Reads the file named by configuration key `key`.
    pub(crate) fn read_file(key: &'static str, path: &Path) -> Result<Self, HttpExporterError> {
        let bytes = std::fs::read(path).map_err(|source| HttpExporterError::ReadFile {
            key,
            // As errors show it (a client key's `<redacted>`): the field
            // reaches the error's `Debug` output too.
            path: TlsFile::shown_path(key, path).into(),
            source,
        })?;
        Ok(Pem {
            origin: PemOrigin::File {
                key,
                path: path.to_owned(),
            },
            bytes,
        })
    }

    fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, HttpExporterError> {
        let invalid = |reason: String| HttpExporterError::InvalidCertificate {
            origin: self.origin.to_string(),
            reason,
        };
        let certificates = CertificateDer::pem_slice_iter(&self.bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid(error.to_string()))?;
        if certificates.is_empty() {
            return Err(invalid(format!(
                "no `-----BEGIN CERTIFICATE-----` section found ({PEM_ONLY})"
            )));
        }
        Ok(certificates)
    }

    /// The PEM private key this holds (PKCS#8, PKCS#1 or SEC1, unencrypted).
    fn private_key(&self) -> Result<PrivateKeyDer<'static>, HttpExporterError> {
        PrivateKeyDer::from_pem_slice(&self.bytes).map_err(|error| {
            HttpExporterError::InvalidPrivateKey {
                origin: self.origin.to_string(),
                reason: match error {
                    _ if holds_encrypted_key(&self.bytes) => ENCRYPTED_KEY.to_owned(),
                    rustls::pki_types::pem::Error::NoItemsFound => {
                        format!("no PKCS#8, PKCS#1 or SEC1 private key section found ({PEM_ONLY})")
                    }
                    other => other.to_string(),
                },
            }
        })
    }
}

/// What a document that holds no PEM section of the kind sought is told.
const PEM_ONLY: &str =
    "the file must be PEM text: convert a DER or PKCS#12 file with openssl first";

/// Why an encrypted private key is refused, and what to do.
const ENCRYPTED_KEY: &str = "the private key is encrypted, and no setting takes its passphrase (the \
                             OpenTelemetry specification has none): give the key unencrypted, as \
                             `openssl pkey -in KEY -out UNENCRYPTED_KEY` writes it";

/// Whether PEM text holds an encrypted private key: a PKCS#8 `ENCRYPTED
/// PRIVATE KEY` section, or a PKCS#1 or SEC1 key under OpenSSL's legacy
/// encryption (a `Proc-Type: 4,ENCRYPTED` header), which rustls reads as
/// no key, or as bad base64.
fn holds_encrypted_key(pem: &[u8]) -> bool {
    let holds = |needle: &[u8]| pem.windows(needle.len()).any(|window| window == needle);
    holds(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || holds(b"Proc-Type: 4,ENCRYPTED")
}

/// The TLS material of an exporter: CAs to trust instead of the system's, and
/// a client identity for mTLS.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsMaterial {
    pub(crate) ca_certificates: Vec<Pem>,
    pub(crate) client_identity: Option<(Pem, Pem)>,
}

/// The provider for the exporter's connections: the process default when the
/// application installed one, else `ring`. Never installs a default itself.
fn client_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(ring_provider)
}

/// The ring provider, built explicitly, never installed as the process default.
fn ring_provider() -> Arc<CryptoProvider> {
    // rustls 0.23.48 deprecates ring's provider for its lack of post-quantum
    // key exchange; ring is the one provider this crate builds with.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the client configuration for `url`:
///
/// - server verification against the configured CAs only; or, without CAs,
///   the platform verifier (the operating system's trust store). A plain
///   `http://` endpoint meets TLS only when it redirects (`307`/`308`) to an
///   `https` URL, which is verified as an `https://` endpoint would be: its
///   platform verifier is made at the first TLS handshake, so that exporters
///   to plain endpoints (most) neither read the system's roots nor fail to
///   build on a system without any;
/// - a client certificate for mTLS when configured;
/// - ALPN `h2` then `http/1.1`, so HTTPS endpoints speak HTTP/2 when the
///   server offers it.
pub(crate) fn client_config(
    material: &TlsMaterial,
    url: &Url,
) -> Result<rustls::ClientConfig, HttpExporterError> {
    let provider = client_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| HttpExporterError::Tls(error.to_string()))?;

    let builder = if !material.ca_certificates.is_empty() {
        let mut roots = RootCertStore::empty();
        for pem in &material.ca_certificates {
            add_ca_certificates(&mut roots, pem)?;
        }
        builder.with_root_certificates(roots)
    } else if url.scheme() == "https" {
        let verifier =
            Verifier::new(provider).map_err(|error| HttpExporterError::NoRootCertificates {
                endpoint: redact_userinfo(url.as_str()),
                reason: error.to_string(),
            })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PlatformOnFirstUse::new(provider)))
    };

    let mut config = match &material.client_identity {
        Some((certificate, key)) => builder
            .with_client_auth_cert(certificate.certificates()?, key.private_key()?)
            .map_err(|error| HttpExporterError::InvalidClientIdentity {
                certificate: certificate.origin.to_string(),
                key: key.origin.to_string(),
                reason: match error {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        "they do not match (the key is not the one of the certificate, the \
                         chain's first)"
                            .to_owned()
                    }
                    other => other.to_string(),
                },
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Adds the CA certificates of `pem` to `roots`, skipping those webpki
/// cannot read as long as one is usable (as Go's `AppendCertsFromPEM` does,
/// and as a system bundle, which may hold such a certificate, needs);
/// a document with no usable certificate is an error naming its origin.
fn add_ca_certificates(roots: &mut RootCertStore, pem: &Pem) -> Result<(), HttpExporterError> {
    let before = roots.len();
    let mut first_error = None;
    for (index, certificate) in pem.certificates()?.into_iter().enumerate() {
        if let Err(error) = roots.add(certificate) {
            first_error.get_or_insert((index + 1, error));
        }
    }
    match first_error {
        Some((number, error)) if roots.len() == before => {
            Err(HttpExporterError::InvalidCertificate {
                origin: pem.origin.to_string(),
                reason: format!("no usable CA certificate (certificate {number}: {error})"),
            })
        }
        _ => Ok(()),
    }
}

/// The platform verifier, made when the first server certificate comes to be
/// verified: for a plain `http://` endpoint, whose TLS connections are only
/// those a redirect to `https` leads to. Reading the system's roots costs a
/// few milliseconds of file reads, once, in that first handshake; a system
/// without roots fails that handshake (saying so), not the exporter's build.
/// Signatures are checked with the provider's algorithms, as the platform
/// verifier checks them.
#[derive(Debug)]
struct PlatformOnFirstUse {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<Verifier, rustls::Error>>,
}

impl PlatformOnFirstUse {
    fn new(provider: Arc<CryptoProvider>) -> Self {
        PlatformOnFirstUse {
            provider,
            verifier: OnceLock::new(),
        }
    }
}

impl ServerCertVerifier for PlatformOnFirstUse {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verifier = self
            .verifier
            .get_or_init(|| Verifier::new(self.provider.clone()));
        match verifier {
            Ok(verifier) => verifier.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            Err(error) => Err(error.clone()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether the error's source chain holds rustls' verdict that the server's
/// certificate is invalid for a reason no retry can change
/// (`rustls::Error::InvalidCertificate`: unknown issuer, wrong name, bad
/// signature...): such a failure is permanent, so that the pipeline counts
/// the batch failed at once instead of retrying it until its deadline (or,
/// with the durable queue, keeping it on disk for good). A verdict about
/// time (expired, not valid yet) is left out: it may be this machine's
/// clock, wrong until it is set (a device booted before NTP), and a retry
/// then succeeds. The TLS stream reports the verdict inside an
/// `io::Error`, where [`otlp_sdk::find_in_chain`] looks too.
pub(crate) fn rejected_server_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        otlp_sdk::find_in_chain::<rustls::Error>(error),
        Some(rustls::Error::InvalidCertificate(verdict)) if !depends_on_the_clock(verdict)
    )
}

/// What a TLS handshake answered in something that is not TLS means: rustls
/// says only "received corrupt message of type InvalidContentType", the
/// usual sight of an `https://` endpoint pointed at a plaintext collector.
pub(crate) const PLAINTEXT_HINT: &str =
    "the server answered, but not TLS: for a plaintext collector use an http:// endpoint";

/// Whether the error's source chain holds rustls' report that the server's
/// first bytes were no TLS record (see [`PLAINTEXT_HINT`]).
pub(crate) fn answered_without_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        otlp_sdk::find_in_chain::<rustls::Error>(error),
        Some(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType
        ))
    )
}

/// Whether a certificate verdict is about the time of checking, which a
/// wrong local clock makes and a set clock unmakes.
fn depends_on_the_clock(verdict: &rustls::CertificateError) -> bool {
    use rustls::CertificateError::{Expired, ExpiredContext, NotValidYet, NotValidYetContext};
    matches!(
        verdict,
        Expired | ExpiredContext { .. } | NotValidYet | NotValidYetContext { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_server_certificate_is_found_inside_the_io_error_wrapping_it() {
        let rejected = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(rejected_server_certificate(&rejected));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rejected);
        assert!(rejected_server_certificate(&io));
        // A verdict about time may be this machine's clock: retried.
        for verdict in [
            rustls::CertificateError::Expired,
            rustls::CertificateError::NotValidYet,
        ] {
            let io = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(verdict),
            );
            assert!(!rejected_server_certificate(&io));
        }
        // Other TLS failures (an alert from the server) are not it.
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, alert);
        assert!(!rejected_server_certificate(&io));
    }
}
