//! The `opentelemetry_sdk` front door for logs (issue 16): an
//! `SdkLoggerProvider` with `OpenTelemetryTracingBridge` (and the logs API
//! used directly) whose records reach the embedded receiver, over gRPC and
//! HTTP, through `OtlpLogProcessor` (the one-line switch) and through
//! `SdkLogExporter` under the SDK's own `BatchLogProcessor`.
//!
//! Field for field: a reference processor on the same provider keeps each
//! record as the SDK hands it over, and `opentelemetry-proto`'s own
//! conversion (what `opentelemetry-otlp` sends) turns those into the
//! expected messages; what the receiver decoded must equal them — severity
//! number and text, body, typed attributes, trace and span ids, flags,
//! times, event name, scope, resource.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{InstrumentationScope, Key, KeyValue, SpanId, TraceFlags, TraceId};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoAnyValue, InstrumentationScope as ProtoScope, KeyValue as ProtoKeyValue,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoLogRecord, ResourceLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogProcessor, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use otlp_contrib::bridge::{BridgeError, OtlpLogProcessor, SdkLogExporter};
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_core::encode::Encoding;
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::ConfigLoader;
use otlp_sdk::{BatchLogProcessor, DynExporter, ExportOutcome, ExportRequest, Exporter, Signal};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/one_value_per_key.rs"]
mod one_value_per_key;
use one_value_per_key::one_value_per_key;

const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    Http,
}

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("the receiver starts on loopback")
}

/// A log exporter of `transport` to `receiver`.
fn log_exporter(receiver: &Receiver, transport: Transport) -> Box<dyn DynExporter> {
    match transport {
        Transport::Grpc => Box::new(
            GrpcExporter::builder()
                .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
                .signal(Signal::Logs)
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a valid gRPC exporter"),
        ),
        Transport::Http => Box::new(
            HttpExporter::builder()
                .endpoint(receiver.http_endpoint().expect("HTTP listener"))
                .signal(Signal::Logs)
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a valid HTTP exporter"),
        ),
    }
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("bridge-logs")
        .with_attribute(KeyValue::new("deployment.environment.name", "test"))
        .build()
}

/// Keeps every record as the SDK hands it to processors (after the logger
/// filled in the trace context and observed time), as the SDK's own
/// `BatchLogProcessor` copies it for its exporter.
#[derive(Clone, Debug, Default)]
struct Reference(Arc<Mutex<Vec<(SdkLogRecord, InstrumentationScope)>>>);

impl LogProcessor for Reference {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.0
            .lock()
            .expect("not poisoned")
            .push((record.clone(), scope.clone()));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl Reference {
    fn len(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }

    /// What `opentelemetry-otlp` would send for the kept records, but for one
    /// difference: a key added twice (the record's `dup`) is sent once, with
    /// its last value, in its first place.
    fn expected(&self, resource: &Resource) -> Vec<Delivered> {
        let records = self.0.lock().expect("not poisoned").clone();
        let borrowed: Vec<(&SdkLogRecord, &InstrumentationScope)> = records
            .iter()
            .map(|(record, scope)| (record, scope))
            .collect();
        let batch = LogBatch::new(&borrowed);
        let mut expected = flatten(group_logs_by_resource_and_scope(
            &batch,
            &ResourceAttributesWithSchema::from(resource),
        ));
        for delivered in &mut expected {
            one_value_per_key(&mut delivered.record.attributes);
            if let Some(scope) = &mut delivered.scope {
                one_value_per_key(&mut scope.attributes);
            }
        }
        expected
    }
}

/// One log record with the resource and scope it was sent under.
#[derive(Clone, Debug, PartialEq)]
struct Delivered {
    resource: Option<ProtoResource>,
    resource_schema_url: String,
    scope: Option<ProtoScope>,
    scope_schema_url: String,
    record: ProtoLogRecord,
}

impl Delivered {
    fn body(&self) -> Option<&Value> {
        self.record
            .body
            .as_ref()
            .and_then(|body| body.value.as_ref())
    }

    fn attribute(&self, key: &str) -> Option<&Value> {
        self.record
            .attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| attribute.value.as_ref())
            .and_then(|value| value.value.as_ref())
    }

