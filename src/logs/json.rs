//! JSON-lines access logs: nginx `log_format … escape=json '{…}'` and Caddy's access log
//! (`{"ts":…,"request":{"method":…,"uri":…,"proto":…},"duration":…,"size":…,"status":…}`).
//! A [`JsonFields`] maps paths (`request.uri`) to the fields an entry needs; the names are
//! found from a first line ([`JsonFields::detect`]) or given (`json:time=ts,uri=request.uri`).
//!
//! The scanner is our own, not serde_json: nginx's `escape=json` writes bytes >= 0x80 as they
//! are, so its "JSON" is not always UTF-8, and a log line must cost no allocation. It reads one
//! object, descends only into objects on the way to a wanted path, and skips everything else;
//! nesting deeper than [`MAX_DEPTH`] is a bad line. A test holds it to serde_json.

use super::escape::Escapes;
use super::parse::{BadLine, LogEntry, TimeUnit};
use super::template::{Field, Parts};

/// Deepest nesting read (Caddy's headers are three deep).
pub const MAX_DEPTH: usize = 16;
/// Deepest path a field can name.
const MAX_PATH: usize = 4;

/// The names each field goes by in the logs we know, first match wins.
const KNOWN: &[(&str, Field)] = &[
    ("ts", Field::Time),
    ("time_iso8601", Field::Time),
    ("time_local", Field::Time),
    ("msec", Field::Time),
    ("time", Field::Time),
    ("timestamp", Field::Time),
    ("@timestamp", Field::Time),
    ("request", Field::Request),
    ("request.method", Field::Method),
    ("request_method", Field::Method),
    ("method", Field::Method),
    ("request.uri", Field::Target),
    ("request_uri", Field::Target),
    ("uri", Field::Target),
    ("url", Field::Target),
    ("path", Field::Target),
    ("request.proto", Field::Protocol),
    ("server_protocol", Field::Protocol),
    ("protocol", Field::Protocol),
    ("status", Field::Status),
    ("status_code", Field::Status),
    ("body_bytes_sent", Field::Bytes),
    ("size", Field::Bytes),
    ("bytes_sent", Field::Bytes),
    ("bytes", Field::Bytes),
    ("request_time", Field::Duration(TimeUnit::Secs)),
    ("duration", Field::Duration(TimeUnit::Secs)),
    ("duration_ms", Field::Duration(TimeUnit::Millis)),
    ("response_time", Field::Duration(TimeUnit::Millis)),
    ("request.remote_ip", Field::Client),
    ("request.client_ip", Field::Client),
    ("remote_addr", Field::Client),
    ("remote_ip", Field::Client),
    ("client_ip", Field::Client),
];

/// Where each field is in a JSON line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFields {
    paths: Vec<(Vec<Box<[u8]>>, Field)>,
    /// A Caddy access log (its `logger` is `http.log.access…`).
    pub caddy: bool,
}

/// `a.b.c` as path segments.
fn split_path(p: &str) -> Vec<Box<[u8]>> {
    p.split('.').map(|s| s.as_bytes().into()).collect()
}

/// The field an override key names.
fn override_field(key: &str) -> Option<Field> {
    Some(match key {
        "time" | "ts" => Field::Time,
        "request" => Field::Request,
        "method" => Field::Method,
        "uri" | "target" | "path" | "url" => Field::Target,
        "protocol" | "proto" => Field::Protocol,
        "status" => Field::Status,
        "bytes" | "size" => Field::Bytes,
        "duration" | "duration_s" | "request_time" => Field::Duration(TimeUnit::Secs),
        "duration_ms" => Field::Duration(TimeUnit::Millis),
        "duration_us" => Field::Duration(TimeUnit::Micros),
        "duration_ns" => Field::Duration(TimeUnit::Nanos),
        "client" | "remote_addr" => Field::Client,
        _ => return None,
    })
}

/// `time=ts,uri=request.uri,…` (after `json:`) as (field, path) pairs.
pub fn parse_overrides(spec: &str) -> Result<Vec<(Field, String)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not FIELD=PATH (e.g. uri=request.uri)"))?;
        let f = override_field(k.trim()).ok_or_else(|| {
            format!(
                "unknown JSON field '{k}'; use time, request, method, uri, protocol, status, bytes, duration, duration_ms, duration_us, duration_ns, client"
            )
        })?;
        let v = v.trim();
        if v.is_empty() || v.split('.').count() > MAX_PATH {
            return Err(format!("bad JSON path '{v}' for {k}"));
        }
        out.push((f, v.to_owned()));
    }
    Ok(out)
}

