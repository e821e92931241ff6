//! One signalling shard's sans-IO state: everything a core owns. The shell feeds it inputs
//! (`handle_*`) and drains its outputs (`poll_*`) after every input.

use std::net::SocketAddr;
use std::time::Instant;

/// What a shard needs to know about its place in the process.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// This shard's index, 0-based.
    pub id: u16,
    /// How many signalling shards the process runs.
    pub shard_count: u16,
    /// Every local address a socket is bound to (requests for these are "for Drongo").
    pub local_addrs: Vec<SocketAddr>,
    /// Domains served besides the local addresses.
    pub domains: Vec<String>,
    /// Answer to the datagram's source even without `rport` (see `config::SipConfig`).
    pub symmetric_response: bool,
    /// `Server` header token; empty sends none.
    pub server_header: String,
}

/// One datagram to send. The buffer came from the shard's pool; hand it back with
/// [`Shard::recycle`] once sent so the steady state allocates nothing.
#[derive(Debug)]
pub struct Transmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
}

/// A signalling shard.
pub struct Shard {
    config: ShardConfig,
    transmits: std::collections::VecDeque<Transmit>,
    pool: Vec<Vec<u8>>,
}

impl Shard {
    pub fn new(config: ShardConfig, seed: u64) -> Self {
        let _ = seed;
        Shard {
            config,
            transmits: Default::default(),
            pool: Vec::new(),
        }
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// One UDP datagram arrived on `local` from `remote`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        let _ = (now, local, remote, bytes);
    }

    /// The deadline returned by [`Shard::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// Next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The earliest instant at which [`Shard::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Return a sent payload buffer to the pool.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.pool.push(buf);
    }
}
