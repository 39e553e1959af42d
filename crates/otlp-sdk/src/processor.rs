//! [`SpanProcessor`] and [`BatchSpanProcessor`]: where finished spans enter the pipeline.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use otlp_core::{SpanContext, SpanData};

use crate::batch_pipeline::{BatchPipeline, BatchProcessorBuilder};
use crate::config::{BatchConfig, Config};
use crate::destination::EndedSpanHandler;
use crate::error::PipelineError;
use crate::exporter::{Exporter, Signal};
use crate::shared::Shared;
use crate::span::Span;
use crate::stats::StatsSnapshot;

/// Sees every recording span start and receives it finished. The vocabulary
/// of `opentelemetry_sdk`: `on_start`, `on_end`, `force_flush`, `shutdown`.
///
/// The processors of a provider are called in the order they were added,
/// on the thread that starts or ends the span, and only for recording
/// spans (sampled, or recorded only by a custom sampler's decision;
/// provider enabled), as the specification asks.
pub trait SpanProcessor: Send + Sync + 'static {
    /// Called when a recording span starts, on the thread that starts it,
    /// with the span (its attributes and links given at start already set)
    /// and its parent, if it has a valid one (local or remote). The span is
    /// the specification's read/write span: its getters
    /// ([`Span::name`], [`Span::attributes`], [`Span::scope`], ...) read what
    /// it holds, and it can be changed here: an attribute set now is on the
    /// span every processor receives at [`on_end`](Self::on_end). Must not
    /// block. Processors added after this one see the span as this one left it.
    ///
    /// The default does nothing. A processor that answers
    /// [`batch_pipeline`](Self::batch_pipeline) is not called: spans of a
    /// provider whose only processor it is go straight into the pipeline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use otlp_core::{AnyValue, KeyValue, SpanContext, SpanData, SpanKind};
    /// use otlp_sdk::{PipelineError, Span, SpanProcessor, TracerProvider};
    ///
    /// /// Tags every span with the tenant this process serves, and the
    /// /// server spans that enter this process with their route.
    /// struct Tenant;
    /// impl SpanProcessor for Tenant {
    ///     fn on_start(&self, span: &mut Span, parent: Option<&SpanContext>) {
    ///         span.set_attribute(KeyValue::new("tenant.id", "acme"));
    ///         // Reading the span: its kind, scope and an attribute given at start.
    ///         let entry = span.kind() == Some(SpanKind::Server)
    ///             && parent.is_none_or(|parent| parent.is_remote)
    ///             && span.scope().is_some_and(|scope| &*scope.name == "checkout");
    ///         if let Some(route) = span.attribute("http.route").filter(|_| entry).cloned() {
    ///             span.set_attribute(KeyValue::new("entry.route", route));
    ///         }
    ///     }
    ///     fn on_end(&self, span: SpanData) {
    ///         assert!(span.attributes.iter().any(|kv| &*kv.key == "tenant.id"));
    ///     }
    ///     fn force_flush(&self, _: Duration) -> Result<(), PipelineError> { Ok(()) }
    ///     fn shutdown(&self, _: Duration) -> Result<(), PipelineError> { Ok(()) }
    /// }
    ///
    /// let provider = TracerProvider::builder().with_processor(Tenant).build();
    /// let tracer = provider.tracer("checkout");
    /// tracer.start("work").end();
    /// let span = tracer
    ///     .span_builder("GET /cart")
    ///     .kind(SpanKind::Server)
    ///     .attribute(KeyValue::new("http.route", "/cart"))
    ///     .start();
    /// assert_eq!(span.attribute("entry.route"), Some(&AnyValue::from("/cart")));
    /// ```
    #[inline]
    fn on_start(&self, span: &mut Span, parent: Option<&SpanContext>) {
        let _ = (span, parent);
    }

    /// Takes a finished span. Must not block (beyond a configured bound) and
    /// must account for the span: exported, dropped or failed, never lost silently.
    ///
    /// A span whose sampled flag is off (`span.flags.trace_flags().is_sampled()`
    /// false) was recorded only: a custom sampler answered
    /// [`RecordOnly`](crate::SamplingDecision::RecordOnly). Processors see
    /// it; exporters should not, the specification says: a processor that
    /// passes spans on to an exporter, or to a [`BatchSpanProcessor`], skips
    /// it. The provider hands it to no processor that answers
    /// [`batch_pipeline`](Self::batch_pipeline).
    fn on_end(&self, span: SpanData);

    /// Exports everything received so far; returns by `timeout`.
    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError>;

    /// Flushes, stops, and releases resources; returns by `timeout`. Spans
    /// received afterwards are dropped and counted. For the batch processor,
    /// stats after shutdown show nothing queued or in flight (except, with
    /// the durable queue, spans kept on disk); a timeout so short that the
    /// export loop cannot even answer (zero, say) returns first, and the loop
    /// settles the accounts a moment later. A request whose next retry would
    /// come after `timeout` (a server's throttle hint, a long backoff) fails
    /// at once (with the durable queue it stays on disk), so that shutdown
    /// returns as soon as nothing more can be sent in time.
    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError>;

    /// The batch pipeline this processor hands every span to unchanged, if
    /// it is one (or wraps one that way). A [`TracerProvider`](crate::TracerProvider)
    /// whose only processor answers `Some` lets its spans go straight into
    /// that pipeline's queue, without the dynamic dispatch of `on_end`. The
    /// default is `None`; a processor that filters, changes or copies spans,
    /// or needs [`on_start`](Self::on_start), must keep it.
    fn batch_pipeline(&self) -> Option<&BatchSpanProcessor> {
        None
    }

    /// Whether this processor only stands for a traces exporter configured
    /// `none` (it exports through an exporter that [stands for
    /// `none`](Exporter::stands_for_none)): a
    /// [`TracerProvider`](crate::TracerProvider) built `with_config` from a
    /// configuration whose traces exporter is `none` hands it no span. The
    /// default asks the [`batch_pipeline`](Self::batch_pipeline), if any.
    fn stands_for_none(&self) -> bool {
        self.batch_pipeline()
            .is_some_and(BatchSpanProcessor::stands_for_none)
    }
}

