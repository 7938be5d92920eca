//! The run loops: replay a file on packet time, or capture live with a capture thread feeding
//! the pipeline through a bounded queue, ticking once a second so windows move (and an alert
//! recovers) when no packet arrives. Output goes to the dashboard, plain text or NDJSON.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::capture::{FileSource, LiveConfig, LiveSource, default_interface};
use crate::cli::{Config, OutputMode};
use crate::error::{Error, Result};
use crate::output::{json, plain};
use crate::pipeline::Pipeline;
use crate::stats::{AlertEvent, Snapshot};
use crate::time::{Clock, SystemClock, Timestamp};

/// Where reports, alerts and the summary go in plain or JSON mode.
pub struct Printer<W: Write> {
    out: W,
    mode: OutputMode,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, mode: OutputMode) -> Self {
        Printer { out, mode }
    }

    pub fn alert(&mut self, e: &AlertEvent) -> io::Result<()> {
        let line = match self.mode {
            OutputMode::Json => json::alert(e),
            _ => format!("[{}] {}", e.at.rfc3339_utc(), plain::alert(e)),
        };
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    pub fn report(&mut self, s: &Snapshot) -> io::Result<()> {
        match self.mode {
            OutputMode::Json => writeln!(self.out, "{}", json::report(s))?,
            _ => writeln!(self.out, "{}", plain::report(s))?,
        }
        self.out.flush()
    }

    pub fn summary(&mut self, s: &Snapshot) -> io::Result<()> {
        match self.mode {
            OutputMode::Json => writeln!(self.out, "{}", json::summary(s))?,
            _ => write!(self.out, "{}", plain::summary(s))?,
        }
        self.out.flush()
    }
}

/// Reads a capture file through the whole pipeline on packet time. Reports and alerts are
/// printed as they happen in packet time unless `summary_only`; the summary comes last.
pub fn replay(config: &Config, out: impl Write) -> Result<()> {
    let Some(path) = &config.read else {
        return Err(Error::Config("no file to read".into()));
    };
    let mut source = open_file_with_filter(path, &config.filter)?;
    let mut pipe = Pipeline::new(
        source.link_type(),
        config.flow.clone(),
        config.stats.clone(),
    );
    pipe.health.source = path.display().to_string();
    let mut printer = Printer::new(out, config.output);
    let interval = config.interval;
    let mut next_report: Option<Timestamp> = None;
    let mut io_result: io::Result<()> = Ok(());
    let streaming = !config.summary_only;
    let read_result = source.for_each(|ts, frame| {
        pipe.ingest(ts, frame);
        if !streaming || io_result.is_err() {
            return;
        }
        for e in pipe.take_alerts() {
            io_result = io_result
                .as_ref()
                .map_err(clone_io)
                .and_then(|_| printer.alert(&e));
        }
        let due = *next_report.get_or_insert(ts.plus(interval));
        if ts >= due {
            next_report = Some(due.plus(interval));
            let snap = pipe.snapshot();
            io_result = io_result
                .as_ref()
                .map_err(clone_io)
                .and_then(|_| printer.report(&snap));
        }
    });
    pipe.finish();
    if streaming {
        for e in pipe.take_alerts() {
            printer.alert(&e)?;
        }
    }
    io_result?;
    printer.summary(&pipe.snapshot())?;
    read_result
}

