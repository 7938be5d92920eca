//! One packet stream through decode → flow → stats, on one thread, no locks. Replay calls it
//! directly; live capture feeds it from the capture thread. It also keeps the counts of what
//! could not be decoded, and of packets the capture cut short, so nothing is silently lost.

use crate::decode::{self, Endpoint, LinkType, decode_frame};
use crate::flow::{FlowConfig, FlowTable, HttpSink, NonHttpKind, RequestEvent, ResponseEvent};
use crate::stats::{AlertEvent, Health, Snapshot, Stats, StatsConfig};
use crate::time::Timestamp;

/// Feeds flow events into the statistics.
struct StatsSink<'a>(&'a mut Stats);

impl HttpSink for StatsSink<'_> {
    fn request(&mut self, req: &RequestEvent<'_>) {
        self.0.record_request(req);
    }
    fn response(&mut self, resp: &ResponseEvent<'_>) {
        self.0.record_response(resp);
    }
    fn non_http(&mut self, kind: NonHttpKind, _server: Endpoint, server_name: Option<&[u8]>) {
        self.0.record_non_http(kind, server_name);
    }
}

/// Decode, reassembly and statistics for one capture.
pub struct Pipeline {
    link: LinkType,
    flows: FlowTable,
    stats: Stats,
    packets: u64,
    undecoded: [u64; decode::Error::ALL.len()],
    last_expire: u64,
    alerts: Vec<AlertEvent>,
    /// Packets kept shorter than their IP length, and the longest such frame.
    truncated: u64,
    longest_cut: u32,
    /// Filled in by the caller (capture description, kernel counters).
    pub health: Health,
}

impl Pipeline {
    pub fn new(link: LinkType, flow: FlowConfig, stats: StatsConfig) -> Self {
        Pipeline {
            link,
            flows: FlowTable::new(flow),
            stats: Stats::new(stats),
            packets: 0,
            undecoded: [0; decode::Error::ALL.len()],
            last_expire: 0,
            alerts: Vec::new(),
            truncated: 0,
            longest_cut: 0,
            health: Health::default(),
        }
    }

    /// Maps paths to routes with the `--routes` file, when one was given.
    pub fn set_routes(&mut self, routes: Option<&crate::route_args::RoutesInput>) {
        if let Some(r) = routes {
            self.stats.set_routes(r.routes());
        }
    }

    /// One captured frame at its capture time.
    pub fn ingest(&mut self, ts: Timestamp, frame: &[u8]) {
        self.packets += 1;
        // Check the alert for every whole second before this packet first.
        self.stats.advance(ts, &mut self.alerts);
        match decode_frame(self.link, frame) {
            Ok(seg) => {
                if seg.is_truncated() {
                    self.cut(frame);
                }
                self.flows.ingest(&seg, ts, &mut StatsSink(&mut self.stats));
            }
            Err(e) => {
                if e == decode::Error::TruncatedHeaders {
                    self.cut(frame);
                }
                self.undecoded[e.index()] += 1;
            }
        }
        if ts.secs() > self.last_expire {
            self.last_expire = ts.secs();
            self.flows.expire(ts, &mut StatsSink(&mut self.stats));
        }
    }

    /// A frame the capture cut short.
    fn cut(&mut self, frame: &[u8]) {
        self.truncated += 1;
        self.longest_cut = self
            .longest_cut
            .max(u32::try_from(frame.len()).unwrap_or(u32::MAX));
    }

    /// One access-log entry at its own time (`--log`), counted like a request and its response.
    pub fn record_log(&mut self, entry: &crate::logs::LogEntry<'_>) {
        self.stats.advance(entry.ts, &mut self.alerts);
        crate::logs::record(&mut StatsSink(&mut self.stats), entry);
    }

    /// Moves time forward with no packet (the live loop's once-a-second tick).
    pub fn tick(&mut self, now: Timestamp) {
        self.stats.advance(now, &mut self.alerts);
        if now.secs() > self.last_expire {
            self.last_expire = now.secs();
            self.flows.expire(now, &mut StatsSink(&mut self.stats));
        }
    }

