//! HTTP/2 without TLS: prior knowledge, Upgrade, and connections seen mid-stream; streams
//! counted as requests, paired, reset, pushed; frames split anywhere; hostile floods bounded.

use super::*;
use crate::decode::http2::frame::PREFACE;

/// One frame: header and payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

fn settings() -> Vec<u8> {
    frame(4, 0, 0, &[0, 3, 0, 0, 0, 100])
}

fn settings_ack() -> Vec<u8> {
    frame(4, 1, 0, &[])
}

/// A literal field without indexing, with a static-table name, raw (not Huffman) value.
fn literal(name_index: u8, value: &str) -> Vec<u8> {
    let mut f = vec![name_index & 0x0f, value.len() as u8];
    f.extend_from_slice(value.as_bytes());
    f
}

/// `GET path` (`:method GET`, `:scheme http`, `:path`).
fn get(path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86];
    if path == "/" {
        b.push(0x84);
    } else {
        b.extend(literal(4, path));
    }
    b
}

const STATUS_200: &[u8] = &[0x88];
const STATUS_404: &[u8] = &[0x8d];

fn headers(stream: u32, flags: u8, block: &[u8]) -> Vec<u8> {
    frame(1, flags, stream, block)
}

/// A prior-knowledge connection: preface and SETTINGS both ways.
fn h2_open(port: u16) -> Conv {
    let mut c = Conv::open(port, 1, 1);
    c.client(&[PREFACE, &settings()].concat());
    c.server(&[settings(), settings_ack()].concat());
    c.client(&settings_ack());
    c
}

#[test]
fn prior_knowledge_streams_are_requests_paired_with_their_responses() {
    let mut c = h2_open(42000);
    c.client(&headers(1, END_HEADERS | END_STREAM, &get("/users/1")));
    c.client(&headers(3, END_HEADERS | END_STREAM, &get("/")));
    c.tick(250);
    // Answers out of order: multiplexed streams.
    c.server(&headers(3, END_HEADERS, STATUS_404));
    c.server(&frame(0, END_STREAM, 3, b"nope"));
    c.server(&headers(1, END_HEADERS, STATUS_200));
    c.server(&frame(0, END_STREAM, 1, b"hello"));
    c.close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/users", "/"]);
    assert_eq!(rec.pairs(), [(404, Some("/")), (200, Some("/users"))]);
    let paths: Vec<Option<&str>> = rec.resps.iter().map(|r| r.path.as_deref()).collect();
    assert_eq!(paths, [Some("/"), Some("/users/1")]);
    assert_eq!(rec.reqs[0].path, "/users/1");
    assert_eq!(rec.resps[0].latency, Some(Duration::from_micros(250)));
    assert_eq!(k.h2.connections, 1);
    assert!(rec.non_http.is_empty(), "HTTP/2 is HTTP now");
    assert_eq!((k.requests_unanswered, k.unpaired_responses), (0, 0));
}

#[test]
fn frames_split_at_every_byte_give_the_same_result() {
    let client = [
        PREFACE,
        &settings(),
        &headers(1, END_HEADERS | END_STREAM, &get("/a/b")),
        // Padded and with priority.
        &frame(1, END_HEADERS | END_STREAM | PADDED | PRIORITY, 3, &{
            let mut p = vec![3, 0, 0, 0, 0, 16];
            p.extend(get("/c"));
            p.extend([0, 0, 0]);
            p
        }),
    ]
    .concat();
    let server = [
        settings(),
        headers(1, END_HEADERS, STATUS_200),
        frame(0, END_STREAM, 1, b"x"),
        headers(3, END_HEADERS | END_STREAM, STATUS_404),
    ]
    .concat();
    for split in [1, 2, 3, 7, 9, 10, 64, 10_000] {
        let mut c = Conv::open(42001, 1, 1);
        c.client_split(&client, split);
        c.server_split(&server, split).close();
        let (rec, k) = run(&c.segs);
        assert_eq!(rec.sections(), ["/a", "/c"], "split {split}");
        assert_eq!(
            rec.pairs(),
            [(200, Some("/a")), (404, Some("/c"))],
            "split {split}"
        );
        assert_eq!(k.h2.protocol_errors, 0, "split {split}");
    }
}

