//! HTTP/2 frames on the wire (RFC 9113 §4, §6): the 9-byte frame header and the few payloads a
//! passive observer reads (HEADERS and PUSH_PROMISE header blocks, SETTINGS, RST_STREAM).
//! Views only: nothing here keeps state or allocates. What a connection does with the frames
//! is `flow::h2`.

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes in a frame header.
pub const FRAME_HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest SETTINGS_MAX_FRAME_SIZE a peer may announce.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// Frame flags (RFC 9113 §6).
pub mod flags {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// Frame types (RFC 9113 §6); anything else is ignored, as the RFC requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Data,
    Headers,
    Priority,
    RstStream,
    Settings,
    PushPromise,
    Ping,
    Goaway,
    WindowUpdate,
    Continuation,
    Unknown(u8),
}

impl FrameType {
    pub fn from_u8(t: u8) -> Self {
        match t {
            0 => FrameType::Data,
            1 => FrameType::Headers,
            2 => FrameType::Priority,
            3 => FrameType::RstStream,
            4 => FrameType::Settings,
            5 => FrameType::PushPromise,
            6 => FrameType::Ping,
            7 => FrameType::Goaway,
            8 => FrameType::WindowUpdate,
            9 => FrameType::Continuation,
            other => FrameType::Unknown(other),
        }
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length.
    pub len: u32,
    pub kind: FrameType,
    pub flags: u8,
    /// Stream identifier, the reserved bit cleared.
    pub stream: u32,
}

impl FrameHeader {
    pub fn parse(b: &[u8; FRAME_HEADER_LEN]) -> Self {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: FrameType::from_u8(b[3]),
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Could this header start a real frame sent by a client (`from_client`) or a server?
    /// Used to recognise HTTP/2 in a connection whose start the capture missed: the type is
    /// known, the length fits the frame size, the stream id is zero exactly for connection
    /// frames, fixed-size frames have their size, and streams a side opens have its parity.
    pub fn plausible(&self, from_client: bool, max_frame: u32) -> bool {
        use FrameType::*;
        if self.len > max_frame {
            return false;
        }
        let on_stream = self.stream != 0;
        match self.kind {
            Data | Continuation => on_stream,
            Headers => on_stream && (!from_client || self.stream % 2 == 1),
            Priority => on_stream && self.len == 5,
            RstStream => on_stream && self.len == 4,
            Settings => !on_stream && self.len.is_multiple_of(6) && (self.flags & !flags::ACK) == 0,
            PushPromise => on_stream && !from_client,
            Ping => !on_stream && self.len == 8 && (self.flags & !flags::ACK) == 0,
            Goaway => !on_stream && self.len >= 8,
            WindowUpdate => self.len == 4,
            Unknown(_) => false,
        }
    }
}

/// The header block fragment of a HEADERS payload: padding and priority fields removed
/// (RFC 9113 §6.2). `None` when the padding is longer than the payload.
pub fn headers_fragment<'a>(h: &FrameHeader, payload: &'a [u8]) -> Option<&'a [u8]> {
    let (payload, _) = strip_padding(h, payload)?;
    if h.has(flags::PRIORITY) {
        payload.get(5..)
    } else {
        Some(payload)
    }
}

/// The promised stream id and header block fragment of a PUSH_PROMISE payload (§6.6).
pub fn push_promise<'a>(h: &FrameHeader, payload: &'a [u8]) -> Option<(u32, &'a [u8])> {
    let (payload, _) = strip_padding(h, payload)?;
    let id = payload.first_chunk::<4>()?;
    Some((u32::from_be_bytes(*id) & 0x7fff_ffff, payload.get(4..)?))
}

fn strip_padding<'a>(h: &FrameHeader, payload: &'a [u8]) -> Option<(&'a [u8], usize)> {
    if !h.has(flags::PADDED) {
        return Some((payload, 0));
    }
    let (&pad, rest) = payload.split_first()?;
    let end = rest.len().checked_sub(usize::from(pad))?;
    Some((rest.get(..end)?, usize::from(pad)))
}

