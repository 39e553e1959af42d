//! [`OtlpLayer`]: the `tracing-subscriber` layer, and its builder.

use std::any::TypeId;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use otlp_core::{AnyValue, InstrumentationScope, KeyValue, SpanContext, SpanKind, Status, Str};
use otlp_sdk::active_span::{self, ActiveSpan};
use otlp_sdk::{Tracer, TracerProvider, own_threads, processor_calls};
use tracing_core::dispatcher::WeakDispatch;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::fields::{
    EventFields, SpanFields, from_log_fields, is_from_log, push_in_place, push_location,
    push_thread,
};
use super::state::{Deferred, Pending, SpanState, in_sdk_call};
use super::{DEFAULT_SCOPE, LEVEL_ATTRIBUTE, TARGET_ATTRIBUTE};

/// A [`tracing_subscriber::Layer`] that records `tracing` spans, and the
/// events inside them, as otlp-sdk spans of one [`TracerProvider`]: its
/// sampler, span limits, resource and pipeline apply.
///
/// Cost: a span costs its pending state at creation (its attribute vector
/// and one extension in the registry, where the sdk span later takes its
/// place), its sdk span at first use (see the [module documentation](super)),
/// a look at its state and a clock read per exit (it ends at its last
/// exit), and its encoding when it closes; a sampled-out span costs its creation
/// fields and a flag check per event and `record` after that; with tracing
/// off (a tracer that never records) a span costs a zero-sized mark, no
/// allocation, until something needs its context. Nothing is recorded on a
/// pipeline's own threads.
///
/// One `OtlpLayer` per subscriber: the span state it keeps in the
/// registry's extensions is one type, so a second one would share it.
///
/// ```
/// use otlp_contrib::tracing::OtlpLayer;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let provider = otlp_sdk::TracerProvider::builder().with_service_name("checkout").build();
/// let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
/// tracing::subscriber::with_default(subscriber, || {
///     let _request = tracing::info_span!("GET /cart", otel.kind = "server").entered();
///     tracing::info!(items = 3, "cart loaded");
/// });
/// ```
pub struct OtlpLayer<S> {
    tracer: Tracer,
    location: bool,
    threads: bool,
    target: bool,
    level: bool,
    error_events_to_status: bool,
    /// Whether an entered span is made the `opentelemetry` API's current
    /// span ([`OtlpLayerBuilder::with_context_activation`]).
    #[cfg(feature = "opentelemetry-bridge")]
    context_activation: bool,
    with_context: WithContext,
    /// The subscriber the layer is part of, for the one look-up its
    /// per-layer filter would hide: the ancestors of an event's explicit
    /// parent that the filter hides. Weak, as the subscriber owns the layer.
    /// Set once, when the subscriber becomes a dispatch; never set inside
    /// `Option<L>`, `Vec<L>` or a reloaded layer (`tracing-subscriber` does
    /// not pass the call on there), where such events are then not recorded.
    dispatch: OnceLock<WeakDispatch>,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> fmt::Debug for OtlpLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpLayer")
            .field("scope", self.tracer.scope())
            .field("location", &self.location)
            .field("threads", &self.threads)
            .field("target", &self.target)
            .field("level", &self.level)
            .field("error_events_to_status", &self.error_events_to_status)
            .field("context_activation", &self.context_activation())
            .finish()
    }
}

/// Builds an [`OtlpLayer`]; see [`OtlpLayer::builder`].
#[derive(Debug)]
pub struct OtlpLayerBuilder {
    provider: TracerProvider,
    scope: InstrumentationScope,
    location: bool,
    threads: bool,
    target: bool,
    level: bool,
    error_events_to_status: bool,
    #[cfg(feature = "opentelemetry-bridge")]
    context_activation: bool,
}

impl OtlpLayerBuilder {
    /// The instrumentation scope of every span the layer records (default:
    /// `otlp_contrib::tracing` with this crate's version). A service that
    /// wants its own name there sets it here.
    pub fn with_scope(mut self, scope: InstrumentationScope) -> Self {
        self.scope = scope;
        self
    }

