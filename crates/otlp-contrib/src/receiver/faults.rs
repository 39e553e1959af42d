//! Scripted faults: what the receiver answers instead of "OK".

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// One scripted answer, played on exactly one export request.
///
/// Each variant maps to the protocol-correct answer on both transports and
/// for every signal, so one script drives gRPC and HTTP exporters of traces,
/// logs and metrics alike:
///
/// | fault | gRPC | HTTP |
/// |---|---|---|
/// | [`Unavailable`](Fault::Unavailable) | `UNAVAILABLE` | 503 |
/// | [`UnavailableRetryAfter(d)`](Fault::UnavailableRetryAfter) | `UNAVAILABLE` + `RetryInfo(d)` | 503 + `Retry-After: <ceil(d) seconds>` |
/// | [`InvalidArgument`](Fault::InvalidArgument) | `INVALID_ARGUMENT` | 400 |
/// | [`Internal`](Fault::Internal) | `INTERNAL` | 500 |
/// | [`Unauthenticated`](Fault::Unauthenticated) | `UNAUTHENTICATED` | 401 |
/// | [`Throttle(d)`](Fault::Throttle) | `RESOURCE_EXHAUSTED` + `RetryInfo(d)` | 429 + `Retry-After: <ceil(d) seconds>` |
/// | [`ThrottleHttpDate(d)`](Fault::ThrottleHttpDate) | as `Throttle(d)` | 429 + `Retry-After: <HTTP-date of now + d>` |
/// | [`Status`](Fault::Status) | `grpc_code` | `http_status` |
/// | [`PartialSuccess`](Fault::PartialSuccess) | `OK` + `partial_success` | 200 + `partialSuccess` |
/// | [`Delay(d)`](Fault::Delay) | `OK` after `d` | 200 after `d` |
/// | [`Hang`](Fault::Hang) | no answer (the stream reset at the request timeout) | no answer (408 at the request timeout over HTTP/1.1) |
///
/// Every HTTP error carries a `google.rpc.Status` body in the request's
/// encoding (protobuf or JSON); throttles also put a `RetryInfo` detail in it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The backend is down: gRPC `UNAVAILABLE`, HTTP 503 (both retryable).
    Unavailable,
    /// The backend is down and says when to come back: gRPC `UNAVAILABLE`
    /// with a `google.rpc.RetryInfo` detail; HTTP 503 with `Retry-After` in
    /// whole seconds, rounded up.
    UnavailableRetryAfter(Duration),
    /// The data is bad: gRPC `INVALID_ARGUMENT`, HTTP 400 (both permanent).
    InvalidArgument,
    /// A server bug: gRPC `INTERNAL`, HTTP 500 (both permanent).
    Internal,
    /// Missing or wrong credentials: gRPC `UNAUTHENTICATED`, HTTP 401 (both permanent).
    Unauthenticated,
    /// Slow down and retry after the delay: gRPC `RESOURCE_EXHAUSTED` with a
    /// `google.rpc.RetryInfo` detail; HTTP 429 with `Retry-After` in whole
    /// seconds, rounded up.
    Throttle(Duration),
    /// As [`Throttle`](Fault::Throttle), but HTTP's `Retry-After` is an
    /// HTTP-date (`now + delay`, rounded up to the next whole second).
    ThrottleHttpDate(Duration),
    /// Any other answer. Over gRPC a `grpc_code` outside 0..=16 is sent as
    /// `UNKNOWN`; over HTTP an `http_status` outside 100..=999 is sent as 500
    /// (the `google.rpc.Status` body carries `grpc_code` unchanged).
    Status {
        /// The gRPC status code (`tonic::Code as i32`).
        grpc_code: i32,
        /// The HTTP status code.
        http_status: u16,
        /// The status message (gRPC `grpc-message`, HTTP `google.rpc.Status.message`).
        message: String,
    },
    /// A success response that rejects some spans, log records or data
    /// points (`partial_success`).
    PartialSuccess {
        /// `rejected_spans` (`rejected_log_records` for logs,
        /// `rejected_data_points` for metrics): may be 0 (a warning) or
        /// exceed the items sent.
        rejected: i64,
        /// `error_message`.
        message: String,
    },
    /// Wait, then answer OK. A delay that reaches the
    /// [`request_timeout`](super::ReceiverConfig::request_timeout) times the
    /// request out instead (counted timed out, its records not counted).
    Delay(Duration),
    /// Never answer: the request stays open (and the connection with it) until
    /// the client gives up, the receiver refuses connections or shuts down,
    /// or its [`request_timeout`](super::ReceiverConfig::request_timeout) is
    /// up (then HTTP/1.1 gets a 408 and its connection closed, an HTTP/2
    /// stream is reset; the request stays counted faulted).
    Hang,
}

