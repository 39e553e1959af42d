//! [`DurableConfig`] and [`FsyncPolicy`]: where the queue lives, how much disk
//! it may take, and when it forces data to stable storage.

use std::path::PathBuf;
use std::time::Duration;

use super::error::DurableError;

/// When the queue asks the operating system to put written data on stable
/// storage (`fdatasync`).
///
/// Every record is handed to the operating system by one `write` before
/// [`append`](super::DurableQueue::append) returns, and every acknowledgement
/// before [`ack`](super::DurableQueue::ack) returns, whatever the policy. So a
/// crash of the *process* (panic, `kill -9`, out of memory) loses nothing under
/// any policy. What the policy decides is what survives a crash of the
/// *machine* (kernel panic, power loss, a VM killed by its host):
///
/// | policy | machine crash loses | cost per batch |
/// |---|---|---|
/// | [`EveryBatch`](FsyncPolicy::EveryBatch) | nothing that `append` returned | one `fdatasync` per append and per ack (milliseconds on disks, less on SSDs) |
/// | [`Interval(d)`](FsyncPolicy::Interval) | at most the last `d` of appends (and acks: then duplicates) | one `fdatasync` per `d` |
/// | [`Never`](FsyncPolicy::Never) | whatever the kernel had not written back yet (on Linux typically up to 30 s) | none |
///
/// A lost acknowledgement only means its batch is sent again after the restart
/// (at-least-once). A lost record is gone; a record cut short by the crash is
/// detected by its checksum and skipped (counted), never replayed as garbage.
///
/// In a pipeline (the batch span processor with `durable` set), a record is
/// appended when the export loop cuts its batch, so what a crash of the
/// process loses is what the program handed over and the loop had not yet
/// cut — records still in the threads' blocks or in the memory queue:
///
/// | policy | a `kill -9` of the program loses |
/// |---|---|
/// | [`EveryBatch`](FsyncPolicy::EveryBatch) | nothing handed over before the last batch write completed: each cut first takes every thread's block, and everything queued is cut at once (smaller batches at low rates) |
/// | [`Interval(d)`](FsyncPolicy::Interval), [`Never`](FsyncPolicy::Never) | at most what was handed over in the last scheduled delay (5 s by default; batches are cut then, or as soon as a batch is full, a matter of milliseconds at thousands of spans a second) |
///
/// Either way only while the disk has room below its last quarter (kept for
/// batches in flight); past that, batches wait in memory again.
///
/// At an orderly shutdown the pipeline forces a last sync (whatever the
/// policy) on a thread of its own and waits for it only while the caller of
/// `shutdown` waits. To leave the sync time, such a shutdown stops exporting
/// a quarter of its time (at most half a second) before its deadline, whether the
/// exports it cuts short are first attempts or retries (their records are
/// on disk already, but for any the disk refused or its cap evicted: those
/// are counted lost). A sync that has not ended by the deadline (a stalled
/// disk) makes `shutdown` answer `Timeout`, counting the records on disk as
/// not settled, and keeps the directory locked until the sync returns:
/// opening the same directory again in the same process meanwhile fails
/// with [`DurableError::Locked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` after every append and every acknowledgement, before the call returns.
    EveryBatch,
    /// `fdatasync` whatever was written when [`sync`](super::DurableQueue::sync)
    /// is called at least this long after the previous one. The caller calls
    /// `sync` from its periodic wake-ups ([`next_sync_at`](super::DurableQueue::next_sync_at) says when).
    Interval(Duration),
    /// Never `fdatasync` on its own; the operating system writes back when it
    /// likes. `sync(true)` still forces it (for an orderly shutdown).
    Never,
}

impl Default for FsyncPolicy {
    /// `Interval(1 s)`: survives any process crash, and loses at most a second
    /// of batches to a machine crash.
    fn default() -> Self {
        FsyncPolicy::Interval(Duration::from_secs(1))
    }
}

