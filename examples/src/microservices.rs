//! Three HTTP services — gateway → orders → inventory — instrumented with
//! `tracing` (`info_span!`, `#[instrument]`) and recorded by
//! [`OtlpLayer`], that propagate the trace context with [`extract`] and
//! [`inject`] (W3C `traceparent`, or what `OTEL_PROPAGATORS` names:
//! [`build_processor`] installs the configuration's propagators) and export
//! through one otlp-rust pipeline, so each request becomes one trace across
//! the three services.
//!
//! The services run in one process on loopback, each with its own
//! [`TracerProvider`] (and so its own `service.name`) behind its own
//! `tracing` subscriber — each service's tasks run with its dispatcher, as
//! separate processes would each install theirs — sharing one
//! [`BatchSpanProcessor`] as separate processes would share a collector.
//! The pipeline shuts down within its export timeout
//! (`OTEL_BSP_EXPORT_TIMEOUT`, 60 s when that is unlimited), as the
//! quickstart's do; [`Outcome::all_ok`] is what the example's exit status 0
//! says. [`run_until`] sends no more requests once its [`StopRequest`] is
//! made (the example's first SIGINT or SIGTERM) and still shuts down and
//! reports, saying which signal stopped it.

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use otlp_contrib::pipeline::build_processor;
use otlp_contrib::tracing::{OtlpLayer, OtlpSpanExt as _, extract, inject};
use otlp_sdk::config::{Config, ConfigLoader, ExporterKind, redact_userinfo};
use otlp_sdk::{BatchSpanProcessor, Signal, SpanProcessor, StatsSnapshot, TracerProvider};
use tokio::net::TcpListener;
use tracing::field::Empty;
use tracing::instrument::WithSubscriber as _;
use tracing::{Dispatch, Instrument as _, Span};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::collector::EmbeddedCollector;
use crate::interrupt::{StopRequest, StopSignal};
use crate::quickstart::shutdown_deadline;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One service: the route it serves, and the service it calls next (if any).
struct Service {
    route: &'static str,
    downstream: Option<(SocketAddr, &'static str)>,
    client: HttpClient,
}

impl Service {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{} {}", request.method(), self.route),
            otel.kind = "server",
            http.request.method = %request.method(),
            http.route = self.route,
            url.path = request.uri().path(),
            http.response.status_code = Empty,
            otel.status_description = Empty,
        );
        // Malformed or missing headers (a traceparent, or the B3 ones under
        // OTEL_PROPAGATORS=b3) start a new trace, as the W3C specification
        // says. Set before the span is entered.
        if let Some(parent) = extract(request.headers()) {
            let _ = span.set_parent(&parent);
        }
        let status = async {
            match self.downstream {
                Some((address, route)) => self.call(address, route).await,
                None => {
                    // The last service does some work of its own.
                    reserve_stock().await;
                    StatusCode::OK
                }
            }
        }
        .instrument(span.clone())
        .await;
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record(
                "otel.status_description",
                format_args!("downstream answered {status}").to_string(),
            );
        }
        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
        *response.status_mut() = status;
        Ok(response)
    }

    /// Calls the next service inside a client span whose context travels in
    /// `traceparent`.
    #[tracing::instrument(
        name = "call",
        skip(self),
        fields(
            otel.name = %format_args!("GET {route}"),
            otel.kind = "client",
            server.address = %address,
            http.response.status_code = Empty,
            otel.status_description = Empty,
        )
    )]
    async fn call(&self, address: SocketAddr, route: &'static str) -> StatusCode {
        let span = Span::current();
        let mut request =
            match Request::get(format!("http://{address}{route}")).body(Full::new(Bytes::new())) {
                Ok(request) => request,
                Err(error) => {
                    span.record("otel.status_description", error.to_string());
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
            };
        inject(&span.context(), request.headers_mut());
        let status = match self.client.request(request).await {
            Ok(response) => {
                let status = response.status();
                let _ = response.into_body().collect().await;
                status
            }
            Err(error) => {
                span.record("otel.status_description", error.to_string());
                StatusCode::BAD_GATEWAY
            }
        };
        span.record("http.response.status_code", status.as_u16());
        status
    }
}

