//! The `opentelemetry_sdk` front door for metrics (issue 17): an
//! `SdkMeterProvider` whose `PeriodicReader` exports through
//! `SdkMetricExporter` to the embedded receiver, over gRPC and HTTP
//! (protobuf and JSON), cumulative and delta.
//!
//! Field for field: the exporter under the reader is wrapped in a tee that
//! also hands each collection to `opentelemetry-proto`'s own conversion
//! (what `opentelemetry-otlp` sends); what the receiver decoded must equal
//! it — resource and schema URL, scopes (name, version, schema URL,
//! attributes), each metric's name, description, unit and shape, every data
//! point's attributes, times, value or count, sum, buckets, bounds, scale,
//! zero count and threshold, min and max, temporality, monotonicity.
//! The SDK records no exemplars in 0.33 (its aggregations leave them empty),
//! so their conversion is pinned by the unit tests of `MetricConverter`.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, Metric as ProtoMetric};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, PeriodicReader, SdkMeterProvider, Stream, Temporality,
};
use otlp_contrib::bridge::{BridgeError, SdkMetricExporter};
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
use otlp_core::encode::Encoding;
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::{ConfigLoader, Protocol};
use otlp_sdk::{DynExporter, Exporter, RetryPolicy, Signal};

const PATIENCE: Duration = Duration::from_secs(20);

/// Slack for a loaded 2-core machine (as in the bridge's `deadlines` tests).
const SLACK: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("the receiver starts on loopback")
}

/// A transport of `signal` to `receiver`.
fn transport(receiver: &Receiver, transport: Transport, signal: Signal) -> Box<dyn DynExporter> {
    match transport {
        Transport::Grpc => Box::new(
            GrpcExporter::builder()
                .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
                .signal(signal)
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a valid gRPC exporter"),
        ),
        Transport::HttpProtobuf | Transport::HttpJson => {
            let protocol = match transport {
                Transport::HttpJson => Protocol::HttpJson,
                _ => Protocol::HttpProtobuf,
            };
            Box::new(
                HttpExporter::builder()
                    .endpoint(receiver.http_endpoint().expect("HTTP listener"))
                    .protocol(protocol)
                    .signal(signal)
                    .timeout(Duration::from_secs(5))
                    .build()
                    .expect("a valid HTTP exporter"),
            )
        }
    }
}

/// The adapter under the reader, with `opentelemetry-proto`'s conversion of
/// every collection it is handed kept beside it.
struct Tee<E> {
    exporter: Arc<SdkMetricExporter<E>>,
    reference: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

impl<E: Exporter> PushMetricExporter for Tee<E> {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.reference
            .lock()
            .expect("not poisoned")
            .push(ExportMetricsServiceRequest::from(metrics));
        self.exporter.export(metrics)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.exporter.temporality()
    }
}

/// A provider whose reader exports through `exporter` (and the tee), with
/// views making two histograms exponential and one explicit with its own
/// bounds and a renamed stream.
struct Setup<E> {
    provider: SdkMeterProvider,
    exporter: Arc<SdkMetricExporter<E>>,
    reference: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

fn setup<E: Exporter>(exporter: SdkMetricExporter<E>) -> Setup<E> {
    let exporter = Arc::new(exporter);
    let reference = Arc::new(Mutex::new(Vec::new()));
    let reader = PeriodicReader::builder(Tee {
        exporter: Arc::clone(&exporter),
        reference: Arc::clone(&reference),
    })
    // Only the test's flushes and the shutdown export.
    .with_interval(Duration::from_secs(3600))
    .build();
    let provider = SdkMeterProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("bridge-metrics")
                .with_schema_url(
                    [KeyValue::new("deployment.environment.name", "test")],
                    "https://opentelemetry.io/schemas/1.30.0",
                )
                .build(),
        )
        .with_view(|instrument: &Instrument| {
            let exponential = Aggregation::Base2ExponentialHistogram {
                max_size: 160,
                max_scale: 20,
                record_min_max: true,
            };
            match instrument.name() {
                "latency.exponential" => {
                    Stream::builder().with_aggregation(exponential).build().ok()
                }
                "payload.exponential" => Stream::builder()
                    .with_aggregation(Aggregation::Base2ExponentialHistogram {
                        max_size: 8,
                        max_scale: 5,
                        record_min_max: false,
                    })
                    .build()
                    .ok(),
                "queue.wait" => Stream::builder()
                    .with_name("queue.wait.renamed")
                    .with_aggregation(Aggregation::ExplicitBucketHistogram {
                        boundaries: vec![1.0, 10.0, 100.0],
                        record_min_max: false,
                    })
                    .build()
                    .ok(),
                _ => None,
            }
        })
        .with_reader(reader)
        .build();
    Setup {
        provider,
        exporter,
        reference,
    }
}

