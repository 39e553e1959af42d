//! Metrics end to end: otlp-sdk instruments (natively, and through the
//! `metrics` crate's `OtlpRecorder`) aggregated, collected by the periodic
//! reader, encoded and sent over gRPC and HTTP (protobuf and OTLP/JSON) to
//! the embedded receiver, and decoded there with `opentelemetry-proto`.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{Metric as ProtoMetric, NumberDataPoint};
use otlp_contrib::pipeline::metric_exporter_from_config;
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
use otlp_contrib::recorder::OtlpRecorder;
use otlp_core::{KeyValue, SpanContext, SpanId, TraceFlags, TraceId};
use otlp_sdk::active_span;
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::metrics::{MeterProvider, MetricsError, PeriodicReader};

const PATIENCE: Duration = Duration::from_secs(30);

fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env(env.iter().map(|(name, value)| (*name, *value)))
        .load()
        .expect("a valid configuration")
}

/// A provider exporting to the receiver as `config` says, at a long
/// interval: the tests export with `force_flush`.
fn provider(config: &Config) -> MeterProvider {
    let exporter = metric_exporter_from_config(config).expect("metrics exporter");
    let reader = PeriodicReader::builder(exporter)
        .with_config(config)
        .with_interval(Duration::from_secs(3600))
        .build()
        .expect("reader");
    MeterProvider::builder()
        .with_config(config)
        .with_service_name("metrics-e2e")
        .with_reader(reader)
        .build()
        .expect("provider")
}

fn named<'a>(metrics: &'a [ProtoMetric], name: &str) -> Vec<&'a ProtoMetric> {
    metrics
        .iter()
        .filter(|metric| metric.name == name)
        .collect()
}

fn string_attribute(
    point_attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    point_attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(
            |kv| match kv.value.as_ref().and_then(|value| value.value.as_ref()) {
                Some(ProtoValue::StringValue(text)) => Some(text.clone()),
                _ => None,
            },
        )
}

fn sum_points(metric: &ProtoMetric) -> (&[NumberDataPoint], i32, bool) {
    match &metric.data {
        Some(Data::Sum(sum)) => (
            &sum.data_points,
            sum.aggregation_temporality,
            sum.is_monotonic,
        ),
        other => panic!("{} is not a sum: {other:?}", metric.name),
    }
}

