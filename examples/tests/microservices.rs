//! The microservices example yields one connected trace across three services.

use otlp_examples::interrupt::{StopRequest, StopSignal};
use otlp_examples::microservices::{run, run_until};
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

/// A collector that takes longer than ten seconds to answer, but less than
/// the configured export timeout (`OTEL_BSP_EXPORT_TIMEOUT`,
/// `OTEL_EXPORTER_OTLP_TIMEOUT`): the shutdown waits for it, and every span
/// is delivered. The shutdown gave up after a fixed 10 s whatever the
/// configuration said, and the run failed with every span in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_slower_than_ten_seconds_but_within_the_export_timeout_gets_every_span() {
    use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
    use std::time::Duration;
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    // Counted from the request's arrival, after the shutdown began.
    receiver.set_fallback_fault(Some(Fault::Delay(Duration::from_secs(11))));
    let endpoint = receiver.http_endpoint().unwrap();
    let outcome = run(
        1,
        ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "60000"),
                ("OTEL_BSP_EXPORT_TIMEOUT", "60000"),
            ]),
    )
    .await
    .expect("the services run");
    assert_eq!(outcome.stats.produced, 6, "{outcome}");
    assert_eq!(outcome.stats.exported, 6, "{outcome}");
    assert_eq!(receiver.span_count(), 6, "{outcome}");
}

/// Spans the collector rejected, or that were still in flight when the
/// shutdown gave up, are counted on the outcome's line, with the reason:
/// the line said "6 spans produced, 5 exported, 0 dropped, 0 failed", and
/// the run exited 1 with nothing to say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_not_delivered_is_accounted_for_with_its_reason() {
    use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    receiver.set_fallback_fault(Some(Fault::PartialSuccess {
        rejected: 1,
        message: "one span refused".into(),
    }));
    let endpoint = receiver.grpc_endpoint().unwrap();
    let outcome = run(
        1,
        ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]),
    )
    .await
    .expect("the services run");
    let text = outcome.to_string();
    assert!(
        text.contains("6 spans produced, 5 exported, 0 dropped, 0 failed, 1 rejected, 0 unsettled"),
        "{text}"
    );
    assert!(text.contains("one span refused"), "{text}");
}

/// Asked to stop before its first request (a SIGTERM as it starts): it sends
/// none, still shuts its pipeline down, and the outcome names the signal and
/// is not all right (the example exits 143, not 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_before_the_first_request_sends_none_and_the_outcome_names_the_signal() {
    let stop = StopRequest::new();
    stop.request(StopSignal::Terminate);
    let loader = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    let outcome = run_until(5, loader, &stop).await.expect("the services run");
    assert_eq!(outcome.interrupted_by, Some(StopSignal::Terminate));
    assert_eq!((outcome.requests, outcome.requests_asked), (0, 5));
    assert_eq!(outcome.stats.produced, 0, "{outcome:?}");
    assert!(!outcome.all_ok(), "{outcome}");
    let text = outcome.to_string();
    assert!(
        text.contains("interrupted by SIGTERM after 0 of the 5 requests asked for"),
        "{text}"
    );
}
