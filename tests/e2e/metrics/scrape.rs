//! Through the binary, as a user runs it: a real Prometheus server scrapes live capture and a
//! followed access log; the documented config passes promtool; label cardinality stays bounded.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use traffic_watch::demo::serve::{self, ServeConfig};

use crate::util::access_log::*;
use crate::util::*;

use super::{PROMETHEUS, PROMTOOL, Prometheus, http_get};

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

#[test]
#[ignore = "needs root and prometheus"]
fn prometheus_scrapes_live_capture_and_sees_what_it_counted() {
    require_root();
    require_program(PROMETHEUS);
    let srv = serve::start(ServeConfig {
        port: 0,
        ..ServeConfig::default()
    })
    .unwrap();
    let port = srv.addr().port().to_string();
    let metrics = free_addr();
    let metrics_arg = metrics.to_string();
    let mut mon = Monitor::spawn(&[
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
    let r = load(srv.addr().port(), 150.0, 1.5, true, 2);
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
    let mut check = Command::new(PROMTOOL)
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
#[ignore = "needs prometheus"]
fn prometheus_scrapes_a_followed_access_log_as_it_grows() {
    // The same without root: an access log followed while lines are appended.
    require_program(PROMETHEUS);
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
    let mut tw = Monitor::spawn(&[
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
#[ignore = "needs promtool"]
fn the_documented_scrape_config_and_alert_rule_pass_promtool() {
    require_program(PROMTOOL);
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
    let out = Command::new(PROMTOOL)
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
// Bounded label cardinality after 100,000 distinct sections.
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
    let mut tw = Monitor::spawn(&[
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
    let mut tw = Monitor::spawn(&[
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
