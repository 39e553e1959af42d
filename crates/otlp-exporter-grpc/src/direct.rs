//! An Export call written straight onto the HTTP/2 channel.
//!
//! tonic's unary path copies every message into its own frame buffer before
//! sending it (its encoder API takes a buffer to write into). For a request
//! that is already encoded, that copy is pure cost: about 120 KB per batch of
//! 512 spans, and the page faults of a buffer that large. Here the 5-byte gRPC
//! message prefix and the request's [`Bytes`] go to the channel as two body
//! frames, so the payload is never copied on the way to h2, which hands it to
//! the connection from the caller's buffer; the connection copies it once into
//! the write buffer it keeps (see [`crate::coalesce`]), to send a request in
//! one system call instead of one per 16 KiB frame. A compressed request is compressed once, into its own
//! buffer ([`compress`]; from 256 KiB on tokio's blocking pool), and sent the
//! same way with `grpc-encoding` and the prefix's compressed flag. The answer
//! is read as tonic would (HTTP status, then `grpc-status` in the headers or
//! trailers, then the one response message) and handed to the same
//! classification; an HTTP answer that is no gRPC answer keeps its
//! `Retry-After`, which tonic's own path loses, and the start of its body (a
//! load balancer's error page says who answered).
//!
//! The status is read here too, not by tonic's `Status::from_header_map`:
//! that one panics on a `grpc-status-details-bin` that is no base64 and turns
//! any status whose `grpc-message` is not UTF-8 into `UNKNOWN` (so a
//! retryable `UNAVAILABLE` into a permanent failure); gRPC says a malformed
//! message must never cost the status. A response message compressed in the
//! `grpc-encoding` the server names is decompressed: grpc-go servers (the
//! Collector) answer in the request's compression whether or not the client
//! offered it. A request the server did not take (a refused stream, a stream
//! above a draining server's `GOAWAY`, a request canceled on a closing
//! connection) is sent again at once, at most twice, instead of waiting for
//! the pipeline's backoff: a collector that ends connections on purpose
//! (`MaxConnectionAge`) costs no export a second of delay.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, Bytes};
use http::header::{CONTENT_TYPE, HeaderValue, TE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tonic::body::Body as TonicBody;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower_service::Service;

use otlp_core::response::RpcStatus;
use otlp_sdk::compression::{ContentCoding, DecompressError, decompress};
use otlp_sdk::config::Compression;

use crate::MAX_RESPONSE_BYTES;
use crate::classify::{answered_without_http2, error_chain, rejected_server_certificate};

/// How a direct call failed.
#[derive(Debug)]
pub(crate) enum DirectError {
    /// The channel could not take the request (connect, TLS).
    NotReady(tonic::transport::Error),
    /// The connection failed while the call was under way (reset, closed).
    Transport(String),
    /// The server's certificate failed verification: no retry can change it.
    CertificateRejected(String),
    /// The server's first bytes were no HTTP/2 (a TLS server's alert to a
    /// plaintext connection, an HTTP/1.1 server): see
    /// [`answered_without_http2`].
    NotHttp2(String),
    /// The channel's own per-request timeout expired.
    TimedOut,
    /// The server answered with a non-OK status.
    Status(Status),
    /// The answer broke the protocol or the response size cap.
    InvalidResponse(String),
    /// The server answered `OK` (it took the records), but its response
    /// message cannot be read: compressed in a `grpc-encoding` not decoded
    /// here, a corrupt compressed stream, a prefix that lies about its length.
    UnreadableOk(String),
}

/// Sends one Export request and returns the response message. `message` is
/// compressed with `compression` already (see [`compress`]). Each request
/// sent tells the server the time left before `deadline` (`grpc-timeout`),
/// which also bounds the wait for the response headers (the channel's
/// timeout); the caller bounds the whole call by `deadline`, the response
/// message and trailers included.
pub(crate) async fn export(
    channel: &mut Channel,
    metadata: &MetadataMap,
    deadline: Instant,
    path: &'static str,
    message: Bytes,
    compression: Compression,
) -> Result<Bytes, DirectError> {
    let mut sent_again = 0;
    let response = loop {
        std::future::poll_fn(|context| channel.poll_ready(context))
            .await
            .map_err(DirectError::NotReady)?;
        let request = build_request(metadata, deadline, path, message.clone(), compression);
        match channel.call(request).await {
            Ok(response) => break response,
            // At once, twice at most: the pipeline's backoff is for a
            // server in trouble, not for a connection that was closing. Twice,
            // since the channel may hand the first resend to the closing
            // connection too, before it notices and reconnects.
            Err(error) if sent_again < 2 && not_taken(&error) => sent_again += 1,
            Err(error) if otlp_sdk::find_in_chain::<tonic::TimeoutExpired>(&error).is_some() => {
                return Err(DirectError::TimedOut);
            }
            Err(error) if rejected_server_certificate(&error) => {
                return Err(DirectError::CertificateRejected(error_chain(&error)));
            }
            Err(error) if answered_without_http2(&error) => {
                return Err(DirectError::NotHttp2(error_chain(&error)));
            }
            Err(error) => return Err(DirectError::Transport(error_chain(&error))),
        }
    };
    let (parts, body) = response.into_parts();
    if parts.status != StatusCode::OK {
        let excerpt = body_excerpt(body, deadline).await;
        return Err(DirectError::Status(status_of_http_answer(
            parts.status,
            &parts.headers,
            &excerpt,
        )));
    }
    // A trailers-only answer carries its status in the headers.
    if let Some(status) = grpc_status(&parts.headers) {
        return match status.code() {
            Code::Ok => Ok(Bytes::new()),
            _ => Err(DirectError::Status(status)),
        };
    }
    // The cap on the message plus its prefix.
    let collected = Limited::new(body, MAX_RESPONSE_BYTES + 5)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                DirectError::InvalidResponse(format!(
                    "the response is over the {MAX_RESPONSE_BYTES} byte cap"
                ))
            } else {
                DirectError::Transport(error_chain(&*error))
            }
        })?;
    let Some(status) = collected.trailers().and_then(grpc_status) else {
        let body = collected.to_bytes();
        return Err(DirectError::InvalidResponse(without_grpc_status(
            parts.status,
            &parts.headers,
            &body,
        )));
    };
    if status.code() != Code::Ok {
        return Err(DirectError::Status(status));
    }
    response_message(collected.to_bytes(), parts.headers.get(GRPC_ENCODING))
}

