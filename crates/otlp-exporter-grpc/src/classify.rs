//! How an OTLP/gRPC answer becomes an [`ExportOutcome`], exactly per the OTLP
//! specification.
//!
//! - Retryable codes: `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`,
//!   `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`; `RESOURCE_EXHAUSTED` only when
//!   the status details carry a `google.rpc.RetryInfo` delay. Every other code
//!   (`INTERNAL` and `UNKNOWN` included) is permanent.
//! - A `RetryInfo` delay on a retryable status is passed on as the throttle
//!   hint. The details are read one by one: a detail that does not decode
//!   (another service's, malformed) does not cost a valid `RetryInfo` next to it.
//! - Failures of the connection itself (refused, reset, TLS handshake, no
//!   answer in time) never carried a status from the server: retryable,
//!   except a server certificate that failed verification (unknown issuer,
//!   wrong name): permanent, as no retry can change it. An expired or not
//!   yet valid certificate stays retryable: the local clock may be wrong.
//! - A response over the 4 MiB cap is a permanent error, although tonic reports
//!   it as `OUT_OF_RANGE`.
//! - An `OK` answer is a success, or a partial success when the response
//!   carries `partial_success` with rejected spans or a message (never retried).

use std::error::Error as _;
use std::time::Duration;

use otlp_core::response::{RpcStatus, decode_export_response};
use otlp_sdk::{ExportError, ExportOutcome};
use tonic::{Code, Status};

/// Longest server message kept in an [`ExportError`].
pub(crate) const MAX_MESSAGE_LEN: usize = 1024;

/// What tonic says when a response message is over `max_decoding_message_size`.
const RESPONSE_TOO_LARGE: &str = "Error, decoded message length too large";

/// Whether a status code is worth retrying. `RESOURCE_EXHAUSTED` is retryable
/// only when the server says when to come back (`RetryInfo`).
pub(crate) const fn is_retryable(code: Code, has_retry_info: bool) -> bool {
    match code {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => has_retry_info,
        Code::Ok
        | Code::Unknown
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::Unimplemented
        | Code::Internal
        | Code::Unauthenticated => false,
    }
}

/// The canonical name of a status code (`UNAVAILABLE`).
pub(crate) const fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Classifies an `OK` answer from its `ExportTraceServiceResponse` bytes.
pub(crate) fn classify_response(body: &[u8]) -> ExportOutcome {
    match decode_export_response(body) {
        Ok(None) => ExportOutcome::Success,
        Ok(Some(partial)) if partial.rejected_spans <= 0 && partial.error_message.is_empty() => {
            ExportOutcome::Success
        }
        Ok(Some(partial)) => ExportOutcome::PartialSuccess {
            rejected_spans: u64::try_from(partial.rejected_spans).unwrap_or(0),
            message: capped(&partial.error_message),
        },
        // `OK`: the server took the records; only its answer is unreadable.
        // A warning (a partial success rejecting nothing), as over HTTP: the
        // records were delivered and are not counted as failed.
        Err(error) => ExportOutcome::PartialSuccess {
            rejected_spans: 0,
            message: capped(&format!(
                "records accepted (gRPC OK), but the response could not be decoded: {error}"
            )),
        },
    }
}

/// Classifies a failed call. `timeout` is the attempt timeout, reported when
/// tonic's own deadline fired.
pub(crate) fn classify_status(status: &Status, timeout: Duration) -> ExportOutcome {
    // tonic keeps the underlying error as the source of a status it made up
    // itself; a status the server sent has none.
    if let Some(source) = status.source() {
        if otlp_sdk::find_in_chain::<tonic::TimeoutExpired>(source).is_some() {
            // Named by the exporter, which knows where the request went.
            return ExportOutcome::Retryable {
                error: ExportError::Timeout {
                    after: timeout,
                    target: None,
                },
                throttle: None,
            };
        }
        if rejected_server_certificate(source) {
            return ExportOutcome::Permanent {
                error: ExportError::Transport(describe_local_failure(status)),
            };
        }
        return ExportOutcome::Retryable {
            error: ExportError::Transport(describe_local_failure(status)),
            throttle: None,
        };
    }
    if status.code() == Code::OutOfRange && status.message().starts_with(RESPONSE_TOO_LARGE) {
        return ExportOutcome::Permanent {
            error: ExportError::InvalidResponse(capped(status.message())),
        };
    }
    // The `RetryInfo` among the details (`grpc-status-details-bin`), even
    // beside a malformed field of the status (a message that is no UTF-8,
    // which gRPC does not need: the message is `grpc-message`'s): losing it
    // would turn a throttled `RESOURCE_EXHAUSTED` into a permanent failure.
    let retry_delay = RpcStatus::retry_delay_of(status.details());
    let error = ExportError::Server {
        status: format!("gRPC {}", code_name(status.code())),
        message: capped(status.message()),
    };
    if is_retryable(status.code(), retry_delay.is_some()) {
        ExportOutcome::Retryable {
            error,
            throttle: retry_delay,
        }
    } else {
        ExportOutcome::Permanent { error }
    }
}

