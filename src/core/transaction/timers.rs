//! Transaction timers by RFC letter (RFC 3261 §17 and Table 4 of Appendix A, RFC 6026 §8.2)
//! and their values.
//!
//! Owns: T1, T2, T4 and Timer C as configured, every value derived from them, and [`Armed`],
//! the few timer ids a transaction holds in the shard's wheel. Must not: arm anything itself.
//!
//! | timer | value | section | meaning |
//! |---|---|---|---|
//! | A | T1, doubling, no cap | §17.1.1.2 | INVITE request retransmit (unreliable only) |
//! | B | 64*T1 | §17.1.1.2 | INVITE transaction timeout; also the wait after CANCEL (§9.1) |
//! | C | > 3 min | §16.6 | proxy INVITE transaction timeout |
//! | D | max(32 s, 64*T1) unreliable, 0 reliable | §17.1.1.2 | wait for response retransmits |
//! | E | T1, doubling, capped at T2 | §17.1.2.2 | non-INVITE request retransmit (unreliable only) |
//! | F | 64*T1 | §17.1.2.2 | non-INVITE transaction timeout |
//! | G | T1, doubling, capped at T2 | §17.2.1 | INVITE response retransmit (unreliable only) |
//! | H | 64*T1 | §17.2.1 | wait for ACK receipt |
//! | I | T4 unreliable, 0 reliable | §17.2.1 | wait for ACK retransmits |
//! | J | 64*T1 unreliable, 0 reliable | §17.2.2 | wait for non-INVITE request retransmits |
//! | K | T4 unreliable, 0 reliable | §17.1.2.2 | wait for response retransmits |
//! | L | 64*T1 | RFC 6026 §8.7 | wait for INVITE retransmits and ACKs after a 2xx |
//! | M | 64*T1 | RFC 6026 §8.4 | wait for 2xx retransmits and other forks' 2xx |
//! | Retransmit2xx | T1, doubling, capped at T2 | §13.3.1.4 | UAS core 2xx retransmit, any transport |
//! | GiveUp2xx | 64*T1 | §13.3.1.4 | UAS core gives up waiting for the ACK to its 2xx |
//!
//! Timer D is at least 32 s as §17.1.1.2 asks, and never shorter than the server's Timer H
//! (64*T1) when T1 is raised above its default.

use std::time::Duration;

use super::Reliability;

/// The timer base values, one per shard. T1, T2, T4 and Timer C are configurable (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (§17.1.1.1), 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
    /// Proxy INVITE transaction timeout (§16.6 step 11), 3 min.
    pub timer_c: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig::RFC
    }
}

/// A timer named by its RFC letter (Table 4), plus the UAS core's two 2xx timers of
/// §13.3.1.4 which the RFC leaves unnamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimerKind {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    L,
    M,
    /// The UAS core resends its 2xx to INVITE (§13.3.1.4).
    Retransmit2xx,
    /// The UAS core stops resending its 2xx: no ACK in 64*T1 (§13.3.1.4).
    GiveUp2xx,
}

impl TimerKind {
    pub const ALL: [TimerKind; 15] = [
        TimerKind::A,
        TimerKind::B,
        TimerKind::C,
        TimerKind::D,
        TimerKind::E,
        TimerKind::F,
        TimerKind::G,
        TimerKind::H,
        TimerKind::I,
        TimerKind::J,
        TimerKind::K,
        TimerKind::L,
        TimerKind::M,
        TimerKind::Retransmit2xx,
        TimerKind::GiveUp2xx,
    ];
}

impl TimerConfig {
    /// The values RFC 3261 recommends: T1 500 ms, T2 4 s, T4 5 s, Timer C 3 min.
    pub const RFC: TimerConfig = TimerConfig {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
        timer_c: Duration::from_secs(180),
    };

