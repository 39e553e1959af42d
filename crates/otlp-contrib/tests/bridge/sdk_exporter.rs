//! Our gRPC and HTTP exporters as `opentelemetry_sdk` span exporters under the
//! stock `BatchSpanProcessor` and `SimpleSpanProcessor` (which run exports with
//! no tokio runtime).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SimpleSpanProcessor, SpanExporter,
};
use otlp_contrib::bridge::SdkExporter;
use otlp_contrib::receiver::{Fault, Receiver, Transport};
use otlp_core::encode::Encoding;
use otlp_sdk::{Exporter, RetryPolicy};

use crate::support::{
    TIMEOUT, attribute, block_on, grpc_exporter, http_exporter, only_group, receiver, sample_span,
    string,
};

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("stock-sdk")
        .build()
}

/// Ends `count` spans with an attribute each on `provider`, flushes, and waits for them.
fn send_spans(provider: &SdkTracerProvider, receiver: &Receiver, prefix: &str, count: u64) {
    let tracer = provider.tracer("stock-processors");
    for i in 0..count {
        let mut span = tracer.start(format!("{prefix}-{i}"));
        span.set_attribute(KeyValue::new("i", i as i64));
        span.end();
    }
    provider.force_flush().expect("flushed");
    assert!(
        receiver.wait_for_spans(count, TIMEOUT),
        "{prefix}: {:?}",
        receiver.stats()
    );
}

/// Checks every request arrived on `transport` with `content_type`, carrying the provider's resource.
fn check_requests(receiver: &Receiver, transport: Transport, content_type: &str) {
    let requests = receiver.take_requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.transport, transport);
        assert!(
            request
                .content_type
                .as_deref()
                .is_some_and(|ct| ct.starts_with(content_type)),
            "{:?}",
            request.content_type
        );
        let (resource, scope, _) = only_group(&request.request);
        assert_eq!(
            attribute(resource, "service.name"),
            Some(&string("stock-sdk"))
        );
        assert_eq!(scope, "stock-processors");
        for span in request.request.resource_spans[0].scope_spans[0]
            .spans
            .iter()
        {
            assert!(attribute(&span.attributes, "i").is_some());
        }
    }
}

fn batch_provider<E: Exporter>(exporter: SdkExporter<E>) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_millis(50))
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(processor)
        .build()
}

#[test]
fn grpc_under_the_stock_batch_processor() {
    let receiver = receiver();
    let provider = batch_provider(SdkExporter::new(grpc_exporter(&receiver)).unwrap());
    send_spans(&provider, &receiver, "batch-grpc", 20);
    check_requests(&receiver, Transport::Grpc, "application/grpc");
    provider.shutdown_with_timeout(TIMEOUT).unwrap();
}

#[test]
fn grpc_under_the_stock_simple_processor() {
    let receiver = receiver();
    let exporter = SdkExporter::new(grpc_exporter(&receiver)).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build();
    send_spans(&provider, &receiver, "simple-grpc", 3);
    assert_eq!(receiver.request_count(), 3, "one request per span");
    check_requests(&receiver, Transport::Grpc, "application/grpc");
    provider.shutdown_with_timeout(TIMEOUT).unwrap();
}

#[test]
fn http_protobuf_under_the_stock_simple_processor() {
    let receiver = receiver();
    let exporter = SdkExporter::new(http_exporter(&receiver, Encoding::Protobuf)).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build();
    send_spans(&provider, &receiver, "simple-http", 3);
    check_requests(&receiver, Transport::Http, "application/x-protobuf");
    provider.shutdown_with_timeout(TIMEOUT).unwrap();
}

#[test]
fn http_json_under_the_stock_batch_processor() {
    let receiver = receiver();
    let provider =
        batch_provider(SdkExporter::new(http_exporter(&receiver, Encoding::Json)).unwrap());
    send_spans(&provider, &receiver, "batch-json", 20);
    check_requests(&receiver, Transport::Http, "application/json");
    provider.shutdown_with_timeout(TIMEOUT).unwrap();
}

#[test]
fn the_adapter_retries_what_the_stock_sdk_would_drop() {
    let receiver = receiver();
    receiver.push_faults([
        Fault::Unavailable,
        Fault::Throttle(Duration::from_millis(20)),
    ]);
    let exporter = SdkExporter::builder(grpc_exporter(&receiver))
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build();
    send_spans(&provider, &receiver, "retried", 1);
    let stats = receiver.stats();
    assert_eq!(
        (stats.requests, stats.faulted_requests, stats.accepted_spans),
        (3, 2, 1)
    );
    provider.shutdown_with_timeout(TIMEOUT).unwrap();
}

