//! [`DurableQueue`]: encoded requests kept on disk from before their export
//! until the backend accepted them.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use otlp_core::encode::Encoding;

use super::acks::read_ack_file;
use super::config::{DurableConfig, FsyncPolicy};
use super::error::DurableError;
use super::fs::{
    check_openable, remove_if_present, sync_directory, sync_linked, write_all_vectored,
};
use super::lock::DirectoryLock;
use super::record::{HEADER_LEN, HEADER_LEN_U64, PendingRecord, RecordHeader, RecordId};
use super::repair::{cut_tail, rewrite_sound_records};
use super::scan::{CHUNK_LEN, DamagedRecord, FileSource, SegmentScan, scan};
use super::segment::{FileKind, ID_LIMIT, Segment, Slot, file_path, parse_file_name};
use super::signal_file::claim;
use super::stats::DurableStats;
use crate::exporter::Signal;

/// Acknowledgement files kept open at once. Acknowledgements come about in
/// id order, to one or two segments at a time; a handle for every segment
/// would take one descriptor per segment (65,536 of 4 KiB under a 256 MiB cap).
/// Past it, the file written to least recently is closed: the next write to it
/// opens it again, and `sync` syncs what it holds through a new handle.
const MAX_OPEN_ACK_FILES: usize = 4;

/// What [`DurableQueue::append`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "evicted records are lost spans that must be counted"]
pub struct Appended {
    /// The new record's id: [`ack`](DurableQueue::ack) it once delivered.
    pub id: RecordId,
    /// Older records deleted to keep under the disk cap to make room.
    pub evicted: Evicted,
}

/// Pending records deleted by the disk cap, oldest first, whole segments at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Pending records deleted.
    pub records: u64,
    /// Spans in them.
    pub spans: u64,
    /// No record up to and including this id is stored any more. A request
    /// still being exported from memory may be among them: it is no longer
    /// protected against a crash, but not lost either, so count its spans
    /// where its export ends, not as dropped; acknowledging it does nothing.
    pub through: Option<RecordId>,
}

/// What [`DurableQueue::open`] found: the records to replay, oldest first,
/// and the damage it skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records stored and never acknowledged, in id order. Read each body with
    /// [`DurableQueue::read`] when it is its turn to be sent, so replay holds
    /// one body in memory at a time rather than the whole backlog.
    pub records: Vec<PendingRecord>,
    /// Damaged records skipped (bit rot, lost writes); the spans of those
    /// whose header survived are in `corrupt_spans`, the others' are
    /// unknown. Each is reported by one open only: once counted, the damage
    /// is removed from disk (see [the module docs](super#crashes-and-damage)).
    pub corrupt_records: u64,
    /// Bytes of those damaged stretches.
    pub corrupt_bytes: u64,
    /// Spans in the damaged records whose header survived (in a torn tail
    /// too): before a body that fails its checksum, or that was cut short.
    /// Their span count is known: lost. Reported by one open only, as
    /// `corrupt_records` is.
    pub corrupt_spans: u64,
    /// Damaged records (in `corrupt_records`, or in a torn tail) whose
    /// header is damaged or cut short: their span count went with it, and
    /// their spans are lost uncounted (in no `corrupt_spans`). Nothing on
    /// disk gives the count back; their bytes (in `corrupt_bytes`, or
    /// `torn_tail_bytes`) only bound it loosely. Reported by one open only.
    pub uncounted_corrupt_records: u64,
    /// Bytes of a record cut short by a crash, cut off the newest segment.
    pub torn_tail_bytes: u64,
    /// Segment files that hold another signal's requests (copied in from
    /// another pipeline's directory, say): not replayed, and not taken for
    /// damage either. Each is renamed aside, its acknowledgement file with
    /// it, by adding the signal it holds to its name
    /// (`00000000000000000004.seg.logs`, `00000000000000000004.ack.logs`),
    /// and these are their new paths: the queue never reads or deletes them
    /// again. Only a queue opened for a signal ([`DurableQueue::open_for`])
    /// sets segments aside as foreign, and only those whose records name another
    /// signal (records written by [`DurableQueue::open`] or by an earlier
    /// version name none).
    pub foreign_segments: Vec<PathBuf>,
    /// Segment files whose records' ids overlap the directory's own: a
    /// copy from another directory of the same signal, or from one whose
    /// records name no signal (an older version's, `open`'s), which cannot
    /// be told foreign by its records. Not replayed, and not taken for
    /// damage either: of two segments that overlap, one is renamed aside
    /// (`00000000000000000004.seg.overlap`, its acknowledgement file with
    /// it), the one overlapping the most others, or of two overlapping
    /// only each other the later name (whose name falls among the other's
    /// ids); these are their new paths, never read or deleted again. A
    /// copy whose ids overlap none of the directory's is taken as its own.
    /// Any queue sets these aside, [`DurableQueue::open`]'s too.
    pub overlapping_segments: Vec<PathBuf>,
}

impl Recovered {
    /// Spans in the records to replay.
    pub fn span_count(&self) -> u64 {
        self.records
            .iter()
            .map(|record| u64::from(record.span_count))
            .sum()
    }
}

