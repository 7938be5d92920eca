//! Open-loop pacing: the request loops, each taking the next due request of the current step,
//! and the run that starts them, shows progress and collects their counts.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::watch;

use super::client::{connect, exchange, write_http1_request};
use super::paths::{section_of_path, write_path};
use super::report::{ErrKind, LoadReport, WorkerStats, build_report, merge};
use super::{LoadConfig, Wire};
use crate::demo::load_h2::{self, Lane};
use crate::demo::{DemoError, io_reason};

/// Runs the profile against the target and reports. Blocks; runs its own tokio runtime.
///
/// Fails only before sending: a URL that does not resolve, or no connection at all after a
/// short retry (about half a second). Later failures are counted in the report.
pub fn run(config: LoadConfig, progress: bool) -> Result<LoadReport, DemoError> {
    // One thread: with the server on the same 2-core machine, a current-thread client was
    // measured faster (137k-189k req/s) than a 2-worker one (75k-90k): no cross-thread wakeups.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DemoError::Runtime {
            what: "load runtime",
            source,
        })?;
    rt.block_on(run_async(config, progress))
}

/// How far past its planned end a paced step may go to catch up before the rest is skipped.
pub(in crate::demo) const LATE_GRACE: Duration = Duration::from_millis(250);

pub(in crate::demo) struct PhasePlan {
    pub(in crate::demo) start: Duration,
    pub(in crate::demo) rate: f64,
    pub(in crate::demo) duration: Duration,
    pub(in crate::demo) count: Option<u64>,
    pub(in crate::demo) tickets: AtomicU64,
    pub(in crate::demo) sent: AtomicU64,
    /// Latest send time in this step, in ns since the run's start.
    pub(in crate::demo) last_send_ns: AtomicU64,
}

pub(in crate::demo) struct Shared {
    pub(in crate::demo) addrs: Vec<SocketAddr>,
    /// `host:port`, as sent in `Host` (HTTP/1.1) or `:authority` (h2c).
    pub(in crate::demo) host_header: String,
    pub(in crate::demo) keep_alive: bool,
    pub(in crate::demo) timeout: Duration,
    pub(in crate::demo) sections: Vec<String>,
    pub(in crate::demo) phases: Vec<PhasePlan>,
    pub(in crate::demo) next_index: AtomicU64,
    pub(in crate::demo) start: Instant,
    pub(in crate::demo) stop: AtomicBool,
    pub(in crate::demo) sent: AtomicU64,
    pub(in crate::demo) answered: AtomicU64,
    pub(in crate::demo) failed: AtomicU64,
}

/// What a request loop sends on.
pub(in crate::demo) enum Link {
    /// Its own HTTP/1.1 connection, opened when needed.
    Http1(Option<TcpStream>),
    /// A share of an HTTP/2 connection.
    H2c(Arc<Lane>),
}

pub(in crate::demo) async fn run_async(
    config: LoadConfig,
    progress: bool,
) -> Result<LoadReport, DemoError> {
    let authority = config.target.authority();
    let addrs: Vec<SocketAddr> =
        match tokio::net::lookup_host((config.target.host.as_str(), config.target.port)).await {
            Ok(a) => a.collect(),
            Err(e) => {
                return Err(DemoError::Resolve {
                    host: config.target.host.clone(),
                    reason: io_reason(&e),
                });
            }
        };
    if addrs.is_empty() {
        return Err(DemoError::Resolve {
            host: config.target.host.clone(),
            reason: "no address found".into(),
        });
    }

    // Probe with a short bounded retry, so a server started a moment ago still counts.
    let mut first = None;
    let mut last_err = String::new();
    for backoff_ms in [50, 100, 200, 0] {
        match connect(&addrs, config.timeout).await {
            Ok(s) => {
                first = Some(s);
                break;
            }
            Err((_, reason)) => last_err = reason,
        }
        if backoff_ms > 0 {
            tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
        }
    }
    let Some(first) = first else {
        return Err(DemoError::Connect {
            addr: authority,
            reason: last_err,
            port: config.target.port,
        });
    };

    let start = Instant::now();
    let mut offset = Duration::ZERO;
    let phases: Vec<PhasePlan> = config
        .profile
        .iter()
        .map(|p| {
            let plan = PhasePlan {
                start: offset,
                rate: p.rate,
                duration: p.duration,
                count: p.planned_requests(),
                tickets: AtomicU64::new(0),
                sent: AtomicU64::new(0),
                last_send_ns: AtomicU64::new(0),
            };
            offset += p.duration;
            plan
        })
        .collect();
    let planned = offset;
    let shared = Arc::new(Shared {
        addrs,
        host_header: authority,
        keep_alive: config.keep_alive,
        timeout: config.timeout,
        sections: config.sections.clone(),
        phases,
        next_index: AtomicU64::new(0),
        start,
        stop: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let signal_task = config.stop_on_ctrl_c.then(|| {
        let shared = Arc::clone(&shared);
        let stop_tx = Arc::clone(&stop_tx);
        tokio::spawn(async move {
            crate::demo::serve::wait_for_signal().await;
            shared.stop.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
        })
    });

    let flag_task = config.stop.clone().map(|flag| {
        let shared = Arc::clone(&shared);
        let stop_tx = Arc::clone(&stop_tx);
        tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            shared.stop.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
        })
    });

    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(planned.as_millis() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let ticker = bar.clone().map(|bar| {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let every = Duration::from_millis(200);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            let mut last = (Instant::now(), 0u64);
            loop {
                tick.tick().await;
                let now = Instant::now();
                let answered = shared.answered.load(Ordering::Relaxed);
                let rate = (answered - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
                last = (now, answered);
                bar.set_position((now - shared.start).as_millis() as u64);
                bar.set_message(format!(
                    "sent {}, answered {}, errors {}, {rate:.0} req/s",
                    shared.sent.load(Ordering::Relaxed),
                    answered,
                    shared.failed.load(Ordering::Relaxed),
                ));
            }
        })
    });

    let mut tasks = Vec::with_capacity(config.connections);
    let mut first = Some(first);
    for _ in 0..config.connections.max(1) {
        let conn = first.take();
        let links = match config.wire {
            Wire::Http1 => vec![Link::Http1(conn)],
            Wire::H2c { streams } => {
                let lane = Arc::new(Lane::new(conn));
                (0..streams.max(1))
                    .map(|_| Link::H2c(Arc::clone(&lane)))
                    .collect()
            }
        };
        for link in links {
            let shared = Arc::clone(&shared);
            let stop_rx = stop_rx.clone();
            tasks.push(tokio::spawn(worker(shared, link, stop_rx)));
        }
    }
    let mut total = WorkerStats {
        sections: vec![0; config.sections.len()],
        ..WorkerStats::default()
    };
    for t in tasks {
        // A worker cannot panic on bad input; a JoinError would mean a bug, and its requests
        // are then missing from the report rather than crashing the run.
        if let Ok(s) = t.await {
            merge(&mut total, s);
        }
    }
    let elapsed = start.elapsed();
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(t) = signal_task {
        t.abort();
    }
    if let Some(t) = flag_task {
        t.abort();
    }
    let interrupted = shared.stop.load(Ordering::Relaxed);
    Ok(build_report(
        &config,
        &shared,
        total,
        elapsed,
        planned,
        interrupted,
    ))
}