/// Records through every instrument kind, value type and aggregation, in
/// two scopes; returns the observable instruments (their callbacks run at
/// each collection while they are kept).
fn record_everything(provider: &SdkMeterProvider) -> Vec<Box<dyn Any>> {
    let shop = provider.meter_with_scope(
        InstrumentationScope::builder("shop")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.29.0")
            .with_attributes([KeyValue::new("scope.attr", 7)])
            .build(),
    );
    let cart = [
        KeyValue::new("http.route", "/cart"),
        KeyValue::new("http.response.status_code", 200),
    ];
    let checkout = [
        KeyValue::new("http.route", "/checkout"),
        KeyValue::new("http.response.status_code", 500),
        KeyValue::new("retry", true),
        KeyValue::new("ratio", 0.25),
    ];

    let orders = shop
        .u64_counter("orders")
        .with_description("orders placed")
        .with_unit("{order}")
        .build();
    orders.add(3, &cart);
    orders.add(1, &checkout);
    orders.add(2, &cart);
    shop.f64_counter("revenue")
        .with_unit("EUR")
        .build()
        .add(19.99, &cart);
    let depth = shop.i64_up_down_counter("queue.depth").build();
    depth.add(5, &[]);
    depth.add(-8, &[]);
    shop.f64_up_down_counter("balance")
        .build()
        .add(-12.5, &checkout);

    let duration = shop
        .f64_histogram("request.duration")
        .with_unit("s")
        .with_boundaries(vec![0.01, 0.1, 1.0])
        .build();
    for value in [0.005, 0.05, 0.5, 5.0, 0.07] {
        duration.record(value, &cart);
    }
    duration.record(2.0, &checkout);
    let size = shop.u64_histogram("response.size").with_unit("By").build();
    for value in [0, 120, 5_000, 1_000_000] {
        size.record(value, &cart);
    }
    let wait = shop.f64_histogram("queue.wait").build();
    for value in [0.5, 50.0, 500.0] {
        wait.record(value, &[]);
    }

    let inventory = provider.meter("inventory");
    let latency = inventory.f64_histogram("latency.exponential").build();
    for value in [0.0, 0.001, 0.5, 1.0, 3.0, 1e6, 2.5e-3] {
        latency.record(value, &cart);
    }
    let payload = inventory.u64_histogram("payload.exponential").build();
    for value in [1, 2, 1_000, 65_536, 1 << 40] {
        payload.record(value, &[]);
    }
    inventory.u64_gauge("stock").build().record(42, &cart);
    inventory
        .i64_gauge("temperature")
        .with_unit("Cel")
        .build()
        .record(-4, &[]);
    inventory.f64_gauge("fill.ratio").build().record(0.75, &[]);

    vec![
        Box::new(
            inventory
                .u64_observable_counter("cpu.time")
                .with_callback(|observer| {
                    observer.observe(100, &[KeyValue::new("cpu", 0)]);
                    observer.observe(150, &[KeyValue::new("cpu", 1)]);
                })
                .build(),
        ),
        Box::new(
            inventory
                .f64_observable_counter("energy")
                .with_callback(|observer| observer.observe(1.5, &[]))
                .build(),
        ),
        Box::new(
            inventory
                .i64_observable_up_down_counter("connections")
                .with_callback(|observer| observer.observe(-3, &[]))
                .build(),
        ),
        Box::new(
            inventory
                .f64_observable_up_down_counter("pressure")
                .with_callback(|observer| observer.observe(1013.25, &[]))
                .build(),
        ),
        Box::new(
            inventory
                .u64_observable_gauge("memory.used")
                .with_callback(|observer| observer.observe(1 << 30, &[]))
                .build(),
        ),
        Box::new(
            inventory
                .i64_observable_gauge("offset")
                .with_callback(|observer| observer.observe(-17, &[]))
                .build(),
        ),
        Box::new(
            inventory
                .f64_observable_gauge("load")
                .with_callback(|observer| observer.observe(0.33, &[]))
                .build(),
        ),
    ]
}

