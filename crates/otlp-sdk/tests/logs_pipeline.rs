//! Log records through the batch pipeline: emitted by loggers of several
//! providers on several threads, every request decoded with
//! `opentelemetry-proto` and compared field by field with what was emitted;
//! JSON bodies equal the JSON encoder's; every record accounted for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_core::encode::{Encoding, LogEncoder};
use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, LogRecord, Resource, Severity, SpanContext, SpanId,
    TraceFlags, TraceId, TraceState,
};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, LogProcessor,
    LoggerProvider, PipelineError, Signal,
};
use prost::Message;

/// Keeps every request body.
struct Capture {
    encoding: Encoding,
    signal: Signal,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Capture {
    fn logs(encoding: Encoding) -> (Self, Arc<Mutex<Vec<Vec<u8>>>>) {
        let bodies = Arc::default();
        let capture = Capture {
            encoding,
            signal: Signal::Logs,
            bodies: Arc::clone(&bodies),
        };
        (capture, bodies)
    }
}

impl Exporter for Capture {
    fn encoding(&self) -> Encoding {
        self.encoding
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.bodies.lock().unwrap().push(request.body.to_vec());
        ExportOutcome::Success
    }
}

/// What a received record says, keyed by its body text.
#[derive(Debug, PartialEq)]
struct Seen {
    service: String,
    scope: String,
    severity: i32,
    severity_text: String,
    attributes: Vec<(String, String)>,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    flags: u32,
    event_name: String,
    has_observed_time: bool,
}

fn text(value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::IntValue(int)) => format!("int {int}"),
        other => format!("{other:?}"),
    }
}

fn decode_all(bodies: &[Vec<u8>]) -> HashMap<String, Seen> {
    let mut seen = HashMap::new();
    for body in bodies {
        let request = ExportLogsServiceRequest::decode(body.as_slice()).expect("a valid request");
        for resource in request.resource_logs {
            let service = resource
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(&kv.value))
                .unwrap_or_default();
            for scope in resource.scope_logs {
                let scope_name = scope.scope.map(|scope| scope.name).unwrap_or_default();
                for record in scope.log_records {
                    let previous = seen.insert(
                        text(&record.body),
                        Seen {
                            service: service.clone(),
                            scope: scope_name.clone(),
                            severity: record.severity_number,
                            severity_text: record.severity_text,
                            attributes: record
                                .attributes
                                .iter()
                                .map(|kv| (kv.key.clone(), text(&kv.value)))
                                .collect(),
                            trace_id: record.trace_id,
                            span_id: record.span_id,
                            flags: record.flags,
                            event_name: record.event_name,
                            has_observed_time: record.observed_time_unix_nano > 0,
                        },
                    );
                    assert!(previous.is_none(), "each record once");
                }
            }
        }
    }
    seen
}

#[test]
fn records_of_many_threads_and_providers_arrive_whole_and_grouped() {
    let (capture, bodies) = Capture::logs(Encoding::Protobuf);
    let processor = BatchLogProcessor::builder(capture).build().unwrap();
    let providers: Vec<LoggerProvider> = ["checkout", "payments"]
        .iter()
        .map(|service| {
            LoggerProvider::builder()
                .with_service_name(*service)
                .with_processor(processor.clone())
                .build()
        })
        .collect();
    let context = SpanContext {
        trace_id: TraceId::random(),
        span_id: SpanId::random(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: TraceState::EMPTY,
    };
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let providers = &providers;
            let context = &context;
            scope.spawn(move || {
                let loggers: Vec<_> = providers
                    .iter()
                    .map(|provider| provider.logger(format!("module-{}", thread % 2)))
                    .collect();
                for i in 0..500 {
                    let logger = &loggers[i % 2];
                    let mut record = LogRecord::builder()
                        .severity(Severity::WARN)
                        .severity_text("WARN")
                        .body(format!("thread {thread} record {i}"))
                        .attribute(KeyValue::new("i", i as i64))
                        .event_name("checkout.warning");
                    if i % 3 == 0 {
                        record = record.span_context(context);
                    }
                    logger.emit(record.build());
                }
            });
        }
    });
    providers[0].shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.produced, stats.exported), (2_000, 2_000));

    let seen = decode_all(&bodies.lock().unwrap());
    assert_eq!(seen.len(), 2_000);
    for thread in 0..4 {
        for i in 0..500usize {
            let record = &seen[&format!("thread {thread} record {i}")];
            let with_context = i % 3 == 0;
            assert_eq!(
                *record,
                Seen {
                    service: ["checkout", "payments"][i % 2].to_owned(),
                    scope: format!("module-{}", thread % 2),
                    severity: 13,
                    severity_text: "WARN".to_owned(),
                    attributes: vec![("i".to_owned(), format!("int {i}"))],
                    trace_id: if with_context {
                        context.trace_id.to_bytes().to_vec()
                    } else {
                        Vec::new()
                    },
                    span_id: if with_context {
                        context.span_id.to_bytes().to_vec()
                    } else {
                        Vec::new()
                    },
                    flags: if with_context { 1 } else { 0 },
                    event_name: "checkout.warning".to_owned(),
                    has_observed_time: true,
                }
            );
        }
    }
}