/// Records through the native API, flushes twice, and checks what the
/// receiver decoded.
fn native_instruments_arrive_decoded(receiver: &Receiver, config: &Config, delta: bool) {
    let provider = provider(config);
    let meter = provider.meter("checkout");
    let orders = meter.u64_counter("orders").with_unit("{order}").build();
    let latency = meter
        .f64_histogram("latency")
        .with_unit("ms")
        .with_boundaries(vec![10.0, 100.0])
        .build();
    let queue = meter.i64_up_down_counter("queue.depth").build();
    let span = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    active_span::in_span(&span, || {
        orders.add(2, &[KeyValue::new("payment", "card")]);
        latency.record(42.0, &[KeyValue::new("route", "/cart")]);
    });
    orders.add(1, &[KeyValue::new("payment", "cash")]);
    latency.record(5.0, &[KeyValue::new("route", "/cart")]);
    queue.add(3, &[]);
    provider.force_flush(PATIENCE).expect("first flush");
    orders.add(4, &[KeyValue::new("payment", "card")]);
    queue.add(-1, &[]);
    provider.force_flush(PATIENCE).expect("second flush");
    provider.shutdown(PATIENCE).expect("shutdown");
    let stats = provider.stats();
    assert_eq!(
        stats.failed_data_points + stats.rejected_data_points,
        0,
        "{stats:?}"
    );
    assert_eq!(
        receiver.data_point_count(),
        stats.exported_data_points,
        "{stats:?}"
    );

    let metrics = receiver.accepted_metrics();
    let orders = named(&metrics, "orders");
    // Two flushes (and shutdown's collection, empty for delta streams).
    let (first, temporality, monotonic) = sum_points(orders[0]);
    assert!(monotonic);
    assert_eq!(temporality, if delta { 1 } else { 2 });
    assert_eq!(orders[0].unit, "{order}");
    let card = |points: &[NumberDataPoint]| {
        points
            .iter()
            .find(|point| string_attribute(&point.attributes, "payment").as_deref() == Some("card"))
            .map(|point| point.value)
    };
    assert_eq!(card(first), Some(Some(Value::AsInt(2))));
    let (second, _, _) = sum_points(orders[1]);
    assert_eq!(
        card(second),
        Some(Some(Value::AsInt(if delta { 4 } else { 6 })))
    );
    if delta {
        assert_eq!(
            second.len(),
            1,
            "cash had no measurement in the second interval"
        );
    }
    // The card point of the first interval carries its span as an exemplar.
    let exemplar = first
        .iter()
        .find(|point| string_attribute(&point.attributes, "payment").as_deref() == Some("card"))
        .and_then(|point| point.exemplars.first())
        .expect("an exemplar");
    assert_eq!(exemplar.trace_id, span.trace_id.to_bytes().to_vec());
    assert_eq!(exemplar.span_id, span.span_id.to_bytes().to_vec());

    let Some(Data::Histogram(histogram)) = &named(&metrics, "latency")[0].data else {
        panic!("latency is not a histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!((point.count, point.sum), (2, Some(47.0)));
    assert_eq!(point.bucket_counts, vec![1, 1, 0]);
    assert_eq!(point.explicit_bounds, vec![10.0, 100.0]);
    assert_eq!((point.min, point.max), (Some(5.0), Some(42.0)));
    assert_eq!(point.exemplars.len(), 1);

    // Up-down counters stay cumulative under the delta preference.
    let queue = named(&metrics, "queue.depth");
    let (last, temporality, monotonic) = sum_points(queue[1]);
    assert_eq!((temporality, monotonic), (2, false));
    assert_eq!(last[0].value, Some(Value::AsInt(2)));

    let request = &receiver.accepted_metric_requests()[0];
    let resource = request.resource_metrics[0]
        .resource
        .as_ref()
        .expect("resource");
    assert_eq!(
        string_attribute(&resource.attributes, "service.name").as_deref(),
        Some("metrics-e2e")
    );
    assert_eq!(
        request.resource_metrics[0].scope_metrics[0]
            .scope
            .as_ref()
            .map(|scope| scope.name.as_str()),
        Some("checkout")
    );
}

#[test]
fn native_instruments_over_grpc_cumulative() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
    let endpoint = receiver.grpc_endpoint().expect("gRPC listener");
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
    ]);
    native_instruments_arrive_decoded(&receiver, &config, false);
}

#[test]
fn native_instruments_over_http_json_delta() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
    let endpoint = receiver.http_endpoint().expect("HTTP listener");
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            &format!("{endpoint}/v1/metrics"),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
    ]);
    native_instruments_arrive_decoded(&receiver, &config, true);
}

#[test]
fn the_metrics_crate_through_otlp_recorder_over_http_protobuf() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
    let endpoint = receiver.http_endpoint().expect("HTTP listener");
    let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    let provider = provider(&config);
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!(
            "request.duration",
            metrics::Unit::Seconds,
            "Time per request"
        );
        for _ in 0..3 {
            metrics::counter!("requests", "method" => "GET").increment(1);
        }
        metrics::counter!("uptime").absolute(10);
        metrics::counter!("uptime").absolute(25);
        let connections = metrics::gauge!("connections");
        connections.increment(5.0);
        connections.decrement(2.0);
        metrics::gauge!("temperature", "room" => "lab").set(21.5);
        metrics::histogram!("request.duration").record(0.25);
        metrics::histogram!("request.duration").record(0.75);
        metrics::counter!("odd name:with spaces").increment(1);
    });
    provider.force_flush(PATIENCE).expect("flush");
    provider.shutdown(PATIENCE).expect("shutdown");

    let metrics = receiver.accepted_metrics();
    let (requests, _, monotonic) = sum_points(named(&metrics, "requests")[0]);
    assert!(monotonic);
    assert_eq!(requests[0].value, Some(Value::AsInt(3)));
    assert_eq!(
        string_attribute(&requests[0].attributes, "method").as_deref(),
        Some("GET")
    );
    let (uptime, _, _) = sum_points(named(&metrics, "uptime")[0]);
    assert_eq!(uptime[0].value, Some(Value::AsInt(25)));
    let gauge = |name: &str| match &named(&metrics, name)[0].data {
        Some(Data::Gauge(gauge)) => gauge.data_points[0].value,
        other => panic!("{name} is not a gauge: {other:?}"),
    };
    assert_eq!(gauge("connections"), Some(Value::AsDouble(3.0)));
    assert_eq!(gauge("temperature"), Some(Value::AsDouble(21.5)));
    let duration = named(&metrics, "request.duration")[0];
    assert_eq!(
        (duration.unit.as_str(), duration.description.as_str()),
        ("s", "Time per request")
    );
    let Some(Data::Histogram(histogram)) = &duration.data else {
        panic!("request.duration is not a histogram");
    };
    assert_eq!(
        (histogram.data_points[0].count, histogram.data_points[0].sum),
        (2, Some(1.0))
    );
    // Exported by the flush and again (cumulative) by shutdown.
    assert_eq!(named(&metrics, "odd_name_with_spaces").len(), 2);
}

