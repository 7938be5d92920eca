//! The bounded table of tracked connections.
//!
//! [`FlowTable`] maps a [`FlowKey`] to a connection: two [`Reassembler`]s (one per direction)
//! feeding one [`HttpConn`]. It decides when a segment starts a new connection (a SYN on an
//! unknown tuple, data on an unknown tuple, or a new SYN on a tuple whose previous connection
//! ended or used another ISN, as short connections reuse 4-tuples), ends connections (FIN both
//! ways, RST), expires idle ones, and evicts when `max_flows` is reached. Eviction is amortised
//! O(1): a queue in creation order with a second chance for connections active since they were
//! queued (the CLOCK approximation of least recently used), plus at most one expiry sweep per
//! second of packet time while the table is full, so a SYN flood stays cheap.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use super::http_stream::{Ctx, HttpConn};
use super::key::Side;
use super::reassembly::{Chunk, Reassembler, Segment};
use super::{FlowConfig, FlowCounters, FlowKey, HttpSink};
use crate::decode::TcpSegment;
use crate::keyed_hash::KeyedState;
use crate::time::Timestamp;

/// Entries a connection may be moved to the back of the eviction queue per eviction before
/// the front one is evicted regardless.
const SECOND_CHANCES: usize = 8;

/// Data on a tuple whose connection ended starts a new (mid-stream) connection when its
/// sequence number is this far from where the old one stopped: it cannot be a late copy.
const REUSE_DISTANCE: u32 = 1 << 20;

/// The table's key: a [`FlowKey`] hashed as one packed integer (IPv4) or byte string (IPv6).
/// The derived `Hash` makes a dozen small writes (enum tags, octets, ports); one write costs the
/// hasher a single round. The hasher is [`KeyedState`]: fast, and keyed per process so
/// chosen 4-tuples cannot be aimed at one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TableKey(FlowKey);

impl Hash for TableKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (a, b) = (&self.0.a, &self.0.b);
        match (a.ip, b.ip) {
            (IpAddr::V4(ia), IpAddr::V4(ib)) => {
                let packed = (u128::from(ia.to_bits()) << 64)
                    | (u128::from(a.port) << 48)
                    | (u128::from(ib.to_bits()) << 16)
                    | u128::from(b.port);
                state.write_u128(packed);
            }
            (ia, ib) => {
                let v6 = |ip: IpAddr| match ip {
                    IpAddr::V4(v) => v.to_ipv6_mapped().to_bits(),
                    IpAddr::V6(v) => v.to_bits(),
                };
                let ports = (u128::from(a.port) << 16) | u128::from(b.port);
                let mut buf = [0u8; 48];
                buf[..16].copy_from_slice(&v6(ia).to_ne_bytes());
                buf[16..32].copy_from_slice(&v6(ib).to_ne_bytes());
                buf[32..].copy_from_slice(&ports.to_ne_bytes());
                state.write(&buf);
            }
        }
    }
}

#[derive(Debug)]
struct Connection {
    /// By the [`Side`] that sends: `reasm[Side::A.index()]` carries `key.a` → `key.b`.
    reasm: [Reassembler; 2],
    http: HttpConn,
    last_seen: Timestamp,
    /// Packet counter at the last packet, and when the connection was (re)queued.
    touched: u64,
    queued: u64,
    /// Identifies this connection in the eviction queue (a tuple may be reused).
    generation: u64,
    had_data: bool,
    /// Both FINs or a RST seen, and everything accounted for.
    closed: bool,
}

impl Connection {
    fn new(key: &FlowKey, generation: u64, ts: Timestamp, tick: u64, start_seen: bool) -> Self {
        Connection {
            reasm: [Reassembler::default(), Reassembler::default()],
            http: HttpConn::new([key.a, key.b], start_seen),
            last_seen: ts,
            touched: tick,
            queued: tick,
            generation,
            had_data: false,
            closed: false,
        }
    }

    /// Does this segment start a new connection on the same tuple?
    fn is_restart(&self, side: Side, seg: &TcpSegment<'_>) -> bool {
        let r = &self.reasm[side.index()];
        if seg.flags.syn && !seg.flags.ack {
            // A retransmitted SYN carries the same ISN; any other SYN is a new connection
            // (RFC 9293 §3.4.1: a new incarnation picks a new ISN).
            return self.closed || r.isn() != Some(seg.seq);
        }
        if self.closed && seg.carries_data() {
            let far = |base: u32| {
                let d = seg.seq.wrapping_sub(base);
                d > REUSE_DISTANCE && d < REUSE_DISTANCE.wrapping_neg()
            };
            return r.next_seq().is_none_or(far);
        }
        false
    }

