//! The durable queue in the pipeline: an outage fills the disk instead of
//! losing spans, a restart sends what the last run did not deliver (before
//! new data), permanent failures are not kept, and the disk cap drops the
//! oldest data with a count. Every span stays accounted for.

mod durable_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durable_support::eventually;
use otlp_core::encode::Encoding;
use otlp_core::{SpanData, SpanId, TraceId};
use otlp_sdk::config::{BatchConfig, PerformanceConfig};
use otlp_sdk::durable::{DurableConfig, DurableError, DurableQueue, FsyncPolicy};
use otlp_sdk::{
    BatchSpanProcessor, ExportError, ExportOutcome, ExportRequest, Exporter, PipelineError,
    RetryPolicy, Signal, SpanProcessor, StatsSnapshot,
};

/// The backend: refuses (retryably, or for good) until told to accept, and
/// records the trace ids of every span it accepted, in order. It takes
/// protobuf, or OTLP/JSON when `json`, and refuses a body in the other
/// encoding for good, as the transports do.
#[derive(Default)]
struct Backend {
    accepting: AtomicBool,
    permanent: AtomicBool,
    json: bool,
    accepted: Mutex<Vec<TraceId>>,
    /// The body of every request accepted, as it came.
    bodies: Mutex<Vec<Vec<u8>>>,
    attempts: AtomicU64,
}

struct BackendExporter(Arc<Backend>);

impl Exporter for BackendExporter {
    fn encoding(&self) -> Encoding {
        if self.0.json {
            Encoding::Json
        } else {
            Encoding::Protobuf
        }
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let backend = &self.0;
        backend.attempts.fetch_add(1, Ordering::SeqCst);
        if request.encoding != self.encoding() {
            return ExportOutcome::Permanent {
                error: ExportError::Request(format!("a {:?} body", request.encoding)),
            };
        }
        if backend.permanent.load(Ordering::SeqCst) {
            return ExportOutcome::Permanent {
                error: ExportError::Server {
                    status: "HTTP 400".into(),
                    message: "bad data".into(),
                },
            };
        }
        if !backend.accepting.load(Ordering::SeqCst) {
            return ExportOutcome::Retryable {
                error: ExportError::Transport("connection refused".into()),
                throttle: None,
            };
        }
        let ids = trace_ids(&request.body, request.encoding);
        backend.accepted.lock().unwrap().extend(ids);
        backend.bodies.lock().unwrap().push(request.body.to_vec());
        ExportOutcome::Success
    }
}

/// The trace ids in an encoded request, decoded independently.
fn trace_ids(body: &[u8], encoding: Encoding) -> Vec<TraceId> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let request = match encoding {
        Encoding::Json => {
            serde_json::from_slice::<ExportTraceServiceRequest>(body).expect("valid JSON")
        }
        _ => ExportTraceServiceRequest::decode(body).expect("a valid request"),
    };
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| TraceId::from_bytes(span.trace_id.clone().try_into().expect("16 bytes")))
        .collect()
}

fn span() -> SpanData {
    SpanData::builder("durable work")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .times(1, 2)
        .build()
}

fn directory(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otlp-sdk-durable-{name}-{}-{}",
        std::process::id(),
        TraceId::random()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn durable(dir: &Path) -> DurableConfig {
    DurableConfig {
        fsync: FsyncPolicy::Never,
        ..DurableConfig::new(dir)
    }
}

fn pipeline(backend: &Arc<Backend>, config: DurableConfig) -> BatchSpanProcessor {
    pipeline_with(backend, config, 4)
}

fn pipeline_with(
    backend: &Arc<Backend>,
    config: DurableConfig,
    concurrency: usize,
) -> BatchSpanProcessor {
    pipeline_within(backend, config, concurrency, Duration::from_millis(100))
}

/// A request that has not settled by `export_timeout` gives up, parked on
/// disk: short, so that an outage parks what it holds at once. (On a loaded
/// machine, a request may give up before its first attempt.)
fn pipeline_within(
    backend: &Arc<Backend>,
    config: DurableConfig,
    concurrency: usize,
    export_timeout: Duration,
) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_queue_size: Some(1024),
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(5),
            export_timeout,
            max_concurrent_exports: concurrency,
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

#[test]
fn an_outage_parks_batches_on_disk_and_delivers_them_when_the_backend_returns() {
    let dir = directory("outage");
    let backend = Arc::new(Backend::default());
    let processor = pipeline(&backend, durable(&dir));
    let sent: Vec<SpanData> = (0..2_000).map(|_| span()).collect();
    let ids: Vec<TraceId> = sent.iter().map(|span| span.trace_id).collect();
    for span in sent {
        processor.on_end(span);
    }
    // The backend is down well past the export timeout: retries run out.
    assert!(eventually(Duration::from_secs(10), || processor
        .stats()
        .queued
        == 0));
    std::thread::sleep(Duration::from_millis(300));
    let during = processor.stats();
    assert_balanced(&during);
    assert_eq!(
        (during.exported, during.failed, during.dropped),
        (0, 0, 0),
        "{during:#?}"
    );
    assert_eq!(during.in_flight, 2_000, "parked on disk, still in flight");
    // The stats say where they are: every one on disk, none in memory.
    assert!(
        eventually(Duration::from_secs(5), || processor.stats().on_disk
            == 2_000),
        "{:#?}",
        processor.stats()
    );

    backend.accepting.store(true, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(20), || processor
        .stats()
        .exported
        == 2_000));
    processor.shutdown(Duration::from_secs(5)).unwrap();
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (
            stats.exported,
            stats.failed,
            stats.dropped,
            stats.persisted,
            stats.on_disk
        ),
        (2_000, 0, 0, 0, 0)
    );
    let accepted = backend.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 2_000, "each span delivered once");
    let unique: HashSet<TraceId> = accepted.iter().copied().collect();
    assert!(
        unique == ids.iter().copied().collect(),
        "exactly the spans produced"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn memory_is_a_cache_in_front_of_the_disk_not_a_reason_to_drop() {
    // A memory budget of 16 KiB (some 60 spans) in front of a disk of
    // 256 MiB, the backend down, the default full policy: producers wait a
    // moment for the loop to move spans to disk, none is dropped.
    let dir = directory("memory-cache");
    let backend = Arc::new(Backend::default());
    let processor = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_queue_bytes: 16 * 1024,
            export_timeout: Duration::from_millis(100),
            // The last spans wait in the producer's block until then.
            scheduled_delay: Duration::from_millis(100),
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_durable_queue(durable(&dir))
        .build()
        .expect("the pipeline starts");
    let sent: Vec<SpanData> = (0..3_000).map(|_| span()).collect();
    let ids: HashSet<TraceId> = sent.iter().map(|span| span.trace_id).collect();
    for span in sent {
        processor.on_end(span);
    }
    let during = processor.stats();
    assert_eq!(during.dropped, 0, "{during:#?}");
    assert!(
        eventually(Duration::from_secs(10), || processor.stats().on_disk
            == 3_000),
        "{:#?}",
        processor.stats()
    );

    backend.accepting.store(true, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(30), || processor
        .stats()
        .exported
        == 3_000));
    processor.shutdown(Duration::from_secs(5)).unwrap();
    assert_balanced(&processor.stats());
    let accepted: HashSet<TraceId> = backend.accepted.lock().unwrap().iter().copied().collect();
    assert!(accepted == ids, "exactly the spans produced");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_healthy_backend_slower_than_the_program_loses_nothing_to_the_disk_cap() {
    // The backend takes everything but one request at a time; the program
    // makes spans faster. The disk (64 KiB) holds far less than the burst:
    // spans wait in memory and producers wait for room — nothing is evicted.
    let dir = directory("healthy-cap");
    let backend = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        ..Backend::default()
    });
    let config = DurableConfig {
        max_bytes: 64 * 1024,
        segment_bytes: 8 * 1024,
        ..durable(&dir)
    };
    let processor = pipeline_with(&backend, config, 1);
    for _ in 0..5_000 {
        processor.on_end(span());
    }
    processor.shutdown(Duration::from_secs(30)).unwrap();
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (stats.exported, stats.dropped, stats.dropped_durable),
        (5_000, 0, 0),
        "{stats:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restart_sends_what_was_not_delivered_before_new_data() {
    let dir = directory("restart");
    let down = Arc::new(Backend::default());
    let first = pipeline(&down, durable(&dir));
    let old: Vec<SpanData> = (0..500).map(|_| span()).collect();
    let old_ids: HashSet<TraceId> = old.iter().map(|span| span.trace_id).collect();
    for span in old {
        first.on_end(span);
    }
    assert_eq!(
        first.shutdown(Duration::from_secs(2)),
        Err(PipelineError::Persisted {
            spans: 500,
            signal: Signal::Traces
        })
    );
    let stats = first.stats();
    assert_balanced(&stats);
    assert_eq!(
        (
            stats.persisted,
            stats.in_flight,
            stats.failed,
            stats.dropped
        ),
        (500, 500, 0, 0)
    );

    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        ..Backend::default()
    });
    // One export at a time, so arrival order is dispatch order.
    let second = pipeline_with(&up, durable(&dir), 1);
    assert_eq!(second.stats().recovered, 500);
    let new: Vec<SpanData> = (0..100).map(|_| span()).collect();
    let new_ids: HashSet<TraceId> = new.iter().map(|span| span.trace_id).collect();
    for span in new {
        second.on_end(span);
    }
    second.shutdown(Duration::from_secs(5)).unwrap();
    let stats = second.stats();
    assert_balanced(&stats);
    assert_eq!(
        (stats.produced, stats.exported, stats.persisted),
        (600, 600, 0),
        "{stats:#?}"
    );
    let accepted = up.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 600);
    let (replayed, fresh) = accepted.split_at(500);
    assert!(
        replayed.iter().all(|id| old_ids.contains(id)),
        "old data first"
    );
    assert!(fresh.iter().all(|id| new_ids.contains(id)), "then the new");

    // Nothing is left for a third start.
    let third = pipeline(&up, durable(&dir));
    assert_eq!(third.stats().recovered, 0);
    third.shutdown(Duration::from_secs(1)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Spans parked on disk by a run whose backend is down, then delivered by a
/// run whose backend takes the other encoding.
fn park_then_deliver(dir: &Path, parked_as_json: bool) -> (StatsSnapshot, usize) {
    let down = Arc::new(Backend {
        json: parked_as_json,
        ..Backend::default()
    });
    let first = pipeline(&down, durable(dir));
    for _ in 0..200 {
        first.on_end(span());
    }
    let _ = first.shutdown(Duration::from_secs(2));
    assert_eq!(first.stats().persisted, 200, "{:#?}", first.stats());
    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        json: !parked_as_json,
        ..Backend::default()
    });
    let second = pipeline(&up, durable(dir));
    second.shutdown(Duration::from_secs(5)).unwrap();
    let accepted = up.accepted.lock().unwrap().len();
    (second.stats(), accepted)
}

