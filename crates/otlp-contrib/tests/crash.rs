//! A crash with the durable queue on: `otlp-loadgen` runs against a backend
//! that refuses everything, so its batches pile up on disk; it is killed with
//! SIGKILL mid-run; restarted on the same directory once the backend is back,
//! it delivers every span the first run had written to disk. The runs at
//! default settings and with `FsyncPolicy::EveryBatch` check span by span
//! (`otlp-loadgen --span-ids`) that what the documentation promises to
//! survive a kill arrives. The log pipeline's durable queue
//! (`OTLP__LOGS__DURABLE__DIRECTORY`, `otlp-loadgen --signal logs`) is put
//! through the same: every log record on disk at the kill, decoded from the
//! stored requests with `opentelemetry-proto`, arrives once.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Store};
use otlp_core::{SpanId, TraceId};
use otlp_sdk::durable::{DurableConfig, DurableQueue, FsyncPolicy};
use prost::Message;

/// `otlp-loadgen` with a clean environment and the durable queue in `dir`:
/// exports give up fast, so refused batches park on disk quickly.
fn loadgen(dir: &Path, endpoint: &str) -> Command {
    let mut command = loadgen_with_defaults(dir, endpoint);
    command
        .env("OTLP__DURABLE__FSYNC", "never")
        .env("OTLP__BATCH__EXPORT_TIMEOUT", "200ms")
        .env("OTLP__BATCH__SCHEDULED_DELAY", "20ms")
        .env("OTLP__RETRY__INITIAL_BACKOFF", "10ms")
        .env("OTLP__RETRY__MAX_BACKOFF", "50ms")
        .arg("--quiet");
    command
}

/// `otlp-loadgen` with a clean environment, the durable queue in `dir` and
/// every other setting at its default, over HTTP/protobuf.
fn loadgen_with_defaults(dir: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otlp-loadgen"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("OTEL_") || name.starts_with("OTLP__") || name == "RUN_ENV" {
            command.env_remove(name.as_ref());
        }
    }
    command
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .env("OTLP__DURABLE__DIRECTORY", dir)
        .args(["--endpoint", endpoint, "--protocol", "http/protobuf"]);
    command
}

fn segment_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "seg"))
                .filter_map(|entry| entry.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A fresh directory named after `name`, and a receiver that refuses
/// everything (retryably) until told otherwise, with its HTTP endpoint.
fn collector_down(name: &str, store: Store) -> (PathBuf, Receiver, String) {
    let dir = std::env::temp_dir().join(format!(
        "{name}-{}-{}",
        std::process::id(),
        TraceId::random()
    ));
    let receiver = Receiver::start(ReceiverConfig {
        store,
        ..ReceiverConfig::default()
    })
    .expect("receiver");
    receiver.set_fallback_fault(Some(Fault::Unavailable));
    let endpoint = receiver.http_endpoint().expect("http");
    (dir, receiver, endpoint)
}

/// Spans on disk not yet delivered, as a new start will find them.
fn spans_on_disk(dir: &Path) -> u64 {
    let config = DurableConfig {
        fsync: FsyncPolicy::Never,
        ..DurableConfig::new(dir)
    };
    let (_queue, recovered) =
        DurableQueue::open(config).expect("the directory opens after the crash");
    recovered.span_count()
}

/// The complete lines of an `otlp-loadgen --span-ids` file so far: one
/// "TRACE_ID SPAN_ID" per span handed to the pipeline, in the order they
/// were (one worker).
fn sent_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_owned).collect()
}

/// The accepted spans' ids, as `sent_ids` writes them.
fn received_ids(receiver: &Receiver) -> HashSet<String> {
    receiver
        .accepted_spans()
        .iter()
        .map(|span| {
            format!(
                "{} {}",
                TraceId::from_bytes(span.trace_id.as_slice().try_into().expect("16 bytes")),
                SpanId::from_bytes(span.span_id.as_slice().try_into().expect("8 bytes"))
            )
        })
        .collect()
}

/// Brings the backend back and runs `otlp-loadgen` once more on `dir` (one
/// new span, default settings): it must succeed, and the receiver must then
/// have `expected` spans.
fn restart_with_the_backend_up(dir: &Path, receiver: &Receiver, endpoint: &str, expected: u64) {
    receiver.set_fallback_fault(None);
    let output = loadgen_with_defaults(dir, endpoint)
        .args(["--spans", "1", "--quiet"])
        .output()
        .expect("run otlp-loadgen again");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(receiver.wait_for_spans(expected, Duration::from_secs(60)));
}

