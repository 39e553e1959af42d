//! The `opentelemetry` bridge: keep the standard API, get the otlp-rust pipeline.
//!
//! Applications (and libraries, and `tracing` through `tracing-opentelemetry`)
//! that use `opentelemetry` and `opentelemetry_sdk` can switch to otlp-rust
//! without touching their instrumentation. Two ways in:
//!
//! - [`OtlpSpanProcessor`]: an `opentelemetry_sdk` span processor that converts
//!   each finished span ([`SpanConverter`]: static names stay static, resource
//!   and scopes shared, long keys interned) and hands it to an otlp-sdk
//!   pipeline — each span encoded once into a queue bounded by bytes,
//!   retries, every span counted, shutdown and flush bounded by their
//!   deadlines even when the backend hangs. This is the recommended way.
//! - [`SdkExporter`]: our gRPC and HTTP transports (or any `otlp_sdk::Exporter`
//!   built for traces) as an `opentelemetry_sdk` span exporter, for the SDK's own
//!   `BatchSpanProcessor` or `SimpleSpanProcessor`. It brings its own tokio
//!   runtime (those processors have none) and its own retries (they never
//!   retry).
//!
//! ## The one-line switch
//!
//! From `opentelemetry-otlp`:
//!
//! ```text
//! let provider = SdkTracerProvider::builder()
//!     .with_batch_exporter(opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?)
//!     .build();
//! ```
//!
//! to the otlp-rust pipeline, configured from the same `OTEL_*` variables
//! (`OTEL_EXPORTER_OTLP_PROTOCOL` picks gRPC or HTTP):
//!
//! ```no_run
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use otlp_contrib::bridge::OtlpSpanProcessor;
//!
//! let provider = SdkTracerProvider::builder()
//!     .with_span_processor(OtlpSpanProcessor::from_env()?)
//!     .build();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## With `tracing`
//!
//! `tracing-opentelemetry` turns `tracing` spans into `opentelemetry` spans,
//! so its layer on a provider with an [`OtlpSpanProcessor`] sends them
//! through the pipeline, fields as attributes, parents kept:
//!
//! ```
//! use std::time::Duration;
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use otlp_contrib::bridge::OtlpSpanProcessor;
//! use otlp_contrib::receiver::{Receiver, ReceiverConfig};
//! use otlp_exporter_grpc::GrpcExporter;
//! use otlp_sdk::BatchSpanProcessor;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! # let collector = Receiver::start(ReceiverConfig::default())?;
//! # let endpoint = collector.grpc_endpoint().expect("gRPC listener");
//! let pipeline = BatchSpanProcessor::builder(GrpcExporter::builder().endpoint(endpoint).build()?).build()?;
//! let provider = SdkTracerProvider::builder()
//!     .with_span_processor(OtlpSpanProcessor::new(pipeline))
//!     .build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("checkout")));
//!
//! tracing::subscriber::with_default(subscriber, || {
//!     let _order = tracing::info_span!("place order", order.items = 3).entered();
//!     tracing::info!("reserved");
//! });
//! provider.shutdown_with_timeout(Duration::from_secs(5))?;
//! # assert_eq!(collector.accepted_spans()[0].name, "place order");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What crosses the bridge
//!
//! Every field of the SDK's `SpanData` — ids, parent and its remoteness, trace
//! flags and state, kind, name, times, attributes of every value kind,
//! events, links, status, dropped counts — plus the provider's resource and
//! each span's instrumentation scope. [`SpanConverter`] lists each mapping.
//!
//! ## Logs
//!
//! The same two ways in, for `opentelemetry_sdk`'s `SdkLoggerProvider` (and
//! so for `tracing` events through `opentelemetry-appender-tracing`, and the
//! `log` crate through `opentelemetry-appender-log`):
//!
//! - [`OtlpLogProcessor`]: an `opentelemetry_sdk` log processor that converts
//!   each record ([`LogConverter`]) and hands it to an otlp-sdk
//!   [`BatchLogProcessor`](otlp_sdk::BatchLogProcessor): the record encoded
//!   once on the emitting thread, a byte-bounded queue, retries, every record
//!   counted, bounded flush and shutdown. The recommended way.
//! - [`SdkLogExporter`]: our gRPC and HTTP transports, built for
//!   [`Signal::Logs`](otlp_sdk::Signal::Logs), as an `opentelemetry_sdk` log
//!   exporter for the SDK's own `BatchLogProcessor` or `SimpleLogProcessor`,
//!   with its own tokio runtime and retries, as [`SdkExporter`] for spans.
//!
//! From `opentelemetry-otlp`:
//!
//! ```text
//! let provider = SdkLoggerProvider::builder()
//!     .with_batch_exporter(opentelemetry_otlp::LogExporter::builder().with_tonic().build()?)
//!     .build();
//! ```
//!
//! to the otlp-rust log pipeline, configured from the same variables
//! (`OTEL_EXPORTER_OTLP_LOGS_*` over `OTEL_EXPORTER_OTLP_*`, `OTEL_BLRP_*`):
//!
//! ```no_run
//! use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
//! use opentelemetry_sdk::logs::SdkLoggerProvider;
//! use otlp_contrib::bridge::OtlpLogProcessor;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let provider = SdkLoggerProvider::builder()
//!     .with_log_processor(OtlpLogProcessor::from_env()?)
//!     .build();
//! let subscriber = tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider));
//! tracing::subscriber::set_global_default(subscriber)?;
//!
//! tracing::warn!(disk.free_bytes = 1_048_576_i64, "disk almost full");
//! provider.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or keep the SDK's batch processor and swap only the exporter:
//! `.with_batch_exporter(SdkLogExporter::from_env()?)`.
//!
//! Every field of the SDK's log record crosses: times (the observed time is
//! *now* when absent), severity number and text, the body and attributes as
//! full `AnyValue`s (maps, lists, bytes, nested), the trace context of the
//! active span (ids and flags: the `opentelemetry` span the SDK's logger
//! found, else, through [`OtlpLogProcessor`], the span a `tracing`
//! `OtlpLayer` has entered), the event name, the provider's resource and
//! the logger's scope — named by the record's target when it has one, as
//! `opentelemetry-otlp` names it. [`LogConverter`] lists each mapping.
//!
//! Records emitted on the pipelines' own threads never come back: those
//! threads enter `opentelemetry`'s suppressed context (so the SDK's logger
//! drops them), `tracing` records nothing there, and [`OtlpLogProcessor`]
//! refuses them as well.
//!
//! ## Metrics
//!
//! For `opentelemetry_sdk`'s `SdkMeterProvider`, [`SdkMetricExporter`]: our
//! gRPC and HTTP transports, built for
//! [`Signal::Metrics`](otlp_sdk::Signal::Metrics), as the push metric
//! exporter of the SDK's `PeriodicReader`. Instruments, views, aggregation
//! and temporality stay the SDK's; each collection is converted
//! ([`MetricConverter`]: gauges, sums, explicit and exponential histograms
//! of `u64`, `i64` and `f64`, exemplars, resource and scopes), encoded once,
//! cut to the request cap between metrics, sent on the adapter's own tokio
//! runtime and retried, and counted in data points.
//!
//! From `opentelemetry-otlp`:
//!
//! ```text
//! let provider = SdkMeterProvider::builder()
//!     .with_periodic_exporter(opentelemetry_otlp::MetricExporter::builder().with_tonic().build()?)
//!     .build();
//! ```
//!
//! to the otlp-rust transports, configured from the same variables
//! (`OTEL_EXPORTER_OTLP_METRICS_*` over `OTEL_EXPORTER_OTLP_*`, the
//! temporality preference, `OTEL_METRIC_EXPORT_TIMEOUT`):
//!
//! ```no_run
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use otlp_contrib::bridge::SdkMetricExporter;
//!
//! let provider = SdkMeterProvider::builder()
//!     .with_periodic_exporter(SdkMetricExporter::from_env()?)
//!     .build();
//!
//! provider.meter("checkout").u64_counter("orders").build().add(1, &[]);
//! provider.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `OTEL_METRIC_EXPORT_INTERVAL` is the reader's: with
//! `PeriodicReader::builder(exporter).with_interval(config.metrics.export_interval)`
//! for a loaded configuration, or the SDK reads the variable itself when
//! `with_periodic_exporter` builds the reader.

