//! The HPACK dynamic table (RFC 7541 §2.3.2, §4) as a passive observer can know it.
//!
//! An observer may have missed the start of a connection (the capture began mid-stream) and
//! may refuse to hold as much as a hostile peer allows. So the table here is the *newest part*
//! of the real one: `entries` are the fields inserted since we started watching, newest
//! first, and `unknown_tail` says whether the real table may also hold older entries we never
//! saw. An index past our entries is then an *unknown* entry, never a guess.
//!
//! # The invariant
//!
//! Call the encoder's real table R and ours L. Every insertion is recorded in L in order, and
//! L only ever loses entries from its old end, so at every dynamic index that both have, L
//! and R hold the same entry. Hence for a valid stream (one that only references entries in
//! R) a lookup that finds an entry in L is exactly right. Two looser states are allowed, and
//! neither can make a valid stream decode wrong:
//! - R is L followed by unknown older entries (`unknown_tail`): a lookup past L is unknown.
//! - R is a *prefix* of L: the encoder evicted entries we kept because we did not know its
//!   maximum size (mid-stream, before any size update). An index into that stale part is
//!   invalid for the encoder, which does not send it.
//!
//! # Sizes and eviction
//!
//! `max_size` is the encoder's maximum table size once we know it: from the start it is 4096
//! (the protocol default); mid-stream it is unknown until a dynamic table size update shows it.
//! `size` is the sum of our entries' sizes (§4.1: name + value + 32); an entry whose name is
//! unknown (a literal naming an unknown entry) counts only its value, so `size` is a lower
//! bound of the real size of L. Eviction removes the oldest entries first, and unknown entries
//! are older than all of ours, so:
//! - inserting an entry of size `s` larger than the maximum empties the real table (§4.4):
//!   then L is empty and exactly known;
//! - if `size + s` exceeds the maximum, the encoder evicts every unknown entry before any of
//!   ours (even with none left it must evict), then ours oldest first: we evict ours down to
//!   the same bound (with a lower-bound size, never more than the encoder) and know that no
//!   unknown entry is left;
//! - a size update below `size` likewise leaves no unknown entry;
//! - every entry takes at least 32 bytes, so once `size + 32` exceeds the maximum there is
//!   no room for any unknown entry either.
//!
//! These are the only ways `unknown_tail` becomes false again; after that an index past L is
//! a compression error, as it is for a decoder that saw the whole connection.
//!
//! # Memory
//!
//! We hold at most `cap` bytes of entries (by the same §4.1 measure), however large the
//! maximum the peer allows. Dropping an entry the real table may still hold makes the tail
//! unknown again (references to it report unknown); each drop is counted.

use std::collections::VecDeque;

/// The overhead §4.1 adds to every entry's name and value lengths.
pub const ENTRY_OVERHEAD: usize = 32;

/// One entry we hold: `bytes` is the name then the value.
#[derive(Debug)]
struct Entry {
    bytes: Vec<u8>,
    /// The name's length in `bytes`; `None` when the name came from an unknown entry (then
    /// `bytes` is the value alone).
    name_len: Option<usize>,
}

impl Entry {
    /// Our measure of its size: exact when the name is known, a lower bound otherwise.
    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// What a dynamic index refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// An entry we hold in full.
    Known { name: &'a [u8], value: &'a [u8] },
    /// An entry we hold whose name we never saw.
    UnknownName { value: &'a [u8] },
    /// An entry from before we started watching, or one we dropped over our memory cap.
    Unknown,
    /// Past the end of the real table: a compression error.
    Invalid,
}

/// The name of an entry being inserted.
#[derive(Debug, Clone, Copy)]
pub enum NewName<'a> {
    Known(&'a [u8]),
    /// From an unknown entry: its length, hence the entry's size, is unknown.
    Unknown,
    /// A literal name too long for us to hold, of this length.
    NotHeld(usize),
}

/// What the table did that a caller counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableEvents {
    /// Entries dropped to stay under our memory cap (not evicted by the encoder).
    pub dropped_over_cap: u32,
}

#[derive(Debug)]
pub struct Table {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: Option<usize>,
    unknown_tail: bool,
    cap: usize,
    /// The buffer of the last evicted entry, reused for the next insertion.
    spare: Vec<u8>,
}

impl Table {
    /// The table of a connection seen from its start: empty, maximum size 4096.
    pub fn new(cap: usize) -> Table {
        Table {
            entries: VecDeque::new(),
            size: 0,
            max_size: Some(4096),
            unknown_tail: false,
            cap,
            spare: Vec::new(),
        }
    }

    /// The table of a connection whose start we missed: nothing known, not even its maximum.
    pub fn mid_stream(cap: usize) -> Table {
        Table {
            max_size: None,
            unknown_tail: true,
            ..Table::new(cap)
        }
    }

