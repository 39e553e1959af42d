//! Hostile input for the receiver's request decoding, over real HTTP and gRPC
//! on loopback: arbitrary and mutated protobuf and OTLP/JSON bodies,
//! gzip/zstd bodies corrupted before and after compression, compression
//! bombs, odd content types and encodings, broken gRPC framing and mutated
//! raw HTTP/1.1 requests.
//!
//! Properties: no receiver thread panics; every request gets an answer, and
//! the right one — 200/OK exactly when the body decodes (as
//! `opentelemetry-proto`, or `count_spans` in count-only mode, reads it) with
//! valid ids (count-only OTLP/JSON checks them too), 400/INVALID_ARGUMENT
//! when it does not, 413 over the cap, 415 for an unknown type or encoding,
//! always with a `google.rpc.Status` body; the receiver's counters add up;
//! and a valid request right after each hostile one is served.
//!
//! Bounded run: `PROPTEST_CASES=20000 cargo test -p otlp-contrib --test hostile_receiver`.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, Once};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otlp_contrib::receiver::{Receiver, ReceiverConfig, ReceiverStats, Store};
use otlp_contrib::testing::fuzz::{Mutation, config, mutate, mutated, mutations};
use otlp_core::response::RpcStatus;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use prost::Message;

/// The receivers' body cap: small, so bombs and oversized bodies are cheap.
const CAP: usize = 64 << 10;
const TIMEOUT: Duration = Duration::from_secs(10);
const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

// ---- case count, mutations and panic watch ------------------------------------------

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(config(default_cases))
}

/// Bytes that mean something to protobuf, JSON and HTTP framing.
const DICTIONARY: &[u8] = b"\0\x01\x02\x08\x0a\x10\x12\x1a\x22\x7f\x80\xff\"{}[]:,-0e9\\ \r\n";

/// Panics on receiver threads, seen through a process-wide hook (a panic in a
/// request task would otherwise only show as a dropped connection).
static RECEIVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_receiver_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if thread
                .name()
                .is_some_and(|name| name.starts_with("otlp-receiver"))
            {
                let mut panics = RECEIVER_PANICS.lock().unwrap_or_else(|e| e.into_inner());
                panics.push(info.to_string());
            }
            default(info);
        }));
    });
}

fn assert_no_receiver_panic() {
    let panics = RECEIVER_PANICS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(panics.is_empty(), "the receiver panicked: {panics:?}");
}

// ---- requests ------------------------------------------------------------------

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), len),
        1 => vec(any::<u8>(), 0..20),
    ]
}

fn attribute() -> impl Strategy<Value = KeyValue> {
    let value = prop_oneof![
        ".{0,12}".prop_map(Value::StringValue),
        any::<i64>().prop_map(Value::IntValue),
        any::<f64>().prop_map(Value::DoubleValue),
        any::<bool>().prop_map(Value::BoolValue),
        vec(any::<u8>(), 0..8).prop_map(Value::BytesValue),
        vec(any::<i64>(), 0..3).prop_map(|ints| {
            Value::ArrayValue(ArrayValue {
                values: ints
                    .into_iter()
                    .map(|i| AnyValue {
                        value: Some(Value::IntValue(i)),
                    })
                    .collect(),
            })
        }),
    ];
    ("[a-z.]{0,10}", value).prop_map(|(key, value)| KeyValue {
        key,
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    })
}

fn span() -> impl Strategy<Value = Span> {
    let link = (id(16), id(8)).prop_map(|(trace_id, span_id)| Link {
        trace_id,
        span_id,
        ..Default::default()
    });
    (
        (id(16), id(8), prop_oneof![Just(Vec::new()), id(8)]),
        ".{0,16}",
        (any::<u64>(), any::<u64>(), 0i32..6),
        vec(attribute(), 0..3),
        vec(link, 0..2),
    )
        .prop_map(
            |((trace_id, span_id, parent_span_id), name, (start, end, kind), attributes, links)| {
                Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    links,
                    ..Default::default()
                }
            },
        )
}

fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    vec(vec(vec(span(), 0..3), 0..3), 0..3).prop_map(|resources| ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|scopes| ResourceSpans {
                scope_spans: scopes
                    .into_iter()
                    .map(|spans| ScopeSpans {
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    })
}

/// A request that is always valid: one span, right id lengths.
fn valid_request(n: u8) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![n.max(1); 16],
                    span_id: vec![n.max(1); 8],
                    name: format!("probe-{n}"),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len() as u64)
        .sum()
}

