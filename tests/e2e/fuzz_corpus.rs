//! Replays every committed fuzz input, the seed corpus (`fuzz/corpus/<target>/`) and past
//! crashes (`fuzz/regressions/<target>/`), through the same bodies the cargo-fuzz targets run
//! (`traffic_watch::fuzzing`), so a plain `cargo test` keeps old crashes fixed without
//! cargo-fuzz or a nightly compiler. Each crash found gets a named test here too.
//!
//! The seeds are generated: `cargo test --test fuzz_corpus -- --ignored write_seed_corpus`
//! rewrites `fuzz/corpus/*/seed-*` from `traffic_watch::synth`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use traffic_watch::decode::LinkType;
use traffic_watch::fuzzing::{self, TARGETS, encode_segment};
use traffic_watch::synth::{Conversation, Frame, PcapWriter, Side, sample_traffic};
use traffic_watch::time::Timestamp;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(kind: &str, min_files: usize) {
    for target in TARGETS {
        let dir = fuzz_dir().join(kind).join(target);
        let inputs = files(&dir);
        assert!(
            inputs.len() >= min_files,
            "{}: {} files",
            dir.display(),
            inputs.len()
        );
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let r = std::panic::catch_unwind(|| fuzzing::run(target, &data));
            assert!(
                matches!(r, Ok(true)),
                "{target} panicked on {}",
                input.display()
            );
        }
    }
}

#[test]
fn seed_corpus_replays_cleanly() {
    replay("corpus", 3);
}

#[test]
fn past_crashes_stay_fixed() {
    replay("regressions", 0);
}

#[test]
fn empty_and_tiny_inputs() {
    for target in TARGETS {
        for data in [&b""[..], b"\0", b"\xff", &[0u8; 40], &[0xffu8; 40]] {
            assert!(fuzzing::run(target, data));
        }
    }
    assert!(!fuzzing::run("no_such_target", b""));
}

// ---- seeds ----

fn pcap(link: LinkType, frames: &[Frame]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link).unwrap();
    w.write_all(frames).unwrap();
    w.into_inner()
}

fn conversation(link: LinkType, v6: bool) -> Vec<Frame> {
    let (c, s) = if v6 {
        ("[2001:db8::1]:40000", "[2001:db8::2]:80")
    } else {
        ("10.0.0.1:40000", "10.0.0.2:80")
    };
    let mut conv = Conversation::new(c.parse().unwrap(), s.parse().unwrap()).with_link(link);
    let mut f = conv.handshake();
    f.extend(conv.send_split(
        Side::Client,
        b"GET /pages/create HTTP/1.1\r\nHost: example\r\n\r\nPOST /api/x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        30,
    ));
    f.push(conv.send(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
    ));
    f.extend(conv.close());
    f
}

const HTTP_SEEDS: [&[u8]; 6] = [
    b"\x05GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n\0\0HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"\x00POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.0\r\n\r\n\0\0HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody until close",
    b"\x3fGET http://h/abs/olute HTTP/1.1\r\n\r\nCONNECT h:443 HTTP/1.1\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n",
    b"\x01PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x10GET /\xe2\x80\xae/%1b HTTP/1.1\r\nHost: \xc2\x9b\r\n\r\n\0\0HTTP/1.1 301 \xc2\x9b\r\nLocation: /\r\n\r\n",
    b"\x02\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03",
];

