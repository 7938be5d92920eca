//! The flight recorder (`--record-alerts DIR`): a state machine driven by the packets and by
//! the alert transitions the pipeline already produces, on packet time.
//!
//! While quiet it keeps the last packets in a [`Ring`]. When the alert triggers, the ring goes
//! to the writer as the start of `DIR/alert-YYYYMMDDTHHMMSSZ.pcapng` (the alert's time), whose
//! section comment is the alert message, and every packet after it follows. When the alert
//! recovers at second `T` the recording goes on until the first packet after `T`, the packet
//! that makes a replay check second `T` and see the recovery too (at most
//! [`POST_ROLL_LIMIT`] of time later when no packet comes); the file ends with the recovery
//! message. A recording is capped at [`MAX_RECORDING_BYTES`] of packets or
//! [`MAX_RECORDING_TIME`] after the alert, whichever comes first; then the recorder buffers
//! again and the next file waits for the next alert.
//!
//! The packet path only copies and queues; the writer thread does the I/O.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ring::{Packet, Ring};
use super::writer::Writer;
use crate::stats::{AlertEvent, AlertKind, MAX_ALERT_HISTORY, RecordingCounters};
use crate::time::Timestamp;

/// The most packet bytes one recording holds.
pub const MAX_RECORDING_BYTES: u64 = 1 << 30;
/// The longest one recording runs after its alert triggered.
pub const MAX_RECORDING_TIME: Duration = Duration::from_secs(10 * 60);
/// How long after a recovery the recording waits for a packet to show it.
pub const POST_ROLL_LIMIT: Duration = Duration::from_secs(10);

/// The ring's defaults: the last 60 s, at most 128 MiB.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(60);
pub const DEFAULT_BUFFER_BYTES: usize = 128 * 1024 * 1024;

#[derive(Debug)]
enum State {
    /// No alert: packets go to the ring.
    Buffering,
    /// An alert is being recorded.
    Recording {
        path: PathBuf,
        started: Timestamp,
        bytes: u64,
        /// After the recovery: the packet time that ends the recording, and the message.
        recovery: Option<(Timestamp, String)>,
    },
    /// The recording reached its cap while the alert was still on: buffering again, and the
    /// next file waits for the next alert.
    Capped,
}

/// The flight recorder.
pub struct Recorder {
    dir: PathBuf,
    ring: Ring,
    state: State,
    /// Packets for the writer, sent once per batch.
    pending: Vec<Packet>,
    writer: Writer,
    /// The newest packet time seen.
    last: Timestamp,
    /// Files by the time of their alert, newest first.
    files: Vec<(Timestamp, String)>,
    buffer_limit: usize,
}

impl Recorder {
    pub fn new(dir: PathBuf, buffer_bytes: usize, span: Duration, writer: Writer) -> Self {
        Recorder {
            dir,
            ring: Ring::new(buffer_bytes, span),
            state: State::Buffering,
            pending: Vec::new(),
            writer,
            last: Timestamp::ZERO,
            files: Vec::new(),
            buffer_limit: buffer_bytes,
        }
    }

    /// The file an alert at `at` is recorded to.
    pub fn file_name(dir: &Path, at: Timestamp) -> PathBuf {
        let (y, m, d) = at.date_utc();
        let s = at.secs() % 86_400;
        dir.join(format!(
            "alert-{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z.pcapng",
            s / 3600,
            (s / 60) % 60,
            s % 60
        ))
    }

    /// One captured packet.
    pub fn packet(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) {
        self.last = self.last.max(ts);
        let p = Packet::new(ts, wire_len, data);
        match &mut self.state {
            State::Buffering | State::Capped => self.ring.push(p),
            State::Recording {
                started,
                bytes,
                recovery,
                ..
            } => {
                *bytes += p.data.len() as u64;
                self.pending.push(p);
                let end = if let Some((due, message)) = recovery
                    && ts >= *due
                {
                    Some((message.clone(), false))
                } else if *bytes >= MAX_RECORDING_BYTES {
                    Some((cap_message("size", MAX_RECORDING_BYTES >> 20, "MiB"), true))
                } else if ts >= started.plus(MAX_RECORDING_TIME) {
                    Some((cap_message("time", MAX_RECORDING_TIME.as_secs(), "s"), true))
                } else {
                    None
                };
                if let Some((message, capped)) = end {
                    self.stop(ts, message, capped);
                }
            }
        }
    }

