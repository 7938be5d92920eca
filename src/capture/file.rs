//! Replay: frames from a capture file. libpcap opens every file (so every format it reads
//! works, and a file it refuses is refused in its words); classic pcap records are then read
//! by [`PcapReader`] and pcapng blocks by [`PcapngReader`] in large blocks, the rarer variants
//! by libpcap (which also takes over a pcapng file at a block the reader leaves to it). The filter is
//! the live one: `--port`/`--ip` alone is tested in process by [`FrameMatcher`]; a BPF
//! expression of the user's, or a link type the matcher does not mirror, is left to libpcap,
//! which then reads the file too.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::capture::filter::{FrameMatcher, PortFilter};
use crate::capture::pcap_reader::PcapReader;
use crate::capture::pcapng_reader::{Next, PcapngReader};
use crate::decode::LinkType;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// A capture file being read.
pub struct FileSource {
    path: PathBuf,
    records: Records,
    link: LinkType,
    /// Set when the filter runs here rather than in libpcap.
    matcher: Option<FrameMatcher>,
}

/// Who reads the records.
enum Records {
    /// Classic pcap, read here.
    Classic(PcapReader<std::fs::File>),
    /// pcapng, read here, with the number of frames delivered so far (skipped by libpcap if
    /// it takes over).
    Pcapng(PcapngReader<std::fs::File>, u64),
    /// The variants the readers leave alone, and anything libpcap filters.
    Libpcap(pcap::Capture<pcap::Offline>),
}

