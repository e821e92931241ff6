//! Hierarchical timer wheel, one per shard (DESIGN §4, STYLE rule 4).
//!
//! Owns: every deadline of a shard (transaction timers A–M, later dialog and registration
//! expiry) with O(1) arm and O(1) cancel, handing them back in deadline order as time passes,
//! and giving its memory back after a burst. Must not: read a clock (time comes in as an
//! argument) or allocate per timer once its storage has grown to the working set.
//!
//! Six levels of 64 slots; a slot of level `L` spans `64^L` ticks, so the wheel covers 2^36
//! ticks (about 21 years at the default 10 ms tick); later deadlines are clamped to that.
//! A timer sits in the level where its tick first differs from the wheel's position, as in
//! the Linux kernel's timer wheel; when the wheel reaches a higher-level slot, the slot's timers
//! cascade down. Each level keeps a 64-bit occupancy mask, so finding the next deadline is a
//! few bit scans, never a walk over empty slots.
//!
//! Timers are entries linked into their slot by index (doubly linked), so a cancel unlinks and
//! frees the entry at once. A [`TimerId`] carries the entry's generation, bumped each time the
//! entry is freed: cancelling a timer that already fired, or firing one that was cancelled, is
//! a harmless no-op, however the entry was reused since.
//!
//! Entries come in chunks of `CHUNK`, each one allocation, as the transaction slots do
//! (`core::slots`). A new timer takes a free entry in the lowest chunk that has one, and a new
//! chunk only when every allocated chunk is full, so once a burst is over the armed timers
//! gather in the low chunks and the high ones drain. A chunk left with no armed timer is
//! released, except the lowest empty one, kept so that a load swinging around a chunk boundary
//! does not allocate and release a chunk at every swing. A released chunk remembers one
//! generation, past every generation its entries reached, and its entries start from it when
//! the chunk is allocated again, so an index and its generation never name two timers.

use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Largest distance, in ticks, between the wheel's position and a deadline.
const MAX_TICKS: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
/// The end of a slot's list and of a chunk's free list.
const NONE: u32 = u32::MAX;

/// Entries per chunk: 32 KiB of 32-byte entries (a server transaction's timer).
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;
const OFFSET: u32 = CHUNK as u32 - 1;
/// Chunks a wheel can hold: every index stays below `NONE`.
const MAX_CHUNKS: usize = 1 << (32 - CHUNK_BITS);
/// No chunk.
const NO_CHUNK: usize = usize::MAX;

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
    /// The next entry in the slot's list while armed; the next free entry of the chunk
    /// (offset in the chunk) while free.
    next: u32,
    level: u8,
    slot: u8,
}

/// What the wheel keeps of a chunk besides its entries: small, so that the table of them stays
/// in a few cache lines.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    /// The first free entry (offset in the chunk), the others linked through `next`; `NONE`
    /// when the chunk is full or released.
    free: u32,
    /// Free entries.
    free_count: u32,
    /// The generation the chunk's entries started from when it was last allocated; while it
    /// is released, the one they will start from.
    base: u32,
}

/// A timer wheel holding payloads of type `T` (e.g. `(TransactionKey, TimerKind)`).
#[derive(Debug)]
pub struct TimerWheel<T> {
    start: Instant,
    tick: Duration,
    /// `tick` in nanoseconds, at least 1 ms.
    tick_nanos: u64,
    /// The last tick the wheel has processed up to.
    elapsed: u64,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    /// Chunk `c`'s entries, those of indices `c * CHUNK ..`; `None` while it is released.
    blocks: Vec<Option<Box<[Entry<T>; CHUNK]>>>,
    chunks: Vec<Chunk>,
    /// Bit `c` is set when chunk `c` is allocated and has a free entry.
    roomy: Vec<u64>,
    /// The lowest allocated chunk with a free entry (the lowest bit of `roomy`), `NO_CHUNK`
    /// when every allocated chunk is full.
    lowest_roomy: usize,
    /// The chunk kept when it last lost its last armed timer (it may have taken some since).
    empty: Option<u32>,
    armed: usize,
    #[cfg(test)]
    allocations: usize,
}

