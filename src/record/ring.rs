//! The flight recorder's memory: the last packets, bounded both by time (the newest packet's
//! time minus a span) and by bytes, whichever is smaller. The byte count includes a fixed
//! per-packet overhead, so a flood of tiny packets is bounded as surely as a few large ones.
//! Pure: time is the packets' own.

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Timestamp;

/// One captured packet, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub ts: Timestamp,
    /// Length on the wire (the capture may have kept less).
    pub wire_len: u32,
    pub data: Box<[u8]>,
}

impl Packet {
    pub fn new(ts: Timestamp, wire_len: u32, data: &[u8]) -> Self {
        Packet {
            ts,
            wire_len,
            data: data.into(),
        }
    }

    /// What the packet costs in memory, as the ring and the writer's queue count it.
    pub fn cost(&self) -> usize {
        self.data.len() + PACKET_OVERHEAD
    }
}

/// Memory a packet costs besides its bytes: the struct, the allocator's header, the deque slot.
pub const PACKET_OVERHEAD: usize = 64;

/// The last packets, bounded by time and bytes.
#[derive(Debug)]
pub struct Ring {
    packets: VecDeque<Packet>,
    bytes: usize,
    max_bytes: usize,
    span: Duration,
    /// Packets pushed out by either bound: the run-up they belonged to is older than kept.
    evicted: u64,
}

impl Ring {
    pub fn new(max_bytes: usize, span: Duration) -> Self {
        Ring {
            packets: VecDeque::new(),
            bytes: 0,
            max_bytes,
            span,
            evicted: 0,
        }
    }

    /// Keeps `p`, dropping the oldest packets until both bounds hold. A packet larger than
    /// the whole budget is not kept.
    pub fn push(&mut self, p: Packet) {
        let oldest_kept = p.ts.minus(self.span);
        self.bytes += p.cost();
        self.packets.push_back(p);
        while let Some(front) = self.packets.front() {
            if self.bytes <= self.max_bytes && front.ts >= oldest_kept {
                break;
            }
            self.bytes -= front.cost();
            self.packets.pop_front();
            self.evicted += 1;
        }
    }

    /// Everything held, oldest first; the ring is left empty.
    pub fn take(&mut self) -> VecDeque<Packet> {
        self.bytes = 0;
        std::mem::take(&mut self.packets)
    }

    /// Memory held, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(us: u64, len: usize) -> Packet {
        Packet::new(Timestamp::from_micros(us), len as u32, &vec![0u8; len])
    }

    #[test]
    fn keeps_the_last_span_of_time() {
        let mut r = Ring::new(usize::MAX, Duration::from_secs(60));
        for s in 0..=100u64 {
            r.push(p(s * 1_000_000, 10));
        }
        // 40 s ..= 100 s: the packet exactly one span old stays.
        assert_eq!(r.len(), 61);
        let got = r.take();
        assert_eq!(got.front().unwrap().ts, Timestamp::from_secs(40));
        assert!(r.is_empty() && r.bytes() == 0);
    }

    #[test]
    fn keeps_the_byte_budget_and_refuses_a_packet_larger_than_it() {
        let mut r = Ring::new(10 * (100 + PACKET_OVERHEAD), Duration::from_secs(60));
        for i in 0..25 {
            r.push(p(i, 100));
        }
        assert_eq!((r.len(), r.evicted()), (10, 15));
        r.push(p(30, 100_000));
        assert_eq!((r.len(), r.bytes()), (0, 0));
    }

    proptest! {
        // The obvious version: keep everything, then filter by time and trim from the front.
        #[test]
        fn matches_keeping_everything_then_trimming(
            steps in proptest::collection::vec((0u64..3_000_000, 0usize..3000), 1..200),
            budget in 0usize..40_000,
        ) {
            let span = Duration::from_secs(2);
            let mut r = Ring::new(budget, span);
            let mut all = Vec::new();
            let mut t = 0;
            for (gap, len) in steps {
                t += gap;
                let pk = p(t, len);
                all.push(pk.clone());
                r.push(pk);
                prop_assert!(r.bytes() <= budget);
            }
            // Naive: the longest suffix within both bounds.
            let newest = all.last().unwrap().ts;
            let mut want = Vec::new();
            let mut bytes = 0;
            for pk in all.iter().rev() {
                if pk.ts < newest.minus(span) || bytes + pk.cost() > budget {
                    break;
                }
                bytes += pk.cost();
                want.push(pk.clone());
            }
            want.reverse();
            prop_assert_eq!(Vec::from(r.take()), want);
        }
    }
}
