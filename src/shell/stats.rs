//! Per-shard counters kept by the shell: what happened to datagrams and TCP connections on
//! their way between the sockets and the [`Shard`](crate::core::shard::Shard).
//!
//! Each shard writes only its own [`ShardCounters`] (`Relaxed` atomics, one writer), and any
//! thread may read a [`ShardStats`] snapshot through
//! [`RunningShards::stats`](super::RunningShards::stats).

use crate::core::sip::framer::FrameError;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Live counters of one shard. Written only by the owning shard's thread.
#[derive(Debug, Default)]
pub(crate) struct ShardCounters {
    pub rx_datagrams: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub rx_truncated: AtomicU64,
    pub rx_errors: AtomicU64,
    pub tx_datagrams: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub tx_deferred: AtomicU64,
    pub tx_errors: AtomicU64,
    pub panics: AtomicU64,
    pub tcp_accepted: AtomicU64,
    pub tcp_refused: AtomicU64,
    pub tcp_refused_per_ip: AtomicU64,
    pub tcp_connects: AtomicU64,
    pub tcp_connect_failures: AtomicU64,
    pub tcp_closed: AtomicU64,
    pub tcp_frame_errors: [AtomicU64; FRAME_ERRORS.len()],
    pub tcp_header_timeouts: AtomicU64,
    pub tcp_idle_timeouts: AtomicU64,
    pub tcp_keepalive_timeouts: AtomicU64,
    pub tcp_pings: AtomicU64,
    pub tcp_send_overflows: AtomicU64,
    pub tcp_errors: AtomicU64,
    pub tcp_rx_messages: AtomicU64,
    pub tcp_rx_bytes: AtomicU64,
    pub tcp_tx_bytes: AtomicU64,
    pub tcp_tx_dropped: AtomicU64,
    pub tcp_tx_unconnected: AtomicU64,
    pub handoff_out: AtomicU64,
    pub handoff_in: AtomicU64,
    pub handoff_full: AtomicU64,
    pub handoff_closed: AtomicU64,
    pub absorbed: AtomicU64,
}

/// Every [`FrameError`], in the order of [`ShardStats::tcp_frame_errors`].
pub const FRAME_ERRORS: [FrameError; 5] = [
    FrameError::HeaderTooLarge,
    FrameError::BodyTooLarge,
    FrameError::MissingContentLength,
    FrameError::BadContentLength,
    FrameError::DuplicateContentLength,
];

/// Index of `reason` in [`FRAME_ERRORS`].
pub fn frame_error_index(reason: FrameError) -> usize {
    match reason {
        FrameError::HeaderTooLarge => 0,
        FrameError::BodyTooLarge => 1,
        FrameError::MissingContentLength => 2,
        FrameError::BadContentLength => 3,
        FrameError::DuplicateContentLength => 4,
    }
}

impl ShardCounters {
    /// Adds `n` to one counter. Only the owning shard calls this, so a plain load + store would
    /// do; `fetch_add` keeps it obviously right at the same cost on x86.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn snapshot(&self, shard: u16, cpu: usize) -> ShardStats {
        ShardStats {
            shard,
            cpu,
            rx_datagrams: self.rx_datagrams.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            rx_truncated: self.rx_truncated.load(Relaxed),
            rx_errors: self.rx_errors.load(Relaxed),
            tx_datagrams: self.tx_datagrams.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
            tx_deferred: self.tx_deferred.load(Relaxed),
            tx_errors: self.tx_errors.load(Relaxed),
            panics: self.panics.load(Relaxed),
            tcp_accepted: self.tcp_accepted.load(Relaxed),
            tcp_refused: self.tcp_refused.load(Relaxed),
            tcp_refused_per_ip: self.tcp_refused_per_ip.load(Relaxed),
            tcp_connects: self.tcp_connects.load(Relaxed),
            tcp_connect_failures: self.tcp_connect_failures.load(Relaxed),
            tcp_closed: self.tcp_closed.load(Relaxed),
            tcp_frame_errors: self.tcp_frame_errors.each_ref().map(|c| c.load(Relaxed)),
            tcp_header_timeouts: self.tcp_header_timeouts.load(Relaxed),
            tcp_idle_timeouts: self.tcp_idle_timeouts.load(Relaxed),
            tcp_keepalive_timeouts: self.tcp_keepalive_timeouts.load(Relaxed),
            tcp_pings: self.tcp_pings.load(Relaxed),
            tcp_send_overflows: self.tcp_send_overflows.load(Relaxed),
            tcp_errors: self.tcp_errors.load(Relaxed),
            tcp_rx_messages: self.tcp_rx_messages.load(Relaxed),
            tcp_rx_bytes: self.tcp_rx_bytes.load(Relaxed),
            tcp_tx_bytes: self.tcp_tx_bytes.load(Relaxed),
            tcp_tx_dropped: self.tcp_tx_dropped.load(Relaxed),
            tcp_tx_unconnected: self.tcp_tx_unconnected.load(Relaxed),
            handoff_out: self.handoff_out.load(Relaxed),
            handoff_in: self.handoff_in.load(Relaxed),
            handoff_full: self.handoff_full.load(Relaxed),
            handoff_closed: self.handoff_closed.load(Relaxed),
            absorbed: self.absorbed.load(Relaxed),
        }
    }
}

