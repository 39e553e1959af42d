//! The two span pipelines the `otlp-sdk` suites compare, set up alike.
//!
//! - Ours: `otlp_sdk::TracerProvider` with one `otlp_sdk::BatchSpanProcessor`
//!   exporting through [`NoopExporter`].
//! - The baseline: `opentelemetry_sdk::trace::SdkTracerProvider` with one
//!   `opentelemetry_sdk::trace::BatchSpanProcessor` (the thread-based one, the
//!   default) exporting through [`NoopSpanExporter`] (or, where a suite
//!   needs both sides to encode, [`EncodingSpanExporter`]).
//!
//! Both exporters accept every batch at once and only count its spans, so a
//! suite times the SDKs, not a transport. Both processors get the same
//! [`BatchSettings`] (queue size, batch size, scheduled delay).
//!
//! One asymmetry is inherent and stays: our exporter receives *encoded bytes*,
//! so every span is encoded into its OTLP protobuf record by
//! `BatchSpanProcessor::on_end`, on the thread that ends it, and our export
//! loop writes only the requests' framing around the records; the baseline's
//! exporter receives the `Vec<SpanData>` and encodes nothing (a real
//! `opentelemetry-otlp` exporter would, on the processor's thread). Our
//! pipeline therefore does strictly more work than the baseline's here, and
//! does it on the producing thread, inside the suites' timed loops.
//!
//! Every span is accounted for on both sides: ours through
//! `BatchSpanProcessor::stats`, the baseline's by comparing the spans its
//! exporter received with the spans the suite produced ([`Accounting`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use otlp_core::encode::Encoding;
use otlp_sdk::{ExportOutcome, ExportRequest, SpanProcessor as _, StatsSnapshot};
use prost::Message as _;

use crate::baseline::BaselineEncoder;
use crate::fixtures::SCOPE_NAME;

/// Service name of both providers' resource.
pub const SERVICE_NAME: &str = "checkout";

/// How long a flush or shutdown may take before the suite gives up on it.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The batch settings both processors get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Spans the queue holds before new ones are dropped.
    pub max_queue_size: usize,
    /// Spans per export batch.
    pub max_export_batch_size: usize,
    /// Longest a span waits before its batch is cut.
    pub scheduled_delay: Duration,
}

impl BatchSettings {
    /// Room for `burst` spans between flushes without dropping any: the
    /// queue holds twice that, batches are the SDKs' default 512 spans, and
    /// the delay (200 ms) only matters for the tail of a burst.
    pub fn for_burst(burst: usize) -> Self {
        BatchSettings {
            max_queue_size: (2 * burst).max(512),
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_millis(200),
        }
    }

    /// These settings as `otlp-sdk` takes them, the queue size as its cap on
    /// the count of queued spans; everything else (its byte bound included)
    /// is its default.
    pub fn ours(&self) -> otlp_sdk::config::BatchConfig {
        otlp_sdk::config::BatchConfig {
            max_queue_size: Some(self.max_queue_size),
            max_export_batch_size: self.max_export_batch_size,
            scheduled_delay: self.scheduled_delay,
            ..otlp_sdk::config::BatchConfig::default()
        }
    }

    /// These settings as `opentelemetry_sdk` takes them; everything else is
    /// its default.
    pub fn baseline(&self) -> opentelemetry_sdk::trace::BatchConfig {
        opentelemetry_sdk::trace::BatchConfigBuilder::default()
            .with_max_queue_size(self.max_queue_size)
            .with_max_export_batch_size(self.max_export_batch_size)
            .with_scheduled_delay(self.scheduled_delay)
            .build()
    }
}

/// Our exporter for the suites: accepts every request at once and counts
/// its records (spans by default; [`NoopExporter::for_signal`] for others).
#[derive(Clone, Debug, Default)]
pub struct NoopExporter {
    received: Arc<AtomicU64>,
    received_bytes: Arc<AtomicU64>,
    signal: otlp_sdk::Signal,
}

impl NoopExporter {
    /// One that accepts requests of `signal` (a log pipeline refuses an
    /// exporter of spans).
    pub fn for_signal(signal: otlp_sdk::Signal) -> Self {
        NoopExporter {
            received: Arc::default(),
            received_bytes: Arc::default(),
            signal,
        }
    }

    /// Records received so far (shared by every clone).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// Bytes of the request bodies received so far (shared by every clone).
    pub fn received_bytes(&self) -> u64 {
        self.received_bytes.load(Ordering::Acquire)
    }
}

impl otlp_sdk::Exporter for NoopExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> otlp_sdk::Signal {
        self.signal
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.received_bytes
            .fetch_add(request.body.len() as u64, Ordering::Release);
        self.received
            .fetch_add(request.span_count as u64, Ordering::Release);
        ExportOutcome::Success
    }
}

/// The baseline's exporter for the suites: accepts every batch at once and
/// counts its spans. The batch (and every span in it) is freed when `export`
/// returns, on the processor's thread.
#[derive(Clone, Debug, Default)]
pub struct NoopSpanExporter {
    received: Arc<AtomicU64>,
}

