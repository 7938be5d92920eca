//! HTTP/2 without TLS (h2c) on the two reassembled streams of one connection: frames read per
//! direction, header blocks decoded with HPACK, and every client-opened stream counted as a
//! request, paired with the first final HEADERS the server sends on it.
//!
//! A request is a HEADERS frame on a new odd stream from the client, counted whether or not
//! its header block decodes: a stream the server had to handle is a request even when the
//! capture cannot say which path it asked for (section `(unknown)`). A rapid-reset attack
//! (HEADERS then RST_STREAM, thousands a second) therefore shows as the request rate it is.
//! Server push is counted apart and never as a client request. gRPC responses wait for their
//! trailers, whose `grpc-status` says how the call ended.
//!
//! Memory is bounded per connection: streams tracked (`MAX_STREAMS`), a header block being
//! assembled from CONTINUATION frames (`FlowConfig::max_head_bytes`), HPACK tables (their own
//! cap); each cap that bites is a counter. Bytes lost to a gap inside a DATA payload keep the
//! framing; anything else loses the frame boundaries until a chunk starts with a plausible
//! frame header, and the HPACK tables of that direction become partly unknown.

use super::http_stream::Ctx;
use super::{Direction, Protocol, RequestEvent, ResponseEvent, Side};
use crate::decode::http2::frame::{
    self, DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, FrameHeader, FrameType, MAX_MAX_FRAME_SIZE,
    PREFACE, flags, setting,
};
use crate::decode::http2::hpack::{self, Field};
use crate::decode::{self, Endpoint};
use crate::time::Timestamp;

/// Streams tracked at once per connection (servers usually allow 100 concurrent ones).
pub(super) const MAX_STREAMS: usize = 256;

/// Section of a request whose `:path` could not be decoded.
pub const UNKNOWN_SECTION: &str = "(unknown)";
/// Method of a request whose `:method` could not be decoded.
pub const UNKNOWN_METHOD: &str = "(unknown)";

/// What the observer reads from one header block.
#[derive(Debug, Default)]
struct Fields {
    method: Option<String>,
    path: Option<String>,
    authority: Option<Vec<u8>>,
    status: Option<u16>,
    grpc_status: Option<u16>,
    grpc: bool,
    /// Some field could not be decoded (an index into table entries from before the capture,
    /// or a block lost or refused).
    unknown: bool,
}

impl Fields {
    fn unknown() -> Self {
        Fields {
            unknown: true,
            ..Fields::default()
        }
    }

    fn take(&mut self, f: Field<'_>) {
        let Field::Known { name, value } = f else {
            self.unknown = true;
            return;
        };
        let text = || String::from_utf8_lossy(value).into_owned();
        match name {
            b":method" => self.method = Some(text()),
            b":path" => self.path = Some(text()),
            b":authority" => self.authority = Some(value.to_vec()),
            b":status" => self.status = parse_status(value),
            b"grpc-status" => self.grpc_status = parse_status(value),
            b"content-type" => self.grpc |= value.starts_with(b"application/grpc"),
            _ => {}
        }
    }
}

fn parse_status(v: &[u8]) -> Option<u16> {
    if v.is_empty() || v.len() > 3 {
        return None;
    }
    v.iter().try_fold(0u16, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u16::from(b - b'0'))
    })
}

/// A stream opened by the client and not yet answered (or answered, waiting for gRPC trailers).
#[derive(Debug)]
struct Stream {
    id: u32,
    ts: Timestamp,
    method: String,
    section: String,
    path: String,
    grpc: bool,
    /// The final response's status and time, once seen; for gRPC held until the trailers.
    response: Option<(u16, Timestamp)>,
}

/// A header block being put together from HEADERS/PUSH_PROMISE and CONTINUATION frames.
#[derive(Debug)]
struct Block {
    stream: u32,
    push: bool,
    end_stream: bool,
    bytes: Vec<u8>,
    /// Grew past the cap: no longer kept, its fields unknown.
    too_large: bool,
    /// Its request was counted before the block ended (it outgrew the cap).
    counted: bool,
    ts: Timestamp,
}