mod convert;
mod delivery;
mod error;
mod exporter;
mod feed;
mod intern;
mod log_convert;
mod log_exporter;
mod log_processor;
mod log_scope_cache;
mod metric_convert;
mod metric_exporter;
mod processor;
mod resource;
mod scope_cache;
mod value_convert;

pub use convert::SpanConverter;
pub use error::BridgeError;
pub use exporter::{DEFAULT_EXPORT_TIMEOUT, SdkExporter, SdkExporterBuilder, SdkExporterStats};
pub use log_convert::LogConverter;
pub use log_exporter::{SdkLogExporter, SdkLogExporterBuilder};
pub use log_processor::OtlpLogProcessor;
pub use metric_convert::MetricConverter;
pub use metric_exporter::{SdkMetricExporter, SdkMetricExporterBuilder};
pub use processor::{DEFAULT_FLUSH_TIMEOUT, OtlpSpanProcessor};
pub use value_convert::convert_resource;

/// The span made current through the `opentelemetry` API on this thread
/// (`Tracer::in_span`, `Context::attach`, a span `tracing-opentelemetry`
/// has entered), if it is valid: its ids and its defined W3C flags
/// (sampled, random; reserved bits are not passed on). For the log front
/// doors that correlate a record with it. Cost: a thread-local read, no
/// allocation, no reference count written. Only those front doors use it.
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) fn current_span_context() -> Option<otlp_core::SpanContext> {
    use opentelemetry::trace::TraceContextExt as _;
    use otlp_core::{SpanContext, SpanId, TraceId};
    opentelemetry::Context::map_current(|current| {
        let span = current.span();
        let context = span.span_context();
        context.is_valid().then(|| {
            SpanContext::new(
                TraceId::from_bytes(context.trace_id().to_bytes()),
                SpanId::from_bytes(context.span_id().to_bytes()),
                convert::defined_flags(context.trace_flags()),
            )
        })
    })
}