/// Required ids (a span's and a link's) have their length and are not all
/// zeroes; a parent span id is empty or 8 bytes of any value.
fn ids_are_valid(request: &ExportTraceServiceRequest) -> bool {
    let required = |id: &[u8], length: usize| id.len() == length && id.iter().any(|&b| b != 0);
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .all(|span| {
            required(&span.trace_id, 16)
                && required(&span.span_id, 8)
                && matches!(span.parent_span_id.len(), 0 | 8)
                && span
                    .links
                    .iter()
                    .all(|link| link.trace_id.len() == 16 && link.span_id.len() == 8)
        })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).expect("zstd")
}

// ---- the oracle: what the receiver must answer ------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Zstd,
}

/// What a correct receiver answers: a status, and the spans it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Ok(u64),
    BadRequest,
    TooLarge,
    Unsupported,
}

fn format_of(content_type: Option<&str>) -> Option<Format> {
    let media = content_type?.split(';').next()?.trim();
    if media.eq_ignore_ascii_case(PROTOBUF) {
        Some(Format::Protobuf)
    } else if media.eq_ignore_ascii_case(JSON) {
        Some(Format::Json)
    } else {
        None
    }
}

fn coding_of(content_encoding: Option<&str>) -> Option<Coding> {
    match content_encoding
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => Some(Coding::Identity),
        Some("gzip" | "x-gzip") => Some(Coding::Gzip),
        Some("zstd") => Some(Coding::Zstd),
        _ => None,
    }
}

/// Decompresses independently of the receiver, with the same cap; `Err(true)`
/// when over the cap, `Err(false)` when corrupt.
fn decompress(coding: Coding, body: &[u8]) -> Result<Vec<u8>, bool> {
    let mut out = Vec::new();
    let read = match coding {
        Coding::Identity => return Ok(body.to_vec()),
        Coding::Gzip => flate2::read::MultiGzDecoder::new(body)
            .take(CAP as u64 + 1)
            .read_to_end(&mut out),
        Coding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(|_| false)?;
            decoder.window_log_max(23).map_err(|_| false)?;
            decoder.take(CAP as u64 + 1).read_to_end(&mut out)
        }
    };
    match read {
        Err(_) => Err(false),
        Ok(_) if out.len() > CAP => Err(true),
        Ok(_) => Ok(out),
    }
}

/// Decodes a (decompressed) body as the store mode does; `None` when it must be refused.
fn decoded_spans(store: Store, format: Format, body: &[u8]) -> Option<u64> {
    match (store, format) {
        (Store::CountOnly, Format::Protobuf) => otlp_core::wire::count_spans(body).ok(),
        // Count-only JSON reads the structure only: anything the full decoder
        // accepts it accepts, with the same count (checked by the caller).
        (Store::CountOnly, Format::Json) => None,
        (_, Format::Protobuf) => ExportTraceServiceRequest::decode(body)
            .ok()
            .filter(ids_are_valid)
            .map(|request| span_count(&request)),
        (_, Format::Json) => serde_json::from_slice::<ExportTraceServiceRequest>(body)
            .ok()
            .filter(ids_are_valid)
            .filter(|_| !gives_two_members_of_an_any_value(body))
            .map(|request| span_count(&request)),
    }
}

/// Whether `opentelemetry-proto`'s serde refused an integer in a form the
/// receiver reads as the proto3 JSON mapping does (`1e3`, `"2.0"`, `"2"`
/// for an `int32`; a mutation makes one by inserting a `.`, `e` or digits):
/// then the body may or may not be accepted (whole and in range, or not).
fn refuses_an_integer_form(error: &serde_json::Error) -> bool {
    let error = error.to_string();
    [
        "floating point",
        "invalid digit found in string",
        "StringOrInt",
        "expected i32",
        "expected u32",
    ]
    .iter()
    .any(|refusal| error.contains(refusal))
}

