//! [`ConfigLoader`]: loading a [`Config`] from files, `OTEL_*` variables and
//! `OTLP__` overrides, then validating it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::env::{self, OVERRIDE_PREFIX};
use super::error::redact_userinfo;
use super::file;
use super::keys::{self, Staged};
use super::node::Node;
use super::origin::Origins;
use super::setting::Setting;
use super::setting::shown_redacted;
use super::validate;
use super::{
    Config, ConfigError, ConfigOrigins, ConfigSource, ConfigWarning, PropagatorName, REDACTED,
};

/// The variable that selects `config/{RUN_ENV}.{yaml,yml,toml}`.
const RUN_ENV: &str = "RUN_ENV";
/// The variable naming the directory looked in instead of `config`.
const CONFIG_DIR: &str = "OTLP_CONFIG_DIR";
/// The variable naming the one file read instead of looking in a directory.
const CONFIG_FILE: &str = "OTLP_CONFIG_FILE";
/// The directory looked in when neither the program nor the environment names one.
const DEFAULT_CONFIG_DIR: &str = "config";

/// Loads a [`Config`] from its sources and validates it.
///
/// Sources, each overriding the ones before it:
///
/// 1. the defaults ([`Config::default`]);
/// 2. `default.{yaml,yml,toml}` then `{RUN_ENV}.{yaml,yml,toml}` from the
///    configuration directory — both optional — or instead exactly one file,
///    which must exist. The program chooses with
///    [`with_config_dir`](Self::with_config_dir) or [`with_file`](Self::with_file);
///    when it does not, the variables `OTLP_CONFIG_DIR` (a directory) or
///    `OTLP_CONFIG_FILE` (one file) do; when neither is set, the directory is
///    `config`, relative to the working directory. An application whose own
///    files live in `config/` (the layout of the `config` crate) points this
///    SDK elsewhere with `OTLP_CONFIG_DIR`, for example at a directory that
///    does not exist: an error about a file found in the default directory
///    says so;
/// 3. the standard `OTEL_*` variables;
/// 4. the nested overrides `OTLP__SECTION__KEY=value`;
/// 5. whatever the program changes afterwards: check those with [`Config::validate`].
///
/// Exporter settings come in four scopes: generic (section `exporter`,
/// `OTEL_EXPORTER_OTLP_X`, `OTLP__EXPORTER__X`), traces-specific
/// (`OTEL_EXPORTER_OTLP_TRACES_X`, `exporter.traces_endpoint`),
/// logs-specific (section `logs.exporter`, `OTEL_EXPORTER_OTLP_LOGS_X`,
/// `OTLP__LOGS__EXPORTER__X`) and metrics-specific (section
/// `metrics.exporter`, `OTEL_EXPORTER_OTLP_METRICS_X`,
/// `OTLP__METRICS__EXPORTER__X`). Each scope is filled by the sources above in
/// order; then each signal gets the generic values with its own over them
/// ([`Config::exporter`] for spans, [`LogsConfig::exporter`](super::LogsConfig::exporter)
/// for logs, [`MetricsConfig::exporter`](super::MetricsConfig::exporter) for
/// metrics). So a signal's own value wins over a generic one whichever source
/// set either, as the specification asks, and one signal's specific values
/// never reach another signal. Batching is not inherited:
/// `logs.batch` starts from [`BatchConfig::logs_default`](super::BatchConfig::logs_default),
/// not from `batch`; metrics have no batching (each collection is one export).
///
/// Cost: reads the environment once and at most two files per [`load`](Self::load);
/// allocates freely. Meant for start-up, not for a hot path.
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::Signal;
/// use otlp_sdk::config::{ConfigLoader, Protocol};
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir") // files are optional
///     .with_env([
///         ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
///         ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"), // _TRACES_ wins, for spans only
///         ("OTEL_BSP_SCHEDULE_DELAY", "250"),
///         ("OTLP__BATCH__MAX_QUEUE_BYTES", "16777216"),
///         ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"), // also caps the count
///         ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4317"),
///         ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "256"),
///     ])
///     .load()?;
/// assert_eq!(config.exporter.protocol, Protocol::HttpJson);
/// assert_eq!(config.batch.scheduled_delay, Duration::from_millis(250));
/// assert_eq!(config.batch.max_queue_bytes, 16 * 1024 * 1024);
/// assert_eq!(config.batch.max_queue_size, Some(4096));
/// assert_eq!(config.logs.exporter.protocol, Protocol::Grpc); // the generic value
/// assert_eq!(config.logs.exporter.endpoint_for(Signal::Logs), "http://logs:4317");
/// assert_eq!(config.logs.batch.max_export_batch_size, 256);
/// assert_eq!(config.logs.batch.scheduled_delay, Duration::from_secs(1)); // logs' default
/// # Ok::<(), otlp_sdk::config::ConfigError>(())
/// ```
///
/// # Files
///
/// YAML (feature `yaml`) or TOML (feature `toml`), chosen by extension; a file whose
/// format is compiled out is an error, not skipped. If both `default.yaml` and
/// `default.toml` (or `.yml`) exist, loading fails as ambiguous; the same for the
/// `RUN_ENV` stem. `RUN_ENV` must be a plain file stem (letters, digits, `-`, `_`,
/// `.`, not starting with `.`); `RUN_ENV=default` loads `default.*` once.
///
/// | variable | what | when |
/// |---|---|---|
/// | `OTLP_CONFIG_DIR` | the directory of `default.*` and `{RUN_ENV}.*`, instead of `config` | the program called neither [`with_config_dir`](Self::with_config_dir) nor [`with_file`](Self::with_file) |
/// | `OTLP_CONFIG_FILE` | exactly one file, which must exist, instead of the directory lookup | the same; setting both variables is an error |
///
/// ```yaml
/// service:     { name: checkout, disabled: false }
/// resource:    { attributes: { deployment.environment: prod } }
/// propagation: { propagators: [tracecontext, b3] }   # or "tracecontext,b3", or none (default: tracecontext,baggage)
/// exporter:
///   endpoint: https://collector:4318      # or traces_endpoint: full URL, used as given
///   protocol: http/protobuf               # grpc | http/protobuf | http/json
///   timeout: 10s                          # 0 = no limit
///   compression: gzip                     # none | gzip | zstd
///   headers: { x-api-key: s3cr3t }
///   certificate: /etc/ssl/ca.pem          # also client_certificate, client_key
///   insecure: false                       # gRPC without scheme only
///   kind: otlp                            # otlp | console | none, for every signal (OTEL_TRACES_EXPORTER: spans only)
/// batch:
///   max_queue_bytes: 67108864             # encoded spans waiting for export (default 64 MiB)
///   max_queue_size: 2048                  # also cap the count of queued spans (default: no cap)
///   max_export_batch_size: 512
///   min_export_batch_size: 64
///   scheduled_delay: 5s
///   export_timeout: 30s                   # 0 = no limit
///   max_concurrent_exports: 4
///   adaptive: false
///   full_policy: block                    # block (default: wait while the pipeline drains) | drop
///   block_timeout: 100ms                  # block: the wait once the pipeline is stalled (default 100ms)
/// retry:       { enabled: true, initial_backoff: 1s, max_backoff: 30s, multiplier: 1.5, randomization_factor: 0.5 }
/// performance: { max_request_bytes: 67108864, buffer_pool_size: 8, io_threads: 1 }   # io_threads: 1 to 256
/// durable:                                # off unless a directory is given
///   directory: /var/lib/myapp/otlp-queue
///   fsync: interval                       # every_batch | interval (default) | never
///   fsync_interval: 1s
///   max_bytes: 268435456                  # disk cap; the oldest data is dropped (and counted) past it
///   segment_bytes: 16777216
/// limits:                                 # attribute limits; unset keys fall back as the specification says
///   attribute_count: 128                  # generic: spans, events, links and log records (default 128)
///   attribute_value_length: 4096          # generic: characters (strings) or bytes (byte arrays); default none
///   span_attribute_count: 128             # also span_attribute_value_length, span_event_count, span_link_count,
///   event_attribute_count: 128            # link_attribute_count,
///   log_record_attribute_count: 128       # log_record_attribute_value_length
/// logs:                                   # the log pipeline
///   exporter:                             # the keys of `exporter`, for logs only; unset keys inherit `exporter`
///     endpoint: https://logs-collector:4318   # base: v1/logs is appended for HTTP
///     logs_endpoint: https://logs.example.com/v1/logs   # or the full URL, used as given (no traces_endpoint here)
///     headers: { x-api-key: l0gs }        # when set, replace exporter.headers as a whole
///   batch:                                # the keys of `batch`; unset keys keep the logs defaults
///     scheduled_delay: 1s                 # logs' default (spans: 5s)
///     max_export_batch_size: 512
///   durable:                              # the keys of `durable`, for logs only; off unless a directory is given
///     directory: /var/lib/myapp/otlp-logs-queue   # never the same as durable.directory
///     fsync: interval                     # unset keys take the defaults, not the values of `durable`
/// metrics:                                # the metrics pipeline
///   exporter:                             # the keys of `exporter`, for metrics only; unset keys inherit `exporter`
///     endpoint: https://metrics-collector:4318   # base: v1/metrics is appended for HTTP
///     metrics_endpoint: https://metrics.example.com/v1/metrics   # or the full URL, used as given
///   export_interval: 60s                  # between collections (default 60s)
///   export_timeout: 30s                   # one export, retries included; 0 = no limit (default 30s)
///   temporality: cumulative               # cumulative (default) | delta | lowmemory
///   default_histogram_aggregation: explicit_bucket_histogram   # or base2_exponential_bucket_histogram
///   cardinality_limit: 2000               # attribute sets per metric stream before the overflow series (at least 1)
///   exemplar_filter: trace_based          # trace_based (default) | always_on | always_off
/// ```
///
/// * Durations are whole milliseconds (`250`) or a whole number with a unit:
///   `"250ms"`, `"5s"`, `"2m"`, `"1h"`.
/// * Enum values are case-insensitive. Booleans are `true`/`false`.
/// * A null or empty value means "not set": the earlier value stays.
/// * Text values may be strings, whole numbers or booleans; decimal numbers must
///   be quoted (the parser would already have changed `1.10` into `1.1`).
/// * `headers` and `attributes` are maps, or a string in the `k1=v1,k2=v2` syntax
///   below. Maps merge across sources: a later source wins per key (header names
///   case-insensitively), the first position is kept.
/// * Unknown sections and keys are errors naming them: a typo never passes silently.
/// * A `service.name` resource attribute, from any source, sets
///   [`Config::service_name`] (it is not kept in `resource_attributes`); whichever
///   is set later wins, so `OTEL_SERVICE_NAME` beats `service.name` in
///   `OTEL_RESOURCE_ATTRIBUTES`. A blank one (`service.name=`) sets nothing,
///   as a blank `OTEL_SERVICE_NAME` does.
///
/// # Standard variables
///
/// Each `OTEL_EXPORTER_OTLP_X` is also read as `OTEL_EXPORTER_OTLP_TRACES_X`, which
/// wins for spans, as `OTEL_EXPORTER_OTLP_LOGS_X`, which wins for logs, and as
/// `OTEL_EXPORTER_OTLP_METRICS_X`, which wins for metrics (headers as a whole:
/// a signal's own headers, from any source, replace the generic ones, so a
/// credential for the generic backend never reaches another; but in lenient
/// loading a signal's own headers that cannot be read are set aside with a
/// warning, as any rejected value is, and the generic ones then apply).
/// Empty values (after trimming) mean unset.
///
/// | variable | sets | syntax |
/// |---|---|---|
/// | `OTEL_SDK_DISABLED` | `service.disabled` | only `true` (any case) disables |
/// | `OTEL_SERVICE_NAME` | `service.name` | text |
/// | `OTEL_RESOURCE_ATTRIBUTES` | `resource.attributes` | `k=v,…`, keys and values percent-decoded |
/// | `OTEL_TRACES_SAMPLER` | `sampler.name` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` (default: the provider's, parent-based always on); `jaeger_remote`, `parentbased_jaeger_remote` and `xray` (not built here) and unknown names are refused |
/// | `OTEL_TRACES_SAMPLER_ARG` | `sampler.arg` | number between 0 and 1: the ratio samplers' probability (default 1); the others ignore it, a bad value included (a warning, in both modes) |
/// | `OTEL_PROPAGATORS` | `propagation.propagators` | comma-separated, any case: `tracecontext` (W3C), `b3` (the single `b3` header), `b3multi` (the `X-B3-*` headers), `baggage` (accepted with a warning: this SDK has no baggage API, nothing is propagated for it), or `none` alone (default `tracecontext,baggage`); repeated names count once; in a request carrying several formats the last listed wins; `jaeger`, `xray`, `ottrace` (not built here) and unknown names are refused ([`PropagatorsConfig`](super::PropagatorsConfig)) |
/// | `OTEL_TRACES_EXPORTER` | `exporter.kind` for spans only (no file key of its own: a file's `exporter.kind` reaches every signal) | `otlp` (default), `console` (otlp-contrib's pipeline writes OTLP/JSON lines to standard output), `none` (no exporter from configuration, [`Config::is_disabled`]: a provider built `with_config` records only for processors or readers given in code, and nothing with none; spans still propagate the sampler's decision); one value, no list |
/// | `OTEL_LOGS_EXPORTER` | `logs.exporter.kind` | as `OTEL_TRACES_EXPORTER`, for log records |
/// | `OTEL_METRICS_EXPORTER` | `metrics.exporter.kind` | as `OTEL_TRACES_EXPORTER`, for metrics |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | `exporter.endpoint` | base URL; HTTP appends `/v1/traces`, `/v1/logs` or `/v1/metrics` |
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | `exporter.traces_endpoint` | URL used as given |
/// | `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` | `logs.exporter.logs_endpoint` | URL used as given |
/// | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | `metrics.exporter.metrics_endpoint` | URL used as given |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL` | `exporter.protocol` | `grpc`, `http/protobuf`, `http/json` |
/// | `OTEL_EXPORTER_OTLP_HEADERS` | `exporter.headers` | `k=v,…`, names trimmed, values percent-decoded |
/// | `OTEL_EXPORTER_OTLP_COMPRESSION` | `exporter.compression` | `gzip`, `none`, `zstd` |
/// | `OTEL_EXPORTER_OTLP_TIMEOUT` | `exporter.timeout` | whole ms; `0` = no limit |
/// | `OTEL_EXPORTER_OTLP_INSECURE` | `exporter.insecure` | `true` / `false` |
/// | `OTEL_EXPORTER_OTLP_CERTIFICATE` | `exporter.certificate` | path |
/// | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` | `exporter.client_certificate` | path |
/// | `OTEL_EXPORTER_OTLP_CLIENT_KEY` | `exporter.client_key` | path |
/// | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `…_TRACES_HEADERS`, `…_TRACES_COMPRESSION`, `…_TRACES_TIMEOUT`, `…_TRACES_INSECURE`, `…_TRACES_CERTIFICATE`, `…_TRACES_CLIENT_CERTIFICATE`, `…_TRACES_CLIENT_KEY` | the same, for spans only (no file key) | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL` | `logs.exporter.protocol` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_LOGS_HEADERS` | `logs.exporter.headers` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION` | `logs.exporter.compression` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT` | `logs.exporter.timeout` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_LOGS_INSECURE` | `logs.exporter.insecure` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE` | `logs.exporter.certificate` | path |
/// | `OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE` | `logs.exporter.client_certificate` | path |
/// | `OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY` | `logs.exporter.client_key` | path |
/// | `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` | `metrics.exporter.protocol` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_METRICS_HEADERS` | `metrics.exporter.headers` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION` | `metrics.exporter.compression` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` | `metrics.exporter.timeout` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_METRICS_INSECURE` | `metrics.exporter.insecure` | as the generic variable |
/// | `OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE` | `metrics.exporter.certificate` | path |
/// | `OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE` | `metrics.exporter.client_certificate` | path |
/// | `OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY` | `metrics.exporter.client_key` | path |
/// | `OTEL_BSP_SCHEDULE_DELAY` | `batch.scheduled_delay` | whole ms; `0` = export spans as soon as they end (default 5 s) |
/// | `OTEL_BSP_EXPORT_TIMEOUT` | `batch.export_timeout` | whole ms; `0` = no limit (default 30 s) |
/// | `OTEL_BSP_MAX_QUEUE_SIZE` | `batch.max_queue_size` | whole number, at least 1; caps the count of queued spans (default: no cap); a batch size left at its default follows a smaller cap |
/// | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | `batch.max_export_batch_size` | whole number, at least 1 (default 512) |
/// | none: use `OTLP__BATCH__MAX_QUEUE_BYTES` | `batch.max_queue_bytes` | whole bytes, at least 1 (default 64 MiB) |
/// | `OTEL_BLRP_SCHEDULE_DELAY` | `logs.batch.scheduled_delay` | whole ms; `0` = export log records as soon as they are emitted (default 1 s) |
/// | `OTEL_BLRP_EXPORT_TIMEOUT` | `logs.batch.export_timeout` | whole ms; `0` = no limit (default 30 s) |
/// | `OTEL_BLRP_MAX_QUEUE_SIZE` | `logs.batch.max_queue_size` | whole number, at least 1; caps the count of queued log records (default: no cap, where the specification says 2048: the queue is bounded by bytes); a batch size left at its default follows a smaller cap |
/// | `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` | `logs.batch.max_export_batch_size` | whole number, at least 1 (default 512) |
/// | none: use `OTLP__LOGS__BATCH__MAX_QUEUE_BYTES` | `logs.batch.max_queue_bytes` | whole bytes, at least 1 (default 64 MiB) |
/// | `OTEL_ATTRIBUTE_COUNT_LIMIT` | `limits.attribute_count` | whole number (default 128); for spans, events, links and log records without their own limit |
/// | `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` | `limits.attribute_value_length` | whole number (default: no limit); the same fallback |
/// | `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` | `limits.span_attribute_count` | whole number (default 128) |
/// | `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` | `limits.span_attribute_value_length` | whole number (default: no limit); spans, their events and links |
/// | `OTEL_SPAN_EVENT_COUNT_LIMIT` | `limits.span_event_count` | whole number (default 128) |
/// | `OTEL_SPAN_LINK_COUNT_LIMIT` | `limits.span_link_count` | whole number (default 128) |
/// | `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT` | `limits.event_attribute_count` | whole number (default 128) |
/// | `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` | `limits.link_attribute_count` | whole number (default 128) |
/// | `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` | `limits.log_record_attribute_count` | whole number (default 128) |
/// | `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` | `limits.log_record_attribute_value_length` | whole number (default: no limit) |
/// | `OTEL_METRIC_EXPORT_INTERVAL` | `metrics.export_interval` | whole ms, more than 0: `0` would collect without pause (default 60 s) |
/// | `OTEL_METRIC_EXPORT_TIMEOUT` | `metrics.export_timeout` | whole ms; `0` = no limit (default 30 s) |
/// | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `metrics.temporality` | `cumulative` (default), `delta`, `lowmemory` |
/// | `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION` | `metrics.default_histogram_aggregation` | `explicit_bucket_histogram` (default), `base2_exponential_bucket_histogram` |
/// | `OTEL_METRICS_EXEMPLAR_FILTER` | `metrics.exemplar_filter` | `trace_based` (default), `always_on`, `always_off` |
/// | none: use `OTLP__METRICS__CARDINALITY_LIMIT` | `metrics.cardinality_limit` | whole number, at least 1 (default 2000) |
///
/// `OTEL_LOG_LEVEL` is not part of a [`Config`]: the default loss handler
/// reads it, once (see [`diagnostics`](crate::diagnostics#otel_log_level)).
/// Other `OTEL_*` variables belong to other components and are ignored.
///
/// # `OTLP__` overrides
///
/// `OTLP__SECTION__KEY=value` sets any file key (`OTLP__BATCH__MAX_QUEUE_BYTES=16777216`,
/// `OTLP__BATCH__SCHEDULED_DELAY=250ms`); section and key are case-insensitive and
/// the value is read exactly like a file value. For the two maps:
///
/// * `OTLP__EXPORTER__HEADERS=k1=v1,k2=v2` and `OTLP__RESOURCE__ATTRIBUTES=k=v,…`
///   merge entries in the `OTEL_*` list syntax (percent-decoded);
/// * `OTLP__EXPORTER__HEADERS__X_API_KEY=abc` sets one header: the name is
///   lower-cased and `_` becomes `-` (`x-api-key`);
/// * `OTLP__RESOURCE__ATTRIBUTES__DEPLOYMENT_ENVIRONMENT=prod` sets one attribute:
///   lower-cased, `_` becomes `.` (`deployment.environment`). Spell keys that need
///   `_`, `-` or capitals with the list form.
///
/// The log pipeline's settings take one more level: `OTLP__LOGS__EXPORTER__KEY`,
/// `OTLP__LOGS__BATCH__KEY` and `OTLP__LOGS__DURABLE__KEY`
/// (`OTLP__LOGS__EXPORTER__ENDPOINT=https://logs:4318`,
/// `OTLP__LOGS__BATCH__SCHEDULED_DELAY=2s`,
/// `OTLP__LOGS__DURABLE__DIRECTORY=/var/lib/myapp/otlp-logs-queue`),
/// `OTLP__LOGS__EXPORTER__HEADERS=k=v,…` and
/// `OTLP__LOGS__EXPORTER__HEADERS__X_API_KEY=abc`. The log pipeline's durable
/// queue needs a directory of its own: one that `durable.directory` names
/// too is an error naming both keys.
///
/// The metrics pipeline's own keys sit directly under `OTLP__METRICS__`
/// (`OTLP__METRICS__EXPORT_INTERVAL=15s`, `OTLP__METRICS__CARDINALITY_LIMIT=500`,
/// `OTLP__METRICS__TEMPORALITY=delta`), its exporter's one level down:
/// `OTLP__METRICS__EXPORTER__KEY`, `OTLP__METRICS__EXPORTER__HEADERS__X_API_KEY=abc`.
///
/// Overrides apply in variable-name order, so a list form comes before the
/// single entries of the same map. An unknown section or key is an error.
///
/// # Strict and lenient
///
/// By default loading is strict: any rejected value is an error (but a sampler
/// argument no sampler uses, the table's last row). The specification
/// asks SDKs to *warn and ignore* bad `OTEL_*` values instead; [`lenient`](Self::lenient)
/// does that for the standard variables only:
///
/// | rejected `OTEL_*` value | strict | lenient |
/// |---|---|---|
/// | not a number / duration, negative, out of range (e.g. `0` queue size) | error | warning, variable ignored |
/// | unknown exporter kind, sampler (or one not built here: `jaeger_remote`, `parentbased_jaeger_remote`, `xray`), protocol, compression, temporality, histogram aggregation or exemplar filter | error | warning, variable ignored |
/// | a propagator in `OTEL_PROPAGATORS` not built here (`jaeger`, `xray`, `ottrace`) or unknown | error | warning, those names ignored, the others kept (none left: the variable is ignored) |
/// | `none` with other names in `OTEL_PROPAGATORS` | error | warning, variable ignored |
/// | boolean other than `true`/`false` | error | warning, read as `false` |
/// | one bad entry in `…_HEADERS` or `OTEL_RESOURCE_ATTRIBUTES` | error | warning, whole variable ignored |
/// | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` above `OTEL_BSP_MAX_QUEUE_SIZE` (or `OTEL_BLRP_*`; either from the variable, the other from any source) | error | warning, batch size lowered to the queue size |
/// | a bad `OTEL_TRACES_SAMPLER_ARG` (or `sampler.arg`) the sampler does not use (not a ratio sampler, or none named; the warning says so, and names a sampler refused when lenient) | warning, ignored | warning, ignored |
///
/// Always errors, in both modes: anything wrong in a file or an `OTLP__`
/// override (these are ours, and typos must not pass; a sampler argument
/// the sampler does not use is only a warning there too), unreadable or ambiguous
/// files, a bad `RUN_ENV`, non-UTF-8 values of the variables read here (the
/// `OTEL_*` ones above, `OTLP__*`, `RUN_ENV`; other `OTEL_*` variables are
/// another component's and are skipped whatever their bytes), and the
/// checks on the merged result, for spans, (under `logs.*`) for logs and
/// (under `metrics.*`) for metrics — batch
/// size at most the queue's count cap (when `max_queue_size` is set; unless a
/// standard variable set either when lenient, see above), minimum at most
/// maximum batch size, endpoint URL (scheme; a host the exporters' URL parsers
/// take: no forbidden character, a valid IPv4 or IPv6 address, ASCII for gRPC;
/// port; no query for gRPC), client certificate and key together, `max_backoff` at least `initial_backoff`, the log pipeline's
/// durable directory (`logs.durable.directory`) not the span pipeline's
/// (`durable.directory`).
///
/// # Secrets
///
/// Header values, the client key path and URL user-info never appear in errors,
/// warnings or `Debug` output (they read `<redacted>`); neither do the values of the
/// environment a loader holds.
#[derive(Clone)]
pub struct ConfigLoader {
    env: EnvSource,
    /// Chosen by the program; `None`: the environment's, else the default.
    config_dir: Option<PathBuf>,
    file: Option<PathBuf>,
    lenient: bool,
}