/// The inventory's own work, a child of its request span.
#[tracing::instrument(name = "reserve stock", fields(inventory.items = Empty))]
async fn reserve_stock() {
    tokio::time::sleep(Duration::from_millis(2)).await;
    Span::current().record("inventory.items", 3);
}

/// Serves `service` on a free loopback port, its tasks recording through
/// `dispatch`; returns the address.
async fn serve(service: Arc<Service>, dispatch: Dispatch) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let accepting = dispatch.clone();
    tokio::spawn(
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(
                    async move {
                        let handler = service_fn(move |request| service.clone().handle(request));
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), handler)
                            .await;
                    }
                    .with_subscriber(dispatch.clone()),
                );
            }
        }
        .with_subscriber(accepting),
    );
    Ok(address)
}

/// One service's provider (its own `service.name`, the shared pipeline) and
/// its `tracing` subscriber: a registry with an [`OtlpLayer`].
fn tracing_for(config: &Config, name: &str, processor: &BatchSpanProcessor) -> Dispatch {
    let provider = TracerProvider::builder()
        .with_config(config)
        .with_service_name(name)
        .with_processor(processor.clone())
        .build();
    Dispatch::new(tracing_subscriber::registry().with(OtlpLayer::new(&provider)))
}

/// What the run produced; its `Display` is the report the example prints.
#[derive(Debug)]
pub struct Outcome {
    /// Requests sent to the gateway: those asked for, unless the run was
    /// interrupted.
    pub requests: usize,
    /// Requests asked for.
    pub requests_asked: usize,
    /// The signal that stopped the run before it sent every request asked
    /// for; what it had made was still shut down and reported.
    pub interrupted_by: Option<StopSignal>,
    /// Requests the gateway answered with 200.
    pub succeeded: usize,
    /// The pipeline's final accounting.
    pub stats: StatsSnapshot,
    /// Where the spans went: the traces endpoint (its user-info
    /// `<redacted>`), or the exporter kind when it is not OTLP (`console`,
    /// `none`; `none` too when the SDK is disabled).
    pub destination: String,
    /// Whether that was the embedded receiver.
    pub embedded: bool,
    /// Spans the embedded receiver got (`None` when they went elsewhere).
    pub received: Option<u64>,
    /// An error from the pipeline's shutdown (out of time, spans left), if any.
    pub shutdown_error: Option<String>,
    /// With the embedded receiver: the first trace drawn as a tree.
    pub first_trace: Option<String>,
    /// With the embedded receiver: the services that took part in the first
    /// trace, in the order they joined it.
    pub services_in_first_trace: Vec<String>,
    /// With the embedded receiver: whether every span of the first trace but
    /// the root has its parent in the trace.
    pub first_trace_connected: bool,
}

impl Outcome {
    /// Every span produced was exported (none dropped, failed, rejected or
    /// left unsettled by the shutdown), and the embedded receiver, when it
    /// was the target, got every one exported.
    pub fn all_delivered(&self) -> bool {
        self.stats.exported == self.stats.produced
            && self
                .received
                .is_none_or(|received| received == self.stats.exported)
    }

    /// What exit status 0 says: every request asked for was sent and
    /// succeeded, every span was delivered
    /// ([`all_delivered`](Self::all_delivered)), and the trace shown, if
    /// any, is connected.
    pub fn all_ok(&self) -> bool {
        self.interrupted_by.is_none()
            && self.succeeded == self.requests
            && self.all_delivered()
            && (self.first_trace.is_none() || self.first_trace_connected)
    }
}

