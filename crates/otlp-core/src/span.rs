//! [`SpanData`]: a finished span with every field of OTLP's `Span` message.

use std::sync::Arc;

use crate::{
    InstrumentationScope, KeyValue, Resource, SpanContext, SpanId, Str, TraceFlags, TraceId,
    TraceState,
};

/// What role a span plays in a trace (OTLP `Span.SpanKind`; the discriminant is the wire value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SpanKind {
    /// Not specified; receivers treat it as `Internal`.
    Unspecified = 0,
    /// An internal operation (the default).
    #[default]
    Internal = 1,
    /// Handles a synchronous request from a remote client.
    Server = 2,
    /// Makes a synchronous request to a remote server.
    Client = 3,
    /// Sends a message to a broker or queue.
    Producer = 4,
    /// Receives a message from a broker or queue.
    Consumer = 5,
}

impl SpanKind {
    /// The OTLP enum value.
    pub const fn wire_value(self) -> u8 {
        self as u8
    }

    /// The kind for an OTLP enum value; unknown values map to `Unspecified`.
    pub const fn from_wire_value(value: i32) -> Self {
        match value {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
}

/// The outcome of the operation a span describes.
///
/// ```
/// use otlp_core::Status;
///
/// let status = Status::error("connection refused");
/// assert_eq!(status.code(), 2);
/// assert_eq!(status.message(), "connection refused");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Not set (the default).
    #[default]
    Unset,
    /// Explicitly marked successful.
    Ok,
    /// Failed, with a description.
    Error {
        /// Developer-facing description of the error.
        message: Str,
    },
}

impl Status {
    /// An error status with a description.
    pub fn error(message: impl Into<Str>) -> Self {
        Status::Error {
            message: message.into(),
        }
    }

    /// The OTLP `StatusCode` value: 0 unset, 1 ok, 2 error.
    pub fn code(&self) -> u8 {
        match self {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error { .. } => 2,
        }
    }

    /// The description (`""` unless an error).
    pub fn message(&self) -> &str {
        match self {
            Status::Error { message } => message,
            _ => "",
        }
    }
}

/// OTLP's `flags` field of a span or link: W3C trace flags in bits 0-7, and
/// whether the parent (for a span) or the linked span (for a link) is remote.
///
/// Bit 8 (`0x100`) says the remote bit is known; bit 9 (`0x200`) is that bit.
/// Unknown higher bits are preserved.
///
/// ```
/// use otlp_core::{SpanFlags, TraceFlags};
///
/// let flags = SpanFlags::new(TraceFlags::SAMPLED, Some(true));
/// assert_eq!(flags.bits(), 0x301);
/// assert_eq!(flags.is_remote(), Some(true));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpanFlags(u32);

impl SpanFlags {
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;

    /// Flags from trace flags and, if known, whether the other end is remote.
    pub const fn new(trace_flags: TraceFlags, is_remote: Option<bool>) -> Self {
        let mut bits = trace_flags.bits() as u32;
        match is_remote {
            Some(true) => bits |= Self::HAS_IS_REMOTE | Self::IS_REMOTE,
            Some(false) => bits |= Self::HAS_IS_REMOTE,
            None => {}
        }
        SpanFlags(bits)
    }

    /// Flags from the raw wire value.
    pub const fn from_bits(bits: u32) -> Self {
        SpanFlags(bits)
    }

    /// The raw wire value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The W3C trace flags (bits 0-7).
    pub const fn trace_flags(self) -> TraceFlags {
        TraceFlags::new((self.0 & 0xff) as u8)
    }

    /// Whether the parent (or linked) span is remote, if recorded.
    pub const fn is_remote(self) -> Option<bool> {
        if self.0 & Self::HAS_IS_REMOTE == 0 {
            None
        } else {
            Some(self.0 & Self::IS_REMOTE != 0)
        }
    }
}

/// Something that happened at a point in time during a span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// When it happened, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The event name.
    pub name: Str,
    /// Event attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
}

impl Event {
    /// An event with a name, a time and attributes.
    pub fn new(
        name: impl Into<Str>,
        time_unix_nano: u64,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) -> Self {
        Event {
            time_unix_nano,
            name: name.into(),
            attributes: attributes.into_iter().collect(),
            dropped_attributes_count: 0,
        }
    }
}

/// A pointer from a span to another span, in this trace or another.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    /// Trace of the linked span.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// Trace state of the linked span.
    pub trace_state: TraceState,
    /// Trace flags of the linked span and whether it is remote.
    pub flags: SpanFlags,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
}

