//! [`SpanLimits`] and [`LogRecordLimits`]: caps on what one span or one log
//! record may carry.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use otlp_core::{AnyValue, KeyValue, LogRecord, Str};

use crate::diagnostics;
use crate::unique_keys::keep_last_value_per_key;

/// Says, once per process, that a span limit discarded something (the
/// specification: the SDK SHOULD log a message when attributes are
/// discarded). Each span still counts what it lost in its `dropped_*_count`
/// fields, sent with it. Cold: only what goes over a limit comes here.
#[cold]
#[inline(never)]
pub(crate) fn span_limit_reached() {
    diagnostics::warn_once(&SPAN_LIMIT_WARNED, "traces", || {
        "a span went over its limits (attributes, events, links, or the attributes of an event \
         or link): what did not fit was discarded and counted in its dropped_*_count fields; \
         the limits are OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT, \
         OTEL_SPAN_LINK_COUNT_LIMIT, OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT and \
         OTEL_LINK_ATTRIBUTE_COUNT_LIMIT (said once)"
            .to_owned()
    });
}

/// Says, once per process, that a log record's attribute limit discarded
/// attributes; see [`span_limit_reached`].
#[cold]
#[inline(never)]
fn log_record_limit_reached() {
    diagnostics::warn_once(&LOG_RECORD_LIMIT_WARNED, "logs", || {
        "a log record went over its attribute limit: the attributes past it were discarded and \
         counted in its dropped_attributes_count; the limit is \
         OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT (said once)"
            .to_owned()
    });
}

static SPAN_LIMIT_WARNED: AtomicBool = AtomicBool::new(false);
static LOG_RECORD_LIMIT_WARNED: AtomicBool = AtomicBool::new(false);

/// Caps on attributes, events and links per span, and on the length of
/// attribute values. What goes over a count cap is discarded and counted in
/// the span's `dropped_*_count` fields, which reach the backend; a value over
/// the length cap is truncated. Defaults follow the specification (128 each,
/// no length cap). From a loaded configuration (`OTEL_SPAN_*_LIMIT`, section
/// `limits`): [`LimitsConfig::span_limits`](crate::config::LimitsConfig::span_limits).
///
/// ```
/// use otlp_sdk::SpanLimits;
///
/// let limits = SpanLimits { max_attributes: 16, ..SpanLimits::default() };
/// assert_eq!(limits.max_events, 128);
/// assert_eq!(limits.max_attribute_value_length, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span.
    pub max_attributes: usize,
    /// Events per span.
    pub max_events: usize,
    /// Links per span.
    pub max_links: usize,
    /// Attributes per event.
    pub max_attributes_per_event: usize,
    /// Attributes per link.
    pub max_attributes_per_link: usize,
    /// Longest attribute value (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`), applied to the attributes of
    /// spans, events and links; `None` (the default) is no limit.
    ///
    /// As the specification's attribute limits say: a string longer than this
    /// many characters (Unicode scalar values, never splitting one) is cut to
    /// its first `n` characters; a byte array to its first `n` bytes; arrays
    /// and key-value lists have each of their values limited the same way.
    /// Other values are never changed. Truncating copies the text; values
    /// within the limit are kept as they are, without copying.
    pub max_attribute_value_length: Option<usize>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: None,
        }
    }
}

/// Caps on the attributes of one log record, as the specification's
/// `LogRecordLimits`: what goes over the count cap is discarded and counted
/// in the record's `dropped_attributes_count`, which reaches the backend; a
/// value over the length cap is truncated, exactly as
/// [`SpanLimits::max_attribute_value_length`] says. The body is never
/// changed. Defaults follow the specification (128 attributes, no length cap).
///
/// Cost: [`Logger::emit`](crate::Logger::emit) compares the attribute count
/// with the cap; only a record over it, or a length cap, costs more (a
/// truncation copies the text it cuts, nothing else).
///
/// ```
/// use otlp_sdk::LogRecordLimits;
///
/// let limits = LogRecordLimits { max_attribute_value_length: Some(256), ..LogRecordLimits::default() };
/// assert_eq!(limits.max_attributes, 128);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecordLimits {
    /// Attributes per log record (`OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`; default 128).
    pub max_attributes: usize,
    /// Longest attribute value (`OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
    /// else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`); `None` (the default) is no
    /// limit. Strings are cut to this many characters, byte arrays to this many
    /// bytes, arrays and key-value lists value by value.
    pub max_attribute_value_length: Option<usize>,
}

