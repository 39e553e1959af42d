//! Accepting connections: TCP, optional TLS, HTTP/1.1 and HTTP/2 (auto-detected),
//! and refusing connections for a while.
//!
//! A connection on which no request is in progress for the configured time
//! (from its start, and from the end of each answer; on HTTP/2 as on
//! HTTP/1.1) is closed, as the OpenTelemetry Collector's
//! `read_header_timeout` closes a connection without a head and its gRPC
//! server's `max_connection_idle` (when set; or Go's HTTP/2 `IdleTimeout`)
//! an idle one: a client that opens connections and sends
//! nothing, a header a byte at a time, or one request and then nothing,
//! cannot hold the receiver's sockets and tasks for ever. The close is
//! graceful (a GOAWAY on HTTP/2, so a request that crossed it is still
//! served, and a clean close between requests on HTTP/1.1), and bounded by
//! the same time again: a client that does not let it finish (it never
//! answers the GOAWAY's PING) is dropped, and a request in hand then (one
//! that crossed the GOAWAY) is abandoned, not counted, as below. A request
//! in progress (its body still arriving, its answer being written) is never
//! timed by it.
//!
//! A request in progress is timed by the request timeout instead, from the
//! arrival of its head, as Go's `WriteTimeout` times the Collector's: a
//! client that sends its body a byte at a time, or nothing after the head,
//! or never lets its answer through (an HTTP/2 flow-control window of 0),
//! cannot hold a task for ever. Over HTTP/1.1 a request not answered by then
//! gets a 408 and its connection is closed; over HTTP/2 its stream's task
//! (hyper runs each stream as one, started when its head arrives) is
//! dropped, which resets that stream alone ([`StreamDeadline`]). Either way
//! its [`RequestDeadline`] tells its ticket, dropped unsettled, that it
//! timed out.
//!
//! Refusing closes the listening socket (new connections get `ECONNREFUSED`)
//! and every open connection (keep-alive clients see a reset on their pooled
//! connection, requests in flight get no answer); after the window the same
//! address is bound again (`SO_REUSEADDR`, so the old connections' `TIME_WAIT`
//! does not stand in the way). A request in hand when its connection is
//! closed so is abandoned, not counted, even if its handler goes on: hyper
//! runs each HTTP/2 stream as a task of its own, which ending the
//! connection's task cannot stop in the middle of a poll (a request read
//! whole and being decoded), and its client, which gets no answer, sends it
//! again ([`ConnectionReset`]).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::http::request_timed_out;
use super::request_cut::{ConnectionReset, RequestDeadline};
use super::workers::WorkerPool;

