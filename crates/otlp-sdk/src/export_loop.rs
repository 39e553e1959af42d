//! The export loop: one thread per pipeline that cuts batches from the
//! record queue, writes the request framing around their already encoded
//! records into a pooled buffer (transcoding to OTLP/JSON when the exporter
//! wants it), and hands it to an export task on the pipeline's own tokio
//! runtime; plus the export task with its retries.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use otlp_core::encode::{
    Encoding, TranscodeError, logs_request_to_json, metrics_request_to_json, trace_request_to_json,
};

use crate::backlog::{Backlog, NextRecord, Redelivery};
use crate::batch::Batch;
use crate::batch_size::BatchSizer;
use crate::config::BatchConfig;
use crate::deadline::{deadline_after, later};
use crate::diagnostics::LossReporter;
use crate::durable::{DurableConfig, DurableError, FsyncPolicy, RecordId};
use crate::error::{PipelineError, Records};
use crate::export_runtime::ExportRuntime;
use crate::exporter::{ExportOutcome, ExportRequest, Exporter, Signal};
use crate::pool::Pool;
use crate::retry::{RetryCutoff, RetryPolicy, SendEvent, Settlement};
use crate::shared::Shared;
use crate::stats::Stats;

/// How long a cut under `FsyncPolicy::EveryBatch` waits for a producer
/// caught writing a record into its block (it is done in well under a
/// microsecond unless preempted).
const STEAL_WAIT: Duration = Duration::from_millis(10);

/// How soon the loop looks again at a block that a tick found out of its
/// slot, its thread writing a record (done in well under a microsecond
/// unless preempted): the records already in it then wait a millisecond
/// more than the scheduled delay, not a second delay. Not waited for at the
/// tick itself (the writer is most likely done a millisecond later, and a
/// wait would hold up the exports running on the loop's thread); the second
/// look waits for writers, up to [`STEAL_WAIT`], and is the last.
const STEAL_AGAIN_AFTER: Duration = Duration::from_millis(1);

/// The longest one turn of the loop cuts batches before it does its other
/// work (export results, flush and shutdown commands, the interval fsync,
/// the stats' `on_disk`, loss reports) and goes on cutting: a fraction of
/// the shortest interval that work has (a second for the fsync and the
/// progress a user watches). At the limit, with batches still ready (the
/// durable queue takes batches as fast as producers refill them, with no
/// export slot to run out of), the turn ends without waiting.
const CUT_TURN: Duration = Duration::from_millis(10);

/// Requests from the processor handles to the loop.
pub(crate) enum Command {
    Flush {
        reply: Sender<Result<(), PipelineError>>,
        deadline: Instant,
    },
    Shutdown {
        reply: Sender<Result<(), PipelineError>>,
        deadline: Instant,
    },
}

/// What the loop needs from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct LoopSettings {
    pub(crate) signal: Signal,
    pub(crate) encoding: Encoding,
    pub(crate) scheduled_delay: Duration,
    pub(crate) export_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) max_concurrent_exports: usize,
    pub(crate) max_request_bytes: usize,
    pub(crate) buffer_pool_size: usize,
    pub(crate) io_threads: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) batch: BatchConfig,
    pub(crate) durable: Option<DurableConfig>,
}

/// An export task's report to the loop.
struct Completion {
    seq: u64,
    latency: Duration,
    settlement: Settlement,
    /// The request's durable record, if it has one.
    record: Option<RecordId>,
    /// Retries ran out and the record stays on disk for a later round (not counted failed).
    parked: bool,
    /// The server's last throttle hint (`RetryInfo`, `Retry-After`): a
    /// parked record's next round waits at least that long.
    throttle: Option<Duration>,
}

/// How many records a request holds, and their bytes.
#[derive(Clone, Copy, Debug)]
struct Count {
    records: usize,
    bytes: u64,
}

/// A request handed to an export task and not yet settled.
struct InFlight {
    spans: u64,
    /// Its records' bytes (see [`crate::ByteAccount`]).
    bytes: u64,
    /// Whoever flips this first (the task, or shutdown abandoning it) counts the spans.
    settled: Arc<AtomicBool>,
    /// Its durable record: abandoned at shutdown, it stays on disk instead of failing.
    record: Option<RecordId>,
}

/// A request the durable queue could not store (a full disk, an I/O
/// error) that found no free export slot: it waits in memory, first in
/// line for the next slot, rather than go over `max_concurrent_exports`.
/// Its sequence number and [`InFlight`] entry are taken when it is cut, so
/// that flushes cover it and shutdown accounts for it.
struct Held {
    seq: u64,
    settled: Arc<AtomicBool>,
    body: Vec<u8>,
    /// The protobuf request a JSON `body` was transcoded from: what
    /// shutdown stores of it, as every append does.
    protobuf: Option<Vec<u8>>,
    count: Count,
    encoding: Encoding,
}

/// A `force_flush` (or the drain of a shutdown) waiting to complete.
struct PendingFlush {
    reply: Sender<Result<(), PipelineError>>,
    deadline: Instant,
    /// The caller's own deadline, a little after `deadline`: it stops
    /// waiting for the answer then.
    caller_deadline: Instant,
    /// The flush covers every span taken before `taken` reaches this.
    target_taken: u64,
    /// Requests with sequence numbers from here on may hold covered spans.
    first_seq: u64,
    /// Set once every covered span is in a request: the sequence number
    /// after the last such request (`first_seq..end_seq` are the requests
    /// the flush covers; none when both are equal).
    end_seq: Option<u64>,
    /// With the durable queue, set with `end_seq`: the newest record on
    /// disk then. Records up to it are covered whatever request carries them
    /// (a redelivery has a later sequence number); newer ones are not, so a
    /// flush under steady traffic ends.
    last_record: Option<RecordId>,
    /// Outcomes of covered requests, to report what was not delivered.
    failed: u64,
    rejected: u64,
    /// Spans left waiting on disk when the flush ended.
    persisted: u64,
    is_shutdown: bool,
}

pub(crate) struct ExportLoop<E> {
    shared: Arc<Shared>,
    exporter: Arc<E>,
    runtime: ExportRuntime,
    settings: LoopSettings,
    commands: Receiver<Command>,
    completions: Receiver<Completion>,
    completion_sender: Sender<Completion>,
    /// The records taken and being framed.
    batch: Batch,
    /// The protobuf request a JSON body is transcoded from.
    protobuf: Vec<u8>,
    buffers: Pool<Vec<u8>>,
    sizer: BatchSizer,
    /// Requests being exported, and those [`held`](Self::held) for a slot.
    in_flight: BTreeMap<u64, InFlight>,
    /// Requests the durable queue could not store, waiting in memory for an
    /// export slot (also in `in_flight`), oldest first.
    held: VecDeque<Held>,
    next_seq: u64,
    /// The next tick of the scheduled delay.
    next_cut: Instant,
    /// A tick has come: everything queued is cut as soon as it can be.
    cut_pending: bool,
    /// The tick found a thread writing, its block (with the records it
    /// already holds) out of its slot: the next turn, within
    /// [`STEAL_AGAIN_AFTER`], takes every block, waiting for writers, and
    /// cuts as a tick does.
    steal_again: bool,
    /// The last turn stopped cutting at [`CUT_TURN`] with batches still
    /// ready: the next one comes without waiting.
    cut_more: bool,
    /// Every cut first takes every thread's block (`FsyncPolicy::EveryBatch`).
    cut_covers_every_handed_record: bool,
    flushes: Vec<PendingFlush>,
    /// The durable queue, when on.
    backlog: Option<Backlog>,
    /// Shutdown is finishing: nothing new is exported.
    stopping: bool,
    /// Set once shutdown has been carried out; `run` returns.
    finished: bool,
    /// What it told of its losses ([`crate::diagnostics`]).
    losses: LossReporter,
    /// The shutdown's deadline once one begins, for the export tasks: no
    /// retry starts after it ([`RetryPolicy::send_until`]).
    retry_cutoff: RetryCutoff,
}