/// The metrics a recorder-only provider collects under `name`.
fn collected(provider: &MeterProvider, name: &str) -> Vec<otlp_core::Metric> {
    provider
        .collect()
        .into_iter()
        .filter(|metric| metric.name.as_str() == name)
        .collect()
}

#[test]
fn a_unit_described_after_first_use_does_not_split_the_metric() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("latency", "route" => "a").record(1.0);
        metrics::describe_histogram!("latency", metrics::Unit::Seconds, "Time per request");
        metrics::histogram!("latency", "route" => "b").record(2.0);
    });
    let latency = collected(&provider, "latency");
    assert_eq!(
        latency.len(),
        1,
        "one metric, not one per unit: {latency:#?}"
    );
    let otlp_core::MetricData::Histogram(histogram) = &latency[0].data else {
        panic!("latency is not a histogram");
    };
    assert_eq!(histogram.data_points.len(), 2);
}

#[test]
fn absolute_sets_a_counter_to_at_least_the_value_whatever_the_increments() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    let total = |name: &str| match &collected(&provider, name)[0].data {
        otlp_core::MetricData::Sum(sum) => sum.data_points[0].value,
        other => panic!("{name} is not a sum: {other:?}"),
    };
    metrics::with_local_recorder(&recorder, || {
        // `CounterFn::absolute`: "sets the counter to at least the given amount".
        let ahead = metrics::counter!("ahead");
        ahead.increment(5);
        ahead.absolute(10);
        let behind = metrics::counter!("behind");
        behind.increment(10);
        behind.absolute(4);
        behind.increment(1);
    });
    assert_eq!(total("ahead"), otlp_core::NumberValue::Int(10));
    assert_eq!(total("behind"), otlp_core::NumberValue::Int(11));
}

#[test]
fn a_gauge_changed_from_many_threads_ends_at_its_current_value() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    // Long label sets make each recording slow next to the value's update.
    let labels: Vec<metrics::Label> = (0..32)
        .map(|i| metrics::Label::new(format!("label_{i}"), format!("value_{i}")))
        .collect();
    let key = metrics::Key::from_parts("in_use", labels);
    let metadata = metrics::Metadata::new("test", metrics::Level::INFO, None);
    let gauge = metrics::Recorder::register_gauge(&recorder, &key, &metadata);
    let last = || match &collected(&provider, "in_use")[0].data {
        otlp_core::MetricData::Gauge(gauge) => gauge.data_points[0].value,
        other => panic!("in_use is not a gauge: {other:?}"),
    };
    for round in 1..=300u32 {
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    barrier.wait();
                    gauge.increment(1.0);
                });
            }
        });
        assert_eq!(
            last(),
            otlp_core::NumberValue::Double(f64::from(round * 4)),
            "round {round}"
        );
    }
}

