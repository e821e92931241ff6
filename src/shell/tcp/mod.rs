//! SIP over TCP (RFC 3261 §18.3) for one shard: its listeners and the connections they accept.
//!
//! Owns, per shard: one SO_REUSEPORT listener per local address (the addresses and port of the
//! UDP sockets), the table of open connections by [`ConnId`], and one task per connection. A
//! connection lives on the shard that accepted it (DESIGN §3); its id carries that shard in its
//! top 16 bits.
//!
//! A connection task owns its receive buffer (4 KiB, grown on demand up to `tcp.max_message`,
//! shrunk back once it is empty) and a [`Framer`]. After every read it asks the framer for
//! frames: a message goes to [`Shard::handle_stream_message`](crate::core::shard::Shard) and the
//! shard's outputs are drained and sent at once; a double-CRLF ping is answered with a CRLF
//! pong and a single CRLF is absorbed (RFC 5626 §4.4.1); a framing error closes the
//! connection, since a stream that lost its framing cannot be resynchronised. The task also
//! closes the connection when a started header section is not finished within
//! `tcp.header_timeout_secs`, after `tcp.idle_timeout_secs` without a byte either way, when the
//! peer closes or resets it, and when the shard stops.
//!
//! Sending: the shard driver hands every `Flow::Stream(conn)` transmit to [`Driver::route_stream`].
//! When the connection's send queue is empty the bytes are written at once with a non-blocking
//! `send`; whatever the kernel does not take waits in the queue, which the connection's task
//! writes as the socket drains. So a slow reader only ever stalls its own connection. The queue
//! is capped (twice `tcp.max_message`, at least 256 KiB); past the cap the connection is closed
//! and counted, because a peer that does not read its answers cannot be served. A transmit for a
//! connection that is gone is dropped and counted; falling back to the Via sent-by (§18.2.2)
//! belongs to the transport layer that opens outbound connections.
//!
//! Must not: let one connection wait on another, hold a `RefCell` borrow across an `.await`,
//! grow memory per connection past the caps above, or panic on anything a peer sends.

use super::shard_driver::{Driver, Outbox, SansIo, Wakeup};
use super::stats::{frame_error_index, LogThrottle, ShardCounters};
use crate::config::TcpConfig;
use crate::core::shard::ConnId;
use crate::core::sip::framer::{Frame, FrameError, Framer, FramerLimits};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};
use glommio::net::{TcpListener, TcpStream};
use glommio::timer::Timer;
use memchr::memmem;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// Pending connections the kernel queues per listener (it caps this at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;

/// Receive buffer a connection starts with and returns to once it is empty.
const INITIAL_RECEIVE: usize = 4096;

/// Smallest cap on the bytes queued for one connection.
const MIN_SEND_QUEUE: usize = 256 << 10;

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// At most one log line per kind per this interval for per-connection problems.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Bits of a [`ConnId`] below the shard number.
const SEQUENCE_BITS: u32 = 48;

/// The TCP settings of one shard, from `[tcp]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSettings {
    /// Largest message (header section and body together), and the receive buffer's cap.
    pub max_message: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub header_timeout: Duration,
    /// Cap on the bytes queued for one connection that the kernel has not taken yet.
    pub max_queued: usize,
}

impl TcpSettings {
    pub fn new(config: &TcpConfig) -> Self {
        TcpSettings {
            max_message: config.max_message,
            max_connections: config.max_connections,
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            header_timeout: Duration::from_secs(config.header_timeout_secs),
            max_queued: config.max_message.saturating_mul(2).max(MIN_SEND_QUEUE),
        }
    }

    /// Both framer caps are the message cap: the receive buffer, capped at the same size,
    /// bounds the two together.
    fn limits(&self) -> FramerLimits {
        FramerLimits {
            max_header_section: self.max_message,
            max_body: self.max_message,
        }
    }
}

