//! [`PipelineFeed`]: what [`OtlpSpanProcessor`](super::OtlpSpanProcessor) and
//! [`OtlpLogProcessor`](super::OtlpLogProcessor) share, once: the otlp-sdk
//! pipeline they feed, the converter and its resource, the flush bound, the
//! disabled switch, and how flush and shutdown answer the SDK.
//!
//! Nothing here is on the per-record path but the converter it holds: the
//! resource is converted when the provider sets it, flush and shutdown are
//! the pipeline's, bounded by their timeouts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use otlp_core::Resource;
use otlp_sdk::config::Config;
use otlp_sdk::{PipelineError, Signal, processor_calls};

use super::convert::SpanConverter;
use super::log_convert::LogConverter;
use super::resource::{config_resource, merge_over_base};

/// The default bound of [`force_flush`](opentelemetry_sdk::trace::SpanProcessor::force_flush),
/// which takes no timeout in `opentelemetry_sdk` (its own batch processor uses 5 s too).
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A converter whose records all share one converted resource.
pub(super) trait SharedResource {
    fn set_otlp_resource(&mut self, resource: Arc<Resource>);
    fn resource(&self) -> &Arc<Resource>;
}

macro_rules! shared_resource {
    ($($converter:ty),*) => {$(
        impl SharedResource for $converter {
            fn set_otlp_resource(&mut self, resource: Arc<Resource>) {
                <$converter>::set_otlp_resource(self, resource);
            }

            fn resource(&self) -> &Arc<Resource> {
                <$converter>::resource(self)
            }
        }
    )*};
}

shared_resource!(SpanConverter, LogConverter);

/// The state of a bridge processor around the pipeline `P` it feeds through
/// the converter `C`.
pub(super) struct PipelineFeed<P, C> {
    pub(super) processor: P,
    pub(super) converter: C,
    /// Resource from our configuration, under the SDK's (see `set_resource`).
    base_resource: Option<Resource>,
    pub(super) flush_timeout: Duration,
    /// `OTEL_SDK_DISABLED`: records are discarded.
    pub(super) disabled: bool,
    /// The `opentelemetry_sdk` form of the pipeline's errors.
    sdk_error: fn(PipelineError, Duration) -> OTelSdkError,
}

impl<P, C: SharedResource> PipelineFeed<P, C> {
    /// Feeds `processor` through `converter`; flushes are bounded by
    /// [`DEFAULT_FLUSH_TIMEOUT`], the pipeline's errors answered through
    /// `sdk_error`. Makes the pipelines' own threads suppress telemetry.
    pub(super) fn new(
        processor: P,
        converter: C,
        sdk_error: fn(PipelineError, Duration) -> OTelSdkError,
    ) -> Self {
        super::suppress_on_pipeline_threads();
        PipelineFeed {
            processor,
            converter,
            base_resource: None,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            disabled: false,
            sdk_error,
        }
    }

    /// Records carry `resource` until the provider sets its own, which is
    /// then merged over it.
    pub(super) fn set_base_resource(&mut self, resource: Resource) {
        self.converter.set_otlp_resource(Arc::new(resource.clone()));
        self.base_resource = Some(resource);
    }

    /// The base resource and the disabled switch of a loaded [`Config`].
    pub(super) fn configure(&mut self, config: &Config, signal: Signal) {
        if let Some(resource) = config_resource(config) {
            self.set_base_resource(resource);
        }
        self.disabled = config.is_disabled(signal);
    }

    /// The provider's resource, merged over the base one.
    pub(super) fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        let converted = merge_over_base(self.base_resource.as_ref(), resource);
        self.converter.set_otlp_resource(Arc::new(converted));
    }

    /// Calls the pipeline's `force_flush` or `shutdown` with `timeout`; its
    /// error in the SDK's form.
    pub(super) fn bounded(
        &self,
        timeout: Duration,
        call: impl FnOnce(&P, Duration) -> Result<(), PipelineError>,
    ) -> OTelSdkResult {
        // Marked as a call to processors: what the processor logs
        // meanwhile stays out of the front doors (`otlp_sdk::processor_calls`).
        processor_calls::run(|| call(&self.processor, timeout))
            .map_err(|error| (self.sdk_error)(error, timeout))
    }

    /// A processor's `Debug`.
    pub(super) fn fmt(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        f.debug_struct(name)
            .field("processor", &std::any::type_name::<P>())
            .field("resource", self.converter.resource())
            .field("flush_timeout", &self.flush_timeout)
            .field("disabled", &self.disabled)
            .finish()
    }
}
