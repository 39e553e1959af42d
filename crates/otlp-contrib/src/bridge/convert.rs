//! [`SpanConverter`]: `opentelemetry_sdk` spans into `otlp_core` spans.

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::trace as otel;
use opentelemetry::{Key, KeyValue};
use otlp_core::clock;
use otlp_core::{
    Event, Link, Resource, SpanData, SpanFlags, SpanId, SpanKind, Status, Str, TraceFlags, TraceId,
    TraceState,
};

use super::intern::KeyInterner;
use super::scope_cache::ScopeCache;
use super::value_convert::{INLINE_MAX, convert_resource, convert_value};

/// Converts finished `opentelemetry_sdk` spans into `otlp_core` spans, sharing
/// what can be shared. Used by [`OtlpSpanProcessor`](super::OtlpSpanProcessor)
/// and [`SdkExporter`](super::SdkExporter); public for benchmarks and for
/// custom bridges.
///
/// What each field becomes (every field of OTLP's `Span` is kept):
///
/// | `opentelemetry` | `otlp_core` |
/// |---|---|
/// | span, event names and status description: `Cow::Borrowed` | [`Str::new_static`]: no allocation, ever |
/// | the same, `Cow::Owned` | the `String` moved into a [`Str`] (inline up to 23 bytes) |
/// | attribute keys (`Key` does not tell whether it is `'static`) | up to 23 bytes inline; longer ones shared through a bounded interning table |
/// | string values | up to 23 bytes inline; longer ones copied once into an `Arc<str>` |
/// | `Value::Array` of bool, i64, f64, strings | [`AnyValue::Array`](otlp_core::AnyValue::Array) of the same kinds |
/// | `SystemTime` | nanoseconds since the Unix epoch (0 before it) |
/// | `parent_span_id` | `None` when `SpanId::INVALID` |
/// | trace flags and `parent_span_is_remote` | [`SpanFlags`] (bits 0-7, `0x100` always, `0x200` when remote) |
/// | `TraceState` | [`TraceState`] from its header; members W3C Trace Context does not allow (`opentelemetry` accepts some: empty or non-ASCII values, values ending in a space, keys starting with a digit) are skipped, the others kept (`opentelemetry-otlp` sends the header unchanged) |
/// | attributes of the span, its events and links | a repeated key (`opentelemetry_sdk` keeps every value set) keeps the last value, in its first place: OTLP wants one value per key |
/// | links | the linked context's ids, state, flags and remoteness, attributes, dropped count |
/// | dropped counts of attributes, events, links, event and link attributes | the same |
/// | status, kind | the same variants |
/// | the SDK's resource (see [`set_resource`](Self::set_resource)) | one `Arc<Resource>`, shared by every span |
/// | the span's `InstrumentationScope` | one `Arc<InstrumentationScope>` per distinct scope, cached |
///
/// Cost model: one allocation for each non-empty attribute, event and link
/// list, one per string value longer than 23 bytes, none for static names or
/// short text; the scope costs a comparison and a reference-count increment
/// (thread-local cache); a non-empty trace state is converted once per thread
/// and trace state, then shared. `convert` takes `&self` and is safe to call
/// from many threads at once.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
/// use opentelemetry::{InstrumentationScope, KeyValue};
/// use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
/// use otlp_contrib::bridge::SpanConverter;
///
/// let mut converter = SpanConverter::new();
/// converter.set_resource(&opentelemetry_sdk::Resource::builder_empty().with_service_name("shop").build());
/// let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let span = SpanData {
///     span_context: SpanContext::new(TraceId::from(1), SpanId::from(2), TraceFlags::SAMPLED, false, TraceState::NONE),
///     parent_span_id: SpanId::INVALID,
///     parent_span_is_remote: false,
///     span_kind: SpanKind::Server,
///     name: "GET /cart".into(),
///     start_time: start,
///     end_time: start + Duration::from_millis(3),
///     attributes: vec![KeyValue::new("http.response.status_code", 200)],
///     dropped_attributes_count: 0,
///     events: SpanEvents::default(),
///     links: SpanLinks::default(),
///     status: Status::Ok,
///     instrumentation_scope: InstrumentationScope::builder("shop").build(),
/// };
/// let converted = converter.convert(span);
/// assert!(converted.name.is_static());
/// assert_eq!(converted.duration_nanos(), 3_000_000);
/// assert_eq!(converted.resource.service_name(), Some("shop"));
/// ```
#[derive(Debug)]
pub struct SpanConverter {
    resource: Arc<Resource>,
    scopes: ScopeCache,
    keys: KeyInterner,
}

