//! [`ProviderState`]: what a tracer provider and its tracers share — the
//! resource, sampler, limits and processors.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use otlp_core::Resource;
use thread_local::ThreadLocal;

use crate::batch_pipeline::shut_down_together;
use crate::destination::{Destination, PipelineHandle};
use crate::limits::SpanLimits;
use crate::processor::{BatchSpanProcessor, SpanProcessor};
use crate::sampler::Sampler;

/// A provider's settings and processors, shared by its tracers.
pub(crate) struct ProviderState {
    pub(crate) resource: Arc<Resource>,
    pub(crate) sampler: Sampler,
    pub(crate) limits: SpanLimits,
    /// The processors that take spans, in the order they were added.
    pub(crate) processors: Arc<Vec<Arc<dyn SpanProcessor>>>,
    /// Every processor given, for flush and shutdown: those of `processors`
    /// and those left out because they [stand for the configuration's
    /// `none`](SpanProcessor::stands_for_none).
    pub(crate) all_processors: Vec<Arc<dyn SpanProcessor>>,
    /// The one processor, when it is a [`BatchSpanProcessor`]: spans are
    /// encoded straight into its queue, without a dynamic call.
    pub(crate) only_batch: Option<BatchSpanProcessor>,
    /// With `only_batch`: each thread's handle on that pipeline, which the
    /// spans it starts clone (see [`ProviderState::destination`]).
    pub(crate) pipeline_handles: ThreadLocal<Arc<PipelineHandle>>,
    /// `sampler` holds a [`Sampler::Custom`]: spans start through the
    /// tracer's general path, which asks it with the span's name, kind,
    /// attributes and links.
    pub(crate) custom_sampler: bool,
    /// Spans start on the tracer's direct path: `only_batch` is set (no
    /// processor's `on_start` to call) and no custom sampler is asked. One
    /// flag, checked once per span start.
    pub(crate) plain_start: bool,
    /// `OTEL_SDK_DISABLED`: spans are neither sampled nor recorded.
    pub(crate) disabled: bool,
    /// The configuration's traces exporter is `none` (`OTEL_TRACES_EXPORTER=none`)
    /// and no processor was given in code (`processors` is empty): the
    /// sampler still decides the sampled flag that spans propagate, but
    /// nothing is recorded, since nothing would take it. One flag checked
    /// at span start, as `disabled`. With a processor given in code this
    /// is false and spans record for it.
    pub(crate) export_off: bool,
    /// [`TracerProvider::shutdown`](crate::TracerProvider::shutdown) was
    /// called: a second call shuts no processor down again.
    pub(crate) shut_down: AtomicBool,
}

impl ProviderState {
    /// Where this provider's recording spans go: straight into the queue of
    /// its one processor when that is a batch pipeline, else to every
    /// processor.
    ///
    /// A recording span holds its destination until it ends: a reference
    /// count taken at start and given back at end. Taken on the pipeline
    /// itself, that count would be one cache line that every thread making
    /// spans writes twice per span (in a two-thread `tracing` burst, 12% of
    /// the samples sat on those two instructions). So each thread clones a
    /// handle of its own, kept here — by the provider, not by the thread: an
    /// idle thread keeps no pipeline alive, and the handles go with the
    /// provider's last tracer.
    #[inline]
    pub(crate) fn destination(&self) -> Destination {
        match &self.only_batch {
            Some(batch) => Destination::Pipeline(Arc::clone(
                self.pipeline_handles
                    .get_or(|| Arc::new(PipelineHandle(Arc::clone(batch.shared())))),
            )),
            None => Destination::Processors(Arc::clone(&self.processors) as _),
        }
    }

    /// Where a span that records but is not sampled (a custom sampler's
    /// [`RecordOnly`](crate::SamplingDecision::RecordOnly)) goes: nowhere
    /// when the one processor is a batch pipeline (it exports only sampled
    /// spans), else to the processors, which pass it to every one but the
    /// batch pipelines (see `EndedSpanHandler` in `processor`).
    #[cold]
    pub(crate) fn record_only_destination(&self) -> Destination {
        match &self.only_batch {
            Some(_) => Destination::Nowhere,
            None => Destination::Processors(Arc::clone(&self.processors) as _),
        }
    }
}

impl Drop for ProviderState {
    /// The provider's last handle went: its processors go with it, and the
    /// batch pipelines among them that nothing else holds shut down all at
    /// once, bounded by one pipeline's drop bound, not one after another.
    fn drop(&mut self) {
        let processors = std::mem::take(&mut self.processors);
        let all_processors = std::mem::take(&mut self.all_processors);
        let only_batch = self.only_batch.take();
        shut_down_together(move || drop((processors, all_processors, only_batch)));
    }
}
