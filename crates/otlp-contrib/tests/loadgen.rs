//! The `otlp-loadgen` binary as users run it, against the real receiver on
//! loopback: over gRPC, HTTP/protobuf and HTTP/JSON the receiver gets exactly
//! the spans (with `--signal logs`, the log records; with `--signal metrics`,
//! the data points, whose sums add up to the recordings) the summary says
//! were exported; flags reach the wire; bad flags and bad configuration exit
//! 2 naming what is wrong; lost spans, log records and data points exit 3.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store, Transport};

#[path = "support/closed_port.rs"]
mod closed_port;
use closed_port::closed_port;

/// A clean environment: none of the runner's `OTEL_*` / `OTLP__` variables,
/// and a working directory without `config/`.
fn loadgen() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otlp-loadgen"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("OTEL_") || name.starts_with("OTLP__") || name == "RUN_ENV" {
            command.env_remove(name.as_ref());
        }
    }
    command.current_dir(std::env::temp_dir());
    command.stdin(Stdio::null());
    command
}

/// A receiver on loopback that counts what it is sent and keeps nothing.
fn counting_receiver() -> Receiver {
    Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..Default::default()
    })
    .expect("the receiver starts on loopback")
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run otlp-loadgen")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The `--json-summary` line (the last line of stdout).
fn summary(output: &Output) -> serde_json::Value {
    let text = stdout(output);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| {
        panic!(
            "{error}: {last:?}\nstdout: {text}\nstderr: {}",
            stderr(output)
        )
    })
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {summary}"))
}

/// Runs `--spans 3000 --workers 3` with `extra` options and checks the
/// summary against the receiver.
fn delivers_every_span(receiver: &Receiver, endpoint: &str, protocol: &str, extra: &[&str]) {
    let output = run(loadgen()
        .args(["--endpoint", endpoint, "--protocol", protocol])
        .args(["--spans", "3000", "--workers", "3", "--batch-size", "256"])
        // Room for every span: unpaced workers outrun any exporter.
        .args(["--queue-size", "4096"])
        .arg("--json-summary")
        .args(extra));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(count(&summary, "sent"), 3000, "{summary}");
    assert_eq!(count(&summary, "exported"), 3000, "{summary}");
    for key in ["dropped", "failed", "rejected", "unsettled"] {
        assert_eq!(count(&summary, key), 0, "{key}: {summary}");
    }
    assert_eq!(summary["all_delivered"], true);
    assert_eq!(summary["signal"], "traces");
    assert_eq!(summary["protocol"], protocol);
    assert_eq!(summary["workers"], 3);
    assert!(summary["spans_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(receiver.span_count(), count(&summary, "exported"));
    assert_eq!(receiver.log_record_count(), 0, "spans are not log records");

    // The text summary comes first, in its documented form.
    let text = stdout(&output);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("sent=3000 exported=3000 dropped=0 failed=0 rejected=0 elapsed="),
        "{first}"
    );
    assert!(first.contains(" spans/s="), "{first}");
}

#[test]
fn grpc_delivers_every_span() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.grpc_endpoint().unwrap();
    delivers_every_span(&receiver, &endpoint, "grpc", &["--compression", "gzip"]);
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.transport == Transport::Grpc));
    assert!(
        requests
            .iter()
            .all(|r| r.content_encoding.as_deref() == Some("gzip"))
    );
    // What a span looks like: 8 string attributes, the loadgen's resource and scope.
    let request = &requests[0].request;
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(service, Some(Value::StringValue("otlp-loadgen".into())));
    let scope_spans = &request.resource_spans[0].scope_spans[0];
    assert_eq!(scope_spans.scope.as_ref().unwrap().name, "otlp-loadgen");
    let span = &scope_spans.spans[0];
    assert_eq!(span.name, "GET /api/orders/{id}");
    assert_eq!(span.kind, 2, "server");
    assert_eq!(span.attributes.len(), 8);
    assert!(span.attributes.iter().all(|kv| matches!(
        kv.value.as_ref().and_then(|v| v.value.as_ref()),
        Some(Value::StringValue(_))
    )));
}

#[test]
fn http_protobuf_delivers_every_span() {
    let receiver = counting_receiver();
    let endpoint = receiver.http_endpoint().unwrap();
    delivers_every_span(&receiver, &endpoint, "http/protobuf", &["--workers", "3"]);
}

#[test]
fn http_json_delivers_every_span_to_a_full_traces_url() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let url = receiver.http_traces_url().unwrap();
    delivers_every_span(
        &receiver,
        &url,
        "http/json",
        &[
            "--attributes",
            "12",
            "--header",
            "x-tenant=loadgen",
            "--service-name",
            "shop",
        ],
    );
    let requests = receiver.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.content_type.as_deref() == Some("application/json"))
    );
    assert_eq!(requests[0].header("x-tenant"), Some("loadgen"));
    let span = receiver.accepted_spans().pop().unwrap();
    assert_eq!(span.attributes.len(), 12);
    assert!(
        span.attributes
            .iter()
            .any(|kv| kv.key == "loadgen.attribute.11")
    );
    let resource = requests[0].request.resource_spans[0]
        .resource
        .as_ref()
        .unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().and_then(|v| v.value.clone())
            == Some(Value::StringValue("shop".into()))));
}

/// Runs `--signal logs` with `count_flag N --workers 3` and `extra` options
/// and checks the summary against the receiver.
fn delivers_every_log_record(
    receiver: &Receiver,
    endpoint: &str,
    protocol: &str,
    count_flag: &str,
    extra: &[&str],
) -> serde_json::Value {
    let output = run(loadgen()
        .args(["--signal", "logs"])
        .args(["--endpoint", endpoint, "--protocol", protocol])
        .args([count_flag, "2000", "--workers", "3", "--batch-size", "256"])
        .args(["--queue-size", "4096"])
        .arg("--json-summary")
        .args(extra));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary["signal"], "logs");
    assert_eq!(summary["protocol"], protocol);
    assert_eq!(count(&summary, "sent"), 2000, "{summary}");
    assert_eq!(count(&summary, "exported"), 2000, "{summary}");
    for key in ["dropped", "failed", "rejected", "unsettled"] {
        assert_eq!(count(&summary, key), 0, "{key}: {summary}");
    }
    assert_eq!(summary["all_delivered"], true);
    assert!(summary["records_per_second"].as_f64().unwrap() > 0.0);
    assert!(summary.get("spans_per_second").is_none(), "{summary}");
    assert!(
        summary["endpoint"].as_str().unwrap().ends_with("/v1/logs") || protocol == "grpc",
        "{summary}"
    );
    assert!(receiver.wait_for_log_records(2000, Duration::from_secs(5)));
    assert_eq!(receiver.log_record_count(), 2000);
    assert_eq!(receiver.span_count(), 0, "log records are not spans");

    let text = stdout(&output);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("sent=2000 exported=2000 dropped=0 failed=0 rejected=0 elapsed="),
        "{first}"
    );
    assert!(first.contains(" records/s="), "{first}");
    assert!(text.contains("signal=logs"), "{text}");
    summary
}

#[test]
fn grpc_delivers_every_log_record() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.grpc_endpoint().unwrap();
    delivers_every_log_record(
        &receiver,
        &endpoint,
        "grpc",
        "--records",
        &["--compression", "gzip"],
    );
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.transport == Transport::Grpc));
    // What a log record looks like: an access-log body, a severity, 8 string
    // attributes, the loadgen's resource and scope.
    let request = &receiver.accepted_log_requests()[0];
    let resource = request.resource_logs[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(service, Some(Value::StringValue("otlp-loadgen".into())));
    let scope_logs = &request.resource_logs[0].scope_logs[0];
    assert_eq!(scope_logs.scope.as_ref().unwrap().name, "otlp-loadgen");
    let records = receiver.accepted_logs();
    for record in &records {
        assert!([9, 13, 17].contains(&record.severity_number), "{record:?}");
        assert!(!record.severity_text.is_empty());
        assert!(record.time_unix_nano > 0 && record.observed_time_unix_nano > 0);
        match record.body.as_ref().and_then(|body| body.value.as_ref()) {
            Some(Value::StringValue(body)) => assert!(body.len() > 100, "{body}"),
            other => panic!("a string body, not {other:?}"),
        }
        assert_eq!(record.attributes.len(), 8);
        assert!(record.trace_id.is_empty(), "no span: no trace id");
    }
    for severity in [9, 13, 17] {
        assert!(records.iter().any(|r| r.severity_number == severity));
    }
}

