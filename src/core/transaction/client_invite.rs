//! INVITE client transaction, RFC 3261 §17.1.1 as amended by RFC 6026 §8.4 (Figure 5), with
//! Timer C for a proxy (§16.6 step 11, §16.7 step 2, §16.8) and the 64*T1 wait after CANCEL
//! (§9.1).
//!
//! Owns: retransmitting the INVITE (Timer A, unreliable transports only) until a response or
//! Timer B (64*T1); passing provisionals and the final response to the TU; sending the ACK
//! for a non-2xx final and re-sending it for every retransmission of that final while
//! Timer D runs; absorbing retransmitted 2xx in Accepted for Timer M (64*T1) while passing
//! each one up so the UAC core ACKs it. Must not: build or send the ACK for a 2xx (the UAC
//! core does, §13.2.2.4), or send CANCEL (the layer above, once [`ClientInvite::can_cancel`]).
//!
//! A 2xx that arrives in Completed (a fork answered after another fork's non-2xx) is passed
//! up as [`TuEvent::Additional2xx`] so the UAC core can ACK it and hang up (§13.2.2.4); the
//! RFC figures leave that case open.

use super::{Class, ClientInput, Output, Outputs, Reliability, TimerConfig, TimerKind, TuEvent};

/// The states of Figure 5 (RFC 6026), each with the data only it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// The INVITE is out and nothing has come back. Timers A (unreliable), B and C (if run).
    Calling {
        /// Timer A retransmissions so far: the next interval is T1 * 2^retransmits.
        retransmits: u8,
    },
    /// A provisional came.
    Proceeding {
        /// Timer C is armed (a proxy's transaction, until it fires).
        timer_c: bool,
        /// A CANCEL was sent: Timer B runs for 64*T1 awaiting the final (§9.1).
        cancelled: bool,
    },
    /// A non-2xx final came and was ACKed. Timer D.
    Completed,
    /// RFC 6026: a 2xx came. Timer M.
    Accepted,
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInvite {
    state: ClientInviteState,
    reliability: Reliability,
    /// Run Timer C (a proxy's client transaction, §16.6 step 11).
    timer_c: bool,
}

impl ClientInvite {
    /// Starts the transaction: sends the INVITE, arms Timer A (unreliable), Timer B and, when
    /// `timer_c` (a proxy), Timer C (§17.1.1.2, §16.6 step 11).
    pub fn start(
        config: &TimerConfig,
        reliability: Reliability,
        timer_c: bool,
        out: &mut impl Outputs,
    ) -> ClientInvite {
        out.push(Output::SendRequest);
        if let Some(a) = config.initial(TimerKind::A, reliability) {
            out.push(Output::Arm(TimerKind::A, a));
        }
        out.push(Output::Arm(TimerKind::B, config.timeout()));
        if timer_c {
            out.push(Output::Arm(TimerKind::C, config.timer_c));
        }
        ClientInvite {
            state: ClientInviteState::Calling { retransmits: 0 },
            reliability,
            timer_c,
        }
    }

    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    /// Whether a CANCEL for this INVITE may be sent now: a provisional has come, no final,
    /// and no CANCEL was sent yet (§9.1). Until then the layer above holds the CANCEL; after
    /// a final it drops it.
    pub fn can_cancel(&self) -> bool {
        matches!(
            self.state,
            ClientInviteState::Proceeding {
                cancelled: false,
                ..
            }
        )
    }

