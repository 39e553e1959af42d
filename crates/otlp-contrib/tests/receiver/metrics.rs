//! Metrics, the third signal: `MetricsService/Export` and `POST /v1/metrics`,
//! with requests built from `opentelemetry-proto`'s types and sent by tonic's
//! generated `MetricsServiceClient` and plain hyper clients.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point};
use otlp_contrib::receiver::{
    Answer, Fault, Receiver, ReceiverConfig, RequestObserver, Signal, Store, Transport,
};
use prost::Message;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::support::*;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn encode(content_type: &str, request: &ExportMetricsServiceRequest) -> Vec<u8> {
    if content_type == JSON {
        serde_json::to_vec(request).expect("JSON")
    } else {
        request.encode_to_vec()
    }
}

fn compress(encoding: Option<&str>, body: Vec<u8>) -> Vec<u8> {
    match encoding {
        Some("gzip") => gzip(&body),
        Some("zstd") => zstd(&body),
        _ => body,
    }
}

fn metrics_url(receiver: &Receiver) -> String {
    receiver.http_metrics_url().expect("HTTP endpoint")
}

async fn metrics_client(receiver: &Receiver) -> MetricsServiceClient<Channel> {
    MetricsServiceClient::connect(receiver.grpc_endpoint().expect("gRPC endpoint"))
        .await
        .expect("gRPC connect")
}

/// A JSON or protobuf `ExportMetricsServiceResponse` body. Protobuf is
/// decoded with opentelemetry-proto; JSON by hand, since OTLP/JSON writes
/// `rejectedDataPoints` as a string.
fn metrics_response(response: &HttpResponse) -> ExportMetricsServiceResponse {
    if response.header("content-type") != Some(JSON) {
        return ExportMetricsServiceResponse::decode(response.body.clone())
            .expect("ExportMetricsServiceResponse");
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON response");
    let partial_success = value
        .get("partialSuccess")
        .map(|partial| ExportMetricsPartialSuccess {
            rejected_data_points: partial["rejectedDataPoints"]
                .as_str()
                .map_or(0, |count| count.parse().expect("a decimal string")),
            error_message: partial["errorMessage"].as_str().unwrap_or("").to_owned(),
        });
    ExportMetricsServiceResponse { partial_success }
}

#[tokio::test]
async fn grpc_metrics_of_every_shape_arrive_decoded_field_for_field_with_every_compression() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_metrics("grpc-metrics", 2);
    let mut encodings = Vec::new();
    for encoding in [
        None,
        Some(CompressionEncoding::Gzip),
        Some(CompressionEncoding::Zstd),
    ] {
        let mut client = metrics_client(&receiver).await;
        if let Some(encoding) = encoding {
            client = client.send_compressed(encoding);
        }
        let response = client
            .export(sent.clone())
            .await
            .expect("export")
            .into_inner();
        assert_eq!(response.partial_success, None, "{encoding:?}");
        encodings.push(encoding.map(|encoding| encoding.to_string()));
    }
    // Five shapes of two points each, three times.
    assert!(receiver.wait_for_data_points(30, TIMEOUT));
    assert_eq!(receiver.data_point_count(), 30);
    assert_eq!((receiver.span_count(), receiver.log_record_count()), (0, 0));
    assert_eq!(receiver.accepted_metric_requests(), vec![sent.clone(); 3]);
    assert!(receiver.accepted_requests().is_empty(), "no trace requests");
    assert!(
        receiver.accepted_log_requests().is_empty(),
        "no log requests"
    );
    let metrics = receiver.accepted_metrics();
    assert_eq!(metrics.len(), 15);
    let sent_metrics = &sent.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics[..5], sent_metrics[..]);
    let kinds: Vec<&str> = metrics[..5]
        .iter()
        .map(|metric| match metric.data {
            Some(metric::Data::Gauge(_)) => "gauge",
            Some(metric::Data::Sum(_)) => "sum",
            Some(metric::Data::Histogram(_)) => "histogram",
            Some(metric::Data::ExponentialHistogram(_)) => "exponential_histogram",
            Some(metric::Data::Summary(_)) => "summary",
            None => "none",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "gauge",
            "sum",
            "histogram",
            "exponential_histogram",
            "summary"
        ]
    );
    for (received, encoding) in receiver.requests().iter().zip(encodings) {
        assert_eq!(received.transport, Transport::Grpc);
        assert_eq!(received.signal, Signal::Metrics);
        assert_eq!(received.metrics, sent);
        assert_eq!(received.request, Default::default());
        assert_eq!(received.logs, Default::default());
        assert_eq!(
            (
                received.data_point_count,
                received.span_count,
                received.log_record_count
            ),
            (10, 0, 0)
        );
        assert_eq!(received.content_encoding, encoding);
        assert_eq!(received.metric_list().count(), 5);
        assert_eq!(received.answered, Answer::Ok);
    }
}

