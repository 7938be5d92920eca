//! The demo traffic generator: paced GET requests with an exact account of what happened.
//!
//! It is the seed's `traffic_generator.py` made precise. Requests follow a rate profile
//! (default: 20 req/s for 60 s, 100 req/s for 20 s, 20 req/s for 60 s) with open-loop pacing:
//! request `j` of a step is due at `step start + j / rate`, counted from the run's start
//! instant, so a slow answer delays nothing but its own connection. Each of `connections`
//! tasks owns one connection and carries one request at a time (keep-alive, or a fresh
//! connection per request with `Connection: close`). Request `i`'s path is a pure function of
//! `i` ([`path_for`]), so a test can compute the section mix it should see ([`expected_sections`]).
//! A step that falls behind catches up by sending at once, but never more than 250 ms past its
//! planned end: what is still due then is skipped, and the report says which rate was not held.
//! Rate 0 means "as fast as the connections allow", for performance work.
//!
//! The client is a small hand-rolled HTTP/1.1 one on tokio `TcpStream`s, parsing answers with
//! `httparse` (Content-Length, chunked bodies stepped through with `decode::ChunkDecoder`, or
//! read-to-close bodies): that keeps the per-request cost to one write and usually one read. On the 2-core development machine, against
//! [`super::serve`] on loopback with 32 keep-alive connections (`--rate 0 --duration 3s`), it
//! measured 137k-189k answered requests/s (release build).
//!
//! With [`Wire::H2c`] the same request loops speak HTTP/2 without TLS instead, several of them
//! sharing each connection so that it carries that many concurrent streams ([`super::load_h2`],
//! hyper's client).

use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use url::{Host, Url};

use super::load_h2::{self, Lane};
use super::serve::splitmix64;
use super::{DemoError, io_reason};
use crate::decode::{ChunkDecoder, Decoded};
use crate::time::parse_duration;

/// One step of a rate profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Requests per second; 0 means as fast as possible.
    pub rate: f64,
    /// How long the step lasts.
    pub duration: Duration,
}

impl Phase {
    /// How many requests a paced step sends (`None` for an as-fast-as-possible step).
    pub fn planned_requests(&self) -> Option<u64> {
        (self.rate > 0.0).then(|| (self.rate * self.duration.as_secs_f64()).round() as u64)
    }
}

/// The seed generator's profile: 20 req/s for 60 s, 100 req/s for 20 s, 20 req/s for 60 s.
pub fn default_profile() -> Vec<Phase> {
    let p = |rate: f64, s: u64| Phase {
        rate,
        duration: Duration::from_secs(s),
    };
    vec![p(20.0, 60), p(100.0, 20), p(20.0, 60)]
}

const PROFILE_HINT: &str = "expected RATExDURATION such as '20x60' (20 req/s for 60 s)";

/// Parses `20x60,100x20,20x60`: rate in req/s, `x`, then seconds or a duration (`2m`, `500ms`).
pub fn parse_profile(s: &str) -> Result<Vec<Phase>, DemoError> {
    if s.trim().is_empty() {
        return Err(DemoError::invalid("--profile", s, PROFILE_HINT));
    }
    let mut phases = Vec::new();
    for step in s.split(',') {
        let step = step.trim();
        let bad = |reason: &str| DemoError::invalid("--profile step", step, reason);
        let (rate, dur) = step
            .split_once(['x', 'X'])
            .ok_or_else(|| bad(PROFILE_HINT))?;
        if rate.trim().is_empty() || dur.trim().is_empty() {
            return Err(bad(PROFILE_HINT));
        }
        let rate = parse_rate_value(rate).map_err(|r| bad(&r))?;
        let duration = parse_duration(dur).map_err(|e| bad(&e))?;
        if duration.is_zero() {
            return Err(bad("a step must last more than zero"));
        }
        phases.push(Phase { rate, duration });
    }
    Ok(phases)
}

/// Parses a `--rate` value: requests per second, 0 for as fast as possible.
pub fn parse_rate(s: &str) -> Result<f64, DemoError> {
    parse_rate_value(s).map_err(|r| DemoError::invalid("--rate", s, r))
}

