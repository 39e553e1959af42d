//! The `tracing` front door: [`OtlpLayer`] records `tracing` spans and their
//! events straight into otlp-sdk spans — no `opentelemetry_sdk` in between;
//! [`OtlpLogLayer`] turns `tracing` events into otlp-sdk log records (see
//! [Events as log records](#events-as-log-records)).
//!
//! ```
//! use otlp_contrib::tracing::OtlpLayer;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let provider = otlp_sdk::TracerProvider::builder().with_service_name("orders").build();
//! // Was: tracing_opentelemetry::layer().with_tracer(provider.tracer("orders"))
//! let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
//! tracing::subscriber::with_default(subscriber, || {
//!     let _span = tracing::info_span!("place order", order.id = 42_u64).entered();
//!     tracing::info!(lines = 3, "priced");
//! });
//! ```
//!
//! ## What becomes what
//!
//! - A `tracing` span becomes an OTLP span, started when the `tracing` span is
//!   created and ended at its last exit, as in `tracing-opentelemetry`
//!   (since 0.24): `tracing` keeps a span open while any child lives (a
//!   task spawned under a request's span), and the request did not last as
//!   long as that work. An event recorded in it after that exit (`parent:
//!   &span`, or an error recorded with `Span::record`) moves the end to the
//!   event; a span never entered ends when it closes (its last handle
//!   dropped). A span entered once and then only named as a parent (a
//!   connection's span, its requests `parent: &connection`) ends at that
//!   exit too: enter it around the work it covers. Its name is
//!   the span's name; the instrumentation scope is `otlp_contrib::tracing`
//!   for every span (one scope, as in `tracing-opentelemetry`; set another
//!   with [`OtlpLayerBuilder::with_scope`]). Where it was declared goes into
//!   `code.file.path`, `code.line.number` and `code.module.name` (on by
//!   default, [`OtlpLayerBuilder::with_location`]). The thread that created
//!   it goes into `thread.id` and `thread.name` when asked
//!   ([`OtlpLayerBuilder::with_threads`]; `tracing-opentelemetry` records
//!   them unless told not to), its target and level into `target` and
//!   `level` when asked ([`OtlpLayerBuilder::with_target`],
//!   [`OtlpLayerBuilder::with_level`]; `tracing-opentelemetry` records the
//!   target unless told not to). These come first, before the fields
//!   (below), as in `tracing-opentelemetry`: past the provider's attribute
//!   limit the fields are dropped, not these, and a field named like one of
//!   them (`target = "upstream"`) wins, as for log records.
//! - Its parent is the `tracing` parent: the current span, or the explicit
//!   `parent: &span` (`parent: None` makes a root). It is the registry's
//!   parent, so spans moved across threads or `.await`s with `Instrument`
//!   keep theirs. A per-layer filter that hides a span makes its children
//!   hang from the closest ancestor the layer records, and so do the events
//!   it lets through whose explicit parent (`info!(parent: &span, ...)`) is
//!   that span, and what a call made inside it propagates
//!   ([`OtlpSpanExt::context`]) (`tracing-opentelemetry` drops those; the layer finds them
//!   through the subscriber, so not inside `Option<L>`, `Vec<L>` or a
//!   reloaded layer, see [`OtlpLogLayer`]). A span with no such parent
//!   (no `tracing` span current, or none the layer records), made while a
//!   span is current through the `opentelemetry` API (feature
//!   `opentelemetry-bridge`: `Context::attach` of an extracted context,
//!   `Tracer::in_span`, a library instrumented with that API), continues
//!   that span's trace, remote or not, as in `tracing-opentelemetry` (whose
//!   contextual parent falls back to `Context::current()`) and as
//!   `OtlpLogLayer` correlates records with it; `parent: None` is still a
//!   root. The other way too, with that feature: entering a span of this
//!   layer makes it current for the `opentelemetry` API until it is exited
//!   (`Context::current()` holds its ids, a span started through that API
//!   inside it is its child), as `tracing-opentelemetry`'s context
//!   activation does; on by default in both
//!   (`OtlpLayerBuilder::with_context_activation`). A `tracing` span
//!   made inside a span of that API that is inside a `tracing` span still
//!   hangs from the `tracing` span (its `tracing` parent wins), where
//!   `tracing-opentelemetry` takes the API's current span. `follows_from`
//!   becomes a link.
//! - Fields become attributes with their types: integers (an `u64` over
//!   `i64::MAX` becomes its decimal text), floats, bools and strings as such,
//!   `?debug` and `%display` values as text. Unsigned integers (`u8` to
//!   `u64`, `usize`) and `i128`/`u128` that fit are ints too, where
//!   `tracing-opentelemetry` writes them as their text (`"200"` for
//!   `http.response.status_code = 200_u16`, an int in the semantic
//!   conventions): a query that compares such an attribute with a string
//!   needs changing. `Span::record` sets or replaces
//!   attributes later. An error value (`&dyn Error` field) becomes a text
//!   attribute, its sources (cause, cause's cause...) the string array
//!   `<field>.chain` as in `tracing-opentelemetry` (recorded with
//!   `Span::record`, an error without a source writes an empty chain, so that
//!   an earlier error's does not stay beside it), and an `exception` event
//!   with `exception.message` (no `exception.type`: a `dyn Error` does not
//!   know its type's name). `tracing-opentelemetry` writes
//!   `exception.message` and `exception.stacktrace` (the sources again) as
//!   attributes of the span instead, for an error in one of its events too;
//!   this layer writes no `exception.stacktrace`.
//! - Events inside a span become span events: the `message` field is the
//!   name (a number or a bool too, as text: `info!(message = 5)` is `"5"`,
//!   as in `tracing-opentelemetry`), `level`, `target` (and the location) and every other field are
//!   attributes, the time is the event's (a `log` record that `tracing-log`
//!   turned into an event has its own target and location there, not
//!   `tracing-log`'s `log.*` fields, as in `tracing-opentelemetry`). An
//!   error (a `&dyn Error` value, or the `error` field that
//!   `#[instrument(err)]` writes) adds `exception.message` and, without a
//!   message, names the event `exception`. An `ERROR` event sets the span's
//!   status to error with its message (else its error's text), unless a
//!   status was set before
//!   ([`OtlpLayerBuilder::with_error_events_to_status`]); events of other
//!   levels never do. `tracing-opentelemetry` differs there: an `ERROR`
//!   event's status has an empty description, an `error` field in an event
//!   without a message sets the status at any level (with its text:
//!   `#[instrument(err(level = "warn"))]` marks the span failed there, not
//!   here), and turning `with_error_events_to_status` off only drops the
//!   description. Events outside any
//!   span are not recorded here (log records are another front door).
//! - The fields `tracing-opentelemetry` users know keep their meaning:
//!   [`otel.name`](SPAN_NAME_FIELD) renames the span,
//!   [`otel.kind`](SPAN_KIND_FIELD) sets its kind (`server`, `client`,
//!   `producer`, `consumer`, `internal`, any case; only before the span
//!   starts, see below), [`otel.status_code`](SPAN_STATUS_CODE_FIELD)
//!   (`ok`, `error`, `unset`) and
//!   [`otel.status_description`](SPAN_STATUS_DESCRIPTION_FIELD) (or
//!   [`otel.status_message`](SPAN_STATUS_MESSAGE_FIELD), its name in
//!   `tracing-opentelemetry` up to 0.31) its status.
//!   Before the span starts the last value recorded wins, `unset` included
//!   (it clears an earlier status, as in `tracing-opentelemetry`); once it
//!   has started, `ok` is final and `unset` is ignored, as the
//!   specification asks. The code `error` recorded alone keeps the
//!   description the span has (recorded before, or an `ERROR` event's
//!   message).
//!
//! The provider's sampler, span limits, resource and pipeline apply: spans
//! are started through its tracer.
//!
//! A sampler of the program's own ([`otlp_sdk::ShouldSample`], given with
//! [`Sampler::custom`](otlp_sdk::Sampler::custom)) sees a `tracing` span as
//! it starts (see below): its name (`otel.name` if given), kind
//! (`otel.kind`), parent, the fields given at creation and those recorded
//! before it starts, as attributes (with `code.*`, and `thread.*`,
//! `target` or `level` when they are on), and a link per `follows_from`
//! before it starts. Fields recorded and events added after it started do
//! not reach the decision. What the sampler (or a processor's `on_start` or
//! `on_end`, or the warning handler of `otlp_sdk::diagnostics`) itself records through
//! `tracing` while the layer calls it is not recorded by `OtlpLayer` (the
//! span the call is about may be the current one, its state in use; a span
//! an `on_end` makes for its own work would end in turn and be handed to it,
//! without end); other layers see it. So dropping health checks by route is:
//!
//! ```
//! use otlp_core::AnyValue;
//! use otlp_sdk::{Sampler, SamplingDecision, SamplingParameters, SamplingResult, ShouldSample};
//! # use otlp_contrib::tracing::OtlpLayer;
//! # use tracing_subscriber::layer::SubscriberExt as _;
//!
//! #[derive(Debug)]
//! struct NoHealthChecks;
//!
//! impl ShouldSample for NoHealthChecks {
//!     fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
//!         let route = span.attribute("http.route").and_then(AnyValue::as_str);
//!         let decision = match route {
//!             Some("/health" | "/ready") => SamplingDecision::Drop,
//!             _ => SamplingDecision::RecordAndSample,
//!         };
//!         SamplingResult::new(decision, span)
//!     }
//!
//!     fn description(&self) -> String {
//!         "NoHealthChecks".to_owned()
//!     }
//! }
//!
//! let provider = otlp_sdk::TracerProvider::builder()
//!     .with_sampler(Sampler::parent_based(Sampler::custom(NoHealthChecks)))
//!     .build();
//! # let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
//! # let _guard = tracing::subscriber::set_default(subscriber);
//! let _request = tracing::info_span!("GET", otel.kind = "server", http.route = "/health").entered();
//! ```
//!
//! ## Remote parents and propagation: spans start lazily
//!
//! A server span's parent arrives in the request's headers — `traceparent`,
//! or the B3 ones under `OTEL_PROPAGATORS=b3` (see
//! [`set_global_propagators`]; [`extract_with`] and [`inject_with`] take
//! the propagators explicitly) — and is set after the `tracing` span exists:
//!
//! ```
//! # use otlp_contrib::tracing::{extract, inject, OtlpLayer, OtlpSpanExt as _};
//! # use tracing_subscriber::layer::SubscriberExt as _;
//! # let provider = otlp_sdk::TracerProvider::builder().build();
//! # let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
//! # let _guard = tracing::subscriber::set_default(subscriber);
//! # let mut incoming = http::HeaderMap::new();
//! # incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! let span = tracing::info_span!("GET /orders", otel.kind = "server");
//! if let Some(remote) = extract(&incoming) {
//!     span.set_parent(&remote).expect("set before the span starts");
//! }
//! let _entered = span.enter();
//! // Calling the next service: its parent is the current span.
//! let mut outgoing = http::HeaderMap::new();
//! inject(&tracing::Span::current().context(), &mut outgoing);
//! assert!(outgoing["traceparent"].to_str()?.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A span's trace id, parent and sampling decision are fixed when the
//! otlp-sdk span starts, and an otlp-sdk span cannot be restarted. So the
//! layer keeps a *pending* span — name, start time, kind, attributes, links,
//! parent — and starts the sdk span (with the recorded start time) only when
//! something needs its context: the first time it is entered, a child is
//! created, an event is recorded in it, another span follows from it,
//! [`OtlpSpanExt::context`] is called, or it closes. Until then
//! [`OtlpSpanExt::set_parent`] replaces the parent; after, it returns
//! [`SetParentError::AlreadyStarted`]. This needs nothing from otlp-sdk and
//! keeps the sampler's decision made once, with the final parent. The price:
//! fields given at creation are converted before the sampling decision
//! (which lets a custom sampler decide by them).
//! A span without a parent is a root of otlp-sdk's tracer, with its trace
//! flags: W3C level 2's `random` flag set (its `traceparent` ends in `-03`
//! when sampled); a span under a remote parent keeps that parent's.
//!
//! Three limits come from `tracing` itself, as with `tracing-opentelemetry`:
//! - A span closes, and is exported, when the last handle on it is dropped:
//!   its own and its children's (its end time is its last exit, see
//!   above). `tracing-subscriber`'s registry closes a
//!   parent through the dispatcher of the thread that drops the last child
//!   (tokio-rs/tracing#1656), so with a subscriber set per thread or per
//!   scope (`with_default`, `set_default`), a parent whose last child is
//!   dropped where that subscriber is not the default never closes. A global
//!   subscriber (`set_global_default`, `.init()`) has no such gap.
//! - A span a per-layer filter hides has no state of this layer: its
//!   [`OtlpSpanExt::set_parent`] answers [`SetParentError::NotRecorded`],
//!   so give a server span that continues a remote trace a level the
//!   layer's filter lets through.
//! - A span made and closed while another span closes (in a span
//!   processor's `on_end`, which runs as the layer ends a span) is never
//!   removed by `tracing-subscriber`'s registry (0.3.23 removes a span only
//!   when no other span's close is under way on the thread), so it keeps
//!   its parent, the span current then, open: make no `tracing` span in
//!   `on_end`.
//!
//! ## Cost
//!
//! - A span: its creation fields converted into one vector of attributes,
//!   kept with the rest of its pending state in the registry's extensions
//!   (two allocations: the vector, the extension's box); its sdk span
//!   (sampling, ids, attributes moved in) at first use; its encoding when it
//!   closes, on the thread that closes it. Keys are the fields' static
//!   names; strings are copied once; `?debug` values are formatted once.
//! - Each enter (for an `Instrument`ed future: each poll) takes the span's
//!   extensions once, to start it if it is pending; each exit once more,
//!   and reads the clock for a recording span (its end time: closing it then
//!   reads none). With context activation (feature `opentelemetry-bridge`,
//!   on by default): the span's `opentelemetry` context is made at its first
//!   enter (one allocation) and kept in its state; each enter clones it (a
//!   reference count) and pushes it on two thread-local stacks (the API's
//!   and the layer's guards), each exit pops them.
//! - Sampled out: after the span has started, `record` and events inside it
//!   cost a look at a flag — no field is converted.
//! - Tracing off — a provider that can record nothing
//!   ([`Tracer::never_records`](otlp_sdk::Tracer::never_records):
//!   `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER=none` with no processor
//!   given in code, an `always_off`
//!   sampler): no field is converted at all, no clock is read, nothing is
//!   allocated (the span gets a zero-sized mark in its extensions), and
//!   closing it does nothing. Not under a custom sampler
//!   ([`Tracer::asks_custom_sampler`](otlp_sdk::Tracer::asks_custom_sampler)):
//!   with no exporter, a span still propagates the sampler's decision,
//!   which may depend on its fields, so they are converted as when tracing
//!   is on. Its state, only its name and parent, then
//!   its ids, is made when something needs its context: it is entered, has
//!   a child, is followed from, a log record inside it asks for its ids, or
//!   [`OtlpSpanExt::context`] is called. So the trace still propagates.
//! - On a pipeline's own threads (see [`otlp_sdk::own_threads`]) nothing is
//!   recorded: their dispatcher is a no-op already, and the layer checks too.
//! - Not done: busy/idle time (`tracing-opentelemetry`'s
//!   `with_tracked_inactivity`), a scope per `tracing` target.
//!
//! Works beside other layers (`fmt`, ...) and under per-layer filters
//! (`Targets`, `filter_fn`, `EnvFilter`). One `OtlpLayer` per subscriber.
//!
//! ## Events as log records
//!
//! [`OtlpLogLayer::new(&logger_provider)`](OtlpLogLayer::new) turns every
//! `tracing` event — inside a span or not — into an OTLP log record of an
//! [`otlp_sdk::LoggerProvider`]. It works alone, beside `OtlpLayer` and
//! `fmt`, and under its own per-layer filter (`OtlpLogLayer::new(&p)
//! .with_filter(LevelFilter::WARN)` keeps warnings and errors):
//!
//! ```
//! use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer};
//! use tracing_subscriber::{Layer as _, filter::LevelFilter, layer::SubscriberExt as _};
//!
//! let tracer_provider = otlp_sdk::TracerProvider::builder().build();
//! let logger_provider = otlp_sdk::LoggerProvider::builder().build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(OtlpLayer::new(&tracer_provider))
//!     .with(OtlpLogLayer::new(&logger_provider).with_filter(LevelFilter::INFO));
//! tracing::subscriber::with_default(subscriber, || {
//!     let _span = tracing::info_span!("GET /orders").entered();
//!     // A log record with the span's trace id and span id, and a span event.
//!     tracing::info!(rows = 12, "orders listed");
//! });
//! ```
//!
//! - Time: when the event happened (the observed time is stamped by the
//!   logger, right after).
//! - Severity: the OpenTelemetry log data model's mapping, `TRACE` 1,
//!   `DEBUG` 5, `INFO` 9, `WARN` 13, `ERROR` 17; the severity text is the
//!   level's name (`"INFO"`), as `opentelemetry-appender-tracing` writes it.
//! - Body: the `message` field, as a string; an event without one has no
//!   body.
//! - Attributes: first `target` when the scope
//!   does not carry it (see below), and the
//!   location (`code.file.path`, `code.line.number`, `code.module.name`)
//!   when asked for ([`OtlpLogLayerBuilder::with_location`]; off by default,
//!   as in `opentelemetry-appender-tracing`, where it is an opt-in feature;
//!   spans keep theirs by default, as in `tracing-opentelemetry`); then
//!   every other field, with the same types as span attributes
//!   above (the same conversion, an error's sources in `<field>.chain`
//!   included); an error value (`&dyn Error`, or the `error` field) adds
//!   `exception.message`. Past the provider's attribute limit the fields
//!   are dropped, not the record's own attributes; a field named like one
//!   of them (`target = "upstream"`, a relay naming its records' origin)
//!   wins, as a key-value does through the `log` bridge. A `log` record
//!   that `tracing-log` (`LogTracer`, installed by `tracing_subscriber`'s
//!   `init()`) turned into an event keeps its own target and location: its
//!   `log.target`, `log.module_path`, `log.file` and `log.line` fields become
//!   these attributes, not `tracing-log`'s.
//! - Trace context: inside a span an `OtlpLayer` of the same subscriber
//!   records (or below one: the closest recorded ancestor), the record
//!   carries its trace id, span id and trace flags. A span still pending is
//!   started, as `OtlpLayer` does for a span an event happens in. The span
//!   is found in the whole subscriber, so a per-layer filter on the log
//!   layer that hides the span (`WARN` logs, `INFO` spans) does not lose it.
//!   No `OtlpLayer`, or a span it does not record: no ids, unless the event
//!   does not name its parent (an explicit parent, or `parent: None`, is the
//!   context given) and a span is current through the `opentelemetry` API
//!   (feature `opentelemetry-bridge`: `Tracer::in_span`, `Context::attach`,
//!   or a span `tracing-opentelemetry` has entered: its context, as
//!   `opentelemetry-appender-tracing` and the `log` bridge take it), or else
//!   a span of the native API is active on the thread
//!   ([`otlp_sdk::active_span`]: the current context `Logger::emit` takes).
//! - Scope: one per target, named after it (no version), as
//!   `opentelemetry-appender-tracing`'s records are exported by
//!   `opentelemetry-otlp` (the appender sets the record's target, the
//!   exporter names the scope after it) and as this crate's
//!   `bridge` (`OtlpLogProcessor`) exports them: a migrated query by scope name
//!   keeps working. A `log` record's target is its own (`log.target`). The
//!   loggers are cached (a thread-local last entry, then a shared map; no
//!   lock or allocation for a target seen before). With
//!   [`OtlpLogLayerBuilder::with_scope`] every record has that one scope
//!   and the target is the `target` attribute; so it is past 4,096
//!   distinct targets, under `otlp_contrib::tracing`.
//! - Event name: the name the event was given
//!   (`tracing::info!(name: "order.placed", ...)`), as
//!   `opentelemetry-appender-tracing` writes it. An event given none has
//!   none: the name `tracing` makes up for it (`event src/main.rs:12`, which
//!   the appender writes) says nothing the location does not; nor has a
//!   `log` record through `tracing-log`.
//! - Spans too: `OtlpLayer` keeps recording events inside spans as span
//!   events, whether or not an `OtlpLogLayer` is there; with both, an event
//!   is a span event and a log record. To have log records only, filter
//!   `OtlpLayer` (e.g. `filter_fn(|m| m.is_span())`). The layer then sees
//!   no `ERROR` event either, so none sets its span's status, those of
//!   `#[instrument(err)]` included; to keep that, let them through
//!   (`filter_fn(|m| m.is_span() || *m.level() == Level::ERROR)`): they are
//!   then span events too.
//! - What the log processors record through `tracing` (or `log`) while
//!   the layer hands them an event's record, or asks them whether they take
//!   it, is not recorded by the layer (nor by the `log` bridge): a
//!   processor that logs each record it is given would be handed its own
//!   records without end, until the stack overflows. Other layers see it.
//!   `tracing` drops such events itself under a subscriber set per thread
//!   (`with_default`), not under a global one.
//!
//! Cost: with a provider that has nowhere to send
//! ([`otlp_sdk::Logger::enabled`] false) or on a pipeline's own threads,
//! nothing is converted; nor when no processor keeps the event's severity
//! ([`otlp_sdk::Logger::enabled_for`], asked with the record's scope and
//! event name; a `log` record through `tracing-log` has its fields read
//! first, its target being one). Otherwise one attribute vector (static keys, strings
//! copied once), one clock read, a lookup of the current span and one read of
//! its extensions, and the record's encoding on this thread.

