//! A client and a server transaction of each kind joined by a virtual link that drops and
//! delays messages at random, run over many seeds on one real timer wheel (STYLE rule 11).
//!
//! Each run checks the RFC's promises end to end: every machine terminates, at the instant
//! its timers say; the client TU gets at most one final response, and it is the one the
//! server TU gave; a timeout happens only when the RFC's timers say so; a request never
//! reaches a server transaction that has already ended (Timers J and L outlast the client's
//! retransmissions); with no loss, every exchange completes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{
    Armed, ClientInput, ClientInvite, ClientNonInvite, Output, Reliability, ServerInput,
    ServerInvite, ServerInviteState, ServerNonInvite, TimerConfig, TimerKind, TuEvent, Uas2xx,
    Uas2xxInput,
};
use crate::core::timer::{TimerId, TimerWheel};

/// xorshift64*: a seeded RNG local to the test.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    /// The ACK for a non-2xx, sent by the INVITE client transaction.
    Ack,
    /// The ACK for a 2xx, sent by the UAC core.
    Ack2xx,
    /// A CANCEL, carried by its own transaction (not simulated: it arrives).
    Cancel,
    Response(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
    Uas,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Timer(Side, TimerKind),
    ToServer(Msg),
    ToClient(Msg),
    /// The server TU answers with this status.
    ServerTu(u16),
}

#[derive(Debug, Clone, Copy)]
enum In {
    Client(ClientInput),
    Server(ServerInput),
    Uas(Uas2xxInput),
}

enum ClientTx {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

/// A link: loss in percent, delay bounds; a reliable link keeps order.
struct Link {
    loss: u64,
    min_delay: u64,
    max_delay: u64,
    reliable: bool,
    last: [u64; 2],
}

#[derive(Debug, Default)]
struct Record {
    client: Vec<(u64, TuEvent)>,
    client_sends: u32,
    client_terminated: Option<u64>,
    server_created: Option<u64>,
    /// When the server TU's final went out first, and its code.
    server_final: Option<(u64, u16)>,
    /// When the ACK for a non-2xx first reached the server transaction in Completed.
    server_acked: Option<u64>,
    server: Vec<(u64, TuEvent)>,
    server_terminated: Option<u64>,
    uas: Vec<(u64, TuEvent)>,
    uas_terminated: Option<u64>,
    late_requests: u32,
}

struct Sim {
    config: TimerConfig,
    reliability: Reliability,
    invite: bool,
    rng: Rng,
    wheel: TimerWheel<Ev>,
    timers: [Armed<TimerId>; 3],
    start: Instant,
    now: Instant,
    link: Link,
    client: ClientTx,
    server: Option<ServerTx>,
    uas: Option<Uas2xx>,
    /// The server TU's script, relative to the server transaction's creation.
    tu_script: Vec<(u64, u16)>,
    /// The code of the response the server TU is giving now, and of the last one sent.
    tu_code: u16,
    last_code: u16,
    work: VecDeque<In>,
    out: Vec<Output>,
    rec: Record,
}

const HOUR: u64 = 3_600_000;

impl Sim {
    fn new(seed: u64, invite: bool) -> Sim {
        let mut rng = Rng::new(seed);
        let reliable = seed % 4 == 0;
        let loss = if reliable || seed % 5 == 1 {
            0
        } else {
            rng.below(60)
        };
        let (min_delay, max_delay) = if reliable {
            let d = 1 + rng.below(100);
            (d, d)
        } else {
            let min = rng.below(50);
            (min, min + rng.below(400))
        };
        let tu_script = if invite && rng.percent(8) {
            // A callee that rings until the caller cancels, or its own no-answer timer.
            vec![(1 + rng.below(5_000), 180), (300_000, 480)]
        } else if invite {
            let ring = rng.percent(70).then(|| 1 + rng.below(5_000));
            let fin = ring.unwrap_or(0) + 1 + rng.below(50_000);
            let code = [200, 486, 603, 302][rng.below(4) as usize];
            ring.map(|r| (r, 180))
                .into_iter()
                .chain([(fin, code)])
                .collect()
        } else {
            let prov = rng.percent(40).then(|| 1 + rng.below(3_000));
            let fin = prov.unwrap_or(0) + 1 + rng.below(40_000);
            let code = [200, 202, 404, 503][rng.below(4) as usize];
            prov.map(|p| (p, 100))
                .into_iter()
                .chain([(fin, code)])
                .collect()
        };
        let reliability = if reliable {
            Reliability::Reliable
        } else {
            Reliability::Unreliable
        };
        let config = TimerConfig::RFC;
        let start = crate::sim::epoch();
        let mut out = Vec::new();
        let client = if invite {
            ClientTx::Invite(ClientInvite::start(&config, reliability, true, &mut out))
        } else {
            ClientTx::NonInvite(ClientNonInvite::start(&config, reliability, &mut out))
        };
        let mut sim = Sim {
            config,
            reliability,
            invite,
            rng,
            wheel: TimerWheel::new(start, Duration::from_millis(1)),
            timers: [Armed::new(), Armed::new(), Armed::new()],
            start,
            now: start,
            link: Link {
                loss,
                min_delay,
                max_delay,
                reliable,
                last: [0, 0],
            },
            client,
            server: None,
            uas: None,
            tu_script,
            tu_code: 0,
            last_code: 0,
            work: VecDeque::new(),
            out: Vec::new(),
            rec: Record::default(),
        };
        sim.execute(Side::Client, out);
        sim
    }

