//! A real crash: a child process appends and acknowledges as fast as it can
//! and is killed (SIGKILL) at an arbitrary moment. Whatever the fsync policy,
//! a process crash loses nothing `append` returned, and only the very last
//! acknowledgement can be missing.
//!
//! The child is this test binary, run again with the child's test name and an
//! environment variable naming the directory.

mod durable_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use durable_support::{TempDir, body, open, small_config};
use otlp_core::encode::Encoding;
use otlp_sdk::durable::{DurableConfig, DurableQueue, FsyncPolicy, RecordId};

const CHILD_DIRECTORY: &str = "OTLP_DURABLE_CRASH_CHILD_DIRECTORY";
const CHILD_FSYNC: &str = "OTLP_DURABLE_CRASH_CHILD_FSYNC";
const CHILD_BASE: &str = "OTLP_DURABLE_CRASH_CHILD_BASE";
const READY: &str = "durable-crash-child-ready";

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config(directory: &Path, fsync: &str) -> DurableConfig {
    let fsync = match fsync {
        "every" => FsyncPolicy::EveryBatch,
        _ => FsyncPolicy::Never,
    };
    DurableConfig {
        max_bytes: 64 * 1024 * 1024,
        segment_bytes: 64 * 1024,
        ..small_config(directory, fsync)
    }
}

/// Record number `seq`: its number, then bytes derived from it; 1 to 4 KiB.
fn record_body(seq: u64) -> Vec<u8> {
    let mut bytes = seq.to_le_bytes().to_vec();
    bytes.extend(body(seq, 1000 + (seq as usize * 7919) % 3000));
    bytes
}

fn spans_of(seq: u64) -> u32 {
    (seq % 100) as u32 + 1
}

/// The child: delivers what it recovered, then appends records `base..` and
/// acknowledges every third right away, until killed.
#[test]
fn child_process_writer_for_the_crash_test() -> TestResult {
    let Some(directory) = std::env::var_os(CHILD_DIRECTORY) else {
        return Ok(()); // Not the child: nothing to do.
    };
    let fsync = std::env::var(CHILD_FSYNC)?;
    let base: u64 = std::env::var(CHILD_BASE)?.parse()?;
    let (mut queue, recovered) = DurableQueue::open(config(Path::new(&directory), &fsync))?;
    for record in &recovered.records {
        queue.ack(record.id)?;
    }
    println!("{READY}");
    let started = Instant::now();
    let mut seq = base;
    // Bounded, in case the parent is gone.
    while started.elapsed() < Duration::from_secs(20) {
        let appended = queue.append(Encoding::Protobuf, spans_of(seq), &record_body(seq))?;
        if seq.is_multiple_of(3) {
            queue.ack(appended.id)?;
        }
        seq += 1;
    }
    Ok(())
}

/// Runs the child until it is ready, lets it write for `run`, kills it.
fn run_child(directory: &Path, fsync: &str, base: u64, run: Duration) -> TestResult {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "child_process_writer_for_the_crash_test",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIRECTORY, directory)
        .env(CHILD_FSYNC, fsync)
        .env(CHILD_BASE, base.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("the child's stdout")?;
    let mut ready = false;
    for line in BufReader::new(stdout).lines() {
        if line?.contains(READY) {
            ready = true;
            break;
        }
    }
    if !ready {
        let status = child.wait()?;
        return Err(format!("the child ended before it was ready: {status}").into());
    }
    std::thread::sleep(run);
    child.kill()?;
    let status = child.wait()?;
    assert!(!status.success(), "the child was killed, not finished");
    Ok(())
}

/// What a restart finds after the child of round `base` was killed.
fn check_after_crash(
    directory: &Path,
    fsync: &str,
    base: u64,
) -> Result<u64, Box<dyn std::error::Error>> {
    let (mut queue, recovered) = open(&config(directory, fsync));
    assert_eq!(
        recovered.corrupt_records, 0,
        "a process crash damages nothing"
    );
    let mut seqs = Vec::new();
    let mut buffer = Vec::new();
    let mut previous: Option<RecordId> = None;
    for record in &recovered.records {
        assert!(previous < Some(record.id), "oldest first");
        previous = Some(record.id);
        queue.read(record.id, &mut buffer)?;
        let seq = u64::from_le_bytes(buffer[..8].try_into()?);
        assert_eq!(
            buffer,
            record_body(seq),
            "record {} holds seq {seq}",
            record.id
        );
        assert_eq!(record.span_count, spans_of(seq));
        seqs.push(seq);
    }
    assert!(
        seqs.iter().all(|seq| *seq >= base),
        "what the child recovered and acknowledged stays acknowledged: {seqs:?}"
    );
    let Some(&last) = seqs.last() else {
        return Ok(0);
    };
    // Nothing appended is lost; an acknowledged record comes back only if the
    // kill fell between its append and its acknowledgement.
    let expected: Vec<u64> = (base..=last)
        .filter(|seq| !seq.is_multiple_of(3) || *seq == last)
        .collect();
    assert_eq!(seqs, expected);
    Ok(seqs.len() as u64)
}

#[test]
fn a_killed_writer_loses_nothing_it_appended() -> TestResult {
    let dir = TempDir::new("crash");
    let mut recovered = 0;
    for (round, (fsync, run_ms)) in [
        ("never", 40),
        ("every", 60),
        ("never", 90),
        ("every", 30),
        ("never", 15),
    ]
    .into_iter()
    .enumerate()
    {
        let base = round as u64 * 1_000_000;
        run_child(dir.path(), fsync, base, Duration::from_millis(run_ms))?;
        let found = check_after_crash(dir.path(), fsync, base)?;
        println!("round {round} ({fsync}): {found} records recovered");
        recovered += found;
    }
    assert!(recovered > 0, "the children wrote something");
    Ok(())
}
