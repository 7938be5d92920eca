//! Routes end to end: `-r` on a generated capture (HTTP/1 and h2c), `--log` on an access log,
//! `--routes` with a pattern list mapping word-like ids, and bad `--routes` files. Paths are
//! chosen so that their template is unambiguous (numbers, UUIDs), so the counts are exact
//! whatever the inference does with word-like segments.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use traffic_watch::decode::LinkType;
use traffic_watch::synth::h2::{self, Block};
use traffic_watch::synth::{Conversation, Frame, Side};
use traffic_watch::time::Timestamp;

use crate::util::{bin, summary, write_pcap};

const UUIDS: [&str; 3] = [
    "123e4567-e89b-12d3-a456-426614174000",
    "9b2f0c1e-5d4a-4b7e-8f3a-0c1d2e3f4a5b",
    "00000000-0000-4000-8000-000000000001",
];

/// (target, status) of every HTTP/1 request in the capture, in order.
fn http1_requests() -> Vec<(String, u16)> {
    let mut v = Vec::new();
    for i in 0..6 {
        v.push((format!("/users/{}", 40 + i), 200));
    }
    for i in 0..4 {
        v.push((format!("/users/{}/repos?page={i}", 7 + i), 200));
    }
    for (i, u) in UUIDS.iter().enumerate() {
        v.push((format!("/orders/{u}"), if i == 0 { 500 } else { 200 }));
    }
    v.push((
        "http://shop.example/orders/3b9ac9ff3b9ac9ff3b9a".to_owned(),
        503,
    ));
    v.push(("/health".to_owned(), 200));
    v.push(("/health?probe=1".to_owned(), 200));
    v
}

/// `(route, hits)` sorted, from a summary's `routes`.
fn routes(s: &Value) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = s["routes"]
        .as_array()
        .expect("routes array")
        .iter()
        .map(|r| {
            (
                r["route"].as_str().unwrap_or("").to_owned(),
                r["hits"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn route<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["routes"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["route"] == name))
        .unwrap_or_else(|| panic!("no route {name} in {}", s["routes"]))
}

fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
}

/// One keep-alive HTTP/1.1 connection with `requests` 200 ms apart, each answered 1 ms later,
/// then one h2c connection with two streams.
fn capture(requests: &[(String, u16)]) -> Vec<Frame> {
    let mut c = Conversation::new(
        "10.0.0.1:40000".parse::<SocketAddr>().unwrap(),
        "10.0.0.2:8080".parse().unwrap(),
    );
    let mut frames = c.handshake();
    for (target, status) in requests {
        c.ts = Timestamp::from_micros(c.ts.micros() + 200_000);
        let req = format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
        frames.push(c.send(Side::Client, req.as_bytes()));
        c.ts = Timestamp::from_micros(c.ts.micros() + 1_000);
        let resp = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
        frames.push(c.send(Side::Server, resp.as_bytes()));
    }
    frames.extend(c.close());

    let mut h = Conversation::new(
        "10.0.0.1:40001".parse::<SocketAddr>().unwrap(),
        "10.0.0.2:8080".parse().unwrap(),
    );
    h.ts = c.ts;
    frames.extend(h.handshake());
    frames.push(h.send(Side::Client, &[h2::PREFACE, &h2::settings(false)].concat()));
    frames.push(h.send(
        Side::Server,
        &[h2::settings(false), h2::settings(true)].concat(),
    ));
    frames.push(h.send(Side::Client, &h2::settings(true)));
    frames.push(h.send(
        Side::Client,
        &Block::get("/users/99?tab=stars").headers(1, true),
    ));
    frames.push(h.send(
        Side::Client,
        &Block::get(&format!("/orders/{}", UUIDS[1])).headers(3, true),
    ));
    frames.push(h.send(Side::Server, &Block::status(200).headers(1, true)));
    frames.push(h.send(Side::Server, &Block::status(500).headers(3, true)));
    frames.extend(h.close());
    frames
}

fn run(args: &[&str], file: &Path) -> std::process::Output {
    let out = bin().args(args).arg(file).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn replay_counts_every_route_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("routes.pcap");
    write_pcap(&pcap, LinkType::Ethernet, &capture(&http1_requests()));
    let s = summary(&run(&["-r"], &pcap));
    assert_eq!(s["requests"], 18);
    assert_eq!(
        routes(&s),
        owned(&[
            ("/health", 2),
            ("/orders/{id}", 5),
            ("/users/{id}", 7),
            ("/users/{id}/repos", 4),
        ])
    );
    let orders = route(&s, "/orders/{id}");
    assert_eq!(orders["status"]["5xx"], 3, "{orders}");
    assert_eq!(orders["status"]["2xx"], 2, "{orders}");
    let users = route(&s, "/users/{id}");
    assert_eq!(users["status"]["2xx"], 7);
    // Six HTTP/1 answers 1 ms after their request (the h2c one too, its frames carry no gap).
    assert!(users["latency_ms"]["p50"].as_f64().is_some(), "{users}");
    assert_eq!(s["route_counts"]["tracked"], 4);
    // Sections are untouched beside them.
    assert_eq!(crate::util::section_hits(&s, "/users"), 11);

    // The plain summary lists them too.
    let plain = bin().arg("-r").arg(&pcap).output().unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("routes      4 tracked"), "{text}");
    assert!(text.contains("/users/{id}/repos"), "{text}");
}

