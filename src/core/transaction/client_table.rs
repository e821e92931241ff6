//! The shard's client transactions (RFC 3261 §17.1): the table that matches responses to them
//! (§17.1.3), owns each one's machine, timers, request bytes and ACK, and executes the
//! machines' [`Output`]s against the shard's [`TimerWheel`].
//!
//! Owns: sending a request and its retransmissions (Timers A and E over UDP), the ACK for a
//! non-2xx final to an INVITE (built once from the request and the first final, resent for
//! every retransmitted final, §17.1.1.3), Timers B, C, D, F, K and M, holding a CANCEL until
//! the INVITE has a provisional (§9.1), and freeing a transaction the moment its machine
//! terminates. Must not: decide where a request goes or what a response means (the TU does),
//! or touch a socket (sends are handed back as [`ClientEvent`]s).
//!
//! Memory: a live transaction holds its slot (machine, timer ids, key, route) and its request
//! bytes, with the ACK appended once built; slots and matching are [`crate::core::slots`].

use std::time::Instant;

use super::{
    build_ack_for_non2xx, build_cancel, Armed, ClientInput, ClientInvite, ClientInviteState,
    ClientKey, ClientNonInvite, ClientNonInviteState, Output, Reliability, TimerConfig, TimerKind,
    TuEvent,
};
use crate::core::sip::message::{Framing, Message};
use crate::core::slots::{Keyed, Slots};
use crate::core::timer::{TimerId, TimerWheel};

/// Index of a live client transaction in its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientTxId(u32);

/// What a timer in the shard's wheel names: a client transaction slot and the timer kind.
pub type ClientTimer = (ClientTxId, TimerKind);

/// What the table asks of the shard after an input.
#[derive(Debug)]
pub enum ClientEvent<'a, R> {
    /// Send these bytes along this route: the request, a retransmission of it, or the ACK
    /// of a non-2xx final.
    Send {
        id: ClientTxId,
        route: &'a R,
        bytes: &'a [u8],
        /// Names this transaction in a delivery failure ([`ClientTable::from_token`]);
        /// never 0.
        token: u64,
    },
    /// The INVITE may be cancelled now (§9.1): send this CANCEL, in a client transaction of
    /// its own, along the same route.
    SendCancel {
        id: ClientTxId,
        route: &'a R,
        bytes: &'a [u8],
    },
    /// Tell the TU (a response, a timeout, a transport error, Timer C), with the
    /// transaction's route: the transaction may end with this event.
    Tu(ClientTxId, &'a R, TuEvent),
}

#[derive(Debug, Clone)]
enum Machine {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

impl Machine {
    fn handle(&mut self, config: &TimerConfig, input: ClientInput, out: &mut Vec<Output>) {
        match self {
            Machine::Invite(m) => m.handle(config, input, out),
            Machine::NonInvite(m) => m.handle(config, input, out),
        }
    }

    /// Index of the machine's state in [`ClientCounts::by_state`]; `None` once terminated.
    fn state_index(&self) -> Option<usize> {
        use ClientInviteState as I;
        use ClientNonInviteState as N;
        match self {
            Machine::Invite(m) => match m.state() {
                I::Calling { .. } => Some(0),
                I::Proceeding { .. } => Some(1),
                I::Completed => Some(2),
                I::Accepted => Some(3),
                I::Terminated => None,
            },
            Machine::NonInvite(m) => match m.state() {
                N::Trying { .. } => Some(4),
                N::Proceeding => Some(5),
                N::Completed => Some(6),
                N::Terminated => None,
            },
        }
    }

    fn can_cancel(&self) -> bool {
        matches!(self, Machine::Invite(m) if m.can_cancel())
    }

    fn awaits_provisional(&self) -> bool {
        matches!(self, Machine::Invite(m) if matches!(m.state(), ClientInviteState::Calling { .. }))
    }
}

/// Whether the TU asked to cancel an INVITE that had no provisional yet (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    No,
    /// Send the CANCEL when a provisional arrives.
    Wanted,
    Sent,
}

pub(super) struct Entry<R> {
    key: ClientKey,
    machine: Machine,
    armed: Armed<TimerId>,
    /// The request, then the ACK of a non-2xx final once built.
    bytes: Vec<u8>,
    request_len: usize,
    cancel: Cancel,
    route: R,
}

impl<R> Keyed for Entry<R> {
    type Key = ClientKey;
    fn key(&self) -> &ClientKey {
        &self.key
    }
}

impl<R> Entry<R> {
    fn request(&self) -> &[u8] {
        self.bytes.get(..self.request_len).unwrap_or_default()
    }

    fn ack(&self) -> &[u8] {
        self.bytes.get(self.request_len..).unwrap_or_default()
    }
}