    /// Whether spans carry where they were declared: `code.file.path`,
    /// `code.line.number` (the OpenTelemetry semantic conventions' names)
    /// and `code.module.name` (not one of theirs), as
    /// `tracing-opentelemetry`'s `with_location` writes them. On by default: the values are static,
    /// they cost no allocation.
    pub fn with_location(mut self, location: bool) -> Self {
        self.location = location;
        self
    }

    /// Whether spans carry the thread that created them: `thread.id` (the
    /// number of its `std::thread::ThreadId`) and, when the thread has a
    /// name, `thread.name` (the semantic conventions' names, as
    /// `tracing-opentelemetry`'s `with_threads` writes them). Off by default,
    /// unlike `tracing-opentelemetry`: two more attributes on every span,
    /// which count against the span limits like any other.
    pub fn with_threads(mut self, threads: bool) -> Self {
        self.threads = threads;
        self
    }

    /// Whether spans carry their `tracing` target as the `target` attribute
    /// (as `tracing-opentelemetry`'s `with_target` writes it, on by default
    /// there). Off by default: span events carry their target already. The
    /// value is static, it costs no allocation.
    pub fn with_target(mut self, target: bool) -> Self {
        self.target = target;
        self
    }

    /// Whether spans carry their `tracing` level as the `level` attribute
    /// (`"INFO"`..., as `tracing-opentelemetry`'s `with_level` writes it;
    /// off by default in both).
    pub fn with_level(mut self, level: bool) -> Self {
        self.level = level;
        self
    }

    /// Whether an `ERROR`-level event inside a span sets the span's status to
    /// error, with the event's message as the description (else its error's
    /// text), unless a status was set before (default: on, as in
    /// `tracing-opentelemetry`). Off, such events leave the status alone.
    ///
    /// Not quite `tracing-opentelemetry`'s option of the same name: there an
    /// `ERROR` event always sets an error status, and the option only adds
    /// the description, taken from an `error` field (that of
    /// `#[instrument(err)]`) in an event without a message, at any level. So
    /// off there, the span is still failed, with an empty description; off
    /// here, it is not.
    pub fn with_error_events_to_status(mut self, on: bool) -> Self {
        self.error_events_to_status = on;
        self
    }

    /// Whether entering a span makes it the current span of the
    /// `opentelemetry` API on the thread until it is exited, as
    /// `tracing-opentelemetry`'s `with_context_activation` does (on by
    /// default in both): code inside it that uses that API sees it —
    /// `opentelemetry::Context::current()` holds its ids, and a span started
    /// there through an `opentelemetry` tracer (a library instrumented with
    /// the API, over [`OtlpSpanProcessor`](crate::bridge::OtlpSpanProcessor)
    /// or any other) is its child. The context attached is the one current
    /// at the span's first enter (its baggage kept) with the span in it, as
    /// a non-recording span of the API: the span is recorded by this layer,
    /// so `Context::current().span().set_attribute(..)` does nothing (use
    /// [`OtlpSpanExt`](super::OtlpSpanExt)).
    ///
    /// Cost (see the `activation` module): one allocation at a span's first
    /// enter, a reference count and two thread-local stack pushes per
    /// enter, two pops per exit; nothing for a span never entered. Off, an
    /// enter costs what it did before. Feature `opentelemetry-bridge`.
    #[cfg(feature = "opentelemetry-bridge")]
    pub fn with_context_activation(mut self, on: bool) -> Self {
        self.context_activation = on;
        self
    }

    /// The layer, for a subscriber `S` (inferred where it is added).
    pub fn build<S>(self) -> OtlpLayer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        LAYER_BUILT.store(true, Ordering::Release);
        OtlpLayer {
            tracer: self.provider.tracer_with_scope(self.scope),
            location: self.location,
            threads: self.threads,
            target: self.target,
            level: self.level,
            error_events_to_status: self.error_events_to_status,
            #[cfg(feature = "opentelemetry-bridge")]
            context_activation: self.context_activation,
            with_context: WithContext {
                state: with_span_state::<S>,
                context: propagated_context::<S>,
            },
            dispatch: OnceLock::new(),
            _subscriber: PhantomData,
        }
    }
}

