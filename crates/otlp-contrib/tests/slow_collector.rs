//! A slow but healthy collector, and one that is down, at default settings
//! (issue 12, "A slow but healthy collector loses spans").
//!
//! The pipeline is built the way the quickstart builds it: a [`Config`] from
//! [`ConfigLoader`] (only the protocol given, in the loader's own environment,
//! never the process's: tests run in parallel threads), the embedded
//! receiver's endpoint set in code, [`build_processor`] and a
//! [`TracerProvider`]. Every other setting keeps its default: a 2,048-span
//! queue, 512-span batches, 4 exports in flight, the `Block(100 ms)` full
//! policy.
//!
//! - A receiver that answers every export 200 ms late only slows the
//!   producers to its pace: a burst of 5,000 spans and 100,000 spans at
//!   10,000 spans/s arrive complete, over gRPC, HTTP/protobuf and HTTP/JSON.
//! - Log records likewise: a burst of 5,000 through the log pipeline arrives
//!   complete on each protocol.
//! - A backend that is down (nothing listens on the port) holds no producer
//!   longer than one bounded wait: the spans that do not fit are dropped and
//!   counted, and producing 20,000 spans takes nowhere near "every span waits
//!   100 ms".
//!
//! Bounds on time are generous (machines are noisy): they tell "waits once"
//! from "waits every time", not fast from slow.

use std::time::{Duration, Instant};

use otlp_contrib::pipeline::{build_log_processor, build_processor};
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Store};
use otlp_core::{LogRecord, Severity};
use otlp_sdk::config::{Config, ConfigLoader, Protocol};
use otlp_sdk::{BatchSpanProcessor, LoggerProvider, StatsSnapshot, Tracer, TracerProvider};

#[path = "support/closed_port.rs"]
mod closed_port;
use closed_port::closed_port;

/// How late the slow receiver answers every export.
const ANSWER_DELAY: Duration = Duration::from_millis(200);
/// Upper bound for shutdowns and for the receiver to count what was exported.
const PATIENCE: Duration = Duration::from_secs(60);
/// The three OTLP protocols.
const PROTOCOLS: [Protocol; 3] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];

/// A receiver on free loopback ports that answers every request
/// [`ANSWER_DELAY`] late. It counts spans without decoding them, so it stays
/// cheap however many arrive.
fn slow_receiver() -> Receiver {
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..ReceiverConfig::default()
    })
    .expect("the receiver starts");
    receiver.set_fallback_fault(Some(Fault::Delay(ANSWER_DELAY)));
    receiver
}

/// The default configuration for `protocol`, exporting to `endpoint`.
fn default_config(protocol: Protocol, endpoint: String) -> Config {
    let mut config = ConfigLoader::new()
        .with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str())])
        .load()
        .expect("the default configuration loads");
    config.exporter.endpoint = Some(endpoint);
    config.service_name = Some("slow-collector".into());
    config
}

/// The endpoint of `receiver` that an exporter of `protocol` uses.
fn endpoint_of(receiver: &Receiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        Protocol::HttpProtobuf | Protocol::HttpJson => receiver.http_endpoint(),
    }
    .expect("the receiver listens on both transports")
}

/// A provider over the pipeline `config` names, and that pipeline (for its stats).
fn pipeline(config: &Config) -> (TracerProvider, BatchSpanProcessor) {
    let processor = build_processor(config).expect("the pipeline builds");
    let provider = TracerProvider::builder()
        .with_config(config)
        .with_processor(processor.clone())
        .build();
    (provider, processor)
}

/// Ends one span and says how long `end` took.
fn one_span(tracer: &Tracer) -> Duration {
    let mut span = tracer.start("checkout");
    let started = Instant::now();
    span.end();
    started.elapsed()
}

