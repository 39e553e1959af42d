//! [`OtlpLogLayer`]: `tracing` events as otlp-sdk log records.

use std::fmt;
use std::sync::OnceLock;

use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, LogRecord, Severity, SpanContext, Str, clock,
};
use otlp_sdk::{Logger, LoggerProvider, own_threads, processor_calls};
use tracing_core::dispatcher::WeakDispatch;
use tracing_core::span::Id;
use tracing_core::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::fields::{EventFields, from_log_fields, is_from_log, log_target, push_location};
use super::layer::WithContext;
use super::state::{Deferred, SpanState, in_sdk_call};
use super::target_loggers::TargetLoggers;
use super::{DEFAULT_SCOPE, TARGET_ATTRIBUTE};

/// A [`tracing_subscriber::Layer`] that turns every `tracing` event into an
/// OTLP log record of one [`LoggerProvider`]: its resource, processors and
/// pipeline apply. The replacement for `opentelemetry-appender-tracing`'s
/// `OpenTelemetryTracingBridge::new(&provider)`.
///
/// What a record carries (see the [module documentation](super) for the
/// details): the event's time, its level as severity (`TRACE` 1, `DEBUG` 5,
/// `INFO` 9, `WARN` 13, `ERROR` 17) and severity text, the `message` field
/// as a string body, the other fields as typed attributes (and the
/// location, when asked for), the event's target as the name of the
/// record's scope, the name it was given (`name: "order.placed"`) as its
/// event name, and the trace id, span id and flags of the span it
/// happened in when an [`OtlpLayer`](super::OtlpLayer) of the same
/// subscriber records that span (else, with the `opentelemetry-bridge`
/// feature, of the span current through the `opentelemetry` API, such as
/// one `tracing-opentelemetry` has entered; else of the native API's
/// active span).
///
/// What its processors record through `tracing` or `log` while the layer
/// hands them a record (or asks them about one) is not recorded by the
/// layer, so that a processor that logs is not handed its own records
/// without end; other layers see it.
///
/// Cost: nothing when the provider has no processor or is disabled
/// ([`Logger::enabled`]) or on a pipeline's own threads; when no processor
/// keeps the event's severity ([`Logger::enabled_for`], asked with the
/// scope and event name the record would have: one call per processor
/// until one says yes, at once for a
/// [`BatchLogProcessor`](otlp_sdk::BatchLogProcessor)), nothing more, but
/// for a `log` record through `tracing-log` (its target, which names the
/// scope, is read from its fields first); otherwise the
/// attributes in this thread's spare vector ([`Logger::attribute_vector`];
/// keys static, strings copied once, `?debug` values formatted once into a
/// per-thread buffer: no allocation in steady state), the clock read, the
/// target's logger (this thread's last one, used in place: no reference
/// count written; or a shared map), a look at the current span's
/// extensions, and the record's encoding by the provider's processor on
/// this thread.
///
/// **Add it as it is, or boxed, not inside `Option` or `Vec`.** The layer
/// finds the span of an event through the subscriber it was registered with
/// (`Layer::on_register_dispatch`), and `tracing-subscriber` 0.3.23 does not
/// pass that call on through `Option<L>` and `Vec<L>` (fixed upstream, not
/// released), nor to a layer swapped in later by `reload::Handle::reload`
/// (the layer a `reload::Layer` was built with gets it). Inside them, a record still gets the ids of a span that has
/// started and that its own filter lets through, but none for a span not
/// started yet (a span is started the first time its context is needed) or
/// one its filter hides. To switch the layer on from configuration, use
/// `.boxed()` on both branches, or keep the layer and turn it off with a
/// `filter_fn`.
///
/// ```
/// use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer};
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let tracer_provider = otlp_sdk::TracerProvider::builder().with_service_name("orders").build();
/// let logger_provider = otlp_sdk::LoggerProvider::builder().with_service_name("orders").build();
/// // Was: OpenTelemetryTracingBridge::new(&logger_provider)
/// let subscriber = tracing_subscriber::registry()
///     .with(OtlpLayer::new(&tracer_provider))
///     .with(OtlpLogLayer::new(&logger_provider));
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("place order").entered();
///     tracing::warn!(order.id = 42_u64, retry = true, "payment slow");
/// });
/// ```
pub struct OtlpLogLayer {
    /// The scope given to [`OtlpLogLayerBuilder::with_scope`], else the
    /// default scope: where a record goes when its target has no logger.
    logger: Logger,
    /// One logger per target, unless a scope was given.
    targets: Option<TargetLoggers>,
    location: bool,
    /// The dispatch this layer is part of, to start an `OtlpLayer` span that
    /// is still pending (set once, when the subscriber becomes a dispatch).
    dispatch: OnceLock<WeakDispatch>,
}

