//! [`HttpExporter`]: one OTLP/HTTP attempt per call, classified.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use otlp_core::encode::{Encoding, MAX_REQUEST_BYTES};
use otlp_sdk::compression::{ContentCoding, DecompressError, decompress};
use otlp_sdk::config::{Compression, Protocol};
use otlp_sdk::{ExportError, ExportOutcome, ExportRequest, Exporter, Signal};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::sync::watch;

use crate::client::{ClientRecipe, crosses_origin, last_followed, noting_redirects};
use crate::compression;
use crate::error::error_chain;
use crate::plain::PlainConnections;
use crate::proxy::{EnvironmentProxies, ProxyVariable};
use crate::response::{
    BodyError, MAX_RESPONSE_BYTES, StatusClass, body_format, cap_message, classify_status,
    error_outcome, read_capped_until, success_outcome,
};
use crate::tls;

/// What the builder settled on.
pub(crate) struct Settings {
    /// How to make the reqwest client (and another, see [`Inner::client`]).
    pub(crate) client_recipe: ClientRecipe,
    pub(crate) url: Url,
    pub(crate) encoding: Encoding,
    pub(crate) signal: Signal,
    pub(crate) compression: Compression,
    pub(crate) timeout: Duration,
    /// Its own connections, for a plain `http://` endpoint without a proxy.
    pub(crate) plain: Option<PlainConnections>,
    /// The environment's proxies, as reqwest's client took them: to name
    /// the one a failed request went through.
    pub(crate) proxies: EnvironmentProxies,
    /// For `Debug`; the values stay hidden.
    pub(crate) header_names: Vec<String>,
}

struct Inner {
    settings: Settings,
    /// The reqwest client in use and its number; replaced (with its
    /// connection pool) after an attempt on it went unanswered.
    client: Mutex<(u64, reqwest::Client)>,
    /// A client without credentials (`Authorization`, cookies), for a
    /// redirect to another origin that the exporter follows itself; made
    /// the first time one comes.
    other_origin_client: std::sync::OnceLock<Option<reqwest::Client>>,
    /// The URL without credentials or query, for messages and `Debug`.
    display_url: String,
    /// Flipped once by `shutdown`; exports in flight watch it.
    shut_down: watch::Sender<bool>,
}

