//! Field for field against `opentelemetry-otlp`: the same `SpanData` sent
//! through the bridge and converted by `opentelemetry-proto` (what
//! `opentelemetry-otlp` sends) decode to the same messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span as ProtoSpan};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use otlp_contrib::bridge::{OtlpSpanProcessor, SdkExporter};

use otlp_contrib::receiver::Receiver;
use otlp_core::encode::Encoding;
use otlp_sdk::Exporter;

use crate::one_value_per_key::one_value_per_key;
use crate::support::{TIMEOUT, block_on, grpc_exporter, grpc_pipeline, http_exporter, receiver};

fn at(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_schema_url(
            [
                KeyValue::new("service.name", "reference"),
                KeyValue::new("host.cores", 2),
            ],
            "https://opentelemetry.io/schemas/1.30.0",
        )
        .build()
}

fn context(
    trace: u128,
    span: u64,
    flags: TraceFlags,
    remote: bool,
    state: TraceState,
) -> SpanContext {
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        remote,
        state,
    )
}

/// Spans that between them use every field and value kind, every span kind
/// and status, roots and children of local and remote parents, sampled and
/// other trace flags, and several scopes.
fn spans() -> Vec<SpanData> {
    let full_scope = InstrumentationScope::builder("full")
        .with_version("1.2.3")
        .with_schema_url("https://opentelemetry.io/schemas/1.29.0")
        .with_attributes([
            KeyValue::new("scope.attr", 7),
            KeyValue::new("scope.b", true),
        ])
        .build();
    let bare_scope = InstrumentationScope::builder("bare").build();
    let base = |i: u64| SpanData {
        span_context: context(
            0x4bf92f3577b34da6a3ce929d0e0e4736,
            0x1000 + i,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: format!("span-{i}").into(),
        start_time: at(1_700_000_000_000_000_000 + i),
        end_time: at(1_700_000_001_000_000_000 + i),
        attributes: vec![],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: bare_scope.clone(),
    };
    let mut spans = Vec::new();

    // A root, kind by kind, status by status.
    let kinds = [
        SpanKind::Client,
        SpanKind::Server,
        SpanKind::Producer,
        SpanKind::Consumer,
        SpanKind::Internal,
    ];
    let statuses = [
        Status::Unset,
        Status::Ok,
        Status::error("boom"),
        Status::error(""),
        Status::error(String::from("an owned description longer than 23 bytes")),
    ];
    for (i, (kind, status)) in kinds.into_iter().zip(statuses).enumerate() {
        let mut span = base(i as u64);
        span.span_kind = kind;
        span.status = status;
        spans.push(span);
    }

    // A child of a local parent, a child of a remote parent, unsampled-but-exported flags.
    let mut child = base(10);
    child.parent_span_id = SpanId::from(0x1122334455667788);
    spans.push(child);
    let mut remote_child = base(11);
    remote_child.parent_span_id = SpanId::from(0x99);
    remote_child.parent_span_is_remote = true;
    remote_child.span_context = context(
        0xabc,
        0x1011,
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")])
            .unwrap(),
    );
    spans.push(remote_child);
    // A remote root (parent INVALID but marked remote).
    let mut remote_root = base(12);
    remote_root.parent_span_is_remote = true;
    spans.push(remote_root);

    // Every attribute value kind, events, links, dropped counts, the full scope.
    let mut everything = base(20);
    everything.instrumentation_scope = full_scope.clone();
    everything.attributes = vec![
        KeyValue::new("bool", true),
        KeyValue::new("int", i64::MIN),
        KeyValue::new("double", -0.0),
        KeyValue::new("big", f64::MAX),
        KeyValue::new("empty", ""),
        KeyValue::new("short", "GET"),
        KeyValue::new(
            "a.key.long.enough.to.be.interned",
            String::from("a value longer than twenty-three bytes"),
        ),
        KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("ints", Value::Array(Array::I64(vec![1, -2, 3]))),
        KeyValue::new("doubles", Value::Array(Array::F64(vec![1.5, -2.0]))),
        KeyValue::new(
            "strings",
            Value::Array(Array::String(vec!["a".into(), String::new().into()])),
        ),
        KeyValue::new("empty.array", Value::Array(Array::I64(vec![]))),
        KeyValue::new("dup", 1),
        KeyValue::new("dup", 2),
        KeyValue::new("", "an empty key"),
        KeyValue::new(
            "escapes \"\\\n\t\u{0}\u{1f}",
            "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} \u{2028} caf\u{e9} \u{1f600}",
        ),
    ];
    everything.dropped_attributes_count = 3;
    everything.events.events = vec![
        Event::new(
            "with attributes",
            at(1_700_000_000_500_000_000),
            vec![
                KeyValue::new("cache.key", "user:42"),
                KeyValue::new("n", 1.5),
            ],
            2,
        ),
        Event::new(
            String::from("owned"),
            at(1_700_000_000_600_000_000),
            vec![],
            0,
        ),
        Event::new(
            "before the epoch",
            UNIX_EPOCH - Duration::from_secs(1),
            vec![],
            0,
        ),
    ];
    everything.events.dropped_count = 4;
    everything.links.links = vec![
        Link::new(
            context(
                0xdead,
                0xbeef,
                TraceFlags::SAMPLED,
                true,
                TraceState::from_key_value([("vendor", "x")]).unwrap(),
            ),
            vec![KeyValue::new("link.kind", "follows")],
            1,
        ),
        Link::new(
            context(
                0xdead,
                0xbeee,
                TraceFlags::default(),
                false,
                TraceState::NONE,
            ),
            vec![],
            0,
        ),
    ];
    everything.links.dropped_count = 5;
    everything.status = Status::error("everything failed");
    spans.push(everything);

    // An empty name, a scope with an empty name.
    let mut unnamed = base(40);
    unnamed.name = "".into();
    unnamed.instrumentation_scope = InstrumentationScope::builder("").build();
    spans.push(unnamed);

    // Another scope of the same name with a different version.
    let mut other_version = base(30);
    other_version.instrumentation_scope = InstrumentationScope::builder("full")
        .with_version("2.0.0")
        .build();
    spans.push(other_version);
    spans
}

/// One span with the resource and scope it was sent under.
#[derive(Clone, Debug, PartialEq)]
struct Delivered {
    resource: Option<ProtoResource>,
    resource_schema_url: String,
    scope: Option<ProtoScope>,
    scope_schema_url: String,
    span: ProtoSpan,
}

/// Every span with its resource and scope, resource attributes in key order
/// (a resource has no order of its own), sorted by span id.
fn flatten(resource_spans: impl IntoIterator<Item = ResourceSpans>) -> Vec<Delivered> {
    let mut flat = Vec::new();
    for resource_spans in resource_spans {
        let mut resource = resource_spans.resource;
        if let Some(resource) = &mut resource {
            resource.attributes.sort_by(|a, b| a.key.cmp(&b.key));
        }
        for scope_spans in resource_spans.scope_spans {
            for mut span in scope_spans.spans {
                // An absent status is the default (Unset, no message) in
                // proto3; the bridge leaves an unset status out.
                span.status.get_or_insert_with(Default::default);
                flat.push(Delivered {
                    resource: resource.clone(),
                    resource_schema_url: resource_spans.schema_url.clone(),
                    scope: scope_spans.scope.clone(),
                    scope_schema_url: scope_spans.schema_url.clone(),
                    span,
                });
            }
        }
    }
    flat.sort_by(|a, b| a.span.span_id.cmp(&b.span.span_id));
    flat
}

/// What `opentelemetry-otlp` sends, but for one difference: a key set twice
/// (the span `dup`) is sent once, with its last value, in its first place.
fn expected() -> Vec<Delivered> {
    let mut expected = flatten(group_spans_by_resource_and_scope(
        spans(),
        &ResourceAttributesWithSchema::from(&resource()),
    ));
    for delivered in &mut expected {
        let span = &mut delivered.span;
        one_value_per_key(&mut span.attributes);
        for event in &mut span.events {
            one_value_per_key(&mut event.attributes);
        }
        for link in &mut span.links {
            one_value_per_key(&mut link.attributes);
        }
        if let Some(scope) = &mut delivered.scope {
            one_value_per_key(&mut scope.attributes);
        }
    }
    expected
}

fn received(receiver: &Receiver, count: u64) -> Vec<Delivered> {
    assert!(
        receiver.wait_for_spans(count, TIMEOUT),
        "{:?}",
        receiver.stats()
    );
    flatten(
        receiver
            .accepted_requests()
            .into_iter()
            .flat_map(|request| request.resource_spans),
    )
}

fn assert_same(received: &[Delivered], expected: &[Delivered]) {
    assert_eq!(received.len(), expected.len());
    for (received, expected) in received.iter().zip(expected) {
        assert_eq!(received, expected, "span {:?}", expected.span.name);
    }
}

fn the_sdk_exporter_sends_what_opentelemetry_otlp_sends<E: Exporter>(
    receiver: &Receiver,
    transport: E,
) {
    let mut exporter = SdkExporter::new(transport).expect("adapter starts");
    exporter.set_resource(&resource());
    let spans = spans();
    let count = spans.len() as u64;
    block_on(exporter.export(spans)).expect("exported");
    assert_same(&received(receiver, count), &expected());
}

#[test]
fn the_sdk_exporter_sends_what_opentelemetry_otlp_sends_over_grpc() {
    let receiver = receiver();
    the_sdk_exporter_sends_what_opentelemetry_otlp_sends(&receiver, grpc_exporter(&receiver));
}

#[test]
fn the_sdk_exporter_sends_what_opentelemetry_otlp_sends_over_http_protobuf() {
    let receiver = receiver();
    the_sdk_exporter_sends_what_opentelemetry_otlp_sends(
        &receiver,
        http_exporter(&receiver, Encoding::Protobuf),
    );
}

#[test]
fn the_sdk_exporter_sends_what_opentelemetry_otlp_sends_over_http_json() {
    let receiver = receiver();
    the_sdk_exporter_sends_what_opentelemetry_otlp_sends(
        &receiver,
        http_exporter(&receiver, Encoding::Json),
    );
}

#[test]
fn the_span_processor_sends_what_opentelemetry_otlp_sends() {
    use opentelemetry_sdk::trace::SpanProcessor as _;
    let receiver = receiver();
    let mut processor = OtlpSpanProcessor::new(grpc_pipeline(&receiver));
    processor.set_resource(&resource());
    let spans = spans();
    let count = spans.len() as u64;
    for span in spans {
        processor.on_end(span);
    }
    processor.force_flush().expect("flushed");
    assert_same(&received(&receiver, count), &expected());
    processor
        .shutdown_with_timeout(TIMEOUT)
        .expect("shuts down");
}

/// The one deliberate difference: trace state members that `opentelemetry`
/// accepts but W3C Trace Context does not are skipped, where
/// `opentelemetry-otlp` sends the header unchanged.
#[test]
fn trace_state_members_w3c_does_not_allow_are_skipped() {
    let receiver = receiver();
    let exporter = SdkExporter::new(grpc_exporter(&receiver)).expect("adapter starts");
    let state = TraceState::from_key_value([
        ("empty", ""),
        ("0digit", "1"),
        ("caf", "\u{e9}"),
        ("b", "2"),
    ])
    .expect("opentelemetry accepts these");
    let mut span = crate::support::sample_span(1);
    span.span_context = context(1, 2, TraceFlags::SAMPLED, false, state.clone());
    block_on(exporter.export(vec![span.clone()])).expect("exported");

    let expected = flatten(group_spans_by_resource_and_scope(
        vec![span],
        &ResourceAttributesWithSchema::default(),
    ));
    assert_eq!(
        expected[0].span.trace_state,
        "empty=,0digit=1,caf=\u{e9},b=2"
    );
    let received = received(&receiver, 1);
    // `0digit`, refused by W3C level 1, is a key of level 2, which
    // otlp-core follows: kept. The empty value and the non-ASCII one are not
    // values of either level: skipped.
    assert_eq!(received[0].span.trace_state, "0digit=1,b=2");
}

/// A value W3C does not allow because it ends in a space or tab
/// (`opentelemetry` accepts it) is skipped like any other such member, not
/// sent trimmed as a value the program never set; on links too.
#[test]
fn trace_state_values_ending_in_whitespace_are_skipped_not_trimmed() {
    let receiver = receiver();
    let exporter = SdkExporter::new(grpc_exporter(&receiver)).expect("adapter starts");
    let state =
        TraceState::from_key_value([("a", "1"), ("space", "b "), ("tab", "c\t"), ("z", " d")])
            .expect("opentelemetry accepts these");
    let mut span = crate::support::sample_span(1);
    span.span_context = context(1, 2, TraceFlags::SAMPLED, false, state.clone());
    span.links.links = vec![Link::new(
        context(3, 4, TraceFlags::SAMPLED, true, state),
        vec![],
        0,
    )];
    block_on(exporter.export(vec![span])).expect("exported");

    let received = received(&receiver, 1);
    assert_eq!(received[0].span.trace_state, "a=1,z= d");
    assert_eq!(received[0].span.links[0].trace_state, "a=1,z= d");
}

/// Through a [`FileExporter`](otlp_contrib::file_exporter::FileExporter):
/// every line of the file, read by `opentelemetry-proto`'s serde types as one
/// OTLP/JSON `ExportTraceServiceRequest`, holds what `opentelemetry-otlp`
/// would send, field for field.
#[test]
fn the_span_processor_writes_to_a_file_what_opentelemetry_otlp_sends() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::trace::SpanProcessor as _;
    use otlp_contrib::file_exporter::FileExporter;

    let dir =
        std::env::temp_dir().join(format!("otlp-bridge-file-reference-{}", std::process::id()));
    let path = dir.join("traces.jsonl");
    let pipeline = otlp_sdk::BatchSpanProcessor::builder(FileExporter::to_path(&path).unwrap())
        .build()
        .unwrap();
    let mut processor = OtlpSpanProcessor::new(pipeline.clone());
    processor.set_resource(&resource());
    for span in spans() {
        processor.on_end(span);
    }
    processor
        .shutdown_with_timeout(TIMEOUT)
        .expect("shuts down");
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!(stats.exported, spans().len() as u64, "{stats:?}");

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let written = flatten(text.lines().flat_map(|line| {
        serde_json::from_str::<ExportTraceServiceRequest>(line)
            .unwrap_or_else(|error| panic!("{error}: {line}"))
            .resource_spans
    }));
    assert_same(&written, &expected());
}
