//! OTLP/HTTP: `POST /v1/traces`, `POST /v1/logs` and `POST /v1/metrics` with
//! protobuf or OTLP/JSON bodies.
//!
//! Answers, in order of the checks (the same for every path):
//!
//! | condition | status |
//! |---|---|
//! | path is not `/v1/traces`, `/v1/logs` or `/v1/metrics` | 404 |
//! | method is not `POST` | 405 with `Allow: POST` |
//! | `Content-Type` is not `application/x-protobuf` or `application/json` | 415 |
//! | `Content-Encoding` is not `gzip`, `zstd` or `identity` (codings stacked, on one line or several, included) | 415 with `Accept-Encoding: gzip, zstd` (RFC 9110 §15.5.16) |
//! | body over the cap, on the wire or decompressed | 413 |
//! | corrupt compressed body, undecodable message, wrong id length | 400 |
//! | body cut short (the client hung up or reset the stream) | 400, counted abandoned, not bad |
//! | body not read whole and answer not decided within [`request_timeout`](super::ReceiverConfig::request_timeout) from the head | HTTP/1.1: 408, connection closed; HTTP/2: stream reset; counted timed out |
//! | otherwise | the scripted fault, or 200 |
//!
//! Success bodies are an `ExportTraceServiceResponse`,
//! `ExportLogsServiceResponse` or `ExportMetricsServiceResponse`, error bodies a
//! `google.rpc.Status`, both in the request's format (protobuf when the
//! request's own content type is unusable). Connections are kept alive.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
};
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use otlp_core::response::{PartialSuccess, RETRY_INFO_TYPE_URL, RpcStatus, encode_export_response};
use otlp_sdk::compression::ContentCoding;
use serde_json::json;

use super::body::{self, BodyError};
use super::decode::{self, Format};
use super::faults::Fault;
use super::request_cut::{ConnectionReset, RequestDeadline};
use super::shared::{Reply, RequestTicket, Shared};
use super::store::{Signal, Transport};

// google.rpc.Code values used in error bodies.
const CODE_INVALID_ARGUMENT: i32 = 3;
const CODE_DEADLINE_EXCEEDED: i32 = 4;
const CODE_NOT_FOUND: i32 = 5;
const CODE_UNIMPLEMENTED: i32 = 12;

