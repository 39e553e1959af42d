//! Logs, the second signal: `LogsService/Export` and `POST /v1/logs`, with
//! requests built from `opentelemetry-proto`'s types and sent by tonic's
//! generated `LogsServiceClient` and plain hyper clients.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsService;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
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

fn encode(content_type: &str, request: &ExportLogsServiceRequest) -> Vec<u8> {
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

fn logs_url(receiver: &Receiver) -> String {
    receiver.http_logs_url().expect("HTTP endpoint")
}

async fn logs_client(receiver: &Receiver) -> LogsServiceClient<Channel> {
    LogsServiceClient::connect(receiver.grpc_endpoint().expect("gRPC endpoint"))
        .await
        .expect("gRPC connect")
}

/// A JSON or protobuf `ExportLogsServiceResponse` body. Protobuf is decoded
/// with opentelemetry-proto; JSON by hand, since OTLP/JSON writes
/// `rejectedLogRecords` as a string, which opentelemetry-proto's serde types
/// do not read.
fn logs_response(response: &HttpResponse) -> ExportLogsServiceResponse {
    if response.header("content-type") != Some(JSON) {
        return ExportLogsServiceResponse::decode(response.body.clone())
            .expect("ExportLogsServiceResponse");
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON response");
    let partial_success = value
        .get("partialSuccess")
        .map(|partial| ExportLogsPartialSuccess {
            rejected_log_records: partial["rejectedLogRecords"]
                .as_str()
                .map_or(0, |count| count.parse().expect("a decimal string")),
            error_message: partial["errorMessage"].as_str().unwrap_or("").to_owned(),
        });
    ExportLogsServiceResponse { partial_success }
}

#[tokio::test]
async fn grpc_logs_arrive_decoded_field_for_field_with_every_compression() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_logs("grpc-logs", 3);
    let mut encodings = Vec::new();
    for encoding in [
        None,
        Some(CompressionEncoding::Gzip),
        Some(CompressionEncoding::Zstd),
    ] {
        let mut client = logs_client(&receiver).await;
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
    assert!(receiver.wait_for_log_records(9, TIMEOUT));
    assert_eq!(receiver.log_record_count(), 9);
    assert_eq!(receiver.span_count(), 0);
    assert_eq!(receiver.accepted_log_requests(), vec![sent.clone(); 3]);
    assert_eq!(
        receiver.accepted_requests(),
        Vec::new(),
        "no trace requests"
    );
    let records = receiver.accepted_logs();
    assert_eq!(records.len(), 9);
    assert_eq!(
        records[0],
        sent.resource_logs[0].scope_logs[0].log_records[0]
    );
    for (received, encoding) in receiver.requests().iter().zip(encodings) {
        assert_eq!(received.transport, Transport::Grpc);
        assert_eq!(received.signal, Signal::Logs);
        assert_eq!(received.logs, sent);
        assert_eq!(received.request, Default::default());
        assert_eq!((received.log_record_count, received.span_count), (3, 0));
        assert_eq!(received.content_encoding, encoding);
        assert_eq!(received.log_records().count(), 3);
        assert_eq!(received.answered, Answer::Ok);
    }
}

#[tokio::test]
async fn http_logs_in_protobuf_and_json_arrive_field_for_field_with_every_compression() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_logs("http-logs", 2);
    let mut cases = Vec::new();
    for content_type in [PROTOBUF, JSON] {
        for encoding in [None, Some("gzip"), Some("zstd")] {
            let body = compress(encoding, encode(content_type, &sent));
            let response = post(&logs_url(&receiver), content_type, encoding, body).await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{content_type} {encoding:?}: {:?}",
                response.body
            );
            assert_eq!(response.header("content-type"), Some(content_type));
            assert_eq!(logs_response(&response).partial_success, None);
            cases.push((content_type, encoding));
        }
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 6);
    for (received, (content_type, encoding)) in requests.iter().zip(cases) {
        assert_eq!(received.transport, Transport::Http);
        assert_eq!(received.signal, Signal::Logs);
        assert_eq!(received.logs, sent, "{content_type} {encoding:?}");
        assert_eq!(received.content_type.as_deref(), Some(content_type));
        assert_eq!(received.content_encoding.as_deref(), encoding);
    }
    assert_eq!(receiver.log_record_count(), 12);
    assert_eq!(receiver.stats().accepted_log_records, 12);
}