/// A point-in-time copy of one shard's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Shard index, 0-based.
    pub shard: u16,
    /// CPU the shard is pinned to.
    pub cpu: usize,
    /// Datagrams handed to the shard.
    pub rx_datagrams: u64,
    /// Payload bytes handed to the shard.
    pub rx_bytes: u64,
    /// Datagrams dropped because they did not fit a receive slot (`MSG_TRUNC`).
    pub rx_truncated: u64,
    /// Failed receive calls and datagrams with an unreadable source address.
    pub rx_errors: u64,
    /// Datagrams the kernel accepted for sending.
    pub tx_datagrams: u64,
    /// Payload bytes the kernel accepted for sending.
    pub tx_bytes: u64,
    /// Datagrams that met a full send buffer and went out through an awaited send instead.
    pub tx_deferred: u64,
    /// Datagrams dropped on send: a kernel error, or no socket bound to their local address.
    pub tx_errors: u64,
    /// Panics caught around a shard call; each cost the datagram, message or timeout being
    /// handled.
    pub panics: u64,
    /// TCP connections accepted and served (open now: `tcp_accepted + tcp_connects -
    /// tcp_closed`).
    pub tcp_accepted: u64,
    /// TCP connections accepted past `tcp.max_connections` and closed at once.
    pub tcp_refused: u64,
    /// TCP connections accepted past `tcp.max_connections_per_ip` from one address and closed
    /// at once.
    pub tcp_refused_per_ip: u64,
    /// TCP connections Drongo opened to a destination.
    pub tcp_connects: u64,
    /// Outbound connections that could not be opened: refused, unreachable, or not up within
    /// `tcp.connect_timeout_secs`.
    pub tcp_connect_failures: u64,
    /// Served TCP connections (accepted or opened) that have ended, for any reason.
    pub tcp_closed: u64,
    /// Connections closed because their byte stream lost its framing, by reason in the order
    /// of [`FRAME_ERRORS`] (see [`ShardStats::tcp_frame_error`]).
    pub tcp_frame_errors: [u64; FRAME_ERRORS.len()],
    /// Connections closed for not finishing a header section within `tcp.header_timeout_secs`.
    pub tcp_header_timeouts: u64,
    /// Connections closed after `tcp.idle_timeout_secs` without a byte either way.
    pub tcp_idle_timeouts: u64,
    /// Kept flows closed because nothing came back within `tcp.keepalive_timeout_secs` of a
    /// keep-alive ping.
    pub tcp_keepalive_timeouts: u64,
    /// Keep-alive pings (double CRLF) sent on kept flows.
    pub tcp_pings: u64,
    /// Connections closed because their peer read too slowly and the bytes queued for it
    /// passed the per-connection cap.
    pub tcp_send_overflows: u64,
    /// Failed accept, read and write calls (a reset by the peer among them).
    pub tcp_errors: u64,
    /// Messages framed on connections and handed to the shard.
    pub tcp_rx_messages: u64,
    /// Bytes read from connections.
    pub tcp_rx_bytes: u64,
    /// Bytes written to connections.
    pub tcp_tx_bytes: u64,
    /// Messages not delivered over TCP, for any reason: no connection and no address to open
    /// one to, over the connection's queue cap, still queued when the connection closed, or
    /// its connection could not be opened. Each is reported to the shard.
    pub tcp_tx_dropped: u64,
    /// Of `tcp_tx_dropped`: messages whose connection could not be opened.
    pub tcp_tx_unconnected: u64,
    /// Messages sent to other shards over the mesh (`mesh.rs`): messages whose ids name
    /// another shard, and bytes for connections other shards own.
    pub handoff_out: u64,
    /// Messages other shards sent to this one over the mesh.
    pub handoff_in: u64,
    /// Messages for another shard dropped because the channel to it was full.
    pub handoff_full: u64,
    /// Messages for another shard dropped because it had stopped.
    pub handoff_closed: u64,
    /// Requests the shard matched to a live server transaction (retransmissions, ACKs of
    /// non-2xx finals), copied from the core's counters after every input.
    pub absorbed: u64,
}

