//! gRPC over h2c against a real grpcio server (Debian's python3-grpcio), its own per-call log
//! as the truth: unary and streaming calls, OK and failed, each one request, each ending with
//! the `grpc-status` the server logged (root; skipped with a reason otherwise).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{KillOnDrop, Monitor, free_port, require_root};

const PYTHON: &str = "/usr/bin/python3";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/support/grpc_echo.py")
}

fn has_grpcio() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import grpc"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The server, killed on drop.
fn serve(port: u16, log: &Path) -> KillOnDrop {
    let mut child = KillOnDrop::spawn(
        Command::new(PYTHON)
            .arg(script())
            .args(["serve", &port.to_string()])
            .arg(log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    let out = child.0.stdout.take().unwrap();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "grpc server did not start");
    child
}

#[test]
#[ignore = "needs root and python3-grpcio"]
fn grpc_calls_counted_with_the_status_the_server_logged() {
    require_root();
    assert!(
        has_grpcio(),
        "needs python3-grpcio: scripts/test.sh installs it as root with CI=true"
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let port = free_port();
    let _server = serve(port, &log);
    let mut mon = Monitor::live(&["--port", &port.to_string(), "--interval", "1s"]);
    let out = Command::new(PYTHON)
        .arg(script())
        .args(["call", &port.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = mon.stop();

    let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
    let text = std::fs::read_to_string(&log).unwrap();
    for line in text.lines() {
        let code = line.split_whitespace().nth(1).unwrap_or("?").to_owned();
        *by_code.entry(code).or_default() += 1;
    }
    let calls: u64 = by_code.values().sum();
    assert_eq!(calls, 34, "the server logged every call: {text}");
    assert_eq!(summary["requests"].as_u64().unwrap(), calls, "{summary}");
    assert_eq!(summary["responses"].as_u64().unwrap(), calls, "{summary}");
    assert_eq!(summary["protocols"]["h2c"].as_u64().unwrap(), calls);
    let got: BTreeMap<String, u64> = summary["grpc_status"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(got, by_code, "{summary}");
    let sections = summary["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 1, "{sections:?}");
    assert_eq!(sections[0]["section"], "/demo.Echo");
    assert_eq!(sections[0]["hits"].as_u64().unwrap(), calls);
    assert_eq!(
        summary["flow"]["h2"]["unknown_headers"], 0,
        "{}",
        summary["flow"]
    );
}
