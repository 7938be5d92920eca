//! Live capture through libpcap: a kernel BPF filter, immediate delivery so the screen is
//! current, a configurable kernel buffer (`-B`), and libpcap's drop counters.

use std::time::Duration;

use crate::capture::KernelStats;
use crate::capture::file::pcap_reason;
use crate::decode::LinkType;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// libpcap's and tcpdump's default snap length: every packet whole.
pub const WHOLE_SNAPLEN: u32 = 262_144;

/// Below this snap length ordinary packets get cut: 65,535 bytes is the largest IPv4 packet
/// (and tcpdump's old default), and loopback and offloaded (GRO) packets come that large.
pub const CUTTING_SNAPLEN: u32 = 65_535;

/// What to tell the user before capturing with `snaplen`, when it cuts packets.
pub fn snaplen_warning(snaplen: u32) -> Option<String> {
    (snaplen < CUTTING_SNAPLEN).then(|| {
        format!(
            "--snaplen {snaplen} keeps only the first {snaplen} bytes of each packet: what \
             follows is not seen, so counts of bodies and of requests and responses past the \
             cut are lower bounds"
        )
    })
}

/// How to open a live capture.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub interface: String,
    pub filter: String,
    /// Kernel buffer in bytes (tcpdump's `-B` is KiB; the CLI converts).
    pub buffer_bytes: Option<usize>,
    pub snaplen: i32,
    /// Deliver each packet at once instead of batching in the kernel.
    pub immediate: bool,
    /// How long a read waits before returning with nothing, so the loop can tick and stop.
    pub read_timeout: Duration,
}

/// One packet as libpcap delivered it.
#[derive(Debug, Clone, Copy)]
pub struct LivePacket<'a> {
    pub ts: Timestamp,
    /// The bytes kept (at most the snap length).
    pub data: &'a [u8],
    /// Its length on the wire.
    pub wire_len: u32,
}

/// An open live capture.
pub struct LiveSource {
    interface: String,
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    read_timeout: Duration,
    /// The last read found nothing waiting.
    idle: bool,
    /// libpcap's counters when the filter went on: what came before is not ours to report.
    base: KernelStats,
}

/// `any` where libpcap offers it (Linux), so loopback and the machine's own addresses are both
/// seen; else the first interface that is up and not loopback, else the first one.
pub fn default_interface() -> Result<String> {
    let devices = pcap::Device::list().map_err(|e| Error::CaptureOpen {
        interface: "(any)".into(),
        reason: pcap_reason(&e),
    })?;
    if devices.iter().any(|d| d.name == "any") {
        return Ok("any".into());
    }
    let up = devices
        .iter()
        .find(|d| d.flags.is_up() && !d.flags.is_loopback());
    match up.or(devices.first()) {
        Some(d) => Ok(d.name.clone()),
        None => Err(Error::CaptureOpen {
            interface: "(none)".into(),
            reason: "libpcap lists no interfaces; are you allowed to capture? try sudo".into(),
        }),
    }
}

fn interface_names() -> String {
    match pcap::Device::list() {
        Ok(list) if !list.is_empty() => list
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => "(none found)".into(),
    }
}

fn is_permission_error(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("permission") || r.contains("operation not permitted") || r.contains("eperm")
}

impl LiveSource {
    pub fn open(config: &LiveConfig) -> Result<Self> {
        let iface = config.interface.clone();
        let known = pcap::Device::list()
            .map(|l| l.iter().any(|d| d.name == iface))
            .unwrap_or(true);
        if !known {
            return Err(Error::UnknownInterface {
                name: iface,
                available: interface_names(),
            });
        }
        let open_err = |e: pcap::Error| {
            let reason = pcap_reason(&e);
            if is_permission_error(&reason) {
                Error::Permission {
                    interface: iface.clone(),
                    binary: binary_path(),
                }
            } else if reason.contains("No such device") || reason.contains("doesn't exist") {
                Error::UnknownInterface {
                    name: iface.clone(),
                    available: interface_names(),
                }
            } else {
                Error::CaptureOpen {
                    interface: iface.clone(),
                    reason,
                }
            }
        };
        let mut inactive = pcap::Capture::from_device(iface.as_str())
            .map_err(open_err)?
            .promisc(false)
            .snaplen(config.snaplen)
            .immediate_mode(config.immediate)
            .timeout(
                i32::try_from(config.read_timeout.as_millis())
                    .unwrap_or(100)
                    .max(1),
            );
        if let Some(b) = config.buffer_bytes {
            inactive = inactive.buffer_size(i32::try_from(b).unwrap_or(i32::MAX));
        }
        // Non-blocking, with our own poll: libpcap's read timeout does not fire in immediate
        // mode on Linux (the read blocks until a packet comes), which would stall a quiet
        // capture's last batch and its shutdown.
        let mut cap = inactive
            .open()
            .map_err(open_err)?
            .setnonblock()
            .map_err(open_err)?;
        if !config.filter.is_empty() {
            cap.filter(&config.filter, true)
                .map_err(|e| Error::BadFilter {
                    filter: config.filter.clone(),
                    reason: pcap_reason(&e),
                })?;
        }
        let link = LinkType::from_linktype(cap.get_datalink().0);
        let mut source = LiveSource {
            interface: iface,
            cap,
            link,
            read_timeout: config.read_timeout,
            idle: false,
            base: KernelStats::default(),
        };
        source.base = source.stats().unwrap_or_default();
        Ok(source)
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Reads the next packet, or `None` when the read timeout passed with nothing.
    pub fn next_packet(&mut self) -> Result<Option<LivePacket<'_>>> {
        // Packets libpcap already holds come first; only after a read found the buffer empty
        // (and said so, so the caller could flush its batch) do we wait on the fd.
        if self.idle {
            self.wait_readable()?;
        }
        match self.cap.next_packet() {
            Ok(p) => {
                self.idle = false;
                let ts = Timestamp::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec);
                Ok(Some(LivePacket {
                    ts,
                    data: p.data,
                    wire_len: p.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.idle = true;
                Ok(None)
            }
            Err(e) => Err(Error::CaptureRead {
                interface: self.interface.clone(),
                reason: pcap_reason(&e),
            }),
        }
    }

    /// Polls the capture's fd for up to the read timeout.
    fn wait_readable(&mut self) -> Result<()> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let ms = u16::try_from(self.read_timeout.as_millis()).unwrap_or(u16::MAX);
        let fd = self.cap.as_fd();
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(Error::CaptureRead {
                interface: self.interface.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// libpcap's counters since the filter was attached.
    pub fn stats(&mut self) -> Option<KernelStats> {
        let base = self.base;
        self.cap.stats().ok().map(|s| KernelStats {
            received: u64::from(s.received).saturating_sub(base.received),
            dropped: u64::from(s.dropped).saturating_sub(base.dropped),
            if_dropped: u64::from(s.if_dropped).saturating_sub(base.if_dropped),
        })
    }
}

/// The path to show in the `setcap` advice.
fn binary_path() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "$(which traffic-watch)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snap_length_that_cuts_packets_is_warned_about() {
        assert_eq!(snaplen_warning(WHOLE_SNAPLEN), None);
        assert_eq!(snaplen_warning(CUTTING_SNAPLEN), None);
        let w = snaplen_warning(CUTTING_SNAPLEN - 1).unwrap_or_default();
        assert!(
            w.starts_with("--snaplen 65534 keeps only the first 65534 bytes"),
            "{w}"
        );
        assert!(snaplen_warning(96).is_some_and(|w| w.contains("lower bounds")));
    }
}
