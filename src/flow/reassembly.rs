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

#[derive(Debug)]
struct Held {
    seq: u32,
    ts: Timestamp,
    data: Vec<u8>,
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

    /// A segment of this direction. `seq` is the sequence number of the first payload byte
    /// (after the SYN, if the segment carries one). Returns how many times the out-of-order
    /// cap overflowed.
    pub(super) fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        fin: bool,
        ts: Timestamp,
        max_ooo: usize,
        out: &mut impl FnMut(Chunk<'_>),
    ) -> u64 {
        if self.ended {
            return 0;
        }
        // No SYN seen: the stream starts at the first segment we see (capture began
        // mid-connection).
        let next = *self.next.get_or_insert(seq);
        let mut overflows = 0;
        if !payload.is_empty() {
            if rel(seq, next) > 0 && self.peer_ack.is_some_and(|a| rel(a, next) > 0) {
                // The receiver already acknowledged bytes we never saw: they are lost to us.
                self.skip_acked_holes(out);
                let next = self.next.unwrap_or(seq);
                if rel(seq, next) > 0 && self.peer_ack.is_some_and(|a| rel(a, next) > 0) {
                    self.skip_to(seq, out);
                }
            }
            overflows = self.data(seq, payload, ts, max_ooo, out);
        }
        if fin && self.fin_at.is_none() {
            self.fin_at = Some(seq.wrapping_add(len32(payload.len())));
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
                let skip = usize::try_from(r.unsigned_abs()).unwrap_or(usize::MAX);
                if let Some(fresh) = payload.get(skip..).filter(|f| !f.is_empty()) {
                    self.next = Some(next.wrapping_add(len32(fresh.len())));
                    out(Chunk::Data(fresh, ts));
                    // Usually nothing is held: skip the call (this runs for every segment).
                    if !self.held.is_empty() {
                        self.drain(out);
                    }
                }
                return overflows;
            }
            if self.hold(seq, payload, ts, max_ooo) {
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

    /// Holds the parts of a segment ahead of `next` that are not held yet (the first copy
    /// wins). Returns false, holding nothing, if that would exceed a cap.
    fn hold(&mut self, seq: u32, payload: &[u8], ts: Timestamp, max_ooo: usize) -> bool {
        let Some(next) = self.next else { return false };
        let off = |s: u32| u64::from(s.wrapping_sub(next));
        let start = off(seq);
        let end = start + payload.len() as u64;
        let held_end = |h: &Held| off(h.seq) + h.data.len() as u64;
        // First pass: what would be new.
        let (mut cur, mut new_bytes, mut pieces) = (start, 0u64, 0usize);
        for h in &self.held {
            let (hs, he) = (off(h.seq), held_end(h));
            if he <= cur {
                continue;
            }
            if hs >= end {
                break;
            }
            if hs > cur {
                new_bytes += hs - cur;
                pieces += 1;
            }
            cur = cur.max(he);
        }
        if cur < end {
            new_bytes += end - cur;
            pieces += 1;
        }
        if new_bytes == 0 {
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
            let (a, b) = (
                usize::try_from(cur - start).unwrap_or(usize::MAX),
                usize::try_from(stop - start).unwrap_or(usize::MAX),
            );
            let Some(bytes) = payload.get(a..b) else {
                break;
            };
            let piece_seq = seq.wrapping_add(len32(a));
            self.held.insert(
                i,
                Held {
                    seq: piece_seq,
                    ts,
                    data: bytes.to_vec(),
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
            let skip = usize::try_from(r.unsigned_abs()).unwrap_or(usize::MAX);
            if let Some(fresh) = h.data.get(skip..).filter(|f| !f.is_empty()) {
                self.next = Some(next.wrapping_add(len32(fresh.len())));
                out(Chunk::Data(fresh, h.ts));
            }
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

    #[derive(Debug, Default)]
    struct Got {
        bytes: Vec<u8>,
        gaps: Vec<u32>,
        ended: bool,
    }

    impl Got {
        fn take(&mut self) -> impl FnMut(Chunk<'_>) + '_ {
            |c| match c {
                Chunk::Data(d, _) => self.bytes.extend_from_slice(d),
                Chunk::Gap(n) => self.gaps.push(n),
                Chunk::End => self.ended = true,
            }
        }
    }

    fn push(r: &mut Reassembler, g: &mut Got, seq: u32, p: &[u8]) -> u64 {
        r.segment(seq, p, false, Timestamp::ZERO, 1000, &mut g.take())
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
        r.segment(20, b"z", true, Timestamp::ZERO, 1000, &mut g.take());
        assert_eq!(g.gaps, vec![4, 11]);
        assert!(g.ended && r.is_ended());
    }
}