#[test]
fn continuation_trailers_push_and_reset() {
    let mut c = h2_open(42002);
    // A request whose header block spans HEADERS and two CONTINUATION frames.
    let block = get("/long/x");
    c.client(&headers(1, END_STREAM, &block[..2]));
    c.client(&frame(9, 0, 1, &block[2..4]));
    c.client(&frame(9, END_HEADERS, 1, &block[4..]));
    // A request with a body and trailers: one request.
    c.client(&headers(3, END_HEADERS, &get("/up")));
    c.client(&frame(0, 0, 3, b"data"));
    c.client(&headers(3, END_HEADERS | END_STREAM, &literal(1, "x")));
    // Reset before any answer: still a request the server had to handle.
    c.client(&headers(5, END_HEADERS | END_STREAM, &get("/gone")));
    c.client(&frame(3, 0, 5, &[0, 0, 0, 8]));
    // The server pushes a resource: counted apart, its response is no client's.
    c.server(&frame(
        5,
        END_HEADERS,
        1,
        &[&[0, 0, 0, 2][..], &get("/pushed")].concat(),
    ));
    c.server(&headers(1, END_HEADERS | END_STREAM, STATUS_200));
    c.server(&headers(2, END_HEADERS | END_STREAM, STATUS_200));
    c.server(&headers(3, END_HEADERS | END_STREAM, STATUS_200));
    c.close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/long", "/up", "/gone"]);
    assert_eq!(rec.pairs(), [(200, Some("/long")), (200, Some("/up"))]);
    assert_eq!((k.h2.pushes, k.h2.streams_reset), (1, 1));
    assert_eq!((k.unpaired_responses, k.requests_unanswered), (0, 0));
}

#[test]
fn upgrade_h2c_then_frames() {
    let mut c = Conv::open(42003, 1, 1);
    c.client(
        b"GET /up/grade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    );
    c.tick(100);
    c.server(
        &[
            &b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"[..],
            &settings(),
            &headers(1, END_HEADERS, STATUS_200),
            &frame(0, END_STREAM, 1, b"ok"),
        ]
        .concat(),
    );
    c.client(&[PREFACE, &settings(), &settings_ack()].concat());
    c.client(&headers(3, END_HEADERS | END_STREAM, &get("/next")));
    c.server(&headers(3, END_HEADERS | END_STREAM, STATUS_404));
    c.close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/up", "/next"]);
    // The 101 is interim: stream 1's answer is the HTTP/2 one.
    assert_eq!(
        rec.pairs(),
        [(101, Some("/up")), (200, Some("/up")), (404, Some("/next"))]
    );
    assert!(rec.resps[0].interim && !rec.resps[1].interim);
    // The upgraded request keeps its path across the switch.
    let paths: Vec<Option<&str>> = rec.resps.iter().map(|r| r.path.as_deref()).collect();
    assert_eq!(paths, [Some("/up/grade"), Some("/up/grade"), Some("/next")]);
    assert_eq!(rec.resps[1].latency, Some(Duration::from_micros(100)));
    assert_eq!(k.h2.connections, 1);
}

#[test]
fn mid_stream_connection_is_recognised_from_frames_both_ways() {
    // No handshake: the capture started inside the connection.
    let mut c = Conv::new(42004, 1, 1);
    c.client(&headers(7, END_HEADERS | END_STREAM, &get("/m")));
    c.server(&headers(7, END_HEADERS | END_STREAM, STATUS_200));
    c.client(&headers(9, END_HEADERS | END_STREAM, &get("/n/1")));
    c.server(&headers(9, END_HEADERS | END_STREAM, STATUS_200));
    let (rec, k) = run(&c.segs);
    // The first request's frames were the client's evidence: held, and counted once the
    // server's frames agreed.
    assert_eq!(rec.sections(), ["/m", "/n"]);
    assert_eq!(rec.pairs(), [(200, Some("/m")), (200, Some("/n"))]);
    assert_eq!(k.h2.connections, 1);
    assert_eq!(k.parse_errors, 0);
}

#[test]
fn rapid_reset_counts_every_stream() {
    let mut c = h2_open(42005);
    let mut burst = Vec::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        burst.extend(headers(id, END_HEADERS | END_STREAM, &get("/")));
        burst.extend(frame(3, 0, id, &[0, 0, 0, 8]));
    }
    c.client_split(&burst, 1400).close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.reqs.len(), 1000);
    assert_eq!(k.h2.streams_reset, 1000);
    assert_eq!(k.requests_unanswered, 0);
}

