//! Reading a waiting record back from disk fails: a transient failure (the
//! file missing for a while, an I/O error) keeps the record waiting and it is
//! delivered once it can be read; only a record that is truly gone (damaged
//! on disk) is given up, counted as `dropped_durable` and named in the error.
//!
//! The harm is done by the backend while it exports the first record, so it
//! is in place exactly when the export loop reads the second one. Three
//! records of 3,000 bytes under a 4,096-byte segment size: one segment each.

mod durable_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durable_support::{TempDir, body, eventually, open, segment_files, small_config};
use otlp_core::encode::Encoding;
use otlp_sdk::config::BatchConfig;
use otlp_sdk::durable::{DurableConfig, FsyncPolicy, RecordId};
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, PipelineError, RetryPolicy, Signal,
    SpanProcessor, StatsSnapshot,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BODY: usize = 3_000;
/// Spans of the three records.
const SPANS: [u32; 3] = [3, 5, 7];

/// Something the backend does to the queue's files during its first export.
type Harm = Box<dyn FnOnce() + Send>;

/// Accepts everything and keeps each body it was sent, in order.
#[derive(Default)]
struct Backend {
    received: Mutex<Vec<Vec<u8>>>,
    on_first_export: Mutex<Option<Harm>>,
}

impl Backend {
    fn doing(harm: impl FnOnce() + Send + 'static) -> Arc<Backend> {
        Arc::new(Backend {
            on_first_export: Mutex::new(Some(Box::new(harm))),
            ..Backend::default()
        })
    }

    fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().expect("not poisoned").clone()
    }
}

struct BackendExporter(Arc<Backend>);

impl Exporter for BackendExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let harm = self.0.on_first_export.lock().expect("not poisoned").take();
        if let Some(harm) = harm {
            harm();
        }
        let mut received = self.0.received.lock().expect("not poisoned");
        received.push(request.body.to_vec());
        ExportOutcome::Success
    }
}

/// Three records waiting on disk, one per segment; the segment files, oldest first.
fn three_records(directory: &Path) -> (DurableConfig, Vec<PathBuf>, Vec<RecordId>) {
    let config = small_config(directory, FsyncPolicy::Never);
    let (mut queue, _) = open(&config);
    let ids = SPANS
        .iter()
        .enumerate()
        .map(
            |(n, spans)| match queue.append(Encoding::Protobuf, *spans, &body(n as u64, BODY)) {
                Ok(appended) => appended.id,
                Err(error) => panic!("append: {error}"),
            },
        )
        .collect();
    drop(queue);
    let segments = segment_files(directory);
    assert_eq!(segments.len(), 3, "one record per segment");
    (config, segments, ids)
}

/// One export at a time, so the loop reads the second record only once the
/// first is delivered; short backoffs.
fn pipeline(backend: &Arc<Backend>, config: DurableConfig) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_millis(5),
            max_concurrent_exports: 1,
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_durable_queue(config)
        .build()
        .expect("the pipeline starts")
}

fn assert_balanced(stats: &StatsSnapshot) {
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// Whether the pipeline has reported an error that mentions `text`.
fn reported(processor: &BatchSpanProcessor, text: &str) -> bool {
    processor
        .stats()
        .last_error
        .is_some_and(|error| error.contains(text))
}

/// Moves the file away (the backend does it), so that reading it fails.
fn move_away(from: &Path, to: &Path) -> impl FnOnce() + Send + 'static {
    let (from, to) = (from.to_owned(), to.to_owned());
    move || fs::rename(&from, &to).expect("move the segment away")
}

#[test]
fn a_record_that_cannot_be_read_for_a_while_waits_and_is_delivered_once_it_can() -> TestResult {
    let dir = TempDir::new("read-fails-then-works");
    let (config, segments, _) = three_records(dir.path());
    let hidden = dir.path().join("hidden");
    let backend = Backend::doing(move_away(&segments[1], &hidden));
    let processor = pipeline(&backend, config);

    // The second record's file is missing when its turn comes.
    assert!(
        eventually(Duration::from_secs(10), || reported(
            &processor,
            &file_name(&segments[1])
        )),
        "{:#?}",
        processor.stats()
    );
    let during = processor.stats();
    assert_balanced(&during);
    assert_eq!(
        (during.exported, during.dropped, during.in_flight),
        (3, 0, 12),
        "the unreadable record waits, and the one behind it: {during:#?}"
    );
    // Not lost: a flush meanwhile reports both as waiting on disk.
    assert_eq!(
        processor.force_flush(Duration::from_secs(10)),
        Err(PipelineError::Persisted {
            spans: 12,
            signal: Signal::Traces
        })
    );

    // The file is back: the record is read and delivered, then the next.
    fs::rename(&hidden, &segments[1])?;
    assert!(
        eventually(Duration::from_secs(20), || processor.stats().exported == 15),
        "{:#?}",
        processor.stats()
    );
    assert_eq!(processor.shutdown(Duration::from_secs(10)), Ok(()));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (
            stats.exported,
            stats.dropped,
            stats.persisted,
            stats.in_flight
        ),
        (15, 0, 0, 0)
    );
    let sent: Vec<Vec<u8>> = (0..3).map(|n| body(n, BODY)).collect();
    assert_eq!(backend.received(), sent, "each record once, in order");
    Ok(())
}