    /// Takes one input; writes what to do to `out`.
    pub fn handle(&mut self, config: &TimerConfig, input: ClientInput, out: &mut impl Outputs) {
        use ClientInput::{CancelSent, Response, Timer, TransportError};
        use ClientInviteState::{Accepted, Calling, Completed, Proceeding, Terminated};
        use TimerKind::{A, B, C, D, M};
        match (self.state, input) {
            (Calling { retransmits }, Timer(A)) if self.reliability == Reliability::Unreliable => {
                out.push(Output::SendRequest);
                let n = retransmits.saturating_add(1);
                out.push(Output::Arm(A, config.retransmit_interval(A, n)));
                self.state = Calling { retransmits: n };
            }
            // §16.8: Timer C before any provisional is a 408 to the proxy, as Timer B is.
            (Calling { .. }, Timer(kind @ (B | C))) if kind == B || self.timer_c => {
                self.leave(out, Some(kind));
                self.end(out, Some(TuEvent::Timeout));
            }
            (Calling { .. }, TransportError) => {
                self.leave(out, None);
                self.end(out, Some(TuEvent::TransportError));
            }
            (Calling { .. } | Proceeding { .. }, Response(code)) => match Class::of(code) {
                Some(Class::Provisional) => self.provisional(config, code, out),
                Some(Class::Success) => self.accept(config, code, out),
                Some(Class::Failure) => self.complete(config, code, out),
                None => {}
            },
            (
                Proceeding {
                    timer_c: true,
                    cancelled,
                },
                Timer(C),
            ) => {
                out.push(Output::Tu(TuEvent::TimerC));
                self.state = Proceeding {
                    timer_c: false,
                    cancelled,
                };
            }
            (
                Proceeding {
                    timer_c,
                    cancelled: false,
                },
                CancelSent,
            ) => {
                out.push(Output::Arm(B, config.timeout()));
                self.state = Proceeding {
                    timer_c,
                    cancelled: true,
                };
            }
            (
                Proceeding {
                    cancelled: true, ..
                },
                Timer(B),
            ) => {
                self.leave(out, Some(B));
                self.end(out, Some(TuEvent::Timeout));
            }
            (Completed, Response(code)) => match Class::of(code) {
                // §17.1.1.2: a retransmitted final is ACKed again, not passed up.
                Some(Class::Failure) => out.push(Output::SendAck),
                Some(Class::Success) => out.push(Output::Tu(TuEvent::Additional2xx(code))),
                Some(Class::Provisional) | None => {}
            },
            (Completed, Timer(D)) => self.end(out, None),
            (Completed, TransportError) => {
                self.leave(out, None);
                self.end(out, Some(TuEvent::TransportError));
            }
            // RFC 6026 §8.4: every 2xx in Accepted goes up; nothing else does.
            (Accepted, Response(code)) => {
                if Class::of(code) == Some(Class::Success) {
                    out.push(Output::Tu(TuEvent::Additional2xx(code)));
                }
            }
            (Accepted, Timer(M)) => self.end(out, None),
            // Absorbed: timers this state does not run (stale or duplicate firings); a
            // transport error where nothing is sent (Proceeding, Accepted: a final may
            // still come on another connection, §18.2.2); CANCEL outside Proceeding or twice;
            // anything after Terminated.
            (Calling { .. }, Timer(_) | CancelSent)
            | (Proceeding { .. }, Timer(_) | TransportError | CancelSent)
            | (Completed, Timer(_) | CancelSent)
            | (Accepted, Timer(_) | TransportError | CancelSent)
            | (Terminated, _) => {}
        }
    }

    /// A provisional in Calling or Proceeding: stop retransmitting, reset Timer C unless it
    /// is a 100 (§16.7 step 2), pass it up.
    fn provisional(&mut self, config: &TimerConfig, code: u16, out: &mut impl Outputs) {
        let (timer_c, cancelled) = match self.state {
            ClientInviteState::Calling { .. } => {
                // Timer C keeps running: only a provisional other than 100 resets it.
                self.leave_except_c(out);
                (self.timer_c, false)
            }
            ClientInviteState::Proceeding { timer_c, cancelled } => (timer_c, cancelled),
            _ => return,
        };
        if timer_c && code > 100 {
            out.push(Output::Arm(TimerKind::C, config.timer_c));
        }
        out.push(Output::Tu(TuEvent::Provisional(code)));
        self.state = ClientInviteState::Proceeding { timer_c, cancelled };
    }

    /// A 2xx in Calling or Proceeding: RFC 6026 Accepted, Timer M.
    fn accept(&mut self, config: &TimerConfig, code: u16, out: &mut impl Outputs) {
        self.leave(out, None);
        out.push(Output::Tu(TuEvent::Final(code)));
        out.push(Output::Arm(TimerKind::M, config.timeout()));
        self.state = ClientInviteState::Accepted;
    }

