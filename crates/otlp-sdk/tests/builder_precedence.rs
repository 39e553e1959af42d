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
}

/// What `otlp-contrib`'s pipeline builds for a traces exporter `none`.
struct StandsForNone;

impl Exporter for StandsForNone {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn stands_for_none(&self) -> bool {
        true
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Permanent {
            error: otlp_sdk::ExportError::Request("traces export is off".into()),
        }
    }
}

#[test]
fn an_exporter_given_in_code_keeps_its_durable_queue_under_an_exporter_none() {
    // Before: `OTEL_TRACES_EXPORTER=none` closed the durable queue of a
    // pipeline over an exporter given in code, though such a pipeline
    // exports what the providers hand it (`none` is "no exporter from
    // configuration"): its spans were only in memory.
    let dir = TempDir::new("builder-precedence-none");
    let durable = small_config(dir.path(), FsyncPolicy::Never);
    let configured = |variable: &str, value: &str| {
        ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([(variable, value)])
            .load()
            .unwrap()
    };
    // Whether a pipeline over `exporter` built with `config` and the
    // durable queue opens it: then a second pipeline is refused the
    // directory.
    let opens = |config: &Config, exporter: Box<dyn otlp_sdk::DynExporter>| {
        let first = BatchSpanProcessor::builder(exporter)
            .with_durable_queue(durable.clone())
            .with_config(config)
            .build()
            .unwrap();
        let second = BatchSpanProcessor::builder(Accept)
            .with_durable_queue(durable.clone())
            .build();
        let refused = matches!(second, Err(PipelineError::Durable { .. }));
        if let Ok(second) = second {
            second.shutdown(Duration::from_secs(10)).unwrap();
        }
        first.shutdown(Duration::from_secs(10)).unwrap();
        refused
    };
    let none = configured("OTEL_TRACES_EXPORTER", "none");
    assert!(opens(&none, Box::new(Accept)), "an exporter given in code");
    // What the configuration alone builds leaves it closed: the stand-in
    // would fail what an earlier run left there.
    assert!(
        !opens(&none, Box::new(StandsForNone)),
        "a stand-in for none"
    );
    // OTEL_SDK_DISABLED keeps any durable queue closed, as before.
    let disabled = configured("OTEL_SDK_DISABLED", "true");
    assert!(!opens(&disabled, Box::new(Accept)), "OTEL_SDK_DISABLED");
}
