//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! `opentelemetry.proto.collector.logs.v1.LogsService/Export` and
//! `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`.
//!
//! On the wire the receiver runs tonic's server machinery (framing,
//! `grpc-encoding` gzip/zstd, the decoding size limit) with a raw-bytes codec
//! and decodes the message itself, for two reasons: [`Store::CountOnly`]
//! counts spans, log records and data points without building structs, and an
//! undecodable message must be `INVALID_ARGUMENT` (the OTLP answer for bad
//! data), where tonic's prost codec would say `INTERNAL`. [`ReceiverService`]
//! offers the same behaviour as an `opentelemetry-proto` [`TraceService`],
//! [`LogsService`] and [`MetricsService`] for your own tonic server.
//!
//! A request whose `content-type` is not gRPC's is answered HTTP 415 before
//! tonic sees it (the gRPC specification's answer; tonic does not check),
//! as grpc-go (so the OpenTelemetry Collector) answers it: a trailers-only
//! gRPC answer, `content-type: application/grpc`, `INVALID_ARGUMENT`
//! naming the content type, no body.
//!
//! `grpc-encoding: zstd` is undone by the receiver, not by tonic: tonic's
//! decoder grants a frame the window its header asks for, up to zstd's
//! default limit of 128 MiB, whatever the cap, and allocates it before it
//! decodes a byte. The receiver grants what the HTTP side grants
//! ([`otlp_sdk::compression::zstd_window_log_max`]: what a message of
//! `max_request_bytes` can need, 8 MiB at least), reading the windows its
//! frames declare first; a message asking for more is `RESOURCE_EXHAUSTED`
//! without `RetryInfo`, as a message over the cap is.
//!
//! Errors raised by tonic before the message reaches the receiver: a message
//! over the cap and decompressing past the cap are both `RESOURCE_EXHAUSTED`
//! without `RetryInfo` (so not retryable; tonic says `OUT_OF_RANGE` for the
//! first, which OTLP clients retry, so [`serve`] rewrites it to what grpc-go,
//! and so the OpenTelemetry Collector, answers), a corrupt compressed message
//! `INTERNAL` (zstd's too, though the receiver undoes it), an unsupported `grpc-encoding` `UNIMPLEMENTED`; a call that
//! carries no message, or more than one (the call is unary), is `INTERNAL`
//! too, as grpc-java answers (tonic's unary path would keep the first
//! message and drop the others unread). All are permanent errors for an OTLP
//! client. A request whose body cannot be read
//! (the client reset the stream or hung up before its message was whole)
//! is counted abandoned, not bad.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsService;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otlp_core::response::{RpcStatus, encode_export_response};
use otlp_exporter_grpc::RawCodec;
use otlp_sdk::compression::{self, ContentCoding, DecompressError};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};

use super::config::Store;
use super::decode::{self, Format};
use super::export_request::ExportRequest;
use super::faults::Fault;
use super::request_cut::{ConnectionReset, RequestDeadline};
use super::shared::{Reply, RequestTicket, Shared};
use super::store::{Signal, Transport};
use super::zstd_window;

/// Serves one HTTP/2 request of the gRPC listener.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<tonic::body::Body>, Infallible> {
    let connection = request.extensions().get::<ConnectionReset>().cloned();
    let deadline = request.extensions().get::<RequestDeadline>().copied();
    let ticket = Arc::new(RequestTicket::arrive(&shared, connection, deadline));
    if !is_grpc_content(request.headers()) {
        ticket.refuse();
        return Ok(unsupported_media_type(request.headers()));
    }
    let path = request.uri().path();
    let Some(signal) = Signal::ALL
        .into_iter()
        .find(|signal| signal.grpc_path() == path)
    else {
        ticket.refuse();
        let message = format!(
            "unknown method {path}; OTLP traces use {}, logs {}, metrics {}",
            Signal::Traces.grpc_path(),
            Signal::Logs.grpc_path(),
            Signal::Metrics.grpc_path()
        );
        return Ok(Status::unimplemented(message).into_http());
    };
    // zstd is undone by `ExportCall` (see the module docs): tonic must not
    // see the encoding, nor a compressed flag it would then refuse.
    let zstd = take_zstd_encoding(request.headers_mut());
    let first_compressed = Arc::new(AtomicBool::new(false));
    let mut zstd_messages = zstd.is_some().then(|| ZstdMessages::new(&first_compressed));
    let call = ExportCall {
        shared: Arc::clone(&shared),
        ticket: Arc::clone(&ticket),
        signal,
        zstd,
        first_compressed,
    };
    let mut grpc = tonic::server::Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(shared.max_request_bytes);
    // Whether reading the body failed: the client hung up or reset the
    // stream before its message was whole.
    let body_failed = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        let body_failed = Arc::clone(&body_failed);
        body.map_err(move |error| {
            body_failed.store(true, Ordering::SeqCst);
            error
        })
        .map_frame(move |frame| match zstd_messages.as_mut() {
            Some(messages) => frame.map_data(|data| messages.clear_flags(data)),
            None => frame,
        })
    });
    let response = grpc.client_streaming(call, request).await;
    if !ticket.is_settled() {
        if body_failed.load(Ordering::SeqCst) {
            // The client gave up on the request: left unsettled, the ticket
            // counts it abandoned when dropped, not as bad input.
            return Ok(response);
        }
        // tonic refused the message itself (framing, encoding or size), or
        // the call carried no message or more than one (`one_message`).
        ticket.refuse();
        return Ok(permanent_size_refusal(response));
    }
    Ok(response)
}

