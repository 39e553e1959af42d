//! [`SdkLogExporter`]: an otlp-sdk log transport as an `opentelemetry_sdk` log exporter.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use otlp_core::LogRecord;
use otlp_core::encode::LogEncoder;
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{DynExporter, Exporter, RetryPolicy, Signal};
use tokio::runtime::Handle;

use super::BridgeError;
use super::delivery::{ExportCore, ExportSettings, ExportSignal};
use super::exporter::SdkExporterStats;
use super::log_convert::LogConverter;
use crate::pipeline::log_exporter_from_config;

/// Any otlp-sdk [`Exporter`] built for [`Signal::Logs`] —
/// [`GrpcExporter`](otlp_exporter_grpc::GrpcExporter) (`LogsService/Export`),
/// [`HttpExporter`](otlp_exporter_http::HttpExporter) (`/v1/logs`, protobuf or
/// JSON), your own — as an [`opentelemetry_sdk::logs::LogExporter`], for the
/// stock `BatchLogProcessor` or `SimpleLogProcessor`. The log twin of
/// [`SdkExporter`](super::SdkExporter); [`build`](SdkLogExporterBuilder::build)
/// refuses an exporter built for another signal
/// ([`BridgeError::WrongSignal`]).
///
/// Each `export(batch)` converts the batch ([`LogConverter`]: resource and
/// scopes shared), encodes it once with [`LogEncoder`] in the exporter's
/// encoding (cut into several requests if it would exceed the size cap; a
/// record too large alone is not sent and counts as failed), sends it, and
/// retries.
///
/// **Runtime.** The stock `BatchLogProcessor` exports from its own thread
/// with no tokio runtime, and `SimpleLogProcessor` on the emitting thread;
/// our transports need tokio. So the adapter owns a small tokio runtime (one
/// worker thread, named `otlp-bridge-export`, one of the pipeline's own
/// threads: nothing logged there comes back) and runs every export there,
/// awaiting the task from whatever executor polls `export`.
/// [`SdkLogExporterBuilder::with_runtime`] runs them on a runtime of yours.
///
/// **Retry.** The stock SDK never retries, so the adapter does, as the
/// [`RetryPolicy`] says, the same bytes each time, until the batch's export
/// timeout ([`DEFAULT_EXPORT_TIMEOUT`](super::DEFAULT_EXPORT_TIMEOUT), or
/// `OTEL_BLRP_EXPORT_TIMEOUT` through
/// [`with_config`](SdkLogExporterBuilder::with_config)). The stock processors
/// export one batch at a time: keep the timeout short.
///
/// **Correlation.** A record carries the trace context the SDK's logger gave
/// it when it was emitted: that of a span current through the
/// `opentelemetry` API. `export` sees batches only (the stock
/// `BatchLogProcessor` hands them over later, on its own thread), never the
/// emitting thread: a record emitted inside a `tracing` span that
/// `OtlpLayer` (feature `tracing`) records, or inside a native otlp-sdk
/// [active span](otlp_sdk::active_span), arrives without their ids. For
/// those, put [`OtlpLogProcessor`](super::OtlpLogProcessor) among the SDK's
/// processors instead: it correlates on the emitting thread.
///
/// **Outcomes.** Success and partial success are `Ok` (rejected records are
/// counted in [`stats`](Self::stats), the server's message kept as
/// `last_error`); anything else, once retries are exhausted, is
/// `Err(InternalFailure)` naming the record counts and the last error. After
/// `shutdown`, `export` answers `Err(AlreadyShutdown)`; shutdown ends the
/// exports in flight (an attempt under way, a retry waiting for its turn) and
/// returns by its timeout, their records counted: `Ok` once every record is
/// settled (failed ones included), `Err(Timeout)` if some are still in flight
/// at its deadline. As with
/// [`SdkExporter`](super::SdkExporter), the stock processors shut it down only
/// once the export under way has returned (a retry still to come holds their
/// shutdown); [`OtlpLogProcessor`](super::OtlpLogProcessor) calls such a
/// retry off.
///
/// ```
/// use std::time::Duration;
/// use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
/// use otlp_contrib::bridge::SdkLogExporter;
/// use otlp_contrib::receiver::{Receiver, ReceiverConfig};
/// use otlp_exporter_http::HttpExporter;
/// use otlp_sdk::Signal;
///
/// # let collector = Receiver::start(ReceiverConfig::default())?;
/// # let endpoint = collector.http_endpoint().expect("HTTP listener");
/// let transport = HttpExporter::builder().endpoint(endpoint).signal(Signal::Logs).build()?;
/// let exporter = SdkLogExporter::builder(transport)
///     .with_export_timeout(Duration::from_secs(5))
///     .build()?;
/// let provider = SdkLoggerProvider::builder().with_batch_exporter(exporter).build();
///
/// let logger = provider.logger("checkout");
/// let mut record = logger.create_log_record();
/// record.set_body(AnyValue::from("order placed"));
/// logger.emit(record);
/// provider.shutdown()?;
/// # assert_eq!(collector.log_record_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SdkLogExporter<E> {
    core: ExportCore<Logs, E>,
    converter: LogConverter,
}

