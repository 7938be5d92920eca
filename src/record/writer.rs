//! The writer thread: pcapng files written off the packet path. The packet path only queues
//! (a bounded channel, and a byte budget on what is queued): when the disk is slower than the
//! traffic the queue fills and recorded packets are dropped and counted, while capture and
//! monitoring go on untouched. A file that cannot be created or written costs one line on
//! stderr; its packets are counted as dropped and the next file is tried afresh.
//!
//! Two kinds of target: `-w` ([`Target::Rotating`], files named and rotated by [`Rotation`])
//! and the flight recorder ([`Target::PerAlert`], one file per alert, opened and closed by
//! explicit jobs).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::pcapng::PcapngWriter;
use super::ring::Packet;
use super::rotation::Rotation;
use crate::stats::RecordingCounters;
use crate::time::Timestamp;

/// Jobs waiting for the writer before more are dropped.
pub const QUEUE_JOBS: usize = 256;
/// Packet bytes (with their overhead) waiting for the writer before more are dropped.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Error lines kept for later when stderr is not ours (the dashboard owns the terminal).
const KEPT_ERRORS: usize = 20;

/// Where the packets go.
pub enum Target {
    /// `-w`: the first file already open (it was opened while privileged), the rest named by
    /// the rotation.
    Rotating {
        rotation: Rotation,
        first: (PathBuf, File),
    },
    /// The flight recorder: files opened and closed by [`Writer::open`] and [`Writer::close`].
    PerAlert,
}

enum Job {
    Open {
        path: PathBuf,
        comment: String,
        packets: VecDeque<Packet>,
    },
    Packets(Vec<Packet>),
    Close {
        end: Timestamp,
        comment: String,
    },
}

#[derive(Default)]
struct Shared {
    packets: AtomicU64,
    bytes: AtomicU64,
    files: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    queued_bytes: AtomicUsize,
    kept_errors: Mutex<Vec<String>>,
}

impl Shared {
    fn drop_packets(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One line per failure: printed now, or kept until the terminal is ours again.
    fn error(&self, quiet: bool, line: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if quiet {
            if let Ok(mut kept) = self.kept_errors.lock()
                && kept.len() < KEPT_ERRORS
            {
                kept.push(line);
            }
        } else {
            eprintln!("traffic-watch: {line}");
        }
    }
}

/// The handle the packet path holds.
pub struct Writer {
    tx: Option<SyncSender<Job>>,
    shared: Arc<Shared>,
    done: Receiver<()>,
}

/// Link type and snap length every file gets.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    pub linktype: u16,
    pub snaplen: u32,
}

impl Writer {
    /// Starts the thread. `quiet`: keep error lines for [`Writer::take_errors`] instead of
    /// printing them (the dashboard owns the terminal).
    pub fn spawn(name: &str, target: Target, format: Format, quiet: bool) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE_JOBS);
        let (done_tx, done) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            shared: Arc::clone(&shared),
            format,
            quiet,
            file: None,
        };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                match target {
                    Target::Rotating { rotation, first } => worker.rotating(rx, rotation, first),
                    Target::PerAlert => worker.per_alert(rx),
                }
                let _ = done_tx.send(());
            })?;
        Ok(Writer {
            tx: Some(tx),
            shared,
            done,
        })
    }

    fn send(&self, job: Job, packets: usize, bytes: usize) -> bool {
        let Some(tx) = &self.tx else {
            self.shared.drop_packets(packets);
            return false;
        };
        self.shared.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        match tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
                self.shared.drop_packets(packets);
                false
            }
        }
    }

    /// Queues packets for the current file; drops (and counts) them when the queue is full.
    pub fn packets(&self, packets: Vec<Packet>) {
        if packets.is_empty() {
            return;
        }
        let bytes: usize = packets.iter().map(Packet::cost).sum();
        if self.shared.queued_bytes.load(Ordering::Relaxed) + bytes > QUEUE_BYTES {
            self.shared.drop_packets(packets.len());
            return;
        }
        let n = packets.len();
        self.send(Job::Packets(packets), n, bytes);
    }

    /// Starts a new file at `path` whose section comment is `comment`, beginning with
    /// `packets` (the ring: its memory is already bounded, so it is not held to the queue's
    /// byte budget). False when it could not be queued (the packets are counted as dropped).
    pub fn open(&self, path: PathBuf, comment: String, packets: VecDeque<Packet>) -> bool {
        let n = packets.len();
        self.send(
            Job::Open {
                path,
                comment,
                packets,
            },
            n,
            0,
        )
    }

    /// Ends the current file with `comment` (why it ended) at `end`.
    pub fn close(&self, end: Timestamp, comment: String) {
        self.send(Job::Close { end, comment }, 0, 0);
    }

    pub fn counters(&self) -> RecordingCounters {
        let s = &self.shared;
        RecordingCounters {
            packets: s.packets.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            files: s.files.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
        }
    }

    /// Error lines kept while quiet.
    pub fn take_errors(&self) -> Vec<String> {
        self.shared
            .kept_errors
            .lock()
            .map(|mut k| std::mem::take(&mut *k))
            .unwrap_or_default()
    }

    /// Closes the queue and waits, at most `limit`, for what is queued to be written and the
    /// file closed, so the counters are final. What the wait gives up on is not counted as
    /// written.
    pub fn finish(&mut self, limit: Duration) -> RecordingCounters {
        self.tx = None;
        match self.done.recv_timeout(limit) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
            Err(RecvTimeoutError::Timeout) => {
                self.shared.error(
                    false,
                    format!(
                        "the recording writer did not finish within {} s; the counts are \
                         what it had written by then",
                        limit.as_secs()
                    ),
                );
            }
        }
        self.counters()
    }
}