#[tokio::test]
async fn http_metrics_in_protobuf_and_json_arrive_field_for_field_with_every_compression() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_metrics("http-metrics", 3);
    let mut cases = Vec::new();
    for content_type in [PROTOBUF, JSON] {
        for encoding in [None, Some("gzip"), Some("zstd")] {
            let body = compress(encoding, encode(content_type, &sent));
            let response = post(&metrics_url(&receiver), content_type, encoding, body).await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{content_type} {encoding:?}: {:?}",
                response.body
            );
            assert_eq!(response.header("content-type"), Some(content_type));
            assert_eq!(metrics_response(&response).partial_success, None);
            cases.push((content_type, encoding));
        }
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 6);
    for (received, (content_type, encoding)) in requests.iter().zip(cases) {
        assert_eq!(received.transport, Transport::Http);
        assert_eq!(received.signal, Signal::Metrics);
        assert_eq!(received.metrics, sent, "{content_type} {encoding:?}");
        assert_eq!(received.data_point_count, 15);
        assert_eq!(received.content_type.as_deref(), Some(content_type));
        assert_eq!(received.content_encoding.as_deref(), encoding);
    }
    assert_eq!(receiver.data_point_count(), 90);
    assert_eq!(receiver.stats().accepted_data_points, 90);
}

