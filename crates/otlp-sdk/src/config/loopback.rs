//! [`is_loopback_host`]: which endpoints the exporters reach directly,
//! whatever proxy the environment names.

use std::net::IpAddr;

/// Whether `host` (an endpoint URL's host; an IPv6 address with or without
/// its brackets) is this machine's loopback: `localhost` (with or without
/// the trailing dot of a fully qualified name, in any case), an address in
/// `127.0.0.0/8`, `::1`, or an IPv4-mapped `127.0.0.0/8`.
///
/// Both exporters reach such an endpoint directly, whatever the proxy
/// variables say and whether `NO_PROXY` lists it: a proxy on another
/// machine would connect to its own loopback, not to the collector beside
/// the application. Go's `net/http` (so the Collector and grpc-go) and the
/// JDK's default `http.nonProxyHosts` leave loopback out the same way;
/// reqwest and curl do not. One rule, here, so that the two exporters
/// cannot disagree about it.
///
/// ```
/// use otlp_sdk::config::is_loopback_host;
///
/// for host in ["localhost", "LocalHost.", "127.0.0.1", "127.3.2.1", "[::1]", "::1", "[::ffff:127.0.0.1]"] {
///     assert!(is_loopback_host(host), "{host}");
/// }
/// for host in ["collector", "localhost.example", "10.0.0.1", "[::2]", "0.0.0.0", ""] {
///     assert!(!is_loopback_host(host), "{host}");
/// }
/// ```
pub fn is_loopback_host(host: &str) -> bool {
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
