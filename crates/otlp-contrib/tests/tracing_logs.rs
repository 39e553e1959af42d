//! `tracing` events as log records: `tracing` macros, through
//! `OtlpLogLayer` (beside `OtlpLayer` for the spans) and real batch
//! pipelines, to exporters that decode every request with
//! `opentelemetry-proto`. Every test installs its subscriber for its own
//! thread (`with_default`); the global subscriber test is
//! `tracing_logs_global.rs`, in its own process.

use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLogRecord;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer, OtlpSpanExt as _};
use otlp_core::encode::Encoding;
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, LoggerProvider,
    Sampler, Signal, TracerProvider,
};
use prost::Message as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// An exporter that decodes every request as a collector would: spans or
/// log records, by the pipeline's signal.
#[derive(Clone, Default)]
struct Decoding {
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    signal: Option<Signal>,
}

impl Exporter for Decoding {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal.unwrap_or(Signal::Traces)
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        if self.signal == Some(Signal::Logs) {
            let decoded = ExportLogsServiceRequest::decode(request.body)
                .expect("every logs request decodes with opentelemetry-proto");
            self.logs.lock().unwrap().push(decoded);
        } else {
            let decoded = ExportTraceServiceRequest::decode(request.body)
                .expect("every traces request decodes with opentelemetry-proto");
            self.traces.lock().unwrap().push(decoded);
        }
        ExportOutcome::Success
    }
}

/// A logger provider and a tracer provider, each over a batch pipeline into
/// a [`Decoding`] exporter.
struct Pipelines {
    loggers: LoggerProvider,
    log_processor: BatchLogProcessor,
    tracers: TracerProvider,
    span_processor: BatchSpanProcessor,
    exporter: Decoding,
}

/// What arrived: each log record with its scope's name, and the spans.
struct Exported {
    records: Vec<(String, ProtoLogRecord)>,
    spans: Vec<ProtoSpan>,
}

impl Pipelines {
    fn new() -> Self {
        Pipelines::with_sampler(None)
    }

    /// As [`new`](Self::new), the spans sampled by `sampler` when given.
    fn with_sampler(sampler: Option<Sampler>) -> Self {
        let exporter = Decoding::default();
        let log_processor = BatchLogProcessor::builder(Decoding {
            signal: Some(Signal::Logs),
            ..exporter.clone()
        })
        .build()
        .expect("the log pipeline builds");
        let span_processor = BatchSpanProcessor::builder(exporter.clone())
            .build()
            .expect("the span pipeline builds");
        Pipelines {
            loggers: LoggerProvider::builder()
                .with_service_name("tracing-logs-test")
                .with_processor(log_processor.clone())
                .build(),
            log_processor,
            tracers: {
                let tracers = TracerProvider::builder()
                    .with_service_name("tracing-logs-test")
                    .with_processor(span_processor.clone());
                match sampler {
                    Some(sampler) => tracers.with_sampler(sampler),
                    None => tracers,
                }
                .build()
            },
            span_processor,
            exporter,
        }
    }

    /// Shuts both pipelines down and returns what they exported.
    fn finish(self) -> Exported {
        self.loggers.shutdown(PATIENCE).expect("logs shut down");
        self.tracers.shutdown(PATIENCE).expect("traces shut down");
        let logs = self.log_processor.stats();
        assert!(logs.is_balanced(), "{logs:#?}");
        assert!(logs.bytes.is_balanced(), "{:#?}", logs.bytes);
        assert_eq!(logs.exported, logs.produced, "{logs:#?}");
        let spans = self.span_processor.stats();
        assert_eq!(spans.exported, spans.produced, "{spans:#?}");
        let mut exported = Exported {
            records: Vec::new(),
            spans: Vec::new(),
        };
        for request in std::mem::take(&mut *self.exporter.logs.lock().unwrap()) {
            for resource_logs in request.resource_logs {
                for scope_logs in resource_logs.scope_logs {
                    let scope = scope_logs.scope.map(|s| s.name).unwrap_or_default();
                    for record in scope_logs.log_records {
                        exported.records.push((scope.clone(), record));
                    }
                }
            }
        }
        for request in std::mem::take(&mut *self.exporter.traces.lock().unwrap()) {
            for resource_spans in request.resource_spans {
                for scope_spans in resource_spans.scope_spans {
                    exported.spans.extend(scope_spans.spans);
                }
            }
        }
        exported
    }
}

impl Exported {
    /// The one record whose body is `body`.
    fn record(&self, body: &str) -> &ProtoLogRecord {
        let mut found = self
            .records
            .iter()
            .filter(|(_, record)| body_of(record) == Some(body));
        let (_, record) = found
            .next()
            .unwrap_or_else(|| panic!("no record {body:?} in {:#?}", self.bodies()));
        assert!(found.next().is_none(), "several records {body:?}");
        record
    }

