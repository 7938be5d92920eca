//! Live capture on loopback, as root (CI runs as root): a real HTTP server (`demo::serve`), the
//! monitor binary on its port with `--json`, and a paced generator (`demo::load`) sending an
//! exact number of requests. Each test is `#[ignore = "needs root"]`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{
    Monitor, bin, free_port, load, proc_status, require_program, require_root, server,
};

fn sections_of(summary: &Value) -> std::collections::BTreeMap<String, u64> {
    summary["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["section"].as_str().unwrap().to_owned(),
                s["hits"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs root"]
fn live_counts_exactly_what_was_sent_keepalive_and_new_connections() {
    require_root();
    let srv = server();
    let port = srv.addr().port();
    let mut mon = Monitor::live(&["--port", &port.to_string(), "--interval", "1s"]);
    let a = load(port, 200.0, 1.0, true, 4);
    let b = load(port, 100.0, 1.0, false, 2);
    let summary = mon.stop();
    let sent = a.answered + b.answered;
    assert_eq!(srv.served(), sent, "the server saw every request");
    let drops = summary["drops"]["kernel_dropped"].as_u64().unwrap_or(0)
        + summary["drops"]["queue_dropped"].as_u64().unwrap_or(0);
    assert_eq!(drops, 0, "no drops at this rate: {}", summary["drops"]);
    assert_eq!(summary["requests"].as_u64().unwrap(), sent, "{summary}");
    assert_eq!(summary["responses"].as_u64().unwrap(), sent);
    let mut want = a.sections.clone();
    for (k, v) in &b.sections {
        *want.entry(k.clone()).or_default() += v;
    }
    assert_eq!(sections_of(&summary), want);
}

#[test]
#[ignore = "needs root"]
fn live_burst_alerts_then_recovers_on_ticks() {
    require_root();
    let srv = server();
    let port = srv.addr().port();
    let mut mon = Monitor::live(&[
        "--port",
        &port.to_string(),
        "--window",
        "2s",
        "--threshold",
        "20",
        "--interval",
        "1s",
    ]);
    let r = load(port, 200.0, 1.0, true, 2);
    assert!(r.answered >= 150);
    let alert = mon.wait_for("alert", Duration::from_secs(10), |v| v["type"] == "alert");
    assert_eq!(alert["kind"], "triggered");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .starts_with("High traffic generated an alert - hits = ")
    );
    // No more traffic: the once-a-second tick moves the window and the alert recovers.
    let rec = mon.wait_for("recovery", Duration::from_secs(10), |v| {
        v["type"] == "alert"
    });
    assert_eq!(rec["kind"], "recovered");
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .starts_with("High traffic alert recovered at ")
    );
    let summary = mon.stop();
    assert_eq!(summary["requests"].as_u64().unwrap(), r.answered);
    assert_eq!(summary["alerts"], 2);
}

#[test]
#[ignore = "needs root"]
fn unknown_interface_lists_the_available_ones() {
    require_root();
    let out = bin()
        .args(["--port", "5000", "-i", "nosuchif0", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no such interface 'nosuchif0'") && err.contains("lo"),
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn permission_error_names_the_fix() {
    // Without root (nobody) the capture cannot open; the message says what to do.
    require_root();
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        eprintln!("skipped: no 'nobody' user");
        return;
    };
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            &nobody.uid.to_string(),
            "--regid",
            &nobody.gid.to_string(),
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(bin().get_program())
        .args(["--port", "5000", "-i", "lo", "--json"])
        .output();
    let Ok(out) = out else {
        eprintln!("skipped: setpriv not available");
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("permission denied") && err.contains("setcap cap_net_raw"),
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn demo_plain_shows_alert_and_recovery_and_counts_exactly() {
    require_root();
    let port = free_port();
    let out = bin()
        .args(["demo", "--plain", "--port", &port.to_string()])
        .args([
            "--profile",
            "20x2,200x2,20x2",
            "--window",
            "2s",
            "--threshold",
            "60",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("DEMO: serving http://127.0.0.1:"),
        "banner: {err}"
    );
    let trig = text
        .find("High traffic generated an alert - hits = ")
        .expect("alert");
    let rec = text
        .find("High traffic alert recovered at ")
        .expect("recovery");
    assert!(trig < rec);
    // The monitor's total equals what the generator got answered.
    let answered: u64 = err
        .split("answered")
        .next()
        .and_then(|s| s.rsplit(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .expect("generator line");
    let counted: u64 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("requests")
                .map(|n| n.trim().to_owned())
        })
        .and_then(|n| n.parse().ok())
        .expect("summary requests");
    assert_eq!(counted, answered, "{text}");
}

#[test]
#[ignore = "needs root"]
fn demo_http2_is_counted_as_h2c_exactly() {
    require_root();
    let port = free_port();
    let out = bin()
        .args(["demo", "--http2", "--plain", "--port", &port.to_string()])
        .args(["--profile", "40x2", "--window", "2s"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(" over h2c "), "banner: {err}");
    // Every one of the 80 requests went as an h2c stream, and the monitor saw each once.
    assert!(
        err.contains("generator sent 80 requests, 80 answered; server served 80 (h2c 80)"),
        "{err}"
    );
    let protocols = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("protocols"))
        .expect("protocols line");
    assert_eq!(protocols.trim(), "h2c 80", "{text}");
}

#[test]
#[ignore = "needs root"]
fn demo_in_a_terminal_quits_on_q_and_restores_it() {
    require_root();
    // A pseudo-terminal driven by a small Python script (python3 ships with Debian/Ubuntu).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/support/pty_quit.py");
    let port = free_port().to_string();
    let program = bin().get_program().to_string_lossy().into_owned();
    let Ok(out) = std::process::Command::new("python3")
        .args([script, "sections", "q", &program, "demo", "--port", &port])
        .args(["--profile", "50x60", "--window", "5s"])
        .output()
    else {
        eprintln!("skipped: python3 not available to drive a pseudo-terminal");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("exit=0"),
        "quits cleanly on q, long before the profile ends: {text}"
    );
    assert!(
        text.contains("restored=True"),
        "the terminal is restored: {text}"
    );
}

#[test]
#[ignore = "needs root"]
fn privileges_are_dropped_and_capture_keeps_counting() {
    require_root();
    let srv = server();
    let port = srv.addr().port();
    let mut mon = Monitor::spawn(&["--port", &port.to_string(), "--json", "--interval", "1s"]);
    mon.wait_stderr("with no capabilities", Duration::from_secs(10));
    let pid = mon.id();
    assert_eq!(proc_status(pid, "CapEff"), "0000000000000000");
    assert_eq!(proc_status(pid, "CapPrm"), "0000000000000000");
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1");
    let uid = proc_status(pid, "Uid");
    assert!(!uid.starts_with('0'), "no longer root: Uid {uid}");
    let r = load(port, 100.0, 0.5, true, 2);
    let summary = mon.stop();
    assert_eq!(summary["requests"].as_u64().unwrap(), r.answered);
}

#[test]
#[ignore = "needs root"]
fn kernel_drops_are_counted_shown_and_summarised() {
    require_root();
    let srv = server();
    let port = srv.addr().port();
    // A tiny kernel buffer, and the monitor frozen while a burst goes by.
    let mut child = std::process::Command::new(bin().get_program())
        .args([
            "--port",
            &port.to_string(),
            "--plain",
            "--interval",
            "1s",
            "-B",
            "64",
        ])
        .args(["-i", "lo", "--no-drop-privileges"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let r = load(port, 0.0, 0.5, true, 8);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    // Let it read what survived and print a report, then stop it.
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while Instant::now() < deadline && !text.contains("INCOMPLETE:") {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            text.push_str(&l);
            text.push('\n');
        }
    }
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        text.push_str(&l);
        text.push('\n');
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(r.answered > 1000, "a real burst: {}", r.answered);
    assert!(
        text.contains("INCOMPLETE:"),
        "the report shows the drop banner: {text}"
    );
    let dropped: u64 = rest
        .lines()
        .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
        .and_then(|n| n.trim().parse().ok())
        .expect("tcpdump-style exit summary on stderr");
    assert!(dropped > 0, "{rest}");
    let counted: u64 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("requests")
                .map(|n| n.trim().to_owned())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(counted < r.answered, "some requests were lost, and said so");
}

#[test]
#[ignore = "needs root and curl"]
fn curl_h2c_upgrade_and_prior_knowledge_counted_as_the_server_served() {
    require_root();
    require_program("/usr/bin/curl");
    let srv = server();
    let port = srv.addr().port();
    let mut mon = Monitor::live(&["--port", &port.to_string(), "--interval", "1s"]);
    // One connection each (Debian's curl 7.88 cannot reuse a prior-knowledge connection).
    for i in 0..5 {
        for how in ["--http2", "--http2-prior-knowledge"] {
            let out = std::process::Command::new("curl")
                .args(["-sS", "-o", "/dev/null", how])
                .arg(format!("http://127.0.0.1:{port}/h2/{i}"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "curl {how}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let summary = mon.stop();
    assert_eq!(srv.served(), 10);
    assert_eq!(srv.served_by(traffic_watch::flow::Protocol::H2c), 10);
    assert_eq!(summary["requests"].as_u64().unwrap(), 10, "{summary}");
    assert_eq!(summary["responses"].as_u64().unwrap(), 10, "{summary}");
    // The Upgrade requests went as HTTP/1.1 (answered 101, then on stream 1 over HTTP/2).
    assert_eq!(summary["protocols"]["HTTP/1.1"], 5, "{summary}");
    assert_eq!(summary["protocols"]["h2c"], 5, "{summary}");
    assert_eq!(summary["status"]["1xx"], 5, "{summary}");
    assert_eq!(sections_of(&summary).get("/h2"), Some(&10));
    assert_eq!(summary["flow"]["h2"]["connections"], 10, "{summary}");
}
