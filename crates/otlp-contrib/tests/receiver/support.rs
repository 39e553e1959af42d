//! Independent clients and sample data (traces, logs and metrics) for the
//! receiver tests: tonic's generated `TraceServiceClient`, a raw-bytes gRPC
//! client, and plain hyper HTTP clients.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otlp_contrib::receiver::TestCertificates;
use otlp_exporter_grpc::RawCodec;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub const TIMEOUT: Duration = Duration::from_secs(10);

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A request using every field of the span model, with `spans` spans in one trace.
pub fn rich_request(service: &str, spans: usize) -> ExportTraceServiceRequest {
    let trace_id: Vec<u8> = (1..=16).collect();
    let spans = (0..spans)
        .map(|i| {
            let i = i as u8;
            Span {
                trace_id: trace_id.clone(),
                span_id: vec![0xa0, 0, 0, 0, 0, 0, 0, i + 1],
                trace_state: "vendor=value".into(),
                parent_span_id: if i == 0 {
                    Vec::new()
                } else {
                    vec![0xa0, 0, 0, 0, 0, 0, 0, 1]
                },
                flags: 0x301,
                name: format!("span-{i}"),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: 1_544_712_660_000_000_000 + u64::from(i),
                end_time_unix_nano: 1_544_712_661_000_000_000,
                attributes: vec![
                    kv("string", Value::StringValue("text ünïcödé".into())),
                    kv("bool", Value::BoolValue(true)),
                    kv("int", Value::IntValue(-9_007_199_254_740_993)),
                    kv("double", Value::DoubleValue(0.1 + 0.2)),
                    kv("bytes", Value::BytesValue(vec![0, 1, 2, 255])),
                    kv(
                        "array",
                        Value::ArrayValue(ArrayValue {
                            values: vec![AnyValue {
                                value: Some(Value::IntValue(7)),
                            }],
                        }),
                    ),
                    kv(
                        "kvlist",
                        Value::KvlistValue(KeyValueList {
                            values: vec![kv("nested", Value::StringValue("yes".into()))],
                        }),
                    ),
                ],
                dropped_attributes_count: 2,
                events: vec![Event {
                    time_unix_nano: 1_544_712_660_500_000_000,
                    name: "event".into(),
                    attributes: vec![kv("e", Value::IntValue(1))],
                    dropped_attributes_count: 1,
                }],
                dropped_events_count: 3,
                links: vec![Link {
                    trace_id: vec![9; 16],
                    span_id: vec![8; 8],
                    trace_state: "l=1".into(),
                    attributes: vec![kv("link", Value::BoolValue(false))],
                    dropped_attributes_count: 4,
                    flags: 0x101,
                }],
                dropped_links_count: 5,
                status: Some(Status {
                    message: "it broke".into(),
                    code: SpanStatusCode::Error as i32,
                }),
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue(service.into()))],
                dropped_attributes_count: 1,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test-scope".into(),
                    version: "1.2.3".into(),
                    attributes: vec![kv("scope.attr", Value::StringValue("s".into()))],
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
        }],
    }
}

/// A log request using every field of the log model, with `records` records:
/// the even ones inside a trace, the odd ones without trace context.
pub fn rich_logs(service: &str, records: usize) -> ExportLogsServiceRequest {
    let log_records = (0..records)
        .map(|i| {
            let in_trace = i % 2 == 0;
            LogRecord {
                time_unix_nano: 1_544_712_660_000_000_000 + i as u64,
                observed_time_unix_nano: 1_544_712_660_500_000_000,
                severity_number: SeverityNumber::Warn as i32,
                severity_text: "WARN".into(),
                body: Some(AnyValue {
                    value: Some(Value::StringValue(format!("disk almost full #{i}"))),
                }),
                attributes: vec![
                    kv("string", Value::StringValue("text ünïcödé".into())),
                    kv("int", Value::IntValue(-9_007_199_254_740_993)),
                    kv("double", Value::DoubleValue(0.1 + 0.2)),
                    kv("bytes", Value::BytesValue(vec![0, 1, 2, 255])),
                    kv(
                        "array",
                        Value::ArrayValue(ArrayValue {
                            values: vec![AnyValue {
                                value: Some(Value::BoolValue(true)),
                            }],
                        }),
                    ),
                    kv(
                        "kvlist",
                        Value::KvlistValue(KeyValueList {
                            values: vec![kv("nested", Value::StringValue("yes".into()))],
                        }),
                    ),
                ],
                dropped_attributes_count: 2,
                flags: if in_trace { 0x01 } else { 0 },
                trace_id: if in_trace {
                    (1..=16).collect()
                } else {
                    Vec::new()
                },
                span_id: if in_trace {
                    vec![0xa0, 0, 0, 0, 0, 0, 0, 1]
                } else {
                    Vec::new()
                },
                event_name: if i == 1 {
                    "disk.full".into()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue(service.into()))],
                dropped_attributes_count: 1,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "log-scope".into(),
                    version: "4.5.6".into(),
                    attributes: vec![kv("scope.attr", Value::StringValue("s".into()))],
                    dropped_attributes_count: 0,
                }),
                log_records,
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
        }],
    }
}

