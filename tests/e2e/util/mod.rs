pub mod access_log;
pub mod child;
pub mod poll;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use traffic_watch::demo::load::{self, LoadConfig, Phase, Target};
use traffic_watch::demo::serve::{self, ServeConfig};

pub use child::{KillOnDrop, Monitor};
pub use poll::{eventually, poll};

pub fn bin() -> Command {
    Command::cargo_bin("traffic-watch").expect("binary built")
}

/// `../shared/data` beside the repo, when it is there.
pub fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("EXPECTED.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: ../shared/data absent");
        None
    }
}

/// Every NDJSON line of stdout.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The `summary` object, which must be the last line.
pub fn summary(out: &Output) -> Value {
    let lines = json_lines(out);
    let last = lines.last().cloned().expect("some output");
    assert_eq!(last["type"], "summary", "last line is the summary");
    last
}

/// `section=hits;…` sorted by section, as in EXPECTED.tsv.
pub fn sections_string(summary: &Value) -> String {
    let mut v: Vec<(String, u64)> = summary["sections"]
        .as_array()
        .expect("sections array")
        .iter()
        .map(|s| {
            (
                s["section"].as_str().unwrap_or("").to_owned(),
                s["hits"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v.iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect::<Vec<_>>()
        .join(";")
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// `Key:\tvalue` from /proc/<pid>/status.
pub fn proc_status(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .map(|v| v.trim_start_matches(':').trim().to_owned())
        })
        .unwrap_or_default()
}

/// Writes `frames` as a classic pcap file of link type `link`.
pub fn write_pcap(
    path: &std::path::Path,
    link: traffic_watch::decode::LinkType,
    frames: &[traffic_watch::synth::Frame],
) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = traffic_watch::synth::PcapWriter::new(std::io::BufWriter::new(file), link).unwrap();
    w.write_all(frames).unwrap();
}

/// Hits of one section in a summary, 0 when it is absent.
pub fn section_hits(summary: &Value, name: &str) -> u64 {
    summary["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["section"] == name)
        .map_or(0, |s| s["hits"].as_u64().unwrap_or(0))
}

/// A loopback address with a port nobody listens on right now.
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    free_addr().port()
}

/// For `#[ignore = "needs root"]` tests: a clear failure when `--ignored` runs them without
/// capture rights.
pub fn require_root() {
    assert!(
        is_root(),
        "needs root or CAP_NET_RAW: run as root, or without --ignored"
    );
}

/// For `#[ignore = "needs …"]` tests: a clear failure when `--ignored` runs them without the
/// program (scripts/test.sh installs it in CI).
pub fn require_program(path: &str) {
    assert!(
        std::path::Path::new(path).exists(),
        "needs {path}: scripts/test.sh installs it as root with CI=true"
    );
}

/// The built-in HTTP server on a free loopback port.
pub fn server() -> serve::ServerHandle {
    serve::start(ServeConfig {
        port: 0,
        ..ServeConfig::default()
    })
    .unwrap()
}

/// Sends `rate` requests/s for `secs` seconds to loopback `port`; the report of what was sent.
pub fn load(
    port: u16,
    rate: f64,
    secs: f64,
    keep_alive: bool,
    connections: usize,
) -> load::LoadReport {
    let config = LoadConfig {
        target: Target {
            host: "127.0.0.1".into(),
            port,
        },
        profile: vec![Phase {
            rate,
            duration: Duration::from_secs_f64(secs),
        }],
        connections,
        keep_alive,
        ..LoadConfig::default()
    };
    load::run(config, false).unwrap()
}