/// A listening TCP socket with SO_REUSEPORT and SO_REUSEADDR (and IPV6_V6ONLY for IPv6) bound
/// to `addr`, so that every shard can listen on the same address and port and the kernel
/// spreads new connections across them.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.cloexec(),
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket)
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The peer closed its side.
    PeerClosed,
    /// The byte stream lost its framing.
    Framing(FrameError),
    /// A started header section was not finished in time.
    HeaderTimeout,
    /// No byte either way for the idle timeout.
    IdleTimeout,
    /// More bytes waited for the peer than the send queue holds.
    SendOverflow,
    /// A read failed (a reset by the peer, usually).
    ReadError,
    /// A write failed.
    WriteError,
    /// The shard is stopping.
    Stop,
}

impl Close {
    fn as_str(self) -> &'static str {
        match self {
            Close::PeerClosed => "peer_closed",
            Close::Framing(e) => e.as_str(),
            Close::HeaderTimeout => "header_timeout",
            Close::IdleTimeout => "idle_timeout",
            Close::SendOverflow => "send_overflow",
            Close::ReadError => "read_error",
            Close::WriteError => "write_error",
            Close::Stop => "stop",
        }
    }

    /// Whether what is queued for the peer is still worth a last non-blocking write.
    fn flushes(self) -> bool {
        !matches!(
            self,
            Close::SendOverflow | Close::ReadError | Close::WriteError
        )
    }
}

/// One listening socket of the shard.
pub(crate) struct Listener {
    pub local: SocketAddr,
    io: TcpListener,
}

/// What the shard's tasks know about one open connection. The connection's own task owns the
/// socket and the receive side; this is the part others reach through the table.
struct Conn {
    id: ConnId,
    /// The socket, for the direct write when nothing is queued. Valid while `close` is `None`:
    /// the task sets `close` before it closes the socket.
    fd: RawFd,
    send: RefCell<SendQueue>,
    /// Wakes the connection's task: bytes were queued, or `close` was set.
    wake: Wakeup,
    /// Set once the connection must end; nothing is queued or written after that.
    close: Cell<Option<Close>>,
    /// Last time a byte was read or written.
    active: Cell<Instant>,
}

impl Conn {
    /// Asks the connection's task to close the connection (the first reason given wins).
    fn end(&self, reason: Close) {
        if self.close.get().is_none() {
            self.close.set(Some(reason));
        }
        self.wake.notify();
    }
}

/// Bytes the kernel has not taken yet, in order; the front buffer is written from `written`.
#[derive(Default)]
struct SendQueue {
    bufs: VecDeque<Vec<u8>>,
    written: usize,
    /// Bytes still to write, over all buffers.
    queued: usize,
}

/// The TCP side of one shard.
pub(crate) struct Tcp {
    shard: u16,
    settings: TcpSettings,
    pub listeners: Vec<Listener>,
    conns: RefCell<HashMap<ConnId, Rc<Conn>>>,
    next_sequence: Cell<u64>,
    stopping: Cell<bool>,
    /// Notified when the last connection is gone while stopping.
    drained: Wakeup,
    log: LogThrottle,
}

