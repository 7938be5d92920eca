//! Classic pcap files (what `tcpdump -w` writes), read here instead of through libpcap.
//!
//! libpcap reads a savefile record by record, two `fread`s into its own buffer per packet, then
//! hands the packet over through `pcap_next_ex`: 195 M instructions for the 400 k packets of the
//! replay benchmark's capture, before its BPF filter. This reads the file in 1 MiB blocks and
//! hands out each frame as a slice of the block: no allocation and no copy per packet; the only
//! copy is moving the unread tail (less than one record) to the front when the block is
//! refilled.
//!
//! It takes only what libpcap would read the same way: magic `a1b2c3d4` (microseconds) or
//! `a1b23c4d` (nanoseconds), in either byte order, version 2.4 (2.0 to 2.3 swap or may swap the
//! length fields; libpcap guesses, we leave that to it). Everything else, pcapng included, is
//! left to libpcap by [`PcapReader::new`] returning `None`; [`FileSource`](super::FileSource)
//! has libpcap open and vet every file first anyway, so errors about the file header are
//! libpcap's own.
//!
//! Per record it mirrors libpcap 1.10's `pcap_next_packet` (sf-pcap.c), down to the error
//! messages, so a damaged file stops where it did and says what it said:
//! - a capture length above 262144 is refused before anything is read ("invalid packet capture
//!   length"), which also bounds the buffer: one record always fits in it;
//! - a capture length above the file's snapshot length (but within 262144) is read, and only
//!   the first snapshot-length bytes are delivered;
//! - a file that ends inside a record is "truncated dump file; tried to read …, only got …";
//! - timestamps are 32-bit seconds and fraction, widened as libpcap widens them: signed when the
//!   file is in this host's byte order, unsigned when it is byte-swapped; nanoseconds are
//!   divided down to microseconds (truncating), as libpcap does when asked for microseconds.
//!
//! `fuzzing::same_records_as_libpcap` holds all of this against the installed libpcap, in the
//! unit tests below and on every input of the `capture_file` fuzz target.
//!
//! One thing is not mirrored: for byte-swapped files of a few link types (Linux cooked CAN
//! frames, USB, NFLOG, PFLOG) libpcap byte-swaps fields of a pseudo-header inside the frame.
//! Those fields are never IP bytes, and we decode none of these link types (PFLOG, which does
//! wrap IP, is `unsupported_link_type` to us), so the frames count the same.

use std::fmt;
use std::io::{self, Read};

use super::read_buffer::ReadBuffer;

use crate::time::Timestamp;

/// The largest capture length libpcap accepts for the link types read here (its
/// `MAXIMUM_SNAPLEN`); also the snapshot length it assumes when a header's is 0 or negative.
pub const MAX_SNAPLEN: u32 = 262_144;

const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;
/// How much is read from the file at a time; holds several hundred typical records.
const BLOCK: usize = 1 << 20;
// A record always fits in the block, whatever the file says.
const _: () = assert!(BLOCK >= RECORD_HEADER + MAX_SNAPLEN as usize);

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// LINKTYPE_DBUS, LINKTYPE_USBPCAP, LINKTYPE_EBHSCR: libpcap allows them records larger than
/// [`MAX_SNAPLEN`] (up to 128 MiB); left to libpcap, so this reader's memory stays bounded.
const BIG_RECORD_LINKTYPES: [u32; 3] = [231, 249, 279];

/// A classic pcap file header, as libpcap interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// Written big-endian (fields are in the byte order of the host that wrote the file).
    pub big_endian: bool,
    /// Timestamps carry nanoseconds rather than microseconds.
    pub nanos: bool,
    /// libpcap's snapshot length: the header's, or [`MAX_SNAPLEN`] when that is 0 or negative
    /// (as a signed 32-bit number).
    pub snaplen: u32,
    /// The LINKTYPE_ value: the low 26 bits (the upper bits can carry an FCS length).
    pub linktype: u32,
}