impl Link {
    /// A link to the span `context` describes: its ids, trace state, defined
    /// trace flags ([`TraceFlags::DEFINED`]: sampled, random) and whether it
    /// is remote. Flags W3C reserves, which a remote context may have sent,
    /// are not written ("Vendors MUST set those to zero"), as for a child of
    /// that context.
    pub fn new(context: &SpanContext, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let trace_flags = context.trace_flags.defined();
        Link {
            trace_id: context.trace_id,
            span_id: context.span_id,
            trace_state: context.trace_state.clone(),
            flags: SpanFlags::new(trace_flags, Some(context.is_remote)),
            attributes: attributes.into_iter().collect(),
            dropped_attributes_count: 0,
        }
    }
}

/// A finished span, carrying every field of OTLP's `Span` message plus the
/// shared resource and scope it belongs to.
///
/// Cost model: ids are `Copy`; names, keys and strings are [`Str`];
/// resource and scope are `Arc`s. Cloning copies the three small vectors of
/// handles (attributes, events, links) and bumps reference counts; it never
/// copies shared text or bytes (only inline text of up to
/// [`Str::INLINE_CAPACITY`] bytes, with its `Str`). Moving a `SpanData` (into a queue, say) is a
/// memcpy of the struct and allocates nothing.
///
/// ```
/// use otlp_core::{KeyValue, SpanData, SpanKind, Status, TraceId, SpanId};
///
/// let span = SpanData::builder("GET /users/{id}")
///     .trace_id(TraceId::random())
///     .span_id(SpanId::random())
///     .kind(SpanKind::Server)
///     .times(1_700_000_000_000_000_000, 1_700_000_000_250_000_000)
///     .attribute(KeyValue::new("http.response.status_code", 200))
///     .status(Status::Ok)
///     .build();
/// assert_eq!(span.duration_nanos(), 250_000_000);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SpanData {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// W3C trace state.
    pub trace_state: TraceState,
    /// The parent span, `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// Trace flags and whether the parent is remote.
    pub flags: SpanFlags,
    /// Operation name.
    pub name: Str,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Span attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
    /// Events, in the order they were added.
    pub events: Vec<Event>,
    /// Events discarded by limits.
    pub dropped_events_count: u32,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// Links discarded by limits.
    pub dropped_links_count: u32,
    /// Outcome.
    pub status: Status,
    /// What produced the span (shared).
    pub resource: Arc<Resource>,
    /// Which instrumentation produced the span (shared).
    pub scope: Arc<InstrumentationScope>,
}

impl SpanData {
    /// Starts building a span with this name; everything else has a default
    /// (invalid ids, internal kind, zero times, the empty resource and scope;
    /// for the flags, see [`SpanDataBuilder::build`]).
    pub fn builder(name: impl Into<Str>) -> SpanDataBuilder {
        SpanDataBuilder {
            flags_given: false,
            span: SpanData {
                trace_id: TraceId::INVALID,
                span_id: SpanId::INVALID,
                trace_state: TraceState::EMPTY,
                parent_span_id: None,
                flags: SpanFlags::default(),
                name: name.into(),
                kind: SpanKind::Internal,
                start_time_unix_nano: 0,
                end_time_unix_nano: 0,
                attributes: Vec::new(),
                dropped_attributes_count: 0,
                events: Vec::new(),
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                status: Status::Unset,
                resource: Resource::empty(),
                scope: InstrumentationScope::empty(),
            },
        }
    }

    /// The span's own context (local, with its trace flags and state).
    pub fn span_context(&self) -> SpanContext {
        SpanContext {
            trace_id: self.trace_id,
            span_id: self.span_id,
            trace_flags: self.flags.trace_flags(),
            is_remote: false,
            trace_state: self.trace_state.clone(),
        }
    }

    /// End minus start, saturating at zero.
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }
}

/// Builder for [`SpanData`]; see [`SpanData::builder`].
#[derive(Clone, Debug)]
pub struct SpanDataBuilder {
    span: SpanData,
    /// Whether the flags were given ([`flags`](Self::flags), or a valid
    /// [`parent`](Self::parent)): if not, [`build`](Self::build) fills in
    /// a root's.
    flags_given: bool,
}

impl SpanDataBuilder {
    /// Sets the trace id.
    pub fn trace_id(mut self, trace_id: TraceId) -> Self {
        self.span.trace_id = trace_id;
        self
    }

    /// Sets the span id.
    pub fn span_id(mut self, span_id: SpanId) -> Self {
        self.span.span_id = span_id;
        self
    }

    /// Makes this span a child of `parent`: same trace, defined trace flags
    /// ([`TraceFlags::DEFINED`]: sampled, random) and state, parent id set,
    /// parent's remoteness recorded. Flags W3C reserves, which a remote
    /// parent may have sent, are not the child's ("Vendors MUST set those to
    /// zero"), as for otlp-sdk's children. An invalid `parent` (a zero trace
    /// or span id) is no parent: the span stays a root, as OTLP wants a
    /// root's `parent_span_id` empty.
    pub fn parent(mut self, parent: &SpanContext) -> Self {
        if !parent.is_valid() {
            return self;
        }
        self.span.trace_id = parent.trace_id;
        self.span.parent_span_id = Some(parent.span_id);
        self.span.trace_state = parent.trace_state.clone();
        let trace_flags = parent.trace_flags.defined();
        self.span.flags = SpanFlags::new(trace_flags, Some(parent.is_remote));
        self.flags_given = true;
        self
    }

