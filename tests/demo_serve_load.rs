//! `demo::load` against `demo::serve` on loopback, through the library API: the server's own
//! count must equal what the generator says was answered, the section mix must be the one
//! computed from the request indices, and bad input must give one-line errors.

// Helpers outside `#[test]` functions are test code too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use clap::Parser;
use traffic_watch::demo::load::{self, LoadConfig, Phase, Target};
use traffic_watch::demo::serve::{self, ServeConfig, ServerHandle};
use traffic_watch::demo::{LoadArgs, ServeArgs};
use traffic_watch::time::parse_duration;

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
        ..LoadConfig::default()
    };
    let t0 = Instant::now();
    let e = load::run(config, false).unwrap_err().to_string();
    assert!(t0.elapsed() < Duration::from_secs(3));
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
