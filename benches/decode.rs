//! Decode layers: `decode_frame` over a realistic mix of frames (Ethernet, VLAN, Linux cooked
//! v2, IPv6, pure ACKs, a UDP frame that is counted and skipped), and the HTTP head parsers.
//! `cargo bench --bench decode`; medians are what we quote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use traffic_watch::decode::{
    LinkType, decode_frame, http_reference, parse_request_head, parse_response_head,
};
use traffic_watch::synth::{Conversation, Side};

const REQUEST: &[u8] = b"GET /api/v1/users?page=2 HTTP/1.1\r\nHost: 127.0.0.1:8090\r\n\
User-Agent: wrk\r\nAccept: */*\r\n\r\n";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 24 Nov 2026 06:00:00 GMT\r\n\
Content-Type: text/plain\r\nContent-Length: 120\r\nConnection: keep-alive\r\n\r\n";

/// About what a keep-alive capture holds: mostly data segments both ways, some bare ACKs,
/// a few tagged, cooked or IPv6 frames, and the odd frame that is not TCP.
fn frame_mix() -> Vec<(LinkType, Vec<u8>)> {
    let v4 = |c: &str, s: &str| Conversation::new(c.parse().unwrap(), s.parse().unwrap());
    let mut out = Vec::new();
    let mut eth = v4("10.0.0.1:40000", "10.0.0.2:80");
    let mut resp = RESPONSE.to_vec();
    resp.extend_from_slice(&[b'x'; 120]);
    for _ in 0..6 {
        out.push((LinkType::Ethernet, eth.send(Side::Client, REQUEST).data));
        out.push((LinkType::Ethernet, eth.send(Side::Server, &resp).data));
    }
    out.push((LinkType::Ethernet, eth.send(Side::Client, b"").data));
    let mut vlan = v4("10.0.0.3:40001", "10.0.0.2:80");
    vlan.vlans = vec![100];
    out.push((LinkType::Ethernet, vlan.send(Side::Client, REQUEST).data));
    let mut sll2 = v4("127.0.0.1:40002", "127.0.0.1:8090").with_link(LinkType::LinuxSll2);
    out.push((LinkType::LinuxSll2, sll2.send(Side::Server, &resp).data));
    let mut v6 = Conversation::new(
        "[2001:db8::1]:40003".parse::<SocketAddr>().unwrap(),
        "[2001:db8::2]:80".parse::<SocketAddr>().unwrap(),
    );
    out.push((LinkType::Ethernet, v6.send(Side::Client, REQUEST).data));
    // A UDP datagram: decoded up to IP and counted as not TCP.
    let udp = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 9], 64)
        .udp(5353, 5353);
    let mut d = Vec::new();
    udp.write(&mut d, b"mdns").unwrap();
    out.push((LinkType::Ethernet, d));
    out
}

fn decode(c: &mut Criterion) {
    let frames = frame_mix();
    let bytes: usize = frames.iter().map(|(_, f)| f.len()).sum();
    let mut g = c.benchmark_group("decode_frame");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mix_bytes", |b| {
        b.iter(|| {
            let mut payload = 0usize;
            for (link, f) in &frames {
                if let Ok(s) = decode_frame(*link, black_box(f)) {
                    payload += s.payload.len();
                }
            }
            payload
        })
    });
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("mix_frames", |b| {
        b.iter(|| {
            frames
                .iter()
                .filter(|(link, f)| decode_frame(*link, black_box(f)).is_ok())
                .count()
        })
    });
    g.finish();

    // Ours and the httparse reference side by side, on the same heads, in one run.
    let mut g = c.benchmark_group("http_head");
    g.throughput(Throughput::Bytes(REQUEST.len() as u64));
    g.bench_function("request", |b| {
        b.iter(|| {
            parse_request_head(black_box(REQUEST))
                .unwrap()
                .unwrap()
                .head_len
        })
    });
    g.bench_function("request_httparse", |b| {
        b.iter(|| {
            http_reference::parse_request_head(black_box(REQUEST))
                .unwrap()
                .unwrap()
                .head_len
        })
    });
    g.throughput(Throughput::Bytes(RESPONSE.len() as u64));
    g.bench_function("response", |b| {
        b.iter(|| {
            parse_response_head(black_box(RESPONSE))
                .unwrap()
                .unwrap()
                .head_len
        })
    });
    g.bench_function("response_httparse", |b| {
        b.iter(|| {
            http_reference::parse_response_head(black_box(RESPONSE))
                .unwrap()
                .unwrap()
                .head_len
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
