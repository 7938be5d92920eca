//! Reading heads and bodies at a known position in a direction's stream: zero-copy when a head
//! is whole in one chunk, buffered (never beyond `max_head_bytes`) when it is not, leniently
//! when the strict grammar refuses it.

use super::pairing::{Tags, plausible_cut_request, strict_view};
use super::shape::could_start_message;
use super::stream::{Body, Mode, scan_head_end};
use super::{Ctx, HttpConn};
use crate::decode::{self, BodyLength, Decoded, ResponseHead};
use crate::flow::Side;
use crate::time::Timestamp;

impl HttpConn {
    pub(super) fn body<'d>(&mut self, side: Side, data: &'d [u8], ctx: &mut Ctx<'_>) -> &'d [u8] {
        let st = &mut self.streams[side.index()];
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

    pub(super) fn head<'d>(
        &mut self,
        side: Side,
        client: bool,
        data: &'d [u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
        depth: u8,
    ) -> &'d [u8] {
        let max = ctx.config.max_head_bytes.max(1);
        let st = &mut self.streams[side.index()];
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
                    self.after_head(side, mode, resume);
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
            return self.too_large(side, client, data, room, ctx);
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
                self.streams[side.index()].clear_buf();
                self.after_head(side, mode, resume);
            }
            // Only blank lines so far (httparse skips them before a request line).
            Ok(None) => {}
            Err(_) => self.refused_head(side, client, ctx, depth),
        }
        rest
    }

    /// A whole head (in `buf`) that the strict grammar refused: counted if a server would
    /// still read it as a message, else skipped to the next line that starts one.
    pub(super) fn refused_head(&mut self, side: Side, client: bool, ctx: &mut Ctx<'_>, depth: u8) {
        let st = &mut self.streams[side.index()];
        let old = std::mem::take(&mut st.buf);
        let ts = st.buf_ts;
        if self.count_lenient(side, client, &old, ts, ctx).is_some() {
            return;
        }
        ctx.counters.parse_errors += 1;
        self.streams[side.index()].seek(false);
        if depth == 0 {
            // The next line may start a good head: look again past the bad one's start.
            self.on_data(side, old.get(1..).unwrap_or(&[]), ts, ctx, 1);
        }
    }

    /// Counts the message whose head (whole or the start of it) is `head`, read leniently;
    /// sets the direction's next mode and returns it, or `None` (nothing counted) when the
    /// bytes do not start a message. A head whose end is missing leaves the body's framing
    /// to the caller: the mode returned is the one its headers so far imply.
    pub(super) fn count_lenient(
        &mut self,
        side: Side,
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
        self.after_head(side, mode, resume);
        if mode == Mode::Seek {
            self.streams[side.index()].seek(true);
        }
        Some(self.streams[side.index()].mode)
    }

    /// The head outgrew `max_head_bytes` (its first `max` bytes are in `buf`): it is counted
    /// from its start line and the framing headers seen so far, and the rest of it is skipped
    /// without being kept. `used`: bytes of `data` already in `buf`.
    pub(super) fn too_large<'d>(
        &mut self,
        side: Side,
        client: bool,
        data: &'d [u8],
        used: usize,
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        ctx.counters.heads_too_large += 1;
        let st = &mut self.streams[side.index()];
        let head = std::mem::take(&mut st.buf);
        let ts = st.buf_ts;
        let nl = scan_head_end(0, &head).1;
        match self.count_lenient(side, client, &head, ts, ctx) {
            Some(mode @ (Mode::Head | Mode::Body(_) | Mode::Seek | Mode::ConnectWait)) => {
                let st = &mut self.streams[side.index()];
                st.after_skip = mode;
                st.mode = Mode::SkipHead;
                st.nl = nl;
                data.get(used..).unwrap_or(&[])
            }
            // Switched to another protocol (or a tunnel): nothing more to parse.
            Some(_) => &[],
            None => {
                let st = &mut self.streams[side.index()];
                st.seek(false);
                data.get(used..).unwrap_or(&[])
            }
        }
    }

    /// Skips to the end of a head too large to keep.
    pub(super) fn skip_head<'d>(&mut self, side: Side, data: &'d [u8]) -> &'d [u8] {
        let st = &mut self.streams[side.index()];
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
    pub(super) fn head_cut(&mut self, side: Side, ctx: &mut Ctx<'_>) {
        let client = self.shared.client == Some(side);
        let st = &mut self.streams[side.index()];
        let head = std::mem::take(&mut st.buf);
        let ts = st.buf_ts;
        match self.count_lenient(side, client, &head, ts, ctx) {
            Some(Mode::Head | Mode::Body(_) | Mode::Seek) => {
                ctx.counters.heads_cut += 1;
                self.streams[side.index()].seek(true);
            }
            Some(_) => ctx.counters.heads_cut += 1,
            None => self.streams[side.index()].seek(true),
        }
    }

    pub(super) fn after_head(&mut self, side: Side, mode: Mode, resume_client: bool) {
        self.streams[side.index()].mode = mode;
        if resume_client {
            // A refused CONNECT: the client goes on with requests.
            if let Some(c) = self.shared.client {
                let cs = &mut self.streams[c.index()];
                if cs.mode == Mode::ConnectWait {
                    cs.mode = Mode::Head;
                }
            }
        }
        if self.shared.opaque {
            self.go_opaque();
        }
    }
}
