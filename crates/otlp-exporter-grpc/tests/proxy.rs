//! The proxy of the environment, as the Collector's gRPC exporter (grpc-go)
//! reads it: `HTTPS_PROXY` (or `https_proxy`) for every endpoint, `http://`
//! and `https://` alike, through an HTTP `CONNECT` tunnel; `NO_PROXY` and a
//! collector on loopback go direct.
//!
//! Each case builds and exports in a child process (this test binary again,
//! given the variables), so that no other test sees them; the proxy is a
//! small `CONNECT` proxy of this process, in front of the real receiver.
//! The endpoints' names end in `.invalid`, which resolves nowhere (RFC 6761):
//! only the proxy, which tunnels every `CONNECT` to the receiver, reaches it.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use otlp_contrib::receiver::{Receiver, ReceiverConfig, TestCertificates};
use otlp_exporter_grpc::GrpcExporter;
use otlp_sdk::{ExportError, ExportOutcome, Exporter};
use support::{block_on, request, rich_spans};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Set for the child test only: it does nothing without it.
const CHILD: &str = "OTLP_TEST_GRPC_PROXY_CHILD";
/// The child's endpoint, CA certificate (PEM) and TLS server name.
const CHILD_ENDPOINT: &str = "OTLP_TEST_GRPC_PROXY_ENDPOINT";
const CHILD_CA_PEM: &str = "OTLP_TEST_GRPC_PROXY_CA_PEM";
const CHILD_SERVER_NAME: &str = "OTLP_TEST_GRPC_PROXY_SERVER_NAME";
/// The child's exporter timeout in milliseconds, if not 10 s.
const CHILD_TIMEOUT_MS: &str = "OTLP_TEST_GRPC_PROXY_TIMEOUT_MS";

/// Every proxy variable Go, curl or reqwest read, removed from the child's
/// environment before the case sets its own: the runner's must not decide
/// the outcome.
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

/// The proxy's password, which must reach the proxy and show nowhere.
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

