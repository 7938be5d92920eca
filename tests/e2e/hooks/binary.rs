//! Alert hooks through the binary: a webhook listener and a recording script receive the alert
//! and its recovery from a replay and from a followed log; a hanging webhook holds up nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use serde_json::Value;
use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, PcapWriter, Side};

use crate::util::access_log::*;
use crate::util::*;

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
    let mut tw = Monitor::spawn(&[
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
        if let Some(v) = tw.next_line(Duration::from_millis(100))
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
    let mut tw = Monitor::spawn(&[
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
    assert_eq!(s["alerts"], 2);
    assert!(
        s["counters"]["hooks_failed"].as_u64().unwrap() >= 1,
        "{}",
        s["counters"]
    );
    let status = poll("exit", Duration::from_secs(15), || tw.try_wait());
    assert!(status.success());
    // The hook did get the alert (and was left hanging).
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(1)),
        Ok(HookEvent::Post(..))
    ));
}
