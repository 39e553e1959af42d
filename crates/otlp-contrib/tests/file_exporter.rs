//! `FileExporter` behind the real batch pipeline: every line is one OTLP/JSON
//! `ExportTraceServiceRequest` that `opentelemetry-proto`'s serde types read
//! back into exactly the spans sent — the same spans the receiver gets over
//! OTLP/HTTP — and I/O errors end as the retry policy expects. Built for
//! logs or metrics, it writes `ExportLogsServiceRequest` /
//! `ExportMetricsServiceRequest` lines, and a pipeline of another signal
//! refuses it.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_contrib::file_exporter::{FileExporter, FileExporterError, Rotation};
use otlp_contrib::pipeline::build_processor;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_core::{
    KeyValue, LogRecord, Severity, SpanContext, SpanId, SpanKind, TraceFlags, TraceId,
};
use otlp_sdk::config::{BatchConfig, Config, Protocol};
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, Exporter, LoggerProvider, RetryPolicy, Signal,
    StatsSnapshot, TracerProvider,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "otlp-contrib-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Small batches, several exports in flight, quick retries.
fn processor(exporter: impl Exporter) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            max_queue_size: Some(10_000),
            max_export_batch_size: 7,
            min_export_batch_size: 7,
            scheduled_delay: Duration::from_millis(10),
            max_concurrent_exports: 4,
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            randomization_factor: 0.0,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

/// `threads` threads each end `per_thread` spans named `t{thread}-{n}`.
fn send_spans(provider: &TracerProvider, threads: usize, per_thread: usize) {
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let tracer = provider.tracer("file-test");
            scope.spawn(move || {
                for n in 0..per_thread {
                    tracer
                        .span_builder(format!("t{thread}-{n}"))
                        .kind(SpanKind::Client)
                        .attribute(KeyValue::new("thread", thread as i64))
                        .attribute(KeyValue::new("text", "line\nbreak \"quoted\" é"))
                        .start()
                        .end();
                }
            });
        }
    });
}

/// Every line of the file, decoded; panics on a line that is not one request.
fn read_lines(path: &std::path::Path) -> Vec<ExportTraceServiceRequest> {
    read_lines_as(path, |line| serde_json::from_str(line))
}

fn spans_of(requests: &[ExportTraceServiceRequest]) -> Vec<Span> {
    requests
        .iter()
        .flat_map(|request| &request.resource_spans)
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| scope.spans.iter().cloned())
        .collect()
}

fn string_attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.as_str()),
            _ => None,
        })
}

fn assert_all_exported(stats: &StatsSnapshot, spans: u64) {
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(
        (stats.produced, stats.exported),
        (spans, spans),
        "{stats:?}"
    );
}

#[test]
fn every_line_decodes_into_the_spans_sent() {
    let dir = TempDir::new("lines");
    let path = dir.0.join("traces.jsonl");
    let processor = processor(FileExporter::to_path(&path).unwrap());
    let provider = TracerProvider::builder()
        .with_service_name("file-test")
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 4, 250);
    provider.shutdown(DEADLINE).unwrap();
    let stats = processor.stats();
    assert_all_exported(&stats, 1000);

    let requests = read_lines(&path);
    // One line per export request, never two requests on one line or one split over two.
    assert_eq!(requests.len() as u64, stats.batches, "{stats:?}");
    for request in &requests {
        let resource = &request.resource_spans[0];
        let service = resource
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| kv.value.as_ref()?.value.as_ref());
        assert_eq!(
            service,
            Some(&Value::StringValue("file-test".into())),
            "{request:?}"
        );
        assert_eq!(
            resource.scope_spans[0].scope.as_ref().unwrap().name,
            "file-test"
        );
    }
    let spans = spans_of(&requests);
    let mut names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    names.sort_unstable();
    let mut expected: Vec<String> = (0..4)
        .flat_map(|thread| (0..250).map(move |n| format!("t{thread}-{n}")))
        .collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for span in &spans {
        assert_eq!((span.trace_id.len(), span.span_id.len()), (16, 8));
        assert_eq!(span.kind, 3, "client");
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert_eq!(
            string_attribute(span, "text"),
            Some("line\nbreak \"quoted\" é")
        );
        let thread = span.name[1..2].parse::<i64>().unwrap();
        let attribute = span.attributes.iter().find(|kv| kv.key == "thread");
        assert_eq!(
            attribute.and_then(|kv| kv.value.as_ref()?.value.clone()),
            Some(Value::IntValue(thread))
        );
    }
}

