//! Non-INVITE client transaction, RFC 3261 §17.1.2 (Figure 6).
//!
//! Owns: retransmitting the request (Timer E, unreliable transports only) from T1 doubling
//! to T2 in Trying and every T2 in Proceeding, until a final response or Timer F (64*T1);
//! passing provisionals and the one final response to the TU; absorbing retransmitted finals
//! for Timer K (T4 unreliable, 0 reliable). Must not: pass a second final up, or retransmit
//! after the final.

use super::{Class, ClientInput, Output, Outputs, Reliability, TimerConfig, TimerKind, TuEvent};

/// The states of Figure 6, each with the data only it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// The request is out and nothing has come back. Timers E (unreliable) and F.
    Trying {
        /// Timer E retransmissions so far: the next interval is min(T1 * 2^retransmits, T2).
        retransmits: u8,
    },
    /// A provisional came. Timers E (reset to T2 at each firing) and F run on.
    Proceeding,
    /// The final came. Timer K.
    Completed,
    Terminated,
}

/// A non-INVITE client transaction (also the CANCEL's own, §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientNonInvite {
    state: ClientNonInviteState,
    reliability: Reliability,
}

impl ClientNonInvite {
    /// Starts the transaction: sends the request, arms Timer E (unreliable) and Timer F
    /// (§17.1.2.2).
    pub fn start(
        config: &TimerConfig,
        reliability: Reliability,
        out: &mut impl Outputs,
    ) -> ClientNonInvite {
        out.push(Output::SendRequest);
        if let Some(e) = config.initial(TimerKind::E, reliability) {
            out.push(Output::Arm(TimerKind::E, e));
        }
        out.push(Output::Arm(TimerKind::F, config.timeout()));
        ClientNonInvite {
            state: ClientNonInviteState::Trying { retransmits: 0 },
            reliability,
        }
    }

    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// Takes one input; writes what to do to `out`.
    pub fn handle(&mut self, config: &TimerConfig, input: ClientInput, out: &mut impl Outputs) {
        use ClientInput::{CancelSent, Response, Timer, TransportError};
        use ClientNonInviteState::{Completed, Proceeding, Terminated, Trying};
        use TimerKind::{E, F, K};
        match (self.state, input) {
            (Trying { retransmits }, Timer(E)) if self.runs_e() => {
                out.push(Output::SendRequest);
                let n = retransmits.saturating_add(1);
                out.push(Output::Arm(E, config.retransmit_interval(E, n)));
                self.state = Trying { retransmits: n };
            }
            (Proceeding, Timer(E)) if self.runs_e() => {
                out.push(Output::SendRequest);
                out.push(Output::Arm(E, config.t2));
            }
            (Trying { .. } | Proceeding, Timer(F)) => {
                self.leave(out, Some(F));
                self.end(out, Some(TuEvent::Timeout));
            }
            (Trying { .. } | Proceeding, TransportError) => {
                self.leave(out, None);
                self.end(out, Some(TuEvent::TransportError));
            }
            (Trying { .. } | Proceeding, Response(code)) => match Class::of(code) {
                // E and F run on into Proceeding.
                Some(Class::Provisional) => {
                    out.push(Output::Tu(TuEvent::Provisional(code)));
                    self.state = Proceeding;
                }
                Some(Class::Success | Class::Failure) => {
                    self.leave(out, None);
                    out.push(Output::Tu(TuEvent::Final(code)));
                    match config.initial(K, self.reliability) {
                        Some(k) if !k.is_zero() => {
                            out.push(Output::Arm(K, k));
                            self.state = Completed;
                        }
                        _ => self.end(out, None),
                    }
                }
                None => {}
            },
            (Completed, Timer(K)) => self.end(out, None),
            // Absorbed: timers this state does not run; retransmitted responses in
            // Completed (§17.1.2.2: buffered, not passed up); a transport error where
            // nothing is sent; CANCEL (INVITE only); anything after Terminated.
            (Trying { .. } | Proceeding, Timer(_) | CancelSent)
            | (Completed, Response(_) | Timer(_) | TransportError | CancelSent)
            | (Terminated, _) => {}
        }
    }

    /// Timer E runs on unreliable transports only (§17.1.2.2).
    fn runs_e(&self) -> bool {
        self.reliability == Reliability::Unreliable
    }

