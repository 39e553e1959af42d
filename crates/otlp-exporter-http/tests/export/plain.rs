//! Plain `http://` endpoints go over the exporter's own HTTP/1.1
//! connections: kept alive between exports, replaced when the server closed
//! them, and redirects still followed (through reqwest).

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otlp_core::encode::Encoding;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::{ExportOutcome, Exporter};

use crate::support::{encode, endpoint, receiver, rich_spans};

/// What the bare server answers to every request.
#[derive(Clone)]
enum Answer {
    /// `200`, keeping the connection open.
    KeepAlive,
    /// `200`, then the server closes the connection (without saying so).
    ThenClose,
    /// `307` to this URL.
    RedirectTo(String),
    /// `301` to this URL: a redirect that changes the method, not followed.
    MovedTo(String),
}

/// A bare HTTP/1.1 server on loopback; counts the connections it accepted.
fn bare_server(answer: Answer) -> (String, Arc<AtomicUsize>) {
    let (url, accepted, _) = counting_server(answer);
    (url, accepted)
}

/// [`bare_server`], also counting the requests it answered.
fn counting_server(answer: Answer) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (counter, answered) = (accepted.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let (answer, answered) = (answer.clone(), answered.clone());
            std::thread::spawn(move || serve(stream, &answer, &answered));
        }
    });
    (format!("http://{address}"), accepted, requests)
}

fn serve(stream: TcpStream, answer: &Answer, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let Some(length) = crate::support::read_request_head(&mut reader) else {
            return;
        };
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        requests.fetch_add(1, Ordering::SeqCst);
        let response = match answer {
            Answer::KeepAlive | Answer::ThenClose => {
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_owned()
            }
            Answer::RedirectTo(url) => format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {url}\r\ncontent-length: 0\r\n\r\n"
            ),
            Answer::MovedTo(url) => format!(
                "HTTP/1.1 301 Moved Permanently\r\nlocation: {url}\r\ncontent-length: 0\r\n\r\n"
            ),
        };
        writer.write_all(response.as_bytes()).expect("answer");
        if matches!(answer, Answer::ThenClose) {
            return;
        }
    }
}

fn exporter_to(endpoint: &str) -> HttpExporter {
    HttpExporter::builder()
        .endpoint(endpoint)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("exporter")
}

/// `times` exports one after the other on one runtime; asserts each succeeded.
fn export_successfully(exporter: &HttpExporter, times: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let outcomes = runtime.block_on(async {
        let mut outcomes = Vec::new();
        for _ in 0..times {
            outcomes.push(
                exporter
                    .export(encode(&rich_spans(3), Encoding::Protobuf))
                    .await,
            );
            // Time for a closing server's FIN to arrive.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        outcomes
    });
    assert!(
        outcomes
            .iter()
            .all(|outcome| *outcome == ExportOutcome::Success),
        "{outcomes:?}"
    );
}

#[test]
fn one_connection_carries_every_export() {
    let (url, accepted) = bare_server(Answer::KeepAlive);
    export_successfully(&exporter_to(&url), 5);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn a_connection_the_server_closed_is_replaced() {
    let (url, accepted) = bare_server(Answer::ThenClose);
    export_successfully(&exporter_to(&url), 4);
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[test]
fn a_307_is_followed_to_the_receiver() {
    let receiver = receiver();
    let target = format!("{}/v1/traces", endpoint(&receiver));
    let (url, accepted, requests) = counting_server(Answer::RedirectTo(target));
    export_successfully(&exporter_to(&url), 2);
    assert_eq!(receiver.span_count(), 6);
    // Each export asks the redirecting server once, on the exporter's own
    // connection (kept alive between the two exports), then goes through
    // reqwest straight to the Location: the body is not sent to the
    // redirecting server a second time.
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(requests.load(Ordering::SeqCst), 2, "one request per export");
}

/// A bare HTTP/1.1 server answering `200` to every request; keeps the
/// names of the headers of each request it got (lowercase).
fn header_recording_server() -> (String, Arc<std::sync::Mutex<Vec<Vec<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let recorded = recorded.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                loop {
                    let mut names = Vec::new();
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            let name = name.trim().to_ascii_lowercase();
                            if name == "content-length" {
                                length = value.trim().parse().expect("content-length");
                            }
                            names.push(name);
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).expect("body");
                    recorded.lock().expect("headers").push(names);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    writer.write_all(answer.as_bytes()).expect("answer");
                }
            });
        }
    });
    (format!("http://{address}"), seen)
}

