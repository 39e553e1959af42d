//! Log records from the native logger API through the real exporters to
//! the embedded receiver on loopback, over gRPC, HTTP/protobuf and
//! HTTP/JSON (gzip too): every record arrives whole (decoded by the
//! receiver with `opentelemetry-proto`), partial success counts the
//! rejected records, and the configuration's logs section decides where
//! they go.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_contrib::pipeline::build_log_processor;
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
use otlp_core::{KeyValue, LogRecord, Severity, SpanContext, SpanId, TraceFlags, TraceId};
use otlp_sdk::LoggerProvider;
use otlp_sdk::config::{Config, ConfigLoader};

#[path = "support/closed_port.rs"]
mod closed_port;
use closed_port::closed_port;

const THREADS: usize = 2;
const PER_THREAD: usize = 250;

/// A configuration from `env` alone (no files, no process environment).
fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_env(env.iter().map(|(name, value)| (*name, *value)))
        .load()
        .expect("a valid configuration")
}

/// Emits THREADS × PER_THREAD records through `config`'s log pipeline and
/// checks each one at the receiver.
fn delivers_every_record(receiver: &Receiver, config: &Config) {
    let processor = build_log_processor(config).expect("the log pipeline starts");
    let provider = LoggerProvider::builder()
        .with_config(config)
        .with_service_name("logs-e2e")
        .with_processor(processor.clone())
        .build();
    let context = SpanContext {
        trace_id: TraceId::random(),
        span_id: SpanId::random(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: Default::default(),
    };
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let logger = provider.logger("e2e");
            let context = &context;
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    logger.emit(
                        LogRecord::builder()
                            .time_unix_nano(1_700_000_000_000_000_000 + i as u64)
                            .severity(Severity::ERROR)
                            .severity_text("ERROR")
                            .body(format!("thread {thread} record {i}"))
                            .attribute(KeyValue::new("record.index", i as i64))
                            .span_context(context)
                            .build(),
                    );
                }
            });
        }
    });
    provider.shutdown(Duration::from_secs(20)).unwrap();
    let stats = processor.stats();
    let total = (THREADS * PER_THREAD) as u64;
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.exported, total, "{stats:#?}");
    assert!(receiver.wait_for_log_records(total, Duration::from_secs(10)));

    let received: HashMap<String, _> = receiver
        .accepted_logs()
        .into_iter()
        .map(|record| {
            let body = match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                Some(Value::StringValue(text)) => text.clone(),
                other => panic!("a string body, not {other:?}"),
            };
            (body, record)
        })
        .collect();
    assert_eq!(received.len() as u64, total, "each record once");
    for thread in 0..THREADS {
        for i in 0..PER_THREAD {
            let record = &received[&format!("thread {thread} record {i}")];
            assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_000 + i as u64);
            assert!(record.observed_time_unix_nano > 0);
            assert_eq!(record.severity_number, 17);
            assert_eq!(record.severity_text, "ERROR");
            assert_eq!(record.trace_id, context.trace_id.to_bytes());
            assert_eq!(record.span_id, context.span_id.to_bytes());
            assert_eq!(record.flags, 1);
            let attribute = &record.attributes[0];
            assert_eq!(attribute.key, "record.index");
            assert_eq!(
                attribute
                    .value
                    .as_ref()
                    .and_then(|value| value.value.clone()),
                Some(Value::IntValue(i as i64))
            );
        }
    }
    let request = &receiver.accepted_log_requests()[0];
    let resource = request.resource_logs[0].resource.as_ref().unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().and_then(|v| v.value.clone())
            == Some(Value::StringValue("logs-e2e".into()))));
    assert_eq!(receiver.span_count(), 0, "logs are not spans");
}

#[test]
fn grpc_delivers_every_record() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.grpc_endpoint().unwrap();
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
    ]);
    delivers_every_record(&receiver, &config);
}

#[test]
fn http_protobuf_appends_v1_logs_to_the_generic_endpoint() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.http_endpoint().unwrap();
    let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    delivers_every_record(&receiver, &config);
}

#[test]
fn http_json_with_gzip_to_the_logs_endpoint_used_as_given() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let url = receiver.http_logs_url().unwrap();
    // The traces settings point elsewhere: the logs ones win for logs.
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &url),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
    ]);
    assert_eq!(config.logs.batch.scheduled_delay, Duration::from_millis(50));
    delivers_every_record(&receiver, &config);
}