#[test]
fn a_json_exporter_gets_what_the_json_encoder_writes() {
    let (capture, bodies) = Capture::logs(Encoding::Json);
    let processor = BatchLogProcessor::builder(capture).build().unwrap();
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "json")]));
    let scope = Arc::new(InstrumentationScope::new("json-test"));
    let records: Vec<LogRecord> = (0..50)
        .map(|i| {
            LogRecord::builder()
                .time_unix_nano(1_000 + i)
                .observed_time_unix_nano(2_000 + i)
                .severity(Severity::ERROR)
                .body(AnyValue::Array(
                    vec![
                        AnyValue::from(format!("\"quoted\" {i}")),
                        AnyValue::Int(i as i64),
                    ]
                    .into(),
                ))
                .attribute(KeyValue::new("ratio", i as f64 / 3.0))
                .resource(Arc::clone(&resource))
                .scope(Arc::clone(&scope))
                .build()
        })
        .collect();
    for record in &records {
        processor.on_emit(&mut record.clone());
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let mut encoded = Vec::new();
    LogEncoder::new().encode(Encoding::Json, &records, &mut encoded);
    assert_eq!(*bodies.lock().unwrap(), [encoded]);
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_pipeline_refuses_an_exporter_of_another_signal() {
    let (capture, _) = Capture::logs(Encoding::Protobuf);
    let error = BatchSpanProcessor::builder(capture).build().unwrap_err();
    assert!(
        matches!(&error, PipelineError::Start(message) if message.contains("traces") && message.contains("logs")),
        "{error}"
    );
    let spans = Capture {
        encoding: Encoding::Protobuf,
        signal: Signal::Traces,
        bodies: Arc::default(),
    };
    assert!(BatchLogProcessor::builder(spans).build().is_err());
}

#[test]
fn records_after_shutdown_are_dropped_and_counted() {
    let (capture, _) = Capture::logs(Encoding::Protobuf);
    let processor = BatchLogProcessor::builder(capture).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let logger = provider.logger("late");
    logger.emit(LogRecord::builder().body("before").build());
    provider.shutdown(Duration::from_secs(5)).unwrap();
    logger.emit(LogRecord::builder().body("after").build());
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(
        (stats.produced, stats.exported, stats.dropped_shutdown),
        (2, 1, 1)
    );
}

#[test]
fn a_disabled_provider_emits_nothing() {
    let (capture, _) = Capture::logs(Encoding::Protobuf);
    let processor = BatchLogProcessor::builder(capture).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .with_disabled(true)
        .build();
    let logger = provider.logger("off");
    assert!(!logger.enabled());
    logger.emit(LogRecord::builder().body("nothing").build());
    provider.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().produced, 0);
}

/// What `otlp-contrib`'s pipeline builds for a logs exporter `none`: an
/// exporter that stands for it (and would fail every request).
struct StandsForNone;

impl Exporter for StandsForNone {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    fn stands_for_none(&self) -> bool {
        true
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Permanent {
            error: otlp_sdk::ExportError::Request("logs export is off".into()),
        }
    }
}

/// A configuration with `variable` set to `value` and nothing else.
fn configured_by(variable: &str, value: &str) -> otlp_sdk::config::Config {
    otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([(variable, value)])
        .load()
        .unwrap()
}

