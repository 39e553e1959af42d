//! TLS and mutual TLS against the real receiver, with certificates generated
//! for each test: the right CA delivers, a wrong CA or a missing client
//! certificate does not, and TLS files named in the sdk configuration work.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use otlp_contrib::receiver::{Receiver, ReceiverConfig, TestCertificates};
use otlp_exporter_grpc::{BuildError, Compression, GrpcExporter};
use otlp_sdk::config::{ExporterConfig, Protocol};
use otlp_sdk::{ExportError, ExportOutcome, Exporter, SpanProcessor};
use support::*;

fn certificates() -> TestCertificates {
    TestCertificates::generate().expect("test certificates")
}

fn tls_receiver(certs: &TestCertificates, require_client_certificate: bool) -> Receiver {
    let tls = if require_client_certificate {
        certs.mtls()
    } else {
        certs.server_tls()
    };
    Receiver::start(ReceiverConfig {
        tls: Some(tls),
        ..ReceiverConfig::default()
    })
    .expect("receiver starts")
}

fn endpoint(receiver: &Receiver) -> String {
    let endpoint = receiver.grpc_endpoint().expect("gRPC listener");
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    endpoint
}

fn assert_fails_without_delivery(exporter: &GrpcExporter, receiver: &Receiver) -> String {
    match block_on(exporter.export(request(&rich_spans(1)))) {
        ExportOutcome::Retryable {
            error: ExportError::Transport(message),
            throttle: None,
        } => {
            assert_eq!(receiver.span_count(), 0);
            message
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Asserts that an export fails for good (no retry can change a server
/// certificate that fails verification), naming the certificate, and that
/// nothing was delivered.
fn assert_refused_for_good(exporter: &GrpcExporter, receiver: &Receiver) -> String {
    match block_on(exporter.export(request(&rich_spans(1)))) {
        ExportOutcome::Permanent {
            error: ExportError::Transport(message),
        } => {
            assert!(message.to_lowercase().contains("certificate"), "{message}");
            assert_eq!(receiver.span_count(), 0);
            message
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn tls_with_the_right_ca_delivers_every_field() {
    let certs = certificates();
    let receiver = tls_receiver(&certs, false);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certs.ca_pem.clone())
        .compression(Compression::Gzip)
        .build()
        .expect("exporter builds");
    let processor = pipeline(exporter, Duration::from_secs(10));
    let spans = rich_spans(12);

    let stats = export_all(&processor, &spans, Duration::from_secs(10));
    processor
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    assert_eq!((stats.exported, stats.failed), (12, 0), "{stats:?}");
    assert_arrived_intact(&spans, &receiver);
}

#[test]
fn tls_verifies_the_name_given_instead_of_the_endpoint_host() {
    let certs = certificates();
    let receiver = tls_receiver(&certs, false);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certs.ca_pem.clone())
        .tls_server_name("localhost")
        .build()
        .expect("exporter builds");
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );

    let receiver = tls_receiver(&certs, false);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certs.ca_pem.clone())
        .tls_server_name("not-the-server.example")
        .timeout(Duration::from_secs(2))
        .build()
        .expect("exporter builds");
    assert_refused_for_good(&exporter, &receiver);
}

/// An endpoint's user-info over TLS: the certificate is verified against the
/// host (the user-info is no part of the server name), and the user name and
/// password arrive as HTTP Basic `authorization`, inside the TLS session.
#[test]
fn tls_with_user_info_verifies_the_host_and_sends_basic_authorization() {
    let certs = certificates();
    let receiver = tls_receiver(&certs, false);
    let with_user_info = endpoint(&receiver).replace("https://", "https://us%40er:p%3Aw@");
    let exporter = GrpcExporter::builder()
        .endpoint(&with_user_info)
        .ca_certificate_pem(certs.ca_pem.clone())
        .build()
        .expect("exporter builds");
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    // base64 of `us@er:p:w`.
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic dXNAZXI6cDp3")
    );
}

/// `ca_certificate_pem` called several times trusts every document given,
/// as the HTTP exporter's does: the second call replaced the first, so the
/// server's CA given first was forgotten and the connection refused.
#[test]
fn several_ca_documents_are_all_trusted() {
    let certs = certificates();
    let other = certificates();
    let receiver = tls_receiver(&certs, false);
    for (first, second) in [
        (certs.ca_pem.clone(), other.ca_pem.clone()),
        (other.ca_pem.clone(), certs.ca_pem.clone()),
    ] {
        let exporter = GrpcExporter::builder()
            .endpoint(endpoint(&receiver))
            .ca_certificate_pem(first)
            .ca_certificate_pem(second)
            .build()
            .expect("exporter builds");
        let processor = pipeline(exporter, Duration::from_secs(10));
        let stats = export_all(&processor, &rich_spans(2), Duration::from_secs(10));
        processor
            .shutdown(Duration::from_secs(5))
            .expect("clean shutdown");
        assert_eq!((stats.exported, stats.failed), (2, 0), "{stats:?}");
    }
    assert_eq!(receiver.span_count(), 4);
}

#[test]
fn tls_with_a_wrong_ca_fails_for_good() {
    let certs = certificates();
    let other = certificates();
    let receiver = tls_receiver(&certs, false);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(other.ca_pem)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("exporter builds");
    assert_refused_for_good(&exporter, &receiver);

    // Through the pipeline the spans are counted failed after the first
    // attempt, not retried until the batch's time (here 10 minutes) is up.
    let processor = pipeline(exporter, Duration::from_secs(600));
    let stats = export_all(&processor, &rich_spans(3), Duration::from_secs(60));
    let _ = processor.shutdown(Duration::from_secs(5));
    assert_eq!((stats.exported, stats.failed), (0, 3), "{stats:?}");
    assert_eq!(receiver.span_count(), 0);
}

#[test]
fn https_to_a_plaintext_receiver_says_the_server_did_not_answer_in_tls() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver starts");
    let plaintext = receiver.grpc_endpoint().expect("gRPC listener");
    let exporter = GrpcExporter::builder()
        .endpoint(plaintext.replacen("http://", "https://", 1))
        .ca_certificate_pem(certificates().ca_pem)
        .build()
        .expect("exporter builds");
    // rustls alone says "received corrupt message of type InvalidContentType".
    let message = assert_fails_without_delivery(&exporter, &receiver);
    assert!(message.contains("not TLS"), "{message}");
    assert!(message.contains("http://"), "{message}");
}

/// A TLS server given a plaintext HTTP/2 preface: its alert record, then it
/// reads on until the client hangs up (a real one closes at once, and then
/// the client may see only a broken pipe; when its alert arrives first, the
/// client sees what this server sends).
fn tls_alert_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        while let Ok((mut stream, _)) = listener.accept() {
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                if matches!(stream.read(&mut buffer), Ok(read) if read > 0) {
                    // TLS 1.2 record, alert, fatal, decode_error.
                    let _ = stream.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);
                }
                while matches!(stream.read(&mut buffer), Ok(read) if read > 0) {}
            });
        }
    });
    format!("http://{address}")
}

