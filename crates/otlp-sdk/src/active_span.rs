//! The thread's active span, for what records inside it without being given
//! it: metric exemplars ([`crate::metrics`]) and log records emitted without
//! ids ([`Logger::emit`](crate::Logger::emit)).
//!
//! Spans of this crate are not entered (they are values passed around); the
//! front door that has a notion of "current span" — the `tracing` layer of
//! `otlp-contrib`, on entering and exiting a span — keeps this stack. Code
//! that holds a [`SpanContext`] can do the same with [`enter`] and [`exit`]
//! or [`in_span`]. Cost: a thread-local push or pop; the stack's storage is
//! kept for the thread's next span.
//!
//! Spans are not always exited in the order they were entered: `tracing`
//! guards may be dropped out of order, and a front door that knows which
//! span exits says so with a key: [`enter_keyed`] (or
//! [`enter_current_keyed`]) and [`exit_keyed`] remove that span's entry
//! wherever it is on the stack, so what stays active is the innermost span
//! still entered. In order, that is a pop; out of order, a scan from the
//! top of the (short) stack. [`exit`] pops whatever is on top.

use std::cell::{Cell, RefCell};
use std::num::NonZeroU64;

use otlp_core::{LogRecord, SpanContext, SpanId, TraceFlags, TraceId};

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
            trace_flags: context.trace_flags.defined(),
        }
    }
}

/// One [`enter`] on a thread's stack: the span, and the key it was entered
/// with (`None` for [`enter`] and [`enter_current`]).
#[derive(Clone, Copy)]
struct Entry {
    key: Option<NonZeroU64>,
    span: ActiveSpan,
}

thread_local! {
    static STACK: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    /// How many spans are entered: [`current`] outside any span (the common
    /// case of a measurement) reads this one word, not the stack.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Makes `span` the thread's active span until the matching [`exit`].
pub fn enter(span: ActiveSpan) {
    push(None, Some(span));
}

/// Makes `span` the thread's active span until [`exit_keyed`] with the same
/// `key`, whatever was entered or exited in between. The key names this
/// enter among those of the thread still open (a `tracing` span's id, say);
/// the same key entered twice is exited twice.
pub fn enter_keyed(key: NonZeroU64, span: ActiveSpan) {
    push(Some(key), Some(span));
}

/// Enters the thread's active span again (or nothing), so that a front door
/// that calls [`exit`] for every span it enters can enter spans it does not
/// record without changing what is active.
pub fn enter_current() {
    push(None, None);
}

/// [`enter_current`], to be ended by [`exit_keyed`] with the same `key`.
pub fn enter_current_keyed(key: NonZeroU64) {
    push(Some(key), None);
}

/// Pushes `span`, or (`None`) the active span again.
fn push(key: Option<NonZeroU64>, span: Option<ActiveSpan>) {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        let span =
            span.unwrap_or_else(|| stack.last().map_or(ActiveSpan::NONE, |entry| entry.span));
        stack.push(Entry { key, span });
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

/// Ends the innermost [`enter_keyed`] (or [`enter_current_keyed`]) with
/// `key` on this thread, wherever it is on the stack: spans entered after
/// it and still open stay active. Nothing if no entry has that key. The
/// common case, the innermost entry, is a pop.
pub fn exit_keyed(key: NonZeroU64) {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        let key = Some(key);
        match stack.last() {
            Some(top) if top.key == key => {
                stack.pop();
            }
            _ => {
                let Some(at) = stack.iter().rposition(|entry| entry.key == key) else {
                    return;
                };
                stack.remove(at);
            }
        }
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
        .try_with(|stack| stack.borrow().last().map(|entry| entry.span))
        .ok()
        .flatten()
        .filter(|span| *span != ActiveSpan::NONE)
}

/// Gives `record`, when it names neither a trace nor a span, the ids and
/// trace flags of the thread's active span, if any: what
/// [`Logger::emit`](crate::Logger::emit) does for a record emitted without
/// ids, for other front doors to do the same. A record with ids of its own
/// keeps them.
///
/// ```
/// use otlp_core::{LogRecord, SpanContext, SpanId, TraceFlags, TraceId};
/// use otlp_sdk::active_span;
///
/// let context = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
/// let mut record = LogRecord::builder().body("inside").build();
/// active_span::in_span(&context, || active_span::correlate(&mut record));
/// assert_eq!(record.span_id, Some(context.span_id));
/// assert_eq!(record.flags, u32::from(TraceFlags::SAMPLED.bits()));
/// ```
#[inline]
pub fn correlate(record: &mut LogRecord) {
    if record.trace_id.is_none()
        && record.span_id.is_none()
        && let Some(active) = current()
    {
        record.trace_id = Some(active.trace_id);
        record.span_id = Some(active.span_id);
        record.flags = u32::from(active.trace_flags.bits());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn span(n: u8) -> ActiveSpan {
        ActiveSpan {
            trace_id: TraceId::from_bytes([1; 16]),
            span_id: SpanId::from_bytes([n; 8]),
            trace_flags: TraceFlags::SAMPLED,
        }
    }

    fn key(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).expect("not zero")
    }

    #[test]
    fn keyed_exits_out_of_order_leave_the_innermost_open_span_active() {
        enter_keyed(key(1), span(1));
        enter_keyed(key(2), span(2));
        enter_current_keyed(key(3));
        assert_eq!(current(), Some(span(2)));
        // The outer span exits first: the inner ones stay active.
        exit_keyed(key(1));
        assert_eq!(current(), Some(span(2)));
        exit_keyed(key(2));
        assert_eq!(current(), Some(span(2)), "the copy entered for key 3 stays");
        // A key never entered (or already exited) changes nothing.
        exit_keyed(key(2));
        assert_eq!(current(), Some(span(2)));
        exit_keyed(key(3));
        assert_eq!(current(), None);
    }

    #[test]
    fn keyed_exits_in_order_and_reentered_keys_pop() {
        enter_keyed(key(7), span(1));
        enter_keyed(key(8), span(2));
        enter_keyed(key(8), span(2));
        exit_keyed(key(8));
        assert_eq!(current(), Some(span(2)));
        exit_keyed(key(8));
        assert_eq!(current(), Some(span(1)));
        exit_keyed(key(7));
        assert_eq!(current(), None);
        STACK.with(|stack| assert!(stack.borrow().is_empty()));
    }
}
