//! Damage found when the queue opens is removed from disk once counted, so
//! that it is reported by that open only.
//!
//! Opening counts every damaged stretch it skips
//! ([`Recovered`](super::Recovered)). Left on disk, the same damage would be
//! found, counted and logged again by every later open — at every restart of
//! a program in a crash loop — until its segment is delivered. So, once
//! counted:
//!
//! - a damaged **tail** (damage running to the end of the file) is cut off,
//!   in any segment: nothing sound follows it;
//! - damage **followed by sound records** cannot be cut off without them: the
//!   segment is rewritten with only its sound records
//!   ([`rewrite_sound_records`]).
//!
//! The rewrite copies the sound records, byte for byte (ids and checksums
//! unchanged), into `N.rewrite`, fsyncs that file and renames it over `N.seg`.
//! A crash before the rename leaves the segment as it was (and a `.rewrite`
//! file, which the next open deletes); a crash after it, the rewritten
//! segment. The fsync is made under every [`FsyncPolicy`](super::FsyncPolicy),
//! `Never` included: the records copied were on stable storage already, and
//! renaming a file whose data is not yet would put them all at risk in a
//! machine crash.
//!
//! A repair that fails (a full disk) leaves the damage where it was, for the
//! next open to report again: nothing sound is lost either way.
//!
//! Cost: nothing unless damage was found; then one read and one write of the
//! segment's sound records, one fsync and one rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::fs::remove_if_present;
use super::record::HEADER_LEN_U64;
use super::segment::Slot;

/// Cuts the segment at `path` to `len` bytes: the end of its last sound record.
pub(crate) fn cut_tail(path: &Path, len: u64) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| file.set_len(len))
}

/// Replaces the segment at `segment` by a copy of the records of `slots` (its
/// sound records, in file order) written back to back through the file
/// `rewrite`, and returns the new length. On success each slot's offset is
/// its record's offset in the new file; on failure nothing changed (a partial
/// copy is deleted) and the segment still holds its damage.
pub(crate) fn rewrite_sound_records(
    segment: &Path,
    rewrite: &Path,
    slots: &mut [Slot],
) -> io::Result<u64> {
    let copied = copy_records(segment, rewrite, slots)
        .and_then(|copied| fs::rename(rewrite, segment).map(|()| copied));
    match copied {
        Ok((offsets, len)) => {
            for (slot, offset) in slots.iter_mut().zip(offsets) {
                slot.offset = offset;
            }
            Ok(len)
        }
        Err(error) => {
            // If this fails too, the next open deletes the leftover.
            let _ = remove_if_present(rewrite);
            Err(error)
        }
    }
}

/// Copies the records of `slots` from `segment` into a new file `rewrite`,
/// back to back, and makes it durable. Returns their offsets there and its length.
fn copy_records(segment: &Path, rewrite: &Path, slots: &[Slot]) -> io::Result<(Vec<u64>, u64)> {
    let mut source = File::open(segment)?;
    let mut target = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(rewrite)?;
    let mut offsets = Vec::with_capacity(slots.len());
    let mut len = 0u64;
    for slot in slots {
        let record_len = HEADER_LEN_U64 + u64::from(slot.body_len);
        source.seek(SeekFrom::Start(slot.offset))?;
        let copied = io::copy(&mut (&mut source).take(record_len), &mut target)?;
        if copied != record_len {
            // The segment is shorter than when it was scanned.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        offsets.push(len);
        len += record_len;
    }
    target.sync_data()?;
    Ok((offsets, len))
}
