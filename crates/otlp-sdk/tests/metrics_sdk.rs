//! The metrics SDK's aggregation, against hand-computed values: sums,
//! histograms and gauges over several collections in both temporalities,
//! views, the cardinality limit, observable instruments, exemplars and
//! concurrent recording.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use otlp_core::encode::Encoding;
use otlp_core::{
    KeyValue, Metric, MetricData, NumberDataPoint, NumberValue, SpanContext, SpanId, Temporality,
    TraceFlags, TraceId,
};
use otlp_sdk::config::{DefaultHistogramAggregation, ExemplarFilter, TemporalityPreference};
use otlp_sdk::metrics::{
    Aggregation, DEFAULT_HISTOGRAM_BOUNDARIES, InstrumentKind, MeterProvider, MetricsError,
    OVERFLOW_ATTRIBUTE, PeriodicReader, View,
};
use otlp_sdk::{ExportOutcome, ExportRequest, Exporter, Signal, active_span};

fn provider(temporality: TemporalityPreference) -> MeterProvider {
    MeterProvider::builder()
        .with_temporality(temporality)
        .build()
        .expect("provider")
}

fn find<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .find(|metric| metric.name.as_str() == name)
        .unwrap_or_else(|| panic!("no metric {name} in {metrics:#?}"))
}

fn sum_points(metric: &Metric) -> (&[NumberDataPoint], Temporality, bool) {
    match &metric.data {
        MetricData::Sum(sum) => (&sum.data_points, sum.temporality, sum.is_monotonic),
        other => panic!("not a sum: {other:?}"),
    }
}

fn value_of(points: &[NumberDataPoint], attributes: &[KeyValue]) -> NumberValue {
    points
        .iter()
        .find(|point| point.attributes == attributes)
        .unwrap_or_else(|| panic!("no point {attributes:?} in {points:#?}"))
        .value
}

#[test]
fn counters_report_running_totals_or_deltas_per_attribute_set() {
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = provider(preference);
        let counter = provider.meter("shop").u64_counter("orders").build();
        let card = [KeyValue::new("payment", "card")];
        let cash = [KeyValue::new("payment", "cash")];
        counter.add(2, &card);
        counter.add(3, &card);
        counter.add(1, &cash);
        let first = provider.collect();
        let (points, temporality, monotonic) = sum_points(find(&first, "orders"));
        assert!(monotonic);
        assert_eq!(value_of(points, &card), NumberValue::Int(5));
        assert_eq!(value_of(points, &cash), NumberValue::Int(1));

        counter.add(4, &card);
        let second = provider.collect();
        let (points, _, _) = sum_points(find(&second, "orders"));
        match preference {
            TemporalityPreference::Cumulative => {
                assert_eq!(temporality, Temporality::Cumulative);
                assert_eq!(value_of(points, &card), NumberValue::Int(9));
                assert_eq!(value_of(points, &cash), NumberValue::Int(1));
            }
            _ => {
                assert_eq!(temporality, Temporality::Delta);
                assert_eq!(value_of(points, &card), NumberValue::Int(4));
                // No measurement of `cash` in the interval: no point.
                assert_eq!(points.len(), 1);
                assert!(points[0].start_time_unix_nano > 0);
                assert!(points[0].start_time_unix_nano <= points[0].time_unix_nano);
            }
        }
    }
}

#[test]
fn the_temporality_preference_follows_the_spec_table() {
    let expectations = [
        (
            TemporalityPreference::Delta,
            Temporality::Delta,
            Temporality::Cumulative,
        ),
        (
            TemporalityPreference::LowMemory,
            Temporality::Delta,
            Temporality::Cumulative,
        ),
        (
            TemporalityPreference::Cumulative,
            Temporality::Cumulative,
            Temporality::Cumulative,
        ),
    ];
    for (preference, counter_temporality, up_down_temporality) in expectations {
        let provider = provider(preference);
        let meter = provider.meter("t");
        meter.u64_counter("c").build().add(1, &[]);
        meter.i64_up_down_counter("u").build().add(-1, &[]);
        let observed = meter
            .u64_observable_counter("o")
            .with_callback(|observer| observer.observe(10, &[]))
            .build();
        assert_eq!(observed.name(), "o");
        let metrics = provider.collect();
        assert_eq!(
            sum_points(find(&metrics, "c")).1,
            counter_temporality,
            "{preference:?}"
        );
        assert_eq!(
            sum_points(find(&metrics, "u")).1,
            up_down_temporality,
            "{preference:?}"
        );
        let observable = match preference {
            TemporalityPreference::Delta => Temporality::Delta,
            _ => Temporality::Cumulative,
        };
        assert_eq!(
            sum_points(find(&metrics, "o")).1,
            observable,
            "{preference:?}"
        );
    }
}

#[test]
fn histograms_count_buckets_sum_min_max_with_default_or_advised_boundaries() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("http");
    let default = meter.f64_histogram("latency").with_unit("ms").build();
    let advised = meter
        .u64_histogram("size")
        .with_boundaries(vec![100.0, 1000.0])
        .build();
    for value in [0.0, 3.0, 5.0, 7.5, 12_000.0] {
        default.record(value, &[]);
    }
    for value in [50, 100, 101, 5000] {
        advised.record(value, &[]);
    }
    let metrics = provider.collect();
    let MetricData::Histogram(latency) = &find(&metrics, "latency").data else {
        panic!("latency is not a histogram");
    };
    let point = &latency.data_points[0];
    assert_eq!(point.explicit_bounds.len(), 15);
    // Bounds 0, 5, 10, ...: 0.0 in the first bucket, 3 and 5 in the second,
    // 7.5 in the third, 12,000 past the last bound.
    assert_eq!(&point.bucket_counts[..4], &[1, 2, 1, 0]);
    assert_eq!(point.bucket_counts[15], 1);
    assert_eq!(point.count, 5);
    assert_eq!(point.sum, Some(12_015.5));
    assert_eq!((point.min, point.max), (Some(0.0), Some(12_000.0)));
    assert_eq!(find(&metrics, "latency").unit.as_str(), "ms");

    let MetricData::Histogram(size) = &find(&metrics, "size").data else {
        panic!("size is not a histogram");
    };
    assert_eq!(size.data_points[0].explicit_bounds, vec![100.0, 1000.0]);
    assert_eq!(size.data_points[0].bucket_counts, vec![2, 1, 1]);
}

#[test]
fn the_configured_default_histogram_aggregation_gives_exponential_histograms() {
    let provider = MeterProvider::builder()
        .with_default_histogram_aggregation(
            DefaultHistogramAggregation::Base2ExponentialBucketHistogram,
        )
        .build()
        .expect("provider");
    let histogram = provider.meter("m").f64_histogram("d").build();
    for value in [1.0, 2.0, 4.0, 0.0, -1.0] {
        histogram.record(value, &[]);
    }
    let metrics = provider.collect();
    let MetricData::ExponentialHistogram(exponential) = &find(&metrics, "d").data else {
        panic!("not exponential: {metrics:?}");
    };
    let point = &exponential.data_points[0];
    assert_eq!(point.count, 5);
    assert_eq!(point.zero_count, 1);
    assert_eq!(point.sum, Some(6.0));
    assert_eq!(point.negative.bucket_counts.iter().sum::<u64>(), 1);
    assert_eq!(point.positive.bucket_counts.iter().sum::<u64>(), 3);
}

#[test]
fn views_rename_reaggregate_filter_keys_and_drop() {
    let provider = MeterProvider::builder()
        .with_view(
            View::new("requests")
                .rename("http.requests")
                .with_description("served"),
        )
        .with_view(
            View::new("latency")
                .with_aggregation(Aggregation::ExplicitBucketHistogram {
                    boundaries: vec![10.0],
                    record_min_max: false,
                })
                .with_attribute_keys(["route"]),
        )
        .with_view(View::new("noise*").with_aggregation(Aggregation::Drop))
        .with_view(
            View::new("*")
                .with_kind(InstrumentKind::Gauge)
                .with_aggregation(Aggregation::Sum),
        )
        .build()
        .expect("provider");
    let meter = provider.meter("svc");
    meter.u64_counter("requests").build().add(1, &[]);
    let latency = meter.f64_histogram("latency").build();
    latency.record(
        5.0,
        &[KeyValue::new("route", "/a"), KeyValue::new("user", 1)],
    );
    latency.record(
        50.0,
        &[KeyValue::new("user", 2), KeyValue::new("route", "/a")],
    );
    meter.u64_counter("noise.level").build().add(1, &[]);
    let gauge = meter.i64_gauge("temperature").build();
    gauge.record(3, &[]);
    gauge.record(4, &[]);

    let metrics = provider.collect();
    let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(!names.contains(&"noise.level"), "{names:?}");
    assert!(!names.contains(&"requests"), "{names:?}");
    assert_eq!(
        find(&metrics, "http.requests").description.as_str(),
        "served"
    );
    let MetricData::Histogram(histogram) = &find(&metrics, "latency").data else {
        panic!("latency is not a histogram");
    };
    assert_eq!(histogram.data_points.len(), 1, "user dropped: one series");
    let point = &histogram.data_points[0];
    assert_eq!(point.attributes, vec![KeyValue::new("route", "/a")]);
    assert_eq!((point.bucket_counts.clone(), point.min), (vec![1, 1], None));
    // A gauge aggregated as a sum adds its measurements.
    let (points, _, monotonic) = sum_points(find(&metrics, "temperature"));
    assert_eq!(points[0].value, NumberValue::Int(7));
    assert!(!monotonic);
}

#[test]
fn invalid_views_and_limits_are_refused_naming_what_is_wrong() {
    let error = MeterProvider::builder()
        .with_view(
            View::new("lat").with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![1.0, f64::NAN],
                record_min_max: true,
            }),
        )
        .build()
        .expect_err("NaN boundary");
    assert!(matches!(error, MetricsError::InvalidView { ref view, .. } if view == "lat"));
    let error = MeterProvider::builder()
        .with_view(View::new("hits").with_cardinality_limit(0))
        .build()
        .expect_err("view limit 0");
    assert!(matches!(error, MetricsError::InvalidView { ref view, .. } if view == "hits"));
}

#[test]
fn an_exponential_histogram_view_asking_for_more_than_16384_buckets_is_refused() {
    let view = |max_size| {
        View::new("latency").with_aggregation(Aggregation::Base2ExponentialHistogram {
            max_size,
            max_scale: 20,
            record_min_max: true,
        })
    };
    let error = MeterProvider::builder()
        .with_view(view(100_000))
        .build()
        .expect_err("a hundred thousand buckets");
    let MetricsError::InvalidView { view: name, reason } = error else {
        panic!("{error}");
    };
    assert_eq!(name, "latency");
    assert!(
        reason.contains("max_size 100000 (needs 2..=16384)"),
        "{reason}"
    );
    MeterProvider::builder()
        .with_view(view(16_384))
        .build()
        .expect("the largest size");
}

#[test]
fn past_the_cardinality_limit_measurements_go_to_the_overflow_series_and_are_counted() {
    let provider = MeterProvider::builder()
        .with_cardinality_limit(3)
        .build()
        .expect("provider");
    let counter = provider.meter("m").u64_counter("hits").build();
    for user in 0..10 {
        counter.add(1, &[KeyValue::new("user", user)]);
    }
    counter.add(5, &[KeyValue::new("user", 0)]);
    let metrics = provider.collect();
    let (points, _, _) = sum_points(find(&metrics, "hits"));
    assert_eq!(points.len(), 4, "limit series and the overflow series");
    assert_eq!(
        value_of(points, &[KeyValue::new("user", 0)]),
        NumberValue::Int(6)
    );
    assert_eq!(
        value_of(points, &[KeyValue::new("user", 2)]),
        NumberValue::Int(1)
    );
    assert_eq!(
        value_of(points, &[KeyValue::new(OVERFLOW_ATTRIBUTE, true)]),
        NumberValue::Int(7)
    );
    assert_eq!(provider.stats().overflowed_measurements, 7);
}

#[test]
fn concurrent_recording_from_several_threads_sums_exactly() {
    let provider = provider(TemporalityPreference::Delta);
    let meter = provider.meter("m");
    let counter = meter.u64_counter("ops").build();
    let float = meter.f64_up_down_counter("level").build();
    let histogram = meter
        .u64_histogram("sizes")
        .with_boundaries(vec![10.0])
        .build();
    let per_thread = 100_000u64;
    let collected = Arc::new(AtomicU64::new(0));
    let histogram_count = Arc::new(AtomicU64::new(0));
    std::thread::scope(|scope| {
        let mut writers = Vec::new();
        for thread in 0..3i64 {
            let (counter, float, histogram) = (counter.clone(), float.clone(), histogram.clone());
            writers.push(scope.spawn(move || {
                for i in 0..per_thread {
                    let attributes = [KeyValue::new("shard", (i % 4) as i64)];
                    counter.add(1, &attributes);
                    float.add(0.5, &attributes);
                    histogram.record(i % 20, &[KeyValue::new("thread", thread)]);
                }
            }));
        }
        // Collect while they record: deltas must add up to everything.
        while writers.iter().any(|writer| !writer.is_finished()) {
            for metric in provider.collect() {
                tally(&metric, &collected, &histogram_count);
            }
        }
    });
    for metric in provider.collect() {
        tally(&metric, &collected, &histogram_count);
    }
    assert_eq!(collected.load(Ordering::Relaxed), 3 * per_thread);
    assert_eq!(histogram_count.load(Ordering::Relaxed), 3 * per_thread);
    // The up-down counter is cumulative under the delta preference.
    let last = provider.collect();
    let (points, temporality, _) = sum_points(find(&last, "level"));
    assert_eq!(temporality, Temporality::Cumulative);
    let total: f64 = points
        .iter()
        .map(|point| match point.value {
            NumberValue::Double(value) => value,
            NumberValue::Int(value) => value as f64,
        })
        .sum();
    assert_eq!(total, 0.5 * 3.0 * per_thread as f64);
}

fn tally(metric: &Metric, ops: &AtomicU64, histogram_count: &AtomicU64) {
    match (&metric.data, metric.name.as_str()) {
        (MetricData::Sum(sum), "ops") => {
            for point in &sum.data_points {
                if let NumberValue::Int(value) = point.value {
                    ops.fetch_add(value as u64, Ordering::Relaxed);
                }
            }
        }
        (MetricData::Histogram(histogram), "sizes") => {
            for point in &histogram.data_points {
                assert_eq!(point.count, point.bucket_counts.iter().sum::<u64>());
                histogram_count.fetch_add(point.count, Ordering::Relaxed);
            }
        }
        _ => {}
    }
}

#[test]
fn observable_instruments_report_totals_deltas_and_current_values() {
    let provider = provider(TemporalityPreference::Delta);
    let meter = provider.meter("process");
    let total = Arc::new(AtomicU64::new(100));
    let level = Arc::new(AtomicI64::new(7));
    let (t, l) = (total.clone(), level.clone());
    meter
        .u64_observable_counter("cpu.time")
        .with_callback(move |observer| observer.observe(t.load(Ordering::Relaxed), &[]))
        .build();
    meter
        .i64_observable_gauge("threads")
        .with_callback(move |observer| {
            observer.observe(l.load(Ordering::Relaxed), &[KeyValue::new("pool", "io")])
        })
        .build();
    meter
        .u64_observable_gauge("broken")
        .with_callback(|_| panic!("callback failure"))
        .build();

    let first = provider.collect();
    assert_eq!(
        sum_points(find(&first, "cpu.time")).0[0].value,
        NumberValue::Int(100)
    );
    total.store(130, Ordering::Relaxed);
    level.store(9, Ordering::Relaxed);
    let second = provider.collect();
    // Delta of an observed total: 130 - 100.
    assert_eq!(
        sum_points(find(&second, "cpu.time")).0[0].value,
        NumberValue::Int(30)
    );
    let MetricData::Gauge(gauge) = &find(&second, "threads").data else {
        panic!("threads is not a gauge");
    };
    assert_eq!(gauge.data_points[0].value, NumberValue::Int(9));
    assert!(second.iter().all(|metric| metric.name.as_str() != "broken"));
    assert_eq!(provider.stats().callback_panics, 2);
}