/// A provider's processors, in the order they were added, as its spans'
/// destination: each ended span is cloned for every processor but the last,
/// which takes it. A span that recorded without being sampled (a custom
/// sampler's `RecordOnly`) goes to every processor but those that answer
/// [`batch_pipeline`](SpanProcessor::batch_pipeline): a batch pipeline
/// exports, and exporters get only sampled spans.
impl EndedSpanHandler for Vec<Arc<dyn SpanProcessor>> {
    fn on_end(&self, span: SpanData) {
        if !span.flags.trace_flags().is_sampled() {
            return record_only_on_end(self, span);
        }
        if let Some((last, others)) = self.split_last() {
            for processor in others {
                processor.on_end(span.clone());
            }
            last.on_end(span);
        }
    }
}

/// [`EndedSpanHandler::on_end`] of a span recorded only: every processor but
/// the batch pipelines, in order.
#[cold]
#[inline(never)]
fn record_only_on_end(processors: &[Arc<dyn SpanProcessor>], span: SpanData) {
    let mut taking = processors
        .iter()
        .filter(|processor| processor.batch_pipeline().is_none());
    let Some(mut current) = taking.next() else {
        return;
    };
    for next in taking {
        current.on_end(span.clone());
        current = next;
    }
    current.on_end(span);
}

/// The batching span processor: a byte-bounded queue of encoded spans in front of one
/// export loop that batches, encodes once, exports with retry, and counts
/// every span.
///
/// Cost model of [`on_end`](SpanProcessor::on_end): one counter increment on
/// a per-thread cache line (a plain store for the first 16 threads that
/// count), then the span is encoded once, on the calling thread, into that
/// thread's block of the pipeline's byte-bounded queue (see the crate
/// documentation): one pass writing its fields in place, two uncontended
/// atomic swaps. No lock, no allocation, no syscall per span (one atomic
/// add to a shared count every 32 spans) — once per block of about two
/// hundred spans, an uncontended lock to hand the block over, and one
/// `unpark` when the loop sleeps and a batch's worth is waiting. When the queue's bytes are all taken the span is dropped and
/// counted (or, with [`FullPolicy::Block`](crate::config::FullPolicy::Block),
/// the caller waits while the pipeline makes progress).
///
/// It exports every span handed to it, whatever its flags (a span built by
/// hand with [`SpanData::builder`] has no sampled flag unless given one); a
/// [`TracerProvider`](crate::TracerProvider) never hands it a span that
/// recorded without being sampled (a custom sampler's
/// [`RecordOnly`](crate::SamplingDecision::RecordOnly)), so such spans are
/// not in its [`stats`](Self::stats), not even as `produced`.
///
/// The export loop runs on its own thread with its own small tokio runtime,
/// so it works in programs with or without tokio and never blocks the
/// application's runtime. Handles are cheap to clone; the pipeline shuts down
/// (with a bounded wait) when the last handle is dropped.
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanProcessor};
/// use otlp_core::{encode::Encoding, SpanData};
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let processor = BatchSpanProcessor::builder(Accept).build()?;
/// processor.on_end(SpanData::builder("work").build());
/// processor.shutdown(Duration::from_secs(1))?;
/// let stats = processor.stats();
/// assert_eq!((stats.produced, stats.exported, stats.queued), (1, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BatchSpanProcessor {
    pipeline: BatchPipeline,
}

