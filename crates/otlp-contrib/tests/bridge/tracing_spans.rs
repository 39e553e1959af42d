//! `tracing` spans through `tracing-opentelemetry` on a provider using
//! `OtlpSpanProcessor`: fields become attributes, nesting becomes parentage.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Proto;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otlp_contrib::bridge::OtlpSpanProcessor;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::{
    TIMEOUT, attribute, grpc_pipeline, names, only_group, receiver, span_named, string,
};

#[test]
fn nested_tracing_spans_arrive_with_fields_and_parents() {
    let receiver = receiver();
    let pipeline = grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("tracing-app")
                .build(),
        )
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing-app")));

    // Thread-local: tests running in parallel do not share it.
    let guard = tracing::subscriber::set_default(subscriber);
    {
        let request = tracing::info_span!(
            "handle request",
            http.request.method = "GET",
            user.id = 42i64
        );
        let _request = request.enter();
        {
            let query =
                tracing::info_span!("query db", db.rows = 7i64, cached = false, ratio = 0.5);
            let _query = query.enter();
            tracing::info!(rows = 7i64, "query done");
        }
        let render = tracing::info_span!("render", template = "cart.html");
        render.in_scope(|| {});
    }
    drop(guard);

    provider.force_flush().expect("flushed");
    assert!(receiver.wait_for_spans(3, TIMEOUT));
    provider.shutdown_with_timeout(TIMEOUT).expect("shut down");
    assert_eq!(pipeline.stats().exported, 3);

    let spans = receiver.accepted_spans();
    assert_eq!(spans.len(), 3, "{:?}", names(&spans));
    let request = span_named(&spans, "handle request");
    let query = span_named(&spans, "query db");
    let render = span_named(&spans, "render");

    // One trace; the request is the root, the others its children.
    assert_eq!(request.trace_id.len(), 16);
    assert!(request.parent_span_id.is_empty());
    for child in [query, render] {
        assert_eq!(child.trace_id, request.trace_id);
        assert_eq!(child.parent_span_id, request.span_id);
    }
    assert_ne!(query.span_id, render.span_id);

    // Fields are attributes, with their types.
    assert_eq!(
        attribute(&request.attributes, "http.request.method"),
        Some(&string("GET"))
    );
    assert_eq!(
        attribute(&request.attributes, "user.id"),
        Some(&Proto::IntValue(42))
    );
    assert_eq!(
        attribute(&query.attributes, "db.rows"),
        Some(&Proto::IntValue(7))
    );
    assert_eq!(
        attribute(&query.attributes, "cached"),
        Some(&Proto::BoolValue(false))
    );
    assert_eq!(
        attribute(&query.attributes, "ratio"),
        Some(&Proto::DoubleValue(0.5))
    );
    assert_eq!(
        attribute(&render.attributes, "template"),
        Some(&string("cart.html"))
    );

    // The event inside the query span is a span event with its fields.
    assert_eq!(query.events.len(), 1);
    let event = &query.events[0];
    assert_eq!(event.name, "query done");
    assert_eq!(
        attribute(&event.attributes, "rows"),
        Some(&Proto::IntValue(7))
    );
    assert!(
        (query.start_time_unix_nano..=query.end_time_unix_nano).contains(&event.time_unix_nano)
    );

    let requests = receiver.accepted_requests();
    let (resource, scope, _) = only_group(&requests[0]);
    assert_eq!(
        attribute(resource, "service.name"),
        Some(&string("tracing-app"))
    );
    assert_eq!(scope, "tracing-app");
}

/// `tracing-opentelemetry` puts an error's message on its span as
/// `exception.message` once per error recorded there (a field, then an
/// event), and `opentelemetry_sdk` keeps each one; the span arrives with the
/// key once, holding the last error's message.
#[test]
fn errors_recorded_twice_on_a_span_arrive_as_one_exception_message() {
    let receiver = receiver();
    let pipeline = grpc_pipeline(&receiver);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_error_fields_to_exceptions(true)
            .with_error_records_to_exceptions(true)
            .with_tracer(provider.tracer("tracing-app")),
    );
    let guard = tracing::subscriber::set_default(subscriber);
    {
        let first = std::io::Error::other("disk full");
        let last = std::io::Error::other("disk still full");
        let span = tracing::info_span!("write", error = tracing::field::Empty);
        let _span = span.enter();
        span.record("error", &first as &(dyn std::error::Error + 'static));
        tracing::error!(
            error = &last as &(dyn std::error::Error + 'static),
            "write failed"
        );
    }
    drop(guard);

    provider.force_flush().expect("flushed");
    assert!(receiver.wait_for_spans(1, TIMEOUT));
    provider.shutdown_with_timeout(TIMEOUT).expect("shut down");
    let spans = receiver.accepted_spans();
    let span = span_named(&spans, "write");
    let messages: Vec<_> = span
        .attributes
        .iter()
        .filter(|kv| kv.key == "exception.message")
        .collect();
    assert_eq!(messages.len(), 1, "{:?}", span.attributes);
    assert_eq!(
        attribute(&span.attributes, "exception.message"),
        Some(&string("disk still full"))
    );
}
