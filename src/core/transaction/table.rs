//! The shard's server transactions (RFC 3261 §17.2): the table that matches requests to them
//! (§17.2.3), owns each one's machine, timers and last response, and executes the machines'
//! [`Output`]s against the shard's [`TimerWheel`].
//!
//! Owns: creating a server transaction when the TU answers a new request, absorbing
//! retransmissions (the kept response is sent again), ACKs for non-2xx finals, Timers G, H, I,
//! J, K and L, and freeing a transaction the moment its machine terminates. Must not: decide
//! what to answer (the TU does) or touch a socket (sends are handed back as [`Event::Send`]).
//!
//! Memory: a live transaction holds its slot (machine, timer ids, key, route), one entry in
//! the match table, and the bytes of its last response when it keeps them; nothing else is
//! allocated per transaction (see [`crate::core::slots`] for how slots and matching work).

use std::time::Instant;

use super::{
    Armed, Output, Reliability, ServerInput, ServerInvite, ServerKey, ServerNonInvite, TimerConfig,
    TimerKind, TuEvent,
};
use crate::core::slots::{Keyed, Slots};
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
    /// Index of the machine's state in [`ServerCounts::by_state`]; `None` once terminated.
    fn state_index(&self) -> Option<usize> {
        use super::{ServerInviteState as I, ServerNonInviteState as N};
        match self {
            Machine::Invite(m) => match m.state() {
                I::Proceeding { .. } => Some(0),
                I::Completed { .. } => Some(1),
                I::Confirmed => Some(2),
                I::Accepted => Some(3),
                I::Terminated => None,
            },
            Machine::NonInvite(m) => match m.state() {
                N::Trying => Some(4),
                N::Proceeding => Some(5),
                N::Completed => Some(6),
                N::Terminated => None,
            },
        }
    }

    fn handle(&mut self, config: &TimerConfig, input: ServerInput, out: &mut Vec<Output>) {
        match self {
            Machine::Invite(m) => m.handle(config, input, out),
            Machine::NonInvite(m) => m.handle(config, input, out),
        }
    }
}

pub(super) struct Entry<R> {
    key: ServerKey,
    machine: Machine,
    armed: Armed<TimerId>,
    /// The last response sent, for retransmissions.
    response: Vec<u8>,
    /// Where responses go (the shell's flow and addresses).
    route: R,
}

impl<R> Keyed for Entry<R> {
    type Key = ServerKey;
    fn key(&self) -> &ServerKey {
        &self.key
    }
}

/// How a transaction sends its response again (a retransmitted request, Timer G).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// The transaction keeps the response's bytes and sends them again. Needed when nothing
    /// else can produce the same bytes: INVITE responses (Timer G resends without a request),
    /// and answers that depend on state which may change (a CANCEL's, a registrar's).
    Kept,
    /// The transaction keeps no bytes and asks the TU to build the response again from the
    /// retransmitted request ([`Event::Rebuild`]): for answers that are a function of the
    /// request alone, such as Drongo's own OPTIONS, 404 or 481 (RFC 3261 §8.2.7 allows even a
    /// stateless UAS to do so). Such a transaction holds no response bytes while it waits
    /// for Timer J.
    Rebuilt,
}

/// What the table asks of the shard after an input.
#[derive(Debug)]
pub enum Event<'a, R> {
    /// Send these bytes along this route.
    Send { route: &'a R, bytes: &'a [u8] },
    /// Send the response just given to [`ServerTable::respond`] along this route (the caller
    /// still holds those bytes, and can send its own buffer without a copy).
    SendGiven { route: &'a R },
    /// Build the response to the request being handled again and send it along this route
    /// (the transaction was answered with [`Resend::Rebuilt`]).
    Rebuild { route: &'a R },
    /// Tell the TU (an ACK arrived, a timeout, a transport error).
    Tu(ServerTxId, TuEvent),
}

/// Live server transactions by state, for the counters the shard exports. Kept as the
/// machines move, so reading them costs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerCounts {
    /// INVITE: Proceeding, Completed, Confirmed, Accepted; then non-INVITE: Trying,
    /// Proceeding, Completed.
    pub by_state: [usize; 7],
}

impl ServerCounts {
    /// The state names, in the order of `by_state`, as `machine.state`.
    pub const STATES: [&'static str; 7] = [
        "invite.proceeding",
        "invite.completed",
        "invite.confirmed",
        "invite.accepted",
        "non_invite.trying",
        "non_invite.proceeding",
        "non_invite.completed",
    ];

    /// Live INVITE server transactions.
    pub fn invite(&self) -> usize {
        self.by_state[..4].iter().sum()
    }

    /// Live non-INVITE server transactions.
    pub fn non_invite(&self) -> usize {
        self.by_state[4..].iter().sum()
    }

    /// `(name, count)` for every state.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        Self::STATES
            .iter()
            .copied()
            .zip(self.by_state.iter().copied())
    }
}