/// Metrics recorded by [`record_everything`].
const METRICS: usize = 19;

/// One metric with the resource and scope it was sent under.
#[derive(Clone, Debug, PartialEq)]
struct Delivered {
    resource: Option<ProtoResource>,
    resource_schema_url: String,
    scope: Option<ProtoScope>,
    scope_schema_url: String,
    metric: ProtoMetric,
}

/// Every metric of `requests` with its resource and scope, in order;
/// resource attributes in key order (the SDK's resource has none).
fn flatten(requests: impl IntoIterator<Item = ExportMetricsServiceRequest>) -> Vec<Delivered> {
    let mut flat = Vec::new();
    for request in requests {
        for resource_metrics in request.resource_metrics {
            let mut resource = resource_metrics.resource;
            if let Some(resource) = &mut resource {
                resource.attributes.sort_by(|a, b| a.key.cmp(&b.key));
            }
            for scope_metrics in resource_metrics.scope_metrics {
                for metric in scope_metrics.metrics {
                    flat.push(Delivered {
                        resource: resource.clone(),
                        resource_schema_url: resource_metrics.schema_url.clone(),
                        scope: scope_metrics.scope.clone(),
                        scope_schema_url: scope_metrics.schema_url.clone(),
                        metric,
                    });
                }
            }
        }
    }
    flat
}

fn data_points(metric: &ProtoMetric) -> u64 {
    (match &metric.data {
        Some(Data::Gauge(gauge)) => gauge.data_points.len(),
        Some(Data::Sum(sum)) => sum.data_points.len(),
        Some(Data::Histogram(histogram)) => histogram.data_points.len(),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
        Some(Data::Summary(summary)) => summary.data_points.len(),
        None => 0,
    }) as u64
}

impl<E: Exporter> Setup<E> {
    fn expected(&self) -> Vec<Delivered> {
        flatten(self.reference.lock().expect("not poisoned").clone())
    }

    /// What the receiver decoded, once it has as many data points as the reference.
    fn received(&self, receiver: &Receiver) -> Vec<Delivered> {
        let expected: u64 = self
            .expected()
            .iter()
            .map(|delivered| data_points(&delivered.metric))
            .sum();
        assert!(
            receiver.wait_for_data_points(expected, PATIENCE),
            "{expected} data points expected, {} arrived",
            receiver.data_point_count()
        );
        flatten(receiver.accepted_metric_requests())
    }
}

fn assert_same(received: &[Delivered], expected: &[Delivered]) {
    assert_eq!(received.len(), expected.len(), "{received:#?}");
    for (received, expected) in received.iter().zip(expected) {
        assert_eq!(received, expected);
    }
}

fn find<'a>(delivered: &'a [Delivered], name: &str) -> &'a Delivered {
    delivered
        .iter()
        .find(|delivered| delivered.metric.name == name)
        .unwrap_or_else(|| panic!("no metric {name:?}"))
}

