//! [`GrpcExporterBuilder`]: every setting of the OTLP/gRPC exporter, from code
//! or from the typed configuration of `otlp-sdk`.

use std::fmt;
use std::time::Duration;

use http::Uri;
use otlp_sdk::Signal;
use otlp_sdk::config::{Compression, ExporterConfig, Protocol, REDACTED, TlsFile, redact_userinfo};
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::Endpoint;

use crate::basic_auth::basic_credentials;
use crate::coalesce::CoalescingConnector;
use crate::error::BuildError;
use crate::exporter::{ExporterParts, GrpcExporter};
use crate::proxy::ConnectProxy;
use crate::tls::{Pem, TlsSettings};
use crate::{DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, USER_AGENT};

/// Builds a [`GrpcExporter`]. Every setting has a default; [`build`](Self::build)
/// checks them all and names the one that is wrong.
///
/// | setting | default |
/// |---|---|
/// | [`endpoint`](Self::endpoint) | `http://localhost:4317` |
/// | [`timeout`](Self::timeout) | 10 s per export attempt (also the connect and TLS handshake timeout) |
/// | [`compression`](Self::compression) | none |
/// | [`header`](Self::header) | none |
/// | TLS | for `https://`: the roots enabled by cargo features, no client certificate |
/// | proxy | `HTTPS_PROXY` (or `https_proxy`) and `NO_PROXY` (or `no_proxy`) of the environment, read by [`build`](Self::build); never for loopback (see the [crate documentation](crate#proxies)) |
///
/// Building needs no tokio runtime and makes no connection; TLS files are read
/// and certificates parsed here, so that a bad one fails now, by name.
///
/// ```
/// use std::time::Duration;
/// use otlp_exporter_grpc::{Compression, GrpcExporter};
///
/// let exporter = GrpcExporter::builder()
///     .endpoint("http://collector.internal:4317")
///     .compression(Compression::Gzip)
///     .header("x-tenant", "checkout")
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(exporter.endpoint(), "http://collector.internal:4317");
///
/// // Errors name the setting.
/// let error = GrpcExporter::builder().endpoint("ftp://collector:21").build().unwrap_err();
/// assert!(error.to_string().contains("ftp://collector:21"));
/// # Ok::<(), otlp_exporter_grpc::BuildError>(())
/// ```
#[derive(Clone)]
pub struct GrpcExporterBuilder {
    endpoint: String,
    timeout: Duration,
    compression: Compression,
    headers: Vec<(String, String)>,
    tls: TlsSettings,
    signal: Signal,
}

impl Default for GrpcExporterBuilder {
    fn default() -> Self {
        GrpcExporterBuilder {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            compression: Compression::None,
            headers: Vec::new(),
            tls: TlsSettings::default(),
            signal: Signal::Traces,
        }
    }
}

impl fmt::Debug for GrpcExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcExporterBuilder")
            .field("endpoint", &without_user_info(&self.endpoint))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("tls", &self.tls)
            .field("signal", &self.signal)
            .finish()
    }
}

impl GrpcExporterBuilder {
    /// A builder with the defaults (see the table above).
    pub fn new() -> Self {
        GrpcExporterBuilder::default()
    }

    /// A builder holding everything an [`ExporterConfig`] says (and so the
    /// `OTEL_EXPORTER_OTLP_*` variables, through `otlp_sdk::config::ConfigLoader`):
    /// the traces endpoint after the specification's rules
    /// ([`ExporterConfig::traces_endpoint`]), timeout, compression, headers, and
    /// for an `https://` endpoint the CA certificate, client certificate and
    /// client key files, read now.
    ///
    /// For an `http://` endpoint the TLS files are ignored, as the specification
    /// says (the scheme wins). The configuration's protocol must be `grpc`.
    pub fn from_config(config: &ExporterConfig) -> Result<Self, BuildError> {
        Self::from_config_for(config, Signal::Traces)
    }