    /// The scope name of the one record whose body is `body`.
    fn scope_of(&self, body: &str) -> &str {
        let record = self.record(body);
        self.records
            .iter()
            .find(|(_, candidate)| std::ptr::eq(candidate, record))
            .map(|(scope, _)| scope.as_str())
            .expect("the record is among them")
    }

    fn bodies(&self) -> Vec<Option<&str>> {
        self.records
            .iter()
            .map(|(_, record)| body_of(record))
            .collect()
    }

    fn span(&self, name: &str) -> &ProtoSpan {
        let mut found = self.spans.iter().filter(|span| span.name == name);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no span named {name:?}"));
        assert!(found.next().is_none(), "several spans named {name:?}");
        span
    }
}

fn body_of(record: &ProtoLogRecord) -> Option<&str> {
    match record.body.as_ref()?.value.as_ref()? {
        Value::StringValue(text) => Some(text),
        _ => None,
    }
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

#[derive(Debug)]
struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card declined")
    }
}

impl Error for Declined {}

#[test]
fn every_level_becomes_its_severity_with_the_message_as_body() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&pipelines.loggers));
    let before = otlp_core::clock::now_unix_nanos();
    tracing::subscriber::with_default(subscriber, || {
        tracing::trace!("at trace");
        tracing::debug!("at debug");
        tracing::info!("at info");
        tracing::warn!("at warn");
        tracing::error!("at error");
    });
    let after = otlp_core::clock::now_unix_nanos();
    let exported = pipelines.finish();
    assert_eq!(exported.records.len(), 5);
    for (body, number, text) in [
        ("at trace", 1, "TRACE"),
        ("at debug", 5, "DEBUG"),
        ("at info", 9, "INFO"),
        ("at warn", 13, "WARN"),
        ("at error", 17, "ERROR"),
    ] {
        let record = exported.record(body);
        assert_eq!(record.severity_number, number, "{body}");
        assert_eq!(record.severity_text, text, "{body}");
        assert!(
            (before..=after).contains(&record.time_unix_nano),
            "the event's time"
        );
        assert!(record.observed_time_unix_nano >= record.time_unix_nano);
        assert!(record.trace_id.is_empty(), "outside any span: no trace id");
        assert!(record.span_id.is_empty(), "outside any span: no span id");
        assert_eq!(record.flags, 0);
    }
    // The scope is the target (here the module path), as the appender's
    // records are exported; the target is not repeated as an attribute.
    assert!(
        exported
            .records
            .iter()
            .all(|(scope, record)| scope == module_path!()
                && attribute(record, "target").is_none()),
        "{:?}",
        exported.records
    );
}

#[test]
fn fields_become_typed_attributes() {
    let pipelines = Pipelines::new();
    let layer = OtlpLogLayer::builder(&pipelines.loggers)
        .with_location(true)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(
            target: "payments",
            attempt = 3_i64,
            amount = 12.5_f64,
            retry = true,
            card = "visa",
            big = u64::MAX,
            small = 7_u64,
            state = ?Some(1),
            shown = %"display",
            cause = &Declined as &dyn Error,
            "payment failed"
        );
        tracing::info!(answer = 42);
    });
    let exported = pipelines.finish();
    let record = exported.record("payment failed");
    assert_eq!(attribute(record, "attempt"), Some(&Value::IntValue(3)));
    assert_eq!(attribute(record, "amount"), Some(&Value::DoubleValue(12.5)));
    assert_eq!(attribute(record, "retry"), Some(&Value::BoolValue(true)));
    assert_eq!(attribute(record, "card"), Some(&string("visa")));
    assert_eq!(
        attribute(record, "big"),
        Some(&string("18446744073709551615"))
    );
    assert_eq!(attribute(record, "small"), Some(&Value::IntValue(7)));
    assert_eq!(attribute(record, "state"), Some(&string("Some(1)")));
    assert_eq!(attribute(record, "shown"), Some(&string("display")));
    assert_eq!(attribute(record, "cause"), Some(&string("card declined")));
    assert_eq!(
        attribute(record, "exception.message"),
        Some(&string("card declined"))
    );
    assert_eq!(exported.scope_of("payment failed"), "payments");
    assert_eq!(attribute(record, "target"), None, "the scope names it");
    assert_eq!(
        attribute(record, "message"),
        None,
        "the message is the body"
    );
    assert_eq!(
        attribute(record, "code.file.path"),
        Some(&string(file!())),
        "location asked for"
    );
    assert!(matches!(
        attribute(record, "code.line.number"),
        Some(Value::IntValue(line)) if *line > 0
    ));
    assert_eq!(
        attribute(record, "code.module.name"),
        Some(&string(module_path!()))
    );

    // Without a message: no body, the fields still there.
    let (_, bare) = exported
        .records
        .iter()
        .find(|(_, record)| record.body.is_none())
        .expect("the record without a message");
    assert_eq!(attribute(bare, "answer"), Some(&Value::IntValue(42)));
}

