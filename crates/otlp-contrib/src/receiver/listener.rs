//! Accepting connections: TCP, optional TLS, HTTP/1.1 and HTTP/2 (auto-detected),
//! and refusing connections for a while.
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
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::workers::WorkerPool;

/// A TLS handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between attempts to bind again after a refusal window.
const REBIND_RETRY: Duration = Duration::from_millis(20);

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
/// Each accepted connection is served on one of `workers`' threads.
pub(crate) async fn run<S, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
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
                        serve_connection(stream, acceptor, service).await;
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

async fn serve_connection<S, B>(stream: TcpStream, acceptor: Option<TlsAcceptor>, service: S)
where
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
    let builder = Builder::new(TokioExecutor::new());
    // Connection errors (resets, protocol violations) end the connection; there
    // is nobody to report them to.
    match acceptor {
        None => {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
        Some(acceptor) => {
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            else {
                return;
            };
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }
}
