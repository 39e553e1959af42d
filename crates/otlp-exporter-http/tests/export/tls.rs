//! TLS and mTLS against the receiver, with certificates generated for each test.

use std::path::PathBuf;
use std::time::Duration;

use otlp_contrib::receiver::{Receiver, ReceiverConfig, ReceiverTls, TestCertificates};
use otlp_core::encode::Encoding;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::{ExporterConfig, TlsConfig};
use otlp_sdk::{ExportError, ExportOutcome, Exporter};

use crate::support::{
    assert_delivered_intact, encode, endpoint, export_once, finish, pipeline, rich_spans,
    send_batch,
};

fn tls_receiver(tls: ReceiverTls) -> Receiver {
    Receiver::start(ReceiverConfig {
        tls: Some(tls),
        ..ReceiverConfig::default()
    })
    .expect("TLS receiver")
}

fn certificates() -> TestCertificates {
    TestCertificates::generate().expect("test certificates")
}

/// Asserts a transport failure (retryable, as the specification says for
/// connection failures) whose message mentions one of `words`.
fn assert_transport_failure(outcome: &ExportOutcome, words: &[&str]) {
    let ExportOutcome::Retryable {
        error: ExportError::Transport(message),
        ..
    } = outcome
    else {
        panic!("expected a transport failure, got {outcome:?}")
    };
    let lower = message.to_lowercase();
    assert!(
        words.iter().any(|word| lower.contains(word)),
        "{message:?} mentions none of {words:?}"
    );
}

