//! [`Segment`]: what the queue knows about one segment file and its
//! acknowledgement file, and how both are named.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use otlp_core::encode::Encoding;

use super::acks::{ACK_ENTRY_LEN, encode_ack};
use super::error::DurableError;
use super::record::{PendingRecord, RecordId};
use crate::exporter::Signal;

/// Ids are below this (2^63): names and records claiming more are not ours.
pub(crate) const ID_LIMIT: u64 = 1 << 63;

const SEGMENT_SUFFIX: &str = ".seg";
const ACKS_SUFFIX: &str = ".ack";
const REWRITE_SUFFIX: &str = ".rewrite";
/// Digits of a file name's id: enough for any u64, so names sort as ids do.
const NAME_DIGITS: usize = 20;

/// The kinds of file named after a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Segment,
    Acks,
    /// A damaged segment's sound records being copied (see `repair.rs`):
    /// renamed over the segment once complete, so one found at open is
    /// what a crash left of an unfinished copy, and is deleted.
    Rewrite,
}

/// `00000000000000000042.seg` → `(42, Segment)`; anything else (including
/// ids at or above [`ID_LIMIT`]) → `None`.
pub(crate) fn parse_file_name(name: &OsStr) -> Option<(u64, FileKind)> {
    let name = name.to_str()?;
    let (digits, kind) = if let Some(digits) = name.strip_suffix(SEGMENT_SUFFIX) {
        (digits, FileKind::Segment)
    } else if let Some(digits) = name.strip_suffix(ACKS_SUFFIX) {
        (digits, FileKind::Acks)
    } else {
        (name.strip_suffix(REWRITE_SUFFIX)?, FileKind::Rewrite)
    };
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let id = digits.parse::<u64>().ok().filter(|id| *id < ID_LIMIT)?;
    Some((id, kind))
}

pub(crate) fn file_path(directory: &Path, first_id: u64, kind: FileKind) -> PathBuf {
    let suffix = match kind {
        FileKind::Segment => SEGMENT_SUFFIX,
        FileKind::Acks => ACKS_SUFFIX,
        FileKind::Rewrite => REWRITE_SUFFIX,
    };
    directory.join(format!("{first_id:0width$}{suffix}", width = NAME_DIGITS))
}

/// Where one record is and what it holds. 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) id: u64,
    /// Where its header starts in the segment file.
    pub(crate) offset: u64,
    pub(crate) body_len: u32,
    pub(crate) span_count: u32,
    pub(crate) body_crc: u32,
    pub(crate) signal: Option<Signal>,
    pub(crate) encoding: Encoding,
    /// Neither acknowledged nor found damaged.
    pub(crate) pending: bool,
}

impl Slot {
    pub(crate) fn pending_record(&self) -> PendingRecord {
        PendingRecord {
            id: RecordId::new(self.id),
            encoding: self.encoding,
            span_count: self.span_count,
            body_len: self.body_len,
        }
    }
}

/// One segment file: its records (pending or done) and its acknowledgement file.
///
/// Memory: one [`Slot`] per record; the acknowledgement file while the queue
/// keeps it open (see `MAX_OPEN_ACK_FILES`).
#[derive(Debug)]
pub(crate) struct Segment {
    /// The id in its name: its first record's, or the next one to be written.
    pub(crate) first_id: u64,
    pub(crate) path: PathBuf,
    /// The file's length.
    pub(crate) bytes: u64,
    /// Its sound records, in id order.
    pub(crate) slots: Vec<Slot>,
    pub(crate) pending_records: u64,
    pub(crate) pending_spans: u64,
    /// The acknowledgement file, opened by a write and kept open until
    /// [`close_acks`](Self::close_acks) (or a failed write).
    acks: Option<File>,
    acks_len: u64,
    /// Acknowledgements written since the last fsync.
    acks_dirty: bool,
    /// Records written since the last fsync.
    pub(crate) data_dirty: bool,
}

impl Segment {
    pub(crate) fn new(directory: &Path, first_id: u64, bytes: u64, slots: Vec<Slot>) -> Self {
        let pending = slots.iter().filter(|slot| slot.pending);
        let pending_records = pending.clone().count() as u64;
        let pending_spans = pending.map(|slot| u64::from(slot.span_count)).sum();
        Segment {
            first_id,
            path: file_path(directory, first_id, FileKind::Segment),
            bytes,
            slots,
            pending_records,
            pending_spans,
            acks: None,
            acks_len: 0,
            acks_dirty: false,
            data_dirty: false,
        }
    }

    pub(crate) fn acks_path(&self) -> PathBuf {
        self.path.with_extension(&ACKS_SUFFIX[1..])
    }

    /// The slot of `id`, if this segment has one.
    pub(crate) fn find(&self, id: u64) -> Option<usize> {
        self.slots.binary_search_by_key(&id, |slot| slot.id).ok()
    }

    /// Whether anything written to either file awaits an fsync.
    pub(crate) fn is_dirty(&self) -> bool {
        self.data_dirty || self.acks_dirty
    }

    pub(crate) fn push(&mut self, slot: Slot, record_len: u64) {
        self.bytes += record_len;
        self.pending_records += 1;
        self.pending_spans += u64::from(slot.span_count);
        self.slots.push(slot);
    }

    /// Marks a pending slot done (delivered or damaged); its spans.
    pub(crate) fn settle(&mut self, index: usize) -> u64 {
        let slot = &mut self.slots[index];
        if !slot.pending {
            return 0;
        }
        slot.pending = false;
        self.pending_records -= 1;
        self.pending_spans -= u64::from(slot.span_count);
        u64::from(slot.span_count)
    }

