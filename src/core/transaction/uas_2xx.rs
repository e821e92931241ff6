//! The UAS core's 2xx retransmission, RFC 3261 §13.3.1.4 (and RFC 6026 §8.7, which routes
//! those retransmissions through the server transaction while it is in Accepted).
//!
//! Owns: resending a 2xx to INVITE from T1 doubling to T2 until its ACK comes, and giving up
//! after 64*T1, whatever the transport ("independent of whatever transport protocols are
//! used", §13.3.1.4: the 2xx crosses proxies end to end). Must not: send the first 2xx (the
//! server transaction does, on `TuResponse`), or end the session: on giving up it tells the
//! TU, which confirms the dialog and sends BYE (§13.3.1.4).
//!
//! The layer above runs one per 2xx sent by a UAS (a B2BUA leg), feeds it the ACK it matches
//! to the dialog (from the server transaction's [`super::TuEvent::Ack`] while in Accepted,
//! straight from the dialog afterwards), and executes [`super::Output::ResendResponse`] by
//! feeding the kept 2xx to the server transaction while it lives, else to the transport.

use super::{Output, Outputs, TimerConfig, TimerKind, TuEvent};

/// An input to [`Uas2xx`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uas2xxInput {
    /// The ACK for the 2xx arrived.
    Ack,
    Timer(TimerKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uas2xxState {
    /// Waiting for the ACK. Retransmit2xx and GiveUp2xx run.
    Retransmitting {
        /// Retransmissions so far: the next interval is min(T1 * 2^retransmits, T2).
        retransmits: u8,
    },
    Terminated,
}

/// The UAS core's retransmission of one 2xx to INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uas2xx {
    state: Uas2xxState,
}

impl Uas2xx {
    /// Starts after the 2xx was first sent: arms the first retransmission (T1) and the
    /// give-up (64*T1).
    pub fn start(config: &TimerConfig, out: &mut impl Outputs) -> Uas2xx {
        out.push(Output::Arm(TimerKind::Retransmit2xx, config.t1));
        out.push(Output::Arm(TimerKind::GiveUp2xx, config.timeout()));
        Uas2xx {
            state: Uas2xxState::Retransmitting { retransmits: 0 },
        }
    }

    pub fn state(&self) -> Uas2xxState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == Uas2xxState::Terminated
    }

    /// Takes one input; writes what to do to `out`.
    pub fn handle(&mut self, config: &TimerConfig, input: Uas2xxInput, out: &mut impl Outputs) {
        use TimerKind::{GiveUp2xx, Retransmit2xx};
        use Uas2xxInput::{Ack, Timer};
        use Uas2xxState::{Retransmitting, Terminated};
        match (self.state, input) {
            (Retransmitting { retransmits }, Timer(Retransmit2xx)) => {
                out.push(Output::ResendResponse);
                let n = retransmits.saturating_add(1);
                let next = config.retransmit_interval(Retransmit2xx, n);
                out.push(Output::Arm(Retransmit2xx, next));
                self.state = Retransmitting { retransmits: n };
            }
            (Retransmitting { .. }, Ack) => {
                out.push(Output::Cancel(Retransmit2xx));
                out.push(Output::Cancel(GiveUp2xx));
                self.end(out, None);
            }
            (Retransmitting { .. }, Timer(GiveUp2xx)) => {
                out.push(Output::Cancel(Retransmit2xx));
                self.end(out, Some(TuEvent::Timeout));
            }
            // Absorbed: other timers (stale), ACK retransmissions after the first, anything
            // after Terminated.
            (Retransmitting { .. }, Timer(_)) | (Terminated, _) => {}
        }
    }

    /// The timers the current state runs.
    pub fn timers(&self) -> impl Iterator<Item = TimerKind> {
        let running = match self.state {
            Uas2xxState::Retransmitting { .. } => {
                [Some(TimerKind::Retransmit2xx), Some(TimerKind::GiveUp2xx)]
            }
            Uas2xxState::Terminated => [None, None],
        };
        running.into_iter().flatten()
    }

    fn end(&mut self, out: &mut impl Outputs, event: Option<TuEvent>) {
        if let Some(e) = event {
            out.push(Output::Tu(e));
        }
        out.push(Output::Terminated);
        self.state = Uas2xxState::Terminated;
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::{Step::*, TxHarness};
    use super::*;
    use Uas2xxInput::{Ack, Timer};

    #[test]
    fn retransmits_from_t1_doubling_to_t2_and_gives_up_at_64_t1() {
        let mut t = TxHarness::uas_2xx();
        t.run_out();
        let mut expect: Vec<_> = [
            500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
        ]
        .map(|at| (at, ResendResponse))
        .to_vec();
        expect.extend([(32_000, Tu(TuEvent::Timeout)), (32_000, Terminated)]);
        assert_eq!(t.ladder(), expect);
    }

    #[test]
    fn the_ack_stops_it() {
        let mut t = TxHarness::uas_2xx();
        t.at(2_000, Ack);
        t.at(2_100, Ack);
        t.input(Timer(TimerKind::Retransmit2xx));
        t.run_out();
        assert_eq!(
            t.ladder(),
            [
                (500, ResendResponse),
                (1_500, ResendResponse),
                (2_000, Terminated)
            ]
        );
    }

    #[test]
    fn stale_timers_are_absorbed() {
        let mut t = TxHarness::uas_2xx();
        for kind in TimerKind::ALL {
            if !matches!(kind, TimerKind::Retransmit2xx | TimerKind::GiveUp2xx) {
                t.input(Timer(kind));
            }
        }
        assert!(t.ladder().is_empty());
    }
}
