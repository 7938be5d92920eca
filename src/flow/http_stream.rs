//! HTTP/1.x on the two reassembled byte streams of one connection, and request/response
//! pairing.
//!
//! [`HttpConn`] receives [`Chunk`]s per direction from the reassembler. The client direction is
//! parsed as a sequence of request heads and bodies, the server direction as response heads
//! and bodies (RFC 9112 §6.3 framing: Content-Length, a real chunked decoder, or until close),
//! so text inside a body is never taken for a head. Heads are parsed (`decode::http`,
//! httparse's grammar) straight from the delivered slice; only an incomplete head is copied,
//! and never beyond `max_head_bytes`. Responses are paired in order with a FIFO of pending requests.
//!
//! When the position in the stream is unknown (capture started mid-connection, a gap, a parse
//! error) the direction *seeks*: it scans line starts for something shaped like a request line
//! (`METHOD SP target SP HTTP/1.`) or a status line before parsing again. A connection whose
//! start was seen and that does not open with HTTP/1 (TLS, HTTP/2, anything else) is reported
//! once and then ignored. Nothing here knows about TCP sequence numbers; that is `reassembly`.

//!
//! The rooms: [`stream`] holds one direction's state, [`message`] reads heads and bodies at a
//! known position, [`seek`] finds that position (the connection's opening, resync after a
//! gap), [`shape`] tells what a line looks like, and [`pairing`] matches responses to
//! requests.

use std::collections::VecDeque;

use super::h2::{self, H2Conn};
use super::reassembly::Chunk;
use super::{FlowConfig, FlowCounters, HttpSink, NonHttpKind, Side};
use crate::decode::{self, Endpoint};
use crate::time::Timestamp;
use pairing::Shared;
use stream::{Body, Mode, Stream};

mod message;
mod pairing;
mod seek;
mod shape;
mod stream;

/// What the parser needs from the table for one call.
pub(super) struct Ctx<'a> {
    pub(super) config: &'a FlowConfig,
    pub(super) counters: &'a mut FlowCounters,
    pub(super) sink: &'a mut dyn HttpSink,
}

/// HTTP state of one connection: both directions and the pending requests.
#[derive(Debug)]
pub(super) struct HttpConn {
    /// By the [`Side`] that sends: which side is the client is learnt after bytes arrive.
    streams: [Stream; 2],
    shared: Shared,
    /// Set once the connection speaks HTTP/2: every byte goes there from then on.
    h2: Option<Box<H2Conn>>,
}

impl HttpConn {
    /// `ends` by [`Side`]: `ends[Side::A.index()]` is the flow key's `a`. `start_seen`: the handshake was seen, so
    /// both streams start at their first byte.
    pub(super) fn new(ends: [Endpoint; 2], start_seen: bool) -> Self {
        let mode = if start_seen { Mode::Sniff } else { Mode::Seek };
        HttpConn {
            streams: [Stream::new(mode), Stream::new(mode)],
            shared: Shared {
                ends,
                client: None,
                pending: VecDeque::new(),
                spare: Vec::new(),
                lost: 0,
                opaque: false,
                reported: false,
                maybe_other: false,
                found_http: false,
                start_seen,
                h2_evidence: [false; 2],
                h2_held: [None, None],
                switch_h2: None,
            },
            h2: None,
        }
    }

    /// `side` is the client (it sent the SYN). The first word wins.
    pub(super) fn set_client(&mut self, side: Side) {
        if self.shared.client.is_none() {
            self.shared.client = Some(side);
        }
    }

    pub(super) fn on_chunk(&mut self, side: Side, chunk: Chunk<'_>, ctx: &mut Ctx<'_>) {
        if let Some(h2) = &mut self.h2 {
            match chunk {
                Chunk::Data(bytes, ts) => h2.on_data(side, bytes, ts, ctx),
                Chunk::Gap(lost) => {
                    ctx.counters.gaps_skipped += 1;
                    h2.on_gap(side, lost, ctx);
                }
                Chunk::End => h2.on_end(side, ctx),
            }
            return;
        }
        match chunk {
            Chunk::Data(bytes, ts) => {
                if !bytes.is_empty() {
                    self.on_data(side, bytes, ts, ctx, 0);
                    self.streams[side.index()].saw_data = true;
                }
            }
            Chunk::Gap(lost) => {
                ctx.counters.gaps_skipped += 1;
                self.on_gap(side, lost, ctx);
            }
            Chunk::End => self.on_end(side, ctx),
        }
    }

