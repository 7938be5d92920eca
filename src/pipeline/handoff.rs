//! HTTP events owned, in batches, so that the packet half of the pipeline ([`super::Front`])
//! can run on one thread and the statistics on another: a batch holds the events of its
//! packets in order, their text in two arenas (no allocation per event once a batch was
//! used), and the marks that tell the statistics where each packet began and ended.

use std::ops::Range;
use std::time::Duration;

use super::front::{Front, FrontCounts};
use crate::decode::{Endpoint, Malformed, common_method_name, part_of};
use crate::flow::{HttpSink, NonHttpKind, Protocol, RequestEvent, ResponseEvent};
use crate::time::Timestamp;

/// Text kept in a batch's arena.
type Span = Range<u32>;

/// One step of a batch, in the order it happened: 16 bytes, the events themselves kept apart
/// by kind, so that the marks around each packet cost little to write and to read.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A packet at this time: the statistics move to it before its events.
    Packet(Timestamp),
    /// Indices into the batch's events of each kind.
    Request(u32),
    Response(u32),
    NonHttp(u32),
    /// The packet's events are over.
    PacketEnd(Timestamp),
    /// The front's counts at this point.
    Counts(u32),
}

/// What a batch is replayed into ([`Batch::replay_into`]): the same calls, in the same order,
/// as one thread would have made.
pub trait Replay {
    /// A packet at this time: the statistics move to it before its events.
    fn packet(&mut self, ts: Timestamp);
    fn request(&mut self, req: &RequestEvent<'_>);
    fn response(&mut self, resp: &ResponseEvent<'_>);
    fn non_http(&mut self, kind: NonHttpKind, server: Endpoint, server_name: Option<&[u8]>);
    /// The packet's events are over.
    fn packet_end(&mut self, ts: Timestamp);
    /// The front's counts as they stand from here on.
    fn counts(&mut self, counts: &FrontCounts);
}

/// A method: one of the usual ones is `'static` already and costs no copy; any other is kept.
#[derive(Debug, Clone)]
enum Method {
    Common(&'static str),
    Kept(Span),
}

#[derive(Debug, Clone)]
struct NonHttp {
    kind: NonHttpKind,
    server: Endpoint,
    server_name: Option<Span>,
}

/// A [`RequestEvent`] whose text is in the batch.
#[derive(Debug, Clone)]
struct Request {
    ts: Timestamp,
    client: Endpoint,
    server: Endpoint,
    method: Method,
    target: Span,
    section: Span,
    path: Span,
    host: Option<Span>,
    protocol: Protocol,
    bytes: u64,
    malformed: Option<Malformed>,
}

/// A [`ResponseEvent`] whose text is in the batch.
#[derive(Debug, Clone)]
struct Response {
    ts: Timestamp,
    client: Endpoint,
    server: Endpoint,
    status: u16,
    method: Option<Method>,
    section: Option<Span>,
    path: Option<Span>,
    latency: Option<Duration>,
    bytes: u64,
    interim: bool,
    grpc_status: Option<u16>,
}

/// The events of some packets, in order.
#[derive(Debug, Default)]
pub struct Batch {
    steps: Vec<Step>,
    requests: Vec<Request>,
    responses: Vec<Response>,
    non_http: Vec<NonHttp>,
    counts: Vec<FrontCounts>,
    /// Text of the events: methods, targets, sections, paths.
    text: String,
    /// Bytes of the events that need not be UTF-8: hosts, server names.
    bytes: Vec<u8>,
    packets: usize,
    /// See [`Batch::held_bytes`]; the two steps of each packet are left out, as the packets
    /// are bounded by their own count.
    held: usize,
}

impl Batch {
    pub fn clear(&mut self) {
        self.steps.clear();
        self.requests.clear();
        self.responses.clear();
        self.non_http.clear();
        self.counts.clear();
        self.text.clear();
        self.bytes.clear();
        self.packets = 0;
        self.held = 0;
    }

    /// Packets begun in this batch.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// Bytes held, the events' text and the events themselves: a batch is handed over before
    /// it grows large. The events count too because text alone no longer bounds them: a
    /// flood of pipelined `GET / ` requests keeps one byte of text each (the method is not
    /// copied), beside an event of a hundred bytes.
    /// Kept as a running sum: it is asked after every packet.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Bytes of the events' text alone.
    #[cfg(test)]
    fn text_bytes(&self) -> usize {
        self.text.len() + self.bytes.len()
    }

    /// Each step in order, with its event, into `to`.
    pub fn replay_into(&self, to: &mut impl Replay) {
        for step in &self.steps {
            let at = |i: u32| i as usize;
            match *step {
                Step::Packet(ts) => to.packet(ts),
                Step::Request(i) => {
                    if let Some(r) = self.requests.get(at(i)) {
                        to.request(&self.request_event(r));
                    }
                }
                Step::Response(i) => {
                    if let Some(r) = self.responses.get(at(i)) {
                        to.response(&self.response_event(r));
                    }
                }
                Step::NonHttp(i) => {
                    if let Some(n) = self.non_http.get(at(i)) {
                        let name = n.server_name.as_ref().map(|s| self.bytes_of(s));
                        to.non_http(n.kind, n.server, name);
                    }
                }
                Step::PacketEnd(ts) => to.packet_end(ts),
                Step::Counts(i) => {
                    if let Some(c) = self.counts.get(at(i)) {
                        to.counts(c);
                    }
                }
            }
        }
    }

    /// Runs one frame through `front`, keeping its events, and then the front's counts if
    /// `counts`: a report is due after this packet, and must show what one thread would have.
    /// Inlined into the reading loop: it runs for every packet.
    #[inline]
    pub fn ingest(&mut self, front: &mut Front, ts: Timestamp, frame: &[u8], counts: bool) {
        self.packets += 1;
        self.steps.push(Step::Packet(ts));
        front.ingest(ts, frame, self);
        if counts {
            self.counts(front);
        }
        self.steps.push(Step::PacketEnd(ts));
    }

    /// The flows' last events at the end of input, and the final counts.
    pub fn finish(&mut self, front: &mut Front) {
        front.finish(self);
        self.counts(front);
    }

    /// The front's counts as they stand now.
    pub fn counts(&mut self, front: &Front) {
        self.held += event_size::<FrontCounts>();
        self.steps.push(Step::Counts(index(self.counts.len())));
        self.counts.push(front.counts());
    }

    fn keep(&mut self, s: &str) -> Span {
        self.held += s.len();
        let start = self.text.len();
        self.text.push_str(s);
        span(start, self.text.len())
    }

    /// `s` as a part of `whole` (kept at `at`) when it is one, as a section and a path usually
    /// are of their target, and a section of its path: no second copy.
    fn keep_part(&mut self, s: &str, whole: &str, at: &Span) -> Span {
        match part_of(s, whole) {
            Some(part) => {
                let start = at.start as usize + part.start;
                span(start, start + s.len())
            }
            None => self.keep(s),
        }
    }

    fn keep_method(&mut self, m: &str) -> Method {
        match common_method_name(m) {
            Some(m) => Method::Common(m),
            None => Method::Kept(self.keep(m)),
        }
    }

    fn method(&self, m: &Method) -> &str {
        match m {
            Method::Common(m) => m,
            Method::Kept(s) => self.text(s),
        }
    }

    fn keep_bytes(&mut self, b: &[u8]) -> Span {
        self.held += b.len();
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        span(start, self.bytes.len())
    }

    fn text(&self, s: &Span) -> &str {
        self.text
            .get(s.start as usize..s.end as usize)
            .unwrap_or_default()
    }

    fn bytes_of(&self, s: &Span) -> &[u8] {
        self.bytes
            .get(s.start as usize..s.end as usize)
            .unwrap_or_default()
    }

    /// The request as the flows gave it.
    #[inline]
    fn request_event(&self, r: &Request) -> RequestEvent<'_> {
        RequestEvent {
            ts: r.ts,
            client: r.client,
            server: r.server,
            method: self.method(&r.method),
            target: self.text(&r.target),
            section: self.text(&r.section),
            path: self.text(&r.path),
            host: r.host.as_ref().map(|h| self.bytes_of(h)),
            protocol: r.protocol,
            bytes: r.bytes,
            malformed: r.malformed,
        }
    }

    /// The response as the flows gave it.
    #[inline]
    fn response_event(&self, r: &Response) -> ResponseEvent<'_> {
        ResponseEvent {
            ts: r.ts,
            client: r.client,
            server: r.server,
            status: r.status,
            method: r.method.as_ref().map(|m| self.method(m)),
            section: r.section.as_ref().map(|s| self.text(s)),
            path: r.path.as_ref().map(|s| self.text(s)),
            latency: r.latency,
            bytes: r.bytes,
            interim: r.interim,
            grpc_status: r.grpc_status,
        }
    }
}

/// Arena offsets and event indices fit in `u32`: a batch is handed over long before 4 GiB.
fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What an event of type `E` costs a batch: itself and its step.
const fn event_size<E>() -> usize {
    std::mem::size_of::<E>() + std::mem::size_of::<Step>()
}

fn span(start: usize, end: usize) -> Span {
    index(start)..index(end)
}

impl HttpSink for Batch {
    fn request(&mut self, req: &RequestEvent<'_>) {
        let target = self.keep(req.target);
        let r = Request {
            ts: req.ts,
            client: req.client,
            server: req.server,
            method: self.keep_method(req.method),
            section: self.keep_part(req.section, req.target, &target),
            path: self.keep_part(req.path, req.target, &target),
            target,
            host: req.host.map(|h| self.keep_bytes(h)),
            protocol: req.protocol,
            bytes: req.bytes,
            malformed: req.malformed,
        };
        self.held += event_size::<Request>();
        self.steps.push(Step::Request(index(self.requests.len())));
        self.requests.push(r);
    }

