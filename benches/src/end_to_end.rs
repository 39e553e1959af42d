//! Both span pipelines end to end, over a real transport to an OTLP
//! receiver: what the `compare` binary and the `end_to_end` suite run.
//!
//! - Ours ([`OursSender`]): `otlp_sdk::TracerProvider` with one
//!   `otlp_sdk::BatchSpanProcessor` at its **default settings** (queue bounded
//!   by 64 MiB of encoded spans, no cap on their count, batches of 512, up to 4 exports in flight, bounded backpressure when the
//!   queue is full) exporting through `otlp_exporter_grpc::GrpcExporter` or
//!   `otlp_exporter_http::HttpExporter` (protobuf), also at their defaults.
//!   [`OursSender::with_durable_queue`] is the same pipeline with
//!   `otlp_sdk`'s durable queue on (`BatchSpanProcessorBuilder::with_durable_queue`):
//!   every encoded request written to a directory before it is exported.
//! - The baseline ([`BaselineSender`]): `opentelemetry_sdk`'s
//!   `SdkTracerProvider` with its `BatchSpanProcessor` (the thread-based one)
//!   and `opentelemetry-otlp`'s `SpanExporter`, set up the way their
//!   documentation says: gRPC (tonic) built inside a tokio runtime that stays
//!   alive until shutdown (the sender owns a multi-threaded runtime, what
//!   `#[tokio::main]` gives), HTTP/protobuf through the blocking reqwest
//!   client (no runtime). The queue is the SDK's default (2,048, through
//!   `with_batch_exporter`) unless a size is given; everything else is default.
//!
//! Neither side compresses. Both send to the endpoints of an
//! `otlp_contrib::receiver::Receiver` ([`Endpoints`]).
//!
//! The producer's work is the same on both sides ([`Producer`]): for every
//! span, format its eight attribute values into reused buffers
//! ([`fixtures::write_attribute_values`](crate::fixtures::write_attribute_values)),
//! each [`ValueLen`] characters long (16 unless [`Producer::with_value_len`]
//! says otherwise),
//! then start a span, set the eight attributes and end it through the SDK's
//! public API ([`hot_path::record_ours`](crate::hot_path::record_ours) and
//! [`hot_path::record_baseline`](crate::hot_path::record_baseline)), with the
//! values handed over as [`ValueKind::Borrowed`] (each SDK makes its own
//! owned copy with its own API) or [`ValueKind::Owned`]. The control,
//! [`WorkloadOnly`], runs the same producer with no SDK behind it: the
//! workload's own cost, which both sides pay.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;

use crate::fixtures::{SCOPE_NAME, ValueLen, write_attribute_values_of_len};
use crate::hot_path::{ValueKind, record_baseline, record_ours};
use crate::pipeline::SERVICE_NAME;

/// The OTLP transport a sender uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
}

impl Transport {
    /// Both transports, gRPC first.
    pub const ALL: [Transport; 2] = [Transport::Grpc, Transport::Http];

    /// The name used on command lines and in ids (`grpc`, `http`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }

    /// The name in reports (`gRPC`, `HTTP/protobuf`).
    pub const fn label(self) -> &'static str {
        match self {
            Transport::Grpc => "gRPC",
            Transport::Http => "HTTP/protobuf",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "grpc" => Ok(Transport::Grpc),
            "http" => Ok(Transport::Http),
            other => Err(format!("unknown transport {other:?} (grpc or http)")),
        }
    }
}

/// Where a receiver listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// gRPC endpoint, `http://127.0.0.1:PORT`.
    pub grpc: String,
    /// HTTP base endpoint, `http://127.0.0.1:PORT` (traces go to `/v1/traces`).
    pub http: String,
}

impl Endpoints {
    /// The endpoints of a running receiver (both listeners on).
    pub fn of(receiver: &otlp_contrib::receiver::Receiver) -> Self {
        Endpoints {
            grpc: receiver.grpc_endpoint().expect("the receiver serves gRPC"),
            http: receiver.http_endpoint().expect("the receiver serves HTTP"),
        }
    }

    /// The full OTLP/HTTP traces URL.
    pub fn http_traces_url(&self) -> String {
        format!("{}/v1/traces", self.http.trim_end_matches('/'))
    }
}

