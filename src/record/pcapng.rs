//! A pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, one Interface
//! Description Block, then an Enhanced Packet Block per packet, little-endian, timestamps in
//! microseconds (`if_tsresol` 6, our [`Timestamp`]'s unit). Comments go where readers show them:
//! the section's `opt_comment` (tshark's and capinfos' "capture comment") and, at the end, an
//! Interface Statistics Block whose `opt_comment` says why the recording stopped.
//!
//! Pure: it writes to any `Write` and knows nothing of files or rotation (see `writer`).

use std::io::{self, Write};

use crate::time::Timestamp;

const BT_SHB: u32 = 0x0a0d_0d0a;
const BT_IDB: u32 = 1;
const BT_ISB: u32 = 5;
const BT_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_TSRESOL: u16 = 9;
const ISB_ENDTIME: u16 = 3;

/// Microseconds: 10^-6.
const TSRESOL_MICROS: u8 = 6;

/// Bytes an Enhanced Packet Block adds to a packet with no options: header, fields, trailer.
pub const EPB_OVERHEAD: usize = 32;

/// The options of one block, encoded as they are added.
struct Options(Vec<u8>);

impl Options {
    fn new() -> Self {
        Options(Vec::new())
    }

    fn add(&mut self, code: u16, value: &[u8]) {
        // Option lengths are 16 bits: a longer value is cut (only comments could be).
        let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
        self.0.extend_from_slice(&code.to_le_bytes());
        self.0
            .extend_from_slice(&(value.len() as u16).to_le_bytes());
        self.0.extend_from_slice(value);
        pad(&mut self.0);
    }

    /// The encoded options with their end marker, or nothing when there are none.
    fn finish(mut self) -> Vec<u8> {
        if !self.0.is_empty() {
            self.0.extend_from_slice(&OPT_ENDOFOPT.to_le_bytes());
            self.0.extend_from_slice(&0u16.to_le_bytes());
        }
        self.0
    }
}

fn pad(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn ts_words(ts: Timestamp) -> [u8; 8] {
    let us = ts.micros();
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&((us >> 32) as u32).to_le_bytes());
    b[4..].copy_from_slice(&(us as u32).to_le_bytes());
    b
}

/// Writes one block: type, total length, `body` (already padded), total length again.
fn block(out: &mut impl Write, kind: u32, body: &[u8]) -> io::Result<u64> {
    let total = 12 + body.len();
    let total32 = u32::try_from(total)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too large"))?;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total32.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total32.to_le_bytes())?;
    Ok(total as u64)
}

/// A pcapng file being written: one section, one interface.
pub struct PcapngWriter<W: Write> {
    out: W,
    snaplen: u32,
    /// Bytes written so far, headers included (what `-C` compares).
    written: u64,
    /// Reused for each packet's block, so writing allocates nothing per packet.
    scratch: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header (with `comment`, when given) and the interface description
    /// for `linktype` and `snaplen`.
    pub fn new(mut out: W, linktype: u16, snaplen: u32, comment: Option<&str>) -> io::Result<Self> {
        let mut shb = Vec::with_capacity(128);
        shb.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        // Section length unknown: we write as we go.
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut opts = Options::new();
        if let Some(c) = comment {
            opts.add(OPT_COMMENT, c.as_bytes());
        }
        let appl = concat!("traffic-watch ", env!("CARGO_PKG_VERSION"));
        opts.add(SHB_USERAPPL, appl.as_bytes());
        shb.extend_from_slice(&opts.finish());
        let mut written = block(&mut out, BT_SHB, &shb)?;

        let mut idb = Vec::with_capacity(32);
        idb.extend_from_slice(&linktype.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&snaplen.to_le_bytes());
        let mut opts = Options::new();
        opts.add(IF_TSRESOL, &[TSRESOL_MICROS]);
        idb.extend_from_slice(&opts.finish());
        written += block(&mut out, BT_IDB, &idb)?;
        Ok(PcapngWriter {
            out,
            snaplen,
            written,
            scratch: Vec::with_capacity(2048),
        })
    }

