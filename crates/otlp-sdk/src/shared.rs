//! [`Shared`]: what every handle of a batch pipeline and its export loop
//! share — the record queue, the stats, the shutdown flags — and the way a
//! finished span enters the queue, with the full-queue policy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::config::FullPolicy;
use crate::exporter::Signal;
use crate::queued_record::QueuedRecord;
use crate::record_queue::{Push, RecordQueue};
use crate::stats::{Stats, StatsSnapshot};

/// State shared by every handle of a pipeline and by its export loop.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: RecordQueue,
    pub(crate) stats: Stats,
    pub(crate) full_policy: FullPolicy,
    pub(crate) shut_down: AtomicBool,
    /// Whether exports make progress (for [`FullPolicy::Block`]).
    pub(crate) progress: Progress,
    /// What the pipeline carries (for messages).
    pub(crate) signal: Signal,
    /// The records a shutdown left unsettled at its deadline, once the
    /// loop has counted them.
    pub(crate) left_at_shutdown: LeftAtShutdown,
}

/// How many records a shutdown's deadline left unsettled, as the export
/// loop found them before counting them dropped or failed (it answers only
/// after that, and after telling the loss handler).
///
/// A caller whose wait for that answer times out cannot tell them from the
/// stats any more once they are counted: it would say that none were left.
/// The loop publishes the count before it counts them, so a caller that
/// reads the stats first and then this finds either the records still
/// unsettled in the stats or the count here: each counting is a `Release`
/// add after the publication, and a stats read that sees it is an
/// `Acquire` load, so the publication is seen too. With the durable queue,
/// while the shutdown's last fsync runs, the count is the records on disk if
/// more (they are not known kept until it ends); it goes back once it ends.
#[derive(Debug)]
pub(crate) struct LeftAtShutdown(AtomicU64);

impl Default for LeftAtShutdown {
    fn default() -> Self {
        LeftAtShutdown(AtomicU64::new(Self::NOT_YET))
    }
}

impl LeftAtShutdown {
    /// Nothing published: the loop has not finished a shutdown.
    const NOT_YET: u64 = u64::MAX;

    /// Called by the loop before it counts the `pending` records.
    pub(crate) fn publish(&self, pending: u64) {
        self.0
            .store(pending.min(Self::NOT_YET - 1), Ordering::Release);
    }

    /// The count published, if any; read it after the stats.
    pub(crate) fn get(&self) -> Option<u64> {
        let pending = self.0.load(Ordering::Acquire);
        (pending != Self::NOT_YET).then_some(pending)
    }
}

/// Whether the pipeline moves: how many times the export loop has taken
/// spans from the queue, whether the backend answers, and at which count a
/// producer last found the pipeline stalled.
///
/// The pipeline is *stalled* when its exports fail and are being retried (the
/// backend is down or refuses), or when nothing has moved (no take, no
/// answer) for a whole attempt timeout (the backend hangs). A pipeline whose
/// exports are in flight within their timeout, or complete, is healthy
/// however slow it is: producers wait for it.
#[derive(Debug)]
pub(crate) struct Progress {
    takes: AtomicU64,
    /// The `takes` a producer found stalled (`u64::MAX`: none).
    stalled_at: AtomicU64,
    /// The last export attempt failed with a retryable error; cleared when
    /// the backend answers again.
    failing: AtomicBool,
    /// When the loop last took spans or an export was answered, in
    /// nanoseconds since `epoch`.
    moved_at: AtomicU64,
    epoch: Instant,
    /// No movement for this long (the attempt timeout) means stalled.
    patience: Duration,
    /// With the durable queue, while its disk has room, failing exports do
    /// not stall the pipeline: the loop keeps moving spans to disk (only a
    /// loop that takes nothing for `patience` does). Set by the loop.
    disk_room: AtomicBool,
    /// Producers parked until the loop takes spans (the blocking path only).
    waiters: Mutex<Vec<Thread>>,
    has_waiters: AtomicBool,
}

