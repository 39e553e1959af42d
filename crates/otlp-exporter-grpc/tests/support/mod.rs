//! Shared support of the integration tests: spans that use every field, an
//! independent conversion of them into `opentelemetry-proto` types (what the
//! receiver must have decoded), and a pipeline with short timings.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use otlp_contrib::receiver::Receiver;
use otlp_contrib::testing::proto;
use otlp_core::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, SpanContext, SpanData,
    SpanFlags, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use otlp_exporter_grpc::GrpcExporter;
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{BatchSpanProcessor, RetryPolicy, SpanProcessor, StatsSnapshot};

// ---- spans that use every field ---------------------------------------------

/// `count` spans over two resources and three scopes, using every field of
/// OTLP's `Span`, every `AnyValue` kind, events, links, trace state, remote
/// flags, dropped counts and all statuses.
pub fn rich_spans(count: usize) -> Vec<SpanData> {
    let resources = [
        Arc::new(
            Resource::new([
                KeyValue::new("service.name", "checkout"),
                KeyValue::new("service.version", "1.4.2"),
                KeyValue::new("host.cores", 16),
            ])
            .with_schema_url("https://opentelemetry.io/schemas/1.26.0"),
        ),
        Arc::new({
            let mut resource = Resource::new([KeyValue::new("service.name", "payments")]);
            resource.dropped_attributes_count = 2;
            resource
        }),
    ];
    let scopes = [
        Arc::new(
            InstrumentationScope::new("http.server")
                .with_version("0.9.1")
                .with_schema_url("https://opentelemetry.io/schemas/1.25.0")
                .with_attributes([KeyValue::new("scope.flavour", "axum")]),
        ),
        Arc::new(InstrumentationScope::new("db.client")),
        InstrumentationScope::empty(),
    ];
    (0..count)
        .map(|i| {
            let n = i as u64;
            let trace_state =
                TraceState::parse(&format!("vendor=v{i},other=x")).expect("valid tracestate");
            let linked = SpanContext {
                trace_state: trace_state.clone(),
                is_remote: i % 2 == 0,
                ..SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED)
            };
            let status = match i % 3 {
                0 => Status::Unset,
                1 => Status::Ok,
                _ => Status::error(format!("failure number {i} — ünïcødé")),
            };
            let kind = SpanKind::from_wire_value((i % 6) as i32);
            let mut event = Event::new(
                "exception",
                1_700_000_000_000_000_100 + n,
                [
                    KeyValue::new("exception.type", "io::Error"),
                    KeyValue::new("attempt", n as i64),
                ],
            );
            event.dropped_attributes_count = (i % 4) as u32;
            let mut link = Link::new(&linked, [KeyValue::new("link.kind", "follows")]);
            link.dropped_attributes_count = 1;
            SpanData::builder(format!("operation {i}"))
                .trace_id(TraceId::random())
                .span_id(SpanId::random())
                .parent_span_id((i % 4 != 0).then(SpanId::random))
                .trace_state(trace_state)
                .flags(SpanFlags::new(
                    TraceFlags::SAMPLED,
                    [None, Some(false), Some(true)][i % 3],
                ))
                .kind(kind)
                .times(
                    1_700_000_000_000_000_000 + n,
                    1_700_000_000_000_500_000 + 3 * n,
                )
                .attributes([
                    KeyValue::new("string", format!("value {i}")),
                    KeyValue::new("bool", i % 2 == 0),
                    KeyValue::new("int", -(n as i64) * 1_000_000_007),
                    KeyValue::new("double", 0.25 + n as f64),
                    KeyValue::new("bytes", vec![0u8, 1, 2, 255, i as u8]),
                    KeyValue::new(
                        "array",
                        vec![
                            AnyValue::from("a"),
                            AnyValue::from(2i64),
                            AnyValue::from(false),
                        ],
                    ),
                    KeyValue::new(
                        "kvlist",
                        vec![
                            KeyValue::new("nested.string", "inner"),
                            KeyValue::new("nested.array", vec![AnyValue::from(1.5)]),
                        ],
                    ),
                    KeyValue::new("empty", ""),
                ])
                .event(event)
                .event(Event::new("checkpoint", 1_700_000_000_000_000_200 + n, []))
                .link(link)
                .dropped_counts((i % 5) as u32, (i % 7) as u32, (i % 3) as u32)
                .status(status)
                .resource(resources[i % resources.len()].clone())
                .scope(scopes[i % scopes.len()].clone())
                .build()
        })
        .collect()
}

