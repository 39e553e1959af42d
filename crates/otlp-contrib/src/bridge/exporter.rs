//! [`SdkExporter`]: an otlp-sdk transport as an `opentelemetry_sdk` span exporter.

use std::fmt;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanExporter;
use otlp_core::SpanData;
use otlp_core::encode::TraceEncoder;
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{DynExporter, Exporter, RetryPolicy, Signal};
use tokio::runtime::Handle;

use super::BridgeError;
use super::convert::SpanConverter;
pub use super::delivery::{DEFAULT_EXPORT_TIMEOUT, SdkExporterStats};
use super::delivery::{ExportCore, ExportSettings, ExportSignal};
use crate::pipeline::exporter_from_config;

/// Any otlp-sdk [`Exporter`] — [`GrpcExporter`](otlp_exporter_grpc::GrpcExporter),
/// [`HttpExporter`](otlp_exporter_http::HttpExporter) (protobuf or JSON), your
/// own — built for [`Signal::Traces`] (the default of each), as an
/// [`opentelemetry_sdk::trace::SpanExporter`], for the stock
/// `BatchSpanProcessor` or `SimpleSpanProcessor`.
/// [`build`](SdkExporterBuilder::build) refuses an exporter built for
/// another signal ([`BridgeError::WrongSignal`]): it would send trace
/// requests where log records or metrics are expected.
///
/// Each `export(batch)` converts the batch ([`SpanConverter`]: resource and
/// scopes shared), encodes it once with [`TraceEncoder`] in the exporter's
/// encoding (cut into several requests if it would exceed the size cap; a span
/// too large alone is not sent and counts as failed), sends it, and retries.
///
/// **Runtime.** The stock `BatchSpanProcessor` drives exports with
/// `futures_executor::block_on` on its own thread, with no tokio runtime, and
/// `SimpleSpanProcessor` on the thread ending the span; our transports need
/// tokio. So the adapter owns a small tokio runtime (one worker thread, named
/// `otlp-bridge-export`) and runs every export there, awaiting the task from
/// whatever executor polls `export`. [`SdkExporterBuilder::with_runtime`]
/// runs them on a runtime of yours instead (never a current-thread runtime
/// whose thread may be the one blocked in `export`).
///
/// **Retry.** The stock SDK never retries, so the adapter does: retryable
/// outcomes are sent again as the [`RetryPolicy`] says (exponential backoff
/// with jitter, at least the server's throttle hint), the same bytes each
/// time, until the batch's export timeout ([`DEFAULT_EXPORT_TIMEOUT`]; each
/// attempt is bounded by what is left of it). The stock processors export one
/// batch at a time, so a long retry delays the batches behind it (the
/// `BatchSpanProcessor` drops new spans when its queue fills meanwhile):
/// keep the timeout short.
///
/// **Outcomes.** Success is `Ok`. A partial success is `Ok` too (the
/// specification forbids retrying it): the rejected spans are counted in
/// [`stats`](Self::stats) and the server's message kept as `last_error`.
/// Anything else, once retries are exhausted, is
/// `Err(InternalFailure)` naming the span counts and the last error. After
/// `shutdown`, `export` answers `Err(AlreadyShutdown)`.
///
/// **Flush and shutdown.** An export's future completes when its batch is
/// settled; one whose future was dropped before (a caller that gave up on
/// it) keeps running on the export runtime, and `force_flush` waits for it,
/// at most the export timeout (`Err(Timeout)` past it). Shutdown shuts the
/// transport down (exports in flight end at once: an attempt under way, and a
/// retry waiting out a backoff or a server's throttle hint, which fails with
/// that hint's error as its cause) and returns by its timeout, the spans of
/// the exports it ended counted in [`stats`](Self::stats): `Ok` once every
/// span is settled (failed ones included), `Err(Timeout)` if some are still
/// in flight at its deadline (a transport whose shutdown does not end its
/// exports), so that success never hides spans that may yet be lost. The stock
/// processors shut their exporter down only once the export under way has
/// returned: a retry still to come holds their shutdown until then (they
/// answer `Timeout` past theirs), so keep the export timeout below the
/// shutdown's, or put [`OtlpSpanProcessor`](super::OtlpSpanProcessor) among
/// the provider's processors, whose shutdown calls such a retry off.
///
/// ```
/// use std::time::Duration;
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use otlp_contrib::bridge::SdkExporter;
/// use otlp_contrib::receiver::{Receiver, ReceiverConfig};
/// use otlp_exporter_http::HttpExporter;
///
/// # let collector = Receiver::start(ReceiverConfig::default())?;
/// # let endpoint = collector.http_endpoint().expect("HTTP listener");
/// let exporter = SdkExporter::builder(HttpExporter::builder().endpoint(endpoint).build()?)
///     .with_export_timeout(Duration::from_secs(5))
///     .build()?;
/// let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).build();
///
/// provider.tracer("checkout").in_span("place order", |_cx| {});
/// provider.shutdown()?;
/// # assert_eq!(collector.accepted_spans()[0].name, "place order");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SdkExporter<E> {
    core: ExportCore<Spans, E>,
    converter: SpanConverter,
}

