//! otlp-exporter-grpc needs none of otlp-sdk's configuration file formats
//! (`yaml`, `toml`: `from_config` takes a loaded `Config`), so it leaves them
//! to the program: one that turns them off in its own otlp-sdk dependency does
//! not get them, and their parsers, back through this crate. `cargo tree` over
//! the workspace's `Cargo.lock` says so, offline.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Every crate of the normal dependency graph of this crate with its default
/// features, with the features it is built with.
fn default_graph() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--package", env!("CARGO_PKG_NAME")])
        .args([
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
        ])
        .args(["--locked", "--offline", "--color", "never"])
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
            .map_or("", |(list, _)| list);
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
fn the_exporter_leaves_otlp_sdks_file_formats_to_the_program() {
    let graph = default_graph();
    // The compression features are this crate's own, passed on to otlp-sdk;
    // their presence shows the listing is the real one.
    let sdk = graph.get("otlp-sdk").cloned().unwrap_or_default();
    assert_eq!(
        sdk,
        BTreeSet::from(["gzip".to_owned(), "zstd".to_owned()]),
        "otlp-sdk's features through otlp-exporter-grpc"
    );
    for parser in ["serde_norway", "toml"] {
        assert!(
            !graph.contains_key(parser),
            "{parser} is in the dependency graph of otlp-exporter-grpc"
        );
    }
}