fn clone_io(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// Opens a file with the port/ip filter, falling back to the filter without its VLAN branch
/// when the file's link type cannot express it.
fn open_file_with_filter(path: &std::path::Path, filter: &str) -> Result<FileSource> {
    match FileSource::open(path, filter) {
        Err(Error::BadFilter { .. }) if filter.contains(" or (vlan and ") => {
            let base = base_filter(filter);
            FileSource::open(path, &base)
        }
        other => other,
    }
}

/// `(X) or (vlan and ((X) or (vlan and X)))` → `X`.
fn base_filter(filter: &str) -> String {
    match filter.split_once(") or (vlan and ") {
        Some((head, _)) => head.trim_start_matches('(').to_owned(),
        None => filter.to_owned(),
    }
}

/// Packets read by the capture thread, copied into one buffer to keep allocations per batch.
struct Batch {
    data: Vec<u8>,
    packets: Vec<(Timestamp, u32, u32)>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            data: Vec::with_capacity(256 * 1024),
            packets: Vec::with_capacity(512),
        }
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

const BATCH_PACKETS: usize = 512;
/// Kernel capture buffer when `-B` is not given.
const DEFAULT_BUFFER_BYTES: usize = 32 * 1024 * 1024;
const BATCH_AGE: Duration = Duration::from_millis(20);

/// The capture thread: reads packets, batches them, never blocks on a slow consumer (a full
/// queue drops the batch and counts it).
fn capture_loop(
    mut source: LiveSource,
    tx: SyncSender<Batch>,
    recycle: mpsc::Receiver<Batch>,
    counters: Arc<CaptureCounters>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let publish = |s: crate::capture::KernelStats| {
        counters
            .kernel_received
            .store(s.received, Ordering::Relaxed);
        counters.kernel_dropped.store(s.dropped, Ordering::Relaxed);
        counters.if_dropped.store(s.if_dropped, Ordering::Relaxed);
        counters.has_stats.store(true, Ordering::Relaxed);
    };
    let mut batch = Batch::new();
    let mut batch_started = Instant::now();
    let mut last_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let got = source.next_packet()?;
        if let Some((ts, frame)) = got {
            if batch.packets.is_empty() {
                batch_started = Instant::now();
            }
            let start = batch.data.len() as u32;
            batch.data.extend_from_slice(frame);
            batch.packets.push((ts, start, frame.len() as u32));
        }
        let full = batch.packets.len() >= BATCH_PACKETS;
        let old =
            !batch.packets.is_empty() && (got.is_none() || batch_started.elapsed() >= BATCH_AGE);
        if full || old {
            let next = recycle.try_recv().unwrap_or_else(|_| Batch::new());
            let sent = std::mem::replace(&mut batch, next);
            let n = sent.packets.len() as u64;
            match tx.try_send(sent) {
                Ok(()) => {}
                Err(TrySendError::Full(mut b)) => {
                    counters.queue_dropped.fetch_add(n, Ordering::Relaxed);
                    b.data.clear();
                    b.packets.clear();
                    batch = b;
                }
                Err(TrySendError::Disconnected(_)) => return Ok(()),
            }
        }
        if last_stats.elapsed() >= Duration::from_millis(500) {
            last_stats = Instant::now();
            if let Some(s) = source.stats() {
                publish(s);
            }
        }
    }
    // Stopping: what the kernel already holds was sent before the stop; deliver it (bounded),
    // blocking on the queue now that nothing else competes for it.
    for _ in 0..1_000_000 {
        match source.next_packet()? {
            Some((ts, frame)) => {
                let start = batch.data.len() as u32;
                batch.data.extend_from_slice(frame);
                batch.packets.push((ts, start, frame.len() as u32));
                if batch.packets.len() >= BATCH_PACKETS {
                    let full = std::mem::replace(&mut batch, Batch::new());
                    if tx.send(full).is_err() {
                        break;
                    }
                }
            }
            None => break,
        }
    }
    if !batch.packets.is_empty() {
        let _ = tx.send(batch);
    }
    if let Some(s) = source.stats() {
        publish(s);
    }
    Ok(())
}

/// An open live capture, ready to run (opened while privileged).
pub struct LiveCapture {
    source: LiveSource,
    description: String,
}

impl LiveCapture {
    /// Interface and filter, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// Opens the live capture: the interface, the kernel filter and the buffer.
pub fn open_live(config: &Config) -> Result<LiveCapture> {
    let interface = match &config.interface {
        Some(i) => i.clone(),
        None => default_interface()?,
    };
    let mut live = LiveConfig {
        interface,
        filter: config.filter.clone(),
        // libpcap's 2 MiB default holds only 8 full-size frames on loopback (64 KiB MTU).
        buffer_bytes: Some(config.buffer_bytes.unwrap_or(DEFAULT_BUFFER_BYTES)),
        snaplen: 262_144,
        // Immediate mode on Linux gives one ring slot per snaplen-sized frame, which drops
        // under load; block delivery with a 100 ms timeout packs frames and is still current.
        immediate: false,
        read_timeout: Duration::from_millis(100),
    };
    let source = match LiveSource::open(&live) {
        Err(Error::BadFilter { .. }) if live.filter.contains(" or (vlan and ") => {
            live.filter = base_filter(&live.filter);
            LiveSource::open(&live)?
        }
        other => other?,
    };
    let description = format!("{} ({})", source.interface(), base_filter(&live.filter));
    Ok(LiveCapture {
        source,
        description,
    })
}

/// Runs the live monitor until `stop` is set (signal, `q`) or the capture fails.
pub fn live(config: &Config, capture: LiveCapture, stop: Arc<AtomicBool>) -> Result<()> {
    live_with_banner(config, capture, stop, None)
}

/// [`live`], with a line the dashboard shows in place of the capture description (the demo).
pub fn live_with_banner(
    config: &Config,
    capture: LiveCapture,
    stop: Arc<AtomicBool>,
    banner: Option<String>,
) -> Result<()> {
    let LiveCapture {
        source,
        description,
    } = capture;
    let link = source.link_type();
    let (tx, rx) = mpsc::sync_channel::<Batch>(64);
    let (recycle_tx, recycle_rx) = mpsc::channel::<Batch>();
    let counters = Arc::new(CaptureCounters::default());
    let cap_thread = {
        let counters = Arc::clone(&counters);
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || capture_loop(source, tx, recycle_rx, counters, stop))?
    };
    let mut pipe = Pipeline::new(link, config.flow.clone(), config.stats.clone());
    pipe.health.source = description.clone();

