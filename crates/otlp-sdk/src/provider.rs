//! [`TracerProvider`]: owns the resource, sampler, limits and processors; hands out tracers.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use otlp_core::{InstrumentationScope, Resource, Str};
use thread_local::ThreadLocal;

use crate::config::{Config, ExporterKind};
use crate::diagnostics;
use crate::error::PipelineError;
use crate::exporter::Signal;
use crate::fan_out::on_every_processor;
use crate::layered::Layered;
use crate::limits::SpanLimits;
use crate::processor::SpanProcessor;
use crate::provider_state::ProviderState;
use crate::resource_settings::ResourceSettings;
use crate::sampler::Sampler;
use crate::tracer::Tracer;
use crate::unique_keys::keep_last_value_per_key;

/// The entry point of the native API: configure once, then get a [`Tracer`]
/// per instrumentation scope. Cheap to clone (an `Arc`).
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, TracerProvider};
/// use otlp_core::{encode::Encoding, KeyValue};
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let processor = BatchSpanProcessor::builder(Accept).build()?;
/// let provider = TracerProvider::builder()
///     .with_service_name("checkout")
///     .with_processor(processor.clone())
///     .build();
/// let tracer = provider.tracer("checkout-http");
/// {
///     let mut span = tracer.start("GET /cart");
///     span.set_attribute(KeyValue::new("http.response.status_code", 200));
/// } // ended on drop
/// provider.shutdown(Duration::from_secs(1))?;
/// assert_eq!(processor.stats().exported, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TracerProvider {
    inner: Arc<ProviderState>,
}

impl fmt::Debug for TracerProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerProvider")
            .field("resource", &self.inner.resource)
            .field("sampler", &self.inner.sampler)
            .field("processors", &self.inner.processors.len())
            .field("disabled", &self.inner.disabled)
            .finish()
    }
}

impl TracerProvider {
    /// Starts building a provider.
    pub fn builder() -> TracerProviderBuilder {
        TracerProviderBuilder::default()
    }

    /// A tracer for the instrumentation scope `name`.
    ///
    /// An empty name is not a valid scope name: as the specification asks,
    /// the tracer works all the same, its scope keeps the empty name, and a
    /// [`diagnostics::Warning`] says so (once
    /// per process).
    pub fn tracer(&self, name: impl Into<Str>) -> Tracer {
        self.tracer_with_scope(InstrumentationScope::new(name))
    }

    /// A tracer for a fully described scope (version, schema URL,
    /// attributes); an empty name is warned of as in [`tracer`](Self::tracer).
    /// The scope's attributes get unique keys, as OTLP asks of every
    /// attribute collection: a repeated key keeps its last value, in its
    /// first place.
    pub fn tracer_with_scope(&self, mut scope: InstrumentationScope) -> Tracer {
        if scope.name.is_empty() {
            diagnostics::empty_scope_name(Signal::Traces);
        }
        keep_last_value_per_key(&mut scope.attributes);
        Tracer::new(self.inner.clone(), Arc::new(scope))
    }

    /// The resource every span of this provider carries.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.inner.resource
    }

    /// Flushes every processor, all together, within `timeout`; returns the
    /// first error.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        on_every_processor(
            &self.inner.all_processors,
            Signal::Traces,
            timeout,
            |processor, left| processor.force_flush(left),
        )
    }

    /// Shuts down every processor, all together, within `timeout`; returns
    /// the first error.
    ///
    /// Once only, as the specification says: a later call (on this provider
    /// or a clone) returns [`PipelineError::ShutDown`] at once, without
    /// calling any processor's `shutdown` again. Tracers keep working; their
    /// spans reach the processors, which drop and count them (a
    /// [`BatchSpanProcessor`](crate::BatchSpanProcessor) as `dropped_shutdown`).
    pub fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(PipelineError::ShutDown);
        }
        on_every_processor(
            &self.inner.all_processors,
            Signal::Traces,
            timeout,
            |processor, left| processor.shutdown(left),
        )
    }
}

/// Builder for [`TracerProvider`].
#[derive(Default)]
pub struct TracerProviderBuilder {
    resource: ResourceSettings,
    sampler: Layered<Sampler>,
    limits: Layered<SpanLimits>,
    processors: Vec<Arc<dyn SpanProcessor>>,
    disabled: Layered<bool>,
    /// The last configuration's traces exporter is `none`.
    exporter_none: bool,
}

