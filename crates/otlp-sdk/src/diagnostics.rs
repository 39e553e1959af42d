//! [`LossReport`]: a pipeline that loses records says so, unasked; and
//! [`Warning`]s: what the SDK did instead of what it was asked.
//!
//! [`StatsSnapshot`](crate::StatsSnapshot) counts every record, but only a
//! program that reads it learns anything: a wrong endpoint, a token the
//! backend refuses or a queue that overflows would otherwise lose every
//! record without a word. So each pipeline (a batch pipeline of spans or
//! log records, a metrics reader) compares its loss counters with what it
//! last reported and hands any increase to the process's *loss handler*:
//!
//! - when its thread first sees a loss (a batch pipeline's export loop on
//!   its next turn, a reader after the export that lost data points), and
//!   then at most once every [`REPORT_INTERVAL`] while losses go on;
//! - once more when it shuts down, before its `shutdown` returns, with
//!   whatever was not reported yet (shutdown's own drops and failures
//!   included), so that the reports of a pipeline add up to its counts
//!   at shutdown.
//!
//! A metrics reader's losses are data points that failed or were rejected
//! ([`MetricsStats`](crate::metrics::MetricsStats)); the other reasons are
//! the batch pipelines'.
//!
//! The default handler writes one line to standard error, as the other
//! OpenTelemetry SDKs log what they cannot export:
//!
//! ```text
//! otlp-rust: the traces pipeline lost 512 spans: 512 failed (last error: server answered HTTP 401 Unauthorized: ...)
//! ```
//!
//! [`set_loss_handler`] replaces it for the whole process: to send reports
//! to the program's own logging or alerting, or to drop them
//! (`set_loss_handler(|_| {})`). Writing to standard error never panics, even
//! when it is closed.
//!
//! # `OTEL_LOG_LEVEL`
//!
//! The specification's "log level used by the SDK internal logger" governs
//! the default handlers (a handler set with [`set_loss_handler`] or
//! [`set_warning_handler`] gets everything, whatever the level). A loss
//! report is an error: the levels `error`, `warn` (or `warning`), `info`
//! (the default), `debug`, `trace`, `verbose` and `all` print it; `none` and
//! `off` silence it. A [`Warning`] is printed from `warn` on. Any case,
//! blanks trimmed; an empty value is the default. The variable is read once,
//! at the first report or warning. A value it does not know is not an
//! error: the default handler says so once, on standard error, and keeps
//! the default (`info`), so that a typo never hides losses.
//!
//! # Warnings
//!
//! Some calls ask for what the SDK cannot do as asked, and the specification
//! says it proceeds, and warns: an instrument registered again with another
//! description, unit or kind (both are exported), advised histogram
//! boundaries that are not valid (the default ones are used), a view that
//! asks an instrument for an aggregation it cannot have (the view is
//! ignored for it), an instrument name that is not valid (it records
//! nothing); and a span or log record that goes over its limits (what did
//! not fit is discarded, and counted in the record's `dropped_*_count`
//! fields: said once per process, whatever the number of records); a
//! logger asked for with an empty name (it works all the same, its scope
//! named `""`); a durable queue whose appends start failing (a full disk:
//! batches then go to the backend from memory, not kept on disk; the
//! warning names the error and its file); and, from `otlp-contrib`'s file
//! exporter, a file that could not be synced to disk at shutdown or rotated
//! ([`warn`] is public for exporters outside this crate).
//! [`MetricsStats`](crate::metrics::MetricsStats) counts the metrics ones; each
//! distinct one is also given once to the process's *warning handler*, on
//! the thread whose call warns: by default a line on standard error
//! (`otlp-rust: warning: metrics: …`), and [`set_warning_handler`] replaces
//! it.
//!
//! # Where the handler runs
//!
//! On the pipeline's own thread (a batch pipeline's export loop, a metrics
//! reader's thread), between two turns of its work: a slow handler delays
//! exports, so hand the report over (a channel, a counter) rather than
//! doing I/O that can block. That thread records nothing (see
//! [`own_threads`](crate::own_threads)): a `tracing` event made in the
//! handler reaches no subscriber, and a `log` record (or a `metrics`
//! measurement, through `otlp-contrib`'s recorder) reaches no pipeline of
//! this project (the program's own `log` logger still gets it), so that
//! the pipeline never records itself. A handler that wants its report in
//! the program's `tracing` output sends it to a thread of the program that
//! logs it.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use otlp_core::printable::Printable;