    /// A 300–699 in Calling or Proceeding: ACK it, pass it up, wait Timer D (§17.1.1.2).
    fn complete(&mut self, config: &TimerConfig, code: u16, out: &mut impl Outputs) {
        self.leave(out, None);
        out.push(Output::SendAck);
        out.push(Output::Tu(TuEvent::Final(code)));
        match config.initial(TimerKind::D, self.reliability) {
            Some(d) if !d.is_zero() => {
                out.push(Output::Arm(TimerKind::D, d));
                self.state = ClientInviteState::Completed;
            }
            _ => self.end(out, None),
        }
    }

    /// The timers the current state runs.
    pub fn timers(&self) -> impl Iterator<Item = TimerKind> {
        use TimerKind::{A, B, C, D, M};
        let unreliable = self.reliability == Reliability::Unreliable;
        let running = match self.state {
            ClientInviteState::Calling { .. } => {
                [unreliable.then_some(A), Some(B), self.timer_c.then_some(C)]
            }
            ClientInviteState::Proceeding { timer_c, cancelled } => {
                [timer_c.then_some(C), cancelled.then_some(B), None]
            }
            ClientInviteState::Completed => [Some(D), None, None],
            ClientInviteState::Accepted => [Some(M), None, None],
            ClientInviteState::Terminated => [None; 3],
        };
        running.into_iter().flatten()
    }

    /// Cancels every timer the current state runs, except `fired` (already off the wheel).
    fn leave(&self, out: &mut impl Outputs, fired: Option<TimerKind>) {
        for kind in self.timers() {
            if Some(kind) != fired {
                out.push(Output::Cancel(kind));
            }
        }
    }

    /// Leaving Calling for Proceeding: A and B stop, C runs on.
    fn leave_except_c(&self, out: &mut impl Outputs) {
        for kind in self.timers() {
            if kind != TimerKind::C {
                out.push(Output::Cancel(kind));
            }
        }
    }

