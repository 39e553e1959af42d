//! The `log` crate's front door: records through `OtlpLogger` and the real
//! pipeline (gRPC exporter) to the embedded receiver, which decodes them
//! with `opentelemetry-proto`.
//!
//! One test installs `OtlpLogger` as the process's logger and writes
//! through the `log` macros; the others call `log::Log::log` on a logger of
//! their own, so that they do not depend on the global one.

use std::time::Duration;

use log::kv::Value as KvValue;
use log::{Level, LevelFilter, Log as _, Record};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLogRecord;
use otlp_contrib::log_bridge::{DEFAULT_SCOPE, OtlpLogger};
use otlp_contrib::pipeline::{build_log_processor, build_processor};
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::tracing::OtlpLayer;
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{BatchLogProcessor, LoggerProvider, TracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// Traces and logs over gRPC to `receiver`.
fn grpc_config(receiver: &Receiver) -> Config {
    let endpoint = receiver.grpc_endpoint().expect("gRPC is on");
    ConfigLoader::new()
        .with_env([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ])
        .load()
        .expect("the configuration loads")
}

/// A receiver and a logger provider exporting to it over gRPC.
struct Pipeline {
    receiver: Receiver,
    provider: LoggerProvider,
    processor: BatchLogProcessor,
}

impl Pipeline {
    fn new() -> Self {
        let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
        let config = grpc_config(&receiver);
        let processor = build_log_processor(&config).expect("the log pipeline builds");
        let provider = LoggerProvider::builder()
            .with_service_name("log-crate-test")
            .with_processor(processor.clone())
            .build();
        Pipeline {
            receiver,
            provider,
            processor,
        }
    }

    /// Shuts the pipeline down; every record it took arrived.
    fn finish(self, expected: u64) -> Vec<ProtoLogRecord> {
        self.provider.shutdown(PATIENCE).expect("shuts down");
        let stats = self.processor.stats();
        assert!(stats.is_balanced(), "{stats:#?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        assert_eq!(stats.produced, expected, "{stats:#?}");
        assert_eq!(stats.exported, expected, "{stats:#?}");
        assert!(self.receiver.wait_for_log_records(expected, PATIENCE));
        let requests = self.receiver.accepted_log_requests();
        for request in &requests {
            for resource_logs in &request.resource_logs {
                for scope_logs in &resource_logs.scope_logs {
                    let scope = scope_logs.scope.as_ref().expect("a scope");
                    assert_eq!(scope.name, DEFAULT_SCOPE);
                }
            }
        }
        self.receiver.accepted_logs()
    }
}

fn body_of(record: &ProtoLogRecord) -> Option<&str> {
    match record.body.as_ref()?.value.as_ref()? {
        Value::StringValue(text) => Some(text),
        _ => None,
    }
}

fn record<'a>(records: &'a [ProtoLogRecord], body: &str) -> &'a ProtoLogRecord {
    let mut found = records
        .iter()
        .filter(|record| body_of(record) == Some(body));
    let record = found.next().unwrap_or_else(|| panic!("no record {body:?}"));
    assert!(found.next().is_none(), "several records {body:?}");
    record
}

fn attribute<'a>(record: &'a ProtoLogRecord, key: &str) -> Option<&'a Value> {
    record
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn string(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

/// The one test with the global logger: the `log` macros, a maximum level,
/// key-values, and the ids of the `tracing` span the record is written in.
#[test]
fn the_log_macros_arrive_with_severity_body_and_attributes() {
    let pipeline = Pipeline::new();
    OtlpLogger::new(&pipeline.provider)
        .install(LevelFilter::Debug)
        .expect("the only logger in this binary");
    assert_eq!(log::max_level(), LevelFilter::Debug);
    assert!(!log::logger().enabled(&log::Metadata::builder().level(Level::Trace).build()));
    assert!(log::logger().enabled(&log::Metadata::builder().level(Level::Debug).build()));

    log::trace!("below the maximum level");
    log::debug!("at debug");
    log::info!(order_id = 42, express = true, weight = 1.5, carrier = "post"; "order {} placed", 42);
    log::warn!(target: "payments", "at warn");
    log::error!("at error");

    // Inside a `tracing` span an OtlpLayer records: that span's ids.
    let span_processor =
        build_processor(&grpc_config(&pipeline.receiver)).expect("the span pipeline builds");
    let tracers = TracerProvider::builder()
        .with_processor(span_processor.clone())
        .build();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(OtlpLayer::new(&tracers)),
        || {
            let _span = tracing::info_span!("request").entered();
            log::info!("in a span");
        },
    );
    tracers.shutdown(PATIENCE).expect("spans shut down");
    assert!(pipeline.receiver.wait_for_spans(1, PATIENCE));
    let span = pipeline.receiver.accepted_spans().remove(0);

    let records = pipeline.finish(5);
    for (body, number, text) in [
        ("at debug", 5, "DEBUG"),
        ("order 42 placed", 9, "INFO"),
        ("at warn", 13, "WARN"),
        ("at error", 17, "ERROR"),
        ("in a span", 9, "INFO"),
    ] {
        let record = record(&records, body);
        assert_eq!(record.severity_number, number, "{body}");
        assert_eq!(record.severity_text, text, "{body}");
        assert!(record.time_unix_nano > 0);
        assert!(record.observed_time_unix_nano >= record.time_unix_nano);
    }
    let order = record(&records, "order 42 placed");
    assert_eq!(attribute(order, "order_id"), Some(&Value::IntValue(42)));
    assert_eq!(attribute(order, "express"), Some(&Value::BoolValue(true)));
    assert_eq!(attribute(order, "weight"), Some(&Value::DoubleValue(1.5)));
    assert_eq!(attribute(order, "carrier"), Some(&string("post")));
    assert_eq!(attribute(order, "target"), Some(&string(module_path!())));
    assert_eq!(
        attribute(order, "code.module.name"),
        Some(&string(module_path!()))
    );
    assert_eq!(attribute(order, "code.file.path"), Some(&string(file!())));
    assert!(matches!(
        attribute(order, "code.line.number"),
        Some(Value::IntValue(line)) if *line > 0
    ));
    assert!(order.trace_id.is_empty(), "outside any span");
    assert_eq!(
        attribute(record(&records, "at warn"), "target"),
        Some(&string("payments"))
    );
    let in_span = record(&records, "in a span");
    assert_eq!(in_span.trace_id, span.trace_id);
    assert_eq!(in_span.span_id, span.span_id);
    assert_eq!(in_span.flags, 0x03, "sampled, and random: a native root");
}

