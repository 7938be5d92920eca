//! Space-Saving top-k (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent and
//! top-k elements in data streams", ICDT 2005): at most `k` counted names in fixed memory,
//! whatever the stream.
//!
//! While fewer than `k` distinct names have been seen every count is exact. Once the table is
//! full, a new name takes over the slot of the name with the smallest count and inherits that
//! count plus one; the inherited part is remembered as the slot's `error`. So for every tracked
//! name `count - error <= true count <= count`, and any name whose true count exceeds `N / k`
//! (`N` requests in all) is guaranteed to be tracked: a flood of one-off names cannot push a
//! real heavy hitter out. Slots (ids `0..k`) are reused by the name that takes them over; the
//! caller learns about it from [`Recorded::evicted`] and must forget what it kept for that id.
//! Finding the smallest count is a binary min-heap, built only once the table is full, so
//! normal traffic (fewer names than `k`) pays one hash lookup per record and nothing else.
//!
//! Names can be renamed and merged after the fact ([`TopK::rename`], [`TopK::merge`]), for
//! routes that a later fold turns into one another: the true counts of two names add up, so
//! the merged slot's bounds still hold, and the slot given up is free (count 0) for the next
//! new name.

use std::collections::HashMap;

use crate::keyed_hash::KeyedState;

#[derive(Debug, Clone)]
struct Slot {
    name: Box<str>,
    count: u64,
    error: u64,
    /// Position in `heap` once the table is full.
    pos: usize,
    /// Given up by a merge, waiting for a new name: counts 0, not listed.
    free: bool,
}

/// What [`TopK::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The slot now holding the name.
    pub id: u32,
    /// The slot was taken over from another name (its counts are now the new name's).
    pub evicted: bool,
}

/// Space-Saving counters over string names.
#[derive(Debug, Clone)]
pub struct TopK {
    ids: HashMap<Box<str>, u32, KeyedState>,
    slots: Vec<Slot>,
    /// Min-heap of slot ids by count; empty until the table is full.
    heap: Vec<u32>,
    k: usize,
    /// Records not attributed to any tracked name's guaranteed count: what evicted names had
    /// counted for sure. `folded + Σ (count - error) = records`.
    folded: u64,
    /// Slots given up by merges, reused first.
    free: Vec<u32>,
}

impl TopK {
    /// A table of at most `k` (at least 1) names.
    pub fn new(k: usize) -> Self {
        TopK {
            ids: HashMap::default(),
            slots: Vec::new(),
            heap: Vec::new(),
            k: k.clamp(1, u32::MAX as usize),
            folded: 0,
            free: Vec::new(),
        }
    }