impl Tcp {
    /// Must run on the shard's executor: the glommio listeners bind to its reactor.
    pub fn new(shard: u16, settings: TcpSettings, sockets: Vec<(SocketAddr, Socket)>) -> Self {
        let listeners = sockets
            .into_iter()
            .map(|(local, socket)| Listener {
                local,
                // SAFETY: `into_raw_fd` hands over sole ownership of a listening TCP socket.
                io: unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) },
            })
            .collect();
        Tcp {
            shard,
            settings,
            listeners,
            conns: RefCell::new(HashMap::new()),
            next_sequence: Cell::new(0),
            stopping: Cell::new(false),
            drained: Wakeup::default(),
            log: LogThrottle::new(LOG_INTERVAL),
        }
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.conns.borrow().len()
    }

    /// A fresh id: the shard in the top 16 bits, a sequence number below.
    fn mint(&self) -> ConnId {
        let sequence = self.next_sequence.get();
        self.next_sequence.set(sequence.wrapping_add(1));
        ConnId(u64::from(self.shard) << SEQUENCE_BITS | sequence & ((1 << SEQUENCE_BITS) - 1))
    }

    /// Registers a new connection on socket `fd`.
    fn open(&self, fd: RawFd) -> Rc<Conn> {
        let conn = Rc::new(Conn {
            id: self.mint(),
            fd,
            send: RefCell::new(SendQueue::default()),
            wake: Wakeup::default(),
            close: Cell::new(None),
            active: Cell::new(Instant::now()),
        });
        self.conns.borrow_mut().insert(conn.id, conn.clone());
        conn
    }

    fn get(&self, id: ConnId) -> Option<Rc<Conn>> {
        self.conns.borrow().get(&id).cloned()
    }

    fn remove(&self, id: ConnId) {
        let mut conns = self.conns.borrow_mut();
        conns.remove(&id);
        if conns.is_empty() && self.stopping.get() {
            self.drained.notify();
        }
    }

    /// Asks every connection to close; [`Tcp::drained`] then waits for them.
    pub fn stop(&self) {
        self.stopping.set(true);
        let conns: Vec<Rc<Conn>> = self.conns.borrow().values().cloned().collect();
        for conn in conns {
            conn.end(Close::Stop);
        }
        if self.conns.borrow().is_empty() {
            self.drained.notify();
        }
    }

    /// Returns once every connection task has closed its connection (after [`Tcp::stop`]).
    pub async fn drained(&self) {
        loop {
            let empty = self.conns.borrow().is_empty();
            if empty {
                return;
            }
            self.drained.wait().await;
        }
    }
}

impl<S: SansIo> Driver<S> {
    /// Sends `payload` on connection `id`: at once if nothing is queued before it, else (and for
    /// whatever the kernel does not take) through the connection's send queue.
    pub(super) fn route_stream(&self, id: ConnId, payload: Vec<u8>) {
        if payload.is_empty() {
            return self.recycle(payload);
        }
        let conn = match self.tcp.get(id) {
            Some(conn) if conn.close.get().is_none() => conn,
            _ => return self.drop_stream(id, payload, "no such connection"),
        };
        let mut queue = conn.send.borrow_mut();
        let mut written = 0;
        if queue.bufs.is_empty() {
            match send_now(conn.fd, &payload) {
                Ok(n) => {
                    ShardCounters::add(&self.counters.tcp_tx_bytes, n as u64);
                    conn.active.set(Instant::now());
                    if n == payload.len() {
                        drop(queue);
                        return self.recycle(payload);
                    }
                    written = n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    drop(queue);
                    conn.end(Close::WriteError);
                    return self.drop_stream(id, payload, "write failed");
                }
            }
        }
        let rest = payload.len() - written;
        if queue.queued > 0 && queue.queued + rest > self.tcp.settings.max_queued {
            drop(queue);
            conn.end(Close::SendOverflow);
            return self.drop_stream(id, payload, "send queue full");
        }
        if queue.bufs.is_empty() {
            queue.written = written;
        }
        queue.queued += rest;
        queue.bufs.push_back(payload);
        drop(queue);
        conn.wake.notify();
    }

    fn drop_stream(&self, id: ConnId, payload: Vec<u8>, why: &'static str) {
        ShardCounters::add(&self.counters.tcp_tx_dropped, 1);
        if let Some(held_back) = self.tcp.log.allow(Instant::now()) {
            debug!(
                shard = self.id,
                conn = id.0,
                why,
                held_back,
                "message for a connection dropped"
            );
        }
        self.recycle(payload);
    }

