//! Correlation through every log front door across `.await` on a
//! multi-thread runtime: tasks instrumented with `tracing` spans that an
//! `OtlpLayer` records hop between worker threads; inside each, a record
//! goes through `OtlpLogLayer` (`tracing` events), `OtlpLogger` (the `log`
//! crate), the native `Logger`, and `OpenTelemetryTracingBridge` with
//! `OtlpLogProcessor` (the `opentelemetry_sdk` front door). Each record
//! must reach the embedded receiver (decoded with `opentelemetry-proto`)
//! with the trace id, span id and trace flags of the span it was emitted
//! in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use log::Log as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLogRecord;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use otlp_contrib::bridge::OtlpLogProcessor;
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_contrib::pipeline::{build_log_processor, build_processor};
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer, OtlpSpanExt as _};
use otlp_core::{KeyValue, LogRecord, Severity};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{LoggerProvider, TracerProvider};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);
const TASKS: usize = 8;
const STEPS: usize = 3;
/// Front doors a record goes through at each step.
const DOORS: [&str; 4] = ["tracing", "log", "native", "opentelemetry"];

fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_env(env.iter().map(|(name, value)| (*name, *value)))
        .load()
        .expect("the configuration loads")
}

fn string_attribute(record: &ProtoLogRecord, key: &str) -> Option<String> {
    record
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.clone()),
            _ => None,
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn every_front_door_correlates_across_await_on_a_multi_thread_runtime() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let grpc = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &receiver.grpc_endpoint().expect("gRPC"),
        ),
    ]);
    let http = config(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        &receiver.http_endpoint().expect("HTTP"),
    )]);
    let span_pipeline = build_processor(&grpc).expect("the span pipeline starts");
    let tracers = TracerProvider::builder()
        .with_service_name("correlation")
        .with_processor(span_pipeline.clone())
        .build();
    let native_pipeline = build_log_processor(&grpc).expect("the log pipeline starts");
    let loggers = LoggerProvider::builder()
        .with_service_name("correlation")
        .with_processor(native_pipeline.clone())
        .build();
    let bridge_pipeline = build_log_processor(&http).expect("the bridge's log pipeline starts");
    let sdk_loggers = SdkLoggerProvider::builder()
        .with_log_processor(OtlpLogProcessor::new(bridge_pipeline.clone()))
        .build();
    let log_logger = Arc::new(OtlpLogger::new(&loggers));
    let native = loggers.logger("native");

    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(OtlpLayer::new(&tracers))
            .with(OtlpLogLayer::new(&loggers))
            .with(OpenTelemetryTracingBridge::new(&sdk_loggers)),
    );
    let on_workers = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&on_workers));
        })
        .build()
        .expect("the runtime starts");
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let span = tracing::info_span!("task", task);
                    let log_logger = Arc::clone(&log_logger);
                    let native = native.clone();
                    tokio::spawn(
                        async move {
                            for step in 0..STEPS {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                                tokio::task::yield_now().await;
                                let step_span = tracing::info_span!("step", task, step);
                                async {
                                    tokio::task::yield_now().await;
                                    let context = tracing::Span::current().context();
                                    let expected = format!(
                                        "{:x}-{:x}-{}",
                                        context.trace_id,
                                        context.span_id,
                                        context.trace_flags.bits()
                                    );
                                    let key = format!("{task}/{step}");
                                    tracing::warn!(
                                        expected = expected.as_str(),
                                        key = key.as_str(),
                                        "door tracing"
                                    );
                                    log_logger.log(
                                        &log::Record::builder()
                                            .level(log::Level::Warn)
                                            .args(format_args!("door log"))
                                            .key_values(&[
                                                ("expected", expected.as_str()),
                                                ("key", key.as_str()),
                                            ])
                                            .build(),
                                    );
                                    native.emit(
                                        LogRecord::builder()
                                            .severity(Severity::WARN)
                                            .body("door native")
                                            .attribute(KeyValue::new("expected", expected.clone()))
                                            .attribute(KeyValue::new("key", key.clone()))
                                            .build(),
                                    );
                                }
                                .instrument(step_span)
                                .await;
                            }
                        }
                        .instrument(span),
                    )
                })
                .collect();
            for task in tasks {
                task.await.expect("the task finishes");
            }
        });
    });
    drop(runtime);
    drop(dispatch);

    tracers.shutdown(PATIENCE).expect("spans shut down");
    loggers.shutdown(PATIENCE).expect("logs shut down");
    sdk_loggers
        .shutdown_with_timeout(PATIENCE)
        .expect("the bridge shuts down");
    // Each step: one `tracing` event (twice: OtlpLogLayer and the
    // appender), one `log` record, one native record.
    let per_door = (TASKS * STEPS) as u64;
    assert_eq!(native_pipeline.stats().exported, 3 * per_door);
    assert_eq!(bridge_pipeline.stats().exported, per_door);
    assert!(receiver.wait_for_log_records(4 * per_door, PATIENCE));

    let mut seen: HashMap<&str, usize> = HashMap::new();
    let records = receiver.accepted_logs();
    let mut wrong = Vec::new();
    for record in &records {
        let body = match record.body.as_ref().and_then(|body| body.value.as_ref()) {
            Some(Value::StringValue(text)) => text.clone(),
            other => panic!("a string body, not {other:?}"),
        };
        let door = match body.as_str() {
            "door tracing" if record.event_name.is_empty() => "tracing",
            "door tracing" => "opentelemetry",
            "door log" => "log",
            "door native" => "native",
            other => panic!("an unexpected record {other:?}"),
        };
        *seen.entry(door).or_default() += 1;
        let expected = string_attribute(record, "expected").expect("the expected ids");
        let got = format!(
            "{}-{}-{}",
            hex(&record.trace_id),
            hex(&record.span_id),
            record.flags
        );
        if got != expected {
            wrong.push(format!(
                "{door} {}: got {got:?}, expected {expected}",
                string_attribute(record, "key").unwrap_or_default()
            ));
        }
    }
    for door in DOORS {
        assert_eq!(seen.get(door), Some(&(TASKS * STEPS)), "{door}: {seen:?}");
    }
    assert!(
        wrong.is_empty(),
        "{} uncorrelated:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
