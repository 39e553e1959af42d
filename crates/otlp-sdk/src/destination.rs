//! [`Destination`]: where a recording span goes when it ends.

use std::sync::Arc;

use otlp_core::SpanData;

use crate::processor::SpanProcessor;
use crate::shared::Shared;
use crate::{spare_attributes, spare_handles};

/// A batch pipeline, as the spans of one thread hold it: a handle per thread,
/// so that their reference counts are not one cache line all threads write
/// (see [`ProviderState::destination`](crate::provider_state::ProviderState::destination)).
pub(crate) struct PipelineHandle(pub(crate) Arc<Shared>);

/// Where a recording span is handed when it ends.
pub(crate) enum Destination {
    /// The provider's one processor is a batch pipeline: the span is encoded
    /// straight into its queue.
    Pipeline(Arc<PipelineHandle>),
    /// Every processor of the provider, in order.
    Processors(Arc<[Arc<dyn SpanProcessor>]>),
    /// Nowhere: the span does not record.
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
                let Some(span) = slot.take() else {
                    return;
                };
                // Moved into the last one, cloned for the others.
                if let Some((last, others)) = processors.split_last() {
                    for processor in others {
                        processor.on_end(span.clone());
                    }
                    last.on_end(span);
                }
            }
            Destination::Nowhere => *slot = None,
        }
    }
}
