//! The task that serves one connection, accepted or opened, until it ends.
//!
//! Receiving: every read goes into the shard's one scratch buffer. The messages it completes
//! are cut out with the core's [`Framer`] and handed to the shard straight from there; only
//! the start of a message still arriving is copied into the connection's own buffer, which is
//! freed as soon as that message is complete. So an idle connection holds no receive buffer,
//! and one in the middle of a message holds only what it has of it (at most
//! `tcp.max_message`; more closes the connection). A double-CRLF ping is answered with a CRLF
//! pong and a single CRLF is absorbed (RFC 5626 §4.4.1); a framing error closes the
//! connection, since a stream that lost its framing cannot be resynchronised.
//!
//! Timers, one per connection, re-armed to the earliest of:
//! - the header section of a started message, due within `tcp.header_timeout_secs`;
//! - on a connection that is not kept: `tcp.idle_timeout_secs` without a byte either way;
//! - on a kept one (outbound, or kept at the shard's request): after
//!   `tcp.keepalive_interval_secs` without a byte read, a double-CRLF ping; then, if nothing
//!   at all comes back within `tcp.keepalive_timeout_secs`, the connection is closed and the
//!   shard told the flow failed.
//!
//! At the end the task writes what is still queued if that is still worth it, shuts the
//! socket down, removes the connection from the table, counts why it ended and reports what it
//! could not deliver.

use super::{Close, Conn, Driver, Outbox, SansIo, PING, PONG};
use crate::core::flow::TransportError;
use crate::core::sip::framer::{Frame, FrameError, Framer};
use crate::shell::stats::{frame_error_index, ShardCounters};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use glommio::timer::Timer;
use memchr::memmem;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::debug;

/// A connection's partial-message buffer is reallocated smaller when a message leaves it
/// holding less than a quarter of its capacity and its capacity is past this.
const SHRINK_ABOVE: usize = 4096;