impl fmt::Debug for OtlpLogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpLogLayer")
            .field("scope", self.logger.scope())
            .field("scope_per_target", &self.targets.is_some())
            .field("location", &self.location)
            .finish()
    }
}

/// Builds an [`OtlpLogLayer`]; see [`OtlpLogLayer::builder`].
#[derive(Debug)]
pub struct OtlpLogLayerBuilder {
    provider: LoggerProvider,
    /// `None`: a scope per target.
    scope: Option<InstrumentationScope>,
    location: bool,
}

impl OtlpLogLayerBuilder {
    /// One instrumentation scope for every record, the event's target then
    /// an attribute (`target`). By default each target has a scope of its
    /// own, named after it (and the record no `target` attribute), as
    /// `opentelemetry-appender-tracing`'s records are exported by
    /// `opentelemetry-otlp`: see the module documentation.
    pub fn with_scope(mut self, scope: InstrumentationScope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Whether records carry where the event was written: `code.file.path`,
    /// `code.line.number` and `code.module.name`. Off by default, as in
    /// `opentelemetry-appender-tracing` (whose location attributes are an
    /// opt-in feature): a record migrated from it carries the same
    /// attributes, and three fewer attributes per record are three fewer to
    /// encode, send and store (about a sixth of the layer's cost per
    /// record with eight fields). A `log` record's own location
    /// (`log.file`, `log.line`, `log.module_path` from `tracing-log`)
    /// follows the same setting.
    pub fn with_location(mut self, location: bool) -> Self {
        self.location = location;
        self
    }

    /// The layer.
    pub fn build(self) -> OtlpLogLayer {
        let (logger, targets) = match self.scope {
            Some(scope) => (self.provider.logger_with_scope(scope), None),
            None => (
                self.provider.logger_with_scope(default_scope()),
                Some(TargetLoggers::new(self.provider)),
            ),
        };
        OtlpLogLayer {
            logger,
            targets,
            location: self.location,
            dispatch: OnceLock::new(),
        }
    }
}

impl OtlpLogLayer {
    /// A layer emitting into `provider`, with the defaults of
    /// [`OtlpLogLayer::builder`]: the one-line replacement for
    /// `OpenTelemetryTracingBridge::new(&provider)`.
    pub fn new(provider: &LoggerProvider) -> Self {
        OtlpLogLayer::builder(provider).build()
    }

    /// A builder: scope, location attributes (off by default).
    pub fn builder(provider: &LoggerProvider) -> OtlpLogLayerBuilder {
        OtlpLogLayerBuilder {
            provider: provider.clone(),
            scope: None,
            location: false,
        }
    }

    /// The logger of the scope given to [`OtlpLogLayerBuilder::with_scope`];
    /// with a scope per target (the default), the one of the layer's
    /// default scope (`otlp_contrib::tracing`), which records get only past
    /// 4,096 distinct targets. Its provider is every record's.
    pub fn logger(&self) -> &Logger {
        &self.logger
    }

