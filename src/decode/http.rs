//! HTTP/1.x heads, parsed zero-copy with httparse. `Ok(None)` means "not complete yet, wait for
//! more bytes", never an error. Bodies are not handled here: the head says how long the body is
//! ([`BodyLength`]) and `flow::http_stream` skips it.

use std::mem::MaybeUninit;

/// Headers beyond this make a head unparseable (counted), as in most servers' defaults.
pub const MAX_HEADERS: usize = 64;

/// How the body after a head is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body at all.
    None,
    /// Exactly this many bytes.
    Fixed(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// A parsed request head; strings borrow the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub target: &'a str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub host: Option<&'a [u8]>,
    pub body: BodyLength,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
    /// Length of the head in bytes, up to and including the blank line.
    pub head_len: usize,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub version: u8,
    /// Framing from the headers alone; the caller adjusts for HEAD, 1xx, 204 and 304.
    pub body: BodyLength,
    pub head_len: usize,
}

/// Why a head could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadError;

/// `name` equals the lowercase `lower`, ignoring ASCII case. Only for names httparse accepted:
/// they are tokens, so OR-ing 0x20 maps a byte onto a letter or `-` only from that letter's
/// other case or from `-` itself. Branch-free, so short names compare in a few instructions.
fn token_is(name: &str, lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .bytes()
            .zip(lower)
            .fold(0u8, |diff, (a, b)| diff | ((a | 0x20) ^ b))
            == 0
}

fn framing(headers: &[httparse::Header<'_>], is_request: bool) -> Result<BodyLength, HeadError> {
    let mut length: Option<u64> = None;
    for h in headers {
        if token_is(h.name, b"transfer-encoding") {
            // RFC 9112 §6.3: if chunked is the final coding, the body is chunked and
            // Transfer-Encoding overrides Content-Length.
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or(&[]);
            if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Ok(BodyLength::Chunked);
            }
            return Ok(if is_request {
                BodyLength::None
            } else {
                BodyLength::UntilClose
            });
        }
        if token_is(h.name, b"content-length") {
            let n = parse_decimal(h.value).ok_or(HeadError)?;
            if length.is_some_and(|old| old != n) {
                return Err(HeadError);
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => BodyLength::None,
        Some(n) => BodyLength::Fixed(n),
        None if is_request => BodyLength::None,
        None => BodyLength::UntilClose,
    })
}

/// A Content-Length value: exactly what `str::trim` then `u64::from_str` accept (an optional
/// `+`, ASCII digits, no overflow), without the UTF-8 check and the generic parser.
fn parse_decimal(v: &[u8]) -> Option<u64> {
    if !v.is_ascii() {
        // `str::trim` also strips Unicode spaces (U+00A0, …) that httparse lets through.
        return std::str::from_utf8(v).ok()?.trim().parse().ok();
    }
    // For ASCII this trims what `str::trim` does: httparse already refused VT in a value.
    let v = v.trim_ascii();
    let digits = v.strip_prefix(b"+").unwrap_or(v);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, b| {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Parses a request head at the start of `buf`.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<RequestHead<'_>>, HeadError> {
    // Uninitialised slots: zeroing 64 headers (2 KiB) cost more than parsing a short head.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError);
    };
    let body = framing(req.headers, true)?;
    let host = req
        .headers
        .iter()
        .find(|h| token_is(h.name, b"host"))
        .map(|h| h.value);
    let expect_continue = req
        .headers
        .iter()
        .any(|h| token_is(h.name, b"expect") && h.value.eq_ignore_ascii_case(b"100-continue"));
    Ok(Some(RequestHead {
        method,
        target,
        version,
        host,
        body,
        expect_continue,
        head_len,
    }))
}

/// Parses a response head at the start of `buf`.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError),
    };
    let (Some(status), Some(version)) = (resp.code, resp.version) else {
        return Err(HeadError);
    };
    let body = framing(resp.headers, false)?;
    Ok(Some(ResponseHead {
        status,
        version,
        body,
        head_len,
    }))
}

