//! [`ConnectProxy`]: the proxy the environment names for the endpoint, and
//! the HTTP `CONNECT` tunnel through it, as the Collector's gRPC exporter
//! (grpc-go) reads and opens them.
//!
//! **Which variables.** `HTTPS_PROXY` (else `https_proxy`; the first that is
//! set and not blank) names the proxy for every endpoint, `http://` and
//! `https://` alike: grpc-go maps each target as an `https` URL
//! (`http.ProxyFromEnvironment`), since a gRPC connection goes through a
//! proxy as a `CONNECT` tunnel whatever runs inside it. `NO_PROXY` (else
//! `no_proxy`) lists the hosts reached directly. `HTTP_PROXY` and `ALL_PROXY`
//! are not read, as grpc-go reads neither: `HTTP_PROXY` names a proxy that
//! plain HTTP requests are handed to as they are, which a gRPC connection
//! cannot be, and `ALL_PROXY` is often a SOCKS proxy. (otlp-exporter-http,
//! through reqwest, reads `HTTP_PROXY` for `http://` endpoints and
//! `ALL_PROXY` for both: its requests are plain HTTP.)
//!
//! **Which endpoints.** Never one on loopback ([`is_loopback_host`]), whatever
//! the variables say, as Go and otlp-exporter-http leave it out: a proxy on
//! another machine would reach its own loopback. Never one `NO_PROXY` lists,
//! read as Go reads it ([`no_proxy_lists`]).
//!
//! **Which proxies.** `http://host[:port]` (port 80 when none is given), or
//! `host[:port]` without a scheme, which is the same. Its user name and
//! password (percent-encoded) go as `Proxy-Authorization: Basic`, and show
//! in no error or `Debug` output. Any other scheme (`socks5://`,
//! `https://`) fails the build, naming the variable and its value: going
//! straight to the endpoint instead would go around a proxy set on purpose
//! (and usually fail, later and less clearly), and speaking `CONNECT` to it
//! as grpc-go does whatever the scheme cannot work. `NO_PROXY` exempts an
//! endpoint that must go direct.
//!
//! **Cost model.** The variables are read once, when the exporter is built.
//! A connection through the proxy costs one TCP connection to the proxy and
//! one `CONNECT` round trip: the request in one write, the answer peeked and
//! read up to the end of its head and never further (at most
//! [`MAX_ANSWER_HEAD`] bytes, two system calls per segment), so that the
//! tunnel's first bytes stay on the socket for TLS or HTTP/2. Then the tunnel
//! is the TCP stream itself: nothing per request, nothing per byte. Without
//! a proxy, the connector checks one `Option` per connection.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use http::Uri;
use http::uri::Authority;
use otlp_sdk::config::{is_loopback_host, redact_userinfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::USER_AGENT;
use crate::basic_auth::basic_credentials;
use crate::error::BuildError;

/// Longest head of a proxy's answer to `CONNECT` read: a status line and a
/// few headers take a few hundred bytes, so this leaves room for a chatty
/// proxy while bounding what a confused one (pointed at something that is
/// no proxy) can make the exporter buffer. At the limit the tunnel fails
/// ([`TunnelFailure::TooLarge`]).
pub(crate) const MAX_ANSWER_HEAD: usize = 16 * 1024;

/// Bytes peeked at a time while the head is read: a whole usual answer in
/// one system call, on the stack. Longer heads take more turns.
const PEEK_CHUNK: usize = 1024;

/// Longest reason phrase or malformed status line quoted in an error.
const MAX_QUOTED: usize = 128;

/// The variables naming the proxy, in the order read.
pub(crate) const PROXY_VARIABLES: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];

/// The variables listing the hosts reached directly, in the order read.
pub(crate) const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// An HTTP proxy to reach one endpoint through, with `CONNECT`.
///
/// Holds where to connect, the tunnel's target and the proxy's credentials;
/// built once per exporter, shared by its connections. `Debug` shows the
/// proxy URL with its user-info `<redacted>`.
#[derive(Clone)]
pub(crate) struct ConnectProxy {
    /// `http://host:port` of the proxy, without user-info: where the
    /// connector connects.
    address: Uri,
    /// The variable's value, its user-info `<redacted>`.
    shown: String,
    /// The variable the proxy came from.
    variable: &'static str,
    /// The endpoint's `host:port` (an IPv6 address bracketed): what
    /// `CONNECT` asks for.
    target: String,
    /// `Basic <base64 of user:password>`, from the proxy URL's user-info.
    authorization: Option<String>,
}