    /// End of input: flush what the flows hold and count what was cut.
    pub fn finish(&mut self) {
        self.flows.finish(&mut StatsSink(&mut self.stats));
    }

    /// Alert transitions since the last call, oldest first.
    pub fn take_alerts(&mut self) -> Vec<AlertEvent> {
        std::mem::take(&mut self.alerts)
    }

    /// Tells the alert logic that packets are being dropped (its counts are lower bounds).
    pub fn set_dropping(&mut self, dropping: bool) {
        self.stats.dropping = dropping;
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    pub fn now(&self) -> Timestamp {
        self.stats.now()
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut snap = self.stats.snapshot();
        let mut health = self.health.clone();
        health.packets = self.packets;
        health.undecoded = decode::Error::ALL
            .iter()
            .map(|e| (e.as_str(), self.undecoded[e.index()]))
            .filter(|(_, n)| *n > 0)
            .collect();
        health.flow = self.flows.counters().clone();
        health.flows_tracked = self.flows.len();
        health.truncated_packets = self.truncated;
        // The snap length is read off the cut frames rather than a file header: a frame the
        // snap length cut is exactly that long, while a header can claim more than it cut
        // (pcapng even has one per interface), and a live capture has none.
        health.snaplen = (self.truncated > 0).then_some(self.longest_cut);
        snap.health = health;
        snap
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::synth::{Conversation, Frame, Side};

    /// A keep-alive conversation of `n` short GETs with 200-byte answers, each frame cut to
    /// its first `snaplen` bytes.
    fn cut_conversation(n: usize, snaplen: usize) -> Vec<Frame> {
        let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let mut c = Conversation::new(client, "10.0.0.2:80".parse().unwrap());
        let mut frames = c.handshake();
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n{}",
            "b".repeat(200)
        );
        for _ in 0..n {
            frames.push(c.send(Side::Client, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
            frames.push(c.send(Side::Server, resp.as_bytes()));
        }
        frames.extend(c.close());
        for f in &mut frames {
            f.data.truncate(snaplen);
        }
        frames
    }

    fn run(frames: &[Frame]) -> Snapshot {
        let mut p = Pipeline::new(
            LinkType::Ethernet,
            FlowConfig::default(),
            StatsConfig::default(),
        );
        for f in frames {
            p.ingest(f.ts, &f.data);
        }
        p.finish();
        p.snapshot()
    }

    #[test]
    fn cut_packets_are_counted_with_their_snap_length() {
        // 14 + 20 + 20 bytes of headers leave 146 bytes: every request whole, every response cut.
        let s = run(&cut_conversation(4, 200));
        assert_eq!(s.health.truncated_packets, 4);
        assert_eq!(s.health.snaplen, Some(200));
        assert_eq!(s.health.truncation(), Some((200, 4)));
        assert!(s.health.undecoded.is_empty(), "{:?}", s.health.undecoded);
        assert_eq!((s.requests, s.responses), (4, 4));
        assert_eq!(s.health.flow.requests_unanswered, 0);
    }

    #[test]
    fn a_cut_inside_the_headers_is_counted_too() {
        // 60 bytes keep 6 of each payload; the handshake and the FINs (54 bytes) are whole.
        let s = run(&cut_conversation(2, 60));
        assert!(s.health.undecoded.is_empty(), "{:?}", s.health.undecoded);
        assert_eq!(s.health.truncation(), Some((60, 4)));
        // 40 bytes end inside every TCP header: all 9 packets.
        let s = run(&cut_conversation(2, 40));
        assert_eq!(s.health.undecoded, [("truncated_headers", 9)]);
        assert_eq!(s.health.truncation(), Some((40, 9)));
        assert_eq!(s.requests, 0);
    }

    #[test]
    fn a_whole_capture_reports_no_truncation() {
        let s = run(&cut_conversation(2, usize::MAX));
        assert_eq!((s.health.truncated_packets, s.health.snaplen), (0, None));
        assert_eq!((s.requests, s.responses), (2, 2));
    }
}
