//! [`OtlpSpanExt`]: remote parents and the current context for `tracing`
//! spans; [`extract`] and [`inject`]: the trace context in an
//! [`http::HeaderMap`], in the formats of the process's propagators
//! ([`set_global_propagators`]; W3C `traceparent`/`tracestate` unless
//! `OTEL_PROPAGATORS` says otherwise), or of given ones ([`extract_with`],
//! [`inject_with`]).

use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use otlp_core::propagation::{Extractor, Injector, Propagators};
use otlp_core::{AnyValue, KeyValue, SpanContext, Status, Str};

use super::layer::{StateFn, WithContext};
use super::state::{SetParentError, in_sdk_call};

/// The W3C `traceparent` header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The W3C `tracestate` header.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// What [`OtlpLayer`](super::OtlpLayer) adds to a [`tracing::Span`]: a
/// remote parent, the span's context for propagation, links, and what
/// `tracing` fields and events cannot say (attributes and events with keys
/// known only at run time, a status): the methods of
/// `tracing-opentelemetry`'s `OpenTelemetrySpanExt`, of the same names, with
/// this crate's types ([`SpanContext`] for a parent, a link or a context,
/// [`KeyValue`], [`Status`]) in place of `opentelemetry`'s.
///
/// Each call finds the layer through the span's subscriber (a downcast, no
/// allocation) and takes the span's extensions once. On a span no
/// `OtlpLayer` records they do nothing, but for [`context`](Self::context)
/// of a span a per-layer filter hides: that is its closest recorded
/// ancestor's.
///
/// ```
/// use otlp_contrib::tracing::{OtlpLayer, OtlpSpanExt as _};
/// use otlp_core::SpanContext;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let provider = otlp_sdk::TracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
/// tracing::subscriber::with_default(subscriber, || {
///     let remote = SpanContext::from_traceparent(
///         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
///     )?;
///     let span = tracing::info_span!("GET /users/{id}", otel.kind = "server");
///     span.set_parent(&remote)?; // before it is entered
///     let _entered = span.enter();
///     assert_eq!(span.context().trace_id, remote.trace_id);
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait OtlpSpanExt {
    /// Makes `parent` (typically received in `traceparent`) this span's
    /// parent in place of its `tracing` parent. Call it right after the span
    /// is created: once the span has started — entered, given a child or an
    /// event, followed from, or its context read — its trace is fixed and
    /// this returns [`SetParentError::AlreadyStarted`]. An invalid `parent`
    /// makes the span a root.
    fn set_parent(&self, parent: &SpanContext) -> Result<(), SetParentError>;

    /// This span's context, to propagate (see [`inject`]); starts the span
    /// if it has not started. For a span a per-layer filter hides from the
    /// layer (a `debug_span!` under an `INFO` filter, kept by another
    /// layer), the context of its closest ancestor the layer records — the
    /// span its children and events hang from — so that a call made inside
    /// it continues the trace. Invalid (all zeros) when there is none: no
    /// `OtlpLayer` in the span's subscriber, no recorded ancestor,
    /// [`Span::none`](tracing::Span::none).
    fn context(&self) -> SpanContext;

    /// Links this span to another span (in this trace or another), as
    /// `follows_from` does for a `tracing` span. An invalid `context` (all
    /// zeros: the [`context`](Self::context) of a span no `OtlpLayer`
    /// records, nor any of its ancestors) adds no link, as in
    /// `tracing-opentelemetry`.
    fn add_link(&self, context: &SpanContext);

    /// Links this span to another span, as [`add_link`](Self::add_link),
    /// with attributes on the link (why it links, say). An invalid
    /// `context` adds no link, attributes or not, as in
    /// `tracing-opentelemetry`.
    fn add_link_with_attributes(&self, context: &SpanContext, attributes: Vec<KeyValue>);

    /// Sets the attribute `key` to `value` on this span, beside its
    /// `tracing` fields: a key known only at run time, or more attributes
    /// than a `tracing` span declares fields (32 at most). A later
    /// `set_attribute`, or a field recorded later with `Span::record`, of
    /// the same key replaces the value. Before the span starts, a custom
    /// sampler sees it, as a field recorded then. The provider's attribute
    /// limit applies. Nothing on a span that started sampled out.
    ///
    /// `tracing-opentelemetry`'s method of the same name, with this
    /// crate's types: the value is an [`AnyValue`] (so arrays, maps and
    /// bytes too).
    fn set_attribute(&self, key: impl Into<Str>, value: impl Into<AnyValue>);

    /// Sets this span's status, for a span whose code does not declare the
    /// `otel.status_code` field (a library's span). The rules of that field
    /// apply: before the span starts the last status set wins, `Unset`
    /// included; once it has started, `Ok` is final and `Unset` is
    /// ignored. A status other than `Unset` is kept over a later `ERROR`
    /// event's ([`OtlpLayerBuilder::with_error_events_to_status`](super::OtlpLayerBuilder::with_error_events_to_status)).
    fn set_status(&self, status: Status);

    /// Adds an event to this span now, beside `tracing`'s events: an event
    /// whose attribute keys are known only at run time. It starts the span
    /// if it has not started, as an event recorded in it with
    /// `tracing::info!` does (so [`set_parent`](Self::set_parent) is to be
    /// called before; in `tracing-opentelemetry` it may still be called
    /// after). After the span's last exit the event moves the span's end
    /// to it, as a `tracing` event does. The provider's event limits apply.
    fn add_event(&self, name: impl Into<Str>, attributes: Vec<KeyValue>);

    /// Adds an event to this span at `timestamp`, as
    /// [`add_event`](Self::add_event) (it starts the span too): something
    /// that happened earlier, say. The time is kept as given, not checked
    /// against the span's start or end, and does not move the span's end.
    fn add_event_with_timestamp(
        &self,
        name: impl Into<Str>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    );
}

