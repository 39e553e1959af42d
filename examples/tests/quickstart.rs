//! The quickstart delivers every span and every log record to the embedded
//! receiver over each protocol, its summary says so, and its log records
//! carry the trace and span ids of the spans they were emitted in.

use otlp_examples::quickstart::{Options, run_with};
use otlp_sdk::config::ConfigLoader;

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
        assert_eq!(record.flags & 0xff, 1, "sampled, as the span");
    }
}
