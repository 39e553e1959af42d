//! [`ExportRuntime`]: where a pipeline's export tasks run, and so how its
//! export loop waits.
//!
//! With one I/O thread (`performance.io_threads`, the default) the exports run
//! on the export loop's own thread: a single-threaded tokio runtime that the
//! loop drives whenever it waits for records, commands or a deadline. Sending
//! a request, reading its answer and waking for the next batch then happen on
//! one thread, and a request costs no hand-over between threads: per export,
//! one wake-up of the loop by a producer and one by the answer, where a
//! separate I/O thread adds the loop waking that thread, that thread's
//! own wake-up, and the wake-up of the loop by a finished export. While the
//! loop cuts and frames a batch, the exports in flight wait for it (a few
//! tens of microseconds for 512 spans).
//!
//! With more I/O threads, a multi-threaded runtime of that many workers runs
//! the exports beside the loop (for compression or TLS on busy pipelines),
//! and the loop parks its thread while it waits.
//!
//! Either way the loop is woken through [`LoopWake`], which both waits listen
//! to.

use std::time::Instant;

use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// Wakes the export loop whichever way it waits: a stored permit for a
/// loop that is about to wait on the runtime, an unpark token for one that
/// parks its thread. Each costs one atomic operation when the loop is not
/// waiting, one system call when it is.
#[derive(Debug, Default)]
pub(crate) struct LoopWake {
    notify: Notify,
    thread: std::sync::OnceLock<std::thread::Thread>,
}

impl LoopWake {
    /// Records which thread parks (the export loop's); set once at start.
    pub(crate) fn set_thread(&self, thread: std::thread::Thread) {
        let _ = self.thread.set(thread);
    }

    /// Wakes the loop, or makes its next wait return at once.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// The runtime a pipeline's export tasks run on; see the module docs.
///
/// Dropped, it shuts its runtime down without waiting for what still runs on
/// it, as the loop does at its end: a blocking shutdown would panic when the
/// runtime is dropped inside an async context (a pipeline built from async
/// code whose start then fails).
pub(crate) struct ExportRuntime {
    /// `Some` until dropped.
    runtime: Option<Runtime>,
    /// Single-threaded and run by the export loop's thread while it waits
    /// (one I/O thread); otherwise worker threads beside the loop, which
    /// parks while it waits.
    on_loop_thread: bool,
}

impl ExportRuntime {
    /// One I/O thread: the loop's own; more: that many workers.
    pub(crate) fn new(io_threads: usize) -> std::io::Result<Self> {
        let on_loop_thread = io_threads <= 1;
        let mut builder = if on_loop_thread {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(io_threads);
            builder
        };
        let runtime = builder
            // Worker threads, and the blocking pool's (DNS, compression).
            .thread_name("otlp-export-io")
            // The exporter's own telemetry (hyper, h2, tonic) is never recorded.
            .on_thread_start(crate::own_threads::enter)
            .on_thread_unpark(crate::own_threads::catch_up)
            .enable_all()
            .build()?;
        Ok(ExportRuntime {
            runtime: Some(runtime),
            on_loop_thread,
        })
    }

    /// The runtime, to block on the exporter's shutdown.
    pub(crate) fn runtime(&self) -> &Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime is there until the ExportRuntime is dropped")
    }

