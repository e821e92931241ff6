//! Keyed storage for what a shard holds many of and finds by key (transactions, addresses of
//! record): values in reusable slots, found through a match table of slot indices.
//!
//! Owns: slot allocation and reuse, the match table, each slot's spare buffer, and giving
//! memory back after a burst. Must not: know what it stores (the tables do).
//!
//! A slot index is a transaction's id: timers name it, so it never moves while the
//! transaction lives. A freed slot keeps a byte buffer (the last transaction's request or
//! response) for the next transaction in it, so a running shard allocates nothing per
//! transaction.
//!
//! Slots come in chunks of `CHUNK`, each one allocation. A new entry takes a free slot in the
//! lowest chunk that has one, and a new chunk (the lowest index not allocated) only when every
//! allocated chunk is full, so live entries gather in low chunks and, once a burst is over,
//! the high ones drain. A chunk left with no live entry is released with its slots and their
//! buffers, except the lowest empty one, kept so that a load swinging around a chunk boundary
//! does not allocate and release a chunk at every swing. Free slots keep buffers only while
//! no more of them hold one than there are live entries.
//!
//! Ending a transaction does not touch the match table. Each table entry carries the
//! generation of its slot; freeing a slot bumps its generation, which makes its entry stale
//! (lookups skip it). Stale entries are swept in one pass over the table when it would
//! otherwise grow, so the table holds at most as many stale entries as it has spare capacity.
//! Why: with Timer J holding a transaction 32 s, the table entry of an ending transaction is
//! cold, and removing it cost two cache misses per transaction; the sweep reads the table and
//! the dense generation array in order instead. Generations outlive released chunks, so an
//! index and its generation never name two occupants.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::{BuildHasher, Hash};

/// A transaction as the slots see it: something with a key.
pub(crate) trait Keyed {
    type Key: Hash + Eq + ?Sized;
    fn key(&self) -> &Self::Key;
}

/// A freed slot's buffer above this capacity is released rather than kept.
const KEEP_BUFFER: usize = 4096;

/// Slots per chunk: a chunk of 200-byte transaction slots is 200 KiB, one allocation the
/// allocator hands back to the system whole.
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;
const OFFSET: u32 = CHUNK as u32 - 1;

/// The end of a chunk's free list.
const NONE: u32 = u32::MAX;

/// The match table is shrunk when it has this many times the capacity its live entries need.
const SHRINK_RATIO: usize = 8;
/// ... and not below this capacity.
const SHRINK_FLOOR: usize = 4096;

enum Slot<E> {
    Live(E),
    /// A free slot, the buffer it keeps for the next transaction (possibly none) and the next
    /// free slot of its chunk.
    Free {
        spare: Vec<u8>,
        next: u32,
    },
}

struct Chunk<E> {
    /// `None` once released.
    slots: Option<Box<[Slot<E>; CHUNK]>>,
    live: u32,
    /// The first free slot (offset in the chunk), or `NONE`.
    free: u32,
}

pub(crate) struct Slots<E> {
    /// (slot index, slot generation), hashed and compared by the slot's key; stale once the
    /// slot's generation moved on.
    map: HashTable<(u32, u32)>,
    hasher: DefaultHashBuilder,
    chunks: Vec<Chunk<E>>,
    /// Bit `c` is set when chunk `c` is allocated and has a free slot.
    roomy: Vec<u64>,
    /// No word of `roomy` below this one has a bit set.
    lowest_roomy: usize,
    /// The chunk kept when it last lost its last live entry (it may have taken some since).
    empty: Option<u32>,
    /// Each slot's generation, bumped when it is freed. Dense over every index ever
    /// allocated, kept when a chunk is released, so the sweep of stale table entries reads it
    /// in order rather than touching the slots.
    generations: Vec<u32>,
    live: usize,
    /// Free slots that keep a buffer.
    spares: usize,
    #[cfg(test)]
    allocations: usize,
}