    fn process(&mut self, side: Side, seg: &TcpSegment<'_>, ts: Timestamp, ctx: &mut Ctx<'_>) {
        self.last_seen = ts;
        if self.closed {
            return;
        }
        if seg.flags.rst {
            self.finalize(ctx);
            return;
        }
        let other = side.other();
        let Connection { reasm, http, .. } = self;
        if seg.flags.syn {
            reasm[side.index()].syn(seg.seq);
            http.set_client(if seg.flags.ack { other } else { side });
        }
        if seg.flags.ack {
            reasm[other.index()].peer_acked(seg.ack, &mut |c| http.on_chunk(other, c, ctx));
        }
        if seg.carries_data() || seg.flags.fin {
            self.had_data |= seg.carries_data();
            // A SYN occupies one sequence number before any data it carries.
            let seq = if seg.flags.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let max_ooo = ctx.config.max_ooo_bytes;
            let mut deliver = |c: Chunk<'_>| http.on_chunk(side, c, ctx);
            let piece = Segment {
                seq,
                payload: seg.payload,
                missing: seg.missing,
                fin: seg.flags.fin,
            };
            let overflows = reasm[side.index()].segment(piece, ts, max_ooo, &mut deliver);
            ctx.counters.ooo_overflows += overflows;
        }
        if self.reasm.iter().all(Reassembler::is_ended) {
            self.finalize(ctx);
        }
    }

    /// Ends the connection: hands on what is held, counts what was cut or unanswered.
    fn finalize(&mut self, ctx: &mut Ctx<'_>) {
        if self.closed {
            return;
        }
        let Connection { reasm, http, .. } = self;
        for (side, r) in Side::ALL.into_iter().zip(reasm.iter_mut()) {
            r.flush(&mut |c| http.on_chunk(side, c, ctx));
        }
        http.finish(ctx);
        self.closed = true;
    }
}

/// All tracked connections.
#[derive(Debug)]
pub struct FlowTable {
    config: FlowConfig,
    counters: FlowCounters,
    /// Boxed: a `Connection` is about 440 bytes, and hashbrown sizes its table in slots of
    /// key + value. Inline, the 65,536 connections of a full table under SYN-flood churn sat
    /// in 262,144 slots (126 MB, plus the old table during the grow); boxed, a slot is 48
    /// bytes and only live connections cost their size.
    flows: HashMap<TableKey, Box<Connection>, KeyedState>,
    /// Whether `flows` has been given the room that keeps it from ever growing again.
    reserved: bool,
    /// Eviction order: (key, generation); entries of removed connections are skipped.
    queue: VecDeque<(TableKey, u64)>,
    tick: u64,
    next_generation: u64,
    /// Second of packet time of the last sweep forced by a full table.
    last_full_sweep: Option<u64>,
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> Self {
        FlowTable {
            config,
            counters: FlowCounters::default(),
            flows: HashMap::default(),
            reserved: false,
            queue: VecDeque::new(),
            tick: 0,
            next_generation: 0,
            last_full_sweep: None,
        }
    }

