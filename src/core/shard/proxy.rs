//! The shard as a stateful proxy (RFC 3261 §16): a request is forked to the targets routing
//! chose (`routing.rs`: a router, the bindings of a registered AoR, static routes), a request
//! whose top Route is Drongo is sent on along its route set, and the responses of every
//! branch go through the request's response context.
//!
//! Per proxied request the shard keeps a [`Call`]: the server transaction facing the caller,
//! the response context, the target set and the group it has reached, one client transaction
//! per branch, the final response each branch gave (for the best-response choice) and the
//! request as received (to fork later groups, build the CANCELs and Drongo's own answers: 408
//! when no branch answered, 487 after a CANCEL). Targets are forked group by group (serial
//! forking, §16.6): the next group starts when every branch of the current one has a final
//! response other than 2xx and 6xx (a timeout, Timer C and an unreachable hop count as 408
//! and 503); a 2xx, a 6xx or the caller's CANCEL ends the search. A call ends when a final
//! response has gone upstream and every branch has its final; 2xx responses that come later
//! (other forks, retransmissions) still go upstream, statelessly, by their Via.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use hashbrown::HashMap;
use smallvec::SmallVec;

use super::routing::TargetSet;
use super::{Flow, Request, Shard, Source, Transmit};
use crate::core::ids;
use crate::core::proxy::{self, upstream_status, Plan, Preprocess, ResponseContext, Verdict};
use crate::core::registrar::{lookup, reachable, Lookup};
use crate::core::sip::error::DropReason;
use crate::core::sip::message::{Framing, Message};
use crate::core::sip::uri::{Host, Transport, Uri};
use crate::core::sip::validate::{self, Checked};
use crate::core::sip::writer::{push_ip, Editor};
use crate::core::sip::{HeaderName, Method};
use crate::core::timer::TimerWheel;
use crate::core::transaction::client_table::{ClientEvent, ClientTable, ClientTxId, Start};
use crate::core::transaction::table::{Resend, ServerTxId};
use crate::core::transaction::{ClientKey, Reliability, TuEvent};

/// RFC 3261 §18.1.1: a request within 200 bytes of a 1500-byte MTU goes over TCP.
const UDP_LIMIT: usize = 1300;

/// What a client transaction of the proxy is for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leg {
    /// Where the request goes.
    pub dest: Source,
    /// The call and its generation (a slot may hold a later call).
    pub call: u32,
    pub generation: u32,
    pub branch: u8,
    /// A CANCEL's own transaction: its responses change nothing.
    pub cancel: bool,
}

/// One proxied request.
struct Call {
    generation: u32,
    server: ServerTxId,
    context: ResponseContext,
    /// Every target, in groups; `next_group` is the first not started.
    targets: TargetSet,
    next_group: usize,
    /// The caller cancelled: no further group starts (§16.10).
    cancelled: bool,
    /// Each branch's client transaction; `None` for one that never started.
    branches: SmallVec<[Option<ClientTxId>; 4]>,
    /// The final response each branch gave, when it came from downstream.
    finals: SmallVec<[Option<Vec<u8>>; 4]>,
    request: Vec<u8>,
    framing: Framing,
    src: Source,
}

/// The shard's proxied requests.
#[derive(Default)]
pub(super) struct Calls {
    slots: Vec<Option<Call>>,
    free: Vec<u32>,
    by_server: HashMap<ServerTxId, u32>,
    generation: u32,
}

impl Calls {
    pub(super) fn len(&self) -> usize {
        self.by_server.len()
    }

    fn get(&self, index: u32, generation: u32) -> Option<&Call> {
        self.slots
            .get(index as usize)?
            .as_ref()
            .filter(|c| c.generation == generation)
    }

    fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut Call> {
        self.slots
            .get_mut(index as usize)?
            .as_mut()
            .filter(|c| c.generation == generation)
    }

    fn insert(&mut self, make: impl FnOnce(u32) -> Call) -> (u32, u32) {
        self.generation = self.generation.wrapping_add(1);
        let call = make(self.generation);
        let server = call.server;
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(call);
                i
            }
            None => {
                self.slots.push(Some(call));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_server.insert(server, index);
        (index, self.generation)
    }

