//! The channel mesh between shards (DESIGN §3): how a message another shard owns gets there.
//!
//! Every ordered pair of shards has one bounded single-producer, single-consumer glommio shared
//! channel, built on the controlling thread ([`plans`]) and connected by both shards before
//! they report ready ([`Mesh::connect`]). Four kinds of owned message travel on it:
//!
//! - [`Envelope::Handoff`]: a message the core handed off because the ids Drongo minted in it
//!   name another shard (`core::handoff`); the owner feeds it to
//!   [`Shard::handle_handoff`](crate::core::shard::Shard::handle_handoff);
//! - [`Envelope::Write`]: bytes for a connection another shard owns, which a transmit on
//!   `Flow::Stream(conn)` names in the connection id's top 16 bits (`tcp/`); the owner writes
//!   them as its own, or sends them to the transmit's address if that connection has closed;
//! - [`Envelope::Keep`]: a shard's core asked to keep another shard's connection open
//!   (`ConnCommand::KeepAlive`: its registrar holds a binding over it); the owner keeps it
//!   and remembers who asked;
//! - [`Envelope::FlowFailed`]: a kept connection ended (or was gone when the keep arrived);
//!   the owner tells every shard that asked to keep it, whose core hears
//!   `TransportError::FlowFailed` as if the connection were its own.
//!
//! Sending never waits. A full channel (the owner is that far behind) drops the message and
//! counts it: a UDP sender retransmits (RFC 3261 §17), and a receive loop that waited on
//! another shard would stall everything its own shard serves. A channel whose owner has
//! stopped drops and counts the same way. A handoff that is dropped goes back to the core,
//! which counts it as dropped by reason instead of handed off.
//!
//! Receiving: one task per peer waits on that peer's channel, takes what is there (up to
//! [`INBOUND_BATCH`] at once), handles it, then sends the outputs like any other input.
//!
//! Must not: await on a full channel, hold the shard's `RefCell` across an `.await`, or
//! send a message to its own shard.
//!
//! Public so that benchmarks (`bench/handoff.rs`) measure this very code.

use super::shard_driver::{Driver, Outbox, SansIo};
use super::stats::{LogThrottle, ShardCounters};
use crate::core::flow::TransportError;
use crate::core::handoff::Handoff;
use crate::core::shard::{ConnId, Flow, Transmit};
use crate::core::sip::DropReason;
use futures_lite::future;
use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};
use glommio::{GlommioError, ResourceType};
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tracing::warn;

/// Messages one shard may have waiting for it, over all its inbound channels. The owner
/// empties its channels each time it runs, and a message costs it a few microseconds, so this
/// is a few milliseconds of work: a backlog that deep means the owner is overloaded, and
/// shedding UDP (which retransmits) is better than queueing more. Each waiting message is
/// about 140 bytes of channel slot, so a shard's inbound channels take about 280 KiB.
const INBOUND_PER_SHARD: usize = 2048;

/// The smallest channel, however many shards share [`INBOUND_PER_SHARD`]: a receive batch of
/// one socket (`udp.batch`, 32 by default) must fit with room to spare.
const MIN_CHANNEL: usize = 64;

/// Envelopes the inbound task takes from one channel before it sends the outputs and lets
/// the shard's other tasks run.
pub(super) const INBOUND_BATCH: usize = 32;

/// How long a shard waits for its peers to connect their ends at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// At most one log line per kind per this interval for dropped messages.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Bits of a [`ConnId`] below the shard that owns the connection (`tcp/` mints them so).
const CONN_SEQUENCE_BITS: u32 = 48;

/// The shard that owns connection `conn`.
pub fn conn_shard(conn: ConnId) -> u16 {
    (conn.0 >> CONN_SEQUENCE_BITS) as u16
}