    fn scope_name(&self) -> &str {
        self.scope.as_ref().map_or("", |scope| scope.name.as_str())
    }
}

/// Every record with its resource and scope, maps and resource attributes
/// in key order (neither has an order of its own), sorted.
fn flatten(resource_logs: impl IntoIterator<Item = ResourceLogs>) -> Vec<Delivered> {
    let mut flat = Vec::new();
    for resource_logs in resource_logs {
        let mut resource = resource_logs.resource;
        if let Some(resource) = &mut resource {
            resource.attributes.sort_by(|a, b| a.key.cmp(&b.key));
        }
        for scope_logs in resource_logs.scope_logs {
            for mut record in scope_logs.log_records {
                if let Some(body) = &mut record.body {
                    sort_maps(body);
                }
                for attribute in &mut record.attributes {
                    if let Some(value) = &mut attribute.value {
                        sort_maps(value);
                    }
                }
                flat.push(Delivered {
                    resource: resource.clone(),
                    resource_schema_url: resource_logs.schema_url.clone(),
                    scope: scope_logs.scope.clone(),
                    scope_schema_url: scope_logs.schema_url.clone(),
                    record,
                });
            }
        }
    }
    flat.sort_by_key(|delivered| format!("{delivered:?}"));
    flat
}

fn sort_maps(value: &mut ProtoAnyValue) {
    match &mut value.value {
        Some(Value::KvlistValue(list)) => {
            list.values.sort_by(|a, b| a.key.cmp(&b.key));
            for entry in &mut list.values {
                if let Some(value) = &mut entry.value {
                    sort_maps(value);
                }
            }
        }
        Some(Value::ArrayValue(array)) => array.values.iter_mut().for_each(sort_maps),
        _ => {}
    }
}

/// What the receiver decoded, flattened as [`Reference::expected`].
fn received(receiver: &Receiver, count: u64) -> Vec<Delivered> {
    assert!(
        receiver.wait_for_log_records(count, PATIENCE),
        "{count} records expected, {} arrived",
        receiver.log_record_count()
    );
    flatten(
        receiver
            .accepted_log_requests()
            .into_iter()
            .flat_map(|request| request.resource_logs),
    )
}

fn assert_same(received: &[Delivered], expected: &[Delivered]) {
    assert_eq!(received.len(), expected.len(), "{received:#?}");
    for (received, expected) in received.iter().zip(expected) {
        assert_eq!(received, expected);
    }
}

fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

/// Emits the application's records: `tracing` events inside a
/// `tracing-opentelemetry` span and outside any, and one record through the
/// logs API with every value kind. Returns the span's trace and span ids.
fn emit_application_records(loggers: &SdkLoggerProvider) -> (TraceId, SpanId) {
    let tracers = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracers.tracer("bridge-logs")))
        .with(OpenTelemetryTracingBridge::new(loggers));
    let ids = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("checkout");
        let _entered = span.enter();
        tracing::info!(
            order.id = 42_i64,
            paid = true,
            ratio = 0.5,
            customer = "ada",
            "order placed"
        );
        tracing::warn!(retries = 3_u64, huge = u64::MAX, "slow payment");
        let context = span.context();
        let span_context = context.span().span_context().clone();
        drop(_entered);
        tracing::error!(code = -1_i64, "outside any span");
        (span_context.trace_id(), span_context.span_id())
    });

    let logger = loggers.logger_with_scope(
        InstrumentationScope::builder("direct")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", 7)])
            .build(),
    );
    let mut record = logger.create_log_record();
    record.set_timestamp(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    record.set_severity_number(Severity::Fatal2);
    record.set_severity_text("CRIT");
    record.set_event_name("inventory.snapshot");
    let mut nested = std::collections::HashMap::new();
    nested.insert(Key::from_static_str("depth"), AnyValue::Int(2));
    let mut map = std::collections::HashMap::new();
    map.insert(
        Key::from_static_str("nested"),
        AnyValue::Map(Box::new(nested)),
    );
    map.insert(
        Key::from_static_str("items"),
        AnyValue::ListAny(Box::new(vec![
            AnyValue::String("apple".into()),
            AnyValue::Double(1.5),
            AnyValue::Boolean(false),
        ])),
    );
    map.insert(
        Key::from_static_str("raw"),
        AnyValue::Bytes(Box::new(vec![0, 255, 7])),
    );
    record.set_body(AnyValue::Map(Box::new(map)));
    record.add_attribute("bytes", AnyValue::Bytes(Box::new(vec![1, 2, 3])));
    record.add_attribute(
        "list",
        AnyValue::ListAny(Box::new(vec![AnyValue::Int(1), AnyValue::Int(2)])),
    );
    record.add_attribute(
        "a.key.long.enough.to.be.interned",
        "a value longer than twenty-three bytes",
    );
    record.set_trace_context(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        Some(TraceFlags::SAMPLED),
    );
    logger.emit(record);
    ids
}