    /// Appends the acknowledgement of `id` to the acknowledgement file (not
    /// fsynced: see [`sync_acks`](Self::sync_acks)). Returns whether the file
    /// was created by this call, so its directory entry needs an fsync too.
    pub(crate) fn write_ack(&mut self, id: u64) -> Result<bool, DurableError> {
        let mut created = false;
        let file = match &mut self.acks {
            Some(file) => file,
            None => {
                let path = self.acks_path();
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(DurableError::io(&path, "open the acknowledgement file"))?;
                let len = file
                    .metadata()
                    .map_err(DurableError::io(&path, "read the length of"))?
                    .len();
                // A partial entry left by a failed write whose cut failed
                // too would shift every entry after it: cut it off first.
                let whole = len - len % ACK_ENTRY_LEN as u64;
                if whole != len {
                    file.set_len(whole)
                        .map_err(DurableError::io(&path, "cut a partial entry off"))?;
                }
                self.acks_len = whole;
                created = len == 0;
                self.acks.insert(file)
            }
        };
        let entry = encode_ack(id);
        if let Err(error) = file.write_all(&entry) {
            // Cut a partial entry off so later entries stay aligned; if even
            // that fails, reopen next time (which cuts it off again).
            if file.set_len(self.acks_len).is_err() {
                self.acks = None;
            }
            return Err(DurableError::io(&self.acks_path(), "append to")(error));
        }
        self.acks_len += entry.len() as u64;
        self.acks_dirty = true;
        Ok(created)
    }

    /// Closes the acknowledgement file: the next write opens it again, and
    /// [`sync_acks`](Self::sync_acks) syncs what it holds through a new handle.
    pub(crate) fn close_acks(&mut self) {
        self.acks = None;
    }

    /// Makes the acknowledgements written so far durable. Returns the fsyncs done.
    ///
    /// Without an open handle (closed to bound the files open, or by a failed
    /// write whose partial entry could not be cut off), the file is opened
    /// to be synced: the entries
    /// written before the failure are in it, and otherwise the segment
    /// would stay dirty until its next acknowledgement, which may never
    /// come. A file that is gone has nothing left to sync.
    pub(crate) fn sync_acks(&mut self) -> Result<u64, DurableError> {
        if !self.acks_dirty {
            return Ok(0);
        }
        let synced = match &self.acks {
            Some(file) => file.sync_data(),
            None => match OpenOptions::new().append(true).open(self.acks_path()) {
                Ok(file) => file.sync_data(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    self.acks_dirty = false;
                    return Ok(0);
                }
                Err(error) => Err(error),
            },
        };
        synced.map_err(|error| DurableError::io(&self.acks_path(), "fsync")(error))?;
        self.acks_dirty = false;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_ids_and_parse_back() {
        let directory = Path::new("queue");
        let path = file_path(directory, 42, FileKind::Segment);
        assert_eq!(path, Path::new("queue/00000000000000000042.seg"));
        let name = path.file_name().expect("a name");
        assert_eq!(parse_file_name(name), Some((42, FileKind::Segment)));
        let acks = Segment::new(directory, 42, 0, Vec::new()).acks_path();
        assert_eq!(acks, Path::new("queue/00000000000000000042.ack"));
        assert_eq!(
            parse_file_name(acks.file_name().expect("a name")),
            Some((42, FileKind::Acks))
        );
        assert!(
            file_path(directory, 9, FileKind::Segment)
                < file_path(directory, 10, FileKind::Segment)
        );
        let rewrite = file_path(directory, 42, FileKind::Rewrite);
        assert_eq!(rewrite, Path::new("queue/00000000000000000042.rewrite"));
        assert_eq!(
            parse_file_name(rewrite.file_name().expect("a name")),
            Some((42, FileKind::Rewrite))
        );
    }

    /// An acknowledgement written, then one whose write fails and whose
    /// partial entry cannot be cut off either (a handle that cannot write
    /// stands in for the failing disk): the handle is closed, and the first
    /// entry, never synced, must still be synced, or the segment stays dirty
    /// for good (the queue wakes up every interval to sync nothing).
    #[test]
    fn an_acknowledgement_file_whose_handle_a_failed_write_closed_is_still_synced()
    -> Result<(), Box<dyn std::error::Error>> {
        let directory =
            std::env::temp_dir().join(format!("otlp-durable-segment-acks-{}", std::process::id()));
        std::fs::create_dir_all(&directory)?;
        let mut segment = Segment::new(&directory, 1, 0, Vec::new());
        let _ = segment.write_ack(1)?;
        assert!(segment.is_dirty());
        segment.acks = Some(File::open(segment.acks_path())?);
        assert!(segment.write_ack(2).is_err());
        assert!(
            segment.acks.is_none(),
            "the cut failed too: the handle is closed"
        );

        let synced = segment.sync_acks();
        let dirty = segment.is_dirty();
        std::fs::remove_dir_all(&directory)?;
        assert_eq!(synced?, 1);
        assert!(!dirty, "synced: nothing awaits an fsync");
        Ok(())
    }

    #[test]
    fn other_names_are_not_ours() {
        for name in [
            "lock",
            "42.seg",
            "0000000000000000004x.seg",
            "00000000000000000042.seg.tmp",
            "18446744073709551615.seg",
            "09223372036854775808.seg",
            "+0000000000000000042.seg",
        ] {
            assert_eq!(parse_file_name(OsStr::new(name)), None, "{name}");
        }
    }
}
