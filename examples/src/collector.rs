//! The embedded collector the examples export to, and the traces (with their
//! log records) and the latest metrics it keeps for display.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use otlp_contrib::receiver::{
    ReceivedRequest, Receiver, ReceiverConfig, ReceiverError, RequestObserver, Signal, Store,
    render_logs, render_traces,
};
use otlp_sdk::config::{Config, Protocol};

/// The spans and log records of the first few traces seen (by a span or by
/// a log record carrying its trace id), grouped as they arrived, and the
/// last metrics request accepted.
#[derive(Default)]
struct KeptTraces {
    limit: usize,
    order: Vec<Vec<u8>>,
    spans: HashMap<Vec<u8>, Vec<ResourceSpans>>,
    logs: HashMap<Vec<u8>, Vec<ResourceLogs>>,
    latest_metrics: Option<ExportMetricsServiceRequest>,
}

impl KeptTraces {
    fn keep(&mut self, request: &ReceivedRequest) {
        if !request.answered.is_accepted() {
            return;
        }
        match request.signal {
            Signal::Traces => self.keep_spans(request),
            Signal::Logs => self.keep_logs(request),
            // One request replaces the one before: memory stays bounded.
            Signal::Metrics => self.latest_metrics = Some(request.metrics.clone()),
            // A signal the examples do not display.
            _ => {}
        }
    }

    /// Whether `trace_id` is kept, starting to keep it if there is room.
    fn admits(&mut self, trace_id: &[u8]) -> bool {
        if self.order.iter().any(|kept| kept == trace_id) {
            return true;
        }
        if trace_id.is_empty() || self.order.len() >= self.limit {
            return false;
        }
        self.order.push(trace_id.to_vec());
        true
    }

    fn keep_logs(&mut self, request: &ReceivedRequest) {
        for resource_logs in &request.logs.resource_logs {
            for scope_logs in &resource_logs.scope_logs {
                for record in &scope_logs.log_records {
                    if !self.admits(&record.trace_id) {
                        continue;
                    }
                    let kept = self.logs.entry(record.trace_id.clone()).or_default();
                    kept.push(ResourceLogs {
                        resource: resource_logs.resource.clone(),
                        scope_logs: vec![ScopeLogs {
                            scope: scope_logs.scope.clone(),
                            log_records: vec![record.clone()],
                            schema_url: scope_logs.schema_url.clone(),
                        }],
                        schema_url: resource_logs.schema_url.clone(),
                    });
                }
            }
        }
    }

    fn keep_spans(&mut self, request: &ReceivedRequest) {
        for resource_spans in &request.request.resource_spans {
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    if !self.admits(&span.trace_id) {
                        continue;
                    }
                    let kept = self.spans.entry(span.trace_id.clone()).or_default();
                    kept.push(ResourceSpans {
                        resource: resource_spans.resource.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: scope_spans.scope.clone(),
                            spans: vec![span.clone()],
                            schema_url: scope_spans.schema_url.clone(),
                        }],
                        schema_url: resource_spans.schema_url.clone(),
                    });
                }
            }
        }
    }
}

/// An OTLP receiver on free loopback ports (gRPC and HTTP) that counts every
/// span, log record and metric data point, and keeps the spans and log
/// records of the first `keep_traces` traces and the latest metrics request
/// for display. Memory stays bounded however many arrive.
pub struct EmbeddedCollector {
    receiver: Receiver,
    kept: Arc<Mutex<KeptTraces>>,
}

impl EmbeddedCollector {
    /// Starts the receiver, keeping the spans of the first `keep_traces` traces.
    pub fn start(keep_traces: usize) -> Result<Self, ReceiverError> {
        let kept = Arc::new(Mutex::new(KeptTraces {
            limit: keep_traces,
            ..KeptTraces::default()
        }));
        let observer = {
            let kept = kept.clone();
            RequestObserver::new(move |request| {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .keep(request)
            })
        };
        let receiver = Receiver::start(ReceiverConfig {
            store: Store::DecodeOnly,
            observer: Some(observer),
            ..ReceiverConfig::default()
        })?;
        Ok(EmbeddedCollector { receiver, kept })
    }

    /// Starts one (keeping the first `keep_traces` traces) and points
    /// `config`'s exporter at it — unless `config` already names an endpoint,
    /// in which case the spans go there and no collector is started. For a
    /// program that exports spans only; [`unless_every_signal_configured`]
    /// for one that exports each signal.
    ///
    /// [`unless_every_signal_configured`]: Self::unless_every_signal_configured
    pub fn unless_configured(
        config: &mut Config,
        keep_traces: usize,
    ) -> Result<Option<Self>, ReceiverError> {
        if config.exporter.endpoint.is_some() || config.exporter.traces_endpoint.is_some() {
            return Ok(None);
        }
        let collector = EmbeddedCollector::start(keep_traces)?;
        config.exporter.endpoint = collector.endpoint(config.exporter.protocol);
        Ok(Some(collector))
    }

