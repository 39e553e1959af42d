//! [`Tracer`] and [`SpanBuilder`]: starting spans.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use otlp_core::{
    InstrumentationScope, KeyValue, Link, SpanContext, SpanData, SpanFlags, SpanId, SpanKind, Str,
    TraceFlags, TraceId, TraceState, clock,
};

use crate::destination::Destination;
use crate::provider_state::ProviderState;
use crate::sampler::{SamplingParameters, SamplingResult};
use crate::span::Span;
use crate::{own_threads, spare_attributes, spare_handles};

/// Starts spans for one instrumentation scope. Cheap to clone.
///
/// ```
/// use otlp_sdk::TracerProvider;
/// use otlp_core::{KeyValue, SpanKind, SpanContext};
///
/// let tracer = TracerProvider::builder().build().tracer("my-lib");
/// let parent = SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?;
/// let span = tracer
///     .span_builder("GET /users/{id}")
///     .kind(SpanKind::Server)
///     .parent(&parent)
///     .attribute(KeyValue::new("http.request.method", "GET"))
///     .start();
/// assert_eq!(span.context().trace_id, parent.trace_id);
/// # Ok::<(), otlp_core::TraceParentError>(())
/// ```
#[derive(Clone)]
pub struct Tracer {
    provider: Arc<ProviderState>,
    scope: Arc<InstrumentationScope>,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("scope", &self.scope)
            .finish()
    }
}

impl Tracer {
    pub(crate) fn new(provider: Arc<ProviderState>, scope: Arc<InstrumentationScope>) -> Self {
        Tracer { provider, scope }
    }

    /// The scope of this tracer's spans.
    pub fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    /// Whether no span this tracer starts can ever be recorded: its provider
    /// is disabled (`OTEL_SDK_DISABLED`), has no exporter
    /// (`OTEL_TRACES_EXPORTER=none` and no processor given in code), or its sampler [never
    /// samples](crate::Sampler::never_samples). Its spans still get ids and
    /// carry their parent's trace: under a disabled provider, also their
    /// parent's sampled flag, so that the services they call still record
    /// the trace (a root is not sampled); with no exporter, sampled as the
    /// sampler says. A front door that gathers a span's attributes before
    /// starting it can skip that work, unless
    /// [`asks_custom_sampler`](Self::asks_custom_sampler) says that the
    /// decision the span propagates depends on them.
    ///
    /// ```
    /// use otlp_sdk::{Sampler, TracerProvider};
    ///
    /// let off = TracerProvider::builder().with_sampler(Sampler::AlwaysOff).build();
    /// assert!(off.tracer("scope").never_records());
    /// let on = TracerProvider::builder().build();
    /// assert!(!on.tracer("scope").never_records());
    /// ```
    pub fn never_records(&self) -> bool {
        self.provider.disabled || self.provider.export_off || self.provider.sampler.never_samples()
    }

    /// Whether the spans this tracer starts are decided by a sampler of the
    /// program's own ([`ShouldSample`](crate::ShouldSample), anywhere in the
    /// provider's sampler) that sees what a span starts with: its name,
    /// kind, attributes and links. Not when the provider is disabled (no
    /// sampler is asked). Then the sampled flag a span propagates depends on
    /// its attributes, even when nothing is recorded (no exporter,
    /// [`never_records`](Self::never_records)): a front door that gathers
    /// a span's attributes before starting it gathers them still, so that
    /// the decision is the same with an exporter or without.
    ///
    /// ```
    /// use otlp_sdk::{Sampler, SamplingDecision, SamplingParameters, SamplingResult, ShouldSample, TracerProvider};
    ///
    /// #[derive(Debug)]
    /// struct Half;
    /// impl ShouldSample for Half {
    ///     fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
    ///         SamplingResult::new(SamplingDecision::RecordAndSample, span)
    ///     }
    ///     fn description(&self) -> String { "Half".into() }
    /// }
    ///
    /// let custom = TracerProvider::builder().with_sampler(Sampler::custom(Half)).build();
    /// assert!(custom.tracer("scope").asks_custom_sampler());
    /// assert!(!TracerProvider::builder().build().tracer("scope").asks_custom_sampler());
    /// ```
    pub fn asks_custom_sampler(&self) -> bool {
        self.provider.custom_sampler && !self.provider.disabled
    }

    /// Starts a root span (a new trace).
    ///
    /// Its trace id is random (all 16 bytes, from
    /// [`TraceId::random`]), and its trace flags say so: W3C Trace Context
    /// level 2's `random` flag ([`TraceFlags::RANDOM`]) is set, sampled or
    /// not, so its `traceparent` ends in `-03` (`-02` unsampled) and its
    /// exported OTLP `Span.flags` carry 0x02. Its children keep the flag;
    /// a child of a parent without it does not get it.
    pub fn start(&self, name: impl Into<Str>) -> Span {
        if !self.provider.plain_start {
            return self.start_root_notifying(name.into());
        }
        // Not through a `SpanBuilder`: building one and taking it apart again
        // copies it, right after the stores that built it.
        start_span(self, name.into(), SpanKind::Internal, None, None)
    }

