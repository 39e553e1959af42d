//! Reading and classifying what the server answered, per the OTLP/HTTP
//! specification: status classes, `Retry-After`, partial success and
//! `google.rpc.Status` error bodies. Everything here is a plain function over
//! bytes and headers, so it is tested without a network.

use std::time::{Duration, SystemTime};

use bytes::{Buf, BufMut};
use http_body::Body;
use http_body_util::BodyExt;
use otlp_core::encode::Encoding;
use otlp_core::response::{PartialSuccess, RpcStatus, decode_export_response};
use otlp_sdk::{ExportError, ExportOutcome};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

/// The largest response body read: 4 MiB, the specification's cap. A success
/// response over the cap is a non-retryable error.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The longest server message carried into an [`ExportError`], in bytes.
/// Longer messages are cut at a character boundary and end with `…`.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;

/// What an HTTP status means for the request that received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 2xx: delivered (possibly partially, see the body).
    Success,
    /// 429, 502, 503, 504: try again later.
    Retryable,
    /// Everything else, 400 first of all: never retried.
    Permanent,
}

/// Classifies a response status as the OTLP/HTTP specification says.
pub(crate) fn classify_status(status: StatusCode) -> StatusClass {
    match status.as_u16() {
        200..=299 => StatusClass::Success,
        429 | 502 | 503 | 504 => StatusClass::Retryable,
        _ => StatusClass::Permanent,
    }
}

/// Parses a `Retry-After` value: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, and the two obsolete date forms).
/// A date in the past means "now" (`Some(0)`); anything else unparseable
/// (negative, fractional, garbage) is no hint at all (`None`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Absurdly long digit strings saturate instead of failing.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The format a response body is in: from its `Content-Type`, else the
/// request's encoding (servers answer in the format they were sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    Protobuf,
    Json,
    /// Declared as something else (`text/plain`, `text/html` from a proxy...).
    Other,
}

pub(crate) fn body_format(headers: &HeaderMap, request: Encoding) -> BodyFormat {
    let Some(content_type) = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return format_of(request);
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() {
        format_of(request)
    } else if essence.contains("protobuf") {
        BodyFormat::Protobuf
    } else if essence == "application/json" || essence.ends_with("+json") {
        BodyFormat::Json
    } else {
        BodyFormat::Other
    }
}

fn format_of(encoding: Encoding) -> BodyFormat {
    match encoding {
        Encoding::Protobuf => BodyFormat::Protobuf,
        Encoding::Json => BodyFormat::Json,
    }
}

/// The throttle hint of a response: its `Retry-After` header, if it parses.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// Why a response body could not be read in full.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over [`MAX_RESPONSE_BYTES`] (by `Content-Length` or while reading).
    TooLarge,
    /// The connection failed or timed out mid-body: why.
    Read(String),
}

/// Reads a response body frame by frame, refusing to hold more than `cap` bytes.
pub(crate) async fn read_capped<B>(body: B, cap: usize) -> Result<Vec<u8>, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = body.size_hint().exact();
    if declared.is_some_and(|length| length > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    // Trust the declared length only as far as a small first allocation.
    let mut collected =
        Vec::with_capacity(declared.map_or(0, |length| length.min(64 * 1024) as usize));
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            let error: Box<dyn std::error::Error + Send + Sync> = error.into();
            BodyError::Read(crate::error::error_chain(&*error))
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.remaining() > cap {
                return Err(BodyError::TooLarge);
            }
            collected.put(data);
        }
    }
    Ok(collected)
}

/// [`read_capped`], given up at `deadline` (the attempt's): a body that has
/// not arrived by then is a [`BodyError::Read`], so that the status already
/// received still decides the outcome (a `400` is not retried, a `200`
/// delivered the records) instead of the attempt timing out as a whole.
pub(crate) async fn read_capped_until<B>(
    body: B,
    cap: usize,
    deadline: tokio::time::Instant,
) -> Result<Vec<u8>, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::time::timeout_at(deadline, read_capped(body, cap))
        .await
        .unwrap_or_else(|_| {
            Err(BodyError::Read(
                "the body did not arrive before the attempt's timeout".to_owned(),
            ))
        })
}

