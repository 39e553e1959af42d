//! The exporter a configuration names, chosen at run time, and a batch
//! processor around it.
//!
//! `otlp-sdk` loads one typed [`Config`] (defaults, files, `OTEL_*` variables,
//! `OTLP__` overrides); its `exporter.protocol` picks the transport.
//! [`exporter_from_config`] builds that transport —
//! [`GrpcExporter`](otlp_exporter_grpc::GrpcExporter) for `grpc`,
//! [`HttpExporter`](otlp_exporter_http::HttpExporter) for `http/protobuf` and
//! `http/json` — behind one type, `Box<dyn DynExporter>` (itself an
//! [`Exporter`]); [`build_processor`] puts a
//! [`BatchSpanProcessor`] with the configuration's batch, retry and timeout
//! settings in front of it. [`log_exporter_from_config`] and
//! [`build_log_processor`] do the same for log records, from `config.logs`
//! (the `OTEL_EXPORTER_OTLP_LOGS_*` and `OTEL_BLRP_*` settings over the
//! generic ones). [`metric_exporter_from_config`] builds the metrics
//! transport from `config.metrics.exporter` (the `OTEL_EXPORTER_OTLP_METRICS_*`
//! settings over the generic ones), for a metrics reader.
//!
//! A signal's exporter kind (`OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER`,
//! `OTEL_METRICS_EXPORTER`, key `exporter.kind`) comes first: `otlp` builds
//! the transport above; `console` a [`FileExporter`] writing OTLP/JSON lines
//! to standard output; `none` an exporter that [stands for
//! `none`](Exporter::stands_for_none) and fails every request with the
//! reason. A provider built `with_config` from that configuration leaves a
//! processor or reader over it out, so that with nothing else given in code
//! the signal records nothing and costs a flag check (processors and
//! readers the program gives in code still get the records: `none` is "no
//! exporter from configuration", as the specification says). That exporter
//! only sees records of a provider configured in code only, and they are
//! counted `failed`, never lost unseen; the export loop of a processor over
//! it starts with the first such record, so that a configuration whose
//! exporters are all `none` starts no thread.
//!
//! With the `tracing` feature, the span pipeline's builders
//! ([`exporter_from_config`], [`build_processor`]) also install the
//! configuration's propagators (`OTEL_PROPAGATORS`) for the process, so that
//! `otlp_contrib::tracing::extract` and `inject` read and write the header
//! formats the configuration names (W3C Trace Context by default; `b3`,
//! `b3multi`, `none`).
//!
//! ```
//! use std::time::Duration;
//! use otlp_contrib::pipeline::build_processor;
//! use otlp_contrib::receiver::{Receiver, ReceiverConfig};
//! use otlp_sdk::config::{ConfigLoader, Protocol};
//! use otlp_sdk::TracerProvider;
//!
//! let collector = Receiver::start(ReceiverConfig::default())?;
//! let mut config = ConfigLoader::new().with_env([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).load()?;
//! config.exporter.endpoint = collector.grpc_endpoint();
//! assert_eq!(config.exporter.protocol, Protocol::Grpc);
//!
//! let processor = build_processor(&config)?;
//! let provider = TracerProvider::builder()
//!     .with_config(&config)
//!     .with_processor(processor.clone())
//!     .build();
//! provider.tracer("checkout").start("place order").end();
//! provider.shutdown(Duration::from_secs(5))?;
//! assert_eq!((processor.stats().exported, collector.span_count()), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use otlp_core::encode::Encoding;
use otlp_exporter_grpc::GrpcExporterBuilder;
use otlp_exporter_http::HttpExporterBuilder;
use otlp_sdk::config::{Config, ExporterConfig, ExporterKind, Protocol};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, DynExporter, ExportError, ExportOutcome, ExportRequest,
    Exporter, PipelineError, Signal,
};

use crate::file_exporter::{FileExporter, FileExporterError};

