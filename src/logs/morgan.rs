//! morgan's `dev` format (Express), as it prints to a terminal:
//! `GET /path 200 3.456 ms - 12`, coloured with ANSI codes, which are removed first. The line
//! has no time, so the caller gives the time it was read.

use std::borrow::Cow;
use std::time::Duration;

use super::escape::{lossy, strip_ansi};
use super::parse::{BadLine, LogEntry, TimeUnit, parse_status, valid_method};
use crate::time::Timestamp;

/// Reads one line, dated `now`. The target comes back owned when colour codes were removed.
pub fn parse(line: &[u8], now: Timestamp) -> Result<LogEntry<'_>, BadLine> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(BadLine::Empty);
    }
    let plain = strip_ansi(line);
    let words: Vec<&[u8]> = plain
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    // METHOD URL STATUS TIME ms - LENGTH: the URL is everything between method and status.
    let n = words.len();
    if n < 7 || words.get(n - 3) != Some(&&b"ms"[..]) || words.get(n - 2) != Some(&&b"-"[..]) {
        return Err(BadLine::Layout);
    }
    let method = words
        .first()
        .and_then(|m| valid_method(m))
        .ok_or(BadLine::Request)?
        .to_owned();
    let status = words
        .get(n - 5)
        .and_then(|s| parse_status(s))
        .ok_or(BadLine::Status)?;
    let latency: Option<Duration> = words.get(n - 4).and_then(|t| TimeUnit::Millis.duration(t));
    let bytes = words
        .get(n - 1)
        .and_then(|b| std::str::from_utf8(b).ok()?.parse().ok())
        .unwrap_or(0);
    let target = words.get(1..n - 5).unwrap_or_default().join(&b' ');
    if target.is_empty() {
        return Err(BadLine::Request);
    }
    let method: &'static str = static_method(&method);
    Ok(LogEntry {
        host: b"-",
        client_ip: None,
        user: b"-",
        ts: now,
        method,
        target: Cow::Owned(lossy(Cow::Owned(target)).into_owned()),
        version: "",
        status,
        bytes,
        referer: None,
        user_agent: None,
        latency,
        malformed: false,
    })
}

/// The method as a `'static` name: the entry cannot borrow from the uncoloured copy.
fn static_method(m: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.iter().find(|k| **k == m).copied().unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coloured_dev_lines() {
        let now = Timestamp::from_secs(1_796_032_800);
        let l = b"\x1b[0mPOST /api/items?x=1 \x1b[33m404\x1b[0m 3.456 ms - 12\x1b[0m";
        let e = parse(l, now).unwrap();
        assert_eq!(
            (e.method, e.target.as_ref(), e.status),
            ("POST", "/api/items?x=1", 404)
        );
        assert_eq!(e.latency, Some(Duration::from_micros(3456)));
        assert_eq!((e.bytes, e.ts), (12, now));
        let e = parse(b"GET / 304 0.5 ms - -", now).unwrap();
        assert_eq!(e.bytes, 0);
        assert_eq!(
            parse(b"GET / 200 - - ms", now).unwrap_err(),
            BadLine::Layout
        );
    }
}