fn reassembly_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    // Handshake, a request in two segments, the response, FINs.
    let mut s = Vec::new();
    let req = b"GET /r/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    encode_segment(&mut s, 1, 0, 100, 0, 1, b"");
    encode_segment(&mut s, 3, 0x80, 900, 101, 1, b"");
    encode_segment(&mut s, 2, 0, 101, 901, 1, &req[..10]);
    encode_segment(&mut s, 2, 0, 111, 901, 1, &req[10..]);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    encode_segment(&mut s, 2, 0x80, 901, 101 + req.len() as u32, 1, resp);
    encode_segment(&mut s, 6, 0, 101 + req.len() as u32, 0, 1, b"");
    seeds.push(s);
    // Out of order, a retransmission, a hole that never fills, RST.
    let mut s = Vec::new();
    encode_segment(&mut s, 1, 1, 5, 0, 0, b"");
    encode_segment(
        &mut s,
        2,
        1,
        30,
        0,
        0,
        b"HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    );
    encode_segment(&mut s, 2, 1, 6, 0, 0, b"GET /a/x HTTP/1.1\r\n\r\n");
    encode_segment(&mut s, 2, 1, 6, 0, 0, b"GET /a/x HTTP/1.1\r\n\r\n");
    encode_segment(&mut s, 2, 1, 400, 0, 0, b"GET /after/gap HTTP/1.1\r\n\r\n");
    encode_segment(&mut s, 2, 0x81, 77, 10_000, 0, b"HTTP/1.1 200 OK\r\n\r\n");
    encode_segment(&mut s, 8, 1, 500, 0, 255, b"");
    seeds.push(s);
    // Many short connections: the 4-flow cap and expiry.
    let mut s = Vec::new();
    for who in 0..16u8 {
        encode_segment(&mut s, 1, who, u32::from(who) * 1000, 0, 50, b"");
        encode_segment(
            &mut s,
            2,
            who,
            u32::from(who) * 1000 + 1,
            0,
            50,
            b"GET /m HTTP/1.1\r\n",
        );
    }
    encode_segment(&mut s, 2, 0, 0, 0, 255, b"");
    seeds.push(s);
    // Sequence numbers wrapping.
    let mut s = Vec::new();
    encode_segment(&mut s, 1, 2, u32::MAX - 3, 0, 1, b"");
    encode_segment(
        &mut s,
        2,
        2,
        u32::MAX - 2,
        0,
        1,
        b"GET /wrap HTTP/1.1\r\n\r\n",
    );
    seeds.push(s);
    seeds
}

fn frame_seeds() -> Vec<Vec<u8>> {
    let links = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::RawIp,
    ];
    let mut seeds = Vec::new();
    for (i, link) in links.into_iter().enumerate() {
        for v6 in [false, true] {
            let mut c = conversation(link, v6);
            let f = c.remove(3);
            let mut s = vec![i as u8];
            s.extend_from_slice(&f.data);
            seeds.push(s);
        }
    }
    // 802.1Q and QinQ.
    let mut conv = Conversation::new(
        "10.0.0.1:1".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    conv.vlans = vec![100, 200];
    let mut s = vec![0];
    s.extend_from_slice(&conv.send(Side::Client, b"GET / HTTP/1.1\r\n\r\n").data);
    seeds.push(s);
    seeds
}

fn capture_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        pcap(LinkType::Ethernet, &sample_traffic(5, 2)),
        pcap(
            LinkType::LinuxSll2,
            &conversation(LinkType::LinuxSll2, true),
        ),
        pcap(LinkType::RawIp, &conversation(LinkType::RawIp, false)),
    ];
    // Cut in the middle of a record.
    let mut cut = pcap(LinkType::Null, &conversation(LinkType::Null, false));
    cut.truncate(cut.len() - 7);
    seeds.push(cut);
    // Two connections from one client, one restarting on the same tuple.
    let server: SocketAddr = "10.1.0.2:8080".parse().unwrap();
    let mut frames = Vec::new();
    for isn in [1u32, 500_000] {
        let mut c = Conversation::new("10.1.0.1:5555".parse().unwrap(), server).with_isn(isn, 7);
        c.ts = Timestamp::from_secs(1_700_000_000 + u64::from(isn % 100));
        frames.extend(c.handshake());
        frames.push(c.send(Side::Client, b"GET /again HTTP/1.1\r\n\r\n"));
        frames.extend(c.close());
    }
    seeds.push(pcap(LinkType::Ethernet, &frames));
    // The classic pcap flavours the reader takes besides ours (issue 6): big-endian,
    // nanoseconds, both; a snapshot length shorter than the frames; a record too long for
    // any link type after two good ones; a file with no records.
    let conv = conversation(LinkType::Ethernet, false);
    seeds.push(pcap_as(&conv, true, false, 262_144));
    seeds.push(pcap_as(&conv, false, true, 262_144));
    seeds.push(pcap_as(&conv, true, true, 80));
    let mut huge = pcap_as(&conv[..2], false, false, 262_144);
    huge.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0xe0, 0x93, 4, 0, 0xe0, 0x93, 4, 0]);
    seeds.push(huge);
    seeds.push(pcap_as(&[], true, false, 0));
    // pcapng (read by our pcapng reader): little-endian microseconds; big-endian nanoseconds
    // with a name resolution block, cut inside the last block.
    seeds.push(pcapng_as(&conv, false, 6));
    let mut ng = pcapng_as(&conv, true, 9);
    ng.truncate(ng.len() - 9);
    seeds.push(ng);
    seeds
}

