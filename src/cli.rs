//! The command line: [`Args`] is what was typed (clap); [`Args::to_config`] turns it, in one
//! place, into the validated [`Config`] of a monitor run, and [`DemoArgs::to_settings`] into
//! the demo's settings.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::app::config::{
    Config, HookSettings, Input, LiveSettings, LogSettings, OutputMode, OutputSettings, Privileges,
    ReplaySettings, threshold_rate, window_secs,
};
use crate::capture::CaptureFilter;
use crate::flow::FlowConfig;
use crate::logs::FormatSpec;
use crate::record::{RecordConfig, Rotation};
use crate::stats::{StatsConfig, Threshold};
use crate::time::parse_duration;

/// Watch the HTTP traffic arriving at a port, live, from the packets themselves.
///
/// Captures with libpcap (kernel BPF filter), reassembles TCP, pairs responses with requests,
/// and shows requests per second, the most-hit sections of the site over the last 10 s and
/// 10 min, latency and status, and an alert when the average rate over the last 2 minutes goes
/// above a threshold. On a terminal it draws a dashboard; piped, it prints plain reports (or
/// NDJSON with --json).
#[derive(Debug, Parser)]
#[command(
    name = "traffic-watch",
    version,
    args_conflicts_with_subcommands = true
)]
#[command(after_help = "EXAMPLES:\n  \
    sudo traffic-watch --port 5000\n  \
    sudo traffic-watch --port 80 --ip 10.12.3.201 -i eth0 --threshold 50\n  \
    traffic-watch -r capture.pcap --json\n  \
    traffic-watch -r capture.pcap --port 8080 'not host 10.0.0.9'\n  \
    traffic-watch sample-capture sample.pcap && traffic-watch -r sample.pcap\n\n\
