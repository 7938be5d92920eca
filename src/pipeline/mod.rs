//! One packet stream through decode → flow → stats, no locks. Live capture feeds it from the
//! capture thread, one packet at a time. Replay on more than one CPU splits it in two: the
//! [`Front`] (decode and flows) runs beside the file reader and hands its events over in
//! [`Batch`]es, which [`Pipeline::apply`] counts in the same order. The front also keeps the
//! counts of what could not be decoded, and of packets the capture cut short, so nothing is
//! silently lost.

mod front;
mod handoff;

pub use front::{Front, FrontCounts};
pub use handoff::{Batch, Replay};

use crate::decode::{self, Endpoint, LinkType};
use crate::flow::{FlowConfig, HttpSink, NonHttpKind, RequestEvent, ResponseEvent};
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

/// A batch's steps, counted as [`Pipeline::ingest`] would have counted them.
struct Applied<'p, 'e> {
    pipe: &'p mut Pipeline,
    each: &'e mut dyn FnMut(&mut Pipeline, Timestamp),
}

impl Replay for Applied<'_, '_> {
    fn packet(&mut self, ts: Timestamp) {
        self.pipe.stats.advance(ts, &mut self.pipe.alerts);
    }
    fn request(&mut self, req: &RequestEvent<'_>) {
        self.pipe.stats.record_request(req);
    }
    fn response(&mut self, resp: &ResponseEvent<'_>) {
        self.pipe.stats.record_response(resp);
    }
    fn non_http(&mut self, kind: NonHttpKind, _server: Endpoint, server_name: Option<&[u8]>) {
        self.pipe.stats.record_non_http(kind, server_name);
    }
    fn packet_end(&mut self, ts: Timestamp) {
        (self.each)(self.pipe, ts);
    }
    fn counts(&mut self, counts: &FrontCounts) {
        self.pipe.counts.clone_from(counts);
    }
}

/// Decode, reassembly and statistics for one capture.
pub struct Pipeline {
    /// Decode and flows, unless they were handed to another thread ([`Pipeline::take_front`]);
    /// their events then come back in batches ([`Pipeline::apply`]) with their counts.
    front: Option<Front>,
    /// The front's counts as the last batch left them, while the front is elsewhere.
    counts: FrontCounts,
    stats: Stats,
    alerts: Vec<AlertEvent>,
    /// Filled in by the caller (capture description, kernel counters).
    pub health: Health,
}

