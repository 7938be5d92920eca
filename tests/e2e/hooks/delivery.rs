//! Alert hooks through the library API: a loopback HTTP listener receives the webhook JSON for
//! an alert and its recovery; a script run by `--alert-exec` sees the values in its
//! environment; hooks that hang or fail never delay `fire` and are counted as failures once
//! their time limit passes; a full queue drops and counts; bad settings are one-line errors.
//! An `https://` webhook talks TLS to a loopback server whose certificate a test CA signed:
//! delivered when that CA is given, refused (and counted as a failure) when it is not.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use traffic_watch::hooks::AlertHooks;
use traffic_watch::stats::{AlertEvent, AlertKind};
use traffic_watch::time::Timestamp;

use crate::util::eventually;

fn event(kind: AlertKind, secs: u64, hits: u64) -> AlertEvent {
    AlertEvent {
        kind,
        at: Timestamp::from_secs(secs),
        hits,
        lower_bound: false,
    }
}

/// Reads one HTTP request (head + Content-Length body); returns (head, body).
fn read_request(s: &mut impl Read) -> (String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early");
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(data[..i].to_vec()).unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            while data.len() < i + 4 + len {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0);
                data.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8(data[i + 4..i + 4 + len].to_vec()).unwrap();
            return (head, body);
        }
    }
}

#[test]
fn webhook_receives_alert_and_recovery_json() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let got = read_request(&mut s);
            s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            tx.send(got).unwrap();
        }
    });
    let hooks = AlertHooks::new(None, Some(format!("http://{addr}/hook?team=web"))).unwrap();
    // 2026-11-24T06:11:39Z
    hooks.fire(&event(AlertKind::Triggered, 1_795_500_699, 2400));
    hooks.fire(&event(AlertKind::Recovered, 1_795_500_999, 900));
    let (head, body) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        head.starts_with("POST /hook?team=web HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!("Host: {addr}")));
    assert!(head.contains("Content-Type: application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["kind"], "triggered");
    assert_eq!(v["hits"], 2400);
    assert_eq!(v["time"], "2026-11-24T06:11:39Z");
    assert_eq!(v["lower_bound"], false);
    assert_eq!(
        v["text"],
        "High traffic generated an alert - hits = 2400, triggered at 2026-11-24T06:11:39Z"
    );
    assert_eq!(v["content"], v["text"]);
    let (_, body) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["kind"], "recovered");
    assert_eq!(
        v["text"],
        "High traffic alert recovered at 2026-11-24T06:16:39Z"
    );
    assert!(eventually(Duration::from_secs(20), || hooks.delivered() == 2));
    assert_eq!(hooks.failures(), 0);
}

/// A test CA (PEM) and a certificate for localhost and 127.0.0.1 signed by it, with its key.
fn test_pki() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    (ca.pem(), cert.der().clone(), key)
}

/// A TLS server on loopback answering each request with 204; sends what it read (or why the
/// connection failed) for each of `n` connections.
fn tls_listener(
    n: usize,
) -> (
    std::net::SocketAddr,
    String,
    mpsc::Receiver<Result<String, String>>,
) {
    let (ca_pem, cert, key) = test_pki();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..n {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // A refused handshake shows up as an error on the first read.
            let mut first = [0u8; 1];
            let got = match tls.read(&mut first) {
                Ok(1) => {
                    let mut rest = std::io::Read::chain(&first[..], &mut tls);
                    let (head, body) = read_request(&mut rest);
                    Ok(format!("{head}\r\n\r\n{body}"))
                }
                Ok(_) => Err("closed".to_owned()),
                Err(e) => Err(e.to_string()),
            };
            if got.is_ok() {
                let _ = tls.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
            tx.send(got).unwrap();
        }
    });
    (addr, ca_pem, rx)
}

#[test]
fn https_webhook_is_delivered_over_tls_checked_against_the_given_ca() {
    let (addr, ca_pem, rx) = tls_listener(1);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let url = format!("https://localhost:{}/services/T0/B0/x", addr.port());
    let hooks =
        AlertHooks::with_settings(None, Some(url), Some(&ca), Duration::from_secs(5)).unwrap();
    hooks.fire(&event(AlertKind::Triggered, 1_795_500_699, 2400));
    let got = rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
    assert!(
        got.starts_with("POST /services/T0/B0/x HTTP/1.1\r\n"),
        "{got}"
    );
    assert!(
        got.contains(&format!("Host: localhost:{}", addr.port())),
        "{got}"
    );
    let body = got.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        v["text"],
        "High traffic generated an alert - hits = 2400, triggered at 2026-11-24T06:11:39Z"
    );
    assert!(eventually(Duration::from_secs(20), || hooks.delivered() == 1));
    assert_eq!(hooks.failures(), 0);
}

#[test]
fn https_webhook_refuses_a_server_it_cannot_verify() {
    // The same server, but the client trusts only the built-in roots: the handshake fails,
    // nothing is sent, and the delivery counts as a failure.
    let (addr, _, rx) = tls_listener(1);
    let url = format!("https://127.0.0.1:{}/x", addr.port());
    let hooks = AlertHooks::with_settings(None, Some(url), None, Duration::from_secs(5)).unwrap();
    hooks.fire(&event(AlertKind::Triggered, 1_795_500_699, 2400));
    let got = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(got.is_err(), "the server got a request: {got:?}");
    assert!(eventually(Duration::from_secs(20), || hooks.failures() == 1));
    assert_eq!(hooks.delivered(), 0);
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&p)
        .status()
        .unwrap();
    p.display().to_string()
}