#[tokio::test]
async fn http_accepts_hand_written_otlp_json_metrics() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    // After the specification's example (examples/metrics.json): 64-bit
    // integers as strings or numbers, enums as integers, an unknown field.
    let json = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
        "scopeMetrics":[{"scope":{"name":"my.library","version":"1.0.0"},"metrics":[
        {"name":"my.counter","unit":"1","description":"I am a Counter","sum":{"aggregationTemporality":1,"isMonotonic":true,
          "dataPoints":[{"asDouble":5,"startTimeUnixNano":"1544712660300000000","timeUnixNano":"1544712660300000000",
          "attributes":[{"key":"my.counter.attr","value":{"stringValue":"some value"}}]}]}},
        {"name":"my.gauge","unit":"1","gauge":{"dataPoints":[{"asInt":"10","timeUnixNano":"1544712660300000000"},
          {"asInt":"-3","timeUnixNano":1544712660300000000,"unknownField":true}]}},
        {"name":"my.histogram","unit":"1","histogram":{"aggregationTemporality":1,"dataPoints":[{
          "startTimeUnixNano":"1544712660300000000","timeUnixNano":"1544712660300000000","count":"2","sum":2,
          "bucketCounts":["1","1"],"explicitBounds":[1],"min":0,"max":2}]}},
        {"name":"my.exponential.histogram","unit":"1","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[{
          "startTimeUnixNano":"1544712660300000000","timeUnixNano":"1544712660300000000","count":"3","sum":10,"scale":0,
          "zeroCount":"1","positive":{"offset":1,"bucketCounts":["0","2"]},"min":0,"max":5,"zeroThreshold":0}]}},
        {"name":"my.summary","summary":{"dataPoints":[{"count":"4","sum":8,"quantileValues":[{"quantile":0.5,"value":2}]}]}}
        ]}]}]}"#;
    let response = post(
        &metrics_url(&receiver),
        JSON,
        None,
        json.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(&response.body[..], b"{}");
    assert_eq!(receiver.data_point_count(), 6);
    let metrics = receiver.accepted_metrics();
    let names: Vec<&str> = metrics.iter().map(|metric| metric.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "my.counter",
            "my.gauge",
            "my.histogram",
            "my.exponential.histogram",
            "my.summary"
        ]
    );
    let Some(metric::Data::Sum(sum)) = &metrics[0].data else {
        panic!("a sum: {:?}", metrics[0]);
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 1);
    assert_eq!(
        sum.data_points[0].value,
        Some(number_data_point::Value::AsDouble(5.0))
    );
    assert_eq!(sum.data_points[0].attributes[0].key, "my.counter.attr");
    let Some(metric::Data::Gauge(gauge)) = &metrics[1].data else {
        panic!("a gauge: {:?}", metrics[1]);
    };
    let values: Vec<_> = gauge.data_points.iter().map(|point| point.value).collect();
    assert_eq!(
        values,
        [
            Some(number_data_point::Value::AsInt(10)),
            Some(number_data_point::Value::AsInt(-3))
        ]
    );
    assert_eq!(
        gauge.data_points[1].time_unix_nano,
        1_544_712_660_300_000_000
    );
    let Some(metric::Data::Histogram(histogram)) = &metrics[2].data else {
        panic!("a histogram: {:?}", metrics[2]);
    };
    let point = &histogram.data_points[0];
    assert_eq!(
        (point.count, point.sum, &point.bucket_counts[..]),
        (2, Some(2.0), &[1, 1][..])
    );
    let Some(metric::Data::ExponentialHistogram(histogram)) = &metrics[3].data else {
        panic!("an exponential histogram: {:?}", metrics[3]);
    };
    let point = &histogram.data_points[0];
    assert_eq!((point.count, point.zero_count), (3, 1));
    assert_eq!(
        point
            .positive
            .as_ref()
            .map(|buckets| buckets.bucket_counts.clone()),
        Some(vec![0, 2])
    );
    let resource = &receiver.accepted_metric_requests()[0].resource_metrics[0];
    assert_eq!(
        resource.scope_metrics[0]
            .scope
            .as_ref()
            .map(|scope| scope.name.as_str()),
        Some("my.library")
    );
}

