//! The capture thread of a live run: reads packets from libpcap, copies them into batches and
//! hands them to the pipeline through a bounded queue. It never blocks on a slow pipeline: a
//! full queue drops the batch and counts it, so the kernel buffer keeps being emptied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::{KernelStats, LivePacket, LiveSource};
use crate::error::{Error, Result};
use crate::stats::Health;
use crate::time::Timestamp;

const BATCH_PACKETS: usize = 512;
/// A batch leaves at this age even when not full, so a quiet capture stays current. The age is
/// read from the packets' capture times: this loop runs once a packet, and a clock read costs
/// tens of nanoseconds (about 65 under a KVM hypervisor's TSC), a sizeable share of what
/// counting a request costs.
const BATCH_AGE: Duration = Duration::from_millis(20);
/// For the same reason libpcap's counters are polled by the clock only every this many
/// packets, or when a read found nothing.
const STATS_CHECK_PACKETS: u32 = 1024;
/// Batches in flight between the threads.
const QUEUE_BATCHES: usize = 64;

/// Packets read by the capture thread, copied into one buffer to keep allocations per batch.
pub struct Batch {
    data: Vec<u8>,
    /// Time, offset and length in `data`, length on the wire.
    packets: Vec<(Timestamp, u32, u32, u32)>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            data: Vec::with_capacity(256 * 1024),
            packets: Vec::with_capacity(BATCH_PACKETS),
        }
    }

    fn add(&mut self, p: LivePacket<'_>) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(p.data);
        self.packets
            .push((p.ts, start, p.data.len() as u32, p.wire_len));
    }

    fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }

    /// Each packet: capture time, length on the wire, the bytes captured.
    pub fn packets(&self) -> impl Iterator<Item = (Timestamp, u32, &[u8])> {
        self.packets
            .iter()
            .filter_map(|(ts, start, len, wire_len)| {
                let (s, l) = (*start as usize, *len as usize);
                self.data.get(s..s + l).map(|frame| (*ts, *wire_len, frame))
            })
    }
}

/// What the capture thread shares with the pipeline.
#[derive(Default)]
struct CaptureCounters {
    kernel_received: AtomicU64,
    kernel_dropped: AtomicU64,
    if_dropped: AtomicU64,
    queue_dropped: AtomicU64,
    has_stats: AtomicBool,
}

impl CaptureCounters {
    fn publish(&self, s: KernelStats) {
        self.kernel_received.store(s.received, Ordering::Relaxed);
        self.kernel_dropped.store(s.dropped, Ordering::Relaxed);
        self.if_dropped.store(s.if_dropped, Ordering::Relaxed);
        self.has_stats.store(true, Ordering::Relaxed);
    }
}

/// What one wait on the queue gave.
pub enum Received {
    Batch(Batch),
    Nothing,
    /// The thread has stopped and everything it sent was received.
    Ended,
}

/// The running capture thread, seen from the pipeline's side.
pub struct CaptureThread {
    rx: mpsc::Receiver<Batch>,
    recycle: mpsc::Sender<Batch>,
    counters: Arc<CaptureCounters>,
    thread: JoinHandle<Result<()>>,
}

