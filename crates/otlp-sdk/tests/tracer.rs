//! The native tracer: context propagation, sampling, limits, status rules,
//! and the resource, checked on the spans it hands to processors.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, SpanFlags as ProtoSpanFlags};
use otlp_core::encode::Encoding;
use otlp_core::{AnyValue, KeyValue, SpanContext, SpanData, SpanKind, Status, TraceFlags};
use otlp_sdk::config::Config;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, PipelineError, Sampler, SpanLimits,
    SpanProcessor, TracerProvider,
};
use prost::Message;

/// Keeps every span it receives.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl Collect {
    fn spans(&self) -> Vec<SpanData> {
        self.0.lock().unwrap().clone()
    }
}

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

fn provider(collect: &Collect) -> TracerProvider {
    TracerProvider::builder()
        .with_service_name("tests")
        .with_processor(collect.clone())
        .build()
}

#[test]
fn children_share_the_trace_and_point_at_their_parent() {
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let mut root = tracer.start("root");
    let mut child = tracer.start_with_parent("child", root.context());
    let (root_context, child_context) = (root.context().clone(), child.context().clone());
    child.end();
    root.end();
    let spans = collect.spans();
    assert_eq!(spans.len(), 2);
    let (child, root) = (&spans[0], &spans[1]);
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(child.parent_span_id, Some(root.span_id));
    assert_eq!(root.parent_span_id, None);
    assert_eq!(child.flags.is_remote(), Some(false));
    // A root's parent is known not to be remote (there is none).
    assert_eq!(root.flags.is_remote(), Some(false));
    assert!(root_context.trace_flags.is_sampled() && child_context.trace_flags.is_sampled());
    assert!(root.end_time_unix_nano >= root.start_time_unix_nano);
    assert_eq!(&*child.scope.name, "scope");
}

/// Keeps every request body it is sent, and accepts it.
#[derive(Clone, Default)]
struct Bodies(Arc<Mutex<Vec<Vec<u8>>>>);

impl Exporter for Bodies {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.0.lock().unwrap().push(request.body.to_vec());
        ExportOutcome::Success
    }
}

