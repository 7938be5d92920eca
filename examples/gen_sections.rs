//! Writes a long synthetic capture that keeps the section windows as full as they get: every
//! second, one request to each of `S` sections (`/s0/x` … `/s{S-1}/x`), each answered after
//! a latency that moves from second to second, for `SECONDS` seconds, over 64 keep-alive
//! connections. For `bench/memory.sh`, which checks the monitor's peak memory at the section
//! cap (10,000 sections active every second) over more than the 10-minute window.
//!
//! ```text
//! cargo run --release --example gen_sections -- OUT.pcap [SECTIONS] [SECONDS]
//! ```
//!
//! `OUT.pcap` may be `-` (standard output), so the capture need not be stored. Prints
//! `requests=R packets=P` on standard error.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, PcapWriter, Side};
use traffic_watch::time::Timestamp;

const CONNECTIONS: u16 = 64;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> Result<T, String> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("bad argument '{s}'")),
    }
}

fn run() -> Result<(u64, u64), String> {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args.get(1) else {
        return Err("usage: gen_sections OUT.pcap|- [SECTIONS] [SECONDS]".into());
    };
    let sections: u64 = arg(&args, 2, 10_000)?;
    let seconds: u64 = arg(&args, 3, 720)?;
    let io = |e: std::io::Error| format!("{out}: {e}");
    let sink: Box<dyn Write> = if out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(out).map_err(io)?)
    };
    let mut w =
        PcapWriter::new(BufWriter::with_capacity(1 << 20, sink), LinkType::Ethernet).map_err(io)?;
    let server = SocketAddr::from(([127, 0, 0, 1], 8090));
    let start = Timestamp::from_secs(1_795_500_000);
    let mut packets = 0u64;
    let mut convs: Vec<Conversation> = (0..CONNECTIONS)
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
    // Requests evenly spread over each second.
    let gap_us = (1_000_000 / sections.max(1)).max(1);
    let mut requests = 0u64;
    let mut line = String::new();
    for second in 0..seconds {
        for s in 0..sections {
            let c = &mut convs[(requests % u64::from(CONNECTIONS)) as usize];
            let sent = start.0 + 1_000_000 * (second + 1) + s * gap_us;
            // Answered before the next request is sent (the file stays in time order), after
            // one of 64 latencies: a few latency buckets per section in every window bucket.
            let latency = 1 + ((s * 31 + second * 17) % 64) * gap_us.saturating_sub(1) / 64;
            line.clear();
            line.push_str("GET /s");
            line.push_str(&s.to_string());
            line.push_str("/x HTTP/1.1\r\nHost: 127.0.0.1:8090\r\n\r\n");
            c.ts = Timestamp(sent);
            c.step_us = 0;
            w.write(&c.send(Side::Client, line.as_bytes()))
                .map_err(io)?;
            c.ts = Timestamp(sent + latency);
            let status = if (s + second) % 50 == 0 {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let resp = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            w.write(&c.send(Side::Server, resp.as_bytes()))
                .map_err(io)?;
            packets += 2;
            requests += 1;
        }
    }
    let end = start.0 + 1_000_000 * (seconds + 2);
    for c in &mut convs {
        c.ts = Timestamp(end);
        for f in c.close() {
            w.write(&f).map_err(io)?;
            packets += 1;
        }
    }
    w.into_inner()
        .into_inner()
        .map_err(|e| io(e.into_error()))?
        .flush()
        .map_err(io)?;
    Ok((requests, packets))
}

fn main() -> ExitCode {
    match run() {
        Ok((requests, packets)) => {
            eprintln!("requests={requests} packets={packets}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_sections: {e}");
            ExitCode::from(2)
        }
    }
}
