//! Why a receiver could not start.

use std::io;
use std::net::SocketAddr;

use thiserror::Error;

/// Why [`Receiver::start`](super::Receiver::start) (or
/// `TestCertificates::generate`) failed.
///
/// Requests from clients never produce this error: bad input gets a protocol
/// answer (HTTP 4xx, gRPC `INVALID_ARGUMENT`).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReceiverError {
    /// A configuration field has a value the receiver cannot use.
    #[error("invalid receiver config `{field}`: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen for {transport} on {addr}: {source}")]
    Bind {
        /// `"grpc"` or `"http"`.
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The system error.
        source: io::Error,
    },
    /// The runtime or its thread could not be started.
    #[error("cannot start the receiver runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The TLS material is unusable (bad PEM, key mismatch, bad CA).
    #[error("invalid receiver TLS setup: {0}")]
    Tls(String),
    /// Generating test certificates failed.
    #[error("cannot generate test certificates: {0}")]
    Certificate(String),
}