/// Log records, for [`ExportCore`]: counted one by one, transports of logs only.
struct Logs;

impl ExportSignal for Logs {
    type Record = LogRecord;
    type Encoder = LogEncoder;
    const SIGNAL: Option<Signal> = Some(Signal::Logs);
    const NOUN: &'static str = "log records";
    const OVERSIZED: &'static str = "log records are each";
    const EXPORT: &'static str = "log export";
    const ZERO_TIMEOUT_IS_NO_LIMIT: bool = false;
    const SHUTDOWN_WAITS_FOR_EXPORTS: bool = false;
}

impl<E> fmt::Debug for SdkLogExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f, "SdkLogExporter", &[])
    }
}

impl<E: Exporter> SdkLogExporter<E> {
    /// An adapter with the defaults: its own runtime, [`RetryPolicy::default`],
    /// [`DEFAULT_EXPORT_TIMEOUT`](super::DEFAULT_EXPORT_TIMEOUT), the 64 MiB
    /// request cap. Fails if `exporter` is not built for [`Signal::Logs`] or
    /// the runtime cannot start.
    pub fn new(exporter: E) -> Result<Self, BridgeError> {
        SdkLogExporter::builder(exporter).build()
    }

    /// Starts building an adapter around `exporter`.
    pub fn builder(exporter: E) -> SdkLogExporterBuilder<E> {
        SdkLogExporterBuilder {
            settings: ExportSettings::new(exporter),
        }
    }

    /// The wrapped transport.
    pub fn exporter(&self) -> &E {
        self.core.exporter()
    }

    /// What happened to the log records exported so far (counted in records).
    pub fn stats(&self) -> SdkExporterStats {
        self.core.stats()
    }
}

impl SdkLogExporter<Box<dyn DynExporter>> {
    /// The adapter the environment describes: configuration files and the
    /// standard `OTEL_*` variables choose the transport (the
    /// `OTEL_EXPORTER_OTLP_LOGS_*` settings over the generic ones: gRPC for
    /// `grpc`, HTTP for `http/protobuf` and `http/json`), its settings, the
    /// retry policy and the export timeout (`OTEL_BLRP_EXPORT_TIMEOUT`).
    pub fn from_env() -> Result<Self, BridgeError> {
        Self::from_config(&ConfigLoader::new().load()?)
    }

