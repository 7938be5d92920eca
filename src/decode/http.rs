//! HTTP/1.x heads, parsed zero-copy in one pass. `Ok(None)` means "not complete yet, wait for
//! more bytes", never an error. Bodies are not handled here: the head says how long the body is
//! ([`BodyLength`]) and `flow::http_stream` skips it.
//!
//! The grammar is exactly httparse's (default config): the same bytes are accepted, rejected or
//! found incomplete, and the same fields come out. A differential test and the `http_parse`
//! fuzz target hold the two side by side ([`reference`] is the httparse version). Why not
//! httparse itself: it hands back every header and we need four, and a monitor parses two heads
//! per exchange; scanning eight bytes at a time and looking only at the headers that frame the
//! body took a head from ~1,200 instructions to a few hundred.
//! Lines that start with a common header name are told by a few word compares instead of a
//! scan of the name (`names.rs`).

pub mod chunked;
pub mod lenient;
mod names;
pub mod reference;

use names::Name;

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
    /// `Upgrade` names `h2c`: a 101 answer switches the connection to HTTP/2.
    pub upgrade_h2c: bool,
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

/// Parsing so far: `Ok(None)` = the bytes ran out before anything was wrong.
type Parsed<T> = Result<Option<T>, HeadError>;

/// Unwraps a step's position, or returns "incomplete" / the error from the parser.
macro_rules! step {
    ($e:expr) => {
        match $e? {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

/// `name` equals the lowercase `lower`, ignoring ASCII case. Only for token names: OR-ing 0x20
/// maps a token byte onto a letter or `-` only from that letter's other case or from `-`
/// itself. Branch-free, so short names compare in a few instructions.
fn token_is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower)
            .fold(0u8, |diff, (a, b)| diff | ((a | 0x20) ^ b))
            == 0
}

/// The body framing read from the headers in order (RFC 9112 §6.3): the first
/// `Transfer-Encoding` decides; `Content-Length`s before it must parse and agree.
#[derive(Debug, Default)]
struct Framing {
    length: Option<u64>,
    /// Set by the first Transfer-Encoding: later headers no longer matter.
    decided: Option<Result<BodyLength, HeadError>>,
}

impl Framing {
    fn header(&mut self, name: &[u8], value: &[u8], is_request: bool) {
        self.named(Name::of(name), value, is_request);
    }

    fn named(&mut self, name: Name, value: &[u8], is_request: bool) {
        if self.decided.is_some() {
            return;
        }
        match name {
            Name::TransferEncoding => {
                // If chunked is the final coding, the body is chunked, whatever Content-Length
                // says.
                let last = value.rsplit(|b| *b == b',').next().unwrap_or(&[]);
                self.decided = Some(Ok(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    BodyLength::Chunked
                } else if is_request {
                    BodyLength::None
                } else {
                    BodyLength::UntilClose
                }));
            }
            Name::ContentLength => match parse_decimal(value) {
                Some(n) if self.length.is_none_or(|old| old == n) => self.length = Some(n),
                _ => self.decided = Some(Err(HeadError)),
            },
            _ => {}
        }
    }

    fn finish(self, is_request: bool) -> Result<BodyLength, HeadError> {
        if let Some(decided) = self.decided {
            return decided;
        }
        Ok(match self.length {
            Some(0) => BodyLength::None,
            Some(n) => BodyLength::Fixed(n),
            None if is_request => BodyLength::None,
            None => BodyLength::UntilClose,
        })
    }
}

