//! The buffer both capture-file readers ([`PcapReader`](super::pcap_reader::PcapReader),
//! [`PcapngReader`](super::pcapng_reader::PcapngReader)) read through: the file in large
//! blocks, records handed out as slices of it, the unread tail moved to the front only when a
//! block runs short. No copy or allocation per record. The file may be read here or, after
//! [`ReadBuffer::read_ahead`], by a thread of its own ([`ReadAhead`]).

use std::io::{self, Read};

use super::read_ahead::{Block, Chunk, ReadAhead};

pub(super) struct ReadBuffer<R> {
    src: Source<R>,
    pub(super) buf: Vec<u8>,
    /// The unread bytes are `buf[start..end]`.
    pub(super) start: usize,
    pub(super) end: usize,
}

impl<R: Read> ReadBuffer<R> {
    /// A buffer of `block` bytes over `src`, nothing read yet.
    pub(super) fn new(src: R, block: usize) -> Self {
        ReadBuffer {
            src: Source::Here(src),
            buf: vec![0; block],
            start: 0,
            end: 0,
        }
    }

    /// From here on the rest of the file is read by a thread of its own, `block` bytes at a
    /// time, with `room` bytes before each block for the unread end of the one before (no
    /// request larger than `room` copies more than that end). What was read already stays.
    pub(super) fn read_ahead(&mut self, block: usize, room: usize) -> io::Result<()>
    where
        R: Read + Send + 'static,
    {
        if let Source::Here(_) = self.src
            && let Source::Here(src) = std::mem::replace(&mut self.src, Source::Over(None))
        {
            self.src = Source::Ahead(Box::new(ReadAhead::spawn(src, block, room)?));
        }
        Ok(())
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
        let src = match &mut self.src {
            Source::Here(src) => src,
            Source::Ahead(_) | Source::Over(_) => return self.refill_ahead(n),
        };
        // Move the unread tail (less than one record) to the front, then read behind it.
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        // A record larger than the usual block (bounded by the caller) grows the buffer.
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n {
            match src.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// [`refill`](Self::refill) from the reading thread's blocks: the unread tail goes into the
    /// room before the next block's bytes, and that block becomes the buffer.
    #[cold]
    #[inline(never)]
    fn refill_ahead(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            let ahead = match &self.src {
                Source::Ahead(ahead) => ahead,
                Source::Over(None) => return Ok(false),
                // A read error is the answer to every read after it, as from the file.
                Source::Over(Some(e)) => return Err(io::Error::new(e.kind(), e.to_string())),
                Source::Here(_) => return Ok(false),
            };
            match ahead.next() {
                Chunk::Bytes(Block { mut buf, len }) => {
                    let room = ahead.room;
                    let tail = self.end - self.start;
                    let used = if tail <= room {
                        buf[room - tail..room].copy_from_slice(&self.buf[self.start..self.end]);
                        self.start = room - tail;
                        self.end = room + len;
                        std::mem::replace(&mut self.buf, buf)
                    } else {
                        // A record larger than the room (pcapng allows some): the block's bytes
                        // join the tail instead.
                        self.buf.copy_within(self.start..self.end, 0);
                        self.buf.truncate(tail);
                        self.buf.extend_from_slice(&buf[room..room + len]);
                        self.start = 0;
                        self.end = self.buf.len();
                        buf
                    };
                    ahead.recycle(used);
                }
                Chunk::End => self.src = Source::Over(None),
                Chunk::Failed(e) => {
                    let again = io::Error::new(e.kind(), e.to_string());
                    self.src = Source::Over(Some(e));
                    return Err(again);
                }
            }
        }
        Ok(true)
    }
}

/// Where the file's bytes come from.
enum Source<R> {
    /// Read on the caller's thread.
    Here(R),
    /// Read by a thread of its own (boxed: a file source stays small when read here).
    Ahead(Box<ReadAhead>),
    /// The reading thread has finished: at the end of the file, or with this error.
    Over(Option<io::Error>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bytes of `data`, then `error` (if any) in place of the end of the file, `step`
    /// bytes at most per read, so that reads come short as they may from a file.
    struct Source {
        data: Vec<u8>,
        at: usize,
        step: usize,
        error: bool,
    }

    impl Read for Source {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() && self.error {
                return Err(io::Error::other("disk on fire"));
            }
            let n = out.len().min(self.step).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// What a reader sees through `buf`: for each (wanted, taken), the `taken` bytes consumed
    /// once `wanted` came; at the end of the file, what is left; or the error's text. Nothing
    /// more once `seen` ends with an end or an error.
    fn replay(
        buf: &mut ReadBuffer<Source>,
        steps: &[(usize, usize)],
        seen: &mut Vec<Result<Vec<u8>, String>>,
        over: &mut bool,
    ) {
        for &(wanted, taken) in steps {
            if *over {
                return;
            }
            match buf.fill(wanted) {
                Ok(true) => {
                    let taken = taken.min(wanted);
                    seen.push(Ok(buf.buf[buf.start..buf.start + taken].to_vec()));
                    buf.start += taken;
                }
                Ok(false) => {
                    seen.push(Ok(buf.buf[buf.start..buf.end].to_vec()));
                    *over = true;
                }
                Err(e) => {
                    seen.push(Err(e.to_string()));
                    *over = true;
                }
            }
        }
    }

    proptest! {
        /// Read ahead or read here, a reader sees the same bytes, the same end and the same
        /// error, whether a request fits the room before a block or not.
        #[test]
        fn reading_ahead_gives_what_reading_here_gives(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            steps in proptest::collection::vec((1usize..200, 0usize..200), 1..80),
            step in 1usize..150,
            error: bool,
            switch_after in 0usize..4,
        ) {
            let source = || Source { data: data.clone(), at: 0, step, error };
            let mut here = ReadBuffer::new(source(), 64);
            let mut ahead = ReadBuffer::new(source(), 64);
            // Some of the file read here first, as the readers do for its header.
            let (before, after) = steps.split_at(switch_after.min(steps.len()));
            let (mut seen, mut over) = (Vec::new(), false);
            replay(&mut ahead, before, &mut seen, &mut over);
            ahead.read_ahead(50, 40).unwrap();
            replay(&mut ahead, after, &mut seen, &mut over);
            let (mut expected, mut over) = (Vec::new(), false);
            replay(&mut here, &steps, &mut expected, &mut over);
            prop_assert_eq!(expected, seen);
        }
    }

    #[test]
    fn a_read_error_comes_after_the_bytes_before_it_and_stays() {
        let data: Vec<u8> = (0..=255).collect();
        let mut buf = ReadBuffer::new(
            Source {
                data,
                at: 0,
                step: 7,
                error: true,
            },
            16,
        );
        buf.read_ahead(32, 16).unwrap();
        assert!(buf.fill(256).unwrap());
        assert_eq!(buf.buf[buf.start], 0);
        assert_eq!(buf.buf[buf.end - 1], 255);
        buf.start = buf.end;
        for _ in 0..2 {
            let e = buf.fill(1).unwrap_err();
            assert_eq!(e.to_string(), "disk on fire");
        }
    }
}
