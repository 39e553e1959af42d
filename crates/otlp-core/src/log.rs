//! [`LogRecord`]: a log record with every field of OTLP's `LogRecord` message,
//! and its [`Severity`].

use std::fmt;
use std::sync::Arc;

use crate::{
    AnyValue, InstrumentationScope, KeyValue, Resource, SpanContext, SpanId, Str, TraceFlags,
    TraceId,
};

/// How severe a log record is: OTLP's `SeverityNumber`, 1 to 24, or 0 when
/// unspecified.
///
/// Six ranges of four: `TRACE` 1-4, `DEBUG` 5-8, `INFO` 9-12, `WARN` 13-16,
/// `ERROR` 17-20, `FATAL` 21-24; within a range a higher number is more
/// severe (`INFO2` is a finer level above `INFO`). Severities compare by their
/// number, so `severity >= Severity::WARN` keeps warnings and worse.
///
/// Invariant: the number is at most 24. A `Copy` byte; nothing allocates.
///
/// ```
/// use otlp_core::Severity;
///
/// assert_eq!(Severity::WARN.number(), 13);
/// assert_eq!(Severity::new(14), Some(Severity::WARN2));
/// assert_eq!(Severity::new(25), None);
/// assert!(Severity::ERROR > Severity::WARN4);
/// assert_eq!(Severity::INFO3.name(), "INFO3");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Severity(u8);

impl Severity {
    /// Not specified (0), the default; receivers may fall back on the severity text.
    pub const UNSPECIFIED: Severity = Severity(0);
    /// Fine-grained debugging, typically disabled by default (1).
    pub const TRACE: Severity = Severity(1);
    /// `TRACE` level 2.
    pub const TRACE2: Severity = Severity(2);
    /// `TRACE` level 3.
    pub const TRACE3: Severity = Severity(3);
    /// `TRACE` level 4.
    pub const TRACE4: Severity = Severity(4);
    /// Debugging information (5).
    pub const DEBUG: Severity = Severity(5);
    /// `DEBUG` level 2.
    pub const DEBUG2: Severity = Severity(6);
    /// `DEBUG` level 3.
    pub const DEBUG3: Severity = Severity(7);
    /// `DEBUG` level 4.
    pub const DEBUG4: Severity = Severity(8);
    /// Informational: something happened as it should (9).
    pub const INFO: Severity = Severity(9);
    /// `INFO` level 2.
    pub const INFO2: Severity = Severity(10);
    /// `INFO` level 3.
    pub const INFO3: Severity = Severity(11);
    /// `INFO` level 4.
    pub const INFO4: Severity = Severity(12);
    /// A warning: not an error, but worth attention (13).
    pub const WARN: Severity = Severity(13);
    /// `WARN` level 2.
    pub const WARN2: Severity = Severity(14);
    /// `WARN` level 3.
    pub const WARN3: Severity = Severity(15);
    /// `WARN` level 4.
    pub const WARN4: Severity = Severity(16);
    /// An error: something failed (17).
    pub const ERROR: Severity = Severity(17);
    /// `ERROR` level 2.
    pub const ERROR2: Severity = Severity(18);
    /// `ERROR` level 3.
    pub const ERROR3: Severity = Severity(19);
    /// `ERROR` level 4.
    pub const ERROR4: Severity = Severity(20);
    /// A fatal error: the program or a component cannot continue (21).
    pub const FATAL: Severity = Severity(21);
    /// `FATAL` level 2.
    pub const FATAL2: Severity = Severity(22);
    /// `FATAL` level 3.
    pub const FATAL3: Severity = Severity(23);
    /// `FATAL` level 4.
    pub const FATAL4: Severity = Severity(24);

    /// The highest severity number OTLP defines.
    const MAX: u8 = 24;

    /// The severity with this OTLP number (0 to 24), `None` beyond 24.
    pub const fn new(number: u8) -> Option<Severity> {
        if number <= Self::MAX {
            Some(Severity(number))
        } else {
            None
        }
    }

    /// The severity for an OTLP enum value as read off the wire; values
    /// outside 0..=24 map to [`UNSPECIFIED`](Self::UNSPECIFIED).
    pub const fn from_wire_value(value: i32) -> Severity {
        if value >= 0 && value <= Self::MAX as i32 {
            Severity(value as u8)
        } else {
            Severity::UNSPECIFIED
        }
    }

    /// The OTLP `SeverityNumber` value, 0 to 24.
    pub const fn number(self) -> u8 {
        self.0
    }

    /// The short name the OpenTelemetry log data model gives this number
    /// (`"TRACE"`, `"DEBUG2"`, `"ERROR"`, ...), usable as a default severity
    /// text; `"UNSPECIFIED"` for 0.
    pub const fn name(self) -> &'static str {
        const NAMES: [&str; 25] = [
            "UNSPECIFIED",
            "TRACE",
            "TRACE2",
            "TRACE3",
            "TRACE4",
            "DEBUG",
            "DEBUG2",
            "DEBUG3",
            "DEBUG4",
            "INFO",
            "INFO2",
            "INFO3",
            "INFO4",
            "WARN",
            "WARN2",
            "WARN3",
            "WARN4",
            "ERROR",
            "ERROR2",
            "ERROR3",
            "ERROR4",
            "FATAL",
            "FATAL2",
            "FATAL3",
            "FATAL4",
        ];
        NAMES[self.0 as usize]
    }
}

