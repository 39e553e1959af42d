//! Attribute limits end to end: log records and spans over their limits go
//! through the batch pipeline and are decoded with `opentelemetry-proto` —
//! attributes past the cap discarded and counted in `dropped_*_count`, values
//! truncated by characters (strings) or bytes (byte arrays), bodies kept —
//! with the limits set in code or taken from a loaded configuration (a code
//! call after `with_config` wins). And a log pipeline's errors and last error
//! count log records, not spans.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue as ProtoValue, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLogRecord;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use otlp_core::encode::Encoding;
use otlp_core::{AnyValue, KeyValue, LogRecord};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, ExportError, ExportOutcome, ExportRequest, Exporter,
    LogRecordLimits, LoggerProvider, PipelineError, Signal, SpanLimits, TracerProvider,
};
use prost::Message;

/// Answers every export with `outcome` and keeps the bodies.
#[derive(Clone)]
struct Capture {
    signal: Signal,
    outcome: ExportOutcome,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Capture {
    fn new(signal: Signal) -> Self {
        Capture::answering(signal, ExportOutcome::Success)
    }

    fn answering(signal: Signal, outcome: ExportOutcome) -> Self {
        Capture {
            signal,
            outcome,
            bodies: Arc::default(),
        }
    }

    fn log_records(&self) -> Vec<ProtoLogRecord> {
        let bodies = self.bodies.lock().unwrap();
        bodies
            .iter()
            .flat_map(|body| {
                let request = ExportLogsServiceRequest::decode(body.as_slice()).unwrap();
                request.resource_logs.into_iter().flat_map(|resource| {
                    resource
                        .scope_logs
                        .into_iter()
                        .flat_map(|scope| scope.log_records)
                })
            })
            .collect()
    }

    fn spans(&self) -> Vec<ProtoSpan> {
        let bodies = self.bodies.lock().unwrap();
        bodies
            .iter()
            .flat_map(|body| {
                let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
                request.resource_spans.into_iter().flat_map(|resource| {
                    resource
                        .scope_spans
                        .into_iter()
                        .flat_map(|scope| scope.spans)
                })
            })
            .collect()
    }
}

impl Exporter for Capture {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.bodies.lock().unwrap().push(request.body.to_vec());
        self.outcome.clone()
    }
}

/// A decoded value, compactly.
fn shown(value: &Option<ProtoValue>) -> String {
    match value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::IntValue(int)) => format!("int {int}"),
        Some(Value::BytesValue(bytes)) => format!("bytes {bytes:?}"),
        Some(Value::ArrayValue(array)) => {
            let values: Vec<String> = array
                .values
                .iter()
                .map(|value| shown(&Some(value.clone())))
                .collect();
            format!("[{}]", values.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn attributes(attributes: &[ProtoKeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), shown(&kv.value)))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .load()
        .unwrap()
}

/// A record with five attributes of every truncatable kind and a long body.
fn crowded_record() -> LogRecord {
    LogRecord::builder()
        .body("a body longer than any limit is never cut")
        .attribute(KeyValue::new("text", "héllo wörld"))
        .attribute(KeyValue::new(
            "bytes",
            AnyValue::Bytes(Arc::from(&[1u8, 2, 3, 4, 5, 6][..])),
        ))
        .attribute(KeyValue::new(
            "array",
            AnyValue::from(vec![AnyValue::from("abcdefg"), AnyValue::Int(123_456_789)]),
        ))
        .attribute(KeyValue::new("fourth", "dropped"))
        .attribute(KeyValue::new("fifth", "dropped"))
        .build()
}

fn emit_through(
    builder: otlp_sdk::LoggerProviderBuilder,
    records: impl IntoIterator<Item = LogRecord>,
) -> Vec<ProtoLogRecord> {
    let capture = Capture::new(Signal::Logs);
    let processor = BatchLogProcessor::builder(capture.clone()).build().unwrap();
    let provider = builder.with_processor(processor.clone()).build();
    let logger = provider.logger("limits");
    for record in records {
        logger.emit(record);
    }
    provider.shutdown(Duration::from_secs(5)).unwrap();
    capture.log_records()
}

// ---------------------------------------------------------------- log records

