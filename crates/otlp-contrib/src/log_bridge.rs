//! The `log` crate's front door: [`OtlpLogger`] is a [`log::Log`] that turns
//! every `log::info!`, `log::warn!`... into an OTLP log record of an
//! [`otlp_sdk::LoggerProvider`].
//!
//! ```
//! use otlp_contrib::log_bridge::OtlpLogger;
//!
//! let provider = otlp_sdk::LoggerProvider::builder().with_service_name("orders").build();
//! OtlpLogger::new(&provider).install(log::LevelFilter::Info)?;
//! log::info!(order_id = 42, express = true; "order {} placed", 42);
//! log::debug!("not recorded: below the maximum level");
//! # Ok::<(), log::SetLoggerError>(())
//! ```
//!
//! ## What becomes what
//!
//! - The level becomes the severity (the OpenTelemetry log data model's
//!   mapping: `Trace` 1, `Debug` 5, `Info` 9, `Warn` 13, `Error` 17) and the
//!   severity text (`"INFO"`...).
//! - `record.args()`, formatted, becomes the body, a string (a message
//!   without arguments is taken as is, without formatting).
//! - The target becomes the `target` attribute; the module, file and line
//!   `code.module.name`, `code.file.path` and `code.line.number` (on by
//!   default, [`OtlpLoggerBuilder::with_location`]).
//! - Key-values (`log::info!(key = value; "...")`) become attributes with
//!   their types: bools, integers that fit an `i64`, floats and strings as
//!   such, anything else (larger integers, `Debug`/`Display` captures) its
//!   text. A null value (`key = Option::<u32>::None`, `log::kv::Value::null()`)
//!   is left out: OTLP has no null, and an attribute with an empty value
//!   would tell a reader no more than its absence.
//! - A key-value named like one of the record's own attributes (`target`,
//!   `code.*`) wins: the attribute carries the value the caller wrote (a
//!   relay of another program's logs names their origin so), in the place
//!   of the record's own. Past the provider's attribute limit
//!   ([`LogRecordLimits`](otlp_sdk::LogRecordLimits)), key-values are
//!   dropped first: the record's own attributes come first and are kept.
//! - What the provider's processors log while they are asked about a record
//!   or given one (a processor's own `log::warn!`, or `tracing` events
//!   through `tracing::OtlpLogLayer`) is not recorded by this logger: a
//!   processor that logs each record it is given would be handed its own
//!   records without end, until the stack overflows. What the program's own
//!   code logs while a record is formatted (a `Display` argument or a
//!   key-value that logs as it is written) is recorded, before the record.
//! - With the `tracing` feature on, a record written inside a `tracing` span
//!   that an [`OtlpLayer`] records carries that span's trace id, span id
//!   and flags (the span is started if it was pending, as
//!   [`OtlpSpanExt::context`] does). Outside one, a record carries the ids of the span made current
//!   through the `opentelemetry` API (`opentelemetry::Context::current()`,
//!   with the `opentelemetry-bridge` feature on), else those of the thread's
//!   active span of the native API ([`otlp_sdk::active_span`], e.g.
//!   [`in_span`](otlp_sdk::active_span::in_span)), if there is one.
//! - The time is when `log` was called; the logger stamps the observed time,
//!   the resource and the scope (`otlp_contrib::log_bridge` unless
//!   [`OtlpLoggerBuilder::with_scope`] says otherwise: one scope, the target
//!   is an attribute).
//!
//! ## Cost
//!
//! - Below the maximum level: `log`'s own `max_level` check, nothing else
//!   (set by [`OtlpLogger::install`]); [`log::Log::enabled`] says the same.
//! - On a pipeline's own threads (see [`otlp_sdk::own_threads`]), or with a
//!   provider that has no processor or is disabled: a flag check, no record
//!   ([`log::Log::flush`] there returns at once too).
//! - When no processor keeps the level's severity
//!   ([`otlp_sdk::LogProcessor::enabled`], asked through
//!   [`Logger::enabled_for`] with the logger's scope and no event name, by
//!   [`log::Log::enabled`] and before every record): one call per processor
//!   until one says yes, no record. A
//!   [`BatchLogProcessor`](otlp_sdk::BatchLogProcessor) says yes at once.
//! - Recorded: one attribute vector, the body formatted once (no allocation
//!   for a message without arguments), key-value strings copied once, and the
//!   record's encoding on the calling thread by the provider's processor.
//!
// The `tracing` links: to the items with the feature on, else to this
// version's docs.rs pages (every feature), so the docs build without it.
#![cfg_attr(
    feature = "tracing",
    doc = "[`OtlpLayer`]: crate::tracing::OtlpLayer\n\
           [`OtlpSpanExt::context`]: crate::tracing::OtlpSpanExt::context"
)]
#![cfg_attr(
    not(feature = "tracing"),
    doc = concat!(
        "[`OtlpLayer`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/tracing/struct.OtlpLayer.html\n",
        "[`OtlpSpanExt::context`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/tracing/trait.OtlpSpanExt.html#tymethod.context"
    )
)]