    /// [`from_config`](Self::from_config) for an exporter of `signal`: its
    /// endpoint after the specification's rules for that signal
    /// ([`ExporterConfig::endpoint_for`]). For logs, pass the logs section:
    /// `from_config_for(&config.logs.exporter, Signal::Logs)`; for metrics, the
    /// metrics section: `from_config_for(&config.metrics.exporter, Signal::Metrics)`.
    pub fn from_config_for(config: &ExporterConfig, signal: Signal) -> Result<Self, BuildError> {
        if config.protocol != Protocol::Grpc {
            return Err(BuildError::NotGrpc {
                protocol: config.protocol,
            });
        }
        let endpoint = config.endpoint_for(signal);
        let mut builder = GrpcExporterBuilder::new()
            .timeout(config.timeout)
            .compression(config.compression)
            .headers(config.headers.iter());
        // Trimmed as `parse_endpoint` trims it: an endpoint written with a
        // space before `https://` is TLS there, so its files are read here.
        let secure = endpoint
            .trim()
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        if secure {
            let tls = &config.tls;
            if let Some(path) = &tls.ca_certificate {
                builder.tls.ca = Some(Pem::read(TlsFile::Certificate.setting(signal), path)?);
            }
            builder.tls.identity = match (&tls.client_certificate, &tls.client_key) {
                (Some(certificate), Some(key)) => Some((
                    Pem::read(TlsFile::ClientCertificate.setting(signal), certificate)?,
                    Pem::read(TlsFile::ClientKey.setting(signal), key)?,
                )),
                (Some(_), None) => {
                    return Err(BuildError::IncompleteClientIdentity {
                        present: TlsFile::ClientCertificate.setting(signal),
                        missing: TlsFile::ClientKey.setting(signal),
                    });
                }
                (None, Some(_)) => {
                    return Err(BuildError::IncompleteClientIdentity {
                        present: TlsFile::ClientKey.setting(signal),
                        missing: TlsFile::ClientCertificate.setting(signal),
                    });
                }
                (None, None) => None,
            };
        }
        builder.endpoint = endpoint;
        builder.signal = signal;
        Ok(builder)
    }

    /// The signal this exporter sends (default traces): its requests go to
    /// `TraceService/Export`, `LogsService/Export` or `MetricsService/Export`
    /// ([`export_path`](crate::export_path)), and it serves a
    /// `BatchSpanProcessor`, a `BatchLogProcessor` or a metrics reader.
    pub fn signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// Where to send: `http://host:port` (plaintext, HTTP/2 with prior knowledge)
    /// or `https://host:port` (TLS). A path is ignored: the gRPC method path is fixed.
    /// A user name and password (`https://user:password@host:port`, percent-encoded)
    /// go with every request as HTTP Basic `authorization` metadata, as the HTTP
    /// exporter sends them, unless an `authorization` [`header`](Self::header) is
    /// set; they never show in errors or `Debug` output. An `@` after the host is
    /// refused: it is a password with an unencoded `/` (write `%2F`).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Timeout of one export attempt, sent to the server as `grpc-timeout` and
    /// enforced here; also bounds connecting and the TLS handshake. Default 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Request compression (`grpc-encoding`). Default none.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Adds a metadata entry sent with every request (`authorization`, API keys...),
    /// replacing an earlier one of the same name (one set in code after
    /// [`from_config`](Self::from_config) wins over the configuration's).
    /// Names are case-insensitive and sent in lowercase; values must be visible ASCII.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds several metadata entries (see [`header`](Self::header)).
    pub fn headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.headers.extend(
            headers
                .into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        self
    }