impl<E: Exporter> ExportLoop<E> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        exporter: E,
        settings: LoopSettings,
        commands: Receiver<Command>,
    ) -> Result<Self, PipelineError> {
        let runtime = ExportRuntime::new(settings.io_threads).map_err(|error| {
            PipelineError::Start(format!("cannot build the export runtime: {error}"))
        })?;
        let backlog = match settings.durable.clone() {
            Some(config) => Some(open_backlog(&shared, config, settings.retry.clone())?),
            None => None,
        };
        let (completion_sender, completions) = crossbeam_channel::unbounded();
        let sizer = BatchSizer::new(&settings.batch, settings.attempt_timeout);
        shared.queue.set_wake_at(sizer.current());
        Ok(ExportLoop {
            shared,
            exporter: Arc::new(exporter),
            runtime,
            commands,
            completions,
            completion_sender,
            batch: Batch::default(),
            protobuf: Vec::new(),
            buffers: Pool::with_reset(settings.buffer_pool_size, Vec::new, Vec::clear),
            sizer,
            in_flight: BTreeMap::new(),
            held: VecDeque::new(),
            next_seq: 0,
            next_cut: first_tick(settings.scheduled_delay),
            cut_pending: false,
            steal_again: false,
            cut_more: false,
            cut_covers_every_handed_record: settings
                .durable
                .as_ref()
                .is_some_and(|durable| durable.fsync == FsyncPolicy::EveryBatch),
            flushes: Vec::new(),
            backlog,
            stopping: false,
            finished: false,
            losses: LossReporter::default(),
            retry_cutoff: RetryCutoff::new(),
            settings,
        })
    }

    /// Runs until shutdown completes.
    pub(crate) fn run(mut self) {
        loop {
            crate::own_threads::catch_up();
            self.receive_commands();
            self.receive_completions();
            self.cut_ready_batches();
            self.complete_flushes();
            if self.finished {
                // Shutdown has answered by its deadline; work the runtime
                // still runs (a compression or DNS lookup in its blocking
                // pool) must not hold the thread that joins this one.
                self.runtime.shutdown_background();
                return;
            }
            self.sync_backlog(false);
            self.note_on_disk();
            self.report_losses(false);
            if std::mem::take(&mut self.cut_more) {
                // Batches are ready: the exports get their turn, not a wait.
                self.runtime.turn();
            } else {
                self.wait();
            }
        }
    }

    fn receive_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            let (reply, deadline, is_shutdown) = match command {
                Command::Flush { reply, deadline } => (reply, deadline, false),
                Command::Shutdown { reply, deadline } => (reply, deadline, true),
            };
            // Leave time to settle accounts and answer before the caller's
            // deadline, even on a loaded machine where this thread runs a
            // few milliseconds late: a tenth of the time, at most 50 ms
            // (a twentieth, at most 20 ms, was once too little for a
            // 200 ms shutdown while every test of a binary ran at once).
            // A shutdown with a durable queue also ends with an fsync, which
            // must end by the caller's deadline for the records on disk to
            // count as kept; a busy disk takes more than 50 ms for it: a
            // quarter of the time, at most half a second. The exports this
            // cuts short (first attempts included) keep their records on
            // disk for the next start, but for any the disk refused or its
            // cap evicted, which are lost a little sooner.
            let (share, at_most) = if is_shutdown && self.backlog.is_some() {
                (4, Duration::from_millis(500))
            } else {
                (10, Duration::from_millis(50))
            };
            let caller_deadline = deadline;
            let deadline = deadline
                - (deadline.saturating_duration_since(Instant::now()) / share).min(at_most);
            if is_shutdown {
                // Requests waiting to retry after this deadline fail now,
                // rather than hold shutdown to it for nothing; the others
                // retry as they would have.
                self.retry_cutoff.cut_off_at(deadline);
            }
            // Every span that ended before the command is in a handed
            // block once the partly filled ones are handed over, including
            // the block of a thread caught writing its next span (taken out
            // of its slot then): that one is waited for.
            self.shared.queue.steal_all_blocks(deadline);
            let taken = self.shared.stats.taken.load(Ordering::Acquire);
            let target_taken = taken + self.shared.queue.handed_records() as u64;
            let first_seq = self
                .in_flight
                .keys()
                .next()
                .copied()
                .unwrap_or(self.next_seq);
            // Nothing queued: every covered span is already in a request
            // made (none if no request is in flight: an empty range, not
            // every request to come).
            let end_seq = (target_taken <= taken).then_some(self.next_seq);
            self.flushes.push(PendingFlush {
                reply,
                deadline,
                caller_deadline,
                target_taken,
                first_seq,
                end_seq,
                last_record: self.backlog.as_ref().and_then(Backlog::newest),
                failed: 0,
                rejected: 0,
                persisted: 0,
                is_shutdown,
            });
        }
    }

    fn receive_completions(&mut self) {
        while let Ok(completion) = self.completions.try_recv() {
            let (spans, bytes) = self
                .in_flight
                .remove(&completion.seq)
                .map_or((0, 0), |request| (request.spans, request.bytes));
            self.sizer.on_export_latency(completion.latency);
            if let (Some(backlog), Some(id)) = (&mut self.backlog, completion.record) {
                match finish_record(backlog, id, &completion, spans, bytes) {
                    Ok(true) => {}
                    Ok(false) => {
                        let stats = &self.shared.stats;
                        stats.drop_taken(&stats.dropped_durable, spans, bytes);
                    }
                    Err(error) => self.shared.stats.record_error(error),
                }
            }
            for flush in &mut self.flushes {
                let covered = completion.seq >= flush.first_seq
                    && flush.end_seq.is_none_or(|end| completion.seq < end);
                // A parked request is not failed: it waits on disk (reported
                // when the flush ends, with the rest of the waiting line).
                if covered && !completion.parked {
                    flush.failed += completion.settlement.failed;
                    flush.rejected += completion.settlement.rejected;
                }
            }
        }
        self.shared.queue.set_wake_at(self.sizer.current());
    }

    fn draining(&self) -> bool {
        let taken = self.shared.stats.taken.load(Ordering::Acquire);
        self.flushes.iter().any(|flush| flush.target_taken > taken)
            || self.flushes.iter().any(|flush| flush.is_shutdown)
    }

    /// Whether a request held for an export slot may take a free one: not
    /// during a shutdown while the backend fails. It has no record on disk:
    /// its first attempt would most likely fail and its retry come after the
    /// deadline (called off then), and it would be lost, where shutdown
    /// stores it for the next start instead (see `finish_shutdown`). A slot
    /// frees then when a retry is called off by the shutdown.
    fn held_may_go(&self) -> bool {
        !(self.shared.progress.is_failing() && self.flushes.iter().any(|flush| flush.is_shutdown))
    }

    /// Whether an export slot is free: requests held for one do not take one.
    fn has_permit(&self) -> bool {
        !self.stopping
            && self.in_flight.len() - self.held.len() < self.settings.max_concurrent_exports
    }

    fn cut_ready_batches(&mut self) {
        // The scheduled delay is a tick, not a timer that every cut restarts:
        // at each tick the blocks still being filled are handed over and
        // everything queued is cut, so no record waits longer than one
        // delay for a slow thread's block to fill while other threads keep
        // batches full. They are also handed over for a flush, and when a
        // producer finds no room; then what there is is cut at once (a byte
        // budget may hold less than a batch). And when one thread's block
        // holds a batch (small records): then full batches are cut.
        //
        // A zero delay has no tick (it would come at once, forever): every
        // turn of the loop cuts what there is, and the loop sleeps until a
        // record comes (`RecordQueue::waking_on_every_record`).
        //
        // A tick that finds a thread writing a record, its block (and the
        // records already in it) out of its slot, looks once more at the
        // next turn, within `STEAL_AGAIN_AFTER`, waiting for writers then,
        // and cuts what that brings as a tick does. Once: under threads
        // that write all the time, second looks that each asked for a third
        // would tick every millisecond. (A zero delay needs none: a writer
        // wakes an idle loop once its record is in.)
        let now = Instant::now();
        let mut ticked = false;
        if self.settings.scheduled_delay.is_zero() {
            self.cut_pending = true;
        } else if now >= self.next_cut {
            self.next_cut = later(now, self.settings.scheduled_delay);
            self.cut_pending = true;
            ticked = true;
        }
        if std::mem::take(&mut self.steal_again) {
            self.shared
                .queue
                .steal_all_blocks(Instant::now() + STEAL_WAIT);
            self.cut_pending = true;
        }
        // A batch's worth in threads' blocks is taken to be cut as one,
        // waiting for its thread if it is writing the next record; if that
        // takes too long (the thread preempted), the next turn tries again.
        if self.shared.queue.take_batch_in_blocks()
            && !self
                .shared
                .queue
                .steal_all_blocks(Instant::now() + STEAL_WAIT)
        {
            self.shared.queue.want_batch_in_blocks();
        }
        let room_wanted = self.shared.queue.room_wanted();
        if self.cut_pending || self.draining() || room_wanted {
            let held = self.shared.queue.steal_partial_blocks();
            self.steal_again = held && ticked;
        }
        // The strictest fsync policy: a batch written to disk holds every
        // record handed over before it was cut.
        let mut cutting_everything = false;
        // One batch (or redelivery) at least per turn, however long the
        // steals above waited.
        let turn_started = Instant::now();
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) && turn_started.elapsed() >= CUT_TURN {
                // Producers keep up with the cutting: the rest of the loop's
                // work first, then more cutting.
                self.cut_more = true;
                break;
            }
            if self.has_permit() && self.backlog.as_ref().is_some_and(|b| b.due(Instant::now())) {
                // Records waiting on disk are older than anything queued: they go first.
                self.redeliver_next();
                continue;
            }
            if self.has_permit()
                && self.held_may_go()
                && let Some(held) = self.held.pop_front()
            {
                // Then the requests the disk refused, older than anything queued.
                self.spawn_task(
                    held.seq,
                    held.settled,
                    held.body,
                    held.count,
                    None,
                    held.encoding,
                );
                continue;
            }
            let mut queued = self.shared.queue.handed_records();
            // Held requests mean that no slot is free and that the disk
            // refuses batches: nothing more is cut until they go.
            if queued == 0 || !self.held.is_empty() || !(self.has_permit() || self.can_park()) {
                break;
            }
            let ready = queued >= self.sizer.current()
                || self.cut_pending
                || cutting_everything
                || room_wanted
                || self.draining();
            if !ready {
                break;
            }
            if self.cut_covers_every_handed_record && !cutting_everything {
                cutting_everything = true;
                self.shared
                    .queue
                    .steal_all_blocks(Instant::now() + STEAL_WAIT);
                queued = self.shared.queue.handed_records();
            }
            self.cut_batch(queued);
        }
        if self.shared.queue.handed_records() == 0 {
            self.cut_pending = false;
        }
    }

    /// With the durable queue, a batch is cut when it is due whether or not
    /// an export slot is free: without one it waits on disk. So what the
    /// program hands over is on disk within a batch's time, not held in
    /// memory until exports move again (an outage fills the disk, and a
    /// crash loses only what had not yet been cut) — while the disk has room
    /// (see `Backlog::has_room`: up to the cap while the backend is down);
    /// then batches wait in memory again, and the program for room.
    fn can_park(&self) -> bool {
        let backend_down = self.shared.progress.is_failing();
        self.backlog
            .as_ref()
            .is_some_and(|backlog| backlog.has_room(backend_down))
    }

    /// Reads the oldest waiting record back from disk and exports it.
    fn redeliver_next(&mut self) {
        let Some(backlog) = &mut self.backlog else {
            return;
        };
        let mut body = self.buffers.get().detach();
        match backlog.take_next(&mut body) {
            Some(NextRecord::Ready(record)) => {
                if record.newly_measured {
                    // Recovered at start: in the byte account from now on.
                    Stats::add(&self.shared.stats.recovered_bytes, record.bytes);
                }
                let (body, encoding) = self.in_exporter_encoding(body, record.encoding);
                if body.len() > self.settings.max_request_bytes {
                    self.drop_oversized_redelivery(body, &record, encoding);
                    return;
                }
                let count = Count {
                    records: record.spans as usize,
                    bytes: record.bytes,
                };
                self.spawn_export(body, count, Some(record.id), encoding);
            }
            Some(NextRecord::Lost {
                spans,
                bytes,
                error,
            }) => {
                self.buffers.put(body);
                let stats = &self.shared.stats;
                stats.drop_taken(&stats.dropped_durable, spans, bytes.unwrap_or(0));
                self.shared.stats.record_error(format!(
                    "{} lost: their durable record could not be read back: {error}",
                    Records(spans, self.settings.signal)
                ));
            }
            Some(NextRecord::Deferred { spans, error }) => {
                self.buffers.put(body);
                self.shared.stats.record_error(format!(
                    "{} wait on disk: their durable record could not be read back now, trying \
                     again after a backoff: {error}",
                    Records(spans, self.settings.signal)
                ));
            }
            None => self.buffers.put(body),
        }
    }

    /// A record read back from disk larger, in the exporter's `encoding`,
    /// than the request cap (a protobuf record transcoded for a JSON
    /// exporter; or one stored by a run whose cap was larger) is dropped
    /// and counted `dropped_oversized`, as a fresh request of one record
    /// larger than the cap is, and leaves the disk: it is never sent. A
    /// flush that covers it reports its records undelivered.
    fn drop_oversized_redelivery(
        &mut self,
        body: Vec<u8>,
        record: &Redelivery,
        encoding: Encoding,
    ) {
        let size = body.len();
        self.buffers.put(body);
        let stats = &self.shared.stats;
        stats.drop_taken(&stats.dropped_oversized, record.spans, record.bytes);
        stats.record_error(format!(
            "a request of {} read back from disk was dropped: {size} bytes as {encoding:?}, \
             larger than the {} byte request cap",
            Records(record.spans, self.settings.signal),
            self.settings.max_request_bytes
        ));
        if let Some(backlog) = &mut self.backlog
            && let Err(error) = backlog.settled(record.id, false)
        {
            self.shared.stats.record_error(error);
        }
        for flush in &mut self.flushes {
            if flush.end_seq.is_none()
                || flush
                    .last_record
                    .is_some_and(|through| record.id <= through)
            {
                flush.failed += record.spans;
            }
        }
    }

    /// A record read back from disk, in the exporter's encoding: a protobuf
    /// record (every record since JSON bodies are stored as their protobuf
    /// source) is transcoded for a JSON exporter. A JSON record (written by
    /// an earlier version) goes as it is: a protobuf exporter refuses it,
    /// and it is counted as failed.
    fn in_exporter_encoding(&mut self, body: Vec<u8>, stored: Encoding) -> (Vec<u8>, Encoding) {
        if stored != Encoding::Protobuf || self.settings.encoding != Encoding::Json {
            return (body, stored);
        }
        let mut json = self.buffers.get().detach();
        match json_transcoder(self.settings.signal)(&body, &mut json) {
            Ok(_) => {
                self.buffers.put(body);
                (json, Encoding::Json)
            }
            // What could not be written as JSON when it was cut cannot now:
            // the exporter refuses the protobuf, and it is counted as failed.
            Err(_) => {
                self.buffers.put(json);
                (body, stored)
            }
        }
    }

    /// Sends a freshly encoded request: to disk first when the durable queue
    /// is on, then to the exporter — or, behind older waiting records or
    /// without a free export slot, into the waiting line on disk.
    ///
    /// One the disk refuses goes to the exporter from memory; without a
    /// free export slot it is [`held`](Self::held) in memory for the next
    /// one, and once shutdown is stopping exports (it cuts what is queued
    /// for the disk) it is dropped at shutdown, as what is still queued when
    /// the queue closes.
    ///
    /// A JSON body (`from_protobuf`: transcoded from `self.protobuf`) is
    /// stored as that protobuf: smaller, and readable by the next run
    /// whichever encoding its exporter sends (see
    /// [`in_exporter_encoding`](Self::in_exporter_encoding)).
    fn dispatch(&mut self, body: Vec<u8>, count: Count, from_protobuf: bool) {
        let encoding = self.settings.encoding;
        let spans = count.records;
        let mut record = None;
        if let Some(backlog) = &mut self.backlog {
            let appended = if from_protobuf {
                backlog.append(Encoding::Protobuf, spans as u64, &self.protobuf)
            } else {
                backlog.append(encoding, spans as u64, &body)
            };
            let evicted = appended.evicted_spans;
            if evicted > 0 {
                let stats = &self.shared.stats;
                stats.drop_taken(&stats.dropped_durable, evicted, appended.evicted_bytes);
                self.shared.stats.record_error(format!(
                    "the durable queue reached its disk cap: {} waiting were dropped",
                    Records(evicted, self.settings.signal)
                ));
            }
            match appended.stored {
                Ok(id) => record = Some(id),
                // Not durable, but not lost either: export it from memory.
                Err(error) => self.shared.stats.record_error(error),
            }
        }
        let has_permit = self.has_permit();
        if let (Some(backlog), Some(id)) = (&mut self.backlog, record)
            && (backlog.has_waiting() || !has_permit)
        {
            backlog.enqueue(id, spans as u64, count.bytes);
            self.buffers.put(body);
            return;
        }
        if record.is_none() && !has_permit {
            // Only with the durable queue: without it nothing is cut
            // without a slot.
            if self.stopping {
                self.buffers.put(body);
                let stats = &self.shared.stats;
                stats.drop_taken(&stats.dropped_shutdown_taken, spans as u64, count.bytes);
                return;
            }
            let (seq, settled) = self.start_request(count, None);
            let protobuf = from_protobuf.then(|| self.protobuf.clone());
            self.held.push_back(Held {
                seq,
                settled,
                body,
                protobuf,
                count,
                encoding,
            });
            return;
        }
        self.spawn_export(body, count, record, encoding);
    }

    /// Where the durable queue's spans are, for the stats: on disk, waiting
    /// or being exported from there. A record the disk cap evicted while
    /// being exported is not on disk any more: its export goes on from memory.
    fn note_on_disk(&self) {
        if let Some(backlog) = &self.backlog {
            self.shared.progress.note_disk_room(self.can_park());
            let exporting: u64 = self
                .in_flight
                .values()
                .filter(|request| request.record.is_some_and(|id| !backlog.was_evicted(id)))
                .map(|request| request.spans)
                .sum();
            let on_disk = backlog.waiting_spans() + exporting;
            self.shared.stats.on_disk.store(on_disk, Ordering::Release);
        }
    }

    fn sync_backlog(&mut self, force: bool) {
        if let Some(backlog) = &mut self.backlog
            && let Err(error) = backlog.sync(force)
        {
            self.shared.stats.record_error(error);
        }
    }

    fn cut_batch(&mut self, queued: usize) {
        self.sizer.on_cut(queued);
        self.shared.queue.set_wake_at(self.sizer.current());
        let count = self.batch.take(
            &self.shared.queue,
            self.sizer.current(),
            self.settings.max_request_bytes,
        );
        if count == 0 {
            return;
        }
        self.shared.progress.note_take();
        let stats = &self.shared.stats;
        // Before any of them can settle.
        Stats::add(&stats.taken_bytes, self.batch.record_bytes(0..count));
        Stats::add(&stats.taken, count as u64);
        Stats::add(&stats.batches, 1);
        stats.batch_sizes.record(count as u64);
        let unsent = self.write_requests(0..count);
        self.batch.finish(&self.shared.queue);
        // Flushes still collecting their spans count the unsent ones as undelivered.
        for flush in self
            .flushes
            .iter_mut()
            .filter(|flush| flush.end_seq.is_none())
        {
            flush.failed += unsent;
        }
        self.mark_flushes_covered();
    }

    /// Writes the batch's records `range` as requests in the exporter's
    /// encoding and dispatches them; returns the records not sent: dropped as
    /// too large, or failed because they could not be written as JSON.
    ///
    /// A protobuf request fits the size cap by construction (the batch was
    /// taken to fit). A JSON body is larger than its protobuf source: one
    /// over the cap is split in halves, and a single record still over it is
    /// dropped and counted.
    fn write_requests(&mut self, range: std::ops::Range<usize>) -> u64 {
        let count = range.len();
        let bytes = self.batch.record_bytes(range.clone());
        let request = Count {
            records: count,
            bytes,
        };
        let mut body = self.buffers.get().detach();
        if self.settings.encoding == Encoding::Protobuf {
            self.batch.write(range, &mut body);
            self.dispatch(body, request, false);
            return 0;
        }
        self.protobuf.clear();
        self.batch.write(range.clone(), &mut self.protobuf);
        if let Err(error) = json_transcoder(self.settings.signal)(&self.protobuf, &mut body) {
            // A value nested deeper than the transcoder allows (100
            // messages), or a bug: counted rather than hidden.
            self.buffers.put(body);
            self.shared.stats.fail(count as u64, bytes);
            self.shared.stats.record_error(format!(
                "{} could not be written as JSON: {error}",
                Records(count as u64, self.settings.signal)
            ));
            return count as u64;
        }
        if body.len() <= self.settings.max_request_bytes {
            self.dispatch(body, request, true);
            return 0;
        }
        self.buffers.put(body);
        if count == 1 {
            let stats = &self.shared.stats;
            stats.drop_taken(&stats.dropped_oversized, 1, bytes);
            self.shared.stats.record_error(format!(
                "a {} larger, as JSON, than the {} byte request cap was dropped",
                self.settings.signal.record_noun(),
                self.settings.max_request_bytes
            ));
            return 1;
        }
        let middle = range.start + count / 2;
        self.write_requests(range.start..middle) + self.write_requests(middle..range.end)
    }

    /// Flushes whose spans have all been taken now know their last request
    /// (the last one made, if any).
    fn mark_flushes_covered(&mut self) {
        let taken = self.shared.stats.taken.load(Ordering::Acquire);
        let newest = self.backlog.as_ref().and_then(Backlog::newest);
        for flush in &mut self.flushes {
            if flush.end_seq.is_none() && taken >= flush.target_taken {
                flush.end_seq = Some(self.next_seq);
                flush.last_record = newest;
            }
        }
    }

    fn spawn_export(
        &mut self,
        body: Vec<u8>,
        count: Count,
        record: Option<RecordId>,
        encoding: Encoding,
    ) {
        let (seq, settled) = self.start_request(count, record);
        self.spawn_task(seq, settled, body, count, record, encoding);
    }

    /// Gives a request its sequence number and its place in `in_flight`.
    fn start_request(&mut self, count: Count, record: Option<RecordId>) -> (u64, Arc<AtomicBool>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let settled = Arc::new(AtomicBool::new(false));
        self.in_flight.insert(
            seq,
            InFlight {
                spans: count.records as u64,
                bytes: count.bytes,
                settled: settled.clone(),
                record,
            },
        );
        (seq, settled)
    }

    /// Starts the export task of a request [`start_request`](Self::start_request) registered.
    fn spawn_task(
        &mut self,
        seq: u64,
        settled: Arc<AtomicBool>,
        body: Vec<u8>,
        count: Count,
        record: Option<RecordId>,
        encoding: Encoding,
    ) {
        let span_count = count.records;
        let task = ExportTask {
            exporter: self.exporter.clone(),
            shared: self.shared.clone(),
            retry: self.settings.retry.clone(),
            retry_cutoff: self.retry_cutoff.clone(),
            attempt_timeout: self.settings.attempt_timeout,
            deadline: deadline_after(self.settings.export_timeout),
            settled,
            seq,
            completions: self.completion_sender.clone(),
            buffers: self.buffers.clone(),
            record,
            record_bytes: count.bytes,
        };
        let request = ExportRequest {
            body: Bytes::from(body),
            encoding,
            span_count,
        };
        self.runtime.spawn(task.run(request));
    }

    fn complete_flushes(&mut self) {
        let now = Instant::now();
        let mut index = 0;
        while index < self.flushes.len() {
            let flush = &self.flushes[index];
            let done = flush.end_seq.is_some_and(|end| {
                self.in_flight
                    .range(flush.first_seq..)
                    .next()
                    .is_none_or(|(&seq, _)| seq >= end)
                    && self.covered_records_settled(flush.last_record, now)
            });
            if !done && now < flush.deadline {
                index += 1;
                continue;
            }
            if done
                && flush.is_shutdown
                && now < flush.deadline
                && self.late_spans_handed(flush.deadline)
            {
                // Spans a producer was writing when shutdown took the
                // partly filled blocks (its block out of its slot): they
                // were queued before shutdown began, and are exported too.
                let taken = self.shared.stats.taken.load(Ordering::Acquire);
                let flush = &mut self.flushes[index];
                flush.target_taken = taken + self.shared.queue.handed_records() as u64;
                flush.end_seq = None;
                index += 1;
                continue;
            }
            let mut flush = self.flushes.swap_remove(index);
            if flush.is_shutdown {
                self.finish_shutdown(flush, done);
                return;
            }
            // What it covers that waits on disk, not what came after it.
            flush.persisted = match (&self.backlog, flush.last_record) {
                (Some(backlog), Some(through)) => backlog.waiting_spans_through(through),
                _ => 0,
            };
            let result = if !done {
                Err(PipelineError::Timeout {
                    pending: self.pending_for(&flush),
                    signal: self.settings.signal,
                })
            } else {
                settled_result(&flush, self.settings.signal)
            };
            let _ = flush.reply.send(result);
        }
    }

    /// With the durable queue: whether no record up to `through` is being
    /// exported (records sent again from disk get new sequence numbers) or
    /// waits on disk to be sent now. Records backing off after a failure are
    /// not on their way: the flush ends and reports them persisted.
    fn covered_records_settled(&self, through: Option<RecordId>, now: Instant) -> bool {
        let (Some(backlog), Some(through)) = (&self.backlog, through) else {
            return true;
        };
        !backlog.due_through(through, now)
            && !self
                .in_flight
                .values()
                .any(|request| request.record.is_some_and(|id| id <= through))
    }

    /// Takes the producers' partly filled blocks once more, waiting for a
    /// producer caught writing (until `deadline`); whether any spans came.
    fn late_spans_handed(&self, deadline: Instant) -> bool {
        self.shared.queue.steal_all_blocks(deadline);
        self.shared.queue.handed_records() > 0
    }

    /// Covered spans not yet settled: still queued, or in requests in flight.
    fn pending_for(&self, flush: &PendingFlush) -> u64 {
        let taken = self.shared.stats.taken.load(Ordering::Acquire);
        let still_queued = flush.target_taken.saturating_sub(taken);
        // Never before `first_seq` (a range whose start is past its end
        // panics).
        let end = flush.end_seq.unwrap_or(u64::MAX).max(flush.first_seq);
        let in_flight: u64 = self
            .in_flight
            .range(flush.first_seq..end)
            .map(|(_, request)| request.spans)
            .sum();
        still_queued + in_flight
    }

    /// Ends the pipeline: whatever is still queued is dropped and whatever is
    /// still in flight is failed (both counted), then the runtime is stopped.
    fn finish_shutdown(&mut self, mut flush: PendingFlush, done: bool) {
        let pending = if done { 0 } else { self.pending_for(&flush) };
        // Before they are counted: a caller that timed out reads it.
        self.shared.left_at_shutdown.publish(pending);
        self.stopping = true;
        if self.backlog.is_some() {
            // Requests held for an export slot go to disk first (they are
            // older than anything queued), or are dropped at shutdown if it
            // still refuses them.
            for held in std::mem::take(&mut self.held) {
                self.in_flight.remove(&held.seq);
                let from_protobuf = match held.protobuf {
                    Some(protobuf) => {
                        self.protobuf = protobuf;
                        true
                    }
                    None => false,
                };
                self.dispatch(held.body, held.count, from_protobuf);
            }
            // What is still queued goes to disk for the next start.
            self.shared.queue.steal_partial_blocks();
            while self.shared.queue.handed_records() > 0 {
                let before = self.shared.queue.handed_records();
                self.cut_batch(before);
                if self.shared.queue.handed_records() >= before {
                    break;
                }
            }
        }
        // Answers that came while queued spans went to disk.
        self.receive_completions();
        let left = settle_in_flight(&self.in_flight, self.backlog.as_mut());
        let stats = &self.shared.stats;
        // Closed for good: what is still queued is dropped and counted, and
        // a producer racing with this discards (and counts) its own.
        let (unread, unread_bytes) = self.batch.drop_unread(&self.shared.queue);
        let closed = self.shared.queue.close();
        Stats::add(&stats.discarded_bytes, unread_bytes + closed.written_bytes);
        Stats::add(&stats.refused_bytes, closed.refused_bytes);
        let discarded = unread + closed.records;
        if discarded > 0 {
            Stats::add(&stats.dropped_shutdown, discarded);
        }
        for error in left.errors {
            stats.record_error(error);
        }
        let (abandoned, mut persisted, evicted) = (left.abandoned, left.persisted, left.evicted);
        stats.drop_taken(&stats.dropped_durable, evicted, left.evicted_bytes);
        if abandoned > 0 {
            stats.fail(abandoned, left.abandoned_bytes);
            // The error they were being retried for, if any, stays in the
            // message: the deadline is why they failed, not what went wrong.
            let cause = stats
                .last_error()
                .map(|error| format!(" (the last error before it: {error})"))
                .unwrap_or_default();
            stats.record_error(format!(
                "{} still in flight at the shutdown deadline{cause}",
                Records(abandoned, self.settings.signal)
            ));
        }
        if let Some(backlog) = &self.backlog {
            persisted += backlog.waiting_spans();
        }
        Stats::add(&stats.persisted, persisted);
        stats.on_disk.store(persisted, Ordering::Release);
        flush.persisted = persisted;
        self.in_flight.clear();
        // The last fsync runs beside the exporter's release, on a thread of
        // its own, and is waited for only while the caller waits. Until it
        // ends, a caller that stops waiting does not count the records on
        // disk as kept (see `BatchPipeline::left_pending`).
        if persisted > pending && self.backlog.is_some() {
            self.shared.left_at_shutdown.publish(persisted);
        }
        let final_sync = self
            .backlog
            .take()
            .map(|backlog| FinalSync::start(backlog, self.settings.signal));
        // Give the exporter what is left of the deadline to release resources.
        let remaining = flush.deadline.saturating_duration_since(Instant::now());
        let exporter = self.exporter.clone();
        // An exporter whose shutdown panics must not take the loop down
        // before it answers (the caller would hear a timeout instead).
        let released = self.runtime.runtime().block_on(async move {
            let release = CatchPanic(Box::pin(async move { exporter.shutdown().await }));
            tokio::time::timeout(remaining, release).await
        });
        if let Ok(Err(panic)) = released {
            self.shared.stats.record_error(format!(
                "the exporter panicked at shutdown: {}",
                panic_message(panic.as_ref())
            ));
        }
        let synced = match final_sync.map(|sync| sync.wait(flush.caller_deadline)) {
            Some(Some((backlog, synced))) => {
                self.shared.left_at_shutdown.publish(pending);
                if let Err(error) = synced {
                    self.shared.stats.record_error(error);
                }
                // Dropped with the loop, before the caller's join returns:
                // the next start finds the directory free.
                self.backlog = Some(backlog);
                true
            }
            Some(None) => {
                let at_risk = if persisted > 0 {
                    format!(
                        "{} on disk may not survive a power loss",
                        Records(persisted, self.settings.signal)
                    )
                } else {
                    "after a power loss, records already exported may be sent again".to_owned()
                };
                self.shared.stats.record_error(format!(
                    "the durable queue's last fsync did not finish by the shutdown deadline: \
                     {at_risk}"
                ));
                false
            }
            None => true,
        };
        let result = if !synced && persisted > 0 {
            // Kept on disk is not claimed for records whose sync did not end.
            Err(PipelineError::Timeout {
                pending: pending.max(persisted),
                signal: self.settings.signal,
            })
        } else if pending > 0 && persisted < pending {
            Err(PipelineError::Timeout {
                pending,
                signal: self.settings.signal,
            })
        } else {
            settled_result(&flush, self.settings.signal)
        };
        // Before answering: the caller's shutdown returns with every loss told.
        self.report_losses(true);
        // Flushes still waiting learn that the pipeline is gone.
        for other in self.flushes.drain(..) {
            let _ = other.reply.send(Err(PipelineError::ShutDown));
        }
        let _ = flush.reply.send(result);
        self.finished = true;
    }

    /// Tells the process's loss handler what was lost since the last
    /// report (see [`LossReporter::report`]); at shutdown (`finishing`)
    /// whatever is left.
    fn report_losses(&mut self, finishing: bool) {
        let stats = &self.shared.stats;
        self.losses.report(
            self.settings.signal,
            stats.losses(),
            || stats.last_error(),
            finishing,
        );
    }

    /// When the loop's next wait ends at the latest: the next tick, a
    /// flush's deadline, the durable queue's next redelivery or sync, or a
    /// second look at a block the last tick missed.
    fn wait_deadline(&self) -> Instant {
        let mut deadline = self.next_cut;
        for flush in &self.flushes {
            deadline = deadline.min(flush.deadline);
        }
        if let Some(backlog) = &self.backlog {
            if self.has_permit()
                && let Some(due) = backlog.next_due()
            {
                deadline = deadline.min(due);
            }
            if let Some(sync) = backlog.next_sync() {
                deadline = deadline.min(sync);
            }
        }
        if self.steal_again {
            deadline = deadline.min(later(Instant::now(), STEAL_AGAIN_AFTER));
        }
        deadline
    }

    fn wait(&self) {
        let deadline = self.wait_deadline();
        // While every permit is taken, more spans cannot be exported: sleep
        // until an export finishes instead of being woken by producers —
        // unless batches go to disk then (the durable queue).
        let wake_on_spans = self.has_permit() || self.can_park();
        // A finished export changes what the loop does next only when it
        // waits for a permit, a flush or shutdown, or the durable queue;
        // otherwise the completion waits for the next wake-up, and the export
        // task spares itself waking this thread (one wake-up per request, 3%
        // of the sender's CPU at a steady 50,000 spans/s).
        let wake_on_completions =
            !self.has_permit() || !self.flushes.is_empty() || self.backlog.is_some();
        let mut waited = false;
        self.shared.queue.park_loop(
            deadline,
            wake_on_spans,
            wake_on_completions,
            || !self.commands.is_empty() || !self.completions.is_empty(),
            |deadline, wake| {
                waited = true;
                self.runtime.wait(deadline, wake);
            },
        );
        // Work is waiting already. Without a durable queue the loop waits
        // again within `max_concurrent_exports` batches (it runs out of
        // permits), and the exports running on its thread progress then; with
        // one, batches go to disk while producers outpace the loop, which
        // could then keep busy indefinitely: the exports get their turn.
        if !waited && self.backlog.is_some() {
            self.runtime.turn();
        }
    }
}

