//! [`Backlog`]: the export loop's side of the durable queue — which records
//! on disk wait for (re)delivery, and when to try them next.
//!
//! With the durable queue on, every request is appended to disk before it is
//! exported and acknowledged once its export is settled (delivered, partly
//! rejected, or failed for good). A record whose export ran out of retries is
//! *parked*: it stays on disk and waits here, like the records recovered at
//! start, to be sent again, oldest first, with the retry policy's backoff
//! between rounds (and at least the server's throttle hint, when its last
//! answer gave one). While anything waits, new batches join the back of the
//! line (they are written to disk and wait too), so delivery stays in order
//! and a backend outage fills the disk, not memory.
//!
//! A record that cannot be read back for a while (the file missing, an I/O
//! error) stays first in line and is tried again after the same backoff; only
//! a record that is truly gone (damaged on disk, no longer stored) is given
//! up, for the caller to count as dropped. A file that never comes back holds
//! the line until the disk cap evicts it (those spans are then counted as
//! dropped too).
//!
//! A request that cannot be stored (a full disk, an I/O error) is exported
//! from memory, without a durable record — with no export slot free, once
//! one is (it waits in memory, first in line; shutdown stores it if the
//! disk takes it then, or drops it, counted as dropped at shutdown); when
//! appends start failing, a [`Warning`](crate::diagnostics::Warning) names
//! the error and its file.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use otlp_core::encode::Encoding;

use crate::deadline::deadline_after;
use crate::diagnostics;
use crate::durable::{DurableConfig, DurableError, DurableQueue, RecordId, Recovered};
use crate::exporter::Signal;
use crate::retry::{RetryPolicy, jitter_random};

/// A record read back from disk, ready to export.
pub(crate) struct Redelivery {
    pub(crate) id: RecordId,
    pub(crate) encoding: Encoding,
    pub(crate) spans: u64,
    /// Its records' bytes (see [`crate::ByteAccount`]).
    pub(crate) bytes: u64,
    /// Whether those bytes were measured now: a record recovered at start
    /// enters the byte account when it is first read back.
    pub(crate) newly_measured: bool,
}

/// The longest a server's throttle hint (`Retry-After`, `RetryInfo`) holds
/// the line of records on disk. While a record waits, every new batch waits
/// behind it, so a hint of days (a misconfigured or hostile server) would
/// keep the whole pipeline from sending for the rest of the run. Past this,
/// the next round comes after five minutes, the OpenTelemetry Collector's
/// default limit on the time spent retrying one request.
const MAX_PARKED_THROTTLE: Duration = Duration::from_secs(300);

/// A record waiting on disk: its spans, and its records' bytes once known
/// (`None` for a record recovered at start and not read back yet).
#[derive(Clone, Copy, Debug)]
struct Waiting {
    spans: u64,
    bytes: Option<u64>,
}

/// The bytes of the records in `body`, a stored request: their encoded
/// lengths for a protobuf body; the body's length for a JSON one (written
/// by an earlier version) or one that cannot be walked.
fn bytes_of_body(body: &[u8], encoding: Encoding) -> u64 {
    match encoding {
        Encoding::Protobuf => otlp_core::wire::record_bytes(body).unwrap_or(body.len() as u64),
        _ => body.len() as u64,
    }
}

/// What reading the next waiting record gave.
pub(crate) enum NextRecord {
    /// A record to export; its body is in the caller's buffer.
    Ready(Redelivery),
    /// A record that is gone for good: damaged on disk (it no longer
    /// matches its checksum) or no longer stored. Its spans are lost; the
    /// queue no longer holds it as pending, so it is never read again.
    /// `bytes`: its records' bytes, if they had entered the byte account.
    Lost {
        spans: u64,
        bytes: Option<u64>,
        error: DurableError,
    },
    /// A record that could not be read now (an I/O error: the file missing
    /// for a while, `EIO`, `EMFILE`...). Nothing is lost: it still waits, first
    /// in line, and the next round comes after the retry policy's backoff, as
    /// after a failed redelivery.
    Deferred { spans: u64, error: DurableError },
}