#[tokio::test]
async fn http_accepts_hand_written_otlp_json_logs() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js"}}]},
        "scopeLogs":[{"scope":{"name":"lib"},"logRecords":[{"timeUnixNano":"1544712660300000000",
        "observedTimeUnixNano":1544712660300000000,"severityNumber":10,"severityText":"Information",
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
        "body":{"stringValue":"Example log record"},"unknownField":[1,2],
        "attributes":[{"key":"n","value":{"intValue":"42"}}]},
        {"body":{"kvlistValue":{"values":[{"key":"k","value":{"boolValue":true}}]}},"traceId":"","spanId":""}]}]}]}"#;
    let response = post(&logs_url(&receiver), JSON, None, json.as_bytes().to_vec()).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(&response.body[..], b"{}");
    let records = receiver.accepted_logs();
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!(first.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(first.observed_time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(first.severity_number, SeverityNumber::Info2 as i32);
    assert_eq!(first.trace_id[0], 0x5b);
    assert_eq!(first.span_id.len(), 8);
    assert_eq!(
        first.body.as_ref().and_then(|body| body.value.clone()),
        Some(Value::StringValue("Example log record".into()))
    );
    assert_eq!(first.attributes[0].key, "n");
    assert!(records[1].trace_id.is_empty() && records[1].span_id.is_empty());
    let resource = &receiver.accepted_log_requests()[0].resource_logs[0];
    assert_eq!(
        resource.scope_logs[0]
            .scope
            .as_ref()
            .map(|s| s.name.as_str()),
        Some("lib")
    );
}

#[tokio::test]
async fn grpc_logs_get_the_scripted_fault_then_partial_success() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([
        Fault::UnavailableRetryAfter(Duration::from_millis(1500)),
        Fault::PartialSuccess {
            rejected: 2,
            message: "too old".into(),
        },
    ]);
    let mut client = logs_client(&receiver).await;
    let request = rich_logs("faults", 3);
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
        Some(ExportLogsPartialSuccess {
            rejected_log_records: 2,
            error_message: "too old".into(),
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
        (stats.faulted_log_records, stats.accepted_log_records),
        (3, 3)
    );
    assert_eq!((stats.faulted_spans, stats.accepted_spans), (0, 0));
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
                rejected: 2,
                message: "too old".into()
            },
        ]
    );
    assert_eq!(
        receiver.accepted_logs().len(),
        3,
        "only the accepted request"
    );
}

#[tokio::test]
async fn http_logs_get_503_with_retry_after_then_partial_success_in_both_formats() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let request = rich_logs("http-faults", 2);
    for content_type in [PROTOBUF, JSON] {
        receiver.push_faults([
            Fault::UnavailableRetryAfter(Duration::from_millis(1500)),
            Fault::PartialSuccess {
                rejected: 1,
                message: "one too many".into(),
            },
        ]);
        let body = gzip(&encode(content_type, &request));
        let unavailable = post(
            &logs_url(&receiver),
            content_type,
            Some("gzip"),
            body.clone(),
        )
        .await;
        assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.header("retry-after"), Some("2"));
        assert_eq!(unavailable.header("content-type"), Some(content_type));
        let (code, _, delay) = unavailable.rpc_status();
        assert_eq!((code, delay), (14, Some(Duration::from_millis(1500))));

        let partial = post(&logs_url(&receiver), content_type, Some("gzip"), body).await;
        assert_eq!(partial.status, StatusCode::OK);
        assert_eq!(
            logs_response(&partial).partial_success,
            Some(ExportLogsPartialSuccess {
                rejected_log_records: 1,
                error_message: "one too many".into(),
            }),
            "{content_type}: {:?}",
            partial.body
        );
        if content_type == JSON {
            let value: serde_json::Value = serde_json::from_slice(&partial.body).expect("JSON");
            assert_eq!(value["partialSuccess"]["rejectedLogRecords"], "1");
        }
    }
    let stats = receiver.stats();
    assert_eq!((stats.faulted_requests, stats.accepted_requests), (2, 2));
    assert_eq!(
        (stats.faulted_log_records, stats.accepted_log_records),
        (4, 4)
    );
}

#[tokio::test]
async fn traces_and_logs_sent_to_one_receiver_are_counted_apart_and_share_the_fault_script() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    // One script for both signals: the log request takes the first fault, the
    // trace request the second.
    receiver.push_faults([Fault::Unavailable, Fault::Delay(Duration::from_millis(1))]);
    let logs = rich_logs("both", 2);
    let traces = rich_request("both", 3);
    let status = post(&logs_url(&receiver), PROTOBUF, None, logs.encode_to_vec())
        .await
        .status;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let url = receiver.http_traces_url().expect("traces URL");
    assert_eq!(post_protobuf(&url, &traces).await.status, StatusCode::OK);
    assert_eq!(receiver.pending_faults(), 0);

    let mut log_client = logs_client(&receiver).await;
    log_client
        .export(logs.clone())
        .await
        .expect("logs over gRPC");
    let mut trace_client = grpc_client(&receiver.grpc_endpoint().expect("gRPC")).await;
    trace_client
        .export(traces.clone())
        .await
        .expect("traces over gRPC");
    let body = serde_json::to_vec(&logs).expect("JSON");
    assert_eq!(
        post(&logs_url(&receiver), JSON, None, body).await.status,
        StatusCode::OK
    );

    assert!(receiver.wait_for_log_records_async(4, TIMEOUT).await);
    assert!(receiver.wait_for_spans(6, TIMEOUT));
    assert_eq!(receiver.span_count(), 6);
    assert_eq!(receiver.log_record_count(), 4);
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.requests,
            stats.accepted_requests,
            stats.faulted_requests
        ),
        (5, 4, 1)
    );
    assert_eq!((stats.faulted_log_records, stats.faulted_spans), (2, 0));
    assert_eq!(receiver.accepted_requests(), vec![traces.clone(); 2]);
    assert_eq!(receiver.accepted_log_requests(), vec![logs.clone(); 2]);
    assert_eq!(receiver.accepted_spans().len(), 6);
    assert_eq!(receiver.accepted_logs().len(), 4);
    let signals: Vec<Signal> = receiver
        .requests()
        .iter()
        .map(|received| received.signal)
        .collect();
    // gRPC and HTTP requests of the middle part are ordered by arrival.
    assert_eq!(
        signals,
        vec![
            Signal::Logs,
            Signal::Traces,
            Signal::Logs,
            Signal::Traces,
            Signal::Logs
        ]
    );
}