/// The first tick of the scheduled `delay`; none (a century away) for a
/// zero delay, which cuts at every turn of the loop instead.
/// The transcoder of a `signal`'s protobuf requests to OTLP/JSON.
fn json_transcoder(signal: Signal) -> fn(&[u8], &mut Vec<u8>) -> Result<usize, TranscodeError> {
    match signal {
        Signal::Traces => trace_request_to_json,
        Signal::Logs => logs_request_to_json,
        // The batch pipelines carry spans and log records; metrics go
        // through the periodic reader. Transcoded all the same if they come.
        Signal::Metrics => metrics_request_to_json,
    }
}

fn first_tick(delay: Duration) -> Instant {
    if delay.is_zero() {
        deadline_after(Duration::MAX)
    } else {
        deadline_after(delay)
    }
}

/// What a finished request's durable record becomes. Retries that ran out
/// park it for a later round, after the backoff (`false`: the disk cap
/// evicted it meanwhile, its `spans` are lost). Otherwise it is settled and
/// leaves the disk; and since the backend answered — it took the records,
/// rejected them (a partial success rejecting every one), or refused them
/// for good — it is up, and the records waiting on disk need not wait out a
/// backoff any longer (as `Progress::note_answer` counts it).
fn finish_record(
    backlog: &mut Backlog,
    id: RecordId,
    completion: &Completion,
    spans: u64,
    bytes: u64,
) -> Result<bool, DurableError> {
    if completion.parked {
        return Ok(backlog.park(id, spans, bytes, completion.throttle));
    }
    let answered = !completion.settlement.exhausted;
    backlog.settled(id, answered).map(|()| true)
}

