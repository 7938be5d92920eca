//! Access-log lines in the Common and Combined Log Formats, parsed without copying: every field
//! of a [`LogEntry`] borrows from the line. Apache's `common` and `combined` and nginx's default
//! `combined` all write
//!
//! ```text
//! host ident user [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "referer" "agent"
//! ```
//!
//! where Common stops after the byte count. Lines come from files we do not control: any byte
//! sequence gives an entry or a [`BadLine`] naming the first field that did not fit, never a
//! panic. Invalid UTF-8 is fine where HTTP allows it (the target is decoded lossily, only when
//! needed); the method must be an HTTP token.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::time::Timestamp;

/// Which layout lines follow (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `common` plus `"referer" "user-agent"`: nginx's default and Apache's `combined`. Anything
    /// after the user agent (e.g. an appended request time) is ignored.
    Combined,
    /// Apache's `common`: ends after the byte count; anything after it is ignored.
    Common,
    /// Combined when the two quoted fields are there, else Common.
    #[default]
    Auto,
}

impl LogFormat {
    /// The names `--log-format` accepts.
    pub const NAMES: [&'static str; 3] = ["combined", "common", "auto"];

    /// Parses a `--log-format` value; the error names the value and the choices.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "combined" | "nginx" => Ok(LogFormat::Combined),
            "common" | "clf" => Ok(LogFormat::Common),
            "auto" => Ok(LogFormat::Auto),
            _ => Err(format!(
                "unknown log format '{name}'; use one of: {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// Why a line was not an entry: the first field that did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLine {
    Empty,
    Host,
    Ident,
    Timestamp,
    /// The request line is missing, `"-"`, or not `METHOD target [HTTP/x.y]`.
    Request,
    Status,
    Bytes,
    /// `--log-format combined` and the referer or user agent is missing.
    Referer,
}

impl BadLine {
    pub fn as_str(self) -> &'static str {
        match self {
            BadLine::Empty => "empty line",
            BadLine::Host => "bad client host",
            BadLine::Ident => "missing ident or user",
            BadLine::Timestamp => "bad timestamp",
            BadLine::Request => "bad request line",
            BadLine::Status => "bad status",
            BadLine::Bytes => "bad byte count",
            BadLine::Referer => "missing referer or user agent",
        }
    }
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request from an access log, borrowing from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry<'a> {
    /// The client host as written (an address, or a name when the server resolved it).
    pub host: &'a [u8],
    /// `host` when it is an IPv4 or IPv6 address.
    pub client_ip: Option<IpAddr>,
    pub user: &'a [u8],
    /// The line's time, in UTC.
    pub ts: Timestamp,
    pub method: &'a str,
    /// As logged (servers escape some bytes, e.g. nginx writes `"` as `\x22`); replaced
    /// characters only when it was not UTF-8.
    pub target: Cow<'a, str>,
    /// `HTTP/1.1`, or empty for an HTTP/0.9 request line.
    pub version: &'a str,
    pub status: u16,
    /// Response body bytes (`-` is 0).
    pub bytes: u64,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
}

impl LogEntry<'_> {
    /// The protocol as `RequestEvent` counts it: HTTP/1.0 for 1.0 and 0.9, h2c for
    /// `HTTP/2.0` (a log cannot tell h2 from h2c; it is HTTP/2 either way), else HTTP/1.1.
    pub fn protocol(&self) -> crate::flow::Protocol {
        use crate::flow::Protocol;
        match self.version {
            "" | "HTTP/0.9" | "HTTP/1.0" => Protocol::Http10,
            "HTTP/2.0" | "HTTP/2" => Protocol::H2c,
            _ => Protocol::Http11,
        }
    }
}

/// A cursor over one line.
struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        while self.line.get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    /// The next space-separated token, if any.
    fn token(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let rest = self.line.get(self.at..)?;
        let len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        self.at += len;
        rest.get(..len)
    }

    /// `[...]`, without the brackets.
    fn bracketed(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let rest = self.line.get(self.at..)?;
        if rest.first() != Some(&b'[') {
            return None;
        }
        let end = rest.iter().position(|&b| b == b']')?;
        self.at += end + 1;
        rest.get(1..end)
    }

    /// `"..."`, without the quotes, as written (escapes are not decoded). A backslash escapes
    /// the next byte, as Apache writes `\"`; nginx writes `\x22` and needs no special case.
    fn quoted(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let rest = self.line.get(self.at..)?;
        if rest.first() != Some(&b'"') {
            return None;
        }
        let mut i = 1;
        while let Some(&b) = rest.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    self.at += i + 1;
                    return rest.get(1..i);
                }
                _ => i += 1,
            }
        }
        None
    }
}