/// The last second an HTTP-date can name, 9999-12-31T23:59:59Z, in seconds
/// since the Unix epoch: `httpdate` panics on later dates (four-digit years),
/// so a later `Retry-After` date is clamped to it.
const LAST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// Serves one request of the HTTP listener. Never fails: every problem is an answer.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    request: http::Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let connection = request.extensions().get::<ConnectionReset>().cloned();
    let deadline = request.extensions().get::<RequestDeadline>().copied();
    let ticket = RequestTicket::arrive(&shared, connection, deadline);
    let (parts, body) = request.into_parts();
    let header = |name| parts.headers.get(name).map(HeaderValue::to_str);
    let format = match header(CONTENT_TYPE) {
        Some(Ok(content_type)) => Format::from_content_type(content_type),
        _ => None,
    };
    let reply_format = format.unwrap_or(Format::Protobuf);
    // A client waiting for `100 Continue` has not sent the body.
    let expects_continue = parts
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    // Refusing before the body is read: read it away first (up to a limit),
    // or a client still sending a large body sees its connection closed
    // instead of the answer.
    let discard = |body| async move {
        if !expects_continue {
            body::drain(body).await;
        }
    };
    let bad = |status: StatusCode, code: i32, message: String| {
        ticket.refuse();
        error_response(
            status,
            reply_format,
            &RpcStatus {
                code,
                message,
                retry_delay: None,
            },
        )
    };

    let path = parts.uri.path();
    let Some(signal) = Signal::ALL
        .into_iter()
        .find(|signal| signal.http_path() == path)
    else {
        let message = format!(
            "no such path {path}; OTLP traces are POSTed to {}, logs to {}, metrics to {}",
            Signal::Traces.http_path(),
            Signal::Logs.http_path(),
            Signal::Metrics.http_path()
        );
        discard(body).await;
        return Ok(bad(StatusCode::NOT_FOUND, CODE_NOT_FOUND, message));
    };
    if parts.method != Method::POST {
        discard(body).await;
        let mut response = bad(
            StatusCode::METHOD_NOT_ALLOWED,
            CODE_UNIMPLEMENTED,
            format!("method {} not allowed; use POST", parts.method),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return Ok(response);
    }
    let Some(format) = format else {
        let message = format!(
            "unsupported content type {}; use {} or {}",
            shown(parts.headers.get(CONTENT_TYPE)),
            Format::PROTOBUF_CONTENT_TYPE,
            Format::JSON_CONTENT_TYPE
        );
        discard(body).await;
        return Ok(bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CODE_INVALID_ARGUMENT,
            message,
        ));
    };
    // Several `Content-Encoding` lines are one list (RFC 9110 §5.3), the
    // codings applied in order: stacked codings, refused as `gzip, gzip` is.
    let mut encodings = parts.headers.get_all(CONTENT_ENCODING).iter();
    let encoding = match (encodings.next(), encodings.next()) {
        (None, _) => Some(ContentCoding::Identity),
        (Some(value), None) => value
            .to_str()
            .ok()
            .and_then(|value| ContentCoding::parse(Some(value))),
        (Some(_), Some(_)) => None,
    };
    let Some(encoding) = encoding else {
        let message = format!(
            "unsupported content encoding {}; use gzip, zstd or none",
            shown_list(&parts.headers, CONTENT_ENCODING)
        );
        discard(body).await;
        let mut response = bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CODE_INVALID_ARGUMENT,
            message,
        );
        response
            .headers_mut()
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip, zstd"));
        return Ok(response);
    };

    let cap = shared.max_request_bytes;
    let too_large = |what: &str| {
        bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            CODE_INVALID_ARGUMENT,
            format!("{what} is larger than the receiver's limit of {cap} bytes"),
        )
    };
    let announced = match header(CONTENT_LENGTH) {
        Some(Ok(length)) => length.trim().parse::<u64>().ok(),
        _ => None,
    };
    if announced.is_some_and(|length| length > cap as u64) {
        // So the client sees the 413.
        discard(body).await;
        return Ok(too_large("request body"));
    }
    let raw = match body::read_capped(body, cap).await {
        Ok(raw) => raw,
        // (A window is judged only when the body is decoded, below.)
        Err(BodyError::TooLarge { .. } | BodyError::WindowTooLarge { .. }) => {
            return Ok(too_large("request body"));
        }
        // The client hung up or reset the stream before its body was whole:
        // it gave up on the request, which says nothing of its data. Left
        // unsettled, the ticket counts it abandoned when dropped.
        Err(BodyError::Transport(error)) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                reply_format,
                &RpcStatus {
                    code: CODE_INVALID_ARGUMENT,
                    message: format!("cannot read the request body: {error}"),
                    retry_delay: None,
                },
            ));
        }
        Err(BodyError::Corrupt(error)) => {
            return Ok(bad(
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                format!("cannot read the request body: {error}"),
            ));
        }
    };
    let content = match body::decode_content(encoding, raw, cap) {
        Ok(content) => content,
        Err(BodyError::TooLarge { .. }) => return Ok(too_large("decompressed request body")),
        Err(BodyError::WindowTooLarge { window, granted }) => {
            return Ok(bad(
                StatusCode::PAYLOAD_TOO_LARGE,
                CODE_INVALID_ARGUMENT,
                format!(
                    "a zstd frame of the request body declares a window of {window} bytes, \
                     more than the {granted} bytes granted to a body of at most {cap} bytes"
                ),
            ));
        }
        Err(BodyError::Corrupt(error) | BodyError::Transport(error)) => {
            return Ok(bad(
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                format!("corrupt {encoding:?} request body: {error}"),
            ));
        }
    };
    if let Err(message) = decode::check_decoded_size(signal, format, &content, shared.store, cap) {
        return Ok(bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            CODE_INVALID_ARGUMENT,
            message,
        ));
    }
    let decoded = match decode::decode(signal, format, &content, shared.store) {
        Ok(decoded) => decoded,
        Err(message) => return Ok(bad(StatusCode::BAD_REQUEST, CODE_INVALID_ARGUMENT, message)),
    };
    drop(content);
    let meta = shared.meta(Transport::Http, &parts.headers, "content-encoding");
    Ok(match shared.answer(&ticket, meta, decoded).await {
        Reply::Success(partial) => success_response(format, signal, partial.as_ref()),
        Reply::Error(fault) => fault_response(&fault, format),
    })
}