impl NoopSpanExporter {
    /// Spans received so far (shared by every clone).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }
}

impl opentelemetry_sdk::trace::SpanExporter for NoopSpanExporter {
    async fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) -> OTelSdkResult {
        self.received
            .fetch_add(batch.len() as u64, Ordering::Release);
        Ok(())
    }
}

/// The baseline's exporter doing what `opentelemetry-otlp`'s does to a batch
/// before it sends it, then sending nothing: the batch converted and encoded
/// into a fresh protobuf body ([`BaselineEncoder::request`], then prost's
/// `encode_to_vec`, as its gRPC and HTTP/protobuf exporters do), and the body
/// dropped. Counts the spans and the bytes. For a suite in which our side's
/// encoding is timed: with it, both sides encode every span.
#[derive(Clone, Debug)]
pub struct EncodingSpanExporter {
    encoder: Arc<BaselineEncoder>,
    received: Arc<AtomicU64>,
    received_bytes: Arc<AtomicU64>,
}

impl EncodingSpanExporter {
    /// One encoding spans of `resource` (a provider that owns the processor
    /// replaces it with its own through `set_resource`).
    pub fn new(resource: &opentelemetry_sdk::Resource) -> Self {
        EncodingSpanExporter {
            encoder: Arc::new(BaselineEncoder::new(resource)),
            received: Arc::default(),
            received_bytes: Arc::default(),
        }
    }

    /// Spans received so far (shared by every clone).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// Bytes of the bodies encoded so far (shared by every clone).
    pub fn received_bytes(&self) -> u64 {
        self.received_bytes.load(Ordering::Acquire)
    }
}

impl opentelemetry_sdk::trace::SpanExporter for EncodingSpanExporter {
    async fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let body = self.encoder.request(batch).encode_to_vec();
        self.received_bytes
            .fetch_add(body.len() as u64, Ordering::Release);
        self.received.fetch_add(spans, Ordering::Release);
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.encoder = Arc::new(BaselineEncoder::new(resource));
    }
}

/// Where the spans one side produced went, after a flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accounting {
    /// Spans the suite handed to the SDK.
    pub produced: u64,
    /// Spans the no-op exporter received.
    pub exported: u64,
    /// Spans the processor dropped (queue full or after shutdown).
    pub dropped: u64,
}

impl Accounting {
    /// Whether every produced span reached the exporter.
    pub fn is_lossless(&self) -> bool {
        self.dropped == 0 && self.exported == self.produced
    }
}

impl fmt::Display for Accounting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "produced {}, exported {}, dropped {}",
            self.produced, self.exported, self.dropped
        )
    }
}

/// Our side: a provider, its tracer, and the batch processor behind them.
pub struct OursPipeline {
    /// The provider (holds the processor).
    pub provider: otlp_sdk::TracerProvider,
    /// A tracer for [`SCOPE_NAME`].
    pub tracer: otlp_sdk::Tracer,
    /// A handle on the processor, for stats and flushes.
    pub processor: otlp_sdk::BatchSpanProcessor,
    /// The exporter's span count.
    pub exporter: NoopExporter,
    produced: AtomicU64,
}

impl OursPipeline {
    /// A pipeline with these batch settings.
    pub fn new(settings: &BatchSettings) -> Self {
        Self::with_sampler(settings, otlp_sdk::Sampler::default())
    }

    /// A pipeline with these batch settings whose provider samples with
    /// `sampler`.
    pub fn with_sampler(settings: &BatchSettings, sampler: otlp_sdk::Sampler) -> Self {
        let exporter = NoopExporter::default();
        let processor = otlp_sdk::BatchSpanProcessor::builder(exporter.clone())
            .with_batch_config(settings.ours())
            .build()
            .expect("the suites' batch settings are valid");
        let provider = otlp_sdk::TracerProvider::builder()
            .with_service_name(SERVICE_NAME)
            .with_sampler(sampler)
            .with_processor(processor.clone())
            .build();
        let tracer = provider.tracer(SCOPE_NAME);
        OursPipeline {
            provider,
            tracer,
            processor,
            exporter,
            produced: AtomicU64::new(0),
        }
    }

    /// Records that the suite produced `spans` more spans.
    pub fn count_produced(&self, spans: u64) {
        self.produced.fetch_add(spans, Ordering::Relaxed);
    }

    /// Exports everything queued; panics if that does not finish in time.
    pub fn flush(&self) {
        self.processor
            .force_flush(FLUSH_TIMEOUT)
            .expect("flushing the otlp-sdk pipeline");
    }

    /// The processor's own counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.processor.stats()
    }

    /// Flushes, then says where every produced span went.
    pub fn accounting(&self) -> Accounting {
        self.flush();
        let stats = self.stats();
        let produced = self.produced.load(Ordering::Relaxed);
        assert_eq!(
            stats.produced, produced,
            "the processor saw every span the suite produced"
        );
        Accounting {
            produced,
            exported: self.exporter.received(),
            dropped: stats.dropped,
        }
    }
}