    fn end(&mut self, out: &mut impl Outputs, event: Option<TuEvent>) {
        if let Some(e) = event {
            out.push(Output::Tu(e));
        }
        out.push(Output::Terminated);
        self.state = ClientInviteState::Terminated;
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::{Step::*, TxHarness};
    use super::*;
    use ClientInput::{CancelSent, Response, Timer};
    const SEND_FAILED: ClientInput = ClientInput::TransportError;
    use Reliability::{Reliable, Unreliable};
    use TuEvent::*;

    #[test]
    fn udp_no_answer_timer_a_doubles_from_t1_then_timer_b() {
        let mut t = TxHarness::client_invite(Unreliable);
        t.run_out();
        let mut expect: Vec<_> = [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]
            .map(|at| (at, SendRequest))
            .to_vec();
        expect.extend([(32_000, Tu(Timeout)), (32_000, Terminated)]);
        assert_eq!(t.ladder(), expect);
    }

    #[test]
    fn tcp_no_answer_sends_once_and_times_out_at_64_t1() {
        let mut t = TxHarness::client_invite(Reliable);
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (32_000, Tu(Timeout)),
                (32_000, Terminated)
            ]
        );
    }

    #[test]
    fn udp_provisional_stops_retransmissions_then_non_2xx_is_acked_for_timer_d() {
        let mut t = TxHarness::client_invite(Unreliable);
        t.at(800, Response(100));
        assert_eq!(
            t.state(),
            ClientInviteState::Proceeding {
                timer_c: false,
                cancelled: false
            }
        );
        t.at(1_000, Response(180));
        // Proceeding has no timer: nothing happens however long the callee rings.
        t.run_until(200_000);
        t.input(Response(486));
        t.at(201_000, Response(486));
        t.at(202_000, Response(180));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (500, SendRequest),
                (800, Tu(Provisional(100))),
                (1_000, Tu(Provisional(180))),
                (200_000, SendAck),
                (200_000, Tu(Final(486))),
                // §17.1.1.2: a retransmitted final is ACKed again, not passed up.
                (201_000, SendAck),
                (232_000, Terminated),
            ]
        );
    }

    #[test]
    fn tcp_non_2xx_is_acked_and_timer_d_is_zero() {
        let mut t = TxHarness::client_invite(Reliable);
        t.at(300, Response(603));
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (300, SendAck),
                (300, Tu(Final(603))),
                (300, Terminated)
            ]
        );
        assert!(t.machine.is_terminated());
    }

    #[test]
    fn rfc_6026_accepted_passes_every_2xx_up_for_timer_m() {
        for reliability in [Unreliable, Reliable] {
            let mut t = TxHarness::client_invite(reliability);
            t.at(200, Response(200));
            assert_eq!(t.state(), ClientInviteState::Accepted);
            t.at(700, Response(200));
            t.at(900, Response(180));
            t.at(1_200, Response(486));
            t.at(1_500, Response(202));
            t.run_out();
            assert_eq!(
                t.ladder(),
                [
                    (0, SendRequest),
                    (200, Tu(Final(200))),
                    (700, Tu(Additional2xx(200))),
                    (1_500, Tu(Additional2xx(202))),
                    (32_200, Terminated),
                ],
                "{reliability:?}"
            );
        }
    }

    #[test]
    fn a_2xx_in_proceeding_is_accepted_too() {
        let mut t = TxHarness::client_invite(Unreliable);
        t.at(100, Response(183));
        t.at(5_000, Response(200));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (100, Tu(Provisional(183))),
                (5_000, Tu(Final(200))),
                (37_000, Terminated),
            ]
        );
    }

    #[test]
    fn a_2xx_after_a_non_2xx_goes_up_to_be_acked() {
        let mut t = TxHarness::client_invite(Unreliable);
        t.at(100, Response(486));
        t.at(2_000, Response(200));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (100, SendAck),
                (100, Tu(Final(486))),
                (2_000, Tu(Additional2xx(200))),
                (32_100, Terminated),
            ]
        );
    }

    #[test]
    fn transport_errors() {
        // Calling: the INVITE could not be sent; the TU treats it as 503 (§8.1.3.1).
        for reliability in [Unreliable, Reliable] {
            let mut t = TxHarness::client_invite(reliability);
            t.at(0, SEND_FAILED);
            assert_eq!(
                t.ladder(),
                [(0, SendRequest), (0, Tu(TransportError)), (0, Terminated)]
            );
        }
        // Retransmission fails.
        let mut t = TxHarness::client_invite(Unreliable);
        t.run_until(500);
        t.input(SEND_FAILED);
        assert_eq!(
            t.take_ladder()[2..],
            [(500, Tu(TransportError)), (500, Terminated)]
        );
        // Completed: the ACK could not be sent.
        let mut t = TxHarness::client_invite(Unreliable);
        t.at(100, Response(404));
        t.at(100, SEND_FAILED);
        assert_eq!(
            t.ladder()[1..],
            [
                (100, SendAck),
                (100, Tu(Final(404))),
                (100, Tu(TransportError)),
                (100, Terminated)
            ]
        );
        // Proceeding and Accepted send nothing: absorbed.
        let mut t = TxHarness::client_invite(Unreliable);
        t.at(100, Response(180));
        t.at(200, SEND_FAILED);
        t.at(300, Response(200));
        t.at(400, SEND_FAILED);
        assert_eq!(
            t.ladder()[1..],
            [(100, Tu(Provisional(180))), (300, Tu(Final(200)))]
        );
    }

    #[test]
    fn cancel_only_after_a_provisional_then_64_t1_for_the_final() {
        let mut t = TxHarness::client_invite(Unreliable);
        assert!(
            !t.machine.can_cancel(),
            "§9.1: no CANCEL before a provisional"
        );
        t.at(100, CancelSent);
        assert_eq!(t.state(), ClientInviteState::Calling { retransmits: 0 });
        t.at(700, Response(180));
        assert!(t.machine.can_cancel());
        t.at(10_000, CancelSent);
        assert!(!t.machine.can_cancel(), "one CANCEL");
        t.at(11_000, CancelSent);
        // No 487 ever comes: the transaction is destroyed 64*T1 after the CANCEL (§9.1).
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (500, SendRequest),
                (700, Tu(Provisional(180))),
                (42_000, Tu(Timeout)),
                (42_000, Terminated),
            ]
        );
        // The usual end: the 487 comes.
        let mut t = TxHarness::client_invite(Unreliable);
        t.at(100, Response(180));
        t.at(1_000, CancelSent);
        t.at(1_100, Response(487));
        assert!(!t.machine.can_cancel(), "no CANCEL after a final");
        t.run_out();
        assert_eq!(
            t.ladder()[2..],
            [
                (1_100, SendAck),
                (1_100, Tu(Final(487))),
                (33_100, Terminated)
            ]
        );
        // After a 2xx neither.
        let mut t = TxHarness::client_invite(Reliable);
        t.at(100, Response(200));
        assert!(!t.machine.can_cancel());
    }

    #[test]
    fn timer_c_reset_by_provisionals_other_than_100() {
        let mut t = TxHarness::client_invite_with_timer_c(Unreliable);
        t.at(50, Response(100));
        assert_eq!(
            t.armed(),
            [TimerKind::C],
            "100 does not reset C, A and B stop"
        );
        t.at(1_000, Response(180));
        t.at(61_000, Response(183));
        // C fires 3 min after the 183: the proxy sends CANCEL and waits 64*T1 for the 487.
        t.run_until(241_000);
        assert_eq!(t.ladder().last(), Some(&(241_000, Tu(TimerC))));
        t.input(CancelSent);
        t.run_out();
        assert_eq!(
            t.ladder()[1..],
            [
                (50, Tu(Provisional(100))),
                (1_000, Tu(Provisional(180))),
                (61_000, Tu(Provisional(183))),
                (241_000, Tu(TimerC)),
                (273_000, Tu(Timeout)),
                (273_000, Terminated),
            ]
        );
        // In Calling, Timer B (64*T1) comes long before Timer C, and C goes with it.
        let mut t = TxHarness::client_invite_with_timer_c(Reliable);
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (32_000, Tu(Timeout)),
                (32_000, Terminated)
            ]
        );
    }

    #[test]
    fn timer_c_before_any_provisional_is_a_timeout() {
        // §16.8: as if a 408 came. Only reachable with Timer C below 64*T1.
        let config = TimerConfig {
            timer_c: Duration::from_secs(10),
            ..TimerConfig::RFC
        };
        let mut out = Vec::new();
        let mut m = ClientInvite::start(&config, Reliable, true, &mut out);
        out.clear();
        m.handle(&config, Timer(TimerKind::C), &mut out);
        assert_eq!(
            out,
            [
                Output::Cancel(TimerKind::B),
                Output::Tu(Timeout),
                Output::Terminated
            ]
        );
    }

    #[test]
    fn stale_timers_and_odd_codes_are_absorbed() {
        let mut t = TxHarness::client_invite(Reliable);
        for kind in TimerKind::ALL {
            if kind != TimerKind::B {
                t.input(Timer(kind));
            }
        }
        t.input(Response(99));
        t.input(Response(700));
        t.input(Response(0));
        assert_eq!(t.ladder(), [(0, SendRequest)]);
        t.at(100, Response(180));
        for kind in TimerKind::ALL {
            t.input(Timer(kind));
        }
        t.at(200, Response(500));
        t.input(Timer(TimerKind::D));
        for kind in TimerKind::ALL {
            t.input(Timer(kind));
            t.input(Response(200));
            t.input(SEND_FAILED);
        }
        assert_eq!(
            t.ladder()[1..],
            [
                (100, Tu(Provisional(180))),
                (200, SendAck),
                (200, Tu(Final(500))),
                (200, Terminated)
            ]
        );
    }

    use std::time::Duration;

    impl TxHarness<ClientInvite> {
        fn state(&self) -> ClientInviteState {
            self.machine.state()
        }
    }
}
