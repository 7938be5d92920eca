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

use std::borrow::Cow;
use std::collections::VecDeque;

use super::h2::{self, H2Conn};
use super::reassembly::Chunk;
use super::{
    FlowConfig, FlowCounters, HttpSink, NonHttpKind, Protocol, RequestEvent, ResponseEvent,
};
use crate::decode::{
    self, BodyLength, Endpoint, LenientRequest, LineShape, Malformed, RequestHead, ResponseHead,
};
use crate::time::Timestamp;

/// Methods a seeking client direction accepts as a request line start (the same list as
/// `decode::looks_like_request_start`). At a connection's start any token method is accepted.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// A TLS record cannot carry more than 2^14 bytes of plaintext (RFC 8446 §5.1); a ClientHello
/// is collected up to one record.
const MAX_TLS_RECORD: usize = 16 * 1024 + 5;

/// What the parser needs from the table for one call.
pub(super) struct Ctx<'a> {
    pub(super) config: &'a FlowConfig,
    pub(super) counters: &'a mut FlowCounters,
    pub(super) sink: &'a mut dyn HttpSink,
}

/// Where a direction is in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The connection's start was seen: is this HTTP/1 at all?
    Sniff,
    /// Position unknown: scan line starts for the next request or status line.
    Seek,
    /// At a head boundary.
    Head,
    /// Skipping a body.
    Body(Body),
    /// Skipping the rest of a head too large to keep, already counted from its start; then
    /// `Stream::after_skip`.
    SkipHead,
    /// Collecting a TLS ClientHello for its SNI.
    TlsHello,
    /// After a CONNECT request, until its response says whether a tunnel follows.
    ConnectWait,
    /// Not parsed any more (tunnel, protocol switch, not HTTP/1).
    Opaque,
    /// The stream ended.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Fixed(u64),
    Chunked(ChunkDecoder),
    UntilClose,
}

fn mode_after_head(body: BodyLength) -> Mode {
    match body {
        BodyLength::None | BodyLength::Fixed(0) => Mode::Head,
        BodyLength::Fixed(n) => Mode::Body(Body::Fixed(n)),
        BodyLength::Chunked => Mode::Body(Body::Chunked(ChunkDecoder::default())),
        BodyLength::UntilClose => Mode::Body(Body::UntilClose),
    }
}

/// The `Transfer-Encoding: chunked` framing (RFC 9112 §7.1), one byte of state at a time so
/// any split of the input gives the same result. Nothing is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkDecoder {
    /// Reading the hex chunk size.
    Size {
        n: u64,
        digits: u8,
    },
    /// Skipping chunk extensions up to the end of the size line.
    Ext(u64),
    /// Saw CR after the size; LF must follow.
    SizeLf(u64),
    /// Skipping chunk data.
    Data(u64),
    /// After chunk data: CRLF.
    DataCr,
    DataLf,
    /// After the last chunk: trailer lines until an empty one. `blank`: nothing but CR on
    /// this line so far.
    Trailer {
        blank: bool,
    },
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        ChunkDecoder::Size { n: 0, digits: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoded {
    More,
    Done,
    Bad,
}

impl ChunkDecoder {
    fn after_size(n: u64) -> Self {
        if n == 0 {
            ChunkDecoder::Trailer { blank: true }
        } else {
            ChunkDecoder::Data(n)
        }
    }

    /// Consumes bytes of `data`; returns how many and whether the body ended or is malformed.
    fn feed(&mut self, data: &[u8]) -> (usize, Decoded) {
        use ChunkDecoder::*;
        let mut i = 0;
        while let Some(rest) = data.get(i..).filter(|r| !r.is_empty()) {
            if let Data(left) = *self {
                let n = left.min(rest.len() as u64);
                i += usize::try_from(n).unwrap_or(rest.len());
                *self = if left == n { DataCr } else { Data(left - n) };
                continue;
            }
            let b = rest[0];
            i += 1;
            *self = match (*self, b) {
                (Size { n, digits }, _) if b.is_ascii_hexdigit() => {
                    if digits >= 16 {
                        return (i, Decoded::Bad);
                    }
                    let v = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                    Size {
                        n: (n << 4) | v,
                        digits: digits + 1,
                    }
                }
                // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
                (Size { n, digits }, b';' | b' ' | b'\t') if digits > 0 => Ext(n),
                (Size { n, digits }, b'\r') if digits > 0 => SizeLf(n),
                (Size { n, digits }, b'\n') if digits > 0 => Self::after_size(n),
                (Ext(n), b'\n') | (SizeLf(n), b'\n') => Self::after_size(n),
                (Ext(n), _) => Ext(n),
                (DataCr, b'\r') => DataLf,
                (DataCr, b'\n') | (DataLf, b'\n') => ChunkDecoder::default(),
                (Trailer { blank: true }, b'\n') => {
                    *self = ChunkDecoder::default();
                    return (i, Decoded::Done);
                }
                (Trailer { blank }, b'\r') => Trailer { blank },
                (Trailer { .. }, b'\n') => Trailer { blank: true },
                (Trailer { .. }, _) => Trailer { blank: false },
                _ => return (i, Decoded::Bad),
            };
        }
        (i, Decoded::More)
    }
}

/// One direction's parse state.
#[derive(Debug)]
struct Stream {
    mode: Mode,
    /// An incomplete head, a candidate request/status line while seeking, or a ClientHello.
    buf: Vec<u8>,
    /// Time of the packet that carried `buf`'s first byte.
    buf_ts: Timestamp,
    /// Seek: the next byte starts a line.
    line_start: bool,
    /// Head: progress of the search for the blank line that ends the head in `buf`.
    nl: u8,
    /// Any byte was delivered.
    saw_data: bool,
    /// What follows a head being skipped (`Mode::SkipHead`).
    after_skip: Mode,
    /// Seek: the candidate line in `buf` started right after a gap, where a message most
    /// likely starts (a packet cut by the snap length, then the next one).
    candidate_after_gap: bool,
    /// Seek: the stream was put there by a gap and no byte has been scanned since.
    after_gap: bool,
}

impl Stream {
    fn new(mode: Mode) -> Self {
        Stream {
            mode,
            buf: Vec::new(),
            buf_ts: Timestamp::ZERO,
            line_start: true,
            nl: 0,
            saw_data: false,
            after_skip: Mode::Head,
            candidate_after_gap: false,
            after_gap: false,
        }
    }

    /// Forgets the buffer; a large one gives its memory back.
    fn clear_buf(&mut self) {
        if self.buf.capacity() > 4096 {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }

    fn seek(&mut self, line_start: bool) {
        self.clear_buf();
        self.mode = Mode::Seek;
        self.line_start = line_start;
        self.after_gap = false;
        self.candidate_after_gap = false;
    }
}

/// Scans for the end of a head: a line feed followed by an empty line (`\n\n` or `\n\r\n`),
/// which is where httparse stops. `state`: 0 inside a line, 1 just after LF, 2 after LF CR.
/// Returns the length up to and including the final LF, if found, and the new state.
fn scan_head_end(mut state: u8, data: &[u8]) -> (Option<usize>, u8) {
    for (i, b) in data.iter().enumerate() {
        state = match (state, *b) {
            (1 | 2, b'\n') => return (Some(i + 1), 1),
            (_, b'\n') => 1,
            (1, b'\r') => 2,
            _ => 0,
        };
    }
    (None, state)
}

/// Is there a request or status line at the start of the bytes?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Yes,
    No,
    /// Cannot tell before more bytes arrive.
    Maybe,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte httparse accepts in a request target: visible ASCII, or any byte from 0x80 (it then
/// requires the whole target to be UTF-8, as nginx serves `/café`). Control bytes, space and
/// DEL end or reject it. Narrower than httparse, a client could have its connection taken for
/// "not HTTP" by opening it with a non-ASCII path, and hide every request on it.
fn is_target_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7e | 0x80..=0xff)
}

/// `METHOD SP request-target SP HTTP/1.` (RFC 9112 §3). With `any_method` any token is a
/// method; otherwise only the common ones, so a body seldom looks like a request.
fn request_line_shape(p: &[u8], any_method: bool) -> Shape {
    let after_method = if any_method {
        match p.iter().position(|b| !is_tchar(*b)) {
            None => {
                return if p.len() < 32 {
                    Shape::Maybe
                } else {
                    Shape::No
                };
            }
            Some(i) if i > 0 && p.get(i) == Some(&b' ') => i + 1,
            Some(_) => return Shape::No,
        }
    } else {
        let mut found = None;
        for m in METHODS {
            let m = m.as_bytes();
            if p.len() <= m.len() {
                if m.starts_with(p) {
                    return Shape::Maybe;
                }
            } else if p.starts_with(m) && p.get(m.len()) == Some(&b' ') {
                found = Some(m.len() + 1);
                break;
            }
        }
        match found {
            Some(n) => n,
            None => return Shape::No,
        }
    };
    let rest = p.get(after_method..).unwrap_or(&[]);
    let target = rest.iter().position(|b| !is_target_byte(*b));
    let after_target = match target {
        None => return Shape::Maybe,
        Some(i) if i > 0 && rest.get(i) == Some(&b' ') => i + 1,
        Some(_) => return Shape::No,
    };
    prefix_shape(rest.get(after_target..).unwrap_or(&[]), b"HTTP/1.")
}

/// `HTTP/1.x NNN` (RFC 9112 §4).
fn status_line_shape(p: &[u8]) -> Shape {
    const PATTERN: &[u8] = b"HTTP/1.# ###";
    let n = p.len().min(PATTERN.len());
    let ok = p.iter().zip(PATTERN).take(n).all(|(b, want)| match want {
        b'#' => b.is_ascii_digit(),
        _ => b == want,
    });
    match (ok, n == PATTERN.len()) {
        (false, _) => Shape::No,
        (true, true) => Shape::Yes,
        (true, false) => Shape::Maybe,
    }
}

fn prefix_shape(p: &[u8], want: &[u8]) -> Shape {
    let n = p.len().min(want.len());
    if p.get(..n) != want.get(..n) {
        Shape::No
    } else if n == want.len() {
        Shape::Yes
    } else {
        Shape::Maybe
    }
}

/// What the first bytes of a connection's client stream are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    Http,
    NotHttp(NonHttpKind),
    NeedMore,
}