use std::fmt::Write as _;
use std::time::Duration;

use log::kv::{self, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};
use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, LogRecord, Severity, SpanContext, Str, clock,
};
use otlp_sdk::{Logger, LoggerProvider, own_threads, processor_calls};

/// The instrumentation scope of the records unless
/// [`OtlpLoggerBuilder::with_scope`] says otherwise.
pub const DEFAULT_SCOPE: &str = "otlp_contrib::log_bridge";

/// How long [`log::Log::flush`] waits for the provider's processors: long
/// enough for one export to a healthy collector; past it, `flush` returns
/// (`log` has no way to report the failure).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The `log` target of a record.
const TARGET: &str = "target";
/// Source file of the code that wrote the record.
const CODE_FILE_PATH: &str = "code.file.path";
/// Line of the code that wrote the record.
const CODE_LINE_NUMBER: &str = "code.line.number";
/// Module of the code that wrote the record.
const CODE_MODULE_NAME: &str = "code.module.name";

/// A [`log::Log`] that emits each record as an OTLP log record of one
/// [`LoggerProvider`]: its resource, processors and pipeline apply. See the
/// [module documentation](self) for what becomes what.
///
/// Cost: below [`max_level`](OtlpLoggerBuilder::with_max_level) nothing; on
/// a pipeline's own threads or with a provider that has nowhere to send, a
/// flag check; otherwise one attribute vector, the formatted body and the
/// record's encoding on the calling thread. `log` allows one logger per
/// process: [`install`](Self::install) it once.
pub struct OtlpLogger {
    provider: LoggerProvider,
    logger: Logger,
    /// The maximum level recorded; `None` once installed as the process's
    /// logger: then it is `log`'s (`log::max_level`), which the program may
    /// raise or lower at run time.
    max_level: Option<LevelFilter>,
    location: bool,
}

impl std::fmt::Debug for OtlpLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpLogger")
            .field("scope", self.logger.scope())
            .field("max_level", &self.max_level())
            .field("location", &self.location)
            .finish()
    }
}

/// Builds an [`OtlpLogger`]; see [`OtlpLogger::builder`].
#[derive(Debug)]
pub struct OtlpLoggerBuilder {
    provider: LoggerProvider,
    scope: InstrumentationScope,
    max_level: LevelFilter,
    location: bool,
}

impl OtlpLoggerBuilder {
    /// The instrumentation scope of every record (default:
    /// `otlp_contrib::log_bridge` with this crate's version).
    pub fn with_scope(mut self, scope: InstrumentationScope) -> Self {
        self.scope = scope;
        self
    }

    /// The most verbose level recorded (default: `Trace`, everything);
    /// [`OtlpLogger::install`] replaces it with the level it is given.
    pub fn with_max_level(mut self, max_level: LevelFilter) -> Self {
        self.max_level = max_level;
        self
    }

