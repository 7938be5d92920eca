//! Sections: counted over the whole run in a Space-Saving top-k table, and over sliding
//! windows.
//!
//! The table ([`SectionTable`], over [`TopK`]) holds at most `max_sections` names: past it, a
//! new section takes over the slot of the least-counted one, so a flood of random paths cannot
//! grow memory and cannot push a real heavy hitter out either. Below the cap every count is
//! exact. Slot ids are reused: when a slot changes hands, the windows move what they held for
//! it to `(other)` ([`SectionWindow::fold_into_other`]) before the new section is counted, so
//! a window never credits one section's hits to another. Windows keep per-bucket deltas and a
//! running aggregate, so a top-N query never rescans history, and they only ever hold ids
//! that are live in the table (plus `(other)`): their memory is bounded by the cap too.
//!
//! Costs per request: the table remembers its last few name → id lookups, so the request and
//! its response of a recently seen section are counted without hashing the name; a window keeps
//! its aggregates in a `Vec` indexed by id (ids are small dense integers) and its bucket deltas
//! in maps keyed by `(id, kind)` under [`IdHasher`], one multiply instead of SipHash.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use super::histogram::{LatencyHistogram, bucket_of};
use super::topk::{Recorded, TopK};

/// The id of `(other)`: requests of sections no longer (or never) tracked.
pub const OTHER_ID: u32 = 0;
pub const OTHER_NAME: &str = "(other)";

/// Section name ↔ id with Space-Saving counts, capped at `max` names. Ids are `1..=max`;
/// `OTHER_ID` is never a tracked section.
#[derive(Debug, Clone)]
pub struct SectionTable {
    top: TopK,
    recent: Recent,
}

/// Names looked up lately and their ids, compared byte for byte before the table's map is
/// hashed: traffic is dominated by a few sections, and a response's section is its request's.
/// An entry is dropped when its id is taken over, so a hit is always what the map would say.
#[derive(Debug, Clone, Default)]
struct Recent {
    entries: Vec<(String, u32)>,
    /// The entry replaced next once full (round robin).
    next: usize,
}

/// Entries of [`Recent`]: enough for the hot sections, few enough that a miss costs less
/// than the hash it tried to avoid.
const RECENT: usize = 8;

impl Recent {
    fn get(&self, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, id)| *id)
    }

    fn put(&mut self, name: &str, id: u32) {
        if self.entries.len() < RECENT {
            self.entries.push((name.to_owned(), id));
            return;
        }
        if let Some((n, i)) = self.entries.get_mut(self.next) {
            // Reuses the slot's buffer: no allocation once names fit.
            n.clear();
            n.push_str(name);
            *i = id;
        }
        self.next = (self.next + 1) % RECENT;
    }

    fn forget(&mut self, id: u32) {
        self.entries.retain(|(_, i)| *i != id);
        if self.next >= self.entries.len() {
            self.next = 0;
        }
    }
}

/// One tracked section's counts over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionCount<'a> {
    pub name: &'a str,
    /// Upper bound of its requests (exact while the table never filled).
    pub count: u64,
    /// `count - error` is a lower bound: the requests it surely had since it was admitted.
    pub error: u64,
}

impl SectionTable {
    pub fn new(max: usize) -> Self {
        SectionTable {
            top: TopK::new(max),
            recent: Recent::default(),
        }
    }

    /// Counts one request of `name`; returns its id, and whether that id was just taken over
    /// from another section (the caller must then drop what it kept under that id).
    pub fn record(&mut self, name: &str) -> (u32, bool) {
        if let Some(slot) = self.recent.get(name)
            && self.top.record_slot(slot)
        {
            return (slot + 1, false);
        }
        let Recorded { id, evicted } = self.top.record(name);
        if evicted {
            self.recent.forget(id);
        }
        self.recent.put(name, id);
        (id + 1, evicted)
    }

