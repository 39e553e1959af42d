//! What the SDK does otherwise than asked (metrics instruments it cannot
//! take as asked, span and log record limits, a logger without a name),
//! it says once, to the process's warning handler (`otlp_sdk::diagnostics`).
//! One test: the handler is the process's.

use std::sync::{Arc, Mutex};

use otlp_core::{KeyValue, LogRecord};
use otlp_sdk::diagnostics::{Warning, set_warning_handler};
use otlp_sdk::metrics::{Aggregation, MeterProvider, View};
use otlp_sdk::{
    LogProcessor, LogRecordLimits, LoggerProvider, PipelineError, SpanLimits, TracerProvider,
};

/// Takes log records and keeps none: a logger with no processor skips the
/// work its records would need, limits included.
struct Discard;

impl LogProcessor for Discard {
    fn on_emit(&self, _: &mut LogRecord) {}

    fn force_flush(&self, _: std::time::Duration) -> Result<(), PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: std::time::Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[test]
fn instruments_the_sdk_cannot_take_as_asked_are_warned_of_once_each() {
    let warnings: Arc<Mutex<Vec<Warning>>> = Arc::default();
    let seen = warnings.clone();
    let seen_by_test = warnings.clone();
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
        // Another case: the first instrument, under its first name.
        meter
            .u64_counter("JOBS")
            .with_description("Jobs done")
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
        r#"metrics: instrument "JOBS" of meter "shop" is instrument "jobs", registered before"#,
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
    // The spec: the warning "SHOULD include ... a renaming View recipe"
    // where a View selector tells the two apart (here the unit).
    assert!(
        messages.iter().any(|message| message
            .contains(r#"View::new("latency").with_meter_name("shop").with_unit("s").rename("#)),
        "no renaming view recipe in {messages:#?}"
    );
    assert!(warnings.iter().all(|warning| warning.source == "metrics"));
    // The counts go on counting every one.
    assert!(stats.conflicting_instruments >= 2, "{stats:?}");
    assert_eq!((stats.invalid_instruments, stats.ignored_advice), (2, 2));

    // A span and a log record over their limits: said once each, however
    // many go over.
    warnings_now(&seen_by_test);
    let tracer = TracerProvider::builder()
        .with_span_limits(SpanLimits {
            max_attributes: 1,
            ..SpanLimits::default()
        })
        .build()
        .tracer("t");
    let logger = LoggerProvider::builder()
        .with_log_limits(LogRecordLimits {
            max_attributes: 1,
            ..LogRecordLimits::default()
        })
        .with_processor(Discard)
        .build()
        .logger("l");
    for _ in 0..3 {
        let mut span = tracer.start("over");
        span.set_attribute(KeyValue::new("a", 1));
        span.set_attribute(KeyValue::new("b", 2));
        span.end();
        logger.emit(
            LogRecord::builder()
                .attributes([KeyValue::new("a", 1), KeyValue::new("b", 2)])
                .build(),
        );
    }
    let limits = warnings_now(&seen_by_test);
    let sources: Vec<&str> = limits.iter().map(|warning| warning.source).collect();
    assert_eq!(sources, ["traces", "logs"], "{limits:#?}");
    assert!(limits[0].message.starts_with("a span went over its limits"));
    assert!(
        limits[1]
            .message
            .contains("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT")
    );

    // A logger asked for with an empty name: it works, keeps the name,
    // and is warned of, once.
    let provider = LoggerProvider::builder().with_processor(Discard).build();
    for _ in 0..2 {
        let unnamed = provider.logger("");
        assert_eq!(unnamed.scope().name, "");
        assert!(unnamed.enabled());
        unnamed.emit(LogRecord::builder().body("still emitted").build());
    }
    let unnamed = warnings_now(&seen_by_test);
    assert_eq!(unnamed.len(), 1, "{unnamed:#?}");
    assert_eq!(unnamed[0].source, "logs");
    assert!(
        unnamed[0]
            .message
            .starts_with("a logger was asked for with an empty name"),
        "{unnamed:#?}"
    );
    provider.logger("named");
    assert!(warnings_now(&seen_by_test).is_empty());

    // So are a tracer and a meter asked for with an empty name: each works,
    // keeps the name, and is warned of once.
    let tracers = TracerProvider::builder().build();
    let meters = MeterProvider::builder().build().expect("a meter provider");
    for _ in 0..2 {
        let tracer = tracers.tracer("");
        assert_eq!(tracer.scope().name, "");
        tracer.start("still started").end();
        meters
            .meter("")
            .u64_counter("still_counted")
            .build()
            .add(1, &[]);
    }
    let unnamed = warnings_now(&seen_by_test);
    let sources: Vec<_> = unnamed.iter().map(|warning| warning.source).collect();
    assert_eq!(sources, ["traces", "metrics"], "{unnamed:#?}");
    assert!(
        unnamed[0]
            .message
            .starts_with("a tracer was asked for with an empty name")
    );
    assert!(
        unnamed[1]
            .message
            .starts_with("a meter was asked for with an empty name")
    );
    tracers.tracer("named");
    meters.meter("named");
    assert!(warnings_now(&seen_by_test).is_empty());

    // A handler that panics costs its warning, not the caller.
    set_warning_handler(|_| panic!("the handler's own bug"));
    meter.u64_counter("8ball").build();
}

/// The warnings given since the last call.
fn warnings_now(warnings: &Mutex<Vec<Warning>>) -> Vec<Warning> {
    std::mem::take(&mut *warnings.lock().unwrap())
}
