//! pcapng files, read here instead of through libpcap, in the same large blocks as
//! [`PcapReader`](super::pcap_reader::PcapReader) reads classic pcap.
//!
//! libpcap opens and vets every file first ([`FileSource`](super::FileSource)), so this reader
//! starts on a file libpcap accepted. [`PcapngReader::new`] then goes over the opening the way
//! libpcap 1.10's `pcap_ng_check_header` (sf-pcapng.c) does: the Section Header Block (byte
//! order from its magic; its options and trailer unread, as libpcap leaves them), blocks of other
//! types skipped, up to the first Interface Description Block (link type, snapshot length,
//! `if_tsresol`, `if_tsoffset`). It returns `None` (libpcap reads the file) for anything it
//! does not mirror: a link type libpcap renumbers or lets have records over 262144 bytes, or
//! an opening libpcap would have refused.
//!
//! After that, per block, it mirrors `pcap_ng_next_packet`, down to the error messages:
//! Enhanced and Simple Packet Blocks become frames; other block types are skipped; a block
//! shorter than 12 bytes, not a multiple of 4, over libpcap's 16 MiB limit (which also bounds
//! this reader's buffer), cut short by the end of the file, or whose trailer disagrees with
//! its header ends the read with libpcap's words, as do a packet on an interface with no IDB
//! and a capture length over the snapshot length.
//!
//! Three block types are not mirrored: a further Section Header Block, a further Interface
//! Description Block (libpcap checks its link type and snapshot length against the first
//! one's, then adds its time stamp settings) and the obsolete Packet Block. On meeting one,
//! [`PcapngReader::next_packet`] returns [`Next::Handoff`]: the caller reopens the file with
//! libpcap and skips the frames already delivered, so libpcap reads the rest exactly as it
//! would have.
//!
//! Timestamps are converted as libpcap converts them for microsecond precision: seconds
//! `t / tsresol + tsoffset` and the fraction `t % tsresol` scaled to microseconds, in 64-bit
//! unsigned arithmetic that wraps where C's does. `fuzzing::same_records_as_libpcap` holds all
//! of this against the installed libpcap, in the unit tests and on every `capture_file` input.

use std::fmt;
use std::io::{self, Read};

use super::read_buffer::ReadBuffer;

use crate::time::Timestamp;

const BT_SHB: u32 = 0x0a0d_0d0a;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// libpcap's limit on a block's total length for every link type read here (its
/// `INITIAL_MAX_BLOCKSIZE`, larger than an EPB with a 262144-byte packet and 128 KiB of
/// options). The buffer never grows past it.
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;
/// libpcap's limit on the first Section Header Block (`BT_SHB_INSANE_MAX`).
const MAX_SHB: u32 = 1024 * 1024;
/// The snapshot length libpcap uses when an IDB's is 0 or larger (`MAXIMUM_SNAPLEN`).
const MAX_SNAPLEN: u32 = 262_144;
/// How much is read from the file at a time.
const READ_BLOCK: usize = 1 << 20;
/// The precision libpcap delivers when opened as `pcap_open_offline` opens: microseconds.
const USER_TSRESOL: u64 = 1_000_000;

/// DLT_DBUS, DLT_USBPCAP, DLT_EBHSCR: libpcap allows them larger snapshot lengths and blocks;
/// left to libpcap.
const BIG_RECORD_DLTS: [u32; 3] = [231, 249, 279];

/// How an interface's time stamps become seconds and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsConfig {
    /// Units per second: 10^n or 2^n.
    pub tsresol: u64,
    /// The resolution is a power of 2.
    pub binary: bool,
    /// Seconds added to every time stamp.
    pub tsoffset: i64,
}

