//! What the SDK does otherwise than asked, it says once, to the process's
//! warning handler (`otlp_sdk::diagnostics`). One test: the handler is the
//! process's.

use std::sync::{Arc, Mutex};

use otlp_sdk::diagnostics::{Warning, set_warning_handler};
use otlp_sdk::metrics::{Aggregation, MeterProvider, View};

#[test]
fn instruments_the_sdk_cannot_take_as_asked_are_warned_of_once_each() {
    let warnings: Arc<Mutex<Vec<Warning>>> = Arc::default();
    let seen = warnings.clone();
    set_warning_handler(move |warning| seen.lock().unwrap().push(warning.clone()));
    let provider = MeterProvider::builder()
        .with_view(
            View::new("temperature")
                .rename("temperature.histogram")
                .with_aggregation(Aggregation::explicit_default()),
        )
        .build()
        .expect("provider");
    let meter = provider.meter("shop");
    // Twice each: said once.
    for _ in 0..2 {
        // Another description: the first is kept.
        meter
            .u64_counter("jobs")
            .with_description("Jobs done")
            .build();
        meter
            .u64_counter("jobs")
            .with_description("Jobs finished")
            .build();
        // Another unit: both are exported.
        meter.f64_histogram("latency").with_unit("ms").build();
        meter.f64_histogram("latency").with_unit("s").build();
        // Not a valid name: it records nothing.
        meter.u64_counter("9lives").build();
        // Invalid advice: the default boundaries.
        meter
            .f64_histogram("sizes")
            .with_boundaries(vec![10.0, 1.0])
            .build();
        // A histogram view on an observable gauge: ignored for it.
        meter
            .i64_observable_gauge("temperature")
            .with_callback(|observer| observer.observe(21, &[]))
            .build();
    }
    let stats = provider.stats();
    let warnings = warnings.lock().unwrap().clone();
    let messages: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    let expected = [
        r#"metrics: instrument "jobs" of meter "shop" was registered again with another description ("Jobs finished")"#,
        r#"metrics: instrument "latency" of meter "shop" was registered again with another description, unit, kind or number type"#,
        r#"metrics: instrument "9lives" of meter "shop": invalid instrument name "9lives"; it records nothing"#,
        r#"metrics: instrument "sizes" of meter "shop" was advised histogram boundaries that are not finite and increasing"#,
        r#"metrics: a view selecting instrument "temperature" of meter "shop" asks for an aggregation"#,
    ];
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
    for start in expected {
        assert!(
            messages.iter().any(|message| message.starts_with(start)),
            "no warning starting {start:?} in {messages:#?}"
        );
    }
    assert!(warnings.iter().all(|warning| warning.source == "metrics"));
    // The counts go on counting every one.
    assert!(stats.conflicting_instruments >= 2, "{stats:?}");
    assert_eq!((stats.invalid_instruments, stats.ignored_advice), (2, 2));

    // A handler that panics costs its warning, not the caller.
    set_warning_handler(|_| panic!("the handler's own bug"));
    meter.u64_counter("8ball").build();
}
