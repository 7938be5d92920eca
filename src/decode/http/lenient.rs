//! What a server still reads from a head that the strict grammar rejects, or that is only here
//! in part (cut by a lost segment, a snap length, or the head-size cap).
//!
//! The counting rule: a line that starts a client message and has the shape
//! `token SP target SP HTTP/d.d` is a request, well-formed or not. nginx, Apache, Go and Node
//! answer such a line (usually with 400) and write it to their access log, so a monitor that
//! drops it lets a flood of them pass unseen. The target is any bytes but CR and LF, spaces
//! included, as long as the line ends in ` HTTP/d.d`; line ends may be bare LFs. What breaks the
//! strict grammar is reported as a [`Malformed`] reason, and the framing headers are read as
//! far as they go, so the body after the head is still skipped and a request line inside it is
//! still not taken for a request.
//!
//! Nothing here allocates except a lossy copy of a target that is not UTF-8.

use std::borrow::Cow;

use super::{BodyLength, Framing, TOKEN};

/// How a counted request broke RFC 9112's grammar. Each is a counter in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    /// Control bytes, spaces or bytes that are not UTF-8 in the target, or more than one space
    /// between the parts of the request line.
    RequestLine,
    /// A version other than `HTTP/1.0` and `HTTP/1.1`.
    Version,
    /// A header line without a colon, a header name that is not a token, control bytes in a
    /// value, or a folded line.
    HeaderLine,
    /// Content-Length values that do not parse or disagree.
    Framing,
}

impl Malformed {
    /// Every reason, in a stable order for reports.
    pub const ALL: [Malformed; 4] = [
        Malformed::RequestLine,
        Malformed::Version,
        Malformed::HeaderLine,
        Malformed::Framing,
    ];

    /// A short snake_case name, used as a JSON key and a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::RequestLine => "request_line",
            Malformed::Version => "version",
            Malformed::HeaderLine => "header_line",
            Malformed::Framing => "framing",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Malformed::RequestLine => 0,
            Malformed::Version => 1,
            Malformed::HeaderLine => 2,
            Malformed::Framing => 3,
        }
    }
}

/// The first line of a client message, judged by the counting rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineShape {
    /// `token SP target SP HTTP/d.d`, ended by LF.
    Request,
    /// Cannot be a request line whatever follows.
    NotRequest,
    /// Could still become one: its end has not arrived.
    Incomplete,
}

/// Empty lines before a start line are skipped, as servers do.
fn skip_empty_lines(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len());
    &buf[start..]
}

fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// `HTTP/d.d` exactly: the minor digit, or `None`.
fn version_shape(v: &[u8]) -> Option<(u8, u8)> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Some((major - b'0', minor - b'0'))
        }
        _ => None,
    }
}

/// The line at the start of `p` without its line end, and whether the LF was seen. A CR is
/// allowed only right before the LF.
fn first_line(p: &[u8]) -> Option<(&[u8], bool)> {
    match p.iter().position(|b| *b == b'\n') {
        Some(e) => {
            let line = &p[..e];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.contains(&b'\r')).then_some((line, true))
        }
        None => {
            // A CR can only be the last byte so far (its LF still to come).
            let body = p.strip_suffix(b"\r").unwrap_or(p);
            (!body.contains(&b'\r')).then_some((p, false))
        }
    }
}

/// Judges the first line of `buf` (after empty lines) by the counting rule.
pub fn request_line_shape(buf: &[u8]) -> LineShape {
    let p = skip_empty_lines(buf);
    let method_len = match p.iter().position(|b| !is_token(*b)) {
        None => return LineShape::Incomplete,
        Some(0) => return LineShape::NotRequest,
        Some(i) if p[i] != b' ' => return LineShape::NotRequest,
        Some(i) => i,
    };
    match first_line(p) {
        None => LineShape::NotRequest,
        Some((_, false)) => LineShape::Incomplete,
        Some((line, true)) => match split_request_line(line, method_len) {
            Some(_) => LineShape::Request,
            None => LineShape::NotRequest,
        },
    }
}

/// `method SP target SP HTTP/d.d` → (target, version digits).
fn split_request_line(line: &[u8], method_len: usize) -> Option<(&[u8], (u8, u8))> {
    let (rest, version) = line.split_at_checked(line.len().checked_sub(8)?)?;
    let version = version_shape(version)?;
    let target = rest.get(method_len + 1..)?.strip_suffix(b" ")?;
    (!target.is_empty()).then_some((target, version))
}

