//! The pipeline never records its own work through the native API either:
//! what an exporter (or a loss handler) records through a `Tracer` or a
//! `Logger` while it runs on a pipeline's thread would feed the pipeline
//! itself, one more span or record per export.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use otlp_core::encode::Encoding;
use otlp_core::{LogRecord, Severity};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, Logger,
    LoggerProvider, Signal, Tracer, TracerProvider,
};

/// What the exporters record about their own work, once the providers exist.
type Instruments = Arc<OnceLock<(Tracer, Logger)>>;

/// Accepts every request, and records a span and a log record of its own
/// through the native API while it does (on the pipeline's thread).
struct Chatty {
    signal: Signal,
    instruments: Instruments,
    requests: Arc<AtomicU64>,
}

impl Exporter for Chatty {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some((tracer, logger)) = self.instruments.get() {
            tracer.start("export").end();
            logger.emit(
                LogRecord::builder()
                    .severity(Severity::INFO)
                    .body("exported a request")
                    .build(),
            );
        }
        ExportOutcome::Success
    }
}

#[test]
fn what_an_exporter_records_through_the_native_api_never_reaches_a_pipeline() {
    const SPANS: u64 = 300;
    const RECORDS: u64 = 200;
    let instruments = Instruments::default();
    let requests = Arc::new(AtomicU64::new(0));
    let exporter = |signal| Chatty {
        signal,
        instruments: instruments.clone(),
        requests: requests.clone(),
    };
    let spans = BatchSpanProcessor::builder(exporter(Signal::Traces))
        .build()
        .expect("span pipeline");
    let logs = BatchLogProcessor::builder(exporter(Signal::Logs))
        .build()
        .expect("log pipeline");
    let tracer_provider = TracerProvider::builder()
        .with_processor(spans.clone())
        .build();
    let logger_provider = LoggerProvider::builder()
        .with_processor(logs.clone())
        .build();
    let tracer = tracer_provider.tracer("app");
    let logger = logger_provider.logger("app");
    let _ = instruments.set((tracer.clone(), logger.clone()));

    // In rounds, each flushed: every export records through both pipelines.
    for round in 0..4 {
        for i in 0..SPANS / 4 {
            tracer.start(format!("work {round}.{i}")).end();
        }
        for _ in 0..RECORDS / 4 {
            logger.emit(LogRecord::builder().body("app").build());
        }
        tracer_provider
            .force_flush(Duration::from_secs(10))
            .expect("span flush");
        logger_provider
            .force_flush(Duration::from_secs(10))
            .expect("log flush");
    }
    tracer_provider
        .shutdown(Duration::from_secs(10))
        .expect("span shutdown");
    logger_provider
        .shutdown(Duration::from_secs(10))
        .expect("log shutdown");

    assert!(requests.load(Ordering::SeqCst) >= 8, "every round exported");
    let (spans, logs) = (spans.stats(), logs.stats());
    assert_eq!(
        (spans.produced, spans.exported),
        (SPANS, SPANS),
        "{spans:#?}"
    );
    assert_eq!(
        (logs.produced, logs.exported),
        (RECORDS, RECORDS),
        "{logs:#?}"
    );
    // The application's thread still records.
    assert!(!otlp_sdk::own_threads::is_own_thread());
    assert!(logger.enabled());
}