    /// Starts a child of `parent` (local or received from another process).
    pub fn start_with_parent(&self, name: impl Into<Str>, parent: &SpanContext) -> Span {
        self.span_builder(name).parent(parent).start()
    }

    /// A root span of a provider whose spans go to its processors, or whose
    /// sampler holds a custom one: started, then handed to each processor's
    /// `on_start`. Without a builder, as the direct path: a root has no
    /// attributes or links to adopt.
    #[inline(never)]
    fn start_root_notifying(&self, name: Str) -> Span {
        let mut span = if self.provider.custom_sampler {
            start_span_asking(
                self,
                name,
                SpanKind::Internal,
                None,
                None,
                Vec::new(),
                Vec::new(),
            )
        } else {
            start_span(self, name, SpanKind::Internal, None, None)
        };
        notify_start(&self.provider, &mut span, None);
        span
    }

    /// An empty vector for the start attributes of a span about to be
    /// built ([`SpanBuilder::attributes`]): this thread's spare (the
    /// emptied vector of the last span or log record it handed to a
    /// pipeline) when it has one, else a new one with room for a few. A
    /// front door that gathers attributes before the span starts saves its
    /// one allocation this way; the pipeline gives the vector back once the
    /// span is encoded.
    pub fn attribute_vector(&self) -> Vec<KeyValue> {
        spare_attributes::take()
    }

    /// A builder for a span with kind, parent, attributes, links or a start time.
    pub fn span_builder(&self, name: impl Into<Str>) -> SpanBuilder<'_> {
        SpanBuilder {
            tracer: self,
            name: name.into(),
            kind: SpanKind::Internal,
            parent: None,
            attributes: Vec::new(),
            links: Vec::new(),
            start_time: None,
        }
    }
}

/// Describes a span before it starts; see [`Tracer::span_builder`].
#[derive(Debug)]
pub struct SpanBuilder<'t> {
    tracer: &'t Tracer,
    name: Str,
    kind: SpanKind,
    parent: Option<SpanContext>,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
    start_time: Option<SystemTime>,
}

impl SpanBuilder<'_> {
    /// Sets the kind (default `Internal`).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Makes the span a child of `parent` (ignored if the context is invalid).
    /// The child takes the parent's trace id and its defined trace flags
    /// (`random` too, set or not; the sampler decides `sampled`); without a
    /// valid parent the span is a root, as [`Tracer::start`]'s.
    pub fn parent(mut self, parent: &SpanContext) -> Self {
        self.parent = Some(parent.clone()).filter(SpanContext::is_valid);
        self
    }

    /// Adds an attribute known at start. The built-in
    /// [`Sampler`](crate::Sampler)s decide by parent and trace id only; a
    /// [custom one](crate::ShouldSample) sees the attributes given here
    /// (not those set once the span has started).
    pub fn attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds attributes known at start. A `Vec` given as the first
    /// attributes is adopted, not copied (collecting a vector's own iterator
    /// keeps its memory).
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        if self.attributes.is_empty() {
            self.attributes = attributes.into_iter().collect();
        } else {
            self.attributes.extend(attributes);
        }
        self
    }

    /// Adds a link to another span. A link known when the span starts is
    /// best given here rather than with [`Span::add_link`] later, as the
    /// specification asks: a head sampler can only consider what the span
    /// starts with (the built-in ones look at neither links nor attributes;
    /// a [custom one](crate::ShouldSample) sees both).
    /// A link to an invalid context is kept (the specification asks for it
    /// when the link carries attributes or a trace state).
    pub fn link(
        mut self,
        context: &SpanContext,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) -> Self {
        self.links.push(Link::new(context, attributes));
        self
    }

    /// Sets an explicit start time (default: now). It is kept as OTLP's
    /// nanoseconds since the Unix epoch ([`clock::unix_nanos`]): a time
    /// before 1970 as 0, one past what `u64` nanoseconds hold (the year
    /// 2554) as `u64::MAX`. A span ended before its start ends at its start
    /// ([`Span::end_at`]).
    pub fn start_time(mut self, start: SystemTime) -> Self {
        self.start_time = Some(start);
        self
    }

    /// Starts the span: decides sampling, assigns ids, records the start
    /// time; then, for a recording span, calls each processor's
    /// [`on_start`](crate::SpanProcessor::on_start).
    pub fn start(self) -> Span {
        if !self.tracer.provider.plain_start {
            return self.start_notifying();
        }
        self.start_with_extras()
    }

    /// Starts the span with the builder's attributes and links. A span
    /// without them is `start_span`'s tail expression, built in the caller's
    /// slot rather than aside and copied.
    #[inline]
    fn start_with_extras(mut self) -> Span {
        if self.attributes.is_empty() && self.links.is_empty() {
            // An empty vector with room (`Tracer::attribute_vector`) goes back
            // to the thread for its next span.
            spare_attributes::keep(std::mem::take(&mut self.attributes));
            return self.start_bare();
        }
        let attributes = std::mem::take(&mut self.attributes);
        let links = std::mem::take(&mut self.links);
        let mut span = self.start_bare();
        span.adopt_start_extras(attributes, links);
        span
    }

    /// Starts the span without the builder's attributes and links.
    #[inline]
    fn start_bare(self) -> Span {
        let SpanBuilder {
            tracer,
            name,
            kind,
            parent,
            start_time,
            ..
        } = self;
        start_span(tracer, name, kind, parent.as_ref(), start_time)
    }

    /// Starts the span of a provider whose spans go to its processors (not
    /// straight into one batch pipeline, which has nothing to do at start),
    /// or whose sampler holds a custom one: with the builder's attributes
    /// and links, then each processor's `on_start`, in order, while the
    /// span records. Out of line: the provider of one batch pipeline with
    /// the built-in samplers never comes here, and this path pays a
    /// dynamic call per processor at end, or the custom sampler's, anyway.
    #[inline(never)]
    fn start_notifying(self) -> Span {
        let (tracer, parent) = (self.tracer, self.parent.clone());
        let mut span = if tracer.provider.custom_sampler {
            self.start_asking()
        } else {
            self.start_with_extras()
        };
        notify_start(&tracer.provider, &mut span, parent.as_ref());
        span
    }

    /// Starts the span under a sampler tree that holds a custom sampler,
    /// which sees the builder's attributes and links.
    fn start_asking(self) -> Span {
        let SpanBuilder {
            tracer,
            name,
            kind,
            parent,
            attributes,
            links,
            start_time,
        } = self;
        start_span_asking(
            tracer,
            name,
            kind,
            parent.as_ref(),
            start_time,
            attributes,
            links,
        )
    }
}