#[test]
fn what_one_encoding_parked_on_disk_is_delivered_in_the_other() {
    // A service moved from OTLP/JSON to gRPC (or back) while spans waited
    // on disk: they were stored as the JSON sent, which a protobuf exporter
    // refuses for good (all 200 failed). JSON bodies are stored as their
    // protobuf source now, transcoded again for a JSON exporter.
    for parked_as_json in [true, false] {
        let dir = directory("encodings");
        let (stats, accepted) = park_then_deliver(&dir, parked_as_json);
        assert_balanced(&stats);
        assert_eq!(
            (stats.recovered, stats.exported, stats.failed, accepted),
            (200, 200, 0, 200),
            "parked as JSON: {parked_as_json}; {stats:#?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Accepts after a few milliseconds: under steady traffic a request is
/// always in flight.
struct SlowExporter(Arc<Backend>);

impl Exporter for SlowExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        tokio::time::sleep(Duration::from_millis(5)).await;
        BackendExporter(self.0.clone()).export(request).await
    }
}

#[test]
fn a_flush_under_steady_traffic_ends_once_what_it_covers_is_delivered() {
    // Found by reading the loop: with the durable queue a flush waited for
    // every request in flight, later ones included, and under steady
    // traffic there always is one: it timed out.
    let dir = directory("flush-steady");
    let backend = Arc::new(Backend::default());
    backend.accepting.store(true, Ordering::SeqCst);
    let processor = BatchSpanProcessor::builder(SlowExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            max_concurrent_exports: 4,
            // A request every 2 ms that takes 5 ms: never none in flight,
            // and never more than the backend keeps up with.
            scheduled_delay: Duration::from_millis(2),
            ..BatchConfig::default()
        })
        .with_durable_queue(durable(&dir))
        .build()
        .expect("the pipeline starts");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (processor, stop) = (processor.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for _ in 0..16 {
                    processor.on_end(span());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let mut results = Vec::new();
    for _ in 0..3 {
        let produced = processor.stats().produced;
        results.push(processor.force_flush(Duration::from_secs(5)));
        assert!(
            processor.stats().exported >= produced,
            "a flush that returned covers what was produced before it"
        );
    }
    stop.store(true, Ordering::SeqCst);
    producer.join().expect("the producer");
    assert_eq!(results, vec![Ok(()), Ok(()), Ok(())]);
    assert_eq!(processor.shutdown(Duration::from_secs(5)), Ok(()));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(stats.exported, stats.produced, "{stats:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn permanent_failures_are_counted_and_not_kept() {
    let dir = directory("permanent");
    let backend = Arc::new(Backend::default());
    backend.permanent.store(true, Ordering::SeqCst);
    // Every attempt is refused at once; the long export timeout only keeps a
    // loaded machine from parking a request before its first attempt (then
    // persisted, not failed).
    let processor = pipeline_within(&backend, durable(&dir), 4, Duration::from_secs(10));
    for _ in 0..200 {
        processor.on_end(span());
    }
    // Shutdown answers for what it flushed: batches the loop exported (and
    // saw refused) before it began are in the stats only (at most 200 here,
    // none when the loop was slower than this thread).
    let result = processor.shutdown(Duration::from_secs(5));
    assert!(
        matches!(
            result,
            Ok(())
                | Err(PipelineError::Undelivered {
                    failed: 1..=200,
                    rejected: 0,
                    signal: Signal::Traces
                })
        ),
        "{result:?}"
    );
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (stats.failed, stats.persisted, stats.in_flight),
        (200, 0, 0)
    );
    let again = pipeline(&backend, durable(&dir));
    assert_eq!(
        again.stats().recovered,
        0,
        "given up for good, not replayed"
    );
    again.shutdown(Duration::from_secs(1)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_disk_cap_drops_the_oldest_waiting_data_and_counts_it() {
    let dir = directory("cap");
    let backend = Arc::new(Backend::default());
    let config = DurableConfig {
        max_bytes: 64 * 1024,
        segment_bytes: 8 * 1024,
        ..durable(&dir)
    };
    let processor = pipeline(&backend, config);
    for _ in 0..5_000 {
        processor.on_end(span());
    }
    assert!(eventually(Duration::from_secs(10), || processor
        .stats()
        .queued
        == 0));
    // Returns as soon as it is done; a loaded machine may need more than a
    // second or two, and the next start needs the directory unlocked.
    let _ = processor.shutdown(Duration::from_secs(10));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert!(stats.dropped_durable > 0, "{stats:#?}");
    assert_eq!(
        stats.produced,
        stats.dropped + stats.persisted + stats.exported + stats.failed
    );

    // What survived on disk is exactly what the next start recovers.
    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        ..Backend::default()
    });
    let next = pipeline(&up, durable(&dir));
    assert_eq!(next.stats().recovered, stats.persisted);
    next.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(next.stats().exported, stats.persisted);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a pipeline on a directory another pipeline holds: an error naming
/// the durable queue.
fn start_on_a_locked_directory(name: &str) {
    let dir = directory(name);
    let backend = Arc::new(Backend::default());
    let first = pipeline(&backend, durable(&dir));
    let second = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_durable_queue(durable(&dir))
        .build();
    let error = second.expect_err("the directory is locked").to_string();
    assert!(error.contains("durable queue"), "{error}");
    let _ = first.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_in_use_is_an_error_at_start() {
    start_on_a_locked_directory("locked");
}

#[tokio::test]
async fn a_pipeline_that_cannot_start_inside_async_code_is_an_error_not_a_panic() {
    // Built from async code: its failed start must not drop a runtime in a
    // way tokio forbids there.
    start_on_a_locked_directory("locked-async");
}

#[test]
fn a_disabled_sdk_leaves_what_is_on_disk_unsent_for_a_later_run() {
    use otlp_sdk::config::Config;
    let dir = directory("disabled");
    let down = Arc::new(Backend::default());
    let first = pipeline(&down, durable(&dir));
    for _ in 0..200 {
        first.on_end(span());
    }
    assert!(first.shutdown(Duration::from_secs(2)).is_err(), "persisted");
    assert_eq!(first.stats().persisted, 200);

    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        ..Backend::default()
    });
    // OTEL_SDK_DISABLED=true with the durable section set.
    let disabled = Config {
        disabled: true,
        durable: Some(durable(&dir)),
        ..Config::default()
    };
    let second = BatchSpanProcessor::builder(BackendExporter(up.clone()))
        .with_config(&disabled)
        .build()
        .expect("the pipeline starts");
    second.shutdown(Duration::from_secs(2)).unwrap();
    assert_eq!(second.stats().recovered, 0);
    assert!(
        up.accepted.lock().unwrap().is_empty(),
        "a disabled SDK sent what an earlier run left on disk"
    );

    let third = pipeline(&up, durable(&dir));
    assert_eq!(third.stats().recovered, 200, "still on disk");
    third.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(up.accepted.lock().unwrap().len(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn producers_outpacing_the_disk_do_not_keep_the_loop_from_its_other_work() {
    // Found with `otlp-loadgen`, unthrottled, and the durable queue: against
    // a dead endpoint its progress read `on_disk=0` for seconds while
    // hundreds of megabytes went to disk; against a live one, `exported=0`
    // until the producers stopped. While producers refilled a batch as fast
    // as the loop wrote one, and the disk had room, the loop went on cutting
    // in one turn: it neither ran the exports (on its own thread) nor
    // updated the stats, took commands (a flush) or did its interval fsync.
    // Three threads end spans without pause; the disk cap is far above what
    // the test writes, so room never stops the cutting.
    const RECORDS: u64 = 50_000;
    for accepting in [false, true] {
        let dir = directory("outpaced");
        let backend = Arc::new(Backend {
            accepting: AtomicBool::new(accepting),
            ..Backend::default()
        });
        let processor = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
            .with_batch_config(BatchConfig {
                scheduled_delay: Duration::from_millis(20),
                export_timeout: Duration::from_millis(100),
                ..BatchConfig::default()
            })
            .with_durable_queue(DurableConfig {
                max_bytes: 4 << 30,
                ..durable(&dir)
            })
            .build()
            .expect("the pipeline starts");
        let stop = AtomicBool::new(false);
        // Down: the spans on disk say so while producers go on; up: the
        // spans exported.
        let moved = |stats: &StatsSnapshot| {
            if accepting {
                stats.exported
            } else {
                stats.on_disk
            }
        };
        let seen = std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        processor.on_end(span());
                    }
                });
            }
            let seen = eventually(Duration::from_secs(10), || {
                moved(&processor.stats()) >= RECORDS
            });
            stop.store(true, Ordering::Relaxed);
            seen
        });
        let stats = processor.stats();
        let _ = processor.shutdown(Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&dir);
        let what = if accepting { "exported" } else { "on_disk" };
        assert!(
            seen,
            "{what} never reached {RECORDS} while producers went on: {stats:#?}"
        );
        assert_balanced(&processor.stats());
    }
}