/// A `307` of a plain endpoint to another origin (here another port) is
/// followed without the configured credentials, as reqwest follows the
/// redirects of `https://` endpoints: before, the exporter followed it
/// itself with every configured header, `Authorization` included.
#[test]
fn a_redirect_to_another_origin_goes_without_the_configured_credentials() {
    let (target, seen) = header_recording_server();
    let (url, _, requests) = counting_server(Answer::RedirectTo(format!("{target}/v1/traces")));
    let exporter = HttpExporter::builder()
        .endpoint(&url)
        .header("authorization", "Bearer s3cr3t")
        .header("x-tenant", "acme")
        .timeout(Duration::from_secs(5))
        .build()
        .expect("exporter");
    export_successfully(&exporter, 2);
    assert_eq!(requests.load(Ordering::SeqCst), 2, "one request per export");
    let seen = seen.lock().expect("headers").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for names in &seen {
        assert!(
            !names.iter().any(|name| name == "authorization"),
            "{names:?}"
        );
        assert!(names.iter().any(|name| name == "x-tenant"), "{names:?}");
    }
}

#[test]
fn a_301_is_not_followed_nor_sent_again() {
    let receiver = receiver();
    let target = format!("{}/v1/traces", endpoint(&receiver));
    let (url, _, requests) = counting_server(Answer::MovedTo(target));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome =
        runtime.block_on(exporter_to(&url).export(encode(&rich_spans(3), Encoding::Protobuf)));
    assert!(
        matches!(outcome, ExportOutcome::Permanent { .. }),
        "{outcome:?}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1, "the body went once");
    assert_eq!(receiver.span_count(), 0);
}

/// The environment variables that hand the TLS receiver's certificate and key
/// to [`redirect_to_https_in_a_process_trusting_the_test_ca`].
const SERVER_CERT_PEM: &str = "OTLP_TEST_REDIRECT_SERVER_CERT_PEM";
const SERVER_KEY_PEM: &str = "OTLP_TEST_REDIRECT_SERVER_KEY_PEM";

/// A plain `http://` endpoint that redirects to `https` (an ingress
/// upgrading its clients) is followed there, and the `https` server is
/// verified as an `https://` endpoint would be: with the system's roots. The
/// system's roots are made the test CA in a child process (`SSL_CERT_FILE`,
/// which the platform verifier reads on Linux), where the export must
/// deliver; here, where the test CA is trusted by nothing, it must fail on
/// the certificate.
#[test]
fn a_redirect_to_https_is_verified_with_the_systems_roots() {
    let certs = otlp_contrib::receiver::TestCertificates::generate().expect("certificates");
    let dir = std::env::temp_dir().join(format!(
        "otlp-http-redirect-tls-{}-{}",
        std::process::id(),
        otlp_core::SpanId::random()
    ));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &certs.ca_pem).expect("write the CA");
    let child = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "plain::redirect_to_https_in_a_process_trusting_the_test_ca",
            "--ignored",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", &ca)
        .env_remove("SSL_CERT_DIR")
        .env(SERVER_CERT_PEM, &certs.server_cert_pem)
        .env(SERVER_KEY_PEM, &certs.server_key_pem)
        .output()
        .expect("the child test runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );

    // Not trusted here: the redirect is followed, and the certificate
    // refused for good (no retry can change it).
    let receiver = https_receiver(certs.server_cert_pem, certs.server_key_pem);
    let target = format!("{}/v1/traces", endpoint(&receiver));
    let (url, _, _) = counting_server(Answer::RedirectTo(target));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome =
        runtime.block_on(exporter_to(&url).export(encode(&rich_spans(3), Encoding::Protobuf)));
    assert!(
        matches!(
            &outcome,
            ExportOutcome::Permanent { error: otlp_sdk::ExportError::Transport(message) }
                if message.to_lowercase().contains("certificate")
        ),
        "{outcome:?}"
    );
    assert_eq!(receiver.span_count(), 0);
}

/// The child's side of [`a_redirect_to_https_is_verified_with_the_systems_roots`].
#[test]
#[ignore = "run by a_redirect_to_https_is_verified_with_the_systems_roots, with the test CA as the system's roots"]
fn redirect_to_https_in_a_process_trusting_the_test_ca() {
    let (Ok(cert_pem), Ok(key_pem)) = (
        std::env::var(SERVER_CERT_PEM),
        std::env::var(SERVER_KEY_PEM),
    ) else {
        return;
    };
    let receiver = https_receiver(cert_pem, key_pem);
    let target = format!("{}/v1/traces", endpoint(&receiver));
    assert!(target.starts_with("https://"), "{target}");
    let (url, _, requests) = counting_server(Answer::RedirectTo(target));
    export_successfully(&exporter_to(&url), 1);
    assert_eq!(receiver.span_count(), 3);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

/// A receiver serving HTTPS with this certificate and key.
fn https_receiver(cert_pem: String, key_pem: String) -> otlp_contrib::receiver::Receiver {
    otlp_contrib::receiver::Receiver::start(otlp_contrib::receiver::ReceiverConfig {
        tls: Some(otlp_contrib::receiver::ReceiverTls {
            cert_pem,
            key_pem,
            client_ca_pem: None,
        }),
        ..otlp_contrib::receiver::ReceiverConfig::default()
    })
    .expect("TLS receiver")
}