/// What the child saw, in one line: `success`, `retryable transport: <message>`,
/// `retryable timeout: <message>`, `build error: <message>` or `other: <outcome>`.
fn run_child(endpoint: &str, variables: &[(&str, String)]) -> String {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command.args([
        "--exact",
        "child_builds_an_exporter_from_the_environment_and_exports_once",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for variable in PROXY_VARIABLES {
        command.env_remove(variable);
    }
    command
        .env(CHILD, "1")
        .env(CHILD_ENDPOINT, endpoint)
        .envs(variables.iter().cloned());
    let child = command.output().expect("the child test runs");
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    stdout
        .lines()
        // The harness prints the test's name on the line before its output.
        .find_map(|line| line.split_once("outcome: ").map(|(_, outcome)| outcome))
        .unwrap_or_else(|| panic!("no outcome in {stdout}"))
        .to_owned()
}

/// The child's side of every case: builds an exporter for the endpoint it is
/// given, reading the proxy variables of its environment, and exports one
/// span; prints what happened as `outcome: ...`.
#[test]
#[ignore = "run by the tests of this file, in a child process given the variables"]
fn child_builds_an_exporter_from_the_environment_and_exports_once() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let endpoint = std::env::var(CHILD_ENDPOINT).expect("the endpoint");
    let timeout = std::env::var(CHILD_TIMEOUT_MS)
        .ok()
        .map_or(Duration::from_secs(10), |millis| {
            Duration::from_millis(millis.parse().expect("milliseconds"))
        });
    let mut builder = GrpcExporter::builder().endpoint(endpoint).timeout(timeout);
    if let Ok(pem) = std::env::var(CHILD_CA_PEM) {
        builder = builder.ca_certificate_pem(pem);
    }
    if let Ok(name) = std::env::var(CHILD_SERVER_NAME) {
        builder = builder.tls_server_name(name);
    }
    let outcome = match builder.build() {
        Err(error) => format!("build error: {error}"),
        Ok(exporter) => match block_on(exporter.export(request(&rich_spans(1)))) {
            ExportOutcome::Success => "success".to_owned(),
            ExportOutcome::Retryable {
                error: ExportError::Transport(message),
                ..
            } => format!("retryable transport: {message}"),
            ExportOutcome::Retryable {
                error: error @ ExportError::Timeout { .. },
                ..
            } => format!("retryable timeout: {error}"),
            other => format!("other: {other:?}"),
        },
    };
    println!("outcome: {}", outcome.replace('\n', " "));
}

// ---- the proxy --------------------------------------------------------------

/// How the test proxy answers a `CONNECT`.
#[derive(Clone, Copy)]
enum Answer {
    /// `200`, then the connection is spliced to this address whatever
    /// authority was asked for.
    Tunnel(SocketAddr),
    /// This status line (`HTTP/1.1 407 ...`), then the connection is closed.
    Refuse(&'static str),
}

/// A `CONNECT` request as the proxy read it, and the first bytes the client
/// sent through the tunnel.
#[derive(Clone, Debug)]
struct Connect {
    request_line: String,
    /// Names lowercase.
    headers: Vec<(String, String)>,
    tunneled: Vec<u8>,
}

impl Connect {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A small HTTP `CONNECT` proxy on loopback, on a runtime of its own.
struct TestProxy {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Connect>>>,
    _runtime: tokio::runtime::Runtime,
}

impl TestProxy {
    fn start(answer: Answer) -> TestProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("the proxy's runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (counted, recorded) = (Arc::clone(&connections), Arc::clone(&seen));
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, answer, Arc::clone(&recorded)));
            }
        });
        TestProxy {
            address,
            connections,
            seen,
            _runtime: runtime,
        }
    }

    /// `http://[user:password@]127.0.0.1:<port>`.
    fn url(&self, user_info: Option<&str>) -> String {
        match user_info {
            Some(user_info) => format!("http://{user_info}@{}", self.address),
            None => format!("http://{}", self.address),
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Connect> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn serve(stream: TcpStream, answer: Answer, seen: Arc<Mutex<Vec<Connect>>>) {
    let mut client = BufReader::new(stream);
    let mut request_line = String::new();
    if client.read_line(&mut request_line).await.unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut connect = Connect {
        request_line: request_line.trim_end().to_owned(),
        headers,
        tunneled: Vec::new(),
    };
    let record = |connect: Connect| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connect);
    };
    match answer {
        Answer::Refuse(status_line) => {
            record(connect);
            let answer = format!(
                "{status_line}\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = client.get_mut().write_all(answer.as_bytes()).await;
        }
        Answer::Tunnel(target) => {
            let Ok(mut upstream) = TcpStream::connect(target).await else {
                record(connect);
                return;
            };
            if client
                .get_mut()
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_err()
            {
                record(connect);
                return;
            }
            // The first bytes through the tunnel: HTTP/2's preface, or a
            // TLS record.
            let mut first = [0u8; 3];
            let read = client.read_exact(&mut first).await.is_ok();
            connect.tunneled = first.to_vec();
            record(connect);
            if read && upstream.write_all(&first).await.is_ok() {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        }
    }
}

// ---- the cases --------------------------------------------------------------

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("receiver starts")
}

fn basic(user_info: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_info)
    )
}

/// A user behind a corporate proxy: the export to a remote collector goes
/// through `HTTPS_PROXY` in a `CONNECT` tunnel to the endpoint's host and
/// port (the proxy resolves the name, not the exporter), with the proxy's
/// credentials as `Proxy-Authorization`; HTTP/2 runs inside the tunnel as on
/// a direct connection. An `http://` endpoint takes `HTTPS_PROXY` too: grpc-go
/// maps every target as an `https` URL.
#[test]
fn an_export_to_a_remote_collector_goes_through_the_https_proxy_in_a_connect_tunnel() {
    let receiver = receiver();
    let proxy = TestProxy::start(Answer::Tunnel(receiver.grpc_addr().expect("gRPC listener")));
    let user_info = format!("otlp:{PROXY_PASSWORD}");

    let outcome = run_child(
        "http://collector.proxied.invalid:4317",
        &[("HTTPS_PROXY", proxy.url(Some(&user_info)))],
    );

    assert_eq!(outcome, "success");
    assert_eq!(receiver.span_count(), 1);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].request_line,
        "CONNECT collector.proxied.invalid:4317 HTTP/1.1"
    );
    assert_eq!(
        seen[0].header("host"),
        Some("collector.proxied.invalid:4317")
    );
    assert_eq!(
        seen[0].header("proxy-authorization"),
        Some(basic(&user_info).as_str())
    );
    assert_eq!(
        seen[0].tunneled, b"PRI",
        "HTTP/2's preface through the tunnel"
    );
}

