//! [`SdkMetricExporter`]: an otlp-sdk metrics transport as an
//! `opentelemetry_sdk` push metric exporter.
//!
//! Cost model: one export per collection (the `PeriodicReader`'s interval,
//! 60 s by default), so everything here is per collection, not per
//! measurement: the conversion ([`MetricConverter`]: per data point, its
//! attributes), one protobuf or JSON encoding of the whole collection into
//! one buffer (a second pass, and one buffer per request, only when it
//! exceeds the request cap), and the sends on the adapter's runtime. The
//! SDK's `ResourceMetrics` is borrowed and reused by the reader, so it is
//! converted before `export` returns its future; nothing of it is kept.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use otlp_core::Metric;
use otlp_core::encode::{Chunk, MetricEncoder};
use otlp_sdk::config::{Config, ConfigLoader, TemporalityPreference};
use otlp_sdk::{DynExporter, Exporter, RetryPolicy, Signal};
use tokio::runtime::Handle;

use super::BridgeError;
use super::delivery::{ExportCore, ExportSettings, ExportSignal};
use super::exporter::SdkExporterStats;
use super::metric_convert::MetricConverter;
use crate::pipeline::metric_exporter_from_config;

/// Any otlp-sdk [`Exporter`] built for [`Signal::Metrics`] —
/// [`GrpcExporter`](otlp_exporter_grpc::GrpcExporter)
/// (`MetricsService/Export`), [`HttpExporter`](otlp_exporter_http::HttpExporter)
/// (`/v1/metrics`, protobuf or JSON), your own — as an
/// [`opentelemetry_sdk::metrics::exporter::PushMetricExporter`], for the
/// SDK's `PeriodicReader`. The metrics twin of
/// [`SdkExporter`](super::SdkExporter) and
/// [`SdkLogExporter`](super::SdkLogExporter);
/// [`build`](SdkMetricExporterBuilder::build) refuses an exporter built for
/// another signal ([`BridgeError::WrongSignal`]).
///
/// Each `export(collection)` converts it ([`MetricConverter`]: every metric
/// of every scope, the resource and scopes shared), encodes it once with
/// [`MetricEncoder`] in the exporter's encoding (cut between metrics into
/// several requests if it would exceed the size cap; a metric too large
/// alone is not sent and its data points count as failed), sends it, and
/// retries.
///
/// **Temporality.** [`temporality`](PushMetricExporter::temporality) answers
/// what the builder was given ([`with_temporality`](SdkMetricExporterBuilder::with_temporality),
/// or `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` through
/// [`with_config`](SdkMetricExporterBuilder::with_config)); cumulative by
/// default. The SDK aggregates accordingly; the adapter sends what it gets.
///
/// **Runtime.** The `PeriodicReader` exports from its own thread with
/// `futures_executor::block_on`, with no tokio runtime; our transports need
/// tokio. So the adapter owns a small tokio runtime (one worker thread,
/// named `otlp-bridge-export`, one of the pipeline's own threads: nothing
/// recorded there comes back) and runs every export there, awaiting the task
/// from whatever executor polls `export`.
/// [`SdkMetricExporterBuilder::with_runtime`] runs them on a runtime of yours.
///
/// **Retry.** The SDK never retries, so the adapter does, as the
/// [`RetryPolicy`] says, the same bytes each time, until the collection's
/// export timeout ([`DEFAULT_EXPORT_TIMEOUT`](super::DEFAULT_EXPORT_TIMEOUT),
/// or `OTEL_METRIC_EXPORT_TIMEOUT` through
/// [`with_config`](SdkMetricExporterBuilder::with_config)). The
/// reader collects again only when an export returns: keep the timeout
/// below the export interval.
///
/// **Outcomes.** Counted in data points, OTLP's unit for metrics
/// ([`stats`](Self::stats): `batches` are collections). Success and partial
/// success are `Ok` (rejected data points are counted, the server's message
/// kept as `last_error`); anything else, once retries are exhausted, is
/// `Err(InternalFailure)` naming the data point counts and the last error.
///
/// **Flush and shutdown.** `force_flush` waits for exports still in flight
/// (one whose future was dropped keeps running on the runtime), at most the
/// export timeout, and answers `Err(Timeout)` past it. `shutdown_with_timeout`
/// refuses new exports (`Err(AlreadyShutdown)`), waits for those in flight,
/// then shuts the transport down (ending any export still running), all
/// within its timeout: `Ok` once every data point is settled (failed ones
/// included, counted in [`stats`](Self::stats)), `Err(Timeout)` if an export
/// was still in flight at its deadline (its data points then counted failed),
/// so that success never hides a loss. An export whose next retry would
/// come after that timeout (a server's throttle hint, a long backoff) fails
/// at once, its data points counted failed with the hint's error as the
/// cause, rather than hold the shutdown to its end. A transport whose
/// shutdown needs no waiting (ours) is shut down even with a zero timeout,
/// and the answer is then `Ok` when nothing was in flight. The SDK's `PeriodicReader` shuts its exporter down only once the export
/// under way has returned: a retry still to come holds its shutdown until
/// then (it answers `Timeout` after 5 s), so keep the export timeout short.
///
/// ```
/// use std::time::Duration;
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
/// use otlp_contrib::bridge::SdkMetricExporter;
/// use otlp_contrib::receiver::{Receiver, ReceiverConfig};
/// use otlp_exporter_http::HttpExporter;
/// use otlp_sdk::Signal;
///
/// # let collector = Receiver::start(ReceiverConfig::default())?;
/// # let endpoint = collector.http_endpoint().expect("HTTP listener");
/// let transport = HttpExporter::builder().endpoint(endpoint).signal(Signal::Metrics).build()?;
/// let exporter = SdkMetricExporter::builder(transport)
///     .with_temporality(Temporality::Delta)
///     .with_export_timeout(Duration::from_secs(5))
///     .build()?;
/// let provider = SdkMeterProvider::builder()
///     .with_reader(PeriodicReader::builder(exporter).build())
///     .build();
///
/// provider.meter("checkout").u64_counter("orders").build().add(1, &[]);
/// provider.shutdown()?;
/// # assert_eq!(collector.data_point_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SdkMetricExporter<E> {
    core: ExportCore<Metrics, E>,
    converter: MetricConverter,
    temporality: Temporality,
}

