//! Format strings as servers write them, turned into a line parser: an nginx `log_format`
//! (`$remote_addr - $remote_user [$time_local] "$request" $status … $request_time`) or an
//! Apache `LogFormat` (`%h %l %u %t "%r" %>s %b … %D`). A [`Template`] is the list of literal
//! texts and fields; a line is read by matching each literal in turn, each field ending where
//! the next literal begins (a quoted field ends at its closing quote, skipping Apache's `\"`).
//! Fields we do not use (referer, agent, headers, unknown variables) are skipped whatever they
//! hold. Two fields with nothing between them cannot be told apart and are refused when the
//! format is read, except Apache's `%U%q` (the path, then the query), read as one target.

use std::borrow::Cow;
use std::time::Duration;

use super::escape::{Escapes, lossy, unescape};
use super::parse::{
    BadLine, LogEntry, TimeUnit, parse_bytes, parse_ip, parse_request, parse_status, valid_method,
};
use super::timefmt::parse_any_time;

/// What a field of a format string holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Client,
    User,
    /// Any time form [`parse_any_time`] reads.
    Time,
    /// The whole request line.
    Request,
    Method,
    /// The target, with its query when it has one.
    Target,
    Protocol,
    Status,
    Bytes,
    /// The request time in this unit.
    Duration(TimeUnit),
    /// Read and ignored.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Lit(Vec<u8>),
    Field(Field),
}

/// Which server's syntax a format string is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Nginx,
    Apache,
}

/// A compiled format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    items: Vec<Item>,
    pub dialect: Dialect,
}

/// The field an nginx variable fills.
pub fn nginx_field(var: &str) -> Field {
    match var {
        "remote_addr" | "realip_remote_addr" => Field::Client,
        "remote_user" => Field::User,
        "time_local" | "time_iso8601" | "msec" => Field::Time,
        "request" => Field::Request,
        "request_method" => Field::Method,
        "request_uri" | "uri" | "document_uri" => Field::Target,
        "server_protocol" => Field::Protocol,
        "status" => Field::Status,
        "body_bytes_sent" | "bytes_sent" => Field::Bytes,
        "request_time" => Field::Duration(TimeUnit::Secs),
        _ => Field::Skip,
    }
}

/// The field an Apache directive fills: its letter and its `{…}` argument.
fn apache_field(letter: u8, arg: &str) -> Result<Field, String> {
    Ok(match (letter, arg) {
        (b'h' | b'a', _) => Field::Client,
        (b'u', _) => Field::User,
        // `[10/Oct/2000:13:55:36 -0700]`, or `%{sec}t`: epoch seconds.
        (b't', "" | "sec") => Field::Time,
        (b't', _) => Field::Skip,
        (b'r', _) => Field::Request,
        (b'm', _) => Field::Method,
        (b'U', _) => Field::Target,
        (b'H', _) => Field::Protocol,
        (b's', _) => Field::Status,
        (b'b' | b'B' | b'O', _) => Field::Bytes,
        (b'D', _) => Field::Duration(TimeUnit::Micros),
        (b'T', "" | "s") => Field::Duration(TimeUnit::Secs),
        (b'T', "ms") => Field::Duration(TimeUnit::Millis),
        (b'T', "us") => Field::Duration(TimeUnit::Micros),
        (b'l' | b'v' | b'V' | b'p' | b'P' | b'i' | b'o' | b'e' | b'n' | b'C' | b'q' | b'f', _) => {
            Field::Skip
        }
        (b'A' | b'k' | b'L' | b'R' | b'S' | b'I' | b'X' | b'c' | b'x' | b'^' | b'E', _) => {
            Field::Skip
        }
        _ => {
            return Err(format!(
                "unknown Apache directive '%{}'",
                char::from(letter)
            ));
        }
    })
}