/// An `https://` endpoint: TLS runs inside the tunnel, end to end with the
/// collector (the proxy sees a TLS record), verified against the
/// collector's name, never the proxy's. `https_proxy`, lowercase, is read
/// too; a proxy URL without a user name sends no `Proxy-Authorization`.
#[test]
fn tls_to_a_remote_collector_runs_inside_the_tunnel() {
    let certs = TestCertificates::generate().expect("test certificates");
    let receiver = Receiver::start(ReceiverConfig {
        tls: Some(certs.server_tls()),
        ..ReceiverConfig::default()
    })
    .expect("TLS receiver starts");
    let proxy = TestProxy::start(Answer::Tunnel(receiver.grpc_addr().expect("gRPC listener")));

    let outcome = run_child(
        "https://collector.proxied.invalid:4317",
        &[
            ("https_proxy", proxy.url(None)),
            (CHILD_CA_PEM, certs.ca_pem.clone()),
            // The test certificate names localhost.
            (CHILD_SERVER_NAME, "localhost".to_owned()),
        ],
    );

    assert_eq!(outcome, "success");
    assert_eq!(receiver.span_count(), 1);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].request_line,
        "CONNECT collector.proxied.invalid:4317 HTTP/1.1"
    );
    assert_eq!(seen[0].header("proxy-authorization"), None);
    assert_eq!(seen[0].tunneled[0], 0x16, "a TLS handshake record");
}

/// A proxy that refuses the tunnel (here `407`, its credentials refused)
/// fails the export with an error that names the proxy, where its address
/// came from and its status, never the proxy's password; retryable, as any
/// connection failure.
#[test]
fn a_proxy_refusing_the_tunnel_fails_the_export_naming_the_proxy_and_its_status() {
    let proxy = TestProxy::start(Answer::Refuse("HTTP/1.1 407 Proxy Authentication Required"));
    let user_info = format!("otlp:{PROXY_PASSWORD}");

    let outcome = run_child(
        "http://collector.proxied.invalid:4317",
        &[("HTTPS_PROXY", proxy.url(Some(&user_info)))],
    );

    let message = outcome
        .strip_prefix("retryable transport: ")
        .unwrap_or_else(|| panic!("{outcome}"));
    for part in [
        proxy.address.to_string().as_str(),
        "HTTPS_PROXY",
        "407 Proxy Authentication Required",
        "collector.proxied.invalid:4317",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert!(!message.contains(PROXY_PASSWORD), "{message}");
    assert_eq!(
        proxy.seen()[0].header("proxy-authorization"),
        Some(basic(&user_info).as_str())
    );
}

/// A collector behind the proxy that takes the request and never answers
/// (the tunnel opened, to a server that says nothing): the timeout names
/// the endpoint, the method and the proxy it went through (its user name
/// and password `<redacted>`, and its variable), as a transport error
/// through it does. It said "export attempt timed out after 300ms" and
/// nothing more.
#[test]
fn a_timeout_through_the_proxy_names_the_endpoint_and_the_proxy() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hung = listener.local_addr().expect("address");
    // Takes every connection and never answers, until the client goes.
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
            });
        }
    });
    let proxy = TestProxy::start(Answer::Tunnel(hung));
    let user_info = format!("otlp:{PROXY_PASSWORD}");

    let outcome = run_child(
        "http://collector.proxied.invalid:4317",
        &[
            ("HTTPS_PROXY", proxy.url(Some(&user_info))),
            (CHILD_TIMEOUT_MS, "300".to_owned()),
        ],
    );

    assert_eq!(
        outcome,
        format!(
            "retryable timeout: export attempt timed out after 300ms: \
             http://collector.proxied.invalid:4317{} \
             (through the proxy http://<redacted>@{} from HTTPS_PROXY)",
            otlp_exporter_grpc::TRACE_EXPORT_PATH,
            proxy.address
        )
    );
}

