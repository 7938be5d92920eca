//! HAProxy's `option httplog` lines, with or without the syslog prefix in front:
//!
//! ```text
//! 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//! ```
//!
//! The timers are `TR/Tw/Tc/Tr/Ta` in milliseconds. Latency is `Ta`, the total active time
//! from the first byte of the request to the last byte of the response: the same span as
//! nginx's `$request_time` and Apache's `%D`, and set for answers HAProxy gives itself, where
//! `Tr` (the server's time to its response headers) is -1. The accept date has no zone; it is
//! read as UTC. HAProxy writes `"` and control bytes in the request as `#22`.

use std::time::Duration;

use super::escape::Escapes;
use super::parse::{BadLine, Cursor, LogEntry, parse_bytes, parse_ip, parse_request, parse_status};
use super::timefmt::parse_haproxy_time;

/// Reads one `httplog` line.
pub fn parse(line: &[u8]) -> Result<LogEntry<'_>, BadLine> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(BadLine::Empty);
    }
    // The first ` [date]` with a client `addr:port` before it; a syslog prefix may hold other
    // brackets (`haproxy[14389]:`).
    let mut from = 0;
    let (client, ts, after) = loop {
        let open = from
            + line
                .get(from..)
                .and_then(|r| r.iter().position(|&b| b == b'['))
                .ok_or(BadLine::Timestamp)?;
        from = open + 1;
        if open == 0 || line.get(open - 1) != Some(&b' ') {
            continue;
        }
        let Some(close) = line
            .get(open..)
            .and_then(|r| r.iter().position(|&b| b == b']'))
        else {
            return Err(BadLine::Timestamp);
        };
        let Some(ts) = line
            .get(open + 1..open + close)
            .and_then(parse_haproxy_time)
        else {
            continue;
        };
        let before = line.get(..open - 1).unwrap_or_default();
        let start = before.iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
        let token = before.get(start..).unwrap_or_default();
        let Some(colon) = token.iter().rposition(|&b| b == b':') else {
            continue;
        };
        break (token.get(..colon).unwrap_or_default(), ts, open + close + 1);
    };
    let mut c = Cursor { line, at: after };
    let _frontend = c.token().ok_or(BadLine::Layout)?;
    let _server = c.token().ok_or(BadLine::Layout)?;
    let timers = c.token().ok_or(BadLine::Layout)?;
    if timers.iter().filter(|&&b| b == b'/').count() < 3 {
        return Err(BadLine::Layout);
    }
    let latency = timers
        .rsplit(|&b| b == b'/')
        .next()
        .and_then(|ta| std::str::from_utf8(ta).ok())
        .and_then(|ta| ta.strip_prefix('+').unwrap_or(ta).parse::<u64>().ok())
        .map(Duration::from_millis);
    let status = c.token().and_then(parse_status).ok_or(BadLine::Status)?;
    let bytes = c
        .token()
        .and_then(|b| parse_bytes(b.strip_prefix(b"+").unwrap_or(b)))
        .ok_or(BadLine::Bytes)?;
    // The request is the last field, in quotes; captured headers before it hold no `"`.
    let rest = line.get(c.at..).unwrap_or_default();
    let open = rest
        .iter()
        .position(|&b| b == b'"')
        .ok_or(BadLine::Request)?;
    let request = rest
        .get(open + 1..)
        .and_then(|r| r.strip_suffix(b"\""))
        .ok_or(BadLine::Request)?;
    let req = parse_request(request, Escapes::Hash);
    Ok(LogEntry {
        host: client,
        client_ip: parse_ip(client),
        user: b"-",
        ts,
        method: req.method,
        target: req.target,
        version: req.version,
        status,
        bytes,
        referer: None,
        user_agent: None,
        latency,
        malformed: req.malformed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manuals_example_with_a_syslog_prefix() {
        let l = br#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
        let e = parse(l).unwrap();
        assert_eq!(e.host, b"10.0.1.2");
        assert_eq!(e.ts.rfc3339_utc(), "2009-02-06T12:14:14Z");
        assert_eq!(e.ts.micros() % 1_000_000, 655_000);
        assert_eq!((e.method, e.target.as_ref()), ("GET", "/index.html"));
        assert_eq!((e.status, e.bytes), (200, 2750));
        assert_eq!(e.latency, Some(Duration::from_millis(109)));
    }

    #[test]
    fn own_answers_ipv6_and_hash_escapes() {
        let l = br#"::1:40000 [30/Nov/2026:10:00:00.001] fe~ fe/<NOSRV> 0/-1/-1/-1/3 200 +80 - - LR-- 1/1/0/0/0 0/0 "GET /a#22b#1b HTTP/1.1""#;
        let e = parse(l).unwrap();
        assert_eq!(e.client_ip, "::1".parse().ok());
        assert_eq!(e.target, "/a\"b\u{1b}");
        assert_eq!(e.latency, Some(Duration::from_millis(3)));
        let bad = br#"::1:40000 [30/Nov/2026:10:00:00.001] fe fe/<NOSRV> -1/-1/-1/-1/0 400 0 - - PR-- 1/1/0/0/0 0/0 "<BADREQ>""#;
        assert!(parse(bad).unwrap().malformed);
        for n in 0..l.len() {
            let _ = parse(&l[..n]);
        }
        assert_eq!(parse(b"x [y] z").unwrap_err(), BadLine::Timestamp);
    }
}