/// Hands a span that just started to each of `provider`'s processors'
/// `on_start`, in order, while it records.
fn notify_start(provider: &ProviderState, span: &mut Span, parent: Option<&SpanContext>) {
    for processor in provider.processors.iter() {
        if !span.is_recording() {
            break;
        }
        processor.on_start(span, parent);
    }
}

/// Starts a span without attributes or links: decides sampling, assigns ids,
/// records the start time. The span is the tail expression, so that it is
/// built in the caller's slot rather than built aside and copied (368 bytes,
/// on every span). The built-in samplers only: a custom one is asked by
/// [`start_span_asking`].
fn start_span(
    tracer: &Tracer,
    name: Str,
    kind: SpanKind,
    parent: Option<&SpanContext>,
    start_time: Option<SystemTime>,
) -> Span {
    let provider = &tracer.provider;
    let (trace_id, trace_state) = match parent {
        Some(parent) => (parent.trace_id, parent.trace_state.clone()),
        None => (TraceId::random(), TraceState::EMPTY),
    };
    // A disabled provider turns tracing off here, not for the trace: as the
    // specification's no-op `Tracer`, which hands back its parent's context,
    // a child passes its parent's decision on (forcing it to "not sampled"
    // made every service after this one drop the trace), and a root is not
    // sampled. Nothing is recorded either way.
    let sampled = if provider.disabled {
        parent.is_some_and(|parent| parent.trace_flags.is_sampled())
    } else {
        provider.sampler.should_sample(parent, trace_id)
    };
    // The built-in samplers record exactly what they sample.
    build_span(
        tracer,
        name,
        kind,
        parent,
        (trace_id, trace_state),
        (sampled, sampled),
        start_time,
    )
}