impl Default for LogRecordLimits {
    fn default() -> Self {
        LogRecordLimits {
            max_attributes: 128,
            max_attribute_value_length: None,
        }
    }
}

impl LogRecordLimits {
    /// Applies the limits to `record`: a repeated key keeps its last value
    /// (in its first place), attributes past
    /// [`max_attributes`](Self::max_attributes) are discarded (the first ones
    /// are kept) and added to its `dropped_attributes_count`, and values are
    /// truncated. Allocates only to truncate.
    pub(crate) fn apply(&self, record: &mut LogRecord) {
        keep_last_value_per_key(&mut record.attributes);
        let excess = record.attributes.len().saturating_sub(self.max_attributes);
        if excess > 0 {
            record.attributes.truncate(self.max_attributes);
            let excess = u32::try_from(excess).unwrap_or(u32::MAX);
            record.dropped_attributes_count =
                record.dropped_attributes_count.saturating_add(excess);
            log_record_limit_reached();
        }
        if let Some(max) = self.max_attribute_value_length {
            truncate_values(&mut record.attributes, max);
        }
    }
}

/// Truncates every value in `attributes` to `max` (see
/// [`SpanLimits::max_attribute_value_length`]).
pub(crate) fn truncate_values(attributes: &mut [KeyValue], max: usize) {
    for attribute in attributes {
        truncate_value(&mut attribute.value, max);
    }
}

/// Truncates `value` in place to `max` characters (strings) or bytes (byte
/// arrays), recursing into arrays and key-value lists. Allocates only when
/// something is over the limit.
pub(crate) fn truncate_value(value: &mut AnyValue, max: usize) {
    match value {
        AnyValue::String(text) => {
            // At most `max` bytes is at most `max` characters: no scan needed.
            if text.len() > max
                && let Some((end, _)) = text.char_indices().nth(max)
            {
                *text = Str::copy_from(&text[..end]);
            }
        }
        AnyValue::Bytes(bytes) if bytes.len() > max => *bytes = Arc::from(&bytes[..max]),
        AnyValue::Array(values) if values.iter().any(|value| exceeds(value, max)) => {
            let mut copy = values.to_vec();
            for value in &mut copy {
                truncate_value(value, max);
            }
            *values = copy.into();
        }
        AnyValue::KvList(entries) if entries.iter().any(|entry| exceeds(&entry.value, max)) => {
            let mut copy = entries.to_vec();
            truncate_values(&mut copy, max);
            *entries = copy.into();
        }
        _ => {}
    }
}