/// Where variables come from.
#[derive(Clone)]
enum EnvSource {
    /// `std::env::vars_os()`, read at load time.
    Process,
    /// Given by the program (tests, embedding), replacing the process environment.
    Given(BTreeMap<String, String>),
}

impl Default for ConfigLoader {
    fn default() -> Self {
        ConfigLoader::new()
    }
}

impl ConfigLoader {
    /// A strict loader reading the process environment (when [`load`](Self::load)
    /// runs) and the directory `config` (or what `OTLP_CONFIG_DIR` or
    /// `OTLP_CONFIG_FILE` name).
    pub fn new() -> Self {
        ConfigLoader {
            env: EnvSource::Process,
            config_dir: None,
            file: None,
            lenient: false,
        }
    }

    /// Reads variables (including `RUN_ENV`) from `vars` instead of the process
    /// environment. Replaces, does not add to, the environment; for a repeated
    /// name the last value counts.
    pub fn with_env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.env = EnvSource::Given(vars);
        self
    }

    /// Looks for `default.*` and `{RUN_ENV}.*` in `dir` instead of `config`
    /// (`OTLP_CONFIG_DIR` and `OTLP_CONFIG_FILE` are then not read).
    pub fn with_config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(dir.into());
        self
    }

    /// Reads exactly this file (YAML or TOML by extension) instead of looking in
    /// the configuration directory (`OTLP_CONFIG_DIR` and `OTLP_CONFIG_FILE`
    /// are then not read). A missing file is an error.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Turns rejected `OTEL_*` values into warnings, as the specification's
    /// "warn and ignore" asks (see [Strict and lenient](Self#strict-and-lenient)).
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    /// Loads and validates. In lenient mode warnings are dropped; use
    /// [`load_with_warnings`](Self::load_with_warnings) to report them.
    pub fn load(self) -> Result<Config, ConfigError> {
        self.load_with_warnings().map(|(config, _)| config)
    }

    /// Loads and validates, returning the warnings: in lenient mode the
    /// rejected `OTEL_*` values (and batch sizes lowered to the queue size);
    /// in both modes a bad sampler argument the sampler does not use, and
    /// what is accepted but not done — `baggage` named in `OTEL_PROPAGATORS`
    /// (or `propagation.propagators`), which is not propagated.
    pub fn load_with_warnings(self) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        self.load_all()
            .map(|(config, warnings, _)| (config, warnings))
    }

    /// Loads and validates like [`load`](Self::load), and says which source
    /// set each setting: a program can then name what turned something on
    /// or off (a file's key, or a variable) rather than guess. In lenient
    /// mode warnings are dropped.
    ///
    /// ```
    /// use otlp_sdk::config::{ConfigLoader, ConfigSource};
    ///
    /// let (config, origins) = ConfigLoader::new()
    ///     .with_config_dir("no-such-dir")
    ///     .with_env([("OTEL_LOGS_EXPORTER", "none")])
    ///     .load_with_origins()?;
    /// let set_by = origins.set_by("logs.exporter.kind").expect("a variable set it");
    /// assert_eq!(set_by.key, "OTEL_LOGS_EXPORTER");
    /// assert_eq!(set_by.source, ConfigSource::Env("OTEL_LOGS_EXPORTER".into()));
    /// // The spans' exporter kind is the default: no source set it.
    /// assert_eq!(origins.set_by("exporter.kind"), None);
    /// # let _ = config;
    /// # Ok::<(), otlp_sdk::config::ConfigError>(())
    /// ```
    pub fn load_with_origins(self) -> Result<(Config, ConfigOrigins), ConfigError> {
        self.load_all()
            .map(|(config, _, origins)| (config, ConfigOrigins::new(origins)))
    }

    /// Loads and validates: the configuration, the warnings and who set what.
    fn load_all(self) -> Result<(Config, Vec<ConfigWarning>, Origins), ConfigError> {
        let env = self.env.snapshot()?;
        let mut staged = Staged::new();
        let (files, lookup) = self.files(&env)?;
        for path in files {
            file::apply_file(&mut staged, &path).map_err(|error| match lookup {
                Lookup::DefaultDirectory => not_ours_hint(error),
                Lookup::Chosen => error,
            })?;
        }
        let mut warnings = Vec::new();
        env::apply_otel(&mut staged, &env, self.lenient, &mut warnings)?;
        env::apply_overrides(&mut staged, &env)?;
        keys::settle_sampler_args(&mut staged, self.lenient, &mut warnings)?;
        let (mut config, mut origins) = staged.resolve();
        if self.lenient {
            validate::clamp_batch_sizes(&mut config, &mut origins, &mut warnings);
        }
        validate::validate(&config, &origins)?;
        warnings.extend(baggage_warning(&config, &origins));
        Ok((config, warnings, origins))
    }

    /// The files to read, in order, and whether they were found in the
    /// default directory rather than where the program or the environment said.
    fn files(&self, env: &BTreeMap<String, String>) -> Result<(Vec<PathBuf>, Lookup), ConfigError> {
        if let Some(path) = &self.file {
            return Ok((vec![path.clone()], Lookup::Chosen));
        }
        let named = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let (dir, lookup) = match (&self.config_dir, named(CONFIG_FILE), named(CONFIG_DIR)) {
            (Some(dir), _, _) => (dir.as_path(), Lookup::Chosen),
            (None, Some(path), Some(_)) => {
                return Err(ConfigError::invalid(
                    CONFIG_FILE,
                    path,
                    format!("{CONFIG_DIR} is set too: name one file or one directory, not both"),
                    ConfigSource::Env(CONFIG_FILE.to_owned()),
                ));
            }
            (None, Some(path), None) => return Ok((vec![PathBuf::from(path)], Lookup::Chosen)),
            (None, None, Some(dir)) => (Path::new(dir), Lookup::Chosen),
            (None, None, None) => (Path::new(DEFAULT_CONFIG_DIR), Lookup::DefaultDirectory),
        };
        Ok((file::discover(dir, run_env(env)?)?, lookup))
    }
}

