//! The `tracing` front door's benchmarks compare equal work: the span of
//! `front_doors::tracing_span` through `front_doors::otlp_layer` into
//! otlp-sdk and through `front_doors::baseline_layer` into `opentelemetry_sdk`
//! carries the same attribute keys on both sides (the layer a benchmark
//! builds decides what each side writes; `tracing-opentelemetry`'s default
//! busy and idle times were once left on for the baseline alone). Our span is
//! decoded with `opentelemetry-proto`'s types, the baseline's read from the
//! `SpanData` its exporter receives.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use otlp_benches::fixtures::SCOPE_NAME;
use otlp_benches::front_doors::{baseline_layer, otlp_layer, tracing_span};
use otlp_sdk::{Encoding, ExportOutcome, ExportRequest};
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Keeps every request body our pipeline exports.
#[derive(Clone, Default)]
struct KeptRequests(Arc<Mutex<Vec<bytes::Bytes>>>);

impl otlp_sdk::Exporter for KeptRequests {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.0
            .lock()
            .expect("no test thread panicked")
            .push(request.body);
        ExportOutcome::Success
    }
}

/// Keeps every span the baseline exports.
#[derive(Clone, Debug, Default)]
struct KeptSpans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for KeptSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .expect("no test thread panicked")
            .extend(batch);
        Ok(())
    }
}

fn values() -> [String; 8] {
    std::array::from_fn(|index| format!("value-{index:010}"))
}

/// The attribute keys of the one span `OtlpLayer` exports.
fn our_keys() -> BTreeSet<String> {
    let exporter = KeptRequests::default();
    let processor = otlp_sdk::BatchSpanProcessor::builder(exporter.clone())
        .build()
        .expect("a default batch processor builds");
    let provider = otlp_sdk::TracerProvider::builder()
        .with_processor(processor)
        .build();
    let subscriber = tracing_subscriber::registry().with(otlp_layer(&provider));
    tracing::subscriber::with_default(subscriber, || drop(tracing_span(&values())));
    provider
        .shutdown(std::time::Duration::from_secs(10))
        .expect("the pipeline shuts down with every span exported");
    let bodies = exporter.0.lock().expect("no test thread panicked");
    let spans: Vec<_> = bodies
        .iter()
        .flat_map(|body| {
            ExportTraceServiceRequest::decode(body.as_ref())
                .expect("opentelemetry-proto decodes the request")
                .resource_spans
        })
        .flat_map(|resource| resource.scope_spans)
        .inspect(|scope| {
            assert_eq!(
                scope.scope.as_ref().map(|s| s.name.as_str()),
                Some(SCOPE_NAME)
            )
        })
        .flat_map(|scope| scope.spans)
        .collect();
    assert_eq!(spans.len(), 1, "one span exported");
    spans[0]
        .attributes
        .iter()
        .map(|attribute| attribute.key.clone())
        .collect()
}

/// The attribute keys of the one span the baseline's layer exports.
fn baseline_keys() -> BTreeSet<String> {
    let exporter = KeptSpans::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(baseline_layer(provider.tracer(SCOPE_NAME)));
    tracing::subscriber::with_default(subscriber, || drop(tracing_span(&values())));
    provider
        .shutdown()
        .expect("the baseline's provider shuts down");
    let spans = exporter.0.lock().expect("no test thread panicked");
    assert_eq!(spans.len(), 1, "one span exported");
    spans[0]
        .attributes
        .iter()
        .map(|attribute| attribute.key.as_str().to_owned())
        .collect()
}

#[test]
fn otlp_layer_and_the_baseline_layer_write_the_same_attribute_keys() {
    let ours = our_keys();
    let baseline = baseline_keys();
    // The span's eight fields are among them, on both sides.
    for field in ["http.route", "app.request.id"] {
        assert!(ours.contains(field), "ours lacks {field}: {ours:?}");
    }
    assert_eq!(
        ours, baseline,
        "the two sides of the tracing benchmarks write different attributes"
    );
}
