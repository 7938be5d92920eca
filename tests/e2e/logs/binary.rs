//! Issue 7 through the binary, as a user runs it: the Prometheus endpoint (scraped by a real
//! Prometheus server), access-log input (files followed through rotation, standard input,
//! offline reports, bad input) and alert hooks (a webhook listener and a recording script).
//! Every wait polls for a condition with a deadline; only the live-capture test needs root.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use traffic_watch::decode::LinkType;
use traffic_watch::demo::load::{self, LoadConfig, Phase, Target};
use traffic_watch::demo::serve::{self, ServeConfig};
use traffic_watch::synth::{Conversation, PcapWriter, Side};
use traffic_watch::time::Timestamp;

use crate::util::{bin, is_root, json_lines, proc_status, summary};

// ---------------------------------------------------------------------------------------------
// Helpers: the binary as a child process, HTTP on loopback, log lines.
// ---------------------------------------------------------------------------------------------

fn program() -> PathBuf {
    PathBuf::from(bin().get_program())
}

fn can_capture() -> bool {
    if !is_root() {
        eprintln!("skipped: live capture needs root or CAP_NET_RAW (CI runs as root)");
        return false;
    }
    true
}

/// A loopback address with a port nobody listens on right now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The running binary: NDJSON lines of stdout on a channel, stderr collected.
pub(crate) struct Tw {
    child: Child,
    lines: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Tw {
    pub(crate) fn spawn(args: &[&str]) -> Tw {
        Self::spawn_with(args, Stdio::null())
    }

    fn spawn_with(args: &[&str], stdin: Stdio) -> Tw {
        let mut child = Command::new(program())
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON: {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Tw {
            child,
            lines,
            stderr,
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) until stderr contains `needle`.
    pub(crate) fn wait_stderr(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.stderr().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader a moment to collect the last words.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "exited ({status}) before saying {needle:?}: {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on stderr within {limit:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for a stdout line matching `want`.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if want(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no {what} within {limit:?}; stderr: {}", self.stderr()),
            }
        }
    }

    /// Waits for a report whose request count is `n`.
    pub(crate) fn wait_requests(&self, n: u64, limit: Duration) -> Value {
        self.wait_for(&format!("report with {n} requests"), limit, |v| {
            v["type"] == "report" && v["requests"] == n
        })
    }

    /// SIGINT, then the summary line and a clean exit.
    pub(crate) fn stop(&mut self) -> Value {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let s = self.wait_for("summary", Duration::from_secs(15), |v| {
            v["type"] == "summary"
        });
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit {status}: {}", self.stderr());
        s
    }
}