    fn now_ms(&self) -> u64 {
        (self.now - self.start).as_millis() as u64
    }

    /// Runs until nothing is left to happen.
    fn run(&mut self) {
        while let Some(deadline) = self.wheel.next_deadline() {
            self.now = self.now.max(deadline);
            assert!(self.now_ms() < HOUR, "the simulation never settles");
            while let Some((id, ev)) = self.wheel.poll(self.now) {
                self.dispatch(id, ev);
                self.pump();
            }
        }
    }

    fn slot(side: Side) -> usize {
        match side {
            Side::Client => 0,
            Side::Server => 1,
            Side::Uas => 2,
        }
    }

    fn dispatch(&mut self, id: TimerId, ev: Ev) {
        match ev {
            Ev::Timer(side, kind) => {
                if self.timers[Self::slot(side)].fired(kind, id) {
                    self.work.push_back(match side {
                        Side::Client => In::Client(ClientInput::Timer(kind)),
                        Side::Server => In::Server(ServerInput::Timer(kind)),
                        Side::Uas => In::Uas(Uas2xxInput::Timer(kind)),
                    });
                }
            }
            Ev::ServerTu(code) => self
                .work
                .push_back(In::Server(ServerInput::TuResponse(code))),
            Ev::ToClient(Msg::Response(code)) => {
                if !self.client_done() {
                    self.work.push_back(In::Client(ClientInput::Response(code)));
                } else if self.invite && (200..300).contains(&code) {
                    // A stray 2xx goes to the UAC core, which ACKs it (§13.2.2.4).
                    self.send(true, Msg::Ack2xx);
                }
            }
            Ev::ToClient(_) => unreachable!("only responses go to the client"),
            Ev::ToServer(msg) => self.arrive_at_server(msg),
        }
    }

