//! The server side of the HTTP/1.1 Upgrade to HTTP/2 without TLS (RFC 7540 §3.2).
//!
//! hyper serves HTTP/1 and HTTP/2 (prior knowledge) but does not do this upgrade, and its
//! HTTP/2 server cannot be told that stream 1 already exists. So, as the RFC frames it, the
//! upgraded request becomes stream 1 by being *given* to the HTTP/2 server: after the `101`,
//! we read the client's preface and first SETTINGS frame ourselves, then hand the connection
//! to hyper's HTTP/2 server with those bytes put back and, right after them, a HEADERS frame
//! for stream 1 (END_STREAM: the upgrade request has no body) carrying the original request.
//! hyper then answers it on stream 1 like any other request, and the client's own streams
//! start at 3. The header block uses only literals "without indexing", so it leaves the
//! server's HPACK table as the client's encoder expects it.
//!
//! What is not done: the `HTTP2-Settings` payload is checked but not applied, because the
//! client's SETTINGS frame (which must open its side of the connection) is read before stream
//! 1 is handled and carries the settings that count. Requests with a body are not upgraded
//! (the RFC lets a server ignore `Upgrade`); they are answered in HTTP/1.1.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{CONNECTION, HOST, HeaderValue, UPGRADE};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

use super::rewind::Rewind;

/// The first bytes of every HTTP/2 client connection (RFC 7540 §3.5).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The largest frame payload a peer may send before it has seen our SETTINGS (§6.5.2).
const DEFAULT_MAX_FRAME: usize = 16_384;

/// How long the client has, after our `101`, to send its preface and SETTINGS.
const PREFACE_TIMEOUT: Duration = Duration::from_secs(10);

const FRAME_HEADERS: u8 = 0x1;
const FRAME_SETTINGS: u8 = 0x4;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_ACK: u8 = 0x1;

/// The connection after an accepted upgrade, ready for hyper's HTTP/2 server.
pub type UpgradedIo = TokioIo<Rewind<TokioIo<Upgraded>>>;

/// If `req` asks for h2c and may have it, the HEADERS frame that replays it as stream 1.
///
/// Asks: HTTP/1.1, `Upgrade` naming `h2c`, `Connection` naming `Upgrade` and
/// `HTTP2-Settings`, exactly one valid `HTTP2-Settings` (§3.2.1). May: no body, and a header
/// block that fits one frame.
pub fn stream_one(req: &Request<Incoming>) -> Option<Bytes> {
    if req.version() != Version::HTTP_11 || !req.body().is_end_stream() {
        return None;
    }
    let headers = req.headers();
    let upgrade_h2c = headers.get_all(UPGRADE).iter().any(|v| has_token(v, "h2c"));
    let connection = |token| {
        headers
            .get_all(CONNECTION)
            .iter()
            .any(|v| has_token(v, token))
    };
    let mut settings = headers.get_all("http2-settings").iter();
    let settings_ok = match (settings.next(), settings.next()) {
        (Some(v), None) => is_settings_payload(v.as_bytes()),
        _ => false,
    };
    if !(upgrade_h2c && connection("upgrade") && connection("http2-settings") && settings_ok) {
        return None;
    }
    headers_frame(req)
}

/// The `101` that switches the connection to HTTP/2.
pub fn switching_protocols() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("h2c"));
    resp
}

/// Waits for hyper to hand over the connection after the `101`, reads the client's preface
/// and SETTINGS, and returns the connection that replays them followed by `stream_one`.
/// `None` when the client went away or did not speak HTTP/2: there is no one to answer.
pub async fn accept(on_upgrade: OnUpgrade, stream_one: Bytes) -> Option<UpgradedIo> {
    let mut io = TokioIo::new(on_upgrade.await.ok()?);
    let start = tokio::time::timeout(PREFACE_TIMEOUT, read_client_start(&mut io))
        .await
        .ok()??;
    let mut prefix = Vec::with_capacity(start.len() + stream_one.len());
    prefix.extend_from_slice(&start);
    prefix.extend_from_slice(&stream_one);
    Some(TokioIo::new(Rewind::new(Bytes::from(prefix), io)))
}

/// The preface and the SETTINGS frame that must follow it (§3.5), as read.
async fn read_client_start(io: &mut TokioIo<Upgraded>) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; PREFACE.len() + 9];
    io.read_exact(&mut buf).await.ok()?;
    if &buf[..PREFACE.len()] != PREFACE {
        return None;
    }
    let head = &buf[PREFACE.len()..];
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let is_settings = head[3] == FRAME_SETTINGS && head[4] & FLAG_ACK == 0 && stream == 0;
    if !is_settings || !len.is_multiple_of(6) || len > DEFAULT_MAX_FRAME {
        return None;
    }
    let at = buf.len();
    buf.resize(at + len, 0);
    io.read_exact(&mut buf[at..]).await.ok()?;
    Some(buf)
}