#[test]
fn reports_carry_route_rows_in_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("routes.pcap");
    write_pcap(&pcap, LinkType::Ethernet, &capture(&http1_requests()));
    let out = bin()
        .arg("-r")
        .arg(&pcap)
        .args(["--json", "--interval", "1s"])
        .output()
        .unwrap();
    let lines = crate::util::json_lines(&out);
    let report = lines
        .iter()
        .rfind(|l| l["type"] == "report")
        .expect("a report");
    let top: Vec<(&str, u64)> = report["top_routes_10s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["route"].as_str().unwrap(), r["hits"].as_u64().unwrap()))
        .collect();
    // The last report may come before the h2c request of /users/{id}.
    assert!(
        matches!(top.first(), Some(("/users/{id}", 6 | 7))),
        "{report}"
    );
    // Everything so far is within 10 s: the rows add up to the requests counted.
    let sum: u64 = top.iter().map(|(_, n)| n).sum();
    assert_eq!(Some(sum), report["requests"].as_u64(), "{report}");
    assert_eq!(report["routes"][0]["route"], "/users/{id}");
    assert!(report["routes"][0]["status"].is_object());
}

#[test]
fn routes_file_maps_word_like_ids_literals_first() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("routes.txt");
    std::fs::write(
        &spec,
        "# GitHub-like\n/users/{login}\n/users/me\n/users/{login}/repos\n/repos/{owner}/{repo}\n",
    )
    .unwrap();
    let requests: Vec<(String, u16)> = [
        "/users/octocat",
        "/users/torvalds?x=1",
        "/users/me",
        "/users/octocat/repos",
        "/users/torvalds/repos",
        "/repos/rust-lang/rust",
        "/repos/torvalds/linux",
        "/teams/12",
    ]
    .iter()
    .map(|t| ((*t).to_owned(), 200))
    .collect();
    let pcap = dir.path().join("words.pcap");
    write_pcap(&pcap, LinkType::Ethernet, &capture(&requests));
    let s = summary(&run(&["--routes", spec.to_str().unwrap(), "-r"], &pcap));
    assert_eq!(
        routes(&s),
        owned(&[
            ("/orders/{id}", 1),
            ("/repos/{owner}/{repo}", 2),
            ("/teams/{id}", 1),
            ("/users/me", 1),
            // The h2c stream's /users/99 is a login here.
            ("/users/{login}", 3),
            ("/users/{login}/repos", 2),
        ])
    );
}

#[test]
fn access_log_routes_are_counted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut text = String::new();
    for (i, (target, status)) in http1_requests().iter().enumerate() {
        text.push_str(&format!(
            "192.0.2.{} - - [30/Nov/2026:10:00:{:02} +0000] \"GET {target} HTTP/1.1\" {status} 12 \"-\" \"e2e\"\n",
            i % 7,
            i
        ));
    }
    std::fs::write(&log, text).unwrap();
    let s = summary(&run(&["--no-follow", "--log"], &log));
    assert_eq!(s["requests"], 16);
    assert_eq!(
        routes(&s),
        owned(&[
            ("/health", 2),
            ("/orders/{id}", 4),
            ("/users/{id}", 6),
            ("/users/{id}/repos", 4),
        ])
    );
    assert_eq!(route(&s, "/orders/{id}")["status"]["5xx"], 2);
}