    /// Starts one (keeping the first `keep_traces` traces) unless `config`
    /// names an endpoint for every signal: for spans, log records and metrics
    /// each, the generic one (`OTEL_EXPORTER_OTLP_ENDPOINT`) or the signal's
    /// own (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `…_LOGS_…`, `…_METRICS_…`).
    /// Points no exporter at it: [`receive_spans_unless_configured`],
    /// [`receive_logs_unless_configured`] and
    /// [`receive_metrics_unless_configured`] do, for each signal without an
    /// endpoint of its own.
    ///
    /// [`receive_spans_unless_configured`]: Self::receive_spans_unless_configured
    /// [`receive_logs_unless_configured`]: Self::receive_logs_unless_configured
    /// [`receive_metrics_unless_configured`]: Self::receive_metrics_unless_configured
    pub fn unless_every_signal_configured(
        config: &Config,
        keep_traces: usize,
    ) -> Result<Option<Self>, ReceiverError> {
        let traces = &config.exporter;
        let logs = &config.logs.exporter;
        let metrics = &config.metrics.exporter;
        if (traces.endpoint.is_some() || traces.traces_endpoint.is_some())
            && (logs.endpoint.is_some() || logs.logs_endpoint.is_some())
            && (metrics.endpoint.is_some() || metrics.metrics_endpoint.is_some())
        {
            return Ok(None);
        }
        EmbeddedCollector::start(keep_traces).map(Some)
    }

    /// Points `config`'s span exporter at this collector, unless `config`
    /// names a traces endpoint (generic or traces-specific) of its own; says
    /// whether it did.
    pub fn receive_spans_unless_configured(&self, config: &mut Config) -> bool {
        let traces = &mut config.exporter;
        if traces.endpoint.is_some() || traces.traces_endpoint.is_some() {
            return false;
        }
        traces.endpoint = self.endpoint(traces.protocol);
        true
    }

    /// Points `config`'s log exporter at this collector too, unless `config`
    /// names a logs endpoint (generic or logs-specific) of its own; says
    /// whether it did.
    pub fn receive_logs_unless_configured(&self, config: &mut Config) -> bool {
        let logs = &mut config.logs.exporter;
        if logs.endpoint.is_some() || logs.logs_endpoint.is_some() {
            return false;
        }
        logs.endpoint = self.endpoint(logs.protocol);
        true
    }

    /// Points `config`'s metric exporter at this collector too, unless
    /// `config` names a metrics endpoint (generic or metrics-specific) of its
    /// own; says whether it did.
    pub fn receive_metrics_unless_configured(&self, config: &mut Config) -> bool {
        let metrics = &mut config.metrics.exporter;
        if metrics.endpoint.is_some() || metrics.metrics_endpoint.is_some() {
            return false;
        }
        metrics.endpoint = self.endpoint(metrics.protocol);
        true
    }

    /// The endpoint an exporter of `protocol` should use.
    pub fn endpoint(&self, protocol: Protocol) -> Option<String> {
        match protocol {
            Protocol::Grpc => self.receiver.grpc_endpoint(),
            Protocol::HttpProtobuf | Protocol::HttpJson => self.receiver.http_endpoint(),
        }
    }

    /// Spans received in accepted requests.
    pub fn received_spans(&self) -> u64 {
        self.receiver.span_count()
    }

    /// Waits until at least `spans` arrived, or `timeout` passed; says which.
    pub fn wait_for_spans(&self, spans: u64, timeout: Duration) -> bool {
        self.receiver.wait_for_spans(spans, timeout)
    }

    /// Log records received in accepted requests.
    pub fn received_log_records(&self) -> u64 {
        self.receiver.log_record_count()
    }

    /// Waits until at least `records` log records arrived, or `timeout`
    /// passed; says which.
    pub fn wait_for_log_records(&self, records: u64, timeout: Duration) -> bool {
        self.receiver.wait_for_log_records(records, timeout)
    }

    /// Metric data points received in accepted requests.
    pub fn received_data_points(&self) -> u64 {
        self.receiver.data_point_count()
    }

    /// Waits until at least `points` metric data points arrived, or
    /// `timeout` passed; says which.
    pub fn wait_for_data_points(&self, points: u64, timeout: Duration) -> bool {
        self.receiver.wait_for_data_points(points, timeout)
    }

    /// The last metrics request accepted, if any.
    pub fn latest_metrics(&self) -> Option<ExportMetricsServiceRequest> {
        self.lock().latest_metrics.clone()
    }

    /// Ids of the kept traces, in the order they were first seen.
    pub fn kept_trace_ids(&self) -> Vec<Vec<u8>> {
        self.lock().order.clone()
    }

    /// The kept spans of one trace, as one request.
    pub fn trace(&self, trace_id: &[u8]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: self.lock().spans.get(trace_id).cloned().unwrap_or_default(),
        }
    }

    /// The kept log records of one trace (those carrying its trace id), as one request.
    pub fn trace_logs(&self, trace_id: &[u8]) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: self.lock().logs.get(trace_id).cloned().unwrap_or_default(),
        }
    }

    /// The kept log records of one trace, one line each.
    pub fn render_trace_logs(&self, trace_id: &[u8]) -> String {
        render_logs(&self.trace_logs(trace_id))
    }

    /// The kept spans of one trace, drawn as an indented tree.
    pub fn render_trace(&self, trace_id: &[u8]) -> String {
        render_traces(&self.trace(trace_id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeptTraces> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