impl Bodies {
    /// Every span sent, decoded by `opentelemetry-proto`.
    fn spans(&self) -> Vec<ProtoSpan> {
        let bodies = self.0.lock().unwrap();
        bodies
            .iter()
            .map(|body| ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes"))
            .flat_map(|request| request.resource_spans)
            .flat_map(|resource_spans| resource_spans.scope_spans)
            .flat_map(|scope_spans| scope_spans.spans)
            .collect()
    }
}

#[test]
fn exported_flags_say_whether_the_parent_is_remote_for_roots_too() {
    // OTLP `Span.flags` (and `Link.flags`): bits 0-7 the W3C trace flags,
    // 0x100 "whether the parent is remote is known", 0x200 "it is remote".
    // opentelemetry-otlp and the Go SDK set 0x100 on every span they export:
    // 0x100 for a root or a local parent, 0x300 for a remote one.
    const HAS_IS_REMOTE: u32 = ProtoSpanFlags::ContextHasIsRemoteMask as u32;
    const IS_REMOTE: u32 = ProtoSpanFlags::ContextIsRemoteMask as u32;
    let bodies = Bodies::default();
    let processor = BatchSpanProcessor::builder(bodies.clone()).build().unwrap();
    let provider = TracerProvider::builder().with_processor(processor).build();
    let tracer = provider.tracer("scope");
    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let mut root = tracer.start("root");
    let local = root.context().clone();
    tracer.start_with_parent("local child", &local).end();
    tracer.start_with_parent("remote child", &remote).end();
    // An invalid parent is no parent: a root.
    tracer
        .start_with_parent("invalid parent", &SpanContext::default())
        .end();
    tracer
        .span_builder("linked")
        .link(&local, [])
        .link(&remote, [])
        .start()
        .end();
    root.end();
    provider.shutdown(Duration::from_secs(10)).unwrap();

    let spans = bodies.spans();
    let flags = |name: &str| {
        let span = spans.iter().find(|span| span.name == name).expect(name);
        span.flags
    };
    let sampled = u32::from(TraceFlags::SAMPLED.bits());
    // This tracer's roots (and their local children) also say their trace
    // id is random (0x02); the remote parent did not say so.
    let ours = sampled | 0x02;
    assert_eq!(flags("root"), HAS_IS_REMOTE | ours, "root: not remote");
    assert_eq!(flags("invalid parent"), HAS_IS_REMOTE | ours);
    assert_eq!(flags("linked"), HAS_IS_REMOTE | ours);
    assert_eq!(flags("local child"), HAS_IS_REMOTE | ours);
    assert_eq!(
        flags("remote child"),
        HAS_IS_REMOTE | IS_REMOTE | sampled,
        "remote parent"
    );
    let linked = spans.iter().find(|span| span.name == "linked").unwrap();
    let link_flags: Vec<u32> = linked.links.iter().map(|link| link.flags).collect();
    assert_eq!(
        link_flags,
        [HAS_IS_REMOTE | ours, HAS_IS_REMOTE | IS_REMOTE | sampled],
        "links: the local one, then the remote one"
    );
}

#[test]
fn a_child_keeps_the_parents_defined_flags_and_drops_reserved_ones() {
    // W3C Trace Context level 2, "trace-flags": the random flag (0x02) of a
    // continued trace MUST stay set; "Other Flags" (0x04 and up) are
    // reserved and "Vendors MUST set those to zero". A child span is this
    // side's span: its exported OTLP flags (bits 0-7) and its context carry
    // the defined flags only, as its `traceparent` does.
    let bodies = Bodies::default();
    let processor = BatchSpanProcessor::builder(bodies.clone()).build().unwrap();
    let provider = TracerProvider::builder().with_processor(processor).build();
    let tracer = provider.tracer("scope");
    let sampled_parent =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")
            .unwrap();
    let mut child = tracer.start_with_parent("child", &sampled_parent);
    assert_eq!(child.context().trace_flags.bits(), 0x03);
    assert!(child.context().traceparent().ends_with("-03"));
    child.end();
    let unsampled_parent =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe")
            .unwrap();
    let unsampled = tracer.start_with_parent("unsampled child", &unsampled_parent);
    assert_eq!(unsampled.context().trace_flags.bits(), 0x02, "random kept");
    drop(unsampled);
    provider.shutdown(Duration::from_secs(10)).unwrap();

    let spans = bodies.spans();
    assert_eq!(spans.len(), 1, "the unsampled child is not exported");
    assert_eq!(spans[0].name, "child");
    assert_eq!(
        spans[0].flags & 0xff,
        0x03,
        "sampled and random, nothing else"
    );
}

#[test]
fn a_root_says_its_trace_id_is_random_and_children_keep_their_parents_flag() {
    // W3C Trace Context level 2 and the specification's "Random trace
    // flag": the SDK SHOULD set `random` (0x02) on a root whose trace id it
    // made with at least its 7 rightmost bytes random, as this tracer makes
    // every trace id. A child keeps its parent's flag, set or not: a remote
    // caller that did not say random is not made to.
    const RANDOM: u8 = 0x02;
    let bodies = Bodies::default();
    let processor = BatchSpanProcessor::builder(bodies.clone()).build().unwrap();
    let provider = TracerProvider::builder().with_processor(processor).build();
    let tracer = provider.tracer("scope");
    let mut root = tracer.start("root");
    let traceparent = root.context().traceparent();
    assert!(traceparent.ends_with("-03"), "{traceparent}");
    let mut built = tracer.span_builder("built root").start();
    assert_eq!(built.context().trace_flags.bits(), 0x03);
    tracer
        .start_with_parent("local child", root.context())
        .end();
    built.end();
    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let mut child = tracer.start_with_parent("remote child", &remote);
    let traceparent = child.context().traceparent();
    assert!(
        traceparent.ends_with("-01"),
        "no random flag: {traceparent}"
    );
    let mut grandchild = tracer.start_with_parent("grandchild", child.context());
    assert_eq!(grandchild.context().trace_flags.bits(), 0x01);
    grandchild.end();
    child.end();
    root.end();
    provider.shutdown(Duration::from_secs(10)).unwrap();

    // What a collector sees: bits 0-7 of `Span.flags` are the W3C flags.
    let spans = bodies.spans();
    let flags = |name: &str| {
        let span = spans.iter().find(|span| span.name == name).expect(name);
        span.flags & 0xff
    };
    let sampled = u32::from(TraceFlags::SAMPLED.bits());
    let random = u32::from(RANDOM);
    for name in ["root", "built root", "local child"] {
        assert_eq!(flags(name), sampled | random, "{name}");
    }
    for name in ["remote child", "grandchild"] {
        assert_eq!(flags(name), sampled, "{name}");
    }

    // Not sampled, a root still says random; the decision is the sampler's
    // alone: the ratio sampler decides by trace id, whatever the flag.
    let off = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let unsampled = off.tracer("scope").start("unsampled root");
    assert!(unsampled.context().traceparent().ends_with("-02"));
    let ratio = Sampler::TraceIdRatio(0.5);
    let by_ratio = TracerProvider::builder()
        .with_sampler(ratio.clone())
        .build()
        .tracer("scope");
    for _ in 0..64 {
        let span = by_ratio.start("by ratio");
        let context = span.context();
        assert_eq!(
            context.trace_flags.is_sampled(),
            ratio.should_sample(None, context.trace_id)
        );
        assert_eq!(context.trace_flags.bits() & RANDOM, RANDOM);
    }
}

#[test]
fn a_remote_parent_continues_its_trace_and_state() {
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let parent = SpanContext::from_headers(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        Some("congo=t61rcWkgMzE"),
    )
    .unwrap();
    tracer
        .span_builder("server")
        .kind(SpanKind::Server)
        .parent(&parent)
        .start()
        .end();
    let span = &collect.spans()[0];
    assert_eq!(span.trace_id, parent.trace_id);
    assert_eq!(span.parent_span_id, Some(parent.span_id));
    assert_eq!(span.flags.is_remote(), Some(true));
    assert_eq!(span.trace_state.header(), "congo=t61rcWkgMzE");
    assert_eq!(span.kind, SpanKind::Server);
}

#[test]
fn unsampled_spans_are_not_recorded_but_propagate_the_decision() {
    let collect = Collect::default();
    let tracer = TracerProvider::builder()
        .with_sampler(Sampler::parent_based(Sampler::AlwaysOff))
        .with_processor(collect.clone())
        .build()
        .tracer("scope");
    let mut root = tracer.start("root");
    assert!(!root.is_recording());
    assert!(root.context().is_valid());
    assert!(!root.context().trace_flags.is_sampled());
    root.set_attribute(KeyValue::new("ignored", true));
    let child = tracer.start_with_parent("child", root.context());
    assert!(!child.is_recording());
    drop(child);
    drop(root);
    // A sampled remote parent wins over the root sampler.
    let parent = SpanContext::new(
        otlp_core::TraceId::random(),
        otlp_core::SpanId::random(),
        TraceFlags::SAMPLED,
    );
    tracer.start_with_parent("sampled child", &parent).end();
    let spans = collect.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(&*spans[0].name, "sampled child");
}

#[test]
fn limits_discard_and_count() {
    let collect = Collect::default();
    let tracer = TracerProvider::builder()
        .with_span_limits(SpanLimits {
            max_attributes: 2,
            max_events: 1,
            max_links: 1,
            max_attributes_per_event: 1,
            max_attributes_per_link: 0,
            max_attribute_value_length: None,
        })
        .with_processor(collect.clone())
        .build()
        .tracer("scope");
    let other = tracer.start("other").context().clone();
    let mut span = tracer
        .span_builder("limited")
        .attributes([
            KeyValue::new("a", 1),
            KeyValue::new("b", 2),
            KeyValue::new("c", 3),
        ])
        .start();
    span.set_attribute(KeyValue::new("a", 10)); // replaces, not counted
    span.set_attribute(KeyValue::new("d", 4)); // over the limit
    span.add_event("e1", [KeyValue::new("x", 1), KeyValue::new("y", 2)]);
    span.add_event("e2", []);
    span.add_link(&other, [KeyValue::new("l", 1)]);
    span.add_link(&other, []);
    span.end();
    let span = collect
        .spans()
        .into_iter()
        .find(|span| &*span.name == "limited")
        .unwrap();
    assert_eq!(
        span.attributes,
        vec![KeyValue::new("a", 10), KeyValue::new("b", 2)]
    );
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!((span.events.len(), span.dropped_events_count), (1, 1));
    assert_eq!(span.events[0].dropped_attributes_count, 1);
    assert_eq!((span.links.len(), span.dropped_links_count), (1, 1));
    assert_eq!(span.links[0].dropped_attributes_count, 1);
}

#[test]
fn ok_status_is_final_and_unset_is_ignored() {
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let mut span = tracer.start("a");
    span.set_status(Status::error("first"));
    span.set_status(Status::Unset);
    span.end();
    let mut span = tracer.start("b");
    span.set_status(Status::Ok);
    span.set_status(Status::error("too late"));
    span.end();
    let spans = collect.spans();
    assert_eq!(spans[0].status, Status::error("first"));
    assert_eq!(spans[1].status, Status::Ok);
}

/// A provider configured by the one variable given, and what it collects.
fn configured_by(variable: &str, value: &str) -> (TracerProvider, Collect) {
    let config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([(variable, value)])
        .load()
        .unwrap();
    let collect = Collect::default();
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(collect.clone())
        .build();
    (provider, collect)
}

/// A provider configured by the one variable given, with no processor
/// given in code.
fn configured_alone_by(variable: &str, value: &str) -> TracerProvider {
    let config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([(variable, value)])
        .load()
        .unwrap();
    TracerProvider::builder().with_config(&config).build()
}

/// What `otlp-contrib`'s pipeline builds for a traces exporter `none`: an
/// exporter that stands for it (and would fail every request).
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
fn otel_traces_exporter_none_records_no_span_but_keeps_the_ids() {
    let config = |variable: &str| {
        otlp_sdk::config::ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([(variable, "none")])
            .load()
            .unwrap()
    };
    // What the configuration alone builds: a processor standing for `none`.
    let recorded = |variable: &str| {
        let stand_in = BatchSpanProcessor::builder(StandsForNone).build().unwrap();
        assert!(stand_in.stands_for_none());
        let provider = TracerProvider::builder()
            .with_config(&config(variable))
            .with_processor(stand_in.clone())
            .build();
        let mut span = provider.tracer("scope").start("maybe");
        assert!(span.context().is_valid(), "{variable}: ids still propagate");
        let recording = span.is_recording();
        span.end();
        // The stand-in fails what reaches it: its shutdown may say so.
        let _ = provider.shutdown(Duration::from_secs(10));
        assert!(
            stand_in.is_shut_down(),
            "{variable}: shut down with the provider"
        );
        let stats = stand_in.stats();
        (recording, stats.produced, stats.failed)
    };
    assert_eq!(recorded("OTEL_TRACES_EXPORTER"), (false, 0, 0));
    // Another signal's `none` leaves traces alone: the span reaches the
    // stand-in (which fails it, counted).
    assert_eq!(recorded("OTEL_LOGS_EXPORTER"), (true, 1, 1));
    // No processor at all: not recording either.
    let provider = configured_alone_by("OTEL_TRACES_EXPORTER", "none");
    assert!(!provider.tracer("scope").start("alone").is_recording());
    assert!(provider.tracer("scope").never_records());
}

#[test]
fn otel_traces_exporter_none_leaves_processors_given_in_code_their_spans() {
    // Before: `OTEL_TRACES_EXPORTER=none` made every span non-recording,
    // so a processor the program gave in code received nothing, though the
    // variable only says that configuration sets up no exporter.
    let (provider, collect) = configured_by("OTEL_TRACES_EXPORTER", "none");
    let tracer = provider.tracer("scope");
    assert!(!tracer.never_records());
    let mut span = tracer.start("kept");
    assert!(span.is_recording());
    span.end();
    assert_eq!(collect.spans().len(), 1);
    assert_eq!(&*collect.spans()[0].name, "kept");

    // Beside a processor standing for the configuration's `none`: the one
    // given in code gets the span, the stand-in nothing.
    let config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_EXPORTER", "none")])
        .load()
        .unwrap();
    let stand_in = BatchSpanProcessor::builder(StandsForNone).build().unwrap();
    let given = Collect::default();
    let provider = TracerProvider::builder()
        .with_processor(stand_in.clone())
        .with_config(&config)
        .with_processor(given.clone())
        .build();
    provider.tracer("scope").start("given").end();
    provider.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(given.spans().len(), 1);
    assert_eq!(stand_in.stats().produced, 0);

    // OTEL_SDK_DISABLED still turns off what is given in code.
    let (disabled, collect) = configured_by("OTEL_SDK_DISABLED", "true");
    assert!(!disabled.tracer("scope").start("off").is_recording());
    assert!(collect.spans().is_empty());
}

#[test]
fn otel_traces_exporter_none_still_samples_so_the_trace_goes_on_downstream() {
    // Before: the provider was disabled, every span unsampled, so a service
    // without a traces exporter told every service after it to drop the
    // trace (`traceparent` ending in `-00`).
    let provider = configured_alone_by("OTEL_TRACES_EXPORTER", "none");
    let tracer = provider.tracer("scope");
    let mut root = tracer.start("root");
    assert!(
        root.context().trace_flags.is_sampled(),
        "the sampler's decision"
    );
    assert!(!root.is_recording(), "nothing is recorded");
    let sampled_parent =
        SpanContext::from_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .unwrap();
    let mut child = tracer.start_with_parent("child", &sampled_parent);
    assert!(child.context().trace_flags.is_sampled());
    assert_eq!(child.context().trace_id, sampled_parent.trace_id);
    assert!(child.context().traceparent().ends_with("-01"));
    root.end();
    child.end();
    assert!(tracer.never_records());

    // The sampler still decides: always_off samples nothing, with no
    // exporter as with one.
    let config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ])
        .load()
        .unwrap();
    let provider = TracerProvider::builder().with_config(&config).build();
    let span = provider.tracer("scope").start("dropped");
    assert!(!span.context().trace_flags.is_sampled());

    // OTEL_SDK_DISABLED samples nothing, whatever the exporter.
    let (disabled, _) = configured_by("OTEL_SDK_DISABLED", "true");
    let span = disabled.tracer("scope").start("off");
    assert!(!span.context().trace_flags.is_sampled());
}

