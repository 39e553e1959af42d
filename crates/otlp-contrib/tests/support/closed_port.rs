//! A loopback address that refuses connections, shared by the tests that
//! need a backend that is down (included with `#[path]`; not a test target
//! of its own).

use std::net::{Ipv4Addr, SocketAddr};

/// A loopback address nothing listens on, nor can while the returned socket
/// lives: it is bound there and never listens, so connections are refused
/// and no other socket gets the port. A port bound, read and released could
/// be taken meanwhile by another test's receiver (it once was, in
/// slow_collector.rs), which then accepted what was meant to be refused.
pub fn closed_port() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("a free port");
    let address = socket.local_addr().expect("its address");
    (socket, address)
}
