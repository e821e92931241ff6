//! The loop that runs one [`Shard`] on its pinned glommio executor.
//!
//! Owns, per shard: the UDP sockets (one per local address), the receive pool, the clock, one
//! timer re-armed from [`Shard::poll_timeout`], the TCP side (`tcp/`) and the counters.
//! Tasks on the executor:
//!
//! - one receive task per socket: `recvmmsg` up to `batch` datagrams, feed each to
//!   [`Shard::handle_datagram`], drain [`Shard::poll_transmit`], `sendmmsg` the replies,
//!   recycle their buffers; when the socket is empty, wait for it to become readable;
//! - one timer task: sleep until the shard's deadline, call [`Shard::handle_timeout`], drain
//!   and send the same way; a receive task that moves the deadline earlier wakes it;
//! - one accept task per TCP listener, and one task per accepted connection, which feeds
//!   framed messages to [`Shard::handle_stream_message`] and drains the same way;
//! - one inbound task per other shard (`mesh.rs`): messages that shard handed to this one
//!   go to [`Shard::handle_handoff`], bytes for this shard's connections to them;
//! - the stop wait: end of file on a Unix socket pair whose other end the controlling thread
//!   holds (it shuts it down to stop the shard; its exit closes it too).
//!
//! Every drain also sends what the shard handed off ([`Shard::poll_handoff`]) to its owner
//! over the mesh, and ends in [`Driver::flush`]: transmits on a stream flow go to their
//! connection (written at once, or queued for its task; through the mesh when another shard
//! owns it), datagrams leave through the UDP sockets.
//!
//! The tasks share the shard as `Rc<RefCell<Shard>>`; every borrow is taken, used and dropped
//! between two `.await`s, never across one.
//!
//! # Waiting for readability
//!
//! glommio 0.9 has no public "wait until this fd is readable": its io_uring `POLL_ADD` source
//! is crate-private, it has no multishot receive, and its UDP socket only offers one-datagram
//! `recv_from`/`peek_from` with a copy through its own DMA buffer. The driver therefore wraps
//! each socket once more in `glommio::net::UdpSocket` and uses `peek_from` with a one-byte
//! buffer as the wait: glommio first tries a non-blocking `recvmsg(MSG_PEEK)` (which also
//! catches datagrams that arrived since the last `recvmmsg`) and otherwise parks an io_uring
//! `recvmsg(MSG_PEEK)` on its latency ring, so the executor sleeps until a datagram arrives.
//! `MSG_PEEK` leaves the datagram queued for the next `recvmmsg`. The wait is only taken when
//! a batch came back short, so under load the cost is one `recvmmsg` per `batch` datagrams
//! plus one `sendmmsg` per batch of replies. Each task yields once per batch so a flooded
//! socket cannot starve the others or the timer.

use super::mesh::{self, Mesh, MeshPlan};
use super::stats::{LogThrottle, ShardCounters};
use super::tcp::{self, Tcp, TcpSettings};
use super::udp::{RxBatch, TxBatch};
use crate::core::flow::{ConnCommand, TransportError};
use crate::core::handoff::Handoff;
use crate::core::shard::{ConnId, Flow, Shard, ShardConfig, Transmit};
use crate::core::sip::DropReason;
use futures_lite::future;
use futures_lite::AsyncReadExt;
use glommio::timer::Timer;
use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tracing::{debug, error, info, warn};

/// Pause after a failed receive call before trying again, so a persistent error cannot spin.
const RECV_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Shortest re-arm when the shard hands back a deadline it was already woken for.
const MIN_REARM: Duration = Duration::from_millis(1);

/// At most one log line per kind per this interval for per-datagram problems.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// How long a stopping shard waits for its connection tasks to close their connections.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What the driver needs from a shard: the inputs and outputs of
/// [`Shard`]. A trait so the driver can also run test shards that
/// answer, arm timers and panic on cue.
pub(crate) trait SansIo {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    );
    fn handle_stream_message(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    );
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn recycle(&mut self, buf: Vec<u8>);
    /// The transport could not deliver a message or keep a flow.
    fn handle_transport_error(&mut self, now: Instant, error: TransportError) {
        let _ = (now, error);
    }
    fn poll_conn_command(&mut self) -> Option<ConnCommand> {
        None
    }
    fn handle_handoff(&mut self, now: Instant, handoff: Handoff);
    fn poll_handoff(&mut self) -> Option<Handoff>;
    fn handoff_undelivered(&mut self, handoff: Handoff, reason: DropReason);
    /// Requests absorbed by server transactions so far, if the shard counts them.
    fn absorbed(&self) -> Option<u64>;
}

