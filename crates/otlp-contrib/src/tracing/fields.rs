//! Visitors that turn `tracing` field values into OTLP attributes, into a
//! local buffer, before any span's extensions are locked (a `Debug` impl may
//! itself record through `tracing`).
//!
//! Types carry over: `i64` and `u64` (when it fits) become OTLP ints, `i128`
//! and `u128` too when they fit, anything larger a decimal string; `f64` a
//! double, `bool` a bool, `&str` a string, `&[u8]` bytes, `Debug` and
//! `Display` (`?x`, `%x`) values their formatted text. Keys are the fields'
//! static names: no allocation.

use std::cell::Cell;
use std::error::Error;
use std::fmt::{self, Write as _};

use otlp_core::{AnyValue, KeyValue, SpanKind, Status, Str};
use tracing_core::Metadata;
use tracing_core::field::{Field, Visit};

use super::{
    CODE_FILE_PATH, CODE_LINE_NUMBER, CODE_MODULE_NAME, EXCEPTION_EVENT, EXCEPTION_MESSAGE,
    SPAN_KIND_FIELD, SPAN_NAME_FIELD, SPAN_STATUS_CODE_FIELD, SPAN_STATUS_DESCRIPTION_FIELD,
    SPAN_STATUS_MESSAGE_FIELD, TARGET_ATTRIBUTE, THREAD_ID, THREAD_NAME,
};

/// The value of an integer that may not fit OTLP's `i64`: an int when it
/// does, else its decimal text (as `tracing-opentelemetry` does).
fn int_value<T: TryInto<i64> + fmt::Display + Copy>(value: T) -> AnyValue {
    match value.try_into() {
        Ok(int) => AnyValue::Int(int),
        Err(_) => AnyValue::String(Str::from(value.to_string())),
    }
}

thread_local! {
    /// Where this thread formats `Debug` values (every event's message is
    /// one): the text is then copied into its `Str` (in place when short),
    /// so the formatting buffer is allocated once per thread, not once per
    /// value.
    static DEBUG_TEXT: Cell<String> = const { Cell::new(String::new()) };
}

/// A formatting buffer grown past this is freed after use, not kept.
const MAX_KEPT_DEBUG_TEXT: usize = 4096;

/// Runs `f` on the text of a `Debug` (or `Display`, through `%`) value,
/// formatted into this thread's buffer. The buffer is taken out while in
/// use: a `Debug` impl that itself records through `tracing` finds none
/// and formats into a fresh one.
fn with_debug_text<R>(value: &dyn fmt::Debug, f: impl FnOnce(&str) -> R) -> R {
    // Empty when the thread is being torn down: a fresh buffer then.
    let mut text = DEBUG_TEXT.try_with(Cell::take).unwrap_or_default();
    text.clear();
    // Writing into a `String` fails only if the `Debug` impl does.
    let _ = write!(text, "{value:?}");
    let result = f(&text);
    if text.capacity() <= MAX_KEPT_DEBUG_TEXT {
        let _ = DEBUG_TEXT.try_with(|buffer| buffer.set(text));
    }
    result
}

