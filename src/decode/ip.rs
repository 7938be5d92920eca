//! IPv4/IPv6 (with extension headers, via etherparse's zero-copy slices) and the TCP header.
//!
//! A packet the capture cut short (a snap length below the packet's size, as `tcpdump -s 96`)
//! is decoded from the bytes that were kept, as long as its IP and TCP headers are whole: the
//! segment carries the captured payload and says in [`TcpSegment::missing`] how many payload
//! bytes were on the wire after it, so reassembly can step over them instead of dropping the
//! whole packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::err::{LenError, ipv6_exts, tcp};
use etherparse::{IpNumber, IpSlice, LaxIpSlice, TcpSlice};

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
    /// The payload bytes the capture kept.
    pub payload: &'a [u8],
    /// Payload bytes that were on the wire right after `payload` but not captured (the IP
    /// length says how many); 0 unless the snap length cut the packet. The segment covers
    /// `payload.len() + missing` sequence numbers (plus SYN/FIN).
    pub missing: u32,
}

impl TcpSegment<'_> {
    /// Did the capture keep less of this segment than was sent?
    pub fn is_truncated(&self) -> bool {
        self.missing > 0
    }

    /// Does the segment carry payload on the wire, captured or not?
    pub fn carries_data(&self) -> bool {
        !self.payload.is_empty() || self.missing > 0
    }
}

/// Decodes an IP packet carrying TCP. The IP total length bounds the payload, so Ethernet
/// padding never leaks into the stream; a packet shorter than its IP length is decoded as far
/// as it goes (see the module doc), or is [`Error::TruncatedHeaders`] when the cut falls
/// inside its headers.
pub fn decode_ip(packet: &[u8]) -> Result<TcpSegment<'_>> {
    match decode_plain(packet) {
        Some(segment) => Ok(segment),
        None => decode_with_etherparse(packet),
    }
}

/// The usual packet, decoded by hand: IPv4 without options or IPv6 without extension headers,
/// not a fragment, carrying TCP, all of it captured, with a whole TCP header. Anything else is
/// `None` and goes to etherparse, whose reading of such a packet this repeats field for field
/// (a test holds the two side by side on cut and mutated packets). Etherparse costs about four
/// times as much on these, the packets nearly all traffic is made of.
fn decode_plain(packet: &[u8]) -> Option<TcpSegment<'_>> {
    let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let (src, dst, tcp) = match *packet.first()? {
        // Version 4, a 20-byte header.
        0x45 => {
            let h: &[u8; 20] = packet.first_chunk()?;
            // More fragments, or a fragment offset.
            let fragment = be16(h, 6) & 0x3fff != 0;
            if h[9] != 6 || fragment {
                return None;
            }
            let tcp = packet.get(20..usize::from(be16(h, 2)))?;
            let addr =
                |at: usize| IpAddr::V4(Ipv4Addr::new(h[at], h[at + 1], h[at + 2], h[at + 3]));
            (addr(12), addr(16), tcp)
        }
        first if first >> 4 == 6 => {
            let h: &[u8; 40] = packet.first_chunk()?;
            // A payload length of 0 (a jumbogram) is etherparse's to read.
            let payload_len = usize::from(be16(h, 4));
            if h[6] != 6 || payload_len == 0 {
                return None;
            }
            let tcp = packet.get(40..40 + payload_len)?;
            let addr = |at: usize| {
                let b: [u8; 16] = h[at..at + 16].try_into().unwrap_or([0; 16]);
                IpAddr::V6(Ipv6Addr::from(b))
            };
            (addr(8), addr(24), tcp)
        }
        _ => return None,
    };
    let t: &[u8; 20] = tcp.first_chunk()?;
    let header_len = usize::from(t[12] >> 4) * 4;
    if header_len < 20 {
        return None;
    }
    let payload = tcp.get(header_len..)?;
    let be32 = |at: usize| u32::from_be_bytes([t[at], t[at + 1], t[at + 2], t[at + 3]]);
    Some(TcpSegment {
        src: Endpoint {
            ip: src,
            port: be16(t, 0),
        },
        dst: Endpoint {
            ip: dst,
            port: be16(t, 2),
        },
        seq: be32(4),
        ack: be32(8),
        flags: TcpFlags {
            fin: t[13] & 0x01 != 0,
            syn: t[13] & 0x02 != 0,
            rst: t[13] & 0x04 != 0,
            ack: t[13] & 0x10 != 0,
        },
        payload,
        missing: 0,
    })
}