impl Pipeline {
    pub fn new(link: LinkType, flow: FlowConfig, stats: StatsConfig) -> Self {
        Pipeline {
            front: Some(Front::new(link, flow)),
            counts: FrontCounts::default(),
            stats: Stats::new(stats),
            alerts: Vec::new(),
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
        // Check the alert for every whole second before this packet first.
        self.stats.advance(ts, &mut self.alerts);
        if let Some(front) = &mut self.front {
            front.ingest(ts, frame, &mut StatsSink(&mut self.stats));
        }
    }

    /// Hands decode and flows to another thread: from now on their events arrive through
    /// [`Pipeline::apply`]. `None` if they were handed over already.
    pub fn take_front(&mut self) -> Option<Front> {
        let front = self.front.take()?;
        self.counts = front.counts();
        Some(front)
    }

    /// The events of a batch made by the front on another thread, in order, as if its packets
    /// had been ingested here; `each` runs after each packet's events.
    pub fn apply(&mut self, batch: &Batch, each: &mut dyn FnMut(&mut Pipeline, Timestamp)) {
        batch.replay_into(&mut Applied { pipe: self, each });
    }

    /// One access-log entry at its own time (`--log`), counted like a request and its response.
    pub fn record_log(&mut self, entry: &crate::logs::LogEntry<'_>) {
        self.stats.advance(entry.ts, &mut self.alerts);
        crate::logs::record(&mut StatsSink(&mut self.stats), entry);
    }

    /// Moves time forward with no packet (the live loop's once-a-second tick).
    pub fn tick(&mut self, now: Timestamp) {
        self.stats.advance(now, &mut self.alerts);
        if let Some(front) = &mut self.front {
            front.expire(now, &mut StatsSink(&mut self.stats));
        }
    }

    /// End of input: flush what the flows hold and count what was cut.
    pub fn finish(&mut self) {
        if let Some(front) = &mut self.front {
            front.finish(&mut StatsSink(&mut self.stats));
        }
    }

    /// Whether [`Pipeline::take_alerts`] has anything.
    #[inline]
    pub fn has_alerts(&self) -> bool {
        !self.alerts.is_empty()
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
        match &self.front {
            Some(front) => front.packets(),
            None => self.counts.packets,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.stats.now()
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut snap = self.stats.snapshot();
        let mut health = self.health.clone();
        let here;
        let counts = match &self.front {
            Some(front) => {
                here = front.counts();
                &here
            }
            None => &self.counts,
        };
        health.packets = counts.packets;
        health.undecoded = decode::Error::ALL
            .iter()
            .map(|e| (e.as_str(), counts.undecoded[e.index()]))
            .filter(|(_, n)| *n > 0)
            .collect();
        health.flow = counts.flow.clone();
        health.flows_tracked = counts.flows_tracked;
        health.truncated_packets = counts.truncated;
        // The snap length is read off the cut frames rather than a file header: a frame the
        // snap length cut is exactly that long, while a header can claim more than it cut
        // (pcapng even has one per interface), and a live capture has none.
        health.snaplen = (counts.truncated > 0).then_some(counts.longest_cut);
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

    /// `frames` through a front of its own in batches of `per_batch` packets, into a pipeline
    /// that counts them, as a replay on two threads does (on one thread here).
    fn run_in_batches(frames: &[Frame], per_batch: usize) -> Snapshot {
        let mut p = Pipeline::new(
            LinkType::Ethernet,
            FlowConfig::default(),
            StatsConfig::default(),
        );
        let mut front = p.take_front().unwrap();
        assert!(p.take_front().is_none());
        let mut batch = Batch::default();
        let mut packets = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            batch.ingest(&mut front, f.ts, &f.data, i % 7 == 0);
            if batch.packets() >= per_batch {
                batch.counts(&front);
                p.apply(&batch, &mut |p, ts| packets.push((ts, p.packets())));
                batch.clear();
            }
        }
        batch.finish(&mut front);
        p.apply(&batch, &mut |p, ts| packets.push((ts, p.packets())));
        // Each packet's end comes once, in order.
        assert_eq!(packets.len(), frames.len());
        assert!(packets.windows(2).all(|w| w[0].0 <= w[1].0));
        p.snapshot()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever the frames (cut, dropped, corrupted) and wherever the batches end, the
        /// statistics come out as one pipeline makes them.
        #[test]
        fn batches_count_what_one_pipeline_counts(
            edits in proptest::collection::vec((0usize..2_000, 0u8..4, proptest::prelude::any::<u8>()), 0..40),
            per_batch in 1usize..300,
        ) {
            let mut frames = crate::synth::sample_traffic_profile(&[(40, 3), (5, 2)]);
            for (at, op, byte) in edits {
                let n = frames.len();
                let Some(f) = frames.get_mut(at % n) else { continue };
                match op {
                    0 => f.data.truncate(usize::from(byte)),
                    1 => {
                        let i = usize::from(byte) % f.data.len().max(1);
                        if let Some(b) = f.data.get_mut(i) {
                            *b ^= 0x5a;
                        }
                    }
                    2 => f.data.clear(),
                    _ => f.data.extend_from_slice(b"GET /x HTTP/1.1\r\n\r\n"),
                }
            }
            let one = run(&frames);
            let two = run_in_batches(&frames, per_batch);
            proptest::prop_assert_eq!(
                crate::output::json::summary(&one),
                crate::output::json::summary(&two)
            );
        }
    }
}
