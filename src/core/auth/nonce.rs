//! Digest nonces that need no table: each carries its shard, the second it was issued and a
//! sequence number, sealed with a keyed hash; a sliding bitmap of sequence numbers makes each
//! one good for a single use.

use std::time::{Duration, Instant};

use crate::core::ids::{keyed_hash, unhex};

/// Sequence numbers remembered; an older nonce is stale. 8 KiB of bits.
const WINDOW: u32 = 1 << 16;

/// Length of a nonce: shard (4 hex), issue second (8), sequence (8), seal (16).
pub const NONCE_LEN: usize = 36;

/// What a nonce presented by a client turns out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued here, within its lifetime, never used before: now used.
    Fresh,
    /// Genuine but used already, too old, or issued by another shard: the client should
    /// retry with a new one without asking its user (`stale=true`, RFC 2617 §3.2.1).
    Stale,
    /// Not a nonce Drongo issued.
    Invalid,
}

/// One shard's nonces.
pub struct Nonces {
    key: u64,
    shard: u16,
    start: Instant,
    lifetime: Duration,
    /// The next sequence number to issue.
    next: u32,
    /// Bit `n % WINDOW` is set once nonce `n` was used.
    used: Vec<u64>,
}

impl Nonces {
    /// `key` is shared by every shard of the process, so each can tell another's nonces from
    /// forgeries.
    pub fn new(key: u64, shard: u16, start: Instant, lifetime: Duration) -> Self {
        Nonces {
            key,
            shard,
            start,
            lifetime,
            next: 0,
            used: vec![0; (WINDOW / 64) as usize],
        }
    }

    /// A fresh nonce.
    pub fn issue(&mut self, now: Instant) -> [u8; NONCE_LEN] {
        let seq = self.next;
        self.next = self.next.wrapping_add(1);
        // Its bit is clear until used (it may hold an old nonce's mark).
        self.set_used(seq, false);
        let second = self.second(now);
        let mut out = [0u8; NONCE_LEN];
        hex(u64::from(self.shard), &mut out[..4]);
        hex(u64::from(second), &mut out[4..12]);
        hex(u64::from(seq), &mut out[12..20]);
        let seal = self.seal(&out[..20]);
        hex(seal, &mut out[20..]);
        out
    }

    /// Checks a nonce from a client's credentials, and uses it up if it is fresh.
    pub fn check(&mut self, nonce: &[u8], now: Instant) -> NonceCheck {
        let Some(fields) = nonce.get(..20).filter(|_| nonce.len() == NONCE_LEN) else {
            return NonceCheck::Invalid;
        };
        let seal = unhex(&nonce[20..]);
        if seal != Some(self.seal(fields)) {
            return NonceCheck::Invalid;
        }
        let (Some(shard), Some(second), Some(seq)) = (
            unhex(&fields[..4]),
            unhex(&fields[4..12]),
            unhex(&fields[12..20]),
        ) else {
            return NonceCheck::Invalid;
        };
        let seq = seq as u32;
        let age = u64::from(self.second(now)).saturating_sub(second);
        let issued_here = shard == u64::from(self.shard);
        let in_window = self.next.wrapping_sub(seq).wrapping_sub(1) < WINDOW;
        if !issued_here || !in_window || age > self.lifetime.as_secs() || self.is_used(seq) {
            return NonceCheck::Stale;
        }
        self.set_used(seq, true);
        NonceCheck::Fresh
    }

    fn second(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.start).as_secs()).unwrap_or(u32::MAX)
    }

    fn seal(&self, fields: &[u8]) -> u64 {
        keyed_hash(self.key, &[b"nonce", fields])
    }

    fn is_used(&self, seq: u32) -> bool {
        let bit = seq % WINDOW;
        self.used
            .get((bit / 64) as usize)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    fn set_used(&mut self, seq: u32, used: bool) {
        let bit = seq % WINDOW;
        if let Some(w) = self.used.get_mut((bit / 64) as usize) {
            if used {
                *w |= 1 << (bit % 64);
            } else {
                *w &= !(1 << (bit % 64));
            }
        }
    }
}

fn hex(mut n: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for d in out.iter_mut().rev() {
        *d = DIGITS[(n & 0xF) as usize];
        n >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces(shard: u16) -> (Nonces, Instant) {
        let t0 = crate::sim::epoch();
        (Nonces::new(42, shard, t0, Duration::from_secs(300)), t0)
    }

    #[test]
    fn a_nonce_is_good_once() {
        let (mut n, t0) = nonces(1);
        let a = n.issue(t0);
        let b = n.issue(t0);
        assert_ne!(a, b);
        assert_eq!(n.check(&b, t0), NonceCheck::Fresh);
        assert_eq!(n.check(&a, t0), NonceCheck::Fresh);
        assert_eq!(n.check(&a, t0), NonceCheck::Stale, "a replay");
    }

    #[test]
    fn old_foreign_and_forged_nonces() {
        let (mut n, t0) = nonces(1);
        let a = n.issue(t0);
        assert_eq!(
            n.check(&a, t0 + Duration::from_secs(301)),
            NonceCheck::Stale
        );
        let (mut other, _) = nonces(2);
        let theirs = other.issue(t0);
        assert_eq!(n.check(&theirs, t0), NonceCheck::Stale, "another shard's");
        let mut forged = n.issue(t0);
        forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
        assert_eq!(n.check(&forged, t0), NonceCheck::Invalid);
        assert_eq!(n.check(b"short", t0), NonceCheck::Invalid);
        let mut other_key = Nonces::new(7, 1, t0, Duration::from_secs(300));
        let wrong_key = other_key.issue(t0);
        assert_eq!(n.check(&wrong_key, t0), NonceCheck::Invalid);
    }

    #[test]
    fn nonces_older_than_the_window_are_stale() {
        let (mut n, t0) = nonces(0);
        let first = n.issue(t0);
        for _ in 0..WINDOW {
            n.issue(t0);
        }
        assert_eq!(n.check(&first, t0), NonceCheck::Stale);
        let last = n.issue(t0);
        assert_eq!(n.check(&last, t0), NonceCheck::Fresh);
    }
}
