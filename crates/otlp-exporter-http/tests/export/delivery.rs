//! Spans go through the real pipeline and this exporter to the real receiver,
//! and arrive with every field intact, in both encodings, with and without
//! compression.

use std::time::Duration;

use otlp_contrib::receiver::Transport;
use otlp_core::encode::Encoding;
use otlp_exporter_http::{HttpExporter, USER_AGENT};
use otlp_sdk::ExportOutcome;
use otlp_sdk::config::{Compression, ExporterConfig, Headers, Protocol};

use crate::support::{
    assert_delivered_intact, encode, endpoint, export_once, finish, pipeline, receiver, rich_spans,
    send_batch,
};

fn every_field_arrives_intact(encoding: Encoding, compression: Compression) {
    let receiver = receiver();
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .encoding(encoding)
        .compression(compression)
        .header("x-tenant", "blue")
        .build()
        .expect("exporter");
    let processor = pipeline(exporter, Duration::from_secs(10));
    let spans = rich_spans(40);
    send_batch(&processor, spans.clone()).expect("flush");
    let stats = finish(&processor);
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (40, 0, 0),
        "{stats:?}"
    );
    assert_delivered_intact(&receiver, &spans);

    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.transport, Transport::Http);
        assert_eq!(
            request.content_type.as_deref(),
            Some(encoding.content_type())
        );
        let expected_encoding = match compression {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        };
        assert_eq!(request.content_encoding.as_deref(), expected_encoding);
        assert_eq!(request.header("x-tenant"), Some("blue"));
        assert_eq!(request.header("user-agent"), Some(USER_AGENT));
    }
}

#[test]
fn protobuf_arrives_intact() {
    every_field_arrives_intact(Encoding::Protobuf, Compression::None);
}

#[cfg(feature = "gzip")]
#[test]
fn protobuf_gzip_arrives_intact() {
    every_field_arrives_intact(Encoding::Protobuf, Compression::Gzip);
}

#[cfg(feature = "zstd")]
#[test]
fn protobuf_zstd_arrives_intact() {
    every_field_arrives_intact(Encoding::Protobuf, Compression::Zstd);
}

#[test]
fn json_arrives_intact() {
    every_field_arrives_intact(Encoding::Json, Compression::None);
}

#[cfg(feature = "gzip")]
#[test]
fn json_gzip_arrives_intact() {
    every_field_arrives_intact(Encoding::Json, Compression::Gzip);
}

#[cfg(feature = "zstd")]
#[test]
fn json_zstd_arrives_intact() {
    every_field_arrives_intact(Encoding::Json, Compression::Zstd);
}

#[cfg(feature = "gzip")]
#[test]
fn a_large_compressed_body_arrives_intact() {
    // Large enough to be compressed on the blocking pool.
    let receiver = receiver();
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .encoding(Encoding::Json)
        .compression(Compression::Gzip)
        .build()
        .expect("exporter");
    let spans = rich_spans(600);
    let request = encode(&spans, Encoding::Json);
    assert!(
        request.body.len() > 256 * 1024,
        "{} bytes",
        request.body.len()
    );
    assert_eq!(export_once(&exporter, request), ExportOutcome::Success);
    assert_delivered_intact(&receiver, &spans);
}

#[test]
fn headers_from_the_configuration_arrive() {
    let receiver = receiver();
    let config = ExporterConfig {
        endpoint: Some(endpoint(&receiver)),
        protocol: Protocol::HttpJson,
        headers: Headers::from_iter([("Authorization", "Bearer t0ken"), ("x-scope", "a=b,c")]),
        ..ExporterConfig::default()
    };
    let exporter = HttpExporter::from_config(&config).expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(2), Encoding::Json));
    assert_eq!(outcome, ExportOutcome::Success);
    let request = &receiver.requests()[0];
    assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(request.header("x-scope"), Some("a=b,c"));
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
}

/// An endpoint's user name and password arrive as HTTP Basic
/// `authorization` (percent-decoded), as the gRPC exporter sends them; a
/// configured `authorization` header wins, the only one sent.
#[test]
fn an_endpoints_user_and_password_arrive_as_basic_authorization() {
    let receiver = receiver();
    let with_user_info = endpoint(&receiver).replace("http://", "http://us%40er:p%3Aw@");
    let exporter = HttpExporter::builder()
        .endpoint(&with_user_info)
        .build()
        .expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    assert_eq!(outcome, ExportOutcome::Success);
    let configured = HttpExporter::builder()
        .endpoint(&with_user_info)
        .header("Authorization", "Bearer t0ken")
        .build()
        .expect("exporter");
    let outcome = export_once(&configured, encode(&rich_spans(1), Encoding::Protobuf));
    assert_eq!(outcome, ExportOutcome::Success);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    // base64 of `us@er:p:w`.
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic dXNAZXI6cDp3")
    );
    let authorizations = |index: usize| -> Vec<String> {
        requests[index]
            .headers
            .iter()
            .filter(|(name, _)| name == "authorization")
            .map(|(_, value)| value.clone())
            .collect()
    };
    assert_eq!(authorizations(0), ["Basic dXNAZXI6cDp3"]);
    assert_eq!(authorizations(1), ["Bearer t0ken"]);
}

#[test]
fn a_configured_user_agent_replaces_the_default() {
    let receiver = receiver();
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .header("User-Agent", "my-distro/2.0")
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert_eq!(
        receiver.requests()[0].header("user-agent"),
        Some("my-distro/2.0")
    );
}

#[test]
fn a_per_signal_endpoint_is_used_as_given() {
    let receiver = receiver();
    // The receiver serves /v1/traces only: a base URL with the path must not get it twice.
    let exporter = HttpExporter::builder()
        .traces_endpoint(format!("{}/v1/traces", endpoint(&receiver)))
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert_eq!(receiver.span_count(), 1);
}