/// An exemplar keeps the attributes its point left out (the spec's
/// `filtered_attributes`: "filtered out by the aggregator"). A measurement
/// sent to the overflow series, whose point keeps none of them, kept only
/// those a view dropped, so the user an overflowing measurement was about
/// was lost from its exemplar too.
#[test]
fn an_exemplar_of_an_overflowing_measurement_keeps_every_attribute_the_point_left_out() {
    let provider = MeterProvider::builder()
        .with_cardinality_limit(1)
        .with_view(View::new("hits").with_attribute_keys(["user"]))
        .with_exemplar_filter(ExemplarFilter::AlwaysOn)
        .build()
        .expect("provider");
    let counter = provider.meter("m").u64_counter("hits").build();
    counter.add(
        1,
        &[KeyValue::new("user", "ann"), KeyValue::new("path", "/a")],
    );
    counter.add(
        2,
        &[KeyValue::new("user", "bob"), KeyValue::new("path", "/b")],
    );
    let metrics = provider.collect();
    let (points, ..) = sum_points(find(&metrics, "hits"));
    assert_eq!(points.len(), 2, "{points:#?}");
    let own = points
        .iter()
        .find(|point| point.attributes == [KeyValue::new("user", "ann")])
        .expect("ann's series");
    assert_eq!(
        own.exemplars[0].filtered_attributes,
        [KeyValue::new("path", "/a")],
        "a view's dropped key"
    );
    let overflow = points
        .iter()
        .find(|point| point.attributes == [KeyValue::new("otel.metric.overflow", true)])
        .expect("the overflow series");
    let mut filtered = overflow.exemplars[0].filtered_attributes.clone();
    filtered.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        filtered,
        [KeyValue::new("path", "/b"), KeyValue::new("user", "bob")],
        "every attribute of the measurement"
    );
}

/// A measurement giving a key twice names the series of the key's last
/// value; the attributes its exemplar keeps are a collection of unique keys
/// too (OTLP asks it of every attribute list), the last value of each.
/// They were copied as given: a dropped key repeated, and an overflowing
/// measurement's repeated keys, reached the wire twice.
#[test]
fn an_exemplars_filtered_attributes_keep_one_value_per_key_the_last_given() {
    let provider = MeterProvider::builder()
        .with_cardinality_limit(1)
        .with_view(View::new("hits").with_attribute_keys(["user"]))
        .with_exemplar_filter(ExemplarFilter::AlwaysOn)
        .build()
        .expect("provider");
    let counter = provider.meter("m").u64_counter("hits").build();
    counter.add(
        1,
        &[
            KeyValue::new("path", "/a"),
            KeyValue::new("user", "ann"),
            KeyValue::new("path", "/b"),
        ],
    );
    // Past the limit: the overflow series, whose exemplar keeps every key.
    counter.add(
        2,
        &[
            KeyValue::new("user", "bob"),
            KeyValue::new("path", "/c"),
            KeyValue::new("user", "cid"),
        ],
    );
    let metrics = provider.collect();
    let (points, ..) = sum_points(find(&metrics, "hits"));
    let own = points
        .iter()
        .find(|point| point.attributes == [KeyValue::new("user", "ann")])
        .expect("ann's series");
    assert_eq!(
        own.exemplars[0].filtered_attributes,
        [KeyValue::new("path", "/b")]
    );
    let overflow = points
        .iter()
        .find(|point| point.attributes == [KeyValue::new(OVERFLOW_ATTRIBUTE, true)])
        .expect("the overflow series");
    let mut filtered = overflow.exemplars[0].filtered_attributes.clone();
    filtered.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        filtered,
        [KeyValue::new("path", "/c"), KeyValue::new("user", "cid")]
    );
}

#[test]
fn a_measurement_inside_a_sampled_span_keeps_its_ids_as_an_exemplar() {
    let provider = MeterProvider::builder()
        .with_exemplar_filter(ExemplarFilter::TraceBased)
        .build()
        .expect("provider");
    let histogram = provider.meter("m").f64_histogram("latency").build();
    let sampled = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    let unsampled = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::default());
    active_span::in_span(&sampled, || histogram.record(42.0, &[]));
    active_span::in_span(&unsampled, || histogram.record(3.0, &[]));
    histogram.record(7.0, &[]);
    let metrics = provider.collect();
    let MetricData::Histogram(data) = &find(&metrics, "latency").data else {
        panic!("not a histogram");
    };
    let exemplars = &data.data_points[0].exemplars;
    assert_eq!(exemplars.len(), 1, "{exemplars:?}");
    assert_eq!(exemplars[0].value, NumberValue::Double(42.0));
    assert_eq!(exemplars[0].trace_id, Some(sampled.trace_id));
    assert_eq!(exemplars[0].span_id, Some(sampled.span_id));
    // Taken by the collection.
    let metrics = provider.collect();
    let MetricData::Histogram(data) = &find(&metrics, "latency").data else {
        panic!("not a histogram");
    };
    assert!(data.data_points[0].exemplars.is_empty());
}

#[test]
fn the_same_instrument_asked_twice_records_into_one_stream_and_bad_names_record_nothing() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    meter.u64_counter("jobs").build().add(1, &[]);
    meter.u64_counter("Jobs").build().add(2, &[]);
    meter.u64_counter("9lives").build().add(1, &[]);
    meter.u64_counter("").build().add(1, &[]);
    let metrics = provider.collect();
    assert_eq!(metrics.len(), 1, "{metrics:#?}");
    assert_eq!(sum_points(&metrics[0]).0[0].value, NumberValue::Int(3));
    assert_eq!(provider.stats().invalid_instruments, 2);
}

/// The API's unit syntax: ASCII, at most 63 characters. A unit past it was
/// exported as given (a backend may refuse the whole request for it);
/// `opentelemetry_sdk` refuses such an instrument, as one with an invalid
/// name, and so does this SDK now: it records nothing and is counted.
#[test]
fn an_instrument_whose_unit_is_not_ascii_or_too_long_records_nothing_and_is_counted() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    meter.u64_counter("ok").with_unit("ms").build().add(1, &[]);
    meter
        .u64_counter("longest")
        .with_unit("u".repeat(63))
        .build()
        .add(1, &[]);
    meter
        .u64_counter("too_long")
        .with_unit("u".repeat(64))
        .build()
        .add(1, &[]);
    meter
        .u64_counter("not_ascii")
        .with_unit("µs")
        .build()
        .add(1, &[]);
    meter
        .f64_observable_gauge("observed")
        .with_unit("°C")
        .with_callback(|observer| observer.observe(1.0, &[]))
        .build();
    let metrics = provider.collect();
    let mut names: Vec<&str> = metrics.iter().map(|metric| metric.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["longest", "ok"]);
    assert_eq!(provider.stats().invalid_instruments, 3);
}

/// Ignored, and counted: every measurement dropped is visible in the stats
/// (it was dropped silently).
#[test]
fn negative_increments_of_a_counter_are_ignored_and_counted() {
    let provider = provider(TemporalityPreference::Cumulative);
    let counter = provider.meter("m").f64_counter("c").build();
    counter.add(2.5, &[]);
    counter.add(-1.0, &[]);
    counter.add(-0.5, &[KeyValue::new("k", 1)]);
    let metrics = provider.collect();
    assert_eq!(sum_points(&metrics[0]).0[0].value, NumberValue::Double(2.5));
    assert_eq!(provider.stats().refused_measurements, 2);
}

#[test]
fn a_nan_increment_of_a_counter_is_ignored_and_counted_not_summed_for_good() {
    // Before: NaN is not below zero, so a counter took it, and its running
    // total was NaN at every collection after (NaN plus anything is NaN),
    // for as long as the process lived.
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = provider(preference);
        let counter = provider.meter("m").f64_counter("c").build();
        counter.add(2.5, &[]);
        counter.add(f64::NAN, &[]);
        counter.add(-f64::NAN, &[]);
        let first = provider.collect();
        assert_eq!(
            sum_points(&first[0]).0[0].value,
            NumberValue::Double(2.5),
            "{preference:?}"
        );
        counter.add(1.0, &[]);
        let second = provider.collect();
        let expected = match preference {
            TemporalityPreference::Cumulative => 3.5,
            _ => 1.0,
        };
        assert_eq!(
            sum_points(&second[0]).0[0].value,
            NumberValue::Double(expected),
            "{preference:?}"
        );
        assert_eq!(provider.stats().refused_measurements, 2);
    }
}

/// An observable counter's or up-down counter's callback that observed NaN
/// or an infinity exported it as the series' total (and, with delta
/// temporality, a NaN delta at the next collection too): refused and
/// counted, as the synchronous sums refuse them. An observable gauge still
/// reports them: its next value replaces them.
#[test]
fn non_finite_observations_of_observable_sums_are_ignored_and_counted() {
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = provider(preference);
        let meter = provider.meter("m");
        let round = Arc::new(AtomicU64::new(0));
        let (r1, r2, r3) = (round.clone(), round.clone(), round.clone());
        meter
            .f64_observable_counter("counter")
            .with_callback(move |observer| {
                let total = 10.0 * (r1.load(Ordering::Relaxed) + 1) as f64;
                observer.observe(total, &[]);
                observer.observe(f64::NAN, &[KeyValue::new("k", "nan")]);
                observer.observe(f64::INFINITY, &[KeyValue::new("k", "inf")]);
            })
            .build();
        meter
            .f64_observable_up_down_counter("up_down")
            .with_callback(move |observer| {
                let level = if r2.load(Ordering::Relaxed) == 0 {
                    f64::NEG_INFINITY
                } else {
                    3.0
                };
                observer.observe(level, &[]);
            })
            .build();
        meter
            .f64_observable_gauge("gauge")
            .with_callback(move |observer| {
                let _ = r3.load(Ordering::Relaxed);
                observer.observe(f64::NAN, &[]);
            })
            .build();
        let first = provider.collect();
        let (points, ..) = sum_points(find(&first, "counter"));
        assert_eq!(points.len(), 1, "{preference:?}: {points:?}");
        assert_eq!(points[0].value, NumberValue::Double(10.0), "{preference:?}");
        assert!(
            first.iter().all(|m| m.name != "up_down")
                || sum_points(find(&first, "up_down")).0.is_empty(),
            "{preference:?}: {first:#?}"
        );
        let MetricData::Gauge(gauge) = &find(&first, "gauge").data else {
            panic!("not a gauge");
        };
        assert!(matches!(gauge.data_points[0].value, NumberValue::Double(v) if v.is_nan()));
        // Counter: NaN and +Inf; up-down counter: -Inf.
        assert_eq!(provider.stats().refused_measurements, 3, "{preference:?}");

        round.store(1, Ordering::Relaxed);
        let second = provider.collect();
        let (points, ..) = sum_points(find(&second, "counter"));
        let expected = match preference {
            TemporalityPreference::Cumulative => 20.0,
            _ => 10.0,
        };
        assert_eq!(points.len(), 1, "{preference:?}: {points:?}");
        assert_eq!(
            points[0].value,
            NumberValue::Double(expected),
            "{preference:?}"
        );
        let (points, ..) = sum_points(find(&second, "up_down"));
        assert_eq!(points[0].value, NumberValue::Double(3.0), "{preference:?}");
        assert_eq!(provider.stats().refused_measurements, 5, "{preference:?}");
    }
}

/// A float sum took NaN (up-down counters) and the infinities (counters and
/// up-down counters): its running total was NaN or infinite at every later
/// collection, for the process's life (and +Inf then -Inf made it NaN).
/// Every instrument whose streams sum or make a histogram now refuses
/// non-finite values and counts them; a gauge, whose last value may be NaN
/// or infinite and is replaced by the next, still takes them.
#[test]
fn non_finite_measurements_of_float_sums_are_ignored_and_counted_not_summed_for_good() {
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = MeterProvider::builder()
            .with_temporality(preference)
            .with_view(View::new("gauge_summed").with_aggregation(Aggregation::Sum))
            .build()
            .expect("provider");
        let meter = provider.meter("m");
        let counter = meter.f64_counter("counter").build();
        let up_down = meter.f64_up_down_counter("up_down").build();
        let histogram = meter.f64_histogram("histogram").build();
        let gauge = meter.f64_gauge("gauge").build();
        let gauge_summed = meter.f64_gauge("gauge_summed").build();
        counter.add(2.5, &[]);
        counter.add(f64::INFINITY, &[]);
        counter.add(f64::NEG_INFINITY, &[]);
        up_down.add(1.5, &[]);
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            up_down.add(value, &[]);
            histogram.record(value, &[]);
            gauge_summed.record(value, &[]);
        }
        histogram.record(4.0, &[]);
        gauge_summed.record(2.0, &[]);
        gauge.record(f64::INFINITY, &[]);
        let first = provider.collect();
        let value = |metrics: &[Metric], name: &str| sum_points(find(metrics, name)).0[0].value;
        assert_eq!(
            value(&first, "counter"),
            NumberValue::Double(2.5),
            "{preference:?}"
        );
        assert_eq!(
            value(&first, "up_down"),
            NumberValue::Double(1.5),
            "{preference:?}"
        );
        assert_eq!(
            value(&first, "gauge_summed"),
            NumberValue::Double(2.0),
            "{preference:?}"
        );
        let MetricData::Histogram(data) = &find(&first, "histogram").data else {
            panic!("not a histogram");
        };
        assert_eq!(
            (data.data_points[0].count, data.data_points[0].sum),
            (1, Some(4.0))
        );
        let MetricData::Gauge(data) = &find(&first, "gauge").data else {
            panic!("not a gauge");
        };
        assert_eq!(
            data.data_points[0].value,
            NumberValue::Double(f64::INFINITY)
        );
        // Counter: +Inf and -Inf; up-down counter, histogram and the summed
        // gauge: NaN, +Inf and -Inf. The plain gauge's infinity is its value.
        assert_eq!(provider.stats().refused_measurements, 11, "{preference:?}");

        counter.add(1.0, &[]);
        up_down.add(-0.5, &[]);
        let second = provider.collect();
        let (counter_expected, up_down_expected) = match preference {
            TemporalityPreference::Cumulative => (3.5, 1.0),
            // Up-down counters stay cumulative under `delta`.
            _ => (1.0, 1.0),
        };
        assert_eq!(
            value(&second, "counter"),
            NumberValue::Double(counter_expected),
            "{preference:?}"
        );
        assert_eq!(
            value(&second, "up_down"),
            NumberValue::Double(up_down_expected),
            "{preference:?}"
        );
    }
}

/// The maximum of -0.0 and 0.0 is 0.0 and their minimum -0.0 (IEEE 754's
/// `maximum` and `minimum`), whichever came first: a histogram given -0.0
/// then 0.0 reported a maximum of -0.0, and given 0.0 then -0.0 a minimum
/// of 0.0 (a comparison `>` or `<` never moves past an equal zero).
#[test]
fn the_min_and_max_of_signed_zeros_do_not_depend_on_their_order() {
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = MeterProvider::builder()
            .with_temporality(preference)
            .with_view(View::new("exponential").with_aggregation(Aggregation::base2_exponential()))
            .build()
            .expect("provider");
        let meter = provider.meter("m");
        let explicit = meter.f64_histogram("explicit").build();
        let exponential = meter.f64_histogram("exponential").build();
        let orders = [
            ("negative_first", [-0.0, 0.0]),
            ("positive_first", [0.0, -0.0]),
        ];
        for histogram in [&explicit, &exponential] {
            for (order, values) in orders {
                for value in values {
                    histogram.record(value, &[KeyValue::new("order", order)]);
                }
            }
        }
        // A second collection: the cumulative totals merge the intervals'.
        let mut collections = vec![provider.collect()];
        for histogram in [&explicit, &exponential] {
            for (order, values) in orders {
                histogram.record(values[1], &[KeyValue::new("order", order)]);
            }
        }
        collections.push(provider.collect());
        for (round, metrics) in collections.iter().enumerate() {
            if preference == TemporalityPreference::Delta && round == 1 {
                // One value per series in the second interval.
                continue;
            }
            let mut min_max: Vec<(String, Option<f64>, Option<f64>)> = Vec::new();
            match &find(metrics, "explicit").data {
                MetricData::Histogram(data) => min_max.extend(
                    data.data_points
                        .iter()
                        .map(|p| (format!("explicit {:?}", p.attributes), p.min, p.max)),
                ),
                other => panic!("not a histogram: {other:?}"),
            }
            match &find(metrics, "exponential").data {
                MetricData::ExponentialHistogram(data) => min_max.extend(
                    data.data_points
                        .iter()
                        .map(|p| (format!("exponential {:?}", p.attributes), p.min, p.max)),
                ),
                other => panic!("not exponential: {other:?}"),
            }
            for (what, min, max) in min_max {
                let (min, max) = (min.expect("min"), max.expect("max"));
                assert_eq!(
                    (min.to_bits(), max.to_bits()),
                    ((-0.0f64).to_bits(), 0.0f64.to_bits()),
                    "{preference:?} collection {round} {what}: min {min:?}, max {max:?}"
                );
            }
        }
    }
}