#[test]
fn http_to_a_tls_server_says_the_answer_was_not_http2_and_names_https() {
    let exporter = GrpcExporter::builder()
        .endpoint(tls_alert_server())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("exporter builds");
    // h2 alone says "frame with invalid size".
    match block_on(exporter.export(request(&rich_spans(1)))) {
        ExportOutcome::Retryable {
            error: ExportError::Transport(message),
            throttle: None,
        } => {
            assert!(message.contains("not HTTP/2"), "{message}");
            assert!(message.contains("https://"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn mtls_with_a_client_certificate_delivers() {
    let certs = certificates();
    let receiver = tls_receiver(&certs, true);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certs.ca_pem.clone())
        .client_identity_pem(certs.client_cert_pem.clone(), certs.client_key_pem.clone())
        .compression(Compression::Zstd)
        .build()
        .expect("exporter builds");
    let processor = pipeline(exporter, Duration::from_secs(10));
    let spans = rich_spans(8);

    let stats = export_all(&processor, &spans, Duration::from_secs(10));
    processor
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    assert_eq!((stats.exported, stats.failed), (8, 0), "{stats:?}");
    assert_arrived_intact(&spans, &receiver);
}

#[test]
fn mtls_without_a_client_certificate_fails() {
    let certs = certificates();
    let receiver = tls_receiver(&certs, true);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certs.ca_pem.clone())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("exporter builds");
    assert_fails_without_delivery(&exporter, &receiver);
}

#[test]
fn mtls_with_a_certificate_from_another_ca_fails() {
    let certs = certificates();
    let stranger = certificates();
    let receiver = tls_receiver(&certs, true);
    let exporter = GrpcExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certs.ca_pem.clone())
        .client_identity_pem(stranger.client_cert_pem, stranger.client_key_pem)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("exporter builds");
    assert_fails_without_delivery(&exporter, &receiver);
}

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("otlp-exporter-grpc-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn write(&self, file: &str, contents: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn mtls_files_named_in_the_sdk_config_deliver() {
    let certs = certificates();
    let receiver = tls_receiver(&certs, true);
    let dir = TempDir::new("config-mtls");
    let mut config = ExporterConfig {
        protocol: Protocol::Grpc,
        traces_endpoint: Some(endpoint(&receiver)),
        ..ExporterConfig::default()
    };
    config.tls.ca_certificate = Some(dir.write("ca.pem", &certs.ca_pem));
    config.tls.client_certificate = Some(dir.write("client.pem", &certs.client_cert_pem));
    config.tls.client_key = Some(dir.write("client.key", &certs.client_key_pem));

    let exporter = GrpcExporter::from_config(&config).expect("exporter builds");
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(3)))),
        ExportOutcome::Success
    );
    assert_eq!(receiver.span_count(), 3);
}