/// Why a builder of this module ([`exporter_from_config`],
/// [`build_processor`], their log and metrics forms) failed; the message
/// names the exporter and the bad setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineBuildError {
    /// The OTLP/gRPC exporter rejected its settings.
    #[error("cannot build the OTLP/gRPC exporter: {0}")]
    Grpc(#[from] otlp_exporter_grpc::BuildError),
    /// The OTLP/HTTP exporter rejected its settings.
    #[error("cannot build the OTLP/HTTP exporter: {0}")]
    Http(#[from] otlp_exporter_http::HttpExporterError),
    /// The console exporter (`OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER` or
    /// `OTEL_METRICS_EXPORTER` set to `console`) could not start.
    #[error("cannot start the console exporter: {0}")]
    Console(#[from] FileExporterError),
    /// The configuration names an exporter kind this crate cannot build.
    #[error("cannot build a {kind} exporter for {}", signal.as_str())]
    UnsupportedExporter {
        /// The signal.
        signal: Signal,
        /// The kind its configuration names.
        kind: ExporterKind,
    },
    /// The batch processor (spans or log records) could not start.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// The exporter `config.exporter.protocol` names, configured from
/// `config.exporter` (endpoint, headers, compression, timeout, TLS files):
/// [`GrpcExporter::from_config`](otlp_exporter_grpc::GrpcExporter::from_config)
/// for `grpc`, [`HttpExporter::from_config`](otlp_exporter_http::HttpExporter::from_config)
/// for `http/protobuf` and `http/json`.
///
/// With the `tracing` feature, it also makes the configuration's
/// propagators (`OTEL_PROPAGATORS`, [`config.propagators`](Config::propagators))
/// the process's, for [`tracing::extract`] and [`tracing::inject`] (see
/// [`set_global_propagators`]; the last call wins): the exporter and the
/// propagation of the same configuration go together.
///
/// Cost: reads the TLS files the configuration names; opens no connection
/// (both exporters connect on the first export) and needs no runtime.
///
// The `tracing` links: to the items with the feature on, else to this
// version's docs.rs pages (every feature), so the docs build without it.
#[cfg_attr(
    feature = "tracing",
    doc = "[`tracing::extract`]: crate::tracing::extract\n\
           [`tracing::inject`]: crate::tracing::inject\n\
           [`set_global_propagators`]: crate::tracing::set_global_propagators"
)]
#[cfg_attr(
    not(feature = "tracing"),
    doc = concat!(
        "[`tracing::extract`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/tracing/fn.extract.html\n",
        "[`tracing::inject`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/tracing/fn.inject.html\n",
        "[`set_global_propagators`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/tracing/fn.set_global_propagators.html"
    )
)]
pub fn exporter_from_config(config: &Config) -> Result<Box<dyn DynExporter>, PipelineBuildError> {
    let exporter = signal_exporter(&config.exporter, Signal::Traces)?;
    #[cfg(feature = "tracing")]
    crate::tracing::set_global_propagators(config.propagators.propagators());
    Ok(exporter)
}

/// The log exporter `config.logs.exporter` names (the generic
/// `OTEL_EXPORTER_OTLP_*` settings under the `OTEL_EXPORTER_OTLP_LOGS_*`
/// ones): as [`exporter_from_config`], sending to `/v1/logs` or
/// `LogsService/Export`.
pub fn log_exporter_from_config(
    config: &Config,
) -> Result<Box<dyn DynExporter>, PipelineBuildError> {
    signal_exporter(&config.logs.exporter, Signal::Logs)
}

/// The metrics exporter `config.metrics.exporter` names (the generic
/// `OTEL_EXPORTER_OTLP_*` settings under the `OTEL_EXPORTER_OTLP_METRICS_*`
/// ones): as [`exporter_from_config`], sending to `/v1/metrics` or
/// `MetricsService/Export`. Each request's record count is its number of
/// data points.
///
/// ```
/// use otlp_contrib::pipeline::metric_exporter_from_config;
/// use otlp_sdk::config::ConfigLoader;
/// use otlp_sdk::{Exporter, Signal};
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")])
///     .load()?;
/// let exporter = metric_exporter_from_config(&config)?;
/// assert_eq!(exporter.signal(), Signal::Metrics);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn metric_exporter_from_config(
    config: &Config,
) -> Result<Box<dyn DynExporter>, PipelineBuildError> {
    signal_exporter(&config.metrics.exporter, Signal::Metrics)
}