impl TsConfig {
    /// libpcap's conversion of a 64-bit time stamp `t` to a timeval at microsecond precision.
    fn timestamp(&self, t: u64) -> Timestamp {
        let sec = (t / self.tsresol).wrapping_add(self.tsoffset as u64);
        let mut frac = t % self.tsresol;
        if self.tsresol != USER_TSRESOL {
            frac = if self.binary {
                frac.wrapping_mul(USER_TSRESOL) / self.tsresol
            } else if self.tsresol > USER_TSRESOL {
                frac / (self.tsresol / USER_TSRESOL)
            } else {
                frac.wrapping_mul(USER_TSRESOL / self.tsresol)
            };
        }
        // `(time_t)sec` and `(int)frac`.
        Timestamp::from_timeval(sec as i64, i64::from(frac as i32))
    }
}

/// What the reader learnt from the opening of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// The section is big-endian.
    pub big_endian: bool,
    /// The first interface's link type.
    pub linktype: u32,
    /// libpcap's snapshot length (the IDB's, or 262144 when that is 0 or larger).
    pub snaplen: u32,
    /// The first interface's time stamps.
    pub ts: TsConfig,
}

/// Why reading stopped before the end of the file. `Display` is libpcap's message for the
/// same damage, word for word.
#[derive(Debug)]
pub enum ReadError {
    /// The file ends `got` bytes into a read of `want`.
    Truncated { want: u32, got: usize },
    /// A block's total length is under 12.
    TooSmall { len: u32 },
    /// A block's total length is not a multiple of 4.
    NotMultipleOf4 { len: u32 },
    /// A block's total length is over [`MAX_BLOCK`]; refused before reading it.
    TooBig { len: u32 },
    /// Header and trailer lengths differ.
    LengthMismatch { header: u32, trailer: u32 },
    /// A block is too short for its fixed part or its packet.
    BlockTooShort { block_type: u32 },
    /// A packet names an interface with no IDB.
    NoSuchInterface { id: u32 },
    /// A capture length over the snapshot length.
    BadCaptureLength { caplen: u32, snaplen: u32 },
    /// The read itself failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Truncated { want, got } => write!(
                f,
                "truncated pcapng dump file; tried to read {want} bytes, only got {got}"
            ),
            ReadError::TooSmall { len } => {
                write!(f, "block in pcapng dump file has a length of {len} < 12")
            }
            ReadError::NotMultipleOf4 { len } => write!(
                f,
                "block in pcapng dump file has a length of {len} that is not a multiple of 4"
            ),
            ReadError::TooBig { len } => {
                write!(f, "pcapng block size {len} > maximum {MAX_BLOCK}")
            }
            // libpcap 1.10 does not name the two lengths.
            ReadError::LengthMismatch { .. } => {
                f.write_str("block total length in header and trailer don't match")
            }
            ReadError::BlockTooShort { block_type } => write!(
                f,
                "block of type {block_type} in pcapng dump file is too short"
            ),
            ReadError::NoSuchInterface { id } => write!(
                f,
                "a packet arrived on interface {id}, but there's no Interface Description \
                 Block for that interface"
            ),
            ReadError::BadCaptureLength { caplen, snaplen } => write!(
                f,
                "invalid packet capture length {caplen}, bigger than snaplen of {snaplen}"
            ),
            ReadError::Io(e) => {
                let what = match e.raw_os_error() {
                    Some(n) => nix::errno::Errno::from_raw(n).desc().to_owned(),
                    None => e.to_string(),
                };
                write!(f, "error reading dump file: {what}")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// What [`PcapngReader::next_packet`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A frame and its time stamp.
    Packet(Timestamp, &'a [u8]),
    /// The end of the file.
    End,
    /// A block this reader does not mirror (see the module documentation): libpcap must read
    /// the rest of the file, after skipping the frames delivered so far.
    Handoff,
}

/// Records of a pcapng file, read in blocks.
pub struct PcapngReader<R> {
    opening: Opening,
    io: ReadBuffer<R>,
}

impl<R: Read> PcapngReader<R> {
    /// Reads the opening of the file up to and including the first IDB. `dlt` is the link
    /// type libpcap reported when it opened the same file. `Ok(None)`: not a file this reader
    /// takes (see the module documentation); libpcap should read it.
    pub fn new(src: R, dlt: u32) -> io::Result<Option<Self>> {
        let mut r = PcapngReader {
            opening: Opening {
                big_endian: false,
                linktype: 0,
                snaplen: 0,
                ts: TsConfig {
                    tsresol: USER_TSRESOL,
                    binary: false,
                    tsoffset: 0,
                },
            },
            io: ReadBuffer::new(src, READ_BLOCK),
        };
        match r.open(dlt) {
            Ok(true) => Ok(Some(r)),
            Ok(false) => Ok(None),
            Err(ReadError::Io(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// What [`new`](Self::new) read.
    pub fn opening(&self) -> Opening {
        self.opening
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = &self.io.buf[at..at + 4];
        let b = [b[0], b[1], b[2], b[3]];
        if self.opening.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = [self.io.buf[at], self.io.buf[at + 1]];
        if self.opening.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    /// `pcap_ng_check_header`: `false` (or an error) where libpcap would not open the file
    /// or this reader does not take it.
    fn open(&mut self, dlt: u32) -> Result<bool, ReadError> {
        if !self.fill(12)? {
            return Ok(false);
        }
        let b = &self.io.buf[..12];
        if b[..4] != BT_SHB.to_le_bytes() {
            return Ok(false);
        }
        let magic = [b[8], b[9], b[10], b[11]];
        self.opening.big_endian = if u32::from_le_bytes(magic) == BYTE_ORDER_MAGIC {
            false
        } else if u32::from_be_bytes(magic) == BYTE_ORDER_MAGIC {
            true
        } else {
            return Ok(false);
        };
        let shb_len = self.u32_at(4);
        if !(28..=MAX_SHB).contains(&shb_len) || !self.fill(shb_len as usize)? {
            return Ok(false);
        }
        let (major, minor) = (self.u16_at(12), self.u16_at(14));
        if major != 1 || !(minor == 0 || minor == 2) {
            return Ok(false);
        }
        // libpcap reads the rest of the SHB and checks neither its options nor its trailer.
        self.io.start = shb_len as usize;
        loop {
            let Some((block_type, body)) = self.block()? else {
                return Ok(false);
            };
            match block_type {
                BT_IDB => break self.first_interface(body, dlt),
                BT_EPB | BT_SPB | BT_PB => return Ok(false),
                _ => {}
            }
        }
    }

    /// `add_interface` for the first IDB, whose body is `buf[body]`.
    fn first_interface(
        &mut self,
        body: std::ops::Range<usize>,
        dlt: u32,
    ) -> Result<bool, ReadError> {
        if body.len() < 8 {
            return Ok(false);
        }
        let linktype = u32::from(self.u16_at(body.start));
        let snaplen = self.u32_at(body.start + 4);
        // libpcap renumbers a few link types (LINKTYPE_RAW is DLT_RAW, 12 on Linux) and then
        // compares later IDBs with the renumbered one; those stay with it.
        if linktype != dlt || BIG_RECORD_DLTS.contains(&dlt) {
            return Ok(false);
        }
        // A snapshot length over the usual maximum is not simply clamped by libpcap 1.10.3 (a
        // fuzzed file showed it checking records against the IDB's own 2,490,368): not
        // mirrored, so libpcap reads such files.
        if snaplen > MAX_SNAPLEN {
            return Ok(false);
        }
        let mut ts = TsConfig {
            tsresol: USER_TSRESOL,
            binary: false,
            tsoffset: 0,
        };
        let (mut saw_tsresol, mut saw_tsoffset) = (false, false);
        let mut at = body.start + 8;
        while at < body.end {
            if body.end - at < 4 {
                return Ok(false);
            }
            let code = self.u16_at(at);
            let len = usize::from(self.u16_at(at + 2));
            let value = at + 4;
            let padded = len.div_ceil(4) * 4;
            if body.end - value < padded {
                return Ok(false);
            }
            at = value + padded;
            match code {
                0 if len != 0 => return Ok(false),
                0 => break,
                9 => {
                    if len != 1 || saw_tsresol {
                        return Ok(false);
                    }
                    saw_tsresol = true;
                    let v = self.io.buf[value];
                    if v & 0x80 != 0 {
                        let shift = v & 0x7f;
                        if shift > 63 {
                            return Ok(false);
                        }
                        ts.binary = true;
                        ts.tsresol = 1 << shift;
                    } else {
                        if v > 19 {
                            return Ok(false);
                        }
                        ts.binary = false;
                        ts.tsresol = 10u64.pow(u32::from(v));
                    }
                }
                14 => {
                    if len != 8 || saw_tsoffset {
                        return Ok(false);
                    }
                    saw_tsoffset = true;
                    let b = &self.io.buf[value..value + 8];
                    let b = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                    ts.tsoffset = if self.opening.big_endian {
                        i64::from_be_bytes(b)
                    } else {
                        i64::from_le_bytes(b)
                    };
                }
                _ => {}
            }
        }
        self.opening.linktype = linktype;
        self.opening.snaplen = if snaplen == 0 { MAX_SNAPLEN } else { snaplen };
        self.opening.ts = ts;
        Ok(true)
    }

    /// libpcap's `read_block`: the next block's type and the range of its body (between the
    /// 8-byte header and the trailer) in the buffer, consumed; `None` at the end of the file.
    #[inline]
    fn block(&mut self) -> Result<Option<(u32, std::ops::Range<usize>)>, ReadError> {
        if !self.fill(8)? {
            return match self.io.end - self.io.start {
                0 => Ok(None),
                got => Err(ReadError::Truncated { want: 8, got }),
            };
        }
        let block_type = self.u32_at(self.io.start);
        let len = self.u32_at(self.io.start + 4);
        if len < 12 {
            return Err(ReadError::TooSmall { len });
        }
        if !len.is_multiple_of(4) {
            return Err(ReadError::NotMultipleOf4 { len });
        }
        if len > MAX_BLOCK {
            return Err(ReadError::TooBig { len });
        }
        let total = len as usize;
        if !self.fill(total)? {
            let got = self.io.end - self.io.start - 8;
            return Err(ReadError::Truncated { want: len - 8, got });
        }
        let trailer = self.u32_at(self.io.start + total - 4);
        if trailer != len {
            return Err(ReadError::LengthMismatch {
                header: len,
                trailer,
            });
        }
        let body = self.io.start + 8..self.io.start + total - 4;
        self.io.start += total;
        Ok(Some((block_type, body)))
    }

    /// The next frame and its timestamp, the end of the file, or a block left to libpcap.
    /// The frame borrows the reader's buffer until the next call.
    pub fn next_packet(&mut self) -> Result<Next<'_>, ReadError> {
        loop {
            // Blocks left to libpcap are handed off before anything of them is read.
            if self.fill(4)? && matches!(self.u32_at(self.io.start), BT_SHB | BT_IDB | BT_PB) {
                return Ok(Next::Handoff);
            }
            let Some((block_type, body)) = self.block()? else {
                return Ok(Next::End);
            };
            let snaplen = self.opening.snaplen;
            let (t, caplen, data) = match block_type {
                BT_EPB => {
                    if body.len() < 20 {
                        return Err(ReadError::BlockTooShort { block_type });
                    }
                    let id = self.u32_at(body.start);
                    let t = u64::from(self.u32_at(body.start + 4)) << 32
                        | u64::from(self.u32_at(body.start + 8));
                    let caplen = self.u32_at(body.start + 12);
                    if id != 0 {
                        return Err(ReadError::NoSuchInterface { id });
                    }
                    (t, caplen, body.start + 20)
                }
                BT_SPB => {
                    if body.len() < 4 {
                        return Err(ReadError::BlockTooShort { block_type });
                    }
                    (0, self.u32_at(body.start).min(snaplen), body.start + 4)
                }
                _ => continue,
            };
            if caplen > snaplen {
                return Err(ReadError::BadCaptureLength { caplen, snaplen });
            }
            // Bounded by the snapshot length just above.
            let caplen = caplen as usize;
            if body.end - data < caplen {
                return Err(ReadError::BlockTooShort { block_type });
            }
            let ts = self.opening.ts.timestamp(t);
            return Ok(Next::Packet(ts, &self.io.buf[data..data + caplen]));
        }
    }

    /// [`ReadBuffer::fill`], its read error in this reader's terms.
    #[inline]
    fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        self.io.fill(n).map_err(ReadError::Io)
    }
}

#[cfg(test)]
mod tests {
    //! Hand-made files, each checked for what it must give and against libpcap reading the
    //! same bytes (`fuzzing::same_pcapng_records_as_libpcap`, which the `capture_file` fuzz
    //! target runs on every input too).

    use super::*;
    use crate::fuzzing::same_records_as_libpcap;

    /// Builds a pcapng file in one byte order.
    struct Ng {
        be: bool,
        out: Vec<u8>,
    }

    impl Ng {
        fn new(be: bool) -> Ng {
            let mut ng = Ng {
                be,
                out: Vec::new(),
            };
            let mut shb = ng.w32(BYTE_ORDER_MAGIC).to_vec();
            shb.extend(ng.w16(1));
            shb.extend(ng.w16(0));
            shb.extend([0xff; 8]);
            ng.block(BT_SHB, &shb);
            ng
        }
        fn w32(&self, v: u32) -> [u8; 4] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn w16(&self, v: u16) -> [u8; 2] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn block(&mut self, kind: u32, body: &[u8]) -> &mut Ng {
            let mut body = body.to_vec();
            while !body.len().is_multiple_of(4) {
                body.push(0);
            }
            let len = (12 + body.len()) as u32;
            let (k, l) = (self.w32(kind), self.w32(len));
            self.out.extend(k);
            self.out.extend(l);
            self.out.extend(body);
            self.out.extend(l);
            self
        }
        /// An IDB with the given options (code, value).
        fn idb(&mut self, linktype: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> &mut Ng {
            let mut b = self.w16(linktype).to_vec();
            b.extend([0, 0]);
            b.extend(self.w32(snaplen));
            for (code, v) in opts {
                b.extend(self.w16(*code));
                b.extend(self.w16(v.len() as u16));
                b.extend(v);
                while !b.len().is_multiple_of(4) {
                    b.push(0);
                }
            }
            if !opts.is_empty() {
                b.extend([0; 4]);
            }
            self.block(BT_IDB, &b)
        }
        fn epb(&mut self, id: u32, t: u64, data: &[u8]) -> &mut Ng {
            let mut b = Vec::new();
            for v in [
                id,
                (t >> 32) as u32,
                t as u32,
                data.len() as u32,
                data.len() as u32,
            ] {
                b.extend(self.w32(v));
            }
            b.extend(data);
            self.block(BT_EPB, &b)
        }
        fn spb(&mut self, len: u32, data: &[u8]) -> &mut Ng {
            let mut b = self.w32(len).to_vec();
            b.extend(data);
            self.block(BT_SPB, &b)
        }
        fn tsoffset(&self, v: i64) -> Vec<u8> {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
            .to_vec()
        }
    }

    fn frame(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    type Frames = Vec<(Timestamp, Vec<u8>)>;

    /// Everything `bytes` gives, read as a file with libpcap's link type `dlt`.
    fn read_all(bytes: &[u8], dlt: u32) -> (Frames, Result<bool, String>) {
        let mut r = PcapngReader::new(bytes, dlt)
            .unwrap()
            .expect("a pcapng we take");
        let mut frames = Vec::new();
        loop {
            match r.next_packet() {
                Ok(Next::Packet(ts, f)) => frames.push((ts, f.to_vec())),
                Ok(Next::End) => return (frames, Ok(false)),
                Ok(Next::Handoff) => return (frames, Ok(true)),
                Err(e) => return (frames, Err(e.to_string())),
            }
        }
    }

    fn agrees_with_libpcap(bytes: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.pcapng");
        std::fs::write(&p, bytes).unwrap();
        same_records_as_libpcap(&p);
    }

    #[test]
    fn both_byte_orders_epb_and_spb() {
        for be in [false, true] {
            let mut ng = Ng::new(be);
            ng.idb(1, 0, &[])
                .epb(0, 1_700_000_000_123_456, &frame(60, 1))
                .spb(40, &frame(40, 2))
                .epb(0, 5, &[]);
            let (frames, end) = read_all(&ng.out, 1);
            assert_eq!(end, Ok(false));
            assert_eq!(
                frames,
                [
                    (Timestamp(1_700_000_000_123_456), frame(60, 1)),
                    (Timestamp(0), frame(40, 2)),
                    (Timestamp(5), vec![]),
                ]
            );
            let o = PcapngReader::new(&ng.out[..], 1)
                .unwrap()
                .unwrap()
                .opening();
            assert_eq!((o.big_endian, o.linktype, o.snaplen), (be, 1, MAX_SNAPLEN));
            agrees_with_libpcap(&ng.out);
        }
    }

    #[test]
    fn time_stamp_resolutions_and_offset() {
        let t = 1_700_000_000_987_654_321u64;
        for be in [false, true] {
            for (res, want) in [
                (
                    6u8,
                    Timestamp::from_timeval((t / 1_000_000) as i64, (t % 1_000_000) as i64),
                ),
                (9, Timestamp(1_700_000_000_987_654)),
                (0x80 | 30, {
                    let s = t >> 30;
                    let f = ((t & ((1 << 30) - 1)) * 1_000_000) >> 30;
                    Timestamp::from_timeval(s as i64, f as i64)
                }),
            ] {
                let mut ng = Ng::new(be);
                ng.idb(1, 1500, &[(9, vec![res])]).epb(0, t, &frame(20, 3));
                let (frames, end) = read_all(&ng.out, 1);
                assert_eq!(end, Ok(false));
                assert_eq!(frames[0].0, want, "tsresol {res:#x}");
                agrees_with_libpcap(&ng.out);
            }
            // Every resolution libpcap takes, a few odd values, and an offset.
            for res in (0..=19).chain(0x80..=0x80 + 63) {
                let mut ng = Ng::new(be);
                let off = ng.tsoffset(-7200);
                ng.idb(1, 0, &[(2, b"eth0".to_vec()), (9, vec![res]), (14, off)]);
                for t in [0, 1, t, u64::MAX, 1 << 63, 999_999_999_999] {
                    ng.epb(0, t, &[1, 2, 3]).spb(3, &[4, 5, 6]);
                }
                agrees_with_libpcap(&ng.out);
            }
        }
    }

    #[test]
    fn other_blocks_are_skipped() {
        for be in [false, true] {
            let mut ng = Ng::new(be);
            ng.block(0xbad, &[1, 2, 3, 4]) // a custom block before the IDB
                .idb(1, 65535, &[])
                .block(4, &[0, 0, 0, 0]) // name resolution
                .block(0x0000_0bad, b"custom block data")
                .block(0x4000_0bad, &[])
                .block(5, &[0; 12]) // interface statistics
                .epb(0, 1, &frame(10, 4))
                .block(0x0000_000a, b"a decryption secrets block");
            let (frames, end) = read_all(&ng.out, 1);
            assert_eq!((frames.len(), end), (1, Ok(false)));
            agrees_with_libpcap(&ng.out);
        }
    }

    #[test]
    fn damage_ends_as_libpcap_ends() {
        let mut ng = Ng::new(false);
        ng.idb(1, 100, &[]).epb(0, 1, &frame(50, 5));
        let good = ng.out.clone();
        // Cut everywhere after the opening.
        let opening = good.len() - (12 + 20 + 52);
        for cut in opening..good.len() {
            agrees_with_libpcap(&good[..cut]);
        }
        let (_, end) = read_all(&good[..good.len() - 1], 1);
        assert_eq!(
            end,
            Err("truncated pcapng dump file; tried to read 76 bytes, only got 75".into())
        );
        // Block lengths: too small, not a multiple of 4, too big, trailer mismatch.
        for len in [0u32, 8, 11, 13, 86, MAX_BLOCK + 4, u32::MAX - 3] {
            let mut f = good.clone();
            f[opening + 4..opening + 8].copy_from_slice(&len.to_le_bytes());
            agrees_with_libpcap(&f);
        }
        let mut f = good.clone();
        let n = f.len();
        f[n - 4] ^= 4;
        assert!(read_all(&f, 1).1.unwrap_err().contains("don't match"));
        agrees_with_libpcap(&f);
        // Interface 1 has no IDB; caplen over the snapshot length; caplen over the block.
        for (at, v) in [(8, 1u32), (8, 7), (20, 101), (20, 52), (20, u32::MAX)] {
            let mut f = good.clone();
            f[opening + at..opening + at + 4].copy_from_slice(&v.to_le_bytes());
            agrees_with_libpcap(&f);
        }
        let mut f = good.clone();
        f[opening + 8..opening + 12].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(
            read_all(&f, 1).1,
            Err(
                "a packet arrived on interface 3, but there's no Interface Description Block \
                 for that interface"
                    .into()
            )
        );
        let mut f = good.clone();
        f[opening + 20..opening + 24].copy_from_slice(&101u32.to_le_bytes());
        assert_eq!(
            read_all(&f, 1).1,
            Err("invalid packet capture length 101, bigger than snaplen of 100".into())
        );
        // Short EPB and SPB bodies.
        let mut ng = Ng::new(true);
        ng.idb(1, 0, &[]).block(BT_EPB, &[0; 16]);
        agrees_with_libpcap(&ng.out);
        let mut ng = Ng::new(true);
        ng.idb(1, 0, &[]).block(BT_SPB, &[]);
        agrees_with_libpcap(&ng.out);
        // An SPB longer than the snapshot length delivers the snapshot length.
        let mut ng = Ng::new(false);
        ng.idb(1, 64, &[])
            .spb(1000, &frame(1000, 6))
            .spb(1000, &frame(10, 6));
        let (frames, _) = read_all(&ng.out, 1);
        assert_eq!(frames[0].1, frame(64, 6));
        agrees_with_libpcap(&ng.out);
    }

    #[test]
    fn left_to_libpcap_at_open_or_handed_off() {
        // Raw IP: libpcap renumbers LINKTYPE_RAW, so the reader leaves it.
        let mut ng = Ng::new(false);
        ng.idb(101, 0, &[]).epb(0, 1, &[0x45]);
        assert!(PcapngReader::new(&ng.out[..], 12).unwrap().is_none());
        agrees_with_libpcap(&ng.out);
        // A second IDB (same or another link type), a second section, a Packet Block: handed
        // off after the frames before them.
        for (kind, body) in [
            (BT_IDB, vec![1, 0, 0, 0, 0, 0, 0, 0]),
            (BT_IDB, vec![113, 0, 0, 0, 0, 0, 0, 0]),
            (BT_PB, vec![0; 20]),
        ] {
            let mut ng = Ng::new(false);
            ng.idb(1, 0, &[])
                .epb(0, 1, &frame(30, 7))
                .block(kind, &body);
            ng.epb(1, 2, &frame(30, 8)).epb(0, 3, &frame(30, 9));
            let (frames, end) = read_all(&ng.out, 1);
            assert_eq!((frames.len(), end), (1, Ok(true)));
            agrees_with_libpcap(&ng.out);
        }
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[]).epb(0, 1, &frame(30, 7));
        let second = Ng::new(false).out;
        ng.out.extend(second);
        ng.idb(1, 0, &[(9, vec![9])]).epb(0, 2, &frame(30, 8));
        assert_eq!(read_all(&ng.out, 1).1, Ok(true));
        agrees_with_libpcap(&ng.out);
    }

    #[test]
    fn file_source_hands_off_to_libpcap_mid_file() {
        let mut ng = Ng::new(true);
        ng.idb(1, 0, &[]).epb(0, 1, &frame(30, 1));
        ng.idb(1, 0, &[(9, vec![3])]).epb(1, 2_000, &frame(30, 2));
        ng.epb(0, 3, &frame(30, 3));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.pcapng");
        std::fs::write(&p, &ng.out).unwrap();
        let mut s = crate::capture::FileSource::open(&p, "", None).unwrap();
        let mut got = Vec::new();
        s.for_each(|ts, f| got.push((ts, f.to_vec()))).unwrap();
        assert_eq!(
            got,
            [
                (Timestamp(1), frame(30, 1)),
                (Timestamp(2_000_000), frame(30, 2)),
                (Timestamp(3), frame(30, 3)),
            ]
        );
    }

    #[test]
    fn random_damage_ends_where_and_as_libpcap_ends() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let lens = [
            0u32,
            1,
            4,
            12,
            13,
            28,
            64,
            1500,
            65_535,
            262_144,
            262_145,
            u32::MAX,
        ];
        for _ in 0..400 {
            let be = rnd() % 2 == 0;
            let mut ng = Ng::new(be);
            let snaplen = lens[(rnd() % lens.len() as u64) as usize];
            let res = [6u8, 9, 0x80 | 20, 3, 0][(rnd() % 5) as usize];
            ng.idb(1, snaplen, &[(9, vec![res])]);
            for _ in 0..rnd() % 6 {
                let n = (rnd() % 2000) as usize;
                match rnd() % 5 {
                    0 => ng.spb(n as u32, &frame(n, 1)),
                    1 => ng.block(4, &frame(n % 40, 2)),
                    _ => ng.epb((rnd() % 20 == 0) as u32, rnd(), &frame(n, 3)),
                };
            }
            let mut f = ng.out.clone();
            // Overwrite a random word after the SHB with a length-like value.
            if rnd() % 2 == 0 && f.len() > 32 {
                let at = 28 + (rnd() as usize % (f.len() - 32)) / 4 * 4;
                let v = lens[(rnd() % lens.len() as u64) as usize];
                f[at..at + 4].copy_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
            }
            let cut = if rnd() % 2 == 0 {
                f.len()
            } else {
                28 + (rnd() % (f.len() as u64 - 27)) as usize
            };
            agrees_with_libpcap(&f[..cut]);
        }
    }

    #[test]
    fn blocks_across_the_read_buffer_and_a_big_block() {
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[]);
        for i in 0..3000u32 {
            let n = if i % 700 == 0 {
                262_144
            } else {
                (i as usize * 7) % 1600
            };
            ng.epb(0, u64::from(i), &frame(n, i as u8));
        }
        // A block of 3 MiB (within libpcap's limit) with nothing we read.
        ng.block(0xbad, &vec![7; 3 << 20]).epb(0, 9, &[1]);
        let (frames, end) = read_all(&ng.out, 1);
        assert_eq!((frames.len(), end), (3001, Ok(false)));
        agrees_with_libpcap(&ng.out);
    }
}