fn client_opening(p: &[u8], max: usize) -> Opening {
    // A TLS handshake record: content type 22, legacy version 3.x (RFC 8446 §5.1).
    match p {
        [] | [0x16] => return Opening::NeedMore,
        [0x16, 0x03, ..] => return Opening::NotHttp(NonHttpKind::Tls),
        _ => {}
    }
    // RFC 9113 §3.4: the HTTP/2 client connection preface.
    match prefix_shape(p, b"PRI * HTTP/2.0") {
        Shape::Yes => return Opening::NotHttp(NonHttpKind::Http2),
        Shape::Maybe => return Opening::NeedMore,
        Shape::No => {}
    }
    // Malformed request lines count too (`decode::lenient`): only bytes that cannot be a
    // request line at all make a connection "other".
    match decode::lenient_request_line_shape(p) {
        LineShape::Request => Opening::Http,
        // An endless request line is the head parser's business (too large).
        LineShape::Incomplete if p.len() >= max => Opening::Http,
        LineShape::Incomplete => Opening::NeedMore,
        LineShape::NotRequest => Opening::NotHttp(NonHttpKind::Other),
    }
}

/// The server name of a TLS ClientHello that is complete in `buf` (RFC 8446 §4.1.2,
/// RFC 6066 §3). `None` if anything is missing or malformed.
fn tls_sni(buf: &[u8]) -> Option<&[u8]> {
    let mut rec = Reader(buf);
    if rec.u8()? != 0x16 {
        return None;
    }
    rec.take(2)?;
    let len = rec.u16()?;
    let mut hs = Reader(rec.take(len)?);
    if hs.u8()? != 1 {
        return None;
    }
    let len = hs.u24()?;
    let mut hello = Reader(hs.take(len)?);
    hello.take(2 + 32)?; // legacy_version, random
    let n = usize::from(hello.u8()?);
    hello.take(n)?; // legacy_session_id
    let n = hello.u16()?;
    hello.take(n)?; // cipher_suites
    let n = usize::from(hello.u8()?);
    hello.take(n)?; // legacy_compression_methods
    let n = hello.u16()?;
    let mut exts = Reader(hello.take(n)?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let n = exts.u16()?;
        let body = exts.take(n)?;
        if kind == 0 {
            let mut list = Reader(body);
            let n = list.u16()?;
            let mut names = Reader(list.take(n)?);
            while !names.0.is_empty() {
                let name_type = names.u8()?;
                let n = names.u16()?;
                let name = names.take(n)?;
                if name_type == 0 {
                    return Some(name);
                }
            }
            return None;
        }
    }
    None
}