/// An owned message from one shard to another.
#[derive(Debug)]
pub enum Envelope {
    /// A message the receiving shard owns, to handle as if it had arrived there.
    Handoff(Handoff),
    /// Bytes to write on a connection the receiving shard owns; if it has closed, the owner
    /// sends them to `remote` from `local` as for `Flow::Tcp` (RFC 3261 §18.2.2, `tcp/`), and
    /// `token` names them if they cannot be delivered.
    Write {
        conn: ConnId,
        payload: Vec<u8>,
        local: SocketAddr,
        remote: SocketAddr,
        token: u64,
    },
    /// Keep connection `conn`, which the receiving shard owns, open with keep-alives for
    /// shard `watcher`, and tell it when the connection ends.
    Keep { conn: ConnId, watcher: u16 },
    /// Connection `conn` (to `remote`), which the receiving shard asked to keep, has ended.
    FlowFailed { conn: ConnId, remote: SocketAddr },
}

/// One shard's ends of the mesh before they are connected: built on the controlling thread,
/// moved to the shard's.
#[derive(Debug, Default)]
pub struct MeshPlan {
    /// (peer, channel to it).
    senders: Vec<(u16, SharedSender<Envelope>)>,
    /// (peer, channel from it).
    receivers: Vec<(u16, SharedReceiver<Envelope>)>,
}

/// The capacity of each channel when `shards` shards share [`INBOUND_PER_SHARD`]: a power of
/// two (glommio rounds a channel up to one), so the shares never add up to more.
pub fn channel_capacity(shards: usize) -> usize {
    let share = INBOUND_PER_SHARD / shards.saturating_sub(1).max(1);
    let power = if share.is_power_of_two() {
        share
    } else {
        share.next_power_of_two() / 2
    };
    power.max(MIN_CHANNEL)
}

/// One channel for every ordered pair of `shards` shards; `plans[s]` holds shard `s`'s ends.
pub fn plans(shards: usize, capacity: usize) -> Vec<MeshPlan> {
    let mut plans: Vec<MeshPlan> = (0..shards).map(|_| MeshPlan::default()).collect();
    for from in 0..shards {
        for to in (0..shards).filter(|&to| to != from) {
            let (tx, rx) = shared_channel::new_bounded(capacity);
            // NOTE: both indices are below `shards`, which the caller fits in u16.
            plans[from].senders.push((to as u16, tx));
            plans[to].receivers.push((from as u16, rx));
        }
    }
    plans
}

/// What became of a message put on its channel.
#[derive(Debug)]
#[must_use]
pub enum Delivery {
    /// On the channel; the owner takes it when it next runs.
    Sent,
    /// Refused; the envelope comes back when the channel gives it back (it always does for
    /// these two refusals).
    Refused(Refused, Option<Envelope>),
}

/// Why a message could not be put on its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The channel holds as many messages as it can.
    Full,
    /// The owner has stopped (or is no shard of this process).
    Closed,
}

impl Refused {
    fn reason(self) -> DropReason {
        match self {
            Refused::Full => DropReason::HandoffFull,
            Refused::Closed => DropReason::HandoffClosed,
        }
    }
}

/// One shard's sending ends, by peer shard.
pub struct Mesh {
    /// Indexed by shard; `None` for this shard itself.
    senders: Vec<Option<ConnectedSender<Envelope>>>,
    log: LogThrottle,
}

impl Default for Mesh {
    /// No peers: every send is refused as closed.
    fn default() -> Self {
        Mesh {
            senders: Vec::new(),
            log: LogThrottle::new(LOG_INTERVAL),
        }
    }
}

/// The receiving ends of a shard, with the peer each comes from.
pub type Inbound = Vec<(u16, ConnectedReceiver<Envelope>)>;

