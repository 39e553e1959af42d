//! Fixtures: spans that use every OTLP field, an independent conversion of
//! them into `opentelemetry-proto` types (the receiver decodes into those),
//! and pipelines with short timings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::testing::proto;
use otlp_core::encode::Encoding;
use otlp_core::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, SpanData, SpanFlags, SpanId,
    SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{
    BatchSpanProcessor, ExportRequest, Exporter, PipelineError, RetryPolicy, SpanProcessor,
    StatsSnapshot,
};

/// Backoff short enough for tests: 10 ms, then 15 ms, ... capped at 50 ms, no jitter.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        enabled: true,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        multiplier: 1.5,
        randomization_factor: 0.0,
    }
}

/// A pipeline that retries quickly and gives each batch `deadline`. Batches
/// are cut only by `force_flush` and `shutdown` (or 512 spans), so a test
/// knows exactly which spans travel together.
pub fn pipeline(exporter: HttpExporter, deadline: Duration) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: deadline,
            ..BatchConfig::default()
        })
        .with_retry_policy(quick_retry())
        .build()
        .expect("pipeline")
}

/// Hands `spans` to `processor` and flushes them: one batch, one request.
pub fn send_batch(
    processor: &BatchSpanProcessor,
    spans: impl IntoIterator<Item = SpanData>,
) -> Result<(), PipelineError> {
    for span in spans {
        processor.on_end(span);
    }
    processor.force_flush(Duration::from_secs(15))
}

/// Shuts `processor` down and returns its final stats, which must balance.
pub fn finish(processor: &BatchSpanProcessor) -> StatsSnapshot {
    processor
        .shutdown(Duration::from_secs(5))
        .expect("shutdown");
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    stats
}

/// A receiver on loopback (gRPC and HTTP), no TLS.
pub fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("receiver")
}

/// The receiver's HTTP base URL.
pub fn endpoint(receiver: &Receiver) -> String {
    receiver.http_endpoint().expect("the receiver serves HTTP")
}

/// A request of `spans` encoded as the exporter will send it.
pub fn encode(spans: &[SpanData], encoding: Encoding) -> ExportRequest {
    let mut body = Vec::new();
    otlp_core::encode::TraceEncoder::new().encode(encoding, spans, &mut body);
    ExportRequest {
        body: body.into(),
        encoding,
        span_count: spans.len(),
    }
}

/// One export attempt through `exporter`, on a fresh runtime.
pub fn export_once(exporter: &HttpExporter, request: ExportRequest) -> otlp_sdk::ExportOutcome {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(exporter.export(request))
}

fn resource(service: &str) -> Arc<Resource> {
    let mut resource = Resource::new([
        KeyValue::new("service.name", service.to_owned()),
        KeyValue::new("service.instance.id", "i-0042"),
        KeyValue::new("host.cpu.count", 2),
    ])
    .with_schema_url("https://opentelemetry.io/schemas/1.26.0");
    resource.dropped_attributes_count = 1;
    Arc::new(resource)
}

fn scope(name: &str) -> Arc<InstrumentationScope> {
    let mut scope = InstrumentationScope::new(name.to_owned())
        .with_version("1.2.3")
        .with_schema_url("https://opentelemetry.io/schemas/1.25.0")
        .with_attributes([KeyValue::new("scope.kind", "library")]);
    scope.dropped_attributes_count = 2;
    Arc::new(scope)
}

/// Every attribute value type OTLP has, nested ones included.
fn every_value_type(i: u64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("string", format!("value-{i} ünïcødé ✓")),
        KeyValue::new("bool", i.is_multiple_of(2)),
        KeyValue::new("int", -(i as i64) * 1_000_000_007),
        KeyValue::new("int.max", i64::MAX),
        KeyValue::new("double", 0.1 + i as f64),
        KeyValue::new(
            "bytes",
            AnyValue::Bytes(vec![0, 1, 2, 0xfe, 0xff, i as u8].into()),
        ),
        KeyValue::new(
            "array",
            AnyValue::Array(
                vec![
                    AnyValue::from("a"),
                    AnyValue::from(2i64),
                    AnyValue::from(true),
                ]
                .into(),
            ),
        ),
        KeyValue::new(
            "kvlist",
            AnyValue::KvList(
                vec![
                    KeyValue::new("inner", "x"),
                    KeyValue::new("nested", AnyValue::Array(vec![AnyValue::from(1.5)].into())),
                ]
                .into(),
            ),
        ),
        KeyValue::new("empty", ""),
    ]
}

