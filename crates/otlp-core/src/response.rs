//! What a receiver answers: `ExportTraceServiceResponse` (partial success) and
//! `google.rpc.Status` error bodies with their `RetryInfo` throttle hint.
//!
//! Decoders take untrusted bytes and never panic; unknown fields are skipped.

use std::time::Duration;

use crate::error::DecodeError;
use crate::wire::{
    WIRE_LEN, WIRE_VARINT, WireReader, WireValue, len_field_len, put_bytes_field, put_len_prefix,
    put_tag, put_varint, tag_len, varint_len,
};

/// `type_url` of `google.rpc.RetryInfo` inside `google.rpc.Status.details`.
pub const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The `partial_success` of an `ExportTraceServiceResponse`: the server accepted
/// the request but rejected some spans (or has a warning, when the count is 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    /// Spans the server rejected.
    pub rejected_spans: i64,
    /// Human-readable reason or warning.
    pub error_message: String,
}

fn string_field(
    value: WireValue<'_>,
    message: &'static str,
    field: u32,
    offset: usize,
) -> Result<String, DecodeError> {
    match value {
        WireValue::Len(bytes) => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::Utf8 { message, field }),
        other => Err(unexpected(message, field, other, WIRE_LEN, offset)),
    }
}

fn varint_field(
    value: WireValue<'_>,
    message: &'static str,
    field: u32,
    offset: usize,
) -> Result<u64, DecodeError> {
    match value {
        WireValue::Varint(value) => Ok(value),
        other => Err(unexpected(message, field, other, WIRE_VARINT, offset)),
    }
}

fn message_field<'a>(
    value: WireValue<'a>,
    message: &'static str,
    field: u32,
    offset: usize,
) -> Result<&'a [u8], DecodeError> {
    match value {
        WireValue::Len(bytes) => Ok(bytes),
        other => Err(unexpected(message, field, other, WIRE_LEN, offset)),
    }
}

fn unexpected(
    message: &'static str,
    field: u32,
    value: WireValue<'_>,
    expected: u8,
    offset: usize,
) -> DecodeError {
    DecodeError::UnexpectedWireType {
        message,
        field,
        wire_type: value.wire_type(),
        expected,
        offset,
    }
}

/// Decodes an `ExportTraceServiceResponse`; `None` when it has no `partial_success`
/// (full success). An empty body is a full success.
///
/// ```
/// use otlp_core::response::{decode_export_response, encode_export_response, PartialSuccess};
///
/// let partial = PartialSuccess { rejected_spans: 3, error_message: "too old".into() };
/// let body = encode_export_response(Some(&partial));
/// assert_eq!(decode_export_response(&body)?, Some(partial));
/// assert_eq!(decode_export_response(&[])?, None);
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
pub fn decode_export_response(body: &[u8]) -> Result<Option<PartialSuccess>, DecodeError> {
    const MESSAGE: &str = "ExportTraceServiceResponse";
    let mut reader = WireReader::new(body);
    let mut partial = None;
    while let Some((field, value)) = reader.next_field()? {
        if field != 1 {
            continue;
        }
        let bytes = message_field(value, MESSAGE, 1, reader.field_offset())?;
        let mut inner = WireReader::nested(bytes, reader.offset_of(bytes)).at_depth(1);
        // A repeated message field merges into the earlier one (protobuf
        // concatenation semantics), so no earlier `rejected_spans` is lost.
        let mut decoded: PartialSuccess = partial.take().unwrap_or_default();
        while let Some((field, value)) = inner.next_field()? {
            match field {
                1 => {
                    decoded.rejected_spans =
                        varint_field(value, "ExportTracePartialSuccess", 1, inner.field_offset())?
                            as i64
                }
                // A message that is not UTF-8 (a broken or hostile server)
                // must not cost the count beside it: the rejected records
                // would be counted exported. Its bad bytes become U+FFFD.
                2 => {
                    decoded.error_message = match value {
                        WireValue::Len(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        other => string_field(
                            other,
                            "ExportTracePartialSuccess",
                            2,
                            inner.field_offset(),
                        )?,
                    }
                }
                _ => {}
            }
        }
        partial = Some(decoded);
    }
    Ok(partial)
}

/// Encodes an `ExportTraceServiceResponse` (for receivers and tests).
pub fn encode_export_response(partial: Option<&PartialSuccess>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(partial) = partial {
        let mut inner_len = 0;
        if partial.rejected_spans != 0 {
            inner_len += tag_len(1) + varint_len(partial.rejected_spans as u64);
        }
        if !partial.error_message.is_empty() {
            inner_len += len_field_len(2, partial.error_message.len());
        }
        put_len_prefix(&mut out, 1, inner_len);
        if partial.rejected_spans != 0 {
            put_tag(&mut out, 1, WIRE_VARINT);
            put_varint(&mut out, partial.rejected_spans as u64);
        }
        if !partial.error_message.is_empty() {
            put_bytes_field(&mut out, 2, partial.error_message.as_bytes());
        }
    }
    out
}

/// A `google.rpc.Status`: the error body of OTLP/HTTP and the details of a gRPC status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcStatus {
    /// gRPC status code.
    pub code: i32,
    /// Developer-facing message.
    pub message: String,
    /// The `RetryInfo.retry_delay` detail: `Some` whenever the details carry a
    /// `RetryInfo` (zero when it has no valid delay), `None` when they do not.
    pub retry_delay: Option<Duration>,
}

