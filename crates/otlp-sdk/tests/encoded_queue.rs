//! The queue of encoded records, seen from outside: what many threads end
//! arrives whole, grouped by resource and scope, decoded by
//! `opentelemetry-proto`; a retry sends the same bytes; a JSON exporter gets
//! what the JSON encoder writes; records that do not fit are counted, never
//! waited for forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_core::encode::{Encoding, TraceEncoder};
use otlp_core::{AnyValue, InstrumentationScope, KeyValue, Resource, SpanData, SpanId, TraceId};
use otlp_sdk::config::{BatchConfig, FullPolicy};
use otlp_sdk::{
    BatchSpanProcessor, ExportError, ExportOutcome, ExportRequest, Exporter, RetryPolicy,
    SpanProcessor, TracerProvider,
};
use prost::Message;

/// Keeps every request body it is sent; fails the first `fail_first`
/// attempts with a retryable error.
struct Capture {
    encoding: Encoding,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    fail_first: usize,
}

impl Capture {
    fn new(encoding: Encoding, fail_first: usize) -> (Self, Arc<Mutex<Vec<Vec<u8>>>>) {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let capture = Capture {
            encoding,
            bodies: Arc::clone(&bodies),
            fail_first,
        };
        (capture, bodies)
    }
}

impl Exporter for Capture {
    fn encoding(&self) -> Encoding {
        self.encoding
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let mut bodies = self.bodies.lock().unwrap();
        bodies.push(request.body.to_vec());
        if bodies.len() <= self.fail_first {
            return ExportOutcome::Retryable {
                error: ExportError::Server {
                    status: "HTTP 503".into(),
                    message: "try again".into(),
                },
                throttle: None,
            };
        }
        ExportOutcome::Success
    }
}

/// One decoded span: where it was grouped and what it carries.
#[derive(Debug, PartialEq)]
struct Seen {
    service: String,
    scope: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    start: u64,
    end: u64,
    attributes: Vec<(String, String)>,
}

fn decode_all(bodies: &[Vec<u8>]) -> Vec<Seen> {
    let mut seen = Vec::new();
    for body in bodies {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            assert!(!resource_spans.scope_spans.is_empty(), "no empty groups");
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
                assert!(!scope_spans.spans.is_empty(), "no empty groups");
                for span in scope_spans.spans {
                    let attributes = span
                        .attributes
                        .iter()
                        .map(|kv| {
                            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(Value::StringValue(text)) => text.clone(),
                                other => format!("{other:?}"),
                            };
                            (kv.key.clone(), value)
                        })
                        .collect();
                    seen.push(Seen {
                        service: service.clone(),
                        scope: scope.clone(),
                        name: span.name,
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        start: span.start_time_unix_nano,
                        end: span.end_time_unix_nano,
                        attributes,
                    });
                }
            }
        }
    }
    seen
}

fn expected(span: &SpanData) -> Seen {
    Seen {
        service: span.resource.service_name().unwrap_or_default().to_string(),
        scope: span.scope.name.to_string(),
        name: span.name.to_string(),
        trace_id: span.trace_id.to_bytes().to_vec(),
        span_id: span.span_id.to_bytes().to_vec(),
        start: span.start_time_unix_nano,
        end: span.end_time_unix_nano,
        attributes: span
            .attributes
            .iter()
            .map(|kv| {
                let value = match &kv.value {
                    AnyValue::String(text) => text.to_string(),
                    other => panic!("the test sets strings only, not {other:?}"),
                };
                (kv.key.to_string(), value)
            })
            .collect(),
    }
}