    /// After each batch of packets: hands what was recorded to the writer.
    pub fn end_batch(&mut self) {
        if !self.pending.is_empty() {
            self.writer.packets(std::mem::take(&mut self.pending));
        }
    }

    /// An alert transition; returns the file recording it.
    pub fn alert(&mut self, e: &AlertEvent) -> Option<PathBuf> {
        match (&mut self.state, e.kind) {
            (State::Buffering, AlertKind::Triggered) => {
                let path = Self::file_name(&self.dir, e.at);
                self.writer
                    .open(path.clone(), e.message(), self.ring.take());
                self.files.insert(0, (e.at, path.display().to_string()));
                self.files.truncate(MAX_ALERT_HISTORY);
                self.state = State::Recording {
                    path: path.clone(),
                    started: e.at,
                    bytes: 0,
                    recovery: None,
                };
                Some(path)
            }
            // Triggered again before the recording ended: the same file goes on.
            (State::Recording { path, recovery, .. }, AlertKind::Triggered) => {
                *recovery = None;
                self.files.insert(0, (e.at, path.display().to_string()));
                self.files.truncate(MAX_ALERT_HISTORY);
                Some(path.clone())
            }
            (State::Recording { path, recovery, .. }, AlertKind::Recovered) => {
                let path = path.clone();
                // Second T is checked once time is past T (`stats::second_of` is a ceiling):
                // the first packet after T makes a replay see this recovery.
                let due = e.at.plus(Duration::from_micros(1));
                *recovery = Some((due, e.message()));
                if self.last >= due {
                    self.end_batch();
                    self.stop(self.last, e.message(), false);
                }
                Some(path)
            }
            (State::Capped, AlertKind::Recovered) => {
                self.state = State::Buffering;
                None
            }
            (State::Capped, AlertKind::Triggered) | (State::Buffering, AlertKind::Recovered) => {
                None
            }
        }
    }

    /// Time moved on with no packet (the live loop's tick): ends a recording whose recovery
    /// no packet came to show, or that ran out of time.
    pub fn tick(&mut self, now: Timestamp) {
        let State::Recording {
            started, recovery, ..
        } = &self.state
        else {
            return;
        };
        let end = match recovery {
            Some((due, message)) if now >= due.plus(POST_ROLL_LIMIT) => Some((
                format!(
                    "{message} (no packet came in the {} s after it)",
                    POST_ROLL_LIMIT.as_secs()
                ),
                false,
            )),
            None if now >= started.plus(MAX_RECORDING_TIME) => {
                Some((cap_message("time", MAX_RECORDING_TIME.as_secs(), "s"), true))
            }
            _ => None,
        };
        if let Some((message, capped)) = end {
            self.end_batch();
            self.stop(now, message, capped);
        }
    }

    fn stop(&mut self, end: Timestamp, message: String, capped: bool) {
        self.end_batch();
        self.writer.close(end, message);
        self.state = if capped {
            State::Capped
        } else {
            State::Buffering
        };
    }

    /// End of the run: closes an open recording and waits (bounded) for the writer.
    pub fn finish(&mut self, limit: Duration) -> RecordingCounters {
        self.end_batch();
        if matches!(self.state, State::Recording { .. }) {
            self.writer
                .close(self.last, "traffic-watch stopped while recording".into());
            self.state = State::Buffering;
        }
        self.writer.finish(limit)
    }

    pub fn counters(&self) -> RecordingCounters {
        self.writer.counters()
    }

    /// An alert's packets are going to a file.
    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Recording { .. })
    }

    pub fn buffer_bytes(&self) -> usize {
        self.ring.bytes()
    }

    pub fn buffer_limit(&self) -> usize {
        self.buffer_limit
    }

    /// Files by the time of their alert, newest first.
    pub fn files(&self) -> &[(Timestamp, String)] {
        &self.files
    }

    pub fn take_errors(&self) -> Vec<String> {
        self.writer.take_errors()
    }
}

