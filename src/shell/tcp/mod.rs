//! SIP over TCP (RFC 3261 §18.3) for one shard: its listeners, the connections it accepts and
//! opens, and the pool that finds a connection for a destination.
//!
//! Owns, per shard: one SO_REUSEPORT listener per local address (the addresses and port of the
//! UDP sockets), the table of open connections by [`ConnId`], the routes from a remote address
//! to a connection, the count of accepted connections per source IP, one task per connection
//! (`session.rs`), and a chores task that starts outbound connections (`connect.rs`) and
//! reports failures to the shard. A connection lives on the shard that accepted or opened it
//! (DESIGN §3); its id carries that shard in its top 16 bits.
//!
//! Limits, each closing or refusing only the connection that breaks it, each counted by
//! reason: `tcp.max_connections` and `tcp.max_connections_per_ip` at accept; `tcp.max_message`,
//! `tcp.header_timeout_secs` and `tcp.idle_timeout_secs` while a connection is served (see
//! `session.rs`); the send queue cap below; keep-alive answers on kept flows.
//!
//! Sending: the shard driver hands every transmit on a stream flow to [`Driver::route_tcp`].
//! - `Flow::Stream(conn)` goes on that connection. If it has closed, the transmit's `remote`
//!   (the request's Via sent-by, see `core::flow::stream_fallback`) is used as for `Flow::Tcp`
//!   (RFC 3261 §18.2.2).
//! - `Flow::Tcp` goes on the open connection routed to `remote`: one Drongo opened to it, one
//!   the peer opened from exactly that address and port, or one the peer aliased to it (RFC
//!   5923). With none, one outbound connection is registered at once and its bytes queue on it
//!   while the chores task connects it, so concurrent sends to a new destination share one
//!   connection. A connect that fails or times out (`tcp.connect_timeout_secs`) reports every
//!   queued message to the shard as undelivered, with its token.
//!
//! When a connection's send queue is empty the bytes are written at once with a non-blocking
//! `send`; whatever the kernel does not take waits in the queue, which the connection's task
//! writes as the socket drains. So a slow reader only ever stalls its own connection. The queue
//! is capped (twice `tcp.max_message`, at least 256 KiB); past the cap the connection is closed
//! and counted, because a peer that does not read its answers cannot be served.
//!
//! Must not: let one connection wait on another, hold a `RefCell` borrow across an `.await`,
//! grow memory per connection past the caps above, or panic on anything a peer sends.

mod connect;
#[cfg(test)]
mod loopback;
mod session;

use super::mesh::{conn_shard, Envelope};
use super::shard_driver::{Driver, Outbox, SansIo, Wakeup};
use super::stats::{LogThrottle, ShardCounters};
use crate::config::TcpConfig;
use crate::core::flow::{ConnCommand, TransportError};
use crate::core::shard::{ConnId, Flow, Transmit};
use crate::core::sip::framer::{FrameError, FramerLimits};
use glommio::net::TcpListener;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// Pending connections the kernel queues per listener (it caps this at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;

/// The per-shard buffer every connection reads into. A connection keeps its own buffer only
/// for the part of a message that has not arrived yet.
const SCRATCH: usize = 64 << 10;

/// Smallest cap on the bytes queued for one connection.
const MIN_SEND_QUEUE: usize = 256 << 10;

/// Send scratch kept for reuse by the connection tasks; one is in use per message being
/// answered, so a few cover a shard.
const OUTBOX_POOL: usize = 8;

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// At most one log line per kind per this interval for per-connection problems.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Bits of a [`ConnId`] below the shard number.
const SEQUENCE_BITS: u32 = 48;

/// A double-CRLF keep-alive ping, and the CRLF pong that answers one (RFC 5626 §4.4.1).
const PING: &[u8] = b"\r\n\r\n";
const PONG: &[u8] = b"\r\n";

/// The TCP settings of one shard, from `[tcp]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSettings {
    /// Largest message (header section and body together), and the cap on the bytes a
    /// connection holds of a message still arriving.
    pub max_message: usize,
    /// Connections open at once on the shard, past which an accepted one is closed.
    pub max_connections: usize,
    /// Accepted connections from one IP address on the shard, past which another is closed.
    pub max_connections_per_ip: usize,
    pub idle_timeout: Duration,
    pub header_timeout: Duration,
    /// Silence on a kept flow before Drongo pings it; `None`: no pings.
    pub keepalive_interval: Option<Duration>,
    /// How long a pinged flow has to send any byte back.
    pub keepalive_timeout: Duration,
    pub connect_timeout: Duration,
    /// Cap on the bytes queued for one connection that the kernel has not taken yet.
    pub max_queued: usize,
}

