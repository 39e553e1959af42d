//! File-system helpers: one write per record, directory fsync, tolerant
//! removal, and a check that a name found in the directory can be opened without waiting.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::Path;

/// Writes all of `bufs`, in one `writev` when the kernel takes it all (the usual case).
pub(crate) fn write_all_vectored(mut file: &File, bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    let mut bufs = bufs;
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut bufs, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `sync_data` of a segment being appended to, then a check that the file
/// is still in its directory. A segment file removed while open (its
/// directory deleted, say) still takes writes and syncs, but what it holds
/// can never come back after a restart: without the check such appends
/// reported records as stored, up to a segment's worth, until the next
/// segment could not be created. One `fstat` per sync (Unix: the file's
/// link count); elsewhere the sync alone.
pub(crate) fn sync_linked(file: &File) -> io::Result<()> {
    file.sync_data()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if file.metadata()?.nlink() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the file was removed from its directory (what it holds cannot come back after \
                 a restart)",
            ));
        }
    }
    Ok(())
}

/// Makes the directory's entries (files created, removed) durable.
/// Directories cannot be opened as files everywhere; where not, this does nothing.
pub(crate) fn sync_directory(directory: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(directory)?.sync_all()
    } else {
        Ok(())
    }
}

/// Refuses, before it is opened, a path that names no file to read or write
/// but a FIFO (opening one waits for its other end: forever, at start) or a
/// socket. A missing path passes (opening it says so); so do devices.
pub(crate) fn check_openable(path: &Path) -> io::Result<()> {
    let kind = match std::fs::metadata(path) {
        Ok(metadata) => metadata.file_type(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    match special_kind(kind) {
        Some(what) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        )),
        None => Ok(()),
    }
}

/// What a file type is, if one that cannot be opened as a file without waiting.
#[cfg(unix)]
fn special_kind(kind: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// What a file type is, if one that cannot be opened as a file without waiting.
#[cfg(not(unix))]
fn special_kind(_kind: std::fs::FileType) -> Option<&'static str> {
    None
}

/// Removes a file; one that is already gone is fine.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// A test's stand-in for a disk whose fsync stalls (a slow disk, a stalled
/// NFS mount): a sync of a queue whose directory is held waits, on the
/// thread that syncs, until the test lets it go. Process-wide, so keyed by
/// directory: the other tests' queues sync as usual.
#[cfg(test)]
pub(crate) mod stalled_syncs {
    use std::path::{Path, PathBuf};
    use std::sync::{Condvar, Mutex, PoisonError};
    use std::time::{Duration, Instant};

    /// Held directories, and whether a sync of each is waiting.
    static HELD: Mutex<Vec<(PathBuf, bool)>> = Mutex::new(Vec::new());
    static CHANGED: Condvar = Condvar::new();
    /// Slowed directories, by how much, and whether a sync of each came.
    static SLOWED: Mutex<Vec<(PathBuf, Duration, bool)>> = Mutex::new(Vec::new());

    /// Holds the syncs of the queue in `directory` until [`release`].
    pub(crate) fn hold(directory: &Path) {
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        held.push((directory.to_path_buf(), false));
    }

    /// Makes each sync of the queue in `directory` take `by` longer (a busy
    /// disk), until [`release`]. Timed on the thread that syncs: a busy test
    /// thread does not make it longer, as it can a [`hold`].
    pub(crate) fn slow_down(directory: &Path, by: Duration) {
        let mut slowed = SLOWED.lock().unwrap_or_else(PoisonError::into_inner);
        slowed.push((directory.to_path_buf(), by, false));
    }

    /// Whether a sync of `directory` was slowed down by [`slow_down`].
    pub(crate) fn was_slowed(directory: &Path) -> bool {
        let slowed = SLOWED.lock().unwrap_or_else(PoisonError::into_inner);
        slowed
            .iter()
            .any(|(path, _, came)| path == directory && *came)
    }

    /// Lets the syncs of `directory` go, at their own pace.
    pub(crate) fn release(directory: &Path) {
        SLOWED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(path, ..)| path != directory);
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(path, _)| path != directory);
        CHANGED.notify_all();
    }

    /// Waits until a sync of `directory` is held; `false` if none came
    /// `within` (an outer bound, so that a test fails instead of hanging).
    pub(crate) fn wait_until_stalled(directory: &Path, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        while !held
            .iter()
            .any(|(path, waiting)| path == directory && *waiting)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            held = CHANGED
                .wait_timeout(held, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Called before a sync of the queue in `directory`: waits while it is
    /// held, and as long as it is slowed down by.
    pub(crate) fn pass(directory: &Path) {
        let slowed_by = SLOWED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
            .find(|(path, ..)| path == directory)
            .map(|(_, by, came)| {
                *came = true;
                *by
            });
        if let Some(by) = slowed_by {
            std::thread::sleep(by);
        }
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let Some(entry) = held.iter_mut().find(|(path, _)| path == directory) else {
                return;
            };
            entry.1 = true;
            CHANGED.notify_all();
            held = CHANGED.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A test's stand-in for a disk that fails a write part-way and then
/// refuses to cut the partial record off (a full disk): while a queue's
/// directory is torn, each append keeps only the first bytes of its record,
/// fails, and its cut fails too. Process-wide, so keyed by directory.
#[cfg(test)]
pub(crate) mod torn_writes {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, PoisonError};

    /// Torn directories, and the bytes of a record each keeps.
    static TORN: Mutex<Vec<(PathBuf, u64)>> = Mutex::new(Vec::new());

    /// Tears the appends to the queue in `directory` until [`release`]:
    /// each keeps the first `keep` bytes of its record.
    pub(crate) fn tear(directory: &Path, keep: u64) {
        let mut torn = TORN.lock().unwrap_or_else(PoisonError::into_inner);
        torn.push((directory.to_path_buf(), keep));
    }

    /// Lets the appends to `directory` be written whole again.
    pub(crate) fn release(directory: &Path) {
        let mut torn = TORN.lock().unwrap_or_else(PoisonError::into_inner);
        torn.retain(|(path, _)| path != directory);
    }

    /// The bytes an append to `directory` keeps, if it is torn.
    pub(crate) fn keeps(directory: &Path) -> Option<u64> {
        let torn = TORN.lock().unwrap_or_else(PoisonError::into_inner);
        torn.iter()
            .find(|(path, _)| path == directory)
            .map(|(_, keep)| *keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectored_writes_put_every_buffer_in_order() -> io::Result<()> {
        let path = std::env::temp_dir().join(format!("otlp-durable-fs-{}", std::process::id()));
        let file = File::create(&path)?;
        let body = vec![7u8; 300_000];
        write_all_vectored(&file, &mut [IoSlice::new(b"head"), IoSlice::new(&body)])?;
        let written = std::fs::read(&path)?;
        remove_if_present(&path)?;
        remove_if_present(&path)?;
        assert_eq!(&written[..4], b"head");
        assert_eq!(&written[4..], &body[..]);
        Ok(())
    }
}
