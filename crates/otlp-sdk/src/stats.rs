//! Pipeline accounting: where every span is, readable at any time as a [`StatsSnapshot`].
//!
//! A span is *produced* when it reaches the processor. From there it is
//! *dropped* (queue full, over the size cap, or arriving after shutdown),
//! *queued*, *in flight* (taken into a batch that is being encoded or
//! exported), and finally *exported*, *rejected* (by the server's partial
//! success) or *failed* (permanent error, retries exhausted, or abandoned at
//! the shutdown deadline). So at every moment
//!
//! `produced = exported + dropped + failed + rejected + queued + in_flight`
//!
//! The counters are monotonic; `queued` and `in_flight` are derived from them.
//! A snapshot reads the later stages first and `produced` last, and every span
//! is counted into a stage before it can leave it, so the derived values are
//! never negative and the identity holds in every snapshot, not just at rest.
//!
//! The same identity holds in bytes ([`ByteAccount`]): a record's bytes are
//! the length of its encoded OTLP message (`Span`, `LogRecord`), without the
//! request's resource and scope framing. They are counted at the same
//! places as the records, in the same order, with one difference: a record
//! is counted in bytes once its length is known — when it is written into
//! the queue, or when it is refused — so a record whose producer waits for
//! room (`FullPolicy::Block`) is in `produced` but not yet in
//! `produced` bytes. And the backend does not say which records of a
//! request it rejected: the bytes of a request it answered are
//! [`answered`](ByteAccount::answered), exported and rejected records
//! together.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::counter::ShardedCounter;
use crate::diagnostics::Losses;

