//! Flush and shutdown return by their deadlines when the backend hangs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use otlp_contrib::bridge::{OtlpSpanProcessor, SdkExporter};
use otlp_contrib::receiver::Fault;

use crate::support::{TIMEOUT, block_on, grpc_pipeline, receiver};

/// Slack for a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

/// Whether `result` is the processor's `Timeout(after)`: the provider wraps
/// its processors' errors as `InternalFailure("... [Timeout(..)]")`.
fn is_timeout(result: &OTelSdkResult, after: Duration) -> bool {
    match result {
        Err(OTelSdkError::Timeout(timeout)) => *timeout == after,
        Err(OTelSdkError::InternalFailure(message)) => {
            message.contains(&format!("Timeout({after:?})"))
        }
        _ => false,
    }
}

#[test]
fn flush_and_shutdown_of_the_processor_return_by_their_deadlines_when_the_receiver_hangs() {
    let receiver = receiver();
    receiver.set_fallback_fault(Some(Fault::Hang));
    let pipeline = grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            OtlpSpanProcessor::new(pipeline.clone()).with_flush_timeout(Duration::from_millis(300)),
        )
        .build();
    provider.tracer("hang").in_span("never answered", |_| {});
    assert!(
        receiver.wait_until(TIMEOUT, |stats| stats.requests >= 1),
        "the export started"
    );

    let started = Instant::now();
    let result = provider.force_flush();
    assert!(
        is_timeout(&result, Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(300) + SLACK,
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let deadline = Duration::from_millis(500);
    let result = provider.shutdown_with_timeout(deadline);
    assert!(is_timeout(&result, deadline), "{result:?}");
    assert!(
        started.elapsed() < deadline + SLACK,
        "{:?}",
        started.elapsed()
    );
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.exported, 0);
}

#[test]
fn shutting_the_adapter_down_ends_a_hung_export() {
    let receiver = receiver();
    receiver.set_fallback_fault(Some(Fault::Hang));
    let exporter = Arc::new(
        SdkExporter::builder(crate::support::grpc_exporter(&receiver))
            .with_export_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let exporting = {
        let exporter = Arc::clone(&exporter);
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = block_on(exporter.export(vec![crate::support::sample_span(1)]));
            (result, started.elapsed())
        })
    };
    assert!(
        receiver.wait_until(TIMEOUT, |stats| stats.requests >= 1),
        "the export started"
    );

    let started = Instant::now();
    exporter
        .shutdown_with_timeout(Duration::from_secs(1))
        .expect("succeeds");
    assert!(started.elapsed() < Duration::from_secs(1) + SLACK);
    let (result, took) = exporting.join().unwrap();
    assert!(result.is_err(), "{result:?}");
    assert!(
        took < Duration::from_secs(10),
        "the hung export ended with the shutdown: {took:?}"
    );
    assert_eq!(exporter.stats().failed, 1);
}

#[test]
fn the_stock_batch_processor_with_the_adapter_returns_by_its_shutdown_deadline() {
    let receiver = receiver();
    receiver.set_fallback_fault(Some(Fault::Hang));
    let exporter = SdkExporter::builder(crate::support::grpc_exporter(&receiver))
        .with_export_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    provider.tracer("hang").in_span("never answered", |_| {});
    let started = Instant::now();
    let deadline = Duration::from_millis(500);
    let result = provider.shutdown_with_timeout(deadline);
    assert!(is_timeout(&result, deadline), "{result:?}");
    assert!(
        started.elapsed() < deadline + SLACK,
        "{:?}",
        started.elapsed()
    );
}
