//! Non-INVITE server transaction, RFC 3261 §17.2.2 (Figure 8).
//!
//! Owns: sending the TU's responses; discarding request retransmissions until the TU has
//! answered, then answering each with the last response sent; staying for Timer J (64*T1
//! unreliable, 0 reliable) after the final so retransmissions are still answered. Must not:
//! retransmit on its own (a non-INVITE server is driven by the client's retransmissions), or
//! send anything from the TU after the final.

use super::{Class, Output, Outputs, Reliability, ServerInput, TimerConfig, TimerKind, TuEvent};

/// The states of Figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// The request is with the TU; nothing sent. No timers.
    Trying,
    /// A provisional was sent. No timers.
    Proceeding,
    /// The final was sent. Timer J.
    Completed,
    Terminated,
}

/// A non-INVITE server transaction (also a CANCEL's own, §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerNonInvite {
    state: ServerNonInviteState,
    reliability: Reliability,
}

impl ServerNonInvite {
    /// A transaction for a new request, in Trying; the layer above passes the request to the
    /// TU (§17.2.2). No outputs.
    pub fn new(reliability: Reliability) -> ServerNonInvite {
        ServerNonInvite {
            state: ServerNonInviteState::Trying,
            reliability,
        }
    }

    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// Takes one input; writes what to do to `out`.
    pub fn handle(&mut self, config: &TimerConfig, input: ServerInput, out: &mut impl Outputs) {
        use ServerInput::{Ack, Request, Timer, TransportError, TuResponse};
        use ServerNonInviteState::{Completed, Proceeding, Terminated, Trying};
        match (self.state, input) {
            (Trying | Proceeding, TuResponse(code)) => match Class::of(code) {
                Some(Class::Provisional) => {
                    out.push(Output::SendResponse);
                    self.state = Proceeding;
                }
                Some(Class::Success | Class::Failure) => {
                    out.push(Output::SendResponse);
                    match config.initial(TimerKind::J, self.reliability) {
                        Some(j) if !j.is_zero() => {
                            out.push(Output::Arm(TimerKind::J, j));
                            self.state = Completed;
                        }
                        _ => self.end(out, None),
                    }
                }
                None => {}
            },
            (Proceeding | Completed, Request) => out.push(Output::ResendResponse),
            (Proceeding, TransportError) => self.end(out, Some(TuEvent::TransportError)),
            (Completed, TransportError) => {
                out.push(Output::Cancel(TimerKind::J));
                self.end(out, Some(TuEvent::TransportError));
            }
            (Completed, Timer(TimerKind::J)) => self.end(out, None),
            // Absorbed: retransmissions before the TU answered (§17.2.2: discarded); a
            // transport error where nothing was sent; anything from the TU after the final;
            // ACK (never matches a non-INVITE transaction, §17.2.3); timers the state does
            // not run; anything after Terminated.
            (Trying, Request | TransportError)
            | (Trying | Proceeding | Completed, Ack | Timer(_))
            | (Completed, TuResponse(_))
            | (Terminated, _) => {}
        }
    }

    /// The timers the current state runs.
    pub fn timers(&self) -> impl Iterator<Item = TimerKind> {
        (self.state == ServerNonInviteState::Completed)
            .then_some(TimerKind::J)
            .into_iter()
    }

    fn end(&mut self, out: &mut impl Outputs, event: Option<TuEvent>) {
        if let Some(e) = event {
            out.push(Output::Tu(e));
        }
        out.push(Output::Terminated);
        self.state = ServerNonInviteState::Terminated;
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::{Step::*, TxHarness};
    use super::*;
    use Reliability::{Reliable, Unreliable};
    use ServerInput::{Ack, Request, Timer, TuResponse};
    use TuEvent::*;

    const SEND_FAILED: ServerInput = ServerInput::TransportError;

    #[test]
    fn udp_final_is_resent_for_every_retransmission_during_timer_j() {
        let mut t = TxHarness::server_non_invite(Unreliable);
        // §17.2.2: retransmissions in Trying are discarded.
        t.at(500, Request);
        t.at(1_000, TuResponse(200));
        t.at(1_500, Request);
        t.at(3_500, Request);
        t.at(7_500, Request);
        t.at(8_000, TuResponse(500));
        t.at(8_000, TuResponse(180));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (1_000, SendResponse),
                (1_500, ResendResponse),
                (3_500, ResendResponse),
                (7_500, ResendResponse),
                (33_000, Terminated),
            ]
        );
    }

    #[test]
    fn udp_provisional_is_resent_in_proceeding() {
        let mut t = TxHarness::server_non_invite(Unreliable);
        t.at(100, TuResponse(100));
        t.at(500, Request);
        t.at(900, TuResponse(183));
        t.at(1_500, Request);
        t.at(2_000, TuResponse(202));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (100, SendResponse),
                (500, ResendResponse),
                (900, SendResponse),
                (1_500, ResendResponse),
                (2_000, SendResponse),
                (34_000, Terminated),
            ]
        );
    }

    #[test]
    fn tcp_timer_j_is_zero() {
        let mut t = TxHarness::server_non_invite(Reliable);
        t.at(10, TuResponse(100));
        t.at(20, TuResponse(200));
        assert_eq!(
            t.ladder(),
            [(10, SendResponse), (20, SendResponse), (20, Terminated)]
        );
    }

    #[test]
    fn transport_errors_terminate() {
        let mut t = TxHarness::server_non_invite(Unreliable);
        t.at(0, SEND_FAILED);
        assert!(t.ladder().is_empty(), "nothing sent in Trying: absorbed");
        t.at(10, TuResponse(100));
        t.at(10, SEND_FAILED);
        assert_eq!(
            t.ladder(),
            [
                (10, SendResponse),
                (10, Tu(TransportError)),
                (10, Terminated)
            ]
        );
        let mut t = TxHarness::server_non_invite(Unreliable);
        t.at(10, TuResponse(200));
        t.at(600, Request);
        t.at(600, SEND_FAILED);
        assert_eq!(
            t.ladder(),
            [
                (10, SendResponse),
                (600, ResendResponse),
                (600, Tu(TransportError)),
                (600, Terminated)
            ]
        );
    }

    #[test]
    fn stale_timers_acks_and_odd_codes_are_absorbed() {
        let mut t = TxHarness::server_non_invite(Unreliable);
        for kind in TimerKind::ALL {
            t.input(Timer(kind));
        }
        t.input(Ack);
        t.input(TuResponse(1));
        assert!(t.ladder().is_empty());
        assert_eq!(t.machine.state(), ServerNonInviteState::Trying);
    }
}
