//! The exporter's reqwest client: what it is made of, so that it can be made
//! again (an exporter replaces its client, and so its connection pool, after
//! an attempt on it went unanswered), how it follows redirects, and when it
//! leaves the environment's proxy out ([`crate::proxy::is_loopback`]).

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{
    AUTHORIZATION, COOKIE, HeaderMap, HeaderName, PROXY_AUTHORIZATION, WWW_AUTHENTICATE,
};

use crate::error::HttpExporterError;
use crate::plain;

/// The `User-Agent` of every request: the specification's
/// `OTel-OTLP-Exporter-Rust/<version>`, then this crate and its version (the
/// same form as `otlp-exporter-grpc`). A configured `user-agent` header replaces it.
pub const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust/",
    env!("CARGO_PKG_VERSION"),
    " otlp-exporter-http/",
    env!("CARGO_PKG_VERSION")
);

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

tokio::task_local! {
    /// The URL of the last redirect the client's policy followed for the
    /// request being sent under [`noting_redirects`]: reqwest's errors
    /// (0.13) name the URL a request started with, even when it failed on
    /// a redirect it followed, to another URL and through another proxy.
    static FOLLOWED: RefCell<Option<Url>>;
}

/// Runs `future`, which sends a request through the exporter's client,
/// noting the redirects it follows for [`last_followed`] (read within
/// `future`). Cost: a task-local scope per request; a URL copied per
/// redirect followed.
pub(crate) async fn noting_redirects<F: Future>(future: F) -> F::Output {
    FOLLOWED.scope(RefCell::new(None), future).await
}

/// The URL of the last redirect followed by the request being sent under
/// [`noting_redirects`], if any: where it failed when it did after one.
pub(crate) fn last_followed() -> Option<Url> {
    FOLLOWED
        .try_with(|followed| followed.borrow().clone())
        .ok()
        .flatten()
}

/// What the exporter's reqwest client is made of, to make it again: an
/// exporter replaces its client (and so its connection pool) after an
/// attempt on it went unanswered.
#[derive(Clone)]
pub(crate) struct ClientRecipe {
    pub(crate) tls: rustls::ClientConfig,
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Duration,
    /// Whether to leave out the proxy the environment names: the endpoint
    /// is on loopback ([`crate::proxy::is_loopback`]).
    pub(crate) direct: bool,
}

impl ClientRecipe {
    /// A client with a connection pool of its own.
    pub(crate) fn build(&self) -> Result<reqwest::Client, HttpExporterError> {
        let mut builder = reqwest::Client::builder();
        if self.direct {
            builder = builder.no_proxy();
        }
        builder
            .tls_backend_preconfigured(self.tls.clone())
            .user_agent(USER_AGENT)
            // After the User-Agent, so that a configured `user-agent` header wins.
            .default_headers(self.headers.clone())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .pool_idle_timeout(plain::IDLE_TIMEOUT)
            .tcp_nodelay(true)
            .redirect(redirect_policy())
            .build()
            .map_err(|error| HttpExporterError::Client(crate::error::error_chain(&error)))
    }
}

impl ClientRecipe {
    /// The recipe without the headers a request to another origin must not
    /// carry ([`is_sensitive`]): for a redirect to one that the exporter
    /// follows itself, as reqwest leaves them out of those it follows.
    pub(crate) fn for_another_origin(&self) -> ClientRecipe {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if !is_sensitive(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        ClientRecipe {
            headers,
            ..self.clone()
        }
    }
}

/// Whether a header carries credentials that a redirect to another host or
/// port must not pass on: reqwest's list (`Authorization`, `Cookie`,
/// `Cookie2`, `Proxy-Authorization`, `WWW-Authenticate`).
fn is_sensitive(name: &HeaderName) -> bool {
    [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE].contains(name)
        || name.as_str() == "cookie2"
}

/// Whether `to` is another origin than `from` for a redirect: another host,
/// or another port (the scheme's default when none is written), as reqwest
/// decides to leave credentials out of a redirect it follows.
pub(crate) fn crosses_origin(from: &Url, to: &Url) -> bool {
    from.host_str() != to.host_str() || from.port_or_known_default() != to.port_or_known_default()
}

/// Follows only `307` and `308` (which keep the method and body) up to
/// [`MAX_REDIRECTS`] times, never from `https` to `http`. Any other redirect
/// is returned as is and counts as a permanent failure.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let status = attempt.status().as_u16();
        if status != 307 && status != 308 {
            return attempt.stop();
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let was_https = attempt.previous().iter().any(|url| url.scheme() == "https");
        if was_https && attempt.url().scheme() != "https" {
            return attempt.error("refusing a redirect from https to plain http");
        }
        // Polled in the task sending the request (reqwest's redirects are
        // followed in its response future): the request's own note.
        let _ = FOLLOWED.try_with(|followed| *followed.borrow_mut() = Some(attempt.url().clone()));
        attempt.follow()
    })
}