    fn remove(&mut self, index: u32) {
        if let Some(call) = self.slots.get_mut(index as usize).and_then(Option::take) {
            self.by_server.remove(&call.server);
            self.free.push(index);
        }
    }
}

/// A place to send a forwarded request.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// The new Request-URI; `None` keeps the request's.
    pub uri: Option<Vec<u8>>,
    /// Route values to push (a binding's Path).
    pub path: Vec<u8>,
    /// Where to send it when the binding's flow decides (NAT, a registered connection);
    /// `None` sends it to the next hop the request names.
    pub dest: Option<Source>,
}

/// Work a client-table call leaves for the shard once the table is free again.
enum ClientWork {
    Tu(ClientTxId, Leg, TuEvent),
    Cancel(Leg, Vec<u8>),
}

impl Shard {
    /// The proxy's live requests.
    pub fn proxied_calls(&self) -> usize {
        self.calls.len()
    }

    fn client_wheel(&mut self, now: std::time::Instant) -> &mut TimerWheel<super::ClientTimer> {
        let tick = self.config.timer_tick;
        self.client_wheel
            .get_or_insert_with(|| TimerWheel::new(now, tick))
    }

    /// Whether a URI names this shard's process: one of its addresses (and port, if written).
    fn is_me(&self, uri: &Uri<'_>, local: SocketAddr) -> bool {
        let port = uri.port();
        match uri.host() {
            Some(Host::V4(ip)) => self.is_local(IpAddr::V4(ip), port, local),
            Some(Host::V6(ip)) => self.is_local(IpAddr::V6(ip), port, local),
            Some(Host::Domain(_)) | None => false,
        }
    }