use crate::Signal;
use crate::deadline::later;

/// The least time between two reports of one pipeline while losses go on
/// (the first loss is reported at once, and shutdown reports the rest).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Records a pipeline lost since its previous report, by reason; the fields
/// are those of [`StatsSnapshot`](crate::StatsSnapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Losses {
    /// Exports that failed: a permanent error, retries exhausted, or still
    /// in flight at the shutdown deadline.
    pub failed: u64,
    /// Records the backend rejected through a partial success.
    pub rejected: u64,
    /// Dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Dropped because a single record is larger than a request or the queue may be.
    pub dropped_oversized: u64,
    /// Dropped because they came after shutdown or were still queued at its deadline.
    pub dropped_shutdown: u64,
    /// Dropped by the durable queue: evicted at its disk cap, or damaged on disk.
    pub dropped_durable: u64,
}

impl Losses {
    /// Every record lost, whatever the reason.
    pub fn total(&self) -> u64 {
        self.failed
            + self.rejected
            + self.dropped_queue_full
            + self.dropped_oversized
            + self.dropped_shutdown
            + self.dropped_durable
    }

    /// What `self` (counts now) holds beyond `earlier` (counts then).
    pub(crate) fn since(&self, earlier: &Losses) -> Losses {
        Losses {
            failed: self.failed.saturating_sub(earlier.failed),
            rejected: self.rejected.saturating_sub(earlier.rejected),
            dropped_queue_full: self
                .dropped_queue_full
                .saturating_sub(earlier.dropped_queue_full),
            dropped_oversized: self
                .dropped_oversized
                .saturating_sub(earlier.dropped_oversized),
            dropped_shutdown: self
                .dropped_shutdown
                .saturating_sub(earlier.dropped_shutdown),
            dropped_durable: self.dropped_durable.saturating_sub(earlier.dropped_durable),
        }
    }
}

/// What one pipeline lost since its previous report; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LossReport {
    /// The pipeline's signal: what its records are.
    pub signal: Signal,
    /// Lost since the pipeline's previous report, by reason.
    pub lost: Losses,
    /// The pipeline's most recent export error, if any
    /// ([`StatsSnapshot::last_error`](crate::StatsSnapshot::last_error)).
    pub last_error: Option<String>,
}

impl fmt::Display for LossReport {
    /// `the traces pipeline lost 3 spans: 2 failed, 1 dropped (queue full) (last error: …)`
    ///
    /// One line whatever the last error holds: it often quotes a server
    /// (or an exporter written elsewhere), so its control characters, line
    /// separators and bidirectional formatting characters are written
    /// escaped (`\u{1b}`, `\u{202e}`), and cannot rewrite a terminal, fake
    /// a line or reorder the rest of it. [`last_error`](Self::last_error)
    /// itself is as the exporter gave it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.lost.total();
        let noun = self.signal.record_noun();
        let plural = if total == 1 { "" } else { "s" };
        write!(
            f,
            "the {} pipeline lost {total} {noun}{plural}:",
            self.signal
        )?;
        let reasons = [
            (self.lost.failed, "failed"),
            (self.lost.rejected, "rejected by the backend"),
            (self.lost.dropped_queue_full, "dropped (queue full)"),
            (self.lost.dropped_oversized, "dropped (too large)"),
            (self.lost.dropped_shutdown, "dropped (shutdown)"),
            (self.lost.dropped_durable, "dropped (durable queue)"),
        ];
        let mut first = true;
        for (count, reason) in reasons.into_iter().filter(|(count, _)| *count > 0) {
            let comma = if first { "" } else { "," };
            write!(f, "{comma} {count} {reason}")?;
            first = false;
        }
        if let Some(error) = &self.last_error {
            write!(f, " (last error: {})", Printable(error))?;
        }
        Ok(())
    }
}