/// The OTLP/HTTP span exporter: `POST`s each encoded request to the traces
/// URL and classifies the answer for the pipeline's retry policy.
///
/// - **Bodies**: `application/x-protobuf` or `application/json`, exactly the
///   bytes the pipeline encoded, compressed with gzip or zstd when configured
///   (`Content-Encoding` set). Requests over 64 MiB are refused, never sent;
///   requests without spans are never sent.
/// - **Outcomes**: 2xx is success, or a partial success when the body
///   (protobuf or JSON) carries `partial_success`; 429, 502, 503, 504,
///   timeouts and connection failures are retryable (not a server
///   certificate that fails verification: no retry can change it), with
///   `Retry-After` (seconds or HTTP-date) as the throttle hint; every other status is
///   permanent, its `google.rpc.Status` message in the error (capped at
///   1 KiB). Response bodies are read up to 4 MiB: a larger success body is
///   a permanent error; a larger error body is left unread and the status
///   alone decides, as it does when the body does not arrive within the
///   attempt's timeout (a `200` then delivered the records, with a warning):
///   the exporter's timeout, or the end of the pipeline's attempt
///   ([`otlp_sdk::attempt_deadline`]) when that comes sooner.
/// - **Connections**: one pool per exporter, kept alive between requests
///   (HTTP/1.1 keep-alive; HTTP/2 when an `https://` server offers it
///   through ALPN). A plain `http://` endpoint without a proxy is sent to on
///   the exporter's own HTTP/1.1 connections, without reqwest's per-request
///   work; a `307`/`308` from it is followed through reqwest, to its
///   `Location`, within the same attempt's time. TLS is rustls on the
///   `CryptoProvider` the application installed as the process default,
///   else on `ring`, without needing one installed.
///   **Proxies**: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` (or their
///   lowercase forms) and `NO_PROXY`, read when the exporter is built, are
///   honoured for a remote collector (a proxy's user name and password go as
///   `Proxy-Authorization`, and show in no `Debug` or error). A collector on
///   loopback (`localhost`, `127.0.0.0/8`, `::1`) is always reached
///   directly, as Go's and Java's exporters reach it: a proxy elsewhere would
///   reach its own loopback, not ours (so are the redirects it answers
///   with). A plain `http://` collector that `NO_PROXY` exempts is sent to
///   on the exporter's own connections, as when no proxy is set. A request
///   that fails on its way through a proxy names it and its variable in
///   the error (`POST … (through the proxy http://proxy:3128 from
///   HTTP_PROXY): dns error …`): the failure may be the proxy's; an
///   attempt that timed out names them the same way (`export attempt timed
///   out after 10s: POST …`), and a request that failed after a redirect
///   names where it was redirected and that URL's proxy (`POST http://…,
///   redirected to https://… (through the proxy … from HTTPS_PROXY)`). Only
///   `307`/`308` redirects are followed (they keep the method and body),
///   never from `https` to `http`; one from `http` to `https` (an ingress
///   upgrading its clients) is verified as an `https://` endpoint is, with
///   the configured CAs or else the system's roots. A redirect to another
///   host or port goes without `Authorization`, `Proxy-Authorization` and
///   cookies (the other configured headers go on), as reqwest follows them.
///   An attempt that goes unanswered (timed
///   out, or dropped by the caller) gives up its connection: over HTTP/2,
///   where exports share one, the next export opens a new pool, so a
///   connection that stopped answering for good is not waited on; over a
///   plain `http://` endpoint's own HTTP/1.1 connections, the idle ones
///   are closed too (they go to the same peer).
///
/// Cost model: per attempt, one compression of the body when compression is
/// on (on tokio's blocking pool from 256 KiB), otherwise none — the body
/// `Bytes` is handed to the connection without a copy. The exporter never
/// retries by itself: that is the pipeline's [`RetryPolicy`](otlp_sdk::RetryPolicy).
///
/// Cloning is cheap and clones share the connection pool and the shutdown.
/// Building needs no async runtime; exporting runs on the caller's tokio
/// runtime (the pipeline's export loop provides one).
#[derive(Clone)]
pub struct HttpExporter {
    inner: Arc<Inner>,
}

impl fmt::Debug for HttpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.inner.settings;
        f.debug_struct("HttpExporter")
            .field("url", &self.inner.display_url)
            .field("encoding", &settings.encoding)
            .field("signal", &settings.signal)
            .field("compression", &settings.compression)
            .field("timeout", &settings.timeout)
            .field("headers", &settings.header_names)
            .field("own_http1_connections", &settings.plain.is_some())
            .field("shut_down", &*self.inner.shut_down.borrow())
            .finish()
    }
}

impl HttpExporter {
    /// An exporter of `settings`, sending through `client` (made from
    /// `settings.client_recipe`) where reqwest is used.
    pub(crate) fn new(settings: Settings, client: reqwest::Client) -> Self {
        let display_url = redacted(&settings.url);
        HttpExporter {
            inner: Arc::new(Inner {
                // The only handle on the first client: replaced, its pool goes.
                client: Mutex::new((0, client)),
                other_origin_client: std::sync::OnceLock::new(),
                settings,
                display_url,
                shut_down: watch::Sender::new(false),
            }),
        }
    }

    /// The URL requests are sent to.
    pub fn url(&self) -> &str {
        self.inner.settings.url.as_str()
    }

