//! What a server reads as a request is counted: malformed request lines and heads, heads of
//! any size, heads cut by a lost segment, and connections that open with an odd line. And
//! what it does not read as one (bodies, WebSocket frames) still is not.

use super::*;
use crate::decode::Malformed;

fn malformed(k: &FlowCounters, m: Malformed) -> u64 {
    k.malformed[m.index()]
}

/// Each shape nginx answers with 400 and logs, at a connection's start and after a good
/// request, followed by a good request the server answers too.
#[test]
fn malformed_shapes_are_counted_with_their_reason() {
    let cases: [(&[u8], Malformed, &str); 9] = [
        (
            b"GET /a\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n",
            Malformed::RequestLine,
            "/a\x1b[2J",
        ),
        (
            b"GET /bel\x07 HTTP/1.1\r\n\r\n",
            Malformed::RequestLine,
            "/bel\x07",
        ),
        (
            b"GET /nul\x00 HTTP/1.1\r\n\r\n",
            Malformed::RequestLine,
            "/nul\x00",
        ),
        (
            b"GET /t\tab HTTP/1.1\r\n\r\n",
            Malformed::RequestLine,
            "/t\tab",
        ),
        (
            b"GET /sp ace/x HTTP/1.1\r\n\r\n",
            Malformed::RequestLine,
            "/sp ace",
        ),
        (b"GET /v HTTP/1.7\r\n\r\n", Malformed::Version, "/v"),
        (
            b"GET /h HTTP/1.1\r\nNo colon\r\n\r\n",
            Malformed::HeaderLine,
            "/h",
        ),
        (
            b"GET /n HTTP/1.1\r\nBad Name: x\r\n\r\n",
            Malformed::HeaderLine,
            "/n",
        ),
        (
            b"POST /cl HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Malformed::Framing,
            "/cl",
        ),
    ];
    for (i, (bad, reason, section)) in cases.into_iter().enumerate() {
        for after_good in [false, true] {
            for split in [1, 7, 1000] {
                let mut c = Conv::open(41000 + i as u16, 1, 1);
                if after_good {
                    c.client(GET_A).server(OK_5);
                }
                c.client_split(bad, split).server(BAD_REQUEST);
                c.client(GET_C).server(NOT_FOUND).close();
                let (rec, k) = run(&c.segs);
                let mut want = vec![section, "/c"];
                if after_good {
                    want.insert(0, "/a");
                }
                let what = format!("case {i} after_good {after_good} split {split}");
                assert_eq!(rec.sections(), want, "{what}");
                assert_eq!(malformed(&k, reason), 1, "{what} {k:?}");
                assert_eq!(k.malformed.iter().sum::<u64>(), 1, "{what}");
                assert_eq!(rec.pairs().len(), want.len(), "{what}");
                assert_eq!(rec.pairs()[want.len() - 2], (400, Some(section)), "{what}");
                assert_eq!(k.unpaired_responses + k.parse_errors, 0, "{what}");
                assert!(rec.non_http.is_empty(), "{what}");
            }
        }
    }
}

/// Bare LF line ends are what servers accept too: not malformed.
#[test]
fn bare_lf_heads_are_plain_requests() {
    let mut c = Conv::open(41100, 1, 1);
    c.client(b"GET /lf HTTP/1.1\nHost: x\n\n")
        .server(OK_5)
        .close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/lf"]);
    assert_eq!(k.malformed, [0; 4]);
}

/// A line that cannot be a request does not hide the requests after it; a connection where
/// neither side speaks HTTP is still "other".
#[test]
fn one_odd_line_does_not_hide_a_connection() {
    let mut c = Conv::open(41101, 1, 1);
    c.client(b"HELLO\r\n").client(GET_A).server(OK_5);
    c.client(GET_B).server(OK_5).close();
    let (rec, _) = run(&c.segs);
    assert_eq!(rec.sections(), ["/a", "/b"]);
    assert_eq!(rec.pairs(), [(200, Some("/a")), (200, Some("/b"))]);
    assert!(rec.non_http.is_empty());

    // Client speaks something else and the server answers in kind.
    let mut c = Conv::open(41102, 1, 1);
    c.client(b"*1\r\n$4\r\nPING\r\n")
        .server(b"+PONG\r\n")
        .close();
    let (rec, k) = run(&c.segs);
    assert!(rec.reqs.is_empty());
    assert_eq!(rec.non_http, [(NonHttpKind::Other, ep(2, 8080), None)]);
    assert_eq!(k.parse_errors, 0);

    // Nothing but garbage from the client, and no answer: "other" once it ends.
    let mut c = Conv::open(41103, 1, 1);
    c.client(b"\x00\x01\x02\x03 not http\r\n").close();
    let (rec, _) = run(&c.segs);
    assert!(rec.reqs.is_empty());
    assert_eq!(rec.non_http, [(NonHttpKind::Other, ep(2, 8080), None)]);
}

