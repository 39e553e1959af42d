//! [`BuildError`]: why a [`GrpcExporter`](crate::GrpcExporter) could not be built.

use std::path::PathBuf;

use otlp_sdk::config::{Compression, Protocol, TlsFile};

/// A setting the exporter cannot work with. Every variant names the setting
/// (builder method or configuration key) and says what is wrong with it.
/// Header values, private keys and the client key's path (see
/// [`TlsFile::shown_path`](otlp_sdk::config::TlsFile::shown_path)) never
/// appear in messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The endpoint is not an `http://` or `https://` URL with a host.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given, its user-info (user name and password)
        /// `<redacted>`.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// [`GrpcExporter::from_config`](crate::GrpcExporter::from_config) was given
    /// a configuration for another protocol.
    #[error(
        "exporter.protocol is {protocol}, not grpc: use the OTLP/HTTP exporter (otlp-exporter-http) for it"
    )]
    NotGrpc {
        /// The configured protocol.
        protocol: Protocol,
    },
    /// The timeout is zero.
    #[error("invalid timeout: must be positive")]
    InvalidTimeout,
    /// A header cannot be sent as gRPC metadata.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it (the value itself is never shown).
        reason: &'static str,
    },
    /// The compression was compiled out.
    #[error("{compression} compression needs the `{feature}` feature of otlp-exporter-grpc")]
    CompressionUnavailable {
        /// The requested compression.
        compression: Compression,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// A TLS file named in the configuration could not be read.
    #[error("cannot read {key} file {}: {source}", TlsFile::shown_path(key, path))]
    ReadFile {
        /// The configuration key and its environment variables (the signal's
        /// own and the generic one).
        key: &'static str,
        /// The path as configured, the client key's `<redacted>` (its
        /// setting may hold the key itself, pasted where its path goes), as
        /// the configuration's errors show it.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// Only one of the client certificate and the client key is configured.
    #[error("{present} is set but {missing} is not: mTLS needs both")]
    IncompleteClientIdentity {
        /// The key that is set.
        present: &'static str,
        /// The key that is missing.
        missing: &'static str,
    },
    /// TLS material was given for a plaintext (`http://`) endpoint.
    #[error(
        "{setting} is set but the endpoint {endpoint:?} is plaintext: use an https:// endpoint"
    )]
    TlsWithoutHttps {
        /// The TLS setting that was given.
        setting: &'static str,
        /// The endpoint, its user-info `<redacted>`.
        endpoint: String,
    },
    /// The proxy the environment names for the endpoint cannot be used: not
    /// an `http://` URL (a `socks5://` or `https://` proxy), or no URL with
    /// a host at all. List the endpoint's host in `NO_PROXY` to reach it
    /// directly.
    #[error("invalid proxy {variable}={value:?}: {reason}")]
    InvalidProxy {
        /// The variable that names it (`HTTPS_PROXY` or `https_proxy`).
        variable: &'static str,
        /// Its value, its user-info (user name and password) `<redacted>`.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate or key is unusable, or the TLS configuration cannot be built.
    #[error("invalid {what}: {reason}")]
    Tls {
        /// Which certificate or key, and where it came from.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}