impl SansIo for Shard {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        Shard::handle_datagram(self, now, local, remote, bytes)
    }
    fn handle_stream_message(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        Shard::handle_stream_message(self, now, conn, local, remote, bytes)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Shard::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Shard::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Shard::poll_timeout(self)
    }
    fn recycle(&mut self, buf: Vec<u8>) {
        Shard::recycle(self, buf)
    }
    fn handle_transport_error(&mut self, now: Instant, error: TransportError) {
        Shard::handle_transport_error(self, now, error)
    }
    fn poll_conn_command(&mut self) -> Option<ConnCommand> {
        Shard::poll_conn_command(self)
    }
    fn handle_handoff(&mut self, now: Instant, handoff: Handoff) {
        Shard::handle_handoff(self, now, handoff)
    }
    fn poll_handoff(&mut self) -> Option<Handoff> {
        Shard::poll_handoff(self)
    }
    fn handoff_undelivered(&mut self, handoff: Handoff, reason: DropReason) {
        Shard::handoff_undelivered(self, handoff, reason)
    }
    fn absorbed(&self) -> Option<u64> {
        Some(self.stats().absorbed)
    }
}

/// Makes a shard on its own thread (a shard need not be `Send`).
pub(crate) type MakeShard<S> = fn(ShardConfig, u64) -> S;

/// Everything one shard needs, built on the controlling thread and moved to the shard's.
pub(crate) struct ShardPlan {
    pub id: u16,
    pub cpu: usize,
    /// Bound sockets, one per local address, in the same order on every shard.
    pub sockets: Vec<(SocketAddr, socket2::Socket)>,
    /// Listening TCP sockets, one per local address (none when TCP is off).
    pub listeners: Vec<(SocketAddr, socket2::Socket)>,
    pub tcp: TcpSettings,
    pub config: ShardConfig,
    pub seed: u64,
    pub batch: usize,
    /// Pause between the receive rounds of a busy shard (zero: no pacing).
    pub pace: Duration,
    pub counters: Arc<ShardCounters>,
    /// This shard's ends of the channels to and from every other shard.
    pub mesh: MeshPlan,
}

/// Runs one shard until the other end of `stop` is shut down or closed (or sends a byte). Reports on `ready`
/// once the shard and its sockets are set up.
pub(crate) async fn run<S: SansIo + 'static>(
    mut plan: ShardPlan,
    make: MakeShard<S>,
    stop: UnixStream,
    ready: mpsc::Sender<u16>,
) -> io::Result<()> {
    let id = plan.id;
    // SAFETY: `into_raw_fd` hands over sole ownership of a connected Unix stream socket.
    let mut stop = unsafe { glommio::net::UnixStream::from_raw_fd(stop.into_raw_fd()) };
    let (mesh, inbound) = Mesh::connect(std::mem::take(&mut plan.mesh)).await?;
    let driver = Rc::new(Driver::new(plan, make, mesh));
    let addrs: Vec<SocketAddr> = driver.endpoints.iter().map(|e| e.local).collect();
    let listeners = driver.tcp.listeners.len();
    info!(shard = id, cpu = driver.cpu, sockets = ?addrs, listeners, batch = driver.batch, "shard running");
    // The controlling thread may have given up waiting; the shard then stops on `stop`.
    let _ = ready.send(id);
    drop(ready);

    let mut tasks = Vec::with_capacity(driver.endpoints.len() + listeners + 1);
    for sock in 0..driver.endpoints.len() {
        tasks.push(glommio::spawn_local(receive_loop(driver.clone(), sock)));
    }
    for listener in 0..listeners {
        tasks.push(glommio::spawn_local(tcp::accept_loop(
            driver.clone(),
            listener,
        )));
    }
    tasks.push(glommio::spawn_local(timer_loop(driver.clone())));
    if !driver.pace.is_zero() {
        tasks.push(glommio::spawn_local(pacer_loop(driver.clone())));
    }
    tasks.push(glommio::spawn_local(tcp::chores(driver.clone())));
    for (from, rx) in inbound {
        tasks.push(glommio::spawn_local(mesh::inbound_loop(
            driver.clone(),
            from,
            rx,
        )));
    }

    let mut byte = [0u8; 1];
    match stop.read(&mut byte).await {
        Ok(_) => debug!(shard = id, "stop requested"),
        Err(e) => warn!(shard = id, error = %e, "stop channel failed; stopping"),
    }
    for task in tasks {
        task.cancel().await;
    }
    // Each connection task closes its connection and ends.
    driver.tcp.stop();
    let drained = glommio::timer::timeout(STOP_GRACE, async {
        driver.tcp.drained().await;
        Ok(())
    })
    .await
    .is_ok();
    if drained {
        // NOTE: every task held a clone and all of them are gone, so this drop closes the fds.
        debug_assert_eq!(Rc::strong_count(&driver), 1);
    } else {
        warn!(
            shard = id,
            open = driver.tcp.len(),
            "connections still closing at stop"
        );
    }
    drop(driver);
    // The cancelled readiness waits are still io_uring requests holding the sockets open.
    // One more trip through the reactor submits their cancellation and reaps it, so the
    // sockets (and ports) are released before the thread ends, not a few ms after.
    glommio::timer::sleep(Duration::from_millis(1)).await;
    info!(shard = id, "shard stopped");
    Ok(())
}