// ---- what must arrive: otlp-contrib's independent conversion ---------------

/// A span as it arrived, with the resource and scope it was grouped under.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrived {
    pub resource: Option<pr::Resource>,
    pub resource_schema_url: String,
    pub scope: Option<pc::InstrumentationScope>,
    pub scope_schema_url: String,
    pub span: pt::Span,
}

/// What `span` must look like on arrival.
pub fn expected_arrival(span: &SpanData) -> Arrived {
    Arrived {
        resource: Some(proto::resource(&span.resource)),
        resource_schema_url: span.resource.schema_url.to_string(),
        scope: Some(proto::scope(&span.scope)),
        scope_schema_url: span.scope.schema_url.to_string(),
        span: proto::span(span),
    }
}

/// Every span the receiver accepted, by span id (each id must arrive once).
pub fn arrivals(receiver: &Receiver) -> HashMap<Vec<u8>, Arrived> {
    let mut arrived = HashMap::new();
    for request in receiver.accepted_requests() {
        for resource_spans in request.resource_spans {
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    let id = span.span_id.clone();
                    let previous = arrived.insert(
                        id.clone(),
                        Arrived {
                            resource: resource_spans.resource.clone(),
                            resource_schema_url: resource_spans.schema_url.clone(),
                            scope: scope_spans.scope.clone(),
                            scope_schema_url: scope_spans.schema_url.clone(),
                            span,
                        },
                    );
                    assert!(previous.is_none(), "span {id:02x?} arrived twice");
                }
            }
        }
    }
    arrived
}

/// Asserts that exactly `sent` arrived, each span field for field with its
/// resource and scope.
pub fn assert_arrived_intact(sent: &[SpanData], receiver: &Receiver) {
    let arrived = arrivals(receiver);
    assert_eq!(arrived.len(), sent.len(), "number of spans that arrived");
    for span in sent {
        let id = span.span_id.to_bytes().to_vec();
        let got = arrived
            .get(&id)
            .unwrap_or_else(|| panic!("span {:?} did not arrive", span.name));
        assert_eq!(got, &expected_arrival(span), "span {:?}", span.name);
    }
}

// ---- the pipeline, with short timings --------------------------------------

/// Retries after 20 ms, 40 ms, 80 ms... without jitter.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        enabled: true,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        multiplier: 2.0,
        randomization_factor: 0.0,
    }
}

/// A pipeline that cuts a batch when flushed (its scheduled delay is an
/// hour), retries fast, and gives each batch `export_timeout` in total.
/// Flushed by [`export_all`], the spans handed to it go as one batch: with a
/// tick every 20 ms, a tick that came while a loaded machine held the test
/// between two spans split them into two batches, and the tests counting
/// requests, retries or faults consumed saw two.
pub fn pipeline(exporter: GrpcExporter, export_timeout: Duration) -> BatchSpanProcessor {
    pipeline_with(exporter, export_timeout, fast_retry())
}

pub fn pipeline_with(
    exporter: GrpcExporter,
    export_timeout: Duration,
    retry: RetryPolicy,
) -> BatchSpanProcessor {
    let attempt_timeout = exporter.timeout();
    BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            export_timeout,
            ..BatchConfig::default()
        })
        .with_retry_policy(retry)
        .with_attempt_timeout(attempt_timeout)
        .build()
        .expect("pipeline starts")
}

/// Feeds `spans` to the pipeline, flushes, and returns the stats.
pub fn export_all(
    processor: &BatchSpanProcessor,
    spans: &[SpanData],
    deadline: Duration,
) -> StatsSnapshot {
    for span in spans {
        processor.on_end(span.clone());
    }
    let _ = processor.force_flush(deadline);
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    stats
}

/// Runs `future` on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// One encoded request holding `spans`.
pub fn request(spans: &[SpanData]) -> otlp_sdk::ExportRequest {
    let mut body = Vec::new();
    otlp_core::encode::TraceEncoder::new().encode_protobuf(spans, &mut body);
    otlp_sdk::ExportRequest {
        body: body.into(),
        encoding: otlp_core::encode::Encoding::Protobuf,
        span_count: spans.len(),
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