impl fmt::Debug for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Severity::{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A log record, carrying every field of OTLP's `LogRecord` message plus the
/// shared resource and scope it belongs to.
///
/// Absent values: a zero time, [`Severity::UNSPECIFIED`], an empty severity
/// text or event name, no body, no ids and zero flags are not written on the
/// wire (proto3 defaults). An id that is `Some` is written whatever its value,
/// the all-zero id included.
///
/// Cost model: as [`SpanData`](crate::SpanData). Ids are `Copy`; texts are
/// [`Str`]; the body is an [`AnyValue`], whose arrays, lists and bytes sit
/// behind an `Arc`; resource and scope are `Arc`s. Cloning copies the
/// attribute vector of handles and bumps reference counts; it never copies
/// shared text or bytes (only inline text of up to
/// [`Str::INLINE_CAPACITY`] bytes, with its `Str`). Moving a `LogRecord` is a memcpy and allocates nothing.
///
/// ```
/// use otlp_core::{AnyValue, KeyValue, LogRecord, Severity, SpanContext};
///
/// let parent = SpanContext::from_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// )?;
/// let record = LogRecord::builder()
///     .time_unix_nano(1_700_000_000_000_000_000)
///     .severity(Severity::WARN)
///     .severity_text("WARN")
///     .body("disk almost full")
///     .attribute(KeyValue::new("disk.free_bytes", 1_048_576))
///     .span_context(&parent)
///     .build();
/// assert_eq!(record.body, Some(AnyValue::from("disk almost full")));
/// assert_eq!(record.trace_id, Some(parent.trace_id));
/// assert!(record.trace_flags().is_sampled());
/// # Ok::<(), otlp_core::TraceParentError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When the event occurred, in nanoseconds since the Unix epoch (0 if unknown).
    pub time_unix_nano: u64,
    /// When the record was observed by the collection system, in nanoseconds
    /// since the Unix epoch (0 if not set).
    pub observed_time_unix_nano: u64,
    /// Severity number.
    pub severity_number: Severity,
    /// Severity as the source names it (`"WARN"`, `"warning"`...); empty = absent.
    pub severity_text: Str,
    /// The body: a message string, or any structured value; `None` = absent.
    pub body: Option<AnyValue>,
    /// Record attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes discarded by limits.
    pub dropped_attributes_count: u32,
    /// OTLP `LogRecordFlags`: bits 0-7 are the W3C trace flags; the other
    /// bits are reserved, must be 0 on the wire, and are not encoded
    /// ([`wire_flags`](Self::wire_flags)).
    pub flags: u32,
    /// The trace of the span that was active, if any; `None` is not written.
    pub trace_id: Option<TraceId>,
    /// The span that was active, if any; `None` is not written.
    pub span_id: Option<SpanId>,
    /// The name of the event this record describes (empty = not an event).
    pub event_name: Str,
    /// What produced the record (shared).
    pub resource: Arc<Resource>,
    /// Which instrumentation produced the record (shared).
    pub scope: Arc<InstrumentationScope>,
}

/// The bits of `LogRecord.flags` OTLP defines: the W3C trace flags. The 24
/// above them are reserved and must be 0.
const TRACE_FLAGS_MASK: u32 = 0xff;

impl LogRecord {
    /// [`flags`](Self::flags) as OTLP writes them: the reserved bits cleared.
    #[inline]
    pub fn wire_flags(&self) -> u32 {
        self.flags & TRACE_FLAGS_MASK
    }

    /// Starts building a log record; every field has its default (zero times,
    /// unspecified severity, no body, no ids, the empty resource and scope).
    pub fn builder() -> LogRecordBuilder {
        LogRecordBuilder {
            record: LogRecord {
                time_unix_nano: 0,
                observed_time_unix_nano: 0,
                severity_number: Severity::UNSPECIFIED,
                severity_text: Str::default(),
                body: None,
                attributes: Vec::new(),
                dropped_attributes_count: 0,
                flags: 0,
                trace_id: None,
                span_id: None,
                event_name: Str::default(),
                resource: Resource::empty(),
                scope: InstrumentationScope::empty(),
            },
        }
    }

    /// The W3C trace flags: the low byte of [`flags`](Self::flags).
    pub const fn trace_flags(&self) -> TraceFlags {
        TraceFlags::new((self.flags & 0xff) as u8)
    }
}

/// Builder for [`LogRecord`]; see [`LogRecord::builder`].
#[derive(Clone, Debug)]
pub struct LogRecordBuilder {
    record: LogRecord,
}

impl LogRecordBuilder {
    /// Sets when the event occurred, in nanoseconds since the Unix epoch.
    pub fn time_unix_nano(mut self, time_unix_nano: u64) -> Self {
        self.record.time_unix_nano = time_unix_nano;
        self
    }