/// Counts the data points of each request; fails the first `fail` attempts.
#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    points: AtomicU64,
}

#[derive(Clone, Default)]
struct Counting(Arc<Counts>);

impl std::ops::Deref for Counting {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.0
    }
}

impl Exporter for Counting {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.points
            .fetch_add(request.span_count as u64, Ordering::Relaxed);
        ExportOutcome::Success
    }
}

/// A provider whose one reader exports only when asked (flush, shutdown),
/// each export given `timeout` (the reader's default when `None`).
fn provider_exporting_when_asked<E: Exporter>(
    exporter: E,
    timeout: Option<Duration>,
) -> MeterProvider {
    let mut reader = PeriodicReader::builder(exporter).with_interval(Duration::from_secs(3600));
    if let Some(timeout) = timeout {
        reader = reader.with_timeout(timeout);
    }
    MeterProvider::builder()
        .with_reader(reader.build().expect("reader"))
        .build()
        .expect("provider")
}

/// An exporter whose export waits until the test opens its gate, then
/// accepts.
#[derive(Clone)]
struct Gated {
    open: Arc<tokio::sync::Semaphore>,
    entered: Arc<AtomicU64>,
}

impl Exporter for Gated {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let _permit = self.open.acquire().await;
        ExportOutcome::Success
    }
}

fn assert_metrics_balanced(stats: &otlp_sdk::metrics::MetricsStats) {
    assert_eq!(
        stats.produced_data_points,
        stats.exported_data_points
            + stats.rejected_data_points
            + stats.failed_data_points
            + stats.in_flight_data_points,
        "{stats:?}"
    );
}

/// A shutdown that runs out of time while an export hangs counts the data
/// points in flight failed: after it, nothing is in flight, as
/// `MetricsStats` promises; what the export does later is not counted again.
/// Before, they stayed in flight after shutdown had returned.
#[test]
fn a_shutdown_out_of_time_counts_what_is_in_flight_failed_and_nothing_after() {
    let exporter = Gated {
        open: Arc::new(tokio::sync::Semaphore::new(0)),
        entered: Arc::default(),
    };
    let provider = provider_exporting_when_asked(exporter.clone(), Some(Duration::from_secs(3600)));
    let counter = provider.meter("m").u64_counter("c").build();
    for k in 0..3 {
        counter.add(1, &[KeyValue::new("k", k)]);
    }
    // The shutdown's own collection hangs in the exporter: its deadline passes.
    let error = provider
        .shutdown(Duration::from_millis(200))
        .expect_err("the export hangs");
    assert!(matches!(error, MetricsError::Timeout(_)), "{error:?}");
    let stats = provider.stats();
    assert_eq!(
        (
            stats.produced_data_points,
            stats.in_flight_data_points,
            stats.failed_data_points,
            stats.exported_data_points
        ),
        (3, 0, 3, 0),
        "{stats:?}"
    );
    // The request given up on is settled (failed) by the time shutdown
    // returns, as its data points are: counted at once, not whenever the
    // reader's thread gets to it.
    assert_eq!(stats.exports, 1, "{stats:?}");
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("3 data points in flight counted failed")),
        "{stats:?}"
    );
    // The export ends after all: it is not counted a second time.
    exporter.open.add_permits(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while provider.stats().exports == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = provider.stats();
    assert_eq!(after.exports, 1, "the export ended: {after:?}");
    assert_eq!(
        (
            after.exported_data_points,
            after.failed_data_points,
            after.in_flight_data_points
        ),
        (0, 3, 0),
        "{after:?}"
    );
    assert_metrics_balanced(&after);
}

/// Hangs in every export and in its own shutdown (a backend that accepts
/// connections and never answers, and an exporter that waits for it).
#[derive(Clone)]
struct HangsAtShutdown;

impl Exporter for HangsAtShutdown {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        std::future::pending().await
    }

    async fn shutdown(&self) {
        std::future::pending::<()>().await
    }
}

/// A flush after a shutdown that ran out of time while the exporter's own
/// shutdown hangs waited its whole timeout (the reader thread is still in
/// that shutdown) and answered `Timeout`: the provider is shut down, which
/// it answers at once now, as after a shutdown that succeeded.
#[test]
fn a_flush_after_a_shutdown_that_ran_out_of_time_answers_shut_down() {
    let provider = provider_exporting_when_asked(HangsAtShutdown, Some(Duration::from_secs(3600)));
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    let error = provider
        .shutdown(Duration::from_millis(200))
        .expect_err("the export hangs");
    assert!(matches!(error, MetricsError::Timeout(_)), "{error:?}");
    let flushed = provider.force_flush(Duration::from_secs(5));
    assert!(
        matches!(flushed, Err(MetricsError::ShutDown)),
        "{flushed:?}"
    );
}

/// Refuses every export for good. Dropped by the reader's thread as the
/// thread ends, it holds that thread until told to go on (or `hold` has
/// passed), then notes that its drop is done.
struct RefusesAndHoldsWhenDropped {
    go_on: crossbeam_channel::Receiver<()>,
    hold: Duration,
    dropped: Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter for RefusesAndHoldsWhenDropped {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Permanent {
            error: otlp_sdk::ExportError::Server {
                status: "HTTP 400".into(),
                message: "refused".into(),
            },
        }
    }
}

impl Drop for RefusesAndHoldsWhenDropped {
    fn drop(&mut self) {
        let _ = self.go_on.recv_timeout(self.hold);
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// A shutdown whose final export fails (`Undelivered`) got its answer from
/// the reader's thread, as one that succeeds does: it joins the thread, so
/// that the thread has run to its end (its exporter dropped) when shutdown
/// returns. Before, only a shutdown answered `Ok` joined it; after a refused
/// final export the thread was left to end on its own.
#[test]
fn a_shutdown_whose_final_export_fails_joins_the_reader_thread() {
    let (tell_looked, looked) = crossbeam_channel::bounded(1);
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let provider = provider_exporting_when_asked(
        RefusesAndHoldsWhenDropped {
            go_on: looked,
            hold: Duration::from_secs(3),
            dropped: dropped.clone(),
        },
        Some(Duration::from_secs(30)),
    );
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    let error = provider
        .shutdown(Duration::from_secs(60))
        .expect_err("the final export is refused");
    assert!(
        matches!(error, MetricsError::Undelivered { failed: 1, .. }),
        "{error:?}"
    );
    let thread_ended = dropped.load(Ordering::SeqCst);
    let _ = tell_looked.send(());
    assert!(
        thread_ended,
        "the reader's thread still runs (its exporter not dropped) after shutdown returned"
    );
}

/// Shutdown returns by its deadline even when the reader's thread, having
/// answered, blocks in dropping its exporter: the thread is joined only if
/// it ends before the deadline, and is left to end on its own otherwise.
/// Before, shutdown joined it without a limit and returned only once the
/// exporter's drop was done.
#[test]
fn a_shutdown_returns_by_its_deadline_while_the_exporters_drop_blocks() {
    let (go_on_sender, go_on) = crossbeam_channel::bounded(1);
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let provider = provider_exporting_when_asked(
        RefusesAndHoldsWhenDropped {
            go_on,
            hold: Duration::from_secs(10),
            dropped: dropped.clone(),
        },
        Some(Duration::from_secs(30)),
    );
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    // Room for the final export on a loaded machine; the drop holds for 10 s.
    let error = provider
        .shutdown(Duration::from_secs(3))
        .expect_err("the final export is refused");
    let drop_done = dropped.load(Ordering::SeqCst);
    let _ = go_on_sender.send(());
    assert!(
        matches!(error, MetricsError::Undelivered { failed: 1, .. }),
        "{error:?}"
    );
    assert!(
        !drop_done,
        "shutdown waited for the exporter's drop, past its deadline"
    );
}

/// Panics on its first export, accepts every later one.
#[derive(Clone, Default)]
struct PanicsOnce(Arc<AtomicU64>);

impl Exporter for PanicsOnce {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the exporter's own bug");
        }
        ExportOutcome::Success
    }
}

/// An exporter that panics fails its request, as in the span pipeline:
/// the reader goes on. Before, the panic ended the reader's thread: the data
/// points of that export stayed in flight for good (after shutdown too),
/// the flush answered `ShutDown`, and nothing was collected again.
#[test]
fn an_exporter_that_panics_fails_its_data_points_and_the_reader_goes_on() {
    let exporter = PanicsOnce::default();
    let provider = provider_exporting_when_asked(exporter.clone(), None);
    let counter = provider.meter("m").u64_counter("c").build();
    for k in 0..3 {
        counter.add(1, &[KeyValue::new("k", k)]);
    }
    let error = provider
        .force_flush(Duration::from_secs(30))
        .expect_err("the export panicked");
    assert_eq!(
        error,
        MetricsError::Undelivered {
            failed: 3,
            rejected: 0
        }
    );
    let stats = provider.stats();
    assert_eq!(
        (stats.failed_data_points, stats.in_flight_data_points),
        (3, 0),
        "{stats:?}"
    );
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("the exporter's own bug")),
        "{stats:?}"
    );
    // The reader is still there: the next collection is exported.
    counter.add(1, &[KeyValue::new("k", 0)]);
    provider
        .shutdown(Duration::from_secs(30))
        .expect("the next export is accepted");
    let after = provider.stats();
    assert_metrics_balanced(&after);
    assert_eq!(
        (
            after.failed_data_points,
            after.exported_data_points,
            after.in_flight_data_points
        ),
        (3, 3, 0),
        "{after:?}"
    );
}

/// Flushes asked while an export hangs, each given up by its caller at its
/// timeout, waited in the reader's command queue (without bound) and each
/// ran a collection and an export of its own once the export ended: 20 such
/// flushes made 20 more exports, and a shutdown asked then waited behind
/// them. Flushes waiting together are answered by one collection (and a
/// shutdown waiting with them, by its final one).
#[test]
fn flushes_asked_while_an_export_hangs_share_one_collection_afterwards() {
    let exporter = Gated {
        open: Arc::new(tokio::sync::Semaphore::new(0)),
        entered: Arc::default(),
    };
    let provider = provider_exporting_when_asked(exporter.clone(), None);
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    let short = Duration::from_millis(10);
    assert_eq!(
        provider.force_flush(short),
        Err(MetricsError::Timeout(short))
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while exporter.entered.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        exporter.entered.load(Ordering::SeqCst),
        1,
        "no export began"
    );
    for _ in 0..20 {
        assert_eq!(
            provider.force_flush(short),
            Err(MetricsError::Timeout(short))
        );
    }
    exporter.open.add_permits(1_000);
    provider
        .shutdown(Duration::from_secs(60))
        .expect("shutdown");
    // The hung export, one for the 20 flushes, one for the shutdown (or
    // none, if it waited with the flushes).
    let exports = exporter.entered.load(Ordering::SeqCst);
    assert!(exports <= 3, "{exports} exports");
    let stats = provider.stats();
    assert_eq!(stats.exports, exports, "{stats:?}");
    assert_metrics_balanced(&stats);
}

/// While an export hangs, its data points are counted in flight, so that
/// the counts add up at any moment; they could not (nothing counted what a
/// collection handed to the exporter).
#[test]
fn data_points_being_exported_are_counted_in_flight_and_the_counts_add_up() {
    let exporter = Gated {
        open: Arc::new(tokio::sync::Semaphore::new(0)),
        entered: Arc::default(),
    };
    let provider = Arc::new(provider_exporting_when_asked(exporter.clone(), None));
    let counter = provider.meter("m").u64_counter("c").build();
    for k in 0..3 {
        counter.add(1, &[KeyValue::new("k", k)]);
    }
    let flushing = {
        let provider = provider.clone();
        std::thread::spawn(move || provider.force_flush(Duration::from_secs(60)))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while exporter.entered.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        exporter.entered.load(Ordering::SeqCst),
        1,
        "no export began"
    );
    let stats = provider.stats();
    assert_eq!(
        (
            stats.produced_data_points,
            stats.in_flight_data_points,
            stats.exported_data_points
        ),
        (3, 3, 0),
        "{stats:?}"
    );
    assert_metrics_balanced(&stats);

    exporter.open.add_permits(1_000);
    flushing.join().expect("flush thread").expect("flush");
    let stats = provider.stats();
    assert_eq!(
        (stats.in_flight_data_points, stats.exported_data_points),
        (0, 3)
    );
    assert_metrics_balanced(&stats);

    counter.add(1, &[KeyValue::new("k", 0)]);
    provider
        .shutdown(Duration::from_secs(10))
        .expect("shutdown");
    let stats = provider.stats();
    assert_eq!(stats.in_flight_data_points, 0, "{stats:?}");
    assert_eq!(
        stats.produced_data_points, stats.exported_data_points,
        "{stats:?}"
    );
    assert_metrics_balanced(&stats);
}

#[test]
fn the_periodic_reader_exports_at_its_interval_on_flush_and_at_shutdown() {
    let exporter = Counting::default();
    let reader = PeriodicReader::builder(exporter.clone())
        .with_interval(Duration::from_millis(50))
        .build()
        .expect("reader");
    let provider = MeterProvider::builder()
        .with_reader(reader)
        .build()
        .expect("provider");
    let counter = provider.meter("m").u64_counter("c").build();
    counter.add(1, &[KeyValue::new("k", 1)]);
    counter.add(1, &[KeyValue::new("k", 2)]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while exporter.requests.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        exporter.requests.load(Ordering::Relaxed) >= 1,
        "no export at the interval"
    );
    provider.force_flush(Duration::from_secs(5)).expect("flush");
    provider.shutdown(Duration::from_secs(5)).expect("shutdown");
    let stats = provider.stats();
    assert_eq!(
        stats.exported_data_points,
        exporter.points.load(Ordering::Relaxed)
    );
    assert_eq!(stats.exports, exporter.requests.load(Ordering::Relaxed));
    assert_eq!(stats.exported_data_points, 2 * stats.exports, "{stats:?}");
    // After shutdown: nothing recorded, nothing more exported, a second shutdown refused.
    counter.add(1, &[]);
    assert_eq!(
        provider.shutdown(Duration::from_secs(1)),
        Err(MetricsError::ShutDown)
    );
}

/// A provider that goes out of scope without a shutdown (the end of
/// `main`) exports what was recorded since the last export, as a dropped
/// span or log pipeline does. Before, the reader's thread ended when the
/// provider was dropped and the last interval was lost without a word:
/// never collected, so in no count.
#[test]
fn a_provider_dropped_without_shutdown_exports_what_it_recorded() {
    let exporter = Counting::default();
    let provider = provider_exporting_when_asked(exporter.clone(), None);
    let counter = provider.meter("m").u64_counter("c").build();
    counter.add(1, &[KeyValue::new("k", 1)]);
    counter.add(1, &[KeyValue::new("k", 2)]);
    drop(counter);
    drop(provider);
    assert_eq!(
        (
            exporter.requests.load(Ordering::Relaxed),
            exporter.points.load(Ordering::Relaxed)
        ),
        (1, 2),
        "the last interval's points, exported once by the drop"
    );
}

#[test]
fn a_reader_refuses_an_exporter_of_another_signal() {
    struct Spans;
    impl Exporter for Spans {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }
        async fn export(&self, _: ExportRequest) -> ExportOutcome {
            ExportOutcome::Success
        }
    }
    let error = PeriodicReader::builder(Spans)
        .build()
        .expect_err("traces exporter");
    assert_eq!(error, MetricsError::WrongSignal(Signal::Traces));
}

