//! What a run did: answers by status and section, errors by kind, latency percentiles, and
//! the steps whose rate was not held.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::LoadConfig;
use super::scheduler::Shared;

/// Latency percentiles of the answered requests (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest answer.
    pub max: Duration,
}

/// A paced step whose rate was not reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shortfall {
    /// Rate asked for (req/s).
    pub asked: f64,
    /// Rate achieved over that step (req/s).
    pub achieved: f64,
}

/// What a run did. `sent == answered + errors_total()` always holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The target, as `http://host:port`.
    pub target: String,
    /// What was spoken: `HTTP/1.1` or `h2c`.
    pub protocol: &'static str,
    /// Requests attempted (each ends answered or as one error).
    pub sent: u64,
    /// Requests that got a complete HTTP answer (any status).
    pub answered: u64,
    /// Answers by status code.
    pub status: BTreeMap<u16, u64>,
    /// Failed requests by kind: `connect_refused`, `connect_failed`, `timeout`, `closed`,
    /// `reset`, `bad_response`, `io`. Kinds that did not happen are left out.
    pub errors: BTreeMap<String, u64>,
    /// Latency of the answered requests, write to last byte read.
    pub latency: Latency,
    /// Answered requests by section (what precedes the path's second `/`, query removed).
    pub sections: BTreeMap<String, u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Answered requests per second over the run.
    pub achieved_rate: f64,
    /// Paced steps that fell more than 5% short of their rate.
    pub shortfalls: Vec<Shortfall>,
    /// TCP connections opened.
    pub connections_opened: u64,
    /// Stopped early by Ctrl-C or SIGTERM.
    pub interrupted: bool,
}

impl LoadReport {
    /// All failed requests.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The report as one JSON object (`Display` on the value prints it on one line).
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let status: serde_json::Map<String, serde_json::Value> = self
            .status
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        serde_json::json!({
            "target": self.target,
            "protocol": self.protocol,
            "sent": self.sent,
            "answered": self.answered,
            "status": status,
            "errors": self.errors,
            "errors_total": self.errors_total(),
            "latency_ms": {
                "p50": ms(self.latency.p50),
                "p90": ms(self.latency.p90),
                "p99": ms(self.latency.p99),
                "max": ms(self.latency.max),
            },
            "sections": self.sections,
            "elapsed_s": (self.elapsed.as_secs_f64() * 1e3).round() / 1e3,
            "achieved_rate": (self.achieved_rate * 10.0).round() / 10.0,
            "shortfalls": self.shortfalls.iter().map(|s| serde_json::json!({
                "asked": s.asked,
                "achieved": (s.achieved * 10.0).round() / 10.0,
            })).collect::<Vec<_>>(),
            "connections_opened": self.connections_opened,
            "interrupted": self.interrupted,
        })
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        writeln!(f, "target      {} ({})", self.target, self.protocol)?;
        writeln!(
            f,
            "requests    {} sent, {} answered in {:.1} s ({:.1} req/s){}",
            self.sent,
            self.answered,
            self.elapsed.as_secs_f64(),
            self.achieved_rate,
            if self.interrupted {
                ", stopped early"
            } else {
                ""
            }
        )?;
        let join = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        let status = self
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        writeln!(f, "status      {}", join(status))?;
        let errors = self
            .errors
            .iter()
            .map(|(k, n)| format!("{}: {n}", k.replace('_', " ")))
            .collect();
        writeln!(f, "errors      {}", join(errors))?;
        writeln!(
            f,
            "latency     p50 {}, p90 {}, p99 {}, max {}",
            ms(self.latency.p50),
            ms(self.latency.p90),
            ms(self.latency.p99),
            ms(self.latency.max)
        )?;
        let sections = self
            .sections
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        writeln!(f, "sections    {}", join(sections))?;
        write!(f, "connections {} opened", self.connections_opened)?;
        for s in &self.shortfalls {
            write!(
                f,
                "\ncould not hold {} req/s: achieved {:.1} req/s",
                s.asked, s.achieved
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::demo) enum ErrKind {
    ConnectRefused,
    ConnectFailed,
    Timeout,
    Closed,
    Reset,
    BadResponse,
    Io,
}

impl ErrKind {
    pub(in crate::demo) const ALL: [ErrKind; 7] = [
        ErrKind::ConnectRefused,
        ErrKind::ConnectFailed,
        ErrKind::Timeout,
        ErrKind::Closed,
        ErrKind::Reset,
        ErrKind::BadResponse,
        ErrKind::Io,
    ];

    pub(in crate::demo) fn name(self) -> &'static str {
        match self {
            ErrKind::ConnectRefused => "connect_refused",
            ErrKind::ConnectFailed => "connect_failed",
            ErrKind::Timeout => "timeout",
            ErrKind::Closed => "closed",
            ErrKind::Reset => "reset",
            ErrKind::BadResponse => "bad_response",
            ErrKind::Io => "io",
        }
    }

    pub(in crate::demo) fn from_io(e: &std::io::Error) -> ErrKind {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ErrKind::Reset,
            K::UnexpectedEof => ErrKind::Closed,
            K::TimedOut => ErrKind::Timeout,
            _ => ErrKind::Io,
        }
    }
}

