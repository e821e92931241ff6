//! Hierarchical timer wheel, one per shard (DESIGN §4, STYLE rule 4).
//!
//! Owns: every deadline of a shard (transaction timers A–M, later dialog and registration
//! expiry) with O(1) arm and O(1) cancel, and handing them back in deadline order as time
//! passes. Must not: read a clock (time comes in as an argument) or allocate per timer once
//! its slab has grown to the working set.
//!
//! Six levels of 64 slots; a slot of level `L` spans `64^L` ticks, so the wheel covers 2^36
//! ticks (about 21 years at the default 10 ms tick); later deadlines are clamped to that.
//! A timer sits in the level where its tick first differs from the wheel's position, as in
//! the Linux kernel's timer wheel; when the wheel reaches a higher-level slot, the slot's timers
//! cascade down. Each level keeps a 64-bit occupancy mask, so finding the next deadline is a
//! few bit scans, never a walk over empty slots.
//!
//! Timers are kept in a slab and linked into their slot by index (doubly linked), so a cancel
//! unlinks and frees the entry at once. A [`TimerId`] carries the entry's generation: cancelling
//! a timer that already fired, or firing one that was cancelled, is a harmless no-op, however
//! the entry was reused since.

use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Largest distance, in ticks, between the wheel's position and a deadline.
const MAX_TICKS: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
const NONE: u32 = u32::MAX;

/// Names one armed timer. Stale ids (fired, cancelled, reused) are recognised by generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

#[derive(Debug)]
struct Entry<T> {
    /// `Some` while armed.
    payload: Option<T>,
    tick: u64,
    generation: u32,
    prev: u32,
    next: u32,
    level: u8,
    slot: u8,
}

/// A timer wheel holding payloads of type `T` (e.g. `(TransactionKey, TimerKind)`).
#[derive(Debug)]
pub struct TimerWheel<T> {
    start: Instant,
    tick: Duration,
    /// The last tick the wheel has processed up to.
    elapsed: u64,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    armed: usize,
}

