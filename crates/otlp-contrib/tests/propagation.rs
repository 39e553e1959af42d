//! `OTEL_PROPAGATORS` end to end: a configuration loaded with it, the
//! pipeline built from that configuration (which installs its propagators
//! for the process), `OtlpLayer` spans continued from a request's headers
//! with `extract`, `inject` into the next request, and the spans as the
//! embedded receiver got them.
//!
//! Every configuration is built from explicit variables
//! (`ConfigLoader::with_env`), never from the process environment. One test
//! alone installs process-wide propagators (through `build_processor`); the
//! other passes its own to `extract_with` and `inject_with`.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use otlp_contrib::pipeline::build_processor;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::tracing::{
    OtlpLayer, OtlpSpanExt as _, extract, extract_with, global_propagators, inject, inject_with,
};
use otlp_core::propagation::{Propagator, Propagators};
use otlp_core::{SpanContext, SpanId, TraceId};
use otlp_sdk::TracerProvider;
use otlp_sdk::config::{Config, ConfigLoader};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// The trace and span of the caller, a Zipkin-instrumented client (or an
/// Istio sidecar) that sends B3 headers only.
const CALLER_TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const CALLER_SPAN: &str = "e457b5a2e4d86bd1";

fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .load()
        .expect("the configuration loads")
}

fn headers(entries: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in entries {
        map.insert(*name, HeaderValue::from_str(value).expect("a header value"));
    }
    map
}

#[test]
fn with_otel_propagators_b3_a_request_carrying_only_b3_headers_continues_its_trace() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let endpoint = receiver.http_endpoint().expect("HTTP is on by default");
    let config = config(&[
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_SERVICE_NAME", "checkout"),
    ]);
    let processor = build_processor(&config).expect("the pipeline builds");
    assert_eq!(
        global_propagators(),
        Propagators::new([Propagator::B3]),
        "the pipeline installs the configuration's propagators"
    );
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(processor.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));

    let incoming = headers(&[("b3", format!("{CALLER_TRACE}-{CALLER_SPAN}-1"))]);
    let (outgoing, server, client) = tracing::subscriber::with_default(subscriber, || {
        let server = tracing::info_span!("GET /checkout", otel.kind = "server");
        let parent = extract(&incoming).expect("the b3 header is read");
        server
            .set_parent(&parent)
            .expect("set before the span starts");
        let _server = server.enter();
        let client = tracing::info_span!("POST /payments", otel.kind = "client");
        let _client = client.enter();
        let mut outgoing = HeaderMap::new();
        inject(&client.context(), &mut outgoing);
        (outgoing, server.context(), client.context())
    });
    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");

    // The next request carries the trace on in B3, and in B3 only.
    let caller_trace = TraceId::from_hex(CALLER_TRACE).unwrap();
    assert_eq!(server.trace_id, caller_trace);
    assert_eq!(client.trace_id, caller_trace);
    assert_eq!(
        outgoing
            .keys()
            .map(|name| name.as_str())
            .collect::<Vec<_>>(),
        ["b3"]
    );
    assert_eq!(
        outgoing["b3"],
        format!("{CALLER_TRACE}-{}-1", client.span_id).as_str()
    );

    // The collector got both spans in the caller's trace, under the caller's span.
    assert!(receiver.wait_for_spans(2, PATIENCE));
    let spans = receiver.accepted_spans();
    let span = |name: &str| {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("{name} was exported: {spans:?}"))
    };
    let (exported_server, exported_client) = (span("GET /checkout"), span("POST /payments"));
    let caller_span = SpanId::from_hex(CALLER_SPAN).unwrap();
    assert_eq!(exported_server.trace_id, caller_trace.as_bytes());
    assert_eq!(exported_server.parent_span_id, caller_span.as_bytes());
    assert_ne!(
        exported_server.span_id,
        caller_span.as_bytes(),
        "the server span has an id of its own (B3's shared span ids are not reused)"
    );
    assert_eq!(exported_server.span_id, server.span_id.as_bytes());
    assert_eq!(exported_client.trace_id, caller_trace.as_bytes());
    assert_eq!(exported_client.parent_span_id, server.span_id.as_bytes());
    let stats = processor.stats();
    assert_eq!((stats.produced, stats.exported), (2, 2), "{stats:#?}");
}

#[test]
fn a_configured_list_extracts_the_last_format_found_and_injects_every_one() {
    let propagators = config(&[("OTEL_PROPAGATORS", "tracecontext,b3multi")])
        .propagators
        .propagators();
    let w3c_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let w3c = format!("00-{w3c_trace}-00f067aa0ba902b7-01");

    // W3C alone, B3 alone, then both: the later in the list (b3multi) wins.
    let only_w3c = headers(&[("traceparent", w3c.clone())]);
    let only_b3 = headers(&[
        ("x-b3-traceid", CALLER_TRACE.to_owned()),
        ("x-b3-spanid", CALLER_SPAN.to_owned()),
        ("x-b3-sampled", "0".to_owned()),
    ]);
    let mut both = only_b3.clone();
    both.insert("traceparent", HeaderValue::from_str(&w3c).unwrap());
    let trace_of = |headers: &HeaderMap| {
        extract_with(&propagators, headers).map(|context| context.trace_id.to_string())
    };
    assert_eq!(trace_of(&only_w3c).as_deref(), Some(w3c_trace));
    assert_eq!(trace_of(&only_b3).as_deref(), Some(CALLER_TRACE));
    assert_eq!(trace_of(&both).as_deref(), Some(CALLER_TRACE));
    assert!(
        !extract_with(&propagators, &only_b3)
            .unwrap()
            .trace_flags
            .is_sampled()
    );

    // Both formats are written; `none` writes nothing and reads nothing.
    let context: SpanContext = extract_with(&propagators, &only_w3c).unwrap();
    let mut outgoing = HeaderMap::new();
    inject_with(&propagators, &context, &mut outgoing);
    let mut names: Vec<&str> = outgoing.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["traceparent", "x-b3-sampled", "x-b3-spanid", "x-b3-traceid"]
    );
    let none = config(&[("OTEL_PROPAGATORS", "none")])
        .propagators
        .propagators();
    assert_eq!(extract_with(&none, &both), None);
    let mut untouched = HeaderMap::new();
    inject_with(&none, &context, &mut untouched);
    assert!(untouched.is_empty());
}