#[test]
fn the_durable_queue_is_configured_by_the_durable_section() {
    use otlp_sdk::config::ConfigLoader;
    let config = ConfigLoader::new()
        .with_env([
            ("OTLP__DURABLE__DIRECTORY", "/var/lib/app/queue"),
            ("OTLP__DURABLE__FSYNC", "interval"),
            ("OTLP__DURABLE__FSYNC_INTERVAL", "250ms"),
            ("OTLP__DURABLE__MAX_BYTES", "67108864"),
        ])
        .with_config_dir(std::env::temp_dir().join("otlp-sdk-no-config-here"))
        .load()
        .expect("valid settings");
    let durable = config.durable.expect("on");
    assert_eq!(durable.directory, PathBuf::from("/var/lib/app/queue"));
    assert_eq!(
        durable.fsync,
        FsyncPolicy::Interval(Duration::from_millis(250))
    );
    assert_eq!(durable.max_bytes, 64 << 20);

    let error = ConfigLoader::new()
        .with_env([("OTLP__DURABLE__MAX_BYTES", "1048576")])
        .with_config_dir(std::env::temp_dir().join("otlp-sdk-no-config-here"))
        .load()
        .expect_err("no directory");
    assert!(error.to_string().contains("durable.directory"), "{error}");
    assert!(
        ConfigLoader::new()
            .with_config_dir(std::env::temp_dir().join("otlp-sdk-no-config-here"))
            .with_env(Vec::<(String, String)>::new())
            .load()
            .expect("defaults")
            .durable
            .is_none(),
        "off by default"
    );
}