/// A finished flush's answer: what its records (of `signal`) became.
fn settled_result(flush: &PendingFlush, signal: Signal) -> Result<(), PipelineError> {
    if flush.failed > 0 || flush.rejected > 0 {
        Err(PipelineError::Undelivered {
            failed: flush.failed,
            rejected: flush.rejected,
            signal,
        })
    } else if flush.persisted > 0 {
        Err(PipelineError::Persisted {
            spans: flush.persisted,
            signal,
        })
    } else {
        Ok(())
    }
}

/// Opens the durable queue and counts what it recovered: those spans are
/// produced (by an earlier run) and taken (they wait on disk, in flight).
/// So are the spans of the records it found damaged, when their count
/// survived, which are lost: dropped (`dropped_durable`), as those of a
/// record found damaged when read back are.
fn open_backlog(
    shared: &Shared,
    config: DurableConfig,
    retry: RetryPolicy,
) -> Result<Backlog, PipelineError> {
    let directory = config.directory.clone();
    let (backlog, recovered) =
        Backlog::open(config, shared.signal, retry).map_err(|error| PipelineError::Durable {
            directory,
            source: Arc::new(error),
        })?;
    let spans = recovered.span_count();
    let lost = recovered.corrupt_spans;
    let stats = &shared.stats;
    // Later stages first, `produced` last, as every count is made.
    stats.drop_taken(&stats.dropped_durable, lost, 0);
    Stats::add(&stats.taken, spans + lost);
    Stats::add(&stats.recovered, spans);
    stats.produced.add(spans + lost);
    if recovered.corrupt_records > 0 || recovered.torn_tail_bytes > 0 {
        stats.record_error(format!(
            "the durable queue skipped {} damaged records ({} bytes; {} lost, counted where \
             their header survived) and a torn tail of {} bytes; {} damaged records had lost \
             their header, and their span count with it",
            recovered.corrupt_records,
            recovered.corrupt_bytes,
            Records(lost, shared.signal),
            recovered.torn_tail_bytes,
            recovered.uncounted_corrupt_records
        ));
    }
    report_set_aside(shared, &recovered.foreign_segments, |count, paths| {
        format!(
            "the durable queue set aside {count} segment files holding another signal's \
             requests, not to send them to the {} endpoint (move them to that pipeline's \
             directory, without the added suffix, to have them sent): {paths}",
            shared.signal
        )
    });
    report_set_aside(shared, &recovered.overlapping_segments, |count, paths| {
        format!(
            "the durable queue set aside {count} segment files whose record ids overlap the \
             directory's own (copied in from another directory?), neither sending them nor \
             taking them for damage: {paths}"
        )
    });
    Ok(backlog)
}

