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

criterion_group!(benches, pipeline);
criterion_main!(benches);