impl Template {
    /// Reads an nginx `log_format` string.
    pub fn nginx(format: &str) -> Result<Template, String> {
        let b = format.as_bytes();
        let mut items = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if c != b'$' {
                lit.push(c);
                i += 1;
                continue;
            }
            let (name, len) = if b.get(i + 1) == Some(&b'{') {
                let end = b
                    .get(i + 2..)
                    .and_then(|r| r.iter().position(|&x| x == b'}'))
                    .ok_or("an unclosed '${' in the format")?;
                (b.get(i + 2..i + 2 + end).unwrap_or_default(), end + 3)
            } else {
                let n = b
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|x| x.is_ascii_alphanumeric() || **x == b'_')
                    .count();
                (b.get(i + 1..i + 1 + n).unwrap_or_default(), n + 1)
            };
            if name.is_empty() {
                lit.push(c);
                i += 1;
                continue;
            }
            let name = std::str::from_utf8(name).unwrap_or_default();
            push_field(&mut items, &mut lit, nginx_field(name), name)?;
            i += len;
        }
        finish(items, lit, Dialect::Nginx)
    }

    /// Reads an Apache `LogFormat` string (`mod_log_config`'s directives; conditions such as
    /// `%400,501{User-agent}i` and the `<`/`>` of `%>s` are accepted and ignored).
    pub fn apache(format: &str) -> Result<Template, String> {
        let b = format.as_bytes();
        let mut items = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            // Apache's own string escapes, as in its config files.
            if c == b'\\' {
                match b.get(i + 1) {
                    Some(b'n') => lit.push(b'\n'),
                    Some(b't') => lit.push(b'\t'),
                    Some(&e) => lit.push(e),
                    None => lit.push(c),
                }
                i += 2;
                continue;
            }
            if c != b'%' {
                lit.push(c);
                i += 1;
                continue;
            }
            i += 1;
            if b.get(i) == Some(&b'%') {
                lit.push(b'%');
                i += 1;
                continue;
            }
            while b
                .get(i)
                .is_some_and(|x| x.is_ascii_digit() || b",!<>".contains(x))
            {
                i += 1;
            }
            let mut arg = "";
            if b.get(i) == Some(&b'{') {
                let end = b
                    .get(i + 1..)
                    .and_then(|r| r.iter().position(|&x| x == b'}'))
                    .ok_or("an unclosed '%{' in the format")?;
                arg = std::str::from_utf8(b.get(i + 1..i + 1 + end).unwrap_or_default())
                    .unwrap_or_default();
                i += end + 2;
            }
            let letter = *b.get(i).ok_or("a '%' at the end of the format")?;
            i += 1;
            let field = apache_field(letter, arg)?;
            // `%U%q`: the query follows the path with nothing between; one target.
            if letter == b'q' && lit.is_empty() && items.last() == Some(&Item::Field(Field::Target))
            {
                continue;
            }
            let name = format!("%{}", char::from(letter));
            push_field(&mut items, &mut lit, field, &name)?;
        }
        finish(items, lit, Dialect::Apache)
    }

    /// The fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.items.iter().filter_map(|i| match i {
            Item::Field(f) => Some(*f),
            Item::Lit(_) => None,
        })
    }

    /// Reads one line.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<LogEntry<'a>, BadLine> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(BadLine::Empty);
        }
        let mut e = Parts::default();
        let mut at = 0;
        let mut quoted = false;
        for (n, item) in self.items.iter().enumerate() {
            let rest = line.get(at..).unwrap_or_default();
            match item {
                Item::Lit(l) => {
                    if !rest.starts_with(l) {
                        return Err(BadLine::Layout);
                    }
                    at += l.len();
                    quoted = l.last() == Some(&b'"');
                }
                Item::Field(f) => {
                    let next = match self.items.get(n + 1) {
                        Some(Item::Lit(l)) => Some(l.as_slice()),
                        _ => None,
                    };
                    let len = field_len(rest, *f, next, quoted).ok_or_else(|| f.bad())?;
                    e.set(*f, rest.get(..len).unwrap_or_default())?;
                    at += len;
                }
            }
        }
        e.entry()
    }
}

fn push_field(
    items: &mut Vec<Item>,
    lit: &mut Vec<u8>,
    field: Field,
    name: &str,
) -> Result<(), String> {
    if lit.is_empty() {
        if let Some(Item::Field(_)) = items.last() {
            return Err(format!(
                "'{name}' follows another field with nothing between them; the two cannot be told apart"
            ));
        }
    } else {
        items.push(Item::Lit(std::mem::take(lit)));
    }
    items.push(Item::Field(field));
    Ok(())
}

fn finish(mut items: Vec<Item>, lit: Vec<u8>, dialect: Dialect) -> Result<Template, String> {
    if !lit.is_empty() {
        items.push(Item::Lit(lit));
    }
    let t = Template { items, dialect };
    let has = |want: &[Field]| t.fields().any(|f| want.contains(&f));
    if !has(&[Field::Time]) {
        return Err("the format has no time field ($time_local, $time_iso8601, $msec, %t)".into());
    }
    if !has(&[Field::Request, Field::Target]) {
        return Err("the format has no request field ($request, $request_uri, %r, %U)".into());
    }
    if !has(&[Field::Status]) {
        return Err("the format has no status field ($status, %s, %>s)".into());
    }
    Ok(t)
}