impl Fault {
    /// The gRPC code and message of a fault answered as an error; `None` for the
    /// faults that end in a success response.
    pub(crate) fn grpc_error(&self) -> Option<(i32, &str)> {
        Some(match self {
            Fault::Unavailable | Fault::UnavailableRetryAfter(_) => {
                (14, "receiver fault: unavailable")
            }
            Fault::InvalidArgument => (3, "receiver fault: invalid argument"),
            Fault::Internal => (13, "receiver fault: internal error"),
            Fault::Unauthenticated => (16, "receiver fault: unauthenticated"),
            Fault::Throttle(_) | Fault::ThrottleHttpDate(_) => (8, "receiver fault: throttled"),
            Fault::Status {
                grpc_code, message, ..
            } => (*grpc_code, message.as_str()),
            Fault::PartialSuccess { .. } | Fault::Delay(_) | Fault::Hang => return None,
        })
    }

    /// The HTTP status of a fault answered as an error.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            Fault::Unavailable | Fault::UnavailableRetryAfter(_) => 503,
            Fault::InvalidArgument => 400,
            Fault::Internal => 500,
            Fault::Unauthenticated => 401,
            Fault::Throttle(_) | Fault::ThrottleHttpDate(_) => 429,
            Fault::Status { http_status, .. } => *http_status,
            Fault::PartialSuccess { .. } | Fault::Delay(_) | Fault::Hang => 200,
        }
    }

    /// The throttle delay (`RetryInfo`, `Retry-After`), if any.
    pub(crate) fn retry_delay(&self) -> Option<Duration> {
        match self {
            Fault::Throttle(delay)
            | Fault::ThrottleHttpDate(delay)
            | Fault::UnavailableRetryAfter(delay) => Some(*delay),
            _ => None,
        }
    }
}

/// The fault script: a queue played one fault per request, then an optional
/// fallback fault for every request after it.
///
/// One short lock per request; shared by both transports and every signal, so
/// the order is the order in which requests finished decoding.
#[derive(Debug, Default)]
pub(crate) struct FaultScript {
    inner: Mutex<ScriptState>,
}

#[derive(Debug, Default)]
struct ScriptState {
    queue: VecDeque<Fault>,
    fallback: Option<Fault>,
}

impl FaultScript {
    fn lock(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        // A poisoned lock only means a panic elsewhere; the queue itself is intact.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn push(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().queue.extend(faults);
    }

    pub(crate) fn set_fallback(&self, fault: Option<Fault>) {
        self.lock().fallback = fault;
    }

    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.fallback = None;
    }

    pub(crate) fn pending(&self) -> usize {
        self.lock().queue.len()
    }

    /// The fault for the next request, if any.
    pub(crate) fn next(&self) -> Option<Fault> {
        let mut state = self.lock();
        state.queue.pop_front().or_else(|| state.fallback.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_plays_in_order_then_falls_back() {
        let script = FaultScript::default();
        script.push([Fault::Unavailable, Fault::Hang]);
        script.set_fallback(Some(Fault::Internal));
        assert_eq!(script.pending(), 2);
        assert_eq!(script.next(), Some(Fault::Unavailable));
        assert_eq!(script.next(), Some(Fault::Hang));
        assert_eq!(script.next(), Some(Fault::Internal));
        assert_eq!(script.next(), Some(Fault::Internal));
        script.clear();
        assert_eq!(script.next(), None);
    }

    #[test]
    fn every_error_fault_has_a_code_and_status() {
        let throttle = Fault::Throttle(Duration::from_millis(1500));
        assert_eq!(throttle.grpc_error().map(|(code, _)| code), Some(8));
        assert_eq!(throttle.http_status(), 429);
        assert_eq!(throttle.retry_delay(), Some(Duration::from_millis(1500)));
        assert_eq!(Fault::Delay(Duration::ZERO).grpc_error(), None);
        let custom = Fault::Status {
            grpc_code: 9,
            http_status: 409,
            message: "busy".into(),
        };
        assert_eq!(custom.grpc_error(), Some((9, "busy")));
        assert_eq!(custom.http_status(), 409);
    }
}