/// A Content-Length value: exactly what `str::trim` then `u64::from_str` accept (an optional
/// `+`, ASCII digits, no overflow), without the UTF-8 check and the generic parser.
fn parse_decimal(v: &[u8]) -> Option<u64> {
    // The usual value, 1 to 19 digits and nothing else, cannot overflow: read it straight.
    if (1..=19).contains(&v.len()) {
        let digits = v.iter().try_fold(0u64, |n, b| {
            let d = b.wrapping_sub(b'0');
            (d <= 9).then(|| n * 10 + u64::from(d))
        });
        if digits.is_some() {
            return digits;
        }
    }
    if !v.is_ascii() {
        // `str::trim` also strips Unicode spaces (U+00A0, …) that a header value may carry.
        return std::str::from_utf8(v).ok()?.trim().parse().ok();
    }
    // For ASCII this trims what `str::trim` does: a value never holds VT.
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

/// `tchar` (RFC 9110 §5.6.2): the bytes of methods and header names.
const fn token_map() -> [bool; 256] {
    let mut map = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        map[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    map
}
static TOKEN: [bool; 256] = token_map();

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Bytes of `x` strictly between `lo` and `hi` (both below 0x80), flagged by their high bit;
/// exact per byte, as each lane is masked to seven bits before the arithmetic.
fn between(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & (LOW_BITS * 0x7f);
    (LOW_BITS * (127 + u64::from(hi)) - low7)
        & !x
        & (low7 + LOW_BITS * (127 - u64::from(lo)))
        & HIGH_BITS
}

/// The length of the token at the start of `s`, or `None` if `s` is all token. Names are
/// nearly always letters, digits and `-`: those are checked eight at a time, and the table
/// takes over from the first other byte.
fn token_len(s: &[u8]) -> Option<usize> {
    let mut done = 0;
    for chunk in s.chunks_exact(8) {
        let Some(w) = chunk.first_chunk::<8>() else {
            break;
        };
        let x = u64::from_le_bytes(*w);
        let letter = between(x | (LOW_BITS * 0x20), b'a' - 1, b'z' + 1);
        let digit = between(x, b'0' - 1, b'9' + 1);
        let dash = between(x, b'-' - 1, b'-' + 1);
        let other = !(letter | digit | dash) & HIGH_BITS;
        if other != 0 {
            done += (other.trailing_zeros() / 8) as usize;
            break;
        }
        done += 8;
    }
    let rest = &s[done..];
    rest.iter()
        .position(|b| !TOKEN[usize::from(*b)])
        .map(|p| done + p)
}

/// The bytes of `x` below `floor` or DEL (`floor` at most 0x80), flagged by their high bit.
/// Exact per byte: each lane is masked to seven bits before the additions, so no carry crosses
/// into the next; bytes from 0x80 up are never flagged.
fn stops(x: u64, floor: u8) -> u64 {
    let low7 = x & (LOW_BITS * 0x7f);
    let at_least_floor = low7 + LOW_BITS * u64::from(0x80 - floor);
    let del = low7 + LOW_BITS;
    (!at_least_floor | del) & !x & HIGH_BITS
}

/// The first index from `i` whose byte is below `floor` or DEL, scanning eight bytes per step
/// (SWAR). `floor` is 0x21 for request targets (space ends one) and 0x20 for header values and
/// reason phrases, where HTAB is also allowed: the scan steps over tabs. `None`: no such byte
/// before the end. Inlined: it is the inner loop of every head.
#[inline(always)]
fn find_stop(buf: &[u8], mut i: usize, floor: u8) -> Option<usize> {
    loop {
        i += first_stop(buf.get(i..)?, floor)?;
        if floor == 0x20 && buf.get(i) == Some(&b'\t') {
            i += 1;
            continue;
        }
        return Some(i);
    }
}

/// The index of the first byte of `s` below `floor` or DEL. Whole words first; the last few
/// bytes are read as the word that ends `s`, so only a slice shorter than a word is read byte
/// by byte.
#[inline(always)]
fn first_stop(s: &[u8], floor: u8) -> Option<usize> {
    let (words, tail) = s.as_chunks::<8>();
    let mut done = 0;
    for w in words {
        let hits = stops(u64::from_le_bytes(*w), floor);
        if hits != 0 {
            return Some(done + (hits.trailing_zeros() / 8) as usize);
        }
        done += 8;
    }
    if tail.is_empty() {
        return None;
    }
    match s.last_chunk::<8>() {
        Some(last) => {
            // Its lanes before the tail were checked above and hold no stop, so the first hit
            // is in the tail.
            let hits = stops(u64::from_le_bytes(*last), floor);
            (hits != 0).then(|| s.len() - 8 + (hits.trailing_zeros() / 8) as usize)
        }
        None => tail.iter().position(|&b| b < floor || b == 0x7f),
    }
}

/// Expects a line end (CRLF or a bare LF) at `i`; returns the index after it.
fn line_end(buf: &[u8], i: usize) -> Parsed<usize> {
    match buf.get(i) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(i + 1)),
        Some(b'\r') => match buf.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(i + 2)),
            Some(_) => Err(HeadError),
        },
        Some(_) => Err(HeadError),
    }
}

/// Empty lines before the start line are skipped, as httparse does.
fn skip_empty_lines(buf: &[u8]) -> Parsed<usize> {
    let mut i = 0;
    while matches!(buf.get(i), Some(b'\r' | b'\n')) {
        i = step!(line_end(buf, i));
    }
    Ok(buf.get(i).map(|_| i))
}

