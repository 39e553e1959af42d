//! Shared helpers: a receiver, pipelines pointed at it, span lookup, proto values.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_core::encode::Encoding;
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::BatchSpanProcessor;
use otlp_sdk::config::BatchConfig;

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("receiver starts on loopback")
}

pub fn grpc_exporter(receiver: &Receiver) -> GrpcExporter {
    GrpcExporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("valid exporter")
}

pub fn http_exporter(receiver: &Receiver, encoding: Encoding) -> HttpExporter {
    HttpExporter::builder()
        .endpoint(receiver.http_endpoint().expect("HTTP listener"))
        .encoding(encoding)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("valid exporter")
}

/// Our pipeline with a short schedule, exporting over gRPC to `receiver`.
pub fn grpc_pipeline(receiver: &Receiver) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(grpc_exporter(receiver))
        .with_batch_config(BatchConfig {
            scheduled_delay: Duration::from_millis(50),
            ..BatchConfig::default()
        })
        .build()
        .expect("pipeline starts")
}

/// The accepted span named `name`.
pub fn span_named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("no span named {name:?} in {:?}", names(spans)))
}

pub fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|span| span.name.as_str()).collect()
}

/// The value of attribute `key`.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

pub fn string(text: &str) -> Value {
    Value::StringValue(text.into())
}

pub fn array(values: impl IntoIterator<Item = Value>) -> Value {
    Value::ArrayValue(ArrayValue {
        values: values
            .into_iter()
            .map(|value| AnyValue { value: Some(value) })
            .collect(),
    })
}

/// The one resource and scope of a request's only span group.
pub fn only_group(request: &ExportTraceServiceRequest) -> (&[KeyValue], &str, &str) {
    assert_eq!(request.resource_spans.len(), 1, "one resource");
    let resource_spans = &request.resource_spans[0];
    assert_eq!(resource_spans.scope_spans.len(), 1, "one scope");
    let scope = resource_spans.scope_spans[0]
        .scope
        .as_ref()
        .expect("scope present");
    (
        &resource_spans
            .resource
            .as_ref()
            .expect("resource present")
            .attributes,
        &scope.name,
        &scope.version,
    )
}

/// Polls a future to completion on this thread without any tokio context,
/// the way `opentelemetry_sdk`'s processors run exports (`futures_executor::block_on`).
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// A finished SDK span built by hand, for calling `SpanExporter::export` directly.
pub fn sample_span(i: u64) -> opentelemetry_sdk::trace::SpanData {
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    let start = std::time::SystemTime::now();
    opentelemetry_sdk::trace::SpanData {
        span_context: SpanContext::new(
            TraceId::from(99u128),
            SpanId::from(i),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: "direct".into(),
        start_time: start,
        end_time: start + Duration::from_millis(1),
        attributes: vec![],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: opentelemetry::InstrumentationScope::builder("direct").build(),
    }
}