fn parse_rate_value(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected requests per second, e.g. '20' (0 = as fast as possible)")?;
    if !r.is_finite() || !(0.0..=10_000_000.0).contains(&r) {
        return Err("must be from 0 to 10000000 req/s (0 = as fast as possible)".into());
    }
    Ok(r)
}

/// Trims sections, drops a leading `/`, and rejects ones that would not stay one path segment.
pub fn clean_sections(raw: &[String]) -> Result<Vec<String>, DemoError> {
    let mut out = Vec::new();
    for s in raw {
        let t = s.trim();
        let t = t.strip_prefix('/').unwrap_or(t);
        if t.is_empty() {
            continue;
        }
        let ok = t
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
        if !ok {
            return Err(DemoError::invalid(
                "--sections entry",
                s,
                "a section is one path segment of printable ASCII without '/', '?', '#' or '%'",
            ));
        }
        out.push(t.to_string());
    }
    if out.is_empty() {
        return Err(DemoError::invalid(
            "--sections",
            &raw.join(","),
            "give at least one, e.g. 'foo,bar'",
        ));
    }
    Ok(out)
}

/// Where to send: `http://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (without brackets for IPv6).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Target {
    /// Parses `http://host:port` with an optional trailing `/`; `http://host` means port 80.
    pub fn parse(url: &str) -> Result<Target, DemoError> {
        let bad = |reason: &str| DemoError::invalid("URL", url, reason);
        let parsed = Url::parse(url).map_err(|e| match e {
            url::ParseError::EmptyHost => bad("the host is missing, e.g. 'http://127.0.0.1:5000'"),
            url::ParseError::InvalidPort => bad("the port must be a number from 1 to 65535"),
            url::ParseError::RelativeUrlWithoutBase => {
                bad("expected http://HOST:PORT, e.g. 'http://127.0.0.1:5000'")
            }
            other => bad(&other.to_string()),
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" => return Err(bad("https is not supported; the demo speaks plain http://")),
            _ => {
                return Err(bad(
                    "expected http://HOST:PORT, e.g. 'http://127.0.0.1:5000'",
                ));
            }
        }
        if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad(
                "give no path: the generator picks the paths itself (see --sections)",
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("user names and passwords are not supported"));
        }
        let host = match parsed.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            _ => return Err(bad("the host is missing, e.g. 'http://127.0.0.1:5000'")),
        };
        let port = match parsed.port_or_known_default() {
            Some(p) if p > 0 => p,
            _ => return Err(bad("the port must be a number from 1 to 65535")),
        };
        Ok(Target { host, port })
    }

    /// `host:port`, with brackets around an IPv6 host.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority())
    }
}

/// Which HTTP the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// HTTP/1.1: one request at a time on each connection.
    Http1,
    /// HTTP/2 without TLS, started by prior knowledge: each connection carries `streams`
    /// requests at once, one per stream.
    H2c {
        /// Concurrent streams per connection (at least 1).
        streams: usize,
    },
}

impl Wire {
    /// The protocol's name in reports: `HTTP/1.1` or `h2c`.
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Http1 => "HTTP/1.1",
            Wire::H2c { .. } => "h2c",
        }
    }
}

/// What to send, where, and how fast.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub target: Target,
    /// The rate steps, run one after another.
    pub profile: Vec<Phase>,
    /// Concurrent connections (with HTTP/1.1, one request in flight on each).
    pub connections: usize,
    /// HTTP/1.1, or h2c with several streams per connection.
    pub wire: Wire,
    /// Reuse connections; `false` sends `Connection: close` and reconnects for every request
    /// (HTTP/1.1 only: h2c connections are always reused).
    pub keep_alive: bool,
    /// First path segments the requests are spread over.
    pub sections: Vec<String>,
    /// Limit for one connection attempt plus one exchange.
    pub timeout: Duration,
    /// Stop early (and still report) on Ctrl-C or SIGTERM. This installs process-wide signal
    /// handlers that stay after the run, so only a command-line program should set it.
    pub stop_on_ctrl_c: bool,
    /// Stop early (and still report) when this flag becomes true (the demo's `q`).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            target: Target {
                host: "127.0.0.1".into(),
                port: 5000,
            },
            profile: default_profile(),
            connections: 4,
            wire: Wire::Http1,
            keep_alive: true,
            sections: ["foo", "bar", "baz", "spiffy", "zoom"]
                .map(String::from)
                .to_vec(),
            timeout: Duration::from_secs(5),
            stop_on_ctrl_c: false,
            stop: None,
        }
    }
}