    /// `http/protobuf` or `http/json`.
    pub fn protocol(&self) -> Protocol {
        match self.inner.settings.encoding {
            Encoding::Protobuf => Protocol::HttpProtobuf,
            Encoding::Json => Protocol::HttpJson,
        }
    }

    /// The request body compression.
    pub fn compression(&self) -> Compression {
        self.inner.settings.compression
    }

    /// The timeout of one attempt.
    pub fn timeout(&self) -> Duration {
        self.inner.settings.timeout
    }

    /// Whether [`Exporter::shutdown`] has been called (on this exporter or a clone).
    pub fn is_shut_down(&self) -> bool {
        *self.inner.shut_down.borrow()
    }

    /// The outcome for requests that are not sent at all, if this is one.
    fn refusal(&self, request: &ExportRequest) -> Option<ExportOutcome> {
        if self.is_shut_down() {
            return Some(ExportOutcome::Permanent {
                error: ExportError::ShutDown,
            });
        }
        if request.span_count == 0 {
            // Nothing to deliver: the specification says never to send an empty request.
            return Some(ExportOutcome::Success);
        }
        if request.body.is_empty() {
            return Some(ExportOutcome::Permanent {
                error: ExportError::Request(format!(
                    "empty body for {} {}s",
                    request.span_count,
                    self.inner.settings.signal.record_noun()
                )),
            });
        }
        if request.body.len() > MAX_REQUEST_BYTES {
            return Some(ExportOutcome::Permanent {
                error: ExportError::Request(format!(
                    "request body of {} bytes is over the {MAX_REQUEST_BYTES} byte cap of OTLP; not sent",
                    request.body.len()
                )),
            });
        }
        None
    }

    /// The body as sent: compressed if configured. Large bodies are
    /// compressed on the blocking pool when there is a runtime to ask.
    async fn wire_body(&self, body: &Bytes) -> Result<Bytes, String> {
        compression::compress(self.inner.settings.compression, body).await
    }