    /// Starts an export task. On the loop's thread it is spawned from inside
    /// the runtime, into the queue the loop's next wait runs: spawned from
    /// outside, a task also wakes the runtime's driver (an `eventfd` write,
    /// a system call per export) for a thread that is not waiting in it.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.on_loop_thread {
            // Ready at its first poll: `block_on` returns without running
            // the task or polling the driver.
            self.runtime().block_on(async {
                drop(tokio::spawn(task));
            });
        } else {
            drop(self.runtime().spawn(task));
        }
    }

    /// Waits until `deadline` or a [`LoopWake::wake`], running the exports
    /// meanwhile when they run on this thread.
    pub(crate) fn wait(&self, deadline: Instant, wake: &LoopWake) {
        if self.on_loop_thread {
            let notified = wake.notify.notified();
            // The deadline as given, not `now + timeout`: the loop waits for
            // the same tick many times over, and a timer at the driver's next
            // wake-up does not make it wake itself.
            self.runtime().block_on(async {
                let _ = tokio::time::timeout_at(deadline.into(), notified).await;
            });
        } else {
            std::thread::park_timeout(deadline.saturating_duration_since(Instant::now()));
        }
    }

    /// Gives the exports one turn without waiting, when they run on this
    /// thread: the tasks that are ready run, and the I/O driver is polled
    /// once (an `epoll_wait` with no timeout).
    pub(crate) fn turn(&self) {
        if self.on_loop_thread {
            // `yield_now` defers its wake-up to the scheduler's next park,
            // which then only polls the driver: one turn, no wait.
            self.runtime().block_on(tokio::task::yield_now());
        }
    }

    /// Stops the runtime without waiting for what still runs on it.
    pub(crate) fn shutdown_background(self) {
        drop(self);
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    #[test]
    fn a_turn_runs_ready_tasks_and_the_io_they_wait_for_without_waiting() {
        let runtime = ExportRuntime::new(1).expect("runtime");
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().expect("pair");
        reader.set_nonblocking(true).expect("nonblocking");
        let read = Arc::new(AtomicBool::new(false));
        let task_read = Arc::clone(&read);
        let ran = Arc::new(AtomicBool::new(false));
        let task_ran = Arc::clone(&ran);
        runtime.runtime().spawn(async move {
            task_ran.store(true, Ordering::SeqCst);
            let mut reader = tokio::net::UnixStream::from_std(reader).expect("register");
            let mut byte = [0u8; 1];
            if reader.read_exact(&mut byte).await.is_ok() {
                task_read.store(true, Ordering::SeqCst);
            }
        });
        runtime.turn();
        assert!(
            ran.load(Ordering::SeqCst),
            "the spawned task ran in the turn"
        );
        assert!(!read.load(Ordering::SeqCst));
        writer.write_all(b"x").expect("write");
        // The byte is there; a turn or two (readiness, then the task) reads it.
        for _ in 0..100 {
            if read.load(Ordering::SeqCst) {
                break;
            }
            runtime.turn();
        }
        assert!(read.load(Ordering::SeqCst), "the task woken by I/O ran");
    }

    /// Write system calls this thread has made (`/proc/thread-self/io`).
    #[cfg(target_os = "linux")]
    fn writes_by_this_thread() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
        io.lines()
            .find_map(|line| line.strip_prefix("syscw:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("a syscw line")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_task_spawned_by_the_loops_thread_waits_for_its_next_wait_without_a_system_call() {
        let runtime = ExportRuntime::new(1).expect("runtime");
        // The runtime's driver and its timer exist once it has run.
        runtime.turn();
        let ran = Arc::new(AtomicBool::new(false));
        let task_ran = Arc::clone(&ran);
        let before = writes_by_this_thread();
        runtime.spawn(async move { task_ran.store(true, Ordering::SeqCst) });
        let writes = writes_by_this_thread() - before;
        // Spawned from outside the runtime, the task also wrote the driver's
        // eventfd to wake a thread that was not waiting.
        assert_eq!(writes, 0, "spawning made {writes} write system calls");
        assert!(!ran.load(Ordering::SeqCst), "the task waits for the loop");
        runtime.turn();
        assert!(ran.load(Ordering::SeqCst), "the next turn runs it");
    }

    #[test]
    fn a_wait_returns_at_a_wake_given_before_it() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = ExportRuntime::new(1).expect("runtime");
            let wake = LoopWake::default();
            wake.wake();
            // The wake-up came first: the wait returns at once, not in an hour.
            runtime.wait(Instant::now() + Duration::from_secs(3600), &wake);
            let _ = done.send(());
        });
        // Not a timing goal: a lost wake-up would wait for the hour.
        assert!(finished.recv_timeout(Duration::from_secs(60)).is_ok());
    }
}