/// Whether the request says it is gRPC: a `content-type` of
/// `application/grpc`, alone or with a `+` or `;` suffix
/// (`application/grpc+proto`). tonic does not look.
fn is_grpc_content(headers: &http::HeaderMap) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return false;
    };
    let value = value.as_bytes();
    value.len() >= GRPC.len()
        && value[..GRPC.len()].eq_ignore_ascii_case(GRPC)
        && matches!(value.get(GRPC.len()), None | Some(b'+' | b';'))
}

/// HTTP 415, as the gRPC specification asks of a server for a request that is
/// not gRPC: a client of another protocol must not take a gRPC error, which
/// is an HTTP 200, for success. Otherwise the answer grpc-go gives (its
/// `earlyAbortStream`): trailers-only, `content-type: application/grpc`,
/// `grpc-status` 3 (`INVALID_ARGUMENT`), a `grpc-message` naming the content
/// type (`""` for none), no body.
fn unsupported_media_type(headers: &http::HeaderMap) -> http::Response<tonic::body::Body> {
    let given = headers
        .get(http::header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut response =
        Status::invalid_argument(format!("invalid gRPC request content-type {given:?}"))
            .into_http::<tonic::body::Body>();
    *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response
}

/// Removes a `grpc-encoding: zstd` header (tonic then sees an uncompressed
/// call), returning it; any other encoding stays for tonic.
fn take_zstd_encoding(headers: &mut http::HeaderMap) -> Option<http::HeaderValue> {
    const ENCODING: &str = "grpc-encoding";
    if headers.get(ENCODING)?.as_bytes() != b"zstd" {
        return None;
    }
    headers.remove(ENCODING)
}

/// Follows the gRPC framing of a `grpc-encoding: zstd` request body (a
/// 5-byte prefix, compressed flag and length, then the message) and clears
/// each message's compressed flag, so that tonic, told of no encoding,
/// passes the message on as it came; whether the first message was
/// compressed is told to [`ExportCall`], which undoes it. Other flags are
/// left for tonic to refuse.
///
/// Cost: a look at each prefix byte; the chunk holding a flag to clear is
/// copied once.
struct ZstdMessages {
    /// Bytes of the current prefix seen (0 to 4), while `message_left` is 0.
    prefix_seen: usize,
    /// The current prefix's length field, big-endian.
    length: [u8; 4],
    /// Bytes of the current message still to come.
    message_left: usize,
    /// Prefixes seen whole or in part.
    messages: usize,
    /// Set when the first message is flagged compressed.
    first_compressed: Arc<AtomicBool>,
}

impl ZstdMessages {
    fn new(first_compressed: &Arc<AtomicBool>) -> Self {
        Self {
            prefix_seen: 0,
            length: [0; 4],
            message_left: 0,
            messages: 0,
            first_compressed: Arc::clone(first_compressed),
        }
    }

    /// `data`, the next bytes of the body, with the compressed flags in it
    /// cleared.
    fn clear_flags(&mut self, data: Bytes) -> Bytes {
        let mut cleared: Option<BytesMut> = None;
        let mut at = 0;
        while let Some(&byte) = data.get(at) {
            if self.message_left > 0 {
                let skip = self.message_left.min(data.len() - at);
                self.message_left -= skip;
                at += skip;
                continue;
            }
            match self.prefix_seen {
                0 => {
                    if byte == 1 {
                        if self.messages == 0 {
                            self.first_compressed.store(true, Ordering::SeqCst);
                        }
                        let copy = cleared.get_or_insert_with(|| BytesMut::from(&data[..]));
                        if let Some(flag) = copy.get_mut(at) {
                            *flag = 0;
                        }
                    }
                    self.messages += 1;
                }
                seen => {
                    if let Some(slot) = self.length.get_mut(seen - 1) {
                        *slot = byte;
                    }
                }
            }
            self.prefix_seen += 1;
            at += 1;
            if self.prefix_seen == 5 {
                self.prefix_seen = 0;
                self.message_left =
                    usize::try_from(u32::from_be_bytes(self.length)).unwrap_or(usize::MAX);
            }
        }
        cleared.map_or(data, BytesMut::freeze)
    }
}

/// A zstd `message` undone as the HTTP side undoes a body: at most `cap`
/// bytes of it, its frames granted the window a message of `cap` bytes can
/// need ([`compression::zstd_window_log_max`]). A frame declaring more is
/// refused from its header, before the decoder allocates anything. The
/// errors are tonic's for the same cases: `RESOURCE_EXHAUSTED` past the
/// cap (here the window too), `INTERNAL` for a corrupt message.
fn unzstd(message: &Bytes, cap: usize) -> Result<Bytes, Status> {
    let granted = 1u64 << compression::zstd_window_log_max(cap);
    let window = zstd_window::largest_window(message);
    if window > granted {
        return Err(Status::resource_exhausted(format!(
            "Error decompressing: a zstd frame declares a window of {window} bytes, \
             more than the {granted} bytes granted to a message of at most {cap} bytes"
        )));
    }
    match compression::decompress(ContentCoding::Zstd, message, cap) {
        Ok(Some(decompressed)) => Ok(Bytes::from(decompressed)),
        Ok(None) => Ok(message.clone()),
        Err(DecompressError::TooLarge) => Err(Status::resource_exhausted(format!(
            "Error decompressing: size limit, of {cap} bytes, exceeded while decompressing message"
        ))),
        Err(DecompressError::Corrupt(why)) => Err(Status::internal(format!(
            "Error decompressing: {why}, while sending request"
        ))),
    }
}

/// tonic answers a message over `max_decoding_message_size` with
/// `OUT_OF_RANGE`, which OTLP clients retry (the same oversized batch, until
/// they give up); this turns that trailers-only answer into
/// `RESOURCE_EXHAUSTED` without `RetryInfo`, which they do not retry, keeping
/// tonic's message. Any other response is returned as it is.
///
/// Only for responses tonic made before the receiver saw the message (the
/// receiver itself never answers `OUT_OF_RANGE` then).
fn permanent_size_refusal(
    response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    match Status::from_header_map(response.headers()) {
        Some(status) if status.code() == Code::OutOfRange => {
            Status::resource_exhausted(status.message()).into_http()
        }
        _ => response,
    }
}

/// One export call on raw bytes, of any signal.
struct ExportCall {
    shared: Arc<Shared>,
    ticket: Arc<RequestTicket>,
    signal: Signal,
    /// The `grpc-encoding: zstd` header taken from the request, if it had one.
    zstd: Option<http::HeaderValue>,
    /// Whether the first message was flagged compressed ([`ZstdMessages`]).
    first_compressed: Arc<AtomicBool>,
}

type ExportFuture = Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>>;

/// Served as tonic serves a client-streaming call, so that the messages
/// after the first are seen ([`one_message`]); the call is unary all the same.
impl tonic::server::ClientStreamingService<Bytes> for ExportCall {
    type Response = Bytes;
    type Future = ExportFuture;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let ticket = Arc::clone(&self.ticket);
        let signal = self.signal;
        let zstd = self.zstd.clone();
        let first_compressed = Arc::clone(&self.first_compressed);
        Box::pin(async move {
            // Left unsettled on an error, the ticket is settled by `serve`
            // as one tonic refused (or the client abandoned).
            let mut request = one_message(request).await?;
            if zstd.is_some() && first_compressed.load(Ordering::SeqCst) {
                match unzstd(request.get_ref(), shared.max_request_bytes) {
                    Ok(message) => *request.get_mut() = message,
                    Err(status) => {
                        ticket.refuse();
                        return Err(status);
                    }
                }
            }
            let meta = (shared.store != Store::CountOnly).then(|| {
                let mut headers = request.metadata().clone().into_headers();
                if let Some(encoding) = zstd {
                    headers.insert("grpc-encoding", encoding);
                }
                headers
            });
            let meta =
                meta.and_then(|headers| shared.meta(Transport::Grpc, &headers, "grpc-encoding"));
            if let Err(message) = decode::check_decoded_size(
                signal,
                Format::Protobuf,
                request.get_ref(),
                shared.store,
                shared.max_request_bytes,
            ) {
                // Permanent, as a message over the cap: no `RetryInfo`.
                ticket.refuse();
                return Err(Status::resource_exhausted(message));
            }
            let decoded =
                match decode::decode(signal, Format::Protobuf, request.get_ref(), shared.store) {
                    Ok(decoded) => decoded,
                    Err(message) => {
                        ticket.refuse();
                        return Err(Status::invalid_argument(message));
                    }
                };
            match shared.answer(&ticket, meta, decoded).await {
                // The responses of the three signals share their wire layout.
                Reply::Success(partial) => Ok(tonic::Response::new(Bytes::from(
                    encode_export_response(partial.as_ref()),
                ))),
                Reply::Error(fault) => Err(fault_status(&fault)),
            }
        })
    }
}

