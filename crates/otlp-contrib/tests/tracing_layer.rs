//! The `tracing` front door end to end: `tracing` macros, through
//! `OtlpLayer` and a real batch pipeline, to an exporter that decodes every
//! request with `opentelemetry-proto` — or, for the pipeline's own
//! telemetry, over gRPC to the embedded receiver.
//!
//! Every test but one installs its subscriber for its own thread
//! (`with_default`) or its own runtime's threads; the gRPC test alone sets
//! the global default, which no other test relies on.

use std::collections::HashSet;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, Status as ProtoStatus};
use otlp_contrib::pipeline::build_processor;
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::tracing::{OtlpLayer, OtlpSpanExt as _, SetParentError, extract, inject};
use otlp_core::encode::Encoding;
use otlp_core::{InstrumentationScope, SpanContext, TraceId};
use otlp_sdk::config::ConfigLoader;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, Sampler, SpanLimits, SpanProcessor,
    TracerProvider,
};
use prost::Message as _;
use tracing::Instrument as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// An exporter that decodes every request, as a collector would.
struct Decoding(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

impl Exporter for Decoding {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let decoded = ExportTraceServiceRequest::decode(request.body)
            .expect("every request decodes with opentelemetry-proto");
        self.0.lock().unwrap().push(decoded);
        ExportOutcome::Success
    }
}

/// A provider over a batch pipeline into [`Decoding`].
struct Pipeline {
    provider: TracerProvider,
    processor: BatchSpanProcessor,
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

/// What arrived: each span with its scope's name.
struct Exported {
    spans: Vec<(String, ProtoSpan)>,
}

impl Pipeline {
    fn new(sampler: Sampler) -> Self {
        Pipeline::with_limits(sampler, SpanLimits::default())
    }

    fn with_limits(sampler: Sampler, limits: SpanLimits) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let processor = BatchSpanProcessor::builder(Decoding(requests.clone()))
            .build()
            .expect("the pipeline builds");
        let provider = TracerProvider::builder()
            .with_service_name("tracing-layer-test")
            .with_sampler(sampler)
            .with_span_limits(limits)
            .with_processor(processor.clone())
            .build();
        Pipeline {
            provider,
            processor,
            requests,
        }
    }

    /// Shuts the pipeline down and returns every span it exported.
    fn finish(self) -> Exported {
        self.provider
            .shutdown(PATIENCE)
            .expect("the pipeline shuts down");
        let stats = self.processor.stats();
        assert!(stats.is_balanced(), "{stats:#?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        assert_eq!(stats.exported, stats.produced, "{stats:#?}");
        let requests = std::mem::take(&mut *self.requests.lock().unwrap());
        let mut spans = Vec::new();
        for request in requests {
            for resource_spans in request.resource_spans {
                for scope_spans in resource_spans.scope_spans {
                    let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
                    for span in scope_spans.spans {
                        spans.push((scope.clone(), span));
                    }
                }
            }
        }
        Exported { spans }
    }
}

impl Exported {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn named(&self, name: &str) -> &ProtoSpan {
        let mut found = self.spans.iter().filter(|(_, span)| span.name == name);
        let (_, span) = found
            .next()
            .unwrap_or_else(|| panic!("no span named {name:?} in {:#?}", self.names()));
        assert!(found.next().is_none(), "several spans named {name:?}");
        span
    }

    fn names(&self) -> Vec<&str> {
        self.spans
            .iter()
            .map(|(_, span)| span.name.as_str())
            .collect()
    }
}

fn attribute<'a>(attributes: &'a [ProtoKeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

fn string(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

fn status(span: &ProtoSpan) -> (StatusCode, String) {
    let ProtoStatus { code, message } = span.status.clone().unwrap_or_default();
    (StatusCode::try_from(code).unwrap(), message)
}

/// An error with a source, as applications have.
#[derive(Debug)]
struct CardDeclined;

impl fmt::Display for CardDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card declined")
    }
}

impl Error for CardDeclined {}

#[tracing::instrument(fields(otel.kind = "server", cart.items = items))]
fn checkout(user: &str, items: u32) {
    let _lookup = tracing::info_span!("load cart", cache.hit = true).entered();
    tracing::info!(
        small = 7_u64,
        huge = u64::MAX,
        ratio = 0.25,
        negative = -3_i64,
        text = "plain",
        debug = ?vec![1, 2],
        display = %"shown",
        "cart loaded"
    );
}

#[tracing::instrument(err)]
fn charge(amount: u32) -> Result<(), CardDeclined> {
    Err(CardDeclined)
}

#[test]
fn spans_fields_and_events_arrive_with_their_types_and_tree() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(
            "request",
            otel.name = "POST /checkout",
            http.response.status_code = tracing::field::Empty,
        );
        request.in_scope(|| {
            checkout("ada", 3);
            let _ = charge(12);
            let explicit_root = tracing::info_span!(parent: None, "detached");
            explicit_root.in_scope(|| tracing::warn!("alone"));
        });
        let explicit_child = tracing::info_span!(parent: &request, "audit");
        drop(explicit_child);
        request.record("http.response.status_code", 201_i64);
    });
    let exported = pipeline.finish();
    assert_eq!(exported.len(), 6, "{:?}", exported.names());
    for (scope, span) in &exported.spans {
        assert_eq!(scope, "otlp_contrib::tracing");
        assert!(span.start_time_unix_nano > 0);
        assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
    }

    // The tree: one trace, parents as the code nested them.
    let request = exported.named("POST /checkout");
    let checkout = exported.named("checkout");
    let load = exported.named("load cart");
    let charge = exported.named("charge");
    let audit = exported.named("audit");
    let detached = exported.named("detached");
    assert!(request.parent_span_id.is_empty());
    assert_eq!(checkout.parent_span_id, request.span_id);
    assert_eq!(load.parent_span_id, checkout.span_id);
    assert_eq!(charge.parent_span_id, request.span_id);
    assert_eq!(audit.parent_span_id, request.span_id);
    for span in [checkout, load, charge, audit] {
        assert_eq!(span.trace_id, request.trace_id);
    }
    assert!(detached.parent_span_id.is_empty());
    assert_ne!(detached.trace_id, request.trace_id);

    // `otel.name` renamed, `Span::record` filled a declared field.
    assert_eq!(
        attribute(&request.attributes, "http.response.status_code"),
        Some(&Value::IntValue(201))
    );
    assert!(attribute(&request.attributes, "otel.name").is_none());
    // `#[instrument]` arguments and fields, `otel.kind`.
    assert_eq!(checkout.kind, SpanKind::Server as i32);
    assert_eq!(request.kind, SpanKind::Internal as i32);
    assert_eq!(
        attribute(&checkout.attributes, "user"),
        Some(&string("ada"))
    );
    assert_eq!(
        attribute(&checkout.attributes, "items"),
        Some(&Value::IntValue(3))
    );
    assert_eq!(
        attribute(&checkout.attributes, "cart.items"),
        Some(&Value::IntValue(3))
    );
    assert!(attribute(&checkout.attributes, "otel.kind").is_none());
    assert_eq!(
        attribute(&load.attributes, "cache.hit"),
        Some(&Value::BoolValue(true))
    );
    // Location, under the semantic conventions' names.
    assert_eq!(
        attribute(&load.attributes, "code.file.path"),
        Some(&string(file!()))
    );
    assert!(matches!(
        attribute(&load.attributes, "code.line.number"),
        Some(Value::IntValue(line)) if *line > 0
    ));
    assert_eq!(
        attribute(&load.attributes, "code.module.name"),
        Some(&string(module_path!()))
    );

    // The event: name from the message, fields with their types.
    assert_eq!(load.events.len(), 1);
    let event = &load.events[0];
    assert_eq!(event.name, "cart loaded");
    assert!(event.time_unix_nano >= load.start_time_unix_nano);
    assert!(event.time_unix_nano <= load.end_time_unix_nano);
    let fields = &event.attributes;
    assert_eq!(attribute(fields, "small"), Some(&Value::IntValue(7)));
    assert_eq!(
        attribute(fields, "huge"),
        Some(&string("18446744073709551615"))
    );
    assert_eq!(attribute(fields, "ratio"), Some(&Value::DoubleValue(0.25)));
    assert_eq!(attribute(fields, "negative"), Some(&Value::IntValue(-3)));
    assert_eq!(attribute(fields, "text"), Some(&string("plain")));
    assert_eq!(attribute(fields, "debug"), Some(&string("[1, 2]")));
    assert_eq!(attribute(fields, "display"), Some(&string("shown")));
    assert_eq!(attribute(fields, "level"), Some(&string("INFO")));
    assert!(attribute(fields, "message").is_none());
    assert_eq!(status(load).0, StatusCode::Unset);

    // `#[instrument(err)]`: an ERROR event carrying the error.
    let (code, message) = status(charge);
    assert_eq!(code, StatusCode::Error);
    assert_eq!(message, "card declined");
    assert_eq!(charge.events.len(), 1);
    assert_eq!(charge.events[0].name, "exception");
    assert_eq!(
        attribute(&charge.events[0].attributes, "exception.message"),
        Some(&string("card declined"))
    );
    // A WARN event does not touch the status.
    assert_eq!(detached.events[0].name, "alone");
    assert_eq!(status(detached).0, StatusCode::Unset);
}