/// Encoded export requests kept on disk until the backend has accepted them.
///
/// The export loop [`append`](DurableQueue::append)s each encoded request
/// before sending it and [`ack`](DurableQueue::ack)s it once the outcome is
/// final; after a restart, [`open`](DurableQueue::open) hands back what was
/// never acknowledged, oldest first, to be sent before new data. Delivery is
/// at least once: a request whose acknowledgement was lost in a crash is sent
/// again.
///
/// Cost model: blocking file I/O on the caller's thread, no locks, no
/// background threads. `append` is one `writev` of header and body (plus one
/// `fdatasync` under [`FsyncPolicy::EveryBatch`]) and a CRC-32C over the body;
/// `ack` is one 16-byte write; a segment file is created or deleted once per
/// `segment_bytes`. Memory: 32 bytes per stored record; bodies are never kept
/// in memory. Open files: the segment being appended to, the one last read
/// from, and the acknowledgement files of the four segments last
/// acknowledged in, whatever the number of segments. `Send`; every method
/// that changes it takes `&mut self`: one thread (the export loop) owns it.
///
/// ```
/// use otlp_sdk::Encoding;
/// use otlp_sdk::durable::{DurableConfig, DurableQueue, FsyncPolicy};
///
/// # let directory = std::env::temp_dir().join(format!("otlp-durable-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&directory);
/// let config = DurableConfig { fsync: FsyncPolicy::Never, ..DurableConfig::new(&directory) };
/// let (mut queue, recovered) = DurableQueue::open(config.clone())?;
/// assert!(recovered.records.is_empty());
///
/// let first = queue.append(Encoding::Protobuf, 2, b"request one")?.id;
/// let second = queue.append(Encoding::Protobuf, 5, b"request two")?.id;
/// queue.ack(first)?; // the backend accepted it
/// drop(queue); // or a crash
///
/// let (mut queue, recovered) = DurableQueue::open(config)?;
/// assert_eq!(recovered.records.len(), 1);
/// let mut body = Vec::new();
/// let record = queue.read(second, &mut body)?;
/// assert_eq!((record.span_count, &body[..]), (5, &b"request two"[..]));
/// # drop(queue);
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DurableQueue {
    config: DurableConfig,
    /// Whose requests it holds (`open_for`), written into every record; `None` for `open`.
    signal: Option<Signal>,
    /// Oldest first; the last one is being appended to while `writer` is open.
    segments: VecDeque<Segment>,
    /// The newest segment, open for appending.
    writer: Option<File>,
    /// Files created or removed since the directory was last fsynced.
    directory_dirty: bool,
    next_id: u64,
    /// When `sync` last tried to make writes durable (succeeded or not).
    last_sync: Instant,
    /// The segment last read from, kept open for sequential replay.
    reader: Option<(u64, File)>,
    /// The segments (by first id) whose acknowledgement file is open, the
    /// one written to last at the back; at most [`MAX_OPEN_ACK_FILES`].
    open_acks: VecDeque<u64>,
    /// No record up to and including this id is stored any more: the disk
    /// cap evicted it (in this run). Kept here, not only in what `append`
    /// returns, because an append can evict and then fail to write.
    evicted_through: Option<RecordId>,
    stats: DurableStats,
    _lock: DirectoryLock,
}

impl DurableQueue {
    /// Opens the queue in `config.directory`, creating the directory if
    /// missing, and takes its lock. Reads every segment in order and checks
    /// every record; cuts a torn tail off the newest segment; skips damaged
    /// records (all counted in [`Recovered`]) and removes them from disk, so
    /// that they are reported once; deletes segments with nothing left to
    /// deliver. Returns the queue and the records to replay.
    ///
    /// Reads the whole queue once: about as long as reading `max_bytes` from
    /// disk; and writes once more the sound records of a segment found damaged.
    /// What it finds (32 bytes a record) is held until every segment is
    /// read, since a segment's ids are checked against all the others'
    /// before it is taken in (see [`Recovered::overlapping_segments`]).
    ///
    /// The directory's `signal` file is neither read nor written, records
    /// are taken whatever signal they name, and those appended name none: a
    /// queue that serves a pipeline opens with [`open_for`](Self::open_for).
    pub fn open(config: DurableConfig) -> Result<(DurableQueue, Recovered), DurableError> {
        Self::open_claimed(config, None)
    }

    /// [`open`](Self::open)s the queue of a `signal` pipeline: refuses
    /// ([`DurableError::WrongSignal`]), before touching anything, a
    /// directory that holds another signal's requests, and claims one that
    /// holds no signal's yet, so that no other signal's pipeline may replay
    /// its records later to the wrong endpoint. A directory written before
    /// directories were claimed (by an older version, or by `open`) is
    /// adopted by the first signal to open it: its records are taken as that
    /// signal's. Every record appended names `signal`, and a segment file
    /// whose records name another one (copied in from another pipeline's
    /// directory) is set aside, not replayed ([`Recovered::foreign_segments`]).
    /// See [the directory](super#the-directory).
    pub fn open_for(
        config: DurableConfig,
        signal: Signal,
    ) -> Result<(DurableQueue, Recovered), DurableError> {
        Self::open_claimed(config, Some(signal))
    }

    /// Opens the queue; with a `signal`, first claims the directory for it.
    fn open_claimed(
        config: DurableConfig,
        signal: Option<Signal>,
    ) -> Result<(DurableQueue, Recovered), DurableError> {
        config.validate()?;
        let directory = config.directory.clone();
        fs::create_dir_all(&directory)
            .map_err(DurableError::io(&directory, "create the directory"))?;
        let lock = DirectoryLock::acquire(&directory)?;
        // Before anything is read, cut or deleted: a refused directory stays
        // as its own pipeline left it.
        if let Some(signal) = signal {
            claim(&directory, signal)?;
        }
        let mut queue = DurableQueue {
            config,
            signal,
            segments: VecDeque::new(),
            writer: None,
            directory_dirty: false,
            next_id: 1,
            last_sync: Instant::now(),
            reader: None,
            open_acks: VecDeque::new(),
            evicted_through: None,
            stats: DurableStats::default(),
            _lock: lock,
        };
        let listed = list_directory(&directory)?;
        let mut foreign_segments = Vec::new();
        let mut overlapping_segments = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK_LEN);
        // Every segment is read before any range of ids is drawn from the
        // names: a copied segment's name says nothing about this queue's
        // ids, and must not cut the range of the segment before it.
        let mut scanned = Vec::with_capacity(listed.segments.len());
        for first_id in listed.segments {
            let path = file_path(&directory, first_id, FileKind::Segment);
            let (len, found) = scan_file(&path, first_id..ID_LIMIT, &mut chunk)?;
            let holds = found
                .records
                .iter()
                .find_map(|record| queue.foreign(record.header.signal));
            match holds {
                Some(holds) => {
                    foreign_segments.push(queue.set_aside(first_id, holds.as_str())?);
                    queue.stats.foreign_segments += 1;
                }
                None => scanned.push(Scanned {
                    first_id,
                    len,
                    found,
                }),
            }
        }
        let extents: Vec<(u64, Option<u64>)> = scanned
            .iter()
            .map(|scanned| (scanned.first_id, scanned.highest_id()))
            .collect();
        let overlapping = overlapping(&extents);
        let mut kept = Vec::with_capacity(scanned.len());
        for (scanned, aside) in scanned.into_iter().zip(overlapping) {
            if aside {
                overlapping_segments.push(queue.set_aside(scanned.first_id, OVERLAP_SUFFIX)?);
                queue.stats.overlapping_segments += 1;
            } else {
                kept.push(scanned);
            }
        }
        let segment_ids: Vec<u64> = kept.iter().map(|scanned| scanned.first_id).collect();
        let orphans = listed
            .acks
            .iter()
            .filter(|id| segment_ids.binary_search(id).is_err())
            .map(|id| (*id, FileKind::Acks));
        // A rewrite a crash interrupted: its segment is still whole.
        let unfinished = listed.rewrites.iter().map(|id| (*id, FileKind::Rewrite));
        for (id, kind) in orphans.chain(unfinished) {
            let path = file_path(&directory, id, kind);
            remove_if_present(&path).map_err(DurableError::io(&path, "delete"))?;
            queue.directory_dirty = true;
        }