/// One pipeline's reporting: what it reported last, and when it may again.
#[derive(Debug, Default)]
pub(crate) struct LossReporter {
    /// The loss counts last reported.
    reported: Losses,
    /// No report before this (none yet: at the first loss).
    next_report: Option<Instant>,
}

impl LossReporter {
    /// Tells the process's handler what `signal`'s pipeline lost since its
    /// last report, given its counts now (`losses`): at the first loss,
    /// then at most every [`REPORT_INTERVAL`], and whatever is left when
    /// `finishing`.
    pub(crate) fn report(
        &mut self,
        signal: Signal,
        losses: Losses,
        last_error: impl FnOnce() -> Option<String>,
        finishing: bool,
    ) {
        let lost = losses.since(&self.reported);
        if lost.total() == 0 {
            return;
        }
        let now = Instant::now();
        if !finishing && self.next_report.is_some_and(|at| now < at) {
            return;
        }
        self.reported = losses;
        self.next_report = Some(later(now, REPORT_INTERVAL));
        report(&LossReport {
            signal,
            lost,
            last_error: last_error(),
        });
    }
}

/// What the process does with a [`LossReport`].
type Handler = Arc<dyn Fn(&LossReport) + Send + Sync>;

/// The process's handler; `None`: the default, a line on standard error.
static HANDLER: RwLock<Option<Handler>> = RwLock::new(None);

/// Makes `handler` receive every pipeline's [`LossReport`]s from now on,
/// in place of the default line on standard error (or of the handler set
/// before). It runs on a pipeline's own thread; see the [module docs](self).
///
/// ```
/// use std::sync::mpsc;
///
/// let (reports, received) = mpsc::channel();
/// otlp_sdk::diagnostics::set_loss_handler(move |report| {
///     let _ = reports.send(report.to_string());
/// });
/// # drop(received);
/// ```
pub fn set_loss_handler(handler: impl Fn(&LossReport) + Send + Sync + 'static) {
    *HANDLER.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(handler));
}

/// Hands `report` to the process's handler.
fn report(report: &LossReport) {
    let handler = HANDLER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match handler {
        Some(handler) => {
            // A handler that panics must not take the pipeline's loop down
            // with it: the report is lost, the pipeline goes on.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| handler(report)));
        }
        None => {
            if default_handler_prints() {
                // Not `eprintln!`: it panics when standard error is closed.
                let _ = writeln!(std::io::stderr().lock(), "otlp-rust: {report}");
            }
        }
    }
}

/// The variable whose level governs the default handlers.
const LOG_LEVEL_VARIABLE: &str = "OTEL_LOG_LEVEL";

/// What the default handlers print, by `OTEL_LOG_LEVEL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verbosity {
    /// `none`, `off`: nothing.
    Silent,
    /// `error`: loss reports.
    Errors,
    /// `warn` and every more verbose level (the default, `info`): loss
    /// reports and warnings.
    Warnings,
}

/// What the default handlers print, as `OTEL_LOG_LEVEL` says: read once,
/// at the first report or warning (see the [module docs](self)).
fn default_verbosity() -> Verbosity {
    static VERBOSITY: OnceLock<Verbosity> = OnceLock::new();
    *VERBOSITY.get_or_init(|| {
        let value = std::env::var_os(LOG_LEVEL_VARIABLE);
        let value = value.as_ref().map(|value| value.to_string_lossy());
        verbosity(value.as_deref()).unwrap_or_else(|unknown| {
            let _ = writeln!(std::io::stderr().lock(), "otlp-rust: {unknown}");
            Verbosity::Warnings
        })
    })
}

/// Whether the default handler prints loss reports.
fn default_handler_prints() -> bool {
    default_verbosity() >= Verbosity::Errors
}

