//! [`SpanState`]: what the layer keeps in a `tracing` span's extensions.
//!
//! A span starts *pending* and becomes an [`otlp_sdk::Span`] the first time
//! its context is needed (see the module documentation for why): until then
//! it holds what the sdk span will be started with.

use std::cell::Cell;
use std::time::SystemTime;

use otlp_core::{KeyValue, SpanContext, SpanKind, Status, Str};
use otlp_sdk::Tracer;

use super::EXCEPTION_EVENT;
use super::EXCEPTION_MESSAGE;
use super::fields::SpanFields;

/// A `tracing` span as this layer records it.
///
/// Invariant: a `Started` span never goes back to `Pending`; its trace id,
/// parent and sampling decision are fixed from then on.
#[derive(Debug)]
pub(super) struct SpanState {
    stage: Stage,
    /// Whether a status was set explicitly (`otel.status_*` fields) or by an
    /// `ERROR` event: a later `ERROR` event does not overwrite it.
    status_set: bool,
    /// When a recording span was last exited, or had an event after that:
    /// its end time (see [`SpanState::exited`]). `None` for a span never
    /// exited, which ends when it closes.
    ended: Option<SystemTime>,
    /// The span as the `opentelemetry` API's current context, made at its
    /// first enter with context activation on (see `activation`), then
    /// cloned at each enter.
    #[cfg(feature = "opentelemetry-bridge")]
    api_context: Option<opentelemetry::Context>,
}

// Both variants inline, not boxed: the registry boxes each extension already,
// a second box would be a second allocation per span. The enum is as large as
// the sdk span, which the span needs anyway.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Stage {
    /// Not started: nothing outside the span has seen its context yet.
    Pending(Pending),
    /// Started: ids assigned, sampled or not.
    Started(otlp_sdk::Span),
}

/// The mark of a span this layer records while its tracer never records
/// (tracing off): its [`SpanState`] is made only when its context is needed
/// (see `OtlpLayer::with_state`), most spans never get one. Without the mark
/// a span with no state is one the layer does not record (a per-layer filter
/// hides it, or it was made on a pipeline's own thread). Zero-sized: the
/// registry's box for it allocates nothing.
#[derive(Debug)]
pub(super) struct Deferred;

/// What a span is started with, gathered until it starts.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) name: Str,
    pub(super) kind: SpanKind,
    pub(super) start: SystemTime,
    /// The parent's context: the closest recorded `tracing` ancestor, or the
    /// remote context given to `set_parent`. `None`: a root.
    pub(super) parent: Option<SpanContext>,
    pub(super) attributes: Vec<KeyValue>,
    /// Links (`follows_from`, [`OtlpSpanExt::add_link`](super::OtlpSpanExt::add_link))
    /// with their attributes.
    pub(super) links: Vec<(SpanContext, Vec<KeyValue>)>,
    pub(super) status: Option<Status>,
    /// Exception events (error values among the fields), with their time.
    pub(super) events: Vec<(SystemTime, Str)>,
}

impl Pending {
    /// A span whose tracer never records: its name and parent, nothing else
    /// (no attributes, no start time: it will not be exported).
    pub(super) fn unrecorded(name: &'static str, parent: Option<SpanContext>) -> Self {
        Pending {
            name: Str::from(name),
            kind: SpanKind::Internal,
            start: SystemTime::UNIX_EPOCH,
            parent,
            attributes: Vec::new(),
            links: Vec::new(),
            status: None,
            events: Vec::new(),
        }
    }
}

/// Why [`OtlpSpanExt::set_parent`](super::OtlpSpanExt::set_parent) did not
/// change a span's parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetParentError {
    /// The span is disabled, or no [`OtlpLayer`](super::OtlpLayer) records it
    /// (no layer in the span's subscriber, a per-layer filter excluded it, or
    /// it was created on a pipeline's own thread).
    #[error("the span is not recorded by an OtlpLayer")]
    NotRecorded,
    /// The span has started already: it was entered, has a child, recorded
    /// an event, was followed from, or its context was read. Its trace is
    /// fixed; call `set_parent` right after creating the span.
    #[error("the span has started: its parent can no longer change")]
    AlreadyStarted,
}

impl SpanState {
    /// A span not started yet.
    pub(super) fn pending(pending: Pending, status_set: bool) -> Self {
        SpanState {
            stage: Stage::Pending(pending),
            status_set,
            ended: None,
            #[cfg(feature = "opentelemetry-bridge")]
            api_context: None,
        }
    }