    /// End of the connection: what is still pending was never answered.
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(h2) = &mut self.h2 {
            h2.finish(ctx);
        }
        for side in Side::ALL {
            if self.streams[side.index()].mode != Mode::Closed {
                self.on_end(side, ctx);
            }
        }
        if self.shared.maybe_other && !self.shared.found_http {
            self.report(NonHttpKind::Other, None, ctx);
        }
        let s = &mut self.shared;
        ctx.counters.requests_unanswered += s.pending.len() as u64 + s.lost;
        s.pending.clear();
        s.spare = Vec::new();
        s.lost = 0;
    }

    /// Hands the connection to HTTP/2: HTTP/1 parsing stops for good.
    fn start_h2(&mut self, start_seen: bool, preface: bool, ctx: &mut Ctx<'_>) -> Box<H2Conn> {
        ctx.counters.h2.connections += 1;
        for st in &mut self.streams {
            if st.mode != Mode::Closed {
                st.mode = Mode::Opaque;
            }
            st.buf = Vec::new();
        }
        let client = self.shared.client.unwrap_or(Side::A);
        Box::new(H2Conn::new(self.shared.ends, client, start_seen, preface))
    }

    /// A connection whose start the capture missed is HTTP/2 when, before anything HTTP/1
    /// turned up, both directions delivered chunks that start with well-formed frames.
    fn h2_mid_stream(
        &mut self,
        side: Side,
        client: bool,
        bytes: &[u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        if self.shared.start_seen
            || self.shared.found_http
            || self.streams[side.index()].mode != Mode::Seek
            || !h2::looks_like_frames(bytes, client)
        {
            return false;
        }
        self.shared.h2_evidence[side.index()] = true;
        if self.shared.h2_evidence != [true, true] {
            if self.shared.h2_held[side.index()].is_none()
                && bytes.len() <= ctx.config.max_head_bytes
            {
                self.shared.h2_held[side.index()] = Some((bytes.to_vec(), ts));
            }
            return false;
        }
        let mut h2 = self.start_h2(false, false, ctx);
        let other = side.other();
        if let Some((held, held_ts)) = self.shared.h2_held[other.index()].take() {
            h2.on_data(other, &held, held_ts, ctx);
        }
        self.shared.h2_held = [None, None];
        h2.on_data(side, bytes, ts, ctx);
        self.h2 = Some(h2);
        true
    }

    /// Mid-stream roles (no SYN seen), from the first bytes a direction delivers.
    fn decide_roles(&mut self, side: Side, bytes: &[u8]) {
        let other = side.other();
        let client = if bytes.starts_with(b"HTTP/1.") {
            other
        } else if decode::looks_like_request_start(bytes) {
            side
        } else if self.shared.ends[side.index()].port < self.shared.ends[other.index()].port {
            // A guess: servers usually listen on the lower port.
            other
        } else {
            side
        };
        self.shared.client = Some(client);
    }

    fn on_data(&mut self, side: Side, bytes: &[u8], ts: Timestamp, ctx: &mut Ctx<'_>, depth: u8) {
        if self.shared.client.is_none() {
            self.decide_roles(side, bytes);
        }
        let client = self.shared.client == Some(side);
        if !client && self.streams[side.other().index()].mode == Mode::TlsHello {
            // The server spoke: the ClientHello is as complete as it will get.
            self.report_tls(side.other(), ctx);
        }
        if self.h2_mid_stream(side, client, bytes, ts, ctx) {
            return;
        }
        let mut data = bytes;
        while !data.is_empty() && !self.shared.opaque {
            let before = (data.len(), self.streams[side.index()].mode);
            data = match self.streams[side.index()].mode {
                Mode::Opaque | Mode::Closed | Mode::ConnectWait => return,
                Mode::Body(_) => self.body(side, data, ctx),
                Mode::SkipHead => self.skip_head(side, data),
                Mode::Head => self.head(side, client, data, ts, ctx, depth),
                Mode::Seek => self.seek(side, client, data, ts, ctx),
                Mode::Sniff => self.sniff(side, client, data, ts, ctx),
                Mode::TlsHello => self.tls_hello(side, data, ctx),
            };
            if let Some((ts0, method, section, path)) = self.shared.switch_h2.take() {
                let mut h2 = self.start_h2(true, true, ctx);
                h2.upgraded_request(ts0, &method, &section, &path);
                h2.on_data(side, data, ts, ctx);
                self.h2 = Some(h2);
                return;
            }
            if before == (data.len(), self.streams[side.index()].mode) {
                // No progress; cannot happen, but a stuck loop must not be possible either.
                return;
            }
        }
    }

    fn on_gap(&mut self, side: Side, lost: u32, ctx: &mut Ctx<'_>) {
        let st = &mut self.streams[side.index()];
        match st.mode {
            Mode::Opaque | Mode::Closed | Mode::ConnectWait | Mode::Body(Body::UntilClose) => {}
            Mode::TlsHello => self.report_tls(side, ctx),
            // The end of a head was lost: count it from its start.
            Mode::Head | Mode::Sniff if !st.buf.is_empty() => self.head_cut(side, ctx),
            Mode::Seek if st.candidate_after_gap && !st.buf.is_empty() => self.head_cut(side, ctx),
            // Still skipping a head already counted: what follows it is unknown.
            Mode::SkipHead => st.seek(true),
            // Bytes lost inside a body of known length: the framing still holds.
            Mode::Body(Body::Fixed(left)) if left > u64::from(lost) => {
                st.mode = Mode::Body(Body::Fixed(left - u64::from(lost)));
            }
            Mode::Body(Body::Fixed(left)) if left == u64::from(lost) => st.mode = Mode::Head,
            // Anything else seeks. The byte after a gap is as likely as any to start a line
            // (segments often start with a head), so it is tried as one.
            _ => st.seek(true),
        }
        self.streams[side.index()].after_gap = self.streams[side.index()].mode == Mode::Seek;
    }

    fn on_end(&mut self, side: Side, ctx: &mut Ctx<'_>) {
        let client = self.shared.client == Some(side);
        let st = &mut self.streams[side.index()];
        match st.mode {
            Mode::TlsHello => self.report_tls(side, ctx),
            Mode::Head | Mode::Sniff | Mode::Seek if client && !st.buf.is_empty() => {
                ctx.counters.requests_cut += 1;
            }
            _ => {}
        }
        let st = &mut self.streams[side.index()];
        st.buf = Vec::new();
        st.mode = Mode::Closed;
    }
}