/// A reader built in code is checked as the span and log pipelines built in
/// code are: a zero export timeout (every export failed without an attempt),
/// a retry policy without backoff (retries without a pause to the deadline)
/// or a request cap of 0 or past 64 MiB (every metric failed as too large,
/// or requests past the OTLP limit) are refused, naming the key and the
/// value. They were accepted, and the reader then lost every data point.
#[test]
fn a_reader_refuses_a_zero_timeout_a_retry_without_backoff_or_a_bad_request_cap() {
    struct Accept;
    impl Exporter for Accept {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }
        fn signal(&self) -> Signal {
            Signal::Metrics
        }
        async fn export(&self, _: ExportRequest) -> ExportOutcome {
            ExportOutcome::Success
        }
    }
    let no_backoff = otlp_sdk::RetryPolicy {
        initial_backoff: Duration::ZERO,
        ..otlp_sdk::RetryPolicy::default()
    };
    let cases = [
        (
            PeriodicReader::builder(Accept).with_timeout(Duration::ZERO),
            "metrics.export_timeout",
            "0ms",
            "must be longer than 0",
        ),
        (
            PeriodicReader::builder(Accept).with_retry(no_backoff),
            "retry.initial_backoff",
            "0ms",
            "must be longer than 0",
        ),
        (
            PeriodicReader::builder(Accept).with_max_request_bytes(0),
            "performance.max_request_bytes",
            "0",
            "must be at least 1",
        ),
        (
            PeriodicReader::builder(Accept).with_max_request_bytes(64 * 1024 * 1024 + 1),
            "performance.max_request_bytes",
            "67108865",
            "64 MiB",
        ),
    ];
    for (builder, key, value, reason) in cases {
        let error = builder.build().expect_err(key);
        let MetricsError::InvalidReaderSetting(config) = &error else {
            panic!("{key}: {error:?}");
        };
        let otlp_sdk::config::ConfigError::InvalidValue {
            key: named,
            value: given,
            reason: why,
            ..
        } = config
        else {
            panic!("{key}: {config:?}");
        };
        assert_eq!((named.as_str(), given.as_str()), (key, value), "{error}");
        assert!(why.contains(reason), "{key}: {why}");
        assert!(error.to_string().contains(key), "{error}");
    }
    // What `OTEL_METRIC_EXPORT_TIMEOUT=0` means (no limit) and the largest
    // request are accepted.
    assert!(
        PeriodicReader::builder(Accept)
            .with_timeout(otlp_sdk::config::NO_TIMEOUT)
            .with_max_request_bytes(64 * 1024 * 1024)
            .with_retry(otlp_sdk::RetryPolicy::disabled())
            .build()
            .is_ok()
    );
}

#[test]
fn a_span_pipelines_counts_become_collector_style_metrics() {
    struct Accept;
    impl Exporter for Accept {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }
        async fn export(&self, _: ExportRequest) -> ExportOutcome {
            ExportOutcome::Success
        }
    }
    let processor = otlp_sdk::BatchSpanProcessor::builder(Accept)
        .build()
        .expect("span pipeline");
    let tracer_provider = otlp_sdk::TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    for _ in 0..3 {
        tracer_provider.tracer("t").start("work").end();
    }
    tracer_provider
        .force_flush(Duration::from_secs(10))
        .expect("flush");
    let provider = provider(TemporalityPreference::Cumulative);
    let watched = processor.clone();
    otlp_sdk::metrics::observe_pipeline(
        &provider.meter("otlp-sdk"),
        Signal::Traces,
        vec![KeyValue::new("pipeline", "main")],
        move || watched.stats(),
    );
    let metrics = provider.collect();
    let attributes = [
        KeyValue::new("pipeline", "main"),
        KeyValue::new("signal", "traces"),
    ];
    let (sent, _, monotonic) = sum_points(find(&metrics, "otelcol_exporter_sent_spans"));
    assert!(monotonic);
    assert_eq!(value_of(sent, &attributes), NumberValue::Int(3));
    let (produced, _, _) = sum_points(find(&metrics, "otlp_sdk_produced_spans"));
    assert_eq!(value_of(produced, &attributes), NumberValue::Int(3));
    // The byte account: every byte of the three spans answered, none pending.
    let stats = processor.stats();
    assert!(stats.bytes.produced > 0 && stats.bytes.answered == stats.bytes.produced);
    let bytes = |name: &str| {
        let (points, _, monotonic) = sum_points(find(&metrics, name));
        assert!(monotonic, "{name}");
        value_of(points, &attributes)
    };
    let answered = NumberValue::Int(stats.bytes.answered as i64);
    assert_eq!(bytes("otlp_sdk_record_bytes_produced"), answered);
    assert_eq!(bytes("otlp_sdk_record_bytes_answered"), answered);
    assert_eq!(bytes("otlp_sdk_record_bytes_dropped"), NumberValue::Int(0));
    assert_eq!(bytes("otlp_sdk_record_bytes_failed"), NumberValue::Int(0));
    let MetricData::Gauge(in_flight) = &find(&metrics, "otlp_sdk_record_bytes_in_flight").data
    else {
        panic!("bytes in flight is not a gauge");
    };
    assert_eq!(
        value_of(&in_flight.data_points, &attributes),
        NumberValue::Int(0)
    );
    let MetricData::Gauge(queue) = &find(&metrics, "otelcol_exporter_queue_size").data else {
        panic!("queue size is not a gauge");
    };
    assert_eq!(
        value_of(&queue.data_points, &attributes),
        NumberValue::Int(0)
    );
    tracer_provider
        .shutdown(Duration::from_secs(10))
        .expect("shutdown");
}

/// A pipeline's counts move while a collection reads them. Each of the
/// sixteen instruments called `stats` on its own, so one collection's points
/// came from sixteen snapshots and did not add up (`produced` read before
/// `sent`, say); and the records in flight had no instrument at all. Now
/// `stats` is called once per collection, and the points of one collection
/// satisfy the accounting identity, in flight included.
#[test]
fn one_collections_pipeline_points_come_from_one_snapshot_and_add_up() {
    let provider = provider(TemporalityPreference::Cumulative);
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    otlp_sdk::metrics::observe_pipeline(
        &provider.meter("otlp-sdk"),
        Signal::Logs,
        Vec::new(),
        move || {
            // A pipeline that took 100 more records since the last read, each
            // read consistent in itself.
            let n = counted.fetch_add(1, Ordering::Relaxed) + 1;
            otlp_sdk::StatsSnapshot {
                produced: 100 * n,
                exported: 100 * n - 10,
                failed: 1,
                dropped: 2,
                rejected: 3,
                queued: 2,
                in_flight: 2,
                ..otlp_sdk::StatsSnapshot::default()
            }
        },
    );
    for collection in 1..=2 {
        let metrics = provider.collect();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            collection,
            "stats read once per collection"
        );
        let attributes = [KeyValue::new("signal", "logs")];
        let counter = |name: &str| match value_of(sum_points(find(&metrics, name)).0, &attributes) {
            NumberValue::Int(value) => value,
            other => panic!("{name}: {other:?}"),
        };
        let gauge = |name: &str| {
            let MetricData::Gauge(gauge) = &find(&metrics, name).data else {
                panic!("{name} is not a gauge");
            };
            match value_of(&gauge.data_points, &attributes) {
                NumberValue::Int(value) => value,
                other => panic!("{name}: {other:?}"),
            }
        };
        assert_eq!(
            counter("otlp_sdk_produced_log_records"),
            counter("otelcol_exporter_sent_log_records")
                + counter("otelcol_exporter_send_failed_log_records")
                + counter("otelcol_exporter_enqueue_failed_log_records")
                + counter("otlp_sdk_exporter_rejected_log_records")
                + gauge("otelcol_exporter_queue_size")
                + gauge("otlp_sdk_exporter_in_flight"),
            "collection {collection}"
        );
    }
}

/// Two collections of one provider may run at once (a pull exporter's
/// `collect` on another thread beside the reader's). Each must report from
/// one snapshot of its own: the one read first by the other collection must
/// not make it read `stats` again, half its points from each read. Here a
/// second collection runs on another thread (and ends) between the first
/// collection's first pipeline instrument and its second one.
#[test]
fn two_collections_at_once_each_report_from_one_snapshot() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("otlp-sdk");
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    otlp_sdk::metrics::observe_pipeline(&meter, Signal::Logs, Vec::new(), move || {
        let n = counted.fetch_add(1, Ordering::Relaxed) + 1;
        otlp_sdk::StatsSnapshot {
            produced: 100 * n,
            exported: 100 * n - 4,
            queued: 4,
            ..otlp_sdk::StatsSnapshot::default()
        }
    });
    // One more callback on the pipeline's first instrument (an identical
    // registration): it runs right after the pipeline's own, and the first
    // time runs a whole collection on another thread.
    let other = Arc::new(std::sync::Mutex::new(Some(provider.clone())));
    let other_metrics = Arc::new(std::sync::Mutex::new(Vec::new()));
    let _sent = meter
        .u64_observable_counter("otelcol_exporter_sent_log_records")
        .with_description("Records accepted by the backend")
        .with_unit("{log_record}")
        .with_callback({
            let other_metrics = other_metrics.clone();
            move |_| {
                let Some(other) = other.lock().unwrap().take() else {
                    return;
                };
                let metrics = std::thread::spawn(move || other.collect())
                    .join()
                    .expect("the other collection");
                *other_metrics.lock().unwrap() = metrics;
            }
        })
        .build();
    let first = provider.collect();
    let second = std::mem::take(&mut *other_metrics.lock().unwrap());
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "stats read once per collection"
    );
    let attributes = [KeyValue::new("signal", "logs")];
    for (which, metrics) in [("first", &first), ("second", &second)] {
        let counter = |name: &str| match value_of(sum_points(find(metrics, name)).0, &attributes) {
            NumberValue::Int(value) => value,
            other => panic!("{name}: {other:?}"),
        };
        let MetricData::Gauge(queue) = &find(metrics, "otelcol_exporter_queue_size").data else {
            panic!("not a gauge");
        };
        let NumberValue::Int(queued) = value_of(&queue.data_points, &attributes) else {
            panic!("not an int");
        };
        assert_eq!(
            counter("otlp_sdk_produced_log_records"),
            counter("otelcol_exporter_sent_log_records") + queued,
            "the {which} collection's points"
        );
    }
}

/// A program watching its span and its log pipeline on one meter: the
/// instruments whose names carry no record word (the queue gauges, the byte
/// counts) are the same instruments for both signals, told apart by the
/// `signal` attribute. Registered with a unit naming the signal's records,
/// the second pipeline's queue gauges were duplicate registrations in
/// conflict (another unit), exported as a second metric of the same name.
#[test]
fn a_span_and_a_log_pipeline_observed_on_one_meter_share_their_queue_gauges() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("otlp-sdk");
    for (signal, queued) in [(Signal::Traces, 2), (Signal::Logs, 5)] {
        otlp_sdk::metrics::observe_pipeline(&meter, signal, Vec::new(), move || {
            otlp_sdk::StatsSnapshot {
                queued,
                ..otlp_sdk::StatsSnapshot::default()
            }
        });
    }
    let metrics = provider.collect();
    assert_eq!(provider.stats().conflicting_instruments, 0);
    let mut names: Vec<&str> = metrics.iter().map(|metric| metric.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a metric name twice: {names:?}");
    let queue = find(&metrics, "otelcol_exporter_queue_size");
    let MetricData::Gauge(gauge) = &queue.data else {
        panic!("queue size is not a gauge");
    };
    for (signal, queued) in [("traces", 2), ("logs", 5)] {
        assert_eq!(
            value_of(&gauge.data_points, &[KeyValue::new("signal", signal)]),
            NumberValue::Int(queued)
        );
    }
}

/// The Collector names a metrics pipeline's record counts `metric_points`
/// (`otelcol_exporter_sent_metric_points`), as `otlp-contrib`'s Prometheus
/// exposition writes them; they were `..._data_points`, a name no Collector
/// dashboard knows. The `otlp_sdk_` names keep OTLP's `data_points`.
#[test]
fn a_metrics_pipelines_counts_take_the_collectors_metric_points_names() {
    let provider = provider(TemporalityPreference::Cumulative);
    otlp_sdk::metrics::observe_pipeline(
        &provider.meter("otlp-sdk"),
        Signal::Metrics,
        Vec::new(),
        || otlp_sdk::StatsSnapshot {
            produced: 3,
            exported: 2,
            failed: 1,
            ..otlp_sdk::StatsSnapshot::default()
        },
    );
    let metrics = provider.collect();
    let attributes = [KeyValue::new("signal", "metrics")];
    for (name, expected) in [
        ("otelcol_exporter_sent_metric_points", 2),
        ("otelcol_exporter_send_failed_metric_points", 1),
        ("otelcol_exporter_enqueue_failed_metric_points", 0),
        ("otlp_sdk_exporter_rejected_data_points", 0),
        ("otlp_sdk_produced_data_points", 3),
    ] {
        let (points, _, monotonic) = sum_points(find(&metrics, name));
        assert!(monotonic, "{name}");
        assert_eq!(
            value_of(points, &attributes),
            NumberValue::Int(expected),
            "{name}"
        );
    }
}

/// What `otlp-contrib`'s pipeline builds for a metrics exporter `none`: an
/// exporter that stands for it (counting what would reach it).
#[derive(Clone, Default)]
struct StandsForNone(Counting);

impl Exporter for StandsForNone {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn stands_for_none(&self) -> bool {
        true
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.0.export(request).await
    }
}

#[test]
fn a_disabled_provider_records_nothing_and_never_starts_its_reader() {
    // OTEL_SDK_DISABLED: whatever reader is given in code.
    disabled_provider_records_nothing("OTEL_SDK_DISABLED", "true", false);
    // `none`: a reader standing for it (what the configuration alone
    // builds) never starts, and with no other the instruments stay off.
    disabled_provider_records_nothing("OTEL_METRICS_EXPORTER", "none", true);
}

fn metrics_config(variable: &str, value: &str) -> otlp_sdk::config::Config {
    otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([(variable, value)])
        .load()
        .expect("config")
}

#[test]
fn otel_metrics_exporter_none_leaves_a_reader_given_in_code_its_metrics() {
    // Before: `OTEL_METRICS_EXPORTER=none` disabled the provider, so a
    // reader the program gave in code never started and its exporter got
    // no request, though the variable only says that configuration sets up
    // no exporter.
    let config = metrics_config("OTEL_METRICS_EXPORTER", "none");
    let exporter = Counting::default();
    let reader = PeriodicReader::builder(exporter.clone())
        .with_config(&config)
        .with_interval(Duration::from_secs(3600))
        .build()
        .expect("reader");
    let provider = MeterProvider::builder()
        .with_config(&config)
        .with_reader(reader)
        .build()
        .expect("provider");
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    provider
        .force_flush(Duration::from_secs(10))
        .expect("flush");
    assert_eq!(exporter.requests.load(Ordering::Relaxed), 1);
    assert_eq!(exporter.points.load(Ordering::Relaxed), 1);
    provider
        .shutdown(Duration::from_secs(10))
        .expect("shutdown");

    // Beside it, a reader standing for the `none` never starts: the one
    // given in code exports.
    let stand_in = StandsForNone::default();
    let reader = PeriodicReader::builder(stand_in.clone())
        .with_config(&config)
        .build()
        .expect("reader");
    assert!(reader.stands_for_none());
    let provider = MeterProvider::builder()
        .with_reader(reader)
        .with_config(&config)
        .build()
        .expect("provider");
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    assert!(
        provider.collect().is_empty(),
        "nothing reads: nothing recorded"
    );
    provider
        .force_flush(Duration::from_secs(10))
        .expect("flush");
    assert_eq!(stand_in.0.requests.load(Ordering::Relaxed), 0);

    // A program that reads by `collect` alone asks for recording in code.
    let provider = MeterProvider::builder()
        .with_config(&config)
        .with_disabled(false)
        .build()
        .expect("provider");
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    assert_eq!(provider.collect().len(), 1);
}

