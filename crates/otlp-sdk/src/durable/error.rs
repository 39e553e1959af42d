//! [`DurableError`]: what the durable queue reports instead of panicking.

use std::io;
use std::path::{Path, PathBuf};

use super::record::RecordId;
use crate::exporter::Signal;

/// Why a durable-queue operation failed. Every variant names the file or
/// directory involved; nothing read from disk can cause a panic, only one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// A file-system operation failed.
    #[error("durable queue: cannot {operation} {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, as a verb phrase: `"create the directory"`, `"fsync"`...
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another queue (in this process or another one) has the directory open.
    #[error(
        "durable queue: the directory {} is in use by another queue{}",
        path.display(),
        holder.as_ref().map(|holder| format!(" (lock file says: {holder})")).unwrap_or_default()
    )]
    Locked {
        /// The directory.
        path: PathBuf,
        /// What the lock file says about its holder (`pid 1234`), if readable.
        holder: Option<String>,
    },
    /// The directory holds the requests of another signal's pipeline: its
    /// `signal` file names `holds`, and a `wanted` pipeline asked for it
    /// ([`DurableQueue::open_for`](super::DurableQueue::open_for)). Its
    /// records would go to the wrong endpoint, so it is refused, untouched:
    /// give each pipeline a directory of its own.
    #[error(
        "durable queue: the directory {} holds {holds} requests, not {wanted}: \
         give the {wanted} pipeline a durable directory of its own",
        path.display()
    )]
    WrongSignal {
        /// The directory.
        path: PathBuf,
        /// The signal whose requests it holds (the pipeline that first opened it).
        holds: Signal,
        /// The signal of the pipeline that asked for it.
        wanted: Signal,
    },
    /// The configuration cannot work; `key` names the field of
    /// [`DurableConfig`](super::DurableConfig).
    #[error("durable queue: invalid {key}: {reason}")]
    InvalidConfig {
        /// The field: `max_bytes`, `segment_bytes`, `fsync`, `directory`.
        key: &'static str,
        /// Why the value cannot work.
        reason: String,
    },
    /// A single record would be larger than the disk cap (or than 4 GiB): it
    /// was not stored. The caller counts its spans as dropped.
    #[error(
        "durable queue: a record of {bytes} bytes does not fit under the {max_bytes} byte disk cap"
    )]
    TooLarge {
        /// The record's size on disk, header included.
        bytes: u64,
        /// The cap it exceeds.
        max_bytes: u64,
    },
    /// A record that was sound when the queue was opened no longer matches its
    /// checksum when read back. It is no longer pending; count its spans as dropped.
    #[error("durable queue: record {id} in {} failed its checksum when read back", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// The record.
        id: RecordId,
        /// The record's spans, lost.
        span_count: u32,
    },
    /// No pending record has this id: it was acknowledged, evicted, or never stored.
    #[error("durable queue: no pending record {0}")]
    UnknownRecord(RecordId),
}

impl DurableError {
    /// For `map_err`: the error of `operation` on `path` (copied only on failure).
    pub(crate) fn io<'a>(
        path: &'a Path,
        operation: &'static str,
    ) -> impl FnOnce(io::Error) -> DurableError + 'a {
        move |source| DurableError::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    }
}