#[test]
fn exec_hook_gets_the_alert_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    // Writes then renames, so the test never reads a half-written file.
    let s = script(
        dir.path(),
        "record.sh",
        r#"env | grep '^TW_ALERT_' > "$1.tmp" && echo "args=$#:$2" >> "$1.tmp" && mv "$1.tmp" "$1.$TW_ALERT_KIND""#,
    );
    // The second argument would be a command substitution in a shell; here it is a word.
    let hooks = AlertHooks::new(Some(format!("{s} {} $(touch-me)", out.display())), None).unwrap();
    let mut e = event(AlertKind::Triggered, 1_795_500_699, 2400);
    e.lower_bound = true;
    hooks.fire(&e);
    hooks.fire(&event(AlertKind::Recovered, 1_795_500_999, 900));
    let triggered = out.with_extension("triggered");
    let recovered = out.with_extension("recovered");
    assert!(eventually(Duration::from_secs(20), || triggered.exists()
        && recovered.exists()));
    let env = std::fs::read_to_string(&triggered).unwrap();
    let lines: Vec<&str> = env.lines().collect();
    for want in [
        "TW_ALERT_KIND=triggered",
        "TW_ALERT_HITS=2400",
        "TW_ALERT_TIME=2026-11-24T06:11:39Z",
        "TW_ALERT_LOWER_BOUND=true",
        "TW_ALERT_MESSAGE=High traffic generated an alert - hits = 2400, triggered at 2026-11-24T06:11:39Z (packets were dropped: hits is a lower bound)",
        "args=2:$(touch-me)",
    ] {
        assert!(lines.contains(&want), "{want} not in:\n{env}");
    }
    let env = std::fs::read_to_string(&recovered).unwrap();
    assert!(env.contains("TW_ALERT_KIND=recovered\n"));
    assert!(env.contains("TW_ALERT_HITS=900\n"));
    assert!(eventually(Duration::from_secs(20), || hooks.delivered() == 2));
    assert_eq!(hooks.failures(), 0);
}

#[test]
fn hanging_and_failing_hooks_do_not_delay_fire_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let hang = script(dir.path(), "hang.sh", "sleep 30");
    // A listener that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let hooks = AlertHooks::with_time_limit(
        Some(hang),
        Some(format!("http://{addr}/")),
        Duration::from_secs(1),
    )
    .unwrap();
    hooks.fire(&event(AlertKind::Triggered, 1000, 5000));
    // Had `fire` waited for the hooks, their time limit would have passed and been counted.
    assert_eq!(
        hooks.failures(),
        0,
        "fire returned before either hook gave up"
    );
    assert!(
        eventually(Duration::from_secs(20), || hooks.failures() == 2),
        "failures: {}",
        hooks.failures()
    );
    assert_eq!(hooks.delivered(), 0);
    drop(silent);

    let fail = script(dir.path(), "fail.sh", "exit 3");
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let hooks = AlertHooks::new(Some(fail), Some(format!("http://{refused}/"))).unwrap();
    hooks.fire(&event(AlertKind::Triggered, 1000, 5000));
    assert!(eventually(Duration::from_secs(20), || hooks.failures() == 2));
}

#[test]
fn a_full_queue_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let hang = script(dir.path(), "hang.sh", "sleep 30");
    let hooks = AlertHooks::with_time_limit(Some(hang), None, Duration::from_millis(500)).unwrap();
    for i in 0..200 {
        hooks.fire(&event(AlertKind::Triggered, 1000 + i, 1));
    }
    // Had a `fire` waited for the hanging hook, its time limit would have been counted.
    assert_eq!(hooks.failures(), 0, "no fire waited for the running hook");
    // One is being run, QUEUE_LEN wait, the rest are dropped.
    let dropped = hooks.dropped();
    assert!(
        (200 - 1 - traffic_watch::hooks::QUEUE_LEN as u64
            ..=200 - traffic_watch::hooks::QUEUE_LEN as u64)
            .contains(&dropped),
        "dropped {dropped}"
    );
}

#[test]
fn bad_settings_are_one_line_errors() {
    let err = |exec: Option<&str>, hook: Option<&str>| {
        AlertHooks::new(exec.map(str::to_owned), hook.map(str::to_owned))
            .err()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        err(None, Some("ftp://hooks.example/x")),
        "bad alert webhook URL 'ftp://hooks.example/x': only http:// and https:// URLs are supported"
    );
    let with_ca = |hook: &str, ca: &Path| {
        AlertHooks::with_settings(
            None,
            Some(hook.to_owned()),
            Some(ca),
            Duration::from_secs(1),
        )
        .err()
        .unwrap()
        .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    assert_eq!(
        with_ca("https://h/", &not_pem),
        format!(
            "--alert-webhook-ca {}: no PEM certificate in the file",
            not_pem.display()
        )
    );
    assert!(
        with_ca("https://h/", Path::new("/nonexistent/ca.pem"))
            .starts_with("--alert-webhook-ca /nonexistent/ca.pem: No such file"),
    );
    assert_eq!(
        with_ca("http://h/", &not_pem),
        "bad alert webhook URL 'http://h/': --alert-webhook-ca is for https:// URLs"
    );
    assert_eq!(
        err(Some("/nonexistent/notify --now"), None),
        "alert command '/nonexistent/notify': no such file"
    );
    assert_eq!(
        err(Some("no-such-program-tw"), None),
        "alert command 'no-such-program-tw' not found on PATH; give its path"
    );
    assert!(AlertHooks::new(None, None).unwrap().is_empty());
}