/// The baseline: a provider, its tracer, and the exporter behind its batch
/// processor.
pub struct BaselinePipeline {
    /// The provider (holds the processor).
    pub provider: opentelemetry_sdk::trace::SdkTracerProvider,
    /// A tracer for [`SCOPE_NAME`].
    pub tracer: opentelemetry_sdk::trace::SdkTracer,
    /// The exporter's span count.
    pub exporter: NoopSpanExporter,
    produced: AtomicU64,
}

impl BaselinePipeline {
    /// A pipeline with these batch settings.
    pub fn new(settings: &BatchSettings) -> Self {
        Self::build(settings, None)
    }

    /// A pipeline with these batch settings whose provider samples with
    /// `sampler`.
    pub fn with_sampler(
        settings: &BatchSettings,
        sampler: opentelemetry_sdk::trace::Sampler,
    ) -> Self {
        Self::build(settings, Some(sampler))
    }

    /// `sampler`, or `opentelemetry_sdk`'s default.
    fn build(settings: &BatchSettings, sampler: Option<opentelemetry_sdk::trace::Sampler>) -> Self {
        let exporter = NoopSpanExporter::default();
        let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter.clone())
            .with_batch_config(settings.baseline())
            .build();
        let mut builder = opentelemetry_sdk::trace::SdkTracerProvider::builder();
        if let Some(sampler) = sampler {
            builder = builder.with_sampler(sampler);
        }
        let provider = builder
            .with_span_processor(processor)
            .with_resource(
                opentelemetry_sdk::Resource::builder_empty()
                    .with_service_name(SERVICE_NAME)
                    .build(),
            )
            .build();
        let tracer = provider.tracer(SCOPE_NAME);
        BaselinePipeline {
            provider,
            tracer,
            exporter,
            produced: AtomicU64::new(0),
        }
    }

    /// Records that the suite produced `spans` more spans.
    pub fn count_produced(&self, spans: u64) {
        self.produced.fetch_add(spans, Ordering::Relaxed);
    }

    /// Exports everything queued; panics if that fails.
    pub fn flush(&self) {
        self.provider
            .force_flush()
            .expect("flushing the opentelemetry_sdk pipeline");
    }

    /// Flushes, then says where every produced span went. The baseline does
    /// not expose its drop count: a span that was produced and never reached
    /// the exporter was dropped.
    pub fn accounting(&self) -> Accounting {
        self.flush();
        let produced = self.produced.load(Ordering::Relaxed);
        let exported = self.exporter.received();
        Accounting {
            produced,
            exported,
            dropped: produced.saturating_sub(exported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_exporter_encodes_every_batch_as_opentelemetry_otlp_does() {
        use opentelemetry_sdk::trace::SpanProcessor as _;

        let batch = crate::fixtures::Batch::new(10);
        let exporter = EncodingSpanExporter::new(&batch.sdk_resource);
        let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter.clone())
            .with_batch_config(BatchSettings::for_burst(64).baseline())
            .build();
        for span in batch.sdk_spans.clone() {
            processor.on_end(span);
        }
        processor
            .force_flush()
            .expect("flushing the baseline processor");
        // Ten spans: one batch, one request.
        let mut expected = Vec::new();
        crate::baseline::BaselineEncoder::new(&batch.sdk_resource).encode(
            Encoding::Protobuf,
            batch.sdk_spans.clone(),
            &mut expected,
        );
        assert_eq!(exporter.received(), 10);
        assert_eq!(exporter.received_bytes(), expected.len() as u64);
    }

    #[test]
    fn our_exporter_counts_the_bytes_it_receives() {
        let batch = crate::fixtures::Batch::new(10);
        let exporter = NoopExporter::default();
        let processor = otlp_sdk::BatchSpanProcessor::builder(exporter.clone())
            .with_batch_config(BatchSettings::for_burst(64).ours())
            .build()
            .expect("the settings are valid");
        for span in batch.spans.clone() {
            processor.on_end(span);
        }
        processor.force_flush(FLUSH_TIMEOUT).expect("flushing ours");
        // As many bytes as the baseline's encoder writes for the same spans
        // (the exporter counts bytes only; `verify` compares the requests
        // byte for byte): both sides of a suite encode the same amount.
        let mut expected = Vec::new();
        crate::baseline::BaselineEncoder::new(&batch.sdk_resource).encode(
            Encoding::Protobuf,
            batch.sdk_spans.clone(),
            &mut expected,
        );
        assert_eq!(exporter.received(), 10);
        assert_eq!(exporter.received_bytes(), expected.len() as u64);
    }

    #[test]
    fn both_pipelines_deliver_every_span() {
        let settings = BatchSettings::for_burst(64);
        let ours = OursPipeline::new(&settings);
        for _ in 0..100 {
            ours.tracer.start("work").end();
        }
        ours.count_produced(100);
        let accounting = ours.accounting();
        assert!(accounting.is_lossless(), "{accounting}");

        let baseline = BaselinePipeline::new(&settings);
        {
            use opentelemetry::trace::{Span as _, Tracer as _};
            for _ in 0..100 {
                baseline.tracer.start("work").end();
            }
        }
        baseline.count_produced(100);
        let accounting = baseline.accounting();
        assert!(accounting.is_lossless(), "{accounting}");
    }
}
