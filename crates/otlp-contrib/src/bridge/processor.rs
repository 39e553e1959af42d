//! [`OtlpSpanProcessor`]: an `opentelemetry_sdk` span processor that feeds the otlp-sdk pipeline.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData};
use otlp_core::Resource;
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{
    BatchSpanProcessor, PipelineError, Signal, SpanProcessor, StatsSnapshot, own_threads,
};

use super::BridgeError;
use super::convert::SpanConverter;
pub use super::feed::DEFAULT_FLUSH_TIMEOUT;
use super::feed::PipelineFeed;
use crate::pipeline::build_processor;

/// An [`opentelemetry_sdk::trace::SpanProcessor`] that converts each finished
/// span to an [`otlp_core::SpanData`] and hands it to an otlp-sdk
/// [`SpanProcessor`] — typically [`BatchSpanProcessor`], so spans from the
/// standard `opentelemetry` API (and `tracing-opentelemetry`) get the otlp-sdk
/// pipeline: encode once into a queue bounded by bytes, retry, counted drops,
/// bounded shutdown.
///
/// Cost model of `on_end`: the conversion described on [`SpanConverter`]
/// (no lock; static names stay static; resource and scope shared), then the
/// wrapped processor's `on_end` (for [`BatchSpanProcessor`]: the span
/// encoded into the thread's queue block, no lock per span; when the queue
/// is full, the default [`FullPolicy::Block`](otlp_sdk::config::FullPolicy::Block)
/// waits while exports make progress, at most 100 ms once the pipeline is
/// stalled, and [`FullPolicy::Drop`](otlp_sdk::config::FullPolicy::Drop)
/// never waits). Spans that are recorded but not sampled are skipped, as
/// the SDK's own processors do.
///
/// | `opentelemetry_sdk` | otlp-sdk |
/// |---|---|
/// | `on_end(span)` | `on_end(converted)` (unsampled spans, and spans ended as a pipeline's own work, skipped) |
/// | `force_flush()` | `force_flush(flush_timeout)` ([`DEFAULT_FLUSH_TIMEOUT`], see [`with_flush_timeout`](Self::with_flush_timeout)) |
/// | `shutdown_with_timeout(timeout)` | `shutdown(timeout)`: returns by `timeout`, even if the backend hangs |
/// | `set_resource(resource)` | converted once into the `Arc<Resource>` every span shares |
///
/// **The pipeline's own work.** Spans started there (by the exporters'
/// dependencies, or by code in a custom exporter) are never fed back into
/// the pipeline that is exporting: every bridge constructor makes the
/// pipelines' own threads enter `opentelemetry`'s suppressed context (their
/// spans do not record), and `on_end` skips a span ended where
/// [`own_threads::is_own_thread`] says so, which also covers a pipeline's
/// work on a thread that is not its own: an adapter's export polled on a
/// runtime given with `with_runtime`, whose context is not suppressed.
///
/// Errors map to [`OTelSdkError`]: a passed deadline is `Timeout`, a second
/// shutdown `AlreadyShutdown`, undelivered spans `InternalFailure` with the
/// counts. The exact accounting is [`stats`](OtlpSpanProcessor::stats).
///
/// ```
/// use std::time::Duration;
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use otlp_contrib::bridge::OtlpSpanProcessor;
/// use otlp_contrib::receiver::{Receiver, ReceiverConfig};
/// use otlp_exporter_grpc::GrpcExporter;
/// use otlp_sdk::BatchSpanProcessor;
///
/// # let collector = Receiver::start(ReceiverConfig::default())?;
/// # let endpoint = collector.grpc_endpoint().expect("gRPC listener");
/// let pipeline = BatchSpanProcessor::builder(GrpcExporter::builder().endpoint(endpoint).build()?).build()?;
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
///     .build();
///
/// provider.tracer("checkout").in_span("place order", |_cx| {});
/// provider.shutdown_with_timeout(Duration::from_secs(5))?;
/// assert_eq!(pipeline.stats().exported, 1);
/// # assert_eq!(collector.accepted_spans()[0].name, "place order");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OtlpSpanProcessor<P = BatchSpanProcessor> {
    feed: PipelineFeed<P, SpanConverter>,
}