#[test]
fn partial_success_is_ok_and_counted() {
    let receiver = receiver();
    receiver.push_faults([Fault::PartialSuccess {
        rejected: 1,
        message: "span 0 too old".into(),
    }]);
    let exporter = SdkExporter::new(http_exporter(&receiver, Encoding::Protobuf)).unwrap();
    let batch = vec![sample_span(1), sample_span(2)];
    block_on(exporter.export(batch)).expect("succeeds");
    let stats = exporter.stats();
    assert_eq!(
        (
            stats.received,
            stats.exported,
            stats.rejected,
            stats.failed,
            stats.in_flight
        ),
        (2, 1, 1, 0, 0)
    );
    assert!(stats.last_error.unwrap().contains("span 0 too old"));
}

#[test]
fn permanent_errors_fail_the_export_without_retrying() {
    let receiver = receiver();
    receiver.push_faults([Fault::InvalidArgument]);
    let exporter = SdkExporter::new(grpc_exporter(&receiver)).unwrap();
    let result = block_on(exporter.export(vec![sample_span(1)]));
    assert!(result.is_err(), "{result:?}");
    assert_eq!(receiver.request_count(), 1);
    assert_eq!(exporter.stats().failed, 1);
}

/// An export whose task is cancelled (here the caller's runtime, given with
/// `with_runtime`, shuts down while the collector has not answered) still
/// accounts for its spans: every span of a batch ends in `exported`,
/// `rejected` or `failed`. They were in none before.
#[test]
fn an_export_cancelled_by_its_runtime_shutting_down_counts_its_spans_as_failed() {
    let receiver = receiver();
    receiver.push_faults([Fault::Hang]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // Neither the attempt nor the export times out before the runtime goes.
    let transport = otlp_exporter_grpc::GrpcExporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
        .timeout(Duration::from_secs(3600))
        .build()
        .expect("valid exporter");
    let exporter = Arc::new(
        SdkExporter::builder(transport)
            .with_runtime(runtime.handle().clone())
            .with_retry_policy(RetryPolicy::disabled())
            .with_export_timeout(Duration::from_secs(3600))
            .build()
            .expect("adapter"),
    );
    let exporting = {
        let exporter = Arc::clone(&exporter);
        std::thread::spawn(move || block_on(exporter.export(vec![sample_span(1), sample_span(2)])))
    };
    assert!(receiver.wait_until(TIMEOUT, |stats| stats.requests >= 1));
    // The collector holds the request: both spans are in flight, and the
    // counts add up while they are.
    let stats = exporter.stats();
    assert_eq!(
        (
            stats.received,
            stats.in_flight,
            stats.exported,
            stats.failed
        ),
        (2, 2, 0, 0),
        "{stats:?}"
    );
    runtime.shutdown_timeout(TIMEOUT);
    let result = exporting.join().expect("the exporting thread ends");
    assert!(result.is_err(), "{result:?}");
    let stats = exporter.stats();
    assert_eq!(
        (
            stats.batches,
            stats.received,
            stats.exported,
            stats.rejected,
            stats.failed,
            stats.in_flight
        ),
        (1, 2, 0, 0, 2, 0),
        "{stats:?}"
    );
    assert!(
        stats
            .last_error
            .is_some_and(|error| error.contains("2 spans not delivered")),
        "{:?}",
        exporter.stats().last_error
    );
}

/// Counts the `tracing` events that reach it, with their targets.
struct EventTargets(Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventTargets {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event.metadata().target().to_owned());
    }
}

/// Exports (and shuts down) on a runtime of the caller's (`with_runtime`),
/// driven by a thread whose subscriber records every event: the
/// transport's own events there (tonic, tower, hyper-util, h2: 149 for one
/// export over gRPC) reached that subscriber, and through a front door
/// (`OtlpLogLayer`, `tracing-opentelemetry`) would have come back as
/// telemetry. None does; the caller's own events, during each export and
/// after them, do.
fn an_export_on_the_callers_runtime_records_nothing_there(exporter: impl Exporter + 'static) {
    use tracing_subscriber::layer::SubscriberExt as _;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let adapter = Arc::new(
        SdkExporter::builder(exporter)
            .with_runtime(runtime.handle().clone())
            .build()
            .expect("adapter"),
    );
    let targets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(EventTargets(Arc::clone(&targets)));
    tracing::subscriber::with_default(subscriber, || {
        for i in 1..=2 {
            // The application records on this thread while the export runs.
            let (exported, ()) = runtime.block_on(async {
                tokio::join!(adapter.export(vec![sample_span(i)]), async {
                    tokio::task::yield_now().await;
                    tracing::info!(target: "application", "during");
                })
            });
            exported.expect("exported");
        }
        // Shut down from another thread while this one drives the runtime.
        let shutting = Arc::clone(&adapter);
        runtime
            .block_on(async move {
                tokio::task::spawn_blocking(move || shutting.shutdown_with_timeout(TIMEOUT)).await
            })
            .expect("the shutdown's thread ends")
            .expect("shut down");
        tracing::info!(target: "application", "exported");
    });
    assert_eq!(adapter.stats().exported, 2);
    let targets = targets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(targets, ["application"; 3]);
}

