//! Writes a large synthetic capture of keep-alive HTTP traffic for the benchmarks
//! (`bench/replay.sh`): `C` connections, each opened with a handshake, carrying requests and
//! their responses round-robin (one segment each, like wrk against nginx), then closed.
//!
//! ```text
//! cargo run --release --example gen_capture -- OUT.pcap [REQUESTS] [CONNECTIONS] [RATE]
//! ```
//!
//! Prints the number of requests and packets written, so scripts know the exact count the
//! monitor must report.

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::process::ExitCode;

use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, PcapWriter, Side};
use traffic_watch::time::Timestamp;

/// Paths over seven sections, like the wrk capture in /work/shared/data.
const PATHS: [&str; 10] = [
    "/api/v1/users",
    "/api/orders?page=2",
    "/cart",
    "/img/logo.png",
    "/pages/about",
    "/search?q=a/b",
    "/static/app.js",
    "/static/css/site.css",
    "/users/42/profile",
    "/pages/help",
];

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> Result<T, String> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("bad argument '{s}'")),
    }
}

fn run() -> Result<(u64, u64), String> {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args.get(1) else {
        return Err("usage: gen_capture OUT.pcap [REQUESTS] [CONNECTIONS] [RATE]".into());
    };
    let requests: u64 = arg(&args, 2, 200_000)?;
    let conns: u16 = arg(&args, 3, 64)?;
    let rate: u64 = arg(&args, 4, 20_000)?;
    let conns = conns.max(1);
    let gap_us = (1_000_000 / rate.max(1)).max(2);
    let io = |e: std::io::Error| format!("{out}: {e}");
    let file = File::create(out).map_err(io)?;
    let mut w =
        PcapWriter::new(BufWriter::with_capacity(1 << 20, file), LinkType::Ethernet).map_err(io)?;
    let server = SocketAddr::from(([127, 0, 0, 1], 8090));
    let start = Timestamp::from_secs(1_795_500_000);
    let mut packets = 0u64;
    let mut convs: Vec<Conversation> = (0..conns)
        .map(|i| {
            let client = SocketAddr::from(([127, 0, 0, 1], 40_000 + i));
            let isn = u32::from(i).wrapping_mul(2_654_435_761);
            let mut c = Conversation::new(client, server).with_isn(isn, !isn);
            c.ts = Timestamp(start.0 + u64::from(i) * 10);
            c.step_us = 1;
            c
        })
        .collect();
    for c in &mut convs {
        for f in c.handshake() {
            w.write(&f).map_err(io)?;
            packets += 1;
        }
    }
    let body = vec![b'x'; 120];
    for i in 0..requests {
        let path = PATHS[(i % PATHS.len() as u64) as usize];
        let c = &mut convs[(i % u64::from(conns)) as usize];
        c.ts = Timestamp(start.0 + 1_000 + i * gap_us);
        c.step_us = gap_us / 2;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8090\r\nUser-Agent: gen_capture\r\n\
             Accept: */*\r\n\r\n"
        );
        let resp = format!(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            body.len()
        );
        let mut resp = resp.into_bytes();
        resp.extend_from_slice(&body);
        w.write(&c.send(Side::Client, req.as_bytes())).map_err(io)?;
        w.write(&c.send(Side::Server, &resp)).map_err(io)?;
        packets += 2;
    }
    let end = start.0 + 2_000 + requests * gap_us;
    for c in &mut convs {
        c.ts = Timestamp(end);
        for f in c.close() {
            w.write(&f).map_err(io)?;
            packets += 1;
        }
    }
    w.into_inner()
        .into_inner()
        .map_err(|e| io(e.into_error()))?;
    Ok((requests, packets))
}

fn main() -> ExitCode {
    match run() {
        Ok((requests, packets)) => {
            println!("requests={requests} packets={packets}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_capture: {e}");
            ExitCode::from(2)
        }
    }
}
