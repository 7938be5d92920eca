//! Link layers: find the IP packet inside a frame. We read the link headers ourselves (they are
//! a few fixed offsets) because etherparse 0.21 refuses SLL with the loopback ARPHRD and has no
//! SLL2, which is what `tcpdump -i any` writes on Linux.

use super::{Error, Result};

/// pcap link types we decode (the LINKTYPE_* numbers of the pcap file format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113): 16-byte Linux cooked header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): 20-byte Linux cooked header v2.
    LinuxSll2,
    /// LINKTYPE_NULL (0): 4-byte address family in the capturing host's byte order (BSD lo0).
    Null,
    /// LINKTYPE_LOOP (108): like NULL, but the family is in network byte order (OpenBSD).
    Loop,
    /// LINKTYPE_RAW (101), DLT_RAW (12/14), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229).
    RawIp,
    /// Anything else; every frame of it is counted as `unsupported_link_type`.
    Other(i32),
}

impl LinkType {
    /// Every link type we decode (not `Other`), in a stable order.
    pub const ALL: [LinkType; 6] = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::RawIp,
    ];

    /// A short name for messages and labels; `other` for any link type we do not decode.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
            LinkType::RawIp => "raw_ip",
            LinkType::Other(_) => "other",
        }
    }

    pub fn from_linktype(n: i32) -> LinkType {
        match n {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            101 | 12 | 14 | 228 | 229 => LinkType::RawIp,
            other => LinkType::Other(other),
        }
    }

    pub fn linktype(self) -> i32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Null => 0,
            LinkType::Loop => 108,
            LinkType::RawIp => 101,
            LinkType::Other(n) => n,
        }
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q, 802.1ad (QinQ outer) and the old pre-standard QinQ tag.
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

fn be16(b: &[u8], at: usize) -> Result<u16> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(Error::TruncatedLink),
    }
}

/// Returns the IP packet inside `frame`, stripping link headers and VLAN tags. Inlined into
/// the decode of every frame, where the link type is the same for a whole capture.
#[inline]
pub fn strip_link(link: LinkType, frame: &[u8]) -> Result<&[u8]> {
    match link {
        LinkType::Ethernet => {
            let ethertype = be16(frame, 12)?;
            by_ethertype(ethertype, &frame[14..])
        }
        LinkType::LinuxSll => {
            let ethertype = be16(frame, 14)?;
            by_ethertype(ethertype, &frame[16..])
        }
        LinkType::LinuxSll2 => {
            let ethertype = be16(frame, 0)?;
            if frame.len() < 20 {
                return Err(Error::TruncatedLink);
            }
            by_ethertype(ethertype, &frame[20..])
        }
        LinkType::Null | LinkType::Loop => {
            let Some(head) = frame.get(..4) else {
                return Err(Error::TruncatedLink);
            };
            let head = [head[0], head[1], head[2], head[3]];
            // NULL is in the capturing host's byte order, which we do not know: accept either.
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(head)
            } else {
                let le = u32::from_le_bytes(head);
                if le < 0x1_0000 {
                    le
                } else {
                    u32::from_be_bytes(head)
                }
            };
            match family {
                // AF_INET everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
                2 | 24 | 28 | 30 => Ok(&frame[4..]),
                _ => Err(Error::NotIp),
            }
        }
        LinkType::RawIp => Ok(frame),
        LinkType::Other(_) => Err(Error::UnsupportedLinkType),
    }
}