    fn arrive_at_server(&mut self, msg: Msg) {
        let alive = self.server.as_ref().map(|s| match s {
            ServerTx::Invite(m) => !m.is_terminated(),
            ServerTx::NonInvite(m) => !m.is_terminated(),
        });
        match (msg, alive) {
            (Msg::Request, None) => self.create_server(),
            (Msg::Request, Some(true)) => self.work.push_back(In::Server(ServerInput::Request)),
            (Msg::Request, Some(false)) => self.rec.late_requests += 1,
            (Msg::Ack, Some(true)) => {
                if let Some(ServerTx::Invite(m)) = &self.server {
                    if matches!(m.state(), ServerInviteState::Completed { .. }) {
                        self.rec.server_acked.get_or_insert(self.now_ms());
                    }
                }
                self.work.push_back(In::Server(ServerInput::Ack));
            }
            // The ACK for a 2xx reaches the transaction while it is Accepted, else the
            // dialog, which hands it to the UAS core.
            (Msg::Ack2xx, Some(true)) => self.work.push_back(In::Server(ServerInput::Ack)),
            (Msg::Ack2xx, _) => self.work.push_back(In::Uas(Uas2xxInput::Ack)),
            // §9.2: the UAS answers 487 to the INVITE unless it already sent a final.
            (Msg::Cancel, Some(true)) => {
                if self.rec.server_final.is_none() {
                    self.work
                        .push_back(In::Server(ServerInput::TuResponse(487)));
                }
            }
            // Stray ACKs and CANCELs after the transaction ended go to the core, which
            // drops them.
            (Msg::Ack | Msg::Cancel, _) => {}
            (Msg::Response(_), _) => unreachable!("only requests go to the server"),
        }
    }

    fn create_server(&mut self) {
        let now = self.now_ms();
        self.rec.server_created = Some(now);
        self.server = Some(if self.invite {
            ServerTx::Invite(ServerInvite::new(self.reliability))
        } else {
            ServerTx::NonInvite(ServerNonInvite::new(self.reliability))
        });
        if self.invite {
            // The SBC answers 100 Trying at once (§17.2.1).
            self.work
                .push_back(In::Server(ServerInput::TuResponse(100)));
        }
        for (at, code) in self.tu_script.clone() {
            self.wheel.arm(
                self.start + Duration::from_millis(now + at),
                Ev::ServerTu(code),
            );
        }
    }

    fn client_done(&self) -> bool {
        match &self.client {
            ClientTx::Invite(m) => m.is_terminated(),
            ClientTx::NonInvite(m) => m.is_terminated(),
        }
    }

    /// Runs queued inputs until none is left; executing outputs may queue more.
    fn pump(&mut self) {
        while let Some(input) = self.work.pop_front() {
            let mut out = std::mem::take(&mut self.out);
            let config = self.config;
            let side = match input {
                In::Client(i) => {
                    match &mut self.client {
                        ClientTx::Invite(m) => m.handle(&config, i, &mut out),
                        ClientTx::NonInvite(m) => m.handle(&config, i, &mut out),
                    }
                    Side::Client
                }
                In::Server(i) => {
                    if let ServerInput::TuResponse(code) = i {
                        self.tu_code = code;
                    }
                    match &mut self.server {
                        Some(ServerTx::Invite(m)) => m.handle(&config, i, &mut out),
                        Some(ServerTx::NonInvite(m)) => m.handle(&config, i, &mut out),
                        None => {}
                    }
                    Side::Server
                }
                In::Uas(i) => {
                    if let Some(m) = &mut self.uas {
                        m.handle(&config, i, &mut out);
                    }
                    Side::Uas
                }
            };
            self.execute(side, out);
        }
    }