#[test]
fn spans_of_many_threads_resources_and_scopes_arrive_whole_and_grouped() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 5_000;
    let (capture, bodies) = Capture::new(Encoding::Protobuf, 0);
    let processor = BatchSpanProcessor::builder(capture)
        .with_batch_config(BatchConfig {
            // Small blocks and batches: many hand-overs and batch boundaries.
            max_queue_bytes: 256 * 1024,
            max_export_batch_size: 300,
            scheduled_delay: Duration::from_millis(5),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let resources: Vec<Arc<Resource>> = ["cart", "pay"]
        .iter()
        .map(|service| Arc::new(Resource::new([KeyValue::new("service.name", *service)])))
        .collect();
    let scopes: Vec<Arc<InstrumentationScope>> = ["http", "db", "cache"]
        .iter()
        .map(|name| Arc::new(InstrumentationScope::new(*name)))
        .collect();
    let produced: Vec<Vec<SpanData>> = (0..THREADS)
        .map(|t| {
            (0..PER_THREAD)
                .map(|i| {
                    SpanData::builder(format!("t{t} span {i}"))
                        .trace_id(TraceId::random())
                        .span_id(SpanId::random())
                        .times(1_000 + i as u64, 2_000 + i as u64)
                        .attributes(
                            (0..(i % 9))
                                .map(|k| KeyValue::new(format!("k{k}"), "v".repeat(k * i % 50))),
                        )
                        .resource(Arc::clone(&resources[(t + i) % 2]))
                        .scope(Arc::clone(&scopes[i % 3]))
                        .build()
                })
                .collect()
        })
        .collect();
    let mut wanted: HashMap<Vec<u8>, Seen> = HashMap::new();
    for span in produced.iter().flatten() {
        wanted.insert(span.span_id.to_bytes().to_vec(), expected(span));
    }
    std::thread::scope(|scope| {
        for spans in &produced {
            let processor = processor.clone();
            scope.spawn(move || {
                for span in spans {
                    processor.on_end(span.clone());
                }
            });
        }
    });
    processor.shutdown(Duration::from_secs(30)).unwrap();
    let stats = processor.stats();
    assert_eq!(stats.exported, (THREADS * PER_THREAD) as u64, "{stats:#?}");

    let seen = decode_all(&bodies.lock().unwrap());
    assert_eq!(seen.len(), THREADS * PER_THREAD);
    for span in seen {
        let want = wanted.remove(&span.span_id).expect("each span once");
        assert_eq!(span, want);
    }
    assert!(wanted.is_empty());
}

#[test]
fn spans_through_several_providers_share_a_request_grouped_by_resource_and_scope() {
    let (capture, bodies) = Capture::new(Encoding::Protobuf, 0);
    let processor = BatchSpanProcessor::builder(capture).build().unwrap();
    let providers: Vec<TracerProvider> = ["cart", "pay"]
        .iter()
        .map(|service| {
            TracerProvider::builder()
                .with_service_name(*service)
                .with_processor(processor.clone())
                .build()
        })
        .collect();
    for round in 0..3 {
        for provider in &providers {
            for scope in ["http", "db"] {
                provider
                    .tracer(scope)
                    .start(format!("{scope} {round}"))
                    .end();
            }
        }
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "one batch");
    let request = ExportTraceServiceRequest::decode(bodies[0].as_slice()).unwrap();
    assert_eq!(request.resource_spans.len(), 2);
    for resource_spans in &request.resource_spans {
        let scopes: Vec<_> = resource_spans
            .scope_spans
            .iter()
            .map(|scope_spans| {
                let scope = scope_spans.scope.as_ref().unwrap().name.clone();
                let names: Vec<_> = scope_spans.spans.iter().map(|s| s.name.clone()).collect();
                (scope, names)
            })
            .collect();
        assert_eq!(
            scopes,
            [
                (
                    "http".to_string(),
                    vec!["http 0".to_string(), "http 1".into(), "http 2".into()]
                ),
                (
                    "db".to_string(),
                    vec!["db 0".to_string(), "db 1".into(), "db 2".into()]
                ),
            ]
        );
    }
}

/// Two providers whose resources encode alike (a key-value list attribute
/// written with each key once, one of them built with a repeated key) send
/// their spans under one resource, not two with the same bytes.
#[test]
fn resources_that_encode_alike_are_one_resource_group() {
    let (capture, bodies) = Capture::new(Encoding::Protobuf, 0);
    let processor = BatchSpanProcessor::builder(capture).build().unwrap();
    let deployment = |entries: Vec<KeyValue>| {
        TracerProvider::builder()
            .with_service_name("cart")
            .with_resource(Resource::new([KeyValue::new("deployment", entries)]))
            .with_processor(processor.clone())
            .build()
    };
    let providers = [
        deployment(vec![
            KeyValue::new("region", "eu"),
            KeyValue::new("zone", "b"),
            KeyValue::new("region", "us"),
        ]),
        deployment(vec![
            KeyValue::new("region", "us"),
            KeyValue::new("zone", "b"),
        ]),
    ];
    for (index, provider) in providers.iter().enumerate() {
        provider.tracer("http").start(format!("span {index}")).end();
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "one batch");
    let request = ExportTraceServiceRequest::decode(bodies[0].as_slice()).unwrap();
    assert_eq!(request.resource_spans.len(), 1, "{request:#?}");
    let spans = &request.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 2);
}