/// Metrics, for [`ExportCore`]: counted in data points, cut between metrics,
/// transports of metrics only; a zero timeout is no limit
/// (`OTEL_METRIC_EXPORT_TIMEOUT=0`), and shutdown lets exports in flight finish.
struct Metrics;

impl ExportSignal for Metrics {
    type Record = Metric;
    type Encoder = MetricEncoder;
    const SIGNAL: Option<Signal> = Some(Signal::Metrics);
    const NOUN: &'static str = "data points";
    const OVERSIZED: &'static str = "data points are in metrics each";
    const EXPORT: &'static str = "metric export";
    const ZERO_TIMEOUT_IS_NO_LIMIT: bool = true;
    const SHUTDOWN_WAITS_FOR_EXPORTS: bool = true;

    /// Data points in `metrics`: the unit OTLP counts metrics in.
    fn count(metrics: &[Metric]) -> usize {
        metrics
            .iter()
            .map(|metric| metric.data.data_point_count())
            .sum()
    }

    fn count_chunk(metrics: &[Metric], chunk: &Chunk) -> usize {
        MetricEncoder::data_points(metrics, chunk)
    }
}

impl<E> fmt::Debug for SdkMetricExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(
            f,
            "SdkMetricExporter",
            &[("temporality", &self.temporality)],
        )
    }
}

impl<E: Exporter> SdkMetricExporter<E> {
    /// An adapter with the defaults: cumulative temporality, its own
    /// runtime, [`RetryPolicy::default`],
    /// [`DEFAULT_EXPORT_TIMEOUT`](super::DEFAULT_EXPORT_TIMEOUT), the 64 MiB
    /// request cap. Fails if `exporter` is not built for
    /// [`Signal::Metrics`] or the runtime cannot start.
    pub fn new(exporter: E) -> Result<Self, BridgeError> {
        SdkMetricExporter::builder(exporter).build()
    }

    /// Starts building an adapter around `exporter`.
    pub fn builder(exporter: E) -> SdkMetricExporterBuilder<E> {
        SdkMetricExporterBuilder {
            settings: ExportSettings::new(exporter),
            temporality: Temporality::Cumulative,
            temporality_in_code: false,
        }
    }

    /// The wrapped transport.
    pub fn exporter(&self) -> &E {
        self.core.exporter()
    }

    /// What happened to the data points exported so far (`batches` counts
    /// collections).
    pub fn stats(&self) -> SdkExporterStats {
        self.core.stats()
    }
}

