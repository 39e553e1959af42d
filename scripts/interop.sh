#!/usr/bin/env bash
# Interoperability check, by hand (not part of CI: it needs PyPI): the
# quickstart against OTLP receivers written by others, grpcio's C-core gRPC
# server and Python's http.server, decoding with opentelemetry-proto's Python
# classes (OTLP/JSON with protobuf's strict json_format), over gRPC,
# HTTP/protobuf and HTTP/JSON, with and without gzip, plain and with mutual
# TLS. Each case checks that the receiver decoded exactly what the
# quickstart says it exported, per signal.
#
#   scripts/interop.sh [SPANS]
#
# Needs python3 with venv and pip; installs pinned packages into
# target/interop-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet grpcio==1.85.4 opentelemetry-proto==1.45.2 protobuf==7.36.2 \
        cryptography==51.0.1
fi
cargo build --release --example quickstart
exec "$venv/bin/python" scripts/interop/interop.py target/release/examples/quickstart "${1:-20000}"