    /// The id of `name` if it is tracked.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.recent
            .get(name)
            .or_else(|| self.top.get(name))
            .map(|id| id + 1)
    }

    /// [`SectionTable::get`], remembering the answer for the next lookup of `name`.
    pub fn lookup(&mut self, name: &str) -> Option<u32> {
        if let Some(slot) = self.recent.get(name) {
            return Some(slot + 1);
        }
        let slot = self.top.get(name)?;
        self.recent.put(name, slot);
        Some(slot + 1)
    }

    pub fn name(&self, id: u32) -> &str {
        match id.checked_sub(1) {
            Some(slot) => self.top.name(slot).unwrap_or(OTHER_NAME),
            None => OTHER_NAME,
        }
    }

    /// Every tracked section, in id order.
    pub fn counts(&self) -> impl Iterator<Item = SectionCount<'_>> {
        self.top
            .iter()
            .map(|(name, count, error)| SectionCount { name, count, error })
    }

    /// Distinct sections tracked (not counting `(other)`).
    pub fn len(&self) -> usize {
        self.top.len()
    }

    pub fn is_empty(&self) -> bool {
        self.top.is_empty()
    }

    /// Requests not attributed to a tracked section: those of sections since taken over.
    /// With the lower bounds of [`SectionTable::counts`] it sums to every request recorded.
    pub fn folded(&self) -> u64 {
        self.top.folded()
    }
}

/// What a window knows about one section.
#[derive(Debug, Clone, Default)]
pub struct SectionAgg {
    pub hits: u64,
    pub responses: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub latency: LatencyHistogram,
}

impl SectionAgg {
    fn is_empty(&self) -> bool {
        self.hits == 0 && self.responses == 0 && self.latency.count() == 0
    }
}

// What a bucket entry counts: a latency bucket (0..128), or one of these.
const KIND_HIT: u8 = 200;
const KIND_RESPONSE: u8 = 201;
const KIND_4XX: u8 = 202;
const KIND_5XX: u8 = 203;

fn key(id: u32, kind: u8) -> u64 {
    (u64::from(id) << 8) | u64::from(kind)
}

/// Distinct (section, kind) entries one bucket holds before it counts the rest under
/// `(other)`. Live ids alone bound a bucket, but a section can own up to 132 kinds (hits,
/// responses, 4xx, 5xx, 128 latency buckets) and a client controls the latency it causes, so
/// without this cap the 10-minute window could reach ~10,000 × 60 × 132 entries. With it, a
/// window holds at most `len × (16,384 + 132)` entries (about 40 MB for 70 buckets in all).
const MAX_BUCKET_ENTRIES: usize = 16_384;

/// Hashes the `u64` keys of bucket deltas with one folded multiply (as foldhash and wyhash
/// do) instead of SipHash's rounds. Keys are `(id, kind)`: ids are slots the section table
/// hands out, kinds one of 132, so a client picks neither freely; the per-process random seed
/// keeps even those choices from being aimed at a bucket offline.
#[derive(Debug, Clone, Copy)]
pub struct IdHasher {
    seed: u64,
    hash: u64,
}

/// Builds [`IdHasher`]s sharing one random seed.
#[derive(Debug, Clone, Copy)]
pub struct IdHashBuilder {
    seed: u64,
}

impl Default for IdHashBuilder {
    fn default() -> Self {
        // std's per-process random keys, as one 64-bit seed.
        IdHashBuilder {
            seed: RandomState::new().hash_one(0x5ec7_1045_u64) | 1,
        }
    }
}

impl BuildHasher for IdHashBuilder {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            seed: self.seed,
            hash: 0,
        }
    }
}

