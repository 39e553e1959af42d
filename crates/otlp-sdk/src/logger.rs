//! [`LoggerProvider`] and [`Logger`]: the native log API.
//!
//! A program (or a front door: the `tracing` layer, the `log` crate) builds
//! an [`otlp_core::LogRecord`] and emits it through a [`Logger`], which
//! stamps it with the provider's resource, the logger's scope and, when the
//! record has none, the observed time; every processor of the provider then
//! takes it — a [`BatchLogProcessor`](crate::BatchLogProcessor) encodes it
//! once, on the emitting thread, into its queue.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use otlp_core::{
    InstrumentationScope, KeyValue, LogRecord, Resource, Severity, SpanContext, Str, clock,
};

use crate::active_span;
use crate::batch_pipeline::shut_down_together;
use crate::config::{Config, ExporterKind};
use crate::diagnostics;
use crate::error::PipelineError;
use crate::exporter::Signal;
use crate::fan_out::on_every_processor;
use crate::layered::Layered;
use crate::limits::LogRecordLimits;
use crate::log_processor::LogProcessor;
use crate::own_threads;
use crate::processor_calls;
use crate::resource_settings::ResourceSettings;
use crate::unique_keys::keep_last_value_per_key;
use crate::{spare_attributes, spare_handles};

struct LoggerProviderState {
    resource: Arc<Resource>,
    /// The processors that take records, in the order they were added;
    /// empty, [`Logger::emit`] returns at once.
    processors: Vec<Arc<dyn LogProcessor>>,
    /// Every processor given, for flush and shutdown: those of `processors`
    /// and those left out because they [stand for the configuration's
    /// `none`](LogProcessor::stands_for_none).
    all_processors: Vec<Arc<dyn LogProcessor>>,
    limits: LogRecordLimits,
    disabled: bool,
    /// [`LoggerProvider::shutdown`] was called: a second call shuts no
    /// processor down again.
    shut_down: AtomicBool,
}

impl Drop for LoggerProviderState {
    /// The provider's last handle went: its processors go with it, and the
    /// batch pipelines among them that nothing else holds shut down all at
    /// once, bounded by one pipeline's drop bound, not one after another.
    fn drop(&mut self) {
        let processors = std::mem::take(&mut self.processors);
        let all_processors = std::mem::take(&mut self.all_processors);
        shut_down_together(move || drop((processors, all_processors)));
    }
}

/// The entry point of the native log API: configure once, then get a
/// [`Logger`] per instrumentation scope. Cheap to clone (an `Arc`).
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::{BatchLogProcessor, ExportOutcome, ExportRequest, Exporter, LoggerProvider, Signal};
/// use otlp_core::{encode::Encoding, KeyValue, LogRecord, Severity};
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     fn signal(&self) -> Signal { Signal::Logs }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let processor = BatchLogProcessor::builder(Accept).build()?;
/// let provider = LoggerProvider::builder()
///     .with_service_name("checkout")
///     .with_processor(processor.clone())
///     .build();
/// let logger = provider.logger("checkout-http");
/// logger.emit(
///     LogRecord::builder()
///         .severity(Severity::WARN)
///         .body("card declined")
///         .attribute(KeyValue::new("payment.attempt", 2))
///         .build(),
/// );
/// provider.shutdown(Duration::from_secs(1))?;
/// assert_eq!(processor.stats().exported, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LoggerProvider {
    inner: Arc<LoggerProviderState>,
}

impl fmt::Debug for LoggerProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerProvider")
            .field("resource", &self.inner.resource)
            .field("processors", &self.inner.processors.len())
            .field("limits", &self.inner.limits)
            .field("disabled", &self.inner.disabled)
            .finish()
    }
}

impl LoggerProvider {
    /// Starts building a provider.
    pub fn builder() -> LoggerProviderBuilder {
        LoggerProviderBuilder::default()
    }

    /// A logger for the instrumentation scope `name`.
    ///
    /// An empty name is not a valid scope name: as the specification asks,
    /// the logger works all the same, its scope keeps the empty name, and a
    /// [`diagnostics::Warning`] says so (once
    /// per process).
    pub fn logger(&self, name: impl Into<Str>) -> Logger {
        self.logger_with_scope(InstrumentationScope::new(name))
    }

