//! The TLS settings of the configuration (`OTEL_EXPORTER_OTLP_CERTIFICATE`,
//! `…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`, their per-signal forms and
//! `…_INSECURE`) through both exporters, as an application reaches them
//! (`ConfigLoader`, then `pipeline::exporter_from_config`), against real TLS
//! receivers on loopback with certificates made for each test: the same
//! configuration is accepted, or refused, alike over OTLP/gRPC and OTLP/HTTP,
//! and what is refused names the setting.

mod keys;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use otlp_contrib::pipeline::exporter_from_config;
use otlp_contrib::receiver::{Receiver, ReceiverConfig, ReceiverTls};
use otlp_core::encode::{Encoding, TraceEncoder};
use otlp_core::{SpanData, SpanId, TraceId};
use otlp_sdk::config::ConfigLoader;
use otlp_sdk::{DynExporter, ExportError, ExportOutcome, ExportRequest};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};

/// A certificate authority made with rcgen: a root, or an intermediate.
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn root(name: &str) -> Self {
        let params = Self::params(name);
        let key = KeyPair::generate().expect("CA key");
        let pem = params.self_signed(&key).expect("root CA").pem();
        Authority {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA this one signs.
    fn intermediate(&self, name: &str) -> Self {
        let params = Self::params(name);
        let key = KeyPair::generate().expect("CA key");
        let pem = params
            .signed_by(&key, &self.issuer)
            .expect("intermediate CA")
            .pem();
        Authority {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    fn params(name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
    }

    /// A server certificate for `key`, valid for `names` (DNS names or IP
    /// addresses, which rcgen makes IP address SANs).
    fn server(&self, names: &[&str], key: &KeyPair) -> String {
        self.leaf(names, key, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate for the public key of `key`.
    fn client(&self, key: &impl PublicKeyData) -> String {
        self.leaf(&[], key, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(
        &self,
        names: &[&str],
        key: &impl PublicKeyData,
        usage: ExtendedKeyUsagePurpose,
    ) -> String {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, "leaf");
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        params
            .signed_by(key, &self.issuer)
            .expect("leaf certificate")
            .pem()
    }
}

/// A TLS receiver on `ip` whose certificate `server` signs for `names`;
/// with `client_ca`, it requires a client certificate that CA signs.
fn tls_receiver(
    server: &Authority,
    names: &[&str],
    ip: IpAddr,
    client_ca: Option<&Authority>,
) -> Receiver {
    let key = KeyPair::generate().expect("server key");
    let address = SocketAddr::new(ip, 0);
    Receiver::start(ReceiverConfig {
        grpc: Some(address),
        http: Some(address),
        tls: Some(ReceiverTls {
            cert_pem: server.server(names, &key),
            key_pem: key.serialize_pem(),
            client_ca_pem: client_ca.map(|ca| ca.pem.clone()),
        }),
        ..ReceiverConfig::default()
    })
    .expect("TLS receiver")
}

/// A directory of its own under the system temp dir, removed on drop.
struct Files(PathBuf);

impl Files {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "otlp-contrib-exporter-tls-{test}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Files(dir)
    }

    /// Writes `contents` to `name`; its path, as a variable holds it.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        path.display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The two exporters, chosen by `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    Http,
}

const TRANSPORTS: [Transport; 2] = [Transport::Grpc, Transport::Http];

impl Transport {
    fn protocol(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http/protobuf",
        }
    }

    /// The receiver's endpoint for this transport, its host replaced by `host`
    /// when given.
    fn endpoint(self, receiver: &Receiver, host: Option<&str>) -> String {
        let endpoint = match self {
            Transport::Grpc => receiver.grpc_endpoint(),
            Transport::Http => receiver.http_endpoint(),
        }
        .expect("listener");
        match host {
            Some(host) => {
                let port = endpoint.rsplit(':').next().expect("a port");
                format!("https://{host}:{port}")
            }
            None => endpoint,
        }
    }

    /// The span exporter the variables `env` describe, with this transport's
    /// protocol and `endpoint`; a configuration or build error as its message.
    fn exporter(
        self,
        endpoint: &str,
        env: &[(&str, &str)],
    ) -> Result<Box<dyn DynExporter>, String> {
        let mut env = env.to_vec();
        env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", self.protocol()));
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint));
        let config = ConfigLoader::new()
            .with_config_dir(std::env::temp_dir().join("otlp-contrib-exporter-tls-no-config"))
            .with_env(env)
            .load()
            .map_err(|error| error.to_string())?;
        exporter_from_config(&config).map_err(|error| error.to_string())
    }
}

/// Exports one span, on a runtime of its own.
fn export_one(exporter: &dyn DynExporter) -> ExportOutcome {
    let span = SpanData::builder("tls")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .build();
    let mut body = Vec::new();
    TraceEncoder::new().encode_protobuf(std::slice::from_ref(&span), &mut body);
    let request = ExportRequest {
        body: body.into(),
        encoding: Encoding::Protobuf,
        span_count: 1,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(exporter.dyn_export(request))
}

/// Asserts that the exporter `env` describes delivers one span to `receiver`
/// over `transport`.
fn assert_delivers(
    transport: Transport,
    receiver: &Receiver,
    host: Option<&str>,
    env: &[(&str, &str)],
) {
    let before = receiver.span_count();
    let exporter = transport
        .exporter(&transport.endpoint(receiver, host), env)
        .unwrap_or_else(|error| panic!("{transport:?}: {error}"));
    assert_eq!(
        export_one(&*exporter),
        ExportOutcome::Success,
        "{transport:?}"
    );
    assert_eq!(receiver.span_count(), before + 1, "{transport:?}");
}

/// Asserts that the configuration `env` is refused over both transports,
/// and that each message names every one of `named`; the messages.
fn assert_refused(endpoint: &str, env: &[(&str, &str)], named: &[&str]) -> Vec<String> {
    TRANSPORTS
        .map(|transport| {
            let error = match transport.exporter(endpoint, env) {
                Ok(_) => panic!("{transport:?}: built with {env:?}"),
                Err(error) => error,
            };
            for name in named {
                assert!(
                    error.to_lowercase().contains(&name.to_lowercase()),
                    "{transport:?}: {name:?} not in {error}"
                );
            }
            error
        })
        .to_vec()
}

/// Asserts that no line of the PEM `key` is in `text`.
fn assert_no_key(text: &str, key: &str) {
    for line in key.lines().filter(|line| line.len() > 8) {
        assert!(!text.contains(line), "{line:?} in {text}");
    }
}

/// A client key in each form users have on disk (PKCS#8, SEC1 and PKCS#1;
/// ECDSA and RSA) makes a client identity over both transports.
#[test]
fn client_keys_in_every_pem_form_deliver_over_both_transports() {
    let root = Authority::root("root");
    let receiver = tls_receiver(
        &root,
        &["127.0.0.1"],
        Ipv4Addr::LOCALHOST.into(),
        Some(&root),
    );
    let files = Files::new("key-forms");
    let ca = files.write("ca.pem", &root.pem);
    for (form, key_file, pkcs8) in [
        ("PKCS#8 ECDSA", keys::EC_PKCS8, keys::EC_PKCS8),
        ("SEC1 ECDSA", keys::EC_SEC1, keys::EC_PKCS8),
        ("PKCS#1 RSA", keys::RSA_PKCS1, keys::RSA_PKCS8),
        ("PKCS#8 RSA", keys::RSA_PKCS8, keys::RSA_PKCS8),
    ] {
        let public = KeyPair::from_pem(pkcs8).expect("test key");
        let certificate = files.write("client.pem", root.client(&public));
        let key = files.write("client.key", key_file);
        let env = [
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                certificate.as_str(),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.as_str()),
        ];
        for transport in TRANSPORTS {
            println!("{form} over {transport:?}");
            assert_delivers(transport, &receiver, None, &env);
        }
    }
}

/// A client certificate signed by an intermediate CA is accepted by a server
/// that trusts only the root when the file holds the chain (leaf first, then
/// the intermediate), as the specification's Collector and every TLS stack
/// expect; the leaf alone is refused by that server.
#[test]
fn a_client_certificate_chain_carries_its_intermediate() {
    let root = Authority::root("root");
    let intermediate = root.intermediate("intermediate");
    let receiver = tls_receiver(
        &root,
        &["127.0.0.1"],
        Ipv4Addr::LOCALHOST.into(),
        Some(&root),
    );
    let files = Files::new("chain");
    let key = KeyPair::generate().expect("client key");
    let leaf = intermediate.client(&key);
    let ca = files.write("ca.pem", &root.pem);
    let chain = files.write("chain.pem", format!("{leaf}{}", intermediate.pem));
    let leaf_alone = files.write("leaf.pem", &leaf);
    let key = files.write("client.key", key.serialize_pem());
    for transport in TRANSPORTS {
        let env = [
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", chain.as_str()),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.as_str()),
        ];
        assert_delivers(transport, &receiver, None, &env);

        let env = [
            env[0],
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", leaf_alone.as_str()),
            env[2],
        ];
        let exporter = transport
            .exporter(&transport.endpoint(&receiver, None), &env)
            .expect("builds: only the server can tell");
        let outcome = export_one(&*exporter);
        assert!(
            matches!(
                outcome,
                ExportOutcome::Retryable {
                    error: ExportError::Transport(_),
                    ..
                }
            ),
            "{transport:?}: {outcome:?}"
        );
    }
    assert_eq!(receiver.request_count(), 2);
}

/// An encrypted client key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's
/// legacy `Proc-Type: 4,ENCRYPTED`) cannot be used: no setting gives a
/// passphrase, as in the other SDKs. The error says that the key is
/// encrypted, naming the setting, not the key. It said "no items found" over
/// gRPC and "no PKCS#8, PKCS#1 or SEC1 private key section found" over HTTP
/// (the key is there), and `base64 decode error: InvalidCharacter(45)` for the
/// legacy form over both.
#[test]
fn an_encrypted_client_key_is_refused_saying_that_it_is_encrypted() {
    let root = Authority::root("root");
    let files = Files::new("encrypted-key");
    let public = KeyPair::from_pem(keys::EC_PKCS8).expect("test key");
    let certificate = files.write("client.pem", root.client(&public));
    for encrypted in [keys::EC_PKCS8_ENCRYPTED, keys::EC_SEC1_ENCRYPTED] {
        let key = files.write("client.key", encrypted);
        let env = [
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                certificate.as_str(),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.as_str()),
        ];
        for message in assert_refused(
            "https://127.0.0.1:4317",
            &env,
            &["OTEL_EXPORTER_OTLP_CLIENT_KEY", "encrypted", "unencrypted"],
        ) {
            assert_no_key(&message, encrypted);
            assert!(
                !message.contains(&key),
                "the key's path is redacted: {message}"
            );
        }
    }
}

/// Files that cannot serve are refused when the exporter is built, over
/// both transports, naming the setting (the variable) and the file.
#[test]
fn unusable_tls_files_are_refused_alike_naming_the_setting() {
    let root = Authority::root("root");
    let stranger = Authority::root("stranger");
    let files = Files::new("unusable");
    let key = KeyPair::generate().expect("client key");
    let ca = files.write("ca.pem", &root.pem);
    let certificate = files.write("client.pem", root.client(&key));
    let key = files.write("client.key", key.serialize_pem());
    let other_key = files.write(
        "other.key",
        KeyPair::generate().expect("key").serialize_pem(),
    );
    let missing = files.0.join("missing.pem").display().to_string();
    let der = files.write(
        "ca.der",
        CertificateParams::new(Vec::<String>::new())
            .and_then(|params| params.self_signed(&KeyPair::generate()?))
            .expect("a DER certificate")
            .der(),
    );
    let endpoint = "https://127.0.0.1:4317";
    let ca_variable = "OTEL_EXPORTER_OTLP_CERTIFICATE";
    let certificate_variable = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
    let key_variable = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
    // A CA file that is missing, holds a key, or is DER.
    assert_refused(
        endpoint,
        &[(ca_variable, &missing)],
        &[ca_variable, &missing],
    );
    assert_refused(
        endpoint,
        &[(ca_variable, &key)],
        &[ca_variable, &key, "CERTIFICATE"],
    );
    assert_refused(
        endpoint,
        &[(ca_variable, &der)],
        &[ca_variable, &der, "PEM"],
    );
    // A certificate without its key, or the reverse: both settings named.
    assert_refused(
        endpoint,
        &[(certificate_variable, &certificate)],
        &[certificate_variable, key_variable],
    );
    assert_refused(
        endpoint,
        &[(key_variable, &key)],
        &[certificate_variable, key_variable],
    );
    // Files swapped, a key of another certificate.
    assert_refused(
        endpoint,
        &[(certificate_variable, &key), (key_variable, &key)],
        &[certificate_variable, &key, "CERTIFICATE"],
    );
    for message in assert_refused(
        endpoint,
        &[(certificate_variable, &certificate), (key_variable, &ca)],
        &[key_variable, "<redacted>"],
    ) {
        assert!(!message.contains(&ca), "{message}");
    }
    assert_refused(
        endpoint,
        &[
            (ca_variable, &ca),
            (certificate_variable, &certificate),
            (key_variable, &other_key),
        ],
        &[
            certificate_variable,
            key_variable,
            &certificate,
            "do not match",
        ],
    );
    // A CA of another authority builds: only the server can tell.
    let stranger_ca = files.write("stranger.pem", &stranger.pem);
    for transport in TRANSPORTS {
        assert!(
            transport
                .exporter(endpoint, &[(ca_variable, &stranger_ca)])
                .is_ok()
        );
    }
}

/// The server's certificate is verified against the endpoint's host: a DNS
/// name against its DNS names, an IP address (v4, or v6 in brackets) against
/// its IP address names; a mismatch fails for good, naming the host and the
/// names the certificate holds.
#[test]
fn the_server_certificate_is_verified_against_the_endpoint_host() {
    let root = Authority::root("root");
    let files = Files::new("names");
    let ca = files.write("ca.pem", &root.pem);
    let env = [("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str())];
    let v4: IpAddr = Ipv4Addr::LOCALHOST.into();
    let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
    let has_v6 = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    // The certificate's names, the receiver's address, the endpoint's host,
    // whether the name matches.
    let cases: [(&[&str], IpAddr, &str, bool); 6] = [
        (&["localhost"], v4, "localhost", true),
        (&["127.0.0.1"], v4, "127.0.0.1", true),
        (&["::1"], v6, "[::1]", true),
        (&["localhost"], v4, "127.0.0.1", false),
        (&["127.0.0.1"], v4, "localhost", false),
        (&["localhost"], v6, "[::1]", false),
    ];
    for (names, ip, host, matches) in cases {
        if ip.is_ipv6() && !has_v6 {
            println!("no IPv6 loopback here: {names:?} at {host} not tried");
            continue;
        }
        let receiver = tls_receiver(&root, names, ip, None);
        for transport in TRANSPORTS {
            if matches {
                assert_delivers(transport, &receiver, Some(host), &env);
                continue;
            }
            let exporter = transport
                .exporter(&transport.endpoint(&receiver, Some(host)), &env)
                .expect("builds");
            match export_one(&*exporter) {
                ExportOutcome::Permanent {
                    error: ExportError::Transport(message),
                } => {
                    let host = host.trim_matches(['[', ']']);
                    assert!(
                        message.contains("not valid for name") && message.contains(host),
                        "{transport:?}: {message}"
                    );
                    assert!(message.contains(names[0]), "{transport:?}: {message}");
                }
                other => panic!("{transport:?} {names:?} at {host}: {other:?}"),
            }
            assert_eq!(receiver.request_count(), 0);
        }
    }
}

/// `OTEL_EXPORTER_OTLP_INSECURE` chooses the scheme of a gRPC endpoint given
/// without one, as the specification says, and nothing else: an `https://`
/// endpoint stays TLS over gRPC, and OTLP/HTTP ignores it. A signal's own
/// `OTEL_EXPORTER_OTLP_TRACES_INSECURE` wins over the generic one.
#[test]
fn insecure_chooses_only_the_scheme_of_a_grpc_endpoint_without_one() {
    let root = Authority::root("root");
    let receiver = tls_receiver(&root, &["127.0.0.1"], Ipv4Addr::LOCALHOST.into(), None);
    let files = Files::new("insecure");
    let ca = files.write("ca.pem", &root.pem);
    for transport in TRANSPORTS {
        let env = [
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ];
        assert_delivers(transport, &receiver, None, &env);
    }
    let without_scheme = Transport::Grpc
        .endpoint(&receiver, None)
        .replacen("https://", "", 1);
    let grpc = |env: &[(&str, &str)]| {
        let mut env = env.to_vec();
        env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()));
        let exporter = Transport::Grpc
            .exporter(&without_scheme, &env)
            .expect("builds");
        export_one(&*exporter)
    };
    // No scheme and not insecure: TLS, verified with the CA.
    assert_eq!(grpc(&[]), ExportOutcome::Success);
    assert_eq!(
        grpc(&[("OTEL_EXPORTER_OTLP_INSECURE", "false")]),
        ExportOutcome::Success
    );
    assert_eq!(
        grpc(&[
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "false"),
        ]),
        ExportOutcome::Success
    );
    // Insecure: plaintext HTTP/2 to a TLS server, which fails.
    let delivered = receiver.span_count();
    for env in [
        &[("OTEL_EXPORTER_OTLP_INSECURE", "true")][..],
        &[("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true")][..],
    ] {
        let outcome = grpc(env);
        assert!(
            matches!(
                &outcome,
                ExportOutcome::Retryable { error: ExportError::Transport(message), .. }
                    if message.contains("https://")
            ),
            "{env:?}: {outcome:?}"
        );
    }
    assert_eq!(receiver.span_count(), delivered);
}

