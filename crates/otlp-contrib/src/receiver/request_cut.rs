//! How the listener tells a request's ticket that the request was cut
//! before it was answered: its connection closed by the listener
//! ([`ConnectionReset`]) or its time up ([`RequestDeadline`]). Both travel in
//! each request's extensions, from the listener that sets them to the
//! handlers and the [`RequestTicket`](super::shared::RequestTicket) that read
//! them, so that neither needs the listener itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// When the listener cuts a request: the arrival of its head plus the
/// request timeout. In each request's extensions, so that its
/// [`RequestTicket`](super::shared::RequestTicket), dropped unsettled, can
/// tell a request cut for its time from one its client gave up on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestDeadline(tokio::time::Instant);

impl RequestDeadline {
    /// The deadline at `instant`.
    pub(crate) fn at(instant: tokio::time::Instant) -> Self {
        RequestDeadline(instant)
    }

    /// Whether the deadline has passed (the listener cuts a request at its
    /// deadline, never before).
    pub(crate) fn passed(&self) -> bool {
        tokio::time::Instant::now() >= self.0
    }
}

/// Whether the listener has closed the connection a request came on
/// (refusing connections closes every open one; the idle close drops one
/// that did not end gracefully in time), in each request's extensions: such
/// a request can no longer be answered, so its ticket leaves it abandoned
/// instead of counting it (see [`RequestTicket`](super::shared::RequestTicket)).
/// Cloning is cheap (two `Arc`s).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionReset {
    /// How many times the listener has closed all its connections.
    resets: Arc<AtomicU64>,
    /// That number when the connection was accepted.
    accepted_after: u64,
    /// Set when this connection alone is dropped (its idle close's end).
    dropped: Arc<AtomicBool>,
}

impl ConnectionReset {
    /// A connection accepted now by the listener that counts its resets in
    /// `resets`.
    pub(crate) fn accepted(resets: &Arc<AtomicU64>) -> Self {
        ConnectionReset {
            resets: Arc::clone(resets),
            accepted_after: resets.load(Ordering::SeqCst),
            dropped: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True once the listener has closed the connection.
    pub(crate) fn happened(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
            || self.resets.load(Ordering::SeqCst) != self.accepted_after
    }

    /// The connection is about to be dropped unfinished: a request in hand
    /// on it gets no answer.
    pub(crate) fn drop_connection(&self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}