/// An `error` field is the user's attribute like any other: it stays on
/// the log record (as `opentelemetry-appender-tracing` keeps it) and on the
/// span event (as `tracing-opentelemetry` keeps it beside a message), with
/// `exception.message` added.
#[test]
fn an_error_field_stays_an_attribute_beside_exception_message() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLayer::new(&pipelines.tracers))
        .with(OtlpLogLayer::new(&pipelines.loggers));
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("request").entered();
        tracing::warn!(error = %"upstream timeout", attempt = 2_i64, "retrying");
        tracing::warn!(error = &Declined as &dyn Error, "charge failed");
    });
    let exported = pipelines.finish();
    let span = exported.span("request");
    for (body, error) in [
        ("retrying", "upstream timeout"),
        ("charge failed", "card declined"),
    ] {
        let record = exported.record(body);
        assert_eq!(attribute(record, "error"), Some(&string(error)), "{body}");
        assert_eq!(
            attribute(record, "exception.message"),
            Some(&string(error)),
            "{body}"
        );
        let event = span
            .events
            .iter()
            .find(|event| event.name == body)
            .unwrap_or_else(|| panic!("no span event {body:?}"));
        let value = |key: &str| {
            event
                .attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        };
        assert_eq!(value("error"), Some(&string(error)), "{body}");
        assert_eq!(value("exception.message"), Some(&string(error)), "{body}");
    }
}

/// `tracing::info!(name: "order.placed", ...)` names the event: the record's
/// event name, as `opentelemetry-appender-tracing` writes it, and what the
/// processors are asked with. The name `tracing` makes up for an event
/// given none (`event tests/tracing_logs.rs:12`), and `tracing-log`'s for a
/// `log` record (`log event`), are no event name.
#[test]
fn an_event_given_a_name_has_it_as_its_event_name() {
    let pipelines = Pipelines::new();
    let asking = SeverityFloor {
        floor: otlp_core::Severity::TRACE,
        seen: Arc::default(),
    };
    let asked = LoggerProvider::builder()
        .with_processor(asking.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLogLayer::new(&pipelines.loggers))
        .with(OtlpLogLayer::new(&asked));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(name: "order.placed", items = 3, "named");
        tracing::warn!(name: "order.failed", target: "shop::orders", "named with a target");
        tracing::info!("unnamed");
        tracing_log::format_trace(
            &log::Record::builder()
                .level(log::Level::Info)
                .target("app::db")
                .file(Some("src/db.rs"))
                .line(Some(12))
                .args(format_args!("from log"))
                .build(),
        )
        .expect("dispatched");
    });
    let exported = pipelines.finish();
    for (body, event_name) in [
        ("named", "order.placed"),
        ("named with a target", "order.failed"),
        ("unnamed", ""),
        ("from log", ""),
    ] {
        assert_eq!(exported.record(body).event_name, event_name, "{body}");
    }
    let names: Vec<String> = asking
        .seen
        .lock()
        .unwrap()
        .asked
        .iter()
        .map(|(_, _, event_name)| event_name.clone())
        .collect();
    assert_eq!(names, ["order.placed", "order.failed", "", ""]);
}

#[test]
fn location_is_left_out_by_default_as_in_the_appender() {
    let pipelines = Pipelines::new();
    let layer = OtlpLogLayer::builder(&pipelines.loggers)
        .with_scope(otlp_core::InstrumentationScope::new("checkout"))
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("here");
    });
    let exported = pipelines.finish();
    let record = exported.record("here");
    assert_eq!(attribute(record, "code.file.path"), None);
    assert_eq!(attribute(record, "code.line.number"), None);
    assert_eq!(attribute(record, "code.module.name"), None);
    assert!(attribute(record, "target").is_some());
    assert_eq!(exported.records[0].0, "checkout");
}