    /// One framed message from connection `conn` through the shard, outputs drained into `out`.
    fn stream_message(
        &self,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        out: &mut Outbox,
    ) {
        ShardCounters::add(&self.counters.tcp_rx_messages, 1);
        let now = Instant::now();
        let mut shard = self.shard.borrow_mut();
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shard.handle_stream_message(now, conn, local, remote, bytes)
        })) {
            self.panicked("handle_stream_message", Some(remote), &*payload);
        }
        self.drain(&mut shard, out);
        self.note_deadline(&shard);
    }

    /// Counts a failed TCP call, logging it at most once per interval.
    fn tcp_error(&self, what: &'static str, local: SocketAddr, err: &io::Error) {
        ShardCounters::add(&self.counters.tcp_errors, 1);
        if let Some(held_back) = self.tcp.log.allow(Instant::now()) {
            warn!(shard = self.id, %local, error = %err, held_back, "TCP {what} failed");
        }
    }
}

/// `send(MSG_DONTWAIT | MSG_NOSIGNAL)` on a connected socket.
fn send_now(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is a live buffer of the given length; `fd` is the connection's socket,
    // open while the connection is in the table and not closing (see `Conn::fd`).
    let n = unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Accept task for listener `index`: each connection gets its own task, up to
/// `tcp.max_connections`; one past that is closed at once.
pub(super) async fn accept_loop<S: SansIo + 'static>(d: Rc<Driver<S>>, index: usize) {
    // NOTE: `index` is the calling task's own listener, below `listeners.len()`.
    let listener = &d.tcp.listeners[index];
    let local = listener.local;
    loop {
        let stream = match listener.io.accept().await {
            Ok(stream) => stream,
            Err(e) => {
                let e = io::Error::from(e);
                d.tcp_error("accept", local, &e);
                // Out of descriptors or memory: retrying at once would spin. Anything else
                // (a connection reset while queued) concerns that connection only.
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) {
                    glommio::timer::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
                continue;
            }
        };
        if d.tcp.len() >= d.tcp.settings.max_connections {
            ShardCounters::add(&d.counters.tcp_refused, 1);
            if let Some(held_back) = d.tcp.log.allow(Instant::now()) {
                warn!(shard = d.id, %local, max = d.tcp.settings.max_connections, held_back, "connection refused: tcp.max_connections reached");
            }
            let _ = stream.shutdown(Shutdown::Both).await;
            continue;
        }
        let remote = match stream.peer_addr() {
            Ok(remote) => remote,
            Err(e) => {
                // Reset before we got to it.
                d.tcp_error("getpeername", local, &io::Error::from(e));
                continue;
            }
        };
        // Every message is written whole; Nagle would only hold back the next one.
        let _ = stream.set_nodelay(true);
        let conn = d.tcp.open(stream.as_raw_fd());
        ShardCounters::add(&d.counters.tcp_accepted, 1);
        debug!(shard = d.id, conn = conn.id.0, %local, %remote, "connection accepted");
        glommio::spawn_local(serve(d.clone(), stream, conn, local, remote)).detach();
    }
}

/// Connection task: serves the connection until it ends, then closes it and accounts for it.
async fn serve<S: SansIo>(
    d: Rc<Driver<S>>,
    mut stream: TcpStream,
    conn: Rc<Conn>,
    local: SocketAddr,
    remote: SocketAddr,
) {
    let mut session = Session::new(&d, &conn, local, remote);
    let reason = session.run(&mut stream).await;
    conn.end(reason);
    if reason.flushes() {
        // One last non-blocking write of what is queued (an answer framed before the error).
        future::poll_fn(|cx| {
            let _ = write_queued(&d, &conn, &mut stream, cx);
            Poll::Ready(())
        })
        .await;
    }
    // Shut down first: the FIN leaves now, even while the reactor still holds the socket.
    let _ = stream.shutdown(Shutdown::Both).await;
    drop(stream);
    d.tcp.remove(conn.id);
    let leftover = std::mem::take(&mut conn.send.borrow_mut().bufs);
    for buf in leftover {
        d.recycle(buf);
    }
    let c = &*d.counters;
    ShardCounters::add(&c.tcp_closed, 1);
    match reason {
        Close::Framing(e) => ShardCounters::add(&c.tcp_frame_errors[frame_error_index(e)], 1),
        Close::HeaderTimeout => ShardCounters::add(&c.tcp_header_timeouts, 1),
        Close::IdleTimeout => ShardCounters::add(&c.tcp_idle_timeouts, 1),
        Close::SendOverflow => ShardCounters::add(&c.tcp_send_overflows, 1),
        Close::ReadError | Close::WriteError => ShardCounters::add(&c.tcp_errors, 1),
        Close::PeerClosed | Close::Stop => {}
    }
    debug!(shard = d.id, conn = conn.id.0, %local, %remote, reason = reason.as_str(), "connection closed");
}