/// The span made current through the `opentelemetry` API on this thread, if
/// it is valid, as a parent: its ids, its defined W3C flags, whether it is
/// remote (an extracted context) and its trace state. For `OtlpLayer`,
/// whose spans without a `tracing` parent continue it, as
/// `tracing-opentelemetry`'s do. Cost: a thread-local read; the trace state
/// is converted only when it has members (and then cached per thread).
#[cfg(feature = "tracing")]
pub(crate) fn current_parent_context() -> Option<otlp_core::SpanContext> {
    use opentelemetry::trace::TraceContextExt as _;
    use otlp_core::{SpanContext, SpanId, TraceId};
    opentelemetry::Context::map_current(|current| {
        let span = current.span();
        let context = span.span_context();
        context.is_valid().then(|| SpanContext {
            trace_id: TraceId::from_bytes(context.trace_id().to_bytes()),
            span_id: SpanId::from_bytes(context.span_id().to_bytes()),
            trace_flags: convert::defined_flags(context.trace_flags()),
            is_remote: context.is_remote(),
            trace_state: convert::convert_trace_state(context.trace_state()),
        })
    })
}

/// Makes the `opentelemetry` API record nothing on the pipelines' own
/// threads (see `otlp_sdk::own_threads`): each enters `opentelemetry`'s
/// suppressed context for the rest of its life, so spans started there by
/// instrumented code (an interceptor, an exporter's dependencies) are
/// non-recording and never reach a processor. Registered once, by every
/// bridge type's constructor.
fn suppress_on_pipeline_threads() {
    otlp_sdk::own_threads::add_hook(enter_suppressed_context);
}

fn enter_suppressed_context() {
    // The guard would leave the suppressed context when dropped: the thread
    // keeps it until it exits.
    std::mem::forget(opentelemetry::Context::enter_telemetry_suppressed_scope());
}