/// With one scope (the target an attribute) and the location on, a field
/// named like one of the record's own attributes (`target = "upstream"`, a
/// relay naming its records' origin) wins over it, as a `log` key-value does
/// through `OtlpLogger`; and past the attribute limit the fields are
/// dropped, not the record's own `target` and `code.*`, which come first.
#[test]
fn fields_named_like_the_records_own_attributes_win_and_the_limit_drops_fields_first() {
    let pipelines = Pipelines::new();
    // The pipeline's processor, under a provider that keeps 4 attributes.
    let limited = LoggerProvider::builder()
        .with_processor(pipelines.log_processor.clone())
        .with_log_limits(otlp_sdk::LogRecordLimits {
            max_attributes: 4,
            ..otlp_sdk::LogRecordLimits::default()
        })
        .build();
    let layer = OtlpLogLayer::builder(&limited)
        .with_scope(otlp_core::InstrumentationScope::new("relay"))
        .with_location(true)
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target = "upstream", "code.line.number" = 7_i64, "relayed");
        tracing::info!(first = 1_i64, second = 2_i64, "crowded");
    });
    let exported = pipelines.finish();
    let relayed = exported.record("relayed");
    assert_eq!(attribute(relayed, "target"), Some(&string("upstream")));
    assert_eq!(
        attribute(relayed, "code.line.number"),
        Some(&Value::IntValue(7))
    );
    assert_eq!(relayed.attributes.len(), 4, "{:?}", relayed.attributes);
    assert_eq!(relayed.dropped_attributes_count, 0);
    let crowded = exported.record("crowded");
    let keys: Vec<&str> = crowded
        .attributes
        .iter()
        .map(|attribute| attribute.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "target",
            "code.file.path",
            "code.line.number",
            "code.module.name"
        ]
    );
    assert_eq!(attribute(crowded, "target"), Some(&string("tracing_logs")));
    assert_eq!(crowded.dropped_attributes_count, 2);
}

#[test]
fn inside_a_span_the_record_carries_that_spans_ids() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLayer::new(&pipelines.tracers))
        .with(OtlpLogLayer::new(&pipelines.loggers))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("before");
        {
            let _outer = tracing::info_span!("outer").entered();
            tracing::info!("in outer");
            {
                let _inner = tracing::debug_span!("inner").entered();
                tracing::warn!("in inner");
            }
            // Never entered: still pending when the event names it.
            let pending = tracing::info_span!("pending");
            tracing::info!(parent: &pending, "in pending");
            tracing::info!(parent: None, "explicit root");
        }
        tracing::info!("after");
    });
    let exported = pipelines.finish();
    assert_eq!(exported.records.len(), 6);
    assert_eq!(exported.spans.len(), 3);
    for (body, span) in [
        ("in outer", "outer"),
        ("in inner", "inner"),
        ("in pending", "pending"),
    ] {
        let record = exported.record(body);
        let span = exported.span(span);
        assert_eq!(record.trace_id, span.trace_id, "{body}");
        assert_eq!(record.span_id, span.span_id, "{body}");
        // The span's W3C flags: sampled, and random (a native root's trace).
        assert_eq!(record.flags, 0x03, "{body}: sampled");
    }
    for body in ["before", "explicit root", "after"] {
        let record = exported.record(body);
        assert!(record.trace_id.is_empty(), "{body}");
        assert!(record.span_id.is_empty(), "{body}");
    }
    // OtlpLayer keeps recording events in spans as span events too.
    assert_eq!(exported.span("outer").events.len(), 1);
    assert_eq!(exported.span("inner").events.len(), 1);
}

#[test]
fn with_tracing_off_the_record_still_carries_the_spans_ids() {
    let pipelines = Pipelines::new();
    // `always_off`: the spans are never exported, their ids still made.
    let off = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLayer::new(&off))
        .with(OtlpLogLayer::new(&pipelines.loggers));
    let mut contexts = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        // Never entered, nobody asked for its ids before the event.
        let outer = tracing::info_span!("outer");
        tracing::info!(parent: &outer, "in outer");
        let inner = tracing::info_span!(parent: &outer, "inner");
        inner.in_scope(|| tracing::info!("in inner"));
        let fresh = tracing::info_span!("fresh");
        fresh.in_scope(|| tracing::info!("in fresh"));
        contexts = vec![outer.context(), inner.context(), fresh.context()];
    });
    let exported = pipelines.finish();
    assert!(exported.spans.is_empty());
    for (body, context) in ["in outer", "in inner", "in fresh"].iter().zip(&contexts) {
        let record = exported.record(body);
        assert_eq!(record.trace_id, context.trace_id.to_bytes(), "{body}");
        assert_eq!(record.span_id, context.span_id.to_bytes(), "{body}");
        assert_eq!(record.flags, 0x02, "{body}: not sampled, random");
    }
    assert_eq!(contexts[0].trace_id, contexts[1].trace_id);
    assert_ne!(contexts[0].trace_id, contexts[2].trace_id);
}

#[test]
fn a_per_layer_filter_keeps_what_it_lets_through_and_the_spans_ids() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLayer::new(&pipelines.tracers))
        .with(OtlpLogLayer::new(&pipelines.loggers).with_filter(LevelFilter::WARN));
    tracing::subscriber::with_default(subscriber, || {
        // An INFO span: hidden from the log layer by its filter, still the
        // span its WARN event happens in.
        let _span = tracing::info_span!("request").entered();
        tracing::info!("filtered out");
        tracing::debug!("filtered out too");
        tracing::warn!("kept");
        tracing::error!("kept too");
    });
    let exported = pipelines.finish();
    assert_eq!(exported.bodies(), [Some("kept"), Some("kept too")]);
    let span = exported.span("request");
    for (_, record) in &exported.records {
        assert_eq!(record.trace_id, span.trace_id);
        assert_eq!(record.span_id, span.span_id);
    }
}