pub(in crate::demo) async fn worker(
    shared: Arc<Shared>,
    mut link: Link,
    mut stop_rx: watch::Receiver<bool>,
) -> WorkerStats {
    let mut stats = WorkerStats {
        sections: vec![0; shared.sections.len()],
        ..WorkerStats::default()
    };
    let mut req = Vec::with_capacity(256);
    let mut path = String::with_capacity(64);
    let mut rbuf = Vec::with_capacity(4096);
    'phases: for phase in &shared.phases {
        let phase_end = shared.start + phase.start + phase.duration;
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                break 'phases;
            }
            if let Some(count) = phase.count {
                let j = phase.tickets.fetch_add(1, Ordering::Relaxed);
                if j >= count {
                    break;
                }
                let due =
                    shared.start + phase.start + Duration::from_secs_f64(j as f64 / phase.rate);
                if due > Instant::now() {
                    tokio::select! {
                        _ = tokio::time::sleep_until(due.into()) => {}
                        _ = stop_rx.changed() => break 'phases,
                    }
                } else if Instant::now() > phase_end + LATE_GRACE {
                    // Behind schedule past the step's end: skip the rest rather than stretch
                    // the run; the shortfall is reported.
                    break;
                }
            } else if Instant::now() >= phase_end {
                break;
            }
            let index = shared.next_index.fetch_add(1, Ordering::Relaxed);
            let section = next_path(&shared, index, &mut path);
            shared.sent.fetch_add(1, Ordering::Relaxed);
            phase.sent.fetch_add(1, Ordering::Relaxed);
            let sent_at = Instant::now();
            phase.last_send_ns.fetch_max(
                (sent_at - shared.start).as_nanos() as u64,
                Ordering::Relaxed,
            );
            let outcome = tokio::time::timeout(shared.timeout, async {
                match &mut link {
                    Link::Http1(conn) => {
                        write_http1_request(&shared, &path, &mut req);
                        exchange(&shared, conn, &req, &mut rbuf, &mut stats).await
                    }
                    Link::H2c(lane) => load_h2::exchange(lane, &shared, &path, &mut stats).await,
                }
            })
            .await;
            match outcome {
                Ok(Ok(answer)) => {
                    let us = sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    stats.latencies_us.push(us);
                    *stats.status.entry(answer.status).or_insert(0) += 1;
                    if let Some(n) = stats.sections.get_mut(section) {
                        *n += 1;
                    }
                    shared.answered.fetch_add(1, Ordering::Relaxed);
                    if answer.close || !shared.keep_alive {
                        link.drop_connection();
                    }
                }
                Ok(Err(kind)) => {
                    fail(&shared, &mut stats, kind);
                    link.drop_connection();
                    if matches!(kind, ErrKind::ConnectRefused | ErrKind::ConnectFailed)
                        && phase.count.is_none()
                    {
                        // As-fast-as-possible against a dead server would spin; slow down.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Err(_) => {
                    fail(&shared, &mut stats, ErrKind::Timeout);
                    link.drop_connection();
                }
            }
        }
    }
    stats
}

pub(in crate::demo) fn fail(shared: &Shared, stats: &mut WorkerStats, kind: ErrKind) {
    if let Some(i) = ErrKind::ALL.iter().position(|k| *k == kind) {
        stats.errors[i] += 1;
    }
    shared.failed.fetch_add(1, Ordering::Relaxed);
}

impl Link {
    /// After an error or `Connection: close`: an HTTP/1.1 connection is not reused. An h2c
    /// connection is shared, and its lane dials again once hyper sees it closed.
    pub(in crate::demo) fn drop_connection(&mut self) {
        match self {
            Link::Http1(conn) => *conn = None,
            Link::H2c(_) => {}
        }
    }
}

/// Writes request `index`'s path into `path`; returns the index of its section in
/// `shared.sections`.
pub(in crate::demo) fn next_path(shared: &Shared, index: u64, path: &mut String) -> usize {
    path.clear();
    write_path(path, &shared.sections, index);
    let section = section_of_path(path);
    shared
        .sections
        .iter()
        .position(|s| section.get(1..) == Some(s.as_str()))
        .unwrap_or(usize::MAX)
}