/// [`decode_ip`] for every packet, through etherparse.
fn decode_with_etherparse(packet: &[u8]) -> Result<TcpSegment<'_>> {
    let ip = match IpSlice::from_slice(packet) {
        Ok(ip) => ip,
        // The common case stays on the strict parser; only a packet shorter than its own IP
        // length is worth a second, lax look.
        Err(_) => {
            return match wire_len(packet) {
                Some(wire) if packet.len() < wire => decode_cut(packet, wire),
                _ => Err(Error::BadIp),
            };
        }
    };
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Error::IpFragment);
    }
    if payload.ip_number != IpNumber::TCP {
        return Err(Error::NotTcp);
    }
    let tcp = TcpSlice::from_slice(payload.payload).map_err(|_| Error::BadTcp)?;
    Ok(segment(ip.source_addr(), ip.destination_addr(), &tcp, 0))
}

fn segment<'a>(src: IpAddr, dst: IpAddr, tcp: &TcpSlice<'a>, missing: u32) -> TcpSegment<'a> {
    TcpSegment {
        src: Endpoint {
            ip: src,
            port: tcp.source_port(),
        },
        dst: Endpoint {
            ip: dst,
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
        missing,
    }
}

/// The IP packet's length on the wire as its header states it (IPv4 total length; the IPv6
/// fixed header plus its payload length). `None` when the header is too short to say, or not
/// IP. A length too small for the header itself is caught by [`decode_cut`].
fn wire_len(packet: &[u8]) -> Option<usize> {
    let field = |at: usize| {
        let b: [u8; 2] = packet.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(u16::from_be_bytes(b)))
    };
    match packet.first()? >> 4 {
        4 => field(2),
        6 => field(4).map(|payload| 40 + payload),
        _ => None,
    }
}