    /// The context of the span `event` happened in, or of its closest
    /// ancestor an `OtlpLayer` records; a pending span is started first.
    ///
    /// Looked up in the whole subscriber, not through this layer's
    /// [`Context`]: a per-layer filter on this layer (say, `WARN` and up)
    /// would hide the `INFO` spans the event happens in.
    fn span_context<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Option<SpanContext>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // Without an `OtlpLayer` in the process no span has a context to give.
        // Inside an sdk call of `OtlpLayer` (a sampler, a processor's
        // `on_start`, the warning handler), the event's span may be the one
        // the call is about, whose extensions this thread holds: no ids.
        if event.is_root() || !super::layer::any_layer_built() || in_sdk_call() {
            return None;
        }
        // The whole subscriber's current span (`Context::current_span` is not
        // filtered): an event outside every span is done here, without
        // writing the dispatch's shared reference count.
        let id = match event.parent() {
            Some(parent) => parent.clone(),
            None => ctx.current_span().id()?.clone(),
        };
        // Most events are in a span an `OtlpLayer` has started (entered):
        // its context is read through this layer's context, without the
        // dispatch (upgrading the weak handle writes a reference count every
        // thread shares, and was a third of this function). If this layer's
        // filter hides the span, or it is pending or not an `OtlpLayer`
        // span, the whole subscriber is searched below.
        if let Some(span) = ctx.span(&id)
            && let Some(context) = span
                .extensions()
                .get::<SpanState>()
                .and_then(SpanState::started_context)
        {
            return Some(context.clone());
        }
        let dispatch = self.dispatch.get()?.upgrade()?;
        let subscriber = dispatch.downcast_ref::<S>()?;
        // The span, then its ancestors (`parent()`: `scope()` would look
        // the span up in the registry a second time).
        let mut next = subscriber.span(&id);
        let mut pending: Option<Id> = None;
        while let Some(ancestor) = next {
            let extensions = ancestor.extensions();
            if let Some(state) = extensions.get::<SpanState>() {
                if let Some(context) = state.started_context() {
                    return Some(context.clone());
                }
                pending = Some(ancestor.id());
                break;
            }
            // Tracing off: a span recorded without a state yet, made below.
            if extensions.get::<Deferred>().is_some() {
                pending = Some(ancestor.id());
                break;
            }
            drop(extensions);
            next = ancestor.parent();
        }
        // A pending span (or one without a state yet): started the way
        // `OtlpSpanExt::context` starts it, through the `OtlpLayer` of this
        // dispatch (it holds the tracer).
        let pending = pending?;
        let with_context = dispatch.downcast_ref::<WithContext>()?;
        let mut context = None;
        with_context.with_span_state(&dispatch, &pending, &mut |state, tracer| {
            context = Some(state.start(tracer).context().clone());
        });
        context
    }

    /// The time of `event` (read now) and its attributes, recorded in this
    /// thread's spare vector: first the record's own, the `target` (when
    /// `own_target`: no scope is named after it) and the location (when
    /// asked for), then the fields. So past the attribute limit, which keeps
    /// the first ones, fields are dropped, not these; and a field of the
    /// same name (`target = "upstream"`) wins, as the logger keeps a
    /// repeated key's last value, in its first place. A `log` record through
    /// `tracing-log` (`from_log`) has its target and location among its
    /// fields (`from_log_fields` renames them in `emit`): none is added.
    fn record_fields(
        &self,
        event: &Event<'_>,
        own_target: bool,
        from_log: bool,
    ) -> (u64, EventFields) {
        let time = clock::now_unix_nanos();
        let metadata = event.metadata();
        let location = self.location && !from_log;
        // This thread's spare vector: `emit` gives it back once encoded.
        let mut fields = EventFields::in_vector(
            self.logger.attribute_vector(),
            metadata.fields().len() + 2 + if location { 3 } else { 0 },
        );
        if own_target {
            fields
                .attributes
                .push(KeyValue::new(TARGET_ATTRIBUTE, metadata.target()));
        }
        if location {
            push_location(&mut fields.attributes, metadata);
        }
        event.record(&mut fields);
        fields.push_exception();
        (time, fields)
    }

