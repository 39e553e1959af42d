//! TLS and mTLS on both transports, with certificates from `TestCertificates`.

use http::StatusCode;
use otlp_contrib::receiver::{
    Receiver, ReceiverConfig, ReceiverError, ReceiverTls, TestCertificates,
};
use prost::Message;

use crate::support::*;

#[tokio::test]
async fn tls_serves_grpc_and_http_with_the_test_ca() {
    let certs = TestCertificates::generate().expect("certificates");
    let receiver = Receiver::start(ReceiverConfig {
        tls: Some(certs.server_tls()),
        ..Default::default()
    })
    .expect("start");
    let grpc = receiver.grpc_endpoint().expect("grpc");
    assert!(grpc.starts_with("https://127.0.0.1:"), "{grpc}");
    assert!(
        receiver
            .http_traces_url()
            .is_some_and(|url| url.starts_with("https://"))
    );

    let mut client = grpc_tls_client(&grpc, &certs, false)
        .await
        .expect("TLS channel");
    client
        .export(rich_request("tls", 2))
        .await
        .expect("export over TLS");

    let http_addr = receiver.http_addr().expect("http");
    let response = https_post(
        http_addr,
        &certs,
        false,
        rich_request("tls", 1).encode_to_vec(),
    )
    .await
    .expect("HTTPS");
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(receiver.span_count(), 3);

    // A client that does not trust the CA cannot connect.
    let other = TestCertificates::generate().expect("certificates");
    let untrusted = https_post(http_addr, &other, false, Vec::new()).await;
    assert!(untrusted.is_err());
    // Plain HTTP to a TLS port gets no answer: the handshake fails.
    let plain = http::Request::post(format!("http://{http_addr}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let plain = tokio::time::timeout(TIMEOUT, http_client().request(plain))
        .await
        .expect("no hang");
    assert!(plain.is_err());
    assert_eq!(receiver.span_count(), 3);
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_from_the_ca() {
    let certs = TestCertificates::generate().expect("certificates");
    let receiver = Receiver::start(ReceiverConfig {
        tls: Some(certs.mtls()),
        ..Default::default()
    })
    .expect("start");
    let grpc = receiver.grpc_endpoint().expect("grpc");
    let http_addr = receiver.http_addr().expect("http");

    let mut client = grpc_tls_client(&grpc, &certs, true)
        .await
        .expect("mTLS channel");
    client
        .export(rich_request("mtls", 1))
        .await
        .expect("export with a client certificate");
    let response = https_post(
        http_addr,
        &certs,
        true,
        rich_request("mtls", 1).encode_to_vec(),
    )
    .await
    .expect("HTTPS with a client certificate");
    assert_eq!(response.status, StatusCode::OK);

    // Without a client certificate: the connection may open (TLS 1.3), the request fails.
    let anonymous = match grpc_tls_client(&grpc, &certs, false).await {
        Ok(mut client) => client
            .export(rich_request("anonymous", 1))
            .await
            .err()
            .map(|status| status.code()),
        Err(_) => Some(tonic::Code::Unavailable),
    };
    assert!(anonymous.is_some(), "an anonymous gRPC client must fail");
    assert!(
        https_post(http_addr, &certs, false, Vec::new())
            .await
            .is_err()
    );

    // A certificate from another CA is refused too.
    let stranger = TestCertificates {
        ca_pem: certs.ca_pem.clone(),
        ..TestCertificates::generate().expect("certificates")
    };
    assert!(
        https_post(http_addr, &stranger, true, Vec::new())
            .await
            .is_err()
    );
    assert_eq!(receiver.span_count(), 2);
}

#[test]
fn bad_tls_material_is_a_typed_error() {
    let certs = TestCertificates::generate().expect("certificates");
    let cases = [
        ReceiverTls {
            cert_pem: "not a certificate".into(),
            ..certs.server_tls()
        },
        ReceiverTls {
            key_pem: String::new(),
            ..certs.server_tls()
        },
        ReceiverTls {
            key_pem: certs.client_key_pem.clone(),
            ..certs.server_tls()
        },
        ReceiverTls {
            client_ca_pem: Some("garbage".into()),
            ..certs.server_tls()
        },
    ];
    for tls in cases {
        let result = Receiver::start(ReceiverConfig {
            tls: Some(tls),
            ..Default::default()
        });
        assert!(matches!(result, Err(ReceiverError::Tls(_))), "{result:?}");
    }
    assert!(certs.client_identity_pem().contains("PRIVATE KEY"));
}

/// The request head timeout was counted from the TCP connection's start,
/// so a TLS client whose handshake took longer than it (a slow link, a
/// client busy elsewhere: the handshake has its own limit of 10 s) was
/// closed as soon as its handshake ended, its request unanswered, though
/// the timeout is documented to start after the handshake (as hyper's
/// HTTP/1.1 head timer does). It starts when the handshake ends.
#[tokio::test]
async fn a_slow_tls_handshake_does_not_use_up_the_request_head_timeout() {
    use http_body_util::BodyExt;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    // Seconds, so that a loaded machine's scheduling does not decide: the
    // request goes right after the handshake, the timeout 3 s later.
    let head_timeout = std::time::Duration::from_secs(3);
    let certs = TestCertificates::generate().expect("certificates");
    let receiver = Receiver::start(ReceiverConfig {
        tls: Some(certs.server_tls()),
        request_head_timeout: head_timeout,
        ..Default::default()
    })
    .expect("start");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).expect("CA"))
        .expect("root");
    #[allow(deprecated)] // ring's provider, deprecated in rustls 0.23.48 (no post-quantum)
    let ring = rustls::crypto::ring::default_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(ring))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(receiver.http_addr().expect("HTTP address"))
        .await
        .expect("connect");
    // The handshake starts after the head timeout has passed (well within
    // the handshake's own limit of 10 s), and the request goes right after.
    tokio::time::sleep(head_timeout + head_timeout / 2).await;
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let request = http::Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", "application/x-protobuf")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            rich_request("slow", 1).encode_to_vec(),
        )))
        .expect("request");
    let response = tokio::time::timeout(TIMEOUT, sender.send_request(request))
        .await
        .expect("an answer in time")
        .expect("an answer, not a closed connection");
    assert_eq!(response.status(), StatusCode::OK);
    let _ = response.into_body().collect().await;
    assert_eq!(receiver.span_count(), 1);
}