/// Set once an `OtlpLayer` is built in this process: until then no
/// `tracing` span carries a [`SpanState`], and `OtlpLogLayer` looks for none.
static LAYER_BUILT: AtomicBool = AtomicBool::new(false);

/// Whether an `OtlpLayer` was built in this process (in any subscriber,
/// whatever wraps it: a span's state is found in its extensions).
pub(super) fn any_layer_built() -> bool {
    LAYER_BUILT.load(Ordering::Acquire)
}

impl<S> OtlpLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer recording into `provider`, with the defaults of
    /// [`OtlpLayer::builder`]: the one-line replacement for
    /// `tracing_opentelemetry::layer().with_tracer(tracer)`.
    pub fn new(provider: &TracerProvider) -> Self {
        OtlpLayer::builder(provider).build()
    }
}

// On `OtlpLayer<()>` so that `OtlpLayer::builder` names no subscriber type:
// `build` takes it from where the layer is added.
impl OtlpLayer<()> {
    /// A builder: scope, location attributes, `ERROR` events to status.
    pub fn builder(provider: &TracerProvider) -> OtlpLayerBuilder {
        OtlpLayerBuilder {
            provider: provider.clone(),
            scope: InstrumentationScope::new(DEFAULT_SCOPE).with_version(env!("CARGO_PKG_VERSION")),
            location: true,
            threads: false,
            target: false,
            level: false,
            error_events_to_status: true,
            #[cfg(feature = "opentelemetry-bridge")]
            context_activation: true,
        }
    }
}

impl<S> OtlpLayer<S> {
    /// The tracer spans are started with.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// Whether entered spans are made current for the `opentelemetry` API
    /// (`OtlpLayerBuilder::with_context_activation`); always false without
    /// the `opentelemetry-bridge` feature.
    fn context_activation(&self) -> bool {
        #[cfg(feature = "opentelemetry-bridge")]
        return self.context_activation;
        #[cfg(not(feature = "opentelemetry-bridge"))]
        return false;
    }
}

/// Reaches a span's [`SpanState`] (or the context it propagates) from a
/// [`Dispatch`] and a span id, without knowing the subscriber's type:
/// `Subscriber::downcast_raw` hands this out (plain function pointers,
/// instantiated for the layer's subscriber type when the layer is built), so
/// that [`OtlpSpanExt`](super::OtlpSpanExt) can work on any `tracing::Span`.
#[derive(Clone, Copy)]
pub(super) struct WithContext {
    state: fn(&Dispatch, &Id, &mut StateFn<'_>),
    context: fn(&Dispatch, &Id) -> Option<SpanContext>,
}

/// What [`WithContext`] runs on a span's state.
pub(super) type StateFn<'a> = dyn FnMut(&mut SpanState, &Tracer) + 'a;

impl WithContext {
    /// Runs `f` on the state of span `id` if an `OtlpLayer` in `dispatch`
    /// records it.
    pub(super) fn with_span_state(&self, dispatch: &Dispatch, id: &Id, f: &mut StateFn<'_>) {
        (self.state)(dispatch, id, f);
    }

    /// The context span `id` propagates, started first if pending: its own
    /// if an `OtlpLayer` in `dispatch` records it, else (a per-layer filter
    /// hides it) that of its closest ancestor the layer records, the span
    /// its children and events hang from; `None` if there is neither.
    pub(super) fn propagated_context(&self, dispatch: &Dispatch, id: &Id) -> Option<SpanContext> {
        (self.context)(dispatch, id)
    }
}

fn propagated_context<S>(dispatch: &Dispatch, id: &Id) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let subscriber = dispatch.downcast_ref::<S>()?;
    let layer = dispatch.downcast_ref::<OtlpLayer<S>>()?;
    // Not filtered, as in `with_span_state`: the walk up skips the
    // ancestors the layer does not record, as a child's does.
    let span = subscriber.span(id)?;
    layer
        .context_of(&span)
        .or_else(|| layer.parent_context(&span))
}

fn with_span_state<S>(dispatch: &Dispatch, id: &Id, f: &mut StateFn<'_>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let (Some(subscriber), Some(layer)) = (
        dispatch.downcast_ref::<S>(),
        dispatch.downcast_ref::<OtlpLayer<S>>(),
    ) else {
        return;
    };
    // Not filtered: this span and its ancestors have a state or a mark
    // exactly when the layer records them (see `OtlpLayer::with_state`).
    let Some(span) = subscriber.span(id) else {
        return;
    };
    layer.with_state(&span, |state| f(state, &layer.tracer));
}