/// The outcome of a 2xx response with this body.
pub(crate) fn success_outcome(body: &[u8], format: BodyFormat, request: Encoding) -> ExportOutcome {
    if body.is_empty() {
        return ExportOutcome::Success;
    }
    let decoded = match format {
        BodyFormat::Protobuf | BodyFormat::Json => decode_partial_success(body, format),
        // Not declared as OTLP (a proxy's "OK"?): the status said delivered;
        // a partial success is still honoured if the body happens to be one.
        BodyFormat::Other => Ok(decode_partial_success(body, format_of(request)).unwrap_or(None)),
    };
    match decoded {
        Ok(None) => ExportOutcome::Success,
        Ok(Some(partial)) if partial.rejected_spans <= 0 && partial.error_message.is_empty() => {
            ExportOutcome::Success
        }
        Ok(Some(partial)) => ExportOutcome::PartialSuccess {
            rejected_spans: u64::try_from(partial.rejected_spans).unwrap_or(0),
            message: cap_message(&partial.error_message),
        },
        // The server accepted the records; only its answer is unreadable. Say
        // so as a warning (a partial success rejecting nothing), do not fail
        // records that were delivered.
        Err(reason) => ExportOutcome::PartialSuccess {
            rejected_spans: 0,
            message: cap_message(&format!(
                "records accepted, but the response body could not be decoded: {reason}"
            )),
        },
    }
}

fn decode_partial_success(
    body: &[u8],
    format: BodyFormat,
) -> Result<Option<PartialSuccess>, String> {
    match format {
        BodyFormat::Json => decode_json_partial_success(body),
        BodyFormat::Protobuf | BodyFormat::Other => {
            decode_export_response(body).map_err(|error| error.to_string())
        }
    }
}

/// Decodes the OTLP/JSON `ExportTraceServiceResponse`
/// (`{"partialSuccess": {"rejectedSpans": "3", "errorMessage": "..."}}`),
/// `ExportLogsServiceResponse` (`rejectedLogRecords`) or
/// `ExportMetricsServiceResponse` (`rejectedDataPoints`). 64-bit integers may
/// be strings or numbers, in exponent notation or with a zero fraction too
/// (`"1e2"`, `100.0`); snake_case keys are accepted too.
pub(crate) fn decode_json_partial_success(body: &[u8]) -> Result<Option<PartialSuccess>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("invalid JSON: {error}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "expected a JSON object".to_owned())?;
    let partial = match object
        .get("partialSuccess")
        .or_else(|| object.get("partial_success"))
    {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Object(partial)) => partial,
        Some(_) => return Err("`partialSuccess` is not an object".to_owned()),
    };
    let rejected_spans = match [
        "rejectedSpans",
        "rejected_spans",
        "rejectedLogRecords",
        "rejected_log_records",
        "rejectedDataPoints",
        "rejected_data_points",
    ]
    .iter()
    .find_map(|key| partial.get(*key).map(|value| (*key, value)))
    {
        None | Some((_, serde_json::Value::Null)) => 0,
        Some((key, serde_json::Value::Number(number))) => number
            .as_i64()
            .or_else(|| number.as_f64().and_then(integral_int64))
            .ok_or_else(|| format!("`{key}` is not an int64: {number}"))?,
        Some((key, serde_json::Value::String(text))) => text
            .parse()
            .ok()
            .or_else(|| text.parse().ok().and_then(integral_int64))
            .ok_or_else(|| format!("`{key}` is not an int64: {text:?}"))?,
        Some((key, other)) => return Err(format!("`{key}` is not an int64: {other}")),
    };
    let error_message = match partial
        .get("errorMessage")
        .or_else(|| partial.get("error_message"))
    {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => return Err(format!("`errorMessage` is not a string: {other}")),
    };
    Ok(Some(PartialSuccess {
        rejected_spans,
        error_message,
    }))
}