#[tracing::instrument(err)]
fn charge() -> Result<(), Declined> {
    Err(Declined)
}

/// The module documentation's "log records only": `OtlpLayer` filtered to
/// spans sees no event, so `#[instrument(err)]`'s `ERROR` event no longer
/// sets its span's status; letting `ERROR` events through keeps it (they
/// are span events then, the others not).
#[test]
fn an_otlp_layer_filtered_to_spans_keeps_error_statuses_only_if_it_lets_error_events_through() {
    for (errors_too, status) in [(false, 0), (true, 2)] {
        let pipelines = Pipelines::new();
        let filter = tracing_subscriber::filter::filter_fn(move |metadata| {
            metadata.is_span() || (errors_too && *metadata.level() == tracing::Level::ERROR)
        });
        let subscriber = tracing_subscriber::registry()
            .with(OtlpLayer::new(&pipelines.tracers).with_filter(filter))
            .with(OtlpLogLayer::new(&pipelines.loggers));
        tracing::subscriber::with_default(subscriber, || {
            let _ = charge();
            tracing::info_span!("listing").in_scope(|| tracing::info!("listed"));
        });
        let exported = pipelines.finish();
        let charge = exported.span("charge");
        let code = charge.status.as_ref().map_or(0, |status| status.code);
        assert_eq!(code, status, "errors let through: {errors_too}");
        assert_eq!(charge.events.len(), usize::from(errors_too));
        assert!(exported.span("listing").events.is_empty());
        // The log records, with their spans' ids, either way.
        assert_eq!(exported.records.len(), 2);
        assert_eq!(
            exported.record("listed").span_id,
            exported.span("listing").span_id
        );
    }
}

#[test]
fn an_otlp_layer_behind_a_reload_layer_still_gives_its_spans_ids() {
    // `reload::Layer` hides the layer from downcasts: the span's ids are
    // found in its extensions all the same.
    let pipelines = Pipelines::new();
    let (reloadable, _handle) =
        tracing_subscriber::reload::Layer::new(OtlpLayer::new(&pipelines.tracers));
    let subscriber = tracing_subscriber::registry()
        .with(reloadable)
        .with(OtlpLogLayer::new(&pipelines.loggers));
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("reloaded").entered();
        tracing::info!("inside");
    });
    let exported = pipelines.finish();
    let record = exported.record("inside");
    let span = exported.span("reloaded");
    assert_eq!(record.trace_id, span.trace_id);
    assert_eq!(record.span_id, span.span_id);
}

#[test]
fn spans_no_otlp_layer_records_give_no_ids() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&pipelines.loggers));
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("unrecorded").entered();
        tracing::info!("inside");
    });
    let exported = pipelines.finish();
    let record = exported.record("inside");
    assert!(record.trace_id.is_empty());
    assert!(record.span_id.is_empty());
}

#[test]
fn a_native_active_span_gives_its_ids_to_events_that_do_not_name_their_parent() {
    // Before: outside any span an `OtlpLayer` records, an event got no ids
    // even inside a span made active through the native API, which the
    // `log` bridge's records did get.
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&pipelines.loggers));
    let active = otlp_core::SpanContext::new(
        otlp_core::TraceId::random(),
        otlp_core::SpanId::random(),
        otlp_core::TraceFlags::SAMPLED,
    );
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside");
        otlp_sdk::active_span::in_span(&active, || {
            tracing::info!("contextual");
            tracing::info!(parent: None, "explicit root");
        });
    });
    let exported = pipelines.finish();
    let record = exported.record("contextual");
    assert_eq!(record.trace_id, active.trace_id.to_bytes());
    assert_eq!(record.span_id, active.span_id.to_bytes());
    assert_eq!(record.flags, 0x01);
    for body in ["outside", "explicit root"] {
        let record = exported.record(body);
        assert!(record.trace_id.is_empty(), "{body}");
        assert!(record.span_id.is_empty(), "{body}");
    }
}

