//! Replay: frames from a pcap or pcapng file, through libpcap (so every format it reads works),
//! with the same filter as live capture: libpcap runs the BPF program, or, for `--port`/`--ip`
//! alone, [`FrameMatcher`] runs the same test in process.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::capture::filter::{FrameMatcher, PortFilter};
use crate::decode::LinkType;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// A capture file being read.
pub struct FileSource {
    path: PathBuf,
    cap: pcap::Capture<pcap::Offline>,
    link: LinkType,
    /// Set when the filter runs here rather than in libpcap.
    matcher: Option<FrameMatcher>,
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
        let mut cap = pcap::Capture::from_file(path).map_err(|e| fail(pcap_reason(&e)))?;
        let dlt = cap.get_datalink().0;
        let mut matcher = None;
        if !filter.is_empty() {
            let bad_filter = |e: pcap::Error| Error::BadFilter {
                filter: filter.to_owned(),
                reason: pcap_reason(&e),
            };
            cap.compile(filter, true).map_err(bad_filter)?;
            // Only BSD NULL needs the file's byte order; don't read the header otherwise.
            let big_endian = if dlt == 0 {
                file_is_big_endian(path)
            } else {
                None
            };
            matcher = ports.and_then(|p| FrameMatcher::new(p, dlt, big_endian));
            if matcher.is_none() {
                cap.filter(filter, true).map_err(bad_filter)?;
            }
        }
        Ok(FileSource {
            path: path.to_owned(),
            cap,
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
        loop {
            match self.cap.next_packet() {
                Ok(p) => {
                    // What the filter drops is never seen, as with libpcap's BPF filter.
                    if let Some(m) = &self.matcher
                        && !m.matches(p.data)
                    {
                        continue;
                    }
                    let ts = Timestamp::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec);
                    each(ts, p.data);
                }
                Err(pcap::Error::NoMorePackets) => return Ok(()),
                Err(e) => {
                    return Err(Error::CaptureFile {
                        path: self.path.clone(),
                        reason: pcap_reason(&e),
                    });
                }
            }
        }
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
        pcap::Error::PcapError(s) => {
            let s = s.trim();
            if s.contains("unknown file format") || s.contains("bad dump file format") {
                "not a pcap or pcapng capture (unknown file format)".into()
            } else if s.starts_with("truncated") {
                format!("capture is truncated ({s})")
            } else {
                s.to_owned()
            }
        }
        other => other.to_string(),
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
        let with_expr = build_filter(ports.port, None, &["tcp".into()]);
        let s = FileSource::open(&p, &with_expr, None).unwrap();
        assert!(s.matcher.is_none());
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
