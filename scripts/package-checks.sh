#!/usr/bin/env bash
# What the workspace build cannot see about the crates as they are published
# and used one by one; run by `.ci/run` and by `scripts/publish-workspace.sh`.
#
#   feature combinations: otlp-contrib's `log` alone (the workspace build
#     never makes it: otlp-contrib's dev-dependency on itself turns every
#     feature on), its clippy and its docs (every link to an item behind a
#     feature that is off);
#   package files: each publishable crate's package carries the license
#     texts its `license` names (symlinks to the workspace's files, which
#     cargo packages as files) and its README.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo clippy -p otlp-contrib --lib --no-default-features --features log --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -p otlp-contrib --no-deps --no-default-features --features log --locked

for crate in otlp-core otlp-sdk otlp-exporter-grpc otlp-exporter-http otlp-contrib; do
  list=$(cargo package --list --locked -p "$crate")
  for file in LICENSE-APACHE LICENSE-MIT README.md; do
    grep -qx "$file" <<<"$list" || { echo "package-checks: $crate: $file is not in the package" >&2; exit 1; }
  done
done
