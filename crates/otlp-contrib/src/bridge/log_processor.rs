//! [`OtlpLogProcessor`]: an `opentelemetry_sdk` log processor that feeds the otlp-sdk log pipeline.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::logs::Severity as OtelSeverity;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLogRecord;
use otlp_core::Resource;
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{
    BatchLogProcessor, LogProcessor, PipelineError, Signal, StatsSnapshot, active_span,
    own_threads, processor_calls,
};

use super::BridgeError;
use super::feed::PipelineFeed;
use super::log_convert::LogConverter;
use crate::pipeline::build_log_processor;

/// An [`opentelemetry_sdk::logs::LogProcessor`] that converts each emitted
/// log record to an [`otlp_core::LogRecord`] and hands it to an otlp-sdk
/// [`LogProcessor`] — typically [`BatchLogProcessor`], so records from the
/// `opentelemetry` logs API (and from `tracing` through
/// `opentelemetry-appender-tracing`) get the otlp-sdk pipeline: each record
/// encoded once on the emitting thread into a byte-bounded queue, retries,
/// counted drops, bounded flush and shutdown.
///
/// Cost model of `emit`: the conversion described on [`LogConverter`] (no
/// lock; severity text and event name stay static; resource and scope
/// shared), then the wrapped processor's `on_emit` (for [`BatchLogProcessor`]:
/// the record encoded into the thread's queue block; when the queue is
/// full, the default [`FullPolicy::Block`](otlp_sdk::config::FullPolicy::Block)
/// waits while exports make progress, at most 100 ms once the pipeline is
/// stalled, and [`FullPolicy::Drop`](otlp_sdk::config::FullPolicy::Drop)
/// never waits). The SDK's record is borrowed and left as it was, for the
/// processors after this one.
///
/// | `opentelemetry_sdk` | otlp-sdk |
/// |---|---|
/// | `emit(record, scope)` | `on_emit(converted)`; a record without a trace context takes the thread's [active span](otlp_sdk::active_span) |
/// | `event_enabled(..)` | `false` on a pipeline's own threads, while a record is handed to the otlp-sdk processor, and when disabled (`OTEL_SDK_DISABLED`), else `true` |
/// | `force_flush()` | `force_flush(flush_timeout)` ([`DEFAULT_FLUSH_TIMEOUT`](super::DEFAULT_FLUSH_TIMEOUT), see [`with_flush_timeout`](Self::with_flush_timeout)) |
/// | `shutdown_with_timeout(timeout)` | `shutdown(timeout)`: returns by `timeout`, even if the backend hangs |
/// | `set_resource(resource)` | converted once into the `Arc<Resource>` every record shares |
///
/// **Correlation.** A record emitted inside an `opentelemetry` span carries
/// that span's context (the SDK's logger sets it): its ids win. A record
/// without one takes the trace id, span id and trace flags of the thread's
/// [active span](otlp_sdk::active_span), as [`otlp_sdk::Logger::emit`]
/// gives them: the span a `tracing::OtlpLayer` (feature `tracing`) has
/// entered, so that `opentelemetry-appender-tracing`'s records made inside
/// the `tracing` spans `OtlpLayer` records carry their ids. The record
/// handed to the processors after this one is left as it was.
///
/// **The pipeline's own threads.** Records emitted on them (by the
/// exporters' dependencies, or by code in a custom exporter) are discarded,
/// never fed back into the pipeline that is exporting: every bridge
/// constructor makes those threads enter `opentelemetry`'s suppressed
/// context (the SDK's logger then drops the record before any processor
/// sees it), `emit` checks [`own_threads::is_own_thread`] as well, and
/// `tracing` records nothing there at all.
///
/// **What the wrapped processor logs.** A record emitted while this
/// processor (or another log front door of this crate) hands one to its
/// otlp-sdk processor, on the same thread, is discarded by it (`emit`
/// returns, `event_enabled` is `false`): a processor that logs each record
/// it is given, through `opentelemetry-appender-tracing` and a global
/// subscriber say, would otherwise be handed its own records without end,
/// until the stack overflows. The SDK's other processors still get it.
///
/// Errors map to [`OTelSdkError`]: a passed deadline is `Timeout`, a second
/// shutdown `AlreadyShutdown`, undelivered records `InternalFailure` with the
/// counts. The exact accounting is [`stats`](OtlpLogProcessor::stats).
///
/// ```
/// use std::time::Duration;
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
/// use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
/// use otlp_contrib::bridge::OtlpLogProcessor;
/// use otlp_contrib::receiver::{Receiver, ReceiverConfig};
/// use otlp_exporter_grpc::GrpcExporter;
/// use otlp_sdk::{BatchLogProcessor, Signal};
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// # let collector = Receiver::start(ReceiverConfig::default())?;
/// # let endpoint = collector.grpc_endpoint().expect("gRPC listener");
/// let exporter = GrpcExporter::builder().endpoint(endpoint).signal(Signal::Logs).build()?;
/// let pipeline = BatchLogProcessor::builder(exporter).build()?;
/// let provider = SdkLoggerProvider::builder()
///     .with_log_processor(OtlpLogProcessor::new(pipeline.clone()))
///     .build();
/// let subscriber = tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider));
///
/// tracing::subscriber::with_default(subscriber, || tracing::warn!(items = 3, "stock low"));
/// provider.shutdown_with_timeout(Duration::from_secs(5))?;
/// assert_eq!(pipeline.stats().exported, 1);
/// # assert_eq!(collector.accepted_logs()[0].severity_text, "WARN");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OtlpLogProcessor<P = BatchLogProcessor> {
    feed: PipelineFeed<P, LogConverter>,
}

