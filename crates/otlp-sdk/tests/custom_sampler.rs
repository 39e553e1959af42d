//! Samplers of the program's own (`ShouldSample`, `Sampler::custom`): what
//! they are asked, what their answers do to the span, and how they sit
//! beside the configuration. Through the collector in `otlp-contrib`'s
//! `tests/custom_sampler.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use otlp_core::encode::Encoding;
use otlp_core::{
    AnyValue, KeyValue, SpanContext, SpanData, SpanId, SpanKind, TraceFlags, TraceId, TraceState,
};
use otlp_sdk::config::ConfigLoader;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, PipelineError, Sampler,
    SamplingDecision, SamplingParameters, SamplingResult, ShouldSample, SpanProcessor,
    TracerProvider,
};
use prost::Message as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// What a sampler was asked about one span.
#[derive(Clone, Debug, PartialEq)]
struct Question {
    parent: Option<SpanId>,
    trace_id: TraceId,
    name: String,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    links: Vec<SpanId>,
}

/// Drops the spans whose `http.route` is `/health`; samples the others,
/// adding `sampler.rule` and, when asked to, a trace state of its own.
#[derive(Debug, Default)]
struct ByRoute {
    trace_state: Option<TraceState>,
    asked: Mutex<Vec<Question>>,
}

impl ShouldSample for ByRoute {
    fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
        self.asked.lock().unwrap().push(Question {
            parent: span.parent.map(|parent| parent.span_id),
            trace_id: span.trace_id,
            name: span.name.to_owned(),
            kind: span.kind,
            attributes: span.attributes.to_vec(),
            links: span.links.iter().map(|link| link.span_id).collect(),
        });
        let route = span.attribute("http.route").and_then(AnyValue::as_str);
        if route == Some("/health") {
            return SamplingResult::new(SamplingDecision::Drop, span);
        }
        let result = SamplingResult::new(SamplingDecision::RecordAndSample, span)
            .with_attributes([KeyValue::new("sampler.rule", "not-health")]);
        match &self.trace_state {
            Some(trace_state) => result.with_trace_state(trace_state.clone()),
            None => result,
        }
    }

    fn description(&self) -> String {
        "ByRoute".to_owned()
    }
}

impl ByRoute {
    fn questions(&self) -> Vec<Question> {
        self.asked.lock().unwrap().clone()
    }
}

/// Keeps every span it receives.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl Collect {
    fn spans(&self) -> Vec<SpanData> {
        self.0.lock().unwrap().clone()
    }
}

impl SpanProcessor for Collect {
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// An exporter that decodes every request, as a collector would.
#[derive(Clone, Default)]
struct Decoding(Arc<Mutex<Vec<ProtoSpan>>>);

impl Exporter for Decoding {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let decoded = ExportTraceServiceRequest::decode(request.body)
            .expect("every request decodes with opentelemetry-proto");
        let spans = decoded
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.0.lock().unwrap().extend(spans);
        ExportOutcome::Success
    }
}

fn string_attribute(span: &ProtoSpan, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

#[test]
fn a_custom_sampler_sees_what_the_span_starts_with_and_decides_by_it() {
    let sampler = Arc::new(ByRoute::default());
    let collect = Collect::default();
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::Custom(sampler.clone()))
        .with_processor(collect.clone())
        .build();
    let tracer = provider.tracer("http");
    let linked = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    let mut parent = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    parent.is_remote = true;

    let mut health = tracer
        .span_builder("GET /health")
        .kind(SpanKind::Server)
        .parent(&parent)
        .attribute(KeyValue::new("http.route", "/health"))
        .link(&linked, [])
        .start();
    assert!(!health.is_recording(), "dropped by its route");
    assert!(!health.context().trace_flags.is_sampled());
    assert_eq!(health.context().trace_id, parent.trace_id);
    health.end();
    let mut cart = tracer
        .span_builder("GET /cart")
        .kind(SpanKind::Server)
        .attribute(KeyValue::new("http.route", "/cart"))
        .start();
    assert!(cart.is_recording() && cart.context().trace_flags.is_sampled());
    let cart_trace = cart.context().trace_id;
    cart.end();
    // A span started without a builder is asked about too, by its name.
    tracer.start("background").end();

    let questions = sampler.questions();
    assert_eq!(
        questions[0],
        Question {
            parent: Some(parent.span_id),
            trace_id: parent.trace_id,
            name: "GET /health".to_owned(),
            kind: SpanKind::Server,
            attributes: vec![KeyValue::new("http.route", "/health")],
            links: vec![linked.span_id],
        }
    );
    assert_eq!(
        questions[1],
        Question {
            parent: None,
            trace_id: cart_trace,
            name: "GET /cart".to_owned(),
            kind: SpanKind::Server,
            attributes: vec![KeyValue::new("http.route", "/cart")],
            links: vec![],
        }
    );
    assert_eq!(questions[2].name, "background");
    assert_eq!(questions.len(), 3);
    let names: Vec<_> = collect
        .spans()
        .iter()
        .map(|span| span.name.to_string())
        .collect();
    assert_eq!(names, ["GET /cart", "background"]);
    let cart = &collect.spans()[0];
    assert_eq!(
        cart.attributes,
        [
            KeyValue::new("http.route", "/cart"),
            KeyValue::new("sampler.rule", "not-health"),
        ]
    );
}