    /// One attempt: send, read the answer, classify. A plain `http://`
    /// endpoint is reached on the exporter's own connections, except to
    /// follow a redirect; everything else goes through reqwest.
    async fn send(&self, request: &ExportRequest) -> ExportOutcome {
        let settings = &self.inner.settings;
        let body = match self.wire_body(&request.body).await {
            Ok(body) => body,
            Err(reason) => {
                return ExportOutcome::Permanent {
                    error: ExportError::Request(reason),
                };
            }
        };
        // The Content-Type says what the bytes are; they are what the pipeline encoded.
        let mut headers = vec![(
            CONTENT_TYPE,
            HeaderValue::from_static(request.encoding.content_type()),
        )];
        if let Some(encoding) = compression::content_encoding(settings.compression) {
            headers.push((CONTENT_ENCODING, HeaderValue::from_static(encoding)));
        }
        // One deadline per attempt, whichever connections it takes: the
        // timeout, or sooner when the caller's attempt ends sooner (the
        // pipeline's attempt timeout, or the request's deadline near, under
        // `RetryPolicy::send`), so that a status already received still
        // decides before the caller gives up on the attempt as timed out.
        // A timeout too long for an `Instant` (`Duration::MAX`) is a century.
        // A timeout reports the time the attempt was given.
        let (deadline, allowed) = otlp_sdk::attempt_window(settings.timeout);
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut url = settings.url.clone();
        if let Some(plain) = &settings.plain {
            // Dropped unanswered (timed out here, or by the caller), the
            // attempt closes the idle connections: they go to the peer that
            // stopped answering, and each would cost an attempt its timeout.
            let mut unanswered = PlainUnanswered(Some(plain));
            let exchange = plain.post(&headers, body.clone(), MAX_RESPONSE_BYTES, deadline);
            let Ok(answered) = tokio::time::timeout_at(deadline, exchange).await else {
                // The plain connections go to the configured URL, never
                // through a proxy.
                return timed_out(allowed, format!("POST {}", self.inner.display_url));
            };
            unanswered.0 = None;
            match answered {
                // Only `307` and `308` keep the method and body: those are
                // followed through reqwest, from where they point (its
                // redirect policy takes the further hops). Any other answer,
                // other redirects included, is the outcome.
                Ok((head, answer)) if !is_followed_redirect(head.status) => {
                    return outcome(head.status, &head.headers, answer, request.encoding);
                }
                Ok((head, _)) => match redirect_target(&url, &head.headers) {
                    Some(target) => url = target,
                    None => {
                        return ExportOutcome::Permanent {
                            error: ExportError::Server {
                                status: format!("HTTP {}", head.status),
                                message: "a redirect without a usable Location".into(),
                            },
                        };
                    }
                },
                Err(error) => {
                    return ExportOutcome::Retryable {
                        error: ExportError::Transport(format!(
                            "POST {}: {error}",
                            self.inner.display_url
                        )),
                        throttle: None,
                    };
                }
            }
        }
        // A redirect the plain connections got, to another host or port,
        // goes without the configured credentials, as reqwest sends the
        // redirects it follows itself.
        let (number, client) = if crosses_origin(&settings.url, &url) {
            match self.other_origin_client() {
                Some(client) => (None, client),
                None => {
                    return ExportOutcome::Permanent {
                        error: ExportError::Request(
                            "no client could be made for a redirect to another origin".into(),
                        ),
                    };
                }
            }
        } else {
            let (number, client) = self.client();
            (Some(number), client)
        };
        // `url` kept for the messages of a failure or a timeout (one copy
        // of the URL's text, on reqwest's path only).
        let mut http_request = client.post(url.clone()).body(body);
        for (name, value) in headers {
            http_request = http_request.header(name, value);
        }
        // Dropped unanswered (timed out here, or by the caller), the attempt
        // gives up its client: over HTTP/2 every export shares one
        // connection, and one that stopped answering would take them all.
        let mut unanswered = Unanswered {
            exporter: self,
            client: number,
        };
        let exchange = async {
            let response = match http_request.send().await {
                Ok(response) => response,
                Err(error) => return self.send_error(error, &url),
            };
            let (head, body) = http::Response::from(response).into_parts();
            // By the same deadline as the exchange: a body that does not come
            // leaves the status to decide.
            let answer = read_capped_until(body, MAX_RESPONSE_BYTES, deadline).await;
            outcome(head.status, &head.headers, answer, request.encoding)
        };
        let outcome = noting_redirects(async {
            match tokio::time::timeout_at(deadline, exchange).await {
                Ok(outcome) => outcome,
                // Where the request went last: `url`, or a redirect
                // reqwest followed from there.
                Err(_) => {
                    let went = last_followed();
                    timed_out(allowed, self.request_shown(went.as_ref().unwrap_or(&url)))
                }
            }
        })
        .await;
        if !matches!(
            outcome,
            ExportOutcome::Retryable {
                error: ExportError::Timeout { .. },
                ..
            }
        ) {
            unanswered.client = None;
        }
        outcome
    }