/// `HTTP/1.0` or `HTTP/1.1` at `i`: the minor version and the index after it. A prefix of
/// `HTTP/1.` is incomplete; anything else is wrong.
fn version(buf: &[u8], i: usize) -> Parsed<(u8, usize)> {
    let rest = buf.get(i..).unwrap_or(&[]);
    match rest.first_chunk::<8>() {
        Some(b"HTTP/1.0") => Ok(Some((0, i + 8))),
        Some(b"HTTP/1.1") => Ok(Some((1, i + 8))),
        Some(_) => Err(HeadError),
        None if b"HTTP/1.".starts_with(&rest[..rest.len().min(7)]) => Ok(None),
        None => Err(HeadError),
    }
}

/// The header lines from `i` to the blank line, each whose name is not [`Name::Other`] fed to
/// `each(name, value)` (the others matter only for the grammar). Returns the index after the
/// blank line.
fn headers<'a>(buf: &'a [u8], i: usize, mut each: impl FnMut(Name, &'a [u8])) -> Parsed<usize> {
    // The unparsed lines, as a slice that each line moves on: no index to bounds-check.
    let mut rest = buf.get(i..).unwrap_or(&[]);
    let mut count = 0;
    loop {
        let (name, name_len) = match rest.first() {
            None => return Ok(None),
            Some(b'\r' | b'\n') => {
                let end = step!(line_end(rest, 0));
                return Ok(Some(buf.len() - rest.len() + end));
            }
            Some(_) => match names::known(rest) {
                Some(known) => known,
                None => {
                    // All token up to the end: incomplete. Else the first other byte must be
                    // the colon, after at least one byte of name.
                    let n = step!(Ok(token_len(rest)));
                    if n == 0 || rest.get(n) != Some(&b':') {
                        return Err(HeadError);
                    }
                    (Name::of(&rest[..n]), n)
                }
            },
        };
        // The value ends at the first control byte after the colon: the whitespace around it
        // holds none but tabs, which the scan steps over, and is trimmed off below.
        let after_colon = name_len + 1;
        let stop = step!(Ok(find_stop(rest, after_colon, 0x20)));
        let next = step!(line_end(rest, stop));
        count += 1;
        if count > MAX_HEADERS {
            return Err(HeadError);
        }
        if name != Name::Other {
            let value = rest.get(after_colon..stop).unwrap_or_default();
            each(name, value.trim_ascii());
        }
        rest = rest.get(next..).unwrap_or_default();
    }
}

/// Parses a request head at the start of `buf`.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<RequestHead<'_>>, HeadError> {
    let start = step!(skip_empty_lines(buf));
    // Method: a token, then one space.
    let (method, mut i) = match common_method(&buf[start..]) {
        Some(m) => (m, start + m.len()),
        None => {
            let i = start + step!(Ok(token_len(&buf[start..])));
            match buf.get(i) {
                None => return Ok(None),
                Some(b' ') if i > start => {}
                Some(_) => return Err(HeadError),
            }
            (
                std::str::from_utf8(&buf[start..i]).map_err(|_| HeadError)?,
                i,
            )
        }
    };
    // Target: visible bytes (and any from 0x80, if the whole is UTF-8), then one space.
    let target_start = i + 1;
    i = step!(Ok(find_stop(buf, target_start, 0x21)));
    if buf[i] != b' ' || i == target_start {
        return Err(HeadError);
    }
    let target = std::str::from_utf8(&buf[target_start..i]).map_err(|_| HeadError)?;
    let (version, after) = step!(version(buf, i + 1));
    i = step!(line_end(buf, after));

    let mut framing = Framing::default();
    let mut host = None;
    let mut expect_continue = false;
    let mut upgrade_h2c = false;
    let head_len = step!(headers(buf, i, |name, value| match name {
        Name::Host if host.is_none() => host = Some(value),
        Name::Upgrade => upgrade_h2c |= names_h2c(value),
        Name::Expect => expect_continue |= value.eq_ignore_ascii_case(b"100-continue"),
        Name::ContentLength | Name::TransferEncoding => framing.named(name, value, true),
        _ => {}
    }));
    Ok(Some(RequestHead {
        method,
        target,
        version,
        host,
        body: framing.finish(true)?,
        expect_continue,
        upgrade_h2c,
        head_len,
    }))
}

