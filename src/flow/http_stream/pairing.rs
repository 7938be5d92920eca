//! Request/response pairing: the connection-wide state both directions share, the FIFO of
//! pending requests, and the events reported for each head.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::Range;

use super::Ctx;
use super::stream::{Mode, mode_after_head};
use crate::decode::{
    self, BodyLength, Endpoint, LenientRequest, Malformed, RequestHead, ResponseHead,
};
use crate::flow::Side;
use crate::flow::{Protocol, RequestEvent, ResponseEvent};
use crate::time::Timestamp;

/// A request waiting for its response.
#[derive(Debug)]
pub(super) struct Pending {
    ts: Timestamp,
    method: Cow<'static, str>,
    /// The request's path for routes, then its section unless that is a part of the path (as
    /// it usually is: `/users` of `/users/7`), so one copy keeps both. Reuses the buffer of an
    /// answered request (see `Shared::spare`).
    text: String,
    /// `text[..path_len]` is the path...
    path_len: usize,
    /// ...and `text[section]` the section.
    section: Range<usize>,
    head: bool,
    connect: bool,
    /// Asked to upgrade to h2c: a 101 hands the connection to HTTP/2, where this request is
    /// stream 1 and its answer comes.
    h2c_upgrade: bool,
}

pub(super) fn method_name(m: &str) -> Cow<'static, str> {
    match decode::common_method_name(m) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(m.to_owned()),
    }
}

impl Pending {
    fn path(&self) -> &str {
        self.text.get(..self.path_len).unwrap_or_default()
    }

    fn section(&self) -> &str {
        self.text.get(self.section.clone()).unwrap_or_default()
    }
}

/// Connection-wide state: roles, pending requests, and whether HTTP parsing stopped.
#[derive(Debug)]
pub(super) struct Shared {
    /// Endpoints by [`Side`].
    pub(super) ends: [Endpoint; 2],
    /// The client's side, once known.
    pub(super) client: Option<Side>,
    pub(super) pending: VecDeque<Pending>,
    /// Text buffers of answered requests, reused so that queueing a request does not
    /// allocate; never more than the pending queue once held.
    pub(super) spare: Vec<String>,
    /// Requests not queued because `max_pending` was reached; once one is dropped, later
    /// ones are too until these are answered, so pairing stays in order.
    pub(super) lost: u64,
    pub(super) opaque: bool,
    pub(super) reported: bool,
    /// The client's first line could not be a request line: the connection is reported as
    /// "other" when it ends, unless a request or response turns up on it after all.
    pub(super) maybe_other: bool,
    /// A request or response was counted on this connection.
    pub(super) found_http: bool,
    /// Both streams start at their first byte (the handshake was seen).
    pub(super) start_seen: bool,
    /// Direction `d` delivered bytes shaped like HTTP/2 frames while seeking (a connection
    /// whose start the capture missed). Both must, before it is taken for HTTP/2.
    pub(super) h2_evidence: [bool; 2],
    /// The first such chunk of each direction (while it is small), replayed into HTTP/2 once
    /// both directions agree, so the request that gave the evidence still counts.
    pub(super) h2_held: [Option<(Vec<u8>, Timestamp)>; 2],
    /// A 101 answered an h2c Upgrade: the upgraded request (time, method, section) becomes
    /// stream 1 of the HTTP/2 connection that follows.
    pub(super) switch_h2: Option<(Timestamp, String, String, String)>,
}

/// How a counted request head arrived, besides its fields.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tags {
    pub(super) malformed: Option<Malformed>,
    /// The request line's end was not seen: the target, and so the section, may be cut.
    pub(super) cut: bool,
}

/// A request head from the lenient reader, as the strict one would have given it.
pub(super) fn strict_view<'a>(r: &'a LenientRequest<'a>) -> RequestHead<'a> {
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
pub(super) fn plausible_cut_request(r: &LenientRequest<'_>) -> bool {
    r.line_complete
        || (r.method.bytes().all(|b| b.is_ascii_uppercase())
            && r.target
                .bytes()
                .next()
                .is_some_and(|b| b == b'/' || b == b'*' || b.is_ascii_alphabetic()))
}

impl Shared {
    pub(super) fn client_server(&self) -> (Endpoint, Endpoint) {
        let c = self.client.unwrap_or(Side::A);
        (self.ends[c.index()], self.ends[c.other().index()])
    }

    pub(super) fn on_request(
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
            let mut text = self.spare.pop().unwrap_or_default();
            text.clear();
            text.push_str(&path);
            let section = match decode::part_of(section, &path) {
                Some(at) => at,
                None => {
                    text.push_str(section);
                    path.len()..text.len()
                }
            };
            self.pending.push_back(Pending {
                ts,
                method: method_name(h.method),
                text,
                path_len: path.len(),
                section,
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
    pub(super) fn on_response(
        &mut self,
        h: &ResponseHead,
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> (Mode, bool) {
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
                section: req.map(Pending::section),
                path: req.map(Pending::path),
                latency: None,
                bytes: h.head_len as u64,
                interim: true,
                grpc_status: None,
            });
            if h2c {
                // RFC 9113 §3.2: the server's next bytes are HTTP/2, and so is the answer to
                // the upgraded request.
                if let Some(r) = self.pending.pop_front() {
                    let (section, path) = (r.section().to_owned(), r.path().to_owned());
                    self.switch_h2 = Some((r.ts, r.method.into_owned(), section, path));
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
            section: req.as_ref().map(Pending::section),
            path: req.as_ref().map(Pending::path),
            latency: req.as_ref().map(|r| ts.saturating_sub(r.ts)),
            bytes: (h.head_len as u64).saturating_add(declared),
            interim: false,
            grpc_status: None,
        });
        if let Some(r) = req {
            self.spare.push(r.text);
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
