//! The stock `SdkTracerProvider` with `OtlpSpanProcessor` (our pipeline, our gRPC exporter):
//! every field set through the `opentelemetry` API arrives.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags,
    TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Proto;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otlp_contrib::bridge::OtlpSpanProcessor;

use crate::support::{
    TIMEOUT, array, attribute, grpc_exporter, grpc_pipeline, only_group, receiver, span_named,
    string,
};

const LONG_VALUE: &str = "a value longer than the twenty-three inline bytes";

/// A remote span's context, for links.
fn linked_context() -> SpanContext {
    SpanContext::new(
        TraceId::from(0xabc_u128),
        SpanId::from(0xdef_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    )
}

#[test]
fn every_field_set_through_the_opentelemetry_api_arrives() {
    let receiver = receiver();
    let pipeline = grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("bridge-test")
                .with_attribute(KeyValue::new("deployment.environment.name", "test"))
                .build(),
        )
        .with_max_events_per_span(2)
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("bridge-tests")
            .with_version("0.1.0")
            .with_attributes([KeyValue::new("scope.key", "scope value")])
            .build(),
    );

    let remote_parent = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("rojo", "00f067aa0ba902b7")]).unwrap(),
    );
    let linked = linked_context();
    let remote_cx = Context::new().with_remote_span_context(remote_parent.clone());
    let mut parent = tracer
        .span_builder(String::from("checkout"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("bool", true),
            KeyValue::new("int", -42i64),
            KeyValue::new("double", 2.5),
            KeyValue::new("string", "GET"),
            KeyValue::new("http.response.status_code", String::from(LONG_VALUE)),
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![1, 2]))),
            KeyValue::new("doubles", Value::Array(Array::F64(vec![0.5]))),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec!["a".into(), "b".into()])),
            ),
        ])
        .with_links(vec![Link::new(
            linked.clone(),
            vec![KeyValue::new("link.kind", "follows")],
            0,
        )])
        .start_with_context(&tracer, &remote_cx);
    parent.add_event("reserved", vec![KeyValue::new("items", 3i64)]);
    parent.add_event("charged", vec![]);
    parent.add_event("over the event limit", vec![]);
    parent.set_status(Status::error("payment declined"));
    let parent_cx = remote_cx.with_span(parent);
    let mut child = tracer
        .span_builder("charge card")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &parent_cx);
    child.set_status(Status::Ok);
    child.end();
    parent_cx.span().end();

    provider.force_flush().expect("flushed");
    assert!(receiver.wait_for_spans(2, TIMEOUT));
    provider.shutdown_with_timeout(TIMEOUT).expect("shut down");
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.produced, stats.exported), (2, 2));

    let requests = receiver.accepted_requests();
    let spans = receiver.accepted_spans();
    let parent = span_named(&spans, "checkout");
    let child = span_named(&spans, "charge card");

    // Ids, parentage, flags, trace state.
    assert_eq!(parent.trace_id, remote_parent.trace_id().to_bytes());
    assert_eq!(parent.parent_span_id, remote_parent.span_id().to_bytes());
    assert_eq!(parent.flags, 0x301, "sampled; parent known to be remote");
    assert_eq!(parent.trace_state, "rojo=00f067aa0ba902b7");
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
    assert_eq!(child.flags, 0x101, "sampled; parent known to be local");
    assert_eq!(child.trace_state, "rojo=00f067aa0ba902b7");
    assert_ne!(parent.span_id, child.span_id);

    // Kind, times, status.
    assert_eq!(parent.kind, ProtoKind::Server as i32);
    assert_eq!(child.kind, ProtoKind::Client as i32);
    assert!(parent.start_time_unix_nano > 1_600_000_000_000_000_000);
    assert!(parent.start_time_unix_nano <= child.start_time_unix_nano);
    assert!(child.end_time_unix_nano <= parent.end_time_unix_nano);
    let status = parent.status.as_ref().expect("status");
    assert_eq!(
        (status.code, status.message.as_str()),
        (StatusCode::Error as i32, "payment declined")
    );
    assert_eq!(
        child.status.as_ref().map(|status| status.code),
        Some(StatusCode::Ok as i32)
    );

    // Attributes of every value kind, in order.
    let expected = [
        ("bool", Proto::BoolValue(true)),
        ("int", Proto::IntValue(-42)),
        ("double", Proto::DoubleValue(2.5)),
        ("string", string("GET")),
        ("http.response.status_code", string(LONG_VALUE)),
        (
            "bools",
            array([Proto::BoolValue(true), Proto::BoolValue(false)]),
        ),
        ("ints", array([Proto::IntValue(1), Proto::IntValue(2)])),
        ("doubles", array([Proto::DoubleValue(0.5)])),
        ("strings", array([string("a"), string("b")])),
    ];
    let keys: Vec<&str> = parent.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        expected.iter().map(|(key, _)| *key).collect::<Vec<_>>()
    );
    for (key, value) in &expected {
        assert_eq!(attribute(&parent.attributes, key), Some(value), "{key}");
    }
    assert_eq!(parent.dropped_attributes_count, 0);

    // Events, with the one over the limit counted as dropped.
    assert_eq!(parent.events.len(), 2);
    assert_eq!(parent.events[0].name, "reserved");
    assert_eq!(
        attribute(&parent.events[0].attributes, "items"),
        Some(&Proto::IntValue(3))
    );
    assert_eq!(parent.events[1].name, "charged");
    assert!(parent.events.iter().all(|event| {
        (parent.start_time_unix_nano..=parent.end_time_unix_nano).contains(&event.time_unix_nano)
    }));
    assert_eq!(parent.dropped_events_count, 1);

    // Links.
    assert_eq!(parent.links.len(), 1);
    let link = &parent.links[0];
    assert_eq!(link.trace_id, linked.trace_id().to_bytes());
    assert_eq!(link.span_id, linked.span_id().to_bytes());
    assert_eq!(link.flags, 0x301, "sampled; linked span remote");
    assert_eq!(
        attribute(&link.attributes, "link.kind"),
        Some(&string("follows"))
    );
    assert_eq!(parent.dropped_links_count, 0);

    // Resource and scope, once for both spans.
    let (resource, scope_name, scope_version) = only_group(&requests[0]);
    assert_eq!(
        attribute(resource, "service.name"),
        Some(&string("bridge-test"))
    );
    assert_eq!(
        attribute(resource, "deployment.environment.name"),
        Some(&string("test"))
    );
    assert_eq!((scope_name, scope_version), ("bridge-tests", "0.1.0"));
    let scope = requests[0].resource_spans[0].scope_spans[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(
        attribute(&scope.attributes, "scope.key"),
        Some(&string("scope value"))
    );
}

