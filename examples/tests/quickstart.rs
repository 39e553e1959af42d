//! The quickstart delivers every span, every log record and every metric
//! data point to the embedded receiver over each protocol, its summary says
//! so, its log records carry the trace and span ids of the spans they were
//! emitted in, and its metrics count and time every request.

use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
use otlp_examples::quickstart::{Options, run_with};
use otlp_sdk::config::ConfigLoader;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn every_span_reaches_the_embedded_receiver_over_each_protocol() {
    for protocol in ["http/protobuf", "grpc", "http/json"] {
        let loader = ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]);
        let report = run_with(&Options { spans: 2_003 }, loader).expect("the quickstart runs");
        assert!(report.embedded);
        assert_eq!(report.protocol, protocol);
        assert_eq!(report.stats.produced, 2_003, "{report}");
        assert!(report.all_delivered(), "{report}");
        assert_eq!(report.received, Some(2_003));
        let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
        assert_eq!(summary["produced"], 2_003);
        assert_eq!(summary["received"], 2_003);
        assert_eq!(summary["dropped"], 0);
        assert_eq!(summary["spans"]["produced"], 2_003);
        assert_eq!(summary["spans"]["received"], 2_003);
        // 401 requests, each counted and timed; one export, at shutdown: the
        // counter's and the histogram's one series.
        assert_eq!(summary["metrics"]["recordings"], 802, "{summary}");
        assert_eq!(summary["metrics"]["data_points_exported"], 2, "{summary}");
        assert_eq!(summary["metrics"]["data_points_received"], 2, "{summary}");
        assert_eq!(summary["metrics"]["data_points_failed"], 0, "{summary}");
        assert_eq!(summary["metrics"]["data_points_rejected"], 0, "{summary}");
        assert_eq!(summary["all_delivered"], true);
        // The sample trace is one request: a server span and its four children.
        let tree = report.sample_trace.as_ref().expect("a sample trace");
        assert!(tree.contains("GET /checkout/{cart}"), "{tree}");
        assert_eq!(
            tree.lines()
                .filter(|line| line.contains("quickstart"))
                .count(),
            5,
            "{tree}"
        );
    }
}

#[test]
fn every_log_record_reaches_the_embedded_receiver_and_the_summary_counts_it() {
    for protocol in ["http/protobuf", "grpc"] {
        let loader = ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]);
        let report = run_with(&Options { spans: 1_001 }, loader).expect("the quickstart runs");
        // 201 requests: one record in each server span, one in each of the
        // 200 complete requests' authentication span (the last has no child).
        let logs = &report.log_stats;
        assert_eq!(logs.produced, 401, "{report}");
        assert!(report.all_delivered(), "{report}");
        assert_eq!(report.received_logs, Some(401), "{report}");
        let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
        let produced = summary["logs"]["produced"].as_u64().unwrap();
        assert!(produced > 0, "{summary}");
        assert_eq!(summary["logs"]["exported"], produced, "{summary}");
        assert_eq!(summary["logs"]["received"], produced, "{summary}");
        assert_eq!(summary["logs"]["dropped"], 0, "{summary}");
        for signal in ["spans", "logs"] {
            let bytes = &summary[signal]["bytes"];
            let produced = bytes["produced"].as_u64().unwrap_or_default();
            assert!(produced > 0, "{signal}: {summary}");
            assert_eq!(bytes["answered"], produced, "{signal}: {summary}");
            assert_eq!(bytes["unsettled"], 0, "{signal}: {summary}");
        }
        assert!(
            report.to_string().contains("log records   401 produced"),
            "{report}"
        );
        let lines = report
            .sample_logs
            .as_ref()
            .expect("the sample trace's logs");
        assert!(lines.contains("checkout started"), "{lines}");
        assert!(lines.contains("authenticated"), "{lines}");
    }
}

