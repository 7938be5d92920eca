//! The run loops: replay a file on packet time, or capture live with a capture thread feeding
//! the pipeline through a bounded queue, ticking once a second so windows move (and an alert
//! recovers) when no packet arrives. Output goes to the dashboard, plain text or NDJSON.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::capture::{
    FileSource, LiveConfig, LiveSource, PortFilter, base_filter, default_interface,
};
use crate::cli::{Config, OutputMode};
use crate::decode::LinkType;
use crate::error::{Error, Result};
use crate::export::{MetricsServer, SnapshotSlot};
use crate::hooks::AlertHooks;
use crate::logs::{LogInputs, LogItem};
use crate::output::{json, plain};
use crate::pipeline::Pipeline;
use crate::record::Recording;
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

    /// One alert transition, with the flight recorder's file for it when there is one.
    pub fn alert(&mut self, e: &AlertEvent, recording: Option<&Path>) -> io::Result<()> {
        let line = match self.mode {
            OutputMode::Json => json::alert(e, recording),
            _ => format!("[{}] {}", e.at.rfc3339_utc(), plain::alert(e, recording)),
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

/// Where results go besides stdout and the dashboard: alert hooks and the metrics endpoint.
#[derive(Default)]
pub struct Sinks {
    pub hooks: Option<AlertHooks>,
    pub metrics: Option<SnapshotSlot>,
}

impl Sinks {
    fn alert(&self, e: &AlertEvent, recording: Option<&Path>) {
        if let Some(h) = &self.hooks {
            h.fire_with_recording(e, recording);
        }
    }

    /// Hands the metrics endpoint a fresh snapshot, if there is one.
    fn publish(&self, pipe: &Pipeline) {
        if let Some(slot) = &self.metrics {
            slot.publish(pipe.snapshot());
        }
    }

    /// Waits (bounded) for queued hook deliveries, so the counters in a summary are final.
    fn drain(&self) {
        if let Some(h) = &self.hooks {
            h.drain();
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        match &self.hooks {
            Some(h) => vec![
                ("hooks_delivered", h.delivered()),
                ("hooks_failed", h.failures()),
                ("hooks_dropped", h.dropped()),
            ],
            _ => Vec::new(),
        }
    }
}

fn log_counters(input: &LogInputs) -> Vec<(&'static str, u64)> {
    let c = input.counters();
    let mut v = vec![
        ("log_lines", c.lines),
        ("log_bad_lines", c.bad_lines),
        ("log_long_lines", c.long_lines),
        ("log_rotations", c.rotations),
    ];
    // Each reason once it happened, so a clean log's summary stays short.
    for b in crate::logs::BadLine::ALL {
        let n = c.bad_by_reason.get(b.index()).copied().unwrap_or(0);
        if n > 0 {
            v.push((b.counter(), n));
        }
    }
    v
}

/// The log input's messages (the layout picked, bad-line warnings) on stderr, unless the
/// dashboard holds the terminal (its counters show them there).
fn show_notices(input: &mut LogInputs, mode: OutputMode) {
    for n in input.take_notices() {
        if mode != OutputMode::Dashboard {
            eprintln!("traffic-watch: {n}");
        }
    }
}

/// An offline run (a capture file, or a log read to its end) on event time: reports every
/// interval of event time and alerts as they happen, unless `summary_only`; the summary last.
struct Offline<'a, W: Write> {
    printer: Printer<W>,
    sinks: &'a Sinks,
    interval: Duration,
    next_report: Option<Timestamp>,
    streaming: bool,
    io: io::Result<()>,
    events: u64,
    last_publish: Instant,
}

impl<'a, W: Write> Offline<'a, W> {
    fn new(config: &Config, out: W, sinks: &'a Sinks) -> Self {
        Offline {
            printer: Printer::new(out, config.output),
            sinks,
            interval: config.interval,
            next_report: None,
            streaming: !config.summary_only,
            io: Ok(()),
            events: 0,
            last_publish: Instant::now(),
        }
    }

    /// After each packet or log line at `ts`.
    fn after(&mut self, pipe: &mut Pipeline, ts: Timestamp) {
        self.events += 1;
        // Metrics while running, at most a few times a second of wall time.
        if self.sinks.metrics.is_some()
            && self.events.is_multiple_of(4096)
            && self.last_publish.elapsed() >= Duration::from_millis(250)
        {
            self.last_publish = Instant::now();
            self.sinks.publish(pipe);
        }
        let alerts = pipe.take_alerts();
        for e in &alerts {
            self.sinks.alert(e, None);
        }
        if !self.streaming || self.io.is_err() {
            return;
        }
        for e in &alerts {
            self.io = self.printer.alert(e, None);
            if self.io.is_err() {
                return;
            }
        }
        let due = *self.next_report.get_or_insert(ts.plus(self.interval));
        if ts >= due {
            self.next_report = Some(due.plus(self.interval));
            self.io = self.printer.report(&pipe.snapshot());
        }
    }

    fn finish(mut self, pipe: &mut Pipeline) -> Result<()> {
        pipe.finish();
        for e in pipe.take_alerts() {
            self.sinks.alert(&e, None);
            if self.streaming {
                self.printer.alert(&e, None)?;
            }
        }
        self.io?;
        self.sinks.drain();
        pipe.health.counters.extend(self.sinks.counters());
        self.sinks.publish(pipe);
        self.printer.summary(&pipe.snapshot())?;
        Ok(())
    }
}

/// The `/metrics` listener, bound now (before privileges are dropped) when asked for.
pub fn start_metrics(config: &Config, sinks: &Sinks) -> Result<Option<MetricsServer>> {
    match config.metrics_addr {
        Some(addr) => {
            let slot = sinks.metrics.clone().unwrap_or_default();
            Ok(Some(MetricsServer::start(addr, slot, config.stats.top_n)?))
        }
        None => Ok(None),
    }
}

impl Sinks {
    /// Alert hooks and the metrics slot, as configured.
    pub fn from_config(config: &Config) -> Result<Sinks> {
        let hooks = if config.alert_exec.is_some() || config.alert_webhook.is_some() {
            Some(AlertHooks::with_settings(
                config.alert_exec.clone(),
                config.alert_webhook.clone(),
                config.alert_webhook_ca.as_deref(),
                crate::hooks::TIME_LIMIT,
            )?)
        } else {
            None
        };
        Ok(Sinks {
            hooks,
            metrics: config.metrics_addr.map(|_| SnapshotSlot::new()),
        })
    }
}

/// A flag set by SIGINT or SIGTERM: the run loops stop cleanly and print their summary.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Reads a capture file through the whole pipeline on packet time. Reports and alerts are
/// printed as they happen in packet time unless `summary_only`; the summary comes last.
pub fn replay(config: &Config, out: impl Write, sinks: &Sinks) -> Result<()> {
    replay_source(config, open_replay(config)?, out, sinks)
}

/// Opens `-r FILE` with its filter (before privileges are dropped).
pub fn open_replay(config: &Config) -> Result<FileSource> {
    let Some(path) = &config.read else {
        return Err(Error::Config("no file to read".into()));
    };
    open_file_with_filter(path, &config.filter, config.port_filter)
}

/// [`replay`] of a file opened with [`open_replay`].
pub fn replay_source(
    config: &Config,
    mut source: FileSource,
    out: impl Write,
    sinks: &Sinks,
) -> Result<()> {
    let path = config.read.clone().unwrap_or_default();
    let mut pipe = Pipeline::new(
        source.link_type(),
        config.flow.clone(),
        config.stats.clone(),
    );
    pipe.health.source = path.display().to_string();
    pipe.set_routes(config.routes.as_ref());
    let mut run = Offline::new(config, out, sinks);
    let read_result = source.for_each(|ts, frame| {
        pipe.ingest(ts, frame);
        run.after(&mut pipe, ts);
    });
    run.finish(&mut pipe)?;
    read_result
}

/// Reads access logs to their end (`--log FILE --no-follow`) on the logs' own time, merged.
pub fn replay_log(
    config: &Config,
    input: &mut LogInputs,
    out: impl Write,
    sinks: &Sinks,
) -> Result<()> {
    let mut pipe = Pipeline::new(LinkType::RawIp, config.flow.clone(), config.stats.clone());
    pipe.health.source = input.describe();
    pipe.set_routes(config.routes.as_ref());
    let mut run = Offline::new(config, out, sinks);
    loop {
        match input.next(Duration::from_millis(200))? {
            LogItem::Entry(e) => {
                let ts = e.ts;
                pipe.record_log(&e);
                run.after(&mut pipe, ts);
            }
            LogItem::Bad(_) | LogItem::Idle => show_notices(input, config.output),
            LogItem::End => break,
        }
    }
    show_notices(input, config.output);
    pipe.health.source = input.describe();
    pipe.health.counters = log_counters(input);
    run.finish(&mut pipe)
}

/// Opens a file with the port/ip filter, falling back to the filter without its VLAN branch
/// when the file's link type cannot express it (`ports`, the same test, holds for both).
fn open_file_with_filter(
    path: &std::path::Path,
    filter: &str,
    ports: Option<PortFilter>,
) -> Result<FileSource> {
    match FileSource::open(path, filter, ports) {
        Err(Error::BadFilter { .. }) if filter.contains(" or (vlan and ") => {
            let base = base_filter(filter);
            FileSource::open(path, &base, ports)
        }
        other => other,
    }
}

/// Packets read by the capture thread, copied into one buffer to keep allocations per batch.
struct Batch {
    data: Vec<u8>,
    /// Time, offset and length in `data`, length on the wire.
    packets: Vec<(Timestamp, u32, u32, u32)>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            data: Vec::with_capacity(256 * 1024),
            packets: Vec::with_capacity(512),
        }
    }

    fn add(&mut self, p: crate::capture::LivePacket<'_>) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(p.data);
        self.packets
            .push((p.ts, start, p.data.len() as u32, p.wire_len));
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
        let got = source.next_packet()?.is_some_and(|p| {
            if batch.packets.is_empty() {
                batch_started = Instant::now();
            }
            batch.add(p);
            true
        });
        let full = batch.packets.len() >= BATCH_PACKETS;
        let old = !batch.packets.is_empty() && (!got || batch_started.elapsed() >= BATCH_AGE);
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
            Some(p) => {
                batch.add(p);
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
    recording: Option<Box<Recording>>,
}

impl LiveCapture {
    /// Interface and filter, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The link type and snap length recorded packets are written with.
    pub fn format(&self, snaplen: u32) -> crate::record::Format {
        crate::record::Format {
            linktype: u16::try_from(self.source.link_type().linktype()).unwrap_or(0),
            snaplen,
        }
    }

    /// Records what is captured (`-w`, `--record-alerts`).
    pub fn with_recording(mut self, recording: Recording) -> Self {
        self.recording = Some(Box::new(recording));
        self
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
        snaplen: i32::try_from(config.snaplen).unwrap_or(i32::MAX),
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
        recording: None,
    })
}

/// What the live loop reads.
pub enum LiveInput {
    /// Packets from libpcap.
    Capture(LiveCapture),
    /// An access log followed as it grows (`--log`).
    Log(Box<LogInputs>),
}

/// What the loop drains each turn.
enum Feed {
    Packets {
        rx: mpsc::Receiver<Batch>,
        recycle: mpsc::Sender<Batch>,
        counters: Arc<CaptureCounters>,
        thread: std::thread::JoinHandle<Result<()>>,
    },
    Log(Box<LogInputs>),
}

/// Runs the live monitor until `stop` is set (signal, `q`) or the input fails or ends.
pub fn live(config: &Config, input: LiveInput, stop: Arc<AtomicBool>, sinks: &Sinks) -> Result<()> {
    live_with_banner(config, input, stop, None, sinks)
}

/// [`live`], with a line the dashboard shows in place of the capture description (the demo).
pub fn live_with_banner(
    config: &Config,
    input: LiveInput,
    stop: Arc<AtomicBool>,
    banner: Option<String>,
    sinks: &Sinks,
) -> Result<()> {
    let mut recording = None;
    let (mut feed, link, description) = match input {
        LiveInput::Capture(LiveCapture {
            source,
            description,
            recording: r,
        }) => {
            recording = r;
            let link = source.link_type();
            let (tx, rx) = mpsc::sync_channel::<Batch>(64);
            let (recycle, recycle_rx) = mpsc::channel::<Batch>();
            let counters = Arc::new(CaptureCounters::default());
            let thread = {
                let counters = Arc::clone(&counters);
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name("capture".into())
                    .spawn(move || capture_loop(source, tx, recycle_rx, counters, stop))?
            };
            (
                Feed::Packets {
                    rx,
                    recycle,
                    counters,
                    thread,
                },
                link,
                description,
            )
        }
        LiveInput::Log(input) => {
            let description = input.describe();
            (Feed::Log(input), LinkType::RawIp, description)
        }
    };
    let mut pipe = Pipeline::new(link, config.flow.clone(), config.stats.clone());
    pipe.health.source = description.clone();
    pipe.set_routes(config.routes.as_ref());

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
        // Log input moves time on the wall clock only once it has caught up (idle): a backlog
        // of old lines must land at its own time, not "now".
        let mut may_tick = true;
        let mut ended = false;
        match &mut feed {
            Feed::Packets { rx, recycle, .. } => match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(mut batch) => {
                    for (ts, start, len, wire_len) in &batch.packets {
                        let (s, l) = (*start as usize, *len as usize);
                        if let Some(frame) = batch.data.get(s..s + l) {
                            pipe.ingest(*ts, frame);
                            if let Some(r) = &mut recording {
                                r.packet(*ts, *wire_len, frame);
                            }
                        }
                    }
                    if let Some(r) = &mut recording {
                        r.end_batch();
                    }
                    batch.data.clear();
                    batch.packets.clear();
                    let _ = recycle.send(batch);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => ended = true,
            },
            Feed::Log(input) => {
                may_tick = false;
                for _ in 0..10_000 {
                    match input.next(Duration::from_millis(50))? {
                        LogItem::Entry(e) => pipe.record_log(&e),
                        LogItem::Bad(_) => show_notices(input, config.output),
                        LogItem::Idle => {
                            show_notices(input, config.output);
                            may_tick = true;
                            break;
                        }
                        LogItem::End => {
                            ended = true;
                            break;
                        }
                    }
                }
                // Nothing to drain on stop: the log stays where it is.
                if stop.load(Ordering::Relaxed) {
                    ended = true;
                }
            }
        }
        if ended {
            break;
        }
        let now = Instant::now();
        if now >= next_tick && may_tick {
            next_tick = now + Duration::from_secs(1);
            pipe.tick(clock.now());
            if let Some(r) = &mut recording {
                r.tick(pipe.now());
                pipe.health.recording = r.health();
            }
            update_feed_health(&mut pipe, &feed, sinks);
            sinks.publish(&pipe);
        }
        let alerts: Vec<(AlertEvent, Option<PathBuf>)> = pipe
            .take_alerts()
            .into_iter()
            .map(|e| {
                let path = recording.as_mut().and_then(|r| r.alert(&e));
                (e, path)
            })
            .collect();
        if !alerts.is_empty()
            && let Some(r) = &recording
        {
            // The dashboard finds the file for its alert line here.
            pipe.health.recording = r.health();
        }
        for (e, path) in &alerts {
            sinks.alert(e, path.as_deref());
        }
        if ui_tx.is_none() {
            for (e, path) in &alerts {
                if let Err(e) = printer.alert(e, path.as_deref()) {
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
    let capture_result = match feed {
        Feed::Packets {
            rx,
            counters,
            thread,
            ..
        } => {
            drop(rx);
            let r = thread.join().unwrap_or_else(|_| {
                Err(Error::Other(
                    "the capture thread stopped unexpectedly".into(),
                ))
            });
            update_health(&mut pipe, &counters);
            r
        }
        Feed::Log(input) => {
            pipe.health.counters = log_counters(&input);
            Ok(())
        }
    };
    drop(ui_tx);
    if let Some(h) = ui_thread
        && let Ok(Err(e)) = h.join()
    {
        result = result.and(Err(e.into()));
    }
    pipe.finish();
    for e in pipe.take_alerts() {
        let path = recording.as_mut().and_then(|r| r.alert(&e));
        sinks.alert(&e, path.as_deref());
        if config.output != OutputMode::Dashboard {
            Printer::new(io::stdout(), config.output).alert(&e, path.as_deref())?;
        }
    }
    if let Some(r) = &mut recording {
        pipe.health.recording = r.finish();
    }
    sinks.drain();
    pipe.health
        .counters
        .retain(|(k, _)| !k.starts_with("hooks_"));
    pipe.health.counters.extend(sinks.counters());
    sinks.publish(&pipe);
    let snap = pipe.snapshot();
    // The summary always ends the run; after the dashboard it goes to stdout as plain text.
    let mode = if config.output == OutputMode::Json {
        OutputMode::Json
    } else {
        OutputMode::Plain
    };
    let mut printer = Printer::new(io::stdout(), mode);
    printer.summary(&snap)?;
    if snap.health.kernel_received.is_some() {
        eprintln!("{}", tcpdump_style(&snap));
    }
    result.and(capture_result)
}

fn update_feed_health(pipe: &mut Pipeline, feed: &Feed, sinks: &Sinks) {
    match feed {
        Feed::Packets { counters, .. } => update_health(pipe, counters),
        Feed::Log(input) => {
            pipe.health.source = input.describe();
            pipe.health.counters = log_counters(input);
        }
    }
    let hooks = sinks.counters();
    if !hooks.is_empty() {
        pipe.health
            .counters
            .retain(|(k, _)| !k.starts_with("hooks_"));
        pipe.health.counters.extend(hooks);
    }
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
