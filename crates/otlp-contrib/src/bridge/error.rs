//! [`BridgeError`]: why a bridge pipeline or exporter could not be built.

use otlp_sdk::config::ConfigError;

use crate::pipeline::PipelineBuildError;

/// Why building a bridge pipeline or exporter failed. Each variant carries the
/// error of the part that failed, which names the bad setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The configuration (files, `OTEL_*` variables) is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The exporter could not be built (bad endpoint, TLS files...) or the
    /// pipeline could not start.
    #[error(transparent)]
    Build(#[from] PipelineBuildError),
    /// The export runtime of an `SdkExporter`, `SdkLogExporter` or
    /// `SdkMetricExporter` could not be started.
    #[error("cannot start the export runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The exporter given sends another signal than the adapter carries (an
    /// `SdkLogExporter` around an exporter built for traces, say: it would
    /// post log records to `/v1/traces`).
    #[error(
        "an exporter of {found} cannot carry {expected}: build it for {expected} (`.signal(Signal::{expected:?})`)"
    )]
    WrongSignal {
        /// The signal the adapter carries.
        expected: otlp_sdk::Signal,
        /// The signal the exporter was built for.
        found: otlp_sdk::Signal,
    },
}
