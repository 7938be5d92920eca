//! The Prometheus exposition and its listener, through the library API: series names, values
//! and labels of a hand-built snapshot, bounded section cardinality, hostile labels, `promtool
//! check metrics`, and a real Prometheus server scraping a `MetricsServer` on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use traffic_watch::export::SnapshotSlot;
use traffic_watch::export::prometheus::{MetricsServer, render};
use traffic_watch::flow::FlowCounters;
use traffic_watch::stats::{Health, Snapshot};

use super::{PROMETHEUS, PROMTOOL, Prometheus};
use crate::util::{eventually, require_program};

fn snapshot() -> Snapshot {
    Snapshot {
        requests: 1234,
        responses: 1200,
        request_bytes: 98_765,
        response_bytes: 5_000_000,
        window_secs: 120,
        window_hits: 2400,
        window_avg: 20.0,
        threshold_rate: 10.0,
        alert_active: true,
        sections: vec![
            ("/api".into(), 1000),
            ("/static".into(), 200),
            ("/(other)".into(), 30),
            ("/x".into(), 4),
        ],
        methods: vec![("GET".into(), 1200), ("POST".into(), 34)],
        status_classes: [1, 0, 1100, 50, 40, 9],
        non_http: [3, 1, 0],
        health: Health {
            packets: 50_000,
            undecoded: vec![("truncated", 7), ("unsupported", 2)],
            flow: FlowCounters {
                evicted_flows: 5,
                expired_flows: 6,
                gaps_skipped: 7,
                heads_cut: 4,
                malformed: [3, 0, 2, 0],
                ..FlowCounters::default()
            },
            kernel_dropped: Some(11),
            queue_dropped: 12,
            ..Health::default()
        },
        ..Snapshot::default()
    }
}

fn line(text: &str, start: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{text}"))
        .to_owned()
}

