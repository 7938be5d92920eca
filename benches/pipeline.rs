//! The whole pipeline (decode → reassembly → HTTP pairing → statistics) over an in-memory
//! capture of keep-alive requests and responses, like `examples/gen_capture.rs` writes.
//! Throughput is in packets. `cargo bench --bench pipeline`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use traffic_watch::decode::LinkType;
use traffic_watch::flow::FlowConfig;
use traffic_watch::pipeline::Pipeline;
use traffic_watch::stats::StatsConfig;
use traffic_watch::synth::{Conversation, Frame, Side};
use traffic_watch::time::Timestamp;

const PATHS: [&str; 7] = [
    "/api/v1/users",
    "/cart",
    "/img/logo.png",
    "/pages/about",
    "/search?q=a/b",
    "/static/app.js",
    "/users/42",
];

/// `requests` keep-alive requests and their responses over `conns` connections, at 20k/s.
fn keepalive(requests: u64, conns: u16) -> Vec<Frame> {
    let server = SocketAddr::from(([127, 0, 0, 1], 8090));
    let start = Timestamp::from_secs(1_795_500_000);
    let mut convs: Vec<Conversation> = (0..conns)
        .map(|i| {
            let mut c = Conversation::new(SocketAddr::from(([127, 0, 0, 1], 40_000 + i)), server);
            c.ts = start;
            c.step_us = 1;
            c
        })
        .collect();
    let mut frames: Vec<Frame> = convs.iter_mut().flat_map(|c| c.handshake()).collect();
    let mut resp = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n\
Content-Length: 120\r\n\r\n"
        .to_vec();
    resp.extend_from_slice(&[b'x'; 120]);
    for i in 0..requests {
        let c = &mut convs[(i % u64::from(conns)) as usize];
        c.ts = Timestamp(start.0 + 1_000 + i * 50);
        c.step_us = 25;
        let path = PATHS[(i % PATHS.len() as u64) as usize];
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8090\r\nAccept: */*\r\n\r\n");
        frames.push(c.send(Side::Client, req.as_bytes()));
        frames.push(c.send(Side::Server, &resp));
    }
    for c in &mut convs {
        c.ts = Timestamp(start.0 + 2_000 + requests * 50);
        frames.extend(c.close());
    }
    frames
}

/// The same requests as HTTP/2 streams (prior knowledge): each request a HEADERS frame in its
/// own segment, each response HEADERS + DATA. The client's HPACK encoder indexes `:authority`
/// and `accept` once and refers to them after, as real clients do.
fn h2c_streams(requests: u64, conns: u16) -> Vec<Frame> {
    use traffic_watch::synth::h2::{self, Block};
    let server = SocketAddr::from(([127, 0, 0, 1], 8090));
    let start = Timestamp::from_secs(1_795_500_000);
    let mut convs: Vec<Conversation> = (0..conns)
        .map(|i| {
            let mut c = Conversation::new(SocketAddr::from(([127, 0, 0, 1], 40_000 + i)), server);
            c.ts = start;
            c.step_us = 1;
            c
        })
        .collect();
    let mut frames: Vec<Frame> = Vec::new();
    for c in &mut convs {
        frames.extend(c.handshake());
        frames.push(c.send(Side::Client, &[h2::PREFACE, &h2::settings(false)].concat()));
        frames.push(c.send(
            Side::Server,
            &[h2::settings(false), h2::settings(true)].concat(),
        ));
    }
    let mut ids = vec![1u32; usize::from(conns)];
    let body = [b'x'; 120];
    for i in 0..requests {
        let k = (i % u64::from(conns)) as usize;
        let c = &mut convs[k];
        c.ts = Timestamp(start.0 + 1_000 + i * 50);
        c.step_us = 25;
        let path = PATHS[(i % PATHS.len() as u64) as usize];
        let id = ids[k];
        ids[k] += 2;
        let block = if id == 1 {
            Block::new()
                .indexed(2)
                .indexed(6)
                .literal(4, path, false)
                .literal(1, "127.0.0.1:8090", true)
                .literal(19, "*/*", true)
        } else {
            Block::new()
                .indexed(2)
                .indexed(6)
                .literal(4, path, false)
                .indexed(63)
                .indexed(62)
        };
        frames.push(c.send(Side::Client, &block.headers(id, true)));
        let resp = [
            Block::new()
                .indexed(8)
                .literal_name("server", "nginx")
                .headers(id, false),
            h2::frame(h2::DATA, h2::END_STREAM, id, &body),
        ]
        .concat();
        frames.push(c.send(Side::Server, &resp));
    }
    for c in &mut convs {
        c.ts = Timestamp(start.0 + 2_000 + requests * 50);
        frames.extend(c.close());
    }
    frames
}

/// Per request, HTTP/1.1 keep-alive and h2c side by side on the same paths.
fn per_request(c: &mut Criterion) {
    const REQUESTS: u64 = 20_000;
    let mut g = c.benchmark_group("per_request");
    g.throughput(Throughput::Elements(REQUESTS));
    g.sample_size(20);
    for (name, frames) in [
        ("http1_keepalive", keepalive(REQUESTS, 32)),
        ("h2c_streams", h2c_streams(REQUESTS, 32)),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    Pipeline::new(
                        LinkType::Ethernet,
                        FlowConfig::default(),
                        StatsConfig::default(),
                    )
                },
                |pipe| {
                    for f in &frames {
                        pipe.ingest(f.ts, &f.data);
                    }
                    pipe.finish();
                    assert_eq!(pipe.stats().totals().requests, REQUESTS);
                    assert_eq!(pipe.stats().totals().responses, REQUESTS);
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    const REQUESTS: u64 = 20_000;
    let frames = keepalive(REQUESTS, 32);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.sample_size(20);
    g.bench_function("keepalive_packets", |b| {
        b.iter_batched_ref(
            || {
                Pipeline::new(
                    LinkType::Ethernet,
                    FlowConfig::default(),
                    StatsConfig::default(),
                )
            },
            |pipe| {
                for f in &frames {
                    pipe.ingest(f.ts, &f.data);
                }
                pipe.finish();
                assert_eq!(pipe.stats().totals().requests, REQUESTS);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, pipeline, per_request);
criterion_main!(benches);