    let (ui_tx, ui_thread) = if config.output == OutputMode::Dashboard {
        let (ui_tx, ui_rx) = mpsc::channel::<Snapshot>();
        let info = crate::ui::DashboardInfo {
            source: banner.unwrap_or_else(|| description.clone()),
            version: env!("CARGO_PKG_VERSION"),
        };
        let stop_ui = Arc::clone(&stop);
        // The pipeline runs on this thread; the dashboard gets the terminal on its own.
        let handle = std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || crate::ui::run(info, ui_rx, stop_ui))?;
        (Some(ui_tx), Some(handle))
    } else {
        (None, None)
    };

    // Not a held lock: the dashboard thread writes to stdout too.
    let mut printer = Printer::new(io::stdout(), config.output);
    let clock = SystemClock;
    let mut next_tick = Instant::now();
    let mut next_report = Instant::now() + config.interval;
    let mut next_ui = Instant::now();
    let mut result: Result<()> = Ok(());
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(mut batch) => {
                for (ts, start, len) in &batch.packets {
                    let (s, l) = (*start as usize, *len as usize);
                    if let Some(frame) = batch.data.get(s..s + l) {
                        pipe.ingest(*ts, frame);
                    }
                }
                batch.data.clear();
                batch.packets.clear();
                let _ = recycle_tx.send(batch);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + Duration::from_secs(1);
            pipe.tick(clock.now());
            update_health(&mut pipe, &counters);
        }
        let alerts = pipe.take_alerts();
        if ui_tx.is_none() {
            for e in &alerts {
                if let Err(e) = printer.alert(e) {
                    result = Err(e.into());
                }
            }
            if now >= next_report {
                next_report += config.interval;
                if let Err(e) = printer.report(&pipe.snapshot()) {
                    result = Err(e.into());
                }
            }
        } else if now >= next_ui {
            next_ui = now + Duration::from_millis(250);
            if let Some(tx) = &ui_tx
                && tx.send(pipe.snapshot()).is_err()
            {
                stop.store(true, Ordering::Relaxed);
            }
        }
        if result.is_err() {
            break;
        }
        // On stop the capture thread drains the kernel buffer and hangs up; we go on until then.
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let capture_result = cap_thread.join().unwrap_or_else(|_| {
        Err(Error::Other(
            "the capture thread stopped unexpectedly".into(),
        ))
    });
    drop(ui_tx);
    if let Some(h) = ui_thread
        && let Ok(Err(e)) = h.join()
    {
        result = result.and(Err(e.into()));
    }
    pipe.finish();
    update_health(&mut pipe, &counters);
    let snap = pipe.snapshot();
    // The summary always ends the run; after the dashboard it goes to stdout as plain text.
    let mode = if config.output == OutputMode::Json {
        OutputMode::Json
    } else {
        OutputMode::Plain
    };
    let mut printer = Printer::new(io::stdout(), mode);
    if config.output != OutputMode::Dashboard {
        for e in pipe.take_alerts() {
            printer.alert(&e)?;
        }
    }
    printer.summary(&snap)?;
    eprintln!("{}", tcpdump_style(&snap));
    result.and(capture_result)
}

fn update_health(pipe: &mut Pipeline, c: &CaptureCounters) {
    if c.has_stats.load(Ordering::Relaxed) {
        pipe.health.kernel_received = Some(c.kernel_received.load(Ordering::Relaxed));
        pipe.health.kernel_dropped = Some(c.kernel_dropped.load(Ordering::Relaxed));
        pipe.health.interface_dropped = Some(c.if_dropped.load(Ordering::Relaxed));
    }
    pipe.health.queue_dropped = c.queue_dropped.load(Ordering::Relaxed);
    let dropping = pipe.health.dropped() > 0;
    pipe.set_dropping(dropping);
}

/// tcpdump's closing lines, for stderr.
fn tcpdump_style(s: &Snapshot) -> String {
    let h = &s.health;
    format!(
        "{} packets captured\n{} packets received by filter\n{} packets dropped by kernel\n{} packets dropped in queue",
        h.packets,
        h.kernel_received.unwrap_or(0),
        h.kernel_dropped.unwrap_or(0) + h.interface_dropped.unwrap_or(0),
        h.queue_dropped
    )
}
