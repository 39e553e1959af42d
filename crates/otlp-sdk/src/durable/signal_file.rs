//! The `signal` file: which signal's requests a queue's directory holds.
//!
//! A record carries no signal: its body is an `Export*ServiceRequest`, and
//! which one only the pipeline that wrote it knows. A directory written by a
//! trace pipeline and later opened by a log pipeline would have its trace
//! requests sent to the logs endpoint (and the reverse), each one refused or,
//! worse, misread. So a queue opened for a signal
//! ([`DurableQueue::open_for`](super::DurableQueue::open_for)) claims its
//! directory: the first time, it writes that signal's name (`traces`, `logs`,
//! `metrics`) into the file `signal`; every later open for another signal is
//! refused with [`DurableError::WrongSignal`] before anything in the directory
//! is touched.
//!
//! A directory written before this file existed has none: the first signal to
//! open it adopts it, its records taken as that signal's. (Reopen such a
//! directory first with the pipeline that wrote it.) A `signal` file left
//! empty by a crash while it was first written counts as missing.
//!
//! The file is written once per directory, through a temporary file renamed
//! into place, and made durable at once under every
//! [`FsyncPolicy`](super::FsyncPolicy): a claim lost in a machine crash would
//! let another signal adopt the directory. Cost: one small read per open; the
//! first open of a directory also one write, two fsyncs and a rename.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use super::error::DurableError;
use super::fs::{check_openable, sync_directory};
use crate::exporter::Signal;

/// The file's name inside the queue's directory.
pub(crate) const SIGNAL_FILE: &str = "signal";
/// Bytes of the file read: a signal's name and a newline take at most 8; a
/// longer text is not a signal's name (and the rest stays out of the error).
const SIGNAL_MAX_BYTES: u64 = 64;
/// The file being written, before it is renamed to [`SIGNAL_FILE`].
const SIGNAL_FILE_NEW: &str = "signal.new";

/// Makes sure `directory` holds `signal`'s requests: claims it if no signal
/// has yet, refuses it if another one has. Call with the directory locked.
pub(crate) fn claim(directory: &Path, signal: Signal) -> Result<(), DurableError> {
    let path = directory.join(SIGNAL_FILE);
    check_openable(&path).map_err(DurableError::io(&path, "read the signal file"))?;
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(file) => file
            .take(SIGNAL_MAX_BYTES)
            .read_to_end(&mut bytes)
            .map_err(DurableError::io(&path, "read the signal file"))?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
        Err(error) => return Err(DurableError::io(&path, "read the signal file")(error)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let name = text.trim();
    // Empty only if all of it was read: a longer file is not ours to overwrite.
    if name.is_empty() && (bytes.len() as u64) < SIGNAL_MAX_BYTES {
        return write(directory, signal);
    }
    match parse_signal(name) {
        Some(holds) if holds == signal => Ok(()),
        Some(holds) => Err(DurableError::WrongSignal {
            path: directory.to_owned(),
            holds,
            wanted: signal,
        }),
        // Written by a newer version, or damaged: not ours to guess.
        None => Err(DurableError::io(&path, "read the signal file")(
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("it names no known signal: {name:?}"),
            ),
        )),
    }
}

/// The signal named `name` (as [`Signal::as_str`] writes it), if any.
fn parse_signal(name: &str) -> Option<Signal> {
    [Signal::Traces, Signal::Logs, Signal::Metrics]
        .into_iter()
        .find(|signal| signal.as_str() == name)
}

/// Writes the file naming `signal`, durably.
fn write(directory: &Path, signal: Signal) -> Result<(), DurableError> {
    let new = directory.join(SIGNAL_FILE_NEW);
    check_openable(&new).map_err(DurableError::io(&new, "write the signal file"))?;
    File::create(&new)
        .and_then(|mut file| {
            writeln!(file, "{}", signal.as_str())?;
            file.sync_data()
        })
        .map_err(DurableError::io(&new, "write the signal file"))?;
    let path = directory.join(SIGNAL_FILE);
    fs::rename(&new, &path).map_err(DurableError::io(&path, "write the signal file"))?;
    sync_directory(directory).map_err(DurableError::io(directory, "fsync the directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_reads_back_by_its_name() {
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            assert_eq!(parse_signal(signal.as_str()), Some(signal));
        }
        assert_eq!(parse_signal("profiles"), None);
    }
}
