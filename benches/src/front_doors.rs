//! The front doors Rust programs enter a span pipeline through, for the
//! `compare` binary's `front-doors` scenario.
//!
//! [`end_to_end`](crate::end_to_end) records spans through each SDK's own
//! tracer. Programs mostly do not: they use the `opentelemetry` API, or
//! `tracing` with `tracing-opentelemetry` in front of it. This module builds
//! both doors in front of both pipelines:
//!
//! | door | otlp-rust | baseline |
//! |---|---|---|
//! | `opentelemetry` API | `opentelemetry_sdk::trace::SdkTracerProvider` + [`OtlpSpanProcessor`] over an `otlp_sdk::BatchSpanProcessor` ([`BridgeSender`]) | [`BaselineSender`] (the SDK's batch processor + `opentelemetry-otlp`) |
//! | `tracing` | `tracing-opentelemetry` over the bridge ([`TracingSender`] of a [`BridgeSender`]) | `tracing-opentelemetry` over [`BaselineSender`] |
//! | `tracing`, filtered | — | `tracing-opentelemetry` over [`BaselineSender`] behind [`documented_filter`] ([`TracingSender::install_filtered`]) |
//! | `tracing`, native | `otlp_contrib::tracing::OtlpLayer` over otlp-sdk's own pipeline ([`LayerSender`]) | — |
//!
//! Every pipeline runs at its defaults, set up as its documentation says
//! (the bridge: `OtlpSpanProcessor::new(pipeline)` on the SDK's provider; the
//! `tracing` door: `tracing_subscriber::registry().with(layer)` installed as
//! the **global** subscriber, so that whatever the pipeline's own threads
//! record with `tracing` (h2, hyper, tonic, tower) reaches it too, as it does
//! in a program).
//!
//! The span is the same in every door: [`SPAN_NAME`], eight string
//! attributes keyed
//! [`ATTRIBUTE_KEYS`](crate::fixtures::ATTRIBUTE_KEYS), values borrowed as `&str` (each side
//! makes its own owned copy). Through `tracing` ([`tracing_span`]) it is an
//! `info_span!` with the eight values as fields, created and closed at once
//! (flat), or, in the nested shape ([`Shape::Nested`](crate::end_to_end::Shape)),
//! a root span entered while its nine children are made and closed.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use otlp_contrib::bridge::OtlpSpanProcessor;
use otlp_contrib::tracing::OtlpLayer;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::end_to_end::{
    BaselineSender, Endpoints, OursSender, Sender, Transport, default_pipeline,
};
use crate::fixtures::SCOPE_NAME;
use crate::hot_path::{SPAN_NAME, ValueKind, record_baseline};
use crate::logs::documented_filter;
use crate::pipeline::SERVICE_NAME;

/// otlp-rust behind the `opentelemetry` API: the SDK's provider with an
/// [`OtlpSpanProcessor`] feeding an `otlp_sdk::BatchSpanProcessor` at its
/// defaults, exporting through our gRPC or HTTP exporter (defaults).
pub struct BridgeSender {
    /// The provider.
    pub provider: opentelemetry_sdk::trace::SdkTracerProvider,
    /// A tracer for [`SCOPE_NAME`].
    pub tracer: opentelemetry_sdk::trace::SdkTracer,
    /// The otlp-sdk pipeline behind the bridge, for its stats.
    pub pipeline: otlp_sdk::BatchSpanProcessor,
}

impl BridgeSender {
    /// A provider sending to `endpoints` over `transport` through the bridge.
    pub fn new(transport: Transport, endpoints: &Endpoints) -> Result<Self, String> {
        let pipeline = default_pipeline(transport, endpoints)?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(SERVICE_NAME)
            .build();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_resource(resource)
            .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
            .build();
        let tracer = provider.tracer(SCOPE_NAME);
        Ok(BridgeSender {
            provider,
            tracer,
            pipeline,
        })
    }

    /// The otlp-sdk pipeline's counters.
    pub fn stats(&self) -> otlp_sdk::StatsSnapshot {
        self.pipeline.stats()
    }
}