#[test]
fn a_provider_refuses_a_second_reader_rather_than_leave_one_unread() {
    // Before: a second `with_reader` replaced the first without a word, and
    // the first reader's exporter never got a request.
    let first = Counting::default();
    let second = Counting::default();
    let reader = |exporter: &Counting| {
        PeriodicReader::builder(exporter.clone())
            .with_interval(Duration::from_secs(3600))
            .build()
            .expect("reader")
    };
    let error = MeterProvider::builder()
        .with_reader(reader(&first))
        .with_reader(reader(&second))
        .build()
        .expect_err("two readers");
    assert_eq!(error, MetricsError::SeveralReaders(2));
    assert!(error.to_string().contains("2 metric readers"), "{error}");

    // With `OTEL_METRICS_EXPORTER=none` the reader standing for it is left
    // out, whatever the order: the one given in code exports.
    let config = metrics_config("OTEL_METRICS_EXPORTER", "none");
    let stand_in = StandsForNone::default();
    let provider = MeterProvider::builder()
        .with_config(&config)
        .with_reader(
            PeriodicReader::builder(stand_in.clone())
                .with_config(&config)
                .build()
                .expect("reader"),
        )
        .with_reader(reader(&first))
        .build()
        .expect("provider");
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    provider
        .force_flush(Duration::from_secs(10))
        .expect("flush");
    assert_eq!(first.requests.load(Ordering::Relaxed), 1);
    assert_eq!(stand_in.0.requests.load(Ordering::Relaxed), 0);
    provider
        .shutdown(Duration::from_secs(10))
        .expect("shutdown");
}

fn disabled_provider_records_nothing(variable: &str, value: &str, stand_in: bool) {
    let config = metrics_config(variable, value);
    let exporter = Counting::default();
    let reader = if stand_in {
        PeriodicReader::builder(StandsForNone(exporter.clone()))
            .with_config(&config)
            .with_interval(Duration::from_millis(10))
            .build()
    } else {
        PeriodicReader::builder(exporter.clone())
            .with_config(&config)
            .with_interval(Duration::from_millis(10))
            .build()
    }
    .expect("reader");
    let provider = MeterProvider::builder()
        .with_config(&config)
        .with_reader(reader)
        .build()
        .expect("provider");
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    std::thread::sleep(Duration::from_millis(50));
    assert!(provider.collect().is_empty());
    provider.force_flush(Duration::from_secs(1)).expect("flush");
    assert_eq!(exporter.requests.load(Ordering::Relaxed), 0);
    provider
        .shutdown(Duration::from_secs(1))
        .expect("a disabled provider shuts down");
}

#[test]
fn the_cardinality_limit_admits_as_many_attribute_sets_as_it_names_before_overflowing() {
    // The spec: "The SDK MUST provide the guarantee that overflow would not
    // happen if the maximum number of distinct, non-overflow attribute sets
    // is less than or equal to the limit."
    let provider = MeterProvider::builder()
        .with_cardinality_limit(3)
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let counter = meter.u64_counter("hits").build();
    meter
        .u64_observable_gauge("open")
        .with_callback(|observer| {
            for user in 0..3 {
                observer.observe(1, &[KeyValue::new("user", user)]);
            }
        })
        .build();
    for user in 0..3 {
        counter.add(1, &[KeyValue::new("user", user)]);
    }
    let metrics = provider.collect();
    let (points, _, _) = sum_points(find(&metrics, "hits"));
    assert_eq!(points.len(), 3, "{points:#?}");
    assert!(
        points
            .iter()
            .all(|point| point.attributes != [KeyValue::new(OVERFLOW_ATTRIBUTE, true)])
    );
    let MetricData::Gauge(open) = &find(&metrics, "open").data else {
        panic!("open is not a gauge");
    };
    assert_eq!(open.data_points.len(), 3, "{:#?}", open.data_points);
    assert_eq!(provider.stats().overflowed_measurements, 0);

    // One set more: the overflow series takes it.
    counter.add(1, &[KeyValue::new("user", 3)]);
    let metrics = provider.collect();
    let (points, _, _) = sum_points(find(&metrics, "hits"));
    assert_eq!(points.len(), 4);
    assert_eq!(
        value_of(points, &[KeyValue::new(OVERFLOW_ATTRIBUTE, true)]),
        NumberValue::Int(1)
    );
    assert_eq!(provider.stats().overflowed_measurements, 1);
}

#[test]
fn under_lowmemory_a_gauge_reports_its_last_value_at_every_collection() {
    // `lowmemory` makes only synchronous Counter and Histogram delta (the
    // spec's table; opentelemetry_sdk keeps Gauge cumulative under it): a
    // gauge set once is still reported by the next collection.
    let provider = provider(TemporalityPreference::LowMemory);
    let gauge = provider.meter("m").i64_gauge("pool.size").build();
    gauge.record(8, &[]);
    let first = provider.collect();
    let second = provider.collect();
    for (collection, metrics) in [first, second].iter().enumerate() {
        let metric = metrics
            .iter()
            .find(|metric| metric.name.as_str() == "pool.size")
            .unwrap_or_else(|| panic!("no gauge in collection {collection}: {metrics:#?}"));
        let MetricData::Gauge(gauge) = &metric.data else {
            panic!("not a gauge");
        };
        assert_eq!(gauge.data_points[0].value, NumberValue::Int(8));
    }
}

#[test]
fn histograms_of_instruments_that_record_negative_values_carry_no_sum() {
    // The spec, explicit bucket and exponential histogram aggregations: the
    // sum "SHOULD NOT be collected when used with instruments that record
    // negative measurements (e.g. UpDownCounter or ObservableGauge)".
    let provider = MeterProvider::builder()
        .with_view(View::new("queue.depth").with_aggregation(Aggregation::explicit_default()))
        .with_view(View::new("temperature").with_aggregation(Aggregation::base2_exponential()))
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let depth = meter.i64_up_down_counter("queue.depth").build();
    depth.add(3, &[]);
    depth.add(-2, &[]);
    let temperature = meter.f64_gauge("temperature").build();
    temperature.record(-4.5, &[]);
    let latency = meter.f64_histogram("latency").build();
    latency.record(2.0, &[]);
    let metrics = provider.collect();
    let MetricData::Histogram(depth) = &find(&metrics, "queue.depth").data else {
        panic!("not a histogram");
    };
    assert_eq!(depth.data_points[0].count, 2);
    assert_eq!(depth.data_points[0].sum, None);
    let MetricData::ExponentialHistogram(temperature) = &find(&metrics, "temperature").data else {
        panic!("not an exponential histogram");
    };
    assert_eq!(temperature.data_points[0].count, 1);
    assert_eq!(temperature.data_points[0].sum, None);
    // A histogram instrument keeps its sum.
    let MetricData::Histogram(latency) = &find(&metrics, "latency").data else {
        panic!("not a histogram");
    };
    assert_eq!(latency.data_points[0].sum, Some(2.0));
}

#[test]
fn a_delta_exponential_histogram_starts_each_interval_at_the_maximum_scale() {
    // The spec: "Use the maximum scale for single measurements" and
    // "Maintain the ideal scale"; opentelemetry_sdk starts every delta
    // interval with a fresh point at max_scale.
    let provider = MeterProvider::builder()
        .with_temporality(TemporalityPreference::Delta)
        .with_default_histogram_aggregation(
            DefaultHistogramAggregation::Base2ExponentialBucketHistogram,
        )
        .build()
        .expect("provider");
    let histogram = provider.meter("m").f64_histogram("d").build();
    histogram.record(1.0, &[]);
    histogram.record(1e12, &[]);
    let wide = provider.collect();
    let MetricData::ExponentialHistogram(wide) = &find(&wide, "d").data else {
        panic!("not exponential");
    };
    assert!(wide.data_points[0].scale < 20, "{wide:?}");
    histogram.record(1.5, &[]);
    let single = provider.collect();
    let MetricData::ExponentialHistogram(single) = &find(&single, "d").data else {
        panic!("not exponential");
    };
    let point = &single.data_points[0];
    assert_eq!(point.count, 1);
    assert_eq!(point.scale, 20, "{point:?}");
    assert_eq!(point.positive.bucket_counts, vec![1]);
}

#[test]
fn an_observable_instruments_cardinality_limit_counts_the_sets_of_one_collection() {
    // Sets observed once and never again must not fill the limit for good:
    // an observable instrument reports only what its callback observed, so
    // the limit applies to the sets of each callback run (opentelemetry_sdk
    // starts each collection of an observable instrument afresh).
    let provider = MeterProvider::builder()
        .with_cardinality_limit(3)
        .build()
        .expect("provider");
    let round = Arc::new(AtomicI64::new(0));
    let seen = round.clone();
    provider
        .meter("m")
        .i64_observable_gauge("connections")
        .with_callback(move |observer| {
            let round = seen.load(Ordering::Relaxed);
            for peer in 0..3 {
                observer.observe(round, &[KeyValue::new("peer", round * 10 + peer)]);
            }
        })
        .build();
    for collection in 0..3 {
        round.store(collection, Ordering::Relaxed);
        let metrics = provider.collect();
        let MetricData::Gauge(gauge) = &find(&metrics, "connections").data else {
            panic!("not a gauge");
        };
        let mut peers: Vec<NumberValue> = gauge
            .data_points
            .iter()
            .map(|point| {
                assert_eq!(point.attributes.len(), 1, "{point:?}");
                match &point.attributes[0].value {
                    otlp_core::AnyValue::Int(peer) => NumberValue::Int(*peer),
                    other => panic!("not a peer: {other:?} in collection {collection}"),
                }
            })
            .collect();
        peers.sort_by_key(|peer| match peer {
            NumberValue::Int(peer) => *peer,
            NumberValue::Double(_) => 0,
        });
        let expected: Vec<NumberValue> = (0..3)
            .map(|peer| NumberValue::Int(collection * 10 + peer))
            .collect();
        assert_eq!(peers, expected, "collection {collection}");
    }
    assert_eq!(provider.stats().overflowed_measurements, 0);
}

#[test]
fn identical_observable_instruments_are_aggregated_into_one_metric() {
    // The spec: "the SDK MUST aggregate data from identical Instruments
    // together in its export pipeline".
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    for shard in 0..2 {
        meter
            .u64_observable_counter("bytes")
            .with_unit("By")
            .with_callback(move |observer| {
                observer.observe(10 + shard, &[KeyValue::new("shard", shard as i64)])
            })
            .build();
    }
    let metrics = provider.collect();
    let named: Vec<&Metric> = metrics
        .iter()
        .filter(|metric| metric.name.as_str() == "bytes")
        .collect();
    assert_eq!(named.len(), 1, "{named:#?}");
    let (points, _, _) = sum_points(named[0]);
    assert_eq!(
        value_of(points, &[KeyValue::new("shard", 0)]),
        NumberValue::Int(10)
    );
    assert_eq!(
        value_of(points, &[KeyValue::new("shard", 1)]),
        NumberValue::Int(11)
    );
}

/// Keeps every request body a reader exports.
#[derive(Clone, Default)]
struct Capturing(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Exporter for Capturing {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        self.0
            .lock()
            .expect("capture lock")
            .push(request.body.to_vec());
        ExportOutcome::Success
    }
}

impl Capturing {
    /// A provider whose reader exports here, at flushes only.
    fn provider(&self, temporality: TemporalityPreference) -> MeterProvider {
        let reader = PeriodicReader::builder(self.clone())
            .with_interval(Duration::from_secs(3600))
            .build()
            .expect("reader");
        MeterProvider::builder()
            .with_temporality(temporality)
            .with_reader(reader)
            .build()
            .expect("provider")
    }

    /// Flushes `provider` and decodes the request it exported.
    fn flushed_request(
        &self,
        provider: &MeterProvider,
    ) -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use prost::Message;

        provider
            .force_flush(Duration::from_secs(10))
            .expect("flush");
        let body = self
            .0
            .lock()
            .expect("capture lock")
            .pop()
            .expect("the flush exported a request");
        ExportMetricsServiceRequest::decode(body.as_slice()).expect("valid protobuf")
    }

    /// Flushes `provider` and decodes the request it exported: the `as_int`
    /// of each point of the sum `name`, and whether the sum is monotonic.
    fn flushed_ints(&self, provider: &MeterProvider, name: &str) -> (Vec<i64>, bool) {
        use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

        let request = self.flushed_request(provider);
        let metric = request
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .find(|metric| metric.name == name)
            .unwrap_or_else(|| panic!("no metric {name} in {request:#?}"));
        let Some(metric::Data::Sum(sum)) = &metric.data else {
            panic!("{name} is not a sum: {metric:#?}");
        };
        let ints = sum
            .data_points
            .iter()
            .map(|point| match point.value {
                Some(number_data_point::Value::AsInt(value)) => value,
                other => panic!("not an integer point: {other:?}"),
            })
            .collect();
        (ints, sum.is_monotonic)
    }
}

#[test]
fn a_u64_counter_past_the_largest_exportable_int_stays_there_and_never_goes_negative() {
    // `as_int` is an sfixed64: a u64 counter's sum saturates at i64::MAX.
    // It wrapped: two `add(u64::MAX)` exported -2.
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let exporter = Capturing::default();
        let provider = exporter.provider(preference);
        let counter = provider.meter("m").u64_counter("bytes").build();
        counter.add(u64::MAX, &[]);
        counter.add(u64::MAX, &[]);
        let (ints, monotonic) = exporter.flushed_ints(&provider, "bytes");
        assert!(monotonic);
        assert_eq!(ints, [i64::MAX], "{preference:?}, first interval");

        // Three in one interval overflow even a u64 accumulator.
        for _ in 0..3 {
            counter.add(u64::MAX, &[]);
        }
        counter.add(1, &[]);
        let (ints, _) = exporter.flushed_ints(&provider, "bytes");
        assert_eq!(ints, [i64::MAX], "{preference:?}, second interval");

        // A cumulative total that reached the top stays there.
        counter.add(5, &[]);
        let (ints, _) = exporter.flushed_ints(&provider, "bytes");
        let expected = match preference {
            TemporalityPreference::Cumulative => i64::MAX,
            _ => 5,
        };
        assert_eq!(ints, [expected], "{preference:?}, third interval");
        provider
            .shutdown(Duration::from_secs(10))
            .expect("shutdown");
    }
}

#[test]
fn observable_u64_counters_adding_up_past_the_largest_exportable_int_stay_there() {
    let exporter = Capturing::default();
    let provider = exporter.provider(TemporalityPreference::Cumulative);
    // Identical instruments are aggregated into one metric: two callbacks
    // add up for the same attribute set.
    let meter = provider.meter("m");
    for _ in 0..2 {
        meter
            .u64_observable_counter("bytes")
            .with_callback(|observer| observer.observe(u64::MAX, &[]))
            .build();
    }
    let (ints, monotonic) = exporter.flushed_ints(&provider, "bytes");
    assert!(monotonic);
    assert_eq!(ints, [i64::MAX]);
    provider
        .shutdown(Duration::from_secs(10))
        .expect("shutdown");
}

#[test]
fn a_callback_that_panics_once_does_not_make_its_sets_report_their_whole_total_as_a_delta() {
    // Two callbacks of one observable counter; the second panics in the
    // second collection. Before: its set, not observed then, was forgotten,
    // and the third collection reported its whole total (120) as the
    // delta, not the 20 it grew since the first.
    let provider = provider(TemporalityPreference::Delta);
    let meter = provider.meter("process");
    let round = Arc::new(AtomicU64::new(0));
    meter
        .u64_observable_counter("jobs")
        .with_callback(|observer| observer.observe(7, &[KeyValue::new("queue", "a")]))
        .build();
    let r = round.clone();
    meter
        .u64_observable_counter("jobs")
        .with_callback(move |observer| {
            let round = r.load(Ordering::Relaxed);
            assert_ne!(round, 1, "the second collection's callback fails");
            observer.observe(100 + 10 * round, &[KeyValue::new("queue", "b")]);
        })
        .build();
    let b = [KeyValue::new("queue", "b")];
    let first = provider.collect();
    let (points, _, _) = sum_points(find(&first, "jobs"));
    assert_eq!(value_of(points, &b), NumberValue::Int(100));
    let first_time = points[0].time_unix_nano;
    round.store(1, Ordering::Relaxed);
    let second = provider.collect();
    let (points, _, _) = sum_points(find(&second, "jobs"));
    assert!(
        points.iter().all(|point| point.attributes != b),
        "{points:#?}"
    );
    assert_eq!(provider.stats().callback_panics, 1);
    round.store(2, Ordering::Relaxed);
    let third = provider.collect();
    let (points, _, _) = sum_points(find(&third, "jobs"));
    let point = points
        .iter()
        .find(|point| point.attributes == b)
        .expect("queue b");
    assert_eq!(point.value, NumberValue::Int(20), "{point:#?}");
    // The delta covers the time since the total it is taken from.
    assert_eq!(point.start_time_unix_nano, first_time);
}