#[test]
fn otel_logs_exporter_none_leaves_processors_given_in_code_their_records() {
    // Before: `OTEL_LOGS_EXPORTER=none` disabled the provider, so a
    // processor the program gave in code received nothing (0 produced),
    // though the variable only says that configuration sets up no exporter.
    let given_in_code = |variable: &str, value: &str| {
        let (capture, bodies) = Capture::logs(Encoding::Protobuf);
        let processor = BatchLogProcessor::builder(capture).build().unwrap();
        let provider = LoggerProvider::builder()
            .with_config(&configured_by(variable, value))
            .with_processor(processor.clone())
            .build();
        let logger = provider.logger("given");
        let enabled = logger.enabled();
        logger.emit(LogRecord::builder().body("kept").build());
        provider.shutdown(Duration::from_secs(10)).unwrap();
        let received: Vec<String> = bodies
            .lock()
            .unwrap()
            .iter()
            .map(|body| ExportLogsServiceRequest::decode(body.as_slice()).unwrap())
            .flat_map(|request| request.resource_logs)
            .flat_map(|resource| resource.scope_logs)
            .flat_map(|scope| scope.log_records)
            .filter_map(|record| match record.body.and_then(|body| body.value) {
                Some(Value::StringValue(text)) => Some(text),
                _ => None,
            })
            .collect();
        (enabled, processor.stats().exported, received)
    };
    assert_eq!(
        given_in_code("OTEL_LOGS_EXPORTER", "none"),
        (true, 1, vec!["kept".to_owned()])
    );
    // OTEL_SDK_DISABLED still turns off what is given in code.
    assert_eq!(
        given_in_code("OTEL_SDK_DISABLED", "true"),
        (false, 0, Vec::new())
    );
}

#[test]
fn otel_logs_exporter_none_turns_off_what_the_configuration_builds_and_traces_none_does_not() {
    // A processor standing for the configuration's `none` (what
    // otlp-contrib's pipeline builds from it) gets nothing, and with no
    // other the logger is not even enabled.
    let standing_in = |variable: &str| {
        let stand_in = BatchLogProcessor::builder(StandsForNone).build().unwrap();
        assert!(stand_in.stands_for_none());
        let provider = LoggerProvider::builder()
            .with_config(&configured_by(variable, "none"))
            .with_processor(stand_in.clone())
            .build();
        let logger = provider.logger("maybe");
        let enabled = logger.enabled();
        logger.emit(LogRecord::builder().body("maybe").build());
        // The stand-in fails what reaches it: its shutdown may say so.
        let _ = provider.shutdown(Duration::from_secs(10));
        assert!(
            stand_in.is_shut_down(),
            "{variable}: shut down with the provider"
        );
        (enabled, stand_in.stats().produced)
    };
    assert_eq!(standing_in("OTEL_LOGS_EXPORTER"), (false, 0));
    // Another signal's `none` leaves log records alone: the record reaches
    // the stand-in (which fails it, counted).
    assert_eq!(standing_in("OTEL_TRACES_EXPORTER"), (true, 1));
    assert_eq!(standing_in("OTEL_METRICS_EXPORTER"), (true, 1));

    // Beside a processor given in code, the stand-in still gets nothing.
    let stand_in = BatchLogProcessor::builder(StandsForNone).build().unwrap();
    let (capture, _) = Capture::logs(Encoding::Protobuf);
    let given = BatchLogProcessor::builder(capture).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_config(&configured_by("OTEL_LOGS_EXPORTER", "none"))
        .with_processor(stand_in.clone())
        .with_processor(given.clone())
        .build();
    provider
        .logger("both")
        .emit(LogRecord::builder().body("given").build());
    provider.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!((given.stats().exported, stand_in.stats().produced), (1, 0));
}

/// Redacts: replaces the body, adds an attribute and names the event, as
/// an enriching processor registered before the exporting one would.
struct Redact;

