//! When the proxy the environment names is left out: a collector on this
//! machine's loopback is reached directly ([`is_loopback`]), by the plain
//! `http://` connections and by the reqwest client alike.

use std::net::IpAddr;

use reqwest::Url;

/// Whether `url`'s host is this machine's loopback: `localhost` (with or
/// without the trailing dot of a fully qualified name, in any case), an
/// address in `127.0.0.0/8`, `::1`, or an IPv4-mapped `127.0.0.0/8`.
///
/// Such an endpoint is reached directly, whatever `HTTP_PROXY`,
/// `HTTPS_PROXY`, `ALL_PROXY` (or their lowercase forms) name and whether
/// `NO_PROXY` lists it: a proxy on another machine would connect to its own
/// loopback, not to the collector beside the application. Go's `net/http`
/// (so the Collector and the Go exporters) and the JDK's default
/// `http.nonProxyHosts` exempt loopback the same way; reqwest and curl do
/// not. Any other host goes through the proxy the environment names, unless
/// `NO_PROXY` lists it.
pub(crate) fn is_loopback(url: &Url) -> bool {
    // An IPv6 address is bracketed in the URL.
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(address)) => address.is_loopback(),
        Ok(IpAddr::V6(address)) => {
            address.is_loopback()
                || address
                    .to_ipv4_mapped()
                    .is_some_and(|mapped| mapped.is_loopback())
        }
        Err(_) => host
            .strip_suffix('.')
            .unwrap_or(host)
            .eq_ignore_ascii_case("localhost"),
    }
}