impl Default for SpanConverter {
    fn default() -> Self {
        SpanConverter::new()
    }
}

impl SpanConverter {
    /// A converter whose spans carry the empty resource until
    /// [`set_resource`](Self::set_resource) is called.
    pub fn new() -> Self {
        SpanConverter {
            resource: Resource::empty(),
            scopes: ScopeCache::default(),
            keys: KeyInterner::default(),
        }
    }

    /// Converts the SDK's resource once; every span converted afterwards shares it.
    pub fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.resource = Arc::new(convert_resource(resource));
    }

    /// Sets the already converted resource every span shares.
    pub fn set_otlp_resource(&mut self, resource: Arc<Resource>) {
        self.resource = resource;
    }

    /// The resource spans get.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    /// Converts one finished span (see the table above).
    pub fn convert(&self, span: opentelemetry_sdk::trace::SpanData) -> SpanData {
        let context = &span.span_context;
        let trace_flags = defined_flags(context.trace_flags());
        let parent_span_id = (span.parent_span_id != otel::SpanId::INVALID)
            .then(|| SpanId::from_bytes(span.parent_span_id.to_bytes()));
        SpanData {
            trace_id: TraceId::from_bytes(context.trace_id().to_bytes()),
            span_id: SpanId::from_bytes(context.span_id().to_bytes()),
            trace_state: convert_trace_state(context.trace_state()),
            parent_span_id,
            flags: SpanFlags::new(trace_flags, Some(span.parent_span_is_remote)),
            name: Str::from(span.name),
            kind: convert_kind(&span.span_kind),
            start_time_unix_nano: clock::unix_nanos(span.start_time),
            end_time_unix_nano: clock::unix_nanos(span.end_time),
            attributes: self.attributes(&span.attributes),
            dropped_attributes_count: span.dropped_attributes_count,
            dropped_events_count: span.events.dropped_count,
            events: span
                .events
                .events
                .into_iter()
                .map(|event| self.event(event))
                .collect(),
            dropped_links_count: span.links.dropped_count,
            links: span
                .links
                .links
                .iter()
                .map(|link| self.link(link))
                .collect(),
            status: convert_status(span.status),
            resource: Arc::clone(&self.resource),
            scope: self.scopes.get(span.instrumentation_scope),
        }
    }

    fn attributes(&self, attributes: &[KeyValue]) -> Vec<otlp_core::KeyValue> {
        let mut converted = attributes
            .iter()
            .map(|attribute| otlp_core::KeyValue {
                key: self.key(&attribute.key),
                value: convert_value(&attribute.value),
            })
            .collect();
        otlp_sdk::keep_last_value_per_key(&mut converted);
        converted
    }

    fn key(&self, key: &Key) -> Str {
        let text = key.as_str();
        if text.len() <= INLINE_MAX {
            Str::copy_from(text)
        } else {
            self.keys.intern(text)
        }
    }

    fn event(&self, event: otel::Event) -> Event {
        Event {
            time_unix_nano: clock::unix_nanos(event.timestamp),
            name: Str::from(event.name),
            attributes: self.attributes(&event.attributes),
            dropped_attributes_count: event.dropped_attributes_count,
        }
    }

    fn link(&self, link: &otel::Link) -> Link {
        let context = &link.span_context;
        Link {
            trace_id: TraceId::from_bytes(context.trace_id().to_bytes()),
            span_id: SpanId::from_bytes(context.span_id().to_bytes()),
            trace_state: convert_trace_state(context.trace_state()),
            flags: SpanFlags::new(
                defined_flags(context.trace_flags()),
                Some(context.is_remote()),
            ),
            attributes: self.attributes(&link.attributes),
            dropped_attributes_count: link.dropped_attributes_count,
        }
    }
}

/// The trace flags W3C defines ([`TraceFlags::DEFINED`]: sampled, random)
/// of an `opentelemetry` context. `opentelemetry_sdk` keeps whatever a
/// remote parent sent on its children and links; W3C reserves the other
/// bits ("Vendors MUST set those to zero"), and OTLP's `flags` carry them,
/// so they are cleared here as otlp-sdk clears them.
pub(crate) fn defined_flags(flags: otel::TraceFlags) -> TraceFlags {
    TraceFlags::new(flags.to_u8()).defined()
}

