//! Connections: TCP reassembly per connection and direction, and HTTP/1.x on the reassembled
//! streams, with responses paired to requests in order.
//!
//! [`FlowTable::ingest`] takes decoded [`TcpSegment`]s with their packet time and reports what
//! it finds to an [`HttpSink`]: each request exactly once, each response with its request's
//! section and latency, each connection recognised as not HTTP/1. Memory is bounded by
//! [`FlowConfig`]; every cap that bites increments a [`FlowCounters`] field. Nothing here reads
//! the clock or knows about statistics windows: that is `stats`.

use std::time::Duration;

use crate::decode::{Endpoint, Malformed};
use crate::time::Timestamp;

mod direction;
mod h2;
mod http_stream;
mod key;
mod reassembly;
mod table;
#[cfg(test)]
mod tests;

pub use direction::Direction;
pub use h2::{UNKNOWN_METHOD, UNKNOWN_SECTION};
pub use key::{FlowKey, Side};
pub use table::FlowTable;

/// Limits on what the flow layer keeps. Defaults are sized for a busy server.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Connections tracked at once; beyond it the idlest is evicted.
    pub max_flows: usize,
    /// Bytes of an incomplete request or response head kept per direction.
    pub max_head_bytes: usize,
    /// Out-of-order bytes held per direction while waiting for a gap to fill.
    pub max_ooo_bytes: usize,
    /// Requests waiting for their response per connection.
    pub max_pending: usize,
    /// A connection with no packet for this long is expired.
    pub idle_timeout: Duration,
    /// A connection that never carried data (handshake only) expires after this.
    pub handshake_timeout: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            max_head_bytes: 16 * 1024,
            max_ooo_bytes: 64 * 1024,
            max_pending: 100,
            idle_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A request head, seen once.
#[derive(Debug, Clone, Copy)]
pub struct RequestEvent<'a> {
    /// Time of the packet that carried the request's first byte.
    pub ts: Timestamp,
    pub client: Endpoint,
    pub server: Endpoint,
    pub method: &'a str,
    pub target: &'a str,
    /// `decode::section_of(method, target)`, at most `MAX_SECTION_LEN` bytes.
    pub section: &'a str,
    /// `decode::request_path`: the target's path for routes, at most `MAX_PATH_LEN` bytes,
    /// ending in `…` when it was cut.
    pub path: &'a str,
    pub host: Option<&'a [u8]>,
    pub protocol: Protocol,
    /// Head plus body bytes as declared (Content-Length), or head only.
    pub bytes: u64,
    /// The request broke the grammar but a server reads it as a request (and usually answers
    /// 400): counted all the same, and tagged.
    pub malformed: Option<Malformed>,
}

/// A response head, paired with its request when one was pending.
#[derive(Debug, Clone, Copy)]
pub struct ResponseEvent<'a> {
    /// Time of the packet that carried the response's first byte.
    pub ts: Timestamp,
    pub client: Endpoint,
    pub server: Endpoint,
    pub status: u16,
    /// The paired request's method and section; `None` when no request was pending
    /// (e.g. the capture started mid-connection).
    pub method: Option<&'a str>,
    pub section: Option<&'a str>,
    /// The paired request's path (see [`RequestEvent::path`]).
    pub path: Option<&'a str>,
    /// First request byte to first response byte, when paired.
    pub latency: Option<Duration>,
    /// Head bytes plus body bytes when the length is declared.
    pub bytes: u64,
    /// An interim response (100 Continue, 103 Early Hints): its request stays pending and the
    /// final response follows. `101 Switching Protocols` is final.
    pub interim: bool,
    /// How a gRPC call ended (the `grpc-status` trailer), for HTTP/2 responses that carry one.
    pub grpc_status: Option<u16>,
}

/// The protocol a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Http10,
    Http11,
    /// HTTP/2 without TLS, by prior knowledge or Upgrade.
    H2c,
}

impl Protocol {
    /// Every protocol, in a stable order for reports.
    pub const ALL: [Protocol; 3] = [Protocol::Http10, Protocol::Http11, Protocol::H2c];

    /// The name used as a JSON key and a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
            Protocol::H2c => "h2c",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Protocol::Http10 => 0,
            Protocol::Http11 => 1,
            Protocol::H2c => 2,
        }
    }

    /// An HTTP/1 minor version (`HTTP/1.0` → 0); anything but 0 is 1.1's framing.
    pub fn http1(minor: u8) -> Self {
        if minor == 0 {
            Protocol::Http10
        } else {
            Protocol::Http11
        }
    }
}

/// What a connection that is not HTTP/1 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonHttpKind {
    /// A TLS record (0x16 0x03 …) opened the stream.
    Tls,
    /// The HTTP/2 connection preface (`PRI * HTTP/2.0`).
    Http2,
    /// Anything else that is not an HTTP/1 request line.
    Other,
}

