//! [`MetricsServer`]: the exposition on `GET /metrics`.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use otlp_sdk::StatsSnapshot;
use tokio::sync::watch;

use super::MetricsError;
use super::exposition::{self, Labels, render_prometheus};

/// How long a connection may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

type Render = dyn Fn() -> String + Send + Sync;

/// A small HTTP/1.1 server for Prometheus to scrape: `GET /metrics` (and
/// `HEAD`) answers `200` with the text exposition
/// (`Content-Type: text/plain; version=0.0.4; charset=utf-8`), rendered fresh
/// for every request; other methods on `/metrics` get `405`, other paths `404`.
///
/// It runs on its own thread with a single-threaded tokio runtime
/// ([`start`](Self::start), [`start_with`](Self::start_with)), or as a task on
/// a runtime you already have ([`start_on`](Self::start_on)). The port is bound
/// before `start*` returns, so a taken port is an error right away, and port 0
/// picks a free one ([`local_addr`](Self::local_addr) tells which). It stops on
/// [`shutdown`](Self::shutdown) or when dropped. Connections are kept alive;
/// one that does not send its request headers within 10 s is closed.
///
/// The render function runs on the server's thread for each scrape; a
/// [`StatsSnapshot`] costs a few microseconds, so scrapes never touch the
/// span path. `9464` is the port OpenTelemetry's Prometheus exporters use by default.
///
/// ```
/// use std::time::Duration;
/// use otlp_contrib::metrics::MetricsServer;
/// use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter};
/// use otlp_core::encode::Encoding;
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let processor = BatchSpanProcessor::builder(Accept).build()?;
/// let stats = processor.clone();
/// let server = MetricsServer::start("127.0.0.1:0".parse()?, move || stats.stats())?;
/// println!("scrape {}", server.url()); // http://127.0.0.1:PORT/metrics
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MetricsServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    /// The server's own thread ([`start_with`](Self::start_with) only).
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .field("stopped", &*self.stop.borrow())
            .finish()
    }
}

impl MetricsServer {
    /// Serves the stats `stats` returns, rendered by [`render_prometheus`]
    /// without labels, from a thread of its own.
    pub fn start<F>(addr: SocketAddr, stats: F) -> Result<MetricsServer, MetricsError>
    where
        F: Fn() -> StatsSnapshot + Send + Sync + 'static,
    {
        MetricsServer::start_with(addr, move || render_prometheus(&stats(), &Labels::none()))
    }

    /// Serves whatever `render` returns (for labels, several pipelines or the
    /// Collector's names, render an [`Exposition`](super::Exposition)), from a
    /// thread of its own.
    pub fn start_with<R>(addr: SocketAddr, render: R) -> Result<MetricsServer, MetricsError>
    where
        R: Fn() -> String + Send + Sync + 'static,
    {
        let listener = bind(addr)?;
        let local = local_addr(&listener, addr)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(MetricsError::Start)?;
        let (stop, stopped) = watch::channel(false);
        let render: Arc<Render> = Arc::new(render);
        let thread = std::thread::Builder::new()
            .name("otlp-metrics-server".into())
            .spawn(move || {
                otlp_sdk::own_threads::enter();
                runtime.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        serve(listener, render, stopped).await;
                    }
                });
            })
            .map_err(MetricsError::Start)?;
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Serves whatever `render` returns as a task on `runtime`, which must
    /// have I/O and timers enabled (`enable_all`).
    ///
    /// # Panics
    ///
    /// If the runtime was built without I/O enabled (as tokio's `TcpListener` does).
    pub fn start_on<R>(
        runtime: &tokio::runtime::Handle,
        addr: SocketAddr,
        render: R,
    ) -> Result<MetricsServer, MetricsError>
    where
        R: Fn() -> String + Send + Sync + 'static,
    {
        let listener = bind(addr)?;
        let local = local_addr(&listener, addr)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(MetricsError::Start)?
        };
        let (stop, stopped) = watch::channel(false);
        runtime.spawn(serve(listener, Arc::new(render), stopped));
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Mutex::new(None),
        })
    }

    /// The address the server listens on (the real port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to scrape: `http://ADDR/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops listening and closes open connections; waits for the server's own
    /// thread to end. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            // Never join from the server's own thread (a render function dropping the server).
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, MetricsError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| MetricsError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| MetricsError::Bind { addr, source })?;
    Ok(listener)
}

fn local_addr(
    listener: &std::net::TcpListener,
    addr: SocketAddr,
) -> Result<SocketAddr, MetricsError> {
    listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })
}

/// Accepts connections until `stopped` says so (or its sender is gone), then
/// drops every open connection.
async fn serve(
    listener: tokio::net::TcpListener,
    render: Arc<Render>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        if *stopped.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = stopped.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let render = render.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request: Request<Incoming>| {
                            // On the server's own thread, the hooks registered
                            // since it entered run before the render (see
                            // `otlp_sdk::own_threads`); elsewhere nothing.
                            otlp_sdk::own_threads::catch_up();
                            let response = respond(&request, &*render);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let _ = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            // A scraper may shut its side down once its
                            // request is sent: it still gets its answer
                            // (without, hyper could close at that end of
                            // input before writing it).
                            .half_close(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

fn respond(request: &Request<Incoming>, render: &Render) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    if request.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    // hyper sends the headers (Content-Length included) but no body for HEAD.
    let mut response = Response::new(Full::new(Bytes::from(render())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(exposition::CONTENT_TYPE),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::{Read, Write};

    use super::*;

    thread_local! {
        /// Whether `mark_hooked` ran on this thread.
        static HOOKED: Cell<bool> = const { Cell::new(false) };
    }

    fn mark_hooked() {
        HOOKED.with(|hooked| hooked.set(true));
    }

    /// The body of a `GET /metrics` on a connection of its own.
    fn scrape(server: &MetricsServer) -> String {
        let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: metrics\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        body.to_owned()
    }

    /// A hook registered with `own_threads::add_hook` once the server's
    /// thread has started (a bridge built after the server: its suppressed
    /// `opentelemetry` context) runs there before it renders again. The
    /// thread entered once and never caught up: the hook never ran there.
    #[test]
    fn a_hook_registered_after_the_server_started_runs_on_its_thread_before_it_renders() {
        let server = MetricsServer::start_with("127.0.0.1:0".parse().unwrap(), || {
            HOOKED.with(Cell::get).to_string()
        })
        .unwrap();
        // Answered: the server's thread has started (and entered).
        assert_eq!(scrape(&server), "false");
        otlp_sdk::own_threads::add_hook(mark_hooked);
        assert_eq!(scrape(&server), "true");
        server.shutdown();
    }
}