/// Follows VLAN tags (any depth that fits) to an IPv4 or IPv6 payload.
fn by_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Result<&[u8]> {
    while ETHERTYPE_VLAN.contains(&ethertype) {
        // A tag is TCI (2 bytes) then the inner EtherType (2 bytes).
        ethertype = be16(rest, 2)?;
        rest = &rest[4..];
    }
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(rest),
        _ => Err(Error::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 4] = [0x45, 0, 0, 20];

    fn eth(ethertype: [u8; 2], tags: &[[u8; 4]]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        if let Some(first) = tags.first() {
            f.extend_from_slice(&first[..2]);
            for (i, t) in tags.iter().enumerate() {
                f.extend_from_slice(&[0, 7]); // TCI
                match tags.get(i + 1) {
                    Some(next) => f.extend_from_slice(&next[..2]),
                    None => f.extend_from_slice(&ethertype),
                }
                let _ = t;
            }
        } else {
            f.extend_from_slice(&ethertype);
        }
        f.extend_from_slice(&IP);
        f
    }

    #[test]
    fn link_types_round_trip_their_numbers() {
        for link in LinkType::ALL {
            assert_eq!(LinkType::from_linktype(link.linktype()), link);
            assert_ne!(link.as_str(), "other");
        }
        assert_eq!(LinkType::from_linktype(147), LinkType::Other(147));
        assert_eq!(LinkType::Other(147).as_str(), "other");
    }

    #[test]
    fn ethernet_plain_and_tagged() {
        assert_eq!(
            strip_link(LinkType::Ethernet, &eth([8, 0], &[])),
            Ok(&IP[..])
        );
        let q = eth([0x86, 0xdd], &[[0x81, 0, 0, 0]]);
        assert_eq!(strip_link(LinkType::Ethernet, &q), Ok(&IP[..]));
        let qinq = eth([8, 0], &[[0x88, 0xa8, 0, 0], [0x81, 0, 0, 0]]);
        assert_eq!(strip_link(LinkType::Ethernet, &qinq), Ok(&IP[..]));
    }

    #[test]
    fn ethernet_not_ip_and_truncated() {
        assert_eq!(
            strip_link(LinkType::Ethernet, &eth([8, 6], &[])),
            Err(Error::NotIp)
        );
        assert_eq!(
            strip_link(LinkType::Ethernet, &[0; 13]),
            Err(Error::TruncatedLink)
        );
        // A VLAN tag cut in half.
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0, 0, 1]);
        assert_eq!(
            strip_link(LinkType::Ethernet, &f),
            Err(Error::TruncatedLink)
        );
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut sll = vec![0, 0, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0];
        sll.extend_from_slice(&IP);
        assert_eq!(strip_link(LinkType::LinuxSll, &sll), Ok(&IP[..]));
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sll2.extend_from_slice(&IP);
        assert_eq!(strip_link(LinkType::LinuxSll2, &sll2), Ok(&IP[..]));
        assert_eq!(
            strip_link(LinkType::LinuxSll2, &sll2[..19]),
            Err(Error::TruncatedLink)
        );
        assert_eq!(
            strip_link(LinkType::LinuxSll, &sll[..15]),
            Err(Error::TruncatedLink)
        );
    }

    #[test]
    fn bsd_null_either_byte_order_and_loop() {
        let mut le = vec![2, 0, 0, 0];
        le.extend_from_slice(&IP);
        assert_eq!(strip_link(LinkType::Null, &le), Ok(&IP[..]));
        let mut be = vec![0, 0, 0, 30];
        be.extend_from_slice(&IP);
        assert_eq!(strip_link(LinkType::Null, &be), Ok(&IP[..]));
        assert_eq!(strip_link(LinkType::Loop, &be), Ok(&IP[..]));
        assert_eq!(strip_link(LinkType::Null, &[7, 0, 0, 0]), Err(Error::NotIp));
        assert_eq!(
            strip_link(LinkType::Null, &[2, 0]),
            Err(Error::TruncatedLink)
        );
    }

    #[test]
    fn raw_and_unknown() {
        assert_eq!(strip_link(LinkType::from_linktype(101), &IP), Ok(&IP[..]));
        assert_eq!(
            strip_link(LinkType::from_linktype(147), &IP),
            Err(Error::UnsupportedLinkType)
        );
        for n in [1, 113, 276, 0, 108, 101] {
            assert_eq!(LinkType::from_linktype(n).linktype(), n);
        }
    }
}