INCIDENT WORKFLOW (keep the packets of a spike):\n  \
    sudo traffic-watch --port 80 --record-alerts /var/lib/traffic-watch\n      \
    the alert line names the file: /var/lib/traffic-watch/alert-20261124T065331Z.pcapng\n      \
    (also in --json alerts, TW_ALERT_RECORDING for --alert-exec, \"recording\" in the webhook)\n  \
    traffic-watch -r /var/lib/traffic-watch/alert-20261124T065331Z.pcapng --plain --port 80\n      \
    replays the run-up, the spike and the recovery (use the same --window/--threshold)\n  \
    tshark -r /var/lib/traffic-watch/alert-20261124T065331Z.pcapng -Y http.request\n  \
    sudo traffic-watch --port 80 -w /var/tmp/web.pcapng -C 100 -W 10   (everything, in 10 files of 100 MB)")]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Read packets from a pcap or pcapng file instead of capturing (as tcpdump -r).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// With -r: threads for the replay. 2 decodes the packets on a reading thread while the
    /// statistics are counted on another (same results, faster on two or more CPUs); 1 does
    /// all on one. [default: 2 when the machine has more than one CPU, else 1]
    #[arg(long, value_name = "N", requires = "read", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub replay_threads: Option<u8>,

    /// The port the web server listens on; both directions are captured.
    #[arg(short = 'p', long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Keep only traffic to (and responses from) this server address.
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<IpAddr>,

    /// Interface to capture on [default: 'any' where it exists, else the first one up].
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: Option<String>,

    /// Kernel capture buffer size in KiB (as tcpdump -B).
    #[arg(short = 'B', long = "buffer-size", value_name = "KIB")]
    pub buffer_kib: Option<usize>,

    /// Bytes kept of each packet (as tcpdump -s). The default keeps every packet whole; below
    /// a packet's size the rest of it is not seen (bodies, and requests or responses starting
    /// past the cut), so the counts become lower bounds, and traffic-watch says so.
    #[arg(
        short = 's',
        long,
        value_name = "BYTES",
        default_value_t = crate::capture::live::WHOLE_SNAPLEN,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::capture::live::WHOLE_SNAPLEN)),
        conflicts_with_all = ["read", "log"]
    )]
    pub snaplen: u32,

    /// Alert when the average requests/s over the window goes above this.
    #[arg(
        long,
        value_name = "RATE",
        default_value = "10",
        conflicts_with = "threshold_total"
    )]
    pub threshold: f64,

    /// Alert when the total requests in the window goes above this (instead of --threshold).
    #[arg(long, value_name = "COUNT")]
    pub threshold_total: Option<u64>,

    /// Length of the alert window, e.g. 2m, 90s.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub window: Duration,

    /// How often plain/JSON output prints a report, e.g. 10s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Print plain text reports instead of the dashboard (the default when not on a terminal).
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,

    /// Print NDJSON: one object per line with "type": report, alert, summary.
    #[arg(long)]
    pub json: bool,

    /// Print only the final summary (replay), no periodic reports or alert lines.
    #[arg(long)]
    pub summary_only: bool,

    /// Distinct sections tracked; more are counted as '(other)'.
    #[arg(long, value_name = "N", default_value = "10000")]
    pub max_sections: usize,

    /// Connections tracked at once; beyond it the idlest is evicted.
    #[arg(long, value_name = "N", default_value = "65536")]
    pub max_flows: usize,

    /// Rows in the top-sections lists.
    #[arg(long, value_name = "N", default_value = "10")]
    pub top: usize,

    /// Read a web server access log (Common/Combined format) instead of capturing; '-' for
    /// standard input. Follows it like tail -F (rotation included) unless --no-follow.
    /// Repeat it, or give a glob ('/var/log/nginx/*.access.log'), to read several logs as one:
    /// merged in time order.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 1..,
        action = clap::ArgAction::Append,
        conflicts_with_all = ["read", "interface"]
    )]
    pub log: Vec<PathBuf>,

    /// Access log format. auto recognises combined, common, vhost_combined, combined with
    /// %D or $request_time appended, nginx escape=json, Caddy JSON, HAProxy httplog, lighttpd
    /// and morgan dev from the first lines; or give the server's own format:
    /// nginx:'<log_format string>', nginx:NAME (with --nginx-conf), apache:'<LogFormat string>',
    /// json, json:time=ts,uri=request.uri,status=status,duration=duration (seconds;
    /// duration_ms/_us/_ns), haproxy, morgan, combined, common, vhost_combined.
    #[arg(long, value_name = "FORMAT", default_value = "auto", requires = "log")]
    pub log_format: String,

    /// With --log-format nginx:NAME: the nginx config holding 'log_format NAME …;'.
    #[arg(long, value_name = "FILE", requires = "log")]
    pub nginx_conf: Option<PathBuf>,

    /// With --log: read the files to their end and stop (an offline report, like -r).
    #[arg(long, requires = "log")]
    pub no_follow: bool,

    #[command(flatten)]
    pub outputs: OutputArgs,

    #[command(flatten)]
    pub record: RecordArgs,

    #[command(flatten)]
    pub routes: crate::route_args::RouteArgs,

    /// After opening the capture, switch to this user (default: the sudo user, else 'nobody').
    #[arg(short = 'Z', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Keep root and capabilities after opening the capture (not recommended).
    #[arg(long)]
    pub no_drop_privileges: bool,

    /// A BPF expression ANDed with the port/ip filter, e.g. 'not host 10.0.0.9'.
    #[arg(value_name = "BPF EXPRESSION", trailing_var_arg = true)]
    pub filter: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[cfg(feature = "demo")]
    /// A real HTTP server answering every path ("Hello, your path is: …"), for demos: HTTP/1.1,
    /// and h2c (HTTP/2 without TLS) by prior knowledge or by Upgrade, on the same port.
    Serve(crate::demo::ServeArgs),
    #[cfg(feature = "demo")]
    /// Send HTTP traffic at a paced rate profile (default: 20/s, 100/s, 20/s); HTTP/1.1, or h2c
    /// with --http2.
    Load(crate::demo::LoadArgs),
    #[cfg(feature = "demo")]
    /// See it work in a minute: a local server, a traffic profile with a spike, and the live
    /// monitor on that port with a short alert window, so the alert fires and recovers.
    Demo(DemoArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: traffic-watch manpage > traffic-watch.1
    Manpage,
    /// Write a sample capture (synthetic HTTP traffic on port 5000) to replay with -r.
    SampleCapture {
        /// Where to write the pcap file.
        #[arg(value_name = "FILE")]
        out: PathBuf,
        /// Requests per second in the sample.
        #[arg(long, default_value = "20")]
        rate: u32,
        /// Seconds of traffic.
        #[arg(long, default_value = "30")]
        seconds: u32,
        /// Add a spike of 5x the rate for a fifth of the time, in the middle (to see an alert
        /// fire and recover in the replay).
        #[arg(long)]
        spike: bool,
    },
}