#[test]
fn every_request_is_counted_and_timed_in_the_metrics_received() {
    for protocol in ["http/protobuf", "grpc", "http/json"] {
        let loader = ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]);
        let report = run_with(&Options { spans: 1_000 }, loader).expect("the quickstart runs");
        assert!(report.all_delivered(), "{report}");
        assert_eq!(report.recordings, 400, "{report}");
        let stats = &report.metric_stats;
        assert_eq!(stats.exported_data_points, 2, "{stats:?}");
        assert_eq!(report.received_data_points, Some(2), "{report}");
        assert!(report.metrics_endpoint.ends_with("/v1/metrics") || protocol == "grpc");
        let text = report.to_string();
        assert!(
            text.contains(
                "metrics       400 recordings, 2 data points produced, 2 exported, 0 failed"
            ),
            "{text}"
        );
        assert!(text.contains("received      2 data points"), "{text}");
        assert!(text.contains("quickstart.requests"), "{text}");

        let received = report.metrics_received.as_ref().expect("the metrics");
        let metrics: Vec<_> = received
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .collect();
        let requests = metrics
            .iter()
            .find(|metric| metric.name == "quickstart.requests")
            .expect("the request counter");
        let Some(Data::Sum(sum)) = &requests.data else {
            panic!("a sum: {requests:?}");
        };
        assert_eq!(sum.data_points.len(), 1);
        let point = &sum.data_points[0];
        assert_eq!(point.value, Some(Value::AsInt(200)), "{point:?}");
        assert_eq!(point.attributes.len(), 1);
        assert_eq!(point.attributes[0].key, "http.route");
        // Recorded inside sampled server spans: the exemplar names a trace.
        assert!(
            point
                .exemplars
                .iter()
                .any(|exemplar| exemplar.trace_id.len() == 16),
            "{point:?}"
        );
        let duration = metrics
            .iter()
            .find(|metric| metric.name == "quickstart.request.duration")
            .expect("the duration histogram");
        assert_eq!(duration.unit, "ms");
        let Some(Data::Histogram(histogram)) = &duration.data else {
            panic!("a histogram: {duration:?}");
        };
        assert_eq!(histogram.data_points[0].count, 200);
    }
}