    /// §16.4 for a new request: its route preprocessing.
    pub(super) fn preprocess<'a>(
        &self,
        msg: &Message<'a>,
        checked: &Checked<'a>,
        local: SocketAddr,
    ) -> Preprocess<'a> {
        proxy::preprocess(msg, checked, |uri| self.is_me(uri, local))
    }

    /// The bindings a request for Drongo reaches, as fork targets, best q first and grouped
    /// by q (a contact without q counts as 1.0): those of the AoR it is addressed to, or of the
    /// one instance its GRUU names (RFC 5627 §6.1; never another instance of the AoR).
    /// Bindings that cannot be reached are left out (RFC 5626 §5.3: an outbound binding whose
    /// flow has failed, and all but one flow of an instance). Empty when nothing is reachable;
    /// [`Shard::no_target_status`] then says why.
    pub(super) fn binding_targets(&mut self, uri: &Uri<'_>) -> TargetSet {
        let mut key = std::mem::take(&mut self.aor_scratch);
        let mut out = TargetSet::default();
        if let Some(location) = self.location.as_deref() {
            if let Lookup::Found { bindings, .. } = lookup(location, &self.gruus, uri, &mut key) {
                out = reachable(bindings).into_iter().map(by_q).collect();
            }
        }
        self.aor_scratch = key;
        out
    }

    /// The answer to a request for Drongo that [`Shard::binding_targets`] found no target
    /// for: 480 when what it names exists but cannot be reached now (a GRUU whose instance
    /// has no binding, bindings whose flows have all failed), else 404.
    pub(super) fn no_target_status(&mut self, uri: &Uri<'_>) -> (u16, &'static str) {
        let mut key = std::mem::take(&mut self.aor_scratch);
        let unavailable = self.location.as_deref().is_some_and(|location| {
            match lookup(location, &self.gruus, uri, &mut key) {
                Lookup::Found { bindings, gruu } => gruu || bindings.len() > 0,
                Lookup::Unknown => false,
            }
        });
        self.aor_scratch = key;
        if unavailable {
            (480, "Temporarily Unavailable")
        } else {
            (404, "Not Found")
        }
    }

    /// Forwards a new request to `targets` (§16.6), its first group at once, with a server
    /// transaction facing the caller and a response context; an INVITE is answered 100 at
    /// once (§16.2).
    pub(super) fn proxy(
        &mut self,
        src: Source,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        method: Method<'_>,
        pre: Preprocess<'_>,
        targets: TargetSet,
    ) {
        if self.now.is_none() {
            return self.drop(DropReason::Internal);
        }
        let Some((key, invite, reliability, _)) = self.pending.take() else {
            return self.drop(DropReason::Internal);
        };
        self.stats.proxied += 1;
        let server = self.servers.create(key, invite, reliability, src);
        if invite {
            // §16.2: a stateful proxy answers 100 to an INVITE at once.
            let r = Request {
                src,
                h: msg.headers(),
                via: Some(checked.top_via),
                to_tagged: true,
            };
            if let Some((bytes, _)) = self.build_response(&r, 100, "Trying", |_| {}) {
                self.respond_through(server, 100, bytes, Resend::Kept);
            }
        }
        let (call, generation) = self.calls.insert(|generation| Call {
            generation,
            server,
            context: ResponseContext::new(),
            targets,
            next_group: 0,
            cancelled: false,
            branches: SmallVec::new(),
            finals: SmallVec::new(),
            request: msg.buf().to_vec(),
            framing: if matches!(src.flow, Flow::Udp) {
                Framing::Datagram
            } else {
                Framing::Stream
            },
            src,
        });
        self.start_next_group(call, generation, msg, checked, method, pre);
        self.settle(call, generation);
    }

    /// Starts the call's next group of targets, and the one after it while a whole group
    /// fails at once (no address); once no group is left, or the caller has cancelled, the
    /// best response goes up when nothing is pending (§16.7 step 6).
    fn start_next_group(
        &mut self,
        call: u32,
        generation: u32,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        method: Method<'_>,
        pre: Preprocess<'_>,
    ) {
        loop {
            let Some(c) = self.calls.get_mut(call, generation) else {
                return;
            };
            let index = c.next_group;
            if c.cancelled || c.context.final_sent() || index >= c.targets.groups() {
                break;
            }
            c.next_group += 1;
            let targets = std::mem::take(&mut c.targets);
            for target in targets.group(index) {
                self.fork(call, generation, msg, checked, method, pre, target);
            }
            let Some(c) = self.calls.get_mut(call, generation) else {
                return;
            };
            c.targets = targets;
            if c.context.pending().next().is_some() {
                return;
            }
        }
        let verdict = self
            .calls
            .get_mut(call, generation)
            .and_then(|c| c.context.conclude());
        if let Some(verdict) = verdict {
            self.act(call, generation, verdict, None);
        }
    }

    /// Every branch of the current group has failed: on to the next group (the request is
    /// read again from the call's copy).
    fn continue_search(&mut self, call: u32, generation: u32) {
        let Some(c) = self.calls.get(call, generation) else {
            return;
        };
        if c.context.final_sent() || c.context.pending().next().is_some() {
            return;
        }
        // A copy: Drongo's own answer to the call may need the request while a group starts.
        let (request, framing, local) = (c.request.clone(), c.framing, c.src.local);
        let parsed = Message::parse(&request, framing)
            .ok()
            .and_then(|msg| validate::message(&msg).ok().map(|checked| (msg, checked)));
        match parsed {
            Some((msg, checked)) => {
                let Some(method) = msg.method() else { return };
                let pre = self.preprocess(&msg, &checked, local);
                self.start_next_group(call, generation, &msg, &checked, method, pre);
            }
            None => {
                // NOTE: unreachable for a request that parsed when the call began; end the
                // search rather than leave the call without an answer.
                let verdict = self
                    .calls
                    .get_mut(call, generation)
                    .and_then(|c| c.context.conclude());
                if let Some(verdict) = verdict {
                    self.act(call, generation, verdict, None);
                }
            }
        }
        self.settle(call, generation);
    }

    /// Starts one branch of a call.
    #[allow(clippy::too_many_arguments)]
    fn fork(
        &mut self,
        call: u32,
        generation: u32,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        method: Method<'_>,
        pre: Preprocess<'_>,
        target: &Target,
    ) {
        let Some(now) = self.now else { return };
        // A branch's index travels in its leg as one byte.
        let Some(branch) = self
            .calls
            .get_mut(call, generation)
            .filter(|c| c.context.branches() <= usize::from(u8::MAX))
            .and_then(|c| c.context.add_branch())
        else {
            return;
        };
        let local = self
            .calls
            .get(call, generation)
            .map_or(self.config.local_addrs[0], |c| c.src.local);
        let mut out = self.buffer();
        let mut branch_buf = [0u8; ids::BRANCH_LEN];
        let value = self.rng.next_u64();
        let branch_id = ids::write_branch(self.config.id, value, &mut branch_buf);
        let base = Plan {
            pre,
            request_uri: target.uri.as_deref(),
            push_route: &target.path,
            record_route: None,
            via: b"",
        };
        let dest = target
            .dest
            .or_else(|| proxy::next_hop(msg, checked, &base).and_then(|uri| resolve(&uri, local)));
        let Some(mut dest) = dest else {
            // No address for this target (a host name: Drongo resolves no DNS).
            self.branch_failed(call, generation, branch, 503);
            return;
        };
        let record_route = method == Method::Invite || method == Method::Subscribe;
        for attempt in 0..2 {
            let transport = match dest.flow {
                Flow::Udp => "UDP",
                Flow::Stream(_) | Flow::Tcp => "TCP",
            };
            let mut via = Vec::with_capacity(96);
            let _ = write!(via, "SIP/2.0/{transport} ");
            push_addr(&mut via, dest.local);
            via.extend_from_slice(b";branch=");
            via.extend_from_slice(branch_id);
            via.extend_from_slice(b";rport");
            let mut rr = Vec::with_capacity(48);
            rr.extend_from_slice(b"<sip:");
            push_addr(&mut rr, dest.local);
            rr.extend_from_slice(b";lr>");
            let plan = Plan {
                via: &via,
                record_route: record_route.then_some(&rr[..]),
                ..base
            };
            proxy::write(msg, checked, &plan, &mut out);
            if attempt == 0 && matches!(dest.flow, Flow::Udp) && out.len() > UDP_LIMIT {
                dest.flow = Flow::Tcp;
                continue;
            }
            break;
        }
        let key = ClientKey::new(method, branch_id);
        let reliability = match dest.flow {
            Flow::Udp => Reliability::Unreliable,
            Flow::Stream(_) | Flow::Tcp => Reliability::Reliable,
        };
        let leg = Leg {
            dest,
            call,
            generation,
            branch: branch as u8,
            cancel: false,
        };
        let start = Start {
            request: &out,
            invite: method == Method::Invite,
            reliability,
            timer_c: method == Method::Invite,
        };
        self.client_wheel(now);
        let mut started = None;
        let work = self.with_clients(|clients, wheel, sink| {
            started = Some(clients.start(key, start, leg, now, wheel, &mut &mut *sink));
        });
        if let (Some(id), Some(c)) = (started, self.calls.get_mut(call, generation)) {
            c.branches.resize(branch, None);
            c.branches.push(Some(id));
            c.finals.resize(branch + 1, None);
        }
        self.recycle(out);
        self.client_work(work, None);
    }

    /// Runs `op` on the client table and its wheel; sends go out at once, and what the
    /// transactions pass up comes back for the caller to handle once the table is free.
    fn with_clients(
        &mut self,
        op: impl FnOnce(
            &mut ClientTable<Leg>,
            &mut TimerWheel<super::ClientTimer>,
            &mut dyn FnMut(ClientEvent<'_, Leg>),
        ),
    ) -> SmallVec<[ClientWork; 2]> {
        let mut work = SmallVec::new();
        let Shard {
            clients,
            client_wheel,
            transmits,
            pool,
            ..
        } = self;
        if let Some(wheel) = client_wheel.as_mut() {
            op(clients, wheel, &mut |e| {
                client_event(transmits, pool, &mut work, e)
            });
        }
        work
    }

    /// A branch could not start (no address, a request that would not parse): `status`
    /// stands for it (503, 500; §16.7 step 1). Only recorded: the group being started moves
    /// on once all of it has been tried.
    fn branch_failed(&mut self, call: u32, generation: u32, branch: usize, status: u16) {
        let Some(c) = self.calls.get_mut(call, generation) else {
            return;
        };
        if c.finals.len() <= branch {
            c.finals.resize(branch + 1, None);
        }
        if c.branches.len() <= branch {
            c.branches.resize(branch + 1, None);
        }
        c.context.response(branch, status, true);
    }

    /// A response that matched no client transaction is stray (RFC 6026 §7.1.1: dropped);
    /// one that did goes to its transaction, and what the transaction passes up to the call.
    pub(super) fn handle_response(&mut self, msg: &Message<'_>) {
        let Some(now) = self.now else { return };
        let id = ClientKey::of_response(msg).and_then(|k| self.clients.find(&k));
        let Some(id) = id else {
            return self.drop(DropReason::StrayResponse);
        };
        self.stats.matched += 1;
        self.client_wheel(now);
        let work = self.with_clients(|clients, wheel, sink| {
            clients.response(id, msg, now, wheel, &mut &mut *sink);
        });
        self.client_work(work, Some(msg));
    }

    /// The proxy's client timers.
    pub(super) fn client_timeout(&mut self, now: std::time::Instant) {
        let work = self.with_clients(|clients, wheel, sink| {
            while let Some((timer, payload)) = wheel.poll(now) {
                clients.timer(timer, payload, now, wheel, &mut &mut *sink);
            }
        });
        self.client_work(work, None);
    }

    /// The shell could not deliver the message sent with `token` (a client transaction's).
    pub(super) fn client_undelivered(&mut self, token: u64) {
        let Some(now) = self.now else { return };
        let Some(id) = self.clients.from_token(token) else {
            return;
        };
        let work = self.with_clients(|clients, wheel, sink| {
            clients.transport_error(id, now, wheel, &mut &mut *sink);
        });
        self.client_work(work, None);
    }

    /// Handles what the transactions passed up; `response` is the message that caused it.
    fn client_work(&mut self, work: SmallVec<[ClientWork; 2]>, response: Option<&Message<'_>>) {
        for w in work {
            match w {
                ClientWork::Tu(id, leg, event) => self.branch_event(id, leg, event, response),
                ClientWork::Cancel(leg, bytes) => self.start_cancel(leg, &bytes),
            }
        }
    }

    /// What a branch's transaction passed up, with the response that caused it.
    fn branch_event(
        &mut self,
        id: ClientTxId,
        leg: Leg,
        event: TuEvent,
        response: Option<&Message<'_>>,
    ) {
        if leg.cancel {
            return; // a CANCEL's own responses change nothing (§16.10)
        }
        let (call, generation, branch) = (leg.call, leg.generation, usize::from(leg.branch));
        if event == TuEvent::TimerC {
            // §16.8: Timer C fired on a branch that had a provisional: cancel it.
            return self.cancel_branch(id);
        }
        let status = match event {
            TuEvent::Provisional(s) | TuEvent::Final(s) | TuEvent::Additional2xx(s) => s,
            TuEvent::Timeout => 408,
            TuEvent::TransportError => 503,
            TuEvent::Ack | TuEvent::TimerC => return,
        };
        let Some(c) = self.calls.get_mut(call, generation) else {
            // The call has ended: a later 2xx still goes upstream (§16.7 step 5).
            if (200..300).contains(&status) {
                self.forward_stateless(response);
            }
            return;
        };
        // Serial forking: while groups are left, a failed group waits for the next.
        let more = !c.cancelled && c.next_group < c.targets.groups();
        let verdict = c.context.response(branch, status, more);
        if status >= 200 {
            if let (Some(slot), Some(msg)) = (c.finals.get_mut(branch), response) {
                *slot = Some(msg.buf().to_vec());
            }
        }
        self.act(call, generation, verdict, response);
        if more && status >= 200 && verdict == Verdict::Absorb {
            self.continue_search(call, generation);
        }
    }

    /// Carries out a verdict of the response context.
    fn act(
        &mut self,
        call: u32,
        generation: u32,
        verdict: Verdict,
        response: Option<&Message<'_>>,
    ) {
        let Some(server) = self.calls.get(call, generation).map(|c| c.server) else {
            return;
        };
        match verdict {
            Verdict::Absorb => {}
            Verdict::Forward => self.relay(server, response),
            Verdict::ForwardAndCancelOthers => {
                self.relay(server, response);
                self.cancel_pending(call, generation);
            }
            Verdict::SendBest { best, status } => {
                let stored = self
                    .calls
                    .get(call, generation)
                    .and_then(|c| c.finals.get(best).cloned().flatten());
                match stored {
                    Some(bytes) if status != 503 => {
                        if let Ok(msg) = Message::parse(&bytes, Framing::Stream) {
                            self.relay(server, Some(&msg));
                        }
                    }
                    _ => self.answer_call(call, generation, upstream_status(status)),
                }
            }
        }
        self.settle(call, generation);
    }

    /// Ends a call once its final has gone upstream and no branch is pending.
    fn settle(&mut self, call: u32, generation: u32) {
        let done = self
            .calls
            .get(call, generation)
            .is_some_and(|c| c.context.final_sent() && c.context.pending().next().is_none());
        let empty = self
            .calls
            .get(call, generation)
            .is_some_and(|c| c.context.branches() == 0);
        if empty {
            // Every target failed before a branch started: 480 (§16.7 step 6 with no
            // response at all).
            self.answer_call(call, generation, 480);
            self.calls.remove(call);
            return;
        }
        if done {
            self.calls.remove(call);
        }
    }

    /// Sends a downstream response upstream through the call's server transaction, without
    /// Drongo's Via (§16.7 steps 3, 9).
    fn relay(&mut self, server: ServerTxId, response: Option<&Message<'_>>) {
        let Some(msg) = response else { return };
        let Some(status) = msg.status().map(|s| s.code) else {
            return;
        };
        let mut out = self.buffer();
        strip_top_via(msg, &mut out);
        self.stats.relayed += 1;
        self.respond_through(server, status, out, Resend::Kept);
    }

    /// Drongo's own final answer to a call's request (408, 480, 487, 500).
    fn answer_call(&mut self, call: u32, generation: u32, status: u16) {
        let Some(c) = self.calls.get(call, generation) else {
            return;
        };
        let (server, src, framing) = (c.server, c.src, c.framing);
        let request = c.request.clone();
        let Ok(msg) = Message::parse(&request, framing) else {
            return;
        };
        let Ok(checked) = validate::message(&msg) else {
            return;
        };
        let r = Request {
            src,
            h: msg.headers(),
            via: Some(checked.top_via),
            to_tagged: checked.to.tag().is_some(),
        };
        let reason = proxy::reason_phrase(status);
        if let Some((bytes, _)) = self.build_response(&r, status, reason, |_| {}) {
            self.respond_through(server, status, bytes, Resend::Kept);
        }
    }

    /// §16.10: a CANCEL for a proxied INVITE that has no final yet cancels every pending
    /// branch and stops the search (no later group starts). Returns false when there is no
    /// such call.
    pub(super) fn cancel_call(&mut self, server: ServerTxId) -> bool {
        let Some(&index) = self.calls.by_server.get(&server) else {
            return false;
        };
        let Some(generation) = self.calls.slots[index as usize]
            .as_ref()
            .filter(|c| !c.context.final_sent())
            .map(|c| c.generation)
        else {
            return false;
        };
        if let Some(c) = self.calls.get_mut(index, generation) {
            c.cancelled = true;
        }
        self.cancel_pending(index, generation);
        true
    }

    fn cancel_pending(&mut self, call: u32, generation: u32) {
        let Some(c) = self.calls.get(call, generation) else {
            return;
        };
        let pending: SmallVec<[ClientTxId; 4]> = c
            .context
            .pending()
            .filter_map(|b| c.branches.get(b).copied().flatten())
            .collect();
        for id in pending {
            self.cancel_branch(id);
        }
    }

    fn cancel_branch(&mut self, id: ClientTxId) {
        let Some(now) = self.now else { return };
        let work = self.with_clients(|clients, wheel, sink| {
            clients.cancel(id, now, wheel, &mut &mut *sink);
        });
        self.client_work(work, None);
    }

    /// Sends a branch's CANCEL in a client transaction of its own (§9.1), on the INVITE's
    /// route.
    fn start_cancel(&mut self, leg: Leg, bytes: &[u8]) {
        let Some(now) = self.now else { return };
        let Some(key) = Message::parse(bytes, Framing::Stream)
            .ok()
            .and_then(|m| ClientKey::of_request(&m))
        else {
            return;
        };
        let reliability = match leg.dest.flow {
            Flow::Udp => Reliability::Unreliable,
            Flow::Stream(_) | Flow::Tcp => Reliability::Reliable,
        };
        let start = Start {
            request: bytes,
            invite: false,
            reliability,
            timer_c: false,
        };
        let leg = Leg {
            cancel: true,
            ..leg
        };
        // A CANCEL's transaction passes nothing that matters up (§16.10).
        self.with_clients(|clients, wheel, sink| {
            clients.start(key, start, leg, now, wheel, &mut &mut *sink);
        });
    }

    /// A response whose call has ended goes upstream by its second Via (§16.11, §18.2.2).
    fn forward_stateless(&mut self, response: Option<&Message<'_>>) {
        let Some(msg) = response else { return };
        let vias: SmallVec<[_; 2]> = msg
            .headers()
            .all(HeaderName::Via)
            .flat_map(crate::core::sip::headers::Vias::new)
            .take(2)
            .filter_map(Result::ok)
            .collect();
        let Some(next) = vias.get(1) else { return };
        let port = next.rport().flatten().or(next.port()).unwrap_or(5060);
        let ip = match (next.received(), next.host()) {
            (Some(ip), _) => ip,
            (None, Host::V4(ip)) => IpAddr::V4(ip),
            (None, Host::V6(ip)) => IpAddr::V6(ip),
            (None, Host::Domain(_)) => return,
        };
        let local = self.config.local_addrs.first().copied();
        let Some(local) = local else { return };
        let mut out = self.buffer();
        strip_top_via(msg, &mut out);
        self.stats.relayed += 1;
        self.transmits.push_back(Transmit {
            flow: Flow::Udp,
            local,
            remote: SocketAddr::new(ip, port),
            payload: out,
            token: 0,
        });
    }

    /// §16.11 for an ACK whose route set goes on past Drongo (the ACK for a 2xx): forwarded
    /// without a transaction.
    pub(super) fn forward_ack(
        &mut self,
        src: Source,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        pre: Preprocess<'_>,
    ) {
        let mut via = Vec::with_capacity(96);
        let mut branch_buf = [0u8; ids::BRANCH_LEN];
        let value = self.rng.next_u64();
        let mut plan = Plan {
            pre,
            request_uri: None,
            push_route: b"",
            record_route: None,
            via: b"",
        };
        let Some(dest) = proxy::next_hop(msg, checked, &plan).and_then(|u| resolve(&u, src.local))
        else {
            return self.drop(DropReason::NoRoute);
        };
        via.extend_from_slice(if matches!(dest.flow, Flow::Udp) {
            b"SIP/2.0/UDP "
        } else {
            b"SIP/2.0/TCP "
        });
        push_addr(&mut via, dest.local);
        via.extend_from_slice(b";branch=");
        via.extend_from_slice(ids::write_branch(self.config.id, value, &mut branch_buf));
        plan.via = &via;
        let mut out = self.buffer();
        proxy::write(msg, checked, &plan, &mut out);
        self.stats.proxied += 1;
        self.transmits.push_back(Transmit {
            flow: dest.flow,
            local: dest.local,
            remote: dest.remote,
            payload: out,
            token: 0,
        });
    }
}