impl Mesh {
    /// Connects this shard's ends; returns once every peer has connected the other end of each
    /// (or has gone, in which case sends to it are refused as closed). Must run on the
    /// shard's executor.
    pub async fn connect(plan: MeshPlan) -> io::Result<(Mesh, Inbound)> {
        // All at once: each connect waits for the peer's, and the peers connect theirs in
        // their own order.
        let senders: Vec<_> = plan
            .senders
            .into_iter()
            .map(|(to, s)| (to, glommio::spawn_local(s.connect())))
            .collect();
        let receivers: Vec<_> = plan
            .receivers
            .into_iter()
            .map(|(from, r)| (from, glommio::spawn_local(r.connect())))
            .collect();
        let connected = glommio::timer::timeout(CONNECT_TIMEOUT, async move {
            let mut mesh = Mesh::default();
            for (to, task) in senders {
                let to = usize::from(to);
                if mesh.senders.len() <= to {
                    mesh.senders.resize_with(to + 1, || None);
                }
                mesh.senders[to] = Some(task.await);
            }
            let mut inbound = Vec::with_capacity(receivers.len());
            for (from, task) in receivers {
                inbound.push((from, task.await));
            }
            Ok((mesh, inbound))
        })
        .await;
        connected.map_err(|e| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connecting the channels to the other shards: {e}"),
            )
        })
    }

    /// Puts `envelope` on the channel to shard `to` without waiting.
    pub fn send(&self, to: u16, envelope: Envelope) -> Delivery {
        let Some(Some(sender)) = self.senders.get(usize::from(to)) else {
            return Delivery::Refused(Refused::Closed, Some(envelope));
        };
        match sender.try_send(envelope) {
            Ok(()) => Delivery::Sent,
            Err(GlommioError::WouldBlock(ResourceType::Channel(e))) => {
                Delivery::Refused(Refused::Full, Some(e))
            }
            Err(GlommioError::Closed(ResourceType::Channel(e))) => {
                Delivery::Refused(Refused::Closed, Some(e))
            }
            // NOTE: `try_send` fails only with the two above; anything else lost the envelope.
            Err(_) => Delivery::Refused(Refused::Closed, None),
        }
    }
}

impl<S: SansIo> Driver<S> {
    /// Sends every message the shard handed off to its owner; one that cannot be sent goes
    /// back to the shard to be counted as dropped. Also copies the core's counters the shell
    /// reports. Runs after every input, with the shard borrowed.
    pub(super) fn send_handoffs(&self, shard: &mut S) {
        loop {
            let handoff = match catch_unwind(AssertUnwindSafe(|| shard.poll_handoff())) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(payload) => {
                    self.panicked("poll_handoff", None, &*payload);
                    break;
                }
            };
            let to = handoff.to;
            let Delivery::Refused(refused, envelope) =
                self.mesh.send(to, Envelope::Handoff(handoff))
            else {
                ShardCounters::add(&self.counters.handoff_out, 1);
                continue;
            };
            self.refused(to, refused);
            if let Some(Envelope::Handoff(h)) = envelope {
                let reason = refused.reason();
                if let Err(payload) =
                    catch_unwind(AssertUnwindSafe(|| shard.handoff_undelivered(h, reason)))
                {
                    self.panicked("handoff_undelivered", None, &*payload);
                }
            }
        }
        if let Ok(Some(absorbed)) = catch_unwind(AssertUnwindSafe(|| shard.absorbed())) {
            self.counters.absorbed.store(absorbed, Relaxed);
        }
    }

    /// Hands transmit `t`, on a connection of shard `owner`, to that shard to write.
    pub(super) fn forward_write(&self, owner: u16, conn: ConnId, t: &mut Transmit) {
        let envelope = Envelope::Write {
            conn,
            payload: std::mem::take(&mut t.payload),
            local: t.local,
            remote: t.remote,
            token: t.token,
        };
        match self.mesh.send(owner, envelope) {
            Delivery::Sent => ShardCounters::add(&self.counters.handoff_out, 1),
            Delivery::Refused(refused, envelope) => {
                self.refused(owner, refused);
                if let Some(Envelope::Write { payload, .. }) = envelope {
                    self.recycle(payload);
                }
            }
        }
    }

    /// Counts (and now and then logs) a message dropped on its way to shard `to`.
    fn refused(&self, to: u16, refused: Refused) {
        let counter = match refused {
            Refused::Full => &self.counters.handoff_full,
            Refused::Closed => &self.counters.handoff_closed,
        };
        ShardCounters::add(counter, 1);
        if let Some(held_back) = self.mesh.log.allow(Instant::now()) {
            warn!(
                shard = self.id,
                to,
                ?refused,
                held_back,
                "message for another shard dropped"
            );
        }
    }

    /// One envelope from another shard through this one, outputs drained into `out`.
    fn take_envelope(&self, envelope: Envelope, out: &mut Outbox) {
        ShardCounters::add(&self.counters.handoff_in, 1);
        match envelope {
            Envelope::Handoff(handoff) => {
                let now = Instant::now();
                let remote = handoff.remote;
                let mut shard = self.shard.borrow_mut();
                if let Err(payload) =
                    catch_unwind(AssertUnwindSafe(|| shard.handle_handoff(now, handoff)))
                {
                    self.panicked("handle_handoff", Some(remote), &*payload);
                }
                self.drain(&mut shard, out);
                self.note_deadline(&shard);
            }
            Envelope::Write {
                conn,
                payload,
                local,
                remote,
                token,
            } => self.route_tcp(&mut Transmit {
                flow: Flow::Stream(conn),
                local,
                remote,
                payload,
                token,
            }),
            Envelope::Keep { conn, watcher } => self.keep_connection(conn, watcher),
            Envelope::FlowFailed { conn, remote } => {
                let now = Instant::now();
                let mut shard = self.shard.borrow_mut();
                let error = TransportError::FlowFailed { conn, remote };
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
                    shard.handle_transport_error(now, error)
                })) {
                    self.panicked("handle_transport_error", Some(remote), &*payload);
                }
                self.drain(&mut shard, out);
                self.note_deadline(&shard);
            }
        }
    }

    /// Sends an envelope about a connection to shard `to`; one the channel refuses is counted
    /// and dropped (a lost keep leaves the connection to its idle timeout; a lost failure
    /// leaves the watcher to find out when it next sends on the connection).
    pub(super) fn notify_shard(&self, to: u16, envelope: Envelope) {
        match self.mesh.send(to, envelope) {
            Delivery::Sent => ShardCounters::add(&self.counters.handoff_out, 1),
            Delivery::Refused(refused, _) => self.refused(to, refused),
        }
    }
}

