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
//! its aggregates in a `Vec` indexed by id (ids are small dense integers), and next to each
//! aggregate what the id holds in the newest bucket, where nearly every event lands: counting a
//! request or a response hashes nothing. Older buckets keep one map entry per (id, kind) pair,
//! filled when the window moves on, as few events reach them and that is what bounds memory.

use std::collections::HashMap;
use std::time::Duration;

use super::StatusClass;
use super::histogram::{LatencyHistogram, bucket_of};
use super::topk::{Recorded, TopK};
use crate::keyed_hash::KeyedState;

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
/// hashed: traffic is dominated by a few hundred sections or routes, and a response's section
/// is its request's. Two-way set-associative: a name can only be in the two entries of the set
/// its fingerprint picks, so a lookup is at most two compares whatever the number of entries,
/// and two hot names that pick the same set both stay. An entry is dropped when its id is taken
/// over, renamed or merged (found in one step, as each id is in one entry at most), so a hit is
/// always what the map would say.
#[derive(Debug, Clone)]
struct Recent {
    /// `2 × sets` entries once anything was put, the two of set `s` at `2s` and `2s + 1`, the
    /// one put last first; empty before.
    entries: Vec<RecentEntry>,
    /// A power of two: `RECENT_SETS`, fewer in tests.
    sets: usize,
    /// By id: the entry it was put in last (`NO_ID`: none). Only an entry that still holds the
    /// id is forgotten through it.
    at: Vec<u32>,
}

#[derive(Debug, Clone)]
struct RecentEntry {
    fingerprint: u32,
    /// `NO_ID`: the entry is empty.
    id: u32,
    name: String,
}

const NO_ID: u32 = u32::MAX;

/// No bucket slot (a window has far fewer).
const NO_SLOT: usize = usize::MAX;

/// Sets of [`Recent`], a power of two: room for a busy API's routes (of the requests to 255
/// routes with Zipf popularity, 40 % missed in 64 direct-mapped entries), at 32 bytes an entry
/// plus the names.
const RECENT_SETS: usize = 512;

/// A hash of a name from its length and up to 24 of its bytes (the first, middle and last
/// eight): where section and route names (`/api12`, `/api37/v1/echo`, `/users/{id}/repos`)
/// differ. Its high bits pick the set, and the whole tells most other names apart without
/// comparing their bytes. Names that share it (by chance or by design) only cost the map's
/// lookup.
fn fingerprint(name: &str) -> u32 {
    let b = name.as_bytes();
    let len = b.len();
    let mixed = if len >= 8 {
        word(b, 0) ^ word(b, len / 2 - 4).rotate_left(21) ^ word(b, len - 8).rotate_left(42)
    } else if len >= 4 {
        u64::from(half(b, 0)) << 32 | u64::from(half(b, len - 4))
    } else {
        b.iter().fold(0, |h, c| h << 8 | u64::from(*c))
    };
    ((mixed ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

/// The eight bytes of `b` from `at` (0 past its end).
#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..)
        .and_then(|w| w.first_chunk::<8>())
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// The four bytes of `b` from `at` (0 past its end).
#[inline]
fn half(b: &[u8], at: usize) -> u32 {
    b.get(at..)
        .and_then(|w| w.first_chunk::<4>())
        .map_or(0, |w| u32::from_le_bytes(*w))
}

/// Whether two names are the same, compared eight bytes at a time inline: names are short,
/// and calling `memcmp` costs more than comparing them.
#[inline]
pub(super) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if len < 8 {
        // The first four bytes and the last four, overlapping.
        return half(a, 0) == half(b, 0) && half(a, len - 4) == half(b, len - 4);
    }
    let mut at = 0;
    while at + 8 < len {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, len - 8) == word(b, len - 8)
}

impl Default for Recent {
    fn default() -> Self {
        Recent::with_sets(RECENT_SETS)
    }
}

impl Recent {
    fn with_sets(sets: usize) -> Self {
        Recent {
            entries: Vec::new(),
            sets: sets.next_power_of_two(),
            at: Vec::new(),
        }
    }

    /// The first of the two entries a fingerprint maps to.
    #[inline]
    fn set_of(&self, fingerprint: u32) -> usize {
        (fingerprint as usize & (self.sets - 1)) * 2
    }

    #[inline]
    fn get(&self, name: &str) -> Option<u32> {
        let f = fingerprint(name);
        let i = self.set_of(f);
        let set = self.entries.get(i..i + 2)?;
        set.iter()
            .find(|e| e.fingerprint == f && e.id != NO_ID && same_name(&e.name, name))
            .map(|e| e.id)
    }

    /// Remembers `name` (not remembered yet) as `id`'s, pushing its set's other entry out.
    fn put(&mut self, name: &str, id: u32) {
        if self.entries.is_empty() {
            self.entries = vec![
                RecentEntry {
                    fingerprint: 0,
                    id: NO_ID,
                    name: String::new(),
                };
                self.sets * 2
            ];
        }
        let f = fingerprint(name);
        let i = self.set_of(f);
        let Some([first, second]) = self.entries.get_mut(i..i + 2) else {
            return;
        };
        // The first entry becomes the second, and the second's buffer takes the new name: no
        // allocation once names fit.
        std::mem::swap(first, second);
        first.fingerprint = f;
        first.id = id;
        first.name.clear();
        first.name.push_str(name);
        let (moved, to) = (second.id, i as u32 + 1);
        for (id, to) in [(moved, to), (id, i as u32)] {
            if id == NO_ID {
                continue;
            }
            let k = id as usize;
            if k >= self.at.len() {
                self.at.resize(k + 1, NO_ID);
            }
            self.at[k] = to;
        }
    }

    fn forget(&mut self, id: u32) {
        let Some(&i) = self.at.get(id as usize) else {
            return;
        };
        if let Some(e) = self.entries.get_mut(i as usize)
            && e.id == id
        {
            e.id = NO_ID;
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

    /// A table whose cache of recent lookups has `sets` sets: small enough for names to
    /// collide in tests.
    #[cfg(test)]
    fn with_recent_sets(max: usize, sets: usize) -> Self {
        SectionTable {
            top: TopK::new(max),
            recent: Recent::with_sets(sets),
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

    /// Every tracked name with its id, in id order.
    pub fn ids(&self) -> impl Iterator<Item = (u32, &str)> {
        self.top
            .iter_ids()
            .map(|(slot, name, _, _)| (slot + 1, name))
    }

    /// Renames id `id` to `name`, keeping its counts; false when `name` is tracked already.
    pub fn rename(&mut self, id: u32, name: &str) -> bool {
        let done = id
            .checked_sub(1)
            .is_some_and(|slot| self.top.rename(slot, name));
        if done {
            self.recent.forget(id - 1);
        }
        done
    }

    /// Adds id `from`'s counts to id `into` and frees `from` (see [`TopK::merge`]); the caller
    /// moves what it kept under `from` to `into`.
    pub fn merge(&mut self, from: u32, into: u32) -> bool {
        let (Some(f), Some(i)) = (from.checked_sub(1), into.checked_sub(1)) else {
            return false;
        };
        let done = self.top.merge(f, i);
        if done {
            self.recent.forget(f);
        }
        done
    }

    /// Requests not attributed to a tracked section: those of sections since taken over.
    /// With the lower bounds of [`SectionTable::counts`] it sums to every request recorded.
    pub fn folded(&self) -> u64 {
        self.top.folded()
    }
}

/// What a window knows about one section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SectionAgg {
    pub hits: u64,
    pub responses: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub latency: LatencyHistogram,
}

impl SectionAgg {
    pub(super) fn is_empty(&self) -> bool {
        self.hits == 0 && self.responses == 0 && self.latency.count() == 0
    }
}

/// One of a section's counters in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    Hits,
    Responses,
    ClientErrors,
    ServerErrors,
}

impl Counter {
    /// Every counter, in index order.
    const ALL: [Counter; 4] = [
        Counter::Hits,
        Counter::Responses,
        Counter::ClientErrors,
        Counter::ServerErrors,
    ];

    /// The name of the [`SectionAgg`] field it adds to.
    #[cfg(test)]
    fn as_str(self) -> &'static str {
        match self {
            Counter::Hits => "hits",
            Counter::Responses => "responses",
            Counter::ClientErrors => "client_errors",
            Counter::ServerErrors => "server_errors",
        }
    }

    #[inline]
    fn index(self) -> usize {
        match self {
            Counter::Hits => 0,
            Counter::Responses => 1,
            Counter::ClientErrors => 2,
            Counter::ServerErrors => 3,
        }
    }
}

/// What a bucket entry counts for a section: a counter, or one latency histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter(Counter),
    /// A [`bucket_of`] latency bucket, below 128.
    Latency(u8),
}

/// The byte of a map key that says which counter it is; latency buckets are their own number
/// (below 128), so one byte holds either.
const COUNTER_CODE: u8 = 200;

impl Kind {
    /// The byte stored in a [`key`].
    #[inline]
    fn code(self) -> u8 {
        match self {
            // At most 3: cannot overflow.
            Kind::Counter(c) => COUNTER_CODE + c.index() as u8,
            Kind::Latency(b) => b,
        }
    }

    /// The kind a key's byte stands for.
    #[inline]
    fn from_code(code: u8) -> Kind {
        match Counter::ALL.get(usize::from(code.wrapping_sub(COUNTER_CODE))) {
            Some(c) if code >= COUNTER_CODE => Kind::Counter(*c),
            _ => Kind::Latency(code),
        }
    }

    /// A short name for test failures and debugging.
    #[cfg(test)]
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter(c) => c.as_str(),
            Kind::Latency(_) => "latency",
        }
    }
}