/// The table. `R` is the route a response takes (kept per transaction).
pub struct ServerTable<R> {
    config: TimerConfig,
    slots: Slots<Entry<R>>,
    scratch: Vec<Output>,
    created: u64,
    counts: ServerCounts,
}

/// What a timer in the shard's wheel names: a server transaction slot and the timer kind.
pub type ServerTimer = (ServerTxId, TimerKind);

impl<R> ServerTable<R> {
    pub fn new(config: TimerConfig) -> Self {
        ServerTable {
            config,
            slots: Slots::new(),
            scratch: Vec::with_capacity(8),
            created: 0,
            counts: ServerCounts::default(),
        }
    }

    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// Transactions created since start.
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Live transactions by state.
    pub fn counts(&self) -> ServerCounts {
        self.counts
    }

    /// The transaction a request (or an ACK, or a CANCEL's target) belongs to.
    pub fn find(&self, key: &ServerKey) -> Option<ServerTxId> {
        self.slots.find(key).map(ServerTxId)
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
        self.slots.get(id.0)
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
        if let Some(state) = machine.state_index() {
            self.counts.by_state[state] += 1;
        }
        let index = self.slots.insert(|response| Entry {
            key,
            machine,
            armed: Armed::new(),
            response,
            route,
        });
        self.created += 1;
        ServerTxId(index)
    }

