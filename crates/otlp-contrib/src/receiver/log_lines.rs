//! Log records of a request as one readable line each: what `otlp-receiver`
//! prints for logs, and handy in a failing test.

use std::fmt::Write;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs};
use prost::Message;

use super::render_limits::{RenderBudget, clip, printable};
use super::tree::{hex, service_name};
use crate::civil_date::civil_from_days;

/// Renders the log records of one request, one line each, in order:
///
/// ```text
///   checkout 2018-12-13T14:51:00.000000001Z INFO "user signed in" user.id=42 trace=4bf9… span=00f0…
///   checkout - ERROR(17) {"code": 7} event=payment.failed
/// ```
///
/// Each line is the resource's `service.name` (`?` when missing), the time
/// (`time_unix_nano`, else `observed_time_unix_nano`, as RFC 3339 UTC; `-`
/// when both are 0), the severity (its text, else the name of its number,
/// with the number in parentheses when both are known and differ from the
/// name), the body (strings quoted, maps and arrays in braces and brackets),
/// `event=NAME` for events, the attributes as `key=value`, and `trace=` /
/// `span=` when the record carries a trace context.
///
/// The text stays proportional to the request: service names are cut after
/// 256 characters (`…`), and past 8 times the request's encoded size (at
/// least 16 KiB) the remaining records are left out, with a last line that
/// says so.
pub fn render_logs(request: &ExportLogsServiceRequest) -> String {
    let records = |resource: &ResourceLogs| {
        resource
            .scope_logs
            .iter()
            .map(|scope| scope.log_records.len() as u64)
            .sum::<u64>()
    };
    let total = request.resource_logs.iter().map(records).sum();
    let mut budget = RenderBudget::new(request.encoded_len(), total);
    let mut out = String::new();
    'resources: for resource in &request.resource_logs {
        let service = clip(service_name(resource.resource.as_ref()));
        for record in resource
            .scope_logs
            .iter()
            .flat_map(|scope| &scope.log_records)
        {
            if !budget.admits(&out) {
                break 'resources;
            }
            render_record(&mut out, &service, record);
            budget.count(1);
        }
    }
    budget.finish(&mut out, "log records");
    out
}

fn render_record(out: &mut String, service: &str, record: &LogRecord) {
    let time = match (record.time_unix_nano, record.observed_time_unix_nano) {
        (0, 0) => "-".to_owned(),
        (0, observed) => rfc3339(observed),
        (time, _) => rfc3339(time),
    };
    let _ = write!(out, "  {service} {time} {}", severity(record));
    if let Some(body) = &record.body {
        out.push(' ');
        any_value(out, body);
    }
    if !record.event_name.is_empty() {
        let _ = write!(out, " event={}", printable(&record.event_name));
    }
    for attribute in &record.attributes {
        out.push(' ');
        key_value(out, attribute);
    }
    if !record.trace_id.is_empty() {
        let _ = write!(out, " trace={}", hex(&record.trace_id));
    }
    if !record.span_id.is_empty() {
        let _ = write!(out, " span={}", hex(&record.span_id));
    }
    out.push('\n');
}

/// `INFO`, `WARN3`, `warning(13)` (text that is not the number's name),
/// `-` when neither is set.
fn severity(record: &LogRecord) -> String {
    let number = record.severity_number;
    let name = severity_name(number);
    match (printable(&record.severity_text).as_ref(), name) {
        ("", Some(name)) => name,
        ("", None) if number == 0 => "-".to_owned(),
        ("", None) => format!("({number})"),
        (text, Some(name)) if text == name => name,
        (text, _) if number == 0 => text.to_owned(),
        (text, _) => format!("{text}({number})"),
    }
}

/// The short name of a `SeverityNumber` 1..=24: `TRACE`, `TRACE2`..`FATAL4`.
fn severity_name(number: i32) -> Option<String> {
    const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    if !(1..=24).contains(&number) {
        return None;
    }
    let (level, step) = ((number - 1) / 4, (number - 1) % 4);
    let name = NAMES[level as usize];
    Some(if step == 0 {
        name.to_owned()
    } else {
        format!("{name}{}", step + 1)
    })
}

pub(crate) fn key_value(out: &mut String, attribute: &KeyValue) {
    out.push_str(&printable(&attribute.key));
    out.push('=');
    match &attribute.value {
        Some(value) => any_value(out, value),
        None => out.push_str("null"),
    }
}

