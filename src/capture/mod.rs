//! Where packets come from: a pcap/pcapng file ([`file`], classic pcap read by
//! [`pcap_reader`], pcapng by [`pcapng_reader`]) or a live interface through libpcap with a kernel BPF filter ([`live`]).
//! Both yield frames with their capture timestamps; the filter built from `--port`/`--ip` is
//! the same for both ([`build_filter`]), and a replay runs it in process ([`filter`]) where
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

/// The BPF filter for a port, an optional destination IP and a user expression. Both
/// directions of the port are kept so responses are seen; `--ip` keeps packets to or from that
/// address (requests go *to* it, their responses come *from* it).
pub fn build_filter(port: Option<u16>, ip: Option<IpAddr>, extra: &[String]) -> String {
    let mut parts = Vec::new();
    match port {
        Some(p) => parts.push(format!("tcp port {p}")),
        None => parts.push("tcp".to_owned()),
    }
    if let Some(ip) = ip {
        parts.push(format!("host {ip}"));
    }
    let extra = extra.join(" ");
    if !extra.trim().is_empty() {
        parts.push(format!("({extra})"));
    }
    // VLAN-tagged frames need `vlan` to shift the offsets, once per tag. The shift applies to
    // everything after it in the expression, so the tagged branches nest: untagged, 802.1Q,
    // then QinQ.
    let base = parts.join(" and ");
    format!("({base}) or (vlan and (({base}) or (vlan and {base})))")
}

/// [`build_filter`]'s expression without its VLAN branches, for link types that have no `vlan`:
/// `(X) or (vlan and ((X) or (vlan and X)))` → `X`.
pub fn base_filter(filter: &str) -> String {
    match filter.split_once(") or (vlan and ") {
        Some((head, _)) => head.trim_start_matches('(').to_owned(),
        None => filter.to_owned(),
    }
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
}