/// One direction's frame reader.
#[derive(Debug)]
struct Reader {
    /// Bytes of the client connection preface still expected (client direction only).
    preface_left: usize,
    header: [u8; FRAME_HEADER_LEN],
    header_len: usize,
    /// The frame whose payload is being read, and how much of it is left.
    frame: Option<(FrameHeader, u32)>,
    /// Payload of a frame the observer reads (not DATA).
    payload: Vec<u8>,
    payload_ts: Timestamp,
    block: Option<Block>,
    /// SETTINGS_MAX_FRAME_SIZE the receiving side announced.
    max_frame: u32,
    /// Frame boundaries are known (false after a gap, until a chunk starts with a frame).
    synced: bool,
    ended: bool,
}

impl Reader {
    fn new(preface: bool, synced: bool) -> Self {
        Reader {
            preface_left: if preface { PREFACE.len() } else { 0 },
            header: [0; FRAME_HEADER_LEN],
            header_len: 0,
            frame: None,
            payload: Vec::new(),
            payload_ts: Timestamp::ZERO,
            block: None,
            max_frame: DEFAULT_MAX_FRAME_SIZE,
            synced,
            ended: false,
        }
    }
}

/// Does a chunk start with what looks like HTTP/2 frames from this side? Every complete frame
/// header in it must be plausible, and there must be at least one.
pub(super) fn looks_like_frames(data: &[u8], from_client: bool) -> bool {
    let mut at = 0;
    let mut seen = 0;
    while let Some(h) = data
        .get(at..)
        .and_then(|r| r.first_chunk::<FRAME_HEADER_LEN>())
    {
        let h = FrameHeader::parse(h);
        if !h.plausible(from_client, DEFAULT_MAX_FRAME_SIZE.max(1 << 20)) {
            return false;
        }
        seen += 1;
        at += FRAME_HEADER_LEN + h.len as usize;
        if seen == 8 {
            break;
        }
    }
    seen > 0
}

/// HTTP/2 state of one connection.
#[derive(Debug)]
pub(super) struct H2Conn {
    /// Endpoints by [`Direction`] (the sender of each).
    ends: [Endpoint; 2],
    /// Which side of the flow key is the client: the table delivers bytes by side.
    client: Side,
    /// Frame readers by [`Direction`].
    readers: [Reader; 2],
    /// HPACK decoders by the direction whose header blocks they decode.
    decoders: [hpack::Decoder; 2],
    streams: Vec<Stream>,
    last_client_stream: u32,
}

impl H2Conn {
    /// `start_seen`: the connection preface (or the Upgrade) was seen, so both directions start
    /// at a frame boundary with empty HPACK tables.
    pub(super) fn new(ends: [Endpoint; 2], client: Side, start_seen: bool, preface: bool) -> Self {
        let mut readers = [
            Reader::new(false, start_seen),
            Reader::new(false, start_seen),
        ];
        readers[Direction::Client.index()].preface_left = if preface { PREFACE.len() } else { 0 };
        let decoder = || {
            if start_seen {
                hpack::Decoder::new()
            } else {
                hpack::Decoder::mid_stream()
            }
        };
        H2Conn {
            ends: [ends[client.index()], ends[client.other().index()]],
            client,
            readers,
            decoders: [decoder(), decoder()],
            streams: Vec::new(),
            last_client_stream: 0,
        }
    }

    /// The request that asked for an h2c Upgrade is stream 1; its answer comes as HTTP/2.
    pub(super) fn upgraded_request(
        &mut self,
        ts: Timestamp,
        method: &str,
        section: &str,
        path: &str,
    ) {
        self.last_client_stream = 1;
        self.streams.push(Stream {
            id: 1,
            ts,
            method: method.to_owned(),
            section: section.to_owned(),
            path: path.to_owned(),
            grpc: false,
            response: None,
        });
    }

