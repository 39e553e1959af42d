//! Accepting connections: TCP, optional TLS, HTTP/1.1 and HTTP/2 (auto-detected),
//! and refusing connections for a while.
//!
//! A connection that does not bring a request head within the configured
//! time (from its start, and on HTTP/1.1 from the end of each answer) is
//! closed, as the OpenTelemetry Collector's `read_header_timeout` does: a
//! client that opens connections and sends nothing, or a header a byte at a
//! time, cannot hold the receiver's sockets and tasks for ever.
//!
//! Refusing closes the listening socket (new connections get `ECONNREFUSED`)
//! and every open connection (keep-alive clients see a reset on their pooled
//! connection, requests in flight get no answer); after the window the same
//! address is bound again (`SO_REUSEADDR`, so the old connections' `TIME_WAIT`
//! does not stand in the way).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::workers::WorkerPool;

/// A TLS handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between attempts to bind again after a refusal window.
const REBIND_RETRY: Duration = Duration::from_millis(20);
/// The longest request head timeout taken as given: a year, "practically
/// never". A longer one (up to `Duration::MAX`) stands for this, since a
/// deadline past the clock's range panics (in hyper's HTTP/1.1 head timer
/// too), which ended every connection unanswered.
const LONGEST_REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// What the [`Receiver`](super::Receiver) can ask of a running listener.
#[derive(Debug)]
pub(crate) enum ListenerCommand {
    /// Close everything until `until`; `ack` is sent once closed.
    Refuse {
        until: Instant,
        ack: std::sync::mpsc::Sender<()>,
    },
}

/// Binds a listening socket with `SO_REUSEADDR`.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Runs a listener until the command channel closes (receiver shutdown).
/// Each accepted connection is served on one of `workers`' threads, and
/// closed when no request head arrives within `request_head_timeout`.
pub(crate) async fn run<S, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    request_head_timeout: Duration,
    service: S,
    workers: WorkerPool,
    mut commands: mpsc::UnboundedReceiver<ListenerCommand>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    enum Event {
        Accepted(io::Result<TcpStream>),
        ConnectionClosed,
        Command(Option<ListenerCommand>),
    }

    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let acceptor = tls.map(TlsAcceptor::from);
    let mut listener = listener;
    let mut connections = JoinSet::new();
    loop {
        let event = tokio::select! {
            accepted = listener.accept() => Event::Accepted(accepted.map(|(stream, _)| stream)),
            Some(_) = connections.join_next(), if !connections.is_empty() => Event::ConnectionClosed,
            command = commands.recv() => Event::Command(command),
        };
        match event {
            Event::Accepted(Ok(stream)) => {
                // The worker registers the socket with its own runtime.
                let Ok(stream) = stream.into_std() else {
                    continue;
                };
                let (acceptor, service) = (acceptor.clone(), service.clone());
                workers.spawn(&mut connections, async move {
                    if let Ok(stream) = TcpStream::from_std(stream) {
                        serve_connection(stream, acceptor, request_head_timeout, service).await;
                    }
                });
            }
            // Out of file descriptors and the like: let it pass, do not spin.
            Event::Accepted(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Event::ConnectionClosed => {}
            Event::Command(None) => return,
            Event::Command(Some(ListenerCommand::Refuse { until, ack })) => {
                drop(listener);
                connections.abort_all();
                while connections.join_next().await.is_some() {}
                let _ = ack.send(());
                if !refuse_until(until, &mut commands).await {
                    return;
                }
                listener = loop {
                    match bind(addr) {
                        Ok(listener) => break listener,
                        Err(_) if commands.is_closed() => return,
                        Err(_) => tokio::time::sleep(REBIND_RETRY).await,
                    }
                };
            }
        }
    }
}

/// Waits out a refusal window, extending it on further refusals; `false`
/// when the receiver shut down meanwhile.
async fn refuse_until(
    until: Instant,
    commands: &mut mpsc::UnboundedReceiver<ListenerCommand>,
) -> bool {
    let mut until = until;
    loop {
        let command = tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => return true,
            command = commands.recv() => command,
        };
        match command {
            Some(ListenerCommand::Refuse { until: later, ack }) => {
                until = until.max(later);
                let _ = ack.send(());
            }
            None => return false,
        }
    }
}

async fn serve_connection<S, B>(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    request_head_timeout: Duration,
    service: S,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = stream.set_nodelay(true);
    // A client's end of input is taken as the client hanging up: its request,
    // if not answered yet, is counted abandoned (its exporter will send it
    // again), as Go's net/http (the OpenTelemetry Collector) cancels such a
    // request. So a client that shuts its side down once its request is
    // sent (a half-close) gets no answer; OTLP exporters do not.
    let request_head_timeout = request_head_timeout.min(LONGEST_REQUEST_HEAD_TIMEOUT);
    let mut builder = Builder::new(TokioExecutor::new());
    // HTTP/1.1: hyper times each request head (the first, and each next one
    // on a kept-alive connection) once it has a timer.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(request_head_timeout);
    let head_arrived = Arc::new(Notify::new());
    let service = NoticeRequests {
        inner: service,
        head_arrived: Arc::clone(&head_arrived),
    };
    // Connection errors (resets, protocol violations) end the connection; there
    // is nobody to report them to.
    match acceptor {
        None => {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            until_first_request(connection, &head_arrived, request_head_timeout).await;
        }
        Some(acceptor) => {
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            else {
                return;
            };
            // Timed from the end of the handshake (which had its own
            // limit), as hyper times an HTTP/1.1 head.
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            until_first_request(connection, &head_arrived, request_head_timeout).await;
        }
    }
}

/// Drives `connection` to its end, or drops it (closing the socket) when no
/// request head has arrived within `timeout` from now. This covers what
/// hyper's own timer does not: a client that sends nothing, or part of the HTTP/2
/// preface, or an HTTP/2 connection that never opens a stream.
async fn until_first_request<C: std::future::Future>(
    connection: C,
    head_arrived: &Notify,
    timeout: Duration,
) {
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = &mut connection => return,
        () = head_arrived.notified() => {}
        () = tokio::time::sleep(timeout) => return,
    }
    let _ = connection.await;
}

/// A service that tells `head_arrived` of each request before passing it on.
struct NoticeRequests<S> {
    inner: S,
    head_arrived: Arc<Notify>,
}

impl<S, R> Service<R> for NoticeRequests<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, request: R) -> S::Future {
        // `notify_one` keeps a permit when nobody waits yet.
        self.head_arrived.notify_one();
        self.inner.call(request)
    }
}