/// Two replay threads only pay where two can run at once.
fn default_replay_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

impl Args {
    /// Turns what was typed into the run's [`Config`], or says in one line what is wrong.
    /// `stdout_is_terminal` picks the default output.
    pub fn to_config(&self, stdout_is_terminal: bool) -> Result<Config, String> {
        // Without the demo, its subcommand names would otherwise be read as a BPF expression.
        #[cfg(not(feature = "demo"))]
        if let Some(word @ ("serve" | "load" | "demo")) = self.filter.first().map(String::as_str) {
            return Err(format!(
                "'{word}' is not in this build of traffic-watch (built without the 'demo' feature)"
            ));
        }
        let window_secs = window_secs(self.window)?;
        if self.interval < Duration::from_secs(1) {
            return Err("--interval must be at least 1s".into());
        }
        let rate = threshold_rate(self.threshold)?;
        let threshold = match self.threshold_total {
            Some(n) => Threshold::Total(n),
            None => Threshold::PerSecond(rate),
        };
        if self.read.is_some() && self.interface.is_some() {
            return Err("-r FILE and -i IFACE cannot be used together".into());
        }
        if self.max_sections == 0 || self.max_flows == 0 {
            return Err("--max-sections and --max-flows must be at least 1".into());
        }
        let buffer_bytes = match self.buffer_kib {
            Some(kib) => Some(
                kib.checked_mul(1024)
                    .filter(|b| *b <= i32::MAX as usize)
                    .ok_or_else(|| format!("-B '{kib}' is too large"))?,
            ),
            None => None,
        };
        let format = FormatSpec::from_arg(&self.log_format, self.nginx_conf.as_deref())?;
        let record = self
            .record
            .to_config(self.read.is_some(), !self.log.is_empty())?;
        let filter = CaptureFilter::new(self.port, self.ip, &self.filter);
        let input = if let Some(path) = &self.read {
            let everything = self.port.is_none() && self.ip.is_none() && !filter.has_expression();
            Input::Replay(ReplaySettings {
                path: path.clone(),
                filter: (!everything).then_some(filter),
                threads: self
                    .replay_threads
                    .map_or_else(default_replay_threads, usize::from),
            })
        } else if !self.log.is_empty() {
            Input::Log(LogSettings {
                paths: self.log.clone(),
                format,
                follow: !self.no_follow,
            })
        } else {
            Input::Live(LiveSettings {
                interface: self.interface.clone(),
                filter,
                buffer_bytes,
                snaplen: self.snaplen,
                record,
            })
        };
        let offline = input.is_offline();
        let mode = if self.json {
            OutputMode::Json
        } else if self.plain || !stdout_is_terminal || offline {
            OutputMode::Plain
        } else {
            OutputMode::Dashboard
        };
        Ok(Config {
            input,
            outputs: OutputSettings {
                mode,
                // Reading a file without --plain/--json: the summary is what people want.
                summary_only: self.summary_only || (offline && !self.plain && !self.json),
                interval: self.interval,
                metrics_addr: self.outputs.metrics_addr,
                hooks: self.outputs.hooks(),
                banner: None,
            },
            flow: FlowConfig {
                max_flows: self.max_flows,
                ..FlowConfig::default()
            },
            stats: StatsConfig {
                window_secs,
                threshold,
                max_sections: self.max_sections,
                top_n: self.top.clamp(1, 100),
                max_routes: self.routes.max_routes,
            },
            privileges: Privileges {
                user: self.user.clone(),
                drop: !self.no_drop_privileges,
            },
            routes: self.routes.to_input()?,
        })
    }
}

