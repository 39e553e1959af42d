//! The default features of otlp-contrib are what a service runs with: its
//! dependency graph has the pipeline and the `opentelemetry` bridge, and none
//! of the test and tool pieces (`proptest`, `rcgen`, hyper's and tonic's
//! server side, `clap`, `opentelemetry-proto`), nor the opt-in front doors
//! (`log`, `metrics-recorder`); its direct dependencies are a fixed list, so
//! that a new one is added on purpose. `cargo tree` over the workspace's
//! `Cargo.lock` says so, offline.

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
    let mut arguments = selection.to_vec();
    arguments.extend(["--format", "{p} [{f}]"]);
    let output = cargo_tree(&arguments);
    let mut graph = BTreeMap::<String, BTreeSet<String>>::new();
    // `name vX.Y.Z (path)? [feature,feature]`, then ` (*)` when seen before.
    for line in output.lines() {
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
    // Every feature the manifest and the README call opt-in.
    for opt_in in [
        "receiver",
        "test-certs",
        "testing",
        "fuzzing",
        "metrics-server",
        "tools",
        "log",
        "metrics-recorder",
    ] {
        assert!(
            !ours.contains(opt_in),
            "feature {opt_in} of otlp-contrib is on by default: {ours:?}"
        );
    }
    // What only the opt-in features bring: a test, tool or receiver crate,
    // or a front door a service asks for by name.
    for unwanted in [
        "proptest",
        "rcgen",
        "clap",
        "opentelemetry-proto",
        "metrics",
    ] {
        assert!(
            !graph.contains_key(unwanted),
            "{unwanted} is in the default dependency graph of otlp-contrib: \
             a service that adds otlp-contrib would build it"
        );
    }
    // Server sides, and what only the tools use.
    for (crate_name, server) in [
        ("hyper", "server"),
        ("hyper-util", "server"),
        ("tonic", "server"),
        ("tonic", "router"),
        // The tools' SIGINT and SIGTERM handlers.
        ("tokio", "signal"),
    ] {
        let features = features_of(crate_name);
        assert!(
            !features.contains(server),
            "{crate_name} is built with its `{server}` feature by default: {features:?}"
        );
    }
    // A crate the defaults link directly is a choice made here, not a
    // side effect: a new one (and with it whatever it brings) must be added
    // to this list on purpose.
    let direct = direct_dependencies();
    let expected: BTreeSet<String> = [
        "bytes",
        "dashmap",
        "http",
        "opentelemetry",
        "opentelemetry_sdk",
        "otlp-core",
        "otlp-exporter-grpc",
        "otlp-exporter-http",
        "otlp-sdk",
        "thiserror",
        "tokio",
        "tracing",
        "tracing-core",
        "tracing-subscriber",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        direct, expected,
        "the direct dependencies of otlp-contrib with its default features changed"
    );
}

/// The crates otlp-contrib with its default features depends on directly
/// (normal dependencies).
fn direct_dependencies() -> BTreeSet<String> {
    let output = cargo_tree(&["--depth", "1", "--format", "{p}"]);
    output
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "otlp-contrib")
        .map(str::to_owned)
        .collect()
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

/// The configuration file formats (otlp-sdk's `yaml` and `toml`: serde_norway,
/// toml) come with what loads a configuration for the program: the bridge's
/// `from_env()` and the tools. A front door, an output or the receiver alone
/// is used with a provider the program builds with otlp-sdk, whose features
/// the program chose.
#[test]
fn only_what_loads_a_configuration_brings_the_file_formats() {
    for feature in [
        "tracing",
        "log",
        "metrics",
        "metrics-recorder",
        "metrics-server",
        "file-exporter",
        "receiver",
    ] {
        let graph = graph_with_only(feature);
        let sdk = graph.get("otlp-sdk").cloned().unwrap_or_default();
        assert!(
            graph.contains_key("otlp-sdk"),
            "{feature}: otlp-sdk is missing"
        );
        for format in ["yaml", "toml"] {
            assert!(
                !sdk.contains(format),
                "{feature} alone turns on otlp-sdk's {format}: {sdk:?}"
            );
        }
        for parser in ["serde_norway", "toml"] {
            assert!(
                !graph.contains_key(parser),
                "{parser} is in the graph of otlp-contrib with `{feature}` alone"
            );
        }
    }
    for feature in ["opentelemetry-bridge", "tools"] {
        let sdk = graph_with_only(feature)
            .get("otlp-sdk")
            .cloned()
            .unwrap_or_default();
        assert!(
            sdk.contains("yaml") && sdk.contains("toml"),
            "{feature} loads configuration files but otlp-sdk has {sdk:?}"
        );
    }
}

/// Every integration test but this one needs some feature, and says which
/// in a `[[test]]` entry of the manifest: built with fewer features, a test
/// without its entry fails to compile instead of being skipped.
#[test]
fn every_integration_test_declares_its_required_features() {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest =
        std::fs::read_to_string(manifest_dir.join("Cargo.toml")).expect("read Cargo.toml");
    // `[[test]]`, then `name = "..."` and `required-features = [...]`.
    let mut declared = BTreeSet::new();
    for entry in manifest.split("[[test]]").skip(1) {
        let field = |key: &str| {
            entry
                .lines()
                .find_map(|line| line.trim().strip_prefix(key))
                .map(|rest| rest.trim_start().trim_start_matches('=').trim().to_owned())
        };
        let name = field("name").expect("a [[test]] entry has a name");
        let features = field("required-features").unwrap_or_default();
        assert!(
            features.starts_with('[') && features.len() > 2,
            "[[test]] {name} has no required-features"
        );
        declared.insert(name.trim_matches('"').to_owned());
    }
    let mut undeclared = Vec::new();
    for entry in std::fs::read_dir(manifest_dir.join("tests")).expect("read tests/") {
        let path = entry.expect("a tests/ entry").path();
        let name = if path.is_dir() && path.join("main.rs").is_file() {
            path.file_name()
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            path.file_stem()
        } else {
            continue;
        };
        let name = name.expect("a name").to_string_lossy().into_owned();
        if name != "default_features" && !declared.contains(&name) {
            undeclared.push(name);
        }
    }
    assert!(
        undeclared.is_empty(),
        "tests without a [[test]] entry and its required-features: {undeclared:?}"
    );
}

/// What `cargo tree` prints for otlp-contrib's normal dependencies with
/// `arguments` (feature flags, depth, format), over the workspace's
/// `Cargo.lock`, offline; fails the test if it cannot run.
fn cargo_tree(arguments: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--package", "otlp-contrib", "--edges", "normal"])
        .args(arguments)
        .args([
            "--prefix",
            "none",
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
    String::from_utf8_lossy(&output.stdout).into_owned()
}