/// The one request message of a unary call, read as tonic's unary path
/// reads it (an empty call is `INTERNAL` "Missing request message.", the
/// client's trailers join the metadata), except that a second message is
/// refused, `INTERNAL` as grpc-java does: tonic's unary path keeps the
/// first and drops the others unread, so a call carrying two requests was
/// answered OK with the second one's items lost.
async fn one_message(
    request: tonic::Request<tonic::Streaming<Bytes>>,
) -> Result<tonic::Request<Bytes>, Status> {
    let (metadata, extensions, mut stream) = request.into_parts();
    let message = stream
        .message()
        .await?
        .ok_or_else(|| Status::internal("Missing request message."))?;
    if stream.message().await?.is_some() {
        return Err(Status::internal(
            "an Export call is unary: it carries one request message, and this one carried more",
        ));
    }
    let metadata = match stream.trailers().await? {
        Some(trailers) => {
            let mut headers = metadata.into_headers();
            headers.extend(trailers.into_headers());
            tonic::metadata::MetadataMap::from_headers(headers)
        }
        None => metadata,
    };
    Ok(tonic::Request::from_parts(metadata, extensions, message))
}

/// The gRPC status of an error fault; throttles carry `RetryInfo` in the details.
pub(crate) fn fault_status(fault: &Fault) -> Status {
    let (code, message) = fault.grpc_error().unwrap_or((13, "receiver fault"));
    match fault.retry_delay() {
        Some(delay) => {
            let details = RpcStatus {
                code,
                message: message.to_owned(),
                retry_delay: Some(delay),
            }
            .encode();
            Status::with_details(Code::from(code), message, Bytes::from(details))
        }
        None => Status::new(Code::from(code), message),
    }
}