impl TcpSettings {
    pub fn new(config: &TcpConfig) -> Self {
        TcpSettings {
            max_message: config.max_message,
            max_connections: config.max_connections,
            max_connections_per_ip: config.max_connections_per_ip,
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            header_timeout: Duration::from_secs(config.header_timeout_secs),
            keepalive_interval: (config.keepalive_interval_secs > 0)
                .then(|| Duration::from_secs(config.keepalive_interval_secs)),
            keepalive_timeout: Duration::from_secs(config.keepalive_timeout_secs),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            max_queued: config.max_message.saturating_mul(2).max(MIN_SEND_QUEUE),
        }
    }

    /// Both framer caps are the message cap; the session's check on the bytes it holds bounds
    /// the two together.
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
    /// The byte stream lost its framing, or a message passed `tcp.max_message`.
    Framing(FrameError),
    /// A started header section was not finished in time.
    HeaderTimeout,
    /// No byte either way for the idle timeout.
    IdleTimeout,
    /// A kept flow sent nothing back within the keep-alive timeout after a ping.
    KeepaliveTimeout,
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
            Close::KeepaliveTimeout => "keepalive_timeout",
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
            Close::SendOverflow | Close::ReadError | Close::WriteError | Close::KeepaliveTimeout
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
    remote: SocketAddr,
    /// Accepted from a peer (and counted against its IP address), not opened by Drongo.
    inbound: bool,
    /// The socket, for the direct write when nothing is queued; -1 until an outbound
    /// connection is established. Valid while `close` is `None`: the task sets `close` before
    /// it closes the socket.
    fd: Cell<RawFd>,
    send: RefCell<SendQueue>,
    /// Wakes the connection's task: bytes were queued, `close` was set, or `kept` changed.
    wake: Wakeup,
    /// Set once the connection must end; nothing is queued or written after that.
    close: Cell<Option<Close>>,
    /// Last time a byte was read or written.
    active: Cell<Instant>,
    /// Last time a byte was read.
    heard: Cell<Instant>,
    /// Kept open with keep-alives instead of the idle timeout ([`ConnCommand::KeepAlive`]);
    /// outbound connections are kept from the start.
    kept: Cell<bool>,
    /// Other shards that asked to keep it (their registrars hold bindings over it); each is
    /// told when it ends.
    watchers: RefCell<Vec<u16>>,
    /// The sent-by address the peer aliased to this connection (RFC 5923), if any.
    alias: Cell<Option<SocketAddr>>,
}

impl Conn {
    /// Asks the connection's task to close the connection (the first reason given wins).
    fn end(&self, reason: Close) {
        if self.close.get().is_none() {
            self.close.set(Some(reason));
        }
        self.wake.notify();
    }

    fn open(&self) -> bool {
        self.close.get().is_none()
    }
}

/// One message waiting for the kernel, with the token its transmit carried.
struct Queued {
    bytes: Vec<u8>,
    token: u64,
}

