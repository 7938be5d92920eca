//! Against nginx on loopback, with its own access log as the truth (root only; nginx from
//! Debian, which `scripts/test.sh` installs in CI): malformed request lines and heads, and
//! request heads from 1 KiB to over 64 KiB, sent by a raw-socket client. Every line nginx
//! logs is a request we count, and nothing else is.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{
    KillOnDrop, Monitor, eventually, free_port, require_program, require_root, section_hits,
};

const NGINX: &str = "/usr/sbin/nginx";

/// nginx in the foreground with its files in a temporary directory; killed on drop.
struct Nginx {
    _child: KillOnDrop,
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    fn start() -> Nginx {
        Nginx::listening("")
    }

    /// nginx with `listen 127.0.0.1:PORT{options}` (e.g. ` http2` for h2c by prior knowledge).
    fn listening(options: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1;\n\
             daemon off;\n\
             user root;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               access_log {d}/access.log;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               large_client_header_buffers 4 64k;\n\
               server {{ listen 127.0.0.1:{port}{options}; location / {{ return 200 \"ok\\n\"; }} }}\n\
             }}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = KillOnDrop::spawn(
            Command::new(NGINX)
                .arg("-c")
                .arg(&conf_path)
                .arg("-p")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        // Ready when it accepts a connection (bounded: nginx starts in milliseconds).
        let listening = eventually(Duration::from_secs(5), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(listening, "nginx did not listen on {port}");
        Nginx {
            _child: child,
            dir,
            port,
        }
    }

    fn access_log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }
}

/// One connection: writes `bytes` in pieces of `piece` bytes (each its own segment, as far as
/// the kernel allows), half-closes, and reads until nginx closes.
fn exchange(port: u16, bytes: &[u8], piece: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for part in bytes.chunks(piece.max(1)) {
        s.write_all(part).unwrap();
    }
    let _ = s.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer
}

/// The HTTP/1 status lines in what a client read.
fn status_lines(answer: &[u8]) -> u64 {
    answer
        .windows(9)
        .filter(|w| w.starts_with(b"HTTP/1.") && w[8] == b' ')
        .count() as u64
}

/// The status of each line of a combined-format access log.
fn logged_statuses(path: &Path) -> Vec<u16> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            // `… "request" STATUS BYTES "referer" "agent"`: the status follows the request's
            // closing quote; the request itself may hold anything nginx escaped.
            let after = l.rsplit('"').nth(4).unwrap_or("");
            after
                .split_whitespace()
                .next()
                .unwrap_or("")
                .parse()
                .unwrap_or(0)
        })
        .collect()
}

#[test]
#[ignore = "needs root and nginx"]
fn malformed_and_huge_heads_counted_as_nginx_logs_them() {
    require_root();
    require_program(NGINX);
    let nginx = Nginx::start();
    let port = nginx.port;
    let mut mon = Monitor::live(&["--port", &port.to_string(), "--interval", "1s"]);

    // Malformed shapes nginx answers (400, or 505 for HTTP/2.0 on an HTTP/1 port), each on
    // its own connection as a flood would send them.
    let malformed: [&[u8]; 11] = [
        b"GET /esc\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /bel\x07 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nul\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /t\tab HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /sp ace/x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /colon HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n",
        b"GET /name HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n",
        b"POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /v2 HTTP/2.0\r\nHost: x\r\n\r\n",
        // nginx serves these two and goes on reading the connection.
        b"GET /v17 HTTP/1.7\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /ctl\x01x HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    // Status lines the clients received: those were surely on the wire.
    let mut received = 0u64;
    for m in malformed {
        // Whole: nginx answers 400 at the first bad byte of a request line, so a line sent a
        // byte per segment can be answered before its end arrives (see the unit tests for
        // every split, and the closing note for that race).
        received += status_lines(&exchange(port, m, 4096));
    }
    // Bare LF line ends: well-formed for servers, and for us.
    received += status_lines(&exchange(
        port,
        b"GET /lf HTTP/1.1\nHost: x\n\nGET /after HTTP/1.1\nHost: x\n\n",
        4096,
    ));

    // Big heads (nginx accepts each header line up to 64 KiB here), each followed by a request
    // on the same connection, written in pieces of several sizes.
    let mut big_sent = 0;
    for (kib, piece) in [(1, 100), (15, 1000), (17, 1448), (40, 16_384), (60, 65_536)] {
        let head = format!(
            "GET /big/{kib} HTTP/1.1\r\nHost: x\r\nCookie: c={}\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
            "j".repeat(kib * 1024)
        );
        let answer = exchange(port, head.as_bytes(), piece);
        received += status_lines(&answer);
        assert!(
            String::from_utf8_lossy(&answer).matches("200 OK").count() == 2,
            "nginx answered both for {kib} KiB"
        );
        big_sent += 1;
    }
    // A header line over 64 KiB: nginx refuses the head (400) and closes.
    let huge = format!(
        "GET /huge HTTP/1.1\r\nHost: x\r\nCookie: c={}\r\n\r\n",
        "j".repeat(70 * 1024)
    );
    received += status_lines(&exchange(port, huge.as_bytes(), 8192));

    // nginx writes a refused request's line once the connection is finalised, which can come
    // after the client has its answer: wait (bounded) for every line sent to be logged.
    let sent = malformed.len() + 1 + 2 + 2 * big_sent as usize + 1;
    // Bounded: what nginx never logs, the assertions below judge from its log.
    let _ = eventually(Duration::from_secs(10), || {
        logged_statuses(&nginx.access_log()).len() >= sent
    });
    // Every answer a client read has been captured; stop once a report (every second) has
    // counted them, so the summary does not race the last packets through a loaded machine.
    mon.wait_for(
        "a report counting every answer received",
        Duration::from_secs(20),
        |v| v["type"] == "report" && v["responses"].as_u64().is_some_and(|n| n >= received),
    );
    let summary = mon.stop();
    let logged = logged_statuses(&nginx.access_log());
    let want_4xx = logged.iter().filter(|s| (400..500).contains(*s)).count() as u64;
    let want_5xx = logged.iter().filter(|s| (500..600).contains(*s)).count() as u64;
    assert!(logged.len() >= 20, "nginx logged {logged:?}");
    assert_eq!(
        summary["requests"].as_u64().unwrap(),
        logged.len() as u64,
        "{summary}\n{}",
        std::fs::read_to_string(nginx.access_log()).unwrap_or_default()
    );
    // When nginx refuses a head and closes with unread bytes (the huge head's tail, a
    // rejected request's body), the kernel resets the connection and may discard the 400
    // before it goes on the wire, though nginx logged it. Only what a client received was
    // surely on the wire.
    let responses = summary["responses"].as_u64().unwrap();
    let r4xx = summary["status"]["4xx"].as_u64().unwrap();
    let logged_n = logged.len() as u64;
    assert!(
        responses <= logged_n && responses >= received,
        "received {received}, logged {logged_n}: {summary}"
    );
    assert_eq!(logged_n - responses, want_4xx - r4xx, "{summary}");
    assert_eq!(
        summary["status"]["5xx"].as_u64().unwrap(),
        want_5xx,
        "{summary}"
    );
    // Every shape above breaks the grammar (HTTP/1.7 and HTTP/2.0 by their version).
    assert_eq!(
        summary["flow"]["malformed"]["total"].as_u64().unwrap(),
        malformed.len() as u64,
        "{}",
        summary["flow"]
    );
    let sections = summary["sections"].as_array().unwrap();
    let hits = |name: &str| section_hits(&summary, name);
    assert_eq!(hits("/big"), big_sent, "{sections:?}");
    assert_eq!(hits("/huge"), 1, "{sections:?}");
    assert_eq!(hits("/after"), big_sent + 2, "{sections:?}");
    assert_eq!(
        summary["flow"]["parse_errors"].as_u64().unwrap(),
        0,
        "{}",
        summary["flow"]
    );
}

/// `HTTP/2.0` lines of the access log.
fn logged_protocol(path: &Path, protocol: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!(" {protocol}\" ")))
        .count()
}

