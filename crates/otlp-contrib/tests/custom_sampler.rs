//! Samplers of the program's own (`otlp_sdk::ShouldSample`) end to end: a
//! provider configured from `OTEL_*` variables, with a custom sampler given
//! in code, exporting through the pipeline `build_processor` makes to the
//! embedded receiver, which decodes every request with `opentelemetry-proto`;
//! spans started by the native tracer and by `tracing` through `OtlpLayer`
//! (each test installs its subscriber for its own thread).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use otlp_contrib::pipeline::build_processor;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::tracing::{OtlpLayer, OtlpSpanExt as _};
use otlp_core::{
    AnyValue, KeyValue, SpanContext, SpanData, SpanId, SpanKind, TraceFlags, TraceId, TraceState,
};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{
    PipelineError, Sampler, SamplingDecision, SamplingParameters, SamplingResult, ShouldSample,
    SpanProcessor, TracerProvider,
};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .load()
        .expect("the configuration loads")
}

/// What health checks look like to a sampler: a server span whose
/// `http.route` (or, without a route, `url.path`) is `/health`.
fn is_health_check(span: &SamplingParameters<'_>) -> bool {
    let path = span
        .attribute("http.route")
        .or_else(|| span.attribute("url.path"))
        .and_then(AnyValue::as_str);
    span.kind == SpanKind::Server && path == Some("/health")
}

/// Drops health checks; samples the rest with the tenant it serves as an
/// attribute, and says so in the trace state. Counts the spans it is asked
/// about.
#[derive(Debug, Default)]
struct NoHealthChecks {
    asked: Mutex<Vec<String>>,
}

impl ShouldSample for NoHealthChecks {
    fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
        self.asked.lock().unwrap().push(span.name.to_owned());
        if is_health_check(span) {
            return SamplingResult::new(SamplingDecision::Drop, span);
        }
        let tenant = span
            .attribute("tenant.id")
            .and_then(AnyValue::as_str)
            .unwrap_or("none")
            .to_owned();
        let trace_state = span
            .parent_trace_state()
            .insert("tenant", &tenant)
            .expect("a valid trace state member");
        SamplingResult::new(SamplingDecision::RecordAndSample, span)
            .with_attributes([KeyValue::new("sampling.tenant", tenant)])
            .with_trace_state(trace_state)
    }

    fn description(&self) -> String {
        "NoHealthChecks".to_owned()
    }
}

fn string_attribute(span: &ProtoSpan, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

/// `ParentBased` with the custom sampler as its root: roots are asked and
/// health checks never reach the collector, nor their children; the
/// children of sampled spans, local or remote, follow their parent
/// without asking; the exported roots carry the sampler's attribute and
/// trace state, and their children that trace state. The configuration's
/// `OTEL_TRACES_SAMPLER=always_off` gives way to the sampler set in code.
#[test]
fn a_parent_based_custom_sampler_keeps_health_checks_and_their_children_from_the_collector() {
    const REQUESTS: usize = 20;
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let endpoint = receiver.http_endpoint().expect("HTTP is on by default");
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_SERVICE_NAME", "checkout"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
    ]);
    let processor = build_processor(&config).expect("the pipeline builds");
    let sampler = Arc::new(NoHealthChecks::default());
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_sampler(Sampler::parent_based(Sampler::Custom(sampler.clone())))
        .with_processor(processor.clone())
        .build();
    let tracer = provider.tracer("http");

    let mut expected = 0;
    for i in 0..REQUESTS {
        let health = i % 2 == 0;
        let (key, path) = if i % 4 == 0 {
            ("url.path", "/health")
        } else if health {
            ("http.route", "/health")
        } else {
            ("http.route", "/cart")
        };
        let server = tracer
            .span_builder(format!("GET {path}"))
            .kind(SpanKind::Server)
            .attribute(KeyValue::new(key, path))
            .attribute(KeyValue::new("tenant.id", "acme"))
            .start();
        assert_eq!(server.is_recording(), !health, "request {i}");
        let child = tracer.start_with_parent("load cart", server.context());
        assert_eq!(child.is_recording(), !health, "request {i}");
        drop((child, server));
        if !health {
            expected += 2;
        }
    }
    // A remote sampled caller's health check: the parent decides, sampled.
    let mut caller = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    caller.is_remote = true;
    caller.trace_state = TraceState::parse("caller=1").unwrap();
    tracer
        .span_builder("GET /health")
        .kind(SpanKind::Server)
        .parent(&caller)
        .attribute(KeyValue::new("http.route", "/health"))
        .start()
        .end();
    expected += 1;

    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, expected, "{stats:#?}");
    assert_eq!(stats.exported, expected, "{stats:#?}");
    assert!(receiver.wait_for_spans(expected, PATIENCE));
    let spans = receiver.accepted_spans();
    assert_eq!(spans.len() as u64, expected);
    // Only the roots were asked about.
    assert_eq!(sampler.asked.lock().unwrap().len(), REQUESTS);

    let roots: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "GET /cart")
        .collect();
    assert_eq!(roots.len(), REQUESTS / 2);
    for root in &roots {
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.flags & 0x01, 0x01, "sampled");
        assert_eq!(root.trace_state, "tenant=acme");
        assert_eq!(
            string_attribute(root, "sampling.tenant").as_deref(),
            Some("acme")
        );
        assert_eq!(
            string_attribute(root, "http.route").as_deref(),
            Some("/cart")
        );
        let children: Vec<_> = spans
            .iter()
            .filter(|span| span.parent_span_id == root.span_id)
            .collect();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].name, "load cart");
        assert_eq!(children[0].trace_state, "tenant=acme");
        assert_eq!(string_attribute(children[0], "sampling.tenant"), None);
    }
    let remote = spans
        .iter()
        .find(|span| span.name == "GET /health")
        .expect("the remote caller's health check, sampled by its parent");
    assert_eq!(remote.trace_id, caller.trace_id.to_bytes());
    assert_eq!(remote.trace_state, "caller=1");
    assert_eq!(string_attribute(remote, "sampling.tenant"), None);
}

