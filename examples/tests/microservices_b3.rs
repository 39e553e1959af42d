//! The microservices example under `OTEL_PROPAGATORS=b3multi`: the services
//! pass the trace on in the `X-B3-*` headers only, and each request is still
//! one connected trace. A binary of its own: the pipeline installs its
//! propagators for the whole process.

use otlp_examples::microservices::run;
use otlp_sdk::config::ConfigLoader;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_crosses_the_three_services_in_b3_headers() {
    let outcome = run(
        2,
        ConfigLoader::new().with_env([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_PROPAGATORS", "b3multi"),
        ]),
    )
    .await
    .expect("the services run");
    assert_eq!(outcome.succeeded, 2);
    assert_eq!(outcome.stats.exported, 12, "{outcome:?}");
    assert_eq!(
        outcome.services_in_first_trace,
        vec!["gateway", "orders", "inventory"],
        "{outcome:?}"
    );
    assert!(outcome.first_trace_connected, "{:?}", outcome.first_trace);
}