/// What an answer with HTTP `status` (200) that ended without a
/// `grpc-status` was: a gRPC answer cut short, or, declared as something
/// other than `application/grpc` (a captive portal's or a proxy's page), no
/// gRPC answer at all, said with its content type and the start of its body
/// as [`status_of_http_answer`] says a non-200 page.
fn without_grpc_status(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> String {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    if content_type
        .as_deref()
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("application/grpc"))
    {
        return "the answer ended without a grpc-status".into();
    }
    let declared = match &content_type {
        Some(content_type) => format!("with content-type {content_type:?}"),
        None => "without a content-type".into(),
    };
    let more = body.len() > BODY_EXCERPT_BYTES;
    let excerpt = excerpt_text(&body[..body.len().min(BODY_EXCERPT_BYTES)], more);
    if excerpt.is_empty() {
        format!("HTTP status {status} {declared} instead of a gRPC answer")
    } else {
        format!("HTTP status {status} {declared} instead of a gRPC answer: {excerpt}")
    }
}

/// Whether a call failed before the server took the request, so that
/// sending it again on the channel (which reconnects) does no work twice
/// that a retry later would not do too: the stream was refused
/// (`REFUSED_STREAM`: no application logic ran), it was above the last
/// stream of the server's graceful `GOAWAY` (`NO_ERROR`: a server draining,
/// `MaxConnectionAge`), or the request was canceled while it waited for a
/// connection that was closing.
fn not_taken(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away()
                    && h2.is_remote()
                    && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        if let Some(hyper) = error.downcast_ref::<hyper::Error>()
            && hyper.is_canceled()
        {
            return true;
        }
        next = error.source();
    }
    false
}

const GRPC_ENCODING: &str = "grpc-encoding";
const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";

/// The gRPC status in `headers` (the trailers, or the headers of a
/// trailers-only answer), if they carry one. A `grpc-status` that is no code
/// is `UNKNOWN`, as tonic reads it; a `grpc-message` that is not
/// percent-encoded UTF-8 is kept as far as it decodes (lossily), and status
/// details that are not base64 are left out: neither changes the code.
fn grpc_status(headers: &HeaderMap) -> Option<Status> {
    let code = Code::from_bytes(headers.get("grpc-status")?.as_bytes());
    let message = headers
        .get("grpc-message")
        .map(|value| percent_decoded(value.as_bytes()))
        .unwrap_or_default();
    let details = headers
        .get(GRPC_STATUS_DETAILS)
        .and_then(|value| {
            let mut only = HeaderMap::new();
            only.insert(GRPC_STATUS_DETAILS, value.clone());
            MetadataMap::from_headers(only)
                .get_bin(GRPC_STATUS_DETAILS)?
                .to_bytes()
                .ok()
        })
        .unwrap_or_default();
    Some(Status::with_details(code, message, details))
}