    fn client_server(&self) -> (Endpoint, Endpoint) {
        (
            self.ends[Direction::Client.index()],
            self.ends[Direction::Server.index()],
        )
    }

    /// The direction a side of the flow key sends.
    fn direction(&self, side: Side) -> Direction {
        if side == self.client {
            Direction::Client
        } else {
            Direction::Server
        }
    }

    pub(super) fn on_data(
        &mut self,
        side: Side,
        mut data: &[u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) {
        let dir = self.direction(side);
        let from_client = dir == Direction::Client;
        {
            let r = &mut self.readers[dir.index()];
            if r.ended {
                return;
            }
            if !r.synced {
                // After a gap: frames resume where a chunk starts with one.
                if !looks_like_frames(data, from_client) {
                    return;
                }
                r.synced = true;
                r.header_len = 0;
                r.frame = None;
            }
            if r.preface_left > 0 {
                let want = &PREFACE[PREFACE.len() - r.preface_left..];
                let n = want.len().min(data.len());
                if data[..n] == want[..n] {
                    r.preface_left -= n;
                    data = &data[n..];
                } else {
                    // Not the preface after all (an Upgrade client that skipped it): frames.
                    r.preface_left = 0;
                }
            }
        }
        while !data.is_empty() {
            let r = &mut self.readers[dir.index()];
            let Some((h, left)) = r.frame else {
                let n = (FRAME_HEADER_LEN - r.header_len).min(data.len());
                r.header[r.header_len..r.header_len + n].copy_from_slice(&data[..n]);
                r.header_len += n;
                data = &data[n..];
                if r.header_len == FRAME_HEADER_LEN {
                    r.header_len = 0;
                    let h = FrameHeader::parse(&r.header);
                    if h.len > r.max_frame {
                        ctx.counters.h2.frames_too_large += 1;
                    }
                    r.frame = Some((h, h.len));
                    r.payload.clear();
                    r.payload_ts = ts;
                    if h.len == 0 {
                        r.frame = None;
                        self.on_frame(dir, h, ctx);
                    }
                }
                continue;
            };
            let n = (left as usize).min(data.len());
            if keeps_payload(h.kind) {
                let cap = ctx.config.max_head_bytes.max(64);
                let room = cap.saturating_sub(r.payload.len());
                r.payload.extend_from_slice(&data[..n.min(room)]);
            }
            data = &data[n..];
            let left = left - n as u32;
            if left > 0 {
                r.frame = Some((h, left));
            } else {
                r.frame = None;
                self.on_frame(dir, h, ctx);
            }
        }
    }

    /// Bytes lost in what `side` sends.
    pub(super) fn on_gap(&mut self, side: Side, lost: u32, ctx: &mut Ctx<'_>) {
        let dir = self.direction(side);
        let r = &mut self.readers[dir.index()];
        match r.frame {
            // Inside a DATA payload: the frame's length still says where the next one starts.
            Some((h, left)) if h.kind == FrameType::Data && left > lost => {
                r.frame = Some((h, left - lost));
                return;
            }
            Some((h, left)) if h.kind == FrameType::Data && left == lost && r.header_len == 0 => {
                r.frame = None;
                if h.has(flags::END_STREAM) {
                    self.end_stream(dir, h.stream, ctx);
                }
                return;
            }
            _ => {}
        }
        r.synced = false;
        r.frame = None;
        r.header_len = 0;
        r.preface_left = 0;
        r.payload = Vec::new();
        // A header block may have been lost: the table is no longer fully known.
        self.decoders[dir.index()] = hpack::Decoder::mid_stream();
        if let Some(block) = self.readers[dir.index()].block.take()
            && !block.counted
        {
            self.finish_block(dir, &block, Fields::unknown(), ctx);
        }
    }

    /// What `side` sends ended (FIN, RST, or the capture's end).
    pub(super) fn on_end(&mut self, side: Side, ctx: &mut Ctx<'_>) {
        self.end(self.direction(side), ctx);
    }

    fn end(&mut self, dir: Direction, ctx: &mut Ctx<'_>) {
        if let Some(block) = self.readers[dir.index()].block.take() {
            // A request whose header block never ended still reached the server.
            if !block.counted {
                self.finish_block(dir, &block, Fields::unknown(), ctx);
            }
        }
        self.readers[dir.index()].ended = true;
    }

    /// End of the connection: what is still open was never answered.
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>) {
        for dir in Direction::ALL {
            if !self.readers[dir.index()].ended {
                self.end(dir, ctx);
            }
        }
        for s in std::mem::take(&mut self.streams) {
            match s.response {
                Some((status, ts)) => self.respond(&s, status, None, ts, ctx),
                None => ctx.counters.requests_unanswered += 1,
            }
        }
    }