    /// The `opentelemetry` context that makes this span current (see
    /// `activation`), made the first time, then cloned (a reference count);
    /// starts the span first if it is pending.
    #[cfg(feature = "opentelemetry-bridge")]
    pub(super) fn api_context(&mut self, tracer: &Tracer) -> opentelemetry::Context {
        if let Some(context) = &self.api_context {
            return context.clone();
        }
        let context = super::activation::api_context(self.start(tracer).context());
        self.api_context = Some(context.clone());
        context
    }

    /// Notes that the span was exited now: it ends at its last exit, not
    /// when `tracing` closes it, as `tracing-opentelemetry` ends it (since
    /// 0.24). `tracing` keeps a span open as long as a child lives (a task
    /// spawned under a request's span, say), and the request did not last as
    /// long as that work. One clock read, for a recording span only.
    pub(super) fn exited(&mut self) {
        if let Stage::Started(span) = &self.stage
            && span.is_recording()
        {
            self.ended = Some(SystemTime::now());
        }
    }

    /// The time of an event added now: after an exit, the event moves the
    /// span's end to it (an event that happened in the span happened before
    /// it ended). `None` for a span not exited yet: the sdk reads the clock.
    fn event_time(&mut self) -> Option<SystemTime> {
        let ended = self.ended.as_mut()?;
        let now = SystemTime::now();
        *ended = now;
        Some(now)
    }

    /// Whether field values recorded now may end up exported: false only
    /// once the span has started unsampled (or ended).
    pub(super) fn may_record(&self) -> bool {
        match &self.stage {
            Stage::Pending(_) => true,
            Stage::Started(span) => span.is_recording(),
        }
    }

    /// The span's context if it has started; `None` while it is pending.
    pub(super) fn started_context(&self) -> Option<&SpanContext> {
        match &self.stage {
            Stage::Pending(_) => None,
            Stage::Started(span) => Some(span.context()),
        }
    }

    /// The sdk span, started first if it is pending.
    pub(super) fn start(&mut self, tracer: &Tracer) -> &mut otlp_sdk::Span {
        if let Stage::Pending(pending) = &mut self.stage {
            let span = start(tracer, pending);
            self.stage = Stage::Started(span);
        }
        match &mut self.stage {
            Stage::Started(span) => span,
            Stage::Pending(_) => unreachable!("started just above"),
        }
    }

    /// Makes `parent` this span's parent, if it has not started.
    pub(super) fn set_parent(&mut self, parent: &SpanContext) -> Result<(), SetParentError> {
        match &mut self.stage {
            Stage::Pending(pending) => {
                pending.parent = Some(parent.clone()).filter(SpanContext::is_valid);
                Ok(())
            }
            Stage::Started(_) => Err(SetParentError::AlreadyStarted),
        }
    }

    /// Adds a link to `context` (`follows_from`, `OtlpSpanExt::add_link`)
    /// with `attributes`.
    pub(super) fn add_link(&mut self, context: &SpanContext, attributes: Vec<KeyValue>) {
        let _sdk_call = SdkCall::mark();
        match &mut self.stage {
            Stage::Pending(pending) => pending.links.push((context.clone(), attributes)),
            Stage::Started(span) => span.add_link(context, attributes),
        }
    }

    /// Sets `attribute`, replacing the value of an attribute of the same key
    /// (`OtlpSpanExt::set_attribute`): before the span starts in its pending
    /// attributes (a custom sampler sees it), after on the sdk span, whose
    /// limits apply. Nothing once the span has started unsampled.
    pub(super) fn set_attribute(&mut self, attribute: KeyValue) {
        let _sdk_call = SdkCall::mark();
        match &mut self.stage {
            Stage::Pending(pending) => {
                match pending
                    .attributes
                    .iter_mut()
                    .find(|kept| kept.key == attribute.key)
                {
                    Some(kept) => kept.value = attribute.value,
                    None => pending.attributes.push(attribute),
                }
            }
            Stage::Started(span) => span.set_attribute(attribute),
        }
    }

    /// Sets the span's status (`OtlpSpanExt::set_status`) as the
    /// `otel.status_code` field does (see [`SpanState::record`]): before the
    /// span starts the last status wins, `Unset` included; after, `Ok` is
    /// final and `Unset` is ignored. A status other than `Unset` is kept
    /// over a later `ERROR` event's.
    pub(super) fn set_status(&mut self, status: Status) {
        let _sdk_call = SdkCall::mark();
        let set = status != Status::Unset;
        match &mut self.stage {
            Stage::Pending(pending) => {
                self.status_set = set;
                pending.status = Some(status);
            }
            Stage::Started(span) => {
                self.status_set |= set;
                span.set_status(status);
            }
        }
    }