/// How long the field at the start of `rest` is.
fn field_len(rest: &[u8], f: Field, next: Option<&[u8]>, quoted: bool) -> Option<usize> {
    let Some(next) = next.filter(|n| !n.is_empty()) else {
        return Some(rest.len());
    };
    // Apache's `%t` writes its own brackets, with a space inside.
    if f == Field::Time && rest.first() == Some(&b'[') {
        let end = rest.iter().position(|&b| b == b']')?;
        return Some(end + 1);
    }
    if quoted && next.first() == Some(&b'"') {
        let mut i = 0;
        while let Some(&b) = rest.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' if rest.get(i..).is_some_and(|r| r.starts_with(next)) => return Some(i),
                _ => i += 1,
            }
        }
        return None;
    }
    find(rest, next)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(p) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + p;
        if hay.get(at..)?.starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

impl Field {
    fn bad(self) -> BadLine {
        match self {
            Field::Client => BadLine::Host,
            Field::User => BadLine::Ident,
            Field::Time => BadLine::Timestamp,
            Field::Request | Field::Method | Field::Target | Field::Protocol => BadLine::Request,
            Field::Status => BadLine::Status,
            Field::Bytes => BadLine::Bytes,
            Field::Duration(_) | Field::Skip => BadLine::Layout,
        }
    }
}

/// Fields as they are found, then checked into an entry.
#[derive(Default)]
pub(crate) struct Parts<'a> {
    pub(crate) host: &'a [u8],
    pub(crate) user: &'a [u8],
    pub(crate) ts: Option<crate::time::Timestamp>,
    pub(crate) request: Option<&'a [u8]>,
    pub(crate) method: Option<&'a [u8]>,
    pub(crate) target: Option<Cow<'a, [u8]>>,
    pub(crate) version: &'a str,
    pub(crate) status: Option<u16>,
    pub(crate) bytes: u64,
    pub(crate) latency: Option<Duration>,
    pub(crate) escapes: Escapes,
}

impl<'a> Parts<'a> {
    pub(crate) fn set(&mut self, f: Field, v: &'a [u8]) -> Result<(), BadLine> {
        match f {
            Field::Client => self.host = v,
            Field::User => self.user = v,
            Field::Time => self.ts = Some(parse_any_time(v).ok_or(BadLine::Timestamp)?),
            Field::Request => self.request = Some(v),
            Field::Method => self.method = Some(v),
            Field::Target => self.target = Some(Cow::Borrowed(v)),
            Field::Protocol => self.version = std::str::from_utf8(v).unwrap_or(""),
            Field::Status => self.status = Some(parse_status(v).ok_or(BadLine::Status)?),
            Field::Bytes => self.bytes = parse_bytes(v).ok_or(BadLine::Bytes)?,
            // `-` (nothing was timed) is no latency, not a bad line.
            Field::Duration(unit) => self.latency = self.latency.or(unit.duration(v)),
            Field::Skip => {}
        }
        Ok(())
    }