#[cfg(feature = "opentelemetry-bridge")]
mod activation;
mod fields;
mod layer;
mod log_layer;
mod propagation;
mod state;
mod target_loggers;

pub use layer::{OtlpLayer, OtlpLayerBuilder};
pub use log_layer::{OtlpLogLayer, OtlpLogLayerBuilder};
pub use propagation::{
    OtlpSpanExt, TRACEPARENT, TRACESTATE, extract, extract_with, global_propagators, inject,
    inject_with, set_global_propagators,
};
pub use state::SetParentError;

/// The instrumentation scope of the layer's spans unless
/// [`OtlpLayerBuilder::with_scope`] says otherwise.
pub const DEFAULT_SCOPE: &str = "otlp_contrib::tracing";

/// Span field that renames the span (`otel.name = %route`).
pub const SPAN_NAME_FIELD: &str = "otel.name";
/// Span field that sets the span kind: `server`, `client`, `producer`,
/// `consumer` or `internal`, in any case.
pub const SPAN_KIND_FIELD: &str = "otel.kind";
/// Span field that sets the status: `ok`, `error` or `unset`, in any case
/// (`unset` clears an earlier status only before the span starts; `error`
/// keeps the description the span has, if any).
pub const SPAN_STATUS_CODE_FIELD: &str = "otel.status_code";
/// Span field that sets the status description (alone: an error status).
pub const SPAN_STATUS_DESCRIPTION_FIELD: &str = "otel.status_description";
/// The name `tracing-opentelemetry` gave [`SPAN_STATUS_DESCRIPTION_FIELD`]
/// up to 0.31 (0.32 renamed it): the same field here, so that code written
/// for those releases keeps its statuses.
pub const SPAN_STATUS_MESSAGE_FIELD: &str = "otel.status_message";

/// The semantic conventions' name of an exception event.
const EXCEPTION_EVENT: &str = "exception";
/// The semantic conventions' attribute for an exception's message.
const EXCEPTION_MESSAGE: &str = "exception.message";
/// Source file of the code that declared the span or event.
const CODE_FILE_PATH: &str = "code.file.path";
/// Line of the code that declared the span or event.
const CODE_LINE_NUMBER: &str = "code.line.number";
/// Module of the code that declared the span or event.
const CODE_MODULE_NAME: &str = "code.module.name";
/// The `tracing` target of an event (span events and log records), and of
/// a span when asked ([`OtlpLayerBuilder::with_target`]).
const TARGET_ATTRIBUTE: &str = "target";
/// The `tracing` level of a span event, and of a span when asked
/// ([`OtlpLayerBuilder::with_level`]).
const LEVEL_ATTRIBUTE: &str = "level";
/// The semantic conventions' id of the thread that created a span.
const THREAD_ID: &str = "thread.id";
/// The semantic conventions' name of the thread that created a span.
const THREAD_NAME: &str = "thread.name";
