//! A span processor is the program's code, and it may be instrumented
//! itself: a `tracing` span for the work it does with each span it is given
//! (`on_end`). Through `OtlpLayer` under a global subscriber, that span
//! would end in turn and be given to the processor, which makes one more:
//! a recursion without end, until the thread's stack overflows (`tracing`
//! drops such nested spans itself only under a subscriber set per thread).
//! What the processor records while the layer ends a span is left out, as
//! what a sampler or `on_start` records while the layer starts one.
//!
//! One test in its own binary: the global subscriber is process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_contrib::tracing::OtlpLayer;
use otlp_core::SpanData;
use otlp_core::encode::Encoding;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, PipelineError, SpanProcessor,
    TracerProvider,
};
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// Spans an [`Instrumented`] processor makes before it stops (so that the
/// recursion, if it happens, ends in counts that are too high, not in a
/// stack overflow).
const SPANS_MADE: usize = 20;

/// An exporter that decodes every request as a collector would.
#[derive(Clone, Default)]
struct Decoding(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

impl Exporter for Decoding {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let decoded = ExportTraceServiceRequest::decode(request.body)
            .expect("every request decodes with opentelemetry-proto");
        self.0.lock().unwrap().push(decoded);
        ExportOutcome::Success
    }
}

/// A processor that does its work with each span inside a `tracing` span of
/// its own, with an event, then hands the span on.
struct Instrumented {
    next: BatchSpanProcessor,
    given: Arc<AtomicUsize>,
}

impl SpanProcessor for Instrumented {
    fn on_end(&self, span: SpanData) {
        if self.given.fetch_add(1, Ordering::SeqCst) < SPANS_MADE {
            let _work = tracing::info_span!("the processor's work").entered();
            tracing::info!("handing the span on");
        }
        self.next.on_end(span);
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.next.force_flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.next.shutdown(timeout)
    }
}

#[test]
fn what_a_processor_records_while_a_span_ends_is_not_handed_back_to_it() {
    let exporter = Decoding::default();
    let pipeline = BatchSpanProcessor::builder(exporter.clone())
        .build()
        .expect("the span pipeline builds");
    let given = Arc::new(AtomicUsize::new(0));
    let provider = TracerProvider::builder()
        .with_service_name("span-processors-that-trace")
        .with_processor(Instrumented {
            next: pipeline.clone(),
            given: given.clone(),
        })
        .build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(OtlpLayer::new(&provider)),
    )
    .expect("the first global subscriber");

    // Each ends outside any other span: a span the processor makes while
    // one ends inside another is never removed by `tracing-subscriber`'s
    // registry (0.3.23: a span closed inside another's `on_close`), and
    // would keep that other one open (see the module documentation).
    tracing::info_span!("request").in_scope(|| tracing::info!("handled"));
    tracing::info_span!("query").in_scope(|| {});

    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");
    let mut names = Vec::new();
    let mut events = Vec::new();
    for request in exporter.0.lock().unwrap().iter() {
        for resource_spans in &request.resource_spans {
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    names.push(span.name.clone());
                    events.extend(span.events.iter().map(|event| event.name.clone()));
                }
            }
        }
    }
    names.sort();
    assert_eq!(names, ["query", "request"], "the application's spans");
    assert_eq!(events, ["handled"], "the application's event only");
    assert_eq!(given.load(Ordering::SeqCst), 2, "the application's spans");
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert_eq!(stats.exported, 2, "{stats:#?}");
}
