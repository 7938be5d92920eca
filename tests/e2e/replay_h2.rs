//! `-r` on generated HTTP/2 captures: a capture that starts inside a connection, with
//! references to HPACK table entries inserted before it, and a rapid-reset burst that must
//! raise the alert and recover.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use traffic_watch::decode::LinkType;
use traffic_watch::synth::h2::{self, Block};
use traffic_watch::synth::{Conversation, Frame, Side};

use crate::util::{json_lines, summary, write_pcap};

fn replay(path: &Path, extra: &[&str]) -> std::process::Output {
    let out = crate::util::bin()
        .arg("-r")
        .arg(path)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A prior-knowledge connection: handshake, prefaces, SETTINGS both ways.
fn open(client_port: u16) -> (Conversation, Vec<Frame>) {
    let mut c = Conversation::new(
        SocketAddr::from(([10, 0, 0, 1], client_port)),
        "10.0.0.2:8080".parse().unwrap(),
    );
    let mut frames = c.handshake();
    frames.push(c.send(Side::Client, &[h2::PREFACE, &h2::settings(false)].concat()));
    frames.push(c.send(
        Side::Server,
        &[h2::settings(false), h2::settings(true)].concat(),
    ));
    frames.push(c.send(Side::Client, &h2::settings(true)));
    (c, frames)
}

#[test]
fn capture_started_mid_connection_decodes_what_it_can_and_says_unknown_for_the_rest() {
    let (mut c, mut frames) = open(41000);
    // Before the capture: the client puts `:path /api/items` and `:authority shop` in its
    // table (entries 63 and 62 after both are in).
    let req = Block::new()
        .indexed(2)
        .indexed(6)
        .literal(4, "/api/items", true)
        .literal(1, "shop", true);
    frames.push(c.send(Side::Client, &req.headers(1, true)));
    frames.push(c.send(Side::Server, &Block::new().indexed(8).headers(1, true)));
    let cut = frames.len();
    // In the capture: a request that only references those entries...
    let again = Block::new().indexed(2).indexed(6).indexed(63).indexed(62);
    frames.push(c.send(Side::Client, &again.headers(3, true)));
    frames.push(c.send(Side::Server, &Block::new().indexed(8).headers(3, true)));
    // ...one that inserts a new path (now 62; the old ones 63 and 64)...
    let fresh = Block::new()
        .indexed(2)
        .indexed(6)
        .literal(4, "/cart/1", true);
    frames.push(c.send(Side::Client, &fresh.headers(5, true)));
    frames.push(c.send(Side::Server, &Block::status(404).headers(5, true)));
    // ...and one that references it.
    let known = Block::new().indexed(2).indexed(6).indexed(62);
    frames.push(c.send(Side::Client, &known.headers(7, true)));
    frames.push(c.send(Side::Server, &Block::new().indexed(8).headers(7, true)));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mid.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames[cut..]);
    let s = summary(&replay(&p, &["--summary-only"]));
    assert_eq!(s["requests"], 3, "{s}");
    assert_eq!(s["responses"], 3, "{s}");
    assert_eq!(s["protocols"]["h2c"], 3);
    assert_eq!(
        s["methods"]["GET"], 3,
        "the static table still gives :method"
    );
    let sections = crate::util::sections_string(&s);
    assert_eq!(sections, "(unknown)=1;/cart=2", "{s}");
    assert_eq!(s["flow"]["h2"]["unknown_headers"], 1, "{s}");
    assert_eq!(s["status"]["4xx"], 1);
}

#[test]
fn rapid_reset_raises_the_alert_and_recovers() {
    // 2 streams/s for 30 s, then 200 HEADERS+RST_STREAM pairs a second for 10 s, then 2/s for
    // 60 s; window 20 s, threshold 20 req/s. Every reset stream is a request the server had
    // to handle.
    let (mut c, mut frames) = open(41001);
    let start = frames.last().map(|f| f.ts).unwrap();
    let mut id = 1u32;
    let mut base = 0.0f64;
    let mut sent = 0u64;
    for (rate, secs, reset) in [(2u32, 30u32, false), (200, 10, true), (2, 60, false)] {
        for k in 0..rate * secs {
            c.ts = start.plus(Duration::from_secs_f64(
                base + f64::from(k) / f64::from(rate) + 0.5,
            ));
            let block = Block::get(if reset { "/reset" } else { "/ok" });
            if reset {
                frames.push(c.send(
                    Side::Client,
                    &[block.headers(id, true), h2::rst_stream(id)].concat(),
                ));
            } else {
                frames.push(c.send(Side::Client, &block.headers(id, true)));
                frames.push(c.send(Side::Server, &Block::new().indexed(8).headers(id, true)));
            }
            id += 2;
            sent += 1;
        }
        base += f64::from(secs);
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("reset.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    let out = replay(
        &p,
        &["--window", "20s", "--threshold", "20", "--interval", "10s"],
    );
    let lines = json_lines(&out);
    let alerts: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "triggered");
    assert_eq!(alerts[1]["kind"], "recovered");
    let s = summary(&out);
    assert_eq!(sent, 60 + 2000 + 120);
    assert_eq!(s["requests"], sent);
    assert_eq!(s["flow"]["h2"]["streams_reset"], 2000, "{s}");
    assert_eq!(s["responses"], 180);
}