#[test]
#[ignore = "needs root and nginx"]
fn h2c_prior_knowledge_counted_as_nginx_logs_it() {
    require_root();
    require_program(NGINX);
    let nginx = Nginx::listening(" http2");
    let port = nginx.port;
    let base = format!("http://127.0.0.1:{port}");
    let mut mon = Monitor::live(&["--port", &port.to_string(), "--interval", "1s"]);
    // curl, one connection each (Debian's curl 7.88 fails to reuse a prior-knowledge
    // connection: "Error in the HTTP2 framing layer").
    for i in 0..5 {
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--http2-prior-knowledge"])
            .arg(format!("{base}/users/{i}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // h2load: many streams in flight on a few connections (Debian's nghttp2-client).
    let h2load = Path::new("/usr/bin/h2load").exists();
    if h2load {
        let out = Command::new("h2load")
            .args([
                "-n",
                "400",
                "-c",
                "4",
                "-m",
                "16",
                &format!("{base}/load/x"),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "h2load: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    } else {
        eprintln!("skipped: h2load not installed (scripts/test.sh installs nghttp2-client in CI)");
    }
    let summary = mon.stop();
    let log = nginx.access_log();
    let logged = logged_statuses(&log).len() as u64;
    let logged_h2 = logged_protocol(&log, "HTTP/2.0") as u64;
    assert_eq!(logged_h2, logged, "nginx logged every request as HTTP/2.0");
    assert_eq!(logged, if h2load { 405 } else { 5 });
    assert_eq!(summary["requests"].as_u64().unwrap(), logged, "{summary}");
    assert_eq!(summary["responses"].as_u64().unwrap(), logged, "{summary}");
    assert_eq!(
        summary["protocols"]["h2c"].as_u64().unwrap(),
        logged,
        "{summary}"
    );
    assert_eq!(
        summary["status"]["2xx"].as_u64().unwrap(),
        logged,
        "{summary}"
    );
    let sections = summary["sections"].as_array().unwrap();
    let hits = |name: &str| section_hits(&summary, name);
    assert_eq!(hits("/users"), 5, "{sections:?}");
    assert_eq!(hits("/load"), logged - 5, "{sections:?}");
    assert_eq!(
        summary["flow"]["h2"]["unknown_headers"], 0,
        "{}",
        summary["flow"]
    );
}
