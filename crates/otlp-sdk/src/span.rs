//! [`Span`]: a span in progress, ended explicitly or when dropped.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use otlp_core::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, SpanContext, SpanData, SpanId,
    SpanKind, Status, Str, clock,
};

use crate::destination::Destination;
use crate::limits::{SpanLimits, span_limit_reached, truncate_value, truncate_values};
use crate::spare_attributes;
use crate::unique_keys::{KeyFilter, dedupe_into, keep_last_value_per_key, same_key};

/// The semantic conventions' name of the event an error is recorded as.
const EXCEPTION_EVENT: &str = "exception";
/// The semantic conventions' attribute for an exception's message.
const EXCEPTION_MESSAGE: &str = "exception.message";

/// A span in progress. Record attributes, events, links and status, then
/// [`end`](Span::end) it — or let it drop, which ends it too.
///
/// An unsampled span is *non-recording*: every recording method is a no-op,
/// but [`context`](Span::context) is valid so children and other services
/// follow the same decision. A custom sampler's
/// [`RecordOnly`](crate::SamplingDecision::RecordOnly) makes a span that
/// records but is not sampled: the processors see it, no exporter does.
///
/// A recording span can be read back, as the specification's read/write
/// span handed to [`SpanProcessor::on_start`](crate::SpanProcessor::on_start)
/// is: [`name`](Span::name), [`kind`](Span::kind),
/// [`parent_span_id`](Span::parent_span_id), [`start_time`](Span::start_time),
/// [`attributes`](Span::attributes), [`events`](Span::events),
/// [`links`](Span::links), [`status`](Span::status), the dropped counts,
/// [`scope`](Span::scope) and [`resource`](Span::resource). Each reads what
/// the span holds, without copying or locking; each is `None` once the span
/// has ended or if it never recorded (it keeps nothing but its context then).
///
/// ```
/// use otlp_sdk::TracerProvider;
/// use otlp_core::{KeyValue, Status};
///
/// let tracer = TracerProvider::builder().build().tracer("example");
/// let mut span = tracer.start("charge card");
/// span.set_attribute(KeyValue::new("payment.amount", 12.5));
/// span.add_event("retrying", [KeyValue::new("attempt", 2)]);
/// span.set_status(Status::error("card declined"));
/// assert_eq!(span.name(), Some("charge card"));
/// assert_eq!(span.attribute("payment.amount"), Some(&12.5.into()));
/// span.end();
/// // Ended: its data went to the processors; its context stays.
/// assert_eq!((span.is_recording(), span.status()), (false, None));
/// assert!(span.span_context().is_valid());
/// ```
pub struct Span {
    context: SpanContext,
    /// `None` for non-recording spans and once ended.
    data: Option<SpanData>,
    limits: SpanLimits,
    destination: Destination,
    /// A two-word filter of the attribute keys set so far: a key whose bit is
    /// clear cannot be a duplicate, so most `set_attribute` calls skip the scan.
    key_filter: KeyFilter,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context)
            .field("recording", &self.data.is_some())
            .finish()
    }
}

impl Span {
    /// A recording span with no attributes yet (see
    /// [`adopt_start_extras`](Self::adopt_start_extras)). Inlined so
    /// that `data` (224 bytes) is built where the span lives: each function
    /// it passed through by value would copy it once more, on every span.
    #[inline]
    pub(crate) fn recording(
        context: SpanContext,
        data: SpanData,
        limits: SpanLimits,
        destination: Destination,
    ) -> Self {
        debug_assert!(data.attributes.is_empty(), "start attributes are adopted");
        Span {
            context,
            data: Some(data),
            limits,
            destination,
            key_filter: KeyFilter::default(),
        }
    }

    /// Takes the attributes and links given at start: attributes
    /// deduplicated (the last value wins), both capped and truncated as the
    /// limits say. Out of line: most spans start with neither.
    #[cold]
    #[inline(never)]
    pub(crate) fn adopt_start_extras(&mut self, attributes: Vec<KeyValue>, links: Vec<Link>) {
        self.adopt_start_attributes(attributes);
        for link in links {
            self.add_link_value(link);
        }
    }

