//! What recording costs the packet path, per packet: the flight recorder keeping packets in
//! its ring (the steady state, the ring full and evicting), the copy `-w` queues for its
//! writer, and the pcapng encoding the writer thread does. Frames are the sizes a loopback
//! HTTP exchange has: 66-byte ACKs, 200-byte requests, 400-byte responses.
//! `cargo bench --bench record`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use traffic_watch::record::pcapng::PcapngWriter;
use traffic_watch::record::{Format, Packet, Recorder, Ring, Target, Writer};
use traffic_watch::time::Timestamp;

const SIZES: [usize; 4] = [66, 200, 66, 400];
const BATCH: usize = 512;

fn frames() -> Vec<Vec<u8>> {
    SIZES.iter().map(|&n| vec![0x45u8; n]).collect()
}

fn record(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(BATCH as u64));

    // The ring alone, full (1 MiB) so every push also evicts.
    let mut ring = Ring::new(1 << 20, Duration::from_secs(60));
    let mut t = 1_795_500_000_000_000u64;
    g.bench_function("ring_push_512", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                t += 10;
                let f = &frames[i % frames.len()];
                ring.push(Packet::new(Timestamp::from_micros(t), f.len() as u32, f));
            }
        })
    });

    // The flight recorder while no alert is on: what every packet costs it.
    let format = Format {
        linktype: 113,
        snaplen: 262_144,
    };
    let writer = Writer::spawn("bench", Target::PerAlert, format, true).unwrap();
    let dir = std::env::temp_dir();
    let mut rec = Recorder::new(dir, 128 << 20, Duration::from_secs(60), writer);
    g.bench_function("flight_recorder_512", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                t += 10;
                let f = &frames[i % frames.len()];
                rec.packet(Timestamp::from_micros(t), f.len() as u32, f);
            }
            rec.end_batch();
        })
    });

    // -w on the packet path: a copy of each packet, one queue send per batch (the writer
    // thread writes to /dev/null meanwhile).
    let null = std::fs::File::create("/dev/null").unwrap();
    let target = Target::Rotating {
        rotation: traffic_watch::record::Rotation {
            path: "/dev/null".into(),
            max_bytes: None,
            every: None,
            count: None,
        },
        first: ("/dev/null".into(), null),
    };
    let w = Writer::spawn("bench-w", target, format, true).unwrap();
    g.bench_function("write_queue_512", |b| {
        b.iter(|| {
            let mut batch = Vec::with_capacity(BATCH);
            for i in 0..BATCH {
                t += 10;
                let f = &frames[i % frames.len()];
                batch.push(Packet::new(Timestamp::from_micros(t), f.len() as u32, f));
            }
            w.packets(batch);
        })
    });

    // The writer thread's encoding, into memory.
    let mut pcap = PcapngWriter::new(Vec::with_capacity(64 << 20), 113, 262_144, None).unwrap();
    g.bench_function("pcapng_encode_512", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                t += 10;
                let f = &frames[i % frames.len()];
                pcap.write_packet(Timestamp::from_micros(t), f.len() as u32, f)
                    .unwrap();
            }
            if pcap.written() > 32 << 20 {
                pcap.get_mut().clear();
            }
        })
    });
    g.finish();
    let c = w.counters();
    eprintln!(
        "-w bench: {} packets written to /dev/null, {} dropped by the full queue",
        c.packets, c.dropped
    );
}

criterion_group!(benches, record);
criterion_main!(benches);
