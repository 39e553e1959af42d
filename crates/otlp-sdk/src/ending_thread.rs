//! [`EndingThread`]: a pipeline's own thread that a shutdown waits for by
//! its deadline, not beyond.
//!
//! A pipeline's thread (the span and log pipelines' export loop, the
//! metrics reader) answers a shutdown and then ends, dropping what it held:
//! the exporter, the export runtime. A program's exporter whose drop blocks
//! (a flush of its own, a connection's close) would hold a plain `join` past
//! the shutdown's deadline. So the thread signals when its work and
//! everything it held are gone, and the shutdown joins it only if that
//! happens by the deadline; otherwise the thread is left to end on its own.

use std::io;
use std::thread::{Builder, JoinHandle, Thread};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};

/// A spawned thread and the signal of its end (see the module docs).
#[derive(Debug)]
pub(crate) struct EndingThread {
    handle: JoinHandle<()>,
    /// Disconnected once `work` has returned (or unwound) and everything it
    /// owned is dropped.
    ended: Receiver<()>,
}

impl EndingThread {
    /// Spawns `work` with `builder`.
    pub(crate) fn spawn(
        builder: Builder,
        work: impl FnOnce() + Send + 'static,
    ) -> io::Result<Self> {
        let (ended_sender, ended) = bounded::<()>(0);
        let handle = builder.spawn(move || {
            // Calling `work` consumes it: what it captured is dropped when it
            // returns, before the sender.
            work();
            drop(ended_sender);
        })?;
        Ok(EndingThread { handle, ended })
    }

    /// The thread.
    pub(crate) fn thread(&self) -> &Thread {
        self.handle.thread()
    }

    /// Joins the thread if its work has ended by `deadline`, and says
    /// whether it did; otherwise leaves it to end on its own.
    pub(crate) fn join_by(self, deadline: Instant) -> bool {
        match self.ended.recv_deadline(deadline) {
            Err(RecvTimeoutError::Disconnected) => {
                let _ = self.handle.join();
                true
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_thread_whose_work_ends_in_time_is_joined_and_one_still_busy_is_not() {
        let done = EndingThread::spawn(Builder::new(), || {}).expect("spawns");
        assert!(done.join_by(Instant::now() + Duration::from_secs(30)));

        let (release, held) = bounded::<()>(0);
        // What the work owns is dropped at its end: a value whose drop
        // blocks holds the end too.
        struct BlocksInDrop(Receiver<()>);
        impl Drop for BlocksInDrop {
            fn drop(&mut self) {
                let _ = self.0.recv_timeout(Duration::from_secs(30));
            }
        }
        let owned = BlocksInDrop(held);
        let busy = EndingThread::spawn(Builder::new(), move || drop(owned)).expect("spawns");
        assert!(!busy.join_by(Instant::now() + Duration::from_millis(50)));
        let _ = release.send(());
    }
}
