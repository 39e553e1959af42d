//! What the tests that run an example's binary share.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The built example `name`: `cargo build --example <name>`, with the test
/// run's cargo and target directory (a no-op when `cargo test` built the
/// examples already).
pub fn example_binary(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    // What cargo set for this test (`CARGO_PKG_NAME`, …) would be new to
    // the build scripts that watch those variables: they would run again
    // and rebuild their crates, here and in the next `cargo test`.
    for (variable, _) in std::env::vars_os() {
        let variable = variable.to_string_lossy();
        if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_"]
            .iter()
            .any(|prefix| variable.starts_with(prefix))
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&variable.as_ref())
        {
            cargo.env_remove(variable.as_ref());
        }
    }
    let output = cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--offline", "--package", "otlp-examples"])
        .args(["--example", name, "--message-format", "json"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo names the {name} executable"))
}

/// The example `binary` with none of the runner's `OTEL_*` / `OTLP__`
/// variables (so it exports to its embedded receiver), run in the temporary
/// directory with no stdin and stderr captured.
pub fn example(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    for (variable, _) in std::env::vars_os() {
        let variable = variable.to_string_lossy();
        if variable.starts_with("OTEL_") || variable.starts_with("OTLP__") || variable == "RUN_ENV"
        {
            command.env_remove(variable.as_ref());
        }
    }
    command
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    command
}
