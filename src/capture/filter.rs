//! `--port`/`--ip` for a replay, tested in process instead of by libpcap's BPF interpreter.
//!
//! Live capture hands the kernel the BPF program that [`build_filter`](super::build_filter)
//! describes. Replaying a file through libpcap would run that same program in libpcap's
//! user-space interpreter on every packet, which costs about a third of our whole decode of
//! the frame. So when the user gave no BPF expression of their own, a replay of the
//! link types below runs [`FrameMatcher`] instead: the same loads at the same offsets as the
//! program libpcap 1.10 compiles `build_filter(port, ip, &[])` to (`tcpdump -d` prints it).
//!
//! The point is that no count changes. A frame the BPF program would have dropped is dropped
//! here, before the pipeline sees (and counts) it; a frame it would have kept is kept, even
//! when our decoder then counts it as undecodable (a first IP fragment, a header cut by the
//! snap length, an IHL that makes no sense). So this checks exactly what BPF checks, and
//! nothing more:
//!
//! - `tcp port P`: IPv4 with protocol 6 and a fragment offset of 0 (later fragments carry no
//!   ports), the ports at the offset the IHL gives, unchecked; IPv6 whose fixed header's next
//!   header is 6 (extension headers are not followed), the ports right after that header.
//! - `tcp` (`--ip` without `--port`): IPv4 protocol 6, any fragment; IPv6 next header 6, or a
//!   fragment header (44) whose next header is 6.
//! - `host A`: source or destination address in the header of A's IP version; packets of the
//!   other version never match.
//! - The link header: the EtherType (Ethernet, Linux cooked v1/v2); the address family (BSD
//!   NULL in the file's byte order, LOOP in network order; IPv6 is any of 24, 28 and 30); the
//!   version nibble (raw IP); nothing (LINKTYPE_IPV4/IPV6: every frame is that version).
//! - VLAN: Ethernet frames untagged or with one or two tags (802.1Q, 802.1ad or 0x9100), the
//!   expression's nested `vlan` branches; libpcap has no `vlan` for the other link types here.
//! - A load past the captured bytes rejects the frame, as it does in BPF.
//!
//! Other link types, and any expression of the user's, still go to libpcap: see
//! [`FileSource::open`](super::FileSource::open).

use std::net::IpAddr;

/// The `--port`/`--ip` of a replay with no BPF expression of the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortFilter {
    pub port: Option<u16>,
    pub ip: Option<IpAddr>,
}

/// How a link type's header says what follows, as libpcap's BPF code generator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// EtherType at 12, IP at 14, with up to two VLAN tags in between.
    Ethernet,
    /// Linux cooked v1 (EtherType at 14, IP at 16) and v2 (EtherType at 0, IP at 20).
    Cooked { ethertype_at: usize, ip_at: usize },
    /// BSD loopback: a 4-byte address family, then IP.
    Family { big_endian: bool },
    /// Raw IP; the version nibble says which.
    Raw,
    /// Raw IP of one version only (LINKTYPE_IPV4, LINKTYPE_IPV6).
    Only { v6: bool },
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const IPPROTO_TCP: u8 = 6;
const IPV6_FRAGMENT: u8 = 44;
/// An untagged Ethernet header, a 20-byte IPv4 header and the TCP ports.
const PLAIN_ETHERNET_IPV4: usize = 14 + 20 + 4;

/// A [`PortFilter`] for one capture's link type: keeps exactly the frames libpcap's BPF program
/// for `build_filter(port, ip, &[])` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMatcher {
    filter: PortFilter,
    link: Link,
}

