//! `demo::load` against `demo::serve` on loopback, through the library API: the server's own
//! count must equal what the generator says was answered, the section mix must be the one
//! computed from the request indices, and bad input must give one-line errors. The h2c cases
//! check both ways into HTTP/2 (prior knowledge and Upgrade) with our generator, raw frames
//! and curl, and that the server counts each answer once, under its protocol.

// Helpers outside `#[test]` functions are test code too; clippy.toml only covers the latter.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use clap::Parser;
use traffic_watch::demo::load::{self, LoadConfig, Phase, Target, Wire};
use traffic_watch::demo::serve::{self, ServeConfig, ServerHandle};
use traffic_watch::demo::{LoadArgs, ServeArgs};
use traffic_watch::flow::Protocol;
use traffic_watch::time::parse_duration;

use crate::util::require_program;

fn server(config: ServeConfig) -> ServerHandle {
    serve::start(ServeConfig { port: 0, ..config }).unwrap()
}

fn load_config(handle: &ServerHandle, rate: f64, duration: Duration) -> LoadConfig {
    LoadConfig {
        target: Target {
            host: "127.0.0.1".into(),
            port: handle.addr().port(),
        },
        profile: vec![Phase { rate, duration }],
        ..LoadConfig::default()
    }
}

fn sections() -> Vec<String> {
    LoadConfig::default().sections
}

fn check_low_rate(keep_alive: bool) {
    let srv = server(ServeConfig::default());
    let config = LoadConfig {
        keep_alive,
        ..load_config(&srv, 50.0, Duration::from_secs(1))
    };
    let report = load::run(config, false).unwrap();
    assert_eq!(report.sent, 50, "{report}");
    assert_eq!(report.answered, 50, "{report}");
    assert_eq!(report.errors_total(), 0, "{report}");
    assert_eq!(srv.served(), 50);
    assert_eq!(report.status.get(&200), Some(&50));
    assert_eq!(report.sections, load::expected_sections(&sections(), 50));
    let expected_connections = if keep_alive { 4 } else { 50 };
    assert_eq!(report.connections_opened, expected_connections, "{report}");
    assert!(report.elapsed >= Duration::from_millis(950), "{report}");
    srv.shutdown();
}

#[test]
fn low_rate_keep_alive_counts_match() {
    check_low_rate(true);
}

#[test]
fn low_rate_close_counts_match() {
    check_low_rate(false);
}

fn check_max_rate(keep_alive: bool, connections: usize, duration: Duration) {
    let srv = server(ServeConfig::default());
    let config = LoadConfig {
        keep_alive,
        connections,
        ..load_config(&srv, 0.0, duration)
    };
    let report = load::run(config, false).unwrap();
    assert_eq!(report.errors_total(), 0, "{report}");
    assert_eq!(report.sent, report.answered);
    assert_eq!(srv.served(), report.answered, "{report}");
    assert!(report.answered > 200, "{report}");
    assert_eq!(
        report.sections,
        load::expected_sections(&sections(), report.answered)
    );
    srv.shutdown();
}

#[test]
fn max_rate_keep_alive_counts_match() {
    check_max_rate(true, 32, Duration::from_secs(1));
}

#[test]
fn max_rate_close_counts_match() {
    // Each request leaves a TIME_WAIT socket behind; keep the run short.
    check_max_rate(false, 8, Duration::from_millis(500));
}

#[test]
fn h2c_paced_counts_match_per_protocol() {
    let srv = server(ServeConfig::default());
    let config = LoadConfig {
        connections: 2,
        wire: Wire::H2c { streams: 10 },
        ..load_config(&srv, 200.0, Duration::from_secs(1))
    };
    let report = load::run(config, false).unwrap();
    assert_eq!(report.protocol, "h2c");
    assert_eq!(report.sent, 200, "{report}");
    assert_eq!(report.answered, 200, "{report}");
    assert_eq!(report.errors_total(), 0, "{report}");
    assert_eq!(report.status.get(&200), Some(&200));
    assert_eq!(report.sections, load::expected_sections(&sections(), 200));
    // Twenty request loops, two connections: the streams share them.
    assert_eq!(report.connections_opened, 2, "{report}");
    assert_eq!(srv.served_by(Protocol::H2c), 200);
    assert_eq!(srv.served_by(Protocol::Http11), 0);
    assert_eq!(srv.served(), 200);
    assert_eq!(report.to_json()["protocol"], "h2c");
    srv.shutdown();
}