    /// The timers the current state runs.
    pub fn timers(&self) -> impl Iterator<Item = TimerKind> {
        let unreliable = self.reliability == Reliability::Unreliable;
        let running = match self.state {
            ClientNonInviteState::Trying { .. } | ClientNonInviteState::Proceeding => {
                [unreliable.then_some(TimerKind::E), Some(TimerKind::F)]
            }
            ClientNonInviteState::Completed => [Some(TimerKind::K), None],
            ClientNonInviteState::Terminated => [None, None],
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

    fn end(&mut self, out: &mut impl Outputs, event: Option<TuEvent>) {
        if let Some(e) = event {
            out.push(Output::Tu(e));
        }
        out.push(Output::Terminated);
        self.state = ClientNonInviteState::Terminated;
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::{Step::*, TxHarness};
    use super::*;
    use ClientInput::{CancelSent, Response, Timer};
    use Reliability::{Reliable, Unreliable};
    use TuEvent::*;

    const SEND_FAILED: ClientInput = ClientInput::TransportError;

    #[test]
    fn udp_no_answer_timer_e_doubles_to_t2_then_timer_f() {
        let mut t = TxHarness::client_non_invite(Unreliable);
        t.run_out();
        let sends = [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
        ];
        let mut expect: Vec<_> = sends.map(|at| (at, SendRequest)).to_vec();
        expect.extend([(32_000, Tu(Timeout)), (32_000, Terminated)]);
        assert_eq!(t.ladder(), expect);
    }

    #[test]
    fn udp_proceeding_retransmits_every_t2() {
        let mut t = TxHarness::client_non_invite(Unreliable);
        t.at(600, Response(100));
        t.run_out();
        // The E armed in Trying (1 s after 500) fires, then every T2 (§17.1.2.2).
        let mut expect = vec![
            (0, SendRequest),
            (500, SendRequest),
            (600, Tu(Provisional(100))),
        ];
        for at in [1_500, 5_500, 9_500, 13_500, 17_500, 21_500, 25_500, 29_500] {
            expect.push((at, SendRequest));
        }
        expect.extend([(32_000, Tu(Timeout)), (32_000, Terminated)]);
        assert_eq!(t.ladder(), expect);
    }

    #[test]
    fn udp_final_then_timer_k_absorbs_retransmissions() {
        let mut t = TxHarness::client_non_invite(Unreliable);
        t.at(700, Response(180));
        t.at(2_000, Response(200));
        t.at(2_500, Response(200));
        t.at(3_000, Response(180));
        t.at(4_000, Response(503));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (500, SendRequest),
                (700, Tu(Provisional(180))),
                (1_500, SendRequest),
                (2_000, Tu(Final(200))),
                (7_000, Terminated),
            ]
        );
    }

    #[test]
    fn tcp_sends_once_and_timer_k_is_zero() {
        let mut t = TxHarness::client_non_invite(Reliable);
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (32_000, Tu(Timeout)),
                (32_000, Terminated)
            ]
        );
        let mut t = TxHarness::client_non_invite(Reliable);
        t.at(100, Response(100));
        t.at(20_000, Response(404));
        assert_eq!(
            t.ladder(),
            [
                (0, SendRequest),
                (100, Tu(Provisional(100))),
                (20_000, Tu(Final(404))),
                (20_000, Terminated)
            ]
        );
    }

    #[test]
    fn transport_errors_in_trying_and_proceeding() {
        let mut t = TxHarness::client_non_invite(Unreliable);
        t.at(0, SEND_FAILED);
        assert_eq!(
            t.ladder(),
            [(0, SendRequest), (0, Tu(TransportError)), (0, Terminated)]
        );
        let mut t = TxHarness::client_non_invite(Unreliable);
        t.at(100, Response(183));
        // The E armed in Trying fires at 500, the next one T2 later.
        t.run_until(4_500);
        t.input(SEND_FAILED);
        assert_eq!(
            t.ladder()[1..],
            [
                (100, Tu(Provisional(183))),
                (500, SendRequest),
                (4_500, SendRequest),
                (4_500, Tu(TransportError)),
                (4_500, Terminated)
            ]
        );
        // Completed sends nothing: absorbed.
        let mut t = TxHarness::client_non_invite(Unreliable);
        t.at(100, Response(200));
        t.at(200, SEND_FAILED);
        t.run_out();
        assert_eq!(
            t.ladder()[1..],
            [(100, Tu(Final(200))), (5_100, Terminated)]
        );
    }

    #[test]
    fn stale_timers_cancel_and_odd_codes_are_absorbed() {
        let mut t = TxHarness::client_non_invite(Reliable);
        for kind in TimerKind::ALL {
            if kind != TimerKind::F {
                t.input(Timer(kind));
            }
        }
        t.input(CancelSent);
        t.input(Response(42));
        t.input(Response(1_000));
        assert_eq!(t.ladder(), [(0, SendRequest)]);
        assert_eq!(
            t.machine.state(),
            ClientNonInviteState::Trying { retransmits: 0 }
        );
    }
}