/// Heads from 1 KiB to 1 MiB, each split at several segment sizes: every one counted, the
/// cap only bounding what is kept; the body after a big head is still skipped by its length.
#[test]
fn heads_of_any_size_are_counted() {
    let body = b"GET /fake HTTP/1.1\r\n\r\n";
    for kib in [1usize, 15, 17, 64, 1024] {
        let pad = "c".repeat(kib * 1024);
        let big = format!(
            "POST /big/x HTTP/1.1\r\nContent-Length: {}\r\nCookie: {pad}\r\n\r\n",
            body.len()
        );
        for split in [1, 536, 1448, 16_384, 65_483, usize::MAX] {
            if split == 1 && kib > 17 {
                continue; // a million one-byte segments prove nothing more
            }
            let mut c = Conv::open(41200, 1, 1);
            c.client_split(&[big.as_bytes(), body, GET_A].concat(), split.min(2 << 20));
            c.server(&[BAD_REQUEST, OK_5].concat()).close();
            let (rec, k) = run(&c.segs);
            let what = format!("{kib} KiB split {split}");
            assert_eq!(rec.sections(), ["/big", "/a"], "{what}");
            assert_eq!(
                rec.pairs(),
                [(400, Some("/big")), (200, Some("/a"))],
                "{what}"
            );
            // Over the cap only when it had to be buffered.
            let buffered = big.len() > split;
            assert_eq!(
                k.heads_too_large,
                u64::from(buffered && big.len() > 16 * 1024),
                "{what}"
            );
            assert_eq!(k.parse_errors, 0, "{what}");
        }
    }
}

/// A request line longer than the cap (a huge URL; nginx answers 414) still counts.
#[test]
fn request_line_longer_than_the_cap() {
    let config = FlowConfig {
        max_head_bytes: 64,
        ..FlowConfig::default()
    };
    let long = format!("GET /long{} HTTP/1.1\r\nHost: x\r\n\r\n", "u".repeat(300));
    let mut c = Conv::open(41300, 1, 1);
    c.client_split(&[long.as_bytes(), GET_A].concat(), 10);
    c.server(&[BAD_REQUEST, OK_5].concat()).close();
    let (rec, k, _) = run_with(&c.segs, config);
    // The target was cut by the cap inside its first segment: the section says it may be cut.
    assert_eq!(
        rec.sections(),
        [format!("/long{}…", "u".repeat(55)).as_str(), "/a"]
    );
    assert_eq!(k.heads_too_large, 1);
}

/// A cut first segment of the maximum section length keeps its mark within the cap.
#[test]
fn cut_section_mark_fits_the_cap() {
    let head = format!("GET /{} HTTP/1.1\r\n\r\n", "s".repeat(400));
    let mut c = Conv::open(41402, 1, 1);
    // `GET ` and a 255-byte target prefix: the section is all of it, marked as maybe cut.
    c.client(&head.as_bytes()[..259]);
    c.client(&head.as_bytes()[259..]);
    c.segs.pop();
    c.client(GET_B);
    c.server(OK_5).close();
    let (rec, _) = run(&c.segs);
    let cut = &rec.sections()[0];
    assert!(cut.ends_with('…'), "{cut}");
    assert_eq!(cut.len(), crate::decode::MAX_SECTION_LEN);
}

