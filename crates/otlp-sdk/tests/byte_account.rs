//! The byte account (`StatsSnapshot::bytes`): every record's bytes — the
//! length of its encoded OTLP message — are produced, answered, dropped,
//! failed, queued or in flight, at every moment and exactly after shutdown;
//! and what the pipeline says it sent is what `opentelemetry-proto` decodes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_core::encode::Encoding;
use otlp_core::encode::record::encode_span;
use otlp_core::{KeyValue, SpanData, SpanId, TraceId};
use otlp_sdk::config::BatchConfig;
use otlp_sdk::durable::{DurableConfig, FsyncPolicy};
use otlp_sdk::{
    BatchSpanProcessor, ExportError, ExportOutcome, ExportRequest, Exporter, RetryPolicy,
    SpanProcessor, StatsSnapshot,
};
use prost::Message;

mod durable_support;
use durable_support::TempDir;

/// The sum of the encoded lengths of the spans in `body`, decoded by
/// `opentelemetry-proto` and measured by `prost`.
fn decoded_span_bytes(body: &[u8]) -> u64 {
    let request = ExportTraceServiceRequest::decode(body).expect("a valid request");
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| span.encoded_len() as u64)
        .sum()
}

fn encoded_len(span: &SpanData) -> u64 {
    let mut bytes = Vec::new();
    encode_span(span, &mut bytes);
    bytes.len() as u64
}

fn span(name: String, attributes: usize) -> SpanData {
    SpanData::builder(name)
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .times(1_000, 2_000)
        .attributes((0..attributes).map(|k| KeyValue::new(format!("key.{k}"), "v".repeat(k * 7))))
        .build()
}

/// Answers the `n`th request (from 0): a permanent refusal every fifth, a
/// partial success rejecting one span every fifth after that, success
/// otherwise — or a retryable refusal while `down`. Keeps each body's
/// decoded span bytes by what became of it.
#[derive(Default)]
struct Backend {
    down: AtomicBool,
    requests: AtomicU64,
    answered_bytes: Mutex<u64>,
    refused_bytes: Mutex<u64>,
}

struct BackendExporter(Arc<Backend>);

impl Exporter for BackendExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let backend = &self.0;
        if backend.down.load(Ordering::SeqCst) {
            return ExportOutcome::Retryable {
                error: ExportError::Transport("connection refused".into()),
                throttle: None,
            };
        }
        let bytes = decoded_span_bytes(&request.body);
        let n = backend.requests.fetch_add(1, Ordering::SeqCst);
        if n.is_multiple_of(5) {
            *backend.refused_bytes.lock().unwrap() += bytes;
            return ExportOutcome::Permanent {
                error: ExportError::Server {
                    status: "HTTP 400".into(),
                    message: "bad data".into(),
                },
            };
        }
        *backend.answered_bytes.lock().unwrap() += bytes;
        if n % 5 == 1 {
            return ExportOutcome::PartialSuccess {
                rejected_spans: 1,
                message: "one span too old".into(),
            };
        }
        ExportOutcome::Success
    }
}