/// Records everything, flushes twice (the second collection repeats
/// cumulative points and, for delta, carries only what changed), shuts the
/// provider down, and compares what arrived with the reference.
fn every_instrument_arrives_as_opentelemetry_proto_converts_it(
    transport_kind: Transport,
    temporality: Temporality,
) {
    let receiver = receiver();
    let exporter =
        SdkMetricExporter::builder(transport(&receiver, transport_kind, Signal::Metrics))
            .with_temporality(temporality)
            .with_export_timeout(Duration::from_secs(10))
            .build()
            .expect("a metrics transport");
    let setup = setup(exporter);
    let observables = record_everything(&setup.provider);
    setup.provider.force_flush().expect("first collection");
    setup
        .provider
        .meter("inventory")
        .u64_gauge("stock")
        .build()
        .record(41, &[KeyValue::new("http.route", "/cart")]);
    setup.provider.force_flush().expect("second collection");
    setup.provider.shutdown().expect("shut down");
    drop(observables);

    let expected = setup.expected();
    let received = setup.received(&receiver);
    let collections = setup.reference.lock().expect("not poisoned").clone();
    assert!(
        collections.len() >= 2,
        "{temporality:?}: {} collections",
        collections.len()
    );
    assert_eq!(flatten([collections[0].clone()]).len(), METRICS);
    assert_same(&received, &expected);

    // Beyond the reference: the shapes and values the instruments asked for.
    let first = &received[..METRICS];
    let resource = first[0].resource.as_ref().expect("a resource");
    assert!(resource.attributes.iter().any(|attribute| {
        attribute.key == "service.name"
            && format!("{:?}", attribute.value).contains("bridge-metrics")
    }));
    assert_eq!(
        first[0].resource_schema_url,
        "https://opentelemetry.io/schemas/1.30.0"
    );
    let orders = find(first, "orders");
    assert_eq!(orders.metric.unit, "{order}");
    assert_eq!(orders.metric.description, "orders placed");
    assert_eq!(
        orders.scope_schema_url,
        "https://opentelemetry.io/schemas/1.29.0"
    );
    assert_eq!(
        orders
            .scope
            .as_ref()
            .map(|scope| (scope.name.as_str(), scope.version.as_str())),
        Some(("shop", "1.2.3"))
    );
    let Some(Data::Sum(sum)) = &orders.metric.data else {
        panic!("orders is a sum")
    };
    assert!(sum.is_monotonic);
    // Delta and low memory both report counters and histograms as deltas.
    let wanted = match temporality {
        Temporality::Cumulative => AggregationTemporality::Cumulative,
        _ => AggregationTemporality::Delta,
    };
    assert_eq!(sum.aggregation_temporality, wanted as i32);
    let Some(Data::Sum(depth)) = &find(first, "queue.depth").metric.data else {
        panic!("queue.depth is a sum")
    };
    assert!(!depth.is_monotonic);
    assert!(matches!(
        find(first, "request.duration").metric.data,
        Some(Data::Histogram(_))
    ));
    assert!(matches!(
        find(first, "queue.wait.renamed").metric.data,
        Some(Data::Histogram(_))
    ));
    for name in ["latency.exponential", "payload.exponential"] {
        let Some(Data::ExponentialHistogram(histogram)) = &find(first, name).metric.data else {
            panic!("{name} is exponential")
        };
        assert_eq!(histogram.aggregation_temporality, wanted as i32);
    }
    assert!(matches!(
        find(first, "load").metric.data,
        Some(Data::Gauge(_))
    ));

    // Every data point the SDK handed over was delivered, and counted.
    let total: u64 = expected
        .iter()
        .map(|delivered| data_points(&delivered.metric))
        .sum();
    let stats = setup.exporter.stats();
    assert_eq!(
        (stats.exported, stats.rejected, stats.failed, stats.retries),
        (total, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(
        stats.batches,
        setup.reference.lock().expect("not poisoned").len() as u64
    );
    assert_eq!(receiver.data_point_count(), total);
}

#[test]
fn every_instrument_arrives_over_grpc_cumulative() {
    every_instrument_arrives_as_opentelemetry_proto_converts_it(
        Transport::Grpc,
        Temporality::Cumulative,
    );
}

#[test]
fn every_instrument_arrives_over_grpc_delta() {
    every_instrument_arrives_as_opentelemetry_proto_converts_it(
        Transport::Grpc,
        Temporality::Delta,
    );
}

#[test]
fn every_instrument_arrives_over_http_protobuf_cumulative() {
    every_instrument_arrives_as_opentelemetry_proto_converts_it(
        Transport::HttpProtobuf,
        Temporality::Cumulative,
    );
}

#[test]
fn every_instrument_arrives_over_http_json_delta() {
    every_instrument_arrives_as_opentelemetry_proto_converts_it(
        Transport::HttpJson,
        Temporality::Delta,
    );
}

#[test]
fn every_instrument_arrives_over_http_protobuf_low_memory() {
    every_instrument_arrives_as_opentelemetry_proto_converts_it(
        Transport::HttpProtobuf,
        Temporality::LowMemory,
    );
}

#[test]
fn a_collection_over_the_request_cap_arrives_cut_between_metrics() {
    let receiver = receiver();
    let exporter = SdkMetricExporter::builder(transport(
        &receiver,
        Transport::HttpProtobuf,
        Signal::Metrics,
    ))
    .with_max_request_bytes(1_024)
    .build()
    .expect("a metrics transport");
    let setup = setup(exporter);
    let observables = record_everything(&setup.provider);
    setup.provider.force_flush().expect("flushed");
    drop(observables);

    let expected = setup.expected();
    let received = setup.received(&receiver);
    assert_same(&received, &expected);
    let requests = receiver.accepted_metric_requests();
    assert!(requests.len() > 1, "{} requests", requests.len());
    let stats = setup.exporter.stats();
    assert_eq!((stats.batches, stats.failed), (1, 0));
    assert_eq!(stats.exported, receiver.data_point_count());
    setup.provider.shutdown().expect("shut down");
}

/// `shutdown_with_timeout(Duration::ZERO)`: the transports' shutdown needs
/// no waiting (it flags the exporter and lets go of its connections), so it
/// is done by the time the call returns, and the answer says so: `Ok`, not
/// `Timeout(0)`. A second shutdown is `AlreadyShutdown`.
#[test]
fn a_zero_shutdown_timeout_answers_ok_once_the_transport_is_shut_down() {
    let receiver = receiver();
    let http = HttpExporter::builder()
        .endpoint(receiver.http_endpoint().expect("HTTP listener"))
        .signal(Signal::Metrics)
        .build()
        .expect("a valid HTTP exporter");
    let exporter = SdkMetricExporter::new(http).expect("adapter");
    let result = exporter.shutdown_with_timeout(Duration::ZERO);
    assert!(result.is_ok(), "HTTP: {result:?}");
    assert!(exporter.exporter().is_shut_down(), "HTTP");
    let again = exporter.shutdown_with_timeout(Duration::ZERO);
    assert!(
        matches!(again, Err(OTelSdkError::AlreadyShutdown)),
        "HTTP: {again:?}"
    );

    let grpc = GrpcExporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
        .signal(Signal::Metrics)
        .build()
        .expect("a valid gRPC exporter");
    let exporter = SdkMetricExporter::new(grpc).expect("adapter");
    let result = exporter.shutdown_with_timeout(Duration::ZERO);
    assert!(result.is_ok(), "gRPC: {result:?}");
    assert!(exporter.exporter().is_shut_down(), "gRPC");
}

#[test]
fn exporters_of_other_signals_are_refused() {
    let receiver = receiver();
    for (kind, signal) in [
        (Transport::Grpc, Signal::Traces),
        (Transport::HttpProtobuf, Signal::Logs),
        (Transport::HttpJson, Signal::Traces),
    ] {
        let error = SdkMetricExporter::new(transport(&receiver, kind, signal))
            .expect_err("another signal is refused");
        assert!(
            matches!(
                error,
                BridgeError::WrongSignal {
                    expected: Signal::Metrics,
                    found,
                } if found == signal
            ),
            "{kind:?}: {error}"
        );
        assert!(error.to_string().contains("Signal::Metrics"), "{error}");
    }
    // Nothing was sent to the metrics, traces or logs endpoints.
    assert_eq!(receiver.data_point_count(), 0);
}

#[test]
fn stats_add_up_through_a_retry_and_a_partial_success() {
    let receiver = receiver();
    receiver.push_faults([
        Fault::Unavailable,
        Fault::PartialSuccess {
            rejected: 2,
            message: "two points too old".into(),
        },
    ]);
    let exporter =
        SdkMetricExporter::builder(transport(&receiver, Transport::Grpc, Signal::Metrics))
            .with_retry_policy(RetryPolicy {
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                ..RetryPolicy::default()
            })
            .build()
            .expect("a metrics transport");
    let setup = setup(exporter);
    let observables = record_everything(&setup.provider);
    setup
        .provider
        .force_flush()
        .expect("a partial success is a success");
    drop(observables);

    let total: u64 = setup
        .expected()
        .iter()
        .map(|delivered| data_points(&delivered.metric))
        .sum();
    let stats = setup.exporter.stats();
    assert_eq!(
        (stats.batches, stats.retries, stats.rejected, stats.failed),
        (1, 1, 2, 0),
        "{stats:?}"
    );
    assert_eq!(stats.exported + stats.rejected + stats.failed, total);
    assert!(
        stats
            .last_error
            .is_some_and(|error| error.contains("two points too old"))
    );
    setup.provider.shutdown().expect("shut down");
}

#[test]
fn from_config_takes_the_metrics_section_and_temporality() {
    let receiver = receiver();
    let metrics_url = receiver.http_metrics_url().expect("HTTP listener");
    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            // The generic settings point elsewhere: only the metrics section counts.
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics_url.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "5000"),
        ])
        .load()
        .expect("a valid configuration");
    let exporter = SdkMetricExporter::from_config(&config).expect("built from config");
    assert_eq!(exporter.temporality(), Temporality::Delta);
    assert_eq!(exporter.exporter().signal(), Signal::Metrics);
    assert_eq!(exporter.exporter().encoding(), Encoding::Json);
    let setup = setup(exporter);
    setup
        .provider
        .meter("config")
        .u64_counter("ticks")
        .build()
        .add(2, &[]);
    setup.provider.force_flush().expect("flushed");

    let received = setup.received(&receiver);
    assert_same(&received, &setup.expected());
    let Some(Data::Sum(sum)) = &find(&received, "ticks").metric.data else {
        panic!("a sum")
    };
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Delta as i32
    );
    setup.provider.shutdown().expect("shut down");
}