/// Makes ring the process-wide rustls provider, once; later calls do nothing.
///
/// reqwest in this workspace is built without a provider of its own (ring
/// only, no aws-lc-rs), so the baseline's blocking client cannot be built
/// before this runs, even for `http://` (api-notes §5 and §6). Our exporters
/// need none (with none installed they build on ring themselves); with this
/// one installed they use it, which is ring as well.
pub fn install_ring_provider() {
    #[allow(deprecated)] // ring's provider, deprecated in rustls 0.23.48 (no post-quantum)
    let ring = rustls::crypto::ring::default_provider();
    let _ = ring.install_default();
}

/// One side of the end-to-end comparison.
pub trait Sender {
    /// Starts, fills and ends one span with these attribute values.
    fn record(&self, kind: ValueKind, values: &[String; 8]);

    /// Starts a span with these values and keeps it open (the current span
    /// of this thread, where the door has one) while `children` records its
    /// children through [`record`](Self::record), then ends it: the nested
    /// shape of [`Shape::Nested`]. `children` may overwrite `values`. By
    /// default (a door with no current span) the span is recorded alone and
    /// the children after it, as roots of their own.
    #[inline]
    fn record_root(
        &self,
        kind: ValueKind,
        values: &mut [String; 8],
        children: &mut dyn FnMut(&mut [String; 8]),
    ) {
        self.record(kind, values);
        children(values);
    }

    /// Exports everything recorded so far; `Err` says why it did not.
    fn flush(&self) -> Result<(), String>;

    /// Exports what is left and stops the pipeline, waiting at most `timeout`.
    fn shutdown(&self, timeout: Duration) -> Result<(), String>;
}

/// An otlp-sdk batch pipeline at its default settings, exporting to
/// `endpoints` over `transport` with our exporter.
pub fn default_pipeline(
    transport: Transport,
    endpoints: &Endpoints,
) -> Result<otlp_sdk::BatchSpanProcessor, String> {
    pipeline(transport, endpoints, None)
}

/// The same pipeline, with the durable queue on (`durable`: its directory
/// and settings) or off (`None`: [`default_pipeline`]); every other setting
/// at its default.
pub fn pipeline(
    transport: Transport,
    endpoints: &Endpoints,
    durable: Option<otlp_sdk::durable::DurableConfig>,
) -> Result<otlp_sdk::BatchSpanProcessor, String> {
    fn build<E: otlp_sdk::Exporter>(
        exporter: E,
        durable: Option<otlp_sdk::durable::DurableConfig>,
    ) -> Result<otlp_sdk::BatchSpanProcessor, String> {
        let builder = otlp_sdk::BatchSpanProcessor::builder(exporter);
        match durable {
            None => builder,
            Some(config) => builder.with_durable_queue(config),
        }
        .build()
        .map_err(|error| error.to_string())
    }
    match transport {
        Transport::Grpc => {
            let exporter = otlp_exporter_grpc::GrpcExporter::builder()
                .endpoint(endpoints.grpc.clone())
                .build()
                .map_err(|error| error.to_string())?;
            build(exporter, durable)
        }
        Transport::Http => {
            let exporter = otlp_exporter_http::HttpExporter::builder()
                .endpoint(endpoints.http.clone())
                .build()
                .map_err(|error| error.to_string())?;
            build(exporter, durable)
        }
    }
}

/// Ours: `otlp-sdk` with our exporter, default settings; see the module docs.
pub struct OursSender {
    /// The provider.
    pub provider: otlp_sdk::TracerProvider,
    /// A tracer for [`SCOPE_NAME`].
    pub tracer: otlp_sdk::Tracer,
    /// The batch processor, for its stats.
    pub processor: otlp_sdk::BatchSpanProcessor,
}

impl OursSender {
    /// A pipeline sending to `endpoints` over `transport`, all defaults.
    pub fn new(transport: Transport, endpoints: &Endpoints) -> Result<Self, String> {
        Self::with_durable_queue(transport, endpoints, None)
    }

