//! The spans every suite measures, built once from one description in each
//! model we compare.
//!
//! A [`SpanSource`] is a model-neutral description of one finished span:
//! ids, name, kind, times, eight string attributes and status.
//! [`span_sources`] produces a deterministic batch of them (same ids and
//! values on every run and machine), and [`Batch`] turns that batch into:
//!
//! - `otlp_core::SpanData` ([`Batch::spans`]), sharing one `Arc<Resource>` and
//!   one `Arc<InstrumentationScope>`, as the otlp-rust pipeline holds them;
//! - `opentelemetry_sdk::trace::SpanData` ([`Batch::sdk_spans`]) with the
//!   equivalent `opentelemetry_sdk::Resource` ([`Batch::sdk_resource`]), as the
//!   official SDK hands them to an exporter;
//! - [`OwnedSpanData`] ([`Batch::owned_spans`]), the same span data in owned
//!   `String`s and `Vec<u8>`s, the layout a copy-everything design would use.
//!
//! ## What the batch looks like
//!
//! Spans come in traces of [`SPANS_PER_TRACE`]: a server span (`GET
//! /v1/orders/{oid}` and three other routes) whose parent is remote (every
//! fifth trace starts at the server span instead: a root span), then two
//! client spans (`SELECT shop.orders`, `GET`) and one internal span
//! (`render_response`), children of the server span. Every span carries the
//! eight attributes of [`ATTRIBUTE_KEYS`]; every value is a distinct,
//! per-span string of exactly [`ATTRIBUTE_VALUE_LEN`] characters (a route, a
//! URL path, a host name, a user agent, an IPv6 peer address, user, tenant
//! and request ids). Status is `Ok`, except every 50th span, which is an
//! `Error` with a message. Spans have no events or links.
//! [`write_attribute_values_of_len`] writes the same values at another
//! length ([`ValueLen`]: `compare --value-len`).
//!
//! Every span shares one resource ([`RESOURCE_ATTRIBUTES`], `service.name`
//! and friends, with a schema URL) and one instrumentation scope (name,
//! version, schema URL).
//!
//! Two details keep both encoders' output comparable byte for byte:
//!
//! - Status is never `Unset`: `opentelemetry-proto` writes an empty `Status`
//!   message for `Unset`, where otlp-core leaves the optional field out (both
//!   are valid OTLP; they differ by two bytes per span).
//! - `opentelemetry_sdk::Resource` keeps its attributes in a hash map, so the
//!   baseline lists them in hash order. The otlp-core resource is built in
//!   that same order ([`Batch::new`]), so the two requests are equal as
//!   written, not just as sets.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace as otel_trace;
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, Resource, SpanData, SpanFlags, SpanId, SpanKind,
    Status, Str, TraceFlags, TraceId,
};

/// Spans per batch in every suite: the size of a typical export batch.
pub const BATCH_SIZE: usize = 1_000;

/// Spans per trace in the generated batch (one server span and its children).
pub const SPANS_PER_TRACE: u64 = 4;

/// The eight attribute keys every span carries, in order.
pub const ATTRIBUTE_KEYS: [&str; 8] = [
    "http.route",
    "url.path",
    "server.address",
    "user_agent.original",
    "network.peer.address",
    "enduser.id",
    "app.tenant.id",
    "app.request.id",
];

/// Length in characters (and bytes: all ASCII) of every attribute value:
/// the workload the project's issues define, and the default of
/// [`ValueLen`]. Every value fits otlp-core's inline strings (up to 23
/// bytes), so our side never allocates for one; [`ValueLen`] gives the
/// values another length to measure what longer ones cost.
pub const ATTRIBUTE_VALUE_LEN: usize = 16;

/// Shortest length [`ValueLen`] accepts: below it the host name loses its
/// node number (`node-123` is its first 8 characters), and values stop
/// telling traces apart.
pub const MIN_ATTRIBUTE_VALUE_LEN: usize = 8;

/// Longest length [`ValueLen`] accepts: a long URL or user agent. A span
/// then carries 32 KiB of values; a queue holding a million of them would
/// take 32 GiB.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 4_096;