const APPLICATION_RECORDS: u64 = 4;

/// Checks what the application emitted beyond the reference comparison:
/// the correlation with the span, the typed fields, the scope names.
fn assert_application_records(delivered: &[Delivered], (trace_id, span_id): (TraceId, SpanId)) {
    let find = |body: &str| {
        delivered
            .iter()
            .find(|record| record.body() == Some(&text(body)))
            .unwrap_or_else(|| panic!("no record {body:?} in {delivered:#?}"))
    };
    let placed = find("order placed");
    assert_eq!(placed.record.severity_number, 9);
    assert_eq!(placed.record.severity_text, "INFO");
    assert_eq!(placed.record.trace_id, trace_id.to_bytes().to_vec());
    assert_eq!(placed.record.span_id, span_id.to_bytes().to_vec());
    assert_eq!(placed.record.flags, 1, "sampled");
    assert!(placed.record.observed_time_unix_nano > 0);
    assert!(placed.record.event_name.starts_with("event "), "{placed:?}");
    assert_eq!(placed.attribute("order.id"), Some(&Value::IntValue(42)));
    assert_eq!(placed.attribute("paid"), Some(&Value::BoolValue(true)));
    assert_eq!(placed.attribute("ratio"), Some(&Value::DoubleValue(0.5)));
    assert_eq!(placed.attribute("customer"), Some(&text("ada")));
    assert_eq!(placed.scope_name(), "bridge_logs", "the event's target");

    let slow = find("slow payment");
    assert_eq!(
        (
            slow.record.severity_number,
            slow.record.severity_text.as_str()
        ),
        (13, "WARN")
    );
    assert_eq!(slow.attribute("retries"), Some(&Value::IntValue(3)));
    assert_eq!(slow.attribute("huge"), Some(&text(&u64::MAX.to_string())));
    assert_eq!(slow.record.span_id, placed.record.span_id);

    let outside = find("outside any span");
    assert_eq!(outside.record.severity_number, 17);
    assert!(outside.record.trace_id.is_empty() && outside.record.span_id.is_empty());
    assert_eq!(outside.record.flags, 0);

    let direct = delivered
        .iter()
        .find(|record| record.scope_name() == "direct")
        .expect("the logs API's record");
    assert_eq!(direct.record.severity_number, 22);
    assert_eq!(direct.record.severity_text, "CRIT");
    assert_eq!(direct.record.event_name, "inventory.snapshot");
    assert_eq!(direct.record.time_unix_nano, 1_700_000_000_000_000_000);
    let scope = direct.scope.as_ref().expect("a scope");
    assert_eq!(scope.version, "1.2.3");
    assert_eq!(
        direct.scope_schema_url,
        "https://opentelemetry.io/schemas/1.30.0"
    );
    assert_eq!(scope.attributes.len(), 1);
    let Some(Value::KvlistValue(body)) = direct.body() else {
        panic!("a map body: {direct:?}")
    };
    let keys: Vec<&str> = body.values.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["items", "nested", "raw"]);
    assert!(matches!(
        direct.attribute("bytes"),
        Some(Value::BytesValue(bytes)) if bytes == &[1, 2, 3]
    ));

    for record in delivered {
        let resource = record.resource.as_ref().expect("a resource");
        let service = resource
            .attributes
            .iter()
            .find(|attribute| attribute.key == "service.name")
            .and_then(|attribute: &ProtoKeyValue| attribute.value.as_ref())
            .and_then(|value| value.value.as_ref());
        assert_eq!(service, Some(&text("bridge-logs")));
    }
}