#[test]
fn reserved_fields_errors_and_links() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let producer = tracing::info_span!("enqueue", otel.kind = "PRODUCER");
        producer.in_scope(|| {});
        let consumer = tracing::info_span!(
            parent: None,
            "dequeue",
            otel.kind = "consumer",
            otel.status_code = "ok"
        );
        consumer.follows_from(&producer);
        consumer.in_scope(|| tracing::error!("not an error once ok"));
        let failing = tracing::info_span!(
            "failing",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            cause = tracing::field::Empty,
        );
        failing.in_scope(|| {
            tracing::error!("first error");
            tracing::error!("second error");
        });
        let error: &(dyn Error + 'static) = &CardDeclined;
        failing.record("cause", error);
        let explicit = tracing::info_span!(
            "explicit status",
            otel.status_code = "Error",
            otel.status_description = "quota exceeded"
        );
        explicit.in_scope(|| tracing::error!("later error"));
    });
    let exported = pipeline.finish();
    let producer = exported.named("enqueue");
    let consumer = exported.named("dequeue");
    assert_eq!(producer.kind, SpanKind::Producer as i32);
    assert_eq!(consumer.kind, SpanKind::Consumer as i32);
    assert_eq!(status(consumer).0, StatusCode::Ok);
    assert_eq!(consumer.links.len(), 1);
    assert_eq!(consumer.links[0].trace_id, producer.trace_id);
    assert_eq!(consumer.links[0].span_id, producer.span_id);
    assert_ne!(consumer.trace_id, producer.trace_id);

    // The first ERROR event sets the status; the error value recorded later
    // is an attribute and an exception event.
    let failing = exported.named("failing");
    assert_eq!(
        status(failing),
        (StatusCode::Error, "first error".to_owned())
    );
    assert_eq!(
        attribute(&failing.attributes, "cause"),
        Some(&string("card declined"))
    );
    let exception = failing
        .events
        .iter()
        .find(|event| event.name == "exception")
        .expect("an exception event");
    assert_eq!(
        attribute(&exception.attributes, "exception.message"),
        Some(&string("card declined"))
    );

    let explicit = exported.named("explicit status");
    assert_eq!(
        status(explicit),
        (StatusCode::Error, "quota exceeded".to_owned())
    );
}

/// Before a span starts (entered, an event, a child, its context read), the
/// last `otel.status_code` recorded wins, `unset` included, as in
/// `tracing-opentelemetry`'s span builder: `unset` clears an earlier status,
/// and an `ERROR` event may then set one. Once started, `ok` is final and
/// `unset` is ignored (the specification's rules).
#[test]
fn unset_recorded_before_a_span_starts_clears_its_earlier_status() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let retried = tracing::info_span!(
            "retried",
            otel.status_code = "error",
            otel.status_description = "first attempt failed"
        );
        retried.record("otel.status_code", "unset");
        drop(retried);
        let at_creation = tracing::info_span!(
            "unset at creation",
            otel.status_description = "overridden",
            otel.status_code = "UNSET"
        );
        drop(at_creation);
        let then_error = tracing::info_span!(
            "unset then an error event",
            otel.status_code = tracing::field::Empty
        );
        then_error.record("otel.status_code", "ok");
        then_error.record("otel.status_code", "unset");
        then_error.in_scope(|| tracing::error!("the retry failed too"));
        let started = tracing::info_span!("unset once started", otel.status_code = "error");
        started.in_scope(|| {});
        started.record("otel.status_code", "unset");
    });
    let exported = pipeline.finish();
    assert_eq!(status(exported.named("retried")).0, StatusCode::Unset);
    assert_eq!(
        status(exported.named("unset at creation")).0,
        StatusCode::Unset
    );
    assert_eq!(
        status(exported.named("unset then an error event")),
        (StatusCode::Error, "the retry failed too".to_owned())
    );
    assert_eq!(
        status(exported.named("unset once started")).0,
        StatusCode::Error
    );
}

/// `otel.status_code` and `otel.status_description` are two fields: recording
/// the code `error` alone, after the description (or after an `ERROR` event
/// gave the span its message), says the span failed and leaves the
/// description as it was, before the span starts and after.
#[test]
fn an_error_code_recorded_alone_keeps_the_description_recorded_before_it() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        for (name, start_first) in [("pending", false), ("started", true)] {
            let span = tracing::info_span!(
                "query",
                otel.name = name,
                otel.status_code = tracing::field::Empty,
                otel.status_description = tracing::field::Empty,
            );
            if start_first {
                span.in_scope(|| {});
            }
            span.record("otel.status_description", "database unreachable");
            span.record("otel.status_code", "error");
        }
        let after_event = tracing::info_span!(
            "after an error event",
            otel.status_code = tracing::field::Empty
        );
        after_event.in_scope(|| tracing::error!("retries exhausted"));
        after_event.record("otel.status_code", "error");
        // `unset` before the span starts clears the description with the code.
        let cleared = tracing::info_span!(
            "cleared",
            otel.status_code = tracing::field::Empty,
            otel.status_description = "first attempt failed"
        );
        cleared.record("otel.status_code", "unset");
        cleared.record("otel.status_code", "error");
    });
    let exported = pipeline.finish();
    for name in ["pending", "started"] {
        assert_eq!(
            status(exported.named(name)),
            (StatusCode::Error, "database unreachable".to_owned()),
            "{name}"
        );
    }
    assert_eq!(
        status(exported.named("after an error event")),
        (StatusCode::Error, "retries exhausted".to_owned())
    );
    assert_eq!(
        status(exported.named("cleared")),
        (StatusCode::Error, String::new())
    );
}

/// `OtlpSpanExt::add_link` with an invalid context (the context of a span no
/// `OtlpLayer` records, `Span::none()`'s) adds no link of zeros, as
/// `tracing-opentelemetry`'s `add_link` ignores it; a valid one is a link.
#[test]
fn a_link_to_an_invalid_context_is_not_recorded() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber =
        tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider).with_filter(
            tracing_subscriber::filter::filter_fn(|m| m.name() != "hidden"),
        ));
    tracing::subscriber::with_default(subscriber, || {
        let other = tracing::info_span!(parent: None, "other");
        let hidden = tracing::info_span!(parent: None, "hidden");
        let span = tracing::info_span!(parent: None, "linked");
        span.add_link(&tracing::Span::none().context());
        span.add_link(&hidden.context());
        span.add_link(&SpanContext::default());
        span.add_link(&other.context());
        span.in_scope(|| {});
        // Started: the same for a link added now.
        span.add_link(&hidden.context());
    });
    let exported = pipeline.finish();
    let other = exported.named("other");
    let linked = exported.named("linked");
    assert_eq!(linked.links.len(), 1, "{:?}", linked.links);
    assert_eq!(linked.links[0].span_id, other.span_id);
    assert_eq!(linked.dropped_links_count, 0);
}

#[test]
fn spans_keep_their_parent_across_await_on_a_multi_thread_runtime() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider)),
    );
    let on_workers = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(move || {
            // The worker keeps it for its life.
            std::mem::forget(tracing::dispatcher::set_default(&on_workers));
        })
        .build()
        .unwrap();
    const TASKS: usize = 8;
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let root = tracing::info_span!("batch");
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let span = tracing::info_span!(parent: &root, "task", task);
                    tokio::spawn(
                        async move {
                            for step in 0..3 {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                                tokio::task::yield_now().await;
                                let step_span = tracing::info_span!("step", step);
                                async {
                                    tokio::task::yield_now().await;
                                    tracing::info!("stepped");
                                }
                                .instrument(step_span)
                                .await;
                            }
                        }
                        .instrument(span),
                    )
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    });
    drop(runtime);
    let exported = pipeline.finish();
    assert_eq!(exported.len(), 1 + TASKS + 3 * TASKS);
    let root = exported.named("batch");
    let tasks: HashSet<&[u8]> = exported
        .spans
        .iter()
        .filter(|(_, span)| span.name == "task")
        .map(|(_, span)| {
            assert_eq!(span.parent_span_id, root.span_id);
            assert_eq!(span.trace_id, root.trace_id);
            span.span_id.as_slice()
        })
        .collect();
    assert_eq!(tasks.len(), TASKS);
    let mut steps_per_task = std::collections::HashMap::<&[u8], usize>::new();
    for (_, span) in exported.spans.iter().filter(|(_, s)| s.name == "step") {
        assert!(tasks.contains(span.parent_span_id.as_slice()));
        assert_eq!(span.trace_id, root.trace_id);
        assert_eq!(span.events.len(), 1);
        *steps_per_task.entry(&span.parent_span_id).or_default() += 1;
    }
    assert!(steps_per_task.values().all(|steps| *steps == 3));
}

#[test]
fn set_parent_from_a_traceparent_continues_the_remote_trace() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote = SpanContext::from_traceparent(TRACEPARENT).unwrap();
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let mut propagated = http::HeaderMap::new();
    tracing::subscriber::with_default(subscriber, || {
        // Inside a local span, as a handler often is: the remote parent wins.
        let _outer = tracing::info_span!("accept loop").entered();
        let server = tracing::info_span!("GET /users", otel.kind = "server");
        server.set_parent(&remote).expect("not started yet");
        server.in_scope(|| {
            let client = tracing::info_span!("call billing", otel.kind = "client");
            let _entered = client.enter();
            inject(&tracing::Span::current().context(), &mut propagated);
        });
        assert_eq!(
            server.set_parent(&remote),
            Err(SetParentError::AlreadyStarted)
        );
        // "billing", in the same process here: extract, then set_parent.
        let billing = tracing::info_span!(parent: None, "POST /charge", otel.kind = "server");
        billing
            .set_parent(&extract(&propagated).expect("a traceparent"))
            .unwrap();
        billing.in_scope(|| {});
    });
    // A subscriber without the layer (not the global one: another test sets it).
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        assert_eq!(
            tracing::info_span!("no layer").set_parent(&remote),
            Err(SetParentError::NotRecorded)
        );
    });
    assert!(!tracing::Span::none().context().is_valid());

    let exported = pipeline.finish();
    let server = exported.named("GET /users");
    let client = exported.named("call billing");
    let billing = exported.named("POST /charge");
    let outer = exported.named("accept loop");
    assert_eq!(server.trace_id, remote.trace_id.to_bytes());
    assert_eq!(server.parent_span_id, remote.span_id.to_bytes());
    assert_ne!(outer.trace_id, server.trace_id);
    // A remote parent: flags say so (bit 8 known, bit 9 remote).
    assert_eq!(server.flags & 0x300, 0x300);
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.trace_id, server.trace_id);
    // What crossed the headers: the client span's context.
    let sent = extract(&propagated).unwrap();
    assert_eq!(sent.trace_id, remote.trace_id);
    assert_eq!(
        sent.span_id.to_bytes().as_slice(),
        client.span_id.as_slice()
    );
    assert_eq!(billing.trace_id, server.trace_id);
    assert_eq!(billing.parent_span_id, client.span_id);
}