    /// The same pipeline with the durable queue on (`durable`: its
    /// directory and settings; the `fsync` policy included) or off (`None`).
    pub fn with_durable_queue(
        transport: Transport,
        endpoints: &Endpoints,
        durable: Option<otlp_sdk::durable::DurableConfig>,
    ) -> Result<Self, String> {
        let processor = pipeline(transport, endpoints, durable)?;
        let provider = otlp_sdk::TracerProvider::builder()
            .with_service_name(SERVICE_NAME)
            .with_processor(processor.clone())
            .build();
        let tracer = provider.tracer(SCOPE_NAME);
        Ok(OursSender {
            provider,
            tracer,
            processor,
        })
    }

    /// The processor's counters.
    pub fn stats(&self) -> otlp_sdk::StatsSnapshot {
        self.processor.stats()
    }
}

impl Sender for OursSender {
    #[inline]
    fn record(&self, kind: ValueKind, values: &[String; 8]) {
        record_ours(&self.tracer, kind, values);
    }

    fn flush(&self) -> Result<(), String> {
        self.provider
            .force_flush(FLUSH_TIMEOUT)
            .map_err(|error| error.to_string())
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.provider
            .shutdown(timeout)
            .map_err(|error| error.to_string())
    }
}

/// How long a flush may take (the baseline's `force_flush` has its own,
/// fixed 5 s).
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The baseline: `opentelemetry_sdk` + `opentelemetry-otlp`; see the module docs.
pub struct BaselineSender {
    /// The provider.
    pub provider: opentelemetry_sdk::trace::SdkTracerProvider,
    /// A tracer for [`SCOPE_NAME`].
    pub tracer: opentelemetry_sdk::trace::SdkTracer,
    /// The runtime the gRPC exporter's channel lives on (gRPC only). Dropped
    /// after the provider, so it outlives every export.
    runtime: Option<tokio::runtime::Runtime>,
}

impl BaselineSender {
    /// A pipeline sending to `endpoints` over `transport`, with the batch
    /// processor's default queue (`None`, through `with_batch_exporter`) or
    /// a queue of `max_queue_size` spans (other settings default).
    pub fn new(
        transport: Transport,
        endpoints: &Endpoints,
        max_queue_size: Option<usize>,
    ) -> Result<Self, String> {
        Self::with_exporter(transport, endpoints, max_queue_size, |exporter| exporter)
    }

    /// The same pipeline with its `opentelemetry-otlp` exporter wrapped by
    /// `wrap` (to count what the batch processor hands it, say).
    pub fn with_exporter<E: opentelemetry_sdk::trace::SpanExporter + 'static>(
        transport: Transport,
        endpoints: &Endpoints,
        max_queue_size: Option<usize>,
        wrap: impl FnOnce(opentelemetry_otlp::SpanExporter) -> E,
    ) -> Result<Self, String> {
        let (exporter, runtime) = match transport {
            Transport::Grpc => {
                // The tonic exporter must be built inside a runtime, which
                // then drives its connection until shutdown.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|error| format!("tokio runtime: {error}"))?;
                let exporter = {
                    let _entered = runtime.enter();
                    opentelemetry_otlp::SpanExporter::builder()
                        .with_tonic()
                        .with_endpoint(endpoints.grpc.clone())
                        .build()
                };
                (exporter, Some(runtime))
            }
            Transport::Http => {
                install_ring_provider();
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(endpoints.http_traces_url())
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .build();
                (exporter, None)
            }
        };
        let exporter = wrap(exporter.map_err(|error| error.to_string())?);
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(SERVICE_NAME)
            .build();
        let builder =
            opentelemetry_sdk::trace::SdkTracerProvider::builder().with_resource(resource);
        let provider = match max_queue_size {
            None => builder.with_batch_exporter(exporter),
            Some(size) => {
                let config = opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_max_queue_size(size)
                    .build();
                let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
                    .with_batch_config(config)
                    .build();
                builder.with_span_processor(processor)
            }
        }
        .build();
        let tracer = provider.tracer(SCOPE_NAME);
        Ok(BaselineSender {
            provider,
            tracer,
            runtime,
        })
    }
}

impl Sender for BaselineSender {
    #[inline]
    fn record(&self, kind: ValueKind, values: &[String; 8]) {
        record_baseline(&self.tracer, kind, values);
    }