/// Bytes gathered before they go to the file in one write.
const STAGE_BYTES: usize = 256 * 1024;

/// The file and what is waiting to be written to it. Packets count as recorded only once a
/// write holding them succeeded, so a failed write counts exactly its packets as dropped.
struct Stage {
    file: File,
    buf: Vec<u8>,
    packets: u64,
    bytes: u64,
}

impl Write for Stage {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// A file being written.
struct Open {
    path: PathBuf,
    pcap: PcapngWriter<Stage>,
    first: Option<Timestamp>,
    last: Timestamp,
}

/// The thread's state.
struct Worker {
    shared: Arc<Shared>,
    format: Format,
    quiet: bool,
    /// None when the current file could not be created or written: its packets are dropped.
    file: Option<Open>,
}

impl Worker {
    fn start(&mut self, path: &Path, file: std::io::Result<File>, comment: Option<&str>) {
        self.file = None;
        let opened = file.and_then(|file| {
            let stage = Stage {
                file,
                buf: Vec::with_capacity(STAGE_BYTES + 64 * 1024),
                packets: 0,
                bytes: 0,
            };
            PcapngWriter::new(stage, self.format.linktype, self.format.snaplen, comment)
        });
        match opened {
            Ok(pcap) => {
                self.file = Some(Open {
                    path: path.to_owned(),
                    pcap,
                    first: None,
                    last: Timestamp::ZERO,
                });
            }
            Err(e) => {
                self.shared.error(
                    self.quiet,
                    format!(
                        "cannot write '{}': {e}; its packets are dropped (counted), monitoring goes on",
                        path.display()
                    ),
                );
            }
        }
    }

    fn write(&mut self, p: &Packet) {
        let Some(open) = &mut self.file else {
            self.shared.drop_packets(1);
            return;
        };
        let staged = open.pcap.write_packet(p.ts, p.wire_len, &p.data);
        open.first.get_or_insert(p.ts);
        open.last = p.ts;
        let stage = open.pcap.get_mut();
        stage.packets += 1;
        stage.bytes += p.data.len() as u64;
        if staged.is_err() || stage.buf.len() >= STAGE_BYTES {
            self.flush();
        }
    }

    /// Writes what is staged; on failure the file is given up and its staged packets dropped.
    fn flush(&mut self) {
        let Some(open) = &mut self.file else { return };
        let stage = open.pcap.get_mut();
        let (packets, bytes) = (stage.packets, stage.bytes);
        stage.packets = 0;
        stage.bytes = 0;
        match open.pcap.flush() {
            Ok(()) => {
                self.shared.packets.fetch_add(packets, Ordering::Relaxed);
                self.shared.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err(e) => {
                let path = open.path.clone();
                self.file = None;
                self.shared.drop_packets(packets as usize);
                self.shared.error(
                    self.quiet,
                    format!(
                        "cannot write '{}': {e}; recording to it stopped, its further packets \
                         are dropped (counted), monitoring goes on",
                        path.display()
                    ),
                );
            }
        }
    }

    fn end(&mut self, end: Option<Timestamp>, comment: Option<&str>) {
        self.flush();
        let Some(open) = self.file.take() else { return };
        let end = end.unwrap_or(open.last);
        match open.pcap.finish(end, comment) {
            Ok(_) => {
                self.shared.files.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.shared.error(
                self.quiet,
                format!("cannot finish '{}': {e}", open.path.display()),
            ),
        }
    }

    fn release(&self, packets: &[Packet]) {
        let bytes: usize = packets.iter().map(Packet::cost).sum();
        self.shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn rotating(mut self, rx: Receiver<Job>, rotation: Rotation, first: (PathBuf, File)) {
        self.start(&first.0, Ok(first.1), None);
        let mut index = 0u64;
        // When the current file failed: the first packet since, from which a time rotation
        // tries a new file (size alone never retries: a full disk would cost a line a packet).
        let mut failed_at: Option<Timestamp> = None;
        for job in rx {
            let Job::Packets(packets) = job else { continue };
            self.release(&packets);
            self.rotate_and_write(&packets, &rotation, &mut index, &mut failed_at);
            // A batch at a time reaches the file: what was captured is on disk within the
            // batch age, as an on-call engineer opening the file expects.
            self.flush();
        }
        self.end(None, None);
    }

    fn rotate_and_write(
        &mut self,
        packets: &[Packet],
        rotation: &Rotation,
        index: &mut u64,
        failed_at: &mut Option<Timestamp>,
    ) {
        for p in packets {
            let due = match &self.file {
                Some(f) => rotation.due(f.pcap.written(), f.first, p.ts),
                None => {
                    let since = *failed_at.get_or_insert(p.ts);
                    rotation
                        .every
                        .is_some_and(|every| p.ts >= since.plus(every))
                }
            };
            if due {
                self.end(None, None);
                *failed_at = None;
                *index += 1;
                let path = rotation.name(*index, p.ts);
                let file = File::create(&path);
                self.start(&path, file, None);
            }
            self.write(p);
        }
    }

    fn per_alert(mut self, rx: Receiver<Job>) {
        for job in rx {
            match job {
                Job::Open {
                    path,
                    comment,
                    packets,
                } => {
                    self.end(None, None);
                    let file = File::options().write(true).create_new(true).open(&path);
                    self.start(&path, file, Some(&comment));
                    for p in &packets {
                        self.write(p);
                    }
                }
                Job::Packets(packets) => {
                    self.release(&packets);
                    for p in &packets {
                        self.write(p);
                    }
                    self.flush();
                }
                Job::Close { end, comment } => {
                    self.end(Some(end), Some(&comment));
                }
            }
        }
        self.end(None, Some("traffic-watch stopped while recording"));
    }
}