/// The live counters of one pipeline (shared by producers, the loop and export tasks).
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) produced: ShardedCounter,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_shutdown: AtomicU64,
    /// Spans refused by the queue as larger than it, or than a request, may be.
    pub(crate) dropped_too_large: AtomicU64,
    /// Spans moved from the queue into a batch.
    pub(crate) taken: AtomicU64,
    /// Spans shutdown cut from the queue for the durable queue, which could
    /// not store them (a full disk): dropped at shutdown after they were
    /// taken (in snapshots, part of `dropped_shutdown`).
    pub(crate) dropped_shutdown_taken: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
    /// Spans the durable queue lost (evicted at its cap, or damaged on disk).
    pub(crate) dropped_durable: AtomicU64,
    /// Spans recovered from the durable queue at start (also in `produced` and `taken`).
    pub(crate) recovered: AtomicU64,
    /// Spans left on disk at shutdown for the next start (still in flight).
    pub(crate) persisted: AtomicU64,
    /// Spans whose durable record is on disk and not settled (a gauge, set
    /// by the export loop; it lags behind the export tasks, which settle
    /// records before the loop hears of it, so a snapshot holds it to
    /// `in_flight`).
    pub(crate) on_disk: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) batch_sizes: Histogram,
    pub(crate) export_latency_micros: Histogram,
    pub(crate) last_error: Mutex<Option<String>>,
    /// Bytes of records refused before they were queued (queue full, too
    /// large, after shutdown): produced and dropped at once.
    pub(crate) refused_bytes: AtomicU64,
    /// Bytes of records discarded from the queue when it closed.
    pub(crate) discarded_bytes: AtomicU64,
    /// Bytes of the records in `taken`.
    pub(crate) taken_bytes: AtomicU64,
    /// Bytes of records dropped after they were taken: too large as JSON,
    /// or lost by the durable queue.
    pub(crate) dropped_taken_bytes: AtomicU64,
    /// Bytes of the records of requests the backend answered (exported and
    /// rejected records).
    pub(crate) answered_bytes: AtomicU64,
    pub(crate) failed_bytes: AtomicU64,
    /// Bytes of records recovered from the durable queue at start: produced
    /// (by an earlier run) and in flight, never in `taken_bytes`.
    pub(crate) recovered_bytes: AtomicU64,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            produced: ShardedCounter::default(),
            dropped_queue_full: AtomicU64::new(0),
            dropped_shutdown: AtomicU64::new(0),
            dropped_too_large: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            dropped_shutdown_taken: AtomicU64::new(0),
            dropped_oversized: AtomicU64::new(0),
            dropped_durable: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            persisted: AtomicU64::new(0),
            on_disk: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            batch_sizes: Histogram::default(),
            export_latency_micros: Histogram::default(),
            last_error: Mutex::new(None),
            refused_bytes: AtomicU64::new(0),
            discarded_bytes: AtomicU64::new(0),
            taken_bytes: AtomicU64::new(0),
            dropped_taken_bytes: AtomicU64::new(0),
            answered_bytes: AtomicU64::new(0),
            failed_bytes: AtomicU64::new(0),
            recovered_bytes: AtomicU64::new(0),
        }
    }

    /// A record of `bytes` refused before it was queued: its bytes are
    /// produced and dropped at once (its count goes with the reason).
    pub(crate) fn refuse_bytes(&self, bytes: usize) {
        Stats::add(&self.refused_bytes, bytes as u64);
    }

    /// `records` of `bytes` dropped after they were taken, counted in
    /// `reason` (`dropped_durable`, `dropped_oversized`,
    /// `dropped_shutdown_taken`): the bytes first, as every stage's.
    pub(crate) fn drop_taken(&self, reason: &AtomicU64, records: u64, bytes: u64) {
        Stats::add(&self.dropped_taken_bytes, bytes);
        Stats::add(reason, records);
    }

    /// `records` of `bytes` taken whose export failed.
    pub(crate) fn fail(&self, records: u64, bytes: u64) {
        Stats::add(&self.failed_bytes, bytes);
        Stats::add(&self.failed, records);
    }

    /// Where every byte is, given the bytes written into the queue so far
    /// (read by this call, last: see the module docs).
    pub(crate) fn byte_account(&self, written: impl FnOnce() -> u64) -> ByteAccount {
        // Later stages first, what was written last.
        let answered = Stats::read(&self.answered_bytes);
        let failed = Stats::read(&self.failed_bytes);
        let dropped_taken = Stats::read(&self.dropped_taken_bytes);
        let taken = Stats::read(&self.taken_bytes);
        let discarded = Stats::read(&self.discarded_bytes);
        let recovered = Stats::read(&self.recovered_bytes);
        let refused = Stats::read(&self.refused_bytes);
        let written = written();
        ByteAccount {
            produced: written + refused + recovered,
            answered,
            dropped: refused + discarded + dropped_taken,
            failed,
            queued: written.saturating_sub(taken + discarded),
            in_flight: (taken + recovered).saturating_sub(answered + failed + dropped_taken),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Release);
    }

    fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Acquire)
    }

    pub(crate) fn record_error(&self, error: impl ToString) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    /// The counters that `queued` is derived from: `taken` and the drops
    /// before queueing, then `produced`. A span produced and then dropped or
    /// taken by the loop between those reads would show as queued, so a
    /// snapshot taken while producers drop flat out or the loop takes a
    /// batch (and the reader is preempted) could show more spans queued than
    /// the queue holds. Read again while one of them moved in between; a
    /// bounded number of tries (a few hundred loads of counters at most, a
    /// few microseconds), so that a reader is never held up for long, and
    /// enough that a reader preempted on a loaded machine still settles.
    fn read_front(&self) -> Front {
        const TRIES: usize = 256;
        let read = || {
            let taken = Stats::read(&self.taken);
            let dropped_queue_full = Stats::read(&self.dropped_queue_full);
            let dropped_shutdown = Stats::read(&self.dropped_shutdown);
            let dropped_too_large = Stats::read(&self.dropped_too_large);
            let produced = self.produced.get();
            let settled = Stats::read(&self.dropped_queue_full) == dropped_queue_full
                && Stats::read(&self.dropped_shutdown) == dropped_shutdown
                && Stats::read(&self.dropped_too_large) == dropped_too_large
                && Stats::read(&self.taken) == taken;
            let front = Front {
                taken,
                dropped_queue_full,
                dropped_shutdown,
                dropped_too_large,
                produced,
            };
            (front, settled)
        };
        let mut front = read();
        for _ in 1..TRIES {
            if front.1 {
                break;
            }
            front = read();
        }
        front.0
    }

    /// The loss counters, by reason (for [`crate::diagnostics`]).
    pub(crate) fn losses(&self) -> Losses {
        Losses {
            failed: Stats::read(&self.failed),
            rejected: Stats::read(&self.rejected),
            dropped_queue_full: Stats::read(&self.dropped_queue_full),
            dropped_oversized: Stats::read(&self.dropped_oversized)
                + Stats::read(&self.dropped_too_large),
            dropped_shutdown: Stats::read(&self.dropped_shutdown)
                + Stats::read(&self.dropped_shutdown_taken),
            dropped_durable: Stats::read(&self.dropped_durable),
        }
    }

    /// The most recent export error, if any.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|last| last.clone())
    }

    /// A consistent snapshot (see the module docs for why it balances).
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        // Later stages first, `produced` last.
        let exported = Stats::read(&self.exported);
        let rejected = Stats::read(&self.rejected);
        let failed = Stats::read(&self.failed);
        let dropped_oversized = Stats::read(&self.dropped_oversized);
        let dropped_durable = Stats::read(&self.dropped_durable);
        let dropped_shutdown_taken = Stats::read(&self.dropped_shutdown_taken);
        let Front {
            taken,
            dropped_queue_full,
            dropped_shutdown,
            dropped_too_large,
            produced,
        } = self.read_front();

        let settled_after_taking = exported
            + rejected
            + failed
            + dropped_oversized
            + dropped_durable
            + dropped_shutdown_taken;
        let dropped_before_queueing = dropped_queue_full + dropped_shutdown + dropped_too_large;
        let dropped_shutdown = dropped_shutdown + dropped_shutdown_taken;
        let dropped_oversized_on_arrival = dropped_too_large;
        let dropped_oversized = dropped_oversized + dropped_too_large;
        let in_flight = taken.saturating_sub(settled_after_taking);
        StatsSnapshot {
            produced,
            exported,
            dropped: dropped_queue_full + dropped_shutdown + dropped_oversized + dropped_durable,
            failed,
            rejected,
            queued: produced
                .saturating_sub(dropped_before_queueing)
                .saturating_sub(taken),
            in_flight,
            dropped_queue_full,
            dropped_oversized,
            dropped_oversized_on_arrival,
            dropped_shutdown,
            dropped_durable,
            recovered: Stats::read(&self.recovered),
            persisted: Stats::read(&self.persisted),
            // The loop sets the gauge from the requests it knows of: one
            // whose export task has just settled it (counted above) is
            // still in it until the loop hears of it. Those records are
            // no longer in flight, and what is on disk is part of what is.
            on_disk: Stats::read(&self.on_disk).min(in_flight),
            retries: Stats::read(&self.retries),
            batches: Stats::read(&self.batches),
            // The queue's figures: filled in by the pipeline (`Shared::snapshot`).
            queue_capacity: 0,
            queued_bytes: 0,
            queue_capacity_bytes: 0,
            batch_size: self.batch_sizes.summary(),
            export_latency: LatencySummary::from_micros(self.export_latency_micros.summary()),
            last_error: self.last_error(),
            // Filled in by the pipeline, which reads the queue's bytes.
            bytes: ByteAccount::default(),
        }
    }
}

