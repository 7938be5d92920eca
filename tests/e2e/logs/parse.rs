//! Access-log line parsing through the library API: Common and Combined lines from nginx and
//! Apache, IPv6 clients, `-` fields, time zone offsets, and lines that are not entries.

use std::borrow::Cow;
use std::net::IpAddr;

use traffic_watch::flow::Protocol;
use traffic_watch::logs::{BadLine, LogFormat, parse_clf_time, parse_line};
use traffic_watch::time::Timestamp;

/// 2000-10-10T20:55:36Z, Apache's documentation example in UTC.
const APACHE_EXAMPLE_UTC: u64 = 971_211_336;

#[test]
fn apache_common_example() {
    let l =
        br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
    for f in [LogFormat::Common, LogFormat::Auto] {
        let e = parse_line(l, f).unwrap();
        assert_eq!(e.host, b"127.0.0.1");
        assert_eq!(e.client_ip, Some("127.0.0.1".parse::<IpAddr>().unwrap()));
        assert_eq!(e.user, b"frank");
        assert_eq!(e.ts, Timestamp::from_secs(APACHE_EXAMPLE_UTC));
        assert_eq!(e.method, "GET");
        assert_eq!(e.target, "/apache_pb.gif");
        assert!(matches!(e.target, Cow::Borrowed(_)), "zero-copy when UTF-8");
        assert_eq!(e.version, "HTTP/1.0");
        assert_eq!(e.protocol(), Protocol::Http10);
        assert_eq!(e.status, 200);
        assert_eq!(e.bytes, 2326);
        assert_eq!(e.referer, None);
        assert_eq!(e.user_agent, None);
    }
    assert_eq!(
        parse_line(l, LogFormat::Combined).unwrap_err(),
        BadLine::Referer
    );
}