    /// Counts one occurrence of `name`. Allocates only when a name is new to the table.
    pub fn record(&mut self, name: &str) -> Recorded {
        if let Some(&id) = self.ids.get(name) {
            self.record_slot(id);
            return Recorded { id, evicted: false };
        }
        if let Some(id) = self.free.pop()
            && let Some(slot) = self.slots.get_mut(id as usize)
        {
            slot.name = name.into();
            slot.count = 1;
            slot.error = 0;
            slot.free = false;
            let pos = slot.pos;
            self.ids.insert(name.into(), id);
            if !self.heap.is_empty() {
                self.sift_down(pos);
            }
            return Recorded { id, evicted: false };
        }
        if self.slots.len() < self.k {
            let id = self.slots.len() as u32;
            self.slots.push(Slot {
                name: name.into(),
                count: 1,
                error: 0,
                pos: 0,
                free: false,
            });
            self.ids.insert(name.into(), id);
            if self.slots.len() == self.k {
                self.build_heap();
            }
            return Recorded { id, evicted: false };
        }
        // Full: take over the slot with the smallest count.
        let Some(&id) = self.heap.first() else {
            return Recorded {
                id: 0,
                evicted: false,
            }; // unreachable: k >= 1 and full
        };
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return Recorded { id, evicted: false };
        };
        self.folded += slot.count - slot.error;
        self.ids.remove(&slot.name);
        slot.name = name.into();
        slot.error = slot.count;
        slot.count += 1;
        self.ids.insert(name.into(), id);
        self.sift_down(0);
        Recorded { id, evicted: true }
    }

    /// Counts one more occurrence of the name in slot `id`, for a caller that knows which slot
    /// the name holds (see `SectionTable`'s lookup cache): the same as [`TopK::record`] of that
    /// name, without hashing it. Returns false, counting nothing, if there is no such slot.
    pub fn record_slot(&mut self, id: u32) -> bool {
        let Some(slot) = self.slots.get_mut(id as usize).filter(|s| !s.free) else {
            return false;
        };
        slot.count += 1;
        if !self.heap.is_empty() {
            let pos = slot.pos;
            self.sift_down(pos);
        }
        true
    }

    /// The slot of `name`, if it is tracked.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name in slot `id`.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.slots
            .get(id as usize)
            .filter(|s| !s.free)
            .map(|s| &*s.name)
    }

    /// `(name, count, error)` of every tracked name, in slot order. `count` is an upper bound
    /// of the true count and `count - error` a lower bound; both are exact while the table
    /// has never been full.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, u64)> {
        self.iter_ids()
            .map(|(_, name, count, error)| (name, count, error))
    }

    /// [`TopK::iter`] with each name's slot.
    pub fn iter_ids(&self) -> impl Iterator<Item = (u32, &str, u64, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.free)
            .map(|(id, s)| (id as u32, &*s.name, s.count, s.error))
    }

    /// Names tracked.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives slot `id` the name `name`, keeping its counts. Refused (false) when `name` is
    /// tracked already (merge it instead) or there is no such slot.
    pub fn rename(&mut self, id: u32, name: &str) -> bool {
        if self.ids.contains_key(name) {
            return false;
        }
        let Some(slot) = self.slots.get_mut(id as usize).filter(|s| !s.free) else {
            return false;
        };
        self.ids.remove(&slot.name);
        slot.name = name.into();
        self.ids.insert(name.into(), id);
        true
    }

    /// Adds slot `from`'s counts to slot `into` and frees `from` (the next new name takes it,
    /// as a fresh slot). Both bounds stay true, as the true counts add up. Rare: the heap is
    /// rebuilt, O(k).
    pub fn merge(&mut self, from: u32, into: u32) -> bool {
        let live = |id: u32| self.slots.get(id as usize).is_some_and(|s| !s.free);
        if from == into || !live(from) || !live(into) {
            return false;
        }
        let Some(f) = self.slots.get_mut(from as usize) else {
            return false;
        };
        let (count, error) = (f.count, f.error);
        f.count = 0;
        f.error = 0;
        f.free = true;
        let name = std::mem::take(&mut f.name);
        self.ids.remove(&name);
        self.free.push(from);
        if let Some(t) = self.slots.get_mut(into as usize) {
            t.count += count;
            t.error += error;
        }
        if !self.heap.is_empty() {
            self.build_heap();
        }
        true
    }

    /// Records no tracked name is sure to have had: see the type's invariant.
    pub fn folded(&self) -> u64 {
        self.folded
    }

    fn count_at(&self, pos: usize) -> u64 {
        self.heap
            .get(pos)
            .and_then(|&id| self.slots.get(id as usize))
            .map_or(u64::MAX, |s| s.count)
    }

    fn build_heap(&mut self) {
        self.heap = (0..self.slots.len() as u32).collect();
        for (pos, slot) in self.slots.iter_mut().enumerate() {
            slot.pos = pos;
        }
        for pos in (0..self.heap.len() / 2).rev() {
            self.sift_down(pos);
        }
    }

    /// Restores the heap below `pos` after the count there grew (counts only ever grow).
    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if self.count_at(l) < self.count_at(least) {
                least = l;
            }
            if self.count_at(r) < self.count_at(least) {
                least = r;
            }
            if least == pos {
                return;
            }
            self.heap.swap(pos, least);
            for p in [pos, least] {
                if let Some(s) = self
                    .heap
                    .get(p)
                    .copied()
                    .and_then(|id| self.slots.get_mut(id as usize))
                {
                    s.pos = p;
                }
            }
            pos = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merged_counts_add_up_and_the_freed_slot_is_reused() {
        let mut t = TopK::new(3);
        for n in ["/a", "/a", "/b", "/c", "/c", "/c"] {
            t.record(n);
        }
        let (a, b, c) = (
            t.get("/a").unwrap(),
            t.get("/b").unwrap(),
            t.get("/c").unwrap(),
        );
        assert!(!t.rename(a, "/c"), "a tracked name is merged, not renamed");
        assert!(t.merge(a, b));
        assert!(!t.merge(a, c), "a is free now");
        assert_eq!(t.get("/a"), None);
        assert_eq!(t.name(a), None);
        assert_eq!(t.len(), 2);
        assert!(t.rename(b, "/ab"));
        let got: Vec<(&str, u64, u64)> = t.iter().collect();
        assert_eq!(got, [("/ab", 3, 0), ("/c", 3, 0)]);
        // The freed slot takes the next new name, fresh; the table is full again after it.
        assert_eq!(
            t.record("/d"),
            Recorded {
                id: a,
                evicted: false
            }
        );
        assert_eq!(t.iter_ids().next(), Some((a, "/d", 1, 0)));
        let r = t.record("/e");
        assert_eq!((r.id, r.evicted), (a, true), "/d had the fewest");
        assert_eq!(t.folded(), 1);
        // Full (heap built): a merge frees a slot with count 0, the next one taken.
        assert!(t.merge(b, c));
        assert_eq!(
            t.record("/f"),
            Recorded {
                id: b,
                evicted: false
            }
        );
        let mut got: Vec<(&str, u64, u64)> = t.iter().collect();
        got.sort();
        assert_eq!(got, [("/c", 6, 0), ("/e", 2, 1), ("/f", 1, 0)]);
        assert_eq!(
            t.record("/g").id,
            b,
            "the heap knows /f is the least counted"
        );
    }

    #[test]
    fn exact_below_capacity() {
        let mut t = TopK::new(3);
        for n in ["/a", "/b", "/a", "/c", "/a", "/b"] {
            t.record(n);
        }
        let mut got: Vec<(&str, u64, u64)> = t.iter().collect();
        got.sort();
        assert_eq!(got, [("/a", 3, 0), ("/b", 2, 0), ("/c", 1, 0)]);
        assert_eq!(t.folded(), 0);
    }

    #[test]
    fn new_name_takes_over_the_smallest_slot() {
        let mut t = TopK::new(2);
        for n in ["/a", "/a", "/a", "/b"] {
            t.record(n);
        }
        let r = t.record("/c");
        assert!(r.evicted);
        assert_eq!(t.get("/b"), None);
        assert_eq!(t.get("/c"), Some(r.id));
        assert_eq!(t.name(r.id), Some("/c"));
        let mut got: Vec<(&str, u64, u64)> = t.iter().collect();
        got.sort();
        assert_eq!(got, [("/a", 3, 0), ("/c", 2, 1)]);
        assert_eq!(t.folded(), 1, "the one /b request");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn flood_of_one_off_names_keeps_the_heavy_hitter() {
        let mut t = TopK::new(100);
        for i in 0..100_000u32 {
            if i % 50 == 0 {
                t.record("/heavy");
            }
            t.record(&format!("/flood{i}"));
        }
        let id = t.get("/heavy").expect("tracked");
        let (_, count, error) = t.iter().nth(id as usize).expect("slot");
        assert!(count - error <= 2_000 && 2_000 <= count, "{count} {error}");
        assert_eq!(t.len(), 100);
    }

    /// Streams with one or a few clear heavy hitters hidden in noise.
    fn stream() -> impl Strategy<Value = (usize, Vec<u32>)> {
        (2usize..40, 1usize..4, 0usize..2_000).prop_flat_map(|(k, heavies, noise)| {
            let items = proptest::collection::vec(
                prop_oneof![
                    3 => 0..heavies as u32,
                    // Noise from a name space much wider than k, most names seen once.
                    7 => 1_000u32..1_000 + 10 * k as u32 + noise as u32,
                ],
                0..3_000,
            );
            (Just(k), items)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        // Compared against an exact count of everything, then a full sort.
        #[test]
        fn space_saving_guarantees_hold((k, items) in stream()) {
            let mut t = TopK::new(k);
            let mut exact: HashMap<String, u64> = HashMap::new();
            for i in &items {
                let name = format!("/s{i}");
                t.record(&name);
                *exact.entry(name).or_default() += 1;
            }
            let n = items.len() as u64;
            prop_assert!(t.len() <= k);
            let mut guaranteed = 0;
            for (name, count, error) in t.iter() {
                let truth = exact.get(name).copied().unwrap_or(0);
                prop_assert!(count - error <= truth && truth <= count, "{name}: {truth} not in [{}, {count}]", count - error);
                // The overestimate is at most N/k.
                prop_assert!(error * k as u64 <= n);
                guaranteed += count - error;
            }
            prop_assert_eq!(guaranteed + t.folded(), n);
            let mut sorted: Vec<(&String, &u64)> = exact.iter().collect();
            sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            if sorted.len() <= k {
                // Never full: every count exact.
                for (name, truth) in &sorted {
                    let id = t.get(name).expect("tracked");
                    prop_assert_eq!(t.iter().nth(id as usize).map(|e| (e.1, e.2)), Some((**truth, 0)));
                }
            }
            for (name, truth) in sorted {
                if *truth * k as u64 > n {
                    prop_assert!(t.get(name).is_some(), "{name} ({truth} of {n}) lost with k={k}");
                }
            }
        }
    }
}