    /// Trusts only these PEM CA certificates (one or more) for `https://`
    /// endpoints, instead of the default roots. May be called several times,
    /// as the HTTP exporter's: every document given is trusted, with the CA
    /// file of the configuration, if any.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let pem = pem.into();
        self.tls.ca = Some(match self.tls.ca.take() {
            None => Pem::given("ca_certificate_pem", pem),
            Some(earlier) => earlier.followed_by("ca_certificate_pem", &pem),
        });
        self
    }

    /// Presents this client certificate (PEM chain) and private key (PEM:
    /// PKCS#8, PKCS#1 or SEC1) to the server: mutual TLS.
    pub fn client_identity_pem(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity = Some((
            Pem::given("client_identity_pem certificate", certificate_pem),
            Pem::given("client_identity_pem key", key_pem),
        ));
        self
    }

    /// Verifies the server certificate against this name (and sends it as SNI)
    /// instead of the endpoint's host.
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls.server_name = Some(name.into());
        self
    }

    /// Checks every setting and builds the exporter. No connection is made:
    /// the exporter connects on its first export, inside the runtime that runs it.
    ///
    /// The proxy variables are read here: a remote endpoint is reached
    /// through the `http://` proxy `HTTPS_PROXY` (or `https_proxy`) names,
    /// unless `NO_PROXY` (or `no_proxy`) lists it (see the
    /// [crate documentation](crate#proxies)). A proxy URL of another scheme
    /// (`socks5://`, `https://`) that applies to the endpoint is
    /// [`BuildError::InvalidProxy`].
    ///
    /// What rustls and tonic log while the TLS configuration is built (`log`
    /// records, `tracing` events) reaches no front door of otlp-rust: the
    /// build is the pipeline's own work ([`otlp_sdk::own_threads::as_own`]).
    pub fn build(self) -> Result<GrpcExporter, BuildError> {
        otlp_sdk::own_threads::as_own(|| self.build_here())
    }

    fn build_here(self) -> Result<GrpcExporter, BuildError> {
        if self.timeout.is_zero() {
            return Err(BuildError::InvalidTimeout);
        }
        let ParsedEndpoint {
            origin,
            secure,
            authorization,
        } = parse_endpoint(&self.endpoint)?;
        let shown_origin = origin.clone();
        let shown_endpoint = without_user_info(&self.endpoint);
        let invalid_endpoint = |reason: String| BuildError::InvalidEndpoint {
            endpoint: shown_endpoint.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(origin)
            .map_err(|error| invalid_endpoint(crate::classify::error_chain(&error)))?
            .user_agent(USER_AGENT)
            .map_err(|error| invalid_endpoint(error.to_string()))?
            .executor(OwnTasks);
        if secure {
            let tls = self.tls.client_config(self.timeout)?;
            endpoint = endpoint.tls_config(tls).map_err(|error| BuildError::Tls {
                what: "TLS configuration".into(),
                reason: crate::classify::error_chain(&error),
            })?;
        } else if let Some(setting) = self.tls.first_setting() {
            return Err(BuildError::TlsWithoutHttps {
                setting,
                endpoint: shown_endpoint,
            });
        }
        check_compression(self.compression)?;
        let proxy = ConnectProxy::from_environment(endpoint.uri())?;
        Ok(GrpcExporter::new(ExporterParts {
            endpoint,
            connector: CoalescingConnector::new(self.timeout, proxy),
            display_endpoint: shown_endpoint,
            shown_origin,
            metadata: metadata(&self.headers, authorization)?,
            compression: self.compression,
            timeout: self.timeout,
            signal: self.signal,
        }))
    }
}

/// Spawns the channel's tasks (its request buffer's worker, which connects,
/// and the HTTP/2 connection) on the current runtime, as tonic's default
/// executor does, each polled as a pipeline's own work
/// ([`otlp_sdk::own_threads::as_own_future`]): on a runtime that is not the
/// pipeline's own (an `otlp-contrib` adapter given the application's), what
/// tower, hyper-util and h2 record there reaches no front door. On the
/// pipeline's threads a poll costs one thread-local read more.
#[derive(Clone, Copy, Debug)]
struct OwnTasks;

impl<F> hyper::rt::Executor<F> for OwnTasks
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, task: F) {
        drop(tokio::spawn(otlp_sdk::own_threads::as_own_future(task)));
    }
}

/// `endpoint` as errors and `Debug` show it: everything before its last `@`
/// redacted. A gRPC endpoint has no path or query, so any `@` in it ends a
/// user-info, even one whose password holds an unencoded `/`, `?` or `#`
/// (which [`redact_userinfo`] cannot tell from a path, `user:1234/5678@…`
/// being a valid host, port and path to it).
fn without_user_info(endpoint: &str) -> String {
    let trimmed = endpoint.trim();
    let (scheme, rest) = match trimmed.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), trimmed),
    };
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}{REDACTED}@{host}"),
        None => redact_userinfo(endpoint),
    }
}

