//! [`PipelineError`]: what flush, shutdown and pipeline start-up report.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::durable::DurableError;
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
///
/// Non-exhaustive: later versions may say more kinds of failure apart, so a
/// `match` needs a wildcard arm. Two errors are equal when they are the same
/// variant with equal fields; a [`Durable`](Self::Durable) error's source,
/// which holds an operating-system error, compares by its message.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The deadline passed first. `pending` records were still queued or
    /// being exported; after a shutdown they are counted as dropped or failed.
    /// With the durable queue, a shutdown whose last fsync had not ended by
    /// the deadline also counts the records on disk (counted persisted: the
    /// next start sends them, unless a power loss takes what was not synced).
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
    /// A processor given in code panicked in its `force_flush` or
    /// `shutdown`. The provider caught the panic: its other processors were
    /// flushed or shut down all the same, and the caller gets this error
    /// rather than the unwind.
    #[error("a {} processor panicked: {message}", signal.record_noun())]
    ProcessorPanicked {
        /// The panic's message (`(no message)` when it carried no text).
        message: String,
        /// The provider's signal: what its processors take.
        signal: Signal,
    },
    /// The export loop or its runtime could not be started, or the settings
    /// cannot work together.
    #[error("could not start the export pipeline: {0}")]
    Start(String),
    /// The pipeline's durable queue could not be opened, so the pipeline did
    /// not start: its directory is in use by another queue
    /// ([`DurableError::Locked`]), holds another signal's requests
    /// ([`DurableError::WrongSignal`]), cannot be created or read
    /// ([`DurableError::Io`]), … Nothing was sent.
    #[error("could not start the export pipeline: cannot open the durable queue in {}: {source}", directory.display())]
    Durable {
        /// The durable queue's directory, as configured.
        directory: PathBuf,
        /// Why it could not be opened (shared, so the error stays `Clone`).
        #[source]
        source: Arc<DurableError>,
    },
}

impl PartialEq for PipelineError {
    fn eq(&self, other: &Self) -> bool {
        use PipelineError::*;
        match (self, other) {
            (
                Timeout { pending, signal },
                Timeout {
                    pending: other_pending,
                    signal: other_signal,
                },
            ) => pending == other_pending && signal == other_signal,
            (
                Undelivered {
                    failed,
                    rejected,
                    signal,
                },
                Undelivered {
                    failed: other_failed,
                    rejected: other_rejected,
                    signal: other_signal,
                },
            ) => failed == other_failed && rejected == other_rejected && signal == other_signal,
            (
                Persisted { spans, signal },
                Persisted {
                    spans: other_spans,
                    signal: other_signal,
                },
            ) => spans == other_spans && signal == other_signal,
            (ShutDown, ShutDown) => true,
            (
                ProcessorPanicked { message, signal },
                ProcessorPanicked {
                    message: other_message,
                    signal: other_signal,
                },
            ) => message == other_message && signal == other_signal,
            (Start(message), Start(other_message)) => message == other_message,
            (
                Durable { directory, source },
                Durable {
                    directory: other_directory,
                    source: other_source,
                },
            ) => {
                directory == other_directory
                    && (Arc::ptr_eq(source, other_source)
                        || source.to_string() == other_source.to_string())
            }
            _ => false,
        }
    }
}

impl Eq for PipelineError {}

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