/// Writing what is captured: tcpdump's `-w` and rotation, and the flight recorder.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RecordArgs {
    /// Write the packets that pass the filter to FILE as pcapng (as tcpdump -w); they replay
    /// with -r to the same counts. Files are created as the user traffic-watch becomes (-Z).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// With -w: start a new file once the current one is larger than SIZE (as tcpdump -C):
    /// millions of bytes, or KiB/MiB/GiB with a k/m/g suffix. Files are then numbered FILE,
    /// FILE1, FILE2, ...
    #[arg(short = 'C', long = "file-size", value_name = "SIZE", value_parser = crate::record::rotation::parse_size)]
    pub file_size: Option<u64>,

    /// With -w: start a new file every SECONDS of packet time (as tcpdump -G). FILE may hold
    /// %Y %m %d %H %M %S %s (UTC); without them the files are numbered.
    #[arg(short = 'G', long = "rotate-seconds", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_seconds: Option<u64>,

    /// With -w: keep at most COUNT files, numbered from 0 and reused in turn, the oldest
    /// overwritten (as tcpdump -C -W; capture never stops because of it).
    #[arg(short = 'W', long = "file-count", value_name = "COUNT", value_parser = clap::value_parser!(u32).range(1..))]
    pub file_count: Option<u32>,

    /// Flight recorder: keep the last packets in memory and, when the alert triggers, save
    /// them to DIR/alert-<time>.pcapng, recording on until the alert recovers (at most 1 GiB
    /// or 10 minutes per file). The alert line, --json, the hooks and the webhook name the file.
    #[arg(long = "record-alerts", value_name = "DIR")]
    pub record_alerts: Option<PathBuf>,

    /// Memory for the flight recorder's packets: MiB, or a number with k/m/g [default: 128m].
    #[arg(long = "record-buffer", value_name = "SIZE", value_parser = parse_buffer)]
    pub record_buffer: Option<usize>,

    /// How far back the flight recorder keeps packets (its memory may run out first)
    /// [default: 60s].
    #[arg(long = "record-span", value_name = "DURATION", value_parser = parse_duration)]
    pub record_span: Option<Duration>,
}

/// `--record-buffer`: MiB, or KiB/MiB/GiB with a suffix.
fn parse_buffer(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let with_unit = if t.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{t}m")
    } else {
        t.to_owned()
    };
    let n = crate::record::rotation::parse_size(&with_unit)?;
    usize::try_from(n).map_err(|_| format!("'{s}' is too large"))
}

impl RecordArgs {
    /// Checks what makes sense together: recording needs live packets.
    pub fn to_config(&self, reading: bool, log: bool) -> Result<RecordConfig, String> {
        let rotation =
            self.file_size.is_some() || self.rotate_seconds.is_some() || self.file_count.is_some();
        if rotation && self.write.is_none() {
            return Err("-C, -G and -W rotate the files of -w: add -w FILE".into());
        }
        let ring = self.record_buffer.is_some() || self.record_span.is_some();
        if ring && self.record_alerts.is_none() {
            return Err(
                "--record-buffer and --record-span size the flight recorder: add --record-alerts DIR"
                    .into(),
            );
        }
        let recording = self.write.is_some() || self.record_alerts.is_some();
        if recording && reading {
            return Err(
                "-w and --record-alerts record a live capture; with -r the packets are already \
                 in a file (filter it with tcpdump -r IN -w OUT)"
                    .into(),
            );
        }
        if recording && log {
            return Err("-w and --record-alerts record packets; --log reads no packets".into());
        }
        if self.record_span.is_some_and(|d| d.is_zero()) {
            return Err("--record-span must be at least 1s".into());
        }
        Ok(RecordConfig {
            write: self.write.as_ref().map(|path| Rotation {
                path: path.clone(),
                max_bytes: self.file_size,
                every: self.rotate_seconds.map(Duration::from_secs),
                count: self.file_count,
            }),
            alerts_dir: self.record_alerts.clone(),
            buffer_bytes: self
                .record_buffer
                .unwrap_or(crate::record::recorder::DEFAULT_BUFFER_BYTES),
            span: self
                .record_span
                .unwrap_or(crate::record::recorder::DEFAULT_SPAN),
        })
    }
}

