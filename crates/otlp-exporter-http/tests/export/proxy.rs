//! The proxy variables of the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, their lowercase forms, `NO_PROXY`): honoured for a remote
//! collector, never for one on loopback, which no proxy but one on this
//! machine could reach. Each case runs in a child process (this test binary
//! again) given the variables, so that no other test sees them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use otlp_contrib::receiver::{Receiver, ReceiverConfig, TestCertificates};
use otlp_core::encode::Encoding;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::{ExportError, ExportOutcome};

use crate::support::{encode, endpoint, export_once, hung_server, receiver, rich_spans};

/// Set for the child tests only: they do nothing without it.
const CHILD: &str = "OTLP_TEST_PROXY_CHILD";

/// Every proxy variable reqwest reads (and `NO_PROXY`, `REQUEST_METHOD`, which
/// turn them off), removed from the child's environment before the case sets
/// its own: the runner's must not decide the outcome.
const PROXY_VARIABLES: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// Runs the ignored child test `name` of this module with `variables` as its
/// only proxy variables; asserts that it passed.
fn run_child(name: &str, variables: &[(&str, String)]) {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command.args([
        "--exact",
        &format!("proxy::{name}"),
        "--ignored",
        "--nocapture",
    ]);
    for variable in PROXY_VARIABLES {
        command.env_remove(variable);
    }
    command.env(CHILD, "1").envs(variables.iter().cloned());
    let child = command.output().expect("the child test runs");
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

/// A port on loopback that refuses connections while the socket lives (bound,
/// never listening), as a proxy that is down does.
fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let held = tokio::net::TcpSocket::new_v4().expect("a socket");
    held.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let port = held.local_addr().expect("address").port();
    (held, port)
}

/// A collector on this machine is reached directly whatever proxy the
/// environment names (here one that is down), as the Go and Java exporters
/// (and the Collector) do: a proxy elsewhere would reach its own loopback,
/// not ours. Over plain `http://` (the exporter's own connections) and over
/// `https://` (reqwest), by address and by the name `localhost`.
#[test]
fn a_loopback_collector_is_reached_directly_whatever_the_proxy_variables_say() {
    let (_held, port) = closed_port();
    let proxy = format!("http://127.0.0.1:{port}");
    let variables: Vec<(&str, String)> = PROXY_VARIABLES[..6]
        .iter()
        .map(|name| (*name, proxy.clone()))
        .collect();
    run_child(
        "loopback_in_a_process_with_a_proxy_that_is_down",
        &variables,
    );
}

/// The child's side of
/// [`a_loopback_collector_is_reached_directly_whatever_the_proxy_variables_say`].
#[test]
#[ignore = "run by a_loopback_collector_is_reached_directly_whatever_the_proxy_variables_say"]
fn loopback_in_a_process_with_a_proxy_that_is_down() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let plain = receiver();
    let by_address = endpoint(&plain);
    let by_name = by_address.replace("127.0.0.1", "localhost");
    let certs = TestCertificates::generate().expect("test certificates");
    let tls = Receiver::start(ReceiverConfig {
        tls: Some(certs.server_tls()),
        ..ReceiverConfig::default()
    })
    .expect("TLS receiver");
    let https = endpoint(&tls);
    assert!(https.starts_with("https://127.0.0.1:"), "{https}");
    let https_by_name = https.replace("127.0.0.1", "localhost");
    for url in [by_address, by_name, https, https_by_name] {
        let exporter = HttpExporter::builder()
            .endpoint(&url)
            .ca_certificate_pem(&certs.ca_pem)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("exporter");
        assert_eq!(
            export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf)),
            ExportOutcome::Success,
            "{url}"
        );
    }
    assert_eq!(plain.span_count() + tls.span_count(), 4);
}

/// The proxy's user name and password, which must reach the proxy and
/// nothing else.
const PROXY_PASSWORD: &str = "pxs3cr3t";

/// A remote collector is sent to through `HTTP_PROXY`, as a user behind a
/// corporate proxy expects: the request goes to the proxy in absolute form,
/// with the proxy's credentials as `Proxy-Authorization`, which show in
/// neither the exporter's `Debug` nor its outcome.
#[test]
fn a_remote_collector_is_sent_to_through_the_proxy() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    // The proxy: answers its first request `200`, returns the request's head.
    let proxy = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut head = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
            head.push(line.trim_end().to_owned());
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        head
    });
    run_child(
        "remote_in_a_process_with_a_proxy",
        &[(
            "HTTP_PROXY",
            format!("http://pxuser:{PROXY_PASSWORD}@{address}"),
        )],
    );
    // Wakes the proxy if the child never came (its head is then empty).
    let _ = TcpStream::connect(address);
    let head = proxy.join().expect("the proxy's thread");
    assert_eq!(
        head.first().map(String::as_str),
        Some("POST http://collector.invalid:4318/v1/traces HTTP/1.1"),
        "{head:#?}"
    );
    // base64("pxuser:pxs3cr3t")
    assert!(
        head.iter().any(
            |line| line.eq_ignore_ascii_case("proxy-authorization: Basic cHh1c2VyOnB4czNjcjN0")
        ),
        "{head:#?}"
    );
}