/// The answer to an HTTP/1.1 request whose body was not read whole and
/// answer decided within `request_timeout` of its head: 408 with a
/// `google.rpc.Status` (`DEADLINE_EXCEEDED`) in the request's format
/// (protobuf unless its `content_type` is JSON), and `Connection: close`,
/// since the rest of its body is not read. The listener gives it, on either
/// port.
pub(crate) fn request_timed_out(
    content_type: Option<&HeaderValue>,
    request_timeout: Duration,
) -> Response<Full<Bytes>> {
    let format = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(Format::from_content_type)
        .unwrap_or(Format::Protobuf);
    let mut response = error_response(
        StatusCode::REQUEST_TIMEOUT,
        format,
        &RpcStatus {
            code: CODE_DEADLINE_EXCEEDED,
            message: format!(
                "the request was not read whole and answered within {request_timeout:?} of its head (the receiver's request timeout)"
            ),
            retry_delay: None,
        },
    );
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A header value for an error message: quoted, or `(none)`.
fn shown(value: Option<&HeaderValue>) -> String {
    match value {
        Some(value) => format!("{:?}", String::from_utf8_lossy(value.as_bytes())),
        None => "(none)".to_owned(),
    }
}

/// The values of a header given on one line or several, as one list
/// (`"gzip, zstd"`) for an error message, quoted; `(none)` without one.
fn shown_list(headers: &http::HeaderMap, name: http::header::HeaderName) -> String {
    let values: Vec<_> = headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
        .collect();
    if values.is_empty() {
        "(none)".to_owned()
    } else {
        format!("{:?}", values.join(", "))
    }
}

fn response(status: StatusCode, format: Format, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

fn success_response(
    format: Format,
    signal: Signal,
    partial: Option<&PartialSuccess>,
) -> Response<Full<Bytes>> {
    let body = match format {
        // The `Export*ServiceResponse`s of the three signals share their wire
        // layout: `partial_success` 1 { rejected count 1, message 2 }.
        Format::Protobuf => encode_export_response(partial),
        Format::Json => export_response_json(signal, partial).into_bytes(),
    };
    response(StatusCode::OK, format, body)
}

fn error_response(
    status: StatusCode,
    format: Format,
    rpc_status: &RpcStatus,
) -> Response<Full<Bytes>> {
    let body = match format {
        Format::Protobuf => rpc_status.encode(),
        Format::Json => rpc_status_json(rpc_status).into_bytes(),
    };
    response(status, format, body)
}

fn fault_response(fault: &Fault, format: Format) -> Response<Full<Bytes>> {
    let (code, message) = fault.grpc_error().unwrap_or((13, "receiver fault"));
    let status =
        StatusCode::from_u16(fault.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_delay = fault.retry_delay();
    let mut response = error_response(
        status,
        format,
        &RpcStatus {
            code,
            message: message.to_owned(),
            retry_delay,
        },
    );
    let retry_after = match (fault, retry_delay) {
        (Fault::ThrottleHttpDate(_), Some(delay)) => {
            HeaderValue::from_str(&retry_after_date(SystemTime::now(), delay)).ok()
        }
        (_, Some(delay)) => Some(HeaderValue::from(retry_after_seconds(delay))),
        (_, None) => None,
    };
    if let Some(value) = retry_after {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// `Retry-After` delay-seconds: whole seconds, rounded up (saturating, so
/// `Duration::MAX` is `u64::MAX` seconds rather than an overflow).
pub(crate) fn retry_after_seconds(delay: Duration) -> u64 {
    delay
        .as_secs()
        .saturating_add(u64::from(delay.subsec_nanos() > 0))
}

/// `Retry-After` HTTP-date: `now + delay` rounded up to the next whole second,
/// so a client never waits less than `delay` (minus clock skew). Dates past
/// the year 9999 (or past what `SystemTime` holds) are clamped to
/// [`LAST_HTTP_DATE_SECS`], the last one an HTTP-date can write.
pub(crate) fn retry_after_date(now: SystemTime, delay: Duration) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let at = since_epoch.saturating_add(delay);
    let seconds = retry_after_seconds(at).min(LAST_HTTP_DATE_SECS);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// OTLP/JSON `ExportTraceServiceResponse` (or the logs or metrics one):
/// `{}` for full success, otherwise `partialSuccess` with its non-default
/// fields (`rejectedSpans`, `rejectedLogRecords` or `rejectedDataPoints` as a
/// string, as OTLP/JSON writes 64-bit integers).
pub(crate) fn export_response_json(signal: Signal, partial: Option<&PartialSuccess>) -> String {
    let Some(partial) = partial else {
        return "{}".to_owned();
    };
    let rejected_key = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Logs => "rejectedLogRecords",
        Signal::Metrics => "rejectedDataPoints",
    };
    let mut fields = serde_json::Map::new();
    if partial.rejected_spans != 0 {
        fields.insert(
            rejected_key.into(),
            json!(partial.rejected_spans.to_string()),
        );
    }
    if !partial.error_message.is_empty() {
        fields.insert("errorMessage".into(), json!(partial.error_message));
    }
    json!({ "partialSuccess": fields }).to_string()
}

/// Proto3 JSON of a `google.rpc.Status`, with `RetryInfo` as an `Any`
/// (`"@type"`) whose `retryDelay` is a JSON `Duration` (`"1.500s"`).
pub(crate) fn rpc_status_json(status: &RpcStatus) -> String {
    let mut object = serde_json::Map::new();
    if status.code != 0 {
        object.insert("code".into(), json!(status.code));
    }
    if !status.message.is_empty() {
        object.insert("message".into(), json!(status.message));
    }
    if let Some(delay) = status.retry_delay {
        object.insert(
            "details".into(),
            json!([{ "@type": RETRY_INFO_TYPE_URL, "retryDelay": duration_json(delay) }]),
        );
    }
    serde_json::Value::Object(object).to_string()
}

/// A proto3 JSON `Duration`: seconds with 0, 3, 6 or 9 fractional digits and `s`.
fn duration_json(delay: Duration) -> String {
    let (seconds, nanos) = (delay.as_secs(), delay.subsec_nanos());
    if nanos == 0 {
        format!("{seconds}s")
    } else if nanos % 1_000_000 == 0 {
        format!("{seconds}.{:03}s", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{seconds}.{:06}s", nanos / 1_000)
    } else {
        format!("{seconds}.{nanos:09}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_seconds(Duration::ZERO), 0);
        assert_eq!(retry_after_seconds(Duration::MAX), u64::MAX);
        let now = UNIX_EPOCH + Duration::from_millis(784_111_777_250);
        assert_eq!(
            retry_after_date(now, Duration::from_millis(1_000)),
            "Sun, 06 Nov 1994 08:49:39 GMT"
        );
    }

    #[test]
    fn retry_after_dates_past_the_year_9999_are_clamped() {
        let last = "Fri, 31 Dec 9999 23:59:59 GMT";
        assert_eq!(
            retry_after_date(SystemTime::now(), Duration::from_secs(1 << 40)),
            last
        );
        assert_eq!(retry_after_date(SystemTime::now(), Duration::MAX), last);
        let end = UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE_SECS);
        assert_eq!(retry_after_date(end, Duration::ZERO), last);
    }

    #[test]
    fn json_bodies_follow_otlp_json() {
        assert_eq!(export_response_json(Signal::Traces, None), "{}");
        let partial = PartialSuccess {
            rejected_spans: 3,
            error_message: "too old".into(),
        };
        let value: serde_json::Value =
            serde_json::from_str(&export_response_json(Signal::Traces, Some(&partial)))
                .unwrap_or_default();
        assert_eq!(
            value,
            json!({ "partialSuccess": { "rejectedSpans": "3", "errorMessage": "too old" } })
        );
        let value: serde_json::Value =
            serde_json::from_str(&export_response_json(Signal::Logs, Some(&partial)))
                .unwrap_or_default();
        assert_eq!(
            value,
            json!({ "partialSuccess": { "rejectedLogRecords": "3", "errorMessage": "too old" } })
        );
        let value: serde_json::Value =
            serde_json::from_str(&export_response_json(Signal::Metrics, Some(&partial)))
                .unwrap_or_default();
        assert_eq!(
            value,
            json!({ "partialSuccess": { "rejectedDataPoints": "3", "errorMessage": "too old" } })
        );
        let status = RpcStatus {
            code: 8,
            message: "slow down".into(),
            retry_delay: Some(Duration::from_millis(1500)),
        };
        let value: serde_json::Value =
            serde_json::from_str(&rpc_status_json(&status)).unwrap_or_default();
        assert_eq!(value["code"], 8);
        assert_eq!(value["details"][0]["@type"], RETRY_INFO_TYPE_URL);
        assert_eq!(value["details"][0]["retryDelay"], "1.500s");
        assert_eq!(duration_json(Duration::from_secs(2)), "2s");
        assert_eq!(
            duration_json(Duration::from_nanos(1_000_000_001)),
            "1.000000001s"
        );
    }
}
