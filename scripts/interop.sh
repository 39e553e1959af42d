#!/usr/bin/env bash
# Interoperability check, by hand (not part of CI: it needs PyPI): the
# quickstart against OTLP receivers written by others, grpcio's C-core gRPC
# server and Python's http.server, decoding with opentelemetry-proto's Python
# classes (OTLP/JSON with protobuf's strict json_format), over gRPC,
# HTTP/protobuf and HTTP/JSON, with and without gzip, plain and with mutual
# TLS. Each case checks that the receiver decoded exactly what the
# quickstart says it exported, per signal. Then the other way round:
# `otlp-receiver` takes what the OpenTelemetry Python SDK's OTLP exporters
# send (gRPC and HTTP/protobuf, with and without gzip) and must count all of it.
#
#   scripts/interop.sh [SPANS]
#
# Needs python3 with venv and pip; installs the pinned packages of
# scripts/interop/requirements.txt into target/interop-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/interop-venv
requirements=scripts/interop/requirements.txt
if ! cmp -s "$requirements" "$venv/installed.txt"; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$requirements"
    cp "$requirements" "$venv/installed.txt"
fi
cargo build --release --example quickstart
cargo build --release -p otlp-contrib --features tools --bin otlp-receiver
exec "$venv/bin/python" scripts/interop/interop.py target/release/examples/quickstart \
    target/release/otlp-receiver "${1:-20000}"