/// The counters read together by `Stats::read_front`.
struct Front {
    taken: u64,
    dropped_queue_full: u64,
    dropped_shutdown: u64,
    dropped_too_large: u64,
    produced: u64,
}

/// Where every span of a pipeline is, at one moment. See [`StatsSnapshot::is_balanced`].
///
/// The fields say "spans"; in a log pipeline's snapshot
/// ([`BatchLogProcessor::stats`](crate::BatchLogProcessor::stats)) every count
/// is of log records instead, and so is `batch_size`. [`last_error`](Self::last_error)
/// names the pipeline's own records ("3 log records still in flight at the
/// shutdown deadline").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Spans handed to the processor. A span that records without being
    /// sampled (a custom sampler's
    /// [`RecordOnly`](crate::SamplingDecision::RecordOnly)) is not: the
    /// tracer hands it to the provider's other processors, never to a
    /// batch pipeline, which exports only sampled spans.
    pub produced: u64,
    /// Spans the backend accepted.
    pub exported: u64,
    /// Spans discarded without an export attempt: `dropped_queue_full +
    /// dropped_oversized + dropped_shutdown + dropped_durable` (below).
    pub dropped: u64,
    /// Spans whose export failed: permanent error, retries exhausted, or still
    /// in flight at the shutdown deadline.
    pub failed: u64,
    /// Spans the backend rejected through a partial success.
    pub rejected: u64,
    /// Spans waiting in the queue.
    pub queued: u64,
    /// Spans in batches being encoded or exported — and, with the durable
    /// queue, spans on disk waiting for redelivery (see `persisted`).
    pub in_flight: u64,
    /// Dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Dropped because a single span encodes larger than the request size cap
    /// or the whole queue.
    pub dropped_oversized: u64,
    /// Of `dropped_oversized`, the spans the queue refused as they arrived
    /// (larger than the whole queue or than a request may be): never queued,
    /// never taken for export. The rest were taken, then found larger than a
    /// request once encoded for it (as JSON). Not counted again in `dropped`.
    pub dropped_oversized_on_arrival: u64,
    /// Dropped because they arrived after shutdown or were still queued at its
    /// deadline (with the durable queue: cut for the disk then, which could
    /// not store them).
    pub dropped_shutdown: u64,
    /// Dropped by the durable queue: evicted at its disk cap before they could
    /// be delivered, or found damaged when read back, or found damaged when
    /// the pipeline started (those whose record's header survived to give
    /// their count: included in `produced`, as the spans `recovered` are).
    pub dropped_durable: u64,
    /// Spans recovered from the durable queue at start, undelivered by an
    /// earlier run (included in `produced`; at least once, so some may be
    /// duplicates of spans that run delivered without recording it).
    pub recovered: u64,
    /// Spans left on disk by shutdown, for the next start to deliver. They
    /// stay counted in `in_flight`: with the durable queue, `in_flight` after
    /// shutdown is exactly this number, and 0 without it.
    pub persisted: u64,
    /// With the durable queue: spans in flight whose record is on disk —
    /// waiting there for an export slot, the backend or the next start, or
    /// being exported from it (part of `in_flight`; `in_flight − on_disk`
    /// are in memory, being exported). After shutdown, equal to `persisted`.
    /// Spans still `queued` are in memory, not yet cut into a batch.
    pub on_disk: u64,
    /// Export attempts retried.
    pub retries: u64,
    /// Batches cut.
    pub batches: u64,
    /// The cap on the number of queued spans (`OTEL_BSP_MAX_QUEUE_SIZE`;
    /// `OTEL_BLRP_MAX_QUEUE_SIZE` for log records) as given, `usize::MAX`
    /// included, or 0 when only bytes bound the queue (a cap is at least 1,
    /// so 0 is never one).
    pub queue_capacity: u64,
    /// Bytes the queued spans take, encoded (with eight bytes of framing
    /// each), including room reserved by threads for spans they are writing.
    pub queued_bytes: u64,
    /// The byte budget of the queue (`max_queue_bytes`).
    pub queue_capacity_bytes: u64,
    /// Spans per batch.
    pub batch_size: Summary,
    /// Time from a batch's first attempt to its final outcome.
    pub export_latency: LatencySummary,
    /// The most recent export error, if any.
    pub last_error: Option<String>,
    /// The same accounting in bytes (see [`ByteAccount`]).
    pub bytes: ByteAccount,
}