    /// Emits the record of `event` (its time and its attributes as
    /// [`record_fields`](Self::record_fields) read them, its
    /// [`event_name`]) through `target_logger`, the target's own logger, or
    /// else the layer's, whose records name the target in an attribute.
    fn emit<S>(
        &self,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        (time, mut fields): (u64, EventFields),
        from_log: bool,
        event_name: &'static str,
        target_logger: Option<&Logger>,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let metadata = event.metadata();
        if from_log {
            from_log_fields(
                &mut fields.attributes,
                target_logger.is_none(),
                self.location,
            );
        }
        let logger = target_logger.unwrap_or(&self.logger);
        // Stamped here with the logger's own handles: `emit` has nothing to
        // replace, and keeps them for the thread's next record.
        let (resource, scope) = logger.handles();
        let level = metadata.level();
        let mut context = self.span_context(event, ctx).filter(SpanContext::is_valid);
        if context.is_none() && event.is_contextual() {
            // Outside any span an `OtlpLayer` records: a span made current
            // through the `opentelemetry` API (the `log` bridge's order).
            context = opentelemetry_context();
        }
        // Built in place (the builder would move the record at each step);
        // observed when it occurred: one clock read.
        let record = LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time,
            severity_number: severity(level),
            severity_text: Str::from(level.as_str()),
            body: fields.message.map(AnyValue::String),
            attributes: fields.attributes,
            dropped_attributes_count: 0,
            flags: context
                .as_ref()
                .map_or(0, |context| u32::from(context.trace_flags.bits())),
            trace_id: context.as_ref().map(|context| context.trace_id),
            span_id: context.as_ref().map(|context| context.span_id),
            event_name: Str::from(event_name),
            resource,
            scope,
        };
        // `emit` hands the record to the processors with the thread marked:
        // what they record meanwhile is left alone (`otlp_sdk::processor_calls`).
        if event.is_contextual() {
            // Outside any span a layer records, `emit` gives the record
            // the ids of the thread's active span of the native API, if
            // any (`otlp_sdk::active_span`), as the `log` bridge does.
            logger.emit(record);
        } else {
            // An explicit parent (or `parent: None`) is the given
            // context: the active span is not consulted.
            logger.emit_in(record, context.as_ref());
        }
    }
}

/// The scope of a layer given none, for records whose target has no logger.
fn default_scope() -> InstrumentationScope {
    InstrumentationScope::new(DEFAULT_SCOPE).with_version(env!("CARGO_PKG_VERSION"))
}

/// The span made current through the `opentelemetry` API on this thread
/// ([`crate::bridge::current_span_context`]).
#[cfg(feature = "opentelemetry-bridge")]
fn opentelemetry_context() -> Option<SpanContext> {
    crate::bridge::current_span_context()
}

/// Without the `opentelemetry` bridge there is no such context.
#[cfg(not(feature = "opentelemetry-bridge"))]
fn opentelemetry_context() -> Option<SpanContext> {
    None
}

/// The OpenTelemetry severity of a `tracing` level (the log data model's
/// mapping: the first number of each range).
fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::TRACE,
        Level::DEBUG => Severity::DEBUG,
        Level::INFO => Severity::INFO,
        Level::WARN => Severity::WARN,
        Level::ERROR => Severity::ERROR,
    }
}

/// The event name of a record: the name the event was given
/// (`tracing::info!(name: "order.placed", ...)`), as
/// `opentelemetry-appender-tracing` writes it; empty for the name `tracing`
/// makes up for an event given none (`event src/main.rs:12`, which says
/// nothing its location does not) and for a `log` record through
/// `tracing-log` (`log event`). No allocation: a few comparisons.
fn event_name(metadata: &'static Metadata<'static>, from_log: bool) -> &'static str {
    let name = metadata.name();
    if from_log || is_generated_event_name(name, metadata) {
        ""
    } else {
        name
    }
}