/// The length, in characters (and bytes: all ASCII), of every attribute
/// value [`write_attribute_values_of_len`] writes: from
/// [`MIN_ATTRIBUTE_VALUE_LEN`] to [`MAX_ATTRIBUTE_VALUE_LEN`], by default
/// [`ATTRIBUTE_VALUE_LEN`].
///
/// At the default the values are the ones the issues' workload defines.
/// Longer, each value is its 16-character form with zeros inserted where its
/// last number starts (the route: where its placeholder starts), so its
/// counter reads zero-padded to the width: `user-000…009367091016`,
/// `2001:db8::000…720dce`. Shorter, each keeps the last characters of its
/// 16-character form, where its numbers are (the route and the host name:
/// the first ones). Longer values tell spans and traces apart exactly as the
/// default ones do; shorter ones a little less (a request id keeps 8 of its
/// 12 hex digits at length 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueLen(usize);

impl ValueLen {
    /// [`ATTRIBUTE_VALUE_LEN`]: the issues' workload.
    pub const DEFAULT: ValueLen = ValueLen(ATTRIBUTE_VALUE_LEN);

    /// `len` characters, if it is within [`MIN_ATTRIBUTE_VALUE_LEN`] and
    /// [`MAX_ATTRIBUTE_VALUE_LEN`].
    pub fn new(len: usize) -> Result<Self, ValueLenOutOfRange> {
        if (MIN_ATTRIBUTE_VALUE_LEN..=MAX_ATTRIBUTE_VALUE_LEN).contains(&len) {
            Ok(ValueLen(len))
        } else {
            Err(ValueLenOutOfRange { len })
        }
    }

    /// The length in characters.
    pub const fn get(self) -> usize {
        self.0
    }
}

impl Default for ValueLen {
    fn default() -> Self {
        ValueLen::DEFAULT
    }
}

impl std::fmt::Display for ValueLen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A value length [`ValueLen::new`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueLenOutOfRange {
    /// The length asked for.
    pub len: usize,
}

impl std::fmt::Display for ValueLenOutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an attribute value length of {} characters is outside \
             {MIN_ATTRIBUTE_VALUE_LEN} to {MAX_ATTRIBUTE_VALUE_LEN}",
            self.len
        )
    }
}

impl std::error::Error for ValueLenOutOfRange {}

/// The resource every span shares.
pub const RESOURCE_ATTRIBUTES: [(&str, &str); 8] = [
    ("service.name", "checkout"),
    ("service.namespace", "shop"),
    ("service.version", "1.4.2"),
    ("service.instance.id", "checkout-7d9f8c6b5-x2k4q"),
    ("deployment.environment.name", "production"),
    ("host.name", "ip-10-0-12-34.ec2.internal"),
    ("telemetry.sdk.language", "rust"),
    ("telemetry.sdk.name", "otlp-rust"),
];

/// Schema URL of the resource and of the scope.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.37.0";

/// Name of the instrumentation scope every span shares.
pub const SCOPE_NAME: &str = "checkout.http";

/// Version of the instrumentation scope every span shares.
pub const SCOPE_VERSION: &str = "1.4.2";

/// Routes of the server spans: (span name, `http.route`, URL path prefix).
/// Each route is exactly [`ATTRIBUTE_VALUE_LEN`] characters and starts with
/// its URL path prefix ([`fit`] pads a route after it).
const ROUTES: [(&str, &str, &str); 4] = [
    ("GET /v1/orders/{oid}", "/v1/orders/{oid}", "/v1/orders/"),
    ("POST /v1/carts/{cart}", "/v1/carts/{cart}", "/v1/carts/"),
    ("GET /v1/users/{user}", "/v1/users/{user}", "/v1/users/"),
    ("PUT /v1/items/{item}", "/v1/items/{item}", "/v1/items/"),
];

/// Nanoseconds since the Unix epoch of the first span's start (2023-11-14).
const EPOCH_NANOS: u64 = 1_700_000_000_000_000_000;

/// The status of a [`SpanSource`]; never `Unset` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// The operation succeeded.
    Ok,
    /// The operation failed with this message.
    Error(&'static str),
}

/// One finished span, described independently of any span model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanSource {
    /// Trace id bytes.
    pub trace_id: [u8; 16],
    /// Span id bytes (never all zero).
    pub span_id: [u8; 8],
    /// Parent span id bytes; `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// Whether the parent lives in another process.
    pub parent_is_remote: bool,
    /// Span name.
    pub name: &'static str,
    /// Span kind (never `Unspecified`, which the SDK cannot express).
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// The string attributes: a static key and a per-span value.
    pub attributes: Vec<(&'static str, String)>,
    /// Outcome.
    pub status: SourceStatus,
}