#[test]
fn nginx_combined_with_extra_fields() {
    let l = br#"203.0.113.9 - - [24/Nov/2026:06:11:39 +0000] "POST /api/v1/items?id=3 HTTP/1.1" 201 17 "https://example.test/page" "Mozilla/5.0 (X11; Linux) \"quoted\"" 0.004"#;
    for f in [LogFormat::Combined, LogFormat::Auto] {
        let e = parse_line(l, f).unwrap();
        assert_eq!(e.method, "POST");
        assert_eq!(e.target, "/api/v1/items?id=3");
        assert_eq!(e.protocol(), Protocol::Http11);
        assert_eq!(e.status, 201);
        assert_eq!(e.bytes, 17);
        assert_eq!(e.ts.rfc3339_utc(), "2026-11-24T06:11:39Z");
        assert_eq!(e.referer, Some(&b"https://example.test/page"[..]));
        assert_eq!(
            e.user_agent,
            Some(&br#"Mozilla/5.0 (X11; Linux) \"quoted\""#[..])
        );
    }
}

#[test]
fn ipv6_client_dash_bytes_and_crlf() {
    let l = b"2001:db8::1 - - [01/Jan/2026:00:00:00 +0000] \"HEAD / HTTP/1.1\" 304 - \"-\" \"curl/8\"\r";
    let e = parse_line(l, LogFormat::Auto).unwrap();
    assert_eq!(e.client_ip, Some("2001:db8::1".parse::<IpAddr>().unwrap()));
    assert_eq!(e.bytes, 0);
    assert_eq!(e.status, 304);
    assert_eq!(e.user_agent, Some(&b"curl/8"[..]));
    let named = parse_line(
        b"client.example - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
        LogFormat::Common,
    )
    .unwrap();
    assert_eq!(named.host, b"client.example");
    assert_eq!(named.client_ip, None);
}

#[test]
fn time_zone_offsets_give_the_same_instant() {
    let utc = parse_clf_time(b"10/Oct/2000:20:55:36 +0000").unwrap();
    assert_eq!(utc, Timestamp::from_secs(APACHE_EXAMPLE_UTC));
    assert_eq!(parse_clf_time(b"10/Oct/2000:13:55:36 -0700"), Some(utc));
    assert_eq!(parse_clf_time(b"11/Oct/2000:02:25:36 +0530"), Some(utc));
    // Across a year boundary.
    assert_eq!(
        parse_clf_time(b"31/Dec/2025:23:30:00 -0100")
            .unwrap()
            .rfc3339_utc(),
        "2026-01-01T00:30:00Z"
    );
    assert_eq!(
        parse_clf_time(b"01/Mar/2024:00:30:00 +0100")
            .unwrap()
            .rfc3339_utc(),
        "2024-02-29T23:30:00Z"
    );
    for bad in [
        &b"10/Foo/2000:13:55:36 -0700"[..],
        b"32/Oct/2000:13:55:36 -0700",
        b"10/Oct/2000:24:55:36 -0700",
        b"10/Oct/2000:13:55:36 0700",
        b"10/Oct/2000:13:55:36 -07000",
        b"10/Oct/2000 13:55:36 -0700",
        b"",
    ] {
        assert_eq!(
            parse_clf_time(bad),
            None,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn bad_lines_name_the_field() {
    let cases: &[(&[u8], BadLine)] = &[
        (b"", BadLine::Empty),
        (b"   ", BadLine::Empty),
        (b"1.2.3.4", BadLine::Ident),
        (b"1.2.3.4 - - 10/Oct/2000:13:55:36 -0700 \"GET / HTTP/1.1\" 200 1", BadLine::Timestamp),
        (b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1 200 1", BadLine::Request),
        (b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 2000 1", BadLine::Status),
        (b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" OK 1", BadLine::Status),
        (b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200", BadLine::Bytes),
        (b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 -5", BadLine::Bytes),
        (
            b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 99999999999999999999999",
            BadLine::Bytes,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse_line(line, LogFormat::Auto).unwrap_err(),
            *want,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(BadLine::Request.as_str(), "bad request line");
}

#[test]
fn request_fields_that_are_no_request_line_are_malformed_requests() {
    // nginx logs a connection closed before its request as "-", a TLS handshake on a
    // plaintext port as escaped bytes, Apache an empty request: each was answered.
    for line in [
        &b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"-\" 400 0"[..],
        b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"\" 408 0",
        b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"\\x16\\x03\\x01\\x00\\xF4\" 400 166",
        b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"G\xffT / HTTP/1.1\" 400 5",
    ] {
        let e = parse_line(line, LogFormat::Auto).unwrap();
        assert!(e.malformed, "{}", String::from_utf8_lossy(line));
        assert_eq!((e.method, e.target.as_ref()), ("-", "-"));
    }
}

#[test]
fn invalid_utf8_target_is_fine_and_a_method_that_is_no_token_is_malformed() {
    let l = b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /caf\xe9/x HTTP/1.1\" 200 5";
    let e = parse_line(l, LogFormat::Common).unwrap();
    assert_eq!(e.target, "/caf\u{fffd}/x");
    let bad_method = b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"G\xffT / HTTP/1.1\" 200 5";
    assert!(parse_line(bad_method, LogFormat::Common).unwrap().malformed);
    // HTTP/0.9: no version.
    let e = parse_line(
        b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /old\" 200 5",
        LogFormat::Common,
    )
    .unwrap();
    assert_eq!((e.target.as_ref(), e.version), ("/old", ""));
}

#[test]
fn binary_garbage_never_panics() {
    // A deterministic pseudo-random stream, cut into lines, plus every prefix of a good line.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::new();
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push((x >> 24) as u8);
    }
    let mut entries = 0;
    for line in data.split(|&b| b == b'\n') {
        for f in [LogFormat::Auto, LogFormat::Combined, LogFormat::Common] {
            entries += usize::from(parse_line(line, f).is_ok());
        }
    }
    assert_eq!(entries, 0);
    let good = br#"::1 - u [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 1 "r" "ua""#;
    for n in 0..good.len() {
        let _ = parse_line(&good[..n], LogFormat::Combined);
    }
    assert!(parse_line(good, LogFormat::Combined).is_ok());
}

#[test]
fn format_names() {
    assert_eq!(LogFormat::from_name("combined"), Ok(LogFormat::Combined));
    assert_eq!(LogFormat::from_name("Common"), Ok(LogFormat::Common));
    assert_eq!(LogFormat::from_name("auto"), Ok(LogFormat::Auto));
    assert_eq!(
        LogFormat::from_name("json").unwrap_err(),
        "unknown log format 'json'; use one of: combined, common, auto"
    );
}

/// Reads `data` as a log with `format` to its end: entries, and the input for its counters.
fn read_all(data: &[u8], format: &str) -> (Vec<String>, traffic_watch::logs::LogInput) {
    use std::time::Duration;
    use traffic_watch::logs::{FormatSpec, LogInput, LogItem};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, data).unwrap();
    let spec = FormatSpec::from_arg(format, None).unwrap();
    let mut input = LogInput::open(&path, spec, false).unwrap();
    let mut targets = Vec::new();
    loop {
        match input.next(Duration::from_secs(5)).unwrap() {
            LogItem::Entry(e) => targets.push(e.target.into_owned()),
            LogItem::Bad(_) | LogItem::Idle => {}
            LogItem::End => break,
        }
    }
    (targets, input)
}

#[test]
fn hostile_lines_are_counted_by_reason_and_shown_escaped_once_per_burst() {
    let good = |p: &str| {
        format!(
            "1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] \"GET {p} HTTP/1.1\" 200 1 \"-\" \"-\" 0.001\n"
        )
    };
    let mut data = Vec::new();
    data.extend_from_slice(good("/a").as_bytes());
    // A burst: cut mid-line, a NUL and an escape in the time, bad quoting, a 1 MB line.
    data.extend_from_slice(b"1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] \"GET /cut HTT\n");
    data.extend_from_slice(
        b"1.2.3.4 - - [30/Nov/2026:10:00\x00\x1b[2J +0000] \"GET / HTTP/1.1\" 200 1\n",
    );
    data.extend_from_slice(b"1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] GET / HTTP/1.1\" 200 1\n");
    data.extend(std::iter::repeat_n(b'x', 1 << 20));
    data.push(b'\n');
    // Escapes decoded: nginx's \x1B and Apache's \" are in the target, not raw on screen.
    data.extend_from_slice(good("/e\\x1B[2J\\x22/x").as_bytes());
    data.extend_from_slice(b"not a line either\n");
    let (targets, mut input) = read_all(&data, "auto");
    assert_eq!(targets, vec!["/a".to_owned(), "/e\u{1b}[2J\"/x".to_owned()]);
    let c = input.counters();
    assert_eq!(c.bad_lines, 5);
    assert_eq!(c.long_lines, 1);
    let by = |b: BadLine| c.bad_by_reason[b.index()];
    assert_eq!(by(BadLine::Request), 2);
    // The NUL/escape in the time, and "not a line either" (three words, then no time).
    assert_eq!(by(BadLine::Timestamp), 2);
    // The 1 MB line, cut: one word.
    assert_eq!(by(BadLine::Ident), 1);
    let notices = input.take_notices();
    // The layout picked, then one warning per burst (two bursts), escaped.
    assert_eq!(notices.len(), 3, "{notices:?}");
    assert!(
        notices[0].contains("combined + $request_time"),
        "{}",
        notices[0]
    );
    assert!(notices[1].contains("/cut HTT"), "{}", notices[1]);
    for n in &notices {
        assert!(!n.bytes().any(|b| b < 0x20), "raw control byte in {n:?}");
    }
}

#[test]
fn a_log_no_format_reads_is_an_error_showing_its_first_line() {
    let (_, _) = read_all(b"", "auto");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.log");
    std::fs::write(&path, b"hello \x1b[31mworld\nsecond\n").unwrap();
    let mut input = traffic_watch::logs::LogInput::open(&path, LogFormat::Auto, false).unwrap();
    let err = input
        .next(std::time::Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("its first line: 'hello \\x1b[31mworld'"),
        "{err}"
    );
    assert!(err.contains("--log-format nginx:"), "{err}");
}