#[test]
fn the_file_holds_the_spans_the_receiver_got() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let dir = TempDir::new("receiver");
    let path = dir.0.join("traces.jsonl");
    let to_file = processor(FileExporter::to_path(&path).unwrap());
    let mut config = Config::default();
    config.exporter.protocol = Protocol::HttpJson;
    config.exporter.endpoint = receiver.http_endpoint();
    config.batch.scheduled_delay = Duration::from_millis(10);
    let to_receiver = build_processor(&config).unwrap();
    let provider = TracerProvider::builder()
        .with_service_name("file-test")
        .with_processor(to_file.clone())
        .with_processor(to_receiver.clone())
        .build();
    send_spans(&provider, 2, 100);
    provider.shutdown(DEADLINE).unwrap();
    assert_all_exported(&to_file.stats(), 200);
    assert_all_exported(&to_receiver.stats(), 200);

    let by_id = |spans: Vec<Span>| -> BTreeMap<Vec<u8>, Span> {
        spans
            .into_iter()
            .map(|span| (span.span_id.clone(), span))
            .collect()
    };
    let in_file = by_id(spans_of(&read_lines(&path)));
    let received = by_id(receiver.accepted_spans());
    assert_eq!(in_file.len(), 200);
    assert_eq!(in_file, received, "field for field");
}

#[test]
fn appends_after_existing_lines_and_creates_directories() {
    let dir = TempDir::new("append");
    let path = dir.0.join("a").join("b").join("traces.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"resourceSpans\":[]}\n").unwrap();
    let processor = processor(FileExporter::builder(&path).build().unwrap());
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 1, 3);
    provider.shutdown(DEADLINE).unwrap();
    let requests = read_lines(&path);
    assert!(
        requests[0].resource_spans.is_empty(),
        "the old line stays first"
    );
    assert_eq!(spans_of(&requests).len(), 3);

    let nested = dir.0.join("x").join("y").join("z.jsonl");
    let exporter = FileExporter::to_path(&nested).unwrap();
    assert_eq!(exporter.target(), nested.display().to_string());
    assert!(
        nested.exists(),
        "the file is created when the exporter is built"
    );
}

#[test]
fn a_file_ending_in_a_cut_line_gets_its_first_new_line_on_a_line_of_its_own() {
    // A line cut short by an earlier process (killed mid-write, or a disk
    // that filled up): the file does not end with `\n`.
    let dir = TempDir::new("cut");
    let path = dir.0.join("traces.jsonl");
    std::fs::write(&path, "{\"resourceSpans\":[]}\n{\"resourceSpans\":[{\"reso").unwrap();
    let processor = processor(FileExporter::to_path(&path).unwrap());
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 1, 3);
    provider.shutdown(DEADLINE).unwrap();
    assert_all_exported(&processor.stats(), 3);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1], "{\"resourceSpans\":[{\"reso",
        "the cut line stays alone"
    );
    let requests: Vec<ExportTraceServiceRequest> = lines[2..]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    assert_eq!(spans_of(&requests).len(), 3, "{text}");
}

#[test]
fn an_unopenable_file_is_an_error_naming_it() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("missing").join("traces.jsonl");
    let error = FileExporter::builder(&path)
        .create_dirs(false)
        .build()
        .unwrap_err();
    assert!(matches!(error, FileExporterError::Open { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    // A directory is not a file either.
    assert!(FileExporter::to_path(&dir.0).is_err());
}

/// A writer that fails its first `failures` writes with `kind`, then records lines.
#[derive(Clone)]
struct FlakyWriter {
    kind: ErrorKind,
    failures: Arc<AtomicUsize>,
    written: Arc<Mutex<Vec<u8>>>,
}

impl FlakyWriter {
    fn new(kind: ErrorKind, failures: usize) -> FlakyWriter {
        FlakyWriter {
            kind,
            failures: Arc::new(AtomicUsize::new(failures)),
            written: Arc::default(),
        }
    }
}

impl Write for FlakyWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(io::Error::from(self.kind));
        }
        self.written.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_disk_is_retried_until_the_line_is_written() {
    let writer = FlakyWriter::new(ErrorKind::StorageFull, 3);
    let processor = processor(FileExporter::to_writer(writer.clone()).unwrap());
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 1, 5);
    provider.shutdown(DEADLINE).unwrap();
    let stats = processor.stats();
    assert_all_exported(&stats, 5);
    assert!(stats.retries >= 3, "{stats:?}");
    let text = String::from_utf8(writer.written.lock().unwrap().clone()).unwrap();
    let spans: usize = text
        .lines()
        .map(|line| spans_of(&[serde_json::from_str(line).unwrap()]).len())
        .sum();
    assert_eq!(spans, 5, "no line lost, none written twice: {text}");
}

#[test]
fn a_closed_pipe_fails_the_export_without_retrying() {
    let writer = FlakyWriter::new(ErrorKind::BrokenPipe, usize::MAX);
    let processor = processor(FileExporter::to_writer(writer).unwrap());
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 1, 5);
    assert!(provider.shutdown(DEADLINE).is_err(), "undelivered spans");
    let stats = processor.stats();
    assert_eq!(
        (stats.failed, stats.exported, stats.retries),
        (5, 0, 0),
        "{stats:?}"
    );
    let error = stats.last_error.unwrap_or_default();
    assert!(error.contains("cannot write to a writer"), "{error}");
}