#[test]
fn an_export_over_grpc_on_the_callers_runtime_records_nothing_there() {
    let receiver = receiver();
    an_export_on_the_callers_runtime_records_nothing_there(grpc_exporter(&receiver));
    assert_eq!(receiver.span_count(), 2);
}

#[test]
fn an_export_over_http_on_the_callers_runtime_records_nothing_there() {
    let receiver = receiver();
    an_export_on_the_callers_runtime_records_nothing_there(http_exporter(
        &receiver,
        Encoding::Protobuf,
    ));
    assert_eq!(receiver.span_count(), 2);
}

/// A program's own exporter, instrumented with the `opentelemetry` API
/// through the program's provider: each export starts and ends a span.
struct InstrumentedExporter {
    inner: otlp_exporter_grpc::GrpcExporter,
    tracer: opentelemetry_sdk::trace::SdkTracer,
}

impl Exporter for InstrumentedExporter {
    fn encoding(&self) -> Encoding {
        self.inner.encoding()
    }

    async fn export(&self, request: otlp_sdk::ExportRequest) -> otlp_sdk::ExportOutcome {
        let mut span = self.tracer.start("inside export");
        let outcome = self.inner.export(request).await;
        span.end();
        outcome
    }
}

/// An export on a runtime of the caller's (`with_runtime`) is the
/// pipeline's own work there: a span that the exporter starts through the
/// `opentelemetry` API must not come back through `OtlpSpanProcessor` into
/// the program's pipeline, as it does not on the pipeline's own threads
/// (`own_telemetry`). Before, `OtlpSpanProcessor` took it (only the log
/// processor looked at `own_threads::is_own_thread`): each export added a
/// span to the pipeline, which a provider exporting through this adapter
/// would export again, and so on.
#[test]
fn spans_an_exporter_starts_on_the_callers_runtime_do_not_reach_the_pipeline() {
    use otlp_contrib::bridge::OtlpSpanProcessor;

    let receiver = receiver();
    let pipeline = crate::support::grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let adapter = SdkExporter::builder(InstrumentedExporter {
        inner: grpc_exporter(&receiver),
        tracer: provider.tracer("exporter"),
    })
    .with_runtime(runtime.handle().clone())
    .build()
    .expect("adapter");
    for i in 1..=3 {
        runtime
            .block_on(adapter.export(vec![sample_span(i)]))
            .expect("exported");
    }
    // The application's own span is recorded as ever.
    provider.tracer("application").start("application").end();
    provider
        .shutdown_with_timeout(TIMEOUT)
        .expect("the provider shuts down");
    let stats = pipeline.stats();
    assert_eq!((stats.produced, stats.exported), (1, 1), "{stats:?}");
    assert!(receiver.wait_for_spans(3 + 1, TIMEOUT));
    let names: Vec<String> = receiver
        .accepted_spans()
        .into_iter()
        .map(|span| span.name)
        .collect();
    assert_eq!(
        names.iter().filter(|name| *name == "inside export").count(),
        0,
        "{names:?}"
    );
}

#[test]
fn from_a_disabled_configuration_the_adapter_sends_nothing_and_answers_ok() {
    // Before, `OTEL_SDK_DISABLED=true` was ignored: every batch went to the
    // endpoint (`OtlpSpanProcessor::from_config` discarded them); and with
    // `OTEL_TRACES_EXPORTER=none` every batch failed, the SDK logging it.
    for off in [
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ] {
        let receiver = receiver();
        let endpoint = receiver.grpc_endpoint().expect("gRPC listener");
        let config = otlp_sdk::config::ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                off,
            ])
            .load()
            .expect("a valid configuration");
        let exporter = SdkExporter::from_config(&config).expect("the adapter builds");
        let exported = block_on(exporter.export(vec![sample_span(1), sample_span(2)]));
        assert!(exported.is_ok(), "{off:?}: {exported:?}");
        assert_eq!(
            exporter.stats().batches,
            0,
            "{off:?}: {:?}",
            exporter.stats()
        );
        assert_eq!(
            receiver.request_count(),
            0,
            "{off:?}: {:?}",
            receiver.stats()
        );
        exporter.shutdown_with_timeout(TIMEOUT).expect("shuts down");
    }
}

