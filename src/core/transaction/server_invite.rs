//! INVITE server transaction, RFC 3261 §17.2.1 as amended by RFC 6026 §8.5–§8.7 (Figure 7).
//!
//! Owns: sending the TU's responses; answering a retransmitted INVITE with the last
//! provisional; resending a non-2xx final (Timer G, unreliable transports only, T1 doubling
//! to T2) until the ACK or Timer H (64*T1); absorbing ACK retransmissions in Confirmed for
//! Timer I (T4 unreliable, 0 reliable); after a 2xx (RFC 6026 Accepted, Timer L = 64*T1)
//! absorbing retransmitted INVITEs, passing ACKs to the TU and sending the TU's 2xx
//! retransmissions. Must not: retransmit a 2xx on its own (the UAS core does, [`super::Uas2xx`])
//! or send 100 Trying unasked (the layer above feeds `TuResponse(100)` when it wants one).
//!
//! A transport error informs the TU and leaves the state as it is in Proceeding, Completed
//! and Accepted, as Figure 7 of RFC 6026 draws it: the client retransmits, and Timers H and
//! L still bound the transaction.

use super::{Class, Output, Outputs, Reliability, ServerInput, TimerConfig, TimerKind, TuEvent};

/// The states of Figure 7 (RFC 6026), each with the data only it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// The INVITE is with the TU. No timers.
    Proceeding {
        /// A provisional was sent: a retransmitted INVITE is answered with it.
        provisional_sent: bool,
    },
    /// A 300–699 was sent. Timers G (unreliable) and H.
    Completed {
        /// Timer G retransmissions so far: the next interval is min(T1 * 2^retransmits, T2).
        retransmits: u8,
    },
    /// The ACK came. Timer I.
    Confirmed,
    /// RFC 6026: a 2xx was sent. Timer L.
    Accepted,
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInvite {
    state: ServerInviteState,
    reliability: Reliability,
}

impl ServerInvite {
    /// A transaction for a new INVITE, in Proceeding; the layer above passes the INVITE to
    /// the TU (§17.2.1). No outputs.
    pub fn new(reliability: Reliability) -> ServerInvite {
        ServerInvite {
            state: ServerInviteState::Proceeding {
                provisional_sent: false,
            },
            reliability,
        }
    }

    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// Takes one input; writes what to do to `out`.
    pub fn handle(&mut self, config: &TimerConfig, input: ServerInput, out: &mut impl Outputs) {
        use ServerInput::{Ack, Request, Timer, TransportError, TuResponse};
        use ServerInviteState::{Accepted, Completed, Confirmed, Proceeding, Terminated};
        use TimerKind::{G, H, I, L};
        match (self.state, input) {
            (Proceeding { provisional_sent }, Request) => {
                if provisional_sent {
                    out.push(Output::ResendResponse);
                }
            }
            (Proceeding { .. }, TuResponse(code)) => match Class::of(code) {
                Some(Class::Provisional) => {
                    out.push(Output::SendResponse);
                    self.state = Proceeding {
                        provisional_sent: true,
                    };
                }
                Some(Class::Success) => {
                    out.push(Output::SendResponse);
                    out.push(Output::Arm(L, config.timeout()));
                    self.state = Accepted;
                }
                Some(Class::Failure) => {
                    out.push(Output::SendResponse);
                    if let Some(g) = config.initial(G, self.reliability) {
                        out.push(Output::Arm(G, g));
                    }
                    out.push(Output::Arm(H, config.timeout()));
                    self.state = Completed { retransmits: 0 };
                }
                None => {}
            },
            (Proceeding { .. } | Completed { .. } | Accepted, TransportError) => {
                out.push(Output::Tu(TuEvent::TransportError));
            }
            (Completed { retransmits }, Timer(G)) if self.runs_g() => {
                out.push(Output::ResendResponse);
                let n = retransmits.saturating_add(1);
                out.push(Output::Arm(G, config.retransmit_interval(G, n)));
                self.state = Completed { retransmits: n };
            }
            (Completed { .. }, Request) => out.push(Output::ResendResponse),
            (Completed { .. }, Ack) => {
                self.leave(out, None);
                match config.initial(I, self.reliability) {
                    Some(i) if !i.is_zero() => {
                        out.push(Output::Arm(I, i));
                        self.state = Confirmed;
                    }
                    _ => self.end(out, None),
                }
            }
            (Completed { .. }, Timer(H)) => {
                self.leave(out, Some(H));
                self.end(out, Some(TuEvent::Timeout));
            }
            (Confirmed, Timer(I)) => self.end(out, None),
            (Accepted, Ack) => out.push(Output::Tu(TuEvent::Ack)),
            (Accepted, TuResponse(code)) => {
                if Class::of(code) == Some(Class::Success) {
                    out.push(Output::SendResponse);
                }
            }
            (Accepted, Timer(L)) => self.end(out, None),
            // Absorbed: an ACK before any final; a provisional or another final from the TU
            // once a final was sent (refused: no SendResponse); a retransmitted INVITE in
            // Accepted (RFC 6026 §8.7) and ACKs in Confirmed (§17.2.1); timers the state does
            // not run; anything after Terminated.
            (Proceeding { .. }, Ack | Timer(_))
            | (Completed { .. }, TuResponse(_) | Timer(_))
            | (Confirmed, Request | Ack | TuResponse(_) | Timer(_) | TransportError)
            | (Accepted, Request | Timer(_))
            | (Terminated, _) => {}
        }
    }

    /// Timer G runs on unreliable transports only (§17.2.1).
    fn runs_g(&self) -> bool {
        self.reliability == Reliability::Unreliable
    }

