//! Every front door installed process-wide at once, with every exporter and
//! every signal's pipeline: nothing the pipelines do comes back through a
//! front door, and nothing the application records is lost.
//!
//! A program installs, for the whole process:
//!
//! - a global `tracing` subscriber with `OtlpLayer` (spans) and
//!   `OtlpLogLayer` (events as log records), and either `tracing-log`'s
//!   `LogTracer` (the `log` crate's records as `tracing` events) or the `log`
//!   bridge `OtlpLogger` as the global `log` logger; or a global subscriber
//!   with `tracing-opentelemetry` and `opentelemetry-appender-tracing` on
//!   `opentelemetry_sdk` providers whose processors are the bridge's
//!   `OtlpSpanProcessor` and `OtlpLogProcessor`, and `LogTracer`;
//! - the `metrics` recorder `OtlpRecorder` as the global recorder.
//!
//! The span and log providers export over gRPC, plain HTTP, gRPC with TLS,
//! HTTPS (verified with the system's roots: the test CA, through
//! `SSL_CERT_FILE`) and to a file, all at once; the meter provider (one
//! reader) over each of them in turn, one child process each. The endpoints name `localhost`, so each
//! connection resolves a host name (hyper-util's `GaiResolver`, tokio's
//! resolver: on a runtime's blocking pool). The pipelines' dependencies (h2,
//! hyper, tonic, tower, reqwest, rustls, the platform verifier) record through
//! `tracing` and `log` while the application records on its own threads and
//! flushes from another. What the backends and the files received must be
//! exactly what the application recorded, for each signal.
//!
//! Each combination runs in a child process of its own (a global subscriber,
//! logger and recorder are process-wide, and `SSL_CERT_FILE` is read by the
//! process): the `#[ignore]`d tests are the children's side.

use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as PointValue;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otlp_contrib::bridge::{OtlpLogProcessor, OtlpSpanProcessor};
use otlp_contrib::file_exporter::FileExporter;
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_contrib::receiver::{Receiver, ReceiverConfig, ReceiverTls, TestCertificates};
use otlp_contrib::recorder::OtlpRecorder;
use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer};
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::PerformanceConfig;
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, LoggerProvider, Signal, StatsSnapshot, TracerProvider,
};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(60);
/// Application threads recording at once.
const THREADS: u64 = 3;
/// Requests each application thread handles.
const ROUNDS: u64 = 100;
/// One span per request.
const SPANS: u64 = THREADS * ROUNDS;
/// Per request, a `tracing` event and a `log` record.
const RECORDS: u64 = 2 * SPANS;
/// The application's only metric: a counter incremented once per request.
const COUNTER: &str = "app.requests";

/// The child's server certificate and key (the CA is `SSL_CERT_FILE`).
const SERVER_CERT_PEM: &str = "OTLP_TEST_FRONT_DOORS_SERVER_CERT_PEM";
const SERVER_KEY_PEM: &str = "OTLP_TEST_FRONT_DOORS_SERVER_KEY_PEM";
const CA_PEM: &str = "OTLP_TEST_FRONT_DOORS_CA_PEM";
/// The index in [`TRANSPORTS`] of the child's metrics exporter.
const METRICS_TRANSPORT: &str = "OTLP_TEST_FRONT_DOORS_METRICS_TRANSPORT";

/// The front doors a child installs for the whole process.
#[derive(Clone, Copy, Debug)]
enum FrontDoors {
    /// `OtlpLayer` and `OtlpLogLayer`, and `tracing-log`'s `LogTracer`
    /// turning the `log` crate's records into `tracing` events.
    OtlpLayersAndLogTracer,
    /// `OtlpLayer` and `OtlpLogLayer`, and `OtlpLogger` as the `log` logger.
    OtlpLayersAndLogBridge,
    /// `tracing-opentelemetry` and `opentelemetry-appender-tracing` on
    /// `opentelemetry_sdk` providers whose processors are `OtlpSpanProcessor`
    /// and `OtlpLogProcessor`, and `LogTracer`.
    OpenTelemetryBridgeAndLogTracer,
}