impl CaptureThread {
    /// Starts reading `source` until `stop` is set; then what the kernel holds is delivered.
    pub fn spawn(source: LiveSource, stop: Arc<AtomicBool>) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE_BATCHES);
        let (recycle, recycle_rx) = mpsc::channel::<Batch>();
        let counters = Arc::new(CaptureCounters::default());
        let thread = {
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || capture_loop(source, tx, recycle_rx, counters, stop))?
        };
        Ok(CaptureThread {
            rx,
            recycle,
            counters,
            thread,
        })
    }

    pub fn recv(&self, wait: Duration) -> Received {
        match self.rx.recv_timeout(wait) {
            Ok(batch) => Received::Batch(batch),
            Err(RecvTimeoutError::Timeout) => Received::Nothing,
            Err(RecvTimeoutError::Disconnected) => Received::Ended,
        }
    }

    /// Gives a processed batch back for reuse.
    pub fn recycle(&self, mut batch: Batch) {
        batch.clear();
        let _ = self.recycle.send(batch);
    }

    /// libpcap's counters and the queue's drops, as of now.
    pub fn health(&self, h: &mut Health) {
        Self::health_from(&self.counters, h);
    }

    /// Hangs up and waits for the thread (which has been told to stop), with its result.
    pub fn join(self, h: &mut Health) -> Result<()> {
        let CaptureThread {
            rx,
            counters,
            thread,
            recycle,
        } = self;
        drop(rx);
        drop(recycle);
        let r = thread.join().unwrap_or_else(|_| {
            Err(Error::Other(
                "the capture thread stopped unexpectedly".into(),
            ))
        });
        CaptureThread::health_from(&counters, h);
        r
    }

    fn health_from(c: &CaptureCounters, h: &mut Health) {
        if c.has_stats.load(Ordering::Relaxed) {
            h.kernel_received = Some(c.kernel_received.load(Ordering::Relaxed));
            h.kernel_dropped = Some(c.kernel_dropped.load(Ordering::Relaxed));
            h.interface_dropped = Some(c.if_dropped.load(Ordering::Relaxed));
        }
        h.queue_dropped = c.queue_dropped.load(Ordering::Relaxed);
    }
}

/// The capture thread's loop: reads packets, batches them, never blocks on a slow consumer.
fn capture_loop(
    mut source: LiveSource,
    tx: SyncSender<Batch>,
    recycle: mpsc::Receiver<Batch>,
    counters: Arc<CaptureCounters>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut batch = Batch::new();
    let mut batch_first = Timestamp::ZERO;
    let mut last_stats = Instant::now();
    let mut unchecked = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut newest = None;
        let got = source.next_packet()?.is_some_and(|p| {
            if batch.packets.is_empty() {
                batch_first = p.ts;
            }
            newest = Some(p.ts);
            batch.add(p);
            true
        });
        let full = batch.packets.len() >= BATCH_PACKETS;
        let old = !batch.packets.is_empty()
            && newest.is_none_or(|ts| ts.saturating_sub(batch_first) >= BATCH_AGE);
        if full || old {
            let next = recycle.try_recv().unwrap_or_else(|_| Batch::new());
            let sent = std::mem::replace(&mut batch, next);
            let n = sent.packets.len() as u64;
            match tx.try_send(sent) {
                Ok(()) => {}
                Err(TrySendError::Full(mut b)) => {
                    counters.queue_dropped.fetch_add(n, Ordering::Relaxed);
                    b.clear();
                    batch = b;
                }
                Err(TrySendError::Disconnected(_)) => return Ok(()),
            }
        }
        unchecked += 1;
        if !got || unchecked >= STATS_CHECK_PACKETS {
            unchecked = 0;
            if last_stats.elapsed() >= Duration::from_millis(500) {
                last_stats = Instant::now();
                if let Some(s) = source.stats() {
                    counters.publish(s);
                }
            }
        }
    }
    // Stopping: what the kernel already holds was sent before the stop; deliver it (bounded),
    // blocking on the queue now that nothing else competes for it. The kernel hands packets
    // over in blocks, and the block being filled becomes readable only when its timeout
    // retires it: a read finding nothing is not the end until reads spanning more than one
    // block timeout have found nothing.
    let mut empty_reads = 0;
    for _ in 0..1_000_000 {
        match source.next_packet()? {
            Some(p) => {
                empty_reads = 0;
                batch.add(p);
                if batch.packets.len() >= BATCH_PACKETS {
                    let full = std::mem::replace(&mut batch, Batch::new());
                    if tx.send(full).is_err() {
                        break;
                    }
                }
            }
            None => {
                // The first empty read returns at once; each one after waits up to the read
                // timeout, which is the block timeout.
                empty_reads += 1;
                if empty_reads > 2 {
                    break;
                }
            }
        }
    }
    if !batch.packets.is_empty() {
        let _ = tx.send(batch);
    }
    if let Some(s) = source.stats() {
        counters.publish(s);
    }
    Ok(())
}