    /// A logger for a fully described scope (version, schema URL,
    /// attributes); an empty name is warned of as in [`logger`](Self::logger).
    /// The scope's attributes get unique keys, as OTLP asks of every
    /// attribute collection: a repeated key keeps its last value, in its
    /// first place.
    pub fn logger_with_scope(&self, mut scope: InstrumentationScope) -> Logger {
        if scope.name.is_empty() {
            diagnostics::empty_scope_name(Signal::Logs);
        }
        keep_last_value_per_key(&mut scope.attributes);
        Logger {
            provider: Arc::clone(&self.inner),
            scope: Arc::new(scope),
        }
    }

    /// The resource every record of this provider carries.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.inner.resource
    }

    /// Flushes every processor, all together, within `timeout`; returns the
    /// first error.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        on_every_processor(
            &self.inner.all_processors,
            Signal::Logs,
            timeout,
            |processor, left| processor.force_flush(left),
        )
    }

    /// Shuts down every processor, all together, within `timeout`; returns
    /// the first error.
    ///
    /// Once only, as the specification says: a later call (on this provider
    /// or a clone) returns [`PipelineError::ShutDown`] at once, without
    /// calling any processor's `shutdown` again. Loggers keep handing records
    /// to the processors, which drop and count them (a
    /// [`BatchLogProcessor`](crate::BatchLogProcessor) as `dropped_shutdown`).
    pub fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(PipelineError::ShutDown);
        }
        on_every_processor(
            &self.inner.all_processors,
            Signal::Logs,
            timeout,
            |processor, left| processor.shutdown(left),
        )
    }
}

/// Emits log records for one instrumentation scope. Cheap to clone.
#[derive(Clone)]
pub struct Logger {
    provider: Arc<LoggerProviderState>,
    scope: Arc<InstrumentationScope>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("scope", &self.scope)
            .finish()
    }
}

impl Logger {
    /// The scope of this logger's records.
    pub fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    /// Whether records emitted here go anywhere: false when the provider is
    /// disabled or has no processor, and on a pipeline's own threads
    /// ([`own_threads`]: what a pipeline's work logs
    /// would feed the pipeline itself). A front door may skip building a
    /// record that would go nowhere. A flag check and a thread-local read:
    /// it does not ask the processors (see [`enabled_for`](Self::enabled_for)).
    pub fn enabled(&self) -> bool {
        !self.provider.disabled
            && !self.provider.processors.is_empty()
            && !own_threads::is_own_thread()
    }

    /// The specification's `Logger.Enabled`: whether a record of `severity`
    /// ([`Severity::UNSPECIFIED`] if unknown) and `event_name` (empty: none)
    /// would be kept. False when [`enabled`](Self::enabled) is, and when
    /// every processor's [`LogProcessor::enabled`] says no (with this
    /// logger's scope); true as soon as one says yes, asking them in order.
    ///
    /// Calling it is optional, never required before [`emit`](Self::emit):
    /// it pays when building the record is expensive (a body or attributes
    /// computed from a lookup), and a record built cheaply can be emitted
    /// directly. The answer is not static (a processor may change its mind):
    /// do not cache it. A shut-down provider still answers as before, so
    /// that a record emitted after shutdown reaches its processors and is
    /// counted dropped there (`dropped_shutdown`), not lost unseen. The
    /// processors are asked with the thread marked ([`processor_calls`]).
    /// Cost: the flag check, then
    /// one call per processor until one says yes (a
    /// [`BatchLogProcessor`](crate::BatchLogProcessor) says yes at once); no
    /// allocation, no lock.
    pub fn enabled_for(&self, severity: Severity, event_name: &str) -> bool {
        self.enabled()
            && processor_calls::run(|| {
                self.provider
                    .processors
                    .iter()
                    .any(|processor| processor.enabled(&self.scope, severity, event_name))
            })
    }