impl fmt::Display for Outcome {
    /// The counts, then the first trace the embedded receiver got, or where
    /// the spans went instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} of {} requests succeeded; {} spans produced, {} exported, {} dropped, {} failed, {} rejected, {} unsettled",
            self.succeeded,
            self.requests,
            self.stats.produced,
            self.stats.exported,
            self.stats.dropped,
            self.stats.failed,
            self.stats.rejected,
            self.stats.queued + self.stats.in_flight,
        )?;
        if let Some(signal) = self.interrupted_by {
            writeln!(
                f,
                "interrupted by {signal} after {} of the {} requests asked for; what was made was shut down as usual",
                self.requests, self.requests_asked
            )?;
        }
        if let Some(received) = self.received.filter(|&got| got != self.stats.exported) {
            writeln!(
                f,
                "the embedded receiver got {received} of the {} spans exported",
                self.stats.exported
            )?;
        }
        if let Some(error) = &self.shutdown_error {
            writeln!(f, "shutdown: {error}")?;
        }
        if let Some(error) = &self.stats.last_error {
            writeln!(f, "last error: {error}")?;
        }
        match &self.first_trace {
            Some(tree) => {
                writeln!(
                    f,
                    "\nThe first request's trace crosses {} services ({}), connected: {}",
                    self.services_in_first_trace.len(),
                    self.services_in_first_trace.join(" → "),
                    self.first_trace_connected
                )?;
                write!(f, "{tree}")
            }
            None if self.embedded => write!(
                f,
                "(the embedded receiver at {} got no span to show)",
                self.destination
            ),
            None if self.destination == ExporterKind::None.to_string() => write!(
                f,
                "(span export is off: the traces exporter is none or the SDK is disabled, so no trace to show)"
            ),
            None if self.destination == ExporterKind::Console.to_string() => write!(
                f,
                "(the spans were written to stdout as OTLP/JSON lines, above)"
            ),
            None => write!(
                f,
                "(the spans were sent to {}, not shown here)",
                self.destination
            ),
        }
    }
}

/// Starts the three services, sends `requests` requests to the gateway,
/// shuts the pipeline down and inspects what the collector got.
pub async fn run(
    requests: usize,
    loader: ConfigLoader,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    run_until(requests, loader, &StopRequest::new()).await
}