impl Drop for Tw {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP/1.0 GET on loopback: status and body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `/metrics` of traffic-watch, when it answers 200.
fn scrape(addr: SocketAddr) -> Option<String> {
    match http_get(addr, "/metrics")? {
        (200, body) => Some(body),
        _ => None,
    }
}

/// The samples of `metric` in a text exposition: (label set, value).
fn samples(text: &str, metric: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if name != metric {
                return None;
            }
            Some((labels.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn sum_of(text: &str, metric: &str) -> f64 {
    samples(text, metric).iter().map(|(_, v)| v).sum()
}

/// Polls `f` every 100 ms until it gives `Some`, or panics after `limit`.
fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `utc` as an access log writes it in a zone `offset_minutes` east of UTC:
/// `24/Nov/2026:08:00:00 +0200`.
fn clf_time(utc: u64, offset_minutes: i64) -> String {
    let local = utc.checked_add_signed(offset_minutes * 60).unwrap();
    // "2026-11-24T08:00:00Z"
    let iso = Timestamp::from_secs(local).rfc3339_utc();
    let month: usize = iso[5..7].parse().unwrap();
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{}/{}/{}:{} {sign}{:02}{:02}",
        &iso[8..10],
        MONTHS[month - 1],
        &iso[0..4],
        &iso[11..19],
        off / 60,
        off % 60
    )
}

/// One combined-format line, as nginx writes it by default.
fn combined_line(client: u32, utc: u64, target: &str, status: u16) -> String {
    format!(
        "192.0.2.{} - - [{}] \"GET {target} HTTP/1.1\" {status} 512 \"-\" \"e2e/1\"\n",
        client % 250,
        clf_time(utc, 0)
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// 2026-11-24T06:00:00Z.
const T0: u64 = 1_795_500_000 - 1_795_500_000 % 86_400 + 6 * 3600;

/// A combined log with `per_second[s]` requests at second `T0 + s`, written in UTC+2.
fn spike_log(per_second: &[u64]) -> String {
    let mut log = String::new();
    for (s, n) in per_second.iter().enumerate() {
        let when = clf_time(T0 + s as u64, 120);
        for i in 0..*n {
            log.push_str(&format!(
                "203.0.113.{} - alice [{when}] \"GET /spike/{i} HTTP/1.1\" 200 64 \"https://ref.example/\" \"Mozilla/5.0 (X11)\"\n",
                i % 200
            ));
        }
    }
    log
}

/// Alert transitions the engine must report for `per_second`, window `w` s and threshold
/// `rate`, by brute force: second T is checked once time is past T (a later line), over the
/// hits of seconds (T-w, T]. (kind, UTC second, hits).
fn expected_alerts(per_second: &[u64], w: usize, rate: f64) -> Vec<(&'static str, u64, u64)> {
    let mut out = Vec::new();
    let mut active = false;
    // The last second is never checked: no line comes after it.
    for t in 0..per_second.len() - 1 {
        let hits: u64 = per_second[(t + 1).saturating_sub(w)..=t].iter().sum();
        let above = hits as f64 / w as f64 > rate;
        if above != active {
            active = above;
            let kind = if above { "triggered" } else { "recovered" };
            out.push((kind, T0 + t as u64, hits));
        }
    }
    out
}

/// 2/s for 30 s, 30/s for 10 s, 2/s for 60 s: with a 20 s window and 5/s it alerts, then
/// recovers well before the end.
fn spike_profile() -> Vec<u64> {
    (0..100)
        .map(|s| if (30..40).contains(&s) { 30 } else { 2 })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. A real Prometheus server scrapes live capture.
// ---------------------------------------------------------------------------------------------

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Debian's `prometheus` package (prometheus and promtool), installed if missing and root;
/// tried once per test run (tests run in parallel, apt-get must not).
fn prometheus_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *AVAILABLE.get_or_init(install_prometheus);
    if !ok {
        eprintln!("skipped: the prometheus package is not available (see above)");
    }
    ok
}

fn install_prometheus() -> bool {
    if on_path("prometheus") && on_path("promtool") {
        return true;
    }
    if !is_root() {
        eprintln!("skipped: the prometheus package is not installed and installing it needs root");
        return false;
    }
    let apt = |args: &[&str]| {
        Command::new("timeout")
            .arg("300")
            .arg("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = [
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "prometheus",
    ];
    if !apt(&install) {
        let _ = apt(&["update", "-qq"]);
        let _ = apt(&install);
    }
    if on_path("prometheus") && on_path("promtool") {
        return true;
    }
    eprintln!("skipped: cannot install Debian's prometheus package (apt-get failed or offline)");
    false
}

/// A Prometheus server on loopback with its own config and data directory; killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: traffic-watch\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = free_addr();
        let log = dir.path().join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The single value of an instant query, if it has one.
    fn query(&self, promql: &str) -> Option<f64> {
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={promql}"))?;
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        let result = v["data"]["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(port: u16, rate: f64, secs: f64) -> load::LoadReport {
    let config = LoadConfig {
        target: Target {
            host: "127.0.0.1".into(),
            port,
        },
        profile: vec![Phase {
            rate,
            duration: Duration::from_secs_f64(secs),
        }],
        connections: 2,
        keep_alive: true,
        ..LoadConfig::default()
    };
    load::run(config, false).unwrap()
}

#[test]
fn prometheus_scrapes_live_capture_and_sees_what_it_counted() {
    if !can_capture() || !prometheus_available() {
        return;
    }
    let srv = serve::start(ServeConfig {
        port: 0,
        ..ServeConfig::default()
    })
    .unwrap();
    let port = srv.addr().port().to_string();
    let metrics = free_addr();
    let metrics_arg = metrics.to_string();
    let mut mon = Tw::spawn(&[
        "--port",
        &port,
        "--json",
        "--interval",
        "1s",
        "--metrics-addr",
        &metrics_arg,
    ]);
    mon.wait_stderr("capturing on", Duration::from_secs(10));
    let prom = Prometheus::start(metrics);
    // Prometheus is up and has scraped traffic-watch once before any traffic.
    poll(
        "Prometheus scraping traffic-watch",
        Duration::from_secs(30),
        || (prom.query("up{job=\"traffic-watch\"}") == Some(1.0)).then_some(()),
    );
    let r = send(srv.addr().port(), 150.0, 1.5);
    let n = r.answered;
    assert!(n >= 100, "a real load: {n}");
    assert_eq!(srv.served(), n);
    let seen = poll(
        "Prometheus seeing every request",
        Duration::from_secs(30),
        || {
            let v = prom.query("sum(traffic_watch_requests_total)")?;
            (v == n as f64).then_some(v)
        },
    );
    assert_eq!(seen, n as f64, "{}", prom.log());
    // The same per status class and method, as Prometheus stored them.
    assert_eq!(
        prom.query("sum(traffic_watch_responses_total{status_class=\"2xx\"})"),
        Some(n as f64)
    );
    assert_eq!(
        prom.query("traffic_watch_requests_by_method_total{method=\"GET\"}"),
        Some(n as f64)
    );

    // promtool agrees the exposition is well-formed Prometheus text.
    let body = scrape(metrics).expect("/metrics answers");
    assert_eq!(sum_of(&body, "traffic_watch_requests_total"), n as f64);
    assert_eq!(samples(&body, "traffic_watch_build_info").len(), 1);
    assert!(sum_of(&body, "traffic_watch_capture_packets_total") > 0.0);
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(prom);
    let s = mon.stop();
    assert_eq!(s["requests"], n);
}

#[test]
fn prometheus_scrapes_a_followed_access_log_as_it_grows() {
    // The same without root: an access log followed while lines are appended.
    if !prometheus_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let lines = |from: u32, n: u32| -> String {
        let now = now_secs();
        (from..from + n)
            .map(|i| {
                combined_line(
                    i,
                    now,
                    &format!("/p{}/x", i % 3),
                    200 + (i % 2) as u16 * 300,
                )
            })
            .collect()
    };
    std::fs::write(&path, lines(0, 120)).unwrap();
    let metrics = free_addr();
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
        "--metrics-addr",
        &metrics.to_string(),
    ]);
    tw.wait_stderr("following log", Duration::from_secs(10));
    let prom = Prometheus::start(metrics);
    let query = "sum(traffic_watch_requests_total)";
    poll(
        "Prometheus seeing the first 120",
        Duration::from_secs(30),
        || (prom.query(query)? == 120.0).then_some(()),
    );
    append(&path).write_all(lines(120, 80).as_bytes()).unwrap();
    poll("Prometheus seeing all 200", Duration::from_secs(30), || {
        (prom.query(query)? == 200.0).then_some(())
    });
    assert_eq!(
        prom.query("traffic_watch_responses_total{status_class=\"5xx\"}"),
        Some(100.0),
        "{}",
        prom.log()
    );
    assert_eq!(
        prom.query("traffic_watch_requests_total{section=\"/p0\"}"),
        Some(67.0)
    );
    drop(prom);
    let s = tw.stop();
    assert_eq!(s["requests"], 200);
}

#[test]
fn a_followed_log_is_read_as_nobody_through_its_group_across_a_rotation() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("skipped: dropping to the log's group needs root (CI runs as root)");
        return;
    }
    // /tmp/…/logs (root:4242, 0750) / access.log (root:4242, 0640): readable through the
    // group only, as nginx's logs are through `adm`.
    const GROUP: u32 = 4242;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::os::unix::fs::chown(&logs, Some(0), Some(GROUP)).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o750)).unwrap();
    let path = logs.join("access.log");
    let write_log = |from: u32, n: u32| {
        let now = now_secs();
        let text: String = (from..from + n)
            .map(|i| combined_line(i, now, "/a/b", 200))
            .collect();
        std::fs::write(&path, text).unwrap();
        std::os::unix::fs::chown(&path, Some(0), Some(GROUP)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    };
    write_log(0, 30);
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("with no capabilities", Duration::from_secs(10));
    assert!(
        tw.stderr()
            .contains(&format!("and the log's group {GROUP}")),
        "{}",
        tw.stderr()
    );
    let pid = tw.child.id();
    assert!(!proc_status(pid, "Uid").starts_with('0'), "no longer root");
    assert!(
        proc_status(pid, "Groups")
            .split_whitespace()
            .any(|g| g == GROUP.to_string()),
        "keeps the log's group"
    );
    assert_eq!(proc_status(pid, "CapEff"), "0000000000000000");
    tw.wait_requests(30, Duration::from_secs(20));
    // logrotate's `create 0640 root 4242`: rename, then a new file with the same group.
    std::fs::rename(&path, logs.join("access.log.1")).unwrap();
    write_log(30, 20);
    tw.wait_requests(50, Duration::from_secs(20));
    let s = tw.stop();
    assert_eq!(s["requests"], 50);
}

#[test]
fn a_log_only_root_can_read_is_followed_with_root_kept_and_said_so() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("skipped: needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, combined_line(1, now_secs(), "/x", 200)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("keeping root", Duration::from_secs(10));
    tw.wait_requests(1, Duration::from_secs(20));
    assert_eq!(tw.stop()["requests"], 1);
}

#[test]
fn the_documented_scrape_config_and_alert_rule_pass_promtool() {
    if !prometheus_available() {
        return;
    }
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fleet.md")).unwrap();
    // ```yaml blocks whose first line names the file.
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for block in doc.split("```yaml\n").skip(1) {
        let body = block.split("```").next().unwrap();
        let name = body.lines().next().unwrap().trim_start_matches("# ").trim();
        std::fs::write(dir.path().join(name), body).unwrap();
        written.push(name.to_owned());
    }
    assert_eq!(written, ["prometheus.yml", "traffic-watch.rules.yml"]);
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(dir.path().join("prometheus.yml"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 2 rules found"), "{text}");
}

#[test]
fn demo_accepts_metrics_addr() {
    // A bad profile fails before any capture, so this needs no root: only the flag matters.
    let out = bin()
        .args(["demo", "--metrics-addr", "127.0.0.1:0", "--profile", "bad"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unexpected argument"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 2. Bounded label cardinality after 100,000 distinct sections.
// ---------------------------------------------------------------------------------------------

#[test]
fn metrics_have_at_most_top_n_plus_other_section_series_after_100k_sections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut log = String::with_capacity(12 << 20);
    let t = T0;
    for i in 0..100_000u32 {
        log.push_str(&combined_line(
            i,
            t + u64::from(i / 1000),
            &format!("/s{i}/x"),
            200,
        ));
    }
    // Three hot sections, so the top of the list is not a tie.
    let hot = [("/hot0", 300u64), ("/hot1", 200), ("/hot2", 100)];
    for (name, n) in hot {
        for i in 0..n {
            log.push_str(&combined_line(i as u32, t + 100, &format!("{name}/p"), 200));
        }
    }
    std::fs::write(&path, log).unwrap();
    let total = 100_000 + 600;
    let metrics = free_addr();
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
        "--top",
        "5",
        "--metrics-addr",
        &metrics.to_string(),
    ]);
    let body = poll(
        "/metrics counting every line",
        Duration::from_secs(40),
        || {
            let body = scrape(metrics)?;
            (sum_of(&body, "traffic_watch_requests_total") == total as f64).then_some(body)
        },
    );
    let series = samples(&body, "traffic_watch_requests_total");
    assert!(
        series.len() <= 5 + 1,
        "at most --top 5 sections plus other: {series:?}"
    );
    let get = |label: &str| {
        series
            .iter()
            .find(|(l, _)| l == &format!("section=\"{label}\""))
            .map(|(_, v)| *v)
    };
    assert_eq!(get("/hot0"), Some(300.0));
    assert_eq!(get("/hot1"), Some(200.0));
    assert_eq!(get("/hot2"), Some(100.0));
    let named: f64 = series
        .iter()
        .filter(|(l, _)| l != "section=\"other\"")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(get("other"), Some(total as f64 - named), "{series:?}");
    // Every other labelled family stays small too.
    let all_series = body.lines().filter(|l| !l.starts_with('#')).count();
    assert!(all_series < 100, "{all_series} series in all:\n{body}");
    let s = tw.stop();
    assert_eq!(s["requests"], total);
    assert_eq!(s["counters"]["log_lines"], total);
}

#[test]
fn alerts_triggered_counter_keeps_counting_past_the_kept_history() {
    // One request every other second, window 1 s, threshold 0/s: every request is an alert
    // and the silent second after it a recovery. 1100 alerts, 2200 transitions.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let log: String = (0..1100u32)
        .map(|i| combined_line(i, T0 + 2 * u64::from(i), "/a/b", 200))
        .collect();
    std::fs::write(&path, log).unwrap();
    let metrics = free_addr();
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--summary-only",
        "--window",
        "1s",
        "--threshold",
        "0",
        "--metrics-addr",
        &metrics.to_string(),
    ]);
    let body = poll("every line counted", Duration::from_secs(20), || {
        let body = scrape(metrics)?;
        (sum_of(&body, "traffic_watch_requests_total") == 1100.0).then_some(body)
    });
    let s = tw.stop();
    assert_eq!(s["alerts"], 2200, "transitions in the summary");
    assert_eq!(
        sum_of(&body, "traffic_watch_alerts_triggered_total"),
        1100.0,
        "a counter of every alert triggered"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Following a log through rotation.
// ---------------------------------------------------------------------------------------------

/// Writes lines like a web server: batches of 10 every 10 ms (about 1000 lines/s) to whatever
/// file the test hands it, counting what was written.
struct Writer {
    file: Arc<Mutex<std::fs::File>>,
    written: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn append(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

impl Writer {
    fn start(path: &Path) -> Writer {
        let file = Arc::new(Mutex::new(append(path)));
        let written = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (file, written, stop) =
                (Arc::clone(&file), Arc::clone(&written), Arc::clone(&stop));
            std::thread::spawn(move || {
                let sections = ["/", "/api", "/pages", "/static", "/report"];
                while !stop.load(Ordering::Relaxed) {
                    {
                        let mut f = file.lock().unwrap();
                        let n = written.load(Ordering::Relaxed);
                        let now = now_secs();
                        let batch: String = (n..n + 10)
                            .map(|i| {
                                let s = sections[(i % 5) as usize];
                                combined_line(i as u32, now, &format!("{s}/item{i}"), 200)
                            })
                            .collect();
                        f.write_all(batch.as_bytes()).unwrap();
                        written.store(n + 10, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Writer {
            file,
            written,
            stop,
            thread: Some(thread),
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.written()
    }
}

#[test]
fn log_follow_through_rotations_counts_every_line_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, "").unwrap();
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("following log", Duration::from_secs(10));
    let w = Writer::start(&path);
    // About a second of writing between rotations, so the follower has seen each one (it
    // polls every 100 ms) before the next.
    let write_a_while = || std::thread::sleep(Duration::from_secs(1));

    // logrotate's default: rename, create a new file, the server reopens its log.
    write_a_while();
    {
        let mut f = w.file.lock().unwrap();
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        *f = append(&path);
    }
    // copytruncate. Lines written between the copy and the truncation would be in the copy
    // only (tail -F loses them too), so the writer pauses and the follower catches up first.
    write_a_while();
    {
        let f = w.file.lock().unwrap();
        let n = w.written();
        tw.wait_requests(n, Duration::from_secs(10));
        std::fs::copy(&path, dir.path().join("access.log.2")).unwrap();
        f.set_len(0).unwrap();
    }
    // Deleted and recreated.
    write_a_while();
    {
        let mut f = w.file.lock().unwrap();
        std::fs::remove_file(&path).unwrap();
        *f = append(&path);
    }
    write_a_while();
    let written = w.finish();
    assert!(written >= 2500, "about 1000 lines/s for 4 s: {written}");
    tw.wait_requests(written, Duration::from_secs(15));
    let s = tw.stop();
    assert_eq!(s["requests"], written, "{s}");
    assert_eq!(s["counters"]["log_lines"], written);
    assert_eq!(s["counters"]["log_bad_lines"], 0);
    assert_eq!(s["counters"]["log_rotations"], 3, "{}", s["counters"]);
    assert_eq!(s["status"]["2xx"], written);
}

#[test]
fn log_follow_waits_for_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("following log", Duration::from_secs(10));
    // It is waiting, not failing.
    tw.wait_for("a first report", Duration::from_secs(5), |v| {
        v["type"] == "report" && v["requests"] == 0
    });
    let now = now_secs();
    let lines: String = (0..50)
        .map(|i| combined_line(i, now, "/late/x", 404))
        .collect();
    std::fs::write(&path, lines).unwrap();
    tw.wait_requests(50, Duration::from_secs(10));
    let s = tw.stop();
    assert_eq!(s["requests"], 50);
    assert_eq!(s["status"]["4xx"], 50);
    assert_eq!(s["counters"]["log_rotations"], 1, "appearing counts once");
}

#[test]
fn log_follow_reads_a_truncated_file_before_switching_to_its_replacement() {
    // copytruncate, five lines written to the emptied file, then (within one 100 ms poll)
    // the file is replaced: the five lines are in the old file and must still be read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let now = now_secs();
    let batch = |from: u32| -> String {
        (from..from + 5)
            .map(|i| combined_line(i, now, "/t/x", 200))
            .collect()
    };
    std::fs::write(&path, batch(0).repeat(20)).unwrap();
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_requests(100, Duration::from_secs(10));
    let mut f = append(&path);
    f.set_len(0).unwrap();
    f.write_all(batch(100).as_bytes()).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, batch(105)).unwrap();
    tw.wait_for("a report", Duration::from_secs(5), |v| {
        v["type"] == "report"
    });
    let s = tw.stop();
    assert_eq!(s["requests"], 110, "{}", s["counters"]);
    assert_eq!(s["counters"]["log_rotations"], 2);
}

// ---------------------------------------------------------------------------------------------
// 4. Standard input.
// ---------------------------------------------------------------------------------------------

fn n_lines(n: u32) -> String {
    (0..n)
        .map(|i| combined_line(i, T0 + u64::from(i / 50), &format!("/in{}/x", i % 4), 200))
        .collect()
}

#[test]
fn log_from_standard_input_offline_counts_every_line() {
    let out = bin()
        .args(["--log", "-", "--json", "--no-follow"])
        .write_stdin(n_lines(500))
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["requests"], 500);
    assert_eq!(s["source"], "standard input (combined)");
    assert_eq!(s["counters"]["log_lines"], 500);
    assert_eq!(
        crate::util::sections_string(&s),
        "/in0=125;/in1=125;/in2=125;/in3=125"
    );
    assert_eq!(s["first"], Timestamp::from_secs(T0).rfc3339_utc());
    assert_eq!(s["last"], Timestamp::from_secs(T0 + 9).rfc3339_utc());
}

#[test]
fn log_from_a_pipe_streams_and_ends_at_end_of_input() {
    // `tail -f access.log | traffic-watch --log -`: lines are counted as they arrive, and the
    // run ends by itself (with its summary) when the writer closes the pipe.
    let mut tw = Tw::spawn_with(
        &["--log", "-", "--json", "--interval", "1s"],
        Stdio::piped(),
    );
    let mut stdin = tw.child.stdin.take().unwrap();
    let all = n_lines(500);
    let (first, second) = all.split_at(all.match_indices('\n').nth(249).unwrap().0 + 1);
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    tw.wait_requests(250, Duration::from_secs(10));
    stdin.write_all(second.as_bytes()).unwrap();
    drop(stdin);
    let s = tw.wait_for("summary at end of input", Duration::from_secs(10), |v| {
        v["type"] == "summary"
    });
    assert_eq!(s["requests"], 500);
    assert_eq!(s["counters"]["log_lines"], 500);
    let status = tw.child.wait().unwrap();
    assert!(status.success());
}

// ---------------------------------------------------------------------------------------------
// 5. An offline log with a spike: alert and recovery at the log's own times.
// ---------------------------------------------------------------------------------------------

#[test]
fn offline_log_spike_alerts_and_recovers_at_the_times_the_log_says() {
    let per_second = spike_profile();
    let expected = expected_alerts(&per_second, 20, 5.0);
    assert_eq!(
        expected.iter().map(|e| (e.0, e.1 - T0)).collect::<Vec<_>>(),
        vec![("triggered", 32), ("recovered", 57)],
        "the scenario itself"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, spike_log(&per_second)).unwrap();
    let out = bin()
        .arg("--log")
        .arg(&path)
        .args([
            "--no-follow",
            "--json",
            "--window",
            "20s",
            "--threshold",
            "5",
        ])
        .args(["--log-format", "combined"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let alerts: Vec<(String, String, u64)> = lines
        .iter()
        .filter(|l| l["type"] == "alert")
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["time"].as_str().unwrap().to_owned(),
                l["hits"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = expected
        .iter()
        .map(|(k, t, h)| ((*k).to_owned(), Timestamp::from_secs(*t).rfc3339_utc(), *h))
        .collect();
    assert_eq!(alerts, want);
    // The +0200 in the log is honoured: 06:00:32Z is 08:00:32 local.
    assert_eq!(alerts[0].1, "2026-11-24T06:00:32Z");
    let trig = lines.iter().find(|l| l["kind"] == "triggered").unwrap();
    assert_eq!(
        trig["message"],
        format!(
            "High traffic generated an alert - hits = {}, triggered at 2026-11-24T06:00:32Z",
            expected[0].2
        )
    );
    let s = lines.last().unwrap();
    assert_eq!(s["type"], "summary");
    let total: u64 = per_second.iter().sum();
    assert_eq!(s["requests"], total);
    assert_eq!(s["alerts"], 2);
    assert_eq!(s["first"], "2026-11-24T06:00:00Z");
    assert_eq!(s["last"], "2026-11-24T06:01:39Z");
    // The same log read as `common` (it ignores the referer and agent) gives the same alerts.
    let common = bin()
        .arg("--log")
        .arg(&path)
        .args([
            "--no-follow",
            "--json",
            "--window",
            "20s",
            "--threshold",
            "5",
        ])
        .args(["--log-format", "common"])
        .output()
        .unwrap();
    let n = json_lines(&common)
        .iter()
        .filter(|l| l["type"] == "alert")
        .count();
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------------------------------------
// 6. Bad input.
// ---------------------------------------------------------------------------------------------

fn offline(path: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("--log")
        .arg(path)
        .args(["--no-follow", "--json"])
        .args(extra)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

/// Exit code 2 and exactly one line on stderr, containing every `needle`.
fn one_line_error(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{n:?} in {err:?}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn garbage_binary_and_long_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // Good lines, garbage, invalid UTF-8 in a good line, a line over 16 KiB.
    let mut log: Vec<u8> = Vec::new();
    for i in 0..10 {
        log.extend_from_slice(combined_line(i, T0 + u64::from(i), "/ok/x", 200).as_bytes());
    }
    for g in [
        "garbage",
        "",
        "127.0.0.1 - - [not a time] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
        "127.0.0.1 - - [24/Nov/2026:06:00:00 +0000] \"-\" 400 0 \"-\" \"-\"",
        "127.0.0.1 - - [24/Nov/2026:06:00:00 +0000] \"GET / HTTP/1.1\" abc 1 \"-\" \"-\"",
    ] {
        log.extend_from_slice(g.as_bytes());
        log.push(b'\n');
    }
    log.extend_from_slice(b"192.0.2.9 - - [24/Nov/2026:06:00:11 +0000] \"GET /caf\xe9/\xff HTTP/1.1\" 200 1 \"-\" \"\xfe\"\n");
    log.extend_from_slice(format!("{}\n", "x".repeat(20_000)).as_bytes());
    let p = dir.path().join("mixed.log");
    std::fs::write(&p, &log).unwrap();
    let out = offline(&p, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    // The `"-" 400` line is a request nginx answered: counted, as malformed.
    assert_eq!(s["requests"], 12, "{s}");
    let c = &s["counters"];
    assert_eq!(c["log_lines"], 17, "{c}");
    assert_eq!(c["log_bad_lines"], 5, "{c}");
    assert_eq!(c["log_long_lines"], 1, "{c}");

    // A binary file: every "line" is bad, nothing is fatal, memory stays bounded.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let p = dir.path().join("binary.log");
    std::fs::write(&p, &bytes).unwrap();
    // `auto` reads no layout in it: an error showing its first line, not `requests: 0`.
    one_line_error(&offline(&p, &[]), &["binary.log", "its first line"]);
    let out = offline(&p, &["--log-format", "combined"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["requests"], 0);
    let c = &s["counters"];
    assert!(c["log_lines"].as_u64().unwrap() > 100, "{c}");
    assert_eq!(c["log_bad_lines"], c["log_lines"], "{c}");
}

#[test]
fn missing_file_directory_and_unknown_format_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.log");
    one_line_error(
        &offline(&missing, &[]),
        &["cannot read log", "nope.log", "no such file"],
    );
    one_line_error(
        &offline(dir.path(), &[]),
        &["cannot read log", "it is a directory"],
    );
    // Following a directory is no better.
    let out = bin()
        .arg("--log")
        .arg(dir.path())
        .arg("--json")
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    one_line_error(&out, &["cannot read log", "it is a directory"]);
    let p = dir.path().join("a.log");
    std::fs::write(&p, n_lines(3)).unwrap();
    let out = offline(&p, &["--log-format", "weird"]);
    one_line_error(&out, &["unknown log format 'weird'", "combined", "common"]);
    // --log and -r are two inputs: clap's usage error (2), not a run.
    let out = bin()
        .arg("--log")
        .arg(&p)
        .args(["-r", "x.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// 7. Alert hooks.
// ---------------------------------------------------------------------------------------------

/// What the test webhook listener saw.
#[derive(Debug)]
enum HookEvent {
    /// A request: its head and JSON body.
    Post(String, Value),
    /// A connection the listener never answered was closed by the client.
    GaveUp,
}

/// An HTTP listener on loopback for `--alert-webhook`. Connections numbered in `hang` get no
/// answer (the listener reads until the client gives up); the others get `204 No Content`.
fn webhook_listener(hang: &'static [usize]) -> (SocketAddr, Receiver<HookEvent>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let tx: Sender<HookEvent> = tx.clone();
            std::thread::spawn(move || handle_hook(stream, hang.contains(&i), &tx));
        }
    });
    (addr, rx)
}

fn handle_hook(mut s: TcpStream, hang: bool, tx: &Sender<HookEvent>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head, body) = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= i + 4 + len {
                break (head, buf[i + 4..i + 4 + len].to_vec());
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = tx.send(HookEvent::Post(head, body));
    if hang {
        // Never answer; notice when traffic-watch gives up on us.
        while matches!(s.read(&mut chunk), Ok(n) if n > 0) {}
        let _ = tx.send(HookEvent::GaveUp);
    } else {
        let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    }
}

/// The spike of [`spike_profile`] as a capture: one keep-alive connection, GET /spike.
fn spike_capture(path: &Path) {
    let mut c = Conversation::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    let start = c.ts;
    let mut frames = c.handshake();
    for (s, n) in spike_profile().iter().enumerate() {
        for k in 0..*n {
            let t = s as f64 + k as f64 / *n as f64;
            c.ts = start.plus(Duration::from_secs_f64(t + 0.5));
            frames.push(c.send(Side::Client, b"GET /spike HTTP/1.1\r\nHost: x\r\n\r\n"));
            frames.push(c.send(
                Side::Server,
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ));
        }
    }
    let file = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(file), LinkType::Ethernet).unwrap();
    w.write_all(&frames).unwrap();
    w.into_inner().flush().unwrap();
}

fn record_script() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/support/record_alert.sh"
    )
}

#[test]
fn replay_alert_and_recovery_reach_the_webhook_and_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("spike.pcap");
    spike_capture(&pcap);
    let (addr, posts) = webhook_listener(&[]);
    // Started as root, traffic-watch drops to 'nobody' once the file is open, and its hooks
    // run as that user: the record must be writable by it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let record = dir.path().join("alerts.txt");
    // The second argument must reach the script as written: no shell expands it.
    let exec = format!("{} {} $HOME;`id`", record_script(), record.display());
    let out = bin()
        .arg("-r")
        .arg(&pcap)
        .args(["--json", "--window", "20s", "--threshold", "5"])
        .args(["--alert-webhook", &format!("http://{addr}/hook?team=web")])
        .args(["--alert-exec", &exec])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let alerts: Vec<&Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert_eq!(alerts.len(), 2, "{lines:?}");
    assert_eq!(
        (&alerts[0]["kind"], &alerts[1]["kind"]),
        (&Value::from("triggered"), &Value::from("recovered"))
    );

    // The webhook: two JSON POSTs, in order, with the alert messages as `text`.
    let mut got = Vec::new();
    while got.len() < 2 {
        match posts.recv_timeout(Duration::from_secs(10)) {
            Ok(HookEvent::Post(head, body)) => got.push((head, body)),
            Ok(HookEvent::GaveUp) => {}
            Err(_) => panic!("webhook got {} of 2 posts", got.len()),
        }
    }
    for ((head, body), alert) in got.iter().zip(&alerts) {
        assert!(
            head.starts_with("POST /hook?team=web HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        assert_eq!(body["text"], alert["message"], "{body}");
        assert_eq!(body["content"], alert["message"]);
        assert_eq!(body["kind"], alert["kind"]);
        assert_eq!(body["hits"], alert["hits"]);
        assert_eq!(body["time"], alert["time"]);
        assert_eq!(body["lower_bound"], false);
    }
    assert!(
        posts.recv_timeout(Duration::from_millis(300)).is_err(),
        "no third POST"
    );

    // The command ran twice, with the alert in its environment and its arguments untouched.
    let text = std::fs::read_to_string(&record).expect("the hook script ran");
    let runs: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(runs.len(), 2, "{text}");
    for (run, alert) in runs.iter().zip(&alerts) {
        assert_eq!(run[0], alert["kind"].as_str().unwrap());
        assert_eq!(run[1], alert["hits"].to_string());
        assert_eq!(run[2], alert["time"].as_str().unwrap());
        assert_eq!(run[3], "false");
        assert_eq!(run[4], alert["message"].as_str().unwrap());
        assert_eq!(run[5], "2", "two arguments");
        assert_eq!(
            run[6], "$HOME;`id`",
            "passed as written, not through a shell"
        );
    }
}

#[test]
fn replay_summary_counts_the_hook_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("spike.pcap");
    spike_capture(&pcap);
    let (addr, _posts) = webhook_listener(&[]);
    let out = bin()
        .arg("-r")
        .arg(&pcap)
        .args(["--json", "--window", "20s", "--threshold", "5"])
        .args(["--alert-webhook", &format!("http://{addr}/")])
        .args(["--alert-exec", "/bin/false"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let s = summary(&out);
    // Two events, each delivered to the webhook and failed by the command.
    assert_eq!(s["counters"]["hooks_delivered"], 2, "{}", s["counters"]);
    assert_eq!(s["counters"]["hooks_failed"], 2, "{}", s["counters"]);
}

#[test]
fn a_hanging_webhook_does_not_hold_up_a_followed_log_and_is_counted_as_failed() {
    // The spike log followed live: the alert fires while the backlog is read, the webhook
    // never answers its first request; reports keep coming every second meanwhile, and once
    // the hook's time limit has passed its failure is in the summary.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, spike_log(&spike_profile())).unwrap();
    let (addr, events) = webhook_listener(&[0]);
    let mut tw = Tw::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
        "--window",
        "20s",
        "--threshold",
        "5",
        "--alert-webhook",
        &format!("http://{addr}/"),
    ]);
    tw.wait_for("the alert", Duration::from_secs(10), |v| {
        v["type"] == "alert" && v["kind"] == "triggered"
    });
    match events.recv_timeout(Duration::from_secs(10)) {
        Ok(HookEvent::Post(_, body)) => assert_eq!(body["kind"], "triggered"),
        other => panic!("webhook: {other:?}"),
    }
    let hung_at = Instant::now();
    // While the hook hangs, the loop goes on: reports every second.
    let mut reports = 0;
    let gave_up = loop {
        if let Ok(HookEvent::GaveUp) = events.try_recv() {
            break Instant::now();
        }
        if let Ok(v) = tw.lines.recv_timeout(Duration::from_millis(100))
            && v["type"] == "report"
        {
            reports += 1;
        }
        assert!(
            hung_at.elapsed() < Duration::from_secs(15),
            "the hook was never given up"
        );
    };
    let waited = gave_up - hung_at;
    assert!(
        waited >= Duration::from_secs(4),
        "given up at the 5 s limit, not before: {waited:?}"
    );
    assert!(
        reports >= 3,
        "reports kept coming while the hook hung: {reports}"
    );
    // One more report, so the failure has certainly been counted, then stop.
    tw.wait_for("a report", Duration::from_secs(5), |v| {
        v["type"] == "report"
    });
    let s = tw.stop();
    let c = &s["counters"];
    assert!(c["hooks_failed"].as_u64().unwrap() >= 1, "{c}");
    assert_eq!(s["requests"], spike_profile().iter().sum::<u64>());
}

#[test]
fn a_hanging_webhook_does_not_hold_up_replay_output() {
    // Replay prints reports and alerts at full speed; before its summary it waits a bounded
    // time (the hook time limit plus 1 s) for hooks in flight, so the summary's hook counters
    // are final, then abandons what is left.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("spike.pcap");
    spike_capture(&pcap);
    let (addr, events) = webhook_listener(&[0, 1, 2, 3]);
    let started = Instant::now();
    let mut tw = Tw::spawn(&[
        "-r",
        pcap.to_str().unwrap(),
        "--json",
        "--window",
        "20s",
        "--threshold",
        "5",
        "--alert-webhook",
        &format!("http://{addr}/"),
    ]);
    let s = tw.wait_for("summary", Duration::from_secs(20), |v| {
        v["type"] == "summary"
    });
    let summary_after = started.elapsed();
    assert!(
        summary_after < Duration::from_secs(9),
        "the summary waited at most the hook limit plus 1 s: {summary_after:?}"
    );
    assert_eq!(s["alerts"], 2);
    assert!(
        s["counters"]["hooks_failed"].as_u64().unwrap() >= 1,
        "{}",
        s["counters"]
    );
    let status = poll("exit", Duration::from_secs(15), || {
        tw.child.try_wait().unwrap()
    });
    assert!(status.success());
    let exited_after = started.elapsed();
    assert!(
        exited_after < Duration::from_secs(9),
        "bounded wait for hooks at exit: {exited_after:?}"
    );
    // The hook did get the alert (and was left hanging).
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(1)),
        Ok(HookEvent::Post(..))
    ));
}