#[test]
fn a_tracing_root_says_its_trace_id_is_random_as_a_native_root_does() {
    // W3C Trace Context level 2: the SDK made the root's trace id at
    // random, so the root says so (flag 0x02) in its `traceparent` and in
    // OTLP's `Span.flags`; its children keep it, and the child of a remote
    // parent that did not say so does not get it.
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote = SpanContext::from_traceparent(TRACEPARENT).unwrap();
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let mut propagated = http::HeaderMap::new();
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("root");
        root.in_scope(|| {
            let child = tracing::info_span!("child");
            child.in_scope(|| inject(&tracing::Span::current().context(), &mut propagated));
        });
        let server = tracing::info_span!(parent: None, "server");
        server.set_parent(&remote).unwrap();
        assert!(server.context().traceparent().ends_with("-01"));
    });
    let sent = propagated["traceparent"].to_str().unwrap();
    assert!(sent.ends_with("-03"), "{sent}");

    let exported = pipeline.finish();
    for name in ["root", "child"] {
        assert_eq!(exported.named(name).flags & 0xff, 0x03, "{name}");
    }
    assert_eq!(exported.named("server").flags & 0xff, 0x01);
}

#[test]
fn inject_and_extract_round_trip_through_a_header_map() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let mut incoming = http::HeaderMap::new();
        incoming.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        incoming.insert(
            "tracestate",
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".parse().unwrap(),
        );
        let remote = extract(&incoming).expect("valid headers");
        let span = tracing::info_span!("handler");
        span.set_parent(&remote).unwrap();
        let context = span.context();
        assert_eq!(context.trace_id, remote.trace_id);
        assert_eq!(context.trace_state, remote.trace_state);
        assert!(!context.is_remote);
        let mut outgoing = http::HeaderMap::new();
        inject(&context, &mut outgoing);
        assert_eq!(
            outgoing["tracestate"],
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        );
        let back = extract(&outgoing).unwrap();
        assert_eq!(back.trace_id, context.trace_id);
        assert_eq!(back.span_id, context.span_id);
        assert_eq!(back.trace_flags, context.trace_flags);
        assert_eq!(back.trace_state, context.trace_state);
    });
    assert_eq!(pipeline.finish().len(), 1);
}

#[test]
fn sampled_out_spans_export_nothing() {
    let pipeline = Pipeline::new(Sampler::AlwaysOff);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let mut contexts = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..100_u64 {
            let span = tracing::info_span!("dropped", i, late = tracing::field::Empty);
            let _entered = span.enter();
            span.record("late", "value");
            tracing::error!(i, "not recorded");
            let _child = tracing::info_span!("child").entered();
            contexts.push(tracing::Span::current().context());
        }
    });
    // Once a sampled-out span has started, nothing recorded in it is
    // converted: this value's `Debug` is never called.
    let formatted = Arc::new(AtomicUsize::new(0));
    let pipeline_off = Pipeline::new(Sampler::AlwaysOff);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline_off.provider));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("dropped", late = tracing::field::Empty);
        let _entered = span.enter();
        let counted = CountsFormatting(formatted.clone());
        span.record("late", tracing::field::debug(&counted));
        tracing::info!(value = ?counted, "inside");
    });
    assert_eq!(formatted.load(Ordering::SeqCst), 0);
    assert_eq!(pipeline_off.finish().len(), 0);

    // Not sampled, but a valid context that says so, for the next service.
    assert!(
        contexts
            .iter()
            .all(|c| c.is_valid() && !c.trace_flags.is_sampled())
    );
    let stats = pipeline.processor.stats();
    assert_eq!(pipeline.finish().len(), 0);
    assert_eq!(stats.produced, 0);

    // A ratio: whole traces are kept or dropped, children follow their root.
    let pipeline = Pipeline::new(Sampler::parent_based(Sampler::TraceIdRatio(0.5)));
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..200 {
            let _root = tracing::info_span!("root").entered();
            let _child = tracing::info_span!("child").entered();
        }
    });
    let exported = pipeline.finish();
    let roots: HashSet<&[u8]> = exported
        .spans
        .iter()
        .filter(|(_, span)| span.name == "root")
        .map(|(_, span)| span.trace_id.as_slice())
        .collect();
    let children: HashSet<&[u8]> = exported
        .spans
        .iter()
        .filter(|(_, span)| span.name == "child")
        .map(|(_, span)| span.trace_id.as_slice())
        .collect();
    assert_eq!(roots, children);
    assert!((40..160).contains(&roots.len()), "{} of 200", roots.len());
}

/// A span never entered is decided once, at its close: a ratio keeps its
/// share of them, not the share's square (two draws, each with its own
/// trace id, both needing to say yes: what a shortcut that asks the sampler
/// first and starts the span after would do).
#[test]
fn a_ratio_keeps_its_share_of_spans_never_entered() {
    let pipeline = Pipeline::new(Sampler::parent_based(Sampler::TraceIdRatio(0.5)));
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..4_000 {
            drop(tracing::info_span!("never entered"));
        }
    });
    let kept = pipeline.finish().len();
    // Binomial(4000, 0.5): 2000 ± 32 (one standard deviation); the square,
    // 0.25, gives 1000 ± 27.
    assert!(
        (1_600..2_400).contains(&kept),
        "{kept} of 4000 kept at ratio 0.5"
    );
}

#[test]
fn a_span_the_ratio_sampler_drops_still_propagates_its_trace_as_not_sampled() {
    // Tracing on, but every root dropped: the spans still have ids, their
    // children and the next service continue their trace, told it is not
    // sampled; a remote parent given before the span starts decides
    // instead, with the fields given at creation kept.
    const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const NOT_SAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let pipeline = Pipeline::new(Sampler::parent_based(Sampler::TraceIdRatio(0.0)));
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        // Entered, with a child entered in it: the child's traceparent.
        let root = tracing::info_span!("dropped root", user = "u-1");
        let (child_context, mut sent) = root.in_scope(|| {
            let child = tracing::info_span!("dropped child").entered();
            let mut sent = http::HeaderMap::new();
            inject(&tracing::Span::current().context(), &mut sent);
            (child.context(), sent)
        });
        let root_context = root.context();
        assert!(root_context.is_valid() && !root_context.trace_flags.is_sampled());
        assert_eq!(child_context.trace_id, root_context.trace_id);
        assert_ne!(child_context.span_id, root_context.span_id);
        assert!(!child_context.trace_flags.is_sampled());
        let next = extract(&sent).expect("a traceparent");
        assert_eq!(next.trace_id, root_context.trace_id);
        assert_eq!(next.span_id, child_context.span_id);
        assert!(!next.trace_flags.is_sampled());
        sent.clear();

        // Never entered: its child (an explicit parent) starts it.
        let quiet = tracing::info_span!("never entered");
        let child = tracing::info_span!(parent: &quiet, "child of never entered");
        assert_eq!(child.context().trace_id, quiet.context().trace_id);
        assert!(!child.context().trace_flags.is_sampled());
        drop((quiet, child));

        // A remote parent that is not sampled: its trace goes on, unsampled.
        let remote = SpanContext::from_traceparent(NOT_SAMPLED).unwrap();
        let server = tracing::info_span!("unsampled server");
        server.set_parent(&remote).unwrap();
        server.in_scope(|| {
            let _client = tracing::info_span!("unsampled client").entered();
            inject(&tracing::Span::current().context(), &mut sent);
        });
        let next = extract(&sent).expect("a traceparent");
        assert_eq!(next.trace_id, remote.trace_id);
        assert!(!next.trace_flags.is_sampled());

        // A remote parent that is sampled: recorded despite the ratio, with
        // its creation fields, entered or closed without ever starting.
        let remote = SpanContext::from_traceparent(SAMPLED).unwrap();
        let entered = tracing::info_span!("sampled entered", user = "u-2");
        entered.set_parent(&remote).unwrap();
        entered.in_scope(|| {});
        let closed = tracing::info_span!("sampled never started", user = "u-3");
        closed.set_parent(&remote).unwrap();
        drop(closed);
        // Never started, its parent unsampled: dropped at close.
        let unsampled = tracing::info_span!("unsampled never started", user = "u-4");
        unsampled
            .set_parent(&SpanContext::from_traceparent(NOT_SAMPLED).unwrap())
            .unwrap();
    });
    let exported = pipeline.finish();
    let mut names = exported.names();
    names.sort_unstable();
    assert_eq!(names, ["sampled entered", "sampled never started"]);
    for (name, user) in [("sampled entered", "u-2"), ("sampled never started", "u-3")] {
        let span = exported.named(name);
        assert_eq!(span.trace_id, remote_trace_id(SAMPLED));
        assert_eq!(attribute(&span.attributes, "user"), Some(&string(user)));
    }
}

/// The trace id of a `traceparent`, as exported.
fn remote_trace_id(traceparent: &str) -> Vec<u8> {
    SpanContext::from_traceparent(traceparent)
        .unwrap()
        .trace_id
        .to_bytes()
        .to_vec()
}

