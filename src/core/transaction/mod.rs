//! SIP transactions: the four state machines of RFC 3261 §17 as amended by RFC 6026, the
//! UAS core's 2xx retransmission (§13.3.1.4), transaction matching keys (§17.1.3, §17.2.3)
//! and the requests a client transaction builds itself (ACK for a non-2xx, §17.1.1.3; CANCEL,
//! §9.1).
//!
//! Owns: which message a transaction sends when, which timers run in which state and for how
//! long, what the transaction user (TU) is told, and when a transaction ends. Must not: own
//! bytes, sockets, clocks or timers. A machine never reads the time, never allocates and
//! never panics; it is a few bytes of state that turn one input into a handful of
//! [`Output`]s.
//!
//! | machine | RFC | states | size |
//! |---|---|---|---|
//! | [`ClientInvite`] | §17.1.1, RFC 6026 §8.4 | Calling, Proceeding, Completed, Accepted, Terminated | 4 B |
//! | [`ClientNonInvite`] | §17.1.2 | Trying, Proceeding, Completed, Terminated | 3 B |
//! | [`ServerInvite`] | §17.2.1, RFC 6026 §8.7 | Proceeding, Completed, Confirmed, Accepted, Terminated | 3 B |
//! | [`ServerNonInvite`] | §17.2.2 | Trying, Proceeding, Completed, Terminated | 2 B |
//! | [`Uas2xx`] | §13.3.1.4 | Retransmitting, Terminated | 2 B |
//!
//! Sizes are `size_of` on x86-64, printed by `machines_are_a_few_bytes`. Next to a machine
//! the layer above keeps an [`Armed`] (36 B with the wheel's `TimerId`) and a key (56 B,
//! inline up to 48 key bytes).
//!
//! # How the layer above drives a machine
//!
//! The layer above (the shard's transaction table) owns, per transaction: the machine, the
//! request bytes (client) or the last response bytes (server), the ACK bytes once built, the
//! transaction's [`key`], and the ids of its armed timers in the shard's
//! [`TimerWheel`](crate::core::timer::TimerWheel) (an [`Armed`] holds them). It:
//!
//! 1. creates the machine (`ClientInvite::start`, `ServerInvite::new`, ...), which writes its
//!    first outputs;
//! 2. feeds every input with `handle(&config, input, &mut outputs)`: a matched response
//!    (client), a matched request retransmission or ACK (server), a response from the TU
//!    (server), a timer that fired, a failed send;
//! 3. executes every [`Output`] in order, after every input:
//!    - [`Output::SendRequest`]: pass the request to the transport (first send and every
//!      retransmission are the same bytes, §17.1.1.2);
//!    - [`Output::SendAck`]: pass the ACK for the non-2xx final to the transport, built once
//!      with [`build_ack_for_non2xx`] from the request and the first final response;
//!    - [`Output::SendResponse`]: pass the response the TU just gave to the transport and keep
//!      it as the transaction's last response; a TU response that yields no `SendResponse`
//!      was refused by the transaction (a provisional after a final, a second final) and
//!      must not be sent;
//!    - [`Output::ResendResponse`]: pass the kept last response to the transport again;
//!    - [`Output::Arm`]`(kind, after)`: arm a timer `after` from now, replacing any timer of
//!      the same kind this transaction holds; [`Output::Cancel`]`(kind)`: cancel it;
//!    - [`Output::Tu`]: hand the event (and, for a response or an ACK, the message being
//!      processed) to the TU;
//!    - [`Output::Terminated`]: drop the transaction and cancel whatever timers it still
//!      holds (a machine cancels its own on every transition, so normally none);
//! 4. when a send fails, feeds [`ClientInput::TransportError`] or
//!    [`ServerInput::TransportError`];
//! 5. when the wheel pops a timer, checks with [`Armed::fired`] that the id is the one it
//!    holds for that kind (STYLE rule 4: a stale firing is ignored) and feeds
//!    `Timer(kind)`. A machine also ignores a timer its current state does not run, so a
//!    duplicate firing is harmless either way.
//!
//! Timer values come from one [`TimerConfig`] per shard, passed to every call, so a machine
//! does not store them. A reliable transport ([`Reliability::Reliable`]) gets no
//! retransmission timers (A, E, G) and zero waits (D, I, J, K): a zero wait is not armed, the
//! machine goes straight to Terminated, as RFC 3261 Table 4 allows.
//!
//! What a machine does not do, and who does: sending 100 Trying for an INVITE (§17.2.1: the
//! layer above answers 100 at once by feeding `TuResponse(100)`); retransmitting a 2xx to
//! INVITE (the UAS core, with [`Uas2xx`]); ACKing a 2xx (the UAC core, §13.2.2.4); sending
//! CANCEL (the layer above holds it until [`ClientInvite::can_cancel`], §9.1, then tells the
//! INVITE machine with [`ClientInput::CancelSent`]).

mod ack;
mod client_invite;
mod client_non_invite;
pub mod client_table;
pub mod key;
mod server_invite;
mod server_non_invite;

pub mod table;
mod timers;
mod uas_2xx;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod lossy_tests;

pub use ack::{build_ack_for_non2xx, build_cancel, BuildError};
pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use key::{ClientKey, ServerKey};
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timers::{Armed, TimerConfig, TimerKind};
pub use uas_2xx::{Uas2xx, Uas2xxInput, Uas2xxState};

use std::time::Duration;

use smallvec::SmallVec;