/// Methods we recognise when looking for a request line in the middle of a stream.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// Does `buf` start like a request line (`METHOD SP`)? A prefix of one counts as "maybe" (true),
/// so a request split after its first byte is not misjudged.
pub fn looks_like_request_start(buf: &[u8]) -> bool {
    METHODS.iter().any(|m| {
        let n = m.len().min(buf.len());
        buf[..n] == m[..n]
    })
}

/// Does `buf` start like a status line (`HTTP/1.`)? A prefix counts as "maybe".
pub fn looks_like_response_start(buf: &[u8]) -> bool {
    const P: &[u8] = b"HTTP/1.";
    let n = P.len().min(buf.len());
    buf[..n] == P[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! req {
        ($name:ident, $bytes:expr, |$r:ident| $body:block) => {
            #[test]
            fn $name() {
                let $r = parse_request_head($bytes).unwrap().unwrap();
                $body
            }
        };
    }

    req!(
        simple_get,
        b"GET /a/b HTTP/1.1\r\nHost: x\r\n\r\nrest",
        |r| {
            assert_eq!((r.method, r.target, r.version), ("GET", "/a/b", 1));
            assert_eq!(r.host, Some(&b"x"[..]));
            assert_eq!(r.body, BodyLength::None);
            assert_eq!(r.head_len, 30);
        }
    );
    req!(
        post_with_length,
        b"POST /p HTTP/1.0\r\nContent-Length: 12\r\n\r\n",
        |r| {
            assert_eq!(r.body, BodyLength::Fixed(12));
            assert_eq!(r.version, 0);
        }
    );
    req!(
        chunked_wins_over_length,
        b"PUT / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        |r| {
            assert_eq!(r.body, BodyLength::Chunked);
        }
    );
    req!(
        expect_continue,
        b"POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        |r| {
            assert!(r.expect_continue);
        }
    );

    #[test]
    fn content_length_values_parse_as_trim_then_from_str() {
        let cases: [&[u8]; 12] = [
            b"12",
            b" 12 ",
            b"\t7",
            b"+3",
            b"",
            b"+",
            b"-1",
            b"1 2",
            b"18446744073709551615",
            b"18446744073709551616",
            "\u{a0}5".as_bytes(),
            b"0x1",
        ];
        for v in cases {
            let want = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            assert_eq!(parse_decimal(v), want, "{:?}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn token_names_compare_like_eq_ignore_ascii_case() {
        let tchars =
            "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for want in ["content-length", "host"] {
            for i in 0..want.len() {
                for c in tchars.chars() {
                    let mut name = want.to_owned();
                    name.replace_range(i..=i, &c.to_string());
                    assert_eq!(
                        token_is(&name, want.as_bytes()),
                        name.eq_ignore_ascii_case(want),
                        "{name}"
                    );
                }
            }
        }
        assert!(token_is("Content-LENGTH", b"content-length"));
        assert!(!token_is("Content-Lengt", b"content-length"));
    }

    #[test]
    fn partial_and_errors() {
        assert_eq!(parse_request_head(b"GET / HTTP/1.1\r\nHost"), Ok(None));
        assert_eq!(parse_request_head(b"G"), Ok(None));
        assert_eq!(parse_request_head(b"\x16\x03\x01\x02\x00"), Err(HeadError));
        let conflicting = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(parse_request_head(conflicting), Err(HeadError));
        assert_eq!(
            parse_request_head(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Err(HeadError)
        );
    }

    #[test]
    fn responses() {
        let r = parse_response_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.body), (404, BodyLength::Fixed(9)));
        let r = parse_response_head(b"HTTP/1.0 200 OK\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.body, BodyLength::UntilClose);
        assert_eq!(parse_response_head(b"HTTP/1.1 200 OK\r\n"), Ok(None));
    }

    #[test]
    fn start_sniffing() {
        assert!(looks_like_request_start(b"GE"));
        assert!(looks_like_request_start(b"DELETE /x"));
        assert!(!looks_like_request_start(b"GET/"));
        assert!(!looks_like_request_start(b"\x16\x03"));
        assert!(looks_like_response_start(b"HTTP/1.1 200"));
        assert!(!looks_like_response_start(b"HTTP/2"));
    }
}