#[test]
fn with_tracing_off_no_field_is_converted_and_the_trace_still_propagates() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote = SpanContext::from_traceparent(TRACEPARENT).unwrap();
    let off_by_config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_EXPORTER", "none")])
        .load()
        .unwrap();
    let processor = BatchSpanProcessor::builder(Decoding(Arc::default()))
        .build()
        .unwrap();
    let providers = [
        // `OTEL_TRACES_SAMPLER=always_off`, and tracing turned off by configuration.
        TracerProvider::builder()
            .with_sampler(Sampler::AlwaysOff)
            .with_processor(processor.clone())
            .build(),
        // No processor given in code: a processor given in code would
        // still get the spans (`none` is "no exporter from configuration").
        TracerProvider::builder()
            .with_config(&off_by_config)
            .build(),
    ];
    // With `always_off` the next service is told the trace is not sampled;
    // with no exporter (`OTEL_TRACES_EXPORTER=none`) the sampler still
    // decides, here parent-based: the caller's sampled flag goes on.
    for (provider, sampled) in providers.iter().zip([false, true]) {
        assert!(provider.tracer("t").never_records());
        let formatted = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(provider));
        let mut sent = http::HeaderMap::new();
        tracing::subscriber::with_default(subscriber, || {
            let counted = CountsFormatting(formatted.clone());
            let server =
                tracing::info_span!("GET /users", value = ?counted, late = tracing::field::Empty);
            server.set_parent(&remote).expect("not started yet");
            server.record("late", tracing::field::debug(&counted));
            server.in_scope(|| {
                let _client = tracing::info_span!("call", value = ?counted).entered();
                tracing::info!(value = ?counted, "inside");
                inject(&tracing::Span::current().context(), &mut sent);
            });
        });
        assert_eq!(formatted.load(Ordering::SeqCst), 0, "no field converted");
        // The next service continues the caller's trace.
        let next = extract(&sent).expect("a traceparent");
        assert_eq!(next.trace_id, remote.trace_id);
        assert_ne!(next.span_id, remote.span_id);
        assert_eq!(next.trace_flags.is_sampled(), sampled);
    }
    providers[0].shutdown(PATIENCE).unwrap();
    assert_eq!(processor.stats().produced, 0);
}

#[test]
fn with_tracing_off_a_span_gets_its_ids_when_asked_and_its_children_share_its_trace() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote = SpanContext::from_traceparent(TRACEPARENT).unwrap();
    let pipeline = Pipeline::new(Sampler::AlwaysOff);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        // None of these is entered: their ids are made when asked for.
        let alone = tracing::info_span!("alone");
        let context = alone.context();
        assert!(context.is_valid() && !context.trace_flags.is_sampled());
        assert_eq!(alone.context(), context, "made once");
        assert_eq!(
            alone.set_parent(&remote),
            Err(SetParentError::AlreadyStarted)
        );

        let root = tracing::info_span!("root");
        let child = tracing::info_span!(parent: &root, "child");
        let grandchild = tracing::info_span!(parent: &child, "grandchild");
        let contexts = [grandchild.context(), child.context(), root.context()];
        assert!(contexts.iter().all(|c| c.trace_id == contexts[2].trace_id));
        let ids: HashSet<_> = contexts.iter().map(|c| c.span_id).collect();
        assert_eq!(ids.len(), 3);
        // A span with a child has a fixed trace, as when tracing is on.
        let parent = tracing::info_span!("parent");
        let _child = tracing::info_span!(parent: &parent, "child");
        assert_eq!(
            parent.set_parent(&remote),
            Err(SetParentError::AlreadyStarted)
        );
        // Entered: the current span's children are its children.
        let entered = tracing::info_span!("entered");
        let nested = entered.in_scope(|| tracing::info_span!("nested"));
        assert_eq!(nested.context().trace_id, entered.context().trace_id);

        // A remote parent given before anything asked: the trace continues.
        let server = tracing::info_span!("server");
        server.set_parent(&remote).unwrap();
        server.set_parent(&remote).unwrap();
        let client = tracing::info_span!(parent: &server, "client");
        assert_eq!(client.context().trace_id, remote.trace_id);
        let context = server.context();
        assert_eq!(context.trace_id, remote.trace_id);
        assert_ne!(context.span_id, remote.span_id);
        assert!(!context.trace_flags.is_sampled());
        // follows_from asks for the other span's ids.
        let follower = tracing::info_span!("follower");
        let followed = tracing::info_span!("followed");
        follower.follows_from(&followed);
        assert_eq!(
            followed.set_parent(&remote),
            Err(SetParentError::AlreadyStarted)
        );
        follower.set_parent(&remote).unwrap();
    });
    assert_eq!(pipeline.finish().len(), 0);
}

#[test]
fn with_tracing_off_a_span_a_per_layer_filter_hides_stays_unrecorded() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote = SpanContext::from_traceparent(TRACEPARENT).unwrap();
    let pipeline = Pipeline::new(Sampler::AlwaysOff);
    let filter = tracing_subscriber::filter::filter_fn(|metadata| metadata.name() != "hidden");
    let subscriber =
        tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider).with_filter(filter));
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("root");
        let hidden = tracing::info_span!(parent: &root, "hidden");
        let child = tracing::info_span!(parent: &hidden, "child");
        assert_eq!(hidden.set_parent(&remote), Err(SetParentError::NotRecorded));
        // What it propagates is its closest recorded ancestor's.
        assert_eq!(hidden.context(), root.context());
        // The hidden span's child hangs from the closest recorded ancestor.
        let context = child.context();
        assert!(context.is_valid());
        assert_eq!(context.trace_id, root.context().trace_id);
        // Its parent is fixed: `root` has a (recorded) descendant.
        assert_eq!(
            root.set_parent(&remote),
            Err(SetParentError::AlreadyStarted)
        );
        let entered = hidden.in_scope(|| tracing::info_span!("under hidden"));
        assert_eq!(entered.context().trace_id, root.context().trace_id);
    });
    assert_eq!(pipeline.finish().len(), 0);
}

#[test]
fn a_per_layer_filter_excludes_a_target_beside_a_fmt_layer() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target("noisy", tracing_subscriber::filter::LevelFilter::OFF);
    let formatted = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = formatted.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || SharedWriter(writer.clone())),
        )
        .with(OtlpLayer::new(&pipeline.provider).with_filter(filter));
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("kept outer");
        // Through the filter, the layer is still found.
        let remote = SpanContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        outer.set_parent(&remote).unwrap();
        let _outer = outer.entered();
        let noise = tracing::info_span!(target: "noisy", "hidden");
        assert_eq!(noise.set_parent(&remote), Err(SetParentError::NotRecorded));
        let _noise = noise.entered();
        tracing::info!(target: "noisy", "hidden event");
        let _inner = tracing::info_span!("kept inner").entered();
        tracing::info!("kept event");
    });
    let exported = pipeline.finish();
    assert_eq!(exported.names().len(), 2, "{:?}", exported.names());
    let outer = exported.named("kept outer");
    let inner = exported.named("kept inner");
    // The hidden span is skipped: its child hangs from the outer span.
    assert_eq!(inner.parent_span_id, outer.span_id);
    assert_eq!(outer.trace_id, inner.trace_id);
    assert_eq!(
        outer.trace_id.as_slice(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
            .unwrap()
            .as_bytes()
    );
    assert!(outer.events.is_empty());
    assert_eq!(inner.events.len(), 1);
    // The fmt layer saw everything.
    let text = String::from_utf8(formatted.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("hidden event") && text.contains("kept event"),
        "{text}"
    );
}

/// An event is a span event of the span it names (`parent: &span`), not of
/// the current one, as in `tracing-opentelemetry`; `parent: None` makes it
/// no span's event; a span the event names that has not started (never
/// entered) starts for it and keeps the event.
#[test]
fn an_event_is_an_event_of_the_span_it_names_and_parent_none_of_none() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let audit = tracing::info_span!(parent: None, "audit");
        let _current = tracing::info_span!("current").entered();
        tracing::info!("in current");
        tracing::info!(parent: &audit, "in audit");
        tracing::error!(parent: &audit, "audit failed");
        tracing::error!(parent: None, "in no span");
    });
    let exported = pipeline.finish();
    let current = exported.named("current");
    let audit = exported.named("audit");
    let names = |span: &ProtoSpan| -> Vec<String> {
        span.events.iter().map(|event| event.name.clone()).collect()
    };
    assert_eq!(names(current), ["in current"]);
    assert_eq!(names(audit), ["in audit", "audit failed"]);
    // The `ERROR` event's status goes to the span it names, too.
    assert_eq!(status(current).0, StatusCode::Unset);
    assert_eq!(
        status(audit),
        (StatusCode::Error, "audit failed".to_owned())
    );
    assert_ne!(audit.trace_id, current.trace_id);
}

/// An event whose message is empty (`info!("")`) is named after its call
/// site, as one without a message is and as in `tracing-opentelemetry`,
/// not `""`; one that carries an error is `exception`.
#[test]
fn an_event_with_an_empty_message_is_named_after_its_call_site() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("work").entered();
        tracing::info!("");
        tracing::info!(answer = 42);
        let error: &(dyn std::error::Error + 'static) = &std::fmt::Error;
        tracing::warn!(error, "");
    });
    let exported = pipeline.finish();
    let names: Vec<String> = exported
        .named("work")
        .events
        .iter()
        .map(|event| event.name.clone())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names[..2] {
        assert!(
            name.starts_with("event ") && name.contains("tracing_layer.rs:"),
            "{names:?}"
        );
    }
    assert_eq!(names[2], "exception", "{names:?}");
}