fn signal_exporter(
    exporter: &ExporterConfig,
    signal: Signal,
) -> Result<Box<dyn DynExporter>, PipelineBuildError> {
    match exporter.kind {
        ExporterKind::Otlp => {}
        ExporterKind::Console => {
            return Ok(Box::new(FileExporter::stdout()?.for_signal(signal)));
        }
        ExporterKind::None => return Ok(Box::new(TurnedOff { signal })),
        // A kind this crate does not know yet: refuse rather than send
        // somewhere the configuration did not ask for.
        kind => return Err(PipelineBuildError::UnsupportedExporter { signal, kind }),
    }
    Ok(match exporter.protocol {
        Protocol::Grpc => {
            Box::new(GrpcExporterBuilder::from_config_for(exporter, signal)?.build()?)
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            Box::new(HttpExporterBuilder::from_config_for(exporter, signal)?.build()?)
        }
    })
}

/// A started [`BatchSpanProcessor`] exporting through
/// [`exporter_from_config`], with the batch, retry, attempt timeout and
/// performance settings of `config`. Add it to a
/// [`TracerProvider`](otlp_sdk::TracerProvider) (keep a clone to read its stats).
/// With the `tracing` feature, the configuration's propagators become the
/// process's, as [`exporter_from_config`] says.
pub fn build_processor(config: &Config) -> Result<BatchSpanProcessor, PipelineBuildError> {
    let exporter = exporter_from_config(config)?;
    Ok(BatchSpanProcessor::builder(exporter)
        .with_config(config)
        .build()?)
}

/// A started [`BatchLogProcessor`] exporting through
/// [`log_exporter_from_config`], with `config.logs.batch` (the `OTEL_BLRP_*`
/// settings), retry and performance settings. Add it to a
/// [`LoggerProvider`](otlp_sdk::LoggerProvider). The durable queue is the
/// log pipeline's own, [`config.logs.durable`](otlp_sdk::config::LogsConfig::durable)
/// (`OTLP__LOGS__DURABLE__DIRECTORY`, section `logs.durable`), off unless
/// it names a directory. `config.durable` is never used here: it names the
/// span pipeline's directory ([`build_processor`]), and a directory holds
/// one signal's requests (loading refuses the two sections naming one
/// directory).
pub fn build_log_processor(config: &Config) -> Result<BatchLogProcessor, PipelineBuildError> {
    let exporter = log_exporter_from_config(config)?;
    let mut logs_own_durable = config.clone();
    logs_own_durable.durable = None;
    Ok(BatchLogProcessor::builder(exporter)
        .with_config(&logs_own_durable)
        .build()?)
}

/// The exporter of a signal that is off ([`ExporterKind::None`]): it
/// [stands for `none`](Exporter::stands_for_none), so the providers built
/// `with_config` from that configuration hand it nothing and nothing
/// should arrive here; a record that does (a provider configured in code
/// only) fails, naming why, and is counted `failed`, never dropped unseen.
struct TurnedOff {
    signal: Signal,
}

impl Exporter for TurnedOff {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn stands_for_none(&self) -> bool {
        true
    }