#[test]
fn partial_success_counts_rejected_log_records() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    for protocol in ["grpc", "http/json"] {
        let endpoint = match protocol {
            "grpc" => receiver.grpc_endpoint().unwrap(),
            _ => receiver.http_endpoint().unwrap(),
        };
        receiver.push_faults([Fault::PartialSuccess {
            rejected: 3,
            message: "too old".into(),
        }]);
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ]);
        let processor = build_log_processor(&config).unwrap();
        let provider = LoggerProvider::builder()
            .with_processor(processor.clone())
            .build();
        let logger = provider.logger("partial");
        for i in 0..10 {
            logger.emit(LogRecord::builder().body(format!("record {i}")).build());
        }
        let _ = provider.shutdown(Duration::from_secs(10));
        let stats = processor.stats();
        assert!(stats.is_balanced(), "{protocol}: {stats:#?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        assert_eq!(
            (stats.exported, stats.rejected),
            (7, 3),
            "{protocol}: {stats:#?}"
        );
    }
}

#[test]
fn with_logs_durable_directory_records_wait_on_disk_for_a_dead_endpoint_and_arrive_at_the_next_start()
 {
    const RECORDS: usize = 300;
    let dir = std::env::temp_dir().join(format!(
        "otlp-logs-durable-e2e-{}-{}",
        std::process::id(),
        TraceId::random()
    ));
    let directory = dir.to_str().expect("a UTF-8 temporary directory");
    let run = |endpoint: &str| {
        config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTLP__LOGS__DURABLE__DIRECTORY", directory),
            ("OTLP__LOGS__DURABLE__FSYNC", "never"),
            ("OTLP__LOGS__BATCH__SCHEDULED_DELAY", "10ms"),
            ("OTLP__LOGS__BATCH__EXPORT_TIMEOUT", "300ms"),
            ("OTLP__RETRY__INITIAL_BACKOFF", "10ms"),
            ("OTLP__RETRY__MAX_BACKOFF", "50ms"),
        ])
    };

    // First start: nothing listens at the endpoint.
    let (_held, address) = closed_port();
    let dead = format!("http://{address}");
    let first = run(&dead);
    assert_eq!(first.durable, None, "spans keep no queue");
    let processor = build_log_processor(&first).expect("the log pipeline starts");
    let provider = LoggerProvider::builder()
        .with_config(&first)
        .with_service_name("logs-durable")
        .with_processor(processor.clone())
        .build();
    let logger = provider.logger("durable");
    for i in 0..RECORDS {
        logger.emit(
            LogRecord::builder()
                .severity(Severity::WARN)
                .body(format!("durable record {i}"))
                .attribute(KeyValue::new("record.index", i as i64))
                .build(),
        );
    }
    let _ = provider.shutdown(Duration::from_secs(5));
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(
        (stats.exported, stats.dropped, stats.persisted),
        (0, 0, RECORDS as u64),
        "every record waits on disk: {stats:#?}"
    );
    assert!(
        std::fs::read_dir(&dir)
            .expect("the queue's directory")
            .filter_map(Result::ok)
            .any(|entry| entry.path().extension().is_some_and(|ext| ext == "seg")),
        "segment files in {}",
        dir.display()
    );

    // Next start: the receiver is up; the pipeline sends what is on disk first.
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let second = run(&receiver.http_endpoint().unwrap());
    let processor = build_log_processor(&second).expect("the log pipeline starts again");
    let provider = LoggerProvider::builder()
        .with_config(&second)
        .with_service_name("logs-durable")
        .with_processor(processor.clone())
        .build();
    provider.shutdown(Duration::from_secs(20)).unwrap();
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert_eq!(
        (stats.recovered, stats.exported, stats.persisted),
        (RECORDS as u64, RECORDS as u64, 0),
        "{stats:#?}"
    );
    assert!(receiver.wait_for_log_records(RECORDS as u64, Duration::from_secs(10)));
    // Decoded by the receiver with opentelemetry-proto: each record once, whole.
    let mut bodies: Vec<(String, i64)> = receiver
        .accepted_logs()
        .into_iter()
        .map(|record| {
            assert_eq!(record.severity_number, 13, "WARN");
            let body = match record.body.and_then(|body| body.value) {
                Some(Value::StringValue(text)) => text,
                other => panic!("a string body, not {other:?}"),
            };
            let index = match record.attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.value.clone())
            {
                Some(Value::IntValue(index)) => index,
                other => panic!("an int attribute, not {other:?}"),
            };
            (body, index)
        })
        .collect();
    bodies.sort_by_key(|(_, index)| *index);
    let expected: Vec<(String, i64)> = (0..RECORDS)
        .map(|i| (format!("durable record {i}"), i as i64))
        .collect();
    assert_eq!(bodies, expected, "every record once");
    assert_eq!(receiver.span_count(), 0, "nothing sent as spans");
    let _ = std::fs::remove_dir_all(&dir);
}
