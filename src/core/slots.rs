//! Keyed storage for what a shard holds many of and finds by key (transactions, addresses of
//! record): values in reusable slots, found through a match table of slot indices.
//!
//! Owns: slot allocation and reuse, the match table, and each slot's spare buffer. Must not:
//! know what it stores (the tables do).
//!
//! A slot index is a transaction's id: timers name it, so it never moves while the
//! transaction lives. A freed slot keeps a byte buffer (the last transaction's request or
//! response) for the next transaction in it, so a running shard allocates nothing per
//! transaction.
//!
//! Ending a transaction does not touch the match table. Each table entry carries the
//! generation of its slot; freeing a slot bumps its generation, which makes its entry stale
//! (lookups skip it). Stale entries are swept in one pass over the table when it would
//! otherwise grow, so the table holds at most as many stale entries as it has spare capacity.
//! Why: with Timer J holding a transaction 32 s, the table entry of an ending transaction is
//! cold, and removing it cost two cache misses per transaction; the sweep reads the table and
//! the dense generation array in order instead.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::{BuildHasher, Hash};

/// A transaction as the slots see it: something with a key.
pub(crate) trait Keyed {
    type Key: Hash + Eq + ?Sized;
    fn key(&self) -> &Self::Key;
}

/// A freed slot's buffer above this capacity is released rather than kept.
const KEEP_BUFFER: usize = 4096;

enum Slot<E> {
    Live(E),
    /// A free slot and the buffer it keeps for the next transaction.
    Free(Vec<u8>),
}

pub(crate) struct Slots<E> {
    /// (slot index, slot generation), hashed and compared by the slot's key; stale once the
    /// slot's generation moved on.
    map: HashTable<(u32, u32)>,
    hasher: DefaultHashBuilder,
    slots: Vec<Slot<E>>,
    /// Each slot's generation, bumped when it is freed. Dense, so the sweep of stale table
    /// entries reads it in order rather than touching the slots.
    generations: Vec<u32>,
    free: Vec<u32>,
    live: usize,
}

impl<E: Keyed> Slots<E> {
    pub(crate) fn new() -> Self {
        Slots {
            map: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            live: 0,
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
        match self.slots.get(index as usize)? {
            Slot::Live(e) => Some(e),
            Slot::Free(_) => None,
        }
    }

    pub(crate) fn get_mut(&mut self, index: u32) -> Option<&mut E> {
        match self.slots.get_mut(index as usize)? {
            Slot::Live(e) => Some(e),
            Slot::Free(_) => None,
        }
    }

    /// Stores the transaction `make` builds from the spare buffer of the slot it gets (empty,
    /// with whatever capacity the slot kept), and returns the slot's index.
    pub(crate) fn insert(&mut self, make: impl FnOnce(Vec<u8>) -> E) -> u32 {
        let index = match self.free.pop() {
            Some(i) => {
                // NOTE: free indices point at free slots.
                let slot = &mut self.slots[i as usize];
                let spare = match slot {
                    Slot::Free(buffer) => std::mem::take(buffer),
                    Slot::Live(_) => Vec::new(),
                };
                *slot = Slot::Live(make(spare));
                i
            }
            None => {
                self.slots.push(Slot::Live(make(Vec::new())));
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        if self.map.len() >= self.map.capacity() {
            self.sweep();
        }
        let generation = self.generations[index as usize];
        let hash = self.key_of(index).map_or(0, |k| self.hasher.hash_one(k));
        let (slots, hasher) = (&self.slots, &self.hasher);
        // NOTE: the table rehashes only when full, and `sweep` has just left only live
        // entries, whose slots hold their keys.
        self.map
            .insert_unique(hash, (index, generation), |&(i, _)| {
                key_in(slots, i).map_or(0, |k| hasher.hash_one(k))
            });
        self.live += 1;
        index
    }

    /// Frees a slot and returns its transaction; `spare` is the buffer the slot keeps for the
    /// next one (released instead when it is large).
    pub(crate) fn remove(
        &mut self,
        index: u32,
        take_spare: impl FnOnce(&mut E) -> Vec<u8>,
    ) -> Option<E> {
        let slot = self.slots.get_mut(index as usize)?;
        let Slot::Live(mut entry) = std::mem::replace(slot, Slot::Free(Vec::new())) else {
            return None;
        };
        let mut spare = take_spare(&mut entry);
        if spare.capacity() <= KEEP_BUFFER {
            spare.clear();
            *slot = Slot::Free(spare);
        }
        // The match entry goes stale; `sweep` drops it later.
        if let Some(g) = self.generations.get_mut(index as usize) {
            *g = g.wrapping_add(1);
        }
        self.live = self.live.saturating_sub(1);
        self.free.push(index);
        Some(entry)
    }

    /// The generation of a slot: it changes each time the slot is freed, so an index and its
    /// generation name one occupant.
    pub(crate) fn generation(&self, index: u32) -> Option<u32> {
        self.generations.get(index as usize).copied()
    }

    fn key_of(&self, index: u32) -> Option<&E::Key> {
        key_in(&self.slots, index)
    }

    /// Drops the stale entries of a full match table, and makes room to grow when most of it
    /// is live, so that sweeps stay rare: each one follows at least as many insertions as the
    /// table has live entries. A slot's generation cannot wrap between two sweeps (that would
    /// take 2^32 reuses of one slot, and a sweep comes at least every `capacity` insertions).
    fn sweep(&mut self) {
        let generations = &self.generations;
        self.map
            .retain(|&mut (i, g)| generations.get(i as usize) == Some(&g));
        let (slots, hasher) = (&self.slots, &self.hasher);
        if self.map.len() * 2 >= self.map.capacity() {
            self.map.reserve(self.map.len().max(16), |&(i, _)| {
                key_in(slots, i).map_or(0, |k| hasher.hash_one(k))
            });
        }
    }

    #[cfg(test)]
    pub(crate) fn match_capacity(&self) -> usize {
        self.map.capacity()
    }

    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }
}

fn key_in<E: Keyed>(slots: &[Slot<E>], index: u32) -> Option<&E::Key> {
    match slots.get(index as usize)? {
        Slot::Live(e) => Some(e.key()),
        Slot::Free(_) => None,
    }
}

/// Bytes one slot takes for a transaction of type `E` (for the footprint figures).
#[cfg(test)]
pub(crate) const fn slot_bytes<E>() -> usize {
    std::mem::size_of::<Slot<E>>()
}
