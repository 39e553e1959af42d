//! The quickstart delivers every span to the embedded receiver over each
//! protocol, and its summary says so.

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
        // The sample trace is one request: a server span and its four children.
        let tree = report.sample_trace.expect("a sample trace");
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
