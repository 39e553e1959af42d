//! [`DurableStats`]: what the queue holds and what it has lost, at one moment.

/// Counters of a [`DurableQueue`](super::DurableQueue), from
/// [`stats`](super::DurableQueue::stats). "Since open" counters start at zero
/// each time the queue is opened; the others describe the directory now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurableStats {
    /// Bytes of all segment files (acknowledgement files, 16 bytes per
    /// delivered record until their segment goes, are not counted).
    pub bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Records stored and neither acknowledged, evicted nor found damaged.
    pub pending_records: u64,
    /// Spans in those records.
    pub pending_spans: u64,
    /// Records found pending when the queue was opened (to be replayed; each
    /// may already have been delivered once if its acknowledgement was lost).
    pub recovered_records: u64,
    /// Spans in those records.
    pub recovered_spans: u64,
    /// Records appended since open.
    pub appended_records: u64,
    /// Records acknowledged since open.
    pub acked_records: u64,
    /// Pending records deleted by the disk cap since open.
    pub evicted_records: u64,
    /// Spans in those records.
    pub evicted_spans: u64,
    /// Damaged records skipped: found when opening (then removed from disk,
    /// so the next open does not count them again), or when read back.
    pub corrupt_records: u64,
    /// Spans in those damaged records whose header survived (so that their
    /// span count is known): lost.
    pub corrupt_spans: u64,
    /// Damaged records found when opening (in `corrupt_records`, or in a
    /// torn tail) whose header was damaged or cut short, so that their span
    /// count is unknown: their spans are lost and in no counter (see
    /// [`Recovered::uncounted_corrupt_records`](super::Recovered::uncounted_corrupt_records)).
    pub uncounted_corrupt_records: u64,
    /// Bytes of damaged stretches skipped when opening.
    pub corrupt_bytes: u64,
    /// Bytes of a record cut short by a crash, cut off the newest segment when opening.
    pub torn_tail_bytes: u64,
    /// Segment files holding another signal's requests, renamed aside when
    /// opening (see [`Recovered::foreign_segments`](super::Recovered::foreign_segments)).
    pub foreign_segments: u64,
    /// Segment files whose ids overlap the directory's own, renamed aside
    /// when opening (see [`Recovered::overlapping_segments`](super::Recovered::overlapping_segments)).
    pub overlapping_segments: u64,
    /// `fdatasync` calls (files and the directory) since open.
    pub syncs: u64,
}
