//! The packet half of the pipeline: decode and flows, which turn frames into HTTP events. It
//! keeps its own counts (packets, what could not be decoded, frames the capture cut short) and
//! knows nothing of statistics, so it can run on a thread of its own and hand its events over.

use crate::decode::{self, LinkType, decode_frame};
use crate::flow::{FlowConfig, FlowCounters, FlowTable, HttpSink};
use crate::time::Timestamp;

/// Decode and reassembly for one capture.
pub struct Front {
    link: LinkType,
    flows: FlowTable,
    packets: u64,
    undecoded: [u64; decode::Error::ALL.len()],
    last_expire: u64,
    /// Packets kept shorter than their IP length, and the longest such frame.
    truncated: u64,
    longest_cut: u32,
}

/// The front's counts, as the snapshot shows them.
#[derive(Debug, Clone, Default)]
pub struct FrontCounts {
    pub packets: u64,
    pub undecoded: [u64; decode::Error::ALL.len()],
    pub flow: FlowCounters,
    pub flows_tracked: usize,
    pub truncated: u64,
    pub longest_cut: u32,
}

impl Front {
    pub fn new(link: LinkType, flow: FlowConfig) -> Self {
        Front {
            link,
            flows: FlowTable::new(flow),
            packets: 0,
            undecoded: [0; decode::Error::ALL.len()],
            last_expire: 0,
            truncated: 0,
            longest_cut: 0,
        }
    }

    /// One captured frame at its capture time; its HTTP events go to `sink`.
    pub fn ingest(&mut self, ts: Timestamp, frame: &[u8], sink: &mut impl HttpSink) {
        self.packets += 1;
        match decode_frame(self.link, frame) {
            Ok(seg) => {
                if seg.is_truncated() {
                    self.cut(frame);
                }
                self.flows.ingest(&seg, ts, sink);
            }
            Err(e) => {
                if e == decode::Error::TruncatedHeaders {
                    self.cut(frame);
                }
                self.undecoded[e.index()] += 1;
            }
        }
        self.expire(ts, sink);
    }

    /// Expires idle flows once per second of `now`.
    pub fn expire(&mut self, now: Timestamp, sink: &mut impl HttpSink) {
        if now.secs() > self.last_expire {
            self.last_expire = now.secs();
            self.flows.expire(now, sink);
        }
    }

    /// End of input: flush what the flows hold.
    pub fn finish(&mut self, sink: &mut impl HttpSink) {
        self.flows.finish(sink);
    }

    /// A frame the capture cut short.
    fn cut(&mut self, frame: &[u8]) {
        self.truncated += 1;
        self.longest_cut = self
            .longest_cut
            .max(u32::try_from(frame.len()).unwrap_or(u32::MAX));
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    pub fn counts(&self) -> FrontCounts {
        FrontCounts {
            packets: self.packets,
            undecoded: self.undecoded,
            flow: self.flows.counters().clone(),
            flows_tracked: self.flows.len(),
            truncated: self.truncated,
            longest_cut: self.longest_cut,
        }
    }
}