/// Shapes at the edges — an explicit histogram without bounds, exponential
/// histograms of zeros only and of negative values (rescaled to fit four
/// buckets), zero sums, an unnamed scope, an empty attribute key and
/// non-ASCII text — arrive as `opentelemetry-proto` converts them.
fn edge_metrics_arrive_as_opentelemetry_proto_converts_them(kind: Transport) {
    let receiver = receiver();
    let exporter = Arc::new(
        SdkMetricExporter::builder(transport(&receiver, kind, Signal::Metrics))
            .build()
            .expect("a metrics transport"),
    );
    let reference = Arc::new(Mutex::new(Vec::new()));
    let reader = PeriodicReader::builder(Tee {
        exporter: Arc::clone(&exporter),
        reference: Arc::clone(&reference),
    })
    .with_interval(Duration::from_secs(3600))
    .build();
    let provider = SdkMeterProvider::builder()
        .with_resource(Resource::builder_empty().build())
        .with_view(|instrument: &Instrument| match instrument.name() {
            "no.bounds" => Stream::builder()
                .with_aggregation(Aggregation::ExplicitBucketHistogram {
                    boundaries: vec![],
                    record_min_max: true,
                })
                .build()
                .ok(),
            name if name.starts_with("exp.") => Stream::builder()
                .with_aggregation(Aggregation::Base2ExponentialHistogram {
                    max_size: 4,
                    max_scale: 20,
                    record_min_max: true,
                })
                .build()
                .ok(),
            _ => None,
        })
        .with_reader(reader)
        .build();
    let meter = provider.meter("");
    meter.f64_histogram("no.bounds").build().record(3.0, &[]);
    meter.f64_histogram("exp.zeros").build().record(0.0, &[]);
    let negative = meter.f64_histogram("exp.negative").build();
    for value in [-1.0, -1000.0, -1e-9, 5.0] {
        negative.record(value, &[]);
    }
    meter.i64_up_down_counter("zero").build().add(0, &[]);
    meter
        .f64_counter("zero.double")
        .with_description("caf\u{e9} \u{0} \u{1f600}")
        .build()
        .add(0.0, &[KeyValue::new("", "")]);
    provider.force_flush().expect("flushed");
    provider.shutdown().expect("shut down");

    let collections = reference.lock().expect("not poisoned").clone();
    assert_eq!(flatten([collections[0].clone()]).len(), 5);
    let expected = flatten(collections);
    let points: u64 = expected
        .iter()
        .map(|delivered| data_points(&delivered.metric))
        .sum();
    assert!(receiver.wait_for_data_points(points, PATIENCE));
    assert_same(&flatten(receiver.accepted_metric_requests()), &expected);
}