/// Warns of the segment files the durable queue set aside when it opened
/// (none: nothing), and keeps the warning as the pipeline's last error;
/// `describe` words it from their number and their paths, comma-separated.
fn report_set_aside(
    shared: &Shared,
    segments: &[std::path::PathBuf],
    describe: impl FnOnce(usize, String) -> String,
) {
    if segments.is_empty() {
        return;
    }
    let paths: Vec<String> = segments
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let message = describe(segments.len(), paths.join(", "));
    crate::diagnostics::warn(shared.signal.as_str(), message.clone());
    shared.stats.record_error(message);
}

/// The durable queue's last fsync at shutdown, on a thread of its own: a
/// disk whose fsync stalls (a slow disk, a hung NFS mount) must not hold the
/// shutdown's answer past its deadline. The thread owns the queue until the
/// sync ends and then hands it back; after the deadline nobody takes it, and
/// the thread drops it, releasing the directory's lock only once the sync
/// is done. One thread per shutdown of a pipeline with a durable queue.
enum FinalSync {
    /// Syncing on its thread; the queue and the sync's result come here.
    Running(Receiver<(Backlog, Result<(), DurableError>)>),
    /// No thread could be started: synced on the loop's thread, unbounded,
    /// as a last resort.
    /// (Boxed: one shutdown's, and far larger than the channel.)
    Inline(Box<Backlog>),
}