impl fmt::Debug for ConnectProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (from {}) to {}",
            self.shown, self.variable, self.target
        )
    }
}

impl ConnectProxy {
    /// The proxy the process environment names for `endpoint` (a gRPC
    /// endpoint's origin, `scheme://host[:port]`), or `None` to connect
    /// straight to it (see the module docs). A proxy URL this exporter
    /// cannot use is an error naming its variable.
    pub(crate) fn from_environment(endpoint: &Uri) -> Result<Option<ConnectProxy>, BuildError> {
        Self::for_endpoint(endpoint, |name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// [`from_environment`](Self::from_environment) with the variables read
    /// by `environment`.
    pub(crate) fn for_endpoint(
        endpoint: &Uri,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ConnectProxy>, BuildError> {
        let Some(host) = endpoint.host() else {
            return Ok(None);
        };
        if is_loopback_host(host) {
            return Ok(None);
        }
        let first_set = |names: [&'static str; 2]| {
            names.into_iter().find_map(|name| {
                let value = environment(name)?;
                let value = value.trim();
                (!value.is_empty()).then(|| (name, value.to_owned()))
            })
        };
        let Some((variable, value)) = first_set(PROXY_VARIABLES) else {
            return Ok(None);
        };
        let port = endpoint.port_u16().unwrap_or(
            if endpoint
                .scheme_str()
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https"))
            {
                443
            } else {
                80
            },
        );
        if let Some((_, no_proxy)) = first_set(NO_PROXY_VARIABLES)
            && no_proxy_lists(&no_proxy, host, port)
        {
            return Ok(None);
        }
        let (address, authorization) = parse_proxy_url(variable, &value)?;
        Ok(Some(ConnectProxy {
            address,
            shown: redact_userinfo(&value),
            variable,
            target: format!("{host}:{port}"),
            authorization,
        }))
    }

    /// How messages name it: "the proxy http://<redacted>@proxy:3128 from
    /// HTTPS_PROXY", its user-info `<redacted>` (as otlp-exporter-http
    /// names the proxy a request went through).
    pub(crate) fn shown(&self) -> String {
        format!("the proxy {} from {}", self.shown, self.variable)
    }

    /// Where to connect: `http://host:port` of the proxy.
    pub(crate) fn address(&self) -> &Uri {
        &self.address
    }

    /// The `CONNECT` request for the endpoint.
    fn connect_request(&self) -> String {
        let target = &self.target;
        let mut request =
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {USER_AGENT}\r\n");
        if let Some(authorization) = &self.authorization {
            request.push_str("Proxy-Authorization: ");
            request.push_str(authorization);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request
    }

    /// Opens the tunnel to the endpoint on `stream`, a connection to the
    /// proxy: sends `CONNECT`, reads the answer's head (never past it) and
    /// accepts a `2xx`, all within `timeout`. On success the stream carries
    /// the endpoint's bytes from its next byte on.
    pub(crate) async fn open_tunnel(
        &self,
        stream: &mut TcpStream,
        timeout: Duration,
    ) -> Result<(), TunnelError> {
        let exchange = async {
            stream
                .write_all(self.connect_request().as_bytes())
                .await
                .map_err(TunnelFailure::Io)?;
            let head = read_answer_head(stream).await?;
            self.check_answer(&head)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(self.error(failure)),
            Err(_elapsed) => Err(self.error(TunnelFailure::TimedOut(timeout))),
        }
    }

    /// `failure`, said of this proxy and endpoint.
    pub(crate) fn error(&self, failure: TunnelFailure) -> TunnelError {
        TunnelError {
            proxy: self.shown.clone(),
            variable: self.variable,
            target: self.target.clone(),
            failure,
        }
    }

    /// Accepts an answer head whose status is `2xx`.
    fn check_answer(&self, head: &[u8]) -> Result<(), TunnelFailure> {
        let text = String::from_utf8_lossy(head);
        let status_line = text.lines().next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let code = parts.next().unwrap_or_default();
        let reason = parts.next().unwrap_or_default().trim();
        let status = match code.parse::<u16>() {
            Ok(status)
                if version.starts_with("HTTP/1.")
                    && code.len() == 3
                    && code.bytes().all(|byte| byte.is_ascii_digit()) =>
            {
                status
            }
            _ => return Err(TunnelFailure::Malformed(quoted(status_line))),
        };
        if (200..300).contains(&status) {
            return Ok(());
        }
        let hint = match (status, &self.authorization) {
            (407, Some(_)) => format!(
                " (it refused the user name and password of {})",
                self.variable
            ),
            (407, None) => format!(
                " (it asks for a user name and password: {} has none, \
                 write http://user:password@host:port)",
                self.variable
            ),
            _ => String::new(),
        };
        Err(TunnelFailure::Refused {
            status,
            reason: quoted(reason),
            hint,
        })
    }
}

/// Reads a proxy's answer head from `stream`, up to its blank line and not
/// a byte further: each segment is peeked, and only what belongs to the head
/// is read, so that what the endpoint sends first (an HTTP/2 server's
/// `SETTINGS`, which a proxy may pass on in the same segment as its `200`)
/// stays on the socket.
async fn read_answer_head(stream: &mut TcpStream) -> Result<Vec<u8>, TunnelFailure> {
    let mut head = Vec::new();
    let mut chunk = [0u8; PEEK_CHUNK];
    loop {
        let room = (MAX_ANSWER_HEAD - head.len()).min(PEEK_CHUNK);
        let peeked = stream
            .peek(&mut chunk[..room])
            .await
            .map_err(TunnelFailure::Io)?;
        if peeked == 0 {
            return Err(TunnelFailure::Closed);
        }
        let before = head.len();
        head.extend_from_slice(&chunk[..peeked]);
        // The blank line may have begun in the bytes read before.
        let end = head_end(&head, before.saturating_sub(3));
        if let Some(end) = end {
            head.truncate(end);
        }
        stream
            .read_exact(&mut chunk[..head.len() - before])
            .await
            .map_err(TunnelFailure::Io)?;
        // Whatever answers this is not an HTTP proxy: said at once, rather
        // than after a head's worth of bytes or the timeout.
        let start = &head[..head.len().min(5)];
        if !b"HTTP/".starts_with(start) {
            let line = String::from_utf8_lossy(&head);
            return Err(TunnelFailure::Malformed(quoted(
                line.lines().next().unwrap_or_default(),
            )));
        }
        if end.is_some() {
            return Ok(head);
        }
        if head.len() >= MAX_ANSWER_HEAD {
            return Err(TunnelFailure::TooLarge);
        }
    }
}

/// The length of the head that `bytes` begins with, through its blank line
/// (`\r\n\r\n`, or bare `\n\n` and `\n\r\n` as lenient readers take them),
/// looking for it from `from` on.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find_map(|at| match &bytes[at..] {
        [b'\n', b'\n', ..] => Some(at + 2),
        [b'\n', b'\r', b'\n', ..] => Some(at + 3),
        _ => None,
    })
}

/// `text` as one line safe to quote: control characters dropped, at most
/// [`MAX_QUOTED`] characters.
fn quoted(text: &str) -> String {
    let mut line: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUOTED + 1)
        .collect();
    if line.chars().count() > MAX_QUOTED {
        line = line.chars().take(MAX_QUOTED).collect();
        line.push('…');
    }
    line
}

