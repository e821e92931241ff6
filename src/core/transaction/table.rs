//! The shard's server transactions (RFC 3261 §17.2): the table that matches requests to them
//! (§17.2.3), owns each one's machine, timers and last response, and executes the machines'
//! [`Output`]s against the shard's [`TimerWheel`].
//!
//! Owns: creating a server transaction when the TU answers a new request, absorbing
//! retransmissions (the kept response is sent again), ACKs for non-2xx finals, Timers G, H, I,
//! J, K and L, and freeing a transaction the moment its machine terminates. Must not: decide
//! what to answer (the TU does) or touch a socket (sends are handed back as [`Event::Send`]).
//!
//! Memory: a live transaction holds its slot (machine, timer ids, key, route) and the bytes of
//! its last response; nothing else is allocated per transaction.

use hashbrown::HashMap;
use std::time::Instant;

use super::{
    Armed, Output, Reliability, ServerInput, ServerInvite, ServerKey, ServerNonInvite, TimerConfig,
    TimerKind, TuEvent,
};
use crate::core::timer::{TimerId, TimerWheel};

/// Index of a live server transaction in its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerTxId(u32);

/// A server transaction's machine.
#[derive(Debug, Clone)]
enum Machine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

impl Machine {
    fn handle(&mut self, config: &TimerConfig, input: ServerInput, out: &mut Vec<Output>) {
        match self {
            Machine::Invite(m) => m.handle(config, input, out),
            Machine::NonInvite(m) => m.handle(config, input, out),
        }
    }
}

struct Entry<R> {
    key: ServerKey,
    machine: Machine,
    armed: Armed<TimerId>,
    /// The last response sent, for retransmissions.
    response: Vec<u8>,
    /// Where responses go (the shell's flow and addresses).
    route: R,
}

/// What the table asks of the shard after an input.
#[derive(Debug)]
pub enum Event<'a, R> {
    /// Send these bytes along this route.
    Send { route: &'a R, bytes: &'a [u8] },
    /// Tell the TU (an ACK arrived, a timeout, a transport error).
    Tu(ServerTxId, TuEvent),
}

/// Live server transactions by state, for the counters the shard exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerCounts {
    pub invite: usize,
    pub non_invite: usize,
}

/// The table. `R` is the route a response takes (kept per transaction).
pub struct ServerTable<R> {
    config: TimerConfig,
    map: HashMap<ServerKey, u32>,
    slots: Vec<Option<Entry<R>>>,
    free: Vec<u32>,
    scratch: Vec<Output>,
    created: u64,
}

/// What a timer in the shard's wheel names: a server transaction slot and the timer kind.
pub type ServerTimer = (ServerTxId, TimerKind);

impl<R> ServerTable<R> {
    pub fn new(config: TimerConfig) -> Self {
        ServerTable {
            config,
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            scratch: Vec::with_capacity(8),
            created: 0,
        }
    }

    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Transactions created since start.
    pub fn created(&self) -> u64 {
        self.created
    }

    pub fn counts(&self) -> ServerCounts {
        let mut c = ServerCounts::default();
        for e in self.slots.iter().flatten() {
            match e.machine {
                Machine::Invite(_) => c.invite += 1,
                Machine::NonInvite(_) => c.non_invite += 1,
            }
        }
        c
    }

    /// The transaction a request (or an ACK, or a CANCEL's target) belongs to.
    pub fn find(&self, key: &ServerKey) -> Option<ServerTxId> {
        self.map.get(key).map(|i| ServerTxId(*i))
    }

    /// Whether the transaction is an INVITE one that has not sent a final response yet (a
    /// CANCEL for it gets 487 on the INVITE, §9.2).
    pub fn is_proceeding_invite(&self, id: ServerTxId) -> bool {
        matches!(
            self.entry(id).map(|e| &e.machine),
            Some(Machine::Invite(m)) if matches!(m.state(), super::ServerInviteState::Proceeding { .. })
        )
    }

