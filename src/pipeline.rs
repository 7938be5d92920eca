//! One packet stream through decode → flow → stats, on one thread, no locks. Replay calls it
//! directly; live capture feeds it from the capture thread. It also keeps the counts of what
//! could not be decoded, so nothing is silently lost.

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
            health: Health::default(),
        }
    }

    /// One captured frame at its capture time.
    pub fn ingest(&mut self, ts: Timestamp, frame: &[u8]) {
        self.packets += 1;
        // Check the alert for every whole second before this packet first.
        self.stats.advance(ts, &mut self.alerts);
        match decode_frame(self.link, frame) {
            Ok(seg) => self.flows.ingest(&seg, ts, &mut StatsSink(&mut self.stats)),
            Err(e) => self.undecoded[e.index()] += 1,
        }
        if ts.secs() > self.last_expire {
            self.last_expire = ts.secs();
            self.flows.expire(ts, &mut StatsSink(&mut self.stats));
        }
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
        snap.health = health;
        snap
    }
}