/// Whether an OTLP/JSON trace request gives two members (neither `null`)
/// of one attribute value's oneof, which the receiver refuses as the proto3
/// JSON mapping does (`opentelemetry-proto`'s serde keeps the last).
fn gives_two_members_of_an_any_value(body: &[u8]) -> bool {
    use serde_json::Value as Json;
    const MEMBERS: [&str; 7] = [
        "stringValue",
        "boolValue",
        "intValue",
        "doubleValue",
        "arrayValue",
        "kvlistValue",
        "bytesValue",
    ];
    fn items<'a>(json: &'a Json, key: &str) -> impl Iterator<Item = &'a Json> {
        json.get(key).and_then(Json::as_array).into_iter().flatten()
    }
    fn any_value(value: &Json) -> bool {
        let given = MEMBERS
            .iter()
            .filter(|member| value.get(**member).is_some_and(|v| !v.is_null()))
            .count();
        given > 1
            || value
                .get("arrayValue")
                .is_some_and(|array| items(array, "values").any(any_value))
            || value
                .get("kvlistValue")
                .is_some_and(|list| attributes(list, "values"))
    }
    fn attributes(json: &Json, key: &str) -> bool {
        items(json, key).any(|attribute| attribute.get("value").is_some_and(any_value))
    }
    let Ok(request) = serde_json::from_slice::<Json>(body) else {
        return false;
    };
    items(&request, "resourceSpans").any(|resource| {
        resource
            .get("resource")
            .is_some_and(|r| attributes(r, "attributes"))
            || items(resource, "scopeSpans").any(|scope| {
                scope
                    .get("scope")
                    .is_some_and(|s| attributes(s, "attributes"))
                    || items(scope, "spans").any(|span| {
                        attributes(span, "attributes")
                            || items(span, "events").any(|event| attributes(event, "attributes"))
                            || items(span, "links").any(|link| attributes(link, "attributes"))
                    })
            })
    })
}

/// The answer to an HTTP request; `None` where only "some 200 or 400" can be said.
fn expected_http(
    store: Store,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
) -> Option<Expected> {
    let Some(format) = format_of(content_type) else {
        return Some(Expected::Unsupported);
    };
    let Some(coding) = coding_of(content_encoding) else {
        return Some(Expected::Unsupported);
    };
    if body.len() > CAP {
        return Some(Expected::TooLarge);
    }
    let content = match decompress(coding, body) {
        Ok(content) => content,
        Err(true) => return Some(Expected::TooLarge),
        Err(false) => return Some(Expected::BadRequest),
    };
    if format == Format::Json
        && let Err(error) = serde_json::from_slice::<ExportTraceServiceRequest>(&content)
        && refuses_an_integer_form(&error)
    {
        return None;
    }
    if (store, format) == (Store::CountOnly, Format::Json) {
        // Counting reads the structure and the ids: at least what the full
        // decoder accepts, and not what it refuses for an id.
        return serde_json::from_slice::<ExportTraceServiceRequest>(&content)
            .ok()
            .filter(|_| !gives_two_members_of_an_any_value(&content))
            .map(|request| match ids_are_valid(&request) {
                true => Expected::Ok(span_count(&request)),
                false => Expected::BadRequest,
            });
    }
    Some(match decoded_spans(store, format, &content) {
        Some(spans) => Expected::Ok(spans),
        None => Expected::BadRequest,
    })
}

// ---- the harness: receivers and clients ---------------------------------------------

struct Harness {
    store: Store,
    receiver: Receiver,
    runtime: tokio::runtime::Runtime,
    http: Client<HttpConnector, Full<Bytes>>,
    h2: Client<HttpConnector, Full<Bytes>>,
    /// Spans every answered-OK request carried, by our count.
    expected_spans: Cell<u64>,
    probes: Cell<u8>,
}

/// One HTTP answer, read whole.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Bytes,
}

impl Harness {
    fn start(store: Store) -> Self {
        watch_receiver_panics();
        let receiver = Receiver::start(ReceiverConfig {
            store,
            max_request_bytes: CAP,
            ..Default::default()
        })
        .expect("receiver");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let http = Client::builder(TokioExecutor::new()).build_http();
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        Harness {
            store,
            receiver,
            runtime,
            http,
            h2,
            expected_spans: Cell::new(0),
            probes: Cell::new(0),
        }
    }

    fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let url = format!(
            "{}{path}",
            self.receiver.http_endpoint().expect("HTTP endpoint")
        );
        let mut request = http::Request::post(url);
        if let Some(value) = content_type {
            request = request.header(
                "content-type",
                HeaderValue::from_str(value).expect("header"),
            );
        }
        if let Some(value) = content_encoding {
            request = request.header(
                "content-encoding",
                HeaderValue::from_str(value).expect("header"),
            );
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        self.runtime.block_on(async {
            let response = tokio::time::timeout(TIMEOUT, self.http.request(request))
                .await
                .expect("an answer in time")
                .expect("an answer, not a dropped connection");
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            Answer {
                status,
                content_type,
                body,
            }
        })
    }