impl FinalSync {
    fn start(backlog: Backlog, signal: Signal) -> FinalSync {
        let (hand, handed) = crossbeam_channel::bounded::<Backlog>(1);
        let (synced, done) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name(format!("otlp-sync-{signal}"))
            .spawn(move || {
                crate::own_threads::enter();
                if let Ok(mut backlog) = handed.recv() {
                    let result = backlog.sync(true);
                    let _ = synced.send((backlog, result));
                }
            });
        if spawned.is_err() {
            return FinalSync::Inline(Box::new(backlog));
        }
        match hand.send(backlog) {
            Ok(()) => FinalSync::Running(done),
            Err(unsent) => FinalSync::Inline(Box::new(unsent.into_inner())),
        }
    }

    /// The queue and the sync's result, or `None` if the sync did not end
    /// by `deadline`.
    fn wait(self, deadline: Instant) -> Option<(Backlog, Result<(), DurableError>)> {
        match self {
            FinalSync::Running(done) => done.recv_deadline(deadline).ok(),
            FinalSync::Inline(mut backlog) => {
                let result = backlog.sync(true);
                Some((*backlog, result))
            }
        }
    }
}

/// What shutdown left of the requests still in flight, in records.
#[derive(Debug, Default)]
struct LeftInFlight {
    /// Without a durable record: failed.
    abandoned: u64,
    abandoned_bytes: u64,
    /// On disk: the next start sends them again.
    persisted: u64,
    /// Evicted from disk by the cap while being exported: lost.
    evicted: u64,
    evicted_bytes: u64,
    /// Acknowledgements the durable queue refused.
    errors: Vec<DurableError>,
}

