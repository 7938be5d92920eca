//! Sections: interned once, counted over the whole run and over sliding windows.
//!
//! The interner is capped (`max_sections`): past it, new sections count as `(other)`, so a
//! flood of random paths cannot grow memory. Windows keep per-bucket deltas and a running
//! aggregate, so a top-N query never rescans history.

use std::collections::HashMap;
use std::time::Duration;

use super::histogram::{LatencyHistogram, bucket_of};

/// The id of `(other)`: every section past the cap.
pub const OTHER_ID: u32 = 0;
pub const OTHER_NAME: &str = "(other)";

/// Section name ↔ id, capped.
#[derive(Debug, Clone)]
pub struct SectionTable {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    max: usize,
    /// Requests whose section was folded into `(other)` because the table was full.
    pub folded: u64,
}

impl SectionTable {
    pub fn new(max: usize) -> Self {
        SectionTable {
            ids: HashMap::new(),
            names: vec![OTHER_NAME.into()],
            max: max.max(1),
            folded: 0,
        }
    }

    /// The id of `name`, interning it if there is room. Allocates only for a new section.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        if self.ids.len() >= self.max {
            self.folded += 1;
            return OTHER_ID;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name` if it is known.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or(OTHER_NAME, |s| s)
    }

    /// Distinct sections tracked (not counting `(other)`).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
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

#[derive(Debug, Clone)]
struct Bucket {
    index: u64,
    deltas: HashMap<u64, u32>,
}

/// Per-section counts over the last `len` buckets of `granularity` seconds each.
#[derive(Debug, Clone)]
pub struct SectionWindow {
    granularity: u64,
    buckets: Vec<Bucket>,
    newest: u64,
    agg: HashMap<u32, SectionAgg>,
}

impl SectionWindow {
    pub fn new(granularity_secs: u64, len: usize) -> Self {
        let empty = Bucket {
            index: u64::MAX,
            deltas: HashMap::new(),
        };
        SectionWindow {
            granularity: granularity_secs.max(1),
            buckets: vec![empty; len.max(1)],
            newest: 0,
            agg: HashMap::new(),
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
                    let id = (k >> 8) as u32;
                    let kind = (k & 0xff) as u8;
                    if let Some(agg) = self.agg.get_mut(&id) {
                        apply(agg, kind, n, false);
                        if agg.is_empty() {
                            self.agg.remove(&id);
                        }
                    }
                }
                bucket.index = u64::MAX;
            }
        }
    }

    fn add(&mut self, second: u64, id: u32, kind: u8) {
        let idx = self.index_of(second);
        if idx > self.newest {
            self.advance(second);
        }
        let len = self.buckets.len() as u64;
        if idx + len <= self.newest {
            return; // older than the window
        }
        let bucket = &mut self.buckets[(idx % len) as usize];
        if bucket.index != idx {
            // Only an empty slot can be here: `advance` cleared everything older.
            bucket.index = idx;
            bucket.deltas.clear();
        }
        *bucket.deltas.entry(key(id, kind)).or_insert(0) += 1;
        apply(self.agg.entry(id).or_default(), kind, 1, true);
    }

    pub fn record_hit(&mut self, second: u64, id: u32) {
        self.add(second, id, KIND_HIT);
    }

    pub fn record_response(
        &mut self,
        second: u64,
        id: u32,
        status: u16,
        latency: Option<Duration>,
    ) {
        self.add(second, id, KIND_RESPONSE);
        match status {
            400..=499 => self.add(second, id, KIND_4XX),
            500..=599 => self.add(second, id, KIND_5XX),
            _ => {}
        }
        if let Some(l) = latency {
            self.add(second, id, bucket_of(l));
        }
    }

    /// Sections by hits, most first (ties by id, i.e. first seen), at most `n`.
    pub fn top(&self, n: usize) -> Vec<(u32, &SectionAgg)> {
        let mut rows: Vec<(u32, &SectionAgg)> = self
            .agg
            .iter()
            .filter(|(_, a)| a.hits > 0)
            .map(|(id, a)| (*id, a))
            .collect();
        rows.sort_unstable_by(|a, b| b.1.hits.cmp(&a.1.hits).then(a.0.cmp(&b.0)));
        rows.truncate(n);
        rows
    }

    /// Total hits in the window.
    pub fn total_hits(&self) -> u64 {
        self.agg.values().map(|a| a.hits).sum()
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
    fn interner_caps_into_other() {
        let mut t = SectionTable::new(2);
        assert_eq!(t.intern("/a"), 1);
        assert_eq!(t.intern("/b"), 2);
        assert_eq!(t.intern("/a"), 1);
        assert_eq!(t.intern("/c"), OTHER_ID);
        assert_eq!(t.folded, 1);
        assert_eq!(t.name(OTHER_ID), "(other)");
        assert_eq!(t.len(), 2);
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