    /// An empty vector for the attributes of a record about to be built:
    /// this thread's spare (the emptied vector of the last record or span
    /// it handed to a pipeline) when it has one, else a new one with room
    /// for a few. A front door that builds a record per event saves its one
    /// allocation this way: [`emit`](Self::emit) gives the vector back.
    pub fn attribute_vector(&self) -> Vec<KeyValue> {
        spare_attributes::take()
    }

    /// Emits `record`: a record without ids (no `trace_id`, no `span_id`)
    /// takes those of the thread's [active span](crate::active_span) and
    /// its trace flags, if there is one (the specification's "current
    /// Context"; ids the record carries are the context it was given, and
    /// win). It gets this provider's resource and this logger's
    /// scope (whatever it carried), and the current time as its observed
    /// time when it has none; its attributes are held to the provider's
    /// [`LogRecordLimits`] (a repeated key keeps its last value, those past
    /// the cap are discarded and added to `dropped_attributes_count`, values
    /// truncated); then every processor
    /// takes it, in order, each seeing what those before it changed
    /// ([`LogProcessor::on_emit`]), with the thread marked as calling them
    /// ([`processor_calls`]: what they log meanwhile stays out of the front
    /// doors).
    ///
    /// Cost of the context: for a record without ids, one thread-local read
    /// (the active-span depth) when no span is active.
    pub fn emit(&self, mut record: LogRecord) {
        if !self.enabled() {
            return;
        }
        active_span::correlate(&mut record);
        self.emit_resolved(record);
    }

    /// Emits `record` in the explicitly given `context`, whatever span is
    /// active on this thread: a valid `context` gives the record its trace
    /// id, span id and trace flags; `None` (or an invalid context) is the
    /// empty context, and the record keeps the ids it carries, if any, as
    /// given. Of the trace flags only the defined ones
    /// ([`TraceFlags::DEFINED`](otlp_core::TraceFlags::DEFINED)) are kept, as for a child span. The rest is [`emit`](Self::emit). For a front door that knows
    /// the context of what it records (a `tracing` event with an explicit
    /// parent, or none).
    pub fn emit_in(&self, mut record: LogRecord, context: Option<&SpanContext>) {
        if !self.enabled() {
            return;
        }
        if let Some(context) = context.filter(|context| context.is_valid()) {
            record.trace_id = Some(context.trace_id);
            record.span_id = Some(context.span_id);
            record.flags = u32::from(context.trace_flags.defined().bits());
        }
        self.emit_resolved(record);
    }

    /// [`emit`](Self::emit) once the record's context is settled.
    fn emit_resolved(&self, mut record: LogRecord) {
        self.provider.limits.apply(&mut record);
        if record.observed_time_unix_nano == 0 {
            record.observed_time_unix_nano = clock::now_unix_nanos();
        }
        if !Arc::ptr_eq(&record.resource, &self.provider.resource)
            || !Arc::ptr_eq(&record.scope, &self.scope)
        {
            (record.resource, record.scope) = self.handles();
        }
        // Each processor may change the record; the next sees the change.
        // What they log meanwhile stays out of the front doors
        // (`processor_calls`).
        processor_calls::run(|| {
            for processor in &self.provider.processors {
                processor.on_emit(&mut record);
            }
        });
        // Every processor has taken what it needs (encoded or cloned): the
        // vector and the handles serve this thread's next record or span.
        let LogRecord {
            attributes,
            resource,
            scope,
            ..
        } = record;
        spare_attributes::keep(attributes);
        spare_handles::keep(resource, scope);
    }

    /// This provider's resource and this logger's scope, as handles for a
    /// record about to be built: this thread's spares (kept from its last
    /// record or span) when it has them, else clones. A front door that
    /// builds a record per event and stamps it with these leaves
    /// [`emit`](Self::emit) nothing to replace, and writes no shared
    /// reference count: `emit` keeps the handles for the next record.
    pub fn handles(&self) -> (Arc<Resource>, Arc<InstrumentationScope>) {
        spare_handles::take(&self.provider.resource, &self.scope)
    }
}