#[test]
fn spans_of_many_threads_share_one_resource_and_scope_group() {
    let receiver = receiver();
    let pipeline = grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("threads")
                .build(),
        )
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let provider = Arc::new(provider);
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let provider = Arc::clone(&provider);
            std::thread::spawn(move || {
                let tracer = provider.tracer("shared-scope");
                for i in 0..50 {
                    tracer.in_span(format!("t{thread}-{i}"), |_| {});
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    provider.force_flush().expect("flushed");
    assert!(receiver.wait_for_spans(200, TIMEOUT));
    for request in receiver.accepted_requests() {
        let (_, scope, _) = only_group(&request);
        assert_eq!(scope, "shared-scope");
    }
    provider
        .shutdown_with_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(pipeline.stats().exported, 200);
}

/// `opentelemetry_sdk` keeps every value set for a key (and
/// `opentelemetry-otlp` sends them all: `tracing-opentelemetry` records an
/// error's `exception.message` once per field); OTLP wants one value per
/// key in every collection: the last one set, in the key's first place.
#[test]
fn a_key_set_twice_arrives_once_with_its_last_value_in_its_first_place() {
    let receiver = receiver();
    let pipeline = grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("repeats")
            .with_attributes([
                KeyValue::new("scope.key", "first"),
                KeyValue::new("scope.key", "last"),
            ])
            .build(),
    );
    let linked = linked_context();
    let mut span = tracer
        .span_builder("repeated keys")
        .with_attributes([
            KeyValue::new("exception.message", "first"),
            KeyValue::new("other", 1i64),
        ])
        .with_links(vec![Link::new(
            linked,
            vec![
                KeyValue::new("link.kind", "first"),
                KeyValue::new("link.kind", "last"),
            ],
            0,
        )])
        .start(&tracer);
    span.set_attribute(KeyValue::new("exception.message", "last"));
    span.add_event(
        "retried",
        vec![
            KeyValue::new("attempt", 1i64),
            KeyValue::new("attempt", 2i64),
        ],
    );
    span.end();

    provider.force_flush().expect("flushed");
    assert!(receiver.wait_for_spans(1, TIMEOUT));
    provider.shutdown_with_timeout(TIMEOUT).expect("shut down");
    assert_eq!(pipeline.stats().exported, 1);

    let pairs = |attributes: &[ProtoKeyValue]| -> Vec<(String, Option<Proto>)> {
        attributes
            .iter()
            .map(|kv| {
                let value = kv.value.as_ref().and_then(|value| value.value.clone());
                (kv.key.clone(), value)
            })
            .collect()
    };
    let text = |key: &str, value: &str| (key.to_owned(), Some(string(value)));
    let spans = receiver.accepted_spans();
    let span = span_named(&spans, "repeated keys");
    assert_eq!(
        pairs(&span.attributes),
        [
            text("exception.message", "last"),
            ("other".to_owned(), Some(Proto::IntValue(1))),
        ]
    );
    assert_eq!(span.dropped_attributes_count, 0);
    assert_eq!(
        pairs(&span.events[0].attributes),
        [("attempt".to_owned(), Some(Proto::IntValue(2)))]
    );
    assert_eq!(
        pairs(&span.links[0].attributes),
        [text("link.kind", "last")]
    );
    let requests = receiver.accepted_requests();
    let scope = requests[0].resource_spans[0].scope_spans[0]
        .scope
        .as_ref()
        .expect("a scope");
    assert_eq!(pairs(&scope.attributes), [text("scope.key", "last")]);
}

/// `opentelemetry` compares instrumentation scopes' attributes as a set, so
/// `opentelemetry-otlp` sends the spans of two tracers whose scopes differ
/// only in attribute order in one `ScopeSpans`; so must the bridge.
#[test]
fn scopes_differing_only_in_attribute_order_are_one_scope_group() {
    let receiver = receiver();
    // Exports at the flush only: the three spans go in one request.
    let pipeline = otlp_sdk::BatchSpanProcessor::builder(grpc_exporter(&receiver))
        .with_batch_config(otlp_sdk::config::BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            ..otlp_sdk::config::BatchConfig::default()
        })
        .build()
        .expect("pipeline starts");
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder_empty().with_service_name("order").build())
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let scope = |attributes: [KeyValue; 2]| {
        InstrumentationScope::builder("lib")
            .with_version("1.0")
            .with_attributes(attributes)
            .build()
    };
    let (a, b) = (KeyValue::new("a", 1), KeyValue::new("b", "two"));
    let one = provider.tracer_with_scope(scope([a.clone(), b.clone()]));
    let other = provider.tracer_with_scope(scope([b, a]));
    one.in_span("first", |_| {});
    other.in_span("second", |_| {});
    one.in_span("third", |_| {});
    provider.force_flush().expect("flushed");
    assert!(receiver.wait_for_spans(3, TIMEOUT));
    let groups: Vec<Vec<usize>> = receiver
        .accepted_requests()
        .iter()
        .map(|request| {
            request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .collect()
        })
        .collect();
    assert_eq!(groups, [[3]], "one request, one scope group of three spans");
    provider
        .shutdown_with_timeout(Duration::from_secs(5))
        .unwrap();
}

