//! The durable-queue rows' directories (issue 14): every run of
//! otlp-rust with its durable queue on gets a fresh, empty directory under
//! [`std::env::temp_dir`], made by the coordinator before the sender starts
//! and removed once the sender is reaped (killed or failed included), so no
//! run recovers what an earlier one left and nothing stays on disk.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use otlp_benches::end_to_end::Transport;
use serde_json::{Value, json};

use crate::format::{ratio, thousands};

/// The row's name in the tables.
pub const DURABLE_LABEL: &str = "otlp-rust (durable queue, default fsync)";

/// Runs of this coordinator so far, for unique directory names.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh directory for one durable run; removed with everything in it
/// when dropped.
#[derive(Debug)]
pub struct DurableDir {
    path: PathBuf,
}

impl DurableDir {
    /// Makes `TEMP/otlp-compare-durable-PID-N`, empty (an old one of that
    /// name is removed first).
    pub fn fresh() -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!(
            "otlp-compare-durable-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .map_err(|error| format!("cannot make {}: {error}", path.display()))?;
        Ok(DurableDir { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DurableDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            eprintln!("compare: cannot remove {}: {error}", self.path.display());
        }
    }
}

/// `/tmp (ext4)`: the temporary directory the durable rows write to and the
/// file system it is on (the mount in `/proc/mounts` with the longest
/// prefix of its path; `?` if unknown). A `tmpfs` there would make fsync
/// free and the rows meaningless for a disk.
pub fn temp_dir_description() -> String {
    let temp = std::env::temp_dir();
    let temp = temp.canonicalize().unwrap_or(temp);
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let kind = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            temp.starts_with(point).then_some((point.len(), kind))
        })
        .max_by_key(|&(length, _)| length)
        .map_or("?", |(_, kind)| kind);
    format!("{} ({kind})", temp.display())
}

/// One transport's durable row against its memory-only row (otlp-rust at its
/// defaults, same load): medians of each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurableComparison {
    /// The transport.
    pub transport: Transport,
    /// The memory-only row's delivered spans/s.
    pub memory_only_per_second: f64,
    /// The durable row's delivered spans/s.
    pub durable_per_second: f64,
    /// The memory-only row's sender CPU seconds per span (as its table counts them).
    pub memory_only_cpu_per_span: f64,
    /// The durable row's sender CPU seconds per span.
    pub durable_cpu_per_span: f64,
    /// Spans the memory-only row lost (worst run).
    pub memory_only_lost: u64,
    /// Spans the durable row lost (worst run).
    pub durable_lost: u64,
}

impl DurableComparison {
    /// Durable spans/s over memory-only (below 1: slower).
    pub fn throughput_ratio(&self) -> f64 {
        self.durable_per_second / self.memory_only_per_second
    }

    /// Durable CPU per span over memory-only (above 1: dearer).
    pub fn cpu_per_span_ratio(&self) -> f64 {
        self.durable_cpu_per_span / self.memory_only_cpu_per_span
    }

    /// As the JSON report carries it.
    pub fn json(&self) -> Value {
        json!({
            "transport": self.transport.as_str(),
            "memory_only_delivered_per_second": self.memory_only_per_second,
            "durable_delivered_per_second": self.durable_per_second,
            "ratio_throughput": self.throughput_ratio(),
            "memory_only_sender_cpu_seconds_per_span": self.memory_only_cpu_per_span,
            "durable_sender_cpu_seconds_per_span": self.durable_cpu_per_span,
            "ratio_cpu_per_span": self.cpu_per_span_ratio(),
            "memory_only_lost": self.memory_only_lost,
            "durable_lost": self.durable_lost,
        })
    }
}

/// What the durable row is, under its table: one paragraph.
pub fn durable_note() -> String {
    format!(
        "\"{DURABLE_LABEL}\" is otlp-rust at its default settings with the durable queue on \
         (`BatchSpanProcessorBuilder::with_durable_queue(DurableConfig::new(dir))`): every \
         encoded request is written to a segment file before it is exported and acknowledged \
         on disk once the receiver took it; fsync at most once a second \
         (`FsyncPolicy::Interval(1 s)`, the default), 256 MiB disk cap, 16 MiB segments. Each \
         run gets a fresh directory under {}, removed after the run. It runs in the same \
         rotation and with the same workload as the other rows and has no goals of its own \
         (the goals are about the memory-only row, \"otlp-rust (default settings)\"); a span \
         it loses is a pipeline bug.",
        temp_dir_description()
    )
}

/// The table of durable rows against memory-only, with [`durable_note`]
/// (from a blank line to the note's line end); nothing without durable rows. `cpu_basis` names what CPU per span
/// divides by (`delivered span`, `span made`).
pub fn durable_table(out: &mut String, comparisons: &[DurableComparison], cpu_basis: &str) {
    if comparisons.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nDurable queue vs memory-only (otlp-rust at its defaults, same transport and load; \
         CPU per {cpu_basis}):\n"
    );
    out.push_str(
        "| transport | memory-only spans/s | durable spans/s | throughput durable / memory-only \
         | memory-only CPU µs/span | durable CPU µs/span | CPU/span durable / memory-only \
         | memory-only lost | durable lost |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for comparison in comparisons {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} |",
            comparison.transport.label(),
            thousands(comparison.memory_only_per_second.round() as u64),
            thousands(comparison.durable_per_second.round() as u64),
            ratio(comparison.throughput_ratio()),
            comparison.memory_only_cpu_per_span * 1e6,
            comparison.durable_cpu_per_span * 1e6,
            ratio(comparison.cpu_per_span_ratio()),
            thousands(comparison.memory_only_lost),
            thousands(comparison.durable_lost),
        );
    }
    let _ = writeln!(out, "\n{}", durable_note());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_directory_is_fresh_and_gone_after_its_run() {
        let first = DurableDir::fresh().expect("made");
        let second = DurableDir::fresh().expect("made");
        assert_ne!(first.path(), second.path());
        assert!(first.path().starts_with(std::env::temp_dir()));
        std::fs::write(first.path().join("segment"), b"data").expect("written");
        let path = first.path().to_owned();
        drop(first);
        assert!(!path.exists());
        assert!(second.path().is_dir());
        assert!(temp_dir_description().ends_with(')'));
    }

    #[test]
    fn the_durable_table_gives_both_ratios() {
        let comparison = DurableComparison {
            transport: Transport::Grpc,
            memory_only_per_second: 400_000.0,
            durable_per_second: 300_000.0,
            memory_only_cpu_per_span: 2.0e-6,
            durable_cpu_per_span: 2.5e-6,
            memory_only_lost: 0,
            durable_lost: 0,
        };
        assert!((comparison.throughput_ratio() - 0.75).abs() < 1e-12);
        assert!((comparison.cpu_per_span_ratio() - 1.25).abs() < 1e-12);
        let mut out = String::new();
        durable_table(&mut out, &[], "span made");
        assert!(out.is_empty());
        durable_table(&mut out, &[comparison], "span made");
        assert!(
            out.contains("| gRPC | 400,000 | 300,000 | 0.75x | 2.00 | 2.50 | 1.25x | 0 | 0 |"),
            "{out}"
        );
        assert!(out.contains("has no goals of its own"), "{out}");
        assert_eq!(comparison.json()["ratio_throughput"], 0.75);
    }
}
