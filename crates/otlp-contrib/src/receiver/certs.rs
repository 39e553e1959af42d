//! Throwaway certificates for TLS and mTLS tests, generated with rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::config::ReceiverTls;
use super::error::ReceiverError;

/// A fresh test CA with a server certificate for `localhost` and `127.0.0.1`
/// (also `::1`) and a client certificate (`CN=otlp-test-client`), all as PEM.
///
/// Keys are ECDSA P-256 (PKCS#8 PEM); certificates are valid from 1975 to
/// 4096. Generating takes a few milliseconds. For tests only: the private keys
/// are in plain memory and nothing is revoked or rotated.
///
/// ```
/// use otlp_contrib::receiver::TestCertificates;
///
/// let certs = TestCertificates::generate()?;
/// assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
/// let mtls = certs.mtls(); // for ReceiverConfig::tls
/// assert_eq!(mtls.client_ca_pem.as_deref(), Some(certs.ca_pem.as_str()));
/// # Ok::<(), otlp_contrib::receiver::ReceiverError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCertificates {
    /// The CA certificate: the root clients trust, and the CA client
    /// certificates are checked against in mTLS.
    pub ca_pem: String,
    /// The server certificate, signed by the CA.
    pub server_cert_pem: String,
    /// The server's private key.
    pub server_key_pem: String,
    /// The client certificate, signed by the CA.
    pub client_cert_pem: String,
    /// The client's private key.
    pub client_key_pem: String,
}

fn certificate_error(error: rcgen::Error) -> ReceiverError {
    ReceiverError::Certificate(error.to_string())
}

impl TestCertificates {
    /// Generates a new CA and the two leaf certificates.
    pub fn generate() -> Result<Self, ReceiverError> {
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "otlp-rust test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(certificate_error)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(certificate_error)?;
        let ca = Issuer::new(ca_params, ca_key);

        let names = ["localhost", "127.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        let mut server_params = CertificateParams::new(names).map_err(certificate_error)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        let server_key = KeyPair::generate().map_err(certificate_error)?;
        let server_cert = server_params
            .signed_by(&server_key, &ca)
            .map_err(certificate_error)?;

        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "otlp-test-client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.use_authority_key_identifier_extension = true;
        let client_key = KeyPair::generate().map_err(certificate_error)?;
        let client_cert = client_params
            .signed_by(&client_key, &ca)
            .map_err(certificate_error)?;

        Ok(TestCertificates {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// Receiver TLS with this server certificate; clients need no certificate.
    pub fn server_tls(&self) -> ReceiverTls {
        ReceiverTls {
            cert_pem: self.server_cert_pem.clone(),
            key_pem: self.server_key_pem.clone(),
            client_ca_pem: None,
        }
    }

    /// Receiver TLS that also requires a client certificate signed by this CA.
    pub fn mtls(&self) -> ReceiverTls {
        ReceiverTls {
            client_ca_pem: Some(self.ca_pem.clone()),
            ..self.server_tls()
        }
    }

    /// The client certificate followed by its key in one PEM buffer, the form
    /// `reqwest::Identity::from_pem` takes.
    pub fn client_identity_pem(&self) -> String {
        format!("{}{}", self.client_cert_pem, self.client_key_pem)
    }
}