/// SplitMix64: a fixed, well-mixed sequence, so ids look random but are the
/// same on every run.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn span_id_bytes(seed: u64) -> [u8; 8] {
    (mix(seed) | 1).to_be_bytes()
}

fn trace_id_bytes(trace: u64) -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&mix(trace << 1).to_be_bytes());
    bytes[8..].copy_from_slice(&mix((trace << 1) | 1).to_be_bytes());
    bytes
}

/// Appends `prefix`, then `number` zero-padded (and reduced) to exactly fill
/// [`ATTRIBUTE_VALUE_LEN`] characters.
fn write_padded(out: &mut String, prefix: &str, number: u64) {
    let width = ATTRIBUTE_VALUE_LEN - prefix.len();
    let number = number % 10u64.pow(width as u32);
    // Writing to a `String` cannot fail.
    let _ = write!(out, "{prefix}{number:0width$}");
}

/// Zeros [`fit`] inserts at a time.
const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Which end of its 16-character form a value keeps when it is shortened.
#[derive(Clone, Copy)]
enum Keep {
    /// The first characters (the route, the host name).
    Head,
    /// The last characters, where the numbers are.
    Tail,
}

/// Brings `value`, one of the [`ATTRIBUTE_VALUE_LEN`]-character values,
/// to `len` characters as [`ValueLen`] describes: zeros inserted at byte
/// `pad_at` (where its number starts) to lengthen it, the end `keep` says
/// kept to shorten it. Every value is ASCII, so any byte index is a
/// character boundary. Once the buffer has grown it allocates nothing.
fn fit(value: &mut String, pad_at: usize, keep: Keep, len: ValueLen) {
    let len = len.get();
    if value.len() > len {
        match keep {
            Keep::Head => value.truncate(len),
            Keep::Tail => {
                value.drain(..value.len() - len);
            }
        }
    }
    while value.len() < len {
        let zeros = (len - value.len()).min(ZEROS.len());
        value.insert_str(pad_at, &ZEROS[..zeros]);
    }
}

/// Writes the values of the eight attributes ([`ATTRIBUTE_KEYS`], in order)
/// of the `i`-th span of the deterministic batch into `values`, replacing
/// what they held. Every value is [`ATTRIBUTE_VALUE_LEN`] characters: the
/// issues' workload ([`write_attribute_values_of_len`] with
/// [`ValueLen::DEFAULT`]).
///
/// This is the per-span formatting a program does for its request data (a
/// few hashes, eight `write!`s); it reuses the buffers, so once they have
/// grown it allocates nothing. [`span_source`] takes its values from here,
/// and the end-to-end comparison calls it for every span it produces, on
/// both sides alike.
///
/// ```
/// use otlp_benches::fixtures::{span_source, write_attribute_values};
///
/// let mut values: [String; 8] = Default::default();
/// write_attribute_values(5, &mut values);
/// let source = span_source(5);
/// assert!(source.attributes.iter().map(|(_, v)| v).eq(values.iter()));
/// ```
pub fn write_attribute_values(i: u64, values: &mut [String; 8]) {
    write_attribute_values_of_len(i, ValueLen::DEFAULT, values);
}