    fn on_frame(&mut self, dir: Direction, h: FrameHeader, ctx: &mut Ctx<'_>) {
        let from_client = dir == Direction::Client;
        let payload = std::mem::take(&mut self.readers[dir.index()].payload);
        let ts = self.readers[dir.index()].payload_ts;
        // A header block is a run of HEADERS/PUSH_PROMISE and CONTINUATION frames on one
        // stream; any other frame in between is a connection error (RFC 9113 §6.10).
        if h.kind != FrameType::Continuation
            && let Some(block) = self.readers[dir.index()].block.take()
        {
            ctx.counters.h2.protocol_errors += 1;
            if !block.counted {
                self.finish_block(dir, &block, Fields::unknown(), ctx);
            }
        }
        match h.kind {
            FrameType::Settings if !h.has(flags::ACK) => {
                // What a side announces governs what the other side sends it.
                let other = dir.other();
                for (id, v) in frame::settings(&payload) {
                    match id {
                        setting::HEADER_TABLE_SIZE => {
                            self.decoders[other.index()].set_max_allowed(v)
                        }
                        setting::MAX_FRAME_SIZE => {
                            self.readers[other.index()].max_frame =
                                v.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
                        }
                        _ => {}
                    }
                }
            }
            FrameType::Headers => {
                let fragment = frame::headers_fragment(&h, &payload);
                let too_large = payload.len() < h.len as usize;
                if fragment.is_none() {
                    ctx.counters.h2.protocol_errors += 1;
                }
                self.start_block(dir, h, h.stream, false, fragment, too_large, ts, ctx);
            }
            FrameType::PushPromise if !from_client => {
                ctx.counters.h2.pushes += 1;
                let pp = frame::push_promise(&h, &payload);
                let too_large = payload.len() < h.len as usize;
                let (id, fragment) = match pp {
                    Some((id, f)) => (id, Some(f)),
                    None => (0, None),
                };
                self.start_block(dir, h, id, true, fragment, too_large, ts, ctx);
            }
            FrameType::Continuation => {
                let Some(mut block) = self.readers[dir.index()].block.take() else {
                    ctx.counters.h2.protocol_errors += 1;
                    return;
                };
                let cap = ctx.config.max_head_bytes.max(64);
                if !block.too_large {
                    if payload.len() < h.len as usize || block.bytes.len() + payload.len() > cap {
                        block.too_large = true;
                        block.bytes = Vec::new();
                    } else {
                        block.bytes.extend_from_slice(&payload);
                    }
                }
                if h.has(flags::END_HEADERS) {
                    self.complete_block(dir, block, ctx);
                } else {
                    self.hold_block(dir, block, ctx);
                }
            }
            FrameType::RstStream => self.reset(h.stream, ctx),
            FrameType::Data if h.has(flags::END_STREAM) => self.end_stream(dir, h.stream, ctx),
            _ => {}
        }
    }

