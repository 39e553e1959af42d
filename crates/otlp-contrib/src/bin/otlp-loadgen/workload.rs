//! The workers: threads that create spans with the native tracer (or log
//! records with the native logger, or measurements on a counter and a
//! histogram), at a target rate or as fast as they can, until their share is
//! sent, the duration is over, or they are told to stop.
//!
//! Cost per record on a worker: one clone of a prepared attribute set (and,
//! for logs, of a prepared body: a shared string), a clock read for a log
//! record's time, and the pipeline's own encode-and-enqueue. A metrics
//! recording clones nothing: the worker rewrites the one attribute that tells
//! the series apart in its own attribute set ([`SeriesAttributes`]: no
//! allocation), and the counter's add and the histogram's record take that set
//! by reference and update the series' cells in place (a lock-free lookup once
//! the series exists); one shared counter of recordings is bumped every
//! [`RECORDINGS_PER_UPDATE`] recordings, and the series' used flag read
//! ([`SeriesUsed`]: written once per series).
//!
//! Memory of a metrics run: one attribute set shared, one per worker, and a
//! byte per series ([`SeriesUsed`]), whatever `--series` (no set is built per
//! series: 100,000 series of 128 attributes held about 820 MB when they were);
//! the SDK keeps the sets of the series it tracks, up to its cardinality limit.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, LogRecord, Severity, SpanContext, SpanKind, Str,
};
use otlp_sdk::deadline::later;
use otlp_sdk::metrics::{Counter, Histogram, Meter, MeterProvider};
use otlp_sdk::{Logger, LoggerProvider, Tracer, TracerProvider};

/// Attributes per span when `--attributes` is not given.
pub const DEFAULT_ATTRIBUTES: usize = 8;
/// Attributes per metric series when `--attributes` is not given: what an
/// HTTP server metric carries (series, method, route, status code).
pub const DEFAULT_METRIC_ATTRIBUTES: usize = 4;
/// The counter `--signal metrics` adds to.
pub const COUNTER_NAME: &str = "loadgen.requests";
/// The histogram `--signal metrics` records in (milliseconds).
pub const HISTOGRAM_NAME: &str = "loadgen.request.duration";
/// A worker adds its recordings to the shared count in steps of this many:
/// the progress line lags by at most this much per worker, and the shared
/// cache line is written once per step rather than once per recording.
const RECORDINGS_PER_UPDATE: u64 = 1024;
/// Attribute sets prepared per worker, used in turn (varied values, no formatting per span).
const VARIANTS: usize = 64;
/// Longest single sleep while pacing, so that a stop request is noticed quickly.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// What to produce, over all workers.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Spans to send in total; `None` = until the duration is over.
    pub total_spans: Option<u64>,
    /// How long to produce.
    pub duration: Option<Duration>,
    /// Target spans per second over all workers; `None` = as fast as possible.
    pub rate: Option<f64>,
    /// String attributes per span.
    pub attributes: usize,
    /// Where the ids of sent spans go (`--span-ids`).
    pub span_ids: Option<SpanIdLog>,
    /// Distinct attribute sets of metric recordings (`--series`).
    pub series: usize,
}