/// proto3 JSON, which OTLP/JSON is, writes a non-finite `double` as the
/// string `"NaN"`, `"Infinity"` or `"-Infinity"`.
#[tokio::test]
async fn http_json_takes_nan_and_infinities_in_every_double_field() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let json = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"d","value":{"doubleValue":"-Infinity"}},
          {"key":"s","value":{"stringValue":"NaN"}}]},
        "scopeMetrics":[{"metrics":[
        {"name":"gauge","gauge":{"dataPoints":[{"asDouble":"NaN","timeUnixNano":"1"},{"asDouble":"Infinity","timeUnixNano":"1",
          "exemplars":[{"asDouble":"-Infinity","timeUnixNano":"1"}]}]}},
        {"name":"histogram","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"2","sum":"Infinity",
          "bucketCounts":["1","1"],"explicitBounds":["-Infinity"],"min":"-Infinity","max":"NaN"}]}},
        {"name":"exponential","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"count":"1","sum":"NaN",
          "zeroThreshold":"Infinity"}]}},
        {"name":"summary","summary":{"dataPoints":[{"count":"1","sum":"-Infinity","quantileValues":[{"quantile":1,"value":"Infinity"}]}]}}
        ]}]}]}"#;
    let response = post(
        &metrics_url(&receiver),
        JSON,
        None,
        json.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(receiver.data_point_count(), 5);
    let request = &receiver.accepted_metric_requests()[0];
    let values: Vec<_> = request.resource_metrics[0]
        .resource
        .iter()
        .flat_map(|resource| &resource.attributes)
        .map(|kv| kv.value.as_ref().and_then(|value| value.value.clone()))
        .collect();
    assert_eq!(
        values,
        [
            Some(any_value::Value::DoubleValue(f64::NEG_INFINITY)),
            Some(any_value::Value::StringValue("NaN".into()))
        ]
    );
    let metrics = receiver.accepted_metrics();
    let Some(metric::Data::Gauge(gauge)) = &metrics[0].data else {
        panic!("a gauge: {:?}", metrics[0]);
    };
    assert!(
        matches!(gauge.data_points[0].value, Some(number_data_point::Value::AsDouble(nan)) if nan.is_nan())
    );
    assert_eq!(
        gauge.data_points[1].value,
        Some(number_data_point::Value::AsDouble(f64::INFINITY))
    );
    assert_eq!(
        gauge.data_points[1].exemplars[0].value,
        Some(exemplar::Value::AsDouble(f64::NEG_INFINITY))
    );
    let Some(metric::Data::Histogram(histogram)) = &metrics[1].data else {
        panic!("a histogram: {:?}", metrics[1]);
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.sum, Some(f64::INFINITY));
    assert_eq!(point.explicit_bounds, [f64::NEG_INFINITY]);
    assert_eq!(point.min, Some(f64::NEG_INFINITY));
    assert!(point.max.is_some_and(f64::is_nan), "{:?}", point.max);
    let Some(metric::Data::ExponentialHistogram(histogram)) = &metrics[2].data else {
        panic!("an exponential histogram: {:?}", metrics[2]);
    };
    let point = &histogram.data_points[0];
    assert!(point.sum.is_some_and(f64::is_nan), "{:?}", point.sum);
    assert_eq!(point.zero_threshold, f64::INFINITY);
    let Some(metric::Data::Summary(summary)) = &metrics[3].data else {
        panic!("a summary: {:?}", metrics[3]);
    };
    let point = &summary.data_points[0];
    assert_eq!(point.sum, f64::NEG_INFINITY);
    assert_eq!(point.quantile_values[0].value, f64::INFINITY);
}

#[tokio::test]
async fn grpc_metrics_get_the_scripted_fault_then_partial_success() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([
        Fault::UnavailableRetryAfter(Duration::from_millis(1500)),
        Fault::PartialSuccess {
            rejected: 4,
            message: "out of order".into(),
        },
    ]);
    let mut client = metrics_client(&receiver).await;
    let request = rich_metrics("faults", 1);
    let status = client.export(request.clone()).await.expect_err("fault");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(grpc_retry_delay(&status), Some(Duration::from_millis(1500)));
    let response = client
        .export(request.clone())
        .await
        .expect("partial success is a success")
        .into_inner();
    assert_eq!(
        response.partial_success,
        Some(ExportMetricsPartialSuccess {
            rejected_data_points: 4,
            error_message: "out of order".into(),
        })
    );
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.requests,
            stats.faulted_requests,
            stats.accepted_requests
        ),
        (2, 1, 1)
    );
    assert_eq!(
        (stats.faulted_data_points, stats.accepted_data_points),
        (5, 5)
    );
    assert_eq!((stats.faulted_spans, stats.faulted_log_records), (0, 0));
    let answers: Vec<Answer> = receiver
        .requests()
        .into_iter()
        .map(|received| received.answered)
        .collect();
    assert_eq!(
        answers,
        vec![
            Answer::Fault(Fault::UnavailableRetryAfter(Duration::from_millis(1500))),
            Answer::Partial {
                rejected: 4,
                message: "out of order".into()
            },
        ]
    );
    assert_eq!(
        receiver.accepted_metric_requests(),
        vec![request],
        "only the accepted request"
    );
}