    /// Whether records carry where they were written: `code.file.path`,
    /// `code.line.number` and `code.module.name` (default: on).
    pub fn with_location(mut self, location: bool) -> Self {
        self.location = location;
        self
    }

    /// The logger.
    pub fn build(self) -> OtlpLogger {
        OtlpLogger {
            logger: self.provider.logger_with_scope(self.scope),
            provider: self.provider,
            max_level: Some(self.max_level),
            location: self.location,
        }
    }
}

impl OtlpLogger {
    /// A logger emitting into `provider`, with the defaults of
    /// [`OtlpLogger::builder`].
    pub fn new(provider: &LoggerProvider) -> Self {
        OtlpLogger::builder(provider).build()
    }

    /// A builder: scope, maximum level, location attributes.
    pub fn builder(provider: &LoggerProvider) -> OtlpLoggerBuilder {
        OtlpLoggerBuilder {
            provider: provider.clone(),
            scope: InstrumentationScope::new(DEFAULT_SCOPE).with_version(env!("CARGO_PKG_VERSION")),
            max_level: LevelFilter::Trace,
            location: true,
        }
    }

    /// The maximum level this logger records.
    pub fn max_level(&self) -> LevelFilter {
        self.max_level.unwrap_or_else(log::max_level)
    }

    /// Makes this the process's `log` logger, recording `max_level` and more
    /// severe: [`log::set_boxed_logger`] and [`log::set_max_level`]. Fails,
    /// changing nothing, if a logger was set before. From then on the
    /// maximum level is `log`'s: a later [`log::set_max_level`] raises or
    /// lowers what is recorded.
    ///
    /// `log` keeps its logger, and so this logger's handle on the provider,
    /// until the process ends: dropping the program's own handle does not
    /// shut the pipeline down, and what it still queues is not exported by
    /// a drop that never comes. Keep the provider and call its
    /// [`shutdown`](LoggerProvider::shutdown) before the program exits (or at
    /// least `log::logger().flush()`, which flushes it).
    pub fn install(mut self, max_level: LevelFilter) -> Result<(), log::SetLoggerError> {
        self.max_level = None;
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(max_level);
        Ok(())
    }

    /// The log record `record` becomes.
    fn to_log_record(&self, record: &Record<'_>) -> LogRecord {
        let time = clock::now_unix_nanos();
        let level = record.level();
        let body = match record.args().as_str() {
            Some(text) => Str::from(text),
            None => {
                let mut text = String::new();
                // Writing into a `String` fails only if a `Display` impl does.
                let _ = write!(text, "{}", record.args());
                Str::from(text)
            }
        };
        // This thread's spare vector: `emit` gives it back once encoded.
        let mut attributes = self.logger.attribute_vector();
        attributes.reserve(1 + if self.location { 3 } else { 0 } + record.key_values().count());
        // The record's own fields first: past the attribute limit, which
        // keeps the first ones, key-values are dropped, not these. A
        // key-value of the same name comes after and wins: `emit` keeps a
        // repeated key's last value, in its first place.
        attributes.push(KeyValue::new(TARGET, Str::copy_from(record.target())));
        if self.location {
            if let Some(file) = record.file_static() {
                attributes.push(KeyValue::new(CODE_FILE_PATH, file));
            } else if let Some(file) = record.file() {
                attributes.push(KeyValue::new(CODE_FILE_PATH, Str::copy_from(file)));
            }
            if let Some(line) = record.line() {
                attributes.push(KeyValue::new(CODE_LINE_NUMBER, AnyValue::Int(line.into())));
            }
            if let Some(module) = record.module_path_static() {
                attributes.push(KeyValue::new(CODE_MODULE_NAME, module));
            } else if let Some(module) = record.module_path() {
                attributes.push(KeyValue::new(CODE_MODULE_NAME, Str::copy_from(module)));
            }
        }
        let mut key_values = KeyValues(attributes);
        // Our visitor never fails; a source that does keeps what it gave.
        let _ = record.key_values().visit(&mut key_values);
        let KeyValues(attributes) = key_values;
        #[allow(unused_mut)]
        let mut builder = LogRecord::builder()
            .time_unix_nano(time)
            .severity(severity(level))
            .severity_text(Str::from(level.as_str()))
            .body(AnyValue::String(body));
        #[allow(unused_mut)]
        let mut correlated = false;
        #[cfg(feature = "tracing")]
        {
            use crate::tracing::OtlpSpanExt as _;
            let context = ::tracing::Span::current().context();
            if context.is_valid() {
                builder = builder.span_context(&context);
                correlated = true;
            }
        }
        // Outside a `tracing` span: a span made current through the
        // `opentelemetry` API (`Context::attach`, `Tracer::in_span`).
        #[cfg(feature = "opentelemetry-bridge")]
        if !correlated && let Some(context) = crate::bridge::current_span_context() {
            builder = builder.span_context(&context);
            correlated = true;
        }
        // Else the span of the native API made active on this thread
        // (`otlp_sdk::active_span`), if any.
        if !correlated && let Some(active) = otlp_sdk::active_span::current() {
            builder = builder.span_context(&SpanContext::new(
                active.trace_id,
                active.span_id,
                active.trace_flags,
            ));
        }
        let mut log_record = builder.build();
        log_record.attributes = attributes;
        // The logger's own handles: `emit` has nothing to replace, and keeps
        // them for this thread's next record.
        (log_record.resource, log_record.scope) = self.logger.handles();
        log_record
    }
}