impl OtlpSpanExt for tracing::Span {
    fn set_parent(&self, parent: &SpanContext) -> Result<(), SetParentError> {
        let mut outcome = Err(SetParentError::NotRecorded);
        with_state(self, &mut |state, _| outcome = state.set_parent(parent));
        outcome
    }

    fn context(&self) -> SpanContext {
        // As in `with_state`: not inside an sdk call of the layer.
        if in_sdk_call() {
            return SpanContext::default();
        }
        self.with_subscriber(|(id, dispatch)| {
            dispatch
                .downcast_ref::<WithContext>()?
                .propagated_context(dispatch, id)
        })
        .flatten()
        .unwrap_or_default()
    }

    fn add_link(&self, context: &SpanContext) {
        self.add_link_with_attributes(context, Vec::new());
    }

    fn add_link_with_attributes(&self, context: &SpanContext, attributes: Vec<KeyValue>) {
        if !context.is_valid() {
            return;
        }
        let mut attributes = Some(attributes);
        with_state(self, &mut |state, _| {
            state.add_link(context, attributes.take().unwrap_or_default());
        });
    }

    fn set_attribute(&self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        let mut attribute = Some(KeyValue::new(key, value));
        with_state(self, &mut |state, _| {
            if let Some(attribute) = attribute.take()
                && state.may_record()
            {
                state.set_attribute(attribute);
            }
        });
    }

    fn set_status(&self, status: Status) {
        let mut status = Some(status);
        with_state(self, &mut |state, _| {
            if let Some(status) = status.take() {
                state.set_status(status);
            }
        });
    }

    fn add_event(&self, name: impl Into<Str>, attributes: Vec<KeyValue>) {
        add_event(self, name.into(), None, attributes);
    }

    fn add_event_with_timestamp(
        &self,
        name: impl Into<Str>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        add_event(self, name.into(), Some(timestamp), attributes);
    }
}

/// Adds an event to `span`'s state (started first if pending) at `time`,
/// `None` for now; nothing on a span that started sampled out, or when
/// its tracer never records (tracing off: no span records an event, as
/// for `tracing` events).
fn add_event(span: &tracing::Span, name: Str, time: Option<SystemTime>, attributes: Vec<KeyValue>) {
    let mut event = Some((name, attributes));
    with_state(span, &mut |state, tracer| {
        if tracer.never_records() {
            return;
        }
        if let Some((name, attributes)) = event.take()
            && state.start(tracer).is_recording()
        {
            state.add_event_at(tracer, name, time, attributes);
        }
    });
}