/// An `AnyValue` on one line: strings quoted and escaped, bytes as hex.
pub(crate) fn any_value(out: &mut String, value: &AnyValue) {
    match &value.value {
        None => out.push_str("null"),
        Some(Value::StringValue(text)) => {
            let _ = write!(out, "{text:?}");
        }
        Some(Value::BoolValue(flag)) => {
            let _ = write!(out, "{flag}");
        }
        Some(Value::IntValue(number)) => {
            let _ = write!(out, "{number}");
        }
        Some(Value::DoubleValue(number)) => {
            let _ = write!(out, "{number}");
        }
        Some(Value::BytesValue(bytes)) => {
            let _ = write!(out, "0x{}", hex(bytes));
        }
        // An index into a profiles string table; logs have none to resolve it.
        Some(Value::StringValueStrindex(index)) => {
            let _ = write!(out, "strindex({index})");
        }
        Some(Value::ArrayValue(array)) => {
            out.push('[');
            for (index, item) in array.values.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                any_value(out, item);
            }
            out.push(']');
        }
        Some(Value::KvlistValue(list)) => {
            out.push('{');
            for (index, entry) in list.values.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{:?}: ", entry.key);
                match &entry.value {
                    Some(value) => any_value(out, value),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

/// Nanoseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC).
fn rfc3339(unix_nanos: u64) -> String {
    let seconds = unix_nanos / 1_000_000_000;
    let nanos = unix_nanos % 1_000_000_000;
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::KeyValueList;
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    use super::*;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue("shop".into()))],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn each_record_is_one_line_with_time_severity_body_attributes_and_ids() {
        let full = LogRecord {
            time_unix_nano: 1_544_712_660_000_000_001,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(Value::StringValue("user signed in\nagain".into())),
            }),
            attributes: vec![
                kv("user.id", Value::IntValue(42)),
                kv("ok", Value::BoolValue(true)),
            ],
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            ..Default::default()
        };
        let event = LogRecord {
            observed_time_unix_nano: 86_400 * 1_000_000_000,
            severity_number: 19,
            severity_text: "oops".into(),
            body: Some(AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![kv("code", Value::IntValue(7))],
                })),
            }),
            event_name: "payment.failed".into(),
            ..Default::default()
        };
        let text = render_logs(&request(vec![full, LogRecord::default(), event]));
        let expected = format!(
            "  shop 2018-12-13T14:51:00.000000001Z INFO \"user signed in\\nagain\" user.id=42 ok=true trace={} span={}\n  shop - -\n  shop 1970-01-02T00:00:00.000000000Z oops(19) {{\"code\": 7}} event=payment.failed\n",
            "ab".repeat(16),
            "cd".repeat(8)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn empty_records_under_a_long_service_name_render_in_bounded_text() {
        let service = "s".repeat(1024);
        let mut request = request(vec![LogRecord::default(); 10_000]);
        if let Some(resource) = request.resource_logs[0].resource.as_mut() {
            resource.attributes = vec![kv("service.name", Value::StringValue(service))];
        }
        let text = render_logs(&request);
        let size = request.encoded_len();
        assert!(
            text.len() < 16 * size,
            "{} bytes of text for {size} bytes of request",
            text.len()
        );
        let clipped = format!("{}…", "s".repeat(256));
        assert_eq!(
            text.lines().next(),
            Some(format!("  {clipped} - -").as_str())
        );
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.contains("output truncated") && last.contains("of 10000 log records printed"),
            "{last}"
        );
    }

    #[test]
    fn control_characters_from_the_request_are_printed_escaped() {
        let hostile = "\u{1b}[2J\r\u{7}\u{9b}31m\nfinal requests=0";
        let record = LogRecord {
            severity_text: hostile.into(),
            body: Some(AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![kv(hostile, Value::StringValue(hostile.into()))],
                })),
            }),
            event_name: hostile.into(),
            attributes: vec![kv(hostile, Value::StringValue(hostile.into()))],
            ..Default::default()
        };
        let mut request = request(vec![record]);
        if let Some(resource) = request.resource_logs[0].resource.as_mut() {
            resource.attributes = vec![kv("service.name", Value::StringValue(hostile.into()))];
        }
        let text = render_logs(&request);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(text.ends_with('\n'), "{text:?}");
        let escaped = "\\u{1b}[2J\\r\\u{7}\\u{9b}31m\\nfinal requests=0";
        assert!(
            text.starts_with(&format!("  {escaped} - {escaped} ")),
            "{text:?}"
        );
        assert!(text.contains(&format!(" event={escaped} ")), "{text:?}");
    }

    #[test]
    fn bidi_overrides_and_line_separators_from_the_request_are_printed_escaped() {
        // Shown raw, the override would reverse the rest of the line in a
        // terminal that honours it, and the separator would break it in
        // an editor: the record could pass for another.
        let hostile = "ok\u{202e}\u{2028}  checkout - ERROR \"disk full\"";
        let record = LogRecord {
            body: Some(AnyValue {
                value: Some(Value::StringValue(hostile.into())),
            }),
            attributes: vec![kv(hostile, Value::StringValue(hostile.into()))],
            event_name: hostile.into(),
            ..Default::default()
        };
        let text = render_logs(&request(vec![record]));
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{2028}'),
            "{text:?}"
        );
        assert!(
            text.contains("ok\\u{202e}\\u{2028}  checkout - ERROR"),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 1, "{text:?}");
    }

    #[test]
    fn severity_numbers_have_their_short_names() {
        let name = |number| severity_name(number).unwrap_or_default();
        assert_eq!(name(1), "TRACE");
        assert_eq!(name(5), "DEBUG");
        assert_eq!(name(12), "INFO4");
        assert_eq!(name(13), "WARN");
        assert_eq!(name(17), "ERROR");
        assert_eq!(name(24), "FATAL4");
        assert_eq!(severity_name(0), None);
        assert_eq!(severity_name(25), None);
    }

    #[test]
    fn dates_are_proleptic_gregorian_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        // 2000-02-29 (a leap day), 2100-03-01 (2100 is not a leap year).
        assert_eq!(
            rfc3339(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            rfc3339(4_107_542_400 * 1_000_000_000 + 5),
            "2100-03-01T00:00:00.000000005Z"
        );
    }
}