#[test]
fn enabled_honours_the_maximum_level() {
    let provider = Pipeline::new();
    let logger = OtlpLogger::builder(&provider.provider)
        .with_max_level(LevelFilter::Warn)
        .build();
    assert_eq!(logger.max_level(), LevelFilter::Warn);
    let at = |level| log::Metadata::builder().level(level).build();
    assert!(!logger.enabled(&at(Level::Info)));
    assert!(logger.enabled(&at(Level::Warn)));
    assert!(logger.enabled(&at(Level::Error)));
    logger.log(
        &Record::builder()
            .level(Level::Info)
            .args(format_args!("dropped"))
            .build(),
    );
    logger.log(
        &Record::builder()
            .level(Level::Error)
            .args(format_args!("kept"))
            .build(),
    );
    let records = provider.finish(1);
    assert_eq!(body_of(&records[0]), Some("kept"));
}

#[test]
fn key_values_keep_their_types_and_location_can_be_left_out() {
    let pipeline = Pipeline::new();
    let logger = OtlpLogger::builder(&pipeline.provider)
        .with_location(false)
        .build();
    let shown = std::net::Ipv4Addr::LOCALHOST;
    let key_values = [
        ("count", KvValue::from(-3_i64)),
        ("big", KvValue::from(u64::MAX)),
        ("ratio", KvValue::from(0.25_f64)),
        ("ok", KvValue::from(false)),
        ("name", KvValue::from("disk")),
        ("address", KvValue::from_display(&shown)),
    ];
    logger.log(
        &Record::builder()
            .level(Level::Warn)
            .target("storage")
            .file(Some("src/storage.rs"))
            .line(Some(7))
            .module_path(Some("app::storage"))
            .key_values(&key_values)
            .args(format_args!("disk {} almost full", "sda"))
            .build(),
    );
    let records = pipeline.finish(1);
    let record = &records[0];
    assert_eq!(body_of(record), Some("disk sda almost full"));
    assert_eq!(attribute(record, "count"), Some(&Value::IntValue(-3)));
    assert_eq!(
        attribute(record, "big"),
        Some(&string("18446744073709551615"))
    );
    assert_eq!(attribute(record, "ratio"), Some(&Value::DoubleValue(0.25)));
    assert_eq!(attribute(record, "ok"), Some(&Value::BoolValue(false)));
    assert_eq!(attribute(record, "name"), Some(&string("disk")));
    assert_eq!(attribute(record, "address"), Some(&string("127.0.0.1")));
    assert_eq!(attribute(record, "target"), Some(&string("storage")));
    assert_eq!(attribute(record, "code.file.path"), None);
    assert_eq!(attribute(record, "code.line.number"), None);
    assert_eq!(attribute(record, "code.module.name"), None);
    assert!(record.trace_id.is_empty());
}

