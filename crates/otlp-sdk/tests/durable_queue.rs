//! The durable queue's storage contract: what comes back after a restart,
//! in which order, what is deleted when, what the disk cap costs, and who
//! may open a directory.

mod durable_support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use durable_support::{TempDir, ack_files, body, open, segment_files, small_config};
use otlp_core::encode::Encoding;
use otlp_sdk::Signal;
use otlp_sdk::durable::{
    DurableConfig, DurableError, DurableQueue, FsyncPolicy, PendingRecord, RecordId, Recovered,
};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Reads every pending record's body: `(id, span_count, body)`, oldest first.
fn read_all(queue: &mut DurableQueue, records: &[PendingRecord]) -> Vec<(u64, u32, Vec<u8>)> {
    records
        .iter()
        .map(|record| {
            let mut body = Vec::new();
            let read = queue
                .read(record.id, &mut body)
                .unwrap_or_else(|error| panic!("read {}: {error}", record.id));
            assert_eq!(read, *record);
            assert_eq!(body.len(), record.body_len as usize);
            (record.id.get(), record.span_count, body)
        })
        .collect()
}

#[test]
fn only_unacknowledged_records_come_back_in_order_with_their_bytes() -> TestResult {
    let dir = TempDir::new("round-trip");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, recovered) = open(&config);
    assert!(recovered.records.is_empty());
    let mut ids = Vec::new();
    for n in 0..10u64 {
        let encoding = if n % 2 == 0 {
            Encoding::Protobuf
        } else {
            Encoding::Json
        };
        let appended = queue.append(encoding, n as u32 + 1, &body(n, 100 + n as usize * 37))?;
        assert_eq!(appended.evicted.records, 0);
        ids.push(appended.id);
    }
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    for n in [0, 3, 4, 9] {
        assert!(queue.ack(ids[n])?);
    }
    drop(queue);

    let (mut queue, recovered) = open(&config);
    let expected: Vec<usize> = vec![1, 2, 5, 6, 7, 8];
    assert_eq!(recovered.records.len(), expected.len());
    assert_eq!(
        (recovered.corrupt_records, recovered.torn_tail_bytes),
        (0, 0)
    );
    let read = read_all(&mut queue, &recovered.records);
    for ((id, spans, bytes), n) in read.into_iter().zip(expected.iter().copied()) {
        assert_eq!(id, ids[n].get());
        assert_eq!(spans, n as u32 + 1);
        assert_eq!(bytes, body(n as u64, 100 + n * 37));
    }
    let encodings: Vec<Encoding> = recovered.records.iter().map(|r| r.encoding).collect();
    assert_eq!(
        encodings,
        [
            Encoding::Json,
            Encoding::Protobuf,
            Encoding::Json,
            Encoding::Protobuf,
            Encoding::Json,
            Encoding::Protobuf
        ]
    );
    let stats = queue.stats();
    assert_eq!(stats.recovered_records, 6);
    assert_eq!(stats.recovered_spans, recovered.span_count());
    assert_eq!(recovered.span_count(), 2 + 3 + 6 + 7 + 8 + 9);
    assert_eq!((stats.pending_records, stats.pending_spans), (6, 35));
    Ok(())
}

#[test]
fn acknowledgements_in_any_order_are_all_remembered() -> TestResult {
    let dir = TempDir::new("out-of-order");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let ids: Vec<RecordId> = (0..40)
        .map(|n| {
            queue
                .append(Encoding::Protobuf, 1, &body(n, 500))
                .map(|a| a.id)
        })
        .collect::<Result<_, _>>()?;
    assert!(queue.stats().segments > 3, "spread over several segments");
    // Acknowledge in a scrambled order, as concurrent exports finish.
    let mut acked: Vec<usize> = (0..40).filter(|n| n % 3 != 1).collect();
    acked.sort_by_key(|n| (n * 17) % 41);
    for &n in &acked {
        assert!(queue.ack(ids[n])?);
        assert!(!queue.ack(ids[n])?, "a second acknowledgement does nothing");
    }
    let pending: Vec<RecordId> = queue.pending().map(|record| record.id).collect();
    drop(queue);

    let (_, recovered) = open(&config);
    let recovered: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    let expected: Vec<RecordId> = (0..40).filter(|n| n % 3 == 1).map(|n| ids[n]).collect();
    assert_eq!(recovered, expected);
    assert_eq!(pending, expected);
    Ok(())
}

#[test]
fn ids_continue_after_a_restart_even_when_everything_was_delivered() -> TestResult {
    let dir = TempDir::new("ids");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let mut last = RecordId::new(0);
    for round in 0..4u64 {
        let (mut queue, recovered) = open(&config);
        assert!(recovered.records.is_empty());
        for n in 0..7 {
            let id = queue
                .append(Encoding::Protobuf, 1, &body(round * 10 + n, 900))?
                .id;
            assert!(id > last, "{id} after {last}");
            last = id;
            assert!(queue.ack(id)?);
        }
        queue.sync(true)?;
        assert_eq!(queue.stats().segments, 1, "only the newest segment is kept");
    }
    Ok(())
}

/// A segment roll whose new file cannot be created (here a file already
/// has its name; in the field `EMFILE`, no inodes left, permissions) leaves
/// no segment being appended to. The newest segment must stay all the same
/// once its records are delivered: its name and last record are what give
/// the next id after a restart. It was deleted, and ids started again at 1.
#[test]
fn ids_continue_after_a_restart_when_a_segment_roll_failed_and_everything_was_delivered()
-> TestResult {
    let dir = TempDir::new("ids-failed-roll");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(queue.append(Encoding::Protobuf, 1, &body(n, 900))?.id);
    }
    assert_eq!(segment_files(dir.path()).len(), 1);
    let next = ids[3].get() + 1;
    let in_the_way = dir.path().join(format!("{next:020}.seg"));
    fs::write(&in_the_way, b"")?;
    match queue.append(Encoding::Protobuf, 1, &body(9, 900)) {
        Err(DurableError::Io { operation, .. }) => assert_eq!(operation, "create"),
        other => panic!("expected the new segment not to be created, got {other:?}"),
    }
    fs::remove_file(&in_the_way)?;
    for id in &ids {
        assert!(queue.ack(*id)?);
    }
    queue.sync(true)?;
    drop(queue);

    let (mut queue, recovered) = open(&config);
    assert!(recovered.records.is_empty());
    let id = queue.append(Encoding::Protobuf, 1, &body(10, 100))?.id;
    assert!(id > ids[3], "{id} after {}", ids[3]);
    Ok(())
}