#[derive(Default)]
pub(in crate::demo) struct WorkerStats {
    pub(in crate::demo) status: BTreeMap<u16, u64>,
    pub(in crate::demo) errors: [u64; ErrKind::ALL.len()],
    pub(in crate::demo) latencies_us: Vec<u32>,
    pub(in crate::demo) sections: Vec<u64>,
    /// Connections this loop opened.
    pub(in crate::demo) connections: u64,
}

pub(in crate::demo) fn merge(total: &mut WorkerStats, s: WorkerStats) {
    for (code, n) in s.status {
        *total.status.entry(code).or_insert(0) += n;
    }
    for (t, n) in total.errors.iter_mut().zip(s.errors) {
        *t += n;
    }
    total.latencies_us.extend(s.latencies_us);
    for (t, n) in total.sections.iter_mut().zip(s.sections) {
        *t += n;
    }
    total.connections += s.connections;
}

pub(in crate::demo) fn build_report(
    config: &LoadConfig,
    shared: &Shared,
    mut total: WorkerStats,
    elapsed: Duration,
    planned: Duration,
    interrupted: bool,
) -> LoadReport {
    total.latencies_us.sort_unstable();
    let pick = |q: f64| -> Duration {
        let v = &total.latencies_us;
        if v.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Duration::from_micros(u64::from(v[rank - 1]))
    };
    let latency = Latency {
        p50: pick(0.50),
        p90: pick(0.90),
        p99: pick(0.99),
        max: pick(1.0),
    };
    let answered: u64 = total.status.values().sum();
    let errors: BTreeMap<String, u64> = ErrKind::ALL
        .iter()
        .zip(total.errors)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.name().to_string(), n))
        .collect();
    let mut sections = BTreeMap::new();
    for (name, n) in config.sections.iter().zip(&total.sections) {
        if *n > 0 {
            *sections.entry(format!("/{name}")).or_insert(0) += *n;
        }
    }
    // A completed paced run lasts its planned time even if the last answer came a bit early.
    let span = if interrupted {
        elapsed
    } else {
        elapsed.max(planned)
    };
    let achieved_rate = answered as f64 / span.as_secs_f64().max(1e-9);
    let mut shortfalls = Vec::new();
    if !interrupted {
        for p in &shared.phases {
            let (Some(count), true) = (p.count, p.rate > 0.0) else {
                continue;
            };
            let sent = p.sent.load(Ordering::Relaxed);
            if sent == 0 || count == 0 {
                continue;
            }
            let last = Duration::from_nanos(p.last_send_ns.load(Ordering::Relaxed));
            let took = (last.saturating_sub(p.start) + Duration::from_secs_f64(1.0 / p.rate))
                .max(p.duration);
            let achieved = sent as f64 / took.as_secs_f64();
            if achieved < 0.95 * p.rate {
                shortfalls.push(Shortfall {
                    asked: p.rate,
                    achieved,
                });
            }
        }
    }
    LoadReport {
        target: config.target.to_string(),
        protocol: config.wire.as_str(),
        sent: shared.sent.load(Ordering::Relaxed),
        answered,
        status: total.status,
        errors,
        latency,
        sections,
        elapsed,
        achieved_rate,
        shortfalls,
        connections_opened: total.connections + 1,
        interrupted,
    }
}