fn the_one_line_switch_delivers_every_field(transport: Transport) {
    let receiver = receiver();
    let pipeline = BatchLogProcessor::builder(log_exporter(&receiver, transport))
        .build()
        .expect("the log pipeline starts");
    let reference = Reference::default();
    let loggers = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_log_processor(reference.clone())
        .with_log_processor(OtlpLogProcessor::new(pipeline.clone()))
        .build();

    let ids = emit_application_records(&loggers);
    loggers
        .shutdown_with_timeout(PATIENCE)
        .expect("the pipeline shuts down");

    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(
        (stats.produced, stats.exported),
        (APPLICATION_RECORDS, APPLICATION_RECORDS),
        "{stats:#?}"
    );
    assert_eq!(reference.len() as u64, APPLICATION_RECORDS);
    let delivered = received(&receiver, APPLICATION_RECORDS);
    assert_same(&delivered, &reference.expected(&resource()));
    assert_application_records(&delivered, ids);
}

#[test]
fn the_one_line_switch_delivers_every_field_over_grpc() {
    the_one_line_switch_delivers_every_field(Transport::Grpc);
}

#[test]
fn the_one_line_switch_delivers_every_field_over_http() {
    the_one_line_switch_delivers_every_field(Transport::Http);
}

fn sdk_log_exporter_delivers_every_field(transport: Transport) {
    let receiver = receiver();
    let exporter = SdkLogExporter::builder(log_exporter(&receiver, transport))
        .with_export_timeout(Duration::from_secs(5))
        .build()
        .expect("the adapter builds");
    let reference = Reference::default();
    let loggers = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_log_processor(reference.clone())
        .with_batch_exporter(exporter)
        .build();

    let ids = emit_application_records(&loggers);
    loggers
        .shutdown()
        .expect("the SDK's batch processor shuts down");

    let delivered = received(&receiver, APPLICATION_RECORDS);
    assert_same(&delivered, &reference.expected(&resource()));
    assert_application_records(&delivered, ids);
}

#[test]
fn sdk_log_exporter_under_the_sdks_batch_processor_over_grpc() {
    sdk_log_exporter_delivers_every_field(Transport::Grpc);
}

#[test]
fn sdk_log_exporter_under_the_sdks_batch_processor_over_http() {
    sdk_log_exporter_delivers_every_field(Transport::Http);
}

#[test]
fn sdk_log_exporter_refuses_an_exporter_built_for_traces() {
    let receiver = receiver();
    let traces = GrpcExporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
        .build()
        .expect("a valid exporter");
    let error = SdkLogExporter::new(traces).expect_err("refused");
    assert!(
        matches!(
            error,
            BridgeError::WrongSignal {
                expected: Signal::Logs,
                found: Signal::Traces,
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("Signal::Logs"), "{error}");
}

#[test]
fn from_config_takes_the_logs_settings_and_names_the_service() {
    let receiver = receiver();
    let logs_url = receiver.http_logs_url().expect("HTTP listener");
    let config = ConfigLoader::new()
        .with_env([
            // Traces would go nowhere: only the logs settings may be used.
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs_url.as_str()),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ("OTEL_SERVICE_NAME", "from-config"),
        ])
        .load()
        .expect("the configuration loads");
    let processor = OtlpLogProcessor::from_config(&config).expect("the pipeline builds");
    let pipeline = processor.processor().clone();
    let loggers = SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    let logger = loggers.logger("configured");
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::from("configured record"));
    logger.emit(record);
    assert!(
        receiver.wait_for_log_records(1, PATIENCE),
        "delivered on the schedule, before shutdown"
    );
    loggers.shutdown().expect("shuts down");

    assert_eq!(pipeline.stats().exported, 1);
    let requests = receiver.requests();
    assert!(
        requests.iter().all(|request| request.span_count == 0
            && request.log_record_count == 1
            && request.content_type.as_deref() == Some("application/json")),
        "log records over OTLP/HTTP JSON: {requests:?}"
    );
    let delivered = received(&receiver, 1);
    assert_eq!(delivered[0].body(), Some(&text("configured record")));
    let resource = delivered[0].resource.as_ref().expect("a resource");
    let service = resource
        .attributes
        .iter()
        .find(|attribute| attribute.key == "service.name")
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref());
    assert_eq!(
        service,
        Some(&text("from-config")),
        "the configured name, not the SDK's unknown_service placeholder"
    );
}