/// The text of an error: its `Display`.
fn error_text(error: &(dyn Error + 'static)) -> Str {
    Str::from(error.to_string())
}

/// Most sources of one error kept in its chain: a chain is a few errors
/// deep; a `source` that never ends (an error that is its own source) stops
/// here.
const MAX_ERROR_CHAIN: usize = 32;

/// Appends `<field>.chain`, the texts of `error`'s sources (its cause, the
/// cause's cause...), as `tracing-opentelemetry` writes it; for an error
/// without a source, nothing unless `even_empty` (then an empty array: see
/// `SpanFields::for_record`). The key is made for the call (an
/// allocation), only when the chain is written.
fn push_error_chain(
    attributes: &mut Vec<KeyValue>,
    field: &Field,
    error: &(dyn Error + 'static),
    even_empty: bool,
) {
    let mut chain = Vec::new();
    let mut next = error.source();
    while let Some(source) = next
        && chain.len() < MAX_ERROR_CHAIN
    {
        chain.push(AnyValue::String(error_text(source)));
        next = source.source();
    }
    if even_empty || !chain.is_empty() {
        push_in_place(attributes, || {
            KeyValue::new(
                Str::from(format!("{}.chain", field.name())),
                AnyValue::Array(chain.into()),
            )
        });
    }
}

/// What the `otel.status_code` field says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// What a span's fields say: attributes, and the reserved `otel.*` fields.
#[derive(Debug, Default)]
pub(super) struct SpanFields {
    /// Attributes in the order the fields came.
    pub(super) attributes: Vec<KeyValue>,
    /// `otel.name`: the span's new name.
    pub(super) name: Option<Str>,
    /// `otel.kind`, when it names a kind.
    pub(super) kind: Option<SpanKind>,
    /// `otel.status_code`.
    pub(super) status_code: Option<StatusCode>,
    /// `otel.status_description` (or `otel.status_message`).
    pub(super) status_description: Option<Str>,
    /// The messages of `&dyn Error` values: one `exception` event each.
    pub(super) exceptions: Vec<Str>,
    /// Whether the fields are recorded on a span that exists
    /// (`Span::record`), where a field may hold an error already: an error
    /// without a source then writes an empty `<field>.chain`, which
    /// replaces the chain of the error recorded before (the span keeps one
    /// value per key) instead of leaving it beside the new error.
    recorded_later: bool,
}

impl SpanFields {
    /// A buffer with room for `fields` attributes.
    pub(super) fn with_capacity(fields: usize) -> Self {
        SpanFields::in_vector(Vec::new(), fields)
    }

    /// A buffer in `attributes` (emptied), with room for `room` attributes.
    pub(super) fn in_vector(mut attributes: Vec<KeyValue>, room: usize) -> Self {
        attributes.clear();
        attributes.reserve(room);
        SpanFields {
            attributes,
            ..SpanFields::default()
        }
    }

    /// A buffer with room for `fields` attributes, for fields recorded on a
    /// span that exists (`Span::record`; see the `recorded_later` field).
    pub(super) fn for_record(fields: usize) -> Self {
        SpanFields {
            recorded_later: true,
            ..SpanFields::with_capacity(fields)
        }
    }

    /// The status the `otel.status_*` fields ask for, if any: a description
    /// alone means an error, as in `tracing-opentelemetry`; `Unset`
    /// (`otel.status_code = "unset"`, or any code it does not know) is
    /// asked for too, as it clears an earlier status of a span that has not
    /// started.
    pub(super) fn status(&self) -> Option<Status> {
        match (self.status_code, &self.status_description) {
            (Some(StatusCode::Ok), _) => Some(Status::Ok),
            (Some(StatusCode::Error), description) => Some(Status::error(
                description.clone().unwrap_or_else(|| Str::from("")),
            )),
            (Some(StatusCode::Unset), _) => Some(Status::Unset),
            (None, Some(description)) => Some(Status::error(description.clone())),
            (None, None) => None,
        }
    }

    /// Whether the fields set the code `error` without a description (its
    /// field not among them): the span's own description, if it has one
    /// (recorded before, or an `ERROR` event's message), is then kept.
    pub(super) fn error_code_alone(&self) -> bool {
        self.status_code == Some(StatusCode::Error) && self.status_description.is_none()
    }

    /// Whether a field's text is taken by a reserved `otel.*` name.
    fn reserved_text(&mut self, field: &Field, text: &str) -> bool {
        match field.name() {
            SPAN_NAME_FIELD => self.name = Some(Str::copy_from(text)),
            SPAN_KIND_FIELD => self.kind = parse_kind(text),
            SPAN_STATUS_CODE_FIELD => self.status_code = Some(parse_status_code(text)),
            SPAN_STATUS_DESCRIPTION_FIELD | SPAN_STATUS_MESSAGE_FIELD => {
                self.status_description = Some(Str::copy_from(text));
            }
            _ => return false,
        }
        true
    }

    #[inline(always)]
    fn push(&mut self, field: &Field, value: impl FnOnce() -> AnyValue) {
        push_attribute(&mut self.attributes, field, value);
    }
}

/// Appends the attribute `field` = `value()`.
#[inline(always)]
fn push_attribute(attributes: &mut Vec<KeyValue>, field: &Field, value: impl FnOnce() -> AnyValue) {
    push_in_place(attributes, || KeyValue {
        key: Str::from(field.name()),
        value: value(),
    });
}

/// Appends the `code.*` attributes of a span's or event's call site: file,
/// line and module, those it knows.
pub(super) fn push_location(attributes: &mut Vec<KeyValue>, metadata: &Metadata<'static>) {
    if let Some(file) = metadata.file() {
        push_in_place(attributes, || KeyValue::new(CODE_FILE_PATH, file));
    }
    if let Some(line) = metadata.line() {
        push_in_place(attributes, || {
            KeyValue::new(CODE_LINE_NUMBER, AnyValue::Int(line.into()))
        });
    }
    if let Some(module) = metadata.module_path() {
        push_in_place(attributes, || KeyValue::new(CODE_MODULE_NAME, module));
    }
}

thread_local! {
    /// This thread's `thread.id` and `thread.name` values, worked out once:
    /// the number of its `std::thread::ThreadId` (as `tracing-opentelemetry`
    /// writes it) and its name, if it has one.
    static THREAD: (i64, Option<Str>) = {
        let thread = std::thread::current();
        (thread_number(thread.id()), thread.name().map(Str::copy_from))
    };
}

/// The number inside a `ThreadId`'s `Debug` text (`ThreadId(7)`: 7); `std`
/// gives it no other stable way. 0 if the text ever changes shape.
fn thread_number(id: std::thread::ThreadId) -> i64 {
    let text = format!("{id:?}");
    text.trim_start_matches("ThreadId(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or(0)
}

/// Pushes `thread.id` and, for a named thread, `thread.name` of the calling
/// thread (cached per thread: a copy of its name, no allocation when short).
pub(super) fn push_thread(attributes: &mut Vec<KeyValue>) {
    THREAD.with(|(id, name)| {
        push_in_place(attributes, || KeyValue::new(THREAD_ID, AnyValue::Int(*id)));
        if let Some(name) = name {
            push_in_place(attributes, || KeyValue::new(THREAD_NAME, name.clone()));
        }
    });
}

/// The target of every event `tracing-log` makes of a `log` record.
const LOG_TARGET: &str = "log";

/// The field `tracing-log` writes a `log` record's target into; with it
/// come `log.module_path`, `log.file` and `log.line`.
const LOG_TARGET_FIELD: &str = "log.target";

/// Whether an event is a `log` record that `tracing-log` turned into an
/// event: its target and location are then fields, the metadata's are
/// `tracing-log`'s own. `tracing-log`'s callsites all have the target
/// "log": other events skip the look at their field names.
pub(super) fn is_from_log(metadata: &Metadata<'_>) -> bool {
    metadata.target() == LOG_TARGET && metadata.fields().field(LOG_TARGET_FIELD).is_some()
}

/// The target a `log` record that `tracing-log` turned into an event
/// carries in its `log.target` field.
pub(super) fn log_target(attributes: &[KeyValue]) -> Option<&str> {
    attributes
        .iter()
        .find(|attribute| &*attribute.key == LOG_TARGET_FIELD)
        .and_then(|attribute| match &attribute.value {
            AnyValue::String(target) => Some(&**target),
            _ => None,
        })
}

/// Renames the `log.*` fields of a `log` record that `tracing-log` turned
/// into an event to what an event's metadata gives: `target` (dropped when
/// `target` is false, e.g. when the scope is named after it), and the
/// location (dropped when `location` is off).
pub(super) fn from_log_fields(attributes: &mut Vec<KeyValue>, target: bool, location: bool) {
    attributes.retain_mut(|attribute| {
        let (renamed, keep) = match &*attribute.key {
            LOG_TARGET_FIELD => (TARGET_ATTRIBUTE, target),
            "log.module_path" => (CODE_MODULE_NAME, location),
            "log.file" => (CODE_FILE_PATH, location),
            "log.line" => (CODE_LINE_NUMBER, location),
            _ => return true,
        };
        attribute.key = Str::from(renamed);
        keep
    });
}

/// Appends what `build` makes, built in the vector's free slot.
/// `Vec::push` takes a finished `KeyValue` and copies it into the slot with
/// 16-byte loads over the narrower stores that had just built it, which
/// stalls store-to-load forwarding: a perf profile of a `tracing` burst put
/// 7% of the producing thread's samples on those copies. `extend` with
/// `once_with` is not always inlined, and then passes the half-built
/// attribute by pointer and stalls the same way.
#[allow(unsafe_code)]
#[inline(always)]
pub(super) fn push_in_place(attributes: &mut Vec<KeyValue>, build: impl FnOnce() -> KeyValue) {
    if attributes.len() == attributes.capacity() {
        grow(attributes);
    }
    let len = attributes.len();
    if let Some(slot) = attributes.spare_capacity_mut().first_mut() {
        slot.write(build());
        // SAFETY: `spare_capacity_mut` is the vector's memory from `len` to its
        // capacity; its first slot, at index `len`, was just initialized by
        // `write` (if `build` panicked, nothing was written and the length
        // is unchanged). So `len + 1 <= capacity` and the elements `0..=len`
        // are initialized, which is what `set_len` requires. Tested by
        // `attributes_pushed_in_place_survive_growth_and_drop`.
        unsafe { attributes.set_len(len + 1) };
    }
}

/// Room for one more attribute; out of line, as buffers come with room for
/// their call site's fields.
#[cold]
#[inline(never)]
fn grow(attributes: &mut Vec<KeyValue>) {
    attributes.reserve(1);
}

/// `otel.kind`, case-insensitive; anything else is ignored.
fn parse_kind(text: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| text.eq_ignore_ascii_case(name).then_some(kind))
}

/// `otel.status_code`, case-insensitive; anything else is `Unset`.
fn parse_status_code(text: &str) -> StatusCode {
    if text.eq_ignore_ascii_case("ok") {
        StatusCode::Ok
    } else if text.eq_ignore_ascii_case("error") {
        StatusCode::Error
    } else {
        StatusCode::Unset
    }
}

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, || AnyValue::Double(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, || AnyValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, || int_value(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, || int_value(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, || int_value(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, || AnyValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.reserved_text(field, value) {
            self.push(field, || AnyValue::String(Str::copy_from(value)));
        }
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.push(field, || AnyValue::Bytes(value.into()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let message = error_text(value);
        self.exceptions.push(message.clone());
        self.push(field, || AnyValue::String(message));
        push_error_chain(&mut self.attributes, field, value, self.recorded_later);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        with_debug_text(value, |text| {
            if !self.reserved_text(field, text) {
                self.push(field, || AnyValue::String(Str::copy_from(text)));
            }
        });
    }
}

/// What an event's fields say: its name (the `message` field), attributes,
/// and the exception it carries, if any.
#[derive(Debug)]
pub(super) struct EventFields {
    /// The `message` field.
    pub(super) message: Option<Str>,
    /// Every other field.
    pub(super) attributes: Vec<KeyValue>,
    /// The first error value, or the `error` field's text: the event's
    /// `exception.message`.
    pub(super) exception: Option<Str>,
}

impl EventFields {
    /// A buffer with room for `fields` attributes and `extra` more.
    pub(super) fn with_capacity(fields: usize, extra: usize) -> Self {
        EventFields::in_vector(Vec::new(), fields + extra)
    }

    /// A buffer in `attributes` (emptied), with room for `room` attributes.
    pub(super) fn in_vector(mut attributes: Vec<KeyValue>, room: usize) -> Self {
        attributes.clear();
        attributes.reserve(room);
        EventFields {
            message: None,
            attributes,
            exception: None,
        }
    }

    /// The event's name: its message, else `exception` when it carries an
    /// error, else `fallback` (the callsite's name, as `tracing-opentelemetry`
    /// does); an empty message (`info!("")`) is none. Adds
    /// `exception.message` when it carries an error.
    pub(super) fn finish(&mut self, fallback: &'static str) -> Str {
        let message = self.message.as_ref().filter(|message| !message.is_empty());
        let name = match (message, &self.exception) {
            (Some(message), _) => message.clone(),
            (None, Some(_)) => Str::from(EXCEPTION_EVENT),
            (None, None) => Str::from(fallback),
        };
        self.push_exception();
        name
    }

    /// Adds `exception.message` when the event carries an error.
    pub(super) fn push_exception(&mut self) {
        if let Some(message) = self.exception.clone() {
            self.attributes
                .push(KeyValue::new(EXCEPTION_MESSAGE, AnyValue::String(message)));
        }
    }

    #[inline(always)]
    fn push(&mut self, field: &Field, value: impl FnOnce() -> AnyValue) {
        push_attribute(&mut self.attributes, field, value);
    }

    /// A text field named `message` is the event's name; one named `error`
    /// is also its exception (`#[instrument(err)]` records `error = %e`),
    /// and stays an attribute, as `opentelemetry-appender-tracing` and
    /// (beside a message) `tracing-opentelemetry` keep it.
    #[inline(always)]
    fn text(&mut self, field: &Field, text: impl FnOnce() -> Str) {
        match field.name() {
            // The old value is dropped first, so that the new one is built
            // in the field: built aside and moved, its 16-byte loads read
            // the 8-byte stores that had just built it (a forwarding stall,
            // a third of `record_debug`'s samples).
            "message" => {
                self.message = None;
                self.message = Some(text());
            }
            "error" if self.exception.is_none() => {
                let text = text();
                self.exception = Some(text.clone());
                self.push(field, || AnyValue::String(text));
            }
            _ => self.push(field, || AnyValue::String(text())),
        }
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, || AnyValue::Double(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, || AnyValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, || int_value(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, || int_value(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, || int_value(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, || AnyValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, || Str::copy_from(value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.push(field, || AnyValue::Bytes(value.into()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let message = error_text(value);
        if self.exception.is_none() {
            self.exception = Some(message.clone());
        }
        self.push(field, || AnyValue::String(message));
        push_error_chain(&mut self.attributes, field, value, false);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        with_debug_text(value, |text| self.text(field, || Str::copy_from(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_pushed_in_place_survive_growth_and_drop() {
        let callsite = tracing::callsite! {
            name: "in_place",
            kind: tracing::metadata::Kind::SPAN,
            fields: n, text
        };
        let fields = tracing_core::Callsite::metadata(callsite).fields();
        let (Some(n), Some(text)) = (fields.field("n"), fields.field("text")) else {
            panic!("the callsite declares both fields");
        };
        // From an empty vector (no capacity) through several reallocations,
        // with values that own memory (text too long to be inline is shared).
        let long = "long text that does not fit inline".repeat(2);
        let mut attributes = Vec::new();
        for i in 0..100i64 {
            push_attribute(&mut attributes, &n, || AnyValue::Int(i));
            push_attribute(&mut attributes, &text, || {
                AnyValue::String(Str::from(long.clone()))
            });
        }
        assert_eq!(attributes.len(), 200);
        for (i, pair) in attributes.chunks(2).enumerate() {
            assert_eq!(pair[0], KeyValue::new("n", i as i64));
            assert_eq!(pair[1], KeyValue::new("text", long.clone()));
        }
    }

    #[test]
    fn integers_that_do_not_fit_become_text() {
        assert_eq!(int_value(7u64), AnyValue::Int(7));
        assert_eq!(int_value(i64::MAX as u64), AnyValue::Int(i64::MAX));
        assert_eq!(
            int_value(u64::MAX),
            AnyValue::String(Str::from("18446744073709551615"))
        );
        assert_eq!(int_value(-5i128), AnyValue::Int(-5));
    }

    #[test]
    fn debug_text_is_formatted_into_the_threads_buffer_even_when_nested() {
        /// A `Debug` impl that formats another value the same way while
        /// the outer one is being formatted (as one that logs would).
        struct Nested;
        impl fmt::Debug for Nested {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let inner = with_debug_text(&"inner", str::to_owned);
                write!(f, "outer({inner})")
            }
        }
        assert_eq!(with_debug_text(&Nested, str::to_owned), "outer(\"inner\")");
        assert_eq!(with_debug_text(&7, str::to_owned), "7");
        let long = "x".repeat(MAX_KEPT_DEBUG_TEXT + 1);
        assert_eq!(with_debug_text(&long, str::len), long.len() + 2);
        assert_eq!(
            with_debug_text(&format_args!("a{}", 1), str::to_owned),
            "a1"
        );
    }

    #[test]
    fn reserved_values_parse_without_regard_to_case() {
        assert_eq!(parse_kind("Server"), Some(SpanKind::Server));
        assert_eq!(parse_kind("CONSUMER"), Some(SpanKind::Consumer));
        assert_eq!(parse_kind("sideways"), None);
        assert_eq!(parse_status_code("OK"), StatusCode::Ok);
        assert_eq!(parse_status_code("Error"), StatusCode::Error);
        assert_eq!(parse_status_code("whatever"), StatusCode::Unset);
    }
}