/// Builder for [`LoggerProvider`].
#[derive(Default)]
pub struct LoggerProviderBuilder {
    resource: ResourceSettings,
    processors: Vec<Arc<dyn LogProcessor>>,
    limits: Layered<LogRecordLimits>,
    disabled: Layered<bool>,
    /// The last configuration's logs exporter is `none`.
    exporter_none: bool,
}

impl LoggerProviderBuilder {
    /// Takes the service name, resource attributes, `OTEL_SDK_DISABLED`,
    /// `OTEL_LOGS_EXPORTER=none` and
    /// the log record limits ([`LimitsConfig::log_record_limits`](crate::config::LimitsConfig::log_record_limits))
    /// from a loaded [`Config`]. What the program sets in code wins over the
    /// configuration, whether it is set before or after this call:
    /// [`with_log_limits`](Self::with_log_limits),
    /// [`with_disabled`](Self::with_disabled), [`with_resource`](Self::with_resource)
    /// and [`with_service_name`](Self::with_service_name). A second call
    /// replaces the first configuration's settings.
    ///
    /// `OTEL_SDK_DISABLED=true` turns the provider off: nothing is emitted,
    /// whatever is given in code. `OTEL_LOGS_EXPORTER=none` means what the
    /// specification says, no exporter set up by configuration: the
    /// processors of [`with_processor`](Self::with_processor) still get
    /// every record; one that [stands for the configuration's
    /// `none`](LogProcessor::stands_for_none) (what `otlp-contrib`'s
    /// pipeline builds from such a configuration) gets none. With no other
    /// processor, [`Logger::enabled`] is false and [`Logger::emit`] returns
    /// at once, as with no processor at all.
    pub fn with_config(mut self, config: &Config) -> Self {
        self.resource.apply_config(config);
        self.limits.configure(config.limits.log_record_limits());
        self.disabled.configure(config.disabled);
        self.exporter_none = config.logs.exporter.kind == ExporterKind::None;
        self
    }

    /// Sets the log record limits (default [`LogRecordLimits::default`]: 128
    /// attributes, no length cap), over the configuration's, before or
    /// after [`with_config`](Self::with_config).
    pub fn with_log_limits(mut self, limits: LogRecordLimits) -> Self {
        self.limits.set(limits);
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

    /// Adds a processor; emitted records go to every processor in order.
    /// A processor given here gets the records whatever the configuration's
    /// logs exporter (`OTEL_LOGS_EXPORTER=none` included), unless it [stands
    /// for that `none`](LogProcessor::stands_for_none) (see
    /// [`with_config`](Self::with_config)).
    pub fn with_processor(mut self, processor: impl LogProcessor) -> Self {
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
    pub fn build(self) -> LoggerProvider {
        let exporter_none = self.exporter_none;
        let receiving = self
            .processors
            .iter()
            .filter(|processor| !(exporter_none && processor.stands_for_none()))
            .cloned()
            .collect();
        LoggerProvider {
            inner: Arc::new(LoggerProviderState {
                resource: Arc::new(self.resource.build()),
                processors: receiving,
                all_processors: self.processors,
                limits: self.limits.value_or_default(),
                disabled: self.disabled.value_or(false),
                shut_down: AtomicBool::new(false),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_settings_set_in_code_win_over_a_configuration_in_either_order() {
        // Before: limits and the disabled flag set before `with_config`
        // were replaced by the configuration's (its defaults included).
        let limits = LogRecordLimits {
            max_attributes: 3,
            ..LogRecordLimits::default()
        };
        let config = Config::default();
        let code_first = LoggerProvider::builder()
            .with_log_limits(limits)
            .with_disabled(true)
            .with_config(&config)
            .build();
        let config_first = LoggerProvider::builder()
            .with_config(&config)
            .with_log_limits(limits)
            .with_disabled(true)
            .build();
        for provider in [code_first, config_first] {
            assert_eq!(provider.inner.limits.max_attributes, 3);
            assert!(provider.inner.disabled);
        }
        let mut configured = Config::default();
        configured.limits.attribute_count = Some(7);
        let provider = LoggerProvider::builder().with_config(&configured).build();
        assert_eq!(provider.inner.limits.max_attributes, 7);
    }
}