    /// A block continues in the next frame. One that outgrew the cap is counted now, once:
    /// a CONTINUATION flood may never end it, and its stream still reached the server.
    fn hold_block(&mut self, dir: Direction, mut block: Block, ctx: &mut Ctx<'_>) {
        if block.too_large && !block.counted {
            block.counted = true;
            ctx.counters.h2.header_blocks_too_large += 1;
            self.decoders[dir.index()] = hpack::Decoder::mid_stream();
            self.finish_block(dir, &block, Fields::unknown(), ctx);
        }
        self.readers[dir.index()].block = Some(block);
    }

    #[allow(clippy::too_many_arguments)]
    fn start_block(
        &mut self,
        dir: Direction,
        h: FrameHeader,
        stream: u32,
        push: bool,
        fragment: Option<&[u8]>,
        too_large: bool,
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) {
        let block = Block {
            stream,
            push,
            end_stream: h.has(flags::END_STREAM),
            bytes: if too_large {
                Vec::new()
            } else {
                fragment.unwrap_or(&[]).to_vec()
            },
            too_large: too_large || fragment.is_none(),
            counted: false,
            ts,
        };
        if h.has(flags::END_HEADERS) {
            self.complete_block(dir, block, ctx);
        } else {
            self.hold_block(dir, block, ctx);
        }
    }

    fn complete_block(&mut self, dir: Direction, block: Block, ctx: &mut Ctx<'_>) {
        if block.counted {
            return;
        }
        if block.too_large {
            ctx.counters.h2.header_blocks_too_large += 1;
            // The block may have changed the table: what it holds is unknown from now on.
            self.decoders[dir.index()] = hpack::Decoder::mid_stream();
            self.finish_block(dir, &block, Fields::unknown(), ctx);
            return;
        }
        let mut fields = Fields::default();
        if self.decoders[dir.index()]
            .decode(&block.bytes, |f| fields.take(f))
            .is_err()
        {
            ctx.counters.h2.hpack_errors += 1;
            fields.unknown = true;
            self.decoders[dir.index()] = hpack::Decoder::mid_stream();
        }
        if fields.unknown {
            ctx.counters.h2.unknown_headers += 1;
        }
        self.finish_block(dir, &block, fields, ctx);
    }

    fn finish_block(&mut self, dir: Direction, block: &Block, fields: Fields, ctx: &mut Ctx<'_>) {
        if block.push {
            return;
        }
        if dir == Direction::Client {
            self.client_headers(block, fields, ctx);
        } else {
            self.server_headers(block, fields, ctx);
        }
    }

    fn client_headers(&mut self, block: &Block, fields: Fields, ctx: &mut Ctx<'_>) {
        let id = block.stream;
        if self.streams.iter().any(|s| s.id == id) {
            // Trailers of a request body.
            return;
        }
        if id.is_multiple_of(2) || id <= self.last_client_stream {
            // Stream ids only go up (RFC 9113 §5.1.1): a server refuses this one.
            ctx.counters.h2.stream_id_errors += 1;
            return;
        }
        self.last_client_stream = id;
        let (client, server) = self.client_server();
        let method = fields.method.as_deref().unwrap_or(UNKNOWN_METHOD);
        let section = match &fields.path {
            Some(p) => decode::section_of(method, p),
            None if method.eq_ignore_ascii_case("CONNECT") => "CONNECT",
            None => UNKNOWN_SECTION,
        };
        let (path, path_cut) = match &fields.path {
            Some(p) => decode::request_path(method, p, false),
            None => (std::borrow::Cow::Borrowed(section), false),
        };
        ctx.counters.paths_cut += u64::from(path_cut);
        ctx.sink.request(&RequestEvent {
            ts: block.ts,
            client,
            server,
            method,
            target: fields.path.as_deref().unwrap_or(""),
            section,
            path: &path,
            host: fields.authority.as_deref(),
            protocol: Protocol::H2c,
            bytes: block.bytes.len() as u64,
            malformed: None,
        });
        if self.streams.len() >= MAX_STREAMS {
            ctx.counters.h2.streams_overflow += 1;
            return;
        }
        let section = section.to_owned();
        self.streams.push(Stream {
            id,
            ts: block.ts,
            method: method.to_owned(),
            section,
            path: path.into_owned(),
            grpc: fields.grpc,
            response: None,
        });
    }