#[test]
fn http_delivers_every_log_record_with_spans_as_the_count() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    // The base endpoint gets /v1/logs; --spans still counts, as --records does.
    let endpoint = receiver.http_endpoint().unwrap();
    delivers_every_log_record(&receiver, &endpoint, "http/protobuf", "--spans", &[]);
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.transport == Transport::Http));

    // A full /v1/logs URL is used as given; --attributes applies to records too.
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let url = receiver.http_logs_url().unwrap();
    let summary = delivers_every_log_record(
        &receiver,
        &url,
        "http/json",
        "--records",
        &["--attributes", "12", "--service-name", "shop"],
    );
    assert_eq!(summary["endpoint"], url.as_str());
    let requests = receiver.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.content_type.as_deref() == Some("application/json"))
    );
    let record = receiver.accepted_logs().pop().unwrap();
    assert_eq!(record.attributes.len(), 12);
    let resource = receiver.accepted_log_requests()[0].resource_logs[0]
        .resource
        .clone()
        .unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().and_then(|v| v.value.clone())
            == Some(Value::StringValue("shop".into()))));
}

/// The data points of every `name` metric received, one `(series, value)`
/// per point: the counter's sum, or the histogram's count.
fn points(receiver: &Receiver, name: &str) -> Vec<Vec<(String, u64)>> {
    let series = |attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue]| {
        attributes
            .iter()
            .find(|kv| kv.key == "loadgen.series" || kv.key == "otel.metric.overflow")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(text) => Some(text.clone()),
                Value::BoolValue(_) => Some("overflow".to_owned()),
                _ => None,
            })
            .unwrap_or_default()
    };
    receiver
        .accepted_metrics()
        .iter()
        .filter(|metric: &&Metric| metric.name == name)
        .map(|metric| match &metric.data {
            Some(Data::Sum(sum)) => sum
                .data_points
                .iter()
                .map(|point| match point.value {
                    Some(number_data_point::Value::AsInt(value)) => {
                        (series(&point.attributes), value as u64)
                    }
                    other => panic!("an integer sum, not {other:?}"),
                })
                .collect(),
            Some(Data::Histogram(histogram)) => histogram
                .data_points
                .iter()
                .map(|point| (series(&point.attributes), point.count))
                .collect(),
            other => panic!("{name}: a sum or a histogram, not {other:?}"),
        })
        .collect()
}

/// Runs `--signal metrics --records 3000 --workers 3 --series 50` with
/// `extra` options and checks the summary and the last (cumulative) export
/// against the receiver.
fn delivers_every_recording(
    receiver: &Receiver,
    endpoint: &str,
    protocol: &str,
    extra: &[&str],
) -> serde_json::Value {
    let output = run(loadgen()
        .args(["--signal", "metrics"])
        .args(["--endpoint", endpoint, "--protocol", protocol])
        .args(["--records", "3000", "--workers", "3", "--series", "50"])
        .arg("--json-summary")
        .args(extra));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary["signal"], "metrics");
    assert_eq!(summary["protocol"], protocol);
    assert_eq!(summary["workers"], 3);
    assert_eq!(count(&summary, "recordings"), 3000, "{summary}");
    assert_eq!(count(&summary, "series"), 50, "{summary}");
    for key in [
        "data_points_failed",
        "data_points_rejected",
        "overflowed_measurements",
    ] {
        assert_eq!(count(&summary, key), 0, "{key}: {summary}");
    }
    assert_eq!(summary["all_delivered"], true);
    assert_eq!(summary["export_interval_seconds"], 1.0, "{summary}");
    assert!(summary["send_rate"].as_f64().unwrap() > 0.0, "{summary}");
    assert!(summary.get("sent").is_none(), "{summary}");
    // At least the shutdown's export: both instruments' 50 series.
    let exported = count(&summary, "data_points_exported");
    assert!(exported >= 100, "{summary}");
    assert!(count(&summary, "exports") >= 1, "{summary}");
    assert!(receiver.wait_for_data_points(exported, Duration::from_secs(5)));
    assert_eq!(receiver.data_point_count(), exported, "{summary}");
    assert_eq!(receiver.span_count() + receiver.log_record_count(), 0);

    // Cumulative: the last export holds every series, with every recording.
    for name in ["loadgen.requests", "loadgen.request.duration"] {
        let exports = points(receiver, name);
        let last = exports.last().unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(last.len(), 50, "{name}: {last:?}");
        assert_eq!(last.iter().map(|(_, value)| value).sum::<u64>(), 3000);
        // 3000 recordings over 50 series, taken in turn: 60 each.
        assert!(last.iter().all(|(_, value)| *value == 60), "{last:?}");
        let mut series: Vec<&str> = last.iter().map(|(series, _)| series.as_str()).collect();
        series.sort_unstable();
        series.dedup();
        assert_eq!(series.len(), 50, "{series:?}");
    }

    let text = stdout(&output);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "recordings=3000 series=50 data_points_exported={exported} data_points_failed=0 \
             data_points_rejected=0 overflowed=0 elapsed="
        )),
        "{first}"
    );
    assert!(first.contains(" recordings/s="), "{first}");
    assert!(text.contains("signal=metrics"), "{text}");
    summary
}

#[test]
fn grpc_delivers_every_metric_recording() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.grpc_endpoint().unwrap();
    let summary =
        delivers_every_recording(&receiver, &endpoint, "grpc", &["--compression", "gzip"]);
    assert_eq!(summary["endpoint"], endpoint.as_str());
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.transport == Transport::Grpc));
    assert!(
        requests
            .iter()
            .all(|r| r.content_encoding.as_deref() == Some("gzip"))
    );
    // The loadgen's resource and scope; a counter of requests and a histogram in ms.
    let request = &receiver.accepted_metric_requests()[0];
    let resource = request.resource_metrics[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(service, Some(Value::StringValue("otlp-loadgen".into())));
    let scope_metrics = &request.resource_metrics[0].scope_metrics[0];
    assert_eq!(scope_metrics.scope.as_ref().unwrap().name, "otlp-loadgen");
    let metrics = receiver.accepted_metrics();
    let counter = metrics
        .iter()
        .find(|metric| metric.name == "loadgen.requests")
        .unwrap();
    assert_eq!(counter.unit, "{request}");
    match &counter.data {
        Some(Data::Sum(sum)) => {
            assert!(sum.is_monotonic);
            // Four attributes per series by default, one telling it apart.
            let point = &sum.data_points[0];
            assert_eq!(point.attributes.len(), 4, "{point:?}");
            assert!(
                point.attributes.iter().any(|kv| kv.key == "loadgen.series"),
                "{point:?}"
            );
        }
        other => panic!("a sum, not {other:?}"),
    }
    let histogram = metrics
        .iter()
        .find(|metric| metric.name == "loadgen.request.duration")
        .unwrap();
    assert_eq!(histogram.unit, "ms");
    match &histogram.data {
        Some(Data::Histogram(histogram)) => {
            let point = &histogram.data_points[0];
            assert!(
                point.min.unwrap() >= 1.0 && point.max.unwrap() <= 201.0,
                "{point:?}"
            );
        }
        other => panic!("a histogram, not {other:?}"),
    }
}