/// Callbacks given to one builder ran as one: a panic in one of them
/// dropped what every other callback of the builder observed in that
/// collection, before and after it. Each is isolated now, as callbacks of
/// separate registrations were: the panic is caught and counted, and the
/// others report.
#[test]
fn a_panicking_callback_does_not_silence_the_other_callbacks_of_its_builder() {
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = provider(preference);
        provider
            .meter("process")
            .u64_observable_counter("jobs")
            .with_callback(|observer| observer.observe(7, &[KeyValue::new("queue", "a")]))
            .with_callback(|observer| {
                observer.observe(5, &[KeyValue::new("queue", "b")]);
                panic!("the callback of queue b fails after observing");
            })
            .with_callback(|observer| observer.observe(9, &[KeyValue::new("queue", "c")]))
            .build();
        let metrics = provider.collect();
        let (points, _, _) = sum_points(find(&metrics, "jobs"));
        assert_eq!(points.len(), 2, "{preference:?} {points:#?}");
        assert_eq!(
            value_of(points, &[KeyValue::new("queue", "a")]),
            NumberValue::Int(7)
        );
        assert_eq!(
            value_of(points, &[KeyValue::new("queue", "c")]),
            NumberValue::Int(9)
        );
        assert_eq!(provider.stats().callback_panics, 1, "{preference:?}");
    }
}

#[test]
fn an_observable_counter_whose_total_drops_reports_a_reset_not_a_negative_delta() {
    for preference in [
        TemporalityPreference::Delta,
        TemporalityPreference::Cumulative,
    ] {
        let provider = provider(preference);
        let total = Arc::new(AtomicU64::new(100));
        let t = total.clone();
        provider
            .meter("process")
            .u64_observable_counter("cpu.time")
            .with_callback(move |observer| observer.observe(t.load(Ordering::Relaxed), &[]))
            .build();
        let first = provider.collect();
        let first = sum_points(find(&first, "cpu.time")).0[0].clone();
        total.store(130, Ordering::Relaxed);
        let second = provider.collect();
        let second = sum_points(find(&second, "cpu.time")).0[0].clone();
        // The counter was reset, and counted 20 since.
        total.store(20, Ordering::Relaxed);
        let third = provider.collect();
        let (points, temporality, monotonic) = sum_points(find(&third, "cpu.time"));
        assert!(monotonic);
        let third = points[0].clone();
        // The reset happened after the second collection: the series starts
        // again there.
        assert_eq!(third.start_time_unix_nano, second.time_unix_nano);
        assert_eq!(third.value, NumberValue::Int(20), "{preference:?}");
        total.store(25, Ordering::Relaxed);
        let fourth = provider.collect();
        let fourth = sum_points(find(&fourth, "cpu.time")).0[0].clone();
        match temporality {
            Temporality::Delta => {
                assert_eq!(second.value, NumberValue::Int(30));
                assert_eq!(fourth.value, NumberValue::Int(5));
                assert_eq!(fourth.start_time_unix_nano, third.time_unix_nano);
            }
            _ => {
                assert_eq!(second.start_time_unix_nano, first.start_time_unix_nano);
                assert_eq!(fourth.value, NumberValue::Int(25));
                // The cumulative series keeps its new start.
                assert_eq!(fourth.start_time_unix_nano, second.time_unix_nano);
            }
        }
    }
}

#[test]
fn a_delta_stream_forgets_sets_idle_for_an_interval_so_new_sets_get_series_of_their_own() {
    const LIMIT: i64 = 4;
    let provider = MeterProvider::builder()
        .with_temporality(TemporalityPreference::Delta)
        .with_cardinality_limit(LIMIT as usize)
        .build()
        .expect("provider");
    let counter = provider.meter("shop").u64_counter("orders").build();
    let old: Vec<_> = (0..LIMIT).map(|i| [KeyValue::new("old", i)]).collect();
    for set in &old {
        counter.add(1, set);
    }
    let first = provider.collect();
    let (points, _, _) = sum_points(find(&first, "orders"));
    assert_eq!(points.len(), LIMIT as usize);
    // An interval without any of them: nothing to report.
    assert!(
        provider
            .collect()
            .iter()
            .all(|metric| metric.name.as_str() != "orders")
    );
    let new: Vec<_> = (0..LIMIT).map(|i| [KeyValue::new("new", i)]).collect();
    for set in &new {
        counter.add(2, set);
    }
    let third = provider.collect();
    let (points, _, _) = sum_points(find(&third, "orders"));
    assert_eq!(points.len(), LIMIT as usize, "{points:#?}");
    for set in &new {
        assert_eq!(value_of(points, set), NumberValue::Int(2));
    }
    assert_eq!(provider.stats().overflowed_measurements, 0);
    // The new sets had the limit in the interval before: a forgotten set
    // is a series again in the next one (the limit counts the sets of one
    // interval; it overflowed here before).
    counter.add(1, &old[0]);
    let fourth = provider.collect();
    let (points, _, _) = sum_points(find(&fourth, "orders"));
    assert_eq!(points.len(), 1, "{points:#?}");
    assert_eq!(value_of(points, &old[0]), NumberValue::Int(1));
    counter.add(5, &old[0]);
    let fifth = provider.collect();
    let (points, _, _) = sum_points(find(&fifth, "orders"));
    assert_eq!(points.len(), 1, "{points:#?}");
    assert_eq!(value_of(points, &old[0]), NumberValue::Int(5));
    assert_eq!(provider.stats().overflowed_measurements, 0);
}

#[test]
fn measurements_racing_delta_collections_that_forget_series_all_arrive() {
    const THREADS: u64 = 3;
    const ROUNDS: u64 = 1000;
    const SETS: u64 = 24;
    let provider = Arc::new(
        MeterProvider::builder()
            .with_temporality(TemporalityPreference::Delta)
            .with_cardinality_limit(8)
            .build()
            .expect("provider"),
    );
    let counter = provider.meter("shop").u64_counter("orders").build();
    let histogram = provider.meter("shop").u64_histogram("sizes").build();
    let running = Arc::new(AtomicU64::new(THREADS));
    let recorders: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (counter, histogram, running) =
                (counter.clone(), histogram.clone(), running.clone());
            std::thread::spawn(move || {
                // Each thread walks its own way through the sets, so that
                // sets go idle, are forgotten and come back while others
                // record.
                for round in 0..ROUNDS {
                    for step in 0..SETS {
                        let set = [KeyValue::new(
                            "set",
                            ((round * (thread + 1) + step * (thread + 2)) % SETS) as i64,
                        )];
                        counter.add(round % 5 + 1, &set);
                        histogram.record(1, &set);
                    }
                }
                running.fetch_sub(1, Ordering::Release);
            })
        })
        .collect();
    let (mut counted, mut recorded) = (0i64, 0u64);
    let mut take = |metrics: Vec<Metric>| {
        for metric in metrics {
            match &metric.data {
                MetricData::Sum(sum) => {
                    for point in &sum.data_points {
                        let NumberValue::Int(value) = point.value else {
                            panic!("not an int: {point:?}");
                        };
                        counted += value;
                    }
                }
                MetricData::Histogram(histogram) => {
                    recorded += histogram
                        .data_points
                        .iter()
                        .map(|point| point.count)
                        .sum::<u64>();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    let mut collections = 0;
    while running.load(Ordering::Acquire) > 0 {
        take(provider.collect());
        collections += 1;
    }
    for recorder in recorders {
        recorder.join().expect("recorder");
    }
    take(provider.collect());
    let per_round: u64 = (0..ROUNDS).map(|round| (round % 5 + 1) * SETS).sum();
    assert_eq!(
        counted,
        (THREADS * per_round) as i64,
        "{collections} collections"
    );
    assert_eq!(
        recorded,
        THREADS * ROUNDS * SETS,
        "{collections} collections"
    );
}

/// The spec: a Meter "SHOULD emit an error notifying the user and proceed
/// as if the parameter was not provided" when an advisory parameter is not
/// valid; such histograms recorded nothing.
#[test]
fn invalid_advised_boundaries_are_ignored_and_the_histogram_keeps_the_default_ones() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    let unsorted = meter
        .f64_histogram("unsorted")
        .with_boundaries(vec![10.0, 1.0])
        .build();
    let not_a_number = meter
        .u64_histogram("not_a_number")
        .with_boundaries(vec![1.0, f64::NAN])
        .build();
    unsorted.record(3.0, &[]);
    not_a_number.record(3, &[]);
    let metrics = provider.collect();
    for name in ["unsorted", "not_a_number"] {
        let MetricData::Histogram(histogram) = &find(&metrics, name).data else {
            panic!("{name} is not a histogram");
        };
        let point = &histogram.data_points[0];
        assert_eq!(
            point.explicit_bounds, DEFAULT_HISTOGRAM_BOUNDARIES,
            "{name}"
        );
        assert_eq!(point.count, 1, "{name}");
    }
    let stats = provider.stats();
    assert_eq!((stats.invalid_instruments, stats.ignored_advice), (0, 2));
}

/// Meters are identified by name, version, schema URL and attributes (the
/// API spec: distinct when "at least one parameter has a different value"),
/// and distinct meters are separate namespaces of instruments. Meters
/// differing only in schema URL or attributes shared one instrument,
/// exported under the first meter's scope.
#[test]
fn meters_differing_only_in_schema_url_or_attributes_export_their_own_scopes() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
    use otlp_core::InstrumentationScope;
    use prost::Message;

    let capture = Capturing::default();
    let provider = capture.provider(TemporalityPreference::Cumulative);
    let scope = || InstrumentationScope::new("lib").with_version("1.0");
    let meters = [
        provider.meter_with_scope(scope()),
        provider
            .meter_with_scope(scope().with_schema_url("https://opentelemetry.io/schemas/1.26.0")),
        provider.meter_with_scope(scope().with_attributes([KeyValue::new("shard", 7)])),
    ];
    for (meter, value) in meters.iter().zip([1, 10, 100]) {
        meter.u64_counter("requests").build().add(value, &[]);
    }
    // The same meter again, attributes in another order: one instrument.
    let two = || scope().with_attributes([KeyValue::new("a", 1), KeyValue::new("b", 2)]);
    provider
        .meter_with_scope(two())
        .u64_counter("requests")
        .build()
        .add(1000, &[]);
    let mut reordered = two();
    reordered.attributes.reverse();
    provider
        .meter_with_scope(reordered)
        .u64_counter("requests")
        .build()
        .add(1000, &[]);

    provider
        .force_flush(Duration::from_secs(10))
        .expect("flush");
    let body = capture
        .0
        .lock()
        .expect("capture lock")
        .pop()
        .expect("the flush exported a request");
    let request = ExportMetricsServiceRequest::decode(body.as_slice()).expect("valid protobuf");
    // Per scope: its schema URL, its attributes and its one sum's value.
    type ScopeSummary = (String, Vec<(String, i64)>, i64);
    let mut scopes: Vec<ScopeSummary> = request
        .resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .map(|scope_metrics| {
            let scope = scope_metrics.scope.as_ref().expect("a scope");
            assert_eq!(
                (scope.name.as_str(), scope.version.as_str()),
                ("lib", "1.0")
            );
            let attributes = scope
                .attributes
                .iter()
                .map(
                    |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::IntValue(int)) => (kv.key.clone(), *int),
                        other => panic!("not an int attribute: {other:?}"),
                    },
                )
                .collect();
            assert_eq!(scope_metrics.metrics.len(), 1, "{scope_metrics:#?}");
            let Some(metric::Data::Sum(sum)) = &scope_metrics.metrics[0].data else {
                panic!("not a sum: {scope_metrics:#?}");
            };
            let Some(number_data_point::Value::AsInt(value)) = sum.data_points[0].value else {
                panic!("not an int point: {sum:#?}");
            };
            (scope_metrics.schema_url.clone(), attributes, value)
        })
        .collect();
    scopes.sort_by_key(|scope| scope.2);
    assert_eq!(
        scopes,
        vec![
            (String::new(), vec![], 1),
            ("https://opentelemetry.io/schemas/1.26.0".into(), vec![], 10),
            (String::new(), vec![("shard".into(), 7)], 100),
            (String::new(), vec![("a".into(), 1), ("b".into(), 2)], 2000),
        ]
    );
}

/// The spec: a View whose application "would produce semantic errors (for
/// example, configuring an asynchronous instrument to use the Explicit
/// bucket histogram aggregation)" is skipped: "proceed as if that View did
/// not exist". Its rename, key filter and limit applied with the default
/// aggregation.
#[test]
fn a_histogram_view_selecting_an_observable_instrument_is_ignored_whole() {
    let provider = MeterProvider::builder()
        .with_view(
            View::new("temperature")
                .rename("temperature.histogram")
                .with_aggregation(Aggregation::explicit_default())
                .with_attribute_keys(["room"]),
        )
        .with_view(
            View::new("queue.depth")
                .rename("queue.depth.histogram")
                .with_aggregation(Aggregation::base2_exponential()),
        )
        .with_view(View::new("queue.depth").rename("queue.depth.renamed"))
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    meter
        .i64_observable_gauge("temperature")
        .with_callback(|observer| {
            observer.observe(21, &[KeyValue::new("room", "a"), KeyValue::new("floor", 1)])
        })
        .build();
    meter
        .i64_observable_up_down_counter("queue.depth")
        .with_callback(|observer| observer.observe(5, &[]))
        .build();
    let metrics = provider.collect();
    let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let MetricData::Gauge(gauge) = &find(&metrics, "temperature").data else {
        panic!("temperature is not a gauge");
    };
    assert_eq!(
        gauge.data_points[0].attributes,
        vec![KeyValue::new("floor", 1), KeyValue::new("room", "a")]
    );
    find(&metrics, "queue.depth.renamed");
    assert_eq!(provider.stats().ignored_views, 2);
}

/// The spec's exemplar defaults: a base-2 exponential histogram "SHOULD use
/// a SimpleFixedSizeExemplarReservoir with a reservoir equal to the smaller
/// of the maximum number of buckets configured on the aggregation or
/// twenty". It kept one exemplar.
#[test]
fn exponential_histograms_keep_up_to_twenty_exemplars_or_max_size_if_smaller() {
    let provider = MeterProvider::builder()
        .with_default_histogram_aggregation(
            DefaultHistogramAggregation::Base2ExponentialBucketHistogram,
        )
        .with_view(
            View::new("small").with_aggregation(Aggregation::Base2ExponentialHistogram {
                max_size: 4,
                max_scale: 20,
                record_min_max: true,
            }),
        )
        .with_exemplar_filter(ExemplarFilter::AlwaysOn)
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let (large, small, few) = (
        meter.f64_histogram("large").build(),
        meter.f64_histogram("small").build(),
        meter.f64_histogram("few").build(),
    );
    for value in 1..=50 {
        large.record(f64::from(value), &[]);
        small.record(f64::from(value), &[]);
    }
    for value in [1.0, 2.0, 3.0] {
        few.record(value, &[]);
    }
    let exemplar_values = |metrics: &[Metric], name: &str| {
        let MetricData::ExponentialHistogram(histogram) = &find(metrics, name).data else {
            panic!("{name} is not exponential");
        };
        let mut values: Vec<f64> = histogram.data_points[0]
            .exemplars
            .iter()
            .map(|exemplar| match exemplar.value {
                NumberValue::Double(value) => value,
                other => panic!("not a double: {other:?}"),
            })
            .collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        values
    };
    let metrics = provider.collect();
    let large_values = exemplar_values(&metrics, "large");
    assert_eq!(large_values.len(), 20, "{large_values:?}");
    assert!(
        large_values
            .iter()
            .all(|value| (1.0..=50.0).contains(value))
    );
    assert_eq!(exemplar_values(&metrics, "small").len(), 4);
    assert_eq!(exemplar_values(&metrics, "few"), vec![1.0, 2.0, 3.0]);
}