/// Where the bytes of a pipeline's records are, at one moment: the record
/// accounting of [`StatsSnapshot`] in bytes, so that
/// `produced = answered + dropped + failed + queued + in_flight`
/// ([`is_balanced`](Self::is_balanced)) at every moment and exactly after
/// shutdown.
///
/// A record's bytes are the length of its encoded OTLP message (a `Span`
/// or a `LogRecord`, in protobuf whatever the exporter sends: an OTLP/JSON
/// body is transcoded from these bytes), without the request's resource and
/// scope framing or the queue's own header: what the pipeline carried for it. A record is
/// counted once its length is known: when it is written into the queue or
/// refused. So a record whose producer waits for room is in
/// [`StatsSnapshot::produced`] and not yet here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteAccount {
    /// Bytes of every record produced (recovered from the durable queue
    /// included).
    pub produced: u64,
    /// Bytes of the records of requests the backend answered: exported and
    /// rejected records together, since a partial success says how many
    /// records it rejected, not which.
    pub answered: u64,
    /// Bytes of the records dropped (every reason of [`StatsSnapshot::dropped`]).
    pub dropped: u64,
    /// Bytes of the records whose export failed.
    pub failed: u64,
    /// Bytes of the records waiting in the queue (without the queue's
    /// headers and reserved room, which [`StatsSnapshot::queued_bytes`]
    /// counts).
    pub queued: u64,
    /// Bytes of the records in flight (on disk included, with the durable
    /// queue).
    pub in_flight: u64,
}