#[test]
fn h2c_max_rate_multiplexes_and_counts_match() {
    let srv = server(ServeConfig::default());
    let config = LoadConfig {
        connections: 2,
        wire: Wire::H2c { streams: 16 },
        ..load_config(&srv, 0.0, Duration::from_millis(500))
    };
    let report = load::run(config, false).unwrap();
    assert_eq!(report.errors_total(), 0, "{report}");
    assert_eq!(report.sent, report.answered);
    assert!(report.answered > 100, "{report}");
    assert_eq!(srv.served_by(Protocol::H2c), report.answered, "{report}");
    assert_eq!(srv.served(), report.answered);
    assert_eq!(
        report.sections,
        load::expected_sections(&sections(), report.answered)
    );
    srv.shutdown();
}

#[test]
fn http1_and_h2c_are_counted_apart() {
    let srv = server(ServeConfig::default());
    let h1 = load::run(load_config(&srv, 100.0, Duration::from_millis(300)), false).unwrap();
    let h2 = LoadConfig {
        wire: Wire::H2c { streams: 4 },
        ..load_config(&srv, 100.0, Duration::from_millis(500))
    };
    let h2 = load::run(h2, false).unwrap();
    assert_eq!((h1.answered, h2.answered), (30, 50));
    assert_eq!(h1.protocol, "HTTP/1.1");
    assert_eq!(srv.served_by(Protocol::Http11), 30);
    assert_eq!(srv.served_by(Protocol::H2c), 50);
    assert_eq!(srv.served_by(Protocol::Http10), 0);
    assert_eq!(srv.served_summary(), "HTTP/1.1 30, h2c 50");
    srv.shutdown();
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// One HTTP/2 frame: type, flags, stream id, payload.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

fn write_frame(s: &mut TcpStream, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = (payload.len() as u32).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    s.write_all(&f).unwrap();
}

fn read_frame(s: &mut TcpStream) -> Frame {
    let mut head = [0u8; 9];
    s.read_exact(&mut head).unwrap();
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }
}

/// Header fields as (name, value) bytes, in order.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads frames until `stream`'s answer has ended; returns its header fields and body. The
/// server's header blocks are decoded in order by `hpack`, as a client's decoder would.
fn read_answer(
    s: &mut TcpStream,
    hpack: &mut loona_hpack::Decoder<'_>,
    stream: u32,
) -> (Fields, Vec<u8>) {
    let (mut fields, mut body) = (Vec::new(), Vec::new());
    loop {
        let f = read_frame(s);
        match f.kind {
            // HEADERS: the demo server sends neither padding nor priority.
            0x1 => {
                assert_ne!(f.flags & END_HEADERS, 0, "no CONTINUATION expected");
                let decoded = hpack.decode(&f.payload).unwrap();
                if f.stream == stream {
                    fields = decoded;
                }
            }
            0x0 if f.stream == stream => body.extend_from_slice(&f.payload),
            // GOAWAY or RST_STREAM would mean the server rejected what we sent.
            0x3 | 0x7 => panic!("frame type {} on stream {}", f.kind, f.stream),
            _ => {}
        }
        if f.stream == stream && f.flags & END_STREAM != 0 {
            return (fields, body);
        }
    }
}

fn field<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

#[test]
fn h2c_upgrade_answers_stream_one_and_counts_it_once() {
    let srv = server(ServeConfig::default());
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /foo/up?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: raw\r\n\
          Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
          HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
    )
    .unwrap();
    // The 101's head, byte by byte, so nothing of the HTTP/2 part is read with it.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8];
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("upgrade: h2c\r\n"), "{head}");
    // Our side of HTTP/2 opens with the preface and a SETTINGS frame (RFC 7540 §3.5).
    s.write_all(PREFACE).unwrap();
    write_frame(&mut s, 0x4, 0, 0, &[]);
    let first = read_frame(&mut s);
    assert_eq!(
        (first.kind, first.stream),
        (0x4, 0),
        "server preface is SETTINGS"
    );
    let mut hpack = loona_hpack::Decoder::new();
    let (fields, body) = read_answer(&mut s, &mut hpack, 1);
    assert_eq!(field(&fields, ":status"), Some(&b"200"[..]));
    assert_eq!(body, b"Hello, your path is: foo/up");

    // The connection goes on as HTTP/2: our first own stream is 3, its header block made by
    // an encoder that indexes, so the server's table must be where ours thinks it is.
    let mut enc = loona_hpack::Encoder::new();
    let block = enc.encode([
        (&b":method"[..], &b"GET"[..]),
        (b":scheme", b"http"),
        (b":authority", b"t"),
        (b":path", b"/bar/3"),
        (b"user-agent", b"raw"),
    ]);
    write_frame(&mut s, 0x1, END_STREAM | END_HEADERS, 3, &block);
    let (fields, body) = read_answer(&mut s, &mut hpack, 3);
    assert_eq!(field(&fields, ":status"), Some(&b"200"[..]));
    assert_eq!(body, b"Hello, your path is: bar/3");

    // Two requests answered, both in HTTP/2; the 101 itself is no answer.
    assert_eq!(srv.served(), 2);
    assert_eq!(srv.served_by(Protocol::H2c), 2);
    assert_eq!(srv.served_by(Protocol::Http11), 0);
    srv.shutdown();
}