impl<P> fmt::Debug for OtlpSpanProcessor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.feed.fmt(f, "OtlpSpanProcessor")
    }
}

impl<P: SpanProcessor> OtlpSpanProcessor<P> {
    /// Feeds `processor` (an otlp-sdk pipeline; clone a [`BatchSpanProcessor`]
    /// first to keep a handle for its stats).
    pub fn new(processor: P) -> Self {
        OtlpSpanProcessor {
            feed: PipelineFeed::new(processor, SpanConverter::new(), sdk_error),
        }
    }

    /// Bounds `force_flush` (default [`DEFAULT_FLUSH_TIMEOUT`]).
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.feed.flush_timeout = timeout;
        self
    }

    /// Resource attributes that the SDK's resource is merged over: the SDK's
    /// values win, except its placeholder `service.name` (`unknown_service…`),
    /// which never hides a service name given here. Spans carry this resource
    /// until the provider calls `set_resource`.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.feed.set_base_resource(resource);
        self
    }

    /// The wrapped otlp-sdk processor.
    pub fn processor(&self) -> &P {
        &self.feed.processor
    }

    /// The resource spans get now.
    pub fn resource(&self) -> &Arc<Resource> {
        self.feed.converter.resource()
    }
}

impl OtlpSpanProcessor<BatchSpanProcessor> {
    /// The whole pipeline from the environment: [`ConfigLoader`] defaults,
    /// configuration files and the standard `OTEL_*` variables (strict: an
    /// invalid value is an error naming its variable), then the exporter the
    /// protocol names — gRPC for `grpc`, HTTP for `http/protobuf` (the
    /// default) and `http/json` — behind a [`BatchSpanProcessor`].
    ///
    /// This is the one-line switch from `opentelemetry-otlp`:
    ///
    /// ```no_run
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use otlp_contrib::bridge::OtlpSpanProcessor;
    ///
    /// let provider = SdkTracerProvider::builder()
    ///     // was: .with_batch_exporter(opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?)
    ///     .with_span_processor(OtlpSpanProcessor::from_env()?)
    ///     .build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env() -> Result<Self, BridgeError> {
        Self::from_config(&ConfigLoader::new().load()?)
    }

    /// The pipeline a loaded [`Config`] describes (see [`from_env`](Self::from_env)).
    /// Its `service_name` and `resource_attributes` become the base resource
    /// (see [`with_resource`](Self::with_resource)); a disabled SDK or trace
    /// signal (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`) makes a
    /// processor that discards every span.
    pub fn from_config(config: &Config) -> Result<Self, BridgeError> {
        let mut processor = OtlpSpanProcessor::new(build_processor(config)?);
        processor.feed.configure(config, Signal::Traces);
        Ok(processor)
    }

    /// Where every span is: the pipeline's counters (see [`StatsSnapshot`]).
    pub fn stats(&self) -> StatsSnapshot {
        self.feed.processor.stats()
    }
}

impl<P: SpanProcessor> opentelemetry_sdk::trace::SpanProcessor for OtlpSpanProcessor<P> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        // A span ended as a pipeline's own work is the pipeline recording
        // itself (one thread-local read).
        if self.feed.disabled || !span.span_context.is_sampled() || own_threads::is_own_thread() {
            return;
        }
        self.feed
            .processor
            .on_end(self.feed.converter.convert(span));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.feed.bounded(self.feed.flush_timeout, P::force_flush)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.feed.bounded(timeout, P::shutdown)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.feed.set_resource(resource);
    }
}