/// The proxy's address (`http://host:port`, without user-info) and its
/// `Proxy-Authorization` value, from the value of `variable`.
fn parse_proxy_url(
    variable: &'static str,
    value: &str,
) -> Result<(Uri, Option<String>), BuildError> {
    let invalid = |reason: String| BuildError::InvalidProxy {
        variable,
        value: redact_userinfo(value),
        reason,
    };
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => return Err(invalid(unsupported_scheme(scheme))),
        None => value,
    };
    // A proxy URL's path means nothing here, so any `@` ends a user-info,
    // even one whose password holds an unencoded `/`.
    let (user_info, after) = match rest.rsplit_once('@') {
        Some((user_info, after)) => (Some(user_info), after),
        None => (None, rest),
    };
    let host_port = after.split(['/', '?', '#']).next().unwrap_or_default();
    let authority: Authority = host_port
        .parse()
        .map_err(|error: http::uri::InvalidUri| invalid(format!("no host and port: {error}")))?;
    if authority.host().is_empty() {
        return Err(invalid("no host".into()));
    }
    // `Authority` reads a port that is no `u16` as none.
    let port = match host_port
        .strip_prefix(authority.host())
        .and_then(|after| after.strip_prefix(':'))
        .filter(|port| !port.is_empty())
    {
        None => 80,
        Some(port) => match port.parse::<u16>() {
            Ok(port @ 1..) => port,
            _ => {
                return Err(invalid(format!(
                    "port {port:?} is not a number from 1 to 65535"
                )));
            }
        },
    };
    let address = Uri::builder()
        .scheme("http")
        .authority(format!("{}:{port}", authority.host()))
        .path_and_query("/")
        .build()
        .map_err(|error| invalid(error.to_string()))?;
    // An empty user-info (`http://@proxy`, `http://:@proxy`) names nobody.
    let authorization = user_info
        .filter(|user_info| !matches!(*user_info, "" | ":"))
        .map(|user_info| {
            basic_credentials(user_info).ok_or_else(|| {
                invalid("its user name or password is not UTF-8 once percent-decoded".into())
            })
        })
        .transpose()?;
    Ok((address, authorization))
}

