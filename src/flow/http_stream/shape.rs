//! What the bytes at a line start look like: a request line, a status line, or the opening of
//! something that is not HTTP/1 (TLS, the HTTP/2 preface).

use crate::decode::{self, LineShape};
use crate::flow::NonHttpKind;

/// Is there a request or status line at the start of the bytes?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Yes,
    No,
    /// Cannot tell before more bytes arrive.
    Maybe,
}

pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte httparse accepts in a request target: visible ASCII, or any byte from 0x80 (it then
/// requires the whole target to be UTF-8, as nginx serves `/café`). Control bytes, space and
/// DEL end or reject it. Narrower than httparse, a client could have its connection taken for
/// "not HTTP" by opening it with a non-ASCII path, and hide every request on it.
pub(super) fn is_target_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7e | 0x80..=0xff)
}

/// `METHOD SP request-target SP HTTP/1.` (RFC 9112 §3). With `any_method` any token is a
/// method; otherwise only the common ones, so a body seldom looks like a request.
pub(super) fn request_line_shape(p: &[u8], any_method: bool) -> Shape {
    let after_method = if any_method {
        match p.iter().position(|b| !is_tchar(*b)) {
            None => {
                return if p.len() < 32 {
                    Shape::Maybe
                } else {
                    Shape::No
                };
            }
            Some(i) if i > 0 && p.get(i) == Some(&b' ') => i + 1,
            Some(_) => return Shape::No,
        }
    } else {
        let mut found = None;
        // A seeking client direction takes only the common methods as a request line start;
        // at a connection's start any token method is accepted.
        for m in decode::COMMON_METHODS {
            let m = m.as_bytes();
            if p.len() <= m.len() {
                if m.starts_with(p) {
                    return Shape::Maybe;
                }
            } else if p.starts_with(m) && p.get(m.len()) == Some(&b' ') {
                found = Some(m.len() + 1);
                break;
            }
        }
        match found {
            Some(n) => n,
            None => return Shape::No,
        }
    };
    let rest = p.get(after_method..).unwrap_or(&[]);
    let target = rest.iter().position(|b| !is_target_byte(*b));
    let after_target = match target {
        None => return Shape::Maybe,
        Some(i) if i > 0 && rest.get(i) == Some(&b' ') => i + 1,
        Some(_) => return Shape::No,
    };
    prefix_shape(rest.get(after_target..).unwrap_or(&[]), b"HTTP/1.")
}

/// `HTTP/1.x NNN` (RFC 9112 §4).
pub(super) fn status_line_shape(p: &[u8]) -> Shape {
    const PATTERN: &[u8] = b"HTTP/1.# ###";
    let n = p.len().min(PATTERN.len());
    let ok = p.iter().zip(PATTERN).take(n).all(|(b, want)| match want {
        b'#' => b.is_ascii_digit(),
        _ => b == want,
    });
    match (ok, n == PATTERN.len()) {
        (false, _) => Shape::No,
        (true, true) => Shape::Yes,
        (true, false) => Shape::Maybe,
    }
}

pub(super) fn prefix_shape(p: &[u8], want: &[u8]) -> Shape {
    let n = p.len().min(want.len());
    if p.get(..n) != want.get(..n) {
        Shape::No
    } else if n == want.len() {
        Shape::Yes
    } else {
        Shape::Maybe
    }
}

/// What the first bytes of a connection's client stream are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opening {
    Http,
    NotHttp(NonHttpKind),
    NeedMore,
}

pub(super) fn client_opening(p: &[u8], max: usize) -> Opening {
    // A TLS handshake record: content type 22, legacy version 3.x (RFC 8446 §5.1).
    match p {
        [] | [0x16] => return Opening::NeedMore,
        [0x16, 0x03, ..] => return Opening::NotHttp(NonHttpKind::Tls),
        _ => {}
    }
    // RFC 9113 §3.4: the HTTP/2 client connection preface.
    match prefix_shape(p, b"PRI * HTTP/2.0") {
        Shape::Yes => return Opening::NotHttp(NonHttpKind::Http2),
        Shape::Maybe => return Opening::NeedMore,
        Shape::No => {}
    }
    // Malformed request lines count too (`decode::lenient`): only bytes that cannot be a
    // request line at all make a connection "other".
    match decode::lenient_request_line_shape(p) {
        LineShape::Request => Opening::Http,
        // An endless request line is the head parser's business (too large).
        LineShape::Incomplete if p.len() >= max => Opening::Http,
        LineShape::Incomplete => Opening::NeedMore,
        LineShape::NotRequest => Opening::NotHttp(NonHttpKind::Other),
    }
}

