//! One direction of a TCP connection turned back into a byte stream.
//!
//! [`Reassembler`] takes segments in capture order and hands on [`Chunk`]s in sequence order:
//! in-order payload is passed straight through (zero-copy), retransmitted and duplicated bytes
//! are dropped (RFC 9293 §3.10.7.4 trims what was already received, so the first copy
//! delivered wins; among held segments the first copy captured wins), and segments that arrive ahead of a hole are held, up to a byte and segment cap,
//! until the hole fills. A hole that cannot fill (the ooo cap is full, the receiver ACKed past
//! it, FIN/RST, or a flush at expiry or end of capture) is skipped and reported as
//! [`Chunk::Gap`], so the HTTP layer can resynchronise instead of stalling. Nothing here knows
//! about HTTP or about which side is the client; that is `http_stream`.
//!
//! A segment the capture cut short (snap length) still covers its whole wire length: its
//! captured bytes are handed on as `Data` and the bytes the capture did not keep as a `Gap` of
//! known size right after them, so the next segment is in order, nothing waits for bytes that
//! will never be captured, and the FIN still lands where the sender put it.
//!
//! Sequence numbers are compared with 32-bit wrapping arithmetic relative to the next expected
//! sequence number (RFC 9293 §3.4, "sequence numbers … modulo 2**32"), so an ISN near
//! `u32::MAX` wraps without ceremony.

use std::collections::VecDeque;

use crate::time::Timestamp;

/// Held out-of-order segments per direction beyond this count also overflow, so a flood of
/// one-byte segments cannot make insertion quadratic.
const MAX_HELD_SEGMENTS: usize = 256;

/// What the reassembler hands on, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk<'a> {
    /// Bytes that follow the previous chunk directly, with the time of the packet that
    /// carried them.
    Data(&'a [u8], Timestamp),
    /// This many bytes were never seen and have been skipped.
    Gap(u32),
    /// The stream ended (FIN reached, RST, or flushed). Nothing follows.
    End,
}

/// What one segment of this direction carries, in sequence space.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment<'a> {
    /// Sequence number of the first payload byte (after the SYN, if the segment carries one).
    pub seq: u32,
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload bytes that followed `payload` on the wire but were not captured.
    pub missing: u32,
    pub fin: bool,
}

/// A held piece: `data`, then `missing` bytes the capture did not keep (a piece may be only
/// missing bytes).
#[derive(Debug)]
struct Held {
    seq: u32,
    ts: Timestamp,
    data: Vec<u8>,
    missing: u32,
}

impl Held {
    /// Sequence numbers the piece covers.
    fn len(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.missing)
    }
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub(super) struct Reassembler {
    /// Next expected sequence number; `None` until a SYN or the first data segment.
    next: Option<u32>,
    /// The ISN, when the SYN was seen.
    isn: Option<u32>,
    /// Sequence number of the FIN, when seen.
    fin_at: Option<u32>,
    ended: bool,
    /// Highest ACK the other direction sent: the receiver has every byte before it.
    peer_ack: Option<u32>,
    /// Out-of-order segments, sorted by sequence, non-overlapping, all after `next`.
    held: VecDeque<Held>,
    held_bytes: usize,
}