#[test]
fn http_delivers_every_metric_recording() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.http_endpoint().unwrap();
    let summary = delivers_every_recording(&receiver, &endpoint, "http/protobuf", &[]);
    assert_eq!(summary["endpoint"], format!("{endpoint}/v1/metrics"));
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r.transport == Transport::Http)
    );

    // A full /v1/metrics URL is used as given; --attributes and
    // --service-name apply to metrics too.
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let url = receiver.http_metrics_url().unwrap();
    let summary = delivers_every_recording(
        &receiver,
        &url,
        "http/json",
        &["--attributes", "9", "--service-name", "shop"],
    );
    assert_eq!(summary["endpoint"], url.as_str());
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r.content_type.as_deref() == Some("application/json"))
    );
    let request = &receiver.accepted_metric_requests()[0];
    let resource = request.resource_metrics[0].resource.clone().unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().and_then(|v| v.value.clone())
            == Some(Value::StringValue("shop".into()))));
    let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
    let attributes = match &metric.data {
        Some(Data::Sum(sum)) => sum.data_points[0].attributes.len(),
        Some(Data::Histogram(histogram)) => histogram.data_points[0].attributes.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(attributes, 9);
}

#[test]
fn delta_metrics_at_a_rate_export_every_interval_and_add_up_to_the_recordings() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let output = run(loadgen()
        .env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
        .args(["--signal", "metrics", "--protocol", "grpc"])
        .args(["--endpoint", &receiver.grpc_endpoint().unwrap()])
        .args(["--duration", "1.6s", "--rate", "2000", "--workers", "2"])
        .args(["--series", "10", "--export-interval", "300ms"])
        .arg("--json-summary"));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let recordings = count(&summary, "recordings");
    assert!((2_000..=3_202).contains(&recordings), "{summary}");
    assert_eq!(summary["export_interval_seconds"], 0.3, "{summary}");
    // About five interval exports, and shutdown's.
    assert!(count(&summary, "exports") >= 4, "{summary}");
    assert_eq!(
        receiver.data_point_count(),
        count(&summary, "data_points_exported")
    );
    // Delta: each export holds what was recorded since the one before.
    for name in ["loadgen.requests", "loadgen.request.duration"] {
        let exports = points(&receiver, name);
        assert!(exports.len() >= 4, "{name}: {exports:?}");
        let total: u64 = exports.iter().flatten().map(|(_, value)| value).sum();
        assert_eq!(total, recordings, "{name}");
    }
    // A progress line per second, in recordings and data points.
    let errors = stderr(&output);
    let progress = errors
        .lines()
        .find(|line| line.contains(" recordings="))
        .unwrap_or_else(|| panic!("{errors}"));
    for key in ["data_points_exported=", "overflowed=", "rate="] {
        assert!(progress.contains(key), "{key}: {progress}");
    }
}

#[test]
fn series_past_the_cardinality_limit_overflow_and_are_still_delivered() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let output = run(loadgen()
        .env("OTLP__METRICS__CARDINALITY_LIMIT", "20")
        .args(["--signal", "metrics", "--protocol", "http/protobuf"])
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--records", "1000", "--series", "50", "--json-summary"]));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // 20 series of their own, and the overflow series; 21 per instrument
    // recording: 20 series get 20 recordings each, the other 600 overflow.
    assert_eq!(
        count(&summary, "overflowed_measurements"),
        2 * 600,
        "{summary}"
    );
    assert_eq!(summary["all_delivered"], true);
    for name in ["loadgen.requests", "loadgen.request.duration"] {
        let exports = points(&receiver, name);
        let last = exports.last().unwrap();
        assert_eq!(last.len(), 21, "{last:?}");
        assert_eq!(last.iter().map(|(_, value)| value).sum::<u64>(), 1000);
        assert!(
            last.iter()
                .any(|(series, value)| series == "overflow" && *value == 600),
            "{last:?}"
        );
    }
    let text = stdout(&output);
    assert!(text.contains("overflow series"), "{text}");
    assert!(text.contains("OTLP__METRICS__CARDINALITY_LIMIT"), "{text}");
}

