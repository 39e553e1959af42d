"""Interoperability check: the quickstart against OTLP receivers written by
others (gRPC: grpcio, the C-core gRPC server; HTTP: Python's http.server and
ssl; decoding: opentelemetry-proto's Python classes, and for OTLP/JSON
protobuf's strict json_format). Run through scripts/interop.sh.

For each case (protocol, compression, plain or mutual TLS) it runs
`quickstart --spans N` against a fresh receiver and checks that the
receiver decoded exactly what the quickstart's JSON summary says it
exported, per signal, and that every request decoded.

The other way round, `otlp-receiver` takes what the OpenTelemetry Python
SDK's OTLP exporters send (python_sdk_emit.py), over gRPC and HTTP/protobuf,
with and without gzip: its final line must count every span, log record and
data point, and no bad request.
"""

import datetime
import gzip
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc as logs_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as metrics_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as trace_grpc


class Counts:
    """What one receiver decoded."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans = self.logs = self.points = self.requests = 0
        self.errors = []

    def add(self, spans=0, logs=0, points=0):
        with self.lock:
            self.spans += spans
            self.logs += logs
            self.points += points
            self.requests += 1

    def error(self, text):
        with self.lock:
            self.errors.append(text[:300])


def data_points(metric):
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def check_ids(counts, spans):
    """Protobuf ids: 16 and 8 bytes (OTLP/JSON's are checked on the raw
    document, see check_json_ids)."""
    for span in spans:
        trace_id, span_id = span.trace_id, span.span_id
        if len(trace_id) != 16 or len(span_id) != 8:
            counts.error(f"span {span.name!r}: ids of {len(trace_id)} and {len(span_id)} bytes")


def check_json_ids(counts, document):
    """OTLP/JSON writes ids as lowercase hex, not base64 as proto3 JSON would."""
    for resource in document.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key, length in (("traceId", 32), ("spanId", 16)):
                    value = span.get(key, "")
                    if len(value) != length or any(c not in "0123456789abcdef" for c in value):
                        counts.error(f"{key} {value!r} is not {length} lowercase hex digits")


def count_request(counts, request, hex_ids=False):
    if isinstance(request, trace_pb.ExportTraceServiceRequest):
        spans = [s for r in request.resource_spans for sc in r.scope_spans for s in sc.spans]
        if not hex_ids:
            check_ids(counts, spans)
        counts.add(spans=len(spans))
    elif isinstance(request, logs_pb.ExportLogsServiceRequest):
        counts.add(logs=sum(len(sc.log_records) for r in request.resource_logs for sc in r.scope_logs))
    else:
        counts.add(points=sum(data_points(m) for r in request.resource_metrics
                              for sc in r.scope_metrics for m in sc.metrics))


def grpc_servicers(counts):
    class Traces(trace_grpc.TraceServiceServicer):
        def Export(self, request, context):
            count_request(counts, request)
            return trace_pb.ExportTraceServiceResponse()

    class Logs(logs_grpc.LogsServiceServicer):
        def Export(self, request, context):
            count_request(counts, request)
            return logs_pb.ExportLogsServiceResponse()

    class Metrics(metrics_grpc.MetricsServiceServicer):
        def Export(self, request, context):
            count_request(counts, request)
            return metrics_pb.ExportMetricsServiceResponse()

    return Traces(), Logs(), Metrics()


HTTP_PATHS = {
    "/v1/traces": (trace_pb.ExportTraceServiceRequest, trace_pb.ExportTraceServiceResponse),
    "/v1/logs": (logs_pb.ExportLogsServiceRequest, logs_pb.ExportLogsServiceResponse),
    "/v1/metrics": (metrics_pb.ExportMetricsServiceRequest, metrics_pb.ExportMetricsServiceResponse),
}


def http_handler(counts):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body=b"", content_type="application/x-protobuf"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                types = HTTP_PATHS.get(self.path)
                if types is None:
                    raise ValueError(f"unexpected path {self.path}")
                encoding = self.headers.get("Content-Encoding", "identity")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding != "identity":
                    raise ValueError(f"unexpected Content-Encoding {encoding}")
                request_type, response_type = types
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    document = json.loads(body)
                    check_json_ids(counts, document)
                    # Strict: an unknown field name fails the request.
                    request = json_format.ParseDict(document, request_type())
                    count_request(counts, request, hex_ids=True)
                    self.answer(200, b"{}", "application/json")
                else:
                    request = request_type()
                    request.ParseFromString(body)
                    count_request(counts, request)
                    self.answer(200, response_type().SerializeToString())
            except Exception as error:  # noqa: BLE001 - reported, then refused
                counts.error(f"{self.path}: {error!r}")
                self.answer(400)

    return Handler


def make_certificates(directory):
    """A CA, a server certificate for localhost/127.0.0.1 and a client one."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def write(path, data):
        with open(os.path.join(directory, path), "wb") as file:
            file.write(data)

    def key_pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("interop CA")).issuer_name(name("interop CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    for role, usage, names in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH,
         [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("client")]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(role)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        write(f"{role}.pem", cert.public_bytes(serialization.Encoding.PEM))
        write(f"{role}.key", key_pem(key))


def start_receiver(counts, tls_directory):
    """Starts a gRPC and an HTTP receiver on free ports; returns (grpc port,
    http port, stop)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", 64 << 20)])
    traces, logs, metrics = grpc_servicers(counts)
    trace_grpc.add_TraceServiceServicer_to_server(traces, server)
    logs_grpc.add_LogsServiceServicer_to_server(logs, server)
    metrics_grpc.add_MetricsServiceServicer_to_server(metrics, server)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), http_handler(counts))
    if tls_directory:
        def read(path):
            with open(os.path.join(tls_directory, path), "rb") as file:
                return file.read()
        credentials = grpc.ssl_server_credentials(
            [(read("server.key"), read("server.pem"))], root_certificates=read("ca.pem"),
            require_client_auth=True)
        grpc_port = server.add_secure_port("127.0.0.1:0", credentials)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(tls_directory, "server.pem"),
                                os.path.join(tls_directory, "server.key"))
        context.load_verify_locations(os.path.join(tls_directory, "ca.pem"))
        context.verify_mode = ssl.CERT_REQUIRED
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    else:
        grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop():
        server.stop(grace=None)
        httpd.shutdown()

    return grpc_port, httpd.server_address[1], stop


def run_case(quickstart, spans, protocol, compression, tls_directory):
    counts = Counts()
    grpc_port, http_port, stop = start_receiver(counts, tls_directory)
    scheme, host = ("https", "localhost") if tls_directory else ("http", "127.0.0.1")
    port = grpc_port if protocol == "grpc" else http_port
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update({
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"{scheme}://{host}:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_COMPRESSION": compression,
    })
    if tls_directory:
        env.update({
            "OTEL_EXPORTER_OTLP_CERTIFICATE": os.path.join(tls_directory, "ca.pem"),
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": os.path.join(tls_directory, "client.pem"),
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": os.path.join(tls_directory, "client.key"),
        })
    try:
        done = subprocess.run([quickstart, "--spans", str(spans)], env=env, capture_output=True,
                              text=True, timeout=300)
    finally:
        stop()
    problems = list(counts.errors)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        problems.append(f"quickstart exited {done.returncode}: {done.stderr.strip()[-500:]}")
        return problems, counts
    summary = json.loads(lines[-1])
    expected = (summary["spans"]["exported"], summary["logs"]["exported"],
                summary["metrics"]["data_points_exported"])
    decoded = (counts.spans, counts.logs, counts.points)
    if not summary["all_delivered"]:
        problems.append(f"quickstart: not all delivered: {lines[-1]}")
    if summary["spans"]["exported"] != spans:
        problems.append(f"{summary['spans']['exported']} spans exported of {spans}")
    if expected != decoded:
        problems.append(f"exported (spans, logs, points) {expected}, the receiver decoded {decoded}")
    return problems, counts


def run_receiver_case(receiver, protocol, compression, roots):
    """The Python SDK's exporters into `otlp-receiver`; returns problems."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as directory:
        jsonl = os.path.join(directory, "requests.jsonl")
        errors = open(os.path.join(directory, "stderr"), "w+")
        process = subprocess.Popen(
            [receiver, "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--jsonl", jsonl,
             "--quiet", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            first = process.stdout.readline().split()
            addresses = dict(word.split("=", 1) for word in first[1:])
            address = addresses["grpc" if protocol == "grpc" else "http"]
            emitted = subprocess.run(
                [sys.executable, os.path.join(here, "python_sdk_emit.py"), protocol,
                 f"http://{address}", str(roots), compression],
                capture_output=True, text=True, timeout=300)
        finally:
            process.stdin.close()  # --exit-on-stdin-eof: prints its final line, exits
            out = process.stdout.read()
            process.wait(timeout=60)
            errors.seek(0)
            err = errors.read()
            errors.close()
        problems = []
        if emitted.returncode != 0:
            return [f"emitter exited {emitted.returncode}: {emitted.stderr.strip()[-500:]}"]
        made = json.loads(emitted.stdout.strip().splitlines()[-1])
        if made["failures"]:
            problems.append(f"the Python exporters reported failures: {made['failures']}")
        final = [line for line in out.splitlines() if line.startswith("final ")]
        if not final:
            return problems + [f"no final line from otlp-receiver: {err.strip()[-500:]}"]
        counts = dict(word.split("=", 1) for word in final[-1].split()[1:])
        for key in ("spans", "log_records", "data_points"):
            if int(counts[key]) != made[key]:
                problems.append(f"{key}: made {made[key]}, otlp-receiver counted {counts[key]}")
        for key in ("bad_requests", "faulted_requests", "jsonl_lost_lines"):
            if int(counts.get(key, "0")) != 0:
                problems.append(f"otlp-receiver: {key}={counts[key]}")
        with open(jsonl) as file:
            lines = sum(1 for _ in file)
        if lines != int(counts["accepted_requests"]):
            problems.append(f"{lines} JSON lines for {counts['accepted_requests']} requests")
        print(f"Python SDK -> otlp-receiver {protocol:<4} {compression:<4}: "
              f"{'ok' if not problems else 'FAILED'}: {final[-1]}", flush=True)
        return problems


def main():
    quickstart, receiver = sys.argv[1], sys.argv[2]
    spans = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        make_certificates(directory)
        cases = [("grpc", "none", None), ("grpc", "gzip", None),
                 ("http/protobuf", "none", None), ("http/protobuf", "gzip", None),
                 ("http/json", "none", None), ("http/json", "gzip", None),
                 ("grpc", "gzip", directory), ("http/protobuf", "gzip", directory)]
        for protocol, compression, tls in cases:
            problems, counts = run_case(quickstart, spans, protocol, compression, tls)
            label = f"{protocol:<13} {compression:<4} {'mTLS' if tls else 'plain'}"
            verdict = "ok" if not problems else "FAILED"
            print(f"{label}: {verdict}: decoded {counts.spans} spans, {counts.logs} log records, "
                  f"{counts.points} data points in {counts.requests} requests", flush=True)
            for problem in problems[:5]:
                print(f"    {problem}", flush=True)
            failures += bool(problems)
    reverse = [(protocol, compression) for protocol in ("grpc", "http") for compression in ("none", "gzip")]
    for protocol, compression in reverse:
        problems = run_receiver_case(receiver, protocol, compression, max(spans // 10, 1))
        for problem in problems[:5]:
            print(f"    {problem}", flush=True)
        failures += bool(problems)
    total = len(cases) + len(reverse)
    print(f"{total - failures} of {total} cases ok")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