/// Decodes a packet the capture cut at `packet.len()` bytes of its `wire` bytes.
fn decode_cut(packet: &[u8], wire: usize) -> Result<TcpSegment<'_>> {
    // A length error is the cut, unless even the uncut packet could not have held the header:
    // then the header is malformed.
    let cut_or_bad = |e: &LenError| {
        if e.layer_start_offset.saturating_add(e.required_len) > wire {
            Error::BadIp
        } else {
            Error::TruncatedHeaders
        }
    };
    let (ip, ext_error) = LaxIpSlice::from_slice(packet).map_err(|e| match e {
        LaxHeaderSliceError::Len(e) => cut_or_bad(&e),
        LaxHeaderSliceError::Content(_) => Error::BadIp,
    })?;
    // The lax parser stops at a bad extension header and says why; the strict one refuses.
    if let Some((e, _)) = ext_error {
        return Err(match e {
            ipv6_exts::HeaderSliceError::Len(e) => cut_or_bad(&e),
            ipv6_exts::HeaderSliceError::Content(_) => Error::BadIp,
        });
    }
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Error::IpFragment);
    }
    if payload.ip_number != IpNumber::TCP {
        return Err(Error::NotTcp);
    }
    let captured = payload.payload;
    let ip_headers = packet.len() - captured.len();
    let tcp_wire = wire.saturating_sub(ip_headers);
    // A TCP header that would not fit in the uncut packet is malformed, not cut.
    let data_offset = captured.get(12).map(|b| usize::from(b >> 4) * 4);
    if tcp_wire < 20 || data_offset.is_some_and(|h| h > tcp_wire) {
        return Err(Error::BadTcp);
    }
    let tcp = TcpSlice::from_slice(captured).map_err(|e| match e {
        tcp::HeaderSliceError::Len(_) => Error::TruncatedHeaders,
        tcp::HeaderSliceError::Content(_) => Error::BadTcp,
    })?;
    // The headers are whole, so what the cut took is payload.
    let missing = tcp_wire.saturating_sub(captured.len());
    let missing = u32::try_from(missing).unwrap_or(u32::MAX);
    Ok(segment(
        ip.source_addr(),
        ip.destination_addr(),
        &tcp,
        missing,
    ))
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
        assert_eq!(s.missing, 0);
        assert!(!s.is_truncated());
    }

    #[test]
    fn padding_after_total_length_is_not_payload() {
        let mut p = v4_tcp(b"ab");
        p.extend_from_slice(&[0; 6]);
        let s = decode_ip(&p).unwrap();
        assert_eq!((s.payload, s.missing), (&b"ab"[..], 0));
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
        // Too short to state a length: nothing says it was cut.
        assert_eq!(decode_ip(&[0x45, 0, 0]), Err(Error::BadIp));
        assert_eq!(decode_ip(&[]), Err(Error::BadIp));
        // IP says 40 bytes of TCP follow but the TCP data offset claims 60.
        let mut bad = v4_tcp(b"");
        bad[32] = 0xf0;
        assert_eq!(decode_ip(&bad), Err(Error::BadTcp));
    }

    /// An IPv6 packet with a hop-by-hop options header (8 bytes) before TCP.
    fn v6_ext_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(5, 8080, 7, 512);
        let mut plain = Vec::new();
        b.write(&mut plain, payload).unwrap();
        let mut p = plain[..40].to_vec();
        p[6] = 0;
        p.extend_from_slice(&[6u8, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&plain[40..]);
        let plen = u16::try_from(p.len() - 40).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    const BODY: &[u8; 100] =
        b"GET /a-long-path HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\
                               Accept: */*\r\nX-Pad: 0123456789ab\r\n\r\n";

    #[test]
    fn truncated_ipv4_keeps_what_was_captured_and_counts_the_rest() {
        let p = v4_tcp(BODY);
        assert_eq!(p.len(), 140);
        let s = decode_ip(&p[..70]).unwrap();
        assert_eq!(s.payload, &BODY[..30]);
        assert_eq!(s.missing, 70);
        assert!(s.is_truncated());
        assert_eq!(
            (s.src.to_string(), s.dst.port),
            ("10.0.0.1:40000".into(), 80)
        );
        assert_eq!((s.seq, s.ack), (1000, 0));
        // One byte short, and cut right after the TCP header.
        assert_eq!(decode_ip(&p[..139]).unwrap().missing, 1);
        let s = decode_ip(&p[..40]).unwrap();
        assert_eq!((s.payload, s.missing), (&b""[..], 100));
        assert!(s.is_truncated() && s.carries_data());
        let bare = v4_tcp(b"");
        assert!(!decode_ip(&bare).unwrap().carries_data());
        // Whole again: nothing missing.
        assert_eq!(decode_ip(&p).unwrap().missing, 0);
    }

    #[test]
    fn truncated_ipv6_with_extension_headers() {
        let p = v6_ext_tcp(BODY);
        assert_eq!(p.len(), 168);
        let s = decode_ip(&p[..96]).unwrap();
        assert_eq!(s.dst.port, 8080);
        assert_eq!(s.payload, &BODY[..28]);
        assert_eq!(s.missing, 72);
        // Inside the fixed header, the extension header and the TCP header.
        for cut in [0, 39, 44, 47, 48, 60, 67] {
            let want = if cut == 0 {
                Error::BadIp
            } else {
                Error::TruncatedHeaders
            };
            assert_eq!(decode_ip(&p[..cut]), Err(want), "cut at {cut}");
        }
    }

    #[test]
    fn truncated_inside_the_headers_is_an_error() {
        let p = v4_tcp(BODY);
        for cut in [4, 19, 20, 30, 39] {
            assert_eq!(
                decode_ip(&p[..cut]),
                Err(Error::TruncatedHeaders),
                "cut at {cut}"
            );
        }
        // With no payload, the headers are the whole packet: a cut is still inside them.
        let bare = v4_tcp(b"");
        assert_eq!(decode_ip(&bare[..30]), Err(Error::TruncatedHeaders));
        // TCP options: a data offset of 32 bytes, cut inside the options.
        let opts = |payload: &[u8]| {
            let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(40000, 80, 1000, 512)
                .options_raw(&[1; 12])
                .unwrap();
            let mut p = Vec::new();
            b.write(&mut p, payload).unwrap();
            p
        };
        let p = opts(b"abcdef");
        assert_eq!(decode_ip(&p[..50]), Err(Error::TruncatedHeaders));
        let s = decode_ip(&p[..54]).unwrap();
        assert_eq!((s.payload, s.missing), (&b"ab"[..], 4));
        assert_eq!(decode_ip(&opts(b"")[..50]), Err(Error::TruncatedHeaders));
        // An IPv4 header with nothing after it on the wire, cut: the cut is what we see.
        let mut p = v4_tcp(b"");
        p[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(decode_ip(&p[..10]), Err(Error::TruncatedHeaders));
    }

    #[test]
    fn truncated_but_malformed_stays_malformed() {
        // A TCP data offset beyond what the IP length leaves for TCP, or below 20 bytes.
        let mut p = v4_tcp(b"abcd");
        p[32] = 0x70;
        assert_eq!(decode_ip(&p[..43]), Err(Error::BadTcp));
        p[32] = 0x40;
        assert_eq!(decode_ip(&p[..43]), Err(Error::BadTcp));
        // IP length too small for TCP at all.
        let mut p = v4_tcp(b"");
        p[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(decode_ip(&p[..25]), Err(Error::BadTcp));
        // An IPv4 total length below its own header length.
        let mut p = v4_tcp(b"abcd");
        p[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(decode_ip(&p[..8]), Err(Error::BadIp));
        // ihl 6 but a total length of 20.
        let mut p = v4_tcp(b"abcd");
        p[0] = 0x46;
        p[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(decode_ip(&p[..8]), Err(Error::BadIp));
        // An IHL below 5 (the strict parser and the lax one both refuse the header).
        let mut p = v4_tcp(b"abcd");
        p[0] = 0x44;
        assert_eq!(decode_ip(&p[..30]), Err(Error::BadIp));
        // Not IP at all, even if short.
        assert_eq!(decode_ip(&[0x75, 0, 0, 80, 0]), Err(Error::BadIp));
        // An IPv6 extension header longer than the whole packet.
        let mut p = v6_ext_tcp(BODY);
        p[41] = 200;
        assert_eq!(decode_ip(&p[..100]), Err(Error::BadIp));
        // A hop-by-hop header that is not first (after destination options): malformed.
        let mut p = v6_ext_tcp(BODY);
        p[6] = 60;
        p[40] = 0;
        p.splice(48..48, [6u8, 0, 1, 4, 0, 0, 0, 0]);
        let plen = u16::try_from(p.len() - 40).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(decode_ip(&p), Err(Error::BadIp));
        assert_eq!(decode_ip(&p[..100]), Err(Error::BadIp));
    }

    /// The hand decoder against etherparse: packets of every shape this module's tests build,
    /// with a few bytes of their headers overwritten and cut anywhere.
    #[test]
    fn plain_packets_decode_as_etherparse_decodes_them() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let bases: Vec<Vec<u8>> = vec![
            v4_tcp(b""),
            v4_tcp(BODY),
            v6_ext_tcp(BODY),
            {
                let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(5, 8080, 7, 512);
                let mut p = Vec::new();
                b.write(&mut p, BODY).unwrap();
                p
            },
            {
                let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                    .tcp(40000, 80, 1000, 512)
                    .syn()
                    .fin()
                    .rst()
                    .ack(77)
                    .options_raw(&[1; 12])
                    .unwrap();
                let mut p = Vec::new();
                b.write(&mut p, b"abcdef").unwrap();
                p
            },
        ];
        let edits = prop::collection::vec((0usize..72, any::<u8>()), 0..4);
        let strategy = (
            0..bases.len(),
            edits,
            any::<prop::sample::Index>(),
            any::<bool>(),
        );
        let mut runner = TestRunner::new(Config::with_cases(20_000));
        runner
            .run(&strategy, |(base, edits, cut, pad)| {
                let mut p = bases[base].clone();
                for (at, b) in edits {
                    if let Some(x) = p.get_mut(at) {
                        *x = b;
                    }
                }
                if pad {
                    p.extend_from_slice(&[0xee; 7]);
                }
                let cut = cut.index(p.len() + 1);
                for q in [&p[..], &p[..cut]] {
                    prop_assert_eq!(decode_ip(q), decode_with_etherparse(q));
                }
                Ok(())
            })
            .unwrap();
        // The hand decoder did take the usual packets.
        for p in &bases[..2] {
            assert!(decode_plain(p).is_some());
        }
    }

    #[test]
    fn truncated_udp_and_fragments_keep_their_kind() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9).udp(1, 2);
        let mut udp = Vec::new();
        b.write(&mut udp, BODY).unwrap();
        assert_eq!(decode_ip(&udp[..40]), Err(Error::NotTcp));
        let mut p = v4_tcp(BODY);
        let mut h = Ipv4Header::from_slice(&p).unwrap().0;
        h.more_fragments = true;
        let mut fixed = Vec::new();
        h.write(&mut fixed).unwrap();
        p[..20].copy_from_slice(&fixed);
        assert_eq!(decode_ip(&p[..60]), Err(Error::IpFragment));
    }
}