/// Options of `traffic-watch demo`.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Port for the built-in server on 127.0.0.1.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// Traffic profile as RATExSECONDS steps: baseline, spike, baseline.
    #[arg(long, default_value = "20x20,100x15,20x30")]
    pub profile: String,

    /// Alert window (short, so the alert fires and recovers within about a minute).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub window: Duration,

    /// Alert above this average requests/s over the window.
    #[arg(long, default_value = "40")]
    pub threshold: f64,

    /// Interface to capture on [default: the loopback interface].
    #[arg(short = 'i', long)]
    pub interface: Option<String>,

    /// Send the traffic as HTTP/2 without TLS (h2c, prior knowledge, 10 streams on each
    /// connection) instead of HTTP/1.1, as 'traffic-watch load --http2' does; the dashboard's
    /// requests-by-protocol line then counts them as h2c.
    #[arg(long)]
    pub http2: bool,

    /// Plain text instead of the dashboard (the default when not on a terminal); the demo
    /// then ends by itself once the profile is over and the window has passed.
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,

    /// NDJSON instead of the dashboard; ends by itself like --plain.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub outputs: OutputArgs,

    /// Keep root and capabilities after opening the capture (not recommended).
    #[arg(long)]
    pub no_drop_privileges: bool,
}

/// Where results go besides the screen; shared by the monitor and `demo`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9914 (off by default).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Run this program on every alert and recovery (no shell; details in TW_ALERT_*
    /// environment variables: KIND, MESSAGE, HITS, TIME, LOWER_BOUND).
    #[arg(long, value_name = "CMD")]
    pub alert_exec: Option<String>,

    /// POST each alert and recovery as JSON (Slack/Discord-compatible "text") to this
    /// http:// or https:// URL.
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,

    /// Trust the CA certificates in this PEM file for an https:// --alert-webhook, besides the
    /// built-in Mozilla roots (a private CA).
    #[arg(long, value_name = "FILE", requires = "alert_webhook")]
    pub alert_webhook_ca: Option<PathBuf>,
}

impl OutputArgs {
    pub fn hooks(&self) -> HookSettings {
        HookSettings {
            exec: self.alert_exec.clone(),
            webhook: self.alert_webhook.clone(),
            webhook_ca: self.alert_webhook_ca.clone(),
        }
    }
}

#[cfg(feature = "demo")]
impl DemoArgs {
    /// The demo's settings; the demo builds its monitor's [`Config`] from them itself.
    pub fn to_settings(&self, stdout_is_terminal: bool) -> crate::demo::monitor::DemoSettings {
        let interactive = stdout_is_terminal && !self.plain && !self.json;
        crate::demo::monitor::DemoSettings {
            port: self.port,
            profile: self.profile.clone(),
            window: self.window,
            threshold: self.threshold,
            interface: self.interface.clone(),
            http2: self.http2,
            mode: if self.json {
                OutputMode::Json
            } else if interactive {
                OutputMode::Dashboard
            } else {
                OutputMode::Plain
            },
            metrics_addr: self.outputs.metrics_addr,
            hooks: self.outputs.hooks(),
            drop_privileges: !self.no_drop_privileges,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("traffic-watch").chain(args.iter().copied()))
    }

    #[test]
    fn snaplen_defaults_to_whole_packets_and_is_bounded() {
        let config = parse(&[]).unwrap().to_config(false).unwrap();
        assert_eq!(live(config).snaplen, 262_144);
        assert_eq!(parse(&["-s", "96"]).unwrap().snaplen, 96);
        assert_eq!(parse(&["--snaplen", "262144"]).unwrap().snaplen, 262_144);
        for bad in ["0", "262145", "-1", "x"] {
            assert!(parse(&["--snaplen", bad]).is_err(), "{bad}");
        }
        // A file's snap length is the file's: it cannot be changed when reading one.
        assert!(parse(&["-r", "x.pcap", "--snaplen", "96"]).is_err());
        assert!(parse(&["-r", "x.pcap"]).is_ok());
    }