pub(super) fn opening(client: bool, p: &[u8], max: usize) -> Opening {
    if client {
        return client_opening(p, max);
    }
    match status_line_shape(p) {
        Shape::Yes => Opening::Http,
        Shape::Maybe => Opening::NeedMore,
        Shape::No => Opening::NotHttp(NonHttpKind::Other),
    }
}

/// Could `data`, at a message boundary, start a message (a request by the counting rule, or a
/// status line)? If not, the bytes are skipped to the next line.
pub(super) fn could_start_message(client: bool, data: &[u8]) -> bool {
    if client {
        decode::lenient_request_line_shape(data) != LineShape::NotRequest
    } else {
        let start = data
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(data.len());
        status_line_shape(data.get(start..).unwrap_or(&[])) != Shape::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shapes() {
        assert_eq!(
            request_line_shape(b"GET /x HTTP/1.1\r\n", false),
            Shape::Yes
        );
        assert_eq!(request_line_shape(b"GET /x HT", false), Shape::Maybe);
        assert_eq!(request_line_shape(b"PO", false), Shape::Maybe);
        assert_eq!(request_line_shape(b"GET /x\r\n", false), Shape::No);
        assert_eq!(request_line_shape(b"PROPFIND / HTTP/1.1", false), Shape::No);
        assert_eq!(request_line_shape(b"PROPFIND / HTTP/1.1", true), Shape::Yes);
        assert_eq!(request_line_shape(b"get / HTTP/1.1", false), Shape::No);
        // Targets as httparse takes them: bytes from 0x80 (UTF-8), but no control or DEL.
        let cafe = "GET /caf\u{e9}/menu HTTP/1.1\r\n".as_bytes();
        assert_eq!(request_line_shape(cafe, false), Shape::Yes);
        assert_eq!(request_line_shape(cafe, true), Shape::Yes);
        assert_eq!(request_line_shape(b"GET /\xff HTTP/1.1", true), Shape::Yes);
        assert_eq!(
            request_line_shape(b"GET /\x1b[2J HTTP/1.1", true),
            Shape::No
        );
        assert_eq!(request_line_shape(b"GET /\x7f HTTP/1.1", true), Shape::No);
        assert_eq!(request_line_shape(b"GET /a\tb HTTP/1.1", true), Shape::No);
        assert_eq!(request_line_shape(b"GET /\xc3", true), Shape::Maybe);
        assert_eq!(status_line_shape(b"HTTP/1.1 200 OK"), Shape::Yes);
        assert_eq!(status_line_shape(b"HTTP/1.1 2"), Shape::Maybe);
        assert_eq!(status_line_shape(b"HTTP/2 200"), Shape::No);
    }

    #[test]
    fn openings() {
        assert_eq!(
            client_opening("GET /\u{1f600} HTTP/1.1\r\n".as_bytes(), 100),
            Opening::Http
        );
        // Malformed, but a server reads it as a request (and answers 400).
        assert_eq!(
            client_opening(b"GET /\x00 HTTP/1.1\r\n", 100),
            Opening::Http
        );
        assert_eq!(
            client_opening(b"GET /\x00\r\n", 100),
            Opening::NotHttp(NonHttpKind::Other)
        );
        assert_eq!(client_opening(b"\x16", 100), Opening::NeedMore);
        assert_eq!(
            client_opening(b"\x16\x03\x01", 100),
            Opening::NotHttp(NonHttpKind::Tls)
        );
        assert_eq!(
            client_opening(b"PRI * HTTP/2.0\r\n", 100),
            Opening::NotHttp(NonHttpKind::Http2)
        );
        assert_eq!(client_opening(b"PR", 100), Opening::NeedMore);
        assert_eq!(
            client_opening(b"SSH-2.0-x\r\n", 100),
            Opening::NotHttp(NonHttpKind::Other)
        );
        // The line's end decides (a target may hold spaces).
        assert_eq!(client_opening(b"GET / HTTP/1.1", 100), Opening::NeedMore);
        assert_eq!(client_opening(b"GET / HTTP/1.1\n", 100), Opening::Http);
        assert_eq!(client_opening(b"GET /aaaaaaaa", 8), Opening::Http);
    }
}