#[test]
fn a_b3_debug_parent_makes_children_that_say_debug_downstream() {
    // Before: the child of a `b3: …-d` parent wrote `b3: …-1`, losing the
    // debug flag the specification asks to pass on.
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let parent =
        SpanContext::from_b3("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d").unwrap();
    let mut child = tracer.start_with_parent("child", &parent);
    let context = child.context().clone();
    assert!(context.trace_flags.is_sampled());
    assert!(context.b3().ends_with("-d"), "{}", context.b3());
    assert!(context.traceparent().ends_with("-01"));
    let mut grandchild = tracer.start_with_parent("grandchild", &context);
    assert!(grandchild.context().b3().ends_with("-d"));
    grandchild.end();
    child.end();
    // OTLP has no place for it: the exported flags are the W3C byte.
    for span in collect.spans() {
        assert_eq!(
            span.flags.trace_flags(),
            TraceFlags::SAMPLED,
            "{}",
            span.name
        );
    }
    // Without debug, nothing changes.
    let plain =
        SpanContext::from_b3("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1").unwrap();
    let span = tracer.start_with_parent("plain", &plain);
    assert!(span.context().b3().ends_with("-1"));
}

#[test]
fn the_configured_sampler_applies_and_one_set_after_it_in_code_wins() {
    use otlp_sdk::Sampler;
    use otlp_sdk::config::ConfigLoader;
    let (provider, collect) = configured_by("OTEL_TRACES_SAMPLER", "always_off");
    let mut span = provider.tracer("scope").start("dropped");
    assert!(
        !span.context().trace_flags.is_sampled(),
        "OTEL_TRACES_SAMPLER=always_off"
    );
    span.end();
    assert!(collect.spans().is_empty());

    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_TRACES_SAMPLER", "always_off")])
        .load()
        .unwrap();
    let collect = Collect::default();
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_sampler(Sampler::AlwaysOn)
        .with_processor(collect.clone())
        .build();
    provider.tracer("scope").start("kept").end();
    assert_eq!(collect.spans().len(), 1);
}