/// Writes queued bytes until the queue is empty or the socket is full (the task is then woken
/// when it drains). Fully written buffers go back to the shard.
fn write_queued<S: SansIo>(
    d: &Driver<S>,
    conn: &Conn,
    stream: &mut TcpStream,
    cx: &mut Context<'_>,
) -> io::Result<()> {
    loop {
        let mut queue = conn.send.borrow_mut();
        let written = queue.written;
        let Some(front) = queue.bufs.front() else {
            return Ok(());
        };
        let len = front.len();
        // NOTE: `written < len`: a buffer leaves the queue as soon as it is fully written.
        let result = Pin::new(&mut *stream).poll_write(cx, &front[written.min(len)..]);
        match result {
            Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(n)) => {
                ShardCounters::add(&d.counters.tcp_tx_bytes, n as u64);
                conn.active.set(Instant::now());
                queue.written += n;
                queue.queued = queue.queued.saturating_sub(n);
                if queue.written >= len {
                    queue.written = 0;
                    let done = queue.bufs.pop_front();
                    drop(queue);
                    if let Some(buf) = done {
                        d.recycle(buf);
                    }
                }
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => return Ok(()),
        }
    }
}

/// What woke a connection task.
enum Event {
    Read(io::Result<usize>),
    Timer,
    Closed(Close),
}

/// Tracks the header section of the message being received, for `tcp.header_timeout_secs`.
/// The framer knows where the section ends but does not say, so this looks for the empty line
/// itself, resuming where it stopped.
#[derive(Debug, Default)]
struct HeaderClock {
    /// When the section must be complete; `None` when no section is under way.
    deadline: Option<Instant>,
    /// Bytes of the message already searched for the empty line.
    scanned: usize,
    /// The section of the current message is complete.
    complete: bool,
}

/// The receive side of one connection.
struct Session<'a, S> {
    d: &'a Driver<S>,
    conn: &'a Conn,
    local: SocketAddr,
    remote: SocketAddr,
    rx: ReceiveBuffer,
    framer: Framer,
    header: HeaderClock,
    /// Send scratch for the shard's outputs; made with the first message.
    out: Option<Outbox>,
}

impl<'a, S: SansIo> Session<'a, S> {
    fn new(d: &'a Driver<S>, conn: &'a Conn, local: SocketAddr, remote: SocketAddr) -> Self {
        let settings = d.tcp.settings;
        Session {
            d,
            conn,
            local,
            remote,
            rx: ReceiveBuffer::new(
                INITIAL_RECEIVE.min(settings.max_message),
                settings.max_message,
            ),
            framer: Framer::new(settings.limits()),
            header: HeaderClock::default(),
            out: None,
        }
    }