    /// The reqwest client in use, and its number.
    fn client(&self) -> (u64, reqwest::Client) {
        self.inner
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The client for a redirect to another origin ([`Inner::other_origin_client`]).
    fn other_origin_client(&self) -> Option<reqwest::Client> {
        self.inner
            .other_origin_client
            .get_or_init(|| {
                let recipe = self.inner.settings.client_recipe.for_another_origin();
                recipe.build().ok()
            })
            .clone()
    }

    /// Replaces client `number`, if it is still the one in use, with a new
    /// one (a new connection pool). Exports in flight on the old one go on;
    /// its connections close once they are done.
    fn forget_client(&self, number: u64) {
        let mut slot = self
            .inner
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A shut-down exporter sends nothing more: no new pool for it.
        if slot.0 != number || self.is_shut_down() {
            return;
        }
        // The recipe built a client once already; should it fail now, the
        // old client stays.
        if let Ok(client) = self.inner.settings.client_recipe.build() {
            *slot = (number + 1, client);
        }
    }

    /// The environment's proxy that reqwest sent a request to `url`
    /// through, if any: none when the client leaves them out (a collector
    /// on loopback, whatever host it redirects to).
    fn proxy_for(&self, url: &Url) -> Option<&ProxyVariable> {
        let settings = &self.inner.settings;
        if settings.client_recipe.direct {
            return None;
        }
        settings.proxies.proxy_for(url)
    }

    /// How messages name a request sent to `url`: `POST` and the URL
    /// configured, then `url` when a redirect took the request there, then
    /// the proxy the request to `url` went through, if any (a "dns error"
    /// or "connection refused" may be the proxy's, a timeout too); URLs
    /// without user name, password, query or fragment. `POST
    /// http://collector:4318/v1/traces, redirected to
    /// https://collector:4318/v1/traces (through the proxy
    /// http://proxy:3128 from HTTPS_PROXY)`.
    fn request_shown(&self, url: &Url) -> String {
        let mut shown = format!("POST {}", self.inner.display_url);
        // Compared as shown: reqwest's URLs have the user name and password
        // taken out (they go as `Authorization`).
        let went = redacted(url);
        if went != self.inner.display_url {
            shown.push_str(&format!(", redirected to {went}"));
        }
        if let Some(proxy) = self.proxy_for(url) {
            shown.push_str(&format!(" (through {proxy})"));
        }
        shown
    }

    /// Classifies a request to `url` that got no response (called under
    /// [`noting_redirects`]).
    fn send_error(&self, error: reqwest::Error, url: &Url) -> ExportOutcome {
        // The URL that failed: the last redirect followed from `url`, if
        // any (reqwest names `url` even then), else the one reqwest names.
        let followed = last_followed();
        let failed = followed.as_ref().or(error.url()).unwrap_or(url);
        let shown = self.request_shown(failed);
        if error.is_timeout() {
            return timed_out(self.inner.settings.timeout, shown);
        }
        let (is_builder, is_redirect) = (error.is_builder(), error.is_redirect());
        let certificate_rejected = tls::rejected_server_certificate(&error);
        let plaintext = tls::answered_without_tls(&error);
        let mut message = shown;
        message.push_str(&format!(": {}", error_chain(&error.without_url())));
        if plaintext {
            message.push_str(&format!(" ({})", tls::PLAINTEXT_HINT));
        }
        if is_builder {
            ExportOutcome::Permanent {
                error: ExportError::Request(message),
            }
        } else if is_redirect {
            ExportOutcome::Permanent {
                error: ExportError::InvalidResponse(message),
            }
        } else if certificate_rejected {
            // A wrong CA, a name the certificate does not cover: no retry
            // can change it (an expired one may be the local clock: retried).
            ExportOutcome::Permanent {
                error: ExportError::Transport(message),
            }
        } else {
            // Connection refused or reset, TLS handshake failures, a server
            // that hung up before answering: the specification says retry.
            ExportOutcome::Retryable {
                error: ExportError::Transport(message),
                throttle: None,
            }
        }
    }
}

impl Exporter for HttpExporter {
    fn encoding(&self) -> Encoding {
        self.inner.settings.encoding
    }

    fn signal(&self) -> Signal {
        self.inner.settings.signal
    }

    /// Sends one request. Does not retry; returns early with
    /// [`ExportError::ShutDown`] when the exporter is shut down meanwhile.
    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        if let Some(outcome) = self.refusal(&request) {
            return outcome;
        }
        let shut_down = self.inner.shut_down.subscribe();
        tokio::select! {
            biased;
            () = wait_for_shutdown(shut_down) => ExportOutcome::Permanent { error: ExportError::ShutDown },
            outcome = self.send(&request) => outcome,
        }
    }