#[test]
fn the_resource_names_the_service_and_the_sdk() {
    let collect = Collect::default();
    let config = Config {
        service_name: Some("from-config".into()),
        resource_attributes: vec![
            ("deployment.environment.name".into(), "test".into()),
            ("service.name".into(), "loses".into()),
        ],
        ..Config::default()
    };
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(collect.clone())
        .build();
    provider.tracer("scope").start("a").end();
    let resource = &collect.spans()[0].resource;
    assert_eq!(resource.service_name(), Some("from-config"));
    assert_eq!(
        resource.get("deployment.environment.name"),
        Some(&AnyValue::from("test"))
    );
    assert_eq!(
        resource.get("telemetry.sdk.language"),
        Some(&AnyValue::from("rust"))
    );
    assert!(
        Arc::ptr_eq(resource, provider.resource()),
        "spans share the provider's resource"
    );
}

#[test]
fn a_disabled_sdk_records_nothing() {
    let collect = Collect::default();
    let config = Config {
        disabled: true,
        ..Config::default()
    };
    let tracer = TracerProvider::builder()
        .with_config(&config)
        .with_processor(collect.clone())
        .build()
        .tracer("scope");
    let mut span = tracer.start("a");
    assert!(!span.is_recording());
    span.end();
    assert!(collect.spans().is_empty());
}

/// A service with tracing off in the middle of a call chain must not cut the
/// trace for the services after it: its spans record nothing, but pass on
/// the sampling decision they received (as the specification's no-op
/// `Tracer` does, which hands back its parent's context). Its roots stay
/// unsampled.
#[test]
fn a_disabled_sdk_passes_the_parents_sampling_decision_on() {
    let sampled_parent =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let unsampled_parent =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
    let by_code = TracerProvider::builder().with_disabled(true).build();
    let (by_sdk_disabled, sdk_collect) = configured_by("OTEL_SDK_DISABLED", "true");
    let by_exporter_none = configured_alone_by("OTEL_TRACES_EXPORTER", "none");
    // A disabled provider makes roots unsampled; with no exporter the
    // sampler (parent-based, always on) decides, and samples them.
    for (what, provider, roots_sampled) in [
        ("with_disabled", by_code, false),
        ("OTEL_SDK_DISABLED", by_sdk_disabled, false),
        ("OTEL_TRACES_EXPORTER=none", by_exporter_none, true),
    ] {
        let tracer = provider.tracer("middle");
        let mut child = tracer.start_with_parent("server", &sampled_parent);
        assert!(!child.is_recording(), "{what}");
        let traceparent = child.context().traceparent();
        assert!(
            traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
                && traceparent.ends_with("-01"),
            "{what}: the downstream request carries {traceparent}"
        );
        // Its own children (in this process) keep the decision too.
        let grandchild = tracer.start_with_parent("client", child.context());
        assert!(grandchild.context().trace_flags.is_sampled(), "{what}");
        assert!(!grandchild.is_recording(), "{what}");
        child.end();
        let child = tracer.start_with_parent("server", &unsampled_parent);
        assert!(!child.context().trace_flags.is_sampled(), "{what}");
        let root = tracer.start("root");
        assert!(root.context().is_valid(), "{what}");
        assert_eq!(
            root.context().trace_flags.is_sampled(),
            roots_sampled,
            "{what}"
        );
        assert!(!root.is_recording(), "{what}");
    }
    assert!(sdk_collect.spans().is_empty());
}