/// `frames` as a pcapng file: one Ethernet interface with time stamps in units of
/// 10^-`tsresol` s, a name resolution block (skipped), then an Enhanced Packet Block per frame.
fn pcapng_as(frames: &[Frame], big_endian: bool, tsresol: u8) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    let mut block = |kind: u32, body: &[u8]| {
        let mut body = body.to_vec();
        body.resize(body.len().div_ceil(4) * 4, 0);
        let len = w32(12 + body.len() as u32);
        out.extend_from_slice(&w32(kind));
        out.extend_from_slice(&len);
        out.extend_from_slice(&body);
        out.extend_from_slice(&len);
    };
    let (one, zero) = if big_endian {
        ([0, 1], [0, 0])
    } else {
        ([1, 0], [0, 0])
    };
    let mut shb = w32(0x1a2b_3c4d).to_vec();
    shb.extend_from_slice(&one);
    shb.extend_from_slice(&zero);
    shb.extend_from_slice(&[0xff; 8]);
    block(0x0a0d_0d0a, &shb);
    let mut idb = if big_endian {
        vec![0, 1, 0, 0]
    } else {
        vec![1, 0, 0, 0]
    };
    idb.extend_from_slice(&w32(0));
    let tsresol_opt = if big_endian {
        [0, 9, 0, 1]
    } else {
        [9, 0, 1, 0]
    };
    idb.extend_from_slice(&tsresol_opt);
    idb.extend_from_slice(&[tsresol, 0, 0, 0, 0, 0, 0, 0]);
    block(1, &idb);
    block(4, &[0; 4]);
    let per_sec = 10u64.pow(u32::from(tsresol));
    for f in frames {
        let t = f.ts.secs() * per_sec + (f.ts.micros() % 1_000_000) * per_sec / 1_000_000;
        let len = f.data.len() as u32;
        let mut epb = Vec::new();
        for v in [0, (t >> 32) as u32, t as u32, len, len] {
            epb.extend_from_slice(&w32(v));
        }
        epb.extend_from_slice(&f.data);
        block(6, &epb);
    }
    out
}

/// `frames` as a classic pcap file in the byte order and timestamp unit asked for, with the
/// given snapshot length (`PcapWriter` writes little-endian microseconds only).
fn pcap_as(frames: &[Frame], big_endian: bool, nanos: bool, snaplen: u32) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    let version = if big_endian {
        [0, 2, 0, 4]
    } else {
        [2, 0, 4, 0]
    };
    out.extend_from_slice(&version);
    for v in [0, 0, snaplen, 1] {
        out.extend_from_slice(&w32(v));
    }
    for f in frames {
        let frac = (f.ts.micros() % 1_000_000) as u32 * if nanos { 1000 } else { 1 };
        let len = f.data.len() as u32;
        for v in [f.ts.secs() as u32, frac, len, len] {
            out.extend_from_slice(&w32(v));
        }
        out.extend_from_slice(&f.data);
    }
    out
}