/// A provider whose only processor is a batch pipeline takes the direct
/// path to its queue; with a custom sampler, it still asks it, and the
/// sampler's attributes and trace state are on the exported span.
#[test]
fn the_samplers_attributes_and_trace_state_are_on_the_exported_span() {
    let sampler = Arc::new(ByRoute {
        trace_state: Some(TraceState::parse("sampler=acme").unwrap()),
        ..ByRoute::default()
    });
    let exported = Decoding::default();
    let processor = BatchSpanProcessor::builder(exported.clone())
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::Custom(sampler.clone()))
        .with_processor(processor.clone())
        .build();
    let tracer = provider.tracer("http");
    let mut parent = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    parent.trace_state = TraceState::parse("caller=1").unwrap();

    let span = tracer
        .span_builder("GET /cart")
        .parent(&parent)
        // The sampler's value wins over the one given at start.
        .attribute(KeyValue::new("sampler.rule", "given"))
        .attribute(KeyValue::new("http.route", "/cart"))
        .start();
    // The context carries the sampler's trace state, downstream and to children.
    assert_eq!(span.context().trace_state.header(), "sampler=acme");
    let child = tracer.start_with_parent("child", span.context());
    assert_eq!(child.context().trace_state.header(), "sampler=acme");
    drop((child, span));
    // A dropped span's context carries the trace state the sampler returned
    // (here the caller's, kept).
    let dropped = tracer
        .span_builder("GET /health")
        .parent(&parent)
        .attribute(KeyValue::new("http.route", "/health"))
        .start();
    assert_eq!(dropped.context().trace_state.header(), "caller=1");
    drop(dropped);

    provider.shutdown(PATIENCE).unwrap();
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.produced, stats.exported), (2, 2), "{stats:#?}");
    let spans = exported.0.lock().unwrap();
    let span = spans.iter().find(|span| span.name == "GET /cart").unwrap();
    assert_eq!(span.trace_state, "sampler=acme");
    assert_eq!(span.trace_id, parent.trace_id.to_bytes());
    assert_eq!(span.flags & 0x01, 0x01, "sampled");
    assert_eq!(
        string_attribute(span, "sampler.rule").as_deref(),
        Some("not-health")
    );
    assert_eq!(
        string_attribute(span, "http.route").as_deref(),
        Some("/cart")
    );
    assert_eq!(span.attributes.len(), 2, "one value per key");
    let child = spans.iter().find(|span| span.name == "child").unwrap();
    assert_eq!(child.trace_state, "sampler=acme");
    assert_eq!(sampler.questions().len(), 3);
}

#[test]
fn a_custom_sampler_set_in_code_wins_over_the_configured_one_before_or_after_it() {
    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_SAMPLER", "always_off")])
        .load()
        .unwrap();
    for code_first in [true, false] {
        let sampler = Arc::new(ByRoute::default());
        let collect = Collect::default();
        let builder = TracerProvider::builder().with_processor(collect.clone());
        let builder = if code_first {
            builder
                .with_sampler(Sampler::Custom(sampler.clone()))
                .with_config(&config)
        } else {
            builder
                .with_config(&config)
                .with_sampler(Sampler::Custom(sampler.clone()))
        };
        let provider = builder.build();
        let tracer = provider.tracer("scope");
        assert!(!tracer.never_records());
        tracer.start("kept").end();
        assert_eq!(collect.spans().len(), 1, "code first: {code_first}");
        assert_eq!(sampler.questions().len(), 1);
    }
    // The configuration's alone: `always_off`.
    let collect = Collect::default();
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(collect.clone())
        .build();
    provider.tracer("scope").start("dropped").end();
    assert!(collect.spans().is_empty());
}

#[test]
fn a_disabled_provider_asks_no_custom_sampler_and_passes_the_parents_decision_on() {
    let sampler = Arc::new(ByRoute::default());
    let collect = Collect::default();
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::Custom(sampler.clone()))
        .with_processor(collect.clone())
        .with_disabled(true)
        .build();
    let tracer = provider.tracer("scope");
    assert!(tracer.never_records());
    let parent = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    let child = tracer
        .span_builder("child")
        .parent(&parent)
        .attribute(KeyValue::new("http.route", "/health"))
        .start();
    assert!(!child.is_recording());
    assert!(child.context().trace_flags.is_sampled(), "the parent's");
    drop(child);
    tracer.start("root").end();
    assert!(sampler.questions().is_empty());
    assert!(collect.spans().is_empty());
}

