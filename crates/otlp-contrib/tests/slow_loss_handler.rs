//! A shutdown whose deadline passes while the export loop is still finishing
//! (here the process's loss handler, which the loop calls before it answers,
//! is slow: a stderr pipe nobody reads does that to the default one) says how
//! many records it left undelivered. Its own binary: the loss handler is the
//! process's.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
use otlp_core::{SpanData, SpanId, TraceId};
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::diagnostics::set_loss_handler;
use otlp_sdk::{BatchSpanProcessor, DynExporter, PipelineError, SpanProcessor};

/// Upper bound for anything that should happen soon (a hang detector only).
const PATIENCE: Duration = Duration::from_secs(60);

const SPANS: u64 = 10;

#[test]
fn a_shutdown_out_of_time_while_the_loss_handler_runs_reports_its_spans_pending() {
    let (entered, handler_entered) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    set_loss_handler(move |_| {
        let _ = entered.send(());
        let _ = released
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv_timeout(PATIENCE);
    });
    let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
    receiver.set_fallback_fault(Some(Fault::Hang));
    let exporters: [(&str, Box<dyn DynExporter>); 2] = [
        (
            "grpc",
            Box::new(
                GrpcExporter::builder()
                    .endpoint(receiver.grpc_endpoint().expect("gRPC endpoint"))
                    .build()
                    .expect("gRPC exporter"),
            ),
        ),
        (
            "http",
            Box::new(
                HttpExporter::builder()
                    .endpoint(receiver.http_endpoint().expect("HTTP endpoint"))
                    .build()
                    .expect("HTTP exporter"),
            ),
        ),
    ];
    for (transport, exporter) in exporters {
        let before = receiver.stats().requests;
        let processor = BatchSpanProcessor::builder(exporter)
            .build()
            .expect("pipeline");
        for _ in 0..SPANS {
            processor.on_end(
                SpanData::builder("never answered")
                    .trace_id(TraceId::random())
                    .span_id(SpanId::random())
                    .build(),
            );
        }
        let _ = processor.force_flush(Duration::ZERO);
        assert!(
            receiver.wait_until(PATIENCE, |stats| stats.requests > before),
            "{transport}: the export started"
        );

        // The loop counts the spans failed at its deadline, then tells the
        // handler, which holds it past the caller's deadline.
        let result = processor.shutdown(Duration::from_millis(300));
        assert_eq!(
            result,
            Err(PipelineError::Timeout {
                pending: SPANS,
                signal: otlp_sdk::Signal::Traces
            }),
            "{transport}"
        );
        handler_entered
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{transport}: the loss handler was called"));
        let _ = release.send(());
        let stats = processor.stats();
        assert!(stats.is_balanced(), "{transport}: {stats:?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        assert_eq!(
            (stats.failed, stats.queued, stats.in_flight),
            (SPANS, 0, 0),
            "{transport}: {stats:?}"
        );
    }
}