/// A panic-free big-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
    }
    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from_be_bytes([
            0,
            0,
            0,
            0,
            0,
            *b.first()?,
            *b.get(1)?,
            *b.get(2)?,
        ]))
    }
}

/// A request waiting for its response.
#[derive(Debug)]
struct Pending {
    ts: Timestamp,
    method: Cow<'static, str>,
    /// Reuses the buffer of an answered request (see `Shared::spare`).
    section: String,
    /// The request's path for routes; a spare buffer too.
    path: String,
    head: bool,
    connect: bool,
    /// Asked to upgrade to h2c: a 101 hands the connection to HTTP/2, where this request is
    /// stream 1 and its answer comes.
    h2c_upgrade: bool,
}

fn method_name(m: &str) -> Cow<'static, str> {
    match METHODS.iter().find(|k| **k == m) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(m.to_owned()),
    }
}

/// Connection-wide state: roles, pending requests, and whether HTTP parsing stopped.
#[derive(Debug)]
struct Shared {
    /// Endpoints by direction: `ends[d]` sends direction `d`.
    ends: [Endpoint; 2],
    /// The client's direction, once known.
    client: Option<usize>,
    pending: VecDeque<Pending>,
    /// Section buffers of answered requests, reused so that queueing a request does not
    /// allocate; never more than the pending queue once held.
    spare: Vec<String>,
    /// Requests not queued because `max_pending` was reached; once one is dropped, later
    /// ones are too until these are answered, so pairing stays in order.
    lost: u64,
    opaque: bool,
    reported: bool,
    /// The client's first line could not be a request line: the connection is reported as
    /// "other" when it ends, unless a request or response turns up on it after all.
    maybe_other: bool,
    /// A request or response was counted on this connection.
    found_http: bool,
    /// Both streams start at their first byte (the handshake was seen).
    start_seen: bool,
    /// Direction `d` delivered bytes shaped like HTTP/2 frames while seeking (a connection
    /// whose start the capture missed). Both must, before it is taken for HTTP/2.
    h2_evidence: [bool; 2],
    /// The first such chunk of each direction (while it is small), replayed into HTTP/2 once
    /// both directions agree, so the request that gave the evidence still counts.
    h2_held: [Option<(Vec<u8>, Timestamp)>; 2],
    /// A 101 answered an h2c Upgrade: the upgraded request (time, method, section) becomes
    /// stream 1 of the HTTP/2 connection that follows.
    switch_h2: Option<(Timestamp, String, String, String)>,
}

/// How a counted request head arrived, besides its fields.
#[derive(Debug, Clone, Copy, Default)]
struct Tags {
    malformed: Option<Malformed>,
    /// The request line's end was not seen: the target, and so the section, may be cut.
    cut: bool,
}

/// A request head from the lenient reader, as the strict one would have given it.
fn strict_view<'a>(r: &'a LenientRequest<'a>) -> RequestHead<'a> {
    RequestHead {
        method: r.method,
        target: &r.target,
        version: r.version,
        host: r.host,
        body: r.body.unwrap_or(BodyLength::None),
        expect_continue: false,
        upgrade_h2c: false,
        head_len: r.head_len,
    }
}

/// A request line cut before its end counts only when it starts like one a client sends:
/// an upper-case method and a target starting with `/`, `*` or a scheme.
fn plausible_cut_request(r: &LenientRequest<'_>) -> bool {
    r.line_complete
        || (r.method.bytes().all(|b| b.is_ascii_uppercase())
            && r.target
                .bytes()
                .next()
                .is_some_and(|b| b == b'/' || b == b'*' || b.is_ascii_alphabetic()))
}

impl Shared {
    fn client_server(&self) -> (Endpoint, Endpoint) {
        let c = self.client.unwrap_or(0);
        (self.ends[c & 1], self.ends[(c + 1) & 1])
    }

