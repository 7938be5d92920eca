//! Synthetic captures: TCP conversations built packet by packet, written as pcap files.
//!
//! The tests build their scenarios here (split heads, retransmissions, reordering, …) instead of
//! hand-typed hex, and `traffic-watch sample-capture` writes a capture a new user can replay.
//! Frames are built with etherparse's `PacketBuilder`; checksums are filled in, but nothing that
//! reads them relies on it.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;

use crate::decode::LinkType;
use crate::time::Timestamp;

pub mod h2;
mod sample;

pub use sample::write_sample_capture;

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub ts: Timestamp,
    pub data: Vec<u8>,
}

/// Writes the classic pcap format (microsecond timestamps, little-endian).
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
}

/// The snap length [`PcapWriter::new`] writes: libpcap's and tcpdump's default, which keeps
/// every packet whole.
pub const WHOLE_SNAPLEN: u32 = 262_144;

impl<W: Write> PcapWriter<W> {
    /// Writes the file header for `link` (snaplen 262144: every frame is written whole).
    pub fn new(out: W, link: LinkType) -> io::Result<Self> {
        PcapWriter::with_snaplen(out, link, WHOLE_SNAPLEN)
    }

    /// Writes the file header for `link` with a snap length, as `tcpdump -s SNAPLEN` would:
    /// each frame then keeps only its first `snaplen` bytes, and its record says how long it
    /// was on the wire. For captures cut short on purpose.
    pub fn with_snaplen(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&(link.linktype() as u32).to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, snaplen })
    }

    pub fn write(&mut self, frame: &Frame) -> io::Result<()> {
        let len = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
        let caplen = len.min(self.snaplen);
        let secs = u32::try_from(frame.ts.secs()).unwrap_or(u32::MAX);
        let usec = (frame.ts.micros() % 1_000_000) as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&usec.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        let kept = frame.data.get(..caplen as usize).unwrap_or(&frame.data);
        self.out.write_all(kept)
    }

    pub fn write_all<'a>(&mut self, frames: impl IntoIterator<Item = &'a Frame>) -> io::Result<()> {
        for f in frames {
            self.write(f)?;
        }
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Who sends a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Flags of a synthetic segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl Flags {
    pub const ACK: Flags = Flags {
        syn: false,
        ack: true,
        fin: false,
        rst: false,
    };
}

/// A TCP connection between a client and a server, tracking both sequence numbers so tests
/// say *what* is sent and the builder works out the numbers.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next sequence number each side sends.
    pub client_seq: u32,
    pub server_seq: u32,
    /// Time of the next frame; each frame advances it by `step_us`.
    pub ts: Timestamp,
    pub step_us: u64,
    pub link: LinkType,
    /// 802.1Q tags to wrap Ethernet frames in (outermost first).
    pub vlans: Vec<u16>,
}

impl Conversation {
    pub fn new(client: SocketAddr, server: SocketAddr) -> Self {
        Conversation {
            client,
            server,
            client_seq: 1_000,
            server_seq: 50_000,
            ts: Timestamp::from_secs(1_700_000_000),
            step_us: 100,
            link: LinkType::Ethernet,
            vlans: Vec::new(),
        }
    }

    /// Sets both initial sequence numbers (e.g. near `u32::MAX` to test wraparound).
    pub fn with_isn(mut self, client: u32, server: u32) -> Self {
        self.client_seq = client;
        self.server_seq = server;
        self
    }