impl TracerProviderBuilder {
    /// Takes the service name, resource attributes, `OTEL_SDK_DISABLED`,
    /// `OTEL_TRACES_EXPORTER=none`, the sampler when one is named
    /// (`OTEL_TRACES_SAMPLER`, [`SamplerConfig`](crate::config::SamplerConfig))
    /// and the span limits
    /// ([`LimitsConfig::span_limits`](crate::config::LimitsConfig::span_limits))
    /// from a loaded [`Config`].
    ///
    /// What the program sets in code wins over the configuration, whether
    /// it is set before or after this call: [`with_sampler`](Self::with_sampler),
    /// [`with_span_limits`](Self::with_span_limits),
    /// [`with_disabled`](Self::with_disabled), [`with_resource`](Self::with_resource)
    /// and [`with_service_name`](Self::with_service_name). A second call
    /// replaces the first configuration's settings.
    ///
    /// `OTEL_TRACES_EXPORTER=none` means what the specification says: no
    /// exporter set up by configuration. It does not turn off what the
    /// program gives in code: the processors of
    /// [`with_processor`](Self::with_processor) get every recording span,
    /// as they would without the variable. A processor that [stands for
    /// the configuration's `none`](SpanProcessor::stands_for_none) (what
    /// `otlp-contrib`'s pipeline builds from such a configuration) gets
    /// none, so that a provider whose processors all come from the
    /// configuration records nothing: its spans get ids and the sampler's
    /// decision, which they propagate, and cost a flag check at start
    /// ([`Tracer::never_records`] is true). Only `OTEL_SDK_DISABLED` (or
    /// [`with_disabled`](Self::with_disabled)) turns the provider off
    /// whatever is given in code. The other signals' exporters are not
    /// concerned.
    ///
    /// ```
    /// use otlp_sdk::{SpanLimits, TracerProvider};
    /// use otlp_sdk::config::Config;
    ///
    /// let limits = SpanLimits { max_attributes: 8, ..SpanLimits::default() };
    /// // The limits set in code stay, although the configuration comes after them.
    /// let provider = TracerProvider::builder()
    ///     .with_span_limits(limits)
    ///     .with_config(&Config::default())
    ///     .build();
    /// # drop(provider);
    /// ```
    pub fn with_config(mut self, config: &Config) -> Self {
        self.resource.apply_config(config);
        self.sampler.configure_some(config.sampler.sampler());
        self.limits.configure(config.limits.span_limits());
        self.disabled.configure(config.disabled);
        self.exporter_none = config.exporter.kind == ExporterKind::None;
        self
    }