    fn flush(&self) -> Result<(), String> {
        self.provider
            .force_flush()
            .map_err(|error| error.to_string())
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.provider
            .shutdown_with_timeout(timeout)
            .map_err(|error| error.to_string())
    }
}

impl Drop for BaselineSender {
    fn drop(&mut self) {
        // The provider shuts down when its last clone drops; that must
        // happen while the gRPC runtime still runs. `shutdown` may already
        // have run: a second one only returns an error.
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The control of the comparison: no SDK at all. Each span's values are
/// formatted by the same [`Producer`] loop and handed to
/// [`std::hint::black_box`] instead of a tracer, so a sender built on it
/// costs the workload alone (formatting into reused buffers, and the pacing
/// loop around it); what a pipeline's sender costs beyond that is the
/// pipeline's own. With [`ValueKind::Owned`] the workload includes what the
/// SDK rows' caller does before it hands the values over: a `String` per
/// value (eight allocations per span, freed at once here); otherwise it
/// never allocates. Never blocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkloadOnly;

impl Sender for WorkloadOnly {
    #[inline]
    fn record(&self, kind: ValueKind, values: &[String; 8]) {
        match kind {
            // The SDK rows' caller builds an owned `String` per value
            // (`record_ours`, `record_baseline`): that is workload too.
            ValueKind::Owned => {
                for value in values {
                    drop(std::hint::black_box(value.clone()));
                }
            }
            // The values must be made as if something read them.
            ValueKind::Borrowed | ValueKind::Static => {
                std::hint::black_box((kind, values));
            }
        }
    }

    fn flush(&self) -> Result<(), String> {
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> Result<(), String> {
        Ok(())
    }
}

/// The shape of what a producer makes per unit of work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// One span at a time, each a root of its own.
    #[default]
    Flat,
    /// One root span and [`NESTED_CHILDREN`] children made while it is
    /// open (the current span, through `tracing`): [`NESTED_UNIT`] spans.
    Nested,
}

/// Children of the root in [`Shape::Nested`].
pub const NESTED_CHILDREN: u64 = 9;
/// Spans of one unit of [`Shape::Nested`]: the root and its children.
pub const NESTED_UNIT: u64 = 1 + NESTED_CHILDREN;

impl Shape {
    /// Both shapes, flat first.
    pub const ALL: [Shape; 2] = [Shape::Flat, Shape::Nested];

    /// Spans per unit of work.
    pub const fn unit(self) -> u64 {
        match self {
            Shape::Flat => 1,
            Shape::Nested => NESTED_UNIT,
        }
    }

    /// The name on command lines (`flat`, `nested`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Nested => "nested",
        }
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "flat" => Ok(Shape::Flat),
            "nested" => Ok(Shape::Nested),
            other => Err(format!("unknown shape {other:?} (flat or nested)")),
        }
    }
}

/// The producer both sides share: formats each span's values into reused
/// buffers, then records the span; see the module docs.
#[derive(Debug)]
pub struct Producer {
    kind: ValueKind,
    len: ValueLen,
    values: [String; 8],
    first: u64,
    next: u64,
}

impl Producer {
    /// A producer handing values over as `kind`, starting at span 0.
    pub fn new(kind: ValueKind) -> Self {
        Self::starting_at(kind, 0)
    }

    /// A producer whose first span is the `first`-th of the fixtures (so
    /// that several producer threads make different values).
    pub fn starting_at(kind: ValueKind, first: u64) -> Self {
        Producer {
            kind,
            len: ValueLen::DEFAULT,
            values: Default::default(),
            first,
            next: first,
        }
    }

    /// The same producer, formatting every value `len` characters long
    /// ([`write_attribute_values_of_len`]) instead of the default 16.
    pub fn with_value_len(self, len: ValueLen) -> Self {
        Producer { len, ..self }
    }

    /// Formats and records the next `spans` spans on `sender`.
    #[inline]
    pub fn produce<S: Sender + ?Sized>(&mut self, sender: &S, spans: u64) {
        for _ in 0..spans {
            write_attribute_values_of_len(self.next, self.len, &mut self.values);
            sender.record(self.kind, &self.values);
            self.next += 1;
        }
    }