/// Records every span, exports a tenth of them: a processor computes the
/// request count and total duration of every span, while the collector
/// gets only the sampled ones.
#[derive(Debug)]
struct RecordAllExportSome;

impl ShouldSample for RecordAllExportSome {
    fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
        let index = span
            .attribute("request.index")
            .and_then(|value| match value {
                AnyValue::Int(index) => Some(*index),
                _ => None,
            })
            .unwrap_or_default();
        let decision = if index % 10 == 0 {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::RecordOnly
        };
        SamplingResult::new(decision, span)
    }

    fn description(&self) -> String {
        "RecordAllExportSome".to_owned()
    }
}

/// Span metrics: counts every span that ends, sampled or not.
#[derive(Clone, Default)]
struct SpanCount {
    sampled: Arc<AtomicU64>,
    recorded_only: Arc<AtomicU64>,
}

impl SpanProcessor for SpanCount {
    fn on_end(&self, span: SpanData) {
        let counter = if span.flags.trace_flags().is_sampled() {
            &self.sampled
        } else {
            &self.recorded_only
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// `RecordOnly` through the real pipeline: a processor beside it sees
/// every span end, the collector gets the sampled ones alone, and the
/// pipeline's stats count only those (produced = exported, balanced).
#[test]
fn record_only_spans_are_seen_by_a_processor_and_never_reach_the_collector() {
    const REQUESTS: i64 = 100;
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let endpoint = receiver.http_endpoint().expect("HTTP is on by default");
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_SERVICE_NAME", "checkout"),
    ]);
    let processor = build_processor(&config).expect("the pipeline builds");
    let count = SpanCount::default();
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_sampler(Sampler::custom(RecordAllExportSome))
        .with_processor(count.clone())
        .with_processor(processor.clone())
        .build();
    let tracer = provider.tracer("http");
    for index in 0..REQUESTS {
        let mut span = tracer
            .span_builder("GET /cart")
            .kind(SpanKind::Server)
            .attribute(KeyValue::new("request.index", index))
            .start();
        assert!(span.is_recording());
        assert_eq!(span.context().trace_flags.is_sampled(), index % 10 == 0);
        span.set_attribute(KeyValue::new("http.response.status_code", 200));
        span.end();
    }
    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");

    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    assert_eq!(load(&count.sampled), 10);
    assert_eq!(load(&count.recorded_only), 90);
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.produced, stats.exported), (10, 10), "{stats:#?}");
    assert!(receiver.wait_for_spans(10, PATIENCE));
    let spans = receiver.accepted_spans();
    assert_eq!(spans.len(), 10);
    assert!(spans.iter().all(|span| span.flags & 0x01 == 0x01));
    let mut indices: Vec<_> = spans
        .iter()
        .filter_map(|span| {
            let value = span
                .attributes
                .iter()
                .find(|kv| kv.key == "request.index")?;
            match value.value.as_ref()?.value.as_ref()? {
                Value::IntValue(index) => Some(*index),
                _ => None,
            }
        })
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..REQUESTS).step_by(10).collect::<Vec<_>>());
}

/// What a sampler was asked about a span: its name, kind, whether it has
/// a parent, and its attributes' keys and string values.
type Asked = (String, SpanKind, bool, Vec<(String, Option<String>)>);

/// Drops health checks (see [`is_health_check`]) and keeps what it was
/// asked, for the `tracing` tests.
#[derive(Debug, Default)]
struct Recording {
    asked: Mutex<Vec<Asked>>,
}

impl ShouldSample for Recording {
    fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
        let attributes = span
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.as_str().map(str::to_owned)))
            .collect();
        self.asked.lock().unwrap().push((
            span.name.to_owned(),
            span.kind,
            span.parent.is_some(),
            attributes,
        ));
        let decision = if is_health_check(span) {
            SamplingDecision::Drop
        } else {
            SamplingDecision::RecordAndSample
        };
        SamplingResult::new(decision, span).with_attributes([KeyValue::new("sampled.by", "route")])
    }

    fn description(&self) -> String {
        "Recording".to_owned()
    }
}

