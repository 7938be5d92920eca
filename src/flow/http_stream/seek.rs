//! Finding where messages start: sniffing the first bytes of a connection whose start was seen
//! (HTTP/1, TLS, HTTP/2 or something else), and seeking line starts when the position is
//! unknown.

use super::h2;
use super::shape::{Opening, Shape, opening, request_line_shape, status_line_shape};
use super::stream::{Mode, scan_head_end};
use super::{Ctx, HttpConn};
use crate::decode::{MAX_TLS_RECORD, tls_sni};
use crate::flow::NonHttpKind;
use crate::flow::Side;
use crate::time::Timestamp;

impl HttpConn {
    pub(super) fn shape(client: bool, p: &[u8]) -> Shape {
        if client {
            request_line_shape(p, false)
        } else {
            status_line_shape(p)
        }
    }

    pub(super) fn seek<'d>(
        &mut self,
        side: Side,
        client: bool,
        data: &'d [u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        let max = ctx.config.max_head_bytes.max(1);
        let st = &mut self.streams[side.index()];
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
    pub(super) fn sniff<'d>(
        &mut self,
        side: Side,
        client: bool,
        data: &'d [u8],
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        let max = ctx.config.max_head_bytes.max(1);
        let other_saw_data = self.streams[side.other().index()].saw_data;
        let st = &mut self.streams[side.index()];
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
                h2.on_data(side, &first, ts, ctx);
                h2.on_data(side, rest, ts, ctx);
                self.h2 = Some(h2);
                &[]
            }
            Opening::NotHttp(_) if !client && zero_copy && starts_with_settings(data) => {
                // A prior-knowledge server may send its SETTINGS before the client's preface
                // arrives.
                let mut h2 = self.start_h2(true, true, ctx);
                h2.on_data(side, data, ts, ctx);
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

    pub(super) fn tls_hello<'d>(
        &mut self,
        side: Side,
        data: &'d [u8],
        ctx: &mut Ctx<'_>,
    ) -> &'d [u8] {
        let cap = ctx.config.max_head_bytes.clamp(5, MAX_TLS_RECORD);
        let st = &mut self.streams[side.index()];
        let room = cap.saturating_sub(st.buf.len());
        st.buf
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or(data));
        let record = match st.buf.get(3..5) {
            Some([a, b]) => 5 + usize::from(u16::from_be_bytes([*a, *b])),
            _ => usize::MAX,
        };
        if st.buf.len() >= record.min(cap) {
            self.report_tls(side, ctx);
        }
        &[]
    }

    pub(super) fn report_tls(&mut self, side: Side, ctx: &mut Ctx<'_>) {
        let buf = std::mem::take(&mut self.streams[side.index()].buf);
        self.report(NonHttpKind::Tls, tls_sni(&buf), ctx);
    }

    /// Reports the connection as not HTTP/1, once, and stops parsing it.
    pub(super) fn report(&mut self, kind: NonHttpKind, sni: Option<&[u8]>, ctx: &mut Ctx<'_>) {
        if !self.shared.reported {
            self.shared.reported = true;
            let (_, server) = self.shared.client_server();
            ctx.sink.non_http(kind, server, sni);
        }
        self.shared.opaque = true;
        self.go_opaque();
    }

    pub(super) fn go_opaque(&mut self) {
        for st in &mut self.streams {
            if st.mode != Mode::Closed {
                st.mode = Mode::Opaque;
            }
            st.buf = Vec::new();
        }
    }
}

/// Does a server's first chunk start with a SETTINGS frame (the HTTP/2 server preface)?
fn starts_with_settings(data: &[u8]) -> bool {
    use crate::decode::http2::frame::{FrameHeader, FrameType};
    data.first_chunk::<9>()
        .map(FrameHeader::parse)
        .is_some_and(|h| h.kind == FrameType::Settings && h2::looks_like_frames(data, false))
}
