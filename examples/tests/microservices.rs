//! The microservices example yields one connected trace across three services.

use otlp_examples::microservices::run;
use otlp_sdk::config::ConfigLoader;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_crosses_the_three_services() {
    let outcome = run(
        3,
        ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
    )
    .await
    .expect("the services run");
    assert_eq!(outcome.succeeded, 3);
    // Per request: gateway server + client, orders server + client, inventory server + work.
    assert_eq!(outcome.stats.produced, 18, "{outcome:?}");
    assert_eq!(outcome.stats.exported, 18, "{outcome:?}");
    assert_eq!(
        outcome.services_in_first_trace,
        vec!["gateway", "orders", "inventory"],
        "{outcome:?}"
    );
    assert!(outcome.first_trace_connected, "{:?}", outcome.first_trace);
    let tree = outcome.first_trace.unwrap();
    assert!(
        tree.contains("GET /checkout") && tree.contains("reserve stock"),
        "{tree}"
    );
}