impl<P> fmt::Debug for OtlpLogProcessor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.feed.fmt(f, "OtlpLogProcessor")
    }
}

impl<P: LogProcessor> OtlpLogProcessor<P> {
    /// Feeds `processor` (an otlp-sdk log pipeline; clone a
    /// [`BatchLogProcessor`] first to keep a handle for its stats).
    pub fn new(processor: P) -> Self {
        OtlpLogProcessor {
            feed: PipelineFeed::new(processor, LogConverter::new(), log_sdk_error),
        }
    }

    /// Bounds `force_flush` (default [`DEFAULT_FLUSH_TIMEOUT`](super::DEFAULT_FLUSH_TIMEOUT)).
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.feed.flush_timeout = timeout;
        self
    }

    /// Resource attributes that the SDK's resource is merged over: the SDK's
    /// values win, except its placeholder `service.name` (`unknown_service…`),
    /// which never hides a service name given here. Records carry this
    /// resource until the provider calls `set_resource`.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.feed.set_base_resource(resource);
        self
    }

    /// The wrapped otlp-sdk processor.
    pub fn processor(&self) -> &P {
        &self.feed.processor
    }

    /// The resource records get now.
    pub fn resource(&self) -> &Arc<Resource> {
        self.feed.converter.resource()
    }
}

impl OtlpLogProcessor<BatchLogProcessor> {
    /// The whole log pipeline from the environment: [`ConfigLoader`]
    /// defaults, configuration files and the standard `OTEL_*` variables
    /// (strict: an invalid value is an error naming its variable) — the
    /// `OTEL_EXPORTER_OTLP_LOGS_*` settings over the generic
    /// `OTEL_EXPORTER_OTLP_*` ones, the `OTEL_BLRP_*` batch settings — then
    /// the exporter the protocol names (gRPC for `grpc`, HTTP for
    /// `http/protobuf`, the default, and `http/json`) behind a
    /// [`BatchLogProcessor`] (see [`build_log_processor`]).
    ///
    /// This is the one-line switch from `opentelemetry-otlp`:
    ///
    /// ```no_run
    /// use opentelemetry_sdk::logs::SdkLoggerProvider;
    /// use otlp_contrib::bridge::OtlpLogProcessor;
    ///
    /// let provider = SdkLoggerProvider::builder()
    ///     // was: .with_batch_exporter(opentelemetry_otlp::LogExporter::builder().with_tonic().build()?)
    ///     .with_log_processor(OtlpLogProcessor::from_env()?)
    ///     .build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env() -> Result<Self, BridgeError> {
        Self::from_config(&ConfigLoader::new().load()?)
    }

    /// The log pipeline a loaded [`Config`] describes (see
    /// [`from_env`](Self::from_env)): `config.logs` for the exporter and the
    /// batch settings. Its `service_name` and `resource_attributes` become
    /// the base resource (see [`with_resource`](Self::with_resource));
    /// a disabled SDK or log signal (`OTEL_SDK_DISABLED=true`,
    /// `OTEL_LOGS_EXPORTER=none`) makes a processor that discards every record.
    pub fn from_config(config: &Config) -> Result<Self, BridgeError> {
        let mut processor = OtlpLogProcessor::new(build_log_processor(config)?);
        processor.feed.configure(config, Signal::Logs);
        Ok(processor)
    }

    /// Where every log record is: the pipeline's counters (see [`StatsSnapshot`]).
    pub fn stats(&self) -> StatsSnapshot {
        self.feed.processor.stats()
    }
}