impl SdkMetricExporter<Box<dyn DynExporter>> {
    /// The adapter the environment describes: configuration files and the
    /// standard `OTEL_*` variables choose the transport (the
    /// `OTEL_EXPORTER_OTLP_METRICS_*` settings over the generic ones: gRPC
    /// for `grpc`, HTTP for `http/protobuf` and `http/json`), its settings,
    /// the temporality (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`),
    /// the retry policy and the export timeout (`OTEL_METRIC_EXPORT_TIMEOUT`).
    /// The export interval (`OTEL_METRIC_EXPORT_INTERVAL`) is the reader's:
    /// `PeriodicReader::builder(exporter).with_interval(config.metrics.export_interval)`.
    pub fn from_env() -> Result<Self, BridgeError> {
        Self::from_config(&ConfigLoader::new().load()?)
    }

    /// The adapter a loaded [`Config`] describes (see [`from_env`](Self::from_env)).
    /// A disabled SDK or metrics signal (`OTEL_SDK_DISABLED=true`,
    /// `OTEL_METRICS_EXPORTER=none`) makes an adapter that discards every batch: it sends
    /// nothing, counts nothing and answers `Ok`, as the bridge processors do.
    pub fn from_config(config: &Config) -> Result<Self, BridgeError> {
        let mut builder =
            SdkMetricExporter::builder(metric_exporter_from_config(config)?).with_config(config);
        builder.settings.discard = config.is_disabled(Signal::Metrics);
        builder.build()
    }
}

impl<E: Exporter> PushMetricExporter for SdkMetricExporter<E> {
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        let prepared = self.core.prepare(|| self.converter.convert(metrics));
        self.core.send(prepared)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.core.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.core.shutdown(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

/// Builder for [`SdkMetricExporter`]; every setting has a default.
pub struct SdkMetricExporterBuilder<E> {
    settings: ExportSettings<E>,
    temporality: Temporality,
    /// Given by `with_temporality`: a configuration does not replace it.
    temporality_in_code: bool,
}

impl<E> fmt::Debug for SdkMetricExporterBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(
            f,
            "SdkMetricExporterBuilder",
            &[("temporality", &self.temporality)],
        )
    }
}

impl<E: Exporter> SdkMetricExporterBuilder<E> {
    /// Takes the temporality preference (`metrics.temporality`,
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`), the retry policy,
    /// the export timeout (`metrics.export_timeout`, `OTEL_METRIC_EXPORT_TIMEOUT`;
    /// 0 is no limit) and the request size cap from a loaded [`Config`].
    /// A setting given with this builder's own methods wins, before or after
    /// this call; a second `with_config` replaces the first's values.
    pub fn with_config(mut self, config: &Config) -> Self {
        if !self.temporality_in_code {
            self.temporality = match config.metrics.temporality {
                TemporalityPreference::Cumulative => Temporality::Cumulative,
                TemporalityPreference::Delta => Temporality::Delta,
                TemporalityPreference::LowMemory => Temporality::LowMemory,
            };
        }
        self.settings
            .configure(config, config.metrics.export_timeout);
        self
    }

    /// The temporality the SDK aggregates for (default cumulative; `Delta`
    /// reports counters, histograms, observable counters and both gauges as
    /// deltas, up-down counters cumulative; `LowMemory` synchronous counters
    /// and histograms only), as `opentelemetry_sdk` maps a preference to
    /// each instrument kind, and as otlp-sdk's own meter provider does.
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self.temporality_in_code = true;
        self
    }

    /// Replaces the retry policy ([`RetryPolicy::disabled`] sends each collection once);
    /// `build` refuses one that [`RetryPolicy::validate`] refuses, naming the key.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.settings.set_retry(retry);
        self
    }

    /// Bounds each collection's export, retries included, and `force_flush`
    /// (default [`DEFAULT_EXPORT_TIMEOUT`](super::DEFAULT_EXPORT_TIMEOUT);
    /// zero is no limit).
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.settings.set_export_timeout(timeout);
        self
    }

    /// Largest request body; bigger collections are cut between metrics
    /// (default and maximum 64 MiB).
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.settings.set_max_request_bytes(bytes);
        self
    }

    /// Runs exports on this runtime instead of starting one. It must keep
    /// running while the exporter is in use, and must not be a
    /// current-thread runtime driven by a thread that may block in `export`
    /// (the `PeriodicReader` blocks its own thread, which is fine; a
    /// `force_flush` on the provider blocks the caller's).
    ///
    /// Its threads are not the pipeline's own: each export (and the
    /// shutdown) is polled as the pipeline's own work
    /// ([`otlp_sdk::own_threads::as_own_future`]), and so are the gRPC
    /// exporter's connection tasks and the HTTP exporter's over `http://`,
    /// so that what the transport records there
    /// through `tracing` and `log` reaches no subscriber; each export is also
    /// polled in `opentelemetry`'s suppressed context, so that a span it
    /// starts through the `opentelemetry` API is not recording and reaches
    /// no processor, the stock ones included. Not the HTTP/2
    /// connection tasks of the HTTP exporter over `https://` (reqwest spawns
    /// them with no way to wrap them): what `h2` records in them reaches
    /// that runtime's subscriber, and a front door on it would record it;
    /// filter out the `h2` target there, or keep the adapter's own runtime.
    pub fn with_runtime(mut self, handle: Handle) -> Self {
        self.settings.runtime = Some(handle);
        self
    }

