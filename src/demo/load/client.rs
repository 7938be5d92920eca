//! The HTTP/1.1 client: where to connect, one request written in one go, one answer read and
//! framed (Content-Length, chunked, or until close).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::{Host, Url};

use super::report::{ErrKind, WorkerStats};
use super::scheduler::Shared;
use crate::decode::{ChunkDecoder, Decoded};
use crate::demo::{DemoError, io_reason};

/// Where to send: `http://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (without brackets for IPv6).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Target {
    /// Parses `http://host:port` with an optional trailing `/`; `http://host` means port 80.
    pub fn parse(url: &str) -> Result<Target, DemoError> {
        let bad = |reason: &str| DemoError::invalid("URL", url, reason);
        let parsed = Url::parse(url).map_err(|e| match e {
            url::ParseError::EmptyHost => bad("the host is missing, e.g. 'http://127.0.0.1:5000'"),
            url::ParseError::InvalidPort => bad("the port must be a number from 1 to 65535"),
            url::ParseError::RelativeUrlWithoutBase => {
                bad("expected http://HOST:PORT, e.g. 'http://127.0.0.1:5000'")
            }
            other => bad(&other.to_string()),
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" => return Err(bad("https is not supported; the demo speaks plain http://")),
            _ => {
                return Err(bad(
                    "expected http://HOST:PORT, e.g. 'http://127.0.0.1:5000'",
                ));
            }
        }
        if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad(
                "give no path: the generator picks the paths itself (see --sections)",
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("user names and passwords are not supported"));
        }
        let host = match parsed.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            _ => return Err(bad("the host is missing, e.g. 'http://127.0.0.1:5000'")),
        };
        let port = match parsed.port_or_known_default() {
            Some(p) if p > 0 => p,
            _ => return Err(bad("the port must be a number from 1 to 65535")),
        };
        Ok(Target { host, port })
    }

    /// `host:port`, with brackets around an IPv6 host.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority())
    }
}

pub(in crate::demo) struct Answer {
    pub(in crate::demo) status: u16,
    /// The connection cannot carry another request.
    pub(in crate::demo) close: bool,
}

/// Writes the HTTP/1.1 GET for `path` into `req`.
pub(in crate::demo) fn write_http1_request(shared: &Shared, path: &str, req: &mut Vec<u8>) {
    req.clear();
    req.extend_from_slice(b"GET ");
    req.extend_from_slice(path.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    req.extend_from_slice(shared.host_header.as_bytes());
    req.extend_from_slice(b"\r\nUser-Agent: traffic-watch-load\r\nAccept: */*\r\n");
    if !shared.keep_alive {
        req.extend_from_slice(b"Connection: close\r\n");
    }
    req.extend_from_slice(b"\r\n");
}

pub(in crate::demo) async fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, (ErrKind, String)> {
    let mut last = (ErrKind::ConnectFailed, "no address".to_string());
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                // One write per request; Nagle would only add delay.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => {
                let kind = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    ErrKind::ConnectRefused
                } else {
                    ErrKind::ConnectFailed
                };
                last = (kind, io_reason(&e));
            }
            Err(_) => last = (ErrKind::Timeout, "timed out".into()),
        }
    }
    Err(last)
}

/// Sends `req` on the connection (opening one if needed) and reads one whole answer.
pub(in crate::demo) async fn exchange(
    shared: &Shared,
    conn: &mut Option<TcpStream>,
    req: &[u8],
    rbuf: &mut Vec<u8>,
    stats: &mut WorkerStats,
) -> Result<Answer, ErrKind> {
    // A kept-alive connection the server closed while idle fails before any answer byte;
    // that is not the request's fault, so retry it once on a fresh connection (GET is
    // idempotent, RFC 9110 §9.2.2).
    let mut may_retry = conn.is_some();
    loop {
        let stream = match conn {
            Some(s) => s,
            None => {
                let s = connect(&shared.addrs, shared.timeout)
                    .await
                    .map_err(|(kind, _)| kind)?;
                stats.connections += 1;
                conn.insert(s)
            }
        };
        rbuf.clear();
        let result = match stream.write_all(req).await {
            Ok(()) => read_answer(stream, rbuf).await,
            Err(e) => Err(ErrKind::from_io(&e)),
        };
        match result {
            Err(ErrKind::Closed | ErrKind::Reset) if may_retry && rbuf.is_empty() => {
                may_retry = false;
                *conn = None;
            }
            other => return other,
        }
    }
}

pub(in crate::demo) enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