/// An int64 that the proto3 JSON mapping wrote in exponent notation or
/// with a zero fraction (`1e2`, `100.0`, quoted or not: parsers must accept
/// both, as the protobuf conformance suite checks): the integer, if it is
/// one within the int64 range.
fn integral_int64(value: f64) -> Option<i64> {
    // -2^63 is an int64; 2^63 is not.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (value.is_finite() && value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value))
        .then_some(value as i64)
}

/// The server's explanation from an error body, and the `RetryInfo` delay of a
/// `google.rpc.Status` if it carries one. A body is read in the format it
/// declares; one that does not decode so, or that declares another type (a
/// server answering `application/octet-stream`, or with no `Content-Type`
/// to a JSON request), is still taken as a protobuf `google.rpc.Status` when
/// it decodes cleanly as one with a code, a message or a `RetryInfo` (text
/// practically never does: the bytes that would start those fields are
/// control characters); anything else is shown as text. The result is at most
/// [`MAX_ERROR_MESSAGE_BYTES`].
pub(crate) fn error_details(body: &[u8], format: BodyFormat) -> (String, Option<Duration>) {
    if body.is_empty() {
        return (String::new(), None);
    }
    if format == BodyFormat::Json
        && let Ok(serde_json::Value::Object(status)) =
            serde_json::from_slice::<serde_json::Value>(body)
    {
        // proto3 JSON leaves out an empty `message`: a status may
        // carry only its code and details. Without a message, the
        // body itself is the explanation; its RetryInfo still counts.
        let retry_delay = json_retry_delay(&status);
        let message = match status.get("message") {
            Some(serde_json::Value::String(message)) => cap_message(message),
            _ => body_as_text(body),
        };
        return (message, retry_delay);
    }
    if let Ok(status) = RpcStatus::decode(body)
        && (!status.message.is_empty() || status.code != 0 || status.retry_delay.is_some())
    {
        let message = if status.message.is_empty() {
            format!("google.rpc.Status code {}", status.code)
        } else {
            status.message
        };
        return (cap_message(&message), status.retry_delay);
    }
    // Not a status that decodes whole (text, or a status with a malformed
    // field such as a message that is not UTF-8): a valid `RetryInfo` among
    // its details is still the server's hint.
    (body_as_text(body), RpcStatus::retry_delay_of(body))
}

/// The `retryDelay` of a `google.rpc.RetryInfo` among a JSON
/// `google.rpc.Status`'s `details` (`{"@type": "type.googleapis.com/google.rpc.RetryInfo",
/// "retryDelay": "1.5s"}`).
fn json_retry_delay(status: &serde_json::Map<String, serde_json::Value>) -> Option<Duration> {
    let details = status.get("details")?.as_array()?;
    details.iter().find_map(|detail| {
        let kind = detail.get("@type")?.as_str()?;
        if !kind.ends_with("/google.rpc.RetryInfo") {
            return None;
        }
        json_duration(detail.get("retryDelay")?.as_str()?)
    })
}

/// A protobuf JSON `Duration`: whole seconds and up to nine decimals,
/// followed by `s` (`"5s"`, `"0.250s"`); negative or malformed, none.
fn json_duration(text: &str) -> Option<Duration> {
    let number = text.strip_suffix('s')?;
    let (seconds, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(seconds) || !(fraction.is_empty() || digits(fraction)) || fraction.len() > 9 {
        return None;
    }
    let seconds: u64 = seconds.parse().ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u32>().ok()? * 10u32.pow(9 - fraction.len() as u32)
    };
    Some(Duration::new(seconds, nanos))
}

/// A body shown as text: lossy UTF-8, capped; binary garbage is summarised.
fn body_as_text(body: &[u8]) -> String {
    let prefix = &body[..body.len().min(MAX_ERROR_MESSAGE_BYTES)];
    let text = String::from_utf8_lossy(prefix);
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    if text.chars().count() > 0 && printable * 10 < text.chars().count() * 9 {
        return format!("{} byte undecodable body", body.len());
    }
    if body.len() > prefix.len() {
        cap_message(&format!("{text}…"))
    } else {
        cap_message(&text)
    }
}