impl ByteAccount {
    /// Whether `produced = answered + dropped + failed + queued + in_flight`.
    pub fn is_balanced(&self) -> bool {
        self.produced == self.answered + self.dropped + self.failed + self.queued + self.in_flight
    }
}

impl StatsSnapshot {
    /// Whether `produced = exported + dropped + failed + rejected + queued + in_flight`.
    pub fn is_balanced(&self) -> bool {
        self.produced
            == self.exported
                + self.dropped
                + self.failed
                + self.rejected
                + self.queued
                + self.in_flight
    }

    /// Spans that reached a final state (everything but queued and in flight).
    pub fn settled(&self) -> u64 {
        self.exported + self.dropped + self.failed + self.rejected
    }
}

/// A distribution of counts: how many samples, their range, mean and percentiles
/// (percentiles are accurate to about 6%).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Sum of the samples.
    pub sum: u64,
    /// Smallest sample.
    pub min: u64,
    /// Largest sample.
    pub max: u64,
    /// Mean, rounded down.
    pub mean: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
}

/// Export latency percentiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Number of batches measured.
    pub count: u64,
    /// Total time of all measured batches.
    pub sum: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl LatencySummary {
    fn from_micros(summary: Summary) -> Self {
        LatencySummary {
            count: summary.count,
            sum: Duration::from_micros(summary.sum),
            p50: Duration::from_micros(summary.p50),
            p90: Duration::from_micros(summary.p90),
            p99: Duration::from_micros(summary.p99),
            max: Duration::from_micros(summary.max),
        }
    }
}

/// Sub-buckets per power of two: 16 gives about 6% relative precision.
const SUB_BUCKET_BITS: u32 = 4;
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;
const BUCKETS: usize = (64 - SUB_BUCKET_BITS as usize + 1) * SUB_BUCKETS;

/// A lock-free log-linear histogram of `u64` samples.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let magnitude = 63 - value.leading_zeros(); // >= SUB_BUCKET_BITS
    let shift = magnitude - SUB_BUCKET_BITS;
    let sub = (value >> shift) as usize & (SUB_BUCKETS - 1);
    (shift as usize + 1) * SUB_BUCKETS + sub
}

/// The largest value that falls in `bucket` (so percentiles never under-report).
fn bucket_upper_bound(bucket: usize) -> u64 {
    if bucket < SUB_BUCKETS {
        return bucket as u64;
    }
    let shift = (bucket / SUB_BUCKETS - 1) as u32;
    let sub = (bucket % SUB_BUCKETS) as u64;
    let low = (SUB_BUCKETS as u64 + sub) << shift;
    low + ((1u64 << shift) - 1)
}

