//! Test harness: one machine, the real [`TimerWheel`], a virtual clock and the ladder of what
//! the machine did, in milliseconds since its start (STYLE rule 11).
//!
//! The harness executes outputs as the layer above would: `Arm` replaces the kind's timer in
//! the wheel, `Cancel` removes it (and must name a timer that is armed), a popped timer whose
//! id is stale is ignored. After every input it checks that the armed timers are exactly the
//! ones the machine's state runs, that nothing comes out after `Terminated`, and that a
//! terminated machine leaves the wheel empty.

use std::time::{Duration, Instant};

use super::{
    Armed, ClientInput, ClientInvite, ClientNonInvite, Output, Reliability, ServerInput,
    ServerInvite, ServerNonInvite, TimerConfig, TimerKind, TuEvent, Uas2xx, Uas2xxInput,
};
use crate::core::timer::{TimerId, TimerWheel};

/// What a machine did, as a ladder diagram shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SendRequest,
    SendAck,
    SendResponse,
    ResendResponse,
    Tu(TuEvent),
    Terminated,
}

/// The uniform face of the five machines for the harness.
pub trait Machine {
    type Input: Copy + std::fmt::Debug;
    fn timer(kind: TimerKind) -> Self::Input;
    fn feed(&mut self, config: &TimerConfig, input: Self::Input, out: &mut Vec<Output>);
    fn running(&self) -> Vec<TimerKind>;
    fn done(&self) -> bool;
}

macro_rules! machine {
    ($ty:ty, $input:ty, $timer:expr) => {
        impl Machine for $ty {
            type Input = $input;
            fn timer(kind: TimerKind) -> $input {
                $timer(kind)
            }
            fn feed(&mut self, config: &TimerConfig, input: $input, out: &mut Vec<Output>) {
                self.handle(config, input, out)
            }
            fn running(&self) -> Vec<TimerKind> {
                self.timers().collect()
            }
            fn done(&self) -> bool {
                self.is_terminated()
            }
        }
    };
}

machine!(ClientInvite, ClientInput, ClientInput::Timer);
machine!(ClientNonInvite, ClientInput, ClientInput::Timer);
machine!(ServerInvite, ServerInput, ServerInput::Timer);
machine!(ServerNonInvite, ServerInput, ServerInput::Timer);
machine!(Uas2xx, Uas2xxInput, Uas2xxInput::Timer);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One machine on a virtual clock.
pub struct TxHarness<M: Machine> {
    pub config: TimerConfig,
    pub machine: M,
    wheel: TimerWheel<TimerKind>,
    armed: Armed<TimerId>,
    start: Instant,
    now: Instant,
    ladder: Vec<(u64, Step)>,
    out: Vec<Output>,
}

impl<M: Machine> TxHarness<M> {
    fn with(config: TimerConfig, make: impl FnOnce(&TimerConfig, &mut Vec<Output>) -> M) -> Self {
        let start = crate::sim::epoch();
        let mut out = Vec::new();
        let machine = make(&config, &mut out);
        let mut h = TxHarness {
            config,
            machine,
            wheel: TimerWheel::new(start, ms(1)),
            armed: Armed::new(),
            start,
            now: start,
            ladder: Vec::new(),
            out,
        };
        h.execute();
        h
    }