/// Runs `f` on the layer's state of `span`, if an `OtlpLayer` records it;
/// not inside an sdk call of the layer (a sampler, a processor's `on_start`,
/// the warning handler: the span may be the one the call is about, whose
/// extensions this thread holds): there the span is as one no `OtlpLayer`
/// records.
fn with_state(span: &tracing::Span, f: &mut StateFn<'_>) {
    if in_sdk_call() {
        return;
    }
    span.with_subscriber(|(id, dispatch)| {
        if let Some(with_context) = dispatch.downcast_ref::<WithContext>() {
            with_context.with_span_state(dispatch, id, f);
        }
    });
}

/// The propagators [`extract`] and [`inject`] use, until
/// [`set_global_propagators`] replaces them: W3C Trace Context alone.
static GLOBAL_PROPAGATORS: RwLock<Propagators> = RwLock::new(Propagators::trace_context());

/// Makes `propagators` the process's: what [`extract`] and [`inject`] use
/// from now on, on every thread. The last call wins.
///
/// `otlp_contrib::pipeline::exporter_from_config` and `build_processor`
/// (feature `pipeline`) call this with the configuration's propagators
/// (`OTEL_PROPAGATORS`, [`PropagatorsConfig`](otlp_sdk::config::PropagatorsConfig)):
/// a program set up from its configuration extracts and injects what
/// `OTEL_PROPAGATORS` names without a word. A program that builds its
/// provider otherwise calls it itself, or passes its propagators to
/// [`extract_with`] and [`inject_with`] and leaves the global alone.
///
/// Cost: a write lock, taken once at set-up.
///
/// ```rust,standalone_crate
/// use otlp_contrib::tracing::{extract, global_propagators, set_global_propagators};
/// use otlp_core::propagation::Propagators;
/// use otlp_sdk::config::ConfigLoader;
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([("OTEL_PROPAGATORS", "tracecontext,b3")])
///     .load()?;
/// set_global_propagators(config.propagators.propagators());
/// assert_eq!(global_propagators().to_string(), "tracecontext,b3");
///
/// // A request from a Zipkin-instrumented client continues its trace.
/// let mut incoming = http::HeaderMap::new();
/// incoming.insert("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1".parse()?);
/// assert!(extract(&incoming).is_some());
/// # set_global_propagators(Propagators::default());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_global_propagators(propagators: Propagators) {
    *GLOBAL_PROPAGATORS
        .write()
        .unwrap_or_else(PoisonError::into_inner) = propagators;
}

/// The process's propagators: the last [`set_global_propagators`], or W3C
/// Trace Context alone when nothing was set. Cost: a read lock, shared by
/// every reader, held for a copy of a few bytes.
pub fn global_propagators() -> Propagators {
    *GLOBAL_PROPAGATORS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The remote parent `headers` carry, in the formats of the process's
/// propagators ([`global_propagators`]): [`extract_with`] those.
///
/// With the default, W3C Trace Context: `traceparent`, and `tracestate`
/// when present (several `tracestate` lines are joined, as W3C says).
/// `None` if `traceparent` is missing, malformed or given more than once —
/// the caller then starts a new trace, as the W3C specification asks.
pub fn extract(headers: &HeaderMap) -> Option<SpanContext> {
    extract_with(&global_propagators(), headers)
}

/// Writes `context` into `headers` with every one of the process's
/// propagators ([`global_propagators`]): [`inject_with`] those.
///
/// With the default, W3C Trace Context: `traceparent`, and `tracestate`
/// when the trace state is not empty (replacing any there). An invalid
/// context writes nothing.
pub fn inject(context: &SpanContext, headers: &mut HeaderMap) {
    inject_with(&global_propagators(), context, headers);
}

/// The remote parent `headers` carry in the formats of `propagators`: each
/// is asked in order, and when several find a context the last of them
/// wins, as in the other OpenTelemetry SDKs (see [`Propagators`]). `None`
/// when none finds a valid one (or `propagators` is
/// [`none`](Propagators::none)); malformed headers are never an error here.
///
/// ```
/// use otlp_contrib::tracing::extract_with;
/// use otlp_core::propagation::{Propagator, Propagators};
///
/// let b3 = Propagators::new([Propagator::B3Multi]);
/// let mut headers = http::HeaderMap::new();
/// headers.insert("X-B3-TraceId", "4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
/// headers.insert("X-B3-SpanId", "00f067aa0ba902b7".parse()?);
/// headers.insert("X-B3-Sampled", "1".parse()?);
/// let parent = extract_with(&b3, &headers).expect("the B3 headers");
/// assert_eq!(parent.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(parent.trace_flags.is_sampled() && parent.is_remote);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn extract_with(propagators: &Propagators, headers: &HeaderMap) -> Option<SpanContext> {
    propagators.extract(&HeaderSource(headers))
}