/// Asserts that every id in `sent` was received, naming how many were not.
fn assert_all_arrived(sent: &[String], received: &HashSet<String>, what: &str) {
    let missing: Vec<&String> = sent.iter().filter(|id| !received.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of the {} spans {what} never arrived (first: {:?})",
        missing.len(),
        sent.len(),
        missing.first()
    );
}

#[test]
fn spans_on_disk_at_a_sigkill_reach_the_backend_after_a_restart() {
    let (dir, receiver, endpoint) = collector_down("otlp-crash", Store::CountOnly);

    // First run: far more spans than it can produce before the kill.
    let mut first = loadgen(&dir, &endpoint)
        .args(["--spans", "10000000", "--rate", "50000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start otlp-loadgen");
    let deadline = Instant::now() + Duration::from_secs(30);
    // 1 MiB: well over a thousand spans, whatever the sizes of the batches
    // written so far. A span of loadgen's default shape (eight HTTP server
    // attributes, a user agent among them) takes several hundred bytes on
    // disk: at 256 KiB, and once under a loaded CI at 512 KiB (852 spans
    // recovered), a run could be killed with fewer than a thousand there.
    while segment_bytes(&dir) < 1024 * 1024 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    assert_eq!(receiver.span_count(), 0, "the backend refused everything");

    let on_disk = spans_on_disk(&dir);
    assert!(
        on_disk > 1_000,
        "a crash mid-run leaves data on disk ({on_disk} spans)"
    );

    // Second run, backend back: everything from disk, plus one new span.
    receiver.set_fallback_fault(None);
    let output = loadgen(&dir, &endpoint)
        .args(["--spans", "1", "--json-summary"])
        .output()
        .expect("run otlp-loadgen again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(receiver.wait_for_spans(on_disk + 1, Duration::from_secs(30)));
    assert_eq!(
        receiver.span_count(),
        on_disk + 1,
        "every span on disk, once, and the new one"
    );
    assert_eq!(spans_on_disk(&dir), 0, "nothing left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn at_default_settings_every_span_sent_a_second_before_a_sigkill_arrives_after_a_restart() {
    // Issue 14's finding: the collector is down, the program sends 10,000
    // spans/s with the durable queue on and every other setting at its
    // default, and is killed. Spans waiting for an export slot stayed in
    // memory (or were dropped at a full queue) and were lost with the
    // process. Now every batch goes to disk when it is cut.
    let (dir, receiver, endpoint) = collector_down("otlp-crash-defaults", Store::All);
    let ids = dir.with_extension("ids");

    let mut running = loadgen_with_defaults(&dir, &endpoint)
        .args(["--spans", "10000000", "--rate", "10000", "--quiet"])
        .arg("--span-ids")
        .arg(&ids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start otlp-loadgen");
    // How many spans had been handed over, and when that was seen.
    let mut seen: Vec<(Instant, usize)> = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        seen.push((Instant::now(), sent_ids(&ids).len()));
        std::thread::sleep(Duration::from_millis(50));
    }
    running.kill().expect("SIGKILL");
    let killed_at = Instant::now();
    let _ = running.wait();
    assert_eq!(receiver.span_count(), 0, "the backend refused everything");

    // What had been sent a second before the kill (a batch of 512 spans is
    // cut every 51 ms at this rate) must be on disk, and arrive.
    let sent_before = seen
        .iter()
        .filter(|(at, _)| killed_at.duration_since(*at) >= Duration::from_secs(1))
        .map(|(_, sent)| *sent)
        .max()
        .expect("a look a second before the kill");
    assert!(sent_before >= 10_000, "{sent_before} spans sent");
    let sent = sent_ids(&ids);
    let on_disk = spans_on_disk(&dir);
    assert!(
        on_disk >= sent_before as u64,
        "{on_disk} spans on disk, {sent_before} sent a second before the kill"
    );

    // The next run, backend back, delivers them.
    restart_with_the_backend_up(&dir, &receiver, &endpoint, on_disk + 1);
    assert_all_arrived(
        &sent[..sent_before],
        &received_ids(&receiver),
        "sent a second before the kill",
    );
    assert_eq!(spans_on_disk(&dir), 0, "nothing left behind");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&ids);
}

#[test]
fn with_fsync_every_batch_a_sigkill_loses_nothing_sent_before_the_last_batch_write() {
    // The strictest policy: each cut takes every thread's block, so a batch
    // written to disk holds everything handed over before it was cut. The
    // test reads how many spans were sent, then waits for two batch writes
    // (the segment files grow twice): the second was cut after the first
    // had been written, so after the read. One batch per cut here (a cut
    // every 100 ms of 500 spans, batches of up to 4,096), so that "two
    // growths" means "two cuts".
    let (dir, receiver, endpoint) = collector_down("otlp-crash-every-batch", Store::All);
    let ids = dir.with_extension("ids");

    let mut running = loadgen_with_defaults(&dir, &endpoint)
        .env("OTLP__DURABLE__FSYNC", "every_batch")
        .env("OTLP__BATCH__SCHEDULED_DELAY", "100ms")
        .env("OTLP__BATCH__MAX_EXPORT_BATCH_SIZE", "4096")
        .args(["--spans", "10000000", "--rate", "5000", "--quiet"])
        .arg("--span-ids")
        .arg(&ids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start otlp-loadgen");
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent_ids(&ids).len() < 5_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent_before = sent_ids(&ids).len();
    let mut size = segment_bytes(&dir);
    for _ in 0..2 {
        let before = size;
        while size == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            size = segment_bytes(&dir);
        }
    }
    running.kill().expect("SIGKILL");
    let _ = running.wait();
    assert!(
        Instant::now() < deadline,
        "two batch writes within a minute"
    );
    assert!(sent_before >= 5_000, "{sent_before} spans sent");
    assert_eq!(receiver.span_count(), 0, "the backend refused everything");
    let sent = sent_ids(&ids);
    let on_disk = spans_on_disk(&dir);

    restart_with_the_backend_up(&dir, &receiver, &endpoint, on_disk + 1);
    assert_all_arrived(
        &sent[..sent_before],
        &received_ids(&receiver),
        "sent before the last two batch writes",
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&ids);
}

#[test]
fn a_run_that_ends_during_an_outage_leaves_the_rest_on_disk_for_the_next() {
    // The collector is down for the whole run, which ends normally: its
    // shutdown returns by its deadline, what was not delivered stays on disk
    // (exit status 3: not delivered), and the next run delivers it.
    let (dir, receiver, endpoint) = collector_down("otlp-outage-exit", Store::All);
    let ids = dir.with_extension("ids");

    let started = Instant::now();
    let output = loadgen_with_defaults(&dir, &endpoint)
        .args(["--spans", "20000", "--rate", "10000"])
        .args(["--shutdown-timeout", "2s", "--quiet"])
        .arg("--span-ids")
        .arg(&ids)
        .output()
        .expect("run otlp-loadgen");
    let took = started.elapsed();
    assert_eq!(
        output.status.code(),
        Some(3),
        "not delivered: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Two seconds of load, then shutdown by its two-second deadline (and
    // the process's start and end): far from the 30 s export timeout.
    assert!(took < Duration::from_secs(15), "the run took {took:?}");
    assert_eq!(receiver.span_count(), 0, "the backend refused everything");
    assert_eq!(spans_on_disk(&dir), 20_000, "every span waits on disk");

    restart_with_the_backend_up(&dir, &receiver, &endpoint, 20_001);
    assert_eq!(receiver.span_count(), 20_001, "each span once");
    let sent = sent_ids(&ids);
    assert_eq!(sent.len(), 20_000, "every id written at the normal exit");
    assert_all_arrived(&sent, &received_ids(&receiver), "sent during the outage");
    assert_eq!(spans_on_disk(&dir), 0, "nothing left behind");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&ids);
}

// ---------------------------------------------------------------- log records

/// `otlp-loadgen --signal logs` with a clean environment and the log
/// pipeline's durable queue in `dir`, over HTTP/protobuf; with `fast`,
/// exports give up fast, so refused batches park on disk quickly.
fn loadgen_logs(dir: &Path, endpoint: &str, fast: bool) -> Command {
    let mut command = loadgen_with_defaults(dir, endpoint);
    // The span pipeline's directory is not the log pipeline's.
    command
        .env_remove("OTLP__DURABLE__DIRECTORY")
        .env("OTLP__LOGS__DURABLE__DIRECTORY", dir)
        .args(["--signal", "logs"]);
    if fast {
        command
            .env("OTLP__LOGS__DURABLE__FSYNC", "never")
            .env("OTLP__LOGS__BATCH__EXPORT_TIMEOUT", "200ms")
            .env("OTLP__LOGS__BATCH__SCHEDULED_DELAY", "20ms")
            .env("OTLP__RETRY__INITIAL_BACKOFF", "10ms")
            .env("OTLP__RETRY__MAX_BACKOFF", "50ms");
    }
    command
}

/// Every log record on disk not yet delivered, as a new start will find
/// them: each stored request read back and decoded with
/// `opentelemetry-proto`, each record as its encoded `LogRecord` message.
fn log_records_on_disk(dir: &Path) -> Vec<Vec<u8>> {
    let config = DurableConfig {
        fsync: FsyncPolicy::Never,
        ..DurableConfig::new(dir)
    };
    let (mut queue, recovered) =
        DurableQueue::open(config).expect("the directory opens after the crash");
    assert_eq!(recovered.corrupt_records, 0, "a kill damages nothing");
    let mut records = Vec::new();
    let mut body = Vec::new();
    for pending in &recovered.records {
        queue.read(pending.id, &mut body).expect("a stored request");
        let request = ExportLogsServiceRequest::decode(body.as_slice())
            .expect("a stored request decodes as a logs request");
        let before = records.len();
        for resource_logs in &request.resource_logs {
            for scope_logs in &resource_logs.scope_logs {
                records.extend(scope_logs.log_records.iter().map(Message::encode_to_vec));
            }
        }
        assert_eq!(
            (records.len() - before) as u64,
            u64::from(pending.span_count),
            "a stored request holds the records its header counts"
        );
    }
    records
}

/// How many times each record occurs.
fn multiset(records: impl IntoIterator<Item = Vec<u8>>) -> HashMap<Vec<u8>, u64> {
    let mut counts = HashMap::new();
    for record in records {
        *counts.entry(record).or_insert(0) += 1;
    }
    counts
}

/// The value of `name` in a one-line JSON object of numbers (the summary
/// of `otlp-loadgen --json-summary`).
fn summary_number(summary: &serde_json::Value, name: &str) -> u64 {
    summary[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {summary}"))
}

/// The JSON summary of a finished run, with its record identity checked:
/// every record sent (recovered ones included) is exported, dropped,
/// failed, rejected or unsettled (on disk for the next run).
fn balanced_summary(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("a JSON summary in {text}"));
    let summary: serde_json::Value = serde_json::from_str(line).expect("the summary is JSON");
    assert_eq!(summary["signal"], "logs", "{summary}");
    let settled: u64 = ["exported", "dropped", "failed", "rejected", "unsettled"]
        .iter()
        .map(|name| summary_number(&summary, name))
        .sum();
    assert_eq!(
        summary_number(&summary, "sent"),
        settled,
        "sent = exported + dropped + failed + rejected + unsettled: {summary}"
    );
    summary
}

/// The largest `on_disk=N` of `otlp-loadgen`'s progress lines so far: how
/// many records the pipeline said were stored.
fn reported_on_disk(lines: &Mutex<Vec<String>>) -> u64 {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("on_disk="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn log_records_on_disk_at_a_sigkill_reach_the_backend_once_after_a_restart() {
    let (dir, receiver, endpoint) = collector_down("otlp-crash-logs", Store::All);

    // First run: far more records than it can produce before the kill; its
    // progress lines (one a second on standard error) say how many records
    // it has stored.
    let mut first = loadgen_logs(&dir, &endpoint, true)
        .args(["--records", "10000000", "--rate", "20000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start otlp-loadgen");
    let progress = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let stderr = first.stderr.take().expect("piped");
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                progress.lock().unwrap().push(line);
            }
        })
    };
    // 1 MiB on disk (well over a thousand records of about 450 bytes), and
    // a progress line that reports records stored. That report can lag on
    // a loaded machine (the loop updates its stats between its turns of
    // cutting): after 20 s the run is killed with what it has written,
    // whatever its progress said.
    let reported = Instant::now() + Duration::from_secs(20);
    let written = Instant::now() + Duration::from_secs(60);
    while Instant::now() < written
        && (segment_bytes(&dir) < 1024 * 1024
            || (reported_on_disk(&progress) == 0 && Instant::now() < reported))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    reader.join().expect("the stderr reader");
    let acknowledged = reported_on_disk(&progress);
    assert_eq!(
        receiver.log_record_count(),
        0,
        "the backend refused everything"
    );

    // What the pipeline reported stored is there (the backend took
    // nothing, so nothing left the disk since).
    let on_disk = log_records_on_disk(&dir);
    assert!(
        on_disk.len() as u64 >= acknowledged.max(1_000),
        "{} records on disk, {acknowledged} reported stored before the kill",
        on_disk.len()
    );

    // Second run, backend back: everything from disk, plus one new record.
    // At default settings, as the spans' restart (`restart_with_the_backend_up`):
    // the first run's 200 ms export timeout, under a loaded CI, left 481 of
    // 20,316 records on disk when this run's shutdown came (once in CI).
    receiver.set_fallback_fault(None);
    let output = loadgen_logs(&dir, &endpoint, false)
        .args(["--records", "1", "--quiet", "--json-summary"])
        .output()
        .expect("run otlp-loadgen again");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = on_disk.len() as u64 + 1;
    let summary = balanced_summary(&output.stdout);
    assert_eq!(
        (
            summary_number(&summary, "sent"),
            summary_number(&summary, "exported")
        ),
        (expected, expected),
        "the recovered records count as sent: {summary}"
    );
    assert!(receiver.wait_for_log_records(expected, Duration::from_secs(60)));

    // Each record on disk arrives exactly once: nothing was delivered
    // before the kill, so there was no acknowledgement to lose, and the
    // at-least-once contract allows no duplicate here.
    let received = multiset(receiver.accepted_logs().iter().map(Message::encode_to_vec));
    let stored = multiset(on_disk);
    for (record, times) in &stored {
        assert_eq!(
            received.get(record),
            Some(times),
            "a record stored {times} time(s) arrived otherwise"
        );
    }
    assert_eq!(
        received.values().sum::<u64>(),
        expected,
        "the stored records and the new one, nothing more"
    );
    assert!(log_records_on_disk(&dir).is_empty(), "nothing left behind");
    assert_eq!(receiver.span_count(), 0, "no log record sent as a span");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_logs_run_that_ends_during_an_outage_leaves_every_record_on_disk_for_the_next() {
    let (dir, receiver, endpoint) = collector_down("otlp-outage-exit-logs", Store::All);

    let output = loadgen_logs(&dir, &endpoint, false)
        .args(["--records", "5000", "--rate", "10000"])
        .args(["--shutdown-timeout", "2s", "--quiet", "--json-summary"])
        .output()
        .expect("run otlp-loadgen");
    assert_eq!(
        output.status.code(),
        Some(3),
        "not delivered: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = balanced_summary(&output.stdout);
    assert_eq!(
        ["sent", "exported", "dropped", "failed", "unsettled"]
            .map(|name| summary_number(&summary, name)),
        [5_000, 0, 0, 0, 5_000],
        "every record waits on disk: {summary}"
    );
    assert_eq!(
        receiver.log_record_count(),
        0,
        "the backend refused everything"
    );
    let on_disk = log_records_on_disk(&dir);
    assert_eq!(on_disk.len(), 5_000, "every record waits on disk");

    receiver.set_fallback_fault(None);
    let output = loadgen_logs(&dir, &endpoint, false)
        .args(["--records", "1", "--quiet", "--json-summary"])
        .output()
        .expect("run otlp-loadgen again");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = balanced_summary(&output.stdout);
    assert_eq!(summary_number(&summary, "exported"), 5_001, "{summary}");
    assert!(receiver.wait_for_log_records(5_001, Duration::from_secs(60)));
    let received = multiset(receiver.accepted_logs().iter().map(Message::encode_to_vec));
    for (record, times) in multiset(on_disk) {
        assert_eq!(
            received.get(&record),
            Some(&times),
            "each stored record once"
        );
    }
    assert_eq!(received.values().sum::<u64>(), 5_001);
    assert!(log_records_on_disk(&dir).is_empty(), "nothing left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