    /// Sends gRPC frames (already framed) with `grpc-encoding`; returns `grpc-status`.
    fn grpc(&self, grpc_encoding: Option<&str>, frames: Vec<u8>) -> i32 {
        let endpoint = self.receiver.grpc_endpoint().expect("gRPC endpoint");
        let mut request = http::Request::post(format!("{endpoint}{EXPORT_PATH}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(encoding) = grpc_encoding {
            request = request.header("grpc-encoding", encoding);
        }
        let request = request
            .body(Full::new(Bytes::from(frames)))
            .expect("request");
        self.runtime.block_on(async {
            let response = tokio::time::timeout(TIMEOUT, self.h2.request(request))
                .await
                .expect("an answer in time")
                .expect("an answer, not a dropped connection");
            let in_headers = response.headers().get("grpc-status").cloned();
            let collected = response.into_body().collect().await.expect("body");
            let status = in_headers.or_else(|| collected.trailers()?.get("grpc-status").cloned());
            status
                .and_then(|value| value.to_str().ok()?.parse().ok())
                .expect("a grpc-status")
        })
    }

    /// A valid request on each transport right after a hostile one: served.
    fn probe(&self) {
        self.probes.set(self.probes.get().wrapping_add(1));
        let request = valid_request(self.probes.get());
        let answer = self.post("/v1/traces", Some(PROTOBUF), None, request.encode_to_vec());
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "a valid HTTP request after a hostile one"
        );
        assert_eq!(self.grpc(None, frame(0, &request.encode_to_vec())), 0);
        self.add_spans(2);
        assert_no_receiver_panic();
        self.check_counters();
    }

    fn check_counters(&self) {
        let stats: ReceiverStats = self.receiver.stats();
        assert!(
            self.receiver.wait_until(TIMEOUT, |stats| {
                stats.requests
                    == stats.accepted_requests
                        + stats.faulted_requests
                        + stats.bad_requests
                        + stats.abandoned_requests
                        + stats.timed_out_requests
            }),
            "every request is answered and counted once: {stats:?}"
        );
        assert_eq!(stats.faulted_requests, 0);
        assert_eq!(
            self.receiver.span_count(),
            self.expected_spans.get(),
            "{stats:?}"
        );
    }

    /// Sends one hostile HTTP request and checks the answer against the oracle.
    fn add_spans(&self, spans: u64) {
        self.expected_spans.set(self.expected_spans.get() + spans);
    }

    fn check_http(&self, case: &HttpCase) {
        let body = case.body();
        let expected = expected_http(
            self.store,
            case.content_type.as_deref(),
            case.content_encoding.as_deref(),
            &body,
        );
        let before = self.receiver.span_count();
        let answer = self.post(
            "/v1/traces",
            case.content_type.as_deref(),
            case.content_encoding.as_deref(),
            body,
        );
        let accepted = self.receiver.span_count() - before;
        match expected {
            Some(Expected::Ok(spans)) => {
                assert_eq!(answer.status, StatusCode::OK, "{case:?}: {:?}", answer.body);
                assert_eq!(accepted, spans, "{case:?}");
            }
            Some(Expected::BadRequest) => {
                assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{case:?}")
            }
            Some(Expected::TooLarge) => {
                assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{case:?}")
            }
            Some(Expected::Unsupported) => {
                assert_eq!(
                    answer.status,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "{case:?}"
                )
            }
            None => assert!(
                matches!(answer.status, StatusCode::OK | StatusCode::BAD_REQUEST),
                "{case:?}: {}",
                answer.status
            ),
        }
        self.add_spans(accepted);
        check_answer_body(&answer, case.content_type.as_deref());
    }
}