/// Histograms leave NaN and infinities out of their counts (the spec: not
/// incorporated into sum, min and max); they were still offered as
/// exemplars, where an infinity took the place of the last bucket's finite
/// exemplar (a point with an exemplar it did not count).
#[test]
fn measurements_a_histogram_leaves_out_do_not_become_exemplars() {
    let provider = MeterProvider::builder()
        .with_view(View::new("exponential").with_aggregation(Aggregation::base2_exponential()))
        .with_exemplar_filter(ExemplarFilter::AlwaysOn)
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let explicit = meter.f64_histogram("explicit").build();
    let exponential = meter.f64_histogram("exponential").build();
    for histogram in [&explicit, &exponential] {
        histogram.record(20_000.0, &[]);
        histogram.record(f64::INFINITY, &[]);
        histogram.record(f64::NAN, &[]);
        histogram.record(f64::NEG_INFINITY, &[]);
    }
    let metrics = provider.collect();
    let MetricData::Histogram(data) = &find(&metrics, "explicit").data else {
        panic!("not a histogram");
    };
    let point = &data.data_points[0];
    assert_eq!(point.count, 1);
    let values: Vec<NumberValue> = point.exemplars.iter().map(|e| e.value).collect();
    assert_eq!(values, vec![NumberValue::Double(20_000.0)]);
    let MetricData::ExponentialHistogram(data) = &find(&metrics, "exponential").data else {
        panic!("not exponential");
    };
    let point = &data.data_points[0];
    assert_eq!(point.count, 1);
    let values: Vec<NumberValue> = point.exemplars.iter().map(|e| e.value).collect();
    assert_eq!(values, vec![NumberValue::Double(20_000.0)]);
}

/// The spec's cardinality limit is "a positive integer", and the limit
/// counts the attribute sets that get series of their own (the overflow
/// series comes on top): a limit of 1 keeps one set and the overflow
/// series. It was refused (the minimum 2 came from the rule where the
/// overflow series took a place under the limit).
#[test]
fn a_cardinality_limit_of_one_keeps_one_set_and_the_overflow_series() {
    let provider = MeterProvider::builder()
        .with_cardinality_limit(1)
        .with_view(View::new("by_view").with_cardinality_limit(1))
        .build()
        .expect("a limit of 1 is valid");
    let meter = provider.meter("m");
    let hits = meter.u64_counter("hits").build();
    let by_view = meter.u64_counter("by_view").build();
    meter
        .u64_observable_counter("observed")
        .with_callback(|observer| {
            for user in 0..3 {
                observer.observe(1, &[KeyValue::new("user", user)]);
            }
        })
        .build();
    for user in 0..3 {
        hits.add(1, &[KeyValue::new("user", user)]);
        by_view.add(1, &[KeyValue::new("user", user)]);
    }
    let metrics = provider.collect();
    for name in ["hits", "by_view", "observed"] {
        let (points, _, _) = sum_points(find(&metrics, name));
        assert_eq!(points.len(), 2, "{name}: {points:?}");
        assert_eq!(
            value_of(points, &[KeyValue::new("user", 0)]),
            NumberValue::Int(1)
        );
        assert_eq!(
            value_of(points, &[KeyValue::new(OVERFLOW_ATTRIBUTE, true)]),
            NumberValue::Int(2)
        );
    }
    let error = MeterProvider::builder()
        .with_cardinality_limit(0)
        .build()
        .expect_err("limit 0");
    assert_eq!(error, MetricsError::InvalidCardinalityLimit(0));
}

/// The spec's `MetricReader`: for cumulative temporality, "successive data
/// points received by successive calls to MetricReader.Collect MUST repeat
/// the same starting timestamps", and "these rules apply to all metrics, not
/// just those whose point kinds includes an aggregation temporality field":
/// an observable gauge's too, as its synchronous gauge's and its observable
/// counter's (and `opentelemetry_sdk`'s cumulative gauges) do.
#[test]
fn a_cumulative_observable_gauge_repeats_its_start_time_at_every_collection() {
    use opentelemetry_proto::tonic::metrics::v1::metric;

    let capture = Capturing::default();
    let provider = capture.provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    meter
        .f64_observable_gauge("temperature")
        .with_callback(|observer| observer.observe(21.5, &[KeyValue::new("room", "a")]))
        .build();
    meter
        .u64_observable_counter("ticks")
        .with_callback(|observer| observer.observe(3, &[KeyValue::new("room", "a")]))
        .build();
    // (start, time) of the one point of each metric, per flush.
    let mut gauge = Vec::new();
    let mut counter = Vec::new();
    for _ in 0..3 {
        let request = capture.flushed_request(&provider);
        for metric in request
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
        {
            let (points, into) = match (&metric.data, metric.name.as_str()) {
                (Some(metric::Data::Gauge(data)), "temperature") => (&data.data_points, &mut gauge),
                (Some(metric::Data::Sum(data)), "ticks") => (&data.data_points, &mut counter),
                other => panic!("unexpected metric {other:?}"),
            };
            assert_eq!(points.len(), 1, "{metric:#?}");
            into.push((points[0].start_time_unix_nano, points[0].time_unix_nano));
        }
    }
    assert_eq!((gauge.len(), counter.len()), (3, 3));
    for points in [&counter, &gauge] {
        for (start, time) in points {
            assert_eq!(
                *start, points[0].0,
                "one start time for every point: {points:?}"
            );
            assert!(start <= time, "{points:?}");
        }
    }
}

/// The `AlwaysOn` exemplar filter makes every measurement eligible; an
/// exemplar still carries the span it was taken in (the spec's reservoir
/// is offered the measurement's context and its example exemplar has "the
/// trace/span ID"; `opentelemetry_sdk` keeps them too), sampled or not.
#[test]
fn always_on_exemplars_keep_the_ids_of_the_span_they_were_taken_in() {
    use opentelemetry_proto::tonic::metrics::v1::metric;

    let capture = Capturing::default();
    let reader = PeriodicReader::builder(capture.clone())
        .with_interval(Duration::from_secs(3600))
        .build()
        .expect("reader");
    let provider = MeterProvider::builder()
        .with_exemplar_filter(ExemplarFilter::AlwaysOn)
        .with_reader(reader)
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let counter = meter.u64_counter("orders").build();
    let histogram = meter.f64_histogram("latency").build();
    let sampled = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    let unsampled = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::default());
    active_span::in_span(&sampled, || {
        counter.add(1, &[KeyValue::new("in", "sampled")])
    });
    active_span::in_span(&unsampled, || {
        counter.add(1, &[KeyValue::new("in", "unsampled")]);
    });
    counter.add(1, &[KeyValue::new("in", "none")]);
    active_span::in_span(&sampled, || histogram.record(7.0, &[]));

    let request = capture.flushed_request(&provider);
    let mut ids = Vec::new();
    for metric in request
        .resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
    {
        let exemplars: Vec<_> = match &metric.data {
            Some(metric::Data::Sum(sum)) => {
                sum.data_points.iter().flat_map(|p| &p.exemplars).collect()
            }
            Some(metric::Data::Histogram(histogram)) => histogram
                .data_points
                .iter()
                .flat_map(|p| &p.exemplars)
                .collect(),
            other => panic!("unexpected metric {other:?}"),
        };
        for exemplar in exemplars {
            ids.push((
                metric.name.clone(),
                exemplar.trace_id.clone(),
                exemplar.span_id.clone(),
            ));
        }
    }
    ids.sort();
    let of = |context: &SpanContext| {
        (
            context.trace_id.to_bytes().to_vec(),
            context.span_id.to_bytes().to_vec(),
        )
    };
    let mut expected = vec![
        ("latency".to_string(), of(&sampled).0, of(&sampled).1),
        ("orders".to_string(), of(&sampled).0, of(&sampled).1),
        ("orders".to_string(), of(&unsampled).0, of(&unsampled).1),
        ("orders".to_string(), Vec::new(), Vec::new()),
    ];
    expected.sort();
    assert_eq!(ids, expected);
}

/// Under the `delta` preference both gauges are delta: each point starts at
/// the previous collection, as `opentelemetry_sdk` does (its `Delta`
/// selector makes `Gauge` and `ObservableGauge` delta). The spec's table
/// names no gauge; the synchronous gauge was delta here already, and the
/// observable gauge now matches it. Under `lowmemory` both stay cumulative
/// (one start time for good), as in `opentelemetry_sdk`.
#[test]
fn under_delta_an_observable_gauge_starts_each_point_at_the_previous_collection() {
    use opentelemetry_proto::tonic::metrics::v1::metric;

    for preference in [
        TemporalityPreference::Delta,
        TemporalityPreference::LowMemory,
    ] {
        let capture = Capturing::default();
        let provider = capture.provider(preference);
        let meter = provider.meter("m");
        meter
            .f64_observable_gauge("temperature")
            .with_callback(|observer| observer.observe(21.5, &[KeyValue::new("room", "a")]))
            .build();
        let level = meter.i64_gauge("level").build();
        // (start, time) of the one point of each gauge, per flush.
        let mut observed = Vec::new();
        let mut recorded = Vec::new();
        for round in 0..3 {
            level.record(round, &[KeyValue::new("room", "a")]);
            let request = capture.flushed_request(&provider);
            for metric in request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
            {
                let (points, into) = match (&metric.data, metric.name.as_str()) {
                    (Some(metric::Data::Gauge(data)), "temperature") => {
                        (&data.data_points, &mut observed)
                    }
                    (Some(metric::Data::Gauge(data)), "level") => {
                        (&data.data_points, &mut recorded)
                    }
                    other => panic!("unexpected metric {other:?}"),
                };
                assert_eq!(points.len(), 1, "{metric:#?}");
                into.push((points[0].start_time_unix_nano, points[0].time_unix_nano));
            }
        }
        assert_eq!((observed.len(), recorded.len()), (3, 3), "{preference:?}");
        for points in [&recorded, &observed] {
            for pair in points.windows(2) {
                let ((start, time), (next_start, next_time)) = (pair[0], pair[1]);
                assert!(start <= time && next_start <= next_time, "{points:?}");
                match preference {
                    TemporalityPreference::Delta => assert_eq!(
                        next_start, time,
                        "{preference:?}: a delta point starts at the previous collection: {points:?}"
                    ),
                    _ => assert_eq!(
                        next_start, start,
                        "{preference:?}: a cumulative point repeats its start: {points:?}"
                    ),
                }
            }
        }
    }
}

/// The spec's duplicate instrument registration: an instrument named as
/// one of its meter's (case-insensitively) with another description, unit,
/// kind or number type, not resolved by a view, SHOULD be warned of. Each
/// such registration is counted; identical ones, other meters' and those a
/// view renames or describes are not. The data of both passes through.
#[test]
fn conflicting_duplicate_registrations_are_counted_unless_a_view_resolves_them() {
    let provider = MeterProvider::builder()
        .with_view(View::new("queue.depth").with_description("Jobs waiting"))
        .with_view(
            View::new("inflight")
                .with_kind(InstrumentKind::UpDownCounter)
                .rename("inflight.current"),
        )
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let jobs = || {
        meter
            .u64_counter("jobs")
            .with_description("Jobs done")
            .with_unit("{job}")
    };
    jobs().build().add(1, &[]);
    jobs().build().add(1, &[]);
    meter
        .u64_counter("JOBS")
        .with_description("Jobs done")
        .with_unit("{job}")
        .build()
        .add(1, &[]);
    provider
        .meter("other")
        .u64_counter("jobs")
        .with_unit("s")
        .build()
        .add(1, &[]);
    // Resolved by views: one sets the description, one renames by kind.
    meter.i64_gauge("queue.depth").with_description("a").build();
    meter.i64_gauge("queue.depth").with_description("b").build();
    meter.u64_counter("inflight").build().add(1, &[]);
    meter.i64_up_down_counter("inflight").build().add(1, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 0);

    // Another description: the first instrument, its first description.
    meter
        .u64_counter("jobs")
        .with_description("Other")
        .with_unit("{job}")
        .build()
        .add(1, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 1);
    // Another unit, number type, kind (synchronous or observable).
    meter
        .u64_counter("jobs")
        .with_description("Jobs done")
        .with_unit("s")
        .build()
        .add(1, &[]);
    meter
        .f64_counter("jobs")
        .with_description("Jobs done")
        .with_unit("{job}")
        .build()
        .add(1.0, &[]);
    meter
        .i64_up_down_counter("jobs")
        .with_description("Jobs done")
        .with_unit("{job}")
        .build()
        .add(1, &[]);
    meter
        .u64_observable_counter("Jobs")
        .with_description("Jobs done")
        .with_unit("{job}")
        .with_callback(|observer| observer.observe(1, &[]))
        .build();
    assert_eq!(provider.stats().conflicting_instruments, 5);

    // Every one still records and is exported.
    let metrics = provider.collect();
    let jobs: Vec<&Metric> = metrics
        .iter()
        .filter(|metric| metric.name.eq_ignore_ascii_case("jobs"))
        .collect();
    assert_eq!(jobs.len(), 6, "{jobs:#?}");
    let first = jobs
        .iter()
        .find(|metric| {
            metric.unit.as_str() == "{job}"
                && metric.scope.name.as_str() == "m"
                && matches!(&metric.data, MetricData::Sum(sum) if sum.is_monotonic
                    && matches!(sum.data_points[0].value, NumberValue::Int(_)))
        })
        .expect("the first jobs counter");
    assert_eq!(first.description.as_str(), "Jobs done");
    assert_eq!(sum_points(first).0[0].value, NumberValue::Int(4));
}

/// Views that give two streams one name (two instruments renamed alike, or
/// two views selecting one instrument without renaming it) make two metrics
/// of one identity, exported apart: the spec's "conflicting metric
/// identities", which it asks to warn of. Only a conflict in description,
/// unit, kind or number type was counted: streams alike in all of them
/// were exported twice under one name without a word.
#[test]
fn views_giving_two_streams_one_name_are_counted_as_conflicts() {
    let provider = MeterProvider::builder()
        .with_view(View::new("requests.get").rename("requests"))
        .with_view(View::new("requests.post").rename("requests"))
        .with_view(View::new("latency").with_aggregation(Aggregation::Sum))
        .with_view(View::new("lat*").with_aggregation(Aggregation::LastValue))
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    meter.u64_counter("requests.get").build().add(1, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 0);
    meter.u64_counter("requests.post").build().add(2, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 1);
    meter.f64_histogram("latency").build().record(0.5, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 2);
    // Both still record and are exported.
    let metrics = provider.collect();
    let named = |name: &str| metrics.iter().filter(|m| m.name.as_str() == name).count();
    assert_eq!((named("requests"), named("latency")), (2, 2));
}

#[test]
fn an_observation_naming_the_overflow_set_takes_no_place_under_the_limit() {
    // The spec: no overflow while the distinct non-overflow sets are at
    // most the limit. Before: an observation of `otel.metric.overflow=true`
    // took the one place of a limit of 1, and the set `user=1` overflowed.
    let provider = MeterProvider::builder()
        .with_cardinality_limit(1)
        .build()
        .expect("provider");
    provider
        .meter("m")
        .u64_observable_counter("hits")
        .with_callback(|observer| {
            observer.observe(1, &[KeyValue::new(OVERFLOW_ATTRIBUTE, true)]);
            observer.observe(10, &[KeyValue::new("user", 1)]);
        })
        .build();
    let metrics = provider.collect();
    let (points, _, _) = sum_points(find(&metrics, "hits"));
    assert_eq!(points.len(), 2, "{points:#?}");
    assert_eq!(
        value_of(points, &[KeyValue::new("user", 1)]),
        NumberValue::Int(10)
    );
    assert_eq!(
        value_of(points, &[KeyValue::new(OVERFLOW_ATTRIBUTE, true)]),
        NumberValue::Int(1)
    );
    assert_eq!(provider.stats().overflowed_measurements, 0);
}

