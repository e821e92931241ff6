//! Outbound connections: the task that opens one connection routing registered, then serves
//! it like an accepted one.
//!
//! The socket is bound to the IP address of the transmit's `local` (port 0), so a multi-homed
//! edge connects from the address its messages name, and connected without blocking; the task
//! waits until the socket is writable (connected, or failed) for at most
//! `tcp.connect_timeout_secs`. Messages sent to the address meanwhile queue on the connection
//! and leave as soon as it is up. A connect that fails or times out removes the connection and
//! reports each queued message to the shard as undelivered.

use super::session::serve;
use super::{Close, Conn, Driver, SansIo};
use crate::core::flow::TransportError;
use crate::shell::stats::ShardCounters;
use futures_lite::future;
use futures_lite::io::AsyncWrite;
use glommio::net::TcpStream;
use glommio::timer::Timer;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;
use tracing::{debug, warn};

/// Opens `conn` from `local`'s address and serves it, or reports why it could not.
pub(super) async fn run<S: SansIo>(d: Rc<Driver<S>>, conn: Rc<Conn>, local: SocketAddr) {
    match open(&d, &conn, local).await {
        Ok(stream) => {
            let local = stream.local_addr().unwrap_or(local);
            // Every message is written whole; Nagle would only hold back the next one.
            let _ = stream.set_nodelay(true);
            conn.fd.set(stream.as_raw_fd());
            let now = Instant::now();
            conn.active.set(now);
            conn.heard.set(now);
            ShardCounters::add(&d.counters.tcp_connects, 1);
            debug!(shard = d.id, conn = conn.id.0, %local, remote = %conn.remote, "connection opened");
            serve(d, stream, conn, local).await;
        }
        Err(e) => {
            conn.end(Close::Stop);
            d.tcp.remove(&conn);
            let stopping = d.tcp.stopping.get();
            if !stopping {
                ShardCounters::add(&d.counters.tcp_connect_failures, 1);
                if let Some(held_back) = d.tcp.log.allow(Instant::now()) {
                    warn!(shard = d.id, remote = %conn.remote, error = %e, held_back, "TCP connect failed");
                }
            }
            let queued = std::mem::take(&mut conn.send.borrow_mut().bufs);
            ShardCounters::add(&d.counters.tcp_tx_dropped, queued.len() as u64);
            ShardCounters::add(&d.counters.tcp_tx_unconnected, queued.len() as u64);
            for queued in queued {
                d.recycle(queued.bytes);
                d.report(TransportError::Undelivered {
                    token: queued.token,
                    remote: conn.remote,
                });
            }
        }
    }
}

/// Connects a new socket to `conn.remote`; fails on a refusal, an unreachable address, the
/// connect timeout, or the shard stopping.
async fn open<S: SansIo>(d: &Driver<S>, conn: &Conn, local: SocketAddr) -> io::Result<TcpStream> {
    let remote = conn.remote;
    let socket = Socket::new(
        Domain::for_address(remote),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    if local.is_ipv4() == remote.is_ipv4() && !local.ip().is_unspecified() {
        socket.bind(&SockAddr::from(SocketAddr::new(local.ip(), 0)))?;
    }
    match socket.connect(&SockAddr::from(remote)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // SAFETY: `into_raw_fd` hands over sole ownership of a connecting TCP socket.
    let mut stream = unsafe { TcpStream::from_raw_fd(socket.into_raw_fd()) };
    let mut timer = Timer::new(d.tcp.settings.connect_timeout);
    // A zero-byte send says "would block" while the handshake runs, 0 once the connection is
    // up, and the error once it has failed; glommio waits for writability in between.
    future::poll_fn(|cx| {
        if conn.close.get().is_some() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the shard is stopping",
            )));
        }
        // Bytes queued meanwhile wake the task too; they wait for the connection either way.
        let _ = conn.wake.poll(cx);
        if let Poll::Ready(result) = Pin::new(&mut stream).poll_write(cx, &[]) {
            return Poll::Ready(result.map(drop));
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connect timed out",
            )));
        }
        Poll::Pending
    })
    .await?;
    Ok(stream)
}
