//! A capture file read ahead by a thread of its own. The read system calls copy the file out
//! of the page cache, which takes about as long as a whole bare `tcpdump -r`; on this thread
//! they run beside the decoding instead of in its way. Blocks are handed over whole, with room
//! kept in front of their bytes so that the reader can put the unread end of the previous block
//! there ([`ReadBuffer`](super::read_buffer::ReadBuffer)): no byte is copied twice.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread;

/// Blocks read and not yet taken, besides the one being read and the one being decoded.
const AHEAD: usize = 2;

/// One block of the file: its bytes are `buf[room..room + len]`.
pub(super) struct Block {
    pub(super) buf: Vec<u8>,
    pub(super) len: usize,
}

/// What the reading thread hands over, in file order.
pub(super) enum Chunk {
    Bytes(Block),
    /// The read failed here; the blocks before it were delivered.
    Failed(io::Error),
    End,
}

/// The reader's end of the reading thread.
pub(super) struct ReadAhead {
    chunks: Receiver<Chunk>,
    spare: Sender<Vec<u8>>,
    /// Bytes kept free in front of each block's.
    pub(super) room: usize,
}

impl ReadAhead {
    /// Starts reading `src` in blocks of `block` bytes, each with `room` bytes free before
    /// them. The thread ends at the end of the file, at a read error, or once this side is
    /// dropped.
    pub(super) fn spawn<R: Read + Send + 'static>(
        mut src: R,
        block: usize,
        room: usize,
    ) -> io::Result<Self> {
        let (tx, chunks) = mpsc::sync_channel(AHEAD);
        let (spare, spare_rx) = mpsc::channel::<Vec<u8>>();
        thread::Builder::new()
            .name("file-read".into())
            .spawn(move || read_blocks(&mut src, &tx, &spare_rx, block, room))?;
        Ok(ReadAhead {
            chunks,
            spare,
            room,
        })
    }

    /// The next chunk of the file. A thread that stopped without saying why (it cannot, short
    /// of a panic) is an error rather than a silent end of the file.
    pub(super) fn next(&self) -> Chunk {
        self.chunks.recv().unwrap_or_else(|_| {
            Chunk::Failed(io::Error::other("the file's reading thread stopped"))
        })
    }

    /// Gives a block's buffer back for the thread to fill again.
    pub(super) fn recycle(&self, buf: Vec<u8>) {
        // The thread may have ended: then the buffer is simply dropped.
        let _ = self.spare.send(buf);
    }
}

fn read_blocks<R: Read>(
    src: &mut R,
    tx: &SyncSender<Chunk>,
    spare: &Receiver<Vec<u8>>,
    block: usize,
    room: usize,
) {
    let size = room + block;
    loop {
        // A buffer the reader grew for an outsized record is not kept at that size.
        let mut buf = spare
            .try_recv()
            .ok()
            .filter(|b| b.capacity() <= 2 * size)
            .unwrap_or_default();
        buf.resize(size, 0);
        // Each block as full as the file allows: fewer hand-overs.
        let mut len = 0;
        let mut failed = None;
        while len < block {
            match src.read(&mut buf[room + len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let ended = len < block;
        // A failed send: the reader is gone, and nobody wants the rest.
        if len > 0 && tx.send(Chunk::Bytes(Block { buf, len })).is_err() {
            return;
        }
        if ended {
            let _ = tx.send(failed.map_or(Chunk::End, Chunk::Failed));
            return;
        }
    }
}