/// What [`Backlog::append`] did.
#[must_use = "evicted spans are lost and must be counted"]
pub(crate) struct BacklogAppend {
    /// The new record's id, or why it was not stored (it is then exported
    /// from memory, without a durable record).
    pub(crate) stored: Result<RecordId, DurableError>,
    /// Spans of waiting records the disk cap evicted to make room, whether
    /// or not the record was then stored: dropped.
    pub(crate) evicted_spans: u64,
    /// The bytes of those of them in the byte account.
    pub(crate) evicted_bytes: u64,
}

pub(crate) struct Backlog {
    queue: DurableQueue,
    /// Records on disk not being exported now, by id (oldest first), with their span counts.
    waiting: BTreeMap<RecordId, Waiting>,
    /// The spans of `waiting`, kept as records come and go: the export loop
    /// reads it every turn, and a sum over a long line each time would make
    /// a replay quadratic.
    waiting_spans: u64,
    retry: RetryPolicy,
    /// Failed redelivery rounds in a row (for the backoff).
    failures: u32,
    next_attempt: Instant,
    /// The last append failed (disk full, I/O error): batches are not cut
    /// for the disk until one succeeds again (each cut with an export slot
    /// still tries).
    append_failing: bool,
    /// Whose requests these are: the source of the warning given when
    /// appends start failing.
    signal: Signal,
    /// Waiting records a sum over the line visited (tests count the work).
    #[cfg(test)]
    walked: std::cell::Cell<u64>,
}

impl Backlog {
    /// Opens the durable queue of a `signal` pipeline (refusing a directory
    /// that holds another signal's requests); the records it recovers wait,
    /// due at once.
    pub(crate) fn open(
        config: DurableConfig,
        signal: Signal,
        retry: RetryPolicy,
    ) -> Result<(Backlog, Recovered), DurableError> {
        let (queue, recovered) = DurableQueue::open_for(config, signal)?;
        let waiting = recovered
            .records
            .iter()
            .map(|record| {
                let spans = u64::from(record.span_count);
                (record.id, Waiting { spans, bytes: None })
            })
            .collect();
        let waiting: BTreeMap<RecordId, Waiting> = waiting;
        let waiting_spans = waiting.values().map(|waiting| waiting.spans).sum();
        let backlog = Backlog {
            queue,
            waiting,
            waiting_spans,
            retry,
            failures: 0,
            next_attempt: Instant::now(),
            append_failing: false,
            signal,
            #[cfg(test)]
            walked: std::cell::Cell::new(0),
        };
        Ok((backlog, recovered))
    }

    /// Writes a request to disk. Returns its id, or why it could not be
    /// stored, and — either way — the spans of waiting records the disk cap
    /// evicted (lost: they were only on disk). An append can evict and then
    /// fail to write (a full disk): those evictions count all the same.
    /// Records being exported that were evicted are settled by their export
    /// as usual ([`was_evicted`](Self::was_evicted)).
    pub(crate) fn append(&mut self, encoding: Encoding, spans: u64, body: &[u8]) -> BacklogAppend {
        let count = u32::try_from(spans).unwrap_or(u32::MAX);
        let appended = self.queue.append(encoding, count, body);
        if let Err(error) = &appended
            && !self.append_failing
        {
            // The pipeline's last error is overwritten by the export's next
            // failure, and the loss reports then name only that: the reason
            // nothing is kept on disk any more is said here, when appends
            // start failing (each distinct error once per process).
            diagnostics::warn(
                self.signal.as_str(),
                format!(
                    "the durable queue could not store a batch, so batches go to the backend \
                     from memory, not kept on disk, until an append succeeds again: {error}"
                ),
            );
        }
        self.append_failing = appended.is_err();
        // Read from the queue, not from `appended`: an `Err` says nothing of
        // the segments deleted before the write failed.
        let (mut evicted_spans, mut evicted_bytes) = (0, 0);
        if let Some(through) = self.queue.evicted_through()
            && self
                .waiting
                .first_key_value()
                .is_some_and(|(&id, _)| id <= through)
        {
            let survivors = self.waiting.split_off(&next_id(through));
            for waiting in self.waiting.values() {
                evicted_spans += waiting.spans;
                evicted_bytes += waiting.bytes.unwrap_or(0);
            }
            self.waiting = survivors;
            self.waiting_spans = self.waiting_spans.saturating_sub(evicted_spans);
        }
        BacklogAppend {
            stored: appended.map(|appended| appended.id),
            evicted_spans,
            evicted_bytes,
        }
    }