/// Turns a client-table event into a transmit or into work for after the call.
fn client_event(
    transmits: &mut std::collections::VecDeque<Transmit>,
    pool: &mut Vec<Vec<u8>>,
    work: &mut SmallVec<[ClientWork; 2]>,
    event: ClientEvent<'_, Leg>,
) {
    match event {
        ClientEvent::Send {
            route,
            bytes,
            token,
            ..
        } => {
            // A buffer the shell gave back, as for every other transmit.
            let mut payload = pool.pop().unwrap_or_default();
            payload.extend_from_slice(bytes);
            transmits.push_back(Transmit {
                flow: route.dest.flow,
                local: route.dest.local,
                remote: route.dest.remote,
                payload,
                token,
            })
        }
        ClientEvent::SendCancel { route, bytes, .. } => {
            work.push(ClientWork::Cancel(*route, bytes.to_vec()))
        }
        ClientEvent::Tu(id, leg, e) => work.push(ClientWork::Tu(id, *leg, e)),
    }
}

/// A binding as a fork target with its q in thousandths (a contact without q counts as 1.0,
/// as the location service orders them).
fn by_q(b: crate::core::registrar::Binding<'_>) -> (u16, Target) {
    let target = binding_target(b.contact(), b.path(), b.flow(), b.outbound());
    (b.q().unwrap_or(1000), target)
}

