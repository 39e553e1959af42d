//! The `otlp-receiver` binary as a separate process, the way benchmarks run it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use http::StatusCode;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::support::*;

/// How long a line of the binary may take: generous, as a loaded machine
/// (two cores, a parallel build) can delay a freshly spawned process.
const LINE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running `otlp-receiver` whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    grpc: String,
    http: String,
}

impl Running {
    fn start(extra: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn otlp-receiver");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(LINE_TIMEOUT).expect("first line");
        // `listening grpc=127.0.0.1:PORT http=127.0.0.1:PORT`
        let mut words = first.split(' ');
        assert_eq!(words.next(), Some("listening"), "{first}");
        let mut grpc = String::new();
        let mut http = String::new();
        for word in words {
            match word.split_once('=') {
                Some(("grpc", addr)) => grpc = addr.to_owned(),
                Some(("http", addr)) => http = addr.to_owned(),
                _ => panic!("unexpected {word:?} in {first:?}"),
            }
        }
        assert!(
            grpc.starts_with("127.0.0.1:") && !grpc.ends_with(":0"),
            "{first}"
        );
        Running {
            child,
            lines,
            grpc,
            http,
        }
    }

    /// Lines until one satisfies `until` (included).
    fn lines_until(&self, until: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(LINE_TIMEOUT)
                .unwrap_or_else(|_| panic!("no line matched; got {seen:#?}"));
            let done = until(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    /// Ends the process as asked and returns the rest of its output.
    fn finish(mut self, how: &str) -> Vec<String> {
        match how {
            "stdin" => drop(self.child.stdin.take()),
            signal => {
                let killed = Command::new("kill")
                    .args([signal, &self.child.id().to_string()])
                    .status()
                    .expect("kill");
                assert!(killed.success());
            }
        }
        let rest = self.lines_until(|line| line.starts_with("final "));
        let status = self.child.wait().expect("exit status");
        assert!(status.success(), "{status:?}");
        rest
    }
}

/// A test that fails midway must not leave its receiver running (holding
/// the test's output open): the process is killed when `Running` goes,
/// whatever happened (a no-op once it has exited).
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("otlp-receiver-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn binary_prints_trees_and_appends_otlp_json_lines() {
    let jsonl = temp_file("requests.jsonl");
    let running = Running::start(&[
        "--jsonl",
        jsonl.to_str().expect("path"),
        "--exit-on-stdin-eof",
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let first = rich_request("bin-http", 3);
    let second = rich_request("bin-grpc", 1);
    runtime.block_on(async {
        let url = format!("http://{}/v1/traces", running.http);
        assert_eq!(post_protobuf(&url, &first).await.status, StatusCode::OK);
        let mut client = grpc_client(&format!("http://{}", running.grpc)).await;
        client.export(second.clone()).await.expect("gRPC export");
    });

    let output = running.lines_until(|line| line.contains("bin-grpc"));
    let text = output.join("\n");
    assert!(text.contains("request http spans=3 answer=ok"), "{text}");
    assert!(
        text.contains("trace 0102030405060708090a0b0c0d0e0f10"),
        "{text}"
    );
    // Root at depth 1, children indented under it: service, name, duration, status.
    assert!(
        output
            .iter()
            .any(|line| line == "  bin-http span-0 1s error: it broke"),
        "{text}"
    );
    assert!(
        output
            .iter()
            .any(|line| line.starts_with("    bin-http span-1 999.999999ms error: it broke")),
        "{text}"
    );
    assert!(text.contains("request grpc spans=1 answer=ok"), "{text}");

    let lines: Vec<ExportTraceServiceRequest> = std::fs::read_to_string(&jsonl)
        .expect("jsonl file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is an OTLP/JSON request"))
        .collect();
    assert_eq!(lines, vec![first, second]);

    let rest = running.finish("stdin");
    let last = rest.last().expect("final line");
    assert_eq!(
        last,
        "final requests=2 accepted_requests=2 spans=4 log_records=0 data_points=0 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=0 jsonl_lost_lines=0"
    );
    let _ = std::fs::remove_file(&jsonl);
}

/// A request that cannot be appended to the `--jsonl` file (here a full
/// device) is counted on the `final` line, and the run exits with status 3.
#[cfg(target_os = "linux")]
#[test]
fn lost_jsonl_lines_are_counted_on_the_final_line_and_exit_3() {
    let mut running = Running::start(&["--jsonl", "/dev/full", "--exit-on-stdin-eof", "--quiet"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/traces", running.http);
        for spans in [1, 2] {
            let request = rich_request("full", spans);
            assert_eq!(post_protobuf(&url, &request).await.status, StatusCode::OK);
        }
    });
    drop(running.child.stdin.take());
    let rest = running.lines_until(|line| line.starts_with("final "));
    assert_eq!(
        rest.last().map(String::as_str),
        Some(
            "final requests=2 accepted_requests=2 spans=3 log_records=0 data_points=0 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=0 jsonl_lost_lines=2"
        )
    );
    let status = running.child.wait().expect("exit status");
    assert_eq!(status.code(), Some(3), "{status:?}");
}

#[test]
fn non_finite_doubles_in_the_jsonl_file_are_the_otlp_json_strings() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    let jsonl = temp_file("non-finite.jsonl");
    let running = Running::start(&[
        "--jsonl",
        jsonl.to_str().expect("path"),
        "--exit-on-stdin-eof",
    ]);
    let mut request = rich_request("non-finite", 1);
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.attributes = [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("minus_inf", f64::NEG_INFINITY),
    ]
    .into_iter()
    .map(|(key, double)| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::DoubleValue(double)),
        }),
        ..Default::default()
    })
    .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/traces", running.http);
        assert_eq!(post_protobuf(&url, &request).await.status, StatusCode::OK);
    });
    let _ = running.lines_until(|line| line.contains("non-finite"));
    let _ = running.finish("stdin");
    let text = std::fs::read_to_string(&jsonl).expect("jsonl file");
    let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
    let attributes = &line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
    let doubles: Vec<(&str, &serde_json::Value)> = attributes
        .as_array()
        .expect("attributes")
        .iter()
        .map(|kv| {
            (
                kv["key"].as_str().expect("key"),
                &kv["value"]["doubleValue"],
            )
        })
        .collect();
    assert_eq!(
        doubles,
        [
            ("nan", &serde_json::json!("NaN")),
            ("inf", &serde_json::json!("Infinity")),
            ("minus_inf", &serde_json::json!("-Infinity")),
        ]
    );
    let _ = std::fs::remove_file(&jsonl);
}

