//! [`RecordQueue`]: encoded records on their way from the threads that end
//! them to the export loop, bounded by bytes.
//!
//! # What travels
//!
//! A span is encoded once, when it ends, on the thread that ends it: the
//! bytes of one OTLP `Span` message ([`encode_span`](otlp_core::encode::record::encode_span)), behind an
//! eight-byte header (the record's *group*, naming its resource and scope,
//! and its length). Nothing else of the span outlives `end`: no attribute
//! vector crosses to another thread, and of its resource and scope only the
//! block's handles (below, "Groups"). The
//! export loop writes only the `ResourceSpans`/`ScopeSpans` framing around the
//! records ([`frame::write_request`](otlp_core::encode::frame::write_request)); a retry, the durable queue and the JSON
//! transcoder all work from those bytes. Nothing here knows about spans:
//! [`RecordQueue::push`] takes any [`QueuedRecord`], and another signal's
//! records travel the same way.
//!
//! # How the bytes travel: per-thread blocks
//!
//! Each producing thread fills a *block* of its own
//! ([`Block`]: 64 KiB, less for a small
//! budget) kept in a per-thread *slot* of the pipeline. A block is handed to
//! the loop's FIFO when the next record does not fit in it; the loop also
//! *steals* the blocks of every slot when its scheduled delay runs out, when a
//! flush or shutdown asks for everything, when a producer finds no room (the
//! first such producer hands them over itself, then tries again: blocks
//! barely begun may hold the room as reservations), and
//! when the records waiting make a batch's worth although no block is full
//! (small records, or records spread over several threads' blocks): the batch
//! goes out at once, not at the scheduled delay. To see that, each thread
//! adds its block's records to a shared count in steps (up to
//! [`MAX_COUNT_STEP`] records at once), so the count misses fewer than a
//! step per thread.
//! A block is taken from a slot and put back by one atomic swap each
//! (`AtomicCell<Option<Box<Block>>>`, a pointer), so a producer and the loop
//! never write the same block, and a thread owns its block while it writes.
//!
//! Bounds: a block *reserves* its capacity from the byte budget, or less (a
//! share of the budget, and of the count cap when one is set, that shrinks
//! as more threads feed the queue, so that blocks barely begun never set
//! aside more than half of either), when it is started, and gives back what
//! it did not fill when it is handed over; the loop gives back what it takes. So
//! the records waiting — handed over or still in a thread's block — never take
//! more than `max_queue_bytes`, counted as their encoded bytes plus headers.
//! A record that does not fit in what is left is refused (the caller drops it
//! and counts it, or waits), and one larger than the whole budget, or than a
//! request may be, is refused as too large: never a hang.
//!
//! Closing is decided in the places the two sides share: the loop closes the
//! FIFO under its lock and swaps a *closed* marker into every slot, so a
//! producer that hands over a block or puts one back after that sees the
//! marker in the same lock or the same atomic swap, and discards what it
//! held, counting it. No fence is needed to argue it.
//!
//! # Groups
//!
//! A record's group is an index into its block's own list of resources and
//! scopes ([`Group`](crate::record_block::Group): their handles, and the
//! size of their framing in a request); the
//! loop maps each block's list onto its
//! [`GroupTable`](crate::group_table::GroupTable) when it takes the block,
//! and that table merges equal pairs behind different handles and forgets
//! the pairs no longer used. So a pipeline takes records of new scopes for
//! as long as it runs (tracers named after tenants or versions), no handle
//! outlives the blocks and batches that need it for long, and producers
//! share no table and no lock to find a group.
//!
//! # Cost model
//!
//! Per record, on the producing thread: a thread-local lookup of the slot
//! (a short scan of the pipelines this thread feeds), a comparison of two
//! pointers to find the group (the block's last one; a short scan of the
//! block's list otherwise, and a block's first record of a group clones
//! two handles and measures its framing), two uncontended atomic swaps, and one pass
//! that encodes the record in place, behind room for its header, into
//! memory the block already has (no measuring pass: near a block's end the
//! record is encoded aside and copied, once per block). No lock, no
//! allocation, no syscall, no shared cache line written (but for one add to
//! the shared count of waiting records every step). Per block (about two
//! hundred records of 300 bytes): one budget reservation (a compare-exchange
//! on a shared counter), one uncontended lock to hand it over, and a wake-up
//! of the loop when it sleeps and a batch's worth is waiting. Memory: a record
//! costs its encoded size plus eight bytes; blocks are reused, at most
//! a sixteenth of the budget is kept in spare blocks (64 of them, 4 MiB, by
//! default: a burst of some 13,000 spans then finds its blocks ready), and
//! each producing thread holds at most
//! one partly filled block (of its usual size: a record larger than the
//! room left gives back what it grew) and at most [`SCRATCH_KEPT`] (64 KiB)
//! of room to encode records aside.
//!
//! With a zero scheduled delay ([`RecordQueue::waking_on_every_record`])
//! each record also pays a `SeqCst` fence and a load of a shared flag
//! (written only when the loop falls asleep and wakes), and the first one
//! after the loop fell asleep an unpark: the loop then has no tick to wait
//! for, and sleeps until a record comes.
//!
//! A shared ring (one buffer, producers reserving ranges with a
//! fetch-and-add) would write one shared counter per record, and in safe Rust
//! would need per-word atomic stores into the ring; per-thread blocks write
//! shared memory once per block instead.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_utils::atomic::AtomicCell;

use crate::counter::ShardedCounter;
use crate::export_runtime::LoopWake;
use crate::queued_record::QueuedRecord;
use crate::record_block::{Block, GROUP_PREFIX_SLACK, HEADER, request_len_of_one};

/// Capacity of a block for the default budget.
const BLOCK_BYTES: usize = 64 * 1024;

/// A thread keeps at most this much room to encode records aside (near its
/// block's end): enough for any record of a usual block. Past it, the room a
/// larger record took is freed once it is written or refused, so that a
/// thread does not hold the largest record it ever ended for as long as it
/// lives, outside the byte budget.
const SCRATCH_KEPT: usize = BLOCK_BYTES;

/// The most records of a count cap one block sets aside.
const MAX_RECORDS_PER_BLOCK: usize = 1024;
/// Empty blocks kept for reuse take at most this share of the budget (and
/// at least [`MIN_SPARE_BLOCKS`] blocks); more are freed.
const SPARE_SHARE: usize = 16;
const MIN_SPARE_BLOCKS: usize = 4;
/// A thread adds its block's records to the queue's shared count of
/// records in blocks ([`RecordQueue::records_in_blocks`]) once this many
/// (or a sixteenth of a batch, if less) are not counted yet.
const MAX_COUNT_STEP: usize = 32;

/// Records a thread's block gathers before they are added to the shared
/// count, for a batch of `wake_at`: the count then misses fewer than a
/// sixteenth of a batch per thread, and the shared line is written at most
/// once per 32 records.
fn count_step(wake_at: usize) -> usize {
    (wake_at / 16).clamp(1, MAX_COUNT_STEP)
}

/// Why [`RecordQueue::push`] did or did not queue a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Queued.
    Queued,
    /// No room within the budget now.
    Full,
    /// Larger than the whole budget or than one request may be: never fits.
    /// Its encoded length.
    TooLarge(usize),
    /// The queue is closed: this record and others were discarded.
    Closed(Discarded),
}

/// Records a closed queue discarded (see [`Push::Closed`] and
/// [`RecordQueue::close`]), and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Discarded {
    /// Records discarded, the one being pushed included.
    pub(crate) records: u64,
    /// Bytes of the discarded records that had been written into the
    /// queue (in [`RecordQueue::written_bytes`]).
    pub(crate) written_bytes: u64,
    /// Bytes of the record being pushed when it was never written: refused.
    pub(crate) refused_bytes: u64,
}

impl Discarded {
    /// What `block` held.
    fn block(block: &Block) -> Self {
        Discarded {
            records: block.records() as u64,
            written_bytes: block.record_bytes() as u64,
            refused_bytes: 0,
        }
    }

    /// With the record being pushed, of `len` bytes, refused as well.
    fn and_refused(self, len: usize) -> Self {
        Discarded {
            records: self.records + 1,
            refused_bytes: self.refused_bytes + len as u64,
            ..self
        }
    }

    /// The record being pushed alone, of `len` bytes, never written.
    fn refused(len: usize) -> Self {
        Discarded::default().and_refused(len)
    }

    fn add(&mut self, other: Discarded) {
        self.records += other.records;
        self.written_bytes += other.written_bytes;
        self.refused_bytes += other.refused_bytes;
    }
}

/// A producing thread's block for one pipeline, reachable by the loop.
#[derive(Default)]
struct Slot {
    block: AtomicCell<Option<Box<Block>>>,
    /// Odd while the thread writes a record (its block out of the slot),
    /// even otherwise, so that shutdown can wait for a writer that was
    /// preempted mid-record instead of missing its block. A count rather than
    /// a flag: two looks at it that agree mean no write began or ended in
    /// between (see [`RecordQueue::steal_all_blocks`]). Written only by the
    /// slot's thread.
    writes: AtomicU64,
}