fn assert_balanced(stats: &StatsSnapshot) {
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

#[test]
fn every_byte_is_accounted_for_and_what_was_answered_is_what_the_backend_decoded() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 3_000;
    let backend = Arc::new(Backend::default());
    let processor = BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_queue_bytes: 256 * 1024,
            max_export_batch_size: 200,
            scheduled_delay: Duration::from_millis(2),
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            enabled: false,
            ..RetryPolicy::default()
        })
        .build()
        .expect("the pipeline starts");
    let produced: Vec<Vec<SpanData>> = (0..THREADS)
        .map(|t| {
            (0..PER_THREAD)
                .map(|i| span(format!("t{t} span {i}"), i % 9))
                .collect()
        })
        .collect();
    // Larger than the whole queue: refused as it arrives.
    let too_large = span("x".repeat(300 * 1024), 0);
    let too_large_len = encoded_len(&too_large);
    let produced_len: u64 = produced.iter().flatten().map(encoded_len).sum();

    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Balanced in every snapshot while producers, the loop and the
        // export tasks move records and bytes.
        let reader = scope.spawn(|| {
            let mut snapshots = 0u64;
            while !done.load(Ordering::SeqCst) {
                assert_balanced(&processor.stats());
                snapshots += 1;
            }
            snapshots
        });
        let producers: Vec<_> = produced
            .iter()
            .map(|spans| {
                let processor = processor.clone();
                scope.spawn(move || {
                    for span in spans {
                        processor.on_end(span.clone());
                    }
                })
            })
            .collect();
        processor.on_end(too_large);
        for producer in producers {
            producer.join().expect("a producer");
        }
        let _ = processor.force_flush(Duration::from_secs(30));
        done.store(true, Ordering::SeqCst);
        assert!(reader.join().expect("the reader") > 0);
    });
    let _ = processor.shutdown(Duration::from_secs(30));
    // After shutdown: dropped as it arrived.
    let late = span("late".into(), 3);
    let late_len = encoded_len(&late);
    processor.on_end(late);

    let stats = processor.stats();
    assert_balanced(&stats);
    let bytes = stats.bytes;
    assert_eq!((bytes.queued, bytes.in_flight), (0, 0), "{stats:#?}");
    assert_eq!(
        bytes.answered,
        *backend.answered_bytes.lock().unwrap(),
        "{stats:#?}"
    );
    assert_eq!(
        bytes.failed,
        *backend.refused_bytes.lock().unwrap(),
        "{stats:#?}"
    );
    assert!(bytes.failed > 0 && stats.rejected > 0, "{stats:#?}");
    assert_eq!(
        bytes.produced,
        produced_len + too_large_len + late_len,
        "{stats:#?}"
    );
    assert_eq!(bytes.dropped, too_large_len + late_len, "{stats:#?}");
}

fn durable_pipeline(backend: &Arc<Backend>, dir: &Path) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(BackendExporter(backend.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_millis(100),
            ..BatchConfig::default()
        })
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .with_durable_queue(DurableConfig {
            fsync: FsyncPolicy::Never,
            ..DurableConfig::new(dir)
        })
        .build()
        .expect("the pipeline starts")
}

#[test]
fn records_left_on_disk_stay_in_flight_and_the_next_run_accounts_for_their_bytes_as_it_sends_them()
{
    let dir = TempDir::new("byte-account-restart");
    let dir = dir.path();
    let spans: Vec<SpanData> = (0..300).map(|i| span(format!("s{i}"), i % 5)).collect();
    let spans_len: u64 = spans.iter().map(encoded_len).sum();

    let backend = Arc::new(Backend::default());
    backend.down.store(true, Ordering::SeqCst);
    let first = durable_pipeline(&backend, dir);
    for span in spans {
        first.on_end(span);
    }
    let _ = first.shutdown(Duration::from_secs(2));
    let stats = first.stats();
    assert_balanced(&stats);
    assert_eq!(stats.persisted, 300, "{stats:#?}");
    // On disk for the next run: in flight, in records and in bytes.
    assert_eq!(
        (stats.bytes.produced, stats.bytes.in_flight),
        (spans_len, spans_len),
        "{stats:#?}"
    );

    backend.down.store(false, Ordering::SeqCst);
    let second = durable_pipeline(&backend, dir);
    let _ = second.shutdown(Duration::from_secs(30));
    let stats = second.stats();
    assert_balanced(&stats);
    assert_eq!(stats.recovered, 300, "{stats:#?}");
    let bytes = stats.bytes;
    // Recovered records enter the byte account as they are read back.
    assert_eq!(bytes.produced, spans_len, "{stats:#?}");
    assert_eq!(
        (bytes.answered, bytes.failed),
        (
            *backend.answered_bytes.lock().unwrap(),
            *backend.refused_bytes.lock().unwrap()
        ),
        "{stats:#?}"
    );
    assert_eq!(bytes.answered + bytes.failed, spans_len, "{stats:#?}");
}