fn key(id: u32, kind: Kind) -> u64 {
    (u64::from(id) << 8) | u64::from(kind.code())
}

/// Distinct (section, kind) entries one bucket holds before it counts the rest under
/// `(other)`. Live ids alone bound a bucket, but a section can own up to 132 kinds (hits,
/// responses, 4xx, 5xx, 128 latency buckets) and a client controls the latency it causes, so
/// without this cap the 10-minute window could reach ~10,000 × 60 × 132 entries. With it, a
/// window holds at most `len × (16,384 + 132)` entries (about 14 MB for the 70 buckets of the
/// two windows, at 12 bytes an entry once sealed).
const MAX_BUCKET_ENTRIES: usize = 16_384;

/// What an id holds in the newest bucket: its counts, and its first latency bucket inline
/// (the others are in the bucket's map). A pair (id, kind) is held when its count is not
/// zero; `latency_n == 0` means no latency at all, as the inline one is only ever emptied
/// with the whole record.
#[derive(Debug, Clone, Copy, Default)]
struct Newest {
    /// Indexed by [`Counter::index`].
    counts: [u32; Counter::ALL.len()],
    latency: u8,
    latency_n: u32,
}

impl Newest {
    fn holds(&self, kind: Kind) -> bool {
        match kind {
            Kind::Counter(c) => self.counts[c.index()] > 0,
            Kind::Latency(b) => self.latency_n > 0 && self.latency == b,
        }
    }

    /// The pairs held, as `(kind, count)`.
    fn pairs(&self) -> impl Iterator<Item = (Kind, u32)> {
        Counter::ALL
            .map(Kind::Counter)
            .into_iter()
            .zip(self.counts)
            .chain(std::iter::once((
                Kind::Latency(self.latency),
                self.latency_n,
            )))
            .filter(|(_, n)| *n > 0)
    }

    /// Appends the pairs held to `out` as `(key, count)`: [`Newest::pairs`] with keys, one
    /// push each, as sealing does it for every id of every bucket.
    fn push_pairs(&self, id: u32, out: &mut Vec<(u64, u32)>) {
        for (c, n) in Counter::ALL.into_iter().zip(self.counts) {
            if n > 0 {
                out.push((key(id, Kind::Counter(c)), n));
            }
        }
        if self.latency_n > 0 {
            out.push((key(id, Kind::Latency(self.latency)), self.latency_n));
        }
    }

    /// Adds one to `counter`; returns whether the pair is new.
    #[inline]
    fn bump_counter(&mut self, counter: Counter) -> bool {
        let c = &mut self.counts[counter.index()];
        let fresh = *c == 0;
        *c = c.saturating_add(1);
        fresh
    }

