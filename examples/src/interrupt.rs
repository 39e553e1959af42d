//! [`stop_on_ctrl_c`]: the first Ctrl-C (SIGINT) asks a run to stop and
//! report; the second ends the process at once, with [`EXIT_INTERRUPTED`].
//!
//! Cost: one thread, parked in a single-threaded tokio runtime until a
//! signal comes; the run reads one atomic flag where it may stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::output;

/// The exit status of a run stopped by Ctrl-C: 128 + SIGINT, as a shell
/// reports a program killed by it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Catches Ctrl-C from now on: the first sets the returned flag and says on
/// stderr, after `program`'s name, that the run stops (and that a second
/// Ctrl-C quits at once); the second exits the process with
/// [`EXIT_INTERRUPTED`], printing nothing more.
///
/// On Unix the handler is in place when this returns, so a Ctrl-C that
/// comes after the call is caught. If it cannot be installed (no thread, no
/// runtime), a warning goes to stderr and Ctrl-C keeps its default effect:
/// the flag is never set.
pub fn stop_on_ctrl_c(program: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let (installed, on_installed) = std::sync::mpsc::channel();
    let flag = stop.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("{program}-ctrl-c"))
        .spawn(move || {
            let ready = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    let interrupts = {
                        let _entered = runtime.enter();
                        Interrupts::new()?
                    };
                    Ok((runtime, interrupts))
                });
            let (runtime, mut interrupts) = match ready {
                Ok(ready) => ready,
                Err(error) => {
                    let _ = installed.send(Err(error));
                    return;
                }
            };
            let _ = installed.send(Ok(()));
            runtime.block_on(async {
                interrupts.next().await;
                flag.store(true, Ordering::SeqCst);
                output::complain(
                    program,
                    &"interrupted: stopping, then shutting down within the usual deadlines \
                      and reporting (Ctrl-C again to quit at once)",
                );
                interrupts.next().await;
                std::process::exit(i32::from(EXIT_INTERRUPTED));
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
            &format!("warning: Ctrl-C will end the run without a report: {error}"),
        );
    }
    stop
}

/// SIGINT, listened to from [`Interrupts::new`] on.
#[cfg(unix)]
struct Interrupts(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Interrupts {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::interrupt()).map(Interrupts)
    }

    async fn next(&mut self) {
        if self.0.recv().await.is_none() {
            // No signal can come any more: none will.
            std::future::pending::<()>().await;
        }
    }
}

/// Ctrl-C, listened to from the first [`Interrupts::next`] on.
#[cfg(not(unix))]
struct Interrupts;

#[cfg(not(unix))]
impl Interrupts {
    fn new() -> std::io::Result<Self> {
        Ok(Interrupts)
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