/// An `opentelemetry-proto` [`TraceService`], [`LogsService`] and
/// [`MetricsService`] that shares a [`Receiver`](super::Receiver)'s fault
/// script and collected data.
///
/// Mount it in your own tonic server (`TraceServiceServer::new(service.clone())`,
/// `LogsServiceServer::new(service.clone())`, `MetricsServiceServer::new(service)`)
/// when you need its transport settings;
/// the receiver's own gRPC listener behaves the same, except that there
/// tonic's prost codec does not run (see the module docs): here an
/// undecodable message is tonic's `INTERNAL`, while ids of the wrong length
/// are still `INVALID_ARGUMENT`; and here a call carrying more than one
/// message gets the first one handled (tonic's generated unary code drops
/// the others), where the listener refuses it; and here your server's tonic
/// undoes `grpc-encoding: zstd`, granting a frame the window it declares up
/// to zstd's default limit (128 MiB), where the listener grants what the cap
/// can need. Cloning is cheap (an `Arc`).
#[derive(Clone, Debug)]
pub struct ReceiverService {
    pub(crate) shared: Arc<Shared>,
}

impl ReceiverService {
    /// The one export path of the three services: check, play the next
    /// fault, record, answer.
    async fn answer_export<R: ExportRequest>(
        &self,
        request: tonic::Request<R>,
    ) -> Result<tonic::Response<R::Response>, Status> {
        let shared = &self.shared;
        let ticket = RequestTicket::arrive(shared, None, None);
        let headers = request.metadata().clone().into_headers();
        let meta = shared.meta(Transport::Grpc, &headers, "grpc-encoding");
        let decoded = match decode::checked(request.into_inner()) {
            Ok(decoded) if shared.store == Store::CountOnly => decoded.into_count(),
            Ok(decoded) => decoded,
            Err(message) => {
                ticket.refuse();
                return Err(Status::invalid_argument(message));
            }
        };
        match shared.answer(&ticket, meta, decoded).await {
            Reply::Success(partial) => Ok(tonic::Response::new(R::response(partial))),
            Reply::Error(fault) => Err(fault_status(&fault)),
        }
    }
}