/// A socket as the shard uses it: the glommio wrapper for waiting and deferred sends, the raw
/// fd for batched calls.
struct Endpoint {
    local: SocketAddr,
    io: glommio::net::UdpSocket,
    fd: RawFd,
}

/// One-waiter, level-triggered wakeup between tasks of the same executor.
#[derive(Default)]
pub(super) struct Wakeup {
    notified: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Wakeup {
    pub(super) fn notify(&self) {
        self.notified.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Ready (and reset) if notified since the last time; otherwise wakes `cx` on the next
    /// notification.
    pub(super) fn poll(&self, cx: &Context<'_>) -> Poll<()> {
        if self.notified.replace(false) {
            Poll::Ready(())
        } else {
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }

    pub(super) async fn wait(&self) {
        future::poll_fn(|cx| self.poll(cx)).await
    }
}

/// What every task of one shard shares.
pub(super) struct Driver<S> {
    pub(super) id: u16,
    cpu: usize,
    batch: usize,
    pub(super) shard: RefCell<S>,
    endpoints: Vec<Endpoint>,
    rx: RefCell<RxBatch>,
    pub(super) counters: Arc<ShardCounters>,
    pub(super) tcp: Tcp,
    /// Channels to the other shards.
    pub(super) mesh: Mesh,
    /// Deadline the timer task is sleeping towards (`None`: no deadline).
    armed: Cell<Option<Instant>>,
    timer_wake: Wakeup,
    /// Pause between receive rounds while datagrams keep arriving (zero: none).
    pace: Duration,
    /// A receive task read a short batch and waits for the next round instead of parking.
    busy: Cell<bool>,
    pacer_wake: Wakeup,
    log_panic: LogThrottle,
    log_rx: LogThrottle,
    log_tx: LogThrottle,
}

/// Per-task send scratch, reused for every flush so the steady state allocates nothing.
pub(super) struct Outbox {
    pending: Vec<Transmit>,
    /// Endpoint index per pending transmit (`None`: no socket has its local address).
    route: Vec<Option<usize>>,
    selected: Vec<usize>,
    /// (endpoint, pending index) that met a full send buffer, in order.
    deferred: Vec<(usize, usize)>,
    tx: TxBatch,
}

impl Outbox {
    pub(super) fn new(batch: usize) -> Self {
        Outbox {
            pending: Vec::with_capacity(batch),
            route: Vec::with_capacity(batch),
            selected: Vec::with_capacity(batch),
            deferred: Vec::new(),
            tx: TxBatch::new(batch),
        }
    }
}

impl<S: SansIo> Driver<S> {
    /// Must run on the shard's executor: the glommio socket wrappers bind to its reactor.
    fn new(plan: ShardPlan, make: MakeShard<S>, mesh: Mesh) -> Self {
        let endpoints = plan
            .sockets
            .into_iter()
            .map(|(local, socket)| {
                // SAFETY: `into_raw_fd` hands over sole ownership of a bound UDP socket.
                let io = unsafe { glommio::net::UdpSocket::from_raw_fd(socket.into_raw_fd()) };
                let fd = io.as_raw_fd();
                Endpoint { local, io, fd }
            })
            .collect();
        let rx = RxBatch::new(plan.batch);
        let tcp = Tcp::new(plan.id, plan.tcp, plan.listeners);
        Driver {
            id: plan.id,
            cpu: plan.cpu,
            batch: rx.capacity(),
            shard: RefCell::new(make(plan.config, plan.seed)),
            endpoints,
            rx: RefCell::new(rx),
            counters: plan.counters,
            tcp,
            mesh,
            armed: Cell::new(None),
            timer_wake: Wakeup::default(),
            pace: plan.pace,
            busy: Cell::new(false),
            pacer_wake: Wakeup::default(),
            log_panic: LogThrottle::new(LOG_INTERVAL),
            log_rx: LogThrottle::new(LOG_INTERVAL),
            log_tx: LogThrottle::new(LOG_INTERVAL),
        }
    }

    /// Counts and logs a panic caught around a shard call.
    pub(super) fn panicked(
        &self,
        call: &'static str,
        remote: Option<SocketAddr>,
        payload: &(dyn std::any::Any + Send),
    ) {
        ShardCounters::add(&self.counters.panics, 1);
        if let Some(held_back) = self.log_panic.allow(Instant::now()) {
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            error!(
                shard = self.id,
                call,
                ?remote,
                held_back,
                "internal error: panic caught, input dropped: {message}"
            );
        }
    }

    fn receive_error(&self, sock: usize, err: &io::Error) {
        ShardCounters::add(&self.counters.rx_errors, 1);
        if let Some(held_back) = self.log_rx.allow(Instant::now()) {
            warn!(shard = self.id, local = %self.endpoints[sock].local, error = %err, held_back, "receive failed");
        }
    }

    fn send_error(&self, local: SocketAddr, remote: SocketAddr, err: &dyn std::fmt::Display) {
        ShardCounters::add(&self.counters.tx_errors, 1);
        if let Some(held_back) = self.log_tx.allow(Instant::now()) {
            warn!(shard = self.id, %local, %remote, error = %err, held_back, "datagram dropped on send");
        }
    }

    /// The shard's next deadline; a panic there counts and reads as "no deadline".
    fn poll_timeout(&self, shard: &S) -> Option<Instant> {
        match catch_unwind(AssertUnwindSafe(|| shard.poll_timeout())) {
            Ok(deadline) => deadline,
            Err(payload) => {
                self.panicked("poll_timeout", None, &*payload);
                None
            }
        }
    }

    /// Moves every pending transmit out of the shard into `out`, sends what it handed off,
    /// and carries out its connection commands.
    pub(super) fn drain(&self, shard: &mut S, out: &mut Outbox) {
        self.send_handoffs(shard);
        loop {
            match catch_unwind(AssertUnwindSafe(|| shard.poll_transmit())) {
                Ok(Some(t)) => out.pending.push(t),
                Ok(None) => break,
                Err(payload) => {
                    self.panicked("poll_transmit", None, &*payload);
                    break;
                }
            }
        }
        self.conn_commands(shard);
    }

    /// Wakes the timer task if the shard's deadline is now earlier than the one it sleeps on.
    pub(super) fn note_deadline(&self, shard: &S) {
        let earlier = match (self.poll_timeout(shard), self.armed.get()) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            self.timer_wake.notify();
        }
    }

    /// One batch from socket `sock` through the shard, outputs drained into `out`. Returns how
    /// many datagrams the batch held; `Err(WouldBlock)` when the socket was empty.
    fn receive_batch(&self, sock: usize, out: &mut Outbox) -> io::Result<usize> {
        // NOTE: `sock` is the calling task's own endpoint index, below `endpoints.len()`.
        let mut rx = self.rx.borrow_mut();
        let n = rx.recv(self.endpoints[sock].fd)?;
        let now = Instant::now();
        let local = self.endpoints[sock].local;
        let (mut datagrams, mut bytes, mut truncated, mut unreadable) = (0u64, 0u64, 0u64, 0u64);
        let mut shard = self.shard.borrow_mut();
        for i in 0..n {
            let d = rx.datagram(i);
            if d.truncated {
                truncated += 1;
                continue;
            }
            let Some(remote) = d.remote else {
                unreadable += 1;
                continue;
            };
            datagrams += 1;
            bytes += d.bytes.len() as u64;
            let input = d.bytes;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
                shard.handle_datagram(now, local, remote, input)
            })) {
                self.panicked("handle_datagram", Some(remote), &*payload);
            }
        }
        drop(rx);
        let c = &*self.counters;
        ShardCounters::add(&c.rx_datagrams, datagrams);
        ShardCounters::add(&c.rx_bytes, bytes);
        if truncated > 0 {
            ShardCounters::add(&c.rx_truncated, truncated);
            if let Some(held_back) = self.log_rx.allow(now) {
                warn!(shard = self.id, %local, truncated, held_back, "oversized datagrams dropped");
            }
        }
        if unreadable > 0 {
            ShardCounters::add(&c.rx_errors, unreadable);
        }
        self.drain(&mut shard, out);
        self.note_deadline(&shard);
        Ok(n)
    }

    /// Hands a payload buffer back to the shard's pool (dropped if the shard is busy, which
    /// no caller is while it runs).
    pub(super) fn recycle(&self, buf: Vec<u8>) {
        let Ok(mut shard) = self.shard.try_borrow_mut() else {
            return;
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| shard.recycle(buf))) {
            self.panicked("recycle", None, &*payload);
        }
    }

    /// Sends everything in `out.pending`, then recycles the buffers. Transmits on a stream
    /// flow go to their connection first. Datagrams are grouped by local socket and go out
    /// with `sendmmsg`; a socket whose send buffer is full gets its remaining datagrams sent
    /// one by one through glommio, awaited, in order.
    pub(super) async fn flush(&self, out: &mut Outbox) {
        out.pending.retain_mut(|t| match t.flow {
            Flow::Udp => true,
            Flow::Stream(conn) if mesh::conn_shard(conn) != self.id => {
                self.forward_write(mesh::conn_shard(conn), conn, t);
                false
            }
            Flow::Stream(_) | Flow::Tcp => {
                self.route_tcp(t);
                false
            }
        });
        if out.pending.is_empty() {
            return;
        }
        // NOTE: every index in `route`, `selected` and `deferred` below comes from
        // `0..pending.len()`, and `pending` does not change until the buffers are recycled.
        out.route.clear();
        for t in &out.pending {
            let route = self.endpoints.iter().position(|e| e.local == t.local);
            if route.is_none() {
                self.send_error(
                    t.local,
                    t.remote,
                    &"no socket is bound to this local address",
                );
            }
            out.route.push(route);
        }
        out.deferred.clear();
        let (mut sent, mut bytes) = (0u64, 0u64);
        for (sock, endpoint) in self.endpoints.iter().enumerate() {
            out.selected.clear();
            out.selected
                .extend((0..out.pending.len()).filter(|&i| out.route[i] == Some(sock)));
            let mut k = 0;
            while k < out.selected.len() {
                match out.tx.send(endpoint.fd, &out.pending, &out.selected[k..]) {
                    Ok(n) => {
                        sent += n as u64;
                        bytes += out.selected[k..k + n]
                            .iter()
                            .map(|&i| out.pending[i].payload.len() as u64)
                            .sum::<u64>();
                        k += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        out.deferred
                            .extend(out.selected[k..].iter().map(|&i| (sock, i)));
                        break;
                    }
                    Err(e) => {
                        let t = &out.pending[out.selected[k]];
                        self.send_error(t.local, t.remote, &e);
                        k += 1;
                    }
                }
            }
        }
        ShardCounters::add(&self.counters.tx_datagrams, sent);
        ShardCounters::add(&self.counters.tx_bytes, bytes);

        if !out.deferred.is_empty() {
            ShardCounters::add(&self.counters.tx_deferred, out.deferred.len() as u64);
            for &(sock, i) in &out.deferred {
                let t = &out.pending[i];
                match self.endpoints[sock].io.send_to(&t.payload, t.remote).await {
                    Ok(_) => {
                        ShardCounters::add(&self.counters.tx_datagrams, 1);
                        ShardCounters::add(&self.counters.tx_bytes, t.payload.len() as u64);
                    }
                    Err(e) => self.send_error(t.local, t.remote, &e),
                }
            }
        }

        let mut shard = self.shard.borrow_mut();
        let pending = &mut out.pending;
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
            for t in pending.drain(..) {
                shard.recycle(t.payload);
            }
        })) {
            self.panicked("recycle", None, &*payload);
        }
        out.pending.clear();
    }

    /// Calls `handle_timeout(now)` and drains its outputs into `out`.
    fn fire_timeout(&self, now: Instant, out: &mut Outbox) {
        let mut shard = self.shard.borrow_mut();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| shard.handle_timeout(now))) {
            self.panicked("handle_timeout", None, &*payload);
        }
        self.drain(&mut shard, out);
    }
}