/// Segments lost inside a head: the request is counted from what arrived and the stream
/// resyncs at the next one.
#[test]
fn head_cut_by_a_gap_is_counted() {
    let mut c = Conv::open(41400, 1, 1);
    let head = b"GET /users/42 HTTP/1.1\r\nHost: x\r\nUser-Agent: curl\r\n\r\n";
    c.client(&head[..20]);
    c.client(&head[20..]);
    c.segs.pop(); // lost; the server's ACK of it says it will not come again
    c.client(GET_B);
    c.server(OK_5).server(OK_5).close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/users", "/b"]);
    assert_eq!(rec.pairs(), [(200, Some("/users")), (200, Some("/b"))]);
    assert_eq!(k.heads_cut, 1);

    // Cut inside the first path segment: the section is marked as possibly cut.
    let mut c = Conv::open(41401, 1, 1);
    c.client(&head[..7]);
    c.client(&head[7..]);
    c.segs.pop();
    c.client(GET_B);
    c.server(OK_5).close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/us…", "/b"]);
    assert_eq!(k.heads_cut, 1);
}

/// After a 101 the connection is WebSocket: frames holding request lines are not requests.
#[test]
fn websocket_frames_are_never_requests() {
    let mut c = Conv::open(41500, 1, 1);
    c.client(b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    c.server(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    // Unmasked for readability; a parser that looked would see request lines.
    c.client(b"\x81\x16GET /fake HTTP/1.1\r\n\r\n");
    c.client(b"\nGET /fake2 HTTP/1.1\r\nHost: x\r\n\r\n");
    c.server(b"\x81\x11HTTP/1.1 200 OK\r\n").close();
    let (rec, k) = run(&c.segs);
    assert_eq!(rec.sections(), ["/chat"]);
    assert_eq!(rec.pairs(), [(101, Some("/chat"))]);
    assert_eq!((k.parse_errors, k.unpaired_responses), (0, 0));
}

/// A fake request line inside a malformed request's body, framed by its Content-Length,
/// is not a request.
#[test]
fn body_of_a_malformed_request_is_skipped() {
    let body = b"GET /fake HTTP/1.1\r\n\r\n";
    let head = format!(
        "POST /m\x01 HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut c = Conv::open(41600, 1, 1);
    c.client_split(&[head.as_bytes(), body, GET_A].concat(), 9);
    c.server(&[BAD_REQUEST, OK_5].concat()).close();
    let (rec, _) = run(&c.segs);
    assert_eq!(rec.sections(), ["/m\x01", "/a"]);
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"GET /x\x1b HTTP/1.1\r\n".to_vec()),
        Just(b"GET /a b HTTP/1.1\r\n".to_vec()),
        Just(b"GET / HTTP/3.0\r\n".to_vec()),
        Just(b"no colon\r\n".to_vec()),
        Just(b"Host: x\r\n".to_vec()),
        Just(b"X-A: \x00\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"GET ".to_vec()),
        Just(b" HTTP/1.1".to_vec()),
        Just(b"POST /p HTTP/1.1\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(pieces, 0..8).prop_map(|v| v.concat())
}

/// Bytes that would hand the rest of the stream to another framing or protocol. A server
/// that receives these does not answer the requests after them as requests either.
fn changes_framing(g: &[u8]) -> bool {
    let lower = g.to_ascii_lowercase();
    let has = |w: &[u8]| lower.windows(w.len()).any(|x| x == w);
    has(b"content-length")
        || has(b"transfer-encoding")
        || has(b"connect")
        || has(b"upgrade")
        || g.starts_with(b"PRI")
        || g.first() == Some(&0x16)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x0dd_11e5),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever a client sends first, the well-formed requests after it (and after a blank
    /// line that ends whatever came before) are counted once the server has answered them.
    #[test]
    fn garbage_never_hides_the_requests_after_it(
        g in garbage().prop_filter("changes framing", |g| !changes_framing(g)),
        n in 1usize..4,
        split in 1usize..64,
    ) {
        let mut c = Conv::open(41700, 1, 1);
        let mut stream = g.clone();
        stream.extend_from_slice(b"\r\n\r\n");
        for _ in 0..n {
            stream.extend_from_slice(GET_C);
        }
        c.client_split(&stream, split);
        for _ in 0..n {
            c.server(OK_5);
        }
        c.close();
        let (rec, _) = run(&c.segs);
        let found = rec.sections().iter().filter(|s| **s == "/c").count();
        prop_assert!(found >= n, "{} of {} after {:?}", found, n, String::from_utf8_lossy(&g));
    }
}