fn convert_kind(kind: &otel::SpanKind) -> SpanKind {
    match kind {
        otel::SpanKind::Client => SpanKind::Client,
        otel::SpanKind::Server => SpanKind::Server,
        otel::SpanKind::Producer => SpanKind::Producer,
        otel::SpanKind::Consumer => SpanKind::Consumer,
        otel::SpanKind::Internal => SpanKind::Internal,
    }
}

fn convert_status(status: otel::Status) -> Status {
    match status {
        otel::Status::Unset => Status::Unset,
        otel::Status::Ok => Status::Ok,
        otel::Status::Error { description } => Status::Error {
            message: Str::from(description),
        },
    }
}

thread_local! {
    /// The last non-empty trace state this thread converted (spans of one
    /// trace carry the same state, so this saves re-parsing it per span).
    static LAST_TRACE_STATE: RefCell<Option<(otel::TraceState, TraceState)>> =
        const { RefCell::new(None) };
}

/// Converts a trace state through its header text.
///
/// `opentelemetry` validates keys and values more loosely than W3C Trace
/// Context: members W3C does not allow are skipped
/// ([`TraceState::parse_lenient`]), the others kept. Never panics.
pub(crate) fn convert_trace_state(state: &otel::TraceState) -> TraceState {
    if state.into_iter().len() == 0 {
        return TraceState::EMPTY;
    }
    let cached = LAST_TRACE_STATE
        .try_with(|last| match &*last.borrow() {
            Some((source, converted)) if source == state => Some(converted.clone()),
            _ => None,
        })
        .ok()
        .flatten();
    if let Some(converted) = cached {
        return converted;
    }
    let converted = TraceState::parse_lenient(&trace_state_header(state));
    let _ = LAST_TRACE_STATE
        .try_with(|last| *last.borrow_mut() = Some((state.clone(), converted.clone())));
    converted
}