impl OtlpLogger {
    /// Whether a record of `level` may be taken before the processors are
    /// asked: at most the maximum level, not on a pipeline's own thread, and
    /// not made while processors are called (a processor that logs would
    /// otherwise be handed its own records without end: see
    /// [`otlp_sdk::processor_calls`]).
    fn may_take(&self, level: Level) -> bool {
        level <= self.max_level()
            && !own_threads::is_own_thread()
            && !processor_calls::in_progress()
    }
}

/// The OpenTelemetry severity of a `log` level (the first number of each
/// range).
fn severity(level: Level) -> Severity {
    match level {
        Level::Trace => Severity::TRACE,
        Level::Debug => Severity::DEBUG,
        Level::Info => Severity::INFO,
        Level::Warn => Severity::WARN,
        Level::Error => Severity::ERROR,
    }
}

impl Log for OtlpLogger {
    /// Below the maximum level, on a pipeline's own threads, while
    /// processors are called ([`otlp_sdk::processor_calls`]: what they log
    /// is not recorded), or when no
    /// processor keeps a record of the level's severity (and this logger's
    /// scope, no event name: [`Logger::enabled_for`]), false. Cost: a
    /// comparison, two thread-local reads, the logger's flag check, then one
    /// call per processor until one says yes (one with a
    /// [`BatchLogProcessor`](otlp_sdk::BatchLogProcessor)).
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let level = metadata.level();
        self.may_take(level) && self.logger.enabled_for(severity(level), "")
    }

    fn log(&self, record: &Record<'_>) {
        let level = record.level();
        if !self.may_take(level) || !self.logger.enabled_for(severity(level), "") {
            return;
        }
        // Built unmarked: what the program's `Display` and key-value impls
        // log as they are written is the program's, and is recorded (it
        // reaches no processor of this record's: they are not running).
        let log_record = self.to_log_record(record);
        self.logger.emit(log_record);
    }

    /// Flushes the provider's processors, up to five seconds; on a
    /// pipeline's own thread (an exporter, a loss handler) it does nothing,
    /// as that thread's records are not recorded: waiting there would wait
    /// for the pipeline it is holding up. What the processors log while
    /// they flush is left alone, as while they handle a record (see
    /// [`otlp_sdk::processor_calls`]): handed to them in the middle of their
    /// flush, it could wait for a lock the flush holds.
    fn flush(&self) {
        if own_threads::is_own_thread() {
            return;
        }
        let _ = self.provider.force_flush(FLUSH_TIMEOUT);
    }
}

