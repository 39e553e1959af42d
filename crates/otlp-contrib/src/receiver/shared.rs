//! The state both transports share, and the one place that decides how a
//! decoded request is answered: next fault of the script, record, reply.
//! Requests of every signal take their faults from the same script.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use otlp_core::response::PartialSuccess;

use super::config::{ReceiverConfig, RequestObserver, Store};
use super::export_request::Decoded;
use super::faults::{Fault, FaultScript};
use super::request_cut::{ConnectionReset, RequestDeadline};
use super::store::{Answer, Collected, ReceivedRequest, Transport};

/// Everything a request handler needs, behind one `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) max_request_bytes: usize,
    pub(crate) observer: Option<RequestObserver>,
    pub(crate) faults: FaultScript,
    pub(crate) collected: Collected,
}

impl Shared {
    pub(crate) fn new(config: &ReceiverConfig) -> Arc<Self> {
        Arc::new(Shared {
            store: config.store,
            max_request_bytes: config.max_request_bytes,
            observer: config.observer.clone(),
            faults: FaultScript::default(),
            collected: Collected::default(),
        })
    }
}

/// One request in the receiver's books: counted when it arrives and settled
/// exactly once — answered, refused as bad input, or, when the connection
/// drops it before either, abandoned, or timed out when its
/// [`RequestDeadline`] had passed by then (counted on drop). So
/// `requests = accepted + faulted + bad + abandoned + timed out + in progress`
/// holds whatever a client does. A request whose connection the receiver closed
/// itself before it was settled (refusing connections, or dropping one whose
/// idle close did not end in time) is abandoned too,
/// whatever its handler decides afterwards: it can no longer be answered,
/// and its client sends it again.
#[derive(Debug)]
pub(crate) struct RequestTicket {
    shared: Arc<Shared>,
    settled: AtomicBool,
    /// The connection it came on, when one of the receiver's own listeners
    /// accepted it (not through [`ReceiverService`](super::ReceiverService)).
    connection: Option<ConnectionReset>,
    /// When the listener cuts the request (see
    /// [`ReceiverConfig::request_timeout`](super::ReceiverConfig::request_timeout)),
    /// when one of its own listeners accepted it.
    deadline: Option<RequestDeadline>,
}

impl RequestTicket {
    /// Counts an arriving request, which came on `connection` (see
    /// [`ConnectionReset`]) and is cut at `deadline` if one of the
    /// receiver's listeners accepted it.
    pub(crate) fn arrive(
        shared: &Arc<Shared>,
        connection: Option<ConnectionReset>,
        deadline: Option<RequestDeadline>,
    ) -> Self {
        shared.collected.note_request();
        RequestTicket {
            shared: Arc::clone(shared),
            settled: AtomicBool::new(false),
            connection,
            deadline,
        }
    }

    /// Takes the one settlement for an answer or a refusal; false if the
    /// request was settled already, or if its connection was reset (then it
    /// stays unsettled, and is counted abandoned when dropped).
    fn settle_answered(&self) -> bool {
        !self.connection_was_reset() && self.settle()
    }

    /// Whether the receiver has closed the connection the request came on.
    fn connection_was_reset(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(ConnectionReset::happened)
    }

    /// True once the request was answered or refused.
    pub(crate) fn is_settled(&self) -> bool {
        self.settled.load(Ordering::SeqCst)
    }

    /// Takes the one settlement; false if the request was settled already.
    fn settle(&self) -> bool {
        !self.settled.swap(true, Ordering::SeqCst)
    }

    /// Counts the request as refused bad input (abandoned, if its
    /// connection was reset meanwhile).
    pub(crate) fn refuse(&self) {
        if self.settle_answered() {
            self.shared.collected.note_bad_request();
        }
    }
}

impl Drop for RequestTicket {
    fn drop(&mut self) {
        if self.settle() {
            // The listener drops a request when its deadline passes, never
            // before: dropped unsettled after it, it was cut for its time.
            if self.deadline.as_ref().is_some_and(RequestDeadline::passed) {
                self.shared.collected.note_timed_out_request();
            } else {
                self.shared.collected.note_abandoned_request();
            }
        }
    }
}

/// Where a request came from and how it was framed, for [`ReceivedRequest`].
#[derive(Debug)]
pub(crate) struct RequestMeta {
    pub(crate) transport: Transport,
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
}

impl RequestMeta {
    fn new(transport: Transport, headers: &HeaderMap, encoding_header: &str) -> Self {
        let value = |name: &str| {
            headers
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        RequestMeta {
            transport,
            content_type: value("content-type"),
            content_encoding: value(encoding_header),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        }
    }
}

/// The protocol-independent answer; each transport renders it.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Success, with `partial_success` when some spans, log records or data
    /// points were rejected (`rejected_spans` then stands for
    /// `rejected_log_records` or `rejected_data_points`: all are field 1 of
    /// their `partial_success` message).
    Success(Option<PartialSuccess>),
    /// An error fault.
    Error(Fault),
}

impl Shared {
    /// The metadata worth keeping for a request: none in [`Store::CountOnly`],
    /// which must not spend allocations on it.
    pub(crate) fn meta(
        &self,
        transport: Transport,
        headers: &HeaderMap,
        encoding_header: &str,
    ) -> Option<RequestMeta> {
        (self.store != Store::CountOnly)
            .then(|| RequestMeta::new(transport, headers, encoding_header))
    }