/// A binding's contact as a fork target: its URI and Path, and where to send when the flow
/// it registered over decides. Over TCP: the connection the REGISTER came on (the shell opens
/// a new one to the Contact if it has closed). Over UDP: the REGISTER's source address when
/// the Contact's IP is another (the phone is behind NAT and its Contact unreachable), else
/// the Contact itself (a UA may register from another port than it listens on).
///
/// An outbound binding (RFC 5626 §5.3) is reached over its flow only: over TCP its
/// connection, with the flow's own address rather than the Contact for the shell to fall
/// back to (a UA's flow address accepts no new connection, so a flow that closed before
/// Drongo heard of it fails instead of reaching the Contact); over UDP its source address.
fn binding_target(
    contact: &[u8],
    path: &[u8],
    flow: crate::core::registrar::FlowInfo,
    outbound: bool,
) -> Target {
    let uri = Uri::parse(contact).ok();
    let contact_addr = uri.as_ref().and_then(|u| resolve(u, flow.local));
    let natted = contact_addr
        .is_none_or(|c| super::canonical(c.remote.ip()) != super::canonical(flow.remote.ip()));
    let dest = if !path.is_empty() {
        None
    } else if flow.reliable {
        let fallback = match contact_addr {
            Some(c) if !outbound => c.remote,
            _ => flow.remote,
        };
        Some(Source {
            flow: match flow.conn {
                Some(conn) => Flow::Stream(super::ConnId(conn)),
                None => Flow::Tcp,
            },
            local: flow.local,
            remote: fallback,
        })
    } else if natted || outbound {
        Some(Source {
            flow: Flow::Udp,
            local: flow.local,
            remote: flow.remote,
        })
    } else {
        None
    };
    Target {
        uri: Some(contact.to_vec()),
        path: path.to_vec(),
        dest,
    }
}