/// Shuts `provider` down with a generous bound and checks that every span
/// was exported and counted by `receiver` exactly once.
fn assert_all_delivered(
    protocol: Protocol,
    provider: &TracerProvider,
    processor: &BatchSpanProcessor,
    receiver: &Receiver,
    spans: u64,
) {
    let result = provider.shutdown(PATIENCE);
    let stats = processor.stats();
    // The receiver counts a request before it sends the answer, so this
    // returns at once unless something is wrong.
    receiver.wait_for_spans(stats.exported, PATIENCE);
    eprintln!(
        "{protocol}: {spans} spans, shutdown {result:?}: exported {} dropped {} failed {}, \
         {} batches, export latency p50 {:?} p99 {:?}; the receiver counted {}",
        stats.exported,
        stats.dropped,
        stats.failed,
        stats.batches,
        stats.export_latency.p50,
        stats.export_latency.p99,
        receiver.span_count()
    );
    assert_exact(protocol, &stats, spans);
    assert_eq!(result, Ok(()), "{protocol}: {stats:?}");
    assert_eq!(receiver.span_count(), spans, "{protocol}: {stats:?}");
}

/// Every span produced and exported, nothing dropped, failed or left over.
fn assert_exact(protocol: Protocol, stats: &StatsSnapshot, spans: u64) {
    assert!(stats.is_balanced(), "{protocol}: {stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, spans, "{protocol}: {stats:?}");
    assert_eq!(
        (stats.exported, stats.dropped),
        (spans, 0),
        "{protocol}: a slow but healthy collector loses nothing: {stats:?}"
    );
    assert_eq!(
        (stats.failed, stats.rejected, stats.queued, stats.in_flight),
        (0, 0, 0, 0),
        "{protocol}: {stats:?}"
    );
}

// ---- a slow but healthy collector ------------------------------------------------------

/// A burst of 5,000 spans from one thread, then shutdown.
fn burst(protocol: Protocol) {
    const SPANS: u64 = 5_000;
    let receiver = slow_receiver();
    let config = default_config(protocol, endpoint_of(&receiver, protocol));
    let (provider, processor) = pipeline(&config);
    let tracer = provider.tracer("slow-collector");
    for _ in 0..SPANS {
        one_span(&tracer);
    }
    assert_all_delivered(protocol, &provider, &processor, &receiver, SPANS);
}

#[test]
fn a_burst_against_a_slow_collector_loses_nothing_over_grpc() {
    burst(Protocol::Grpc);
}

#[test]
fn a_burst_against_a_slow_collector_loses_nothing_over_http_protobuf() {
    burst(Protocol::HttpProtobuf);
}

#[test]
fn a_burst_against_a_slow_collector_loses_nothing_over_http_json() {
    burst(Protocol::HttpJson);
}

/// A burst of 5,000 log records from one thread, through the log pipeline
/// the configuration names at its defaults (`OTEL_BLRP_*`: a 1 s scheduled
/// delay, 512-record batches, the same byte-bounded queue and full policy
/// as spans), then shutdown: a slow but healthy collector loses no log
/// record either, on each protocol.
#[test]
fn a_burst_of_log_records_against_a_slow_collector_loses_nothing() {
    const RECORDS: u64 = 5_000;
    for protocol in PROTOCOLS {
        let receiver = slow_receiver();
        // The generic endpoint, as a program sets it: each signal appends its path.
        let endpoint = endpoint_of(&receiver, protocol);
        let config = ConfigLoader::new()
            .with_env([
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ])
            .load()
            .expect("the default configuration loads");
        let processor = build_log_processor(&config).expect("the log pipeline builds");
        let provider = LoggerProvider::builder()
            .with_config(&config)
            .with_processor(processor.clone())
            .build();
        let logger = provider.logger("slow-collector");
        for i in 0..RECORDS {
            logger.emit(
                LogRecord::builder()
                    .severity(Severity::INFO)
                    .body(format!("order {i} placed"))
                    .build(),
            );
        }
        let result = provider.shutdown(PATIENCE);
        let stats = processor.stats();
        receiver.wait_for_log_records(stats.exported, PATIENCE);
        assert_exact(protocol, &stats, RECORDS);
        assert_eq!(result, Ok(()), "{protocol}: {stats:?}");
        assert_eq!(
            receiver.log_record_count(),
            RECORDS,
            "{protocol}: {stats:?}"
        );
    }
}

/// Sends `spans` spans at `per_second` from one thread, in ticks of
/// `PER_TICK` spans; a tick that starts late is not skipped, the next ones
/// catch up.
fn paced(tracer: &Tracer, spans: u64, per_second: u64) {
    const PER_TICK: u64 = 100;
    let tick = Duration::from_secs(1) * PER_TICK as u32 / per_second as u32;
    let started = Instant::now();
    let mut sent = 0;
    while sent < spans {
        let last = (sent + PER_TICK).min(spans);
        for _ in sent..last {
            one_span(tracer);
        }
        sent = last;
        let due = started + tick * (sent / PER_TICK) as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

#[test]
fn a_steady_rate_against_a_slow_collector_loses_nothing() {
    const SPANS: u64 = 100_000;
    const PER_SECOND: u64 = 10_000;
    // About 10 s each: the three protocols run side by side.
    std::thread::scope(|scope| {
        for protocol in PROTOCOLS {
            std::thread::Builder::new()
                .name(format!("paced {protocol}"))
                .spawn_scoped(scope, move || {
                    let receiver = slow_receiver();
                    let config = default_config(protocol, endpoint_of(&receiver, protocol));
                    let (provider, processor) = pipeline(&config);
                    let tracer = provider.tracer("slow-collector");
                    let started = Instant::now();
                    paced(&tracer, SPANS, PER_SECOND);
                    eprintln!(
                        "{protocol}: {SPANS} spans at {PER_SECOND}/s produced in {:?}",
                        started.elapsed()
                    );
                    assert_all_delivered(protocol, &provider, &processor, &receiver, SPANS);
                })
                .expect("a producer thread");
        }
    });
}

// ---- a backend that is down -------------------------------------------------------------

#[test]
fn a_backend_that_is_down_holds_no_producer_for_long_and_counts_the_drops() {
    const SPANS: u64 = 20_000;
    // Generous: one bounded wait is 100 ms by default.
    const LONGEST_END: Duration = Duration::from_secs(2);
    // If every span that finds the queue full waited 100 ms, this loop would
    // take about (20,000 - 6,000) × 100 ms ≈ 23 minutes.
    const WHOLE_LOOP: Duration = Duration::from_secs(60);
    for protocol in PROTOCOLS {
        let (_held, address) = closed_port();
        let mut config = default_config(protocol, format!("http://{address}"));
        // The default 64 MiB hold an outage of a million such spans: a
        // budget of 256 KiB (some 3,800 of them) makes the rest not fit.
        config.batch.max_queue_bytes = 256 * 1024;
        let (provider, processor) = pipeline(&config);
        let tracer = provider.tracer("slow-collector");

        let started = Instant::now();
        let mut longest = Duration::ZERO;
        let mut waited = 0u64;
        for _ in 0..SPANS {
            let took = one_span(&tracer);
            longest = longest.max(took);
            waited += u64::from(took >= Duration::from_millis(50));
        }
        let whole = started.elapsed();
        let stats = processor.stats();
        eprintln!(
            "{protocol} down: {SPANS} spans in {whole:?}, longest end {longest:?}, \
             {waited} ends took 50 ms or more; dropped {} (queue full {}), last error {:?}",
            stats.dropped, stats.dropped_queue_full, stats.last_error
        );
        assert!(stats.is_balanced(), "{protocol}: {stats:?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        assert_eq!(stats.produced, SPANS, "{protocol}: {stats:?}");
        assert_eq!(stats.exported, 0, "{protocol}: nothing listens: {stats:?}");
        assert!(
            stats.dropped > 0,
            "{protocol}: the spans that do not fit are dropped and counted: {stats:?}"
        );
        assert!(
            longest < LONGEST_END,
            "{protocol}: one span.end() took {longest:?}"
        );
        assert!(
            whole < WHOLE_LOOP,
            "{protocol}: {SPANS} spans took {whole:?} ({waited} ends waited 50 ms or more)"
        );

        // Shutdown cannot deliver anything either; it ends by its bound and
        // leaves every span accounted for.
        let result = provider.shutdown(Duration::from_secs(2));
        let after = processor.stats();
        eprintln!("{protocol} down: shutdown {result:?}, {after:?}");
        assert!(result.is_err(), "{protocol}: nothing was delivered");
        assert!(after.is_balanced(), "{protocol}: {after:?}");
        assert!(after.bytes.is_balanced(), "{:#?}", after.bytes);
        assert_eq!(after.produced, SPANS, "{protocol}: {after:?}");
        assert_eq!(after.exported, 0, "{protocol}: {after:?}");
        assert_eq!(
            (after.queued, after.in_flight),
            (0, 0),
            "{protocol}: {after:?}"
        );
    }
}