/// What the workers create, and through which provider.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// Spans, with the provider's tracer.
    Traces(&'a TracerProvider),
    /// Log records, with the provider's logger.
    Logs(&'a LoggerProvider),
    /// Recordings on a counter and a histogram of the provider's meter,
    /// counted in `recordings`, the series they touch in `series_used`.
    Metrics {
        provider: &'a MeterProvider,
        recordings: &'a Arc<AtomicU64>,
        series_used: &'a Arc<SeriesUsed>,
    },
}

/// Which of the `--series` attribute sets metric recordings have used, and
/// how many: fewer than `--series` when the run made fewer recordings (or
/// an interrupt or `--duration` ended it first).
///
/// Cost per recording: one relaxed load of the series' flag (a shared
/// cache line that is only read once the series is used); the first use of
/// a series also swaps its flag and bumps the shared count.
#[derive(Debug)]
pub struct SeriesUsed {
    used: Box<[AtomicBool]>,
    distinct: AtomicUsize,
}

impl SeriesUsed {
    /// None of `series` used yet.
    pub fn new(series: usize) -> Self {
        SeriesUsed {
            used: (0..series).map(|_| AtomicBool::new(false)).collect(),
            distinct: AtomicUsize::new(0),
        }
    }

    /// Series number `series` has had a recording.
    fn mark(&self, series: usize) {
        if let Some(used) = self.used.get(series)
            && !used.load(Ordering::Relaxed)
            && !used.swap(true, Ordering::Relaxed)
        {
            self.distinct.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Distinct series recorded on so far (exact once the workers have ended).
    pub fn distinct(&self) -> usize {
        self.distinct.load(Ordering::SeqCst)
    }
}

/// The `--span-ids` file: one line per span handed to the pipeline, shared
/// by the workers. The first write error is kept and reported at the end.
#[derive(Clone, Debug)]
pub struct SpanIdLog {
    inner: Arc<Mutex<SpanIdWriter>>,
}

#[derive(Debug)]
struct SpanIdWriter {
    file: BufWriter<File>,
    error: Option<std::io::Error>,
}

impl SpanIdLog {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> std::io::Result<SpanIdLog> {
        let file = BufWriter::with_capacity(64 * 1024, File::create(path)?);
        Ok(SpanIdLog {
            inner: Arc::new(Mutex::new(SpanIdWriter { file, error: None })),
        })
    }

    fn record(&self, context: &SpanContext) {
        let mut writer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if writer.error.is_none()
            && let Err(error) = writeln!(writer.file, "{} {}", context.trace_id, context.span_id)
        {
            writer.error = Some(error);
        }
    }

    /// Flushes what is buffered; the first error of the run, if any.
    pub fn finish(&self) -> std::io::Result<()> {
        let mut writer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match writer.error.take() {
            Some(error) => Err(error),
            None => writer.file.flush(),
        }
    }
}

/// The running workers.
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
    finished: mpsc::Receiver<()>,
    running: usize,
    /// When the workers were started, after the shared shape (a metrics
    /// run's instruments) was built: the run's times count from here.
    started: Instant,
}

impl Workers {
    /// Starts `count` workers sharing `plan`. If a thread cannot be spawned,
    /// the ones already started are stopped and joined.
    pub fn start(
        source: Source<'_>,
        count: usize,
        plan: &Plan,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Workers> {
        let scope =
            InstrumentationScope::new("otlp-loadgen").with_version(env!("CARGO_PKG_VERSION"));
        let emitter = match source {
            Source::Traces(provider) => Emitter::Span(provider.tracer_with_scope(scope)),
            Source::Logs(provider) => Emitter::Log(provider.logger_with_scope(scope)),
            Source::Metrics {
                provider,
                recordings,
                series_used,
            } => {
                let meter = provider.meter_with_scope(scope);
                Emitter::Metric(Arc::new(MetricShape::new(
                    &meter,
                    plan,
                    recordings,
                    series_used,
                )))
            }
        };
        let start = Instant::now();
        // A duration too long for an `Instant` is no limit (`later` ends it a
        // century on), where `start + duration` would panic.
        let deadline = plan.duration.map(|duration| later(start, duration));
        let rate = plan.rate;
        let (finished_tx, finished) = mpsc::channel();
        let mut handles = Vec::with_capacity(count);
        for index in 0..count {
            let quota = plan.total_spans.map(|total| share(total, count, index));
            let worker = Worker {
                emitter: emitter.clone(),
                shape: Shape::new(&emitter, index, plan.attributes),
                series: match &emitter {
                    Emitter::Metric(shape) => shape.series_attributes(),
                    Emitter::Span(_) | Emitter::Log(_) => SeriesAttributes::default(),
                },
                span_ids: plan.span_ids.clone(),
                index,
                workers: count,
                quota,
                deadline,
                rate,
                start,
                stop: stop.clone(),
            };
            let finished_tx = finished_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("otlp-loadgen-{index}"))
                .spawn(move || {
                    let mut worker = worker;
                    worker.run();
                    let _ = finished_tx.send(());
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    stop.store(true, Ordering::SeqCst);
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(error);
                }
            }
        }
        Ok(Workers {
            running: handles.len(),
            handles,
            finished,
            started: start,
        })
    }

    /// When the workers started: the run's send time, rate and progress
    /// count from here, not from before the pipeline's instruments and the
    /// workers' prepared attributes were built.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Waits up to `timeout` for the workers; `true` once all have finished
    /// (and been joined).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let give_up = Instant::now() + timeout;
        while self.running > 0 {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.finished.recv_timeout(left) {
                Ok(()) => self.running -= 1,
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
                // Every sender is gone: every worker has ended (or panicked).
                Err(mpsc::RecvTimeoutError::Disconnected) => self.running = 0,
            }
        }
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
        true
    }
}

/// Worker `index`'s share of `total` spans: as even as possible.
fn share(total: u64, workers: usize, index: usize) -> u64 {
    let workers = workers as u64;
    let index = index as u64;
    total / workers + u64::from(index < total % workers)
}

/// The tracer, the logger or the instruments the workers share.
#[derive(Clone)]
enum Emitter {
    Span(Tracer),
    Log(Logger),
    Metric(Arc<MetricShape>),
}

/// The instruments of `--signal metrics`, and the attribute set of series 0
/// that each worker copies for its own [`SeriesAttributes`]; the set of any
/// other series is derived from its number when it is recorded.
struct MetricShape {
    counter: Counter<u64>,
    histogram: Histogram<f64>,
    /// Series the recordings are spread over (`--series`, at least 1).
    series: usize,
    /// The attribute set of series 0.
    first_set: Vec<KeyValue>,
    recordings: Arc<AtomicU64>,
    series_used: Arc<SeriesUsed>,
}

impl MetricShape {
    /// The instruments on `meter`, for `plan`'s series and attributes.
    fn new(
        meter: &Meter,
        plan: &Plan,
        recordings: &Arc<AtomicU64>,
        series_used: &Arc<SeriesUsed>,
    ) -> Self {
        MetricShape {
            counter: meter
                .u64_counter(COUNTER_NAME)
                .with_unit("{request}")
                .with_description("Requests handled")
                .build(),
            histogram: meter
                .f64_histogram(HISTOGRAM_NAME)
                .with_unit("ms")
                .with_description("Request duration")
                .build(),
            series: plan.series,
            first_set: series_attributes(0, plan.attributes),
            recordings: recordings.clone(),
            series_used: Arc::clone(series_used),
        }
    }

    /// The attributes this shape holds, over all the sets it keeps.
    #[cfg(test)]
    fn attributes_held(&self) -> usize {
        self.first_set.len()
    }

    /// A worker's own attribute set, to record with.
    fn series_attributes(&self) -> SeriesAttributes {
        SeriesAttributes {
            set: self.first_set.clone(),
            series: 0,
        }
    }

    /// Recording number `recording` (counted over all workers): one request
    /// on series `recording % series`, with a duration from 1 to 200.9 ms,
    /// recorded with the worker's `attributes`.
    fn record(&self, recording: u64, attributes: &mut SeriesAttributes) {
        let series = (recording % self.series as u64) as usize;
        let attributes = attributes.of(series);
        self.series_used.mark(series);
        self.counter.add(1, attributes);
        let duration = 1.0 + (recording.wrapping_mul(7_919) % 2_000) as f64 / 10.0;
        self.histogram.record(duration, attributes);
    }
}

/// One worker's attribute set of the series it records on: the set of series
/// `n` is [`series_attributes`]`(n, count)`, whose attributes are the same for
/// every series but the first (`loadgen.series = series-n`), so moving to
/// another series rewrites that one value in place: a short string stored
/// inline, no allocation, no formatter.
///
/// Memory: one set (`count` attributes, about 64 bytes each), whatever the
/// number of series. Invariant: `set` is the attribute set of `series`
/// (the default: no attribute, series 0, allocates nothing).
#[derive(Debug, Default)]
struct SeriesAttributes {
    set: Vec<KeyValue>,
    series: usize,
}

impl SeriesAttributes {
    /// The attribute set of series number `series`.
    fn of(&mut self, series: usize) -> &[KeyValue] {
        if series != self.series {
            // A set of no attribute is that of the only series (`--series 1`).
            if let Some(first) = self.set.first_mut() {
                first.value = AnyValue::String(series_value(series));
            }
            self.series = series;
        }
        &self.set
    }
}

/// `series-N`, the value of `loadgen.series` for series number `series`,
/// as `format!("series-{series}")` writes it, without the formatter.
fn series_value(series: usize) -> Str {
    const PREFIX: &[u8] = b"series-";
    // `usize::MAX` has 20 decimal digits.
    let mut text = [0u8; PREFIX.len() + 20];
    text[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = 1;
    let mut rest = series / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    let end = PREFIX.len() + digits;
    let mut rest = series;
    for byte in text[PREFIX.len()..end].iter_mut().rev() {
        *byte = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    // ASCII, so always UTF-8.
    Str::copy_from(std::str::from_utf8(&text[..end]).unwrap_or_default())
}

struct Worker {
    emitter: Emitter,
    shape: Shape,
    /// The attribute set a metrics worker records with (empty for spans and logs).
    series: SeriesAttributes,
    span_ids: Option<SpanIdLog>,
    /// This worker's number, and how many there are: recording `n` of worker
    /// `index` is recording `index + n * workers` of the run.
    index: usize,
    workers: usize,
    quota: Option<u64>,
    deadline: Option<Instant>,
    /// Spans per second over all workers (`--rate`): record `n` of this
    /// worker is record `index + n * workers` of the run, due at that number
    /// over the rate, so the workers take turns instead of each sending its
    /// first one at the start.
    rate: Option<f64>,
    start: Instant,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(&mut self) {
        let sent = self.produce();
        if let Emitter::Metric(shape) = &self.emitter {
            shape
                .recordings
                .fetch_add(sent % RECORDINGS_PER_UPDATE, Ordering::Relaxed);
        }
    }

    /// Produces until done; how many records (recordings) it sent.
    fn produce(&mut self) -> u64 {
        let timed = self.rate.is_some() || self.deadline.is_some();
        let mut sent: u64 = 0;
        loop {
            if self.quota.is_some_and(|quota| sent >= quota) || self.stop.load(Ordering::Relaxed) {
                return sent;
            }
            if timed {
                let now = Instant::now();
                if self.deadline.is_some_and(|deadline| now >= deadline) {
                    return sent;
                }
                if let Some(rate) = self.rate {
                    // This worker's span number `sent` is the run's number
                    // `index + sent * workers`, due that number over the rate
                    // after the start: sleep until then (a late worker catches
                    // up without sleeping). A due time past what an `Instant`
                    // holds never comes: keep sleeping.
                    let number = sent
                        .saturating_mul(self.workers as u64)
                        .saturating_add(self.index as u64);
                    let due = due_time(self.start, number, rate);
                    if due.is_none_or(|due| due > now) {
                        let mut wake = due.map_or(now + MAX_SLEEP, |due| due.min(now + MAX_SLEEP));
                        if let Some(deadline) = self.deadline {
                            wake = wake.min(deadline);
                        }
                        std::thread::sleep(wake - now);
                        continue;
                    }
                }
            }
            match &self.emitter {
                Emitter::Span(tracer) => {
                    let context = self.shape.emit_span(tracer, sent);
                    if let Some(log) = &self.span_ids {
                        log.record(&context);
                    }
                }
                Emitter::Log(logger) => self.shape.emit_log(logger, sent),
                Emitter::Metric(shape) => {
                    let recording = self.index as u64 + sent * self.workers as u64;
                    shape.record(recording, &mut self.series);
                    if sent % RECORDINGS_PER_UPDATE == RECORDINGS_PER_UPDATE - 1 {
                        shape
                            .recordings
                            .fetch_add(RECORDINGS_PER_UPDATE, Ordering::Relaxed);
                    }
                }
            }
            sent += 1;
        }
    }
}

/// What each record looks like: an HTTP server span with string attributes,
/// or the access-log record of the same request (same attributes).
struct Shape {
    variants: Vec<Vec<KeyValue>>,
    /// Log bodies, one per variant (empty for spans).
    bodies: Vec<AnyValue>,
}

impl Shape {
    fn new(emitter: &Emitter, worker: usize, attributes: usize) -> Self {
        if let Emitter::Metric(_) = emitter {
            // The series' attribute sets are shared, in the emitter.
            return Shape {
                variants: Vec::new(),
                bodies: Vec::new(),
            };
        }
        let variants = (0..VARIANTS)
            .map(|variant| attribute_set(worker, variant, attributes))
            .collect();
        let bodies = match emitter {
            Emitter::Span(_) | Emitter::Metric(_) => Vec::new(),
            Emitter::Log(_) => (0..VARIANTS)
                .map(|variant| AnyValue::from(log_body(worker, variant)))
                .collect(),
        };
        Shape { variants, bodies }
    }

    /// Sends one log record: mostly INFO, one in 16 WARN, one in 64 ERROR.
    fn emit_log(&self, logger: &Logger, sent: u64) {
        let variant = (sent % VARIANTS as u64) as usize;
        let severity = severity(sent);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        logger.emit(
            LogRecord::builder()
                .time_unix_nano(now)
                .severity(severity)
                .severity_text(severity.name())
                .body(self.bodies[variant].clone())
                .attributes(self.variants[variant].clone())
                .build(),
        );
    }

    /// Sends one span; its context, for `--span-ids`.
    fn emit_span(&self, tracer: &Tracer, sent: u64) -> SpanContext {
        let attributes = self.variants[(sent % VARIANTS as u64) as usize].clone();
        let mut span = tracer
            .span_builder("GET /api/orders/{id}")
            .kind(SpanKind::Server)
            .attributes(attributes)
            .start();
        span.end();
        span.context().clone()
    }
}

/// The severity of log record number `sent`: one in 64 ERROR, one in 16 WARN, else INFO.
fn severity(sent: u64) -> Severity {
    if sent % 64 == 63 {
        Severity::ERROR
    } else if sent % 16 == 15 {
        Severity::WARN
    } else {
        Severity::INFO
    }
}

/// An access-log line of about 150 bytes, varied per worker and variant.
fn log_body(worker: usize, variant: usize) -> String {
    let order = 10_000 + (variant * 7_919 + worker * 104_729) % 90_000;
    format!(
        "GET /api/orders/{order} 200 completed in {}.{}ms: {} items, cart total {}.{:02} EUR, \
         payment authorised, stock reserved (worker {worker}, variant {variant})",
        3 + variant % 40,
        variant % 10,
        1 + variant % 7,
        10 + variant * 3,
        variant % 100,
    )
}

/// `count` realistic string attributes: the first eight are what an HTTP
/// server span carries; beyond that, `loadgen.attribute.N`.
fn attribute_set(worker: usize, variant: usize, count: usize) -> Vec<KeyValue> {
    let order = 10_000 + (variant * 7_919 + worker * 104_729) % 90_000;
    let standard = [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/api/orders/{id}"),
        KeyValue::new("url.path", format!("/api/orders/{order}")),
        KeyValue::new("url.scheme", "https"),
        KeyValue::new("server.address", "shop.example.com"),
        KeyValue::new("network.protocol.version", "1.1"),
        KeyValue::new(
            "user_agent.original",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        KeyValue::new(
            "client.address",
            format!("10.{}.{}.{}", worker % 256, variant / 256, variant % 256),
        ),
    ];
    let extra = (standard.len()..count).map(|n| {
        KeyValue::new(
            Str::from(format!("loadgen.attribute.{n}")),
            format!("value-{n}"),
        )
    });
    standard.into_iter().take(count).chain(extra).collect()
}

/// The attribute set of metric series number `series`: `count` string
/// attributes, the first (`loadgen.series`) telling the series apart, then
/// what an HTTP server metric carries, then `loadgen.attribute.N`.
fn series_attributes(series: usize, count: usize) -> Vec<KeyValue> {
    let standard = [
        KeyValue::new("loadgen.series", format!("series-{series}")),
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/api/orders/{id}"),
        KeyValue::new("http.response.status_code", "200"),
        KeyValue::new("url.scheme", "https"),
        KeyValue::new("server.address", "shop.example.com"),
        KeyValue::new("network.protocol.version", "1.1"),
    ];
    let extra = (standard.len()..count).map(|n| {
        KeyValue::new(
            Str::from(format!("loadgen.attribute.{n}")),
            format!("value-{n}"),
        )
    });
    standard.into_iter().take(count).chain(extra).collect()
}

/// When record number `sent` is due at `rate` per second, counting from
/// `start`; `None` when that is too far ahead for an `Instant` (or `rate` is
/// not a positive number), which the caller takes as "not yet". Never panics,
/// whatever the rate: `Duration::from_secs_f64` would past `Duration::MAX`.
fn due_time(start: Instant, sent: u64, rate: f64) -> Option<Instant> {
    let offset = Duration::try_from_secs_f64(sent as f64 / rate).ok()?;
    start.checked_add(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_of_tiny_rates_are_never_a_panic() {
        let start = Instant::now();
        assert_eq!(due_time(start, 0, 1e-20), Some(start));
        assert_eq!(due_time(start, 1, 1e-20), None);
        assert_eq!(due_time(start, u64::MAX, f64::MIN_POSITIVE), None);
        assert_eq!(due_time(start, 1, 0.0), None);
        assert_eq!(
            due_time(start, 3, 2.0),
            Some(start + Duration::from_millis(1500))
        );
    }

    #[test]
    fn spans_are_shared_evenly() {
        let shares: Vec<u64> = (0..3).map(|index| share(10, 3, index)).collect();
        assert_eq!(shares, [4, 3, 3]);
        assert_eq!((0..4).map(|index| share(2, 4, index)).sum::<u64>(), 2);
    }

    #[test]
    fn log_records_look_like_access_logs() {
        let body = log_body(2, 63);
        assert!((120..220).contains(&body.len()), "{} {body}", body.len());
        let severities: Vec<Severity> = (0..64).map(severity).collect();
        assert_eq!(
            severities.iter().filter(|s| **s == Severity::ERROR).count(),
            1
        );
        assert_eq!(
            severities.iter().filter(|s| **s == Severity::WARN).count(),
            3
        );
    }

    #[test]
    fn series_differ_by_their_first_attribute() {
        let a = series_attributes(0, DEFAULT_METRIC_ATTRIBUTES);
        let b = series_attributes(1, DEFAULT_METRIC_ATTRIBUTES);
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].key.to_string(), "loadgen.series");
        assert_ne!(a[0], b[0]);
        assert_eq!(a[1..], b[1..]);
        for count in [0, 1, 7, 8, 128] {
            let set = series_attributes(9, count);
            assert_eq!(set.len(), count);
            let mut keys: Vec<String> = set.iter().map(|kv| kv.key.to_string()).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), count);
        }
    }

    /// The attribute sets of a few series, as the receiver has always seen
    /// them: the series number in `loadgen.series`, then an HTTP server
    /// metric's attributes, then `loadgen.attribute.N = value-N`.
    #[test]
    fn series_attribute_sets_are_pinned() {
        let text = |set: &[KeyValue]| -> Vec<String> {
            set.iter()
                .map(|kv| format!("{}={}", kv.key, kv.value.as_str().expect("a string")))
                .collect()
        };
        let standard = [
            "http.request.method=GET",
            "http.route=/api/orders/{id}",
            "http.response.status_code=200",
            "url.scheme=https",
            "server.address=shop.example.com",
            "network.protocol.version=1.1",
        ];
        assert_eq!(
            text(&series_attributes(0, 4)),
            [
                "loadgen.series=series-0",
                standard[0],
                standard[1],
                standard[2]
            ]
        );
        assert_eq!(
            text(&series_attributes(99_999, 1)),
            ["loadgen.series=series-99999"]
        );
        let set = text(&series_attributes(12_345, 128));
        assert_eq!(set.len(), 128);
        assert_eq!(set[0], "loadgen.series=series-12345");
        assert_eq!(set[1..7], standard);
        assert_eq!(set[7], "loadgen.attribute.7=value-7");
        assert_eq!(set[127], "loadgen.attribute.127=value-127");
    }

    /// The shape of a metrics run of `series` series with `attributes`
    /// attributes each, as `--signal metrics` builds it.
    fn metric_shape(meter: &Meter, series: usize, attributes: usize) -> MetricShape {
        let plan = Plan {
            total_spans: None,
            duration: None,
            rate: None,
            attributes,
            span_ids: None,
            series,
        };
        MetricShape::new(
            meter,
            &plan,
            &Arc::new(AtomicU64::new(0)),
            &Arc::new(SeriesUsed::new(series)),
        )
    }

    /// The shared shape of a metrics run holds one attribute set, not one
    /// per series: `--series 100000 --attributes 128` held about 820 MB
    /// of sets built up front.
    #[test]
    fn a_metric_shape_holds_one_attribute_set_whatever_the_series() {
        let provider = MeterProvider::builder().build().unwrap();
        let meter = provider.meter_with_scope(InstrumentationScope::new("test"));
        for (series, attributes) in [(1, 4), (10_000, 8), (100, 128)] {
            let shape = metric_shape(&meter, series, attributes);
            assert_eq!(
                shape.attributes_held(),
                attributes,
                "--series {series} --attributes {attributes}"
            );
        }
    }

    /// A worker's set, moved from series to series in any order, is the set
    /// that was built up front for each series before (`series_attributes`).
    #[test]
    fn a_workers_set_is_that_of_the_series_it_records_on() {
        let provider = MeterProvider::builder().build().unwrap();
        let meter = provider.meter_with_scope(InstrumentationScope::new("test"));
        for (series, attributes) in [(1, 0), (1, 1), (7, 1), (100, 4), (100_000, 128)] {
            let shape = metric_shape(&meter, series, attributes);
            let mut worker = shape.series_attributes();
            let capacity = worker.set.capacity();
            // In turn, as one worker of three, then scattered and repeated.
            let order = (0..series.min(40))
                .chain((0..series).step_by(3).take(40))
                .chain([
                    series - 1,
                    0,
                    series / 2,
                    series / 2,
                    series - 1,
                    1 % series,
                ]);
            for n in order {
                assert_eq!(
                    worker.of(n),
                    series_attributes(n, attributes),
                    "series {n} of {series}, {attributes} attributes"
                );
            }
            assert_eq!(worker.set.capacity(), capacity);
        }
    }

    #[test]
    fn series_values_read_as_formatted() {
        for series in [0, 1, 9, 10, 99, 100, 12_345, 99_999, 100_000, usize::MAX] {
            let value = series_value(series);
            assert_eq!(value.as_str(), format!("series-{series}"));
        }
        assert!(series_value(99_999).is_inline());
    }

    #[test]
    fn attribute_sets_have_the_asked_size_and_unique_keys() {
        for count in [0, 1, 8, 9, 128] {
            let set = attribute_set(3, 5, count);
            assert_eq!(set.len(), count);
            let mut keys: Vec<String> = set.iter().map(|kv| kv.key.to_string()).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), count);
        }
    }
}