/// Inbound task for the channel from shard `from`: waits for envelopes, handles up to
/// [`INBOUND_BATCH`] of those waiting, sends the outputs, yields. Ends when the peer's end is
/// gone (it stopped).
pub(super) async fn inbound_loop<S: SansIo>(
    d: Rc<Driver<S>>,
    from: u16,
    rx: ConnectedReceiver<Envelope>,
) {
    let mut out = Outbox::new(INBOUND_BATCH);
    while let Some(first) = rx.recv().await {
        d.take_envelope(first, &mut out);
        for _ in 1..INBOUND_BATCH {
            // Takes what is already there; an empty channel is not waited on here.
            match future::poll_once(rx.recv()).await {
                Some(Some(envelope)) => d.take_envelope(envelope, &mut out),
                Some(None) | None => break,
            }
        }
        d.flush(&mut out).await;
        future::yield_now().await;
    }
    tracing::debug!(shard = d.id, from, "channel from a stopped shard closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use glommio::{LocalExecutorBuilder, Placement};
    use std::sync::mpsc;

    fn write(n: u8) -> Envelope {
        Envelope::Write {
            conn: ConnId(u64::from(n)),
            payload: vec![n],
            local: "127.0.0.1:5060".parse().unwrap(),
            remote: "127.0.0.1:5070".parse().unwrap(),
            token: 0,
        }
    }

    #[test]
    fn channel_capacity_shares_the_inbound_budget() {
        assert_eq!(channel_capacity(1), INBOUND_PER_SHARD);
        assert_eq!(channel_capacity(2), INBOUND_PER_SHARD);
        assert_eq!(channel_capacity(5), INBOUND_PER_SHARD / 4);
        assert_eq!(
            channel_capacity(4),
            INBOUND_PER_SHARD / 4,
            "682 rounds down"
        );
        assert_eq!(channel_capacity(1000), MIN_CHANNEL);
        for shards in 2..100 {
            let c = channel_capacity(shards);
            assert!(c.is_power_of_two());
            assert!(c * (shards - 1) <= INBOUND_PER_SHARD || c == MIN_CHANNEL);
        }
        // What the budget above assumes a waiting message takes.
        assert!(std::mem::size_of::<Envelope>() <= 144);
    }

    #[test]
    fn connection_ids_name_their_shard() {
        assert_eq!(conn_shard(ConnId(3 << CONN_SEQUENCE_BITS | 12345)), 3);
        assert_eq!(conn_shard(ConnId(u64::MAX)), u16::MAX);
        assert_eq!(conn_shard(ConnId(7)), 0);
    }

    #[test]
    fn every_pair_of_shards_has_one_channel_each_way() {
        let plans = plans(3, 4);
        for (s, plan) in plans.iter().enumerate() {
            let to: Vec<u16> = plan.senders.iter().map(|(p, _)| *p).collect();
            let from: Vec<u16> = plan.receivers.iter().map(|(p, _)| *p).collect();
            let others: Vec<u16> = (0..3u16).filter(|&p| usize::from(p) != s).collect();
            assert_eq!((to, from), (others.clone(), others));
        }
    }

    /// Two shards on two executors: a full channel refuses at once and gives the message back;
    /// the receiver gets what fitted, in order; once it is gone the channel refuses as closed.
    #[test]
    fn a_full_channel_refuses_without_waiting_and_a_closed_one_says_so() {
        let mut plans = plans(2, 2).into_iter();
        let (plan0, plan1) = (plans.next().unwrap(), plans.next().unwrap());
        let (filled_tx, filled_rx) = mpsc::channel::<()>();
        let (taken_tx, taken_rx) = mpsc::channel::<Vec<u8>>();
        let receiver = LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(crate::shell::affinity::IO_MEMORY)
            .spawn(move || async move {
                let (_mesh, mut inbound) = Mesh::connect(plan1).await.expect("connects");
                let (from, rx) = inbound.pop().expect("one channel in");
                assert_eq!(from, 0);
                // NOTE: blocks this executor on purpose, so nothing is taken until told.
                filled_rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("sender done");
                let mut taken = Vec::new();
                for _ in 0..2 {
                    match rx.recv().await {
                        Some(Envelope::Write { payload, .. }) => taken.extend(payload),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                let _ = taken_tx.send(taken);
            })
            .expect("executor");
        let sender = LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(crate::shell::affinity::IO_MEMORY)
            .spawn(move || async move {
                let (mesh, inbound) = Mesh::connect(plan0).await.expect("connects");
                assert_eq!(inbound.len(), 1);
                assert!(matches!(mesh.send(1, write(1)), Delivery::Sent));
                assert!(matches!(mesh.send(1, write(2)), Delivery::Sent));
                let t0 = Instant::now();
                match mesh.send(1, write(3)) {
                    Delivery::Refused(Refused::Full, Some(Envelope::Write { payload, .. })) => {
                        assert_eq!(payload, [3], "the message comes back")
                    }
                    other => panic!("expected a full channel, got {other:?}"),
                }
                assert!(t0.elapsed() < Duration::from_secs(1), "refused at once");
                assert!(matches!(
                    mesh.send(0, write(4)),
                    Delivery::Refused(Refused::Closed, _)
                ));
                let _ = filled_tx.send(());
                let taken = taken_rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("taken");
                assert_eq!(taken, [1, 2]);
                // The receiving shard has ended: its end is gone.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    match mesh.send(1, write(5)) {
                        Delivery::Refused(Refused::Closed, _) => break,
                        _ if Instant::now() > deadline => panic!("channel never closed"),
                        _ => glommio::timer::sleep(Duration::from_millis(5)).await,
                    }
                }
            })
            .expect("executor");
        receiver.join().expect("receiver");
        sender.join().expect("sender");
    }
}