impl Recording {
    fn asked_about(&self, name: &str) -> Asked {
        let asked = self.asked.lock().unwrap();
        let mut found = asked.iter().filter(|(asked, ..)| asked == name);
        let question = found
            .next()
            .unwrap_or_else(|| panic!("never asked about {name:?}: {asked:#?}"))
            .clone();
        assert!(found.next().is_none(), "asked twice about {name:?}");
        question
    }
}

fn attribute_of<'a>(question: &'a Asked, key: &str) -> Option<&'a str> {
    question
        .3
        .iter()
        .find(|(asked, _)| asked == key)
        .and_then(|(_, value)| value.as_deref())
}

/// Through `OtlpLayer`: the sampler sees a `tracing` span's name
/// (`otel.name`), kind (`otel.kind`), parent and fields, those recorded
/// before the span starts too, and the location; a health check and its
/// children never reach the collector, the other spans carry the sampler's
/// attribute.
#[test]
fn through_the_tracing_layer_a_custom_sampler_sees_a_spans_fields() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let endpoint = receiver.http_endpoint().expect("HTTP is on by default");
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_SERVICE_NAME", "checkout"),
    ]);
    let processor = build_processor(&config).expect("the pipeline builds");
    let sampler = Arc::new(Recording::default());
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_sampler(Sampler::parent_based(Sampler::Custom(sampler.clone())))
        .with_processor(processor.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
    tracing::subscriber::with_default(subscriber, || {
        {
            let _health = tracing::info_span!(
                "health",
                otel.kind = "server",
                http.route = "/health",
                tenant.id = "acme"
            )
            .entered();
            let _inner = tracing::info_span!("check database").entered();
            tracing::info!("healthy");
        }
        let request = tracing::info_span!(
            "request",
            otel.name = "GET /cart",
            otel.kind = "server",
            http.route = tracing::field::Empty,
        );
        // Recorded before the span starts (it is not entered yet): seen.
        request.record("http.route", "/cart");
        let _request = request.entered();
        let _inner = tracing::info_span!("load cart", cart.items = 3_u64).entered();
        tracing::info!("loaded");
    });
    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");

    let health = sampler.asked_about("health");
    assert_eq!((health.1, health.2), (SpanKind::Server, false));
    assert_eq!(attribute_of(&health, "http.route"), Some("/health"));
    assert_eq!(attribute_of(&health, "tenant.id"), Some("acme"));
    assert!(
        health.3.iter().any(|(key, _)| key == "code.file.path"),
        "the location is an attribute too: {health:?}"
    );
    let request = sampler.asked_about("GET /cart");
    assert_eq!((request.1, request.2), (SpanKind::Server, false));
    assert_eq!(attribute_of(&request, "http.route"), Some("/cart"));
    // Children follow their parent under `ParentBased`: not asked.
    assert_eq!(sampler.asked.lock().unwrap().len(), 2);

    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.produced, stats.exported), (2, 2), "{stats:#?}");
    assert!(receiver.wait_for_spans(2, PATIENCE));
    let spans = receiver.accepted_spans();
    let mut names: Vec<_> = spans.iter().map(|span| span.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["GET /cart", "load cart"]);
    let root = spans.iter().find(|span| span.name == "GET /cart").unwrap();
    assert_eq!(
        string_attribute(root, "sampled.by").as_deref(),
        Some("route")
    );
    assert_eq!(
        string_attribute(root, "http.route").as_deref(),
        Some("/cart")
    );
}

/// With no exporter (`OTEL_TRACES_EXPORTER=none`, no processor in code)
/// nothing is recorded, but spans still propagate the sampler's decision:
/// the layer gathers a span's fields for a custom sampler, so that a health
/// check is not sampled downstream either (tracing off, it gathered none,
/// and the sampler, seeing no route, sampled it).
#[test]
fn with_no_exporter_the_layer_still_shows_a_custom_sampler_the_fields() {
    let config = config(&[("OTEL_TRACES_EXPORTER", "none")]);
    let sampler = Arc::new(Recording::default());
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_sampler(Sampler::Custom(sampler.clone()))
        .build();
    let tracer = provider.tracer("scope");
    assert!(tracer.never_records() && tracer.asks_custom_sampler());
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
    let (health, cart) = tracing::subscriber::with_default(subscriber, || {
        let health = tracing::info_span!("health", otel.kind = "server", http.route = "/health");
        let cart = tracing::info_span!("cart", otel.kind = "server", http.route = "/cart");
        (health.context(), cart.context())
    });
    assert!(health.is_valid() && cart.is_valid());
    assert!(!health.trace_flags.is_sampled(), "dropped by its route");
    assert!(cart.trace_flags.is_sampled());
    assert_eq!(
        attribute_of(&sampler.asked_about("health"), "http.route"),
        Some("/health")
    );
}