impl FileHeader {
    /// The header, if it is one this reader takes (see the module documentation).
    pub fn parse(b: &[u8; FILE_HEADER]) -> Option<FileHeader> {
        let magic = [b[0], b[1], b[2], b[3]];
        let (big_endian, nanos) = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
            (MAGIC_MICROS, _) => (false, false),
            (MAGIC_NANOS, _) => (false, true),
            (_, MAGIC_MICROS) => (true, false),
            (_, MAGIC_NANOS) => (true, true),
            _ => return None,
        };
        let u16_at = |at: usize| {
            let v = [b[at], b[at + 1]];
            if big_endian {
                u16::from_be_bytes(v)
            } else {
                u16::from_le_bytes(v)
            }
        };
        let u32_at = |at: usize| u32_from(big_endian, [b[at], b[at + 1], b[at + 2], b[at + 3]]);
        if (u16_at(4), u16_at(6)) != (2, 4) {
            return None;
        }
        let linktype = u32_at(20) & 0x03ff_ffff;
        if BIG_RECORD_LINKTYPES.contains(&linktype) {
            return None;
        }
        // libpcap 1.10 takes the snapshot length as a C int and replaces it only when it is
        // not positive (a larger one stays, though no record may exceed MAX_SNAPLEN).
        let snaplen = match u32_at(16) {
            s @ 1..=0x7fff_ffff => s,
            _ => MAX_SNAPLEN,
        };
        Some(FileHeader {
            big_endian,
            nanos,
            snaplen,
            linktype,
        })
    }
}