#[test]
fn upgrade_with_a_body_or_without_settings_stays_http1() {
    let srv = server(ServeConfig::default());
    for req in [
        &b"POST /foo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n\
           Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\nContent-Length: 3\r\n\r\nabc"[..],
        b"GET /foo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        b"GET /foo HTTP/1.0\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
           HTTP2-Settings: AAMAAABk\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        assert!(
            head.ends_with(b" 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
    }
    assert_eq!(srv.served_by(Protocol::Http11), 2);
    assert_eq!(srv.served_by(Protocol::Http10), 1);
    assert_eq!(srv.served_by(Protocol::H2c), 0);
    srv.shutdown();
}

/// `curl ARGS URL` → (status, HTTP version) as curl reports them.
fn curl(args: &[&str], url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs curl"]
fn curl_gets_200_over_h2c_both_ways() {
    require_program("/usr/bin/curl");
    let srv = server(ServeConfig::default());
    let url = format!("http://{}/zoom/curl", srv.addr());
    assert_eq!(curl(&["--http2"], &url), "200 2");
    assert_eq!(curl(&["--http2-prior-knowledge"], &url), "200 2");
    assert_eq!(curl(&["--http1.1"], &url), "200 1.1");
    assert_eq!(srv.served_by(Protocol::H2c), 2);
    assert_eq!(srv.served_by(Protocol::Http11), 1);
    srv.shutdown();
}

#[test]
fn error_rate_and_not_found_give_their_statuses() {
    let srv = server(ServeConfig {
        error_rate: 0.3,
        not_found: vec!["/foo".into()],
        ..ServeConfig::default()
    });
    let report = load::run(load_config(&srv, 400.0, Duration::from_millis(500)), false).unwrap();
    assert_eq!(report.answered, 200, "{report}");
    assert_eq!(srv.served(), 200);
    let mix = load::expected_sections(&sections(), 200);
    assert_eq!(report.status.get(&404), mix.get("/foo"), "{report}");
    let errors = report.status.get(&500).copied().unwrap_or(0);
    let ok = report.status.get(&200).copied().unwrap_or(0);
    assert!(errors > 10 && ok > 50, "{report}");
    let json = report.to_json();
    assert_eq!(json["status"]["404"], serde_json::json!(mix["/foo"]));
    for key in [
        "sent",
        "answered",
        "status",
        "errors",
        "latency_ms",
        "sections",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    for key in ["p50", "p90", "p99", "max"] {
        assert!(json["latency_ms"][key].is_number(), "{json}");
    }
    srv.shutdown();
}

#[test]
fn latency_option_delays_answers() {
    let srv = server(ServeConfig {
        latency: Some((Duration::from_millis(20), Duration::from_millis(30))),
        ..ServeConfig::default()
    });
    let report = load::run(load_config(&srv, 40.0, Duration::from_millis(500)), false).unwrap();
    assert_eq!(report.answered, 20, "{report}");
    assert!(report.latency.p50 >= Duration::from_millis(20), "{report}");
    assert!(report.latency.max < Duration::from_millis(500), "{report}");
    srv.shutdown();
}

#[test]
fn answers_like_the_seed_server_and_pipelines() {
    let srv = server(ServeConfig::default());
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Two requests in one write: hyper answers both, in order.
    s.write_all(
        b"GET /foo/bar?x=1 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/plain")
    );
    let first = text.find("Hello, your path is: foo/bar").unwrap();
    let second = text.rfind("HTTP/1.1 200 OK").unwrap();
    assert!(second > first, "{text}");
    assert!(text.ends_with("Hello, your path is: "), "{text}");
    assert_eq!(srv.served(), 2);
    srv.shutdown();
}

#[test]
fn port_in_use_is_reported_at_once() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = serve::start(ServeConfig {
        port,
        ..ServeConfig::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("cannot listen on '127.0.0.1:{port}': address already in use; pick another --port")
    );
}

#[test]
fn unreachable_target_is_one_line_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = LoadConfig {
        target: Target {
            host: "127.0.0.1".into(),
            port,
        },
        // A generator that kept retrying would run for the whole hour instead of failing.
        profile: vec![Phase {
            rate: 20.0,
            duration: Duration::from_secs(3600),
        }],
        ..LoadConfig::default()
    };
    let e = load::run(config, false).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "cannot connect to '127.0.0.1:{port}': connection refused; is the server running? \
             try 'traffic-watch serve --port {port}'"
        )
    );
}