/// Spans, for [`ExportCore`]: counted one by one, a transport built for traces.
struct Spans;

impl ExportSignal for Spans {
    type Record = SpanData;
    type Encoder = TraceEncoder;
    const SIGNAL: Option<Signal> = Some(Signal::Traces);
    const NOUN: &'static str = "spans";
    const OVERSIZED: &'static str = "spans are each";
    const EXPORT: &'static str = "export";
    const ZERO_TIMEOUT_IS_NO_LIMIT: bool = false;
    const SHUTDOWN_WAITS_FOR_EXPORTS: bool = false;
}

impl<E> fmt::Debug for SdkExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f, "SdkExporter", &[])
    }
}

impl<E: Exporter> SdkExporter<E> {
    /// An adapter with the defaults: its own runtime, [`RetryPolicy::default`],
    /// [`DEFAULT_EXPORT_TIMEOUT`], the 64 MiB request cap.
    pub fn new(exporter: E) -> Result<Self, BridgeError> {
        SdkExporter::builder(exporter).build()
    }

    /// Starts building an adapter around `exporter`.
    pub fn builder(exporter: E) -> SdkExporterBuilder<E> {
        SdkExporterBuilder {
            settings: ExportSettings::new(exporter),
        }
    }

    /// The wrapped transport.
    pub fn exporter(&self) -> &E {
        self.core.exporter()
    }

    /// What happened to the spans exported so far.
    pub fn stats(&self) -> SdkExporterStats {
        self.core.stats()
    }
}

impl SdkExporter<Box<dyn DynExporter>> {
    /// The adapter the environment describes: configuration files and the
    /// standard `OTEL_*` variables choose the transport (gRPC for `grpc`, HTTP
    /// for `http/protobuf` and `http/json`), its settings, the retry policy
    /// and the export timeout (`OTEL_BSP_EXPORT_TIMEOUT`).
    pub fn from_env() -> Result<Self, BridgeError> {
        Self::from_config(&ConfigLoader::new().load()?)
    }

    /// The adapter a loaded [`Config`] describes (see [`from_env`](Self::from_env)).
    /// A disabled SDK or traces signal (`OTEL_SDK_DISABLED=true`,
    /// `OTEL_TRACES_EXPORTER=none`) makes an adapter that discards every batch: it sends
    /// nothing, counts nothing and answers `Ok`, as the bridge processors do.
    pub fn from_config(config: &Config) -> Result<Self, BridgeError> {
        let mut builder = SdkExporter::builder(exporter_from_config(config)?).with_config(config);
        builder.settings.discard = config.is_disabled(Signal::Traces);
        builder.build()
    }
}

impl<E: Exporter> SpanExporter for SdkExporter<E> {
    async fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) -> OTelSdkResult {
        let prepared = self.core.prepare(|| {
            batch
                .into_iter()
                .map(|span| self.converter.convert(span))
                .collect()
        });
        self.core.send(prepared).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.core.shutdown(timeout)
    }

    /// Waits for the exports still in flight: one whose future was dropped
    /// (by a caller that gave up on it) keeps running on the export runtime.
    fn force_flush(&self) -> OTelSdkResult {
        self.core.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.converter.set_resource(resource);
    }
}

/// Builder for [`SdkExporter`]; every setting has a default.
pub struct SdkExporterBuilder<E> {
    settings: ExportSettings<E>,
}