/// Success bodies are an `ExportTraceServiceResponse`, errors a `google.rpc.Status`,
/// in the request's format (protobuf when the type is unusable).
fn check_answer_body(answer: &Answer, content_type: Option<&str>) {
    let json = format_of(content_type) == Some(Format::Json);
    let expected_type = if json { JSON } else { PROTOBUF };
    assert_eq!(answer.content_type.as_deref(), Some(expected_type));
    if answer.status == StatusCode::OK {
        if !json {
            assert!(otlp_core::response::decode_export_response(&answer.body).is_ok());
        }
        return;
    }
    let (code, message) = if json {
        let value: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON status");
        (
            value["code"].as_i64().unwrap_or(0),
            value["message"].as_str().unwrap_or("").to_owned(),
        )
    } else {
        let status = RpcStatus::decode(&answer.body).expect("protobuf status");
        (i64::from(status.code), status.message)
    };
    assert!(code != 0 && !message.is_empty(), "{code} {message:?}");
}

/// One gRPC length-prefixed message.
fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

// ---- HTTP cases -------------------------------------------------------------------

/// The body before it is compressed and mutated.
#[derive(Clone, Debug)]
enum Source {
    Protobuf(ExportTraceServiceRequest),
    Json(ExportTraceServiceRequest),
    Raw(Vec<u8>),
    /// Highly compressible bytes larger than the cap (a compression bomb).
    Bomb(usize),
}

#[derive(Clone, Debug)]
struct HttpCase {
    content_type: Option<String>,
    content_encoding: Option<String>,
    source: Source,
    /// Mutations of the plain body (before compression).
    before: Vec<Mutation>,
    /// Mutations of the compressed bytes (corrupt streams).
    after: Vec<Mutation>,
}

impl HttpCase {
    fn body(&self) -> Vec<u8> {
        let plain = match &self.source {
            Source::Protobuf(request) => request.encode_to_vec(),
            Source::Json(request) => serde_json::to_vec(request).expect("JSON"),
            Source::Raw(bytes) => bytes.clone(),
            Source::Bomb(len) => vec![b'a'; *len],
        };
        let plain = mutate(plain, &self.before);
        let encoded = match coding_of(self.content_encoding.as_deref()) {
            Some(Coding::Gzip) => gzip(&plain),
            Some(Coding::Zstd) => zstd(&plain),
            _ => plain,
        };
        mutate(encoded, &self.after)
    }
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(Some(PROTOBUF.to_owned())),
        6 => Just(Some(JSON.to_owned())),
        1 => Just(None),
        2 => select(vec![
            "Application/JSON; charset=utf-8",
            "application/x-protobuf;proto=x",
            " application/json ",
            "application/protobuf",
            "text/plain",
            "application/json+x",
            "",
            ";",
        ])
        .prop_map(|value| Some(value.to_owned())),
        1 => "[ -~]{0,24}".prop_map(Some),
    ]
}

fn content_encoding() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(None),
        3 => Just(Some("gzip".to_owned())),
        3 => Just(Some("zstd".to_owned())),
        2 => select(vec!["identity", "x-gzip", "GZIP", " zstd ", "br", "gzip, zstd", "deflate", ""])
            .prop_map(|value| Some(value.to_owned())),
        1 => "[ -~]{0,12}".prop_map(Some),
    ]
}

fn http_case() -> impl Strategy<Value = HttpCase> {
    let source = prop_oneof![
        4 => request().prop_map(Source::Protobuf),
        4 => request().prop_map(Source::Json),
        2 => vec(any::<u8>(), 0..200).prop_map(Source::Raw),
        1 => (CAP + 1..CAP * 4).prop_map(Source::Bomb),
    ];
    (
        content_type(),
        content_encoding(),
        source,
        mutations(DICTIONARY, 0..4),
        mutations(DICTIONARY, 0..4),
    )
        .prop_map(
            |(content_type, content_encoding, source, before, after)| HttpCase {
                content_type,
                content_encoding,
                source,
                before,
                after,
            },
        )
}