    fn adopt_start_attributes(&mut self, mut attributes: Vec<KeyValue>) {
        // None given, the span keeps the vector it started with; not
        // recording, it keeps none. Either way the vector given serves this
        // thread's next span or record instead of being freed (a sampled-out
        // span would otherwise cost an allocation and a free).
        let Some(data) = self.data.as_mut().filter(|_| !attributes.is_empty()) else {
            spare_attributes::keep(attributes);
            return;
        };
        dedupe_into(&mut self.key_filter, &mut attributes);
        let limits = &self.limits;
        data.dropped_attributes_count = cap(&mut attributes, limits.max_attributes);
        if data.dropped_attributes_count > 0 {
            span_limit_reached();
        }
        if let Some(max) = limits.max_attribute_value_length {
            truncate_values(&mut attributes, max);
        }
        data.attributes = attributes;
    }

    pub(crate) fn non_recording(context: SpanContext) -> Self {
        Span {
            context,
            data: None,
            limits: SpanLimits::default(),
            destination: Destination::Nowhere,
            key_filter: KeyFilter::default(),
        }
    }

    /// This span's context, to start children or to propagate (`traceparent`).
    /// The same for the span's whole life, ended or not, recording or not.
    #[doc(alias = "get_context")]
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// This span's context: [`context`](Self::context) under the name
    /// `opentelemetry`'s `Span::span_context` gives it.
    #[inline]
    pub fn span_context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether this span records (sampled, or recorded only by a custom
    /// sampler's decision, and not yet ended). For a span that recorded,
    /// `false` says it has ended.
    pub fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    /// The span's name, as given at start or by [`update_name`](Self::update_name).
    /// `None` when the span does not record, as every getter of what a
    /// span records: a span sampled out (or of a disabled provider) keeps
    /// nothing but its context, and an ended span has handed its data over.
    #[inline]
    pub fn name(&self) -> Option<&str> {
        self.data.as_ref().map(|data| &*data.name)
    }

    /// The span's kind (`None` when the span does not record).
    #[inline]
    pub fn kind(&self) -> Option<SpanKind> {
        self.data.as_ref().map(|data| data.kind)
    }

    /// The id of the span's parent: `None` for a root span, and when the
    /// span does not record. The parent's whole [`SpanContext`] (its own
    /// sampled flag, which the span's may differ from) is not kept on the
    /// span: [`SpanProcessor::on_start`](crate::SpanProcessor::on_start)
    /// receives it as its `parent`. The parent's trace id and trace state
    /// are the span's own ([`span_context`](Self::span_context)).
    #[inline]
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.data.as_ref().and_then(|data| data.parent_span_id)
    }

    /// Whether the span's parent is remote (came from another process):
    /// `None` for a root span and when the span does not record.
    #[inline]
    pub fn parent_is_remote(&self) -> Option<bool> {
        self.data
            .as_ref()
            .filter(|data| data.parent_span_id.is_some())
            .and_then(|data| data.flags.is_remote())
    }

    /// When the span started, in nanoseconds since the Unix epoch (`None`
    /// when the span does not record).
    #[inline]
    pub fn start_time_unix_nano(&self) -> Option<u64> {
        self.data.as_ref().map(|data| data.start_time_unix_nano)
    }

    /// When the span started (`None` when the span does not record). See
    /// [`start_time_unix_nano`](Self::start_time_unix_nano) for the stored value.
    pub fn start_time(&self) -> Option<SystemTime> {
        self.start_time_unix_nano()
            .map(|nanos| UNIX_EPOCH + Duration::from_nanos(nanos))
    }

    /// The span's attributes so far, each key once, in the order their keys
    /// were first set (`None` when the span does not record). Those over
    /// the limit are not here: see
    /// [`dropped_attributes_count`](Self::dropped_attributes_count).
    #[inline]
    pub fn attributes(&self) -> Option<&[KeyValue]> {
        self.data.as_ref().map(|data| data.attributes.as_slice())
    }

    /// The value of the attribute `key`, if the span records and has it.
    /// A scan of the attributes: as many string compares as attributes.
    pub fn attribute(&self, key: &str) -> Option<&AnyValue> {
        self.attributes()?
            .iter()
            .find(|kv| &*kv.key == key)
            .map(|kv| &kv.value)
    }

    /// How many attributes the limits discarded so far (`None` when the span
    /// does not record).
    #[inline]
    pub fn dropped_attributes_count(&self) -> Option<u32> {
        self.data.as_ref().map(|data| data.dropped_attributes_count)
    }

