//! Bad input gives one line on stderr naming the problem, exit code 2, no panic or backtrace.

use predicates::prelude::*;

use crate::util::bin;

fn one_line_error(args: &[&str], needle: &str) {
    let out = bin()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn missing_file() {
    one_line_error(
        &["-r", "/nonexistent/x.pcap"],
        "'/nonexistent/x.pcap': no such file",
    );
}

#[test]
fn not_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "GET / HTTP/1.1\r\n\r\n").unwrap();
    one_line_error(&["-r", p.to_str().unwrap()], "not a pcap or pcapng capture");
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.pcap");
    std::fs::write(&p, "").unwrap();
    one_line_error(&["-r", p.to_str().unwrap()], "empty file");
}

#[test]
fn directory_instead_of_file() {
    let dir = tempfile::tempdir().unwrap();
    one_line_error(&["-r", dir.path().to_str().unwrap()], "is a directory");
}

#[test]
fn truncated_capture_reports_what_it_read_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.pcap");
    bin()
        .args(["sample-capture", p.to_str().unwrap(), "--seconds", "2"])
        .assert()
        .success();
    let bytes = std::fs::read(&p).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let out = bin()
        .args(["-r", cut.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcap") && err.contains("truncated"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
    let s = crate::util::summary(&out);
    assert!(
        s["requests"].as_u64().unwrap() > 0,
        "what was read before the damage is counted"
    );
}

#[test]
fn bad_bpf_expression() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.pcap");
    bin()
        .args(["sample-capture", p.to_str().unwrap(), "--seconds", "1"])
        .assert()
        .success();
    one_line_error(
        &["-r", p.to_str().unwrap(), "tcp", "port"],
        "bad capture filter",
    );
}

#[test]
fn port_out_of_range_and_both_thresholds() {
    bin()
        .args(["--port", "70000"])
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains("70000"));
    bin()
        .args([
            "--port",
            "5000",
            "--threshold",
            "3",
            "--threshold-total",
            "5",
        ])
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
    bin()
        .args(["--window", "2 minutes"])
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains("invalid duration '2 minutes'"));
}

#[test]
fn help_explains() {
    bin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--threshold").and(predicate::str::contains("--window")));
}

#[test]
fn recording_flags_without_a_live_capture_are_one_line_errors() {
    one_line_error(&["-r", "x.pcap", "-w", "y.pcapng"], "with -r the packets");
    one_line_error(&["-r", "x.pcap", "--record-alerts", "d"], "with -r");
    one_line_error(&["--log", "a.log", "-w", "y"], "--log reads no packets");
    one_line_error(&["-C", "10"], "add -w FILE");
}