    /// The timers the current state runs.
    pub fn timers(&self) -> impl Iterator<Item = TimerKind> {
        let running = match self.state {
            ServerInviteState::Proceeding { .. } | ServerInviteState::Terminated => [None, None],
            ServerInviteState::Completed { .. } => {
                [self.runs_g().then_some(TimerKind::G), Some(TimerKind::H)]
            }
            ServerInviteState::Confirmed => [Some(TimerKind::I), None],
            ServerInviteState::Accepted => [Some(TimerKind::L), None],
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
        self.state = ServerInviteState::Terminated;
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
    fn udp_non_2xx_timer_g_doubles_to_t2_until_timer_h() {
        let mut t = TxHarness::server_invite(Unreliable);
        t.at(0, TuResponse(100));
        t.at(400, Request);
        t.at(1_000, TuResponse(486));
        t.run_out();
        let mut expect = vec![
            (0, SendResponse),
            (400, ResendResponse),
            (1_000, SendResponse),
        ];
        for at in [
            1_500, 2_500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500, 32_500,
        ] {
            expect.push((at, ResendResponse));
        }
        expect.extend([(33_000, Tu(Timeout)), (33_000, Terminated)]);
        assert_eq!(t.ladder(), expect);
    }

    #[test]
    fn udp_ack_confirms_and_timer_i_absorbs_ack_retransmissions() {
        let mut t = TxHarness::server_invite(Unreliable);
        t.at(0, TuResponse(100));
        t.at(200, TuResponse(180));
        t.at(300, Request);
        t.at(1_000, TuResponse(404));
        t.at(1_800, Request);
        t.at(2_000, Ack);
        assert_eq!(t.machine.state(), ServerInviteState::Confirmed);
        t.at(2_500, Ack);
        t.at(3_000, Request);
        t.at(3_100, TuResponse(500));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendResponse),
                (200, SendResponse),
                (300, ResendResponse),
                (1_000, SendResponse),
                (1_500, ResendResponse),
                (1_800, ResendResponse),
                (7_000, Terminated),
            ]
        );
    }

    #[test]
    fn tcp_non_2xx_no_timer_g_and_timer_i_is_zero() {
        let mut t = TxHarness::server_invite(Reliable);
        t.at(0, TuResponse(100));
        t.at(1_000, TuResponse(486));
        t.at(1_300, Request);
        t.at(1_500, Ack);
        assert_eq!(
            t.ladder(),
            [
                (0, SendResponse),
                (1_000, SendResponse),
                (1_300, ResendResponse),
                (1_500, Terminated)
            ]
        );
        // No ACK at all: Timer H.
        let mut t = TxHarness::server_invite(Reliable);
        t.at(1_000, TuResponse(486));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (1_000, SendResponse),
                (33_000, Tu(Timeout)),
                (33_000, Terminated)
            ]
        );
    }

    #[test]
    fn rfc_6026_accepted_absorbs_invites_passes_acks_sends_2xx_for_timer_l() {
        for reliability in [Unreliable, Reliable] {
            let mut t = TxHarness::server_invite(reliability);
            t.at(0, TuResponse(100));
            t.at(1_000, TuResponse(200));
            assert_eq!(t.machine.state(), ServerInviteState::Accepted);
            t.at(1_200, Request);
            t.at(1_500, TuResponse(200));
            t.at(1_600, TuResponse(180));
            t.at(1_700, TuResponse(486));
            t.at(2_000, Ack);
            t.at(2_100, Ack);
            t.run_out();
            assert_eq!(
                t.ladder(),
                [
                    (0, SendResponse),
                    (1_000, SendResponse),
                    (1_500, SendResponse),
                    (2_000, Tu(TuEvent::Ack)),
                    (2_100, Tu(TuEvent::Ack)),
                    (33_000, Terminated),
                ],
                "{reliability:?}"
            );
        }
    }

    #[test]
    fn retransmission_before_any_provisional_is_absorbed() {
        let mut t = TxHarness::server_invite(Unreliable);
        t.at(100, Request);
        t.at(150, Ack);
        assert!(t.ladder().is_empty());
        t.at(200, TuResponse(183));
        t.at(300, Request);
        assert_eq!(t.ladder(), [(200, SendResponse), (300, ResendResponse)]);
    }

    #[test]
    fn transport_errors_inform_the_tu_and_keep_the_state() {
        // RFC 6026 Figure 7: Proceeding, Completed and Accepted loop on a transport error.
        let mut t = TxHarness::server_invite(Unreliable);
        t.at(0, TuResponse(100));
        t.at(0, SEND_FAILED);
        t.at(500, TuResponse(480));
        t.at(500, SEND_FAILED);
        assert_eq!(
            t.machine.state(),
            ServerInviteState::Completed { retransmits: 0 }
        );
        t.at(1_500, Ack);
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendResponse),
                (0, Tu(TransportError)),
                (500, SendResponse),
                (500, Tu(TransportError)),
                (1_000, ResendResponse),
                (6_500, Terminated),
            ]
        );
        let mut t = TxHarness::server_invite(Reliable);
        t.at(0, TuResponse(200));
        t.at(0, SEND_FAILED);
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (0, SendResponse),
                (0, Tu(TransportError)),
                (32_000, Terminated)
            ]
        );
    }

    #[test]
    fn stale_timers_and_odd_codes_are_absorbed() {
        let mut t = TxHarness::server_invite(Reliable);
        for kind in TimerKind::ALL {
            t.input(Timer(kind));
        }
        t.input(TuResponse(0));
        t.input(TuResponse(7_000));
        assert!(t.ladder().is_empty());
        t.at(10, TuResponse(400));
        // Timer G does not run on TCP: a stray firing does nothing.
        t.input(Timer(TimerKind::G));
        assert_eq!(t.ladder(), [(10, SendResponse)]);
    }
}