    fn execute(&mut self, side: Side, mut out: Vec<Output>) {
        let now = self.now_ms();
        for o in out.drain(..) {
            match o {
                Output::Arm(kind, after) => {
                    let id = self.wheel.arm(self.now + after, Ev::Timer(side, kind));
                    if let Some(old) = self.timers[Self::slot(side)].arm(kind, id) {
                        self.wheel.cancel(old);
                    }
                }
                Output::Cancel(kind) => {
                    if let Some(id) = self.timers[Self::slot(side)].take(kind) {
                        self.wheel.cancel(id);
                    }
                }
                Output::SendRequest => {
                    self.rec.client_sends += 1;
                    self.send(true, Msg::Request);
                }
                Output::SendAck => self.send(true, Msg::Ack),
                Output::SendResponse => {
                    self.last_code = self.tu_code;
                    let code = self.tu_code;
                    if code >= 200 && self.rec.server_final.is_none() {
                        self.rec.server_final = Some((now, code));
                        if self.invite && code < 300 {
                            let mut uas_out = Vec::new();
                            self.uas = Some(Uas2xx::start(&self.config, &mut uas_out));
                            self.execute(Side::Uas, uas_out);
                        }
                    }
                    self.send(false, Msg::Response(code));
                }
                Output::ResendResponse if side == Side::Uas => {
                    // RFC 6026: through the transaction while it is Accepted, else straight
                    // to the transport.
                    let accepted = matches!(
                        &self.server,
                        Some(ServerTx::Invite(m)) if m.state() == ServerInviteState::Accepted
                    );
                    let code = self.rec.server_final.map_or(200, |(_, c)| c);
                    if accepted {
                        self.work
                            .push_back(In::Server(ServerInput::TuResponse(code)));
                    } else {
                        self.send(false, Msg::Response(code));
                    }
                }
                Output::ResendResponse => self.send(false, Msg::Response(self.last_code)),
                Output::Tu(e) => self.tu(side, now, e),
                Output::Terminated => {
                    let at = match side {
                        Side::Client => &mut self.rec.client_terminated,
                        Side::Server => &mut self.rec.server_terminated,
                        Side::Uas => &mut self.rec.uas_terminated,
                    };
                    assert!(at.is_none(), "{side:?} terminated twice");
                    *at = Some(now);
                    assert!(
                        self.timers[Self::slot(side)].is_empty(),
                        "{side:?} terminated with timers armed"
                    );
                }
            }
        }
        self.out = out;
    }

    /// What each side's TU does with an event.
    fn tu(&mut self, side: Side, now: u64, e: TuEvent) {
        match side {
            Side::Client => {
                self.rec.client.push((now, e));
                match e {
                    TuEvent::Final(code) | TuEvent::Additional2xx(code)
                        if self.invite && (200..300).contains(&code) =>
                    {
                        self.send(true, Msg::Ack2xx);
                    }
                    // A proxy's Timer C: CANCEL goes out (not simulated) and the INVITE waits
                    // 64*T1 more for its final.
                    TuEvent::TimerC => {
                        self.deliver(true, Msg::Cancel);
                        self.work.push_back(In::Client(ClientInput::CancelSent));
                    }
                    _ => {}
                }
            }
            Side::Server => {
                self.rec.server.push((now, e));
                if e == TuEvent::Ack {
                    self.work.push_back(In::Uas(Uas2xxInput::Ack));
                }
            }
            Side::Uas => self.rec.uas.push((now, e)),
        }
    }

    /// Puts a message on the link: lost, or delivered after a delay.
    fn send(&mut self, to_server: bool, msg: Msg) {
        if self.link.loss > 0 && self.rng.percent(self.link.loss) {
            return;
        }
        self.deliver(to_server, msg);
    }

    /// Delivers a message after the link's delay.
    fn deliver(&mut self, to_server: bool, msg: Msg) {
        let spread = self.link.max_delay - self.link.min_delay + 1;
        let mut at = self.now_ms() + self.link.min_delay + self.rng.below(spread);
        let dir = usize::from(to_server);
        if self.link.reliable {
            // A stream keeps order.
            at = at.max(self.link.last[dir] + 1);
            self.link.last[dir] = at;
        }
        let ev = if to_server {
            Ev::ToServer(msg)
        } else {
            Ev::ToClient(msg)
        };
        self.wheel.arm(self.start + Duration::from_millis(at), ev);
    }