/// A program's own exporter, instrumented with the `opentelemetry` API
/// through a tracer of the provider it exports for (set once that provider
/// is built): each export starts and ends a span.
struct InstrumentedForItsProvider {
    inner: otlp_exporter_grpc::GrpcExporter,
    tracer: Arc<std::sync::OnceLock<opentelemetry_sdk::trace::SdkTracer>>,
}

impl Exporter for InstrumentedForItsProvider {
    fn encoding(&self) -> Encoding {
        self.inner.encoding()
    }

    async fn export(&self, request: otlp_sdk::ExportRequest) -> otlp_sdk::ExportOutcome {
        let span = self
            .tracer
            .get()
            .map(|tracer| tracer.start("inside export"));
        let outcome = self.inner.export(request).await;
        if let Some(mut span) = span {
            span.end();
        }
        outcome
    }
}

/// The same as above behind the stock `BatchSpanProcessor`, which does not
/// look at `own_threads`: on a runtime of the caller's, an export was polled
/// outside `opentelemetry`'s suppressed context (only the tracing dispatcher
/// was silenced there), so the span the exporter started was recording, went
/// to the provider's processor, and was exported by the next batch, which
/// made one more, for as long as the program ran. Exports there run in the
/// suppressed context, as on the adapter's own runtime.
#[test]
fn spans_an_exporter_starts_on_the_callers_runtime_do_not_reach_the_stock_processor() {
    let receiver = receiver();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let tracer = Arc::new(std::sync::OnceLock::new());
    let adapter = SdkExporter::builder(InstrumentedForItsProvider {
        inner: grpc_exporter(&receiver),
        tracer: Arc::clone(&tracer),
    })
    .with_runtime(runtime.handle().clone())
    .build()
    .expect("adapter");
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(BatchSpanProcessor::builder(adapter).build())
        .build();
    let _ = tracer.set(provider.tracer("exporter"));
    for round in 0..3 {
        provider
            .tracer("application")
            .start(format!("application-{round}"))
            .end();
        // Each export's own span, if recorded, goes out with the next one.
        provider.force_flush().expect("flushed");
    }
    provider
        .shutdown_with_timeout(TIMEOUT)
        .expect("the provider shuts down");
    assert!(
        receiver.wait_for_spans(3, TIMEOUT),
        "{:?}",
        receiver.stats()
    );
    let names: Vec<String> = receiver
        .accepted_spans()
        .into_iter()
        .map(|span| span.name)
        .collect();
    assert_eq!(
        names,
        ["application-0", "application-1", "application-2"],
        "{names:?}"
    );
}

/// The span adapter refuses a transport built for log records or metrics,
/// as the log and metric adapters refuse one of another signal: it took
/// any, and sent trace requests to `/v1/logs` (over JSON a backend reads
/// them as an empty logs request and answers success: the spans counted
/// exported, gone) or wrote them as lines of a file held for logs.
#[test]
fn the_span_adapter_refuses_an_exporter_built_for_another_signal() {
    use otlp_contrib::bridge::BridgeError;
    use otlp_contrib::file_exporter::FileExporter;
    use otlp_exporter_http::HttpExporter;
    use otlp_sdk::Signal;

    let receiver = receiver();
    let logs = HttpExporter::builder()
        .endpoint(receiver.http_endpoint().expect("HTTP listener"))
        .encoding(Encoding::Json)
        .signal(Signal::Logs)
        .build()
        .expect("a valid exporter");
    let error = SdkExporter::new(logs).expect_err("refused");
    assert!(
        matches!(
            error,
            BridgeError::WrongSignal {
                expected: Signal::Traces,
                found: Signal::Logs,
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("Signal::Traces"), "{error}");

    let dir = std::env::temp_dir().join(format!("otlp-bridge-wrong-signal-{}", std::process::id()));
    let metrics = FileExporter::to_path(dir.join("metrics.jsonl"))
        .expect("file opens")
        .for_signal(Signal::Metrics);
    let error = SdkExporter::new(metrics).expect_err("refused");
    std::fs::remove_dir_all(&dir).expect("removed");
    assert!(
        matches!(
            error,
            BridgeError::WrongSignal {
                expected: Signal::Traces,
                found: Signal::Metrics,
            }
        ),
        "{error:?}"
    );
}