/// What the level `value` of `OTEL_LOG_LEVEL` (`None`: unset) shows; `Err`
/// says why a value is not a level.
fn verbosity(value: Option<&str>) -> Result<Verbosity, String> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
        return Ok(Verbosity::Warnings);
    };
    const SILENT: &[&str] = &["none", "off"];
    const ERRORS: &[&str] = &["error"];
    const WARNINGS: &[&str] = &[
        "warn", "warning", "info", "debug", "trace", "verbose", "all",
    ];
    let is = |names: &[&str]| names.iter().any(|name| value.eq_ignore_ascii_case(name));
    if is(SILENT) {
        Ok(Verbosity::Silent)
    } else if is(ERRORS) {
        Ok(Verbosity::Errors)
    } else if is(WARNINGS) {
        Ok(Verbosity::Warnings)
    } else {
        Err(format!(
            "{LOG_LEVEL_VARIABLE}={value:?} is not a log level (expected none, off, error, \
             warn, info, debug, trace, verbose or all); losses and warnings are reported as \
             at the default level, info"
        ))
    }
}

/// Something the SDK was asked to do and did otherwise, said once; see the
/// [module docs](self#warnings).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// The part of the SDK that warns: `"metrics"`.
    pub source: &'static str,
    /// What was asked, and what the SDK did instead.
    pub message: String,
}

impl fmt::Display for Warning {
    /// `metrics: instrument "requests" of meter "shop" registered again with …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// What the process does with a [`Warning`].
type WarningHandler = Arc<dyn Fn(&Warning) + Send + Sync>;

/// The process's warning handler; `None`: the default, a line on standard
/// error.
static WARNING_HANDLER: RwLock<Option<WarningHandler>> = RwLock::new(None);

/// Distinct warnings remembered, so that each is given once; past this many,
/// new ones are given as they come.
const REMEMBERED_WARNINGS: usize = 1024;

/// Makes `handler` receive the SDK's [`Warning`]s from now on, in place of
/// the default line on standard error (or of the handler set before). It
/// runs on the thread whose call warns (the one creating an instrument);
/// see the [module docs](self#warnings).
///
/// ```
/// use std::sync::mpsc;
///
/// let (warnings, received) = mpsc::channel();
/// otlp_sdk::diagnostics::set_warning_handler(move |warning| {
///     let _ = warnings.send(warning.to_string());
/// });
/// # drop(received);
/// ```
pub fn set_warning_handler(handler: impl Fn(&Warning) + Send + Sync + 'static) {
    *WARNING_HANDLER
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(handler));
}

/// Says, once per process and signal, that a tracer (`Signal::Traces`),
/// logger (`Logs`) or meter (`Metrics`) was asked for with an empty name
/// (the specification: a working one is returned, keeping the invalid name,
/// and a message SHOULD be logged). After the first, a call costs one
/// atomic load. Cold.
#[cold]
#[inline(never)]
pub(crate) fn empty_scope_name(signal: Signal) {
    static SAID: [AtomicBool; 3] = [const { AtomicBool::new(false) }; 3];
    let (said, what, records) = match signal {
        Signal::Traces => (&SAID[0], "tracer", "spans"),
        Signal::Logs => (&SAID[1], "logger", "records"),
        Signal::Metrics => (&SAID[2], "meter", "metrics"),
    };
    warn_once(said, signal.as_str(), || {
        format!(
            "a {what} was asked for with an empty name, which is not a valid instrumentation \
             scope name: it works, and its {records} carry a scope named \"\"; name the library \
             or module that emits them"
        )
    });
}

/// Gives the warning `message` makes to the warning handler the first time
/// `said` is passed here only: a caller that would warn on every record
/// pays one atomic load after that.
pub(crate) fn warn_once(said: &AtomicBool, source: &'static str, message: impl FnOnce() -> String) {
    if !said.load(Ordering::Relaxed) && !said.swap(true, Ordering::Relaxed) {
        warn(source, message());
    }
}