    /// Whether the disk cap evicted this record (it is no longer on disk).
    pub(crate) fn was_evicted(&self, id: RecordId) -> bool {
        self.queue
            .evicted_through()
            .is_some_and(|through| id <= through)
    }

    /// Whether batches may be cut for the disk without an export slot.
    ///
    /// While the backend is down (`backend_down`: its last answer was a
    /// retryable failure), up to the disk cap: there the oldest waiting
    /// records are evicted (and counted) to make room, so an outage longer
    /// than the disk holds keeps its most recent spans and never makes the
    /// program drop at a full memory queue first. While the backend answers,
    /// a quarter of the cap is kept for batches in flight: batches cut while
    /// the backend is healthy but slower than the program wait in memory
    /// (and the program for room) instead of pushing undelivered batches out
    /// at the cap. Never while appends fail.
    pub(crate) fn has_room(&self, backend_down: bool) -> bool {
        if self.append_failing {
            return false;
        }
        let cap = self.queue.config().max_bytes;
        backend_down || self.queue.stats().bytes < cap - cap / 4
    }

    /// Whether records wait (new batches must then queue behind them).
    pub(crate) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The newest record stored so far (flushes cover the records up to
    /// the newest when their last span was cut), if any.
    pub(crate) fn newest(&self) -> Option<RecordId> {
        self.queue.last_id()
    }

    /// Whether a waiting record up to `through` may be sent now (one that
    /// is backing off after a failure is not on its way).
    pub(crate) fn due_through(&self, through: RecordId, now: Instant) -> bool {
        self.due(now)
            && self
                .waiting
                .first_key_value()
                .is_some_and(|(&id, _)| id <= through)
    }

    /// Spans of the waiting records up to `through`.
    pub(crate) fn waiting_spans_through(&self, through: RecordId) -> u64 {
        self.sum_spans(self.waiting.range(..=through).map(|(_, waiting)| waiting))
    }

    /// Spans of the waiting records (kept, not summed: no walk).
    pub(crate) fn waiting_spans(&self) -> u64 {
        self.waiting_spans
    }

    /// The spans of `records`, a walk over part of the line.
    fn sum_spans<'a>(&self, records: impl Iterator<Item = &'a Waiting>) -> u64 {
        records
            .map(|waiting| {
                #[cfg(test)]
                self.walked.set(self.walked.get() + 1);
                waiting.spans
            })
            .sum()
    }

    /// Whether a waiting record may be sent now.
    pub(crate) fn due(&self, now: Instant) -> bool {
        self.has_waiting() && now >= self.next_attempt
    }

