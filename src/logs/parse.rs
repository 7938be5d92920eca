//! Access-log lines in the Common and Combined Log Formats, parsed without copying: every field
//! of a [`LogEntry`] borrows from the line. Apache's `common` and `combined` and nginx's default
//! `combined` all write
//!
//! ```text
//! host ident user [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "referer" "agent"
//! ```
//!
//! where Common stops after the byte count. [`ClfLayout`] adds the variants real servers write
//! on the same skeleton: Apache's `vhost_combined` (`host:port` first) and a request time
//! appended (nginx `$request_time` in seconds, Apache `%D` in microseconds). Lines come from
//! files we do not control: any byte sequence gives an entry or a [`BadLine`] naming the first
//! field that did not fit, never a panic. Invalid UTF-8 is fine where HTTP allows it (the
//! target is decoded lossily, only when needed); the method must be an HTTP token. A request
//! field that is not a request line (`-`, a TLS handshake, a bad method) is still a request the
//! server answered, counted as malformed.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use super::escape::{Escapes, lossy, unescape};
pub use super::timefmt::parse_clf_time;
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
    /// The text between fields is not what the format string says.
    Layout,
    /// A JSON line that is not one object.
    Json,
    /// A field the layout needs (time, request, status) is absent.
    Missing,
}

impl BadLine {
    pub const ALL: [BadLine; 11] = [
        BadLine::Empty,
        BadLine::Host,
        BadLine::Ident,
        BadLine::Timestamp,
        BadLine::Request,
        BadLine::Status,
        BadLine::Bytes,
        BadLine::Referer,
        BadLine::Layout,
        BadLine::Json,
        BadLine::Missing,
    ];

    /// The position in [`BadLine::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The counter name in the summary and /metrics.
    pub fn counter(self) -> &'static str {
        match self {
            BadLine::Empty => "log_bad_empty",
            BadLine::Host => "log_bad_host",
            BadLine::Ident => "log_bad_ident",
            BadLine::Timestamp => "log_bad_timestamp",
            BadLine::Request => "log_bad_request",
            BadLine::Status => "log_bad_status",
            BadLine::Bytes => "log_bad_bytes",
            BadLine::Referer => "log_bad_referer",
            BadLine::Layout => "log_bad_layout",
            BadLine::Json => "log_bad_json",
            BadLine::Missing => "log_bad_missing_field",
        }
    }

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
            BadLine::Layout => "does not follow the format",
            BadLine::Json => "not a JSON object",
            BadLine::Missing => "a needed field is missing",
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
    /// From the log's timing field (`$request_time`, `%D`, Caddy's `duration`, HAProxy's
    /// `Ta`), when the layout has one.
    pub latency: Option<Duration>,
    /// The request field was not a request line (`-`, TLS bytes, a bad method); `method`
    /// and `target` are then `-`.
    pub malformed: bool,
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
pub(crate) struct Cursor<'a> {
    pub(crate) line: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn skip_spaces(&mut self) {
        while self.line.get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    /// The next space-separated token, if any.
    pub(crate) fn token(&mut self) -> Option<&'a [u8]> {
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
    pub(crate) fn bracketed(&mut self) -> Option<&'a [u8]> {
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
    pub(crate) fn quoted(&mut self) -> Option<&'a [u8]> {
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

/// Which of the Common Log Format's variants a log follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClfLayout {
    pub format: LogFormat,
    /// Apache's `vhost_combined`: `%v:%p` before the client.
    pub vhost: bool,
    /// A request time appended after the last field.
    pub timing: Option<TimeUnit>,
}

/// The unit of a logged request time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// nginx `$request_time` (`0.004`), Apache `%T`, Caddy `duration`.
    Secs,
    /// Apache `%{ms}T`, morgan.
    Millis,
    /// Apache `%D`, `%{us}T`.
    Micros,
    Nanos,
}

impl TimeUnit {
    /// A logged number (`0.004`, `1234`, `3.456`) in this unit; `None` for `-` or garbage.
    pub fn duration(self, t: &[u8]) -> Option<Duration> {
        let s = std::str::from_utf8(t).ok()?;
        // Digits, a point and an exponent (JSON writers may use one); not `inf` or `NaN`.
        if !s.starts_with(|c: char| c.is_ascii_digit())
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
        {
            return None;
        }
        let v: f64 = s.parse().ok()?;
        let secs = match self {
            TimeUnit::Secs => v,
            TimeUnit::Millis => v / 1e3,
            TimeUnit::Micros => v / 1e6,
            TimeUnit::Nanos => v / 1e9,
        };
        // A day bounds what a request time can be; beyond is a bad field, not a latency.
        (secs.is_finite() && secs < 86_400.0).then(|| Duration::from_secs_f64(secs))
    }
}