/// A request head read by the counting rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LenientRequest<'a> {
    pub method: &'a str,
    /// As sent when it is UTF-8, else with replacement characters; never trusted for display
    /// (outputs escape it like any other).
    pub target: Cow<'a, str>,
    /// The minor version for `HTTP/1.x`, else 1.
    pub version: u8,
    pub host: Option<&'a [u8]>,
    /// The body's framing as far as the headers seen tell it; `None` when they contradict
    /// each other, so the body's end is unknown.
    pub body: Option<BodyLength>,
    /// What broke the grammar, if anything did (a head can be refused by the strict parser
    /// for its size alone).
    pub malformed: Option<Malformed>,
    /// The request line's end was seen: the target is whole.
    pub line_complete: bool,
    /// The blank line that ends the head was seen.
    pub head_complete: bool,
    /// Bytes of the input that belong to the head (all of it when the head is not complete).
    pub head_len: usize,
}

/// What the headers of a head say, read line by line without giving up at a bad one.
struct HeaderScan<'a> {
    framing: Framing,
    host: Option<&'a [u8]>,
    malformed: Option<Malformed>,
    complete: bool,
    /// Index after the blank line, or the input's length.
    end: usize,
}

fn scan_headers(buf: &[u8], mut i: usize, is_request: bool) -> HeaderScan<'_> {
    let mut scan = HeaderScan {
        framing: Framing::default(),
        host: None,
        malformed: None,
        complete: false,
        end: buf.len(),
    };
    while let Some(rest) = buf.get(i..).filter(|r| !r.is_empty()) {
        let Some(e) = rest.iter().position(|b| *b == b'\n') else {
            break;
        };
        let raw = &rest[..e];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        i += e + 1;
        if line.is_empty() {
            scan.complete = true;
            scan.end = i;
            break;
        }
        let name_len = line
            .iter()
            .position(|b| !is_token(*b))
            .unwrap_or(line.len());
        let good = name_len > 0
            && line.get(name_len) == Some(&b':')
            && line[name_len + 1..]
                .iter()
                .all(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f));
        if !good {
            scan.malformed.get_or_insert(Malformed::HeaderLine);
            continue;
        }
        let name = &line[..name_len];
        let value = line[name_len + 1..].trim_ascii();
        if is_request && scan.host.is_none() && name.eq_ignore_ascii_case(b"host") {
            scan.host = Some(value);
        }
        if matches!(name.len(), 14 | 17) {
            scan.framing.header(name, value, is_request);
        }
    }
    scan
}

fn framing_of(scan: HeaderScan<'_>, is_request: bool) -> (Option<BodyLength>, Option<Malformed>) {
    match scan.framing.finish(is_request) {
        Ok(b) => (Some(b), scan.malformed),
        Err(_) => (None, scan.malformed.or(Some(Malformed::Framing))),
    }
}

/// Reads a request head from `buf` by the counting rule: whole or in part. `None` when the
/// first line cannot be a request line, or is cut before one byte of its target.
pub fn read_request(buf: &[u8]) -> Option<LenientRequest<'_>> {
    let skipped = buf.len() - skip_empty_lines(buf).len();
    let p = &buf[skipped..];
    let method_len = p.iter().position(|b| !is_token(*b))?;
    if method_len == 0 || p[method_len] != b' ' {
        return None;
    }
    let method = std::str::from_utf8(&p[..method_len]).ok()?;
    let (line, line_complete) = first_line(p)?;
    let (target, version, malformed) = if line_complete {
        let (target, (major, minor)) = split_request_line(line, method_len)?;
        let strict_target = !target.is_empty()
            && target
                .iter()
                .all(|b| matches!(b, 0x21..=0x7e | 0x80..=0xff))
            && std::str::from_utf8(target).is_ok();
        let malformed = if !strict_target {
            Some(Malformed::RequestLine)
        } else if major != 1 || minor > 1 {
            Some(Malformed::Version)
        } else {
            None
        };
        let version = if major == 1 { minor } else { 1 };
        (target, version, malformed)
    } else {
        let target = line.get(method_len + 1..)?;
        let target = target.strip_suffix(b"\r").unwrap_or(target);
        if target.is_empty() {
            return None;
        }
        (target, 1, None)
    };
    let head_start = skipped + line.len() + usize::from(line_complete);
    // The line end may have been CRLF.
    let head_start = match (line_complete, buf.get(skipped + line.len())) {
        (true, Some(b'\r')) => head_start + 1,
        _ => head_start,
    };
    let (scan_end, complete, host, body, header_malformed) = if line_complete {
        let scan = scan_headers(buf, head_start, true);
        let (end, complete, host) = (scan.end, scan.complete, scan.host);
        let (body, m) = framing_of(scan, true);
        (end, complete, host, body, m)
    } else {
        (buf.len(), false, None, Some(BodyLength::None), None)
    };
    Some(LenientRequest {
        method,
        target: String::from_utf8_lossy(target),
        version,
        host,
        body,
        malformed: malformed.or(header_malformed),
        line_complete,
        head_complete: complete,
        head_len: scan_end,
    })
}