#[tokio::test]
async fn http_metrics_get_503_then_success_then_partial_success_in_both_formats() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let request = rich_metrics("http-faults", 2);
    for content_type in [PROTOBUF, JSON] {
        receiver.push_faults([
            Fault::Unavailable,
            Fault::Delay(Duration::from_millis(1)),
            Fault::PartialSuccess {
                rejected: 3,
                message: "three too many".into(),
            },
        ]);
        let body = gzip(&encode(content_type, &request));
        let url = metrics_url(&receiver);
        let unavailable = post(&url, content_type, Some("gzip"), body.clone()).await;
        assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.header("content-type"), Some(content_type));
        assert_eq!(unavailable.rpc_status().0, 14);

        let retried = post(&url, content_type, Some("gzip"), body.clone()).await;
        assert_eq!(retried.status, StatusCode::OK);
        assert_eq!(metrics_response(&retried).partial_success, None);

        let partial = post(&url, content_type, Some("gzip"), body).await;
        assert_eq!(partial.status, StatusCode::OK);
        assert_eq!(
            metrics_response(&partial).partial_success,
            Some(ExportMetricsPartialSuccess {
                rejected_data_points: 3,
                error_message: "three too many".into(),
            }),
            "{content_type}: {:?}",
            partial.body
        );
        if content_type == JSON {
            let value: serde_json::Value = serde_json::from_slice(&partial.body).expect("JSON");
            assert_eq!(value["partialSuccess"]["rejectedDataPoints"], "3");
        }
    }
    let stats = receiver.stats();
    assert_eq!((stats.faulted_requests, stats.accepted_requests), (2, 4));
    assert_eq!(
        (stats.faulted_data_points, stats.accepted_data_points),
        (20, 40)
    );
    assert_eq!(receiver.accepted_metric_requests().len(), 4);
}

#[tokio::test]
async fn three_signals_sent_to_one_receiver_are_counted_apart_and_share_the_fault_script() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    // One script for every signal, played in arrival order.
    receiver.push_faults([
        Fault::Throttle(Duration::from_millis(10)),
        Fault::Unavailable,
        Fault::Internal,
    ]);
    let metrics = rich_metrics("all", 1);
    let logs = rich_logs("all", 2);
    let traces = rich_request("all", 3);
    let status = post(
        &metrics_url(&receiver),
        PROTOBUF,
        None,
        metrics.encode_to_vec(),
    )
    .await
    .status;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let logs_url = receiver.http_logs_url().expect("logs URL");
    let status = post(&logs_url, PROTOBUF, None, logs.encode_to_vec())
        .await
        .status;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let traces_url = receiver.http_traces_url().expect("traces URL");
    let status = post_protobuf(&traces_url, &traces).await.status;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(receiver.pending_faults(), 0);

    metrics_client(&receiver)
        .await
        .export(metrics.clone())
        .await
        .expect("metrics over gRPC");
    let body = serde_json::to_vec(&logs).expect("JSON");
    assert_eq!(
        post(&logs_url, JSON, None, body).await.status,
        StatusCode::OK
    );
    assert_eq!(
        post_protobuf(&traces_url, &traces).await.status,
        StatusCode::OK
    );

    assert!(receiver.wait_for_data_points_async(5, TIMEOUT).await);
    assert_eq!(
        (
            receiver.span_count(),
            receiver.log_record_count(),
            receiver.data_point_count()
        ),
        (3, 2, 5)
    );
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.requests,
            stats.accepted_requests,
            stats.faulted_requests
        ),
        (6, 3, 3)
    );
    assert_eq!(
        (
            stats.faulted_spans,
            stats.faulted_log_records,
            stats.faulted_data_points
        ),
        (3, 2, 5)
    );
    assert_eq!(receiver.accepted_metric_requests(), vec![metrics]);
    assert_eq!(receiver.accepted_log_requests(), vec![logs]);
    assert_eq!(receiver.accepted_requests(), vec![traces]);
    let signals: Vec<Signal> = receiver
        .requests()
        .iter()
        .map(|received| received.signal)
        .collect();
    assert_eq!(
        signals,
        [
            Signal::Metrics,
            Signal::Logs,
            Signal::Traces,
            Signal::Metrics,
            Signal::Logs,
            Signal::Traces
        ]
    );
}