    /// Adds one to latency bucket `b` of this record of `id`, whose bucket keeps other
    /// latencies in `map`; returns whether the pair is new.
    #[inline]
    fn bump_latency(&mut self, map: &mut Deltas, id: u32, b: u8) -> bool {
        if self.latency_n == 0 {
            self.latency = b;
            self.latency_n = 1;
            return true;
        }
        if self.latency == b {
            self.latency_n = self.latency_n.saturating_add(1);
            return false;
        }
        add_one(map, key(id, Kind::Latency(b)))
    }

    /// Adds `n` (> 0) to `kind` of this record of `id`, whose bucket keeps other latencies
    /// in `map`. Returns whether the pair is new.
    #[inline]
    fn bump(&mut self, map: &mut Deltas, id: u32, kind: Kind, n: u32) -> bool {
        let bucket = match kind {
            Kind::Counter(counter) => {
                let c = &mut self.counts[counter.index()];
                let fresh = *c == 0;
                *c = c.saturating_add(n);
                return fresh;
            }
            Kind::Latency(b) => b,
        };
        if self.latency_n == 0 {
            self.latency = bucket;
            self.latency_n = n;
            return true;
        }
        if self.latency == bucket {
            self.latency_n = self.latency_n.saturating_add(n);
            return false;
        }
        add_pair(map, key(id, kind), n)
    }
}

/// A bucket's counts by `key(id, kind)`.
type Deltas = HashMap<u64, u32, KeyedState>;

/// Adds one to a pair of `map`, most often there already; returns whether it is new. Out of
/// line: the map's probing would take the registers of the short path it is called from.
#[inline(never)]
fn add_one(map: &mut Deltas, k: u64) -> bool {
    if let Some(c) = map.get_mut(&k) {
        *c = c.saturating_add(1);
        return false;
    }
    map.insert(k, 1);
    true
}

/// Adds `n` to a pair of `map`; returns whether it is new.
#[inline]
fn add_pair(map: &mut Deltas, k: u64, n: u32) -> bool {
    let mut fresh = false;
    let c = map.entry(k).or_insert_with(|| {
        fresh = true;
        0
    });
    *c = c.saturating_add(n);
    fresh
}

/// The set bits of a latency mask, lowest first.
fn bits(mut mask: u128) -> impl Iterator<Item = u8> + Clone {
    std::iter::from_fn(move || {
        let b = u8::try_from(mask.trailing_zeros())
            .ok()
            .filter(|b| *b < 128)?;
        mask &= mask - 1;
        Some(b)
    })
}

/// One bucket of a window. While it is the newest, each id's counts and first latency are in
/// its [`Entry::newest`] and the other latencies in `deltas`. Once the window moves on, its
/// pairs are sealed into sorted arrays, and `deltas` only takes what arrives later: late
/// events, and what folding moves to `(other)`. A pair is in one place only: a key of the
/// sealed arrays never enters `deltas`.
#[derive(Debug, Clone)]
struct Bucket {
    index: u64,
    sealed: Sealed,
    deltas: Deltas,
    /// Pairs held, wherever they are: what `MAX_BUCKET_ENTRIES` caps.
    entries: usize,
}

impl Bucket {
    /// Whether the pair `k` has a count here, outside the newest records.
    #[inline(never)]
    fn holds_stored(&self, k: u64) -> bool {
        self.sealed.holds(k) || self.deltas.contains_key(&k)
    }

    /// Adds `n` (> 0) to the pair `k` outside the newest records; returns whether it is new.
    /// Only for late events and folds: kept out of line, so the per-event path stays as small
    /// as it was.
    #[inline(never)]
    fn add_stored(&mut self, k: u64, n: u32) -> bool {
        match self.sealed.count_mut(k) {
            Some(c) => {
                let fresh = *c == 0;
                *c = c.saturating_add(n);
                fresh
            }
            None => add_pair(&mut self.deltas, k, n),
        }
    }

    fn clear(&mut self) {
        self.sealed.keys.clear();
        self.sealed.counts.clear();
        self.deltas.clear();
        self.entries = 0;
    }
}

/// The pairs of a bucket that is no longer the newest, sorted by key in two flat arrays: 12
/// bytes a pair, where a map takes 17 per slot and keeps up to twice the slots it uses, and
/// the older buckets are most of a window's memory. An id's pairs sit side by side (the id is
/// the key's high bits), so folding finds them with one binary search. A pair folded away
/// keeps its key with a count of zero until the bucket leaves the window.
#[derive(Debug, Clone, Default)]
struct Sealed {
    keys: Vec<u64>,
    counts: Vec<u32>,
}

impl Sealed {
    fn count_mut(&mut self, k: u64) -> Option<&mut u32> {
        let i = self.keys.binary_search(&k).ok()?;
        self.counts.get_mut(i)
    }

    fn holds(&self, k: u64) -> bool {
        self.keys
            .binary_search(&k)
            .is_ok_and(|i| self.counts.get(i).is_some_and(|n| *n > 0))
    }

    /// The positions of `id`'s pairs.
    fn range_of(&self, id: u32) -> std::ops::Range<usize> {
        let first = u64::from(id) << 8;
        let start = self.keys.partition_point(|k| *k < first);
        let end = start + self.keys[start..].partition_point(|k| *k >> 8 == u64::from(id));
        start..end
    }

    /// The pairs with a count, as `(key, count)`.
    fn pairs(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.keys
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
            .filter(|(_, n)| *n > 0)
    }
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
    /// The id's record in the newest bucket. Nearly every event lands there: counted here,
    /// next to the aggregate and by index, it costs no hashing.
    newest: Newest,
    /// The id is in [`SectionWindow::touched`].
    listed: bool,
}

impl Entry {
    /// Back to holding nothing, keeping the histogram's allocation.
    fn reset(&mut self) {
        let a = &mut self.agg;
        a.hits = 0;
        a.responses = 0;
        a.client_errors = 0;
        a.server_errors = 0;
        for b in bits(self.latencies) {
            a.latency.remove_bucket(b, u32::MAX);
        }
        self.buckets = 0;
        self.latencies = 0;
    }

    /// Counts one of `kind` held in bucket slot `slot`.
    fn add(&mut self, slot: usize, kind: Kind) {
        self.buckets |= 1 << (slot % 64);
        if let Kind::Latency(b) = kind
            && b < 128
        {
            self.latencies |= 1 << b;
        }
        apply(&mut self.agg, kind, 1, true);
    }
}

