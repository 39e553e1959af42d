//! [`PipelineError`]: what flush, shutdown and pipeline start-up report.

use std::fmt;

use crate::exporter::Signal;

/// A flush or shutdown that did not deliver everything, or a pipeline that could not start.
///
/// The counts are of the pipeline's records, which `signal` names: spans,
/// log records or data points; so are the messages ("3 log records failed
/// to export…").
///
/// ```
/// use otlp_sdk::{PipelineError, Signal};
///
/// let error = PipelineError::Timeout { pending: 3, signal: Signal::Logs };
/// assert_eq!(error.to_string(), "deadline passed with 3 log records not yet delivered");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// The deadline passed first. `pending` records were still queued or
    /// being exported; after a shutdown they are counted as dropped or failed.
    #[error("deadline passed with {} not yet delivered", Records(*pending, *signal))]
    Timeout {
        /// Records not settled at the deadline.
        pending: u64,
        /// The pipeline's signal: what its records are.
        signal: Signal,
    },
    /// Everything was attempted but some records were not accepted.
    #[error(
        "{} failed to export and {rejected} were rejected by the backend",
        Records(*failed, *signal)
    )]
    Undelivered {
        /// Records whose export failed (or that were too large to send).
        failed: u64,
        /// Records the backend rejected (partial success).
        rejected: u64,
        /// The pipeline's signal: what its records are.
        signal: Signal,
    },
    /// With the durable queue: these records are not delivered yet but are
    /// kept on disk, to be sent again later (or by the next start, after a
    /// shutdown).
    #[error(
        "{} not delivered yet and kept on disk for redelivery",
        Records(*spans, *signal)
    )]
    Persisted {
        /// Records waiting on disk: spans, or log records in a log pipeline
        /// (the field keeps its first name).
        spans: u64,
        /// The pipeline's signal: what its records are.
        signal: Signal,
    },
    /// The pipeline was already shut down.
    #[error("the pipeline is shut down")]
    ShutDown,
    /// The export loop or its runtime could not be started.
    #[error("could not start the export pipeline: {0}")]
    Start(String),
}

/// A count of a signal's records for a message: `1 span`, `3 log records`,
/// `0 data points`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Records(pub u64, pub Signal);

impl fmt::Display for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Records(count, signal) = *self;
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} {}{plural}", signal.record_noun())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_pipelines_records() {
        let timeout = PipelineError::Timeout {
            pending: 1,
            signal: Signal::Traces,
        };
        assert_eq!(
            timeout.to_string(),
            "deadline passed with 1 span not yet delivered"
        );
        let undelivered = PipelineError::Undelivered {
            failed: 2,
            rejected: 1,
            signal: Signal::Logs,
        };
        assert_eq!(
            undelivered.to_string(),
            "2 log records failed to export and 1 were rejected by the backend"
        );
        let persisted = PipelineError::Persisted {
            spans: 12,
            signal: Signal::Logs,
        };
        assert_eq!(
            persisted.to_string(),
            "12 log records not delivered yet and kept on disk for redelivery"
        );
        assert_eq!(Records(0, Signal::Metrics).to_string(), "0 data points");
    }
}