/// [`write_attribute_values`] with every value `len` characters long (see
/// [`ValueLen`] for how a value is lengthened or shortened). At
/// [`ValueLen::DEFAULT`] the values are the same bytes. Once the buffers
/// have grown to `len` it allocates nothing.
///
/// ```
/// use otlp_benches::fixtures::{ValueLen, write_attribute_values_of_len};
///
/// let mut values: [String; 8] = Default::default();
/// write_attribute_values_of_len(5, ValueLen::new(24)?, &mut values);
/// assert_eq!(values[5], "user-0000000009367091016");
/// assert!(values.iter().all(|value| value.len() == 24));
/// # Ok::<(), otlp_benches::fixtures::ValueLenOutOfRange>(())
/// ```
pub fn write_attribute_values_of_len(i: u64, len: ValueLen, values: &mut [String; 8]) {
    let trace = i / SPANS_PER_TRACE;
    let (_, route, path_prefix) = ROUTES[(trace % ROUTES.len() as u64) as usize];
    for value in values.iter_mut() {
        value.clear();
    }
    let [route_value, path, host, agent, peer, user, tenant, request] = values;
    // Writing to a `String` cannot fail.
    route_value.push_str(route);
    write_padded(path, path_prefix, mix(trace));
    let _ = write!(host, "node-{:03}.example", trace % 1_000);
    let _ = write!(
        agent,
        "okhttp/4.{:02}.{:04}",
        trace % 100,
        mix(trace ^ 0xA9E7) % 10_000
    );
    let _ = write!(peer, "2001:db8::{:06x}", mix(trace ^ 0x1F) & 0xFF_FFFF);
    write_padded(user, "user-", mix(trace ^ 0x05E2));
    write_padded(tenant, "tenant-", trace % 97);
    let _ = write!(request, "req-{:012x}", mix(i ^ 0x4E0) & 0xFFFF_FFFF_FFFF);
    if len != ValueLen::DEFAULT {
        // Where each value's number (the route's placeholder) starts.
        fit(route_value, path_prefix.len(), Keep::Head, len);
        fit(path, path_prefix.len(), Keep::Tail, len);
        fit(host, "node-".len(), Keep::Head, len);
        fit(agent, "okhttp/4.00.".len(), Keep::Tail, len);
        fit(peer, "2001:db8::".len(), Keep::Tail, len);
        fit(user, "user-".len(), Keep::Tail, len);
        fit(tenant, "tenant-".len(), Keep::Tail, len);
        fit(request, "req-".len(), Keep::Tail, len);
    }
}

/// The `i`-th span of the deterministic batch (see the module docs).
pub fn span_source(i: u64) -> SpanSource {
    let trace = i / SPANS_PER_TRACE;
    let position = i % SPANS_PER_TRACE;
    let (route_name, _, _) = ROUTES[(trace % ROUTES.len() as u64) as usize];
    let server_span = span_id_bytes(trace * SPANS_PER_TRACE);
    let (name, kind, parent_span_id, parent_is_remote) = match position {
        // Every fifth trace starts here; the others continue a remote caller's trace.
        0 if trace.is_multiple_of(5) => (route_name, SpanKind::Server, None, false),
        0 => (
            route_name,
            SpanKind::Server,
            Some(span_id_bytes(!trace)),
            true,
        ),
        1 => (
            "SELECT shop.orders",
            SpanKind::Client,
            Some(server_span),
            false,
        ),
        2 => ("GET", SpanKind::Client, Some(server_span), false),
        _ => (
            "render_response",
            SpanKind::Internal,
            Some(server_span),
            false,
        ),
    };
    let start = EPOCH_NANOS + i * 1_000_000 + position * 20_000;
    let duration = 250_000 + (mix(i ^ 0xD00D) % 750_000);
    let mut values: [String; 8] = Default::default();
    write_attribute_values(i, &mut values);
    SpanSource {
        trace_id: trace_id_bytes(trace),
        span_id: span_id_bytes(i),
        parent_span_id,
        parent_is_remote,
        name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: ATTRIBUTE_KEYS.into_iter().zip(values).collect(),
        status: if i % 50 == 49 {
            SourceStatus::Error("upstream request timed out")
        } else {
            SourceStatus::Ok
        },
    }
}

/// The first `n` spans of the deterministic batch.
pub fn span_sources(n: usize) -> Vec<SpanSource> {
    (0..n as u64).map(span_source).collect()
}

/// The same batch of spans in every model the suites compare; see the module docs.
///
/// Building one allocates everything up front; the suites then only read it
/// (or clone from it outside the timed region).
#[derive(Clone, Debug)]
pub struct Batch {
    /// The model-neutral description everything below is built from.
    pub sources: Vec<SpanSource>,
    /// The shared otlp-core resource (attributes in the SDK resource's order).
    pub resource: Arc<Resource>,
    /// The shared otlp-core scope.
    pub scope: Arc<InstrumentationScope>,
    /// The spans as otlp-core holds them.
    pub spans: Vec<SpanData>,
    /// The resource as the SDK holds it (given to the exporter once, not per span).
    pub sdk_resource: opentelemetry_sdk::Resource,
    /// The scope as the SDK holds it (a copy in every span).
    pub sdk_scope: opentelemetry::InstrumentationScope,
    /// The spans as `opentelemetry_sdk` hands them to an exporter.
    pub sdk_spans: Vec<opentelemetry_sdk::trace::SpanData>,
    /// The span data in owned `String`s and `Vec<u8>`s.
    pub owned_spans: Vec<OwnedSpanData>,
}