    /// Reads, frames and hands over messages until the connection must end; says why.
    async fn run(&mut self, stream: &mut TcpStream) -> Close {
        let settings = self.d.tcp.settings;
        let mut armed = self.conn.active.get() + settings.idle_timeout;
        let mut timer = Timer::new(settings.idle_timeout);
        loop {
            let frames = match self.take_frames().await {
                Ok(frames) => frames,
                Err(reason) => return reason,
            };
            if frames > 0 {
                // A peer that pipelines many messages (or pings) must not starve the shard's
                // other tasks.
                future::yield_now().await;
            }
            if !self.rx.reserve() {
                // A full buffer holds a complete header section (else the framer would have
                // refused it as too large): the message as a whole does not fit.
                return Close::Framing(FrameError::BodyTooLarge);
            }
            // The timer only ever moves earlier here; when it fires early it is re-armed.
            let due = self.deadline();
            if due < armed {
                timer.reset(due.saturating_duration_since(Instant::now()));
                armed = due;
            }
            let event = future::poll_fn(|cx| self.poll_event(cx, stream, &mut timer)).await;
            match event {
                Event::Read(Ok(0)) => return Close::PeerClosed,
                Event::Read(Ok(n)) => {
                    self.rx.filled(n);
                    self.conn.active.set(Instant::now());
                    ShardCounters::add(&self.d.counters.tcp_rx_bytes, n as u64);
                }
                Event::Read(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Event::Read(Err(_)) => return Close::ReadError,
                Event::Closed(reason) => return reason,
                Event::Timer => {
                    let now = Instant::now();
                    if self.header.deadline.is_some_and(|at| now >= at) {
                        return Close::HeaderTimeout;
                    }
                    if now >= self.conn.active.get() + settings.idle_timeout {
                        return Close::IdleTimeout;
                    }
                    armed = self.deadline();
                    timer.reset(armed.saturating_duration_since(now));
                }
            }
        }
    }

    /// The earliest instant the connection must be looked at again.
    fn deadline(&self) -> Instant {
        let idle = self.conn.active.get() + self.d.tcp.settings.idle_timeout;
        self.header.deadline.map_or(idle, |at| at.min(idle))
    }

    /// Writes what is queued, then waits for the first of: bytes to read, the timer, a request
    /// to close.
    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut TcpStream,
        timer: &mut Timer,
    ) -> Poll<Event> {
        loop {
            if let Some(reason) = self.conn.close.get() {
                return Poll::Ready(Event::Closed(reason));
            }
            if write_queued(self.d, self.conn, stream, cx).is_err() {
                return Poll::Ready(Event::Closed(Close::WriteError));
            }
            if self.conn.wake.poll(cx).is_pending() {
                break;
            }
        }
        if let Poll::Ready(result) = Pin::new(&mut *stream).poll_read(cx, self.rx.spare()) {
            return Poll::Ready(Event::Read(result));
        }
        if Pin::new(timer).poll(cx).is_ready() {
            return Poll::Ready(Event::Timer);
        }
        Poll::Pending
    }

    /// Frames what the buffer holds and hands each message to the shard, sending its outputs.
    /// Returns how many frames it took.
    async fn take_frames(&mut self) -> Result<usize, Close> {
        let mut frames = 0;
        loop {
            match self.framer.next(self.rx.data()) {
                Ok(Frame::Partial) => break,
                Ok(Frame::Pong(n)) => self.rx.consume(n),
                Ok(Frame::Ping(n)) => {
                    self.rx.consume(n);
                    self.d.route_stream(self.conn.id, b"\r\n".to_vec());
                }
                Ok(Frame::Message(n)) => {
                    let out = self.out.get_or_insert_with(|| Outbox::new(1));
                    // NOTE: the framer reports a message only once the buffer holds all of it;
                    // `get` keeps a framer bug from becoming a panic.
                    let Some(message) = self.rx.data().get(..n) else {
                        return Err(Close::Framing(FrameError::BodyTooLarge));
                    };
                    self.d
                        .stream_message(self.conn.id, self.local, self.remote, message, out);
                    self.rx.consume(n);
                    self.header = HeaderClock::default();
                    self.d.flush(out).await;
                }
                Err(e) => return Err(Close::Framing(e)),
            }
            frames += 1;
        }
        if self.framer.in_message() && !self.header.complete {
            let data = self.rx.data();
            let from = self.header.scanned.saturating_sub(3).min(data.len());
            if memmem::find(&data[from..], b"\r\n\r\n").is_some() {
                self.header.complete = true;
                self.header.deadline = None;
            } else {
                self.header.scanned = data.len();
                if self.header.deadline.is_none() {
                    self.header.deadline =
                        Some(Instant::now() + self.d.tcp.settings.header_timeout);
                }
            }
        }
        Ok(frames)
    }
}