    pub fn with_link(mut self, link: LinkType) -> Self {
        self.link = link;
        self
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> Vec<Frame> {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        let synack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        let a = self.segment(Side::Client, self.client_seq, syn, b"");
        self.client_seq = self.client_seq.wrapping_add(1);
        let b = self.segment(Side::Server, self.server_seq, synack, b"");
        self.server_seq = self.server_seq.wrapping_add(1);
        let c = self.segment(Side::Client, self.client_seq, Flags::ACK, b"");
        vec![a, b, c]
    }

    /// Data from one side, in order, advancing that side's sequence number.
    pub fn send(&mut self, side: Side, payload: &[u8]) -> Frame {
        let seq = self.next_seq(side);
        let f = self.segment(side, seq, Flags::ACK, payload);
        self.advance(side, payload.len());
        f
    }

    /// Data from one side cut into segments of at most `mss` bytes.
    pub fn send_split(&mut self, side: Side, payload: &[u8], mss: usize) -> Vec<Frame> {
        payload
            .chunks(mss.max(1))
            .map(|c| self.send(side, c))
            .collect()
    }

    /// FIN from one side.
    pub fn fin(&mut self, side: Side) -> Frame {
        let seq = self.next_seq(side);
        let f = self.segment(
            side,
            seq,
            Flags {
                fin: true,
                ack: true,
                ..Flags::default()
            },
            b"",
        );
        self.advance(side, 1);
        f
    }

    /// RST from one side.
    pub fn rst(&mut self, side: Side) -> Frame {
        let seq = self.next_seq(side);
        self.segment(
            side,
            seq,
            Flags {
                rst: true,
                ..Flags::default()
            },
            b"",
        )
    }

    /// A full close: FIN each way.
    pub fn close(&mut self) -> Vec<Frame> {
        vec![self.fin(Side::Client), self.fin(Side::Server)]
    }

    pub fn next_seq(&self, side: Side) -> u32 {
        match side {
            Side::Client => self.client_seq,
            Side::Server => self.server_seq,
        }
    }

    fn advance(&mut self, side: Side, n: usize) {
        let n = n as u32;
        match side {
            Side::Client => self.client_seq = self.client_seq.wrapping_add(n),
            Side::Server => self.server_seq = self.server_seq.wrapping_add(n),
        }
    }

    /// A segment with any sequence number and flags; does not advance anything but time.
    pub fn segment(&mut self, side: Side, seq: u32, flags: Flags, payload: &[u8]) -> Frame {
        let (src, dst, ack) = match side {
            Side::Client => (self.client, self.server, self.server_seq),
            Side::Server => (self.server, self.client, self.client_seq),
        };
        let data = build_frame(self.link, &self.vlans, src, dst, seq, ack, flags, payload);
        let ts = self.ts;
        self.ts = Timestamp(self.ts.0 + self.step_us);
        Frame { ts, data }
    }
}

/// Builds one frame of `link` carrying a TCP segment. Mixed IPv4/IPv6 endpoints fall back to
/// IPv6 with v4-mapped addresses.
#[allow(clippy::too_many_arguments)]
pub fn build_frame(
    link: LinkType,
    vlans: &[u16],
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: Flags,
    payload: &[u8],
) -> Vec<u8> {
    let ip_builder = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (s, d) => PacketBuilder::ipv6(v6(s), v6(d), 64),
    };
    let mut tcp = ip_builder.tcp(src.port(), dst.port(), seq, 65_535);
    if flags.syn {
        tcp = tcp.syn();
    }
    if flags.ack {
        tcp = tcp.ack(ack);
    }
    if flags.fin {
        tcp = tcp.fin();
    }
    if flags.rst {
        tcp = tcp.rst();
    }
    let mut ip = Vec::with_capacity(payload.len() + 60);
    // Writing into a Vec cannot fail; a builder error (payload too large) yields an empty frame.
    if tcp.write(&mut ip, payload).is_err() {
        ip.clear();
    }
    let ethertype: [u8; 2] = if src.is_ipv4() && dst.is_ipv4() {
        [8, 0]
    } else {
        [0x86, 0xdd]
    };
    let mut frame = Vec::with_capacity(ip.len() + 24);
    match link {
        LinkType::Ethernet | LinkType::Other(_) => {
            frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
            for vid in vlans {
                frame.extend_from_slice(&[0x81, 0x00]);
                frame.extend_from_slice(&vid.to_be_bytes());
            }
            frame.extend_from_slice(&ethertype);
        }
        LinkType::LinuxSll => {
            frame.extend_from_slice(&[0, 0, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
            frame.extend_from_slice(&ethertype);
        }
        LinkType::LinuxSll2 => {
            frame.extend_from_slice(&ethertype);
            frame.extend_from_slice(&[0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        LinkType::Null => {
            let family: u32 = if ethertype == [8, 0] { 2 } else { 30 };
            frame.extend_from_slice(&family.to_le_bytes());
        }
        LinkType::Loop => {
            let family: u32 = if ethertype == [8, 0] { 2 } else { 24 };
            frame.extend_from_slice(&family.to_be_bytes());
        }
        LinkType::RawIp => {}
    }
    frame.extend_from_slice(&ip);
    frame
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// A ready-made sample: a keep-alive client and a few short connections fetching pages from
/// several sections, with responses, over about `seconds` seconds at `rate` requests/s.
pub fn sample_traffic(rate: u32, seconds: u32) -> Vec<Frame> {
    sample_traffic_profile(&[(rate, seconds)])
}

/// [`sample_traffic`] over a profile of `(requests per second, seconds)` steps, e.g. a baseline,
/// a spike and the baseline again, so a replay shows an alert and its recovery.
pub fn sample_traffic_profile(profile: &[(u32, u32)]) -> Vec<Frame> {
    const PATHS: [&str; 8] = [
        "/pages/create",
        "/pages/list?page=2",
        "/api/v1/users",
        "/report",
        "/",
        "/static/app.js",
        "/api/v1/orders",
        "/pages/edit/7",
    ];
    let server: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5000));
    let start = Timestamp::from_secs(1_795_500_000);
    let mut frames = Vec::new();
    // When each request is sent: evenly spaced within each step.
    let mut times = Vec::new();
    let mut step_start = 0u64;
    for &(rate, seconds) in profile {
        let gap_us = 1_000_000 / u64::from(rate.max(1));
        for k in 0..u64::from(rate).saturating_mul(u64::from(seconds)) {
            times.push(step_start + k * gap_us);
        }
        step_start += u64::from(seconds) * 1_000_000;
    }
    let total = u32::try_from(times.len()).unwrap_or(u32::MAX);
    // Every 10th request opens its own connection; the rest share one keep-alive connection.
    let mut keep = Conversation::new(SocketAddr::from(([127, 0, 0, 1], 40_000)), server);
    keep.ts = start;
    frames.extend(keep.handshake());
    for i in 0..total {
        let path = PATHS[(i as usize) % PATHS.len()];
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: localhost:5000\r\nUser-Agent: sample\r\n\r\n");
        let status = if i % 50 == 49 {
            "404 Not Found"
        } else {
            "200 OK"
        };
        let body = format!("Hello, your path is: {path}");
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        );
        let at = Timestamp(start.0 + 1_000 + times[i as usize]);
        if i % 10 == 9 {
            let port = 41_000 + (i / 10 % 20_000) as u16;
            let mut c = Conversation::new(SocketAddr::from(([127, 0, 0, 1], port)), server)
                .with_isn(i.wrapping_mul(7919), i.wrapping_mul(104_729));
            c.ts = at;
            c.step_us = 20;
            frames.extend(c.handshake());
            frames.push(c.send(Side::Client, req.as_bytes()));
            frames.push(c.send(Side::Server, resp.as_bytes()));
            frames.extend(c.close());
        } else {
            keep.ts = at;
            keep.step_us = 150;
            frames.push(keep.send(Side::Client, req.as_bytes()));
            frames.push(keep.send(Side::Server, resp.as_bytes()));
        }
    }
    frames.extend(keep.close());
    frames.sort_by_key(|f| f.ts);
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_frame;

    #[test]
    fn conversation_numbers_follow_tcp() {
        let mut c = Conversation::new(
            "10.0.0.1:4000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        )
        .with_isn(u32::MAX - 1, 7);
        let hs = c.handshake();
        assert_eq!(hs.len(), 3);
        let f = c.send(Side::Client, b"GET / HTTP/1.1\r\n\r\n");
        let s = decode_frame(LinkType::Ethernet, &f.data).unwrap();
        assert_eq!(s.seq, u32::MAX);
        assert_eq!(s.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(c.client_seq, 17, "wrapped");
        assert!(hs[1].ts > hs[0].ts);
    }

    #[test]
    fn every_link_type_round_trips() {
        for link in [
            LinkType::Ethernet,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Loop,
            LinkType::RawIp,
        ] {
            for (cl, sv) in [("10.0.0.1:4000", "10.0.0.2:80"), ("[::1]:4000", "[::2]:80")] {
                let mut c =
                    Conversation::new(cl.parse().unwrap(), sv.parse().unwrap()).with_link(link);
                c.vlans = vec![10, 20];
                let f = c.send(Side::Server, b"HTTP/1.1 200 OK\r\n\r\n");
                let s = decode_frame(link, &f.data).unwrap();
                assert_eq!(s.src.port, 80, "{link:?}");
                assert_eq!(s.payload, b"HTTP/1.1 200 OK\r\n\r\n");
            }
        }
    }

    #[test]
    fn pcap_writer_writes_headers() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::LinuxSll2).unwrap();
        w.write(&Frame {
            ts: Timestamp(1_500_000),
            data: vec![1, 2, 3],
        })
        .unwrap();
        let b = w.into_inner();
        assert_eq!(b.len(), 24 + 16 + 3);
        assert_eq!(&b[20..24], &276u32.to_le_bytes());
        assert_eq!(&b[24..28], &1u32.to_le_bytes());
        assert_eq!(&b[28..32], &500_000u32.to_le_bytes());
    }

    #[test]
    fn pcap_writer_with_a_snaplen_cuts_frames() {
        let mut w = PcapWriter::with_snaplen(Vec::new(), LinkType::Ethernet, 4).unwrap();
        for data in [vec![1, 2, 3], vec![1, 2, 3, 4, 5, 6]] {
            w.write(&Frame {
                ts: Timestamp(0),
                data,
            })
            .unwrap();
        }
        let b = w.into_inner();
        assert_eq!(&b[16..20], &4u32.to_le_bytes(), "header snaplen");
        assert_eq!(b.len(), 24 + 16 + 3 + 16 + 4);
        // caplen, orig_len of each record.
        assert_eq!(&b[32..40], &[3, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&b[51..59], &[4, 0, 0, 0, 6, 0, 0, 0]);
        assert_eq!(&b[59..63], &[1, 2, 3, 4]);
    }

    #[test]
    fn sample_traffic_is_sorted_and_sized() {
        let f = sample_traffic(20, 2);
        assert!(f.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert!(f.len() > 80);
    }
}