        let mut lowest_id = 0;
        for (index, scanned) in kept.into_iter().enumerate() {
            let first_id = scanned.first_id;
            let next_first = segment_ids.get(index + 1).copied();
            let ids = first_id.max(lowest_id)..next_first.unwrap_or(ID_LIMIT);
            // Read from its name on, it is what a read within `ids` finds
            // unless it holds an id outside them (below an id acknowledged
            // in an earlier segment): then it is read again within them.
            let (len, found) = if scanned.within(&ids) {
                (scanned.len, scanned.found)
            } else {
                let path = file_path(&directory, first_id, FileKind::Segment);
                scan_file(&path, ids.clone(), &mut chunk)?
            };
            let (segment, highest_acked) =
                queue.load_segment(first_id, len, found, ids, next_first.is_none(), &mut chunk)?;
            if let Some(last) = segment.slots.last() {
                lowest_id = lowest_id.max(last.id + 1);
            }
            // An acknowledged record may be gone (its write lost in a machine
            // crash while its acknowledgement survived): never reuse its id,
            // or the acknowledgement would apply to a new record.
            if let Some(acked) = highest_acked {
                lowest_id = lowest_id.max(acked + 1);
            }
            queue.segments.push_back(segment);
        }
        let newest_name = queue.segments.back().map_or(0, |newest| newest.first_id);
        queue.next_id = lowest_id.max(newest_name).max(1);

        // Older segments with nothing left to deliver go; the newest is appended to.
        let mut index = 0;
        while index + 1 < queue.segments.len() {
            if queue.segments[index].pending_records == 0 {
                queue.delete_segment(index)?;
            } else {
                index += 1;
            }
        }
        if let Some(newest) = queue.segments.back() {
            let writer = OpenOptions::new()
                .append(true)
                .open(&newest.path)
                .map_err(DurableError::io(&newest.path, "open for appending"))?;
            queue.writer = Some(writer);
        }