impl NonHttpKind {
    /// Every kind, in index order.
    pub const ALL: [NonHttpKind; 3] = [NonHttpKind::Tls, NonHttpKind::Http2, NonHttpKind::Other];

    /// The position of this kind in a per-kind counter array.
    pub fn index(self) -> usize {
        match self {
            NonHttpKind::Tls => 0,
            NonHttpKind::Http2 => 1,
            NonHttpKind::Other => 2,
        }
    }

    /// The name used as a JSON key and a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            NonHttpKind::Tls => "tls",
            NonHttpKind::Http2 => "http2",
            NonHttpKind::Other => "other",
        }
    }
}

/// Receives what the flow layer finds. Borrowed strings live only for the call.
pub trait HttpSink {
    fn request(&mut self, req: &RequestEvent<'_>);
    fn response(&mut self, resp: &ResponseEvent<'_>);
    /// Called once per connection when it is recognised as not HTTP/1. `server_name` is the TLS
    /// SNI when a ClientHello carried one.
    fn non_http(&mut self, kind: NonHttpKind, server: Endpoint, server_name: Option<&[u8]>);
}

/// What the flow layer gave up on or evicted, each a count. Shown in summaries, never hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Connections seen (a new SYN on a reused 4-tuple counts as a new connection).
    pub connections: u64,
    /// Connections evicted because `max_flows` was reached (ended connections lingering to
    /// absorb late duplicates are dropped first and not counted).
    pub evicted_flows: u64,
    /// Connections expired after `idle_timeout`/`handshake_timeout` (not counting ended ones
    /// whose linger ran out).
    pub expired_flows: u64,
    /// Out-of-order segments that did not fit in `max_ooo_bytes`; each forces the oldest hole
    /// to be skipped (counted in `gaps_skipped`) rather than stalling the stream.
    pub ooo_overflows: u64,
    /// Gaps (lost bytes) skipped over, resyncing at the next request/response line.
    pub gaps_skipped: u64,
    /// Heads that grew beyond `max_head_bytes`: still counted from their start line and the
    /// framing headers seen so far, the rest skipped without being kept.
    pub heads_too_large: u64,
    /// Messages counted from a head whose end was lost (a gap, or a capture's snap length):
    /// their section may be cut (marked `…`) and what follows is found by resyncing.
    pub heads_cut: u64,
    /// Requests counted although they broke the grammar, by [`Malformed::index`].
    pub malformed: [u64; Malformed::ALL.len()],
    /// Bytes at a message boundary that could not start a message (not even a malformed
    /// request), and malformed chunked framing: the stream then resyncs at the next request
    /// or status line.
    pub parse_errors: u64,
    /// Request paths longer than `decode::MAX_PATH_LEN`, cut (and marked `…`) for routes.
    pub paths_cut: u64,
    /// Requests not counted as pending because `max_pending` was reached. Their responses are
    /// reported without method and section, in order.
    pub pending_overflows: u64,
    /// Responses with no pending request to pair with.
    pub unpaired_responses: u64,
    /// Requests whose head was incomplete (some bytes of it buffered) when the connection or
    /// capture ended.
    pub requests_cut: u64,
    /// Requests still waiting for a response when the connection or capture ended.
    pub requests_unanswered: u64,
    /// HTTP/2 connections.
    pub h2: H2Counters,
}

/// What HTTP/2 connections gave up on or refused, each a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct H2Counters {
    /// Connections that spoke HTTP/2 (prior knowledge, Upgrade, or recognised mid-stream).
    pub connections: u64,
    /// Streams reset (RST_STREAM) before their response: each still counted as a request.
    pub streams_reset: u64,
    /// PUSH_PROMISE frames: pushed responses are not client requests.
    pub pushes: u64,
    /// Header blocks (with their CONTINUATION frames) larger than `max_head_bytes`: their
    /// request is counted with unknown fields.
    pub header_blocks_too_large: u64,
    /// Header blocks HPACK could not decode (the direction's table is then partly unknown).
    pub hpack_errors: u64,
    /// Header blocks with fields that could not be decoded: table entries from before the
    /// capture or a gap. Their section is `(unknown)` when `:path` was one of them.
    pub unknown_headers: u64,
    /// Client HEADERS on a stream id that does not go up: refused by servers, not counted.
    pub stream_id_errors: u64,
    /// Requests not tracked because `MAX_STREAMS` streams were open: counted, not paired.
    pub streams_overflow: u64,
    /// Frames longer than the receiver's SETTINGS_MAX_FRAME_SIZE.
    pub frames_too_large: u64,
    /// Frames out of place (a header block interrupted, CONTINUATION without a block, padding
    /// past the end).
    pub protocol_errors: u64,
}

impl FlowCounters {
    /// Malformed requests counted, whatever the reason.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }

    /// Malformed requests by reason name, every reason in a stable order.
    pub fn malformed_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Malformed::ALL
            .iter()
            .map(|m| (m.as_str(), self.malformed[m.index()]))
    }
}