    /// Checks the exporter's signal, starts the runtime (unless one was
    /// given) and builds the adapter.
    pub fn build(self) -> Result<SdkMetricExporter<E>, BridgeError> {
        Ok(SdkMetricExporter {
            core: ExportCore::start(self.settings)?,
            converter: MetricConverter::new(),
            temporality: self.temporality,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
    use otlp_core::encode::Encoding;
    use otlp_sdk::{ExportError, ExportOutcome, ExportRequest};

    use super::super::delivery::InFlight;
    use prost::Message as _;

    use super::*;

    /// A retry policy given in code is checked as the pipelines' builders
    /// check theirs: without backoff, every retry of a collection that
    /// fails (a backend down) went at once, requests without a pause until
    /// the export timeout. The adapter is refused, naming the key and value.
    #[test]
    fn a_retry_policy_without_backoff_is_refused_naming_the_key() {
        let no_backoff = RetryPolicy {
            initial_backoff: Duration::ZERO,
            ..RetryPolicy::default()
        };
        let error = SdkMetricExporter::builder(Scripted::default())
            .with_retry_policy(no_backoff)
            .build()
            .expect_err("a retry policy without backoff");
        let BridgeError::Config(otlp_sdk::config::ConfigError::InvalidValue { key, value, .. }) =
            &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(
            (key.as_str(), value.as_str()),
            ("retry.initial_backoff", "0ms")
        );
        assert!(
            SdkMetricExporter::builder(Scripted::default())
                .with_retry_policy(RetryPolicy::disabled())
                .build()
                .is_ok()
        );
    }

    #[test]
    fn a_temporality_given_in_code_wins_over_a_configuration_given_after_it() {
        // Before: `with_config` replaced it with the configuration's
        // (cumulative by default).
        let builder = SdkMetricExporter::builder(Scripted::default())
            .with_temporality(Temporality::Delta)
            .with_config(&Config::default());
        assert_eq!(builder.temporality, Temporality::Delta);
    }

    /// Plays a script of outcomes, then succeeds; records what it was sent.
    struct Scripted {
        outcomes: Mutex<VecDeque<ExportOutcome>>,
        sent: Mutex<Vec<ExportRequest>>,
        shut_down: AtomicBool,
        encoding: Encoding,
        signal: Signal,
        /// How long each export and the shutdown take.
        delay: Duration,
    }

    impl Default for Scripted {
        fn default() -> Self {
            Scripted {
                outcomes: Mutex::default(),
                sent: Mutex::default(),
                shut_down: AtomicBool::new(false),
                encoding: Encoding::Protobuf,
                signal: Signal::Metrics,
                delay: Duration::ZERO,
            }
        }
    }

    impl Scripted {
        fn with(outcomes: impl IntoIterator<Item = ExportOutcome>) -> Self {
            Scripted {
                outcomes: Mutex::new(outcomes.into_iter().collect()),
                ..Scripted::default()
            }
        }

        fn sent(&self) -> Vec<ExportRequest> {
            self.sent.lock().expect("not poisoned").clone()
        }
    }

    impl Exporter for Scripted {
        fn encoding(&self) -> Encoding {
            self.encoding
        }

        fn signal(&self) -> Signal {
            self.signal
        }

        async fn export(&self, request: ExportRequest) -> ExportOutcome {
            // Needs a tokio runtime: proves the export runs on one.
            tokio::time::sleep(self.delay).await;
            self.sent.lock().expect("not poisoned").push(request);
            self.outcomes
                .lock()
                .expect("not poisoned")
                .pop_front()
                .unwrap_or(ExportOutcome::Success)
        }

        async fn shutdown(&self) {
            tokio::time::sleep(self.delay).await;
            self.shut_down.store(true, Ordering::SeqCst);
        }
    }

    /// The adapter under a `PeriodicReader`, still reachable from the test,
    /// keeping what each of its exports answered. Once `closed`, exports (the
    /// provider's last one, when it is dropped) and shutdown stop here.
    struct Shared {
        exporter: Arc<SdkMetricExporter<Scripted>>,
        results: Arc<Mutex<Vec<OTelSdkResult>>>,
        closed: Arc<AtomicBool>,
    }

    impl PushMetricExporter for Shared {
        fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
            let export =
                (!self.closed.load(Ordering::SeqCst)).then(|| self.exporter.export(metrics));
            let results = Arc::clone(&self.results);
            async move {
                let Some(export) = export else {
                    return Ok(());
                };
                let result = export.await;
                results.lock().expect("not poisoned").push(copy(&result));
                result
            }
        }

        fn force_flush(&self) -> OTelSdkResult {
            self.exporter.force_flush()
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }

        fn temporality(&self) -> Temporality {
            self.exporter.temporality()
        }
    }

    /// `OTelSdkResult` is not `Clone`.
    fn copy(result: &OTelSdkResult) -> OTelSdkResult {
        match result {
            Ok(()) => Ok(()),
            Err(OTelSdkError::AlreadyShutdown) => Err(OTelSdkError::AlreadyShutdown),
            Err(OTelSdkError::Timeout(timeout)) => Err(OTelSdkError::Timeout(*timeout)),
            Err(other) => Err(OTelSdkError::InternalFailure(other.to_string())),
        }
    }

    /// Collects once from a provider reading into `exporter`, with
    /// `metrics` counters of `points` attribute sets each recorded; what the
    /// adapter's export answered.
    fn collect(
        exporter: &Arc<SdkMetricExporter<Scripted>>,
        metrics: usize,
        points: usize,
    ) -> OTelSdkResult {
        let results = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let provider = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(Shared {
                    exporter: Arc::clone(exporter),
                    results: Arc::clone(&results),
                    closed: Arc::clone(&closed),
                })
                .build(),
            )
            .build();
        let meter = provider.meter("test");
        for metric in 0..metrics {
            let counter = meter.u64_counter(format!("counter.{metric}")).build();
            for point in 0..points {
                counter.add(1, &[KeyValue::new("point", point as i64)]);
            }
        }
        let _ = provider.force_flush();
        closed.store(true, Ordering::SeqCst);
        drop(provider);
        let mut results = results.lock().expect("not poisoned");
        assert_eq!(results.len(), 1, "one export per flush");
        results.pop().expect("one export")
    }

    fn adapter(builder: SdkMetricExporterBuilder<Scripted>) -> Arc<SdkMetricExporter<Scripted>> {
        Arc::new(builder.build().expect("builds"))
    }

    fn fast_retry() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        }
    }

    fn retryable() -> ExportOutcome {
        ExportOutcome::Retryable {
            error: ExportError::Transport("refused".into()),
            throttle: None,
        }
    }

    #[test]
    fn exporters_of_traces_or_logs_are_refused_by_name() {
        for signal in [Signal::Traces, Signal::Logs] {
            let error = SdkMetricExporter::new(Scripted {
                signal,
                ..Scripted::default()
            })
            .expect_err("refused");
            assert!(matches!(
                error,
                BridgeError::WrongSignal {
                    expected: Signal::Metrics,
                    found,
                } if found == signal
            ));
            let message = error.to_string();
            assert!(
                message.contains(&format!("an exporter of {signal} cannot carry metrics")),
                "{message}"
            );
        }
    }

    #[test]
    fn a_collection_is_encoded_once_as_metrics_and_counted_in_data_points() {
        let exporter = adapter(SdkMetricExporter::builder(Scripted::default()));
        collect(&exporter, 2, 3).expect("exported");
        let sent = exporter.exporter().sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].span_count, 6);
        let request =
            ExportMetricsServiceRequest::decode(sent[0].body.clone()).expect("a metrics request");
        let scope_metrics = &request.resource_metrics[0].scope_metrics[0];
        assert_eq!(
            scope_metrics
                .scope
                .as_ref()
                .map(|scope| scope.name.as_str()),
            Some("test")
        );
        assert_eq!(scope_metrics.metrics.len(), 2);
        let stats = exporter.stats();
        assert_eq!((stats.batches, stats.exported, stats.failed), (1, 6, 0));
    }

    #[test]
    fn an_empty_collection_sends_nothing() {
        let exporter = SdkMetricExporter::new(Scripted::default()).expect("builds");
        block_on(exporter.export(&ResourceMetrics::default())).expect("succeeds");
        assert!(exporter.exporter().sent().is_empty());
        assert_eq!(exporter.stats().batches, 0);
    }

    #[test]
    fn retryable_failures_are_retried_until_success() {
        let exporter = adapter(
            SdkMetricExporter::builder(Scripted::with([retryable(), retryable()]))
                .with_retry_policy(fast_retry()),
        );
        collect(&exporter, 1, 2).expect("exported");
        assert_eq!(exporter.exporter().sent().len(), 3);
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.retries, stats.failed), (2, 2, 0));
    }

    #[test]
    fn retries_stop_at_the_export_timeout_with_an_error_counting_data_points() {
        let exporter = adapter(
            SdkMetricExporter::builder(Scripted::with(std::iter::repeat_n(retryable(), 1000)))
                .with_retry_policy(fast_retry())
                .with_export_timeout(Duration::from_millis(100)),
        );
        let started = Instant::now();
        let result = collect(&exporter, 1, 3);
        assert!(started.elapsed() < Duration::from_secs(2));
        let Err(OTelSdkError::InternalFailure(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("3 of 3 data points"), "{message}");
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.failed), (0, 3));
    }

    #[test]
    fn partial_success_is_ok_and_counted() {
        let exporter = adapter(SdkMetricExporter::builder(Scripted::with([
            ExportOutcome::PartialSuccess {
                rejected_spans: 1,
                message: "one bad data point".into(),
            },
        ])));
        collect(&exporter, 1, 3).expect("exported");
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.rejected, stats.failed), (2, 1, 0));
        assert!(
            stats
                .last_error
                .is_some_and(|error| error.contains("one bad data point"))
        );
    }

    #[test]
    fn collections_over_the_request_cap_are_cut_between_metrics() {
        let exporter =
            adapter(SdkMetricExporter::builder(Scripted::default()).with_max_request_bytes(400));
        collect(&exporter, 20, 2).expect("exported");
        let sent = exporter.exporter().sent();
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|request| request.body.len() <= 400));
        assert_eq!(
            sent.iter().map(|request| request.span_count).sum::<usize>(),
            40
        );
        for request in &sent {
            let decoded =
                ExportMetricsServiceRequest::decode(request.body.clone()).expect("decodes");
            let points: usize = decoded.resource_metrics[0].scope_metrics[0]
                .metrics
                .iter()
                .map(|metric| match &metric.data {
                    Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) => {
                        sum.data_points.len()
                    }
                    other => panic!("{other:?}"),
                })
                .sum();
            assert_eq!(points, request.span_count, "whole metrics in each request");
        }
        assert_eq!(exporter.stats().exported, 40);
    }

    #[test]
    fn a_metric_larger_than_the_cap_alone_fails_its_data_points() {
        let exporter =
            adapter(SdkMetricExporter::builder(Scripted::default()).with_max_request_bytes(200));
        // One metric of 30 points cannot fit in 200 bytes.
        let result = collect(&exporter, 1, 30);
        let Err(OTelSdkError::InternalFailure(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("30 of 30 data points"), "{message}");
        assert!(exporter.exporter().sent().is_empty());
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.failed), (0, 30));
        assert!(
            stats
                .last_error
                .is_some_and(|error| error.contains("200 byte request cap"))
        );
    }

    #[test]
    fn json_exporters_get_json() {
        let exporter = adapter(SdkMetricExporter::builder(Scripted {
            encoding: Encoding::Json,
            ..Scripted::default()
        }));
        collect(&exporter, 1, 1).expect("exported");
        let sent = exporter.exporter().sent();
        assert_eq!(sent[0].encoding, Encoding::Json);
        assert!(sent[0].body.starts_with(b"{\"resourceMetrics\""));
    }

    #[test]
    fn temporality_is_what_the_builder_was_given() {
        let default = SdkMetricExporter::new(Scripted::default()).expect("builds");
        assert_eq!(default.temporality(), Temporality::Cumulative);
        let delta = SdkMetricExporter::builder(Scripted::default())
            .with_temporality(Temporality::Delta)
            .build()
            .expect("builds");
        assert_eq!(delta.temporality(), Temporality::Delta);
        for (preference, temporality) in [
            (TemporalityPreference::Cumulative, Temporality::Cumulative),
            (TemporalityPreference::Delta, Temporality::Delta),
            (TemporalityPreference::LowMemory, Temporality::LowMemory),
        ] {
            let mut config = Config::default();
            config.metrics.temporality = preference;
            config.metrics.export_timeout = Duration::from_secs(3);
            let exporter = SdkMetricExporter::builder(Scripted::default())
                .with_config(&config)
                .build()
                .expect("builds");
            assert_eq!(exporter.temporality(), temporality);
            assert_eq!(exporter.core.export_timeout, Duration::from_secs(3));
        }
    }

    #[test]
    fn from_config_takes_the_metrics_section() {
        let mut config = Config::default();
        config.exporter.protocol = otlp_sdk::config::Protocol::Grpc;
        config.metrics.exporter.protocol = otlp_sdk::config::Protocol::HttpJson;
        config.metrics.temporality = TemporalityPreference::Delta;
        let exporter = SdkMetricExporter::from_config(&config).expect("builds");
        assert_eq!(exporter.exporter().signal(), Signal::Metrics);
        assert_eq!(exporter.exporter().encoding(), Encoding::Json);
        assert_eq!(exporter.temporality(), Temporality::Delta);
    }

    #[test]
    fn force_flush_waits_for_exports_in_flight() {
        let exporter = adapter(SdkMetricExporter::builder(Scripted {
            delay: Duration::from_millis(300),
            ..Scripted::default()
        }));
        let background = Arc::clone(&exporter);
        let flushing = std::thread::spawn(move || collect(&background, 1, 1));
        // Until the export has started, there is nothing in flight to wait for.
        let started = Instant::now();
        while *exporter
            .core
            .in_flight
            .running
            .lock()
            .expect("not poisoned")
            == 0
        {
            assert!(started.elapsed() < Duration::from_secs(5), "export started");
            std::thread::sleep(Duration::from_millis(1));
        }
        exporter.force_flush().expect("flushed");
        assert_eq!(exporter.stats().exported, 1);
        flushing.join().expect("joins").expect("exported");
    }

    #[test]
    fn force_flush_gives_up_at_the_export_timeout() {
        let exporter = SdkMetricExporter::builder(Scripted::default())
            .with_export_timeout(Duration::from_millis(50))
            .build()
            .expect("builds");
        let _stuck = InFlight::enter(Arc::clone(&exporter.core.in_flight));
        let started = Instant::now();
        assert!(matches!(
            exporter.force_flush(),
            Err(OTelSdkError::Timeout(timeout)) if timeout == Duration::from_millis(50)
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn shutdown_returns_by_its_timeout_when_the_transport_hangs() {
        let exporter = SdkMetricExporter::new(Scripted {
            delay: Duration::from_secs(30),
            ..Scripted::default()
        })
        .expect("builds");
        let _stuck = InFlight::enter(Arc::clone(&exporter.core.in_flight));
        let started = Instant::now();
        assert!(matches!(
            exporter.shutdown_with_timeout(Duration::from_millis(100)),
            Err(OTelSdkError::Timeout(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn shutdown_reaches_the_transport_once_and_refuses_later_exports() {
        let exporter = SdkMetricExporter::new(Scripted::default()).expect("builds");
        exporter
            .shutdown_with_timeout(Duration::from_secs(1))
            .expect("succeeds");
        assert!(exporter.exporter().shut_down.load(Ordering::SeqCst));
        assert!(matches!(
            exporter.shutdown(),
            Err(OTelSdkError::AlreadyShutdown)
        ));
        assert!(matches!(
            block_on(exporter.export(&ResourceMetrics::default())),
            Err(OTelSdkError::AlreadyShutdown)
        ));
    }

    /// A minimal executor with no tokio context, like the SDK's `futures_executor::block_on`.
    fn block_on<F: Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Wake, Waker};
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            match future.as_mut().poll(&mut context) {
                Poll::Ready(output) => return output,
                Poll::Pending => std::thread::park(),
            }
        }
    }
}