#[test]
fn a_count_is_not_given_the_dimensionless_unit_of_ratios() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_gauge!("connections", metrics::Unit::Count, "Open connections");
        metrics::gauge!("connections").set(3.0);
    });
    // UCUM `1` is what utilizations use; a Prometheus translation makes a
    // gauge in `1` a `_ratio`. Counts of things use an annotation.
    assert_eq!(
        collected(&provider, "connections")[0].unit.as_str(),
        "{count}"
    );
}

#[test]
fn keys_naming_one_series_share_its_gauge_value_and_counter_total() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        // Instrument names are case-insensitive: one instrument.
        metrics::gauge!("Queue.Depth").increment(1.0);
        metrics::gauge!("queue.depth").increment(1.0);
        // Of a label given twice the last value counts: one series.
        metrics::gauge!("jobs", "k" => "a", "k" => "b").increment(1.0);
        metrics::gauge!("jobs", "k" => "b").increment(1.0);
        // Both names become the instrument name `total_x`.
        metrics::counter!("total:x").absolute(10);
        metrics::counter!("total_x").absolute(10);
        metrics::counter!("total_x").increment(1);
    });
    let value = |name: &str| {
        let metric = &collected(&provider, name)[0];
        let points = match &metric.data {
            otlp_core::MetricData::Gauge(gauge) => &gauge.data_points,
            otlp_core::MetricData::Sum(sum) => &sum.data_points,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(points.len(), 1, "{name}: {points:?}");
        points[0].value
    };
    assert_eq!(value("Queue.Depth"), otlp_core::NumberValue::Double(2.0));
    assert_eq!(value("jobs"), otlp_core::NumberValue::Double(2.0));
    assert_eq!(value("total_x"), otlp_core::NumberValue::Int(11));
}

#[test]
fn a_description_reaches_the_instrument_its_name_becomes() {
    // OpenTelemetry instrument names are case-insensitive and the recorder
    // writes characters they do not allow as `_`: `Jobs.Done` and
    // `jobs:done` are the instruments `jobs.done` and `jobs_done` are.
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("Jobs.Done", metrics::Unit::Count, "Jobs finished");
        metrics::describe_gauge!("queue:depth", metrics::Unit::Count, "Jobs waiting");
        metrics::counter!("jobs.done").increment(1);
        metrics::gauge!("queue_depth").set(3.0);
    });
    let jobs = collected(&provider, "jobs.done");
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0].description.as_str(), "Jobs finished");
    assert_eq!(jobs[0].unit.as_str(), "{count}");
    let depth = collected(&provider, "queue_depth");
    assert_eq!(depth.len(), 1, "{depth:#?}");
    assert_eq!(depth[0].description.as_str(), "Jobs waiting");
}

/// A collector that takes connections and reads whatever comes, never
/// answering: `started` hears of each connection's first bytes (a request
/// under way), `closed` of each connection the client closes.
fn silent_collector() -> (
    String,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Receiver<()>,
) {
    use std::io::Read;
    let listener =
        std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let (started, started_rx) = std::sync::mpsc::channel();
    let (closed, closed_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut connection in listener.incoming().flatten() {
            let (started, closed) = (started.clone(), closed.clone());
            std::thread::spawn(move || {
                let mut buffer = [0u8; 64 * 1024];
                let mut first = true;
                while let Ok(1..) = connection.read(&mut buffer) {
                    if std::mem::take(&mut first) {
                        let _ = started.send(());
                    }
                }
                let _ = closed.send(());
            });
        }
    });
    (format!("http://{address}"), started_rx, closed_rx)
}