#[test]
fn a_retry_resends_the_same_bytes() {
    let (capture, bodies) = Capture::new(Encoding::Protobuf, 2);
    let processor = BatchSpanProcessor::builder(capture)
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    for i in 0..100 {
        processor.on_end(SpanData::builder(format!("span {i}")).build());
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3, "two failures and a success");
    assert!(bodies.iter().all(|body| *body == bodies[0]));
    assert_eq!(decode_all(&bodies[..1]).len(), 100);
}

#[test]
fn a_json_exporter_gets_what_the_json_encoder_writes() {
    let (capture, bodies) = Capture::new(Encoding::Json, 0);
    let processor = BatchSpanProcessor::builder(capture).build().unwrap();
    let spans: Vec<SpanData> = (0..50)
        .map(|i| {
            SpanData::builder(format!("span {i}"))
                .trace_id(TraceId::random())
                .span_id(SpanId::random())
                .times(10, 20 + i)
                .attributes([
                    KeyValue::new("text", format!("\"quoted\" {i}")),
                    KeyValue::new("number", i as i64),
                    KeyValue::new("ratio", i as f64 / 3.0),
                ])
                .build()
        })
        .collect();
    for span in &spans {
        processor.on_end(span.clone());
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let mut encoded = Vec::new();
    TraceEncoder::new().encode(Encoding::Json, &spans, &mut encoded);
    assert_eq!(*bodies.lock().unwrap(), [encoded]);
}

/// A value nested deeper than a reader allows (the transcoder's and prost's
/// limit of 100 messages) once failed its whole batch as JSON; the encoders
/// now cut it at `MAX_VALUE_DEPTH`, so the span goes out, readable.
#[test]
fn a_span_nested_past_the_depth_limit_is_delivered_as_json_with_the_value_cut() {
    let mut value = AnyValue::from("deep");
    for _ in 0..150 {
        value = AnyValue::Array(vec![value].into());
    }
    let (capture, bodies) = Capture::new(Encoding::Json, 0);
    let processor = BatchSpanProcessor::builder(capture).build().unwrap();
    processor.on_end(
        SpanData::builder("nested")
            .trace_id(TraceId::random())
            .span_id(SpanId::random())
            .attribute(KeyValue::new("deep", value))
            .build(),
    );
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1);
    let request: ExportTraceServiceRequest =
        serde_json::from_slice(&bodies[0]).expect("opentelemetry-proto's serde reads it");
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "nested");
    let stats = processor.stats();
    assert_eq!((stats.failed, stats.exported), (0, 1));
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