/// Flushes every span and log pipeline, from any thread.
type Flush = Box<dyn Fn() + Sync>;
/// Shuts every span and log pipeline down.
type ShutDown = Box<dyn Fn()>;

/// Where a pipeline exports.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    Http,
    GrpcTls,
    Https,
    File,
}

const TRANSPORTS: [Transport; 5] = [
    Transport::Grpc,
    Transport::Http,
    Transport::GrpcTls,
    Transport::Https,
    Transport::File,
];

/// The backends a child exports to.
struct Backends {
    plain: Receiver,
    tls: Receiver,
    ca_pem: String,
    dir: PathBuf,
}

/// `http://127.0.0.1:PORT` as `http://localhost:PORT`: a host name to resolve.
fn by_name(endpoint: String) -> String {
    endpoint.replace("127.0.0.1", "localhost")
}

impl Backends {
    fn file(&self, signal: Signal) -> PathBuf {
        self.dir.join(format!("{signal}.jsonl"))
    }

    /// The exporter of `signal` over `transport`, as a boxed otlp-sdk exporter.
    fn exporter(&self, transport: Transport, signal: Signal) -> Box<dyn otlp_sdk::DynExporter> {
        match transport {
            Transport::Grpc => Box::new(
                GrpcExporter::builder()
                    .signal(signal)
                    .endpoint(by_name(self.plain.grpc_endpoint().expect("gRPC")))
                    .build()
                    .expect("gRPC exporter"),
            ),
            Transport::Http => Box::new(
                HttpExporter::builder()
                    .signal(signal)
                    .endpoint(by_name(self.plain.http_endpoint().expect("HTTP")))
                    .build()
                    .expect("HTTP exporter"),
            ),
            Transport::GrpcTls => Box::new(
                GrpcExporter::builder()
                    .signal(signal)
                    .endpoint(by_name(self.tls.grpc_endpoint().expect("gRPC")))
                    .ca_certificate_pem(self.ca_pem.clone())
                    .build()
                    .expect("gRPC TLS exporter"),
            ),
            // No CA given: the system's roots, which are the test CA here.
            Transport::Https => Box::new(
                HttpExporter::builder()
                    .signal(signal)
                    .endpoint(by_name(self.tls.http_endpoint().expect("HTTP")))
                    .build()
                    .expect("HTTPS exporter"),
            ),
            Transport::File => Box::new(
                FileExporter::to_path(self.file(signal))
                    .expect("file exporter")
                    .for_signal(signal),
            ),
        }
    }
}

/// Exports run on the export loop's thread (one I/O thread, the default)
/// for the plain transports, on a runtime's workers beside it for the others.
fn performance(transport: Transport) -> PerformanceConfig {
    PerformanceConfig {
        io_threads: match transport {
            Transport::Grpc | Transport::Http => 1,
            _ => 2,
        },
        ..PerformanceConfig::default()
    }
}

