//! Shared test support: random spans (proptest) and the request the protocol
//! expects for them, from otlp-contrib's independent conversion into
//! `opentelemetry-proto`'s generated types. Encoders are checked against
//! this, never against our own decoder.
#![allow(dead_code)]

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_core::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, SpanData, SpanFlags, SpanId,
    SpanKind, Status, Str, TraceFlags, TraceId, TraceState,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---- the expected request ----------------------------------------------------

/// The request the protocol expects: spans grouped by resource value, then by
/// scope value, groups in first-appearance order, spans in batch order, built
/// by otlp-contrib's reference conversion through the generated types.
pub fn expected_request(spans: &[SpanData]) -> ExportTraceServiceRequest {
    otlp_contrib::testing::proto::request(spans)
}

// ---- realistic fixtures ------------------------------------------------------

/// A span like a real HTTP server span: 8 string attributes of 16 characters.
pub fn realistic_span(
    resource: &Arc<Resource>,
    scope: &Arc<InstrumentationScope>,
    i: u64,
) -> SpanData {
    const KEYS: [&str; 8] = [
        "http.request.method",
        "http.route",
        "url.path",
        "server.address",
        "user_agent.original",
        "network.peer.address",
        "app.tenant.id",
        "app.request.id",
    ];
    let parent = SpanId::random();
    SpanData::builder("GET /api/v1/users/{id}")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .parent_span_id(Some(parent))
        .flags(SpanFlags::new(TraceFlags::SAMPLED, Some(false)))
        .kind(SpanKind::Server)
        .times(1_700_000_000_000_000_000 + i, 1_700_000_000_000_500_000 + i)
        .attributes(
            KEYS.iter()
                .map(|key| KeyValue::new(*key, format!("{:016}", i))),
        )
        .status(Status::Ok)
        .resource(resource.clone())
        .scope(scope.clone())
        .build()
}

// ---- proptest strategies -----------------------------------------------------

pub fn arb_str() -> impl Strategy<Value = Str> {
    prop_oneof![
        Just(Str::from("")),
        Just(Str::from("static.key")),
        ".{0,40}".prop_map(Str::from),
        // large strings exercise multi-byte length prefixes
        (0usize..3).prop_map(|n| Str::from("x".repeat(20_000 * n + 200))),
    ]
}

pub fn arb_double() -> impl Strategy<Value = f64> {
    use proptest::num::f64 as f;
    (f::NORMAL | f::ZERO | f::SUBNORMAL | f::INFINITE).boxed()
}

pub fn arb_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        arb_str().prop_map(AnyValue::String),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        arb_double().prop_map(AnyValue::Double),
        vec(any::<u8>(), 0..64).prop_map(|bytes| AnyValue::Bytes(bytes.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| AnyValue::Array(values.into())),
            vec((arb_str(), inner), 0..4).prop_map(|entries| {
                AnyValue::KvList(
                    entries
                        .into_iter()
                        .map(|(key, value)| KeyValue { key, value })
                        .collect::<Vec<_>>()
                        .into(),
                )
            }),
        ]
    })
}

pub fn arb_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (arb_str(), arb_value()).prop_map(|(key, value)| KeyValue { key, value }),
        0..6,
    )
}

pub fn arb_trace_state() -> impl Strategy<Value = TraceState> {
    prop_oneof![
        Just(TraceState::EMPTY),
        Just(TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").expect("valid")),
    ]
}

pub fn arb_u32() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), any::<u32>()]
}

pub fn arb_u64() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), any::<u64>()]
}

pub fn arb_event() -> impl Strategy<Value = Event> {
    (arb_u64(), arb_str(), arb_attributes(), arb_u32()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

pub fn arb_link() -> impl Strategy<Value = Link> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 8]>(),
        arb_trace_state(),
        arb_u32(),
        arb_attributes(),
        arb_u32(),
    )
        .prop_map(
            |(trace, span, trace_state, flags, attributes, dropped)| Link {
                trace_id: TraceId::from_bytes(trace),
                span_id: SpanId::from_bytes(span),
                trace_state,
                flags: SpanFlags::from_bits(flags),
                attributes,
                dropped_attributes_count: dropped,
            },
        )
}

pub fn arb_status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        arb_str().prop_map(|message| Status::Error { message }),
    ]
}