/// What an endpoint says: where to connect, and the user name and password
/// it may carry.
#[derive(Debug, PartialEq)]
struct ParsedEndpoint {
    /// `scheme://host:port`, without user name and password: what tonic
    /// connects to (and sends as `:authority`), safe for error messages.
    origin: String,
    /// `https`: TLS.
    secure: bool,
    /// The user name and password of the endpoint's user-info, as the value
    /// of an HTTP Basic `authorization` header (RFC 7617: percent-decoded,
    /// `user:password` in base64), marked sensitive.
    authorization: Option<AsciiMetadataValue>,
}

fn parse_endpoint(endpoint: &str) -> Result<ParsedEndpoint, BuildError> {
    let invalid = |reason: &str| BuildError::InvalidEndpoint {
        endpoint: without_user_info(endpoint),
        reason: reason.to_owned(),
    };
    let uri: Uri = endpoint
        .trim()
        .parse()
        .map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
    let secure = match uri.scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
        Some(_) => {
            return Err(invalid(
                "the scheme must be http:// (plaintext) or https:// (TLS)",
            ));
        }
        None => {
            return Err(invalid(
                "missing scheme: use http://host:port or https://host:port",
            ));
        }
    };
    let authority = uri
        .authority()
        .filter(|authority| !authority.host().is_empty())
        .ok_or_else(|| invalid("missing host"))?;
    let (user_info, host_port) = match authority.as_str().rsplit_once('@') {
        Some((user_info, host_port)) => (Some(user_info), host_port),
        None => (None, authority.as_str()),
    };
    // gRPC has no path or query of its own, so an `@` after the authority can
    // only end a user-info whose password holds an unencoded `/`, `?` or `#`
    // (`user:pa/ss@collector`; `user:1234/5678@collector`, which reads as
    // host `user`, port 1234): refused, shown with all of it redacted, rather
    // than naming its head as a port or connecting where it was not meant to.
    let after_authority = endpoint
        .find(authority.as_str())
        .map_or("", |start| &endpoint[start + authority.as_str().len()..]);
    if user_info.is_none() && after_authority.contains('@') {
        return Err(invalid(
            "an `@` after the host: a user name or password holding a `/`, `?` or `#` must \
             have them percent-encoded (`%2F`, `%3F`, `%23`)",
        ));
    }
    // `http::Uri` takes any run of digits as a port and reads one that is no
    // `u16` as none, so tonic would connect to the scheme's default port
    // (80, 443) instead: a mistyped port must be an error here.
    if let Some(port) = host_port
        .strip_prefix(authority.host())
        .and_then(|after| after.strip_prefix(':'))
        .filter(|port| !port.is_empty())
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(invalid(&format!(
            "port {port:?} is not a number from 1 to 65535"
        )));
    }
    if uri.query().is_some() {
        return Err(invalid("a gRPC endpoint has no query"));
    }
    // An empty user-info (`http://@host`, `http://:@host`) names nobody, as
    // reqwest reads it.
    let authorization = user_info
        .filter(|user_info| !matches!(*user_info, "" | ":"))
        .map(|user_info| {
            basic_authorization(user_info).ok_or_else(|| {
                invalid("its user name or password is not UTF-8 once percent-decoded")
            })
        })
        .transpose()?;
    let scheme = if secure { "https" } else { "http" };
    Ok(ParsedEndpoint {
        origin: format!("{scheme}://{host_port}"),
        secure,
        authorization,
    })
}