#[test]
fn https_with_the_right_ca_delivers_without_a_process_crypto_provider() {
    let certs = certificates();
    let receiver = tls_receiver(certs.server_tls());
    let url = endpoint(&receiver);
    assert!(url.starts_with("https://"), "{url}");
    let exporter = HttpExporter::builder()
        .endpoint(url)
        .ca_certificate_pem(&certs.ca_pem)
        .build()
        .expect("exporter");
    let spans = rich_spans(3);
    assert_eq!(
        export_once(&exporter, encode(&spans, Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert_delivered_intact(&receiver, &spans);
    // Nothing here installs a process-wide rustls provider: the exporter does not need one.
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

#[test]
fn https_with_a_wrong_ca_fails_for_good() {
    let receiver = tls_receiver(certificates().server_tls());
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(certificates().ca_pem)
        .build()
        .expect("exporter");
    // No retry can change a certificate that fails verification: permanent.
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    let ExportOutcome::Permanent {
        error: ExportError::Transport(message),
    } = &outcome
    else {
        panic!("expected a permanent transport failure, got {outcome:?}")
    };
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    assert_eq!(receiver.request_count(), 0);

    // Through the pipeline the spans are counted failed after the first
    // attempt, not retried until the batch's time (here 10 minutes) is up.
    let processor = pipeline(exporter, Duration::from_secs(600));
    let result = send_batch(&processor, rich_spans(3));
    assert!(result.is_err(), "{result:?}");
    let stats = finish(&processor);
    assert_eq!((stats.exported, stats.failed), (0, 3), "{stats:?}");
    assert_eq!(receiver.request_count(), 0);
}

#[test]
fn https_to_a_plaintext_receiver_says_the_server_did_not_answer_in_tls() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver");
    let plaintext = endpoint(&receiver);
    let exporter = HttpExporter::builder()
        .endpoint(plaintext.replacen("http://", "https://", 1))
        .ca_certificate_pem(certificates().ca_pem)
        .build()
        .expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    // rustls alone says "received corrupt message of type InvalidContentType".
    assert_transport_failure(&outcome, &["not tls"]);
    assert_transport_failure(&outcome, &["http://"]);
    assert_eq!(receiver.request_count(), 0);
}

/// The other way round: a plain `http://` endpoint at a collector that
/// speaks TLS. hyper alone says "invalid HTTP version parsed".
#[test]
fn http_to_a_tls_receiver_says_the_answer_was_not_http_and_names_https() {
    let receiver = tls_receiver(certificates().server_tls());
    let tls_endpoint = endpoint(&receiver);
    let exporter = HttpExporter::builder()
        .endpoint(tls_endpoint.replacen("https://", "http://", 1))
        .build()
        .expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    assert_transport_failure(&outcome, &["https://"]);
    assert_eq!(receiver.request_count(), 0);
}

#[test]
fn mtls_with_the_client_certificate_delivers() {
    let certs = certificates();
    let receiver = tls_receiver(certs.mtls());
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .encoding(Encoding::Json)
        .ca_certificate_pem(&certs.ca_pem)
        .client_identity_pem(&certs.client_cert_pem, &certs.client_key_pem)
        .build()
        .expect("exporter");
    let spans = rich_spans(3);
    assert_eq!(
        export_once(&exporter, encode(&spans, Encoding::Json)),
        ExportOutcome::Success
    );
    assert_delivered_intact(&receiver, &spans);
}

/// Exports to a receiver that requires a client certificate from its own CA,
/// presenting the client certificate of `client` (if any), and checks that
/// the connection is refused before any request is read.
fn assert_mtls_refuses(client: Option<&TestCertificates>) {
    let certs = certificates();
    let receiver = tls_receiver(certs.mtls());
    let mut builder = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(&certs.ca_pem);
    if let Some(client) = client {
        builder = builder.client_identity_pem(&client.client_cert_pem, &client.client_key_pem);
    }
    let exporter = builder.build().expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    // TLS 1.3 finishes the client's side of the handshake first; the server's
    // refusal arrives as an alert or a closed connection when the request is
    // sent or the answer read.
    assert_transport_failure(&outcome, &["certificate", "alert", "closed", "reset"]);
    assert_eq!(receiver.request_count(), 0);
}

#[test]
fn mtls_without_a_client_certificate_fails() {
    assert_mtls_refuses(None);
}

#[test]
fn mtls_with_a_certificate_from_another_ca_fails() {
    assert_mtls_refuses(Some(&certificates()));
}

#[test]
fn a_mismatched_client_key_is_a_build_error() {
    let certs = certificates();
    let other = certificates();
    let error = HttpExporter::builder()
        .endpoint("https://localhost:4318")
        .ca_certificate_pem(&certs.ca_pem)
        .client_identity_pem(&certs.client_cert_pem, &other.client_key_pem)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            otlp_exporter_http::HttpExporterError::InvalidClientIdentity { .. }
        ),
        "{error}"
    );
}

#[test]
fn a_mismatched_client_key_from_the_config_names_both_files() {
    let certs = certificates();
    let other = certificates();
    let files = PemFiles::write(&certs);
    let key = files.0.join("other.key");
    std::fs::write(&key, &other.client_key_pem).expect("write");
    let certificate = files.0.join("client.pem");
    let config = ExporterConfig {
        endpoint: Some("https://localhost:4318".into()),
        tls: TlsConfig {
            ca_certificate: Some(files.0.join("ca.pem")),
            client_certificate: Some(certificate.clone()),
            client_key: Some(key.clone()),
            insecure: None,
        },
        ..ExporterConfig::default()
    };
    let error = HttpExporter::from_config(&config).unwrap_err();
    assert!(
        matches!(
            error,
            otlp_exporter_http::HttpExporterError::InvalidClientIdentity { .. }
        ),
        "{error}"
    );
    let message = error.to_string();
    for named in [
        "exporter.client_certificate",
        "exporter.client_key",
        &certificate.display().to_string(),
        "file `<redacted>`",
        "do not match",
    ] {
        assert!(message.contains(named), "{named:?} not in {message}");
    }
    // The key's path is shown redacted, as the configuration's errors show it.
    assert!(!message.contains(&key.display().to_string()), "{message}");
    assert!(!message.contains("BEGIN"), "no PEM in messages: {message}");
}

#[test]
fn a_client_key_pasted_where_its_path_goes_is_not_shown() {
    // Before: ``cannot read exporter.client_key (...) file `-----BEGIN PRIVATE
    // KEY-----...`: File name too long``, the whole key in the message.
    let certs = certificates();
    let files = PemFiles::write(&certs);
    let certificate = files.0.join("client.pem").display().to_string();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://localhost:4318"),
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
        .with_config_dir(files.0.join("no-such-dir"))
        .with_env(env)
        .load()
        .expect("the configuration takes any path");
    let error = HttpExporter::from_config(&config.exporter).unwrap_err();
    assert!(
        matches!(
            error,
            otlp_exporter_http::HttpExporterError::ReadFile { .. }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY") && message.contains("`<redacted>`"),
        "{message}"
    );
    assert_no_key(&message, &certs.client_key_pem);
    // The configuration's own error about the same value shows it alike.
    let error = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir(files.0.join("no-such-dir"))
        .with_env([env[0], env[2]])
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

/// A directory of PEM files, removed on drop.
struct PemFiles(PathBuf);

impl PemFiles {
    fn write(certs: &TestCertificates) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "otlp-exporter-http-tls-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("ca.pem"), &certs.ca_pem).expect("write");
        std::fs::write(dir.join("client.pem"), &certs.client_cert_pem).expect("write");
        std::fs::write(dir.join("client.key"), &certs.client_key_pem).expect("write");
        PemFiles(dir)
    }
}

impl Drop for PemFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn from_config_reads_the_pem_files_and_speaks_mtls() {
    let certs = certificates();
    let files = PemFiles::write(&certs);
    let receiver = tls_receiver(certs.mtls());
    let config = ExporterConfig {
        endpoint: Some(endpoint(&receiver)),
        tls: TlsConfig {
            ca_certificate: Some(files.0.join("ca.pem")),
            client_certificate: Some(files.0.join("client.pem")),
            client_key: Some(files.0.join("client.key")),
            insecure: None,
        },
        ..ExporterConfig::default()
    };
    let exporter = HttpExporter::from_config(&config).expect("exporter");
    let processor = pipeline(exporter, Duration::from_secs(10));
    let spans = rich_spans(20);
    send_batch(&processor, spans.clone()).expect("flush");
    let stats = finish(&processor);
    assert_eq!((stats.exported, stats.failed), (20, 0), "{stats:?}");
    assert_delivered_intact(&receiver, &spans);
}

#[test]
fn https_negotiates_http2_and_plain_http_keeps_http1() {
    // The receiver (hyper) serves both versions; an HTTP/2 request carries its
    // authority as the `:authority` pseudo-header, which never appears among
    // the headers, while an HTTP/1.1 request has a `host` header.
    let certs = certificates();
    let tls = tls_receiver(certs.server_tls());
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&tls))
        .ca_certificate_pem(&certs.ca_pem)
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert_eq!(
        tls.requests()[0].header("host"),
        None,
        "HTTP/2 through ALPN"
    );

    let plain = crate::support::receiver();
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&plain))
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert!(plain.requests()[0].header("host").is_some(), "HTTP/1.1");
}