impl Batch {
    /// The standard batch: [`BATCH_SIZE`] spans.
    pub fn standard() -> Self {
        Batch::new(BATCH_SIZE)
    }

    /// The first `n` spans of the deterministic batch, in every model.
    pub fn new(n: usize) -> Self {
        let sources = span_sources(n);

        let sdk_resource = opentelemetry_sdk::Resource::builder_empty()
            .with_schema_url(
                RESOURCE_ATTRIBUTES
                    .iter()
                    .map(|&(key, value)| opentelemetry::KeyValue::new(key, value)),
                SCHEMA_URL,
            )
            .build();
        // The SDK resource iterates in hash order; list ours the same way.
        let resource_attributes = sdk_resource.iter().map(|(key, _)| {
            let &(key, value) = RESOURCE_ATTRIBUTES
                .iter()
                .find(|(static_key, _)| *static_key == key.as_str())
                .expect("the SDK resource holds exactly RESOURCE_ATTRIBUTES");
            KeyValue::new(key, value)
        });
        let resource = Arc::new(Resource::new(resource_attributes).with_schema_url(SCHEMA_URL));

        let sdk_scope = opentelemetry::InstrumentationScope::builder(SCOPE_NAME)
            .with_version(SCOPE_VERSION)
            .with_schema_url(SCHEMA_URL)
            .build();
        let scope = Arc::new(
            InstrumentationScope::new(SCOPE_NAME)
                .with_version(SCOPE_VERSION)
                .with_schema_url(SCHEMA_URL),
        );

        let spans = sources
            .iter()
            .map(|source| otlp_core_span(source, &resource, &scope))
            .collect();
        let sdk_spans = sources
            .iter()
            .map(|source| sdk_span(source, &sdk_scope))
            .collect::<Vec<_>>();
        let owned_spans = sources.iter().map(OwnedSpanData::from_source).collect();

        Batch {
            sources,
            resource,
            scope,
            spans,
            sdk_resource,
            sdk_scope,
            sdk_spans,
            owned_spans,
        }
    }