fn assert_only_the_application(what: &str, stats: &StatsSnapshot, expected: u64) {
    assert!(stats.is_balanced(), "{what}: {stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, expected, "{what}: {stats:#?}");
    assert_eq!(stats.exported, expected, "{what}: {stats:#?}");
}

/// `document[outer][*][middle][*][inner][*]` of each document (line) of
/// an OTLP/JSON lines file, flattened.
fn file_items(path: &Path, [outer, middle, inner]: [&str; 3]) -> Vec<serde_json::Value> {
    fn list(value: &serde_json::Value, key: &str) -> Vec<serde_json::Value> {
        value[key].as_array().cloned().unwrap_or_default()
    }
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("an OTLP/JSON line"))
        .flat_map(|document| list(&document, outer))
        .flat_map(|resource| list(&resource, middle))
        .flat_map(|scope| list(&scope, inner))
        .collect()
}

/// One request of the application: a span, a `tracing` event and a `log`
/// record inside it, and the counter.
fn handle_request(thread: u64, round: u64) {
    let _span = tracing::info_span!("request", thread, round).entered();
    tracing::info!(thread, round, "handled");
    log::info!("logged {thread}/{round}");
    metrics::counter!(COUNTER).increment(1);
}

/// Installs the front doors for the whole process, runs the application
/// and checks what arrived. Runs in a child process.
fn run_child(front_doors: FrontDoors) {
    let (Ok(cert_pem), Ok(key_pem), Ok(ca_pem), Ok(metrics_transport)) = (
        std::env::var(SERVER_CERT_PEM),
        std::env::var(SERVER_KEY_PEM),
        std::env::var(CA_PEM),
        std::env::var(METRICS_TRANSPORT),
    ) else {
        // Not the child: the parent test runs it.
        return;
    };
    let metrics_transport = TRANSPORTS[metrics_transport
        .parse::<usize>()
        .expect("an index of TRANSPORTS")];
    let backends = Backends {
        plain: Receiver::start(ReceiverConfig::default()).expect("plain receiver"),
        tls: Receiver::start(ReceiverConfig {
            tls: Some(ReceiverTls {
                cert_pem,
                key_pem,
                client_ca_pem: None,
            }),
            ..ReceiverConfig::default()
        })
        .expect("TLS receiver"),
        ca_pem,
        dir: std::env::temp_dir().join(format!(
            "otlp-front-doors-{}-{}",
            std::process::id(),
            otlp_core::SpanId::random()
        )),
    };
    std::fs::create_dir_all(&backends.dir).expect("temporary directory");

    // Spans and log records: their pipelines first, as the layers need them.
    let span_processors: Vec<_> = TRANSPORTS
        .iter()
        .map(|&transport| {
            BatchSpanProcessor::builder(backends.exporter(transport, Signal::Traces))
                .with_performance_config(performance(transport))
                .build()
                .expect("span pipeline")
        })
        .collect();
    let log_processors: Vec<_> = TRANSPORTS
        .iter()
        .map(|&transport| {
            BatchLogProcessor::builder(backends.exporter(transport, Signal::Logs))
                .with_performance_config(performance(transport))
                .build()
                .expect("log pipeline")
        })
        .collect();

    // Flushes, then shuts down, every span and log pipeline through the
    // providers the front doors record into.
    let (flush, shut_down): (Flush, ShutDown) = match front_doors {
        FrontDoors::OtlpLayersAndLogTracer | FrontDoors::OtlpLayersAndLogBridge => {
            let tracers = span_processors
                .iter()
                .fold(
                    TracerProvider::builder().with_service_name("front-doors"),
                    |builder, processor| builder.with_processor(processor.clone()),
                )
                .build();
            let loggers = log_processors
                .iter()
                .fold(
                    LoggerProvider::builder().with_service_name("front-doors"),
                    |builder, processor| builder.with_processor(processor.clone()),
                )
                .build();
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry()
                    .with(OtlpLayer::new(&tracers))
                    .with(OtlpLogLayer::new(&loggers)),
            )
            .expect("the only global subscriber of this process");
            if let FrontDoors::OtlpLayersAndLogBridge = front_doors {
                OtlpLogger::new(&loggers)
                    .install(log::LevelFilter::Trace)
                    .expect("the only global logger of this process");
            }
            let (flushed_tracers, flushed_loggers) = (tracers.clone(), loggers.clone());
            (
                Box::new(move || {
                    flushed_tracers.force_flush(PATIENCE).expect("spans flush");
                    flushed_loggers
                        .force_flush(PATIENCE)
                        .expect("log records flush");
                }),
                Box::new(move || {
                    tracers.shutdown(PATIENCE).expect("spans shut down");
                    loggers.shutdown(PATIENCE).expect("log records shut down");
                }),
            )
        }
        FrontDoors::OpenTelemetryBridgeAndLogTracer => {
            let tracers = span_processors
                .iter()
                .fold(SdkTracerProvider::builder(), |builder, processor| {
                    builder.with_span_processor(OtlpSpanProcessor::new(processor.clone()))
                })
                .build();
            let loggers = log_processors
                .iter()
                .fold(SdkLoggerProvider::builder(), |builder, processor| {
                    builder.with_log_processor(OtlpLogProcessor::new(processor.clone()))
                })
                .build();
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(tracers.tracer("front-doors")))
                    .with(OpenTelemetryTracingBridge::new(&loggers)),
            )
            .expect("the only global subscriber of this process");
            let (flushed_tracers, flushed_loggers) = (tracers.clone(), loggers.clone());
            (
                Box::new(move || {
                    flushed_tracers.force_flush().expect("spans flush");
                    flushed_loggers.force_flush().expect("log records flush");
                }),
                Box::new(move || {
                    tracers
                        .shutdown_with_timeout(PATIENCE)
                        .expect("spans shut down");
                    loggers
                        .shutdown_with_timeout(PATIENCE)
                        .expect("log records shut down");
                }),
            )
        }
    };
    if let FrontDoors::OtlpLayersAndLogTracer | FrontDoors::OpenTelemetryBridgeAndLogTracer =
        front_doors
    {
        tracing_log::LogTracer::init().expect("the only global logger of this process");
    }

    // Metrics: built once the subscriber and the logger are in place, as a
    // program that sets its logging up first builds them.
    let meters = MeterProvider::builder()
        .with_service_name("front-doors")
        .with_reader(
            PeriodicReader::builder(backends.exporter(metrics_transport, Signal::Metrics))
                .with_interval(Duration::from_secs(3600))
                .build()
                .expect("metrics reader"),
        )
        .build()
        .expect("meter provider");
    OtlpRecorder::new(&meters)
        .install()
        .expect("the only global recorder of this process");

    // The application: threads handling requests while another flushes
    // every signal now and then, so that exports (and their connections,
    // handshakes and name resolutions) run while the application records.
    let start = Barrier::new(THREADS as usize + 1);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let start = &start;
            scope.spawn(move || {
                start.wait();
                for round in 0..ROUNDS {
                    handle_request(thread, round);
                }
            });
        }
        start.wait();
        for _ in 0..5 {
            flush();
            meters.force_flush(PATIENCE).expect("metrics flush");
        }
    });
    shut_down();
    meters.shutdown(PATIENCE).expect("metrics shut down");

    for (transport, processor) in TRANSPORTS.iter().zip(&span_processors) {
        assert_only_the_application(&format!("{transport:?} spans"), &processor.stats(), SPANS);
    }
    for (transport, processor) in TRANSPORTS.iter().zip(&log_processors) {
        assert_only_the_application(
            &format!("{transport:?} log records"),
            &processor.stats(),
            RECORDS,
        );
    }
    let metrics_stats = meters.stats();
    assert_eq!(
        metrics_stats.failed_data_points + metrics_stats.rejected_data_points,
        0,
        "{metrics_stats:#?}"
    );

    // What the backends received: two pipelines of each signal per receiver.
    for (receiver, name) in [(&backends.plain, "plain"), (&backends.tls, "TLS")] {
        assert_eq!(receiver.span_count(), 2 * SPANS, "{name} spans");
        assert_eq!(
            receiver.log_record_count(),
            2 * RECORDS,
            "{name} log records"
        );
        for span in receiver.accepted_spans() {
            assert_eq!(span.name, "request", "{name}: not the application's");
        }
        for record in receiver.accepted_logs() {
            let body = match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                Some(Value::StringValue(text)) => text.clone(),
                other => panic!("{name}: a string body, not {other:?}"),
            };
            assert!(
                body == "handled" || body.starts_with("logged "),
                "{name}: not the application's: {body:?} {record:?}"
            );
        }
    }
    let metrics = match metrics_transport {
        Transport::Grpc | Transport::Http => backends.plain.accepted_metrics(),
        Transport::GrpcTls | Transport::Https => backends.tls.accepted_metrics(),
        Transport::File => Vec::new(),
    };
    if !matches!(metrics_transport, Transport::File) {
        assert!(
            !metrics.is_empty(),
            "{metrics_transport:?}: metrics arrived"
        );
        for metric in &metrics {
            assert_eq!(metric.name, COUNTER, "not the application's");
        }
        let last = metrics
            .iter()
            .filter_map(|metric| match &metric.data {
                Some(Data::Sum(sum)) => sum.data_points.last().and_then(|point| point.value),
                _ => None,
            })
            .map(|value| match value {
                PointValue::AsInt(int) => int as u64,
                PointValue::AsDouble(double) => double as u64,
            })
            .max();
        assert_eq!(last, Some(SPANS), "the counter's total");
        assert_eq!(
            backends.plain.data_point_count() + backends.tls.data_point_count(),
            metrics_stats.exported_data_points,
            "{metrics_stats:#?}"
        );
    }

    // What the files received.
    let spans = file_items(
        &backends.file(Signal::Traces),
        ["resourceSpans", "scopeSpans", "spans"],
    );
    assert_eq!(spans.len() as u64, SPANS, "file spans");
    assert!(spans.iter().all(|span| span["name"] == "request"));
    let records = file_items(
        &backends.file(Signal::Logs),
        ["resourceLogs", "scopeLogs", "logRecords"],
    );
    assert_eq!(records.len() as u64, RECORDS, "file log records");
    for record in &records {
        let body = record["body"]["stringValue"].as_str().unwrap_or_default();
        assert!(
            body == "handled" || body.starts_with("logged "),
            "file: not the application's: {record}"
        );
    }
    if matches!(metrics_transport, Transport::File) {
        let metrics = file_items(
            &backends.file(Signal::Metrics),
            ["resourceMetrics", "scopeMetrics", "metrics"],
        );
        assert!(!metrics.is_empty(), "file metrics");
        for metric in &metrics {
            assert_eq!(metric["name"], COUNTER, "file: not the application's");
        }
        let total = metrics
            .iter()
            .filter_map(|metric| {
                metric["sum"]["dataPoints"].as_array()?.last()?["asInt"]
                    .as_str()?
                    .parse::<u64>()
                    .ok()
            })
            .max();
        assert_eq!(total, Some(SPANS), "file: the counter's total");
    }
    let _ = std::fs::remove_dir_all(&backends.dir);
}

