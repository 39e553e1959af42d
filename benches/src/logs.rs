//! Log records through `tracing`, for the `compare` binary's `logs` scenario
//! (issue 16): the same `tracing` events into otlp-sdk's log pipeline and
//! into the baseline's.
//!
//! | row | front door | pipeline |
//! |---|---|---|
//! | [`OursLogs::install_layer`] | `tracing` + `otlp_contrib::tracing::OtlpLogLayer::new` | otlp-sdk `LoggerProvider` + `BatchLogProcessor` at its log defaults (`BatchConfig::logs_default`), our gRPC or HTTP exporter for `Signal::Logs` |
//! | [`OursLogs::native`] | `otlp_sdk::Logger::emit` (no `tracing`) | the same |
//! | [`BaselineLogs::install`] | `tracing` + `opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new` | `opentelemetry_sdk::logs::SdkLoggerProvider` + its `BatchLogProcessor` (queue: its default, 2,048, or a given size) + `opentelemetry_otlp::LogExporter` (tonic in a tokio runtime, or HTTP/protobuf through the blocking reqwest client) |
//!
//! The event is the same on every `tracing` row ([`log_event`]): an
//! `info!` with eight `&str` fields keyed
//! [`ATTRIBUTE_KEYS`] (the span benches'
//! values, [`write_attribute_values`](crate::fixtures::write_attribute_values))
//! and the message [`LOG_MESSAGE`], which becomes the record's body on both
//! sides. Each layer is installed as the **global** subscriber, as programs
//! do, behind the same filter ([`documented_filter`]): `INFO` and above,
//! with `hyper`, `tonic`, `h2`, `tower` and `reqwest` off, as
//! `opentelemetry-appender-tracing`'s `logs-basic` example sets it up to
//! keep the exporter's own events from feeding back into the pipeline (the
//! baseline suppresses only its own SDK's). The same filter in front of
//! otlp-sdk keeps the per-event work identical; its threads record nothing
//! anyway.
//!
//! [`Shape::InSpan`] emits the events inside a plain `tracing` span (one
//! `info_span!` entered around every ten events), recorded by the registry
//! alone: no span layer on either side, so no span is exported and no trace
//! id is attached; it measures what a layer pays for looking at the current
//! span.

use std::time::Duration;

use opentelemetry_otlp::WithExportConfig as _;
use otlp_contrib::tracing::OtlpLogLayer;
use otlp_core::{AnyValue, KeyValue, LogRecord, Severity, Str};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::end_to_end::{Endpoints, Transport, install_ring_provider};
use crate::fixtures::{ATTRIBUTE_KEYS, SCOPE_NAME};
use crate::pipeline::SERVICE_NAME;

/// The message of every event: the record's body on both sides, and what
/// the receiver counts a record of the load by.
pub const LOG_MESSAGE: &str = "request served";

/// Events per span in [`Shape::InSpan`].
pub const EVENTS_PER_SPAN: u64 = 10;

/// How events are emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// Outside any span.
    Flat,
    /// Inside a registry-only span, [`EVENTS_PER_SPAN`] events per span.
    InSpan,
}

impl Shape {
    /// Both, in report order.
    pub const ALL: [Shape; 2] = [Shape::Flat, Shape::InSpan];

    /// The name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::InSpan => "in-span",
        }
    }

    /// Reads a command-line name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "flat" => Ok(Shape::Flat),
            "in-span" => Ok(Shape::InSpan),
            other => Err(format!("unknown log shape {other:?} (flat or in-span)")),
        }
    }
}

/// The filter in front of every layer: `INFO` and above, the exporters'
/// own crates off (see the module docs). Cost: one lookup of the event's
/// target among five prefixes, cached per call site by `tracing`.
pub fn documented_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
}

/// The event of every `tracing` row: `info!` with the eight values as
/// `&str` fields and [`LOG_MESSAGE`], target [`SCOPE_NAME`].
#[inline]
pub fn log_event(values: &[String; 8]) {
    tracing::event!(
        target: SCOPE_NAME,
        tracing::Level::INFO,
        http.route = values[0].as_str(),
        url.path = values[1].as_str(),
        server.address = values[2].as_str(),
        user_agent.original = values[3].as_str(),
        network.peer.address = values[4].as_str(),
        enduser.id = values[5].as_str(),
        app.tenant.id = values[6].as_str(),
        app.request.id = values[7].as_str(),
        "request served"
    );
}

