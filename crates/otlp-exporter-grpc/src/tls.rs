//! TLS material: PEM certificates and keys, checked when the exporter is
//! built so that a bad file fails `build()` with its name, not the first export.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use otlp_sdk::config::TlsFile;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::BuildError;

/// PEM text and where it came from (for error messages).
#[derive(Clone)]
pub(crate) struct Pem {
    /// `"ca_certificate_pem"` or `"logs.exporter.certificate (OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE or
    /// OTEL_EXPORTER_OTLP_CERTIFICATE) file /etc/ca.pem"`.
    pub(crate) origin: String,
    pub(crate) bytes: Vec<u8>,
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pem({}, {} bytes)", self.origin, self.bytes.len())
    }
}

impl Pem {
    pub(crate) fn given(origin: &str, bytes: impl Into<Vec<u8>>) -> Self {
        Pem {
            origin: origin.to_owned(),
            bytes: bytes.into(),
        }
    }

    /// This document and then `bytes`, given by `origin`: one bundle (PEM
    /// sections may follow each other), whose errors name both origins.
    pub(crate) fn followed_by(mut self, origin: &str, bytes: &[u8]) -> Self {
        if !self.origin.ends_with(origin) {
            self.origin = format!("{} and {origin}", self.origin);
        }
        self.bytes.push(b'\n');
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Reads a PEM file named by configuration key `key`.
    pub(crate) fn read(key: &'static str, path: &Path) -> Result<Self, BuildError> {
        let bytes = std::fs::read(path).map_err(|source| BuildError::ReadFile {
            key,
            // As errors show it (a client key's `<redacted>`): the field
            // reaches the error's `Debug` output too.
            path: TlsFile::shown_path(key, path).into(),
            source,
        })?;
        Ok(Pem {
            origin: format!("{key} file {}", TlsFile::shown_path(key, path)),
            bytes,
        })
    }

    fn invalid(&self, reason: impl Into<String>) -> BuildError {
        BuildError::Tls {
            what: self.origin.clone(),
            reason: reason.into(),
        }
    }

    /// The PEM certificates this holds (one or more).
    fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, BuildError> {
        let certificates = CertificateDer::pem_slice_iter(&self.bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| self.invalid(format!("bad PEM certificate: {error}")))?;
        if certificates.is_empty() {
            return Err(self.invalid(format!("no PEM CERTIFICATE block found ({PEM_ONLY})")));
        }
        Ok(certificates)
    }

    /// Checks that this is one or more PEM certificates of which at least
    /// one is usable as a trust anchor. tonic keeps the CA certificates that
    /// parse and drops the others without a word (as a system bundle, which
    /// may hold a certificate webpki cannot read, needs): a damaged CA file
    /// would otherwise build, and every handshake fail later with
    /// `UnknownIssuer`. As Go's `AppendCertsFromPEM`, a file with one usable
    /// certificate is accepted.
    fn check_ca_certificates(&self) -> Result<(), BuildError> {
        let mut roots = RootCertStore::empty();
        let mut first_error = None;
        for (index, certificate) in self.certificates()?.into_iter().enumerate() {
            if let Err(error) = roots.add(certificate) {
                first_error.get_or_insert((index + 1, error));
            }
        }
        match first_error {
            Some((number, error)) if roots.is_empty() => Err(self.invalid(format!(
                "no usable CA certificate (certificate {number}: {error})"
            ))),
            _ => Ok(()),
        }
    }

    /// The PEM private key this holds (PKCS#8, PKCS#1 or SEC1, unencrypted).
    fn private_key(&self) -> Result<PrivateKeyDer<'static>, BuildError> {
        PrivateKeyDer::from_pem_slice(&self.bytes).map_err(|error| {
            self.invalid(if holds_encrypted_key(&self.bytes) {
                ENCRYPTED_KEY.to_owned()
            } else if matches!(error, rustls::pki_types::pem::Error::NoItemsFound) {
                format!("no PKCS#8, PKCS#1 or SEC1 private key section found ({PEM_ONLY})")
            } else {
                format!("no usable PEM private key: {error}")
            })
        })
    }
}

/// What a file that holds no PEM section of the kind sought is told.
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

/// Checks that a client certificate chain and key form an identity: the key
/// loads with the provider tonic will use (the process default, else ring)
/// and is the key of the chain's first certificate. tonic checks the same
/// when the exporter is built, but its error names neither file.
fn check_identity(certificate: &Pem, key: &Pem) -> Result<(), BuildError> {
    let chain = certificate.certificates()?;
    let key_der = key.private_key()?;
    // rustls 0.23.48 deprecates ring's provider for its lack of post-quantum
    // key exchange; ring is what tonic's `tls-ring` feature uses.
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider;
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(ring()));
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|error| key.invalid(format!("unusable private key: {error}")))?;
    match CertifiedKey::new(chain, signing_key).keys_match() {
        // `Unknown`: the key type cannot tell; the handshake will.
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(error) => Err(BuildError::Tls {
            what: format!(
                "client identity ({} and {})",
                certificate.origin, key.origin
            ),
            reason: match error {
                rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                    "the certificate and the key do not match (the key is not the one of the \
                     certificate, the chain's first)"
                        .to_owned()
                }
                other => other.to_string(),
            },
        }),
    }
}

/// Where the exporter's trust and identity come from.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSettings {
    /// Trust only these CA certificates (else the roots compiled in by features).
    pub(crate) ca: Option<Pem>,
    /// Client certificate chain and key, for mTLS.
    pub(crate) identity: Option<(Pem, Pem)>,
    /// Name to verify the server certificate against (else the endpoint's host).
    pub(crate) server_name: Option<String>,
}

impl TlsSettings {
    /// The first TLS setting present, for "TLS given for a plaintext endpoint".
    pub(crate) fn first_setting(&self) -> Option<&'static str> {
        if self.ca.is_some() {
            Some("ca_certificate")
        } else if self.identity.is_some() {
            Some("client_identity")
        } else if self.server_name.is_some() {
            Some("tls_server_name")
        } else {
            None
        }
    }

    /// The tonic TLS configuration: rustls with the ring provider (or the process
    /// default provider, if one is installed).
    pub(crate) fn client_config(
        &self,
        handshake_timeout: std::time::Duration,
    ) -> Result<ClientTlsConfig, BuildError> {
        let mut config = ClientTlsConfig::new().timeout(handshake_timeout);
        match &self.ca {
            Some(ca) => {
                ca.check_ca_certificates()?;
                config = config.ca_certificate(Certificate::from_pem(&ca.bytes));
            }
            None => config = with_default_roots(config)?,
        }
        if let Some((certificate, key)) = &self.identity {
            check_identity(certificate, key)?;
            config = config.identity(Identity::from_pem(&certificate.bytes, &key.bytes));
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        Ok(config)
    }
}

#[cfg(any(feature = "native-roots", feature = "webpki-roots"))]
#[allow(clippy::unnecessary_wraps)]
fn with_default_roots(config: ClientTlsConfig) -> Result<ClientTlsConfig, BuildError> {
    Ok(config.with_enabled_roots())
}

#[cfg(not(any(feature = "native-roots", feature = "webpki-roots")))]
fn with_default_roots(_: ClientTlsConfig) -> Result<ClientTlsConfig, BuildError> {
    Err(BuildError::Tls {
        what: "trust roots".into(),
        reason: "an https:// endpoint without a CA certificate needs the `native-roots` or \
                 `webpki-roots` feature of otlp-exporter-grpc"
            .into(),
    })
}