    async fn export(&self, _request: ExportRequest) -> ExportOutcome {
        ExportOutcome::Permanent {
            error: ExportError::Request(format!(
                "{} export is off (its exporter is `none`: {}=none, or `none` as the \
                 configuration file's exporter kind)",
                self.signal.as_str(),
                self.signal.exporter_variable()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use otlp_sdk::{SpanProcessor as _, TracerProvider};

    #[test]
    fn the_protocol_picks_the_transport_and_its_encoding() {
        for (protocol, encoding) in [
            (Protocol::Grpc, Encoding::Protobuf),
            (Protocol::HttpProtobuf, Encoding::Protobuf),
            (Protocol::HttpJson, Encoding::Json),
        ] {
            let mut config = Config::default();
            config.exporter.protocol = protocol;
            let exporter = exporter_from_config(&config).unwrap();
            assert_eq!(exporter.encoding(), encoding, "{protocol}");
        }
    }

    /// The signal and encoding of each signal's exporter built from `config`.
    fn signals_and_encodings(config: &Config) -> Vec<(Signal, Encoding)> {
        [
            exporter_from_config(config).unwrap(),
            log_exporter_from_config(config).unwrap(),
            metric_exporter_from_config(config).unwrap(),
        ]
        .iter()
        .map(|exporter| (exporter.signal(), exporter.encoding()))
        .collect()
    }

    #[test]
    fn each_signal_gets_its_own_section_and_signal() {
        let mut config = Config::default();
        config.exporter.protocol = Protocol::HttpJson;
        config.logs.exporter.protocol = Protocol::Grpc;
        config.metrics.exporter.protocol = Protocol::HttpProtobuf;
        assert_eq!(
            signals_and_encodings(&config),
            [
                (Signal::Traces, Encoding::Json),
                (Signal::Logs, Encoding::Protobuf),
                (Signal::Metrics, Encoding::Protobuf),
            ]
        );

        // Only the metrics section counts for metrics.
        config.metrics.exporter.protocol = Protocol::Grpc;
        config.metrics.exporter.endpoint = Some("ftp://metrics".into());
        let message = metric_exporter_from_config(&config)
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with("cannot build the OTLP/gRPC exporter"),
            "{message}"
        );
        assert!(message.contains("ftp://metrics"), "{message}");
        assert!(exporter_from_config(&config).is_ok());
    }

    #[test]
    fn the_exporter_kind_picks_otlp_the_console_or_none() {
        let mut config = Config::default();
        config.exporter.protocol = Protocol::Grpc;
        config.logs.exporter.kind = ExporterKind::Console;
        config.metrics.exporter.kind = ExporterKind::None;
        assert_eq!(
            signals_and_encodings(&config),
            [
                (Signal::Traces, Encoding::Protobuf),
                // The console writes OTLP/JSON lines, whatever the protocol.
                (Signal::Logs, Encoding::Json),
                (Signal::Metrics, Encoding::Protobuf),
            ]
        );
    }

    #[test]
    fn a_record_reaching_a_turned_off_signal_fails_naming_both_ways_to_turn_it_off() {
        // Before: "logs export is off (OTEL_LOGS_EXPORTER=none)", also when a
        // configuration file's exporter kind had turned it off.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let outcome = runtime.block_on(
            TurnedOff {
                signal: Signal::Logs,
            }
            .export(otlp_sdk::ExportRequest {
                body: bytes::Bytes::new(),
                encoding: Encoding::Protobuf,
                span_count: 1,
            }),
        );
        let ExportOutcome::Permanent { error } = outcome else {
            panic!("{outcome:?}");
        };
        let message = error.to_string();
        assert!(
            message.contains("OTEL_LOGS_EXPORTER=none")
                && message.contains("configuration file's exporter kind"),
            "{message}"
        );
    }

    #[test]
    fn with_traces_off_a_configured_provider_records_nothing_and_a_span_sent_anyway_fails() {
        let config = otlp_sdk::config::ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([("OTEL_TRACES_EXPORTER", "none")])
            .load()
            .unwrap();
        let processor = build_processor(&config).unwrap();
        let configured = TracerProvider::builder()
            .with_config(&config)
            .with_processor(processor.clone())
            .build();
        configured.tracer("off").start("not recorded").end();
        // A provider configured in code only still reaches the exporter:
        // the span is counted failed, with the reason.
        let in_code = TracerProvider::builder()
            .with_processor(processor.clone())
            .build();
        in_code.tracer("on").start("recorded").end();
        let flushed = processor.force_flush(Duration::from_secs(10));
        assert!(flushed.is_err(), "the span failed: {flushed:?}");
        let stats = processor.stats();
        assert_eq!((stats.produced, stats.exported, stats.failed), (1, 0, 1));
        assert!(stats.is_balanced(), "{stats:#?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        let error = stats.last_error.unwrap_or_default();
        assert!(error.contains("OTEL_TRACES_EXPORTER=none"), "{error}");
        configured.shutdown(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn with_logs_or_metrics_off_what_the_configuration_builds_records_nothing() {
        use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
        use otlp_sdk::{LogProcessor as _, LoggerProvider};
        let config = otlp_sdk::config::ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ])
            .load()
            .unwrap();
        // Logs: the processor stands for `none`; the logger is not even enabled.
        let processor = build_log_processor(&config).unwrap();
        assert!(processor.stands_for_none());
        let provider = LoggerProvider::builder()
            .with_config(&config)
            .with_processor(processor.clone())
            .build();
        let logger = provider.logger("off");
        assert!(!logger.enabled());
        logger.emit(otlp_core::LogRecord::builder().body("not emitted").build());
        provider.shutdown(Duration::from_secs(10)).unwrap();
        assert_eq!(processor.stats().produced, 0);

        // Metrics: the reader stands for `none`, never starts, and the
        // instruments record nothing.
        let reader = PeriodicReader::builder(metric_exporter_from_config(&config).unwrap())
            .with_config(&config)
            .build()
            .unwrap();
        assert!(reader.stands_for_none());
        let provider = MeterProvider::builder()
            .with_config(&config)
            .with_reader(reader)
            .build()
            .unwrap();
        provider.meter("off").u64_counter("c").build().add(1, &[]);
        assert!(provider.collect().is_empty());
        provider.force_flush(Duration::from_secs(10)).unwrap();
        provider.shutdown(Duration::from_secs(10)).unwrap();
        let stats = provider.stats();
        assert_eq!(
            (
                stats.exports,
                stats.produced_data_points,
                stats.failed_data_points
            ),
            (0, 0, 0),
            "{stats:?}"
        );
    }

    #[test]
    fn errors_name_the_exporter_and_the_setting() {
        let mut config = Config::default();
        config.exporter.protocol = Protocol::Grpc;
        config.exporter.endpoint = Some("ftp://collector".into());
        let error = exporter_from_config(&config).err().unwrap();
        let message = error.to_string();
        assert!(
            message.starts_with("cannot build the OTLP/gRPC exporter"),
            "{message}"
        );
        assert!(message.contains("ftp://collector"), "{message}");

        config.exporter.protocol = Protocol::HttpJson;
        let error = exporter_from_config(&config).err().unwrap();
        let message = error.to_string();
        assert!(
            message.starts_with("cannot build the OTLP/HTTP exporter"),
            "{message}"
        );
        assert!(message.contains("ftp://collector"), "{message}");
    }

    /// What the configuration's builders make of an endpoint with a
    /// password and an `authorization` header shows neither: the
    /// processors' and the bridge adapters' `Debug` output; nor do their
    /// errors for a client key that cannot be read (its setting may hold the
    /// key itself), in their message or their `Debug` output (what `main`
    /// returning them prints).
    #[test]
    fn secrets_in_the_configuration_reach_no_debug_output_and_no_error() {
        use otlp_sdk::LogProcessor as _;

        let hidden = |shown: String| assert!(!shown.contains("s3cret"), "{shown}");
        for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
            let mut config = Config::default();
            for exporter in [
                &mut config.exporter,
                &mut config.logs.exporter,
                &mut config.metrics.exporter,
            ] {
                exporter.protocol = protocol;
                exporter.endpoint = Some("http://user:s3cret@127.0.0.1:9".into());
                exporter.headers.insert("authorization", "Bearer s3cret");
            }
            let spans = build_processor(&config).expect("a span processor");
            let logs = build_log_processor(&config).expect("a log processor");
            hidden(format!("{spans:?} {logs:?}"));
            let _ = spans.shutdown(Duration::from_secs(1));
            let _ = logs.shutdown(Duration::from_secs(1));
            #[cfg(feature = "opentelemetry-bridge")]
            {
                use crate::bridge::{SdkExporter, SdkLogExporter, SdkMetricExporter};
                hidden(format!(
                    "{:?}",
                    SdkExporter::from_config(&config).expect("spans")
                ));
                hidden(format!(
                    "{:?}",
                    SdkLogExporter::from_config(&config).expect("logs")
                ));
                hidden(format!(
                    "{:?}",
                    SdkMetricExporter::from_config(&config).expect("metrics")
                ));
            }

            config.exporter.endpoint = Some("https://user:s3cret@127.0.0.1:9".into());
            config.exporter.tls.client_certificate =
                Some(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into());
            config.exporter.tls.client_key =
                Some("-----BEGIN PRIVATE KEY----- s3cret -----END PRIVATE KEY-----".into());
            let error = build_processor(&config).expect_err("the key cannot be read");
            hidden(format!("{error} {error:?}"));
            #[cfg(feature = "opentelemetry-bridge")]
            {
                let error = crate::bridge::SdkExporter::from_config(&config)
                    .expect_err("the key cannot be read");
                hidden(format!("{error} {error:?}"));
            }
        }
    }
}