    /// Applies recorded fields: attributes, name, kind (before start only),
    /// status, exception events.
    ///
    /// Before the span starts, the last status recorded wins, `Unset` too,
    /// as `tracing-opentelemetry` does with its span builder: `Unset` clears
    /// an earlier status, and a later `ERROR` event may set one again. Once
    /// the span has started, the sdk span's rules apply (the specification's):
    /// `Ok` is final and `Unset` is ignored.
    ///
    /// The code `error` recorded alone keeps the description the span has
    /// (recorded before, or an `ERROR` event's message): the code and the
    /// description are two fields, recording one leaves the other.
    pub(super) fn record(&mut self, fields: SpanFields) {
        let _sdk_call = SdkCall::mark();
        let mut status = fields.status();
        if fields.error_code_alone() {
            let current = match &self.stage {
                Stage::Pending(pending) => pending.status.as_ref(),
                Stage::Started(span) => span.status(),
            };
            if let Some(Status::Error { message }) = current {
                status = Some(Status::error(message.clone()));
            }
        }
        // An error recorded after the span's last exit moves its end to
        // the error's event, as an event does.
        let exception_time = if fields.exceptions.is_empty() {
            None
        } else {
            self.event_time()
        };
        match (&self.stage, &status) {
            (_, None) => {}
            (Stage::Pending(_), Some(status)) => self.status_set = *status != Status::Unset,
            (Stage::Started(_), Some(status)) => self.status_set |= *status != Status::Unset,
        }
        match &mut self.stage {
            Stage::Pending(pending) => {
                let SpanFields {
                    attributes,
                    name,
                    kind,
                    exceptions,
                    ..
                } = fields;
                // A field recorded again replaces its value: a span that is
                // recorded in a loop before it starts (never entered, its
                // context never asked for) keeps one attribute per key,
                // not one per call.
                for attribute in attributes {
                    match pending
                        .attributes
                        .iter_mut()
                        .find(|kept| kept.key == attribute.key)
                    {
                        Some(kept) => kept.value = attribute.value,
                        None => pending.attributes.push(attribute),
                    }
                }
                if let Some(name) = name {
                    pending.name = name;
                }
                if let Some(kind) = kind {
                    pending.kind = kind;
                }
                if let Some(status) = status {
                    pending.status = Some(status);
                }
                let now = SystemTime::now();
                pending
                    .events
                    .extend(exceptions.into_iter().map(|message| (now, message)));
            }
            Stage::Started(span) => {
                let SpanFields {
                    attributes,
                    name,
                    exceptions,
                    ..
                } = fields;
                span.set_attributes(attributes);
                if let Some(name) = name {
                    span.update_name(name);
                }
                if let Some(status) = status {
                    span.set_status(status);
                }
                for message in exceptions {
                    let attributes = [KeyValue::new(EXCEPTION_MESSAGE, message)];
                    match exception_time {
                        Some(time) => span.add_event_at(EXCEPTION_EVENT, time, attributes),
                        None => span.add_event(EXCEPTION_EVENT, attributes),
                    }
                }
            }
        }
    }

    /// Adds the event `name` now, starting the span first if it is pending.
    pub(super) fn add_event(&mut self, tracer: &Tracer, name: Str, attributes: Vec<KeyValue>) {
        self.add_event_at(tracer, name, None, attributes);
    }

    /// Adds the event `name` at `time` (`None`: now, as
    /// [`add_event`](Self::add_event)), starting the span first if it is
    /// pending. A given time is the event's as given: it does not move the
    /// span's end, as an event added now after the span's last exit does.
    pub(super) fn add_event_at(
        &mut self,
        tracer: &Tracer,
        name: Str,
        time: Option<SystemTime>,
        attributes: Vec<KeyValue>,
    ) {
        let _sdk_call = SdkCall::mark();
        let time = match time {
            Some(time) => Some(time),
            None => self.event_time(),
        };
        let span = self.start(tracer);
        match time {
            Some(time) => span.add_event_at(name, time, attributes),
            None => span.add_event(name, attributes),
        }
    }

    /// Sets an error status from an `ERROR` event, unless one was set before.
    pub(super) fn error_event(&mut self, description: Str) {
        if !self.status_set
            && let Stage::Started(span) = &mut self.stage
        {
            span.set_status(Status::error(description));
            self.status_set = true;
        }
    }