/// Builder for [`BatchSpanProcessor`]; every setting has a default.
pub type BatchSpanProcessorBuilder<E> = BatchProcessorBuilder<E, BatchSpanProcessor>;

impl fmt::Debug for BatchSpanProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BatchSpanProcessor")
            .field(&self.pipeline)
            .finish()
    }
}

impl BatchSpanProcessor {
    /// Starts building a processor that exports through `exporter` (an
    /// exporter of [`Signal::Traces`]).
    pub fn builder<E: Exporter>(exporter: E) -> BatchSpanProcessorBuilder<E> {
        BatchProcessorBuilder::new(exporter, BatchConfig::default())
    }

    pub(crate) fn new(pipeline: BatchPipeline) -> Self {
        BatchSpanProcessor { pipeline }
    }

    /// Where every span is now.
    pub fn stats(&self) -> StatsSnapshot {
        self.pipeline.stats()
    }

    /// Whether [`shutdown`](SpanProcessor::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        self.pipeline.is_shut_down()
    }

    /// Whether its exporter only [stands for a configured
    /// `none`](Exporter::stands_for_none) (see
    /// [`SpanProcessor::stands_for_none`]).
    pub fn stands_for_none(&self) -> bool {
        self.pipeline.stands_for_none()
    }

    /// This pipeline's state: where a span of a provider that exports
    /// through it alone is handed (see `Span`).
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.pipeline.shared()
    }
}

impl SpanProcessor for BatchSpanProcessor {
    #[inline]
    fn on_end(&self, span: SpanData) {
        self.pipeline.shared().on_end(&span);
    }

    fn batch_pipeline(&self) -> Option<&BatchSpanProcessor> {
        Some(self)
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.pipeline.force_flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.pipeline.shutdown(timeout)
    }
}

impl<E: Exporter> BatchProcessorBuilder<E, BatchSpanProcessor> {
    /// Takes batch (`config.batch`), retry, attempt timeout
    /// (`config.exporter.timeout`), performance and durable-queue settings
    /// from a loaded [`Config`]. What the program sets in code
    /// ([`with_batch_config`](Self::with_batch_config),
    /// [`with_retry_policy`](Self::with_retry_policy),
    /// [`with_attempt_timeout`](Self::with_attempt_timeout),
    /// [`with_performance_config`](Self::with_performance_config),
    /// [`with_durable_queue`](Self::with_durable_queue)) wins over the
    /// configuration, whether it is set before or after this call; a second
    /// call replaces the first configuration's settings.
    ///
    /// ```
    /// use std::time::Duration;
    /// use otlp_sdk::{BatchSpanProcessor, Encoding, ExportOutcome, ExportRequest, Exporter};
    /// use otlp_sdk::config::{BatchConfig, Config};
    ///
    /// struct Accept;
    /// impl Exporter for Accept {
    ///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
    ///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
    /// }
    ///
    /// let batch = BatchConfig { scheduled_delay: Duration::from_millis(200), ..BatchConfig::default() };
    /// // The batch settings given in code stay, though the configuration comes after them.
    /// let processor = BatchSpanProcessor::builder(Accept)
    ///     .with_batch_config(batch)
    ///     .with_config(&Config::default())
    ///     .build()?;
    /// # drop(processor);
    /// # Ok::<(), otlp_sdk::PipelineError>(())
    /// ```
    pub fn with_config(self, config: &Config) -> Self {
        self.with_settings(config, Signal::Traces, &config.batch)
    }

    /// Validates the settings and starts the export loop (on a thread of
    /// its own), but over an exporter that [stands for
    /// `none`](Exporter::stands_for_none): that loop starts with the first
    /// record handed to the processor, or to shut it down.
    pub fn build(self) -> Result<BatchSpanProcessor, PipelineError> {
        self.start(Signal::Traces).map(BatchSpanProcessor::new)
    }
}