/// The note that `baggage`, named by a source (not the default), is accepted
/// but not propagated: the specification's default names it, so refusing it
/// would break common settings, and saying nothing would hide that baggage
/// headers are dropped.
fn baggage_warning(config: &Config, origins: &Origins) -> Option<ConfigWarning> {
    let dotted = Setting::PropagationPropagators.dotted();
    if !config.propagators.names_baggage() || !origins.is_recorded(dotted) {
        return None;
    }
    let set_by = origins.of(dotted);
    let used = config.propagators.propagators();
    Some(ConfigWarning(ConfigError::NotActedOn {
        key: set_by.key,
        value: PropagatorName::Baggage.as_str().to_owned(),
        reason: format!(
            "this SDK has no baggage API: W3C `baggage` headers are neither extracted nor \
             injected (the propagators used: {used})"
        ),
        origin: set_by.source,
    }))
}

/// Where the configuration files were looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    /// Where the program or the environment said.
    Chosen,
    /// In `config/`, by default: the files may be the application's own.
    DefaultDirectory,
}

/// An error about a file found in the default directory, with how to point
/// this SDK elsewhere when the file is the application's own: the
/// `config/default.toml` of the `config` crate's layout names sections this
/// configuration does not have.
fn not_ours_hint(mut error: ConfigError) -> ConfigError {
    let hint = format!(
        " (this file was found in {DEFAULT_CONFIG_DIR}/, where otlp-sdk looks by default; \
         if it is not meant for otlp-sdk, set {CONFIG_DIR} to another directory, \
         or {CONFIG_FILE} to a file of its own)"
    );
    if let ConfigError::UnknownKey { reason, .. }
    | ConfigError::InvalidValue { reason, .. }
    | ConfigError::FileRejected { reason, .. }
    | ConfigError::FileSyntax { reason, .. } = &mut error
    {
        reason.push_str(&hint);
    }
    error
}

