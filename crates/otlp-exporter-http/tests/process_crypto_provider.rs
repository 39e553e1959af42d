//! An application that installs a process-wide rustls `CryptoProvider` has
//! the exporter's TLS connections use it (as tonic's do for the gRPC
//! exporter). A test binary of its own: the default is process-wide, and the
//! other TLS tests check that the exporter needs none.

use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otlp_contrib::receiver::{Receiver, ReceiverConfig, TestCertificates};
use otlp_core::encode::Encoding;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::{ExportOutcome, ExportRequest, Exporter};
use prost::Message as _;
use rustls::crypto::{CryptoProvider, GetRandomFailed, SecureRandom};

/// Randomness from ring's provider, counting the calls: every TLS handshake
/// the client makes draws its random and key shares from its provider.
#[derive(Debug)]
struct CountingRandom;

static DRAWS: AtomicUsize = AtomicUsize::new(0);

impl SecureRandom for CountingRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        DRAWS.fetch_add(1, Ordering::SeqCst);
        #[allow(deprecated)] // ring's provider, as the crate builds with it
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(buf)
    }
}

static COUNTING_RANDOM: CountingRandom = CountingRandom;

#[test]
fn an_installed_process_default_provider_serves_the_exporters_tls_connections() {
    #[allow(deprecated)] // ring's provider, as the crate builds with it
    let provider = CryptoProvider {
        secure_random: &COUNTING_RANDOM,
        ..rustls::crypto::ring::default_provider()
    };
    provider
        .install_default()
        .expect("the first default of this process");

    let certificates = TestCertificates::generate().expect("test certificates");
    // The receiver builds its server configuration on ring explicitly, never
    // on the process default: every draw counted here is the client's.
    let receiver = Receiver::start(ReceiverConfig {
        tls: Some(certificates.server_tls()),
        ..ReceiverConfig::default()
    })
    .expect("TLS receiver");
    let exporter = HttpExporter::builder()
        .endpoint(receiver.http_endpoint().expect("HTTP listener"))
        .ca_certificate_pem(&certificates.ca_pem)
        .build()
        .expect("exporter");

    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![9; 8],
                    name: "through the application's provider".into(),
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let before = DRAWS.load(Ordering::SeqCst);
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(exporter.export(ExportRequest {
            body: request.encode_to_vec().into(),
            encoding: Encoding::Protobuf,
            span_count: 1,
        }));
    assert_eq!(outcome, ExportOutcome::Success);
    assert_eq!(receiver.span_count(), 1);
    assert!(
        DRAWS.load(Ordering::SeqCst) > before,
        "the TLS handshake drew no randomness from the installed provider: the exporter used \
         another one"
    );
}