pub fn arb_kind() -> impl Strategy<Value = SpanKind> {
    (0i32..=5).prop_map(SpanKind::from_wire_value)
}

/// A small pool of resources and scopes so batches have several groups,
/// including equal values in different allocations.
pub fn arb_groups() -> impl Strategy<Value = (Vec<Arc<Resource>>, Vec<Arc<InstrumentationScope>>)> {
    let resource = (arb_attributes(), arb_u32(), arb_str()).prop_map(|(attrs, dropped, schema)| {
        let mut resource = Resource::new(attrs);
        resource.dropped_attributes_count = dropped;
        resource.schema_url = schema;
        resource
    });
    let scope = (arb_str(), arb_str(), arb_str(), arb_attributes(), arb_u32()).prop_map(
        |(name, version, schema_url, attributes, dropped_attributes_count)| InstrumentationScope {
            name,
            version,
            schema_url,
            attributes,
            dropped_attributes_count,
        },
    );
    (vec(resource, 1..3), vec(scope, 1..3)).prop_map(|(resources, scopes)| {
        // Duplicate the first of each in a separate allocation.
        let mut resources: Vec<Arc<Resource>> = resources.into_iter().map(Arc::new).collect();
        resources.push(Arc::new((*resources[0]).clone()));
        let mut scopes: Vec<Arc<InstrumentationScope>> = scopes.into_iter().map(Arc::new).collect();
        scopes.push(Arc::new((*scopes[0]).clone()));
        (resources, scopes)
    })
}

pub fn arb_span(
    resources: Vec<Arc<Resource>>,
    scopes: Vec<Arc<InstrumentationScope>>,
) -> impl Strategy<Value = SpanData> {
    let ids = (
        any::<[u8; 16]>(),
        any::<[u8; 8]>(),
        proptest::option::of(any::<[u8; 8]>()),
    );
    let body = (
        arb_str(),
        arb_kind(),
        arb_u64(),
        arb_u64(),
        arb_attributes(),
        arb_status(),
    );
    let lists = (
        vec(arb_event(), 0..3),
        vec(arb_link(), 0..3),
        (arb_u32(), arb_u32(), arb_u32(), arb_u32()),
        arb_trace_state(),
    );
    let group = (0..resources.len(), 0..scopes.len());
    (ids, body, lists, group).prop_map(
        move |(
            (trace, span, parent),
            (name, kind, start, end, attributes, status),
            (events, links, (flags, dropped_attrs, dropped_events, dropped_links), trace_state),
            (r, s),
        )| SpanData {
            trace_id: TraceId::from_bytes(trace),
            span_id: SpanId::from_bytes(span),
            trace_state,
            parent_span_id: parent.map(SpanId::from_bytes),
            flags: SpanFlags::from_bits(flags),
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            dropped_attributes_count: dropped_attrs,
            events,
            dropped_events_count: dropped_events,
            links,
            dropped_links_count: dropped_links,
            status,
            resource: resources[r].clone(),
            scope: scopes[s].clone(),
        },
    )
}

pub fn arb_batch(max: usize) -> impl Strategy<Value = Vec<SpanData>> {
    arb_groups().prop_flat_map(move |(resources, scopes)| vec(arb_span(resources, scopes), 0..max))
}

// ---- doubles serde can read ----------------------------------------------------

/// opentelemetry-proto's serde cannot read proto3's `"Infinity"`/`"NaN"`
/// doubles (the JSON tests check those separately), so batches that go
/// through serde keep doubles finite.
pub fn finite_value(value: &AnyValue) -> AnyValue {
    match value {
        AnyValue::Double(double) if !double.is_finite() => AnyValue::Double(1.5),
        AnyValue::Array(values) => AnyValue::Array(values.iter().map(finite_value).collect()),
        AnyValue::KvList(entries) => AnyValue::KvList(finite_attributes(entries).into()),
        other => other.clone(),
    }
}

/// `attributes` with every double made finite.
pub fn finite_attributes(attributes: &[KeyValue]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|kv| KeyValue {
            key: kv.key.clone(),
            value: finite_value(&kv.value),
        })
        .collect()
}

