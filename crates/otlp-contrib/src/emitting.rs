//! What a log record's processors record while they handle it stays out of
//! the log front doors.
//!
//! A log processor (a [`LogProcessor`](otlp_sdk::LogProcessor) given to the
//! provider, asked [`enabled`](otlp_sdk::LogProcessor::enabled) and given
//! the record in [`on_emit`](otlp_sdk::LogProcessor::on_emit)) is the
//! program's code, and it may log what it does: a record it filters out, a
//! sink that fails. Through a front door of this crate, each record it is
//! handed would make one more, handed to it in turn: a recursion without
//! end, until the thread's stack overflows. `tracing` drops nested events
//! itself under a subscriber set per thread or scope (`with_default`), but
//! not under a global one (`set_global_default`, `.init()`), and `log` never
//! does.
//!
//! So `tracing::OtlpLogLayer`, `log_bridge::OtlpLogger` and
//! `bridge::OtlpLogProcessor` mark the thread while they ask their
//! processors about a record and while they hand it to them (and
//! `OtlpLogger` while `log::logger().flush()` flushes them), and leave
//! alone what is recorded there meanwhile: it reaches the other layers and
//! loggers, not these front doors. The first two build the record between
//! the two, unmarked: what the program's own code records while its values
//! are formatted (a `Debug` field, a `Display` argument that logs) is the
//! program's telemetry, reaches no processor that is running, and is
//! recorded. Except for one case `tracing` itself settles: an event made
//! while a `tracing` event is dispatched (a `Debug` field that records
//! through `tracing`) reaches no layer as soon as any thread of the process
//! has a dispatcher of its own, as a pipeline's threads have once the
//! program sets a subscriber (`otlp_sdk::own_threads`). Cost: a
//! thread-local read per record and two writes around each call to the
//! processors.

use std::cell::Cell;

thread_local! {
    /// Whether this thread is inside a log front door's call to its processors.
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is inside a log front door's call to its
/// processors (see [`emitting`]): a record made now is left alone.
pub(crate) fn is_emitting() -> bool {
    EMITTING.try_with(Cell::get).unwrap_or(false)
}

/// Runs `handle` (a front door's call to its processors about one record:
/// asked whether they take it, or given it) with the thread marked as
/// inside it, until it returns or unwinds; puts back what was there.
pub(crate) fn emitting<R>(handle: impl FnOnce() -> R) -> R {
    /// Puts the mark back as it was, on return or unwinding.
    struct Restore(bool);

    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = EMITTING.try_with(|emitting| emitting.set(self.0));
        }
    }

    let _restore = Restore(
        EMITTING
            .try_with(|emitting| emitting.replace(true))
            .unwrap_or(false),
    );
    handle()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_holds_while_a_record_is_handled_and_is_put_back_after() {
        assert!(!is_emitting());
        let nested = emitting(|| (is_emitting(), emitting(is_emitting), is_emitting()));
        assert_eq!(nested, (true, true, true));
        assert!(!is_emitting());
        let unwound = std::panic::catch_unwind(|| emitting(|| panic!("a processor panics")));
        assert!(unwound.is_err());
        assert!(!is_emitting(), "put back when unwinding");
    }
}