#[test]
fn series_names_values_and_labels() {
    let t = render(&snapshot(), 2);
    assert!(t.contains("# TYPE traffic_watch_requests_total counter\n"));
    assert!(!t.contains("# EOF"), "classic text format, not OpenMetrics");
    assert_eq!(
        line(&t, "traffic_watch_requests_total{section=\"/api\"}"),
        "traffic_watch_requests_total{section=\"/api\"} 1000"
    );
    assert_eq!(
        line(&t, "traffic_watch_requests_total{section=\"/static\"}"),
        "traffic_watch_requests_total{section=\"/static\"} 200"
    );
    assert_eq!(
        line(&t, "traffic_watch_requests_total{section=\"other\"}"),
        "traffic_watch_requests_total{section=\"other\"} 34"
    );
    assert!(!t.contains("section=\"/x\""));
    assert!(t.contains("traffic_watch_requests_by_method_total{method=\"GET\"} 1200\n"));
    assert!(t.contains("traffic_watch_requests_by_method_total{method=\"POST\"} 34\n"));
    assert!(t.contains("traffic_watch_responses_total{status_class=\"2xx\"} 1100\n"));
    assert!(t.contains("traffic_watch_responses_total{status_class=\"5xx\"} 9\n"));
    assert!(t.contains("traffic_watch_responses_total{status_class=\"other\"} 1\n"));
    assert!(t.contains("traffic_watch_request_bytes_total 98765\n"));
    assert!(t.contains("traffic_watch_response_bytes_total 5000000\n"));
    assert!(t.contains("traffic_watch_alert_active 1.0\n"));
    assert!(t.contains("traffic_watch_alert_threshold_requests_per_second 10.0\n"));
    assert!(t.contains("traffic_watch_window_average_requests_per_second 20.0\n"));
    assert!(t.contains("traffic_watch_window_requests 2400.0\n"));
    assert!(t.contains("traffic_watch_capture_packets_total 50000\n"));
    assert!(t.contains("traffic_watch_kernel_dropped_packets_total 11\n"));
    assert!(
        !t.contains("interface_dropped"),
        "absent counters are not invented"
    );
    assert!(t.contains("traffic_watch_queue_dropped_packets_total 12\n"));
    assert!(t.contains("traffic_watch_undecoded_packets_total{reason=\"truncated\"} 7\n"));
    assert!(t.contains("traffic_watch_flow_evictions_total 5\n"));
    assert!(t.contains("traffic_watch_flow_expirations_total 6\n"));
    assert!(t.contains("traffic_watch_flow_gaps_total 7\n"));
    assert!(t.contains("traffic_watch_flow_heads_cut_total 4\n"));
    assert!(t.contains("traffic_watch_malformed_requests_total{reason=\"request_line\"} 3\n"));
    assert!(t.contains("traffic_watch_malformed_requests_total{reason=\"header_line\"} 2\n"));
    assert!(t.contains("traffic_watch_malformed_requests_total{reason=\"version\"} 0\n"));
    assert!(t.contains("traffic_watch_non_http_connections_total{kind=\"tls\"} 3\n"));
    assert!(t.contains(&format!(
        "traffic_watch_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn section_series_are_bounded_with_100k_sections() {
    let mut s = Snapshot::default();
    s.sections = (0..100_000u64)
        .map(|i| (format!("/s{i}"), 1 + i % 997))
        .collect();
    s.requests = s.sections.iter().map(|(_, n)| n).sum();
    let t = render(&s, 10);
    let series: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("traffic_watch_requests_total{"))
        .collect();
    assert_eq!(series.len(), 11, "top 10 + other");
    assert!(series.iter().any(|l| l.contains("section=\"other\"")));
    let sum: u64 = series
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, s.requests, "the section series add up to the total");
}

#[test]
fn hostile_section_label_is_escaped() {
    let s = Snapshot {
        sections: vec![("/a\"} 1\nevil_total 9\n\u{1b}[2J\\".into(), 3)],
        requests: 3,
        ..Snapshot::default()
    };
    let t = render(&s, 10);
    assert!(!t.lines().any(|l| l.starts_with("evil")), "{t}");
    assert!(!t.contains('\u{1b}'));
    let l = line(&t, "traffic_watch_requests_total{section=\"/a");
    // Our escape makes controls visible, then the exposition escapes `"` and `\`.
    assert_eq!(
        l,
        r#"traffic_watch_requests_total{section="/a\"} 1\\x0aevil_total 9\\x0a\\x1b[2J\\\\"} 3"#
    );
}

#[test]
#[ignore = "needs promtool"]
fn promtool_accepts_the_exposition() {
    require_program(PROMTOOL);
    let mut s = snapshot();
    s.sections.push(("/weird\"\\\n\u{202e}".into(), 2));
    s.latency = Some(traffic_watch::stats::Percentiles {
        p50: Duration::from_millis(3),
        p90: Duration::from_millis(30),
        p99: Duration::from_millis(300),
    });
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(render(&s, 10).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn server_serves_metrics_and_404_elsewhere() {
    let slot = SnapshotSlot::new();
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), slot.clone(), 10).unwrap();
    let before = get(server.addr(), "/metrics");
    assert!(before.starts_with("HTTP/1.1 200 OK\r\n"), "{before}");
    assert!(before.contains("traffic_watch_requests_total{section=\"other\"} 0\n"));
    slot.publish(snapshot());
    let after = get(server.addr(), "/metrics");
    assert!(after.contains("traffic_watch_requests_total{section=\"/api\"} 1000\n"));
    assert!(after.contains("Content-Type: text/plain; version=0.0.4"));
    let mut s = TcpStream::connect(server.addr()).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n"
    )
    .unwrap();
    let mut om = String::new();
    s.read_to_string(&mut om).unwrap();
    assert!(
        om.contains("Content-Type: application/openmetrics-text"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(get(server.addr(), "/").starts_with("HTTP/1.1 404"));
    assert!(get(server.addr(), "/metricsx").starts_with("HTTP/1.1 404"));
}

#[test]
fn busy_address_is_a_one_line_error_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = MetricsServer::start(addr, SnapshotSlot::new(), 10)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        format!("cannot listen on '{addr}' for metrics: address already in use")
    );
}

#[test]
#[ignore = "needs prometheus"]
fn real_prometheus_scrapes_the_request_count() {
    require_program(PROMETHEUS);
    let slot = SnapshotSlot::new();
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), slot.clone(), 10).unwrap();
    assert!(server.addr().ip().is_loopback());
    slot.publish(snapshot());
    let prom = Prometheus::start(server.addr());
    let seen = eventually(Duration::from_secs(20), || {
        prom.query("sum(traffic_watch_requests_total)") == Some(1234.0)
    });
    assert!(
        seen,
        "Prometheus never reported 1234; log tail:\n{}",
        prom.log()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