/// A proxy URL the exporter cannot use (SOCKS, or TLS to the proxy) fails
/// the build, naming the variable and its value (the password redacted),
/// rather than going around a proxy the user set on purpose. An endpoint
/// the proxy does not apply to (on loopback, or listed in `NO_PROXY`) builds.
#[test]
fn a_proxy_that_is_not_http_fails_the_build_naming_the_variable() {
    for proxy in [
        format!("socks5://otlp:{PROXY_PASSWORD}@127.0.0.1:1080"),
        format!("https://otlp:{PROXY_PASSWORD}@proxy.invalid:3128"),
    ] {
        let outcome = run_child(
            "http://collector.proxied.invalid:4317",
            &[("HTTPS_PROXY", proxy.clone())],
        );
        let message = outcome
            .strip_prefix("build error: ")
            .unwrap_or_else(|| panic!("{proxy}: {outcome}"));
        let scheme = &proxy[..proxy.find("://").expect("a scheme")];
        assert!(message.contains("HTTPS_PROXY"), "{message}");
        assert!(message.contains(&format!("{scheme}://")), "{message}");
        assert!(!message.contains(PROXY_PASSWORD), "{message}");
    }
    let receiver = receiver();
    let endpoint = receiver.grpc_endpoint().expect("gRPC listener");
    let socks = format!("socks5://otlp:{PROXY_PASSWORD}@127.0.0.1:1080");
    assert_eq!(
        run_child(&endpoint, &[("HTTPS_PROXY", socks.clone())]),
        "success"
    );
    assert_eq!(
        run_child(
            "http://collector.proxied.invalid:4317",
            &[
                ("HTTPS_PROXY", socks),
                ("NO_PROXY", "example.com, .proxied.invalid".to_owned())
            ]
        )
        .split(':')
        .next(),
        Some("retryable transport"),
        "built, then failed to resolve the name, directly"
    );
}

/// A collector on this machine is reached directly whatever `HTTPS_PROXY`
/// says (here a proxy that refuses everything): a proxy elsewhere would reach
/// its own loopback, not ours. The Collector (Go) and otlp-exporter-http
/// leave loopback out the same way.
#[test]
fn a_loopback_collector_is_reached_directly() {
    let receiver = receiver();
    let endpoint = receiver.grpc_endpoint().expect("gRPC listener");
    let proxy = TestProxy::start(Answer::Refuse("HTTP/1.1 403 Forbidden"));
    for endpoint in [endpoint.clone(), endpoint.replace("127.0.0.1", "localhost")] {
        assert_eq!(
            run_child(&endpoint, &[("HTTPS_PROXY", proxy.url(None))]),
            "success",
            "{endpoint}"
        );
    }
    assert_eq!(receiver.span_count(), 2);
    assert_eq!(proxy.connections(), 0);
}

/// `NO_PROXY` (or `no_proxy`) lists hosts reached directly; `HTTP_PROXY` and
/// `ALL_PROXY` are not read for gRPC, as grpc-go reads neither. The endpoint
/// is `0.0.0.0`, which is not loopback by name or address (so a proxy
/// applies to it) but which Linux connects to its own loopback.
#[cfg(target_os = "linux")]
#[test]
fn no_proxy_and_the_http_proxy_variables_leave_the_connection_direct() {
    let receiver = receiver();
    let port = receiver.grpc_addr().expect("gRPC listener").port();
    let endpoint = format!("http://0.0.0.0:{port}");
    let proxy = TestProxy::start(Answer::Refuse("HTTP/1.1 403 Forbidden"));
    let cases: [&[(&str, String)]; 6] = [
        &[
            ("HTTPS_PROXY", proxy.url(None)),
            ("NO_PROXY", "collector.example,0.0.0.0".to_owned()),
        ],
        &[
            ("https_proxy", proxy.url(None)),
            ("no_proxy", "0.0.0.0/8".to_owned()),
        ],
        &[
            ("HTTPS_PROXY", proxy.url(None)),
            ("NO_PROXY", format!("0.0.0.0:{port}")),
        ],
        &[
            ("HTTPS_PROXY", proxy.url(None)),
            ("NO_PROXY", "*".to_owned()),
        ],
        &[
            ("HTTP_PROXY", proxy.url(None)),
            ("http_proxy", proxy.url(None)),
        ],
        &[
            ("ALL_PROXY", proxy.url(None)),
            ("all_proxy", proxy.url(None)),
        ],
    ];
    for variables in cases {
        assert_eq!(run_child(&endpoint, variables), "success", "{variables:?}");
    }
    assert_eq!(receiver.span_count(), cases.len() as u64);
    assert_eq!(proxy.connections(), 0);
    // Not listed (another port): through the proxy, which refuses.
    let outcome = run_child(
        &endpoint,
        &[
            ("HTTPS_PROXY", proxy.url(None)),
            ("NO_PROXY", "0.0.0.0:1".to_owned()),
        ],
    );
    assert!(outcome.contains("403 Forbidden"), "{outcome}");
    assert_eq!(proxy.connections(), 1);
}