    /// The span's events so far, in the order they were added (`None` when
    /// the span does not record).
    #[inline]
    pub fn events(&self) -> Option<&[Event]> {
        self.data.as_ref().map(|data| data.events.as_slice())
    }

    /// How many events the limits discarded so far (`None` when the span
    /// does not record).
    #[inline]
    pub fn dropped_events_count(&self) -> Option<u32> {
        self.data.as_ref().map(|data| data.dropped_events_count)
    }

    /// The span's links so far: those given at start, then those added
    /// (`None` when the span does not record).
    #[inline]
    pub fn links(&self) -> Option<&[Link]> {
        self.data.as_ref().map(|data| data.links.as_slice())
    }

    /// How many links the limits discarded so far (`None` when the span does
    /// not record).
    #[inline]
    pub fn dropped_links_count(&self) -> Option<u32> {
        self.data.as_ref().map(|data| data.dropped_links_count)
    }

    /// The span's status so far, [`Status::Unset`] until one is set (`None`
    /// when the span does not record).
    #[inline]
    pub fn status(&self) -> Option<&Status> {
        self.data.as_ref().map(|data| &data.status)
    }

    /// The instrumentation scope of the tracer that started the span
    /// ([`Tracer::scope`](crate::Tracer::scope); `None` when the span does
    /// not record).
    #[inline]
    pub fn scope(&self) -> Option<&Arc<InstrumentationScope>> {
        self.data.as_ref().map(|data| &data.scope)
    }

    /// The resource of the provider that started the span (`None` when the
    /// span does not record).
    #[inline]
    pub fn resource(&self) -> Option<&Arc<Resource>> {
        self.data.as_ref().map(|data| &data.resource)
    }

    /// Sets an attribute; an existing key gets the new value. Over the limit,
    /// the attribute is discarded and counted; a value over the length limit
    /// is truncated.
    // Inlined: the common case (a new key under the limits) is a few compares
    // and a move into the vector, cheaper than a call that moves the 64-byte
    // attribute once more. The attribute is pushed onto the vector, then its
    // key is looked at: a
    // key that may be set already is settled in place, which is rare. A
    // vector without room is made room for first. Only a length limit and
    // the attribute limit take the attribute to `record_attribute`.
    #[inline]
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        let Some(data) = &mut self.data else {
            return;
        };
        let limits = &self.limits;
        let len = data.attributes.len();
        if limits.max_attribute_value_length.is_some() || len >= limits.max_attributes {
            record_attribute(data, limits, &mut self.key_filter, attribute);
            return;
        }
        if len == data.attributes.capacity() {
            make_room(&mut data.attributes);
        }
        let maybe_repeated = self.key_filter.insert(&attribute.key);
        data.attributes.push(attribute);
        if maybe_repeated {
            keep_last_value_of_key(&mut data.attributes);
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        for attribute in attributes {
            self.set_attribute(attribute);
        }
    }

    /// Adds an event now. Its attributes keep one value per key (the last
    /// given), then the per-event cap and the length limit apply.
    pub fn add_event(
        &mut self,
        name: impl Into<Str>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.add_event_at_unix_nanos(name, clock::now_unix_nanos(), attributes);
    }

    /// Adds an event at a given time, kept as OTLP's nanoseconds since the
    /// Unix epoch ([`clock::unix_nanos`]: before 1970 is 0, past the year
    /// 2554 is `u64::MAX`). It is not checked against the span's start or
    /// end.
    pub fn add_event_at(
        &mut self,
        name: impl Into<Str>,
        time: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.add_event_at_unix_nanos(name, clock::unix_nanos(time), attributes);
    }

    /// Adds an event at `time_unix_nano`, the span clock's scale.
    fn add_event_at_unix_nanos(
        &mut self,
        name: impl Into<Str>,
        time_unix_nano: u64,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let limits = self.limits;
        if let Some(data) = &mut self.data {
            if data.events.len() >= limits.max_events {
                data.dropped_events_count = data.dropped_events_count.saturating_add(1);
                span_limit_reached();
                return;
            }
            let mut event = Event::new(name, time_unix_nano, attributes);
            keep_last_value_per_key(&mut event.attributes);
            event.dropped_attributes_count =
                cap(&mut event.attributes, limits.max_attributes_per_event);
            if event.dropped_attributes_count > 0 {
                span_limit_reached();
            }
            if let Some(max) = limits.max_attribute_value_length {
                truncate_values(&mut event.attributes, max);
            }
            data.events.push(event);
        }
    }

