//! [`stop_on_signals`]: the first SIGINT (Ctrl-C) or SIGTERM (`kill`, a
//! container stop) asks a run to stop and report; the second ends the
//! process at once, with 128 + its number ([`StopSignal::exit_status`]).
//!
//! The examples' own copy of what `otlp-loadgen` does: the two share only
//! otlp-contrib's public API, and this is no part of it.
//!
//! Cost: one thread, parked in a single-threaded tokio runtime until a
//! signal comes; the run reads one atomic where it may stop.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::output;

/// A signal that asks a run to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: `kill`'s default, and what a container stop or a service
    /// manager sends first.
    Terminate,
}

impl StopSignal {
    /// The exit status of a run this signal stopped: 128 + its number, as a
    /// shell reports a program killed by it (130 for SIGINT, 143 for SIGTERM).
    pub const fn exit_status(self) -> u8 {
        128 + self.number()
    }

    /// The signal's number on Unix (and the C runtime's elsewhere).
    const fn number(self) -> u8 {
        match self {
            StopSignal::Interrupt => 2,
            StopSignal::Terminate => 15,
        }
    }
}

/// `SIGINT (Ctrl-C)` or `SIGTERM`, as the examples' reports name them.
impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT (Ctrl-C)",
            StopSignal::Terminate => "SIGTERM",
        })
    }
}

/// Whether a run was asked to stop, and by which signal: the first request
/// counts, later ones are ignored. One atomic byte; never blocks.
#[derive(Debug, Default)]
pub struct StopRequest(AtomicU8);

impl StopRequest {
    /// Not asked to stop.
    pub const fn new() -> Self {
        StopRequest(AtomicU8::new(0))
    }

    /// Asks the run to stop, as `signal` does, unless it was asked already.
    pub fn request(&self, signal: StopSignal) {
        let _ = self
            .0
            .compare_exchange(0, signal.number(), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The signal that asked the run to stop, if one did.
    pub fn signal(&self) -> Option<StopSignal> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            2 => Some(StopSignal::Interrupt),
            _ => Some(StopSignal::Terminate),
        }
    }

    /// Whether the run was asked to stop.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }
}

/// Catches SIGINT and SIGTERM (Ctrl-C alone outside Unix) from now on: the
/// first asks the returned [`StopRequest`] to stop and says on stderr, after
/// `program`'s name, which signal came and that the run stops (and that a
/// second signal quits at once); the second exits the process with its
/// [`exit_status`](StopSignal::exit_status), printing nothing more.
///
/// On Unix the handlers are in place when this returns, so a signal that
/// comes after the call is caught. If they cannot be installed (no thread,
/// no runtime), a warning goes to stderr and the signals keep their default
/// effect: the request is never made.
pub fn stop_on_signals(program: &'static str) -> Arc<StopRequest> {
    let stop = Arc::new(StopRequest::new());
    let (installed, on_installed) = std::sync::mpsc::channel();
    let request = stop.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("{program}-signals"))
        .spawn(move || {
            let ready = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    let signals = {
                        let _entered = runtime.enter();
                        Signals::new()?
                    };
                    Ok((runtime, signals))
                });
            let (runtime, mut signals) = match ready {
                Ok(ready) => ready,
                Err(error) => {
                    let _ = installed.send(Err(error));
                    return;
                }
            };
            let _ = installed.send(Ok(()));
            runtime.block_on(async {
                let first = signals.next().await;
                request.request(first);
                output::complain(
                    program,
                    &format_args!(
                        "interrupted by {first}: stopping, then shutting down within the usual \
                         deadlines and reporting ({SECOND} again to quit at once)"
                    ),
                );
                let second = signals.next().await;
                std::process::exit(i32::from(second.exit_status()));
            });
        });
    let installed = match spawned {
        // A thread that ends without a word failed to set up.
        Ok(_) => on_installed
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread ended"))),
        Err(error) => Err(error),
    };
    if let Err(error) = installed {
        output::complain(
            program,
            &format!("warning: {SECOND} will end the run without a report: {error}"),
        );
    }
    stop
}

/// The signals [`stop_on_signals`] catches, as its messages name them.
#[cfg(unix)]
const SECOND: &str = "Ctrl-C or SIGTERM";
#[cfg(not(unix))]
const SECOND: &str = "Ctrl-C";

/// SIGINT and SIGTERM, listened to from [`Signals::new`] on.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal. A stream that can bring none any more (its driver
    /// gone) waits for the other; with both gone, none will come.
    async fn next(&mut self) -> StopSignal {
        tokio::select! {
            Some(()) = self.interrupt.recv() => StopSignal::Interrupt,
            Some(()) = self.terminate.recv() => StopSignal::Terminate,
            else => std::future::pending().await,
        }
    }
}

/// Ctrl-C, listened to from the first [`Signals::next`] on.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) -> StopSignal {
        if tokio::signal::ctrl_c().await.is_err() {
            // No Ctrl-C can be listened to: none will come.
            std::future::pending::<()>().await;
        }
        StopSignal::Interrupt
    }
}