impl RpcStatus {
    /// Decodes a `google.rpc.Status`, extracting a `RetryInfo` detail if present
    /// (the last one, if several). Other details are skipped.
    ///
    /// Each detail is decoded on its own: one that does not decode (a
    /// malformed `Any`, a `RetryInfo` or `Duration` with a wrong wire type) is
    /// skipped, so that it costs neither the message nor a valid `RetryInfo`
    /// in another detail (the server's throttle hint). A malformed field of
    /// the status itself (its code, message, or the framing of a detail) is
    /// an error: what follows it cannot be read.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        const MESSAGE: &str = "google.rpc.Status";
        let mut status = RpcStatus::default();
        let mut reader = WireReader::new(body);
        while let Some((field, value)) = reader.next_field()? {
            match field {
                1 => status.code = varint_field(value, MESSAGE, 1, reader.field_offset())? as i32,
                2 => status.message = string_field(value, MESSAGE, 2, reader.field_offset())?,
                3 => {
                    let any = message_field(value, MESSAGE, 3, reader.field_offset())?;
                    // A detail that does not decode is skipped (see above).
                    if let Ok(Some(delay)) = decode_retry_info_any(any, reader.offset_of(any)) {
                        status.retry_delay = Some(delay);
                    }
                }
                _ => {}
            }
        }
        Ok(status)
    }

    /// The `RetryInfo` delay of a `google.rpc.Status` body (the last one if
    /// several), read even when the status as a whole does not decode (a
    /// message that is not UTF-8, a malformed code): each detail is then read
    /// alone, so that a server's throttle hint survives a broken field beside
    /// it. Details after bytes that break the framing of the status itself
    /// are out of reach. `None` when no detail is a `RetryInfo`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use otlp_core::response::RpcStatus;
    ///
    /// let status = RpcStatus { code: 8, message: "slow down".into(), retry_delay: Some(Duration::from_secs(2)) };
    /// let mut body = vec![0x12, 0x02, 0xff, 0xfe]; // a message that is not UTF-8
    /// body.extend(status.encode());
    /// assert!(RpcStatus::decode(&body).is_err());
    /// assert_eq!(RpcStatus::retry_delay_of(&body), Some(Duration::from_secs(2)));
    /// ```
    pub fn retry_delay_of(body: &[u8]) -> Option<Duration> {
        if let Ok(status) = RpcStatus::decode(body) {
            return status.retry_delay;
        }
        let mut reader = WireReader::new(body);
        let mut delay = None;
        let mut alone = Vec::new();
        while let Ok(Some((field, value))) = reader.next_field() {
            let (3, WireValue::Len(any)) = (field, value) else {
                continue;
            };
            // The detail alone, as the only field of a status of its own.
            alone.clear();
            put_bytes_field(&mut alone, 3, any);
            if let Ok(RpcStatus {
                retry_delay: Some(found),
                ..
            }) = RpcStatus::decode(&alone)
            {
                delay = Some(found);
            }
        }
        delay
    }

    /// Encodes this status (with a `RetryInfo` detail when `retry_delay` is set).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.code != 0 {
            put_tag(&mut out, 1, WIRE_VARINT);
            put_varint(&mut out, i64::from(self.code) as u64);
        }
        if !self.message.is_empty() {
            put_bytes_field(&mut out, 2, self.message.as_bytes());
        }
        if let Some(delay) = self.retry_delay {
            let mut duration = Vec::new();
            if delay.as_secs() != 0 {
                put_tag(&mut duration, 1, WIRE_VARINT);
                put_varint(&mut duration, delay.as_secs());
            }
            if delay.subsec_nanos() != 0 {
                put_tag(&mut duration, 2, WIRE_VARINT);
                put_varint(&mut duration, u64::from(delay.subsec_nanos()));
            }
            let retry_info_len = len_field_len(1, duration.len());
            let any_len =
                len_field_len(1, RETRY_INFO_TYPE_URL.len()) + len_field_len(2, retry_info_len);
            put_len_prefix(&mut out, 3, any_len);
            put_bytes_field(&mut out, 1, RETRY_INFO_TYPE_URL.as_bytes());
            put_len_prefix(&mut out, 2, retry_info_len);
            put_bytes_field(&mut out, 1, &duration);
        }
        out
    }
}