/// The child's side of [`a_remote_collector_is_sent_to_through_the_proxy`].
#[test]
#[ignore = "run by a_remote_collector_is_sent_to_through_the_proxy"]
fn remote_in_a_process_with_a_proxy() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let exporter = HttpExporter::builder()
        .endpoint("http://collector.invalid:4318")
        .timeout(Duration::from_secs(10))
        .build()
        .expect("exporter");
    let shown = format!("{exporter:?}");
    assert!(!shown.contains(PROXY_PASSWORD), "{shown}");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    assert_eq!(outcome, ExportOutcome::Success, "{outcome:?}");
}

/// The transport error of `outcome`, which must be a retryable one.
fn transport_error(outcome: &ExportOutcome) -> &str {
    match outcome {
        ExportOutcome::Retryable {
            error: ExportError::Transport(message),
            ..
        } => message,
        other => panic!("not a transport error: {other:?}"),
    }
}

/// A request that failed on its way through a proxy the environment named
/// says so: "dns error" or "connection refused" alone reads as the
/// collector's, when it may be the proxy's. The error names the proxy (its
/// user name and password `<redacted>`) and the variable it came from, as
/// reqwest picks it for the URL: `HTTP_PROXY` for `http://`, `https_proxy`
/// (lower case here) for `https://`, none for a host `NO_PROXY` lists.
#[test]
fn a_failure_through_a_proxy_names_the_proxy_and_its_variable() {
    let (_held, port) = closed_port();
    run_child(
        "failure_in_a_process_with_a_proxy_that_is_down",
        &[
            (
                "HTTP_PROXY",
                format!("http://pxuser:{PROXY_PASSWORD}@127.0.0.1:{port}"),
            ),
            ("https_proxy", format!("http://127.0.0.1:{port}")),
            ("NO_PROXY", "0.0.0.0".to_owned()),
        ],
    );
}

/// The child's side of [`a_failure_through_a_proxy_names_the_proxy_and_its_variable`].
#[test]
#[ignore = "run by a_failure_through_a_proxy_names_the_proxy_and_its_variable"]
fn failure_in_a_process_with_a_proxy_that_is_down() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let proxy = std::env::var("https_proxy").expect("https_proxy");
    let with_credentials = proxy.replace("http://", "http://<redacted>@");
    let certs = TestCertificates::generate().expect("test certificates");
    let export = |url: &str| {
        let exporter = HttpExporter::builder()
            .endpoint(url)
            .ca_certificate_pem(&certs.ca_pem)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("exporter");
        export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf))
    };
    for (url, through) in [
        (
            "http://collector.invalid:4318",
            format!("(through the proxy {with_credentials} from HTTP_PROXY): "),
        ),
        (
            "https://collector.invalid:4318",
            format!("(through the proxy {proxy} from https_proxy): "),
        ),
    ] {
        let outcome = export(url);
        let message = transport_error(&outcome);
        assert!(
            message.starts_with(&format!("POST {url}/v1/traces {through}")),
            "{message}"
        );
        assert!(!message.contains(PROXY_PASSWORD), "{message}");
        assert!(!message.contains("pxuser"), "{message}");
    }
    // NO_PROXY lists it: sent directly, and no proxy is named. Connecting
    // to 0.0.0.0 reaches this machine; the port is the closed one.
    let port = proxy.rsplit(':').next().expect("the proxy's port");
    for scheme in ["http", "https"] {
        let url = format!("{scheme}://0.0.0.0:{port}");
        let outcome = export(&url);
        let message = transport_error(&outcome);
        assert!(!message.contains("proxy"), "{message}");
    }
}

/// A remote collector that `NO_PROXY` exempts is reached directly by
/// reqwest; over plain `http://` it is sent to on the exporter's own
/// connections then, as when no proxy is set at all, without reqwest's
/// per-request work. `NO_PROXY` matches as reqwest (hyper-util) matches it:
/// a domain and its subdomains, an address, a network; a collector it does
/// not list still goes through the proxy.
#[test]
fn a_remote_collector_no_proxy_exempts_is_sent_to_on_the_exporters_own_connections() {
    let (_held, port) = closed_port();
    run_child(
        "no_proxy_in_a_process_with_a_proxy_that_is_down",
        &[
            ("HTTP_PROXY", format!("http://127.0.0.1:{port}")),
            (
                "NO_PROXY",
                "example.com, 10.0.0.0/8,192.0.2.7 , 0.0.0.0".to_owned(),
            ),
        ],
    );
}