#[test]
fn a_span_current_through_the_opentelemetry_api_gives_its_ids_to_events_that_do_not_name_their_parent()
 {
    // Before: `OtlpLogLayer` in place of `OpenTelemetryTracingBridge` beside
    // `tracing-opentelemetry` (spans through the SDK, `OtlpSpanProcessor`
    // say), or inside `Tracer::in_span`, gave no ids, which the appender's
    // records and the `log` bridge's did get.
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let pipelines = Pipelines::new();
    let sdk_tracers = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(sdk_tracers.tracer("layer")))
        .with(OtlpLogLayer::new(&pipelines.loggers));
    let tracer = sdk_tracers.tracer("api");
    let (entered, in_span) = tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside");
        let span = tracing::info_span!("tracing-opentelemetry span");
        let entered = {
            let _entered = span.enter();
            tracing::info!("in a tracing-opentelemetry span");
            OpenTelemetrySpanExt::context(&span)
                .span()
                .span_context()
                .clone()
        };
        let in_span = tracer.in_span("api span", |context| {
            tracing::info!("in an api span");
            tracing::info!(parent: None, "explicit root");
            context.span().span_context().clone()
        });
        (entered, in_span)
    });
    let exported = pipelines.finish();
    for (body, context) in [
        ("in a tracing-opentelemetry span", &entered),
        ("in an api span", &in_span),
    ] {
        assert!(context.is_valid(), "{body}");
        let record = exported.record(body);
        assert_eq!(record.trace_id, context.trace_id().to_bytes(), "{body}");
        assert_eq!(record.span_id, context.span_id().to_bytes(), "{body}");
        assert_eq!(record.flags, 0x01, "{body}: sampled");
    }
    for body in ["outside", "explicit root"] {
        let record = exported.record(body);
        assert!(record.trace_id.is_empty(), "{body}");
        assert!(record.span_id.is_empty(), "{body}");
    }
}

#[test]
fn nothing_is_recorded_on_a_pipelines_own_threads() {
    let pipelines = Pipelines::new();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(OtlpLayer::new(&pipelines.tracers))
            .with(OtlpLogLayer::new(&pipelines.loggers)),
    );
    std::thread::spawn(move || {
        otlp_sdk::own_threads::enter();
        // Set after `enter`: the dispatcher is the layers' again; the layer
        // itself declines.
        tracing::dispatcher::with_default(&dispatch, || {
            let _span = tracing::info_span!("inside the pipeline").entered();
            tracing::error!("working");
        });
    })
    .join()
    .unwrap();
    let exported = pipelines.finish();
    assert_eq!(exported.records.len(), 0);
}

#[test]
fn a_provider_with_nowhere_to_send_costs_no_record() {
    let provider = LoggerProvider::builder().build();
    let layer = OtlpLogLayer::new(&provider);
    assert!(!layer.logger().enabled());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("nowhere");
    });
}

#[test]
fn log_records_through_tracing_log_keep_their_target_and_location() {
    let pipelines = Pipelines::new();
    let layer = OtlpLogLayer::builder(&pipelines.loggers)
        .with_location(true)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        // What `tracing_log::LogTracer` does with each `log` record.
        tracing_log::format_trace(
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("app::db")
                .module_path(Some("app::db"))
                .file(Some("src/db.rs"))
                .line(Some(12))
                .args(format_args!("slow query"))
                .build(),
        )
        .expect("dispatched");
    });
    let exported = pipelines.finish();
    let record = exported.record("slow query");
    assert_eq!(record.severity_number, 13);
    assert_eq!(
        exported.scope_of("slow query"),
        "app::db",
        "the log record's own target"
    );
    assert_eq!(attribute(record, "target"), None, "the scope names it");
    assert_eq!(
        attribute(record, "code.module.name"),
        Some(&string("app::db"))
    );
    assert_eq!(
        attribute(record, "code.file.path"),
        Some(&string("src/db.rs"))
    );
    assert_eq!(
        attribute(record, "code.line.number"),
        Some(&Value::IntValue(12))
    );
    assert!(
        record
            .attributes
            .iter()
            .all(|kv| !kv.key.starts_with("log.")),
        "{:?}",
        record.attributes
    );
    assert_eq!(record.attributes.len(), 3, "{:?}", record.attributes);
}

#[test]
fn with_one_scope_the_target_is_an_attribute_for_log_records_too() {
    let pipelines = Pipelines::new();
    let layer = OtlpLogLayer::builder(&pipelines.loggers)
        .with_scope(otlp_core::InstrumentationScope::new("checkout"))
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing_log::format_trace(
            &log::Record::builder()
                .level(log::Level::Info)
                .target("app::cache")
                .args(format_args!("cache warm"))
                .build(),
        )
        .expect("dispatched");
        tracing::info!(target: "app::http", "request served");
    });
    let exported = pipelines.finish();
    assert_eq!(exported.scope_of("cache warm"), "checkout");
    assert_eq!(exported.scope_of("request served"), "checkout");
    assert_eq!(
        attribute(exported.record("cache warm"), "target"),
        Some(&string("app::cache"))
    );
    assert_eq!(
        attribute(exported.record("request served"), "target"),
        Some(&string("app::http"))
    );
}

