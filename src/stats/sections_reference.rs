//! The straightforward section window, where every event is counted in the map of
//! its bucket (one entry per section, kind and bucket). Kept, for tests only, as the reference
//! `SectionWindow` must match exactly, the cap and the folding into `(other)` included.

use std::collections::HashMap;
use std::time::Duration;

use super::histogram::bucket_of;
use super::sections::{OTHER_ID, SectionAgg};

// What a bucket entry counts: a latency bucket (0..128), or one of these.
const KIND_HIT: u8 = 200;
const KIND_RESPONSE: u8 = 201;
const KIND_4XX: u8 = 202;
const KIND_5XX: u8 = 203;

fn key(id: u32, kind: u8) -> u64 {
    (u64::from(id) << 8) | u64::from(kind)
}

#[derive(Debug, Clone)]
struct Bucket {
    index: u64,
    deltas: HashMap<u64, u32>,
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
pub(super) struct ReferenceWindow {
    granularity: u64,
    buckets: Vec<Bucket>,
    newest: u64,
    /// Indexed by id; grows to the largest id seen (at most the table's cap + 1) and keeps
    /// emptied entries for reuse, so counting never allocates once an id was seen.
    agg: Vec<Entry>,
    /// `MAX_BUCKET_ENTRIES` of the window it checks.
    cap: usize,
}

impl ReferenceWindow {
    pub(super) fn new(granularity_secs: u64, len: usize, cap: usize) -> Self {
        let empty = Bucket {
            index: u64::MAX,
            deltas: HashMap::new(),
        };
        ReferenceWindow {
            granularity: granularity_secs.max(1),
            buckets: vec![empty; len.max(1)],
            newest: 0,
            agg: Vec::new(),
            cap,
        }
    }

    fn index_of(&self, second: u64) -> u64 {
        second.div_ceil(self.granularity)
    }

    /// Drops buckets that left the window ending at `second`.
    pub(super) fn advance(&mut self, second: u64) {
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
        let cap = self.cap;
        let Some(bucket) = self.buckets.get_mut(slot) else {
            return;
        };
        let mut id = id;
        if bucket.deltas.len() >= cap && !bucket.deltas.contains_key(&key(id, kind)) {
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
    pub(super) fn fold_into_other(&mut self, id: u32) {
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

    pub(super) fn record_hit(&mut self, second: u64, id: u32) {
        if let Some(slot) = self.slot_for(second) {
            self.add(slot, id, KIND_HIT);
        }
    }

    pub(super) fn record_response(
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
    pub(super) fn top(&self, n: usize) -> Vec<(u32, &SectionAgg)> {
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
    pub(super) fn total_hits(&self) -> u64 {
        self.agg.iter().map(|e| e.agg.hits).sum()
    }

    /// Distinct ids with something in the window, and bucket entries held: what its memory
    /// grows with (plus one emptied entry per id ever seen, at most the table's cap + 1).
    pub(super) fn footprint(&self) -> (usize, usize) {
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

impl ReferenceWindow {
    /// An id's aggregate and where its deltas may be, as the window keeps them.
    pub(super) fn entry(&self, id: u32) -> Option<(SectionAgg, u64, u128)> {
        self.agg
            .get(id as usize)
            .map(|e| (e.agg.clone(), e.buckets, e.latencies))
    }
}

impl ReferenceWindow {
    /// Every (bucket index, id, kind, count) held, sorted.
    pub(super) fn pairs(&self) -> Vec<(u64, u32, u8, u32)> {
        let mut out: Vec<(u64, u32, u8, u32)> = self
            .buckets
            .iter()
            .filter(|b| b.index != u64::MAX)
            .flat_map(|b| {
                b.deltas
                    .iter()
                    .map(|(k, n)| (b.index, (k >> 8) as u32, (k & 0xff) as u8, *n))
            })
            .collect();
        out.sort_unstable();
        out
    }
}