    /// Merges these attributes into the resource (later values win; they win
    /// over the configuration's). A blank `service.name` among them (an
    /// empty or white-space string) is no name, as for the configuration:
    /// it is left out, and the service name otherwise given stays.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource.merge(resource);
        self
    }

    /// Sets `service.name`, which wins over any resource attribute and over
    /// the configuration's (`OTEL_SERVICE_NAME`). A blank name (empty or
    /// white space) is no name, as for the configuration: it changes
    /// nothing, and the service name otherwise given stays (that of an
    /// earlier call, of [`with_resource`](Self::with_resource), of the
    /// configuration, else `unknown_service:` and the executable's name).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.resource.set_service_name(name.into());
        self
    }

    /// Sets the sampler (default: parent-based, always on), over the
    /// configuration's, before or after [`with_config`](Self::with_config).
    /// A sampler of the program's own ([`Sampler::custom`]) is set here:
    /// `OTEL_TRACES_SAMPLER` names only the built-in ones, and a custom
    /// sampler set in code wins over the one it names, as any sampler set
    /// in code does.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler.set(sampler);
        self
    }

    /// Sets the span limits (default [`SpanLimits::default`]: 128 of each, no
    /// length cap), over the configuration's, before or after
    /// [`with_config`](Self::with_config).
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits.set(limits);
        self
    }

    /// Adds a processor; finished spans go to every processor in order.
    /// A processor given here gets the spans whatever the configuration's
    /// traces exporter (`OTEL_TRACES_EXPORTER=none` included), unless it
    /// [stands for that `none`](SpanProcessor::stands_for_none) (see
    /// [`with_config`](Self::with_config)).
    pub fn with_processor(mut self, processor: impl SpanProcessor) -> Self {
        self.processors.push(Arc::new(processor));
        self
    }

    /// Disables recording (as `OTEL_SDK_DISABLED=true` does), or enables it
    /// whatever the configuration says, before or after
    /// [`with_config`](Self::with_config).
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled.set(disabled);
        self
    }

    /// Builds the provider. The resource gets the SDK's `telemetry.sdk.*`
    /// attributes and a `service.name` (`unknown_service:` and the executable's name if none
    /// was given); the builder's resource and service name win over the configuration's,
    /// whichever was given first.
    pub fn build(self) -> TracerProvider {
        // With the configuration's exporter `none`, only the processors
        // given in code take spans: one that stands for that `none` is
        // left out (it still flushes and shuts down with the provider).
        let exporter_none = self.exporter_none;
        let receiving: Vec<Arc<dyn SpanProcessor>> = self
            .processors
            .iter()
            .filter(|processor| !(exporter_none && processor.stands_for_none()))
            .cloned()
            .collect();
        let sampler = self.sampler.value_or_default();
        let custom_sampler = sampler.has_custom();
        let only_batch = match receiving.as_slice() {
            [only] => only.batch_pipeline().cloned(),
            _ => None,
        };
        TracerProvider {
            inner: Arc::new(ProviderState {
                resource: Arc::new(self.resource.build()),
                sampler,
                limits: self.limits.value_or_default(),
                plain_start: only_batch.is_some() && !custom_sampler,
                custom_sampler,
                only_batch,
                pipeline_handles: ThreadLocal::new(),
                // No exporter configured and none given in code: the
                // sampler still decides, nothing is recorded.
                shut_down: AtomicBool::new(false),
                export_off: exporter_none && receiving.is_empty(),
                processors: Arc::new(receiving),
                all_processors: self.processors,
                disabled: self.disabled.value_or(false),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use otlp_core::encode::Encoding;

    use super::*;
    use crate::exporter::{ExportOutcome, ExportRequest, Exporter};
    use crate::processor::BatchSpanProcessor;

    struct Accept;

    impl Exporter for Accept {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }

        async fn export(&self, _: ExportRequest) -> ExportOutcome {
            ExportOutcome::Success
        }
    }

    /// A batch pipeline that accepts everything, and a provider on it alone.
    fn accepting_pipeline() -> (BatchSpanProcessor, TracerProvider) {
        let processor = BatchSpanProcessor::builder(Accept).build().unwrap();
        let provider = TracerProvider::builder()
            .with_processor(processor.clone())
            .build();
        (processor, provider)
    }

    #[test]
    fn live_spans_hold_their_threads_handle_not_the_pipeline() {
        let (processor, provider) = accepting_pipeline();
        let tracer = provider.tracer("handles");
        let pipeline_count = || Arc::strong_count(processor.shared());
        let before = pipeline_count();
        // However many spans a thread has open, the pipeline's own count
        // moves once: for the thread's handle, which the spans share.
        let open: Vec<_> = (0..10).map(|_| tracer.start("open")).collect();
        assert_eq!(pipeline_count(), before + 1);
        let more: Vec<_> = (0..10).map(|_| tracer.start("open")).collect();
        assert_eq!(pipeline_count(), before + 1);
        // Another thread takes a handle of its own.
        let (started, on_main) = mpsc::channel();
        let other = tracer.clone();
        std::thread::spawn(move || started.send(other.start("elsewhere")).unwrap())
            .join()
            .unwrap();
        let elsewhere = on_main.recv().unwrap();
        assert_eq!(pipeline_count(), before + 2);
        // Ended, the spans give nothing back to the pipeline either; the
        // handles go with the provider's state.
        for mut span in open.into_iter().chain(more).chain([elsewhere]) {
            span.end();
        }
        assert_eq!(pipeline_count(), before + 2);
        drop(tracer);
        drop(provider);
        assert_eq!(pipeline_count(), before);
    }

    #[test]
    fn a_shut_down_pipeline_keeps_no_memory_in_the_threads_that_used_it() {
        let (processor, provider) = accepting_pipeline();
        let shared = Arc::downgrade(processor.shared());
        // A thread records spans, then stays alive doing something else.
        let (recorded, wait) = mpsc::channel();
        let (release, parked) = mpsc::channel::<()>();
        let tracer = provider.tracer("memory");
        let thread = std::thread::spawn(move || {
            for _ in 0..100 {
                tracer.start("span").end();
            }
            drop(tracer);
            recorded.send(()).unwrap();
            let _ = parked.recv();
        });
        wait.recv().unwrap();
        processor.force_flush(Duration::from_secs(10)).unwrap();
        provider.shutdown(Duration::from_secs(10)).unwrap();
        // Shut down, the pipeline holds no bytes for spans that will not come.
        assert_eq!(processor.stats().queued_bytes, 0);
        drop(provider);
        drop(processor);
        // Dropped, nothing keeps its queue alive: not the thread that used it.
        // (The export runtime is released in the background: its last task
        // lets go of the pipeline a moment after shutdown returns.)
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.strong_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            shared.upgrade().is_none(),
            "the pipeline outlived its last handle"
        );
        release.send(()).unwrap();
        thread.join().unwrap();
    }
}