/// The `opentelemetry_sdk` form of a pipeline error.
pub(crate) fn sdk_error(error: PipelineError, timeout: Duration) -> OTelSdkError {
    match error {
        PipelineError::Timeout { .. } => OTelSdkError::Timeout(timeout),
        PipelineError::ShutDown => OTelSdkError::AlreadyShutdown,
        other => OTelSdkError::InternalFailure(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use otlp_core::KeyValue;

    use otlp_sdk::Signal;

    use super::*;

    /// Keeps what it receives.
    #[derive(Clone, Default)]
    struct Collect(
        Arc<Mutex<Vec<otlp_core::SpanData>>>,
        Arc<Mutex<Option<PipelineError>>>,
    );

    impl SpanProcessor for Collect {
        fn on_end(&self, span: otlp_core::SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self, _timeout: Duration) -> Result<(), PipelineError> {
            self.1.lock().unwrap().clone().map_or(Ok(()), Err)
        }
        fn shutdown(&self, _timeout: Duration) -> Result<(), PipelineError> {
            self.1.lock().unwrap().clone().map_or(Ok(()), Err)
        }
    }

    #[test]
    fn spans_reach_the_pipeline_with_the_providers_resource() {
        let collect = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_resource(
                opentelemetry_sdk::Resource::builder_empty()
                    .with_service_name("svc")
                    .build(),
            )
            .with_span_processor(OtlpSpanProcessor::new(collect.clone()))
            .build();
        let tracer = provider.tracer("lib");
        tracer.in_span("one", |_| {});
        tracer.in_span("two", |_| {});
        let spans = collect.0.lock().unwrap().clone();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].resource.service_name(), Some("svc"));
        assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
        assert!(Arc::ptr_eq(&spans[0].scope, &spans[1].scope));
    }

    #[test]
    fn recorded_but_unsampled_spans_are_skipped() {
        let collect = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOff)
            .with_span_processor(OtlpSpanProcessor::new(collect.clone()))
            .build();
        provider.tracer("lib").in_span("dropped", |_| {});
        assert!(collect.0.lock().unwrap().is_empty());
    }

    #[test]
    fn pipeline_errors_map_to_sdk_errors() {
        let collect = Collect::default();
        let processor =
            OtlpSpanProcessor::new(collect.clone()).with_flush_timeout(Duration::from_millis(7));
        use opentelemetry_sdk::trace::SpanProcessor as _;
        processor.force_flush().expect("succeeds");
        *collect.1.lock().unwrap() = Some(PipelineError::Timeout {
            pending: 3,
            signal: Signal::Traces,
        });
        assert!(
            matches!(processor.force_flush(), Err(OTelSdkError::Timeout(t)) if t == Duration::from_millis(7))
        );
        assert!(
            matches!(processor.shutdown_with_timeout(Duration::from_secs(2)), Err(OTelSdkError::Timeout(t)) if t == Duration::from_secs(2))
        );
        *collect.1.lock().unwrap() = Some(PipelineError::ShutDown);
        assert!(matches!(
            processor.shutdown(),
            Err(OTelSdkError::AlreadyShutdown)
        ));
        *collect.1.lock().unwrap() = Some(PipelineError::Undelivered {
            failed: 2,
            rejected: 1,
            signal: Signal::Traces,
        });
        let Err(OTelSdkError::InternalFailure(message)) = processor.force_flush() else {
            panic!("expected an internal failure")
        };
        assert!(message.contains("2 spans failed"), "{message}");
    }

    #[test]
    fn a_configured_service_name_survives_the_sdk_placeholder() {
        use opentelemetry_sdk::trace::SpanProcessor as _;
        let base = Resource::new([
            KeyValue::new("service.name", "from-config"),
            KeyValue::new("deployment.environment.name", "prod"),
        ]);
        let mut processor = OtlpSpanProcessor::new(Collect::default()).with_resource(base);
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
    fn a_disabled_configuration_discards_spans() {
        let config = Config {
            disabled: true,
            ..Config::default()
        };
        let processor = OtlpSpanProcessor::from_config(&config).unwrap();
        let pipeline = processor.processor().clone();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        provider.tracer("lib").in_span("ignored", |_| {});
        provider.shutdown().expect("succeeds");
        assert_eq!(pipeline.stats().produced, 0);
    }
}