impl<P: LogProcessor> opentelemetry_sdk::logs::LogProcessor for OtlpLogProcessor<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        // Nor a record made while processors are called (a processor that
        // logs would be handed its own records without end: see
        // `otlp_sdk::processor_calls`).
        if self.feed.disabled || own_threads::is_own_thread() || processor_calls::in_progress() {
            return;
        }
        processor_calls::run(|| {
            let mut converted = self.feed.converter.convert(record, scope);
            // No `opentelemetry` context: the thread's active span of this
            // workspace's front doors (an `OtlpLayer` span entered, a native
            // span entered through `active_span`), as `Logger::emit` does.
            active_span::correlate(&mut converted);
            self.feed.processor.on_emit(&mut converted);
        });
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.feed.bounded(self.feed.flush_timeout, P::force_flush)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.feed.bounded(timeout, P::shutdown)
    }

    // `P::enabled` is not asked: it takes the record's scope, which
    // `opentelemetry_sdk` does not pass here (the target is not the scope),
    // and a made-up one would mislead a processor that filters by scope.
    // `emit` hands every record on; a processor that filters does so there.
    fn event_enabled(&self, _level: OtelSeverity, _target: &str, _name: Option<&str>) -> bool {
        !self.feed.disabled && !own_threads::is_own_thread() && !processor_calls::in_progress()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.feed.set_resource(resource);
    }
}