impl<E: Keyed> Slots<E> {
    pub(crate) fn new() -> Self {
        Slots {
            map: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            chunks: Vec::new(),
            roomy: Vec::new(),
            lowest_roomy: 0,
            empty: None,
            generations: Vec::new(),
            live: 0,
            spares: 0,
            #[cfg(test)]
            allocations: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn find(&self, key: &E::Key) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.map
            .find(hash, |&(i, g)| {
                self.generations.get(i as usize) == Some(&g) && self.key_of(i) == Some(key)
            })
            .map(|&(i, _)| i)
    }

    pub(crate) fn get(&self, index: u32) -> Option<&E> {
        match slot_in(&self.chunks, index)? {
            Slot::Live(e) => Some(e),
            Slot::Free { .. } => None,
        }
    }

    pub(crate) fn get_mut(&mut self, index: u32) -> Option<&mut E> {
        let chunk = self.chunks.get_mut((index >> CHUNK_BITS) as usize)?;
        match &mut chunk.slots.as_mut()?[(index & OFFSET) as usize] {
            Slot::Live(e) => Some(e),
            Slot::Free { .. } => None,
        }
    }

    /// Stores the transaction `make` builds from the spare buffer of the slot it gets (empty,
    /// with whatever capacity the slot kept), and returns the slot's index.
    pub(crate) fn insert(&mut self, make: impl FnOnce(Vec<u8>) -> E) -> u32 {
        let c = match self.lowest_roomy_chunk() {
            Some(c) => c,
            None => self.allocate_chunk(),
        };
        // NOTE: a roomy chunk (and one just allocated) is allocated and its free list starts
        // at a free slot.
        let chunk = &mut self.chunks[c];
        let slots = chunk.slots.as_mut().expect("a roomy chunk is allocated");
        let offset = chunk.free;
        let slot = &mut slots[(offset & OFFSET) as usize];
        let (spare, next) = match slot {
            Slot::Free { spare, next } => (std::mem::take(spare), *next),
            Slot::Live(_) => unreachable!("free lists hold free slots"),
        };
        if spare.capacity() > 0 {
            self.spares -= 1;
        }
        *slot = Slot::Live(make(spare));
        chunk.free = next;
        chunk.live += 1;
        if next == NONE {
            self.roomy[c / 64] &= !(1 << (c % 64));
        }
        let index = (c as u32) << CHUNK_BITS | offset;
        if self.map.len() >= self.map.capacity() {
            self.sweep();
        }
        // NOTE: every index of an allocated chunk has a generation.
        let generation = self.generations[index as usize];
        let hash = self.key_of(index).map_or(0, |k| self.hasher.hash_one(k));
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        // NOTE: the table rehashes only when full, and `sweep` has just left only live
        // entries, whose slots hold their keys.
        self.map
            .insert_unique(hash, (index, generation), |&(i, _)| {
                key_in(chunks, i).map_or(0, |k| hasher.hash_one(k))
            });
        self.live += 1;
        index
    }

    /// Frees a slot and returns its transaction; `spare` is the buffer the slot keeps for the
    /// next one (released instead when it is large, or when free slots already keep more
    /// buffers than there are live entries).
    pub(crate) fn remove(
        &mut self,
        index: u32,
        take_spare: impl FnOnce(&mut E) -> Vec<u8>,
    ) -> Option<E> {
        let c = (index >> CHUNK_BITS) as usize;
        let offset = index & OFFSET;
        let chunk = self.chunks.get_mut(c)?;
        let slot = &mut chunk.slots.as_mut()?[offset as usize];
        if !matches!(slot, Slot::Live(_)) {
            return None;
        }
        let free = Slot::Free {
            spare: Vec::new(),
            next: chunk.free,
        };
        let Slot::Live(mut entry) = std::mem::replace(slot, free) else {
            return None;
        };
        self.live -= 1;
        let mut spare = take_spare(&mut entry);
        if spare.capacity() > 0 && spare.capacity() <= KEEP_BUFFER && self.spares <= self.live {
            spare.clear();
            if let Slot::Free { spare: kept, .. } = slot {
                *kept = spare;
                self.spares += 1;
            }
        }
        if chunk.free == NONE {
            self.roomy[c / 64] |= 1 << (c % 64);
            self.lowest_roomy = self.lowest_roomy.min(c / 64);
        }
        chunk.free = offset;
        chunk.live -= 1;
        let emptied = chunk.live == 0;
        // The match entry goes stale; `sweep` drops it later.
        if let Some(g) = self.generations.get_mut(index as usize) {
            *g = g.wrapping_add(1);
        }
        if emptied {
            self.emptied(c as u32);
        }
        Some(entry)
    }

    /// The generation of a slot: it changes each time the slot is freed, so an index and its
    /// generation name one occupant.
    pub(crate) fn generation(&self, index: u32) -> Option<u32> {
        self.generations.get(index as usize).copied()
    }

    fn key_of(&self, index: u32) -> Option<&E::Key> {
        key_in(&self.chunks, index)
    }

    /// The lowest allocated chunk with a free slot.
    fn lowest_roomy_chunk(&mut self) -> Option<usize> {
        while let Some(&word) = self.roomy.get(self.lowest_roomy) {
            if word != 0 {
                return Some(self.lowest_roomy * 64 + word.trailing_zeros() as usize);
            }
            self.lowest_roomy += 1;
        }
        None
    }

    /// Allocates the lowest chunk not allocated (every allocated one is full) and returns it.
    #[cold]
    fn allocate_chunk(&mut self) -> usize {
        let c = match self.chunks.iter().position(|k| k.slots.is_none()) {
            Some(c) => c,
            None => {
                self.chunks.push(Chunk {
                    slots: None,
                    live: 0,
                    free: NONE,
                });
                self.chunks.len() - 1
            }
        };
        let slots: Box<[Slot<E>]> = (0..CHUNK as u32)
            .map(|i| Slot::Free {
                spare: Vec::new(),
                next: if i == OFFSET { NONE } else { i + 1 },
            })
            .collect();
        // NOTE: the iterator yields exactly CHUNK slots.
        let slots: Box<[Slot<E>; CHUNK]> = slots.try_into().ok().expect("CHUNK slots");
        self.chunks[c] = Chunk {
            slots: Some(slots),
            live: 0,
            free: 0,
        };
        self.generations
            .resize(self.generations.len().max((c + 1) * CHUNK), 0);
        self.roomy.resize(self.roomy.len().max(c / 64 + 1), 0);
        self.roomy[c / 64] |= 1 << (c % 64);
        self.lowest_roomy = self.lowest_roomy.min(c / 64);
        #[cfg(test)]
        {
            self.allocations += 1;
        }
        c
    }

    /// Chunk `c` has just lost its last live entry: the lower of it and the chunk kept empty so
    /// far (if that one still is) stays, the other is released.
    #[cold]
    fn emptied(&mut self, c: u32) {
        let kept = self.empty.filter(|&k| {
            k != c
                && self
                    .chunks
                    .get(k as usize)
                    .is_some_and(|k| k.live == 0 && k.slots.is_some())
        });
        let Some(kept) = kept else {
            self.empty = Some(c);
            return;
        };
        self.empty = Some(kept.min(c));
        self.release(kept.max(c) as usize);
    }

    /// Releases an empty chunk: its slots and their buffers. The match table shrinks too when
    /// it has become several times larger than its live entries need.
    fn release(&mut self, c: usize) {
        let Some(chunk) = self.chunks.get_mut(c) else {
            return;
        };
        chunk.free = NONE;
        let Some(slots) = chunk.slots.take() else {
            return;
        };
        let buffers = slots
            .iter()
            .filter(|s| matches!(s, Slot::Free { spare, .. } if spare.capacity() > 0))
            .count();
        self.spares -= buffers;
        drop(slots);
        self.roomy[c / 64] &= !(1 << (c % 64));
        if self.map.capacity() >= SHRINK_FLOOR && self.map.capacity() > SHRINK_RATIO * self.live {
            self.sweep();
        }
    }

    /// Drops the stale entries of the match table; then makes room to grow when most of it is
    /// live, so that sweeps stay rare (each one follows at least as many insertions as the
    /// table has live entries), or shrinks it when it is mostly empty. A slot's generation
    /// cannot wrap between two sweeps (that would take 2^32 reuses of one slot, and a sweep
    /// comes at least every `capacity` insertions).
    fn sweep(&mut self) {
        let generations = &self.generations;
        self.map
            .retain(|&mut (i, g)| generations.get(i as usize) == Some(&g));
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        let rehash = |&(i, _): &(u32, u32)| key_in(chunks, i).map_or(0, |k| hasher.hash_one(k));
        let (len, capacity) = (self.map.len(), self.map.capacity());
        if len * 2 >= capacity {
            self.map.reserve(len.max(16), rehash);
        } else if capacity >= SHRINK_FLOOR && capacity > SHRINK_RATIO * len {
            self.map.shrink_to(len * 2, rehash);
        }
    }

    #[cfg(test)]
    pub(crate) fn match_capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Slots ever used and not released: live ones and those freed at least once.
    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        (0..self.generations.len() as u32)
            .filter(|&i| self.get(i).is_some() || self.generations[i as usize] != 0)
            .filter(|&i| slot_in(&self.chunks, i).is_some())
            .count()
    }
}

