//! [`PipelineError`]: what flush, shutdown and pipeline start-up report.

/// A flush or shutdown that did not deliver everything, or a pipeline that could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// The deadline passed first. `pending` spans were still queued or being
    /// exported; after a shutdown they are counted as dropped or failed.
    #[error("deadline passed with {pending} spans not yet delivered")]
    Timeout {
        /// Spans not settled at the deadline.
        pending: u64,
    },
    /// Everything was attempted but some spans were not accepted.
    #[error("{failed} spans failed to export and {rejected} were rejected by the backend")]
    Undelivered {
        /// Spans whose export failed (or that were too large to send).
        failed: u64,
        /// Spans the backend rejected (partial success).
        rejected: u64,
    },
    /// With the durable queue: these spans are not delivered yet but are kept
    /// on disk, to be sent again later (or by the next start, after a shutdown).
    #[error("{spans} spans are not delivered yet and are kept on disk for redelivery")]
    Persisted {
        /// Spans waiting on disk.
        spans: u64,
    },
    /// The pipeline was already shut down.
    #[error("the pipeline is shut down")]
    ShutDown,
    /// The export loop or its runtime could not be started.
    #[error("could not start the export pipeline: {0}")]
    Start(String),
}
