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
/// drops it before either, abandoned (counted on drop). So
/// `requests = accepted + faulted + bad + abandoned + in progress` holds
/// whatever a client does.
#[derive(Debug)]
pub(crate) struct RequestTicket {
    shared: Arc<Shared>,
    settled: AtomicBool,
}

impl RequestTicket {
    /// Counts an arriving request.
    pub(crate) fn arrive(shared: &Arc<Shared>) -> Self {
        shared.collected.note_request();
        RequestTicket {
            shared: Arc::clone(shared),
            settled: AtomicBool::new(false),
        }
    }

    /// True once the request was answered or refused.
    pub(crate) fn is_settled(&self) -> bool {
        self.settled.load(Ordering::SeqCst)
    }

    /// Takes the one settlement; false if the request was settled already.
    fn settle(&self) -> bool {
        !self.settled.swap(true, Ordering::SeqCst)
    }

    /// Counts the request as refused bad input.
    pub(crate) fn refuse(&self) {
        if self.settle() {
            self.shared.collected.note_bad_request();
        }
    }
}

impl Drop for RequestTicket {
    fn drop(&mut self) {
        if self.settle() {
            self.shared.collected.note_abandoned_request();
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
    /// Never returns for [`Fault::Hang`].
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
        if !ticket.settle() {
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
