//! `-r` on captures written with a snap length (as `tcpdump -s N`): the packets cut short are
//! decoded, not thrown away as malformed, and every output says the counts are lower bounds.

use std::path::Path;

use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, Frame, PcapWriter, Side};

use crate::util::{bin, summary};

/// What a browser might send: a head of 86 bytes, longer than the 42 that 96 bytes of frame
/// keep after the Ethernet, IP and TCP headers.
const LONG_HEAD: &str = "GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n";
/// A head that 200 bytes of frame keep whole.
const SHORT_HEAD: &str = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

/// A keep-alive conversation: `n` requests with `head`, each answered with a 300-byte body.
fn keep_alive(n: usize, head: &str) -> Vec<Frame> {
    let mut c = Conversation::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n{}",
        "b".repeat(300)
    );
    let mut frames = c.handshake();
    for _ in 0..n {
        frames.push(c.send(Side::Client, head.as_bytes()));
        frames.push(c.send(Side::Server, resp.as_bytes()));
    }
    frames.extend(c.close());
    frames
}

fn write_cut(path: &Path, frames: &[Frame], snaplen: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::with_snaplen(file, LinkType::Ethernet, snaplen).unwrap();
    w.write_all(frames).unwrap();
}

/// The plain output of `traffic-watch -r FILE` and the JSON summary of `--json`.
fn replay(path: &Path) -> (String, serde_json::Value) {
    let out = bin().arg("-r").arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = String::from_utf8_lossy(&out.stdout).into_owned();
    let out = bin().arg("-r").arg(path).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (plain, summary(&out))
}

const N: usize = 20;

#[test]
fn snaplen_96_capture_says_so_first_and_decodes_every_packet() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut96.pcap");
    let frames = keep_alive(N, LONG_HEAD);
    write_cut(&p, &frames, 96);
    let (plain, s) = replay(&p);
    // Every request and every response is longer than 96 bytes of frame.
    let cut = 2 * N;
    let first = plain.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!(
            "capture truncated to 96 bytes per packet ({cut} of {} packets cut): counts are \
             lower bounds (bodies and messages past the cut are not seen)",
            frames.len()
        ),
        "{plain}"
    );
    assert_eq!(
        s["truncated"],
        serde_json::json!({"snaplen": 96, "packets": cut})
    );
    assert_eq!(s["undecoded"]["bad_ip"].as_u64().unwrap_or(0), 0);
    assert_eq!(s["undecoded"].as_object().map(|m| m.len()), Some(0), "{s}");
    assert_eq!(s["packets"], frames.len());
    assert_eq!(s["flow"]["connections"], 1);
    assert_eq!(
        s["flow"]["ooo_overflows"], 0,
        "no stall behind the cut bytes"
    );
    // Each response head (41 bytes) fits in the 42 bytes of payload kept; the request heads
    // do not, but each starts in the bytes kept: counted from there, each paired.
    assert_eq!(s["responses"], N);
    assert_eq!(s["requests"], N, "{s}");
    assert_eq!(s["flow"]["unpaired_responses"], 0, "{s}");
    assert_eq!(s["flow"]["heads_cut"], N, "{s}");
}

#[test]
fn snaplen_200_capture_keeps_short_heads_and_counts_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut200.pcap");
    let frames = keep_alive(N, SHORT_HEAD);
    write_cut(&p, &frames, 200);
    let (plain, s) = replay(&p);
    // The requests fit whole; only the responses (341 bytes of payload) are cut.
    let first = plain.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "capture truncated to 200 bytes per packet ({N} of {} packets cut)",
            frames.len()
        )),
        "{plain}"
    );
    assert_eq!(
        s["truncated"],
        serde_json::json!({"snaplen": 200, "packets": N})
    );
    assert_eq!(s["undecoded"]["bad_ip"].as_u64().unwrap_or(0), 0);
    assert_eq!(
        (s["requests"].as_u64(), s["responses"].as_u64()),
        (Some(N as u64), Some(N as u64))
    );
    assert_eq!(
        s["sections"],
        serde_json::json!([{"section": "/a", "hits": N}])
    );
    assert_eq!(s["status"]["2xx"], N);
    assert_eq!(s["flow"]["requests_unanswered"], 0);
    assert_eq!(s["flow"]["unpaired_responses"], 0);
    assert_eq!(s["flow"]["ooo_overflows"], 0);
}

#[test]
fn a_whole_capture_says_nothing_about_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("whole.pcap");
    write_cut(&p, &keep_alive(3, LONG_HEAD), 65_535);
    let (plain, s) = replay(&p);
    assert!(plain.starts_with("traffic-watch summary: "), "{plain}");
    assert_eq!(s["truncated"], serde_json::Value::Null);
    assert_eq!(s["requests"], 3);
}
