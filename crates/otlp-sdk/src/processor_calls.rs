//! What a processor records while it is called stays out of the front doors.
//!
//! A processor (a [`LogProcessor`](crate::LogProcessor) or
//! [`SpanProcessor`](crate::SpanProcessor) given to a provider) may be the
//! program's own code, and it may log what it does: a record it filters
//! out, a sink that fails, a flush that takes long. Through a front door on
//! the same provider (`otlp-contrib`'s `OtlpLogLayer`, `OtlpLogger`,
//! `OtlpLayer`), what it logs while it handles a record would be handed to
//! it in turn, one more record per record, without end until the thread's
//! stack overflows; and what it logs while it flushes or shuts down would be
//! handed to it in the middle of that, where it may wait for a lock the
//! flush holds. `tracing` drops nested events itself under a subscriber set
//! per thread or scope (`with_default`), but not under a global one, and
//! `log` never does.
//!
//! So this crate marks the thread while it calls processors ([`run`]):
//! [`Logger::enabled_for`](crate::Logger::enabled_for) and
//! [`Logger::emit`](crate::Logger::emit) while they ask and give the log
//! processors, and the providers'
//! [`force_flush`](crate::LoggerProvider::force_flush) and
//! [`shutdown`](crate::LoggerProvider::shutdown) (of both signals) while
//! each processor flushes or shuts down, on whichever thread runs it, also
//! when the program calls them itself. Front doors ask [`in_progress`] and
//! leave alone what is recorded meanwhile: it reaches the program's other
//! layers and loggers, not a pipeline. A front door that calls processors
//! itself (the `opentelemetry` bridge's log processor) marks the thread with
//! [`run`] too. Spans' `on_start` and `on_end` are not marked: a span
//! processor's record goes to another signal's processors, and the marks
//! would cost every span two thread-local writes.
//!
//! The native API itself does not ask: a processor that forwards records to
//! another provider's [`Logger`](crate::Logger) works as ever.
//!
//! Cost: two thread-local writes around each call to the processors, a
//! thread-local read per record in a front door.

use std::cell::Cell;

thread_local! {
    /// Whether this thread is inside a call to processors (see [`run`]).
    static IN_PROGRESS: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is inside a call to processors (see
/// [`run`]): a front door leaves alone what is recorded now.
///
/// ```
/// use otlp_sdk::processor_calls;
///
/// assert!(!processor_calls::in_progress());
/// assert!(processor_calls::run(processor_calls::in_progress));
/// assert!(!processor_calls::in_progress());
/// ```
pub fn in_progress() -> bool {
    IN_PROGRESS.try_with(Cell::get).unwrap_or(false)
}

/// Runs `call` (a call to processors: asking them about a record, giving
/// them one, flushing or shutting them down) with the thread marked as
/// inside it ([`in_progress`] is true), until it returns or unwinds; then
/// puts back what was there, so that a call nested in another leaves the
/// outer one marked.
pub fn run<R>(call: impl FnOnce() -> R) -> R {
    /// Puts the mark back as it was, on return or unwinding.
    struct Restore(bool);

    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = IN_PROGRESS.try_with(|in_progress| in_progress.set(self.0));
        }
    }

    let _restore = Restore(
        IN_PROGRESS
            .try_with(|in_progress| in_progress.replace(true))
            .unwrap_or(false),
    );
    call()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_holds_during_a_call_and_is_put_back_after() {
        assert!(!in_progress());
        let nested = run(|| (in_progress(), run(in_progress), in_progress()));
        assert_eq!(nested, (true, true, true));
        assert!(!in_progress());
        let unwound = std::panic::catch_unwind(|| run(|| panic!("a processor panics")));
        assert!(unwound.is_err());
        assert!(!in_progress(), "put back when unwinding");
    }
}
