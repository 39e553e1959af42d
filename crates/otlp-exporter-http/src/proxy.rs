//! The proxies the environment names, and when they are left out: a
//! collector on this machine's loopback is reached directly
//! ([`is_loopback`]), by the plain `http://` connections and by the reqwest
//! client alike; any other URL goes through the proxy reqwest takes from
//! the environment for it ([`EnvironmentProxies`]), if any.

use std::ffi::OsString;
use std::fmt;

use hyper_util::client::proxy::matcher::Matcher;
use otlp_sdk::config::{is_loopback_host, redact_userinfo};
use reqwest::Url;

/// The variables that name a proxy for `http://` URLs, in reqwest's order
/// of preference (the first one set is read, the next only when it is not).
const HTTP_VARIABLES: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
/// For `https://` URLs.
const HTTPS_VARIABLES: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
/// For both, when the scheme's own variables name no usable proxy.
const ALL_VARIABLES: [&str; 2] = ["ALL_PROXY", "all_proxy"];
/// The hosts that no proxy is used for.
const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// The proxies the environment names, read as reqwest reads them when it
/// builds its client (hyper-util's `Matcher::from_env`, which reqwest's
/// default client uses): the first of `HTTP_PROXY`/`http_proxy` (for
/// `http://`) or `HTTPS_PROXY`/`https_proxy` (for `https://`) that is set,
/// if it names a usable proxy, else the first of `ALL_PROXY`/`all_proxy`;
/// none for a host that `NO_PROXY` (or `no_proxy`) lists (a domain and its
/// subdomains, a lone `*`, an IP address or network); none at all in a CGI
/// request (`REQUEST_METHOD` set).
///
/// Read once, when the exporter is built, as reqwest's client reads them;
/// matching a URL parses it into a `Uri` (an allocation) and walks the
/// `NO_PROXY` list, so it is done at build time and for errors, not per
/// request.
pub(crate) struct EnvironmentProxies {
    /// For `http://` URLs.
    http: Option<ProxyVariable>,
    /// For `https://` URLs.
    https: Option<ProxyVariable>,
    /// hyper-util's matcher of the same values, which applies `NO_PROXY`.
    matcher: Matcher,
}

/// A proxy variable that names a usable proxy: its name and value (which
/// may hold a user name and password: no `Debug`; shown redacted).
#[derive(Clone)]
pub(crate) struct ProxyVariable {
    name: &'static str,
    value: String,
}

/// "the proxy `value` from `name`", its user name and password `<redacted>`.
impl fmt::Display for ProxyVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the proxy {} from {}",
            redact_userinfo(&self.value),
            self.name
        )
    }
}

impl EnvironmentProxies {
    /// The proxies this process's environment names.
    pub(crate) fn from_env() -> EnvironmentProxies {
        EnvironmentProxies::read(|name| std::env::var_os(name))
    }

    /// The proxies the variables `environment` gives name.
    pub(crate) fn read(environment: impl Fn(&str) -> Option<OsString>) -> EnvironmentProxies {
        // A CGI request's `Proxy:` header becomes `HTTP_PROXY`: not the
        // user's choice, so reqwest then takes no proxy at all ("httpoxy").
        if environment("REQUEST_METHOD").is_some() {
            return EnvironmentProxies {
                http: None,
                https: None,
                matcher: Matcher::builder().build(),
            };
        }
        // The first variable set, as a string (one that is not Unicode
        // counts as unset, as `std::env::var` has it).
        let first = |names: [&'static str; 2]| {
            names.into_iter().find_map(|name| {
                let value = environment(name)?.into_string().ok()?;
                Some(ProxyVariable { name, value })
            })
        };
        let usable = |names| first(names).filter(|variable| names_a_proxy(&variable.value));
        let all = usable(ALL_VARIABLES);
        let http = usable(HTTP_VARIABLES).or_else(|| all.clone());
        let https = usable(HTTPS_VARIABLES).or(all);
        let value = |variable: &Option<ProxyVariable>| {
            variable
                .as_ref()
                .map_or_else(String::new, |variable| variable.value.clone())
        };
        let matcher = Matcher::builder()
            .http(value(&http))
            .https(value(&https))
            .no(value(&first(NO_PROXY_VARIABLES)))
            .build();
        EnvironmentProxies {
            http,
            https,
            matcher,
        }
    }