/// `span` with every double it carries made finite (see [`finite_value`]).
pub fn finite_span(span: &SpanData) -> SpanData {
    let mut span = span.clone();
    span.attributes = finite_attributes(&span.attributes);
    for event in &mut span.events {
        event.attributes = finite_attributes(&event.attributes);
    }
    for link in &mut span.links {
        link.attributes = finite_attributes(&link.attributes);
    }
    let mut resource = (*span.resource).clone();
    resource.attributes = finite_attributes(&resource.attributes);
    span.resource = Arc::new(resource);
    let mut scope = (*span.scope).clone();
    scope.attributes = finite_attributes(&scope.attributes);
    span.scope = Arc::new(scope);
    span
}

// ---- JSON text against serde's -------------------------------------------------

/// Our OTLP/JSON `body` is, member for member, the JSON opentelemetry-proto's
/// serde writes for the expected request (`expected`, from
/// `serde_json::to_value`): same keys, same JSON types (a 64-bit integer a
/// string, an enum a number, an id hex), same values. Reading our JSON back
/// with serde cannot see all of that: its reader also takes numbers for
/// 64-bit integers and ids in either case. What OTLP/JSON leaves free is
/// ignored: key order, number formatting (`1.0` and `1`), and members with
/// their default value, which serde writes and we omit (`null`, `false`, `0`,
/// `"0"`, `""`, `[]`; dropped on both sides, so `{"stringValue":""}` and
/// `{}` compare equal). `-0.0` is not a default here. Doubles must be finite
/// (serde writes `null` for the others).
pub fn assert_same_json_as_serde(body: &[u8], expected: serde_json::Value) {
    let ours: serde_json::Value = serde_json::from_slice(body).expect("our JSON parses");
    let (ours, expected) = (without_defaults(ours), without_defaults(expected));
    if ours != expected {
        let difference = first_difference("", ours.as_ref(), expected.as_ref());
        panic!(
            "our JSON differs from opentelemetry-proto's serde at {}",
            difference.unwrap_or_default()
        );
    }
}

/// Where `ours` and `theirs` first differ (a JSON path), with both values
/// there, shortened. Walks only down the members that differ.
fn first_difference(
    path: &str,
    ours: Option<&serde_json::Value>,
    theirs: Option<&serde_json::Value>,
) -> Option<String> {
    use serde_json::Value;
    if ours == theirs {
        return None;
    }
    match (ours, theirs) {
        (Some(Value::Object(ours)), Some(Value::Object(theirs))) => ours
            .keys()
            .chain(theirs.keys().filter(|key| !ours.contains_key(*key)))
            .find(|key| ours.get(*key) != theirs.get(*key))
            .and_then(|key| {
                first_difference(&format!("{path}.{key}"), ours.get(key), theirs.get(key))
            }),
        (Some(Value::Array(ours)), Some(Value::Array(theirs))) if ours.len() == theirs.len() => {
            ours.iter()
                .zip(theirs)
                .position(|(ours, theirs)| ours != theirs)
                .and_then(|index| {
                    first_difference(
                        &format!("{path}[{index}]"),
                        ours.get(index),
                        theirs.get(index),
                    )
                })
        }
        (ours, theirs) => {
            let short = |value: Option<&Value>| {
                let text = value.map_or("(absent)".to_owned(), Value::to_string);
                text.chars().take(200).collect::<String>()
            };
            Some(format!(
                "{path}:\nours:  {}\nserde: {}",
                short(ours),
                short(theirs)
            ))
        }
    }
}

/// `value` with default-valued members left out and every number written as
/// `"number:<f64>"` (so that `1` and `1.0` compare equal, and a number never
/// equals a string); `None` when `value` itself is a default.
fn without_defaults(value: serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(false) => None,
        Value::Number(number) => {
            let double = number.as_f64().unwrap_or(f64::NAN);
            (double != 0.0 || double.is_sign_negative())
                .then(|| Value::String(format!("number:{double:?}")))
        }
        Value::String(text) if text.is_empty() || text == "0" => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .map(|item| without_defaults(item).unwrap_or(Value::Null))
                .collect(),
        )),
        Value::Object(members) => Some(Value::Object(
            members
                .into_iter()
                .filter_map(|(key, member)| without_defaults(member).map(|member| (key, member)))
                .collect(),
        )),
        other => Some(other),
    }
}

/// `cases` property cases, or as many as `PROPTEST_CASES` asks for when set
/// (a longer fuzzing run than CI's).
pub fn cases_or_env(cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(cases);
    proptest::test_runner::Config {
        cases,
        ..proptest::test_runner::Config::default()
    }
}