    fn server_headers(&mut self, block: &Block, fields: Fields, ctx: &mut Ctx<'_>) {
        let id = block.stream;
        let status = fields.status;
        let Some(i) = self.streams.iter().position(|s| s.id == id) else {
            if id % 2 == 1 && status.is_some_and(|s| s >= 200) {
                // A stream opened before the capture (or not tracked): its request unknown.
                ctx.counters.unpaired_responses += 1;
                let (client, server) = self.client_server();
                ctx.sink.response(&ResponseEvent {
                    ts: block.ts,
                    client,
                    server,
                    status: status.unwrap_or(0),
                    method: None,
                    section: None,
                    path: None,
                    latency: None,
                    bytes: 0,
                    interim: false,
                    grpc_status: fields.grpc_status,
                });
            }
            return;
        };
        match (self.streams[i].response, status) {
            (None, Some(s)) if (100..200).contains(&s) => {
                let st = &self.streams[i];
                let (client, server) = self.client_server();
                ctx.sink.response(&ResponseEvent {
                    ts: block.ts,
                    client,
                    server,
                    status: s,
                    method: Some(&st.method),
                    section: Some(&st.section),
                    path: Some(&st.path),
                    latency: None,
                    bytes: 0,
                    interim: true,
                    grpc_status: None,
                });
            }
            (None, _) => {
                // The final response (its status unknown when the block was not decoded).
                let s = status.unwrap_or(0);
                let held =
                    self.streams[i].grpc && fields.grpc_status.is_none() && !block.end_stream;
                if held {
                    self.streams[i].response = Some((s, block.ts));
                } else {
                    let st = self.streams.swap_remove(i);
                    self.respond(&st, s, fields.grpc_status, block.ts, ctx);
                }
            }
            (Some((s, ts)), _) => {
                // Trailers: how a gRPC call ended.
                let st = self.streams.swap_remove(i);
                self.respond(&st, s, fields.grpc_status, ts, ctx);
            }
        }
    }

    fn respond(
        &self,
        st: &Stream,
        status: u16,
        grpc_status: Option<u16>,
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) {
        let (client, server) = self.client_server();
        ctx.sink.response(&ResponseEvent {
            ts,
            client,
            server,
            status,
            method: Some(&st.method),
            section: Some(&st.section),
            path: Some(&st.path),
            latency: Some(ts.saturating_sub(st.ts)),
            bytes: 0,
            interim: false,
            grpc_status,
        });
    }

    /// END_STREAM on DATA: a gRPC response held for trailers that never came ends here.
    fn end_stream(&mut self, dir: Direction, id: u32, ctx: &mut Ctx<'_>) {
        if dir == Direction::Client {
            return;
        }
        if let Some(i) = self
            .streams
            .iter()
            .position(|s| s.id == id && s.response.is_some())
        {
            let st = self.streams.swap_remove(i);
            if let Some((s, ts)) = st.response {
                self.respond(&st, s, None, ts, ctx);
            }
        }
    }

    fn reset(&mut self, id: u32, ctx: &mut Ctx<'_>) {
        let Some(i) = self.streams.iter().position(|s| s.id == id) else {
            return;
        };
        let st = self.streams.swap_remove(i);
        match st.response {
            Some((s, ts)) => self.respond(&st, s, None, ts, ctx),
            None => ctx.counters.h2.streams_reset += 1,
        }
    }
}

fn keeps_payload(kind: FrameType) -> bool {
    matches!(
        kind,
        FrameType::Headers | FrameType::Continuation | FrameType::PushPromise | FrameType::Settings
    )
}
