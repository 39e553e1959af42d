//! [`DirectoryLock`]: one queue per directory at a time.
//!
//! The queue holds an exclusive advisory lock (`flock` on Unix, `LockFileEx`
//! on Windows, through [`File::try_lock`]) on the file `lock` in its
//! directory for as long as it is open. The operating system releases the lock
//! when the holder exits, however it exits, so a crash never leaves a stale
//! lock behind and there is nothing to clean up; the file itself stays. It
//! holds the holder's process id, for the error a second opener gets (best
//! effort: on a full disk it may be empty, or name an earlier holder). A
//! second queue on the same directory fails with
//! [`DurableError::Locked`], whether it is in
//! another process or in the same one. (Network file systems may not honour
//! these locks: keep the directory on a local disk.)

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::Path;

use super::error::DurableError;
use super::fs::check_openable;

/// The lock file's name inside the queue's directory.
pub(crate) const LOCK_FILE: &str = "lock";
/// Bytes of the lock file read for the holder: "pid N" takes at most 24; a
/// longer text is not ours, and the rest of it stays out of the error.
const HOLDER_MAX_BYTES: u64 = 64;

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DirectoryLock {
    _file: File,
}

impl DirectoryLock {
    /// Takes the lock on `directory`, or says who holds it.
    pub(crate) fn acquire(directory: &Path) -> Result<Self, DurableError> {
        let path = directory.join(LOCK_FILE);
        check_openable(&path).map_err(DurableError::io(&path, "create the lock file"))?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(DurableError::io(&path, "create the lock file"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&file);
                return Err(DurableError::Locked {
                    path: directory.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(error)) => {
                return Err(DurableError::io(&path, "lock")(error));
            }
        }
        // Only for another opener's error message: the lock is held either
        // way, and a full disk must not keep the queue (which is what frees
        // it) shut. A file that cannot be emptied keeps the old text.
        if file.set_len(0).is_ok() {
            let _ = writeln!(file, "pid {}", std::process::id());
        }
        Ok(DirectoryLock { _file: file })
    }
}

/// What the lock file says about its holder: its first line, at most
/// [`HOLDER_MAX_BYTES`] of it (the file may hold garbage, or never end).
fn read_holder(file: &File) -> Option<String> {
    let mut bytes = Vec::new();
    file.take(HOLDER_MAX_BYTES).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or_default().trim();
    (!line.is_empty()).then(|| line.to_owned())
}