    fn config(args: &[&str]) -> Result<Config, String> {
        parse(args).map_err(|e| e.to_string())?.to_config(false)
    }

    fn live(config: Config) -> LiveSettings {
        match config.input {
            Input::Live(l) => l,
            other => panic!("not a live capture: {other:?}"),
        }
    }

    fn record(args: &[&str]) -> RecordConfig {
        live(config(args).unwrap()).record
    }

    #[test]
    fn replay_threads_are_one_or_two_and_only_for_a_replay() {
        let threads = |args: &[&str]| match config(args).map(|c| c.input) {
            Ok(Input::Replay(r)) => Ok(r.threads),
            Ok(other) => panic!("not a replay: {other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(threads(&["-r", "x.pcap", "--replay-threads", "1"]), Ok(1));
        assert_eq!(threads(&["-r", "x.pcap", "--replay-threads", "2"]), Ok(2));
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(threads(&["-r", "x.pcap"]), Ok(cpus.min(2)));
        for bad in ["0", "3", "two"] {
            assert!(threads(&["-r", "x.pcap", "--replay-threads", bad]).is_err());
        }
        assert!(config(&["--replay-threads", "2"]).is_err());
    }

    #[test]
    fn the_mode_follows_the_input_flags() {
        assert!(matches!(config(&[]).unwrap().input, Input::Live(_)));
        let replay = config(&["-r", "x.pcap"]).unwrap();
        assert!(matches!(
            &replay.input,
            Input::Replay(ReplaySettings { filter: None, .. })
        ));
        assert!(replay.outputs.summary_only);
        let filtered = config(&["-r", "x.pcap", "--port", "80"]).unwrap();
        let Input::Replay(r) = filtered.input else {
            panic!("not a replay")
        };
        assert_eq!(
            r.filter.and_then(|f| f.ports()).and_then(|p| p.port),
            Some(80)
        );
        let log = config(&["--log", "a.log", "--no-follow"]).unwrap();
        assert!(matches!(
            &log.input,
            Input::Log(LogSettings { follow: false, .. })
        ));
        assert_eq!(log.outputs.mode, OutputMode::Plain);
        let followed = config(&["--log", "a.log"]).unwrap();
        assert!(matches!(
            &followed.input,
            Input::Log(LogSettings { follow: true, .. })
        ));
    }

    #[test]
    fn recording_flags_are_tcpdumps_and_need_a_live_capture() {
        let c = record(&["-w", "x.pcapng", "-C", "20k", "-G", "5", "-W", "3"]);
        let w = c.write.unwrap();
        assert_eq!(w.max_bytes, Some(20 * 1024));
        assert_eq!(w.every, Some(Duration::from_secs(5)));
        assert_eq!(w.count, Some(3));
        let c = record(&["--record-alerts", "d", "--record-buffer", "16"]);
        assert_eq!(c.buffer_bytes, 16 << 20);
        assert_eq!(c.span, Duration::from_secs(60));
        assert_eq!(record(&["--record-alerts", "d"]).buffer_bytes, 128 << 20);
        for (args, says) in [
            (&["-C", "1"][..], "add -w FILE"),
            (&["--record-buffer", "1"], "add --record-alerts"),
            (&["-r", "x.pcap", "-w", "y"], "with -r"),
            (&["-r", "x.pcap", "--record-alerts", "d"], "with -r"),
            (&["--log", "a.log", "-w", "y"], "--log reads no packets"),
        ] {
            let e = config(args).unwrap_err();
            assert!(e.contains(says) && !e.contains('\n'), "{args:?}: {e}");
        }
        for bad in [
            &["-w", "x", "-G", "0"][..],
            &["-w", "x", "-W", "0"],
            &["-w", "x", "-C", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