impl<E> fmt::Debug for SdkExporterBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f, "SdkExporterBuilder", &[])
    }
}

impl<E: Exporter> SdkExporterBuilder<E> {
    /// Takes the retry policy, the export timeout (`batch.export_timeout`,
    /// `OTEL_BSP_EXPORT_TIMEOUT`) and the request size cap from a loaded [`Config`].
    /// A setting given with this builder's own methods wins, before or after
    /// this call; a second `with_config` replaces the first's values.
    pub fn with_config(mut self, config: &Config) -> Self {
        self.settings.configure(config, config.batch.export_timeout);
        self
    }

    /// Replaces the retry policy ([`RetryPolicy::disabled`] sends each batch once);
    /// `build` refuses one that [`RetryPolicy::validate`] refuses, naming the key.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.settings.set_retry(retry);
        self
    }

    /// Bounds each batch's export, retries included, and `force_flush`
    /// (default [`DEFAULT_EXPORT_TIMEOUT`]).
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.settings.set_export_timeout(timeout);
        self
    }

    /// Largest request body; bigger batches are cut (default and maximum 64 MiB).
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.settings.set_max_request_bytes(bytes);
        self
    }

    /// Runs exports on this runtime instead of starting one. It must keep
    /// running while the exporter is in use, and must not be a current-thread
    /// runtime driven by a thread that may block in `export` (the stock
    /// `SimpleSpanProcessor` blocks the thread that ends a span).
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

    /// Checks the exporter's signal (traces), starts the runtime (unless
    /// one was given) and builds the adapter.
    pub fn build(self) -> Result<SdkExporter<E>, BridgeError> {
        Ok(SdkExporter {
            core: ExportCore::start(self.settings)?,
            converter: SpanConverter::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::SystemTime;

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use otlp_core::encode::Encoding;
    use otlp_sdk::{ExportError, ExportOutcome, ExportRequest};

    use super::*;

    /// Plays a script of outcomes, then succeeds; records what it was sent.
    #[derive(Default)]
    struct Scripted {
        outcomes: Mutex<VecDeque<ExportOutcome>>,
        sent: Mutex<Vec<ExportRequest>>,
        shut_down: AtomicBool,
        encoding: Encoding,
    }

    impl Scripted {
        fn with(outcomes: impl IntoIterator<Item = ExportOutcome>) -> Self {
            Scripted {
                outcomes: Mutex::new(outcomes.into_iter().collect()),
                ..Scripted::default()
            }
        }
    }

    impl Exporter for Scripted {
        fn encoding(&self) -> Encoding {
            self.encoding
        }

        async fn export(&self, request: ExportRequest) -> ExportOutcome {
            // Needs a tokio runtime: proves the export runs on one.
            tokio::task::yield_now().await;
            let _ = tokio::runtime::Handle::current();
            self.sent.lock().unwrap().push(request);
            self.outcomes
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(ExportOutcome::Success)
        }

        async fn shutdown(&self) {
            self.shut_down.store(true, Ordering::SeqCst);
        }
    }

    fn span(i: u64) -> opentelemetry_sdk::trace::SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        opentelemetry_sdk::trace::SpanData {
            span_context: SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(i + 1),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "op".into(),
            start_time: start,
            end_time: start + Duration::from_millis(1),
            attributes: vec![opentelemetry::KeyValue::new("i", i as i64)],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
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
    fn a_batch_is_encoded_once_and_sent_without_a_runtime_of_the_callers() {
        let exporter = SdkExporter::new(Scripted::default()).unwrap();
        let result = futures_lite_block_on(exporter.export(vec![span(0), span(1)]));
        result.expect("succeeds");
        let sent = exporter.exporter().sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].span_count, 2);
        assert_eq!(sent[0].encoding, Encoding::Protobuf);
        let stats = exporter.stats();
        assert_eq!((stats.batches, stats.exported, stats.failed), (1, 2, 0));
    }

    #[test]
    fn retryable_failures_are_retried_until_success() {
        let exporter = SdkExporter::builder(Scripted::with([retryable(), retryable()]))
            .with_retry_policy(fast_retry())
            .build()
            .unwrap();
        futures_lite_block_on(exporter.export(vec![span(0)])).expect("succeeds");
        assert_eq!(exporter.exporter().sent.lock().unwrap().len(), 3);
        let stats = exporter.stats();
        assert_eq!((stats.exported, stats.retries, stats.failed), (1, 2, 0));
    }

    #[test]
    fn retries_stop_at_the_export_timeout() {
        let exporter = SdkExporter::builder(Scripted::with(std::iter::repeat_n(retryable(), 1000)))
            .with_retry_policy(fast_retry())
            .with_export_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let started = Instant::now();
        let result = futures_lite_block_on(exporter.export(vec![span(0)]));
        assert!(started.elapsed() < Duration::from_secs(2));
        let Err(OTelSdkError::InternalFailure(message)) = result else {
            panic!("{result:?}")
        };
        // The last error is the server's refusal, or the timeout of an
        // attempt that ran into the deadline on a loaded machine.
        assert!(message.contains("1 of 1 spans"), "{message}");
        assert_eq!(exporter.stats().failed, 1);
    }

    #[test]
    fn permanent_failures_are_not_retried_and_partial_success_is_ok() {
        let exporter = SdkExporter::builder(Scripted::with([
            ExportOutcome::Permanent {
                error: ExportError::Server {
                    status: "HTTP 400".into(),
                    message: "bad".into(),
                },
            },
            ExportOutcome::PartialSuccess {
                rejected_spans: 1,
                message: "one bad span".into(),
            },
        ]))
        .with_retry_policy(fast_retry())
        .build()
        .unwrap();
        assert!(futures_lite_block_on(exporter.export(vec![span(0)])).is_err());
        futures_lite_block_on(exporter.export(vec![span(1), span(2)])).expect("succeeds");
        let stats = exporter.stats();
        assert_eq!(
            (
                stats.batches,
                stats.exported,
                stats.rejected,
                stats.failed,
                stats.retries
            ),
            (2, 1, 1, 1, 0)
        );
        assert!(stats.last_error.unwrap().contains("one bad span"));
    }

    #[test]
    fn batches_over_the_request_cap_are_cut() {
        let exporter = SdkExporter::builder(Scripted::default())
            .with_max_request_bytes(300)
            .build()
            .unwrap();
        let batch: Vec<_> = (0..20).map(span).collect();
        futures_lite_block_on(exporter.export(batch)).expect("succeeds");
        let sent = exporter.exporter().sent.lock().unwrap();
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|request| request.body.len() <= 300));
        assert_eq!(
            sent.iter().map(|request| request.span_count).sum::<usize>(),
            20
        );
    }

    #[test]
    fn json_exporters_get_json() {
        let exporter = SdkExporter::new(Scripted {
            encoding: Encoding::Json,
            ..Scripted::default()
        })
        .unwrap();
        futures_lite_block_on(exporter.export(vec![span(0)])).expect("succeeds");
        let sent = exporter.exporter().sent.lock().unwrap();
        assert_eq!(sent[0].encoding, Encoding::Json);
        assert!(sent[0].body.starts_with(b"{"));
    }

    #[test]
    fn shutdown_reaches_the_transport_once() {
        let exporter = SdkExporter::new(Scripted::default()).unwrap();
        exporter
            .shutdown_with_timeout(Duration::from_secs(1))
            .expect("succeeds");
        assert!(exporter.exporter().shut_down.load(Ordering::SeqCst));
        assert!(matches!(
            exporter.shutdown(),
            Err(OTelSdkError::AlreadyShutdown)
        ));
        assert!(matches!(
            futures_lite_block_on(exporter.export(vec![span(0)])),
            Err(OTelSdkError::AlreadyShutdown)
        ));
    }

    #[test]
    fn dropping_inside_a_tokio_runtime_does_not_panic() {
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        outer.block_on(async {
            let exporter = SdkExporter::new(Scripted::default()).unwrap();
            drop(exporter);
        });
    }

    /// A transport that panics on its second request.
    #[derive(Default)]
    struct PanicsOnSecond {
        sent: Mutex<u32>,
    }

    impl Exporter for PanicsOnSecond {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }

        async fn export(&self, _request: ExportRequest) -> ExportOutcome {
            let sent = {
                let mut sent = self.sent.lock().unwrap();
                *sent += 1;
                *sent
            };
            assert!(sent < 2, "a transport bug");
            ExportOutcome::Success
        }

        async fn shutdown(&self) {}
    }

    /// A transport that panics ends the export task: the spans it had not
    /// settled are failed (they were in no counter before, so `exported +
    /// rejected + failed` fell short of the spans given), and the export
    /// is an error.
    #[test]
    fn a_transport_that_panics_leaves_its_spans_counted_as_failed() {
        let exporter = SdkExporter::builder(PanicsOnSecond::default())
            .with_max_request_bytes(200)
            .build()
            .unwrap();
        let batch: Vec<_> = (0..6).map(span).collect();
        let result = futures_lite_block_on(exporter.export(batch));
        assert!(result.is_err(), "{result:?}");
        let requests = *exporter.exporter().sent.lock().unwrap();
        assert_eq!(requests, 2, "cut in several requests; the second panicked");
        let stats = exporter.stats();
        assert!(stats.exported > 0 && stats.exported < 6, "{stats:?}");
        assert_eq!(
            stats.exported + stats.rejected + stats.failed,
            6,
            "{stats:?}"
        );
        assert!(
            stats
                .last_error
                .as_deref()
                .is_some_and(|error| error.contains("not delivered")),
            "{stats:?}"
        );
    }

    /// Waits for its gate to open, then accepts.
    struct Gated {
        open: tokio::sync::Semaphore,
    }

    impl Exporter for Gated {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }

        async fn export(&self, _request: ExportRequest) -> ExportOutcome {
            let _permit = self.open.acquire().await;
            ExportOutcome::Success
        }
    }

    /// An export whose future was dropped (its caller gave up) still runs on
    /// the export runtime: `force_flush` waits for it, as the metric
    /// adapter's does. Before, it answered `Ok` at once (the trait's
    /// default), the spans still in flight.
    #[test]
    fn force_flush_waits_for_an_export_whose_future_was_dropped() {
        use std::future::Future;
        let exporter = Arc::new(
            SdkExporter::builder(Gated {
                open: tokio::sync::Semaphore::new(0),
            })
            .with_export_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        );
        {
            let mut export = Box::pin(exporter.export(vec![span(0)]));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(export.as_mut().poll(&mut context).is_pending());
        }
        assert_eq!(exporter.stats().in_flight, 1);
        // Opens the gate once the flush has returned, or after a while (a
        // flush that waits returns after that).
        let (flushed, returned) = std::sync::mpsc::channel::<()>();
        let opener = std::thread::spawn({
            let exporter = Arc::clone(&exporter);
            move || {
                let _ = returned.recv_timeout(Duration::from_secs(3));
                exporter.exporter().open.add_permits(1);
            }
        });
        let result = exporter.force_flush();
        let stats = exporter.stats();
        let _ = flushed.send(());
        opener.join().unwrap();
        result.expect("flushed");
        assert_eq!((stats.in_flight, stats.exported), (0, 1), "{stats:?}");
    }

    /// A transport whose shutdown does not end the export under way (the
    /// default `shutdown`, a no-op): the span is still in flight at the
    /// shutdown's deadline, and the answer says so, `Timeout`, as
    /// `force_flush` does. Before, it was `Ok` with the span unsettled, a
    /// provider's shutdown reporting success over a span that could yet be
    /// lost.
    #[test]
    fn shutdown_answers_timeout_while_a_span_is_still_in_flight_at_its_deadline() {
        use std::future::Future;
        let exporter = SdkExporter::builder(Gated {
            open: tokio::sync::Semaphore::new(0),
        })
        .with_export_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
        {
            let mut export = Box::pin(exporter.export(vec![span(0)]));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(export.as_mut().poll(&mut context).is_pending());
        }
        let deadline = Duration::from_millis(100);
        let started = Instant::now();
        let result = exporter.shutdown_with_timeout(deadline);
        let took = started.elapsed();
        assert!(
            matches!(result, Err(OTelSdkError::Timeout(timeout)) if timeout == deadline),
            "{result:?}"
        );
        assert!(
            took < Duration::from_secs(2),
            "returned by its deadline: {took:?}"
        );
        assert_eq!(exporter.stats().in_flight, 1);
        exporter.exporter().open.add_permits(1);
    }

    /// A minimal executor with no tokio context, like the SDK's `futures_executor::block_on`.
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
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