/// The `opentelemetry_sdk` form of a log pipeline error; the message counts
/// log records (the pipeline's own messages name its signal's records).
pub(crate) fn log_sdk_error(error: PipelineError, timeout: Duration) -> OTelSdkError {
    match error {
        PipelineError::Timeout { .. } => OTelSdkError::Timeout(timeout),
        PipelineError::ShutDown => OTelSdkError::AlreadyShutdown,
        PipelineError::Start(message) => {
            OTelSdkError::InternalFailure(format!("log pipeline: could not start: {message}"))
        }
        other => OTelSdkError::InternalFailure(format!("log pipeline: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_sdk::logs::{LogProcessor as _, SdkLoggerProvider};
    use otlp_core::KeyValue;

    use otlp_sdk::Signal;

    use super::*;

    /// Keeps what it receives; answers flush and shutdown with a scripted error.
    #[derive(Clone, Default)]
    struct Collect(
        Arc<Mutex<Vec<otlp_core::LogRecord>>>,
        Arc<Mutex<Option<PipelineError>>>,
    );

    impl Collect {
        fn records(&self) -> Vec<otlp_core::LogRecord> {
            self.0.lock().expect("not poisoned").clone()
        }

        fn fail_with(&self, error: PipelineError) {
            *self.1.lock().expect("not poisoned") = Some(error);
        }

        fn outcome(&self) -> Result<(), PipelineError> {
            self.1
                .lock()
                .expect("not poisoned")
                .clone()
                .map_or(Ok(()), Err)
        }
    }

    impl LogProcessor for Collect {
        fn on_emit(&self, record: &mut otlp_core::LogRecord) {
            self.0.lock().expect("not poisoned").push(record.clone());
        }
        fn force_flush(&self, _timeout: Duration) -> Result<(), PipelineError> {
            self.outcome()
        }
        fn shutdown(&self, _timeout: Duration) -> Result<(), PipelineError> {
            self.outcome()
        }
    }

    fn emit(provider: &SdkLoggerProvider, body: &'static str) {
        let logger = provider.logger("lib");
        let mut record = logger.create_log_record();
        record.set_body(body.into());
        logger.emit(record);
    }

    #[test]
    fn records_reach_the_pipeline_with_the_providers_resource() {
        let collect = Collect::default();
        let provider = SdkLoggerProvider::builder()
            .with_resource(
                opentelemetry_sdk::Resource::builder_empty()
                    .with_service_name("svc")
                    .build(),
            )
            .with_log_processor(OtlpLogProcessor::new(collect.clone()))
            .build();
        emit(&provider, "one");
        emit(&provider, "two");
        let records = collect.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].resource.service_name(), Some("svc"));
        assert_eq!(records[1].body, Some(otlp_core::AnyValue::from("two")));
        assert!(Arc::ptr_eq(&records[0].resource, &records[1].resource));
        assert!(Arc::ptr_eq(&records[0].scope, &records[1].scope));
        assert_eq!(records[0].scope.name, "lib");
    }

    #[test]
    fn a_record_without_a_context_takes_the_active_span_and_one_with_a_context_keeps_it() {
        let collect = Collect::default();
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(OtlpLogProcessor::new(collect.clone()))
            .build();
        let logger = provider.logger("lib");
        let active = otlp_core::SpanContext {
            trace_id: otlp_core::TraceId::from_bytes([7; 16]),
            span_id: otlp_core::SpanId::from_bytes([9; 8]),
            trace_flags: otlp_core::TraceFlags::SAMPLED,
            is_remote: false,
            trace_state: otlp_core::TraceState::EMPTY,
        };
        emit(&provider, "outside");
        active_span::in_span(&active, || {
            emit(&provider, "inside");
            let mut record = logger.create_log_record();
            record.set_trace_context(
                opentelemetry::TraceId::from(1),
                opentelemetry::SpanId::from(2),
                None,
            );
            logger.emit(record);
        });
        let records = collect.records();
        assert_eq!(records.len(), 3);
        assert_eq!((records[0].trace_id, records[0].span_id), (None, None));
        assert_eq!(records[0].flags, 0);
        assert_eq!(
            (records[1].trace_id, records[1].span_id, records[1].flags),
            (Some(active.trace_id), Some(active.span_id), 1),
            "the active span's"
        );
        assert_eq!(
            (records[2].trace_id, records[2].span_id, records[2].flags),
            (
                Some(otlp_core::TraceId::from_bytes(1u128.to_be_bytes())),
                Some(otlp_core::SpanId::from_bytes(2u64.to_be_bytes())),
                0
            ),
            "its own context wins"
        );
    }

    #[test]
    fn records_on_a_pipeline_thread_are_not_taken() {
        let collect = Collect::default();
        let processor = OtlpLogProcessor::new(collect.clone());
        let provider = SdkLoggerProvider::builder().build();
        let logger = provider.logger("lib");
        let scope = InstrumentationScope::builder("lib").build();
        std::thread::scope(|threads| {
            threads.spawn(|| {
                let mut record = logger.create_log_record();
                assert!(processor.event_enabled(OtelSeverity::Info, "t", None));
                processor.emit(&mut record, &scope);
            });
        });
        std::thread::scope(|threads| {
            threads.spawn(|| {
                own_threads::enter();
                let mut record = logger.create_log_record();
                assert!(!processor.event_enabled(OtelSeverity::Info, "t", None));
                processor.emit(&mut record, &scope);
            });
        });
        assert_eq!(collect.records().len(), 1, "only the application thread's");
    }

    /// A processor that logs each record it is given through a logger of
    /// the `opentelemetry_sdk` provider it serves (through
    /// `opentelemetry-appender-tracing` and a global subscriber, its
    /// `tracing` events would go the same way), a few times at most.
    #[derive(Clone, Default)]
    struct LogsBack {
        logger: Arc<std::sync::OnceLock<opentelemetry_sdk::logs::SdkLogger>>,
        given: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl LogProcessor for LogsBack {
        fn on_emit(&self, _: &mut otlp_core::LogRecord) {
            let given = self.given.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if given < 20
                && let Some(logger) = self.logger.get()
            {
                let mut record = logger.create_log_record();
                record.set_body("the processor was given a record".into());
                logger.emit(record);
            }
        }
        fn force_flush(&self, _timeout: Duration) -> Result<(), PipelineError> {
            Ok(())
        }
        fn shutdown(&self, _timeout: Duration) -> Result<(), PipelineError> {
            Ok(())
        }
    }

    #[test]
    fn what_the_wrapped_processor_logs_while_it_handles_a_record_is_not_handed_back_to_it() {
        let back = LogsBack::default();
        let processor = OtlpLogProcessor::new(back.clone());
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(processor)
            .build();
        let _ = back.logger.set(provider.logger("back"));
        emit(&provider, "the application's");
        assert_eq!(
            back.given.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "only the application's record, not one per record without end"
        );
    }

    #[test]
    fn pipeline_errors_map_to_sdk_errors_that_count_log_records() {
        let collect = Collect::default();
        let processor =
            OtlpLogProcessor::new(collect.clone()).with_flush_timeout(Duration::from_millis(7));
        processor.force_flush().expect("succeeds");
        collect.fail_with(PipelineError::Timeout {
            pending: 3,
            signal: Signal::Logs,
        });
        assert!(
            matches!(processor.force_flush(), Err(OTelSdkError::Timeout(t)) if t == Duration::from_millis(7))
        );
        assert!(
            matches!(processor.shutdown_with_timeout(Duration::from_secs(2)), Err(OTelSdkError::Timeout(t)) if t == Duration::from_secs(2))
        );
        collect.fail_with(PipelineError::ShutDown);
        assert!(matches!(
            processor.shutdown(),
            Err(OTelSdkError::AlreadyShutdown)
        ));
        collect.fail_with(PipelineError::Undelivered {
            failed: 2,
            rejected: 1,
            signal: Signal::Logs,
        });
        let Err(OTelSdkError::InternalFailure(message)) = processor.force_flush() else {
            panic!("expected an internal failure")
        };
        assert!(
            message.contains("2 log records failed") && message.contains("1 were rejected"),
            "{message}"
        );
    }

    #[test]
    fn a_configured_service_name_survives_the_sdk_placeholder() {
        let base = Resource::new([
            KeyValue::new("service.name", "from-config"),
            KeyValue::new("deployment.environment.name", "prod"),
        ]);
        let mut processor = OtlpLogProcessor::new(Collect::default()).with_resource(base);
        assert_eq!(processor.resource().service_name(), Some("from-config"));
        processor.set_resource(
            &opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("unknown_service:bridge-tests")
                .with_attribute(opentelemetry::KeyValue::new(
                    "deployment.environment.name",
                    "dev",
                ))
                .build(),
        );
        assert_eq!(processor.resource().service_name(), Some("from-config"));
        assert_eq!(
            processor
                .resource()
                .get("deployment.environment.name")
                .and_then(otlp_core::AnyValue::as_str),
            Some("dev"),
            "otherwise the SDK's resource wins"
        );
        processor.set_resource(
            &opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("from-code")
                .build(),
        );
        assert_eq!(processor.resource().service_name(), Some("from-code"));
    }

    #[test]
    fn a_disabled_configuration_discards_records() {
        let config = Config {
            disabled: true,
            ..Config::default()
        };
        let processor = OtlpLogProcessor::from_config(&config).expect("builds");
        let pipeline = processor.processor().clone();
        assert!(!processor.event_enabled(OtelSeverity::Error, "t", None));
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(processor)
            .build();
        emit(&provider, "ignored");
        provider.shutdown().expect("succeeds");
        assert_eq!(pipeline.stats().produced, 0);
    }

    #[test]
    fn the_configuration_names_the_service_and_its_log_endpoint() {
        let config = ConfigLoader::new()
            .with_env([
                ("OTEL_SERVICE_NAME", "configured"),
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
            ])
            .load()
            .expect("loads");
        let processor = OtlpLogProcessor::from_config(&config).expect("builds");
        assert_eq!(processor.resource().service_name(), Some("configured"));
        assert_eq!(processor.stats().produced, 0);
        processor
            .processor()
            .shutdown(Duration::from_secs(1))
            .expect("an idle pipeline shuts down");
    }
}
