//! [`HttpExporterBuilder`]: every setting of an [`HttpExporter`], validated once in `build`.

use std::fmt;
use std::time::Duration;

use otlp_core::encode::Encoding;
use otlp_sdk::Signal;
use otlp_sdk::config::{Compression, ExporterConfig, Headers, Protocol, TlsFile, redact_userinfo};
use percent_encoding::percent_decode_str;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::client::{ClientRecipe, USER_AGENT};
use crate::error::HttpExporterError;
use crate::exporter::{HttpExporter, Settings};
use crate::plain::PlainConnections;
use crate::proxy::EnvironmentProxies;
use crate::tls::{self, Pem, TlsMaterial};

/// Headers the exporter sets itself; configuring them is an error.
const RESERVED_HEADERS: [&str; 5] = [
    "content-type",
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "host",
];

/// Builds an [`HttpExporter`]. Every setting has a default: protobuf bodies
/// to `http://localhost:4318/v1/traces`, no compression, no extra headers, a
/// 10 s per-attempt timeout, the system's root certificates for `https://`.
///
/// Nothing is checked until [`build`](Self::build), which validates every
/// setting and returns an [`HttpExporterError`] naming the bad one.
///
/// ```
/// use std::time::Duration;
/// use otlp_exporter_http::HttpExporter;
/// use otlp_sdk::config::{Compression, Protocol};
///
/// # #[cfg(feature = "gzip")] {
/// let exporter = HttpExporter::builder()
///     .endpoint("http://collector:4318")
///     .protocol(Protocol::HttpJson)
///     .compression(Compression::Gzip)
///     .header("x-api-key", "s3cr3t")
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(exporter.url(), "http://collector:4318/v1/traces");
/// # }
/// # Ok::<(), otlp_exporter_http::HttpExporterError>(())
/// ```
#[derive(Clone)]
pub struct HttpExporterBuilder {
    endpoint: Option<String>,
    traces_endpoint: Option<String>,
    logs_endpoint: Option<String>,
    metrics_endpoint: Option<String>,
    signal: Signal,
    protocol: Protocol,
    compression: Compression,
    headers: Headers,
    timeout: Duration,
    tls: TlsMaterial,
}

impl Default for HttpExporterBuilder {
    fn default() -> Self {
        let defaults = ExporterConfig::default();
        HttpExporterBuilder {
            endpoint: None,
            traces_endpoint: None,
            logs_endpoint: None,
            metrics_endpoint: None,
            signal: Signal::Traces,
            protocol: Protocol::HttpProtobuf,
            compression: defaults.compression,
            headers: defaults.headers,
            timeout: defaults.timeout,
            tls: TlsMaterial::default(),
        }
    }
}