impl LogProcessor for Redact {
    fn on_emit(&self, record: &mut LogRecord) {
        record.body = Some(AnyValue::from("[redacted]"));
        record.attributes.push(KeyValue::new("redacted", "yes"));
        record.event_name = "user.login".into();
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// Keeps a copy of every record it is handed.
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<LogRecord>>>);

impl LogProcessor for Keep {
    fn on_emit(&self, record: &mut LogRecord) {
        self.0.lock().unwrap().push(record.clone());
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[test]
fn a_processor_changes_the_record_and_the_processors_after_it_see_the_change() {
    // Before: `on_emit` took `&LogRecord`, so a processor could not change
    // the record at all (the specification's OnEmit gets a
    // ReadWriteLogRecord, whose changes the next processors MUST see).
    let seen_before = Keep::default();
    let seen_after = Keep::default();
    let (capture, bodies) = Capture::logs(Encoding::Protobuf);
    let exporting = BatchLogProcessor::builder(capture).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_service_name("login")
        .with_processor(seen_before.clone())
        .with_processor(Redact)
        .with_processor(seen_after.clone())
        .with_processor(exporting.clone())
        .build();
    provider.logger("auth").emit(
        LogRecord::builder()
            .severity(Severity::INFO)
            .body("password=hunter2")
            .attribute(KeyValue::new("user", "ada"))
            .build(),
    );
    provider.shutdown(Duration::from_secs(10)).unwrap();

    let before = seen_before.0.lock().unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].body, Some(AnyValue::from("password=hunter2")));
    let after = seen_after.0.lock().unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].body, Some(AnyValue::from("[redacted]")));
    assert_eq!(after[0].event_name, "user.login");
    let stats = exporting.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.exported, 1);
    let seen = decode_all(&bodies.lock().unwrap());
    let record = &seen["[redacted]"];
    assert_eq!(
        record.attributes,
        [
            ("user".to_owned(), "ada".to_owned()),
            ("redacted".to_owned(), "yes".to_owned())
        ]
    );
    assert_eq!(record.event_name, "user.login");
    assert!(!seen.contains_key("password=hunter2"));
}

/// Keeps warnings and worse, and every `audit.*` event, of the scope
/// `payments` only (what a filtering processor would say).
struct WarningsAndAudits;

impl LogProcessor for WarningsAndAudits {
    fn on_emit(&self, _: &mut LogRecord) {}

