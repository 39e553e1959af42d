//! `OtlpLogger` asks the provider's processors whether they keep a record
//! (`LogProcessor::enabled`) before building one: the `log` macros, through
//! the process's logger (installed once: this file is its own process).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use log::{Level, LevelFilter};
use otlp_contrib::log_bridge::{DEFAULT_SCOPE, OtlpLogger};
use otlp_core::{InstrumentationScope, LogRecord, Severity};
use otlp_sdk::{LogProcessor, LoggerProvider, PipelineError};

/// What a [`SeverityFloor`] was asked and given.
#[derive(Default)]
struct Seen {
    /// Each `enabled` call: the scope's name, the severity, the event name.
    asked: Vec<(String, Severity, String)>,
    /// The body of each record it was given, with its severity.
    emitted: Vec<(Severity, String)>,
}

/// A processor that keeps records of `floor` and more severe only.
#[derive(Clone)]
struct SeverityFloor {
    floor: Severity,
    seen: Arc<Mutex<Seen>>,
}

impl LogProcessor for SeverityFloor {
    fn on_emit(&self, record: &mut LogRecord) {
        let body = record
            .body
            .as_ref()
            .and_then(|body| body.as_str())
            .unwrap_or_default()
            .to_owned();
        self.seen
            .lock()
            .unwrap()
            .emitted
            .push((record.severity_number, body));
    }

    fn enabled(&self, scope: &InstrumentationScope, severity: Severity, event_name: &str) -> bool {
        self.seen.lock().unwrap().asked.push((
            scope.name.to_string(),
            severity,
            event_name.to_owned(),
        ));
        severity >= self.floor
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[test]
fn a_processor_refusing_a_severity_gets_no_record_of_it_and_is_asked_with_its_scope() {
    let processor = SeverityFloor {
        floor: Severity::WARN,
        seen: Arc::default(),
    };
    let provider = LoggerProvider::builder()
        .with_service_name("log-crate-enabled-test")
        .with_processor(processor.clone())
        .build();
    OtlpLogger::new(&provider)
        .install(LevelFilter::Trace)
        .expect("the only logger in this binary");

    assert!(!log::log_enabled!(Level::Info));
    assert!(log::log_enabled!(Level::Warn));
    log::debug!("debug refused");
    log::info!("info refused");
    log::warn!("warn kept");
    log::error!("error kept");

    let seen = processor.seen.lock().unwrap();
    assert_eq!(
        seen.emitted,
        [
            (Severity::WARN, "warn kept".to_owned()),
            (Severity::ERROR, "error kept".to_owned()),
        ]
    );
    let asked = |severity| (DEFAULT_SCOPE.to_owned(), severity, String::new());
    assert_eq!(
        seen.asked,
        [
            asked(Severity::INFO),
            asked(Severity::WARN),
            asked(Severity::DEBUG),
            asked(Severity::INFO),
            asked(Severity::WARN),
            asked(Severity::ERROR),
        ]
    );
}