/// A `grpc-message` value percent-decoded; a `%` not followed by two hex
/// digits is kept as it is, and bytes that are not UTF-8 become U+FFFD.
fn percent_decoded(value: &[u8]) -> String {
    let hex = |byte: u8| char::from(byte).to_digit(16);
    let mut decoded = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%'
            && let [high, low, after @ ..] = tail
            && let (Some(high), Some(low)) = (hex(*high), hex(*low))
        {
            decoded.push(((high << 4) | low) as u8);
            rest = after;
        } else {
            decoded.push(byte);
            rest = tail;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The request, its `grpc-timeout` the time left now before `deadline` (a
/// resend after a refused stream has less left than the first send).
fn build_request(
    metadata: &MetadataMap,
    deadline: Instant,
    path: &'static str,
    message: Bytes,
    compression: Compression,
) -> Request<TonicBody> {
    let mut headers: HeaderMap = metadata.clone().into_headers();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    let left = deadline.saturating_duration_since(Instant::now());
    if let Ok(value) = HeaderValue::from_str(&grpc_timeout(left)) {
        headers.insert("grpc-timeout", value);
    }
    let compressed = compression != Compression::None;
    if compressed {
        headers.insert(
            "grpc-encoding",
            HeaderValue::from_static(compression.as_str()),
        );
    }
    let mut request = Request::new(TonicBody::new(PrefixedMessage::new(message, compressed)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = http::Uri::from_static(path);
    *request.headers_mut() = headers;
    request
}

/// `message` compressed for `grpc-encoding` `compression` (as is for
/// [`Compression::None`], no copy). From
/// [`BLOCKING_THRESHOLD`](otlp_sdk::compression::BLOCKING_THRESHOLD) bytes
/// up, on the runtime's blocking pool
/// ([`compress_off_runtime`](otlp_sdk::compression::compress_off_runtime)),
/// so that the runtime thread serves the other exports and timers meanwhile.
pub(crate) async fn compress(compression: Compression, message: Bytes) -> Result<Bytes, String> {
    Ok(
        otlp_sdk::compression::compress_off_runtime(compression, &message)
            .await?
            .map_or(message, Bytes::from),
    )
}

/// The `grpc-timeout` header value: at most eight digits and a unit.
pub(crate) fn grpc_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let millis = timeout.as_millis();
    if millis <= MAX {
        format!("{}m", millis.max(1))
    } else {
        format!("{}S", timeout.as_secs().min(MAX as u64))
    }
}

/// The one response message of an `OK` answer out of its gRPC framing,
/// decompressed if its flag says so, by the `grpc-encoding` the answer names
/// (this call offers no compression, but grpc-go servers answer in the
/// request's), within [`MAX_RESPONSE_BYTES`]. A message that cannot be read
/// is [`DirectError::UnreadableOk`] (the records were taken all the same);
/// one over the cap once decompressed is [`DirectError::InvalidResponse`],
/// as a response over the cap on the wire is.
fn response_message(mut data: Bytes, encoding: Option<&HeaderValue>) -> Result<Bytes, DirectError> {
    if data.is_empty() {
        return Ok(data);
    }
    if data.len() < 5 {
        return Err(DirectError::UnreadableOk(format!(
            "a {}-byte response is shorter than a gRPC message prefix",
            data.len()
        )));
    }
    let compressed = data.get_u8();
    let length = data.get_u32() as usize;
    if length != data.len() {
        return Err(DirectError::UnreadableOk(format!(
            "the response message announces {length} bytes and carries {}",
            data.len()
        )));
    }
    if compressed == 0 {
        return Ok(data);
    }
    let named = encoding.map(|value| value.to_str().unwrap_or("(not text)"));
    let coding = match named.map(|name| ContentCoding::parse(Some(name))) {
        Some(Some(coding)) if coding != ContentCoding::Identity => coding,
        _ => {
            return Err(DirectError::UnreadableOk(format!(
                "the response is compressed, in a grpc-encoding not decoded here: {}",
                named.unwrap_or("(none)")
            )));
        }
    };
    match decompress(coding, &data, MAX_RESPONSE_BYTES) {
        Ok(Some(message)) => Ok(message.into()),
        Ok(None) => Ok(data),
        Err(DecompressError::TooLarge) => Err(DirectError::InvalidResponse(format!(
            "the decompressed response is over the {MAX_RESPONSE_BYTES} byte cap"
        ))),
        Err(DecompressError::Corrupt(reason)) => Err(DirectError::UnreadableOk(format!(
            "the compressed response is corrupt: {reason}"
        ))),
    }
}

/// The most of a non-gRPC answer's body kept in its error: enough for a
/// proxy's one-line reason or the title of its error page. Past it the body is
/// not read (a page of any size costs no more); the cut is marked with `…`.
const BODY_EXCERPT_BYTES: usize = 512;

/// The start of a non-gRPC answer's body as text for an error message (see
/// [`excerpt_text`]), read until [`BODY_EXCERPT_BYTES`] or `deadline`, the
/// attempt's: a body that stops coming costs the excerpt, never the status.
async fn body_excerpt<B>(body: B, deadline: Instant) -> String
where
    B: Body<Data = Bytes>,
{
    let mut read = Vec::new();
    let mut more = false;
    let collect = async {
        let mut body = std::pin::pin!(body);
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                let room = BODY_EXCERPT_BYTES + 1 - read.len();
                read.extend_from_slice(&data[..data.len().min(room)]);
                if read.len() > BODY_EXCERPT_BYTES {
                    more = true;
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline.into(), collect).await;
    read.truncate(BODY_EXCERPT_BYTES);
    excerpt_text(&read, more)
}

/// Body bytes as one line of text safe to log: lossy UTF-8, every run of
/// whitespace and control characters one space, `…` when `more` follows. A
/// body that is mostly not text is only counted.
fn excerpt_text(read: &[u8], more: bool) -> String {
    // A cut inside a character is no damage to show.
    let read = match std::str::from_utf8(read) {
        Err(error) if more && error.error_len().is_none() => &read[..error.valid_up_to()],
        _ => read,
    };
    let text = String::from_utf8_lossy(read);
    let chars = text.chars().count();
    let printable = text
        .chars()
        .filter(|c| *c != char::REPLACEMENT_CHARACTER && (!c.is_control() || c.is_whitespace()))
        .count();
    if printable * 10 < chars * 9 {
        return format!(
            "a body of {}{} bytes, not text",
            read.len(),
            if more { "+" } else { "" }
        );
    }
    let mut line = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if !word.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    if more {
        line.push('…');
    }
    line
}

/// The status of an HTTP answer that is no gRPC answer at all (a proxy's,
/// say): the gRPC specification's mapping of its code, the start of the body
/// (`excerpt`, see [`body_excerpt`]) in its message, and the proxy's
/// `Retry-After` (delay-seconds or an HTTP-date, see [`retry_after`]) as a
/// `RetryInfo` delay, so that a throttling proxy's 429 or 503 is waited out
/// as asked.
pub(crate) fn status_of_http_answer(
    status: StatusCode,
    headers: &http::HeaderMap,
    excerpt: &str,
) -> Status {
    let code = code_of_http_status(status);
    let message = if excerpt.is_empty() {
        format!("HTTP status {status} instead of a gRPC answer")
    } else {
        format!("HTTP status {status} instead of a gRPC answer: {excerpt}")
    };
    let retry_after = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| retry_after(value, SystemTime::now()));
    match retry_after {
        Some(delay) => {
            let details = RpcStatus {
                code: code as i32,
                message: String::new(),
                retry_delay: Some(delay),
            };
            Status::with_details(code, message, details.encode().into())
        }
        None => Status::new(code, message),
    }
}

/// The longest `Retry-After` kept: a `google.protobuf.Duration` holds at most
/// `i64::MAX` seconds, and a longer wait would come back from the `RetryInfo`
/// as no delay at all. Any wait this long outlasts every export deadline.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(i64::MAX as u64);

/// A `Retry-After` value as a wait from `now`: delay-seconds (`120`; absurdly
/// long digit strings saturate) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00
/// GMT`, and the two obsolete date forms), a date in the past meaning "now".
/// Anything else (negative, fractional, garbage) is no hint.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        date.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The gRPC code for an HTTP status that came without a gRPC status
/// (grpc/doc/http-grpc-status-mapping.md).
pub(crate) fn code_of_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// A request body of two frames: the 5-byte gRPC prefix, then the message
/// itself (a reference to the caller's bytes, not a copy).
struct PrefixedMessage {
    prefix: Option<Bytes>,
    message: Option<Bytes>,
}

impl PrefixedMessage {
    fn new(message: Bytes, compressed: bool) -> Self {
        // Callers refuse messages over the 64 MiB cap, far below u32::MAX.
        let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
        let mut prefix = [0u8; 5];
        prefix[0] = u8::from(compressed);
        prefix[1..].copy_from_slice(&length.to_be_bytes());
        PrefixedMessage {
            prefix: Some(Bytes::copy_from_slice(&prefix)),
            message: Some(message),
        }
    }
}

impl Body for PrefixedMessage {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let next = match self.prefix.take() {
            Some(prefix) => Some(prefix),
            None => self.message.take(),
        };
        Poll::Ready(next.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.message.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let remaining = self.prefix.as_ref().map_or(0, Bytes::len)
            + self.message.as_ref().map_or(0, Bytes::len);
        SizeHint::with_exact(remaining as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_fits_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_secs(10)), "10000m");
        assert_eq!(grpc_timeout(Duration::from_micros(10)), "1m");
        assert_eq!(grpc_timeout(Duration::from_secs(100_000)), "100000S");
        assert_eq!(grpc_timeout(Duration::from_secs(u64::MAX)), "99999999S");
    }

    #[test]
    fn a_proxys_retry_after_becomes_the_throttle_hint() {
        use otlp_sdk::ExportOutcome;
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("30"));
        let status = status_of_http_answer(StatusCode::SERVICE_UNAVAILABLE, &headers, "");
        assert_eq!(status.code(), Code::Unavailable);
        let outcome = crate::classify::classify_status(&status, Duration::from_secs(10));
        let ExportOutcome::Retryable { throttle, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(throttle, Some(Duration::from_secs(30)));
        // A date in the past means "now"; a value that is neither form, no hint.
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        let status = status_of_http_answer(StatusCode::TOO_MANY_REQUESTS, &headers, "");
        let outcome = crate::classify::classify_status(&status, Duration::from_secs(10));
        assert!(
            matches!(
                outcome,
                ExportOutcome::Retryable {
                    throttle: Some(Duration::ZERO),
                    ..
                }
            ),
            "{outcome:?}"
        );
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        let status = status_of_http_answer(StatusCode::TOO_MANY_REQUESTS, &headers, "");
        let outcome = crate::classify::classify_status(&status, Duration::from_secs(10));
        assert!(
            matches!(outcome, ExportOutcome::Retryable { throttle: None, .. }),
            "{outcome:?}"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        for (value, wait) in [
            ("7", Some(Duration::from_secs(7))),
            (" 120 ", Some(Duration::from_secs(120))),
            (
                "Wed, 21 Oct 2015 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            (
                "Wednesday, 21-Oct-15 07:29:00 GMT",
                Some(Duration::from_secs(60)),
            ),
            ("Wed Oct 21 07:28:05 2015", Some(Duration::from_secs(5))),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(Duration::ZERO)),
            ("99999999999999999999999", Some(MAX_RETRY_AFTER)),
            ("", None),
            ("-1", None),
            ("1.5", None),
            ("soon", None),
        ] {
            assert_eq!(retry_after(value, now), wait, "{value:?}");
        }
        // The longest wait survives its trip through a RetryInfo.
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("99999999999999999999999"),
        );
        let status = status_of_http_answer(StatusCode::SERVICE_UNAVAILABLE, &headers, "");
        assert_eq!(
            RpcStatus::decode(status.details()).unwrap().retry_delay,
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn a_body_excerpt_is_one_line_of_text_or_a_count() {
        assert_eq!(
            excerpt_text(
                b"<html>\r\n<h1>502 Bad\tGateway</h1>\x1b[31m\n</html>",
                false
            ),
            "<html> <h1>502 Bad Gateway</h1> [31m </html>"
        );
        assert_eq!(excerpt_text("caf\u{e9}".as_bytes(), true), "caf\u{e9}…");
        // Cut inside a character.
        assert_eq!(excerpt_text(&"caf\u{e9}".as_bytes()[..4], true), "caf…");
        assert_eq!(
            excerpt_text(&[0, 1, 2, 0xff, 0xfe, 3], false),
            "a body of 6 bytes, not text"
        );
        assert_eq!(excerpt_text(b"", false), "");
    }

    #[test]
    fn http_statuses_map_as_grpc_says() {
        assert_eq!(code_of_http_status(StatusCode::BAD_REQUEST), Code::Internal);
        assert_eq!(
            code_of_http_status(StatusCode::SERVICE_UNAVAILABLE),
            Code::Unavailable
        );
        assert_eq!(
            code_of_http_status(StatusCode::TOO_MANY_REQUESTS),
            Code::Unavailable
        );
        assert_eq!(
            code_of_http_status(StatusCode::NOT_FOUND),
            Code::Unimplemented
        );
        assert_eq!(code_of_http_status(StatusCode::IM_A_TEAPOT), Code::Unknown);
    }

    #[test]
    fn response_framing_is_checked() {
        let framed = Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]);
        assert_eq!(
            response_message(framed, None).ok(),
            Some(Bytes::from_static(&[8, 1]))
        );
        assert_eq!(
            response_message(Bytes::new(), None).ok(),
            Some(Bytes::new())
        );
        assert!(response_message(Bytes::from_static(&[0, 0, 0]), None).is_err());
        assert!(response_message(Bytes::from_static(&[0, 0, 0, 0, 9, 8]), None).is_err());
        // Compressed: only in a grpc-encoding the answer names and this build decodes.
        let flagged = Bytes::from_static(&[1, 0, 0, 0, 1, 8]);
        assert!(response_message(flagged.clone(), None).is_err());
        let identity = HeaderValue::from_static("identity");
        assert!(response_message(flagged.clone(), Some(&identity)).is_err());
        let snappy = HeaderValue::from_static("snappy");
        assert!(response_message(flagged, Some(&snappy)).is_err());
        #[cfg(feature = "gzip")]
        {
            let gzip = HeaderValue::from_static("gzip");
            let bomb = otlp_sdk::compression::compress(
                Compression::Gzip,
                &vec![0; MAX_RESPONSE_BYTES + 1],
            )
            .unwrap()
            .unwrap();
            let mut framed = vec![1];
            framed.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
            framed.extend_from_slice(&bomb);
            assert!(matches!(
                response_message(framed.into(), Some(&gzip)),
                Err(DirectError::InvalidResponse(message)) if message.contains("cap")
            ));
        }
    }

    #[test]
    fn status_headers_are_read_without_losing_the_code() {
        let mut headers = HeaderMap::new();
        assert!(grpc_status(&headers).is_none());
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static("caf%C3%A9 %E2%9C 50%"),
        );
        headers.insert(
            GRPC_STATUS_DETAILS,
            HeaderValue::from_static("*not base64*"),
        );
        let status = grpc_status(&headers).unwrap();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "café \u{fffd} 50%");
        assert!(status.details().is_empty());
        let details = RpcStatus {
            code: 8,
            message: String::new(),
            retry_delay: Some(Duration::from_secs(2)),
        }
        .encode();
        let metadata = tonic::metadata::MetadataValue::from_bytes(&details);
        headers.insert(
            GRPC_STATUS_DETAILS,
            HeaderValue::from_bytes(metadata.as_encoded_bytes()).unwrap(),
        );
        headers.insert("grpc-status", HeaderValue::from_static("x"));
        let status = grpc_status(&headers).unwrap();
        assert_eq!(status.code(), Code::Unknown);
        assert_eq!(status.details(), &details[..]);
    }

    #[test]
    fn the_body_is_the_prefix_then_the_message_uncopied() {
        let message = Bytes::from(vec![7u8; 300]);
        for (compressed, flag) in [(false, 0), (true, 1)] {
            let mut body = PrefixedMessage::new(message.clone(), compressed);
            assert_eq!(body.size_hint().exact(), Some(305));
            let waker = std::task::Waker::noop();
            let mut context = Context::from_waker(waker);
            let mut frames = Vec::new();
            while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut context) {
                frames.push(frame.into_data().unwrap_or_default());
            }
            assert_eq!(frames[0].as_ref(), &[flag, 0, 0, 1, 44]);
            assert_eq!(frames[1].as_ptr(), message.as_ptr(), "the same buffer");
            assert!(body.is_end_stream());
        }
    }
}