    fn enabled(&self, scope: &InstrumentationScope, severity: Severity, event_name: &str) -> bool {
        scope.name == "payments" && (severity >= Severity::WARN || event_name.starts_with("audit."))
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[test]
fn enabled_for_asks_the_processors_with_severity_event_name_and_scope() {
    // Before: `Logger` had only `enabled()`, a flag check; the
    // specification's `Enabled` (severity, event name) and the processors'
    // `Enabled` were missing.
    let filtering = LoggerProvider::builder()
        .with_processor(WarningsAndAudits)
        .build();
    let payments = filtering.logger("payments");
    assert!(payments.enabled(), "the flag check does not ask processors");
    assert!(!payments.enabled_for(Severity::INFO, ""));
    assert!(!payments.enabled_for(Severity::UNSPECIFIED, "checkout.done"));
    assert!(payments.enabled_for(Severity::WARN, ""));
    assert!(payments.enabled_for(Severity::DEBUG, "audit.refund"));
    assert!(!filtering.logger("other").enabled_for(Severity::ERROR, ""));

    // One processor that takes everything (the default) is enough.
    let mixed = LoggerProvider::builder()
        .with_processor(WarningsAndAudits)
        .with_processor(Keep::default())
        .build();
    assert!(mixed.logger("other").enabled_for(Severity::TRACE, ""));

    // No processor, or a disabled provider: never.
    let empty = LoggerProvider::builder().build();
    assert!(
        !empty
            .logger("payments")
            .enabled_for(Severity::FATAL, "audit.x")
    );
    let disabled = LoggerProvider::builder()
        .with_processor(Keep::default())
        .with_disabled(true)
        .build();
    assert!(!disabled.logger("payments").enabled_for(Severity::FATAL, ""));
}

/// Counts the shutdowns it is asked for, and answers each `Ok`.
#[derive(Clone, Default)]
struct CountShutdowns(Arc<std::sync::atomic::AtomicUsize>);

impl LogProcessor for CountShutdowns {
    fn on_emit(&self, _: &mut LogRecord) {}

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_provider_shuts_its_processors_down_once_and_says_so_after() {
    // Before: each call shut every processor down again (the specification:
    // a processor's Shutdown SHOULD be called once), and a second call
    // over processors that do not track it answered Ok.
    let counted = CountShutdowns::default();
    let provider = LoggerProvider::builder()
        .with_processor(counted.clone())
        .build();
    let clone = provider.clone();
    assert_eq!(provider.shutdown(Duration::from_secs(5)), Ok(()));
    assert_eq!(
        clone.shutdown(Duration::from_secs(5)),
        Err(PipelineError::ShutDown)
    );
    assert_eq!(
        provider.shutdown(Duration::from_secs(5)),
        Err(PipelineError::ShutDown)
    );
    assert_eq!(counted.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_record_without_ids_takes_the_active_spans_and_a_given_context_wins() {
    // Before: `emit` left a record without ids uncorrelated inside an
    // active span (the specification: the trace context comes from the
    // explicitly given Context, else the current one).
    let kept = Keep::default();
    let provider = LoggerProvider::builder()
        .with_processor(kept.clone())
        .build();
    let logger = provider.logger("context");
    let active = SpanContext::new(
        TraceId::random(),
        SpanId::random(),
        TraceFlags::SAMPLED.with_random(true),
    );
    let given = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::NONE);
    logger.emit(LogRecord::builder().body("outside").build());
    otlp_sdk::active_span::in_span(&active, || {
        logger.emit(LogRecord::builder().body("current").build());
        logger.emit(
            LogRecord::builder()
                .body("given")
                .span_context(&given)
                .build(),
        );
        logger.emit_in(LogRecord::builder().body("explicit").build(), Some(&given));
        logger.emit_in(LogRecord::builder().body("explicit none").build(), None);
    });
    let ids = |record: &LogRecord| (record.trace_id, record.span_id, record.flags);
    let expected = [
        ("outside", (None, None, 0)),
        (
            "current",
            (Some(active.trace_id), Some(active.span_id), 0x03),
        ),
        ("given", (Some(given.trace_id), Some(given.span_id), 0)),
        ("explicit", (Some(given.trace_id), Some(given.span_id), 0)),
        ("explicit none", (None, None, 0)),
    ];
    let records = kept.0.lock().unwrap();
    assert_eq!(records.len(), expected.len());
    for (record, (body, expected)) in records.iter().zip(expected) {
        assert_eq!(record.body, Some(AnyValue::from(body)));
        assert_eq!(ids(record), expected, "{body}");
    }
}

#[test]
fn a_record_emitted_in_a_remote_context_exports_only_its_defined_trace_flags() {
    // `LogRecord.flags` bits 0-7 are the W3C trace flags; W3C reserves all
    // but sampled (0x01) and random (0x02): "Vendors MUST set those to
    // zero". `emit_in` a remote context that sent `-ff` exported 0xff, where
    // a span started in that context says 0x03.
    let (capture, bodies) = Capture::logs(Encoding::Protobuf);
    let processor = BatchLogProcessor::builder(capture).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let logger = provider.logger("remote");
    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")
            .unwrap();
    logger.emit_in(LogRecord::builder().body("emit_in").build(), Some(&remote));
    logger.emit(
        LogRecord::builder()
            .body("span_context")
            .span_context(&remote)
            .build(),
    );
    provider.shutdown(Duration::from_secs(10)).unwrap();
    let seen = decode_all(&bodies.lock().unwrap());
    for body in ["emit_in", "span_context"] {
        let record = &seen[body];
        assert_eq!(record.trace_id, remote.trace_id.to_bytes(), "{body}");
        assert_eq!(record.flags, 0x03, "{body}: {:#x}", record.flags);
    }
}

/// OTLP's `InstrumentationScope.attributes`, as every attribute collection,
/// has unique keys: a logger's scope given a key twice went out with both,
/// where a record's attributes keep the last value of a repeated key.
#[test]
fn a_loggers_scope_attributes_go_out_with_unique_keys_the_last_value_winning() {
    let (capture, bodies) = Capture::logs(Encoding::Protobuf);
    let processor = BatchLogProcessor::builder(capture).build().unwrap();
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let logger = provider.logger_with_scope(InstrumentationScope::new("tenant").with_attributes([
        KeyValue::new("tenant", "a"),
        KeyValue::new("region", "eu"),
        KeyValue::new("tenant", "b"),
    ]));
    logger.emit(LogRecord::builder().body("once").build());
    provider.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(processor.stats().exported, 1);

    let bodies = bodies.lock().unwrap();
    let request = ExportLogsServiceRequest::decode(&bodies[0][..]).expect("a logs request");
    let scope = request.resource_logs[0].scope_logs[0]
        .scope
        .as_ref()
        .expect("a scope");
    let attributes: Vec<(String, Option<Value>)> = scope
        .attributes
        .iter()
        .map(|kv| {
            let value = kv.value.as_ref().and_then(|value| value.value.clone());
            (kv.key.clone(), value)
        })
        .collect();
    assert_eq!(
        attributes,
        vec![
            ("tenant".to_owned(), Some(Value::StringValue("b".into()))),
            ("region".to_owned(), Some(Value::StringValue("eu".into()))),
        ]
    );
}