/// Writes `context` into `headers` with every one of `propagators`, in
/// order, each replacing its own headers already there. An invalid context,
/// or [`Propagators::none`], writes nothing.
///
/// ```
/// use otlp_contrib::tracing::inject_with;
/// use otlp_core::propagation::{Propagator, Propagators};
/// use otlp_core::SpanContext;
///
/// let context = SpanContext::from_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// )?;
/// let mut headers = http::HeaderMap::new();
/// inject_with(&Propagators::new([Propagator::TraceContext, Propagator::B3]), &context, &mut headers);
/// assert_eq!(headers["b3"], "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1");
/// assert!(headers.contains_key("traceparent"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn inject_with(propagators: &Propagators, context: &SpanContext, headers: &mut HeaderMap) {
    propagators.inject(context, &mut HeaderSink(headers));
}

/// A header map read by the propagators. Text values only (visible ASCII,
/// as [`HeaderValue::to_str`] reads them): `get` does not read a value that
/// is not text, and `get_line` reads it as empty text, so that it still
/// counts as a line (two `traceparent` lines are no parent) and carries
/// nothing (the other `tracestate` lines are kept, whichever line it is).
struct HeaderSource<'a>(&'a HeaderMap);

impl Extractor for HeaderSource<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.to_str().ok()
    }

    fn get_line(&self, name: &str, index: usize) -> Option<&str> {
        let value = self.0.get_all(name).iter().nth(index)?;
        Some(value.to_str().unwrap_or(""))
    }
}

/// A header map written by the propagators.
struct HeaderSink<'a>(&'a mut HeaderMap);

