//! The threads that serve connections: each runs its own single-threaded
//! runtime and serves every connection given to it from its first byte to
//! its last, HTTP/2 streams included.
//!
//! Why not one multi-threaded runtime: its workers steal tasks from each
//! other, so a connection's buffers are allocated on one thread and freed on
//! another. glibc's per-thread caches then hand one thread's memory to the
//! other, and after a while both threads allocate from the same malloc arena
//! and wait on its lock: measured with a decoding receiver serving sender
//! after sender, the first million spans took 1.2 s of the receiver's CPU and
//! 3,500 context switches, every later million 1.8–2.0 s and 32,000–39,000,
//! nearly all in `__lll_lock_wait_private` (`benches/README.md`, "The
//! decoding receiver"). Kept on one thread, a connection's memory stays in
//! one arena. Connections are spread over the threads by how many each
//! serves, so a client with several connections (HTTP/1.1 exports in
//! parallel) uses them all; one HTTP/2 connection uses one.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The receiver's worker threads; their [`WorkerPool`] hands out connections
/// to them.
pub(crate) struct Workers {
    pool: WorkerPool,
    /// Each thread and what stops it.
    running: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

/// Where the listeners send connections: each worker's runtime and how many
/// connections it serves now. Cheap to clone.
#[derive(Clone)]
pub(crate) struct WorkerPool {
    workers: Arc<[(Handle, Arc<AtomicUsize>)]>,
}

/// Counts a connection against its worker until dropped (the connection's
/// task ends or is aborted).
struct LoadGuard(Arc<AtomicUsize>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Workers {
    /// Starts `count` threads named `otlp-receiver-worker`, each marked as
    /// the pipeline's own (see [`otlp_sdk::own_threads`]) so the server's
    /// telemetry is never recorded.
    pub(crate) fn start(count: usize) -> io::Result<Workers> {
        let mut handles = Vec::with_capacity(count);
        let mut running = Vec::with_capacity(count);
        for _ in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .on_thread_unpark(otlp_sdk::own_threads::catch_up)
                .enable_all()
                .build()?;
            handles.push((runtime.handle().clone(), Arc::new(AtomicUsize::new(0))));
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name("otlp-receiver-worker".into())
                .spawn(move || {
                    otlp_sdk::own_threads::enter();
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                    runtime.shutdown_timeout(super::SHUTDOWN_TIMEOUT);
                });
            match thread {
                Ok(thread) => running.push((stop, thread)),
                Err(error) => {
                    stop_all(running);
                    return Err(error);
                }
            }
        }
        let pool = WorkerPool {
            workers: handles.into(),
        };
        Ok(Workers { pool, running })
    }

    /// The handle listeners spawn connections with.
    pub(crate) fn pool(&self) -> WorkerPool {
        self.pool.clone()
    }

    /// Stops every worker: connections still open are dropped after
    /// [`SHUTDOWN_TIMEOUT`](super::SHUTDOWN_TIMEOUT) at most.
    pub(crate) fn shutdown(self) {
        stop_all(self.running);
    }
}

/// Tells every thread to stop, then waits for them all.
fn stop_all(running: Vec<(oneshot::Sender<()>, JoinHandle<()>)>) {
    let threads: Vec<_> = running
        .into_iter()
        .map(|(stop, thread)| {
            let _ = stop.send(());
            thread
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

impl WorkerPool {
    /// The worker serving the fewest connections (the first of those tied)
    /// and a guard that counts one more on it until dropped.
    fn least_loaded(&self) -> (&Handle, LoadGuard) {
        let (handle, load) = self
            .workers
            .iter()
            .min_by_key(|(_, load)| load.load(Ordering::Relaxed))
            .expect("a receiver has at least one worker (validated)");
        load.fetch_add(1, Ordering::Relaxed);
        (handle, LoadGuard(Arc::clone(load)))
    }

    /// Spawns `serve` on the least loaded worker, in `set`; `serve` runs
    /// there to its end, and so does everything it spawns.
    pub(crate) fn spawn<F>(&self, set: &mut tokio::task::JoinSet<()>, serve: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (handle, guard) = self.least_loaded();
        set.spawn_on(
            async move {
                let _guard = guard;
                serve.await;
            },
            handle,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long a test waits for a worker to report.
    const TEST_TIMEOUT: Duration = Duration::from_secs(10);

    fn thread_of_spawn(
        pool: &WorkerPool,
        set: &mut tokio::task::JoinSet<()>,
    ) -> std::thread::ThreadId {
        let (tx, rx) = std::sync::mpsc::channel();
        pool.spawn(set, async move {
            // Whatever the connection spawns stays on its thread too.
            let inner = tokio::spawn(async { std::thread::current().id() });
            let inner = inner.await.expect("the inner task runs");
            assert_eq!(inner, std::thread::current().id());
            let _ = tx.send(inner);
            std::future::pending::<()>().await;
        });
        rx.recv_timeout(TEST_TIMEOUT)
            .expect("the worker runs the task")
    }

    /// How many connections each worker counts.
    fn loads(pool: &WorkerPool) -> Vec<usize> {
        let loads = pool.workers.iter();
        loads
            .map(|(_, load)| load.load(Ordering::Relaxed))
            .collect()
    }

    #[test]
    fn connections_spread_over_workers_by_load_and_stay_on_theirs() {
        let workers = Workers::start(2).expect("workers start");
        let pool = workers.pool();
        let control = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        control.block_on(async {
            let mut first = tokio::task::JoinSet::new();
            let mut second = tokio::task::JoinSet::new();
            let a = thread_of_spawn(&pool, &mut first);
            let b = thread_of_spawn(&pool, &mut second);
            assert_ne!(a, b, "the second connection goes to the idle worker");
            // The first connection ends: its worker is the least loaded again.
            first.abort_all();
            while first.join_next().await.is_some() {}
            let c = thread_of_spawn(&pool, &mut first);
            assert_eq!(c, a);
            // A tie goes to the first worker.
            let d = thread_of_spawn(&pool, &mut first);
            assert_eq!(d, a);
            assert_eq!(loads(&pool), vec![2, 1]);
            first.abort_all();
            second.abort_all();
            while first.join_next().await.is_some() {}
            while second.join_next().await.is_some() {}
            assert_eq!(loads(&pool), vec![0, 0]);
        });
        workers.shutdown();
    }
}
