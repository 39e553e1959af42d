//! [`CoalescedWrites`]: the connection's writes gathered into few system
//! calls, and [`CoalescingConnector`], which opens connections with it
//! (directly, or through the environment's proxy).
//!
//! h2 writes at most one DATA frame per system call: a frame's payload is
//! handed to the socket straight from the request's buffer, after the frame
//! head, and the next frame is encoded only once that write is done. A
//! frame is at most the peer's `SETTINGS_MAX_FRAME_SIZE`, 16 KiB from the
//! Collector (grpc-go) and most servers, so a request of 120 KB (512 spans)
//! took about 13 `writev` calls (its HEADERS, the 5-byte message prefix, the
//! message in frames of 16 KiB), and on a loopback or fast link the kernel's
//! cost is per call and per packet more than per byte: each packet is sent,
//! delivered (waking the receiver) and acknowledged on its own.
//!
//! So the connection copies what h2 writes into a buffer of its own and
//! writes the buffer once the connection's task has made a whole turn
//! without adding to it. h2 flushes after each frame, and a request's
//! HEADERS and its DATA are written in different turns of the task (the
//! body is handed over by a task of its own), so neither a flush nor a read
//! can mean "done": each is taken as "maybe more to come" once (it returns
//! at once, and the task is woken to come back); a flush with nothing
//! written since the last flush, a read with nothing written or flushed
//! since the last read, a buffer of [`COALESCE_LIMIT`] bytes, or a shutdown
//! write it out. A request of 120 KB then goes out in one `write`, its
//! HEADERS frame with it. A read never waits for the buffer to be written:
//! a socket that is full wakes the task when it has room.
//!
//! **Cost model.** One copy of every byte sent into the buffer (a `memcpy`,
//! a small fraction of what the kernel spends per call it saves), one or two
//! more polls of the connection's task per burst of frames, and a buffer of up
//! to [`COALESCE_LIMIT`] bytes per connection, freed with the connection.
//! A write of [`COALESCE_LIMIT`] bytes or more with nothing buffered is
//! passed on uncopied.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::proxy::{ConnectProxy, TunnelFailure};

/// Bytes gathered at most before they are written whatever comes next:
/// large enough for a batch of a few thousand spans in one call, small
/// enough that a connection's buffer costs little. At the limit the buffer
/// is written out before more is taken.
pub(crate) const COALESCE_LIMIT: usize = 256 * 1024;

/// An I/O object whose writes are gathered until the writer is done for now;
/// see the module docs.
#[derive(Debug)]
pub(crate) struct CoalescedWrites<T> {
    io: T,
    /// Bytes taken from the writer; `buffer[written..]` are not yet written.
    buffer: Vec<u8>,
    written: usize,
    /// Bytes were taken since the last flush.
    fresh: bool,
    /// A read found bytes buffered, and nothing was taken or flushed since.
    read_checked: bool,
}

impl<T> CoalescedWrites<T> {
    pub(crate) fn new(io: T) -> Self {
        CoalescedWrites {
            io,
            buffer: Vec::new(),
            written: 0,
            fresh: false,
            read_checked: false,
        }
    }

    fn unwritten(&self) -> usize {
        self.buffer.len() - self.written
    }
}