/// A TLS handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between attempts to bind again after a refusal window.
const REBIND_RETRY: Duration = Duration::from_millis(20);
/// The longest request head timeout and request timeout taken as given: a
/// year, "practically never". A longer one (up to `Duration::MAX`) stands
/// for this, since a deadline past the clock's range panics (in hyper's
/// HTTP/1.1 head timer too), which ended every connection unanswered.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The times a listener gives its connections and requests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    /// [`ReceiverConfig::request_head_timeout`](super::ReceiverConfig::request_head_timeout).
    pub(crate) request_head: Duration,
    /// [`ReceiverConfig::request_timeout`](super::ReceiverConfig::request_timeout).
    pub(crate) request: Duration,
}

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
/// closed when no request is in progress for the request head timeout; each
/// request is cut at its [`RequestDeadline`].
pub(crate) async fn run<S, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    timeouts: Timeouts,
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
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
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
    let resets = Arc::new(AtomicU64::new(0));
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
                let reset = ConnectionReset::accepted(&resets);
                workers.spawn(&mut connections, async move {
                    if let Ok(stream) = TcpStream::from_std(stream) {
                        serve_connection(stream, acceptor, timeouts, service, reset).await;
                    }
                });
            }
            // Out of file descriptors and the like: let it pass, do not spin.
            Event::Accepted(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Event::ConnectionClosed => {}
            Event::Command(None) => return,
            Event::Command(Some(ListenerCommand::Refuse { until, ack })) => {
                // First, so that a request whose handler outlives the abort
                // below (see the module docs) finds its connection reset.
                resets.fetch_add(1, Ordering::SeqCst);
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
    timeouts: Timeouts,
    service: S,
    reset: ConnectionReset,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = stream.set_nodelay(true);
    // A client's end of input is taken as the client hanging up: its request,
    // if not answered yet, is counted abandoned (its exporter will send it
    // again), as Go's net/http (the OpenTelemetry Collector) cancels such a
    // request. So a client that shuts its side down once its request is
    // sent (a half-close) gets no answer; OTLP exporters do not.
    let request_head_timeout = timeouts.request_head.min(LONGEST_TIMEOUT);
    let request_timeout = timeouts.request.min(LONGEST_TIMEOUT);
    let mut builder = Builder::new(StreamDeadline {
        timeout: request_timeout,
    });
    // HTTP/1.1: hyper times each request head (the first, and each next one
    // on a kept-alive connection) once it has a timer.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(request_head_timeout);
    // The bound `ReceiverConfig::max_request_bytes` documents rests on it.
    builder
        .http2()
        .max_concurrent_streams(super::config::MAX_CONCURRENT_STREAMS);
    let activity = Arc::new(RequestActivity::default());
    let service = TrackRequests {
        inner: service,
        activity: Arc::clone(&activity),
        reset: reset.clone(),
        request_timeout,
    };
    // Connection errors (resets, protocol violations) end the connection; there
    // is nobody to report them to.
    match acceptor {
        None => {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            serve_until_idle(
                connection,
                |connection| connection.graceful_shutdown(),
                &activity,
                request_head_timeout,
                &reset,
            )
            .await;
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
            serve_until_idle(
                connection,
                |connection| connection.graceful_shutdown(),
                &activity,
                request_head_timeout,
                &reset,
            )
            .await;
        }
    }
}

/// Drives `connection` to its end, or closes it once no request has been in
/// progress on it for `idle_timeout`: from now, and from the end of each
/// request (its answer written, or its stream reset). This covers what
/// hyper's own HTTP/1.1 head timer does not: a client that sends nothing,
/// or part of the HTTP/2 preface, or an HTTP/2 connection that opens no
/// stream, or no further stream after its last answer.
///
/// The close is `close_gracefully` (hyper's graceful shutdown: a GOAWAY on
/// HTTP/2, which waits for the client's PING answer and for any stream that
/// crossed it; a clean close of an idle HTTP/1.1 connection), given
/// `idle_timeout` again; a connection still open then is dropped, `reset`
/// first: a request in hand on it (an HTTP/2 stream's task, which the drop
/// does not end in the middle of a poll) is never answered, so it is
/// abandoned, not counted, as when refusing connections.
async fn serve_until_idle<C: Future>(
    connection: C,
    close_gracefully: impl FnOnce(Pin<&mut C>),
    activity: &RequestActivity,
    idle_timeout: Duration,
    reset: &ConnectionReset,
) {
    let mut connection = std::pin::pin!(connection);
    let mut idle_since = Some(tokio::time::Instant::now());
    loop {
        let idle_deadline = idle_since.map(|since| since + idle_timeout);
        let idle_too_long = async {
            match idle_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut connection => return,
            // A request started or ended (perhaps several): the clock starts
            // again when none is left in progress.
            () = activity.changed.notified() => {
                idle_since = activity.is_idle().then(tokio::time::Instant::now);
            }
            () = idle_too_long => break,
        }
    }
    close_gracefully(connection.as_mut());
    if tokio::time::timeout(idle_timeout, connection)
        .await
        .is_err()
    {
        reset.drop_connection();
    }
}

/// The requests in progress on one connection: from the arrival of a
/// request's head until hyper drops its answer's body (written whole, or
/// the stream reset). Each start and end wakes the connection's task.
#[derive(Debug, Default)]
struct RequestActivity {
    in_progress: AtomicUsize,
    changed: Notify,
}

impl RequestActivity {
    /// Counts a request in progress until the returned guard is dropped.
    fn start(self: &Arc<Self>) -> RequestInProgress {
        self.in_progress.fetch_add(1, Ordering::SeqCst);
        // `notify_one` keeps a permit when nobody waits yet.
        self.changed.notify_one();
        RequestInProgress(Arc::clone(self))
    }

    fn is_idle(&self) -> bool {
        self.in_progress.load(Ordering::SeqCst) == 0
    }
}

/// One request in progress on a connection; ends it when dropped.
#[derive(Debug)]
struct RequestInProgress(Arc<RequestActivity>);

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

/// Runs each HTTP/2 stream on the worker's runtime, as hyper asks of its
/// executor (one task per stream, started when the stream's head has
/// arrived), and drops it once `timeout` has passed: dropping a stream's
/// task drops its request, its answer and every handle on the stream, and
/// h2 resets a stream nobody holds that is not closed (`RST_STREAM` with
/// `CANCEL`); the connection's other streams carry on. HTTP/1.1 requests
/// are timed by [`TrackRequests`] (hyper runs them in the connection's task).
#[derive(Clone, Copy, Debug)]
struct StreamDeadline {
    timeout: Duration,
}

impl<F> hyper::rt::Executor<F> for StreamDeadline
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        let timeout = self.timeout;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(timeout, stream).await;
        });
    }
}

