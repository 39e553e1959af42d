//! [`HttpExporterError`]: why an exporter could not be built.

use std::path::PathBuf;

use otlp_sdk::config::{Compression, Protocol, TlsFile};

/// Why [`HttpExporterBuilder::build`](crate::HttpExporterBuilder::build) or
/// [`HttpExporter::from_config`](crate::HttpExporter::from_config) failed.
/// Each variant names the bad setting; header values, private keys and the client key's path
/// (see [`TlsFile::shown_path`]) are never shown.
///
/// Failures while exporting are not this type: they are
/// [`ExportOutcome`](otlp_sdk::ExportOutcome)s that the pipeline counts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpExporterError {
    /// The protocol is not an OTLP/HTTP one (`grpc` belongs to `otlp-exporter-grpc`).
    #[error(
        "exporter.protocol `{0}` is not OTLP/HTTP: use `http/protobuf` or `http/json` (gRPC is otlp-exporter-grpc)"
    )]
    UnsupportedProtocol(Protocol),
    /// The traces URL does not parse, or is not `http://` / `https://` with a host.
    #[error("invalid exporter endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The URL as built from the configured endpoint, its user-info (user
        /// name and password) `<redacted>`.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name is not a valid HTTP header name.
    #[error("invalid exporter header name `{name}`")]
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
    /// A header value contains characters HTTP does not allow (the value is not shown).
    #[error("invalid value for exporter header `{name}` (value not shown)")]
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
    /// A header the exporter sets itself (`content-type`, `content-encoding`, ...).
    #[error("exporter header `{name}` is set by the exporter and cannot be configured")]
    ReservedHeader {
        /// The header's name.
        name: String,
    },
    /// The per-attempt timeout is zero.
    #[error("exporter.timeout must be positive")]
    ZeroTimeout,
    /// The compression's cargo feature is off in this build.
    #[error("exporter.compression `{0}` needs the `{0}` feature of otlp-exporter-http")]
    CompressionUnavailable(Compression),
    /// A PEM file named in the configuration could not be read.
    #[error(
        "cannot read {key} file `{}`: {source}",
        TlsFile::shown_path(key, path)
    )]
    ReadFile {
        /// The configuration key that names the file and the variables that
        /// set it (`logs.exporter.certificate (OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE or
        /// OTEL_EXPORTER_OTLP_CERTIFICATE)`: [`otlp_sdk::config::TlsFile::setting`]).
        key: &'static str,
        /// The file, the client key's `<redacted>` (its setting may hold the
        /// key itself, pasted where its path goes), as the configuration's
        /// errors show it.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate (CA or client) is not valid PEM, or holds no certificate.
    #[error("invalid certificate in {origin}: {reason}")]
    InvalidCertificate {
        /// Where it came from: a file and its key, or a builder method.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The client private key is not valid PEM, or holds no key.
    #[error("invalid private key in {origin}: {reason}")]
    InvalidPrivateKey {
        /// Where it came from: a file and its key, or a builder method.
        origin: String,
        /// What is wrong with it (never the key itself).
        reason: String,
    },
    /// Only one of client certificate and client key is configured.
    #[error("{present} is set but {missing} is not: mTLS needs both")]
    IncompleteClientIdentity {
        /// The one that is set.
        present: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// The client certificate and key are unusable together (mismatched, unsupported key type...).
    #[error(
        "the client certificate ({certificate}) and key ({key}) do not form a usable identity: \
         {reason}"
    )]
    InvalidClientIdentity {
        /// Where the certificate came from: a file and its key, or a builder method.
        certificate: String,
        /// Where the key came from: a file and its key, or a builder method.
        key: String,
        /// What is wrong: they do not match, or what rustls reported.
        reason: String,
    },
    /// An `https://` endpoint with no CA configured, and no usable system roots.
    #[error(
        "no root certificates to verify `{endpoint}`: {reason}; configure a CA certificate \
         (`exporter.certificate` / OTEL_EXPORTER_OTLP_CERTIFICATE)"
    )]
    NoRootCertificates {
        /// The endpoint that needs them, its user-info `<redacted>`.
        endpoint: String,
        /// Why the system roots could not be used.
        reason: String,
    },
    /// The TLS configuration could not be assembled.
    #[error("cannot build the TLS configuration: {0}")]
    Tls(String),
    /// reqwest refused the client configuration.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// `error`, then each of its sources, joined by `: ` (skipping sources whose
/// text the message already contains).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