        let records: Vec<PendingRecord> = queue.pending().collect();
        queue.stats.recovered_records = records.len() as u64;
        let recovered = Recovered {
            records,
            corrupt_records: queue.stats.corrupt_records,
            corrupt_bytes: queue.stats.corrupt_bytes,
            corrupt_spans: queue.stats.corrupt_spans,
            uncounted_corrupt_records: queue.stats.uncounted_corrupt_records,
            torn_tail_bytes: queue.stats.torn_tail_bytes,
            foreign_segments,
            overlapping_segments,
        };
        queue.stats.recovered_spans = recovered.span_count();
        Ok((queue, recovered))
    }

    /// Takes in one segment, `found` in its `len` bytes by a read within
    /// `ids`, and its acknowledgements. Also returns the highest id its
    /// acknowledgement file names.
    ///
    /// Damage found is counted, then removed from disk (`repair.rs`) so that
    /// the next open does not count it again: a torn tail of the newest
    /// segment is cut off (that must succeed: appending continues there);
    /// in a segment kept for its pending records, a damaged tail is cut off
    /// and damage followed by sound records rewritten away (best effort).
    fn load_segment(
        &mut self,
        first_id: u64,
        len: u64,
        mut found: SegmentScan,
        ids: Range<u64>,
        newest: bool,
        chunk: &mut Vec<u8>,
    ) -> Result<(Segment, Option<u64>), DurableError> {
        let directory = self.config.directory.clone();
        let path = file_path(&directory, first_id, FileKind::Segment);
        // By id (file order among equal ids), for one binary search per
        // acknowledgement rather than a walk over every damaged record.
        found.damaged.sort_by_key(|damaged| damaged.id);
        let mut slots: Vec<Slot> = found
            .records
            .iter()
            .map(|record| Slot {
                id: record.header.id,
                offset: record.offset,
                body_len: record.header.body_len,
                span_count: record.header.span_count,
                body_crc: record.header.body_crc,
                signal: record.header.signal,
                encoding: record.header.encoding,
                pending: true,
            })
            .collect();
        let acks_path = file_path(&directory, first_id, FileKind::Acks);
        let mut highest_acked = None;
        // Damaged records acknowledged when a read found them damaged: counted
        // then, so not again (records and bytes, in the stretch or the tail).
        let mut counted = Counted::default();
        read_ack_file(&acks_path, chunk, |id| {
            if let Ok(index) = slots.binary_search_by_key(&id, |slot| slot.id) {
                slots[index].pending = false;
            }
            let first = found.damaged.partition_point(|damaged| damaged.id < id);
            if let Some(damaged) = found.damaged.get(first).filter(|damaged| damaged.id == id) {
                counted.add(damaged, found.valid_len);
            }
            if ids.contains(&id) {
                highest_acked = highest_acked.max(Some(id));
            }
        })?;
        let damaged_spans: u64 = found
            .damaged
            .iter()
            .map(|damaged| u64::from(damaged.span_count))
            .sum();
        self.stats.corrupt_spans += damaged_spans.saturating_sub(counted.spans);
        // Those whose header is damaged, or cut short, are not among
        // `found.damaged`: their span count went with their header.
        let known_in_stretch = found
            .damaged
            .iter()
            .filter(|damaged| damaged.offset < found.valid_len)
            .count() as u64;
        let known_in_tail = found.damaged.len() as u64 - known_in_stretch;
        self.stats.uncounted_corrupt_records +=
            found.corrupt_records.saturating_sub(known_in_stretch)
                + found.tail_records.saturating_sub(known_in_tail);
        self.stats.corrupt_records += found
            .corrupt_records
            .saturating_sub(counted.stretch_records);
        self.stats.corrupt_bytes += found.corrupt_bytes.saturating_sub(counted.stretch_bytes);
        let mut bytes = len;
        if found.tail_bytes > 0 {
            if newest {
                // A crash cut the last write short: cut it off, and append after it.
                cut_tail(&path, found.valid_len)
                    .map_err(DurableError::io(&path, "cut the torn tail off"))?;
                self.stats.torn_tail_bytes += found.tail_bytes;
                bytes = found.valid_len;
            } else {
                self.stats.corrupt_records +=
                    found.tail_records.saturating_sub(counted.tail_records);
                self.stats.corrupt_bytes += found.tail_bytes.saturating_sub(counted.tail_bytes);
            }
        }

        // An older segment with nothing left to deliver is deleted by `open`,
        // damage and all: no need to repair it first.
        let kept = newest || slots.iter().any(|slot| slot.pending);
        // Failing to repair loses nothing: the next open reports the damage again.
        if kept && !newest && found.tail_bytes > 0 && cut_tail(&path, found.valid_len).is_ok() {
            bytes = found.valid_len;
        }
        if kept && found.corrupt_records > 0 {
            let rewrite = file_path(&directory, first_id, FileKind::Rewrite);
            if let Ok(rewritten) = rewrite_sound_records(&path, &rewrite, &mut slots) {
                bytes = rewritten;
                self.stats.syncs += 1;
                self.note_renamed();
            }
        }
        Ok((
            Segment::new(&directory, first_id, bytes, slots),
            highest_acked,
        ))
    }

    /// `holds`, the signal a record names, if it is not this queue's: a
    /// queue opened for no signal, and a record naming none, take any.
    fn foreign(&self, holds: Option<Signal>) -> Option<Signal> {
        match (self.signal, holds) {
            (Some(ours), Some(holds)) if holds != ours => Some(holds),
            _ => None,
        }
    }

    /// Renames segment `first_id`, and its acknowledgement file if it has
    /// one, out of the queue's names by adding `suffix` (`N.seg` to
    /// `N.seg.logs`, `N.ack` to `N.ack.logs`), and a number if a file set
    /// aside earlier has that name (`N.seg.logs.1`, `N.ack.logs.1`...): one
    /// is never renamed over another. Returns the segment's new path.
    ///
    /// The names are checked free before the renames: only a process other
    /// than a queue (which would need the directory's lock) creating one of
    /// them in between could still be replaced.
    fn set_aside(&mut self, first_id: u64, suffix: &str) -> Result<PathBuf, DurableError> {
        let directory = &self.config.directory;
        let segment = file_path(directory, first_id, FileKind::Segment);
        let acks = file_path(directory, first_id, FileKind::Acks);
        let aside = |path: &Path, number: u64| {
            let mut name = path.as_os_str().to_owned();
            name.push(".");
            name.push(suffix);
            if number > 0 {
                name.push(format!(".{number}"));
            }
            PathBuf::from(name)
        };
        let mut number = 0u64;
        let (segment_aside, acks_aside) = loop {
            let (segment_aside, acks_aside) = (aside(&segment, number), aside(&acks, number));
            if is_free(&segment_aside)? && is_free(&acks_aside)? {
                break (segment_aside, acks_aside);
            }
            number += 1;
        };
        fs::rename(&segment, &segment_aside).map_err(DurableError::io(&segment, "set aside"))?;
        match fs::rename(&acks, &acks_aside) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(DurableError::io(&acks, "set aside")(error));
            }
            _ => {}
        }
        self.note_renamed();
        Ok(segment_aside)
    }

    /// A file was renamed in the directory: its entry is made durable when
    /// the policy says (at once under [`FsyncPolicy::EveryBatch`], best
    /// effort: until then a machine crash at worst undoes the rename).
    fn note_renamed(&mut self) {
        self.directory_dirty = true;
        if self.config.fsync == FsyncPolicy::EveryBatch {
            let _ = self.sync_directory();
        }
    }

    /// Stores one encoded request and returns its id. Before writing, starts a
    /// new segment if this record would take the current one past
    /// `segment_bytes`, and deletes the oldest segments, delivered or not, while
    /// the total would exceed `max_bytes` ([`Appended::evicted`] says what was lost).
    ///
    /// The record is in the operating system's hands when this returns (it
    /// survives a process crash); under [`FsyncPolicy::EveryBatch`] it is also
    /// on stable storage. A record larger than `max_bytes` is refused with
    /// [`DurableError::TooLarge`]. On any error the record was not stored;
    /// but segments evicted to make room for it before the write failed (a
    /// full disk) stay evicted: they are counted in [`stats`](Self::stats),
    /// and [`evicted_through`](Self::evicted_through) says which records
    /// they held, so that the caller can count them as dropped as well.
    pub fn append(
        &mut self,
        encoding: Encoding,
        span_count: u32,
        body: &[u8],
    ) -> Result<Appended, DurableError> {
        let record_len = HEADER_LEN_U64 + body.len() as u64;
        if record_len > self.config.max_bytes || u32::try_from(body.len()).is_err() {
            return Err(DurableError::TooLarge {
                bytes: record_len,
                max_bytes: self
                    .config
                    .max_bytes
                    .min(HEADER_LEN_U64 + u64::from(u32::MAX)),
            });
        }
        let id = self.next_id;
        if id >= ID_LIMIT {
            return Err(DurableError::io(&self.config.directory, "append to")(
                io::Error::other("record ids are exhausted"),
            ));
        }
        let rotate = self.segments.back().is_some_and(|active| {
            active.bytes > 0 && active.bytes + record_len > self.config.segment_bytes
        });
        if rotate || self.writer.is_none() {
            self.seal()?;
            // The new file exists before anything older is deleted, so the
            // newest id is always on disk, even if a crash comes next.
            self.start_segment(id)?;
        }
        let mut evicted = Evicted::default();
        while self.bytes() + record_len > self.config.max_bytes && self.segments.len() > 1 {
            let segment = self.delete_segment(0)?;
            evicted.records += segment.pending_records;
            evicted.spans += segment.pending_spans;
            if let Some(last) = segment.slots.last() {
                evicted.through = Some(RecordId::new(last.id));
                self.evicted_through = evicted.through;
            }
            self.stats.evicted_records += segment.pending_records;
            self.stats.evicted_spans += segment.pending_spans;
        }

        let header = RecordHeader::for_body(id, self.signal, encoding, span_count, body);
        let (Some(writer), Some(active)) = (&self.writer, self.segments.back_mut()) else {
            return Err(DurableError::io(&self.config.directory, "append to")(
                io::Error::other("no segment is open"),
            ));
        };
        let offset = active.bytes;
        #[cfg_attr(not(test), allow(unused_mut))]
        let mut result = write_all_vectored(
            writer,
            &mut [IoSlice::new(&header.encode()), IoSlice::new(body)],
        );
        #[cfg(test)]
        if let Some(keep) = super::fs::torn_writes::keeps(&self.config.directory) {
            // Written whole: cut back to what a write failing part-way leaves.
            result = writer
                .set_len(offset + keep)
                .and(Err(io::Error::other("a torn write (test)")));
        }
        let mut written = result.map_err(DurableError::io(&active.path, "append to"));
        let whole = written.is_ok();
        if whole && self.config.fsync == FsyncPolicy::EveryBatch {
            written = sync_linked(writer).map_err(DurableError::io(&active.path, "fsync"));
            self.stats.syncs += 1;
        }
        if let Err(error) = written {
            self.undo_append(id, offset, record_len);
            return Err(error);
        }
        active.data_dirty = self.config.fsync != FsyncPolicy::EveryBatch;
        active.push(
            Slot {
                id,
                offset,
                body_len: header.body_len,
                span_count,
                body_crc: header.body_crc,
                signal: self.signal,
                encoding,
                pending: true,
            },
            record_len,
        );
        self.next_id = id + 1;
        self.stats.appended_records += 1;
        // The segment this append closed may hold nothing left to deliver.
        // Failing to delete it now loses nothing: `sync` tries again.
        if rotate && self.segments.len() >= 2 {
            let previous = self.segments.len() - 2;
            if self.segments[previous].pending_records == 0 {
                let _ = self.delete_segment(previous);
            }
        }
        Ok(Appended {
            id: RecordId::new(id),
            evicted,
        })
    }

    /// After a failed write, or a failed fsync of a record written `whole`:
    /// cut the record off, or if that fails too, stop appending to this
    /// segment. A partial record left there is damage the next open counts.
    /// A whole one is sound, but `append` says it was not stored, so the
    /// caller exports it from memory: it is acknowledged, or the next start
    /// would send it a second time (best effort: if the acknowledgement
    /// cannot be written either, it is). The id is not reused either way.
    ///
    /// A partial record is acknowledged too: its spans are exported from
    /// memory, so when its header was written whole, the next open (which
    /// finds it damaged, with its span count) takes it for damage already
    /// counted rather than counting its spans lost. A header cut short
    /// names no id: that record is still reported damaged (its span count
    /// unknown, in [`Recovered::uncounted_corrupt_records`]), and so is
    /// one whose acknowledgement cannot be written either.
    fn undo_append(&mut self, id: u64, offset: u64, record_len: u64) {
        self.next_id = id + 1;
        let (Some(writer), Some(active)) = (&self.writer, self.segments.back_mut()) else {
            return;
        };
        #[cfg(test)]
        let refused = super::fs::torn_writes::keeps(&self.config.directory).is_some();
        #[cfg(not(test))]
        let refused = false;
        if refused || writer.set_len(offset).is_err() {
            active.bytes = writer
                .metadata()
                .map_or(offset + record_len, |metadata| metadata.len());
            active.data_dirty = true;
            self.writer = None;
            let _ = self.write_ack(self.segments.len() - 1, id);
        }
    }

    /// Marks a record delivered, or given up on for good: it will not be
    /// replayed after a restart. Acknowledgements may come in any order.
    /// Returns `false` (and does nothing) when no pending record has this id:
    /// already acknowledged, or evicted.
    ///
    /// One 16-byte write (and an `fdatasync` under [`FsyncPolicy::EveryBatch`]).
    /// An acknowledgement lost in a machine crash only means the record is
    /// sent again. A segment whose records are all settled is deleted (unless
    /// it is the newest: its name gives the next id after a restart).
    ///
    /// An error means the acknowledgement could not be written or synced (a
    /// full disk): the record is settled all the same, since it was delivered.
    /// It is not pending any more in this run, and its segment still goes
    /// once all its records are settled (which makes the acknowledgement
    /// durable after all); only a restart before that sends it again. So a
    /// full disk still empties as records are delivered.
    pub fn ack(&mut self, id: RecordId) -> Result<bool, DurableError> {
        let Some((index, slot)) = self.locate(id.get()) else {
            return Ok(false);
        };
        let segment = &mut self.segments[index];
        if !segment.slots[slot].pending {
            return Ok(false);
        }
        segment.settle(slot);
        self.stats.acked_records += 1;
        let result = self.write_ack(index, id.get());
        if self.segments[index].pending_records == 0 && !self.is_newest(index) {
            // Failing to delete it now loses nothing: `sync` tries again.
            let _ = self.delete_segment(index);
        }
        result.map(|()| true)
    }

    /// Appends the acknowledgement of `id` to segment `index`'s file, and
    /// makes it durable when the policy says so. Then closes the
    /// acknowledgement file written to least recently if more than
    /// [`MAX_OPEN_ACK_FILES`] are open.
    fn write_ack(&mut self, index: usize, id: u64) -> Result<(), DurableError> {
        let result = self.segments[index]
            .write_ack(id)
            .and_then(|created| self.sync_ack(index, created));
        let first_id = self.segments[index].first_id;
        self.open_acks.retain(|&open| open != first_id);
        self.open_acks.push_back(first_id);
        if self.open_acks.len() > MAX_OPEN_ACK_FILES
            && let Some(oldest) = self.open_acks.pop_front()
            && let Ok(at) = self
                .segments
                .binary_search_by_key(&oldest, |segment| segment.first_id)
        {
            self.segments[at].close_acks();
        }
        result
    }

    /// Makes an acknowledgement just written to segment `index` durable when
    /// the policy says so (`created`: its file is new).
    fn sync_ack(&mut self, index: usize, created: bool) -> Result<(), DurableError> {
        if self.config.fsync == FsyncPolicy::EveryBatch {
            if created {
                self.sync_directory()?;
            }
            self.stats.syncs += self.segments[index].sync_acks()?;
        } else {
            self.directory_dirty |= created;
        }
        Ok(())
    }

    /// Reads the body of a pending record into `body` (replacing its contents)
    /// and checks it against its checksum again. One seek and one read.
    ///
    /// A record that no longer matches is no longer pending: this returns
    /// [`DurableError::Corrupt`] with its span count, for the caller to count
    /// as dropped. An id that is not pending gives [`DurableError::UnknownRecord`].
    /// Any other error ([`DurableError::Io`]: the file missing, `EIO`,
    /// `EMFILE`...) leaves the record pending: read it again later.
    pub fn read(
        &mut self,
        id: RecordId,
        body: &mut Vec<u8>,
    ) -> Result<PendingRecord, DurableError> {
        let Some((index, slot)) = self.locate(id.get()) else {
            return Err(DurableError::UnknownRecord(id));
        };
        let segment = &self.segments[index];
        let slot = segment.slots[slot];
        if !slot.pending {
            return Err(DurableError::UnknownRecord(id));
        }
        let reader = match &self.reader {
            Some((first_id, file)) if *first_id == segment.first_id => file,
            _ => {
                let file =
                    File::open(&segment.path).map_err(DurableError::io(&segment.path, "open"))?;
                &self.reader.insert((segment.first_id, file)).1
            }
        };
        match read_record(reader, &slot, body) {
            Ok(true) => Ok(slot.pending_record()),
            Ok(false) => {
                let path = segment.path.clone();
                self.settle_damaged(id);
                Err(DurableError::Corrupt {
                    path,
                    id,
                    span_count: slot.span_count,
                })
            }
            Err(error) => {
                self.reader = None;
                Err(DurableError::io(&segment.path, "read")(error))
            }
        }
    }

    /// A record found damaged when read back: no longer pending, counted,
    /// and acknowledged, so that the next open, finding it damaged, does not
    /// count it again (best effort: if the acknowledgement cannot be
    /// written, the next open counts it once more).
    fn settle_damaged(&mut self, id: RecordId) {
        if let Some((index, slot)) = self.locate(id.get()) {
            let _ = self.write_ack(index, id.get());
            self.stats.corrupt_spans += self.segments[index].settle(slot);
            self.stats.corrupt_records += 1;
            if self.segments[index].pending_records == 0 && !self.is_newest(index) {
                let _ = self.delete_segment(index);
            }
        }
    }

    /// Makes written records and acknowledgements durable when the policy says
    /// it is time (under [`FsyncPolicy::Interval`], once the interval has passed
    /// since the last time), or now if `force` (under any policy: call
    /// `sync(true)` at shutdown). Also retries deleting settled segments whose
    /// deletion failed earlier. Cheap when there is nothing to do. A file that
    /// fails does not stop the others: every file is tried, and the first
    /// error is returned.
    pub fn sync(&mut self, force: bool) -> Result<(), DurableError> {
        let due = force
            || matches!(self.config.fsync, FsyncPolicy::Interval(every) if self.last_sync.elapsed() >= every);
        // One file that fails does not keep the others from being synced
        // (or settled segments from going): the first error is returned.
        let mut first_error = None;
        if due && self.is_dirty() {
            #[cfg(test)]
            super::fs::stalled_syncs::pass(&self.config.directory);
            // Counted from the attempt, not its success: after a failed
            // fsync the next try waits the interval too, rather than the
            // loop retrying it in a busy spin.
            self.last_sync = Instant::now();
            let appending = self.writer.is_some();
            let last = self.segments.len().saturating_sub(1);
            for (index, segment) in self.segments.iter_mut().enumerate() {
                if segment.data_dirty {
                    let synced = match &self.writer {
                        Some(writer) if appending && index == last => sync_linked(writer),
                        // A closed segment: any handle with write access will do.
                        _ => OpenOptions::new()
                            .append(true)
                            .open(&segment.path)
                            .and_then(|file| file.sync_data()),
                    };
                    match synced {
                        Ok(()) => {
                            segment.data_dirty = false;
                            self.stats.syncs += 1;
                        }
                        Err(error) => {
                            let error = DurableError::io(&segment.path, "fsync")(error);
                            first_error.get_or_insert(error);
                        }
                    }
                }
                match segment.sync_acks() {
                    Ok(syncs) => self.stats.syncs += syncs,
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            if self.directory_dirty
                && let Err(error) = self.sync_directory()
            {
                first_error.get_or_insert(error);
            }
        }
        let mut index = 0;
        while index < self.segments.len() {
            if self.segments[index].pending_records == 0 && !self.is_newest(index) {
                let before = self.segments.len();
                if let Err(error) = self.delete_segment(index) {
                    first_error.get_or_insert(error);
                    // Still listed if its file could not be removed.
                    if self.segments.len() == before {
                        index += 1;
                    }
                }
            } else {
                index += 1;
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// When [`sync`](DurableQueue::sync) should next be called: under
    /// [`FsyncPolicy::Interval`] with unsynced writes, the moment the interval
    /// is up; otherwise `None` (nothing is waiting for time to pass).
    pub fn next_sync_at(&self) -> Option<Instant> {
        match self.config.fsync {
            FsyncPolicy::Interval(every) if self.is_dirty() => {
                // An interval too long for an `Instant` never comes.
                self.last_sync.checked_add(every)
            }
            _ => None,
        }
    }

    /// The records stored and not yet acknowledged, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = PendingRecord> + '_ {
        self.segments.iter().flat_map(|segment| {
            segment
                .slots
                .iter()
                .filter(|slot| slot.pending)
                .map(Slot::pending_record)
        })
    }

    /// What the queue holds and has lost. Walks the segments (not the records).
    pub fn stats(&self) -> DurableStats {
        DurableStats {
            bytes: self.bytes(),
            segments: self.segments.len() as u64,
            pending_records: self.segments.iter().map(|s| s.pending_records).sum(),
            pending_spans: self.segments.iter().map(|s| s.pending_spans).sum(),
            ..self.stats
        }
    }

    /// The highest id given out so far, in this run or an earlier one (ids
    /// continue across restarts): every record stored has an id up to it.
    /// `None` before the first append ever.
    pub(crate) fn last_id(&self) -> Option<RecordId> {
        self.next_id
            .checked_sub(1)
            .filter(|&id| id > 0)
            .map(RecordId::new)
    }

    /// No record up to and including this id is stored any more: the disk
    /// cap evicted it, in this run (`None`: nothing evicted since open).
    /// Segments go oldest first, so every older record is gone too.
    ///
    /// The same as the latest [`Evicted::through`], except that it also
    /// covers an eviction made for an [`append`](Self::append) that then
    /// failed to write: compare it before and after each append to learn
    /// about every eviction, whatever the append returned.
    pub fn evicted_through(&self) -> Option<RecordId> {
        self.evicted_through
    }

    /// The configuration the queue was opened with.
    pub fn config(&self) -> &DurableConfig {
        &self.config
    }

    fn bytes(&self) -> u64 {
        self.segments.iter().map(|segment| segment.bytes).sum()
    }

    fn is_dirty(&self) -> bool {
        self.directory_dirty || self.segments.iter().any(Segment::is_dirty)
    }

    fn is_appending_to(&self, index: usize) -> bool {
        self.writer.is_some() && self.is_newest(index)
    }

    /// Whether segment `index` is the newest. It is kept even when delivered
    /// and no longer appended to (a segment roll whose new file could not be
    /// created, a write whose partial record could not be cut): its name and
    /// last record give the next id after a restart. It goes once a newer
    /// segment exists.
    fn is_newest(&self, index: usize) -> bool {
        index + 1 == self.segments.len()
    }

    /// The segment and slot of record `id`, if stored.
    fn locate(&self, id: u64) -> Option<(usize, usize)> {
        let index = self
            .segments
            .partition_point(|segment| segment.first_id <= id)
            .checked_sub(1)?;
        Some((index, self.segments[index].find(id)?))
    }

    /// Closes the segment being appended to (fsyncing it unless the policy is `Never`).
    fn seal(&mut self) -> Result<(), DurableError> {
        let (Some(writer), Some(active)) = (self.writer.take(), self.segments.back_mut()) else {
            return Ok(());
        };
        if active.data_dirty && self.config.fsync != FsyncPolicy::Never {
            writer
                .sync_data()
                .map_err(DurableError::io(&active.path, "fsync"))?;
            active.data_dirty = false;
            self.stats.syncs += 1;
        }
        Ok(())
    }

    /// Creates the segment whose first record will be `first_id` and appends to it.
    fn start_segment(&mut self, first_id: u64) -> Result<(), DurableError> {
        let segment = Segment::new(&self.config.directory, first_id, 0, Vec::new());
        let writer = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&segment.path)
            .map_err(DurableError::io(&segment.path, "create"))?;
        self.segments.push_back(segment);
        self.writer = Some(writer);
        if self.config.fsync == FsyncPolicy::EveryBatch {
            self.sync_directory()
        } else {
            self.directory_dirty = true;
            Ok(())
        }
    }

    /// Deletes a segment's files (the segment first, so a crash in between
    /// leaves an orphaned acknowledgement file, which the next open deletes,
    /// rather than a segment whose acknowledgements are gone).
    fn delete_segment(&mut self, index: usize) -> Result<Segment, DurableError> {
        let path = &self.segments[index].path;
        remove_if_present(path).map_err(DurableError::io(path, "delete"))?;
        if self.is_appending_to(index) {
            self.writer = None;
        }
        let Some(segment) = self.segments.remove(index) else {
            return Err(
                DurableError::io(&self.config.directory, "delete a segment")(io::Error::other(
                    "no such segment",
                )),
            );
        };
        if self
            .reader
            .as_ref()
            .is_some_and(|(first_id, _)| *first_id == segment.first_id)
        {
            self.reader = None;
        }
        self.open_acks.retain(|&open| open != segment.first_id);
        if self.config.fsync == FsyncPolicy::EveryBatch {
            self.sync_directory()?;
        } else {
            self.directory_dirty = true;
        }
        // If this fails the file is an orphan, deleted by the next open.
        let _ = remove_if_present(&segment.acks_path());
        Ok(segment)
    }

    fn sync_directory(&mut self) -> Result<(), DurableError> {
        let directory = &self.config.directory;
        sync_directory(directory).map_err(DurableError::io(directory, "fsync the directory"))?;
        self.directory_dirty = false;
        self.stats.syncs += 1;
        Ok(())
    }
}

impl Drop for DurableQueue {
    /// Unless the policy is [`FsyncPolicy::Never`], makes what was written
    /// durable (errors are ignored: call [`sync`](DurableQueue::sync)`(true)`
    /// to see them). The directory lock is released.
    fn drop(&mut self) {
        if self.config.fsync != FsyncPolicy::Never {
            let _ = self.sync(true);
        }
    }
}

/// The ids in the names of a directory's files, by kind, each sorted.
#[derive(Debug, Default)]
struct Listing {
    segments: Vec<u64>,
    acks: Vec<u64>,
    rewrites: Vec<u64>,
}

/// Lists the queue's files in `directory` (other files are left alone).
fn list_directory(directory: &Path) -> Result<Listing, DurableError> {
    let mut listing = Listing::default();
    let entries = fs::read_dir(directory).map_err(DurableError::io(directory, "list"))?;
    for entry in entries {
        let entry = entry.map_err(DurableError::io(directory, "list"))?;
        match parse_file_name(&entry.file_name()) {
            Some((id, FileKind::Segment)) => listing.segments.push(id),
            Some((id, FileKind::Acks)) => listing.acks.push(id),
            Some((id, FileKind::Rewrite)) => listing.rewrites.push(id),
            None => {}
        }
    }
    listing.segments.sort_unstable();
    listing.acks.sort_unstable();
    listing.rewrites.sort_unstable();
    Ok(listing)
}

/// Reads the record in `slot` into `body`; whether it is still the record
/// that was stored. A file cut shorter since counts as not.
fn read_record(mut file: &File, slot: &Slot, body: &mut Vec<u8>) -> io::Result<bool> {
    let expected = RecordHeader {
        id: slot.id,
        signal: slot.signal,
        encoding: slot.encoding,
        span_count: slot.span_count,
        body_len: slot.body_len,
        body_crc: slot.body_crc,
    };
    file.seek(SeekFrom::Start(slot.offset))?;
    let mut header = [0u8; HEADER_LEN];
    match file.read_exact(&mut header) {
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        other => other?,
    }
    body.clear();
    body.reserve_exact(slot.body_len as usize);
    file.take(u64::from(slot.body_len)).read_to_end(body)?;
    Ok(RecordHeader::decode(&header) == Ok(expected) && expected.matches_body(body))
}

/// The suffix added to the name of a segment set aside because its ids
/// overlap the directory's own (`N.seg.overlap`).
const OVERLAP_SUFFIX: &str = "overlap";

/// A segment file read at open, before it is taken in.
struct Scanned {
    first_id: u64,
    /// The file's length when read.
    len: u64,
    /// What a read within `first_id..ID_LIMIT` found.
    found: SegmentScan,
}

impl Scanned {
    /// The highest id its records name, damaged ones whose header is
    /// sound included (`None`: no record says one).
    fn highest_id(&self) -> Option<u64> {
        let sound = self.found.records.iter().map(|record| record.header.id);
        let damaged = self.found.damaged.iter().map(|damaged| damaged.id);
        sound.chain(damaged).max()
    }

    /// Whether every id its records name is in `ids`: then a read within
    /// `ids` finds the same (the scan takes the first header in range).
    fn within(&self, ids: &Range<u64>) -> bool {
        let sound = self.found.records.iter().map(|record| record.header.id);
        let damaged = self.found.damaged.iter().map(|damaged| damaged.id);
        sound.chain(damaged).all(|id| ids.contains(&id))
    }
}

/// Reads the segment at `path` whole: its length and what it holds within `ids`.
fn scan_file(
    path: &Path,
    ids: Range<u64>,
    chunk: &mut Vec<u8>,
) -> Result<(u64, SegmentScan), DurableError> {
    check_openable(path).map_err(DurableError::io(path, "open"))?;
    let file = File::open(path).map_err(DurableError::io(path, "open"))?;
    let len = file
        .metadata()
        .map_err(DurableError::io(path, "read the length of"))?
        .len();
    let found = scan(&mut FileSource::new(&file, len), ids, chunk)
        .map_err(DurableError::io(path, "read"))?;
    Ok((len, found))
}

/// Which segments to set aside so that no two hold overlapping ids, given
/// each one's name and the highest id it holds, in name order.
///
/// Segments a queue wrote never overlap: each one's ids are below the next
/// one's name. A segment copied in from elsewhere (another directory of
/// the same signal, or one written by an older build whose records name
/// none) may: its name falls among the ids of the segment before it, or
/// its ids reach past the names of those after it. Nothing says which of
/// two overlapping segments is the copy, so the fewest are set aside: the
/// one overlapping the most others goes first, until none overlap; of two
/// overlapping only each other, the later name (the one that falls among
/// the other's ids). Neither is deleted nor taken for damage either way.
///
/// One pass over the names when nothing overlaps; a step per segment set
/// aside over the overlapping pairs otherwise.
fn overlapping(extents: &[(u64, Option<u64>)]) -> Vec<bool> {
    let mut pairs = Vec::new();
    for (earlier, &(_, highest)) in extents.iter().enumerate() {
        let Some(highest) = highest else { continue };
        for (later, &(name, _)) in extents.iter().enumerate().skip(earlier + 1) {
            if name > highest {
                break;
            }
            pairs.push((earlier, later));
        }
    }
    let mut aside = vec![false; extents.len()];
    let mut overlaps = vec![0usize; extents.len()];
    loop {
        overlaps.fill(0);
        for &(earlier, later) in &pairs {
            if !aside[earlier] && !aside[later] {
                overlaps[earlier] += 1;
                overlaps[later] += 1;
            }
        }
        // The most overlaps; among equals, the latest name.
        let most = overlaps
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .max_by_key(|&(index, count)| (*count, index));
        match most {
            Some((index, _)) => aside[index] = true,
            None => return aside,
        }
    }
}

/// Whether nothing is at `path` (not even a dangling link).
fn is_free(path: &Path) -> Result<bool, DurableError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(false),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(DurableError::io(path, "set aside to")(error)),
    }
}