fn entry_of(agg: &mut Vec<Entry>, id: u32) -> &mut Entry {
    let i = id as usize;
    if i >= agg.len() {
        agg.resize_with(i + 1, Entry::default);
    }
    &mut agg[i]
}

/// Where an event lands: a bucket slot, and whether it is the newest bucket.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: usize,
    newest: bool,
}

/// An id's entry and the newest bucket, for an event that lands there.
struct Hot<'a> {
    entry: &'a mut Entry,
    bucket: &'a mut Bucket,
}

/// What one final response adds to a section: a response, an error of its class if it is one,
/// its latency's bucket if it has one. Worked out once for all the windows it is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    error: Option<Counter>,
    latency: Option<u8>,
}

impl Answer {
    /// A response of `status` with a latency in [`bucket_of`] bucket `latency`.
    pub fn new(status: u16, latency: Option<u8>) -> Self {
        let error = match StatusClass::of(status) {
            StatusClass::ClientError => Some(Counter::ClientErrors),
            StatusClass::ServerError => Some(Counter::ServerErrors),
            _ => None,
        };
        Answer { error, latency }
    }

    /// Its latency's bucket.
    pub fn latency(self) -> Option<u8> {
        self.latency
    }

    /// Pairs it may add to a bucket.
    fn pairs(self) -> usize {
        1 + usize::from(self.error.is_some()) + usize::from(self.latency.is_some())
    }

    /// Its kinds in the order they are counted, and how many there are.
    fn kinds(self) -> ([Kind; 3], usize) {
        let mut kinds = [Kind::Counter(Counter::Responses); 3];
        let mut n = 1;
        let error = self.error.map(Kind::Counter);
        for kind in [error, self.latency.map(Kind::Latency)]
            .into_iter()
            .flatten()
        {
            kinds[n] = kind;
            n += 1;
        }
        (kinds, n)
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
    /// Ids with a record in the newest bucket, each once.
    touched: Vec<u32>,
    /// The last second looked up and its slot, until the window moves.
    last: Option<(u64, Slot)>,
    /// The newest bucket's slot while `last` is in it (`NO_SLOT` otherwise), and that second:
    /// what an event must match to be counted on the short path.
    hot_slot: usize,
    hot_second: u64,
    /// `MAX_BUCKET_ENTRIES`; smaller in tests.
    cap: usize,
    /// An empty map with the capacity the last newest bucket grew to: the next newest bucket
    /// takes it, so only one bucket at a time keeps a map that size.
    spare: Deltas,
    /// Where a bucket's pairs are sorted as it is sealed; kept for the next one.
    sorting: Vec<(u64, u32)>,
    /// Where [`sort_pairs`] puts its first pass, and its counts; kept for the next bucket.
    scratch: Vec<(u64, u32)>,
    digits: Vec<u32>,
}

impl SectionWindow {
    pub fn new(granularity_secs: u64, len: usize) -> Self {
        Self::with_cap(granularity_secs, len, MAX_BUCKET_ENTRIES)
    }