#[test]
fn measurements_naming_the_overflow_set_join_the_one_overflow_series() {
    // Before: a synchronous stream gave a set passed as
    // `otel.metric.overflow=true` a series of its own, and the limit's
    // overflow series came beside it: two points with one attribute set in
    // one metric (an observable stream already merged them).
    let overflow = [KeyValue::new(OVERFLOW_ATTRIBUTE, true)];
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let provider = MeterProvider::builder()
            .with_temporality(preference)
            .with_cardinality_limit(1)
            .build()
            .expect("provider");
        let counter = provider.meter("m").u64_counter("hits").build();
        counter.add(1, &overflow);
        counter.add(10, &[KeyValue::new("user", 1)]);
        counter.add(100, &[KeyValue::new("user", 2)]);
        counter.add(1000, &overflow);
        let metrics = provider.collect();
        let (points, _, _) = sum_points(find(&metrics, "hits"));
        let sets: Vec<_> = points.iter().map(|point| &point.attributes).collect();
        assert_eq!(
            sets,
            [&vec![KeyValue::new("user", 1)], &overflow.to_vec()],
            "{preference:?}: {points:#?}"
        );
        assert_eq!(value_of(points, &overflow), NumberValue::Int(1101));
        // Only the set the limit turned away overflowed.
        assert_eq!(provider.stats().overflowed_measurements, 1);
    }
}

/// The spec: "the cardinality limit is a hard limit on the number of Metric
/// Points that can be collected during a collection cycle", with the
/// guarantee that "overflow would not happen if the maximum number of
/// distinct, non-overflow attribute sets is less than or equal to the
/// limit". A delta stream's cycle is one interval: the sets of the
/// interval before take no place in it. Before, a delta stream kept the
/// series of the sets recorded in the previous interval until an interval
/// passed without them, so an interval with as many new sets as the limit
/// sent them all to the overflow series.
#[test]
fn a_delta_streams_limit_counts_the_sets_of_one_interval_only() {
    let provider = MeterProvider::builder()
        .with_temporality(TemporalityPreference::Delta)
        .with_cardinality_limit(2)
        .build()
        .expect("provider");
    let meter = provider.meter("shop");
    let counter = meter.u64_counter("orders").build();
    let histogram = meter.u64_histogram("sizes").build();
    let set = |name: &'static str| [KeyValue::new("payment", name)];
    for interval in [["card", "cash"], ["voucher", "crypto"], ["card", "crypto"]] {
        for name in interval {
            counter.add(3, &set(name));
            histogram.record(7, &set(name));
        }
        let metrics = provider.collect();
        let (points, _, _) = sum_points(find(&metrics, "orders"));
        let mut sets: Vec<_> = points
            .iter()
            .map(|point| point.attributes.clone())
            .collect();
        sets.sort_by_key(|attributes| format!("{attributes:?}"));
        let mut expected: Vec<_> = interval.iter().map(|name| set(name).to_vec()).collect();
        expected.sort_by_key(|attributes| format!("{attributes:?}"));
        assert_eq!(sets, expected, "{interval:?}: {points:#?}");
        for name in interval {
            assert_eq!(value_of(points, &set(name)), NumberValue::Int(3));
        }
        let MetricData::Histogram(sizes) = &find(&metrics, "sizes").data else {
            panic!("sizes is not a histogram");
        };
        assert_eq!(sizes.data_points.len(), 2, "{interval:?}: {sizes:#?}");
        assert_eq!(
            provider.stats().overflowed_measurements,
            0,
            "{interval:?}: {points:#?}"
        );
    }
    // Past the limit within one interval, the overflow series takes the
    // third set, and the next interval starts with room again.
    for name in ["card", "cash", "voucher"] {
        counter.add(1, &set(name));
    }
    let metrics = provider.collect();
    let (points, _, _) = sum_points(find(&metrics, "orders"));
    assert_eq!(points.len(), 3, "{points:#?}");
    assert_eq!(
        value_of(points, &[KeyValue::new(OVERFLOW_ATTRIBUTE, true)]),
        NumberValue::Int(1)
    );
    counter.add(1, &set("voucher"));
    let metrics = provider.collect();
    let (points, _, _) = sum_points(find(&metrics, "orders"));
    assert_eq!(points.len(), 1, "{points:#?}");
    assert_eq!(value_of(points, &set("voucher")), NumberValue::Int(1));
    assert_eq!(provider.stats().overflowed_measurements, 1);
}

/// The spec: "If multiple identical Instruments are created with different
/// advisory parameters, the Meter MUST return an instrument using the
/// first-seen advisory parameters and log an appropriate error as described
/// in duplicate instrument registrations". A histogram asked for again with
/// other advised boundaries (or none, or some after none) was the first one,
/// without a word.
#[test]
fn an_identical_histogram_advised_other_boundaries_keeps_the_first_ones_and_is_counted() {
    let provider = MeterProvider::builder()
        .with_view(
            View::new("sized").with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![1.0],
                record_min_max: true,
            }),
        )
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let advised = |name: &'static str, boundaries: Vec<f64>| {
        meter
            .u64_histogram(name)
            .with_boundaries(boundaries)
            .build()
    };
    advised("latency", vec![10.0, 100.0]).record(5, &[]);
    advised("latency", vec![10.0, 100.0]).record(50, &[]);
    // Invalid advice is no advice (counted in ignored_advice).
    meter.u64_histogram("plain").build().record(1, &[]);
    advised("plain", vec![5.0, 1.0]).record(1, &[]);
    // A view's boundaries win over any advice: nothing to say.
    advised("sized", vec![1.0, 2.0]).record(1, &[]);
    advised("sized", vec![3.0]).record(1, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 0);

    advised("latency", vec![1.0, 2.0]).record(500, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 1);
    meter.u64_histogram("latency").build().record(5, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 2);
    advised("plain", vec![1.0, 2.0]).record(1, &[]);
    assert_eq!(provider.stats().conflicting_instruments, 3);

    let metrics = provider.collect();
    let MetricData::Histogram(latency) = &find(&metrics, "latency").data else {
        panic!("latency is not a histogram");
    };
    assert_eq!(latency.data_points.len(), 1, "{latency:#?}");
    let point = &latency.data_points[0];
    assert_eq!(point.explicit_bounds, vec![10.0, 100.0]);
    assert_eq!(point.bucket_counts, vec![2, 1, 1]);
    let MetricData::Histogram(plain) = &find(&metrics, "plain").data else {
        panic!("plain is not a histogram");
    };
    assert_eq!(
        plain.data_points[0].explicit_bounds,
        DEFAULT_HISTOGRAM_BOUNDARIES
    );
    assert_eq!(plain.data_points[0].count, 3);
}

/// Instrument names are case-insensitive: the spec's name conflict, where
/// "the Meter MUST return an instrument using the first-seen instrument
/// name". An observable instrument asked for again in another case
/// aggregated into the first one, but its handle gave the name asked for.
#[test]
fn an_instrument_asked_for_in_another_case_is_the_first_under_its_first_name() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    let first = meter
        .u64_observable_counter("ticks")
        .with_callback(|observer| observer.observe(1, &[KeyValue::new("cpu", 0)]))
        .build();
    let again = meter
        .u64_observable_counter("Ticks")
        .with_callback(|observer| observer.observe(2, &[KeyValue::new("cpu", 1)]))
        .build();
    assert_eq!(first.name(), "ticks");
    assert_eq!(again.name(), "ticks");
    let gauge = meter
        .f64_observable_gauge("TEMPERATURE")
        .with_callback(|observer| observer.observe(20.5, &[]))
        .build();
    let gauge_again = meter.f64_observable_gauge("temperature").build();
    assert_eq!(
        (gauge.name(), gauge_again.name()),
        ("TEMPERATURE", "TEMPERATURE")
    );
    meter.u64_counter("jobs").build().add(1, &[]);
    meter.u64_counter("JOBS").build().add(2, &[]);
    let metrics = provider.collect();
    let mut names: Vec<&str> = metrics.iter().map(|metric| metric.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["TEMPERATURE", "jobs", "ticks"]);
    let (points, _, _) = sum_points(find(&metrics, "ticks"));
    assert_eq!(points.len(), 2, "{points:#?}");
    let (points, _, _) = sum_points(find(&metrics, "jobs"));
    assert_eq!(points[0].value, NumberValue::Int(3));
    // Not a conflict: the same instrument.
    assert_eq!(provider.stats().conflicting_instruments, 0);
}

/// On the wire, each kind of instrument under each temporality preference
/// (the OTLP exporter spec's table: `delta` makes Counter, Asynchronous
/// Counter and Histogram delta; `lowmemory` only the synchronous Counter
/// and Histogram; both UpDownCounters stay cumulative): the data kind, the
/// `aggregation_temporality` (1 delta, 2 cumulative) and `is_monotonic`
/// that a receiver decodes.
#[test]
fn every_instrument_kind_has_its_temporality_and_monotonicity_on_the_wire() {
    use opentelemetry_proto::tonic::metrics::v1::metric;

    const DELTA: i32 = 1;
    const CUMULATIVE: i32 = 2;
    // (name, delta, lowmemory): the temporality each preference gives;
    // cumulative gives CUMULATIVE to all. `None`: a gauge, which has none.
    let table: [(&str, Option<i32>, Option<i32>); 7] = [
        ("counter", Some(DELTA), Some(DELTA)),
        ("histogram", Some(DELTA), Some(DELTA)),
        ("up_down_counter", Some(CUMULATIVE), Some(CUMULATIVE)),
        ("observable_counter", Some(DELTA), Some(CUMULATIVE)),
        (
            "observable_up_down_counter",
            Some(CUMULATIVE),
            Some(CUMULATIVE),
        ),
        ("gauge", None, None),
        ("observable_gauge", None, None),
    ];
    for preference in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
        TemporalityPreference::LowMemory,
    ] {
        let capture = Capturing::default();
        let provider = capture.provider(preference);
        let meter = provider.meter("m");
        meter.u64_counter("counter").build().add(1, &[]);
        meter.f64_histogram("histogram").build().record(1.0, &[]);
        meter
            .i64_up_down_counter("up_down_counter")
            .build()
            .add(-1, &[]);
        meter.i64_gauge("gauge").build().record(1, &[]);
        meter
            .u64_observable_counter("observable_counter")
            .with_callback(|observer| observer.observe(1, &[]))
            .build();
        meter
            .i64_observable_up_down_counter("observable_up_down_counter")
            .with_callback(|observer| observer.observe(-1, &[]))
            .build();
        meter
            .f64_observable_gauge("observable_gauge")
            .with_callback(|observer| observer.observe(1.0, &[]))
            .build();
        let request = capture.flushed_request(&provider);
        let metrics: Vec<_> = request
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .collect();
        assert_eq!(metrics.len(), table.len(), "{preference:?}: {metrics:#?}");
        for (name, delta, lowmemory) in table {
            let metric = metrics
                .iter()
                .find(|metric| metric.name == name)
                .unwrap_or_else(|| panic!("{preference:?}: no {name}"));
            let expected = match preference {
                TemporalityPreference::Delta => delta,
                TemporalityPreference::LowMemory => lowmemory,
                _ => delta.map(|_| CUMULATIVE),
            };
            let (temporality, monotonic) = match &metric.data {
                Some(metric::Data::Sum(sum)) => {
                    (Some(sum.aggregation_temporality), Some(sum.is_monotonic))
                }
                Some(metric::Data::Histogram(histogram)) => {
                    (Some(histogram.aggregation_temporality), None)
                }
                Some(metric::Data::Gauge(_)) => (None, None),
                other => panic!("{preference:?}: {name} is {other:?}"),
            };
            assert_eq!(temporality, expected, "{preference:?}: {name}");
            let expected_monotonic = match name {
                "counter" | "observable_counter" => Some(true),
                "up_down_counter" | "observable_up_down_counter" => Some(false),
                _ => None,
            };
            assert_eq!(monotonic, expected_monotonic, "{preference:?}: {name}");
        }
        provider.shutdown(Duration::from_secs(5)).expect("shutdown");
    }
}

/// The spec's instrument selection criteria, which "the SDK MUST accept":
/// name, type, unit, meter_name, meter_version and meter_schema_url, each
/// optional and all of those given to match. Views took no unit, meter
/// version or schema URL.
#[test]
fn views_select_instruments_by_unit_meter_version_and_schema_url() {
    use otlp_core::InstrumentationScope;

    const SCHEMA: &str = "https://opentelemetry.io/schemas/1.26.0";
    let provider = MeterProvider::builder()
        .with_view(
            View::new("*")
                .with_unit("ms")
                .with_aggregation(Aggregation::Drop),
        )
        .with_view(
            View::new("*")
                .with_meter_version("2.0")
                .with_aggregation(Aggregation::Drop),
        )
        .with_view(
            View::new("requests")
                .with_meter_name("shop")
                .with_meter_schema_url(SCHEMA)
                .rename("requests.renamed"),
        )
        .build()
        .expect("provider");
    let plain = provider.meter("shop");
    let versioned =
        provider.meter_with_scope(InstrumentationScope::new("shop").with_version("2.0"));
    let schema =
        provider.meter_with_scope(InstrumentationScope::new("shop").with_schema_url(SCHEMA));
    let other_schema = provider.meter_with_scope(
        InstrumentationScope::new("shop").with_schema_url("https://example.com/schema"),
    );
    plain
        .u64_counter("latency")
        .with_unit("ms")
        .build()
        .add(1, &[]);
    plain
        .u64_counter("size")
        .with_unit("By")
        .build()
        .add(1, &[]);
    versioned.u64_counter("versioned").build().add(1, &[]);
    plain.u64_counter("unversioned").build().add(1, &[]);
    schema.u64_counter("requests").build().add(1, &[]);
    other_schema.u64_counter("requests").build().add(1, &[]);
    let metrics = provider.collect();
    let mut names: Vec<(&str, &str)> = metrics
        .iter()
        .map(|metric| (metric.name.as_str(), metric.scope.schema_url.as_str()))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ("requests", "https://example.com/schema"),
            ("requests.renamed", SCHEMA),
            ("size", ""),
            ("unversioned", ""),
        ]
    );
}

/// The API's `Enabled` (synchronous instruments SHOULD provide it), which
/// the SDK "MUST return false" for an instrument whose every view is the
/// Drop aggregation: a caller can skip the work of a measurement nothing
/// records. An instrument with an invalid name records nothing either, nor
/// does any once its provider is shut down.
#[test]
fn a_synchronous_instrument_says_whether_it_records() {
    let provider = MeterProvider::builder()
        .with_view(View::new("dropped").with_aggregation(Aggregation::Drop))
        .with_view(View::new("half").with_aggregation(Aggregation::Drop))
        .with_view(View::new("half").rename("half.kept"))
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let counter = meter.u64_counter("requests").build();
    let half = meter.f64_histogram("half").build();
    assert!(counter.enabled() && half.enabled());
    assert!(meter.i64_up_down_counter("queue").build().enabled());
    assert!(meter.f64_gauge("temperature").build().enabled());
    assert!(!meter.u64_counter("dropped").build().enabled());
    assert!(!meter.u64_histogram("9lives").build().enabled());
    provider.shutdown(Duration::from_secs(5)).expect("shutdown");
    assert!(!counter.enabled() && !half.enabled());
}

/// What `Observer::observe` documents of a set observed more than once in
/// one collection (the API leaves it to the SDK): summed for an observable
/// counter or up-down counter, the last value for a gauge.
#[test]
fn a_set_observed_twice_in_a_collection_is_summed_for_sums_and_the_last_for_gauges() {
    let provider = provider(TemporalityPreference::Cumulative);
    let meter = provider.meter("m");
    let cpu = || [KeyValue::new("cpu", 0)];
    meter
        .u64_observable_counter("ticks")
        .with_callback(move |observer| {
            observer.observe(3, &cpu());
            observer.observe(4, &cpu());
        })
        .build();
    meter
        .i64_observable_up_down_counter("threads")
        .with_callback(move |observer| observer.observe(-2, &cpu()))
        .with_callback(move |observer| observer.observe(5, &cpu()))
        .build();
    meter
        .i64_observable_gauge("temperature")
        .with_callback(move |observer| {
            observer.observe(20, &cpu());
            observer.observe(21, &cpu());
        })
        .build();
    let metrics = provider.collect();
    assert_eq!(
        value_of(sum_points(find(&metrics, "ticks")).0, &cpu()),
        NumberValue::Int(7)
    );
    assert_eq!(
        value_of(sum_points(find(&metrics, "threads")).0, &cpu()),
        NumberValue::Int(3)
    );
    let MetricData::Gauge(gauge) = &find(&metrics, "temperature").data else {
        panic!("temperature is not a gauge");
    };
    assert_eq!(gauge.data_points.len(), 1, "{gauge:#?}");
    assert_eq!(value_of(&gauge.data_points, &cpu()), NumberValue::Int(21));
}