/// Where a [`DurableQueue`](super::DurableQueue) keeps its files and how much
/// room it may take.
///
/// ```
/// use otlp_sdk::durable::{DurableConfig, FsyncPolicy};
///
/// let config = DurableConfig {
///     fsync: FsyncPolicy::EveryBatch,
///     ..DurableConfig::new("/var/lib/my-service/otlp-queue")
/// };
/// assert_eq!(config.max_bytes, 256 * 1024 * 1024);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableConfig {
    /// The queue's directory, created if missing. One queue per directory
    /// at a time (it is locked); and a pipeline's queue claims its directory
    /// for its signal for good ([`DurableQueue::open_for`](super::DurableQueue::open_for)):
    /// one directory per pipeline.
    pub directory: PathBuf,
    /// When written data is forced to stable storage (default `Interval(1 s)`).
    pub fsync: FsyncPolicy,
    /// Disk cap over all segment files (default 256 MiB). When an append
    /// would exceed it, the oldest segments are deleted, delivered or not,
    /// and what they held is counted (`dropped_durable`). The oldest go
    /// rather than the newest: after an outage longer than the disk holds,
    /// the telemetry of the last minutes is what an operator looks at, and a
    /// whole segment is freed at once (refusing new spans instead would keep
    /// the stale ones and lose exactly those).
    ///
    /// In a pipeline, while the backend is down, batches go to disk up to
    /// this cap (the program never drops at a full memory queue while the
    /// disk can take its spans); while the backend answers, the last quarter
    /// is kept for batches in flight, so a healthy backend slower than the
    /// program slows the program down instead of causing evictions.
    pub max_bytes: u64,
    /// A segment file is closed and a new one started before a record would
    /// take it past this size (default 16 MiB). A segment holds at least one
    /// record, so a larger record makes a larger segment. Smaller segments free
    /// delivered data sooner and evict less at a time; each costs up to two open files.
    pub segment_bytes: u64,
}

impl DurableConfig {
    /// Default disk cap: 256 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
    /// Default segment size: 16 MiB.
    pub const DEFAULT_SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
    /// Smallest segment size accepted: 4 KiB.
    pub const MIN_SEGMENT_BYTES: u64 = 4 * 1024;

    /// The defaults, with the queue in `directory`.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        DurableConfig {
            directory: directory.into(),
            fsync: FsyncPolicy::default(),
            max_bytes: Self::DEFAULT_MAX_BYTES,
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
        }
    }

    /// Checks the settings: a directory is named, segments are at least
    /// [`MIN_SEGMENT_BYTES`](Self::MIN_SEGMENT_BYTES), the cap holds at least
    /// one segment, and an fsync interval is longer than zero.
    pub fn validate(&self) -> Result<(), DurableError> {
        let invalid = |key, reason: String| Err(DurableError::InvalidConfig { key, reason });
        if self.directory.as_os_str().is_empty() {
            return invalid("directory", "no directory given".to_owned());
        }
        if self.segment_bytes < Self::MIN_SEGMENT_BYTES {
            return invalid(
                "segment_bytes",
                format!(
                    "{} is less than the minimum of {} bytes",
                    self.segment_bytes,
                    Self::MIN_SEGMENT_BYTES
                ),
            );
        }
        if self.max_bytes < self.segment_bytes {
            return invalid(
                "max_bytes",
                format!(
                    "{} is less than segment_bytes ({})",
                    self.max_bytes, self.segment_bytes
                ),
            );
        }
        if self.fsync == FsyncPolicy::Interval(Duration::ZERO) {
            return invalid(
                "fsync",
                "an interval of zero; use EveryBatch to sync every batch".to_owned(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_bad_field() {
        let key_of = |config: DurableConfig| match config.validate() {
            Err(DurableError::InvalidConfig { key, .. }) => key,
            other => panic!("expected an invalid config, got {other:?}"),
        };
        let base = DurableConfig::new("queue");
        assert!(base.validate().is_ok());
        assert_eq!(key_of(DurableConfig::new("")), "directory");
        assert_eq!(
            key_of(DurableConfig {
                segment_bytes: 100,
                ..base.clone()
            }),
            "segment_bytes"
        );
        assert_eq!(
            key_of(DurableConfig {
                max_bytes: base.segment_bytes - 1,
                ..base.clone()
            }),
            "max_bytes"
        );
        assert_eq!(
            key_of(DurableConfig {
                fsync: FsyncPolicy::Interval(Duration::ZERO),
                ..base
            }),
            "fsync"
        );
    }
}