#[test]
fn every_processor_receives_the_span() {
    let (first, second) = (Collect::default(), Collect::default());
    let provider = TracerProvider::builder()
        .with_processor(first.clone())
        .with_processor(second.clone())
        .build();
    provider.tracer("scope").start("shared").end();
    assert_eq!(first.spans(), second.spans());
    assert_eq!(first.spans().len(), 1);
}

fn unix_nanos(time: std::time::SystemTime) -> u64 {
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

#[test]
fn an_ended_span_ignores_every_change_and_ends_once() {
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let other = tracer.start("other").context().clone();
    let end = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let mut span = tracer.start("before");
    span.set_attribute(KeyValue::new("kept", 1));
    span.set_status(Status::error("kept"));
    let context = span.context().clone();
    span.end_at(end);
    assert!(!span.is_recording());
    span.set_attribute(KeyValue::new("late", 2));
    span.set_attributes([KeyValue::new("later", 3)]);
    span.add_event("late", []);
    span.add_event_at("late", end, []);
    span.add_link(&other, []);
    span.set_status(Status::Ok);
    span.update_name("after");
    span.end();
    span.end_at(end + Duration::from_secs(1));
    // The context outlives the end (to parent later spans with).
    assert_eq!(span.context(), &context);
    drop(span);
    let spans = collect.spans();
    let ended: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_id == context.span_id)
        .collect();
    assert_eq!(ended.len(), 1, "handed over once");
    let span = ended[0];
    assert_eq!(&*span.name, "before");
    assert_eq!(span.attributes, [KeyValue::new("kept", 1)]);
    assert!(span.events.is_empty() && span.links.is_empty());
    assert_eq!(span.status, Status::error("kept"));
    assert_eq!(span.end_time_unix_nano, unix_nanos(end));
}

#[test]
fn a_dropped_span_is_ended_and_handed_over() {
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let mut span = tracer.start("dropped");
    span.set_attribute(KeyValue::new("kept", true));
    drop(span);
    let spans = collect.spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.attributes, [KeyValue::new("kept", true)]);
    assert_ne!(span.end_time_unix_nano, 0, "an end time was recorded");
    assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
}

#[test]
fn explicit_times_are_kept_and_an_end_before_the_start_is_the_start() {
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut span = tracer.span_builder("past").start_time(start).start();
    // An event without a time is stamped when added: now, not at the start.
    span.add_event("now", []);
    span.add_event_at("given", start + Duration::from_millis(5), []);
    span.end_at(start + Duration::from_secs(3));
    let mut backwards = tracer.span_builder("backwards").start_time(start).start();
    backwards.end_at(start - Duration::from_secs(1));
    let spans = collect.spans();
    let past = &spans[0];
    assert_eq!(past.start_time_unix_nano, unix_nanos(start));
    assert_eq!(
        past.end_time_unix_nano,
        unix_nanos(start + Duration::from_secs(3))
    );
    assert!(past.events[0].time_unix_nano > unix_nanos(start + Duration::from_secs(3600)));
    assert_eq!(
        past.events[1].time_unix_nano,
        unix_nanos(start + Duration::from_millis(5))
    );
    // No negative duration reaches the backend.
    let backwards = &spans[1];
    assert_eq!(backwards.end_time_unix_nano, backwards.start_time_unix_nano);
}

#[test]
fn a_link_to_an_invalid_context_that_says_something_is_kept() {
    // Trace API, "Link": implementations SHOULD record links with an
    // all-zero trace or span id as long as the attributes or the trace
    // state are not empty (messaging: a message that came without context).
    let collect = Collect::default();
    let tracer = provider(&collect).tracer("scope");
    let with_state = SpanContext {
        trace_state: otlp_core::TraceState::parse("vendor=value").unwrap(),
        ..SpanContext::default()
    };
    let mut span = tracer
        .span_builder("linked")
        .link(
            &SpanContext::default(),
            [KeyValue::new("messaging.message.id", "m-1")],
        )
        .start();
    span.add_link(&with_state, []);
    span.end();
    let spans = collect.spans();
    let links = &spans[0].links;
    assert_eq!(links.len(), 2);
    assert_eq!(
        links[0].attributes,
        [KeyValue::new("messaging.message.id", "m-1")]
    );
    assert_eq!(links[1].trace_state.header(), "vendor=value");
    assert_eq!(spans[0].dropped_links_count, 0);
}