/// Appends request `index`'s path to `out`: always `/{section}` followed by one of a few
/// shapes (`/foo`, `/foo/`, `/bar/3`, `/baz/index.html`, `/spiffy/item/7`, `/zoom?x=2`…),
/// chosen by a hash of `index`, so the mix looks random but is fixed.
pub fn write_path(out: &mut String, sections: &[String], index: u64) {
    use std::fmt::Write;
    let h = splitmix64(index ^ 0x5EC7_1095);
    let section = match sections.len() {
        0 => "",
        n => sections[(h % n as u64) as usize].as_str(),
    };
    let n = (h >> 40) % 10;
    let m = (h >> 48) % 5 + 1;
    let sub = ["item", "page", "baz", "api"][((h >> 56) % 4) as usize];
    // Writing to a String cannot fail.
    let _ = match (h >> 32) % 8 {
        0 => write!(out, "/{section}"),
        1 => write!(out, "/{section}/"),
        2 => write!(out, "/{section}/{n}"),
        3 => write!(out, "/{section}/index.html"),
        4 => write!(out, "/{section}/{sub}/{n}"),
        5 => write!(out, "/{section}?x={n}"),
        6 => write!(out, "/{section}/{n}?page={m}"),
        _ => write!(out, "/{section}/{sub}/{n}/detail#top"),
    };
    // A fragment never goes on the wire (RFC 9110 §4.2.4); drop it the way a browser would.
    if let Some(i) = out.find('#') {
        out.truncate(i);
    }
}

/// Request `index`'s path (see [`write_path`]).
pub fn path_for(sections: &[String], index: u64) -> String {
    let mut s = String::new();
    write_path(&mut s, sections, index);
    s
}

/// The section mix of requests `0..count`, as [`LoadReport::sections`] reports it when every
/// request was answered.
pub fn expected_sections(sections: &[String], count: u64) -> BTreeMap<String, u64> {
    let mut mix = BTreeMap::new();
    let mut path = String::new();
    for i in 0..count {
        path.clear();
        write_path(&mut path, sections, i);
        *mix.entry(section_of_path(&path).to_string()).or_insert(0) += 1;
    }
    mix
}

fn section_of_path(path: &str) -> &str {
    crate::decode::section_of("GET", path)
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrKind {
    ConnectRefused,
    ConnectFailed,
    Timeout,
    Closed,
    Reset,
    BadResponse,
    Io,
}

impl ErrKind {
    const ALL: [ErrKind; 7] = [
        ErrKind::ConnectRefused,
        ErrKind::ConnectFailed,
        ErrKind::Timeout,
        ErrKind::Closed,
        ErrKind::Reset,
        ErrKind::BadResponse,
        ErrKind::Io,
    ];

    fn name(self) -> &'static str {
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

    pub(super) fn from_io(e: &std::io::Error) -> ErrKind {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ErrKind::Reset,
            K::UnexpectedEof => ErrKind::Closed,
            K::TimedOut => ErrKind::Timeout,
            _ => ErrKind::Io,
        }
    }
}

/// How far past its planned end a paced step may go to catch up before the rest is skipped.
const LATE_GRACE: Duration = Duration::from_millis(250);

struct PhasePlan {
    start: Duration,
    rate: f64,
    duration: Duration,
    count: Option<u64>,
    tickets: AtomicU64,
    sent: AtomicU64,
    /// Latest send time in this step, in ns since the run's start.
    last_send_ns: AtomicU64,
}

