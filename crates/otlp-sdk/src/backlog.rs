//! [`Backlog`]: the export loop's side of the durable queue — which records
//! on disk wait for (re)delivery, and when to try them next.
//!
//! With the durable queue on, every request is appended to disk before it is
//! exported and acknowledged once its export is settled (delivered, partly
//! rejected, or failed for good). A record whose export ran out of retries is
//! *parked*: it stays on disk and waits here, like the records recovered at
//! start, to be sent again, oldest first, with the retry policy's backoff
//! between rounds. While anything waits, new batches join the back of the
//! line (they are written to disk and wait too), so delivery stays in order
//! and a backend outage fills the disk, not memory.

use std::collections::BTreeMap;
use std::time::Instant;

use otlp_core::encode::Encoding;

use crate::durable::{DurableConfig, DurableError, DurableQueue, RecordId, Recovered};
use crate::retry::RetryPolicy;

/// A record read back from disk, ready to export.
pub(crate) struct Redelivery {
    pub(crate) id: RecordId,
    pub(crate) encoding: Encoding,
    pub(crate) spans: u64,
}

/// What reading the next waiting record gave.
pub(crate) enum NextRecord {
    /// A record to export; its body is in the caller's buffer.
    Ready(Redelivery),
    /// A record that went bad on disk: its spans are lost.
    Lost { spans: u64, error: DurableError },
}

pub(crate) struct Backlog {
    queue: DurableQueue,
    /// Records on disk not being exported now, by id (oldest first), with their span counts.
    waiting: BTreeMap<RecordId, u64>,
    retry: RetryPolicy,
    /// Failed redelivery rounds in a row (for the backoff).
    failures: u32,
    /// Every record up to this id was evicted by the disk cap.
    evicted_through: Option<RecordId>,
    next_attempt: Instant,
}

impl Backlog {
    /// Opens the durable queue; the records it recovers wait, due at once.
    pub(crate) fn open(
        config: DurableConfig,
        retry: RetryPolicy,
    ) -> Result<(Backlog, Recovered), DurableError> {
        let (queue, recovered) = DurableQueue::open(config)?;
        let waiting = recovered
            .records
            .iter()
            .map(|record| (record.id, u64::from(record.span_count)))
            .collect();
        let backlog = Backlog {
            queue,
            waiting,
            retry,
            failures: 0,
            evicted_through: None,
            next_attempt: Instant::now(),
        };
        Ok((backlog, recovered))
    }

    /// Writes a request to disk. Returns its id and the spans of waiting
    /// records the disk cap evicted to make room (lost: they were only on
    /// disk). Records being exported that were evicted are settled by their
    /// export as usual.
    pub(crate) fn append(
        &mut self,
        encoding: Encoding,
        spans: u64,
        body: &[u8],
    ) -> Result<(RecordId, u64), DurableError> {
        let count = u32::try_from(spans).unwrap_or(u32::MAX);
        let appended = self.queue.append(encoding, count, body)?;
        let mut evicted_spans = 0;
        if let Some(through) = appended.evicted.through {
            self.evicted_through = self.evicted_through.max(Some(through));
            let survivors = self.waiting.split_off(&next_id(through));
            evicted_spans = self.waiting.values().sum();
            self.waiting = survivors;
        }
        Ok((appended.id, evicted_spans))
    }

    /// Whether the disk cap evicted this record (it is no longer on disk).
    pub(crate) fn was_evicted(&self, id: RecordId) -> bool {
        self.evicted_through.is_some_and(|through| id <= through)
    }

    /// Whether records wait (new batches must then queue behind them).
    pub(crate) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Spans of the waiting records.
    pub(crate) fn waiting_spans(&self) -> u64 {
        self.waiting.values().sum()
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
    pub(crate) fn take_next(&mut self, body: &mut Vec<u8>) -> Option<NextRecord> {
        let (&id, &spans) = self.waiting.iter().next()?;
        self.waiting.remove(&id);
        body.clear();
        Some(match self.queue.read(id, body) {
            Ok(record) => NextRecord::Ready(Redelivery {
                id,
                encoding: record.encoding,
                spans,
            }),
            Err(error) => {
                // Gone or damaged: nothing left to deliver; forget it.
                let _ = self.queue.ack(id);
                NextRecord::Lost { spans, error }
            }
        })
    }

    /// A record's export is settled: it leaves the disk. A success also ends
    /// any backoff between redelivery rounds.
    pub(crate) fn settled(&mut self, id: RecordId, delivered: bool) -> Result<(), DurableError> {
        if delivered {
            self.failures = 0;
            self.next_attempt = Instant::now();
        }
        self.queue.ack(id).map(|_| ())
    }

    /// A record ran out of retries: it waits on disk for the next round,
    /// after the retry policy's backoff. Returns false if the disk cap
    /// evicted it meanwhile (its spans are lost).
    pub(crate) fn park(&mut self, id: RecordId, spans: u64) -> bool {
        if self.was_evicted(id) {
            return false;
        }
        self.waiting.insert(id, spans);
        self.failures = self.failures.saturating_add(1);
        let delay = self.retry.delay(self.failures, 0.5, None);
        self.next_attempt = self.next_attempt.max(Instant::now() + delay);
        true
    }

    /// Puts a record straight into the waiting line (a new batch that must
    /// queue behind older ones, or that found no free export slot).
    pub(crate) fn enqueue(&mut self, id: RecordId, spans: u64) {
        self.waiting.insert(id, spans);
    }

    /// Syncs what the fsync policy says is due (`force`: everything, now).
    pub(crate) fn sync(&mut self, force: bool) -> Result<(), DurableError> {
        self.queue.sync(force)
    }
}

fn next_id(id: RecordId) -> RecordId {
    RecordId::new(id.get().saturating_add(1))
}