fn folded_multiply(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by the `u64` keys here; correct for anything else.
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.hash = folded_multiply(self.hash ^ x ^ self.seed, 0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    index: u64,
    deltas: HashMap<u64, u32, IdHashBuilder>,
}

/// A section's aggregate in a window, and where its deltas may be, so that moving it to
/// `(other)` probes only those bucket entries. `buckets == 0`: nothing held (an id the window
/// never saw, or whose deltas all aged out or were folded).
#[derive(Debug, Clone, Default)]
struct Entry {
    agg: SectionAgg,
    /// Bit `s % 64` set: bucket slot `s` may hold deltas of this id.
    buckets: u64,
    /// Bit `b` set: a latency delta of bucket `b` may exist.
    latencies: u128,
}

impl Entry {
    /// Back to holding nothing, keeping the histogram's allocation.
    fn reset(&mut self) {
        let a = &mut self.agg;
        a.hits = 0;
        a.responses = 0;
        a.client_errors = 0;
        a.server_errors = 0;
        for b in (0..128u8).filter(|b| self.latencies & (1 << b) != 0) {
            a.latency.remove_bucket(b, u32::MAX);
        }
        self.buckets = 0;
        self.latencies = 0;
    }
}

/// Per-section counts over the last `len` buckets of `granularity` seconds each.
#[derive(Debug, Clone)]
pub struct SectionWindow {
    granularity: u64,
    buckets: Vec<Bucket>,
    newest: u64,
    /// Indexed by id; grows to the largest id seen (at most the table's cap + 1) and keeps
    /// emptied entries for reuse, so counting never allocates once an id was seen.
    agg: Vec<Entry>,
}

impl SectionWindow {
    pub fn new(granularity_secs: u64, len: usize) -> Self {
        let hasher = IdHashBuilder::default();
        let empty = Bucket {
            index: u64::MAX,
            deltas: HashMap::with_hasher(hasher),
        };
        SectionWindow {
            granularity: granularity_secs.max(1),
            buckets: vec![empty; len.max(1)],
            newest: 0,
            agg: Vec::new(),
        }
    }

    /// The window's span in seconds.
    pub fn span_secs(&self) -> u64 {
        self.granularity * self.buckets.len() as u64
    }

    fn index_of(&self, second: u64) -> u64 {
        second.div_ceil(self.granularity)
    }

    /// Drops buckets that left the window ending at `second`.
    pub fn advance(&mut self, second: u64) {
        let idx = self.index_of(second);
        if idx <= self.newest {
            return;
        }
        self.newest = idx;
        let len = self.buckets.len() as u64;
        for b in 0..self.buckets.len() {
            let bucket = &mut self.buckets[b];
            if bucket.index != u64::MAX && bucket.index + len <= idx {
                for (k, n) in bucket.deltas.drain() {
                    let id = (k >> 8) as usize;
                    let kind = (k & 0xff) as u8;
                    if let Some(e) = self.agg.get_mut(id)
                        && e.buckets != 0
                    {
                        apply(&mut e.agg, kind, n, false);
                        if e.agg.is_empty() {
                            e.reset();
                        }
                    }
                }
                bucket.index = u64::MAX;
            }
        }
    }

    /// The bucket slot for `second`, moving the window forward if it is newer; `None` when it
    /// is older than the window.
    fn slot_for(&mut self, second: u64) -> Option<usize> {
        let idx = self.index_of(second);
        if idx > self.newest {
            self.advance(second);
        }
        let len = self.buckets.len() as u64;
        if idx + len <= self.newest {
            return None;
        }
        let slot = (idx % len) as usize;
        let bucket = &mut self.buckets[slot];
        if bucket.index != idx {
            // Only an empty slot can be here: `advance` cleared everything older.
            bucket.index = idx;
            bucket.deltas.clear();
        }
        Some(slot)
    }

    fn add(&mut self, slot: usize, id: u32, kind: u8) {
        let Some(bucket) = self.buckets.get_mut(slot) else {
            return;
        };
        let mut id = id;
        if bucket.deltas.len() >= MAX_BUCKET_ENTRIES && !bucket.deltas.contains_key(&key(id, kind))
        {
            // A full bucket counts the rest under (other): totals stay exact, memory bounded.
            id = OTHER_ID;
        }
        *bucket.deltas.entry(key(id, kind)).or_insert(0) += 1;
        let e = self.entry_mut(id);
        e.buckets |= 1 << (slot % 64);
        if kind < 128 {
            e.latencies |= 1 << kind;
        }
        apply(&mut e.agg, kind, 1, true);
    }

    fn entry_mut(&mut self, id: u32) -> &mut Entry {
        let i = id as usize;
        if i >= self.agg.len() {
            self.agg.resize_with(i + 1, Entry::default);
        }
        &mut self.agg[i]
    }

    /// Moves everything held for `id` to `(other)`: its slot in the section table now belongs
    /// to another section. Totals are unchanged. Costs one probe per bucket and kind it used.
    pub fn fold_into_other(&mut self, id: u32) {
        if id == OTHER_ID {
            return;
        }
        let i = id as usize;
        if self.agg.get(i).is_none_or(|e| e.buckets == 0) {
            return;
        }
        self.entry_mut(OTHER_ID);
        let (head, tail) = self.agg.split_at_mut(i);
        let (Some(other), Some(e)) = (head.first_mut(), tail.first_mut()) else {
            return;
        };
        let mut kinds = vec![KIND_HIT, KIND_RESPONSE, KIND_4XX, KIND_5XX];
        kinds.extend((0..128u8).filter(|b| e.latencies & (1 << b) != 0));
        for (slot, bucket) in self.buckets.iter_mut().enumerate() {
            if e.buckets & (1 << (slot % 64)) == 0 || bucket.index == u64::MAX {
                continue;
            }
            for kind in &kinds {
                if let Some(n) = bucket.deltas.remove(&key(id, *kind)) {
                    *bucket.deltas.entry(key(OTHER_ID, *kind)).or_insert(0) += n;
                }
            }
        }
        other.buckets |= e.buckets;
        other.latencies |= e.latencies;
        let (o, a) = (&mut other.agg, &e.agg);
        o.hits += a.hits;
        o.responses += a.responses;
        o.client_errors += a.client_errors;
        o.server_errors += a.server_errors;
        o.latency.merge(&a.latency);
        e.reset();
    }

    pub fn record_hit(&mut self, second: u64, id: u32) {
        if let Some(slot) = self.slot_for(second) {
            self.add(slot, id, KIND_HIT);
        }
    }

    pub fn record_response(
        &mut self,
        second: u64,
        id: u32,
        status: u16,
        latency: Option<Duration>,
    ) {
        let Some(slot) = self.slot_for(second) else {
            return;
        };
        self.add(slot, id, KIND_RESPONSE);
        match status {
            400..=499 => self.add(slot, id, KIND_4XX),
            500..=599 => self.add(slot, id, KIND_5XX),
            _ => {}
        }
        if let Some(l) = latency {
            self.add(slot, id, bucket_of(l));
        }
    }

    /// Sections by hits, most first (ties by id), at most `n`.
    pub fn top(&self, n: usize) -> Vec<(u32, &SectionAgg)> {
        let mut rows: Vec<(u32, &SectionAgg)> = self
            .agg
            .iter()
            .enumerate()
            .filter(|(_, e)| e.agg.hits > 0)
            .map(|(id, e)| (id as u32, &e.agg))
            .collect();
        rows.sort_unstable_by(|a, b| b.1.hits.cmp(&a.1.hits).then(a.0.cmp(&b.0)));
        rows.truncate(n);
        rows
    }

    /// Total hits in the window.
    pub fn total_hits(&self) -> u64 {
        self.agg.iter().map(|e| e.agg.hits).sum()
    }

    /// Distinct ids with something in the window, and bucket entries held: what its memory
    /// grows with (plus one emptied entry per id ever seen, at most the table's cap + 1).
    pub fn footprint(&self) -> (usize, usize) {
        (
            self.agg.iter().filter(|e| e.buckets != 0).count(),
            self.buckets.iter().map(|b| b.deltas.len()).sum(),
        )
    }
}

fn apply(agg: &mut SectionAgg, kind: u8, n: u32, add: bool) {
    let n64 = u64::from(n);
    let field = match kind {
        KIND_HIT => &mut agg.hits,
        KIND_RESPONSE => &mut agg.responses,
        KIND_4XX => &mut agg.client_errors,
        KIND_5XX => &mut agg.server_errors,
        lat => {
            if add {
                agg.latency.add_bucket(lat, n);
            } else {
                agg.latency.remove_bucket(lat, n);
            }
            return;
        }
    };
    *field = if add {
        *field + n64
    } else {
        field.saturating_sub(n64)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_counts_exactly_below_the_cap_then_takes_over_the_least_counted() {
        let mut t = SectionTable::new(2);
        assert_eq!(t.record("/a"), (1, false));
        assert_eq!(t.record("/b"), (2, false));
        assert_eq!(t.record("/a"), (1, false));
        assert_eq!(t.record("/c"), (2, true), "/b had the fewest");
        assert_eq!(t.get("/b"), None);
        assert_eq!(t.name(2), "/c");
        assert_eq!(t.name(OTHER_ID), "(other)");
        assert_eq!(t.folded(), 1);
        assert_eq!(t.len(), 2);
        let c: Vec<(&str, u64, u64)> = t.counts().map(|c| (c.name, c.count, c.error)).collect();
        assert_eq!(c, [("/a", 2, 0), ("/c", 2, 1)]);
    }

    #[test]
    fn taken_over_id_moves_window_counts_to_other() {
        let mut w = SectionWindow::new(1, 10);
        w.record_hit(100, 1);
        w.record_hit(101, 1);
        w.record_response(101, 1, 503, Some(Duration::from_millis(3)));
        w.record_hit(101, 2);
        w.fold_into_other(1);
        // The new owner of id 1 starts from zero.
        w.record_hit(102, 1);
        let top: Vec<(u32, u64, u64, u64)> = w
            .top(5)
            .iter()
            .map(|(id, a)| (*id, a.hits, a.server_errors, a.latency.count()))
            .collect();
        assert_eq!(top, [(OTHER_ID, 2, 1, 1), (1, 1, 0, 0), (2, 1, 0, 0)]);
        // And (other) ages out like anything else.
        w.advance(110);
        assert_eq!(
            w.top(5)
                .iter()
                .map(|(id, a)| (*id, a.hits))
                .collect::<Vec<_>>(),
            [(OTHER_ID, 1), (1, 1), (2, 1)]
        );
        w.advance(112);
        assert_eq!(w.total_hits(), 0);
        assert_eq!(w.footprint(), (0, 0));
    }

    #[test]
    fn a_full_bucket_counts_the_rest_under_other() {
        let mut w = SectionWindow::new(10, 60);
        for id in 1..=20_000 {
            w.record_hit(7, id);
            w.record_response(7, id, 200, Some(Duration::from_micros(u64::from(id))));
        }
        let (_, entries) = w.footprint();
        assert!(entries <= MAX_BUCKET_ENTRIES + 132, "{entries}");
        assert_eq!(w.total_hits(), 20_000);
        let other = w.top(1);
        assert_eq!(other[0].0, OTHER_ID);
        assert!(other[0].1.hits > 10_000 / 2);
        w.advance(700);
        assert_eq!(w.footprint(), (0, 0));
    }

    #[test]
    fn window_forgets_old_buckets() {
        let mut w = SectionWindow::new(1, 10);
        w.record_hit(100, 1);
        w.record_hit(105, 2);
        w.record_hit(105, 2);
        assert_eq!(
            w.top(5)
                .iter()
                .map(|(id, a)| (*id, a.hits))
                .collect::<Vec<_>>(),
            [(2, 2), (1, 1)]
        );
        w.advance(110);
        assert_eq!(w.top(5).len(), 1, "second 100 is out of (100, 110]");
        w.advance(115);
        assert!(w.top(5).is_empty());
        assert_eq!(w.total_hits(), 0);
    }

    #[test]
    fn responses_and_latency_per_section() {
        let mut w = SectionWindow::new(10, 60);
        w.record_hit(5, 3);
        w.record_response(5, 3, 503, Some(Duration::from_millis(20)));
        w.record_response(6, 3, 404, None);
        let top = w.top(1);
        let a = top[0].1;
        assert_eq!((a.responses, a.client_errors, a.server_errors), (2, 1, 1));
        assert_eq!(a.latency.count(), 1);
    }

    proptest! {
        // A small table under churn, feeding two windows as `Stats` does: each window's
        // per-id hits must equal a naive count of the hits the id's *current* owner got in the
        // window, with everything else under (other), and memory must track live ids only.
        #[test]
        fn windows_never_credit_a_taken_over_id(events in proptest::collection::vec((0u64..3, 0u32..12), 0..400)) {
            let mut t = SectionTable::new(4);
            let mut w = SectionWindow::new(1, 10);
            let mut second = 1_000;
            // (second, name, id at the time)
            let mut log: Vec<(u64, String, u32)> = Vec::new();
            for (dt, n) in &events {
                second += dt;
                let name = format!("/s{n}");
                let (id, evicted) = t.record(&name);
                if evicted {
                    w.fold_into_other(id);
                }
                w.record_hit(second, id);
                log.push((second, name, id));
            }
            w.advance(second);
            let mut naive: HashMap<u32, u64> = HashMap::new();
            for (i, (s, name, id)) in log.iter().enumerate() {
                if s + 10 > second {
                    // Credited to its id only if no other section took the id since (that
                    // folded it into (other)).
                    let owner = !log[i..].iter().any(|(_, n2, id2)| id2 == id && n2 != name);
                    *naive.entry(if owner { *id } else { OTHER_ID }).or_default() += 1;
                }
            }
            let mut want: Vec<(u32, u64)> = naive.into_iter().collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(u32, u64)> = w.top(100).iter().map(|(id, a)| (*id, a.hits)).collect();
            prop_assert_eq!(got, want);
            prop_assert!(w.footprint().0 <= t.len() + 1);
        }

        // The lookup cache is invisible: with the same records and lookups, the table answers
        // exactly as a bare TopK does, through takeovers of cached names.
        #[test]
        fn cache_answers_as_the_table_does(ops in proptest::collection::vec((any::<bool>(), 0u32..14), 0..500)) {
            let mut t = SectionTable::new(5);
            let mut bare = TopK::new(5);
            for (lookup, n) in &ops {
                let name = format!("/s{n}");
                if *lookup {
                    prop_assert_eq!(t.lookup(&name), bare.get(&name).map(|id| id + 1));
                } else {
                    let r = bare.record(&name);
                    prop_assert_eq!(t.record(&name), (r.id + 1, r.evicted));
                }
                prop_assert_eq!(t.get(&name), bare.get(&name).map(|id| id + 1));
            }
            let counts: Vec<(&str, u64, u64)> = t.counts().map(|c| (c.name, c.count, c.error)).collect();
            prop_assert_eq!(counts, bare.iter().collect::<Vec<_>>());
            prop_assert_eq!(t.folded(), bare.folded());
        }

        // Window top-N against sorting every event in the window.
        #[test]
        fn top_matches_naive(events in proptest::collection::vec((0u64..40, 1u32..6), 0..300)) {
            let mut sorted = events.clone();
            sorted.sort_by_key(|e| e.0);
            let mut w = SectionWindow::new(1, 10);
            for (s, id) in &sorted {
                w.record_hit(*s, *id);
            }
            let end = sorted.last().map(|e| e.0).unwrap_or(0);
            w.advance(end);
            let mut naive: HashMap<u32, u64> = HashMap::new();
            for (s, id) in &sorted {
                if *s + 10 > end {
                    *naive.entry(*id).or_default() += 1;
                }
            }
            let mut want: Vec<(u32, u64)> = naive.into_iter().collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(u32, u64)> = w.top(10).iter().map(|(id, a)| (*id, a.hits)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