/// Headers that only concern the HTTP/1.1 hop and must not appear in HTTP/2 (RFC 7540
/// §8.1.2.2), plus `host`, which becomes `:authority`.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "upgrade",
    "http2-settings",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "host",
];

/// HEADERS for stream 1 with END_STREAM and END_HEADERS, or `None` if the block would need
/// CONTINUATION frames (then the request is answered in HTTP/1.1 instead).
fn headers_frame(req: &Request<Incoming>) -> Option<Bytes> {
    let mut block = Vec::with_capacity(256);
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .as_bytes();
    literal(&mut block, b":method", req.method().as_str().as_bytes());
    literal(&mut block, b":scheme", b"http");
    if let Some(host) = req.headers().get(HOST) {
        literal(&mut block, b":authority", host.as_bytes());
    }
    literal(&mut block, b":path", path);
    // Connection options name more hop-by-hop headers (RFC 9110 §7.6.1).
    let named_by_connection = |name: &str| {
        req.headers()
            .get_all(CONNECTION)
            .iter()
            .any(|v| has_token(v, name))
    };
    for (name, value) in req.headers() {
        let name = name.as_str();
        if HOP_BY_HOP.contains(&name) || named_by_connection(name) {
            continue;
        }
        literal(&mut block, name.as_bytes(), value.as_bytes());
    }
    if block.len() > DEFAULT_MAX_FRAME {
        return None;
    }
    let len = block.len().to_be_bytes();
    let mut frame = Vec::with_capacity(9 + block.len());
    frame.extend_from_slice(&len[len.len() - 3..]);
    frame.push(FRAME_HEADERS);
    frame.push(FLAG_END_STREAM | FLAG_END_HEADERS);
    frame.extend_from_slice(&1u32.to_be_bytes());
    frame.extend_from_slice(&block);
    Some(Bytes::from(frame))
}

/// A "literal header field without indexing, new name" (RFC 7541 §6.2.2), no Huffman.
fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    string(out, name);
    string(out, value);
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, 0x00, 7, s.len());
    out.extend_from_slice(s);
}

/// An HPACK integer with an `n`-bit prefix, the first byte's high bits being `flags`
/// (RFC 7541 §5.1).
fn integer(out: &mut Vec<u8>, flags: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Does this comma-separated header value hold `token` (case-insensitive)?
fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Is this the base64url encoding (no padding) of a SETTINGS payload: whole 6-byte settings?
fn is_settings_payload(v: &[u8]) -> bool {
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let v = v.trim_ascii();
    // The RFC drops the padding (§3.2.1); accepting it costs nothing.
    let v = v.strip_suffix(b"==").or(v.strip_suffix(b"=")).unwrap_or(v);
    if !v.iter().all(alphabet) || v.len() % 4 == 1 {
        return false;
    }
    (v.len() * 3 / 4).is_multiple_of(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_rfc7541_examples() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix.
        let mut out = Vec::new();
        integer(&mut out, 0, 5, 10);
        assert_eq!(out, [0x0a]);
        out.clear();
        integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        integer(&mut out, 0, 7, 127);
        assert_eq!(out, [0x7f, 0x00]);
    }

    #[test]
    fn literal_without_indexing_new_name() {
        let mut out = Vec::new();
        literal(&mut out, b"custom-key", b"custom-header");
        let mut want = vec![0x00, 10];
        want.extend_from_slice(b"custom-key");
        want.push(13);
        want.extend_from_slice(b"custom-header");
        assert_eq!(out, want);
    }

    #[test]
    fn settings_payloads() {
        // curl's: three settings (18 bytes) in 24 characters.
        assert!(is_settings_payload(b"AAMAAABkAAQCAAAAAAIAAAAA"));
        // Two settings, 12 bytes, 16 characters; and the empty payload.
        assert!(is_settings_payload(b"AAMAAABkAAQAAP__"));
        assert!(is_settings_payload(b""));
        assert!(!is_settings_payload(b"AAMAAABk+AQAAP//"));
        assert!(!is_settings_payload(b"AAMAAAB"));
        assert!(!is_settings_payload(b"AAMAAABkAAQ"));
    }

    #[test]
    fn tokens_are_case_insensitive_and_trimmed() {
        let v = HeaderValue::from_static("Upgrade, HTTP2-Settings");
        assert!(has_token(&v, "upgrade"));
        assert!(has_token(&v, "http2-settings"));
        assert!(!has_token(&v, "close"));
    }
}