impl FrameMatcher {
    /// `dlt` is the link type as libpcap reports it (`pcap_datalink`: LINKTYPE_RAW 101 becomes
    /// DLT_RAW 12; both are accepted). `big_endian` is the capture file's byte order, which only
    /// BSD NULL depends on (its family is in the byte order of the host that wrote the file,
    /// and libpcap compiles the comparison for the file's byte order).
    ///
    /// `None` for a link type whose BPF we do not mirror (or NULL of unknown byte order): the
    /// caller then has libpcap run the program.
    pub fn new(filter: PortFilter, dlt: i32, big_endian: Option<bool>) -> Option<FrameMatcher> {
        let link = match dlt {
            1 => Link::Ethernet,
            113 => Link::Cooked {
                ethertype_at: 14,
                ip_at: 16,
            },
            276 => Link::Cooked {
                ethertype_at: 0,
                ip_at: 20,
            },
            0 => Link::Family {
                big_endian: big_endian?,
            },
            108 => Link::Family { big_endian: true },
            // DLT_RAW on Linux (12) and the LINKTYPE_RAW it is stored as (101). Not 14, DLT_RAW
            // on OpenBSD only, which libpcap here cannot filter at all.
            12 | 101 => Link::Raw,
            228 => Link::Only { v6: false },
            229 => Link::Only { v6: true },
            _ => return None,
        };
        Some(FrameMatcher { filter, link })
    }

    /// Whether the BPF program would keep this frame (`frame`: the captured bytes).
    #[inline]
    pub fn matches(&self, frame: &[u8]) -> bool {
        match self.link {
            Link::Ethernet => {
                if let Some(h) = frame.first_chunk::<PLAIN_ETHERNET_IPV4>()
                    && h[12..14] == ETHERTYPE_IPV4.to_be_bytes()
                    && h[14] == 0x45
                {
                    return self.plain_ipv4(h);
                }
                // Untagged, one tag, two tags: each tag moves the EtherType 4 bytes on.
                for at in [12, 16, 20] {
                    match be16(frame, at) {
                        Some(ETHERTYPE_IPV4) => return self.ipv4(frame, at + 2),
                        Some(ETHERTYPE_IPV6) => return self.ipv6(frame, at + 2),
                        Some(0x8100 | 0x88a8 | 0x9100) => {}
                        _ => return false,
                    }
                }
                false
            }
            Link::Cooked {
                ethertype_at,
                ip_at,
            } => match be16(frame, ethertype_at) {
                Some(ETHERTYPE_IPV4) => self.ipv4(frame, ip_at),
                Some(ETHERTYPE_IPV6) => self.ipv6(frame, ip_at),
                _ => false,
            },
            Link::Family { big_endian } => {
                let Some(&[a, b, c, d]) = frame.get(..4) else {
                    return false;
                };
                let family = if big_endian {
                    u32::from_be_bytes([a, b, c, d])
                } else {
                    u32::from_le_bytes([a, b, c, d])
                };
                match family {
                    2 => self.ipv4(frame, 4),
                    24 | 28 | 30 => self.ipv6(frame, 4),
                    _ => false,
                }
            }
            Link::Raw => match frame.first().map(|b| b & 0xf0) {
                Some(0x40) => self.ipv4(frame, 0),
                Some(0x60) => self.ipv6(frame, 0),
                _ => false,
            },
            Link::Only { v6: false } => self.ipv4(frame, 0),
            Link::Only { v6: true } => self.ipv6(frame, 0),
        }
    }

    /// [`ipv4`](Self::ipv4) at 14 for the frame nearly all traffic is made of: untagged
    /// Ethernet, IPv4 with a 20-byte header, and the bytes up to the TCP ports captured. The
    /// same loads at the same offsets, without a bounds check each.
    #[inline]
    fn plain_ipv4(&self, h: &[u8; PLAIN_ETHERNET_IPV4]) -> bool {
        if h[23] != IPPROTO_TCP {
            return false;
        }
        if let Some(port) = self.filter.port {
            let at = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
            if at(20) & 0x1fff != 0 || at(34) != port && at(36) != port {
                return false;
            }
        }
        match self.filter.ip {
            None => true,
            Some(IpAddr::V4(a)) => {
                let a = a.octets();
                h[26..30] == a || h[30..34] == a
            }
            Some(IpAddr::V6(_)) => false,
        }
    }