/// A TCP relay on loopback in front of `target`. [`Relay::black_hole`] makes
/// every connection relayed so far a black hole: what arrives on it is
/// dropped, nothing more comes out of it, and it stays open (a collector gone
/// without a word, a load balancer that lost the connection's state).
/// Connections made later are relayed as usual.
struct Relay {
    url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    dead_below: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    fn start(target: std::net::SocketAddr) -> Relay {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let connections = Arc::new(AtomicUsize::new(0));
        let dead_below = Arc::new(AtomicUsize::new(0));
        let (accepted, dead) = (connections.clone(), dead_below.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let n = accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let dead = dead.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut buffer = [0u8; 16 * 1024];
                        while let Ok(read) = from.read(&mut buffer) {
                            if read == 0 {
                                let _ = to.shutdown(std::net::Shutdown::Write);
                                return;
                            }
                            if n < dead.load(Ordering::SeqCst) {
                                // Black hole: hold the connection, pass nothing.
                                std::thread::sleep(Duration::from_secs(30));
                                return;
                            }
                            if to.write_all(&buffer[..read]).is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Relay {
            url,
            connections,
            dead_below,
        }
    }

    fn black_hole(&self) {
        use std::sync::atomic::Ordering;
        self.dead_below
            .store(self.connections.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Over HTTP/2 every export shares one connection: one that stopped
/// answering must not take every later export until TCP gives up on it
/// (many minutes): after an attempt goes unanswered, the next export goes out
/// on a new connection.
#[test]
fn an_http2_connection_that_stopped_answering_is_not_kept() {
    let certs = certificates();
    let receiver = tls_receiver(certs.server_tls());
    let relay = Relay::start(receiver.http_addr().expect("HTTP listener"));
    // The exports that succeed make a TLS handshake (through the relay)
    // within it, also on a loaded machine: 500 ms could end before it did.
    let timeout = Duration::from_secs(2);
    let exporter = HttpExporter::builder()
        .endpoint(&relay.url)
        .ca_certificate_pem(&certs.ca_pem)
        .timeout(timeout)
        .build()
        .expect("exporter");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let export = || runtime.block_on(exporter.export(encode(&rich_spans(1), Encoding::Protobuf)));
    assert_eq!(export(), ExportOutcome::Success);
    relay.black_hole();
    let unanswered = export();
    assert!(
        matches!(unanswered, ExportOutcome::Retryable { .. }),
        "{unanswered:?}"
    );
    assert_eq!(export(), ExportOutcome::Success, "on a new connection");
    assert_eq!(export(), ExportOutcome::Success);
    assert_eq!(
        relay.connections.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert_eq!(receiver.requests().len(), 3);
}

#[test]
fn tls_file_errors_name_the_signals_own_variable_too() {
    use otlp_exporter_http::{HttpExporterBuilder, HttpExporterError};
    use otlp_sdk::Signal;
    use otlp_sdk::config::ConfigLoader;

    let files = PemFiles::write(&certificates());
    let missing = files.0.join("missing-ca.pem");
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
            .with_config_dir(files.0.join("no-config-here"))
            .with_env([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318"),
                (variable, missing_text.as_str()),
            ])
            .load()
            .expect("configuration loads");
        let section = match signal {
            Signal::Logs => &config.logs.exporter,
            Signal::Metrics => &config.metrics.exporter,
            _ => &config.exporter,
        };
        let error = HttpExporterBuilder::from_config_for(section, signal).unwrap_err();
        assert!(
            matches!(error, HttpExporterError::ReadFile { .. }),
            "{error}"
        );
        let message = error.to_string();
        for named in [
            variable,
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            key,
            missing_text.as_str(),
        ] {
            assert!(
                message.contains(named),
                "{signal}: {named:?} not in {message}"
            );
        }
        if signal == Signal::Traces {
            // `from_config` is `from_config_for` traces.
            let error = HttpExporter::from_config(section).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }
}

/// `OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE` wins over
/// `OTEL_EXPORTER_OTLP_CERTIFICATE` for log records, and the generic one
/// still serves the signals without their own, end to end over TLS.
#[test]
fn a_signals_own_ca_wins_over_the_generic_one() {
    use otlp_exporter_http::HttpExporterBuilder;
    use otlp_sdk::Signal;
    use otlp_sdk::config::ConfigLoader;

    let certs = certificates();
    let stranger = certificates();
    let receiver = tls_receiver(certs.server_tls());
    let files = PemFiles::write(&certs);
    let wrong = files.0.join("wrong-ca.pem");
    std::fs::write(&wrong, &stranger.ca_pem).expect("write");
    let config = ConfigLoader::new()
        .with_config_dir(files.0.join("no-config-here"))
        .with_env([
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                endpoint(&receiver),
            ),
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE".to_owned(),
                files.0.join("ca.pem").display().to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE".to_owned(),
                wrong.display().to_string(),
            ),
        ])
        .load()
        .expect("configuration loads");

    let traces = HttpExporterBuilder::from_config_for(&config.exporter, Signal::Traces)
        .and_then(HttpExporterBuilder::build)
        .expect("traces exporter");
    let spans = rich_spans(2);
    assert_eq!(
        export_once(&traces, encode(&spans, Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert_delivered_intact(&receiver, &spans);

    // The logs' own CA is wrong here: refused for good, nothing sent.
    let logs = HttpExporterBuilder::from_config_for(&config.logs.exporter, Signal::Logs)
        .and_then(HttpExporterBuilder::build)
        .expect("logs exporter");
    let outcome = export_once(&logs, encode(&rich_spans(1), Encoding::Protobuf));
    assert!(
        matches!(
            &outcome,
            ExportOutcome::Permanent { error: ExportError::Transport(message) }
                if message.to_lowercase().contains("certificate")
        ),
        "{outcome:?}"
    );
    assert_eq!(receiver.request_count(), 1);
}

/// A PEM block whose base64 is sound but whose bytes are no certificate.
const NOT_A_CERTIFICATE_PEM: &str = "-----BEGIN CERTIFICATE-----\n\
     bm90IGEgY2VydGlmaWNhdGUsIGp1c3QgYnl0ZXM=\n\
     -----END CERTIFICATE-----\n";

/// A CA bundle with a certificate webpki cannot read beside a usable one
/// (system bundles may hold one) is taken, as Go's `AppendCertsFromPEM` and
/// otlp-exporter-grpc take it; one with no usable certificate is refused,
/// naming where it came from.
#[test]
fn a_ca_bundle_is_refused_only_when_no_certificate_in_it_is_usable() {
    let certs = certificates();
    let receiver = tls_receiver(certs.server_tls());
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(format!("{NOT_A_CERTIFICATE_PEM}{}", certs.ca_pem))
        .build()
        .expect("one usable CA is enough");
    let spans = rich_spans(1);
    assert_eq!(
        export_once(&exporter, encode(&spans, Encoding::Protobuf)),
        ExportOutcome::Success
    );
    assert_delivered_intact(&receiver, &spans);

    let error = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .ca_certificate_pem(NOT_A_CERTIFICATE_PEM)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            otlp_exporter_http::HttpExporterError::InvalidCertificate { origin, reason }
                if origin.contains("ca_certificate_pem") && reason.contains("no usable CA")
        ),
        "{error}"
    );
}