/// Why a proxy of `scheme` is refused.
fn unsupported_scheme(scheme: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "https" {
        "TLS to the proxy is not supported (nor by grpc-go): give the proxy's http:// \
         address; an https:// endpoint's traffic stays TLS, end to end, inside the tunnel"
            .into()
    } else if scheme.starts_with("socks") {
        format!(
            "{scheme} proxies are not supported, only http:// ones (HTTP CONNECT); \
             list the endpoint's host in NO_PROXY to reach it directly"
        )
    } else {
        format!("the scheme {scheme}:// is not supported, only http:// (HTTP CONNECT)")
    }
}

/// Whether `no_proxy` lists `host` (an IPv6 address bracketed) at `port`,
/// read as Go reads `NO_PROXY` (`golang.org/x/net/http/httpproxy`, which the
/// Collector uses): comma-separated entries, case-insensitive, blanks
/// ignored; `*` lists every host; an IP address (`10.0.0.7`, `::1`) or a
/// CIDR block (`10.0.0.0/8`) lists the addresses it holds; a domain name
/// (`example.com`) lists itself and its subdomains, one with a leading `.`
/// or `*.` (`.example.com`) its subdomains only. An address or name may end
/// in `:port` (`[::1]:4317`), which lists that port only.
///
/// otlp-exporter-http's reqwest reads it nearly the same way; it takes
/// `.example.com` to list `example.com` too, and ignores ports.
pub(crate) fn no_proxy_lists(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let address = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    let port = port.to_string();
    no_proxy
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_lists(&entry, &host, address, &port))
}

/// Whether one `NO_PROXY` entry (trimmed, lowercase) lists the host.
fn entry_lists(entry: &str, host: &str, address: Option<IpAddr>, port: &str) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((network, bits)) = entry.split_once('/')
        && let Ok(network) = network.parse::<IpAddr>()
    {
        return match (address, bits.parse::<u32>()) {
            (Some(address), Ok(bits)) => in_block(address, network, bits),
            _ => false,
        };
    }
    let (entry_host, entry_port) = split_host_port(entry);
    if entry_port.is_some_and(|entry_port| !entry_port.is_empty() && entry_port != port) {
        return false;
    }
    if let Ok(entry_address) = entry_host.parse::<IpAddr>() {
        return address == Some(entry_address.to_canonical());
    }
    if entry_host.is_empty() {
        return false;
    }
    let (suffix, or_itself) = match entry_host.strip_prefix("*.") {
        Some(domain) => (format!(".{domain}"), false),
        None if entry_host.starts_with('.') => (entry_host.to_owned(), false),
        None => (format!(".{entry_host}"), true),
    };
    host.ends_with(&suffix) || (or_itself && host == &suffix[1..])
}

/// An entry's host and port, as Go's `net.SplitHostPort` reads them: a
/// bracketed IPv6 address with or without a port, a name or IPv4 address
/// with one `:`; anything else (a bare IPv6 address) is all host.
fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':'));
    }
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (entry, None),
    }
}