/// Bytes the kernel has not taken yet, in order; the front buffer is written from `written`.
#[derive(Default)]
struct SendQueue {
    bufs: VecDeque<Queued>,
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
    /// Which connection a message for a remote address takes: each connection under its
    /// remote address, and under the address its peer aliased to it. The newest wins.
    routes: RefCell<HashMap<SocketAddr, ConnId>>,
    /// Accepted connections open per source IP address.
    per_ip: RefCell<HashMap<IpAddr, usize>>,
    next_sequence: Cell<u64>,
    stopping: Cell<bool>,
    /// Notified when the last connection is gone while stopping.
    drained: Wakeup,
    /// The receive scratch, while no task is reading into it.
    scratch: Cell<Option<Vec<u8>>>,
    /// Send scratch for the connection tasks, while none uses it (boxed: a task holds one
    /// across a send, and an idle task would carry the space).
    #[allow(clippy::vec_box)] // the boxes move in and out of task frames; see above
    outboxes: RefCell<Vec<Box<Outbox>>>,
    /// Outbound connections registered but not started yet, with the local address to
    /// connect from, for the chores task.
    to_connect: RefCell<Vec<(Rc<Conn>, SocketAddr)>>,
    /// Failures for the shard, for the chores task.
    to_report: RefCell<Vec<TransportError>>,
    /// Wakes the chores task.
    chores: Wakeup,
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
        Tcp::with_listeners(shard, settings, listeners)
    }

    fn with_listeners(shard: u16, settings: TcpSettings, listeners: Vec<Listener>) -> Self {
        Tcp {
            shard,
            settings,
            listeners,
            conns: RefCell::new(HashMap::new()),
            routes: RefCell::new(HashMap::new()),
            per_ip: RefCell::new(HashMap::new()),
            next_sequence: Cell::new(0),
            stopping: Cell::new(false),
            drained: Wakeup::default(),
            scratch: Cell::new(None),
            outboxes: RefCell::new(Vec::new()),
            to_connect: RefCell::new(Vec::new()),
            to_report: RefCell::new(Vec::new()),
            chores: Wakeup::default(),
            log: LogThrottle::new(LOG_INTERVAL),
        }
    }

    /// Open connections (and outbound ones being opened).
    pub fn len(&self) -> usize {
        self.conns.borrow().len()
    }

    /// A fresh id: the shard in the top 16 bits, a sequence number below.
    fn mint(&self) -> ConnId {
        let sequence = self.next_sequence.get();
        self.next_sequence.set(sequence.wrapping_add(1));
        ConnId(u64::from(self.shard) << SEQUENCE_BITS | sequence & ((1 << SEQUENCE_BITS) - 1))
    }

    /// Accepted connections open from `ip`.
    fn open_from(&self, ip: IpAddr) -> usize {
        self.per_ip.borrow().get(&ip).copied().unwrap_or(0)
    }

    /// Registers a connection to `remote` on socket `fd` (-1 for one still to be opened),
    /// routed under `remote`.
    fn open(&self, fd: RawFd, remote: SocketAddr, inbound: bool) -> Rc<Conn> {
        let now = Instant::now();
        let conn = Rc::new(Conn {
            id: self.mint(),
            remote,
            inbound,
            fd: Cell::new(fd),
            send: RefCell::new(SendQueue::default()),
            wake: Wakeup::default(),
            close: Cell::new(None),
            active: Cell::new(now),
            heard: Cell::new(now),
            kept: Cell::new(!inbound),
            watchers: RefCell::new(Vec::new()),
            alias: Cell::new(None),
        });
        self.conns.borrow_mut().insert(conn.id, conn.clone());
        self.routes.borrow_mut().insert(remote, conn.id);
        if inbound {
            *self.per_ip.borrow_mut().entry(remote.ip()).or_insert(0) += 1;
        }
        conn
    }

    fn get(&self, id: ConnId) -> Option<Rc<Conn>> {
        self.conns.borrow().get(&id).cloned()
    }

    /// The open connection a message for `remote` takes, if any.
    fn route(&self, remote: SocketAddr) -> Option<Rc<Conn>> {
        let id = *self.routes.borrow().get(&remote)?;
        self.get(id).filter(|conn| conn.open())
    }

    /// RFC 5923: requests for `sent_by` may take connection `id`.
    fn alias(&self, id: ConnId, sent_by: SocketAddr) {
        let Some(conn) = self.get(id) else { return };
        if conn.alias.get() == Some(sent_by) || !conn.open() {
            return;
        }
        let mut routes = self.routes.borrow_mut();
        if let Some(old) = conn.alias.replace(Some(sent_by)) {
            if routes.get(&old) == Some(&id) {
                routes.remove(&old);
            }
        }
        routes.insert(sent_by, id);
    }

    /// Keeps connection `id` open with keep-alives, for shard `watcher` (this one or
    /// another, which is then told when it ends). False when the connection is gone: its end
    /// has been reported already, to whoever kept it then.
    fn keep(&self, id: ConnId, watcher: u16) -> bool {
        let Some(conn) = self.get(id) else {
            return false;
        };
        if watcher != self.shard {
            let mut watchers = conn.watchers.borrow_mut();
            if !watchers.contains(&watcher) {
                watchers.push(watcher);
            }
        }
        if !conn.kept.replace(true) {
            conn.wake.notify();
        }
        true
    }

    fn remove(&self, conn: &Conn) {
        let mut conns = self.conns.borrow_mut();
        conns.remove(&conn.id);
        let mut routes = self.routes.borrow_mut();
        for addr in [Some(conn.remote), conn.alias.get()].into_iter().flatten() {
            if routes.get(&addr) == Some(&conn.id) {
                routes.remove(&addr);
            }
        }
        if conn.inbound {
            let mut per_ip = self.per_ip.borrow_mut();
            if let Some(n) = per_ip.get_mut(&conn.remote.ip()) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&conn.remote.ip());
                }
            }
        }
        if conns.is_empty() && self.stopping.get() {
            self.drained.notify();
        }
    }

    /// The receive scratch (a fresh one if another task holds it).
    fn take_scratch(&self) -> Vec<u8> {
        self.scratch.take().unwrap_or_else(|| vec![0; SCRATCH])
    }

    fn put_scratch(&self, scratch: Vec<u8>) {
        self.scratch.set(Some(scratch));
    }

    fn take_outbox(&self) -> Box<Outbox> {
        self.outboxes
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Box::new(Outbox::new(1)))
    }

    fn put_outbox(&self, out: Box<Outbox>) {
        let mut pool = self.outboxes.borrow_mut();
        if pool.len() < OUTBOX_POOL {
            pool.push(out);
        }
    }

    /// Asks every connection to close; [`Tcp::drained`] then waits for them.
    pub fn stop(&self) {
        self.stopping.set(true);
        // Outbound connections the chores task has not started have no task to close them.
        let unstarted = std::mem::take(&mut *self.to_connect.borrow_mut());
        for (conn, _) in unstarted {
            conn.end(Close::Stop);
            self.remove(&conn);
        }
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

/// Whether Drongo may open a connection to `addr`.
fn connectable(addr: SocketAddr) -> bool {
    let ip = addr.ip();
    addr.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && ip != IpAddr::from([255; 4])
}

impl<S: SansIo> Driver<S> {
    /// Sends a transmit whose flow is a stream (see the module docs): on its connection, on
    /// the connection routed to its remote address, or on a new one.
    pub(in crate::shell) fn route_tcp(&self, t: &mut Transmit) {
        let payload = std::mem::take(&mut t.payload);
        if payload.is_empty() {
            return self.recycle(payload);
        }
        let own = match t.flow {
            Flow::Stream(id) => self.tcp.get(id).filter(|conn| conn.open()),
            Flow::Tcp | Flow::Udp => None,
        };
        if let Some(conn) = own.or_else(|| self.tcp.route(t.remote)) {
            return self.send_on(&conn, payload, t.token);
        }
        if !connectable(t.remote) || self.tcp.stopping.get() {
            return self.undelivered(t.remote, payload, t.token, "no connection to the address");
        }
        let conn = self.tcp.open(-1, t.remote, false);
        debug!(shard = self.id, conn = conn.id.0, remote = %t.remote, "opening a connection");
        self.tcp
            .to_connect
            .borrow_mut()
            .push((conn.clone(), t.local));
        self.tcp.chores.notify();
        self.send_on(&conn, payload, t.token);
    }

    /// Sends `payload` on `conn`: at once if nothing is queued before it and the connection is
    /// established, else (and for whatever the kernel does not take) through its send queue.
    fn send_on(&self, conn: &Conn, payload: Vec<u8>, token: u64) {
        let mut queue = conn.send.borrow_mut();
        let mut written = 0;
        let fd = conn.fd.get();
        if queue.bufs.is_empty() && fd >= 0 {
            match send_now(fd, &payload) {
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
                    return self.undelivered(conn.remote, payload, token, "write failed");
                }
            }
        }
        let rest = payload.len() - written;
        if queue.queued > 0 && queue.queued + rest > self.tcp.settings.max_queued {
            drop(queue);
            conn.end(Close::SendOverflow);
            return self.undelivered(conn.remote, payload, token, "send queue full");
        }
        if queue.bufs.is_empty() {
            queue.written = written;
        }
        queue.queued += rest;
        queue.bufs.push_back(Queued {
            bytes: payload,
            token,
        });
        drop(queue);
        conn.wake.notify();
    }

    /// Writes protocol bytes of the transport itself (a ping or a pong) on `conn`.
    fn send_bytes(&self, conn: &Conn, bytes: &[u8]) {
        self.send_on(conn, bytes.to_vec(), 0);
    }

    /// Counts a message that will not be delivered and tells the shard.
    fn undelivered(&self, remote: SocketAddr, payload: Vec<u8>, token: u64, why: &'static str) {
        ShardCounters::add(&self.counters.tcp_tx_dropped, 1);
        if let Some(held_back) = self.tcp.log.allow(Instant::now()) {
            debug!(shard = self.id, %remote, why, held_back, "TCP message dropped");
        }
        self.recycle(payload);
        self.report(TransportError::Undelivered { token, remote });
    }

    /// Queues a failure for the shard; the chores task hands it over.
    fn report(&self, error: TransportError) {
        if !self.tcp.stopping.get() {
            self.tcp.to_report.borrow_mut().push(error);
            self.tcp.chores.notify();
        }
    }

    /// Keeps connection `conn` of this shard open for shard `watcher` (RFC 5626 §4.4.1), or
    /// tells the watcher at once that the flow has failed if the connection is gone.
    pub(in crate::shell) fn keep_connection(&self, conn: ConnId, watcher: u16) {
        if self.tcp.keep(conn, watcher) {
            return;
        }
        let remote = SocketAddr::from(([0, 0, 0, 0], 0));
        if watcher == self.id {
            self.report(TransportError::FlowFailed { conn, remote });
        } else {
            self.notify_shard(watcher, Envelope::FlowFailed { conn, remote });
        }
    }

    /// A kept connection ended: its own shard and every shard that asked to keep it hear
    /// that the flow failed.
    fn flow_failed(&self, conn: &Conn) {
        let (id, remote) = (conn.id, conn.remote);
        self.report(TransportError::FlowFailed { conn: id, remote });
        if self.tcp.stopping.get() {
            return;
        }
        for watcher in conn.watchers.take() {
            self.notify_shard(watcher, Envelope::FlowFailed { conn: id, remote });
        }
    }

    /// Carries out the shard's connection commands: a keep for a connection another shard
    /// owns goes to that shard.
    pub(in crate::shell) fn conn_commands(&self, shard: &mut S) {
        loop {
            match catch_unwind(AssertUnwindSafe(|| shard.poll_conn_command())) {
                Ok(Some(ConnCommand::KeepAlive(id))) => {
                    let owner = conn_shard(id);
                    if owner == self.id {
                        self.keep_connection(id, self.id);
                    } else {
                        let keep = Envelope::Keep {
                            conn: id,
                            watcher: self.id,
                        };
                        self.notify_shard(owner, keep);
                    }
                }
                Ok(Some(ConnCommand::Alias { conn, sent_by })) => self.tcp.alias(conn, sent_by),
                Ok(None) => return,
                Err(payload) => {
                    self.panicked("poll_conn_command", None, &*payload);
                    return;
                }
            }
        }
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
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
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
/// `tcp.max_connections` on the shard and `tcp.max_connections_per_ip` from one address; one
/// past either is closed at once and counted.
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
        let remote = match stream.peer_addr() {
            Ok(remote) => remote,
            Err(e) => {
                // Reset before we got to it.
                d.tcp_error("getpeername", local, &io::Error::from(e));
                continue;
            }
        };
        let settings = d.tcp.settings;
        let refused = if d.tcp.len() >= settings.max_connections {
            ShardCounters::add(&d.counters.tcp_refused, 1);
            Some("tcp.max_connections")
        } else if d.tcp.open_from(remote.ip()) >= settings.max_connections_per_ip {
            ShardCounters::add(&d.counters.tcp_refused_per_ip, 1);
            Some("tcp.max_connections_per_ip")
        } else {
            None
        };
        if let Some(limit) = refused {
            if let Some(held_back) = d.tcp.log.allow(Instant::now()) {
                warn!(shard = d.id, %local, %remote, held_back, "connection refused: {limit} reached");
            }
            let _ = stream.shutdown(Shutdown::Both).await;
            continue;
        }
        // Every message is written whole; Nagle would only hold back the next one.
        let _ = stream.set_nodelay(true);
        let conn = d.tcp.open(stream.as_raw_fd(), remote, true);
        ShardCounters::add(&d.counters.tcp_accepted, 1);
        debug!(shard = d.id, conn = conn.id.0, %local, %remote, "connection accepted");
        glommio::spawn_local(session::serve(d.clone(), stream, conn, local)).detach();
    }
}