/// A metrics request with one metric of each shape (gauge, sum, histogram,
/// exponential histogram, summary), each with `points` data points: `5 *
/// points` in all. Point `i` has the attribute `point=i`; the gauge and sum
/// are ints, histograms carry an exemplar inside a trace.
pub fn rich_metrics(service: &str, points: usize) -> ExportMetricsServiceRequest {
    const START: u64 = 1_544_712_600_000_000_000;
    const TIME: u64 = 1_544_712_660_000_000_000;
    let attributes = |i: usize| {
        vec![
            kv("point", Value::IntValue(i as i64)),
            kv("string", Value::StringValue("text ünïcödé".into())),
        ]
    };
    let exemplars = || {
        vec![Exemplar {
            filtered_attributes: vec![kv("user", Value::StringValue("u1".into()))],
            time_unix_nano: TIME - 1,
            trace_id: (1..=16).collect(),
            span_id: vec![0xa0, 0, 0, 0, 0, 0, 0, 1],
            value: Some(exemplar::Value::AsDouble(0.25)),
        }]
    };
    let number = |i: usize, value: i64| NumberDataPoint {
        attributes: attributes(i),
        start_time_unix_nano: START,
        time_unix_nano: TIME,
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    };
    let shape = |name: &str, unit: &str, data: metric::Data| Metric {
        name: name.into(),
        description: format!("the {name} of the test"),
        unit: unit.into(),
        metadata: Vec::new(),
        data: Some(data),
    };
    let metrics = vec![
        shape(
            "queue.depth",
            "{item}",
            metric::Data::Gauge(Gauge {
                data_points: (0..points).map(|i| number(i, -(i as i64) - 1)).collect(),
            }),
        ),
        shape(
            "http.requests",
            "",
            metric::Data::Sum(Sum {
                data_points: (0..points).map(|i| number(i, 40 + i as i64)).collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        ),
        shape(
            "http.duration",
            "ms",
            metric::Data::Histogram(Histogram {
                data_points: (0..points)
                    .map(|i| HistogramDataPoint {
                        attributes: attributes(i),
                        start_time_unix_nano: START,
                        time_unix_nano: TIME,
                        count: 3,
                        sum: Some(12.5),
                        bucket_counts: vec![1, 2, 0],
                        explicit_bounds: vec![5.0, 10.0],
                        exemplars: exemplars(),
                        flags: 0,
                        min: Some(1.0),
                        max: Some(8.0),
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Delta as i32,
            }),
        ),
        shape(
            "rpc.duration",
            "s",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: (0..points)
                    .map(|i| ExponentialHistogramDataPoint {
                        attributes: attributes(i),
                        start_time_unix_nano: START,
                        time_unix_nano: TIME,
                        count: 4,
                        sum: Some(2.25),
                        scale: 3,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: -2,
                            bucket_counts: vec![1, 2],
                        }),
                        negative: None,
                        flags: 0,
                        exemplars: exemplars(),
                        min: Some(0.0),
                        max: Some(1.5),
                        zero_threshold: 0.0,
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        ),
        shape(
            "gc.pause",
            "s",
            metric::Data::Summary(Summary {
                data_points: (0..points)
                    .map(|i| SummaryDataPoint {
                        attributes: attributes(i),
                        start_time_unix_nano: START,
                        time_unix_nano: TIME,
                        count: 10,
                        sum: 0.5,
                        quantile_values: vec![
                            ValueAtQuantile {
                                quantile: 0.5,
                                value: 0.25,
                            },
                            ValueAtQuantile {
                                quantile: 0.99,
                                value: 0.125,
                            },
                        ],
                        flags: 0,
                    })
                    .collect(),
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue(service.into()))],
                dropped_attributes_count: 1,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "metric-scope".into(),
                    version: "7.8.9".into(),
                    attributes: vec![kv("scope.attr", Value::StringValue("s".into()))],
                    dropped_attributes_count: 0,
                }),
                metrics,
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
        }],
    }
}

/// A request with one span whose name is `name_len` bytes long (compresses very well).
pub fn big_request(name_len: usize) -> ExportTraceServiceRequest {
    let mut request = rich_request("big", 1);
    request.resource_spans[0].scope_spans[0].spans[0].name = "a".repeat(name_len);
    request
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).expect("zstd")
}