#[test]
fn a_record_that_cannot_be_read_at_shutdown_is_kept_for_the_next_start() -> TestResult {
    let dir = TempDir::new("read-fails-at-shutdown");
    let (config, segments, _) = three_records(dir.path());
    let hidden = dir.path().join("hidden");
    let backend = Backend::doing(move_away(&segments[1], &hidden));
    let processor = pipeline(&backend, config.clone());
    assert!(
        eventually(Duration::from_secs(10), || reported(
            &processor,
            &file_name(&segments[1])
        )),
        "{:#?}",
        processor.stats()
    );
    assert_eq!(
        processor.shutdown(Duration::from_secs(10)),
        Err(PipelineError::Persisted {
            spans: 12,
            signal: Signal::Traces
        })
    );
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (
            stats.exported,
            stats.dropped,
            stats.failed,
            stats.persisted,
            stats.in_flight
        ),
        (3, 0, 0, 12, 12)
    );
    drop(processor);

    // The next start finds both waiting records and delivers them.
    fs::rename(&hidden, &segments[1])?;
    let next_backend = Arc::new(Backend::default());
    let next = pipeline(&next_backend, config);
    assert_eq!(next.stats().recovered, 12);
    assert_eq!(next.shutdown(Duration::from_secs(10)), Ok(()));
    let stats = next.stats();
    assert_balanced(&stats);
    assert_eq!((stats.exported, stats.dropped), (12, 0));
    assert_eq!(
        next_backend.received(),
        vec![body(1, BODY), body(2, BODY)],
        "the records the first run could not read"
    );
    Ok(())
}

#[test]
fn a_record_damaged_on_disk_after_start_is_dropped_counted_and_named() -> TestResult {
    let dir = TempDir::new("read-damaged");
    let (config, segments, ids) = three_records(dir.path());
    let damaged = segments[1].clone();
    let backend = Backend::doing(move || {
        let mut bytes = fs::read(&damaged).expect("read the segment");
        bytes[32 + 1_000] ^= 0x10; // in the body: its checksum no longer matches
        fs::write(&damaged, &bytes).expect("write the segment");
    });
    let processor = pipeline(&backend, config.clone());
    assert!(
        eventually(Duration::from_secs(10), || processor.stats().exported == 10),
        "{:#?}",
        processor.stats()
    );
    let stats = processor.stats();
    let error = stats.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("record {}", ids[1])) && error.contains("5 spans lost"),
        "{error}"
    );
    assert_eq!(processor.shutdown(Duration::from_secs(10)), Ok(()));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (
            stats.exported,
            stats.dropped_durable,
            stats.dropped,
            stats.persisted
        ),
        (10, 5, 5, 0)
    );
    assert_eq!(backend.received(), vec![body(0, BODY), body(2, BODY)]);
    drop(processor);

    // Given up for good: not replayed by the next start.
    let (_, recovered) = open(&config);
    assert!(recovered.records.is_empty(), "{recovered:?}");
    Ok(())
}

/// The same backend, as the log pipeline's exporter.
struct LogBackendExporter(Arc<Backend>);

impl Exporter for LogBackendExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        BackendExporter(self.0.clone()).export(request).await
    }
}

/// A log pipeline's record that cannot be read back for a while is reported
/// as log records waiting on disk (it said "5 spans wait on disk", the one
/// message of the durable queue's that named spans whatever the signal).
#[test]
fn a_log_pipelines_record_that_cannot_be_read_is_reported_as_log_records_waiting() -> TestResult {
    use otlp_sdk::{BatchLogProcessor, LogProcessor};

    let dir = TempDir::new("log-read-fails");
    let (config, segments, _) = three_records(dir.path());
    let hidden = dir.path().join("hidden");
    let backend = Backend::doing(move_away(&segments[1], &hidden));
    let processor = BatchLogProcessor::builder(LogBackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_millis(5),
            max_concurrent_exports: 1,
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_durable_queue(config)
        .build()
        .expect("the pipeline starts");
    let name = file_name(&segments[1]);
    assert!(
        eventually(Duration::from_secs(10), || processor
            .stats()
            .last_error
            .is_some_and(|error| error.contains(&name))),
        "{:#?}",
        processor.stats()
    );
    let error = processor.stats().last_error.unwrap_or_default();
    assert!(
        error.starts_with(&format!("{} log records wait on disk", SPANS[1])),
        "{error}"
    );
    // The file is back: both waiting records are delivered.
    fs::rename(&hidden, &segments[1])?;
    assert!(
        eventually(Duration::from_secs(20), || processor.stats().exported == 15),
        "{:#?}",
        processor.stats()
    );
    assert_eq!(processor.shutdown(Duration::from_secs(10)), Ok(()));
    assert_balanced(&processor.stats());
    Ok(())
}