/// Chores task: starts the outbound connections routing registered, and hands failures to
/// the shard, each outside the code path that found them.
pub(super) async fn chores<S: SansIo + 'static>(d: Rc<Driver<S>>) {
    let mut out = Outbox::new(1);
    loop {
        d.tcp.chores.wait().await;
        let starts = std::mem::take(&mut *d.tcp.to_connect.borrow_mut());
        for (conn, local) in starts {
            glommio::spawn_local(connect::run(d.clone(), conn, local)).detach();
        }
        let errors = std::mem::take(&mut *d.tcp.to_report.borrow_mut());
        if errors.is_empty() {
            continue;
        }
        let now = Instant::now();
        {
            let mut shard = d.shard.borrow_mut();
            for error in errors {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
                    shard.handle_transport_error(now, error)
                })) {
                    d.panicked("handle_transport_error", None, &*payload);
                }
            }
            d.drain(&mut shard, &mut out);
            d.note_deadline(&shard);
        }
        d.flush(&mut out).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(shard: u16) -> Tcp {
        Tcp::with_listeners(shard, TcpSettings::new(&TcpConfig::default()), Vec::new())
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connection_ids_carry_their_shard() {
        let tcp = tcp(5);
        tcp.next_sequence.set((1 << SEQUENCE_BITS) - 1);
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
        assert_eq!(s.keepalive_interval, Some(Duration::from_secs(120)));
        let big = TcpSettings::new(&TcpConfig {
            max_message: 1 << 20,
            keepalive_interval_secs: 0,
            ..TcpConfig::default()
        });
        assert_eq!(big.max_queued, 2 << 20);
        assert_eq!(big.keepalive_interval, None, "0 turns pings off");
    }

    #[test]
    fn routes_follow_connections_and_aliases() {
        let tcp = tcp(0);
        let a = tcp.open(-1, sa("192.0.2.1:40000"), true);
        let b = tcp.open(-1, sa("192.0.2.1:40001"), true);
        assert_eq!(tcp.open_from("192.0.2.1".parse().unwrap()), 2);
        assert_eq!(tcp.route(sa("192.0.2.1:40000")).map(|c| c.id), Some(a.id));
        assert!(tcp.route(sa("192.0.2.1:5060")).is_none());
        tcp.alias(a.id, sa("192.0.2.1:5060"));
        assert_eq!(tcp.route(sa("192.0.2.1:5060")).map(|c| c.id), Some(a.id));
        // A newer alias for the same address wins; the older one's removal leaves it.
        tcp.alias(b.id, sa("192.0.2.1:5060"));
        tcp.remove(&a);
        assert_eq!(tcp.route(sa("192.0.2.1:5060")).map(|c| c.id), Some(b.id));
        assert!(tcp.route(sa("192.0.2.1:40000")).is_none());
        // A closing connection is not routed to.
        b.end(Close::Stop);
        assert!(tcp.route(sa("192.0.2.1:5060")).is_none());
        tcp.remove(&b);
        assert!(tcp.routes.borrow().is_empty());
        assert!(tcp.per_ip.borrow().is_empty());
        // Outbound connections are kept and not counted against the address.
        let c = tcp.open(-1, sa("192.0.2.9:5060"), false);
        assert!(c.kept.get());
        assert_eq!(tcp.open_from("192.0.2.9".parse().unwrap()), 0);
        assert!(!a.kept.get());
        assert!(tcp.keep(c.id, 0));
        // Another shard that asks is remembered once, to be told when it ends; this shard
        // and a gone connection are not.
        assert!(tcp.keep(c.id, 1));
        assert!(tcp.keep(c.id, 1));
        assert_eq!(*c.watchers.borrow(), [1]);
        assert!(!tcp.keep(a.id, 1), "a is gone");
    }

    #[test]
    fn only_unicast_addresses_with_a_port_are_connected_to() {
        assert!(connectable(sa("192.0.2.1:5060")));
        assert!(connectable(sa("[::1]:5060")));
        assert!(!connectable(sa("192.0.2.1:0")));
        assert!(!connectable(sa("0.0.0.0:5060")));
        assert!(!connectable(sa("224.0.1.75:5060")));
        assert!(!connectable(sa("255.255.255.255:5060")));
    }
}