    /// Milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        (self.now - self.start).as_millis() as u64
    }

    /// Feeds one input now.
    pub fn input(&mut self, input: M::Input) {
        let done = self.machine.done();
        self.machine.feed(&self.config, input, &mut self.out);
        assert!(
            !done || self.out.is_empty(),
            "output after Terminated on {input:?}: {:?}",
            self.out
        );
        self.execute();
    }

    /// Runs the clock to `at_ms`, then feeds `input`.
    pub fn at(&mut self, at_ms: u64, input: M::Input) {
        self.run_until(at_ms);
        self.input(input);
    }

    /// Runs the clock to `at_ms`, firing every timer due on the way at its deadline.
    pub fn run_until(&mut self, at_ms: u64) {
        let until = self.start + ms(at_ms);
        assert!(until >= self.now, "the clock runs forwards");
        while let Some(deadline) = self.wheel.next_deadline().filter(|d| *d <= until) {
            self.now = self.now.max(deadline);
            while let Some((id, kind)) = self.wheel.poll(self.now) {
                if self.armed.fired(kind, id) {
                    self.input(M::timer(kind));
                }
            }
        }
        self.now = until;
    }

    /// Runs until no timer is left (at most an hour of virtual time).
    pub fn run_out(&mut self) {
        while let Some(deadline) = self.wheel.next_deadline() {
            let at = (deadline - self.start).as_millis() as u64;
            assert!(at < 3_600_000, "timers run forever");
            self.run_until(at);
        }
    }

    /// The ladder so far.
    pub fn ladder(&self) -> &[(u64, Step)] {
        &self.ladder
    }

    /// Takes the ladder so far, to compare the next stretch on its own.
    pub fn take_ladder(&mut self) -> Vec<(u64, Step)> {
        std::mem::take(&mut self.ladder)
    }

    /// Timer kinds armed in the wheel now, sorted.
    pub fn armed(&self) -> Vec<TimerKind> {
        let mut k: Vec<_> = self.armed.kinds().collect();
        k.sort_by_key(|k| *k as u8);
        k
    }

    fn execute(&mut self) {
        let at = self.now_ms();
        for o in std::mem::take(&mut self.out) {
            let step = match o {
                Output::Arm(kind, after) => {
                    let id = self.wheel.arm(self.now + after, kind);
                    if let Some(old) = self.armed.arm(kind, id) {
                        self.wheel.cancel(old);
                    }
                    continue;
                }
                Output::Cancel(kind) => {
                    let id = self.armed.take(kind);
                    assert!(id.is_some(), "Cancel({kind:?}) of a timer not armed");
                    if let Some(id) = id {
                        self.wheel.cancel(id);
                    }
                    continue;
                }
                Output::SendRequest => Step::SendRequest,
                Output::SendAck => Step::SendAck,
                Output::SendResponse => Step::SendResponse,
                Output::ResendResponse => Step::ResendResponse,
                Output::Tu(e) => Step::Tu(e),
                Output::Terminated => Step::Terminated,
            };
            self.ladder.push((at, step));
        }
        let mut running = self.machine.running();
        running.sort_by_key(|k| *k as u8);
        assert_eq!(
            self.armed(),
            running,
            "armed timers vs the state's at {at} ms"
        );
        if self.machine.done() {
            assert!(self.wheel.is_empty(), "a terminated machine left timers");
            assert_eq!(
                self.ladder.last().map(|(_, s)| *s),
                Some(Step::Terminated),
                "terminated without saying so"
            );
        }
    }
}

impl TxHarness<ClientInvite> {
    pub fn client_invite(reliability: Reliability) -> Self {
        Self::with(TimerConfig::RFC, |c, out| {
            ClientInvite::start(c, reliability, false, out)
        })
    }

    /// A proxy's client INVITE transaction: with Timer C.
    pub fn client_invite_with_timer_c(reliability: Reliability) -> Self {
        Self::with(TimerConfig::RFC, |c, out| {
            ClientInvite::start(c, reliability, true, out)
        })
    }
}

impl TxHarness<ClientNonInvite> {
    pub fn client_non_invite(reliability: Reliability) -> Self {
        Self::with(TimerConfig::RFC, |c, out| {
            ClientNonInvite::start(c, reliability, out)
        })
    }
}

impl TxHarness<ServerInvite> {
    pub fn server_invite(reliability: Reliability) -> Self {
        Self::with(TimerConfig::RFC, |_, _| ServerInvite::new(reliability))
    }
}

impl TxHarness<ServerNonInvite> {
    pub fn server_non_invite(reliability: Reliability) -> Self {
        Self::with(TimerConfig::RFC, |_, _| ServerNonInvite::new(reliability))
    }
}

impl TxHarness<Uas2xx> {
    pub fn uas_2xx() -> Self {
        Self::with(TimerConfig::RFC, Uas2xx::start)
    }
}
