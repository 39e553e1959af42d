//! The thread's active span, for what records inside it without being given
//! it: metric exemplars ([`crate::metrics`]).
//!
//! Spans of this crate are not entered (they are values passed around); the
//! front door that has a notion of "current span" — the `tracing` layer of
//! `otlp-contrib`, on entering and exiting a span — keeps this stack. Code
//! that holds a [`SpanContext`] can do the same with [`enter`] and [`exit`]
//! or [`in_span`]. Cost: a thread-local push or pop; the stack's storage is
//! kept for the thread's next span.

use std::cell::{Cell, RefCell};

use otlp_core::{SpanContext, SpanId, TraceFlags, TraceId};

/// The ids of an entered span, and its trace flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveSpan {
    /// The span's trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
    /// The span's W3C trace flags: sampled and, for a trace id known to be
    /// random, random ([`TraceFlags::DEFINED`]; reserved bits are not kept).
    pub trace_flags: TraceFlags,
}

impl ActiveSpan {
    /// Whether the span is sampled (recorded and exported).
    pub fn is_sampled(&self) -> bool {
        self.trace_flags.is_sampled()
    }
}

impl ActiveSpan {
    /// No span: invalid ids, not sampled ([`current`] reports it as `None`).
    pub const NONE: ActiveSpan = ActiveSpan {
        trace_id: TraceId::from_bytes([0; 16]),
        span_id: SpanId::from_bytes([0; 8]),
        trace_flags: TraceFlags::NONE,
    };
}

impl From<&SpanContext> for ActiveSpan {
    fn from(context: &SpanContext) -> Self {
        ActiveSpan {
            trace_id: context.trace_id,
            span_id: context.span_id,
            trace_flags: TraceFlags::new(context.trace_flags.bits() & TraceFlags::DEFINED.bits()),
        }
    }
}

thread_local! {
    static STACK: RefCell<Vec<ActiveSpan>> = const { RefCell::new(Vec::new()) };
    /// How many spans are entered: [`current`] outside any span (the common
    /// case of a measurement) reads this one word, not the stack.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Makes `span` the thread's active span until the matching [`exit`].
pub fn enter(span: ActiveSpan) {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        stack.push(span);
        let _ = DEPTH.try_with(|depth| depth.set(stack.len()));
    });
}

/// Enters the thread's active span again (or nothing), so that a front door
/// that calls [`exit`] for every span it enters can enter spans it does not
/// record without changing what is active.
pub fn enter_current() {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        let current = stack.last().copied();
        stack.push(current.unwrap_or(ActiveSpan::NONE));
        let _ = DEPTH.try_with(|depth| depth.set(stack.len()));
    });
}

/// Ends the innermost [`enter`] on this thread (nothing if none).
pub fn exit() {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        stack.pop();
        let _ = DEPTH.try_with(|depth| depth.set(stack.len()));
    });
}

/// The thread's active span, if any.
#[inline]
pub fn current() -> Option<ActiveSpan> {
    if DEPTH.try_with(Cell::get).unwrap_or(0) == 0 {
        return None;
    }
    STACK
        .try_with(|stack| stack.borrow().last().copied())
        .ok()
        .flatten()
        .filter(|span| *span != ActiveSpan::NONE)
}

/// Runs `f` with `context` as the thread's active span.
///
/// ```
/// use otlp_core::{SpanContext, SpanId, TraceFlags, TraceId};
/// use otlp_sdk::active_span;
///
/// let context = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
/// let inside = active_span::in_span(&context, active_span::current);
/// assert_eq!(inside.map(|span| span.span_id), Some(context.span_id));
/// assert_eq!(active_span::current(), None);
/// ```
pub fn in_span<R>(context: &SpanContext, f: impl FnOnce() -> R) -> R {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            exit();
        }
    }
    enter(ActiveSpan::from(context));
    let _exit = Exit;
    f()
}