pub(super) struct Shared {
    pub(super) addrs: Vec<SocketAddr>,
    /// `host:port`, as sent in `Host` (HTTP/1.1) or `:authority` (h2c).
    pub(super) host_header: String,
    keep_alive: bool,
    pub(super) timeout: Duration,
    sections: Vec<String>,
    phases: Vec<PhasePlan>,
    next_index: AtomicU64,
    start: Instant,
    stop: AtomicBool,
    sent: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
}

#[derive(Default)]
pub(super) struct WorkerStats {
    status: BTreeMap<u16, u64>,
    errors: [u64; ErrKind::ALL.len()],
    latencies_us: Vec<u32>,
    sections: Vec<u64>,
    /// Connections this loop opened.
    pub(super) connections: u64,
}

pub(super) struct Answer {
    pub(super) status: u16,
    /// The connection cannot carry another request.
    pub(super) close: bool,
}

/// What a request loop sends on.
enum Link {
    /// Its own HTTP/1.1 connection, opened when needed.
    Http1(Option<TcpStream>),
    /// A share of an HTTP/2 connection.
    H2c(Arc<Lane>),
}

async fn run_async(config: LoadConfig, progress: bool) -> Result<LoadReport, DemoError> {
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
            super::serve::wait_for_signal().await;
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

fn merge(total: &mut WorkerStats, s: WorkerStats) {
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

fn build_report(
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

async fn worker(
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

fn fail(shared: &Shared, stats: &mut WorkerStats, kind: ErrKind) {
    if let Some(i) = ErrKind::ALL.iter().position(|k| *k == kind) {
        stats.errors[i] += 1;
    }
    shared.failed.fetch_add(1, Ordering::Relaxed);
}

impl Link {
    /// After an error or `Connection: close`: an HTTP/1.1 connection is not reused. An h2c
    /// connection is shared, and its lane dials again once hyper sees it closed.
    fn drop_connection(&mut self) {
        match self {
            Link::Http1(conn) => *conn = None,
            Link::H2c(_) => {}
        }
    }
}

/// Writes request `index`'s path into `path`; returns the index of its section in
/// `shared.sections`.
fn next_path(shared: &Shared, index: u64, path: &mut String) -> usize {
    path.clear();
    write_path(path, &shared.sections, index);
    let section = section_of_path(path);
    shared
        .sections
        .iter()
        .position(|s| section.get(1..) == Some(s.as_str()))
        .unwrap_or(usize::MAX)
}

/// Writes the HTTP/1.1 GET for `path` into `req`.
fn write_http1_request(shared: &Shared, path: &str, req: &mut Vec<u8>) {
    req.clear();
    req.extend_from_slice(b"GET ");
    req.extend_from_slice(path.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    req.extend_from_slice(shared.host_header.as_bytes());
    req.extend_from_slice(b"\r\nUser-Agent: traffic-watch-load\r\nAccept: */*\r\n");
    if !shared.keep_alive {
        req.extend_from_slice(b"Connection: close\r\n");
    }
    req.extend_from_slice(b"\r\n");
}

pub(super) async fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, (ErrKind, String)> {
    let mut last = (ErrKind::ConnectFailed, "no address".to_string());
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                // One write per request; Nagle would only add delay.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => {
                let kind = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    ErrKind::ConnectRefused
                } else {
                    ErrKind::ConnectFailed
                };
                last = (kind, io_reason(&e));
            }
            Err(_) => last = (ErrKind::Timeout, "timed out".into()),
        }
    }
    Err(last)
}

/// Sends `req` on the connection (opening one if needed) and reads one whole answer.
async fn exchange(
    shared: &Shared,
    conn: &mut Option<TcpStream>,
    req: &[u8],
    rbuf: &mut Vec<u8>,
    stats: &mut WorkerStats,
) -> Result<Answer, ErrKind> {
    // A kept-alive connection the server closed while idle fails before any answer byte;
    // that is not the request's fault, so retry it once on a fresh connection (GET is
    // idempotent, RFC 9110 §9.2.2).
    let mut may_retry = conn.is_some();
    loop {
        let stream = match conn {
            Some(s) => s,
            None => {
                let s = connect(&shared.addrs, shared.timeout)
                    .await
                    .map_err(|(kind, _)| kind)?;
                stats.connections += 1;
                conn.insert(s)
            }
        };
        rbuf.clear();
        let result = match stream.write_all(req).await {
            Ok(()) => read_answer(stream, rbuf).await,
            Err(e) => Err(ErrKind::from_io(&e)),
        };
        match result {
            Err(ErrKind::Closed | ErrKind::Reset) if may_retry && rbuf.is_empty() => {
                may_retry = false;
                *conn = None;
            }
            other => return other,
        }
    }
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Answer, ErrKind> {
    let mut eof = false;
    loop {
        if !buf.is_empty()
            && let Some(answer) = parse_answer(buf, eof)?
        {
            return Ok(answer);
        }
        if eof {
            return Err(ErrKind::Closed);
        }
        buf.reserve(4096);
        match stream.read_buf(buf).await {
            Ok(0) => eof = true,
            Ok(_) => {}
            Err(e) => return Err(ErrKind::from_io(&e)),
        }
    }
}

/// `Ok(None)`: need more bytes. On success the answer's bytes are removed from `buf`.
fn parse_answer(buf: &mut Vec<u8>, eof: bool) -> Result<Option<Answer>, ErrKind> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ErrKind::BadResponse),
        };
        let status = resp.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            // Interim answer (100 Continue, 103 Early Hints): the real one follows.
            buf.drain(..head_len);
            continue;
        }
        let mut close = resp.version == Some(0);
        let mut framing = None;
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or(ErrKind::BadResponse)?;
                framing.get_or_insert(Framing::Length(n));
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if h.value.to_ascii_lowercase().ends_with(b"chunked") {
                    // Chunked wins over Content-Length (RFC 9112 §6.3).
                    framing = Some(Framing::Chunked);
                }
            } else if h.name.eq_ignore_ascii_case("connection") {
                let v = h.value.to_ascii_lowercase();
                if v.windows(5).any(|w| w == b"close") {
                    close = true;
                } else if v.windows(10).any(|w| w == b"keep-alive") {
                    close = false;
                }
            }
        }
        let no_body = status == 204 || status == 304;
        let framing = if no_body {
            Framing::Length(0)
        } else {
            framing.unwrap_or(Framing::UntilClose)
        };
        let body = &buf[head_len..];
        let used = match framing {
            Framing::Length(n) => (body.len() >= n).then_some(n),
            Framing::Chunked => chunked_len(body)?,
            Framing::UntilClose => {
                close = true;
                eof.then_some(body.len())
            }
        };
        return Ok(used.map(|n| {
            // Extra bytes would be an answer we did not ask for; don't reuse such a connection.
            if head_len + n < buf.len() {
                close = true;
            }
            Answer { status, close }
        }));
    }
}