/// The child's side of
/// [`a_remote_collector_no_proxy_exempts_is_sent_to_on_the_exporters_own_connections`].
#[test]
#[ignore = "run by a_remote_collector_no_proxy_exempts_is_sent_to_on_the_exporters_own_connections"]
fn no_proxy_in_a_process_with_a_proxy_that_is_down() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let own_connections = |url: &str| {
        let exporter = HttpExporter::builder()
            .endpoint(url)
            .build()
            .expect("exporter");
        let shown = format!("{exporter:?}");
        (exporter, shown.contains("own_http1_connections: true"))
    };
    for url in [
        "http://example.com:4318",
        "http://otel.example.com:4318",
        "http://10.1.2.3:4318",
        "http://192.0.2.7:4318",
    ] {
        assert!(own_connections(url).1, "{url}");
    }
    for url in ["http://notexample.com:4318", "http://192.0.2.8:4318"] {
        assert!(!own_connections(url).1, "{url}");
    }
    // And the request does go out on them, directly: connecting to 0.0.0.0
    // reaches this machine's receiver (Linux).
    if cfg!(target_os = "linux") {
        let plain = receiver();
        let url = endpoint(&plain).replace("127.0.0.1", "0.0.0.0");
        let (exporter, own) = own_connections(&url);
        assert!(own, "{url}");
        assert_eq!(
            export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf)),
            ExportOutcome::Success,
            "{url}"
        );
        assert_eq!(plain.span_count(), 1);
    }
}

/// A collector behind a proxy that takes the request and never answers:
/// the timeout names the URL and the proxy it went through (its user name
/// and password `<redacted>`), as a transport error through it does. It
/// said "export attempt timed out after 300ms" and nothing more.
#[test]
fn a_timeout_through_a_proxy_names_the_url_and_the_proxy() {
    let proxy = hung_server();
    run_child(
        "timeout_in_a_process_with_a_proxy_that_hangs",
        &[(
            "HTTP_PROXY",
            format!("http://pxuser:{PROXY_PASSWORD}@{proxy}"),
        )],
    );
}

/// The child's side of [`a_timeout_through_a_proxy_names_the_url_and_the_proxy`].
#[test]
#[ignore = "run by a_timeout_through_a_proxy_names_the_url_and_the_proxy"]
fn timeout_in_a_process_with_a_proxy_that_hangs() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let proxy = std::env::var("HTTP_PROXY").expect("HTTP_PROXY");
    let shown = proxy.replace(&format!("pxuser:{PROXY_PASSWORD}@"), "<redacted>@");
    let exporter = HttpExporter::builder()
        .endpoint("http://otel:collector-pw@collector.invalid:4318")
        .timeout(Duration::from_millis(300))
        .build()
        .expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    let ExportOutcome::Retryable {
        error: error @ ExportError::Timeout { .. },
        ..
    } = &outcome
    else {
        panic!("not a timeout: {outcome:?}");
    };
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "export attempt timed out after 300ms: POST http://collector.invalid:4318/v1/traces \
             (through the proxy {shown} from HTTP_PROXY)"
        )
    );
}

/// A request that a proxy redirected, and that failed on its way to where
/// it was redirected (refused by the proxy for there, or never answered),
/// names that URL beside the proxy it went through there. It named the URL
/// configured (`http://`) and its proxy (`HTTP_PROXY`), which had answered:
/// reqwest reports the URL a request started with, not that of the
/// redirect it failed on, so the failure was blamed on the wrong proxy.
#[test]
fn a_failure_after_a_redirect_names_the_url_and_proxy_it_failed_on() {
    // `HTTP_PROXY`: answers every request with a redirect to an `https://` URL.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let redirecting = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                while let Some(length) = crate::support::read_request_head(&mut reader) {
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let answer = "HTTP/1.1 307 Temporary Redirect\r\n\
                                  location: https://elsewhere.invalid:4318/v1/traces\r\n\
                                  content-length: 0\r\n\r\n";
                    if (&stream).write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    // `HTTPS_PROXY`: down, then one that never answers.
    let (_held, port) = closed_port();
    for https_proxy in [format!("127.0.0.1:{port}"), hung_server().to_string()] {
        run_child(
            "redirect_in_a_process_with_two_proxies",
            &[
                ("HTTP_PROXY", format!("http://{redirecting}")),
                ("HTTPS_PROXY", format!("http://{https_proxy}")),
            ],
        );
    }
}

/// The child's side of [`a_failure_after_a_redirect_names_the_url_and_proxy_it_failed_on`].
#[test]
#[ignore = "run by a_failure_after_a_redirect_names_the_url_and_proxy_it_failed_on"]
fn redirect_in_a_process_with_two_proxies() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let https_proxy = std::env::var("HTTPS_PROXY").expect("HTTPS_PROXY");
    let exporter = HttpExporter::builder()
        .endpoint("http://collector.invalid:4318")
        .timeout(Duration::from_secs(2))
        .build()
        .expect("exporter");
    let outcome = export_once(&exporter, encode(&rich_spans(1), Encoding::Protobuf));
    let ExportOutcome::Retryable { error, .. } = &outcome else {
        panic!("not retryable: {outcome:?}");
    };
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "POST http://collector.invalid:4318/v1/traces, redirected to \
             https://elsewhere.invalid:4318/v1/traces \
             (through the proxy {https_proxy} from HTTPS_PROXY)"
        )),
        "{message}"
    );
}