impl Sender for BridgeSender {
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

/// A provider of the `opentelemetry` API that a `tracing-opentelemetry`
/// layer can sit in front of.
pub trait ApiProvider: Sender {
    /// A tracer of this provider for [`SCOPE_NAME`].
    fn api_tracer(&self) -> opentelemetry_sdk::trace::SdkTracer;
}

impl ApiProvider for BridgeSender {
    fn api_tracer(&self) -> opentelemetry_sdk::trace::SdkTracer {
        self.tracer.clone()
    }
}

impl ApiProvider for BaselineSender {
    fn api_tracer(&self) -> opentelemetry_sdk::trace::SdkTracer {
        self.tracer.clone()
    }
}

/// `OtlpLayer` on `provider` as every benchmark builds it: its scope
/// [`SCOPE_NAME`] (the other doors' tracers'), the thread and target
/// attributes on (`with_threads`, `with_target`), so that it writes what
/// [`baseline_layer`] writes; the rest at its defaults.
pub fn otlp_layer<S>(provider: &otlp_sdk::TracerProvider) -> OtlpLayer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    OtlpLayer::builder(provider)
        .with_scope(otlp_core::InstrumentationScope::new(SCOPE_NAME))
        .with_threads(true)
        .with_target(true)
        .build()
}

/// `tracing_opentelemetry::layer()` on `tracer`, doing the work
/// [`LayerSender`]'s `OtlpLayer` does: its defaults (code location, thread
/// and target attributes) but its busy and idle times, which it writes as
/// `busy_ns` and `idle_ns` (`with_tracked_inactivity`, on by default) and
/// `OtlpLayer` never does, off; with them on, each span costs it two
/// clock reads and two attributes more, and the ratios would flatter
/// `OtlpLayer`. The `tracing_layer` criterion suite builds its baseline the
/// same way.
pub fn baseline_layer<S, T>(tracer: T) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
}

/// `tracing` in front of a provider: `tracing_subscriber::registry()` with
/// a `tracing_opentelemetry::layer()` on the provider's tracer, installed as
/// the process's global subscriber by [`install`](Self::install). Each span
/// is an `info_span!` with the eight attributes as `&str` fields, created
/// and closed at once.
pub struct TracingSender<P> {
    /// The pipeline behind the layer.
    pub inner: P,
}

impl<P: ApiProvider> TracingSender<P> {
    /// Installs the layer over `inner` as the global subscriber, no filter
    /// (as `tracing-opentelemetry`'s examples do), its busy and idle times
    /// off ([`baseline_layer`]). Fails if the process already has one (a
    /// process gets one door).
    pub fn install(inner: P) -> Result<Self, String> {
        let subscriber = tracing_subscriber::registry().with(baseline_layer(inner.api_tracer()));
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|error| format!("cannot install the global subscriber: {error}"))?;
        Ok(TracingSender { inner })
    }

    /// Installs the layer over `inner` as the global subscriber behind
    /// [`documented_filter`]: `INFO` and above, the exporters' own crates
    /// (`h2`, `hyper`, `tonic`, `tower`, `reqwest`) off, so that the spans
    /// the pipeline's transport records on its own threads never reach it,
    /// the set-up a user who knows about the feedback writes. Its cost (a
    /// per-layer filter) is part of what the row measures. Fails if the
    /// process already has a global subscriber.
    pub fn install_filtered(inner: P) -> Result<Self, String> {
        let layer = baseline_layer(inner.api_tracer()).with_filter(documented_filter());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|error| format!("cannot install the global subscriber: {error}"))?;
        Ok(TracingSender { inner })
    }
}

/// The `tracing` span every `tracing` door makes: an `info_span!` named
/// [`SPAN_NAME`] with the eight values as `&str` fields, its parent the
/// current span (if any).
#[inline]
pub fn tracing_span(values: &[String; 8]) -> tracing::Span {
    tracing::info_span!(
        target: SCOPE_NAME,
        SPAN_NAME,
        http.route = values[0].as_str(),
        url.path = values[1].as_str(),
        server.address = values[2].as_str(),
        user_agent.original = values[3].as_str(),
        network.peer.address = values[4].as_str(),
        enduser.id = values[5].as_str(),
        app.tenant.id = values[6].as_str(),
        app.request.id = values[7].as_str(),
    )
}