    /// When the next redelivery round is due, if anything waits.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.has_waiting().then_some(self.next_attempt)
    }

    /// When the durable queue next wants a sync.
    pub(crate) fn next_sync(&self) -> Option<Instant> {
        self.queue.next_sync_at()
    }

    /// Reads the oldest waiting record's body into `body` (cleared first).
    /// Only a record that is truly unreadable leaves the line unsent
    /// ([`NextRecord::Lost`]); one that fails to read for any other reason
    /// stays first in line, and the backlog backs off ([`NextRecord::Deferred`]).
    pub(crate) fn take_next(&mut self, body: &mut Vec<u8>) -> Option<NextRecord> {
        let (&id, &Waiting { spans, bytes }) = self.waiting.first_key_value()?;
        body.clear();
        Some(match self.queue.read(id, body) {
            Ok(record) => {
                self.leave_line(id);
                NextRecord::Ready(Redelivery {
                    id,
                    encoding: record.encoding,
                    spans,
                    bytes: bytes.unwrap_or_else(|| bytes_of_body(body, record.encoding)),
                    newly_measured: bytes.is_none(),
                })
            }
            // Nothing left to deliver. Nothing to acknowledge either: a
            // damaged record is already settled by `read` (and skipped again
            // by the next open, as damage), an unknown one is not pending.
            Err(error @ (DurableError::Corrupt { .. } | DurableError::UnknownRecord(_))) => {
                self.leave_line(id);
                NextRecord::Lost {
                    spans,
                    bytes,
                    error,
                }
            }
            // The record is still on disk as far as anyone knows: try again later.
            Err(error) => {
                self.back_off(None);
                NextRecord::Deferred { spans, error }
            }
        })
    }

    /// A record's export is settled: it leaves the disk. An answer from the
    /// backend (`answered`: success, partial success, a refusal for good)
    /// also ends any backoff between redelivery rounds.
    pub(crate) fn settled(&mut self, id: RecordId, answered: bool) -> Result<(), DurableError> {
        if answered {
            self.failures = 0;
            self.next_attempt = Instant::now();
        }
        self.queue.ack(id).map(|_| ())
    }

    /// A record ran out of retries: it waits on disk for the next round,
    /// after the retry policy's backoff, and at least the server's
    /// `throttle` hint when its last answer gave one. Returns false if the
    /// disk cap evicted it meanwhile (its spans are lost).
    pub(crate) fn park(
        &mut self,
        id: RecordId,
        spans: u64,
        bytes: u64,
        throttle: Option<Duration>,
    ) -> bool {
        if self.was_evicted(id) {
            return false;
        }
        self.join_line(id, spans, bytes);
        self.back_off(throttle);
        true
    }

    /// A redelivery round failed: the next one waits the retry policy's
    /// backoff, longer after each failure in a row, and at least the
    /// server's `throttle` hint, up to [`MAX_PARKED_THROTTLE`], both spread
    /// by the policy's jitter as between two attempts (pipelines that
    /// parked in the same outage do not all come back at once).
    fn back_off(&mut self, throttle: Option<Duration>) {
        self.failures = self.failures.saturating_add(1);
        let throttle = throttle.map(|hint| hint.min(MAX_PARKED_THROTTLE));
        let delay = self.retry.delay(self.failures, jitter_random(), throttle);
        self.next_attempt = self.next_attempt.max(deadline_after(delay));
    }

    /// Puts a record straight into the waiting line (a new batch that must
    /// queue behind older ones, or that found no free export slot).
    pub(crate) fn enqueue(&mut self, id: RecordId, spans: u64, bytes: u64) {
        self.join_line(id, spans, bytes);
    }

    /// Puts a record of `spans` into the waiting line.
    fn join_line(&mut self, id: RecordId, spans: u64, bytes: u64) {
        let bytes = Some(bytes);
        if let Some(replaced) = self.waiting.insert(id, Waiting { spans, bytes }) {
            self.waiting_spans = self.waiting_spans.saturating_sub(replaced.spans);
        }
        self.waiting_spans += spans;
    }

    /// Takes a record out of the waiting line.
    fn leave_line(&mut self, id: RecordId) {
        if let Some(left) = self.waiting.remove(&id) {
            self.waiting_spans = self.waiting_spans.saturating_sub(left.spans);
        }
    }

    /// Syncs what the fsync policy says is due (`force`: everything, now).
    pub(crate) fn sync(&mut self, force: bool) -> Result<(), DurableError> {
        self.queue.sync(force)
    }
}

