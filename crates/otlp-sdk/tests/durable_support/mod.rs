//! Shared by the `durable_*` integration tests: scratch directories, small
//! configurations, recognisable bodies.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otlp_sdk::durable::{DurableConfig, DurableQueue, FsyncPolicy, Recovered};

/// A directory under the target directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "durable-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Small segments and cap so a few records exercise rotation and eviction.
pub fn small_config(directory: &Path, fsync: FsyncPolicy) -> DurableConfig {
    DurableConfig {
        fsync,
        max_bytes: 1024 * 1024,
        segment_bytes: 4096,
        ..DurableConfig::new(directory)
    }
}

/// A body that says which record it belongs to: `len` bytes derived from `seed`.
pub fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Opens the queue; panics with the error's text if it fails.
pub fn open(config: &DurableConfig) -> (DurableQueue, Recovered) {
    match DurableQueue::open(config.clone()) {
        Ok(opened) => opened,
        Err(error) => panic!("open failed: {error}"),
    }
}

/// The segment files of a directory, oldest first.
pub fn segment_files(directory: &Path) -> Vec<PathBuf> {
    files_ending(directory, ".seg")
}

/// The acknowledgement files of a directory, oldest first.
pub fn ack_files(directory: &Path) -> Vec<PathBuf> {
    files_ending(directory, ".ack")
}

fn files_ending(directory: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(directory)
        .expect("list the queue directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Whether `condition` holds within `timeout`, looking every 5 ms (and once
/// more at the end).
pub fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}