/// Collects a record's key-values as typed attributes.
struct KeyValues(Vec<KeyValue>);

impl<'kvs> VisitSource<'kvs> for KeyValues {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let mut typed = TypedValue(None);
        // Our visitor never fails.
        let _ = value.visit(&mut typed);
        // A null value (`None`): no attribute, OTLP has no null.
        let Some(value) = typed.0 else {
            return Ok(());
        };
        let key = match key.to_static_str() {
            Some(key) => Str::from(key),
            None => Str::copy_from(key.as_str()),
        };
        self.0.push(KeyValue { key, value });
        Ok(())
    }
}

/// The attribute value of a key-value, in one visit: its type kept for
/// bools, integers that fit an `i64`, floats and strings, its text for
/// anything else; `None` for a null value (`Option::None`, `Value::null()`).
struct TypedValue(Option<AnyValue>);

/// An integer as an OTLP int when it fits, else its decimal text.
fn int_value<T: TryInto<i64> + std::fmt::Display + Copy>(value: T) -> AnyValue {
    match value.try_into() {
        Ok(int) => AnyValue::Int(int),
        Err(_) => AnyValue::String(Str::from(value.to_string())),
    }
}

impl<'v> kv::VisitValue<'v> for TypedValue {
    fn visit_any(&mut self, value: kv::Value<'_>) -> Result<(), kv::Error> {
        self.0 = Some(AnyValue::String(Str::from(value.to_string())));
        Ok(())
    }

    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.0 = None;
        Ok(())
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.0 = Some(int_value(value));
        Ok(())
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.0 = Some(AnyValue::Int(value));
        Ok(())
    }

    fn visit_u128(&mut self, value: u128) -> Result<(), kv::Error> {
        self.0 = Some(int_value(value));
        Ok(())
    }

    fn visit_i128(&mut self, value: i128) -> Result<(), kv::Error> {
        self.0 = Some(int_value(value));
        Ok(())
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        self.0 = Some(AnyValue::Double(value));
        Ok(())
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.0 = Some(AnyValue::Bool(value));
        Ok(())
    }

    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.0 = Some(AnyValue::String(Str::copy_from(value)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_the_first_severity_of_their_range() {
        assert_eq!(severity(Level::Trace).number(), 1);
        assert_eq!(severity(Level::Debug).number(), 5);
        assert_eq!(severity(Level::Info).number(), 9);
        assert_eq!(severity(Level::Warn).number(), 13);
        assert_eq!(severity(Level::Error).number(), 17);
    }

    /// Counts the flushes it is asked for.
    #[derive(Clone, Default)]
    struct FlushCount(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl otlp_sdk::LogProcessor for FlushCount {
        fn on_emit(&self, _: &mut LogRecord) {}

        fn force_flush(&self, _: Duration) -> Result<(), otlp_sdk::PipelineError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }

        fn shutdown(&self, _: Duration) -> Result<(), otlp_sdk::PipelineError> {
            Ok(())
        }
    }

    /// A pipeline thread that flushes the `log` logger (an exporter, a loss
    /// handler that logs and flushes) would wait for its own pipeline, up to
    /// `FLUSH_TIMEOUT`, stalling every export behind it: as its records
    /// are, its flushes are left alone. The application's flush goes through.
    #[test]
    fn a_flush_on_a_pipelines_own_thread_does_not_wait_for_the_pipeline() {
        let flushes = FlushCount::default();
        let provider = LoggerProvider::builder()
            .with_processor(flushes.clone())
            .build();
        let logger = OtlpLogger::new(&provider);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                own_threads::enter();
                logger.flush();
            });
        });
        assert_eq!(flushes.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        logger.flush();
        assert_eq!(flushes.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
