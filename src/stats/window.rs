//! Per-second counts in a ring, so memory does not grow with traffic or time.
//!
//! Second `b` holds events with time in `(b-1, b]` (microseconds rounded *up* to a second), so a
//! window "the last W seconds at T" is exactly `(T-W, T]`: a hit 120 s before T is out, one
//! 119.999 s before T is in.

use crate::time::Timestamp;

/// The second bucket of a timestamp: `ceil(t)` in whole seconds.
pub fn second_of(ts: Timestamp) -> u64 {
    ts.micros().div_ceil(1_000_000)
}

/// Counts per second for the last `capacity` seconds.
#[derive(Debug, Clone)]
pub struct SecondCounts {
    counts: Vec<u64>,
    seconds: Vec<u64>,
    newest: u64,
}

impl SecondCounts {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SecondCounts {
            counts: vec![0; capacity],
            seconds: vec![u64::MAX; capacity],
            newest: 0,
        }
    }

    pub fn capacity(&self) -> u64 {
        self.counts.len() as u64
    }

    /// Adds `n` to second `sec`. A second that has already left the ring (older than the newest
    /// second written minus the capacity) is ignored, and `false` returned.
    pub fn add(&mut self, sec: u64, n: u64) -> bool {
        if sec + self.capacity() <= self.newest {
            return false;
        }
        self.newest = self.newest.max(sec);
        let slot = (sec % self.capacity()) as usize;
        match self.seconds[slot] {
            s if s == sec => self.counts[slot] += n,
            s if s == u64::MAX || s < sec => {
                self.seconds[slot] = sec;
                self.counts[slot] = n;
            }
            _ => return false,
        }
        true
    }

    /// The count of second `sec` (0 if it is not in the ring).
    pub fn get(&self, sec: u64) -> u64 {
        let slot = (sec % self.capacity()) as usize;
        if self.seconds[slot] == sec {
            self.counts[slot]
        } else {
            0
        }
    }

    /// The sum over seconds `(end-len, end]`.
    pub fn sum(&self, end: u64, len: u64) -> u64 {
        let len = len.min(self.capacity()).min(end + 1);
        (0..len).map(|i| self.get(end - i)).sum()
    }

    /// Seconds `(end-len, end]`, oldest first.
    pub fn series(&self, end: u64, len: u64) -> Vec<u64> {
        let len = len.min(self.capacity()).min(end + 1);
        (0..len).rev().map(|i| self.get(end - i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_round_up() {
        assert_eq!(second_of(Timestamp(1_000_000)), 1);
        assert_eq!(second_of(Timestamp(1_000_001)), 2);
        assert_eq!(second_of(Timestamp(0)), 0);
    }

    #[test]
    fn old_seconds_fall_out() {
        let mut c = SecondCounts::new(3);
        c.add(10, 1);
        c.add(11, 2);
        c.add(13, 4);
        assert_eq!(c.get(10), 0, "overwritten by 13");
        assert_eq!(c.sum(13, 3), 6);
        assert!(!c.add(9, 1), "too old");
        assert_eq!(c.series(13, 3), vec![2, 0, 4]);
    }

    proptest! {
        // The ring against summing a plain list of timestamps.
        #[test]
        fn sums_match_naive(times in proptest::collection::vec(0u64..50_000_000, 0..200),
                            end in 0u64..60, len in 1u64..20) {
            let mut sorted = times.clone();
            sorted.sort_unstable();
            let mut c = SecondCounts::new(30);
            for t in &sorted {
                c.add(second_of(Timestamp(*t)), 1);
            }
            let newest = sorted.last().map(|t| second_of(Timestamp(*t))).unwrap_or(0);
            let end = newest.saturating_sub(end % 5);
            let len = len.min(30 - 5);
            let lo = end.saturating_sub(len) as u128 * 1_000_000;
            let hi = end as u128 * 1_000_000;
            let naive = sorted
                .iter()
                .filter(|t| (**t as u128) > lo && (**t as u128) <= hi || (end < len && **t == 0))
                .count() as u64;
            prop_assert_eq!(c.sum(end, len), naive);
        }
    }
}