    /// Number of spans in the batch.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether the batch has no spans.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// The span as otlp-core holds it: static names and keys, each attribute
/// value a `Str` made from its `String` (inline up to 23 bytes, as every
/// value of the default length is; a shared `Arc<str>` when longer), shared
/// resource and scope.
pub fn otlp_core_span(
    source: &SpanSource,
    resource: &Arc<Resource>,
    scope: &Arc<InstrumentationScope>,
) -> SpanData {
    SpanData::builder(source.name)
        .trace_id(TraceId::from_bytes(source.trace_id))
        .span_id(SpanId::from_bytes(source.span_id))
        .parent_span_id(source.parent_span_id.map(SpanId::from_bytes))
        .flags(SpanFlags::new(
            TraceFlags::SAMPLED,
            Some(source.parent_is_remote),
        ))
        .kind(source.kind)
        .times(source.start_time_unix_nano, source.end_time_unix_nano)
        .attributes(
            source
                .attributes
                .iter()
                .map(|(key, value)| KeyValue::new(*key, Str::from(value.clone()))),
        )
        .status(match source.status {
            SourceStatus::Ok => Status::Ok,
            SourceStatus::Error(message) => Status::error(message),
        })
        .resource(resource.clone())
        .scope(scope.clone())
        .build()
}

fn system_time(unix_nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(unix_nanos)
}

/// The span as `opentelemetry_sdk` holds it when a span ends: static name
/// and keys, an owned `String` per attribute value, its own copy of the scope.
pub fn sdk_span(
    source: &SpanSource,
    scope: &opentelemetry::InstrumentationScope,
) -> opentelemetry_sdk::trace::SpanData {
    opentelemetry_sdk::trace::SpanData {
        span_context: otel_trace::SpanContext::new(
            otel_trace::TraceId::from_bytes(source.trace_id),
            otel_trace::SpanId::from_bytes(source.span_id),
            otel_trace::TraceFlags::SAMPLED,
            false,
            otel_trace::TraceState::NONE,
        ),
        parent_span_id: source
            .parent_span_id
            .map_or(otel_trace::SpanId::INVALID, otel_trace::SpanId::from_bytes),
        parent_span_is_remote: source.parent_is_remote,
        span_kind: match source.kind {
            SpanKind::Server => otel_trace::SpanKind::Server,
            SpanKind::Client => otel_trace::SpanKind::Client,
            SpanKind::Producer => otel_trace::SpanKind::Producer,
            SpanKind::Consumer => otel_trace::SpanKind::Consumer,
            SpanKind::Internal | SpanKind::Unspecified => otel_trace::SpanKind::Internal,
        },
        name: Cow::Borrowed(source.name),
        start_time: system_time(source.start_time_unix_nano),
        end_time: system_time(source.end_time_unix_nano),
        attributes: source
            .attributes
            .iter()
            .map(|(key, value)| opentelemetry::KeyValue::new(*key, value.clone()))
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: match source.status {
            SourceStatus::Ok => otel_trace::Status::Ok,
            SourceStatus::Error(message) => otel_trace::Status::error(message),
        },
        instrumentation_scope: scope.clone(),
    }
}

/// A finished span with every field in owned `String`s and `Vec<u8>`s: what
/// a span model that copies everything holds (the layout of OTLP's generated
/// `Span` message). Cloning it copies every id, name, key and value.
///
/// It holds the span's own fields only: no resource and no scope. A deep-copy
/// design would copy those too, so comparing clones against it understates
/// what sharing saves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedSpanData {
    /// Trace id bytes.
    pub trace_id: Vec<u8>,
    /// Span id bytes.
    pub span_id: Vec<u8>,
    /// W3C trace state header.
    pub trace_state: String,
    /// Parent span id bytes; empty for a root span.
    pub parent_span_id: Vec<u8>,
    /// OTLP span flags.
    pub flags: u32,
    /// Span name.
    pub name: String,
    /// OTLP span kind.
    pub kind: i32,
    /// Start, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Attributes.
    pub attributes: Vec<OwnedKeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
    /// Events.
    pub events: Vec<OwnedEvent>,
    /// Events discarded by limits.
    pub dropped_events_count: u32,
    /// Links.
    pub links: Vec<OwnedLink>,
    /// Links discarded by limits.
    pub dropped_links_count: u32,
    /// OTLP status code.
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
}

/// An attribute with an owned key and value.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedKeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: OwnedValue,
}

/// OTLP's `AnyValue` with owned contents.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    Array(Vec<OwnedValue>),
    /// A list of key-value pairs.
    KvList(Vec<OwnedKeyValue>),
}

/// A span event with owned contents.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedEvent {
    /// Nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Event name.
    pub name: String,
    /// Attributes.
    pub attributes: Vec<OwnedKeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
}

/// A span link with owned contents.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedLink {
    /// Trace id bytes.
    pub trace_id: Vec<u8>,
    /// Span id bytes.
    pub span_id: Vec<u8>,
    /// W3C trace state header.
    pub trace_state: String,
    /// OTLP link flags.
    pub flags: u32,
    /// Attributes.
    pub attributes: Vec<OwnedKeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
}

impl OwnedValue {
    /// A deep copy of an otlp-core value.
    pub fn from_any_value(value: &AnyValue) -> Self {
        match value {
            AnyValue::String(text) => OwnedValue::String(text.to_string()),
            AnyValue::Bool(flag) => OwnedValue::Bool(*flag),
            AnyValue::Int(int) => OwnedValue::Int(*int),
            AnyValue::Double(double) => OwnedValue::Double(*double),
            AnyValue::Bytes(bytes) => OwnedValue::Bytes(bytes.to_vec()),
            AnyValue::Array(values) => {
                OwnedValue::Array(values.iter().map(OwnedValue::from_any_value).collect())
            }
            AnyValue::KvList(entries) => OwnedValue::KvList(owned_attributes(entries)),
        }
    }
}

fn owned_attributes(attributes: &[KeyValue]) -> Vec<OwnedKeyValue> {
    attributes
        .iter()
        .map(|kv| OwnedKeyValue {
            key: kv.key.to_string(),
            value: OwnedValue::from_any_value(&kv.value),
        })
        .collect()
}