/// `RUN_ENV`, if set: a plain file stem, so it cannot point outside the directory.
fn run_env(env: &BTreeMap<String, String>) -> Result<Option<&str>, ConfigError> {
    let Some(value) = env.get(RUN_ENV).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if value.chars().all(plain) && !value.starts_with('.') {
        Ok(Some(value))
    } else {
        Err(ConfigError::invalid(
            RUN_ENV,
            value,
            "must be a file name stem: letters, digits, '-', '_' and '.', not starting with '.'",
            ConfigSource::Env(RUN_ENV.to_owned()),
        ))
    }
}

impl EnvSource {
    /// The variables, sorted by name.
    fn snapshot(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        match self {
            EnvSource::Given(vars) => Ok(vars.clone()),
            EnvSource::Process => process_env(),
        }
    }
}

/// The process environment. Variables that are not UTF-8 are skipped, unless
/// they are ours (the `OTEL_*` variables read here, `OTLP__*`, `RUN_ENV`,
/// `OTLP_CONFIG_DIR`, `OTLP_CONFIG_FILE`): then they are an error.
fn process_env() -> Result<BTreeMap<String, String>, ConfigError> {
    let mut vars = BTreeMap::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else {
            continue;
        };
        match value.into_string() {
            Ok(value) => {
                vars.insert(name, value);
            }
            Err(value) if is_ours(&name) => {
                return Err(ConfigError::invalid(
                    name.clone(),
                    shown_non_utf8(&name, &value.to_string_lossy()),
                    "not valid UTF-8",
                    ConfigSource::Env(name),
                ));
            }
            Err(_) => {}
        }
    }
    Ok(vars)
}