impl JsonFields {
    /// Fields at the given paths only.
    pub fn new(fields: &[(Field, String)]) -> JsonFields {
        JsonFields {
            paths: fields.iter().map(|(f, p)| (split_path(p), *f)).collect(),
            caddy: false,
        }
    }

    /// The fields found in `line` under the names nginx and Caddy logs use, with `given`
    /// taking precedence; `None` when `line` is not an object or has no time, request or status.
    pub fn detect(line: &[u8], given: &[(Field, String)]) -> Option<JsonFields> {
        let mut seen = Collect::default();
        Scanner::new(line).document(&mut seen)?;
        let mut paths: Vec<(Vec<Box<[u8]>>, Field)> =
            given.iter().map(|(f, p)| (split_path(p), *f)).collect();
        for (name, field) in KNOWN {
            let taken = paths.iter().any(|(_, f)| same_kind(*f, *field));
            let want = split_path(name);
            let present = seen
                .leaves
                .iter()
                .any(|(p, string)| *p == want && (*field != Field::Request || *string));
            if !taken && present {
                paths.push((want, *field));
            }
        }
        let has = |want: &[Field]| paths.iter().any(|(_, f)| want.contains(f));
        if !has(&[Field::Time]) || !has(&[Field::Request, Field::Target]) || !has(&[Field::Status])
        {
            return None;
        }
        Some(JsonFields {
            paths,
            caddy: seen.caddy,
        })
    }

    /// The fields found, as `name=path` for the message saying what was picked.
    pub fn describe(&self) -> String {
        self.paths
            .iter()
            .map(|(p, f)| {
                let path: Vec<String> = p
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                format!("{}={}", field_name(*f), path.join("."))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads one line.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<LogEntry<'a>, BadLine> {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(BadLine::Empty);
        }
        let mut x = Extract {
            fields: self,
            parts: Parts {
                escapes: Escapes::Json,
                ..Parts::default()
            },
            bad: None,
        };
        Scanner::new(line).document(&mut x).ok_or(BadLine::Json)?;
        if let Some(b) = x.bad {
            return Err(b);
        }
        x.parts.entry()
    }
}

fn same_kind(a: Field, b: Field) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

fn field_name(f: Field) -> &'static str {
    match f {
        Field::Client => "client",
        Field::User => "user",
        Field::Time => "time",
        Field::Request => "request",
        Field::Method => "method",
        Field::Target => "uri",
        Field::Protocol => "protocol",
        Field::Status => "status",
        Field::Bytes => "bytes",
        Field::Duration(TimeUnit::Secs) => "duration",
        Field::Duration(TimeUnit::Millis) => "duration_ms",
        Field::Duration(TimeUnit::Micros) => "duration_us",
        Field::Duration(TimeUnit::Nanos) => "duration_ns",
        Field::Skip => "skip",
    }
}

/// A scalar as written: a string's bytes between its quotes (escapes intact), or a number,
/// `true`, `false`, `null`.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Str(&'a [u8]),
    Other(&'a [u8]),
}