    fn on_request(
        &mut self,
        h: &RequestHead<'_>,
        tags: Tags,
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> Mode {
        let (client, server) = self.client_server();
        self.found_http = true;
        if let Some(m) = tags.malformed {
            ctx.counters.malformed[m.index()] += 1;
        }
        let section = decode::section_of(h.method, h.target);
        // A target cut before the end of its first segment gives a section that may be cut:
        // say so rather than count `/us` for `/users`.
        let marked;
        let section = if tags.cut && section.len() == h.target.len() && section != "CONNECT" {
            // The mark fits within the section cap.
            let mut end = section
                .len()
                .min(decode::MAX_SECTION_LEN - '\u{2026}'.len_utf8());
            while !section.is_char_boundary(end) {
                end -= 1;
            }
            marked = format!("{}\u{2026}", &section[..end]);
            marked.as_str()
        } else {
            section
        };
        let (path, path_cut) = decode::request_path(h.method, h.target, tags.cut);
        ctx.counters.paths_cut += u64::from(path_cut);
        let body = match h.body {
            BodyLength::Fixed(n) => n,
            _ => 0,
        };
        ctx.sink.request(&RequestEvent {
            ts,
            client,
            server,
            method: h.method,
            target: h.target,
            section,
            path: &path,
            host: h.host,
            protocol: Protocol::http1(h.version),
            bytes: (h.head_len as u64).saturating_add(body),
            malformed: tags.malformed,
        });
        let connect = h.method == "CONNECT";
        if self.pending.len() >= ctx.config.max_pending || self.lost > 0 {
            ctx.counters.pending_overflows += 1;
            self.lost += 1;
        } else {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            buf.push_str(section);
            let mut path_buf = self.spare.pop().unwrap_or_default();
            path_buf.clear();
            path_buf.push_str(&path);
            self.pending.push_back(Pending {
                ts,
                method: method_name(h.method),
                section: buf,
                path: path_buf,
                head: h.method == "HEAD",
                connect,
                h2c_upgrade: h.upgrade_h2c,
            });
        }
        if connect {
            Mode::ConnectWait
        } else {
            mode_after_head(h.body)
        }
    }

    /// Returns the server direction's next mode, and whether a refused CONNECT lets the
    /// client direction parse requests again.
    fn on_response(&mut self, h: &ResponseHead, ts: Timestamp, ctx: &mut Ctx<'_>) -> (Mode, bool) {
        self.found_http = true;
        let h2c = h.status == 101 && self.pending.front().is_some_and(|r| r.h2c_upgrade);
        if (100..200).contains(&h.status) && (h.status != 101 || h2c) {
            // Interim (100 Continue, 103 Early Hints): counted in its status class, but the
            // final response follows and the request stays pending. 1xx never has a body
            // (RFC 9112 §6.3).
            let (client, server) = self.client_server();
            let req = self.pending.front();
            ctx.sink.response(&ResponseEvent {
                ts,
                client,
                server,
                status: h.status,
                method: req.map(|r| &*r.method),
                section: req.map(|r| &*r.section),
                path: req.map(|r| &*r.path),
                latency: None,
                bytes: h.head_len as u64,
                interim: true,
                grpc_status: None,
            });
            if h2c {
                // RFC 9113 §3.2: the server's next bytes are HTTP/2, and so is the answer to
                // the upgraded request.
                if let Some(r) = self.pending.pop_front() {
                    self.switch_h2 = Some((r.ts, r.method.into_owned(), r.section, r.path));
                }
                return (Mode::Opaque, false);
            }
            return (Mode::Head, false);
        }
        let req = self.pending.pop_front();
        if req.is_none() {
            if self.lost > 0 {
                self.lost -= 1;
            } else {
                ctx.counters.unpaired_responses += 1;
            }
        }
        // RFC 9112 §6.3: responses to HEAD, and 204 and 304, end at the head.
        let body = match (&req, h.status) {
            (Some(r), _) if r.head => BodyLength::None,
            (_, 204 | 304) => BodyLength::None,
            _ => h.body,
        };
        let connect = req.as_ref().is_some_and(|r| r.connect);
        let tunnel = connect && (200..300).contains(&h.status);
        let (client, server) = self.client_server();
        let declared = match body {
            BodyLength::Fixed(n) => n,
            _ => 0,
        };
        ctx.sink.response(&ResponseEvent {
            ts,
            client,
            server,
            status: h.status,
            method: req.as_ref().map(|r| &*r.method),
            section: req.as_ref().map(|r| &*r.section),
            path: req.as_ref().map(|r| &*r.path),
            latency: req.as_ref().map(|r| ts.saturating_sub(r.ts)),
            bytes: (h.head_len as u64).saturating_add(declared),
            interim: false,
            grpc_status: None,
        });
        if let Some(r) = req {
            self.spare.push(r.section);
            self.spare.push(r.path);
        }
        if h.status == 101 {
            // RFC 9110 §15.2.2: after the 101 the connection speaks the protocol it switched
            // to (WebSocket, h2c): its frames are not parsed as HTTP/1.
            self.opaque = true;
            return (Mode::Opaque, false);
        }
        if tunnel {
            // RFC 9110 §9.3.6: after a 2xx to CONNECT the connection is a tunnel.
            self.opaque = true;
            return (Mode::Opaque, false);
        }
        (mode_after_head(body), connect)
    }
}

/// HTTP state of one connection: both directions and the pending requests.
#[derive(Debug)]
pub(super) struct HttpConn {
    streams: [Stream; 2],
    shared: Shared,
    /// Set once the connection speaks HTTP/2: every byte goes there from then on.
    h2: Option<Box<H2Conn>>,
}

impl HttpConn {
    /// `ends[d]` is the sender of direction `d`. `start_seen`: the handshake was seen, so
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

    /// The sender of direction `dir` is the client (it sent the SYN). The first word wins.
    pub(super) fn set_client(&mut self, dir: usize) {
        if self.shared.client.is_none() {
            self.shared.client = Some(dir & 1);
        }
    }

    pub(super) fn on_chunk(&mut self, dir: usize, chunk: Chunk<'_>, ctx: &mut Ctx<'_>) {
        let dir = dir & 1;
        if let Some(h2) = &mut self.h2 {
            match chunk {
                Chunk::Data(bytes, ts) => h2.on_data(dir, bytes, ts, ctx),
                Chunk::Gap(lost) => {
                    ctx.counters.gaps_skipped += 1;
                    h2.on_gap(dir, lost, ctx);
                }
                Chunk::End => h2.on_end(dir, ctx),
            }
            return;
        }
        match chunk {
            Chunk::Data(bytes, ts) => {
                if !bytes.is_empty() {
                    self.on_data(dir, bytes, ts, ctx, 0);
                    self.streams[dir].saw_data = true;
                }
            }
            Chunk::Gap(lost) => {
                ctx.counters.gaps_skipped += 1;
                self.on_gap(dir, lost, ctx);
            }
            Chunk::End => self.on_end(dir, ctx),
        }
    }