#[test]
fn bad_routes_file_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-routes.txt");
    std::fs::write(&bad, "/users/{id}\nusers without a slash\n").unwrap();
    let missing = dir.path().join("missing.yaml");
    let pcap = dir.path().join("x.pcap");
    write_pcap(&pcap, LinkType::Ethernet, &capture(&http1_requests()));
    for file in [&bad, &missing] {
        let out = bin()
            .arg("--routes")
            .arg(file)
            .arg("-r")
            .arg(&pcap)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("traffic-watch: error: "), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(out.stdout.is_empty());
    }
}

/// One request on its own connection; the server's status code.
fn get(port: u16, target: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
#[ignore = "needs root"]
fn live_capture_counts_routes_exactly() {
    crate::util::require_root();
    let srv = crate::util::server();
    let port = srv.addr().port();
    let mut mon = crate::util::Monitor::live(&["--port", &port.to_string(), "--interval", "1s"]);
    let mut targets: Vec<String> = (0..5).map(|i| format!("/users/{}", 100 + i)).collect();
    targets.extend(UUIDS.iter().map(|u| format!("/orders/{u}?expand=items")));
    targets.push("/users/7/repos".into());
    for t in &targets {
        assert_eq!(get(port, t), 200, "{t}");
    }
    // Packets still in the kernel's buffer at SIGINT would be lost: stop once a report (every
    // second) has counted them all.
    let n = targets.len() as u64;
    mon.wait_for("a report of every request", Duration::from_secs(20), |v| {
        v["type"] == "report" && v["responses"] == n
    });
    let s = mon.stop();
    assert_eq!(srv.served(), targets.len() as u64);
    assert_eq!(s["requests"], targets.len() as u64, "{s}");
    assert_eq!(
        routes(&s),
        owned(&[
            ("/orders/{id}", 3),
            ("/users/{id}", 5),
            ("/users/{id}/repos", 1)
        ])
    );
    assert_eq!(route(&s, "/users/{id}")["status"]["2xx"], 5);
}

/// `GET /metrics` on `addr`, when it answers 200.
fn scrape(addr: SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The value of one series (`name{labels}`) in a text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_label_the_top_routes_and_fold_the_rest_into_other() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut text = String::new();
    for (i, (target, status)) in http1_requests().iter().enumerate() {
        text.push_str(&format!(
            "192.0.2.1 - - [30/Nov/2026:10:00:{i:02} +0000] \"GET {target} HTTP/1.1\" {status} 12 \"-\" \"e2e\"\n"
        ));
    }
    std::fs::write(&log, text).unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = std::process::Command::new(bin().get_program())
        .args([
            "--log",
            log.to_str().unwrap(),
            "--json",
            "--summary-only",
            "--top",
            "2",
        ])
        .args(["--metrics-addr", &addr.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Followed: poll (bounded) until every line is counted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        if let Some(b) = scrape(addr)
            && b.contains("traffic_watch_route_requests_total{route=\"other\"} 6")
        {
            break b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never counted 16 requests"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let requests = |route: &str| {
        sample(
            &body,
            &format!("traffic_watch_route_requests_total{{route=\"{route}\"}}"),
        )
    };
    // Top 2 by hits (ties by name), then everything else.
    assert_eq!(requests("/users/{id}"), Some(6.0), "{body}");
    assert_eq!(requests("/orders/{id}"), Some(4.0), "{body}");
    assert_eq!(requests("/users/{id}/repos"), None, "{body}");
    assert_eq!(requests("/health"), None, "{body}");
    assert_eq!(
        body.matches("traffic_watch_route_requests_total{").count(),
        3
    );
    assert_eq!(
        sample(
            &body,
            "traffic_watch_route_responses_total{route=\"/orders/{id}\",status_class=\"5xx\"}"
        ),
        Some(2.0),
        "{body}"
    );
    // A combined log has no timing field: no latency, so no route histogram series.
    assert!(
        !body.contains("traffic_watch_route_response_latency_seconds_count"),
        "{body}"
    );
}
