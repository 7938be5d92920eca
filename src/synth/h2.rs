//! HTTP/2 for synthetic captures: frames and HPACK header blocks built by hand, so tests and
//! sample captures can hold multiplexed streams, CONTINUATION, trailers, resets, pushes and
//! dynamic-table references (including to entries inserted before a capture starts).

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// One frame: the 9-byte header and the payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An empty SETTINGS frame, or its acknowledgement.
pub fn settings(ack: bool) -> Vec<u8> {
    frame(SETTINGS, if ack { ACK } else { 0 }, 0, &[])
}

/// RST_STREAM with CANCEL.
pub fn rst_stream(stream: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &[0, 0, 0, 8])
}

/// An HPACK integer with an `n`-bit prefix whose high bits are `flags` (RFC 7541 §5.1).
fn integer(out: &mut Vec<u8>, flags: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Builds one header block, field by field.
#[derive(Debug, Default, Clone)]
pub struct Block(pub Vec<u8>);

impl Block {
    pub fn new() -> Self {
        Block::default()
    }

    /// A field from the static or dynamic table (`:method GET` is 2, `:status 200` is 8,
    /// the newest dynamic entry 62).
    pub fn indexed(mut self, index: usize) -> Self {
        integer(&mut self.0, 0x80, 7, index);
        self
    }

    /// A literal value for a table name (`:path` is 4, `:authority` 1), added to the dynamic
    /// table (`insert`) or not.
    pub fn literal(mut self, name_index: usize, value: &str, insert: bool) -> Self {
        if insert {
            integer(&mut self.0, 0x40, 6, name_index);
        } else {
            integer(&mut self.0, 0x00, 4, name_index);
        }
        string(&mut self.0, value.as_bytes());
        self
    }

    /// A literal name and value, not indexed.
    pub fn literal_name(mut self, name: &str, value: &str) -> Self {
        self.0.push(0x00);
        string(&mut self.0, name.as_bytes());
        string(&mut self.0, value.as_bytes());
        self
    }

    /// `:method GET`, `:scheme http`, then `:path` as a literal (not indexed).
    pub fn get(path: &str) -> Self {
        Block::new().indexed(2).indexed(6).literal(4, path, false)
    }

    /// `:status` as a literal (200 is also `indexed(8)`).
    pub fn status(code: u16) -> Self {
        Block::new().literal(8, &code.to_string(), false)
    }

    /// The block in one HEADERS frame.
    pub fn headers(&self, stream: u32, end_stream: bool) -> Vec<u8> {
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        frame(HEADERS, flags, stream, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_rfc_7541_c1() {
        let mut out = Vec::new();
        integer(&mut out, 0, 5, 10);
        assert_eq!(out, [10]);
        out.clear();
        integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [31, 154, 10]);
        out.clear();
        integer(&mut out, 0x80, 7, 62);
        assert_eq!(out, [0x80 | 62]);
    }

    #[test]
    fn frames_and_blocks() {
        assert_eq!(
            frame(HEADERS, END_HEADERS, 3, b"ab"),
            [0, 0, 2, 1, 4, 0, 0, 0, 3, b'a', b'b']
        );
        assert_eq!(Block::new().indexed(2).0, [0x82]);
        assert_eq!(Block::new().literal(4, "/x", true).0, [0x44, 2, b'/', b'x']);
        assert_eq!(
            Block::new().literal(4, "/x", false).0,
            [0x04, 2, b'/', b'x']
        );
        assert_eq!(Block::new().literal_name("a", "b").0, [0, 1, b'a', 1, b'b']);
        assert_eq!(Block::status(404).0, [0x08, 3, b'4', b'0', b'4']);
    }
}
