//! Flush and shutdown return by their deadlines when the backend hangs or throttles.

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

/// Shutting the adapter down while an export waits out a server's throttle
/// hint (HTTP 429 with `Retry-After: 20`, gRPC `UNAVAILABLE` with a 20 s
/// `RetryInfo`) that its export timeout (a minute) leaves room for: the
/// retry is called off, as the shutdown ends an attempt under way, and the
/// batch fails with the throttle as its cause, every span counted when
/// shutdown returns. Found in review: the wait went on after shutdown
/// answered (the spans in flight), then the retry met the shut-down
/// transport, the batch failing with "shut down" 20 s later, the cause lost.
#[test]
fn shutting_the_adapter_down_calls_off_a_retry_waiting_for_a_throttle_hint() {
    for (transport, fault, cause) in [
        (
            "gRPC",
            Fault::UnavailableRetryAfter(Duration::from_secs(20)),
            "UNAVAILABLE",
        ),
        ("HTTP", Fault::Throttle(Duration::from_secs(20)), "429"),
    ] {
        let receiver = receiver();
        receiver.set_fallback_fault(Some(fault));
        let builder = if transport == "gRPC" {
            SdkExporter::builder(Box::new(crate::support::grpc_exporter(&receiver))
                as Box<dyn otlp_sdk::DynExporter>)
        } else {
            SdkExporter::builder(Box::new(crate::support::http_exporter(
                &receiver,
                otlp_core::encode::Encoding::Protobuf,
            )) as Box<dyn otlp_sdk::DynExporter>)
        };
        let exporter = Arc::new(
            builder
                .with_export_timeout(Duration::from_secs(60))
                .build()
                .expect("a traces transport"),
        );
        let exporting = {
            let exporter = Arc::clone(&exporter);
            std::thread::spawn(move || {
                block_on(exporter.export(vec![
                    crate::support::sample_span(1),
                    crate::support::sample_span(2),
                ]))
            })
        };
        // The throttled answer is in: the delivery waits for its retry.
        let started = Instant::now();
        while exporter.stats().last_error.is_none() {
            assert!(started.elapsed() < TIMEOUT, "{transport}: no answer");
            std::thread::sleep(Duration::from_millis(10));
        }

        let result = exporter.shutdown_with_timeout(Duration::from_secs(3));
        assert!(result.is_ok(), "{transport}: {result:?}");
        let stats = exporter.stats();
        assert_eq!(
            (stats.received, stats.failed, stats.in_flight),
            (2, 2, 0),
            "{transport}: every span settled when shutdown returns: {stats:?}"
        );
        assert_eq!(
            stats.exported + stats.rejected + stats.failed,
            stats.received,
            "{transport}"
        );
        let last_error = stats.last_error.unwrap_or_default();
        assert!(
            last_error.contains(cause) && last_error.contains("shutdown deadline"),
            "{transport}: the throttle is the cause: {last_error}"
        );
        let exported = exporting.join().expect("the exporting thread");
        assert!(
            matches!(&exported, Err(OTelSdkError::InternalFailure(message))
                if message.contains("2 of 2 spans") && message.contains("shutdown deadline")),
            "{transport}: {exported:?}"
        );
        assert_eq!(
            receiver.request_count(),
            1,
            "{transport}: no retry was sent"
        );
    }
}