/// Each TLS file is its own setting, and a signal's own wins over the
/// generic one file by file (the specification's rule for every
/// `OTEL_EXPORTER_OTLP_<SIGNAL>_*` variable, as the Java and Python SDKs
/// read them): a signal's own client certificate pairs with the generic key
/// (a certificate renewed for the same key), and a signal's
/// own pair replaces the generic pair.
#[test]
fn a_signals_own_tls_files_win_file_by_file() {
    let root = Authority::root("root");
    let stranger = Authority::root("stranger");
    let receiver = tls_receiver(
        &root,
        &["127.0.0.1"],
        Ipv4Addr::LOCALHOST.into(),
        Some(&root),
    );
    let files = Files::new("per-signal");
    let key = KeyPair::generate().expect("client key");
    let ca = files.write("ca.pem", &root.pem);
    let trusted = files.write("trusted.pem", root.client(&key));
    let untrusted = files.write("untrusted.pem", stranger.client(&key));
    let key_path = files.write("client.key", key.serialize_pem());
    let other_key = KeyPair::generate().expect("client key");
    let other_certificate = files.write("other.pem", stranger.client(&other_key));
    let other_key = files.write("other.key", other_key.serialize_pem());
    for transport in TRANSPORTS {
        // The generic certificate is one the server refuses: the traces'
        // own, with the generic key, is the one presented.
        assert_delivers(
            transport,
            &receiver,
            None,
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", untrusted.as_str()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key_path.as_str()),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                    trusted.as_str(),
                ),
            ],
        );
        // A whole pair of the traces' own replaces the generic pair.
        assert_delivers(
            transport,
            &receiver,
            None,
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", ca.as_str()),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    other_certificate.as_str(),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", other_key.as_str()),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                    trusted.as_str(),
                ),
                ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", key_path.as_str()),
            ],
        );
    }
}