    /// End of the connection: what is still pending was never answered.
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(h2) = &mut self.h2 {
            h2.finish(ctx);
        }
        for dir in 0..2 {
            if self.streams[dir].mode != Mode::Closed {
                self.on_end(dir, ctx);
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
        let client = self.shared.client.unwrap_or(0);
        Box::new(H2Conn::new(self.shared.ends, client, start_seen, preface))
    }

    /// A connection whose start the capture missed is HTTP/2 when, before anything HTTP/1
    /// turned up, both directions delivered chunks that start with well-formed frames.
    fn h2_mid_stream(
        &mut self,
        dir: usize,
        client: bool,
        bytes: &[u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        if self.shared.start_seen
            || self.shared.found_http
            || self.streams[dir].mode != Mode::Seek
            || !h2::looks_like_frames(bytes, client)
        {
            return false;
        }
        self.shared.h2_evidence[dir] = true;
        if self.shared.h2_evidence != [true, true] {
            if self.shared.h2_held[dir].is_none() && bytes.len() <= ctx.config.max_head_bytes {
                self.shared.h2_held[dir] = Some((bytes.to_vec(), ts));
            }
            return false;
        }
        let mut h2 = self.start_h2(false, false, ctx);
        let other = (dir + 1) & 1;
        if let Some((held, held_ts)) = self.shared.h2_held[other].take() {
            h2.on_data(other, &held, held_ts, ctx);
        }
        self.shared.h2_held = [None, None];
        h2.on_data(dir, bytes, ts, ctx);
        self.h2 = Some(h2);
        true
    }

    /// Mid-stream roles (no SYN seen), from the first bytes a direction delivers.
    fn decide_roles(&mut self, dir: usize, bytes: &[u8]) {
        let other = (dir + 1) & 1;
        let client = if bytes.starts_with(b"HTTP/1.") {
            other
        } else if decode::looks_like_request_start(bytes) {
            dir
        } else if self.shared.ends[dir].port < self.shared.ends[other].port {
            // A guess: servers usually listen on the lower port.
            other
        } else {
            dir
        };
        self.shared.client = Some(client);
    }

    fn on_data(&mut self, dir: usize, bytes: &[u8], ts: Timestamp, ctx: &mut Ctx<'_>, depth: u8) {
        if self.shared.client.is_none() {
            self.decide_roles(dir, bytes);
        }
        let client = self.shared.client == Some(dir);
        if !client && self.streams[(dir + 1) & 1].mode == Mode::TlsHello {
            // The server spoke: the ClientHello is as complete as it will get.
            self.report_tls((dir + 1) & 1, ctx);
        }
        if self.h2_mid_stream(dir, client, bytes, ts, ctx) {
            return;
        }
        let mut data = bytes;
        while !data.is_empty() && !self.shared.opaque {
            let before = (data.len(), self.streams[dir].mode);
            data = match self.streams[dir].mode {
                Mode::Opaque | Mode::Closed | Mode::ConnectWait => return,
                Mode::Body(_) => self.body(dir, data, ctx),
                Mode::SkipHead => self.skip_head(dir, data),
                Mode::Head => self.head(dir, client, data, ts, ctx, depth),
                Mode::Seek => self.seek(dir, client, data, ts, ctx),
                Mode::Sniff => self.sniff(dir, client, data, ts, ctx),
                Mode::TlsHello => self.tls_hello(dir, data, ctx),
            };
            if let Some((ts0, method, section, path)) = self.shared.switch_h2.take() {
                let mut h2 = self.start_h2(true, true, ctx);
                h2.upgraded_request(ts0, &method, &section, &path);
                h2.on_data(dir, data, ts, ctx);
                self.h2 = Some(h2);
                return;
            }
            if before == (data.len(), self.streams[dir].mode) {
                // No progress; cannot happen, but a stuck loop must not be possible either.
                return;
            }
        }
    }

    fn on_gap(&mut self, dir: usize, lost: u32, ctx: &mut Ctx<'_>) {
        let st = &mut self.streams[dir];
        match st.mode {
            Mode::Opaque | Mode::Closed | Mode::ConnectWait | Mode::Body(Body::UntilClose) => {}
            Mode::TlsHello => self.report_tls(dir, ctx),
            // The end of a head was lost: count it from its start.
            Mode::Head | Mode::Sniff if !st.buf.is_empty() => self.head_cut(dir, ctx),
            Mode::Seek if st.candidate_after_gap && !st.buf.is_empty() => self.head_cut(dir, ctx),
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
        self.streams[dir].after_gap = self.streams[dir].mode == Mode::Seek;
    }

    fn on_end(&mut self, dir: usize, ctx: &mut Ctx<'_>) {
        let client = self.shared.client == Some(dir);
        let st = &mut self.streams[dir];
        match st.mode {
            Mode::TlsHello => self.report_tls(dir, ctx),
            Mode::Head | Mode::Sniff | Mode::Seek if client && !st.buf.is_empty() => {
                ctx.counters.requests_cut += 1;
            }
            _ => {}
        }
        let st = &mut self.streams[dir];
        st.buf = Vec::new();
        st.mode = Mode::Closed;
    }

    fn body<'d>(&mut self, dir: usize, data: &'d [u8], ctx: &mut Ctx<'_>) -> &'d [u8] {
        let st = &mut self.streams[dir];
        let Mode::Body(body) = &mut st.mode else {
            return data;
        };
        match body {
            Body::Fixed(left) => {
                let n = (*left).min(data.len() as u64);
                *left -= n;
                if *left == 0 {
                    st.mode = Mode::Head;
                }
                data.get(usize::try_from(n).unwrap_or(data.len())..)
                    .unwrap_or(&[])
            }
            Body::UntilClose => &[],
            Body::Chunked(dec) => {
                let (n, state) = dec.feed(data);
                match state {
                    Decoded::More => {}
                    Decoded::Done => st.mode = Mode::Head,
                    Decoded::Bad => {
                        ctx.counters.parse_errors += 1;
                        st.seek(false);
                    }
                }
                data.get(n..).unwrap_or(&[])
            }
        }
    }

    fn head<'d>(
        &mut self,
        dir: usize,
        client: bool,
        data: &'d [u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
        depth: u8,
    ) -> &'d [u8] {
        let max = ctx.config.max_head_bytes.max(1);
        let st = &mut self.streams[dir];
        if st.buf.is_empty() {
            // Zero-copy: parse the head straight from the delivered bytes.
            let parsed = if client {
                decode::parse_request_head(data).map(|o| {
                    o.map(|h| {
                        let n = h.head_len;
                        (
                            self.shared.on_request(&h, Tags::default(), ts, ctx),
                            false,
                            n,
                        )
                    })
                })
            } else {
                decode::parse_response_head(data).map(|o| {
                    o.map(|h| {
                        let (m, resume) = self.shared.on_response(&h, ts, ctx);
                        (m, resume, h.head_len)
                    })
                })
            };
            match parsed {
                Ok(Some((mode, resume, n))) => {
                    self.after_head(dir, mode, resume);
                    return data.get(n..).unwrap_or(&[]);
                }
                Ok(None) if data.len() <= max => {
                    st.buf.extend_from_slice(data);
                    st.buf_ts = ts;
                    st.nl = scan_head_end(0, data).1;
                    return &[];
                }
                Err(_) if !could_start_message(client, data) => {
                    ctx.counters.parse_errors += 1;
                    st.seek(false);
                    return data;
                }
                // Too large, or refused by the strict grammar: the buffered way below keeps
                // at most `max` bytes and reads the head leniently.
                _ => {
                    st.buf_ts = ts;
                    st.nl = 0;
                }
            }
        }
        // A head is buffered: add bytes up to its end, then parse the buffer.
        let (end, nl) = scan_head_end(st.nl, data);
        let take = end.unwrap_or(data.len());
        let room = max.saturating_sub(st.buf.len());
        if take > room {
            st.buf.extend_from_slice(data.get(..room).unwrap_or(data));
            return self.too_large(dir, client, data, room, ctx);
        }
        st.buf.extend_from_slice(data.get(..take).unwrap_or(data));
        st.nl = nl;
        let rest = data.get(take..).unwrap_or(&[]);
        if end.is_none() {
            return rest;
        }
        let head_ts = st.buf_ts;
        let parsed = if client {
            decode::parse_request_head(&st.buf).map(|o| {
                o.map(|h| {
                    (
                        self.shared.on_request(&h, Tags::default(), head_ts, ctx),
                        false,
                    )
                })
            })
        } else {
            decode::parse_response_head(&st.buf)
                .map(|o| o.map(|h| self.shared.on_response(&h, head_ts, ctx)))
        };
        match parsed {
            Ok(Some((mode, resume))) => {
                self.streams[dir].clear_buf();
                self.after_head(dir, mode, resume);
            }
            // Only blank lines so far (httparse skips them before a request line).
            Ok(None) => {}
            Err(_) => self.refused_head(dir, client, ctx, depth),
        }
        rest
    }

    /// A whole head (in `buf`) that the strict grammar refused: counted if a server would
    /// still read it as a message, else skipped to the next line that starts one.
    fn refused_head(&mut self, dir: usize, client: bool, ctx: &mut Ctx<'_>, depth: u8) {
        let st = &mut self.streams[dir];
        let old = std::mem::take(&mut st.buf);
        let ts = st.buf_ts;
        if self.count_lenient(dir, client, &old, ts, ctx).is_some() {
            return;
        }
        ctx.counters.parse_errors += 1;
        self.streams[dir].seek(false);
        if depth == 0 {
            // The next line may start a good head: look again past the bad one's start.
            self.on_data(dir, old.get(1..).unwrap_or(&[]), ts, ctx, 1);
        }
    }

    /// Counts the message whose head (whole or the start of it) is `head`, read leniently;
    /// sets the direction's next mode and returns it, or `None` (nothing counted) when the
    /// bytes do not start a message. A head whose end is missing leaves the body's framing
    /// to the caller: the mode returned is the one its headers so far imply.
    fn count_lenient(
        &mut self,
        dir: usize,
        client: bool,
        head: &[u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> Option<Mode> {
        let (mode, resume, framing_known) = if client {
            let r = decode::read_request_lenient(head).filter(plausible_cut_request)?;
            let tags = Tags {
                malformed: r.malformed,
                cut: !r.line_complete,
            };
            let mode = self.shared.on_request(&strict_view(&r), tags, ts, ctx);
            (mode, false, r.body.is_some())
        } else {
            let r = decode::read_response_lenient(head)?;
            let h = ResponseHead {
                status: r.status,
                version: r.version,
                body: r.body.unwrap_or(BodyLength::UntilClose),
                head_len: r.head_len,
            };
            let (mode, resume) = self.shared.on_response(&h, ts, ctx);
            (mode, resume, r.body.is_some())
        };
        // Framing the headers contradict: the body's end is unknown, so resync.
        let mode = match mode {
            Mode::Body(_) | Mode::Head if !framing_known => Mode::Seek,
            m => m,
        };
        self.after_head(dir, mode, resume);
        if mode == Mode::Seek {
            self.streams[dir].seek(true);
        }
        Some(self.streams[dir].mode)
    }

    /// The head outgrew `max_head_bytes` (its first `max` bytes are in `buf`): it is counted
    /// from its start line and the framing headers seen so far, and the rest of it is skipped
    /// without being kept. `used`: bytes of `data` already in `buf`.
    fn too_large<'d>(
        &mut self,
        dir: usize,
        client: bool,
        data: &'d [u8],
        used: usize,
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        ctx.counters.heads_too_large += 1;
        let st = &mut self.streams[dir];
        let head = std::mem::take(&mut st.buf);
        let ts = st.buf_ts;
        let nl = scan_head_end(0, &head).1;
        match self.count_lenient(dir, client, &head, ts, ctx) {
            Some(mode @ (Mode::Head | Mode::Body(_) | Mode::Seek | Mode::ConnectWait)) => {
                let st = &mut self.streams[dir];
                st.after_skip = mode;
                st.mode = Mode::SkipHead;
                st.nl = nl;
                data.get(used..).unwrap_or(&[])
            }
            // Switched to another protocol (or a tunnel): nothing more to parse.
            Some(_) => &[],
            None => {
                let st = &mut self.streams[dir];
                st.seek(false);
                data.get(used..).unwrap_or(&[])
            }
        }
    }

    /// Skips to the end of a head too large to keep.
    fn skip_head<'d>(&mut self, dir: usize, data: &'d [u8]) -> &'d [u8] {
        let st = &mut self.streams[dir];
        let (end, nl) = scan_head_end(st.nl, data);
        st.nl = nl;
        match end {
            Some(n) => {
                st.mode = st.after_skip;
                if st.mode == Mode::Seek {
                    st.seek(true);
                }
                data.get(n..).unwrap_or(&[])
            }
            None => &[],
        }
    }

