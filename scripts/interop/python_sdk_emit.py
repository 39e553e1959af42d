"""Sends 2N spans (N roots with attributes of every type, an event, a link
to the previous root, an error status on one in five, and a child each),
N/2 log records (inside the roots) and a counter and a histogram of three
series each through the OpenTelemetry Python SDK's OTLP exporters.

    python_sdk_emit.py grpc|http ENDPOINT N [none|gzip]

Prints one JSON line: what was made and the exports that failed."""
import logging
import sys
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.trace import Link, Status, StatusCode, SpanKind

protocol, endpoint, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
compression = sys.argv[4] if len(sys.argv) > 4 else "none"
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from grpc import Compression
    comp = {"none": Compression.NoCompression, "gzip": Compression.Gzip}[compression]
    kw = dict(endpoint=endpoint, insecure=True, compression=comp)
    span_exporter, log_exporter, metric_exporter = OTLPSpanExporter(**kw), OTLPLogExporter(**kw), OTLPMetricExporter(**kw)
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http import Compression
    comp = {"none": Compression.NoCompression, "gzip": Compression.Gzip}[compression]
    span_exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces", compression=comp)
    log_exporter = OTLPLogExporter(endpoint=endpoint + "/v1/logs", compression=comp)
    metric_exporter = OTLPMetricExporter(endpoint=endpoint + "/v1/metrics", compression=comp)

failures = []
class Counting:
    def __init__(self, inner): self.inner = inner
    def __getattr__(self, name): return getattr(self.inner, name)
    def export(self, batch):
        result = self.inner.export(batch)
        if result != SpanExportResult.SUCCESS: failures.append((type(self.inner).__name__, len(batch), result))
        return result

resource = Resource.create({"service.name": "python-interop"})
tp = TracerProvider(resource=resource)
tp.add_span_processor(BatchSpanProcessor(Counting(span_exporter), max_queue_size=2 * n + 10, max_export_batch_size=min(512, 2 * n + 10)))
tracer = tp.get_tracer("interop", "1.0")
lp = LoggerProvider(resource=resource)
lp.add_log_record_processor(BatchLogRecordProcessor(log_exporter, max_queue_size=n + 10, max_export_batch_size=min(512, n + 10)))
logger = logging.getLogger("interop"); logger.setLevel(logging.INFO); logger.addHandler(LoggingHandler(logger_provider=lp)); logger.propagate = False
mp = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60000)])
counter = mp.get_meter("interop").create_counter("interop.requests")
histogram = mp.get_meter("interop").create_histogram("interop.duration", unit="ms")

previous = None
for i in range(n):
    links = [Link(previous, {"link.i": i})] if previous is not None else []
    with tracer.start_as_current_span(f"op {i % 7}", kind=SpanKind.SERVER, links=links,
                                      attributes={"i": i, "f": i / 3, "b": i % 2 == 0, "s": "x" * (i % 40),
                                                  "list": [1, 2, 3], "strs": ["a", "b"]}) as span:
        span.add_event("event", {"e": i})
        if i % 5 == 0:
            span.set_status(Status(StatusCode.ERROR, "bad"))
        with tracer.start_as_current_span("child") as child:
            pass
        if i % 2 == 0:
            logger.warning("log %d with unicode é ✓", i, extra={"k": i, "nested": "v"})
        previous = span.get_span_context()
    counter.add(1, {"route": f"/r{i % 3}"})
    histogram.record(i % 100, {"route": f"/r{i % 3}"})
tp.shutdown(); lp.shutdown(); mp.shutdown()
import json
print(json.dumps({"spans": 2 * n, "log_records": (n + 1) // 2, "data_points": 6,
                  "failures": [list(map(str, failure)) for failure in failures]}))