/// An HTTP response read whole.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `google.rpc.Status` of an error body in either encoding, decoded independently.
    pub fn rpc_status(&self) -> (i32, String, Option<Duration>) {
        if self.header("content-type") == Some("application/json") {
            let value: serde_json::Value = serde_json::from_slice(&self.body).expect("JSON status");
            let delay = value["details"]
                .as_array()
                .and_then(|details| {
                    details.iter().find(|detail| {
                        detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
                    })
                })
                .and_then(|detail| detail["retryDelay"].as_str())
                .map(|text| {
                    Duration::from_secs_f64(text.trim_end_matches('s').parse().expect("duration"))
                });
            let code = value["code"].as_i64().unwrap_or(0) as i32;
            (
                code,
                value["message"].as_str().unwrap_or("").to_owned(),
                delay,
            )
        } else {
            let status = prost_status::decode(&self.body);
            (status.code, status.message, status.retry_delay)
        }
    }
}

/// `google.rpc.Status` decoded with prost derives (independent of otlp-core).
pub mod prost_status {
    use std::time::Duration;

    use prost::Message;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RpcStatus {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<ProtoAny>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ProtoAny {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<ProtoDuration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ProtoDuration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    pub struct Decoded {
        pub code: i32,
        pub message: String,
        pub retry_delay: Option<Duration>,
    }

    pub fn decode(bytes: &[u8]) -> Decoded {
        let status = RpcStatus::decode(bytes).expect("google.rpc.Status");
        let retry_delay = status
            .details
            .iter()
            .find(|any| any.type_url == "type.googleapis.com/google.rpc.RetryInfo")
            .and_then(|any| RetryInfo::decode(any.value.as_slice()).ok())
            .and_then(|info| info.retry_delay)
            .map(|delay| Duration::new(delay.seconds as u64, delay.nanos as u32));
        Decoded {
            code: status.code,
            message: status.message,
            retry_delay,
        }
    }
}

pub fn http_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One request through hyper's pooled client.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    request: http::Request<Full<Bytes>>,
) -> HttpResponse {
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .expect("HTTP answer in time")
        .expect("HTTP response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// `POST` a body with a content type and optional content encoding.
pub async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> HttpResponse {
    let mut builder = http::Request::post(url).header("content-type", content_type);
    if let Some(encoding) = encoding {
        builder = builder.header("content-encoding", encoding);
    }
    send(
        &http_client(),
        builder.body(Full::new(Bytes::from(body))).expect("request"),
    )
    .await
}

/// `POST` protobuf.
pub async fn post_protobuf(url: &str, request: &ExportTraceServiceRequest) -> HttpResponse {
    post(
        url,
        "application/x-protobuf",
        None,
        prost::Message::encode_to_vec(request),
    )
    .await
}

pub async fn grpc_client(endpoint: &str) -> TraceServiceClient<Channel> {
    TraceServiceClient::connect(endpoint.to_owned())
        .await
        .expect("gRPC connect")
}

pub async fn grpc_tls_client(
    endpoint: &str,
    certs: &TestCertificates,
    with_identity: bool,
) -> Result<TraceServiceClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&certs.ca_pem))
        .domain_name("localhost");
    if with_identity {
        tls = tls.identity(Identity::from_pem(
            &certs.client_cert_pem,
            &certs.client_key_pem,
        ));
    }
    let channel = Endpoint::from_shared(endpoint.to_owned())?
        .tls_config(tls)?
        .connect_timeout(TIMEOUT)
        .connect()
        .await?;
    Ok(TraceServiceClient::new(channel))
}

/// HTTP/1.1 over TLS with an explicit ring provider, one connection per call.
pub async fn https_post(
    addr: std::net::SocketAddr,
    certs: &TestCertificates,
    with_identity: bool,
    body: Vec<u8>,
) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
    #[allow(deprecated)] // ring's provider, deprecated in rustls 0.23.48 (no post-quantum)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes())?)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = if with_identity {
        builder.with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(
                certs.client_cert_pem.as_bytes(),
            )?],
            PrivateKeyDer::from_pem_slice(certs.client_key_pem.as_bytes())?,
        )?
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(connection);
    let request = http::Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))?;
    let response = tokio::time::timeout(TIMEOUT, sender.send_request(request)).await??;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Sends raw bytes as the Export message.
pub async fn grpc_raw(endpoint: &str, payload: Bytes) -> Result<Bytes, tonic::Status> {
    let channel = Endpoint::from_shared(endpoint.to_owned())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    grpc.unary(tonic::Request::new(payload), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// The `RetryInfo` delay of a gRPC status, decoded independently.
pub fn grpc_retry_delay(status: &tonic::Status) -> Option<Duration> {
    if status.details().is_empty() {
        return None;
    }
    prost_status::decode(status.details()).retry_delay
}

/// A request body fed through a channel: each `Ok` is a data frame, an `Err`
/// fails the body (an HTTP/2 client then resets the stream), and the closed
/// channel ends it.
pub struct ChannelBody(pub tokio::sync::mpsc::UnboundedReceiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|data| data.map(hyper::body::Frame::data)))
    }
}
