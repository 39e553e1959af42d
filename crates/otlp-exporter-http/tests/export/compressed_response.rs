//! A server that compresses its answer: a request without `Accept-Encoding`
//! accepts any coding (RFC 9110), and a proxy in front of a collector may
//! gzip what the collector says. The partial success inside must still be
//! read. The server here is a bare HTTP/1.1 responder on loopback: no
//! receiver compresses its answers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use otlp_core::encode::Encoding;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::ExportOutcome;
use prost::Message;

use crate::support::{encode, export_once, rich_spans};

/// Answers one request with `200`, `Content-Encoding: {coding}` and `body`;
/// returns its endpoint and the thread, which yields the request's head.
fn answer_once(coding: &'static str, body: Vec<u8>) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        let head_end = loop {
            let n = stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the client hung up");
            request.extend_from_slice(&chunk[..n]);
            if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map(|value| value.trim().parse().unwrap())
            .expect("a content-length");
        while request.len() < head_end + length {
            let n = stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the client hung up mid-body");
            request.extend_from_slice(&chunk[..n]);
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\
             content-encoding: {coding}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        head
    });
    (endpoint, server)
}

fn partial_success() -> Vec<u8> {
    ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "3 spans too old".into(),
        }),
    }
    .encode_to_vec()
}

fn export_to(endpoint: String) -> ExportOutcome {
    let exporter = HttpExporter::builder()
        .endpoint(endpoint)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("exporter");
    export_once(&exporter, encode(&rich_spans(8), Encoding::Protobuf))
}

#[cfg(feature = "gzip")]
#[test]
fn a_gzip_compressed_partial_success_is_read() {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&partial_success()).unwrap();
    let (endpoint, server) = answer_once("gzip", gzip.finish().unwrap());
    assert_eq!(
        export_to(endpoint),
        ExportOutcome::PartialSuccess {
            rejected_spans: 3,
            message: "3 spans too old".into()
        }
    );
    let head = server.join().unwrap();
    assert!(head.starts_with("post /v1/traces "), "{head}");
}

#[cfg(feature = "zstd")]
#[test]
fn a_zstd_compressed_partial_success_is_read() {
    let body = zstd::bulk::compress(&partial_success(), 3).unwrap();
    let (endpoint, server) = answer_once("zstd", body);
    assert_eq!(
        export_to(endpoint),
        ExportOutcome::PartialSuccess {
            rejected_spans: 3,
            message: "3 spans too old".into()
        }
    );
    server.join().unwrap();
}

#[test]
fn an_answer_in_an_unknown_coding_still_counts_the_records_delivered() {
    // `200` says the records were accepted; what else the body says is lost,
    // and the warning names the coding.
    let (endpoint, server) = answer_once("br", partial_success());
    match export_to(endpoint) {
        ExportOutcome::PartialSuccess {
            rejected_spans: 0,
            message,
        } => assert!(message.contains("br"), "{message}"),
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn an_empty_answer_labelled_compressed_is_a_plain_success() {
    // Some proxies label every answer with their coding, an empty one too:
    // there is nothing to decompress, and no reason for a warning.
    for coding in ["gzip", "zstd"] {
        let (endpoint, server) = answer_once(coding, Vec::new());
        assert_eq!(export_to(endpoint), ExportOutcome::Success, "{coding}");
        server.join().unwrap();
    }
}
