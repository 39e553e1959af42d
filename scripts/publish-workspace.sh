#!/usr/bin/env bash
# Verify the whole workspace, then publish every publishable crate together.
#
#   scripts/publish-workspace.sh            verify, then ask before publishing
#   scripts/publish-workspace.sh --dry-run  verify only (ends with `cargo publish --workspace --dry-run`)
#   scripts/publish-workspace.sh --yes      verify, then publish without asking
#
# Steps, each fatal on failure: fmt check, clippy (-D warnings), tests, docs
# (warnings denied), scripts/package-checks.sh (otlp-contrib with no feature
# and with each feature alone, otlp-sdk and both exporters with no default
# feature, each package's license texts and README),
# `cargo publish --workspace --dry-run`.
set -euo pipefail

mode=ask
for arg in "$@"; do
  case "$arg" in
    --dry-run) mode=dry-run ;;
    --yes|-y) mode=yes ;;
    # The comment block at the top, whatever its length.
    -h|--help) awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "publish-workspace: unknown argument '$arg' (expected --dry-run or --yes)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."

# `cargo publish --workspace` needs Cargo 1.90: say so now, not after the
# long verification steps.
cargo_version=$(cargo --version | awk '{print $2}')
IFS=. read -r cargo_major cargo_minor _ <<<"${cargo_version%%-*}"
if ! [[ "$cargo_major" =~ ^[0-9]+$ && "$cargo_minor" =~ ^[0-9]+$ ]] ||
  [ "$cargo_major" -lt 1 ] || { [ "$cargo_major" -eq 1 ] && [ "$cargo_minor" -lt 90 ]; }; then
  echo "publish-workspace: cargo $cargo_version cannot publish a workspace (cargo publish --workspace needs 1.90 or newer)" >&2
  exit 1
fi

step() {
  local name=$1; shift
  printf '\n==> %s: %s\n' "$name" "$*"
  if ! "$@"; then
    printf '\npublish-workspace: FAILED at step "%s" (%s)\n' "$name" "$*" >&2
    exit 1
  fi
}

step format cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets --locked -- -D warnings
step tests cargo test --workspace --locked
step docs env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# examples and benches are `publish = false`; they also depend on otlp-contrib
# by path only (so that its dev-dependency users can publish), which packaging
# would reject, hence the explicit exclusion.
UNPUBLISHED=(--exclude otlp-examples --exclude otlp-benches)

# otlp-contrib's features one by one and the packages' files (what CI checks too).
step package-checks bash scripts/package-checks.sh
step package cargo publish --workspace "${UNPUBLISHED[@]}" --dry-run --locked

if [ "$mode" = dry-run ]; then
  printf '\npublish-workspace: verification passed; --dry-run, so nothing was published.\n'
  exit 0
fi

if [ "$mode" = ask ]; then
  if [ ! -t 0 ]; then
    echo "publish-workspace: not a terminal and no --yes given; refusing to publish." >&2
    exit 1
  fi
  read -r -p "Publish every crate of the workspace to crates.io now? [y/N] " answer
  case "$answer" in
    y|Y|yes|YES) ;;
    *) echo "publish-workspace: not published."; exit 1 ;;
  esac
fi

step publish cargo publish --workspace "${UNPUBLISHED[@]}" --locked
printf '\npublish-workspace: published.\n'