    /// The RFC's promises for this run.
    fn check(&self, seed: u64) {
        let r = &self.rec;
        let ctx = format!(
            "seed {seed} invite={} {:?} loss={}% delay={}..{} ms script={:?}\n{r:#?}",
            self.invite,
            self.reliability,
            self.link.loss,
            self.link.min_delay,
            self.link.max_delay,
            self.tu_script
        );
        let udp = self.reliability == Reliability::Unreliable;
        let t64 = 32_000;
        assert!(self.wheel.is_empty(), "{ctx}");
        // Client: terminated once, at most one final, the server's.
        let done = r.client_terminated.expect(&ctx);
        let finals: Vec<_> = r
            .client
            .iter()
            .filter_map(|(t, e)| match e {
                TuEvent::Final(c) => Some((*t, *c)),
                _ => None,
            })
            .collect();
        assert!(finals.len() <= 1, "two finals: {ctx}");
        let timeout = r.client.iter().find(|(_, e)| *e == TuEvent::Timeout);
        match (finals.first(), timeout) {
            (Some(&(at, code)), None) => {
                assert_eq!(Some(code), r.server_final.map(|(_, c)| c), "{ctx}");
                let wait = match (self.invite, (200..300).contains(&code), udp) {
                    (true, true, _) => t64,     // Timer M
                    (true, false, true) => t64, // Timer D
                    (false, _, true) => 5_000,  // Timer K
                    (_, _, false) => 0,         // D, K on TCP
                };
                assert_eq!(done, at + wait, "{ctx}");
            }
            (None, Some(&(at, _))) => {
                assert_eq!(done, at, "{ctx}");
                let timer_c = r.client.iter().find(|(_, e)| *e == TuEvent::TimerC);
                match timer_c {
                    // Timer C, then 64*T1 after the CANCEL.
                    Some(&(c, _)) => {
                        let reset = r
                            .client
                            .iter()
                            .filter(|(t, e)| {
                                *t < c && matches!(e, TuEvent::Provisional(p) if *p > 100)
                            })
                            .map(|(t, _)| *t)
                            .max()
                            .unwrap_or(0);
                        assert_eq!(c, reset + 180_000, "{ctx}");
                        assert_eq!(at, c + t64, "{ctx}");
                    }
                    // Timer B or F: 64*T1 from the start, and for INVITE only in Calling.
                    None => {
                        assert_eq!(at, t64, "{ctx}");
                        if self.invite {
                            assert!(
                                !r.client
                                    .iter()
                                    .any(|(_, e)| matches!(e, TuEvent::Provisional(_))),
                                "{ctx}"
                            );
                        }
                    }
                }
            }
            _ => panic!("a client ends with one final or one timeout: {ctx}"),
        }
        let max_sends = match (self.invite, udp) {
            (_, false) => 1,
            (true, true) => 7,
            (false, true) => 11,
        };
        assert!(r.client_sends <= max_sends, "{ctx}");
        assert_eq!(
            r.late_requests, 0,
            "a request outlived its server transaction: {ctx}"
        );
        // Server: created if a request got through; ends as its timers say.
        let Some(created) = r.server_created else {
            assert!(r.server_terminated.is_none(), "{ctx}");
            return;
        };
        let (sent, code) = r.server_final.expect(&ctx);
        assert!(sent >= created, "{ctx}");
        let server_done = r.server_terminated.expect(&ctx);
        let server_timeout = r.server.iter().find(|(_, e)| *e == TuEvent::Timeout);
        if !self.invite {
            assert_eq!(
                server_done,
                sent + if udp { t64 } else { 0 },
                "Timer J: {ctx}"
            );
        } else if (200..300).contains(&code) {
            assert_eq!(server_done, sent + t64, "Timer L: {ctx}");
            assert!(server_timeout.is_none(), "{ctx}");
            let uas_done = r.uas_terminated.expect(&ctx);
            match r.uas.iter().find(|(_, e)| *e == TuEvent::Timeout) {
                Some(&(at, _)) => assert_eq!((at, uas_done), (sent + t64, sent + t64), "{ctx}"),
                None => assert!(uas_done < sent + t64, "{ctx}"),
            }
        } else {
            match r.server_acked {
                Some(acked) => {
                    assert!(server_timeout.is_none(), "{ctx}");
                    assert_eq!(server_done, acked + if udp { 5_000 } else { 0 }, "I: {ctx}");
                }
                None => {
                    assert_eq!(
                        server_timeout.map(|(t, _)| *t),
                        Some(sent + t64),
                        "H: {ctx}"
                    );
                    assert_eq!(server_done, sent + t64, "{ctx}");
                }
            }
        }
        // With no loss every exchange completes.
        if self.link.loss == 0 {
            let arrives = sent + self.link.max_delay;
            if self.invite || arrives < t64 {
                assert_eq!(finals.first().map(|f| f.1), Some(code), "{ctx}");
            }
            if self.invite && code >= 300 {
                assert!(r.server_acked.is_some(), "{ctx}");
            }
            if self.invite && code < 300 {
                assert!(r.uas.is_empty(), "the 2xx was ACKed: {ctx}");
            }
        }
    }
}

/// What the seeds covered, so a change that narrows the simulation shows.
#[derive(Debug, Default)]
struct Coverage {
    finals: u32,
    timeouts: u32,
    lossless: u32,
    reliable: u32,
    provisionals: u32,
    retransmitted: u32,
    additional_2xx: u32,
    timer_c: u32,
    server_timer_h: u32,
    uas_gave_up: u32,
    no_server: u32,
}

fn run_seeds(invite: bool) -> Coverage {
    let mut c = Coverage::default();
    for seed in 0..500 {
        let mut sim = Sim::new(seed, invite);
        sim.run();
        sim.check(seed);
        let r = &sim.rec;
        let has = |events: &[(u64, TuEvent)], f: fn(&TuEvent) -> bool| {
            u32::from(events.iter().any(|(_, e)| f(e)))
        };
        c.finals += has(&r.client, |e| matches!(e, TuEvent::Final(_)));
        c.timeouts += has(&r.client, |e| *e == TuEvent::Timeout);
        c.provisionals += has(&r.client, |e| matches!(e, TuEvent::Provisional(_)));
        c.additional_2xx += has(&r.client, |e| matches!(e, TuEvent::Additional2xx(_)));
        c.timer_c += has(&r.client, |e| *e == TuEvent::TimerC);
        c.server_timer_h += has(&r.server, |e| *e == TuEvent::Timeout);
        c.uas_gave_up += has(&r.uas, |e| *e == TuEvent::Timeout);
        c.lossless += u32::from(sim.link.loss == 0);
        c.reliable += u32::from(sim.link.reliable);
        c.retransmitted += u32::from(r.client_sends > 1);
        c.no_server += u32::from(r.server_created.is_none());
    }
    c
}

#[test]
fn invite_transactions_over_a_lossy_link() {
    let c = run_seeds(true);
    println!("INVITE over 500 seeds: {c:?}");
    assert_eq!(c.finals + c.timeouts, 500);
    assert!(c.finals > 300 && c.timeouts > 0 && c.lossless > 100 && c.reliable > 100);
    assert!(c.retransmitted > 100 && c.additional_2xx > 10 && c.server_timer_h > 0);
    assert!(c.uas_gave_up > 0 && c.no_server > 0 && c.timer_c > 10);
}

#[test]
fn non_invite_transactions_over_a_lossy_link() {
    let c = run_seeds(false);
    println!("non-INVITE over 500 seeds: {c:?}");
    assert_eq!(c.finals + c.timeouts, 500);
    assert!(c.finals > 200 && c.timeouts > 50 && c.lossless > 100 && c.reliable > 100);
    assert!(c.retransmitted > 100 && c.provisionals > 50);
}
