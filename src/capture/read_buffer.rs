//! The buffer both capture-file readers ([`PcapReader`](super::pcap_reader::PcapReader),
//! [`PcapngReader`](super::pcapng_reader::PcapngReader)) read through: the file in large
//! blocks, records handed out as slices of it, the unread tail moved to the front only when a
//! block runs short. No copy or allocation per record.

use std::io::{self, Read};

pub(super) struct ReadBuffer<R> {
    src: R,
    pub(super) buf: Vec<u8>,
    /// The unread bytes are `buf[start..end]`.
    pub(super) start: usize,
    pub(super) end: usize,
}

impl<R: Read> ReadBuffer<R> {
    /// A buffer of `block` bytes over `src`, nothing read yet.
    pub(super) fn new(src: R, block: usize) -> Self {
        ReadBuffer {
            src,
            buf: vec![0; block],
            start: 0,
            end: 0,
        }
    }

    /// Makes at least `n` unread bytes available, reading more of the file as needed; `false`
    /// if the file ends first. The caller bounds `n` (a record or block the format allows).
    #[inline]
    pub(super) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.refill(n)
    }

    /// [`fill`](Self::fill) once the block runs short: once per block, not per record.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<bool> {
        // Move the unread tail (less than one record) to the front, then read behind it.
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        // A record larger than the usual block (bounded by the caller) grows the buffer.
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
