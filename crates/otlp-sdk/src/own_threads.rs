//! The pipeline's own threads record nothing.
//!
//! A pipeline's threads (its export loop, which by default also runs the
//! exports, its tokio runtime's workers when it has any, and its blocking
//! pool) run code that is itself instrumented: hyper, h2, tonic,
//! tower and rustls emit `tracing` spans and events. If a program's
//! subscriber recorded them and fed them back into the pipeline, every
//! export would make more telemetry to export: a loop that can swamp the
//! queue (a program sending 100,000 spans through `tracing-opentelemetry`
//! over gRPC lost up to 92 % of them to the exporter's own spans).
//!
//! So every such thread calls [`enter`] when it starts:
//!
//! - its `tracing` default dispatcher becomes a no-op (thread-local: the
//!   program's global subscriber still sees every other thread), once the
//!   program uses `tracing` (a dispatcher has been set, globally or on some
//!   thread): until then there is no subscriber to keep its events from,
//!   and setting one would tell `tracing` that one is in use, which stops
//!   `tracing`'s `log` feature from turning events into `log` records on
//!   every thread of the program (see [`enter`]);
//! - the hooks other crates registered with [`add_hook`] run — the
//!   `opentelemetry` bridge of `otlp-contrib` registers one that enters
//!   `opentelemetry`'s suppressed context, so the `opentelemetry` API records
//!   nothing there either.
//!
//! A hook registered after a thread started runs on that thread the next time
//! it calls [`catch_up`] (the export loop on every turn, a metrics reader
//! before each collection, runtime workers whenever they wake up,
//! `otlp-contrib`'s file exporter before each line and its metrics server
//! before each render), and so does the no-op dispatcher of a thread that
//! started before the program set its first one; so the order in which
//! pipelines, bridges and subscribers are set up does not matter.
//!
//! Some of a pipeline's work runs on the application's thread: building an
//! exporter reads certificates and builds its TLS configuration there, and
//! rustls and the platform verifier log as they do (`add_parsable_certificates
//! processed 1 valid and 0 invalid certs`, `Loaded 150 CA root certificates
//! from the system`). Such work runs inside [`as_own`]: for its duration the
//! thread counts as one of a pipeline's own, then it is the application's
//! again, so that what the application records before and after is recorded
//! as ever. Tasks a pipeline runs on a runtime that is not its own (the
//! application's, given to an `otlp-contrib` adapter) are wrapped in
//! [`as_own_future`]: each poll, and the drop, is such work.
//!
//! Cost: [`enter`] once per thread (a thread-local store and the hooks);
//! [`catch_up`] two relaxed atomic loads and two thread-local reads per call.
//! Nothing on the application's threads changes.

use std::cell::Cell;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use tracing_core::dispatcher::{self, Dispatch};

/// Hooks that every pipeline thread runs once, in registration order.
static HOOKS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());
/// How many hooks [`HOOKS`] holds: read without the lock by [`catch_up`].
static HOOK_COUNT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread is one of a pipeline's own ([`OWN_FOR_LIFE`]),
    /// and how many [`as_own`] calls it is inside (the other bits): one
    /// word, so that [`is_own_thread`], asked on every span and event of
    /// the application's threads, is one thread-local read.
    static OWN: Cell<u32> = const { Cell::new(0) };
    /// How many hooks have run on this thread.
    static HOOKS_RUN: Cell<usize> = const { Cell::new(0) };
    /// Whether this pipeline thread's `tracing` default dispatcher is the
    /// no-op one (see [`enter`]).
    static SILENCED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as one of a pipeline's own for the rest of its
/// life: `tracing` records nothing on it, and every hook registered with
/// [`add_hook`] runs on it. Calling it again does nothing more.
///
/// The thread's `tracing` default dispatcher becomes the no-op one as soon
/// as a dispatcher has been set in the process (`tracing`'s
/// `dispatcher::has_been_set`): at once if one has, else at the first
/// [`catch_up`] after the program sets one. Before that no subscriber
/// exists to keep the thread's events from, and setting the no-op one
/// would itself count as set: `tracing` would stop turning events into
/// `log` records (its `log` feature) on every thread of the program, and a
/// program that records through the `log` crate would lose its
/// dependencies' `tracing` events.
///
/// Crates that start threads to carry telemetry (an exporter's own runtime,
/// an embedded receiver) call it first thing on each of them, for example
/// from `tokio::runtime::Builder::on_thread_start`.
///
/// ```
/// std::thread::spawn(|| {
///     otlp_sdk::own_threads::enter();
///     assert!(otlp_sdk::own_threads::is_own_thread());
///     // Spans and events of this thread reach no subscriber.
/// })
/// .join()
/// .unwrap();
/// assert!(!otlp_sdk::own_threads::is_own_thread());
/// ```
pub fn enter() {
    let _ = OWN.try_with(|own| own.set(own.get() | OWN_FOR_LIFE));
    catch_up();
}

