//! IPv4/IPv6 (with extension headers, via etherparse's zero-copy slices) and the TCP header.

use std::net::IpAddr;

use etherparse::{IpNumber, IpSlice, TcpSlice};

use super::{Error, Result};

/// One side of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// The TCP flags the flow layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A decoded TCP segment; `payload` borrows the captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
}

/// Decodes an IP packet carrying TCP. The IP total length bounds the payload, so Ethernet
/// padding never leaks into the stream.
pub fn decode_ip(packet: &[u8]) -> Result<TcpSegment<'_>> {
    let ip = IpSlice::from_slice(packet).map_err(|_| Error::BadIp)?;
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Error::IpFragment);
    }
    if payload.ip_number != IpNumber::TCP {
        return Err(Error::NotTcp);
    }
    let tcp = TcpSlice::from_slice(payload.payload).map_err(|_| Error::BadTcp)?;
    Ok(TcpSegment {
        src: Endpoint {
            ip: ip.source_addr(),
            port: tcp.source_port(),
        },
        dst: Endpoint {
            ip: ip.destination_addr(),
            port: tcp.destination_port(),
        },
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload: tcp.payload(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpNumber, Ipv4Header, Ipv6FragmentHeader, PacketBuilder};

    fn v4_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(40000, 80, 1000, 512);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn deconstruct_ipv4_tcp() {
        let p = v4_tcp(b"GET / HTTP/1.1\r\n\r\n");
        let s = decode_ip(&p).unwrap();
        assert_eq!(s.src.to_string(), "10.0.0.1:40000");
        assert_eq!(s.dst.port, 80);
        assert_eq!(s.seq, 1000);
        assert_eq!(s.payload, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn padding_after_total_length_is_not_payload() {
        let mut p = v4_tcp(b"ab");
        p.extend_from_slice(&[0; 6]);
        assert_eq!(decode_ip(&p).unwrap().payload, b"ab");
    }

    #[test]
    fn ipv6_with_extension_headers() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(5, 8080, 7, 512);
        let mut plain = Vec::new();
        b.write(&mut plain, b"x").unwrap();
        // Insert a hop-by-hop options header (next header 0) before TCP.
        let mut p = plain[..40].to_vec();
        p[6] = 0; // next header: hop-by-hop
        let ext = [6u8, 0, 1, 4, 0, 0, 0, 0]; // next = TCP, len 0 (8 bytes), PadN
        p.extend_from_slice(&ext);
        p.extend_from_slice(&plain[40..]);
        let plen = u16::try_from(p.len() - 40).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let s = decode_ip(&p).unwrap();
        assert_eq!(s.dst.port, 8080);
        assert_eq!(s.payload, b"x");
        assert_eq!(s.src.to_string(), "[101:101:101:101:101:101:101:101]:5");
    }

    #[test]
    fn ipv4_fragment_is_counted_as_such() {
        let mut p = v4_tcp(b"hello");
        let mut h = Ipv4Header::from_slice(&p).unwrap().0;
        h.more_fragments = true;
        let mut fixed = Vec::new();
        h.write(&mut fixed).unwrap();
        p[..20].copy_from_slice(&fixed);
        assert_eq!(decode_ip(&p), Err(Error::IpFragment));
    }

    #[test]
    fn ipv6_fragment_header_is_counted_as_fragment() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(5, 80, 7, 512);
        let mut plain = Vec::new();
        b.write(&mut plain, b"x").unwrap();
        let frag = Ipv6FragmentHeader::new(IpNumber::TCP, 0.try_into().unwrap(), true, 9);
        let mut p = plain[..40].to_vec();
        p[6] = 44;
        p.extend_from_slice(&frag.to_bytes());
        p.extend_from_slice(&plain[40..]);
        let plen = u16::try_from(p.len() - 40).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(decode_ip(&p), Err(Error::IpFragment));
    }

    #[test]
    fn udp_truncated_and_garbage() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9).udp(1, 2);
        let mut udp = Vec::new();
        b.write(&mut udp, b"q").unwrap();
        assert_eq!(decode_ip(&udp), Err(Error::NotTcp));
        let p = v4_tcp(b"");
        assert_eq!(decode_ip(&p[..30]), Err(Error::BadIp));
        assert_eq!(decode_ip(&[0x45, 0, 0]), Err(Error::BadIp));
        assert_eq!(decode_ip(&[]), Err(Error::BadIp));
        // IP says 40 bytes of TCP follow but the TCP data offset claims 60.
        let mut bad = v4_tcp(b"");
        bad[32] = 0xf0;
        assert_eq!(decode_ip(&bad), Err(Error::BadTcp));
    }
}
