//! When bindings fall due: AoR slots filed by the second of the location's clock at which
//! one of their bindings expires.
//!
//! Owns: the buckets and their order. Must not: decide what an entry means (the location
//! checks the AoR's bindings when an entry comes up).
//!
//! Why not one timer per binding: a wheel timer is 40 bytes and a binding's expiry changes
//! on every refresh. An entry here is the AoR's slot, 4 bytes, and needs no cancelling:
//! each binding records the second it is filed under (`Stored::filed`, never after its
//! expiry), and an entry whose slot holds no binding filed under that second is stale and
//! skipped. A refresh that pushes the expiry later files nothing; the binding is filed again
//! for its new expiry when its old entry comes up. Only a refresh that brings the expiry
//! earlier adds an entry, so stale entries are bounded by such refreshes, and each leaves
//! with its second.
//!
//! Seconds are whole seconds since the location's creation (`u32`: 136 years), rounded up
//! for an expiry, so a binding leaves at most a second after its interval ends; the buckets
//! are a sorted map, one per second that has entries (3600 at most with the default
//! `registrar.max_expires`).

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct Due {
    buckets: BTreeMap<u32, Vec<u32>>,
}

impl Due {
    /// Files `slot` under `second`.
    pub(super) fn file(&mut self, second: u32, slot: u32) {
        self.buckets.entry(second).or_default().push(slot);
    }

    /// The earliest second with an entry.
    pub(super) fn first(&self) -> Option<u32> {
        self.buckets.first_key_value().map(|(s, _)| *s)
    }

    /// The next entry due by second `now`: (second, slot). It stays until [`Due::pop`].
    pub(super) fn peek(&self, now: u32) -> Option<(u32, u32)> {
        let (&second, slots) = self.buckets.first_key_value()?;
        if second > now {
            return None;
        }
        slots.last().map(|&slot| (second, slot))
    }

    /// Drops the entry [`Due::peek`] gave for `second`.
    pub(super) fn pop(&mut self, second: u32) {
        let Some(slots) = self.buckets.get_mut(&second) else {
            return;
        };
        slots.pop();
        if slots.is_empty() {
            self.buckets.remove(&second);
        }
    }

    /// Entries filed, stale ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_up_by_second_and_only_when_due() {
        let mut due = Due::default();
        assert_eq!(due.peek(u32::MAX), None);
        due.file(20, 7);
        due.file(10, 3);
        due.file(10, 4);
        assert_eq!(due.first(), Some(10));
        assert_eq!(due.peek(9), None, "nothing before its second");
        let mut got = Vec::new();
        while let Some((second, slot)) = due.peek(20) {
            got.push((second, slot));
            due.pop(second);
        }
        assert_eq!(got, [(10, 4), (10, 3), (20, 7)]);
        assert_eq!((due.first(), due.len()), (None, 0));
        due.pop(5); // nothing filed there: no effect
        assert_eq!(due.len(), 0);
    }
}
