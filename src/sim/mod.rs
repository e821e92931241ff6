//! Virtual network and clock that runs shards with no sockets (DESIGN §2, §9).
//!
//! A [`Sim`] owns N shards bound (virtually) to the same addresses, spreads datagrams over
//! them the way SO_REUSEPORT does (a hash of the 4-tuple), and records everything the shards
//! send to peers with the virtual time it left. Time only moves when a test says so, so
//! timer behaviour is exact and every run with the same seed is the same run.
//!
//! Messages a shard hands to their owner shard (`core::handoff`) travel through one bounded
//! channel per pair of shards, as in the shell's mesh: delivered at once, unless the owner is
//! stalled ([`Sim::stall`]), in which case they wait in the channel, and a channel holding
//! [`Sim::set_mesh_capacity`] messages drops the next one and the sender counts it.
//!
//! Stream connections are virtual too: a peer [`Sim::connect`]s, the connection belongs to
//! the shard the 4-tuple hash picks (its id carries that shard, as the shell's ids do), its
//! messages go to that shard, and what a shard sends on it is recorded with its flow
//! ([`Sim::take_with_flow`]). Connection commands are recorded ([`Sim::take_commands`]), and
//! closing a connection ([`Sim::close`]) reports the failed flow to its owner and to every
//! shard that asked to keep it, as the shell does.
//!
//! A peer can be made unreachable ([`Sim::set_unreachable`]): what a shard sends it is lost,
//! and the shard is told the message was undelivered, as the shell tells it when a TCP
//! connection cannot be opened.

use crate::core::flow::{ConnCommand, TransportError};
use crate::core::handoff::Handoff;
use crate::core::sip::DropReason;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::core::shard::{ConnId, Flow, Shard, ShardConfig};
use crate::core::transaction::TimerConfig;