#[test]
fn edge_metrics_arrive_as_opentelemetry_proto_converts_them_over_grpc() {
    edge_metrics_arrive_as_opentelemetry_proto_converts_them(Transport::Grpc);
}

#[test]
fn edge_metrics_arrive_as_opentelemetry_proto_converts_them_over_http_json() {
    edge_metrics_arrive_as_opentelemetry_proto_converts_them(Transport::HttpJson);
}

#[test]
fn from_a_disabled_configuration_the_metric_exporter_adapter_sends_nothing() {
    // Before, `OTEL_SDK_DISABLED=true` was ignored: every collection went
    // to the endpoint; and with `OTEL_METRICS_EXPORTER=none` every
    // collection failed, the SDK logging it.
    for off in [
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ] {
        let receiver = receiver();
        let metrics_url = receiver.http_metrics_url().expect("HTTP listener");
        let config = ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics_url.as_str()),
                off,
            ])
            .load()
            .expect("a valid configuration");
        let exporter = SdkMetricExporter::from_config(&config).expect("built from config");
        let setup = setup(exporter);
        setup
            .provider
            .meter("disabled")
            .u64_counter("ticks")
            .build()
            .add(2, &[]);
        setup.provider.force_flush().expect("flushed");
        let stats = setup.exporter.stats();
        assert_eq!((stats.batches, stats.failed), (0, 0), "{off:?}: {stats:?}");
        assert_eq!(
            receiver.request_count(),
            0,
            "{off:?}: {:?}",
            receiver.stats()
        );
        setup.provider.shutdown().expect("shut down");
    }
}