/// `Basic <base64 of user:password>` for a URL's user-info (`user` or
/// `user:password`, percent-encoded), marked sensitive; `None` when either
/// part is not UTF-8 once decoded.
fn basic_authorization(user_info: &str) -> Option<AsciiMetadataValue> {
    let mut value = AsciiMetadataValue::try_from(basic_credentials(user_info)?).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The metadata of every request: the configured headers, and the
/// endpoint's user name and password as HTTP Basic `authorization` unless a
/// header of that name is configured (as the HTTP exporter does).
fn metadata(
    headers: &[(String, String)],
    authorization: Option<AsciiMetadataValue>,
) -> Result<MetadataMap, BuildError> {
    let mut metadata = MetadataMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let invalid = |reason: &'static str| BuildError::InvalidHeader {
            name: name.clone(),
            reason,
        };
        let lowercase = name.to_ascii_lowercase();
        if lowercase.starts_with("grpc-") || matches!(lowercase.as_str(), "content-type" | "te") {
            return Err(invalid("reserved by the gRPC protocol"));
        }
        if lowercase.ends_with("-bin") {
            return Err(invalid("binary (-bin) metadata is not supported"));
        }
        let key = AsciiMetadataKey::from_bytes(name.as_bytes())
            .map_err(|_| invalid("not a valid metadata name (letters, digits, `-`, `_`, `.`)"))?;
        let value = AsciiMetadataValue::try_from(value.as_str())
            .map_err(|_| invalid("the value must be visible ASCII"))?;
        // The last value given for a name replaces the earlier ones.
        metadata.insert(key, value);
    }
    if let Some(authorization) = authorization
        && !metadata.contains_key("authorization")
    {
        metadata.insert("authorization", authorization);
    }
    Ok(metadata)
}

/// Refuses a compression whose cargo feature is off.
fn check_compression(compression: Compression) -> Result<(), BuildError> {
    match compression {
        Compression::None => Ok(()),
        #[cfg(feature = "gzip")]
        Compression::Gzip => Ok(()),
        #[cfg(not(feature = "gzip"))]
        Compression::Gzip => Err(BuildError::CompressionUnavailable {
            compression,
            feature: "gzip",
        }),
        #[cfg(feature = "zstd")]
        Compression::Zstd => Ok(()),
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd => Err(BuildError::CompressionUnavailable {
            compression,
            feature: "zstd",
        }),
    }
}

/// Where users start: [`GrpcExporter::builder`] and [`GrpcExporter::from_config`]
/// live here, beside the builder they return, so that the exporter's module
/// does not import this one.
impl GrpcExporter {
    /// A builder with the defaults: `http://localhost:4317`, 10 s timeout, no
    /// compression, no headers.
    pub fn builder() -> GrpcExporterBuilder {
        GrpcExporterBuilder::new()
    }