    /// Ends the span at its last exit (or the last event after it), else
    /// now, starting it first if it is pending. Not called
    /// when the tracer never records: the layer leaves the state to the
    /// registry, which drops it with the span (see `OtlpLayer::on_close`).
    ///
    /// Ending hands the span to the processors (`on_end`: the program's
    /// code too), inside an sdk call like the others: a span a processor
    /// makes for its own work would otherwise end in turn and be handed to
    /// it, which makes one more, without end.
    pub(super) fn end(self, tracer: &Tracer) {
        let _sdk_call = SdkCall::mark();
        // A pending span starts and ends here without first moving into
        // `stage` (the sdk span is about 300 bytes: one copy less per span).
        match self.stage {
            Stage::Pending(mut pending) => start(tracer, &mut pending).end(),
            Stage::Started(mut span) => match self.ended {
                Some(ended) => span.end_at(ended),
                None => span.end(),
            },
        }
    }
}

thread_local! {
    /// Whether this thread is inside a call the layer makes into otlp-sdk
    /// while it may hold a span's extensions (see [`in_sdk_call`]).
    static IN_SDK_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is inside a call the layer makes into
/// otlp-sdk on a span: starting it, recording fields, an event or a link,
/// ending it.
/// Such a call may run the program's code — its sampler
/// (`Sampler::custom`), its processors' `on_start` and `on_end`, its warning handler
/// (`diagnostics::set_warning_handler`, told when a span goes over its
/// limits) — and that code may record through `tracing`. The layer may hold
/// the span's extensions meanwhile, and the span may be `tracing`'s current
/// one (a span starts as it is entered; events and `Span::current().record`
/// are recorded in it): taking them again from there would wait for the
/// lock this thread holds, forever. And a span a processor's `on_end`
/// makes for its own work would end in turn, be handed to it, and make one
/// more, without end. So the `tracing` spans, events, records
/// and enters made there are not recorded by `OtlpLayer` (nor given span
/// ids by `OtlpLogLayer`), as on a pipeline's own threads; other layers
/// (`fmt`) see them as ever. Cost: a thread-local read.
pub(super) fn in_sdk_call() -> bool {
    IN_SDK_CALL.try_with(Cell::get).unwrap_or(false)
}

/// Marks the thread as inside an sdk call (see [`in_sdk_call`]) until
/// dropped, on return or unwinding; puts back what was there, so that a
/// call nested in another (a span closing in a sampler) leaves the outer one
/// marked. Cost: two thread-local writes.
struct SdkCall(bool);

impl SdkCall {
    fn mark() -> Self {
        SdkCall(
            IN_SDK_CALL
                .try_with(|inside| inside.replace(true))
                .unwrap_or(false),
        )
    }
}

impl Drop for SdkCall {
    fn drop(&mut self) {
        let _ = IN_SDK_CALL.try_with(|inside| inside.set(self.0));
    }
}

/// Starts the sdk span a pending span describes.
fn start(tracer: &Tracer, pending: &mut Pending) -> otlp_sdk::Span {
    let _sdk_call = SdkCall::mark();
    let mut builder = tracer
        .span_builder(std::mem::take(&mut pending.name))
        .kind(pending.kind)
        .start_time(pending.start)
        .attributes(std::mem::take(&mut pending.attributes));
    if let Some(parent) = &pending.parent {
        builder = builder.parent(parent);
    }
    for (link, attributes) in pending.links.drain(..) {
        builder = builder.link(&link, attributes);
    }
    let mut span = builder.start();
    if span.is_recording() {
        if let Some(status) = pending.status.take() {
            span.set_status(status);
        }
        for (time, message) in pending.events.drain(..) {
            span.add_event_at(
                EXCEPTION_EVENT,
                time,
                [KeyValue::new(EXCEPTION_MESSAGE, message)],
            );
        }
    }
    span
}

#[cfg(test)]
mod tests {
    use otlp_core::AnyValue;

    use super::*;

    #[test]
    fn a_field_recorded_again_before_start_replaces_its_value() {
        let mut pending = Pending::unrecorded("job", None);
        pending.attributes.push(KeyValue::new("queue", "default"));
        let mut state = SpanState::pending(pending, false);
        for done in 0..1_000_i64 {
            let mut fields = SpanFields::with_capacity(1);
            fields.attributes.push(KeyValue::new("done", done));
            state.record(fields);
        }
        let Stage::Pending(pending) = &state.stage else {
            panic!("recording does not start a span");
        };
        let kept: Vec<_> = pending
            .attributes
            .iter()
            .map(|attribute| (attribute.key.to_string(), attribute.value.clone()))
            .collect();
        assert_eq!(
            kept,
            [
                ("queue".to_string(), AnyValue::from("default")),
                ("done".to_string(), AnyValue::Int(999)),
            ]
        );
    }
}