#[test]
fn continuation_flood_is_bounded_and_counted_once() {
    let config = FlowConfig {
        max_head_bytes: 1024,
        ..FlowConfig::default()
    };
    let mut c = h2_open(42006);
    c.client(&headers(1, 0, &get("/flood")));
    for _ in 0..2000 {
        c.client(&frame(9, 0, 1, &[0x40; 100]));
    }
    c.client(&headers(3, END_HEADERS | END_STREAM, &get("/after")));
    c.close();
    let (rec, k, t) = run_with(&c.segs, config);
    assert_eq!(rec.sections(), ["(unknown)", "/after"]);
    assert_eq!(k.h2.header_blocks_too_large, 1);
    assert_eq!(k.h2.protocol_errors, 1, "HEADERS interrupted the block");
    assert_eq!(t.len(), 0);
}

#[test]
fn stream_ids_must_go_up() {
    let mut c = h2_open(42007);
    c.client(&headers(5, END_HEADERS | END_STREAM, &get("/a")));
    c.client(&headers(3, END_HEADERS | END_STREAM, &get("/b")));
    c.client(&headers(4, END_HEADERS | END_STREAM, &get("/c")));
    c.close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/a"]);
    assert_eq!(k.h2.stream_id_errors, 2);
}

#[test]
fn huge_table_size_and_hpack_bomb_stay_bounded() {
    let mut c = Conv::open(42008, 1, 1);
    c.client(&[PREFACE, &settings()].concat());
    // The server allows a 4 GiB table for what the client sends it.
    c.server(&frame(4, 0, 0, &[0, 1, 0xff, 0xff, 0xff, 0xff]));
    // The client raises its table to the limit and fills it with 4 KiB entries...
    let mut block = vec![0x3f, 0xe0, 0xff, 0xff, 0xff, 0x0f]; // size update to 2^32-1
    for i in 0..40 {
        block.push(0x40);
        block.extend([0x7f, 0x02]); // name length 129
        block.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 129));
        block.extend([0x7f, 0x81, 0x1f]); // value length 4096
        block.extend(std::iter::repeat_n(b'v', 4096));
    }
    block.extend(get("/filled"));
    c.client(&headers(1, END_HEADERS | END_STREAM, &block));
    // ...then a bomb: one small block referencing the newest entry thousands of times.
    let mut bomb = get("/bomb");
    bomb.extend(std::iter::repeat_n(0x80 | 62, 20_000));
    c.client(&headers(3, END_HEADERS | END_STREAM, &bomb));
    c.server(&headers(1, END_HEADERS | END_STREAM, STATUS_200));
    c.server(&headers(3, END_HEADERS | END_STREAM, STATUS_200));
    c.close();
    let config = FlowConfig {
        max_head_bytes: 256 * 1024,
        ..FlowConfig::default()
    };
    let (rec, k, _) = run_with(&c.segs, config);
    // Both streams are requests; what the caps kept from their blocks is all we claim.
    assert_eq!(rec.reqs.len(), 2);
    assert_eq!(rec.sections(), ["/filled", "/bomb"]);
    assert_eq!(rec.pairs().len(), 2);
    assert_eq!(k.h2.hpack_errors, 0);
}

#[test]
fn frames_over_the_size_limit_are_counted_and_skipped() {
    let mut c = h2_open(42009);
    c.client(&frame(0, 0, 1, &vec![0u8; 20_000]));
    c.client(&headers(3, END_HEADERS | END_STREAM, &get("/after")));
    c.server(&headers(3, END_HEADERS | END_STREAM, STATUS_200));
    c.close();
    let (rec, k) = run(&c.segs);
    assert_eq!(k.h2.frames_too_large, 1);
    assert_eq!(rec.pairs(), [(200, Some("/after"))]);
}

#[test]
fn open_streams_are_capped_per_connection() {
    let mut c = h2_open(42010);
    let mut burst = Vec::new();
    for i in 0..1000u32 {
        burst.extend(headers(2 * i + 1, END_HEADERS, &get("/")));
    }
    c.client_split(&burst, 1400).close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.reqs.len(), 1000, "every stream a request");
    assert_eq!(k.h2.streams_overflow, 1000 - 256);
    assert_eq!(k.requests_unanswered, 256);
}