    /// The TU answers: `status` with `bytes`, kept for retransmissions or not as `resend`
    /// says. Returns false when the transaction refused the response (e.g. a second final).
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        &mut self,
        id: ServerTxId,
        status: u16,
        bytes: &[u8],
        resend: Resend,
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) -> bool {
        let Some(entry) = self.slots.get_mut(id.0) else {
            return false;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let before = entry.machine.state_index();
        entry
            .machine
            .handle(&self.config, ServerInput::TuResponse(status), &mut out);
        let after = entry.machine.state_index();
        let accepted = out.iter().any(|o| matches!(o, Output::SendResponse));
        if accepted {
            entry.response.clear();
            if resend == Resend::Kept {
                entry.response.extend_from_slice(bytes);
            }
        }
        self.counts.moved(before, after);
        self.execute(id, &out, Some(bytes), now, wheel, sink);
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
        let Some(entry) = self.slots.get_mut(id.0) else {
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
        let Some(entry) = self.slots.get_mut(id.0) else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let before = entry.machine.state_index();
        entry.machine.handle(&self.config, input, &mut out);
        self.counts.moved(before, entry.machine.state_index());
        self.execute(id, &out, None, now, wheel, sink);
        self.scratch = out;
    }

    /// Runs a machine's outputs; `fresh` is the response the TU just gave, if any.
    fn execute(
        &mut self,
        id: ServerTxId,
        outputs: &[Output],
        fresh: Option<&[u8]>,
        now: Instant,
        wheel: &mut TimerWheel<ServerTimer>,
        sink: &mut impl FnMut(Event<'_, R>),
    ) {
        for output in outputs {
            let Some(entry) = self.slots.get_mut(id.0) else {
                return;
            };
            match *output {
                // NOTE: a machine sends a new response only on the TU's response input.
                Output::SendResponse if fresh.is_some() => {
                    sink(Event::SendGiven {
                        route: &entry.route,
                    });
                }
                // NOTE: a kept response is never empty; an empty one was not kept.
                Output::SendResponse | Output::ResendResponse if !entry.response.is_empty() => {
                    sink(Event::Send {
                        route: &entry.route,
                        bytes: &entry.response,
                    });
                }
                Output::SendResponse => {}
                Output::ResendResponse => sink(Event::Rebuild {
                    route: &entry.route,
                }),
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
        let Some(mut entry) = self.slots.remove(id.0, |e| std::mem::take(&mut e.response)) else {
            return;
        };
        for timer in entry.armed.drain() {
            wheel.cancel(timer);
        }
        // NOTE: a terminated machine was uncounted when it moved; one removed early (never
        // expected) is uncounted here.
        self.counts.moved(entry.machine.state_index(), None);
    }
}

impl ServerCounts {
    fn moved(&mut self, from: Option<usize>, to: Option<usize>) {
        super::client_table::move_count(&mut self.by_state, from, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::message::{Framing, Message};
    use std::time::Duration;

    fn key(n: u32) -> ServerKey {
        let bytes = format!(
            "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-t{n}\r\n\
             From: <sip:b@192.0.2.1>;tag=f\r\nTo: <sip:a@127.0.0.1>\r\n\
             Call-ID: c{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        let msg = Message::parse(bytes.as_bytes(), Framing::Datagram).unwrap();
        ServerKey::of_request(&msg).unwrap()
    }

    struct Fixture {
        table: ServerTable<()>,
        wheel: TimerWheel<ServerTimer>,
        now: Instant,
    }

    impl Fixture {
        fn new() -> Self {
            let now = crate::sim::epoch();
            Fixture {
                table: ServerTable::new(TimerConfig::RFC),
                wheel: TimerWheel::new(now, Duration::from_millis(10)),
                now,
            }
        }

        /// A new non-INVITE transaction over UDP for `key`, answered 200 (Timer J armed).
        fn answer(&mut self, key: ServerKey, resend: Resend) -> ServerTxId {
            let id = self.table.create(key, false, Reliability::Unreliable, ());
            let mut sent = 0;
            self.table.respond(
                id,
                200,
                b"SIP/2.0 200 OK\r\n\r\n",
                resend,
                self.now,
                &mut self.wheel,
                &mut |e| {
                    if let Event::SendGiven { .. } = e {
                        sent += 1;
                    }
                },
            );
            assert_eq!(sent, 1, "the answer is sent once, from the caller's buffer");
            id
        }

        fn advance(&mut self, by: Duration) {
            self.now += by;
            while let Some((timer, payload)) = self.wheel.poll(self.now) {
                self.table
                    .timer(timer, payload, self.now, &mut self.wheel, &mut |_| {});
            }
        }
    }

    #[test]
    fn a_retransmission_gets_the_kept_bytes_or_a_rebuild() {
        let mut f = Fixture::new();
        let kept = f.answer(key(1), Resend::Kept);
        let rebuilt = f.answer(key(2), Resend::Rebuilt);
        let mut events = Vec::new();
        for id in [kept, rebuilt] {
            f.table
                .request(id, false, f.now, &mut f.wheel, &mut |e| match e {
                    Event::Send { bytes, .. } => events.push(Some(bytes.to_vec())),
                    Event::Rebuild { .. } => events.push(None),
                    _ => {}
                });
        }
        assert_eq!(
            events,
            [Some(b"SIP/2.0 200 OK\r\n\r\n".to_vec()), None],
            "kept bytes are resent; a rebuilt answer is asked for again"
        );
    }

    #[test]
    fn counts_follow_the_machines_and_timer_j_frees_everything() {
        let mut f = Fixture::new();
        for n in 0..100 {
            f.answer(key(n), Resend::Rebuilt);
        }
        assert_eq!(f.table.len(), 100);
        assert_eq!(f.table.counts().non_invite(), 100);
        let completed = f
            .table
            .counts()
            .iter()
            .find(|(s, _)| *s == "non_invite.completed")
            .map(|(_, n)| n);
        assert_eq!(completed, Some(100));
        f.advance(Duration::from_secs(33));
        assert_eq!(f.table.len(), 0);
        assert_eq!(f.table.counts(), ServerCounts::default());
        assert!(
            f.table.find(&key(7)).is_none(),
            "an ended transaction matches nothing"
        );
    }

    /// Ended transactions leave stale match entries behind; they never match a key whose
    /// slot was reused, and sweeping keeps the match table proportional to the live count.
    #[test]
    fn stale_match_entries_never_match_and_stay_bounded() {
        let mut f = Fixture::new();
        let live = 500;
        let mut n = 0;
        for round in 0..40 {
            for _ in 0..live {
                let id = f.answer(key(n), Resend::Rebuilt);
                assert_eq!(f.table.find(&key(n)), Some(id));
                n += 1;
            }
            // Every transaction of the round ends; the next round reuses the same slots.
            f.advance(Duration::from_secs(33));
            assert_eq!(f.table.len(), 0, "round {round}");
            for old in n.saturating_sub(live)..n {
                assert_eq!(
                    f.table.find(&key(old)),
                    None,
                    "key {old} after round {round}"
                );
            }
            assert!(
                f.table.slots.match_capacity() <= 8 * live as usize,
                "match table capacity {} for {live} live",
                f.table.slots.match_capacity()
            );
        }
        assert_eq!(
            f.table.slots.slot_count(),
            live as usize,
            "slots are reused"
        );
    }
}

#[cfg(test)]
mod footprint {
    use super::*;

    /// What a live transaction holds, for the README: its slot, its match-table entry (plus
    /// one control byte; the table keeps at most as many stale entries as live ones), its
    /// generation and one timer-wheel entry; plus the response bytes when it keeps them.
    #[test]
    fn a_live_transaction_is_a_few_hundred_bytes() {
        let slot = crate::core::slots::slot_bytes::<Entry<crate::core::shard::Source>>();
        let entry = std::mem::size_of::<(u32, u32)>() + 1;
        let generation = std::mem::size_of::<u32>();
        let timer = TimerWheel::<ServerTimer>::entry_bytes();
        let total = slot + entry + generation + timer;
        println!(
            "slot {slot} B + match entry {entry} B + generation {generation} B + timer {timer} B = {total} B"
        );
        assert!(total <= 320, "{total} bytes per live transaction");
    }
}