#[test]
fn from_config_picks_the_transport_of_the_protocol() {
    use otlp_sdk::config::ConfigLoader;

    let receiver = receiver();
    for (protocol, endpoint, transport) in [
        (
            "grpc",
            receiver.grpc_endpoint().unwrap(),
            otlp_contrib::receiver::Transport::Grpc,
        ),
        (
            "http/json",
            receiver.http_endpoint().unwrap(),
            otlp_contrib::receiver::Transport::Http,
        ),
    ] {
        let config = ConfigLoader::new()
            .with_env([
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_SERVICE_NAME", "configured"),
                ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ])
            .load()
            .unwrap();
        let processor = OtlpSpanProcessor::from_config(&config).unwrap();
        let pipeline = processor.processor().clone();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        provider
            .tracer("cfg")
            .in_span(format!("via {protocol}"), |_| {});
        provider.shutdown_with_timeout(TIMEOUT).unwrap();
        assert_eq!(pipeline.stats().exported, 1, "{protocol}");
        let request = receiver.take_requests().pop().expect("one request");
        assert_eq!(request.transport, transport, "{protocol}");
        let (resource, _, _) = only_group(&request.request);
        assert_eq!(
            attribute(resource, "service.name"),
            Some(&string("configured")),
            "the configured name wins over the SDK's placeholder"
        );
    }
}

#[test]
fn after_shutdown_flush_and_shutdown_answer_already_shut_down_and_late_spans_are_counted() {
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::SpanProcessor as _;
    let receiver = receiver();
    let pipeline = grpc_pipeline(&receiver);
    let processor = OtlpSpanProcessor::new(pipeline.clone());
    processor.on_end(crate::support::sample_span(1));
    processor
        .shutdown_with_timeout(TIMEOUT)
        .expect("the first shutdown succeeds");
    assert!(matches!(
        processor.shutdown_with_timeout(TIMEOUT),
        Err(OTelSdkError::AlreadyShutdown)
    ));
    assert!(matches!(
        processor.force_flush(),
        Err(OTelSdkError::AlreadyShutdown)
    ));
    processor.on_end(crate::support::sample_span(2));
    let stats = pipeline.stats();
    assert_eq!(
        (stats.produced, stats.exported, stats.dropped_shutdown),
        (2, 1, 1),
        "{stats:?}"
    );
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(receiver.accepted_spans().len(), 1);
}