    /// The adapter a loaded [`Config`] describes (see [`from_env`](Self::from_env)).
    /// A disabled SDK or logs signal (`OTEL_SDK_DISABLED=true`,
    /// `OTEL_LOGS_EXPORTER=none`) makes an adapter that discards every batch: it sends
    /// nothing, counts nothing and answers `Ok`, as the bridge processors do.
    pub fn from_config(config: &Config) -> Result<Self, BridgeError> {
        let mut builder =
            SdkLogExporter::builder(log_exporter_from_config(config)?).with_config(config);
        builder.settings.discard = config.is_disabled(Signal::Logs);
        builder.build()
    }
}

impl<E: Exporter> LogExporter for SdkLogExporter<E> {
    fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
        let prepared = self.core.prepare(|| {
            batch
                .iter()
                .map(|(record, scope)| self.converter.convert(record, scope))
                .collect()
        });
        self.core.send(prepared)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.core.shutdown(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.converter.set_resource(resource);
    }
}

/// Builder for [`SdkLogExporter`]; every setting has a default.
pub struct SdkLogExporterBuilder<E> {
    settings: ExportSettings<E>,
}

impl<E> fmt::Debug for SdkLogExporterBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f, "SdkLogExporterBuilder", &[])
    }
}

impl<E: Exporter> SdkLogExporterBuilder<E> {
    /// Takes the retry policy, the log export timeout (`logs.batch.export_timeout`,
    /// `OTEL_BLRP_EXPORT_TIMEOUT`) and the request size cap from a loaded [`Config`].
    /// A setting given with this builder's own methods wins, before or after
    /// this call; a second `with_config` replaces the first's values.
    pub fn with_config(mut self, config: &Config) -> Self {
        self.settings
            .configure(config, config.logs.batch.export_timeout);
        self
    }