/// Per-layer filtering makes a span the filter hides invisible to the
/// layer: its children hang from its closest recorded ancestor, and so do
/// the events the filter lets through, whether their parent is the current
/// span or given explicitly (`info!(parent: &span, ...)`). An event the
/// filter hides is not the layer's, whatever its parent.
#[test]
fn an_event_whose_explicit_parent_the_filter_hides_goes_to_its_closest_recorded_ancestor() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target("noisy", tracing_subscriber::filter::LevelFilter::OFF);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
        .with(OtlpLayer::new(&pipeline.provider).with_filter(filter));
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("outer");
        let hidden = outer.in_scope(|| tracing::info_span!(target: "noisy", "hidden"));
        let hidden_child = tracing::info_span!(target: "noisy", parent: &hidden, "hidden child");
        tracing::info!(parent: &hidden, "under the hidden span");
        tracing::info!(parent: &hidden_child, "under its hidden child");
        tracing::info!(target: "noisy", parent: &outer, "hidden itself");
        tracing::info!(parent: &outer, "under outer");
        outer.in_scope(|| hidden.in_scope(|| tracing::info!("inside the hidden span")));
    });
    let exported = pipeline.finish();
    assert_eq!(exported.names(), ["outer"]);
    let events: Vec<&str> = exported
        .named("outer")
        .events
        .iter()
        .map(|event| event.name.as_str())
        .collect();
    assert_eq!(
        events,
        [
            "under the hidden span",
            "under its hidden child",
            "under outer",
            "inside the hidden span"
        ]
    );
}

#[test]
fn the_builder_sets_scope_location_and_error_events_to_status() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let layer = OtlpLayer::builder(&pipeline.provider)
        .with_scope(InstrumentationScope::new("checkout-service").with_version("1.2.3"))
        .with_location(false)
        .with_error_events_to_status(false)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        // Outside any span: nothing, not even a span.
        tracing::error!("nobody records this");
        let _span = tracing::info_span!("quiet", count = 1_u8).entered();
        tracing::error!("recorded, status untouched");
    });
    let exported = pipeline.finish();
    assert_eq!(exported.len(), 1);
    let (scope, span) = &exported.spans[0];
    assert_eq!(scope, "checkout-service");
    assert_eq!(status(span).0, StatusCode::Unset);
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "recorded, status untouched");
    let keys: Vec<&str> = span.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["count"]);
    assert!(
        span.events[0]
            .attributes
            .iter()
            .all(|attribute| !attribute.key.starts_with("code."))
    );
}

/// `with_threads(true)` records the creating thread as `tracing-opentelemetry`
/// does (`thread.id`, the `ThreadId`'s number; `thread.name` when the thread
/// has one), `with_target(true)` and `with_level(true)` the span's target and
/// level; by default none of them.
#[test]
fn spans_carry_their_thread_target_and_level_when_asked() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let with_threads = OtlpLayer::builder(&pipeline.provider)
        .with_location(false)
        .with_threads(true)
        .build();
    let subscriber = Arc::new(tracing_subscriber::registry().with(with_threads));
    let number = |id: std::thread::ThreadId| -> i64 {
        let text = format!("{id:?}");
        text["ThreadId(".len()..text.len() - 1].parse().unwrap()
    };
    let mut expected = Vec::new();
    for name in [Some("checkout-worker"), None] {
        let subscriber = subscriber.clone();
        let mut thread = std::thread::Builder::new();
        if let Some(name) = name {
            thread = thread.name(name.to_owned());
        }
        let id = thread
            .spawn(move || {
                tracing::subscriber::with_default(subscriber, || {
                    // Twice on the thread: the cached values are the same.
                    for _ in 0..2 {
                        let _span = tracing::info_span!("on a thread").entered();
                    }
                });
                std::thread::current().id()
            })
            .unwrap()
            .join()
            .unwrap();
        expected.push((number(id), name));
    }
    let plain = Pipeline::new(Sampler::AlwaysOn);
    let layer = OtlpLayer::builder(&plain.provider)
        .with_location(false)
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = tracing::info_span!("default").entered();
    });
    drop(subscriber);
    let exported = pipeline.finish();
    assert_eq!(exported.len(), 4);
    // Matched by id: the two threads' spans may arrive in either order.
    for (id, name) in expected {
        let spans: Vec<&ProtoSpan> = exported
            .spans
            .iter()
            .map(|(_, span)| span)
            .filter(|span| attribute(&span.attributes, "thread.id") == Some(&Value::IntValue(id)))
            .collect();
        assert_eq!(spans.len(), 2, "thread {id}");
        for span in spans {
            assert_eq!(
                attribute(&span.attributes, "thread.name"),
                name.map(string).as_ref()
            );
        }
    }
    let targeted = Pipeline::new(Sampler::AlwaysOn);
    let layer = OtlpLayer::builder(&targeted.provider)
        .with_location(false)
        .with_target(true)
        .with_level(true)
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = tracing::warn_span!(target: "checkout", "targeted", n = 1).entered();
    });
    let targeted = targeted.finish();
    let keys: Vec<(&str, &Value)> = targeted.spans[0]
        .1
        .attributes
        .iter()
        .map(|a| {
            (
                a.key.as_str(),
                a.value.as_ref().unwrap().value.as_ref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("target", &string("checkout")),
            ("level", &string("WARN")),
            ("n", &Value::IntValue(1))
        ]
    );
    let default = plain.finish();
    assert!(
        default.spans[0].1.attributes.is_empty(),
        "{:?}",
        default.spans[0].1
    );
}

#[test]
fn the_providers_span_limits_apply() {
    let limits = SpanLimits {
        max_attributes: 2,
        max_events: 1,
        max_attribute_value_length: Some(4),
        ..SpanLimits::default()
    };
    let pipeline = Pipeline::with_limits(Sampler::AlwaysOn, limits);
    let layer = OtlpLayer::builder(&pipeline.provider)
        .with_location(false)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("limited", a = "long value", b = 2, c = 3);
        let _entered = span.enter();
        tracing::info!("first");
        tracing::info!("second");
    });
    let exported = pipeline.finish();
    let span = exported.named("limited");
    assert_eq!(span.attributes.len(), 2);
    assert_eq!(span.dropped_attributes_count, 1);
    assert_eq!(attribute(&span.attributes, "a"), Some(&string("long")));
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.dropped_events_count, 1);
}

/// With the location, target and level on, a field named like one of the
/// span's own attributes (`target = "upstream"`, a relay naming its work's
/// origin) wins over it, and past the attribute limit the fields are
/// dropped, not the span's own `code.*`, `target` and `level`, which come
/// first: the rule `OtlpLogLayer`'s records follow
/// (`fields_named_like_the_records_own_attributes_win_and_the_limit_drops_fields_first`
/// in `tracing_logs.rs`).
#[test]
fn fields_named_like_the_spans_own_attributes_win_and_the_limit_drops_fields_first() {
    let limits = SpanLimits {
        max_attributes: 5,
        ..SpanLimits::default()
    };
    let pipeline = Pipeline::with_limits(Sampler::AlwaysOn, limits);
    let layer = OtlpLayer::builder(&pipeline.provider)
        .with_location(true)
        .with_target(true)
        .with_level(true)
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _relayed =
            tracing::info_span!("relayed", target = "upstream", "code.line.number" = 7_i64)
                .entered();
        let _crowded = tracing::info_span!("crowded", first = 1_i64, second = 2_i64).entered();
    });
    let exported = pipeline.finish();
    let relayed = exported.named("relayed");
    assert_eq!(
        attribute(&relayed.attributes, "target"),
        Some(&string("upstream"))
    );
    assert_eq!(
        attribute(&relayed.attributes, "code.line.number"),
        Some(&Value::IntValue(7))
    );
    assert_eq!(relayed.attributes.len(), 5, "{:?}", relayed.attributes);
    assert_eq!(relayed.dropped_attributes_count, 0);
    let crowded = exported.named("crowded");
    let keys: Vec<&str> = crowded
        .attributes
        .iter()
        .map(|attribute| attribute.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "code.file.path",
            "code.line.number",
            "code.module.name",
            "target",
            "level"
        ]
    );
    assert_eq!(
        attribute(&crowded.attributes, "target"),
        Some(&string("tracing_layer"))
    );
    assert_eq!(crowded.dropped_attributes_count, 2);
}

/// A `log` record that `tracing-log` (`LogTracer`) turned into an event
/// inside a span is a span event with the record's own target and location,
/// as `tracing-opentelemetry` (its default `tracing-log` feature) writes it:
/// not `tracing-log`'s target `log`, nor its `log.*` fields.
#[test]
fn log_records_through_tracing_log_are_span_events_with_their_own_target_and_location() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("handler").entered();
        // What `tracing_log::LogTracer` does with each `log` record.
        tracing_log::format_trace(
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("app::db")
                .module_path(Some("app::db"))
                .file(Some("src/db.rs"))
                .line(Some(12))
                .args(format_args!("slow query"))
                .build(),
        )
        .expect("dispatched");
    });
    let exported = pipeline.finish();
    let span = exported.named("handler");
    assert_eq!(span.events.len(), 1);
    let event = &span.events[0];
    assert_eq!(event.name, "slow query");
    let fields = &event.attributes;
    assert_eq!(attribute(fields, "level"), Some(&string("WARN")));
    assert_eq!(attribute(fields, "target"), Some(&string("app::db")));
    assert_eq!(
        attribute(fields, "code.file.path"),
        Some(&string("src/db.rs"))
    );
    assert_eq!(
        attribute(fields, "code.line.number"),
        Some(&Value::IntValue(12))
    );
    assert_eq!(
        attribute(fields, "code.module.name"),
        Some(&string("app::db"))
    );
    let keys: Vec<&str> = fields.iter().map(|kv| kv.key.as_str()).collect();
    assert!(keys.iter().all(|key| !key.starts_with("log.")), "{keys:?}");
    assert_eq!(
        keys.iter().filter(|key| **key == "target").count(),
        1,
        "{keys:?}"
    );
}

/// A value that counts how often it is formatted.
struct CountsFormatting(Arc<AtomicUsize>);

impl fmt::Debug for CountsFormatting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fetch_add(1, Ordering::SeqCst);
        f.write_str("counted")
    }
}

/// A `fmt` writer into a shared buffer.
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn nothing_is_recorded_on_a_pipeline_thread_even_with_a_subscriber_set_there() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider)),
    );
    std::thread::spawn(move || {
        otlp_sdk::own_threads::enter();
        // Set after `enter`: the dispatcher is the layer's again; the layer
        // itself declines.
        tracing::dispatcher::with_default(&dispatch, || {
            let _span = tracing::info_span!("inside the pipeline").entered();
            tracing::info!("working");
        });
    })
    .join()
    .unwrap();
    assert_eq!(pipeline.finish().len(), 0);
}