impl ShardStats {
    /// Sums a set of snapshots field by field (`shard` and `cpu` are left 0).
    pub fn total(stats: &[ShardStats]) -> ShardStats {
        stats.iter().fold(ShardStats::default(), |a, s| ShardStats {
            shard: 0,
            cpu: 0,
            rx_datagrams: a.rx_datagrams + s.rx_datagrams,
            rx_bytes: a.rx_bytes + s.rx_bytes,
            rx_truncated: a.rx_truncated + s.rx_truncated,
            rx_errors: a.rx_errors + s.rx_errors,
            tx_datagrams: a.tx_datagrams + s.tx_datagrams,
            tx_bytes: a.tx_bytes + s.tx_bytes,
            tx_deferred: a.tx_deferred + s.tx_deferred,
            tx_errors: a.tx_errors + s.tx_errors,
            panics: a.panics + s.panics,
            tcp_accepted: a.tcp_accepted + s.tcp_accepted,
            tcp_refused: a.tcp_refused + s.tcp_refused,
            tcp_refused_per_ip: a.tcp_refused_per_ip + s.tcp_refused_per_ip,
            tcp_connects: a.tcp_connects + s.tcp_connects,
            tcp_connect_failures: a.tcp_connect_failures + s.tcp_connect_failures,
            tcp_closed: a.tcp_closed + s.tcp_closed,
            tcp_frame_errors: std::array::from_fn(|i| {
                a.tcp_frame_errors[i] + s.tcp_frame_errors[i]
            }),
            tcp_header_timeouts: a.tcp_header_timeouts + s.tcp_header_timeouts,
            tcp_idle_timeouts: a.tcp_idle_timeouts + s.tcp_idle_timeouts,
            tcp_keepalive_timeouts: a.tcp_keepalive_timeouts + s.tcp_keepalive_timeouts,
            tcp_pings: a.tcp_pings + s.tcp_pings,
            tcp_send_overflows: a.tcp_send_overflows + s.tcp_send_overflows,
            tcp_errors: a.tcp_errors + s.tcp_errors,
            tcp_rx_messages: a.tcp_rx_messages + s.tcp_rx_messages,
            tcp_rx_bytes: a.tcp_rx_bytes + s.tcp_rx_bytes,
            tcp_tx_bytes: a.tcp_tx_bytes + s.tcp_tx_bytes,
            tcp_tx_dropped: a.tcp_tx_dropped + s.tcp_tx_dropped,
            tcp_tx_unconnected: a.tcp_tx_unconnected + s.tcp_tx_unconnected,
            handoff_out: a.handoff_out + s.handoff_out,
            handoff_in: a.handoff_in + s.handoff_in,
            handoff_full: a.handoff_full + s.handoff_full,
            handoff_closed: a.handoff_closed + s.handoff_closed,
            absorbed: a.absorbed + s.absorbed,
        })
    }

    /// Connections closed for framing error `reason`.
    pub fn tcp_frame_error(&self, reason: FrameError) -> u64 {
        self.tcp_frame_errors[frame_error_index(reason)]
    }
}

/// Lets a per-datagram log line through at most once per interval, counting what it held
/// back, so a flood of bad input cannot turn into a flood of log lines.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    interval: Duration,
    next: Cell<Option<Instant>>,
    suppressed: Cell<u64>,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> Self {
        LogThrottle {
            interval,
            next: Cell::new(None),
            suppressed: Cell::new(0),
        }
    }

    /// `Some(n)`: log now, mentioning the `n` lines held back since the last one.
    pub fn allow(&self, now: Instant) -> Option<u64> {
        match self.next.get() {
            Some(next) if now < next => {
                self.suppressed.set(self.suppressed.get() + 1);
                None
            }
            _ => {
                self.next.set(Some(now + self.interval));
                Some(self.suppressed.replace(0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_adds_every_counter() {
        let a = ShardStats {
            rx_datagrams: 2,
            tx_errors: 1,
            ..Default::default()
        };
        let b = ShardStats {
            shard: 1,
            cpu: 3,
            rx_datagrams: 5,
            panics: 4,
            ..Default::default()
        };
        let t = ShardStats::total(&[a, b]);
        assert_eq!(
            (t.rx_datagrams, t.tx_errors, t.panics, t.shard),
            (7, 1, 4, 0)
        );
        let a = ShardStats {
            tcp_accepted: 3,
            tcp_frame_errors: [0, 0, 1, 2, 0],
            ..Default::default()
        };
        let t = ShardStats::total(&[a, a]);
        assert_eq!(t.tcp_accepted, 6);
        assert_eq!(t.tcp_frame_error(FrameError::BadContentLength), 4);
        assert_eq!(t.tcp_frame_error(FrameError::MissingContentLength), 2);
    }

    #[test]
    fn frame_error_table_matches_the_index() {
        for (i, &reason) in FRAME_ERRORS.iter().enumerate() {
            assert_eq!(frame_error_index(reason), i, "{}", reason.as_str());
        }
    }

    #[test]
    fn throttle_lets_one_line_through_per_interval() {
        let t = LogThrottle::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(t.allow(t0), Some(0));
        assert_eq!(t.allow(t0 + Duration::from_millis(10)), None);
        assert_eq!(t.allow(t0 + Duration::from_millis(20)), None);
        assert_eq!(t.allow(t0 + Duration::from_millis(1_001)), Some(2));
    }
}