    /// The exporter an [`ExporterConfig`] describes (and so the
    /// `OTEL_EXPORTER_OTLP_*` variables). Reads the TLS files it names; errors
    /// name the configuration key and the file. See
    /// [`GrpcExporterBuilder::from_config`].
    ///
    /// ```
    /// use otlp_exporter_grpc::GrpcExporter;
    /// use otlp_sdk::config::{Compression, Config, Protocol};
    ///
    /// let mut config = Config::default();
    /// config.exporter.protocol = Protocol::Grpc;
    /// config.exporter.endpoint = Some("collector:4317".into()); // no scheme...
    /// config.exporter.tls.insecure = Some(true); // ...and insecure: plaintext
    /// config.exporter.compression = Compression::Zstd;
    /// let exporter = GrpcExporter::from_config(&config.exporter)?;
    /// assert_eq!(exporter.endpoint(), "http://collector:4317");
    /// # Ok::<(), otlp_exporter_grpc::BuildError>(())
    /// ```
    pub fn from_config(config: &ExporterConfig) -> Result<GrpcExporter, BuildError> {
        GrpcExporterBuilder::from_config(config)?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `error` shows the `s3cret` of the endpoint or key it was given
    /// neither in its message nor in its `Debug` output.
    fn assert_hides_the_secret(error: &BuildError) {
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
    }

    /// The build error of an endpoint that must be refused, with the
    /// endpoint as the error shows it and the reason.
    fn refused(endpoint: &str) -> (BuildError, String, String) {
        let error = GrpcExporter::builder()
            .endpoint(endpoint)
            .build()
            .expect_err(endpoint);
        let BuildError::InvalidEndpoint {
            endpoint: shown,
            reason,
        } = &error
        else {
            panic!("{endpoint}: {error}")
        };
        let (shown, reason) = (shown.clone(), reason.clone());
        (error, shown, reason)
    }

    /// The origin tonic connects to, and whether it is TLS.
    fn origin(endpoint: &str) -> (String, bool) {
        let parsed = parse_endpoint(endpoint).unwrap();
        (parsed.origin, parsed.secure)
    }

    /// The `authorization` value an endpoint's user-info makes.
    fn authorization(endpoint: &str) -> Option<String> {
        let parsed = parse_endpoint(endpoint).unwrap();
        parsed
            .authorization
            .map(|value| value.to_str().unwrap().to_owned())
    }

    #[test]
    fn endpoints_keep_scheme_and_authority_only() {
        assert_eq!(
            origin("http://127.0.0.1:4317"),
            ("http://127.0.0.1:4317".into(), false)
        );
        assert_eq!(
            origin("HTTPS://collector:443/v1/traces"),
            ("https://collector:443".into(), true)
        );
        assert_eq!(origin("http://[::1]:4317").0, "http://[::1]:4317");
        for bad in [
            "collector:4317",
            "ftp://collector",
            "http://",
            "http://host:4317/?a=b",
            "not a url",
        ] {
            assert!(
                matches!(parse_endpoint(bad), Err(BuildError::InvalidEndpoint { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_port_out_of_range_is_a_build_error_not_a_connection_to_port_80() {
        for (endpoint, port) in [
            ("http://127.0.0.1:99999", "99999"),
            ("https://collector:4317000/", "4317000"),
            ("http://[::1]:65536", "65536"),
            ("http://user@collector:0", "0"),
        ] {
            let (_, shown, reason) = refused(endpoint);
            assert_eq!(shown, without_user_info(endpoint));
            assert!(reason.contains(&format!("port \"{port}\"")), "{reason}");
        }
        // Every port a socket can have, and none (the scheme's default).
        for endpoint in [
            "http://127.0.0.1:1",
            "http://127.0.0.1:65535",
            "http://[::1]:4317",
            "https://collector",
            "https://collector:/",
        ] {
            assert!(parse_endpoint(endpoint).is_ok(), "{endpoint}");
        }
    }

    #[test]
    fn user_info_becomes_basic_authorization_and_leaves_the_origin() {
        assert_eq!(
            origin("https://user:pw@collector:4317"),
            ("https://collector:4317".into(), true)
        );
        // The credentials reqwest (the HTTP exporter) sends for the same URL:
        // user-info split at its first unencoded `:`, each part decoded.
        for (endpoint, expected) in [
            ("http://collector:4317", None),
            // RFC 7617's example, and the base64 of `user:pw`.
            (
                "http://Aladdin:open%20sesame@collector:4317",
                Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            ),
            ("http://user:pw@collector", Some("Basic dXNlcjpwdw==")),
            // `us@er` and `p:w`: the first unencoded `:` ends the user.
            ("http://us%40er:p%3Aw@collector", Some("Basic dXNAZXI6cDp3")),
            // A `%3A` stays in the user name: `us:er` and no password, or `pw`.
            ("http://us%3Aer@collector", Some("Basic dXM6ZXI6")),
            ("http://us%3Aer:pw@collector", Some("Basic dXM6ZXI6cHc=")),
            // A user name alone has an empty password.
            ("http://user@collector", Some("Basic dXNlcjo=")),
            ("http://user:@collector", Some("Basic dXNlcjo=")),
            // A password alone is sent with an empty user name; nothing
            // before the `@`, or only `:`, is no credentials.
            ("http://:pw@collector", Some("Basic OnB3")),
            ("http://@collector", None),
            ("http://:@collector", None),
        ] {
            assert_eq!(authorization(endpoint).as_deref(), expected, "{endpoint}");
        }
        assert_eq!(origin("http://@collector:4317").0, "http://collector:4317");
        assert_eq!(origin("http://:@collector:4317").0, "http://collector:4317");
        let parsed = parse_endpoint("http://user:pw@collector").unwrap();
        assert!(parsed.authorization.unwrap().is_sensitive());
    }

    #[test]
    fn user_info_that_is_not_utf8_is_a_build_error_that_hides_it() {
        let (error, _, reason) = refused("http://user:%FF%FE@collector:4317");
        assert!(reason.contains("not UTF-8"), "{reason}");
        assert!(!error.to_string().contains("%FF%FE"), "{error}");
    }

    #[test]
    fn a_password_in_the_endpoint_reaches_no_error_and_no_debug_output() {
        let builder = GrpcExporter::builder().endpoint("http://user:s3cret@collector:4317");
        assert!(!format!("{builder:?}").contains("s3cret"), "{builder:?}");
        let exporter = builder.build().expect("builds");
        assert!(!format!("{exporter:?}").contains("s3cret"), "{exporter:?}");
        assert_eq!(exporter.endpoint(), "http://<redacted>@collector:4317");
        for endpoint in [
            "http://user:s3cret@collector:0",
            "http://user:s3cret@collector:4317/?q",
            "ftp://user:s3cret@collector:4317",
        ] {
            let error = GrpcExporter::builder()
                .endpoint(endpoint)
                .build()
                .expect_err(endpoint);
            assert_hides_the_secret(&error);
        }
        let error = GrpcExporter::builder()
            .endpoint("http://user:s3cret@collector:4317")
            .ca_certificate_pem("not a certificate")
            .build()
            .expect_err("TLS settings for a plaintext endpoint");
        assert!(
            matches!(error, BuildError::TlsWithoutHttps { .. }),
            "{error}"
        );
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    /// The client key's setting may hold the key itself, pasted where its
    /// path goes: the file it names cannot be read, and neither the error's
    /// message nor its `Debug` output (what `main` returning the error
    /// prints) shows it, for every signal.
    #[test]
    fn a_client_key_that_cannot_be_read_reaches_no_error_and_no_debug_output() {
        let pasted_key = "-----BEGIN PRIVATE KEY-----\ns3cret\n-----END PRIVATE KEY-----";
        let exporter = ExporterConfig {
            endpoint: Some("https://collector:4317".into()),
            protocol: Protocol::Grpc,
            tls: otlp_sdk::config::TlsConfig {
                // A file that exists: the key is the one that cannot be read.
                client_certificate: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into()),
                client_key: Some(pasted_key.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            let error = GrpcExporterBuilder::from_config_for(&exporter, signal)
                .expect_err("the key cannot be read");
            assert!(
                matches!(&error, BuildError::ReadFile { key, .. } if key.contains("CLIENT_KEY")),
                "{error}"
            );
            assert_hides_the_secret(&error);
        }
    }

    /// gRPC has no path or query: an `@` after the host ends a password
    /// holding an unencoded `/`, `?` or `#`, whose head reads as a port (or,
    /// all digits, is one: `user:1234/…` would connect to host `user`). The
    /// endpoint is refused, shown with all of its user-info redacted.
    #[test]
    fn an_at_after_the_host_is_a_password_cut_short_refused_without_showing_it() {
        for endpoint in [
            "http://user:s3cret/x@collector:4317",
            "http://user:s3cret?x@collector:4317",
            "http://user:s3cret#x@collector:4317",
            "http://user:1234/s3cret@collector:4317",
            "https://user:1234/s3cret@collector",
            "http://user:1234/a/s3cret@collector:4317/v1/traces",
        ] {
            let builder = GrpcExporter::builder().endpoint(endpoint);
            assert!(!format!("{builder:?}").contains("s3cret"), "{builder:?}");
            let (error, shown, reason) = refused(endpoint);
            assert!(reason.contains("percent-encode"), "{reason}");
            assert!(reason.contains("%2F"), "{reason}");
            assert!(shown.starts_with("http"), "{shown}");
            assert!(shown.contains("<redacted>@collector"), "{shown}");
            assert_hides_the_secret(&error);
            assert!(!error.to_string().contains("1234"), "{error}");
        }
        // A port that is no port, with no `@` after it, is still named; a
        // path without `@` is ignored, as before; a password with its `/`
        // encoded is a password.
        let error = GrpcExporter::builder()
            .endpoint("http://collector:43l7/x")
            .build()
            .expect_err("a bad port");
        assert!(error.to_string().contains("port \"43l7\""), "{error}");
        assert!(parse_endpoint("http://collector:4317/v1/traces").is_ok());
        assert_eq!(
            origin("http://user:1234%2Fs3cret@collector:4317").0,
            "http://collector:4317"
        );
    }

    #[test]
    fn a_configured_authorization_header_wins_over_user_info() {
        let authorization = parse_endpoint("http://user:pw@collector")
            .unwrap()
            .authorization;
        let configured = metadata(
            &[("Authorization".into(), "Bearer t0k3n".into())],
            authorization.clone(),
        )
        .unwrap();
        assert_eq!(configured.get_all("authorization").iter().count(), 1);
        assert_eq!(configured.get("authorization").unwrap(), "Bearer t0k3n");
        let other = metadata(&[("x-tenant".into(), "a".into())], authorization).unwrap();
        assert_eq!(other.get("authorization").unwrap(), "Basic dXNlcjpwdw==");
    }

    #[test]
    fn headers_become_lowercase_metadata_the_last_value_wins_and_bad_ones_are_named() {
        let map = metadata(
            &[
                ("X-Api-Key".into(), "s3cr3t".into()),
                ("x-api-key".into(), "two".into()),
            ],
            None,
        )
        .unwrap();
        let values: Vec<_> = map
            .get_all("x-api-key")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(values, ["two"], "the later entry replaces the earlier one");

        for (name, value) in [
            ("grpc-timeout", "1S"),
            ("content-type", "text/plain"),
            ("key-bin", "AAAA"),
            ("bad name", "x"),
            ("x-ok", "line\nbreak"),
        ] {
            match metadata(&[(name.into(), value.into())], None) {
                Err(error @ BuildError::InvalidHeader { .. }) => {
                    let text = error.to_string();
                    assert!(text.contains(name), "{text}");
                    assert!(!text.contains(value), "values are never shown: {text}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn zero_timeout_is_rejected() {
        let error = GrpcExporterBuilder::new()
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(matches!(error, BuildError::InvalidTimeout));
    }

    #[test]
    fn tls_settings_with_a_plaintext_endpoint_are_rejected() {
        let error = GrpcExporterBuilder::new()
            .endpoint("http://127.0.0.1:4317")
            .ca_certificate_pem("whatever")
            .build()
            .unwrap_err();
        assert!(
            matches!(
                error,
                BuildError::TlsWithoutHttps {
                    setting: "ca_certificate",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn a_ca_that_is_not_pem_is_named() {
        let error = GrpcExporterBuilder::new()
            .endpoint("https://127.0.0.1:4317")
            .ca_certificate_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("ca_certificate_pem"), "{error}");
    }

    #[test]
    fn from_config_requires_the_grpc_protocol_and_both_identity_files() {
        let mut config = ExporterConfig::default();
        assert!(matches!(
            GrpcExporterBuilder::from_config(&config),
            Err(BuildError::NotGrpc {
                protocol: Protocol::HttpProtobuf
            })
        ));
        config.protocol = Protocol::Grpc;
        config.endpoint = Some("https://collector:4317".into());
        config.tls.client_certificate = Some("/nonexistent/client.pem".into());
        let error = GrpcExporterBuilder::from_config(&config).unwrap_err();
        assert!(
            matches!(error, BuildError::IncompleteClientIdentity { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("exporter.client_key"), "{error}");

        config.tls.client_certificate = None;
        config.tls.ca_certificate = Some("/nonexistent/ca.pem".into());
        let error = GrpcExporterBuilder::from_config(&config).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && text.contains("/nonexistent/ca.pem"),
            "{text}"
        );

        // A space before the scheme: still TLS, its CA still read (it was
        // left out, the connection verified against the default roots).
        config.endpoint = Some(" \thttps://collector:4317".into());
        let error = GrpcExporterBuilder::from_config(&config).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");

        // The scheme wins: TLS files are not read for a plaintext endpoint.
        config.endpoint = Some("http://collector:4317".into());
        let exporter = GrpcExporterBuilder::from_config(&config)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(exporter.endpoint(), "http://collector:4317");

        // No scheme: `insecure` decides.
        config.endpoint = Some("collector:4317".into());
        config.tls.ca_certificate = None;
        config.tls.insecure = Some(true);
        let builder = GrpcExporterBuilder::from_config(&config).unwrap();
        assert_eq!(builder.endpoint, "http://collector:4317");
    }
}