/// The only test with a global subscriber: the exporter's own `tracing`
/// instrumentation (tonic, h2, hyper, tower on the pipeline's threads) never
/// comes back as spans.
#[test]
fn over_grpc_the_exporters_own_spans_never_show_up() {
    const SPANS: u64 = 300;
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let mut config = ConfigLoader::new()
        .with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
        .load()
        .expect("the configuration loads");
    config.exporter.endpoint = receiver.grpc_endpoint();
    let processor = build_processor(&config).expect("the gRPC pipeline builds");
    let provider = TracerProvider::builder()
        .with_service_name("grpc-app")
        .with_processor(processor.clone())
        .build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(OtlpLayer::new(&provider)),
    )
    .expect("the only global subscriber in this binary");
    for i in 0..SPANS {
        let _span = tracing::trace_span!("application", i).entered();
        tracing::trace!("working");
        if i % 100 == 0 {
            processor.force_flush(PATIENCE).expect("flushes");
        }
    }
    provider.shutdown(PATIENCE).expect("shuts down");
    let stats = processor.stats();
    assert_eq!(stats.produced, SPANS, "{stats:#?}");
    assert_eq!(stats.exported, SPANS, "{stats:#?}");
    assert!(receiver.wait_for_spans(SPANS, PATIENCE));
    let spans = receiver.accepted_spans();
    assert_eq!(spans.len() as u64, SPANS);
    assert!(spans.iter().all(|span| span.name == "application"));
    let traces: HashSet<_> = spans.iter().map(|span| span.trace_id.clone()).collect();
    assert_eq!(traces.len() as u64, SPANS);
    assert!(
        traces
            .iter()
            .all(|id| TraceId::from_bytes(id.as_slice().try_into().unwrap()).is_valid())
    );
}

/// An entered span is the thread's active span (what metric exemplars
/// read), nested spans restore their parent on exit, and a span another
/// layer's filter hides from ours leaves the active span as it was.
#[test]
fn entered_spans_are_the_threads_active_span_and_exits_restore_the_outer_one() {
    use otlp_sdk::active_span;
    use tracing_subscriber::filter::filter_fn;

    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(
        OtlpLayer::new(&pipeline.provider)
            .with_filter(filter_fn(|metadata| metadata.name() != "hidden")),
    );
    let (outer_id, inner_id) = tracing::subscriber::with_default(subscriber, || {
        assert_eq!(active_span::current(), None);
        let outer = tracing::info_span!("outer");
        let _outer = outer.enter();
        let outer_active = active_span::current().expect("outer is active");
        assert!(outer_active.is_sampled());
        let inner_active = {
            let inner = tracing::info_span!("inner");
            let _inner = inner.enter();
            let hidden = tracing::info_span!("hidden");
            let hidden_active = hidden.in_scope(active_span::current);
            let inner_active = active_span::current().expect("inner is active");
            assert_eq!(
                hidden_active,
                Some(inner_active),
                "a hidden span changes nothing"
            );
            assert_eq!(inner_active.trace_id, outer_active.trace_id);
            assert_ne!(inner_active.span_id, outer_active.span_id);
            inner_active
        };
        assert_eq!(active_span::current(), Some(outer_active));
        (outer_active.span_id, inner_active.span_id)
    });
    assert_eq!(active_span::current(), None);
    let exported = pipeline.finish();
    assert_eq!(
        exported.named("outer").span_id,
        outer_id.to_bytes().to_vec()
    );
    assert_eq!(
        exported.named("inner").span_id,
        inner_id.to_bytes().to_vec()
    );
}

/// Guards dropped out of order (allowed by `tracing`) exit the span they
/// entered: the span still entered stays the thread's active span, as it
/// stays `tracing`'s current span, rather than the one whose guard was
/// dropped (metric exemplars were tagged with the exited span).
#[test]
fn guards_dropped_out_of_order_leave_the_span_still_entered_active() {
    use otlp_sdk::active_span;

    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let first = tracing::info_span!("first");
        let second = tracing::info_span!("second");
        let first_guard = first.enter();
        let first_active = active_span::current().expect("first is active");
        let second_guard = second.enter();
        let second_active = active_span::current().expect("second is active");
        assert_ne!(first_active, second_active);
        drop(first_guard);
        assert_eq!(
            active_span::current(),
            Some(second_active),
            "second is still entered"
        );
        assert_eq!(tracing::Span::current().id(), second.id());
        drop(second_guard);
        assert_eq!(active_span::current(), None);
        // In order again afterwards.
        let _first = first.enter();
        assert_eq!(active_span::current(), Some(first_active));
    });
    assert_eq!(active_span::current(), None);
    pipeline.finish();
}

/// An error caused by another, as errors wrapping an I/O or a library
/// error are.
#[derive(Debug)]
struct PaymentFailed(CardDeclined);

impl fmt::Display for PaymentFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("payment failed")
    }
}

impl Error for PaymentFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// The messages of `<field>.chain`, an array of strings.
fn chain(attributes: &[ProtoKeyValue], key: &str) -> Option<Vec<String>> {
    match attribute(attributes, key)? {
        Value::ArrayValue(array) => Some(
            array
                .values
                .iter()
                .map(|value| match &value.value {
                    Some(Value::StringValue(text)) => text.clone(),
                    other => panic!("a chain holds strings, not {other:?}"),
                })
                .collect(),
        ),
        other => panic!("{key} is an array, not {other:?}"),
    }
}

#[test]
fn an_errors_sources_are_kept_in_its_chain_as_tracing_opentelemetry_keeps_them() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let error: &(dyn Error + 'static) = &PaymentFailed(CardDeclined);
        let span = tracing::info_span!("pay", failure = error, later = tracing::field::Empty);
        span.in_scope(|| tracing::warn!(failure = error, "retrying"));
        span.record("later", error);
        let alone: &(dyn Error + 'static) = &CardDeclined;
        tracing::info_span!("decline", failure = alone).in_scope(|| {});
    });
    let exported = pipeline.finish();
    let pay = exported.named("pay");
    assert_eq!(
        attribute(&pay.attributes, "failure"),
        Some(&string("payment failed"))
    );
    let cause = Some(vec!["card declined".to_owned()]);
    assert_eq!(chain(&pay.attributes, "failure.chain"), cause);
    assert_eq!(chain(&pay.attributes, "later.chain"), cause);
    let retrying = pay
        .events
        .iter()
        .find(|event| event.name == "retrying")
        .expect("the event");
    assert_eq!(chain(&retrying.attributes, "failure.chain"), cause);
    // An error without a source has no chain to keep.
    let decline = exported.named("decline");
    assert_eq!(chain(&decline.attributes, "failure.chain"), None);
}

/// An error field recorded again (`Span::record`) with an error that has no
/// source leaves no chain of the earlier error beside it: `<field>.chain`
/// is the new error's, empty, before the span starts and after.
#[test]
fn an_error_recorded_again_without_a_source_keeps_no_chain_of_the_earlier_one() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let first: &(dyn Error + 'static) = &PaymentFailed(CardDeclined);
        let second: &(dyn Error + 'static) = &CardDeclined;
        let pending = tracing::info_span!("pending", failure = tracing::field::Empty);
        pending.record("failure", first);
        pending.record("failure", second);
        drop(pending);
        let started = tracing::info_span!("started", failure = first);
        started.in_scope(|| {});
        started.record("failure", second);
    });
    let exported = pipeline.finish();
    for name in ["pending", "started"] {
        let span = exported.named(name);
        assert_eq!(
            attribute(&span.attributes, "failure"),
            Some(&string("card declined")),
            "{name}"
        );
        assert_eq!(
            chain(&span.attributes, "failure.chain").unwrap_or_default(),
            Vec::<String>::new(),
            "{name}: not the chain of the error recorded before"
        );
    }
}

/// A span a per-layer filter hides has no context of its own: its children
/// and events hang from its closest recorded ancestor, and so does what it
/// propagates. A call made inside a `debug_span!` under an `INFO` filter
/// carries the request span's context, so that the next service continues
/// the trace (it carried nothing: the next service started a new trace).
/// With no recorded ancestor, nothing.
#[test]
fn the_context_of_a_span_the_filter_hides_is_its_closest_recorded_ancestors() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote = SpanContext::from_traceparent(TRACEPARENT).unwrap();
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    // Beside a layer that records everything: the hidden spans exist.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
        .with(
            OtlpLayer::new(&pipeline.provider)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        );
    let mut outgoing = http::HeaderMap::new();
    tracing::subscriber::with_default(subscriber, || {
        let server = tracing::info_span!("GET /orders", otel.kind = "server");
        server.set_parent(&remote).unwrap();
        server.in_scope(|| {
            let call = tracing::debug_span!("call inventory");
            // Still not the hidden span's to change.
            assert_eq!(call.set_parent(&remote), Err(SetParentError::NotRecorded));
            let _call = call.entered();
            let _deeper = tracing::trace_span!("encode request").entered();
            inject(&tracing::Span::current().context(), &mut outgoing);
        });
        let alone = tracing::debug_span!(parent: None, "hidden root");
        assert!(!alone.context().is_valid());
    });
    let exported = pipeline.finish();
    assert_eq!(exported.names(), ["GET /orders"]);
    let server = exported.named("GET /orders");
    let sent = extract(&outgoing).expect("the call carries a traceparent");
    assert_eq!(sent.trace_id, remote.trace_id);
    assert_eq!(
        sent.span_id.to_bytes().as_slice(),
        server.span_id.as_slice()
    );
    assert!(sent.trace_flags.is_sampled());
}

