//! The bridge and the front doors of otlp-contrib plug into other crates'
//! types (`opentelemetry_sdk`'s processors and exporters, `tracing-subscriber`'s
//! `Layer`) and global facades (`log`, `metrics`): a program must use the
//! versions otlp-contrib is built on. With another `opentelemetry_sdk` the
//! migration guide's code does not compile (two versions of the crate); with
//! another `metrics`, the program's macros record into a facade where
//! `OtlpRecorder` is not installed, and nothing is recorded. The workspace's
//! README (its migration guide) and otlp-contrib's (its crates.io page) say
//! which versions, and this test keeps them in step with the workspace
//! manifest, where the versions are pinned once.

use std::path::Path;

/// The crates a program shares types or a global facade with through
/// otlp-contrib (or, for `tracing-opentelemetry` and
/// `opentelemetry-appender-tracing`, that it keeps beside the bridge).
const PLUGGED_INTO: [&str; 7] = [
    "opentelemetry",
    "opentelemetry_sdk",
    "tracing-opentelemetry",
    "opentelemetry-appender-tracing",
    "tracing-subscriber",
    "log",
    "metrics",
];

/// The version requirement of `name` in `[workspace.dependencies]`:
/// `name = "X.Y"` or `name = { version = "X.Y", ... }`.
fn workspace_requirement(manifest: &str, name: &str) -> String {
    let section = manifest
        .split("[workspace.dependencies]")
        .nth(1)
        .expect("the workspace manifest has [workspace.dependencies]");
    let line = section
        .lines()
        .find(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .unwrap_or_else(|| panic!("{name} is not a workspace dependency"));
    let value = line.split_once('=').map(|(_, value)| value).unwrap_or("");
    let value = match value.split_once("version") {
        Some((_, after)) => after.split_once('=').map(|(_, v)| v).unwrap_or(after),
        None => value,
    };
    value
        .split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("no version for {name}: {line}"))
        .to_owned()
}

/// The releases a requirement accepts, as a reader writes them: `0.33` for
/// `0.33.x`, `0.4` for `0.4.21` (Cargo's caret: below 1.0 the minor
/// version is the breaking one).
fn compatible_releases(requirement: &str) -> String {
    let parts: Vec<&str> = requirement.split('.').collect();
    match parts.as_slice() {
        ["0", minor, ..] => format!("0.{minor}"),
        [major, ..] => (*major).to_owned(),
        [] => panic!("an empty version requirement"),
    }
}

#[test]
fn the_readmes_name_the_versions_of_the_crates_the_bridges_plug_into() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| {
        std::fs::read_to_string(workspace.join(path))
            .unwrap_or_else(|error| panic!("read {path}: {error}"))
    };
    let manifest = read("Cargo.toml");
    for readme in ["README.md", "crates/otlp-contrib/README.md"] {
        let text = read(readme);
        for name in PLUGGED_INTO {
            let releases = compatible_releases(&workspace_requirement(&manifest, name));
            let named = format!("`{name}` {releases}");
            assert!(
                text.contains(&named),
                "{readme} does not say that otlp-contrib is built on {named}"
            );
        }
    }
}

#[test]
fn compatible_releases_are_what_cargo_accepts() {
    assert_eq!(compatible_releases("0.33"), "0.33");
    assert_eq!(compatible_releases("0.4.21"), "0.4");
    assert_eq!(compatible_releases("1.10"), "1");
    let manifest = "[workspace.dependencies]\nlog = { version = \"0.4.21\", default-features = false }\nmetrics = \"0.24\"\nmetrics-util = \"9\"\n";
    assert_eq!(workspace_requirement(manifest, "log"), "0.4.21");
    assert_eq!(workspace_requirement(manifest, "metrics"), "0.24");
}