#[test]
fn a_span_larger_than_the_whole_queue_is_dropped_and_counted_at_once() {
    let (capture, _) = Capture::new(Encoding::Protobuf, 0);
    let processor = BatchSpanProcessor::builder(capture)
        .with_batch_config(BatchConfig {
            max_queue_bytes: 4 * 1024,
            full_policy: FullPolicy::Block(Duration::from_secs(60)),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    // Refused as it ends, counted too large: had it waited for room, the
    // block policy would have dropped it after its minute as queue-full.
    processor.on_end(
        SpanData::builder("huge")
            .attribute(KeyValue::new("blob", "x".repeat(10_000)))
            .build(),
    );
    processor.on_end(SpanData::builder("small").build());
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_eq!(
        (stats.dropped_oversized, stats.exported),
        (1, 1),
        "{stats:#?}"
    );
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

/// Answers nothing until its gate opens, then accepts.
struct Gated(Arc<AtomicBool>);

impl Exporter for Gated {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        while !self.0.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ExportOutcome::Success
    }
}

#[test]
fn spans_beyond_the_byte_budget_are_dropped_and_counted_then_fit_again() {
    let gate = Arc::new(AtomicBool::new(false));
    // One export at a time, held until the gate opens: the queue cannot drain.
    let processor = BatchSpanProcessor::builder(Gated(Arc::clone(&gate)))
        .with_batch_config(BatchConfig {
            max_queue_bytes: 16 * 1024,
            full_policy: FullPolicy::Drop,
            max_concurrent_exports: 1,
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let span = |i: usize| {
        SpanData::builder(format!("span {i}"))
            .attribute(KeyValue::new("payload", "y".repeat(200)))
            .build()
    };
    // About 230 bytes each: some seventy fit in 16 KiB (a first batch of
    // them may be taken into the held export), the rest do not.
    for i in 0..300 {
        processor.on_end(span(i));
    }
    let stats = processor.stats();
    assert!(stats.dropped_queue_full >= 100, "{stats:#?}");
    assert!(stats.queued_bytes <= 16 * 1024, "{stats:#?}");
    assert_eq!(
        stats.queued + stats.in_flight + stats.dropped_queue_full,
        300,
        "{stats:#?}"
    );
    gate.store(true, Ordering::SeqCst);
    processor.force_flush(Duration::from_secs(10)).unwrap();
    assert_eq!(processor.stats().queued_bytes, 0);
    processor.on_end(span(300));
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_eq!(
        stats.exported,
        300 - stats.dropped_queue_full + 1,
        "{stats:#?}"
    );
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

/// A pipeline of batches of 512 whose scheduled delay is an hour: only the
/// batch size can send anything before shutdown.
fn hour_delay_pipeline() -> (BatchSpanProcessor, Arc<Mutex<Vec<Vec<u8>>>>) {
    let (capture, bodies) = Capture::new(Encoding::Protobuf, 0);
    let processor = BatchSpanProcessor::builder(capture)
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            max_export_batch_size: 512,
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    (processor, bodies)
}

/// Waits (10 s at most; the scheduled delay would be an hour) until a
/// batch of 512 went out; checks the requests hold what was exported, then
/// that shutdown exports the `produced` spans.
fn assert_a_batch_goes_out_then_all(
    processor: BatchSpanProcessor,
    bodies: &Mutex<Vec<Vec<u8>>>,
    produced: u64,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while processor.stats().exported < 512 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = processor.stats();
    assert!(stats.exported >= 512, "{stats:#?}");
    assert_eq!(
        decode_all(&bodies.lock().unwrap()).len() as u64,
        stats.exported
    );
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_eq!(stats.exported, produced, "{stats:#?}");
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

#[test]
fn a_batch_of_small_spans_goes_out_before_the_scheduled_delay() {
    // The spec's batching processor: once the queue holds a batch's worth, a
    // batch is exported even if the scheduled delay has not elapsed. Spans
    // of about 60 bytes fill a thread's block only at some thousand.
    let (processor, bodies) = hour_delay_pipeline();
    for i in 0..600 {
        processor.on_end(SpanData::builder(format!("s{i}")).build());
    }
    assert_a_batch_goes_out_then_all(processor, &bodies, 600);
}

#[test]
fn a_batch_spread_over_several_threads_goes_out_before_the_scheduled_delay() {
    // As above, but no thread's block holds a batch: four threads end 160
    // small spans each (640, with a batch of 512), so only what the blocks
    // hold together can send them before the scheduled delay.
    let (processor, bodies) = hour_delay_pipeline();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let processor = &processor;
            scope.spawn(move || {
                for i in 0..160 {
                    processor.on_end(SpanData::builder(format!("t{thread}s{i}")).build());
                }
            });
        }
    });
    assert_a_batch_goes_out_then_all(processor, &bodies, 640);
}