/// A `message` field that is no text (`info!(message = 5)`) names the span
/// event, as a text message does and as `tracing-opentelemetry` names it
/// (`"5"`), rather than leaving the event the callsite's made-up name with a
/// `message` attribute beside it.
#[test]
fn a_message_field_that_is_no_text_still_names_the_span_event() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("work");
        span.in_scope(|| {
            tracing::info!(message = 5, items = 2);
            tracing::info!(message = 1.5);
            tracing::info!(message = true);
        });
    });
    let exported = pipeline.finish();
    let span = exported.named("work");
    let names: Vec<&str> = span
        .events
        .iter()
        .map(|event| event.name.as_str())
        .collect();
    assert_eq!(names, ["5", "1.5", "true"]);
    for event in &span.events {
        assert_eq!(
            attribute(&event.attributes, "message"),
            None,
            "{}: the message is the name, not an attribute too",
            event.name
        );
    }
    assert_eq!(
        attribute(&span.events[0].attributes, "items"),
        Some(&Value::IntValue(2))
    );
}

/// An integer `message` beyond `i64` (`u64::MAX`, an `i128`) is recorded as
/// its decimal text, not as an `Int`: it names the span event all the same,
/// as `tracing-opentelemetry` names it, while an error given as the
/// message (`message = &error`) still stays an attribute beside the
/// `exception` event, as there.
#[test]
fn a_message_field_beyond_i64_still_names_the_span_event() {
    #[derive(Debug)]
    struct Failure;
    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("42")
        }
    }
    impl Error for Failure {}

    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("work");
        span.in_scope(|| {
            tracing::info!(message = u64::MAX);
            tracing::info!(message = i128::MIN);
            tracing::info!(message = &Failure as &(dyn Error + 'static));
        });
    });
    let exported = pipeline.finish();
    let span = exported.named("work");
    let names: Vec<&str> = span
        .events
        .iter()
        .map(|event| event.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "18446744073709551615",
            "-170141183460469231731687303715884105728",
            "exception"
        ]
    );
    for event in &span.events[..2] {
        assert_eq!(
            attribute(&event.attributes, "message"),
            None,
            "{}",
            event.name
        );
    }
    assert_eq!(
        attribute(&span.events[2].attributes, "message"),
        Some(&Value::StringValue("42".to_owned()))
    );
}

/// Nanoseconds since the Unix epoch of a time read in the test.
fn unix_nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

/// Reads the wall clock until it is past `mark`: what happens next happens
/// strictly after it, however coarse the clock.
fn after(mark: std::time::SystemTime) {
    while std::time::SystemTime::now() <= mark {
        std::hint::spin_loop();
    }
}

/// A span ends at its last exit, as `tracing-opentelemetry` ends it (since
/// 0.24): `tracing` keeps a span open while a child lives (a task spawned
/// with the request's span as its parent, say), and the request did not
/// last as long as its background work. An event recorded in the span after
/// its last exit (`parent: &span`, or an error recorded with `Span::record`)
/// moves its end to that event; a span never entered ends when it closes.
#[test]
fn a_span_ends_at_its_last_exit_not_when_a_child_keeping_it_open_closes() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let (left, late, failing, closing) = tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!("request");
        let background = request.in_scope(|| tracing::info_span!("background"));
        drop(request);
        // The request is over; its child keeps it open.
        let left = std::time::SystemTime::now();
        after(left);
        background.in_scope(|| tracing::info!("still working"));
        drop(background);

        let answered = tracing::info_span!("answered");
        answered.in_scope(|| {});
        let late = std::time::SystemTime::now();
        after(late);
        tracing::info!(parent: &answered, "reported late");
        drop(answered);

        let failed = tracing::info_span!("failed late", cause = tracing::field::Empty);
        failed.in_scope(|| {});
        let failing = std::time::SystemTime::now();
        after(failing);
        let error: &(dyn Error + 'static) = &CardDeclined;
        failed.record("cause", error);
        drop(failed);

        let never_entered = tracing::info_span!("never entered");
        let closing = std::time::SystemTime::now();
        after(closing);
        drop(never_entered);
        (left, late, failing, closing)
    });
    let exported = pipeline.finish();
    let request = exported.named("request");
    let background = exported.named("background");
    assert_eq!(background.parent_span_id, request.span_id);
    assert!(
        request.end_time_unix_nano <= unix_nanos(left),
        "the request ended at its last exit, before its child: {} > {}",
        request.end_time_unix_nano,
        unix_nanos(left)
    );
    assert!(background.end_time_unix_nano > unix_nanos(left));

    let answered = exported.named("answered");
    assert_eq!(answered.events.len(), 1);
    assert!(answered.events[0].time_unix_nano > unix_nanos(late));
    assert!(answered.end_time_unix_nano >= answered.events[0].time_unix_nano);

    let failed = exported.named("failed late");
    assert_eq!(failed.events.len(), 1);
    assert!(failed.events[0].time_unix_nano > unix_nanos(failing));
    assert!(failed.end_time_unix_nano >= failed.events[0].time_unix_nano);

    let never_entered = exported.named("never entered");
    assert!(never_entered.end_time_unix_nano > unix_nanos(closing));
}

/// `otel.status_message`, the name `tracing-opentelemetry` gave the status
/// description up to 0.31 (0.32 renamed it `otel.status_description`),
/// still sets it: code written for those releases keeps its statuses, at
/// creation and recorded later, before the span starts and after.
#[test]
fn otel_status_message_sets_the_status_description_as_tracing_opentelemetry_0_31_did() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let at_creation =
            tracing::info_span!("at creation", otel.status_message = "quota exceeded");
        drop(at_creation);
        for (name, start_first) in [("recorded pending", false), ("recorded started", true)] {
            let span = tracing::info_span!(
                "recorded",
                otel.name = name,
                otel.status_code = tracing::field::Empty,
                otel.status_message = tracing::field::Empty,
            );
            if start_first {
                span.in_scope(|| {});
            }
            span.record("otel.status_code", "error");
            span.record("otel.status_message", "database unreachable");
        }
    });
    let exported = pipeline.finish();
    let at_creation = exported.named("at creation");
    assert_eq!(
        status(at_creation),
        (StatusCode::Error, "quota exceeded".to_owned())
    );
    assert!(attribute(&at_creation.attributes, "otel.status_message").is_none());
    for name in ["recorded pending", "recorded started"] {
        let span = exported.named(name);
        assert_eq!(
            status(span),
            (StatusCode::Error, "database unreachable".to_owned()),
            "{name}"
        );
        assert!(attribute(&span.attributes, "otel.status_message").is_none());
    }
}

/// A `tracing` span with no `tracing` parent the layer records, made while
/// a span is current through the `opentelemetry` API (`Context::attach` of
/// an extracted context, `Tracer::in_span`, a library instrumented with
/// that API), continues that span's trace, as `tracing-opentelemetry`'s
/// spans do (its contextual parent falls back to `Context::current()`) and
/// as `OtlpLogLayer`'s records are already correlated with it. A remote
/// context stays remote, its trace state kept; `parent: None` is still a
/// root, and a current `tracing` span still wins. With tracing off the
/// span's context still continues the trace.
#[cfg(feature = "opentelemetry-bridge")]
#[test]
fn a_span_without_a_tracing_parent_continues_the_span_current_through_the_opentelemetry_api() {
    use opentelemetry::trace::{
        SpanContext as ApiContext, SpanId as ApiSpanId, TraceContextExt as _,
        TraceFlags as ApiFlags, TraceId as ApiTraceId, TraceState as ApiTraceState,
    };
    use std::str::FromStr as _;

    let remote = ApiContext::new(
        ApiTraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        ApiSpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        ApiFlags::SAMPLED,
        true,
        ApiTraceState::from_str("vendor=x").unwrap(),
    );
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("tracing parent");
        let _attached = opentelemetry::Context::new()
            .with_remote_span_context(remote.clone())
            .attach();
        let request = tracing::info_span!("under the api context");
        request.in_scope(|| drop(tracing::info_span!("its child")));
        drop(tracing::info_span!(parent: None, "explicit root"));
        outer.in_scope(|| drop(tracing::info_span!("inside a tracing span")));
    });
    let off = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&off));
    let off_context = tracing::subscriber::with_default(subscriber, || {
        let _attached = opentelemetry::Context::new()
            .with_remote_span_context(remote.clone())
            .attach();
        tracing::info_span!("tracing off").context()
    });

    let exported = pipeline.finish();
    let request = exported.named("under the api context");
    let trace_id = remote.trace_id().to_bytes();
    assert_eq!(request.trace_id, trace_id);
    assert_eq!(request.parent_span_id, remote.span_id().to_bytes());
    assert_eq!(request.flags & 0x300, 0x300, "a remote parent");
    assert_eq!(request.trace_state, "vendor=x");
    let child = exported.named("its child");
    assert_eq!(child.parent_span_id, request.span_id);
    let root = exported.named("explicit root");
    assert!(root.parent_span_id.is_empty());
    assert_ne!(root.trace_id, trace_id);
    let outer = exported.named("tracing parent");
    let inside = exported.named("inside a tracing span");
    assert_eq!(inside.parent_span_id, outer.span_id);
    assert_eq!(inside.trace_id, outer.trace_id);
    assert!(outer.parent_span_id.is_empty(), "made before the attach");

    assert_eq!(off_context.trace_id.to_bytes(), trace_id);
    assert!(!off_context.trace_flags.is_sampled());
}