/// A value of `name` that is not UTF-8, as its error shows it: lossily, and
/// redacted as that key's other errors are (header values, the client key,
/// an endpoint's user-info; an `OTLP__` name that suggests a secret).
fn shown_non_utf8(name: &str, lossy: &str) -> String {
    let node = Node::Str(lossy.to_owned());
    match env::otel_variables()
        .into_iter()
        .find(|(n, _, _)| n == name)
    {
        Some((_, key, _)) => key.shown(&node),
        None if name.to_ascii_lowercase().contains("endpoint") => redact_userinfo(lossy),
        None => shown_redacted(name, &node),
    }
}

/// Whether loading reads `name`. Other `OTEL_*` variables belong to other
/// components (`OTEL_PYTHON_*`) or are read elsewhere (`OTEL_LOG_LEVEL`, by
/// the default loss handler): loading ignores them.
fn is_ours(name: &str) -> bool {
    env::otel_variables()
        .iter()
        .any(|(ours, _, _)| ours == name)
        || name.starts_with(OVERRIDE_PREFIX)
        || [RUN_ENV, CONFIG_DIR, CONFIG_FILE].contains(&name)
}

impl fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("env", &self.env)
            .field("config_dir", &self.config_dir)
            .field("file", &self.file)
            .field("lenient", &self.lenient)
            .finish()
    }
}