#[test]
fn binary_prints_log_records_and_appends_log_requests_as_otlp_json_lines() {
    let jsonl = temp_file("logs.jsonl");
    let running = Running::start(&[
        "--jsonl",
        jsonl.to_str().expect("path"),
        "--exit-on-stdin-eof",
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let first = rich_logs("logs-http", 2);
    let second = rich_logs("logs-grpc", 1);
    let traces = rich_request("traces-between", 1);
    runtime.block_on(async {
        let url = format!("http://{}/v1/logs", running.http);
        let json = serde_json::to_vec(&first).expect("JSON");
        let answer = post(&url, "application/json", Some("gzip"), gzip(&json)).await;
        assert_eq!(answer.status, StatusCode::OK);
        let url = format!("http://{}/v1/traces", running.http);
        assert_eq!(post_protobuf(&url, &traces).await.status, StatusCode::OK);
        let mut client = LogsServiceClient::connect(format!("http://{}", running.grpc))
            .await
            .expect("gRPC connect");
        client.export(second.clone()).await.expect("gRPC export");
    });

    let output = running.lines_until(|line| line.contains("logs-grpc"));
    let text = output.join("\n");
    assert!(
        text.contains("request http log_records=2 answer=ok"),
        "{text}"
    );
    assert!(
        text.contains("request grpc log_records=1 answer=ok"),
        "{text}"
    );
    assert!(text.contains("request http spans=1 answer=ok"), "{text}");
    // Service, time, severity, body, event, attributes, trace and span ids.
    let in_trace = output
        .iter()
        .find(|line| line.starts_with("  logs-http 2018-12-13T14:51:00.000000000Z WARN"))
        .unwrap_or_else(|| panic!("first record: {text}"));
    for part in [
        "\"disk almost full #0\"",
        "int=-9007199254740993",
        "kvlist={\"nested\": \"yes\"}",
        "trace=0102030405060708090a0b0c0d0e0f10",
        "span=a000000000000001",
    ] {
        assert!(in_trace.contains(part), "{part} in {in_trace}");
    }
    let outside = output
        .iter()
        .find(|line| line.starts_with("  logs-http 2018-12-13T14:51:00.000000001Z WARN"))
        .unwrap_or_else(|| panic!("second record: {text}"));
    assert!(outside.contains(" event=disk.full "), "{outside}");
    assert!(!outside.contains("trace="), "{outside}");

    // One request per line, in arrival order; `resourceLogs` or `resourceSpans`
    // says which signal a line holds.
    let content = std::fs::read_to_string(&jsonl).expect("jsonl file");
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines.len(), 3, "{content}");
    let log_lines: Vec<ExportLogsServiceRequest> = [lines[0], lines[2]]
        .iter()
        .map(|line| serde_json::from_str(line).expect("an OTLP/JSON log request"))
        .collect();
    assert_eq!(log_lines, vec![first, second]);
    let value: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    assert!(value.get("resourceLogs").is_some() && value.get("resourceSpans").is_none());
    let trace_line: ExportTraceServiceRequest =
        serde_json::from_str(lines[1]).expect("an OTLP/JSON trace request");
    assert_eq!(trace_line, traces);

    let rest = running.finish("stdin");
    assert_eq!(
        rest.last().map(String::as_str),
        Some(
            "final requests=3 accepted_requests=3 spans=1 log_records=3 data_points=0 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=0 jsonl_lost_lines=0"
        )
    );
    let _ = std::fs::remove_file(&jsonl);
}

#[test]
fn binary_count_only_counts_log_records() {
    let running = Running::start(&["--count-only", "--summary-every", "0.1"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/logs", running.http);
        let body = prost::Message::encode_to_vec(&rich_logs("count", 4));
        let answer = post(&url, "application/x-protobuf", None, body).await;
        assert_eq!(answer.status, StatusCode::OK);
    });
    running.lines_until(|line| line.starts_with("count ") && line.contains(" log_records=4 "));
    let rest = running.finish("-TERM");
    assert!(
        rest.last()
            .is_some_and(|line| line.contains(" spans=0 log_records=4 ")),
        "{rest:?}"
    );
}

#[test]
fn binary_prints_data_points_and_appends_metrics_requests_as_otlp_json_lines() {
    let jsonl = temp_file("metrics.jsonl");
    let running = Running::start(&[
        "--jsonl",
        jsonl.to_str().expect("path"),
        "--exit-on-stdin-eof",
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let first = rich_metrics("metrics-http", 2);
    let second = rich_metrics("metrics-grpc", 1);
    let logs = rich_logs("logs-between", 1);
    runtime.block_on(async {
        let url = format!("http://{}/v1/metrics", running.http);
        let json = serde_json::to_vec(&first).expect("JSON");
        let answer = post(&url, "application/json", Some("gzip"), gzip(&json)).await;
        assert_eq!(answer.status, StatusCode::OK);
        let url = format!("http://{}/v1/logs", running.http);
        let body = prost::Message::encode_to_vec(&logs);
        let answer = post(&url, "application/x-protobuf", None, body).await;
        assert_eq!(answer.status, StatusCode::OK);
        let mut client = MetricsServiceClient::connect(format!("http://{}", running.grpc))
            .await
            .expect("gRPC connect");
        client.export(second.clone()).await.expect("gRPC export");
    });

    let output = running.lines_until(|line| line.starts_with("  metrics-grpc gc.pause"));
    let text = output.join("\n");
    assert!(
        text.contains("request http data_points=10 answer=ok"),
        "{text}"
    );
    assert!(
        text.contains("request grpc data_points=5 answer=ok"),
        "{text}"
    );
    assert!(
        text.contains("request http log_records=1 answer=ok"),
        "{text}"
    );
    // One line per data point: service, name[unit], kind, value, attributes.
    let point_lines = output
        .iter()
        .filter(|line| line.starts_with("  metrics-http "))
        .count();
    assert_eq!(point_lines, 10, "{text}");
    for expected in [
        "  metrics-http queue.depth[{item}] gauge -2 point=1 string=\"text ünïcödé\"",
        "  metrics-http http.requests sum(cumulative, monotonic) 40 point=0 string=\"text ünïcödé\"",
        "  metrics-http http.duration[ms] histogram(delta) count=3 sum=12.5 min=1 max=8 bounds=[5, 10] buckets=[1, 2, 0] point=0 string=\"text ünïcödé\"",
        "  metrics-http rpc.duration[s] exponential_histogram(cumulative) count=4 sum=2.25 min=0 max=1.5 scale=3 zero_count=1 point=1 string=\"text ünïcödé\"",
        "  metrics-grpc gc.pause[s] summary count=10 sum=0.5 q0.5=0.25 q0.99=0.125 point=0 string=\"text ünïcödé\"",
    ] {
        assert!(
            output.iter().any(|line| line == expected),
            "{expected} in {text}"
        );
    }

    // One request per line, in arrival order; `resourceMetrics` says which
    // lines hold metrics.
    let content = std::fs::read_to_string(&jsonl).expect("jsonl file");
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines.len(), 3, "{content}");
    let metric_lines: Vec<ExportMetricsServiceRequest> = [lines[0], lines[2]]
        .iter()
        .map(|line| serde_json::from_str(line).expect("an OTLP/JSON metrics request"))
        .collect();
    assert_eq!(metric_lines, vec![first, second]);
    let value: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    assert!(value.get("resourceMetrics").is_some() && value.get("resourceLogs").is_none());
    let log_line: ExportLogsServiceRequest =
        serde_json::from_str(lines[1]).expect("an OTLP/JSON log request");
    assert_eq!(log_line, logs);

    let rest = running.finish("stdin");
    assert_eq!(
        rest.last().map(String::as_str),
        Some(
            "final requests=3 accepted_requests=3 spans=0 log_records=1 data_points=15 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=0 jsonl_lost_lines=0"
        )
    );
    let _ = std::fs::remove_file(&jsonl);
}

#[test]
fn binary_count_only_counts_data_points() {
    let running = Running::start(&["--count-only", "--summary-every", "0.1"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/metrics", running.http);
        let body = prost::Message::encode_to_vec(&rich_metrics("count", 4));
        let answer = post(&url, "application/x-protobuf", None, body).await;
        assert_eq!(answer.status, StatusCode::OK);
    });
    running.lines_until(|line| line.starts_with("count ") && line.contains(" data_points=20 "));
    let rest = running.finish("-TERM");
    assert!(
        rest.last()
            .is_some_and(|line| line.contains(" spans=0 log_records=0 data_points=20 ")),
        "{rest:?}"
    );
}

#[test]
fn binary_count_only_prints_counts_and_exits_on_sigterm() {
    let running = Running::start(&["--count-only", "--summary-every", "0.1"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/traces", running.http);
        for _ in 0..3 {
            assert_eq!(
                post_protobuf(&url, &rich_request("count", 4)).await.status,
                StatusCode::OK
            );
        }
        let json = serde_json::to_vec(&rich_request("count", 2)).expect("json");
        assert_eq!(
            post(&url, "application/json", Some("zstd"), zstd(&json))
                .await
                .status,
            StatusCode::OK
        );
    });
    let counts =
        running.lines_until(|line| line.starts_with("count ") && line.contains(" spans=14 "));
    assert!(
        counts.iter().all(|line| !line.starts_with("request ")),
        "no trees in count-only mode"
    );
    let rest = running.finish("-TERM");
    assert_eq!(
        rest.last().map(String::as_str),
        Some(
            "final requests=4 accepted_requests=4 spans=14 log_records=0 data_points=0 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=0"
        )
    );
}

#[test]
fn binary_answer_delay_answers_every_request_that_late() {
    // A slow collector for trying programs against: every answer, the first
    // one included, comes at least the delay after its request.
    let delay = std::time::Duration::from_millis(300);
    let running = Running::start(&["--count-only", "--answer-delay", "300ms"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/traces", running.http);
        for _ in 0..2 {
            let sent = std::time::Instant::now();
            let answer = post_protobuf(&url, &rich_request("slow", 3)).await;
            assert_eq!(answer.status, StatusCode::OK);
            // A lower bound only: the delay is the least an answer takes.
            assert!(sent.elapsed() >= delay, "{:?}", sent.elapsed());
        }
    });
    let rest = running.finish("-TERM");
    assert!(
        rest.last().is_some_and(|line| line.contains(" spans=6 ")),
        "{rest:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_signal_as_soon_as_it_listens_ends_the_run_with_the_final_line_and_status_0() {
    use rustix::process::{Pid, Signal, kill_process};
    // A script that starts the receiver, reads `listening` and stops it at
    // once: the signal, sent the moment the line is read, must be caught,
    // not kill the process before its handlers are in place.
    for signal in [Signal::INT, Signal::TERM, Signal::INT, Signal::TERM] {
        let mut running = Running::start(&[]);
        let pid = Pid::from_child(&running.child);
        kill_process(pid, signal).expect("kill");
        let rest = running.lines_until(|line| line.starts_with("final "));
        assert_eq!(
            rest,
            vec![
                "final requests=0 accepted_requests=0 spans=0 log_records=0 data_points=0 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=0"
            ],
            "{signal:?}"
        );
        let status = running.child.wait().expect("exit status");
        assert!(status.success(), "{signal:?}: {status:?}");
    }
}

#[test]
fn binary_rejects_bad_arguments_with_status_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
        .args(["--count-only", "--jsonl", "x.jsonl"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--count-only"));
    let help = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--exit-on-stdin-eof"));
    let version = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
        .arg("--version")
        .output()
        .expect("run");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        concat!("otlp-receiver ", env!("CARGO_PKG_VERSION"))
    );
    let typo = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
        .args(["--answer-delay", "200"])
        .output()
        .expect("run");
    assert_eq!(typo.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&typo.stderr);
    assert!(
        errors.contains("--answer-delay") && errors.contains("'200'"),
        "{errors}"
    );
}

/// The stderr of `otlp-receiver` run with `args`, after checking that it
/// exited 2 (bad usage) and printed nothing on stdout.
fn usage_error(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let errors = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {errors}");
    assert!(output.stdout.is_empty(), "{args:?}");
    errors
}

/// A word starting with `-` right after an option that takes a value is
/// that option's value, refused naming the option and the value: clap took
/// `--http -1` for an unknown option `-1` ("unexpected argument '-1'
/// found"), naming neither `--http` nor what was wrong with it. A file name
/// starting with `-` is refused too (more likely a mistyped option; `./-x`
/// names such a file).
#[test]
fn a_value_starting_with_a_dash_is_refused_as_that_options_value() {
    for (flag, value) in [
        ("--http", "-1"),
        ("--grpc", "-1"),
        ("--grpc", "-x"),
        ("--jsonl", "-x"),
        ("--tls-cert", "-1"),
        ("--tls-key", "-x"),
        ("--tls-client-ca", "-ca.pem"),
        ("--summary-every", "-1"),
        ("--max-request-bytes", "-5"),
        ("--threads", "-2"),
        ("--answer-delay", "-1s"),
        ("--request-head-timeout", "-1s"),
        ("--request-timeout", "-30s"),
    ] {
        let errors = usage_error(&[flag.as_ref(), value.as_ref()]);
        assert!(
            errors.contains(&format!("invalid value '{value}' for '{flag} <")),
            "{flag} {value}: {errors}"
        );
    }
}

/// An option whose value is missing, followed by another option, is still
/// an option without a value, not one whose value is the next option's name
/// (`--http --grpc x`: `--http` has none, whatever `--grpc` takes); a
/// mistyped one is still an unexpected argument, not a value.
#[test]
fn an_option_followed_by_another_option_has_no_value() {
    for args in [
        &["--http", "--grpc", "127.0.0.1:0"][..],
        &["--grpc", "--quiet"],
        &["--jsonl", "--quiet"],
        &["--threads", "--quiet"],
        &["--answer-delay", "--request-timeout=1s"],
        &["--http", "--"],
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
    let errors = usage_error(&["--http".as_ref(), "--gprc".as_ref(), "127.0.0.1:0".as_ref()]);
    assert!(
        errors.contains("unexpected argument '--gprc'") && errors.contains("'--grpc'"),
        "{errors}"
    );
}

/// A value that is not UTF-8 is refused naming the option, the value shown
/// with U+FFFD for what is not UTF-8: clap's own error ("invalid UTF-8 was
/// detected in one or more arguments") named neither.
#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_refused_naming_the_option() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    for flag in [
        "--grpc",
        "--http",
        "--summary-every",
        "--max-request-bytes",
        "--threads",
        "--answer-delay",
        "--request-head-timeout",
        "--request-timeout",
    ] {
        let value = OsString::from_vec(b"1\xff".to_vec());
        let errors = usage_error(&[flag.as_ref(), &value]);
        assert!(
            errors.contains(&format!("invalid value '1\u{FFFD}' for '{flag} <"))
                && errors.contains("UTF-8"),
            "{flag}: {errors}"
        );
        let inline = OsString::from_vec([flag.as_bytes(), b"=\xff"].concat());
        let errors = usage_error(&[&inline]);
        assert!(
            errors.contains(&format!("invalid value '\u{FFFD}' for '{flag} <")),
            "{flag}=: {errors}"
        );
    }
}

/// A stderr whose reader is gone loses the error message, not the exit
/// status: `eprintln!` panicked (101) where the receiver cannot start (1).
#[test]
fn a_start_failure_on_a_stderr_nobody_reads_still_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
        .args(["--grpc", &address])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // The reader goes away before the message is written: EPIPE.
    drop(child.stderr.take());
    let status = child.wait().expect("exit status");
    assert_eq!(status.code(), Some(1), "{status:?}");
    drop(taken);
}

#[test]
fn threads_beyond_the_most_exit_2_naming_the_flag_and_the_value() {
    // Each thread is started up front: a huge count must be a usage error,
    // not a failed allocation (a panic, or an abort).
    for threads in ["1025", "1000000000000", "18446744073709551615"] {
        let output = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--threads", threads])
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let errors = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{threads}: {errors}");
        assert!(
            errors.contains("--threads") && errors.contains(&format!("'{threads}'")),
            "{errors}"
        );
        assert!(output.stdout.is_empty(), "{threads}");
    }
}

/// A `Content-Length` is only the client's word: with the cap at its
/// largest, the receiver reserved the announced length before reading a
/// byte, and a request announcing 4 EiB aborted the process (`memory
/// allocation of 4611686018427387904 bytes failed`). It now reads the body
/// as it comes: the client gets its `100 Continue`, and the receiver goes on.
#[test]
fn a_huge_announced_length_under_the_largest_cap_is_not_reserved_up_front() {
    use std::io::{Read, Write};
    let running = Running::start(&[
        "--max-request-bytes",
        "18446744073709551615",
        "--quiet",
        "--exit-on-stdin-eof",
    ]);
    let mut stream = std::net::TcpStream::connect(&running.http).expect("connect");
    stream
        .set_read_timeout(Some(LINE_TIMEOUT))
        .expect("read timeout");
    let head = "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n\
                content-length: 4611686018427387904\r\nexpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buf).unwrap_or(0);
        assert!(
            read > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 100"), "{answer}");
    drop(stream);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = format!("http://{}/v1/traces", running.http);
    let response = runtime.block_on(post_protobuf(&url, &rich_request("after", 1)));
    assert_eq!(response.status, StatusCode::OK);
    let rest = running.finish("stdin");
    assert!(
        rest.last().is_some_and(|line| line.contains(" spans=1 ")),
        "{rest:?}"
    );
}

/// A start failure says which flag and which value it comes from: a port in
/// use named the transport (`grpc`), not `--grpc`, and a `--jsonl` file that
/// cannot be opened only its path.
#[test]
fn start_failures_name_the_flag_and_its_value() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let jsonl = std::env::temp_dir()
        .join(format!("otlp-receiver-{}-no-such-dir", std::process::id()))
        .join("requests.jsonl");
    let jsonl = jsonl.to_str().expect("path");
    let not_pem = temp_file("not-pem.pem");
    std::fs::write(&not_pem, "not PEM\n").expect("write");
    let not_pem = not_pem.to_str().expect("path");
    for (args, flag, value) in [
        (vec!["--grpc", address.as_str()], "--grpc", address.as_str()),
        (vec!["--http", address.as_str()], "--http", address.as_str()),
        (
            vec!["--http", "127.0.0.1:0", "--jsonl", jsonl],
            "--jsonl",
            jsonl,
        ),
        (
            vec![
                "--http",
                "127.0.0.1:0",
                "--tls-cert",
                jsonl,
                "--tls-key",
                jsonl,
            ],
            "--tls-cert",
            jsonl,
        ),
        (
            vec![
                "--http",
                "127.0.0.1:0",
                "--tls-cert",
                not_pem,
                "--tls-key",
                not_pem,
            ],
            "--tls-cert",
            not_pem,
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let errors = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert!(
            errors.contains(&format!("{flag} {value}")),
            "{args:?}: {errors}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let _ = std::fs::remove_file(not_pem);
    drop(taken);
}

/// `--request-timeout`: a request whose body does not come in time gets a
/// 408, a request answered in time is counted as before, and the summary
/// counts the one cut in `timed_out_requests`.
#[test]
fn the_request_timeout_flag_cuts_a_request_without_its_body_and_the_summary_counts_it() {
    use std::io::{Read, Write};

    let running = Running::start(&["--request-timeout", "1s", "--exit-on-stdin-eof", "--quiet"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!("http://{}/v1/traces", running.http);
        let response = post_protobuf(&url, &rich_request("in-time", 2)).await;
        assert_eq!(response.status, StatusCode::OK);
    });
    let mut stream = std::net::TcpStream::connect(&running.http).expect("connect");
    stream
        .set_read_timeout(Some(LINE_TIMEOUT))
        .expect("read timeout");
    stream
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 100\r\n\r\n",
        )
        .expect("head");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("closed after its answer");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");

    let rest = running.finish("stdin");
    let last = rest.last().expect("final line");
    assert_eq!(
        last,
        "final requests=2 accepted_requests=1 spans=2 log_records=0 data_points=0 faulted_requests=0 bad_requests=0 abandoned_requests=0 timed_out_requests=1"
    );
}