/// What `tracing-opentelemetry`'s `OpenTelemetrySpanExt` gives beside
/// `set_parent`, `context` and `add_link`, under the same names: attributes
/// and a status set from outside the span's fields, links with attributes,
/// events with run-time keys, at a given time too. Before the span starts
/// they wait with it (a remote parent can still be set after an attribute,
/// a status or a link); `add_event` starts it, as a `tracing` event does.
#[test]
fn span_ext_sets_attributes_status_links_and_events_as_opentelemetry_span_ext_does() {
    use otlp_core::{AnyValue, KeyValue, Status};

    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let earlier = std::time::SystemTime::now() - Duration::from_secs(60);
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let parent_set = tracing::subscriber::with_default(subscriber, || {
        let other = tracing::info_span!(parent: None, "other");
        let job = tracing::info_span!("job", queue = "default");
        job.set_attribute("job.attempt", 1_i64);
        job.set_attribute("job.attempt", 2_i64);
        job.set_attribute(String::from("header.x-tenant"), "acme");
        job.set_attribute(
            "job.tags",
            AnyValue::from(vec![AnyValue::from("a"), AnyValue::from("b")]),
        );
        job.set_status(Status::error("quota exceeded"));
        job.add_link_with_attributes(&other.context(), vec![KeyValue::new("reason", "retry")]);
        job.add_link_with_attributes(&SpanContext::default(), vec![KeyValue::new("no", "link")]);
        // Nothing above started the span: its parent can still be set.
        let parent_set = job.set_parent(&remote);
        job.add_event("job.started", vec![KeyValue::new("job.id", "j-1")]);
        job.add_event_with_timestamp("job.queued", earlier, vec![KeyValue::new("depth", 3_i64)]);
        job.in_scope(|| tracing::error!("a later error"));
        job.set_attribute("job.done", true);

        let ok = tracing::info_span!("ok");
        ok.set_status(Status::Ok);
        ok.in_scope(|| tracing::error!("not an error once ok"));
        ok.set_status(Status::Unset);

        let cleared = tracing::info_span!("cleared", otel.status_code = "error");
        cleared.set_status(Status::Unset);
        cleared.in_scope(|| tracing::error!("the error event's"));
        parent_set
    });
    assert_eq!(parent_set, Ok(()));
    let exported = pipeline.finish();
    let other = exported.named("other");
    let job = exported.named("job");
    assert_eq!(job.trace_id, remote.trace_id.to_bytes());
    assert_eq!(
        attribute(&job.attributes, "job.attempt"),
        Some(&Value::IntValue(2))
    );
    assert_eq!(
        job.attributes
            .iter()
            .filter(|attribute| attribute.key == "job.attempt")
            .count(),
        1
    );
    assert_eq!(
        attribute(&job.attributes, "header.x-tenant"),
        Some(&string("acme"))
    );
    assert!(matches!(
        attribute(&job.attributes, "job.tags"),
        Some(Value::ArrayValue(array)) if array.values.len() == 2
    ));
    assert_eq!(
        attribute(&job.attributes, "job.done"),
        Some(&Value::BoolValue(true))
    );
    assert_eq!(
        attribute(&job.attributes, "queue"),
        Some(&string("default"))
    );
    assert_eq!(
        status(job),
        (StatusCode::Error, "quota exceeded".to_owned())
    );
    assert_eq!(job.links.len(), 1, "{:?}", job.links);
    assert_eq!(job.links[0].span_id, other.span_id);
    assert_eq!(
        attribute(&job.links[0].attributes, "reason"),
        Some(&string("retry"))
    );
    let names: Vec<&str> = job.events.iter().map(|event| event.name.as_str()).collect();
    assert_eq!(names, ["job.started", "job.queued", "a later error"]);
    assert_eq!(
        attribute(&job.events[0].attributes, "job.id"),
        Some(&string("j-1"))
    );
    assert_eq!(job.events[1].time_unix_nano, unix_nanos(earlier));
    assert_eq!(
        attribute(&job.events[1].attributes, "depth"),
        Some(&Value::IntValue(3))
    );
    assert_eq!(status(exported.named("ok")).0, StatusCode::Ok);
    assert_eq!(
        status(exported.named("cleared")),
        (StatusCode::Error, "the error event's".to_owned())
    );
}

/// `add_event` starts the span (as a `tracing` event in it does): a parent
/// set after it is refused. On a span that started sampled out, or with
/// tracing off, the methods record nothing and do not fail.
#[test]
fn span_ext_add_event_starts_the_span_and_sampled_out_spans_take_nothing() {
    use otlp_core::{KeyValue, Status};

    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let late = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("started by an event");
        span.add_event("first", Vec::new());
        span.set_parent(&remote)
    });
    assert_eq!(late, Err(SetParentError::AlreadyStarted));
    let exported = pipeline.finish();
    assert_ne!(
        exported.named("started by an event").trace_id,
        remote.trace_id.to_bytes()
    );

    // Tracing off; then a span sampled out by its unsampled remote parent.
    let unsampled =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
    for sampler in [Sampler::AlwaysOff, Sampler::parent_based(Sampler::AlwaysOn)] {
        let pipeline = Pipeline::new(sampler);
        let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("dropped");
            let _ = span.set_parent(&unsampled);
            span.set_attribute("key", "value");
            span.set_status(Status::Ok);
            span.add_link_with_attributes(&remote, vec![KeyValue::new("k", 1_i64)]);
            span.add_event("event", Vec::new());
            span.in_scope(|| span.set_attribute("later", 1_i64));
            assert!(span.context().is_valid(), "the trace still propagates");
        });
        assert_eq!(pipeline.finish().len(), 0);
    }
}

/// Context activation, on by default as in `tracing-opentelemetry` (0.32
/// and later): an entered span is the `opentelemetry` API's current span
/// until it is exited, so code inside it that uses that API sees it —
/// `Context::current()` holds its ids, and a span an `opentelemetry` tracer
/// starts there is its child — and the context current before it (its
/// values) is kept. Exits restore the outer span, out of order too.
#[cfg(feature = "opentelemetry-bridge")]
#[test]
fn an_entered_span_is_current_for_the_opentelemetry_api_and_its_children_there_are_its_children() {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};

    /// A value of the program's in the `opentelemetry` context.
    #[derive(Debug, PartialEq)]
    struct Tenant(&'static str);

    fn current_span_id() -> Option<[u8; 8]> {
        opentelemetry::Context::map_current(|current| {
            let context = current.span().span_context().clone();
            context.is_valid().then(|| context.span_id().to_bytes())
        })
    }

    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let api_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(otlp_contrib::bridge::OtlpSpanProcessor::new(
            pipeline.processor.clone(),
        ))
        .build();
    let api_tracer = api_provider.tracer("instrumented-library");
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let seen = tracing::subscriber::with_default(subscriber, || {
        let _tenant = opentelemetry::Context::current_with_value(Tenant("acme")).attach();
        let request = tracing::info_span!("request");
        let inner = tracing::info_span!("inner");
        let mut seen = Vec::new();
        {
            let _request = request.enter();
            seen.push(current_span_id());
            assert_eq!(
                opentelemetry::Context::current().get::<Tenant>(),
                Some(&Tenant("acme")),
                "the values current before are kept"
            );
            drop(api_tracer.start("api child"));
            let entered_inner = inner.enter();
            seen.push(current_span_id());
            drop(api_tracer.start("api grandchild"));
            // Out of order: the request's guard first.
            let reentered = request.enter();
            drop(entered_inner);
            seen.push(current_span_id());
            drop(reentered);
        }
        seen.push(current_span_id());
        let ids = (
            request.context().span_id.to_bytes(),
            inner.context().span_id.to_bytes(),
        );
        (seen, ids)
    });
    let (seen, (request_id, inner_id)) = seen;
    assert_eq!(
        seen,
        [Some(request_id), Some(inner_id), Some(request_id), None]
    );
    let _ = api_provider.force_flush();
    let exported = pipeline.finish();
    let request = exported.named("request");
    let inner = exported.named("inner");
    let child = exported.named("api child");
    let grandchild = exported.named("api grandchild");
    assert_eq!(child.parent_span_id, request.span_id);
    assert_eq!(child.trace_id, request.trace_id);
    assert_eq!(grandchild.parent_span_id, inner.span_id);
    assert_eq!(grandchild.trace_id, inner.trace_id);
    drop(api_provider);
}

/// `with_context_activation(false)` leaves the `opentelemetry` API's
/// current context alone, as `tracing-opentelemetry`'s option of the same
/// name does; with tracing off (`always_off`) an entered span is still made
/// current, unsampled, so that the API's spans inside continue its trace.
#[cfg(feature = "opentelemetry-bridge")]
#[test]
fn context_activation_can_be_turned_off_and_works_with_tracing_off() {
    use opentelemetry::trace::TraceContextExt as _;

    fn current() -> opentelemetry::trace::SpanContext {
        opentelemetry::Context::map_current(|current| current.span().span_context().clone())
    }

    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let layer = OtlpLayer::builder(&pipeline.provider)
        .with_context_activation(false)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    let inside = tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("not activated").in_scope(current)
    });
    assert!(!inside.is_valid(), "{inside:?}");
    assert_eq!(pipeline.finish().len(), 1);

    let off = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&off));
    let (inside, context) = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("tracing off");
        (span.in_scope(current), span.context())
    });
    assert!(inside.is_valid());
    assert_eq!(inside.trace_id().to_bytes(), context.trace_id.to_bytes());
    assert_eq!(inside.span_id().to_bytes(), context.span_id.to_bytes());
    assert!(!inside.is_sampled());
    assert!(!current().is_valid(), "nothing left attached");
}

/// A thread that exits with a span still entered (its guard forgotten)
/// exits cleanly, its context still attached. What this cannot show on
/// Linux: the order the layer's guard stack forgets its guards for (the
/// API's thread-local stack destroyed first, where dropping a guard would
/// panic in a thread-local's destructor and abort). Here the API's stack
/// outlives the layer's, and the test passes with or without that `Drop`.
#[cfg(feature = "opentelemetry-bridge")]
#[test]
fn a_thread_exiting_with_a_span_still_entered_exits_cleanly() {
    let pipeline = Pipeline::new(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&pipeline.provider));
    let dispatch = tracing::Dispatch::new(subscriber);
    for _ in 0..8 {
        let dispatch = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let span = tracing::info_span!("left entered");
                std::mem::forget(span.enter());
                std::mem::forget(span);
            });
        })
        .join()
        .expect("the thread exits cleanly");
    }
}