/// A response head read leniently: the status line must be there; the headers go as far as
/// they can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenientResponse {
    pub status: u16,
    pub version: u8,
    /// `None` when the framing headers contradict each other.
    pub body: Option<BodyLength>,
    pub head_complete: bool,
    pub head_len: usize,
}

/// Reads a response head from `buf`, whole or in part: `None` unless it starts with
/// `HTTP/d.d NNN`.
pub fn read_response(buf: &[u8]) -> Option<LenientResponse> {
    let skipped = buf.len() - skip_empty_lines(buf).len();
    let p = &buf[skipped..];
    let (_, minor) = version_shape(p.get(..8)?)?;
    let digits = p.get(8..12)?;
    if digits[0] != b' ' || !digits[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let status = digits[1..]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let (body, complete, end) = match p.iter().position(|b| *b == b'\n') {
        Some(e) => {
            let scan = scan_headers(buf, skipped + e + 1, false);
            let (end, complete) = (scan.end, scan.complete);
            (framing_of(scan, false).0, complete, end)
        }
        None => (Some(BodyLength::UntilClose), false, buf.len()),
    };
    Some(LenientResponse {
        status,
        version: minor,
        body,
        head_complete: complete,
        head_len: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(b: &[u8]) -> LenientRequest<'_> {
        read_request(b).unwrap_or_else(|| panic!("not a request: {:?}", String::from_utf8_lossy(b)))
    }

    #[test]
    fn reasons_have_distinct_names_and_indices_in_order() {
        let names: Vec<&str> = Malformed::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(names, ["request_line", "version", "header_line", "framing"]);
        for (i, m) in Malformed::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
    }

    #[test]
    fn shapes_by_the_counting_rule() {
        use LineShape::*;
        let cases: [(&[u8], LineShape); 18] = [
            (b"GET / HTTP/1.1\r\n", Request),
            (b"GET /a b HTTP/1.1\r\n", Request),
            (b"GET /\x1b[2J HTTP/1.1\n", Request),
            (b"GET /\x00\x07\t HTTP/1.1\r\n", Request),
            (b"\r\nPROPFIND /x HTTP/9.9\r\n", Request),
            (b"GET / HTTP/1.1", Incomplete),
            (b"GET", Incomplete),
            (b"", Incomplete),
            (b"GET / HTTP/1.1\r", Incomplete),
            (b"GET /\r\n", NotRequest),
            (b"GET  HTTP/1.1\r\n", NotRequest),
            (b"GET / HTTP/1.1 \r\n", NotRequest),
            (b"GET / HTTP/x.1\r\n", NotRequest),
            (b"GET /\rx HTTP/1.1\r\n", NotRequest),
            (b" GET / HTTP/1.1\r\n", NotRequest),
            (b"GE(T / HTTP/1.1\r\n", NotRequest),
            (b"\x16\x03\x01", NotRequest),
            (b"SSH-2.0-x\r\n", NotRequest),
        ];
        for (line, want) in cases {
            assert_eq!(
                request_line_shape(line),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn reasons() {
        let r = req(b"GET /a\x1bb HTTP/1.1\r\nHost: h\r\n\r\nnext");
        assert_eq!(r.malformed, Some(Malformed::RequestLine));
        assert_eq!((r.method, &*r.target), ("GET", "/a\x1bb"));
        assert_eq!(r.host, Some(&b"h"[..]));
        assert_eq!((r.head_complete, r.head_len), (true, 30));
        assert_eq!(r.body, Some(BodyLength::None));
        let r = req(b"GET /a b HTTP/1.1\r\n\r\n");
        assert_eq!(
            (&*r.target, r.malformed),
            ("/a b", Some(Malformed::RequestLine))
        );
        let r = req(b"GET /\xff HTTP/1.1\r\n\r\n");
        assert_eq!(r.malformed, Some(Malformed::RequestLine));
        assert_eq!(r.target, "/\u{fffd}");
        let r = req(b"GET / HTTP/2.0\r\n\r\n");
        assert_eq!((r.malformed, r.version), (Some(Malformed::Version), 1));
        let r = req(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!((r.malformed, r.version), (None, 0));
        let r = req(b"GET / HTTP/1.2\r\n\r\n");
        assert_eq!(r.malformed, Some(Malformed::Version));
        let r = req(b"GET / HTTP/1.1\r\nno colon here\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!(r.malformed, Some(Malformed::HeaderLine));
        assert_eq!(r.body, Some(BodyLength::Fixed(3)));
        let r = req(b"GET / HTTP/1.1\r\nA : b\r\n\r\n");
        assert_eq!(r.malformed, Some(Malformed::HeaderLine));
        let r = req(b"GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n");
        assert_eq!(r.malformed, Some(Malformed::HeaderLine));
        let r = req(b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n");
        assert_eq!(r.malformed, Some(Malformed::HeaderLine));
        let r = req(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
        assert_eq!((r.malformed, r.body), (Some(Malformed::Framing), None));
        let r = req(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
        assert_eq!((r.malformed, r.body), (Some(Malformed::Framing), None));
        // The request line's reason wins over a header's.
        let r = req(b"GET /\x07 HTTP/1.1\r\nbad\r\n\r\n");
        assert_eq!(r.malformed, Some(Malformed::RequestLine));
        let r = req(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!((r.malformed, r.body), (None, Some(BodyLength::Chunked)));
        let r = req(b"GET / HTTP/1.1\nHost: a\n\n");
        assert_eq!(
            (r.malformed, r.head_len, r.host),
            (None, 24, Some(&b"a"[..]))
        );
    }

    #[test]
    fn partial_heads() {
        let r = req(b"GET /users/12 HTTP/1.1\r\nHost: example.org\r\nContent-Le");
        assert!(r.line_complete && !r.head_complete);
        assert_eq!((&*r.target, r.body), ("/users/12", Some(BodyLength::None)));
        assert_eq!(r.head_len, 53);
        let r = req(b"POST /up HTTP/1.1\r\nContent-Length: 10\r\nX-Big: aaaa");
        assert_eq!(r.body, Some(BodyLength::Fixed(10)));
        let r = req(b"GET /very/long/pa");
        assert!(!r.line_complete);
        assert_eq!(
            (r.method, &*r.target, r.version),
            ("GET", "/very/long/pa", 1)
        );
        let r = req(b"GET /x\r");
        assert_eq!(&*r.target, "/x");
        assert_eq!(read_request(b"GET "), None);
        assert_eq!(read_request(b"GET"), None);
        assert_eq!(read_request(b"(x"), None);
        assert_eq!(read_request(b"GET /\r\n\r\n"), None);
        assert_eq!(read_request(b""), None);
    }

    #[test]
    fn responses() {
        let r = read_response(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nX\r\n\r\nhello");
        assert_eq!(
            r,
            Some(LenientResponse {
                status: 400,
                version: 1,
                body: Some(BodyLength::Fixed(5)),
                head_complete: true,
                head_len: 50,
            })
        );
        let r = read_response(b"HTTP/1.0 200 OK\r\nServer: ngi");
        assert_eq!(
            r.map(|r| (r.status, r.version, r.body, r.head_complete)),
            Some((200, 0, Some(BodyLength::UntilClose), false))
        );
        let r = read_response(b"HTTP/1.1 204");
        assert_eq!(r.map(|r| r.status), Some(204));
        assert_eq!(read_response(b"HTTP/1.1 20"), None);
        assert_eq!(read_response(b"HTTP/1.1 2x0"), None);
        assert_eq!(read_response(b"HTTQ/1.1 200"), None);
        assert_eq!(read_response(b"HTTP/1.1-200"), None);
        let r = read_response(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(r.map(|r| r.body), Some(None));
    }

    #[test]
    fn never_panics_on_prefixes() {
        let inputs: [&[u8]; 4] = [
            b"\r\n\r\nGET /a\x00b HTTP/1.1\r\nA: b\r\nbad\r\nContent-Length: 2\r\n\r\nxx",
            b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\n",
            b"\n\nPOST / HTTP/1.1\nTransfer-Encoding: chunked\n\n",
            b"\xff\xfe GET / HTTP/1.1\r\n",
        ];
        for input in inputs {
            for n in 0..=input.len() {
                let _ = request_line_shape(&input[..n]);
                let _ = read_request(&input[..n]);
                let _ = read_response(&input[..n]);
            }
        }
    }
}
