//! Where packets come from: a pcap/pcapng file ([`file`], classic pcap read by
//! [`pcap_reader`], pcapng by [`pcapng_reader`]) or a live interface through libpcap with a kernel BPF filter ([`live`]).
//! Both yield frames with their capture timestamps; the filter built from `--port`/`--ip` is
//! the same for both ([`CaptureFilter`]), and a replay runs it in process ([`filter`]) where
//! that gives the same packets.

pub mod file;
pub mod filter;
pub mod live;
pub mod pcap_reader;
pub mod pcapng_reader;
pub mod privdrop;
mod read_buffer;

use std::net::IpAddr;

pub use file::FileSource;
pub use filter::{FrameMatcher, PortFilter};
pub use live::{LiveConfig, LivePacket, LiveSource, default_interface};

/// libpcap's own counters for a live capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets that passed the filter.
    pub received: u64,
    /// Dropped because the capture buffer was full.
    pub dropped: u64,
    /// Dropped by the interface or driver.
    pub if_dropped: u64,
}

/// What to keep, as typed: `--port`, `--ip` and a BPF expression. The kernel (or libpcap, for a
/// file) gets [`CaptureFilter::bpf`]; messages show [`CaptureFilter::untagged`]. Kept typed so
/// nothing has to read the port back out of BPF text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFilter {
    pub port: Option<u16>,
    pub ip: Option<IpAddr>,
    /// A BPF expression ANDed with the port and address test; blank for none.
    pub expression: String,
}

impl CaptureFilter {
    /// `words` are the expression as typed, one shell word each.
    pub fn new(port: Option<u16>, ip: Option<IpAddr>, words: &[String]) -> Self {
        CaptureFilter {
            port,
            ip,
            expression: words.join(" "),
        }
    }

    /// The port and address test alone, when there is no expression: a replay can run it in
    /// process ([`filter`]) instead of libpcap interpreting BPF per packet.
    pub fn ports(&self) -> Option<PortFilter> {
        (!self.has_expression()).then_some(PortFilter {
            port: self.port,
            ip: self.ip,
        })
    }

    pub fn has_expression(&self) -> bool {
        !self.expression.trim().is_empty()
    }

    /// The test without its VLAN branches, for link types that have no `vlan`.
    pub fn untagged(&self) -> String {
        let mut parts = Vec::new();
        match self.port {
            Some(p) => parts.push(format!("tcp port {p}")),
            None => parts.push("tcp".to_owned()),
        }
        if let Some(ip) = self.ip {
            parts.push(format!("host {ip}"));
        }
        if self.has_expression() {
            parts.push(format!("({})", self.expression));
        }
        parts.join(" and ")
    }

    /// The full BPF expression. Both directions of the port are kept so responses are seen;
    /// `--ip` keeps packets to or from that address (requests go *to* it, their responses come
    /// *from* it).
    pub fn bpf(&self) -> String {
        // VLAN-tagged frames need `vlan` to shift the offsets, once per tag. The shift applies
        // to everything after it in the expression, so the tagged branches nest: untagged,
        // 802.1Q, then QinQ.
        let base = self.untagged();
        format!("({base}) or (vlan and (({base}) or (vlan and {base})))")
    }
}

/// [`CaptureFilter::bpf`] of a port, an optional address and a user expression.
pub fn build_filter(port: Option<u16>, ip: Option<IpAddr>, extra: &[String]) -> String {
    CaptureFilter::new(port, ip, extra).bpf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            build_filter(Some(5000), None, &[]),
            "(tcp port 5000) or (vlan and ((tcp port 5000) or (vlan and tcp port 5000)))"
        );
        let f = build_filter(
            Some(80),
            Some("10.0.0.1".parse().unwrap()),
            &["not".into(), "host 1.2.3.4".into()],
        );
        assert_eq!(
            f,
            "(tcp port 80 and host 10.0.0.1 and (not host 1.2.3.4)) or \
             (vlan and ((tcp port 80 and host 10.0.0.1 and (not host 1.2.3.4)) or \
             (vlan and tcp port 80 and host 10.0.0.1 and (not host 1.2.3.4))))"
        );
    }

    #[test]
    fn the_filter_stays_typed_and_renders_with_and_without_vlan() {
        let f = CaptureFilter::new(Some(80), None, &[]);
        assert_eq!(f.untagged(), "tcp port 80");
        assert_eq!(
            f.ports(),
            Some(PortFilter {
                port: Some(80),
                ip: None
            })
        );
        let with = CaptureFilter::new(Some(80), None, &["not".into(), "host 1.2.3.4".into()]);
        assert_eq!(with.untagged(), "tcp port 80 and (not host 1.2.3.4)");
        assert!(
            with.bpf()
                .starts_with("(tcp port 80 and (not host 1.2.3.4)) or (vlan and")
        );
        // An expression leaves the test to libpcap; a blank one is no expression.
        assert_eq!(with.ports(), None);
        assert!(
            CaptureFilter::new(None, None, &[" ".into()])
                .ports()
                .is_some()
        );
    }
}