fn cap_message(what: &str, n: u64, unit: &str) -> String {
    format!(
        "recording stopped at its {what} cap ({n} {unit}) while the alert was still on; \
         the next alert starts a new file"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::writer::{Format, Target};

    fn alert(kind: AlertKind, secs: u64) -> AlertEvent {
        AlertEvent {
            kind,
            at: Timestamp::from_secs(secs),
            hits: 10,
            lower_bound: false,
        }
    }

    fn recorder(dir: &Path) -> Recorder {
        let format = Format {
            linktype: 1,
            snaplen: 262_144,
        };
        let writer = Writer::spawn("test-recorder", Target::PerAlert, format, true).unwrap();
        Recorder::new(dir.to_owned(), 1 << 20, Duration::from_secs(5), writer)
    }

    fn at(s: u64, ms: u64) -> Timestamp {
        Timestamp::from_micros(s * 1_000_000 + ms * 1000)
    }

    fn times(path: &Path) -> Vec<Timestamp> {
        let mut cap = pcap::Capture::from_file(path).unwrap();
        let mut out = Vec::new();
        while let Ok(p) = cap.next_packet() {
            out.push(Timestamp::from_timeval(
                p.header.ts.tv_sec,
                p.header.ts.tv_usec,
            ));
        }
        out
    }

    #[test]
    fn file_names_carry_the_alert_time() {
        let p = Recorder::file_name(Path::new("/x"), Timestamp::from_secs(1_795_500_699));
        assert_eq!(p, Path::new("/x/alert-20261124T061139Z.pcapng"));
    }

    #[test]
    fn records_the_run_up_the_alert_and_the_packet_that_shows_the_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        // 10 s of run-up, one packet a second: the ring keeps the last 5 s.
        for s in 100..110 {
            r.packet(at(s, 0), 60, &[0; 60]);
        }
        r.end_batch();
        let path = r.alert(&alert(AlertKind::Triggered, 109)).unwrap();
        assert_eq!(
            path,
            Recorder::file_name(dir.path(), Timestamp::from_secs(109))
        );
        r.packet(at(110, 0), 60, &[1; 60]);
        r.packet(at(111, 0), 60, &[1; 60]);
        r.end_batch();
        assert_eq!(
            r.alert(&alert(AlertKind::Recovered, 111)),
            Some(path.clone())
        );
        // A packet at exactly 111.000 is in second 111 and leaves it unchecked: recording goes
        // on; the first one after it ends the recording, and the next goes to the ring.
        r.packet(at(111, 0), 60, &[2; 60]);
        r.packet(at(111, 1), 60, &[3; 60]);
        r.packet(at(112, 0), 60, &[4; 60]);
        r.end_batch();
        assert_eq!(r.buffer_bytes(), 60 + crate::record::ring::PACKET_OVERHEAD);
        let c = r.finish(Duration::from_secs(5));
        assert_eq!((c.packets, c.files, c.dropped, c.errors), (10, 1, 0, 0));
        let got = times(&path);
        assert_eq!(got.first(), Some(&at(104, 0)), "the ring's span, inclusive");
        assert_eq!(got.last(), Some(&at(111, 1)));
        assert_eq!(got.len(), 10, "{got:?}");
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(text.contains("High traffic generated an alert - hits = 10"));
        assert!(text.contains("High traffic alert recovered at"));
    }

    #[test]
    fn a_recovery_no_packet_shows_ends_on_the_tick() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        r.packet(at(100, 0), 60, &[0; 60]);
        let path = r.alert(&alert(AlertKind::Triggered, 100)).unwrap();
        r.alert(&alert(AlertKind::Recovered, 102));
        r.tick(at(112, 0));
        assert!(r.is_recording(), "10 s after 102 s + 1 µs is not yet");
        r.tick(at(112, 1));
        assert!(!r.is_recording());
        r.packet(at(112, 500), 60, &[0; 60]);
        r.end_batch();
        // The recording ended: the new packet went to the ring.
        assert!(r.buffer_bytes() > 0);
        let c = r.finish(Duration::from_secs(5));
        assert_eq!((c.packets, c.files), (1, 1));
        assert_eq!(times(&path).len(), 1);
    }

    #[test]
    fn an_unwritable_directory_counts_every_packet_as_dropped() {
        let mut r = recorder(Path::new("/nonexistent/traffic-watch-test"));
        for s in 0..3 {
            r.packet(at(100 + s, 0), 60, &[0; 60]);
        }
        r.alert(&alert(AlertKind::Triggered, 102));
        r.packet(at(103, 0), 60, &[0; 60]);
        r.end_batch();
        let c = r.finish(Duration::from_secs(5));
        assert_eq!((c.packets, c.dropped, c.errors, c.files), (0, 4, 1, 0));
        assert_eq!(r.take_errors().len(), 1);
    }
}
