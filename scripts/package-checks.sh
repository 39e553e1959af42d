#!/usr/bin/env bash
# What the workspace build cannot see about the crates as they are published
# and used one by one; run by `.ci/run` and by `scripts/publish-workspace.sh`.
#
#   feature combinations: each feature of otlp-contrib alone, under clippy
#     (the workspace build never makes them: otlp-contrib's dev-dependency on
#     itself turns every feature on; code shared by some features is dead,
#     and warned of, without them), and the docs with `log` alone (every link
#     to an item behind a feature that is off); otlp-sdk and both exporters
#     with no default feature (no compression, no configuration files, no
#     root certificates: the code standing in for what is off);
#   package files: each publishable crate's package carries the license
#     texts its `license` names (symlinks to the workspace's files, which
#     cargo packages as files) and its README.
set -euo pipefail
cd "$(dirname "$0")/.."

# The features as the manifest declares them, `default` aside.
features=$(sed -n '/^\[features\]/,/^\[dependencies\]/p' crates/otlp-contrib/Cargo.toml \
  | grep -oE '^[a-z][a-z0-9-]* =' | cut -d' ' -f1 | grep -vx default)
cargo clippy -p otlp-contrib --lib --no-default-features --locked -- -D warnings
for feature in $features; do
  cargo clippy -p otlp-contrib --lib --bins --no-default-features --features "$feature" --locked -- -D warnings
done
cargo clippy -p otlp-sdk -p otlp-exporter-grpc -p otlp-exporter-http --lib --no-default-features --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -p otlp-contrib --no-deps --no-default-features --features log --locked

for crate in otlp-core otlp-sdk otlp-exporter-grpc otlp-exporter-http otlp-contrib; do
  list=$(cargo package --list --locked -p "$crate")
  for file in LICENSE-APACHE LICENSE-MIT README.md; do
    grep -qx "$file" <<<"$list" || { echo "package-checks: $crate: $file is not in the package" >&2; exit 1; }
  done
done