fn next_id(id: RecordId) -> RecordId {
    RecordId::new(id.get().saturating_add(1))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::*;
    use crate::durable::FsyncPolicy;

    fn directory(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("otlp-backlog-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        path
    }

    /// A backlog whose one record (2 spans) waits on disk, recovered at open.
    fn one_waiting(directory: &Path) -> Backlog {
        let config = DurableConfig {
            fsync: FsyncPolicy::Never,
            ..DurableConfig::new(directory)
        };
        let (mut queue, _) = DurableQueue::open(config.clone()).expect("open");
        let _ = queue
            .append(Encoding::Protobuf, 2, b"body")
            .expect("append");
        drop(queue);
        let retry = RetryPolicy {
            initial_backoff: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let (backlog, recovered) = Backlog::open(config, Signal::Traces, retry).expect("reopen");
        assert_eq!(recovered.records.len(), 1);
        backlog
    }

    fn only_segment(directory: &Path) -> PathBuf {
        let mut segments: Vec<PathBuf> = fs::read_dir(directory)
            .expect("list")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "seg"))
            .collect();
        assert_eq!(segments.len(), 1);
        segments.remove(0)
    }

    #[test]
    fn a_record_that_fails_to_read_stays_first_in_line_and_is_not_due_until_the_backoff() {
        let dir = directory("deferred");
        let mut backlog = one_waiting(&dir);
        let segment = only_segment(&dir);
        let hidden = dir.join("hidden");
        fs::rename(&segment, &hidden).expect("move away");

        let mut body = Vec::new();
        assert!(backlog.due(Instant::now()));
        match backlog.take_next(&mut body) {
            Some(NextRecord::Deferred { spans: 2, error }) => {
                assert!(matches!(error, DurableError::Io { .. }), "{error}")
            }
            _ => panic!("expected the record to be deferred"),
        }
        // Still waiting, and not tried again before the backoff: no hot loop.
        assert_eq!(backlog.waiting_spans(), 2);
        assert!(!backlog.due(Instant::now()));
        // The backoff, 30 s, spread by the default jitter: 15 s at least.
        let due = backlog.next_due().expect("a next round");
        assert!(due >= Instant::now() + Duration::from_secs(14));

        fs::rename(&hidden, &segment).expect("move back");
        match backlog.take_next(&mut body) {
            Some(NextRecord::Ready(record)) => assert_eq!(record.spans, 2),
            _ => panic!("expected the record once it can be read"),
        }
        assert_eq!(body, b"body");
        assert!(!backlog.has_waiting());
        drop(backlog);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_servers_throttle_hint_holds_the_line_on_disk_at_most_five_minutes() {
        let dir = directory("throttled");
        let mut backlog = one_waiting(&dir);
        let mut body = Vec::new();
        let Some(NextRecord::Ready(record)) = backlog.take_next(&mut body) else {
            panic!("expected the waiting record");
        };
        let before = Instant::now();
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        assert!(backlog.park(record.id, record.spans, record.bytes, Some(century)));
        let due = backlog.next_due().expect("a next round");
        // The hint, cut to five minutes, plus at most a tenth of it as jitter;
        // the retry policy's backoff (60 s) is shorter.
        assert!(due >= before + MAX_PARKED_THROTTLE, "{:?}", due - before);
        assert!(
            due <= Instant::now() + MAX_PARKED_THROTTLE.mul_f64(1.1),
            "{:?}",
            due - before
        );
        drop(backlog);
        let _ = fs::remove_dir_all(&dir);
    }

    /// Redelivery rounds are retries too, and OTLP wants jitter between
    /// retries: pipelines that parked their records in the same outage must
    /// not all come back at the same instant. The round's backoff was the
    /// policy's with the random number fixed at one half, which is the
    /// backoff unspread: every first round came exactly 30 s (here: the 60 s
    /// initial backoff, capped at the 30 s maximum) after the failure,
    /// whatever `randomization_factor` said.
    #[test]
    fn redelivery_rounds_are_spread_by_the_retry_policys_jitter() {
        let dir = directory("jitter");
        let mut backlog = one_waiting(&dir);
        // Twenty first failures in a row, as twenty pipelines would have:
        // the default randomization spreads the 30 s over 15 to 45 s.
        let waits: Vec<Duration> = (0..20)
            .map(|_| {
                backlog.failures = 0;
                let before = Instant::now();
                backlog.next_attempt = before;
                backlog.back_off(None);
                backlog.next_attempt - before
            })
            .collect();
        let (shortest, longest) = (
            waits.iter().min().expect("waits"),
            waits.iter().max().expect("waits"),
        );
        assert!(
            *shortest >= Duration::from_secs(15) && *longest <= Duration::from_secs(45),
            "{waits:?}"
        );
        assert!(
            *longest - *shortest > Duration::from_secs(10),
            "not spread: {waits:?}"
        );
        drop(backlog);
        let _ = fs::remove_dir_all(&dir);
    }

    /// The export loop reads the spans waiting on every turn: a replay of
    /// a long line of small records would walk the whole line each time
    /// (quadratic over the replay). The total is kept as records come and
    /// go, and stays right through every way they do.
    #[test]
    fn the_spans_waiting_are_counted_without_walking_the_line() {
        let dir = directory("running-total");
        let mut backlog = one_waiting(&dir);
        let mut ids = Vec::new();
        for spans in 1..=1_000 {
            let appended = backlog.append(Encoding::Protobuf, spans, b"body");
            let id = appended.stored.expect("stored");
            assert_eq!(appended.evicted_spans, 0);
            backlog.enqueue(id, spans, 4);
            ids.push(id);
        }
        let total = 2 + (1..=1_000).sum::<u64>();
        for _ in 0..1_000 {
            assert_eq!(backlog.waiting_spans(), total);
        }
        assert_eq!(backlog.walked.get(), 0, "records visited to sum the line");
        // Taken (the recovered record, 2 spans), parked again, settled.
        let mut body = Vec::new();
        let Some(NextRecord::Ready(first)) = backlog.take_next(&mut body) else {
            panic!("expected the recovered record");
        };
        assert_eq!(backlog.waiting_spans(), total - 2);
        assert!(backlog.park(first.id, first.spans, first.bytes, None));
        assert_eq!(backlog.waiting_spans(), total);
        let Some(NextRecord::Ready(again)) = backlog.take_next(&mut body) else {
            panic!("expected the parked record first");
        };
        backlog.settled(again.id, true).expect("settled");
        assert_eq!(backlog.waiting_spans(), total - 2);
        assert_eq!(backlog.waiting_spans_through(ids[9]), (1..=10).sum::<u64>());
        drop(backlog);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_record_damaged_on_disk_leaves_the_line_as_lost() {
        let dir = directory("damaged");
        let mut backlog = one_waiting(&dir);
        let segment = only_segment(&dir);
        let mut bytes = fs::read(&segment).expect("read");
        bytes[32] ^= 0x01;
        fs::write(&segment, &bytes).expect("write");

        let mut body = Vec::new();
        match backlog.take_next(&mut body) {
            Some(NextRecord::Lost {
                spans: 2, error, ..
            }) => {
                assert!(matches!(error, DurableError::Corrupt { .. }), "{error}")
            }
            _ => panic!("expected the record to be lost"),
        }
        assert!(!backlog.has_waiting());
        assert_eq!(backlog.queue.stats().corrupt_records, 1);
        drop(backlog);
        let _ = fs::remove_dir_all(&dir);
    }
}