/// Settles the requests still in flight at shutdown's deadline. One whose
/// task settled it first (it counted its records; its completion is on its
/// way) had its final answer: its durable record leaves the disk, or the next
/// start would send it again. The others the loop settles here.
fn settle_in_flight(
    in_flight: &BTreeMap<u64, InFlight>,
    mut backlog: Option<&mut Backlog>,
) -> LeftInFlight {
    let mut left = LeftInFlight::default();
    for request in in_flight.values() {
        if request.settled.swap(true, Ordering::AcqRel) {
            if let (Some(backlog), Some(id)) = (backlog.as_deref_mut(), request.record)
                && let Err(error) = backlog.settled(id, true)
            {
                left.errors.push(error);
            }
            continue;
        }
        match (&backlog, request.record) {
            (Some(backlog), Some(id)) if backlog.was_evicted(id) => {
                left.evicted += request.spans;
                left.evicted_bytes += request.bytes;
            }
            (Some(_), Some(_)) => left.persisted += request.spans,
            _ => {
                left.abandoned += request.spans;
                left.abandoned_bytes += request.bytes;
            }
        }
    }
    left
}

/// A future whose panic becomes its output (`Err` with the payload).
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(context))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// The text of a panic's payload, when it has one.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// An export task's exporter, noting the throttle hint of each retryable
/// answer (the last one stays): [`RetryPolicy::send`] honours a hint within
/// the request's deadline, and one that runs past it parks the request, whose
/// next round must honour it too. Costs one `Arc` clone per request and a
/// store per retryable answer.
struct ThrottleHints<E> {
    exporter: Arc<E>,
    /// The last hint in nanoseconds; [`NO_HINT`](Self::NO_HINT): none.
    last_nanos: AtomicU64,
}

impl<E: Exporter> ThrottleHints<E> {
    const NO_HINT: u64 = u64::MAX;

    fn new(exporter: Arc<E>) -> Self {
        ThrottleHints {
            exporter,
            last_nanos: AtomicU64::new(Self::NO_HINT),
        }
    }

    /// The hint of the last retryable answer, if it gave one (at most some
    /// 584 years: a longer one is cut there).
    fn last_hint(&self) -> Option<Duration> {
        let nanos = self.last_nanos.load(Ordering::Relaxed);
        (nanos != Self::NO_HINT).then(|| Duration::from_nanos(nanos))
    }
}

impl<E: Exporter> Exporter for ThrottleHints<E> {
    fn encoding(&self) -> Encoding {
        self.exporter.encoding()
    }

    fn signal(&self) -> Signal {
        self.exporter.signal()
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let outcome = self.exporter.export(request).await;
        if let ExportOutcome::Retryable { throttle, .. } = &outcome {
            let nanos = throttle.map_or(Self::NO_HINT, |hint| {
                u64::try_from(hint.as_nanos())
                    .map_or(Self::NO_HINT - 1, |n| n.min(Self::NO_HINT - 1))
            });
            self.last_nanos.store(nanos, Ordering::Relaxed);
        }
        outcome
    }

    fn stands_for_none(&self) -> bool {
        self.exporter.stands_for_none()
    }
}

/// One request on its way out, retried as the policy allows.
struct ExportTask<E> {
    exporter: Arc<E>,
    shared: Arc<Shared>,
    retry: RetryPolicy,
    /// A shutdown's deadline, after which no retry starts.
    retry_cutoff: RetryCutoff,
    attempt_timeout: Duration,
    deadline: Instant,
    settled: Arc<AtomicBool>,
    seq: u64,
    completions: Sender<Completion>,
    buffers: Pool<Vec<u8>>,
    /// The request's durable record: retries running out then park it on disk.
    record: Option<RecordId>,
    /// Its records' bytes (see [`crate::ByteAccount`]).
    record_bytes: u64,
}

impl<E: Exporter> ExportTask<E> {
    async fn run(self, request: ExportRequest) {
        let started = Instant::now();
        let span_count = request.span_count as u64;
        let stats = &self.shared.stats;
        let exporter = ThrottleHints::new(self.exporter.clone());
        let sent = self.retry.send_until(
            &exporter,
            &request,
            self.attempt_timeout,
            self.deadline,
            &self.retry_cutoff,
            |event| match event {
                SendEvent::Error(error) => stats.record_error(error),
                SendEvent::Retry => {
                    Stats::add(&stats.retries, 1);
                    // The backend just went down. With the durable queue,
                    // batches may now go to disk up to its cap (`can_park`):
                    // a loop asleep until an export ends (every slot taken,
                    // the disk at what a healthy backend may fill) would
                    // sleep on, since retried exports end only at their
                    // deadline, while producers find no room. Once per
                    // outage.
                    if self.shared.progress.note_retry() {
                        self.shared.queue.unpark_loop();
                    }
                }
            },
        );
        // An exporter that panics fails its request like a permanent error:
        // the request settles and its export slot comes back (unnoticed, the
        // runtime would swallow the panic and the slot stay taken for good).
        let settlement = match CatchPanic(Box::pin(sent)).await {
            Ok(settlement) => settlement,
            Err(panic) => {
                stats.record_error(format!(
                    "the exporter panicked: {}",
                    panic_message(panic.as_ref())
                ));
                Settlement {
                    exported: 0,
                    rejected: 0,
                    failed: span_count,
                    retries: 0,
                    exhausted: false,
                }
            }
        };
        let latency = started.elapsed();
        // An answer, even a refusal, shows the backend is up; retries that
        // ran out do not.
        if !settlement.exhausted {
            self.shared.progress.note_answer();
        }
        // With a durable record, running out of retries is not failure: the
        // record stays on disk for a later round and its spans stay in flight.
        let parked = self.record.is_some() && settlement.exhausted;
        if !parked && !self.settled.swap(true, Ordering::AcqRel) {
            // A request is answered or fails as a whole (see `Settlement`).
            let bytes = if settlement.failed == 0 {
                &stats.answered_bytes
            } else {
                &stats.failed_bytes
            };
            Stats::add(bytes, self.record_bytes);
            // Order matters for consistent snapshots: the terminal counters
            // grow by exactly the request's spans.
            Stats::add(&stats.exported, settlement.exported);
            Stats::add(&stats.rejected, settlement.rejected);
            Stats::add(&stats.failed, settlement.failed);
            debug_assert_eq!(
                settlement.exported + settlement.rejected + settlement.failed,
                span_count
            );
        }
        stats
            .export_latency_micros
            .record(latency.as_micros() as u64);
        // Reuse the buffer if the transport let go of it.
        if let Ok(body) = request.body.try_into_mut() {
            self.buffers.put(body.into());
        }
        let _ = self.completions.send(Completion {
            seq: self.seq,
            latency,
            settlement,
            record: self.record,
            parked,
            throttle: exporter.last_hint(),
        });
        self.shared.queue.wake_loop_for_completion();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts every request.
    struct Accept;

    impl Exporter for Accept {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }

        async fn export(&self, _: ExportRequest) -> crate::ExportOutcome {
            crate::ExportOutcome::Success
        }
    }

    /// A loop over a fresh queue, driven turn by turn by the test's thread.
    fn loop_ticking_every(scheduled_delay: Duration) -> ExportLoop<Accept> {
        loop_with_commands(scheduled_delay).0
    }

    /// The same, with the channel its commands come through.
    fn loop_with_commands(scheduled_delay: Duration) -> (ExportLoop<Accept>, Sender<Command>) {
        let shared = Arc::new(Shared {
            queue: crate::record_queue::RecordQueue::new(1 << 20, None, usize::MAX, 512),
            stats: Stats::new(),
            full_policy: crate::config::FullPolicy::Drop,
            shut_down: AtomicBool::new(false),
            progress: crate::shared::Progress::new(Duration::from_secs(10), false),
            signal: Signal::Traces,
            left_at_shutdown: crate::shared::LeftAtShutdown::default(),
        });
        let settings = LoopSettings {
            signal: Signal::Traces,
            encoding: Encoding::Protobuf,
            scheduled_delay,
            export_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(10),
            max_concurrent_exports: 4,
            max_request_bytes: usize::MAX,
            buffer_pool_size: 8,
            io_threads: 1,
            retry: RetryPolicy::default(),
            batch: BatchConfig::default(),
            durable: None,
        };
        let (sender, commands) = crossbeam_channel::unbounded();
        let export_loop = ExportLoop::new(shared, Accept, settings, commands).expect("a loop");
        (export_loop, sender)
    }

