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

/// A password in the configured endpoint (`http://user:password@host`) shows
/// neither in the outcome's text nor in its `Debug` output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_endpoint_shows_in_no_part_of_the_outcome() {
    let receiver =
        otlp_contrib::receiver::Receiver::start(otlp_contrib::receiver::ReceiverConfig::default())
            .unwrap();
    let endpoint = receiver
        .http_endpoint()
        .unwrap()
        .replace("http://", "http://user:s3cret@");
    let outcome = run(
        1,
        ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]),
    )
    .await
    .expect("the services run");
    assert_eq!(outcome.stats.exported, 6, "{outcome:?}");
    for shown in [outcome.to_string(), format!("{outcome:?}")] {
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    assert!(
        outcome.destination.contains("<redacted>@127.0.0.1"),
        "{}",
        outcome.destination
    );
}

/// `OTEL_SDK_DISABLED=true`: no span is exported, and the outcome says so
/// instead of naming an embedded receiver that "got no span to show".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sdk_disabled_the_outcome_names_no_receiver() {
    let outcome = run(
        1,
        ConfigLoader::new().with_env([("OTEL_SDK_DISABLED", "true")]),
    )
    .await
    .expect("the services run");
    assert_eq!(outcome.succeeded, 1);
    assert_eq!(outcome.stats.produced, 0, "{outcome:?}");
    assert!(!outcome.embedded, "{outcome:?}");
    assert_eq!(outcome.destination, "none", "{outcome:?}");
    let shown = outcome.to_string();
    assert!(
        !shown.contains("127.0.0.1") && shown.contains("span export is off"),
        "{shown}"
    );
}