    /// The entry, or the first needed field that is missing.
    pub(crate) fn entry(self) -> Result<LogEntry<'a>, BadLine> {
        let ts = self.ts.ok_or(BadLine::Missing)?;
        let status = self.status.ok_or(BadLine::Missing)?;
        let (method, target, version, malformed) = match (self.request, self.method, self.target) {
            // A method and a target logged apart are preferred: they need no splitting.
            (_, Some(m), Some(t)) => match valid_method(m) {
                Some(m) if !t.is_empty() => {
                    let t = match t {
                        Cow::Borrowed(b) => unescape(b, self.escapes),
                        owned => owned,
                    };
                    (m, lossy(t), self.version, false)
                }
                _ => ("-", Cow::Borrowed("-"), "", true),
            },
            // A JSON `request` mapped to a bare target (`json:request=request.uri`).
            (Some(r), m, None) if r.first() == Some(&b'/') && !r.contains(&b' ') => {
                let m = m.and_then(valid_method).unwrap_or("GET");
                (m, lossy(unescape(r, self.escapes)), self.version, false)
            }
            (Some(r), _, _) => {
                let r = parse_request(r, self.escapes);
                (r.method, r.target, r.version, r.malformed)
            }
            (None, m, Some(t)) if !t.is_empty() => {
                let m = m.and_then(valid_method).unwrap_or("GET");
                let t = match t {
                    Cow::Borrowed(b) => unescape(b, self.escapes),
                    owned => owned,
                };
                (m, lossy(t), self.version, false)
            }
            _ => return Err(BadLine::Missing),
        };
        Ok(LogEntry {
            host: self.host,
            client_ip: parse_ip(self.host),
            user: self.user,
            ts,
            method,
            target,
            version,
            status,
            bytes: self.bytes,
            referer: None,
            user_agent: None,
            latency: self.latency,
            malformed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time";

    #[test]
    fn nginx_timed_format_reads_latency_and_decodes_escapes() {
        let t = Template::nginx(TIMED).unwrap();
        let l = br#"10.0.0.1 - bob [30/Nov/2026:10:00:00 +0000] "GET /a\x22b/c?q=1 HTTP/1.1" 404 12 "-" "curl/8 \x22x\x22" 0.250"#;
        let e = t.parse(l).unwrap();
        assert_eq!(e.method, "GET");
        assert_eq!(e.target, "/a\"b/c?q=1");
        assert_eq!(e.status, 404);
        assert_eq!(e.bytes, 12);
        assert_eq!(e.user, b"bob");
        assert_eq!(e.latency, Some(Duration::from_millis(250)));
        assert_eq!(e.ts.rfc3339_utc(), "2026-11-30T10:00:00Z");
    }

    #[test]
    fn nginx_time_first_and_braced_names() {
        let t =
            Template::nginx("${request_time}s $msec $status \"$request_method ${request_uri}\"")
                .unwrap();
        let e = t
            .parse(br#"0.001s 1796032800.500 200 "POST /x/y""#)
            .unwrap();
        assert_eq!((e.method, e.target.as_ref()), ("POST", "/x/y"));
        assert_eq!(e.latency, Some(Duration::from_millis(1)));
        assert_eq!(e.ts.micros(), 1_796_032_800_500_000);
    }

    #[test]
    fn apache_formats() {
        let t =
            Template::apache(r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D"#)
                .unwrap();
        let l = br#"::1 - - [30/Nov/2026:10:00:00 +0000] "GET /caf\xc3\xa9/x\"q\" HTTP/1.1" 200 - "-" "ua \"x\"" 1500"#;
        let e = t.parse(l).unwrap();
        assert_eq!(e.target, "/café/x\"q\"");
        assert_eq!(e.latency, Some(Duration::from_micros(1500)));
        assert_eq!(e.bytes, 0);
        assert!(
            Template::apache("%a %{ms}T %m %U%q %H %s").is_err(),
            "no time"
        );
        let t = Template::apache("%{%d}t %t %a %{ms}T \"%m %U%q %H\" %s").unwrap();
        let e = t
            .parse(b"30 [30/Nov/2026:10:00:00 +0000] 1.2.3.4 7 \"GET /s?x=1 HTTP/1.0\" 301")
            .unwrap();
        assert_eq!((e.target.as_ref(), e.version), ("/s?x=1", "HTTP/1.0"));
        assert_eq!(e.latency, Some(Duration::from_millis(7)));
    }

    #[test]
    fn formats_that_cannot_be_read_are_refused() {
        assert!(Template::nginx("$status$request_time [$time_local] $request").is_err());
        assert!(Template::nginx("$status $request").is_err());
        assert!(Template::apache("%t %r %>s %Z").is_err());
        assert!(Template::apache("%t %r %{x").is_err());
    }

    #[test]
    fn lines_that_do_not_follow_the_format_name_the_field() {
        let t = Template::nginx(TIMED).unwrap();
        assert_eq!(t.parse(b"").unwrap_err(), BadLine::Empty);
        assert_eq!(t.parse(b"10.0.0.1 x").unwrap_err(), BadLine::Host);
        assert_eq!(
            t.parse(br#"1 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 2000 1 "-" "-" 0.1"#)
                .unwrap_err(),
            BadLine::Status
        );
        let e = t
            .parse(br#"1 - - [30/Nov/2026:10:00:00 +0000] "\x16\x03\x01" 400 1 "-" "-" -"#)
            .unwrap();
        assert!(e.malformed);
        assert_eq!(e.latency, None);
    }
}