/// Runs `child` (an `#[ignore]`d test of this binary) once per metrics
/// transport, each in a process whose system roots are a fresh test CA, and
/// asserts each passed.
fn in_child_processes(child: &str) {
    let certs = TestCertificates::generate().expect("certificates");
    let dir = std::env::temp_dir().join(format!(
        "otlp-front-doors-ca-{}-{}",
        std::process::id(),
        otlp_core::SpanId::random()
    ));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &certs.ca_pem).expect("write the CA");
    let outputs: Vec<_> = (0..TRANSPORTS.len())
        .map(|metrics_transport| {
            std::process::Command::new(std::env::current_exe().expect("the test binary"))
                .args(["--exact", child, "--ignored", "--nocapture"])
                .env("SSL_CERT_FILE", &ca)
                .env_remove("SSL_CERT_DIR")
                .env(SERVER_CERT_PEM, &certs.server_cert_pem)
                .env(SERVER_KEY_PEM, &certs.server_key_pem)
                .env(CA_PEM, &certs.ca_pem)
                .env(METRICS_TRANSPORT, metrics_transport.to_string())
                .output()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    for (output, transport) in outputs.into_iter().zip(TRANSPORTS) {
        let output = output.expect("the child test runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "metrics over {transport:?}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn with_log_tracer_only_the_applications_records_are_exported() {
    in_child_processes("child_with_log_tracer");
}

#[test]
fn with_the_log_bridge_only_the_applications_records_are_exported() {
    in_child_processes("child_with_the_log_bridge");
}

#[test]
#[ignore = "run in a child process by with_log_tracer_only_the_applications_records_are_exported"]
fn child_with_log_tracer() {
    run_child(FrontDoors::OtlpLayersAndLogTracer);
}

#[test]
#[ignore = "run in a child process by with_the_log_bridge_only_the_applications_records_are_exported"]
fn child_with_the_log_bridge() {
    run_child(FrontDoors::OtlpLayersAndLogBridge);
}

#[test]
fn with_the_opentelemetry_bridge_only_the_applications_records_are_exported() {
    in_child_processes("child_with_the_opentelemetry_bridge");
}

#[test]
#[ignore = "run in a child process by with_the_opentelemetry_bridge_only_the_applications_records_are_exported"]
fn child_with_the_opentelemetry_bridge() {
    run_child(FrontDoors::OpenTelemetryBridgeAndLogTracer);
}