/// Makes a server-supplied message safe to log:
/// [`otlp_core::printable::one_line`] within [`MAX_ERROR_MESSAGE_BYTES`].
pub(crate) fn cap_message(message: &str) -> String {
    otlp_core::printable::one_line(message, MAX_ERROR_MESSAGE_BYTES)
}

/// The outcome of a non-2xx response, given its (possibly unreadable) body.
pub(crate) fn error_outcome(
    status: StatusCode,
    headers: &HeaderMap,
    body: Result<Vec<u8>, BodyError>,
    format: BodyFormat,
) -> ExportOutcome {
    let (message, retry_info) = match body {
        Ok(body) => error_details(&body, format),
        Err(BodyError::TooLarge) => (
            format!("error body larger than the {MAX_RESPONSE_BYTES} byte cap, not read"),
            None,
        ),
        Err(BodyError::Read(reason)) => (
            cap_message(&format!("error body unreadable: {reason}")),
            None,
        ),
    };
    let error = ExportError::Server {
        status: format!("HTTP {status}"),
        message,
    };
    match classify_status(status) {
        StatusClass::Retryable => ExportOutcome::Retryable {
            error,
            // The header is the HTTP way; a RetryInfo detail is honoured when it is absent.
            throttle: retry_after(headers).or(retry_info),
        },
        StatusClass::Success | StatusClass::Permanent => ExportOutcome::Permanent { error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_core::response::encode_export_response;
    use reqwest::header::HeaderValue;

    #[test]
    fn status_classification_table() {
        let retryable = [429, 502, 503, 504];
        for code in 100..=599u16 {
            let Ok(status) = StatusCode::from_u16(code) else {
                continue;
            };
            let expected = if (200..300).contains(&code) {
                StatusClass::Success
            } else if retryable.contains(&code) {
                StatusClass::Retryable
            } else {
                StatusClass::Permanent
            };
            assert_eq!(classify_status(status), expected, "HTTP {code}");
        }
        // The ones people get wrong.
        for permanent in [400, 401, 403, 404, 408, 413, 500, 501, 505] {
            assert_eq!(
                classify_status(StatusCode::from_u16(permanent).unwrap()),
                StatusClass::Permanent
            );
        }
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // The obsolete RFC 850 and asctime forms are valid HTTP-dates too.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:05 2015", now),
            Some(Duration::from_secs(5))
        );
        // A date produced now round-trips.
        let later = SystemTime::now() + Duration::from_secs(90);
        let wait = parse_retry_after(&httpdate::fmt_http_date(later), SystemTime::now()).unwrap();
        assert!(
            wait > Duration::from_secs(85) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage_is_no_hint() {
        let now = SystemTime::now();
        for garbage in [
            "",
            " ",
            "-1",
            "1.5",
            "soon",
            "12s",
            "0x10",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "+5",
        ] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }

    #[test]
    fn retry_after_header_is_read_from_the_response_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn body_format_follows_content_type_then_request() {
        let mut headers = HeaderMap::new();
        assert_eq!(body_format(&headers, Encoding::Json), BodyFormat::Json);
        assert_eq!(
            body_format(&headers, Encoding::Protobuf),
            BodyFormat::Protobuf
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        assert_eq!(body_format(&headers, Encoding::Json), BodyFormat::Protobuf);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(body_format(&headers, Encoding::Protobuf), BodyFormat::Json);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        assert_eq!(body_format(&headers, Encoding::Protobuf), BodyFormat::Other);
    }

    #[test]
    fn protobuf_partial_success_is_rejected_spans() {
        let partial = PartialSuccess {
            rejected_spans: 3,
            error_message: "too old".into(),
        };
        let body = encode_export_response(Some(&partial));
        assert_eq!(
            success_outcome(&body, BodyFormat::Protobuf, Encoding::Protobuf),
            ExportOutcome::PartialSuccess {
                rejected_spans: 3,
                message: "too old".into()
            }
        );
        assert_eq!(
            success_outcome(&[], BodyFormat::Protobuf, Encoding::Protobuf),
            ExportOutcome::Success
        );
        let empty_partial = encode_export_response(Some(&PartialSuccess::default()));
        assert_eq!(
            success_outcome(&empty_partial, BodyFormat::Protobuf, Encoding::Protobuf),
            ExportOutcome::Success
        );
    }

    #[test]
    fn a_warning_rejects_nothing() {
        let body = br#"{"partialSuccess":{"errorMessage":"deprecated attribute"}}"#;
        assert_eq!(
            success_outcome(body, BodyFormat::Json, Encoding::Json),
            ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                message: "deprecated attribute".into()
            }
        );
    }

    #[test]
    fn json_partial_success_accepts_strings_and_numbers() {
        let as_string = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad"}}"#;
        let as_number = br#"{"partialSuccess":{"rejectedSpans":2,"errorMessage":"bad","extra":1}}"#;
        let snake = br#"{"partial_success":{"rejected_spans":"2","error_message":"bad"}}"#;
        for body in [&as_string[..], as_number, snake] {
            assert_eq!(
                decode_json_partial_success(body),
                Ok(Some(PartialSuccess {
                    rejected_spans: 2,
                    error_message: "bad".into()
                }))
            );
        }
        assert_eq!(decode_json_partial_success(b"{}"), Ok(None));
        assert_eq!(
            decode_json_partial_success(br#"{"partialSuccess":null}"#),
            Ok(None)
        );
        assert!(decode_json_partial_success(b"[]").is_err());
        assert!(
            decode_json_partial_success(br#"{"partialSuccess":{"rejectedSpans":"x"}}"#).is_err()
        );
    }

    #[test]
    fn a_json_rejected_count_is_an_integer_in_any_form_the_json_mapping_allows() {
        let rejected = |count: &str| {
            let body = format!(r#"{{"partialSuccess":{{"rejectedSpans":{count}}}}}"#);
            decode_json_partial_success(body.as_bytes())
                .map(|partial| partial.map(|p| p.rejected_spans))
        };
        for (count, expected) in [
            ("1e2", 100),
            ("\"1e2\"", 100),
            ("100.0", 100),
            ("\"100.0\"", 100),
            ("-2E0", -2),
            ("\"-9223372036854775808\"", i64::MIN),
            ("9223372036854775807", i64::MAX),
        ] {
            assert_eq!(rejected(count), Ok(Some(expected)), "{count}");
        }
        // Not an integer, or not an int64.
        for count in [
            "2.5",
            "\"2.5\"",
            "1e19",
            "\"9223372036854775808\"",
            "\"inf\"",
            "\"NaN\"",
            "\"\"",
        ] {
            assert!(rejected(count).is_err(), "{count}");
        }
    }

    #[test]
    fn json_partial_success_counts_rejected_data_points_of_metrics() {
        let as_string = br#"{"partialSuccess":{"rejectedDataPoints":"5","errorMessage":"nan"}}"#;
        let as_number = br#"{"partialSuccess":{"rejectedDataPoints":5,"errorMessage":"nan"}}"#;
        let snake = br#"{"partial_success":{"rejected_data_points":"5","error_message":"nan"}}"#;
        for body in [&as_string[..], as_number, snake] {
            assert_eq!(
                decode_json_partial_success(body),
                Ok(Some(PartialSuccess {
                    rejected_spans: 5,
                    error_message: "nan".into()
                }))
            );
        }
        assert_eq!(
            success_outcome(as_number, BodyFormat::Json, Encoding::Json),
            ExportOutcome::PartialSuccess {
                rejected_spans: 5,
                message: "nan".into()
            }
        );
    }

    #[test]
    fn a_garbled_json_rejected_count_names_the_key_the_server_sent() {
        for (key, value) in [
            ("rejectedLogRecords", r#""many""#),
            ("rejected_data_points", "1.5"),
            ("rejectedDataPoints", "[]"),
        ] {
            let body = format!(r#"{{"partialSuccess":{{"{key}":{value}}}}}"#);
            let error = decode_json_partial_success(body.as_bytes()).expect_err(&body);
            assert!(error.contains(&format!("`{key}`")), "{body}: {error}");
            assert!(!error.contains("rejectedSpans"), "{body}: {error}");
        }
    }

    #[test]
    fn an_undecodable_success_body_is_a_warning_not_a_failure() {
        let outcome = success_outcome(b"\xff\xff\xff", BodyFormat::Protobuf, Encoding::Protobuf);
        let ExportOutcome::PartialSuccess {
            rejected_spans: 0,
            message,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(message.contains("could not be decoded"), "{message}");
        // The exporter may carry log records or data points: no word of spans.
        assert!(message.starts_with("records accepted"), "{message}");
        assert!(!message.contains("span"), "{message}");
        // A body of some other type ("OK" from a proxy) is just success.
        assert_eq!(
            success_outcome(b"OK", BodyFormat::Other, Encoding::Protobuf),
            ExportOutcome::Success
        );
    }

    #[test]
    fn rpc_status_error_body_is_the_message_and_retry_info_the_hint() {
        let status = RpcStatus {
            code: 8,
            message: "slow down".into(),
            retry_delay: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            error_details(&status.encode(), BodyFormat::Protobuf),
            ("slow down".to_owned(), Some(Duration::from_secs(2)))
        );
        let json = br#"{"code":3,"message":"bad span id"}"#;
        assert_eq!(
            error_details(json, BodyFormat::Json),
            ("bad span id".to_owned(), None)
        );
        // proto3 JSON leaves an empty message out: the body is the text,
        // its RetryInfo the hint.
        let json = r#"{"code":8,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]}"#;
        assert_eq!(
            error_details(json.as_bytes(), BodyFormat::Json),
            (json.to_owned(), Some(Duration::from_secs(3)))
        );
        assert_eq!(
            error_details(br#"{"message":""}"#, BodyFormat::Json),
            (String::new(), None)
        );
        assert_eq!(
            error_details(br#"{"error":"nope","code":429}"#, BodyFormat::Json),
            (r#"{"error":"nope","code":429}"#.to_owned(), None)
        );
        // A proxy's text page, whatever it claims to be.
        assert_eq!(
            error_details(b"upstream connect error\n", BodyFormat::Protobuf),
            ("upstream connect error".to_owned(), None)
        );
        assert_eq!(
            error_details(b"", BodyFormat::Protobuf),
            (String::new(), None)
        );
        assert_eq!(
            error_details(&[0u8, 1, 2, 3, 0xff, 0xfe, 0, 0, 0, 0], BodyFormat::Other).0,
            "10 byte undecodable body"
        );
    }

    /// A protobuf `google.rpc.Status` whose message was not UTF-8 did not
    /// decode, and its `RetryInfo` was lost with it: a 429 or 503 waited the
    /// policy's backoff instead of the server's hint (the gRPC exporter read
    /// each detail alone already).
    #[test]
    fn a_status_whose_message_is_not_utf8_still_carries_its_retry_info() {
        let status = RpcStatus {
            code: 8,
            message: String::new(),
            retry_delay: Some(Duration::from_secs(2)),
        };
        // `message` (field 2) of two bytes that are not UTF-8, then the rest.
        let mut body = vec![0x12, 0x02, 0xff, 0xfe];
        body.extend(status.encode());
        assert!(RpcStatus::decode(&body).is_err());
        let (message, delay) = error_details(&body, BodyFormat::Protobuf);
        assert_eq!(delay, Some(Duration::from_secs(2)), "{message}");
    }

    #[test]
    fn a_status_declared_as_another_type_still_carries_its_retry_info() {
        let status = RpcStatus {
            code: 8,
            message: "slow down".into(),
            retry_delay: Some(Duration::from_secs(2)),
        }
        .encode();
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        // Declared as bytes; or undeclared, to a JSON request.
        for (headers, request) in [
            (headers, Encoding::Protobuf),
            (HeaderMap::new(), Encoding::Json),
        ] {
            let format = body_format(&headers, request);
            let outcome = error_outcome(
                StatusCode::TOO_MANY_REQUESTS,
                &HeaderMap::new(),
                Ok(status.clone()),
                format,
            );
            assert_eq!(
                outcome,
                ExportOutcome::Retryable {
                    error: ExportError::Server {
                        status: "HTTP 429 Too Many Requests".into(),
                        message: "slow down".into()
                    },
                    throttle: Some(Duration::from_secs(2)),
                },
                "{format:?}"
            );
        }
        // Text stays text, whatever it is declared as.
        for format in [BodyFormat::Other, BodyFormat::Json] {
            assert_eq!(
                error_details(b"<html>502 Bad Gateway</html>", format),
                ("<html>502 Bad Gateway</html>".to_owned(), None)
            );
            assert_eq!(
                error_details(b"upstream timed out\n", format),
                ("upstream timed out".to_owned(), None)
            );
        }
    }

    #[test]
    fn error_messages_are_capped_at_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_MESSAGE_BYTES);
        let capped = cap_message(&long);
        assert!(capped.len() <= MAX_ERROR_MESSAGE_BYTES, "{}", capped.len());
        assert!(capped.ends_with('…'));
        assert_eq!(cap_message("  line one\nline two\r\n"), "line one line two");

        let status = RpcStatus {
            code: 3,
            message: "x".repeat(100_000),
            retry_delay: None,
        };
        let (message, _) = error_details(&status.encode(), BodyFormat::Protobuf);
        assert!(message.len() <= MAX_ERROR_MESSAGE_BYTES && message.ends_with('…'));
        let (message, _) = error_details("y".repeat(100_000).as_bytes(), BodyFormat::Other);
        assert!(message.len() <= MAX_ERROR_MESSAGE_BYTES && message.ends_with('…'));
    }

    fn response(body: Vec<u8>) -> http_body_util::Full<bytes::Bytes> {
        http_body_util::Full::new(body.into())
    }

    #[tokio::test]
    async fn capped_read_refuses_bodies_over_the_cap() {
        let body = read_capped(response(vec![7; 100]), 100).await.unwrap();
        assert_eq!(body.len(), 100);
        assert!(matches!(
            read_capped(response(vec![7; 101]), 100).await,
            Err(BodyError::TooLarge)
        ));
    }

    #[test]
    fn error_outcome_classifies_and_carries_the_throttle_hint() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("4"));
        let outcome = error_outcome(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            Ok(RpcStatus {
                code: 8,
                message: "quota".into(),
                retry_delay: Some(Duration::from_secs(1)),
            }
            .encode()),
            BodyFormat::Protobuf,
        );
        assert_eq!(
            outcome,
            ExportOutcome::Retryable {
                error: ExportError::Server {
                    status: "HTTP 429 Too Many Requests".into(),
                    message: "quota".into()
                },
                throttle: Some(Duration::from_secs(4)),
            }
        );
        let outcome = error_outcome(
            StatusCode::BAD_REQUEST,
            &headers,
            Err(BodyError::TooLarge),
            BodyFormat::Protobuf,
        );
        let ExportOutcome::Permanent {
            error: ExportError::Server { status, message },
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(status, "HTTP 400 Bad Request");
        assert!(message.contains("cap"), "{message}");
    }

    #[test]
    fn a_json_status_carries_its_retry_info_delay() {
        let body = br#"{"code":8,"message":"quota","details":[
            {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"x"},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.500s"}]}"#;
        let outcome = error_outcome(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            Ok(body.to_vec()),
            BodyFormat::Json,
        );
        let ExportOutcome::Retryable { throttle, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(throttle, Some(Duration::from_millis(2500)));
        for (text, delay) in [
            ("5s", Some(Duration::from_secs(5))),
            ("0.000000001s", Some(Duration::from_nanos(1))),
            ("-1s", None),
            ("1.0000000001s", None),
            ("5", None),
            ("s", None),
            (".5s", None),
        ] {
            assert_eq!(json_duration(text), delay, "{text}");
        }
    }
}
