//! The default features of otlp-contrib are what a service runs with: its
//! dependency graph has the pipeline and the `opentelemetry` bridge, and none
//! of the test and tool pieces (`proptest`, `rcgen`, hyper's server side,
//! `clap`). `cargo tree` over the workspace's `Cargo.lock` says so, offline.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Every crate of the normal (not dev, not build) dependency graph of
/// otlp-contrib with its default features, with the features it is built with.
fn default_graph() -> BTreeMap<String, BTreeSet<String>> {
    graph_of(&[])
}

/// The same graph with `--no-default-features` and `features` alone.
fn graph_with_only(features: &str) -> BTreeMap<String, BTreeSet<String>> {
    graph_of(&["--no-default-features", "--features", features])
}

/// The graph `cargo tree` lists for otlp-contrib with the feature flags `selection`.
fn graph_of(selection: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--package", "otlp-contrib"])
        .args(selection)
        .args([
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
            "--locked",
            "--offline",
            "--color",
            "never",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut graph = BTreeMap::<String, BTreeSet<String>>::new();
    // `name vX.Y.Z (path)? [feature,feature]`, then ` (*)` when seen before.
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let features = line
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(list, _)| list)
            .unwrap_or_default();
        graph.entry(name.to_owned()).or_default().extend(
            features
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    }
    graph
}

#[test]
fn default_features_bring_no_test_or_tool_dependency() {
    let graph = default_graph();
    let features_of = |name: &str| graph.get(name).cloned().unwrap_or_default();
    let ours = features_of("otlp-contrib");
    // What the defaults are for, so that an empty or failed listing cannot pass.
    for wanted in ["pipeline", "opentelemetry-bridge"] {
        assert!(ours.contains(wanted), "{wanted} is not a default: {ours:?}");
    }
    for wanted in [
        "opentelemetry_sdk",
        "otlp-exporter-grpc",
        "otlp-exporter-http",
    ] {
        assert!(
            graph.contains_key(wanted),
            "{wanted} is missing: {graph:#?}"
        );
    }
    for opt_in in [
        "receiver",
        "test-certs",
        "testing",
        "fuzzing",
        "metrics-server",
        "tools",
    ] {
        assert!(
            !ours.contains(opt_in),
            "feature {opt_in} of otlp-contrib is on by default: {ours:?}"
        );
    }
    for unwanted in ["proptest", "rcgen", "clap"] {
        assert!(
            !graph.contains_key(unwanted),
            "{unwanted} is in the default dependency graph of otlp-contrib: \
             a service that adds otlp-contrib would build it"
        );
    }
    for server in ["hyper", "hyper-util"] {
        let features = features_of(server);
        assert!(
            !features.contains("server"),
            "{server} is built with its server side by default: {features:?}"
        );
    }
}

/// `testing` is a reference conversion into `opentelemetry-proto`'s messages:
/// it needs the messages (prost), not the gRPC services and client that
/// tonic generates for the receiver.
#[test]
fn testing_alone_brings_the_proto_messages_without_tonic() {
    let graph = graph_with_only("testing");
    assert!(
        graph.contains_key("opentelemetry-proto") && graph.contains_key("prost"),
        "the proto messages are missing: {graph:#?}"
    );
    for grpc in ["tonic", "tonic-prost", "h2", "hyper", "tower"] {
        assert!(
            !graph.contains_key(grpc),
            "{grpc} is in the graph of otlp-contrib with `testing` alone: {:?}",
            graph.get("opentelemetry-proto")
        );
    }
}