    /// Formats and records the next `units` units of `shape`
    /// ([`Shape::unit`] spans each) on `sender`; every span of a nested
    /// unit has its own eight values, formatted just before it starts.
    #[inline]
    pub fn produce_units<S: Sender + ?Sized>(&mut self, sender: &S, shape: Shape, units: u64) {
        match shape {
            Shape::Flat => self.produce(sender, units),
            Shape::Nested => {
                for _ in 0..units {
                    write_attribute_values_of_len(self.next, self.len, &mut self.values);
                    self.next += 1;
                    let (kind, len) = (self.kind, self.len);
                    let next = &mut self.next;
                    sender.record_root(kind, &mut self.values, &mut |values| {
                        for _ in 0..NESTED_CHILDREN {
                            write_attribute_values_of_len(*next, len, values);
                            sender.record(kind, values);
                            *next += 1;
                        }
                    });
                }
            }
        }
    }

    /// Spans produced so far.
    pub fn produced(&self) -> u64 {
        self.next - self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};

    #[test]
    fn both_senders_deliver_every_span_over_both_transports() {
        let receiver = Receiver::start(ReceiverConfig {
            store: Store::CountOnly,
            ..ReceiverConfig::default()
        })
        .expect("receiver");
        let endpoints = Endpoints::of(&receiver);
        let mut expected = 0;
        for transport in Transport::ALL {
            let ours = OursSender::new(transport, &endpoints).expect("ours");
            let mut producer = Producer::new(ValueKind::Borrowed);
            producer.produce(&ours, 300);
            ours.shutdown(Duration::from_secs(10))
                .expect("ours shuts down");
            let stats = ours.stats();
            assert_eq!((stats.produced, stats.exported), (300, 300), "{stats:?}");
            expected += 300;
            assert!(receiver.wait_for_spans(expected, Duration::from_secs(10)));

            for queue in [None, Some(4_096)] {
                let baseline = BaselineSender::new(transport, &endpoints, queue).expect("baseline");
                let mut producer = Producer::new(ValueKind::Owned);
                producer.produce(&baseline, 300);
                baseline.flush().expect("baseline flushes");
                baseline
                    .shutdown(Duration::from_secs(10))
                    .expect("baseline shuts down");
                expected += 300;
                assert!(
                    receiver.wait_for_spans(expected, Duration::from_secs(10)),
                    "{transport} {queue:?}: {}",
                    receiver.span_count()
                );
            }
        }
        assert_eq!(receiver.span_count(), expected);
        assert_eq!(receiver.stats().bad_requests, 0);
    }

    /// Notes the length of every value it is handed.
    #[derive(Default)]
    struct ValueLengths(std::sync::Mutex<Vec<usize>>);

    impl Sender for ValueLengths {
        fn record(&self, _kind: ValueKind, values: &[String; 8]) {
            let mut lengths = self.0.lock().expect("no test panics while holding it");
            lengths.extend(values.iter().map(String::len));
        }

        fn flush(&self) -> Result<(), String> {
            Ok(())
        }

        fn shutdown(&self, _timeout: Duration) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn a_producer_hands_over_values_of_the_length_it_was_given_in_either_shape() {
        let len = ValueLen::new(40).expect("40 is within the range");
        for shape in Shape::ALL {
            let sender = ValueLengths::default();
            Producer::new(ValueKind::Borrowed)
                .with_value_len(len)
                .produce_units(&sender, shape, 3);
            let lengths = sender.0.into_inner().expect("not poisoned");
            assert_eq!(lengths.len() as u64, 3 * shape.unit() * 8, "{shape:?}");
            assert!(lengths.iter().all(|&length| length == 40), "{lengths:?}");

            let default = ValueLengths::default();
            Producer::new(ValueKind::Owned).produce_units(&default, shape, 1);
            let lengths = default.0.into_inner().expect("not poisoned");
            assert!(lengths.iter().all(|&length| length == 16), "{lengths:?}");
        }
    }

    #[test]
    fn transports_parse_from_their_names() {
        for transport in Transport::ALL {
            assert_eq!(transport.as_str().parse::<Transport>(), Ok(transport));
        }
        assert!("json".parse::<Transport>().is_err());
    }
}
