//! [`LogProcessor`] and [`BatchLogProcessor`]: where emitted log records
//! enter the pipeline.

use std::fmt;
use std::time::Duration;

use otlp_core::{InstrumentationScope, LogRecord, Severity};

use crate::batch_pipeline::{BatchPipeline, BatchProcessorBuilder};
use crate::config::{BatchConfig, Config};
use crate::error::PipelineError;
use crate::exporter::{Exporter, Signal};
use crate::stats::StatsSnapshot;

/// Receives every emitted log record: `on_emit`, `force_flush`, `shutdown`.
pub trait LogProcessor: Send + Sync + 'static {
    /// Takes an emitted record, on the emitting thread. Must not block
    /// (beyond a configured bound) and must account for it: exported,
    /// dropped or failed, never lost silently.
    ///
    /// The record is the specification's `ReadWriteLogRecord`: a processor
    /// may change any of it (add or remove attributes, redact the body, set
    /// the event name...), and the processors after it, in the order they
    /// were added to the [`LoggerProvider`](crate::LoggerProvider), see the
    /// change. Borrowed for the call only: a processor that keeps the record
    /// copies or encodes what it needs, and the caller reuses its buffers.
    fn on_emit(&self, record: &mut LogRecord);

    /// Whether this processor would keep a record of `severity` and
    /// `event_name` (empty: none given) from a logger of `scope`: the
    /// specification's `LogRecordProcessor.Enabled`, which
    /// [`Logger::enabled_for`](crate::Logger::enabled_for) asks so that a
    /// caller can skip building a record every processor would filter out.
    /// The context is the thread's (a processor that filters by it reads
    /// [`active_span::current`](crate::active_span::current)).
    ///
    /// Only a hint: callers need not ask before emitting, so a processor
    /// that filters still does so in [`on_emit`](Self::on_emit). Must be
    /// cheap and must not block; when in doubt (say, awaiting
    /// configuration) answer `true`. Default `true`: the processor takes
    /// every record.
    fn enabled(&self, scope: &InstrumentationScope, severity: Severity, event_name: &str) -> bool {
        let _ = (scope, severity, event_name);
        true
    }

    /// Exports everything received so far; returns by `timeout`.
    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError>;

    /// Flushes, stops, and releases resources; returns by `timeout`. Records
    /// received afterwards are dropped and counted.
    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError>;

    /// Whether this processor only stands for a logs exporter configured
    /// `none` (a [`BatchLogProcessor`] over an exporter that [stands for
    /// `none`](Exporter::stands_for_none)): a
    /// [`LoggerProvider`](crate::LoggerProvider) built `with_config` from a
    /// configuration whose logs exporter is `none` hands it no record.
    /// Default `false`.
    fn stands_for_none(&self) -> bool {
        false
    }
}

/// The batching log processor: the span pipeline's design for log records.
/// Each record is encoded once, on the thread that emits it, into the bytes
/// of one OTLP `LogRecord` message in that thread's block of a byte-bounded
/// queue; one export loop cuts batches, writes the `ResourceLogs` /
/// `ScopeLogs` framing around the bytes, exports with retry (and the
/// durable queue when configured), and counts every record:
/// [`stats`](Self::stats) follows `produced = exported + dropped + failed +
/// rejected + queued + in_flight`, in log records.
///
/// Its exporter must send logs ([`Signal::Logs`]):
/// `/v1/logs` over HTTP, `LogsService/Export` over gRPC.
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::{BatchLogProcessor, ExportOutcome, ExportRequest, Exporter, LogProcessor, Signal};
/// use otlp_core::{encode::Encoding, LogRecord, Severity};
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     fn signal(&self) -> Signal { Signal::Logs }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let processor = BatchLogProcessor::builder(Accept).build()?;
/// processor.on_emit(&mut LogRecord::builder().severity(Severity::INFO).body("started").build());
/// processor.shutdown(Duration::from_secs(1))?;
/// let stats = processor.stats();
/// assert_eq!((stats.produced, stats.exported, stats.queued), (1, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BatchLogProcessor {
    pipeline: BatchPipeline,
}

/// Builder for [`BatchLogProcessor`]; every setting has a default.
pub type BatchLogProcessorBuilder<E> = BatchProcessorBuilder<E, BatchLogProcessor>;

impl fmt::Debug for BatchLogProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BatchLogProcessor")
            .field(&self.pipeline)
            .finish()
    }
}

impl BatchLogProcessor {
    /// Starts building a processor that exports through `exporter` (an
    /// exporter of [`Signal::Logs`]), with the
    /// log defaults of [`BatchConfig::logs_default`].
    pub fn builder<E: Exporter>(exporter: E) -> BatchLogProcessorBuilder<E> {
        BatchProcessorBuilder::new(exporter, BatchConfig::logs_default())
    }

    pub(crate) fn new(pipeline: BatchPipeline) -> Self {
        BatchLogProcessor { pipeline }
    }

    /// Where every log record is now.
    pub fn stats(&self) -> StatsSnapshot {
        self.pipeline.stats()
    }

    /// Whether [`shutdown`](LogProcessor::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        self.pipeline.is_shut_down()
    }
}

impl LogProcessor for BatchLogProcessor {
    #[inline]
    fn on_emit(&self, record: &mut LogRecord) {
        self.pipeline.shared().on_end(record);
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.pipeline.force_flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.pipeline.shutdown(timeout)
    }

    fn stands_for_none(&self) -> bool {
        self.pipeline.stands_for_none()
    }
}

impl<E: Exporter> BatchProcessorBuilder<E, BatchLogProcessor> {
    /// Takes batch (`config.logs.batch`: the `OTEL_BLRP_*` settings), retry,
    /// attempt timeout (`config.logs.exporter.timeout`), performance and
    /// durable-queue settings from a loaded [`Config`]. The durable queue is
    /// the log pipeline's own, [`config.logs.durable`](crate::config::LogsConfig::durable)
    /// (`OTLP__LOGS__DURABLE__DIRECTORY`, section `logs.durable`), when the
    /// configuration names one; else `config.durable`. It needs a directory
    /// of its own per pipeline, and a directory holds one signal's requests:
    /// when spans use (or once used) `config.durable`'s directory and the
    /// log pipeline is given it too, [`build`](Self::build) fails with
    /// [`PipelineError::Durable`] naming the directory, its source a
    /// [`DurableError::WrongSignal`](crate::durable::DurableError::WrongSignal) naming both signals,
    /// rather than sending trace requests to the logs endpoint; the other
    /// way round too, when the log pipeline took the directory first. While
    /// the other pipeline has it open, the second build fails with
    /// [`DurableError::Locked`](crate::durable::DurableError::Locked)
    /// instead: a program that builds both pipelines `with_config` and sets
    /// only `OTLP__DURABLE__DIRECTORY` gets one of these errors. Give the
    /// log pipeline its own with `logs.durable`, or in code with
    /// [`with_durable_queue`](Self::with_durable_queue), which wins over the
    /// configuration's, before or after this call.
    ///
    /// What the program sets in code wins over the configuration, whether it
    /// is set before or after this call; a second call replaces the first
    /// configuration's settings.
    pub fn with_config(self, config: &Config) -> Self {
        self.with_settings(config, Signal::Logs, &config.logs.batch)
    }

    /// Validates the settings and starts the export loop (on a thread of
    /// its own), but over an exporter that [stands for
    /// `none`](Exporter::stands_for_none): that loop starts with the first
    /// record handed to the processor, or to shut it down.
    pub fn build(self) -> Result<BatchLogProcessor, PipelineError> {
        self.start(Signal::Logs).map(BatchLogProcessor::new)
    }
}