/// A connection's receive buffer: `buf[start..end]` holds bytes not yet consumed. It grows by
/// doubling up to `max` when a message does not fit, and drops back to `initial` once empty.
struct ReceiveBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    initial: usize,
    max: usize,
}

impl ReceiveBuffer {
    fn new(initial: usize, max: usize) -> Self {
        ReceiveBuffer {
            buf: vec![0; initial],
            start: 0,
            end: 0,
            initial,
            max: max.max(initial),
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > self.initial {
                self.buf = vec![0; self.initial];
            }
        }
    }

    /// Makes room for the next read: moves the data to the front, or grows the buffer. False
    /// when it already holds `max` bytes.
    fn reserve(&mut self) -> bool {
        if self.end < self.buf.len() {
            return true;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return true;
        }
        if self.buf.len() >= self.max {
            return false;
        }
        let len = self.buf.len().saturating_mul(2).clamp(1, self.max);
        self.buf.resize(len, 0);
        true
    }

    /// Where the next read goes (empty only if [`ReceiveBuffer::reserve`] said false).
    fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_buffer_grows_to_its_cap_and_shrinks_when_empty() {
        let mut rx = ReceiveBuffer::new(4, 16);
        assert!(rx.reserve());
        rx.spare().copy_from_slice(b"abcd");
        rx.filled(4);
        assert!(rx.reserve(), "grows");
        assert_eq!(rx.capacity(), 8);
        rx.spare()[..4].copy_from_slice(b"efgh");
        rx.filled(4);
        assert!(rx.reserve());
        assert_eq!(rx.capacity(), 16);
        rx.spare().copy_from_slice(b"ijklmnop");
        rx.filled(8);
        assert_eq!(rx.data(), b"abcdefghijklmnop");
        assert!(!rx.reserve(), "full at the cap");
        rx.consume(3);
        assert!(rx.reserve(), "compacts instead");
        assert_eq!(rx.data(), b"defghijklmnop");
        assert_eq!(rx.capacity(), 16);
        rx.consume(100);
        assert_eq!(rx.data(), b"");
        assert_eq!(rx.capacity(), 4, "empty: back to the initial size");
    }

    #[test]
    fn connection_ids_carry_their_shard() {
        let settings = TcpSettings::new(&TcpConfig::default());
        let tcp = Tcp {
            shard: 5,
            settings,
            listeners: Vec::new(),
            conns: RefCell::new(HashMap::new()),
            next_sequence: Cell::new((1 << SEQUENCE_BITS) - 1),
            stopping: Cell::new(false),
            drained: Wakeup::default(),
            log: LogThrottle::new(LOG_INTERVAL),
        };
        let a = tcp.mint();
        let b = tcp.mint();
        assert_eq!(a.0 >> SEQUENCE_BITS, 5);
        assert_eq!(
            b.0 >> SEQUENCE_BITS,
            5,
            "the sequence wraps below the shard"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn settings_from_the_config() {
        let s = TcpSettings::new(&TcpConfig::default());
        assert_eq!(s.max_queued, MIN_SEND_QUEUE);
        assert_eq!(s.limits().max_header_section, 65535);
        let big = TcpSettings::new(&TcpConfig {
            max_message: 1 << 20,
            ..TcpConfig::default()
        });
        assert_eq!(big.max_queued, 2 << 20);
    }
}