    /// Feeds one segment seen at `ts`. Inlined into the front's per-packet step, its only
    /// caller on the hot path.
    #[inline]
    pub fn ingest(&mut self, seg: &TcpSegment<'_>, ts: Timestamp, sink: &mut impl HttpSink) {
        let sink: &mut dyn HttpSink = sink;
        self.tick += 1;
        let (flow, side) = FlowKey::oriented(seg.src, seg.dst);
        let key = TableKey(flow);
        // The common case, a packet of a known connection, costs one hash lookup.
        let restart = match self.flows.get_mut(&key) {
            Some(conn) if !conn.is_restart(side, seg) => {
                conn.touched = self.tick;
                let mut ctx = Ctx {
                    config: &self.config,
                    counters: &mut self.counters,
                    sink,
                };
                conn.process(side, seg, ts, &mut ctx);
                return;
            }
            Some(_) => true,
            // Nothing to learn from a bare ACK, FIN or RST of a connection we never saw.
            None if seg.flags.rst || (!seg.flags.syn && !seg.carries_data()) => return,
            None => false,
        };
        if restart {
            if let Some(mut old) = self.flows.remove(&key) {
                let mut ctx = Ctx {
                    config: &self.config,
                    counters: &mut self.counters,
                    sink,
                };
                old.finalize(&mut ctx);
            }
        } else {
            self.make_room(ts, sink);
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let mut conn = Box::new(Connection::new(
            &flow,
            generation,
            ts,
            self.tick,
            seg.flags.syn,
        ));
        self.queue.push_back((key, generation));
        self.counters.connections += 1;
        let mut ctx = Ctx {
            config: &self.config,
            counters: &mut self.counters,
            sink,
        };
        conn.process(side, seg, ts, &mut ctx);
        self.flows.insert(key, conn);
    }

    /// Expires idle connections; call about once a second of packet or wall time.
    pub fn expire(&mut self, now: Timestamp, sink: &mut impl HttpSink) {
        self.sweep(now, sink);
    }

    fn sweep(&mut self, now: Timestamp, sink: &mut dyn HttpSink) {
        let FlowTable {
            config,
            counters,
            flows,
            ..
        } = self;
        flows.retain(|_, c| {
            let timeout = if c.closed || !c.had_data {
                config.handshake_timeout
            } else {
                config.idle_timeout
            };
            if now.saturating_sub(c.last_seen) < timeout {
                return true;
            }
            if !c.closed {
                c.finalize(&mut Ctx {
                    config,
                    counters,
                    sink: &mut *sink,
                });
                counters.expired_flows += 1;
            }
            false
        });
        self.compact_queue();
    }

    /// Drops queue entries of connections no longer in the table once they outnumber the
    /// live ones; amortised over the removals that made them stale.
    fn compact_queue(&mut self) {
        if self.queue.len() > 2 * self.flows.len() + 64 {
            let flows = &self.flows;
            self.queue
                .retain(|(k, g)| flows.get(k).is_some_and(|c| c.generation == *g));
        }
    }

    /// Makes room for one more connection when `max_flows` is reached.
    fn make_room(&mut self, now: Timestamp, sink: &mut dyn HttpSink) {
        let max = self.config.max_flows.max(1);
        if self.flows.len() < max {
            return;
        }
        if !self.reserved {
            // A full table churns: every new connection evicts one. hashbrown reclaims the
            // tombstones of removed entries in place only while the live entries are at
            // most half its capacity, and otherwise doubles. Room for `2 × max` makes the
            // first full table the last allocation: past it, churn rehashes in place.
            self.reserved = true;
            self.flows
                .reserve((2 * max).saturating_sub(self.flows.len()));
        }
        if self.last_full_sweep != Some(now.secs()) {
            self.last_full_sweep = Some(now.secs());
            self.sweep(now, sink);
        }
        let mut chances = 0;
        while self.flows.len() >= max {
            let Some((key, generation)) = self.queue.pop_front() else {
                // Cannot happen (every connection is queued); stay bounded anyway.
                let Some(key) = self.flows.keys().next().copied() else {
                    return;
                };
                self.evict(&key, sink);
                continue;
            };
            let Some(c) = self
                .flows
                .get_mut(&key)
                .filter(|c| c.generation == generation)
            else {
                continue;
            };
            if c.touched > c.queued && !c.closed && chances < SECOND_CHANCES {
                // Active since it was queued: give it another round.
                chances += 1;
                c.queued = self.tick;
                self.queue.push_back((key, generation));
                continue;
            }
            self.evict(&key, sink);
        }
        self.compact_queue();
    }

    fn evict(&mut self, key: &TableKey, sink: &mut dyn HttpSink) {
        if let Some(mut c) = self.flows.remove(key)
            && !c.closed
        {
            c.finalize(&mut Ctx {
                config: &self.config,
                counters: &mut self.counters,
                sink,
            });
            self.counters.evicted_flows += 1;
        }
    }

    /// End of capture: flush what is buffered and count what was cut.
    pub fn finish(&mut self, sink: &mut impl HttpSink) {
        let sink: &mut dyn HttpSink = sink;
        let FlowTable {
            config,
            counters,
            flows,
            queue,
            ..
        } = self;
        for (_, mut c) in flows.drain() {
            c.finalize(&mut Ctx {
                config,
                counters,
                sink: &mut *sink,
            });
        }
        queue.clear();
    }

    pub fn counters(&self) -> &FlowCounters {
        &self.counters
    }

    /// Connections tracked now (ended ones linger for `handshake_timeout` to recognise late
    /// duplicates).
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::decode::{Endpoint, TcpFlags};
    use crate::flow::{NonHttpKind, RequestEvent, ResponseEvent};

    struct Discard;

    impl HttpSink for Discard {
        fn request(&mut self, _: &RequestEvent<'_>) {}
        fn response(&mut self, _: &ResponseEvent<'_>) {}
        fn non_http(&mut self, _: NonHttpKind, _: Endpoint, _: Option<&[u8]>) {}
    }

    // Under SYN-flood churn the map must not keep doubling. Once full it holds
    // room for twice the cap, and from then on tombstones are reclaimed in place.
    #[test]
    fn a_full_table_under_churn_never_grows_its_map() {
        let max = 1000;
        let mut t = FlowTable::new(FlowConfig {
            max_flows: max,
            ..FlowConfig::default()
        });
        let syn = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        let server = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port: 80,
        };
        let mut capacity = None;
        for i in 0..50_000u32 {
            let seg = TcpSegment {
                src: Endpoint {
                    ip: IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i)),
                    port: 1234,
                },
                dst: server,
                seq: i,
                ack: 0,
                flags: syn,
                payload: b"",
                missing: 0,
            };
            t.ingest(&seg, Timestamp(u64::from(i) * 20), &mut Discard);
            assert!(t.len() <= max);
            match capacity {
                None if t.reserved => capacity = Some(t.flows.capacity()),
                // `capacity()` is live entries plus room left, so tombstones lower it; it
                // would exceed the first value only if the map reallocated larger.
                Some(c) => assert!(t.flows.capacity() <= c, "grew after {i} SYNs"),
                None => {}
            }
        }
        let capacity = capacity.unwrap_or(0);
        assert!((2 * max..8 * max).contains(&capacity), "{capacity}");
        assert!(t.queue.len() <= 2 * max + 64 + 1);
        assert_eq!(t.counters().evicted_flows, 49_000);
    }
}