/// One `on_start` call: the processor's label, the span and its parent.
type Start = (&'static str, SpanContext, Option<SpanContext>);

/// Logs each `on_start` and tags the span with its label; keeps the spans
/// it receives at `on_end`.
#[derive(Clone)]
struct WatchStarts {
    label: &'static str,
    starts: Arc<Mutex<Vec<Start>>>,
    ended: Collect,
}

impl SpanProcessor for WatchStarts {
    fn on_start(&self, span: &mut otlp_sdk::Span, parent: Option<&SpanContext>) {
        self.starts
            .lock()
            .unwrap()
            .push((self.label, span.context().clone(), parent.cloned()));
        span.set_attribute(KeyValue::new(self.label, true));
    }

    fn on_end(&self, span: SpanData) {
        self.ended.on_end(span);
    }

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// The specification's `OnStart`: called synchronously when a recording span
/// starts, with the span and its parent, by every processor in the order they
/// were added, never for a span that does not record; what a processor sets
/// then is on the finished span, after the attributes given at start.
#[test]
fn on_start_sees_every_recording_span_with_its_parent_in_order() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let watch = |label| WatchStarts {
        label,
        starts: Arc::clone(&starts),
        ended: Collect::default(),
    };
    let (first, second) = (watch("first"), watch("second"));
    let provider = TracerProvider::builder()
        .with_processor(first.clone())
        .with_processor(second.clone())
        .build();
    let tracer = provider.tracer("scope");

    let mut root = tracer.start("root");
    assert_eq!(
        *starts.lock().unwrap(),
        [
            ("first", root.context().clone(), None),
            ("second", root.context().clone(), None)
        ],
        "called at start, before the span ends"
    );
    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let mut child = tracer
        .span_builder("child")
        .parent(&remote)
        .attribute(KeyValue::new("given", 1))
        .start();
    let child_context = child.context().clone();
    // An unsampled parent's child does not record: no processor hears of it.
    let unsampled =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
    let mut dropped = tracer.start_with_parent("unsampled", &unsampled);
    assert!(!dropped.is_recording());
    dropped.end();
    child.end();
    root.end();

    let starts = starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 4, "{starts:?}");
    assert_eq!(
        starts[2..],
        [
            ("first", child_context.clone(), Some(remote.clone())),
            ("second", child_context, Some(remote))
        ]
    );
    for ended in [first.ended.spans(), second.ended.spans()] {
        let keys = |span: &SpanData| {
            span.attributes
                .iter()
                .map(|kv| kv.key.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ended.len(), 2);
        assert_eq!(keys(&ended[0]), ["given", "first", "second"]);
        assert_eq!(keys(&ended[1]), ["first", "second"]);
    }
}

/// A processor's `on_start` is called whatever else the provider has:
/// beside a batch pipeline too (not only when spans go to processors alone).
#[test]
fn on_start_is_called_beside_a_batch_pipeline() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let watch = WatchStarts {
        label: "watch",
        starts: Arc::clone(&starts),
        ended: Collect::default(),
    };
    let pipeline = BatchSpanProcessor::builder(Bodies::default())
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_processor(pipeline.clone())
        .with_processor(watch.clone())
        .build();
    let tracer = provider.tracer("scope");
    tracer.start("one").end();
    assert_eq!(starts.lock().unwrap().len(), 1);
    provider.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(pipeline.stats().exported, 1);
    assert_eq!(watch.ended.spans()[0].attributes.len(), 1);
}

/// Counts the calls to its `shutdown`.
#[derive(Clone, Default)]
struct CountShutdowns(Arc<std::sync::atomic::AtomicUsize>);

impl SpanProcessor for CountShutdowns {
    fn on_end(&self, _: SpanData) {}

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A processor given in code whose `force_flush` and `shutdown` panic.
struct PanicsWhenAsked;

impl SpanProcessor for PanicsWhenAsked {
    fn on_end(&self, _: SpanData) {}

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        panic!("flush bug")
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        panic!("shutdown bug")
    }
}