pub(in crate::demo) async fn read_answer(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<Answer, ErrKind> {
    let mut eof = false;
    loop {
        if !buf.is_empty()
            && let Some(answer) = parse_answer(buf, eof)?
        {
            return Ok(answer);
        }
        if eof {
            return Err(ErrKind::Closed);
        }
        buf.reserve(4096);
        match stream.read_buf(buf).await {
            Ok(0) => eof = true,
            Ok(_) => {}
            Err(e) => return Err(ErrKind::from_io(&e)),
        }
    }
}

/// `Ok(None)`: need more bytes. On success the answer's bytes are removed from `buf`.
pub(in crate::demo) fn parse_answer(
    buf: &mut Vec<u8>,
    eof: bool,
) -> Result<Option<Answer>, ErrKind> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ErrKind::BadResponse),
        };
        let status = resp.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            // Interim answer (100 Continue, 103 Early Hints): the real one follows.
            buf.drain(..head_len);
            continue;
        }
        let mut close = resp.version == Some(0);
        let mut framing = None;
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or(ErrKind::BadResponse)?;
                framing.get_or_insert(Framing::Length(n));
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if h.value.to_ascii_lowercase().ends_with(b"chunked") {
                    // Chunked wins over Content-Length (RFC 9112 §6.3).
                    framing = Some(Framing::Chunked);
                }
            } else if h.name.eq_ignore_ascii_case("connection") {
                let v = h.value.to_ascii_lowercase();
                if v.windows(5).any(|w| w == b"close") {
                    close = true;
                } else if v.windows(10).any(|w| w == b"keep-alive") {
                    close = false;
                }
            }
        }
        let no_body = status == 204 || status == 304;
        let framing = if no_body {
            Framing::Length(0)
        } else {
            framing.unwrap_or(Framing::UntilClose)
        };
        let body = &buf[head_len..];
        let used = match framing {
            Framing::Length(n) => (body.len() >= n).then_some(n),
            Framing::Chunked => chunked_len(body)?,
            Framing::UntilClose => {
                close = true;
                eof.then_some(body.len())
            }
        };
        return Ok(used.map(|n| {
            // Extra bytes would be an answer we did not ask for; don't reuse such a connection.
            if head_len + n < buf.len() {
                close = true;
            }
            Answer { status, close }
        }));
    }
}

/// Length of a complete chunked body at the start of `body`, or `None` if more is needed.
pub(in crate::demo) fn chunked_len(body: &[u8]) -> Result<Option<usize>, ErrKind> {
    match ChunkDecoder::default().feed(body) {
        (n, Decoded::Done) => Ok(Some(n)),
        (_, Decoded::More) => Ok(None),
        (_, Decoded::Bad) => Err(ErrKind::BadResponse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 5000));
        assert_eq!(Target::parse("http://localhost:8080/").unwrap().port, 8080);
        assert_eq!(Target::parse("http://localhost").unwrap().port, 80);
        let t = Target::parse("http://[::1]:5000/").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority(), "[::1]:5000");
        assert_eq!(t.to_string(), "http://[::1]:5000");
        for bad in [
            "https://127.0.0.1:5000",
            "127.0.0.1:5000",
            "ftp://x:1",
            "http://127.0.0.1:5000/foo",
            "http://127.0.0.1:5000?x=1",
            "http://:5000",
            "http://h:0",
            "http://h:70000",
            "http://h:port",
            "http://[::1",
            "http://u@h:1",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid URL '{bad}': ")), "{e}");
        }
    }

    fn parse(bytes: &[u8], eof: bool) -> Result<Option<(u16, bool)>, ErrKind> {
        let mut buf = bytes.to_vec();
        parse_answer(&mut buf, eof).map(|o| o.map(|a| (a.status, a.close)))
    }

    #[test]
    fn answers_are_framed() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse(ok, false), Ok(Some((200, false))));
        assert_eq!(parse(&ok[..ok.len() - 1], false), Ok(None));
        assert_eq!(parse(&ok[..10], false), Ok(None));
        let chunked =
            b"HTTP/1.1 404 NF\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, false), Ok(Some((404, false))));
        assert_eq!(parse(&chunked[..chunked.len() - 2], false), Ok(None));
        let close = b"HTTP/1.1 500 E\r\nConnection: close\r\n\r\nbody";
        assert_eq!(parse(close, false), Ok(None));
        assert_eq!(parse(close, true), Ok(Some((500, true))));
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n";
        assert_eq!(parse(interim, false), Ok(Some((204, false))));
        let http10 = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(http10, false), Ok(Some((200, true))));
        assert_eq!(parse(b"garbage\r\n\r\n", false), Err(ErrKind::BadResponse));
        let bad_len = b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
        assert_eq!(parse(bad_len, false), Err(ErrKind::BadResponse));
    }
}