/// A log transport whose `export` — on the pipeline's own thread — logs
/// through the same provider, with the logs API and with `tracing`, as an
/// instrumented exporter or one of its dependencies would.
struct Instrumented {
    inner: Box<dyn DynExporter>,
    loggers: Arc<OnceLock<SdkLoggerProvider>>,
    exports: Arc<AtomicU64>,
}

impl Exporter for Instrumented {
    fn encoding(&self) -> Encoding {
        self.inner.encoding()
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        if let Some(loggers) = self.loggers.get() {
            let logger = loggers.logger("inside-export");
            let mut record = logger.create_log_record();
            record.set_body(AnyValue::from("from the export thread"));
            logger.emit(record);
        }
        tracing::warn!("exporting");
        self.exports.fetch_add(1, Ordering::SeqCst);
        self.inner.export(request).await
    }
}

fn records_of_the_pipelines_own_threads_are_not_taken(transport: Transport) {
    const RECORDS: u64 = 300;
    let receiver = receiver();
    let loggers_cell = Arc::new(OnceLock::new());
    let exports = Arc::new(AtomicU64::new(0));
    let pipeline = BatchLogProcessor::builder(Instrumented {
        inner: log_exporter(&receiver, transport),
        loggers: Arc::clone(&loggers_cell),
        exports: Arc::clone(&exports),
    })
    .build()
    .expect("the log pipeline starts");
    let loggers = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_log_processor(OtlpLogProcessor::new(pipeline.clone()))
        .build();
    loggers_cell
        .set(loggers.clone())
        .expect("set once, before any export");
    let subscriber = tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&loggers));
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..RECORDS {
            tracing::info!(i, "application");
            if i % 100 == 99 {
                loggers.force_flush().expect("flushes");
            }
        }
    });
    loggers
        .shutdown_with_timeout(PATIENCE)
        .expect("the pipeline shuts down");

    assert!(
        exports.load(Ordering::SeqCst) >= 3,
        "each flush exported, logging from the export thread"
    );
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(
        stats.produced, RECORDS,
        "only the application's: {stats:#?}"
    );
    assert_eq!(stats.exported, RECORDS, "{stats:#?}");
    assert_eq!(
        stats.dropped + stats.failed + stats.rejected,
        0,
        "{stats:#?}"
    );
    let delivered = received(&receiver, RECORDS);
    assert_eq!(delivered.len() as u64, RECORDS);
    assert!(
        delivered
            .iter()
            .all(|record| record.body() == Some(&text("application"))),
        "nothing from the export thread"
    );
}

#[test]
fn records_of_the_pipelines_own_threads_are_not_taken_over_grpc() {
    records_of_the_pipelines_own_threads_are_not_taken(Transport::Grpc);
}

#[test]
fn records_of_the_pipelines_own_threads_are_not_taken_over_http() {
    records_of_the_pipelines_own_threads_are_not_taken(Transport::Http);
}

/// Emits records at the edges: no body, no severity, no timestamp; a trace
/// context without flags; a record with an owned target; empty and nested
/// values; repeated keys.
fn emit_edge_records(loggers: &SdkLoggerProvider) -> u64 {
    let logger = loggers.logger_with_scope(
        InstrumentationScope::builder("edges")
            .with_version("0.1.0")
            .with_schema_url("https://opentelemetry.io/schemas/1.29.0")
            .build(),
    );
    let blank = logger.create_log_record();
    logger.emit(blank);

    let mut no_flags = logger.create_log_record();
    no_flags.set_body(AnyValue::from("no flags"));
    no_flags.set_trace_context(TraceId::from(7), SpanId::from(8), None);
    no_flags.set_severity_number(Severity::Trace);
    logger.emit(no_flags);

    let mut unsampled = logger.create_log_record();
    unsampled.set_body(AnyValue::from("unsampled"));
    unsampled.set_trace_context(
        TraceId::from(7),
        SpanId::from(9),
        Some(TraceFlags::NOT_SAMPLED),
    );
    unsampled.set_severity_number(Severity::Debug4);
    unsampled.set_target(String::from("owned::target"));
    logger.emit(unsampled);

    let mut values = logger.create_log_record();
    values.set_body(AnyValue::ListAny(Box::new(vec![
        AnyValue::ListAny(Box::default()),
        AnyValue::Map(Box::default()),
        AnyValue::Bytes(Box::default()),
        AnyValue::Bytes(Box::new(vec![0, 255, 7, 1, 62, 63])),
        AnyValue::String("".into()),
        AnyValue::Double(-0.0),
        AnyValue::Int(i64::MIN),
    ])));
    values.add_attribute("dup", 1);
    values.add_attribute("dup", "two");
    values.add_attribute("", AnyValue::Boolean(false));
    values.add_attribute(
        "escapes \"\\\n",
        "quote \" backslash \\ nul \u{0} \u{2028} caf\u{e9} \u{1f600}",
    );
    values.set_severity_text("sev");
    values.set_severity_number(Severity::Warn3);
    values.set_timestamp(std::time::UNIX_EPOCH - Duration::from_secs(1));
    logger.emit(values);
    4
}