/// Shows which of our variables are set, never their values.
impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvSource::Process => f.write_str("Process"),
            EnvSource::Given(vars) => {
                let ours = vars
                    .keys()
                    .filter(|name| is_ours(name))
                    .map(|name| (name, REDACTED));
                let ours = OursOnly(ours.collect());
                f.debug_tuple("Given")
                    .field(&format_args!("{} variables", vars.len()))
                    .field(&ours)
                    .finish()
            }
        }
    }
}

struct OursOnly<'a>(Vec<(&'a String, &'static str)>);

impl fmt::Debug for OursOnly<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().copied()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_found_in_the_default_directory_get_the_hint() {
        // The tests run in the crate's directory, which has no `config/`.
        let env = BTreeMap::new();
        let (files, lookup) = ConfigLoader::new().files(&env).unwrap();
        assert_eq!((files.len(), lookup), (0, Lookup::DefaultDirectory));
        let chosen = ConfigLoader::new().with_config_dir("config");
        assert_eq!(chosen.files(&env).unwrap().1, Lookup::Chosen);
        let named = BTreeMap::from([(CONFIG_DIR.to_owned(), "config".to_owned())]);
        assert_eq!(ConfigLoader::new().files(&named).unwrap().1, Lookup::Chosen);

        let unknown = ConfigError::UnknownKey {
            key: "database".into(),
            value: "{}".into(),
            reason: "no section \"database\"".into(),
            origin: ConfigSource::File(PathBuf::from("config/default.toml")),
        };
        let hinted = not_ours_hint(unknown).to_string();
        assert!(hinted.contains("no section \"database\""), "{hinted}");
        assert!(
            hinted.contains("set OTLP_CONFIG_DIR to another directory"),
            "{hinted}"
        );
    }

    #[test]
    fn run_env_must_be_a_plain_stem() {
        let env = |v: &str| BTreeMap::from([(RUN_ENV.to_owned(), v.to_owned())]);
        assert_eq!(run_env(&env("prod-eu.1")), Ok(Some("prod-eu.1")));
        assert_eq!(run_env(&env("  ")), Ok(None));
        for bad in ["../etc/passwd", "a/b", ".hidden", "a b"] {
            let err = run_env(&env(bad)).unwrap_err();
            assert_eq!(err.key(), Some(RUN_ENV), "{bad}");
            assert!(err.reason().contains("file name stem"), "{bad}");
        }
    }

    #[test]
    fn debug_lists_our_variable_names_but_no_values() {
        let loader = ConfigLoader::new().with_env([
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20s3cr3t",
            ),
            ("DATABASE_PASSWORD", "hunter2"),
        ]);
        let debug = format!("{loader:?}");
        assert!(debug.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{debug}");
        assert!(debug.contains("2 variables"), "{debug}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("hunter2"),
            "{debug}"
        );
        assert!(!debug.contains("DATABASE_PASSWORD"), "{debug}");
    }
}