#[test]
fn a_log_record_over_its_limits_arrives_capped_truncated_and_counted() {
    let limits = LogRecordLimits {
        max_attributes: 3,
        max_attribute_value_length: Some(4),
    };
    let mut record = crowded_record();
    record.dropped_attributes_count = 1; // dropped before, by a front door
    let records = emit_through(LoggerProvider::builder().with_log_limits(limits), [record]);
    let [record] = records.as_slice() else {
        panic!("{records:?}")
    };
    assert_eq!(
        attributes(&record.attributes),
        pairs(&[
            ("text", "héll"), // four characters, not four bytes
            ("bytes", "bytes [1, 2, 3, 4]"),
            ("array", "[abcd, int 123456789]"),
        ])
    );
    assert_eq!(record.dropped_attributes_count, 3);
    assert_eq!(
        shown(&record.body),
        "a body longer than any limit is never cut"
    );
}

#[test]
fn log_records_within_the_default_limits_arrive_untouched() {
    let long = "x".repeat(10_000);
    let record = LogRecord::builder()
        .body("many attributes")
        .attributes((0..128).map(|i| KeyValue::new(format!("key{i}"), long.clone())))
        .build();
    let records = emit_through(LoggerProvider::builder(), [record]);
    assert_eq!(records[0].attributes.len(), 128);
    assert!(
        records[0]
            .attributes
            .iter()
            .all(|kv| shown(&kv.value) == long)
    );
    assert_eq!(records[0].dropped_attributes_count, 0);

    let record = LogRecord::builder()
        .attributes((0..130).map(|i| KeyValue::new(format!("key{i}"), i)))
        .build();
    let records = emit_through(LoggerProvider::builder(), [record]);
    assert_eq!(records[0].attributes.len(), 128);
    assert_eq!(records[0].dropped_attributes_count, 2);
}

#[test]
fn log_limits_come_from_the_configuration_and_a_later_code_call_wins() {
    let config = config(&[
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3"),
        // Span limits do not reach log records.
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1"),
    ]);
    let records = emit_through(
        LoggerProvider::builder().with_config(&config),
        [crowded_record()],
    );
    assert_eq!(
        attributes(&records[0].attributes),
        pairs(&[("text", "hél"), ("bytes", "bytes [1, 2, 3]")])
    );
    assert_eq!(records[0].dropped_attributes_count, 3);

    let builder = LoggerProvider::builder()
        .with_config(&config)
        .with_log_limits(LogRecordLimits::default());
    let records = emit_through(builder, [crowded_record()]);
    assert_eq!(records[0].attributes.len(), 5);
    assert_eq!(shown(&records[0].attributes[0].value), "héllo wörld");
    assert_eq!(records[0].dropped_attributes_count, 0);
}

// ---------------------------------------------------------------- spans

fn record_span(builder: otlp_sdk::TracerProviderBuilder) -> ProtoSpan {
    let capture = Capture::new(Signal::Traces);
    let processor = BatchSpanProcessor::builder(capture.clone())
        .build()
        .unwrap();
    let provider = builder.with_processor(processor.clone()).build();
    let tracer = provider.tracer("limits");
    let other = tracer.start("other");
    let linked = other.context().clone();
    drop(other);
    {
        let mut span = tracer.start("crowded");
        span.set_attributes([
            KeyValue::new("a", "abcdefgh"),
            KeyValue::new("b", 2),
            KeyValue::new("c", "third"),
        ]);
        for index in 0..3 {
            span.add_event(
                format!("event {index}"),
                [KeyValue::new("x", "xxxxxx"), KeyValue::new("y", 1)],
            );
        }
        for _ in 0..2 {
            span.add_link(
                &linked,
                [KeyValue::new("l", "llllll"), KeyValue::new("m", 1)],
            );
        }
    }
    provider.shutdown(Duration::from_secs(5)).unwrap();
    capture
        .spans()
        .into_iter()
        .find(|span| span.name == "crowded")
        .unwrap()
}

