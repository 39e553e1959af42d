//! The process's warning handler (`otlp_sdk::diagnostics::set_warning_handler`)
//! is told, on the recording thread, when a span goes over its limits; a
//! program naturally sends that warning to its `tracing` output. Through
//! `OtlpLayer` that warning is made while the layer holds the span's
//! extensions. Its own binary: the handler is the process's, and the limit
//! warning is given once per process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_contrib::tracing::OtlpLayer;
use otlp_core::encode::Encoding;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanLimits, TracerProvider,
};
use prost::Message as _;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

const PATIENCE: Duration = Duration::from_secs(30);

/// An exporter that decodes every request, as a collector would.
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

/// Counts the events the whole subscriber sees, as `fmt` would print them.
struct CountEvents(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountEvents {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A field recorded into the current span goes over `max_attributes`: the
/// warning handler runs inside the layer's call that records it, and its
/// `tracing::warn!` is an event in that same span. That hung the thread (the
/// layer waited for the span's extensions it held). The warning reaches the
/// other layers; `OtlpLayer` leaves it out, as on a pipeline's own threads.
#[test]
fn a_warning_handler_that_logs_through_tracing_does_not_hang_the_span_it_warns_about() {
    otlp_sdk::diagnostics::set_warning_handler(|warning| {
        tracing::warn!(%warning, "otlp-rust warning");
    });
    let requests = Arc::new(Mutex::new(Vec::new()));
    let processor = BatchSpanProcessor::builder(Decoding(requests.clone()))
        .build()
        .expect("the pipeline builds");
    let provider = TracerProvider::builder()
        .with_span_limits(SpanLimits {
            max_attributes: 1,
            ..SpanLimits::default()
        })
        .with_processor(processor)
        .build();
    let events = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLayer::builder(&provider).with_location(false).build())
        .with(CountEvents(events.clone()));
    let (done, finished) = std::sync::mpsc::channel();
    // On its own thread, so that a hang fails the test instead of the run.
    let recording = std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("busy", kept = 1, over = tracing::field::Empty);
            span.in_scope(|| {
                tracing::info!("working");
                tracing::Span::current().record("over", 2);
            });
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(PATIENCE)
        .expect("the thread went on (it hung on the span's own lock)");
    recording.join().expect("the recording thread");
    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");
    // The event and the warning reached the subscriber.
    assert_eq!(events.load(Ordering::SeqCst), 2);
    let spans: Vec<_> = std::mem::take(&mut *requests.lock().unwrap())
        .into_iter()
        .flat_map(|request| request.resource_spans)
        .flat_map(|resource| resource.scope_spans)
        .flat_map(|scope| scope.spans)
        .collect();
    assert_eq!(spans.len(), 1);
    let busy = &spans[0];
    let names: Vec<&str> = busy.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["working"]);
    let keys: Vec<&str> = busy.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["kept"]);
    assert_eq!(busy.dropped_attributes_count, 1);
}