impl Injector for HeaderSink<'_> {
    fn set(&mut self, name: &'static str, value: &str) {
        // The propagators write lower-case names and hex, digits and the
        // W3C `tracestate` characters: both always convert.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.0.insert(name, value);
        }
    }

    fn remove(&mut self, name: &'static str) {
        self.0.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use otlp_core::propagation::Propagator;
    use otlp_core::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn header_map(entries: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in entries {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn nothing_installed_the_global_propagators_are_trace_context() {
        // Only pipeline tests of this binary install any: the default config's.
        assert_eq!(global_propagators(), Propagators::trace_context());
    }

    #[test]
    fn extract_with_reads_b3_headers_whatever_the_case_of_their_names() {
        let b3 = Propagators::new([Propagator::B3]);
        let multi = header_map(&[
            ("X-B3-TraceId", TRACE),
            ("X-B3-SpanId", SPAN),
            ("X-B3-Sampled", "1"),
            ("X-B3-ParentSpanId", "00000000000000cd"),
        ]);
        let single = header_map(&[("B3", &format!("a3ce929d0e0e4736-{SPAN}-d"))]);
        let from_multi = extract_with(&b3, &multi).unwrap();
        assert_eq!(
            (
                from_multi.trace_id.to_string(),
                from_multi.span_id.to_string()
            ),
            (TRACE.to_owned(), SPAN.to_owned())
        );
        let from_single = extract_with(&b3, &single).unwrap();
        assert_eq!(
            from_single.trace_id.to_string(),
            "0000000000000000a3ce929d0e0e4736"
        );
        assert!(from_single.trace_flags.is_sampled(), "debug is sampled");
        // W3C alone does not read them; nor does `none`.
        assert_eq!(extract_with(&Propagators::trace_context(), &multi), None);
        assert_eq!(extract_with(&Propagators::none(), &single), None);
    }

    #[test]
    fn inject_with_writes_every_propagators_headers_and_none_writes_nothing() {
        let context = SpanContext::from_traceparent(&format!("00-{TRACE}-{SPAN}-00")).unwrap();
        let mut headers = header_map(&[("x-b3-flags", "1")]);
        let all = Propagators::new([
            Propagator::B3Multi,
            Propagator::TraceContext,
            Propagator::B3,
        ]);
        inject_with(&all, &context, &mut headers);
        assert_eq!(headers["traceparent"], format!("00-{TRACE}-{SPAN}-00"));
        assert_eq!(headers["b3"], format!("{TRACE}-{SPAN}-0"));
        assert_eq!(headers["x-b3-traceid"], TRACE);
        assert_eq!(headers["x-b3-spanid"], SPAN);
        assert_eq!(headers["x-b3-sampled"], "0");
        assert!(!headers.contains_key("x-b3-flags"), "no stale debug flag");
        assert_eq!(headers.len(), 5);

        let mut untouched = HeaderMap::new();
        inject_with(&Propagators::none(), &context, &mut untouched);
        assert!(untouched.is_empty());
    }

    #[test]
    fn a_second_traceparent_line_that_is_not_text_is_still_no_parent() {
        let mut headers = header_map(&[("traceparent", &format!("00-{TRACE}-{SPAN}-01"))]);
        assert!(extract(&headers).is_some());
        headers.append(TRACEPARENT, HeaderValue::from_bytes(b"00-\xff").unwrap());
        assert_eq!(extract(&headers), None);
        // A `tracestate` line that is not text is skipped, the others kept.
        let mut headers = header_map(&[
            ("traceparent", &format!("00-{TRACE}-{SPAN}-01")),
            ("tracestate", "a=1"),
        ]);
        headers.append(TRACESTATE, HeaderValue::from_bytes(b"b=\xff").unwrap());
        headers.append(TRACESTATE, HeaderValue::from_static("c=3"));
        let context = extract(&headers).unwrap();
        assert_eq!(context.trace_state.header(), "a=1,c=3");
    }

    #[test]
    fn a_first_tracestate_line_that_is_not_text_is_skipped_like_a_later_one() {
        // The same lines as above in another order keep the same members:
        // the order of the lines does not decide whether the valid ones are kept.
        let mut headers = header_map(&[("traceparent", &format!("00-{TRACE}-{SPAN}-01"))]);
        headers.append(TRACESTATE, HeaderValue::from_bytes(b"b=\xff").unwrap());
        headers.append(TRACESTATE, HeaderValue::from_static("a=1"));
        headers.append(TRACESTATE, HeaderValue::from_static("c=3"));
        let context = extract(&headers).unwrap();
        assert_eq!(context.trace_state.header(), "a=1,c=3");
        // A first `traceparent` line that is not text is still no parent.
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT, HeaderValue::from_bytes(b"00-\xff").unwrap());
        assert_eq!(extract(&headers), None);
    }

    #[test]
    fn inject_then_extract_gives_the_context_back_as_remote() {
        let mut context =
            SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
        context.trace_state = TraceState::parse("vendor=value,other=1").unwrap();
        let mut headers = HeaderMap::new();
        inject(&context, &mut headers);
        let extracted = extract(&headers).unwrap();
        assert!(extracted.is_remote);
        assert_eq!(
            SpanContext {
                is_remote: false,
                ..extracted
            },
            context
        );
    }

    #[test]
    fn two_traceparent_lines_are_no_parent() {
        // W3C's test suite (test_traceparent_duplicated): a request with two
        // `traceparent` headers starts a new trace, even when they agree.
        let mut headers = HeaderMap::new();
        let line =
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        headers.append(TRACEPARENT, line.clone());
        assert!(extract(&headers).is_some());
        headers.append(TRACEPARENT, line);
        assert_eq!(extract(&headers), None);
    }

    #[test]
    fn several_tracestate_lines_are_joined_and_bad_traceparent_is_none() {
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        headers.append(TRACESTATE, HeaderValue::from_static("a=1"));
        headers.append(TRACESTATE, HeaderValue::from_static("b=2"));
        let context = extract(&headers).unwrap();
        assert_eq!(context.trace_state.get("a"), Some("1"));
        assert_eq!(context.trace_state.get("b"), Some("2"));
        headers.insert(TRACEPARENT, HeaderValue::from_static("00-zz"));
        assert_eq!(extract(&headers), None);
        let mut empty = HeaderMap::new();
        inject(&SpanContext::default(), &mut empty);
        assert!(empty.is_empty());
    }
}