fn slot_in<E>(chunks: &[Chunk<E>], index: u32) -> Option<&Slot<E>> {
    let chunk = chunks.get((index >> CHUNK_BITS) as usize)?;
    Some(&chunk.slots.as_ref()?[(index & OFFSET) as usize])
}

fn key_in<E: Keyed>(chunks: &[Chunk<E>], index: u32) -> Option<&E::Key> {
    match slot_in(chunks, index)? {
        Slot::Live(e) => Some(e.key()),
        Slot::Free { .. } => None,
    }
}

/// Bytes one slot takes for a transaction of type `E` (for the footprint figures).
#[cfg(test)]
pub(crate) const fn slot_bytes<E>() -> usize {
    std::mem::size_of::<Slot<E>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry keyed by a number, with the buffer it got from its slot.
    struct Entry {
        key: u64,
        bytes: Vec<u8>,
    }

    impl Keyed for Entry {
        type Key = u64;
        fn key(&self) -> &u64 {
            &self.key
        }
    }

    fn insert(slots: &mut Slots<Entry>, key: u64) -> u32 {
        slots.insert(|mut bytes| {
            bytes.extend_from_slice(b"SIP/2.0 200 OK\r\n\r\n");
            Entry { key, bytes }
        })
    }

    fn remove(slots: &mut Slots<Entry>, index: u32) -> Option<Entry> {
        slots.remove(index, |e| std::mem::take(&mut e.bytes))
    }

    impl<E> Slots<E> {
        fn allocated_chunks(&self) -> usize {
            self.chunks.iter().filter(|c| c.slots.is_some()).count()
        }

        fn buffers_kept(&self) -> usize {
            self.chunks
                .iter()
                .filter_map(|c| c.slots.as_deref())
                .flatten()
                .filter(|s| matches!(s, Slot::Free { spare, .. } if spare.capacity() > 0))
                .count()
        }
    }

    #[test]
    fn a_burst_gives_its_chunks_back_but_one() {
        let mut slots = Slots::new();
        let burst = 10 * CHUNK as u64;
        let indices: Vec<u32> = (0..burst).map(|k| insert(&mut slots, k)).collect();
        assert_eq!(slots.allocated_chunks(), 10);
        for (k, &i) in indices.iter().enumerate() {
            assert_eq!(remove(&mut slots, i).map(|e| e.key), Some(k as u64));
        }
        assert_eq!(slots.len(), 0);
        assert_eq!(slots.allocated_chunks(), 1, "one empty chunk is kept");
        assert!(
            slots.match_capacity() < SHRINK_FLOOR * 2,
            "match table of {} entries for none live",
            slots.match_capacity()
        );
        assert_eq!(slots.find(&3), None);
        assert!(indices.iter().all(|&i| slots.get(i).is_none()));
    }

    #[test]
    fn live_entries_keep_their_index_while_chunks_around_them_go() {
        let mut slots = Slots::new();
        let indices: Vec<u32> = (0..6 * CHUNK as u64)
            .map(|k| insert(&mut slots, k))
            .collect();
        // One entry in chunks 1 and 4 outlives the burst.
        let stay = [CHUNK as u64 + 7, 4 * CHUNK as u64 + 100];
        for (k, &i) in indices.iter().enumerate() {
            if !stay.contains(&(k as u64)) {
                remove(&mut slots, i);
            }
        }
        assert_eq!(
            slots.allocated_chunks(),
            3,
            "chunks 0 (kept empty), 1 and 4"
        );
        for k in stay {
            let i = indices[k as usize];
            assert_eq!(slots.find(&k), Some(i));
            assert_eq!(slots.get(i).map(|e| e.key), Some(k));
            assert_eq!(slots.generation(i), Some(0));
        }
        // New entries fill chunk 0 first, then the room in chunks 1 and 4, before chunk 2.
        for k in 0..(3 * CHUNK as u64 - 2) {
            insert(&mut slots, 1_000_000 + k);
        }
        assert_eq!(slots.allocated_chunks(), 3);
        let next = insert(&mut slots, 2_000_000);
        assert_eq!(next >> CHUNK_BITS, 2, "the lowest chunk not allocated");
        for k in stay {
            assert_eq!(slots.get(indices[k as usize]).map(|e| e.key), Some(k));
        }
    }

    #[test]
    fn generations_outlive_a_released_chunk() {
        let mut slots = Slots::new();
        let indices: Vec<u32> = (0..3 * CHUNK as u64)
            .map(|k| insert(&mut slots, k))
            .collect();
        let old = indices[2 * CHUNK + 5];
        for &i in &indices {
            remove(&mut slots, i);
        }
        // Chunk 0 is kept empty; chunks 1 and 2 are released.
        assert_eq!(slots.allocated_chunks(), 1);
        assert_eq!(slots.generation(old), Some(1));
        assert!(slots.get(old).is_none());
        assert!(
            remove(&mut slots, old).is_none(),
            "a stale index frees nothing"
        );
        // Reallocated, chunk 2's slots go on from their generations.
        let again: Vec<u32> = (0..3 * CHUNK as u64)
            .map(|k| insert(&mut slots, 10_000 + k))
            .collect();
        assert!(again.contains(&old));
        assert_eq!(
            slots.generation(old),
            Some(1),
            "(index, 0) names no occupant"
        );
        assert_eq!(slots.find(&(2 * CHUNK as u64 + 5)), None);
        let k = slots.get(old).map(|e| e.key);
        assert_eq!(k.and_then(|k| slots.find(&k)), Some(old));
    }

    #[test]
    fn the_lowest_free_slot_chunk_is_reused_first() {
        let mut slots = Slots::new();
        let indices: Vec<u32> = (0..4 * CHUNK as u64)
            .map(|k| insert(&mut slots, k))
            .collect();
        // One slot free in each of chunks 3, 1 and 2, freed in that order.
        for c in [3, 1, 2] {
            remove(&mut slots, indices[c * CHUNK + 9]);
        }
        let taken: Vec<u32> = (0..3).map(|k| insert(&mut slots, 100_000 + k)).collect();
        let chunks: Vec<u32> = taken.iter().map(|i| i >> CHUNK_BITS).collect();
        assert_eq!(chunks, [1, 2, 3]);
    }

    /// A load swinging across a chunk boundary allocates no chunk after the first swing.
    #[test]
    fn a_steady_load_on_a_chunk_boundary_does_not_thrash() {
        let mut slots = Slots::new();
        let mut live = std::collections::VecDeque::new();
        let mut key = 0;
        for _ in 0..CHUNK - 10 {
            live.push_back(insert(&mut slots, key));
            key += 1;
        }
        let allocations = slots.allocations;
        for round in 0..200 {
            // Up 20 across the boundary, then down 20 (the oldest end first).
            for _ in 0..20 {
                live.push_back(insert(&mut slots, key));
                key += 1;
            }
            for _ in 0..20 {
                let i = live.pop_front().unwrap_or_default();
                assert!(remove(&mut slots, i).is_some(), "round {round}");
            }
        }
        assert!(
            slots.allocations <= allocations + 1,
            "{} chunk allocations",
            slots.allocations - allocations
        );
        // Swings of more than a chunk allocate and release, at most once each way per swing.
        let before = slots.allocations;
        for _ in 0..5 {
            for _ in 0..3 * CHUNK {
                live.push_back(insert(&mut slots, key));
                key += 1;
            }
            for _ in 0..3 * CHUNK {
                let i = live.pop_front().unwrap_or_default();
                remove(&mut slots, i);
            }
        }
        assert!(
            slots.allocations - before <= 5 * 3,
            "{}",
            slots.allocations - before
        );
        assert!(slots.allocated_chunks() <= 3);
    }

    #[test]
    fn a_freed_slot_keeps_its_buffer_only_while_live_entries_outnumber_kept_ones() {
        let mut slots = Slots::new();
        let indices: Vec<u32> = (0..2 * CHUNK as u64)
            .map(|k| insert(&mut slots, k))
            .collect();
        for &i in indices.iter().step_by(4) {
            remove(&mut slots, i);
        }
        let freed = indices.len() / 4;
        assert_eq!(
            slots.buffers_kept(),
            freed,
            "a quarter freed: every buffer kept"
        );
        let mut dropped = 0;
        let rest = indices.iter().skip(1).step_by(4);
        for &i in rest.chain(indices.iter().skip(2).step_by(4)) {
            let (kept, live) = (slots.buffers_kept(), slots.len());
            remove(&mut slots, i);
            if slots.buffers_kept() == kept {
                assert!(kept >= live, "{kept} buffers kept, {live} live");
                dropped += 1;
            } else {
                assert!(kept < live, "{kept} buffers kept, {live} live");
            }
        }
        assert!(dropped > 0);
        assert_eq!(slots.spares, slots.buffers_kept());
        // A running load reuses the kept buffers: a new entry gets one.
        let i = insert(&mut slots, 7);
        assert!(slots.get(i).is_some_and(|e| e.bytes.capacity() > 0));
        assert_eq!(slots.spares, slots.buffers_kept());
    }

    #[test]
    fn a_large_buffer_is_not_kept() {
        let mut slots = Slots::new();
        let i = slots.insert(|_| Entry {
            key: 1,
            bytes: vec![0; KEEP_BUFFER + 1],
        });
        insert(&mut slots, 2);
        remove(&mut slots, i);
        assert_eq!(slots.buffers_kept(), 0);
    }
}