fn run_http(store: Store, default_cases: u32) {
    let harness = Harness::start(store);
    let mut runner = runner(default_cases);
    let result = runner.run(&http_case(), |case| {
        harness.check_http(&case);
        harness.probe();
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    harness.check_counters();
}

// ---- gRPC cases -------------------------------------------------------------------

#[derive(Clone, Debug)]
struct GrpcCase {
    grpc_encoding: Option<String>,
    /// The message (a request, or raw bytes), mutated.
    payload: Source,
    mutations: Vec<Mutation>,
    /// Compress the payload (flag 1) or not (flag 0).
    compressed: bool,
    /// How the frame lies: 0 tells the truth.
    length_delta: i64,
    /// Mutations of the whole frame.
    frame_mutations: Vec<Mutation>,
}

impl GrpcCase {
    fn payload(&self) -> Vec<u8> {
        let plain = match &self.payload {
            Source::Protobuf(request) | Source::Json(request) => request.encode_to_vec(),
            Source::Raw(bytes) => bytes.clone(),
            Source::Bomb(len) => vec![0u8; *len],
        };
        mutate(plain, &self.mutations)
    }

    fn frames(&self) -> Vec<u8> {
        let payload = self.payload();
        let (flag, body) = match (self.compressed, self.grpc_encoding.as_deref()) {
            (true, Some("zstd")) => (1, zstd(&payload)),
            (true, _) => (1, gzip(&payload)),
            (false, _) => (0, payload),
        };
        let mut frame = frame(flag, &body);
        let length = (body.len() as i64 + self.length_delta).clamp(0, u32::MAX as i64) as u32;
        frame[1..5].copy_from_slice(&length.to_be_bytes());
        mutate(frame, &self.frame_mutations)
    }

    /// Whether the frame is exactly one well-formed, uncompressed message.
    fn plain_and_well_formed(&self) -> bool {
        !self.compressed
            && self.length_delta == 0
            && self.frame_mutations.is_empty()
            && matches!(self.grpc_encoding.as_deref(), None | Some("gzip" | "zstd"))
    }
}

fn grpc_case() -> impl Strategy<Value = GrpcCase> {
    let payload = prop_oneof![
        6 => request().prop_map(Source::Protobuf),
        2 => vec(any::<u8>(), 0..200).prop_map(Source::Raw),
        1 => (CAP + 1..CAP * 4).prop_map(Source::Bomb),
    ];
    let encoding = prop_oneof![
        4 => Just(None),
        2 => Just(Some("gzip".to_owned())),
        2 => Just(Some("zstd".to_owned())),
        1 => select(vec!["identity", "br", "deflate", "GZIP", ""]).prop_map(|v| Some(v.to_owned())),
    ];
    let length_delta = prop_oneof![8 => Just(0i64), 1 => -8i64..8, 1 => Just(i64::from(u32::MAX))];
    let frame_mutations = prop_oneof![3 => Just(Vec::new()), 1 => mutations(DICTIONARY, 1..3)];
    (
        encoding,
        payload,
        mutations(DICTIONARY, 0..4),
        any::<bool>(),
        length_delta,
        frame_mutations,
    )
        .prop_map(
            |(grpc_encoding, payload, mutations, compressed, length_delta, frame_mutations)| {
                let compressed = compressed && grpc_encoding.is_some();
                GrpcCase {
                    grpc_encoding,
                    payload,
                    mutations,
                    compressed,
                    length_delta,
                    frame_mutations,
                }
            },
        )
}

/// gRPC codes OTLP clients retry (CANCELLED, DEADLINE_EXCEEDED, ABORTED,
/// OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS): bad input must never get one of
/// these. (RESOURCE_EXHAUSTED is retried only with `RetryInfo`, which the
/// receiver sends only for a scripted throttle.)
const RETRYABLE: [i32; 6] = [1, 4, 10, 11, 14, 15];
/// RESOURCE_EXHAUSTED: what a message over the cap gets (without `RetryInfo`).
const RESOURCE_EXHAUSTED: i32 = 8;

fn run_grpc(store: Store, default_cases: u32) {
    let harness = Harness::start(store);
    let mut runner = runner(default_cases);
    let result = runner.run(&grpc_case(), |case| {
        let before = harness.receiver.span_count();
        let status = harness.grpc(case.grpc_encoding.as_deref(), case.frames());
        let accepted = harness.receiver.span_count() - before;
        harness.add_spans(accepted);
        prop_assert!((0..=16).contains(&status), "{:?}: {}", case, status);
        prop_assert!(
            !RETRYABLE.contains(&status),
            "{:?}: retryable {}",
            case,
            status
        );
        if case.plain_and_well_formed() {
            let payload = case.payload();
            let expected = if payload.len() > CAP {
                RESOURCE_EXHAUSTED // tonic's OUT_OF_RANGE, made permanent
            } else {
                match decoded_spans(store, Format::Protobuf, &payload) {
                    Some(spans) => {
                        prop_assert_eq!(accepted, spans, "{:?}", case);
                        0
                    }
                    None => 3,
                }
            };
            prop_assert_eq!(status, expected, "{:?}", case);
        }
        if status != 0 {
            prop_assert_eq!(accepted, 0);
        }
        harness.probe();
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    harness.check_counters();
}

// ---- raw HTTP/1.1 -------------------------------------------------------------------

fn raw_request() -> impl Strategy<Value = Vec<u8>> {
    let valid = request().prop_map(|request| {
        let body = request.encode_to_vec();
        let mut text = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        text.extend_from_slice(&body);
        text
    });
    let chunked = request().prop_map(|request| {
        let body = request.encode_to_vec();
        let mut text = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
            body.len()
        )
        .into_bytes();
        text.extend_from_slice(&body);
        text.extend_from_slice(b"\r\n0\r\n\r\n");
        text
    });
    prop_oneof![
        3 => mutated(valid, DICTIONARY),
        2 => mutated(chunked, DICTIONARY),
        1 => vec(any::<u8>(), 0..300),
    ]
}

/// Writes raw bytes to the HTTP port and reads what comes back until the
/// server closes or goes quiet; the reply, if any, must be an HTTP response.
fn send_raw(addr: SocketAddr, bytes: &[u8]) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    if !reply.is_empty() {
        // (An HTTP/1.0 request gets an HTTP/1.0 answer.)
        assert!(
            reply.starts_with(b"HTTP/1.1 ") || reply.starts_with(b"HTTP/1.0 "),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
    }
}

// ---- the fuzz targets --------------------------------------------------------

#[test]
fn http_hostile_bodies_decode_only() {
    run_http(Store::DecodeOnly, 96);
}

#[test]
fn http_hostile_bodies_count_only() {
    run_http(Store::CountOnly, 64);
}

#[test]
fn grpc_hostile_frames_decode_only() {
    run_grpc(Store::DecodeOnly, 96);
}

#[test]
fn grpc_hostile_frames_count_only() {
    run_grpc(Store::CountOnly, 64);
}

#[test]
fn http_raw_hostile_requests() {
    let harness = Harness::start(Store::DecodeOnly);
    let addr = harness.receiver.http_addr().expect("HTTP address");
    let mut runner = runner(64);
    let result = runner.run(&raw_request(), |bytes| {
        let before = harness.receiver.span_count();
        send_raw(addr, &bytes);
        harness.add_spans(harness.receiver.span_count() - before);
        harness.probe();
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    // Raw requests may or may not reach the service; whatever did is counted once.
    let stats = harness.receiver.stats();
    assert_eq!(
        stats.requests,
        stats.accepted_requests
            + stats.faulted_requests
            + stats.bad_requests
            + stats.abandoned_requests
            + stats.timed_out_requests
    );
}

// ---- edges, pinned -------------------------------------------------------------

/// The JSON oracle finds two members of one attribute value's oneof at any
/// depth, and takes a `null` member as not given.
#[test]
fn the_oracle_finds_two_members_of_an_attribute_values_oneof() {
    let request = |value: &str| {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"events":[{{"attributes":[{{"key":"k","value":{value}}}]}}]}}]}}]}}]}}"#
        )
    };
    for (value, two) in [
        (r#"{"stringValue":"s"}"#, false),
        (r#"{"stringValue":"s","intValue":null}"#, false),
        (r#"{"stringValue":"s","intValue":"1"}"#, true),
        (
            r#"{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"boolValue":true,"doubleValue":1}]}}}]}}"#,
            true,
        ),
    ] {
        assert_eq!(
            gives_two_members_of_an_any_value(request(value).as_bytes()),
            two,
            "{value}"
        );
    }
}

#[test]
fn deeply_nested_values_are_refused_not_overflowing_the_stack() {
    let harness = Harness::start(Store::DecodeOnly);
    // An AnyValue array nested 2 000 deep (protobuf, under the cap) and
    // 1 500 deep (JSON).
    let mut value = Vec::new();
    for _ in 0..2_000 {
        // AnyValue { array_value (5): ArrayValue { values (1): <value> } }
        let mut array = vec![0x0a];
        put_len(&mut array, value.len());
        array.extend_from_slice(&value);
        let mut any = vec![0x2a];
        put_len(&mut any, array.len());
        any.extend_from_slice(&array);
        value = any;
    }
    // KeyValue { key: "d", value: <the deep AnyValue> }
    let mut key_value = vec![0x0a, 0x01, b'd', 0x12];
    put_len(&mut key_value, value.len());
    key_value.extend_from_slice(&value);
    let deep_request = nest_attribute(&key_value);
    for (format, bytes) in [
        (PROTOBUF, deep_request),
        (
            JSON,
            format!(
                "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"01010101010101010101010101010101\",\"spanId\":\"0101010101010101\",\"attributes\":[{{\"key\":\"d\",\"value\":{}1{}}}]}}]}}]}}]}}",
                "{\"arrayValue\":{\"values\":[".repeat(1_500),
                "]}}".repeat(1_500)
            )
            .into_bytes(),
        ),
    ] {
        let answer = harness.post("/v1/traces", Some(format), None, bytes);
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{format}");
        check_answer_body(&answer, Some(format));
    }
    assert_eq!(harness.grpc(None, frame(0, &nest_attribute(&key_value))), 3);
    harness.probe();
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let mut len = len as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// A request whose one span carries `key_value` (an encoded KeyValue) as an attribute.
fn nest_attribute(key_value: &[u8]) -> Vec<u8> {
    let mut span = vec![0x0a, 0x10];
    span.extend_from_slice(&[1; 16]);
    span.extend_from_slice(&[0x12, 0x08]);
    span.extend_from_slice(&[1; 8]);
    span.push(0x4a); // attributes (9)
    put_len(&mut span, key_value.len());
    span.extend_from_slice(key_value);
    let mut scope = vec![0x12];
    put_len(&mut scope, span.len());
    scope.extend_from_slice(&span);
    let mut resource = vec![0x12];
    put_len(&mut resource, scope.len());
    resource.extend_from_slice(&scope);
    let mut request = vec![0x0a];
    put_len(&mut request, resource.len());
    request.extend_from_slice(&resource);
    request
}

#[test]
fn bombs_and_caps_on_both_transports() {
    let harness = Harness::start(Store::DecodeOnly);
    let bomb = vec![0u8; 8 << 20];
    for (encoding, body) in [("gzip", gzip(&bomb)), ("zstd", zstd(&bomb))] {
        let answer = harness.post("/v1/traces", Some(PROTOBUF), Some(encoding), body.clone());
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{encoding}");
        // gRPC: decompressing past the cap is RESOURCE_EXHAUSTED (no RetryInfo: permanent).
        assert_eq!(
            harness.grpc(Some(encoding), frame(1, &body)),
            8,
            "{encoding}"
        );
    }
    // Exactly at the cap passes the cap; one byte more does not.
    let at_cap = vec![0u8; CAP];
    let answer = harness.post("/v1/traces", Some(PROTOBUF), Some("gzip"), gzip(&at_cap));
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "at the cap: decoded (and refused as garbage)"
    );
    let over = vec![0u8; CAP + 1];
    let answer = harness.post("/v1/traces", Some(PROTOBUF), Some("gzip"), gzip(&over));
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let answer = harness.post("/v1/traces", Some(PROTOBUF), None, over.clone());
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let status = harness.grpc(None, frame(0, &over));
    assert_eq!(status, RESOURCE_EXHAUSTED, "over the cap: permanent");
    assert!(!RETRYABLE.contains(&status), "{status}");
    // A frame that announces 4 GiB and sends nothing more.
    let mut lying = frame(0, b"");
    lying[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    let status = harness.grpc(None, lying);
    assert!(!RETRYABLE.contains(&status) && status != 0, "{status}");
    harness.probe();
}

#[test]
fn early_refusals_with_a_large_body_still_reach_the_client() {
    // Found by http_hostile_bodies_*: a 415 (unknown content type or
    // encoding) was sent without reading the body; with a body larger than
    // the socket buffers the connection closed under the client, which saw
    // IncompleteMessage (a retryable transport error) instead of the 415.
    let harness = Harness::start(Store::DecodeOnly);
    let body = vec![b'a'; 4 << 20];
    let cases = [
        (
            "/v1/traces",
            Some("text/plain"),
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/v1/traces",
            Some(PROTOBUF),
            Some("deflate"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("/v1/profiles", Some(PROTOBUF), None, StatusCode::NOT_FOUND),
    ];
    for _ in 0..3 {
        for (path, content_type, encoding, expected) in cases {
            let answer = harness.post(path, content_type, encoding, body.clone());
            assert_eq!(
                answer.status, expected,
                "{path} {content_type:?} {encoding:?}"
            );
            check_answer_body(&answer, content_type);
        }
    }
    harness.probe();
}