    /// A gap cut the head being collected in `buf`: the message is counted from what arrived
    /// (a server received all of it), and the stream resyncs after it.
    fn head_cut(&mut self, dir: usize, ctx: &mut Ctx<'_>) {
        let client = self.shared.client == Some(dir);
        let st = &mut self.streams[dir];
        let head = std::mem::take(&mut st.buf);
        let ts = st.buf_ts;
        match self.count_lenient(dir, client, &head, ts, ctx) {
            Some(Mode::Head | Mode::Body(_) | Mode::Seek) => {
                ctx.counters.heads_cut += 1;
                self.streams[dir].seek(true);
            }
            Some(_) => ctx.counters.heads_cut += 1,
            None => self.streams[dir].seek(true),
        }
    }

    fn after_head(&mut self, dir: usize, mode: Mode, resume_client: bool) {
        self.streams[dir].mode = mode;
        if resume_client {
            // A refused CONNECT: the client goes on with requests.
            if let Some(c) = self.shared.client {
                let cs = &mut self.streams[c & 1];
                if cs.mode == Mode::ConnectWait {
                    cs.mode = Mode::Head;
                }
            }
        }
        if self.shared.opaque {
            self.go_opaque();
        }
    }

    fn shape(client: bool, p: &[u8]) -> Shape {
        if client {
            request_line_shape(p, false)
        } else {
            status_line_shape(p)
        }
    }