/// Records every span, samples only those named `sampled`: what a sampler
/// does when a processor computes something from every span (span
/// metrics) and a sample of them is exported.
#[derive(Debug)]
struct RecordEverything;

impl ShouldSample for RecordEverything {
    fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
        let decision = if span.name == "sampled" {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::RecordOnly
        };
        SamplingResult::new(decision, span).with_attributes([KeyValue::new("recorded.by", "test")])
    }

    fn description(&self) -> String {
        "RecordEverything".to_owned()
    }
}

/// Sees every span start and end: its name, and whether it is sampled.
#[derive(Clone, Default)]
struct SeeAll {
    started: Arc<Mutex<Vec<(String, bool)>>>,
    ended: Arc<Mutex<Vec<(String, bool, usize)>>>,
}

impl SpanProcessor for SeeAll {
    fn on_start(&self, span: &mut otlp_sdk::Span, _: Option<&SpanContext>) {
        let name = span.name().unwrap_or_default().to_owned();
        let sampled = span.context().trace_flags.is_sampled();
        self.started.lock().unwrap().push((name, sampled));
    }

    fn on_end(&self, span: SpanData) {
        let sampled = span.flags.trace_flags().is_sampled();
        let attributes = span.attributes.len();
        self.ended
            .lock()
            .unwrap()
            .push((span.name.to_string(), sampled, attributes));
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// Starts, under `provider`, two sampled spans and three recorded only,
/// each with a child; checks what the tracer says of each.
fn record_spans(provider: &TracerProvider) {
    let tracer = provider.tracer("record-only");
    for name in ["sampled", "metrics", "sampled", "metrics", "metrics"] {
        let mut span = tracer.start(name);
        assert!(span.is_recording(), "{name} records");
        assert_eq!(span.context().trace_flags.is_sampled(), name == "sampled");
        assert_eq!(span.attribute("recorded.by"), Some(&AnyValue::from("test")));
        span.set_attribute(KeyValue::new("later", 1));
        // Under `ParentBased`, a child follows its parent: a child of a
        // span recorded only is not sampled, and not recorded.
        let child = tracer.start_with_parent("child", span.context());
        assert_eq!(child.is_recording(), name == "sampled");
        drop(child);
        span.end();
    }
}

/// A custom sampler's `RecordOnly`: the span records, every processor sees
/// it start and end, with its sampled flag off; the batch pipeline beside
/// them neither exports nor counts it (`produced` counts the spans it may
/// export), so its stats add up; nor does a batch pipeline that is the
/// provider's only processor (spans then go straight to its queue).
#[test]
fn record_only_spans_reach_the_processors_but_never_a_batch_pipeline() {
    for beside_a_processor in [true, false] {
        let exported = Decoding::default();
        let processor = BatchSpanProcessor::builder(exported.clone())
            .build()
            .unwrap();
        let see_all = SeeAll::default();
        let mut builder = TracerProvider::builder()
            .with_sampler(Sampler::parent_based(Sampler::custom(RecordEverything)));
        if beside_a_processor {
            builder = builder.with_processor(see_all.clone());
        }
        let provider = builder.with_processor(processor.clone()).build();
        record_spans(&provider);
        provider.shutdown(PATIENCE).unwrap();

        let stats = processor.stats();
        assert!(stats.is_balanced(), "{stats:#?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        // Two sampled spans, each with its child.
        assert_eq!((stats.produced, stats.exported), (4, 4), "{stats:#?}");
        assert_eq!(stats.dropped + stats.failed + stats.rejected, 0);
        let spans = exported.0.lock().unwrap();
        let mut names: Vec<_> = spans.iter().map(|span| span.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["child", "child", "sampled", "sampled"]);
        assert!(spans.iter().all(|span| span.flags & 0x01 == 0x01));
        if beside_a_processor {
            let started = see_all.started.lock().unwrap();
            let ended = see_all.ended.lock().unwrap();
            let metrics_only = |seen: &[(String, bool)]| {
                seen.iter()
                    .filter(|(name, sampled)| name == "metrics" && !sampled)
                    .count()
            };
            assert_eq!(metrics_only(&started), 3, "{started:?}");
            let ended_names: Vec<_> = ended
                .iter()
                .map(|(name, sampled, _)| (name.clone(), *sampled))
                .collect();
            assert_eq!(metrics_only(&ended_names), 3, "{ended:?}");
            assert_eq!(ended.len(), 7, "3 recorded only, 2 sampled, 2 children");
            // Recorded: the sampler's attribute and the one set later.
            assert!(
                ended
                    .iter()
                    .filter(|(name, ..)| name == "metrics")
                    .all(|(_, _, attributes)| *attributes == 2)
            );
        }
    }
}