impl Slot {
    /// Announces a write, before the block is taken out: a loop whose swap
    /// finds the slot empty after that take sees the count odd (the take's
    /// release orders this store before it). Returns the count to end with.
    fn begin_write(&self) -> u64 {
        // The next odd count, even after a write that never ended (unwound
        // by a panic): the count heals at the next write.
        let writes = (self.writes.load(Ordering::Relaxed) + 1) | 1;
        self.writes.store(writes, Ordering::Relaxed);
        writes
    }

    /// Ends the write begun with `writes`, once the block is back in the
    /// slot or handed over.
    fn end_write(&self, writes: u64) {
        self.writes.store(writes + 1, Ordering::Release);
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

/// The byte budget (and count cap) that blocks reserve from.
#[derive(Debug)]
struct Budget {
    max_bytes: usize,
    bytes: AtomicUsize,
    /// `usize::MAX` when the count is not capped.
    max_records: usize,
    records: AtomicUsize,
    /// The threads that feed the queue (their slots, as last counted): a
    /// block's share of the count cap shrinks as they grow in number.
    threads: AtomicUsize,
}

impl Budget {
    /// Reserves a block's bytes: at least `at_least`, at most its share of
    /// the budget (and no more than `block_bytes`), as much as is left.
    /// The share is as the count cap's ([`shares`](Self::shares)): with a
    /// block of a sixteenth of the budget (the size of every block of a
    /// budget under 1 MiB), 16 threads that had each begun a block left no
    /// room for the records of a seventeenth.
    fn reserve_block_bytes(&self, at_least: usize, block_bytes: usize) -> Option<usize> {
        let share = (self.max_bytes / self.shares())
            .min(block_bytes)
            .max(at_least);
        reserve(&self.bytes, self.max_bytes, at_least, share)
    }

    /// Reserves up to a block's share of the count cap; at least one.
    fn reserve_records(&self) -> Option<usize> {
        if self.max_records == usize::MAX {
            return Some(usize::MAX);
        }
        let share = (self.max_records / self.shares()).clamp(1, MAX_RECORDS_PER_BLOCK);
        reserve(&self.records, self.max_records, 1, share)
    }

    /// Into how many shares a block's reservation divides the count cap and
    /// the byte budget: a sixty-fourth, less once more than 32 threads feed
    /// the queue, so that the blocks they are filling, mostly empty, never
    /// set aside more than half of either. With a sixteenth, 16 threads that
    /// had each begun a block left no room for the records of a
    /// seventeenth: they were dropped as queue-full while the queue held a
    /// few.
    fn shares(&self) -> usize {
        (2 * self.threads.load(Ordering::Relaxed)).max(64)
    }

    fn release(&self, bytes: usize, records: usize) {
        if bytes > 0 {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        }
        if records > 0 && self.max_records != usize::MAX {
            self.records.fetch_sub(records, Ordering::AcqRel);
        }
    }
}

/// Adds between `at_least` and `at_most` to `used`, as much as keeps it at
/// most `max`; returns what was added.
fn reserve(used: &AtomicUsize, max: usize, at_least: usize, at_most: usize) -> Option<usize> {
    let mut now = used.load(Ordering::Relaxed);
    loop {
        let left = max.saturating_sub(now);
        if left < at_least {
            return None;
        }
        let grant = at_most.min(left);
        match used.compare_exchange_weak(now, now + grant, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return Some(grant),
            Err(seen) => now = seen,
        }
    }
}

/// The blocks handed to the loop, oldest first.
#[derive(Debug, Default)]
struct Handed {
    blocks: VecDeque<Box<Block>>,
    closed: bool,
}

/// What a producing thread keeps: its slots, and room to encode a record
/// aside.
#[derive(Default)]
struct Local {
    slots: Vec<LocalSlot>,
    scratch: Vec<u8>,
}

/// A producing thread's way into one pipeline: its slot.
struct LocalSlot {
    queue: u64,
    slot: Arc<Slot>,
}

thread_local! {
    /// The slots of the pipelines this thread feeds.
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local { slots: Vec::new(), scratch: Vec::new() })
    };
}

/// Source of queue identities, never reused (addresses could be).
static NEXT_QUEUE_ID: AtomicU64 = AtomicU64::new(1);

/// Starts the export loop of a queue whose loop waits for its first record
/// ([`RecordQueue::start_loop_on_first_record`]).
pub(crate) struct LoopStart(Box<dyn FnOnce() + Send>);

impl LoopStart {
    pub(crate) fn new(start: impl FnOnce() + Send + 'static) -> Self {
        LoopStart(Box::new(start))
    }
}

impl std::fmt::Debug for LoopStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoopStart")
    }
}

/// Records waiting for the export loop; see the [module documentation](self).
#[derive(Debug)]
pub(crate) struct RecordQueue {
    id: u64,
    budget: Budget,
    /// The count cap as given, for the stats (the budget's `usize::MAX`
    /// means "no cap", and so cannot tell a cap of `usize::MAX` from none).
    count_cap: Option<usize>,
    block_bytes: usize,
    /// Empty blocks kept for reuse at most.
    max_spare_blocks: usize,
    /// A record whose request would be larger than this is refused.
    max_request_bytes: usize,
    handed: Mutex<Handed>,
    /// Records in handed blocks the loop has not taken yet.
    handed_records: AtomicUsize,
    /// Records in threads' blocks (not handed over), added in steps
    /// ([`count_step`]): short by less than a step per thread.
    records_in_blocks: AtomicUsize,
    /// Boxed as in the slots (a slot holds one pointer, for a lock-free
    /// swap): a block moves between them without being allocated again.
    #[allow(clippy::vec_box)]
    spare: Mutex<Vec<Box<Block>>>,
    /// Every producing thread's slot; `None` once closed.
    slots: Mutex<Option<Vec<Arc<Slot>>>>,
    /// A producer found no room: the loop steals partial blocks.
    room_wanted: AtomicBool,
    /// Threads' blocks hold a batch's worth of records (`wake_at`), with
    /// those handed over: the loop takes every block, waiting for a writer
    /// holding its own.
    batch_in_blocks: AtomicBool,
    /// Handed records at which a sleeping loop is woken (the batch size).
    wake_at: AtomicUsize,
    loop_sleeping: AtomicBool,
    /// A zero scheduled delay: every record queued wakes the loop if it is
    /// idle ([`loop_idle`](Self::loop_idle)), so that it is exported at once
    /// without the loop ticking (see [`park_loop`](Self::park_loop)).
    wake_on_every_record: bool,
    /// The loop, with [`wake_on_every_record`](Self::wake_on_every_record),
    /// found nothing to export, not even in a partly filled block, and sleeps
    /// until a producer queues a record.
    loop_idle: AtomicBool,
    /// The parked loop waits for an export to finish (no permit left, a
    /// flush, the durable queue): export tasks wake it when they do.
    completions_wanted: AtomicBool,
    /// How the loop is woken, whether it parks or waits on its runtime.
    loop_wake: LoopWake,
    /// A loop not started yet, started by the first record a thread hands
    /// over (its registration, a cold path) or by the pipeline.
    loop_start: Mutex<Option<LoopStart>>,
    /// `loop_start` holds one: the only cost to a thread's first record of
    /// a queue whose loop runs.
    loop_start_pending: AtomicBool,
    /// Bytes of the records written into blocks (without headers), added
    /// by the writing thread before its block can reach the loop, so that
    /// the loop never takes bytes not counted here yet (see `stats`).
    written_bytes: ShardedCounter,
    /// How often the loop thread was unparked (tests look at it).
    #[cfg(test)]
    unparks: AtomicUsize,
    /// How often the loop went to wait (tests count them to see it sleep).
    #[cfg(test)]
    parks: AtomicUsize,
}

impl RecordQueue {
    /// A queue of at most `max_bytes` of records (and `max_records` records,
    /// when capped), waking the loop at `wake_at` records; records whose
    /// request would exceed `max_request_bytes` are refused.
    pub(crate) fn new(
        max_bytes: usize,
        max_records: Option<usize>,
        max_request_bytes: usize,
        wake_at: usize,
    ) -> Self {
        let max_bytes = max_bytes.max(1);
        let count_cap = max_records.map(|cap| cap.max(1));
        let max_records = count_cap.unwrap_or(usize::MAX);
        let block_bytes = (max_bytes / 16).clamp(256, BLOCK_BYTES).min(max_bytes);
        RecordQueue {
            id: NEXT_QUEUE_ID.fetch_add(1, Ordering::Relaxed),
            budget: Budget {
                max_bytes,
                bytes: AtomicUsize::new(0),
                max_records,
                records: AtomicUsize::new(0),
                threads: AtomicUsize::new(0),
            },
            count_cap,
            block_bytes,
            max_spare_blocks: (max_bytes / SPARE_SHARE / block_bytes).max(MIN_SPARE_BLOCKS),
            max_request_bytes,
            handed: Mutex::new(Handed::default()),
            handed_records: AtomicUsize::new(0),
            records_in_blocks: AtomicUsize::new(0),
            spare: Mutex::new(Vec::new()),
            slots: Mutex::new(Some(Vec::new())),
            room_wanted: AtomicBool::new(false),
            batch_in_blocks: AtomicBool::new(false),
            wake_at: AtomicUsize::new(wake_at.max(1)),
            loop_sleeping: AtomicBool::new(false),
            wake_on_every_record: false,
            loop_idle: AtomicBool::new(false),
            completions_wanted: AtomicBool::new(true),
            loop_wake: LoopWake::default(),
            loop_start: Mutex::new(None),
            loop_start_pending: AtomicBool::new(false),
            written_bytes: ShardedCounter::default(),
            #[cfg(test)]
            unparks: AtomicUsize::new(0),
            #[cfg(test)]
            parks: AtomicUsize::new(0),
        }
    }

