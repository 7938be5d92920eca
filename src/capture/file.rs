//! Replay: frames from a pcap or pcapng file, through libpcap (so every format it reads works),
//! with the same BPF filter as live capture.

use std::path::{Path, PathBuf};

use crate::decode::LinkType;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// A capture file being read.
pub struct FileSource {
    path: PathBuf,
    cap: pcap::Capture<pcap::Offline>,
    link: LinkType,
}

impl FileSource {
    /// Opens `path` and applies `filter` (BPF syntax; empty for none).
    pub fn open(path: &Path, filter: &str) -> Result<Self> {
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
        if !filter.is_empty() {
            cap.filter(filter, true).map_err(|e| Error::BadFilter {
                filter: filter.to_owned(),
                reason: pcap_reason(&e),
            })?;
        }
        let link = LinkType::from_linktype(cap.get_datalink().0);
        Ok(FileSource {
            path: path.to_owned(),
            cap,
            link,
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