/// A failure before any request went out (the channel could not take it).
pub(crate) fn classify_not_ready(error: &tonic::transport::Error) -> ExportOutcome {
    ExportOutcome::Retryable {
        error: ExportError::Transport(error_chain(error)),
        throttle: None,
    }
}

/// Whether the error's source chain holds rustls' verdict that the server's
/// certificate is invalid for a reason no retry can change
/// (`rustls::Error::InvalidCertificate`: unknown issuer, wrong name, bad
/// signature...): such a failure is permanent, so that the pipeline counts
/// the batch failed at once instead of retrying it until its deadline (or,
/// with the durable queue, keeping it on disk for good). A verdict about
/// time (expired, not valid yet) is left out: it may be this machine's
/// clock, wrong until it is set (a device booted before NTP), and a retry
/// then succeeds. The TLS stream reports the verdict inside an
/// `io::Error`, where [`otlp_sdk::find_in_chain`] looks too.
pub(crate) fn rejected_server_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        otlp_sdk::find_in_chain::<rustls::Error>(error),
        Some(rustls::Error::InvalidCertificate(verdict)) if !depends_on_the_clock(verdict)
    )
}

/// What a TLS handshake answered in something that is not TLS means: rustls
/// says only "received corrupt message of type InvalidContentType", the
/// usual sight of an `https://` endpoint (or one without a scheme, which the
/// specification makes TLS) pointed at a plaintext collector.
const PLAINTEXT_HINT: &str = "the server answered, but not TLS: for a plaintext collector use \
     an http:// endpoint (or, for an endpoint without a scheme, OTEL_EXPORTER_OTLP_INSECURE=true)";

/// Whether the error's source chain holds rustls' report that the server's
/// first bytes were no TLS record (see [`PLAINTEXT_HINT`]).
fn answered_without_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        otlp_sdk::find_in_chain::<rustls::Error>(error),
        Some(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType
        ))
    )
}

/// Whether the error's source chain holds h2's own verdict that the
/// server's first bytes were no HTTP/2 frame (`FRAME_SIZE_ERROR`, found by
/// this side): what a TLS server's alert (`15 03 03`, read as a frame
/// length) or an HTTP/1.1 server's `HTTP/1.1` looks like to HTTP/2. h2
/// says only "frame with invalid size".
pub(crate) fn answered_without_http2(error: &(dyn std::error::Error + 'static)) -> bool {
    otlp_sdk::find_in_chain::<h2::Error>(error)
        .is_some_and(|h2| h2.is_library() && h2.reason() == Some(h2::Reason::FRAME_SIZE_ERROR))
}

/// What [`answered_without_http2`] means, for an endpoint that is TLS
/// (`secure`) or plaintext.
pub(crate) const fn not_http2_hint(secure: bool) -> &'static str {
    if secure {
        "the server's answer is not HTTP/2, which an OTLP/gRPC server speaks: is this \
         an OTLP/HTTP port, 4318, instead of OTLP/gRPC's, 4317?"
    } else {
        "the server's answer is not HTTP/2: if it speaks TLS, use an https:// endpoint; \
         an OTLP/HTTP port, 4318, is no OTLP/gRPC port, 4317, either"
    }
}

/// Whether a certificate verdict is about the time of checking, which a
/// wrong local clock makes and a set clock unmakes.
fn depends_on_the_clock(verdict: &rustls::CertificateError) -> bool {
    use rustls::CertificateError::{Expired, ExpiredContext, NotValidYet, NotValidYetContext};
    matches!(
        verdict,
        Expired | ExpiredContext { .. } | NotValidYet | NotValidYetContext { .. }
    )
}