/// A key-value named like one of the record's own attributes (`target`,
/// `code.*`) wins over it; past the attribute limit (128 by default), the
/// key-values are dropped, and the record's own attributes are kept.
#[test]
fn key_values_named_like_the_records_fields_win_and_the_limit_drops_key_values_first() {
    let pipeline = Pipeline::new();
    let logger = OtlpLogger::new(&pipeline.provider);
    let mut key_values: Vec<(String, KvValue<'static>)> = vec![
        ("target".to_owned(), KvValue::from("upstream.billing")),
        (
            "code.file.path".to_owned(),
            KvValue::from("billing/charge.py"),
        ),
        ("code.line.number".to_owned(), KvValue::from(88_i64)),
    ];
    key_values.extend((0..200_i64).map(|index| (format!("k{index}"), KvValue::from(index))));
    logger.log(
        &Record::builder()
            .level(Level::Info)
            .target("relay")
            .file(Some("src/relay.rs"))
            .line(Some(7))
            .module_path(Some("app::relay"))
            .key_values(&key_values)
            .args(format_args!("relayed"))
            .build(),
    );
    let records = pipeline.finish(1);
    let record = &records[0];
    assert_eq!(
        attribute(record, "target"),
        Some(&string("upstream.billing"))
    );
    assert_eq!(
        attribute(record, "code.file.path"),
        Some(&string("billing/charge.py"))
    );
    assert_eq!(
        attribute(record, "code.line.number"),
        Some(&Value::IntValue(88))
    );
    assert_eq!(
        attribute(record, "code.module.name"),
        Some(&string("app::relay"))
    );
    // 4 own attributes and 200 other key-values: 204 distinct keys, 128 kept.
    assert_eq!(record.attributes.len(), 128);
    assert_eq!(record.dropped_attributes_count, 76);
    assert_eq!(attribute(record, "k0"), Some(&Value::IntValue(0)));
    assert_eq!(attribute(record, "k123"), Some(&Value::IntValue(123)));
    assert_eq!(attribute(record, "k124"), None);
}

/// A null key-value (`key = Option::<u32>::None`, `Value::null()`) is left
/// out, not written as the text "None"; `Some` is its value.
#[test]
fn a_none_key_value_is_left_out() {
    use log::kv::ToValue as _;

    let pipeline = Pipeline::new();
    let logger = OtlpLogger::new(&pipeline.provider);
    let absent: Option<u32> = None;
    let present: Option<u32> = Some(5);
    let key_values = [
        ("absent", absent.to_value()),
        ("null", KvValue::null()),
        ("present", present.to_value()),
    ];
    logger.log(
        &Record::builder()
            .level(Level::Info)
            .key_values(&key_values)
            .args(format_args!("optional fields"))
            .build(),
    );
    let records = pipeline.finish(1);
    let record = &records[0];
    assert_eq!(attribute(record, "absent"), None);
    assert_eq!(attribute(record, "null"), None);
    assert_eq!(attribute(record, "present"), Some(&Value::IntValue(5)));
}