#[derive(Parser)]
struct LoadCli {
    #[command(flatten)]
    args: LoadArgs,
}

#[derive(Parser)]
struct ServeCli {
    #[command(flatten)]
    args: ServeArgs,
}

fn load_args(argv: &[&str]) -> LoadArgs {
    let mut full = vec!["load"];
    full.extend_from_slice(argv);
    LoadCli::try_parse_from(full).unwrap().args
}

#[test]
fn load_args_defaults_are_the_seed_generator() {
    let c = load_args(&[]).to_config().unwrap();
    assert_eq!(c.profile, load::default_profile());
    assert_eq!(c.target.to_string(), "http://127.0.0.1:5000");
    assert_eq!(c.sections, sections());
    assert!(c.keep_alive);
    let c = load_args(&[
        "http://[::1]:8080/",
        "--rate",
        "0",
        "--duration",
        "3s",
        "--close",
    ])
    .to_config()
    .unwrap();
    assert_eq!(
        c.profile,
        vec![Phase {
            rate: 0.0,
            duration: Duration::from_secs(3)
        }]
    );
    assert!(!c.keep_alive);
    let c = load_args(&["--max", "--duration", "500ms", "--sections", "a,b"])
        .to_config()
        .unwrap();
    assert_eq!(c.profile[0].rate, 0.0);
    assert_eq!(c.sections, vec!["a", "b"]);
}

#[test]
fn malformed_load_args_give_one_line_errors() {
    for (argv, expected) in [
        (vec!["--profile", "20x"], "invalid --profile step '20x': "),
        (
            vec!["--profile", "20x60,100"],
            "invalid --profile step '100': ",
        ),
        (
            vec!["--profile", "20x5y"],
            "invalid --profile step '20x5y': ",
        ),
        (vec!["--rate", "fast"], "invalid --rate 'fast': "),
        (vec!["--duration", "2 min"], "invalid --duration '2 min': "),
        (vec!["--connections", "0"], "invalid --connections '0': "),
        (
            vec!["https://127.0.0.1:5000"],
            "invalid URL 'https://127.0.0.1:5000': ",
        ),
        (
            vec!["http://127.0.0.1:5000/x"],
            "invalid URL 'http://127.0.0.1:5000/x': ",
        ),
    ] {
        let e = load_args(&argv).to_config().unwrap_err().to_string();
        assert!(e.starts_with(expected), "{argv:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    // --profile and --rate together is a usage error caught by clap.
    assert!(LoadCli::try_parse_from(["load", "--profile", "1x1", "--rate", "5"]).is_err());
}

#[test]
fn http2_load_args() {
    assert_eq!(load_args(&[]).to_config().unwrap().wire, Wire::Http1);
    let c = load_args(&["--http2"]).to_config().unwrap();
    assert_eq!(c.wire, Wire::H2c { streams: 10 });
    let c = load_args(&["--http2", "--streams-per-connection", "3"])
        .to_config()
        .unwrap();
    assert_eq!(c.wire, Wire::H2c { streams: 3 });
    // Streams without HTTP/2, zero streams, and HTTP/2 with --close are usage errors.
    for argv in [
        vec!["load", "--streams-per-connection", "3"],
        vec!["load", "--http2", "--streams-per-connection", "0"],
        vec!["load", "--http2", "--close"],
    ] {
        assert!(LoadCli::try_parse_from(&argv).is_err(), "{argv:?}");
    }
}

#[test]
fn serve_args_parse() {
    let a = ServeCli::try_parse_from([
        "serve",
        "--port",
        "0",
        "--latency",
        "5ms..50ms",
        "--error-rate",
        "0.02",
        "--not-found",
        "/admin,/private",
    ])
    .unwrap()
    .args;
    let c = a.to_config().unwrap();
    assert_eq!(c.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(
        c.latency,
        Some((Duration::from_millis(5), Duration::from_millis(50)))
    );
    assert_eq!(c.not_found, vec!["/admin", "/private"]);
    let a = ServeCli::try_parse_from(["serve", "--latency", "fast"])
        .unwrap()
        .args;
    let e = a.to_config().unwrap_err().to_string();
    assert!(e.starts_with("invalid --latency 'fast': "), "{e}");
}

#[test]
fn durations() {
    let s = Duration::from_secs;
    assert_eq!(parse_duration("90s"), Ok(s(90)));
    assert_eq!(parse_duration("2m"), Ok(s(120)));
    assert_eq!(parse_duration("1h"), Ok(s(3600)));
    assert_eq!(parse_duration("1m30s"), Ok(s(90)));
    assert_eq!(parse_duration("10"), Ok(s(10)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert!(parse_duration("2x").unwrap_err().contains("'2x'"));
    assert!(parse_duration("").is_err());
}