/// A service that counts each request in progress in `activity`, from its
/// call until its answer's body is dropped, hands the request its
/// connection's [`ConnectionReset`] and its [`RequestDeadline`], and answers
/// an HTTP/1.1 request whose answer is not decided by its deadline with a
/// 408 that closes the connection (dropping the request, whose ticket
/// counts it timed out). Costs one boxed future per request, and one timer
/// per HTTP/1.1 request (an HTTP/2 stream's is [`StreamDeadline`]'s).
struct TrackRequests<S> {
    inner: S,
    activity: Arc<RequestActivity>,
    reset: ConnectionReset,
    request_timeout: Duration,
}

impl<S, RB, B> Service<Request<RB>> for TrackRequests<S>
where
    S: Service<Request<RB>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<InProgressBody<Either<B, Full<Bytes>>>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, mut request: Request<RB>) -> Self::Future {
        let in_progress = self.activity.start();
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        request.extensions_mut().insert(self.reset.clone());
        request
            .extensions_mut()
            .insert(RequestDeadline::at(deadline));
        // HTTP/2 streams are timed by `StreamDeadline`, which also covers
        // writing their answers.
        let http1 = matches!(
            request.version(),
            http::Version::HTTP_09 | http::Version::HTTP_10 | http::Version::HTTP_11
        );
        let content_type = http1
            .then(|| request.headers().get(http::header::CONTENT_TYPE).cloned())
            .flatten();
        let request_timeout = self.request_timeout;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = if http1 {
                match tokio::time::timeout_at(deadline, answer).await {
                    Ok(response) => response?.map(Either::Left),
                    // The request (its body unread, its ticket unsettled)
                    // was dropped with the answer's future.
                    Err(_) => {
                        request_timed_out(content_type.as_ref(), request_timeout).map(Either::Right)
                    }
                }
            } else {
                answer.await?.map(Either::Left)
            };
            Ok(response.map(|body| InProgressBody {
                inner: body,
                _in_progress: in_progress,
            }))
        })
    }
}

/// An answer's body that keeps its request counted in progress until hyper
/// drops it.
struct InProgressBody<B> {
    inner: B,
    _in_progress: RequestInProgress,
}

impl<B: Body + Unpin> Body for InProgressBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Serves `connection` until it ends or its idle close does, with a
    /// short idle timeout; whether its requests' connection counts as reset
    /// then.
    fn reset_after_idle_close<C: Future>(
        connection: C,
        close_gracefully: impl FnOnce(Pin<&mut C>),
    ) -> bool {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let resets = Arc::new(AtomicU64::new(0));
        let reset = ConnectionReset::accepted(&resets);
        let activity = RequestActivity::default();
        runtime.block_on(serve_until_idle(
            connection,
            close_gracefully,
            &activity,
            Duration::from_millis(10),
            &reset,
        ));
        reset.happened()
    }

    /// An HTTP/2 connection whose graceful close does not end in time (a
    /// client that never answers the GOAWAY's PING, a request that crossed
    /// it still being handled) is dropped: a request in hand then is never
    /// answered, and must not be counted (its handler, an HTTP/2 stream's
    /// task, may go on past the drop in the middle of a poll). It was,
    /// since only refusing connections marked them reset.
    #[test]
    fn a_connection_dropped_at_the_end_of_its_idle_close_counts_as_reset() {
        assert!(reset_after_idle_close(std::future::pending::<()>(), |_| {}));
        // One that ends by itself, or once asked to close, is not.
        assert!(!reset_after_idle_close(std::future::ready(()), |_| {}));
        let asked = Arc::new(AtomicBool::new(false));
        let closes_when_asked = std::future::poll_fn({
            let asked = Arc::clone(&asked);
            move |_| {
                if asked.load(Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        });
        assert!(!reset_after_idle_close(closes_when_asked, |_| {
            asked.store(true, Ordering::SeqCst);
        }));
    }
}