    fn seek<'d>(
        &mut self,
        dir: usize,
        client: bool,
        data: &'d [u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        let max = ctx.config.max_head_bytes.max(1);
        let st = &mut self.streams[dir];
        if !st.buf.is_empty() {
            // A candidate line is buffered: add the rest of its line and judge again.
            let k = data
                .iter()
                .position(|b| *b == b'\n')
                .map_or(data.len(), |i| i + 1);
            let line = data.get(..k).unwrap_or(data);
            let rest = data.get(k..).unwrap_or(&[]);
            let verdict = if st.buf.len().saturating_add(k) > max {
                Shape::No
            } else {
                st.buf.extend_from_slice(line);
                Self::shape(client, &st.buf)
            };
            match verdict {
                Shape::Yes => {
                    st.mode = Mode::Head;
                    st.nl = scan_head_end(0, &st.buf).1;
                }
                Shape::Maybe => {}
                Shape::No => st.seek(line.last() == Some(&b'\n')),
            }
            return rest;
        }
        let after_gap = std::mem::take(&mut st.after_gap);
        let mut pos = 0;
        let mut at_line_start = st.line_start;
        loop {
            let p = if at_line_start {
                pos
            } else {
                let from = data.get(pos..).unwrap_or(&[]);
                match from.iter().position(|b| *b == b'\n') {
                    Some(i) => pos + i + 1,
                    None => {
                        st.line_start = false;
                        return &[];
                    }
                }
            };
            let Some(line) = data.get(p..).filter(|l| !l.is_empty()) else {
                st.line_start = true;
                return &[];
            };
            match Self::shape(client, line) {
                Shape::Yes => {
                    st.mode = Mode::Head;
                    return line;
                }
                Shape::Maybe if line.len() < max => {
                    st.buf.extend_from_slice(line);
                    st.buf_ts = ts;
                    st.candidate_after_gap = after_gap && p == 0;
                    return &[];
                }
                Shape::Maybe | Shape::No => {
                    pos = p;
                    at_line_start = false;
                }
            }
        }
    }

    /// The first bytes of a connection whose start we saw.
    fn sniff<'d>(
        &mut self,
        dir: usize,
        client: bool,
        data: &'d [u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        let max = ctx.config.max_head_bytes.max(1);
        let other_saw_data = self.streams[(dir + 1) & 1].saw_data;
        let st = &mut self.streams[dir];
        // Decisions need at most the first line: buffer up to its end.
        let (opening, rest, zero_copy) = if st.buf.is_empty() {
            (opening(client, data, max), data, true)
        } else {
            let k = data
                .iter()
                .position(|b| *b == b'\n')
                .map_or(data.len(), |i| i + 1);
            let k = k.min(max.saturating_sub(st.buf.len()).max(1));
            st.buf.extend_from_slice(data.get(..k).unwrap_or(data));
            (
                opening(client, &st.buf, max),
                data.get(k..).unwrap_or(&[]),
                false,
            )
        };
        match opening {
            Opening::Http => {
                st.mode = Mode::Head;
                if !zero_copy {
                    st.nl = scan_head_end(0, &st.buf).1;
                }
                rest
            }
            Opening::NeedMore => {
                if zero_copy {
                    st.buf.extend_from_slice(data);
                    st.buf_ts = ts;
                    return &[];
                }
                rest
            }
            Opening::NotHttp(NonHttpKind::Tls) if client => {
                st.mode = Mode::TlsHello;
                rest
            }
            Opening::NotHttp(NonHttpKind::Http2) if client => {
                // The prior-knowledge preface: HTTP/2 from the first byte.
                let first = if zero_copy {
                    Vec::new()
                } else {
                    std::mem::take(&mut st.buf)
                };
                let mut h2 = self.start_h2(true, true, ctx);
                h2.on_data(dir, &first, ts, ctx);
                h2.on_data(dir, rest, ts, ctx);
                self.h2 = Some(h2);
                &[]
            }
            Opening::NotHttp(_) if !client && zero_copy && starts_with_settings(data) => {
                // A prior-knowledge server may send its SETTINGS before the client's preface
                // arrives.
                let mut h2 = self.start_h2(true, true, ctx);
                h2.on_data(dir, data, ts, ctx);
                self.h2 = Some(h2);
                &[]
            }
            Opening::NotHttp(NonHttpKind::Other) if client => {
                // Not a request line, but one odd line must not hide the requests after it
                // (a server answers it with 400 and may go on): look for the next one. The
                // connection is "other" if nothing on it turns out to be HTTP.
                self.shared.maybe_other = true;
                let line_start = zero_copy || st.buf.last() == Some(&b'\n');
                st.seek(line_start);
                if zero_copy { data } else { rest }
            }
            Opening::NotHttp(kind) if !client && self.shared.maybe_other => {
                // Neither side speaks HTTP/1.
                self.report(kind, None, ctx);
                &[]
            }
            Opening::NotHttp(_) if !client && other_saw_data => {
                // The client spoke HTTP but the answer is not a status line.
                ctx.counters.parse_errors += 1;
                st.seek(false);
                rest
            }
            Opening::NotHttp(kind) => {
                self.report(kind, None, ctx);
                &[]
            }
        }
    }

    fn tls_hello<'d>(&mut self, dir: usize, data: &'d [u8], ctx: &mut Ctx<'_>) -> &'d [u8] {
        let cap = ctx.config.max_head_bytes.clamp(5, MAX_TLS_RECORD);
        let st = &mut self.streams[dir];
        let room = cap.saturating_sub(st.buf.len());
        st.buf
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or(data));
        let record = match st.buf.get(3..5) {
            Some([a, b]) => 5 + usize::from(u16::from_be_bytes([*a, *b])),
            _ => usize::MAX,
        };
        if st.buf.len() >= record.min(cap) {
            self.report_tls(dir, ctx);
        }
        &[]
    }

    fn report_tls(&mut self, dir: usize, ctx: &mut Ctx<'_>) {
        let buf = std::mem::take(&mut self.streams[dir].buf);
        self.report(NonHttpKind::Tls, tls_sni(&buf), ctx);
    }

    /// Reports the connection as not HTTP/1, once, and stops parsing it.
    fn report(&mut self, kind: NonHttpKind, sni: Option<&[u8]>, ctx: &mut Ctx<'_>) {
        if !self.shared.reported {
            self.shared.reported = true;
            let (_, server) = self.shared.client_server();
            ctx.sink.non_http(kind, server, sni);
        }
        self.shared.opaque = true;
        self.go_opaque();
    }

    fn go_opaque(&mut self) {
        for st in &mut self.streams {
            if st.mode != Mode::Closed {
                st.mode = Mode::Opaque;
            }
            st.buf = Vec::new();
        }
    }
}

