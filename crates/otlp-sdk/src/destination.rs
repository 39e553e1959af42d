//! [`Destination`]: where a recording span goes when it ends.

use std::sync::Arc;

use otlp_core::SpanData;

use crate::shared::Shared;
use crate::{spare_attributes, spare_handles};

/// A batch pipeline, as the spans of one thread hold it: a handle per thread,
/// so that their reference counts are not one cache line all threads write
/// (see [`ProviderState::destination`](crate::provider_state::ProviderState::destination)).
pub(crate) struct PipelineHandle(pub(crate) Arc<Shared>);

/// What takes the ended spans of a provider with processors: each of its
/// processors in turn, implemented where processors are defined. A trait
/// here, not the processor list itself, because processors see spans
/// (`SpanProcessor::on_start`) and spans hold their destination: naming the
/// processors here would make the three modules import one another.
pub(crate) trait EndedSpanHandler: Send + Sync {
    /// Takes one ended span.
    fn on_end(&self, span: SpanData);
}

/// Where a recording span is handed when it ends.
pub(crate) enum Destination {
    /// The provider's one processor is a batch pipeline: the span is encoded
    /// straight into its queue.
    Pipeline(Arc<PipelineHandle>),
    /// Every processor of the provider, in order.
    Processors(Arc<dyn EndedSpanHandler>),
    /// Nowhere: the span does not record, or records for no processor (a
    /// span recorded only, of a provider whose one processor is a batch
    /// pipeline, which exports only sampled spans).
    Nowhere,
}

impl Destination {
    /// Hands the finished span in `slot` over, leaving `None`.
    #[inline]
    pub(crate) fn hand_over(&self, slot: &mut Option<SpanData>) {
        match self {
            Destination::Pipeline(pipeline) => {
                if let Some(span) = slot {
                    pipeline.0.on_end(span);
                    // Encoded: its attribute vector and its handles serve
                    // the thread's next span.
                    spare_attributes::keep(std::mem::take(&mut span.attributes));
                }
                if let Some(SpanData {
                    resource, scope, ..
                }) = slot.take()
                {
                    spare_handles::keep(resource, scope);
                }
            }
            Destination::Processors(processors) => {
                if let Some(span) = slot.take() {
                    processors.on_end(span);
                }
            }
            Destination::Nowhere => {
                // Recorded for nobody: its attribute vector serves the
                // thread's next span.
                if let Some(span) = slot.take() {
                    spare_attributes::keep(span.attributes);
                }
            }
        }
    }
}