impl<S> OtlpLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// The context of `span`, started first if pending; `None` if this
    /// layer does not record it.
    fn context_of(&self, span: &SpanRef<'_, S>) -> Option<SpanContext> {
        self.with_state(span, |state| state.start(&self.tracer).context().clone())
    }

    /// Runs `f` on the state of `span`, made first if the span has only the
    /// [`Deferred`] mark (tracing off: the state is made when something needs
    /// it); `None` if this layer does not record the span.
    ///
    /// `span` may come from the layer's `Context` (a per-layer filter hides
    /// what it disables) or from the subscriber itself (nothing hidden): the
    /// walk to the parent skips the ancestors with neither state nor mark,
    /// which are those the layer does not record, so both find the same
    /// parent, the one `on_new_span` would have found. That parent's state
    /// is made too, as far up as needed: a trace keeps one trace id.
    fn with_state<R>(
        &self,
        span: &SpanRef<'_, S>,
        f: impl FnOnce(&mut SpanState) -> R,
    ) -> Option<R> {
        {
            let mut extensions = span.extensions_mut();
            if let Some(state) = extensions.get_mut::<SpanState>() {
                return Some(f(state));
            }
            extensions.get_mut::<Deferred>()?;
        }
        // Outside the span's lock: the walk takes the ancestors' locks.
        let parent = self.parent_context(span);
        let mut extensions = span.extensions_mut();
        // Another thread may have made it meanwhile (or `set_parent` did):
        // that one stays, the span has one set of ids.
        if extensions.get_mut::<SpanState>().is_none() {
            let pending = Pending::unrecorded(span.name(), parent);
            extensions.replace(SpanState::pending(pending, false));
        }
        extensions.get_mut::<SpanState>().map(f)
    }

    /// The span an event is recorded in: its explicit parent or the current
    /// span, as the per-layer filter lets the layer see them. An explicit
    /// parent the filter hides is skipped as it is for a child span (whose
    /// parent is its closest recorded ancestor): the event goes to the
    /// closest ancestor of that parent that this layer records. `Context`
    /// hides the filtered parent and its links, so that walk goes through
    /// the subscriber itself.
    fn event_span<'a>(&self, event: &Event<'_>, ctx: &'a Context<'_, S>) -> Option<SpanRef<'a, S>> {
        if let Some(span) = ctx.event_span(event) {
            return Some(span);
        }
        let parent = event.parent()?;
        let dispatch = self.dispatch.get()?.upgrade()?;
        let subscriber = dispatch.downcast_ref::<S>()?;
        let mut ancestor = subscriber.span(parent)?.parent();
        while let Some(span) = ancestor {
            let extensions = span.extensions();
            if extensions.get::<SpanState>().is_some() || extensions.get::<Deferred>().is_some() {
                drop(extensions);
                return ctx.span(&span.id());
            }
            ancestor = span.parent();
        }
        None
    }

    /// Whether no span's fields are of any use: its tracer never records
    /// ([`Tracer::never_records`]), and no custom sampler decides by them
    /// the sampled flag a span propagates ([`Tracer::asks_custom_sampler`]:
    /// with `OTEL_TRACES_EXPORTER=none`, a health check dropped by its
    /// `http.route` must be dropped downstream too). Flag checks; the
    /// second only when tracing is off.
    fn fields_unused(&self) -> bool {
        self.tracer.never_records() && !self.tracer.asks_custom_sampler()
    }

    /// The context of the closest ancestor of `span` this layer records.
    ///
    /// Walks `parent()` rather than `scope().skip(1)`: the scope's first
    /// step looks `span` itself up in the registry again (a slab lookup per
    /// span, and every `tracing` span takes this path). Both skip the
    /// ancestors a per-layer filter disables.
    fn parent_context(&self, span: &SpanRef<'_, S>) -> Option<SpanContext> {
        let mut ancestor = span.parent();
        while let Some(span) = ancestor {
            if let Some(context) = self.context_of(&span) {
                return Some(context);
            }
            ancestor = span.parent();
        }
        None
    }
}