#[test]
fn a_processor_that_panics_is_a_typed_error_whether_alone_or_among_several() {
    // Before: alone, its panic unwound through `TracerProvider::shutdown`
    // into the caller; among several (each run on a thread of its own),
    // it came back as `Timeout { pending: 0 }`, a deadline that had not
    // passed. Both are now the panic, caught and named.
    let panicked = |message: &str| PipelineError::ProcessorPanicked {
        message: message.to_owned(),
        signal: otlp_sdk::Signal::Traces,
    };
    let alone = TracerProvider::builder()
        .with_processor(PanicsWhenAsked)
        .build();
    assert_eq!(
        alone.force_flush(Duration::from_secs(5)),
        Err(panicked("flush bug"))
    );
    assert_eq!(
        alone.shutdown(Duration::from_secs(5)),
        Err(panicked("shutdown bug"))
    );

    let counted = CountShutdowns::default();
    let several = TracerProvider::builder()
        .with_processor(PanicsWhenAsked)
        .with_processor(counted.clone())
        .build();
    assert_eq!(
        several.force_flush(Duration::from_secs(5)),
        Err(panicked("flush bug"))
    );
    let error = several.shutdown(Duration::from_secs(5)).unwrap_err();
    assert_eq!(error, panicked("shutdown bug"));
    assert_eq!(error.to_string(), "a span processor panicked: shutdown bug");
    // The other processor was shut down all the same.
    assert_eq!(counted.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_tracer_provider_shuts_its_processors_down_once_and_says_so_after() {
    // Before: each call shut every processor down again (the specification:
    // Shutdown MUST be called only once), and a second call over
    // processors that do not track it answered Ok.
    let counted = CountShutdowns::default();
    let provider = TracerProvider::builder()
        .with_processor(counted.clone())
        .build();
    let clone = provider.clone();
    assert_eq!(provider.shutdown(Duration::from_secs(5)), Ok(()));
    assert_eq!(
        clone.shutdown(Duration::from_secs(5)),
        Err(PipelineError::ShutDown)
    );
    assert_eq!(
        provider.shutdown(Duration::from_secs(5)),
        Err(PipelineError::ShutDown)
    );
    assert_eq!(counted.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Tracers keep working after it.
    provider.tracer("after").start("after shutdown").end();
}

/// Everything a [`otlp_sdk::Span`]'s getters say, owned.
#[derive(Clone, Debug, PartialEq)]
struct SpanRead {
    context: SpanContext,
    span_context: SpanContext,
    recording: bool,
    name: Option<String>,
    kind: Option<SpanKind>,
    parent_span_id: Option<otlp_core::SpanId>,
    parent_is_remote: Option<bool>,
    start_time: Option<std::time::SystemTime>,
    start_time_unix_nano: Option<u64>,
    attributes: Option<Vec<KeyValue>>,
    attribute_a: Option<AnyValue>,
    attribute_missing: Option<AnyValue>,
    dropped_attributes_count: Option<u32>,
    events: Option<Vec<otlp_core::Event>>,
    dropped_events_count: Option<u32>,
    links: Option<Vec<otlp_core::Link>>,
    dropped_links_count: Option<u32>,
    status: Option<Status>,
    scope: Option<Arc<otlp_core::InstrumentationScope>>,
    resource: Option<Arc<otlp_core::Resource>>,
}

impl SpanRead {
    fn of(span: &otlp_sdk::Span) -> Self {
        SpanRead {
            context: span.context().clone(),
            span_context: span.span_context().clone(),
            recording: span.is_recording(),
            name: span.name().map(str::to_owned),
            kind: span.kind(),
            parent_span_id: span.parent_span_id(),
            parent_is_remote: span.parent_is_remote(),
            start_time: span.start_time(),
            start_time_unix_nano: span.start_time_unix_nano(),
            attributes: span.attributes().map(<[KeyValue]>::to_vec),
            attribute_a: span.attribute("a").cloned(),
            attribute_missing: span.attribute("missing").cloned(),
            dropped_attributes_count: span.dropped_attributes_count(),
            events: span.events().map(<[otlp_core::Event]>::to_vec),
            dropped_events_count: span.dropped_events_count(),
            links: span.links().map(<[otlp_core::Link]>::to_vec),
            dropped_links_count: span.dropped_links_count(),
            status: span.status().cloned(),
            scope: span.scope().cloned(),
            resource: span.resource().cloned(),
        }
    }

    /// What a span that does not record says: its context, nothing else.
    fn nothing_but(context: &SpanContext) -> Self {
        SpanRead {
            context: context.clone(),
            span_context: context.clone(),
            recording: false,
            name: None,
            kind: None,
            parent_span_id: None,
            parent_is_remote: None,
            start_time: None,
            start_time_unix_nano: None,
            attributes: None,
            attribute_a: None,
            attribute_missing: None,
            dropped_attributes_count: None,
            events: None,
            dropped_events_count: None,
            links: None,
            dropped_links_count: None,
            status: None,
            scope: None,
            resource: None,
        }
    }
}

/// What a processor read of a span at its start, and the parent it was given.
type ReadStart = (SpanRead, Option<SpanContext>);

/// Reads every getter of each span it sees start, with the parent given.
#[derive(Clone, Default)]
struct ReadAtStart(Arc<Mutex<Vec<ReadStart>>>);

impl SpanProcessor for ReadAtStart {
    fn on_start(&self, span: &mut otlp_sdk::Span, parent: Option<&SpanContext>) {
        self.0
            .lock()
            .unwrap()
            .push((SpanRead::of(span), parent.cloned()));
    }

    fn on_end(&self, _: SpanData) {}

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// The integer value of an exported attribute.
fn proto_int(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> Option<i64> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match value?.value.as_ref()? {
        Value::IntValue(int) => Some(*int),
        _ => None,
    }
}

/// The specification's read/write span at `OnStart`: a processor reads the
/// name, context, parent, kind, start time, attributes, links, events,
/// status, dropped counts, scope and resource of the span starting, and
/// they are what the test gave it and what is exported; the getters follow
/// later changes, and say nothing but the context once the span has ended
/// or of a span that never recorded.
#[test]
fn on_start_reads_back_every_property_of_the_span_it_is_given() {
    let read = ReadAtStart::default();
    let bodies = Bodies::default();
    let pipeline = BatchSpanProcessor::builder(bodies.clone()).build().unwrap();
    let provider = TracerProvider::builder()
        .with_service_name("read-at-start")
        .with_span_limits(SpanLimits {
            max_attributes: 3,
            max_links: 1,
            ..SpanLimits::default()
        })
        .with_processor(read.clone())
        .with_processor(pipeline)
        .build();
    let tracer = provider
        .tracer_with_scope(otlp_core::InstrumentationScope::new("reader").with_version("1.2.3"));
    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let remote = SpanContext {
        is_remote: true,
        ..remote
    };
    let linked = tracer.start("linked").context().clone();
    let start = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    let mut span = tracer
        .span_builder("checkout")
        .kind(SpanKind::Client)
        .parent(&remote)
        .start_time(start)
        // `a` twice (the last value is kept), then one over the limit of 3.
        .attributes([
            KeyValue::new("a", 1),
            KeyValue::new("b", 2),
            KeyValue::new("a", 3),
            KeyValue::new("c", 4),
            KeyValue::new("d", 5),
        ])
        .link(&linked, [KeyValue::new("link", 1)])
        .link(&remote, [])
        .start();

    let reads = read.0.lock().unwrap().clone();
    let (at_start, parent) = reads.last().cloned().unwrap();
    assert_eq!(reads.len(), 2, "the linked span and this one");
    assert_eq!(parent, Some(remote.clone()));
    let attributes = vec![
        KeyValue::new("a", 3),
        KeyValue::new("b", 2),
        KeyValue::new("c", 4),
    ];
    let expected = SpanRead {
        context: span.context().clone(),
        span_context: span.context().clone(),
        recording: true,
        name: Some("checkout".to_owned()),
        kind: Some(SpanKind::Client),
        parent_span_id: Some(remote.span_id),
        parent_is_remote: Some(true),
        start_time: Some(start),
        start_time_unix_nano: Some(unix_nanos(start)),
        attributes: Some(attributes.clone()),
        attribute_a: Some(AnyValue::from(3)),
        attribute_missing: None,
        dropped_attributes_count: Some(1),
        events: Some(Vec::new()),
        dropped_events_count: Some(0),
        links: Some(vec![otlp_core::Link::new(
            &linked,
            [KeyValue::new("link", 1)],
        )]),
        dropped_links_count: Some(1),
        status: Some(Status::Unset),
        scope: Some(Arc::clone(tracer.scope())),
        resource: Some(Arc::clone(provider.resource())),
    };
    assert_eq!(at_start, expected);
    assert_eq!(at_start.context.trace_id, remote.trace_id);
    assert_eq!(
        at_start.resource.as_ref().unwrap().service_name(),
        Some("read-at-start")
    );
    // The root the processor saw first: no parent, so neither remote nor not.
    let (root, _) = &reads[0];
    assert_eq!((root.parent_span_id, root.parent_is_remote), (None, None));
    assert_eq!(root.name.as_deref(), Some("linked"));

    // The getters follow what changes after the start.
    span.update_name("checkout renamed");
    span.add_event("retry", [KeyValue::new("attempt", 2)]);
    span.add_link(&linked, []);
    span.set_status(Status::error("declined"));
    let live = SpanRead::of(&span);
    assert_eq!(live.name.as_deref(), Some("checkout renamed"));
    let events = live.events.clone().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(&*events[0].name, "retry");
    assert_eq!(events[0].attributes, [KeyValue::new("attempt", 2)]);
    assert_eq!(live.dropped_links_count, Some(2), "over the limit of 1");
    assert_eq!(live.status, Some(Status::error("declined")));
    let context = span.context().clone();
    span.end();
    assert_eq!(SpanRead::of(&span), SpanRead::nothing_but(&context));

    // A span that never records: its context, nothing else; no processor
    // saw it start.
    let unsampled = SpanContext {
        trace_flags: TraceFlags::NONE,
        ..remote.clone()
    };
    let dropped = tracer.start_with_parent("unsampled", &unsampled);
    assert!(dropped.context().is_valid());
    assert_eq!(
        SpanRead::of(&dropped),
        SpanRead::nothing_but(dropped.context())
    );
    drop(dropped);
    assert_eq!(read.0.lock().unwrap().len(), 2);

    // What was read at start is what went out, decoded by opentelemetry-proto.
    provider.shutdown(Duration::from_secs(10)).unwrap();
    let requests: Vec<ExportTraceServiceRequest> = bodies
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|body| ExportTraceServiceRequest::decode(body.as_slice()).unwrap())
        .collect();
    let (resource, scope, exported) = requests
        .iter()
        .flat_map(|request| &request.resource_spans)
        .flat_map(|rs| rs.scope_spans.iter().map(move |ss| (rs, ss)))
        .flat_map(|(rs, ss)| ss.spans.iter().map(move |span| (rs, ss, span)))
        .find(|(_, _, span)| span.span_id == context.span_id.to_bytes())
        .map(|(rs, ss, span)| (rs.resource.clone(), ss.scope.clone(), span.clone()))
        .expect("the span was exported");
    assert_eq!(exported.trace_id, at_start.context.trace_id.to_bytes());
    assert_eq!(exported.parent_span_id, remote.span_id.to_bytes());
    assert_eq!(exported.kind, 3, "client");
    assert_eq!(exported.flags & 0x300, 0x300, "a remote parent");
    assert_eq!(
        exported.start_time_unix_nano,
        at_start.start_time_unix_nano.unwrap()
    );
    let exported_attributes: Vec<(String, Option<i64>)> = exported
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), proto_int(kv.value.as_ref())))
        .collect();
    let read_attributes: Vec<(String, Option<i64>)> = attributes
        .iter()
        .map(|kv| match kv.value {
            AnyValue::Int(int) => (kv.key.to_string(), Some(int)),
            _ => (kv.key.to_string(), None),
        })
        .collect();
    assert_eq!(exported_attributes, read_attributes);
    assert_eq!(exported.dropped_attributes_count, 1);
    assert_eq!(exported.links.len(), 1);
    assert_eq!(exported.links[0].span_id, linked.span_id.to_bytes());
    assert_eq!(exported.dropped_links_count, 2);
    let scope = scope.unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("reader", "1.2.3")
    );
    let service = resource
        .unwrap()
        .attributes
        .into_iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value)
        .and_then(|value| value.value);
    assert_eq!(
        service,
        Some(
            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                "read-at-start".to_owned()
            )
        )
    );
}

