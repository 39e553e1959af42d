//! A pipeline that loses records tells the process's loss handler, unasked
//! (`otlp_sdk::diagnostics`). One test: the handler is the process's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use otlp_core::encode::Encoding;
use otlp_core::{KeyValue, SpanData};
use otlp_sdk::diagnostics::{LossReport, set_loss_handler};
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{
    BatchSpanProcessor, ExportError, ExportOutcome, ExportRequest, Exporter, PipelineError, Signal,
    SpanProcessor,
};

/// Answers every export as the backend would a wrong token, or accepts it.
struct Backend {
    refuse: bool,
    signal: Signal,
}

impl Exporter for Backend {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        if self.refuse {
            return ExportOutcome::Permanent {
                error: ExportError::Server {
                    status: "HTTP 401".into(),
                    message: "Unauthorized".into(),
                },
            };
        }
        ExportOutcome::Success
    }
}

fn pipeline(refuse: bool) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(Backend {
        refuse,
        signal: Signal::Traces,
    })
    .build()
    .unwrap()
}

fn end_spans(processor: &BatchSpanProcessor, count: usize) {
    for i in 0..count {
        processor.on_end(SpanData::builder(format!("span {i}")).build());
    }
}

#[test]
fn losses_reach_the_loss_handler_by_shutdown_and_a_panicking_handler_harms_nothing() {
    let reports: Arc<Mutex<Vec<LossReport>>> = Arc::default();
    let seen = Arc::clone(&reports);
    set_loss_handler(move |report| seen.lock().unwrap().push(report.clone()));

    // A pipeline whose every export is refused: its reports add up to what
    // it failed, by the time its shutdown returns, and name the error.
    let refused = pipeline(true);
    end_spans(&refused, 10);
    let shutdown = refused.shutdown(Duration::from_secs(10));
    assert!(
        matches!(shutdown, Err(PipelineError::Undelivered { .. })),
        "{shutdown:?}"
    );
    let stats = refused.stats();
    assert_eq!(stats.failed, 10, "{stats:#?}");
    {
        let reports = reports.lock().unwrap();
        assert!(!reports.is_empty());
        assert!(reports.iter().all(|report| report.signal == Signal::Traces));
        let failed: u64 = reports.iter().map(|report| report.lost.failed).sum();
        let total: u64 = reports.iter().map(|report| report.lost.total()).sum();
        assert_eq!((failed, total), (10, 10), "{reports:#?}");
        let last = reports.last().unwrap();
        let error = last.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("HTTP 401"), "{last:#?}");
        assert!(
            last.to_string().starts_with("the traces pipeline lost "),
            "{last}"
        );
    }

    // A metrics reader whose exports are refused reports its data points.
    reports.lock().unwrap().clear();
    let reader = PeriodicReader::builder(Backend {
        refuse: true,
        signal: Signal::Metrics,
    })
    .build()
    .unwrap();
    let meters = MeterProvider::builder()
        .with_reader(reader)
        .build()
        .unwrap();
    let requests = meters.meter("checkout").u64_counter("requests").build();
    requests.add(1, &[KeyValue::new("route", "/a")]);
    requests.add(1, &[KeyValue::new("route", "/b")]);
    assert!(meters.shutdown(Duration::from_secs(10)).is_err());
    {
        let reports = reports.lock().unwrap();
        let failed: u64 = reports
            .iter()
            .filter(|report| report.signal == Signal::Metrics)
            .map(|report| report.lost.failed)
            .sum();
        assert_eq!(failed, 2, "{reports:#?}");
        assert_eq!(failed, meters.stats().failed_data_points);
        assert!(
            reports[0].to_string().contains("2 data points: 2 failed"),
            "{reports:#?}"
        );
    }

    // A pipeline that loses nothing reports nothing.
    reports.lock().unwrap().clear();
    let healthy = pipeline(false);
    end_spans(&healthy, 10);
    healthy.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(healthy.stats().exported, 10);
    assert!(reports.lock().unwrap().is_empty());

    // A handler that panics costs its report, not the pipeline: shutdown
    // still answers (with the loop gone it would say the pipeline is).
    set_loss_handler(|_| panic!("a handler with a bug"));
    let refused = pipeline(true);
    end_spans(&refused, 3);
    let shutdown = refused.shutdown(Duration::from_secs(10));
    assert!(
        matches!(shutdown, Err(PipelineError::Undelivered { .. })),
        "{shutdown:?}"
    );
    let stats = refused.stats();
    assert_eq!(stats.failed, 3, "{stats:#?}");
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}