/// The method at the start of a request line when it is one of the usual ones followed by its
/// space: what the token scan would find, in one compare.
fn common_method(line: &[u8]) -> Option<&'static str> {
    match line.first_chunk::<8>() {
        Some([b'G', b'E', b'T', b' ', ..]) => Some("GET"),
        Some([b'P', b'O', b'S', b'T', b' ', ..]) => Some("POST"),
        Some([b'P', b'U', b'T', b' ', ..]) => Some("PUT"),
        Some([b'H', b'E', b'A', b'D', b' ', ..]) => Some("HEAD"),
        Some([b'D', b'E', b'L', b'E', b'T', b'E', b' ', _]) => Some("DELETE"),
        Some([b'P', b'A', b'T', b'C', b'H', b' ', ..]) => Some("PATCH"),
        Some([b'O', b'P', b'T', b'I', b'O', b'N', b'S', b' ']) => Some("OPTIONS"),
        _ => None,
    }
}

/// Does an `Upgrade` value list the `h2c` protocol (RFC 9110 §7.8: comma-separated, case
/// does not matter)?
pub(crate) fn names_h2c(value: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"h2c"))
}

/// Parses a response head at the start of `buf`.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
    let start = step!(skip_empty_lines(buf));
    let (version, mut i) = step!(version(buf, start));
    match buf.get(i) {
        None => return Ok(None),
        Some(b' ') => i += 1,
        Some(_) => return Err(HeadError),
    }
    let mut status = 0u16;
    for _ in 0..3 {
        let d = step!(Ok(buf.get(i))).wrapping_sub(b'0');
        if d > 9 {
            return Err(HeadError);
        }
        status = status * 10 + u16::from(d);
        i += 1;
    }
    // A space and a reason phrase (HTAB, SP, VCHAR, obs-text), or the line ends right here.
    i = match step!(Ok(buf.get(i))) {
        b' ' => step!(Ok(find_stop(buf, i + 1, 0x20))),
        _ => i,
    };
    i = step!(line_end(buf, i));
    let mut framing = Framing::default();
    let head_len = step!(headers(buf, i, |name, value| {
        if matches!(name, Name::ContentLength | Name::TransferEncoding) {
            framing.named(name, value, false);
        }
    }));
    Ok(Some(ResponseHead {
        status,
        version,
        body: framing.finish(false)?,
        head_len,
    }))
}

/// Methods we recognise when looking for a request line in the middle of a stream, where any
/// token could be a method and a body's text must seldom pass for one.
pub const COMMON_METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// `m` itself, as `'static` text, when it is one of [`COMMON_METHODS`]: a method that needs no
/// copy to outlive its packet. A switch on the length, then one or two whole-word compares
/// (not nine string compares, nor one compare per byte).
#[inline]
pub fn common_method_name(m: &str) -> Option<&'static str> {
    let b = m.as_bytes();
    let is = |k: &'static str| (k.as_bytes() == b).then_some(k);
    match b.len() {
        3 => is("GET").or_else(|| is("PUT")),
        4 => is("POST").or_else(|| is("HEAD")),
        5 => is("PATCH").or_else(|| is("TRACE")),
        6 => is("DELETE"),
        7 => is("OPTIONS").or_else(|| is("CONNECT")),
        _ => None,
    }
}

/// Does `buf` start like a request line (`METHOD SP`)? A prefix of one counts as "maybe" (true),
/// so a request split after its first byte is not misjudged.
pub fn looks_like_request_start(buf: &[u8]) -> bool {
    COMMON_METHODS.iter().any(|m| {
        let m = m.as_bytes();
        let n = m.len().min(buf.len());
        buf[..n] == m[..n] && buf.get(m.len()).is_none_or(|b| *b == b' ')
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
    fn first_stop_finds_the_first_stop_like_a_byte_scan() {
        // Every byte value at every offset of slices from shorter than a word to three words
        // and a tail, with a second stop after it or none.
        for floor in [0x20, 0x21] {
            for len in 0..28 {
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut s = vec![b'a'; len];
                        s[at] = b;
                        if at + 3 < len {
                            s[len - 1] = b'\r';
                        }
                        let want = s.iter().position(|&c| c < floor || c == 0x7f);
                        assert_eq!(first_stop(&s, floor), want, "{floor} {s:?}");
                    }
                }
            }
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
                        token_is(name.as_bytes(), want.as_bytes()),
                        name.eq_ignore_ascii_case(want),
                        "{name}"
                    );
                }
            }
        }
        assert!(token_is(b"Content-LENGTH", b"content-length"));
        assert!(!token_is(b"Content-Lengt", b"content-length"));
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