#[test]
fn span_limits_come_from_the_configuration_and_a_later_code_call_wins() {
    let config = config(&[
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "1"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "2"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "1"),
        // Log record limits do not reach spans.
        ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1"),
    ]);
    let span = record_span(TracerProvider::builder().with_config(&config));
    assert_eq!(
        attributes(&span.attributes),
        pairs(&[("a", "abcde"), ("b", "int 2")])
    );
    assert_eq!(span.dropped_attributes_count, 1);
    assert_eq!(span.events.len(), 2);
    assert_eq!(span.dropped_events_count, 1);
    for event in &span.events {
        // The generic count: one attribute per event.
        assert_eq!(attributes(&event.attributes), pairs(&[("x", "xxxxx")]));
        assert_eq!(event.dropped_attributes_count, 1);
    }
    assert_eq!(span.links.len(), 1);
    assert_eq!(span.dropped_links_count, 1);
    assert_eq!(
        attributes(&span.links[0].attributes),
        pairs(&[("l", "lllll")])
    );
    assert_eq!(span.links[0].dropped_attributes_count, 1);

    let builder = TracerProvider::builder()
        .with_config(&config)
        .with_span_limits(SpanLimits::default());
    let span = record_span(builder);
    assert_eq!(span.attributes.len(), 3);
    assert_eq!(shown(&span.attributes[0].value), "abcdefgh");
    assert_eq!((span.events.len(), span.links.len()), (3, 2));
    assert_eq!(span.dropped_attributes_count, 0);
}

// ---------------------------------------------------------------- a log pipeline's messages

#[test]
fn a_log_pipelines_errors_count_log_records() {
    let failing = Capture::answering(
        Signal::Logs,
        ExportOutcome::Permanent {
            error: ExportError::Request("refused".into()),
        },
    );
    let processor = BatchLogProcessor::builder(failing).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let logger = provider.logger("errors");
    for _ in 0..3 {
        logger.emit(LogRecord::builder().body("lost").build());
    }
    let error = provider.force_flush(Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        error,
        PipelineError::Undelivered {
            failed: 3,
            rejected: 0,
            signal: Signal::Logs
        }
    );
    assert_eq!(
        error.to_string(),
        "3 log records failed to export and 0 were rejected by the backend"
    );
    let _ = provider.shutdown(Duration::from_secs(5));

    let partial = Capture::answering(
        Signal::Logs,
        ExportOutcome::PartialSuccess {
            rejected_spans: 1,
            message: "one too many".into(),
        },
    );
    let processor = BatchLogProcessor::builder(partial).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    provider
        .logger("errors")
        .emit(LogRecord::builder().body("rejected").build());
    let error = provider.shutdown(Duration::from_secs(5)).unwrap_err();
    assert!(
        error.to_string().starts_with("0 log records failed"),
        "{error}"
    );
    assert_eq!(
        processor.stats().last_error.as_deref(),
        Some("partial success: 1 log record rejected: one too many")
    );
}

#[test]
fn a_repeated_key_reaches_the_wire_once_in_events_links_and_log_records() {
    let repeated = || {
        [
            KeyValue::new("k", "first"),
            KeyValue::new("other", 1),
            KeyValue::new("k", "last"),
        ]
    };
    let expected = pairs(&[("k", "last"), ("other", "int 1")]);
    let config = config(&[
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "2"),
    ]);

    let capture = Capture::new(Signal::Traces);
    let processor = BatchSpanProcessor::builder(capture.clone())
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(processor)
        .build();
    let tracer = provider.tracer("repeats");
    let linked = tracer.start("other").context().clone();
    {
        let mut span = tracer
            .span_builder("repeats")
            .link(&linked, repeated())
            .start();
        span.add_event("event", repeated());
        span.add_link(&linked, repeated());
    }
    provider.shutdown(Duration::from_secs(5)).unwrap();
    let spans = capture.spans();
    let span = spans.iter().find(|span| span.name == "repeats").unwrap();
    assert_eq!(attributes(&span.events[0].attributes), expected);
    assert_eq!(span.events[0].dropped_attributes_count, 0);
    assert_eq!(span.links.len(), 2);
    for link in &span.links {
        assert_eq!(attributes(&link.attributes), expected);
        assert_eq!(link.dropped_attributes_count, 0);
    }

    let record = LogRecord::builder().attributes(repeated()).build();
    let records = emit_through(LoggerProvider::builder().with_config(&config), [record]);
    assert_eq!(attributes(&records[0].attributes), expected);
    assert_eq!(records[0].dropped_attributes_count, 0);
}