/// Shutting the adapter down while a collection's export waits out a
/// server's throttle hint (gRPC `UNAVAILABLE` with a 20 s `RetryInfo`, HTTP
/// 503 with `Retry-After: 20`) that its export timeout (a minute) leaves
/// room for but the shutdown's deadline (3 s) does not: the retry is called
/// off, shutdown answers as soon as nothing more can be sent, every data
/// point counted failed with the throttle as its cause. Found in review:
/// shutdown sat out its 3 s waiting for the export, answered `Ok` with the
/// points still in flight, and the export slept on to its retry.
#[test]
fn shutting_the_adapter_down_calls_off_a_retry_that_could_not_come_before_its_deadline() {
    for (kind, cause) in [
        (Transport::Grpc, "UNAVAILABLE"),
        (Transport::HttpProtobuf, "503"),
    ] {
        let receiver = receiver();
        receiver.set_fallback_fault(Some(Fault::UnavailableRetryAfter(Duration::from_secs(20))));
        let exporter = SdkMetricExporter::builder(transport(&receiver, kind, Signal::Metrics))
            .with_export_timeout(Duration::from_secs(60))
            .build()
            .expect("a metrics transport");
        let setup = setup(exporter);
        setup
            .provider
            .meter("m")
            .u64_counter("c")
            .build()
            .add(1, &[]);
        let flushing = setup.provider.clone();
        let flush = std::thread::spawn(move || flushing.force_flush());
        // The throttled answer is in: the delivery waits for its retry.
        let started = std::time::Instant::now();
        while setup.exporter.stats().last_error.is_none() {
            assert!(started.elapsed() < PATIENCE, "{kind:?}: no answer");
            std::thread::sleep(Duration::from_millis(10));
        }

        let result = setup.exporter.shutdown_with_timeout(Duration::from_secs(3));
        assert!(result.is_ok(), "{kind:?}: {result:?}");
        let stats = setup.exporter.stats();
        assert_eq!(
            (stats.received, stats.failed, stats.in_flight),
            (1, 1, 0),
            "{kind:?}: settled, not left in flight at the deadline: {stats:?}"
        );
        assert_eq!(
            stats.exported + stats.rejected + stats.failed,
            stats.received,
            "{kind:?}"
        );
        let last_error = stats.last_error.unwrap_or_default();
        assert!(
            last_error.contains(cause) && last_error.contains("shutdown deadline"),
            "{kind:?}: the cause and why it was not retried: {last_error}"
        );
        let flushed = flush.join().expect("the flushing thread");
        assert!(flushed.is_err(), "{kind:?}: {flushed:?}");
        assert_eq!(receiver.request_count(), 1, "{kind:?}: no retry was sent");
        // The reader's own shutdown finds the adapter shut down already.
        let _ = setup.provider.shutdown();
    }
}