impl OwnedSpanData {
    /// A deep copy of an otlp-core span's own fields (resource and scope are left out).
    pub fn from_span(span: &SpanData) -> Self {
        OwnedSpanData {
            trace_id: span.trace_id.to_bytes().to_vec(),
            span_id: span.span_id.to_bytes().to_vec(),
            trace_state: span.trace_state.header().to_owned(),
            parent_span_id: span
                .parent_span_id
                .map(|id| id.to_bytes().to_vec())
                .unwrap_or_default(),
            flags: span.flags.bits(),
            name: span.name.to_string(),
            kind: i32::from(span.kind.wire_value()),
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
            attributes: owned_attributes(&span.attributes),
            dropped_attributes_count: span.dropped_attributes_count,
            events: span
                .events
                .iter()
                .map(|event| OwnedEvent {
                    time_unix_nano: event.time_unix_nano,
                    name: event.name.to_string(),
                    attributes: owned_attributes(&event.attributes),
                    dropped_attributes_count: event.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: span.dropped_events_count,
            links: span
                .links
                .iter()
                .map(|link| OwnedLink {
                    trace_id: link.trace_id.to_bytes().to_vec(),
                    span_id: link.span_id.to_bytes().to_vec(),
                    trace_state: link.trace_state.header().to_owned(),
                    flags: link.flags.bits(),
                    attributes: owned_attributes(&link.attributes),
                    dropped_attributes_count: link.dropped_attributes_count,
                })
                .collect(),
            dropped_links_count: span.dropped_links_count,
            status_code: i32::from(span.status.code()),
            status_message: span.status.message().to_owned(),
        }
    }

    /// The owned form of a [`SpanSource`] (same data as [`otlp_core_span`] builds).
    pub fn from_source(source: &SpanSource) -> Self {
        OwnedSpanData::from_span(&otlp_core_span(
            source,
            &Resource::empty(),
            &InstrumentationScope::empty(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_span_has_eight_string_attributes_of_sixteen_characters() {
        for source in span_sources(BATCH_SIZE) {
            assert_eq!(source.attributes.len(), 8);
            for ((key, value), expected_key) in source.attributes.iter().zip(ATTRIBUTE_KEYS) {
                assert_eq!(*key, expected_key);
                assert_eq!(value.len(), ATTRIBUTE_VALUE_LEN, "{key} = {value:?}");
                assert!(value.is_ascii());
            }
        }
    }

    #[test]
    fn the_default_values_are_the_issues_workload_byte_for_byte() {
        // Two spans' values as the fixtures wrote them before values could
        // be given another length: the default must not move.
        let mut values: [String; 8] = Default::default();
        write_attribute_values(5, &mut values);
        assert_eq!(
            values,
            [
                "/v1/carts/{cart}",
                "/v1/carts/822465",
                "node-001.example",
                "okhttp/4.01.6607",
                "2001:db8::720dce",
                "user-09367091016",
                "tenant-000000001",
                "req-db32385a2c80",
            ]
        );
        write_attribute_values(4242, &mut values);
        assert_eq!(
            values,
            [
                "/v1/orders/{oid}",
                "/v1/orders/66169",
                "node-060.example",
                "okhttp/4.60.8830",
                "2001:db8::116d77",
                "user-72313693966",
                "tenant-000000090",
                "req-c16d2ac0868a",
            ]
        );
    }

    /// Every value of the first `spans` spans at `len`, per attribute.
    fn values_of_len(len: ValueLen, spans: u64) -> Vec<[String; 8]> {
        (0..spans)
            .map(|i| {
                let mut values: [String; 8] = Default::default();
                write_attribute_values_of_len(i, len, &mut values);
                values
            })
            .collect()
    }

    /// How many distinct values each attribute takes over `spans`.
    fn distinct_per_attribute(spans: &[[String; 8]]) -> [usize; 8] {
        std::array::from_fn(|attribute| {
            spans
                .iter()
                .map(|values| values[attribute].as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
        })
    }

    #[test]
    fn values_of_forty_characters_are_forty_characters_and_as_distinct_as_the_default_ones() {
        let len = ValueLen::new(40).expect("40 is within the range");
        let long = values_of_len(len, BATCH_SIZE as u64);
        for values in &long {
            for (key, value) in ATTRIBUTE_KEYS.iter().zip(values) {
                assert_eq!(value.len(), 40, "{key} = {value:?}");
                assert!(value.is_ascii(), "{key} = {value:?}");
            }
        }
        assert_eq!(long[5][5], "user-00000000000000000000000009367091016");
        assert_eq!(long[5][0], "/v1/carts/000000000000000000000000{cart}");
        assert_eq!(long[5][4], "2001:db8::000000000000000000000000720dce");
        // The request id is per span: no two spans share one.
        let default = values_of_len(ValueLen::DEFAULT, BATCH_SIZE as u64);
        let distinct = distinct_per_attribute(&long);
        assert_eq!(distinct[7], BATCH_SIZE);
        // Every attribute tells spans apart exactly as the default does.
        assert_eq!(distinct, distinct_per_attribute(&default));
        // Each value is its default form, lengthened.
        for (long, short) in long.iter().zip(&default) {
            for (long, short) in long.iter().zip(short) {
                assert!(
                    long.replace('0', "") == short.replace('0', ""),
                    "{long} {short}"
                );
            }
        }
    }

    #[test]
    fn every_length_in_the_range_gives_values_of_that_length() {
        let mut values: [String; 8] = Default::default();
        for len in [
            MIN_ATTRIBUTE_VALUE_LEN,
            15,
            ATTRIBUTE_VALUE_LEN,
            17,
            23,
            24,
            100,
            MAX_ATTRIBUTE_VALUE_LEN,
        ] {
            let len = ValueLen::new(len).expect("within the range");
            // The same buffers, from long to short and back.
            for i in [0, 7, 4242, 7] {
                write_attribute_values_of_len(i, len, &mut values);
                for value in &values {
                    assert_eq!(value.len(), len.get(), "{value:?}");
                    assert!(value.is_ascii());
                }
            }
        }
        // The shortest values still tell the routes, hosts and requests apart.
        let short = values_of_len(ValueLen::new(MIN_ATTRIBUTE_VALUE_LEN).expect("min"), 1_000);
        let distinct = distinct_per_attribute(&short);
        assert_eq!(distinct[0], ROUTES.len());
        assert_eq!(distinct[2], 250, "one host per trace");
        assert_eq!(distinct[7], 1_000, "one request id per span");
        assert_eq!(short[5][0], "/v1/cart");
        assert_eq!(short[5][2], "node-001");
    }

    #[test]
    fn value_lengths_outside_the_range_are_refused_naming_the_length() {
        assert_eq!(ValueLen::default(), ValueLen::DEFAULT);
        assert_eq!(ValueLen::DEFAULT.get(), ATTRIBUTE_VALUE_LEN);
        for len in [0, 7, 4_097, usize::MAX] {
            let error = ValueLen::new(len).expect_err("outside the range");
            assert_eq!(error, ValueLenOutOfRange { len });
            assert!(error.to_string().contains(&len.to_string()), "{error}");
        }
        for len in [8, 16, 40, 4_096] {
            assert_eq!(ValueLen::new(len).map(ValueLen::get), Ok(len));
        }
    }

    #[test]
    fn the_batch_is_the_same_on_every_build() {
        assert_eq!(span_sources(64), span_sources(64));
    }

    #[test]
    fn ids_are_unique_and_valid() {
        let sources = span_sources(BATCH_SIZE);
        let mut ids: Vec<[u8; 8]> = sources.iter().map(|source| source.span_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), BATCH_SIZE);
        assert!(ids.iter().all(|id| *id != [0; 8]));
        let traces = sources
            .iter()
            .filter(|s| s.parent_span_id.is_none())
            .count();
        assert!(
            traces > 0 && traces < BATCH_SIZE / 4,
            "some root spans, mostly children"
        );
    }

    #[test]
    fn every_model_holds_the_same_spans() {
        let batch = Batch::new(40);
        assert_eq!(batch.spans.len(), 40);
        assert_eq!(batch.sdk_spans.len(), 40);
        assert_eq!(batch.owned_spans.len(), 40);
        for ((span, sdk), owned) in batch
            .spans
            .iter()
            .zip(&batch.sdk_spans)
            .zip(&batch.owned_spans)
        {
            assert_eq!(OwnedSpanData::from_span(span), *owned);
            assert_eq!(span.name, sdk.name.as_ref());
            assert_eq!(
                span.span_id.to_bytes(),
                sdk.span_context.span_id().to_bytes()
            );
            assert_eq!(span.attributes.len(), sdk.attributes.len());
            assert!(Arc::ptr_eq(&span.resource, &batch.resource));
        }
        assert_eq!(batch.resource.attributes.len(), batch.sdk_resource.len());
    }
}