/// Gives a pipeline thread the no-op `tracing` dispatcher, once a
/// dispatcher has been set in the process (see [`enter`]).
#[cold]
fn silence_tracing() {
    if !dispatcher::has_been_set() {
        return;
    }
    let _ = SILENCED.try_with(|silenced| {
        if !silenced.replace(true) {
            // The guard would restore the previous dispatcher when dropped:
            // the thread keeps the no-op one until it exits.
            std::mem::forget(dispatcher::set_default(&Dispatch::none()));
        }
    });
}

/// Whether the calling thread is one of a pipeline's own (see [`enter`]), or
/// runs a pipeline's work inside [`as_own`]: front doors record nothing then.
pub fn is_own_thread() -> bool {
    OWN.try_with(Cell::get).unwrap_or(0) != 0
}

/// The bit of [`OWN`] that marks a pipeline's own thread (see [`enter`]).
const OWN_FOR_LIFE: u32 = 1 << 31;

/// Whether the calling thread is one of a pipeline's own for life (not only
/// inside [`as_own`]).
fn own_for_life() -> bool {
    OWN.try_with(|own| own.get() & OWN_FOR_LIFE != 0)
        .unwrap_or(false)
}

/// Runs `work`, a pipeline's own work on a thread that is not (building an
/// exporter on the application's thread, say), as if the thread were one of
/// a pipeline's own: [`is_own_thread`] is true and `tracing` records nothing
/// until `work` returns (or unwinds), then the thread is as it was. The hooks
/// of [`add_hook`] do not run: they act for the rest of a thread's life.
///
/// `work` must not run the application's code: what that records would not
/// be recorded either.
///
/// While no `tracing` dispatcher has been set in the process, `work` runs
/// under none (no subscriber exists to keep its events from): setting the
/// no-op one would count as set, as [`enter`] explains.
///
/// Cost: two thread-local stores and, once the program uses `tracing`, a
/// scoped `tracing` dispatcher.
///
/// ```
/// use otlp_sdk::own_threads;
///
/// let inside = own_threads::as_own(own_threads::is_own_thread);
/// assert!(inside);
/// assert!(!own_threads::is_own_thread());
/// ```
pub fn as_own<R>(work: impl FnOnce() -> R) -> R {
    /// Leaves the scope, on return or unwinding, if it was entered (a
    /// thread whose thread-locals are gone has no depth to count).
    struct Leave(bool);
    impl Drop for Leave {
        fn drop(&mut self) {
            if self.0 {
                let _ = OWN.try_with(|own| own.set(own.get() - 1));
            }
        }
    }
    // The depth bits never reach the life bit: 2^31 nested calls would take
    // more stack than a thread has.
    let _leave = Leave(OWN.try_with(|own| own.set(own.get() + 1)).is_ok());
    if dispatcher::has_been_set() {
        dispatcher::with_default(&Dispatch::none(), work)
    } else {
        work()
    }
}

/// `future`, each poll of it run as [`as_own`] runs its work, and its drop
/// too (once it is ready, or cancelled): for the tasks a pipeline runs on a
/// runtime that is not its own (an `otlp-contrib` adapter given the
/// application's runtime, the connection tasks a transport spawns there), so
/// that what they record reaches no front door and no subscriber. On a
/// pipeline's own thread a poll is a plain poll.
///
/// Cost: one allocation (the future is pinned in a box), then per poll a
/// thread-local read, and on other threads what [`as_own`] costs.
///
/// ```
/// use otlp_sdk::own_threads;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let inside = runtime.block_on(own_threads::as_own_future(async { own_threads::is_own_thread() }));
/// assert!(inside);
/// assert!(!own_threads::is_own_thread());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn as_own_future<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let mut owned = OwnFuture(Some(Box::pin(future)));
    std::future::poll_fn(move |context| {
        if own_for_life() {
            owned.poll(context)
        } else {
            as_own(|| owned.poll(context))
        }
    })
}

/// The future of [`as_own_future`], until it is ready.
struct OwnFuture<F>(Option<Pin<Box<F>>>);