/// The span around [`EVENTS_PER_SPAN`] events in [`Shape::InSpan`].
#[inline]
pub fn request_span() -> tracing::Span {
    tracing::info_span!(target: SCOPE_NAME, "request")
}

/// Makes the global subscriber `registry().with(layer.with_filter(documented_filter()))`.
fn install_global<L>(layer: L) -> Result<(), String>
where
    L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(documented_filter()));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|error| format!("cannot install the global subscriber: {error}"))
}

/// One side of the comparison, whatever its door: emits one record of the
/// load, shuts down.
pub trait LogSender {
    /// Emits the record made of `values`.
    fn emit(&self, values: &[String; 8]);

    /// Exports what is left and stops, within `timeout`.
    fn shutdown(&self, timeout: Duration) -> Result<(), String>;
}

/// otlp-sdk's log pipeline at its defaults: a `LoggerProvider` (service
/// name [`SERVICE_NAME`]) with a `BatchLogProcessor` built by
/// `BatchLogProcessor::builder(exporter)` (the log defaults of
/// `BatchConfig::logs_default`), our exporter for `Signal::Logs` (defaults
/// but the endpoint).
pub struct OursLogs {
    /// The provider.
    pub provider: otlp_sdk::LoggerProvider,
    /// The processor, for its counters.
    pub processor: otlp_sdk::BatchLogProcessor,
    /// A logger for [`SCOPE_NAME`], for the native door.
    logger: otlp_sdk::Logger,
    /// Whether records go through `tracing` (the layer is installed) or
    /// straight to [`otlp_sdk::Logger::emit`].
    through_tracing: bool,
}

impl OursLogs {
    fn new(
        transport: Transport,
        endpoints: &Endpoints,
        through_tracing: bool,
    ) -> Result<Self, String> {
        fn build<E: otlp_sdk::Exporter>(
            exporter: E,
        ) -> Result<otlp_sdk::BatchLogProcessor, String> {
            otlp_sdk::BatchLogProcessor::builder(exporter)
                .build()
                .map_err(|error| error.to_string())
        }
        let processor = match transport {
            Transport::Grpc => build(
                otlp_exporter_grpc::GrpcExporter::builder()
                    .endpoint(endpoints.grpc.clone())
                    .signal(otlp_sdk::Signal::Logs)
                    .build()
                    .map_err(|error| error.to_string())?,
            )?,
            Transport::Http => build(
                otlp_exporter_http::HttpExporter::builder()
                    .endpoint(endpoints.http.clone())
                    .signal(otlp_sdk::Signal::Logs)
                    .build()
                    .map_err(|error| error.to_string())?,
            )?,
        };
        let provider = otlp_sdk::LoggerProvider::builder()
            .with_service_name(SERVICE_NAME)
            .with_processor(processor.clone())
            .build();
        let logger = provider.logger(SCOPE_NAME);
        Ok(OursLogs {
            provider,
            processor,
            logger,
            through_tracing,
        })
    }

    /// `tracing` + `OtlpLogLayer::new(&provider)`, installed as the global
    /// subscriber (behind [`documented_filter`]). Fails if the process
    /// already has one.
    pub fn install_layer(transport: Transport, endpoints: &Endpoints) -> Result<Self, String> {
        let ours = OursLogs::new(transport, endpoints, true)?;
        install_global(OtlpLogLayer::new(&ours.provider))?;
        Ok(ours)
    }

    /// The native door: each record built with `LogRecord::builder` (time,
    /// severity `INFO`, body, the eight attributes as owned copies) and
    /// handed to `Logger::emit`; no `tracing` at all.
    pub fn native(transport: Transport, endpoints: &Endpoints) -> Result<Self, String> {
        OursLogs::new(transport, endpoints, false)
    }

    /// The processor's counters.
    pub fn stats(&self) -> otlp_sdk::StatsSnapshot {
        self.processor.stats()
    }
}

impl LogSender for OursLogs {
    #[inline]
    fn emit(&self, values: &[String; 8]) {
        if self.through_tracing {
            log_event(values);
            return;
        }
        let record =
            LogRecord::builder()
                .time_unix_nano(otlp_core::clock::now_unix_nanos())
                .severity(Severity::INFO)
                .severity_text("INFO")
                .body(LOG_MESSAGE)
                .attributes(ATTRIBUTE_KEYS.into_iter().zip(values).map(|(key, value)| {
                    KeyValue::new(key, AnyValue::String(Str::copy_from(value)))
                }))
                .build();
        self.logger.emit(record);
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.provider
            .shutdown(timeout)
            .map_err(|error| error.to_string())
    }
}