    /// Records `error` as the semantic conventions' exception event, now: an
    /// event named `exception` with `exception.message`, the error's
    /// `Display` text, and `attributes`, which win over it where a key is
    /// the same (the specification's `RecordException`; `opentelemetry`'s
    /// `Span::record_error`). No `exception.type`: a `dyn Error` does not
    /// name its type. The status is left alone: set it with
    /// [`set_status`](Self::set_status) if the error fails the operation.
    /// A span that does not record does not format the error.
    ///
    /// ```
    /// use otlp_sdk::TracerProvider;
    /// use otlp_core::{KeyValue, Status};
    ///
    /// let tracer = TracerProvider::builder().build().tracer("example");
    /// let mut span = tracer.start("read config");
    /// let error = std::fs::read("/no/such/file").unwrap_err();
    /// span.record_error(&error, [KeyValue::new("exception.type", "std::io::Error")]);
    /// span.set_status(Status::error("config unreadable"));
    /// let event = &span.events().unwrap()[0];
    /// assert_eq!(&*event.name, "exception");
    /// assert_eq!(event.attributes[0].key.as_ref(), "exception.message");
    /// ```
    #[doc(alias = "record_exception")]
    pub fn record_error(
        &mut self,
        error: &dyn std::error::Error,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        if self.data.is_none() {
            return;
        }
        let message = KeyValue::new(EXCEPTION_MESSAGE, error.to_string());
        self.add_event(EXCEPTION_EVENT, std::iter::once(message).chain(attributes));
    }

    /// Adds a link to another span. Its attributes keep one value per key
    /// (the last given), then the per-link cap and the length limit apply.
    /// A link known when the span starts is best given to
    /// [`SpanBuilder::link`](crate::SpanBuilder::link) instead: a sampler
    /// decides when the span starts.
    pub fn add_link(
        &mut self,
        context: &SpanContext,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.add_link_value(Link::new(context, attributes));
    }

    pub(crate) fn add_link_value(&mut self, mut link: Link) {
        let limits = self.limits;
        if let Some(data) = &mut self.data {
            if data.links.len() >= limits.max_links {
                data.dropped_links_count = data.dropped_links_count.saturating_add(1);
                span_limit_reached();
                return;
            }
            keep_last_value_per_key(&mut link.attributes);
            link.dropped_attributes_count =
                cap(&mut link.attributes, limits.max_attributes_per_link);
            if link.dropped_attributes_count > 0 {
                span_limit_reached();
            }
            if let Some(max) = limits.max_attribute_value_length {
                truncate_values(&mut link.attributes, max);
            }
            data.links.push(link);
        }
    }

