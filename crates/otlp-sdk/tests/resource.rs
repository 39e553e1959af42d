//! The resource end to end: one loaded configuration gives the tracer,
//! logger and meter providers the same resource, encoded to the same bytes
//! for spans and log records, and the attribute limits of the
//! configuration never touch it (the specification: resource attributes
//! are not subject to the attribute limits).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use otlp_core::encode::Encoding;
use otlp_core::{AnyValue, LogRecord, Resource};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::metrics::MeterProvider;
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, LoggerProvider,
    Signal, TracerProvider,
};
use prost::Message;

/// Keeps every body it is given.
#[derive(Clone)]
struct Capture {
    signal: Signal,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Capture {
    fn new(signal: Signal) -> Self {
        Capture {
            signal,
            bodies: Arc::default(),
        }
    }
}

impl Exporter for Capture {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.bodies.lock().unwrap().push(request.body.to_vec());
        ExportOutcome::Success
    }
}

const LONG: &str = "a-resource-value-well-over-four-characters";

fn config() -> Config {
    ConfigLoader::new()
        .with_env([
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("deployment.environment.name={LONG},team=payments,region=eu"),
            ),
            ("OTEL_SERVICE_NAME", "checkout".to_owned()),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "1".to_owned()),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4".to_owned()),
        ])
        .load()
        .expect("a valid configuration")
}

fn text(resource: &Resource, key: &str) -> Option<String> {
    resource
        .get(key)
        .and_then(AnyValue::as_str)
        .map(str::to_owned)
}

#[test]
fn one_configuration_gives_the_three_providers_the_same_untruncated_resource() {
    let config = config();
    let spans = Capture::new(Signal::Traces);
    let logs = Capture::new(Signal::Logs);
    let span_processor = BatchSpanProcessor::builder(spans.clone())
        .build()
        .expect("a processor");
    let log_processor = BatchLogProcessor::builder(logs.clone())
        .build()
        .expect("a processor");
    let tracer_provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(span_processor)
        .build();
    let logger_provider = LoggerProvider::builder()
        .with_config(&config)
        .with_processor(log_processor)
        .build();
    let meter_provider = MeterProvider::builder()
        .with_config(&config)
        .build()
        .expect("a provider");

    let resource = tracer_provider.resource().clone();
    assert_eq!(**logger_provider.resource(), *resource);
    assert_eq!(**meter_provider.resource(), *resource);
    assert_eq!(resource.service_name(), Some("checkout"));
    assert_eq!(
        text(&resource, "deployment.environment.name").as_deref(),
        Some(LONG),
        "not cut to the attribute value length limit"
    );
    assert_eq!(text(&resource, "region").as_deref(), Some("eu"));
    assert_eq!(resource.dropped_attributes_count, 0);
    assert_eq!(
        text(&resource, "telemetry.sdk.language").as_deref(),
        Some("rust")
    );
    assert_eq!(
        text(&resource, "telemetry.sdk.name").as_deref(),
        Some("otlp-rust")
    );
    assert!(
        text(&resource, "telemetry.sdk.version").is_some_and(|version| !version.is_empty()),
        "{resource:?}"
    );

    // Through the pipelines: the same resource message, byte for byte.
    drop(tracer_provider.tracer("t").start("span"));
    logger_provider
        .logger("l")
        .emit(LogRecord::builder().body("b").build());
    let counter = meter_provider.meter("m").u64_counter("c").build();
    counter.add(1, &[]);
    tracer_provider
        .shutdown(Duration::from_secs(5))
        .expect("a clean shutdown");
    logger_provider
        .shutdown(Duration::from_secs(5))
        .expect("a clean shutdown");
    let metrics = meter_provider.collect();
    assert!(!metrics.is_empty());
    for metric in &metrics {
        assert_eq!(*metric.resource, *resource);
    }

    let span_resources: Vec<ProtoResource> = spans
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| {
            ExportTraceServiceRequest::decode(body.as_slice())
                .expect("a request")
                .resource_spans
        })
        .filter_map(|group| group.resource)
        .collect();
    let log_resources: Vec<ProtoResource> = logs
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| {
            ExportLogsServiceRequest::decode(body.as_slice())
                .expect("a request")
                .resource_logs
        })
        .filter_map(|group| group.resource)
        .collect();
    assert_eq!(span_resources.len(), 1);
    assert_eq!(log_resources.len(), 1);
    assert_eq!(
        span_resources[0].encode_to_vec(),
        log_resources[0].encode_to_vec()
    );
    assert_eq!(
        span_resources[0].attributes.len(),
        resource.attributes.len()
    );
    assert_eq!(span_resources[0].dropped_attributes_count, 0);
}

#[test]
fn the_effective_service_name_is_the_one_the_providers_resource_carries() {
    // A configuration built in code may repeat `service.name` among its
    // attributes (the loader never does); the resource keeps the last value
    // given for a key, so the effective name must be that one too (the
    // bridges of otlp-contrib name the service with it).
    let config = Config {
        resource_attributes: vec![
            ("service.name".into(), "first".into()),
            ("team".into(), "payments".into()),
            ("service.name".into(), "last".into()),
        ],
        ..Config::default()
    };
    let provider = TracerProvider::builder().with_config(&config).build();
    assert_eq!(provider.resource().service_name(), Some("last"));
    assert_eq!(config.effective_service_name(), Some("last"));
}

#[test]
fn a_blank_service_name_in_code_leaves_the_configured_one_to_every_provider() {
    // The configuration treats a blank service name as unset (and refuses a
    // blank `service_name` in validation); the builders do the same.
    let config = config();
    let blank = || Resource::new([otlp_core::KeyValue::new("service.name", " ")]);
    let tracer_provider = TracerProvider::builder()
        .with_config(&config)
        .with_resource(blank())
        .with_service_name("")
        .build();
    let logger_provider = LoggerProvider::builder()
        .with_config(&config)
        .with_resource(blank())
        .with_service_name("")
        .build();
    let meter_provider = MeterProvider::builder()
        .with_config(&config)
        .with_resource(blank())
        .with_service_name("")
        .build()
        .expect("a provider");
    let resource = tracer_provider.resource().clone();
    assert_eq!(resource.service_name(), Some("checkout"));
    assert_eq!(**logger_provider.resource(), *resource);
    assert_eq!(**meter_provider.resource(), *resource);
}

#[test]
fn a_blank_effective_service_name_is_no_name_as_for_the_providers_resource() {
    // A blank name is no name: the last non-blank `service.name` entry
    // names the service, for the configuration as for the resource.
    let config = Config {
        service_name: Some("  ".into()),
        resource_attributes: vec![
            ("service.name".into(), "named".into()),
            ("team".into(), "payments".into()),
            ("service.name".into(), String::new()),
        ],
        ..Config::default()
    };
    let provider = TracerProvider::builder().with_config(&config).build();
    assert_eq!(provider.resource().service_name(), Some("named"));
    assert_eq!(config.effective_service_name(), Some("named"));
}
