//! [`OtlpSpanExt`]: remote parents and the current context for `tracing`
//! spans; [`extract`] and [`inject`]: W3C `traceparent`/`tracestate` in an
//! [`http::HeaderMap`].

use http::header::{HeaderMap, HeaderName, HeaderValue};
use otlp_core::SpanContext;

use super::layer::{StateFn, WithContext};
use super::state::SetParentError;

/// The W3C `traceparent` header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The W3C `tracestate` header.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// What [`OtlpLayer`](super::OtlpLayer) adds to a [`tracing::Span`]: a
/// remote parent, the span's context for propagation, links.
///
/// Each call finds the layer through the span's subscriber (a downcast, no
/// allocation) and takes the span's extensions once. On a span no
/// `OtlpLayer` records they do nothing ([`context`](Self::context) returns
/// an invalid context).
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
    /// if it has not started. Invalid (all zeros) if no `OtlpLayer` records
    /// the span.
    fn context(&self) -> SpanContext;

    /// Links this span to another span (in this trace or another), as
    /// `follows_from` does for a `tracing` span. An invalid `context` (all
    /// zeros: the [`context`](Self::context) of a span no `OtlpLayer`
    /// records) adds no link, as in `tracing-opentelemetry`.
    fn add_link(&self, context: &SpanContext);
}

impl OtlpSpanExt for tracing::Span {
    fn set_parent(&self, parent: &SpanContext) -> Result<(), SetParentError> {
        let mut outcome = Err(SetParentError::NotRecorded);
        with_state(self, &mut |state, _| outcome = state.set_parent(parent));
        outcome
    }

    fn context(&self) -> SpanContext {
        let mut context = SpanContext::default();
        with_state(self, &mut |state, tracer| {
            context = state.start(tracer).context().clone();
        });
        context
    }

    fn add_link(&self, context: &SpanContext) {
        if !context.is_valid() {
            return;
        }
        with_state(self, &mut |state, _| state.add_link(context));
    }
}

/// Runs `f` on the layer's state of `span`, if an `OtlpLayer` records it.
fn with_state(span: &tracing::Span, f: &mut StateFn<'_>) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(with_context) = dispatch.downcast_ref::<WithContext>() {
            with_context.with_span_state(dispatch, id, f);
        }
    });
}

/// The remote parent `headers` carry: `traceparent`, and `tracestate` when
/// present (several `tracestate` lines are joined, as W3C says). `None` if
/// `traceparent` is missing, malformed or given more than once — the caller
/// then starts a new trace, as the W3C specification asks.
pub fn extract(headers: &HeaderMap) -> Option<SpanContext> {
    let mut traceparents = headers.get_all(TRACEPARENT).iter();
    let (Some(traceparent), None) = (traceparents.next(), traceparents.next()) else {
        return None;
    };
    let traceparent = traceparent.to_str().ok()?;
    let mut lines = headers
        .get_all(TRACESTATE)
        .iter()
        .filter_map(|value| value.to_str().ok());
    let tracestate = match (lines.next(), lines.next()) {
        (None, _) => None,
        (Some(only), None) => Some(std::borrow::Cow::Borrowed(only)),
        (Some(first), Some(second)) => {
            let mut joined = format!("{first},{second}");
            for line in lines {
                joined.push(',');
                joined.push_str(line);
            }
            Some(std::borrow::Cow::Owned(joined))
        }
    };
    SpanContext::from_headers(traceparent, tracestate.as_deref()).ok()
}

/// Writes `context` into `headers` as `traceparent`, and `tracestate` when
/// the trace state is not empty (replacing any there). An invalid context
/// writes nothing.
pub fn inject(context: &SpanContext, headers: &mut HeaderMap) {
    if !context.is_valid() {
        return;
    }
    let mut buffer = [0u8; 55];
    let traceparent = context.write_traceparent(&mut buffer);
    if let Ok(value) = HeaderValue::from_str(traceparent) {
        headers.insert(TRACEPARENT, value);
    }
    let state = context.trace_state.header();
    if state.is_empty() {
        headers.remove(TRACESTATE);
    } else if let Ok(value) = HeaderValue::from_str(state) {
        headers.insert(TRACESTATE, value);
    }
}

#[cfg(test)]
mod tests {
    use otlp_core::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

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