/// The baseline: `opentelemetry_sdk`'s log pipeline with
/// `opentelemetry-otlp`'s `LogExporter`, set up as their documentation
/// says, behind `opentelemetry-appender-tracing`'s bridge.
pub struct BaselineLogs {
    /// The provider.
    pub provider: opentelemetry_sdk::logs::SdkLoggerProvider,
    /// The runtime the gRPC exporter's channel lives on (gRPC only). Dropped
    /// after the provider shut down.
    runtime: Option<tokio::runtime::Runtime>,
}

impl BaselineLogs {
    /// `tracing` + `OpenTelemetryTracingBridge::new(&provider)` over a
    /// provider with the SDK's batch processor: `with_batch_exporter` (its
    /// default queue, 2,048 records) when `max_queue_size` is `None`, else
    /// a `BatchLogProcessor` with that queue (other settings default).
    /// Installed as the global subscriber behind [`documented_filter`].
    pub fn install(
        transport: Transport,
        endpoints: &Endpoints,
        max_queue_size: Option<usize>,
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
                    opentelemetry_otlp::LogExporter::builder()
                        .with_tonic()
                        .with_endpoint(endpoints.grpc.clone())
                        .build()
                };
                (exporter, Some(runtime))
            }
            Transport::Http => {
                install_ring_provider();
                let exporter = opentelemetry_otlp::LogExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{}/v1/logs", endpoints.http.trim_end_matches('/')))
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .build();
                (exporter, None)
            }
        };
        let exporter = exporter.map_err(|error| error.to_string())?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(SERVICE_NAME)
            .build();
        let builder = opentelemetry_sdk::logs::SdkLoggerProvider::builder().with_resource(resource);
        let provider = match max_queue_size {
            None => builder.with_batch_exporter(exporter),
            Some(size) => {
                let config = opentelemetry_sdk::logs::BatchConfigBuilder::default()
                    .with_max_queue_size(size)
                    .build();
                let processor = opentelemetry_sdk::logs::BatchLogProcessor::builder(exporter)
                    .with_batch_config(config)
                    .build();
                builder.with_log_processor(processor)
            }
        }
        .build();
        let baseline = BaselineLogs { provider, runtime };
        install_global(
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
                &baseline.provider,
            ),
        )?;
        Ok(baseline)
    }
}

impl LogSender for BaselineLogs {
    #[inline]
    fn emit(&self, values: &[String; 8]) {
        log_event(values);
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.provider
            .shutdown_with_timeout(timeout)
            .map_err(|error| error.to_string())
    }
}

impl Drop for BaselineLogs {
    fn drop(&mut self) {
        // As for the span baseline: the provider must shut down while the
        // gRPC runtime still runs; a second shutdown only returns an error.
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The control: the same producer loop, the values handed to
/// [`std::hint::black_box`] instead of a logger.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkloadLogs;

impl LogSender for WorkloadLogs {
    #[inline]
    fn emit(&self, values: &[String; 8]) {
        std::hint::black_box(values);
    }

    fn shutdown(&self, _timeout: Duration) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_contrib::receiver::{Receiver, ReceiverConfig};

    #[test]
    fn the_native_door_delivers_every_record_over_both_transports() {
        let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
        let endpoints = Endpoints::of(&receiver);
        let mut values: [String; 8] = Default::default();
        let mut expected = 0;
        for transport in Transport::ALL {
            let ours = OursLogs::native(transport, &endpoints).expect("pipeline");
            for i in 0..300 {
                crate::fixtures::write_attribute_values(i, &mut values);
                ours.emit(&values);
            }
            ours.shutdown(Duration::from_secs(10)).expect("shutdown");
            let stats = ours.stats();
            assert_eq!((stats.produced, stats.exported), (300, 300), "{stats:?}");
            expected += 300;
            assert!(receiver.wait_for_log_records(expected, Duration::from_secs(10)));
        }
        let logs = receiver.accepted_logs();
        assert!(logs.iter().all(|record| record.attributes.len() == 8));
    }
}