impl<S> Layer<S> for OtlpLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Nor inside an sdk call of the layer (a sampler, a processor's
        // `on_start`, the warning handler): its parent may be the span the
        // call is about, whose extensions this thread holds. Nor while
        // processors are called (a log record handed to them, a flush: see
        // `otlp_sdk::processor_calls`): the span would reach a processor
        // in the middle of its work.
        if own_threads::is_own_thread() || in_sdk_call() || processor_calls::in_progress() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let metadata = attrs.metadata();
        if self.fields_unused() {
            // Tracing is off (a disabled provider, `always_off`): the span
            // only needs its place in the trace, for its children and for
            // propagation, and only if something asks for it. It gets a
            // mark, no state: the state is made when its context is needed
            // (`with_state`). No field is converted, no clock read. Its
            // parent starts now, as it does when tracing is on: a span with
            // a child has a fixed trace (`set_parent` says so).
            // A parent outside `tracing` (`api_parent`) is known only now:
            // such a span keeps it in a state made at once.
            let parent = self.parent_context(&span);
            match api_parent(parent.is_none() && attrs.is_contextual()) {
                Some(parent) => {
                    let pending = Pending::unrecorded(metadata.name(), Some(parent));
                    span.extensions_mut()
                        .replace(SpanState::pending(pending, false));
                }
                None => {
                    span.extensions_mut().replace(Deferred);
                }
            }
            return;
        }
        let start = SystemTime::now();
        let location = if self.location { 3 } else { 0 };
        let extra =
            usize::from(self.threads) * 2 + usize::from(self.target) + usize::from(self.level);
        // This thread's spare vector: the pipeline gives it back once the
        // span is encoded.
        let mut fields = SpanFields::in_vector(
            self.tracer.attribute_vector(),
            attrs.fields().len() + location + extra,
        );
        // The span's own attributes first, then its fields: past the
        // attribute limit, which keeps the first ones, fields are dropped,
        // not these; and a field of the same name (`target = "upstream"`)
        // wins, as the span keeps a repeated key's last value, in its first
        // place (the same order as `OtlpLogLayer`'s records, and as
        // `tracing-opentelemetry` builds its spans).
        if self.location {
            push_location(&mut fields.attributes, metadata);
        }
        if self.threads {
            push_thread(&mut fields.attributes);
        }
        if self.target {
            push_in_place(&mut fields.attributes, || {
                KeyValue::new(TARGET_ATTRIBUTE, metadata.target())
            });
        }
        if self.level {
            push_in_place(&mut fields.attributes, || {
                KeyValue::new(LEVEL_ATTRIBUTE, metadata.level().as_str())
            });
        }
        attrs.record(&mut fields);
        let mut parent = self.parent_context(&span);
        if parent.is_none() {
            parent = api_parent(attrs.is_contextual());
        }
        // `Unset` is kept as asked (it starts the span as unset) and sets
        // nothing.
        let status = fields.status();
        let status_set = status
            .as_ref()
            .is_some_and(|status| *status != Status::Unset);
        let SpanFields {
            attributes,
            name,
            kind,
            exceptions,
            ..
        } = fields;
        // Most spans have no error field: no collect (its setup alone was
        // 3% of a sampled-out span) for an empty list.
        let events = if exceptions.is_empty() {
            Vec::new()
        } else {
            exceptions
                .into_iter()
                .map(|message| (start, message))
                .collect()
        };
        let pending = Pending {
            name: name.unwrap_or_else(|| Str::from(metadata.name())),
            kind: kind.unwrap_or(SpanKind::Internal),
            start,
            parent,
            attributes,
            links: Vec::new(),
            status,
            events,
        };
        span.extensions_mut()
            .replace(SpanState::pending(pending, status_set));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if self.fields_unused() || in_sdk_call() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        // A span that started unsampled takes nothing: no field is converted.
        if !span
            .extensions()
            .get::<SpanState>()
            .is_some_and(SpanState::may_record)
        {
            return;
        }
        let mut fields = SpanFields::for_record(values.len());
        values.record(&mut fields);
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            state.record(fields);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        if in_sdk_call() {
            return;
        }
        let (Some(span), Some(follows)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let Some(context) = self.context_of(&follows) else {
            return;
        };
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            state.add_link(&context, Vec::new());
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        // The entered span becomes the thread's active span (metric
        // exemplars read it); every enter is paired with the exit below,
        // by the span's id: guards dropped out of order exit the span they
        // entered, not whichever is innermost.
        let key = id.into_non_zero_u64();
        // Inside an sdk call of the layer (a sampler starting this very
        // span, say, as it is entered): no extensions are taken, the active
        // span stays.
        if !in_sdk_call()
            && let Some(span) = ctx.span(id)
            && let Some(activate) = self.with_state(&span, |state| {
                let started = state.start(&self.tracer);
                active_span::enter_keyed(key, ActiveSpan::from(started.context()));
                // With context activation, the span's `opentelemetry`
                // context, attached below outside the span's extensions.
                #[cfg(feature = "opentelemetry-bridge")]
                return self
                    .context_activation
                    .then(|| state.api_context(&self.tracer));
                #[cfg(not(feature = "opentelemetry-bridge"))]
                return None::<std::convert::Infallible>;
            })
        {
            #[cfg(feature = "opentelemetry-bridge")]
            if let Some(context) = activate {
                super::activation::enter(key, context);
            }
            #[cfg(not(feature = "opentelemetry-bridge"))]
            let _ = activate;
            return;
        }
        active_span::enter_current_keyed(key);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        active_span::exit_keyed(id.into_non_zero_u64());
        #[cfg(feature = "opentelemetry-bridge")]
        if self.context_activation {
            super::activation::exit(id.into_non_zero_u64());
        }
        // The span ends at its last exit (`SpanState::exited`). Tracing
        // off: nothing ends. Inside an sdk call of the layer no extensions
        // are taken, as in `on_enter`.
        if self.tracer.never_records() || in_sdk_call() {
            return;
        }
        if let Some(span) = ctx.span(id)
            && let Some(state) = span.extensions_mut().get_mut::<SpanState>()
        {
            state.exited();
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Tracing off: no span records an event (nor needs starting for one).
        // Nor inside an sdk call of the layer (a sampler, a processor's
        // `on_start`, the warning handler): the event's span may be the one
        // the call is about, whose extensions this thread holds.
        if own_threads::is_own_thread() || in_sdk_call() || self.tracer.never_records() {
            return;
        }
        // Outside any span: nothing (log records are another front door).
        let Some(span) = self.event_span(event, &ctx) else {
            return;
        };
        let recording = span
            .extensions_mut()
            .get_mut::<SpanState>()
            .is_some_and(|state| state.start(&self.tracer).is_recording());
        if !recording {
            return;
        }
        let metadata = event.metadata();
        let location = if self.location { 3 } else { 0 };
        let mut fields = EventFields::with_capacity(metadata.fields().len(), 3 + location);
        push_in_place(&mut fields.attributes, || {
            KeyValue::new(LEVEL_ATTRIBUTE, metadata.level().as_str())
        });
        // A `log` record through `tracing-log` carries its own target and
        // location in `log.*` fields: they become these attributes, as in
        // `tracing-opentelemetry`, not `tracing-log`'s target `log`.
        let from_log = is_from_log(metadata);
        if !from_log {
            push_in_place(&mut fields.attributes, || {
                KeyValue::new(TARGET_ATTRIBUTE, metadata.target())
            });
        }
        event.record(&mut fields);
        if from_log {
            from_log_fields(&mut fields.attributes, true, self.location);
        } else if self.location {
            push_location(&mut fields.attributes, metadata);
        }
        if fields.message.is_none() {
            message_from_attribute(&mut fields);
        }
        let name = fields.finish(metadata.name());
        let error = (self.error_events_to_status && *metadata.level() == Level::ERROR).then(|| {
            fields
                .message
                .clone()
                .or_else(|| fields.exception.clone())
                .unwrap_or_default()
        });
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions.get_mut::<SpanState>() else {
            return;
        };
        state.add_event(&self.tracer, name, fields.attributes);
        if let Some(description) = error {
            state.error_event(description);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // Tracing off: ending exports nothing, so the state stays where it
        // is and the registry drops it with the span (a started sdk span
        // that records nothing ends as a no-op when dropped). Taking it out
        // would copy it, as large as an sdk span, only to drop it.
        if self.tracer.never_records() {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let state = span.extensions_mut().remove::<SpanState>();
        // Ended (encoded, handed to the pipeline) outside the extensions' lock.
        if let Some(state) = state {
            state.end(&self.tracer);
        }
    }

    // SAFETY: the contract of `downcast_raw` is that a pointer returned for
    // `TypeId::of::<T>()` points to a live `T` borrowed from `self`; both
    // arms below return exactly that (the layer itself, its `WithContext`).
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<WithContext>() {
            Some(&self.with_context as *const WithContext as *const ())
        } else {
            None
        }
    }
}

/// The parent of a span with no `tracing` parent this layer records, if
/// `look` (the span is contextual: `parent: None` makes a root): the span
/// current through the `opentelemetry` API on this thread (`Context::attach`
/// of an extracted context, `Tracer::in_span`, a library instrumented with
/// that API), as `tracing-opentelemetry`'s contextual parent falls back to
/// `Context::current()`, and as `OtlpLogLayer` correlates records with it.
/// Cost: a thread-local read, for such spans only.
#[cfg(feature = "opentelemetry-bridge")]
fn api_parent(look: bool) -> Option<SpanContext> {
    if look {
        crate::bridge::current_parent_context()
    } else {
        None
    }
}

/// Without the `opentelemetry` bridge there is no such parent.
#[cfg(not(feature = "opentelemetry-bridge"))]
fn api_parent(_look: bool) -> Option<SpanContext> {
    None
}

/// A `message` field that is no text (`info!(message = 5)`, a float, a
/// bool) was pushed as an attribute: as a span event it is the event's name,
/// as `tracing-opentelemetry` makes it (`"5"`), and no attribute beside it.
/// (A log record keeps it as an attribute, as
/// `opentelemetry-appender-tracing` does.)
#[cold]
fn message_from_attribute(fields: &mut EventFields) {
    let Some(index) = fields
        .attributes
        .iter()
        .position(|attribute| attribute.key.as_str() == "message")
    else {
        return;
    };
    let text = match &fields.attributes[index].value {
        AnyValue::Int(value) => Str::from(value.to_string()),
        AnyValue::Double(value) => Str::from(value.to_string()),
        AnyValue::Bool(value) => Str::from(value.to_string()),
        // An integer beyond `i64` (`u64::MAX`, an `i128`) is recorded as
        // its decimal text. An error given as the message (`message =
        // &error`, also the event's exception) is text too, and stays an
        // attribute, as `tracing-opentelemetry` keeps it.
        AnyValue::String(text)
            if is_integer_text(text.as_str()) && fields.exception.as_ref() != Some(text) =>
        {
            text.clone()
        }
        _ => return,
    };
    fields.attributes.remove(index);
    fields.message = Some(text);
}

/// Whether `text` is an integer's decimal text: an optional `-`, then digits.
fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Counts, when a span closes after the `OtlpLayer` below it has seen
    /// it close, whether its state is still in its extensions.
    struct StateAtClose(Arc<AtomicUsize>);

    impl<S> Layer<S> for StateAtClose
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(&id)
                && span.extensions().get::<SpanState>().is_some()
            {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn with_tracing_off_a_closing_span_leaves_its_state_for_the_registry_to_drop() {
        let provider = TracerProvider::builder()
            .with_sampler(otlp_sdk::Sampler::AlwaysOff)
            .build();
        let left = Arc::new(AtomicUsize::new(0));
        // Layers close inside out: the `OtlpLayer` first, then the probe.
        let subscriber = tracing_subscriber::registry()
            .with(OtlpLayer::new(&provider))
            .with(StateAtClose(left.clone()));
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                // Entered: started (the thread's active span needs its ids).
                let _entered = tracing::info_span!("dropped").entered();
            }
        });
        // Not taken out (a copy of an sdk span's size) only to be dropped.
        assert_eq!(left.load(Ordering::SeqCst), 3);
    }
}