    fn with_cap(granularity_secs: u64, len: usize, cap: usize) -> Self {
        let empty = Bucket {
            index: u64::MAX,
            sealed: Sealed::default(),
            deltas: HashMap::default(),
            entries: 0,
        };
        SectionWindow {
            granularity: granularity_secs.max(1),
            buckets: vec![empty; len.max(1)],
            newest: 0,
            agg: Vec::new(),
            touched: Vec::new(),
            last: None,
            hot_slot: NO_SLOT,
            hot_second: 0,
            cap,
            spare: HashMap::default(),
            sorting: Vec::new(),
            scratch: Vec::new(),
            digits: Vec::new(),
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
        self.store_newest();
        self.newest = idx;
        self.last = None;
        self.hot_slot = NO_SLOT;
        let len = self.buckets.len() as u64;
        for bucket in &mut self.buckets {
            if bucket.index == u64::MAX || bucket.index + len > idx {
                continue;
            }
            for (k, n) in bucket.sealed.pairs().chain(bucket.deltas.drain()) {
                let id = (k >> 8) as usize;
                let kind = Kind::from_code((k & 0xff) as u8);
                if let Some(e) = self.agg.get_mut(id)
                    && e.buckets != 0
                {
                    apply(&mut e.agg, kind, n, false);
                    if e.agg.is_empty() {
                        e.reset();
                    }
                }
            }
            bucket.clear();
            bucket.index = u64::MAX;
        }
    }

    /// Seals the newest bucket as the window is about to move on: its records in the entries
    /// and the pairs of its map go into its sorted arrays, and the map, emptied, is kept for
    /// the next newest bucket. Once a bucket is not the newest few events reach it, and the
    /// arrays are what bounds its memory.
    fn store_newest(&mut self) {
        let slot = (self.newest % self.buckets.len() as u64) as usize;
        let newest = self.newest;
        // When nothing landed in it, no id is touched.
        let mut bucket = self.buckets.get_mut(slot).filter(|b| b.index == newest);
        let sorting = &mut self.sorting;
        for id in self.touched.drain(..) {
            let Some(e) = self.agg.get_mut(id as usize) else {
                continue;
            };
            e.listed = false;
            let record = std::mem::take(&mut e.newest);
            if bucket.is_some() {
                record.push_pairs(id, sorting);
            }
        }
        if let Some(b) = bucket.as_mut() {
            // Its arrays are empty (cleared when it became the newest bucket); merged anyway,
            // as sealing must never lose a pair.
            sorting.extend(b.sealed.pairs());
            b.sealed.keys.clear();
            b.sealed.counts.clear();
            sorting.extend(b.deltas.drain());
            sort_pairs(sorting, &mut self.scratch, &mut self.digits);
            b.sealed.keys.extend(sorting.iter().map(|(k, _)| *k));
            b.sealed.counts.extend(sorting.iter().map(|(_, n)| *n));
            std::mem::swap(&mut b.deltas, &mut self.spare);
        }
        sorting.clear();
    }

    /// The bucket slot for `second`, moving the window forward if it is newer; `None` when it
    /// is older than the window.
    fn slot_for(&mut self, second: u64) -> Option<Slot> {
        if let Some((s, slot)) = self.last
            && s == second
        {
            return Some(slot);
        }
        let idx = self.index_of(second);
        if idx > self.newest {
            self.advance(second);
        }
        let len = self.buckets.len() as u64;
        if idx + len <= self.newest {
            return None;
        }
        let index = (idx % len) as usize;
        let bucket = &mut self.buckets[index];
        if bucket.index != idx {
            // Only an empty slot can be here: `advance` cleared everything older.
            bucket.index = idx;
            bucket.clear();
            if idx == self.newest {
                // The map that grows is the newest bucket's: it takes the one kept for that.
                std::mem::swap(&mut bucket.deltas, &mut self.spare);
            }
        }
        let slot = Slot {
            index,
            newest: idx == self.newest,
        };
        self.last = Some((second, slot));
        (self.hot_slot, self.hot_second) = if slot.newest {
            (slot.index, second)
        } else {
            (NO_SLOT, 0)
        };
        Some(slot)
    }

    /// [`SectionWindow::record`] out of line, for the few events the short path leaves: the
    /// short path's callers keep their registers.
    #[cold]
    #[inline(never)]
    fn record_slowly(&mut self, second: u64, id: u32, kinds: &[Kind]) {
        self.record(second, id, kinds);
    }

    /// Counts one of each of `kinds` for `id` at `second`, in order.
    fn record(&mut self, second: u64, id: u32, kinds: &[Kind]) {
        let Some(slot) = self.slot_for(second) else {
            return;
        };
        let Some(bucket) = self.buckets.get_mut(slot.index) else {
            return;
        };
        if !slot.newest || bucket.entries + kinds.len() > self.cap {
            // Late, or so near the cap that it may bite between two kinds: pair by pair.
            for &kind in kinds {
                self.add(slot, id, kind);
            }
            return;
        }
        // Nearly every event: the newest bucket, with room for every pair it can add, so all
        // of it is the id's, counted in its entry.
        let e = entry_of(&mut self.agg, id);
        if !e.listed {
            e.listed = true;
            self.touched.push(id);
        }
        for &kind in kinds {
            let fresh = e.newest.bump(&mut bucket.deltas, id, kind, 1);
            bucket.entries += usize::from(fresh);
            e.add(slot.index, kind);
        }
    }

    /// Counts one of `kind` for `id` in `slot`, or for `(other)` when the bucket is full and
    /// does not hold that pair yet: totals stay exact, memory bounded.
    fn add(&mut self, slot: Slot, id: u32, kind: Kind) {
        let Some(bucket) = self.buckets.get_mut(slot.index) else {
            return;
        };
        let holds = |id: u32| {
            let held = slot.newest
                && self
                    .agg
                    .get(id as usize)
                    .is_some_and(|e| e.newest.holds(kind));
            held || bucket.holds_stored(key(id, kind))
        };
        let id = if bucket.entries >= self.cap && !holds(id) {
            OTHER_ID
        } else {
            id
        };
        let e = entry_of(&mut self.agg, id);
        let fresh = if slot.newest {
            if !e.listed {
                e.listed = true;
                self.touched.push(id);
            }
            e.newest.bump(&mut bucket.deltas, id, kind, 1)
        } else {
            bucket.add_stored(key(id, kind), 1)
        };
        bucket.entries += usize::from(fresh);
        e.add(slot.index, kind);
    }

    /// Moves everything held for `id` to `(other)`: its slot in the section table now belongs
    /// to another section. Totals are unchanged. Costs one probe per bucket and kind it used.
    pub fn fold_into_other(&mut self, id: u32) {
        self.move_into(id, OTHER_ID);
    }

    /// Moves everything held for `id` to `into` (two names found to be one, merged in the
    /// table): [`SectionWindow::fold_into_other`] to any id. Totals are unchanged.
    pub fn move_into(&mut self, id: u32, into: u32) {
        if id == OTHER_ID || id == into {
            return;
        }
        let i = id as usize;
        if self.agg.get(i).is_none_or(|e| e.buckets == 0) {
            return;
        }
        entry_of(&mut self.agg, into);
        let t = into as usize;
        let (head, tail) = self.agg.split_at_mut(i.max(t));
        let (Some(low), Some(high)) = (head.get_mut(i.min(t)), tail.first_mut()) else {
            return;
        };
        let (other, e) = if t < i { (low, high) } else { (high, low) };
        let kinds = Counter::ALL
            .map(Kind::Counter)
            .into_iter()
            .chain(bits(e.latencies).map(Kind::Latency));
        for (slot, bucket) in self.buckets.iter_mut().enumerate() {
            if e.buckets & (1 << (slot % 64)) == 0 || bucket.index == u64::MAX {
                continue;
            }
            let (mut removed, mut added) = (0, 0);
            if bucket.index == self.newest {
                let record = std::mem::take(&mut e.newest);
                for (kind, n) in record.pairs() {
                    removed += 1;
                    added += usize::from(other.newest.bump(&mut bucket.deltas, into, kind, n));
                }
            }
            // The sealed pairs of a stored bucket, side by side.
            for i in bucket.sealed.range_of(id) {
                let (k, n) = (
                    bucket.sealed.keys[i],
                    std::mem::take(&mut bucket.sealed.counts[i]),
                );
                if n > 0 {
                    removed += 1;
                    added += usize::from(
                        bucket.add_stored(key(into, Kind::from_code((k & 0xff) as u8)), n),
                    );
                }
            }
            // The pairs that came later to a stored bucket, the extra latencies of the newest.
            for kind in kinds.clone() {
                if let Some(n) = bucket.deltas.remove(&key(id, kind)) {
                    removed += 1;
                    added += usize::from(if bucket.index == self.newest {
                        other.newest.bump(&mut bucket.deltas, into, kind, n)
                    } else {
                        bucket.add_stored(key(into, kind), n)
                    });
                }
            }
            if bucket.index == self.newest && added > 0 && !other.listed {
                other.listed = true;
                self.touched.push(into);
            }
            bucket.entries = bucket.entries.saturating_sub(removed) + added;
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

    #[inline]
    pub fn record_hit(&mut self, second: u64, id: u32) {
        match self.hot(second, id, 1) {
            Some(Hot { entry, bucket }) => {
                bucket.entries += usize::from(entry.newest.bump_counter(Counter::Hits));
                entry.agg.hits += 1;
            }
            None => self.record_slowly(second, id, &[Kind::Counter(Counter::Hits)]),
        }
    }

    pub fn record_response(
        &mut self,
        second: u64,
        id: u32,
        status: u16,
        latency: Option<Duration>,
    ) {
        self.record_answer(second, id, Answer::new(status, latency.map(bucket_of)));
    }

    /// [`SectionWindow::record_response`] of a response worked out once for every window it
    /// goes to.
    #[inline(always)]
    pub fn record_answer(&mut self, second: u64, id: u32, answer: Answer) {
        let Some(Hot { entry: e, bucket }) = self.hot(second, id, answer.pairs()) else {
            let (kinds, n) = answer.kinds();
            self.record_slowly(second, id, kinds.get(..n).unwrap_or(&[]));
            return;
        };
        let mut fresh = usize::from(e.newest.bump_counter(Counter::Responses));
        e.agg.responses += 1;
        if let Some(error) = answer.error {
            fresh += usize::from(e.newest.bump_counter(error));
            match error {
                Counter::ClientErrors => e.agg.client_errors += 1,
                _ => e.agg.server_errors += 1,
            }
        }
        if let Some(b) = answer.latency {
            fresh += usize::from(e.newest.bump_latency(&mut bucket.deltas, id, b));
            if b < 128 {
                e.latencies |= 1 << b;
            }
            e.agg.latency.add_bucket(b, 1);
        }
        bucket.entries += fresh;
    }

    /// The newest bucket and `id`'s entry, marked as holding something there, when an event at
    /// `second` lands in that bucket and it has room for `pairs` more pairs: nearly every
    /// event, counted in a few dozen instructions. `None` sends the event the long way
    /// ([`SectionWindow::record`]): a new second, a late event, a bucket near its cap, an id
    /// this window never saw.
    #[inline]
    fn hot(&mut self, second: u64, id: u32, pairs: usize) -> Option<Hot<'_>> {
        if second != self.hot_second {
            return None;
        }
        // `NO_SLOT` is no bucket.
        let slot = self.hot_slot;
        let bucket = self.buckets.get_mut(slot)?;
        if bucket.entries + pairs > self.cap {
            return None;
        }
        let entry = self.agg.get_mut(id as usize)?;
        if !entry.listed {
            entry.listed = true;
            self.touched.push(id);
        }
        entry.buckets |= 1 << (slot % 64);
        Some(Hot { entry, bucket })
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

    /// Distinct ids with something in the window, and (id, kind) pairs held in its buckets:
    /// what its memory grows with (plus one emptied entry per id ever seen, at most the
    /// table's cap + 1).
    pub fn footprint(&self) -> (usize, usize) {
        (
            self.agg.iter().filter(|e| e.buckets != 0).count(),
            self.buckets.iter().map(|b| b.entries).sum(),
        )
    }

    /// Bytes the window holds on the heap, from its containers' capacities: what its share of
    /// the process's memory is, and what the memory budget is checked against.
    pub fn heap_bytes(&self) -> usize {
        let buckets: usize = self
            .buckets
            .iter()
            .map(|b| {
                map_bytes(&b.deltas)
                    + b.sealed.keys.capacity() * size_of::<u64>()
                    + b.sealed.counts.capacity() * size_of::<u32>()
            })
            .sum();
        buckets
            + map_bytes(&self.spare)
            + (self.sorting.capacity() + self.scratch.capacity()) * size_of::<(u64, u32)>()
            + self.digits.capacity() * size_of::<u32>()
            + self.buckets.capacity() * size_of::<Bucket>()
            + self.agg.capacity() * size_of::<Entry>()
            + self.agg.len() * LatencyHistogram::HEAP_BYTES
            + self.touched.capacity() * size_of::<u32>()
    }
}

/// Ids below this are sorted by counting: one count per id.
const COUNTED_IDS: u64 = 1 << 16;

/// Sorts a bucket's pairs by key, as sealing needs them. Ids are small dense integers (at most
/// the table's cap + 1), so one stable counting pass groups the pairs by id, and each id's few
/// pairs (its counters and latencies) are then compared among themselves: a few dozen
/// instructions a pair, where comparing all of them took a few hundred (thousands of pairs a
/// second per window), and one pass over memory rather than two. Few pairs, or ids past
/// `COUNTED_IDS`, are compared. `pairs` and `scratch` may trade buffers.
fn sort_pairs(pairs: &mut Vec<(u64, u32)>, scratch: &mut Vec<(u64, u32)>, digits: &mut Vec<u32>) {
    let top = pairs.iter().map(|(k, _)| k >> 8).max().unwrap_or(0);
    if pairs.len() < 64 || top >= COUNTED_IDS {
        pairs.sort_unstable_by_key(|(k, _)| *k);
        return;
    }
    counting_pass(pairs, scratch, digits, top as usize + 1, |k| {
        (k >> 8) as usize
    });
    // Each id's count now ends where its pairs end.
    let mut start = 0;
    for &end in digits.iter().take(top as usize + 1) {
        if let Some(run) = scratch.get_mut(start..end as usize) {
            run.sort_unstable_by_key(|(k, _)| *k);
        }
        start = end as usize;
    }
    std::mem::swap(pairs, scratch);
}

/// Puts `from` into `to` in the order of `digit` (below `n`), keeping the order of equals.
fn counting_pass(
    from: &[(u64, u32)],
    to: &mut Vec<(u64, u32)>,
    digits: &mut Vec<u32>,
    n: usize,
    digit: impl Fn(u64) -> usize,
) {
    digits.clear();
    digits.resize(n + 1, 0);
    for (k, _) in from {
        digits[digit(*k) + 1] += 1;
    }
    for i in 1..digits.len() {
        digits[i] += digits[i - 1];
    }
    to.clear();
    to.resize(from.len(), (0, 0));
    for &(k, c) in from {
        let at = &mut digits[digit(k)];
        to[*at as usize] = (k, c);
        *at += 1;
    }
}

/// Bytes a hash map holds on the heap: hashbrown keeps a power of two of slots, at most 7/8
/// of them used (all but one below eight), each slot with one control byte, plus one group
/// of control bytes.
fn map_bytes<K, V, S>(map: &HashMap<K, V, S>) -> usize {
    let slots = match map.capacity() {
        0 => return 0,
        c if c < 7 => c + 1,
        c => c / 7 * 8,
    };
    slots * (size_of::<(K, V)>() + 1) + 16
}

#[cfg(test)]
impl SectionWindow {
    /// Every (bucket index, id, kind, count) held, sorted: the reference layout's map entries.
    fn pairs(&self) -> Vec<(u64, u32, u8, u32)> {
        let mut out = Vec::new();
        for b in self.buckets.iter().filter(|b| b.index != u64::MAX) {
            if b.index == self.newest {
                for (id, e) in self.agg.iter().enumerate() {
                    out.extend(
                        e.newest
                            .pairs()
                            .map(|(kind, n)| (b.index, id as u32, kind.code(), n)),
                    );
                }
            }
            for (k, n) in b
                .sealed
                .pairs()
                .chain(b.deltas.iter().map(|(k, n)| (*k, *n)))
            {
                out.push((b.index, (k >> 8) as u32, (k & 0xff) as u8, n));
            }
        }
        out.sort_unstable();
        out
    }
}

fn apply(agg: &mut SectionAgg, kind: Kind, n: u32, add: bool) {
    let n64 = u64::from(n);
    let field = match kind {
        Kind::Counter(Counter::Hits) => &mut agg.hits,
        Kind::Counter(Counter::Responses) => &mut agg.responses,
        Kind::Counter(Counter::ClientErrors) => &mut agg.client_errors,
        Kind::Counter(Counter::ServerErrors) => &mut agg.server_errors,
        Kind::Latency(lat) => {
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

    proptest! {
        #[test]
        fn pairs_sort_by_key_as_comparing_does(
            mut pairs in proptest::collection::vec((0u64..300, any::<u8>(), any::<u32>()), 0..400),
        ) {
            let mut pairs: Vec<(u64, u32)> = pairs.drain(..).map(|(id, kind, n)| (id << 8 | u64::from(kind), n)).collect();
            // Keys are distinct in a bucket.
            pairs.sort_unstable_by_key(|(k, _)| *k);
            pairs.dedup_by_key(|(k, _)| *k);
            let want = pairs.clone();
            pairs.reverse();
            let third = pairs.len() / 3;
            pairs.rotate_left(third);
            let (mut scratch, mut digits) = (Vec::new(), Vec::new());
            sort_pairs(&mut pairs, &mut scratch, &mut digits);
            prop_assert_eq!(pairs, want);
        }
    }

    #[test]
    fn names_compare_as_bytes_do() {
        let names = [
            "",
            "/",
            "/a",
            "/api33",
            "/api3x",
            "/api33/v",
            "/api33/v1",
            "/api33/v1/delta",
        ];
        let longer = [
            "/api33/v1/deltb",
            "/bpi33/v1/delta",
            "/api33/v2/delta",
            "/api33/v1/delta/",
        ];
        for a in names.iter().chain(&longer) {
            for b in names.iter().chain(&longer) {
                assert_eq!(same_name(a, b), a == b, "{a} {b}");
            }
        }
        // Every length around the eight-byte steps, differing at every position.
        for len in 0..40 {
            let a: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            assert!(same_name(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone().into_bytes();
                b[at] = b'#';
                let b = String::from_utf8(b).unwrap_or_default();
                assert!(!same_name(&a, &b), "{a} {b}");
            }
        }
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
    fn window_kinds_survive_the_key_byte() {
        let mut kinds: Vec<Kind> = Counter::ALL.map(Kind::Counter).to_vec();
        kinds.extend((0..128).map(Kind::Latency));
        for (i, kind) in kinds.iter().enumerate() {
            assert_eq!(Kind::from_code(kind.code()), *kind, "{}", kind.as_str());
            assert_eq!(key(7, *kind) >> 8, 7);
            // Distinct kinds, distinct keys.
            assert!(kinds[..i].iter().all(|k| k.code() != kind.code()));
        }
        for (i, c) in Counter::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    #[test]
    fn moving_an_id_into_another_adds_up_and_ages_out_as_before() {
        for (from, into) in [(3, 1), (1, 3)] {
            let mut w = SectionWindow::new(1, 10);
            w.record_hit(100, from);
            w.record_response(100, from, 503, Some(Duration::from_millis(3)));
            w.record_hit(101, from);
            w.record_response(101, from, 404, Some(Duration::from_micros(40)));
            w.record_hit(101, into);
            w.record_response(101, into, 200, Some(Duration::from_micros(40)));
            w.move_into(from, into);
            let top: Vec<(u32, u64, u64, u64, u64, u64)> = w
                .top(5)
                .iter()
                .map(|(id, a)| {
                    let (h, r, c, s) = (a.hits, a.responses, a.client_errors, a.server_errors);
                    (*id, h, r, c, s, a.latency.count())
                })
                .collect();
            assert_eq!(top, [(into, 3, 3, 1, 1, 3)], "{from} into {into}");
            // Later events of `into` land on the merged counts; second 100 ages out alone.
            w.record_hit(102, into);
            w.advance(110);
            assert_eq!(w.top(5)[0].1.hits, 3);
            assert_eq!(w.top(5)[0].1.server_errors, 0);
            w.advance(112);
            assert_eq!(w.footprint(), (0, 0));
        }
    }

    #[test]
    fn folding_moves_every_latency_a_bucket_holds() {
        for late in [false, true] {
            let mut w = SectionWindow::new(1, 10);
            for us in [1, 100, 100, 9, 9, 9] {
                w.record_response(20, 1, 200, Some(Duration::from_micros(us)));
            }
            if late {
                // Second 20 is no longer the newest bucket.
                w.record_hit(21, 2);
            }
            w.fold_into_other(1);
            let lat = |us| bucket_of(Duration::from_micros(us));
            let mut want = vec![
                (20, OTHER_ID, lat(1), 1),
                (20, OTHER_ID, lat(100), 2),
                (20, OTHER_ID, lat(9), 3),
                (20, OTHER_ID, Kind::Counter(Counter::Responses).code(), 6),
            ];
            if late {
                want.push((21, 2, Kind::Counter(Counter::Hits).code(), 1));
            }
            want.sort_unstable();
            assert_eq!(w.pairs(), want, "late {late}");
            assert_eq!(w.footprint(), (usize::from(late) + 1, want.len()));
            w.advance(40);
            assert_eq!(w.footprint(), (0, 0));
            assert_eq!(w.agg[0].agg.latency.count(), 0);
        }
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

    /// Heap the two section windows of `Stats` may hold together: with the table's default
    /// cap of sections all active, they must leave most of the process's 64 MiB to the rest.
    const WINDOWS_BUDGET: usize = 24 << 20;

    #[test]
    fn ten_thousand_sections_every_second_for_twelve_minutes_fit_the_budget() {
        // The windows `Stats` keeps, each section answered every second with a latency that
        // moves, so each bucket holds as many (section, kind) pairs as its cap lets it.
        let mut short = SectionWindow::new(1, 10);
        let mut long = SectionWindow::new(10, 60);
        let mut peak = 0;
        for second in 1..=720u64 {
            for id in 1..=10_000u32 {
                let us = 100 + (u64::from(id) * 31 + second * 17) % 4_000;
                let status = if (u64::from(id) + second) % 50 == 0 {
                    404
                } else {
                    200
                };
                for w in [&mut short, &mut long] {
                    w.record_hit(second, id);
                    w.record_response(second, id, status, Some(Duration::from_micros(us)));
                }
            }
            peak = peak.max(short.heap_bytes() + long.heap_bytes());
        }
        // Exact at bucket granularity: the 10-minute window holds the last 60 buckets of 10 s.
        assert_eq!(short.total_hits(), 10 * 10_000);
        assert_eq!(long.total_hits(), 600 * 10_000);
        eprintln!("peak heap of both windows: {peak} bytes");
        assert!(peak < WINDOWS_BUDGET, "{peak} bytes");
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

        // The same through collisions in a cache of one or two sets, with renames and merges
        // moving names between ids.
        #[test]
        fn a_small_cache_answers_as_the_table_does(
            sets in 1usize..3,
            ops in proptest::collection::vec((0u8..6, 0u32..14, 0u32..7), 0..500),
        ) {
            let mut t = SectionTable::with_recent_sets(5, sets);
            let mut bare = TopK::new(5);
            for (op, n, other) in &ops {
                let name = format!("/s{n}");
                match op {
                    0 | 1 => {
                        let r = bare.record(&name);
                        prop_assert_eq!(t.record(&name), (r.id + 1, r.evicted));
                    }
                    2 => prop_assert_eq!(t.lookup(&name), bare.get(&name).map(|id| id + 1)),
                    3 => prop_assert_eq!(t.rename(other + 1, &name), bare.rename(*other, &name)),
                    4 => {
                        let into = n % 7;
                        prop_assert_eq!(t.merge(other + 1, into + 1), bare.merge(*other, into));
                    }
                    _ => prop_assert_eq!(t.get(&name), bare.get(&name).map(|id| id + 1)),
                }
                for k in 0..14 {
                    let name = format!("/s{k}");
                    prop_assert_eq!(t.get(&name), bare.get(&name).map(|id| id + 1));
                }
            }
            let counts: Vec<(&str, u64, u64)> = t.counts().map(|c| (c.name, c.count, c.error)).collect();
            prop_assert_eq!(counts, bare.iter().collect::<Vec<_>>());
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

    proptest! {
        // Rare paths (a fold of a section holding two latencies twice) need many cases.
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        // The window against the layout it replaced (one map entry per id, kind and bucket),
        // through every operation, with caps small enough to bite: the same aggregates, the
        // same (other), the same footprint, at every step.
        #[test]
        fn window_matches_the_reference_layout(
            shape in (1u64..4, 1usize..8, 1usize..24, 2u32..8, 2usize..8),
            ops in proptest::collection::vec((0u8..10, 0u64..4, 0u32..8, 0usize..8, 0usize..8), 0..300),
        ) {
            // Few ids and latencies make repeats within a bucket likely, many make the cap bite.
            let (granularity, len, cap, ids, lats) = shape;
            let mut w = SectionWindow::with_cap(granularity, len, cap);
            let mut r = super::super::sections_reference::ReferenceWindow::new(granularity, len, cap);
            let statuses = [200, 204, 301, 404, 451, 500, 503, 99];
            let latencies = [None, Some(1), Some(100), Some(9), Some(1_000), Some(40_000), Some(3_000_000), Some(7)];
            let mut second = 50u64;
            for (op, dt, id, status, lat) in ops {
                let (id, lat) = (id % ids, lat % lats);
                match op {
                    0..=3 => {
                        second += dt;
                        w.record_hit(second, id);
                        r.record_hit(second, id);
                    }
                    4 => {
                        // Late: up to a few buckets back, sometimes out of the window.
                        let s = second.saturating_sub(dt * granularity * 2);
                        w.record_hit(s, id);
                        r.record_hit(s, id);
                        let l = latencies[lat].map(Duration::from_micros);
                        w.record_response(s, id, statuses[status], l);
                        r.record_response(s, id, statuses[status], l);
                    }
                    5..=7 => {
                        second += dt / 2;
                        let l = latencies[lat].map(Duration::from_micros);
                        w.record_response(second, id, statuses[status], l);
                        r.record_response(second, id, statuses[status], l);
                    }
                    8 => {
                        w.fold_into_other(id);
                        r.fold_into_other(id);
                    }
                    _ => {
                        second += dt * granularity;
                        w.advance(second);
                        r.advance(second);
                    }
                }
                let got: Vec<(u32, SectionAgg)> = w.top(100).into_iter().map(|(i, a)| (i, a.clone())).collect();
                let want: Vec<(u32, SectionAgg)> = r.top(100).into_iter().map(|(i, a)| (i, a.clone())).collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(w.total_hits(), r.total_hits());
                prop_assert_eq!(w.footprint(), r.footprint());
                prop_assert_eq!(w.pairs(), r.pairs());
                // Responses and latencies of sections with no hit in the window, too.
                for i in 0..7u32 {
                    let a = w.agg.get(i as usize).map(|e| (e.agg.clone(), e.buckets, e.latencies));
                    let b = r.entry(i);
                    prop_assert_eq!(a, b);
                }
            }
        }
    }
}