/// Fewer recordings than `--series`: the summary counts the series recorded
/// on (what the backend receives), not the ones prepared.
#[test]
fn fewer_recordings_than_series_report_the_series_recorded_on() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.http_endpoint().unwrap();
    let output = run(loadgen()
        .args(["--signal", "metrics"])
        .args(["--endpoint", &endpoint, "--protocol", "http/protobuf"])
        .args(["--records", "7", "--workers", "2", "--series", "100"])
        .args(["--json-summary", "--quiet"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary = summary(&output);
    assert_eq!(count(&summary, "recordings"), 7, "{summary}");
    let exported = count(&summary, "data_points_exported");
    assert!(receiver.wait_for_data_points(exported, Duration::from_secs(5)));
    for name in ["loadgen.requests", "loadgen.request.duration"] {
        let exports = points(&receiver, name);
        let last = exports.last().unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(last.len(), 7, "{name}: {last:?}");
    }
    assert_eq!(count(&summary, "series"), 7, "{summary}");
    let text = stdout(&output);
    assert!(
        text.lines()
            .next()
            .is_some_and(|first| first.starts_with("recordings=7 series=7 ")),
        "{text}"
    );
}

#[test]
fn lost_data_points_exit_3_and_say_so() {
    let (_held, address) = closed_port();
    let port = address.port();
    let output = run(loadgen()
        .env("OTLP__RETRY__ENABLED", "false")
        .args(["--signal", "metrics"])
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .args(["--protocol", "grpc", "--records", "300", "--timeout", "2s"])
        .args(["--shutdown-timeout", "5s", "--json-summary", "--quiet"]));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = summary(&output);
    assert_eq!(summary["signal"], "metrics");
    assert_eq!(count(&summary, "recordings"), 300);
    assert_eq!(count(&summary, "data_points_exported"), 0);
    // The shutdown's export: 100 series of two instruments.
    assert_eq!(count(&summary, "data_points_failed"), 200, "{summary}");
    assert_eq!(summary["all_delivered"], false);
    assert!(
        summary["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("connect"),
        "{summary}"
    );
    assert!(
        summary["shutdown_error"]
            .as_str()
            .unwrap_or_default()
            .contains("200 data points failed"),
        "{summary}"
    );
    assert!(stdout(&output).contains("note: "), "{}", stdout(&output));
}

#[test]
fn the_logs_variables_configure_what_flags_do_not() {
    let receiver = counting_receiver();
    // The traces endpoint points nowhere: the logs variables win for --signal logs.
    let output = run(loadgen()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .env(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            receiver.grpc_endpoint().unwrap(),
        )
        .env("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc")
        .env("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "100")
        .args(["--signal", "logs", "--records", "1000"])
        .args(["--json-summary", "--quiet"]));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary["protocol"], "grpc");
    assert_eq!(count(&summary, "exported"), 1000);
    assert!(count(&summary, "batches") >= 10, "{summary}");
    assert_eq!(receiver.log_record_count(), 1000);
}

#[test]
fn the_environment_configures_what_flags_do_not() {
    let receiver = counting_receiver();
    // Endpoint and protocol from the standard variables; --spans from the command line.
    let output = run(loadgen()
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            receiver.grpc_endpoint().unwrap(),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100")
        .args(["--spans", "1000", "--json-summary", "--quiet"]));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary["protocol"], "grpc");
    assert_eq!(count(&summary, "exported"), 1000);
    // Batches of at most OTEL_BSP_MAX_EXPORT_BATCH_SIZE (the default, 512, would make 2).
    let batches = count(&summary, "batches");
    assert!(batches >= 10, "{summary}");
    assert_eq!(receiver.span_count(), 1000);
    assert_eq!(receiver.stats().accepted_requests, batches);
}

#[test]
fn a_duration_at_a_rate_is_paced_and_reports_progress() {
    let receiver = counting_receiver();
    let started = Instant::now();
    let output = run(loadgen()
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--protocol", "http/protobuf", "--workers", "2"])
        .args(["--duration", "2.2s", "--rate", "1000", "--json-summary"]));
    let took = started.elapsed();
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let sent = count(&summary, "sent");
    // 2.2 s at 1000/s: never ahead of the schedule, and not far behind it.
    assert!((1_500..=2_202).contains(&sent), "{summary}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let send_seconds = summary["send_seconds"].as_f64().unwrap();
    assert!((2.1..4.0).contains(&send_seconds), "{summary}");
    assert_eq!(receiver.span_count(), count(&summary, "exported"));
    // Not a terminal: one progress line per second on stderr.
    let errors = stderr(&output);
    let progress: Vec<&str> = errors
        .lines()
        .filter(|line| line.starts_with("otlp-loadgen: ") && line.contains(" sent="))
        .collect();
    assert!(progress.len() >= 2, "{errors}");
    for key in [
        "exported=",
        "dropped=",
        "failed=",
        "queued=",
        "in_flight=",
        "on_disk=",
        "rate=",
    ] {
        assert!(progress[0].contains(key), "{key}: {}", progress[0]);
    }
}

#[test]
fn lost_spans_exit_3_and_say_so() {
    // A port nobody listens on; no retries (from the environment), so it ends quickly.
    let (_held, address) = closed_port();
    let port = address.port();
    let output = run(loadgen()
        .env("OTLP__RETRY__ENABLED", "false")
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .args([
            "--protocol",
            "http/protobuf",
            "--spans",
            "500",
            "--timeout",
            "2s",
        ])
        .args(["--shutdown-timeout", "5s", "--json-summary"]));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = summary(&output);
    assert_eq!(count(&summary, "sent"), 500);
    assert_eq!(count(&summary, "exported"), 0);
    assert_eq!(count(&summary, "failed"), 500, "{summary}");
    assert_eq!(summary["all_delivered"], false);
    assert_eq!(count(&summary, "unsettled"), 0, "every span accounted for");
    assert!(
        summary["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1"),
        "{summary}"
    );
    assert!(stdout(&output).contains("note: "), "{}", stdout(&output));
}

#[test]
fn lost_log_records_exit_3_and_say_so() {
    let (_held, address) = closed_port();
    let port = address.port();
    let output = run(loadgen()
        .env("OTLP__RETRY__ENABLED", "false")
        .args(["--signal", "logs"])
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .args(["--protocol", "grpc", "--records", "300", "--timeout", "2s"])
        .args(["--shutdown-timeout", "5s", "--json-summary", "--quiet"]));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = summary(&output);
    assert_eq!(summary["signal"], "logs");
    assert_eq!(count(&summary, "sent"), 300);
    assert_eq!(count(&summary, "exported"), 0);
    assert_eq!(count(&summary, "failed"), 300, "{summary}");
    assert_eq!(summary["all_delivered"], false);
    assert_eq!(
        count(&summary, "unsettled"),
        0,
        "every record accounted for"
    );
}

#[test]
fn the_span_pipelines_durable_directory_alone_is_no_durable_queue_for_logs_and_says_so() {
    // The log pipeline has its own key: with only the span pipeline's, a
    // run of log records during an outage keeps nothing on disk, and it
    // must say so rather than let the user believe otherwise.
    let directory =
        std::env::temp_dir().join(format!("otlp-loadgen-spans-durable-{}", std::process::id()));
    let (_held, address) = closed_port();
    let port = address.port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let warning =
        "durable.directory (OTLP__DURABLE__DIRECTORY) is the span pipeline's durable queue";
    for (signal, records, expected) in [
        (
            "logs",
            "--records",
            Some("set logs.durable.directory (OTLP__LOGS__DURABLE__DIRECTORY)"),
        ),
        (
            "metrics",
            "--records",
            Some("metrics have no durable queue"),
        ),
        ("traces", "--spans", None),
    ] {
        let output = run(loadgen()
            .env("OTLP__DURABLE__DIRECTORY", &directory)
            .env("OTLP__RETRY__ENABLED", "false")
            .args(["--signal", signal, "--endpoint", &endpoint, records, "10"])
            .args(["--timeout", "1s", "--shutdown-timeout", "3s", "--quiet"]));
        let stderr = stderr(&output);
        match expected {
            Some(advice) => {
                assert!(stderr.contains(warning), "{signal}: {stderr}");
                assert!(stderr.contains(advice), "{signal}: {stderr}");
            }
            None => assert!(!stderr.contains(warning), "{signal}: {stderr}"),
        }
    }
    // With the log pipeline's own directory, nothing to warn about.
    let logs_directory = directory.with_extension("logs");
    let output = run(loadgen()
        .env("OTLP__DURABLE__DIRECTORY", &directory)
        .env("OTLP__LOGS__DURABLE__DIRECTORY", &logs_directory)
        .args([
            "--signal",
            "logs",
            "--endpoint",
            &endpoint,
            "--records",
            "10",
        ])
        .args(["--shutdown-timeout", "1s", "--quiet"]));
    assert!(!stderr(&output).contains(warning), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(&directory);
    let _ = std::fs::remove_dir_all(&logs_directory);
}

#[test]
fn a_full_queue_is_reported_with_a_hint() {
    let receiver = counting_receiver();
    let output = run(loadgen()
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args([
            "--spans",
            "5000",
            "--queue-size",
            "10",
            "--full-policy",
            "drop",
        ])
        .arg("--json-summary"));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = summary(&output);
    let dropped = count(&summary, "dropped_queue_full");
    assert!(dropped > 0, "{summary}");
    assert_eq!(count(&summary, "dropped"), dropped);
    assert_eq!(count(&summary, "exported") + dropped, 5000);
    assert_eq!(receiver.span_count(), count(&summary, "exported"));
    assert!(
        stdout(&output).contains("--queue-size"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn drops_at_a_full_queue_under_the_default_policy_are_blamed_on_the_stalled_pipeline() {
    // Nobody listens: exports fail and are retried, the pipeline is stalled,
    // and producers (blocking, the default) drop once their wait is over.
    let (_held, address) = closed_port();
    let port = address.port();
    let output = run(loadgen()
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .args(["--spans", "5000", "--queue-size", "10", "--timeout", "1s"])
        .args(["--shutdown-timeout", "2s", "--json-summary", "--quiet"]));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let blocked = summary(&output);
    assert!(count(&blocked, "dropped_queue_full") > 0, "{blocked}");
    let text = stdout(&output);
    let note = text
        .lines()
        .find(|line| line.contains("because the queue"))
        .unwrap_or_else(|| panic!("no note on the full queue: {text}"));
    // The policy in force is blocking: advising it would be wrong.
    assert!(!note.contains("--full-policy block"), "{note}");
    assert!(note.contains("stalled"), "{note}");
    assert!(note.contains("the queue (10 spans or "), "{note}");

    // Without a count cap, the queue is bounded by bytes: it never held "0 spans".
    let output = run(loadgen()
        .env("OTLP__BATCH__MAX_QUEUE_BYTES", "4096")
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .args([
            "--spans",
            "5000",
            "--full-policy",
            "drop",
            "--timeout",
            "1s",
        ])
        .args(["--shutdown-timeout", "2s", "--json-summary", "--quiet"]));
    let dropped = summary(&output);
    assert!(count(&dropped, "dropped_queue_full") > 0, "{dropped}");
    let text = stdout(&output);
    let note = text
        .lines()
        .find(|line| line.contains("because the queue"))
        .unwrap_or_else(|| panic!("no note on the full queue: {text}"));
    assert!(note.contains("the queue (4096 bytes)"), "{note}");
    assert!(note.contains("--full-policy block"), "{note}");
}

/// A Ctrl-C while the pipeline drains, every span already sent, does not
/// make the summary say the run was interrupted before it sent them all; one
/// while the workers produce does.
#[cfg(unix)]
#[test]
fn an_interrupt_during_the_drain_is_not_reported_as_an_early_stop() {
    use otlp_contrib::receiver::Fault;
    use rustix::process::{Pid, Signal, kill_process};
    // A collector that never answers: shutdown waits for its deadline.
    let receiver = counting_receiver();
    receiver.set_fallback_fault(Some(Fault::Hang));
    let child = loadgen()
        // One batch, cut by the shutdown once the ten spans are sent.
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--spans", "10", "--shutdown-timeout", "5s"])
        .args(["--json-summary", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The request arrives: the spans are sent and the pipeline is draining.
    assert!(
        receiver.wait_until(Duration::from_secs(60), |stats| stats.requests > 0),
        "no request"
    );
    kill_process(Pid::from_child(&child), Signal::INT).expect("SIGINT");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let drained = summary(&output);
    assert_eq!(count(&drained, "sent"), 10, "{drained}");
    assert_eq!(drained["interrupted"], false, "{drained}");
    assert!(
        !stdout(&output).contains("interrupted before"),
        "{}",
        stdout(&output)
    );

    // One while the workers produce still stops them early, and says so.
    let receiver = counting_receiver();
    let child = loadgen()
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--duration", "10m", "--rate", "100"])
        .args(["--json-summary", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        receiver.wait_until(Duration::from_secs(60), |stats| stats.accepted_spans > 0),
        "no span arrived"
    );
    kill_process(Pid::from_child(&child), Signal::INT).expect("SIGINT");
    let output = child.wait_with_output().unwrap();
    let stopped = summary(&output);
    assert_eq!(stopped["interrupted"], true, "{stopped}");
    assert!(
        stdout(&output).contains("note: interrupted before every span was sent"),
        "{}",
        stdout(&output)
    );
}

/// A second signal quits at once with 128 + its number, as a shell reports
/// a process the signal killed: 143 for SIGTERM (a container stopped twice),
/// 130 for SIGINT.
#[cfg(unix)]
#[test]
fn a_second_signal_quits_with_its_own_status() {
    use otlp_contrib::receiver::Fault;
    use rustix::process::{Pid, Signal, kill_process};
    for (signal, status) in [(Signal::TERM, 143), (Signal::INT, 130)] {
        // A collector that never answers: the drain lasts until the second
        // signal.
        let receiver = counting_receiver();
        receiver.set_fallback_fault(Some(Fault::Hang));
        let mut child = loadgen()
            .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
            .args(["--endpoint", &receiver.http_endpoint().unwrap()])
            .args(["--spans", "10", "--shutdown-timeout", "10m"])
            .args(["--json-summary", "--quiet"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            receiver.wait_until(Duration::from_secs(60), |stats| stats.requests > 0),
            "no request"
        );
        kill_process(Pid::from_child(&child), signal).expect("first signal");
        // The first signal is taken once the drain note is on stderr.
        let mut stderr_pipe = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("interrupt again") {
            let n = stderr_pipe.read(&mut chunk).unwrap();
            assert!(n > 0, "stderr closed: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
        kill_process(Pid::from_child(&child), signal).expect("second signal");
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(status),
            "{signal:?}: {}",
            String::from_utf8_lossy(&seen)
        );
    }
}

/// A run in which no export ended (the collector never answers, shutdown
/// gives up on the one request) has no export latency to tell: the summary
/// says so (`n/a`, JSON `null`), not 0 ms, which reads as exports answered
/// at once.
#[test]
fn with_no_export_ended_the_export_latency_is_not_shown_as_zero() {
    use otlp_contrib::receiver::Fault;
    let receiver = counting_receiver();
    receiver.set_fallback_fault(Some(Fault::Hang));
    for json in [false, true] {
        let mut command = loadgen();
        command
            .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
            .args(["--endpoint", &receiver.http_endpoint().unwrap()])
            .args(["--spans", "10", "--shutdown-timeout", "1s", "--quiet"]);
        if json {
            command.arg("--json-summary");
        }
        let output = run(&mut command);
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        if json {
            let summary = summary(&output);
            for key in [
                "export_latency_p50_seconds",
                "export_latency_p99_seconds",
                "export_latency_max_seconds",
            ] {
                assert_eq!(summary[key], serde_json::Value::Null, "{key}: {summary}");
            }
        } else {
            let text = stdout(&output);
            assert!(text.contains("export_p50=n/a export_p99=n/a"), "{text}");
        }
    }
}

/// A script that starts the load generator and stops it at once: a signal
/// sent the moment its first line is read — the warning that the exporter is
/// `none`, printed before the pipeline starts, or `metrics at`, once it runs
/// — must be caught and end the run with its summary and status 0, not kill
/// the process before its handlers are in place.
#[cfg(unix)]
#[test]
fn a_signal_as_soon_as_it_starts_ends_the_run_with_the_summary_and_status_0() {
    use rustix::process::{Pid, Signal, kill_process};
    let receiver = counting_receiver();
    let endpoint = receiver.http_endpoint().unwrap();
    let firsts = [
        ("OTEL_TRACES_EXPORTER", "none", "otlp-loadgen: warning: "),
        ("OTEL_TRACES_EXPORTER", "otlp", "otlp-loadgen: metrics at "),
    ];
    for round in 0..5 {
        for (variable, value, first_line) in firsts {
            for signal in [Signal::INT, Signal::TERM] {
                let case = format!("round {round}, {variable}={value}, {signal:?}");
                let mut child = loadgen()
                    .env(variable, value)
                    .args(["--endpoint", &endpoint])
                    .args(["--duration", "10m", "--rate", "100"])
                    .args(["--metrics", "127.0.0.1:0", "--json-summary", "--quiet"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut errors = BufReader::new(child.stderr.take().unwrap());
                let mut first = String::new();
                errors.read_line(&mut first).unwrap();
                assert!(first.starts_with(first_line), "{case}: {first:?}");
                kill_process(Pid::from_child(&child), signal).expect("kill");
                let output = child.wait_with_output().unwrap();
                let mut rest = String::new();
                errors.read_to_string(&mut rest).unwrap();
                assert_eq!(output.status.code(), Some(0), "{case}: {rest}");
                let stopped = summary(&output);
                assert_eq!(stopped["interrupted"], true, "{case}: {stopped}");
                assert_eq!(stopped["sent"], stopped["exported"], "{case}: {stopped}");
            }
        }
    }
}

#[test]
fn bad_flags_exit_2_naming_the_flag_and_value() {
    for (args, expected) in [
        (&["--workers", "abc"][..], &["--workers", "'abc'"][..]),
        (&["--spans", "0"], &["--spans", "'0'"]),
        (&["--protocol", "thrift"], &["--protocol", "'thrift'"]),
        (&["--signal", "profiles"], &["--signal", "'profiles'"]),
        (&["--series", "0"], &["--series", "'0'"]),
        (
            &["--signal", "metrics", "--queue-size", "10"],
            &["--queue-size", "--signal metrics"],
        ),
        (&["--series", "5"], &["--series", "--signal traces"]),
        (
            &["--signal", "logs", "--export-interval", "1s"],
            &["--export-interval", "--signal logs"],
        ),
        (&["--records", "-1"], &["--records", "'-1'"]),
        (
            &["--signal", "logs", "--span-ids", "ids.txt"],
            &["--span-ids", "--signal logs"],
        ),
        (
            &["--spans", "5", "--records", "5"],
            &["--spans", "--records"],
        ),
        (&["--rate", "-3"], &["--rate", "'-3'"]),
        (&["--duration", "forever"], &["--duration", "'forever'"]),
        (
            &["--endpoint", "localhost:4317"],
            &["--endpoint", "'localhost:4317'"],
        ),
        (&["--attributes", "500"], &["--attributes", "'500'"]),
        (&["--compression", "lz4"], &["--compression", "'lz4'"]),
        (&["--header", "x-api-key"], &["--header", "'<redacted>'"]),
        (
            &["--queue-size", "10", "--batch-size", "20"],
            &["--batch-size", "--queue-size"],
        ),
        (&["--frobnicate"], &["--frobnicate"]),
        (&["--spans"], &["--spans", "a value is required"]),
        (&["--sapns", "5"], &["--sapns", "similar", "--spans"]),
    ] {
        let output = run(loadgen().args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let errors = stderr(&output);
        for part in expected {
            assert!(errors.contains(part), "{args:?}: {errors}");
        }
        assert!(errors.contains("--help"), "{errors}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

/// The stderr of `otlp-loadgen` run with `args`, after checking that it
/// exited 2 (bad usage) and printed nothing on stdout.
fn usage_error(args: &[&std::ffi::OsStr]) -> String {
    let output = run(loadgen().args(args));
    let errors = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {errors}");
    assert!(stdout(&output).is_empty(), "{args:?}");
    errors
}

/// A word starting with `-` right after an option that takes a value is
/// that option's value, refused naming the option and the value: clap took
/// `--endpoint -1` for an unknown option `-1` ("unexpected argument '-1'
/// found"), naming neither `--endpoint` nor what was wrong with it. A file
/// name starting with `-` is refused too (more likely a mistyped option;
/// `./-x` names such a file). `--header` shows its value redacted, as ever.
#[test]
fn a_value_starting_with_a_dash_is_refused_as_that_options_value() {
    for (flag, value, shown) in [
        ("--endpoint", "-1", "-1"),
        ("--endpoint", "-x", "-x"),
        ("--protocol", "-1", "-1"),
        ("--signal", "-x", "-x"),
        ("--compression", "-1", "-1"),
        ("--full-policy", "-1", "-1"),
        ("--metrics", "-1", "-1"),
        ("--header", "-1", "<redacted>"),
        ("--config", "-x.yaml", "-x.yaml"),
        ("--span-ids", "-1", "-1"),
        ("--spans", "-5", "-5"),
        ("--records", "-5", "-5"),
        ("--duration", "-1s", "-1s"),
        ("--workers", "-1", "-1"),
        ("--rate", "-1", "-1"),
        ("--attributes", "-1", "-1"),
        ("--series", "-1", "-1"),
        ("--export-interval", "-1", "-1"),
        ("--queue-size", "-1", "-1"),
        ("--batch-size", "-1", "-1"),
        ("--timeout", "-1", "-1"),
        ("--shutdown-timeout", "-1", "-1"),
    ] {
        let errors = usage_error(&[flag.as_ref(), value.as_ref()]);
        assert!(
            errors.contains(&format!("invalid value '{shown}' for '{flag} <")),
            "{flag} {value}: {errors}"
        );
    }
}

/// An option whose value is missing, followed by another option, is still
/// an option without a value, not one whose value is the next option's name
/// (`--endpoint --spans 5`: `--endpoint` has none, whatever `--spans` takes);
/// a mistyped one is still an unexpected argument, not a value.
#[test]
fn an_option_followed_by_another_option_has_no_value() {
    for args in [
        &["--endpoint", "--spans", "5"][..],
        &["--header", "--quiet"],
        &["--service-name", "--quiet"],
        &["--config", "--quiet"],
        &["--spans", "--quiet"],
        &["--rate", "--workers=2"],
        &["--endpoint", "--"],
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|arg| arg.as_ref()).collect();
        let errors = usage_error(&args);
        let flag = args[0].to_str().expect("UTF-8");
        assert!(
            errors.contains(&format!("a value is required for '{flag} <")),
            "{args:?}: {errors}"
        );
    }
    // A word starting with `--` that is not an option of the command is
    // still an unexpected one, with clap's suggestion, not a value.
    let errors = usage_error(&["--endpoint".as_ref(), "--sapns".as_ref(), "5".as_ref()]);
    assert!(
        errors.contains("unexpected argument '--sapns'") && errors.contains("'--spans'"),
        "{errors}"
    );
}

/// A value that is not UTF-8 is refused naming the option, the value shown
/// with U+FFFD for what is not UTF-8 (and, for `--endpoint` and `--header`,
/// redacted as any refused value of theirs): clap's own error ("invalid
/// UTF-8 was detected in one or more arguments") named neither.
#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_refused_naming_the_option() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    for (flag, value, shown) in [
        ("--endpoint", &b"\xff"[..], "\u{FFFD}"),
        (
            "--endpoint",
            b"http://user:s3cret\xff@collector:4318",
            "http://<redacted>@collector:4318",
        ),
        ("--header", b"x-api-key=s3cret\xff", "x-api-key=<redacted>"),
        ("--protocol", b"grpc\xff", "grpc\u{FFFD}"),
        ("--signal", b"\xff", "\u{FFFD}"),
        ("--compression", b"\xff", "\u{FFFD}"),
        ("--full-policy", b"\xff", "\u{FFFD}"),
        ("--metrics", b"\xff", "\u{FFFD}"),
        ("--service-name", b"svc\xff", "svc\u{FFFD}"),
        ("--spans", b"1\xff", "1\u{FFFD}"),
        ("--records", b"\xff", "\u{FFFD}"),
        ("--duration", b"\xff", "\u{FFFD}"),
        ("--workers", b"\xff", "\u{FFFD}"),
        ("--rate", b"\xff", "\u{FFFD}"),
        ("--attributes", b"\xff", "\u{FFFD}"),
        ("--series", b"\xff", "\u{FFFD}"),
        ("--export-interval", b"\xff", "\u{FFFD}"),
        ("--queue-size", b"\xff", "\u{FFFD}"),
        ("--batch-size", b"\xff", "\u{FFFD}"),
        ("--timeout", b"\xff", "\u{FFFD}"),
        ("--shutdown-timeout", b"\xff", "\u{FFFD}"),
    ] {
        let value = OsString::from_vec(value.to_vec());
        let errors = usage_error(&[flag.as_ref(), &value]);
        assert!(
            errors.contains(&format!("invalid value '{shown}' for '{flag} <"))
                && errors.contains("UTF-8"),
            "{flag}: {errors}"
        );
        assert!(!errors.contains("s3cret"), "{flag}: {errors}");
    }
}

/// An `--endpoint` that the option's own check refuses (no http:// or
/// https:// scheme, a space in the host) is shown with its user-info
/// redacted, as the configuration shows the endpoints it refuses: the
/// password never reaches standard error.
#[test]
fn an_endpoint_refused_by_its_own_check_is_shown_without_its_user_info() {
    for (value, shown, reason) in [
        (
            "ftp://user:password@collector:4317",
            "ftp://<redacted>@collector:4317",
            "not an http:// or https:// URL",
        ),
        (
            "user:password@collector:4317",
            "<redacted>@collector:4317",
            "not an http:// or https:// URL",
        ),
        (
            "http://user:password@collector 4317/v1/traces",
            "http://<redacted>@collector 4317/v1/traces",
            "no valid host",
        ),
        // Refused by the configuration, past the option's check.
        (
            "http://user:password@collector:bad",
            "http://<redacted>@collector:bad",
            "port",
        ),
    ] {
        let output = run(loadgen().args(["--records", "1", "--endpoint", value]));
        assert_eq!(output.status.code(), Some(2), "{value}");
        let errors = stderr(&output);
        for part in ["--endpoint", shown, reason] {
            assert!(errors.contains(part), "{value}: {part}: {errors}");
        }
        assert!(!errors.contains("password"), "{value}: {errors}");
        assert!(stdout(&output).is_empty(), "{value}");
    }
}

/// A refused `--header` is shown without its value (a key, a token): the
/// name when it is one, else nothing of it; the reason does not repeat it.
#[test]
fn a_refused_header_is_shown_without_its_value() {
    for (value, shown, reason) in [
        (
            "Authorization: Bearer s3cret",
            "'<redacted>'",
            "not NAME=VALUE",
        ),
        (
            "Authorization: Bearer s3cret==",
            "'<redacted>'",
            "not a header name",
        ),
        (
            "x-api-key=s3cret\u{1}",
            "'x-api-key=<redacted>'",
            "control characters",
        ),
    ] {
        let output = run(loadgen().args(["--records", "1", "--header", value]));
        assert_eq!(output.status.code(), Some(2), "{value}");
        let errors = stderr(&output);
        for part in ["--header", shown, reason] {
            assert!(errors.contains(part), "{value}: {part}: {errors}");
        }
        assert!(!errors.contains("s3cret"), "{value}: {errors}");
        assert!(stdout(&output).is_empty(), "{value}");
    }
}

/// An `--endpoint` its own check lets through (a scheme and a host) but the
/// configuration refuses (the port, an unclosed `[`, a query on a base URL)
/// is an error naming `--endpoint` and the value, not the configuration key
/// it was put in ("exporter.endpoint (from builder)"); user-info stays
/// redacted.
#[test]
fn an_endpoint_the_configuration_refuses_is_an_error_naming_endpoint() {
    for (args, value, reason) in [
        (
            &["--endpoint", "http://localhost:99999"][..],
            "http://localhost:99999",
            "port",
        ),
        (&["--endpoint", "http://[::1"], "http://[::1", "["),
        (
            &["--signal", "logs", "--endpoint", "http://localhost:0"],
            "http://localhost:0",
            "port",
        ),
        (
            &["--signal", "metrics", "--endpoint", "http://h:x/v1/metrics"],
            "http://h:x/v1/metrics",
            "port",
        ),
        (
            &[
                "--protocol",
                "http/protobuf",
                "--endpoint",
                "http://h:4318/?x=1",
            ],
            "http://h:4318/?x=1",
            "query",
        ),
        (
            &["--endpoint", "https://user:secret@h:0"],
            "https://<redacted>@h:0",
            "port",
        ),
    ] {
        let output = run(loadgen().args(args).args(["--records", "1"]));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let errors = stderr(&output);
        for part in [
            "--endpoint",
            &format!("{value:?}"),
            reason,
            "Try `otlp-loadgen --help`",
        ] {
            assert!(errors.contains(part), "{args:?}: {part}: {errors}");
        }
        assert!(!errors.contains("builder"), "{args:?}: {errors}");
        assert!(!errors.contains("secret"), "{args:?}: {errors}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

/// `--batch-size` above a queue size the configuration sets (the flags'
/// own check sees only `--queue-size`) is an error naming `--batch-size`, its
/// value and the queue size, not the key it was put in
/// ("batch.max_export_batch_size (from builder)").
#[test]
fn a_batch_size_above_the_configured_queue_size_is_an_error_naming_batch_size() {
    for (signal, variable) in [
        ("traces", "OTEL_BSP_MAX_QUEUE_SIZE"),
        ("logs", "OTEL_BLRP_MAX_QUEUE_SIZE"),
    ] {
        let output = run(loadgen().env(variable, "512").args([
            "--signal",
            signal,
            "--batch-size",
            "1000",
            "--records",
            "1",
        ]));
        assert_eq!(output.status.code(), Some(2), "{signal}");
        let errors = stderr(&output);
        for part in [
            "--batch-size",
            "\"1000\"",
            "512",
            "Try `otlp-loadgen --help`",
        ] {
            assert!(errors.contains(part), "{signal}: {part}: {errors}");
        }
        assert!(!errors.contains("builder"), "{signal}: {errors}");
    }
}

/// `--protocol` that the configured endpoint does not suit (a gRPC endpoint
/// without a scheme, for HTTP) is an error naming `--protocol` and the
/// endpoint, not an invalid "exporter.endpoint (from builder)": the
/// configuration alone was valid.
#[test]
fn a_protocol_the_configured_endpoint_does_not_suit_is_an_error_naming_protocol() {
    let output = run(loadgen()
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317")
        .args(["--protocol", "http/protobuf", "--spans", "1"]));
    assert_eq!(output.status.code(), Some(2));
    let errors = stderr(&output);
    for part in [
        "--protocol http/protobuf",
        "\"localhost:4317\"",
        "http://",
        "Try `otlp-loadgen --help`",
    ] {
        assert!(errors.contains(part), "{part}: {errors}");
    }
    assert!(!errors.contains("builder"), "{errors}");
}

/// An `--endpoint` or `--header` the exporter refuses when it is built (a
/// host the URL parser refuses, a query on a gRPC endpoint, a header the
/// exporter sets itself or gRPC reserves) is bad usage, status 2, naming the
/// option: it was status 1, "the pipeline cannot start", naming neither.
#[test]
fn an_endpoint_or_header_the_exporter_refuses_is_bad_usage_naming_the_option() {
    for (args, parts) in [
        (
            &["--endpoint", "http://a|b:4318"][..],
            &["--endpoint", "http://a|b:4318"][..],
        ),
        (
            &["--protocol", "grpc", "--endpoint", "http://h:4317/?x=1"],
            &["--endpoint", "http://h:4317/?x=1"],
        ),
        (
            &[
                "--endpoint",
                "http://127.0.0.1:9",
                "--header",
                "content-type=x",
            ],
            &["--header", "content-type"],
        ),
        (
            &[
                "--protocol",
                "grpc",
                "--endpoint",
                "http://127.0.0.1:9",
                "--header",
                "te=x",
            ],
            &["--header", "\"te\""],
        ),
    ] {
        let output = run(loadgen().args(args).args(["--spans", "1"]));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let errors = stderr(&output);
        for part in parts.iter().chain(&["Try `otlp-loadgen --help`"]) {
            assert!(errors.contains(part), "{args:?}: {part}: {errors}");
        }
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

/// A full URL is one whose path ends in the signal's `/v1/...`, whatever
/// its query: `…/v1/traces?tenant=a` was taken for a base URL, and refused
/// as one ("a base endpoint cannot have a query"), though a signal's own
/// endpoint may have a query.
#[test]
fn a_full_url_with_a_query_is_used_as_given() {
    let receiver = counting_receiver();
    for (signal, url) in [
        ("traces", receiver.http_traces_url().unwrap()),
        ("logs", receiver.http_logs_url().unwrap()),
        ("metrics", receiver.http_metrics_url().unwrap()),
    ] {
        for url in [format!("{url}?tenant=a"), format!("{url}?tenant=a#top")] {
            let output = run(loadgen()
                .args(["--signal", signal, "--endpoint", &url])
                .args(["--records", "10", "--quiet", "--json-summary"]));
            assert_eq!(output.status.code(), Some(0), "{url}: {}", stderr(&output));
            let summary = summary(&output);
            assert_eq!(summary["endpoint"], url.as_str(), "{summary}");
            assert_eq!(summary["all_delivered"], true, "{url}: {summary}");
        }
    }
    assert_eq!(receiver.span_count(), 20);
    assert_eq!(receiver.log_record_count(), 20);
}

/// A `--duration` too long for an `Instant` (here about 317 billion years)
/// is no time limit, as the SDK's timeouts are: `start + duration` panicked
/// (status 101) before any record was sent, whatever the signal.
#[test]
fn a_duration_too_long_for_an_instant_is_no_limit_not_a_panic() {
    let receiver = counting_receiver();
    let endpoint = receiver.http_endpoint().unwrap();
    for (signal, count_key, counted) in [
        ("traces", "exported", 20),
        ("logs", "exported", 20),
        ("metrics", "recordings", 20),
    ] {
        let output = run(loadgen()
            .args(["--signal", signal, "--endpoint", &endpoint])
            .args(["--duration", "10000000000000000000", "--records", "20"])
            .args(["--quiet", "--json-summary"]));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{signal}: {}",
            stderr(&output)
        );
        let summary = summary(&output);
        assert_eq!(count(&summary, count_key), counted, "{signal}: {summary}");
        assert_eq!(summary["all_delivered"], true, "{signal}: {summary}");
    }
    assert_eq!(receiver.span_count(), 20);
    assert_eq!(receiver.log_record_count(), 20);
}

#[test]
fn version_prints_the_crate_version() {
    let output = run(loadgen().arg("--version"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output).trim(),
        concat!("otlp-loadgen ", env!("CARGO_PKG_VERSION"))
    );
}

/// A stderr whose reader is gone (`otlp-loadgen ... 2>&1 | head -1`) loses
/// the error message, not the exit status: `eprintln!` panicked (101).
#[test]
fn an_error_on_a_stderr_nobody_reads_still_exits_2() {
    let mut child = loadgen()
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
        .args(["--spans", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start otlp-loadgen");
    // The reader goes away before the message is written: the write fails
    // with EPIPE.
    drop(child.stderr.take());
    let status = child.wait().expect("wait for otlp-loadgen");
    assert_eq!(status.code(), Some(2), "{status:?}");
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let output = run(loadgen()
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
        .args(["--spans", "1"]));
    assert_eq!(output.status.code(), Some(2));
    let errors = stderr(&output);
    assert!(errors.contains("OTEL_BSP_MAX_QUEUE_SIZE"), "{errors}");

    let missing = PathBuf::from("no-such-dir").join("loadgen.yaml");
    let output = run(loadgen()
        .arg("--config")
        .arg(&missing)
        .args(["--spans", "1"]));
    assert_eq!(output.status.code(), Some(2));
    // The file, and the flag that named it.
    let errors = stderr(&output);
    assert!(
        errors.contains("--config: cannot read configuration file")
            && errors.contains("loadgen.yaml"),
        "{errors}"
    );
}

#[test]
fn help_lists_the_flags() {
    let output = run(loadgen().arg("--help"));
    assert_eq!(output.status.code(), Some(0));
    let usage = stdout(&output);
    for flag in [
        "--endpoint",
        "--protocol",
        "--spans",
        "--signal",
        "--records",
        "--workers",
        "--duration",
        "--rate",
        "--attributes",
        "--compression",
        "--header",
        "--queue-size",
        "--batch-size",
        "--timeout",
        "--json-summary",
        "--span-ids",
        "--series",
        "--export-interval",
        "--full-policy",
        "--shutdown-timeout",
        "--service-name",
        "--config",
        "--metrics",
        "--quiet",
        "--help",
        "--version",
        "Exit status",
    ] {
        assert!(usage.contains(flag), "{flag}");
    }
}

/// Runs the load generator with `signal` and `--metrics` for 3 s and
/// returns one scrape of its `/metrics` page, taken while it runs.
fn scrape_while_running(signal: &str) -> String {
    let receiver = counting_receiver();
    let mut child = loadgen()
        .args([
            "--endpoint",
            &receiver.grpc_endpoint().unwrap(),
            "--protocol",
            "grpc",
            "--signal",
            signal,
        ])
        .args([
            "--duration",
            "3s",
            "--rate",
            "500",
            "--metrics",
            "127.0.0.1:0",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    errors.read_line(&mut line).unwrap();
    // `otlp-loadgen: metrics at http://127.0.0.1:PORT/metrics`
    let url = line
        .trim()
        .strip_prefix("otlp-loadgen: metrics at ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap()
        .to_owned();
    std::thread::sleep(Duration::from_millis(500));
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    response
}

#[test]
fn metrics_are_served_while_it_runs() {
    let response = scrape_while_running("traces");
    assert!(
        response.contains("otlp_sdk_spans_produced_total "),
        "{response}"
    );
}

#[test]
fn a_log_pipelines_metrics_are_named_after_log_records() {
    let response = scrape_while_running("logs");
    for name in [
        "otlp_sdk_log_records_produced_total ",
        "otel_sdk_exporter_log_exported_total ",
        "otel_sdk_processor_log_queue_size ",
    ] {
        assert!(response.contains(name), "{name}: {response}");
    }
    assert!(!response.contains("_span"), "{response}");
}

#[test]
fn an_unwritable_span_ids_file_is_an_error_naming_it() {
    let output = run(loadgen().args([
        "--endpoint",
        "http://127.0.0.1:9",
        "--span-ids",
        "/nonexistent-directory/ids.txt",
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--span-ids file /nonexistent-directory/ids.txt"),
        "{}",
        stderr(&output)
    );
}

/// `--span-ids FILE` holds the spans of this run only: a file left by an
/// earlier run is emptied first, as `--help` says.
#[test]
fn a_span_ids_file_holds_the_spans_of_this_run_only() {
    let receiver = Receiver::start(ReceiverConfig {
        grpc: None,
        ..Default::default()
    })
    .expect("receiver");
    let endpoint = format!("http://{}", receiver.http_addr().expect("HTTP listener"));
    let ids = std::env::temp_dir().join(format!("otlp-loadgen-ids-{}.txt", std::process::id()));
    std::fs::write(&ids, "an earlier run's line\n").expect("write the old file");
    let output = run(loadgen()
        .args(["--endpoint", &endpoint, "--spans", "3", "--quiet"])
        .arg("--span-ids")
        .arg(&ids));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(&ids).expect("read the ids");
    let _ = std::fs::remove_file(&ids);
    assert_eq!(written.lines().count(), 3, "{written}");
    assert!(!written.contains("earlier"), "{written}");
    assert!(
        written
            .lines()
            .all(|line| line.len() == 32 + 1 + 16 && line.as_bytes()[32] == b' '),
        "{written}"
    );
}

/// A signal the configuration turns off (`OTEL_*_EXPORTER=none`,
/// `OTEL_SDK_DISABLED=true`) is warned of and records nothing; that is not a
/// loss: the run exits 0 whatever the signal, metrics as traces and logs.
#[test]
fn a_signal_turned_off_by_the_configuration_exits_0_with_its_warning() {
    for signal in ["traces", "logs", "metrics"] {
        let own = format!("OTEL_{}_EXPORTER", signal.to_uppercase());
        for (variable, value) in [(own.as_str(), "none"), ("OTEL_SDK_DISABLED", "true")] {
            let output = run(loadgen()
                .env(variable, value)
                .args(["--signal", signal, "--records", "5", "--quiet"])
                .args(["--endpoint", "http://127.0.0.1:9", "--json-summary"]));
            let case = format!("--signal {signal}, {variable}={value}");
            assert!(
                stderr(&output).contains("otlp-loadgen: warning: "),
                "{case}: {}",
                stderr(&output)
            );
            assert_eq!(
                output.status.code(),
                Some(0),
                "{case}: {}{}",
                stdout(&output),
                stderr(&output)
            );
            assert_eq!(summary(&output)["all_delivered"], true, "{case}");
        }
    }
}

/// A `--metrics` address that cannot be listened on (taken) is an error
/// naming the flag and its value, as every other start failure is
/// (`--span-ids`, `--config`; `otlp-receiver --grpc ADDR`), with status 1.
#[test]
fn a_taken_metrics_address_is_an_error_naming_metrics() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("local address").to_string();
    let output = run(loadgen().args([
        "--endpoint",
        "http://127.0.0.1:9",
        "--spans",
        "1",
        "--metrics",
        &addr,
    ]));
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(errors.contains(&format!("--metrics {addr}")), "{errors}");
}

/// `--rate` is the target over all workers, from the start: more workers
/// than the rate asks for in the run do not each send their first span at
/// once (1/s over 20 workers for 1.5 s is 2 spans, due at 0 s and 1 s, not
/// 20 at the start).
#[test]
fn a_rate_below_the_worker_count_is_not_exceeded_at_the_start() {
    let receiver = counting_receiver();
    let output = run(loadgen()
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--workers", "20", "--rate", "1", "--duration", "1.5s"])
        .args(["--json-summary", "--quiet"]));
    let summary = summary(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let sent = count(&summary, "sent");
    assert!((1..=2).contains(&sent), "{summary}");
}

/// The summary is what the run is for: one that cannot be written to
/// standard output (a full disk) is said on stderr and ends with status 1,
/// not lost with status 0 (as the quickstart does with its report). A
/// reader gone early (`| head -1`) is not an error.
#[cfg(target_os = "linux")]
#[test]
fn a_summary_that_cannot_be_written_is_said_on_stderr_with_status_1() {
    let receiver = counting_receiver();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let output = run(loadgen()
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--spans", "10", "--quiet", "--json-summary"])
        .stdout(full));
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains("otlp-loadgen: cannot write the summary to standard output"),
        "{errors}"
    );

    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = run(loadgen()
        .args(["--endpoint", &receiver.http_endpoint().unwrap()])
        .args(["--spans", "10", "--quiet"])
        .stdout(writer));
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{errors}");
    assert_eq!(errors, "");
}