/// What went wrong, from the status message and its source chain, e.g.
/// `"tcp connect error: Connection refused (os error 111)"`.
fn describe_local_failure(status: &Status) -> String {
    let mut parts = vec![status.message().to_owned()];
    let mut next = status.source();
    while let Some(error) = next {
        parts.push(error.to_string());
        next = error.source();
    }
    if status.source().is_some_and(answered_without_tls) {
        parts.push(format!("({PLAINTEXT_HINT})"));
    }
    capped(&join_distinct(parts))
}

/// An error and its sources, joined by `": "`.
/// A TLS handshake that got no TLS from the server says what that means.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        parts.push(error.to_string());
        next = error.source();
    }
    if answered_without_tls(error) {
        parts.push(format!("({PLAINTEXT_HINT})"));
    }
    join_distinct(parts)
}

/// Joins messages with `": "`, leaving out empty ones, tonic's bare
/// "transport error" (every transport failure says it; `ExportError` says it
/// once) and any already said.
fn join_distinct(parts: Vec<String>) -> String {
    let mut text = String::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() || part.eq_ignore_ascii_case("transport error") || text.contains(part) {
            continue;
        }
        if part.contains(text.as_str()) && !text.is_empty() {
            text = part.to_owned();
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(part);
    }
    if text.is_empty() {
        text.push_str("transport error");
    }
    text
}