/// [`run`] until done or until `stop` is requested: then it sends no more
/// requests, shuts the pipeline down as usual (within its export timeout)
/// and reports, with [`interrupted_by`](Outcome::interrupted_by) if it had
/// not sent all it was asked to.
pub async fn run_until(
    requests: usize,
    loader: ConfigLoader,
    stop: &StopRequest,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut config = loader.load()?;
    // Spans written to the console or not exported (`OTEL_TRACES_EXPORTER`,
    // `OTEL_SDK_DISABLED=true`) never reach a receiver: none is started, nor
    // waited for.
    let over_otlp =
        !config.is_disabled(Signal::Traces) && config.exporter.kind == ExporterKind::Otlp;
    let collector = if over_otlp {
        EmbeddedCollector::unless_configured(&mut config, 1)?
    } else {
        None
    };
    let destination = if over_otlp {
        // The outcome is printed: a password in the endpoint must not be.
        redact_userinfo(&config.exporter.endpoint_for(Signal::Traces))
    } else if config.is_disabled(Signal::Traces) {
        ExporterKind::None.to_string()
    } else {
        config.exporter.kind.to_string()
    };
    let processor = build_processor(&config)?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    let inventory = serve(
        Arc::new(Service {
            route: "/reserve",
            downstream: None,
            client: client.clone(),
        }),
        tracing_for(&config, "inventory", &processor),
    )
    .await?;
    let orders = serve(
        Arc::new(Service {
            route: "/orders",
            downstream: Some((inventory, "/reserve")),
            client: client.clone(),
        }),
        tracing_for(&config, "orders", &processor),
    )
    .await?;
    let gateway = serve(
        Arc::new(Service {
            route: "/checkout",
            downstream: Some((orders, "/orders")),
            client: client.clone(),
        }),
        tracing_for(&config, "gateway", &processor),
    )
    .await?;

    let mut succeeded = 0;
    let mut sent = 0;
    while sent < requests && !stop.is_requested() {
        sent += 1;
        let request =
            Request::get(format!("http://{gateway}/checkout")).body(Full::new(Bytes::new()))?;
        if client.request(request).await?.status() == StatusCode::OK {
            succeeded += 1;
        }
    }
    let flushing = processor.clone();
    let deadline = shutdown_deadline(config.batch.export_timeout);
    let shutdown = tokio::task::spawn_blocking(move || flushing.shutdown(deadline)).await?;
    let stats = processor.stats();

    let mut outcome = Outcome {
        requests: sent,
        requests_asked: requests,
        interrupted_by: stop.signal().filter(|_| sent < requests),
        succeeded,
        stats,
        destination,
        embedded: collector.is_some(),
        received: None,
        shutdown_error: shutdown.err().map(|error| error.to_string()),
        first_trace: None,
        services_in_first_trace: Vec::new(),
        first_trace_connected: false,
    };
    if let Some(collector) = &collector {
        // The receiver counts a request as it answers it: give the last answers a moment.
        collector.wait_for_spans(outcome.stats.exported, Duration::from_secs(5));
        outcome.received = Some(collector.received_spans());
        if let Some(trace_id) = collector.kept_trace_ids().first() {
            let trace = collector.trace(trace_id);
            outcome.first_trace = Some(collector.render_trace(trace_id));
            // (service, earliest span start): services in call order.
            let mut services: Vec<(String, u64)> = Vec::new();
            let mut span_ids = HashSet::new();
            let mut parents = Vec::new();
            for resource_spans in &trace.resource_spans {
                let service = resource_spans
                    .resource
                    .iter()
                    .flat_map(|resource| &resource.attributes)
                    .find(|attribute| attribute.key == "service.name")
                    .and_then(|attribute| attribute.value.as_ref())
                    .and_then(|value| match &value.value {
                        Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                name,
                            ),
                        ) => Some(name.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for span in resource_spans
                    .scope_spans
                    .iter()
                    .flat_map(|scope| &scope.spans)
                {
                    span_ids.insert(span.span_id.clone());
                    parents.push(span.parent_span_id.clone());
                    match services.iter_mut().find(|(known, _)| *known == service) {
                        Some(entry) => entry.1 = entry.1.min(span.start_time_unix_nano),
                        None => services.push((service.clone(), span.start_time_unix_nano)),
                    }
                }
            }
            let roots = parents.iter().filter(|parent| parent.is_empty()).count();
            outcome.first_trace_connected = roots == 1
                && parents
                    .iter()
                    .all(|parent| parent.is_empty() || span_ids.contains(parent));
            services.sort_by_key(|(_, start)| *start);
            outcome.services_in_first_trace =
                services.into_iter().map(|(service, _)| service).collect();
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outcome of `requests` requests, all answered, whose spans were all
    /// exported, as the embedded receiver saw it (`received`).
    fn outcome(received: Option<u64>) -> Outcome {
        Outcome {
            requests: 1,
            requests_asked: 1,
            interrupted_by: None,
            succeeded: 1,
            stats: StatsSnapshot {
                produced: 6,
                exported: 6,
                ..StatsSnapshot::default()
            },
            destination: "http://127.0.0.1:4318/v1/traces".into(),
            embedded: received.is_some(),
            received,
            shutdown_error: None,
            first_trace: None,
            services_in_first_trace: Vec::new(),
            first_trace_connected: false,
        }
    }

    #[test]
    fn spans_exported_but_not_all_received_are_not_delivered_and_the_outcome_says_so() {
        // The exit status read only the pipeline's counts: spans it counted
        // exported were taken as received.
        let short = outcome(Some(4));
        assert!(!short.all_delivered(), "{short}");
        assert!(!short.all_ok(), "{short}");
        assert!(
            short
                .to_string()
                .contains("the embedded receiver got 4 of the 6 spans exported"),
            "{short}"
        );
        for whole in [outcome(Some(6)), outcome(None)] {
            assert!(whole.all_ok(), "{whole}");
            assert!(
                !whole.to_string().contains("embedded receiver got"),
                "{whole}"
            );
        }
    }
}
