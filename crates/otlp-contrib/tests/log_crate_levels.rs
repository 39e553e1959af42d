//! `OtlpLogger` installed as the process's logger (its own binary: `log`
//! has one logger per process), and the process's maximum level changed at
//! run time with `log::set_max_level`, as a program raises its verbosity
//! (a signal, an admin endpoint); then the provider shut down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{Level, LevelFilter};
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_core::LogRecord;
use otlp_sdk::{LogProcessor, LoggerProvider, PipelineError};

/// Keeps the body of each record it is given.
#[derive(Clone, Default)]
struct Bodies(Arc<Mutex<Vec<String>>>);

impl LogProcessor for Bodies {
    fn on_emit(&self, record: &mut LogRecord) {
        let body = record
            .body
            .as_ref()
            .and_then(|body| body.as_str())
            .unwrap_or_default()
            .to_owned();
        self.0.lock().unwrap().push(body);
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[test]
fn the_process_maximum_level_raised_at_run_time_is_recorded() {
    let bodies = Bodies::default();
    let provider = LoggerProvider::builder()
        .with_processor(bodies.clone())
        .build();
    OtlpLogger::new(&provider)
        .install(LevelFilter::Info)
        .expect("the only logger in this binary");
    log::debug!("debug before");
    log::info!("info before");

    // Lowered: `log`'s own check drops info.
    log::set_max_level(LevelFilter::Warn);
    log::info!("info lowered");
    log::warn!("warn lowered");

    // Raised: the macros let debug through, and `log::log_enabled!` says
    // it is on; the logger must not drop it against the level it was
    // installed with, or no program can raise its verbosity at run time.
    log::set_max_level(LevelFilter::Debug);
    let enabled = log::log_enabled!(Level::Debug);
    log::debug!("debug raised");
    log::trace!("trace raised");

    assert_eq!(
        *bodies.0.lock().unwrap(),
        ["info before", "warn lowered", "debug raised"],
        "log_enabled!(Debug) after raising: {enabled}"
    );
    assert!(enabled);

    // After the provider's shutdown: no panic, and a flush that returns at
    // once. (The provider still hands records to its processors, whose
    // `shutdown` has them drop and count what comes after: `log_enabled!`
    // stays true, as `Logger::enabled` does not look at the shutdown.)
    provider
        .shutdown(Duration::from_secs(5))
        .expect("shuts down");
    log::error!("after shutdown");
    let started = Instant::now();
    log::logger().flush();
    assert!(started.elapsed() < Duration::from_secs(1));
}