/// Length of a complete chunked body at the start of `body`, or `None` if more is needed.
fn chunked_len(body: &[u8]) -> Result<Option<usize>, ErrKind> {
    match ChunkDecoder::default().feed(body) {
        (n, Decoded::Done) => Ok(Some(n)),
        (_, Decoded::More) => Ok(None),
        (_, Decoded::Bad) => Err(ErrKind::BadResponse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn profiles_parse() {
        let p = parse_profile("20x60,100x20,20x60").unwrap();
        assert_eq!(p, default_profile());
        let p = parse_profile("0x3s, 50x500ms,1.5X2m").unwrap();
        assert_eq!(
            p[0],
            Phase {
                rate: 0.0,
                duration: secs(3)
            }
        );
        assert_eq!(p[1].planned_requests(), Some(25));
        assert_eq!(p[2].duration, secs(120));
        assert_eq!(p[2].planned_requests(), Some(180));
    }

    #[test]
    fn bad_profiles_name_the_step() {
        for (input, step) in [
            ("20x", "20x"),
            ("x60", "x60"),
            ("20", "20"),
            ("20x60,", ""),
            ("20x60,abcx5", "abcx5"),
            ("-5x10", "-5x10"),
            ("20x0", "20x0"),
            ("20x5q", "20x5q"),
            ("nanx5", "nanx5"),
        ] {
            let e = parse_profile(input).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --profile step '{step}': ")),
                "{input}: {e}"
            );
            assert!(!e.contains('\n'));
        }
        assert!(parse_profile("").is_err());
    }

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 5000));
        assert_eq!(Target::parse("http://localhost:8080/").unwrap().port, 8080);
        assert_eq!(Target::parse("http://localhost").unwrap().port, 80);
        let t = Target::parse("http://[::1]:5000/").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority(), "[::1]:5000");
        assert_eq!(t.to_string(), "http://[::1]:5000");
        for bad in [
            "https://127.0.0.1:5000",
            "127.0.0.1:5000",
            "ftp://x:1",
            "http://127.0.0.1:5000/foo",
            "http://127.0.0.1:5000?x=1",
            "http://:5000",
            "http://h:0",
            "http://h:70000",
            "http://h:port",
            "http://[::1",
            "http://u@h:1",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid URL '{bad}': ")), "{e}");
        }
    }

    #[test]
    fn paths_are_fixed_varied_and_in_their_section() {
        let sections: Vec<String> = ["foo", "bar", "baz", "spiffy", "zoom"]
            .map(String::from)
            .to_vec();
        assert_eq!(path_for(&sections, 17), path_for(&sections, 17));
        let paths: Vec<String> = (0..1000).map(|i| path_for(&sections, i)).collect();
        let distinct: std::collections::HashSet<_> = paths.iter().collect();
        assert!(distinct.len() > 100, "{}", distinct.len());
        assert!(paths.iter().any(|p| p.contains('?')));
        for (i, p) in paths.iter().enumerate() {
            let section = section_of_path(p);
            assert!(
                sections.iter().any(|s| section == format!("/{s}")),
                "{i}: {p}"
            );
            assert!(!p.contains('#'));
        }
        let mix = expected_sections(&sections, 1000);
        assert_eq!(mix.values().sum::<u64>(), 1000);
        assert_eq!(mix.len(), 5);
        assert!(mix.values().all(|&n| n > 150), "{mix:?}");
    }

    #[test]
    fn sections_are_cleaned() {
        let s = clean_sections(&["/foo".into(), " bar ".into(), "".into()]).unwrap();
        assert_eq!(s, vec!["foo", "bar"]);
        assert!(clean_sections(&["a/b".into()]).is_err());
        assert!(clean_sections(&["".into()]).is_err());
        assert!(clean_sections(&["a b".into()]).is_err());
    }

    fn parse(bytes: &[u8], eof: bool) -> Result<Option<(u16, bool)>, ErrKind> {
        let mut buf = bytes.to_vec();
        parse_answer(&mut buf, eof).map(|o| o.map(|a| (a.status, a.close)))
    }

    #[test]
    fn answers_are_framed() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse(ok, false), Ok(Some((200, false))));
        assert_eq!(parse(&ok[..ok.len() - 1], false), Ok(None));
        assert_eq!(parse(&ok[..10], false), Ok(None));
        let chunked =
            b"HTTP/1.1 404 NF\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, false), Ok(Some((404, false))));
        assert_eq!(parse(&chunked[..chunked.len() - 2], false), Ok(None));
        let close = b"HTTP/1.1 500 E\r\nConnection: close\r\n\r\nbody";
        assert_eq!(parse(close, false), Ok(None));
        assert_eq!(parse(close, true), Ok(Some((500, true))));
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n";
        assert_eq!(parse(interim, false), Ok(Some((204, false))));
        let http10 = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(http10, false), Ok(Some((200, true))));
        assert_eq!(parse(b"garbage\r\n\r\n", false), Err(ErrKind::BadResponse));
        let bad_len = b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
        assert_eq!(parse(bad_len, false), Err(ErrKind::BadResponse));
    }
}