/// Serves `conn` on `stream` until it ends, then closes it and accounts for it.
pub(super) async fn serve<S: SansIo>(
    d: Rc<Driver<S>>,
    mut stream: TcpStream,
    conn: Rc<Conn>,
    local: SocketAddr,
) {
    let mut session = Session::new(&d, &conn, local);
    let reason = session.run(&mut stream).await;
    drop(session);
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
    d.tcp.remove(&conn);
    let c = &*d.counters;
    let leftover = std::mem::take(&mut conn.send.borrow_mut().bufs);
    ShardCounters::add(&c.tcp_tx_dropped, leftover.len() as u64);
    for queued in leftover {
        d.recycle(queued.bytes);
        d.report(TransportError::Undelivered {
            token: queued.token,
            remote: conn.remote,
        });
    }
    if conn.kept.get() && reason != Close::Stop {
        d.flow_failed(&conn);
    }
    ShardCounters::add(&c.tcp_closed, 1);
    match reason {
        Close::Framing(e) => ShardCounters::add(&c.tcp_frame_errors[frame_error_index(e)], 1),
        Close::HeaderTimeout => ShardCounters::add(&c.tcp_header_timeouts, 1),
        Close::IdleTimeout => ShardCounters::add(&c.tcp_idle_timeouts, 1),
        Close::KeepaliveTimeout => ShardCounters::add(&c.tcp_keepalive_timeouts, 1),
        Close::SendOverflow => ShardCounters::add(&c.tcp_send_overflows, 1),
        Close::ReadError | Close::WriteError => ShardCounters::add(&c.tcp_errors, 1),
        Close::PeerClosed | Close::Stop => {}
    }
    debug!(shard = d.id, conn = conn.id.0, %local, remote = %conn.remote, reason = reason.as_str(), "connection closed");
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
        let len = front.bytes.len();
        // NOTE: `written < len`: a buffer leaves the queue as soon as it is fully written.
        let result = Pin::new(&mut *stream).poll_write(cx, &front.bytes[written.min(len)..]);
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
                    if let Some(done) = done {
                        d.recycle(done.bytes);
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
    /// `n` bytes were read into the scratch buffer (0: the peer closed).
    Read(Vec<u8>, usize),
    ReadError(io::Error),
    Timer,
    /// The connection was notified (bytes queued and written, or kept): look at the timer.
    Woken,
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

/// The start of a message whose end has not arrived. Empty, with no allocation, between
/// messages.
#[derive(Debug, Default)]
struct Partial(Vec<u8>);

impl Partial {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn append(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Drops the first `n` bytes; frees or shrinks the buffer when it has become mostly
    /// empty.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.0.len());
        if n == self.0.len() {
            self.0 = Vec::new();
            return;
        }
        self.0.drain(..n);
        let (len, capacity) = (self.0.len(), self.0.capacity());
        if capacity > SHRINK_ABOVE && len < capacity / 4 {
            self.0.shrink_to(len);
        }
    }
}

/// The receive side of one connection.
struct Session<'a, S> {
    d: &'a Driver<S>,
    conn: &'a Conn,
    local: SocketAddr,
    partial: Partial,
    framer: Framer,
    header: HeaderClock,
    /// When the keep-alive ping still unanswered went out.
    ping_sent: Option<Instant>,
}

impl<'a, S: SansIo> Session<'a, S> {
    fn new(d: &'a Driver<S>, conn: &'a Conn, local: SocketAddr) -> Self {
        Session {
            d,
            conn,
            local,
            partial: Partial::default(),
            framer: Framer::new(d.tcp.settings.limits()),
            header: HeaderClock::default(),
            ping_sent: None,
        }
    }

    /// Reads, frames and hands over messages until the connection must end; says why.
    async fn run(&mut self, stream: &mut TcpStream) -> Close {
        let mut armed = self.deadline();
        let mut timer = Timer::new(armed.saturating_duration_since(Instant::now()));
        loop {
            // The timer only ever moves earlier here; when it fires early it is re-armed.
            let due = self.deadline();
            if due < armed {
                timer.reset(due.saturating_duration_since(Instant::now()));
                armed = due;
            }
            let event = future::poll_fn(|cx| self.poll_event(cx, stream, &mut timer)).await;
            match event {
                Event::Read(scratch, 0) => {
                    self.d.tcp.put_scratch(scratch);
                    return Close::PeerClosed;
                }
                Event::Read(scratch, n) => {
                    let now = Instant::now();
                    self.conn.active.set(now);
                    self.conn.heard.set(now);
                    self.ping_sent = None;
                    ShardCounters::add(&self.d.counters.tcp_rx_bytes, n as u64);
                    let (out, result) = self.take(scratch, n);
                    if let Some(mut out) = out {
                        // Boxed: the flush future is larger than the rest of the task, and
                        // an idle connection would carry its space.
                        Box::pin(self.d.flush(&mut out)).await;
                        self.d.tcp.put_outbox(out);
                        // A peer that pipelines many messages must not starve the shard's
                        // other tasks.
                        future::yield_now().await;
                    }
                    if let Err(reason) = result {
                        return reason;
                    }
                }
                Event::ReadError(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Event::ReadError(_) => return Close::ReadError,
                Event::Closed(reason) => return reason,
                Event::Woken => {}
                Event::Timer => {
                    let now = Instant::now();
                    if let Err(reason) = self.check_timers(now) {
                        return reason;
                    }
                    armed = self.deadline();
                    timer.reset(armed.saturating_duration_since(now));
                }
            }
        }
    }

    /// The kept-flow keep-alive settings, when they apply to this connection.
    fn keepalive(&self) -> Option<std::time::Duration> {
        self.d
            .tcp
            .settings
            .keepalive_interval
            .filter(|_| self.conn.kept.get())
    }

    /// The earliest instant the connection must be looked at again.
    fn deadline(&self) -> Instant {
        let settings = &self.d.tcp.settings;
        let due = match (self.keepalive(), self.ping_sent) {
            (Some(_), Some(sent)) => sent + settings.keepalive_timeout,
            (Some(interval), None) => self.conn.heard.get() + interval,
            (None, _) => self.conn.active.get() + settings.idle_timeout,
        };
        self.header.deadline.map_or(due, |at| at.min(due))
    }

    /// The timer fired: ends the connection if a timeout passed, or sends a ping that is due.
    fn check_timers(&mut self, now: Instant) -> Result<(), Close> {
        if self.header.deadline.is_some_and(|at| now >= at) {
            return Err(Close::HeaderTimeout);
        }
        let settings = &self.d.tcp.settings;
        match (self.keepalive(), self.ping_sent) {
            (Some(_), Some(sent)) if now >= sent + settings.keepalive_timeout => {
                Err(Close::KeepaliveTimeout)
            }
            (Some(interval), None) if now >= self.conn.heard.get() + interval => {
                self.ping_sent = Some(now);
                ShardCounters::add(&self.d.counters.tcp_pings, 1);
                self.d.send_bytes(self.conn, PING);
                Ok(())
            }
            (None, _) if now >= self.conn.active.get() + settings.idle_timeout => {
                Err(Close::IdleTimeout)
            }
            _ => Ok(()),
        }
    }

    /// Writes what is queued, then waits for the first of: bytes to read, the timer, a
    /// notification, a request to close.
    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut TcpStream,
        timer: &mut Timer,
    ) -> Poll<Event> {
        if let Some(reason) = self.conn.close.get() {
            return Poll::Ready(Event::Closed(reason));
        }
        if write_queued(self.d, self.conn, stream, cx).is_err() {
            return Poll::Ready(Event::Closed(Close::WriteError));
        }
        if self.conn.wake.poll(cx).is_ready() {
            return Poll::Ready(Event::Woken);
        }
        let mut scratch = self.d.tcp.take_scratch();
        match Pin::new(&mut *stream).poll_read(cx, &mut scratch) {
            Poll::Ready(Ok(n)) => return Poll::Ready(Event::Read(scratch, n)),
            Poll::Ready(Err(e)) => {
                self.d.tcp.put_scratch(scratch);
                return Poll::Ready(Event::ReadError(e));
            }
            Poll::Pending => self.d.tcp.put_scratch(scratch),
        }
        if Pin::new(timer).poll(cx).is_ready() {
            return Poll::Ready(Event::Timer);
        }
        Poll::Pending
    }

    /// Frames the `n` bytes read into `scratch` (after the partial message, if any), hands
    /// every message to the shard and gives `scratch` back. Returns the outputs to send (if a
    /// message produced any) and whether the connection goes on.
    fn take(&mut self, scratch: Vec<u8>, n: usize) -> (Option<Box<Outbox>>, Result<(), Close>) {
        let mut out = None;
        let read = scratch.get(..n).unwrap_or(&scratch);
        let result = if self.partial.is_empty() {
            // Straight from the scratch buffer; only an unfinished message is copied.
            self.frames(read, &mut out).map(|used| {
                if let Some(rest) = read.get(used..).filter(|rest| !rest.is_empty()) {
                    self.partial.append(rest);
                }
            })
        } else {
            self.partial.append(read);
            let partial = std::mem::take(&mut self.partial);
            let result = self.frames(&partial.0, &mut out);
            self.partial = partial;
            result.map(|used| self.partial.consume(used))
        };
        self.d.tcp.put_scratch(scratch);
        (out, result.and_then(|()| self.watch_header()))
    }

    /// Cuts frames off the front of `data` until it holds no complete one; returns how many
    /// bytes they took.
    fn frames(&mut self, data: &[u8], out: &mut Option<Box<Outbox>>) -> Result<usize, Close> {
        let mut used = 0;
        loop {
            let rest = data.get(used..).unwrap_or_default();
            let n = match self.framer.next(rest) {
                Ok(Frame::Partial) => return Ok(used),
                Ok(Frame::Pong(n)) => n,
                Ok(Frame::Ping(n)) => {
                    self.d.send_bytes(self.conn, PONG);
                    n
                }
                Ok(Frame::Message(n)) => {
                    // NOTE: the framer reports a message only once `rest` holds all of it;
                    // `get` keeps a framer bug from becoming a panic.
                    let Some(message) = rest.get(..n) else {
                        return Err(Close::Framing(FrameError::BodyTooLarge));
                    };
                    let out = out.get_or_insert_with(|| self.d.tcp.take_outbox());
                    self.d
                        .stream_message(self.conn.id, self.local, self.conn.remote, message, out);
                    self.header = HeaderClock::default();
                    n
                }
                Err(e) => return Err(Close::Framing(e)),
            };
            used = (used + n).min(data.len());
        }
    }

    /// Starts or stops the header clock for the partial message, and enforces the message
    /// cap on it.
    fn watch_header(&mut self) -> Result<(), Close> {
        if self.partial.len() > self.d.tcp.settings.max_message {
            // The framer refuses a header section past the cap itself, so this one's body
            // does not fit.
            return Err(Close::Framing(FrameError::BodyTooLarge));
        }
        if !self.framer.in_message() || self.header.complete {
            return Ok(());
        }
        let data = &self.partial.0;
        let from = self.header.scanned.saturating_sub(3).min(data.len());
        if memmem::find(&data[from..], b"\r\n\r\n").is_some() {
            self.header.complete = true;
            self.header.deadline = None;
        } else {
            self.header.scanned = data.len();
            if self.header.deadline.is_none() {
                self.header.deadline = Some(Instant::now() + self.d.tcp.settings.header_timeout);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_message_buffer_is_freed_when_its_message_leaves() {
        let mut p = Partial::default();
        p.append(b"INVITE sip:a SIP/2.0\r\n");
        assert_eq!(p.len(), 22);
        p.consume(22);
        assert!(p.is_empty());
        assert_eq!(p.0.capacity(), 0, "no allocation between messages");
    }

    #[test]
    fn a_large_buffer_shrinks_to_the_rest_of_the_next_message() {
        let mut p = Partial::default();
        p.append(&[b'x'; 60_000]);
        p.append(b"OPT");
        p.consume(60_000);
        assert_eq!(p.0, b"OPT");
        assert!(p.0.capacity() < SHRINK_ABOVE, "{}", p.0.capacity());
        p.consume(100);
        assert!(p.is_empty());
    }
}
