//! The durable queue: encoded requests kept on disk until the backend accepted them.
//!
//! Opt-in. With it, the export loop [`append`](DurableQueue::append)s every
//! encoded request to a directory before exporting it and
//! [`ack`](DurableQueue::ack)s it once the export is settled. A backend outage
//! or a crash then loses nothing that reached the disk: when the pipeline
//! starts again, [`DurableQueue::open`] hands back every request that was
//! never acknowledged, oldest first, to be sent before new data. Delivery is
//! *at least once*: a request exported but whose acknowledgement did not reach
//! the disk before a crash is sent again ([`Recovered`] counts the replays).
//!
//! - [`DurableConfig`]: the directory, the disk cap, the segment size, the [`FsyncPolicy`].
//! - [`DurableQueue`]: `open` (`open_for` a signal's pipeline), `append`, `ack`, `read`, `sync`, `stats`.
//! - [`DurableError`]: every failure names its file and operation; nothing on
//!   disk, however damaged, makes the queue panic.
//!
//! # The directory
//!
//! ```text
//! lock                         held (flock) while a queue has the directory open; holds "pid N"
//! signal                       whose requests these are: "traces", "logs" or "metrics"
//! 00000000000000000001.seg     a segment: records 1, 2, ... (named by its first id, 20 digits)
//! 00000000000000000001.ack     acknowledgements of that segment's records
//! 00000000000000000158.seg     the newest segment, being appended to
//! 00000000000000000001.rewrite only while opening: a damaged segment's sound records, copied
//! 00000000000000000004.seg.logs a segment holding another signal's requests, set aside
//! 00000000000000000002.seg.overlap a segment whose ids overlap the others', set aside
//! ```
//!
//! A body does not say which signal's request it is, so the directory
//! does: a queue serving a pipeline ([`DurableQueue::open_for`]) writes the
//! file `signal` when it first opens the directory, and a queue for another
//! signal is refused the directory ([`DurableError::WrongSignal`]) rather
//! than sending, say, trace requests to the logs endpoint. A directory
//! without the file (written by an older version) is adopted by the first
//! signal to open it.
//!
//! Each record says it too (byte 6 of its header), so that a segment file
//! copied in from another pipeline's directory (a restored backup, files
//! moved by hand) is not replayed to this signal's endpoint: opening sets it
//! aside, its acknowledgement file with it, by adding the signal it holds to
//! its name (`N.seg.logs`, `N.ack.logs`; never read or deleted again, so it
//! can be moved back where it belongs), and reports it
//! ([`Recovered::foreign_segments`]). A record written by
//! [`DurableQueue::open`] or by an earlier version names no signal and is
//! taken by any queue.
//!
//! Every segment is read before its name is taken for a range of ids: a
//! copied segment's name would otherwise cut the range of the segment
//! before it, whose records past that name would be taken for damage. A
//! copy that names no signal, or this one (from another directory of the
//! same signal), cannot be told by its records; but the segments a queue
//! writes never overlap (each one's ids are below the next one's name), so
//! a copy whose ids overlap the directory's own is found by that: of the
//! overlapping segments, the fewest are set aside (the one overlapping the
//! most others first; of two overlapping only each other, the later name,
//! which falls among the other's ids), as `N.seg.overlap`, and reported
//! ([`Recovered::overlapping_segments`]). Nothing is deleted or taken for
//! damage because a file was copied in, whichever of two is set aside. A
//! copy that overlaps none of the directory's ids is taken as its own. A
//! name already taken by a file set aside earlier gets a number
//! (`N.seg.logs.1`): one is never renamed over another.
//!
//! Records are appended to the newest segment until the next one would take
//! it past `segment_bytes`; then a new segment is started. A segment is
//! deleted, with its acknowledgement file, once every record in it is
//! acknowledged (the newest only once a newer one exists). When an
//! append would take the segments past `max_bytes`, the oldest segments are
//! deleted whether delivered or not, and what they held is reported as
//! [`Evicted`] for the caller to count as dropped — and by
//! [`DurableQueue::evicted_through`], which also covers an eviction made for
//! an append whose write then failed. A single record larger than
//! `max_bytes` is refused ([`DurableError::TooLarge`]).
//!
//! Record ids grow by one per append and continue after a restart: the newest
//! segment is never deleted before a newer one exists, and its name or its
//! last record gives the next id.
//!
//! # The segment file format
//!
//! A segment is a sequence of records and nothing else. A record is a 32-byte
//! header and the body; integers are little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `OTLR` |
//! | 4 | 1 | format version, `1` |
//! | 5 | 1 | body encoding: `0` protobuf, `1` OTLP/JSON |
//! | 6 | 1 | signal: `0` none said, `1` traces, `2` logs, `3` metrics |
//! | 7 | 1 | reserved, zero |
//! | 8 | 8 | record id (u64) |
//! | 16 | 4 | spans in the body (u32) |
//! | 20 | 4 | body length in bytes (u32) |
//! | 24 | 4 | CRC-32C of the body |
//! | 28 | 4 | CRC-32C of bytes 0..28 of the header |
//! | 32 | length | the body: the `ExportTraceServiceRequest`, exactly as sent |
//!
//! The pipelines store protobuf bodies only: a JSON pipeline stores the
//! protobuf request its JSON body is transcoded from, and transcodes it again
//! when it sends it from disk. So a directory outlives a change of protocol
//! either way. (Earlier versions stored JSON bodies as sent; a protobuf
//! exporter refuses those, and they are counted as failed.)
//!
//! The header checksum covers the body checksum, so together they cover the
//! whole record; and because the header has its own, its length field is
//! trusted only once checked. A record is written with one `writev` of header
//! and body.
//!
//! An acknowledgement file is a sequence of 16-byte entries: magic `OTLA`,
//! the record id (u64), CRC-32C of those 12 bytes. Entries are appended in
//! the order acknowledgements come, which need not be id order.
//!
//! # Crashes and damage
//!
//! Opening reads every segment and checks every record
//! (the reader is `scan.rs`):
//!
//! - **Torn tail.** A crash during a write leaves a partial record (or, after
//!   a power loss, zeros or stale bytes) at the end of the newest segment. It
//!   fails its checks and nothing sound follows it: it is cut off
//!   ([`Recovered::torn_tail_bytes`]) and appending continues after the last
//!   sound record.
//! - **Corruption.** A damaged record elsewhere (bit rot, a lost page) is
//!   skipped and counted ([`Recovered::corrupt_records`]); reading carries on
//!   with the next sound record. When the damaged record's header is sound, its
//!   length says where the next record starts, and its span count what was
//!   lost ([`Recovered::corrupt_spans`], for a record cut short after its
//!   header too; a pipeline counts those spans dropped); when not, its
//!   span count is lost with it ([`Recovered::uncounted_corrupt_records`]
//!   counts such records) and the reader searches
//!   forward for the next magic followed by a header whose checksum matches and
//!   whose id is above the last sound one. So damage costs only the damaged
//!   records, and never turns into garbage replayed as a request: a record is
//!   returned only if both checksums match.
//! - **Damaged acknowledgement entries** are ignored: their records are sent again.
//!
//! Damage is reported by the open that finds it, once: then it is removed
//! from disk, so that the next open (the next restart of a crash loop) does
//! not count it again. A record that a read finds damaged (after the open)
//! is counted by that read and acknowledged, so that the next open, which
//! finds the damage on disk, does not count it a second time. A damaged tail is cut off (in any segment), and a
//! segment with damage followed by sound records is rewritten with only its
//! sound records — copied into `N.rewrite`, fsynced, renamed over `N.seg`
//! (see `repair.rs`). Nothing sound is lost: the copy is made
//! durable before it replaces the segment, and a crash before that leaves
//! the segment whole (the next open deletes the partial copy). A repair that
//! fails (a full disk) leaves the damage, reported again next time.
//!
//! # What survives what
//!
//! Every append and acknowledgement is written to the operating system
//! before the call returns, so a crash of the process loses nothing under any
//! policy. [`FsyncPolicy`] decides what a crash of the machine loses:
//! everything since the last `fdatasync`. See its table.
//!
//! # Cost
//!
//! One thread owns the queue; no locks, no background threads, blocking file
//! I/O. An append is a CRC-32C over the body and one `writev`; an
//! acknowledgement a 16-byte write. Bodies are not kept in memory: replay
//! reads each with [`DurableQueue::read`] when it is its turn.

mod acks;
mod config;
mod crc;
mod error;
mod fs;
mod lock;
mod queue;
mod record;
mod repair;
mod scan;
mod segment;
mod signal_file;
mod stats;

pub use config::{DurableConfig, FsyncPolicy};
pub use error::DurableError;
#[cfg(test)]
pub(crate) use fs::stalled_syncs;
pub use queue::{Appended, DurableQueue, Evicted, Recovered};
pub use record::{PendingRecord, RecordId};
pub use stats::DurableStats;