fn edge_records_arrive_as_opentelemetry_proto_converts_them(
    receiver: &Receiver,
    transport: Box<dyn DynExporter>,
    ours: bool,
) {
    let reference = Reference::default();
    let mut builder = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_log_processor(reference.clone());
    builder = if ours {
        let pipeline = BatchLogProcessor::builder(transport)
            .build()
            .expect("the log pipeline starts");
        builder.with_log_processor(OtlpLogProcessor::new(pipeline))
    } else {
        builder.with_batch_exporter(
            SdkLogExporter::builder(transport)
                .build()
                .expect("the adapter builds"),
        )
    };
    let loggers = builder.build();
    let count = emit_edge_records(&loggers);
    loggers.shutdown_with_timeout(PATIENCE).expect("shuts down");
    let delivered = received(receiver, count);
    assert_same(&delivered, &reference.expected(&resource()));
}

#[test]
fn edge_records_arrive_as_opentelemetry_proto_converts_them_processor_grpc() {
    let receiver = receiver();
    let transport = log_exporter(&receiver, Transport::Grpc);
    edge_records_arrive_as_opentelemetry_proto_converts_them(&receiver, transport, true);
}

#[test]
fn edge_records_arrive_as_opentelemetry_proto_converts_them_exporter_http() {
    let receiver = receiver();
    let transport = log_exporter(&receiver, Transport::Http);
    edge_records_arrive_as_opentelemetry_proto_converts_them(&receiver, transport, false);
}

#[test]
fn edge_records_arrive_as_opentelemetry_proto_converts_them_exporter_http_json() {
    let receiver = receiver();
    let transport = Box::new(
        HttpExporter::builder()
            .endpoint(receiver.http_endpoint().expect("HTTP listener"))
            .signal(Signal::Logs)
            .encoding(Encoding::Json)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a valid HTTP exporter"),
    );
    edge_records_arrive_as_opentelemetry_proto_converts_them(&receiver, transport, false);
}

#[test]
fn from_a_disabled_configuration_the_log_exporter_adapter_sends_nothing() {
    // Before, `OTEL_SDK_DISABLED=true` was ignored: every record went to the
    // endpoint (`OtlpLogProcessor::from_config` discarded them); and with
    // `OTEL_LOGS_EXPORTER=none` every batch failed, the SDK logging it.
    for off in [
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ] {
        let receiver = receiver();
        let logs_url = receiver.http_logs_url().expect("HTTP listener");
        let config = ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs_url.as_str()), off])
            .load()
            .expect("a valid configuration");
        let exporter = SdkLogExporter::from_config(&config).expect("the adapter builds");
        // The simple processor exports each record as it is emitted.
        let loggers = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter)
            .build();
        let logger = loggers.logger("disabled");
        let mut record = logger.create_log_record();
        record.set_body(AnyValue::from("not sent"));
        logger.emit(record);
        loggers.force_flush().expect("flushed");
        assert_eq!(
            receiver.request_count(),
            0,
            "{off:?}: {:?}",
            receiver.stats()
        );
        loggers.shutdown().expect("shuts down");
        assert_eq!(
            receiver.request_count(),
            0,
            "{off:?}: {:?}",
            receiver.stats()
        );
    }
}