#[test]
fn nothing_is_recorded_on_a_pipelines_own_threads() {
    let pipeline = Pipeline::new();
    let logger = OtlpLogger::new(&pipeline.provider);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            otlp_sdk::own_threads::enter();
            let metadata = log::Metadata::builder().level(Level::Error).build();
            assert!(!logger.enabled(&metadata));
            logger.log(
                &Record::builder()
                    .level(Level::Error)
                    .args(format_args!("inside the pipeline"))
                    .build(),
            );
        });
    });
    logger.log(
        &Record::builder()
            .level(Level::Error)
            .args(format_args!("application"))
            .build(),
    );
    let records = pipeline.finish(1);
    assert_eq!(body_of(&records[0]), Some("application"));
}

/// Logs "inside" within `current` (which makes a span current and runs its
/// argument) and "outside" after it; returns the two records as received.
fn logged_inside_and_outside(
    current: impl FnOnce(&mut dyn FnMut()),
) -> (ProtoLogRecord, ProtoLogRecord) {
    let pipeline = Pipeline::new();
    let logger = OtlpLogger::builder(&pipeline.provider).build();
    let log = |body: &str| {
        logger.log(
            &Record::builder()
                .level(Level::Info)
                .target("current")
                .args(format_args!("{body}"))
                .build(),
        );
    };
    current(&mut || log("inside"));
    log("outside");
    let records = pipeline.finish(2);
    let inside = record(&records, "inside").clone();
    let outside = record(&records, "outside").clone();
    assert!(outside.trace_id.is_empty() && outside.span_id.is_empty());
    (inside, outside)
}

/// A record written inside a span of the native API (made active with
/// `otlp_sdk::active_span::in_span`, no `tracing` span around it) carries
/// that span's ids and flags, as the specification has a record take its
/// trace context from the current one: the W3C level 2 random flag
/// included, reserved bits not.
#[test]
fn a_record_inside_an_active_native_span_carries_its_ids_and_flags() {
    use otlp_core::{SpanContext, SpanId, TraceFlags, TraceId};
    // (the span's flags, the record's): sampled; sampled, random and a reserved bit.
    for (flags, expected) in [(TraceFlags::SAMPLED, 0x01), (TraceFlags::new(0x07), 0x03)] {
        let context = SpanContext::new(
            TraceId::from_bytes([7; 16]),
            SpanId::from_bytes([9; 8]),
            flags,
        );
        let (inside, _) =
            logged_inside_and_outside(|log| otlp_sdk::active_span::in_span(&context, log));
        assert_eq!(inside.trace_id, vec![7; 16]);
        assert_eq!(inside.span_id, vec![9; 8]);
        assert_eq!(inside.flags, expected, "from {flags:?}");
    }
}

/// A record written inside a span made current through the `opentelemetry`
/// API (no `tracing` span, no native active span) carries that span's ids
/// and its W3C trace flags (OTLP `LogRecord.flags`, bits 0-7): the level 2
/// random flag (0x02) included, reserved bits, which W3C has vendors set to
/// zero, not.
#[cfg(feature = "opentelemetry-bridge")]
#[test]
fn a_record_inside_a_current_opentelemetry_span_carries_its_ids_and_flags() {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };
    // (the span's flags, the record's): sampled; sampled, random and a reserved bit.
    for (flags, expected) in [(TraceFlags::SAMPLED, 0x01), (TraceFlags::new(0x07), 0x03)] {
        let context = SpanContext::new(
            TraceId::from_bytes([5; 16]),
            SpanId::from_bytes([6; 8]),
            flags,
            true,
            TraceState::NONE,
        );
        let (inside, _) = logged_inside_and_outside(|log| {
            let _current = opentelemetry::Context::current()
                .with_remote_span_context(context)
                .attach();
            log();
        });
        assert_eq!(inside.trace_id, vec![5; 16]);
        assert_eq!(inside.span_id, vec![6; 8]);
        assert_eq!(inside.flags, expected, "from {flags:?}");
    }
}