#[test]
fn segments_rotate_and_go_once_all_their_records_are_acknowledged() -> TestResult {
    let dir = TempDir::new("rotation");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    // 32 + 1000 bytes a record: three fit in a 4096-byte segment.
    let ids: Vec<RecordId> = (0..12)
        .map(|n| {
            queue
                .append(Encoding::Protobuf, 2, &body(n, 1000))
                .map(|a| a.id)
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(segment_files(dir.path()).len(), 4);
    assert_eq!(queue.stats().bytes, 12 * 1032);
    for file in segment_files(dir.path()) {
        assert!(fs::metadata(&file)?.len() <= config.segment_bytes);
    }

    // The second segment's records, acknowledged: that segment goes, files and all.
    for id in &ids[3..6] {
        queue.ack(*id)?;
    }
    let names: Vec<String> = segment_files(dir.path())
        .iter()
        .map(|path| {
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            format!("{:020}.seg", ids[0].get()),
            format!("{:020}.seg", ids[6].get()),
            format!("{:020}.seg", ids[9].get()),
        ]
    );
    assert_eq!(
        ack_files(dir.path()).len(),
        0,
        "its acknowledgements went with it"
    );
    let stats = queue.stats();
    assert_eq!(
        (stats.segments, stats.pending_records, stats.bytes),
        (3, 9, 9 * 1032)
    );

    // Everything acknowledged: the newest segment stays (it is appended to), nothing else.
    for id in ids.iter().take(3).chain(&ids[6..]) {
        queue.ack(*id)?;
    }
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert_eq!(queue.stats().pending_records, 0);
    // The next rotation deletes it.
    for n in 0..4 {
        let _ = queue.append(Encoding::Protobuf, 2, &body(100 + n, 1000))?;
    }
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with(format!("{:020}.seg", ids[11].get() + 1)));
    Ok(())
}

#[test]
fn the_disk_cap_evicts_the_oldest_segments_and_counts_what_they_held() -> TestResult {
    let dir = TempDir::new("cap");
    let config = DurableConfig {
        max_bytes: 16 * 1024,
        ..small_config(dir.path(), FsyncPolicy::Never)
    };
    let (mut queue, _) = open(&config);
    let mut evicted_records = 0;
    let mut evicted_spans = 0;
    let mut evicted_through = None;
    let mut ids = Vec::new();
    for n in 0..50u64 {
        let appended = queue.append(Encoding::Protobuf, n as u32 % 5 + 1, &body(n, 1000))?;
        ids.push(appended.id);
        if n % 4 == 0 {
            // Some delivered: evicting them costs nothing.
            queue.ack(appended.id)?;
        }
        evicted_records += appended.evicted.records;
        evicted_spans += appended.evicted.spans;
        if let Some(through) = appended.evicted.through {
            assert!(evicted_through < Some(through), "oldest first");
            evicted_through = Some(through);
        }
        assert!(queue.stats().bytes <= config.max_bytes);
    }
    let stats = queue.stats();
    assert_eq!(
        (stats.evicted_records, stats.evicted_spans),
        (evicted_records, evicted_spans)
    );
    let through = evicted_through.ok_or("something was evicted")?;
    let remaining: Vec<PendingRecord> = queue.pending().collect();
    assert!(remaining.iter().all(|record| record.id > through));
    assert!(
        !queue.ack(through)?,
        "an evicted record is no longer pending"
    );
    // Each record was acknowledged, evicted or is still pending: none is lost uncounted.
    let unacked = |keep: &dyn Fn(RecordId) -> bool| {
        (0..50usize)
            .filter(|n| n % 4 != 0 && keep(ids[*n]))
            .map(|n| n as u64 % 5 + 1)
            .collect::<Vec<u64>>()
    };
    let evicted = unacked(&|id| id <= through);
    assert_eq!(evicted_records, evicted.len() as u64);
    assert_eq!(evicted_spans, evicted.iter().sum::<u64>());
    assert_eq!(remaining.len(), unacked(&|id| id > through).len());
    // The newest records survive a restart.
    drop(queue);
    let (mut queue, recovered) = open(&config);
    assert_eq!(recovered.records, remaining);
    let last = read_all(
        &mut queue,
        &recovered.records[recovered.records.len() - 1..],
    );
    assert_eq!(last[0].2, body(49, 1000));
    Ok(())
}

/// The disk cap evicts the oldest segment to make room, then the write fails
/// (a full disk: the segment being appended to is `/dev/full` here). The
/// record is not stored, but the eviction happened: `evicted_through` and
/// the stats say so, for the caller to count those records as dropped.
#[cfg(target_os = "linux")]
#[test]
fn an_eviction_before_a_failed_write_is_still_reported() -> TestResult {
    let dir = TempDir::new("evict-then-fail");
    let config = DurableConfig {
        max_bytes: 8 * 1024,
        ..small_config(dir.path(), FsyncPolicy::Never)
    };
    let (mut queue, _) = open(&config);
    let ids: Vec<RecordId> = (0..6)
        .map(|n| {
            queue
                .append(Encoding::Protobuf, 2, &body(n, 1300))
                .map(|a| a.id)
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(segment_files(dir.path()).len(), 2);
    drop(queue);
    let next = ids[5].get() + 1;
    std::os::unix::fs::symlink("/dev/full", dir.path().join(format!("{next:020}.seg")))?;

    let (mut queue, _) = open(&config);
    assert_eq!(queue.evicted_through(), None);
    match queue.append(Encoding::Protobuf, 1, &body(9, 500)) {
        Err(DurableError::Io { .. }) => {}
        other => panic!("expected the write to fail, got {other:?}"),
    }
    assert_eq!(queue.evicted_through(), Some(ids[2]));
    let stats = queue.stats();
    assert_eq!((stats.evicted_records, stats.evicted_spans), (3, 6));
    let pending: Vec<RecordId> = queue.pending().map(|record| record.id).collect();
    assert_eq!(pending, ids[3..]);
    Ok(())
}

#[test]
fn a_record_larger_than_the_cap_is_refused_and_nothing_is_stored() -> TestResult {
    let dir = TempDir::new("too-large");
    let config = DurableConfig {
        max_bytes: 8192,
        ..small_config(dir.path(), FsyncPolicy::Never)
    };
    let (mut queue, _) = open(&config);
    let kept = queue.append(Encoding::Protobuf, 1, &body(1, 100))?.id;
    match queue.append(Encoding::Protobuf, 9, &body(2, 8192)) {
        Err(DurableError::TooLarge { bytes, max_bytes }) => {
            assert_eq!((bytes, max_bytes), (8192 + 32, 8192));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // A record bigger than a segment but under the cap gets a segment of its own.
    let big = queue.append(Encoding::Protobuf, 1, &body(3, 6000))?;
    assert_eq!(big.evicted.records, 0);
    let pending: Vec<RecordId> = queue.pending().map(|record| record.id).collect();
    assert_eq!(pending, [kept, big.id]);
    Ok(())
}

#[test]
fn a_second_queue_on_the_same_directory_is_refused_until_the_first_closes() -> TestResult {
    let dir = TempDir::new("lock");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (queue, _) = open(&config);
    match DurableQueue::open(config.clone()) {
        Err(error @ DurableError::Locked { .. }) => {
            let text = error.to_string();
            assert!(text.contains("in use"), "{text}");
            assert!(
                text.contains(&format!("pid {}", std::process::id())),
                "{text}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(queue);
    let _reopened = open(&config);
    Ok(())
}

/// The `lock` file's text goes into the error a second opener gets. A file
/// that holds far more than "pid N" (garbage, or a device that never ends)
/// must not be read whole into it: the holder is its first line, cut short.
/// It was read whole (here 8 MiB into one error message).
#[test]
fn a_lock_file_full_of_garbage_is_not_read_whole_into_the_error() -> TestResult {
    let dir = TempDir::new("lock-garbage");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (_queue, _) = open(&config);
    let garbage = "pid 42 ".repeat(1024 * 1024 + 1);
    fs::write(dir.path().join("lock"), garbage.as_bytes())?;
    match DurableQueue::open(config.clone()) {
        Err(error @ DurableError::Locked { .. }) => {
            let text = error.to_string();
            assert!(text.len() < 400, "{} bytes of error", text.len());
            assert!(text.contains("lock file says: pid 42"), "{text}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    Ok(())
}

/// A full disk at start: the lock file's "pid N" (for another opener's
/// error message) cannot be written (the file is `/dev/full` here). The lock
/// itself is held all the same, and the queue must open: it is what frees
/// the disk, by delivering and deleting what it holds. It refused to open,
/// and the pipeline to start.
#[cfg(target_os = "linux")]
#[test]
fn a_lock_file_that_cannot_be_written_does_not_keep_the_queue_shut() -> TestResult {
    let dir = TempDir::new("lock-full");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let id = queue.append(Encoding::Protobuf, 3, &body(1, 300))?.id;
    drop(queue);
    fs::remove_file(dir.path().join("lock"))?;
    std::os::unix::fs::symlink("/dev/full", dir.path().join("lock"))?;

    let (mut queue, recovered) = match DurableQueue::open(config.clone()) {
        Ok(opened) => opened,
        Err(error) => panic!("the queue must open on a full disk: {error}"),
    };
    let ids: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(ids, [id]);
    // Still one queue at a time.
    assert!(matches!(
        DurableQueue::open(config.clone()),
        Err(DurableError::Locked { .. })
    ));
    assert!(queue.ack(id)?);
    Ok(())
}

/// A pipeline's queue claims its directory for its signal: a queue for
/// another signal is refused it, with an error naming the directory and
/// both signals, before anything in it is touched.
#[test]
fn a_directory_is_claimed_by_its_first_signal_and_refused_to_the_others() -> TestResult {
    let dir = TempDir::new("signal-claim");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = DurableQueue::open_for(config.clone(), Signal::Traces)?;
    let id = queue.append(Encoding::Protobuf, 3, b"a trace request")?.id;
    drop(queue);
    assert_eq!(fs::read_to_string(dir.path().join("signal"))?, "traces\n");
    let segment = segment_files(dir.path())[0].clone();
    // A torn tail the refused open must not cut either.
    fs::OpenOptions::new()
        .append(true)
        .open(&segment)?
        .write_all(b"OTLR")?;
    let before = fs::read(&segment)?;

    match DurableQueue::open_for(config.clone(), Signal::Logs) {
        Err(DurableError::WrongSignal {
            path,
            holds: Signal::Traces,
            wanted: Signal::Logs,
        }) => assert_eq!(path, dir.path()),
        other => panic!("expected the directory to be refused, got {other:?}"),
    }
    let error = DurableQueue::open_for(config.clone(), Signal::Metrics)
        .err()
        .ok_or("refused")?
        .to_string();
    assert!(error.contains(&dir.path().display().to_string()), "{error}");
    assert!(
        error.contains("holds traces requests, not metrics"),
        "{error}"
    );
    assert_eq!(fs::read(&segment)?, before, "untouched");

    let (_queue, recovered) = DurableQueue::open_for(config, Signal::Traces)?;
    let ids: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(ids, [id]);
    Ok(())
}

/// A segment file copied into a trace pipeline's directory from a log
/// pipeline's (a restored backup, files moved by hand) holds log requests:
/// replayed, they would go to the traces endpoint. Nor may its name cost the
/// directory's own records: read as one of this queue's segments, it cut the
/// id range of the segment before it, whose records past its name were then
/// taken for damage and removed. The directory's own records come back, each
/// with its own body, nothing is counted damaged, and the copied file is
/// kept, not deleted: it is another pipeline's data.
#[test]
fn a_segment_copied_from_another_signals_directory_is_not_replayed_as_this_ones() -> TestResult {
    let traces = TempDir::new("foreign-traces");
    let logs = TempDir::new("foreign-logs");
    let traces_config = small_config(traces.path(), FsyncPolicy::Never);
    let logs_config = small_config(logs.path(), FsyncPolicy::Never);
    // Two trace records a segment (ids 1-2, 3-4, 5-6, 7-8), three log
    // records a segment (ids 1-3, 4-6, 7-9): the log segment named 4 falls
    // inside the trace segment named 3.
    let (mut queue, _) = DurableQueue::open_for(traces_config.clone(), Signal::Traces)?;
    for n in 0..8 {
        let _ = queue.append(Encoding::Protobuf, 1, &body(n, 1500))?;
    }
    drop(queue);
    let (mut queue, _) = DurableQueue::open_for(logs_config, Signal::Logs)?;
    for n in 0..9 {
        let _ = queue.append(Encoding::Protobuf, 1, &body(1000 + n, 1000))?;
    }
    drop(queue);
    let copied = logs.path().join("00000000000000000004.seg");
    let foreign = fs::read(&copied)?;
    assert!(!traces.path().join("00000000000000000004.seg").exists());
    fs::copy(&copied, traces.path().join("00000000000000000004.seg"))?;

    let (mut queue, recovered) = DurableQueue::open_for(traces_config.clone(), Signal::Traces)?;
    assert_eq!(recovered.corrupt_records, 0, "{recovered:?}");
    let aside = traces.path().join("00000000000000000004.seg.logs");
    assert_eq!(recovered.foreign_segments, std::slice::from_ref(&aside));
    assert_eq!(queue.stats().foreign_segments, 1);
    let read = read_all(&mut queue, &recovered.records);
    let ids: Vec<u64> = read.iter().map(|(id, ..)| *id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<u64>>());
    for (id, _, bytes) in &read {
        assert!(
            *bytes == body(id - 1, 1500),
            "record {id} is not the trace record written"
        );
    }
    drop(queue);
    let kept = fs::read_dir(traces.path())?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .any(|path| fs::read(path).is_ok_and(|bytes| bytes == foreign));
    assert!(kept, "the copied segment is kept, not deleted");
    assert_eq!(fs::read(&aside)?, foreign);

    // Set aside for good: the next open neither reads nor counts it again.
    let (queue, recovered) = DurableQueue::open_for(traces_config, Signal::Traces)?;
    assert_eq!(recovered.records.len(), 8);
    assert!(recovered.foreign_segments.is_empty());
    assert_eq!(queue.stats().foreign_segments, 0);
    assert_eq!(fs::read(&aside)?, foreign);
    Ok(())
}

/// A copied segment whose first record is damaged says whose it is with the
/// next sound one: it is set aside all the same, its records neither
/// replayed nor counted as damage. The signal-blind `open` takes any record.
#[test]
fn a_foreign_segment_whose_first_record_is_damaged_is_set_aside_too() -> TestResult {
    let traces = TempDir::new("foreign-damaged-traces");
    let logs = TempDir::new("foreign-damaged-logs");
    let traces_config = small_config(traces.path(), FsyncPolicy::Never);
    let (mut queue, _) = DurableQueue::open_for(traces_config.clone(), Signal::Traces)?;
    let own = queue.append(Encoding::Protobuf, 1, &body(1, 100))?.id;
    drop(queue);
    let (mut queue, _) =
        DurableQueue::open_for(small_config(logs.path(), FsyncPolicy::Never), Signal::Logs)?;
    for n in 0..9 {
        let _ = queue.append(Encoding::Protobuf, 1, &body(1000 + n, 1000))?;
    }
    drop(queue);
    let mut foreign = fs::read(logs.path().join("00000000000000000007.seg"))?;
    foreign[12] ^= 0x01; // the first record's id: its header fails its checksum
    let copy = traces.path().join("00000000000000000007.seg");
    fs::write(&copy, &foreign)?;

    let (queue, recovered) = DurableQueue::open_for(traces_config.clone(), Signal::Traces)?;
    let ids: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(ids, [own]);
    assert_eq!(
        (recovered.corrupt_records, recovered.torn_tail_bytes),
        (0, 0),
        "{recovered:?}"
    );
    let aside = traces.path().join("00000000000000000007.seg.logs");
    assert_eq!(recovered.foreign_segments, std::slice::from_ref(&aside));
    assert_eq!(fs::read(&aside)?, foreign);
    drop(queue);

    // The signal-blind `open` is not a pipeline's: it takes what it finds.
    fs::rename(&aside, &copy)?;
    let (_queue, recovered) = open(&traces_config);
    assert!(recovered.foreign_segments.is_empty());
    assert_eq!(recovered.records.len(), 3, "{recovered:?}");
    Ok(())
}

/// Writes a record of each length in `lens` (bodies seeded from `seed`
/// on) into a queue on `config`, opened for `signal` (or for none: an
/// older build).
fn fill(config: &DurableConfig, signal: Option<Signal>, seed: u64, lens: &[usize]) -> TestResult {
    let (mut queue, _) = match signal {
        Some(signal) => DurableQueue::open_for(config.clone(), signal)?,
        None => DurableQueue::open(config.clone())?,
    };
    for (n, len) in lens.iter().enumerate() {
        let _ = queue.append(Encoding::Protobuf, 1, &body(seed + n as u64, *len))?;
    }
    Ok(())
}

/// The directory's own eight trace records (two a segment: 1-2, 3-4, 5-6,
/// 7-8) come back whole, each with its own body, and nothing is counted
/// damaged.
fn assert_own_trace_records_intact(queue: &mut DurableQueue, recovered: &Recovered) {
    assert_eq!(
        (recovered.corrupt_records, recovered.corrupt_spans),
        (0, 0),
        "{recovered:?}"
    );
    let read = read_all(queue, &recovered.records);
    let ids: Vec<u64> = read.iter().map(|(id, ..)| *id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<u64>>());
    for (id, _, bytes) in &read {
        assert!(
            *bytes == body(id - 1, 1500),
            "record {id} is not the trace record written"
        );
    }
}

/// A segment copied in from a directory written by an older build (or by
/// the signal-blind `open`) names no signal, so it cannot be told foreign
/// by its records. Its name (4) falls inside the ids of the directory's
/// segment 3 (records 3 and 4), and its records (4 to 6) overlap the
/// directory's own: it cut segment 3's id range, and record 4 was counted
/// damaged and removed. Found by review 133 of the foreign-segment fix.
/// Overlapping the directory's own ids, it is set aside (`N.seg.overlap`)
/// and kept, never replayed, and costs the directory none of its records.
#[test]
fn a_copied_segment_naming_no_signal_whose_ids_overlap_the_directorys_is_set_aside() -> TestResult {
    let traces = TempDir::new("overlap-traces");
    let older = TempDir::new("overlap-older");
    let traces_config = small_config(traces.path(), FsyncPolicy::Never);
    fill(&traces_config, Some(Signal::Traces), 0, &[1500; 8])?;
    // Three records a segment: 1-3, 4-6, 7-9, naming no signal.
    fill(
        &small_config(older.path(), FsyncPolicy::Never),
        None,
        1000,
        &[1000; 9],
    )?;
    let foreign = fs::read(older.path().join("00000000000000000004.seg"))?;
    fs::write(traces.path().join("00000000000000000004.seg"), &foreign)?;

    let (mut queue, recovered) = DurableQueue::open_for(traces_config.clone(), Signal::Traces)?;
    assert_own_trace_records_intact(&mut queue, &recovered);
    let aside = traces.path().join("00000000000000000004.seg.overlap");
    assert!(fs::read(&aside)? == foreign, "set aside, kept whole");
    assert!(!traces.path().join("00000000000000000004.seg").exists());
    assert_eq!(recovered.overlapping_segments, std::slice::from_ref(&aside));
    assert!(recovered.foreign_segments.is_empty());
    assert_eq!(queue.stats().overlapping_segments, 1);
    drop(queue);

    // Set aside for good: the next open neither reads nor counts it again.
    let (mut queue, recovered) = DurableQueue::open_for(traces_config, Signal::Traces)?;
    assert_own_trace_records_intact(&mut queue, &recovered);
    assert!(recovered.overlapping_segments.is_empty());
    assert!(fs::read(&aside)? == foreign, "still set aside, whole");
    Ok(())
}

/// The same from another directory of the same signal, whose segment (2,
/// records 2 to 5) overlaps three of the directory's own: segment 1's last
/// record and segments 3 and 5. It is the one set aside, not them.
#[test]
fn a_copied_segment_of_the_same_signal_overlapping_several_of_the_directorys_is_set_aside()
-> TestResult {
    let traces = TempDir::new("overlap-same-traces");
    let other = TempDir::new("overlap-same-other");
    let traces_config = small_config(traces.path(), FsyncPolicy::Never);
    fill(&traces_config, Some(Signal::Traces), 0, &[1500; 8])?;
    // Segment 1: record 1; segment 2: records 2 to 5.
    fill(
        &small_config(other.path(), FsyncPolicy::Never),
        Some(Signal::Traces),
        2000,
        &[4000, 900, 900, 900, 900],
    )?;
    let copy = fs::read(other.path().join("00000000000000000002.seg"))?;
    fs::write(traces.path().join("00000000000000000002.seg"), &copy)?;

    let (mut queue, recovered) = DurableQueue::open_for(traces_config, Signal::Traces)?;
    assert_own_trace_records_intact(&mut queue, &recovered);
    let aside = traces.path().join("00000000000000000002.seg.overlap");
    assert!(fs::read(&aside)? == copy, "set aside, kept whole");
    assert_eq!(recovered.overlapping_segments, std::slice::from_ref(&aside));
    Ok(())
}

/// The same copy arriving twice (a backup restored again): setting the
/// second aside renamed it over the first (`rename` replaces its target),
/// and the first copy, another pipeline's data the queue promises never
/// to delete, was gone. Found by review 133. Each gets a free name.
#[test]
fn a_segment_set_aside_never_replaces_one_set_aside_before() -> TestResult {
    let traces = TempDir::new("aside-twice-traces");
    let logs = TempDir::new("aside-twice-logs");
    let traces_config = small_config(traces.path(), FsyncPolicy::Never);
    fill(&traces_config, Some(Signal::Traces), 0, &[1500; 8])?;
    let logs_config = small_config(logs.path(), FsyncPolicy::Never);
    fill(&logs_config, Some(Signal::Logs), 1000, &[1000; 9])?;
    let copied = logs.path().join("00000000000000000004.seg");
    let name = traces.path().join("00000000000000000004.seg");
    let first = fs::read(&copied)?;
    fs::write(&name, &first)?;
    let (queue, recovered) = DurableQueue::open_for(traces_config.clone(), Signal::Traces)?;
    let aside = traces.path().join("00000000000000000004.seg.logs");
    assert_eq!(recovered.foreign_segments, std::slice::from_ref(&aside));
    drop(queue);

    // Another copy under the same name, its acknowledgement file with it.
    let mut second = first.clone();
    second.extend_from_slice(b"and more");
    fs::write(&name, &second)?;
    fs::write(traces.path().join("00000000000000000004.ack"), b"acks")?;
    let (mut queue, recovered) = DurableQueue::open_for(traces_config, Signal::Traces)?;
    assert_own_trace_records_intact(&mut queue, &recovered);
    assert!(fs::read(&aside)? == first, "the first copy is kept");
    assert_eq!(recovered.foreign_segments.len(), 1, "{recovered:?}");
    let second_aside = &recovered.foreign_segments[0];
    assert_ne!(second_aside, &aside);
    assert!(fs::read(second_aside)? == second, "the second copy is kept");
    let mut acks_aside = second_aside.clone().into_os_string();
    acks_aside = acks_aside
        .to_string_lossy()
        .replace(".seg.", ".ack.")
        .into();
    assert_eq!(
        fs::read(&acks_aside)?,
        b"acks",
        "its acknowledgements go with it"
    );
    Ok(())
}

/// A directory written before directories were claimed (by an older
/// version, or by the signal-blind `open`) has no `signal` file: the first
/// signal to open it adopts it, and the others are refused from then on.
#[test]
fn a_directory_without_a_signal_file_is_adopted_by_the_first_signal_to_open_it() -> TestResult {
    let dir = TempDir::new("signal-adopt");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let id = queue.append(Encoding::Protobuf, 2, b"a log request")?.id;
    drop(queue);
    assert!(!dir.path().join("signal").exists(), "open claims nothing");

    let (queue, recovered) = DurableQueue::open_for(config.clone(), Signal::Logs)?;
    assert_eq!(recovered.records.len(), 1);
    assert_eq!(recovered.records[0].id, id);
    drop(queue);
    assert_eq!(fs::read_to_string(dir.path().join("signal"))?, "logs\n");
    assert!(matches!(
        DurableQueue::open_for(config.clone(), Signal::Traces),
        Err(DurableError::WrongSignal { .. })
    ));
    // The signal-blind `open` still opens it.
    let (_queue, recovered) = open(&config);
    assert_eq!(recovered.records.len(), 1);
    Ok(())
}

/// A `signal` file left empty (a crash while it was first written) counts as
/// missing; one naming no signal this version knows is an error, not a guess.
#[test]
fn an_empty_signal_file_is_missing_and_an_unknown_one_an_error() -> TestResult {
    let dir = TempDir::new("signal-unknown");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    fs::create_dir_all(dir.path())?;
    fs::write(dir.path().join("signal"), b"")?;
    drop(DurableQueue::open_for(config.clone(), Signal::Logs)?);
    assert_eq!(fs::read_to_string(dir.path().join("signal"))?, "logs\n");

    fs::write(dir.path().join("signal"), b"profiles\n")?;
    match DurableQueue::open_for(config, Signal::Logs) {
        Err(error @ DurableError::Io { .. }) => {
            let message = error.to_string();
            assert!(message.contains("signal file"), "{message}");
            assert!(message.contains("profiles"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    Ok(())
}

/// A `signal` file holding far more than a signal's name (garbage, or a
/// device that never ends) is refused without being read whole: the error
/// quotes its start only. It was read whole (here 8 MiB into one message).
#[test]
fn a_signal_file_full_of_garbage_is_refused_without_being_read_whole() -> TestResult {
    let dir = TempDir::new("signal-garbage");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    fs::create_dir_all(dir.path())?;
    fs::write(dir.path().join("signal"), "traces ".repeat(1024 * 1024 + 1))?;
    match DurableQueue::open_for(config, Signal::Traces) {
        Err(error @ DurableError::Io { .. }) => {
            let message = error.to_string();
            assert!(message.len() < 400, "{} bytes of error", message.len());
            assert!(message.contains("signal file"), "{message}");
            assert!(message.contains("traces traces"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn a_directory_that_cannot_be_used_is_a_clear_error() -> TestResult {
    let dir = TempDir::new("not-a-directory");
    fs::create_dir_all(dir.path())?;
    let file = dir.path().join("plain-file");
    fs::write(&file, b"not a directory")?;
    match DurableQueue::open(small_config(&file, FsyncPolicy::Never)) {
        Err(error @ DurableError::Io { .. }) => {
            let text = error.to_string();
            assert!(text.contains("plain-file"), "{text}");
            assert!(text.contains("create the directory"), "{text}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    match DurableQueue::open(DurableConfig {
        segment_bytes: 10,
        ..small_config(dir.path(), FsyncPolicy::Never)
    }) {
        Err(DurableError::InvalidConfig { key, .. }) => assert_eq!(key, "segment_bytes"),
        other => panic!("expected an invalid config, got {other:?}"),
    }
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_read_only_directory_is_a_clear_error() -> TestResult {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new("read-only");
    fs::create_dir_all(dir.path())?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555))?;
    let probe = dir.path().join("probe");
    let read_only = if fs::write(&probe, b"").is_ok() {
        // Root ignores permissions (CI runs as root): then a directory of
        // sysfs, where nobody may create a file, stands in for it.
        fs::remove_file(&probe)?;
        let sysfs = std::path::Path::new("/sys/kernel");
        if !sysfs.is_dir() || fs::write(sysfs.join("otlp-probe"), b"").is_ok() {
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
            return Ok(());
        }
        sysfs.to_path_buf()
    } else {
        dir.path().to_path_buf()
    };
    let result = DurableQueue::open(small_config(&read_only, FsyncPolicy::Never));
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
    match result {
        Err(error @ DurableError::Io { .. }) => {
            assert!(error.to_string().contains("lock file"), "{error}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    Ok(())
}

/// A directory deleted while its queue is open: the open segment file,
/// unlinked, still took writes and syncs, so appends reported records as
/// stored (up to a segment's worth) that could never come back after a
/// restart; only a new segment's creation failed. The first sync after the
/// deletion now fails, naming the segment, for the interval policy too.
#[cfg(unix)]
#[test]
fn appends_after_the_directory_is_deleted_are_errors_not_stored() -> TestResult {
    for fsync in [
        FsyncPolicy::EveryBatch,
        FsyncPolicy::Interval(Duration::from_secs(3600)),
    ] {
        let dir = TempDir::new("deleted-while-open");
        let config = small_config(dir.path(), fsync);
        let (mut queue, _) = open(&config);
        let _stored = queue.append(Encoding::Protobuf, 1, &body(1, 1000))?;
        queue.sync(true)?;
        fs::remove_dir_all(dir.path())?;
        let appended = queue
            .append(Encoding::Protobuf, 1, &body(2, 1000))
            .and_then(|_| queue.sync(true));
        match appended {
            Err(error @ DurableError::Io { .. }) => {
                assert!(
                    error.to_string().contains("removed from its directory"),
                    "{fsync:?}: {error}"
                );
            }
            other => panic!("{fsync:?}: expected an I/O error, got {other:?}"),
        }
    }
    Ok(())
}

/// A full disk: an acknowledgement's entry cannot be written (its file is
/// `/dev/full` here). The record was delivered all the same, so it is settled:
/// once every record of a segment is, the segment goes and frees its space
/// (otherwise a full disk would never empty: every acknowledgement fails).
#[cfg(target_os = "linux")]
#[test]
fn acknowledgements_that_cannot_be_written_still_let_a_delivered_segment_go() -> TestResult {
    let dir = TempDir::new("ack-full");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let mut ids = Vec::new();
    for seq in 0..8 {
        ids.push(queue.append(Encoding::Protobuf, 1, &body(seq, 1500))?.id);
    }
    let first_segment = segment_files(dir.path())[0].clone();
    std::os::unix::fs::symlink("/dev/full", first_segment.with_extension("ack"))?;
    let settled_before = queue.stats().pending_records;
    for id in &ids[..2] {
        match queue.ack(*id) {
            Err(DurableError::Io { .. }) => {}
            other => panic!("expected the write to fail, got {other:?}"),
        }
    }
    assert_eq!(queue.stats().pending_records, settled_before - 2);
    assert!(!queue.ack(ids[0])?, "no longer pending");
    assert!(
        !first_segment.exists(),
        "its records were all delivered: the segment is deleted"
    );
    drop(queue);
    let (_queue, recovered) = open(&config);
    let replayed: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(replayed, ids[2..]);
    Ok(())
}

/// Acknowledgements spread over many segments (one record acknowledged in
/// each of 64, the other still pending) keep only a few acknowledgement files
/// open: a handle per segment runs out of file descriptors with small
/// segments under a large cap (65,536 of 4 KiB under the default 256 MiB).
/// Entries written through handles closed since are all synced and read back.
#[cfg(target_os = "linux")]
#[test]
fn acknowledgements_over_many_segments_keep_few_files_open() -> TestResult {
    /// The acknowledgement files of `directory` this process has open.
    fn open_ack_files(directory: &std::path::Path) -> usize {
        fs::read_dir("/proc/self/fd")
            .expect("list open files")
            .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| {
                target.starts_with(directory) && target.extension().is_some_and(|e| e == "ack")
            })
            .count()
    }

    let dir = TempDir::new("ack-handles");
    let config = small_config(dir.path(), FsyncPolicy::Interval(Duration::from_secs(3600)));
    let (mut queue, _) = open(&config);
    // Two 1532-byte records per 4096-byte segment.
    let ids: Vec<RecordId> = (0..128)
        .map(|n| {
            queue
                .append(Encoding::Protobuf, 1, &body(n, 1500))
                .map(|a| a.id)
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(segment_files(dir.path()).len(), 64);
    for id in ids.iter().step_by(2) {
        assert!(queue.ack(*id)?);
    }
    let open_files = open_ack_files(&fs::canonicalize(dir.path())?);
    queue.sync(true)?;
    assert_eq!(
        queue.next_sync_at(),
        None,
        "every acknowledgement is synced"
    );
    drop(queue);
    assert!(open_files <= 8, "{open_files} acknowledgement files open");

    let (_queue, recovered) = open(&config);
    let replayed: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    let pending: Vec<RecordId> = ids.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(replayed, pending);
    Ok(())
}

/// A write of an acknowledgement that failed part way, and whose partial
/// entry could not be cut off either, leaves the file at a length that is not
/// a whole number of entries. The next entry written must not be shifted by
/// it (every later entry would then fail its check and its record be sent again).
#[test]
fn a_partial_acknowledgement_entry_does_not_shift_the_next_ones() -> TestResult {
    let dir = TempDir::new("ack-partial");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let first = queue.append(Encoding::Protobuf, 1, &body(1, 300))?.id;
    let second = queue.append(Encoding::Protobuf, 1, &body(2, 300))?.id;
    let segment = segment_files(dir.path())[0].clone();
    fs::write(segment.with_extension("ack"), b"OTLA\x01")?;
    assert!(queue.ack(first)?);
    drop(queue);
    let (_queue, recovered) = open(&config);
    let replayed: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(replayed, [second]);
    Ok(())
}

#[test]
fn acknowledging_or_reading_what_is_not_pending_is_harmless() -> TestResult {
    let dir = TempDir::new("unknown");
    let (mut queue, _) = open(&small_config(dir.path(), FsyncPolicy::Never));
    let id = queue.append(Encoding::Protobuf, 1, b"body")?.id;
    assert!(!queue.ack(RecordId::new(id.get() + 100))?);
    assert!(!queue.ack(RecordId::new(0))?);
    assert!(queue.ack(id)?);
    let mut body = Vec::new();
    assert!(matches!(
        queue.read(id, &mut body),
        Err(DurableError::UnknownRecord(unknown)) if unknown == id
    ));
    Ok(())
}

/// Damage after opening is caught when the record is read back, and
/// counted then; the next open finds the same damage on disk (its segment
/// is kept for the record still pending) and must not count it a second
/// time. It counted it again.
#[test]
fn damage_counted_when_read_is_not_counted_again_by_the_next_open() -> TestResult {
    let dir = TempDir::new("read-damage-reopen");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let first = queue.append(Encoding::Protobuf, 4, &body(1, 200))?.id;
    let second = queue.append(Encoding::Protobuf, 6, &body(2, 200))?.id;
    let segment = &segment_files(dir.path())[0];
    let mut bytes = fs::read(segment)?;
    bytes[32 + 100] ^= 0x08; // in the first body
    fs::write(segment, &bytes)?;

    let mut body_read = Vec::new();
    match queue.read(first, &mut body_read) {
        Err(DurableError::Corrupt { id, span_count, .. }) => {
            assert_eq!((id, span_count), (first, 4))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(queue.read(second, &mut body_read)?.span_count, 6);
    assert_eq!(body_read, body(2, 200));
    let stats = queue.stats();
    assert_eq!(
        (
            stats.corrupt_records,
            stats.corrupt_spans,
            stats.pending_records
        ),
        (1, 4, 1)
    );
    queue.sync(true)?;
    drop(queue);

    // The second record is still pending: its segment is kept and scanned.
    let (mut queue, recovered) = open(&config);
    assert_eq!(
        (
            recovered.corrupt_records,
            recovered.corrupt_bytes,
            recovered.corrupt_spans
        ),
        (0, 0, 0),
        "{recovered:?}"
    );
    let ids: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(ids, [second]);
    assert_eq!(queue.read(second, &mut body_read)?.span_count, 6);
    assert_eq!(body_read, body(2, 200));
    Ok(())
}

#[test]
fn a_read_that_fails_for_io_leaves_the_record_pending_and_it_reads_back_later() -> TestResult {
    let dir = TempDir::new("read-io");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let id = queue.append(Encoding::Protobuf, 4, &body(1, 200))?.id;
    let segment = &segment_files(dir.path())[0];
    let hidden = dir.path().join("hidden");
    fs::rename(segment, &hidden)?;

    let mut body_read = Vec::new();
    match queue.read(id, &mut body_read) {
        Err(DurableError::Io { path, .. }) => assert_eq!(&path, segment),
        other => panic!("expected Io, got {other:?}"),
    }
    let stats = queue.stats();
    assert_eq!((stats.pending_records, stats.corrupt_records), (1, 0));

    fs::rename(&hidden, segment)?;
    assert_eq!(queue.read(id, &mut body_read)?.span_count, 4);
    assert_eq!(body_read, body(1, 200));
    Ok(())
}

#[test]
fn every_batch_syncs_before_append_and_ack_return() -> TestResult {
    let dir = TempDir::new("fsync-every");
    let (mut queue, _) = open(&small_config(dir.path(), FsyncPolicy::EveryBatch));
    let before = queue.stats().syncs;
    let id = queue.append(Encoding::Protobuf, 1, &body(1, 500))?.id;
    let after_append = queue.stats().syncs;
    // The record, and the new segment's directory entry.
    assert!(after_append >= before + 2, "{before} -> {after_append}");
    let id2 = queue.append(Encoding::Protobuf, 1, &body(2, 500))?.id;
    assert_eq!(queue.stats().syncs, after_append + 1);
    queue.ack(id)?;
    let after_ack = queue.stats().syncs;
    assert!(after_ack > after_append + 1);
    queue.ack(id2)?;
    assert_eq!(queue.stats().syncs, after_ack + 1);
    assert_eq!(queue.next_sync_at(), None, "nothing is left waiting");
    queue.sync(false)?;
    queue.sync(true)?;
    assert_eq!(queue.stats().syncs, after_ack + 1, "nothing to force");
    Ok(())
}

#[test]
fn interval_syncs_once_the_interval_has_passed() -> TestResult {
    let dir = TempDir::new("fsync-interval");
    let every = Duration::from_millis(200);
    let (mut queue, _) = open(&small_config(dir.path(), FsyncPolicy::Interval(every)));
    let opened = Instant::now();
    let id = queue.append(Encoding::Protobuf, 1, &body(1, 500))?.id;
    queue.ack(id)?;
    let due = queue.next_sync_at().ok_or("a sync is due")?;
    assert!(due <= opened + every);
    queue.sync(false)?;
    if Instant::now() < due {
        assert_eq!(queue.stats().syncs, 0, "not before the interval");
    }
    std::thread::sleep(due.saturating_duration_since(Instant::now()));
    queue.sync(false)?;
    // The segment, its acknowledgement file, and the directory (two new files).
    assert_eq!(queue.stats().syncs, 3);
    assert_eq!(queue.next_sync_at(), None);
    queue.sync(false)?;
    assert_eq!(queue.stats().syncs, 3);
    Ok(())
}

#[test]
fn a_failed_sync_is_tried_again_after_the_interval_not_at_once() -> TestResult {
    let dir = TempDir::new("fsync-fails");
    let every = Duration::from_millis(200);
    let (mut queue, _) = open(&small_config(dir.path(), FsyncPolicy::Interval(every)));
    let _ = queue.append(Encoding::Protobuf, 1, &body(1, 500))?;
    // The directory goes: fsyncing it (a new segment file is in it) fails.
    std::fs::remove_dir_all(dir.path())?;
    std::thread::sleep(every + Duration::from_millis(50));
    assert!(queue.sync(false).is_err(), "the directory is gone");
    let failed_at = Instant::now();
    // Due at once again, the export loop that asks would spin on it.
    let due = queue.next_sync_at().ok_or("still dirty")?;
    assert!(
        due > failed_at,
        "next sync due {:?} before now",
        failed_at - due
    );
    Ok(())
}

/// One file whose fsync keeps failing (a segment left behind by a write
/// that failed on a full disk and could not be cut; `/dev/full` here) must
/// not keep every other file from being made durable: the records appended
/// after it, under `Interval`, would never reach stable storage. `sync`
/// stopped at the first failure, before the newer segment.
#[cfg(target_os = "linux")]
#[test]
fn a_file_whose_fsync_fails_does_not_keep_the_others_from_being_synced() -> TestResult {
    let dir = TempDir::new("fsync-one-fails");
    let config = small_config(dir.path(), FsyncPolicy::Interval(Duration::from_secs(3600)));
    let (mut queue, _) = open(&config);
    let first = queue.append(Encoding::Protobuf, 1, &body(1, 300))?.id;
    drop(queue);
    let next = first.get() + 1;
    std::os::unix::fs::symlink("/dev/full", dir.path().join(format!("{next:020}.seg")))?;

    let (mut queue, _) = open(&config);
    assert!(queue.append(Encoding::Protobuf, 1, &body(2, 300)).is_err());
    let stored = queue.append(Encoding::Protobuf, 1, &body(3, 300))?.id;
    let before = queue.stats().syncs;
    assert!(queue.sync(true).is_err(), "/dev/full cannot be fsynced");
    let synced = queue.stats().syncs - before;
    // The newer segment's data and the directory that holds it.
    assert!(
        synced >= 2,
        "{synced} fsyncs: record {stored} is not durable"
    );
    Ok(())
}

/// A record written whole whose fsync then failed, and whose cut failed
/// too (the segment is `/dev/null` here: its writes succeed, its fsync and
/// truncate fail). `append` says the record was not stored, so the caller
/// exports it from memory; the sound record a real disk keeps (put there by
/// hand below) must not be sent again by the next start as well.
#[cfg(target_os = "linux")]
#[test]
fn a_record_written_whole_but_neither_synced_nor_cut_is_not_replayed() -> TestResult {
    let dir = TempDir::new("unsynced-uncut");
    let config = small_config(dir.path(), FsyncPolicy::EveryBatch);
    let (mut queue, _) = open(&config);
    let first = queue.append(Encoding::Protobuf, 1, &body(1, 300))?.id;
    drop(queue);
    let next = first.get() + 1;
    let segment = dir.path().join(format!("{next:020}.seg"));
    std::os::unix::fs::symlink("/dev/null", &segment)?;

    let (mut queue, _) = open(&config);
    match queue.append(Encoding::Protobuf, 2, &body(2, 300)) {
        Err(DurableError::Io { operation, .. }) => assert_eq!(operation, "fsync"),
        other => panic!("expected the fsync to fail, got {other:?}"),
    }
    drop(queue);
    // The same record, written by a queue on a disk that works.
    let twin = TempDir::new("unsynced-uncut-twin");
    let (mut twin_queue, _) = open(&small_config(twin.path(), FsyncPolicy::Never));
    assert_eq!(
        twin_queue.append(Encoding::Protobuf, 1, &body(1, 300))?.id,
        first
    );
    let _ = twin_queue.append(Encoding::Protobuf, 2, &body(2, 300))?;
    drop(twin_queue);
    let twin_bytes = fs::read(&segment_files(twin.path())[0])?;
    fs::remove_file(&segment)?;
    fs::write(&segment, &twin_bytes[32 + 300..])?;

    let (_queue, recovered) = open(&config);
    let replayed: Vec<RecordId> = recovered.records.iter().map(|record| record.id).collect();
    assert_eq!(replayed, [first], "record {next} was exported from memory");
    Ok(())
}

#[test]
fn an_interval_too_long_for_an_instant_never_comes_due() -> TestResult {
    let dir = TempDir::new("fsync-forever");
    let (mut queue, _) = open(&small_config(
        dir.path(),
        FsyncPolicy::Interval(Duration::MAX),
    ));
    let _ = queue.append(Encoding::Protobuf, 1, &body(1, 500))?;
    assert_eq!(queue.next_sync_at(), None);
    queue.sync(false)?;
    assert_eq!(queue.stats().syncs, 0);
    queue.sync(true)?;
    assert!(queue.stats().syncs > 0);
    Ok(())
}

#[test]
fn never_syncs_only_when_forced() -> TestResult {
    let dir = TempDir::new("fsync-never");
    let (mut queue, _) = open(&small_config(dir.path(), FsyncPolicy::Never));
    for n in 0..10 {
        let id = queue.append(Encoding::Protobuf, 1, &body(n, 1000))?.id;
        if n % 2 == 0 {
            queue.ack(id)?;
        }
    }
    queue.sync(false)?;
    assert_eq!(queue.next_sync_at(), None);
    assert_eq!(queue.stats().syncs, 0);
    queue.sync(true)?;
    let forced = queue.stats().syncs;
    // Closed segments, the open one, acknowledgement files, the directory.
    assert!(forced >= 4, "{forced}");
    queue.sync(true)?;
    assert_eq!(queue.stats().syncs, forced, "nothing left to sync");
    Ok(())
}

#[test]
fn orphaned_acknowledgement_files_are_removed_and_other_files_left_alone() -> TestResult {
    let dir = TempDir::new("orphans");
    let config = small_config(dir.path(), FsyncPolicy::Never);
    drop(open(&config));
    let orphan = dir.path().join(format!("{:020}.ack", 77));
    let stranger = dir.path().join("notes.txt");
    fs::write(&orphan, b"")?;
    fs::write(&stranger, b"keep me")?;
    drop(open(&config));
    assert!(!orphan.exists());
    assert_eq!(fs::read(&stranger)?, b"keep me");
    Ok(())
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Step {
    Append {
        len: usize,
        spans: u32,
    },
    /// Acknowledge the n-th record appended so far (modulo), pending or not.
    Ack(usize),
    Sync(bool),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..3000usize, 1..50u32).prop_map(|(len, spans)| Step::Append { len, spans }),
        4 => any::<usize>().prop_map(Step::Ack),
        1 => any::<bool>().prop_map(Step::Sync),
        1 => Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of appends, acknowledgements, syncs and restarts leaves
    /// exactly the records a simple model says: appended, not acknowledged,
    /// not reported evicted. Bodies and span counts come back intact.
    #[test]
    fn the_queue_agrees_with_a_model_through_any_sequence(steps in proptest::collection::vec(step(), 1..60)) {
        let dir = TempDir::new("model");
        let config = DurableConfig {
            max_bytes: 16 * 1024,
            ..small_config(dir.path(), FsyncPolicy::Never)
        };
        let fail = |error: DurableError| TestCaseError::fail(error.to_string());
        let (mut queue, _) = open(&config);
        // Pending records: id -> (spans, body seed, body length).
        let mut model: BTreeMap<RecordId, (u32, u64, usize)> = BTreeMap::new();
        let mut appended: Vec<RecordId> = Vec::new();
        for (seed, step) in steps.into_iter().enumerate() {
            match step {
                Step::Append { len, spans } => {
                    let done = queue.append(Encoding::Json, spans, &body(seed as u64, len)).map_err(fail)?;
                    prop_assert!(appended.last() < Some(&done.id));
                    appended.push(done.id);
                    let gone: Vec<RecordId> = done
                        .evicted
                        .through
                        .map(|through| model.range(..=through).map(|(id, _)| *id).collect())
                        .unwrap_or_default();
                    let gone_spans: u64 = gone.iter().map(|id| u64::from(model[id].0)).sum();
                    prop_assert_eq!(done.evicted.records, gone.len() as u64);
                    prop_assert_eq!(done.evicted.spans, gone_spans);
                    for id in gone {
                        model.remove(&id);
                    }
                    model.insert(done.id, (spans, seed as u64, len));
                    prop_assert!(queue.stats().bytes <= config.max_bytes);
                }
                Step::Ack(n) if !appended.is_empty() => {
                    let id = appended[n % appended.len()];
                    prop_assert_eq!(queue.ack(id).map_err(fail)?, model.remove(&id).is_some());
                }
                Step::Ack(_) => {}
                Step::Sync(force) => queue.sync(force).map_err(fail)?,
                Step::Reopen => {
                    drop(queue);
                    let (reopened, recovered) = DurableQueue::open(config.clone()).map_err(fail)?;
                    queue = reopened;
                    prop_assert_eq!(recovered.corrupt_records + recovered.torn_tail_bytes, 0);
                    let ids: Vec<RecordId> = recovered.records.iter().map(|r| r.id).collect();
                    prop_assert_eq!(ids, model.keys().copied().collect::<Vec<_>>());
                }
            }
            let pending: Vec<RecordId> = queue.pending().map(|record| record.id).collect();
            prop_assert_eq!(&pending, &model.keys().copied().collect::<Vec<_>>());
            let stats = queue.stats();
            prop_assert_eq!(stats.pending_records, model.len() as u64);
            prop_assert_eq!(stats.pending_spans, model.values().map(|v| u64::from(v.0)).sum::<u64>());
        }
        let mut buffer = Vec::new();
        for (id, (spans, seed, len)) in &model {
            let record = queue.read(*id, &mut buffer).map_err(fail)?;
            prop_assert_eq!(record.span_count, *spans);
            prop_assert_eq!(record.encoding, Encoding::Json);
            prop_assert_eq!(&buffer, &body(*seed, *len));
        }
    }
}

/// Rough append throughput: `cargo test --release -p otlp-sdk --test durable_queue -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn append_throughput() -> TestResult {
    let payload = body(7, 100 * 1024);
    for (fsync, count) in [
        (FsyncPolicy::Never, 2000u64),
        (FsyncPolicy::Interval(Duration::from_secs(1)), 2000),
        (FsyncPolicy::EveryBatch, 200),
    ] {
        let dir = TempDir::new("throughput");
        let config = DurableConfig {
            fsync,
            max_bytes: 1024 * 1024 * 1024,
            ..DurableConfig::new(dir.path())
        };
        let (mut queue, _) = open(&config);
        let started = Instant::now();
        for _ in 0..count {
            let id = queue.append(Encoding::Protobuf, 100, &payload)?.id;
            queue.ack(id)?;
            queue.sync(false)?;
        }
        queue.sync(true)?;
        let elapsed = started.elapsed();
        let megabytes = (count * payload.len() as u64) as f64 / 1e6;
        println!(
            "{fsync:?}: {count} appends+acks of 100 KiB in {elapsed:.2?}: {:.0} MB/s, {:.0} µs per append, {} fsyncs",
            megabytes / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e6 / count as f64,
            queue.stats().syncs,
        );
    }
    Ok(())
}