    /// Sets the parent span id only: whether that parent is remote stays
    /// unknown in the flags (see [`parent`](Self::parent) for a context).
    pub fn parent_span_id(mut self, parent_span_id: Option<SpanId>) -> Self {
        self.span.parent_span_id = parent_span_id;
        self
    }

    /// Sets the trace state.
    pub fn trace_state(mut self, trace_state: TraceState) -> Self {
        self.span.trace_state = trace_state;
        self
    }

    /// Sets the flags, kept as given by [`build`](Self::build).
    pub fn flags(mut self, flags: SpanFlags) -> Self {
        self.span.flags = flags;
        self.flags_given = true;
        self
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.span.kind = kind;
        self
    }

    /// Sets start and end, in nanoseconds since the Unix epoch.
    pub fn times(mut self, start_time_unix_nano: u64, end_time_unix_nano: u64) -> Self {
        self.span.start_time_unix_nano = start_time_unix_nano;
        self.span.end_time_unix_nano = end_time_unix_nano;
        self
    }

    /// Adds one attribute.
    pub fn attribute(mut self, attribute: KeyValue) -> Self {
        self.span.attributes.push(attribute);
        self
    }

    /// Adds attributes.
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.span.attributes.extend(attributes);
        self
    }

    /// Adds an event.
    pub fn event(mut self, event: Event) -> Self {
        self.span.events.push(event);
        self
    }

    /// Adds a link.
    pub fn link(mut self, link: Link) -> Self {
        self.span.links.push(link);
        self
    }

    /// Sets the dropped counts for attributes, events and links.
    pub fn dropped_counts(mut self, attributes: u32, events: u32, links: u32) -> Self {
        self.span.dropped_attributes_count = attributes;
        self.span.dropped_events_count = events;
        self.span.dropped_links_count = links;
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: Status) -> Self {
        self.span.status = status;
        self
    }

    /// Sets the shared resource.
    pub fn resource(mut self, resource: Arc<Resource>) -> Self {
        self.span.resource = resource;
        self
    }

    /// Sets the shared instrumentation scope.
    pub fn scope(mut self, scope: Arc<InstrumentationScope>) -> Self {
        self.span.scope = scope;
        self
    }

    /// The finished span.
    ///
    /// Flags neither given ([`flags`](Self::flags)) nor taken from a
    /// [`parent`](Self::parent) are a root's when the span has no parent id:
    /// no trace flags, and its parent known not to be remote (OTLP's 0x100
    /// set, 0x200 clear), as otlp-sdk's roots say; with a parent id alone,
    /// none (whether it is remote is unknown).
    pub fn build(mut self) -> SpanData {
        if !self.flags_given && self.span.parent_span_id.is_none() {
            self.span.flags = SpanFlags::new(TraceFlags::NONE, Some(false));
        }
        self.span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_inherits_trace_and_records_remote_parent() {
        let parent = SpanContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        let span = SpanData::builder("child")
            .parent(&parent)
            .span_id(SpanId::random())
            .build();
        assert_eq!(span.trace_id, parent.trace_id);
        assert_eq!(span.parent_span_id, Some(parent.span_id));
        assert_eq!(span.flags.bits(), 0x301);
    }

    #[test]
    fn an_invalid_parent_leaves_the_span_a_root() {
        let trace_id = TraceId::random();
        let span = SpanData::builder("root")
            .trace_id(trace_id)
            .parent(&SpanContext::default())
            .build();
        assert_eq!(
            span.parent_span_id, None,
            "no all-zero parent id on the wire"
        );
        assert_eq!(span.trace_id, trace_id);
    }

    #[test]
    fn clone_shares_strings_resource_and_scope() {
        let long = "a dynamic name that is too long to store inline".to_owned();
        let span = SpanData::builder(long.clone())
            .attribute(KeyValue::new("k", long))
            .build();
        let copy = span.clone();
        assert!(Arc::ptr_eq(&span.resource, &copy.resource));
        assert_eq!(span.name.as_ptr(), copy.name.as_ptr());
        let (a, b) = (&span.attributes[0].value, &copy.attributes[0].value);
        assert_eq!(a.as_str().map(str::as_ptr), b.as_str().map(str::as_ptr));
    }

    #[test]
    fn span_kind_wire_values_match_otlp() {
        for value in 0..=5 {
            assert_eq!(
                i32::from(SpanKind::from_wire_value(value).wire_value()),
                value
            );
        }
        assert_eq!(SpanKind::from_wire_value(42), SpanKind::Unspecified);
    }
}
