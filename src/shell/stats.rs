//! Per-shard counters kept by the shell: what happened to datagrams on their way between the
//! sockets and the [`Shard`](crate::core::shard::Shard).
//!
//! Each shard writes only its own [`ShardCounters`] (`Relaxed` atomics, one writer), and any
//! thread may read a [`ShardStats`] snapshot through
//! [`RunningShards::stats`](super::RunningShards::stats).

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
    /// Panics caught around a shard call; each cost the datagram or timeout being handled.
    pub panics: u64,
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
        })
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