    /// Queues a span from this thread and cuts it at a tick: one request.
    fn cut_one_request(export_loop: &mut ExportLoop<Accept>) {
        let span = otlp_core::SpanData::builder("s").build();
        assert_eq!(
            export_loop.shared.queue.push(&span),
            crate::record_queue::Push::Queued
        );
        export_loop.next_cut = Instant::now();
        export_loop.cut_ready_batches();
    }

    /// Asks for a flush of an hour, as `force_flush` does; its answer.
    fn flush(
        export_loop: &mut ExportLoop<Accept>,
        commands: &Sender<Command>,
    ) -> Receiver<Result<(), PipelineError>> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let deadline = Instant::now() + Duration::from_secs(3600);
        commands
            .send(Command::Flush { reply, deadline })
            .expect("the loop listens");
        export_loop.receive_commands();
        answer
    }

    #[test]
    fn a_flush_before_any_request_does_not_wait_for_the_requests_cut_after_it() {
        // Nothing queued, no request ever made: the flush covers nothing,
        // and must not take a request cut later in the same turn (its
        // records ended after the flush began) for one of its own: it then
        // waited for that export, and would report its failure.
        let (mut export_loop, commands) = loop_with_commands(Duration::from_secs(3600));
        let answer = flush(&mut export_loop, &commands);
        cut_one_request(&mut export_loop);
        assert_eq!(export_loop.in_flight.len(), 1);
        export_loop.complete_flushes();
        assert_eq!(answer.try_recv(), Ok(Ok(())));
    }

    #[test]
    fn the_pending_records_of_a_flush_that_covers_no_request_are_none() {
        // A request was made and settled; then a flush finds nothing
        // queued and nothing in flight. Its pending records (counted when
        // it times out, as it may with the durable queue: a record on disk
        // still due) are none; the range of requests it covers was empty,
        // its start past its end, and counting them panicked the loop.
        let (mut export_loop, commands) = loop_with_commands(Duration::from_secs(3600));
        cut_one_request(&mut export_loop);
        for _ in 0..1_000 {
            if !export_loop.completions.is_empty() {
                break;
            }
            export_loop.runtime.turn();
        }
        export_loop.receive_completions();
        assert!(export_loop.in_flight.is_empty(), "the request settled");
        let _answer = flush(&mut export_loop, &commands);
        let pending = export_loop.pending_for(&export_loop.flushes[0]);
        assert_eq!(pending, 0);
    }

    #[test]
    fn a_block_its_writer_held_at_the_tick_goes_at_the_next_turn_not_the_next_tick() {
        // A thread ended a span, and was writing its next when the tick
        // came: its block, the span in it, was out of its slot.
        let mut export_loop = loop_ticking_every(Duration::from_secs(3600));
        let shared = Arc::clone(&export_loop.shared);
        let span = otlp_core::SpanData::builder("ended before the tick").build();
        assert_eq!(shared.queue.push(&span), crate::record_queue::Push::Queued);
        let held = shared.queue.hold_own_block();
        export_loop.next_cut = Instant::now();
        export_loop.cut_ready_batches();
        assert_eq!(shared.stats.taken.load(Ordering::SeqCst), 0, "missed");
        // The loop looks again soon, not a scheduled delay (an hour) later...
        let deadline = export_loop.wait_deadline();
        let soon = Instant::now() + STEAL_AGAIN_AFTER;
        assert!(deadline <= soon);
        // ...and takes the block its writer has put back since.
        held.put_back();
        export_loop.cut_ready_batches();
        assert_eq!(shared.stats.taken.load(Ordering::SeqCst), 1);
        assert_eq!(shared.stats.batches.load(Ordering::SeqCst), 1);
        assert!(
            export_loop.wait_deadline() > soon,
            "nothing more to look at"
        );
    }

    #[test]
    fn a_tick_looks_again_once_however_busy_its_writers() {
        // Threads that write all the time are often caught writing: a
        // second look that asked for a third would make every millisecond a
        // tick (a request per millisecond of records). The second look
        // waits for the writer (here: this thread, which cannot put its
        // block back meanwhile, so it gives up) and asks for no other.
        let mut export_loop = loop_ticking_every(Duration::from_secs(3600));
        let shared = Arc::clone(&export_loop.shared);
        let span = otlp_core::SpanData::builder("s").build();
        assert_eq!(shared.queue.push(&span), crate::record_queue::Push::Queued);
        let held = shared.queue.hold_own_block();
        export_loop.next_cut = Instant::now();
        export_loop.cut_ready_batches();
        assert!(export_loop.wait_deadline() <= Instant::now() + STEAL_AGAIN_AFTER);
        export_loop.cut_ready_batches();
        assert_eq!(shared.stats.taken.load(Ordering::SeqCst), 0);
        assert!(
            export_loop.wait_deadline() > Instant::now() + Duration::from_secs(60),
            "the next look is the next tick"
        );
        held.put_back();
    }

    #[test]
    fn an_answer_rejecting_every_record_ends_the_backlogs_backoff() {
        let directory =
            std::env::temp_dir().join(format!("otlp-export-loop-answer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let config = DurableConfig {
            fsync: FsyncPolicy::Never,
            ..DurableConfig::new(&directory)
        };
        let hour = Duration::from_secs(3600);
        let retry = RetryPolicy {
            initial_backoff: hour,
            max_backoff: hour,
            ..RetryPolicy::default()
        };
        let (mut backlog, _) = Backlog::open(config, Signal::Traces, retry).expect("open");
        let mut append = |body: &[u8]| {
            backlog
                .append(Encoding::Protobuf, 2, body)
                .stored
                .expect("append")
        };
        let (parked, rejected) = (append(b"parked"), append(b"rejected"));
        let completion = |record, settlement, parked| Completion {
            seq: 0,
            latency: Duration::ZERO,
            settlement,
            record: Some(record),
            parked,
            throttle: None,
        };
        // Two requests in flight: one runs out of retries (the backend was
        // down) and waits on disk, backing off for an hour...
        let ran_out = Settlement {
            failed: 2,
            exhausted: true,
            ..Settlement::default()
        };
        let finished = finish_record(
            &mut backlog,
            parked,
            &completion(parked, ran_out, true),
            2,
            20,
        );
        assert!(matches!(finished, Ok(true)));
        assert!(!backlog.due(Instant::now()));
        // ...then the backend answers the other: it rejects every record.
        let all_rejected = Settlement {
            rejected: 2,
            ..Settlement::default()
        };
        let finished = finish_record(
            &mut backlog,
            rejected,
            &completion(rejected, all_rejected, false),
            2,
            20,
        );
        assert!(matches!(finished, Ok(true)));
        assert!(
            backlog.due(Instant::now()),
            "the backend is up: what waits goes now"
        );
        drop(backlog);
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn a_request_its_task_settled_leaves_the_disk_at_shutdown() {
        let directory =
            std::env::temp_dir().join(format!("otlp-export-loop-settle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let config = DurableConfig {
            fsync: FsyncPolicy::Never,
            ..DurableConfig::new(&directory)
        };
        let (mut backlog, _) =
            Backlog::open(config.clone(), Signal::Traces, RetryPolicy::default()).expect("open");
        let answered = backlog
            .append(Encoding::Protobuf, 3, b"answered")
            .stored
            .expect("append");
        let unanswered = backlog
            .append(Encoding::Protobuf, 5, b"unanswered")
            .stored
            .expect("append");
        let request = |record, settled| InFlight {
            spans: if record == answered { 3 } else { 5 },
            bytes: if record == answered { 30 } else { 50 },
            settled: Arc::new(AtomicBool::new(settled)),
            record: Some(record),
        };
        // The first one's task settled it (exported) just before the
        // deadline; its completion has not reached the loop.
        let in_flight = BTreeMap::from([
            (0, request(answered, true)),
            (1, request(unanswered, false)),
        ]);
        let left = settle_in_flight(&in_flight, Some(&mut backlog));
        assert_eq!((left.abandoned, left.persisted, left.evicted), (0, 5, 0));
        assert!(left.errors.is_empty(), "{:?}", left.errors);
        drop(backlog);
        // The next start sends only what was not answered.
        let (_, recovered) =
            Backlog::open(config, Signal::Traces, RetryPolicy::default()).expect("reopen");
        let ids: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
        assert_eq!(ids, vec![unanswered]);
        let _ = std::fs::remove_dir_all(&directory);
    }
}