    /// Replaces the retry policy ([`RetryPolicy::disabled`] sends each batch once);
    /// `build` refuses one that [`RetryPolicy::validate`] refuses, naming the key.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.settings.set_retry(retry);
        self
    }

    /// Bounds each batch's export, retries included (default
    /// [`DEFAULT_EXPORT_TIMEOUT`](super::DEFAULT_EXPORT_TIMEOUT)).
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.settings.set_export_timeout(timeout);
        self
    }

    /// Largest request body; bigger batches are cut (default and maximum 64 MiB).
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.settings.set_max_request_bytes(bytes);
        self
    }

    /// Runs exports on this runtime instead of starting one. It must keep
    /// running while the exporter is in use, and must not be a current-thread
    /// runtime driven by a thread that may block in `export` (the stock
    /// `SimpleLogProcessor` blocks the thread that emits a record).
    ///
    /// Its threads are not the pipeline's own: each export (and the
    /// shutdown) is polled as the pipeline's own work
    /// ([`otlp_sdk::own_threads::as_own_future`]), and so are the gRPC
    /// exporter's connection tasks and the HTTP exporter's over `http://`,
    /// so that what the transport records there
    /// through `tracing` and `log` reaches no subscriber; each export is also
    /// polled in `opentelemetry`'s suppressed context, so that a span it
    /// starts through the `opentelemetry` API is not recording and reaches
    /// no processor, the stock ones included. Not the HTTP/2
    /// connection tasks of the HTTP exporter over `https://` (reqwest spawns
    /// them with no way to wrap them): what `h2` records in them reaches
    /// that runtime's subscriber, and a front door on it would record it;
    /// filter out the `h2` target there, or keep the adapter's own runtime.
    pub fn with_runtime(mut self, handle: Handle) -> Self {
        self.settings.runtime = Some(handle);
        self
    }

    /// Checks the exporter's signal, starts the runtime (unless one was
    /// given) and builds the adapter.
    pub fn build(self) -> Result<SdkLogExporter<E>, BridgeError> {
        Ok(SdkLogExporter {
            core: ExportCore::start(self.settings)?,
            converter: LogConverter::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use opentelemetry::InstrumentationScope;
    use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::logs::{SdkLogRecord, SdkLoggerProvider};
    use otlp_core::encode::Encoding;
    use otlp_sdk::{ExportError, ExportOutcome, ExportRequest};

    use super::*;

    /// Plays a script of outcomes, then succeeds; records what it was sent.
    struct Scripted {
        outcomes: Mutex<VecDeque<ExportOutcome>>,
        sent: Mutex<Vec<ExportRequest>>,
        shut_down: AtomicBool,
        encoding: Encoding,
        signal: Signal,
    }

    impl Default for Scripted {
        fn default() -> Self {
            Scripted {
                outcomes: Mutex::default(),
                sent: Mutex::default(),
                shut_down: AtomicBool::new(false),
                encoding: Encoding::Protobuf,
                signal: Signal::Logs,
            }
        }
    }

    impl Scripted {
        fn with(outcomes: impl IntoIterator<Item = ExportOutcome>) -> Self {
            Scripted {
                outcomes: Mutex::new(outcomes.into_iter().collect()),
                ..Scripted::default()
            }
        }

        fn sent(&self) -> Vec<ExportRequest> {
            self.sent.lock().expect("not poisoned").clone()
        }
    }

    impl Exporter for Scripted {
        fn encoding(&self) -> Encoding {
            self.encoding
        }

        fn signal(&self) -> Signal {
            self.signal
        }

        async fn export(&self, request: ExportRequest) -> ExportOutcome {
            // Needs a tokio runtime: proves the export runs on one.
            tokio::task::yield_now().await;
            let _ = tokio::runtime::Handle::current();
            self.sent.lock().expect("not poisoned").push(request);
            self.outcomes
                .lock()
                .expect("not poisoned")
                .pop_front()
                .unwrap_or(ExportOutcome::Success)
        }

        async fn shutdown(&self) {
            self.shut_down.store(true, Ordering::SeqCst);
        }
    }

    fn records(count: usize) -> Vec<(SdkLogRecord, InstrumentationScope)> {
        let logger = SdkLoggerProvider::builder().build().logger("test");
        (0..count)
            .map(|i| {
                let mut record = logger.create_log_record();
                record.set_body(AnyValue::from(format!("record {i}")));
                record.add_attribute("i", i as i64);
                (record, InstrumentationScope::builder("test").build())
            })
            .collect()
    }

    fn export<E: Exporter>(
        exporter: &SdkLogExporter<E>,
        records: &[(SdkLogRecord, InstrumentationScope)],
    ) -> OTelSdkResult {
        let borrowed: Vec<(&SdkLogRecord, &InstrumentationScope)> = records
            .iter()
            .map(|(record, scope)| (record, scope))
            .collect();
        block_on(exporter.export(LogBatch::new(&borrowed)))
    }

    fn fast_retry() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        }
    }

    fn retryable() -> ExportOutcome {
        ExportOutcome::Retryable {
            error: ExportError::Transport("refused".into()),
            throttle: None,
        }
    }

    #[test]
    fn an_exporter_of_traces_is_refused_by_name() {
        let error = SdkLogExporter::new(Scripted {
            signal: Signal::Traces,
            ..Scripted::default()
        })
        .expect_err("refused");
        assert!(matches!(
            error,
            BridgeError::WrongSignal {
                expected: Signal::Logs,
                found: Signal::Traces
            }
        ));
        let message = error.to_string();
        assert!(
            message.contains("an exporter of traces cannot carry logs"),
            "{message}"
        );
    }

    #[test]
    fn a_batch_is_encoded_once_as_logs_and_sent_without_a_runtime_of_the_callers() {
        let exporter = SdkLogExporter::new(Scripted::default()).expect("builds");
        export(&exporter, &records(2)).expect("succeeds");
        let sent = exporter.exporter().sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].span_count, 2);
        let request = <opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest as prost::Message>::decode(sent[0].body.clone()).expect("a logs request");
        let logs = &request.resource_logs[0].scope_logs[0];
        assert_eq!(
            logs.scope.as_ref().map(|scope| scope.name.as_str()),
            Some("test")
        );
        assert_eq!(logs.log_records.len(), 2);
        let stats = exporter.stats();
        assert_eq!((stats.batches, stats.exported, stats.failed), (1, 2, 0));
    }

    #[test]
    fn an_empty_batch_sends_nothing() {
        let exporter = SdkLogExporter::new(Scripted::default()).expect("builds");
        export(&exporter, &[]).expect("succeeds");
        assert!(exporter.exporter().sent().is_empty());
        assert_eq!(exporter.stats().batches, 0);
    }

    #[test]
    fn retryable_failures_are_retried_until_success() {
        let exporter = SdkLogExporter::builder(Scripted::with([retryable(), retryable()]))
            .with_retry_policy(fast_retry())
            .build()
            .expect("builds");
        export(&exporter, &records(1)).expect("succeeds");
        assert_eq!(exporter.exporter().sent().len(), 3);
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.retries, stats.failed), (1, 2, 0));
    }

    #[test]
    fn retries_stop_at_the_export_timeout_with_an_error_counting_records() {
        let exporter =
            SdkLogExporter::builder(Scripted::with(std::iter::repeat_n(retryable(), 1000)))
                .with_retry_policy(fast_retry())
                .with_export_timeout(Duration::from_millis(100))
                .build()
                .expect("builds");
        let started = Instant::now();
        let result = export(&exporter, &records(3));
        assert!(started.elapsed() < Duration::from_secs(2));
        let Err(OTelSdkError::InternalFailure(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("3 of 3 log records"), "{message}");
        assert_eq!(exporter.stats().failed, 3);
    }

    #[test]
    fn partial_success_is_ok_and_counted() {
        let exporter = SdkLogExporter::new(Scripted::with([ExportOutcome::PartialSuccess {
            rejected_spans: 1,
            message: "one bad record".into(),
        }]))
        .expect("builds");
        export(&exporter, &records(3)).expect("succeeds");
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.rejected, stats.failed), (2, 1, 0));
        assert!(
            stats
                .last_error
                .is_some_and(|error| error.contains("one bad record"))
        );
    }

    #[test]
    fn batches_over_the_request_cap_are_cut() {
        let exporter = SdkLogExporter::builder(Scripted::default())
            .with_max_request_bytes(300)
            .build()
            .expect("builds");
        export(&exporter, &records(20)).expect("succeeds");
        let sent = exporter.exporter().sent();
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|request| request.body.len() <= 300));
        assert_eq!(
            sent.iter().map(|request| request.span_count).sum::<usize>(),
            20
        );
    }

    #[test]
    fn json_exporters_get_json() {
        let exporter = SdkLogExporter::new(Scripted {
            encoding: Encoding::Json,
            ..Scripted::default()
        })
        .expect("builds");
        export(&exporter, &records(1)).expect("succeeds");
        let sent = exporter.exporter().sent();
        assert_eq!(sent[0].encoding, Encoding::Json);
        assert!(sent[0].body.starts_with(b"{\"resourceLogs\""));
    }

    #[test]
    fn shutdown_reaches_the_transport_once() {
        let exporter = SdkLogExporter::new(Scripted::default()).expect("builds");
        exporter
            .shutdown_with_timeout(Duration::from_secs(1))
            .expect("succeeds");
        assert!(exporter.exporter().shut_down.load(Ordering::SeqCst));
        assert!(matches!(
            exporter.shutdown(),
            Err(OTelSdkError::AlreadyShutdown)
        ));
        assert!(matches!(
            export(&exporter, &records(1)),
            Err(OTelSdkError::AlreadyShutdown)
        ));
    }

    /// A minimal executor with no tokio context, like the SDK's `futures_executor::block_on`.
    fn block_on<F: Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Wake, Waker};
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            match future.as_mut().poll(&mut context) {
                Poll::Ready(output) => return output,
                Poll::Pending => std::thread::park(),
            }
        }
    }
}