#[test]
fn bad_tls_files_are_named_in_the_error() {
    let certs = certificates();
    let dir = TempDir::new("config-bad");
    let mut config = ExporterConfig {
        protocol: Protocol::Grpc,
        traces_endpoint: Some("https://127.0.0.1:4317".into()),
        ..ExporterConfig::default()
    };
    config.tls.ca_certificate = Some(dir.write("ca.pem", &certs.ca_pem));
    config.tls.client_certificate = Some(dir.write("client.pem", &certs.client_cert_pem));
    // The certificate where the key should be.
    let wrong_key = dir.write("client.key", &certs.client_cert_pem);
    config.tls.client_key = Some(wrong_key.clone());

    let error = GrpcExporter::from_config(&config).unwrap_err();
    assert!(matches!(error, BuildError::Tls { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY"), "{text}");
    // The key's path is shown redacted, as the configuration's errors show it.
    assert!(text.contains("file <redacted>"), "{text}");
    assert!(!text.contains(&wrong_key.display().to_string()), "{text}");
    assert!(!text.contains("BEGIN"), "no PEM in messages: {text}");

    config.tls.client_key = Some(dir.0.join("missing.key"));
    let error = GrpcExporter::from_config(&config).unwrap_err();
    assert!(matches!(error, BuildError::ReadFile { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY"), "{text}");
    assert!(!text.contains("missing.key"), "{text}");
}

#[test]
fn a_client_key_pasted_where_its_path_goes_is_not_shown() {
    // Before: `cannot read exporter.client_key (...) file -----BEGIN PRIVATE
    // KEY-----...: File name too long`, the whole key in the message.
    let certs = certificates();
    let dir = TempDir::new("config-pasted-key");
    let certificate = dir.write("client.pem", &certs.client_cert_pem);
    let certificate = certificate.display().to_string();
    let env = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4317"),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            certificate.as_str(),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            certs.client_key_pem.as_str(),
        ),
    ];
    let config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir(dir.0.join("no-such-dir"))
        .with_env(env)
        .load()
        .expect("the configuration takes any path");
    let error = GrpcExporter::from_config(&config.exporter).unwrap_err();
    assert!(matches!(error, BuildError::ReadFile { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY") && text.contains("<redacted>"),
        "{text}"
    );
    assert_no_key(&text, &certs.client_key_pem);
    // The configuration's own error about the same value shows it alike.
    let error = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir(dir.0.join("no-such-dir"))
        .with_env([env[0], env[1], env[3]])
        .load()
        .unwrap_err();
    assert_eq!(error.value(), Some("<redacted>"), "{error}");
    assert_no_key(&error.to_string(), &certs.client_key_pem);
}

/// Asserts that no line of the PEM `key` is in `text`.
fn assert_no_key(text: &str, key: &str) {
    for line in key.lines().filter(|line| !line.trim().is_empty()) {
        assert!(!text.contains(line), "{line:?} in {text}");
    }
}

/// A PEM block whose base64 is sound but whose bytes are no certificate: a
/// damaged file, or something else saved under the CA's name.
const NOT_A_CERTIFICATE_PEM: &str = "-----BEGIN CERTIFICATE-----\n\
     bm90IGEgY2VydGlmaWNhdGUsIGp1c3QgYnl0ZXM=\n\
     -----END CERTIFICATE-----\n";

#[test]
fn a_ca_file_whose_certificate_does_not_parse_is_named() {
    let certs = certificates();
    let dir = TempDir::new("config-unparsable-ca");
    let mut config = ExporterConfig {
        protocol: Protocol::Grpc,
        traces_endpoint: Some("https://127.0.0.1:4317".into()),
        ..ExporterConfig::default()
    };
    // Nothing usable in it: refused, where it built and every handshake
    // then failed with `UnknownIssuer`.
    for (name, contents) in [
        ("damaged.pem", NOT_A_CERTIFICATE_PEM.to_owned()),
        (
            "two-damaged.pem",
            format!("{NOT_A_CERTIFICATE_PEM}{NOT_A_CERTIFICATE_PEM}"),
        ),
    ] {
        let path = dir.write(name, &contents);
        config.tls.ca_certificate = Some(path.clone());
        let error = GrpcExporter::from_config(&config).unwrap_err();
        assert!(matches!(error, BuildError::Tls { .. }), "{error}");
        let text = error.to_string();
        assert!(text.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("no usable CA certificate"), "{text}");
    }
    // A bundle with one usable CA is taken, as a system bundle holding a
    // certificate webpki cannot read must be (Go's `AppendCertsFromPEM` too).
    let receiver = tls_receiver(&certs, false);
    let bundle = format!("{NOT_A_CERTIFICATE_PEM}{}", certs.ca_pem);
    config.tls.ca_certificate = Some(dir.write("bundle.pem", &bundle));
    config.traces_endpoint = Some(endpoint(&receiver));
    let exporter = GrpcExporter::from_config(&config).expect("one usable CA is enough");
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );

    let error = GrpcExporter::builder()
        .endpoint("https://127.0.0.1:4317")
        .ca_certificate_pem(NOT_A_CERTIFICATE_PEM)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("ca_certificate_pem"), "{error}");
}

#[test]
fn a_client_key_that_does_not_match_the_certificate_is_named() {
    let certs = certificates();
    let other = certificates();
    let dir = TempDir::new("config-mismatched-key");
    let mut config = ExporterConfig {
        protocol: Protocol::Grpc,
        traces_endpoint: Some("https://127.0.0.1:4317".into()),
        ..ExporterConfig::default()
    };
    config.tls.ca_certificate = Some(dir.write("ca.pem", &certs.ca_pem));
    let certificate = dir.write("client.pem", &certs.client_cert_pem);
    let key = dir.write("other.key", &other.client_key_pem);
    config.tls.client_certificate = Some(certificate.clone());
    config.tls.client_key = Some(key.clone());

    let error = GrpcExporter::from_config(&config).unwrap_err();
    assert!(matches!(error, BuildError::Tls { .. }), "{error}");
    let text = error.to_string();
    for named in [
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        &certificate.display().to_string(),
        "file <redacted>",
        "do not match",
    ] {
        assert!(text.contains(named), "{named:?} not in {text}");
    }
    assert!(!text.contains(&key.display().to_string()), "{text}");
    assert!(!text.contains("BEGIN"), "no PEM in messages: {text}");

    let error = GrpcExporter::builder()
        .endpoint("https://127.0.0.1:4317")
        .ca_certificate_pem(certs.ca_pem.clone())
        .client_identity_pem(certs.client_cert_pem.clone(), other.client_key_pem.clone())
        .build()
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("client_identity_pem") && text.contains("do not match"),
        "{text}"
    );
}

#[test]
fn tls_file_errors_name_the_signals_own_variable_too() {
    use otlp_sdk::Signal;
    use otlp_sdk::config::ConfigLoader;

    let dir = TempDir::new("config-per-signal-names");
    let missing = dir.0.join("missing-ca.pem");
    let missing_text = missing.display().to_string();
    for (signal, variable, key) in [
        (
            Signal::Traces,
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "exporter.certificate",
        ),
        (
            Signal::Logs,
            "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
            "logs.exporter.certificate",
        ),
        (
            Signal::Metrics,
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            "metrics.exporter.certificate",
        ),
    ] {
        let config = ConfigLoader::new()
            .with_config_dir(dir.0.join("no-config-here"))
            .with_env([
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4317"),
                (variable, missing_text.as_str()),
            ])
            .load()
            .expect("configuration loads");
        let section = match signal {
            Signal::Logs => &config.logs.exporter,
            Signal::Metrics => &config.metrics.exporter,
            _ => &config.exporter,
        };
        let error =
            otlp_exporter_grpc::GrpcExporterBuilder::from_config_for(section, signal).unwrap_err();
        assert!(matches!(error, BuildError::ReadFile { .. }), "{error}");
        let text = error.to_string();
        for named in [variable, key, missing_text.as_str()] {
            assert!(text.contains(named), "{signal}: {named:?} not in {text}");
        }
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` wins over
/// `OTEL_EXPORTER_OTLP_CERTIFICATE` for spans, and the generic one still
/// serves the signals without their own, end to end over TLS.
#[test]
fn a_signals_own_ca_wins_over_the_generic_one() {
    use otlp_sdk::Signal;
    use otlp_sdk::config::ConfigLoader;

    let certs = certificates();
    let stranger = certificates();
    let receiver = tls_receiver(&certs, false);
    let dir = TempDir::new("config-per-signal-ca");
    let right = dir.write("right-ca.pem", &certs.ca_pem);
    let wrong = dir.write("wrong-ca.pem", &stranger.ca_pem);
    let config = ConfigLoader::new()
        .with_config_dir(dir.0.join("no-config-here"))
        .with_env([
            ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), "grpc".to_owned()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                endpoint(&receiver),
            ),
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE".to_owned(),
                wrong.display().to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE".to_owned(),
                right.display().to_string(),
            ),
        ])
        .load()
        .expect("configuration loads");

    let traces =
        otlp_exporter_grpc::GrpcExporterBuilder::from_config_for(&config.exporter, Signal::Traces)
            .and_then(|builder| builder.timeout(Duration::from_secs(5)).build())
            .expect("traces exporter");
    assert_eq!(
        block_on(traces.export(request(&rich_spans(2)))),
        ExportOutcome::Success
    );
    assert_eq!(receiver.span_count(), 2);

    // Logs have no CA of their own: the generic one, which is wrong here.
    let logs = otlp_exporter_grpc::GrpcExporterBuilder::from_config_for(
        &config.logs.exporter,
        Signal::Logs,
    )
    .and_then(|builder| builder.timeout(Duration::from_secs(5)).build())
    .expect("logs exporter");
    match block_on(logs.export(request(&rich_spans(1)))) {
        ExportOutcome::Permanent {
            error: ExportError::Transport(message),
        } => assert!(message.to_lowercase().contains("certificate"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(receiver.request_count(), 1);
}