    /// The proxy reqwest's client, taking its proxies from this
    /// environment, sends a request to `url` through, if any. It does not
    /// leave loopback out ([`is_loopback`]): a client built with `no_proxy`
    /// does.
    pub(crate) fn proxy_for(&self, url: &Url) -> Option<&ProxyVariable> {
        // The `Uri` reqwest makes of the URL.
        let uri = url.as_str().parse::<http::Uri>().ok()?;
        self.matcher.intercept(&uri)?;
        match url.scheme() {
            "http" => self.http.as_ref(),
            "https" => self.https.as_ref(),
            _ => None,
        }
    }
}

/// Whether reqwest takes `value` for a proxy: a URL (its scheme `http://`
/// when none is written) of scheme `http`, `https` or `socks*`, with a
/// host. Asked of hyper-util itself, which decides it.
fn names_a_proxy(value: &str) -> bool {
    Matcher::builder()
        .all(value)
        .build()
        .intercept(&http::Uri::from_static("http://collector/"))
        .is_some()
}

/// Whether `url`'s host is this machine's loopback
/// ([`otlp_sdk::config::is_loopback_host`], the rule both exporters share):
/// such an endpoint is reached directly, whatever `HTTP_PROXY`,
/// `HTTPS_PROXY`, `ALL_PROXY` (or their lowercase forms) name and whether
/// `NO_PROXY` lists it. Any other host goes through the proxy the
/// environment names, unless `NO_PROXY` lists it.
pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(environment: &[(&str, &str)]) -> EnvironmentProxies {
        EnvironmentProxies::read(|name| {
            environment
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    fn proxy_for(environment: &[(&str, &str)], url: &str) -> Option<String> {
        let url = Url::parse(url).unwrap();
        proxies(environment)
            .proxy_for(&url)
            .map(ToString::to_string)
    }

    /// Each scheme's variable, else `ALL_PROXY`, upper case before lower,
    /// as reqwest picks them; shown with the user-info redacted.
    #[test]
    fn the_proxy_for_a_url_is_the_one_reqwest_picks_and_hides_its_password() {
        let environment = [
            ("HTTP_PROXY", "http://user:pxs3cr3t@proxy.example:3128"),
            ("http_proxy", "http://lower.example:3128"),
            ("https_proxy", "proxy.example:3129"),
            ("ALL_PROXY", "socks5h://all.example:1080"),
        ];
        assert_eq!(
            proxy_for(&environment, "http://collector:4318/v1/traces").as_deref(),
            Some("the proxy http://<redacted>@proxy.example:3128 from HTTP_PROXY")
        );
        assert_eq!(
            proxy_for(&environment, "https://collector:4318/v1/traces").as_deref(),
            Some("the proxy proxy.example:3129 from https_proxy")
        );
        let all = [("all_proxy", "http://all.example:3128")];
        assert_eq!(
            proxy_for(&all, "https://collector/v1/traces").as_deref(),
            Some("the proxy http://all.example:3128 from all_proxy")
        );
        // A value that names no proxy reqwest could use: `ALL_PROXY` then.
        let unusable = [
            ("HTTP_PROXY", "ftp://proxy.example:21"),
            ("ALL_PROXY", "http://all.example:3128"),
        ];
        assert_eq!(
            proxy_for(&unusable, "http://collector/v1/traces").as_deref(),
            Some("the proxy http://all.example:3128 from ALL_PROXY")
        );
        assert_eq!(proxy_for(&[], "http://collector/v1/traces"), None);
        assert_eq!(
            proxy_for(
                &[("HTTPS_PROXY", "http://proxy.example:3128")],
                "http://collector/v1/traces"
            ),
            None
        );
    }

    /// `NO_PROXY` and a CGI request's `REQUEST_METHOD` leave the proxy out,
    /// as in reqwest; loopback is [`is_loopback`]'s to decide, not this.
    #[test]
    fn no_proxy_and_cgi_leave_the_proxy_out() {
        let proxy = ("ALL_PROXY", "http://proxy.example:3128");
        let listed = [proxy, ("no_proxy", "example.com,10.0.0.0/8")];
        assert_eq!(
            proxy_for(&listed, "https://otel.example.com/v1/traces"),
            None
        );
        assert_eq!(proxy_for(&listed, "http://10.9.8.7:4318/v1/traces"), None);
        assert!(proxy_for(&listed, "http://11.9.8.7:4318/v1/traces").is_some());
        assert_eq!(
            proxy_for(&[proxy, ("REQUEST_METHOD", "GET")], "http://collector/"),
            None
        );
        assert!(proxy_for(&[proxy], "http://127.0.0.1:4318/v1/traces").is_some());
    }
}