fn u32_from(big_endian: bool, b: [u8; 4]) -> u32 {
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Why reading stopped before the end of the file. `Display` is libpcap's message for the
/// same damage, word for word, so users see what they saw when libpcap read the file.
#[derive(Debug)]
pub enum ReadError {
    /// The file ends inside a record header, `got` bytes into it.
    TruncatedHeader { got: usize },
    /// The file ends inside a record's data: libpcap tried to read `want` bytes and got `got`.
    TruncatedData { want: u32, got: usize },
    /// A record claims more data than libpcap accepts; refused before reading it.
    BadCaptureLength { caplen: u32, snaplen: u32 },
    /// The read itself failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TruncatedHeader { got } => write!(
                f,
                "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {got}"
            ),
            ReadError::TruncatedData { want, got } => write!(
                f,
                "truncated dump file; tried to read {want} captured bytes, only got {got}"
            ),
            ReadError::BadCaptureLength { caplen, snaplen } => {
                if caplen > snaplen {
                    write!(
                        f,
                        "invalid packet capture length {caplen}, bigger than snaplen of {snaplen}"
                    )
                } else {
                    write!(
                        f,
                        "invalid packet capture length {caplen}, bigger than maximum of \
                         {MAX_SNAPLEN}"
                    )
                }
            }
            ReadError::Io(e) => {
                // libpcap says strerror(errno), without Rust's "(os error N)".
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

/// Records of a classic pcap file, read in blocks.
pub struct PcapReader<R> {
    header: FileHeader,
    io: ReadBuffer<R>,
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header. `Ok(None)`: not a file for this reader (another format, another
    /// version, a header cut short); nothing more has been read, and libpcap should have it.
    pub fn new(mut src: R) -> io::Result<Option<Self>> {
        let mut head = [0u8; FILE_HEADER];
        let mut got = 0;
        while got < FILE_HEADER {
            match src.read(&mut head[got..]) {
                Ok(0) => return Ok(None),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let Some(header) = FileHeader::parse(&head) else {
            return Ok(None);
        };
        Ok(Some(PcapReader {
            header,
            io: ReadBuffer::new(src, BLOCK),
        }))
    }

    /// The file header, as read by [`new`](Self::new).
    pub fn header(&self) -> FileHeader {
        self.header
    }

    /// The next frame and its timestamp; `Ok(None)` at the end of the file. The frame is at
    /// most the snapshot length long and borrows the reader's block until the next call.
    pub fn next_packet(&mut self) -> Result<Option<(Timestamp, &[u8])>, ReadError> {
        if !self.fill(RECORD_HEADER)? {
            return match self.io.end - self.io.start {
                0 => Ok(None),
                got => Err(ReadError::TruncatedHeader { got }),
            };
        }
        let h = &self.io.buf[self.io.start..self.io.start + RECORD_HEADER];
        let be = self.header.big_endian;
        let field = |at: usize| u32_from(be, [h[at], h[at + 1], h[at + 2], h[at + 3]]);
        // libpcap 1.10 widens the 32-bit seconds and fraction into the C timeval as signed
        // numbers when the file is in this host's byte order, but as unsigned ones when it
        // byte-swaps them (its SWAPLONG yields an unsigned int): 2^31 s and later are before
        // 1970 (so 0, for us) in one, after 2038 in the other.
        let widen = |v: u32| {
            if be == cfg!(target_endian = "big") {
                i64::from(v as i32)
            } else {
                i64::from(v)
            }
        };
        let secs = widen(field(0));
        let frac = widen(field(4));
        let caplen = field(8);
        let snaplen = self.header.snaplen;
        if caplen > MAX_SNAPLEN {
            return Err(ReadError::BadCaptureLength { caplen, snaplen });
        }
        // Bounded by MAX_SNAPLEN just above, so it fits in the block.
        let record = RECORD_HEADER + caplen as usize;
        if !self.fill(record)? {
            let got = self.io.end - self.io.start - RECORD_HEADER;
            // Past the snapshot length libpcap reads the first `snaplen` bytes, then discards
            // the rest; its message names whichever read fell short.
            let want = if caplen > snaplen && got < snaplen as usize {
                snaplen
            } else {
                caplen
            };
            return Err(ReadError::TruncatedData { want, got });
        }
        let micros = if self.header.nanos { frac / 1000 } else { frac };
        let ts = Timestamp::from_timeval(secs, micros);
        let data = self.io.start + RECORD_HEADER;
        self.io.start += record;
        let len = caplen.min(snaplen) as usize;
        Ok(Some((ts, &self.io.buf[data..data + len])))
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
    //! same bytes (`fuzzing::same_records_as_libpcap`, which the `capture_file` fuzz target
    //! runs on every input too).

    use super::*;
    use crate::fuzzing::same_records_as_libpcap;

    /// A version 2.4 file header, each field in the byte order asked for.
    fn header(big_endian: bool, magic: u32, snaplen: u32, linktype: u32) -> Vec<u8> {
        let mut h = Vec::new();
        let w32 = |h: &mut Vec<u8>, v: u32| {
            h.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        w32(&mut h, magic);
        let (major, minor) = (2u16, 4u16);
        for v in [major, minor] {
            h.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        w32(&mut h, 0);
        w32(&mut h, 0);
        w32(&mut h, snaplen);
        w32(&mut h, linktype);
        h
    }

    fn record(big_endian: bool, secs: u32, frac: u32, caplen: u32, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        for v in [secs, frac, caplen, caplen] {
            r.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        r.extend_from_slice(data);
        r
    }

    fn frame(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    type Frames = Vec<(Timestamp, Vec<u8>)>;

    /// Everything `bytes` gives: the frames, then the end.
    fn read_all(bytes: &[u8]) -> (Frames, Result<(), String>) {
        let mut r = PcapReader::new(bytes).unwrap().expect("a classic pcap");
        let mut frames = Vec::new();
        loop {
            match r.next_packet() {
                Ok(Some((ts, f))) => frames.push((ts, f.to_vec())),
                Ok(None) => return (frames, Ok(())),
                Err(e) => return (frames, Err(e.to_string())),
            }
        }
    }

    /// `bytes` as a file, read by libpcap and by us: they must agree.
    fn agrees_with_libpcap(bytes: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.pcap");
        std::fs::write(&p, bytes).unwrap();
        same_records_as_libpcap(&p);
    }

    #[test]
    fn both_byte_orders_micro_and_nano_seconds() {
        for big_endian in [false, true] {
            for (magic, frac, micros) in [
                (MAGIC_MICROS, 654_321, 654_321),
                (MAGIC_NANOS, 654_321_987, 654_321),
            ] {
                let mut f = header(big_endian, magic, 65_535, 1);
                f.extend(record(big_endian, 1_700_000_000, frac, 60, &frame(60, 1)));
                f.extend(record(big_endian, 1_700_000_001, 0, 0, &[]));
                let (frames, end) = read_all(&f);
                assert_eq!(end, Ok(()));
                assert_eq!(frames.len(), 2);
                assert_eq!(frames[0].0, Timestamp(1_700_000_000_000_000 + micros));
                assert_eq!(frames[0].1, frame(60, 1));
                assert_eq!(frames[1], (Timestamp::from_secs(1_700_000_001), vec![]));
                let h = PcapReader::new(&f[..]).unwrap().unwrap().header();
                assert_eq!(
                    (h.big_endian, h.nanos, h.linktype),
                    (big_endian, magic == MAGIC_NANOS, 1)
                );
                agrees_with_libpcap(&f);
            }
        }
    }

    #[test]
    fn odd_timestamps_as_libpcap_gives_them() {
        // Seconds from 2038 on (negative as an int32), fractions out of range.
        for big_endian in [false, true] {
            for magic in [MAGIC_MICROS, MAGIC_NANOS] {
                let mut f = header(big_endian, magic, 0, 1);
                for (s, frac) in [
                    (0xffff_fff0, 5),
                    (0x8000_0000, 0),
                    (7, 0xffff_ff00),
                    (7, 2_999_999_999),
                    (7, 1_000_000_000),
                    (3, 1_000_001),
                ] {
                    f.extend(record(big_endian, s, frac, 1, &[0]));
                }
                agrees_with_libpcap(&f);
            }
        }
    }

    #[test]
    fn random_damage_ends_where_and_as_libpcap_ends() {
        // Records with their length fields and the file's snapshot length set to values
        // around every limit, then cut anywhere.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let lens = [
            0,
            1,
            63,
            64,
            65,
            1500,
            65_535,
            262_144,
            262_145,
            0x8000_0000,
            u32::MAX,
        ];
        for case in 0..600 {
            let big_endian = rnd() % 2 == 0;
            let magic = [MAGIC_MICROS, MAGIC_NANOS][(rnd() % 2) as usize];
            let snaplen = lens[(rnd() % lens.len() as u64) as usize];
            let mut f = header(big_endian, magic, snaplen, (rnd() % 300) as u32);
            for _ in 0..rnd() % 6 {
                let n = (rnd() % 3000) as u32;
                let mut r = record(
                    big_endian,
                    rnd() as u32,
                    rnd() as u32,
                    n,
                    &frame(n as usize, 9),
                );
                if rnd() % 4 == 0 {
                    // Claim another length than the data has.
                    let claim = lens[(rnd() % lens.len() as u64) as usize];
                    let b = if big_endian {
                        claim.to_be_bytes()
                    } else {
                        claim.to_le_bytes()
                    };
                    r[8..12].copy_from_slice(&b);
                }
                f.extend(r);
            }
            let cut = if rnd() % 2 == 0 {
                f.len()
            } else {
                (rnd() % (f.len() as u64 + 1)) as usize
            };
            let f = &f[..cut.max(FILE_HEADER)];
            let _ = case;
            agrees_with_libpcap(f);
        }
    }

    #[test]
    fn zero_packets() {
        let f = header(false, MAGIC_MICROS, 262_144, 113);
        assert_eq!(read_all(&f), (vec![], Ok(())));
        agrees_with_libpcap(&f);
    }

    #[test]
    fn truncated_file_header_is_left_to_libpcap() {
        let f = header(false, MAGIC_MICROS, 262_144, 1);
        for cut in 0..FILE_HEADER {
            assert!(PcapReader::new(&f[..cut]).unwrap().is_none(), "{cut}");
        }
    }

    #[test]
    fn other_formats_and_versions_are_left_to_libpcap() {
        let mut pcapng = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        pcapng.extend_from_slice(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(PcapReader::new(&pcapng[..]).unwrap().is_none());
        let mut v23 = header(false, MAGIC_MICROS, 262_144, 1);
        v23[6] = 3;
        assert!(PcapReader::new(&v23[..]).unwrap().is_none());
        let kuznetzov = header(false, 0xa1b2_cd34, 262_144, 1);
        assert!(PcapReader::new(&kuznetzov[..]).unwrap().is_none());
        let dbus = header(false, MAGIC_MICROS, 262_144, 231);
        assert!(PcapReader::new(&dbus[..]).unwrap().is_none());
        // The FCS bits above the link type are not part of it.
        let fcs = header(false, MAGIC_MICROS, 262_144, 0x1400_0001);
        assert_eq!(
            PcapReader::new(&fcs[..])
                .unwrap()
                .unwrap()
                .header()
                .linktype,
            1
        );
    }

    #[test]
    fn truncated_record_header_and_data() {
        let mut f = header(false, MAGIC_MICROS, 262_144, 1);
        f.extend(record(false, 1, 2, 100, &frame(100, 3)));
        f.extend(record(false, 1, 3, 100, &frame(100, 4)));
        let whole = f.len();
        for cut in [whole - 100 - 16 + 5, whole - 100 + 40, whole - 1] {
            let (frames, end) = read_all(&f[..cut]);
            assert_eq!(frames.len(), 1, "{cut}");
            assert!(end.unwrap_err().starts_with("truncated dump file"), "{cut}");
            agrees_with_libpcap(&f[..cut]);
        }
        let (_, end) = read_all(&f[..whole - 1]);
        assert_eq!(
            end,
            Err("truncated dump file; tried to read 100 captured bytes, only got 99".into())
        );
        let (_, end) = read_all(&f[..whole - 100 - 16 + 5]);
        assert_eq!(
            end,
            Err("truncated dump file; tried to read 16 header bytes, only got 5".into())
        );
    }

    #[test]
    fn caplen_over_snaplen_delivers_the_snaplen() {
        let mut f = header(true, MAGIC_MICROS, 64, 1);
        f.extend(record(true, 1, 0, 5000, &frame(5000, 5)));
        f.extend(record(true, 2, 0, 10, &frame(10, 6)));
        let (frames, end) = read_all(&f);
        assert_eq!(end, Ok(()));
        assert_eq!(frames[0].1, frame(64, 5));
        assert_eq!(frames[1].1, frame(10, 6));
        agrees_with_libpcap(&f);
        // Cut within the snapshot length, then within the part that is discarded.
        for cut in [f.len() - 26 - 5000 + 30, f.len() - 26 - 100] {
            agrees_with_libpcap(&f[..cut]);
        }
    }

    #[test]
    fn huge_caplen_is_refused_before_reading() {
        for (snaplen, caplen) in [(262_144, 262_145), (0, u32::MAX), (100, 300_000)] {
            let mut f = header(false, MAGIC_MICROS, snaplen, 1);
            f.extend(record(false, 1, 0, 20, &frame(20, 7)));
            f.extend(record(false, 1, 0, caplen, &[]));
            let (frames, end) = read_all(&f);
            assert_eq!(frames.len(), 1);
            let snap = if snaplen == 0 { MAX_SNAPLEN } else { snaplen };
            assert_eq!(
                end,
                Err(format!(
                    "invalid packet capture length {caplen}, bigger than snaplen of {snap}"
                ))
            );
            agrees_with_libpcap(&f);
        }
        // A snapshot length above the maximum stays (libpcap 1.10), records may not.
        let mut f = header(true, MAGIC_NANOS, 300_000, 1);
        f.extend(record(true, 1, 0, 262_145, &[]));
        assert_eq!(
            read_all(&f).1,
            Err("invalid packet capture length 262145, bigger than maximum of 262144".into())
        );
        agrees_with_libpcap(&f);
    }

    #[test]
    fn records_across_many_blocks_and_short_reads() {
        // ~3 MiB of records of every size up to 1600 and a few at the maximum, so records
        // straddle block boundaries at many offsets.
        let mut f = header(false, MAGIC_MICROS, 262_144, 1);
        let mut want = Vec::new();
        for i in 0..4000u32 {
            let n = if i % 997 == 0 {
                262_144
            } else {
                (i as usize * 7) % 1600
            };
            let data = frame(n, i as u8);
            f.extend(record(false, i, 0, n as u32, &data));
            want.push(data);
        }
        let (frames, end) = read_all(&f);
        assert_eq!(end, Ok(()));
        assert!(frames.iter().map(|f| &f.1).eq(want.iter()));
        agrees_with_libpcap(&f);

        /// Hands out the file a few bytes at a time.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.1 = self.1 % 13 + 1;
                let n = self.1.min(out.len()).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut f = header(false, MAGIC_MICROS, 262_144, 1);
        for i in 0..200u32 {
            f.extend(record(false, i, 0, i * 3, &frame(i as usize * 3, i as u8)));
        }
        let mut r = PcapReader::new(Trickle(&f, 0)).unwrap().unwrap();
        let mut n = 0u32;
        while let Some((ts, data)) = r.next_packet().unwrap() {
            assert_eq!(
                (ts, data),
                (
                    Timestamp::from_secs(n.into()),
                    &frame(n as usize * 3, n as u8)[..]
                )
            );
            n += 1;
        }
        assert_eq!(n, 200);
    }
}
