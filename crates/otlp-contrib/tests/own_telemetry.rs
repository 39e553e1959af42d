//! The pipeline never records itself (issue 12, "The pipeline records its
//! own telemetry").
//!
//! A program installs `tracing` + `tracing-opentelemetry` as its global
//! subscriber, with `OtlpSpanProcessor` behind it — the README's migration
//! path — at default settings. The exporters' own instrumentation (hyper, h2,
//! tonic, tower) runs on the pipeline's threads; none of it may come back
//! into the pipeline: exactly the application's spans are produced and
//! exported, over gRPC and HTTP, and none is dropped. Code running inside an
//! export that uses the `opentelemetry` API directly gets non-recording
//! spans.
//!
//! One test in its own binary: the global subscriber is process-wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use otlp_contrib::bridge::OtlpSpanProcessor;
use otlp_contrib::pipeline::build_processor;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_core::SpanData;
use otlp_core::encode::Encoding;
use otlp_sdk::config::{Config, ConfigLoader, Protocol};
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanProcessor, StatsSnapshot,
};
use tracing_subscriber::layer::SubscriberExt as _;

const APPLICATION_SPANS: u64 = 5_000;
const PATIENCE: Duration = Duration::from_secs(60);

/// The default configuration for `protocol`, exporting to `endpoint`.
fn default_config(protocol: Protocol, endpoint: String) -> Config {
    let mut config = ConfigLoader::new()
        .with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str())])
        .load()
        .expect("the default configuration loads");
    config.exporter.endpoint = Some(endpoint);
    config
}

/// An exporter instrumented with the `opentelemetry` API and with `tracing`,
/// as a user's own exporter might be: it notes whether the spans it starts
/// record, then accepts the request.
struct Instrumented {
    provider: SdkTracerProvider,
    recording: Arc<AtomicU64>,
    exports: Arc<AtomicU64>,
}

impl Exporter for Instrumented {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        let mut span = self.provider.tracer("exporter").start("inside export");
        if span.is_recording() {
            self.recording.fetch_add(1, Ordering::SeqCst);
        }
        span.end();
        tracing::info_span!("exporter internals").in_scope(|| tracing::info!("sent"));
        self.exports.fetch_add(1, Ordering::SeqCst);
        ExportOutcome::Success
    }
}

fn assert_only_the_application(name: &str, stats: &StatsSnapshot) {
    assert!(stats.is_balanced(), "{name}: {stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, APPLICATION_SPANS, "{name}: {stats:#?}");
    assert_eq!(stats.exported, APPLICATION_SPANS, "{name}: {stats:#?}");
    assert_eq!(stats.dropped, 0, "{name}: {stats:#?}");
}

#[test]
fn the_pipeline_records_none_of_its_own_telemetry() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let grpc = build_processor(&default_config(
        Protocol::Grpc,
        receiver.grpc_endpoint().expect("gRPC listener"),
    ))
    .expect("the gRPC pipeline builds");
    let http = build_processor(&default_config(
        Protocol::HttpProtobuf,
        receiver.http_endpoint().expect("HTTP listener"),
    ))
    .expect("the HTTP pipeline builds");

    // A third pipeline whose exporter uses both APIs itself. Its provider is
    // the application's, so whatever it recorded would come back here too.
    let recording = Arc::new(AtomicU64::new(0));
    let exports = Arc::new(AtomicU64::new(0));

    let provider = SdkTracerProvider::builder()
        .with_span_processor(OtlpSpanProcessor::new(grpc.clone()))
        .with_span_processor(OtlpSpanProcessor::new(http.clone()))
        .build();
    let instrumented: BatchSpanProcessor = BatchSpanProcessor::builder(Instrumented {
        provider: provider.clone(),
        recording: recording.clone(),
        exports: exports.clone(),
    })
    .build()
    .expect("the instrumented pipeline builds");

    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("application")));
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    for i in 0..APPLICATION_SPANS {
        let span = tracing::info_span!("handle request", request.id = i);
        let _entered = span.enter();
        tracing::debug!("working");
        if i % 500 == 0 {
            // Feed the instrumented pipeline too: its exports run while the
            // application keeps recording.
            instrumented.on_end(SpanData::builder("internal work").build());
            instrumented
                .force_flush(PATIENCE)
                .expect("the instrumented pipeline flushes");
        }
    }
    instrumented
        .shutdown(PATIENCE)
        .expect("the instrumented pipeline shuts down");
    assert_eq!(exports.load(Ordering::SeqCst), APPLICATION_SPANS / 500);
    assert_eq!(
        recording.load(Ordering::SeqCst),
        0,
        "spans recorded inside an export"
    );

    provider
        .shutdown_with_timeout(PATIENCE)
        .expect("the provider shuts down");
    assert_only_the_application("gRPC", &grpc.stats());
    assert_only_the_application("HTTP", &http.stats());
    assert!(receiver.wait_for_spans(2 * APPLICATION_SPANS, PATIENCE));
    assert_eq!(receiver.span_count(), 2 * APPLICATION_SPANS);
}