    /// For a zero scheduled delay: a record wakes the loop when it is idle,
    /// which then takes it from its thread's block and exports it at once.
    /// Costs every record a `SeqCst` fence and a load of a flag (and the
    /// first record after the loop went idle an unpark).
    pub(crate) fn waking_on_every_record(mut self) -> Self {
        self.wake_on_every_record = true;
        self
    }

    /// Encodes `record` into the calling thread's block for this queue.
    pub(crate) fn push<R: QueuedRecord>(&self, record: &R) -> Push {
        let pushed = LOCAL.try_with(|local| {
            local.try_borrow_mut().ok().map(|mut local| {
                let Local { slots, scratch } = &mut *local;
                self.push_local(slots, scratch, record)
            })
        });
        let push = match pushed {
            Ok(Some(push)) => push,
            // The thread's slots are gone (it is exiting) or in use below
            // us: a block of its own for this record.
            _ => self.push_alone(record),
        };
        // Refused too: the thread may have held its block (earlier records
        // in it) while the loop, going idle, looked for blocks and missed it.
        if self.wake_on_every_record {
            self.wake_idle_loop();
        }
        push
    }

    /// Wakes the loop if it is idle: a record was just queued, or refused
    /// after this thread took its block out of its slot, and with a zero
    /// scheduled delay what the block holds goes at once.
    ///
    /// The wake-up cannot be lost: the record is in its block, and the block
    /// back in its slot (or handed over), before this thread's `SeqCst`
    /// fence and look at `loop_idle`; the loop sets `loop_idle`, fences, and
    /// then takes the blocks (`park_loop`). Whichever fence comes first, the
    /// other side sees what came before it: the loop takes the record, or
    /// this thread sees the loop idle and wakes it.
    fn wake_idle_loop(&self) {
        fence(Ordering::SeqCst);
        if self.loop_idle.load(Ordering::Relaxed) && self.loop_idle.swap(false, Ordering::SeqCst) {
            self.unpark_loop();
        }
    }