#[test]
fn the_metrics_go_to_the_configured_collector_and_count_in_all_delivered() {
    // An external collector: the same endpoint for the three signals.
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.grpc_endpoint().unwrap();
    let loader = ConfigLoader::new().with_env([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    let report = run_with(&Options { spans: 100 }, loader).expect("the quickstart runs");
    assert!(!report.embedded);
    assert!(report.all_delivered(), "{report}");
    assert_eq!(report.received_data_points, None);
    assert_eq!(report.metric_stats.exported_data_points, 2);
    assert!(receiver.wait_for_data_points(2, std::time::Duration::from_secs(5)));
    assert_eq!(receiver.data_point_count(), 2);
    assert_eq!(receiver.span_count(), 100);
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    assert_eq!(summary["metrics"]["recordings"], 40, "{summary}");
    assert_eq!(summary["metrics"]["data_points_exported"], 2, "{summary}");
    assert!(
        summary["metrics"].get("data_points_received").is_none(),
        "{summary}"
    );

    // Metrics that cannot be delivered make the run fail, spans or not.
    let (_held, port) = refusing_port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let loader = ConfigLoader::new().with_env([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            receiver.http_endpoint().unwrap(),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("{nowhere}/v1/metrics"),
        ),
        ("OTLP__RETRY__ENABLED", "false".to_owned()),
    ]);
    let report = run_with(&Options { spans: 100 }, loader).expect("the quickstart runs");
    assert_eq!(receiver.span_count(), 100, "{report}");
    assert_eq!(report.metric_stats.failed_data_points, 2, "{report}");
    assert!(!report.all_delivered(), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    assert_eq!(summary["metrics"]["data_points_failed"], 2, "{summary}");
    assert_eq!(summary["all_delivered"], false, "{summary}");
}

#[test]
fn a_signals_own_endpoint_sends_that_signal_alone_and_the_others_stay_embedded() {
    // Before, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT alone sent the log records
    // and metrics to the default endpoint (localhost:4318), where nothing
    // listened: the run failed after retrying for the shutdown deadline,
    // while the logs or metrics endpoint alone left the others embedded.
    for (variable, path) in [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics"),
    ] {
        let collector = Receiver::start(ReceiverConfig::default()).unwrap();
        let endpoint = format!("{}{path}", collector.http_endpoint().unwrap());
        let loader = ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([(variable, endpoint.as_str())]);
        let report = run_with(&Options { spans: 50 }, loader).expect("the quickstart runs");
        assert!(report.all_delivered(), "{variable}: {report}");
        let traces = variable.contains("TRACES");
        let logs = variable.contains("LOGS");
        let metrics = variable.contains("METRICS");
        // The named signal went to the collector, the others to the embedded receiver.
        assert_eq!(report.embedded, !traces, "{variable}: {report}");
        assert_eq!(
            report.received,
            (!traces).then_some(50),
            "{variable}: {report}"
        );
        assert_eq!(
            report.received_logs,
            (!logs).then_some(20),
            "{variable}: {report}"
        );
        assert_eq!(
            report.received_data_points,
            (!metrics).then_some(2),
            "{variable}: {report}"
        );
        let (spans, records, points) = (
            if traces { 50 } else { 0 },
            if logs { 20 } else { 0 },
            if metrics { 2 } else { 0 },
        );
        assert!(
            collector.wait_until(Duration::from_secs(5), |stats| {
                stats.accepted_spans >= spans
                    && stats.accepted_log_records >= records
                    && stats.accepted_data_points >= points
            }),
            "{variable}: {:?}",
            collector.stats()
        );
        assert_eq!(
            (
                collector.span_count(),
                collector.log_record_count(),
                collector.data_point_count()
            ),
            (spans, records, points),
            "{variable}"
        );
    }
}

#[test]
fn with_every_span_sampled_out_the_report_draws_no_empty_sample_trace() {
    // The log records still carry the ids of the spans sampled out, so the
    // receiver keeps their trace; before, the report drew it: a heading,
    // "A sample trace, as the receiver got it:", over nothing.
    let loader = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_SAMPLER", "always_off")]);
    let report = run_with(&Options { spans: 20 }, loader).expect("the quickstart runs");
    assert_eq!(report.stats.produced, 0, "{report}");
    assert!(report.all_delivered(), "{report}");
    assert_eq!(report.sample_trace, None, "{report}");
    let text = report.to_string();
    assert!(!text.contains("A sample trace"), "{text}");
    // Its log records are shown, with the ids they carry.
    assert!(text.contains("Its log records"), "{text}");
}

#[test]
fn a_received_log_record_carries_a_received_span_s_ids() {
    let loader = ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
    let report = run_with(&Options { spans: 50 }, loader).expect("the quickstart runs");
    assert!(report.all_delivered(), "{report}");
    let spans = report
        .sample_spans_received
        .as_ref()
        .expect("a sample trace");
    let spans: Vec<_> = spans
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .collect();
    assert_eq!(spans.len(), 5);
    let logs = report
        .sample_logs_received
        .as_ref()
        .expect("its log records");
    let records: Vec<_> = logs
        .resource_logs
        .iter()
        .flat_map(|resource| &resource.scope_logs)
        .flat_map(|scope| &scope.log_records)
        .collect();
    assert_eq!(records.len(), 2, "{logs:?}");
    for record in records {
        let span = spans
            .iter()
            .find(|span| span.span_id == record.span_id)
            .unwrap_or_else(|| panic!("no received span has the id of {record:?}"));
        assert_eq!(record.trace_id, span.trace_id);
        // The span's W3C trace flags: sampled, and random (a root of the
        // tracer, or its child).
        assert_eq!(record.flags & 0xff, span.flags & 0xff, "as the span's");
        assert_eq!(record.flags & 0xff, 0x03, "sampled and random");
    }
}

#[test]
fn a_signal_turned_off_records_nothing_and_the_others_still_reach_the_receiver() {
    let loader = ConfigLoader::new().with_env([
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]);
    let report = run_with(&Options { spans: 100 }, loader).expect("the quickstart runs");
    assert!(!report.embedded, "no span goes to the receiver: {report}");
    assert_eq!(report.endpoint, "none");
    assert_eq!((report.stats.produced, report.received), (0, None));
    assert_eq!(report.metric_stats.exported_data_points, 0, "{report}");
    assert_eq!(report.metrics_endpoint, "none");
    // Log records are on: emitted outside any recorded span, still delivered.
    assert_eq!(report.log_stats.produced, 40, "{report}");
    assert_eq!(report.received_logs, Some(40), "{report}");
    assert!(report.all_delivered(), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    assert_eq!(summary["metrics"]["recordings"], 0, "{summary}");
    assert_eq!(summary["all_delivered"], true, "{summary}");
}

/// `OTEL_SDK_DISABLED=true` turns every signal off, as `OTEL_*_EXPORTER=none`
/// does each: the report says `none` for each, starts no receiver and counts
/// nothing received. It named an embedded receiver's endpoint "over
/// http/protobuf" and said it "received 0" of what was never sent there.
#[test]
fn with_the_sdk_disabled_the_report_names_no_endpoint_and_no_receiver() {
    let loader = ConfigLoader::new().with_env([("OTEL_SDK_DISABLED", "true")]);
    let report = run_with(&Options { spans: 100 }, loader).expect("the quickstart runs");
    assert_eq!(report.stats.produced, 0, "{report}");
    assert!(!report.embedded, "{report}");
    assert_eq!(report.protocol, "", "{report}");
    for endpoint in [
        &report.endpoint,
        &report.logs_endpoint,
        &report.metrics_endpoint,
    ] {
        assert_eq!(endpoint, "none", "{report}");
    }
    assert_eq!(
        (
            report.received,
            report.received_logs,
            report.received_data_points
        ),
        (None, None, None),
        "{report}"
    );
    assert!(!report.to_string().contains("127.0.0.1"), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    assert!(summary.get("received").is_none(), "{summary}");
}

#[test]
fn the_summary_counts_add_up_when_the_backend_rejects_some_records() {
    // A backend that takes each request but rejects one of its records
    // (OTLP partial success): the summary must say where each one went.
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    receiver.set_fallback_fault(Some(Fault::PartialSuccess {
        rejected: 1,
        message: "one record refused".into(),
    }));
    let loader = ConfigLoader::new().with_env([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            receiver.grpc_endpoint().unwrap(),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
    ]);
    let report = run_with(&Options { spans: 100 }, loader).expect("the quickstart runs");
    assert!(!report.all_delivered(), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    let count = |signal: &serde_json::Value, key: &str| {
        signal[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {summary}"))
    };
    for name in ["spans", "logs"] {
        let signal = &summary[name];
        let settled = ["exported", "dropped", "failed", "rejected", "unsettled"]
            .iter()
            .map(|key| count(signal, key))
            .sum::<u64>();
        assert_eq!(settled, count(signal, "produced"), "{name}: {summary}");
        assert!(count(signal, "rejected") > 0, "{name}: {summary}");
    }
    // The top level keeps the span counts.
    assert_eq!(
        summary["rejected"], summary["spans"]["rejected"],
        "{summary}"
    );
    assert_eq!(summary["unsettled"], 0, "{summary}");
    assert_eq!(summary["all_delivered"], false, "{summary}");
}

#[test]
fn against_a_collector_that_never_answers_the_run_ends_within_one_shutdown_deadline() {
    // Each pipeline may take this long to shut down; one after another, the
    // three took three times as long (90 s with the default 30 s).
    const DEADLINE: Duration = Duration::from_secs(8);
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    receiver.set_fallback_fault(Some(Fault::Hang));
    let deadline = DEADLINE.as_millis().to_string();
    let loader = ConfigLoader::new().with_env([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            receiver.http_endpoint().unwrap(),
        ),
        // No request gives up before its pipeline's deadline.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000".to_owned()),
        // Spans and log records are exported by the shutdown, as metrics
        // are (their interval is 60 s): each shutdown waits its deadline.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "600000".to_owned()),
        ("OTEL_BSP_EXPORT_TIMEOUT", deadline.clone()),
        ("OTEL_BLRP_EXPORT_TIMEOUT", deadline.clone()),
        ("OTEL_METRIC_EXPORT_TIMEOUT", deadline),
    ]);
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let report = run_with(&Options { spans: 100 }, loader).map_err(|e| e.to_string());
        let _ = done.send(report);
    });
    // Together they end by one deadline; one by one, by three. The test's
    // bound sits between, with a deadline to spare either way.
    let report = finished
        .recv_timeout(DEADLINE * 2)
        .expect("the run ends within one shutdown deadline, not three")
        .expect("the quickstart runs");
    // Each pipeline tried: a request of each signal reached the collector.
    let stats = receiver.stats();
    assert!(stats.faulted_spans > 0, "{stats:?}");
    assert!(stats.faulted_log_records > 0, "{stats:?}");
    assert!(stats.faulted_data_points > 0, "{stats:?}");
    // Nothing was delivered, and every record is accounted for.
    assert!(!report.all_delivered(), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    for name in ["spans", "logs"] {
        let signal = &summary[name];
        assert_eq!(signal["exported"], 0, "{name}: {summary}");
        let settled: u64 = ["exported", "dropped", "failed", "rejected", "unsettled"]
            .iter()
            .map(|key| signal[key].as_u64().unwrap_or_else(|| panic!("{key}")))
            .sum();
        assert_eq!(
            Some(settled),
            signal["produced"].as_u64(),
            "{name}: {summary}"
        );
    }
    assert_eq!(report.stats.produced, 100, "{report}");
    assert_eq!(summary["metrics"]["data_points_exported"], 0, "{summary}");
    assert_eq!(summary["all_delivered"], false, "{summary}");
}

/// A loopback port that refuses connections while the returned socket
/// lives: bound there and never listening, no other socket gets the port.
/// A listener's port, bound and dropped, could be taken meanwhile by a
/// receiver (this test's or another's), which then accepted what was meant
/// to be lost.
fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("a free port");
    let port = socket.local_addr().expect("its address").port();
    (socket, port)
}

/// A password in a configured endpoint (`https://user:password@host`) goes
/// to the collector as HTTP Basic authorization and shows nowhere in the
/// report: not in its text, its JSON summary nor its `Debug` output.
#[test]
fn a_password_in_the_endpoint_shows_in_no_part_of_the_report() {
    for protocol in ["http/protobuf", "grpc"] {
        let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
        let endpoint = match protocol {
            "grpc" => receiver.grpc_endpoint(),
            _ => receiver.http_endpoint(),
        }
        .unwrap()
        .replace("http://", "http://user:s3cret@");
        let loader = ConfigLoader::new().with_env([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ]);
        let report = run_with(&Options { spans: 10 }, loader).expect("the quickstart runs");
        assert!(report.all_delivered(), "{protocol}: {report}");
        for shown in [
            report.to_string(),
            report.json_summary(),
            format!("{report:?}"),
        ] {
            assert!(!shown.contains("s3cret"), "{protocol}: {shown}");
        }
        assert!(
            report.endpoint.contains("<redacted>@127.0.0.1"),
            "{}",
            report.endpoint
        );
    }
}

/// The metrics count what the reader handed to export, as spans and log
/// records count what was produced: `data_points_produced` is the sum of the
/// other four, in the summary and on the report's line. The summary had no
/// `data_points_produced`, and the line said only "2 data points exported".
#[test]
fn the_metrics_count_the_data_points_produced_as_spans_and_logs_count_theirs() {
    let loader = ConfigLoader::new().with_config_dir("no-such-dir");
    let report = run_with(&Options { spans: 100 }, loader).expect("the quickstart runs");
    assert!(report.all_delivered(), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    let metrics = &summary["metrics"];
    assert_eq!(metrics["data_points_produced"], 2, "{summary}");
    let settled: u64 = [
        "data_points_exported",
        "data_points_failed",
        "data_points_rejected",
        "data_points_unsettled",
    ]
    .iter()
    .map(|key| {
        metrics[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {summary}"))
    })
    .sum();
    assert_eq!(
        Some(settled),
        metrics["data_points_produced"].as_u64(),
        "{summary}"
    );
    // The three lines give the same account, in the same order, each with
    // what is still unsettled.
    let text = report.to_string();
    for line in [
        "spans         100 produced, 100 exported, 0 dropped, 0 failed, 0 rejected, 0 unsettled",
        "log records   40 produced, 40 exported, 0 dropped, 0 failed, 0 rejected, 0 unsettled",
        "metrics       40 recordings, 2 data points produced, 2 exported, 0 failed, 0 rejected, 0 unsettled",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
}

/// Each signal has its own protocol (`OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`,
/// `…_METRICS_…`): the log records' and metrics' lines name theirs, as the
/// spans' destination line does. They named only an endpoint, and
/// `http://…/v1/logs` reads the same over http/protobuf and http/json.
#[test]
fn each_signal_s_line_names_the_protocol_it_went_over() {
    let loader = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ]);
    let report = run_with(&Options { spans: 10 }, loader).expect("the quickstart runs");
    assert!(report.all_delivered(), "{report}");
    let text = report.to_string();
    let line = |start: &str| {
        text.lines()
            .find(|line| line.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line: {text}"))
            .to_owned()
    };
    assert!(
        line("exported to").contains(" over grpc (embedded receiver)"),
        "{text}"
    );
    assert!(
        line("log records").contains("/v1/logs over http/json)"),
        "{text}"
    );
    assert!(
        line("metrics").contains("/v1/metrics over http/protobuf)"),
        "{text}"
    );
    // A signal not sent over OTLP has no protocol to name.
    let loader = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_LOGS_EXPORTER", "none")]);
    let report = run_with(&Options { spans: 10 }, loader).expect("the quickstart runs");
    let text = report.to_string();
    assert!(text.contains("0 unsettled (to none)\n"), "{text}");
}

/// With every signal off — the SDK disabled, each exporter `none`, or the
/// spans sampled out and the other two `none` — nothing is sent: the report
/// says so first, and why, and the summary has `"nothing_sent": true`. It
/// printed zeros under "exported to none" and `"all_delivered": true`, and
/// read like a run that delivered.
#[test]
fn with_nothing_to_send_the_report_says_nothing_was_sent_and_why() {
    for (env, why) in [
        (
            &[("OTEL_SDK_DISABLED", "true")][..],
            &["the SDK is disabled (OTEL_SDK_DISABLED=true)"][..],
        ),
        (
            &[
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
            &[
                "OTEL_TRACES_EXPORTER=none",
                "OTEL_LOGS_EXPORTER=none",
                "OTEL_METRICS_EXPORTER=none",
            ],
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "always_off"),
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
            &[
                "every span was sampled out (OTEL_TRACES_SAMPLER=always_off)",
                "OTEL_LOGS_EXPORTER=none",
                "OTEL_METRICS_EXPORTER=none",
            ],
        ),
    ] {
        let loader = ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env(env.iter().copied());
        let report = run_with(&Options { spans: 20 }, loader).expect("the quickstart runs");
        let text = report.to_string();
        // Right under the title, before the counts.
        let said = text.lines().nth(1).unwrap_or_default();
        assert!(said.starts_with("  nothing sent  "), "{env:?}: {text}");
        for reason in why {
            assert!(said.contains(reason), "{env:?}: {reason}: {text}");
        }
        let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
        assert_eq!(summary["nothing_sent"], true, "{env:?}: {summary}");
        // Nothing undelivered: the exit status stays 0.
        assert_eq!(summary["all_delivered"], true, "{env:?}: {summary}");
    }

    // One signal on is something sent.
    let loader = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ]);
    let report = run_with(&Options { spans: 20 }, loader).expect("the quickstart runs");
    assert!(!report.to_string().contains("nothing sent"), "{report}");
    let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
    assert_eq!(summary["nothing_sent"], false, "{summary}");
}

/// A signal turned off by a configuration file is said to be turned off by
/// the file's key, not by an `OTEL_*` variable nobody set; one turned off by
/// a variable still names the variable. The reasons named
/// `OTEL_TRACES_EXPORTER=none`, `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_SAMPLER` whatever had done it.
#[test]
fn nothing_sent_names_the_file_key_or_the_variable_that_turned_each_signal_off() {
    let dir =
        std::env::temp_dir().join(format!("otlp-examples-nothing-sent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("default.yaml");
    let path = file.display().to_string();
    for (yaml, env, said, unsaid) in [
        (
            "exporter:\n  kind: none\n",
            &[][..],
            vec![
                format!("spans are turned off (exporter.kind=none in {path})"),
                format!("log records are turned off (exporter.kind=none in {path})"),
                format!("metrics are turned off (exporter.kind=none in {path})"),
            ],
            "OTEL_",
        ),
        (
            "service:\n  disabled: true\n",
            &[],
            vec![format!(
                "the SDK is disabled (service.disabled=true in {path})"
            )],
            "OTEL_",
        ),
        (
            "sampler:\n  name: always_off\nlogs:\n  exporter:\n    kind: none\n",
            &[("OTEL_METRICS_EXPORTER", "none")],
            vec![
                format!("every span was sampled out (sampler.name=always_off in {path})"),
                format!("log records are turned off (logs.exporter.kind=none in {path})"),
                "metrics are turned off (OTEL_METRICS_EXPORTER=none)".to_owned(),
            ],
            "OTEL_LOGS_EXPORTER",
        ),
    ] {
        std::fs::write(&file, yaml).expect("write the configuration file");
        let loader = ConfigLoader::new()
            .with_file(&file)
            .with_env(env.iter().copied());
        let report = run_with(&Options { spans: 20 }, loader).expect("the quickstart runs");
        let why = report.nothing_sent.as_deref().unwrap_or_default();
        for reason in &said {
            assert!(
                why.contains(reason.as_str()),
                "{yaml}{env:?}: {reason}: {why}"
            );
        }
        assert!(!why.contains(unsaid), "{yaml}{env:?}: {why}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