/// Whether `address` lies in `network/bits`; addresses of the other family
/// never do.
fn in_block(address: IpAddr, network: IpAddr, bits: u32) -> bool {
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(network)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// A tunnel the proxy did not open: names the proxy (its user-info
/// `<redacted>`), the variable it came from and the endpoint; the failure
/// is its source.
#[derive(Debug, thiserror::Error)]
#[error("the proxy {proxy} (from {variable}) opened no tunnel to {target}")]
pub(crate) struct TunnelError {
    proxy: String,
    variable: &'static str,
    target: String,
    #[source]
    failure: TunnelFailure,
}

/// Why a tunnel was not opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TunnelFailure {
    /// No TCP connection to the proxy (refused, unreachable, its name not
    /// found, the connect timeout).
    #[error("cannot connect to the proxy")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Sending `CONNECT` or reading the answer failed.
    #[error("the CONNECT exchange failed")]
    Io(#[source] std::io::Error),
    /// No whole answer within the connect timeout.
    #[error("no answer to CONNECT within {0:?}")]
    TimedOut(Duration),
    /// The connection ended before the answer's head did.
    #[error("the proxy closed the connection before the end of its answer")]
    Closed,
    /// The answer is no HTTP/1 response (quoted: its first line).
    #[error("the answer is no HTTP/1 status line: {0:?}")]
    Malformed(String),
    /// The answer's head is over [`MAX_ANSWER_HEAD`].
    #[error("the answer's head is over {MAX_ANSWER_HEAD} bytes")]
    TooLarge,
    /// The proxy answered with a status other than `2xx`.
    #[error("refused with HTTP status {status} {reason}{hint}")]
    Refused {
        /// The status code.
        status: u16,
        /// The reason phrase, quoted safely.
        reason: String,
        /// For a `407`: whether credentials were sent, and from where.
        hint: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn uri(endpoint: &str) -> Uri {
        endpoint.parse().unwrap()
    }

    /// The proxy for `endpoint` with only `variables` set.
    fn proxy_for(
        endpoint: &str,
        variables: &[(&str, &str)],
    ) -> Result<Option<ConnectProxy>, BuildError> {
        ConnectProxy::for_endpoint(&uri(endpoint), |name| {
            variables
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    fn proxied(endpoint: &str, variables: &[(&str, &str)]) -> Option<ConnectProxy> {
        proxy_for(endpoint, variables).unwrap()
    }

    #[test]
    fn https_proxy_applies_to_http_and_https_endpoints_and_http_proxy_and_all_proxy_do_not() {
        for endpoint in [
            "http://collector.example:4317",
            "https://collector.example:4317",
        ] {
            for variable in PROXY_VARIABLES {
                let proxy = proxied(endpoint, &[(variable, "http://proxy.corp:3128")])
                    .unwrap_or_else(|| panic!("{endpoint} {variable}"));
                assert_eq!(proxy.address(), "http://proxy.corp:3128/");
                assert_eq!(proxy.variable, variable);
                assert_eq!(proxy.target, "collector.example:4317");
            }
            for variable in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
                assert!(
                    proxied(endpoint, &[(variable, "http://proxy.corp:3128")]).is_none(),
                    "{endpoint} {variable}"
                );
            }
        }
    }

    #[test]
    fn the_uppercase_variable_wins_and_a_blank_one_is_unset() {
        let both = [
            ("HTTPS_PROXY", "http://upper:3128"),
            ("https_proxy", "http://lower:3128"),
        ];
        let proxy = proxied("http://collector.example:4317", &both).unwrap();
        assert_eq!(proxy.address(), "http://upper:3128/");
        let blank = [("HTTPS_PROXY", "  "), ("https_proxy", "http://lower:3128")];
        let proxy = proxied("http://collector.example:4317", &blank).unwrap();
        assert_eq!(
            (proxy.variable, proxy.address()),
            ("https_proxy", &uri("http://lower:3128/"))
        );
        assert!(proxied("http://collector.example:4317", &[("HTTPS_PROXY", " ")]).is_none());
        // NO_PROXY likewise: a blank NO_PROXY gives way to no_proxy.
        let listed = [
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", " "),
            ("no_proxy", "collector.example"),
        ];
        assert!(proxied("http://collector.example:4317", &listed).is_none());
    }

    #[test]
    fn the_target_is_the_endpoints_host_and_port_or_its_schemes_default() {
        let proxy = [("HTTPS_PROXY", "proxy:3128")];
        for (endpoint, target) in [
            ("http://collector.example", "collector.example:80"),
            ("https://collector.example", "collector.example:443"),
            ("http://10.1.2.3:4317", "10.1.2.3:4317"),
            ("https://[2001:db8::7]:4317", "[2001:db8::7]:4317"),
        ] {
            assert_eq!(
                proxied(endpoint, &proxy).unwrap().target,
                target,
                "{endpoint}"
            );
        }
    }

    #[test]
    fn a_loopback_endpoint_never_goes_through_the_proxy() {
        let variables = [("HTTPS_PROXY", "http://proxy:3128")];
        for endpoint in [
            "http://127.0.0.1:4317",
            "https://127.1.2.3:4317",
            "http://localhost:4317",
            "http://LOCALHOST.:4317",
            "http://[::1]:4317",
            "http://[::ffff:127.0.0.1]:4317",
        ] {
            assert!(proxied(endpoint, &variables).is_none(), "{endpoint}");
        }
        for endpoint in [
            "http://localhost.example:4317",
            "http://128.0.0.1:4317",
            "http://0.0.0.0:4317",
            "http://[::2]:4317",
        ] {
            assert!(proxied(endpoint, &variables).is_some(), "{endpoint}");
        }
    }

    #[test]
    fn no_proxy_reads_as_go_reads_it() {
        for (no_proxy, host, port, listed) in [
            ("*", "collector.example", 4317, true),
            ("example.com", "example.com", 4317, true),
            ("example.com", "collector.example.com", 4317, true),
            ("example.com", "collectorexample.com", 4317, false),
            (".example.com", "example.com", 4317, false),
            (".example.com", "collector.example.com", 4317, true),
            ("*.example.com", "example.com", 4317, false),
            ("*.example.com", "a.b.example.com", 4317, true),
            ("EXAMPLE.com", "Collector.Example.COM", 4317, true),
            (" other.org , example.com ", "example.com", 4317, true),
            ("other.org,,", "example.com", 4317, false),
            ("example.com:4317", "example.com", 4317, true),
            ("example.com:4318", "example.com", 4317, false),
            ("10.0.0.7", "10.0.0.7", 4317, true),
            ("10.0.0.7", "10.0.0.8", 4317, false),
            ("10.0.0.7:4317", "10.0.0.7", 4317, true),
            ("10.0.0.7:80", "10.0.0.7", 4317, false),
            ("10.0.0.0/8", "10.200.0.1", 4317, true),
            ("10.0.0.0/8", "11.0.0.1", 4317, false),
            ("10.0.0.0/33", "10.0.0.1", 4317, false),
            ("0.0.0.0/0", "192.0.2.1", 4317, true),
            ("0.0.0.0/0", "[2001:db8::1]", 4317, false),
            ("2001:db8::/32", "[2001:db8::1]", 4317, true),
            ("2001:db8::1", "[2001:db8::1]", 4317, true),
            ("[2001:db8::1]:4317", "[2001:db8::1]", 4317, true),
            ("[2001:db8::1]:80", "[2001:db8::1]", 4317, false),
            ("192.0.2.1", "[::ffff:192.0.2.1]", 4317, true),
            ("collector.example", "10.0.0.7", 4317, false),
        ] {
            assert_eq!(
                no_proxy_lists(no_proxy, host, port),
                listed,
                "NO_PROXY={no_proxy:?} {host}:{port}"
            );
        }
        // Listed: no proxy, and its URL is not even read.
        let variables = [
            ("HTTPS_PROXY", "socks5://proxy:1080"),
            ("NO_PROXY", ".example.com"),
        ];
        assert!(proxied("https://collector.example.com:4317", &variables).is_none());
    }

    #[test]
    fn a_proxy_url_is_http_or_a_bare_host_with_port_80_by_default_and_its_credentials() {
        for (value, address, authorization) in [
            ("http://proxy.corp:3128", "http://proxy.corp:3128/", None),
            ("HTTP://proxy.corp:3128/", "http://proxy.corp:3128/", None),
            ("proxy.corp:3128", "http://proxy.corp:3128/", None),
            ("http://proxy.corp", "http://proxy.corp:80/", None),
            (
                "http://[2001:db8::3]:3128",
                "http://[2001:db8::3]:3128/",
                None,
            ),
            ("http://@proxy.corp:3128", "http://proxy.corp:3128/", None),
            (
                "http://otlp:s3cret@proxy.corp:3128",
                "http://proxy.corp:3128/",
                // base64 of otlp:s3cret
                Some("Basic b3RscDpzM2NyZXQ="),
            ),
            (
                // Percent-decoded; an unencoded `/` in the password too.
                "http://ot%40lp:s3/cr%3Aet@proxy.corp:3128",
                "http://proxy.corp:3128/",
                // base64 of ot@lp:s3/cr:et
                Some("Basic b3RAbHA6czMvY3I6ZXQ="),
            ),
            (
                "otlp@proxy.corp:3128",
                "http://proxy.corp:3128/",
                // base64 of otlp:
                Some("Basic b3RscDo="),
            ),
        ] {
            let proxy = proxied("http://collector.example:4317", &[("HTTPS_PROXY", value)])
                .unwrap_or_else(|| panic!("{value}"));
            assert_eq!(proxy.address(), address, "{value}");
            assert_eq!(proxy.authorization.as_deref(), authorization, "{value}");
            assert!(!format!("{proxy:?}").contains("s3"), "{proxy:?}");
        }
    }

    #[test]
    fn a_proxy_url_that_is_not_http_fails_the_build_naming_the_variable_not_the_password() {
        for (value, in_reason) in [
            (
                "socks5://otlp:s3cret@proxy.corp:1080",
                "socks5 proxies are not supported",
            ),
            (
                "socks5h://proxy.corp:1080",
                "socks5h proxies are not supported",
            ),
            ("https://otlp:s3cret@proxy.corp:3128", "TLS to the proxy"),
            ("ftp://proxy.corp", "ftp:// is not supported"),
            ("http://otlp:s3cret@proxy.corp:0", "port \"0\""),
            ("http://otlp:s3cret@proxy.corp:70000", "port \"70000\""),
            ("http://otlp:s3cret@:3128", "no host"),
            ("http://proxy corp:3128", "no host and port"),
            ("http://%FF:s3cret@proxy.corp", "not UTF-8"),
        ] {
            let error = proxy_for("http://collector.example:4317", &[("https_proxy", value)])
                .expect_err(value);
            let BuildError::InvalidProxy {
                variable, reason, ..
            } = &error
            else {
                panic!("{value}: {error}")
            };
            assert_eq!(*variable, "https_proxy");
            assert!(reason.contains(in_reason), "{value}: {reason}");
            let message = error.to_string();
            assert!(message.contains("https_proxy"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
            assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
        }
    }

    #[test]
    fn the_connect_request_names_the_target_and_carries_the_credentials() {
        let proxy = proxied(
            "https://[2001:db8::7]:4317",
            &[("HTTPS_PROXY", "http://otlp:s3cret@proxy.corp:3128")],
        )
        .unwrap();
        assert_eq!(
            proxy.connect_request(),
            format!(
                "CONNECT [2001:db8::7]:4317 HTTP/1.1\r\nHost: [2001:db8::7]:4317\r\n\
                 User-Agent: {USER_AGENT}\r\nProxy-Authorization: Basic b3RscDpzM2NyZXQ=\r\n\r\n"
            )
        );
        let proxy = proxied(
            "http://collector.example",
            &[("HTTPS_PROXY", "proxy.corp:3128")],
        )
        .unwrap();
        assert_eq!(
            proxy.connect_request(),
            format!(
                "CONNECT collector.example:80 HTTP/1.1\r\nHost: collector.example:80\r\n\
                 User-Agent: {USER_AGENT}\r\n\r\n"
            )
        );
    }

    // ---- the tunnel, against a proxy on loopback ----------------------------

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// A proxy on loopback for `endpoint`, with credentials or without.
    fn loopback_proxy(address: std::net::SocketAddr, credentials: bool) -> ConnectProxy {
        let url = if credentials {
            format!("http://otlp:s3cret@{address}")
        } else {
            format!("http://{address}")
        };
        proxied(
            "http://collector.example:4317",
            &[("HTTPS_PROXY", url.as_str())],
        )
        .unwrap()
    }

    /// Reads a request head, byte by byte.
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            if stream.read_exact(&mut byte).await.is_err() {
                break;
            }
            request.push(byte[0]);
        }
        String::from_utf8_lossy(&request).into_owned()
    }

    /// Opens a tunnel through a proxy on loopback that reads the request
    /// head and writes `answer` in the pieces given (a moment apart, so
    /// that they come in segments of their own), then ends its side of the
    /// connection; returns the outcome, the request the proxy read and the
    /// bytes left on the client's stream after the tunnel opened.
    fn tunnel_through(
        answer: Vec<Vec<u8>>,
        credentials: bool,
    ) -> (Result<(), TunnelError>, String, Vec<u8>) {
        block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let proxy_task = tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let request = read_request(&mut stream).await;
                for piece in answer {
                    let _ = stream.write_all(&piece).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = stream.shutdown().await;
                request
            });
            let proxy = loopback_proxy(address, credentials);
            let mut stream = TcpStream::connect(address).await.unwrap();
            let outcome = proxy
                .open_tunnel(&mut stream, Duration::from_secs(10))
                .await;
            let mut rest = Vec::new();
            if outcome.is_ok() {
                stream.read_to_end(&mut rest).await.unwrap();
            }
            drop(stream);
            let request = proxy_task.await.unwrap();
            (outcome, request, rest)
        })
    }

    fn pieces(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        pieces.iter().map(|piece| piece.to_vec()).collect()
    }

    fn failure(outcome: &Result<(), TunnelError>) -> &TunnelFailure {
        &outcome.as_ref().expect_err("a failure").failure
    }

    #[test]
    fn a_2xx_opens_the_tunnel_and_what_follows_the_head_stays_on_the_stream() {
        for answer in [
            &[&b"HTTP/1.1 200 Connection established\r\n\r\nFIRST BYTES"[..]][..],
            // The blank line split across segments; headers; a bare `\n` head.
            &[
                &b"HTTP/1.1 200 OK\r\nVia: 1.1 proxy\r\n\r"[..],
                &b"\nFIRST BYTES"[..],
            ][..],
            &[&b"HTTP/1.0 204 Tunnel\n\nFIRST BYTES"[..]][..],
        ] {
            let (outcome, request, rest) = tunnel_through(pieces(answer), true);
            outcome.unwrap();
            assert!(request.starts_with("CONNECT collector.example:4317 HTTP/1.1\r\n"));
            assert!(request.contains("\r\nProxy-Authorization: Basic b3RscDpzM2NyZXQ=\r\n"));
            assert_eq!(rest, b"FIRST BYTES");
        }
    }

    #[test]
    fn a_refusal_names_the_proxy_its_status_and_whose_credentials() {
        let (outcome, _, _) = tunnel_through(
            pieces(&[b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"]),
            true,
        );
        let error = outcome.unwrap_err();
        let message = crate::classify::error_chain(&error);
        assert!(
            message.contains("opened no tunnel to collector.example:4317"),
            "{message}"
        );
        assert!(message.contains("(from HTTPS_PROXY)"), "{message}");
        assert!(message.contains("<redacted>@127.0.0.1:"), "{message}");
        assert!(
            message.contains("HTTP status 407 Proxy Authentication Required (it refused the user name and password of HTTPS_PROXY)"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
        let (outcome, _, _) = tunnel_through(
            pieces(&[b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"]),
            false,
        );
        let message = crate::classify::error_chain(&outcome.unwrap_err());
        assert!(message.contains("HTTPS_PROXY has none"), "{message}");
        let (outcome, _, _) =
            tunnel_through(pieces(&[b"HTTP/1.1 403 Forbidden\x1b[31m\r\n\r\n"]), false);
        assert!(
            matches!(failure(&outcome), TunnelFailure::Refused { status: 403, reason, hint }
                if reason == "Forbidden[31m" && hint.is_empty()),
            "{outcome:?}"
        );
    }

    #[test]
    fn an_answer_that_is_no_http_too_long_or_cut_short_fails() {
        let (outcome, _, _) = tunnel_through(pieces(&[b"SSH-2.0-OpenSSH_9.6\r\n"]), false);
        assert!(
            matches!(failure(&outcome), TunnelFailure::Malformed(line) if line == "SSH-2.0-OpenSSH_9.6"),
            "{outcome:?}"
        );
        let (outcome, _, _) = tunnel_through(pieces(&[b"HTTP/1.1 2OO OK\r\n\r\n"]), false);
        assert!(
            matches!(failure(&outcome), TunnelFailure::Malformed(_)),
            "{outcome:?}"
        );
        let mut huge = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        huge.resize(MAX_ANSWER_HEAD + 10, b'a');
        let (outcome, _, _) = tunnel_through(vec![huge], false);
        assert!(
            matches!(failure(&outcome), TunnelFailure::TooLarge),
            "{outcome:?}"
        );
        let (outcome, _, _) = tunnel_through(pieces(&[b"HTTP/1.1 200 OK\r\n"]), false);
        assert!(
            matches!(failure(&outcome), TunnelFailure::Closed),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_proxy_that_does_not_answer_fails_at_the_timeout() {
        let outcome = block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            // Reads the request, then says nothing until the client is gone.
            let proxy_task = tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                read_request(&mut stream).await;
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
            });
            let proxy = loopback_proxy(address, false);
            let mut stream = TcpStream::connect(address).await.unwrap();
            let outcome = proxy
                .open_tunnel(&mut stream, Duration::from_millis(50))
                .await;
            drop(stream);
            proxy_task.await.unwrap();
            outcome
        });
        assert!(
            matches!(failure(&outcome), TunnelFailure::TimedOut(timeout) if *timeout == Duration::from_millis(50)),
            "{outcome:?}"
        );
    }
}