/// The nested shape through `tracing`: the root span made, entered while
/// `children` makes its children (their parent: the current span), closed.
#[inline]
fn record_tracing_root(values: &mut [String; 8], children: &mut dyn FnMut(&mut [String; 8])) {
    let root = tracing_span(values);
    {
        let _entered = root.enter();
        children(values);
    }
    drop(root);
}

impl<P: Sender> Sender for TracingSender<P> {
    #[inline]
    fn record(&self, _kind: ValueKind, values: &[String; 8]) {
        drop(tracing_span(values));
    }

    #[inline]
    fn record_root(
        &self,
        _kind: ValueKind,
        values: &mut [String; 8],
        children: &mut dyn FnMut(&mut [String; 8]),
    ) {
        record_tracing_root(values, children);
    }

    fn flush(&self) -> Result<(), String> {
        self.inner.flush()
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.inner.shutdown(timeout)
    }
}

/// `tracing` straight into otlp-sdk: `tracing_subscriber::registry()` with
/// `otlp_contrib::tracing::OtlpLayer` on an [`OursSender`]'s provider (its
/// pipeline at its defaults, our exporters), installed as the process's
/// global subscriber by [`install`](Self::install). The layer's scope is
/// [`SCOPE_NAME`], as the other doors' tracers'; the thread and target
/// attributes are on (`with_threads`, `with_target`), so that each span
/// carries what `tracing-opentelemetry` writes by default but its busy and
/// idle times (`busy_ns`, `idle_ns`), which `OtlpLayer` never writes and
/// [`baseline_layer`] turns off; everything else is the layer's default, the code location attributes included. The spans
/// are those of [`tracing_span`]. The pipeline's own threads record
/// nothing: their dispatcher is a no-op.
pub struct LayerSender {
    /// The otlp-sdk pipeline behind the layer.
    pub inner: OursSender,
}

impl LayerSender {
    /// Installs the layer over a new default pipeline to `endpoints` as the
    /// global subscriber. Fails if the process already has one.
    pub fn install(transport: Transport, endpoints: &Endpoints) -> Result<Self, String> {
        let inner = OursSender::new(transport, endpoints)?;
        let subscriber = tracing_subscriber::registry().with(otlp_layer(&inner.provider));
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|error| format!("cannot install the global subscriber: {error}"))?;
        Ok(LayerSender { inner })
    }

    /// The otlp-sdk pipeline's counters.
    pub fn stats(&self) -> otlp_sdk::StatsSnapshot {
        self.inner.stats()
    }
}

impl Sender for LayerSender {
    #[inline]
    fn record(&self, _kind: ValueKind, values: &[String; 8]) {
        drop(tracing_span(values));
    }

    #[inline]
    fn record_root(
        &self,
        _kind: ValueKind,
        values: &mut [String; 8],
        children: &mut dyn FnMut(&mut [String; 8]),
    ) {
        record_tracing_root(values, children);
    }

    fn flush(&self) -> Result<(), String> {
        self.inner.flush()
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.inner.shutdown(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::end_to_end::Producer;
    use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};

    #[test]
    fn the_bridge_delivers_every_span_over_both_transports() {
        let receiver = Receiver::start(ReceiverConfig {
            store: Store::CountOnly,
            ..ReceiverConfig::default()
        })
        .expect("receiver");
        let endpoints = Endpoints::of(&receiver);
        let mut expected = 0;
        for transport in Transport::ALL {
            let bridge = BridgeSender::new(transport, &endpoints).expect("bridge");
            let mut producer = Producer::new(ValueKind::Borrowed);
            producer.produce(&bridge, 300);
            bridge
                .shutdown(Duration::from_secs(10))
                .expect("the bridge shuts down");
            let stats = bridge.stats();
            assert_eq!((stats.produced, stats.exported), (300, 300), "{stats:?}");
            expected += 300;
            assert!(receiver.wait_for_spans(expected, Duration::from_secs(10)));
        }
    }
}