/// `seq - base` as a signed distance (RFC 9293 §3.4 comparisons).
fn rel(seq: u32, base: u32) -> i32 {
    seq.wrapping_sub(base) as i32
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Reassembler {
    /// The ISN of this direction's SYN, if one was seen.
    pub(super) fn isn(&self) -> Option<u32> {
        self.isn
    }

    /// Next expected sequence number, once known.
    pub(super) fn next_seq(&self) -> Option<u32> {
        self.next
    }

    pub(super) fn is_ended(&self) -> bool {
        self.ended
    }

    /// Bytes held out of order.
    #[cfg(test)]
    pub(super) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A SYN: the stream starts after the ISN (the SYN occupies one sequence number).
    /// A retransmitted SYN changes nothing.
    pub(super) fn syn(&mut self, isn: u32) {
        if self.isn.is_none() {
            self.isn = Some(isn);
            if self.next.is_none() {
                self.next = Some(isn.wrapping_add(1));
            }
        }
    }

    /// A segment of this direction. Returns how many times the out-of-order cap overflowed.
    pub(super) fn segment(
        &mut self,
        seg: Segment<'_>,
        ts: Timestamp,
        max_ooo: usize,
        out: &mut impl FnMut(Chunk<'_>),
    ) -> u64 {
        if self.ended {
            return 0;
        }
        let Segment {
            seq,
            payload,
            missing,
            fin,
        } = seg;
        // No SYN seen: the stream starts at the first segment we see (capture began
        // mid-connection).
        let next = *self.next.get_or_insert(seq);
        let mut overflows = 0;
        let wire_len = len32(payload.len()).saturating_add(missing);
        if wire_len > 0 {
            if rel(seq, next) > 0 && self.peer_ack.is_some_and(|a| rel(a, next) > 0) {
                // The receiver already acknowledged bytes we never saw: they are lost to us.
                self.skip_acked_holes(out);
                let next = self.next.unwrap_or(seq);
                if rel(seq, next) > 0 && self.peer_ack.is_some_and(|a| rel(a, next) > 0) {
                    self.skip_to(seq, out);
                }
            }
            overflows = self.data(seq, payload, missing, ts, max_ooo, out);
        }
        if fin && self.fin_at.is_none() {
            self.fin_at = Some(seq.wrapping_add(wire_len));
        }
        self.check_fin(out);
        overflows
    }

    /// The other direction acknowledged `ack`: every byte before it reached the receiver, so
    /// a hole before it will never be filled by a retransmission we could see.
    pub(super) fn peer_acked(&mut self, ack: u32, out: &mut impl FnMut(Chunk<'_>)) {
        if self.peer_ack.is_none_or(|a| rel(ack, a) > 0) {
            self.peer_ack = Some(ack);
        }
        if self.ended || self.next.is_none() {
            return;
        }
        self.skip_acked_holes(out);
        self.check_fin(out);
    }

    /// The connection is over (RST, expiry, eviction, end of capture): hand on everything
    /// held, skipping holes, then end the stream.
    pub(super) fn flush(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        if self.ended {
            return;
        }
        while !self.held.is_empty() {
            self.skip_gap(out);
        }
        self.ended = true;
        out(Chunk::End);
    }

    fn skip_acked_holes(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while let (Some(next), Some(ack)) = (self.next, self.peer_ack) {
            if self.held.is_empty() || rel(ack, next) <= 0 {
                break;
            }
            self.skip_gap(out);
        }
    }

    fn data(
        &mut self,
        seq: u32,
        payload: &[u8],
        missing: u32,
        ts: Timestamp,
        max_ooo: usize,
        out: &mut impl FnMut(Chunk<'_>),
    ) -> u64 {
        let mut overflows = 0;
        loop {
            let Some(next) = self.next else {
                return overflows;
            };
            let r = rel(seq, next);
            if r <= 0 {
                // In order, or a retransmission overlapping what was delivered: deliver only
                // the new bytes.
                // Usually nothing is held: skip the call (this runs for every segment).
                if self.deliver(next, seq, payload, missing, ts, out) && !self.held.is_empty() {
                    self.drain(out);
                }
                return overflows;
            }
            if self.hold(seq, payload, missing, ts, max_ooo) {
                return overflows;
            }
            // Over the cap: count it once, give up on the oldest hole and try again.
            if overflows == 0 {
                overflows = 1;
            }
            if self.held.is_empty() {
                self.skip_to(seq, out);
            } else {
                self.skip_gap(out);
            }
        }
    }

    /// Hands on what `[seq, seq + payload.len() + missing)` has after `next` (`seq` is not
    /// after `next`): the new captured bytes as data, then the new part of the missing tail as
    /// a gap. Returns whether anything was handed on.
    fn deliver(
        &mut self,
        next: u32,
        seq: u32,
        payload: &[u8],
        missing: u32,
        ts: Timestamp,
        out: &mut impl FnMut(Chunk<'_>),
    ) -> bool {
        let mut next = next;
        let skip = usize::try_from(next.wrapping_sub(seq)).unwrap_or(usize::MAX);
        let fresh = payload.get(skip..).filter(|f| !f.is_empty());
        if let Some(fresh) = fresh {
            next = next.wrapping_add(len32(fresh.len()));
            out(Chunk::Data(fresh, ts));
        }
        let end = seq.wrapping_add(len32(payload.len())).wrapping_add(missing);
        let lost = rel(end, next);
        if lost > 0 {
            next = end;
            out(Chunk::Gap(lost.unsigned_abs()));
        }
        self.next = Some(next);
        fresh.is_some() || lost > 0
    }

    /// Holds the parts of a segment ahead of `next` that are not held yet (the first copy
    /// wins). Returns false, holding nothing, if that would exceed a cap. Only captured bytes
    /// count against `max_ooo`; a missing tail is held as a length.
    fn hold(
        &mut self,
        seq: u32,
        payload: &[u8],
        missing: u32,
        ts: Timestamp,
        max_ooo: usize,
    ) -> bool {
        let Some(next) = self.next else { return false };
        let off = |s: u32| u64::from(s.wrapping_sub(next));
        let start = off(seq);
        // Captured bytes end at `data_end`, the segment at `end`.
        let data_end = start + payload.len() as u64;
        let end = data_end + u64::from(missing);
        let held_end = |h: &Held| off(h.seq) + h.len();
        let captured_in = |a: u64, b: u64| b.min(data_end).saturating_sub(a);
        // First pass: what would be new.
        let (mut cur, mut new_len, mut new_bytes, mut pieces) = (start, 0u64, 0u64, 0usize);
        for h in &self.held {
            let (hs, he) = (off(h.seq), held_end(h));
            if he <= cur {
                continue;
            }
            if hs >= end {
                break;
            }
            if hs > cur {
                new_len += hs - cur;
                new_bytes += captured_in(cur, hs);
                pieces += 1;
            }
            cur = cur.max(he);
        }
        if cur < end {
            new_len += end - cur;
            new_bytes += captured_in(cur, end);
            pieces += 1;
        }
        if new_len == 0 {
            return true;
        }
        let new_bytes = usize::try_from(new_bytes).unwrap_or(usize::MAX);
        if self.held_bytes.saturating_add(new_bytes) > max_ooo
            || self.held.len() + pieces > MAX_HELD_SEGMENTS
        {
            return false;
        }
        // Second pass: insert the uncovered pieces in order.
        let (mut cur, mut i) = (start, 0usize);
        while cur < end {
            while self.held.get(i).is_some_and(|h| held_end(h) <= cur) {
                i += 1;
            }
            if let Some(h) = self.held.get(i).filter(|h| off(h.seq) <= cur) {
                cur = held_end(h);
                i += 1;
                continue;
            }
            let stop = self.held.get(i).map_or(end, |h| off(h.seq).min(end));
            // The piece's captured bytes, then the part of the missing tail it covers.
            let data_stop = stop.min(data_end).max(cur);
            let bytes = if cur < data_end {
                let (a, b) = (
                    usize::try_from(cur - start).unwrap_or(usize::MAX),
                    usize::try_from(data_stop - start).unwrap_or(usize::MAX),
                );
                let Some(bytes) = payload.get(a..b) else {
                    break;
                };
                bytes
            } else {
                &[]
            };
            let piece_missing = u32::try_from(stop - data_stop).unwrap_or(u32::MAX);
            let piece_seq = seq.wrapping_add(u32::try_from(cur - start).unwrap_or(u32::MAX));
            self.held.insert(
                i,
                Held {
                    seq: piece_seq,
                    ts,
                    data: bytes.to_vec(),
                    missing: piece_missing,
                },
            );
            self.held_bytes += bytes.len();
            i += 1;
            cur = stop;
        }
        true
    }

    /// Hands on held segments that now follow `next`.
    fn drain(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while let (Some(next), Some(first)) = (self.next, self.held.front()) {
            let r = rel(first.seq, next);
            if r > 0 {
                break;
            }
            let Some(h) = self.held.pop_front() else {
                break;
            };
            self.held_bytes = self.held_bytes.saturating_sub(h.data.len());
            self.deliver(next, h.seq, &h.data, h.missing, h.ts, out);
        }
    }

    /// Skips the hole before the first held segment and hands on what follows it.
    fn skip_gap(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        if let Some(seq) = self.held.front().map(|h| h.seq) {
            self.skip_to(seq, out);
            self.drain(out);
        }
    }

    /// Declares the bytes from `next` up to `seq` lost.
    fn skip_to(&mut self, seq: u32, out: &mut impl FnMut(Chunk<'_>)) {
        if let Some(next) = self.next {
            let r = rel(seq, next);
            if r > 0 {
                self.next = Some(seq);
                out(Chunk::Gap(r.unsigned_abs()));
            }
        }
    }

    /// Ends the stream once the FIN's sequence number is reached. A FIN with a hole before
    /// it skips the hole: the sender has nothing more to send, so waiting only stalls.
    fn check_fin(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        let (Some(at), Some(next)) = (self.fin_at, self.next) else {
            return;
        };
        if self.ended {
            return;
        }
        if rel(at, next) > 0 {
            while self.held.front().is_some_and(|h| rel(at, h.seq) > 0) {
                self.skip_gap(out);
            }
            self.skip_to(at, out);
        }
        self.held.clear();
        self.held_bytes = 0;
        self.ended = true;
        out(Chunk::End);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk, owned, to check the order chunks came in.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Data(Vec<u8>),
        Gap(u32),
        End,
    }

    #[derive(Debug, Default)]
    struct Got {
        bytes: Vec<u8>,
        gaps: Vec<u32>,
        ended: bool,
        order: Vec<Ev>,
    }

    impl Got {
        fn take(&mut self) -> impl FnMut(Chunk<'_>) + '_ {
            |c| match c {
                Chunk::Data(d, _) => {
                    self.bytes.extend_from_slice(d);
                    self.order.push(Ev::Data(d.to_vec()));
                }
                Chunk::Gap(n) => {
                    self.gaps.push(n);
                    self.order.push(Ev::Gap(n));
                }
                Chunk::End => {
                    self.ended = true;
                    self.order.push(Ev::End);
                }
            }
        }
    }

    fn seg(seq: u32, payload: &[u8], missing: u32, fin: bool) -> Segment<'_> {
        Segment {
            seq,
            payload,
            missing,
            fin,
        }
    }

    fn push(r: &mut Reassembler, g: &mut Got, seq: u32, p: &[u8]) -> u64 {
        cut(r, g, seq, p, 0)
    }

    /// A segment the capture cut: `p` was kept, `missing` bytes after it were not.
    fn cut(r: &mut Reassembler, g: &mut Got, seq: u32, p: &[u8], missing: u32) -> u64 {
        r.segment(
            seg(seq, p, missing, false),
            Timestamp::ZERO,
            1000,
            &mut g.take(),
        )
    }

    fn data(b: &[u8]) -> Ev {
        Ev::Data(b.to_vec())
    }

    #[test]
    fn in_order_retransmitted_and_reordered() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        push(&mut r, &mut g, 100, b"abc");
        push(&mut r, &mut g, 100, b"abc");
        push(&mut r, &mut g, 106, b"ghi");
        push(&mut r, &mut g, 101, b"bcdef");
        assert_eq!(g.bytes, b"abcdefghi");
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn overlap_first_delivered_wins() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(0);
        // Among held segments the first copy wins; in-order bytes are delivered at once and
        // win over held ones they cover.
        push(&mut r, &mut g, 4, b"DEF");
        push(&mut r, &mut g, 3, b"xyzwv");
        push(&mut r, &mut g, 1, b"abc");
        push(&mut r, &mut g, 1, b"ABCDEFGHI");
        assert_eq!(g.bytes, b"abcDEFvHI");
    }

    #[test]
    fn wraps_around_u32() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(u32::MAX - 2);
        push(&mut r, &mut g, 0, b"cd");
        push(&mut r, &mut g, u32::MAX - 1, b"ab");
        assert_eq!(g.bytes, b"abcd");
    }

    #[test]
    fn overflow_skips_the_hole() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(0);
        push(&mut r, &mut g, 11, &[b'x'; 600]);
        let o = push(&mut r, &mut g, 611, &[b'y'; 600]);
        assert_eq!(o, 1);
        assert_eq!(g.gaps, vec![10]);
        assert_eq!(g.bytes.len(), 1200);
    }

    #[test]
    fn ack_past_hole_and_fin() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(0);
        push(&mut r, &mut g, 5, b"late");
        r.peer_acked(3, &mut g.take());
        assert_eq!(g.gaps, vec![4]);
        assert_eq!(g.bytes, b"late");
        r.segment(seg(20, b"z", 0, true), Timestamp::ZERO, 1000, &mut g.take());
        assert_eq!(g.gaps, vec![4, 11]);
        assert!(g.ended && r.is_ended());
    }

    #[test]
    fn truncated_segments_hand_on_data_then_gap_and_stay_in_order() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        cut(&mut r, &mut g, 100, b"abc", 7);
        assert_eq!(r.next_seq(), Some(110));
        push(&mut r, &mut g, 110, b"klm");
        // Cut right after the TCP header: only a gap.
        cut(&mut r, &mut g, 113, b"", 5);
        push(&mut r, &mut g, 118, b"x");
        assert_eq!(
            g.order,
            [
                data(b"abc"),
                Ev::Gap(7),
                data(b"klm"),
                Ev::Gap(5),
                data(b"x")
            ]
        );
        assert_eq!((r.next_seq(), r.held_bytes()), (Some(119), 0));
    }

    #[test]
    fn retransmitted_truncated_segment_is_handed_on_once() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        cut(&mut r, &mut g, 100, b"abc", 7);
        cut(&mut r, &mut g, 100, b"abc", 7);
        // A retransmission that repacks: 105..118, of which 110..118 is new (and not captured).
        cut(&mut r, &mut g, 105, b"fgh", 10);
        assert_eq!(g.order, [data(b"abc"), Ev::Gap(7), Ev::Gap(8)]);
        assert_eq!(r.next_seq(), Some(118));
        // Entirely old, captured or not.
        cut(&mut r, &mut g, 101, b"", 13);
        assert_eq!(g.order.len(), 3);
    }

    #[test]
    fn held_truncated_segment_becomes_a_gap_when_drained() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        cut(&mut r, &mut g, 110, b"klm", 5);
        assert!(g.order.is_empty());
        // Only captured bytes are held in memory.
        assert_eq!(r.held_bytes(), 3);
        cut(&mut r, &mut g, 100, b"abc", 7);
        assert_eq!(
            g.order,
            [data(b"abc"), Ev::Gap(7), data(b"klm"), Ev::Gap(5)]
        );
        assert_eq!((r.next_seq(), r.held_bytes()), (Some(118), 0));
    }

    #[test]
    fn held_pieces_split_around_missing_tails() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        // 115..118 captured; then 110..122 with only 110..112 captured: held are 110..112
        // (data) + 112..115 (missing), and 118..122 (missing only).
        push(&mut r, &mut g, 115, b"PQR");
        cut(&mut r, &mut g, 110, b"kl", 10);
        assert_eq!(r.held_bytes(), 5);
        // A later copy of what is held adds nothing: the first copy wins.
        push(&mut r, &mut g, 112, b"MNO");
        assert_eq!(r.held_bytes(), 5);
        push(&mut r, &mut g, 100, b"abcdefghij");
        assert_eq!(
            g.order,
            [
                data(b"abcdefghij"),
                data(b"kl"),
                Ev::Gap(3),
                data(b"PQR"),
                Ev::Gap(4)
            ]
        );
        assert_eq!((r.next_seq(), r.held_bytes()), (Some(122), 0));
    }

    #[test]
    fn held_data_after_a_held_missing_tail() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        cut(&mut r, &mut g, 110, b"kl", 6);
        // Overlaps the held missing tail (112..118) and goes past it: only 118..120 is new.
        push(&mut r, &mut g, 114, b"opqrST");
        assert_eq!(r.held_bytes(), 4);
        push(&mut r, &mut g, 100, b"abcdefghij");
        assert_eq!(
            g.order,
            [data(b"abcdefghij"), data(b"kl"), Ev::Gap(6), data(b"ST")]
        );
    }

    #[test]
    fn fin_after_a_truncated_segment_ends_the_stream() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        r.segment(
            seg(100, b"abc", 7, true),
            Timestamp::ZERO,
            1000,
            &mut g.take(),
        );
        assert_eq!(g.order, [data(b"abc"), Ev::Gap(7), Ev::End]);
        assert!(r.is_ended());
        // The FIN of a segment held out of order: its missing tail comes before the end.
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        r.segment(
            seg(105, b"f", 4, true),
            Timestamp::ZERO,
            1000,
            &mut g.take(),
        );
        assert_eq!(g.order, [Ev::Gap(5), data(b"f"), Ev::Gap(4), Ev::End]);
        // Even when nothing of it was captured: the FIN is after the whole segment.
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(99);
        r.segment(seg(105, b"", 4, true), Timestamp::ZERO, 1000, &mut g.take());
        assert_eq!(g.order, [Ev::Gap(5), Ev::Gap(4), Ev::End]);
    }

    #[test]
    fn the_cap_counts_captured_bytes_only() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(0);
        // 600 captured + 5000 missing fits a 1000-byte cap; 600 more captured does not.
        assert_eq!(cut(&mut r, &mut g, 11, &[b'x'; 600], 5000), 0);
        assert_eq!(r.held_bytes(), 600);
        assert_eq!(cut(&mut r, &mut g, 5611, &[b'y'; 600], 0), 1);
        assert_eq!(g.gaps, vec![10, 5000]);
        assert_eq!(g.bytes.len(), 1200);
        assert_eq!(r.next_seq(), Some(6211));
    }

    // Against the obvious answer: the stream position by position, each byte either captured
    // or not. Segments are cut at random points, then duplicated and shuffled.
    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x51a9_1e47),
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        #[test]
        fn cut_segments_in_any_order_give_the_captured_bytes_and_gaps(
            cuts in proptest::collection::vec((1usize..40, 0usize..40), 1..24),
            order in proptest::collection::vec(0usize..1000, 0..48),
            isn in proptest::prelude::any::<u32>(),
        ) {
            // (length, kept) per segment, in stream order.
            let mut segs = Vec::new();
            let mut expect: Vec<Option<u8>> = Vec::new();
            for (i, (len, keep)) in cuts.iter().enumerate() {
                let keep = (*keep).min(*len);
                let start = expect.len();
                let bytes: Vec<u8> = (0..*len).map(|j| (start + j + i) as u8).collect();
                expect.extend(bytes.iter().enumerate().map(|(j, b)| (j < keep).then_some(*b)));
                let seq = isn.wrapping_add(1).wrapping_add(start as u32);
                segs.push((seq, bytes[..keep].to_vec(), (len - keep) as u32));
            }
            // Every segment at least once, in an order picked by `order`, some twice.
            let mut feed: Vec<usize> = (0..segs.len()).collect();
            for (i, o) in order.iter().enumerate() {
                if i % 2 == 0 {
                    feed.push(o % segs.len());
                } else {
                    let n = feed.len();
                    feed.swap(i % n, o % n);
                }
            }
            let (mut r, mut g) = (Reassembler::default(), Got::default());
            r.syn(isn);
            for i in feed {
                let (seq, ref p, missing) = segs[i];
                // A cap no test reaches: the order alone decides.
                r.segment(seg(seq, p, missing, false), Timestamp::ZERO, 1 << 20, &mut g.take());
            }
            r.flush(&mut g.take());
            let mut got: Vec<Option<u8>> = Vec::new();
            for e in &g.order {
                match e {
                    Ev::Data(d) => got.extend(d.iter().map(|b| Some(*b))),
                    Ev::Gap(n) => got.extend(std::iter::repeat_n(None, *n as usize)),
                    Ev::End => {}
                }
            }
            proptest::prop_assert_eq!(got, expect);
            proptest::prop_assert_eq!(r.held_bytes(), 0);
        }
    }

    #[test]
    fn ack_past_a_hole_before_a_held_truncated_segment() {
        let (mut r, mut g) = (Reassembler::default(), Got::default());
        r.syn(0);
        cut(&mut r, &mut g, 5, b"ab", 8);
        r.peer_acked(3, &mut g.take());
        assert_eq!(g.order, [Ev::Gap(4), data(b"ab"), Ev::Gap(8)]);
        assert_eq!(r.next_seq(), Some(15));
    }
}