    /// Sets when the record was observed, in nanoseconds since the Unix epoch.
    pub fn observed_time_unix_nano(mut self, observed_time_unix_nano: u64) -> Self {
        self.record.observed_time_unix_nano = observed_time_unix_nano;
        self
    }

    /// Sets the severity number.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.record.severity_number = severity;
        self
    }

    /// Sets the severity text.
    pub fn severity_text(mut self, text: impl Into<Str>) -> Self {
        self.record.severity_text = text.into();
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<AnyValue>) -> Self {
        self.record.body = Some(body.into());
        self
    }

    /// Adds one attribute.
    pub fn attribute(mut self, attribute: KeyValue) -> Self {
        self.record.attributes.push(attribute);
        self
    }

    /// Adds attributes.
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.record.attributes.extend(attributes);
        self
    }

    /// Sets the count of attributes discarded by limits.
    pub fn dropped_attributes_count(mut self, count: u32) -> Self {
        self.record.dropped_attributes_count = count;
        self
    }

    /// Sets the flags: bits 0-7, the W3C trace flags (the reserved bits
    /// above them are cleared).
    pub fn flags(mut self, flags: u32) -> Self {
        self.record.flags = flags & TRACE_FLAGS_MASK;
        self
    }

    /// Sets the trace id.
    pub fn trace_id(mut self, trace_id: TraceId) -> Self {
        self.record.trace_id = Some(trace_id);
        self
    }

    /// Sets the span id.
    pub fn span_id(mut self, span_id: SpanId) -> Self {
        self.record.span_id = Some(span_id);
        self
    }

    /// Correlates the record with the span `context` describes: its trace id,
    /// span id and defined trace flags ([`TraceFlags::DEFINED`]: sampled,
    /// random; the bits W3C reserves, which a remote context may have sent,
    /// are not written, as "Vendors MUST set those to zero"). An invalid `context` (a zero trace or span
    /// id) is no span: the record is left as it was, without ids (OTLP's
    /// ids are optional; all-zero ones would name a span that is not one),
    /// as otlp-contrib's log front doors write a record outside any span.
    pub fn span_context(mut self, context: &SpanContext) -> Self {
        if !context.is_valid() {
            return self;
        }
        self.record.trace_id = Some(context.trace_id);
        self.record.span_id = Some(context.span_id);
        self.record.flags = u32::from(context.trace_flags.defined().bits());
        self
    }

    /// Sets the event name.
    pub fn event_name(mut self, name: impl Into<Str>) -> Self {
        self.record.event_name = name.into();
        self
    }

    /// Sets the shared resource.
    pub fn resource(mut self, resource: Arc<Resource>) -> Self {
        self.record.resource = resource;
        self
    }

    /// Sets the shared instrumentation scope.
    pub fn scope(mut self, scope: Arc<InstrumentationScope>) -> Self {
        self.record.scope = scope;
        self
    }

    /// The finished record.
    pub fn build(self) -> LogRecord {
        self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_are_otlp_s() {
        let levels = [
            (Severity::TRACE, 1),
            (Severity::DEBUG, 5),
            (Severity::INFO, 9),
            (Severity::WARN, 13),
            (Severity::ERROR, 17),
            (Severity::FATAL, 21),
            (Severity::FATAL4, 24),
        ];
        for (severity, number) in levels {
            assert_eq!(severity.number(), number);
            assert_eq!(Severity::new(number), Some(severity));
        }
        for number in 0..=24 {
            let severity = Severity::from_wire_value(i32::from(number));
            assert_eq!(severity.number(), number);
        }
        assert_eq!(Severity::from_wire_value(25), Severity::UNSPECIFIED);
        assert_eq!(Severity::from_wire_value(-1), Severity::UNSPECIFIED);
        assert_eq!(Severity::default(), Severity::UNSPECIFIED);
        assert_eq!(Severity::ERROR2.to_string(), "ERROR2");
    }

    #[test]
    fn span_context_sets_ids_and_the_low_byte_of_the_flags() {
        let context = SpanContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        let record = LogRecord::builder()
            .flags(0x1fe)
            .span_context(&context)
            .build();
        assert_eq!(record.flags, 0x01);
        assert_eq!(LogRecord::builder().flags(0x1fe).build().flags, 0xfe);
        assert_eq!(record.trace_id, Some(context.trace_id));
        assert_eq!(record.span_id, Some(context.span_id));
        assert!(record.trace_flags().is_sampled());
    }

    #[test]
    fn clone_shares_strings_body_resource_and_scope() {
        let long = "a dynamic message that is too long to store inline".to_owned();
        let record = LogRecord::builder()
            .body(AnyValue::from(vec![AnyValue::from(long)]))
            .build();
        let copy = record.clone();
        assert!(Arc::ptr_eq(&record.resource, &copy.resource));
        assert!(Arc::ptr_eq(&record.scope, &copy.scope));
        match (&record.body, &copy.body) {
            (Some(AnyValue::Array(a)), Some(AnyValue::Array(b))) => assert!(Arc::ptr_eq(a, b)),
            other => panic!("unexpected bodies {other:?}"),
        }
    }
}