impl fmt::Debug for HttpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // User-info (a user name and password) never shows.
        let shown = |endpoint: &Option<String>| endpoint.as_deref().map(redact_userinfo);
        f.debug_struct("HttpExporterBuilder")
            .field("endpoint", &shown(&self.endpoint))
            .field("traces_endpoint", &shown(&self.traces_endpoint))
            .field("logs_endpoint", &shown(&self.logs_endpoint))
            .field("metrics_endpoint", &shown(&self.metrics_endpoint))
            .field("signal", &self.signal)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl HttpExporterBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        HttpExporterBuilder::default()
    }

    /// A builder holding the exporter section of a loaded
    /// [`Config`](otlp_sdk::config::Config) (so the `OTEL_EXPORTER_OTLP_*`
    /// variables too), ready for further changes in code: the traces
    /// exporter, [`from_config_for`](Self::from_config_for)`(config,
    /// Signal::Traces)`.
    pub fn from_config(config: &ExporterConfig) -> Result<Self, HttpExporterError> {
        Self::from_config_for(config, Signal::Traces)
    }

    /// A builder for an exporter of `signal` holding the exporter section of
    /// a loaded [`Config`](otlp_sdk::config::Config): for logs pass
    /// `&config.logs.exporter`, for metrics `&config.metrics.exporter`, for
    /// traces `&config.exporter`. Reads the PEM files named in
    /// [`TlsConfig`](otlp_sdk::config::TlsConfig) now; an unreadable file, or
    /// a client certificate without its key (or the reverse), is an error
    /// naming the file, the section's key and the variables that set it
    /// (`logs.exporter.certificate` and `OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE
    /// or OTEL_EXPORTER_OTLP_CERTIFICATE` for logs). The files are read for
    /// an `http://` endpoint too: its `307`/`308` redirects to `https` are
    /// verified with them. `tls.insecure` only concerns gRPC and is ignored.
    pub fn from_config_for(
        config: &ExporterConfig,
        signal: Signal,
    ) -> Result<Self, HttpExporterError> {
        let tls = &config.tls;
        let ca_certificates = match &tls.ca_certificate {
            Some(path) => vec![Pem::read_file(TlsFile::Certificate.setting(signal), path)?],
            None => Vec::new(),
        };
        let client_identity = match (&tls.client_certificate, &tls.client_key) {
            (Some(certificate), Some(key)) => Some((
                Pem::read_file(TlsFile::ClientCertificate.setting(signal), certificate)?,
                Pem::read_file(TlsFile::ClientKey.setting(signal), key)?,
            )),
            (Some(_), None) => {
                return Err(HttpExporterError::IncompleteClientIdentity {
                    present: TlsFile::ClientCertificate.setting(signal),
                    missing: TlsFile::ClientKey.setting(signal),
                });
            }
            (None, Some(_)) => {
                return Err(HttpExporterError::IncompleteClientIdentity {
                    present: TlsFile::ClientKey.setting(signal),
                    missing: TlsFile::ClientCertificate.setting(signal),
                });
            }
            (None, None) => None,
        };
        Ok(HttpExporterBuilder {
            endpoint: config.endpoint.clone(),
            traces_endpoint: config.traces_endpoint.clone(),
            logs_endpoint: config.logs_endpoint.clone(),
            metrics_endpoint: config.metrics_endpoint.clone(),
            signal,
            protocol: config.protocol,
            compression: config.compression,
            headers: config.headers.clone(),
            timeout: config.timeout,
            tls: TlsMaterial {
                ca_certificates,
                client_identity,
            },
        })
    }

    /// The base URL for all signals, like `OTEL_EXPORTER_OTLP_ENDPOINT`:
    /// `v1/traces` is appended (`http://collector:4318` sends to
    /// `http://collector:4318/v1/traces`). Default `http://localhost:4318`.
    ///
    /// A user name and password in any endpoint (`https://user:password@host`,
    /// percent-encoded) go with every request as HTTP Basic `authorization`,
    /// unless an `authorization` [`header`](Self::header) is set, which is then
    /// the only one sent; they never show in errors or `Debug` output.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The full traces URL, used exactly as given, like
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. Wins over [`endpoint`](Self::endpoint).
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces_endpoint = Some(url.into());
        self
    }

    /// The full logs URL, used exactly as given, like
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`. Wins over [`endpoint`](Self::endpoint)
    /// for a logs exporter.
    pub fn logs_endpoint(mut self, url: impl Into<String>) -> Self {
        self.logs_endpoint = Some(url.into());
        self
    }

    /// The full metrics URL, used exactly as given, like
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`. Wins over
    /// [`endpoint`](Self::endpoint) for a metrics exporter.
    pub fn metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metrics_endpoint = Some(url.into());
        self
    }

    /// The signal this exporter sends (default traces): `v1/logs` is
    /// appended to the base endpoint for [`Signal::Logs`], and the exporter
    /// serves a [`BatchLogProcessor`](otlp_sdk::BatchLogProcessor);
    /// `v1/metrics` for [`Signal::Metrics`], for a metrics reader.
    /// From a configuration, [`from_config_for`](Self::from_config_for) takes
    /// the signal with its section:
    /// `from_config_for(&config.logs.exporter, Signal::Logs)`.
    pub fn signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// `http/protobuf` (the default) or `http/json`. [`Protocol::Grpc`] makes
    /// [`build`](Self::build) fail: gRPC is `otlp-exporter-grpc`.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The body encoding: the same choice as [`protocol`](Self::protocol),
    /// named after the body (`Protobuf` is `http/protobuf`, `Json` is `http/json`).
    pub fn encoding(self, encoding: Encoding) -> Self {
        self.protocol(match encoding {
            Encoding::Protobuf => Protocol::HttpProtobuf,
            Encoding::Json => Protocol::HttpJson,
        })
    }

    /// Request body compression (default none). gzip and zstd each need their
    /// cargo feature (both on by default).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Adds a header to every request, replacing an earlier one of the same
    /// (case-insensitive) name. Values are marked sensitive: HTTP/2 never
    /// indexes them and `Debug` output hides them.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds every header of `headers`, as [`header`](Self::header) does.
    pub fn headers(mut self, headers: &Headers) -> Self {
        for (name, value) in headers.iter() {
            self.headers.insert(name, value);
        }
        self
    }

    /// The timeout of one export attempt, from connecting to the last byte of
    /// the response (default 10 s, like `OTEL_EXPORTER_OTLP_TIMEOUT`). The
    /// pipeline's own attempt timeout and total deadline apply as well.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the CA certificate(s) in this PEM document, instead of the
    /// system's roots. May be called several times; each document may hold a
    /// bundle, of which certificates webpki cannot read are skipped as long
    /// as one is usable ([`build`](Self::build) fails otherwise).
    pub fn ca_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.tls
            .ca_certificates
            .push(Pem::from_method("ca_certificate_pem", pem.as_ref()));
        self
    }

    /// Presents this client certificate (chain, PEM) and private key (PEM:
    /// PKCS#8, PKCS#1 or SEC1) to servers that ask for one (mTLS).
    pub fn client_identity_pem(
        mut self,
        certificate_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Self {
        self.tls.client_identity = Some((
            Pem::from_method(
                "client_identity_pem (certificate)",
                certificate_pem.as_ref(),
            ),
            Pem::from_method("client_identity_pem (key)", key_pem.as_ref()),
        ));
        self
    }

    /// The URL requests go to, per the specification's endpoint rules.
    fn url(&self) -> Result<Url, HttpExporterError> {
        let endpoint = ExporterConfig {
            endpoint: self.endpoint.clone(),
            traces_endpoint: self.traces_endpoint.clone(),
            logs_endpoint: self.logs_endpoint.clone(),
            metrics_endpoint: self.metrics_endpoint.clone(),
            protocol: self.protocol,
            ..ExporterConfig::default()
        }
        .endpoint_for(self.signal);
        let invalid = |reason: String| HttpExporterError::InvalidEndpoint {
            endpoint: redact_userinfo(&endpoint),
            reason,
        };
        let own = match self.signal {
            Signal::Traces => &self.traces_endpoint,
            Signal::Logs => &self.logs_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            _ => &None,
        };
        if own.is_none()
            && let Some(base) = &self.endpoint
            && base.contains(['?', '#'])
        {
            // `/v1/<signal>` would land in the query or fragment.
            return Err(invalid(format!(
                "a base endpoint cannot have a query or fragment, because v1/{} is appended to \
                 its path (give the signal's own endpoint as a complete URL)",
                self.signal.as_str()
            )));
        }
        let url = Url::parse(&endpoint).map_err(|error| invalid(error.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            // What the parser reads as the scheme of `user:password@host`
            // is the user name: a scheme is named only when `://` follows it.
            let written = endpoint
                .split_once("://")
                .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(url.scheme()));
            return Err(invalid(if written {
                format!(
                    "the scheme must be `http` or `https`, not `{}`",
                    url.scheme()
                )
            } else {
                "the scheme must be `http://` or `https://`, written before the host".to_owned()
            }));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host".to_owned()));
        }
        // reqwest sends the user name and password as Basic authorization,
        // and silently none when they are not UTF-8 once decoded.
        if [url.username(), url.password().unwrap_or("")]
            .into_iter()
            .any(|part| percent_decode_str(part).decode_utf8().is_err())
        {
            return Err(invalid(
                "its user name or password is not UTF-8 once percent-decoded".to_owned(),
            ));
        }
        // Nothing listens on port 0: every export would fail to connect.
        if url.port() == Some(0) {
            return Err(invalid(
                "port 0 is not a port a collector listens on".to_owned(),
            ));
        }
        Ok(url)
    }

    fn header_map(&self) -> Result<HeaderMap, HttpExporterError> {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in self.headers.iter() {
            let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                HttpExporterError::InvalidHeaderName {
                    name: name.to_owned(),
                }
            })?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(HttpExporterError::ReservedHeader {
                    name: header.as_str().to_owned(),
                });
            }
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                HttpExporterError::InvalidHeaderValue {
                    name: name.to_owned(),
                }
            })?;
            value.set_sensitive(true);
            map.insert(header, value);
        }
        Ok(map)
    }

    /// Validates every setting and builds the exporter with its connection
    /// pool. Needs no async runtime; the exporter's requests do (the
    /// pipeline's export loop provides one).
    ///
    /// What rustls, the platform verifier and reqwest log meanwhile (reading
    /// the system's roots for an `https://` endpoint, say) reaches no front
    /// door of otlp-rust: the build is the pipeline's own work
    /// ([`otlp_sdk::own_threads::as_own`]).
    pub fn build(self) -> Result<HttpExporter, HttpExporterError> {
        otlp_sdk::own_threads::as_own(|| self.build_here())
    }

    fn build_here(self) -> Result<HttpExporter, HttpExporterError> {
        if self.protocol == Protocol::Grpc {
            return Err(HttpExporterError::UnsupportedProtocol(self.protocol));
        }
        if !otlp_sdk::compression::is_available(self.compression) {
            return Err(HttpExporterError::CompressionUnavailable(self.compression));
        }
        if self.timeout.is_zero() {
            return Err(HttpExporterError::ZeroTimeout);
        }
        let mut url = self.url()?;
        let headers = self.header_map()?;
        // The URL's user name and password go as HTTP Basic `authorization`
        // (reqwest sends them), unless that header is configured: then it is
        // the one sent, alone.
        if headers.contains_key(AUTHORIZATION) {
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        let tls = tls::client_config(&self.tls, &url)?;
        // Read as reqwest's client reads them, at the same moment.
        let proxies = EnvironmentProxies::from_env();
        let plain = PlainConnections::for_url(&url, USER_AGENT, &headers, &proxies);
        let recipe = ClientRecipe {
            tls,
            headers: headers.clone(),
            timeout: self.timeout,
            direct: crate::proxy::is_loopback(&url),
        };
        let client = recipe.build()?;
        let settings = Settings {
            client_recipe: recipe,
            url,
            encoding: self.protocol.encoding(),
            signal: self.signal,
            compression: self.compression,
            timeout: self.timeout,
            plain,
            proxies,
            header_names: headers
                .keys()
                .map(|name| name.as_str().to_owned())
                .collect(),
        };
        Ok(HttpExporter::new(settings, client))
    }
}

