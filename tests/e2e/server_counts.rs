//! `-r` on generated captures of what a server reads as requests although the grammar says
//! otherwise: a flood of malformed requests (which must raise the alert and recover), every
//! malformed shape, and heads of 1 KiB to 1 MiB split at several segment sizes.

use std::net::SocketAddr;
use std::time::Duration;

use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, Frame, Side};

use crate::util::{bin, json_lines, summary, write_pcap};

const SERVER: &str = "10.0.0.2:80";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const BAD: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// One connection per malformed request, as a flood sends them: nginx answers each with 400
/// and closes.
fn malformed_connection(port: u16, at: traffic_watch::time::Timestamp, head: &[u8]) -> Vec<Frame> {
    let client: SocketAddr = SocketAddr::from(([10, 0, 1, 1], port));
    let mut c = Conversation::new(client, SERVER.parse().unwrap());
    c.ts = at;
    let mut frames = c.handshake();
    frames.push(c.send(Side::Client, head));
    frames.push(c.send(Side::Server, BAD));
    frames.extend(c.close());
    frames
}

#[test]
fn a_flood_of_malformed_requests_raises_the_alert_and_recovers() {
    // 2 good req/s for 30 s, 100 malformed req/s for 10 s, 2 good req/s for 60 s; window 20 s,
    // threshold 20 req/s.
    let shapes: [&[u8]; 4] = [
        b"GET /\x1b[31mflood HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n",
        b"\x07\x07 / HTTP/1.1\r\n\r\n",
    ];
    let mut good = Conversation::new("10.0.0.1:40000".parse().unwrap(), SERVER.parse().unwrap());
    let start = good.ts;
    let mut frames = good.handshake();
    let mut good_sent = 0u64;
    let mut flood_sent = 0u64;
    let mut flood_frames = Vec::new();
    let mut base = 0.0f64;
    for (rate, secs, flood) in [(2u32, 30u32, false), (100, 10, true), (2, 60, false)] {
        for k in 0..rate * secs {
            let t = start.plus(Duration::from_secs_f64(
                base + f64::from(k) / f64::from(rate) + 0.5,
            ));
            if flood {
                let shape = shapes[(k % 3) as usize];
                flood_frames.extend(malformed_connection(20_000 + k as u16, t, shape));
                flood_sent += 1;
            } else {
                good.ts = t;
                frames.push(good.send(Side::Client, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
                frames.push(good.send(Side::Server, OK));
                good_sent += 1;
            }
        }
        base += f64::from(secs);
    }
    // The fourth shape (no token method) cannot be a request: one connection of it.
    flood_frames.extend(malformed_connection(
        19_999,
        start.plus(Duration::from_secs(35)),
        shapes[3],
    ));
    frames.extend(flood_frames);
    frames.sort_by_key(|f| f.ts);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flood.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    let out = bin()
        .arg("-r")
        .arg(&p)
        .args([
            "--json",
            "--window",
            "20s",
            "--threshold",
            "20",
            "--interval",
            "10s",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let alerts: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "triggered");
    assert_eq!(alerts[1]["kind"], "recovered");
    let s = summary(&out);
    assert_eq!((good_sent, flood_sent), (180, 1000));
    assert_eq!(s["requests"], good_sent + flood_sent, "{s}");
    assert_eq!(s["status"]["4xx"], flood_sent + 1, "{s}");
    let m = &s["flow"]["malformed"];
    assert_eq!(m["total"], flood_sent, "{m}");
    assert_eq!(m["request_line"], 667, "{m}");
    assert_eq!(m["header_line"], 333, "{m}");
    // The line that is no request is not counted, its 400 has no request to pair with, and
    // its connection is still not hidden as "not HTTP".
    assert_eq!(s["flow"]["unpaired_responses"], 1, "{s}");
    assert_eq!(s["non_http"]["other"], 0, "{s}");
    // The plain summary says it on the requests line.
    let plain = bin().arg("-r").arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("requests    1180 (1000 malformed: request line 667, header line 333)"),
        "{text}"
    );
}

/// Heads from 1 KiB to 1 MiB, each split at several segment sizes, then a request on the same
/// connection: all counted, through the binary.
#[test]
fn heads_of_any_size_split_any_way_are_counted() {
    let mut frames = Vec::new();
    let mut port = 30_000;
    let mut sent = 0u64;
    for kib in [1usize, 16, 17, 64, 1024] {
        let head = format!(
            "GET /big HTTP/1.1\r\nHost: x\r\nCookie: c={}\r\n\r\n",
            "j".repeat(kib * 1024)
        );
        for mss in [536usize, 1448, 16_384, 65_483] {
            let mut c = Conversation::new(
                SocketAddr::from(([10, 0, 2, 1], port)),
                SERVER.parse().unwrap(),
            );
            port += 1;
            frames.extend(c.handshake());
            frames.extend(c.send_split(Side::Client, head.as_bytes(), mss));
            frames.push(c.send(Side::Server, OK));
            frames.push(c.send(Side::Client, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
            frames.push(c.send(Side::Server, OK));
            frames.extend(c.close());
            sent += 2;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("heads.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    let out = bin()
        .arg("-r")
        .arg(&p)
        .args(["--json", "--summary-only"])
        .output()
        .unwrap();
    let s = summary(&out);
    assert_eq!(s["requests"], sent, "{s}");
    assert_eq!(s["responses"], sent, "{s}");
    assert_eq!(s["flow"]["unpaired_responses"], 0, "{s}");
    // Past 16 KiB a head that spans segments cannot be kept: counted all the same, and said
    // so. (16 and 17 KiB in one 65,483-byte segment need no buffer.)
    assert_eq!(s["flow"]["heads_too_large"], 4 * 4 - 2, "{s}");
}