/// A shutdown that runs out of time gives up on the export in progress: its
/// connection closes and a flush waiting on it returns, instead of the
/// reader sending and retrying for its own export timeout (an hour here) to
/// a collector that never answers, after shutdown had counted its data
/// points failed. Before, the connection stayed open and the flush waited
/// for the hour; the watchdog of 60 s stands for that.
#[test]
fn a_shutdown_out_of_time_ends_the_export_it_gave_up_on() {
    const WATCHDOG: Duration = Duration::from_secs(60);
    for protocol in ["grpc", "http/protobuf"] {
        let (endpoint, started, closed) = silent_collector();
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "3600000"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "3600000"),
        ]);
        let provider = provider(&config);
        provider.meter("m").u64_counter("c").build().add(1, &[]);
        let (flushed, flush) = std::sync::mpsc::channel();
        let flushing = provider.clone();
        std::thread::spawn(move || {
            let _ = flushed.send(flushing.force_flush(Duration::MAX));
        });
        started
            .recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| panic!("{protocol}: no export reached the collector"));

        let shutdown = provider.shutdown(Duration::from_millis(200));
        assert!(
            matches!(shutdown, Err(MetricsError::Timeout(_))),
            "{protocol}: {shutdown:?}"
        );
        closed.recv_timeout(WATCHDOG).unwrap_or_else(|_| {
            panic!("{protocol}: the export shutdown gave up on still holds its connection")
        });
        let flush = flush.recv_timeout(WATCHDOG).unwrap_or_else(|_| {
            panic!("{protocol}: the flush waits on the export shutdown gave up on")
        });
        assert!(
            matches!(
                flush,
                Err(MetricsError::Undelivered {
                    failed: 1,
                    rejected: 0
                })
            ),
            "{protocol}: {flush:?}"
        );
        let stats = provider.stats();
        assert_eq!(
            (
                stats.produced_data_points,
                stats.exported_data_points,
                stats.failed_data_points,
                stats.in_flight_data_points
            ),
            (1, 0, 1, 0),
            "{protocol}: {stats:?}"
        );
    }
}

/// A shutdown while the reader's export waits out a throttle hint (gRPC
/// `UNAVAILABLE` with a 20 s `RetryInfo`, HTTP 503 with `Retry-After: 20`)
/// that ends after the shutdown's deadline: the retry is called off, the
/// final collection is sent once (throttled too) and shutdown answers what
/// was not delivered as soon as nothing more can be sent. Found in review:
/// `shutdown(3 s)` sat out the 3 s and answered `Timeout`, the reader asleep
/// in its retry wait.
#[test]
fn a_shutdown_calls_off_a_retry_that_could_not_come_before_its_deadline() {
    for protocol in ["grpc", "http/protobuf"] {
        let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
        receiver.set_fallback_fault(Some(Fault::UnavailableRetryAfter(Duration::from_secs(20))));
        let endpoint = if protocol == "grpc" {
            receiver.grpc_endpoint()
        } else {
            receiver.http_metrics_url()
        }
        .expect("listener");
        // A minute for each export: the 20 s wait fits in it.
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "60000"),
        ]);
        let provider = provider(&config);
        provider.meter("m").u64_counter("c").build().add(1, &[]);
        let flushing = provider.clone();
        let flush = std::thread::spawn(move || flushing.force_flush(Duration::MAX));
        let started = std::time::Instant::now();
        while provider.stats().retries == 0 {
            assert!(
                started.elapsed() < PATIENCE,
                "{protocol}: no retry: {:?}",
                provider.stats()
            );
            std::thread::sleep(Duration::from_millis(10));
        }

        let shutdown = provider.shutdown(Duration::from_secs(3));
        assert!(
            matches!(
                shutdown,
                Err(MetricsError::Undelivered {
                    failed: 1,
                    rejected: 0
                })
            ),
            "{protocol}: settled, not left to the deadline: {shutdown:?}"
        );
        let flush = flush.join().expect("the flushing thread");
        assert!(
            matches!(flush, Err(MetricsError::Undelivered { failed: 1, .. })),
            "{protocol}: {flush:?}"
        );
        let stats = provider.stats();
        assert_eq!(
            (
                stats.produced_data_points,
                stats.failed_data_points,
                stats.in_flight_data_points
            ),
            (2, 2, 0),
            "{protocol}: {stats:?}"
        );
        // The flush's first attempt and the final collection's: no retry.
        assert_eq!(receiver.request_count(), 2, "{protocol}");
        let last_error = stats.last_error.unwrap_or_default();
        assert!(
            last_error.contains("shutdown deadline"),
            "{protocol}: {last_error}"
        );
    }
}