/// The address a URI names, when its host is an IP literal (Drongo does no DNS): its port or
/// 5060, over TCP when it says `transport=tcp`.
fn resolve(uri: &Uri<'_>, local: SocketAddr) -> Option<Source> {
    let ip = match uri.host()? {
        Host::V4(ip) => IpAddr::V4(ip),
        Host::V6(ip) => IpAddr::V6(ip),
        Host::Domain(_) => return None,
    };
    let flow = match uri.transport() {
        Some(Transport::Tcp) => Flow::Tcp,
        _ => Flow::Udp,
    };
    Some(Source {
        flow,
        local,
        remote: SocketAddr::new(ip, uri.port().unwrap_or(5060)),
    })
}

/// `host:port` of a local address, IPv6 in brackets.
fn push_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    if addr.is_ipv6() {
        out.push(b'[');
        push_ip(out, addr.ip());
        out.push(b']');
    } else {
        push_ip(out, addr.ip());
    }
    out.push(b':');
    crate::core::sip::writer::push_decimal(out, u64::from(addr.port()));
}

/// A response without its first Via value (Drongo's).
fn strip_top_via(msg: &Message<'_>, out: &mut Vec<u8>) {
    let h = msg.headers();
    let Some(line) = h.get(HeaderName::Via) else {
        out.extend_from_slice(msg.buf());
        return;
    };
    let first_len = crate::core::sip::headers::Vias::new(line)
        .next()
        .and_then(Result::ok)
        .map(|v| {
            let raw = v.as_bytes();
            (raw.as_ptr() as usize).saturating_sub(line.as_ptr() as usize) + raw.len()
        })
        .unwrap_or(line.len());
    let mut e = Editor::new(msg);
    e.remove_top_via(first_len);
    e.write_to(out);
}