impl<T> TimerWheel<T> {
    /// A wheel whose tick 0 is `start`, advancing in steps of `tick` (at least 1 ms).
    pub fn new(start: Instant, tick: Duration) -> Self {
        let tick = tick.max(Duration::from_millis(1));
        TimerWheel {
            start,
            tick,
            tick_nanos: u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX),
            elapsed: 0,
            heads: [[NONE; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            blocks: Vec::new(),
            chunks: Vec::new(),
            roomy: Vec::new(),
            lowest_roomy: NO_CHUNK,
            empty: None,
            armed: 0,
            #[cfg(test)]
            allocations: 0,
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
        self.nanos_since_start(at).div_ceil(self.tick_nanos)
    }

    /// The tick that `now` has completed.
    fn tick_floor(&self, now: Instant) -> u64 {
        self.nanos_since_start(now) / self.tick_nanos
    }

    /// Nanoseconds from the wheel's start to `at`, as u64 to be divided by `tick_nanos` (never
    /// 0: `new` keeps the tick at 1 ms or more): a 64-bit division is several times cheaper
    /// than the 128-bit one `Duration` offers, and u64 nanoseconds last 584 years (later
    /// instants saturate).
    #[inline]
    fn nanos_since_start(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.start);
        d.as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()))
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
        let mut c = self.lowest_roomy;
        if c == NO_CHUNK {
            c = self.allocate_chunk();
        }
        // NOTE: a roomy chunk (and one just allocated) is allocated and has a free entry.
        let chunk = &mut self.chunks[c];
        let offset = chunk.free;
        let block = self.blocks[c].as_mut().expect("a roomy chunk is allocated");
        let e = &mut block[(offset & OFFSET) as usize];
        chunk.free = e.next;
        chunk.free_count -= 1;
        let full = chunk.free == NONE;
        e.payload = Some(payload);
        e.tick = tick;
        let generation = e.generation;
        if full {
            self.roomy[c / 64] &= !(1 << (c % 64));
            self.lowest_roomy = self.roomy_from(c);
        }
        // NOTE: `allocate_chunk` keeps `c` below MAX_CHUNKS, so the index fits u32.
        let index = (c as u32) << CHUNK_BITS | offset;
        self.link(index, tick);
        self.armed += 1;
        TimerId { index, generation }
    }

    /// Arms a timer `after` from `now`.
    pub fn arm_after(&mut self, now: Instant, after: Duration, payload: T) -> TimerId {
        self.arm(now + after, payload)
    }

    /// Cancels a timer; returns its payload if it was still armed. Stale ids do nothing.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let block = self.blocks.get_mut((id.index >> CHUNK_BITS) as usize)?;
        let e = &mut block.as_mut()?[(id.index & OFFSET) as usize];
        if e.generation != id.generation {
            return None;
        }
        let payload = e.payload.take()?;
        e.generation = e.generation.wrapping_add(1);
        let (prev, next, level, slot) = (e.prev, e.next, e.level, e.slot);
        self.unlink(prev, next, level, slot);
        self.free(id.index);
        Some(payload)
    }

    /// Whether `id` is still armed.
    pub fn is_armed(&self, id: TimerId) -> bool {
        self.get(id.index)
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
                let e = self.entry_mut(index);
                let generation = e.generation;
                // NOTE: slot lists hold armed timers only.
                let payload = e.payload.take().expect("a linked timer is armed");
                e.generation = generation.wrapping_add(1);
                let (prev, next, level, slot) = (e.prev, e.next, e.level, e.slot);
                self.unlink(prev, next, level, slot);
                self.free(index);
                return Some((TimerId { index, generation }, payload));
            }
            // Cascade: every timer of this slot moves to a lower level.
            let mut index = std::mem::replace(&mut self.heads[level][slot], NONE);
            self.occupied[level] &= !(1u64 << slot);
            while index != NONE {
                let e = self.entry(index);
                let (next, tick) = (e.next, e.tick);
                self.link(index, tick);
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

    /// The entry at `index`, if its chunk is allocated (for ids from outside, which may be
    /// stale).
    #[inline]
    fn get(&self, index: u32) -> Option<&Entry<T>> {
        let block = self.blocks.get((index >> CHUNK_BITS) as usize)?.as_ref()?;
        Some(&block[(index & OFFSET) as usize])
    }

    /// The entry of an armed timer (or one just unlinked).
    #[inline]
    fn entry(&self, index: u32) -> &Entry<T> {
        // NOTE: a chunk holding an armed timer is allocated (only empty chunks are released),
        // and slot lists hold only armed timers.
        let block = self.blocks[(index >> CHUNK_BITS) as usize].as_ref();
        &block.expect("an armed timer's chunk is allocated")[(index & OFFSET) as usize]
    }

    #[inline]
    fn entry_mut(&mut self, index: u32) -> &mut Entry<T> {
        // NOTE: as in `entry`.
        let block = self.blocks[(index >> CHUNK_BITS) as usize].as_mut();
        &mut block.expect("an armed timer's chunk is allocated")[(index & OFFSET) as usize]
    }

    /// Puts an entry into the slot its tick belongs in, relative to `elapsed`.
    fn link(&mut self, index: u32, tick: u64) {
        let elapsed = self.elapsed;
        let tick = tick.max(elapsed);
        let differs = (tick ^ elapsed) | (SLOTS as u64 - 1);
        let level = ((63 - differs.leading_zeros()) / SLOT_BITS) as usize;
        let level = level.min(LEVELS - 1);
        let slot = ((tick >> (SLOT_BITS * level as u32)) & (SLOTS as u64 - 1)) as usize;
        let head = self.heads[level][slot];
        {
            let e = self.entry_mut(index);
            e.tick = tick;
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = NONE;
            e.next = head;
        }
        if head != NONE {
            self.entry_mut(head).prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1u64 << slot;
    }

    /// Takes an entry out of its slot's list, given its links and slot.
    fn unlink(&mut self, prev: u32, next: u32, level: u8, slot: u8) {
        let (level, slot) = (level as usize, slot as usize);
        if prev == NONE {
            self.heads[level][slot] = next;
            if next == NONE {
                self.occupied[level] &= !(1u64 << slot);
            }
        } else {
            self.entry_mut(prev).next = next;
        }
        if next != NONE {
            self.entry_mut(next).prev = prev;
        }
    }

    /// Puts an entry, unlinked, its payload taken and its generation bumped, on its chunk's
    /// free list.
    #[inline]
    fn free(&mut self, index: u32) {
        let c = (index >> CHUNK_BITS) as usize;
        let chunk = &mut self.chunks[c];
        // NOTE: as in `entry`; the entry was armed until now.
        let block = self.blocks[c].as_mut();
        block.expect("an armed timer's chunk is allocated")[(index & OFFSET) as usize].next =
            chunk.free;
        if chunk.free == NONE {
            self.roomy[c / 64] |= 1 << (c % 64);
            self.lowest_roomy = self.lowest_roomy.min(c);
        }
        chunk.free = index & OFFSET;
        chunk.free_count += 1;
        self.armed -= 1;
        if chunk.free_count == CHUNK as u32 {
            self.emptied(c);
        }
    }

    /// The lowest allocated chunk with a free entry from chunk `c` up, or `NO_CHUNK`.
    fn roomy_from(&self, c: usize) -> usize {
        let mut w = c / 64;
        let Some(&first) = self.roomy.get(w) else {
            return NO_CHUNK;
        };
        let mut word = first & (u64::MAX << (c % 64));
        loop {
            if word != 0 {
                return w * 64 + word.trailing_zeros() as usize;
            }
            w += 1;
            match self.roomy.get(w) {
                Some(&next) => word = next,
                None => return NO_CHUNK,
            }
        }
    }

    /// Allocates the lowest chunk not allocated (every allocated one is full) and returns it.
    #[cold]
    fn allocate_chunk(&mut self) -> usize {
        let c = match self.blocks.iter().position(Option::is_none) {
            Some(c) => c,
            None => {
                self.blocks.push(None);
                self.chunks.push(Chunk {
                    free: NONE,
                    free_count: 0,
                    base: 0,
                });
                self.blocks.len() - 1
            }
        };
        // 2^32 entries of at least 24 bytes do not fit in memory: allocating them fails first.
        assert!(c < MAX_CHUNKS, "a timer wheel holds fewer than 2^32 timers");
        let chunk = &mut self.chunks[c];
        let base = chunk.base;
        let entries: Box<[Entry<T>]> = (0..CHUNK)
            .map(|i| Entry {
                payload: None,
                tick: 0,
                generation: base,
                prev: NONE,
                next: if i == OFFSET as usize {
                    NONE
                } else {
                    i as u32 + 1
                },
                level: 0,
                slot: 0,
            })
            .collect();
        // NOTE: the iterator yields exactly CHUNK entries.
        self.blocks[c] = Some(entries.try_into().ok().expect("CHUNK entries"));
        chunk.free = 0;
        chunk.free_count = CHUNK as u32;
        self.roomy.resize(self.roomy.len().max(c / 64 + 1), 0);
        self.roomy[c / 64] |= 1 << (c % 64);
        self.lowest_roomy = self.lowest_roomy.min(c);
        #[cfg(test)]
        {
            self.allocations += 1;
        }
        c
    }

    /// Chunk `c` has just lost its last armed timer: the lower of it and the chunk kept empty
    /// so far (if that one still is) stays, the other is released.
    #[cold]
    fn emptied(&mut self, c: usize) {
        let c = c as u32;
        let kept = self.empty.filter(|&k| {
            k != c
                && self.blocks[k as usize].is_some()
                && self.chunks[k as usize].free_count == CHUNK as u32
        });
        let Some(kept) = kept else {
            self.empty = Some(c);
            return;
        };
        self.empty = Some(kept.min(c));
        self.release_chunk(kept.max(c) as usize);
    }

    /// Releases an empty chunk, remembering the generation its entries go on from.
    fn release_chunk(&mut self, c: usize) {
        let Some(entries) = self.blocks[c].take() else {
            return;
        };
        let chunk = &mut self.chunks[c];
        chunk.base = generation_past(chunk.base, entries.iter().map(|e| e.generation));
        chunk.free = NONE;
        chunk.free_count = 0;
        self.roomy[c / 64] &= !(1 << (c % 64));
        if self.lowest_roomy == c {
            self.lowest_roomy = self.roomy_from(c);
        }
    }

    /// Chunks whose entries are allocated.
    #[cfg(test)]
    fn allocated_chunks(&self) -> usize {
        self.blocks.iter().filter(|b| b.is_some()).count()
    }
}

/// One past the highest of `generations`, counted (wrapping) from `base`, where they all
/// started: the ids handed out from those entries carry generations from `base` to below that
/// highest, so entries starting from the one returned name none of those timers.
fn generation_past(base: u32, generations: impl Iterator<Item = u32>) -> u32 {
    let reached = generations.map(|g| g.wrapping_sub(base)).max().unwrap_or(0);
    base.wrapping_add(reached).wrapping_add(1)
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

    /// Fires every timer due by `now`, dropping the payloads.
    fn fire_all(w: &mut TimerWheel<u32>, now: Instant) -> usize {
        drain(w, now).len()
    }

    #[test]
    fn a_burst_gives_its_chunks_back_but_one() {
        let (mut w, t0) = wheel();
        let burst = 10 * CHUNK as u32;
        let ids: Vec<TimerId> = (0..burst)
            .map(|i| w.arm(t0 + ms(u64::from(i % 3_200) * 10), i))
            .collect();
        assert_eq!(w.allocated_chunks(), 10);
        // Half end by cancel, half by firing.
        for id in ids.iter().step_by(2) {
            assert!(w.cancel(*id).is_some());
        }
        assert_eq!(fire_all(&mut w, t0 + ms(32_000)), burst as usize / 2);
        assert!(w.is_empty());
        assert_eq!(w.allocated_chunks(), 1, "one empty chunk is kept");
        assert!(ids
            .iter()
            .all(|&id| !w.is_armed(id) && w.cancel(id).is_none()));
        // The wheel goes on working from its kept chunk.
        let id = w.arm(t0 + ms(40_000), 7);
        assert_eq!(id.index >> CHUNK_BITS, 0);
        assert_eq!(drain(&mut w, t0 + ms(40_000)), vec![7]);
    }

    #[test]
    fn armed_timers_keep_their_ids_while_chunks_around_them_go() {
        let (mut w, t0) = wheel();
        let ids: Vec<TimerId> = (0..6 * CHUNK as u32)
            .map(|i| w.arm(t0 + ms(1_000), i))
            .collect();
        // One timer in chunks 1 and 4 outlives the burst.
        let stay = [CHUNK + 7, 4 * CHUNK + 100];
        for (i, id) in ids.iter().enumerate() {
            if !stay.contains(&i) {
                w.cancel(*id);
            }
        }
        assert_eq!(w.allocated_chunks(), 3, "chunks 0 (kept empty), 1 and 4");
        for i in stay {
            assert!(w.is_armed(ids[i]));
        }
        // New timers fill chunk 0 first, then the room in chunks 1 and 4, before chunk 2.
        for i in 0..(3 * CHUNK as u32 - 2) {
            w.arm(t0 + ms(2_000), 1_000_000 + i);
        }
        assert_eq!(w.allocated_chunks(), 3);
        let next = w.arm(t0 + ms(2_000), 2_000_000);
        assert_eq!(
            next.index >> CHUNK_BITS,
            2,
            "the lowest chunk not allocated"
        );
        let mut fired = drain(&mut w, t0 + ms(1_000));
        fired.sort_unstable();
        assert_eq!(fired, stay.map(|i| i as u32).to_vec());
    }

    #[test]
    fn stale_ids_stay_harmless_across_a_released_chunk() {
        let (mut w, t0) = wheel();
        let old: Vec<TimerId> = (0..3 * CHUNK as u32)
            .map(|i| w.arm(t0 + ms(100), i))
            .collect();
        // Entries of chunk 2 go through a few generations before the chunk empties.
        let hot = old[2 * CHUNK + 5];
        assert_eq!(w.cancel(hot), Some(2 * CHUNK as u32 + 5));
        let hotter = w.arm(t0 + ms(100), 99);
        assert_eq!(hotter.index, hot.index, "the lowest chunk with room");
        assert_eq!(fire_all(&mut w, t0 + ms(100)), 3 * CHUNK);
        assert_eq!(w.allocated_chunks(), 1, "chunks 1 and 2 released");
        // An id into a released chunk is a no-op.
        for id in [hot, hotter, old[CHUNK + 1]] {
            assert!(!w.is_armed(id));
            assert_eq!(w.cancel(id), None);
        }
        // Allocated again, chunk 2's entries go on past every generation they had.
        let new: Vec<TimerId> = (0..3 * CHUNK as u32)
            .map(|i| w.arm(t0 + ms(200), 10_000 + i))
            .collect();
        assert_eq!(w.allocated_chunks(), 3);
        let reused = new[2 * CHUNK + 5];
        assert_eq!(reused.index, hot.index);
        assert!(reused.generation != hot.generation && reused.generation != hotter.generation);
        for id in &old {
            assert_eq!(w.cancel(*id), None, "a stale id cancelled a newer timer");
        }
        assert_eq!(w.cancel(hotter), None);
        assert_eq!(w.len(), 3 * CHUNK);
        assert!(new.iter().all(|&id| w.is_armed(id)));
        assert_eq!(w.cancel(reused), Some(10_000 + 2 * CHUNK as u32 + 5));
    }

    #[test]
    fn a_released_chunk_starts_past_its_highest_generation_even_across_the_wrap() {
        assert_eq!(generation_past(0, [0, 0].into_iter()), 1);
        assert_eq!(generation_past(0, [3, 1, 0].into_iter()), 4);
        assert_eq!(generation_past(7, std::iter::empty()), 8);
        // Counted from the base, a generation that wrapped is the highest.
        let base = u32::MAX - 1;
        assert_eq!(generation_past(base, [u32::MAX, 2, base].into_iter()), 3);
        assert_eq!(generation_past(u32::MAX, [u32::MAX].into_iter()), 0);
    }

    #[test]
    fn the_lowest_chunk_with_room_is_reused_first() {
        let (mut w, t0) = wheel();
        // More than 64 chunks, so that the search crosses a word of the bitmap.
        let ids: Vec<TimerId> = (0..68 * CHUNK as u32)
            .map(|i| w.arm(t0 + ms(500), i))
            .collect();
        // One entry free in each of chunks 66, 1 and 65, freed in that order.
        for c in [66, 1, 65] {
            w.cancel(ids[c * CHUNK + 9]);
        }
        let taken: Vec<u32> = (0..3)
            .map(|i| w.arm(t0 + ms(500), 100_000 + i).index >> CHUNK_BITS)
            .collect();
        assert_eq!(taken, [1, 65, 66]);
        let next = w.arm(t0 + ms(500), 200_000);
        assert_eq!(
            next.index >> CHUNK_BITS,
            68,
            "a new chunk once every chunk is full"
        );
        assert_eq!(drain(&mut w, t0 + ms(500)).len(), 68 * CHUNK + 1);
    }

    /// A load swinging across a chunk boundary allocates no chunk after the first swing.
    #[test]
    fn a_steady_load_on_a_chunk_boundary_does_not_thrash() {
        let (mut w, t0) = wheel();
        let mut live = std::collections::VecDeque::new();
        let mut at = t0 + ms(3_600_000);
        for i in 0..CHUNK as u32 - 10 {
            live.push_back(w.arm(at, i));
        }
        let allocations = w.allocations;
        for round in 0..200 {
            // Up 20 across the boundary, then down 20 (the oldest first).
            for i in 0..20 {
                at += ms(10);
                live.push_back(w.arm(at, i));
            }
            for _ in 0..20 {
                let id = live.pop_front().expect("20 armed");
                assert!(w.cancel(id).is_some(), "round {round}");
            }
        }
        assert!(
            w.allocations <= allocations + 1,
            "{} chunk allocations",
            w.allocations - allocations
        );
        // Swings of more than a chunk allocate and release, at most once each way per swing.
        let before = w.allocations;
        for _ in 0..5 {
            for i in 0..3 * CHUNK as u32 {
                at += ms(10);
                live.push_back(w.arm(at, i));
            }
            for _ in 0..3 * CHUNK {
                let id = live.pop_front().expect("armed");
                assert!(w.cancel(id).is_some());
            }
        }
        assert!(
            w.allocations - before <= 5 * 3,
            "{}",
            w.allocations - before
        );
        assert!(w.allocated_chunks() <= 3);
    }
}