/// Parses one line (without its line ending; a trailing `\r` is ignored).
pub fn parse_line(line: &[u8], format: LogFormat) -> Result<LogEntry<'_>, BadLine> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(BadLine::Empty);
    }
    let mut c = Cursor { line, at: 0 };
    let host = c.token().ok_or(BadLine::Host)?;
    let client_ip = parse_ip(host);
    let _ident = c.token().ok_or(BadLine::Ident)?;
    let user = c.token().ok_or(BadLine::Ident)?;
    let ts = c
        .bracketed()
        .and_then(parse_clf_time)
        .ok_or(BadLine::Timestamp)?;
    let request = c.quoted().ok_or(BadLine::Request)?;
    let (method, target, version) = parse_request(request).ok_or(BadLine::Request)?;
    let status = c.token().and_then(parse_status).ok_or(BadLine::Status)?;
    let bytes = c.token().and_then(parse_bytes).ok_or(BadLine::Bytes)?;
    let (referer, user_agent) = match format {
        LogFormat::Common => (None, None),
        LogFormat::Combined => {
            let r = c.quoted().ok_or(BadLine::Referer)?;
            let ua = c.quoted().ok_or(BadLine::Referer)?;
            (Some(r), Some(ua))
        }
        LogFormat::Auto => match (c.quoted(), c.quoted()) {
            (Some(r), Some(ua)) => (Some(r), Some(ua)),
            _ => (None, None),
        },
    };
    Ok(LogEntry {
        host,
        client_ip,
        user,
        ts,
        method,
        target,
        version,
        status,
        bytes,
        referer,
        user_agent,
    })
}

fn parse_ip(host: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(host).ok()?;
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// `METHOD target HTTP/x.y`, or `METHOD target` (HTTP/0.9). Anything else (`-`, a TLS
/// handshake logged as `\x16\x03...`, an empty string) is `None`.
fn parse_request(r: &[u8]) -> Option<(&str, Cow<'_, str>, &str)> {
    let sp = r.iter().position(|&b| b == b' ')?;
    let method = r.get(..sp)?;
    // RFC 9110 token characters; real methods are letters, and this keeps escapes out.
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if method.is_empty() || method.len() > 32 || !method.iter().all(is_tchar) {
        return None;
    }
    let method = std::str::from_utf8(method).ok()?;
    let rest = r.get(sp + 1..)?;
    let (target, version) = match rest.iter().rposition(|&b| b == b' ') {
        Some(i) if rest.get(i + 1..).is_some_and(|v| v.starts_with(b"HTTP/")) => {
            let v = std::str::from_utf8(rest.get(i + 1..)?).ok()?;
            (rest.get(..i)?, v)
        }
        _ => (rest, ""),
    };
    if target.is_empty() || target.contains(&b' ') {
        return None;
    }
    Some((method, String::from_utf8_lossy(target), version))
}

fn parse_status(t: &[u8]) -> Option<u16> {
    if t.len() != 3 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn parse_bytes(t: &[u8]) -> Option<u64> {
    if t == b"-" {
        return Some(0);
    }
    if t.is_empty() || t.len() > 19 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `10/Oct/2000:13:55:36 -0700` → UTC. The offset is the local time's distance from UTC, so
/// UTC = local − offset.
pub fn parse_clf_time(s: &[u8]) -> Option<Timestamp> {
    // dd/Mon/yyyy:HH:MM:SS +hhmm, exactly 26 bytes.
    if s.len() != 26 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = s.get(r)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    let sep_ok = s.get(2) == Some(&b'/')
        && s.get(6) == Some(&b'/')
        && s.get(11) == Some(&b':')
        && s.get(14) == Some(&b':')
        && s.get(17) == Some(&b':')
        && s.get(20) == Some(&b' ');
    if !sep_ok {
        return None;
    }
    let day = num(0..2)?;
    let month_name = s.get(3..6)?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))? as i64
        + 1;
    let year = num(7..11)?;
    let (h, m, sec) = (num(12..14)?, num(15..17)?, num(18..20)?);
    let sign = match s.get(21)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (num(22..24)?, num(24..26)?);
    // 60 allows a leap second; the offset's minutes must be a real minute count.
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || oh > 23 || om > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + h * 3600 + m * 60 + sec;
    let utc = local - sign * (oh * 3600 + om * 60);
    u64::try_from(utc).ok().map(Timestamp::from_secs)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_clf_time(b"01/Jan/1970:00:00:00 +0000"),
            Some(Timestamp::from_secs(0))
        );
        assert_eq!(parse_clf_time(b"01/Jan/1970:00:00:00 +0100"), None);
        assert_eq!(parse_clf_time(b"29/Feb/2001:00:00:00 +0000"), None);
        assert!(parse_clf_time(b"29/Feb/2000:00:00:00 +0000").is_some());
    }
}