/// Whether `name` is the one `tracing`'s macros give an event without a
/// `name:`: `event <file>:<line>`, the callsite's own file and line.
fn is_generated_event_name(name: &str, metadata: &Metadata<'_>) -> bool {
    let (Some(file), Some(line)) = (metadata.file(), metadata.line()) else {
        return false;
    };
    name.strip_prefix("event ")
        .and_then(|rest| rest.strip_prefix(file))
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|rest| rest.parse::<u32>().ok())
        == Some(line)
}

impl<S> Layer<S> for OtlpLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        // A second registration (the same layer cannot be in two
        // subscribers, but be safe) keeps the first.
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    // The processors are asked here, not in `Layer::enabled` or
    // `Layer::event_enabled`: a `false` there disables the event for the
    // whole subscriber (its other layers too, a `fmt` layer), while a
    // processor's `enabled` speaks only for this pipeline.
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Nor what a processor records while it is asked about a record or
        // given one: handed to the processors in turn, it would make one
        // more, without end (see `otlp_sdk::processor_calls`). What the
        // program's `Debug`
        // impls record while the fields are read is recorded, if it reaches
        // a front door: through `log`, yes; through `tracing`, not once any
        // thread has a dispatcher of its own (`tracing` then drops an event
        // made inside another's dispatch, see `otlp_sdk::own_threads`).
        if own_threads::is_own_thread() || processor_calls::in_progress() || !self.logger.enabled()
        {
            return;
        }
        self.handle(event, &ctx);
    }
}

impl OtlpLogLayer {
    /// Asks the processors about `event`, and if one takes it, builds its
    /// record and emits it (see [`Layer::on_event`]); the processors are
    /// asked and given the record with the thread marked
    /// (`otlp_sdk::processor_calls`, by the logger), the
    /// record is built between. Inlined into its one caller, as the code
    /// was before it moved here.
    #[inline(always)]
    fn handle<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let metadata = event.metadata();
        let severity = severity(metadata.level());
        let from_log = is_from_log(metadata);
        let event_name = event_name(metadata, from_log);
        match &self.targets {
            // One scope: asked before anything is built.
            None => {
                if self.logger.enabled_for(severity, event_name) {
                    let fields = self.record_fields(event, !from_log, from_log);
                    self.emit(event, ctx, fields, from_log, event_name, None);
                }
            }
            // The target's own logger (its scope named after it), unless the
            // target is one too many: known from the metadata, so asked
            // before anything is built too.
            Some(targets) if !from_log => targets.with_logger(
                (),
                |&()| Some(metadata.target()),
                |(), target_logger| {
                    let logger = target_logger.unwrap_or(&self.logger);
                    if logger.enabled_for(severity, event_name) {
                        let fields = self.record_fields(event, target_logger.is_none(), false);
                        self.emit(event, ctx, fields, from_log, event_name, target_logger);
                    }
                },
            ),
            // A `log` record through `tracing-log`: its target (so its
            // scope) is a field, the metadata's is `tracing-log`'s own; the
            // processors are asked once the fields are read.
            Some(targets) => targets.with_logger(
                self.record_fields(event, false, true),
                |(_, fields)| log_target(&fields.attributes),
                |fields, target_logger| {
                    let logger = target_logger.unwrap_or(&self.logger);
                    if logger.enabled_for(severity, event_name) {
                        self.emit(event, ctx, fields, from_log, event_name, target_logger);
                    }
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_the_first_severity_of_their_range() {
        assert_eq!(severity(&Level::TRACE).number(), 1);
        assert_eq!(severity(&Level::DEBUG).number(), 5);
        assert_eq!(severity(&Level::INFO).number(), 9);
        assert_eq!(severity(&Level::WARN).number(), 13);
        assert_eq!(severity(&Level::ERROR).number(), 17);
    }
}
