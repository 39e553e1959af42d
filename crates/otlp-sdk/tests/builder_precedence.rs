//! Builders with a `with_config`: what the program sets in code wins over a
//! loaded configuration, whether it is set before or after `with_config`.

mod durable_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use durable_support::{TempDir, small_config};
use otlp_core::encode::Encoding;
use otlp_core::{KeyValue, SpanData};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::durable::FsyncPolicy;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, PipelineError, Sampler, SpanLimits,
    SpanProcessor, TracerProvider,
};

/// Keeps every span it receives.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Collect {
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

struct Accept;

impl Exporter for Accept {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }
}

/// What a provider built by `build` records of one span with three attributes.
fn recorded(build: impl FnOnce(&Collect) -> TracerProvider) -> Vec<SpanData> {
    let collect = Collect::default();
    let provider = build(&collect);
    let mut span = provider.tracer("scope").start("span");
    for i in 0..3 {
        span.set_attribute(KeyValue::new(format!("key{i}"), i));
    }
    span.end();
    collect.0.lock().unwrap().clone()
}

#[test]
fn tracer_settings_set_in_code_win_over_a_configuration_given_after_them() {
    // Before: `with_config` replaced the limits (with the defaults, though
    // the configuration sets none) and the disabled flag set before it.
    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_SAMPLER", "always_off")])
        .load()
        .unwrap();
    let limits = SpanLimits {
        max_attributes: 1,
        ..SpanLimits::default()
    };
    let code_first = recorded(|collect| {
        TracerProvider::builder()
            .with_span_limits(limits)
            .with_sampler(Sampler::AlwaysOn)
            .with_config(&config)
            .with_processor(collect.clone())
            .build()
    });
    let config_first = recorded(|collect| {
        TracerProvider::builder()
            .with_config(&config)
            .with_span_limits(limits)
            .with_sampler(Sampler::AlwaysOn)
            .with_processor(collect.clone())
            .build()
    });
    for spans in [code_first, config_first] {
        assert_eq!(spans.len(), 1, "the sampler set in code");
        assert_eq!(spans[0].attributes.len(), 1, "the limits set in code");
        assert_eq!(spans[0].dropped_attributes_count, 2);
    }

    // The configuration still sets what code does not.
    let configured = recorded(|collect| {
        TracerProvider::builder()
            .with_span_limits(limits)
            .with_config(&config)
            .with_processor(collect.clone())
            .build()
    });
    assert!(configured.is_empty(), "the configuration's sampler");

    // Disabled in code stays disabled, enabled in code stays enabled.
    let disabled = recorded(|collect| {
        TracerProvider::builder()
            .with_disabled(true)
            .with_config(&Config::default())
            .with_processor(collect.clone())
            .build()
    });
    assert!(disabled.is_empty());
    let sdk_disabled = Config {
        disabled: true,
        ..Config::default()
    };
    let enabled = recorded(|collect| {
        TracerProvider::builder()
            .with_disabled(false)
            .with_config(&sdk_disabled)
            .with_processor(collect.clone())
            .build()
    });
    assert_eq!(enabled.len(), 1);
}

#[test]
fn a_durable_queue_set_in_code_survives_a_configuration_without_one() {
    // Before: `with_config` after `with_durable_queue` turned the queue off
    // (the configuration has no durable section), and the program's spans
    // were only in memory.
    let dir = TempDir::new("builder-precedence");
    let durable = small_config(dir.path(), FsyncPolicy::Never);
    let processor = BatchSpanProcessor::builder(Accept)
        .with_durable_queue(durable.clone())
        .with_config(&Config::default())
        .build()
        .unwrap();
    // The directory is the running pipeline's: a second one is refused it.
    let second = BatchSpanProcessor::builder(Accept)
        .with_durable_queue(durable.clone())
        .build();
    assert!(
        matches!(second, Err(PipelineError::Durable { .. })),
        "{second:?}"
    );
    processor.shutdown(Duration::from_secs(10)).unwrap();

    // A configuration that turns spans off keeps any durable queue closed.
    let off = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_EXPORTER", "none")])
        .load()
        .unwrap();
    let quiet = BatchSpanProcessor::builder(Accept)
        .with_durable_queue(durable.clone())
        .with_config(&off)
        .build()
        .unwrap();
    let beside = BatchSpanProcessor::builder(Accept)
        .with_durable_queue(durable)
        .build()
        .expect("the directory is free");
    beside.shutdown(Duration::from_secs(10)).unwrap();
    quiet.shutdown(Duration::from_secs(10)).unwrap();
}