/// Whether the transport delivers reliably (TCP, TLS, SCTP, WebSocket) or not (UDP), which
/// decides retransmissions and wait timers (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    Unreliable,
    Reliable,
}

impl Reliability {
    /// The reliability of a Via transport (§18: UDP is the one unreliable transport).
    pub fn of(transport: crate::core::sip::uri::Transport<'_>) -> Reliability {
        if transport.is_reliable() {
            Reliability::Reliable
        } else {
            Reliability::Unreliable
        }
    }

    pub fn is_reliable(self) -> bool {
        self == Reliability::Reliable
    }
}

/// An input to a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInput {
    /// A response matched to this transaction (§17.1.3), by status code.
    Response(u16),
    /// A timer of this transaction fired.
    Timer(TimerKind),
    /// Passing the request or the ACK to the transport failed (§17.1.4).
    TransportError,
    /// INVITE only: the layer above has sent a CANCEL for this INVITE (§9.1); the machine
    /// then gives up on a final response after 64*T1.
    CancelSent,
}

/// An input to a server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInput {
    /// A retransmission of the request that created the transaction (§17.2.3).
    Request,
    /// INVITE only: an ACK matched to this transaction (§17.2.3: the ACK for a non-2xx; in
    /// Accepted, the ACK for a 2xx, RFC 6026 §8.7).
    Ack,
    /// The TU passes a response with this status code for sending.
    TuResponse(u16),
    /// A timer of this transaction fired.
    Timer(TimerKind),
    /// Passing a response to the transport failed (§17.2.4).
    TransportError,
}

/// What a transaction tells its TU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuEvent {
    /// Client: a provisional response; pass it up.
    Provisional(u16),
    /// Client: the final response that completes the transaction; pass it up. A transaction
    /// reports at most one.
    Final(u16),
    /// Client INVITE, RFC 6026 §8.4: another 2xx after the first (a retransmission, or a
    /// 2xx from another fork); pass it up so the UAC core ACKs it (§13.2.2.4).
    Additional2xx(u16),
    /// Server INVITE in Accepted: an ACK for the 2xx; pass it to the TU (RFC 6026 §8.7).
    Ack,
    /// Client: Timer B or F fired, or no final came 64*T1 after a CANCEL; the TU treats it
    /// as 408 (§8.1.3.1). Server INVITE: Timer H fired, the ACK never came (§17.2.1).
    /// [`Uas2xx`]: no ACK for the 2xx in 64*T1; the session should end (§13.3.1.4).
    Timeout,
    /// A send failed. Client: the TU treats it as 503 (§8.1.3.1). Server: the TU learns the
    /// response may not have arrived (§17.2.4).
    TransportError,
    /// Client INVITE with Timer C (a proxy, §16.8): Timer C fired after a provisional; the
    /// proxy sends CANCEL.
    TimerC,
}

/// One thing the layer above must do, in order (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    SendRequest,
    SendAck,
    SendResponse,
    ResendResponse,
    Arm(TimerKind, Duration),
    Cancel(TimerKind),
    Tu(TuEvent),
    Terminated,
}

/// Where a machine writes its outputs: the caller's scratch queue, so a machine keeps none.
pub trait Outputs {
    fn push(&mut self, output: Output);
}

impl Outputs for Vec<Output> {
    fn push(&mut self, output: Output) {
        Vec::push(self, output);
    }
}

impl<const N: usize> Outputs for SmallVec<[Output; N]> {
    fn push(&mut self, output: Output) {
        SmallVec::push(self, output);
    }
}

/// The class of a status code (§21): what the machines branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Provisional,
    Success,
    /// 300–699.
    Failure,
}

impl Class {
    /// `None` for a code outside 100–699 (the parser refuses those; a machine ignores them).
    fn of(code: u16) -> Option<Class> {
        match code {
            100..=199 => Some(Class::Provisional),
            200..=299 => Some(Class::Success),
            300..=699 => Some(Class::Failure),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// A machine is its state and its transport's reliability: a few bytes per transaction
    /// (the figures are in the module doc).
    #[test]
    fn machines_are_a_few_bytes() {
        let sizes = [
            ("ClientInvite", size_of::<ClientInvite>()),
            ("ClientNonInvite", size_of::<ClientNonInvite>()),
            ("ServerInvite", size_of::<ServerInvite>()),
            ("ServerNonInvite", size_of::<ServerNonInvite>()),
            ("Uas2xx", size_of::<Uas2xx>()),
            ("Output", size_of::<Output>()),
            (
                "Armed<TimerId>",
                size_of::<Armed<crate::core::timer::TimerId>>(),
            ),
            ("ClientKey", size_of::<ClientKey>()),
            ("ServerKey", size_of::<ServerKey>()),
        ];
        for (name, size) in sizes {
            println!("size_of::<{name}>() = {size} bytes");
        }
        for (name, size) in &sizes[..5] {
            assert!(*size <= 4, "{name} is {size} bytes");
        }
    }

    #[test]
    fn reliability_of_via_transports() {
        use crate::core::sip::uri::Transport;
        assert_eq!(Reliability::of(Transport::Udp), Reliability::Unreliable);
        assert_eq!(
            Reliability::of(Transport::Other(b"dccp")),
            Reliability::Unreliable
        );
        for t in [
            Transport::Tcp,
            Transport::Tls,
            Transport::Sctp,
            Transport::Ws,
            Transport::Wss,
        ] {
            assert_eq!(Reliability::of(t), Reliability::Reliable);
        }
    }
}
