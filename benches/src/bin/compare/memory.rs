//! The memory scenario's sender side: what a sender notes about its own
//! resident memory and what its pipeline holds once the load is made
//! ([`MemorySample`]), and the baseline set up so that the spans it holds can
//! be counted ([`CountedBaseline`]).
//!
//! The receiver refuses connections for the whole load, so nothing is
//! delivered while it runs. otlp-rust keeps its spans queued (encoded) and
//! retries; the baseline's batch processor keeps taking batches of 512 from
//! its queue and handing them to its exporter, whose export fails, and the
//! batch is gone. The spans the baseline still holds are therefore the spans
//! made less the spans handed to its exporter, which a wrapper around the
//! exporter counts ([`CountingExporter`]); the baseline is otherwise set up
//! as `otlp_benches::end_to_end::BaselineSender` is, with a queue as large as
//! the load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use otlp_benches::end_to_end::{BaselineSender, Endpoints, Sender, Transport};
use otlp_benches::hot_path::ValueKind;
use serde_json::{Value, json};

/// A sender's resident memory around its load and what its pipeline held
/// right after the last span ended (before shutdown). RSS figures are
/// `/proc/self/statm` (0 where unknown).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemorySample {
    /// Before the pipeline was built.
    pub rss_start_bytes: u64,
    /// Just before the first span started (the pipeline built).
    pub rss_before_load_bytes: u64,
    /// Just after the last span ended.
    pub rss_loaded_bytes: u64,
    /// Spans the pipeline held then: queued plus in flight (otlp-rust), made
    /// less handed to the exporter (the baseline).
    pub held: u64,
    /// Spans queued then (otlp-rust's `queued`; the baseline: `held`).
    pub queued: u64,
    /// The encoded bytes of the queued spans, framing included (otlp-rust's
    /// `queued_bytes`; 0 for the baseline, which queues no bytes).
    pub queued_bytes: u64,
    /// The pipeline's own accounting then: otlp-rust's `StatsSnapshot`, the
    /// baseline's spans handed to its exporter.
    pub pipeline: Value,
}

impl MemorySample {
    /// Resident memory the load added, bytes.
    pub fn growth_bytes(&self) -> u64 {
        self.rss_loaded_bytes
            .saturating_sub(self.rss_before_load_bytes)
    }

    /// Resident memory building the pipeline added, bytes.
    pub fn setup_bytes(&self) -> u64 {
        self.rss_before_load_bytes
            .saturating_sub(self.rss_start_bytes)
    }

    /// Resident bytes the load added per span held (`None`: none held).
    pub fn growth_per_held_span(&self) -> Option<f64> {
        (self.held > 0).then(|| self.growth_bytes() as f64 / self.held as f64)
    }

    /// Encoded bytes per queued span (`None`: no byte count, or none queued).
    pub fn encoded_per_queued_span(&self) -> Option<f64> {
        (self.queued > 0 && self.queued_bytes > 0)
            .then(|| self.queued_bytes as f64 / self.queued as f64)
    }

    /// The JSON the sender reports.
    pub fn json(&self) -> Value {
        json!({
            "rss_start_bytes": self.rss_start_bytes,
            "rss_before_load_bytes": self.rss_before_load_bytes,
            "rss_loaded_bytes": self.rss_loaded_bytes,
            "held": self.held,
            "queued": self.queued,
            "queued_bytes": self.queued_bytes,
            "pipeline": self.pipeline,
        })
    }

    /// Reads what [`json`](Self::json) wrote.
    pub fn from_json(json: &Value) -> Result<Self, String> {
        let number = |name: &str| {
            json[name]
                .as_u64()
                .ok_or_else(|| format!("memory sample without {name}: {json}"))
        };
        Ok(MemorySample {
            rss_start_bytes: number("rss_start_bytes")?,
            rss_before_load_bytes: number("rss_before_load_bytes")?,
            rss_loaded_bytes: number("rss_loaded_bytes")?,
            held: number("held")?,
            queued: number("queued")?,
            queued_bytes: number("queued_bytes")?,
            pipeline: json["pipeline"].clone(),
        })
    }
}

/// An exporter that counts the spans handed to it, then passes them on.
#[derive(Debug)]
pub struct CountingExporter<E> {
    inner: E,
    handed: Arc<AtomicU64>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.handed.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// `opentelemetry_sdk` + `opentelemetry-otlp` as
/// `otlp_benches::end_to_end::BaselineSender` sets them up with a queue of
/// `max_queue_size` spans (other settings default), its exporter counted.
pub struct CountedBaseline {
    sender: BaselineSender,
    handed: Arc<AtomicU64>,
}

impl CountedBaseline {
    /// A pipeline sending to `endpoints` over `transport`.
    pub fn new(
        transport: Transport,
        endpoints: &Endpoints,
        max_queue_size: usize,
    ) -> Result<Self, String> {
        let handed = Arc::new(AtomicU64::new(0));
        let counted = handed.clone();
        let sender = BaselineSender::with_exporter(
            transport,
            endpoints,
            Some(max_queue_size),
            move |inner| CountingExporter {
                inner,
                handed: counted,
            },
        )?;
        Ok(CountedBaseline { sender, handed })
    }

    /// Spans handed to the exporter so far.
    pub fn handed(&self) -> u64 {
        self.handed.load(Ordering::Relaxed)
    }
}

impl Sender for CountedBaseline {
    #[inline]
    fn record(&self, kind: ValueKind, values: &[String; 8]) {
        self.sender.record(kind, values);
    }

    fn flush(&self) -> Result<(), String> {
        self.sender.flush()
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.sender.shutdown(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_sample_round_trips_and_divides_by_what_is_held() {
        let sample = MemorySample {
            rss_start_bytes: 4 << 20,
            rss_before_load_bytes: 6 << 20,
            rss_loaded_bytes: 6 << 20 | 400_000,
            held: 1_000,
            queued: 800,
            queued_bytes: 320_000,
            pipeline: json!({"queued": 800}),
        };
        assert_eq!(MemorySample::from_json(&sample.json()), Ok(sample.clone()));
        assert_eq!(sample.growth_bytes(), 400_000);
        assert_eq!(sample.setup_bytes(), 2 << 20);
        assert_eq!(sample.growth_per_held_span(), Some(400.0));
        assert_eq!(sample.encoded_per_queued_span(), Some(400.0));
        let baseline = MemorySample {
            queued_bytes: 0,
            ..sample
        };
        assert_eq!(baseline.encoded_per_queued_span(), None);
        assert!(MemorySample::from_json(&json!({"held": 1})).is_err());
    }
}