/// Decodes one `google.protobuf.Any`; returns the delay if it is a `RetryInfo`.
fn decode_retry_info_any(any: &[u8], base: usize) -> Result<Option<Duration>, DecodeError> {
    let mut reader = WireReader::nested(any, base);
    let mut type_url = None;
    let mut value = None;
    while let Some((field, field_value)) = reader.next_field()? {
        match field {
            1 => {
                type_url = Some(message_field(
                    field_value,
                    "google.protobuf.Any",
                    1,
                    reader.field_offset(),
                )?)
            }
            2 => {
                value = Some(message_field(
                    field_value,
                    "google.protobuf.Any",
                    2,
                    reader.field_offset(),
                )?)
            }
            _ => {}
        }
    }
    // `google.protobuf.Any`: the type is the last segment of the URL's path,
    // whatever the host (`type.googleapis.com/` is the usual one, not the
    // only one); the JSON form is read the same way.
    if !type_url.is_some_and(|url| url.ends_with(b"/google.rpc.RetryInfo")) {
        return Ok(None);
    }
    let Some(retry_info) = value else {
        return Ok(Some(Duration::ZERO));
    };
    let mut reader = WireReader::nested(retry_info, reader.offset_of(retry_info));
    // A repeated `retry_delay` merges into the earlier one (protobuf
    // concatenation semantics): a later `seconds` or `nanos` replaces only
    // itself, and the merged Duration is judged once, at the end.
    let (mut seconds, mut nanos) = (0i64, 0i32);
    while let Some((field, field_value)) = reader.next_field()? {
        if field != 1 {
            continue;
        }
        let duration = message_field(
            field_value,
            "google.rpc.RetryInfo",
            1,
            reader.field_offset(),
        )?;
        let mut inner = WireReader::nested(duration, reader.offset_of(duration));
        while let Some((field, field_value)) = inner.next_field()? {
            match field {
                1 => {
                    seconds = varint_field(
                        field_value,
                        "google.protobuf.Duration",
                        1,
                        inner.field_offset(),
                    )? as i64
                }
                2 => {
                    nanos = varint_field(
                        field_value,
                        "google.protobuf.Duration",
                        2,
                        inner.field_offset(),
                    )? as i32
                }
                _ => {}
            }
        }
    }
    // A RetryInfo without a usable delay still says "retry", with no minimum
    // wait: negative or out-of-range durations mean "no hint".
    if seconds >= 0 && (0..1_000_000_000).contains(&nanos) {
        Ok(Some(Duration::new(seconds as u64, nanos as u32)))
    } else {
        Ok(Some(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_status_round_trips_with_retry_delay() {
        let status = RpcStatus {
            code: 8,
            message: "slow down".into(),
            retry_delay: Some(Duration::from_millis(1_500)),
        };
        assert_eq!(RpcStatus::decode(&status.encode()), Ok(status));
    }

    /// An error inside a RetryInfo points at the byte where it is; the
    /// readers of the RetryInfo and its Duration were given the offset of
    /// the `Any` around them. [`RpcStatus::decode`] skips such a detail (see
    /// `a_malformed_detail_costs_neither_the_message_nor_a_valid_retry_info`);
    /// the detail's own decoder still says where it broke.
    #[test]
    fn an_error_inside_a_retry_info_names_its_own_offset() {
        let mut body = RpcStatus {
            code: 8,
            message: "slow down".into(),
            retry_delay: Some(Duration::from_millis(1_500)),
        }
        .encode();
        // The Duration's `seconds` tag (field 1, varint), made a fixed32.
        let at = body
            .windows(3)
            .rposition(|bytes| bytes == [0x08, 0x01, 0x10])
            .expect("the Duration");
        body[at] = 0x0d;
        let mut reader = WireReader::new(&body);
        let any = loop {
            match reader.next_field() {
                Ok(Some((3, WireValue::Len(any)))) => break any,
                Ok(Some(_)) => continue,
                other => panic!("expected the detail, got {other:?}"),
            }
        };
        match decode_retry_info_any(any, reader.offset_of(any)) {
            Err(DecodeError::UnexpectedWireType {
                message, offset, ..
            }) => assert_eq!((message, offset), ("google.protobuf.Duration", at)),
            other => panic!("expected UnexpectedWireType, got {other:?}"),
        }
        // The status as a whole: the broken detail is skipped, the rest read.
        assert_eq!(
            RpcStatus::decode(&body),
            Ok(RpcStatus {
                code: 8,
                message: "slow down".into(),
                retry_delay: None,
            })
        );
    }

    /// A malformed field of the status itself is still an error, and says
    /// which field and where, after a detail as before one.
    #[test]
    fn a_malformed_top_level_field_is_an_error_naming_its_offset() {
        let mut body = RpcStatus {
            code: 8,
            message: String::new(),
            retry_delay: Some(Duration::from_secs(1)),
        }
        .encode();
        let at = body.len();
        // `message` (field 2) as a varint.
        body.extend([0x10, 0x01]);
        match RpcStatus::decode(&body) {
            Err(DecodeError::UnexpectedWireType {
                message,
                field,
                offset,
                ..
            }) => assert_eq!((message, field, offset), ("google.rpc.Status", 2, at)),
            other => panic!("expected UnexpectedWireType, got {other:?}"),
        }
        // A message that is no UTF-8.
        let mut body = Vec::new();
        put_bytes_field(&mut body, 2, &[0xff, 0xfe]);
        assert_eq!(
            RpcStatus::decode(&body),
            Err(DecodeError::Utf8 {
                message: "google.rpc.Status",
                field: 2
            })
        );
    }

    /// An HTTP error body with one malformed detail kept its message and a
    /// valid `RetryInfo` in another detail: the decoder refused the whole
    /// body, and a 429 or 503 waited the policy's backoff instead of the
    /// server's hint.
    #[test]
    fn a_malformed_detail_costs_neither_the_message_nor_a_valid_retry_info() {
        let status = RpcStatus {
            code: 14,
            message: "overloaded".into(),
            retry_delay: Some(Duration::from_secs(3)),
        };
        let valid = status.encode();
        // An `Any` whose `type_url` is a varint.
        let mut bad_any = Vec::new();
        put_bytes_field(&mut bad_any, 3, &[0x08, 0x01]);
        // A RetryInfo whose `retry_delay` is a varint.
        let mut bad_retry_info = Vec::new();
        put_bytes_field(&mut bad_retry_info, 1, RETRY_INFO_TYPE_URL.as_bytes());
        put_bytes_field(&mut bad_retry_info, 2, &[0x08, 0x05]);
        let mut bad_retry_info_detail = Vec::new();
        put_bytes_field(&mut bad_retry_info_detail, 3, &bad_retry_info);
        for bad in [&bad_any, &bad_retry_info_detail] {
            for body in [[&bad[..], &valid].concat(), [&valid[..], bad].concat()] {
                assert_eq!(RpcStatus::decode(&body), Ok(status.clone()), "{body:?}");
            }
        }
        // Only a malformed RetryInfo: no hint.
        assert_eq!(
            RpcStatus::decode(&bad_retry_info_detail).map(|status| status.retry_delay),
            Ok(None)
        );
    }

    /// A `RetryInfo` whose `Any` named another host than
    /// `type.googleapis.com` was ignored (the server's hint lost), though
    /// `Any` names its type by the URL's last segment and the JSON form was
    /// read that way.
    #[test]
    fn a_retry_info_under_another_type_url_host_is_read() {
        let status_with = |type_url: &str| {
            let mut retry_info = Vec::new();
            put_bytes_field(&mut retry_info, 1, &[0x08, 0x02]);
            let mut any = Vec::new();
            put_bytes_field(&mut any, 1, type_url.as_bytes());
            put_bytes_field(&mut any, 2, &retry_info);
            let mut status = Vec::new();
            put_bytes_field(&mut status, 3, &any);
            RpcStatus::decode(&status).map(|status| status.retry_delay)
        };
        for url in [
            RETRY_INFO_TYPE_URL,
            "example.com/google.rpc.RetryInfo",
            "https://types.example.com/a/b/google.rpc.RetryInfo",
        ] {
            assert_eq!(status_with(url), Ok(Some(Duration::from_secs(2))), "{url}");
        }
        for url in [
            "google.rpc.RetryInfo",
            "type.googleapis.com/google.rpc.RetryInfoX",
            "type.googleapis.com/google.rpc.DebugInfo",
        ] {
            assert_eq!(status_with(url), Ok(None), "{url}");
        }
    }

    #[test]
    fn retry_info_without_a_valid_delay_still_counts_as_present() {
        let mut status = RpcStatus {
            code: 8,
            message: String::new(),
            retry_delay: Some(Duration::ZERO),
        };
        assert_eq!(
            RpcStatus::decode(&status.encode()).map(|s| s.retry_delay),
            Ok(Some(Duration::ZERO))
        );
        status.retry_delay = None;
        assert_eq!(
            RpcStatus::decode(&status.encode()).map(|s| s.retry_delay),
            Ok(None)
        );
    }

    #[test]
    fn repeated_partial_success_merges_like_protobuf() {
        // partial_success { rejected_spans: 5 } then partial_success {}:
        // protobuf merges the two, the count survives.
        let body = [0x0a, 0x02, 0x08, 0x05, 0x0a, 0x00];
        assert_eq!(
            decode_export_response(&body).map(|p| p.map(|p| p.rejected_spans)),
            Ok(Some(5))
        );
    }

    /// A partial success whose message was not UTF-8 was refused whole, so
    /// its rejected count was lost and the exporters counted those records
    /// exported (the answer was `OK`).
    #[test]
    fn a_partial_success_message_that_is_not_utf8_keeps_its_rejected_count() {
        // partial_success { rejected_spans: 5, error_message: ff fe 'a' }
        let body = [0x0a, 0x07, 0x08, 0x05, 0x12, 0x03, 0xff, 0xfe, b'a'];
        assert_eq!(
            decode_export_response(&body),
            Ok(Some(PartialSuccess {
                rejected_spans: 5,
                error_message: "\u{fffd}\u{fffd}a".into(),
            }))
        );
        // A message of the wrong wire type is still malformed.
        assert!(decode_export_response(&[0x0a, 0x04, 0x08, 0x05, 0x10, 0x01]).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(RpcStatus::decode(&[0x12, 0x10, b'x']).is_err());
        assert!(decode_export_response(&[0x0a, 0x02, 0x08]).is_err());
    }
}