#[test]
fn each_target_gets_a_scope_of_its_own() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&pipelines.loggers));
    tracing::subscriber::with_default(subscriber, || {
        for round in 0..3 {
            tracing::info!(target: "shop::orders", round, "order placed");
            tracing::info!(target: "shop::payments", round, "payment taken");
        }
    });
    let exported = pipelines.finish();
    assert_eq!(exported.records.len(), 6);
    for (scope, record) in &exported.records {
        let expected = match body_of(record) {
            Some("order placed") => "shop::orders",
            Some("payment taken") => "shop::payments",
            other => panic!("unexpected record {other:?}"),
        };
        assert_eq!(scope, expected);
    }
}

#[test]
fn dropping_the_subscriber_and_the_provider_shuts_the_log_pipeline_down() {
    // The pipeline shuts down (exporting what it holds) when its last
    // handle is dropped; the thread's cached logger of the event's target
    // must not be such a handle.
    let exporter = Decoding {
        signal: Some(Signal::Logs),
        ..Decoding::default()
    };
    let processor = BatchLogProcessor::builder(exporter.clone())
        .build()
        .expect("the log pipeline builds");
    let loggers = LoggerProvider::builder()
        .with_service_name("tracing-logs-test")
        .with_processor(processor)
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&loggers));
    drop(loggers);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "shop::orders", "last words");
    });
    // The subscriber, its layer and the provider are gone.
    let bodies: Vec<_> = exporter
        .logs
        .lock()
        .unwrap()
        .iter()
        .flat_map(|request| &request.resource_logs)
        .flat_map(|resource_logs| &resource_logs.scope_logs)
        .flat_map(|scope_logs| &scope_logs.log_records)
        .map(|record| record.body.clone().and_then(|body| body.value))
        .collect();
    assert_eq!(bodies, [Some(Value::StringValue("last words".into()))]);
}

/// An error caused by another.
#[derive(Debug)]
struct ChargeFailed(Declined);

impl fmt::Display for ChargeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("charge failed")
    }
}

impl Error for ChargeFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn an_error_fields_sources_are_kept_in_its_chain() {
    let pipelines = Pipelines::new();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&pipelines.loggers));
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(error = &ChargeFailed(Declined) as &dyn Error, "retrying");
    });
    let exported = pipelines.finish();
    let record = exported.record("retrying");
    assert_eq!(attribute(record, "error"), Some(&string("charge failed")));
    let Some(Value::ArrayValue(chain)) = attribute(record, "error.chain") else {
        panic!("no error.chain array in {record:#?}");
    };
    let chain: Vec<_> = chain
        .values
        .iter()
        .map(|value| value.value.clone())
        .collect();
    assert_eq!(chain, [Some(string("card declined"))]);
}

/// What a [`SeverityFloor`] was asked and given.
#[derive(Default)]
struct Seen {
    /// Each `enabled` call: the scope's name, the severity, the event name.
    asked: Vec<(String, otlp_core::Severity, String)>,
    /// Each record it was given: its scope's name, severity and body.
    emitted: Vec<(String, otlp_core::Severity, String)>,
}

/// A processor that keeps records of `floor` and more severe only.
#[derive(Clone)]
struct SeverityFloor {
    floor: otlp_core::Severity,
    seen: Arc<Mutex<Seen>>,
}

impl otlp_sdk::LogProcessor for SeverityFloor {
    fn on_emit(&self, record: &mut otlp_core::LogRecord) {
        let body = record
            .body
            .as_ref()
            .and_then(|body| body.as_str())
            .unwrap_or_default()
            .to_owned();
        self.seen.lock().unwrap().emitted.push((
            record.scope.name.to_string(),
            record.severity_number,
            body,
        ));
    }

    fn enabled(
        &self,
        scope: &otlp_core::InstrumentationScope,
        severity: otlp_core::Severity,
        event_name: &str,
    ) -> bool {
        self.seen.lock().unwrap().asked.push((
            scope.name.to_string(),
            severity,
            event_name.to_owned(),
        ));
        severity >= self.floor
    }

    fn force_flush(&self, _: Duration) -> Result<(), otlp_sdk::PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), otlp_sdk::PipelineError> {
        Ok(())
    }
}

/// A field value that counts how often it is formatted.
struct Formatted(Arc<std::sync::atomic::AtomicUsize>);

impl fmt::Debug for Formatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        f.write_str("formatted")
    }
}