/// The instant virtual clocks start from: read once per process, so the sans-IO core and
/// its tests never read the clock themselves.
pub fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A datagram a shard sent, as a peer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Virtual time since the simulation started.
    pub at: Duration,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Datagram {
    /// The status code, when this is a SIP response.
    pub fn status(&self) -> Option<u16> {
        let line = self.bytes.strip_prefix(b"SIP/2.0 ")?;
        std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// N shards behind the same addresses on a virtual clock.
pub struct Sim {
    start: Instant,
    now: Instant,
    shards: Vec<Shard>,
    sent: VecDeque<(Flow, Datagram)>,
    /// Connection commands the shards gave, with the shard that gave each.
    commands: Vec<(usize, ConnCommand)>,
    /// (connection, shard) pairs: the shard asked to keep the connection.
    kept: Vec<(ConnId, usize)>,
    /// Open connections and their peer's address.
    conns: Vec<(ConnId, SocketAddr)>,
    next_conn: u64,
    /// Handoffs waiting for their owner, per owner, in arrival order.
    inbox: Vec<VecDeque<Handoff>>,
    /// Shards that do not take from their inbox until resumed.
    stalled: Vec<bool>,
    /// Messages one channel (one sender, one owner) holds at most.
    mesh_capacity: usize,
    /// Peers nothing reaches.
    unreachable: Vec<SocketAddr>,
}

impl Sim {
    /// Shards built from one template config (its `id` and `shard_count` are overwritten).
    pub fn new(shard_count: u16, template: ShardConfig, seed: u64) -> Sim {
        let start = epoch();
        let shards: Vec<Shard> = (0..shard_count.max(1))
            .map(|id| {
                let config = ShardConfig {
                    id,
                    shard_count,
                    ..template.clone()
                };
                Shard::new(
                    config,
                    seed.wrapping_add(u64::from(id))
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15),
                )
            })
            .collect();
        let n = shards.len();
        Sim {
            start,
            now: start,
            shards,
            sent: VecDeque::new(),
            commands: Vec::new(),
            kept: Vec::new(),
            conns: Vec::new(),
            next_conn: 1,
            inbox: (0..n).map(|_| VecDeque::new()).collect(),
            stalled: vec![false; n],
            mesh_capacity: usize::MAX,
            unreachable: Vec::new(),
        }
    }

    /// A one-address template: Drongo on `addr`, symmetric responses, no Server header, the
    /// RFC 3261 timer values on a 10 ms wheel tick.
    pub fn template(addr: SocketAddr) -> ShardConfig {
        ShardConfig {
            id: 0,
            shard_count: 1,
            local_addrs: vec![addr],
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

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// One shard, to drain its events.
    pub fn shard_mut(&mut self, index: usize) -> &mut Shard {
        &mut self.shards[index]
    }

    /// Which shard SO_REUSEPORT would pick for this 4-tuple.
    pub fn shard_for(&self, from: SocketAddr, to: SocketAddr) -> usize {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in format!("{from}{to}").bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.shards.len() as u64) as usize
    }

    /// A peer at `from` sends `bytes` to Drongo's `to`.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let i = self.shard_for(from, to);
        let now = self.now;
        self.shards[i].handle_datagram(now, to, from, bytes);
        self.drain(i);
    }

    /// A peer at `from` opens a connection to Drongo's `to`: it belongs to the shard the
    /// 4-tuple hash picks, whose number is the id's top 16 bits.
    pub fn connect(&mut self, from: SocketAddr, to: SocketAddr) -> ConnId {
        let shard = self.shard_for(from, to) as u64;
        let conn = ConnId(shard << 48 | self.next_conn);
        self.next_conn += 1;
        self.conns.push((conn, from));
        conn
    }

    /// The shard that owns connection `conn`.
    pub fn conn_shard(conn: ConnId) -> usize {
        (conn.0 >> 48) as usize
    }

    /// The peer at `from` sends one message on connection `conn` to Drongo's `to`.
    pub fn send_stream(&mut self, conn: ConnId, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let i = Self::conn_shard(conn);
        let now = self.now;
        self.shards[i].handle_stream_message(now, conn, to, from, bytes);
        self.drain(i);
    }

    /// Connection `conn` closes: its owner and every shard that asked to keep it hear that
    /// the flow failed, once each.
    pub fn close(&mut self, conn: ConnId) {
        let Some(at) = self.conns.iter().position(|(c, _)| *c == conn) else {
            return;
        };
        let (_, remote) = self.conns.remove(at);
        let mut told: Vec<usize> = vec![Self::conn_shard(conn)];
        told.extend(
            self.kept
                .iter()
                .filter(|(c, _)| *c == conn)
                .map(|(_, s)| *s),
        );
        told.sort_unstable();
        told.dedup();
        told.retain(|&i| i < self.shards.len());
        self.kept.retain(|(c, _)| *c != conn);
        for i in told {
            let now = self.now;
            self.shards[i].handle_transport_error(now, TransportError::FlowFailed { conn, remote });
            self.drain(i);
        }
    }

    /// Connection commands given so far (with the shard that gave each), oldest first,
    /// removed from the record.
    pub fn take_commands(&mut self) -> Vec<(usize, ConnCommand)> {
        std::mem::take(&mut self.commands)
    }

    /// Moves the clock forward, firing every shard timer that falls due on the way, in order.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            let next = self
                .shards
                .iter()
                .filter_map(Shard::poll_timeout)
                .filter(|t| *t <= until)
                .min();
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            for i in 0..self.shards.len() {
                if self.shards[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    let now = self.now;
                    self.shards[i].handle_timeout(now);
                    self.drain(i);
                }
            }
        }
        self.now = until;
    }

    /// Bounds every channel between two shards to `n` waiting messages (unbounded until set).
    pub fn set_mesh_capacity(&mut self, n: usize) {
        self.mesh_capacity = n;
    }

    /// Makes `peer` unreachable (or reachable again): messages to it are lost, and the shard
    /// that sent one is told at once that it was undelivered.
    pub fn set_unreachable(&mut self, peer: SocketAddr, unreachable: bool) {
        self.unreachable.retain(|p| *p != peer);
        if unreachable {
            self.unreachable.push(peer);
        }
    }

    /// Stalls shard `shard` (handoffs for it wait in its channels) or resumes it (it takes
    /// everything waiting at once). A stalled shard still receives datagrams from peers.
    pub fn stall(&mut self, shard: usize, stalled: bool) {
        self.stalled[shard] = stalled;
        if !stalled {
            self.deliver();
        }
    }

    /// Handoffs waiting for shard `shard`.
    pub fn waiting(&self, shard: usize) -> usize {
        self.inbox[shard].len()
    }

    /// Moves shard `i`'s outputs out: transmits to the record, handoffs into their channels,
    /// then lets every running owner take what waits for it.
    fn drain(&mut self, i: usize) {
        self.drain_one(i);
        self.deliver();
    }

    fn drain_one(&mut self, i: usize) {
        let at = self.now - self.start;
        let mut lost = Vec::new();
        loop {
            while let Some(t) = self.shards[i].poll_transmit() {
                if self.unreachable.contains(&t.remote) {
                    if t.token != 0 {
                        lost.push((t.token, t.remote));
                    }
                } else {
                    let d = Datagram {
                        at,
                        from: t.local,
                        to: t.remote,
                        bytes: t.payload.clone(),
                    };
                    self.sent.push_back((t.flow, d));
                }
                self.shards[i].recycle(t.payload);
            }
            if lost.is_empty() {
                break;
            }
            // Reported after the input, as the shell reports a failed connection.
            let now = self.now;
            for (token, remote) in lost.drain(..) {
                self.shards[i]
                    .handle_transport_error(now, TransportError::Undelivered { token, remote });
            }
        }
        while let Some(command) = self.shards[i].poll_conn_command() {
            if let ConnCommand::KeepAlive(conn) = command {
                if self.conns.iter().any(|(c, _)| *c == conn) {
                    self.kept.push((conn, i));
                }
            }
            self.commands.push((i, command));
        }
        while let Some(h) = self.shards[i].poll_handoff() {
            let to = usize::from(h.to);
            let Some(inbox) = self.inbox.get_mut(to) else {
                self.shards[i].handoff_undelivered(h, DropReason::HandoffClosed);
                continue;
            };
            let queued = inbox.iter().filter(|w| w.from == h.from).count();
            if queued >= self.mesh_capacity {
                self.shards[i].handoff_undelivered(h, DropReason::HandoffFull);
            } else {
                inbox.push_back(h);
            }
        }
    }

    /// Every running shard handles the handoffs waiting for it, in order, until none is left
    /// (an owner's outputs may hand off further).
    fn deliver(&mut self) {
        loop {
            let ready =
                (0..self.shards.len()).find(|&s| !self.stalled[s] && !self.inbox[s].is_empty());
            let Some(s) = ready else { return };
            while let Some(h) = self.inbox[s].pop_front() {
                let now = self.now;
                self.shards[s].handle_handoff(now, h);
                self.drain_one(s);
            }
        }
    }

    /// Everything sent to `peer` so far, oldest first, removed from the record.
    pub fn take(&mut self, peer: SocketAddr) -> Vec<Datagram> {
        self.take_with_flow(peer)
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    /// As [`Sim::take`], with the flow each message was sent on: a datagram, a connection
    /// (`to` is then where the shell would open a new one if it has closed), or TCP.
    pub fn take_with_flow(&mut self, peer: SocketAddr) -> Vec<(Flow, Datagram)> {
        let (mine, rest): (Vec<_>, Vec<_>) = self.sent.drain(..).partition(|(_, d)| d.to == peer);
        self.sent = rest.into();
        mine
    }

    /// Everything sent to anyone so far, removed from the record.
    pub fn take_all(&mut self) -> Vec<Datagram> {
        self.sent.drain(..).map(|(_, d)| d).collect()
    }
}