    /// Plays the next fault on a decoded request, records it, and replies.
    /// Never returns for [`Fault::Hang`], nor for a request whose connection
    /// the receiver closed before it was counted.
    pub(crate) async fn answer(
        &self,
        ticket: &RequestTicket,
        meta: Option<RequestMeta>,
        decoded: Decoded,
    ) -> Reply {
        let answer = match self.faults.next() {
            None => Answer::Ok,
            Some(Fault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                Answer::Ok
            }
            Some(Fault::PartialSuccess { rejected, message }) => {
                Answer::Partial { rejected, message }
            }
            Some(fault) => Answer::Fault(fault),
        };
        self.record(ticket, meta, decoded, &answer);
        if !ticket.is_settled() {
            // Its connection reset, it was not counted (see `record`), so it
            // is never answered: an OK that got out before the connection's
            // task was aborted would be a loss. hyper drops this future once
            // it sees the connection gone.
            return std::future::pending().await;
        }
        match answer {
            Answer::Ok => Reply::Success(None),
            Answer::Partial { rejected, message } => Reply::Success(Some(PartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            })),
            Answer::Fault(Fault::Hang) => std::future::pending().await,
            Answer::Fault(fault) => Reply::Error(fault),
        }
    }

    fn record(
        &self,
        ticket: &RequestTicket,
        meta: Option<RequestMeta>,
        decoded: Decoded,
        answer: &Answer,
    ) {
        // A request whose connection the receiver closed meanwhile (it was
        // being decoded: hyper's task for an HTTP/2 stream does not end with
        // its connection's in the middle of a poll) stays unsettled, unseen
        // by the observer and uncounted.
        if !ticket.settle_answered() {
            return;
        }
        let (signal, items) = (decoded.signal(), decoded.item_count());
        let mut keep = None;
        if let Some(meta) = meta
            && !matches!(decoded, Decoded::Count(..))
        {
            let mut received = ReceivedRequest {
                transport: meta.transport,
                signal,
                request: Default::default(),
                logs: Default::default(),
                metrics: Default::default(),
                content_type: meta.content_type,
                content_encoding: meta.content_encoding,
                headers: meta.headers,
                answered: answer.clone(),
                span_count: 0,
                log_record_count: 0,
                data_point_count: 0,
            };
            match decoded {
                Decoded::Traces(request, spans) => {
                    received.request = *request;
                    received.span_count = spans;
                }
                Decoded::Logs(logs, records) => {
                    received.logs = *logs;
                    received.log_record_count = records;
                }
                Decoded::Metrics(metrics, points) => {
                    received.metrics = *metrics;
                    received.data_point_count = points;
                }
                Decoded::Count(..) => {}
            }
            if let Some(observer) = &self.observer {
                observer.call(&received);
            }
            if self.store == Store::All {
                keep = Some(received);
            }
        }
        self.collected
            .note_answer(answer.is_accepted(), signal, items, keep);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::AtomicU64;
    use std::task::{Context, Poll, Waker};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    use super::*;
    use crate::receiver::decode::{self, Format};
    use crate::receiver::store::Signal;

    /// A decoded request of `spans` spans.
    fn decoded(spans: usize) -> Decoded {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..spans)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: vec![u8::try_from(i + 1).unwrap_or(1); 8],
                            name: "in hand".into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        decode::decode(
            Signal::Traces,
            Format::Protobuf,
            &request.encode_to_vec(),
            Store::All,
        )
        .expect("decodes")
    }

    /// compare's outage scenario counted a batch twice: the receiver closed
    /// the connection (refusing connections) while a request read whole was
    /// being decoded, hyper (whose task for an HTTP/2 stream is not ended
    /// in the middle of a poll by aborting the connection's) went on to count
    /// it, and the exporter, which got no answer, sent it again. Such a
    /// request is abandoned: not counted, not observed, never answered.
    #[test]
    fn a_request_whose_connection_was_closed_before_it_was_counted_is_abandoned() {
        let observed = Arc::new(AtomicU64::new(0));
        let shared = Shared::new(&ReceiverConfig {
            observer: Some(RequestObserver::new({
                let observed = Arc::clone(&observed);
                move |_| {
                    observed.fetch_add(1, Ordering::SeqCst);
                }
            })),
            ..Default::default()
        });
        let resets = Arc::new(AtomicU64::new(0));
        let mut context = Context::from_waker(Waker::noop());
        let meta = || shared.meta(Transport::Grpc, &HeaderMap::new(), "grpc-encoding");

        // Its connection open: counted, observed, answered.
        let ticket = RequestTicket::arrive(&shared, Some(ConnectionReset::accepted(&resets)), None);
        let mut answer = Box::pin(shared.answer(&ticket, meta(), decoded(2)));
        assert!(matches!(
            answer.as_mut().poll(&mut context),
            Poll::Ready(Reply::Success(None))
        ));
        drop(answer);
        drop(ticket);

        // Its connection closed once it was decoded, before it was counted.
        let ticket = RequestTicket::arrive(&shared, Some(ConnectionReset::accepted(&resets)), None);
        let decoded = decoded(3);
        resets.fetch_add(1, Ordering::SeqCst);
        let mut answer = Box::pin(shared.answer(&ticket, meta(), decoded));
        assert!(answer.as_mut().poll(&mut context).is_pending(), "no answer");
        drop(answer);
        drop(ticket);

        let stats = shared.collected.stats();
        assert_eq!(
            (
                stats.requests,
                stats.accepted_requests,
                stats.accepted_spans,
                stats.abandoned_requests,
                stats.bad_requests,
                observed.load(Ordering::SeqCst),
            ),
            (2, 1, 2, 1, 0, 1),
            "{stats:?}"
        );
    }
}