/// Damaged records of a segment already counted by the read that found
/// them: those inside a damaged stretch and those in the tail.
#[derive(Default)]
struct Counted {
    /// Spans of all of them.
    spans: u64,
    stretch_records: u64,
    stretch_bytes: u64,
    tail_records: u64,
    tail_bytes: u64,
}

impl Counted {
    fn add(&mut self, damaged: &DamagedRecord, valid_len: u64) {
        self.spans += u64::from(damaged.span_count);
        if damaged.offset < valid_len {
            self.stretch_records += 1;
            self.stretch_bytes += damaged.len;
        } else {
            self.tail_records += 1;
            self.tail_bytes += damaged.len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fs::torn_writes;
    use super::*;

    /// A write that failed part-way, leaving a partial record whose header
    /// is whole, and whose cut failed too (a full disk): `append` says the
    /// record was not stored, so the pipeline exports its spans from
    /// memory. The next open must not report it damaged and count its
    /// spans lost as well (review 133: it counted 1 damaged record, 3 spans).
    #[test]
    fn a_partial_record_that_could_not_be_cut_off_is_not_reported_damaged() -> TestResult {
        let directory =
            std::env::temp_dir().join(format!("otlp-durable-torn-uncut-{}", std::process::id()));
        let _ = fs::remove_dir_all(&directory);
        let config = DurableConfig {
            fsync: FsyncPolicy::Never,
            ..DurableConfig::new(&directory)
        };
        let (mut queue, _) = DurableQueue::open(config.clone())?;
        let first = queue.append(Encoding::Protobuf, 2, &[1; 100])?.id;
        torn_writes::tear(&directory, HEADER_LEN_U64 + 10);
        let torn = queue.append(Encoding::Protobuf, 3, &[2; 100]);
        torn_writes::release(&directory);
        assert!(torn.is_err(), "{torn:?}");
        // Appending goes on, in a new segment.
        let third = queue.append(Encoding::Protobuf, 4, &[3; 100])?.id;
        drop(queue);

        let (queue, recovered) = DurableQueue::open(config)?;
        let ids: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
        assert_eq!(ids, [first, third]);
        assert_eq!(
            (
                recovered.corrupt_records,
                recovered.corrupt_spans,
                recovered.uncounted_corrupt_records,
            ),
            (0, 0, 0),
            "{recovered:?}"
        );
        drop(queue);
        fs::remove_dir_all(&directory)?;
        Ok(())
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;
}