impl<T: AsyncWrite + Unpin> CoalescedWrites<T> {
    /// Writes out everything buffered.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buffer.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buffer[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buffer.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for CoalescedWrites<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A reader may wait for an answer to what is buffered: the second
        // read with nothing new writes it out (the first one only wakes the
        // task, which may be about to write more). A full socket does not
        // hold the read up: its readiness wakes the task to write the rest.
        if this.unwritten() > 0 {
            if this.read_checked {
                if let Poll::Ready(Err(error)) = this.poll_write_out(cx) {
                    return Poll::Ready(Err(error));
                }
            } else {
                this.read_checked = true;
                cx.waker().wake_by_ref();
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total: usize = bufs.iter().map(|buf| buf.len()).sum();
        if this.unwritten() > 0 && this.unwritten() + total > COALESCE_LIMIT {
            ready!(this.poll_write_out(cx))?;
        }
        if this.unwritten() == 0 && total >= COALESCE_LIMIT {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        if this.written > 0 {
            // Part of the buffer went out before the socket filled up: keep
            // only the rest, so that the buffer stays within the limit.
            this.buffer.drain(..this.written);
            this.written = 0;
        }
        for buf in bufs {
            this.buffer.extend_from_slice(buf);
        }
        this.fresh = true;
        this.read_checked = false;
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unwritten() > 0 {
            if this.fresh {
                // Maybe more to come: the task comes back, and writes
                // what it has then.
                this.fresh = false;
                this.read_checked = false;
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            ready!(this.poll_write_out(cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_out(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Opens TCP connections as tonic's own connector does (`TCP_NODELAY`, the
/// connect timeout), each wrapped in [`CoalescedWrites`]. tonic adds TLS
/// over it for `https://` endpoints.
///
/// With a proxy (the environment's, decided when the exporter was built:
/// see [`crate::proxy`]), each connection goes to the proxy instead and
/// opens a `CONNECT` tunnel to the endpoint, bounded by the connect timeout
/// too; TLS and HTTP/2 then run inside the tunnel as they run on a direct
/// connection. Without one, a connection is opened exactly as before
/// proxies were read: one `Option` checked per connection.
#[derive(Clone, Debug)]
pub(crate) struct CoalescingConnector {
    http: HttpConnector,
    connect_timeout: Duration,
    /// The proxy to tunnel through, or `None`: straight to the endpoint.
    proxy: Option<Arc<ConnectProxy>>,
}

impl CoalescingConnector {
    pub(crate) fn new(connect_timeout: Duration, proxy: Option<ConnectProxy>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        CoalescingConnector {
            http,
            connect_timeout,
            proxy: proxy.map(Arc::new),
        }
    }

    /// The proxy connections go through, if any.
    pub(crate) fn proxy(&self) -> Option<&ConnectProxy> {
        self.proxy.as_deref()
    }
}

impl Service<Uri> for CoalescingConnector {
    type Response = TokioIo<CoalescedWrites<TcpStream>>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let Some(proxy) = self.proxy.clone() else {
            let connecting = self.http.call(uri);
            return Box::pin(async move {
                let stream = connecting.await?.into_inner();
                Ok(TokioIo::new(CoalescedWrites::new(stream)))
            });
        };
        // The tunnel's target is the endpoint the proxy was chosen for,
        // which is the only one this connector is asked for.
        let connecting = self.http.call(proxy.address().clone());
        let timeout = self.connect_timeout;
        Box::pin(async move {
            let mut stream = connecting
                .await
                .map_err(|error| proxy.error(TunnelFailure::Connect(error.into())))?
                .into_inner();
            proxy.open_tunnel(&mut stream, timeout).await?;
            Ok(TokioIo::new(CoalescedWrites::new(stream)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    /// A socket that records each write call and has nothing to read.
    #[derive(Default)]
    struct RecordingSocket {
        writes: Vec<Vec<u8>>,
        shut_down: bool,
        /// Room for this many more bytes, when limited: then `Pending`.
        room: Option<usize>,
    }

    impl AsyncRead for RecordingSocket {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for RecordingSocket {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let taken = buf.len().min(self.room.unwrap_or(usize::MAX));
            if taken == 0 {
                return Poll::Pending;
            }
            if let Some(room) = &mut self.room {
                *room -= taken;
            }
            self.writes.push(buf[..taken].to_vec());
            Poll::Ready(Ok(taken))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut_down = true;
            Poll::Ready(Ok(()))
        }
    }

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Turns {
        wakes: Arc<CountingWaker>,
        waker: Waker,
    }

    impl Turns {
        fn new() -> Self {
            let wakes = Arc::new(CountingWaker::default());
            Turns {
                waker: Waker::from(Arc::clone(&wakes)),
                wakes,
            }
        }

        fn context(&self) -> Context<'_> {
            Context::from_waker(&self.waker)
        }

        fn wakes(&self) -> usize {
            self.wakes.0.load(Ordering::SeqCst)
        }
    }

    fn write(io: &mut CoalescedWrites<RecordingSocket>, turns: &Turns, bytes: &[u8]) {
        let written = Pin::new(io).poll_write_vectored(
            &mut turns.context(),
            &[IoSlice::new(&bytes[..1]), IoSlice::new(&bytes[1..])],
        );
        assert!(matches!(written, Poll::Ready(Ok(n)) if n == bytes.len()));
    }

    fn flush(io: &mut CoalescedWrites<RecordingSocket>, turns: &Turns) {
        let flushed = Pin::new(io).poll_flush(&mut turns.context());
        assert!(matches!(flushed, Poll::Ready(Ok(()))));
    }

    fn read(io: &mut CoalescedWrites<RecordingSocket>, turns: &Turns) {
        let mut space = [0u8; 16];
        let mut buf = ReadBuf::new(&mut space);
        assert!(
            Pin::new(io)
                .poll_read(&mut turns.context(), &mut buf)
                .is_pending()
        );
    }

    #[test]
    fn frames_flushed_one_by_one_reach_the_socket_in_one_write_once_a_turn_adds_nothing() {
        let mut io = CoalescedWrites::new(RecordingSocket::default());
        let turns = Turns::new();
        // One turn of h2's connection task: it reads (nothing), then
        // writes and flushes frame after frame.
        read(&mut io, &turns);
        for frame in [&b"HEADERS"[..], b"DATA-1", b"DATA-2"] {
            write(&mut io, &turns, frame);
            flush(&mut io, &turns);
        }
        assert!(io.io.writes.is_empty(), "nothing written yet");
        assert!(turns.wakes() >= 1, "the task is woken to come back");
        // The next turn adds a frame; the one after adds nothing.
        read(&mut io, &turns);
        write(&mut io, &turns, b"DATA-3");
        flush(&mut io, &turns);
        assert!(io.io.writes.is_empty());
        read(&mut io, &turns);
        flush(&mut io, &turns);
        assert_eq!(io.io.writes, [b"HEADERSDATA-1DATA-2DATA-3".to_vec()]);
        // Nothing buffered: flushes and reads neither write nor wake.
        let wakes = turns.wakes();
        read(&mut io, &turns);
        flush(&mut io, &turns);
        assert_eq!(io.io.writes.len(), 1);
        assert_eq!(turns.wakes(), wakes);
    }

    #[test]
    fn a_reader_waiting_for_an_answer_gets_what_it_wrote_sent() {
        // A TLS handshake: a write, a flush, then only reads.
        let mut io = CoalescedWrites::new(RecordingSocket::default());
        let turns = Turns::new();
        write(&mut io, &turns, b"ClientHello");
        flush(&mut io, &turns);
        read(&mut io, &turns);
        assert!(io.io.writes.is_empty());
        let wakes = turns.wakes();
        assert!(wakes >= 2, "each deferral wakes the task");
        read(&mut io, &turns);
        assert_eq!(io.io.writes, [b"ClientHello".to_vec()]);
        assert_eq!(turns.wakes(), wakes, "written: no more wake-ups");
    }

    #[test]
    fn the_buffer_is_written_at_its_limit_and_at_shutdown() {
        let mut io = CoalescedWrites::new(RecordingSocket::default());
        let turns = Turns::new();
        let frame = vec![7u8; COALESCE_LIMIT / 2];
        write(&mut io, &turns, &frame);
        write(&mut io, &turns, &frame);
        assert!(io.io.writes.is_empty(), "the limit holds exactly");
        write(&mut io, &turns, b"more");
        assert_eq!(io.io.writes.len(), 1, "written before it went over");
        assert_eq!(io.io.writes[0].len(), COALESCE_LIMIT);
        // A write as large as the limit with nothing buffered is not copied.
        let shutdown = Pin::new(&mut io).poll_shutdown(&mut turns.context());
        assert!(matches!(shutdown, Poll::Ready(Ok(()))));
        assert_eq!(io.io.writes[1], b"more");
        assert!(io.io.shut_down);
        let large = vec![1u8; COALESCE_LIMIT];
        let written =
            Pin::new(&mut io).poll_write_vectored(&mut turns.context(), &[IoSlice::new(&large)]);
        assert!(matches!(written, Poll::Ready(Ok(n)) if n == COALESCE_LIMIT));
        assert_eq!(io.io.writes.len(), 3, "passed straight on");
        assert_eq!(io.unwritten(), 0);
    }

    #[test]
    fn a_full_socket_keeps_the_rest_in_order_and_the_reader_is_not_held_up() {
        let mut io = CoalescedWrites::new(RecordingSocket {
            room: Some(4),
            ..RecordingSocket::default()
        });
        let turns = Turns::new();
        write(&mut io, &turns, b"abcdefgh");
        flush(&mut io, &turns);
        // The second flush writes what fits, then waits for room.
        assert!(
            Pin::new(&mut io)
                .poll_flush(&mut turns.context())
                .is_pending()
        );
        assert_eq!(io.io.writes, [b"abcd".to_vec()]);
        // A read goes on although the buffer is not written yet.
        read(&mut io, &turns);
        read(&mut io, &turns);
        write(&mut io, &turns, b"ij");
        assert_eq!(
            io.buffer, b"efghij",
            "what went out is dropped, the rest kept in order"
        );
        io.io.room = None;
        flush(&mut io, &turns);
        flush(&mut io, &turns);
        assert_eq!(io.io.writes.concat(), b"abcdefghij");
        assert_eq!(io.unwritten(), 0);
    }
}
