//! One direction's parse state: where it is in its stream ([`Mode`]) and what it buffered.

use crate::decode::{BodyLength, ChunkDecoder};
use crate::time::Timestamp;

/// Where a direction is in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The connection's start was seen: is this HTTP/1 at all?
    Sniff,
    /// Position unknown: scan line starts for the next request or status line.
    Seek,
    /// At a head boundary.
    Head,
    /// Skipping a body.
    Body(Body),
    /// Skipping the rest of a head too large to keep, already counted from its start; then
    /// `Stream::after_skip`.
    SkipHead,
    /// Collecting a TLS ClientHello for its SNI.
    TlsHello,
    /// After a CONNECT request, until its response says whether a tunnel follows.
    ConnectWait,
    /// Not parsed any more (tunnel, protocol switch, not HTTP/1).
    Opaque,
    /// The stream ended.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    Fixed(u64),
    Chunked(ChunkDecoder),
    UntilClose,
}

pub(super) fn mode_after_head(body: BodyLength) -> Mode {
    match body {
        BodyLength::None | BodyLength::Fixed(0) => Mode::Head,
        BodyLength::Fixed(n) => Mode::Body(Body::Fixed(n)),
        BodyLength::Chunked => Mode::Body(Body::Chunked(ChunkDecoder::default())),
        BodyLength::UntilClose => Mode::Body(Body::UntilClose),
    }
}

/// One direction's parse state.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) mode: Mode,
    /// An incomplete head, a candidate request/status line while seeking, or a ClientHello.
    pub(super) buf: Vec<u8>,
    /// Time of the packet that carried `buf`'s first byte.
    pub(super) buf_ts: Timestamp,
    /// Seek: the next byte starts a line.
    pub(super) line_start: bool,
    /// Head: progress of the search for the blank line that ends the head in `buf`.
    pub(super) nl: u8,
    /// Any byte was delivered.
    pub(super) saw_data: bool,
    /// What follows a head being skipped (`Mode::SkipHead`).
    pub(super) after_skip: Mode,
    /// Seek: the candidate line in `buf` started right after a gap, where a message most
    /// likely starts (a packet cut by the snap length, then the next one).
    pub(super) candidate_after_gap: bool,
    /// Seek: the stream was put there by a gap and no byte has been scanned since.
    pub(super) after_gap: bool,
}

impl Stream {
    pub(super) fn new(mode: Mode) -> Self {
        Stream {
            mode,
            buf: Vec::new(),
            buf_ts: Timestamp::ZERO,
            line_start: true,
            nl: 0,
            saw_data: false,
            after_skip: Mode::Head,
            candidate_after_gap: false,
            after_gap: false,
        }
    }

    /// Forgets the buffer; a large one gives its memory back.
    pub(super) fn clear_buf(&mut self) {
        if self.buf.capacity() > 4096 {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }

    pub(super) fn seek(&mut self, line_start: bool) {
        self.clear_buf();
        self.mode = Mode::Seek;
        self.line_start = line_start;
        self.after_gap = false;
        self.candidate_after_gap = false;
    }
}

/// Scans for the end of a head: a line feed followed by an empty line (`\n\n` or `\n\r\n`),
/// which is where httparse stops. `state`: 0 inside a line, 1 just after LF, 2 after LF CR.
/// Returns the length up to and including the final LF, if found, and the new state.
pub(super) fn scan_head_end(mut state: u8, data: &[u8]) -> (Option<usize>, u8) {
    for (i, b) in data.iter().enumerate() {
        state = match (state, *b) {
            (1 | 2, b'\n') => return (Some(i + 1), 1),
            (_, b'\n') => 1,
            (1, b'\r') => 2,
            _ => 0,
        };
    }
    (None, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_scan() {
        assert_eq!(
            scan_head_end(0, b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody").0,
            Some(24)
        );
        let (none, s) = scan_head_end(0, b"GET / HTTP/1.1\r\n\r");
        assert_eq!(none, None);
        assert_eq!(scan_head_end(s, b"\nx").0, Some(1));
        assert_eq!(scan_head_end(0, b"a\n\nb").0, Some(3));
    }
}