#[test]
fn exports_after_shutdown_are_refused() {
    let exporter = FileExporter::to_writer(io::sink()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        exporter.shutdown().await;
        exporter.shutdown().await; // idempotent
        let outcome = exporter
            .export(otlp_sdk::ExportRequest {
                body: bytes::Bytes::from_static(b"{}"),
                encoding: otlp_core::encode::Encoding::Json,
                span_count: 1,
            })
            .await;
        assert!(
            matches!(
                outcome,
                otlp_sdk::ExportOutcome::Permanent {
                    error: otlp_sdk::ExportError::ShutDown
                }
            ),
            "{outcome:?}"
        );
    });
}

/// Every line of a file written for another signal, decoded by `decode`.
fn read_lines_as<T>(path: &std::path::Path, decode: fn(&str) -> serde_json::Result<T>) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "the last line is complete");
    text.lines()
        .map(|line| decode(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

#[test]
fn a_log_pipeline_writes_its_records_as_log_lines() {
    let dir = TempDir::new("logs");
    let path = dir.0.join("logs.jsonl");
    let exporter = FileExporter::builder(&path)
        .signal(Signal::Logs)
        .build()
        .unwrap();
    assert_eq!(exporter.signal(), Signal::Logs);
    let processor = BatchLogProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            max_export_batch_size: 7,
            scheduled_delay: Duration::from_millis(10),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let provider = LoggerProvider::builder()
        .with_service_name("file-test")
        .with_processor(processor.clone())
        .build();
    let context = SpanContext {
        trace_id: TraceId::random(),
        span_id: SpanId::random(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: Default::default(),
    };
    let logger = provider.logger("file-logs");
    for n in 0..50_i64 {
        logger.emit(
            LogRecord::builder()
                .time_unix_nano(1_700_000_000_000_000_000 + n as u64)
                .severity(Severity::WARN)
                .severity_text("WARN")
                .body(format!("record {n}: line\nbreak \"quoted\" é"))
                .attribute(KeyValue::new("n", n))
                .span_context(&context)
                .build(),
        );
    }
    provider.shutdown(DEADLINE).unwrap();
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.produced, stats.exported), (50, 50), "{stats:?}");

    let requests: Vec<ExportLogsServiceRequest> =
        read_lines_as(&path, |line| serde_json::from_str(line));
    assert_eq!(requests.len() as u64, stats.batches, "{stats:?}");
    let records: Vec<_> = requests
        .iter()
        .flat_map(|request| &request.resource_logs)
        .flat_map(|resource| &resource.scope_logs)
        .inspect(|scope| assert_eq!(scope.scope.as_ref().unwrap().name, "file-logs"))
        .flat_map(|scope| scope.log_records.iter())
        .collect();
    assert_eq!(records.len(), 50);
    for (n, record) in records.iter().enumerate() {
        assert_eq!(
            record.time_unix_nano,
            1_700_000_000_000_000_000 + n as u64,
            "in order"
        );
        assert_eq!(
            (record.severity_number, record.severity_text.as_str()),
            (13, "WARN")
        );
        assert_eq!(
            record.body.as_ref().and_then(|body| body.value.clone()),
            Some(Value::StringValue(format!(
                "record {n}: line\nbreak \"quoted\" é"
            )))
        );
        assert_eq!(
            record.attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.value.clone()),
            Some(Value::IntValue(n as i64))
        );
        assert_eq!(record.trace_id, context.trace_id.to_bytes().to_vec());
        assert_eq!(record.span_id, context.span_id.to_bytes().to_vec());
    }
}

#[test]
fn a_metrics_reader_writes_its_metrics_as_metric_lines() {
    let dir = TempDir::new("metrics");
    let path = dir.0.join("metrics.jsonl");
    let exporter = FileExporter::to_path(&path)
        .unwrap()
        .for_signal(Signal::Metrics);
    let reader = PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let provider = MeterProvider::builder()
        .with_service_name("file-test")
        .with_reader(reader)
        .build()
        .unwrap();
    let orders = provider.meter("file-metrics").u64_counter("orders").build();
    orders.add(2, &[KeyValue::new("payment", "card")]);
    orders.add(5, &[KeyValue::new("payment", "card")]);
    provider.force_flush(DEADLINE).unwrap();
    provider.shutdown(DEADLINE).unwrap();

    let requests: Vec<ExportMetricsServiceRequest> =
        read_lines_as(&path, |line| serde_json::from_str(line));
    assert!(!requests.is_empty());
    let sums: Vec<i64> = requests
        .iter()
        .flat_map(|request| &request.resource_metrics)
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .filter(|metric| metric.name == "orders")
        .map(|metric| match &metric.data {
            Some(Data::Sum(sum)) => {
                assert!(sum.is_monotonic);
                match sum.data_points[0].value {
                    Some(NumberValue::AsInt(value)) => value,
                    ref other => panic!("an integer sum, not {other:?}"),
                }
            }
            other => panic!("a sum, not {other:?}"),
        })
        .collect();
    // The flush and the final collection at shutdown: cumulative, 7 each time.
    assert!(
        !sums.is_empty() && sums.iter().all(|&sum| sum == 7),
        "{sums:?}"
    );
}

