//! Names the source the benchmarks were built from, for `compare`'s report
//! header: the commit, and whether the working tree had uncommitted changes
//! then. Read at build time, so that a binary copied from an older build
//! (an A/B of two builds) names its own source, not the checkout it runs in.

use std::path::Path;
use std::process::Command;

fn main() {
    // Read when the script runs, not baked in when it is compiled: checkouts
    // that share a target directory share this script's binary (Cargo hashes
    // a workspace member without its path), and a path baked into it named
    // the commit of whichever checkout built it first.
    let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        println!("cargo:rustc-env=OTLP_BENCHES_SOURCE=otlp-rust (revision unknown)");
        return;
    };
    let workspace = Path::new(&manifest_dir).join("..");
    // Built again when the commit, the index or any source changes.
    for watched in [
        ".git/HEAD",
        ".git/index",
        ".git/refs",
        "crates",
        "benches/src",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&workspace)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let source = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("otlp-rust {commit} with uncommitted changes")
            } else {
                format!("otlp-rust {commit}")
            }
        }
        None => "otlp-rust (revision unknown)".to_owned(),
    };
    println!("cargo:rustc-env=OTLP_BENCHES_SOURCE={source}");
}