    /// Refuses further exports and abandons those in flight (their
    /// connections close). Affects every clone of this exporter.
    async fn shutdown(&self) {
        self.inner.shut_down.send_replace(true);
        if let Some(plain) = &self.inner.settings.plain {
            plain.close_idle();
        }
    }
}

/// The outcome of a response: its status, headers and (capped) body.
fn outcome(
    status: StatusCode,
    headers: &HeaderMap,
    body: Result<Vec<u8>, BodyError>,
    request: Encoding,
) -> ExportOutcome {
    let format = body_format(headers, request);
    let body = body.and_then(|body| decoded_body(headers, body));
    match classify_status(status) {
        StatusClass::Success => match body {
            Ok(body) => success_outcome(&body, format, request),
            Err(BodyError::TooLarge) => ExportOutcome::Permanent {
                error: ExportError::InvalidResponse(format!(
                    "HTTP {status} response body over the {MAX_RESPONSE_BYTES} byte cap"
                )),
            },
            // The status already said the records were accepted (OTLP/HTTP:
            // a 2xx is the acceptance, its body only carries a
            // `partial_success`): a body cut short, or that did not come
            // by the attempt's deadline, leaves them exported, and says
            // why as a warning the pipeline keeps as its `last_error`.
            // Counting them failed, or retrying, would deliver them twice
            // (test `a_success_whose_body_is_cut_short_or_garbled_counts_as_exported_with_the_reason_shown`).
            Err(BodyError::Read(reason)) => ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                message: cap_message(&format!(
                    "records accepted (HTTP {status}), but the response body could not be read: {reason}"
                )),
            },
        },
        StatusClass::Retryable | StatusClass::Permanent => {
            error_outcome(status, headers, body, format)
        }
    }
}

/// A response body as the server meant it: its `Content-Encoding` (a
/// request without `Accept-Encoding` accepts any coding, RFC 9110, and a
/// proxy in front of a collector may use one) undone within
/// [`MAX_RESPONSE_BYTES`], which then bounds the decompressed size too. An
/// empty body has nothing to undo, whatever coding it is labelled with (some
/// proxies label every answer).
fn decoded_body(headers: &HeaderMap, body: Vec<u8>) -> Result<Vec<u8>, BodyError> {
    if body.is_empty() {
        return Ok(body);
    }
    let header = headers.get(CONTENT_ENCODING).map(HeaderValue::to_str);
    let coding = match header {
        None => Some(ContentCoding::Identity),
        Some(Ok(value)) => ContentCoding::parse(Some(value)),
        Some(Err(_)) => None,
    };
    let Some(coding) = coding else {
        let shown = header.map(|value| format!("{value:?}")).unwrap_or_default();
        return Err(BodyError::Read(format!(
            "a response body in a coding not decoded here: {shown}"
        )));
    };
    match decompress(coding, &body, MAX_RESPONSE_BYTES) {
        Ok(None) => Ok(body),
        Ok(Some(decoded)) => Ok(decoded),
        Err(DecompressError::TooLarge) => Err(BodyError::TooLarge),
        Err(DecompressError::Corrupt(reason)) => Err(BodyError::Read(format!(
            "the compressed response body is corrupt: {reason}"
        ))),
    }
}

/// Whether a redirect is followed: `307` and `308`, which keep the method and
/// the body (the builder's reqwest policy says the same for later hops).
fn is_followed_redirect(status: StatusCode) -> bool {
    status == StatusCode::TEMPORARY_REDIRECT || status == StatusCode::PERMANENT_REDIRECT
}

/// Where a redirect from `from` points: its `Location`, resolved against
/// `from`, if it is an `http` or `https` URL.
fn redirect_target(from: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
    let target = from.join(location).ok()?;
    matches!(target.scheme(), "http" | "https").then_some(target)
}