/// `count` spans over two resources and two scopes, each using every field.
pub fn rich_spans(count: u64) -> Vec<SpanData> {
    let resources = [resource("checkout"), resource("payments")];
    let scopes = [scope("http-server"), scope("db-client")];
    let trace_state =
        TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").expect("trace state");
    (0..count)
        .map(|i| {
            let kind = SpanKind::from_wire_value((i % 6) as i32);
            let status = match i % 3 {
                0 => Status::Unset,
                1 => Status::Ok,
                _ => Status::error(format!("failure {i}: connection reset")),
            };
            let link = Link {
                trace_id: TraceId::random(),
                span_id: SpanId::random(),
                trace_state: trace_state.clone(),
                flags: SpanFlags::new(TraceFlags::SAMPLED, Some(true)),
                attributes: vec![KeyValue::new("link.reason", "follows-from")],
                dropped_attributes_count: 3,
            };
            let mut event = Event::new(
                "exception",
                1_700_000_000_000_000_100 + i,
                [
                    KeyValue::new("exception.type", "io::Error"),
                    KeyValue::new("exception.message", format!("broken pipe {i}")),
                ],
            );
            event.dropped_attributes_count = 4;
            SpanData::builder(format!("GET /api/orders/{i}"))
                .trace_id(TraceId::random())
                .span_id(SpanId::random())
                .parent_span_id((i % 2 == 1).then(SpanId::random))
                .trace_state(if i % 2 == 0 {
                    trace_state.clone()
                } else {
                    TraceState::default()
                })
                .flags(SpanFlags::new(TraceFlags::SAMPLED, Some(i % 4 == 1)))
                .kind(kind)
                .times(1_700_000_000_000_000_000 + i, 1_700_000_000_123_456_789 + i)
                .attributes(every_value_type(i))
                .event(event)
                .event(Event::new("retry", 1_700_000_000_000_000_200 + i, []))
                .link(link)
                .dropped_counts(5, 6, 7)
                .status(status)
                .resource(resources[(i % 2) as usize].clone())
                .scope(scopes[(i / 2 % 2) as usize].clone())
                .build()
        })
        .collect()
}

/// Checks that every span of `sent` arrived exactly once in the receiver's
/// accepted requests, with every field of the span, its resource and its
/// scope equal to what was sent.
pub fn assert_delivered_intact(receiver: &Receiver, sent: &[SpanData]) {
    let mut arrived: HashMap<
        Vec<u8>,
        (
            pr::Resource,
            String,
            pc::InstrumentationScope,
            String,
            pt::Span,
        ),
    > = HashMap::new();
    for request in receiver.accepted_requests() {
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.clone().unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans.scope.clone().unwrap_or_default();
                for span in scope_spans.spans {
                    let previous = arrived.insert(
                        span.span_id.clone(),
                        (
                            resource.clone(),
                            resource_spans.schema_url.clone(),
                            scope.clone(),
                            scope_spans.schema_url.clone(),
                            span,
                        ),
                    );
                    assert!(previous.is_none(), "a span arrived twice");
                }
            }
        }
    }
    assert_eq!(arrived.len(), sent.len(), "spans arrived");
    for span in sent {
        let (resource, resource_schema, scope, scope_schema, received) = arrived
            .get(span.span_id.to_bytes().as_slice())
            .unwrap_or_else(|| panic!("span {} did not arrive", span.span_id));
        assert_eq!(received, &proto::span(span), "span {}", span.name);
        assert_eq!(
            resource,
            &proto::resource(&span.resource),
            "resource of {}",
            span.name
        );
        assert_eq!(resource_schema, span.resource.schema_url.as_str());
        assert_eq!(scope, &proto::scope(&span.scope), "scope of {}", span.name);
        assert_eq!(scope_schema, span.scope.schema_url.as_str());
    }
}

/// Reads one HTTP/1.1 request head, as a bare test server does: its
/// `Content-Length` (0 without one), or `None` once the client closed the
/// connection.
pub fn read_request_head(reader: &mut impl std::io::BufRead) -> Option<usize> {
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            return Some(length);
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("content-length");
        }
    }
}

/// A server on loopback that takes every connection and never answers: it
/// reads whatever comes (an HTTP request, a TLS handshake) until the client
/// gives the connection up, and writes nothing. A collector, or a proxy,
/// that hangs. Its address.
pub fn hung_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
            });
        }
    });
    address
}