fn opening(client: bool, p: &[u8], max: usize) -> Opening {
    if client {
        return client_opening(p, max);
    }
    match status_line_shape(p) {
        Shape::Yes => Opening::Http,
        Shape::Maybe => Opening::NeedMore,
        Shape::No => Opening::NotHttp(NonHttpKind::Other),
    }
}

/// Does a server's first chunk start with a SETTINGS frame (the HTTP/2 server preface)?
fn starts_with_settings(data: &[u8]) -> bool {
    use crate::decode::http2::frame::{FrameHeader, FrameType};
    data.first_chunk::<9>()
        .map(FrameHeader::parse)
        .is_some_and(|h| h.kind == FrameType::Settings && h2::looks_like_frames(data, false))
}

/// Could `data`, at a message boundary, start a message (a request by the counting rule, or a
/// status line)? If not, the bytes are skipped to the next line.
fn could_start_message(client: bool, data: &[u8]) -> bool {
    if client {
        decode::lenient_request_line_shape(data) != LineShape::NotRequest
    } else {
        let start = data
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(data.len());
        status_line_shape(data.get(start..).unwrap_or(&[])) != Shape::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], split: usize) -> (usize, Decoded) {
        let mut d = ChunkDecoder::default();
        let mut used = 0;
        for part in input.chunks(split.max(1)) {
            let (n, s) = d.feed(part);
            used += n;
            if s != Decoded::More {
                return (used, s);
            }
        }
        (used, Decoded::More)
    }

    #[test]
    fn chunked_body_any_split() {
        let body =
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 1..body.len() {
            assert_eq!(
                decode_all(body, split),
                (body.len() - 4, Decoded::Done),
                "split {split}"
            );
        }
        assert_eq!(decode_all(b"0\r\n\r\n", 100), (5, Decoded::Done));
        assert_eq!(
            decode_all(b"13\r\nHTTP/1.1 200 OK\r\n\r\n\r\n0\r\n\r\n", 100),
            (30, Decoded::Done)
        );
        assert_eq!(decode_all(b"zz\r\n", 100).1, Decoded::Bad);
        assert_eq!(decode_all(b"11111111111111111\r\n", 100).1, Decoded::Bad);
        assert_eq!(decode_all(b"2\r\nabX", 100).1, Decoded::Bad);
    }

    #[test]
    fn line_shapes() {
        assert_eq!(
            request_line_shape(b"GET /x HTTP/1.1\r\n", false),
            Shape::Yes
        );
        assert_eq!(request_line_shape(b"GET /x HT", false), Shape::Maybe);
        assert_eq!(request_line_shape(b"PO", false), Shape::Maybe);
        assert_eq!(request_line_shape(b"GET /x\r\n", false), Shape::No);
        assert_eq!(request_line_shape(b"PROPFIND / HTTP/1.1", false), Shape::No);
        assert_eq!(request_line_shape(b"PROPFIND / HTTP/1.1", true), Shape::Yes);
        assert_eq!(request_line_shape(b"get / HTTP/1.1", false), Shape::No);
        // Targets as httparse takes them: bytes from 0x80 (UTF-8), but no control or DEL.
        let cafe = "GET /caf\u{e9}/menu HTTP/1.1\r\n".as_bytes();
        assert_eq!(request_line_shape(cafe, false), Shape::Yes);
        assert_eq!(request_line_shape(cafe, true), Shape::Yes);
        assert_eq!(request_line_shape(b"GET /\xff HTTP/1.1", true), Shape::Yes);
        assert_eq!(
            request_line_shape(b"GET /\x1b[2J HTTP/1.1", true),
            Shape::No
        );
        assert_eq!(request_line_shape(b"GET /\x7f HTTP/1.1", true), Shape::No);
        assert_eq!(request_line_shape(b"GET /a\tb HTTP/1.1", true), Shape::No);
        assert_eq!(request_line_shape(b"GET /\xc3", true), Shape::Maybe);
        assert_eq!(status_line_shape(b"HTTP/1.1 200 OK"), Shape::Yes);
        assert_eq!(status_line_shape(b"HTTP/1.1 2"), Shape::Maybe);
        assert_eq!(status_line_shape(b"HTTP/2 200"), Shape::No);
    }

    #[test]
    fn openings() {
        assert_eq!(
            client_opening("GET /\u{1f600} HTTP/1.1\r\n".as_bytes(), 100),
            Opening::Http
        );
        // Malformed, but a server reads it as a request (and answers 400).
        assert_eq!(
            client_opening(b"GET /\x00 HTTP/1.1\r\n", 100),
            Opening::Http
        );
        assert_eq!(
            client_opening(b"GET /\x00\r\n", 100),
            Opening::NotHttp(NonHttpKind::Other)
        );
        assert_eq!(client_opening(b"\x16", 100), Opening::NeedMore);
        assert_eq!(
            client_opening(b"\x16\x03\x01", 100),
            Opening::NotHttp(NonHttpKind::Tls)
        );
        assert_eq!(
            client_opening(b"PRI * HTTP/2.0\r\n", 100),
            Opening::NotHttp(NonHttpKind::Http2)
        );
        assert_eq!(client_opening(b"PR", 100), Opening::NeedMore);
        assert_eq!(
            client_opening(b"SSH-2.0-x\r\n", 100),
            Opening::NotHttp(NonHttpKind::Other)
        );
        // The line's end decides (a target may hold spaces).
        assert_eq!(client_opening(b"GET / HTTP/1.1", 100), Opening::NeedMore);
        assert_eq!(client_opening(b"GET / HTTP/1.1\n", 100), Opening::Http);
        assert_eq!(client_opening(b"GET /aaaaaaaa", 8), Opening::Http);
    }

    #[test]
    fn head_end_scan() {
        assert_eq!(
            scan_head_end(0, b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody").0,
            Some(24)
        );
        let (none, s) = scan_head_end(0, b"GET / HTTP/1.1\r\n\r");
        assert_eq!(none, None);
        assert_eq!(scan_head_end(s, b"\nx").0, Some(1));
        assert_eq!(scan_head_end(0, b"a\n\nb").0, Some(3));
    }

    #[test]
    fn sni_parser_is_bounded() {
        assert_eq!(tls_sni(&[]), None);
        assert_eq!(tls_sni(&[0x16, 3, 1, 0xff, 0xff, 1]), None);
        for n in 0..40 {
            let _ = tls_sni(&vec![0x16; n]);
        }
    }
}