    /// One packet: `data` as captured (cut to the snap length if longer), `wire_len` its length
    /// on the wire. Returns the bytes the block took.
    pub fn write_packet(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) -> io::Result<u64> {
        let data = data.get(..self.snaplen as usize).unwrap_or(data);
        let caplen = data.len() as u32;
        let b = &mut self.scratch;
        b.clear();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&ts_words(ts));
        b.extend_from_slice(&caplen.to_le_bytes());
        b.extend_from_slice(&wire_len.max(caplen).to_le_bytes());
        b.extend_from_slice(data);
        pad(b);
        let n = block(&mut self.out, BT_EPB, &self.scratch)?;
        self.written += n;
        Ok(n)
    }

    /// Ends the file with an Interface Statistics Block carrying `comment` and the end time,
    /// then flushes.
    pub fn finish(mut self, end: Timestamp, comment: Option<&str>) -> io::Result<W> {
        let mut isb = Vec::with_capacity(64);
        isb.extend_from_slice(&0u32.to_le_bytes());
        isb.extend_from_slice(&ts_words(end));
        let mut opts = Options::new();
        if let Some(c) = comment {
            opts.add(OPT_COMMENT, c.as_bytes());
        }
        opts.add(ISB_ENDTIME, &ts_words(end));
        isb.extend_from_slice(&opts.finish());
        self.written += block(&mut self.out, BT_ISB, &isb)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Bytes written so far, headers included.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output, for a caller that stages writes (see `writer`).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Walks the blocks: (type, total length) each, checking the trailer and alignment.
    fn blocks(b: &[u8]) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < b.len() {
            let (kind, len) = (u32_at(b, at), u32_at(b, at + 4) as usize);
            assert_eq!(len % 4, 0);
            assert_eq!(u32_at(b, at + len - 4) as usize, len, "trailer");
            out.push((kind, len));
            at += len;
        }
        assert_eq!(at, b.len());
        out
    }

    #[test]
    fn blocks_are_well_formed_and_packets_keep_their_wire_length() {
        let mut w = PcapngWriter::new(Vec::new(), 113, 96, Some("an alert")).unwrap();
        let ts = Timestamp::from_micros(1_795_500_699_123_456);
        assert_eq!(w.write_packet(ts, 150, &[7u8; 150]).unwrap(), 32 + 96);
        assert_eq!(w.write_packet(ts, 0, &[1, 2, 3]).unwrap(), 32 + 4);
        let written = w.written();
        let b = w.finish(ts, Some("recovered")).unwrap();
        let kinds: Vec<u32> = blocks(&b).iter().map(|k| k.0).collect();
        assert_eq!(kinds, [BT_SHB, BT_IDB, BT_EPB, BT_EPB, BT_ISB]);
        assert!(written < b.len() as u64);
        // The first EPB: interface 0, timestamp words, cut to 96 of 150 bytes.
        let epb = blocks(&b)[..2].iter().map(|k| k.1).sum::<usize>();
        assert_eq!(u32_at(&b, epb + 8), 0);
        let us = (u64::from(u32_at(&b, epb + 12)) << 32) | u64::from(u32_at(&b, epb + 16));
        assert_eq!(us, ts.micros());
        assert_eq!((u32_at(&b, epb + 20), u32_at(&b, epb + 24)), (96, 150));
        // A packet whose wire length is unknown (0) says it was whole.
        let epb2 = epb + 32 + 96;
        assert_eq!((u32_at(&b, epb2 + 20), u32_at(&b, epb2 + 24)), (3, 3));
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("an alert") && text.contains("recovered"));
    }

    #[test]
    fn the_file_reads_back_through_libpcap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcapng");
        let file = std::fs::File::create(&path).unwrap();
        let mut w = PcapngWriter::new(file, 1, 262_144, Some("c")).unwrap();
        for i in 0..3u64 {
            w.write_packet(Timestamp::from_micros(1_000_000 + i), 60, &[i as u8; 60])
                .unwrap();
        }
        w.finish(Timestamp::from_secs(2), Some("done")).unwrap();
        let mut cap = pcap::Capture::from_file(&path).unwrap();
        let mut n = 0;
        while let Ok(p) = cap.next_packet() {
            assert_eq!(p.header.ts.tv_sec, 1);
            assert_eq!(p.header.ts.tv_usec, n);
            assert_eq!(p.data, &[n as u8; 60][..]);
            n += 1;
        }
        assert_eq!(n, 3);
    }
}