    fn response(&mut self, resp: &ResponseEvent<'_>) {
        let path = resp.path.map(|p| (p, self.keep(p)));
        let section = match (resp.section, &path) {
            (Some(s), Some((p, at))) => Some(self.keep_part(s, p, at)),
            (s, _) => s.map(|s| self.keep(s)),
        };
        let r = Response {
            ts: resp.ts,
            client: resp.client,
            server: resp.server,
            status: resp.status,
            method: resp.method.map(|m| self.keep_method(m)),
            section,
            path: path.map(|(_, at)| at),
            latency: resp.latency,
            bytes: resp.bytes,
            interim: resp.interim,
            grpc_status: resp.grpc_status,
        };
        self.held += event_size::<Response>();
        self.steps.push(Step::Response(index(self.responses.len())));
        self.responses.push(r);
    }

    fn non_http(&mut self, kind: NonHttpKind, server: Endpoint, server_name: Option<&[u8]>) {
        let server_name = server_name.map(|n| self.keep_bytes(n));
        self.held += event_size::<NonHttp>();
        self.steps.push(Step::NonHttp(index(self.non_http.len())));
        self.non_http.push(NonHttp {
            kind,
            server,
            server_name,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(s: &str) -> Endpoint {
        let a: std::net::SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    }

    fn request<'a>(
        method: &'a str,
        target: &'a str,
        section: &'a str,
        path: &'a str,
    ) -> RequestEvent<'a> {
        RequestEvent {
            ts: Timestamp(7),
            client: endpoint("10.0.0.1:40000"),
            server: endpoint("[::1]:80"),
            method,
            target,
            section,
            path,
            host: Some(b"h\xffst"),
            protocol: Protocol::Http11,
            bytes: 1234,
            malformed: Some(Malformed::ALL[0]),
        }
    }

    /// Every call, written out.
    #[derive(Default)]
    struct Recorded(Vec<String>);

    impl Replay for Recorded {
        fn packet(&mut self, ts: Timestamp) {
            self.0.push(format!("packet {ts:?}"));
        }
        fn request(&mut self, req: &RequestEvent<'_>) {
            self.0.push(format!("{req:?}"));
        }
        fn response(&mut self, resp: &ResponseEvent<'_>) {
            self.0.push(format!("{resp:?}"));
        }
        fn non_http(&mut self, kind: NonHttpKind, server: Endpoint, server_name: Option<&[u8]>) {
            self.0.push(format!("{:?}", (kind, server, server_name)));
        }
        fn packet_end(&mut self, ts: Timestamp) {
            self.0.push(format!("end {ts:?}"));
        }
        fn counts(&mut self, counts: &FrontCounts) {
            self.0.push(format!("{counts:?}"));
        }
    }

    #[test]
    fn events_come_back_as_they_went_in() {
        let target = "/api/users/7?x=é";
        let owned_section = String::from("/elsewhere");
        let requests = [
            // Section and path inside the target: kept once.
            request("GET", target, &target[..4], &target[..12]),
            // Neither inside it (CONNECT's section, a path built apart), nor empty ones.
            request("CONNECT", "host:443", "CONNECT", &owned_section),
            request("X", "", "", ""),
        ];
        let response = |method, section, path| ResponseEvent {
            ts: Timestamp(9),
            client: endpoint("10.0.0.1:40000"),
            server: endpoint("10.0.0.2:80"),
            status: 404,
            method,
            section,
            path,
            latency: Some(Duration::from_micros(250)),
            bytes: 5,
            interim: false,
            grpc_status: Some(14),
        };
        let owned_path = String::from("/p/q");
        let responses = [
            response(Some("PUT"), None, Some("/p")),
            // The section inside the path: kept once.
            response(Some("GET"), Some(&owned_path[..2]), Some(&owned_path)),
            // A method of no common name, a section apart from its path, nothing at all.
            response(Some("BREW"), Some("/b"), Some("/a")),
            response(None, None, None),
        ];
        let mut batch = Batch::default();
        for r in &requests {
            HttpSink::request(&mut batch, r);
        }
        for r in &responses {
            HttpSink::response(&mut batch, r);
        }
        batch.non_http(
            NonHttpKind::ALL[0],
            endpoint("10.0.0.2:443"),
            Some(b"sni\x00"),
        );
        let mut got = Recorded::default();
        batch.replay_into(&mut got);
        let mut want: Vec<String> = requests.iter().map(|r| format!("{r:?}")).collect();
        want.extend(responses.iter().map(|r| format!("{r:?}")));
        want.push(format!(
            "{:?}",
            (
                NonHttpKind::ALL[0],
                endpoint("10.0.0.2:443"),
                Some(&b"sni\x00"[..])
            )
        ));
        let got = got.0;
        assert_eq!(got, want);
        // The section and the path of the first request cost no text of their own, a
        // response's section none beside its path, and the common methods none at all.
        assert_eq!(
            batch.text_bytes(),
            target.len()
                + "CONNECThost:443/elsewhere".len()
                + "X".len()
                + "/p".len()
                + "/p/q".len()
                + "BREW/a/b".len()
                + 3 * 4
                + 4
        );
        batch.clear();
        assert_eq!(
            (batch.steps.len(), batch.held_bytes(), batch.packets()),
            (0, 0, 0)
        );
        // Requests with next to no text still count at their size: the batch's size says
        // when to hand it over, and must grow with every event.
        let tiny = request("GET", "/", "/", "/");
        for n in 1..=100 {
            HttpSink::request(&mut batch, &tiny);
            assert!(batch.held_bytes() >= n * (std::mem::size_of::<Request>() + 5));
        }
        batch.clear();
        assert_eq!(
            (batch.steps.len(), batch.held_bytes(), batch.packets()),
            (0, 0, 0)
        );
    }
}