    /// IPv4 header at `at`. Nothing of it is validated beyond what BPF looks at.
    #[inline]
    fn ipv4(&self, f: &[u8], at: usize) -> bool {
        if f.get(at + 9) != Some(&IPPROTO_TCP) {
            return false;
        }
        if let Some(port) = self.filter.port {
            // Only the first fragment has the TCP header.
            match be16(f, at + 6) {
                Some(flags_offset) if flags_offset & 0x1fff == 0 => {}
                _ => return false,
            }
            let Some(ihl) = f.get(at) else {
                return false;
            };
            let tcp = at + 4 * usize::from(ihl & 0x0f);
            if be16(f, tcp) != Some(port) && be16(f, tcp + 2) != Some(port) {
                return false;
            }
        }
        match self.filter.ip {
            None => true,
            Some(IpAddr::V4(a)) => {
                let a = a.octets();
                f.get(at + 12..at + 16) == Some(&a[..]) || f.get(at + 16..at + 20) == Some(&a[..])
            }
            Some(IpAddr::V6(_)) => false,
        }
    }

    /// IPv6 fixed header at `at`.
    fn ipv6(&self, f: &[u8], at: usize) -> bool {
        let Some(&next) = f.get(at + 6) else {
            return false;
        };
        match self.filter.port {
            Some(port) => {
                if next != IPPROTO_TCP
                    || be16(f, at + 40) != Some(port) && be16(f, at + 42) != Some(port)
                {
                    return false;
                }
            }
            None => {
                let tcp = next == IPPROTO_TCP
                    || next == IPV6_FRAGMENT && f.get(at + 40) == Some(&IPPROTO_TCP);
                if !tcp {
                    return false;
                }
            }
        }
        match self.filter.ip {
            None => true,
            Some(IpAddr::V6(a)) => {
                let a = a.octets();
                f.get(at + 8..at + 24) == Some(&a[..]) || f.get(at + 24..at + 40) == Some(&a[..])
            }
            Some(IpAddr::V4(_)) => false,
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! The matcher against libpcap itself: every frame below, cut at every length and with
    //! header bytes changed, must get the same verdict from [`FrameMatcher`] as from the BPF
    //! program libpcap compiles for the same filter (`pcap_offline_filter`).

    use super::*;
    use crate::capture::build_filter;
    use crate::decode::LinkType;
    use crate::synth::{Flags, build_frame};
    use std::net::SocketAddr;

    /// The BPF program of `filter` for link type `dlt`, compiled as replay compiles it: for a
    /// capture file (libpcap generates different code for a dead handle: for NULL it checks
    /// only Linux's AF_INET6), little-endian here, and without the VLAN branches where libpcap
    /// has no `vlan` (as a replay falls back).
    fn bpf(filter: PortFilter, dlt: i32) -> Option<pcap::BpfProgram> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("h.pcap");
        let linktype: u32 = if dlt == 12 { 101 } else { dlt as u32 };
        let mut h = Vec::new();
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0]);
        h.extend_from_slice(&linktype.to_le_bytes());
        std::fs::write(&path, &h).ok()?;
        let cap = pcap::Capture::from_file(&path).ok()?;
        assert_eq!(cap.get_datalink().0, dlt);
        let typed = crate::capture::CaptureFilter::new(filter.port, filter.ip, &[]);
        cap.compile(&typed.bpf(), true)
            .ok()
            .or_else(|| cap.compile(&typed.untagged(), true).ok())
    }

    /// Small, deterministic (xorshift), so a failure names a case that can be rerun.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// IP packets (no link header): TCP on and off the port, both versions, UDP, fragments,
    /// IPv6 extension headers, odd IHLs.
    fn ip_packets() -> Vec<Vec<u8>> {
        let ack = Flags {
            ack: true,
            ..Flags::default()
        };
        let tcp = |c: &str, s: &str, payload: &[u8]| {
            build_frame(LinkType::RawIp, &[], sock(c), sock(s), 7, 9, ack, payload)
        };
        let mut v = vec![
            tcp("10.0.0.1:40000", "10.0.0.2:8090", b"GET / HTTP/1.1\r\n\r\n"),
            tcp(
                "10.0.0.2:8090",
                "10.0.0.1:40000",
                b"HTTP/1.1 200 OK\r\n\r\n",
            ),
            tcp("10.0.0.1:40000", "10.0.0.9:80", b"x"),
            tcp("10.0.0.9:8090", "10.0.0.2:8090", b""),
            tcp(
                "[2001:db8::1]:40000",
                "[2001:db8::2]:8090",
                b"GET / HTTP/1.1\r\n\r\n",
            ),
            tcp("[2001:db8::2]:8090", "[2001:db8::1]:40000", b"y"),
            tcp("[2001:db8::1]:40000", "[2001:db8::9]:80", b""),
            tcp("[::ffff:10.0.0.2]:8090", "[2001:db8::1]:1", b""),
        ];
        // UDP to the port.
        let mut udp = v[0].clone();
        udp[9] = 17;
        v.push(udp);
        // IPv4 first fragment (MF) and a later fragment (offset 8).
        let mut first = v[0].clone();
        first[6] = 0x20;
        v.push(first);
        let mut later = v[0].clone();
        later[7] = 1;
        v.push(later);
        // IHL 0 and 15.
        for ihl in [0x40, 0x4f] {
            let mut p = v[1].clone();
            p[0] = ihl;
            v.push(p);
        }
        // IPv6 with a hop-by-hop header, and with a fragment header, before TCP.
        for (next, ext) in [
            (0u8, [6u8, 0, 1, 4, 0, 0, 0, 0]),
            (44, [6, 0, 0, 1, 0, 0, 0, 9]),
        ] {
            let plain = &v[4];
            let mut p = plain[..40].to_vec();
            p[6] = next;
            p.extend_from_slice(&ext);
            p.extend_from_slice(&plain[40..]);
            v.push(p);
        }
        v
    }

    /// `ip` behind the link header of `dlt`, with `tags` VLAN tags on Ethernet. NULL is written
    /// in little-endian (the byte order of a dead libpcap handle on this host).
    fn framed(dlt: i32, ip: &[u8], tags: usize, family: Option<u32>) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [8, 0] };
        let mut f = Vec::new();
        match dlt {
            1 => {
                f.extend_from_slice(&[0; 12]);
                for t in 0..tags {
                    f.extend_from_slice(if t == 0 { &[0x88, 0xa8] } else { &[0x81, 0] });
                    f.extend_from_slice(&[0, 5]);
                }
                f.extend_from_slice(&ethertype);
            }
            113 => {
                f.extend_from_slice(&[0, 0, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
                f.extend_from_slice(&ethertype);
            }
            276 => {
                f.extend_from_slice(&ethertype);
                f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
            }
            0 => f.extend_from_slice(&family.unwrap_or(if v6 { 30 } else { 2 }).to_le_bytes()),
            108 => f.extend_from_slice(&family.unwrap_or(if v6 { 24 } else { 2 }).to_be_bytes()),
            _ => {}
        }
        f.extend_from_slice(ip);
        f
    }

    const DLTS: [i32; 8] = [1, 113, 276, 0, 108, 12, 228, 229];

    fn filters() -> Vec<PortFilter> {
        let ips: [Option<IpAddr>; 4] = [
            None,
            Some("10.0.0.2".parse().unwrap()),
            Some("2001:db8::2".parse().unwrap()),
            Some("::ffff:10.0.0.2".parse().unwrap()),
        ];
        let mut v = Vec::new();
        for port in [Some(8090), None] {
            for ip in ips {
                if port.is_some() || ip.is_some() {
                    v.push(PortFilter { port, ip });
                }
            }
        }
        v
    }

    #[test]
    fn same_verdict_as_libpcap_bpf_for_every_cut_and_mutation() {
        let mut rng = Rng(0x5eed_1234_abcd_9876);
        let mut checked = 0u64;
        let mut kept = 0u64;
        for dlt in DLTS {
            for filter in filters() {
                // libpcap refuses some (a v6 host on LINKTYPE_IPV4: "rejects all packets");
                // replay refuses them the same way before matching anything.
                let Some(prog) = bpf(filter, dlt) else {
                    continue;
                };
                let m = FrameMatcher::new(filter, dlt, Some(false)).unwrap();
                let mut frames = Vec::new();
                for ip in ip_packets() {
                    for tags in 0..4 {
                        if tags > 0 && dlt != 1 {
                            break;
                        }
                        frames.push(framed(dlt, &ip, tags, None));
                    }
                    // Every IPv6 family BSD uses, and a wrong one.
                    if dlt == 0 || dlt == 108 {
                        for fam in [2, 24, 28, 30, 7, 0x0200_0000] {
                            frames.push(framed(dlt, &ip, 0, Some(fam)));
                        }
                    }
                }
                for frame in frames {
                    let mut check = |f: &[u8]| {
                        let want = prog.filter(f);
                        assert_eq!(m.matches(f), want, "dlt {dlt} {filter:?} frame {f:02x?}");
                        checked += 1;
                        kept += u64::from(want);
                    };
                    for cut in 0..=frame.len() {
                        check(&frame[..cut]);
                    }
                    // Bytes of the link and IP headers changed at random.
                    for _ in 0..300 {
                        let mut f = frame.clone();
                        for _ in 0..1 + rng.below(3) {
                            let i = rng.below(f.len().min(80));
                            f[i] = match rng.below(4) {
                                0 => rng.next() as u8,
                                1 => f[i] ^ (1 << rng.below(8)),
                                2 => [0, 6, 17, 44, 0x40, 0x45, 0x60, 0x81, 0x86][rng.below(9)],
                                _ => 0xff,
                            };
                        }
                        check(&f);
                    }
                }
            }
        }
        assert!(
            checked > 100_000 && kept > 1_000,
            "{checked} checked, {kept} kept"
        );
    }

    #[test]
    fn big_endian_null_is_compared_in_the_files_byte_order() {
        // A big-endian NULL capture: libpcap compiles the family comparison byte-swapped.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("be-null.pcap");
        let mut h = Vec::new();
        h.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
        h.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0]);
        std::fs::write(&path, &h).unwrap();
        let cap = pcap::Capture::from_file(&path).unwrap();
        let filter = PortFilter {
            port: Some(8090),
            ip: None,
        };
        let prog = cap
            .compile(&build_filter(filter.port, None, &[]), true)
            .or_else(|_| cap.compile("tcp port 8090", true))
            .unwrap();
        let m = FrameMatcher::new(filter, 0, Some(true)).unwrap();
        let mut kept = 0;
        for ip in ip_packets() {
            let v6 = ip[0] >> 4 == 6;
            for fam in [2u32, 24, 28, 30] {
                for family in [fam.to_be_bytes(), fam.to_le_bytes()] {
                    let mut f = family.to_vec();
                    f.extend_from_slice(&ip);
                    assert_eq!(m.matches(&f), prog.filter(&f), "{fam} {v6} {f:02x?}");
                    kept += u32::from(prog.filter(&f));
                }
            }
        }
        assert!(kept > 0);
    }

    #[test]
    fn link_types_not_mirrored_are_left_to_libpcap() {
        let f = PortFilter {
            port: Some(80),
            ip: None,
        };
        for dlt in [14, 105, 147, 127] {
            assert_eq!(FrameMatcher::new(f, dlt, Some(false)), None, "{dlt}");
        }
        assert_eq!(
            FrameMatcher::new(f, 0, None),
            None,
            "NULL needs the byte order"
        );
        assert!(FrameMatcher::new(f, 108, None).is_some());
    }
}