    /// 64*T1: Timers B, F, H, L, M, J (unreliable) and the UAS core's 2xx give-up.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// The interval before retransmission `n + 1` (after `n` retransmissions): T1 * 2^n, with
    /// no cap for Timer A (§17.1.1.2) and capped at T2 for E, G and the 2xx (§17.1.2.2,
    /// §17.2.1, §13.3.1.4).
    pub fn retransmit_interval(&self, kind: TimerKind, n: u8) -> Duration {
        let doubled = self.t1.saturating_mul(1u32 << n.min(31));
        match kind {
            TimerKind::A => doubled,
            _ => doubled.min(self.t2.max(self.t1)),
        }
    }

    /// The first value of a timer on this transport, or `None` where the RFC does not run it
    /// (A, E, G on a reliable transport). A zero is a wait the RFC sets to 0 s.
    pub fn initial(&self, kind: TimerKind, reliability: Reliability) -> Option<Duration> {
        let reliable = reliability.is_reliable();
        let value = match kind {
            TimerKind::A | TimerKind::E | TimerKind::G if reliable => return None,
            TimerKind::A | TimerKind::E | TimerKind::G | TimerKind::Retransmit2xx => self.t1,
            TimerKind::B
            | TimerKind::F
            | TimerKind::H
            | TimerKind::L
            | TimerKind::M
            | TimerKind::GiveUp2xx => self.timeout(),
            TimerKind::C => self.timer_c,
            TimerKind::D | TimerKind::I | TimerKind::J | TimerKind::K if reliable => Duration::ZERO,
            TimerKind::D => self.timeout().max(Duration::from_secs(32)),
            TimerKind::I | TimerKind::K => self.t4,
            TimerKind::J => self.timeout(),
        };
        Some(value)
    }
}

/// The timer ids one transaction holds, by kind: what the layer above keeps next to a machine
/// to execute [`super::Output::Arm`] and [`super::Output::Cancel`] and to recognise a stale
/// firing. No machine runs more than three timers at once (INVITE client in Calling: A, B, C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Armed<Id> {
    slots: [Option<(TimerKind, Id)>; 3],
}

impl<Id: Copy + PartialEq> Default for Armed<Id> {
    fn default() -> Self {
        Armed { slots: [None; 3] }
    }
}