trait Visit<'a> {
    /// Whether to read inside the object at `path` (else it is skipped).
    fn descend(&self, path: &[&'a [u8]]) -> bool;
    fn leaf(&mut self, path: &[&'a [u8]], value: Raw<'a>);
}

struct Extract<'f, 'a> {
    fields: &'f JsonFields,
    parts: Parts<'a>,
    bad: Option<BadLine>,
}

fn path_is(want: &[Box<[u8]>], path: &[&[u8]]) -> bool {
    want.len() == path.len() && want.iter().zip(path).all(|(w, p)| **w == **p)
}

impl<'a> Visit<'a> for Extract<'_, 'a> {
    fn descend(&self, path: &[&'a [u8]]) -> bool {
        self.fields.paths.iter().any(|(p, _)| {
            p.len() > path.len() && path_is(p.get(..path.len()).unwrap_or_default(), path)
        })
    }

    fn leaf(&mut self, path: &[&'a [u8]], value: Raw<'a>) {
        let Some((_, f)) = self.fields.paths.iter().find(|(p, _)| path_is(p, path)) else {
            return;
        };
        let v = match value {
            Raw::Str(s) => s,
            // `null` is an absent field.
            Raw::Other(b"null") => return,
            Raw::Other(n) => n,
        };
        if let Err(b) = self.parts.set(*f, v) {
            self.bad.get_or_insert(b);
        }
    }
}

/// Every scalar's path (to [`MAX_PATH`] deep), and whether it is a string.
#[derive(Default)]
struct Collect {
    leaves: Vec<(Vec<Box<[u8]>>, bool)>,
    caddy: bool,
}

impl<'a> Visit<'a> for Collect {
    fn descend(&self, path: &[&'a [u8]]) -> bool {
        path.len() < MAX_PATH
    }

    fn leaf(&mut self, path: &[&'a [u8]], value: Raw<'a>) {
        if let ([b"logger"], Raw::Str(v)) = (path, value) {
            self.caddy = v.starts_with(b"http.log.access");
        }
        if self.leaves.len() < 1024 {
            let p = path.iter().map(|s| Box::<[u8]>::from(*s)).collect();
            self.leaves.push((p, matches!(value, Raw::Str(_))));
        }
    }
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scanner { s, i: 0 }
    }

    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b" \t\r\n".contains(b)) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.peek()? == b).then(|| self.i += 1)
    }

    /// One object and nothing after it but spaces.
    fn document(&mut self, v: &mut impl Visit<'a>) -> Option<()> {
        let mut path = [&b""[..]; MAX_PATH];
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        self.object(v, &mut path, 0, 0)?;
        self.ws();
        (self.i == self.s.len()).then_some(())
    }

    /// A string's raw bytes; the scanner is on its opening quote.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.i += 1;
        let start = self.i;
        loop {
            match *self.s.get(self.i)? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return self.s.get(start..self.i - 1);
                }
                // Control bytes are not allowed in JSON strings; a cut or hostile line.
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }

    /// The object at the scanner; `depth` counts nesting, `known` how much of `path` is set.
    fn object(
        &mut self,
        v: &mut impl Visit<'a>,
        path: &mut [&'a [u8]; MAX_PATH],
        depth: usize,
        known: usize,
    ) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            // Paths deeper than MAX_PATH cannot be wanted: their values are only skipped.
            let tracked = known == depth && depth < MAX_PATH;
            if tracked && let Some(slot) = path.get_mut(depth) {
                *slot = key;
            }
            let here = path.get(..depth + 1).unwrap_or_default();
            match self.peek()? {
                b'{' if tracked && v.descend(here) => self.object(v, path, depth + 1, depth + 1)?,
                b'{' | b'[' => self.skip(depth + 1)?,
                b'"' => {
                    let s = self.string()?;
                    if tracked {
                        v.leaf(here, Raw::Str(s));
                    }
                }
                _ => {
                    let start = self.i;
                    while self
                        .peek()
                        .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                    {
                        self.i += 1;
                    }
                    let s = self.s.get(start..self.i)?;
                    if s.is_empty() {
                        return None;
                    }
                    if tracked {
                        v.leaf(here, Raw::Other(s));
                    }
                }
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Skips the object or array at the scanner, checking only its brackets and strings.
    fn skip(&mut self, depth: usize) -> Option<()> {
        let mut stack = [0u8; MAX_DEPTH];
        let mut n = 0;
        loop {
            match *self.s.get(self.i)? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                open @ (b'{' | b'[') => {
                    if depth + n >= MAX_DEPTH {
                        return None;
                    }
                    *stack.get_mut(n)? = if open == b'{' { b'}' } else { b']' };
                    n += 1;
                }
                close @ (b'}' | b']') => {
                    n = n.checked_sub(1)?;
                    if *stack.get(n)? != close {
                        return None;
                    }
                    if n == 0 {
                        self.i += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const CADDY: &[u8] = br#"{"level":"info","ts":1796032800.25,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/1.1","method":"GET","host":"localhost:8080","uri":"/api/x?y=\"1\"","headers":{"User-Agent":["curl/7.88.1"],"Accept":["*/*"]}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":12,"status":200,"resp_headers":{"Server":["Caddy"],"Content-Type":["text/plain; charset=utf-8"]}}"#;
    const NGINX: &[u8] = b"{\"time_iso8601\":\"2026-11-30T10:00:00+00:00\",\"remote_addr\":\"::1\",\"request\":\"GET /caf\xe9/\\u001b[2J HTTP/1.1\",\"status\":\"404\",\"body_bytes_sent\":\"153\",\"request_time\":\"0.002\",\"http_user_agent\":\"curl\\\"x\"}";

    #[test]
    fn caddy_fields_are_detected() {
        let f = JsonFields::detect(CADDY, &[]).unwrap();
        assert!(f.caddy);
        let e = f.parse(CADDY).unwrap();
        assert_eq!(
            (e.method, e.target.as_ref(), e.version),
            ("GET", "/api/x?y=\"1\"", "HTTP/1.1")
        );
        assert_eq!(e.status, 200);
        assert_eq!(e.bytes, 12);
        assert_eq!(e.host, b"127.0.0.1");
        assert_eq!(e.ts.micros(), 1_796_032_800_250_000);
        assert_eq!(e.latency, Some(Duration::from_nanos(929_675)));
    }

    #[test]
    fn nginx_escape_json_fields_are_detected_with_raw_high_bytes() {
        let f = JsonFields::detect(NGINX, &[]).unwrap();
        assert!(!f.caddy);
        let e = f.parse(NGINX).unwrap();
        assert_eq!(e.target, "/caf\u{fffd}/\u{1b}[2J");
        assert_eq!(e.status, 404);
        assert_eq!(e.bytes, 153);
        assert_eq!(e.latency, Some(Duration::from_millis(2)));
        assert_eq!(e.ts.rfc3339_utc(), "2026-11-30T10:00:00Z");
    }

    #[test]
    fn overrides_take_precedence() {
        let given = parse_overrides("time=t,request=r.u,status=s.code,duration_ms=ms").unwrap();
        let line = br#"{"t":"2026-11-30T10:00:00Z","r":{"u":"/x/y"},"s":{"code":503},"ms":12.5}"#;
        let f = JsonFields::detect(line, &given).unwrap();
        let e = f.parse(line).unwrap();
        assert_eq!(
            (e.method, e.target.as_ref(), e.status),
            ("GET", "/x/y", 503)
        );
        assert_eq!(e.latency, Some(Duration::from_micros(12_500)));
        assert!(parse_overrides("nope=x").is_err());
        assert!(parse_overrides("time").is_err());
    }

    #[test]
    fn bad_json_is_a_bad_line_never_a_panic() {
        let f = JsonFields::detect(CADDY, &[]).unwrap();
        for n in 0..CADDY.len() {
            assert!(f.parse(&CADDY[..n]).is_err(), "{n}");
        }
        let deep = format!("{}{}", "{\"a\":".repeat(100), "}".repeat(100));
        assert_eq!(f.parse(deep.as_bytes()).unwrap_err(), BadLine::Json);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(f.parse(deep.as_bytes()).unwrap_err(), BadLine::Json);
        assert_eq!(f.parse(b"[]").unwrap_err(), BadLine::Json);
        assert_eq!(f.parse(b"{} x").unwrap_err(), BadLine::Json);
        assert_eq!(f.parse(b"{\"a\":\"\0\"}").unwrap_err(), BadLine::Json);
        assert_eq!(f.parse(b"{}").unwrap_err(), BadLine::Missing);
        assert_eq!(
            f.parse(br#"{"ts":1,"request":{"uri":"/"},"status":"x"}"#)
                .unwrap_err(),
            BadLine::Status
        );
    }

    // Differential: on valid JSON, the scanner finds what serde_json finds.
    #[test]
    fn the_scanner_agrees_with_serde_json() {
        let f = JsonFields::new(&parse_overrides("time=ts,uri=a.b.c,status=s,method=m").unwrap());
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..2000 {
            let noise = [
                "1",
                "\"q\\\"\"",
                "[1,{\"b\":2}]",
                "{\"c\":{}}",
                "null",
                "-2.5e3",
                "{}",
            ];
            let mut keys = vec![
                ("ts".to_owned(), "1796032800".to_owned()),
                ("s".to_owned(), "200".to_owned()),
                ("m".to_owned(), "\"PUT\"".to_owned()),
            ];
            let uri = format!("\"/p{}\"", rnd(1000));
            let a = match rnd(3) {
                0 => format!("{{\"b\":{{\"c\":{uri},\"d\":{}}}}}", noise[rnd(7) as usize]),
                1 => format!("{{\"x\":{},\"b\":{{\"c\":{uri}}}}}", noise[rnd(7) as usize]),
                _ => format!("{{\"b\":{}}}", noise[rnd(7) as usize]),
            };
            keys.push(("a".to_owned(), a));
            for _ in 0..rnd(4) {
                keys.push((format!("k{}", rnd(9)), noise[rnd(7) as usize].to_owned()));
            }
            let i = rnd(keys.len() as u64) as usize;
            keys.swap(0, i);
            let line = format!(
                "{{{}}}",
                keys.iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let reference: serde_json::Value = serde_json::from_str(&line).unwrap();
            let want = reference.pointer("/a/b/c").and_then(|v| v.as_str());
            let got = f.parse(line.as_bytes()).ok().map(|e| e.target.into_owned());
            assert_eq!(got.as_deref(), want, "{line}");
        }
    }
}