impl Progress {
    pub(crate) fn new(patience: Duration, durable: bool) -> Self {
        Progress {
            disk_room: AtomicBool::new(durable),
            takes: AtomicU64::new(0),
            stalled_at: AtomicU64::new(u64::MAX),
            failing: AtomicBool::new(false),
            moved_at: AtomicU64::new(0),
            epoch: Instant::now(),
            patience,
            waiters: Mutex::new(Vec::new()),
            has_waiters: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn note_movement(&self) {
        self.moved_at.fetch_max(self.now(), Ordering::Relaxed);
    }

    /// Called by the loop whenever it takes spans: there is room again, so
    /// producers waiting for it are woken.
    pub(crate) fn note_take(&self) {
        self.note_movement();
        self.takes.fetch_add(1, Ordering::SeqCst);
        if self.has_waiters.load(Ordering::SeqCst) && self.has_waiters.swap(false, Ordering::SeqCst)
        {
            let waiters =
                std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
            for waiter in waiters {
                waiter.unpark();
            }
        }
    }

    /// Called by the loop: whether the durable queue's disk has room.
    pub(crate) fn note_disk_room(&self, room: bool) {
        self.disk_room.store(room, Ordering::Relaxed);
    }

    /// Called by an export task when an attempt failed and will be retried;
    /// whether the pipeline was not failing before (the backend just went
    /// down): the loop must then look again at what it waits for (see
    /// `ExportLoop::can_park`).
    pub(crate) fn note_retry(&self) -> bool {
        !self.failing.swap(true, Ordering::Relaxed)
    }

    /// Whether the last export attempt failed and will be retried (the
    /// backend is down or refusing), until it answers again.
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Called by an export task when the backend answered (success, partial
    /// success or a permanent error): it is up.
    pub(crate) fn note_answer(&self) {
        self.failing.store(false, Ordering::Relaxed);
        self.note_movement();
    }

    /// Whether exports fail (and no durable queue has disk room), or
    /// nothing has moved for a whole attempt timeout.
    fn is_stalled(&self) -> bool {
        if self.failing.load(Ordering::Relaxed) && !self.disk_room.load(Ordering::Relaxed) {
            return true;
        }
        let still_for = self
            .now()
            .saturating_sub(self.moved_at.load(Ordering::Relaxed));
        Duration::from_nanos(still_for) >= self.patience
    }

    /// Parks the calling producer until the loop takes spans after `seen`
    /// (the `takes` count it last saw), or `at_most` passes.
    fn wait_for_take(&self, seen: u64, at_most: Duration) {
        {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            // Once per thread: a producer blocked for long comes back every
            // `at_most`, and the list must not grow while the loop takes nothing.
            let me = std::thread::current();
            if !waiters.iter().any(|waiter| waiter.id() == me.id()) {
                waiters.push(me);
            }
            self.has_waiters.store(true, Ordering::SeqCst);
        }
        // A take between the failed push and the registration above would
        // not have woken us: look before sleeping.
        if self.takes.load(Ordering::SeqCst) == seen {
            std::thread::park_timeout(at_most);
        }
    }
}

impl Shared {
    /// Encodes `span` into the queue, or counts why it was not.
    #[inline]
    pub(crate) fn on_end<R: QueuedRecord>(&self, record: &R) {
        // Counted before anything else, so the record is never in a stage it
        // was not first counted into (see `stats`).
        self.stats.produced.add(1);
        if self.shut_down.load(Ordering::SeqCst) {
            return self.drop_after_shutdown(record.encoded_len());
        }
        match self.queue.push(record) {
            Push::Queued => {}
            Push::Full => match self.full_policy {
                FullPolicy::Drop => self.drop_for_room(record),
                FullPolicy::Block(bound) => self.block_until_room(record, bound),
            },
            other => self.count_refused(other),
        }
    }

    /// Counts a record of `len` bytes that arrived after shutdown.
    #[cold]
    fn drop_after_shutdown(&self, len: usize) {
        self.stats.refuse_bytes(len);
        Stats::add(&self.stats.dropped_shutdown, 1);
    }

    /// Counts a record of `len` bytes dropped for want of room.
    fn drop_queue_full(&self, len: usize) {
        self.stats.refuse_bytes(len);
        Stats::add(&self.stats.dropped_queue_full, 1);
    }

    /// Counts a record the queue did not take for a reason other than room.
    #[cold]
    fn count_refused(&self, push: Push) {
        match push {
            Push::Queued | Push::Full => {}
            Push::TooLarge(len) => {
                self.stats.refuse_bytes(len);
                Stats::add(&self.stats.dropped_too_large, 1);
                self.stats.record_error(format!(
                    "a {} was dropped: encoded, it is larger than the queue ({} bytes) or a \
                     request may be",
                    self.signal.record_noun(),
                    self.queue.max_bytes()
                ));
            }
            Push::Closed(discarded) => {
                Stats::add(&self.stats.refused_bytes, discarded.refused_bytes);
                Stats::add(&self.stats.discarded_bytes, discarded.written_bytes);
                Stats::add(&self.stats.dropped_shutdown, discarded.records);
            }
        }
    }

    /// [`FullPolicy::Drop`]: counts a record the queue had no room for.
    /// `Full` when this thread had no block comes before the record is
    /// measured: one that could never fit is counted too large, as
    /// [`block_until_room`](Self::block_until_room) does, not queue-full.
    /// Measuring walks the record once without writing it (no allocation);
    /// it never waits.
    fn drop_for_room<R: QueuedRecord>(&self, record: &R) {
        if !self.queue.room_wanted() {
            self.queue.want_room();
        }
        let (never_fits, len) = self.queue.never_fits(record);
        if never_fits {
            return self.count_refused(Push::TooLarge(len));
        }
        self.drop_queue_full(len);
    }

    /// [`FullPolicy::Block`]: waits for room while the pipeline makes
    /// progress. A producer that waited `bound` while exports were failing
    /// or nothing moved marks the pipeline stalled, and later producers drop
    /// at once until the loop takes spans again.
    fn block_until_room<R: QueuedRecord>(&self, record: &R, bound: Duration) {
        // `Full` when this thread had no block: no room to find out that the
        // record could never fit. Measured here, before any wait for room
        // that would not let it in either.
        let (never_fits, len) = self.queue.never_fits(record);
        if never_fits {
            return self.count_refused(Push::TooLarge(len));
        }
        let progress = &self.progress;
        if progress.stalled_at.load(Ordering::Acquire) == progress.takes.load(Ordering::Acquire) {
            return self.drop_queue_full(len);
        }
        let started = Instant::now();
        let mut step = 0u32;
        loop {
            // Room may be held by partly filled blocks of other threads: the
            // loop hands them over and takes them.
            self.queue.want_room();
            let seen = progress.takes.load(Ordering::SeqCst);
            if step < 4 {
                std::thread::yield_now();
            } else {
                // Woken as soon as the loop takes a batch (room again), or
                // after a millisecond to look at the clock.
                progress.wait_for_take(seen, Duration::from_millis(1));
            }
            step = step.saturating_add(1);
            match self.queue.push(record) {
                Push::Queued => return,
                Push::Full => {}
                other => return self.count_refused(other),
            }
            if self.shut_down.load(Ordering::SeqCst) {
                return self.drop_after_shutdown(len);
            }
            if started.elapsed() >= bound && progress.is_stalled() {
                progress
                    .stalled_at
                    .store(progress.takes.load(Ordering::Acquire), Ordering::Release);
                return self.drop_queue_full(len);
            }
        }
    }

    /// Where every span is now, with the queue's bytes.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let mut snapshot = self.stats.snapshot();
        snapshot.bytes = self.stats.byte_account(|| self.queue.written_bytes());
        snapshot.queued_bytes = self.queue.used_bytes() as u64;
        snapshot.queue_capacity_bytes = self.queue.max_bytes() as u64;
        // 0 only without a cap: a cap of `usize::MAX` shows as given.
        snapshot.queue_capacity = self
            .queue
            .max_records()
            .map_or(0, |cap| u64::try_from(cap).unwrap_or(u64::MAX));
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipeline whose queue holds `max_bytes`, under `policy`, its export
    /// loop never running (nothing takes what is queued).
    fn pipeline(max_bytes: usize, policy: FullPolicy) -> Shared {
        Shared {
            queue: RecordQueue::new(max_bytes, None, usize::MAX, 512),
            stats: Stats::new(),
            full_policy: policy,
            shut_down: AtomicBool::new(false),
            progress: Progress::new(Duration::from_secs(1), false),
            signal: Signal::Traces,
            left_at_shutdown: LeftAtShutdown::default(),
        }
    }

    #[test]
    fn a_record_larger_than_the_whole_queue_is_dropped_as_such_without_waiting_for_room() {
        // The queue is full (nothing takes from it here) and this thread
        // has no block: the queue could not tell a record that never fits
        // from one that waits for room. Under `FullPolicy::Block` the
        // producer waited for room that would not let it in either (here
        // until the pipeline counted as stalled), then counted it dropped
        // as queue-full, not too large.
        let small = otlp_core::SpanData::builder("small").build();
        let big = otlp_core::SpanData::builder("x".repeat(4_096)).build();
        let shared = pipeline(2_048, FullPolicy::Block(Duration::from_secs(1)));
        while shared.queue.push(&small) == Push::Queued {}
        shared.on_end(&big);
        let stats = shared.snapshot();
        assert_eq!(
            (stats.dropped_oversized, stats.dropped_queue_full),
            (1, 0),
            "{stats:#?}"
        );
    }

    #[test]
    fn a_producer_waiting_again_and_again_is_listed_once() {
        let progress = Progress::new(Duration::from_secs(1), false);
        for _ in 0..50 {
            progress.wait_for_take(0, Duration::from_micros(10));
        }
        let waiters = progress.waiters.lock().map(|w| w.len()).unwrap_or(0);
        assert_eq!(waiters, 1);
        progress.note_take();
        let waiters = progress.waiters.lock().map(|w| w.len()).unwrap_or(0);
        assert_eq!(waiters, 0);
    }
}