/// `key=value,key=value` in one allocation (`TraceState::header` makes one per entry).
///
/// Leaves out members whose value ends in a space or tab: W3C does not allow
/// them, and [`TraceState::parse_lenient`] would trim the whitespace (optional
/// whitespace around a member) and keep a value the program never set.
fn trace_state_header(state: &otel::TraceState) -> String {
    let members = || {
        state
            .into_iter()
            .filter(|(_, value)| !value.ends_with([' ', '\t']))
    };
    let mut header = String::with_capacity(
        members()
            .map(|(key, value)| key.len() + value.len() + 2)
            .sum(),
    );
    for (key, value) in members() {
        if !header.is_empty() {
            header.push(',');
        }
        header.push_str(key);
        header.push('=');
        header.push_str(value);
    }
    header
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, TraceFlags as OtelFlags};
    use opentelemetry::{Array, Value};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use otlp_core::AnyValue;

    use super::*;

    const LONG_KEY: &str = "messaging.destination.name";
    const LONG_VALUE: &str = "a string value longer than twenty-three bytes";

    fn epoch_plus(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    fn scope() -> InstrumentationScope {
        InstrumentationScope::builder("checkout")
            .with_version("1.4.2")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", true)])
            .build()
    }

    fn context(trace: u128, span: u64, remote: bool, state: otel::TraceState) -> SpanContext {
        SpanContext::new(
            otel::TraceId::from(trace),
            otel::SpanId::from(span),
            OtelFlags::SAMPLED,
            remote,
            state,
        )
    }

    fn root(name: &'static str) -> opentelemetry_sdk::trace::SpanData {
        opentelemetry_sdk::trace::SpanData {
            span_context: context(1, 2, false, otel::TraceState::NONE),
            parent_span_id: otel::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: otel::SpanKind::Internal,
            name: name.into(),
            start_time: epoch_plus(1_000),
            end_time: epoch_plus(2_000),
            attributes: vec![],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: otel::Status::Unset,
            instrumentation_scope: scope(),
        }
    }

    /// A span using every field, every value kind, a remote parent, a trace
    /// state, events, links and dropped counts.
    fn everything() -> opentelemetry_sdk::trace::SpanData {
        let state = otel::TraceState::from_key_value([
            ("rojo", "00f067aa0ba902b7"),
            ("congo", "t61rcWkgMzE"),
        ])
        .unwrap();
        let mut events = SpanEvents::default();
        events.events.push(otel::Event::new(
            "cache miss",
            epoch_plus(1_500),
            vec![KeyValue::new("cache.key", "user:42")],
            1,
        ));
        events.events.push(otel::Event::new(
            String::from("retrying"),
            epoch_plus(1_600),
            vec![],
            0,
        ));
        events.dropped_count = 4;
        let mut links = SpanLinks::default();
        links.links.push(otel::Link::new(
            context(
                0xabc,
                0xdef,
                true,
                otel::TraceState::from_key_value([("vendor", "x")]).unwrap(),
            ),
            vec![KeyValue::new("link.kind", "follows")],
            2,
        ));
        links.dropped_count = 5;
        opentelemetry_sdk::trace::SpanData {
            span_context: context(
                0x4bf92f3577b34da6a3ce929d0e0e4736,
                0x00f067aa0ba902b7,
                false,
                state,
            ),
            parent_span_id: otel::SpanId::from(0x1122334455667788),
            parent_span_is_remote: true,
            span_kind: otel::SpanKind::Client,
            name: format!("GET /users/{}", 42).into(),
            start_time: epoch_plus(1_544_712_660_000_000_000),
            end_time: epoch_plus(1_544_712_661_000_000_000),
            attributes: vec![
                KeyValue::new("bool", true),
                KeyValue::new("int", -7i64),
                KeyValue::new("double", 0.25),
                KeyValue::new("short", "GET"),
                KeyValue::new(LONG_KEY, String::from(LONG_VALUE)),
                KeyValue::new("bools", Value::Array(vec![true, false].into())),
                KeyValue::new("ints", Value::Array(vec![1i64, 2, 3].into())),
                KeyValue::new("doubles", Value::Array(vec![1.5, -2.0].into())),
                KeyValue::new(
                    "strings",
                    Value::Array(Array::String(vec![
                        "a".into(),
                        String::from(LONG_VALUE).into(),
                    ])),
                ),
            ],
            dropped_attributes_count: 3,
            events,
            links,
            status: otel::Status::error(String::from("connection refused")),
            instrumentation_scope: scope(),
        }
    }

    #[test]
    fn a_remote_contexts_reserved_trace_flags_are_not_exported() {
        // `opentelemetry_sdk` keeps the flags a remote parent sent (`-ff`)
        // on its children and links; OTLP's `Span.flags` and `Link.flags`
        // carry the W3C byte, whose bits but sampled and random W3C
        // reserves ("Vendors MUST set those to zero"). They went out 0x3ff.
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use otlp_core::encode::{Encoding, TraceEncoder};
        use prost::Message;

        let all_bits = |trace: u128, span: u64| {
            SpanContext::new(
                otel::TraceId::from(trace),
                otel::SpanId::from(span),
                OtelFlags::new(0xff),
                true,
                otel::TraceState::NONE,
            )
        };
        let mut span = root("child of -ff");
        span.span_context = all_bits(1, 2);
        span.parent_span_id = otel::SpanId::from(3);
        span.parent_span_is_remote = true;
        span.links
            .links
            .push(otel::Link::new(all_bits(4, 5), vec![], 0));
        let span = SpanConverter::new().convert(span);
        let mut body = Vec::new();
        TraceEncoder::new().encode(Encoding::Protobuf, &[span], &mut body);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.flags, 0x303, "{:#x}", span.flags);
        assert_eq!(span.links[0].flags, 0x303, "{:#x}", span.links[0].flags);
    }

    #[test]
    fn a_key_set_twice_is_converted_once_with_its_last_value_in_its_first_place() {
        let mut source = root("repeats");
        source.attributes = vec![
            KeyValue::new("k", "first"),
            KeyValue::new("other", 1i64),
            KeyValue::new("k", "last"),
        ];
        let span = SpanConverter::new().convert(source);
        assert_eq!(
            span.attributes,
            vec![
                otlp_core::KeyValue::new("k", "last"),
                otlp_core::KeyValue::new("other", 1),
            ]
        );
    }

    #[test]
    fn every_field_is_converted() {
        let mut converter = SpanConverter::new();
        converter.set_resource(
            &opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("shop")
                .with_attribute(KeyValue::new("host.cores", 2))
                .build(),
        );
        let span = converter.convert(everything());

        assert_eq!(
            span.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(
            span.parent_span_id,
            Some(SpanId::from_bytes(0x1122334455667788u64.to_be_bytes()))
        );
        assert_eq!(span.flags.bits(), 0x301, "sampled, parent known remote");
        assert_eq!(span.flags.is_remote(), Some(true));
        assert_eq!(
            span.trace_state.header(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        assert_eq!(span.name, "GET /users/42");
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!(
            span.attributes,
            vec![
                otlp_core::KeyValue::new("bool", true),
                otlp_core::KeyValue::new("int", -7i64),
                otlp_core::KeyValue::new("double", 0.25),
                otlp_core::KeyValue::new("short", "GET"),
                otlp_core::KeyValue::new(LONG_KEY, LONG_VALUE),
                otlp_core::KeyValue::new(
                    "bools",
                    vec![AnyValue::Bool(true), AnyValue::Bool(false)]
                ),
                otlp_core::KeyValue::new(
                    "ints",
                    vec![AnyValue::Int(1), AnyValue::Int(2), AnyValue::Int(3)]
                ),
                otlp_core::KeyValue::new(
                    "doubles",
                    vec![AnyValue::Double(1.5), AnyValue::Double(-2.0)]
                ),
                otlp_core::KeyValue::new(
                    "strings",
                    vec![AnyValue::from("a"), AnyValue::from(LONG_VALUE)]
                ),
            ]
        );
        assert_eq!(span.dropped_attributes_count, 3);

        assert_eq!(span.events.len(), 2);
        assert_eq!(span.events[0].name, "cache miss");
        assert_eq!(span.events[0].time_unix_nano, 1_500);
        assert_eq!(
            span.events[0].attributes,
            vec![otlp_core::KeyValue::new("cache.key", "user:42")]
        );
        assert_eq!(span.events[0].dropped_attributes_count, 1);
        assert_eq!(
            (span.events[1].name.as_str(), span.events[1].time_unix_nano),
            ("retrying", 1_600)
        );
        assert_eq!(span.dropped_events_count, 4);

        assert_eq!(span.links.len(), 1);
        let link = &span.links[0];
        assert_eq!(link.trace_id, TraceId::from_bytes(0xabcu128.to_be_bytes()));
        assert_eq!(link.span_id, SpanId::from_bytes(0xdefu64.to_be_bytes()));
        assert_eq!(link.trace_state.header(), "vendor=x");
        assert_eq!(link.flags.bits(), 0x301, "sampled, linked span remote");
        assert_eq!(
            link.attributes,
            vec![otlp_core::KeyValue::new("link.kind", "follows")]
        );
        assert_eq!(link.dropped_attributes_count, 2);
        assert_eq!(span.dropped_links_count, 5);

        assert_eq!(span.status, Status::error("connection refused"));

        assert_eq!(span.resource.service_name(), Some("shop"));
        assert_eq!(span.resource.get("host.cores"), Some(&AnyValue::Int(2)));
        assert!(Arc::ptr_eq(&span.resource, converter.resource()));

        assert_eq!(span.scope.name, "checkout");
        assert_eq!(span.scope.version, "1.4.2");
        assert_eq!(
            span.scope.schema_url,
            "https://opentelemetry.io/schemas/1.30.0"
        );
        assert_eq!(
            span.scope.attributes,
            vec![otlp_core::KeyValue::new("scope.attr", true)]
        );
    }

    #[test]
    fn a_root_span_has_no_parent_and_a_local_parent_flag() {
        let span = SpanConverter::new().convert(root("root"));
        assert_eq!(span.parent_span_id, None);
        assert_eq!(span.flags.bits(), 0x101);
        assert_eq!(span.flags.is_remote(), Some(false));
        assert!(span.trace_state.is_empty());
        assert_eq!(span.status, Status::Unset);
        assert!(
            Arc::ptr_eq(&span.resource, &Resource::empty()),
            "no resource set yet"
        );
    }

    #[test]
    fn an_unsampled_local_parent_keeps_its_flags() {
        let mut source = root("child");
        source.span_context = SpanContext::new(
            otel::TraceId::from(1u128),
            otel::SpanId::from(2u64),
            OtelFlags::default(),
            false,
            otel::TraceState::NONE,
        );
        source.parent_span_id = otel::SpanId::from(9u64);
        let span = SpanConverter::new().convert(source);
        assert_eq!(span.flags.bits(), 0x100);
        assert_eq!(
            span.parent_span_id,
            Some(SpanId::from_bytes(9u64.to_be_bytes()))
        );
    }

    #[test]
    fn static_names_stay_static_and_short_text_is_inline() {
        let mut source = root("static name");
        source.status = otel::Status::error("static description");
        let mut events = SpanEvents::default();
        events.events.push(otel::Event::with_name("static event"));
        source.events = events;
        source.attributes = vec![KeyValue::new("k", String::from("short owned value"))];
        let span = SpanConverter::new().convert(source);
        assert!(span.name.is_static());
        assert!(span.events[0].name.is_static());
        let Status::Error { message } = &span.status else {
            panic!("{:?}", span.status)
        };
        assert!(message.is_static());
        assert!(span.attributes[0].key.is_inline());
        assert_eq!(span.attributes[0].value.as_str(), Some("short owned value"));
        assert!(matches!(&span.attributes[0].value, AnyValue::String(text) if text.is_inline()));
    }

    #[test]
    fn the_inline_limit_matches_str() {
        assert!(Str::copy_from(&"x".repeat(INLINE_MAX)).is_inline());
        assert!(!Str::copy_from(&"x".repeat(INLINE_MAX + 1)).is_inline());
    }

    #[test]
    fn spans_of_one_scope_share_its_arc_and_long_keys_share_their_text() {
        let converter = SpanConverter::new();
        let a = converter.convert(everything());
        let b = converter.convert(everything());
        assert!(Arc::ptr_eq(&a.scope, &b.scope));
        assert!(Arc::ptr_eq(&a.resource, &b.resource));
        let key = |span: &SpanData| span.attributes[4].key.as_ptr();
        assert_eq!(key(&a), key(&b));
        let mut other = root("other scope");
        other.instrumentation_scope = InstrumentationScope::builder("another").build();
        let c = converter.convert(other);
        assert!(!Arc::ptr_eq(&a.scope, &c.scope));
        assert!(Arc::ptr_eq(
            &a.scope,
            &converter.convert(everything()).scope
        ));
    }

    #[test]
    fn every_kind_and_status_maps() {
        let kinds = [
            (otel::SpanKind::Client, SpanKind::Client),
            (otel::SpanKind::Server, SpanKind::Server),
            (otel::SpanKind::Producer, SpanKind::Producer),
            (otel::SpanKind::Consumer, SpanKind::Consumer),
            (otel::SpanKind::Internal, SpanKind::Internal),
        ];
        for (kind, expected) in kinds {
            assert_eq!(convert_kind(&kind), expected);
        }
        assert_eq!(convert_status(otel::Status::Ok), Status::Ok);
        assert_eq!(convert_status(otel::Status::Unset), Status::Unset);
        assert_eq!(convert_status(otel::Status::error("e")), Status::error("e"));
    }

    #[test]
    fn trace_state_members_w3c_rejects_are_skipped_without_panicking() {
        // opentelemetry accepts any value without ',' or '='; W3C wants printable ASCII.
        let loose = otel::TraceState::from_key_value([("a", "caf\u{e9}")]).unwrap();
        assert!(convert_trace_state(&loose).is_empty());
        let mixed = otel::TraceState::from_key_value([("a", "caf\u{e9}"), ("b", "2")]).unwrap();
        assert_eq!(convert_trace_state(&mixed).header(), "b=2");
        let fine = otel::TraceState::from_key_value([("a", "1"), ("b", "2")]).unwrap();
        assert_eq!(convert_trace_state(&fine).header(), "a=1,b=2");
        // The thread-local entry answers the next span of the same trace...
        assert_eq!(convert_trace_state(&fine).header(), "a=1,b=2");
        // ...and a different state is not mistaken for it.
        let other = fine.insert("c", "3").unwrap();
        assert_eq!(convert_trace_state(&other).header(), "c=3,a=1,b=2");
        // An emptied state is empty.
        let emptied = otel::TraceState::from_key_value([("a", "1")])
            .unwrap()
            .delete("a")
            .unwrap();
        assert!(convert_trace_state(&emptied).is_empty());
    }

    #[test]
    fn the_resource_keeps_its_schema_url() {
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("k", "v")],
                "https://opentelemetry.io/schemas/1.30.0",
            )
            .build();
        let converted = convert_resource(&resource);
        assert_eq!(
            converted.schema_url,
            "https://opentelemetry.io/schemas/1.30.0"
        );
        assert_eq!(converted.get("k").and_then(AnyValue::as_str), Some("v"));
    }
}