/// Receive task for socket `sock`.
async fn receive_loop<S: SansIo>(d: Rc<Driver<S>>, sock: usize) {
    let mut out = Outbox::new(d.batch);
    let mut probe = [0u8; 1];
    loop {
        let drained = match d.receive_batch(sock, &mut out) {
            Ok(n) => {
                d.flush(&mut out).await;
                // A full batch means more is probably queued. A short one, with pacing on,
                // waits for the pacer's next round (see `pacer_loop`); without, it means the
                // socket is likely empty, which the wait below checks without parking if not.
                if n < d.batch && !d.pace.is_zero() {
                    d.busy.set(true);
                    d.pacer_wake.notify();
                    future::yield_now().await;
                    continue;
                }
                n < d.batch
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(e) => {
                d.receive_error(sock, &e);
                glommio::timer::sleep(RECV_ERROR_BACKOFF).await;
                false
            }
        };
        if drained {
            // Wait until the socket is readable (see the module docs).
            if let Err(e) = d.endpoints[sock].io.peek_from(&mut probe).await {
                d.receive_error(sock, &io::Error::from(e));
                glommio::timer::sleep(RECV_ERROR_BACKOFF).await;
            }
        }
        // Neither the batch nor a wait that found data at once returns to the executor, so
        // under steady traffic this task would never let the other sockets and the timer
        // run. One yield per batch is a queue push; glommio's preemption timer then bounds
        // how long the reactor (timers, readiness) goes unpolled.
        future::yield_now().await;
    }
}

/// Pacer task (when `udp.pace_us` is not zero): paces a busy shard into receive rounds.
///
/// A receive task that read a short batch neither parks nor reads again at once: it marks the
/// shard busy and yields. The executor runs its tasks in order, so every such receive task has
/// read once before the pacer runs; the pacer then blocks the shard's thread for `pace` and
/// yields, and the next round reads what arrived meanwhile. Blocking is deliberate: a glommio
/// timer would park the reactor, which costs several `io_uring_enter` calls per round, where
/// this costs one `nanosleep`; nothing else on the thread can run meanwhile anyway, and every
/// other task (TCP, the mesh, timers) runs in the next round, delayed by at most `pace`.
/// A round that finds every socket empty parks the receive tasks on readiness as usual, and
/// the pacer waits for the next busy mark.
async fn pacer_loop<S: SansIo>(d: Rc<Driver<S>>) {
    loop {
        if d.busy.replace(false) {
            std::thread::sleep(d.pace);
            future::yield_now().await;
        } else {
            d.pacer_wake.wait().await;
        }
    }
}

/// Timer task: one glommio timer, re-armed from `poll_timeout` after every firing and
/// whenever a receive task moves the deadline earlier.
async fn timer_loop<S: SansIo>(d: Rc<Driver<S>>) {
    let mut out = Outbox::new(d.batch);
    let mut timer = Timer::new(Duration::from_secs(3600));
    let mut last_fired: Option<Instant> = None;
    loop {
        let next = {
            let shard = d.shard.borrow();
            d.poll_timeout(&shard)
        };
        let Some(mut at) = next else {
            d.armed.set(None);
            d.timer_wake.wait().await;
            continue;
        };
        // A deadline at or before the instant the shard was last woken for would fire again
        // at once, forever; give it a millisecond instead.
        if let Some(fired) = last_fired {
            if at <= fired {
                at = fired + MIN_REARM;
            }
        }
        let now = Instant::now();
        if at > now {
            d.armed.set(Some(at));
            timer.reset(at - now);
            future::or(
                async {
                    (&mut timer).await;
                },
                d.timer_wake.wait(),
            )
            .await;
            continue;
        }
        last_fired = Some(now);
        d.fire_timeout(now, &mut out);
        d.flush(&mut out).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::transaction::TimerConfig;
    use crate::shell::udp::{self, BufferSizes};
    use glommio::{LocalExecutorBuilder, Placement};
    use std::net::UdpSocket;

    fn shard_config(local: SocketAddr) -> ShardConfig {
        ShardConfig {
            id: 0,
            shard_count: 1,
            local_addrs: vec![local],
            domains: Vec::new(),
            symmetric_response: true,
            server_header: String::new(),
            drop_scanners: true,
            timers: TimerConfig::RFC,
            timer_tick: Duration::from_millis(10),
            registrar: crate::core::registrar::RegistrarConfig::DEFAULT,
            auth: None,
            routes: std::sync::Arc::default(),
            router: None,
        }
    }

    /// Runs `f` on a fresh unpinned executor with small io_memory, bounded by a timeout.
    fn on_executor<F, Fut>(f: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let (done_tx, done_rx) = mpsc::channel();
        let handle = LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(crate::shell::affinity::IO_MEMORY)
            .spawn(move || async move {
                f().await;
                let _ = done_tx.send(());
            })
            .expect("executor");
        match done_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(()) => handle.join().expect("executor join"),
            // The test body panicked and took the executor thread down: report its panic.
            Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
                Ok(()) => panic!("executor ended without finishing the test"),
                Err(e) => panic!("executor test failed: {e}"),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("executor test timed out"),
        }
    }

    #[test]
    fn flush_sends_by_local_socket_and_counts_what_has_no_socket() {
        on_executor(|| async {
            let (socket, _) = udp::bind(
                "127.0.0.1:0".parse().unwrap(),
                BufferSizes { recv: 0, send: 0 },
            )
            .unwrap();
            let local = socket.local_addr().unwrap().as_socket().unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
            peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let remote = peer.local_addr().unwrap();
            let counters = Arc::new(ShardCounters::default());
            let d = Driver::new(
                ShardPlan {
                    id: 0,
                    cpu: 0,
                    sockets: vec![(local, socket)],
                    listeners: Vec::new(),
                    tcp: TcpSettings::new(&crate::config::TcpConfig::default()),
                    config: shard_config(local),
                    seed: 1,
                    batch: 4,
                    pace: Duration::ZERO,
                    counters: counters.clone(),
                    mesh: MeshPlan::default(),
                },
                Shard::new,
                Mesh::default(),
            );
            let mut out = Outbox::new(4);
            for i in 0..6u8 {
                out.pending.push(Transmit {
                    flow: crate::core::shard::Flow::Udp,
                    local,
                    remote,
                    payload: vec![i; 20],
                    token: 0,
                });
            }
            let stranger: SocketAddr = "127.0.0.2:5060".parse().unwrap();
            out.pending.push(Transmit {
                flow: crate::core::shard::Flow::Udp,
                local: stranger,
                remote,
                payload: vec![9; 20],
                token: 0,
            });
            d.flush(&mut out).await;
            assert!(out.pending.is_empty());
            let mut buf = [0u8; 64];
            for i in 0..6u8 {
                let (n, from) = peer.recv_from(&mut buf).unwrap();
                assert_eq!((from, &buf[..n]), (local, &[i; 20][..]));
            }
            let s = counters.snapshot(0, 0);
            assert_eq!((s.tx_datagrams, s.tx_bytes, s.tx_errors), (6, 120, 1));
        });
    }

    #[test]
    fn wakeup_is_level_triggered() {
        on_executor(|| async {
            let w = Rc::new(Wakeup::default());
            w.notify();
            w.wait().await; // already notified: returns at once
            let w2 = w.clone();
            let waiter = glommio::spawn_local(async move { w2.wait().await });
            glommio::timer::sleep(Duration::from_millis(5)).await;
            w.notify();
            glommio::timer::timeout(Duration::from_secs(5), async {
                waiter.await;
                Ok(())
            })
            .await
            .expect("waiter woken");
        });
    }
}