/// SETTINGS parameters (§6.5.1) as `(identifier, value)`; a trailing partial entry is ignored.
pub fn settings(payload: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    payload.chunks_exact(6).map(|e| {
        (
            u16::from_be_bytes([e[0], e[1]]),
            u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
        )
    })
}

/// SETTINGS identifiers the observer uses.
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u32, kind: u8, flags: u8, stream: u32) -> [u8; 9] {
        let l = len.to_be_bytes();
        let s = stream.to_be_bytes();
        [l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]]
    }

    #[test]
    fn deconstruct() {
        let h = FrameHeader::parse(&header(0x01_02_03, 1, 0x25, 0x8000_0007));
        assert_eq!(h.len, 0x01_02_03);
        assert_eq!(h.kind, FrameType::Headers);
        assert_eq!(h.stream, 7, "the reserved bit is not part of the id");
        assert!(h.has(flags::END_STREAM) && h.has(flags::END_HEADERS) && h.has(flags::PRIORITY));
        assert!(!h.has(flags::PADDED));
        assert_eq!(FrameType::from_u8(10), FrameType::Unknown(10));
    }

    #[test]
    fn fragments_without_padding_and_priority() {
        let h = FrameHeader::parse(&header(0, 1, flags::PADDED | flags::PRIORITY, 1));
        // pad length 2, priority (5 bytes), fragment "ab", padding.
        let p = [2, 0, 0, 0, 3, 16, b'a', b'b', 0, 0];
        assert_eq!(headers_fragment(&h, &p), Some(&b"ab"[..]));
        assert_eq!(
            headers_fragment(&h, &[9, 1, 2]),
            None,
            "padding past the end"
        );
        assert_eq!(headers_fragment(&h, &[]), None);
        let plain = FrameHeader::parse(&header(0, 1, 0, 1));
        assert_eq!(headers_fragment(&plain, b"xyz"), Some(&b"xyz"[..]));
        let pp = FrameHeader::parse(&header(0, 5, flags::PADDED, 1));
        assert_eq!(
            push_promise(&pp, &[1, 0x80, 0, 0, 2, b'h', 0]),
            Some((2, &b"h"[..]))
        );
        assert_eq!(push_promise(&pp, &[0, 0, 0]), None);
    }

    #[test]
    fn settings_entries() {
        let p = [0, 1, 0, 0, 0x10, 0, 0, 5, 0, 0, 0x40, 0, 9];
        let got: Vec<_> = settings(&p).collect();
        assert_eq!(got, [(1, 4096), (5, 16_384)]);
    }

    #[test]
    fn plausible_frames() {
        let p =
            |b: [u8; 9], client| FrameHeader::parse(&b).plausible(client, DEFAULT_MAX_FRAME_SIZE);
        assert!(p(header(18, 4, 0, 0), true), "SETTINGS");
        assert!(!p(header(18, 4, 0, 1), true), "SETTINGS on a stream");
        assert!(!p(header(17, 4, 0, 0), true), "SETTINGS of a partial entry");
        assert!(
            p(header(30, 1, 5, 3), true),
            "client HEADERS on an odd stream"
        );
        assert!(
            !p(header(30, 1, 5, 2), true),
            "client HEADERS on an even stream"
        );
        assert!(
            p(header(30, 1, 5, 2), false),
            "server HEADERS on a pushed stream"
        );
        assert!(!p(header(16_385, 0, 0, 1), true), "over the frame size");
        assert!(p(header(8, 6, 1, 0), false), "PING ack");
        assert!(!p(header(8, 6, 2, 0), false), "PING with a stray flag");
        assert!(!p(header(4, 3, 0, 0), false), "RST_STREAM on stream 0");
        assert!(
            p(header(4, 8, 0, 0), false),
            "WINDOW_UPDATE on the connection"
        );
        assert!(!p(header(4, 77, 0, 0), false), "unknown type");
        assert!(!p(header(4, 5, 4, 1), true), "a client does not push");
        assert!(p(header(5, 2, 0, 1), true) && !p(header(6, 2, 0, 1), true));
        assert!(p(header(8, 7, 0, 0), true) && !p(header(7, 7, 0, 0), true));
        // "GET / HT" is no frame header.
        let get: [u8; 9] = *b"GET / HTT";
        assert!(!p(get, true));
    }
}