/// Live client transactions by state, kept as the machines move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounts {
    /// INVITE: Calling, Proceeding, Completed, Accepted; then non-INVITE: Trying,
    /// Proceeding, Completed.
    pub by_state: [usize; 7],
}

impl ClientCounts {
    /// The state names, in the order of `by_state`.
    pub const STATES: [&'static str; 7] = [
        "invite.calling",
        "invite.proceeding",
        "invite.completed",
        "invite.accepted",
        "non_invite.trying",
        "non_invite.proceeding",
        "non_invite.completed",
    ];

    /// `(name, count)` for every state.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        Self::STATES
            .iter()
            .copied()
            .zip(self.by_state.iter().copied())
    }
}

/// What a client transaction starts with.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// The request as it goes on the wire; its top Via carries the branch of `key`.
    pub request: &'a [u8],
    pub invite: bool,
    pub reliability: Reliability,
    /// Run Timer C (a proxy's INVITE branch, §16.6 step 11).
    pub timer_c: bool,
}

/// The table. `R` is the route the request takes (kept per transaction).
pub struct ClientTable<R> {
    config: TimerConfig,
    slots: Slots<Entry<R>>,
    scratch: Vec<Output>,
    cancel_buf: Vec<u8>,
    counts: ClientCounts,
}