#[test]
fn with_fsync_every_batch_each_cut_takes_every_threads_records() {
    // The strictest policy promises that a kill loses nothing handed over
    // before the last batch write: so a cut takes every thread's block, not
    // only the full ones. A quiet thread ends one span and stays alive (its
    // block in its slot); a busy thread fills blocks, and the first cut must
    // carry the quiet span too, long before the scheduled delay (a minute).
    let dir = directory("every-batch-cut");
    let backend = Arc::new(Backend::default());
    backend.accepting.store(true, Ordering::SeqCst);
    let processor = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_secs(60),
            ..BatchConfig::default()
        })
        .with_durable_queue(DurableConfig {
            fsync: FsyncPolicy::EveryBatch,
            ..DurableConfig::new(&dir)
        })
        .build()
        .expect("the pipeline starts");
    let quiet_span = span();
    let quiet_id = quiet_span.trace_id;
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (ended, has_ended) = std::sync::mpsc::channel::<()>();
    let quiet = {
        let processor = processor.clone();
        std::thread::spawn(move || {
            processor.on_end(quiet_span);
            ended.send(()).unwrap();
            let _ = released.recv();
        })
    };
    has_ended.recv().unwrap();
    // Several blocks' worth (a block holds about a thousand of these).
    for _ in 0..5_000 {
        processor.on_end(span());
    }
    let carried = eventually(Duration::from_secs(20), || {
        backend.accepted.lock().unwrap().contains(&quiet_id)
    });
    release.send(()).unwrap();
    quiet.join().unwrap();
    processor.shutdown(Duration::from_secs(10)).unwrap();
    assert!(
        carried,
        "the quiet thread's span waited for the scheduled delay"
    );
    assert_balanced(&processor.stats());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_outage_longer_than_the_disk_holds_drops_the_oldest_at_the_disk_cap_not_at_the_memory_queue() {
    // The backend is down; the program sends more than the disk (64 KiB)
    // holds, through a memory queue of 16 KiB. Before, batches stopped
    // going to disk at three quarters of the cap and the program then
    // dropped its newest spans at the full memory queue while the disk had
    // room. Now the disk fills to its cap and the oldest waiting spans are
    // evicted there, counted: the most recent spans survive the outage.
    let dir = directory("outage-cap");
    let backend = Arc::new(Backend::default());
    let processor = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_queue_bytes: 16 * 1024,
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(20),
            // The one export slot stays taken, retrying, for the whole
            // outage: batches reach the disk only by being parked there.
            export_timeout: Duration::from_secs(20),
            max_concurrent_exports: 1,
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_durable_queue(DurableConfig {
            max_bytes: 64 * 1024,
            segment_bytes: 8 * 1024,
            ..durable(&dir)
        })
        .build()
        .expect("the pipeline starts");
    let sent: Vec<SpanData> = (0..5_000).map(|_| span()).collect();
    let newest: Vec<TraceId> = sent[4_500..].iter().map(|span| span.trace_id).collect();
    for span in sent {
        processor.on_end(span);
    }
    assert!(eventually(Duration::from_secs(10), || {
        let stats = processor.stats();
        stats.queued == 0 && stats.dropped_durable > 0
    }));
    let during = processor.stats();
    assert_eq!(during.dropped_queue_full, 0, "{during:#?}");

    backend.accepting.store(true, Ordering::SeqCst);
    processor.shutdown(Duration::from_secs(30)).unwrap();
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(stats.dropped_queue_full, 0, "{stats:#?}");
    assert_eq!(
        stats.exported + stats.dropped_durable,
        5_000,
        "every span delivered or evicted at the cap: {stats:#?}"
    );
    let accepted: HashSet<TraceId> = backend.accepted.lock().unwrap().iter().copied().collect();
    let lost_newest = newest.iter().filter(|id| !accepted.contains(id)).count();
    assert_eq!(lost_newest, 0, "the 500 newest spans all arrive");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Spans in each record [`six_waiting_records`] writes.
const SPANS_PER_RECORD: u32 = 2;

/// A queue in `dir` holding six records of [`SPANS_PER_RECORD`] spans, in
/// two segments of three 1332-byte records each: 7992 of the 8192 bytes the
/// cap allows, so any new record evicts the first segment. Returns its
/// configuration and the id the next record gets.
fn six_waiting_records(dir: &Path) -> (DurableConfig, u64) {
    use otlp_sdk::durable::DurableQueue;

    let config = DurableConfig {
        max_bytes: 8 * 1024,
        segment_bytes: 4 * 1024,
        ..durable(dir)
    };
    let (mut queue, _) = DurableQueue::open(config.clone()).expect("open");
    for seq in 0..6u8 {
        // Never decoded: the backend stays down.
        let body = vec![seq; 1300];
        let _ = queue
            .append(Encoding::Protobuf, SPANS_PER_RECORD, &body)
            .expect("append");
    }
    let next = queue.stats().appended_records + 1;
    (config, next)
}

/// A pipeline with one export slot, which the first recovered record keeps
/// taken, retrying, for 30 s while `backend` is down; the others wait on
/// disk. Returns once the backend is known to be down: from then on a new
/// batch is written to disk even without a free export slot.
fn one_slot_taken(backend: &Arc<Backend>, config: DurableConfig) -> BatchSpanProcessor {
    let processor = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_secs(30),
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
    assert_eq!(processor.stats().recovered, 6 * u64::from(SPANS_PER_RECORD));
    assert!(eventually(Duration::from_secs(10), || processor
        .stats()
        .retries
        > 0));
    processor
}

/// Opens the queue in `config`'s directory once the pipeline shut down
/// before it has let go of it. A shutdown that returned at its deadline
/// (these tests give 500 ms, a slot still retrying) leaves the export loop
/// finishing its last cut, and the directory locked, a little longer on a
/// loaded machine; any error but `Locked` fails at once.
fn reopen_once_released(
    config: DurableConfig,
) -> (
    otlp_sdk::durable::DurableQueue,
    otlp_sdk::durable::Recovered,
) {
    let started = std::time::Instant::now();
    loop {
        match otlp_sdk::durable::DurableQueue::open(config.clone()) {
            Ok(opened) => return opened,
            Err(DurableError::Locked { .. }) if started.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("reopen: {error}"),
        }
    }
}

/// A full disk right after the disk cap evicted the oldest segment: the
/// append that made room then fails to write (its segment is `/dev/full`
/// here). The evicted records are gone from the disk whatever the write did,
/// so their spans are dropped and counted, not reported as persisted for a
/// next start that will never find them.
#[cfg(target_os = "linux")]
#[test]
fn records_evicted_for_an_append_that_then_fails_are_counted_as_dropped() {
    let dir = directory("evict-then-fail");
    let (config, next) = six_waiting_records(&dir);
    // The segment the next record goes to is a full disk.
    std::os::unix::fs::symlink("/dev/full", dir.join(format!("{next:020}.seg"))).expect("symlink");

    let backend = Arc::new(Backend::default());
    let processor = one_slot_taken(&backend, config.clone());
    // That append evicts and then fails.
    for _ in 0..5 {
        processor.on_end(span());
    }
    assert!(eventually(Duration::from_secs(10), || processor
        .stats()
        .queued
        == 0));
    let _ = processor.shutdown(Duration::from_millis(500));
    // Released once the loop, running late on a loaded machine, is done.
    let (_queue, recovered) = reopen_once_released(config);
    let stats = processor.stats();
    assert_balanced(&stats);

    let evicted = 3 * u64::from(SPANS_PER_RECORD);
    assert_eq!(stats.dropped_durable, evicted, "{stats:#?}");
    assert_eq!(
        stats.persisted,
        recovered.span_count(),
        "persisted is what the next start finds on disk: {stats:#?}"
    );
    // The three records the eviction spared, and the new batch: refused by
    // the disk with no export slot free, it waited in memory for one, and
    // shutdown stored it (in a new segment, past the full one).
    assert_eq!(recovered.span_count(), 3 * u64::from(SPANS_PER_RECORD) + 5);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The disk cap evicts the segment of the record being exported: that
/// record is exported from memory now, so `on_disk` leaves it out during
/// the run, as it does once shutdown has settled it.
#[test]
fn a_record_evicted_while_being_exported_is_no_longer_counted_on_disk() {
    let dir = directory("evicted-in-flight");
    let (config, _) = six_waiting_records(&dir);
    let backend = Arc::new(Backend::default());
    let processor = one_slot_taken(&backend, config.clone());
    // The new batch evicts the first segment: the record being exported
    // and the two waiting behind it.
    for _ in 0..5 {
        processor.on_end(span());
    }
    let waiting_evicted = 2 * u64::from(SPANS_PER_RECORD);
    assert!(eventually(Duration::from_secs(10), || {
        let stats = processor.stats();
        stats.queued == 0 && stats.dropped_durable == waiting_evicted
    }));
    let exported_from_memory = u64::from(SPANS_PER_RECORD);
    let exact = eventually(Duration::from_secs(10), || {
        let stats = processor.stats();
        stats.on_disk + exported_from_memory == stats.in_flight
    });
    let during = processor.stats();
    let _ = processor.shutdown(Duration::from_millis(500));
    // Released once the loop, running late on a loaded machine, is done.
    drop(reopen_once_released(config));
    let after = processor.stats();
    assert_balanced(&after);
    assert_eq!(after.on_disk, after.persisted, "{after:#?}");
    assert!(
        exact,
        "on disk: {} of {} in flight, {exported_from_memory} of them exported from memory; \
         after shutdown: {} on disk",
        during.on_disk, during.in_flight, after.on_disk
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A log exporter that counts the requests it is given.
#[derive(Default)]
struct LogSink {
    requests: AtomicU64,
}

struct LogSinkExporter(Arc<LogSink>);

impl Exporter for LogSinkExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    async fn export(&self, _request: ExportRequest) -> ExportOutcome {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
        ExportOutcome::Success
    }
}

/// One `Config` with `durable.directory` given to the span pipeline of one
/// run and to the log pipeline of the next: the directory holds trace
/// requests, which the log pipeline would send to the logs endpoint. Its
/// start is refused instead, with an error naming the directory and both
/// signals, and the directory is left for the span pipeline, untouched.
#[test]
fn a_log_pipeline_is_refused_the_directory_a_span_pipeline_wrote() {
    use otlp_sdk::config::Config;
    use otlp_sdk::{BatchLogProcessor, LogProcessor};

    let dir = directory("signal");
    let config = Config {
        durable: Some(durable(&dir)),
        // The export gives up after 100 ms, parking the spans on disk, and
        // shutdown then returns: its deadline is for a loaded machine only
        // (at 500 ms it passed before the spans were on disk, once in a
        // while under load).
        batch: BatchConfig {
            export_timeout: Duration::from_millis(100),
            ..BatchConfig::default()
        },
        ..Config::default()
    };
    let down = Arc::new(Backend::default());
    let spans = BatchSpanProcessor::builder(BackendExporter(down.clone()))
        .with_config(&config)
        .build()
        .expect("the span pipeline starts");
    for _ in 0..10 {
        spans.on_end(span());
    }
    let _ = spans.shutdown(Duration::from_secs(10));
    assert_eq!(spans.stats().persisted, 10, "{:#?}", spans.stats());

    let sink = Arc::new(LogSink::default());
    let logs = BatchLogProcessor::builder(LogSinkExporter(sink.clone()))
        .with_config(&config)
        .build();
    let error = match logs {
        Ok(logs) => {
            let _ = logs.shutdown(Duration::from_secs(1));
            panic!(
                "the log pipeline started on the span pipeline's directory and sent {} of its requests",
                sink.requests.load(Ordering::SeqCst)
            );
        }
        Err(error) => error,
    };
    let message = error.to_string();
    match &error {
        PipelineError::Durable { directory, source } => {
            assert_eq!(directory, &dir);
            assert!(
                matches!(
                    **source,
                    DurableError::WrongSignal {
                        holds: Signal::Traces,
                        wanted: Signal::Logs,
                        ..
                    }
                ),
                "{source:?}"
            );
        }
        other => panic!("expected PipelineError::Durable, got {other:?}"),
    }
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(
        message.contains("holds traces requests, not logs"),
        "{message}"
    );
    assert_eq!(sink.requests.load(Ordering::SeqCst), 0);

    // The refused start touched nothing: the span pipeline gets every record back.
    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        ..Backend::default()
    });
    let again = pipeline(&up, durable(&dir));
    assert_eq!(again.stats().recovered, 10);
    again.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(up.accepted.lock().unwrap().len(), 10);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A segment file copied into a span pipeline's directory from a log
/// pipeline's (a restored backup, files moved by hand) holds log requests:
/// the span pipeline neither sends them to its backend nor counts them as
/// recovered spans, and its stats say where the file went.
#[test]
fn a_log_segment_copied_into_a_span_pipelines_directory_is_not_sent_and_is_named() {
    let spans_dir = directory("foreign-spans");
    let logs_dir = directory("foreign-logs");
    let (mut logs, _) =
        DurableQueue::open_for(durable(&logs_dir), Signal::Logs).expect("the log queue opens");
    for _ in 0..3 {
        let _ = logs
            .append(Encoding::Protobuf, 2, b"a log request")
            .expect("stored");
    }
    drop(logs);
    std::fs::create_dir_all(&spans_dir).unwrap();
    let name = "00000000000000000001.seg";
    std::fs::copy(logs_dir.join(name), spans_dir.join(name)).unwrap();

    let backend = Arc::new(Backend::default());
    let processor = pipeline(&backend, durable(&spans_dir));
    let stats = processor.stats();
    assert_eq!(stats.recovered, 0, "{stats:#?}");
    let error = stats.last_error.clone().unwrap_or_default();
    let aside = spans_dir.join("00000000000000000001.seg.logs");
    assert!(
        error.contains("another signal's requests") && error.contains(&aside.display().to_string()),
        "{error}"
    );
    let _ = processor.shutdown(Duration::from_secs(5));
    assert_eq!(backend.attempts.load(Ordering::SeqCst), 0);
    assert_eq!(
        std::fs::read(&aside).ok(),
        std::fs::read(logs_dir.join(name)).ok(),
        "kept, as it was"
    );
    let _ = std::fs::remove_dir_all(&spans_dir);
    let _ = std::fs::remove_dir_all(&logs_dir);
}

/// A segment copied in from another span pipeline's directory, whose
/// record ids overlap the directory's own (review 133): the pipeline
/// recovers the directory's own records, not the copy's, loses none of its
/// own as damage (its segments' ranges were cut by the copy's name), and
/// its stats say where the copy went.
#[test]
fn a_segment_whose_ids_overlap_the_directorys_own_is_not_sent_and_is_named() {
    let spans_dir = directory("overlap-spans");
    let other_dir = directory("overlap-other");
    let config = |dir: &Path| DurableConfig {
        segment_bytes: 4096,
        ..durable(dir)
    };
    // Ours: records 1-2 and 3-4 (named 1 and 3), two spans each.
    let (mut queue, _) =
        DurableQueue::open_for(config(&spans_dir), Signal::Traces).expect("the queue opens");
    for _ in 0..4 {
        let _ = queue
            .append(Encoding::Protobuf, 2, &[7; 2000])
            .expect("stored");
    }
    drop(queue);
    // Theirs: record 1 fills segment 1; records 2-3 (named 2), five spans each.
    let (mut queue, _) =
        DurableQueue::open_for(config(&other_dir), Signal::Traces).expect("the queue opens");
    for len in [4064, 2000, 2000] {
        let _ = queue
            .append(Encoding::Protobuf, 5, &vec![9; len])
            .expect("stored");
    }
    drop(queue);
    let name = "00000000000000000002.seg";
    std::fs::copy(other_dir.join(name), spans_dir.join(name)).unwrap();

    let backend = Arc::new(Backend::default());
    let processor = pipeline(&backend, config(&spans_dir));
    let stats = processor.stats();
    assert_eq!(
        (stats.recovered, stats.dropped_durable, stats.produced),
        (8, 0, 8),
        "{stats:#?}"
    );
    let error = stats.last_error.clone().unwrap_or_default();
    let aside = spans_dir.join("00000000000000000002.seg.overlap");
    assert!(
        error.contains("overlap") && error.contains(&aside.display().to_string()),
        "{error}"
    );
    let _ = processor.shutdown(Duration::from_secs(1));
    assert_balanced(&processor.stats());
    assert_eq!(
        std::fs::read(&aside).ok(),
        std::fs::read(other_dir.join(name)).ok(),
        "kept, as it was"
    );
    let _ = std::fs::remove_dir_all(&spans_dir);
    let _ = std::fs::remove_dir_all(&other_dir);
}

/// A record found damaged when the pipeline starts is lost, as one found
/// damaged when read back is; and when its header survived, its span count
/// is known: those spans are counted (`dropped_durable`, and so `produced`),
/// so that what one run left on disk is what the next one recovered plus
/// what it counted lost, and the loss reaches the loss report rather than
/// only the last error's text.
#[test]
fn spans_of_a_record_found_damaged_at_start_are_counted_as_dropped() {
    let dir = directory("damaged-at-start");
    let (mut queue, _) =
        DurableQueue::open_for(durable(&dir), Signal::Traces).expect("the queue opens");
    for spans in [2, 3, 4] {
        let _ = queue
            .append(Encoding::Protobuf, spans, &[7; 100])
            .expect("stored");
    }
    drop(queue);
    // A bit flipped in the second record's body (records are 32 + 100 bytes).
    let segment = dir.join("00000000000000000001.seg");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[132 + 32 + 50] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let backend = Arc::new(Backend::default());
    let processor = pipeline(&backend, durable(&dir));
    let stats = processor.stats();
    assert_eq!(
        (stats.recovered, stats.dropped_durable, stats.produced),
        (6, 3, 9),
        "{stats:#?}"
    );
    assert_balanced(&stats);
    let _ = processor.shutdown(Duration::from_secs(5));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (stats.persisted, stats.dropped_durable),
        (6, 3),
        "{stats:#?}"
    );

    // Counted once: the damage is gone from disk.
    let again = pipeline(&backend, durable(&dir));
    let stats = again.stats();
    assert_eq!(
        (stats.recovered, stats.dropped_durable),
        (6, 0),
        "{stats:#?}"
    );
    let _ = again.shutdown(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second pipeline given a directory another pipeline has open is refused
/// with an error a program can match on: `PipelineError::Durable` naming the
/// directory, its source `DurableError::Locked`. (It was
/// `PipelineError::Start` with the same words as text.)
#[test]
fn a_directory_in_use_is_refused_with_a_typed_error_naming_it() {
    let dir = directory("locked");
    let backend = Arc::new(Backend::default());
    let first = pipeline(&backend, durable(&dir));
    let error = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_durable_queue(durable(&dir))
        .build()
        .expect_err("the directory is in use");
    match &error {
        PipelineError::Durable { directory, source } => {
            assert_eq!(directory, &dir);
            assert!(
                matches!(**source, DurableError::Locked { ref path, .. } if path == &dir),
                "{source:?}"
            );
            // The error chain reaches the durable queue's own error.
            let cause = std::error::Error::source(&error).expect("a source");
            assert_eq!(cause.to_string(), source.to_string());
        }
        other => panic!("expected PipelineError::Durable, got {other:?}"),
    }
    assert!(
        error.to_string().contains("is in use by another queue"),
        "{error}"
    );
    assert_eq!(error.clone(), error);
    let _ = first.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A durable queue that cannot store (here a file already holds the name of
/// the first segment, so creating it fails every time; a full disk does
/// the same): batches go to the backend from memory, unprotected, and with
/// the backend down they fail. The reason must reach the user, naming the
/// file: the last error and the loss reports only name the transport error
/// that came after (it overwrote the disk's at once), so a warning says
/// it, once per failing stretch.
#[test]
fn a_durable_queue_that_cannot_store_says_so_in_a_warning_naming_the_file() {
    let dir = directory("cannot-store");
    let backend = Arc::new(Backend::default());
    let processor = pipeline(&backend, durable(&dir));
    let blocker = dir.join(format!("{:020}.seg", 1));
    std::fs::write(&blocker, b"").expect("take the first segment's name");
    let blocker_text = blocker.display().to_string();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let wanted = dir.display().to_string();
    otlp_sdk::diagnostics::set_warning_handler(move |warning| {
        let text = warning.to_string();
        if text.contains(&wanted) {
            sink.lock().unwrap().push(text);
        }
    });
    for _ in 0..10 {
        processor.on_end(span());
    }
    let _ = processor.shutdown(Duration::from_secs(10));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(stats.persisted, 0, "{stats:#?}");
    let warnings = warnings.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "{warnings:#?}\n{stats:#?}");
    assert!(warnings[0].contains(&blocker_text), "{}", warnings[0]);
    assert!(warnings[0].contains("from memory"), "{}", warnings[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Holds every export while the backend is down (until it accepts), and
/// counts the exports under way at once.
struct HoldingExporter {
    backend: Arc<Backend>,
    current: Arc<AtomicU64>,
    most: Arc<AtomicU64>,
}

/// Lowers the count of exports under way when one ends, or is cancelled.
struct UnderWay(Arc<AtomicU64>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Exporter for HoldingExporter {
    fn encoding(&self) -> Encoding {
        BackendExporter(self.backend.clone()).encoding()
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        let _under_way = UnderWay(self.current.clone());
        self.most.fetch_max(now, Ordering::SeqCst);
        while !self.backend.accepting.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        BackendExporter(self.backend.clone()).export(request).await
    }
}

/// A span whose name makes any request of a few of them larger than a
/// 4 KiB segment: a second record always starts a new segment.
fn large_span() -> SpanData {
    SpanData::builder("x".repeat(1000))
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .times(1, 2)
        .build()
}

/// A pipeline with one export slot whose durable queue can store its first
/// record (in segment 1) and no other: the name of segment `blocked` is
/// taken, so every append that starts it fails. Returns the pipeline and
/// the exporter's counts of exports under way (now, and at most).
fn one_slot_and_a_disk_that_fails_at(
    dir: &Path,
    backend: &Arc<Backend>,
    blocked: u64,
) -> (BatchSpanProcessor, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (current, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let exporter = HoldingExporter {
        backend: backend.clone(),
        current: current.clone(),
        most: most.clone(),
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_secs(60),
            max_concurrent_exports: 1,
            ..BatchConfig::default()
        })
        .with_durable_queue(DurableConfig {
            segment_bytes: 4 * 1024,
            max_bytes: 1024 * 1024,
            ..durable(dir)
        })
        .build()
        .expect("the pipeline starts");
    // After the queue opened (which would take an empty segment for a torn one).
    std::fs::write(dir.join(format!("{blocked:020}.seg")), b"").expect("take the segment's name");
    (processor, current, most)
}

/// With [`one_slot_and_a_disk_that_fails_at`] segment 2: a first batch of
/// five large spans is stored (segment 1) and takes the one export slot,
/// held there while the backend is down; the next five are cut for the
/// disk (no slot is free), whose append, starting segment 2, fails, and
/// wait in memory. Returns once all ten are in flight.
fn fill_the_slot_then_have_the_disk_refuse(processor: &BatchSpanProcessor, current: &AtomicU64) {
    for _ in 0..5 {
        processor.on_end(large_span());
    }
    assert!(eventually(Duration::from_secs(10), || current
        .load(Ordering::SeqCst)
        == 1));
    for _ in 0..5 {
        processor.on_end(large_span());
    }
    assert!(eventually(Duration::from_secs(10), || {
        let stats = processor.stats();
        stats.queued == 0 && stats.in_flight == 10
    }));
}

/// A batch cut for the disk without a free export slot, which the disk
/// then refused (full, an I/O error), was exported from memory at once:
/// one export more than `max_concurrent_exports`. It now waits in memory
/// for the slot, and goes once the slot is free.
#[test]
fn a_batch_the_disk_refuses_waits_for_a_free_export_slot() {
    let dir = directory("refused-no-slot");
    let backend = Arc::new(Backend::default());
    let (processor, current, most) = one_slot_and_a_disk_that_fails_at(&dir, &backend, 2);
    // The first batch is stored (segment 1) and takes the one slot; the
    // next is refused by the disk (segment 2) and held in memory.
    fill_the_slot_then_have_the_disk_refuse(&processor, &current);
    // No signal says that an export did not start: the export that went
    // over the limit started at once before, seen here within half a
    // second (a machine slower than that lets it pass unseen, never fail).
    let over = eventually(Duration::from_millis(500), || {
        most.load(Ordering::SeqCst) > 1
    });
    assert!(
        !over,
        "{} exports at once with one slot",
        most.load(Ordering::SeqCst)
    );

    backend.accepting.store(true, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(10), || backend
        .accepted
        .lock()
        .unwrap()
        .len()
        == 10));
    processor
        .shutdown(Duration::from_secs(10))
        .expect("all delivered");
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!((stats.exported, stats.failed), (10, 0), "{stats:#?}");
    assert_eq!(most.load(Ordering::SeqCst), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Shutdown past its deadline cuts what is still queued for the disk; a
/// disk that refused it (full) had each batch exported from memory, after
/// the deadline, and counted failed as "still in flight at the shutdown
/// deadline": it was never sent in time, it is what shutdown drops. It is
/// now dropped at shutdown and counted so, as without a durable queue.
#[test]
fn what_a_full_disk_refuses_at_shutdown_is_dropped_at_shutdown_not_failed_in_flight() {
    let dir = directory("refused-at-shutdown");
    let backend = Arc::new(Backend::default());
    // No append succeeds: the first segment's name is taken.
    let (processor, current, _) = one_slot_and_a_disk_that_fails_at(&dir, &backend, 1);
    // The first batch goes from memory (the disk refused it, a slot was
    // free) and is held there; the rest stays queued: no slot, and no
    // batch is cut for a disk that refuses them.
    for _ in 0..5 {
        processor.on_end(large_span());
    }
    assert!(eventually(Duration::from_secs(10), || current
        .load(Ordering::SeqCst)
        == 1));
    for _ in 0..35 {
        processor.on_end(large_span());
    }
    let before = processor.stats();
    assert_eq!(before.queued + before.in_flight, 40, "{before:#?}");
    assert!(before.queued > 0, "{before:#?}");

    let _ = processor.shutdown(Duration::from_millis(300));
    // A loop running late on a loaded machine settles after the answer.
    assert!(eventually(Duration::from_secs(30), || {
        let stats = processor.stats();
        stats.queued == 0 && stats.in_flight == 0
    }));
    let stats = processor.stats();
    assert_balanced(&stats);
    assert_eq!(
        (stats.dropped_shutdown, stats.failed, stats.persisted),
        (before.queued, before.in_flight, 0),
        "{stats:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An OTLP/JSON pipeline stores the protobuf request each JSON body is
/// transcoded from, so that what waits on disk goes out whichever protocol
/// the next run speaks. A batch the disk refused while no export slot was
/// free waits in memory as its JSON body; shutdown, storing it then, stored
/// that JSON body: the next run, over protobuf, had it refused for good
/// (its spans failed). It stores the protobuf request, as every other append.
#[test]
fn a_json_batch_held_for_a_slot_is_stored_at_shutdown_as_its_protobuf_request() {
    let dir = directory("held-json");
    let backend = Arc::new(Backend {
        json: true,
        ..Backend::default()
    });
    let (processor, current, _) = one_slot_and_a_disk_that_fails_at(&dir, &backend, 2);
    // The first batch is stored (segment 1) and takes the one slot; the
    // next is refused by the disk (segment 2) and held in memory.
    fill_the_slot_then_have_the_disk_refuse(&processor, &current);
    // The disk takes it again by the time of the shutdown.
    std::fs::remove_file(dir.join(format!("{:020}.seg", 2))).expect("free segment 2's name");
    let _ = processor.shutdown(Duration::from_millis(500));
    // Released once the loop, running late on a loaded machine, is done.
    let (queue, recovered) = reopen_once_released(durable(&dir));
    assert_eq!(processor.stats().persisted, 10, "{:#?}", processor.stats());
    let encodings: Vec<Encoding> = recovered.records.iter().map(|r| r.encoding).collect();
    assert_eq!(
        encodings,
        [Encoding::Protobuf, Encoding::Protobuf],
        "both requests stored as protobuf"
    );
    drop(queue);
    // A run over protobuf delivers all ten spans.
    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        ..Backend::default()
    });
    let next = pipeline(&up, durable(&dir));
    next.shutdown(Duration::from_secs(10))
        .expect("all delivered");
    let stats = next.stats();
    assert_balanced(&stats);
    assert_eq!((stats.exported, stats.failed), (10, 0), "{stats:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three resources and two scopes, shared by the spans made from them.
struct ReplaySources {
    resources: Vec<Arc<otlp_core::Resource>>,
    scopes: Vec<Arc<otlp_core::InstrumentationScope>>,
}

impl ReplaySources {
    fn new() -> Self {
        use otlp_core::{InstrumentationScope, KeyValue, Resource};
        ReplaySources {
            resources: (0..3)
                .map(|r| {
                    Arc::new(Resource::new([KeyValue::new(
                        "service.name",
                        format!("svc-{r}"),
                    )]))
                })
                .collect(),
            scopes: (0..2)
                .map(|s| {
                    Arc::new(
                        InstrumentationScope::new(format!("scope-{s}"))
                            .with_version(format!("1.{s}")),
                    )
                })
                .collect(),
        }
    }

    /// Span `n`: from resource `n % 3` and scope `n % 2`, with attributes of
    /// four kinds.
    fn span(&self, n: u64) -> SpanData {
        use otlp_core::KeyValue;
        SpanData::builder(format!("replayed-{n}"))
            .trace_id(TraceId::from_bytes(u128::from(n + 1).to_be_bytes()))
            .span_id(SpanId::from_bytes((n + 1).to_be_bytes()))
            .times(1_000 + n, 2_000 + n)
            .attribute(KeyValue::new("int", n as i64))
            .attribute(KeyValue::new("string", format!("value {n}")))
            .attribute(KeyValue::new("bool", n.is_multiple_of(2)))
            .attribute(KeyValue::new("double", n as f64 / 4.0))
            .resource(self.resources[(n % 3) as usize].clone())
            .scope(self.scopes[(n % 2) as usize].clone())
            .build()
    }
}

/// Checks, decoding with `opentelemetry-proto`, that the stored requests
/// hold each of spans `0..count` of [`ReplaySources::span`] once, under its own
/// resource and scope, with its name, ids, times and attributes.
fn check_replayed_spans(
    requests: &[opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest],
    count: u64,
) {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    let attribute = |key: &str, value: Value| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    };
    let mut seen = HashSet::new();
    for request in requests {
        for resource_spans in &request.resource_spans {
            let resource = resource_spans.resource.clone().expect("a resource");
            for scope_spans in &resource_spans.scope_spans {
                let scope = scope_spans.scope.clone().expect("a scope");
                for span in &scope_spans.spans {
                    let n: u64 = span.name["replayed-".len()..]
                        .parse()
                        .expect("a span of ours");
                    assert!(n < count && seen.insert(n), "span {n} once");
                    let svc = format!("svc-{}", n % 3);
                    assert_eq!(
                        resource.attributes,
                        [attribute("service.name", Value::StringValue(svc))],
                        "span {n}'s resource"
                    );
                    assert_eq!(
                        (scope.name.clone(), scope.version.clone()),
                        (format!("scope-{}", n % 2), format!("1.{}", n % 2)),
                        "span {n}'s scope"
                    );
                    assert_eq!(span.trace_id, u128::from(n + 1).to_be_bytes());
                    assert_eq!(span.span_id, (n + 1).to_be_bytes());
                    assert_eq!(
                        (span.start_time_unix_nano, span.end_time_unix_nano),
                        (1_000 + n, 2_000 + n)
                    );
                    assert_eq!(
                        span.attributes,
                        [
                            attribute("int", Value::IntValue(n as i64)),
                            attribute("string", Value::StringValue(format!("value {n}"))),
                            attribute("bool", Value::BoolValue(n.is_multiple_of(2))),
                            attribute("double", Value::DoubleValue(n as f64 / 4.0)),
                        ],
                        "span {n}'s attributes"
                    );
                }
            }
        }
    }
    assert_eq!(seen.len() as u64, count, "every span");
}

/// What a restart sends from disk is what was stored, byte for byte over
/// protobuf (over OTLP/JSON, the transcoding of it: the same request once
/// decoded), and holds the spans produced: names, ids, times and attributes
/// under their own resources and scopes (checked with `opentelemetry-proto`),
/// not only as many of them.
#[test]
fn a_restart_resends_the_stored_requests_byte_for_byte_with_their_resources_and_scopes() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use otlp_sdk::durable::DurableQueue;
    use prost::Message;

    const SPANS: u64 = 300;
    for json in [false, true] {
        let dir = directory("replay-content");
        let down = Arc::new(Backend {
            json,
            ..Backend::default()
        });
        let first = pipeline(&down, durable(&dir));
        let sources = ReplaySources::new();
        for n in 0..SPANS {
            first.on_end(sources.span(n));
        }
        let _ = first.shutdown(Duration::from_secs(5));
        assert_eq!(first.stats().persisted, SPANS, "{:#?}", first.stats());

        let (mut queue, recovered) = DurableQueue::open(durable(&dir)).expect("reopen");
        let stored: Vec<Vec<u8>> = recovered
            .records
            .iter()
            .map(|record| {
                let mut body = Vec::new();
                queue.read(record.id, &mut body).expect("a stored request");
                body
            })
            .collect();
        drop(queue);
        let stored_requests: Vec<ExportTraceServiceRequest> = stored
            .iter()
            .map(|body| ExportTraceServiceRequest::decode(body.as_slice()).expect("protobuf"))
            .collect();
        check_replayed_spans(&stored_requests, SPANS);

        let up = Arc::new(Backend {
            json,
            accepting: AtomicBool::new(true),
            ..Backend::default()
        });
        // One export at a time: they arrive in the order stored.
        let second = pipeline_with(&up, durable(&dir), 1);
        second
            .shutdown(Duration::from_secs(10))
            .expect("all delivered");
        assert_balanced(&second.stats());
        let received = up.bodies.lock().unwrap().clone();
        if json {
            let decoded: Vec<ExportTraceServiceRequest> = received
                .iter()
                .map(|body| serde_json::from_slice(body).expect("OTLP/JSON"))
                .collect();
            assert_eq!(decoded, stored_requests, "parsed, the requests stored");
        } else {
            assert!(received == stored, "byte for byte, the requests stored");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Throttles every request: retryable, "come back in `hint`", and counts
/// the attempts.
struct ThrottlingExporter {
    hint: Duration,
    attempts: Arc<AtomicU64>,
}

impl Exporter for ThrottlingExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _request: ExportRequest) -> ExportOutcome {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        ExportOutcome::Retryable {
            error: ExportError::Server {
                status: "HTTP 429".into(),
                message: "slow down".into(),
            },
            throttle: Some(self.hint),
        }
    }
}

/// A server that throttles asks the client to wait at least its hint
/// (`RetryInfo`, `Retry-After`). A request whose hint runs past its export
/// deadline waits on disk for a later round; that round came after the
/// retry policy's backoff alone (here 5 ms, growing to 20 ms), so a
/// request the server asked to hold off for a minute was sent again dozens
/// of times a second. The next round now waits the hint too.
#[test]
fn a_request_parked_by_a_throttle_is_not_sent_again_before_the_servers_hint() {
    let dir = directory("throttled");
    let attempts = Arc::new(AtomicU64::new(0));
    let exporter = ThrottlingExporter {
        hint: Duration::from_secs(60),
        attempts: attempts.clone(),
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_millis(100),
            max_concurrent_exports: 1,
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_durable_queue(durable(&dir))
        .build()
        .expect("the pipeline starts");
    for _ in 0..10 {
        processor.on_end(span());
    }
    assert!(eventually(Duration::from_secs(10), || attempts
        .load(Ordering::SeqCst)
        >= 1));
    // Far less than the hint: a machine slower than expected only makes
    // fewer attempts.
    std::thread::sleep(Duration::from_millis(500));
    let sent = attempts.load(Ordering::SeqCst);
    assert_eq!(
        processor.shutdown(Duration::from_secs(5)),
        Err(PipelineError::Persisted {
            spans: 10,
            signal: Signal::Traces
        })
    );
    assert_balanced(&processor.stats());
    assert_eq!(sent, 1, "sent again before the server's hint");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Accepts every request but rejects two of its spans (a partial success),
/// counting the requests.
struct PartlyRejecting(Arc<AtomicU64>);

impl Exporter for PartlyRejecting {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _request: ExportRequest) -> ExportOutcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        ExportOutcome::PartialSuccess {
            rejected_spans: 2,
            message: "two spans are bad".into(),
        }
    }
}

/// A partial success is an answer: the request leaves the disk, its
/// rejected spans counted `rejected` and the rest exported, and nothing of
/// it is sent again, in this run or the next.
#[test]
fn a_partly_rejected_request_leaves_the_disk_counted_and_is_not_sent_again() {
    let dir = directory("partial");
    let requests = Arc::new(AtomicU64::new(0));
    let processor = BatchSpanProcessor::builder(PartlyRejecting(requests.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_secs(10),
            ..BatchConfig::default()
        })
        .with_durable_queue(durable(&dir))
        .build()
        .expect("the pipeline starts");
    for _ in 0..200 {
        processor.on_end(span());
    }
    let _ = processor.shutdown(Duration::from_secs(10));
    let stats = processor.stats();
    assert_balanced(&stats);
    let sent = requests.load(Ordering::SeqCst);
    assert_eq!(
        (
            stats.rejected,
            stats.exported,
            stats.persisted,
            stats.failed
        ),
        (2 * sent, 200 - 2 * sent, 0, 0),
        "{sent} requests, each sent once: {stats:#?}"
    );
    let again = pipeline(&Arc::new(Backend::default()), durable(&dir));
    assert_eq!(again.stats().recovered, 0, "nothing left on disk");
    again.shutdown(Duration::from_secs(1)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pipeline of one span per request, its requests capped at `max_request_bytes`.
fn capped_pipeline(
    backend: &Arc<Backend>,
    config: DurableConfig,
    max_request_bytes: usize,
) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 1,
            min_export_batch_size: 1,
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_millis(100),
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_performance_config(PerformanceConfig {
            max_request_bytes,
            ..PerformanceConfig::default()
        })
        .with_durable_queue(config)
        .build()
        .expect("the pipeline starts")
}

/// A protobuf request parked on disk by one run, read back by a run whose
/// exporter takes OTLP/JSON, is transcoded: its JSON may be larger than the
/// request cap, which a fresh request never is (one span larger, as JSON,
/// than the cap is dropped and counted `dropped_oversized`). Such a
/// replayed request was sent all the same; it is dropped and counted the
/// same way now, and leaves the disk.
#[test]
fn a_request_read_back_larger_than_the_request_cap_as_json_is_dropped_and_counted() {
    use otlp_core::KeyValue;
    use otlp_core::encode::TraceEncoder;

    let large = || {
        let mut builder = SpanData::builder("durable work")
            .trace_id(TraceId::random())
            .span_id(SpanId::random())
            .times(1, 2);
        for i in 0..20 {
            builder = builder.attribute(KeyValue::new(format!("attribute.{i}"), i));
        }
        builder.build()
    };
    let (mut encoder, mut json) = (TraceEncoder::new(), Vec::new());
    let large_protobuf = encoder.encoded_len(&[large()]);
    let large_json = encoder.encode_json(&[large()], &mut json);
    json.clear();
    let small_json = encoder.encode_json(&[span()], &mut json);
    // Between the large span's protobuf and its JSON; the small one's JSON fits.
    let cap = large_protobuf.max(small_json) + 16;
    assert!(
        cap < large_json,
        "{large_protobuf} {large_json} {small_json}"
    );

    let dir = directory("replayed-cap");
    let down = Arc::new(Backend::default());
    let first = capped_pipeline(&down, durable(&dir), cap);
    for span in [large(), span(), large()] {
        first.on_end(span);
    }
    let _ = first.shutdown(Duration::from_secs(2));
    assert_eq!(first.stats().persisted, 3, "{:#?}", first.stats());

    let up = Arc::new(Backend {
        accepting: AtomicBool::new(true),
        json: true,
        ..Backend::default()
    });
    let second = capped_pipeline(&up, durable(&dir), cap);
    // The shutdown covers what waited on disk: it reports the dropped spans.
    assert!(
        matches!(
            second.shutdown(Duration::from_secs(5)),
            Err(PipelineError::Undelivered {
                failed: 2,
                rejected: 0,
                ..
            })
        ),
        "{:#?}",
        second.stats()
    );
    let stats = second.stats();
    assert_balanced(&stats);
    assert_eq!(
        (
            stats.recovered,
            stats.exported,
            stats.dropped_oversized,
            stats.dropped_oversized_on_arrival,
            stats.failed,
            stats.persisted
        ),
        (3, 1, 2, 0, 0, 0),
        "{stats:#?}"
    );
    let bodies = up.bodies.lock().unwrap().clone();
    assert!(
        bodies.iter().all(|body| body.len() <= cap),
        "{:?}",
        bodies.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("request cap")),
        "{:?}",
        stats.last_error
    );
    let again = pipeline(&Arc::new(Backend::default()), durable(&dir));
    assert_eq!(again.stats().recovered, 0, "nothing left on disk");
    again.shutdown(Duration::from_secs(1)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