#[tokio::test]
async fn count_only_counts_log_records_and_decode_only_shows_them_to_the_observer() {
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..Default::default()
    })
    .expect("start");
    let logs = rich_logs("count", 5);
    for content_type in [PROTOBUF, JSON] {
        let body = encode(content_type, &logs);
        let response = post(&logs_url(&receiver), content_type, None, body).await;
        assert_eq!(response.status, StatusCode::OK);
    }
    logs_client(&receiver)
        .await
        .export(logs.clone())
        .await
        .expect("gRPC");
    assert_eq!(receiver.log_record_count(), 15);
    assert_eq!(receiver.span_count(), 0);
    assert!(receiver.requests().is_empty());
    // Framing errors are still caught without decoding.
    let truncated = logs.encode_to_vec()[..20].to_vec();
    let response = post(&logs_url(&receiver), PROTOBUF, None, truncated).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let observed = Arc::clone(&seen);
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::DecodeOnly,
        observer: Some(RequestObserver::new(move |received| {
            observed
                .lock()
                .expect("lock")
                .push((received.signal, received.log_record_count));
        })),
        ..Default::default()
    })
    .expect("start");
    let response = post(&logs_url(&receiver), PROTOBUF, None, logs.encode_to_vec()).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(receiver.log_record_count(), 5);
    assert!(receiver.requests().is_empty());
    assert_eq!(*seen.lock().expect("lock"), vec![(Signal::Logs, 5)]);
}

#[tokio::test]
async fn bad_log_input_is_refused_as_for_traces() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let mut bad = rich_logs("bad", 1);
    bad.resource_logs[0].scope_logs[0].log_records[0].trace_id = vec![1; 8];
    for content_type in [PROTOBUF, JSON] {
        let response = post(
            &logs_url(&receiver),
            content_type,
            None,
            encode(content_type, &bad),
        )
        .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{content_type}");
        let (code, message, _) = response.rpc_status();
        assert_eq!(code, 3);
        assert!(message.contains("traceId has 8 bytes"), "{message}");
    }
    let status = logs_client(&receiver)
        .await
        .export(bad)
        .await
        .expect_err("wrong id length");
    assert_eq!(status.code(), Code::InvalidArgument);
    let wrong_type = post(&logs_url(&receiver), "text/plain", None, b"x".to_vec()).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let endpoint = receiver.http_endpoint().expect("HTTP");
    let wrong_path = post(&format!("{endpoint}/v1/log"), PROTOBUF, None, Vec::new()).await;
    assert_eq!(wrong_path.status, StatusCode::NOT_FOUND);
    let (_, message, _) = wrong_path.rpc_status();
    assert!(message.contains("/v1/logs"), "{message}");
    let get = http::Request::get(logs_url(&receiver))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    assert_eq!(
        send(&http_client(), get).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let stats = receiver.stats();
    assert_eq!((stats.bad_requests, stats.requests), (6, 6));
    assert_eq!(receiver.log_record_count(), 0);
}

#[tokio::test]
async fn the_receiver_service_is_also_a_logs_service_sharing_script_and_data() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([Fault::PartialSuccess {
        rejected: 1,
        message: "own server".into(),
    }]);
    let service = receiver.service();
    let sent = rich_logs("own", 2);
    let response = LogsService::export(&service, tonic::Request::new(sent.clone()))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(
        response.partial_success.map(|p| p.rejected_log_records),
        Some(1)
    );
    let mut bad = sent.clone();
    bad.resource_logs[0].scope_logs[0].log_records[0].span_id = vec![1; 3];
    let status = LogsService::export(&service, tonic::Request::new(bad))
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(receiver.log_record_count(), 2);
    assert_eq!(receiver.accepted_log_requests(), vec![sent]);
    assert_eq!(receiver.stats().bad_requests, 1);
}