impl FileSource {
    /// Opens `path` and applies `filter` (BPF syntax; empty for none). `ports` says that
    /// `filter` is exactly `build_filter(port, ip, &[])` (or its base without the VLAN
    /// branches): then, for the link types [`FrameMatcher`] mirrors, that test runs in process
    /// and libpcap gets no filter. libpcap still compiles `filter` first, so an expression it
    /// refuses for this link type is refused here in the same words.
    pub fn open(path: &Path, filter: &str, ports: Option<PortFilter>) -> Result<Self> {
        let fail = |reason: String| Error::CaptureFile {
            path: path.to_owned(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(io_reason(&e)))?;
        if meta.is_dir() {
            return Err(fail("is a directory, not a capture file".into()));
        }
        if meta.len() == 0 {
            return Err(fail("empty file, not a pcap or pcapng capture".into()));
        }
        // libpcap vets the file header (and says what is wrong with it) and compiles the
        // filter, whoever reads the records.
        let mut cap = pcap::Capture::from_file(path).map_err(|e| fail(pcap_reason(&e)))?;
        let dlt = cap.get_datalink().0;
        // A classic pcap file the reader takes; anything else (or a failure to open the file a
        // second time) stays with libpcap.
        let classic = std::fs::File::open(path)
            .and_then(PcapReader::new)
            .ok()
            .flatten();
        let pcapng = match classic {
            Some(_) => None,
            None => std::fs::File::open(path)
                .and_then(|f| PcapngReader::new(f, dlt as u32))
                .ok()
                .flatten(),
        };
        let mut matcher = None;
        if !filter.is_empty() {
            let bad_filter = |e: pcap::Error| Error::BadFilter {
                filter: filter.to_owned(),
                reason: pcap_reason(&e),
            };
            cap.compile(filter, true).map_err(bad_filter)?;
            // Only BSD NULL needs the file's byte order.
            let big_endian = match &classic {
                Some(r) => Some(r.header().big_endian),
                None if dlt == 0 && pcapng.is_some() => {
                    pcapng.as_ref().map(|r| r.opening().big_endian)
                }
                None if dlt == 0 => file_is_big_endian(path),
                None => None,
            };
            // The matcher replaces the expression, so it must be exactly `--port`/`--ip`'s.
            debug_assert!(ports.is_none_or(|p| {
                let f = super::CaptureFilter::new(p.port, p.ip, &[]);
                filter == f.bpf() || filter == f.untagged()
            }));
            matcher = ports.and_then(|p| FrameMatcher::new(p, dlt, big_endian));
            if matcher.is_none() {
                cap.filter(filter, true).map_err(bad_filter)?;
            }
        }
        let ours = filter.is_empty() || matcher.is_some();
        let records = match (classic, pcapng) {
            (Some(reader), _) if ours => Records::Classic(reader),
            (_, Some(reader)) if ours => Records::Pcapng(reader, 0),
            _ => Records::Libpcap(cap),
        };
        Ok(FileSource {
            path: path.to_owned(),
            records,
            link: LinkType::from_linktype(dlt),
            matcher,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Calls `each` for every frame until the end of the file. A damaged or truncated file
    /// stops with an error after the frames before the damage were delivered.
    pub fn for_each(&mut self, mut each: impl FnMut(Timestamp, &[u8])) -> Result<()> {
        let matcher = self.matcher;
        // What the filter drops is never seen, as with libpcap's BPF filter.
        let mut deliver = |ts: Timestamp, frame: &[u8]| {
            if matcher.is_none_or(|m| m.matches(frame)) {
                each(ts, frame);
            }
        };
        let reason = loop {
            match &mut self.records {
                Records::Classic(reader) => {
                    break loop {
                        match reader.next_packet() {
                            Ok(Some((ts, frame))) => deliver(ts, frame),
                            Ok(None) => return Ok(()),
                            Err(e) => break libpcap_reason(&e.to_string()),
                        }
                    };
                }
                Records::Pcapng(reader, delivered) => {
                    let handoff = loop {
                        match reader.next_packet() {
                            Ok(Next::Packet(ts, frame)) => {
                                *delivered += 1;
                                deliver(ts, frame);
                            }
                            Ok(Next::End) => return Ok(()),
                            Ok(Next::Handoff) => break Ok(*delivered),
                            Err(e) => break Err(libpcap_reason(&e.to_string())),
                        }
                    };
                    match handoff.and_then(|n| self.hand_to_libpcap(n)) {
                        Ok(cap) => {
                            self.records = Records::Libpcap(cap);
                            continue;
                        }
                        Err(reason) => break reason,
                    }
                }
                Records::Libpcap(cap) => {
                    break loop {
                        match cap.next_packet() {
                            Ok(p) => {
                                let ts = Timestamp::from_timeval(
                                    p.header.ts.tv_sec,
                                    p.header.ts.tv_usec,
                                );
                                deliver(ts, p.data);
                            }
                            Err(pcap::Error::NoMorePackets) => return Ok(()),
                            Err(e) => break pcap_reason(&e),
                        }
                    };
                }
            }
        };
        Err(Error::CaptureFile {
            path: self.path.clone(),
            reason,
        })
    }
}

impl FileSource {
    /// libpcap, reopened on the file, past the `delivered` frames [`PcapngReader`] gave: it
    /// reads the rest exactly as it would have (the reader delivered what it would have). No
    /// filter: the reader only runs with none or with the in-process matcher.
    fn hand_to_libpcap(
        &self,
        delivered: u64,
    ) -> std::result::Result<pcap::Capture<pcap::Offline>, String> {
        let mut cap = pcap::Capture::from_file(&self.path).map_err(|e| pcap_reason(&e))?;
        for _ in 0..delivered {
            cap.next_packet().map_err(|e| pcap_reason(&e))?;
        }
        Ok(cap)
    }
}

/// The byte order of a pcap file or of a pcapng file's first section, as libpcap takes it;
/// `None` when the header says neither.
fn file_is_big_endian(path: &Path) -> Option<bool> {
    let mut head = [0u8; 12];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    let magic = [head[0], head[1], head[2], head[3]];
    let pcap = [0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xa1b2_cd34];
    let pcapng_shb = 0x0a0d_0d0a;
    let order = [head[8], head[9], head[10], head[11]];
    if pcap.contains(&u32::from_be_bytes(magic)) {
        Some(true)
    } else if pcap.contains(&u32::from_le_bytes(magic)) {
        Some(false)
    } else if u32::from_be_bytes(magic) == pcapng_shb {
        match u32::from_be_bytes(order) {
            0x1a2b_3c4d => Some(true),
            0x4d3c_2b1a => Some(false),
            _ => None,
        }
    } else {
        None
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// libpcap's message without the file name it sometimes repeats.
pub(crate) fn pcap_reason(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => libpcap_reason(s),
        other => other.to_string(),
    }
}

/// What to tell the user for one of libpcap's messages (or [`PcapReader`]'s, which are the
/// same words for the same damage).
fn libpcap_reason(s: &str) -> String {
    let s = s.trim();
    if s.contains("unknown file format") || s.contains("bad dump file format") {
        "not a pcap or pcapng capture (unknown file format)".into()
    } else if s.starts_with("truncated") {
        format!("capture is truncated ({s})")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::build_filter;
    use crate::synth::{PcapWriter, sample_traffic};

    fn capture(dir: &Path, link: LinkType) -> PathBuf {
        let p = dir.join(format!("{link:?}.pcap"));
        let mut w = PcapWriter::new(std::fs::File::create(&p).unwrap(), link).unwrap();
        w.write_all(&sample_traffic(5, 2)).unwrap();
        p
    }

    #[test]
    fn port_filter_alone_runs_in_process_an_expression_in_libpcap() {
        let dir = tempfile::tempdir().unwrap();
        let p = capture(dir.path(), LinkType::Ethernet);
        let ports = PortFilter {
            port: Some(5000),
            ip: None,
        };
        let bpf = build_filter(ports.port, None, &[]);
        let s = FileSource::open(&p, &bpf, Some(ports)).unwrap();
        assert!(s.matcher.is_some());
        assert!(matches!(s.records, Records::Classic(_)));
        let with_expr = build_filter(ports.port, None, &["tcp".into()]);
        let s = FileSource::open(&p, &with_expr, None).unwrap();
        assert!(s.matcher.is_none());
        assert!(
            matches!(s.records, Records::Libpcap(_)),
            "libpcap runs the BPF"
        );
        let s = FileSource::open(&p, "", None).unwrap();
        assert!(matches!(s.records, Records::Classic(_)));
    }

    #[test]
    fn pcapng_is_read_by_the_pcapng_reader() {
        // Section header (little-endian), one Ethernet interface, one 4-byte packet.
        let mut ng = Vec::new();
        let block = |ng: &mut Vec<u8>, kind: u32, body: &[u8]| {
            let len = (12 + body.len()) as u32;
            ng.extend_from_slice(&kind.to_le_bytes());
            ng.extend_from_slice(&len.to_le_bytes());
            ng.extend_from_slice(body);
            ng.extend_from_slice(&len.to_le_bytes());
        };
        let mut shb = vec![0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
        shb.extend_from_slice(&[0xff; 8]);
        block(&mut ng, 0x0a0d_0d0a, &shb);
        block(&mut ng, 1, &[1, 0, 0, 0, 0, 0, 4, 0]);
        let mut epb = vec![0u8; 12];
        epb.extend_from_slice(&[4, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4]);
        block(&mut ng, 6, &epb);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.pcapng");
        std::fs::write(&p, &ng).unwrap();
        let mut s = FileSource::open(&p, "", None).unwrap();
        assert!(matches!(s.records, Records::Pcapng(..)));
        assert_eq!(s.link_type(), LinkType::Ethernet);
        let mut frames = Vec::new();
        s.for_each(|_, f| frames.push(f.to_vec())).unwrap();
        assert_eq!(frames, [vec![1, 2, 3, 4]]);
    }

    #[test]
    fn a_filter_libpcap_refuses_is_refused_in_process_too() {
        let dir = tempfile::tempdir().unwrap();
        let p = capture(dir.path(), LinkType::Other(147));
        let ports = PortFilter {
            port: Some(5000),
            ip: None,
        };
        let bpf = build_filter(ports.port, None, &[]);
        let r = FileSource::open(&p, &bpf, Some(ports));
        assert!(matches!(r, Err(Error::BadFilter { .. })), "{:?}", r.err());
    }
}
