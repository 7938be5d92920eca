//! A fixed-size log-scale latency histogram: 4 buckets per power of two of microseconds, so a
//! percentile is within about 19% of the truth, in 512 bytes whatever the traffic, allocated
//! with the first latency: the tables hold one per section or route, most of which (in a flood
//! of one-off paths, or with a log that has no timing field) never see one.

use std::time::Duration;

const BUCKETS: usize = 128;

/// Counts of latencies in log-spaced buckets.
#[derive(Clone, Default)]
pub struct LatencyHistogram {
    /// `None` until the first latency (all zero).
    counts: Option<Box<[u32; BUCKETS]>>,
    total: u64,
}

impl PartialEq for LatencyHistogram {
    /// Equal counts, allocated or not.
    fn eq(&self, other: &Self) -> bool {
        let n = |h: &Self, i: usize| h.slots().get(i).copied().unwrap_or(0);
        self.total == other.total && (0..BUCKETS).all(|i| n(self, i) == n(other, i))
    }
}

impl Eq for LatencyHistogram {}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencyHistogram(n={})", self.total)
    }
}

/// The bucket a latency falls in.
pub fn bucket_of(latency: Duration) -> u8 {
    let us = u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let log2 = 63 - us.leading_zeros() as u64; // floor(log2)
    // Two bits below the leading one pick the quarter-octave.
    let frac = if log2 >= 2 {
        (us >> (log2 - 2)) & 3
    } else {
        (us << (2 - log2)) & 3
    };
    (log2 * 4 + frac).min(BUCKETS as u64 - 1) as u8
}

/// A representative latency for a bucket (its lower edge).
pub fn value_of(bucket: u8) -> Duration {
    let b = u64::from(bucket);
    let log2 = b / 4;
    let frac = b % 4;
    let us = if log2 >= 2 {
        (4 + frac) << (log2 - 2)
    } else {
        (4 + frac) >> (2 - log2)
    };
    Duration::from_micros(us)
}

impl LatencyHistogram {
    /// The counts by bucket; empty before the first latency.
    fn slots(&self) -> &[u32] {
        self.counts.as_deref().map_or(&[], |c| &c[..])
    }

    pub fn add_bucket(&mut self, bucket: u8, n: u32) {
        if n == 0 {
            return;
        }
        let counts = self.counts.get_or_insert_with(|| Box::new([0; BUCKETS]));
        let slot = &mut counts[usize::from(bucket).min(BUCKETS - 1)];
        *slot = slot.saturating_add(n);
        self.total += u64::from(n);
    }

    pub fn remove_bucket(&mut self, bucket: u8, n: u32) {
        let Some(counts) = self.counts.as_mut() else {
            return;
        };
        let slot = &mut counts[usize::from(bucket).min(BUCKETS - 1)];
        let n = n.min(*slot);
        *slot -= n;
        self.total -= u64::from(n);
    }

    pub fn record(&mut self, latency: Duration) {
        self.add_bucket(bucket_of(latency), 1);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (i, n) in other.slots().iter().enumerate() {
            if *n > 0 {
                self.add_bucket(i as u8, *n);
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// Bytes each histogram holds on the heap (its counts are boxed so that a section's
    /// aggregate stays small to move).
    pub(crate) const HEAP_BYTES: usize = std::mem::size_of::<[u32; BUCKETS]>();

    /// The latency at quantile `q` (0..=1), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, n) in self.slots().iter().enumerate() {
            seen += u64::from(*n);
            if seen >= rank {
                return Some(value_of(i as u8));
            }
        }
        None
    }

    /// Cumulative counts at each upper bound (seconds), as a Prometheus histogram wants them;
    /// a bucket counts below a bound when its lower edge is (so within one bucket's width).
    pub fn cumulative(&self, bounds: &[f64]) -> Vec<(f64, u64)> {
        bounds
            .iter()
            .map(|b| {
                let n = self
                    .slots()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| value_of(*i as u8).as_secs_f64() < *b)
                    .map(|(_, n)| u64::from(*n))
                    .sum();
                (*b, n)
            })
            .collect()
    }

    /// The sum of all latencies, each taken at its bucket's lower edge.
    pub fn approx_sum(&self) -> std::time::Duration {
        self.slots()
            .iter()
            .enumerate()
            .map(|(i, n)| value_of(i as u8) * *n)
            .sum()
    }

    /// p50, p90, p99 at once.
    pub fn percentiles(&self) -> Option<Percentiles> {
        Some(Percentiles {
            p50: self.quantile(0.50)?,
            p90: self.quantile(0.90)?,
            p99: self.quantile(0.99)?,
        })
    }
}

/// Latency percentiles of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_close() {
        let mut last = 0;
        for us in [
            1u64, 2, 3, 5, 8, 100, 1_000, 1_500, 10_000, 123_456, 5_000_000,
        ] {
            let b = bucket_of(Duration::from_micros(us));
            assert!(b >= last);
            last = b;
            let v = value_of(b).as_micros() as f64;
            assert!(v <= us as f64 && v >= us as f64 * 0.79, "{us} -> {v}");
        }
    }

    #[test]
    fn quantiles_against_sorted_samples() {
        let mut h = LatencyHistogram::default();
        let samples: Vec<u64> = (1..=1000).map(|i| i * 37 % 5000 + 100).collect();
        for s in &samples {
            h.record(Duration::from_micros(*s));
        }
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        for q in [0.5, 0.9, 0.99] {
            let truth = sorted[((q * 1000.0) as usize).saturating_sub(1)] as f64;
            let got = h.quantile(q).unwrap().as_micros() as f64;
            assert!(
                got <= truth * 1.01 && got >= truth * 0.79,
                "q{q}: {got} vs {truth}"
            );
        }
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
    }
}