#[test]
fn a_processor_refusing_a_severity_gets_no_record_of_it_and_is_asked_with_its_scope() {
    use otlp_core::Severity;
    let owned = |scope: &str, severity, text: &str| (scope.to_owned(), severity, text.to_owned());
    for one_scope in [false, true] {
        let processor = SeverityFloor {
            floor: Severity::WARN,
            seen: Arc::default(),
        };
        let provider = LoggerProvider::builder()
            .with_processor(processor.clone())
            .build();
        let mut layer = OtlpLogLayer::builder(&provider);
        if one_scope {
            layer = layer.with_scope(otlp_core::InstrumentationScope::new("checkout"));
        }
        let formatted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(layer.build());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "shop::orders", lookup = ?Formatted(formatted.clone()), "info refused");
            tracing::warn!(target: "shop::orders", "warn kept");
            // A `log` record through `tracing-log`: its target is a field.
            for (level, text) in [
                (log::Level::Debug, "log debug refused"),
                (log::Level::Error, "log error kept"),
            ] {
                tracing_log::format_trace(
                    &log::Record::builder()
                        .level(level)
                        .target("app::db")
                        .args(format_args!("{text}"))
                        .build(),
                )
                .expect("dispatched");
            }
        });
        assert_eq!(
            formatted.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a refused event's fields are not read"
        );
        let (orders, db) = if one_scope {
            ("checkout", "checkout")
        } else {
            ("shop::orders", "app::db")
        };
        let seen = processor.seen.lock().unwrap();
        assert_eq!(
            seen.emitted,
            [
                owned(orders, Severity::WARN, "warn kept"),
                owned(db, Severity::ERROR, "log error kept"),
            ],
            "one scope: {one_scope}"
        );
        assert_eq!(
            seen.asked,
            [
                owned(orders, Severity::INFO, ""),
                owned(orders, Severity::WARN, ""),
                owned(db, Severity::DEBUG, ""),
                owned(db, Severity::ERROR, ""),
            ],
            "one scope: {one_scope}"
        );
    }
}

/// A sampler of the program's own that records through `tracing` as it
/// decides: an event, a span of its own (entered), a field of the current
/// span, its context. The current span is then the one being started, when
/// it starts as it is entered.
#[derive(Debug)]
struct TracingSampler;

impl otlp_sdk::ShouldSample for TracingSampler {
    fn should_sample(&self, span: &otlp_sdk::SamplingParameters<'_>) -> otlp_sdk::SamplingResult {
        tracing::warn!(span = span.name, "sampling");
        let _own = tracing::info_span!("inside the sampler").entered();
        tracing::Span::current().record("decided", true);
        let _ = tracing::Span::current().context();
        otlp_sdk::SamplingResult::new(otlp_sdk::SamplingDecision::RecordAndSample, span)
    }

    fn description(&self) -> String {
        "TracingSampler".to_owned()
    }
}

/// Counts the events the whole subscriber sees.
struct CountEvents(Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountEvents {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A sampler (or a processor's `on_start`) is the program's code: it may log
/// through `tracing` while a span starts, and a span starts as it is entered,
/// when it is already `tracing`'s current span and the layer holds its
/// extensions. That hung the thread (`OtlpLayer` and `OtlpLogLayer` waited
/// for the lock it held). What the sampler records reaches the other layers;
/// `OtlpLayer` leaves it out (as on a pipeline's own threads) and the log
/// record has the ids of the thread's active span, if any (not the span
/// being started).
#[test]
fn a_sampler_that_records_through_tracing_as_a_span_is_entered_does_not_hang() {
    let pipelines = Pipelines::with_sampler(Some(Sampler::custom(TracingSampler)));
    let events = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(OtlpLayer::new(&pipelines.tracers))
        .with(OtlpLogLayer::new(&pipelines.loggers))
        .with(CountEvents(events.clone()));
    let (done, finished) = std::sync::mpsc::channel();
    // On its own thread, so that a hang fails the test instead of the run.
    let recording = std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", decided = tracing::field::Empty);
            request.in_scope(|| {
                tracing::info!("handled");
                tracing::info_span!("child").in_scope(|| {});
            });
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(PATIENCE)
        .expect("the thread went on (it hung on the span's own lock)");
    recording.join().expect("the recording thread");
    let exported = pipelines.finish();
    // Each of the two spans asked the sampler once; the other layer saw
    // its events.
    assert_eq!(events.load(std::sync::atomic::Ordering::SeqCst), 3);
    let request = exported.span("request");
    let child = exported.span("child");
    assert_eq!(
        exported.spans.len(),
        2,
        "the sampler's own span is not recorded"
    );
    assert_eq!(child.parent_span_id, request.span_id);
    let names: Vec<&str> = request.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["handled"]);
    assert!(request.attributes.iter().all(|kv| kv.key != "decided"));
    let handled = exported.record("handled");
    assert_eq!(handled.span_id, request.span_id);
    let sampling: Vec<_> = exported
        .records
        .iter()
        .filter(|(_, record)| body_of(record) == Some("sampling"))
        .collect();
    // The request's, as it starts: no span is active yet; the child's,
    // inside the request: the request, the thread's active span.
    let ids: Vec<&[u8]> = sampling
        .iter()
        .map(|(_, record)| record.span_id.as_slice())
        .collect();
    assert_eq!(ids, [&[][..], request.span_id.as_slice()]);
}