/// Starts a span under a sampler tree that holds a custom sampler: asks the
/// sampler with the span's parent, trace id, name, kind, attributes and
/// links ([`Sampler::sample`](crate::Sampler::sample)), gives the span the
/// trace state it returns, and the attributes it returns after those given.
/// Out of line: the built-in samplers never come here.
#[inline(never)]
fn start_span_asking(
    tracer: &Tracer,
    name: Str,
    kind: SpanKind,
    parent: Option<&SpanContext>,
    start_time: Option<SystemTime>,
    mut attributes: Vec<KeyValue>,
    links: Vec<Link>,
) -> Span {
    let provider = &tracer.provider;
    if provider.disabled {
        // No sampler is asked: the parent's decision goes on (see `start_span`).
        spare_attributes::keep(attributes);
        return start_span(tracer, name, kind, parent, start_time);
    }
    let trace_id = parent.map_or_else(TraceId::random, |parent| parent.trace_id);
    let SamplingResult {
        decision,
        attributes: added,
        trace_state,
    } = provider.sampler.sample(&SamplingParameters {
        parent,
        kind,
        attributes: &attributes,
        links: &links,
        ..SamplingParameters::new(trace_id, &name)
    });
    let mut span = build_span(
        tracer,
        name,
        kind,
        parent,
        (trace_id, trace_state),
        (decision.is_recording(), decision.is_sampled()),
        start_time,
    );
    // Not recording, the span keeps none of them (the vector serves the
    // thread's next span).
    attributes.extend(added);
    span.adopt_start_extras(attributes, links);
    span
}

/// The span of `start_span` and `start_span_asking`, once sampling is
/// decided (whether it records, whether it is sampled): its ids, flags and
/// context; recording, its data with the start time and destination.
/// Always inlined, so that the span is built in the caller's slot (and, for
/// the built-in samplers, which pass one value for both, the record-only
/// branch folds away).
#[inline(always)]
fn build_span(
    tracer: &Tracer,
    name: Str,
    kind: SpanKind,
    parent: Option<&SpanContext>,
    (trace_id, trace_state): (TraceId, TraceState),
    (recording, sampled): (bool, bool),
    start_time: Option<SystemTime>,
) -> Span {
    let provider = &tracer.provider;
    // A root span's parent is known not to be remote: there is none. OTLP's
    // `flags` then says so (0x100, "has is_remote", without 0x200), as
    // opentelemetry-otlp and the Go SDK write it; leaving the bit unset told
    // backends the remoteness was unknown, so a root could not be told from a
    // span of an exporter that does not record it.
    let (parent_span_id, parent_remote) = match parent {
        Some(parent) => (Some(parent.span_id), parent.is_remote),
        None => (None, false),
    };
    let span_id = SpanId::random();
    // A child keeps its parent's defined flags (W3C level 2: the random
    // flag stays with its trace id) and drops reserved ones, which "Vendors
    // MUST set to zero": they would reach OTLP's `Span.flags` otherwise.
    // B3's debug flag stays too: B3 propagators "MUST preserve a debug trace
    // flag, if received, and propagate it with subsequent requests" (no
    // W3C header and no OTLP field carries it).
    let trace_flags = match parent {
        Some(parent) => parent
            .trace_flags
            .defined()
            .with_sampled(sampled)
            .with_b3_debug(parent.trace_flags.is_b3_debug()),
        // A root's trace id is `TraceId::random`'s: all 16 bytes from the
        // thread's generator, so at least the 7 rightmost are random, as
        // W3C Trace Context level 2 asks of a `random` flag. The
        // specification's "Random trace flag": the SDK SHOULD then set it.
        // No caller can give a root its trace id (nor an id generator), so
        // every root's is known random. Samplers decide before, by the
        // trace id alone: the flag changes no decision.
        None => TraceFlags::RANDOM.with_sampled(sampled),
    };
    let context = SpanContext {
        trace_id,
        span_id,
        trace_flags,
        is_remote: false,
        trace_state: trace_state.clone(),
    };
    // With no exporter (`OTEL_TRACES_EXPORTER=none` and no processor given
    // in code) the span carries the sampler's decision, so that the trace
    // goes on downstream as it would with one, but records nothing that
    // nothing would export. On a pipeline's own thread (its export loop
    // running an exporter's or a loss handler's code, say) it records
    // nothing either: the pipeline never records its own work.
    if !recording || provider.disabled || provider.export_off || own_threads::is_own_thread() {
        return Span::non_recording(context);
    }
    let start = start_time.map_or_else(clock::now_unix_nanos, clock::unix_nanos);
    // Through a batch pipeline alone: a handle on the pipeline. Recorded
    // only (a custom sampler's `RecordOnly`): the processors but batch
    // pipelines, which would only export it.
    let destination = if sampled {
        provider.destination()
    } else {
        provider.record_only_destination()
    };
    // A span encoded into the pipeline leaves its handles with this thread
    // for the next one; one handed to processors takes them along.
    let (resource, scope) = match destination {
        Destination::Pipeline(_) => spare_handles::take(&provider.resource, &tracer.scope),
        _ => (provider.resource.clone(), tracer.scope.clone()),
    };
    Span::recording(
        context,
        SpanData {
            trace_id,
            span_id,
            trace_state,
            parent_span_id,
            flags: SpanFlags::new(trace_flags, Some(parent_remote)),
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: 0,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: otlp_core::Status::Unset,
            resource,
            scope,
        },
        provider.limits,
        destination,
    )
}