impl<Id: Copy + PartialEq> Armed<Id> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id` as the timer of `kind`; returns the id it replaces (or, were all slots
    /// taken, the one it evicts), which the caller cancels in its wheel.
    pub fn arm(&mut self, kind: TimerKind, id: Id) -> Option<Id> {
        if let Some(slot) = self.slots.iter_mut().flatten().find(|(k, _)| *k == kind) {
            let old = slot.1;
            slot.1 = id;
            return Some(old);
        }
        if let Some(free) = self.slots.iter_mut().find(|s| s.is_none()) {
            *free = Some((kind, id));
            return None;
        }
        // NOTE: unreachable while machines run at most three timers at once; evicting the
        // oldest keeps the wheel consistent rather than losing the new timer.
        let evicted = self.slots[0].map(|(_, id)| id);
        self.slots.rotate_left(1);
        self.slots[2] = Some((kind, id));
        evicted
    }

    /// Forgets the timer of `kind` and returns its id for cancelling.
    pub fn take(&mut self, kind: TimerKind) -> Option<Id> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|(k, _)| k == kind))?;
        slot.take().map(|(_, id)| id)
    }

    /// A timer popped from the wheel: true (and forgotten) if `id` is the one held for
    /// `kind`, false for a stale firing that must be ignored.
    pub fn fired(&mut self, kind: TimerKind, id: Id) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|(k, i)| k == kind && i == id))
        {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    /// The kinds armed now.
    pub fn kinds(&self) -> impl Iterator<Item = TimerKind> + '_ {
        self.slots.iter().flatten().map(|(k, _)| *k)
    }

    /// Takes every id, for cancelling when the transaction is dropped.
    pub fn drain(&mut self) -> impl Iterator<Item = Id> + '_ {
        self.slots
            .iter_mut()
            .filter_map(|s| s.take().map(|(_, id)| id))
    }

    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reliability::{Reliable, Unreliable};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn table_4_values() {
        let c = TimerConfig::RFC;
        let expect = [
            (TimerKind::A, Some(ms(500)), None),
            (TimerKind::B, Some(ms(32_000)), Some(ms(32_000))),
            (TimerKind::C, Some(ms(180_000)), Some(ms(180_000))),
            (TimerKind::D, Some(ms(32_000)), Some(ms(0))),
            (TimerKind::E, Some(ms(500)), None),
            (TimerKind::F, Some(ms(32_000)), Some(ms(32_000))),
            (TimerKind::G, Some(ms(500)), None),
            (TimerKind::H, Some(ms(32_000)), Some(ms(32_000))),
            (TimerKind::I, Some(ms(5_000)), Some(ms(0))),
            (TimerKind::J, Some(ms(32_000)), Some(ms(0))),
            (TimerKind::K, Some(ms(5_000)), Some(ms(0))),
            (TimerKind::L, Some(ms(32_000)), Some(ms(32_000))),
            (TimerKind::M, Some(ms(32_000)), Some(ms(32_000))),
            (TimerKind::Retransmit2xx, Some(ms(500)), Some(ms(500))),
            (TimerKind::GiveUp2xx, Some(ms(32_000)), Some(ms(32_000))),
        ];
        assert_eq!(expect.len(), TimerKind::ALL.len());
        for (kind, udp, tcp) in expect {
            assert_eq!(c.initial(kind, Unreliable), udp, "{kind:?} over UDP");
            assert_eq!(c.initial(kind, Reliable), tcp, "{kind:?} over TCP");
        }
    }

    #[test]
    fn timer_d_never_shorter_than_64_t1() {
        let c = TimerConfig {
            t1: Duration::from_secs(1),
            ..TimerConfig::RFC
        };
        assert_eq!(c.initial(TimerKind::D, Unreliable), Some(ms(64_000)));
        assert_eq!(c.initial(TimerKind::B, Unreliable), Some(ms(64_000)));
    }

    #[test]
    fn retransmit_intervals_double_and_cap() {
        let c = TimerConfig::RFC;
        let a: Vec<_> = (0..7)
            .map(|n| c.retransmit_interval(TimerKind::A, n))
            .collect();
        assert_eq!(a, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000].map(ms));
        for kind in [TimerKind::E, TimerKind::G, TimerKind::Retransmit2xx] {
            let v: Vec<_> = (0..6).map(|n| c.retransmit_interval(kind, n)).collect();
            assert_eq!(v, [500, 1_000, 2_000, 4_000, 4_000, 4_000].map(ms));
        }
        // Huge counts saturate instead of overflowing.
        assert!(c.retransmit_interval(TimerKind::A, 255) >= ms(32_000));
        assert_eq!(c.retransmit_interval(TimerKind::E, 255), ms(4_000));
    }

    #[test]
    fn armed_replaces_takes_and_spots_stale_ids() {
        let mut a: Armed<u32> = Armed::new();
        assert_eq!(a.arm(TimerKind::A, 1), None);
        assert_eq!(a.arm(TimerKind::B, 2), None);
        assert_eq!(a.arm(TimerKind::A, 3), Some(1), "re-arming replaces");
        assert!(!a.fired(TimerKind::A, 1), "the replaced id is stale");
        assert!(a.fired(TimerKind::A, 3));
        assert!(!a.fired(TimerKind::A, 3), "firing twice");
        assert_eq!(a.take(TimerKind::B), Some(2));
        assert_eq!(a.take(TimerKind::B), None);
        assert!(a.is_empty());
        a.arm(TimerKind::A, 4);
        a.arm(TimerKind::B, 5);
        a.arm(TimerKind::C, 6);
        assert_eq!(
            a.arm(TimerKind::D, 7),
            Some(4),
            "a fourth evicts the oldest"
        );
        assert_eq!(a.kinds().count(), 3);
        assert_eq!(a.drain().count(), 3);
        assert!(a.is_empty());
    }
}