    fn entry(&self, id: ServerTxId) -> Option<&Entry<R>> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Creates the transaction for a new request the TU is about to answer.
    pub fn create(
        &mut self,
        key: ServerKey,
        invite: bool,
        reliability: Reliability,
        route: R,
    ) -> ServerTxId {
        let machine = if invite {
            Machine::Invite(ServerInvite::new(reliability))
        } else {
            Machine::NonInvite(ServerNonInvite::new(reliability))
        };
        let entry = Entry {
            key: key.clone(),
            machine,
            armed: Armed::new(),
            response: Vec::new(),
            route,
        };
        let index = match self.free.pop() {
            Some(i) => {
                // NOTE: free indices point at empty slots of `slots`.
                self.slots[i as usize] = Some(entry);
                i
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, index);
        self.created += 1;
        ServerTxId(index)
    }

    /// The TU answers: `status` with `bytes` (kept for retransmissions when the machine sends
    /// it). Returns false when the transaction refused the response (e.g. a second final).
    pub fn respond(
        &mut self,
        id: ServerTxId,
        status: u16,
        bytes: &[u8],
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) -> bool {
        let Some(entry) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            return false;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        entry
            .machine
            .handle(&self.config, ServerInput::TuResponse(status), &mut out);
        let accepted = out.iter().any(|o| matches!(o, Output::SendResponse));
        if accepted {
            entry.response.clear();
            entry.response.extend_from_slice(bytes);
        }
        self.execute(id, &out, now, wheel, sink);
        self.scratch = out;
        accepted
    }

    /// A retransmitted request or an ACK matched `id`.
    pub fn request(
        &mut self,
        id: ServerTxId,
        ack: bool,
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) {
        let input = if ack {
            ServerInput::Ack
        } else {
            ServerInput::Request
        };
        self.input(id, input, now, wheel, sink);
    }

    /// A timer popped from the wheel.
    pub fn timer(
        &mut self,
        timer: TimerId,
        (id, kind): ServerTimer,
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) {
        let Some(entry) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            return;
        };
        if !entry.armed.fired(kind, timer) {
            return; // stale: the transaction re-armed or ended since
        }
        self.input(id, ServerInput::Timer(kind), now, wheel, sink);
    }

    /// A send for `id` failed.
    pub fn transport_error(
        &mut self,
        id: ServerTxId,
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) {
        self.input(id, ServerInput::TransportError, now, wheel, sink);
    }

    fn input(
        &mut self,
        id: ServerTxId,
        input: ServerInput,
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) {
        let Some(entry) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        entry.machine.handle(&self.config, input, &mut out);
        self.execute(id, &out, now, wheel, sink);
        self.scratch = out;
    }

    fn execute(
        &mut self,
        id: ServerTxId,
        outputs: &[Output],
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) {
        for output in outputs {
            let Some(entry) = self.slots.get_mut(id.0 as usize).and_then(Option::as_mut) else {
                return;
            };
            match *output {
                Output::SendResponse | Output::ResendResponse => {
                    sink(Event::Send {
                        route: &entry.route,
                        bytes: &entry.response,
                    });
                }
                Output::Arm(kind, after) => {
                    let timer = wheel.arm(now + after, (id, kind));
                    if let Some(old) = entry.armed.arm(kind, timer) {
                        wheel.cancel(old);
                    }
                }
                Output::Cancel(kind) => {
                    if let Some(old) = entry.armed.take(kind) {
                        wheel.cancel(old);
                    }
                }
                Output::Tu(event) => sink(Event::Tu(id, event)),
                Output::Terminated => self.remove(id, wheel),
                // Client-side outputs never come from a server machine.
                Output::SendRequest | Output::SendAck => {}
            }
        }
    }

    fn remove(&mut self, id: ServerTxId, wheel: &mut TimerWheel<ServerTimer>) {
        let Some(entry) = self.slots.get_mut(id.0 as usize).and_then(Option::take) else {
            return;
        };
        let mut armed = entry.armed;
        for kind in TimerKind::ALL {
            if let Some(t) = armed.take(kind) {
                wheel.cancel(t);
            }
        }
        self.map.remove(&entry.key);
        self.free.push(id.0);
    }
}
