//! Context activation: an `OtlpLayer` span entered on a thread is the
//! current span of the `opentelemetry` API there too
//! ([`OtlpLayerBuilder::with_context_activation`](super::OtlpLayerBuilder::with_context_activation),
//! feature `opentelemetry-bridge`), as `tracing-opentelemetry` makes its
//! spans current.
//!
//! Cost, per entered span: its `opentelemetry::Context` is made at its
//! first enter (one allocation, the API's shared span; the trace state
//! parsed only when it has members) and kept in its state; each enter
//! clones it (a reference count), attaches it (the API's thread-local
//! stack) and pushes the guard on this thread's stack below; each exit
//! pops it. Spans never entered cost nothing.

use std::cell::RefCell;
use std::num::NonZeroU64;
use std::str::FromStr as _;

use opentelemetry::trace::{
    SpanContext as ApiSpanContext, SpanId as ApiSpanId, TraceContextExt as _,
    TraceFlags as ApiTraceFlags, TraceId as ApiTraceId, TraceState as ApiTraceState,
};
use opentelemetry::{Context, ContextGuard};
use otlp_core::SpanContext;

thread_local! {
    /// The guards of the contexts this thread's entered spans attached,
    /// innermost last, each with the key of the span (its `tracing` id)
    /// that attached it. A span entered twice on the thread (re-entered)
    /// has two.
    static GUARDS: RefCell<Guards> = const { RefCell::new(Guards(Vec::new())) };
}

/// The guards of one thread (see `GUARDS`).
struct Guards(Vec<(NonZeroU64, ContextGuard)>);

impl Drop for Guards {
    /// The thread is exiting with spans still entered (an entered guard
    /// forgotten, or kept in a thread-local): their guards are forgotten,
    /// not dropped. Dropping one detaches its context through the API's
    /// thread-local stack, which may be gone already, and `LocalKey::with`
    /// panics there (an abort, in a thread-local's destructor). The stack
    /// goes with the thread anyway.
    fn drop(&mut self) {
        for guard in self.0.drain(..) {
            std::mem::forget(guard);
        }
    }
}

/// The `opentelemetry` context that makes `span` current: the context
/// current on this thread (its baggage and other values kept) with `span`
/// as its span, a non-recording one of the API (the layer records the span,
/// so a child started through the API has it as its parent, but setting
/// attributes on `Context::current().span()` does nothing).
pub(super) fn api_context(span: &SpanContext) -> Context {
    let trace_state = if span.trace_state.is_empty() {
        ApiTraceState::NONE
    } else {
        // The state is W3C-valid (otlp-core checks it); a state the API
        // reads otherwise is left out rather than failing the enter.
        ApiTraceState::from_str(span.trace_state.header()).unwrap_or(ApiTraceState::NONE)
    };
    let context = ApiSpanContext::new(
        ApiTraceId::from_bytes(span.trace_id.to_bytes()),
        ApiSpanId::from_bytes(span.span_id.to_bytes()),
        ApiTraceFlags::new(span.trace_flags.bits()),
        span.is_remote,
        trace_state,
    );
    Context::map_current(|current| current.with_remote_span_context(context))
}

/// Attaches `context` for the span of `key`, entered now, until its exit.
pub(super) fn enter(key: NonZeroU64, context: Context) {
    let guard = context.attach();
    // The thread is exiting: the guard detaches at once.
    let _ = GUARDS.try_with(|guards| guards.borrow_mut().0.push((key, guard)));
}

/// Detaches what the last enter of the span of `key` on this thread
/// attached, if it attached anything: guards dropped out of order exit the
/// span they entered. The guard is dropped outside the stack's borrow (a
/// context's values may run code when dropped).
pub(super) fn exit(key: NonZeroU64) {
    let guard = GUARDS
        .try_with(|guards| {
            let mut guards = guards.borrow_mut();
            let position = guards.0.iter().rposition(|(entered, _)| *entered == key)?;
            Some(guards.0.remove(position))
        })
        .ok()
        .flatten();
    drop(guard);
}