#[test]
fn a_pipeline_refuses_a_file_exporter_of_another_signal() {
    let dir = TempDir::new("mismatch");
    let traces = FileExporter::to_path(dir.0.join("traces.jsonl")).unwrap();
    let error = BatchLogProcessor::builder(traces).build().unwrap_err();
    assert!(error.to_string().contains("trace"), "{error}");
    let logs = FileExporter::to_path(dir.0.join("logs.jsonl"))
        .unwrap()
        .for_signal(Signal::Logs);
    assert!(BatchSpanProcessor::builder(logs).build().is_err());
}

/// Writes `body` as one line through `exporter`, as a pipeline would.
fn export_line(runtime: &tokio::runtime::Runtime, exporter: &FileExporter, body: &'static str) {
    let outcome = runtime.block_on(exporter.export(otlp_sdk::ExportRequest {
        body: bytes::Bytes::from_static(body.as_bytes()),
        encoding: otlp_core::encode::Encoding::Json,
        span_count: 1,
    }));
    assert!(
        matches!(outcome, otlp_sdk::ExportOutcome::Success),
        "{outcome:?}"
    );
}

/// Log rotation: `logrotate` renames the file away (then, with `create`,
/// puts an empty file at the path), or someone deletes it. The lines after
/// that go to the file at the path, not to the old file's handle (where a
/// deleted file's lines were lost, and a renamed file kept growing).
#[cfg(unix)]
#[test]
fn a_file_renamed_or_deleted_under_the_exporter_is_reopened_at_its_path() {
    let dir = TempDir::new("rotate");
    let path = dir.0.join("logs").join("traces.jsonl");
    let exporter = FileExporter::to_path(&path).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap();

    export_line(&runtime, &exporter, r#"{"n":1}"#);
    // Renamed away, nothing in its place (`nocreate`).
    std::fs::rename(&path, dir.0.join("traces.jsonl.1")).unwrap();
    export_line(&runtime, &exporter, r#"{"n":2}"#);
    assert_eq!(read(&dir.0.join("traces.jsonl.1")), "{\"n\":1}\n");
    assert_eq!(read(&path), "{\"n\":2}\n");

    // Renamed away, an empty file created in its place (`create`).
    std::fs::rename(&path, dir.0.join("traces.jsonl.2")).unwrap();
    std::fs::write(&path, "").unwrap();
    export_line(&runtime, &exporter, r#"{"n":3}"#);
    assert_eq!(read(&dir.0.join("traces.jsonl.2")), "{\"n\":2}\n");
    assert_eq!(read(&path), "{\"n\":3}\n");

    // Deleted, and its directory with it.
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    export_line(&runtime, &exporter, r#"{"n":4}"#);
    export_line(&runtime, &exporter, r#"{"n":5}"#);
    assert_eq!(read(&path), "{\"n\":4}\n{\"n\":5}\n");

    // A file at the path ending with a cut line: the next line starts on a
    // line of its own there.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, r#"{"cut"#).unwrap();
    export_line(&runtime, &exporter, r#"{"n":6}"#);
    assert_eq!(read(&path), "{\"cut\n{\"n\":6}\n");
    runtime.block_on(exporter.shutdown());
}

/// The file exporter's format: "files must contain exactly one type of
/// data". While a file receives one signal from an exporter of this process,
/// an exporter of another signal for it (under any spelling of the path) is
/// refused, naming the file: at build when the builder is told the signal,
/// at each export when `for_signal` changed it afterwards. Once the file's
/// exporters are shut down or dropped, it is free for another signal.
#[test]
fn a_second_signal_for_a_file_is_refused_naming_the_file() {
    let dir = TempDir::new("one-signal");
    let path = dir.0.join("telemetry.jsonl");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let traces = FileExporter::to_path(&path).unwrap();
    let more_traces = FileExporter::builder(&path).build().unwrap();
    export_line(&runtime, &more_traces, r#"{"resourceSpans":[]}"#);

    let spelled = dir.0.join(".").join("telemetry.jsonl");
    let error = FileExporter::builder(&spelled)
        .signal(Signal::Logs)
        .build()
        .expect_err("logs into a traces file");
    match &error {
        FileExporterError::SignalConflict { path, held, wanted } => {
            assert_eq!(
                (path, *held, *wanted),
                (&spelled, Signal::Traces, Signal::Logs)
            );
        }
        other => panic!("not a signal conflict: {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&spelled.display().to_string()) && message.contains("traces"),
        "{message}"
    );

    let metrics = FileExporter::to_path(&path)
        .unwrap()
        .for_signal(Signal::Metrics);
    let outcome = runtime.block_on(metrics.export(otlp_sdk::ExportRequest {
        body: bytes::Bytes::from_static(br#"{"resourceMetrics":[]}"#),
        encoding: otlp_core::encode::Encoding::Json,
        span_count: 1,
    }));
    match outcome {
        otlp_sdk::ExportOutcome::Permanent { error } => {
            let message = error.to_string();
            assert!(
                message.contains(&path.display().to_string()) && message.contains("metrics"),
                "{message}"
            );
        }
        other => panic!("metrics written into a traces file: {other:?}"),
    }
    drop(metrics);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"resourceSpans\":[]}\n",
        "only traces in the file"
    );

    runtime.block_on(traces.shutdown());
    drop(more_traces);
    let logs = FileExporter::builder(&path)
        .signal(Signal::Logs)
        .build()
        .expect("the file is free once its exporters are gone");
    export_line(&runtime, &logs, r#"{"resourceLogs":[]}"#);
    runtime.block_on(logs.shutdown());
}

/// A file deleted under the exporter whose path cannot be opened again (its
/// directory removed, and not recreated: `create_dirs(false)`): the lines
/// went on to the deleted file, where nothing can read them, and their
/// exports succeeded, so the records were lost and counted exported. The
/// exports fail now, naming the file, until the path can be opened again.
#[cfg(unix)]
#[test]
fn a_deleted_file_whose_path_cannot_be_reopened_fails_the_export_naming_it() {
    let dir = TempDir::new("deleted");
    let logs = dir.0.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let path = logs.join("traces.jsonl");
    let exporter = FileExporter::builder(&path)
        .create_dirs(false)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    export_line(&runtime, &exporter, r#"{"n":1}"#);

    std::fs::remove_dir_all(&logs).unwrap();
    let outcome = runtime.block_on(exporter.export(otlp_sdk::ExportRequest {
        body: bytes::Bytes::from_static(br#"{"n":2}"#),
        encoding: otlp_core::encode::Encoding::Json,
        span_count: 1,
    }));
    let error = match outcome {
        otlp_sdk::ExportOutcome::Permanent { error }
        | otlp_sdk::ExportOutcome::Retryable { error, .. } => error.to_string(),
        other => panic!("a line written to a deleted file: {other:?}"),
    };
    assert!(
        error.contains(&path.display().to_string()) && error.contains("deleted"),
        "{error}"
    );

    // The directory is back: the next line goes to a new file at the path.
    std::fs::create_dir_all(&logs).unwrap();
    export_line(&runtime, &exporter, r#"{"n":3}"#);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":3}\n");
    runtime.block_on(exporter.shutdown());
}

/// Blocks every write until the test lets go (a pipe nobody reads, a hung
/// network file system).
struct StuckWriter(std::sync::mpsc::Receiver<()>);

impl Write for StuckWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let _ = self.0.recv();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer stuck in `write` holds neither `force_flush` nor `shutdown`
/// past its deadline, and every span is accounted for once shut down.
#[test]
fn a_stuck_output_holds_neither_flush_nor_shutdown_past_its_deadline() {
    let (release, stuck) = std::sync::mpsc::channel();
    let processor = processor(FileExporter::to_writer(StuckWriter(stuck)).unwrap());
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 1, 20);
    // Each returns (the writer never does until released below), with a timeout.
    let flushed = otlp_sdk::SpanProcessor::force_flush(&processor, Duration::from_millis(300));
    assert!(flushed.is_err(), "{flushed:?}");
    let shut_down = provider.shutdown(Duration::from_millis(500));
    assert!(shut_down.is_err(), "{shut_down:?}");
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!((stats.produced, stats.exported), (20, 0), "{stats:?}");
    drop(release);
}

/// "One signal per file" is about files that hold what is written to them:
/// `/dev/null` (or a terminal, a named pipe) holds nothing, so
/// exporters of several signals may write to it at once, as
/// [`FileExporter::stdout`]'s may.
#[cfg(unix)]
#[test]
fn exporters_of_several_signals_may_share_a_device() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let traces = FileExporter::to_path("/dev/null").unwrap();
    let logs = FileExporter::builder("/dev/null")
        .signal(Signal::Logs)
        .build()
        .expect("/dev/null is not a file that holds a signal");
    let metrics = FileExporter::to_path("/dev/null")
        .unwrap()
        .for_signal(Signal::Metrics);
    export_line(&runtime, &traces, r#"{"resourceSpans":[]}"#);
    export_line(&runtime, &logs, r#"{"resourceLogs":[]}"#);
    export_line(&runtime, &metrics, r#"{"resourceMetrics":[]}"#);
    for exporter in [traces, logs, metrics] {
        runtime.block_on(exporter.shutdown());
    }
}

/// The accounting identity of each signal through the file exporter, when
/// its lines are written and when its output is gone: log records
/// (`produced = exported + failed + ...`) and data points
/// (`produced = exported + rejected + failed + in flight`), the lines
/// written holding exactly the records counted exported.
#[test]
fn log_records_and_data_points_are_accounted_for_written_or_failed() {
    for broken in [false, true] {
        let failures = if broken { usize::MAX } else { 0 };
        let logs_out = FlakyWriter::new(ErrorKind::BrokenPipe, failures);
        let processor = BatchLogProcessor::builder(
            FileExporter::to_writer(logs_out.clone())
                .unwrap()
                .for_signal(Signal::Logs),
        )
        .with_batch_config(BatchConfig {
            max_export_batch_size: 7,
            scheduled_delay: Duration::from_millis(10),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
        let provider = LoggerProvider::builder()
            .with_processor(processor.clone())
            .build();
        let logger = provider.logger("accounting");
        for n in 0..30_i64 {
            logger.emit(LogRecord::builder().body(format!("record {n}")).build());
        }
        assert_eq!(provider.shutdown(DEADLINE).is_err(), broken);
        let stats = processor.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        let written: usize = String::from_utf8(logs_out.written.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| {
                let request: ExportLogsServiceRequest = serde_json::from_str(line).unwrap();
                request
                    .resource_logs
                    .iter()
                    .flat_map(|resource| &resource.scope_logs)
                    .map(|scope| scope.log_records.len())
                    .sum::<usize>()
            })
            .sum();
        let expected = if broken { (0, 30, 0) } else { (30, 0, 30) };
        assert_eq!(
            (stats.exported, stats.failed, written as u64),
            expected,
            "{stats:?}"
        );

        let metrics_out = FlakyWriter::new(ErrorKind::BrokenPipe, failures);
        let reader = PeriodicReader::builder(
            FileExporter::to_writer(metrics_out.clone())
                .unwrap()
                .for_signal(Signal::Metrics),
        )
        .with_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
        let provider = MeterProvider::builder()
            .with_reader(reader)
            .build()
            .unwrap();
        let counter = provider.meter("accounting").u64_counter("orders").build();
        for n in 0..5_i64 {
            counter.add(1, &[KeyValue::new("n", n)]);
        }
        let _ = provider.force_flush(DEADLINE);
        let _ = provider.shutdown(DEADLINE);
        let stats = provider.stats();
        assert_eq!(
            stats.produced_data_points,
            stats.exported_data_points
                + stats.rejected_data_points
                + stats.failed_data_points
                + stats.in_flight_data_points,
            "{stats:?}"
        );
        assert!(
            stats.produced_data_points >= 10,
            "two collections: {stats:?}"
        );
        let written: usize = String::from_utf8(metrics_out.written.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| {
                let request: ExportMetricsServiceRequest = serde_json::from_str(line).unwrap();
                request
                    .resource_metrics
                    .iter()
                    .flat_map(|resource| &resource.scope_metrics)
                    .flat_map(|scope| &scope.metrics)
                    .map(|metric| match &metric.data {
                        Some(Data::Sum(sum)) => sum.data_points.len(),
                        other => panic!("a sum, not {other:?}"),
                    })
                    .sum::<usize>()
            })
            .sum();
        if broken {
            assert_eq!((stats.exported_data_points, written), (0, 0), "{stats:?}");
            assert_eq!(
                stats.failed_data_points, stats.produced_data_points,
                "{stats:?}"
            );
        } else {
            assert_eq!(stats.exported_data_points, written as u64, "{stats:?}");
            assert_eq!(
                stats.exported_data_points, stats.produced_data_points,
                "{stats:?}"
            );
        }
    }
}

/// Two exporters of this process appending to one file (traces both), each
/// behind a pipeline with several exports in flight, fed from several
/// threads: every line is one whole request, and the file holds every span
/// of both, once.
#[test]
fn two_exporters_appending_to_one_file_keep_every_line_whole() {
    let dir = TempDir::new("two-writers");
    let path = dir.0.join("traces.jsonl");
    let first = processor(FileExporter::to_path(&path).unwrap());
    let second = processor(FileExporter::to_path(dir.0.join(".").join("traces.jsonl")).unwrap());
    let providers = [
        TracerProvider::builder()
            .with_processor(first.clone())
            .build(),
        TracerProvider::builder()
            .with_processor(second.clone())
            .build(),
    ];
    std::thread::scope(|scope| {
        for provider in &providers {
            scope.spawn(|| send_spans(provider, 3, 200));
        }
    });
    for provider in &providers {
        provider.shutdown(DEADLINE).unwrap();
    }
    assert_all_exported(&first.stats(), 600);
    assert_all_exported(&second.stats(), 600);
    let requests = read_lines(&path);
    assert_eq!(
        requests.len() as u64,
        first.stats().batches + second.stats().batches
    );
    let spans = spans_of(&requests);
    let ids: std::collections::BTreeSet<_> = spans.iter().map(|span| &span.span_id).collect();
    assert_eq!((spans.len(), ids.len()), (1200, 1200));
}

/// One mebibyte: lumberjack's (and `Rotation::max_megabytes`') megabyte.
const MEGABYTE: usize = 1024 * 1024;

/// Writes `body` as one line through `exporter`; the outcome must be a success.
fn export_owned(runtime: &tokio::runtime::Runtime, exporter: &FileExporter, body: String) {
    let outcome = runtime.block_on(exporter.export(otlp_sdk::ExportRequest {
        body: bytes::Bytes::from(body),
        encoding: otlp_core::encode::Encoding::Json,
        span_count: 1,
    }));
    assert!(
        matches!(outcome, otlp_sdk::ExportOutcome::Success),
        "{outcome:?}"
    );
}

/// `{"n":<n>,"pad":"xxx…"}`, `len` bytes long.
fn padded_line(n: usize, len: usize) -> String {
    let head = format!("{{\"n\":{n},\"pad\":\"");
    let pad = len - head.len() - 2;
    format!("{head}{}\"}}", "x".repeat(pad))
}

/// The backups of `dir/<stem>.jsonl` (named `<stem>-YYYY-MM-DDTHH-MM-SS.mmm.jsonl`),
/// oldest first, and the names of the other files of `dir`.
fn backups_in(dir: &std::path::Path, stem: &str) -> (Vec<PathBuf>, Vec<String>) {
    let is_backup = |name: &str| -> bool {
        let Some(stamp) = name
            .strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_suffix(".jsonl"))
        else {
            return false;
        };
        let shape = "dddd-dd-ddTdd-dd-dd.ddd";
        stamp.len() == shape.len()
            && stamp
                .bytes()
                .zip(shape.bytes())
                .all(|(byte, want)| match want {
                    b'd' => byte.is_ascii_digit(),
                    _ => byte == want,
                })
    };
    let (mut backups, mut others) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if is_backup(&name) {
            backups.push(entry.path());
        } else {
            others.push(name);
        }
    }
    backups.sort();
    others.sort();
    (backups, others)
}

/// The `n` of every line of `path`; every line must be one whole JSON object
/// of `len` bytes.
fn line_numbers(path: &std::path::Path, len: usize) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{}",
        path.display()
    );
    text.lines()
        .map(|line| {
            assert_eq!(line.len(), len, "a whole line in {}", path.display());
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["n"].as_u64().unwrap()
        })
        .collect()
}

/// Size rotation, the Collector's `rotation: {max_megabytes: 1,
/// max_backups: 2}`: a line that would take the file past 1 MiB starts a
/// new file, the old one renamed to `traces-<UTC time>.jsonl`; only the two
/// newest backups are kept. Every file holds whole lines only, none over
/// the limit, and the files left hold the last lines in order.
#[test]
fn a_file_past_max_megabytes_is_rotated_to_backups_of_which_max_backups_are_kept() {
    let dir = TempDir::new("size-rotation");
    let path = dir.0.join("traces.jsonl");
    let exporter = FileExporter::builder(&path)
        .rotation(Rotation::new().max_megabytes(1).max_backups(2))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Two lines (and their `\n`) fit a megabyte, three do not.
    let len = 400_000;
    for n in 0..12 {
        export_owned(&runtime, &exporter, padded_line(n, len));
    }
    runtime.block_on(exporter.shutdown());

    let (backups, others) = backups_in(&dir.0, "traces");
    assert_eq!(others, ["traces.jsonl"]);
    assert_eq!(backups.len(), 2, "{backups:?}");
    let mut numbers = Vec::new();
    for file in backups.iter().chain([&path]) {
        assert!(
            std::fs::metadata(file).unwrap().len() <= MEGABYTE as u64,
            "{}",
            file.display()
        );
        numbers.push(line_numbers(file, len));
    }
    assert_eq!(numbers, [vec![6, 7], vec![8, 9], vec![10, 11]]);
}

/// A line larger than `max_megabytes` is neither split nor dropped: it is
/// written whole, alone in a file of its own, and the next line starts
/// another file.
#[test]
fn a_line_larger_than_max_megabytes_is_written_whole_in_a_file_of_its_own() {
    let dir = TempDir::new("large-line-rotation");
    let path = dir.0.join("traces.jsonl");
    let exporter = FileExporter::builder(&path)
        .rotation(Rotation::new().max_megabytes(1))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let large = MEGABYTE + MEGABYTE / 2;
    export_owned(&runtime, &exporter, padded_line(0, 100));
    export_owned(&runtime, &exporter, padded_line(1, large));
    export_owned(&runtime, &exporter, padded_line(2, 100));
    runtime.block_on(exporter.shutdown());

    let (backups, _) = backups_in(&dir.0, "traces");
    assert_eq!(backups.len(), 2, "{backups:?}");
    assert_eq!(line_numbers(&backups[0], 100), [0]);
    assert_eq!(line_numbers(&backups[1], large), [1]);
    assert_eq!(line_numbers(&path, 100), [2]);
}

/// A file left over the limit by an earlier run, ending with a line cut
/// short: the first line rotates it away as it is (the fragment stays
/// there, alone), and starts the new file at its first byte, with no `\n`
/// of the old file's repair before it.
#[test]
fn a_file_over_the_limit_ending_in_a_cut_line_is_rotated_before_the_first_line() {
    let dir = TempDir::new("cut-line-rotation");
    let path = dir.0.join("traces.jsonl");
    let mut before = padded_line(0, MEGABYTE - 10);
    before.push_str("\n{\"cut");
    std::fs::write(&path, &before).unwrap();
    let exporter = FileExporter::builder(&path)
        .rotation(Rotation::new().max_megabytes(1))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    export_owned(&runtime, &exporter, padded_line(1, 100));
    runtime.block_on(exporter.shutdown());

    let (backups, _) = backups_in(&dir.0, "traces");
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), before);
    assert_eq!(line_numbers(&path, 100), [1]);
}

/// `max_days`: backups whose name says they are older are removed, when
/// the exporter is built (as lumberjack does when it opens the file) and at
/// each rotation; files that are not backups of this file, by name, are
/// left alone.
#[test]
fn backups_older_than_max_days_are_removed_and_other_files_left_alone() {
    let dir = TempDir::new("max-days-rotation");
    let path = dir.0.join("traces.jsonl");
    let old = dir.0.join("traces-2020-01-01T00-00-00.000.jsonl");
    let kept = [
        "traces-2999-01-01T00-00-00.000.jsonl",
        "traces.jsonl.1",
        "traces-2020-01-01.jsonl",
        "logs-2020-01-01T00-00-00.000.jsonl",
        "traces-2020-01-01T00-00-00.000.json",
        "notes.txt",
    ];
    std::fs::write(&old, "{}\n").unwrap();
    for name in kept {
        std::fs::write(dir.0.join(name), "{}\n").unwrap();
    }
    let exporter = FileExporter::builder(&path)
        .rotation(Rotation::new().max_megabytes(1).max_days(1))
        .build()
        .unwrap();
    assert!(!old.exists(), "removed when the exporter is built");

    // Another old backup appears; the next rotation removes it.
    std::fs::write(&old, "{}\n").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let len = 600_000;
    export_owned(&runtime, &exporter, padded_line(0, len));
    export_owned(&runtime, &exporter, padded_line(1, len));
    runtime.block_on(exporter.shutdown());
    assert!(!old.exists(), "removed at the rotation");
    let (backups, mut others) = backups_in(&dir.0, "traces");
    // The new backup, and the one from the future (not older than a day).
    assert_eq!(backups.len(), 2, "{backups:?}");
    assert_eq!(line_numbers(&backups[0], len), [0]);
    assert!(backups[1].ends_with("traces-2999-01-01T00-00-00.000.jsonl"));
    others.retain(|name| name != "traces.jsonl");
    let mut expected: Vec<&str> = kept[1..].to_vec();
    expected.sort_unstable();
    assert_eq!(others, expected);
    assert_eq!(line_numbers(&path, len), [1]);
}

/// A rotation option out of range is refused by `build`, naming the
/// option, the value and the file, before anything is created.
#[test]
fn a_rotation_option_out_of_range_is_refused_naming_it_and_its_value() {
    let dir = TempDir::new("invalid-rotation");
    let path = dir.0.join("new").join("traces.jsonl");
    for (rotation, option, value) in [
        (Rotation::new().max_megabytes(0), "max_megabytes", 0),
        (
            Rotation::new().max_megabytes(u64::MAX),
            "max_megabytes",
            u64::MAX,
        ),
        (Rotation::new().max_backups(0), "max_backups", 0),
        (Rotation::new().max_days(0), "max_days", 0),
    ] {
        let error = FileExporter::builder(&path)
            .rotation(rotation)
            .build()
            .unwrap_err();
        let message = error.to_string();
        match error {
            FileExporterError::InvalidRotation {
                option: refused,
                value: refused_value,
                path: named,
                ..
            } => {
                assert_eq!((refused, refused_value), (option, value));
                assert_eq!(named, path);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            message.contains(option)
                && message.contains(&value.to_string())
                && message.contains(&path.display().to_string()),
            "{message}"
        );
        assert!(!path.parent().unwrap().exists(), "nothing created");
    }
}

/// Spans through the batch pipeline, several exports in flight, into a file
/// rotated every megabyte: every span is in exactly one line of one file,
/// and counted exported.
#[test]
fn spans_through_a_rotated_file_are_all_written_once() {
    let dir = TempDir::new("pipeline-rotation");
    let path = dir.0.join("traces.jsonl");
    let exporter = FileExporter::builder(&path)
        .rotation(Rotation::new().max_megabytes(1).max_backups(usize::MAX))
        .build()
        .unwrap();
    let processor = processor(exporter);
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    send_spans(&provider, 4, 2500);
    provider.shutdown(DEADLINE).unwrap();
    assert_all_exported(&processor.stats(), 10_000);

    let (backups, _) = backups_in(&dir.0, "traces");
    assert!(!backups.is_empty(), "rotated at least once");
    let mut names = Vec::new();
    for file in backups.iter().chain([&path]) {
        assert!(std::fs::metadata(file).unwrap().len() <= MEGABYTE as u64);
        names.extend(
            spans_of(&read_lines(file))
                .into_iter()
                .map(|span| span.name),
        );
    }
    names.sort_unstable();
    let mut expected: Vec<String> = (0..4)
        .flat_map(|thread| (0..2500).map(move |n| format!("t{thread}-{n}")))
        .collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
}