/// `text` made safe to log ([`otlp_core::printable::one_line`] within
/// [`MAX_MESSAGE_LEN`]): a server's status message and partial-success
/// message are any text it likes.
pub(crate) fn capped(text: &str) -> String {
    otlp_core::printable::one_line(text, MAX_MESSAGE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_core::response::{PartialSuccess, encode_export_response};
    use otlp_core::wire::put_bytes_field;

    const ALL_CODES: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    fn retry_info_details(delay: Duration) -> Vec<u8> {
        RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: "slow down".into(),
            retry_delay: Some(delay),
        }
        .encode()
    }

    #[test]
    fn every_status_code_is_classified_per_the_otlp_specification() {
        let table: [(Code, &str, bool, bool); 17] = [
            // code, name, retryable without RetryInfo, retryable with RetryInfo
            (Code::Ok, "OK", false, false),
            (Code::Cancelled, "CANCELLED", true, true),
            (Code::Unknown, "UNKNOWN", false, false),
            (Code::InvalidArgument, "INVALID_ARGUMENT", false, false),
            (Code::DeadlineExceeded, "DEADLINE_EXCEEDED", true, true),
            (Code::NotFound, "NOT_FOUND", false, false),
            (Code::AlreadyExists, "ALREADY_EXISTS", false, false),
            (Code::PermissionDenied, "PERMISSION_DENIED", false, false),
            (Code::ResourceExhausted, "RESOURCE_EXHAUSTED", false, true),
            (
                Code::FailedPrecondition,
                "FAILED_PRECONDITION",
                false,
                false,
            ),
            (Code::Aborted, "ABORTED", true, true),
            (Code::OutOfRange, "OUT_OF_RANGE", true, true),
            (Code::Unimplemented, "UNIMPLEMENTED", false, false),
            (Code::Internal, "INTERNAL", false, false),
            (Code::Unavailable, "UNAVAILABLE", true, true),
            (Code::DataLoss, "DATA_LOSS", true, true),
            (Code::Unauthenticated, "UNAUTHENTICATED", false, false),
        ];
        assert_eq!(
            table.map(|row| row.0),
            ALL_CODES,
            "the table covers every code once"
        );
        let delay = Duration::from_millis(1500);
        for (code, name, plain, with_retry_info) in table {
            assert_eq!(code_name(code), name);
            assert_eq!(Code::from_i32(code as i32), code);
            assert_eq!(is_retryable(code, false), plain, "{name} without RetryInfo");
            assert_eq!(
                is_retryable(code, true),
                with_retry_info,
                "{name} with RetryInfo"
            );

            // The same answers through a server status, as tonic decodes it.
            let error = ExportError::Server {
                status: format!("gRPC {name}"),
                message: "nope".into(),
            };
            let expected = if plain {
                ExportOutcome::Retryable {
                    error: error.clone(),
                    throttle: None,
                }
            } else {
                ExportOutcome::Permanent {
                    error: error.clone(),
                }
            };
            assert_eq!(
                classify_status(&Status::new(code, "nope"), delay),
                expected,
                "{name}"
            );

            let throttled = Status::with_details(code, "nope", retry_info_details(delay).into());
            let expected = if with_retry_info {
                ExportOutcome::Retryable {
                    error,
                    throttle: Some(delay),
                }
            } else {
                ExportOutcome::Permanent { error }
            };
            assert_eq!(
                classify_status(&throttled, delay),
                expected,
                "{name} with RetryInfo"
            );
        }
    }

    #[test]
    fn status_details_without_retry_info_do_not_make_resource_exhausted_retryable() {
        let details = RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: "quota".into(),
            retry_delay: None,
        }
        .encode();
        let status = Status::with_details(Code::ResourceExhausted, "quota", details.into());
        assert!(matches!(
            classify_status(&status, Duration::from_secs(1)),
            ExportOutcome::Permanent { .. }
        ));
        let garbage =
            Status::with_details(Code::ResourceExhausted, "quota", vec![0x1a, 0x10, 1].into());
        assert!(matches!(
            classify_status(&garbage, Duration::from_secs(1)),
            ExportOutcome::Permanent { .. }
        ));
    }

    #[test]
    fn a_malformed_detail_does_not_cost_a_valid_retry_info() {
        let retry_info = RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: String::new(),
            retry_delay: Some(Duration::from_secs(3)),
        }
        .encode();
        // An `Any` whose `type_url` is a varint: no valid detail.
        let mut malformed = Vec::new();
        put_bytes_field(&mut malformed, 3, &[0x08, 0x01]);
        let mut message = Vec::new();
        put_bytes_field(&mut message, 2, b"quota");
        // Before and after the RetryInfo; and a status message that is no UTF-8.
        let mut not_utf8 = Vec::new();
        put_bytes_field(&mut not_utf8, 2, &[0xff, 0xfe]);
        for (details, whole_decodes) in [
            ([&malformed[..], &message, &retry_info].concat(), true),
            ([&retry_info[..], &malformed].concat(), true),
            ([&not_utf8[..], &retry_info].concat(), false),
        ] {
            // otlp-core skips a malformed detail, not a malformed message.
            assert_eq!(
                RpcStatus::decode(&details).is_ok(),
                whole_decodes,
                "{details:?}"
            );
            let status =
                Status::with_details(Code::ResourceExhausted, "quota", details.clone().into());
            assert_eq!(
                classify_status(&status, Duration::from_secs(1)),
                ExportOutcome::Retryable {
                    error: ExportError::Server {
                        status: "gRPC RESOURCE_EXHAUSTED".into(),
                        message: "quota".into(),
                    },
                    throttle: Some(Duration::from_secs(3)),
                },
                "{details:?}"
            );
        }
        // Only malformed details: no hint, so RESOURCE_EXHAUSTED stays permanent.
        let status = Status::with_details(Code::ResourceExhausted, "quota", malformed.into());
        assert!(matches!(
            classify_status(&status, Duration::from_secs(1)),
            ExportOutcome::Permanent { .. }
        ));
    }

    #[test]
    fn a_server_certificate_that_fails_verification_is_permanent_wherever_it_is_wrapped() {
        let rejected = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        // As tokio-rustls reports it: an `io::Error` wrapping the rustls error.
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rejected.clone());
        assert!(rejected_server_certificate(&io));
        assert!(rejected_server_certificate(&rejected));
        let status = Status::from_error(Box::new(io));
        match classify_status(&status, Duration::from_secs(1)) {
            ExportOutcome::Permanent {
                error: ExportError::Transport(message),
            } => assert!(message.contains("UnknownIssuer"), "{message}"),
            other => panic!("unexpected {other:?}"),
        }
        // A verdict about time may be this machine's clock: retried.
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, expired);
        assert!(!rejected_server_certificate(&io));
        // Other TLS failures (an alert from the server, a closed handshake) stay retryable.
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, alert);
        assert!(!rejected_server_certificate(&io));
        assert!(matches!(
            classify_status(&Status::from_error(Box::new(io)), Duration::from_secs(1)),
            ExportOutcome::Retryable { .. }
        ));
    }

    #[test]
    fn a_status_tonic_made_from_a_connection_failure_is_retryable_whatever_its_code() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let status = Status::from_error(Box::new(refused));
        assert_eq!(status.code(), Code::Unknown);
        match classify_status(&status, Duration::from_secs(1)) {
            ExportOutcome::Retryable {
                error: ExportError::Transport(message),
                throttle: None,
            } => assert!(message.contains("connection refused"), "{message}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn failure_descriptions_say_each_thing_once() {
        assert_eq!(
            join_distinct(vec![
                "invalid peer certificate: BadSignature".into(),
                "transport error".into(),
                "invalid peer certificate: BadSignature".into(),
            ]),
            "invalid peer certificate: BadSignature"
        );
        assert_eq!(
            join_distinct(vec![
                "transport error".into(),
                "connection error".into(),
                "stream closed because of a broken pipe".into(),
            ]),
            "connection error: stream closed because of a broken pipe"
        );
        assert_eq!(
            join_distinct(vec!["error".into(), "error: detail".into()]),
            "error: detail"
        );
        assert_eq!(
            join_distinct(vec!["transport error".into()]),
            "transport error"
        );
    }

    #[test]
    fn tonic_deadline_is_a_retryable_timeout() {
        let status = Status::from_error(Box::new(tonic::TimeoutExpired(())));
        let timeout = Duration::from_millis(250);
        assert_eq!(
            classify_status(&status, timeout),
            ExportOutcome::Retryable {
                error: ExportError::Timeout {
                    after: timeout,
                    target: None
                },
                throttle: None
            }
        );
    }

    #[test]
    fn a_response_over_the_cap_is_permanent() {
        let status = Status::out_of_range(format!(
            "{RESPONSE_TOO_LARGE}: found 5000000 bytes, the limit is: 4194304 bytes"
        ));
        assert!(matches!(
            classify_status(&status, Duration::from_secs(1)),
            ExportOutcome::Permanent {
                error: ExportError::InvalidResponse(_)
            }
        ));
    }

    #[test]
    fn responses_classify_as_success_partial_success_or_invalid() {
        assert_eq!(classify_response(&[]), ExportOutcome::Success);
        let empty = encode_export_response(Some(&PartialSuccess::default()));
        assert_eq!(classify_response(&empty), ExportOutcome::Success);
        let partial = encode_export_response(Some(&PartialSuccess {
            rejected_spans: 3,
            error_message: "too old".into(),
        }));
        assert_eq!(
            classify_response(&partial),
            ExportOutcome::PartialSuccess {
                rejected_spans: 3,
                message: "too old".into()
            }
        );
        let warning = encode_export_response(Some(&PartialSuccess {
            rejected_spans: 0,
            error_message: "deprecated attribute".into(),
        }));
        assert_eq!(
            classify_response(&warning),
            ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                message: "deprecated attribute".into()
            }
        );
        // An OK answer whose body cannot be decoded: the records were
        // delivered, the garbled answer is a warning.
        assert!(matches!(
            classify_response(&[0x0a, 0x05, 0x08]),
            ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                message,
            } if message.contains("could not be decoded")
        ));
    }

    #[test]
    fn a_servers_messages_reach_the_logs_without_control_characters() {
        // Both are the server's text: a hostile or broken backend must not
        // write escapes or fake lines into the program's standard error
        // (the loss report prints the last error).
        let hostile = "\u{1b}[2J\r\notlp-rust: all spans delivered\u{7}\u{9b}";
        let partial = encode_export_response(Some(&PartialSuccess {
            rejected_spans: 2,
            error_message: hostile.into(),
        }));
        let expected = "[2J  otlp-rust: all spans delivered";
        assert_eq!(
            classify_response(&partial),
            ExportOutcome::PartialSuccess {
                rejected_spans: 2,
                message: expected.into()
            }
        );
        let status = Status::new(Code::Unavailable, hostile);
        let shown = match classify_status(&status, Duration::from_secs(1)) {
            ExportOutcome::Retryable { error, .. } => error.to_string(),
            other => panic!("UNAVAILABLE is retryable, not {other:?}"),
        };
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.ends_with(expected), "{shown:?}");
    }

    #[test]
    fn long_messages_are_capped_on_a_character_boundary() {
        let long = "é".repeat(MAX_MESSAGE_LEN);
        let capped = capped(&long);
        assert!(capped.len() <= MAX_MESSAGE_LEN);
        assert!(capped.ends_with('…'));
        assert_eq!(super::capped("short"), "short");
    }
}