    /// Whether every entry of the real table may be one we hold (no unknown entries).
    pub fn is_known(&self) -> bool {
        !self.unknown_tail
    }

    /// The encoder's maximum table size, when known.
    pub fn max_size(&self) -> Option<usize> {
        self.max_size
    }

    /// The size of what we hold (§4.1 measure): never more than the cap.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many entries we hold (tests read the table back through it).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at dynamic index `d` (1 is the newest, i.e. HPACK index 62).
    pub fn get(&self, d: usize) -> Lookup<'_> {
        match d.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(e) => match e.name_len {
                Some(n) => {
                    let (name, value) = e.bytes.split_at(n.min(e.bytes.len()));
                    Lookup::Known { name, value }
                }
                None => Lookup::UnknownName { value: &e.bytes },
            },
            None if self.unknown_tail && d > 0 => Lookup::Unknown,
            None => Lookup::Invalid,
        }
    }

    /// Inserts a field (§4.4). `value` is `None` when we do not hold it (too long to keep);
    /// then `value_len` still gives its size. Returns what to count.
    pub fn insert(
        &mut self,
        name: NewName<'_>,
        value: Option<&[u8]>,
        value_len: usize,
    ) -> TableEvents {
        let mut ev = TableEvents::default();
        let (name_len, measured) = match name {
            NewName::Known(n) => (Some(n.len()), n.len()),
            NewName::NotHeld(len) => (None, len),
            NewName::Unknown => (None, 0),
        };
        // Our measure of the new entry (a lower bound if the name is unknown).
        let s = measured
            .saturating_add(value_len)
            .saturating_add(ENTRY_OVERHEAD);
        if let Some(max) = self.max_size {
            if s > max {
                // §4.4: "an attempt to add an entry larger than the maximum size causes the
                // table to be emptied of all existing entries and results in an empty table".
                // With an unknown name, `s` is a lower bound, so the real entry is larger too.
                self.clear();
                self.unknown_tail = false;
                return ev;
            }
            if self.size.saturating_add(s) > max {
                // The encoder must evict; unknown entries, the oldest, all go first.
                self.evict_to(max - s);
                self.unknown_tail = false;
            } else if self.size.saturating_add(s).saturating_add(ENTRY_OVERHEAD) > max {
                // After this insertion no entry, known or not, fits beside ours.
                self.unknown_tail = false;
            }
        }
        let storable = !matches!(name, NewName::NotHeld(_)) && s <= self.cap;
        let (Some(value), true) = (value, storable) else {
            // The real table holds an entry we cannot: it is the newest, so every dynamic
            // index becomes unknown to us.
            ev.dropped_over_cap += self.entries.len() as u32 + 1;
            self.clear();
            self.unknown_tail = true;
            return ev;
        };
        while self.size.saturating_add(s) > self.cap {
            if !self.pop_oldest() {
                break;
            }
            ev.dropped_over_cap += 1;
            self.unknown_tail = true;
        }
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.clear();
        if let NewName::Known(n) = name {
            bytes.extend_from_slice(n);
        }
        bytes.extend_from_slice(value);
        self.size += s;
        self.entries.push_front(Entry { bytes, name_len });
        ev
    }

    /// A dynamic table size update (§6.3) to `max`, already checked against what the peer
    /// allows.
    pub fn set_max_size(&mut self, max: usize) {
        self.max_size = Some(max);
        if self.size > max {
            self.evict_to(max);
            self.unknown_tail = false;
        } else if self.size.saturating_add(ENTRY_OVERHEAD) > max {
            self.unknown_tail = false;
        }
    }

    fn evict_to(&mut self, bound: usize) {
        while self.size > bound {
            if !self.pop_oldest() {
                break;
            }
        }
    }

    fn pop_oldest(&mut self) -> bool {
        let Some(e) = self.entries.pop_back() else {
            return false;
        };
        self.size = self.size.saturating_sub(e.size());
        // Keep one buffer for the next insertion, unless it is unusually large.
        if e.bytes.capacity() <= 4096 && e.bytes.capacity() > self.spare.capacity() {
            self.spare = e.bytes;
        }
        true
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(t: &mut Table, name: &str, value: &str) -> TableEvents {
        t.insert(
            NewName::Known(name.as_bytes()),
            Some(value.as_bytes()),
            value.len(),
        )
    }

    fn names(t: &Table) -> Vec<String> {
        (1..=t.len())
            .map(|d| match t.get(d) {
                Lookup::Known { name, .. } => String::from_utf8_lossy(name).into_owned(),
                Lookup::UnknownName { .. } => "?".into(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn eviction_removes_the_oldest_first() {
        let mut t = Table::new(1 << 16);
        t.set_max_size(3 * 40);
        ins(&mut t, "aaaa", "aaaa"); // 40 bytes each
        ins(&mut t, "bbbb", "bbbb");
        ins(&mut t, "cccc", "cccc");
        assert_eq!(names(&t), ["cccc", "bbbb", "aaaa"]);
        ins(&mut t, "dddd", "dddd");
        assert_eq!(names(&t), ["dddd", "cccc", "bbbb"]);
        assert_eq!(t.size(), 120);
        assert_eq!(t.get(4), Lookup::Invalid);
        // An entry larger than the table empties it.
        ins(&mut t, "x", &"y".repeat(200));
        assert_eq!(t.len(), 0);
        assert_eq!(t.size(), 0);
        // A size update evicts down to the new size.
        t.set_max_size(4096);
        ins(&mut t, "aaaa", "aaaa");
        ins(&mut t, "bbbb", "bbbb");
        t.set_max_size(50);
        assert_eq!(names(&t), ["bbbb"]);
        t.set_max_size(0);
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(0), Lookup::Invalid);
    }

    #[test]
    fn mid_stream_tail_is_unknown_until_proven_gone() {
        let mut t = Table::mid_stream(1 << 16);
        assert!(!t.is_known());
        assert_eq!(t.get(1), Lookup::Unknown);
        ins(&mut t, "aaaa", "aaaa");
        assert!(matches!(t.get(1), Lookup::Known { .. }));
        assert_eq!(t.get(2), Lookup::Unknown);
        // Without a known maximum, no insertion proves anything.
        for _ in 0..50 {
            ins(&mut t, "bbbb", "bbbb");
        }
        assert!(!t.is_known());
        // A size update to 4096 leaves room for unknown entries beside ours (51 × 40 = 2040).
        t.set_max_size(4096);
        assert!(!t.is_known());
        // Filling past the maximum proves every unknown entry evicted.
        for _ in 0..52 {
            ins(&mut t, "cccc", "cccc");
        }
        assert!(t.is_known());
        assert_eq!(t.size(), 4080);
        assert_eq!(t.get(103), Lookup::Invalid);
    }

    #[test]
    fn size_update_below_what_we_hold_proves_the_tail_gone() {
        let mut t = Table::mid_stream(1 << 16);
        ins(&mut t, "aaaa", "aaaa");
        ins(&mut t, "bbbb", "bbbb");
        t.set_max_size(60);
        assert!(t.is_known());
        assert_eq!(names(&t), ["bbbb"]);
        // No room for any entry beside ours: 80 held, 80 + 32 > 100.
        let mut t = Table::mid_stream(1 << 16);
        ins(&mut t, "aaaa", "aaaa");
        ins(&mut t, "bbbb", "bbbb");
        t.set_max_size(100);
        assert!(t.is_known());
        assert_eq!(t.len(), 2);
        let mut t = Table::mid_stream(1 << 16);
        ins(&mut t, "aaaa", "aaaa");
        t.set_max_size(200);
        assert!(!t.is_known());
        ins(&mut t, "v", &"v".repeat(67)); // 100 bytes: 140 + 32 still fit in 200
        assert!(!t.is_known());
        // This insertion leaves no room for another entry: 180 + 32 > 200.
        ins(&mut t, "bbbb", "bbbb");
        assert!(t.is_known());
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn unknown_names_count_as_a_lower_bound() {
        let mut t = Table::mid_stream(1 << 16);
        t.insert(NewName::Unknown, Some(b"value"), 5);
        assert_eq!(t.get(1), Lookup::UnknownName { value: b"value" });
        assert_eq!(t.size(), 37);
        t.set_max_size(4096);
        assert!(!t.is_known());
    }

    #[test]
    fn the_memory_cap_drops_oldest_and_makes_the_tail_unknown() {
        let mut t = Table::new(100);
        t.set_max_size(1 << 20);
        assert!(t.is_known());
        ins(&mut t, "aaaa", "aaaa");
        ins(&mut t, "bbbb", "bbbb");
        assert!(t.is_known());
        let ev = ins(&mut t, "cccc", "cccc");
        assert_eq!(ev.dropped_over_cap, 1);
        assert!(!t.is_known());
        assert_eq!(names(&t), ["cccc", "bbbb"]);
        assert_eq!(t.get(3), Lookup::Unknown);
        // An entry larger than the cap but within the maximum: nothing is known any more.
        let ev = ins(&mut t, "x", &"y".repeat(100));
        assert_eq!(ev.dropped_over_cap, 3);
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(1), Lookup::Unknown);
        let ev = t.insert(NewName::Known(b"x"), None, 1000);
        assert_eq!(ev.dropped_over_cap, 1);
        assert!(t.size() <= 100);
    }
}