impl Histogram {
    pub(crate) fn record(&self, value: u64) {
        self.buckets[bucket_of(value)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.min.fetch_min(value, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
    }

    pub(crate) fn summary(&self) -> Summary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return Summary::default();
        }
        let max = self.max.load(Ordering::Relaxed);
        let percentile = |fraction: f64| {
            let rank = ((count as f64) * fraction).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (bucket, &in_bucket) in counts.iter().enumerate() {
                seen += in_bucket;
                if seen >= rank {
                    return bucket_upper_bound(bucket).min(max);
                }
            }
            max
        };
        Summary {
            count,
            sum: self.sum.load(Ordering::Relaxed),
            min: self.min.load(Ordering::Relaxed),
            max,
            mean: self.sum.load(Ordering::Relaxed) / self.count.load(Ordering::Relaxed).max(1),
            p50: percentile(0.50),
            p90: percentile(0.90),
            p99: percentile(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for value in [
            0,
            1,
            15,
            16,
            17,
            100,
            1_000,
            123_456_789,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS);
            assert!(bucket_upper_bound(bucket) >= value, "{value}");
            if bucket > 0 {
                assert!(bucket_upper_bound(bucket - 1) < value, "{value}");
            }
        }
    }

    #[test]
    fn percentiles_are_within_precision() {
        let histogram = Histogram::default();
        for value in 1..=1_000 {
            histogram.record(value);
        }
        let summary = histogram.summary();
        assert_eq!(
            (summary.count, summary.min, summary.max, summary.mean),
            (1_000, 1, 1_000, 500)
        );
        assert!((500..=532).contains(&summary.p50), "{summary:?}");
        assert!((990..=1_000).contains(&summary.p99), "{summary:?}");
    }

    /// The most spans snapshots showed queued while `producers` threads
    /// counted spans flat out, each settled by `settle` right after it was
    /// counted produced (so a span is really queued only in between).
    fn worst_queued_while(producers: usize, settle: impl Fn(&Stats) + Sync) -> u64 {
        let stats = Stats::new();
        let producing = std::sync::atomic::AtomicBool::new(true);
        std::thread::scope(|scope| {
            for _ in 0..producers {
                scope.spawn(|| {
                    while producing.load(Ordering::Relaxed) {
                        stats.produced.add(1);
                        for _ in 0..64 {
                            std::hint::spin_loop();
                        }
                        settle(&stats);
                    }
                });
            }
            let mut worst = 0;
            for _ in 0..20_000 {
                let snapshot = stats.snapshot();
                assert!(snapshot.is_balanced());
                worst = worst.max(snapshot.queued);
            }
            producing.store(false, Ordering::Relaxed);
            worst
        })
    }

    #[test]
    fn spans_dropped_while_a_snapshot_is_read_do_not_show_as_queued() {
        // Two producers dropping every span, as on a full queue: at most
        // one span per producer is between its two counts.
        let worst = worst_queued_while(2, |stats| Stats::add(&stats.dropped_queue_full, 1));
        assert!(worst <= 2, "{worst} spans shown queued");
    }

    #[test]
    fn spans_taken_while_a_snapshot_is_read_do_not_show_as_queued() {
        // One producer whose every span the loop takes and exports at once.
        let worst = worst_queued_while(1, |stats| {
            Stats::add(&stats.taken, 1);
            Stats::add(&stats.exported, 1);
        });
        assert!(worst <= 1, "{worst} spans shown queued");
    }

    #[test]
    fn records_settled_before_the_loop_updates_the_on_disk_gauge_are_not_shown_on_disk() {
        // 10 spans on disk, 6 of them being exported, as the loop last set
        // the gauge; the export task then settled those 6 (exported) before
        // the loop heard of it. Before, the snapshot said 10 on disk with
        // 4 in flight, against "part of in_flight".
        let stats = Stats::new();
        stats.produced.add(10);
        Stats::add(&stats.taken, 10);
        stats.on_disk.store(10, Ordering::Release);
        Stats::add(&stats.exported, 6);
        let snapshot = stats.snapshot();
        assert!(snapshot.is_balanced());
        assert_eq!(
            (snapshot.in_flight, snapshot.on_disk),
            (4, 4),
            "{snapshot:#?}"
        );
    }

    #[test]
    fn snapshot_derives_queued_and_in_flight() {
        let stats = Stats::new();
        stats.produced.add(10);
        Stats::add(&stats.dropped_queue_full, 1);
        Stats::add(&stats.taken, 6);
        Stats::add(&stats.exported, 4);
        Stats::add(&stats.rejected, 1);
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.queued, snapshot.in_flight), (3, 1));
        assert!(snapshot.is_balanced());
    }
}