/// The one-pass parser against httparse ([`reference`]) on heads built from pieces that sit
/// on the grammar's edges, on every prefix of each (so "incomplete" and "wrong" agree too).
#[cfg(test)]
mod differential {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&[u8]] = &[
        b"GET",
        b"POST",
        b"HEAD",
        b"PUT",
        b"G",
        b"get",
        b"M-SEARCH",
        b" ",
        b"  ",
        b"/",
        b"/a/b",
        b"/caf\xc3\xa9",
        b"\xff",
        b"\x80",
        b"\xc3",
        b"*",
        b"?q=1",
        b"http://h/x",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/1.",
        b"HTTP/2",
        b"HTTP/1.1 ",
        b"HTTP",
        b"\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"\r\n\r\n",
        b"Host",
        b"host",
        b":",
        b": ",
        b":\t",
        b"Content-Length",
        b"content-length",
        b"Transfer-Encoding",
        b"chunked",
        b"gzip, chunked",
        b"12",
        b" 7 ",
        b"+3",
        b"-1",
        b"0",
        b"18446744073709551616",
        b"Expect",
        b"100-continue",
        b"\t",
        b"\x00",
        b"\x7f",
        b"\x01",
        b"\x0b",
        b"\x0c",
        b"x",
        b"200",
        b"404",
        b"1234",
        b"OK",
        b"Not Found",
        b"a b",
        b",",
        b"Connection",
        b"close",
        b"X-Long",
        b"abcdefghijklmnopqrstuvwxyz",
        b"\xe2\x82\xac",
        b"(",
        b"\"",
    ];

    fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            8 => prop::sample::select(PIECES).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    /// A well-formed head with a few bytes overwritten.
    fn mutated_head() -> impl Strategy<Value = Vec<u8>> {
        let good: &[&[u8]] = &[
            b"GET /a/b?c HTTP/1.1\r\nHost: x:80\r\nUser-Agent: t\r\nAccept: */*\r\n\r\nbody",
            b"POST /u HTTP/1.0\r\nContent-Length:  12 \r\nExpect: 100-continue\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
            b"HTTP/1.0 404 Not\tFound\nTransfer-Encoding: gzip,  chunked\n\n",
            b"\r\n\nPUT * HTTP/1.1\r\nhost:\r\ncontent-length: 1\r\nCONTENT-LENGTH: 1\r\n\r\n",
            b"HTTP/1.1 204\r\nX:\t\ty \t\r\n\r\n",
        ];
        (
            prop::sample::select(good),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        )
            .prop_map(|(g, edits)| {
                let mut v = g.to_vec();
                for (at, b) in edits {
                    let i = at.index(v.len());
                    v[i] = b;
                }
                v
            })
    }

    fn agree(buf: &[u8]) {
        for n in 0..=buf.len() {
            let p = &buf[..n];
            assert_eq!(
                parse_request_head(p),
                reference::parse_request_head(p),
                "request {:?}",
                String::from_utf8_lossy(p)
            );
            assert_eq!(
                parse_response_head(p),
                reference::parse_response_head(p),
                "response {:?}",
                String::from_utf8_lossy(p)
            );
        }
    }

    /// Header lines that start with the names `names::known` recognises, in mixed case, cut
    /// short or run into other bytes, after a good start line.
    fn common_name_head() -> impl Strategy<Value = Vec<u8>> {
        const NAMES: &[&[u8]] = &[
            b"Host",
            b"Content-Length",
            b"Transfer-Encoding",
            b"Expect",
            b"Upgrade",
            b"Server",
            b"Date",
            b"Content-Type",
            b"Connection",
            b"User-Agent",
            b"Accept",
            b"Accept-Encoding",
            b"Cache-Control",
            b"Set-Cookie",
            b"ETag",
            b"Age",
            b"Content-Lengt",
            b"Content-Lengthx",
            b"Hos",
            b"Dat",
        ];
        const AFTER: &[&[u8]] = &[
            b":", b": ", b" :", b":\t", b"", b"-", b"x", b"\r\n", b"\x00", b"\x7f", b"\xc3",
        ];
        const VALUES: &[&[u8]] = &[
            b"",
            b"12",
            b"chunked",
            b"h2c",
            b"100-continue",
            b"nginx/1.22.1",
            b" 7 ",
            b"Mon, 30 Nov 2026 12:07:14 GMT",
            b"a\x01b",
            b"v\t",
            b"\xff",
        ];
        const ENDS: &[&[u8]] = &[b"\r\n", b"\n", b"\r", b""];
        const STARTS: &[&[u8]] = &[b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n"];
        let line = (
            prop::sample::select(NAMES),
            any::<u32>(),
            prop::sample::select(AFTER),
            prop::sample::select(VALUES),
            prop::sample::select(ENDS),
        )
            .prop_map(|(name, case, after, value, end)| {
                let mut v: Vec<u8> = name
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        if case >> (k % 32) & 1 == 1 {
                            b.to_ascii_uppercase()
                        } else {
                            b.to_ascii_lowercase()
                        }
                    })
                    .collect();
                v.extend_from_slice(after);
                v.extend_from_slice(value);
                v.extend_from_slice(end);
                v
            });
        (
            prop::sample::select(STARTS),
            prop::collection::vec(line, 0..6),
            any::<bool>(),
        )
            .prop_map(|(start, lines, end)| {
                let mut v = start.to_vec();
                v.extend(lines.concat());
                if end {
                    v.extend_from_slice(b"\r\n");
                }
                v
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn pieces_parse_like_httparse(buf in head_bytes()) {
            agree(&buf);
        }

        #[test]
        fn common_names_parse_like_httparse(buf in common_name_head()) {
            agree(&buf);
        }

        #[test]
        fn mutated_heads_parse_like_httparse(buf in mutated_head()) {
            agree(&buf);
        }

        #[test]
        fn any_bytes_parse_like_httparse(buf in prop::collection::vec(any::<u8>(), 0..64)) {
            agree(&buf);
        }
    }

    #[test]
    fn header_count_limit_like_httparse() {
        for n in [0, 1, 63, 64, 65, 100] {
            let mut req = b"GET / HTTP/1.1\r\n".to_vec();
            let mut resp = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..n {
                let line = format!("X-{i}: v\r\n");
                req.extend_from_slice(line.as_bytes());
                resp.extend_from_slice(line.as_bytes());
            }
            req.extend_from_slice(b"\r\n");
            resp.extend_from_slice(b"\r\n");
            assert_eq!(parse_request_head(&req).is_ok(), n <= MAX_HEADERS, "{n}");
            agree(&req);
            agree(&resp);
        }
    }

    #[test]
    fn every_byte_in_each_position_like_httparse() {
        // Each byte value at each position of a request and a response head, so every class
        // boundary (control, space, DEL, token, obs-text) is met in every field.
        let heads: [&[u8]; 2] = [
            b"GET /p HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
        ];
        for head in heads {
            for i in 0..head.len() {
                for b in 0..=255u8 {
                    let mut v = head.to_vec();
                    v[i] = b;
                    assert_eq!(parse_request_head(&v), reference::parse_request_head(&v));
                    assert_eq!(parse_response_head(&v), reference::parse_response_head(&v));
                }
            }
        }
    }

    #[test]
    fn long_values_cross_the_eight_byte_steps() {
        // Stops (CR, tab, DEL, NUL) at every offset of a long value and target.
        for len in 0..40 {
            for stop in [b'\r', b'\t', 0x7f, 0, b' ', b'\n'] {
                let mut value = vec![b'v'; len];
                value.push(stop);
                value.extend_from_slice(b"tail\r\n\r\n");
                let mut req = b"GET /".to_vec();
                req.extend_from_slice(&value);
                agree(&req);
                let mut resp = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
                resp.extend_from_slice(&value);
                agree(&resp);
            }
        }
    }

    #[test]
    fn common_method_names_are_exactly_the_common_methods() {
        for m in COMMON_METHODS {
            let owned = String::from(m);
            assert_eq!(common_method_name(&owned), Some(m));
            // A prefix, an extension or another case is not one.
            assert_eq!(common_method_name(&owned[..m.len() - 1]), None);
            assert_eq!(common_method_name(&format!("{m}X")), None);
            assert_eq!(common_method_name(&m.to_ascii_lowercase()), None);
            // The same length with any one byte changed.
            for i in 0..m.len() {
                let mut other = m.as_bytes().to_vec();
                other[i] = b'X';
                assert_eq!(
                    common_method_name(std::str::from_utf8(&other).unwrap()),
                    None
                );
            }
        }
        assert_eq!(common_method_name(""), None);
        assert_eq!(common_method_name("PROPFIND"), None);
    }
}