impl<T> TimerWheel<T> {
    /// A wheel whose tick 0 is `start`, advancing in steps of `tick` (at least 1 ms).
    pub fn new(start: Instant, tick: Duration) -> Self {
        TimerWheel {
            start,
            tick: tick.max(Duration::from_millis(1)),
            elapsed: 0,
            heads: [[NONE; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            entries: Vec::new(),
            free: Vec::new(),
            armed: 0,
        }
    }

    /// Bytes one armed timer takes in the wheel.
    pub const fn entry_bytes() -> usize {
        std::mem::size_of::<Entry<T>>()
    }

    /// Timers armed now.
    pub fn len(&self) -> usize {
        self.armed
    }

    pub fn is_empty(&self) -> bool {
        self.armed == 0
    }

    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// The tick at or after `at` (deadlines round up: a timer never fires early).
    fn tick_ceil(&self, at: Instant) -> u64 {
        let (nanos, tick) = self.nanos_since_start(at);
        nanos.div_ceil(tick)
    }

    /// The tick that `now` has completed.
    fn tick_floor(&self, now: Instant) -> u64 {
        let (nanos, tick) = self.nanos_since_start(now);
        nanos / tick
    }

    /// Nanoseconds from the wheel's start to `at`, and the tick in nanoseconds, as u64: a
    /// 64-bit division is several times cheaper than the 128-bit one `Duration` offers, and
    /// u64 nanoseconds last 584 years (later instants saturate).
    #[inline]
    fn nanos_since_start(&self, at: Instant) -> (u64, u64) {
        let d = at.saturating_duration_since(self.start);
        let nanos = d
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()));
        // NOTE: `new` keeps the tick at 1 ms or more, so it is never 0 and fits u64.
        let tick = u64::try_from(self.tick.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        (nanos, tick)
    }

    fn instant_of(&self, tick: u64) -> Instant {
        let nanos = u128::from(tick) * self.tick.as_nanos();
        let secs = (nanos / 1_000_000_000) as u64;
        self.start + Duration::new(secs, (nanos % 1_000_000_000) as u32)
    }

    /// Arms a timer for `deadline` (rounded up to the next tick; a deadline already passed
    /// fires on the next [`TimerWheel::poll`]).
    pub fn arm(&mut self, deadline: Instant, payload: T) -> TimerId {
        let tick = self
            .tick_ceil(deadline)
            .clamp(self.elapsed, self.elapsed.saturating_add(MAX_TICKS));
        let index = match self.free.pop() {
            Some(i) => {
                // NOTE: free indices always point into `entries`.
                let e = &mut self.entries[i as usize];
                e.payload = Some(payload);
                e.tick = tick;
                i
            }
            None => {
                let i = self.entries.len() as u32;
                self.entries.push(Entry {
                    payload: Some(payload),
                    tick,
                    generation: 0,
                    prev: NONE,
                    next: NONE,
                    level: 0,
                    slot: 0,
                });
                i
            }
        };
        self.link(index);
        self.armed += 1;
        TimerId {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Arms a timer `after` from `now`.
    pub fn arm_after(&mut self, now: Instant, after: Duration, payload: T) -> TimerId {
        self.arm(now + after, payload)
    }

    /// Cancels a timer; returns its payload if it was still armed. Stale ids do nothing.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let e = self.entries.get(id.index as usize)?;
        if e.generation != id.generation || e.payload.is_none() {
            return None;
        }
        self.unlink(id.index);
        Some(self.release(id.index))
    }

    /// Whether `id` is still armed.
    pub fn is_armed(&self, id: TimerId) -> bool {
        self.entries
            .get(id.index as usize)
            .is_some_and(|e| e.generation == id.generation && e.payload.is_some())
    }

    /// The instant the next timer falls due, or an earlier instant at which the wheel must be
    /// polled to move a far timer down a level. `None` when nothing is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_expiration()
            .map(|(_, _, tick)| self.instant_of(tick))
    }

    /// Takes the next timer due at `now`, earliest deadline first; `None` when nothing more is
    /// due. Call until `None` after every clock advance.
    pub fn poll(&mut self, now: Instant) -> Option<(TimerId, T)> {
        let now_tick = self.tick_floor(now);
        loop {
            let Some((level, slot, tick)) = self.next_expiration() else {
                self.elapsed = self.elapsed.max(now_tick);
                return None;
            };
            if tick > now_tick {
                self.elapsed = self.elapsed.max(now_tick);
                return None;
            }
            self.elapsed = tick;
            if level == 0 {
                let index = self.heads[0][slot];
                let generation = self.entries[index as usize].generation;
                self.unlink(index);
                let payload = self.release(index);
                return Some((TimerId { index, generation }, payload));
            }
            // Cascade: every timer of this slot moves to a lower level.
            let mut index = std::mem::replace(&mut self.heads[level][slot], NONE);
            self.occupied[level] &= !(1u64 << slot);
            while index != NONE {
                let next = self.entries[index as usize].next;
                self.link(index);
                index = next;
            }
        }
    }

    /// The earliest occupied slot: (level, slot, first tick of that slot).
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let now_slot = ((self.elapsed >> shift) & (SLOTS as u64 - 1)) as u32;
            // Slots at or after the wheel's position in this level's current round.
            let ahead = occupied & (u64::MAX << now_slot);
            if ahead == 0 {
                continue;
            }
            let slot = ahead.trailing_zeros() as u64;
            let round = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
            let tick = round + (slot << shift);
            if best.is_none_or(|(_, _, t)| tick < t) {
                best = Some((level, slot as usize, tick));
            }
        }
        best
    }

    /// Puts an entry into the slot its tick belongs in, relative to `elapsed`.
    fn link(&mut self, index: u32) {
        let tick = self.entries[index as usize].tick.max(self.elapsed);
        let differs = (tick ^ self.elapsed) | (SLOTS as u64 - 1);
        let level = ((63 - differs.leading_zeros()) / SLOT_BITS) as usize;
        let level = level.min(LEVELS - 1);
        let slot = ((tick >> (SLOT_BITS * level as u32)) & (SLOTS as u64 - 1)) as usize;
        let head = self.heads[level][slot];
        {
            let e = &mut self.entries[index as usize];
            e.tick = tick;
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = NONE;
            e.next = head;
        }
        if head != NONE {
            self.entries[head as usize].prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1u64 << slot;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.level as usize, e.slot as usize)
        };
        if prev == NONE {
            self.heads[level][slot] = next;
            if next == NONE {
                self.occupied[level] &= !(1u64 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NONE {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Frees an unlinked entry and returns its payload.
    fn release(&mut self, index: u32) -> T {
        let e = &mut self.entries[index as usize];
        e.generation = e.generation.wrapping_add(1);
        e.prev = NONE;
        e.next = NONE;
        self.free.push(index);
        self.armed -= 1;
        // NOTE: callers only release entries they found armed.
        e.payload.take().expect("released entry was armed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel() -> (TimerWheel<u32>, Instant) {
        let t0 = crate::sim::epoch();
        (TimerWheel::new(t0, Duration::from_millis(10)), t0)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn drain(w: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| w.poll(now).map(|(_, p)| p)).collect()
    }

    #[test]
    fn timers_fire_in_deadline_order_and_never_early() {
        let (mut w, t0) = wheel();
        for (i, at) in [500u64, 10, 31_500, 1_500, 0, 7_500, 3_500, 64_000]
            .iter()
            .enumerate()
        {
            w.arm(t0 + ms(*at), i as u32);
        }
        assert_eq!(drain(&mut w, t0), vec![4]);
        assert_eq!(
            drain(&mut w, t0 + ms(9)),
            Vec::<u32>::new(),
            "10 ms has not passed"
        );
        assert_eq!(drain(&mut w, t0 + ms(10)), vec![1]);
        assert_eq!(drain(&mut w, t0 + ms(3_499)), vec![0, 3]);
        assert_eq!(drain(&mut w, t0 + ms(100_000)), vec![6, 5, 2, 7]);
        assert!(w.is_empty());
    }

    #[test]
    fn deadlines_round_up_to_the_tick() {
        let (mut w, t0) = wheel();
        w.arm(t0 + ms(11), 1);
        assert_eq!(w.next_deadline(), Some(t0 + ms(20)));
        assert!(drain(&mut w, t0 + ms(19)).is_empty());
        assert_eq!(drain(&mut w, t0 + ms(20)), vec![1]);
    }

    #[test]
    fn next_deadline_tracks_the_earliest_timer() {
        let (mut w, t0) = wheel();
        assert_eq!(w.next_deadline(), None);
        let far = w.arm(t0 + Duration::from_secs(3600), 1);
        let near = w.arm(t0 + ms(50), 2);
        assert_eq!(w.next_deadline(), Some(t0 + ms(50)));
        w.cancel(near);
        // A far timer may report earlier instants (the starts of its slots) so that it
        // cascades down in time: at most one per level, never after its deadline.
        let deadline = t0 + Duration::from_secs(3600);
        let mut wakeups = 0;
        while w.next_deadline() != Some(deadline) {
            let d = w.next_deadline().unwrap();
            assert!(d < deadline);
            assert!(drain(&mut w, d).is_empty());
            wakeups += 1;
            assert!(wakeups < LEVELS, "too many early wake-ups");
        }
        assert!(w.is_armed(far));
    }

    #[test]
    fn cancel_is_immediate_and_stale_ids_are_harmless() {
        let (mut w, t0) = wheel();
        let a = w.arm(t0 + ms(100), 1);
        let b = w.arm(t0 + ms(100), 2);
        assert_eq!(w.cancel(a), Some(1));
        assert_eq!(w.cancel(a), None, "cancelling twice");
        assert_eq!(w.len(), 1);
        // The freed entry is reused; the old id must not touch the new timer.
        let c = w.arm(t0 + ms(200), 3);
        assert_eq!(w.cancel(a), None);
        assert!(w.is_armed(c));
        assert_eq!(drain(&mut w, t0 + ms(1_000)), vec![2, 3]);
        assert_eq!(w.cancel(b), None, "cancelling a timer that fired");
        assert_eq!(w.cancel(c), None);
    }

    #[test]
    fn rearm_by_cancel_and_arm() {
        let (mut w, t0) = wheel();
        let id = w.arm(t0 + ms(500), 7);
        let payload = w.cancel(id).unwrap();
        w.arm(t0 + ms(1_000), payload);
        assert!(drain(&mut w, t0 + ms(999)).is_empty());
        assert_eq!(drain(&mut w, t0 + ms(1_000)), vec![7]);
    }

    #[test]
    fn a_deadline_in_the_past_fires_on_the_next_poll() {
        let (mut w, t0) = wheel();
        assert!(drain(&mut w, t0 + ms(5_000)).is_empty());
        w.arm(t0 + ms(1_000), 1);
        assert_eq!(drain(&mut w, t0 + ms(5_000)), vec![1]);
    }

    #[test]
    fn wraps_around_every_level() {
        let (mut w, t0) = wheel();
        // Move the wheel's position to just before several level boundaries, then arm timers
        // that straddle them.
        let mut now = t0;
        for step in [630u64, 40_950, 2_621_430, 167_772_150] {
            now = t0 + ms(step);
            assert!(drain(&mut w, now).is_empty());
            w.arm(now + ms(20), 1);
            w.arm(now + ms(10), 0);
            w.arm(now + ms(700), 2);
            assert!(drain(&mut w, now + ms(9)).is_empty());
            assert_eq!(drain(&mut w, now + ms(10)), vec![0]);
            assert_eq!(drain(&mut w, now + ms(700)), vec![1, 2]);
        }
        assert!(now > t0);
    }

    #[test]
    fn far_deadlines_are_clamped_not_lost() {
        let (mut w, t0) = wheel();
        w.arm(t0 + Duration::from_secs(100 * 365 * 24 * 3600), 1);
        let limit = t0 + Duration::from_millis(10 * MAX_TICKS);
        assert!(drain(&mut w, limit - ms(10)).is_empty());
        let mut fired = Vec::new();
        let mut now = limit;
        while fired.is_empty() {
            fired = drain(&mut w, now);
            now += Duration::from_secs(1);
        }
        assert_eq!(fired, vec![1]);
    }

    #[test]
    fn a_million_timers() {
        let (mut w, t0) = wheel();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut ids = Vec::with_capacity(1_000_000);
        for i in 0..1_000_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ids.push(w.arm(t0 + ms(seed % 3_600_000), i));
        }
        assert_eq!(w.len(), 1_000_000);
        // Cancel every tenth.
        for id in ids.iter().step_by(10) {
            assert!(w.cancel(*id).is_some());
        }
        assert_eq!(w.len(), 900_000);
        let mut fired = 0usize;
        let mut last = t0;
        let mut now = t0;
        while !w.is_empty() {
            now += Duration::from_secs(60);
            while let Some((_, i)) = w.poll(now) {
                assert!(i % 10 != 0, "a cancelled timer fired");
                fired += 1;
            }
            assert!(now >= last);
            last = now;
        }
        assert_eq!(fired, 900_000);
    }

    #[test]
    fn order_holds_within_a_poll() {
        let (mut w, t0) = wheel();
        let mut seed = 42u64;
        let mut deadlines = Vec::new();
        for i in 0..5_000u32 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (seed >> 33) % 200_000;
            deadlines.push(at);
            w.arm(t0 + ms(at), i);
        }
        let mut prev_tick = 0;
        let mut now = t0;
        let mut n = 0;
        while n < 5_000 {
            now += ms(777);
            while let Some((_, i)) = w.poll(now) {
                let tick = deadlines[i as usize].div_ceil(10);
                assert!(tick >= prev_tick, "fired out of order");
                assert!(ms(tick * 10) <= now - t0, "fired early");
                prev_tick = tick;
                n += 1;
            }
        }
    }
}