    fn push_local<R: QueuedRecord>(
        &self,
        slots: &mut Vec<LocalSlot>,
        scratch: &mut Vec<u8>,
        record: &R,
    ) -> Push {
        let index = match slots.iter().position(|entry| entry.queue == self.id) {
            Some(index) => index,
            None => match self.register(slots) {
                Some(index) => index,
                None => return Push::Closed(Discarded::refused(record.encoded_len())),
            },
        };
        let slot = &slots[index].slot;
        let writes = slot.begin_write();
        let push = self.write_record(slot, scratch, record);
        slot.end_write(writes);
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = Vec::new();
        }
        push
    }

    /// Writes `record` into the block of `slot` (this thread's).
    fn write_record<R: QueuedRecord>(
        &self,
        slot: &Slot,
        scratch: &mut Vec<u8>,
        record: &R,
    ) -> Push {
        let current = slot.block.take();
        if current.as_ref().is_some_and(|block| block.is_closed()) {
            slot.block.store(current);
            return Push::Closed(Discarded::refused(record.encoded_len()));
        }
        // A block in a slot always has room for a record and a record's
        // share of the count (it is handed over once it has not).
        let mut block = match current {
            Some(block) => block,
            None => match self.start_block_or_reclaim(HEADER + 1) {
                Some(block) => block,
                None => return Push::Full,
            },
        };
        let (group, overhead, added) = block.group_of(record);
        let draft = block.draft(record, scratch);
        let (len, need) = (draft.len(), draft.need());
        if need > self.budget.max_bytes || self.too_large_for_a_request(record, overhead, len) {
            block.drop_draft(draft);
            block.unadd_group(added);
            return match self.put_back(slot, block) {
                Ok(()) => Push::TooLarge(len),
                Err(discarded) => Push::Closed(discarded.and_refused(len)),
            };
        }
        if !block.fits_reserved(&draft) {
            // Past what the block reserved: the record moves to a new block.
            block.move_draft_aside(draft, scratch);
            block.unadd_group(added);
            if let Err(discarded) = self.hand_over(block) {
                return Push::Closed(discarded.and_refused(len));
            }
            block = match self.start_block_or_reclaim(need) {
                Some(block) => block,
                None => return Push::Full,
            };
            let (group, ..) = block.group_of(record);
            block.append_record(group, scratch);
        } else {
            block.seal(draft, group, scratch);
        }
        // Before the block can reach the loop (handed over, or back in its
        // slot for a steal).
        self.written_bytes.add(len as u64);
        if block.is_full() {
            return match self.hand_over(block) {
                Ok(()) => Push::Queued,
                Err(discarded) => Push::Closed(discarded),
            };
        }
        let wake_at = self.wake_at.load(Ordering::Relaxed);
        let records = block.records();
        let in_blocks = self.count_in_blocks(&mut block, wake_at);
        match self.put_back(slot, block) {
            Ok(()) => {
                // Announced again by the next record if the loop's steal
                // missed the block (or the batch size shrank below it).
                if (records >= wake_at
                    || in_blocks.is_some_and(|in_blocks| {
                        in_blocks + self.handed_records.load(Ordering::Relaxed) >= wake_at
                    }))
                    && !self.batch_in_blocks.load(Ordering::Relaxed)
                {
                    self.want_batch_in_blocks();
                }
                Push::Queued
            }
            Err(discarded) => Push::Closed(discarded),
        }
    }

    /// Whether `record` could never be queued: larger, encoded, than the
    /// whole budget or than a request may be. [`push`](Self::push) tells so
    /// ([`Push::TooLarge`]) once it has room to encode the record in, and
    /// says [`Push::Full`] without one; this measures it without writing
    /// it (no allocation), for a producer about to wait for room or to drop
    /// the record.
    /// Returns the record's encoded length too.
    pub(crate) fn never_fits<R: QueuedRecord>(&self, record: &R) -> (bool, usize) {
        let overhead = request_len_of_one(record, 0);
        let len = record.encoded_len();
        let never = HEADER + len > self.budget.max_bytes
            || self.too_large_for_a_request(record, overhead, len);
        (never, len)
    }

    /// Bytes of the records written into the queue so far, without their
    /// headers (taken, discarded or waiting).
    pub(crate) fn written_bytes(&self) -> u64 {
        self.written_bytes.get()
    }

    /// Whether a request holding `record` alone, `len` bytes encoded in a
    /// group of request `overhead`, would be larger than a request may be.
    /// The bound from the overhead (room for the group's length prefixes to
    /// grow) decides all but records near the cap; those are measured
    /// exactly, so that a record whose request fits, to the byte, is queued.
    #[inline]
    fn too_large_for_a_request<R: QueuedRecord>(
        &self,
        record: &R,
        overhead: usize,
        len: usize,
    ) -> bool {
        overhead + len + GROUP_PREFIX_SLACK > self.max_request_bytes
            && request_len_of_one(record, len) > self.max_request_bytes
    }

    /// Adds the records of `block` not yet in [`records_in_blocks`](Self::records_in_blocks)
    /// once they make a step; then returns the new count. Done while the
    /// thread holds the block, so that the loop, taking the block after it,
    /// takes the records off after they were added.
    fn count_in_blocks(&self, block: &mut Block, wake_at: usize) -> Option<usize> {
        let uncounted = block.records() - block.counted;
        if uncounted < count_step(wake_at) {
            return None;
        }
        block.counted = block.records();
        Some(
            self.records_in_blocks
                .fetch_add(uncounted, Ordering::Relaxed)
                + uncounted,
        )
    }

    /// Takes the records of `block`, leaving its thread, off
    /// [`records_in_blocks`](Self::records_in_blocks).
    fn uncount_in_blocks(&self, block: &mut Block) {
        if block.counted > 0 {
            self.records_in_blocks
                .fetch_sub(block.counted, Ordering::Relaxed);
            block.counted = 0;
        }
    }

    /// This thread's block, back in its slot, holds a batch's worth of
    /// records, or the threads' blocks do together (with the handed ones):
    /// the loop is to steal them (handing a block over instead would leave
    /// most of its memory unused when records are small).
    ///
    /// `SeqCst`, as [`want_room`](Self::want_room), for the same reason.
    #[cold]
    pub(crate) fn want_batch_in_blocks(&self) {
        self.batch_in_blocks.store(true, Ordering::SeqCst);
        self.wake_loop();
    }

    /// Whether threads' blocks held a batch's worth of records since the
    /// last steal.
    pub(crate) fn batch_in_blocks(&self) -> bool {
        self.batch_in_blocks.load(Ordering::SeqCst)
    }

    /// [`batch_in_blocks`](Self::batch_in_blocks), cleared: the loop is
    /// about to take every block (with [`steal_all_blocks`](Self::steal_all_blocks),
    /// which waits for a writer holding its block: a plain steal would miss
    /// the block of the thread still writing the records after the batch).
    pub(crate) fn take_batch_in_blocks(&self) -> bool {
        self.batch_in_blocks.load(Ordering::SeqCst)
            && self.batch_in_blocks.swap(false, Ordering::SeqCst)
    }

    /// Puts this thread's block back in its slot. `Err`: the loop closed
    /// the queue while the thread wrote (its marker is in the slot), so the
    /// marker goes back and the block's records are discarded.
    fn put_back(&self, slot: &Slot, block: Box<Block>) -> Result<(), Discarded> {
        match slot.block.swap(Some(block)) {
            None => Ok(()),
            Some(marker) => match slot.block.swap(Some(marker)) {
                Some(mine) => Err(self.discard(mine)),
                None => Err(Discarded::default()),
            },
        }
    }

    /// A record from a thread without its slot: a block of its own.
    fn push_alone<R: QueuedRecord>(&self, record: &R) -> Push {
        self.start_loop();
        let overhead = request_len_of_one(record, 0);
        let mut bytes = Vec::new();
        record.encode(&mut bytes);
        let need = HEADER + bytes.len();
        if need > self.budget.max_bytes
            || self.too_large_for_a_request(record, overhead, bytes.len())
        {
            return Push::TooLarge(bytes.len());
        }
        let Some(mut block) = self.start_block_or_reclaim(need) else {
            return Push::Full;
        };
        let (group, ..) = block.group_of(record);
        block.append_record(group, &bytes);
        self.written_bytes.add(bytes.len() as u64);
        match self.hand_over(block) {
            Ok(()) => Push::Queued,
            Err(discarded) => Push::Closed(discarded),
        }
    }

    /// Gives the calling thread a slot in this queue; `None` once closed.
    fn register(&self, local: &mut Vec<LocalSlot>) -> Option<usize> {
        // Slots of queues that are gone are forgotten here.
        local.retain(|entry| Arc::strong_count(&entry.slot) > 1);
        let slot = Arc::new(Slot::default());
        {
            let mut slots = lock(&self.slots);
            let slots = slots.as_mut()?;
            slots.push(Arc::clone(&slot));
            self.budget.threads.store(slots.len(), Ordering::Relaxed);
        }
        // Before the record is written: a flush that finds the loop not
        // started has no record of this thread to wait for.
        self.start_loop();
        local.push(LocalSlot {
            queue: self.id,
            slot,
        });
        Some(local.len() - 1)
    }

    /// [`start_block`](Self::start_block); when the budget has no room,
    /// first [`reclaim_reserved`](Self::reclaim_reserved) and a second try.
    fn start_block_or_reclaim(&self, need: usize) -> Option<Box<Block>> {
        self.start_block(need).or_else(|| {
            self.reclaim_reserved()
                .then(|| self.start_block(need))
                .flatten()
        })
    }

    /// The budget had no room for a block: the other threads' partly
    /// filled blocks may hold it as reservations they have not filled. A
    /// block reserves its share when it is started, and shares shrink only
    /// for blocks started after more threads came: some 90 threads of a
    /// pool, started one after another, each with one record in its block,
    /// had reserved the whole count cap of 2,048 (or a budget of 1 MiB), and
    /// the next thread's record was dropped as queue-full while the queue
    /// held 90. Hands those blocks to the loop now, which gives back what
    /// they did not fill, and wakes the loop to cut them. Returns whether
    /// it did.
    ///
    /// Once per steal of the loop: only the first producer to find no room
    /// since the loop last stole (`room_wanted`), so that a queue truly full
    /// costs the producers dropping records no scan of the slots each. And
    /// only if no one holds the slots: this thread is writing (its write
    /// count odd), and the loop's [`steal_all_blocks`](Self::steal_all_blocks),
    /// holding them, may be waiting for that very write to end.
    #[cold]
    fn reclaim_reserved(&self) -> bool {
        if self.room_wanted.load(Ordering::Relaxed) || self.room_wanted.swap(true, Ordering::SeqCst)
        {
            return false;
        }
        let slots = match self.slots.try_lock() {
            Ok(slots) => Some(slots),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        // The guard is dropped inside, before the loop is woken.
        let reclaimed = slots.and_then(|mut slots| {
            slots
                .as_mut()
                .map(|slots| self.hand_over_slot_blocks(slots))
        });
        // After the slots are let go: the loop steals and cuts at once
        // (`room_wanted`).
        self.wake_loop();
        reclaimed.is_some()
    }

    /// A block with room for at least `need` bytes, its budget reserved.
    fn start_block(&self, need: usize) -> Option<Box<Block>> {
        let bytes = self.budget.reserve_block_bytes(need, self.block_bytes)?;
        let Some(records) = self.budget.reserve_records() else {
            self.budget.release(bytes, 0);
            return None;
        };
        let spare = if bytes <= self.block_bytes {
            lock(&self.spare).pop()
        } else {
            None
        };
        let mut block = spare.unwrap_or_else(|| Block::with_capacity(bytes.max(self.block_bytes)));
        block.reserved_bytes = bytes;
        block.reserved_records = records;
        Some(block)
    }

    /// Hands `block` to the loop, giving back the budget it did not fill.
    /// `Err`: the queue is closed and the block's records were discarded.
    fn hand_over(&self, mut block: Box<Block>) -> Result<(), Discarded> {
        self.uncount_in_blocks(&mut block);
        self.budget.release(
            block.reserved_bytes - block.used_bytes(),
            block.reserved_records.saturating_sub(block.records()),
        );
        block.reserved_bytes = block.used_bytes();
        block.reserved_records = block.records();
        if block.records() == 0 {
            self.recycle(block);
            return Ok(());
        }
        let records = block.records();
        {
            let mut handed = lock(&self.handed);
            if handed.closed {
                drop(handed);
                return Err(self.discard(block));
            }
            handed.blocks.push_back(block);
            self.handed_records.fetch_add(records, Ordering::SeqCst);
        }
        if self.loop_sleeping.load(Ordering::SeqCst)
            && self.handed_records.load(Ordering::SeqCst) >= self.wake_at.load(Ordering::Relaxed)
        {
            self.wake_loop();
        }
        Ok(())
    }

    /// Frees a block's budget and keeps the block spare; returns what it held.
    fn discard(&self, mut block: Box<Block>) -> Discarded {
        self.uncount_in_blocks(&mut block);
        let discarded = Discarded::block(&block);
        self.budget
            .release(block.reserved_bytes, block.reserved_records);
        self.recycle(block);
        discarded
    }

    /// Keeps an emptied block for reuse, if it is of the usual size and
    /// there is room among the spares.
    pub(crate) fn recycle(&self, mut block: Box<Block>) {
        if block.is_closed() || block.capacity() != self.block_bytes {
            return;
        }
        block.clear_for_reuse();
        let mut spare = lock(&self.spare);
        if spare.len() < self.max_spare_blocks {
            spare.push(block);
        }
    }

    /// The oldest handed block, for the loop to take records from.
    pub(crate) fn pop_block(&self) -> Option<Box<Block>> {
        lock(&self.handed).blocks.pop_front()
    }

    /// The loop took `records` records of `bytes` bytes (headers included):
    /// their budget is free again.
    pub(crate) fn note_taken(&self, records: usize, bytes: usize) {
        self.handed_records.fetch_sub(records, Ordering::SeqCst);
        self.budget.release(bytes, records);
    }

    /// Hands every thread's partly filled block to the loop (at the
    /// scheduled delay, for a flush, or when a producer found no room).
    /// Returns whether it found a thread writing a record, its block out of
    /// its slot: that block, and the records already in it, stay with the
    /// thread, for the loop to look again soon (this steal does not wait).
    pub(crate) fn steal_partial_blocks(&self) -> bool {
        // `batch_in_blocks` stays: only `take_batch_in_blocks` clears it,
        // before a steal that waits for a writer holding its block (this
        // one would miss that block).
        self.room_wanted.store(false, Ordering::Relaxed);
        let mut slots = lock(&self.slots);
        let Some(slots) = slots.as_mut() else {
            return false;
        };
        self.hand_over_slot_blocks(slots)
    }

    /// Hands the block of every slot in `slots` (the queue's, locked) to
    /// the loop and forgets the slots of threads that are gone; returns
    /// whether it found a thread writing, its block out of its slot (see
    /// [`steal_partial_blocks`](Self::steal_partial_blocks)).
    fn hand_over_slot_blocks(&self, slots: &mut Vec<Arc<Slot>>) -> bool {
        let mut held = false;
        slots.retain(|slot| {
            let taken = slot.block.take();
            let empty = taken.is_none();
            if let Some(block) = taken {
                // Open: handing over succeeds.
                let _ = self.hand_over(block);
            }
            // A slot only this list holds belongs to a thread that is gone.
            let alive = Arc::strong_count(slot) > 1;
            // Empty, with a write begun (see `Slot::begin_write`): the
            // block is out with its writer.
            held |= alive && empty && slot.writes.load(Ordering::Acquire) % 2 == 1;
            if !alive {
                // That thread may have been writing when the take above
                // found the slot empty, then put its block back and ended:
                // take it again, or the slot would be dropped with it (its
                // records never exported, its bytes never released).
                if let Some(block) = slot.block.take() {
                    let _ = self.hand_over(block);
                }
            }
            alive
        });
        self.budget.threads.store(slots.len(), Ordering::Relaxed);
        held
    }

    /// Hands every thread's partly filled block to the loop, waiting (until
    /// `deadline`) for threads caught writing a record: when a flush or
    /// shutdown begins, at the end of shutdown, and before each cut under
    /// `FsyncPolicy::EveryBatch`, so that records
    /// handed over before it began are not left in a block a preempted
    /// thread held at the moment of a plain steal.
    ///
    /// A block found in a slot holds only whole records (a writer takes it
    /// out first and puts it back when done), so taking it ends the wait
    /// for that slot; an empty slot whose write count is odd has its block
    /// out with a writer, who puts it back (or hands it over) when the
    /// record is in; it is looked at again once the count is even.
    ///
    /// Returns false if it gave up on a writer at `deadline`.
    pub(crate) fn steal_all_blocks(&self, deadline: Instant) -> bool {
        let mut slots = lock(&self.slots);
        let Some(slots) = slots.as_mut() else {
            return true;
        };
        let mut complete = true;
        for slot in slots.iter() {
            loop {
                if let Some(block) = slot.block.take() {
                    let _ = self.hand_over(block);
                    break;
                }
                // The slot is empty: its thread is writing a record with the
                // block out, or it has no block (it handed it over).
                let writes = slot.writes.load(Ordering::Acquire);
                if writes % 2 == 0 {
                    // Not writing now: a write that ended since the take
                    // above put its block back. Look once more; still empty
                    // and no write begun since (the same count), the thread
                    // has no block. Otherwise a write began again: wait.
                    if let Some(block) = slot.block.take() {
                        let _ = self.hand_over(block);
                        break;
                    }
                    if slot.writes.load(Ordering::Acquire) == writes {
                        break;
                    }
                }
                if Instant::now() >= deadline {
                    complete = false;
                    break;
                }
                std::thread::yield_now();
            }
        }
        complete
    }

    /// Closes the queue for good (the loop, at the end of shutdown) and
    /// discards every record still in it; returns what it discarded.
    pub(crate) fn close(&self) -> Discarded {
        let mut discarded = Discarded::default();
        if let Some(slots) = lock(&self.slots).take() {
            for slot in slots {
                if let Some(block) = slot.block.swap(Some(Block::closed_marker())) {
                    discarded.add(self.discard(block));
                }
            }
        }
        let blocks = {
            let mut handed = lock(&self.handed);
            handed.closed = true;
            std::mem::take(&mut handed.blocks)
        };
        for block in blocks {
            discarded.add(self.discard(block));
        }
        self.handed_records.store(0, Ordering::SeqCst);
        lock(&self.spare).clear();
        discarded
    }

    /// Records handed to the loop and not taken yet.
    pub(crate) fn handed_records(&self) -> usize {
        self.handed_records.load(Ordering::SeqCst)
    }

    /// Bytes the queue holds or has reserved for records being written.
    pub(crate) fn used_bytes(&self) -> usize {
        self.budget.bytes.load(Ordering::Relaxed)
    }

    /// The byte budget.
    pub(crate) fn max_bytes(&self) -> usize {
        self.budget.max_bytes
    }

    /// The count cap, if any.
    ///
    /// The cap as given: `usize::MAX` is one too, though the budget, which
    /// takes `usize::MAX` for "no cap", counts nothing against it (no queue
    /// reaches that many records).
    pub(crate) fn max_records(&self) -> Option<usize> {
        self.count_cap
    }

    /// A producer found no room: the loop should steal partial blocks.
    ///
    /// `SeqCst`, as the load in [`room_wanted`](Self::room_wanted): with
    /// `loop_sleeping` this is the store/load pattern of
    /// [`park_loop`](Self::park_loop), where either the producer sees the loop
    /// asleep or the loop sees the request. Relaxed, a weakly ordered CPU
    /// (ARM) may let both miss, and the producer waits out its block timeout.
    pub(crate) fn want_room(&self) {
        self.room_wanted.store(true, Ordering::SeqCst);
        self.wake_loop();
    }

    /// Whether a producer asked for room since the last steal.
    pub(crate) fn room_wanted(&self) -> bool {
        self.room_wanted.load(Ordering::SeqCst)
    }

    /// Records which thread to wake (the export loop); set once at start.
    pub(crate) fn set_loop_thread(&self, thread: Thread) {
        self.loop_wake.set_thread(thread);
    }

    /// Leaves the export loop to `start` when the first record arrives (or
    /// the pipeline asks, [`start_loop`](Self::start_loop)), instead of now.
    pub(crate) fn start_loop_on_first_record(&self, start: LoopStart) {
        *lock(&self.loop_start) = Some(start);
        self.loop_start_pending.store(true, Ordering::Release);
    }

    /// Starts the loop if it waits for a first record; once, whoever calls.
    /// Returns when it is started (or its start failed).
    pub(crate) fn start_loop(&self) {
        if !self.loop_start_pending.load(Ordering::Acquire) {
            return;
        }
        let mut pending = lock(&self.loop_start);
        if let Some(LoopStart(start)) = pending.take() {
            start();
        }
        self.loop_start_pending.store(false, Ordering::Release);
    }

    /// Whether the loop still waits for a first record: no record has
    /// reached the queue.
    pub(crate) fn loop_waits_for_a_record(&self) -> bool {
        self.loop_start_pending.load(Ordering::Acquire) && lock(&self.loop_start).is_some()
    }

    pub(crate) fn set_wake_at(&self, wake_at: usize) {
        self.wake_at.store(wake_at.max(1), Ordering::Relaxed);
    }

    /// Wakes the loop if it sleeps waiting for records.
    pub(crate) fn wake_loop(&self) {
        if self.loop_sleeping.swap(false, Ordering::SeqCst) {
            self.unpark_loop();
        }
    }

    /// Called by an export task once its completion is sent: wakes the loop
    /// only if it parked waiting for one. Otherwise the loop reads the
    /// completion when it next wakes (for records, a command or its tick);
    /// the counters the task updated itself are already exact.
    ///
    /// The wake-up cannot be lost: the task sends and then reads
    /// `completions_wanted`; the loop sets it and then looks at its
    /// completions; a `SeqCst` fence on each side between the two means at
    /// least one of them sees the other.
    pub(crate) fn wake_loop_for_completion(&self) {
        fence(Ordering::SeqCst);
        if self.completions_wanted.load(Ordering::Relaxed) {
            self.unpark_loop();
        }
    }

    /// Wakes the loop whatever it waits for (commands, finished exports).
    pub(crate) fn unpark_loop(&self) {
        #[cfg(test)]
        self.unparks.fetch_add(1, Ordering::Relaxed);
        self.loop_wake.wake();
    }

    /// Waits on the calling (loop) thread, through `wait` (the loop's
    /// [`ExportRuntime::wait`](crate::export_runtime::ExportRuntime::wait)),
    /// until `deadline`, a wake-up, or — when
    /// `wake_on_records` — a batch's worth of handed records (with
    /// [`waking_on_every_record`](Self::waking_on_every_record): any record,
    /// handed or in a thread's block), or — when
    /// `wake_on_completions` — a finished export. Returns at once if
    /// `ready()` holds after announcing the sleep, or if a record waits.
    ///
    /// The wake-up cannot be lost: the loop sets `loop_sleeping` and then
    /// reads the handed count; a producer adds to the count and then reads
    /// `loop_sleeping`, all `SeqCst`, so at least one sees the other. Records
    /// still in a thread's block: see [`wake_idle_loop`](Self::wake_idle_loop).
    pub(crate) fn park_loop(
        &self,
        deadline: Instant,
        wake_on_records: bool,
        wake_on_completions: bool,
        ready: impl Fn() -> bool,
        wait: impl FnOnce(Instant, &LoopWake),
    ) {
        #[cfg(test)]
        self.parks.fetch_add(1, Ordering::Relaxed);
        self.completions_wanted
            .store(wake_on_completions, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if wake_on_records && self.wake_on_every_record {
            // Idle only once every thread's block is seen empty after
            // announcing it (the other half of `wake_idle_loop`). Taking
            // the blocks here, before `loop_sleeping` is set, wakes no one.
            self.loop_idle.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            self.steal_partial_blocks();
            if self.handed_records() > 0 {
                self.loop_idle.store(false, Ordering::Relaxed);
                return;
            }
        }
        if wake_on_records {
            self.loop_sleeping.store(true, Ordering::SeqCst);
            if self.handed_records() >= self.wake_at.load(Ordering::Relaxed)
                || self.room_wanted()
                || self.batch_in_blocks()
            {
                self.loop_sleeping.store(false, Ordering::SeqCst);
                self.loop_idle.store(false, Ordering::Relaxed);
                return;
            }
        }
        if !ready() && deadline > Instant::now() {
            wait(deadline, &self.loop_wake);
        }
        self.loop_sleeping.store(false, Ordering::SeqCst);
        self.loop_idle.store(false, Ordering::Relaxed);
    }

    /// How often the loop went to wait.
    #[cfg(test)]
    pub(crate) fn parks(&self) -> usize {
        self.parks.load(Ordering::Relaxed)
    }
}

/// A thread's block held out of its slot, as while the thread writes a
/// record (for tests of the loop): [`put_back`](Self::put_back) ends the write.
#[cfg(test)]
pub(crate) struct HeldBlock {
    slot: Arc<Slot>,
    block: Option<Box<Block>>,
    writes: u64,
}

#[cfg(test)]
impl HeldBlock {
    /// Puts the block back and ends the write, as `push_local` does.
    pub(crate) fn put_back(self) {
        assert!(self.slot.block.swap(self.block).is_none());
        self.slot.end_write(self.writes);
    }
}

#[cfg(test)]
impl RecordQueue {
    /// Takes the calling thread's block out of its slot, beginning a write
    /// that [`HeldBlock::put_back`] ends.
    pub(crate) fn hold_own_block(&self) -> HeldBlock {
        let slot = LOCAL.with(|local| {
            let local = local.borrow();
            let entry = local.slots.iter().find(|e| e.queue == self.id);
            Arc::clone(&entry.expect("this thread has pushed a record").slot)
        });
        let writes = slot.begin_write();
        let block = slot.block.take();
        HeldBlock {
            slot,
            block,
            writes,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use otlp_core::encode::{frame, record};
    use otlp_core::{InstrumentationScope, Resource, SpanData};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;

    fn span(name: &str, attribute: &str) -> SpanData {
        SpanData::builder(name.to_string())
            .attribute(otlp_core::KeyValue::new("k", attribute.to_string()))
            .build()
    }

    /// Takes everything handed over and decodes it, batch by batch.
    fn drain(queue: &RecordQueue, batch: &mut Batch) -> Vec<String> {
        drain_with_scopes(queue, batch)
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }

    /// [`drain`], with each record's scope name.
    fn drain_with_scopes(queue: &RecordQueue, batch: &mut Batch) -> Vec<(String, String)> {
        let mut names = Vec::new();
        loop {
            let taken = batch.take(queue, 100, usize::MAX);
            if taken == 0 {
                return names;
            }
            let mut body = Vec::new();
            batch.write(0..taken, &mut body);
            let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
            for resource in request.resource_spans {
                for scope in resource.scope_spans {
                    let scope_name = scope.scope.map(|scope| scope.name).unwrap_or_default();
                    names.extend(
                        scope
                            .spans
                            .into_iter()
                            .map(|span| (scope_name.clone(), span.name)),
                    );
                }
            }
        }
    }

    #[test]
    fn a_finished_export_wakes_the_loop_only_when_it_waits_for_one() {
        let queue = RecordQueue::new(1_000, None, usize::MAX, 1);
        queue.set_loop_thread(std::thread::current());
        let unparks = || queue.unparks.load(Ordering::Relaxed);
        // Parked for records only (a permit free, no flush): not woken.
        queue.park_loop(Instant::now(), true, false, || true, |_, _| {});
        queue.wake_loop_for_completion();
        assert_eq!(unparks(), 0);
        // Parked waiting for an export to finish: woken.
        queue.park_loop(Instant::now(), true, true, || true, |_, _| {});
        queue.wake_loop_for_completion();
        assert_eq!(unparks(), 1);
        // A command or a shutdown wakes it whatever it waits for.
        queue.park_loop(Instant::now(), true, false, || true, |_, _| {});
        queue.unpark_loop();
        assert_eq!(unparks(), 2);
    }

    #[test]
    fn a_refused_record_wakes_an_idle_loop_that_missed_the_block_it_held() {
        // A zero scheduled delay: the loop, going idle, took every block it
        // found, but this thread had its block out of the slot, with an
        // earlier record in it, while refusing a record too large for a
        // request. Simulated by setting the flag the loop sets, with the
        // earlier record in the slot. Putting the block back, the thread
        // must wake the loop, which has no tick: the earlier record would
        // wait for the next one queued, a flush or shutdown.
        let queue = RecordQueue::new(1 << 20, None, 1_000, 512).waking_on_every_record();
        queue.set_loop_thread(std::thread::current());
        assert_eq!(queue.push(&span("earlier", "")), Push::Queued);
        queue.loop_idle.store(true, Ordering::SeqCst);
        let unparks = queue.unparks.load(Ordering::Relaxed);
        let big = span("big", &"x".repeat(2_000));
        assert!(matches!(queue.push(&big), Push::TooLarge(_)));
        assert_eq!(queue.unparks.load(Ordering::Relaxed), unparks + 1);
        assert!(!queue.loop_idle.load(Ordering::SeqCst));
    }

    #[test]
    fn the_slot_is_a_lock_free_pointer() {
        assert!(AtomicCell::<Option<Box<Block>>>::is_lock_free());
    }

    #[test]
    fn records_from_many_threads_interleave_without_corruption() {
        let queue = Arc::new(RecordQueue::new(1 << 16, None, usize::MAX, 64));
        let mut batch = Batch::default();
        // Each record's scope: one of 300 tenants, through a handle of the
        // thread's own or a fresh one, so that the loop merges, prunes and
        // renumbers its groups while the threads write.
        let tenant = |t: usize, i: usize| format!("tenant {}", (t * 7 + i * 13) % 300);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    let handles: Vec<_> = (0..300)
                        .map(|n| Arc::new(InstrumentationScope::new(format!("tenant {n}"))))
                        .collect();
                    for i in 0..5_000 {
                        let name = format!("t{t}-{i}");
                        let scope = match i % 3 {
                            0 => Arc::new(InstrumentationScope::new(tenant(t, i))),
                            _ => Arc::clone(&handles[(t * 7 + i * 13) % 300]),
                        };
                        let mut span = span(&name, &"x".repeat(i % 97));
                        span.scope = scope;
                        // Full: wait for the reader below, as the block policy does.
                        while queue.push(&span) == Push::Full {
                            queue.want_room();
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut names = Vec::new();
        let drain = |queue: &RecordQueue, batch: &mut Batch| {
            let records = drain_with_scopes(queue, batch);
            for (scope, name) in &records {
                let (t, i) = name
                    .strip_prefix('t')
                    .and_then(|rest| rest.split_once('-'))
                    .expect("a name of the test");
                let (t, i) = (t.parse().unwrap(), i.parse().unwrap());
                assert_eq!(*scope, tenant(t, i), "the scope of {name}");
            }
            records
        };
        // Bounded: a queue that kept bytes nobody can take would make this
        // loop spin forever (it did once: `steal_partial_blocks` dropped the
        // slot of a thread that put its block back and ended between the
        // steal's take and its check); the assertions then say what is left.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while (threads.iter().any(|thread| !thread.is_finished()) || queue.used_bytes() > 0)
            && std::time::Instant::now() < deadline
        {
            if queue.room_wanted() {
                queue.steal_partial_blocks();
            }
            names.extend(drain(&queue, &mut batch));
            queue.steal_partial_blocks();
            if threads.iter().all(|thread| thread.is_finished()) {
                queue.steal_all_blocks(
                    std::time::Instant::now() + std::time::Duration::from_millis(10),
                );
                names.extend(drain(&queue, &mut batch));
            }
        }
        for thread in threads {
            thread.join().unwrap();
        }
        names.extend(drain(&queue, &mut batch));
        assert_eq!(
            (names.len(), queue.used_bytes(), queue.handed_records()),
            (20_000, 0, 0),
            "records taken, bytes and handed records left"
        );
        // Each thread's records arrive complete, each once, and those of a
        // scope in the order written (a request groups them by scope).
        for t in 0..4 {
            let prefix = format!("t{t}-");
            let mut mine: Vec<(String, usize)> = names
                .iter()
                .filter_map(|(scope, name)| {
                    Some((scope.clone(), name.strip_prefix(&prefix)?.parse().ok()?))
                })
                .collect();
            let mut by_scope = std::collections::HashMap::<String, usize>::new();
            for (scope, i) in &mine {
                if let Some(last) = by_scope.insert(scope.clone(), *i) {
                    assert!(last < *i, "t{t}: {i} after {last} in {scope}");
                }
            }
            mine.sort_unstable_by_key(|(_, i)| *i);
            let indices: Vec<usize> = mine.into_iter().map(|(_, i)| i).collect();
            assert_eq!(indices, (0..5_000).collect::<Vec<_>>());
        }
        assert_eq!(queue.used_bytes(), 0);
    }

    #[test]
    fn a_record_larger_than_what_is_left_is_full_and_fits_once_room_is_made() {
        let small = span("small", "");
        let one = HEADER + record::span_len(&small);
        let queue = RecordQueue::new(3 * one, None, usize::MAX, 1);
        let mut batch = Batch::default();
        for _ in 0..3 {
            assert_eq!(queue.push(&small), Push::Queued);
        }
        assert_eq!(queue.push(&small), Push::Full);
        queue.steal_partial_blocks();
        assert_eq!(batch.take(&queue, 1, usize::MAX), 1);
        assert_eq!(queue.push(&small), Push::Queued);
        assert_eq!(queue.push(&small), Push::Full);
    }

    /// Runs `work` on a new thread (and its thread-locals), to the end.
    fn on_a_thread_of_its_own(work: impl FnOnce() + Send) {
        std::thread::scope(|scope| scope.spawn(work).join().unwrap());
    }

    /// The memory a thread keeps for a queue once a record larger than a
    /// block has passed through it, refused or queued: its block, of the
    /// usual size (it grew to encode such a record in place), and its room
    /// to encode records aside, a block's worth at most.
    fn kept_by_this_thread(queue: &RecordQueue) -> (usize, usize) {
        let held = queue.hold_own_block();
        let block = held.block.as_ref().map_or(0, |block| block.capacity());
        held.put_back();
        let scratch = LOCAL.with(|local| local.borrow().scratch.capacity());
        (block, scratch)
    }

    /// This thread keeps a usual block and at most a block's worth of
    /// scratch for `queue` ([`kept_by_this_thread`]).
    fn assert_keeps_at_most_a_block(queue: &RecordQueue) {
        let (block, scratch) = kept_by_this_thread(queue);
        assert!(
            block <= BLOCK_BYTES && scratch <= BLOCK_BYTES,
            "kept {block} bytes of block and {scratch} of scratch"
        );
    }

    #[test]
    fn a_record_larger_than_a_block_leaves_no_memory_behind_in_its_thread() {
        let big = span("big", &"x".repeat(4 << 20));
        let small = span("small", "");
        // On threads of their own: each starts with no scratch room.
        on_a_thread_of_its_own(|| {
            // Encoded in place into the thread's 64 KiB block (it grew to
            // 4 MiB), then refused as larger than the 1 MiB budget.
            let queue = RecordQueue::new(1 << 20, None, usize::MAX, 1);
            assert_eq!(queue.push(&small), Push::Queued);
            assert!(matches!(queue.push(&big), Push::TooLarge(_)));
            assert_keeps_at_most_a_block(&queue);
            // Its block is still the thread's usual one, and takes records.
            assert_eq!(queue.push(&small), Push::Queued);
        });
        on_a_thread_of_its_own(|| {
            // Blocks of 2 KiB (a budget of 32 KiB): every record is
            // encoded aside, and this one refused as too large.
            let queue = RecordQueue::new(32 << 10, None, usize::MAX, 1);
            assert_eq!(queue.push(&small), Push::Queued);
            assert!(matches!(queue.push(&big), Push::TooLarge(_)));
            assert_keeps_at_most_a_block(&queue);
        });
        on_a_thread_of_its_own(|| {
            // Queued: encoded in place, moved aside to a block of its own.
            let queue = RecordQueue::new(16 << 20, None, usize::MAX, 1);
            assert_eq!(queue.push(&small), Push::Queued);
            assert_eq!(queue.push(&big), Push::Queued);
            assert_eq!(queue.push(&small), Push::Queued);
            assert_keeps_at_most_a_block(&queue);
        });
    }

    #[test]
    fn a_record_larger_than_the_whole_budget_or_a_request_is_too_large() {
        let big = span("big", &"x".repeat(2_000));
        let queue = RecordQueue::new(1_000, None, usize::MAX, 1);
        assert!(matches!(queue.push(&big), Push::TooLarge(_)));
        let queue = RecordQueue::new(1 << 20, None, 1_000, 1);
        assert!(matches!(queue.push(&big), Push::TooLarge(_)));
        // Nothing of it stays: the thread's block, handed over, is empty.
        queue.steal_partial_blocks();
        assert_eq!((queue.used_bytes(), queue.handed_records()), (0, 0));
        assert_eq!(queue.push(&span("small", "")), Push::Queued);
    }

    #[test]
    fn a_full_queue_tells_a_record_that_never_fits_from_one_that_waits_for_room() {
        let small = span("small", "");
        let one = HEADER + record::span_len(&small);
        let small_request = frame::single_record_request_len(
            &small.resource,
            &small.scope,
            record::span_len(&small),
        );
        // Larger than the whole budget; within it but larger than a request.
        let cases = [(3 * one, usize::MAX), (one, small_request)];
        for (attribute, max_request_bytes) in cases {
            let queue = RecordQueue::new(3 * one, None, max_request_bytes, 1);
            while queue.push(&small) == Push::Queued {}
            let big = span("big", &"x".repeat(attribute));
            // No block, no room for one: `push` cannot tell.
            assert_eq!(queue.push(&big), Push::Full, "{attribute}");
            assert!(queue.never_fits(&big).0, "{attribute}");
            assert!(!queue.never_fits(&small).0, "{attribute}");
        }
    }

    #[test]
    fn a_record_whose_request_is_exactly_the_cap_is_queued_and_one_byte_more_is_too_large() {
        // Records of 100 bytes up to 300 KB: their length prefixes in the
        // request take one to three bytes.
        for size in [100, 1_000, 20_000, 300_000] {
            let span = span("s", &"x".repeat(size));
            let exact = frame::single_record_request_len(
                &span.resource,
                &span.scope,
                record::span_len(&span),
            );
            let queue = RecordQueue::new(1 << 22, None, exact - 1, 1);
            assert_eq!(
                queue.push(&span),
                Push::TooLarge(record::span_len(&span)),
                "{size}: a byte over the cap"
            );
            let queue = RecordQueue::new(1 << 22, None, exact, 1);
            assert_eq!(
                queue.push(&span),
                Push::Queued,
                "{size}: a request of exactly the cap"
            );
            queue.steal_partial_blocks();
            let mut batch = Batch::default();
            assert_eq!(batch.take(&queue, 100, exact), 1);
            let mut body = Vec::new();
            assert_eq!(batch.write(0..1, &mut body), exact);
            assert_eq!(body.len(), exact);
        }
    }

    #[test]
    fn equal_resources_behind_handles_of_their_own_share_one_group() {
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        for i in 0..1_000 {
            let span = SpanData::builder(format!("s{i}"))
                .resource(Arc::new(Resource::new([otlp_core::KeyValue::new(
                    "service.name",
                    "fresh handle every time",
                )])))
                .scope(Arc::new(InstrumentationScope::new("fresh too")))
                .build();
            assert_eq!(queue.push(&span), Push::Queued);
        }
        queue.steal_partial_blocks();
        let mut batch = Batch::default();
        assert_eq!(batch.take(&queue, 1_000, usize::MAX), 1_000);
        let mut body = Vec::new();
        batch.write(0..1_000, &mut body);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        assert_eq!(request.resource_spans.len(), 1);
        assert_eq!(request.resource_spans[0].scope_spans.len(), 1);
        assert_eq!(request.resource_spans[0].scope_spans[0].spans.len(), 1_000);
    }

    /// Records refused as too large, each under a scope of its own, add
    /// no group to their thread's block (which they do not fill: its list
    /// grew by one group, two handles kept, per refusal, for as long as the
    /// thread wrote no record that fits).
    #[test]
    fn records_refused_as_too_large_leave_no_group_in_their_block() {
        let queue = RecordQueue::new(1 << 22, None, 1_000, 1);
        let mut scopes = Vec::new();
        for i in 0..1_000 {
            let scope = Arc::new(InstrumentationScope::new(format!("tenant {i}")));
            scopes.push(Arc::downgrade(&scope));
            let span = SpanData::builder("x".repeat(2_000)).scope(scope).build();
            assert!(matches!(queue.push(&span), Push::TooLarge(_)));
        }
        let span = SpanData::builder("fits")
            .scope(Arc::new(InstrumentationScope::new("fits")))
            .build();
        assert_eq!(queue.push(&span), Push::Queued);
        let alive = scopes
            .iter()
            .filter(|scope| scope.strong_count() > 0)
            .count();
        assert_eq!(alive, 0, "scopes of refused records kept alive");
        queue.steal_partial_blocks();
        let block = queue.pop_block().expect("the thread's block");
        assert_eq!((block.records(), block.groups().len()), (1, 1));
    }

    /// A thread that switches between many tenants' scopes finds each
    /// record's group without scanning its block's list (it compared the
    /// record's handles with every group before it: 0.4 µs a push at 6,000
    /// tenants). A record refused as too large under a new scope, past the
    /// scan, leaves no group behind, and every record keeps its own group.
    #[test]
    fn records_of_many_tenants_on_one_thread_find_their_block_group_without_a_scan() {
        let queue = RecordQueue::new(1 << 24, None, 4_096, 1);
        let scopes: Vec<_> = (0..500)
            .map(|i| Arc::new(InstrumentationScope::new(format!("tenant {i}"))))
            .collect();
        let mut pushed = 0;
        for _ in 0..3 {
            for (i, scope) in scopes.iter().enumerate() {
                let span = SpanData::builder(format!("tenant {i}"))
                    .scope(Arc::clone(scope))
                    .build();
                assert_eq!(queue.push(&span), Push::Queued);
                pushed += 1;
            }
            let refused = SpanData::builder("x".repeat(5_000))
                .scope(Arc::new(InstrumentationScope::new("refused")))
                .build();
            assert!(matches!(queue.push(&refused), Push::TooLarge(_)));
        }
        queue.steal_partial_blocks();
        let (mut records, mut compared) = (0, 0);
        while let Some(block) = queue.pop_block() {
            let mut offset = 0;
            while let Some((group, bytes, next)) = block.record_at(offset) {
                let span = Span::decode(bytes).expect("a span");
                assert_eq!(
                    block.groups()[group as usize].scope.name.as_str(),
                    span.name
                );
                offset = next;
                records += 1;
            }
            assert!(
                block.groups().len() <= scopes.len(),
                "a refused record's group stayed"
            );
            compared += block.compared;
        }
        assert_eq!(records, pushed);
        assert!(
            compared < 4 * pushed as u64,
            "{compared} comparisons of handles for {pushed} records"
        );
    }

    /// Tracers made per request give every span a scope handle of its own:
    /// equal to the block's last group, the spans share it (the list does not
    /// grow by one group a record, each measured and mapped by the loop).
    #[test]
    fn records_of_equal_scopes_behind_fresh_handles_share_their_block_group() {
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        for i in 0..100 {
            let span = SpanData::builder(format!("s{i}"))
                .scope(Arc::new(InstrumentationScope::new("made per request")))
                .build();
            assert_eq!(queue.push(&span), Push::Queued);
        }
        queue.steal_partial_blocks();
        let block = queue.pop_block().expect("the thread's block");
        assert_eq!((block.records(), block.groups().len()), (100, 1));
    }

    /// A pipeline that meets new scopes for as long as it runs (tracers
    /// named after tenants or versions) takes every record, and keeps no
    /// scope alive for long once its records are taken.
    #[test]
    fn new_scopes_are_taken_for_as_long_as_the_pipeline_runs() {
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        let mut batch = Batch::default();
        let mut scopes = Vec::new();
        for round in 0..12 {
            for i in 0..1_000 {
                let scope = Arc::new(InstrumentationScope::new(format!("tenant {round}-{i}")));
                scopes.push(Arc::downgrade(&scope));
                let span = SpanData::builder(format!("s{round}-{i}"))
                    .scope(scope)
                    .build();
                assert_eq!(queue.push(&span), Push::Queued, "tenant {round}-{i}");
            }
            queue.steal_partial_blocks();
            assert_eq!(drain(&queue, &mut batch).len(), 1_000, "round {round}");
        }
        let alive = scopes
            .iter()
            .filter(|scope| scope.strong_count() > 0)
            .count();
        assert!(alive < 4_000, "{alive} of 12,000 scopes still alive");
    }

    /// Resources are grouped by their encoding: `0.0` and `-0.0` (equal to
    /// `==`) are two resources, each record sent under its own; equal
    /// resources holding a NaN (never equal to `==`) are one.
    #[test]
    fn resources_are_grouped_by_their_encoding_not_by_float_equality() {
        let resource = |x: f64| Arc::new(Resource::new([otlp_core::KeyValue::new("x", x)]));
        let scope = Arc::new(InstrumentationScope::new("s"));
        let span = |name: &str, resource: Arc<Resource>| {
            SpanData::builder(name.to_string())
                .resource(resource)
                .scope(scope.clone())
                .build()
        };
        // The spans (name, x), and the ResourceSpans expected (x's bits, names).
        type Case = (
            &'static [(&'static str, f64)],
            Vec<(u64, Vec<&'static str>)>,
        );
        let cases: [Case; 2] = [
            (
                &[("zero", 0.0), ("minus zero", -0.0), ("zero again", 0.0)],
                vec![
                    (0.0f64.to_bits(), vec!["zero", "zero again"]),
                    ((-0.0f64).to_bits(), vec!["minus zero"]),
                ],
            ),
            (
                &[("nan", f64::NAN), ("nan again", f64::NAN)],
                vec![(f64::NAN.to_bits(), vec!["nan", "nan again"])],
            ),
        ];
        for (spans, expected) in cases {
            let queue = RecordQueue::new(1 << 20, None, usize::MAX, 1);
            for &(name, x) in spans {
                assert_eq!(queue.push(&span(name, resource(x))), Push::Queued);
            }
            queue.steal_partial_blocks();
            let mut batch = Batch::default();
            let taken = batch.take(&queue, 100, usize::MAX);
            assert_eq!(taken, spans.len());
            let mut body = Vec::new();
            batch.write(0..taken, &mut body);
            let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
            let seen: Vec<(u64, Vec<String>)> = request
                .resource_spans
                .into_iter()
                .map(|resource_spans| {
                    let resource = resource_spans.resource.expect("a resource");
                    let x = match resource.attributes[0]
                        .value
                        .as_ref()
                        .and_then(|v| v.value.as_ref())
                    {
                        Some(Value::DoubleValue(x)) => x.to_bits(),
                        other => panic!("expected a double, got {other:?}"),
                    };
                    let names = resource_spans
                        .scope_spans
                        .into_iter()
                        .flat_map(|scope| scope.spans)
                        .map(|span| span.name)
                        .collect();
                    (x, names)
                })
                .collect();
            let expected: Vec<(u64, Vec<String>)> = expected
                .into_iter()
                .map(|(x, names)| (x, names.into_iter().map(str::to_owned).collect()))
                .collect();
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn the_count_cap_holds_exactly() {
        let queue = RecordQueue::new(1 << 20, Some(5), usize::MAX, 1);
        let pushed = (0..8)
            .filter(|_| queue.push(&span("s", "")) == Push::Queued)
            .count();
        assert_eq!(pushed, 5);
    }

    #[test]
    fn a_closed_queue_discards_what_it_holds_and_refuses_the_rest() {
        let queue = RecordQueue::new(1 << 20, None, usize::MAX, 1);
        for _ in 0..3 {
            assert_eq!(queue.push(&span("s", "")), Push::Queued);
        }
        // Two in this thread's block, one handed over by another thread.
        std::thread::scope(|scope| {
            scope.spawn(|| queue.push(&span("s", "")));
        });
        assert_eq!(queue.close().records, 4);
        assert!(matches!(
            queue.push(&span("s", "")),
            Push::Closed(Discarded { records: 1, .. })
        ));
        assert_eq!(queue.used_bytes(), 0);
    }

    #[test]
    fn a_steal_waiting_for_a_writer_takes_the_block_it_puts_back() {
        // A writer holds its block (a record in it) while `steal_all_blocks`
        // waits for it, then puts it back and ends its write, as
        // `push_local` does. The steal must take that block however the two
        // interleave: the record was queued before the steal began.
        let queue = Arc::new(RecordQueue::new(1 << 20, None, usize::MAX, 1));
        let mut batch = Batch::default();
        let rounds = 10_000;
        let mut missed = 0;
        for round in 0..rounds {
            assert_eq!(queue.push(&span("s", "")), Push::Queued);
            let slot = LOCAL.with(|local| {
                let local = local.borrow();
                let entry = local.slots.iter().find(|e| e.queue == queue.id).unwrap();
                Arc::clone(&entry.slot)
            });
            // What `push_local` does before writing the next record.
            let writes = slot.begin_write();
            let held = slot.block.take();
            assert!(held.is_some());
            let started = Arc::new(std::sync::Barrier::new(2));
            let stealer = {
                let queue = Arc::clone(&queue);
                let started = Arc::clone(&started);
                std::thread::spawn(move || {
                    started.wait();
                    queue.steal_all_blocks(Instant::now() + std::time::Duration::from_secs(30));
                })
            };
            started.wait();
            for _ in 0..(round % 200) * 20 {
                std::hint::spin_loop();
            }
            // What `push_local` does once the record is in.
            assert!(slot.block.swap(held).is_none());
            slot.end_write(writes);
            stealer.join().unwrap();
            if queue.handed_records() == 0 {
                missed += 1;
                queue.steal_partial_blocks();
            }
            assert_eq!(drain(&queue, &mut batch).len(), 1);
        }
        assert_eq!(
            missed, 0,
            "the steal left the block in its slot in {missed} of {rounds} rounds"
        );
    }

    #[test]
    fn a_record_written_while_the_queue_closes_is_discarded_by_its_writer() {
        let queue = RecordQueue::new(1 << 20, None, usize::MAX, 1);
        assert_eq!(queue.push(&span("s", "")), Push::Queued);
        // The loop closes while this thread holds its block (as if between
        // taking it and putting it back): simulated by taking it here.
        let held = LOCAL.with(|local| {
            let local = local.borrow();
            let entry = local.slots.iter().find(|e| e.queue == queue.id).unwrap();
            entry.slot.block.take()
        });
        assert_eq!(queue.close().records, 0);
        LOCAL.with(|local| {
            let local = local.borrow();
            let entry = local.slots.iter().find(|e| e.queue == queue.id).unwrap();
            let marker = entry.slot.block.swap(held);
            // What `push_local` does when its put-back finds the marker.
            let mine = entry.slot.block.swap(marker).unwrap();
            assert_eq!(queue.discard(mine).records, 1);
        });
    }
}