    /// Sets the status. `Ok` is final: later changes are ignored; setting
    /// `Unset` is ignored, as the specification says.
    pub fn set_status(&mut self, status: Status) {
        if let Some(data) = &mut self.data
            && data.status != Status::Ok
            && status != Status::Unset
        {
            data.status = status;
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(data) = &mut self.data {
            data.name = name.into();
        }
    }

    /// Ends the span now and hands it to the processors. A span ends once:
    /// later calls, and dropping it, do nothing.
    ///
    /// Takes `&mut self`, as `opentelemetry`'s `Span::end` does, so that the
    /// span is finished where it lies. Taking it by value would copy the
    /// whole span (368 bytes) into a new slot on every call; that copy is
    /// wide loads over fields written a moment before, and cost about a
    /// tenth of the hot path.
    #[inline]
    pub fn end(&mut self) {
        // A non-recording (or ended) span reads no clock.
        if self.data.is_some() {
            self.finish(clock::now_unix_nanos());
        }
    }

    /// Ends the span at a given time (see [`Span::end`]). A time before the
    /// span's start is taken as its start: no negative duration reaches the
    /// backend. As the start, it is kept as OTLP's nanoseconds since the
    /// Unix epoch ([`clock::unix_nanos`]: before 1970 is 0, past the year
    /// 2554 is `u64::MAX`).
    pub fn end_at(&mut self, end: SystemTime) {
        self.finish(clock::unix_nanos(end));
    }

    fn finish(&mut self, end_unix_nano: u64) {
        if let Some(data) = &mut self.data {
            data.end_time_unix_nano = end_unix_nano.max(data.start_time_unix_nano);
            self.destination.hand_over(&mut self.data);
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        // An ended span (and a non-recording one) has nothing to finish and
        // reads no clock: `end` looks first.
        self.end();
    }
}

/// [`Span::set_attribute`] under a length limit or at the attribute limit.
#[inline(never)]
fn record_attribute(
    data: &mut SpanData,
    limits: &SpanLimits,
    key_filter: &mut KeyFilter,
    mut attribute: KeyValue,
) {
    if let Some(max) = limits.max_attribute_value_length {
        truncate_value(&mut attribute.value, max);
    }
    if key_filter.insert(&attribute.key)
        && let Some(existing) = data
            .attributes
            .iter_mut()
            .find(|kv| same_key(&kv.key, &attribute.key))
    {
        existing.value = attribute.value;
    } else if data.attributes.len() < limits.max_attributes {
        if data.attributes.len() == data.attributes.capacity() {
            make_room(&mut data.attributes);
        }
        data.attributes.push(attribute);
    } else {
        data.dropped_attributes_count = data.dropped_attributes_count.saturating_add(1);
        span_limit_reached();
    }
}

/// The last attribute's key may be set already (the key filter says so):
/// if it is, that attribute takes the new value and the last one goes.
#[cold]
#[inline(never)]
fn keep_last_value_of_key(attributes: &mut Vec<KeyValue>) {
    let Some((last, earlier)) = attributes.split_last_mut() else {
        return;
    };
    if let Some(existing) = earlier.iter_mut().find(|kv| kv.key == last.key) {
        std::mem::swap(&mut existing.value, &mut last.value);
        attributes.pop();
    }
}

/// Room for one more attribute in a full vector: the thread's spare (or one
/// sized for a handful) in place of an empty one, else the vector grown.
#[cold]
#[inline(never)]
fn make_room(attributes: &mut Vec<KeyValue>) {
    if attributes.capacity() == 0 {
        *attributes = spare_attributes::take();
    }
    attributes.reserve(1);
}

/// Truncates to `max`, returning how many were discarded.
fn cap(attributes: &mut Vec<KeyValue>, max: usize) -> u32 {
    let excess = attributes.len().saturating_sub(max);
    attributes.truncate(max);
    u32::try_from(excess).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use otlp_core::AnyValue;

    use super::*;
    use crate::{PipelineError, SpanLimits, SpanProcessor, TracerProvider};

    /// Keeps every ended span.
    #[derive(Clone, Default)]
    struct Keep(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Keep {
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

    /// One span with a long value through every way in: builder attribute,
    /// `set_attribute` (new and replacing), an array, an event, links at
    /// start and later.
    fn record(max_attribute_value_length: Option<usize>) -> SpanData {
        let keep = Keep::default();
        let tracer = TracerProvider::builder()
            .with_span_limits(SpanLimits {
                max_attribute_value_length,
                ..SpanLimits::default()
            })
            .with_processor(keep.clone())
            .build()
            .tracer("limits");
        let other = tracer.start("other").context().clone();
        let mut span = tracer
            .span_builder("limited")
            .attribute(KeyValue::new("builder", "abcdef"))
            .attribute(KeyValue::new("replaced", "abcdef"))
            .link(&other, [KeyValue::new("start.link", "abcdef")])
            .start();
        span.set_attribute(KeyValue::new("set", "ééééé"));
        span.set_attribute(KeyValue::new("replaced", "ghijkl"));
        span.set_attribute(KeyValue::new(
            "array",
            vec![AnyValue::from("abcdef"), AnyValue::from(123_456)],
        ));
        span.set_attribute(KeyValue::new("number", 123_456));
        span.add_event("event", [KeyValue::new("event.value", "abcdef")]);
        span.add_link(&other, [KeyValue::new("link", "abcdef")]);
        span.end();
        let spans = keep.0.lock().unwrap();
        spans
            .iter()
            .find(|span| &*span.name == "limited")
            .cloned()
            .unwrap()
    }

    fn value<'a>(attributes: &'a [KeyValue], key: &str) -> &'a AnyValue {
        &attributes.iter().find(|kv| kv.key == key).unwrap().value
    }

    #[test]
    fn attribute_values_are_truncated_wherever_they_enter() {
        let span = record(Some(3));
        let attributes = &span.attributes;
        assert_eq!(value(attributes, "builder"), &AnyValue::from("abc"));
        assert_eq!(value(attributes, "replaced"), &AnyValue::from("ghi"));
        assert_eq!(value(attributes, "set"), &AnyValue::from("ééé"));
        assert_eq!(
            value(attributes, "array"),
            &AnyValue::from(vec![AnyValue::from("abc"), AnyValue::from(123_456)])
        );
        assert_eq!(value(attributes, "number"), &AnyValue::from(123_456));
        let event = &span.events[0].attributes;
        assert_eq!(value(event, "event.value"), &AnyValue::from("abc"));
        assert_eq!(
            value(&span.links[0].attributes, "start.link"),
            &AnyValue::from("abc")
        );
        assert_eq!(
            value(&span.links[1].attributes, "link"),
            &AnyValue::from("abc")
        );
        // Truncation is not dropping.
        assert_eq!(span.dropped_attributes_count, 0);
    }

    #[test]
    fn without_a_length_limit_values_stay_whole() {
        let span = record(None);
        assert_eq!(
            value(&span.attributes, "builder"),
            &AnyValue::from("abcdef")
        );
        assert_eq!(value(&span.attributes, "set"), &AnyValue::from("ééééé"));
        let event = &span.events[0].attributes;
        assert_eq!(value(event, "event.value"), &AnyValue::from("abcdef"));
        let span = record(Some(0));
        assert_eq!(value(&span.attributes, "builder"), &AnyValue::from(""));
    }

    #[test]
    fn a_repeated_key_takes_the_new_value_in_its_first_place() {
        let keep = Keep::default();
        let tracer = TracerProvider::builder()
            .with_processor(keep.clone())
            .build()
            .tracer("repeats");
        let mut span = tracer.start("repeats");
        // More distinct keys than the 64-bit key filter tells apart: some
        // look repeated to it and must still all be kept.
        for i in 0..100i64 {
            span.set_attribute(KeyValue::new(format!("key.{i}"), i));
        }
        span.set_attribute(KeyValue::new("key.7", "again"));
        span.set_attribute(KeyValue::new("key.99", "last"));
        span.end();
        let expected: Vec<KeyValue> = (0..100i64)
            .map(|i| match i {
                7 => KeyValue::new("key.7", "again"),
                99 => KeyValue::new("key.99", "last"),
                _ => KeyValue::new(format!("key.{i}"), i),
            })
            .collect();
        let spans = keep.0.lock().unwrap();
        assert_eq!(spans[0].attributes, expected);
        assert_eq!(spans[0].dropped_attributes_count, 0);
    }

    #[test]
    fn start_attributes_keep_distinct_keys_and_dedupe_true_repeats() {
        let keep = Keep::default();
        let tracer = TracerProvider::builder()
            .with_processor(keep.clone())
            .build()
            .tracer("start");
        // Forty distinct keys: several share a bit of the filter.
        let distinct: Vec<KeyValue> = (0..40i64)
            .map(|i| KeyValue::new(format!("start.{i}"), i))
            .collect();
        tracer
            .span_builder("distinct")
            .attributes(distinct.clone())
            .start()
            .end();
        let mut repeated = distinct.clone();
        repeated.push(KeyValue::new("start.3", "again"));
        tracer
            .span_builder("repeated")
            .attributes(repeated)
            .start()
            .end();
        let spans = keep.0.lock().unwrap();
        assert_eq!(spans[0].attributes, distinct);
        let mut expected = distinct;
        expected[3] = KeyValue::new("start.3", "again");
        assert_eq!(spans[1].attributes, expected);
    }

    #[test]
    fn a_sampled_out_span_leaves_its_start_attribute_vector_to_the_thread() {
        let tracer = TracerProvider::builder()
            .with_sampler(crate::Sampler::AlwaysOff)
            .build()
            .tracer("sampled-out");
        let mut attributes = tracer.attribute_vector();
        attributes.extend((0..20i64).map(|i| KeyValue::new(format!("key.{i}"), i)));
        let capacity = attributes.capacity();
        let mut span = tracer
            .span_builder("dropped")
            .attributes(attributes)
            .start();
        assert!(!span.is_recording());
        span.end();
        // The thread's next vector is that one, emptied: the next span
        // allocates nothing (a fresh one has room for 8).
        let next = tracer.attribute_vector();
        assert!(next.is_empty());
        assert_eq!(next.capacity(), capacity);
    }

    #[test]
    fn event_and_link_attributes_keep_one_value_per_key_and_count_only_real_drops() {
        let keep = Keep::default();
        let tracer = TracerProvider::builder()
            .with_span_limits(SpanLimits {
                max_attributes_per_event: 2,
                max_attributes_per_link: 2,
                ..SpanLimits::default()
            })
            .with_processor(keep.clone())
            .build()
            .tracer("collections");
        let other = tracer.start("other").context().clone();
        let repeated = || {
            [
                KeyValue::new("a", 1),
                KeyValue::new("b", 2),
                KeyValue::new("a", 3),
            ]
        };
        let mut span = tracer
            .span_builder("repeats")
            .link(&other, repeated())
            .start();
        span.add_event("event", repeated());
        span.add_link(&other, repeated());
        span.add_event(
            "over the cap",
            [
                KeyValue::new("x", 1),
                KeyValue::new("y", 2),
                KeyValue::new("x", 3),
                KeyValue::new("z", 4),
            ],
        );
        span.end();
        let spans = keep.0.lock().unwrap();
        let span = spans.iter().find(|span| &*span.name == "repeats").unwrap();
        let expected = [KeyValue::new("a", 3), KeyValue::new("b", 2)];
        assert_eq!(span.events[0].attributes, expected);
        assert_eq!(span.events[0].dropped_attributes_count, 0);
        for link in &span.links {
            assert_eq!(link.attributes, expected);
            assert_eq!(link.dropped_attributes_count, 0);
        }
        assert_eq!(
            span.events[1].attributes,
            [KeyValue::new("x", 3), KeyValue::new("y", 2)]
        );
        assert_eq!(span.events[1].dropped_attributes_count, 1);
    }

    /// Times a program gives from outside the range of OTLP's `u64`
    /// nanoseconds: before 1970 (a clock of a device never set, a date
    /// parsed wrong) and past the year 2554 (a `SystemTime` can go that
    /// far). No panic: before 1970 is 0, the epoch; past 2554 is
    /// `u64::MAX`; an end is never before its start.
    #[test]
    fn explicit_times_before_1970_or_past_2554_saturate_and_never_end_before_the_start() {
        let keep = Keep::default();
        let tracer = TracerProvider::builder()
            .with_processor(keep.clone())
            .build()
            .tracer("times");
        let before_1970 = UNIX_EPOCH - Duration::from_secs(86_400);
        let last_nano = UNIX_EPOCH + Duration::from_nanos(u64::MAX);
        // Past the last nanosecond where the platform's `SystemTime` goes on.
        let past_2554 = last_nano
            .checked_add(Duration::from_secs(3_600))
            .unwrap_or(last_nano);

        let mut early = tracer.span_builder("early").start_time(before_1970).start();
        assert_eq!(early.start_time_unix_nano(), Some(0));
        assert_eq!(early.start_time(), Some(UNIX_EPOCH));
        early.add_event_at("earlier", before_1970 - Duration::from_secs(1), []);
        early.add_event_at("late", past_2554, []);
        early.end_at(before_1970 - Duration::from_secs(60));

        let mut late = tracer.span_builder("late").start_time(past_2554).start();
        assert_eq!(late.start_time_unix_nano(), Some(u64::MAX));
        assert_eq!(late.start_time(), Some(last_nano));
        // Ended now: long before its start.
        late.end();

        let mut open_ended = tracer.start("open ended");
        open_ended.end_at(past_2554);

        let spans = keep.0.lock().unwrap();
        let span = |name: &str| spans.iter().find(|span| &*span.name == name).unwrap();
        let early = span("early");
        assert_eq!(
            (early.start_time_unix_nano, early.end_time_unix_nano),
            (0, 0)
        );
        let events: Vec<u64> = early.events.iter().map(|e| e.time_unix_nano).collect();
        assert_eq!(events, [0, u64::MAX]);
        let late = span("late");
        assert_eq!(
            (late.start_time_unix_nano, late.end_time_unix_nano),
            (u64::MAX, u64::MAX)
        );
        let open_ended = span("open ended");
        assert!(open_ended.start_time_unix_nano > 0);
        assert_eq!(open_ended.end_time_unix_nano, u64::MAX);
    }
}