/// An error with a fixed message.
#[derive(Debug)]
struct DiskFull;

impl std::fmt::Display for DiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk full")
    }
}

impl std::error::Error for DiskFull {}

/// An error that must not be formatted.
#[derive(Debug)]
struct NeverFormatted;

impl std::fmt::Display for NeverFormatted {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("a span that does not record formatted the error")
    }
}

impl std::error::Error for NeverFormatted {}

/// The specification's `RecordException`: an `exception` event with the
/// semantic conventions' attributes, where the attributes given win over
/// those it makes, and no change of status.
#[test]
fn record_error_adds_an_exception_event_whose_given_attributes_win() {
    let collect = Collect::default();
    let provider = provider(&collect);
    let tracer = provider.tracer("scope");
    let mut span = tracer.start("write");
    span.record_error(&DiskFull, []);
    span.record_error(
        &DiskFull,
        [
            KeyValue::new("exception.type", "DiskFull"),
            KeyValue::new("exception.message", "disk /var full"),
        ],
    );
    span.end();
    let spans = collect.spans();
    let span = &spans[0];
    assert_eq!(span.status, Status::Unset);
    let events: Vec<(&str, &[KeyValue])> = span
        .events
        .iter()
        .map(|event| (&*event.name, event.attributes.as_slice()))
        .collect();
    assert_eq!(
        events,
        [
            (
                "exception",
                &[KeyValue::new("exception.message", "disk full")][..]
            ),
            (
                "exception",
                &[
                    KeyValue::new("exception.message", "disk /var full"),
                    KeyValue::new("exception.type", "DiskFull"),
                ][..]
            ),
        ]
    );
    assert!(span.events[0].time_unix_nano >= span.start_time_unix_nano);

    // Not recording: the error is not even formatted.
    let unsampled =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
    let mut dropped = tracer.start_with_parent("unsampled", &unsampled);
    dropped.record_error(&NeverFormatted, []);
    let mut ended = tracer.start("ended");
    ended.end();
    ended.record_error(&NeverFormatted, []);
}