/// A collection's export that the receiver never answers (`Fault::Hang`),
/// under a minute's export timeout: shutdown waits for it until its deadline,
/// ends it and returns, answering `Timeout`, since the data points were not
/// settled by then. Found in review: the answer was `Ok` with the points still
/// in flight, so a provider's shutdown reported success over a silent loss.
#[test]
fn shutdown_answers_timeout_when_an_export_is_still_in_flight_at_its_deadline() {
    for kind in [Transport::Grpc, Transport::HttpProtobuf] {
        let receiver = receiver();
        receiver.set_fallback_fault(Some(Fault::Hang));
        let exporter = SdkMetricExporter::builder(transport(&receiver, kind, Signal::Metrics))
            .with_export_timeout(Duration::from_secs(60))
            .build()
            .expect("a metrics transport");
        let setup = setup(exporter);
        setup
            .provider
            .meter("m")
            .u64_counter("c")
            .build()
            .add(1, &[]);
        let flushing = setup.provider.clone();
        let flush = std::thread::spawn(move || flushing.force_flush());
        assert!(
            receiver.wait_until(PATIENCE, |stats| stats.requests >= 1),
            "{kind:?}: the export started"
        );

        let deadline = Duration::from_millis(500);
        let started = Instant::now();
        let result = setup.exporter.shutdown_with_timeout(deadline);
        let took = started.elapsed();
        assert!(
            matches!(result, Err(OTelSdkError::Timeout(timeout)) if timeout == deadline),
            "{kind:?}: {result:?}"
        );
        assert!(took < deadline + SLACK, "{kind:?}: {took:?}");
        let flushed = flush.join().expect("the flushing thread");
        assert!(flushed.is_err(), "{kind:?}: {flushed:?}");
        let _ = setup.provider.shutdown();
    }
}