/// Whether [`truncate_value`] would change `value`.
fn exceeds(value: &AnyValue, max: usize) -> bool {
    match value {
        AnyValue::String(text) => text.len() > max && text.chars().nth(max).is_some(),
        AnyValue::Bytes(bytes) => bytes.len() > max,
        AnyValue::Array(values) => values.iter().any(|value| exceeds(value, max)),
        AnyValue::KvList(entries) => entries.iter().any(|entry| exceeds(&entry.value, max)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_record_limits_keep_the_first_attributes_and_count_the_rest() {
        let mut record = LogRecord::builder()
            .body("a body longer than the cap is kept")
            .attribute(KeyValue::new("a", "first value"))
            .attribute(KeyValue::new("b", 2))
            .attribute(KeyValue::new("c", "third"))
            .build();
        record.dropped_attributes_count = 1; // dropped earlier, by a front door
        let limits = LogRecordLimits {
            max_attributes: 2,
            max_attribute_value_length: Some(5),
        };
        limits.apply(&mut record);
        assert_eq!(
            record.attributes,
            [KeyValue::new("a", "first"), KeyValue::new("b", 2)]
        );
        assert_eq!(record.dropped_attributes_count, 2);
        assert_eq!(
            record.body,
            Some(string("a body longer than the cap is kept"))
        );
    }

    #[test]
    fn a_repeated_log_record_key_keeps_its_last_value_and_takes_no_place_under_the_cap() {
        let mut record = LogRecord::builder()
            .attribute(KeyValue::new("a", 1))
            .attribute(KeyValue::new("b", 2))
            .attribute(KeyValue::new("a", 3))
            .build();
        let limits = LogRecordLimits {
            max_attributes: 2,
            max_attribute_value_length: None,
        };
        limits.apply(&mut record);
        assert_eq!(
            record.attributes,
            [KeyValue::new("a", 3), KeyValue::new("b", 2)]
        );
        assert_eq!(record.dropped_attributes_count, 0);
    }

    #[test]
    fn default_log_record_limits_change_nothing_under_128_attributes() {
        let attributes: Vec<KeyValue> = (0..128)
            .map(|i| KeyValue::new(format!("k{i}"), "x".repeat(1000)))
            .collect();
        let mut record = LogRecord::builder().build();
        record.attributes = attributes.clone();
        LogRecordLimits::default().apply(&mut record);
        assert_eq!(record.attributes, attributes);
        assert_eq!(record.dropped_attributes_count, 0);
    }

    fn string(text: &str) -> AnyValue {
        AnyValue::String(Str::copy_from(text))
    }

    fn cut(value: AnyValue, max: usize) -> AnyValue {
        let mut value = value;
        truncate_value(&mut value, max);
        value
    }

    #[test]
    fn strings_are_cut_to_characters_never_inside_one() {
        assert_eq!(cut(string("abcdef"), 3), string("abc"));
        assert_eq!(cut(string("abc"), 3), string("abc"));
        assert_eq!(cut(string("abc"), 0), string(""));
        // 'é' is two bytes, '😀' four: the limit counts characters.
        assert_eq!(cut(string("héllo"), 2), string("hé"));
        assert_eq!(cut(string("😀😀😀"), 2), string("😀😀"));
        assert_eq!(cut(string("😀😀"), 2), string("😀😀"));
        assert_eq!(cut(string("ééé"), 5), string("ééé"));
    }

    #[test]
    fn bytes_are_cut_to_bytes() {
        let bytes = AnyValue::Bytes(Arc::from(&[1u8, 2, 3, 4][..]));
        assert_eq!(
            cut(bytes.clone(), 2),
            AnyValue::Bytes(Arc::from(&[1u8, 2][..]))
        );
        assert_eq!(cut(bytes.clone(), 4), bytes);
    }

    #[test]
    fn arrays_and_lists_have_each_value_cut() {
        let array = AnyValue::from(vec![
            string("short"),
            string("much longer"),
            AnyValue::Int(1234567),
            AnyValue::from(vec![string("nested value")]),
        ]);
        let expected = AnyValue::from(vec![
            string("short"),
            string("much "),
            AnyValue::Int(1234567),
            AnyValue::from(vec![string("neste")]),
        ]);
        assert_eq!(cut(array, 5), expected);
        let list = AnyValue::from(vec![
            KeyValue::new("a key longer than five", "value"),
            KeyValue::new("b", "another value"),
        ]);
        let expected = AnyValue::from(vec![
            KeyValue::new("a key longer than five", "value"),
            KeyValue::new("b", "anoth"),
        ]);
        assert_eq!(cut(list, 5), expected, "keys are not values");
    }

    #[test]
    fn other_values_are_never_changed() {
        for value in [
            AnyValue::Bool(true),
            AnyValue::Int(i64::MAX),
            AnyValue::Double(1.0e300),
        ] {
            assert_eq!(cut(value.clone(), 0), value);
        }
    }

    proptest::proptest! {
        #[test]
        fn truncation_keeps_a_prefix_of_at_most_max_characters(text in ".{0,40}", max in 0usize..48) {
            let AnyValue::String(cut) = cut(string(&text), max) else {
                unreachable!()
            };
            proptest::prop_assert!(text.starts_with(&*cut));
            proptest::prop_assert_eq!(cut.chars().count(), text.chars().count().min(max));
        }
    }

    #[test]
    fn values_within_the_limit_are_not_copied() {
        let shared = AnyValue::from(vec![string("a"), string("b")]);
        let AnyValue::Array(before) = &shared else {
            unreachable!()
        };
        let before = Arc::clone(before);
        let after = cut(shared, 1);
        let AnyValue::Array(after) = &after else {
            unreachable!()
        };
        assert!(Arc::ptr_eq(&before, after));
    }
}