/// A flush against a collector that never answers, with an export timeout
/// (`OTEL_METRIC_EXPORT_TIMEOUT`, 500 ms) shorter than the exporter's own
/// (`OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`, a minute): the attempt ends at the
/// export timeout, and the last error says that limit in whole milliseconds
/// (the time left before the export's deadline, read a moment after it was
/// set, rounded up). It said the exporter's minute, then the raw time left
/// ("499.929976ms").
#[test]
fn an_export_timeout_shorter_than_the_exporters_is_the_one_the_error_names() {
    for protocol in ["grpc", "http/protobuf"] {
        let (endpoint, _started, _closed) = silent_collector();
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "60000"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "500"),
        ]);
        let provider = provider(&config);
        provider.meter("m").u64_counter("c").build().add(1, &[]);
        let flush = provider.force_flush(PATIENCE);
        assert!(
            matches!(flush, Err(MetricsError::Undelivered { failed: 1, .. })),
            "{protocol}: {flush:?}"
        );
        let last_error = provider.stats().last_error.unwrap_or_default();
        // Whole milliseconds, at most the export timeout (the time left
        // before the deadline when the attempt started; on a loaded machine
        // the attempt may start well after the deadline was set, so no
        // lower bound but the exporter's minute being out of the range);
        // then where the request went.
        let (limit, target) = last_error
            .strip_prefix("export attempt timed out after ")
            .and_then(|rest| rest.split_once(": "))
            .unwrap_or_else(|| panic!("{protocol}: {last_error}"));
        let millis: u64 = limit
            .strip_suffix("ms")
            .and_then(|millis| millis.parse().ok())
            .unwrap_or_else(|| panic!("{protocol}: {last_error}"));
        assert!((1..=500).contains(&millis), "{protocol}: {last_error}");
        assert!(
            target.contains(endpoint.as_str()),
            "{protocol}: {last_error}"
        );
        let _ = provider.shutdown(Duration::from_millis(100));
    }
}

/// `metrics` records a `Duration` in seconds (`IntoF64 for Duration` is
/// `as_secs_f64`), and a histogram described in `Unit::Seconds` holds
/// seconds: the default boundaries (0, 5, 10, 25 ... 10000, made for
/// milliseconds) put every request faster than five seconds in one bucket.
/// The semantic conventions advise second boundaries for durations in `s`
/// (0.005, 0.01 ... 10).
#[test]
fn a_histogram_in_seconds_gets_boundaries_that_tell_sub_second_durations_apart() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!(
            "request.duration",
            metrics::Unit::Seconds,
            "Time per request"
        );
        for millis in [3, 40, 300, 2_000] {
            metrics::histogram!("request.duration").record(Duration::from_millis(millis));
        }
    });
    let duration = collected(&provider, "request.duration");
    let otlp_core::MetricData::Histogram(histogram) = &duration[0].data else {
        panic!("request.duration is not a histogram");
    };
    let point = &histogram.data_points[0];
    let filled = point
        .bucket_counts
        .iter()
        .filter(|count| **count > 0)
        .count();
    assert_eq!(
        filled, 4,
        "four durations from 3 ms to 2 s in {filled} bucket(s): bounds {:?}, counts {:?}",
        point.explicit_bounds, point.bucket_counts
    );
}

/// `counter!("x")`, `gauge!("x")` and `histogram!("x")`: three instruments
/// of one name and different kinds. The meter warns of the conflict; each
/// still records.
#[test]
fn one_name_as_a_counter_a_gauge_and_a_histogram_keeps_all_three() {
    let provider = MeterProvider::builder().build().expect("provider");
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("queue").increment(2);
        metrics::gauge!("queue").set(7.0);
        metrics::histogram!("queue").record(1.0);
    });
    let queue = collected(&provider, "queue");
    let kinds: Vec<&str> = queue
        .iter()
        .map(|metric| match &metric.data {
            otlp_core::MetricData::Sum(_) => "sum",
            otlp_core::MetricData::Gauge(_) => "gauge",
            otlp_core::MetricData::Histogram(_) => "histogram",
            _ => "other",
        })
        .collect();
    assert_eq!(queue.len(), 3, "{kinds:?}");
}
