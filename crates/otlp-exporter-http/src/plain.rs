//! [`PlainConnections`]: requests to a plain `http://` endpoint on hyper's
//! HTTP/1.1 connections of our own, without reqwest.
//!
//! Most collectors are reached over plain HTTP on loopback or inside a
//! cluster. For such an endpoint reqwest's general machinery — parsing and
//! matching the URL for proxies and redirects on every request, its
//! connection pool keyed by scheme and authority, its tower stack — was a
//! fifth of the exporter's io thread at a steady 50,000 records/s (perf,
//! `otlp-loadgen --signal logs`), and it buys nothing here: there is one
//! origin, no TLS and no proxy. So the exporter keeps a few idle HTTP/1.1
//! connections itself, writes the request head with the headers it settled
//! on at build time, and hands hyper the body [`Bytes`] without a copy.
//!
//! Used only when nothing of reqwest's is needed: an `http://` URL without
//! user name or password, on loopback (never proxied, see
//! [`crate::proxy::is_loopback`]) or else one that reqwest would send to
//! directly, taking no proxy from the environment for it
//! ([`EnvironmentProxies::proxy_for`]: none of `HTTP_PROXY`, `http_proxy`,
//! `ALL_PROXY`, `all_proxy` names a usable proxy, or `NO_PROXY` lists the
//! host), as read when the exporter is built (reqwest reads them at the
//! same moment). A redirect answer is handed back to the caller,
//! which sends a `307`/`308` on to its `Location` through reqwest and its
//! redirect policy, and takes any other as the outcome.
//!
//! Connections: taken from the idle list (the most recent first) while
//! they are open and idle less than 90 s, else opened (`TCP_NODELAY`); put
//! back once their response is read in full. A request that an idle
//! connection refused before writing it (the server had closed it) is sent
//! once more on a new connection. An attempt that goes unanswered closes
//! the idle connections ([`PlainConnections::close_idle`]): the peer that
//! stopped answering would leave each of them unanswered too.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, HeaderMap, HeaderValue};
use http::response::Parts;
use http::{Method, Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use tokio::net::TcpStream;

use crate::proxy::{EnvironmentProxies, is_loopback};
use crate::response::{BodyError, read_capped_until};

/// How long an idle connection is kept for reuse, here and in reqwest's
/// pool (`https://` and proxied endpoints).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections kept at most: one per export that may run at once is
/// plenty (the pipeline runs a few).
const MAX_IDLE: usize = 16;

/// Why a request on a plain connection got no response.
#[derive(Debug)]
pub(crate) enum PlainError {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// The connection failed before or while the response came.
    Http(hyper::Error),
}

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlainError::Connect(error) => write!(f, "error connecting: {error}"),
            PlainError::Http(error) => {
                write!(f, "{}", crate::error::error_chain(error))?;
                // What a TLS server answers to a plain request (an alert
                // record) is not HTTP/1.1 at all: the likeliest cause by far.
                if error.is_parse() {
                    f.write_str(
                        " (the server's answer is not HTTP/1.1: if it speaks TLS, use an \
                         https:// endpoint)",
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// An idle connection and since when it is idle.
struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

/// The plain HTTP/1.1 connections of one exporter to its one origin.
pub(crate) struct PlainConnections {
    /// Where to connect.
    host: String,
    port: u16,
    /// `/v1/traces` (and a query, if the URL has one).
    path: Uri,
    /// Every request's headers but its length: `Host`, `User-Agent`, the
    /// configured headers.
    headers: HeaderMap,
    idle: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for PlainConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainConnections")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl PlainConnections {
    /// Connections for `url`, if it is a plain `http://` URL that needs
    /// nothing of reqwest's (see the module docs); `headers` are the
    /// configured headers, over `user_agent`; `proxies` those of the
    /// environment.
    pub(crate) fn for_url(
        url: &Url,
        user_agent: &'static str,
        headers: &HeaderMap,
        proxies: &EnvironmentProxies,
    ) -> Option<PlainConnections> {
        let proxied = !is_loopback(url) && proxies.proxy_for(url).is_some();
        if url.scheme() != "http"
            || proxied
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return None;
        }
        // An IPv6 address is bracketed in the URL and the `Host` header,
        // not when connecting.
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str()?),
            None => url.host_str()?.to_owned(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut all_headers = HeaderMap::new();
        all_headers.insert(HOST, HeaderValue::from_str(&authority).ok()?);
        all_headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(user_agent),
        );
        for (name, value) in headers {
            all_headers.insert(name.clone(), value.clone());
        }
        Some(PlainConnections {
            host,
            port,
            path: path.parse().ok()?,
            headers: all_headers,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The headers every request carries (for tests).
    #[cfg(test)]
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// `POST`s `body` with these extra headers; returns the response head
    /// and its body, read up to `cap` bytes by `deadline` (see
    /// [`read_capped_until`]). The connection goes back to the idle list
    /// once the body is read in full.
    pub(crate) async fn post(
        &self,
        extra_headers: &[(http::HeaderName, HeaderValue)],
        body: Bytes,
        cap: usize,
        deadline: tokio::time::Instant,
    ) -> Result<(Parts, Result<Vec<u8>, BodyError>), PlainError> {
        let request = self.request(extra_headers, body);
        let (mut sender, reused) = match self.ready_idle().await {
            Some(sender) => (sender, true),
            None => (self.connect().await?, false),
        };
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut error) => match error.take_message() {
                // An idle connection the server had just closed: the request
                // was not written, so sending it on a new one cannot deliver
                // it twice.
                Some(request) if reused => {
                    sender = self.connect().await?;
                    sender
                        .send_request(request)
                        .await
                        .map_err(PlainError::Http)?
                }
                _ => return Err(PlainError::Http(error.into_error())),
            },
        };
        let (head, incoming) = response.into_parts();
        let body = read_capped_until(incoming, cap, deadline).await;
        if body.is_ok() {
            self.put_idle(sender);
        }
        Ok((head, body))
    }

    fn request(
        &self,
        extra_headers: &[(http::HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Request<Full<Bytes>> {
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, value) in extra_headers {
            headers.insert(name.clone(), value.clone());
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.path.clone();
        *request.headers_mut() = headers;
        request
    }

    /// An open idle connection ready for a request, the most recently
    /// used first.
    async fn ready_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        while let Some(mut sender) = self.take_idle() {
            // Ready once its connection has finished the previous exchange;
            // an error means it closed meanwhile.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
        None
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(Idle { sender, since }) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_TIMEOUT {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next request (up to [`MAX_IDLE`]).
    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.retain(|entry| !entry.sender.is_closed());
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Closes every idle connection.
    pub(crate) fn close_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// A new connection, its task spawned on the caller's runtime.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, PlainError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(PlainError::Connect)?;
        stream.set_nodelay(true).map_err(PlainError::Connect)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(PlainError::Http)?;
        spawn_connection_task(async move {
            // Its end (closed by either side, or failed) is seen by the
            // request in flight, if any, or by the idle list's check.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// Spawns a connection's task on the current runtime, polled (and dropped)
/// as a pipeline's own work ([`otlp_sdk::own_threads::as_own_future`]), as
/// the gRPC exporter's channel tasks are: on a runtime that is not the
/// pipeline's own (an `otlp-contrib` adapter given the application's), what
/// the connection records reaches no front door. On the pipeline's threads
/// a poll costs one thread-local read more; one allocation per connection.
fn spawn_connection_task(task: impl Future<Output = ()> + Send + 'static) {
    drop(tokio::spawn(otlp_sdk::own_threads::as_own_future(task)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connections(url: &str, environment: &[(&str, &str)]) -> Option<PlainConnections> {
        let url = Url::parse(url).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("k"));
        let proxies = EnvironmentProxies::read(|name| {
            environment
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.into())
        });
        PlainConnections::for_url(&url, crate::USER_AGENT, &headers, &proxies)
    }

    /// Proxy variables reqwest honours for `http://` URLs.
    const PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

    #[test]
    fn plain_http_without_a_proxy_goes_direct() {
        let plain = connections("http://collector:4318/v1/traces", &[("NO_PROXY", "x")]).unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("collector", 4318));
        assert_eq!(plain.path, "/v1/traces");
        assert_eq!(plain.headers()[HOST], "collector:4318");
        assert_eq!(plain.headers()["x-api-key"], "k");
        assert_eq!(plain.headers()[http::header::USER_AGENT], crate::USER_AGENT);
        let default_port = connections("http://[::1]/v1/logs?tenant=a", &[]).unwrap();
        assert_eq!((default_port.host.as_str(), default_port.port), ("::1", 80));
        assert_eq!(default_port.headers()[HOST], "[::1]");
        assert_eq!(default_port.path, "/v1/logs?tenant=a");
    }

    #[test]
    fn tls_proxies_and_credentials_go_through_reqwest() {
        assert!(connections("https://collector:4318/v1/traces", &[]).is_none());
        for variable in PROXY_VARIABLES {
            assert!(
                connections(
                    "http://collector:4318/v1/traces",
                    &[(variable, "http://proxy:3128")]
                )
                .is_none(),
                "{variable}"
            );
        }
        assert!(connections("http://collector:4318/v1/traces", &[("HTTP_PROXY", " ")]).is_some());
        assert!(connections("http://user:pw@collector:4318/v1/traces", &[]).is_none());
    }

    /// A proxy elsewhere would reach its own loopback, not ours: a
    /// collector on loopback is sent to directly, on our own connections,
    /// whatever proxy the environment names.
    #[test]
    fn a_loopback_endpoint_goes_direct_whatever_the_proxy_variables_say() {
        for url in [
            "http://127.0.0.1:4318/v1/traces",
            "http://127.1.2.3:4318/v1/traces",
            "http://localhost:4318/v1/traces",
            "http://LOCALHOST.:4318/v1/traces",
            "http://[::1]:4318/v1/traces",
            "http://[::ffff:127.0.0.1]:4318/v1/traces",
        ] {
            for variable in PROXY_VARIABLES {
                assert!(
                    connections(url, &[(variable, "http://proxy:3128")]).is_some(),
                    "{url} with {variable}"
                );
            }
        }
        // Not loopback: through the proxy.
        for url in [
            "http://localhost.example:4318/v1/traces",
            "http://128.0.0.1:4318/v1/traces",
            "http://0.0.0.0:4318/v1/traces",
        ] {
            assert!(
                connections(url, &[("HTTP_PROXY", "http://proxy:3128")]).is_none(),
                "{url}"
            );
        }
    }

    /// A remote collector reqwest would reach directly, proxy variables
    /// notwithstanding, is sent to on our own connections: one `NO_PROXY`
    /// (or `no_proxy`, when `NO_PROXY` is unset) lists, by hyper-util's
    /// rules (a domain and its subdomains, a lone `*`, an address, a
    /// network), and any when reqwest takes no proxy from the variables
    /// (a CGI request's `REQUEST_METHOD`; a value that names no usable
    /// proxy, which also hides the lowercase variable behind it).
    #[test]
    fn a_collector_reqwest_reaches_directly_goes_direct_on_our_own_connections() {
        let proxy = ("HTTP_PROXY", "http://proxy:3128");
        for (no_proxy, url) in [
            ("collector", "http://collector:4318/v1/traces"),
            ("example.com", "http://example.com:4318/v1/traces"),
            ("example.com", "http://otel.example.com:4318/v1/traces"),
            (".example.com", "http://otel.example.com:4318/v1/traces"),
            ("EXAMPLE.com", "http://otel.Example.COM:4318/v1/traces"),
            ("*", "http://collector:4318/v1/traces"),
            (
                "a.test, collector ,b.test",
                "http://collector:4318/v1/traces",
            ),
            ("10.0.0.0/8", "http://10.1.2.3:4318/v1/traces"),
            ("192.0.2.7", "http://192.0.2.7:4318/v1/traces"),
            ("2001:db8::/32", "http://[2001:db8::1]:4318/v1/traces"),
            ("2001:db8::1", "http://[2001:db8::1]:4318/v1/traces"),
        ] {
            for variable in ["NO_PROXY", "no_proxy"] {
                assert!(
                    connections(url, &[proxy, (variable, no_proxy)]).is_some(),
                    "{url} with {variable}={no_proxy}"
                );
            }
        }
        for environment in [
            vec![proxy, ("REQUEST_METHOD", "GET")],
            vec![("HTTP_PROXY", "ftp://proxy:21")],
            vec![("HTTP_PROXY", ""), ("http_proxy", "http://proxy:3128")],
        ] {
            assert!(
                connections("http://collector:4318/v1/traces", &environment).is_some(),
                "{environment:?}"
            );
        }
        // Listed nowhere: through the proxy.
        for (no_proxy, url) in [
            ("example.com", "http://notexample.com:4318/v1/traces"),
            ("*.example.com", "http://otel.example.com:4318/v1/traces"),
            ("otel.example.com", "http://example.com:4318/v1/traces"),
            ("10.0.0.0/8", "http://11.0.0.1:4318/v1/traces"),
            ("192.0.2.7", "http://192.0.2.8:4318/v1/traces"),
            ("collector:4318", "http://collector:4318/v1/traces"),
        ] {
            assert!(
                connections(url, &[proxy, ("NO_PROXY", no_proxy)]).is_none(),
                "{url} with NO_PROXY={no_proxy}"
            );
        }
        // `NO_PROXY`, set, hides `no_proxy`, as in reqwest.
        assert!(
            connections(
                "http://collector:4318/v1/traces",
                &[proxy, ("NO_PROXY", ""), ("no_proxy", "collector")]
            )
            .is_none()
        );
    }

    /// The connection's task runs on the caller's runtime, which may be the
    /// application's (an `otlp-contrib` adapter's `with_runtime`): it is
    /// the pipeline's own work there, as the gRPC channel's tasks are.
    #[test]
    fn a_connections_task_is_polled_as_the_pipelines_own_work() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let seen = runtime.block_on(async {
            let (sender, seen) = tokio::sync::oneshot::channel();
            spawn_connection_task(async move {
                let _ = sender.send(otlp_sdk::own_threads::is_own_thread());
            });
            seen.await
        });
        assert_eq!(seen, Ok(true));
        assert!(!otlp_sdk::own_threads::is_own_thread());
    }

    #[test]
    fn a_configured_user_agent_wins() {
        let url = Url::parse("http://collector:4318/v1/traces").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::USER_AGENT, HeaderValue::from_static("mine/1"));
        let proxies = EnvironmentProxies::read(|_| None);
        let plain = PlainConnections::for_url(&url, crate::USER_AGENT, &headers, &proxies).unwrap();
        assert_eq!(plain.headers()[http::header::USER_AGENT], "mine/1");
    }
}
