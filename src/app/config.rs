//! What a monitor run does, validated and typed: where events come from ([`Input`]), where
//! results go ([`OutputSettings`]), the caps of the lower layers and the user to become. Built
//! once, by `cli` from what was typed or by the demo directly; the runner never guesses the
//! mode from which settings happen to be present.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::capture::CaptureFilter;
use crate::flow::FlowConfig;
use crate::logs::FormatSpec;
use crate::record::RecordConfig;
use crate::stats::StatsConfig;

/// The validated settings of a monitor run.
#[derive(Debug, Clone)]
pub struct Config {
    pub input: Input,
    pub outputs: OutputSettings,
    pub flow: FlowConfig,
    pub stats: StatsConfig,
    pub privileges: Privileges,
    /// `--routes FILE`, read and checked; `None`: every route inferred.
    pub routes: Option<crate::route_args::RoutesInput>,
}

/// Where the events come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// Packets from an interface, through libpcap and a kernel BPF filter.
    Live(LiveSettings),
    /// Packets from a pcap or pcapng file (`-r`), on packet time.
    Replay(ReplaySettings),
    /// Lines of web server access logs (`--log`).
    Log(LogSettings),
}

#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// `None`: `any` where it exists, else the first interface up.
    pub interface: Option<String>,
    pub filter: CaptureFilter,
    /// The kernel capture buffer (`-B`); `None` for our default.
    pub buffer_bytes: Option<usize>,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// `-w` and the flight recorder.
    pub record: RecordConfig,
}

#[derive(Debug, Clone)]
pub struct ReplaySettings {
    pub path: PathBuf,
    /// `None` reads every packet: running BPF on each in user space would cost more than
    /// decoding it, and the decoder counts non-TCP as `not_tcp`.
    pub filter: Option<CaptureFilter>,
    /// 2: decode and flows on a reader thread beside the statistics; 1: everything on one.
    pub threads: usize,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// As typed: globs are expanded when the logs are opened; `-` is standard input.
    pub paths: Vec<PathBuf>,
    pub format: FormatSpec,
    /// Follow the logs as they grow (like `tail -F`); otherwise read them to their end.
    pub follow: bool,
}

impl Input {
    /// Reads what is already written and stops: a capture file, or logs not followed. Such a
    /// run works on event time and ends with a summary.
    pub fn is_offline(&self) -> bool {
        match self {
            Input::Live(_) => false,
            Input::Replay(_) => true,
            Input::Log(l) => !l.follow,
        }
    }
}

/// How results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Dashboard,
    Plain,
    Json,
}

/// Where results go: the screen, the metrics endpoint and the alert hooks.
#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub mode: OutputMode,
    /// Only the final summary: no periodic reports or alert lines (offline runs).
    pub summary_only: bool,
    /// How often plain or JSON output prints a report.
    pub interval: Duration,
    /// Serve Prometheus metrics here.
    pub metrics_addr: Option<SocketAddr>,
    pub hooks: HookSettings,
    /// The dashboard's title line in place of the capture description (the demo's).
    pub banner: Option<String>,
}

/// `--alert-exec` and `--alert-webhook`.
#[derive(Debug, Clone, Default)]
pub struct HookSettings {
    pub exec: Option<String>,
    pub webhook: Option<String>,
    /// Extra CA certificates for an https webhook.
    pub webhook_ca: Option<PathBuf>,
}

impl HookSettings {
    pub fn is_empty(&self) -> bool {
        self.exec.is_none() && self.webhook.is_none()
    }
}

/// Who the process becomes once its privileged handles are open.
#[derive(Debug, Clone)]
pub struct Privileges {
    /// `None`: the sudo user, else `nobody`.
    pub user: Option<String>,
    /// `false` keeps root and capabilities (`--no-drop-privileges`).
    pub drop: bool,
}

/// The alert window in whole seconds, at least one.
pub fn window_secs(window: Duration) -> Result<u64, String> {
    let secs = window.as_secs();
    if secs == 0 || window.subsec_nanos() != 0 {
        return Err(format!(
            "--window '{}' must be a whole number of seconds, at least 1s",
            window.as_secs_f64()
        ));
    }
    Ok(secs)
}

/// An alert threshold in requests per second.
pub fn threshold_rate(rate: f64) -> Result<f64, String> {
    if !rate.is_finite() || rate < 0.0 {
        return Err(format!("--threshold '{rate}' must be a number >= 0"));
    }
    Ok(rate)
}