/// Where users start: [`HttpExporter::builder`] and [`HttpExporter::from_config`]
/// live here, beside the builder they return, so that the exporter's module
/// does not import this one.
impl HttpExporter {
    /// Starts building an exporter; see [`HttpExporterBuilder`].
    pub fn builder() -> HttpExporterBuilder {
        HttpExporterBuilder::new()
    }

    /// An exporter from the exporter section of a loaded
    /// [`Config`](otlp_sdk::config::Config), so from the
    /// `OTEL_EXPORTER_OTLP_*` variables too. Shorthand for
    /// [`HttpExporterBuilder::from_config`] then [`build`](HttpExporterBuilder::build).
    ///
    /// ```
    /// use otlp_exporter_http::HttpExporter;
    /// use otlp_sdk::config::{Config, Protocol};
    ///
    /// let mut config = Config::default();
    /// config.exporter.endpoint = Some("http://collector:4318".into());
    /// config.exporter.protocol = Protocol::HttpJson;
    /// let exporter = HttpExporter::from_config(&config.exporter)?;
    /// assert_eq!(exporter.url(), "http://collector:4318/v1/traces");
    /// # Ok::<(), otlp_exporter_http::HttpExporterError>(())
    /// ```
    pub fn from_config(config: &ExporterConfig) -> Result<Self, HttpExporterError> {
        HttpExporterBuilder::from_config(config)?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `error` shows the `s3cret` of the endpoint or key it was given
    /// neither in its message nor in its `Debug` output.
    fn assert_hides_the_secret(error: &HttpExporterError) {
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
    }

    #[test]
    fn endpoint_rules_follow_the_specification() {
        let url = |builder: HttpExporterBuilder| builder.url().unwrap().to_string();
        assert_eq!(
            url(HttpExporterBuilder::new()),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            url(HttpExporterBuilder::new().endpoint("http://collector:4318")),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url(HttpExporterBuilder::new().endpoint("https://collector:4318/")),
            "https://collector:4318/v1/traces"
        );
        assert_eq!(
            url(HttpExporterBuilder::new().endpoint("http://gateway/otlp")),
            "http://gateway/otlp/v1/traces"
        );
        // A per-signal endpoint is used as given, and wins.
        assert_eq!(
            url(HttpExporterBuilder::new()
                .endpoint("http://ignored:1")
                .traces_endpoint("https://ingest.example.com/custom/path")),
            "https://ingest.example.com/custom/path"
        );
        assert_eq!(
            url(HttpExporterBuilder::new().traces_endpoint("http://collector:4318")),
            "http://collector:4318/"
        );
    }

    #[test]
    fn bad_endpoints_are_errors_naming_the_url() {
        for (endpoint, reason) in [
            ("collector:4318", "scheme"),
            ("ftp://collector", "scheme"),
            ("not a url", "relative URL"),
            ("http://", "host"),
            ("http://collector:0", "port 0"),
            ("http://collector:65536", "invalid port"),
        ] {
            let error = HttpExporterBuilder::new()
                .traces_endpoint(endpoint)
                .build()
                .unwrap_err();
            let HttpExporterError::InvalidEndpoint {
                endpoint: named, ..
            } = &error
            else {
                panic!("{endpoint}: {error}")
            };
            assert_eq!(named, endpoint);
            assert!(error.to_string().contains(reason), "{endpoint}: {error}");
        }
    }

    /// The client key's setting may hold the key itself, pasted where its
    /// path goes: the file it names cannot be read, and neither the error's
    /// message nor its `Debug` output (what `main` returning the error
    /// prints) shows it, for every signal.
    #[test]
    fn a_client_key_that_cannot_be_read_reaches_no_error_and_no_debug_output() {
        let pasted_key = "-----BEGIN PRIVATE KEY-----\ns3cret\n-----END PRIVATE KEY-----";
        let exporter = ExporterConfig {
            endpoint: Some("https://collector:4318".into()),
            tls: otlp_sdk::config::TlsConfig {
                // A file that exists: the key is the one that cannot be read.
                client_certificate: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into()),
                client_key: Some(pasted_key.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            let error = HttpExporterBuilder::from_config_for(&exporter, signal)
                .expect_err("the key cannot be read");
            assert!(
                matches!(&error, HttpExporterError::ReadFile { key, .. } if key.contains("CLIENT_KEY")),
                "{error}"
            );
            assert_hides_the_secret(&error);
        }
    }

    /// Without `://`, what the URL parser reads as the scheme of
    /// `user:password@host` is the user name (a token, often): the error
    /// names no scheme then. A scheme written with `://` is named.
    #[test]
    fn an_endpoint_without_a_scheme_shows_no_part_of_its_user_info() {
        for endpoint in [
            "s3cret:x@collector:4318",
            "s3cret:x@collector:4318/v1/traces",
            "s3cret:@://collector:4318",
        ] {
            let error = HttpExporterBuilder::new()
                .traces_endpoint(endpoint)
                .build()
                .expect_err(endpoint);
            assert!(
                matches!(&error, HttpExporterError::InvalidEndpoint { .. }),
                "{error}"
            );
            assert_hides_the_secret(&error);
        }
        let error = HttpExporterBuilder::new()
            .traces_endpoint("ftp://collector:4318")
            .build()
            .expect_err("ftp");
        assert!(error.to_string().contains("not `ftp`"), "{error}");
    }

    #[test]
    fn a_password_in_the_endpoint_reaches_no_error_and_no_debug_output() {
        let builder = HttpExporterBuilder::new()
            .endpoint("http://user:s3cret@collector:4318")
            .traces_endpoint("http://user:s3cret@collector:4318/v1/traces")
            .logs_endpoint("http://user:s3cret@collector:4318/v1/logs")
            .metrics_endpoint("http://user:s3cret@collector:4318/v1/metrics");
        assert!(!format!("{builder:?}").contains("s3cret"), "{builder:?}");
        let exporter = builder.build().expect("builds");
        assert!(!format!("{exporter:?}").contains("s3cret"), "{exporter:?}");
        for endpoint in [
            "http://user:s3cret@collector:0",
            "ftp://user:s3cret@collector:4318",
            "http://user:s3cret@collector:65536",
        ] {
            let error = HttpExporterBuilder::new()
                .traces_endpoint(endpoint)
                .build()
                .unwrap_err();
            assert!(
                matches!(&error, HttpExporterError::InvalidEndpoint { .. }),
                "{error}"
            );
            assert_hides_the_secret(&error);
        }
        let error = HttpExporterBuilder::new()
            .endpoint("http://user:s3cret@collector:4318?q")
            .build()
            .unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn user_info_that_is_not_utf8_is_an_error_that_hides_it() {
        for endpoint in [
            "http://user:%FF%FE@collector:4318",
            "http://%FF%FE@collector",
        ] {
            let error = HttpExporterBuilder::new()
                .endpoint(endpoint)
                .build()
                .expect_err(endpoint);
            assert!(
                matches!(&error, HttpExporterError::InvalidEndpoint { .. }),
                "{error}"
            );
            assert!(error.to_string().contains("not UTF-8"), "{error}");
            assert!(!error.to_string().contains("%FF%FE"), "{error}");
        }
    }

    #[test]
    fn a_base_endpoint_with_a_query_is_refused_and_a_signal_endpoint_is_used_as_given() {
        for base in ["http://gw/otlp?tenant=a", "http://gw/otlp#part"] {
            let error = HttpExporterBuilder::new()
                .endpoint(base)
                .build()
                .unwrap_err();
            assert!(
                matches!(&error, HttpExporterError::InvalidEndpoint { .. })
                    && error.to_string().contains("query or fragment"),
                "{base}: {error}"
            );
        }
        let given = HttpExporterBuilder::new()
            .endpoint("http://gw/otlp?tenant=a")
            .traces_endpoint("http://gw/otlp/v1/traces?tenant=a");
        assert_eq!(
            given.url().unwrap().as_str(),
            "http://gw/otlp/v1/traces?tenant=a"
        );
    }

    #[test]
    fn grpc_is_not_this_crate() {
        let error = HttpExporterBuilder::new()
            .protocol(Protocol::Grpc)
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            HttpExporterError::UnsupportedProtocol(Protocol::Grpc)
        ));
        assert!(error.to_string().contains("otlp-exporter-grpc"));
    }

    #[test]
    fn header_errors_name_the_header_not_the_value() {
        let error = HttpExporterBuilder::new()
            .header("bad name", "x")
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, HttpExporterError::InvalidHeaderName { name } if name == "bad name")
        );
        let error = HttpExporterBuilder::new()
            .header("authorization", "Bearer s3cr3t\n")
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, HttpExporterError::InvalidHeaderValue { name } if name == "authorization")
        );
        assert!(!error.to_string().contains("s3cr3t"));
        let error = HttpExporterBuilder::new()
            .header("Content-Type", "text/plain")
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, HttpExporterError::ReservedHeader { name } if name == "content-type")
        );
    }

    #[test]
    fn compression_needs_its_feature() {
        for (compression, available) in [
            (Compression::Gzip, cfg!(feature = "gzip")),
            (Compression::Zstd, cfg!(feature = "zstd")),
        ] {
            match HttpExporterBuilder::new().compression(compression).build() {
                Ok(exporter) => assert!(available && exporter.compression() == compression),
                Err(HttpExporterError::CompressionUnavailable(named)) => {
                    assert!(!available && named == compression)
                }
                Err(other) => panic!("{other}"),
            }
        }
    }

    #[test]
    fn zero_timeout_is_refused() {
        assert!(matches!(
            HttpExporterBuilder::new().timeout(Duration::ZERO).build(),
            Err(HttpExporterError::ZeroTimeout)
        ));
    }

    #[test]
    fn encoding_and_protocol_are_one_setting() {
        let exporter = HttpExporterBuilder::new()
            .encoding(Encoding::Json)
            .build()
            .unwrap();
        assert_eq!(otlp_sdk::Exporter::encoding(&exporter), Encoding::Json);
        let exporter = HttpExporterBuilder::new()
            .protocol(Protocol::HttpProtobuf)
            .build()
            .unwrap();
        assert_eq!(otlp_sdk::Exporter::encoding(&exporter), Encoding::Protobuf);
    }

    #[test]
    fn user_agent_names_the_crate_and_version() {
        assert_eq!(
            USER_AGENT,
            format!(
                "OTel-OTLP-Exporter-Rust/{0} otlp-exporter-http/{0}",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn from_config_reads_the_exporter_section() {
        let config = ExporterConfig {
            endpoint: Some("http://collector:4318".into()),
            protocol: Protocol::HttpJson,
            compression: if cfg!(feature = "zstd") {
                Compression::Zstd
            } else {
                Compression::None
            },
            timeout: Duration::from_millis(1500),
            headers: Headers::from_iter([("x-tenant", "blue")]),
            ..ExporterConfig::default()
        };
        let exporter = HttpExporter::from_config(&config).unwrap();
        assert_eq!(exporter.url(), "http://collector:4318/v1/traces");
        assert_eq!(otlp_sdk::Exporter::encoding(&exporter), Encoding::Json);
        assert_eq!(exporter.compression(), config.compression);
        assert_eq!(exporter.timeout(), Duration::from_millis(1500));
    }

    #[test]
    fn from_config_errors_name_the_key_and_the_file() {
        let mut config = ExporterConfig::default();
        config.tls.ca_certificate = Some("/nonexistent/ca.pem".into());
        let error = HttpExporter::from_config(&config).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("exporter.certificate") && message.contains("/nonexistent/ca.pem"),
            "{message}"
        );

        let mut config = ExporterConfig::default();
        config.tls.client_certificate = Some("/some/cert.pem".into());
        let error = HttpExporter::from_config(&config).unwrap_err();
        assert!(
            matches!(
                error,
                HttpExporterError::IncompleteClientIdentity { missing, .. }
                    if missing.starts_with("exporter.client_key (")
                        && missing.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY")
            ),
            "{error}"
        );
    }

    #[test]
    fn pem_errors_name_their_origin() {
        let error = HttpExporterBuilder::new()
            .ca_certificate_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, HttpExporterError::InvalidCertificate { origin, .. } if origin.contains("ca_certificate_pem"))
        );

        let dir =
            std::env::temp_dir().join(format!("otlp-exporter-http-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("garbage.pem");
        std::fs::write(
            &file,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let mut config = ExporterConfig::default();
        config.tls.ca_certificate = Some(file.clone());
        let error = HttpExporter::from_config(&config).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("exporter.certificate") && message.contains("garbage.pem"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_output_hides_header_values() {
        let builder = HttpExporterBuilder::new().header("authorization", "Bearer s3cr3t");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
        let exporter = builder.build().unwrap();
        let debug = format!("{exporter:?}");
        assert!(
            debug.contains("authorization") && !debug.contains("s3cr3t"),
            "{debug}"
        );
    }
}