impl<R> ClientTable<R> {
    pub fn new(config: TimerConfig) -> Self {
        ClientTable {
            config,
            slots: Slots::new(),
            scratch: Vec::with_capacity(8),
            cancel_buf: Vec::new(),
            counts: ClientCounts::default(),
        }
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// Live transactions by state.
    pub fn counts(&self) -> ClientCounts {
        self.counts
    }

    /// The token a transaction's messages carry: its slot and the slot's generation, so a
    /// failure reported after the transaction ended finds nothing.
    pub fn token(&self, id: ClientTxId) -> u64 {
        let generation = self.slots.generation(id.0).unwrap_or(0);
        (u64::from(generation) << 32 | u64::from(id.0)) + 1
    }

    /// The live transaction a token names.
    pub fn from_token(&self, token: u64) -> Option<ClientTxId> {
        let t = token.checked_sub(1)?;
        let (index, generation) = (t as u32, (t >> 32) as u32);
        (self.slots.generation(index) == Some(generation) && self.slots.get(index).is_some())
            .then_some(ClientTxId(index))
    }

    /// The route a transaction was started with.
    pub fn route(&self, id: ClientTxId) -> Option<&R> {
        self.slots.get(id.0).map(|e| &e.route)
    }

    /// The transaction a response belongs to (§17.1.3: its top Via branch and CSeq method).
    pub fn find(&self, key: &ClientKey) -> Option<ClientTxId> {
        self.slots.find(key).map(ClientTxId)
    }

    /// Starts a client transaction: sends the request and arms its timers.
    pub fn start(
        &mut self,
        key: ClientKey,
        start: Start<'_>,
        route: R,
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) -> ClientTxId {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let machine = if start.invite {
            Machine::Invite(ClientInvite::start(
                &self.config,
                start.reliability,
                start.timer_c,
                &mut out,
            ))
        } else {
            Machine::NonInvite(ClientNonInvite::start(
                &self.config,
                start.reliability,
                &mut out,
            ))
        };
        move_count(&mut self.counts.by_state, None, machine.state_index());
        let index = self.slots.insert(|mut bytes| {
            bytes.extend_from_slice(start.request);
            Entry {
                key,
                machine,
                armed: Armed::new(),
                request_len: bytes.len(),
                bytes,
                cancel: Cancel::No,
                route,
            }
        });
        let id = ClientTxId(index);
        self.execute(id, &out, now, wheel, sink);
        self.scratch = out;
        id
    }

    /// A response matched `id`. Its final to an INVITE that is not a 2xx is ACKed here.
    pub fn response(
        &mut self,
        id: ClientTxId,
        response: &Message<'_>,
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) {
        let Some(status) = response.status().map(|s| s.code) else {
            return;
        };
        let Some(entry) = self.slots.get_mut(id.0) else {
            return;
        };
        // §17.1.1.3: the ACK is built from the first non-2xx final and sent for it and for
        // every retransmission of it.
        if status >= 300 && entry.ack().is_empty() && matches!(entry.machine, Machine::Invite(_)) {
            let mut ack = Vec::new();
            let built = Message::parse(entry.request(), Framing::Stream)
                .ok()
                .is_some_and(|req| build_ack_for_non2xx(&req, response, &mut ack).is_ok());
            if built {
                entry.bytes.extend_from_slice(&ack);
            }
        }
        let provisional = status < 200;
        self.input(id, ClientInput::Response(status), now, wheel, sink);
        if provisional {
            let wanted = self
                .slots
                .get(id.0)
                .is_some_and(|e| e.cancel == Cancel::Wanted);
            if wanted {
                self.cancel(id, now, wheel, sink);
            }
        }
    }

    /// The TU cancels the INVITE `id` (§9.1): the CANCEL goes out now if a provisional has
    /// come, or when one comes; never after a final. Returns false when there is nothing
    /// to cancel (not an INVITE, already final, already cancelled).
    pub fn cancel(
        &mut self,
        id: ClientTxId,
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) -> bool {
        let Some(entry) = self.slots.get_mut(id.0) else {
            return false;
        };
        if entry.cancel == Cancel::Sent {
            return false;
        }
        if entry.machine.awaits_provisional() {
            entry.cancel = Cancel::Wanted;
            return true;
        }
        if !entry.machine.can_cancel() {
            return false;
        }
        let mut cancel = std::mem::take(&mut self.cancel_buf);
        cancel.clear();
        let built = Message::parse(entry.request(), Framing::Stream)
            .ok()
            .is_some_and(|req| build_cancel(&req, &mut cancel).is_ok());
        if built {
            entry.cancel = Cancel::Sent;
            sink(ClientEvent::SendCancel {
                id,
                route: &entry.route,
                bytes: &cancel,
            });
        }
        self.cancel_buf = cancel;
        if built {
            self.input(id, ClientInput::CancelSent, now, wheel, sink);
        }
        built
    }

    /// A timer popped from the wheel.
    pub fn timer(
        &mut self,
        timer: TimerId,
        (id, kind): ClientTimer,
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) {
        let Some(entry) = self.slots.get_mut(id.0) else {
            return;
        };
        if !entry.armed.fired(kind, timer) {
            return; // stale: the transaction re-armed or ended since
        }
        self.input(id, ClientInput::Timer(kind), now, wheel, sink);
    }

    /// A send for `id` failed (§17.1.4: the TU treats it as 503).
    pub fn transport_error(
        &mut self,
        id: ClientTxId,
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) {
        self.input(id, ClientInput::TransportError, now, wheel, sink);
    }

    fn input(
        &mut self,
        id: ClientTxId,
        input: ClientInput,
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) {
        let Some(entry) = self.slots.get_mut(id.0) else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let before = entry.machine.state_index();
        entry.machine.handle(&self.config, input, &mut out);
        move_count(
            &mut self.counts.by_state,
            before,
            entry.machine.state_index(),
        );
        self.execute(id, &out, now, wheel, sink);
        self.scratch = out;
    }

    fn execute(
        &mut self,
        id: ClientTxId,
        outputs: &[Output],
        now: Instant,
        wheel: &mut TimerWheel<ClientTimer>,
        sink: &mut impl FnMut(ClientEvent<'_, R>),
    ) {
        let token = self.token(id);
        for output in outputs {
            let Some(entry) = self.slots.get_mut(id.0) else {
                return;
            };
            match *output {
                Output::SendRequest => sink(ClientEvent::Send {
                    id,
                    route: &entry.route,
                    bytes: entry.request(),
                    token,
                }),
                // NOTE: an ACK that could not be built (the response lacked a header the
                // ACK copies) is not sent; the server's Timer H ends its transaction.
                Output::SendAck if !entry.ack().is_empty() => sink(ClientEvent::Send {
                    id,
                    route: &entry.route,
                    bytes: entry.ack(),
                    token,
                }),
                Output::SendAck => {}
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
                Output::Tu(event) => sink(ClientEvent::Tu(id, &entry.route, event)),
                Output::Terminated => self.remove(id, wheel),
                // Server-side outputs never come from a client machine.
                Output::SendResponse | Output::ResendResponse => {}
            }
        }
    }

    fn remove(&mut self, id: ClientTxId, wheel: &mut TimerWheel<ClientTimer>) {
        let Some(mut entry) = self.slots.remove(id.0, |e| std::mem::take(&mut e.bytes)) else {
            return;
        };
        for timer in entry.armed.drain() {
            wheel.cancel(timer);
        }
        move_count(&mut self.counts.by_state, entry.machine.state_index(), None);
    }
}

/// Moves one transaction between state counters (`None`: not counted).
pub(super) fn move_count(by_state: &mut [usize], from: Option<usize>, to: Option<usize>) {
    if from == to {
        return;
    }
    if let Some(f) = from.and_then(|f| by_state.get_mut(f)) {
        *f = f.saturating_sub(1);
    }
    if let Some(t) = to.and_then(|t| by_state.get_mut(t)) {
        *t += 1;
    }
}

#[cfg(test)]
mod tests;
