//! [`ProviderState`]: what a tracer provider and its tracers share — the
//! resource, sampler, limits and processors.

use std::sync::Arc;

use otlp_core::Resource;

use crate::destination::Destination;
use crate::limits::SpanLimits;
use crate::processor::{BatchSpanProcessor, SpanProcessor};
use crate::sampler::Sampler;

/// A provider's settings and processors, shared by its tracers.
pub(crate) struct ProviderState {
    pub(crate) resource: Arc<Resource>,
    pub(crate) sampler: Sampler,
    pub(crate) limits: SpanLimits,
    pub(crate) processors: Arc<[Arc<dyn SpanProcessor>]>,
    /// The one processor, when it is a [`BatchSpanProcessor`]: spans are
    /// encoded straight into its queue, without a dynamic call.
    pub(crate) only_batch: Option<BatchSpanProcessor>,
    /// `OTEL_SDK_DISABLED`: spans are not recorded.
    pub(crate) disabled: bool,
}

impl ProviderState {
    /// Where this provider's recording spans go: straight into the queue of
    /// its one processor when that is a batch pipeline, else to every
    /// processor.
    #[inline]
    pub(crate) fn destination(&self) -> Destination {
        match &self.only_batch {
            Some(batch) => Destination::Pipeline(Arc::clone(batch.shared())),
            None => Destination::Processors(Arc::clone(&self.processors)),
        }
    }
}