/// HPACK seeds: `[pick]` then `[len][block]`s (see `fuzzing::hpack`). The RFC 7541 Appendix C
/// blocks, a size update, a literal naming an unknown entry, and a small "bomb".
fn hpack_seeds() -> Vec<Vec<u8>> {
    fn hex(s: &str) -> Vec<u8> {
        let d: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        d.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }
    fn seed(pick: u8, blocks: &[&str]) -> Vec<u8> {
        let mut s = vec![pick];
        for b in blocks {
            let b = hex(b);
            s.push(b.len() as u8);
            s.extend(b);
        }
        s
    }
    let mut bomb = vec![0x00, 255];
    bomb.extend(hex("4004 626f 6d62 7f7f"));
    bomb.extend([b'x'; 254]);
    bomb.extend([0xbe; 2000]);
    vec![
        // C.3 requests, the late decoder joining at the second block.
        seed(
            0x08,
            &[
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
        ),
        // C.6 responses, a 256-byte table announced, joining at the third block.
        seed(
            0x92,
            &[
                "3fe1 01 4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81
                 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                "4883 640e ffc1 c0bf",
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ],
        ),
        // Size updates, never-indexed and unindexed literals, a literal naming index 70.
        seed(
            0x80 | 5,
            &[
                "3fe1 1f 82",
                "20 3f9a 0a 1008 7061 7373 776f 7264 0673 6563 7265 74",
                "040c 2f73 616d 706c 652f 7061 7468 7f07 0276 31 be",
            ],
        ),
        bomb,
    ]
}

/// `h2_flow` seeds: `[mode][mss][client length][client][server]` (see `fuzzing::h2_flow`):
/// multiplexed streams with padding and CONTINUATION, a reset and a push, trailers, and a
/// connection joined mid-stream with dynamic-table references from before it.
fn h2_seeds() -> Vec<Vec<u8>> {
    use traffic_watch::synth::h2::{self, Block};
    let seed = |mode: u8, mss: u8, client: Vec<u8>, server: Vec<u8>| {
        let mut v = vec![mode, mss];
        v.extend_from_slice(&u16::try_from(client.len()).unwrap().to_be_bytes());
        v.extend(client);
        v.extend(server);
        v
    };
    let get = |p: &str| Block::get(p);
    let ok = || Block::new().indexed(8);
    let client = [
        h2::settings(false),
        get("/a/1").headers(1, true),
        get("/b").headers(3, false),
        h2::frame(h2::DATA, h2::END_STREAM, 3, b"body"),
        h2::frame(h2::HEADERS, h2::END_STREAM, 5, &get("/c").0[..2]),
        h2::frame(h2::CONTINUATION, h2::END_HEADERS, 5, &get("/c").0[2..]),
        get("/gone").headers(7, true),
        h2::rst_stream(7),
    ]
    .concat();
    let server = [
        h2::settings(false),
        h2::settings(true),
        ok().headers(3, false),
        h2::frame(h2::DATA, h2::END_STREAM, 3, b"x"),
        h2::frame(
            h2::PUSH_PROMISE,
            h2::END_HEADERS,
            1,
            &[&[0, 0, 0, 2][..], &get("/p").0].concat(),
        ),
        ok().headers(1, true),
        ok().headers(2, true),
        Block::status(404).headers(5, true),
    ]
    .concat();
    let grpc_req = Block::new()
        .indexed(3)
        .indexed(6)
        .literal(4, "/pkg.Svc/Call", false)
        .literal(31, "application/grpc", true);
    let grpc = [
        grpc_req.headers(1, false),
        h2::frame(h2::DATA, h2::END_STREAM, 1, &[0, 0, 0, 0, 1, 7]),
    ]
    .concat();
    let grpc_resp = [
        Block::new()
            .indexed(8)
            .literal(31, "application/grpc", false)
            .headers(1, false),
        h2::frame(h2::DATA, 0, 1, &[0, 0, 0, 0, 1, 7]),
        Block::new()
            .literal_name("grpc-status", "5")
            .headers(1, true),
    ]
    .concat();
    let mid = [
        Block::new()
            .indexed(2)
            .indexed(6)
            .indexed(62)
            .headers(9, true),
        Block::new()
            .indexed(2)
            .indexed(6)
            .literal(4, "/new", true)
            .headers(11, true),
        Block::new()
            .indexed(2)
            .indexed(6)
            .indexed(62)
            .headers(13, true),
    ]
    .concat();
    let mid_resp = [
        ok().headers(9, true),
        ok().headers(11, true),
        ok().headers(13, true),
    ]
    .concat();
    vec![
        seed(1, 63, client.clone(), server.clone()),
        seed(1, 0, client, server),
        seed(1, 5, grpc, grpc_resp),
        seed(0, 63, mid, mid_resp),
    ]
}

/// Rewrites the generated seeds. Run by hand after changing the input formats.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    let all: [(&str, Vec<Vec<u8>>); 6] = [
        ("decode_frame", frame_seeds()),
        ("reassembly", reassembly_seeds()),
        (
            "http_parse",
            HTTP_SEEDS.iter().map(|s| s.to_vec()).collect(),
        ),
        ("capture_file", capture_seeds()),
        ("hpack", hpack_seeds()),
        ("h2_flow", h2_seeds()),
    ];
    for (target, seeds) in all {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for old in files(&dir) {
            if old
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            {
                std::fs::remove_file(old).unwrap();
            }
        }
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), s).unwrap();
        }
    }
}

/// The generated seeds and the committed ones stay the same inputs (a format change must
/// rewrite them).
#[test]
fn generated_seeds_run_cleanly() {
    for s in frame_seeds() {
        fuzzing::decode_frame(&s);
    }
    for s in reassembly_seeds() {
        fuzzing::reassembly(&s);
    }
    for s in HTTP_SEEDS {
        fuzzing::http_parse(s);
    }
    for s in capture_seeds() {
        fuzzing::capture_file(&s);
    }
    for s in hpack_seeds() {
        fuzzing::hpack(&s);
    }
    for s in h2_seeds() {
        fuzzing::h2_flow(&s);
    }
}