#[tonic::async_trait]
impl TraceService for ReceiverService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        self.answer_export(request).await
    }
}

#[tonic::async_trait]
impl LogsService for ReceiverService {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        self.answer_export(request).await
    }
}

#[tonic::async_trait]
impl MetricsService for ReceiverService {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        self.answer_export(request).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn oversized_messages_are_resource_exhausted_without_retry_info() {
        let tonic_answer = Status::out_of_range(
            "Error, decoded message length too large: found 102400 bytes, the limit is: 65536 bytes",
        )
        .into_http::<tonic::body::Body>();
        let answer = permanent_size_refusal(tonic_answer);
        let status = Status::from_header_map(answer.headers());
        assert_eq!(
            status.as_ref().map(Status::code),
            Some(Code::ResourceExhausted)
        );
        let status = status.unwrap_or_else(|| Status::unknown(""));
        assert!(status.details().is_empty(), "no RetryInfo");
        assert!(
            status.message().contains("found 102400 bytes"),
            "{status:?}"
        );
        // Other refusals pass through untouched.
        let unimplemented = permanent_size_refusal(Status::unimplemented("zstd2").into_http());
        assert_eq!(
            Status::from_header_map(unimplemented.headers()).map(|s| s.code()),
            Some(Code::Unimplemented)
        );
    }

    /// The flags are found and cleared wherever the body is cut into
    /// chunks, the messages' bytes left as they are (a 1 inside a message
    /// is not a flag).
    #[test]
    fn zstd_messages_clear_every_compressed_flag_across_chunk_boundaries() {
        let mut body = vec![1, 0, 0, 0, 3, 1, 1, 1];
        body.extend_from_slice(&[0, 0, 0, 0, 0]);
        body.extend_from_slice(&[1, 0, 0, 0, 2, 1, 0]);
        let mut expected = body.clone();
        expected[0] = 0;
        expected[13] = 0;
        for cut in 0..=body.len() {
            for second_cut in cut..=body.len() {
                let first_compressed = Arc::new(AtomicBool::new(false));
                let mut messages = ZstdMessages::new(&first_compressed);
                let out: Vec<u8> = [&body[..cut], &body[cut..second_cut], &body[second_cut..]]
                    .into_iter()
                    .flat_map(|chunk| messages.clear_flags(Bytes::copy_from_slice(chunk)))
                    .collect();
                assert_eq!(out, expected, "cut at {cut} and {second_cut}");
                assert!(first_compressed.load(Ordering::SeqCst));
                assert_eq!(messages.messages, 3);
            }
        }
        // An uncompressed first message is told as such, and left alone.
        let first_compressed = Arc::new(AtomicBool::new(false));
        let mut messages = ZstdMessages::new(&first_compressed);
        let plain = Bytes::from_static(&[0, 0, 0, 0, 1, 1]);
        assert_eq!(messages.clear_flags(plain.clone()), plain);
        assert!(!first_compressed.load(Ordering::SeqCst));
    }

    #[test]
    fn throttle_status_carries_retry_info() {
        let status = fault_status(&Fault::Throttle(Duration::from_millis(1500)));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = RpcStatus::decode(status.details()).ok();
        assert_eq!(
            details.and_then(|d| d.retry_delay),
            Some(Duration::from_millis(1500))
        );
        let plain = fault_status(&Fault::Unavailable);
        assert_eq!(plain.code(), Code::Unavailable);
        assert!(plain.details().is_empty());
    }
}