/// An attempt through reqwest in progress: unless it got an answer (`client`
/// cleared), dropping it gives up its client.
struct Unanswered<'a> {
    exporter: &'a HttpExporter,
    client: Option<u64>,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(number) = self.client {
            self.exporter.forget_client(number);
        }
    }
}

/// An attempt on the plain connections in progress: unless it got an
/// answer (cleared), dropping it closes their idle connections.
struct PlainUnanswered<'a>(Option<&'a PlainConnections>);

impl Drop for PlainUnanswered<'_> {
    fn drop(&mut self) {
        if let Some(plain) = self.0 {
            plain.close_idle();
        }
    }
}

/// Resolves once the exporter is shut down.
async fn wait_for_shutdown(mut shut_down: watch::Receiver<bool>) {
    while !*shut_down.borrow_and_update() {
        if shut_down.changed().await.is_err() {
            // The exporter is gone; nothing will ever shut it down.
            std::future::pending::<()>().await;
        }
    }
}

/// `url` without user name, password, query or fragment.
fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// An attempt that ran out of the time it was `allowed`, on its way to
/// `target` (see [`HttpExporter::request_shown`]).
fn timed_out(allowed: Duration, target: String) -> ExportOutcome {
    ExportOutcome::Retryable {
        error: ExportError::Timeout {
            after: allowed,
            target: Some(target),
        },
        throttle: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpExporterError;

    fn request(body: Bytes, span_count: usize) -> ExportRequest {
        ExportRequest {
            body,
            encoding: Encoding::Protobuf,
            span_count,
        }
    }

    fn exporter() -> HttpExporter {
        // Port 9 (discard) on loopback: nothing here may actually be sent.
        HttpExporter::builder()
            .traces_endpoint("http://127.0.0.1:9/v1/traces")
            .build()
            .unwrap()
    }

    #[test]
    fn building_needs_no_runtime_and_no_process_crypto_provider() {
        // No tokio runtime here, and nothing installs a rustls CryptoProvider.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let https = HttpExporter::builder()
            .traces_endpoint("https://127.0.0.1:9/v1/traces")
            .build();
        // Without system roots (bare containers) this is a typed error, never a panic.
        if let Err(error) = &https {
            assert!(
                matches!(error, HttpExporterError::NoRootCertificates { .. }),
                "{error}"
            );
        }
        drop(exporter());
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }

    #[tokio::test]
    async fn oversized_requests_are_refused_not_sent() {
        let exporter = exporter();
        let body = Bytes::from(vec![0u8; MAX_REQUEST_BYTES + 1]);
        let outcome = exporter.export(request(body, 1)).await;
        let ExportOutcome::Permanent {
            error: ExportError::Request(message),
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(message.contains("not sent"), "{message}");
    }

    #[tokio::test]
    async fn requests_without_spans_are_never_sent() {
        // Port 9 would refuse the connection: success proves nothing was sent.
        assert_eq!(
            exporter().export(request(Bytes::new(), 0)).await,
            ExportOutcome::Success
        );
        assert!(matches!(
            exporter().export(request(Bytes::new(), 3)).await,
            ExportOutcome::Permanent {
                error: ExportError::Request(_)
            }
        ));
    }

    #[tokio::test]
    async fn a_shut_down_exporter_refuses_exports() {
        let exporter = exporter();
        let clone = exporter.clone();
        Exporter::shutdown(&exporter).await;
        assert!(clone.is_shut_down());
        assert_eq!(
            clone
                .export(request(Bytes::from_static(b"\x0a\x00"), 1))
                .await,
            ExportOutcome::Permanent {
                error: ExportError::ShutDown
            }
        );
    }

    #[test]
    fn redacted_urls_hide_credentials_and_queries() {
        let url = Url::parse("https://user:pw@collector:4318/v1/traces?api-key=k#frag").unwrap();
        assert_eq!(redacted(&url), "https://collector:4318/v1/traces");
    }
}