impl<F: Future> OwnFuture<F> {
    /// Polls the future, and drops it once ready, in the caller's scope.
    fn poll(&mut self, context: &mut Context<'_>) -> Poll<F::Output> {
        let Some(future) = self.0.as_mut() else {
            // Polled again after it was ready: it never is again.
            return Poll::Pending;
        };
        let poll = future.as_mut().poll(context);
        if poll.is_ready() {
            self.0 = None;
        }
        poll
    }
}

impl<F> Drop for OwnFuture<F> {
    fn drop(&mut self) {
        if let Some(future) = self.0.take() {
            as_own(|| drop(future));
        }
    }
}

/// Runs, on a pipeline thread, the hooks registered since it last looked,
/// and gives it the no-op `tracing` dispatcher if the program has set a
/// dispatcher since (see [`enter`]). Does nothing on other threads. Cheap
/// enough to call on every wake-up.
#[inline]
pub fn catch_up() {
    if !SILENCED.try_with(Cell::get).unwrap_or(true) && own_for_life() {
        silence_tracing();
    }
    let registered = HOOK_COUNT.load(Ordering::Acquire);
    let _ = HOOKS_RUN.try_with(|run| {
        // Own for life only: `as_own` scopes do not take the hooks.
        if run.get() < registered && own_for_life() {
            run_hooks_from(run);
        }
    });
}

#[cold]
fn run_hooks_from(run: &Cell<usize>) {
    let hooks: Vec<fn()> = HOOKS.lock().unwrap_or_else(PoisonError::into_inner).clone();
    for hook in hooks.iter().skip(run.get()) {
        hook();
    }
    run.set(hooks.len());
}

/// Registers `hook` to run once on every pipeline thread: those that
/// [`enter`] later, at once, and those already running, at their next
/// [`catch_up`]. Registering the same function twice runs it once.
///
/// It is meant for other telemetry APIs' suppression (entering
/// `opentelemetry`'s suppressed context, say): a hook must be quick, must not
/// block, and must not record telemetry itself.
pub fn add_hook(hook: fn()) {
    let mut hooks = HOOKS.lock().unwrap_or_else(PoisonError::into_inner);
    if hooks.iter().any(|known| std::ptr::fn_addr_eq(*known, hook)) {
        return;
    }
    hooks.push(hook);
    HOOK_COUNT.store(hooks.len(), Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Runs of `count_run` on this thread (other tests' pipeline threads
        /// run the hook too, so each thread counts its own).
        static RUNS: Cell<u32> = const { Cell::new(0) };
    }

    fn count_run() {
        RUNS.with(|runs| runs.set(runs.get() + 1));
    }

    fn runs() -> u32 {
        RUNS.with(Cell::get)
    }

    #[test]
    fn hooks_run_once_on_own_threads_whenever_they_were_registered() {
        // A thread that entered before the hook existed runs it when it
        // catches up; one that enters later runs it at once; others never.
        let (entered, go) = std::sync::mpsc::channel();
        let (registered, wait) = std::sync::mpsc::channel::<()>();
        let early = std::thread::spawn(move || {
            enter();
            entered.send(()).unwrap();
            wait.recv().unwrap();
            catch_up();
            catch_up();
            runs()
        });
        go.recv().unwrap();
        add_hook(count_run);
        add_hook(count_run);
        registered.send(()).unwrap();
        assert_eq!(early.join().unwrap(), 1);
        let late = std::thread::spawn(|| {
            enter();
            enter();
            runs()
        });
        assert_eq!(late.join().unwrap(), 1);
        let other = std::thread::spawn(|| {
            catch_up();
            (runs(), is_own_thread())
        });
        assert_eq!(other.join().unwrap(), (0, false));
    }

    #[test]
    fn as_own_lasts_as_long_as_its_work_and_takes_no_hooks() {
        std::thread::spawn(|| {
            add_hook(count_run);
            let inside = as_own(|| {
                catch_up();
                let silent = dispatcher::get_default(|current| {
                    current.is::<tracing_core::subscriber::NoSubscriber>()
                });
                (is_own_thread(), silent)
            });
            assert_eq!(inside, (true, true));
            assert!(!is_own_thread());
            let unwound = std::panic::catch_unwind(|| as_own(|| panic!("the work failed")));
            assert!(unwound.is_err());
            assert!(!is_own_thread(), "left on unwinding too");
            catch_up();
            assert_eq!(runs(), 0, "an application thread runs no hook");
        })
        .join()
        .unwrap();
    }
}