/// Parses one line (without its line ending; a trailing `\r` is ignored).
pub fn parse_line(line: &[u8], format: LogFormat) -> Result<LogEntry<'_>, BadLine> {
    parse_clf(
        line,
        ClfLayout {
            format,
            ..ClfLayout::default()
        },
    )
}

/// [`parse_line`] for any [`ClfLayout`].
pub fn parse_clf(line: &[u8], layout: ClfLayout) -> Result<LogEntry<'_>, BadLine> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(BadLine::Empty);
    }
    let mut c = Cursor { line, at: 0 };
    if layout.vhost {
        c.token().ok_or(BadLine::Host)?;
    }
    let host = c.token().ok_or(BadLine::Host)?;
    let client_ip = parse_ip(host);
    let _ident = c.token().ok_or(BadLine::Ident)?;
    let user = c.token().ok_or(BadLine::Ident)?;
    let ts = c
        .bracketed()
        .and_then(parse_clf_time)
        .ok_or(BadLine::Timestamp)?;
    let request = c.quoted().ok_or(BadLine::Request)?;
    let req = parse_request(request, Escapes::Backslash);
    let status = c.token().and_then(parse_status).ok_or(BadLine::Status)?;
    let bytes = c.token().and_then(parse_bytes).ok_or(BadLine::Bytes)?;
    let (referer, user_agent) = match layout.format {
        LogFormat::Common => (None, None),
        LogFormat::Combined => {
            let r = c.quoted().ok_or(BadLine::Referer)?;
            let ua = c.quoted().ok_or(BadLine::Referer)?;
            (Some(r), Some(ua))
        }
        LogFormat::Auto => {
            let at = c.at;
            match (c.quoted(), c.quoted()) {
                (Some(r), Some(ua)) => (Some(r), Some(ua)),
                _ => {
                    c.at = at;
                    (None, None)
                }
            }
        }
    };
    let latency = match layout.timing {
        Some(unit) => c.token().and_then(|t| unit.duration(t)),
        None => None,
    };
    Ok(LogEntry {
        host,
        client_ip,
        user,
        ts,
        method: req.method,
        target: req.target,
        version: req.version,
        status,
        bytes,
        referer,
        user_agent,
        latency,
        malformed: req.malformed,
    })
}

/// A logged request field, taken apart.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: Cow<'a, str>,
    pub(crate) version: &'a str,
    pub(crate) malformed: bool,
}

impl Request<'_> {
    fn malformed() -> Self {
        Request {
            method: "-",
            target: Cow::Borrowed("-"),
            version: "",
            malformed: true,
        }
    }
}

pub(crate) fn parse_ip(host: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(host).ok()?;
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// `METHOD target HTTP/x.y`, or `METHOD target` (HTTP/0.9), with the target's escapes
/// decoded. Anything else (`-`, a TLS handshake logged as `\x16\x03...`, an empty string) is
/// a malformed request.
pub(crate) fn parse_request(r: &[u8], esc: Escapes) -> Request<'_> {
    split_request(r, esc).unwrap_or_else(Request::malformed)
}

fn split_request(r: &[u8], esc: Escapes) -> Option<Request<'_>> {
    let sp = r.iter().position(|&b| b == b' ')?;
    let method = r.get(..sp)?;
    let method = valid_method(method)?;
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
    Some(Request {
        method,
        target: lossy(unescape(target, esc)),
        version,
        malformed: false,
    })
}

/// An HTTP method: RFC 9110 token characters (real methods are letters, and this keeps
/// escapes out), at most 32 of them.
pub(crate) fn valid_method(m: &[u8]) -> Option<&str> {
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if m.is_empty() || m.len() > 32 || !m.iter().all(is_tchar) {
        return None;
    }
    std::str::from_utf8(m).ok()
}

pub(crate) fn parse_status(t: &[u8]) -> Option<u16> {
    if t.len() != 3 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

pub(crate) fn parse_bytes(t: &[u8]) -> Option<u64> {
    if t == b"-" {
        return Some(0);
    }
    if t.is_empty() || t.len() > 19 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}