/// Gives the warning `message` from `source` to the process's warning
/// handler (by default a line on standard error), unless the same message
/// was given before. Call it outside any lock a handler could need (it may
/// create instruments, say).
///
/// For exporters and other parts of the project outside this crate with
/// something to say that no return value carries: `otlp-contrib`'s file
/// exporter says so when its file could not be synced to disk at shutdown
/// (`Exporter::shutdown` returns nothing).
///
/// ```
/// otlp_sdk::diagnostics::warn("file exporter", "cannot sync traces.jsonl to disk".to_owned());
/// ```
pub fn warn(source: &'static str, message: String) {
    static GIVEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    {
        let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
        let given = given.get_or_insert_with(HashSet::new);
        if given.contains(&message) {
            return;
        }
        if given.len() < REMEMBERED_WARNINGS {
            given.insert(message.clone());
        }
    }
    let warning = Warning { source, message };
    let handler = WARNING_HANDLER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match handler {
        // A handler that panics must not take the caller down with it.
        Some(handler) => {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| handler(&warning)));
        }
        None => {
            if default_verbosity() >= Verbosity::Warnings {
                let _ = writeln!(std::io::stderr().lock(), "otlp-rust: warning: {warning}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_its_pipeline_every_reason_and_the_last_error() {
        let report = LossReport {
            signal: Signal::Logs,
            lost: Losses {
                failed: 2,
                dropped_queue_full: 1,
                ..Losses::default()
            },
            last_error: Some("server answered HTTP 401 Unauthorized".into()),
        };
        assert_eq!(
            report.to_string(),
            "the logs pipeline lost 3 log records: 2 failed, 1 dropped (queue full) \
             (last error: server answered HTTP 401 Unauthorized)"
        );
        let one = LossReport {
            signal: Signal::Traces,
            lost: Losses {
                rejected: 1,
                ..Losses::default()
            },
            last_error: None,
        };
        assert_eq!(
            one.to_string(),
            "the traces pipeline lost 1 span: 1 rejected by the backend"
        );
    }

    #[test]
    fn a_hostile_last_error_is_printed_on_one_line_escaped() {
        // The last error quotes the server: an escape, a newline with a
        // forged report after it, a right-to-left override.
        let report = LossReport {
            signal: Signal::Traces,
            lost: Losses {
                failed: 1,
                ..Losses::default()
            },
            last_error: Some("bad\u{1b}[2J\notlp-rust: all delivered \u{202e}tuo\u{2028}ok".into()),
        };
        let shown = report.to_string();
        assert_eq!(
            shown,
            "the traces pipeline lost 1 span: 1 failed (last error: \
             bad\\u{1b}[2J\\notlp-rust: all delivered \\u{202e}tuo\\u{2028}ok)"
        );
        assert_eq!(shown.lines().count(), 1);
    }

    #[test]
    fn otel_log_level_none_or_off_silences_loss_reports_and_a_typo_keeps_them() {
        for silent in ["none", "off", " NONE ", "Off"] {
            assert_eq!(verbosity(Some(silent)), Ok(Verbosity::Silent), "{silent}");
        }
        assert_eq!(verbosity(Some("ERROR")), Ok(Verbosity::Errors));
        for shown in [
            "WARN", "warning", "info", "debug", "trace", "verbose", "all",
        ] {
            assert_eq!(verbosity(Some(shown)), Ok(Verbosity::Warnings), "{shown}");
        }
        for unset in [None, Some(""), Some("  ")] {
            assert_eq!(verbosity(unset), Ok(Verbosity::Warnings), "{unset:?}");
        }
        let unknown = verbosity(Some("silent")).unwrap_err();
        assert!(
            unknown.starts_with("OTEL_LOG_LEVEL=\"silent\" is not a log level"),
            "{unknown}"
        );
    }

    #[test]
    fn losses_since_an_earlier_count_are_the_increase_per_reason() {
        let then = Losses {
            failed: 5,
            dropped_shutdown: 1,
            ..Losses::default()
        };
        let now = Losses {
            failed: 7,
            dropped_shutdown: 1,
            dropped_durable: 4,
            ..Losses::default()
        };
        let lost = now.since(&then);
        assert_eq!(lost.failed, 2);
        assert_eq!(lost.dropped_shutdown, 0);
        assert_eq!(lost.dropped_durable, 4);
        assert_eq!(lost.total(), 6);
    }
}