#[tokio::test]
async fn count_only_counts_data_points_and_decode_only_shows_them_to_the_observer() {
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..Default::default()
    })
    .expect("start");
    let metrics = rich_metrics("count", 3);
    for content_type in [PROTOBUF, JSON] {
        let body = encode(content_type, &metrics);
        let response = post(&metrics_url(&receiver), content_type, None, body).await;
        assert_eq!(response.status, StatusCode::OK);
    }
    metrics_client(&receiver)
        .await
        .export(metrics.clone())
        .await
        .expect("gRPC");
    assert_eq!(receiver.data_point_count(), 45);
    assert_eq!((receiver.span_count(), receiver.log_record_count()), (0, 0));
    assert!(receiver.requests().is_empty());
    // Framing errors are still caught without decoding.
    let truncated = metrics.encode_to_vec()[..40].to_vec();
    let response = post(&metrics_url(&receiver), PROTOBUF, None, truncated).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(receiver.stats().bad_requests, 1);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let observed = Arc::clone(&seen);
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::DecodeOnly,
        observer: Some(RequestObserver::new(move |received| {
            observed.lock().expect("lock").push((
                received.signal,
                received.data_point_count,
                received.metric_list().count(),
            ));
        })),
        ..Default::default()
    })
    .expect("start");
    let response = post(
        &metrics_url(&receiver),
        PROTOBUF,
        None,
        metrics.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(receiver.data_point_count(), 15);
    assert!(receiver.requests().is_empty());
    assert_eq!(*seen.lock().expect("lock"), vec![(Signal::Metrics, 15, 5)]);
}

#[tokio::test]
async fn bad_metrics_input_is_refused_as_for_traces() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let mut bad = rich_metrics("bad", 1);
    let Some(metric::Data::Histogram(histogram)) =
        &mut bad.resource_metrics[0].scope_metrics[0].metrics[2].data
    else {
        panic!("the third metric is the histogram");
    };
    histogram.data_points[0].exemplars[0].trace_id = vec![1; 8];
    for content_type in [PROTOBUF, JSON] {
        let response = post(
            &metrics_url(&receiver),
            content_type,
            None,
            encode(content_type, &bad),
        )
        .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{content_type}");
        let (code, message, _) = response.rpc_status();
        assert_eq!(code, 3);
        assert!(
            message.contains("histogram.dataPoints[0].exemplars[0].traceId has 8 bytes"),
            "{message}"
        );
    }
    let status = metrics_client(&receiver)
        .await
        .export(bad)
        .await
        .expect_err("wrong id length");
    assert_eq!(status.code(), Code::InvalidArgument);
    let garbage = post(&metrics_url(&receiver), PROTOBUF, None, vec![0xff; 3]).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(
        garbage
            .rpc_status()
            .1
            .contains("ExportMetricsServiceRequest"),
        "{:?}",
        garbage.rpc_status().1
    );
    let wrong_type = post(&metrics_url(&receiver), "text/plain", None, b"x".to_vec()).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let endpoint = receiver.http_endpoint().expect("HTTP");
    let wrong_path = post(&format!("{endpoint}/v1/metric"), PROTOBUF, None, Vec::new()).await;
    assert_eq!(wrong_path.status, StatusCode::NOT_FOUND);
    let (_, message, _) = wrong_path.rpc_status();
    assert!(message.contains("/v1/metrics"), "{message}");
    let stats = receiver.stats();
    assert_eq!((stats.bad_requests, stats.requests), (6, 6));
    assert_eq!(receiver.data_point_count(), 0);
}

#[tokio::test]
async fn the_receiver_service_is_also_a_metrics_service_sharing_script_and_data() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([
        Fault::Unauthenticated,
        Fault::PartialSuccess {
            rejected: 1,
            message: "own server".into(),
        },
    ]);
    let service = receiver.service();
    let sent = rich_metrics("own", 2);
    let status = MetricsService::export(&service, tonic::Request::new(sent.clone()))
        .await
        .expect_err("scripted fault");
    assert_eq!(status.code(), Code::Unauthenticated);
    let response = MetricsService::export(&service, tonic::Request::new(sent.clone()))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(
        response.partial_success.map(|p| p.rejected_data_points),
        Some(1)
    );
    assert_eq!(receiver.data_point_count(), 10);
    assert_eq!(receiver.stats().faulted_data_points, 10);
    assert_eq!(receiver.accepted_metric_requests(), vec![sent]);
}
