//! `-r FILE --json` on real captures (../shared/data, with nginx's own counts) and on captures
//! the project generates itself, which cover the same ground without ../shared.

use std::net::SocketAddr;
use std::path::Path;

use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, Frame, Side, sample_traffic};

use crate::util::{bin, sections_string, shared_data, summary, write_pcap};

fn replay_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let out = bin()
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
    summary(&out)
}

#[test]
fn shared_captures_count_exactly_what_nginx_logged() {
    let Some(dir) = shared_data() else { return };
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let mut checked = 0;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, requests, sections) = (cols[0], cols[1], cols[2]);
        let s = replay_json(&dir.join(format!("{name}.pcap")), &[]);
        assert_eq!(
            s["requests"].as_u64().unwrap().to_string(),
            requests,
            "{name} requests"
        );
        assert_eq!(sections_string(&s), sections, "{name} sections");
        assert_eq!(
            s["responses"], s["requests"],
            "{name}: every request answered"
        );
        assert_eq!(
            s["undecoded"].as_object().map(|m| m.len()),
            Some(0),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn shared_capture_with_port_filter_and_expression() {
    let Some(dir) = shared_data() else { return };
    let f = dir.join("curl-mix.pcap");
    assert_eq!(replay_json(&f, &["--port", "8090"])["requests"], 18);
    assert_eq!(replay_json(&f, &["--port", "8091"])["requests"], 0);
    assert_eq!(replay_json(&f, &["--ip", "127.0.0.1"])["requests"], 18);
    assert_eq!(
        replay_json(&f, &["--port", "8090", "not", "host", "127.0.0.1"])["requests"],
        0
    );
}

#[test]
fn sample_capture_replays_to_its_known_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sample.pcap");
    bin()
        .args([
            "sample-capture",
            p.to_str().unwrap(),
            "--rate",
            "40",
            "--seconds",
            "10",
        ])
        .assert()
        .success();
    let s = replay_json(&p, &[]);
    assert_eq!(s["requests"], 400);
    assert_eq!(s["responses"], 400);
    // Paths cycle through 8: /pages x3, /api x2, /report, /, /static.
    assert_eq!(
        sections_string(&s),
        "/=50;/api=100;/pages=150;/report=50;/static=50"
    );
    assert_eq!(s["status"]["4xx"], 8);
    assert_eq!(s["flow"]["connections"], 41);
}

/// A keep-alive conversation: `n` requests with bodies and responses.
fn conversation(link: LinkType, client: &str, server: &str, n: usize) -> Vec<Frame> {
    let mut c = Conversation::new(
        client.parse::<SocketAddr>().unwrap(),
        server.parse().unwrap(),
    )
    .with_link(link);
    let mut frames = c.handshake();
    for i in 0..n {
        let body = "GET /fake HTTP/1.1\r\n\r\n";
        let req = format!(
            "POST /s{}/x HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{body}",
            i % 3,
            body.len()
        );
        frames.extend(c.send_split(Side::Client, req.as_bytes(), 7));
        frames.push(c.send(
            Side::Server,
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        ));
    }
    frames.extend(c.close());
    frames
}

#[test]
fn every_link_type_and_vlan_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    for link in [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::RawIp,
    ] {
        for (cl, sv) in [
            ("10.0.0.1:40000", "10.0.0.2:80"),
            ("[2001:db8::1]:40000", "[2001:db8::2]:80"),
        ] {
            let frames = conversation(link, cl, sv, 9);
            let p = dir.path().join("c.pcap");
            write_pcap(&p, link, &frames);
            let s = replay_json(&p, &[]);
            assert_eq!(s["requests"], 9, "{link:?} {cl}");
            assert_eq!(sections_string(&s), "/s0=3;/s1=3;/s2=3", "{link:?}");
            assert_eq!(s["status"]["2xx"], 9);
        }
    }
}

#[test]
fn qinq_tagged_ethernet_with_port_filter() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Conversation::new(
        "10.1.1.1:5555".parse().unwrap(),
        "10.1.1.2:8080".parse().unwrap(),
    );
    c.vlans = vec![100, 200];
    let mut frames = c.handshake();
    frames.push(c.send(Side::Client, b"GET /tagged/a HTTP/1.1\r\nHost: x\r\n\r\n"));
    frames.push(c.send(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    ));
    let p = dir.path().join("vlan.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    assert_eq!(replay_json(&p, &[])["requests"], 1);
    assert_eq!(
        replay_json(&p, &["--port", "8080"])["requests"],
        1,
        "the filter sees tagged frames"
    );
}

#[test]
fn any_interface_shows_every_loopback_packet_twice() {
    // On Linux `-i any`, loopback traffic is captured going out and coming in: each frame twice.
    let dir = tempfile::tempdir().unwrap();
    let frames = conversation(LinkType::LinuxSll2, "127.0.0.1:40001", "127.0.0.1:5000", 12);
    let doubled: Vec<Frame> = frames.iter().flat_map(|f| [f.clone(), f.clone()]).collect();
    let p = dir.path().join("any.pcap");
    write_pcap(&p, LinkType::LinuxSll2, &doubled);
    let s = replay_json(&p, &[]);
    assert_eq!(s["requests"], 12);
    assert_eq!(s["responses"], 12);
}

#[test]
fn reused_four_tuple_starts_new_connections() {
    // Short connections reuse the same client port soon after: each SYN is a new connection.
    let mut frames = Vec::new();
    let mut ts = traffic_watch::time::Timestamp::from_secs(1_700_000_000);
    for i in 0..50u32 {
        let mut c = Conversation::new(
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
        )
        .with_isn(i.wrapping_mul(2_654_435_761), i.wrapping_mul(40_503));
        c.ts = ts;
        frames.extend(c.handshake());
        frames.push(c.send(
            Side::Client,
            format!("GET /r{}/ HTTP/1.1\r\nHost: x\r\n\r\n", i % 2).as_bytes(),
        ));
        frames.push(c.send(Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n"));
        frames.extend(c.close());
        ts = c.ts;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("reuse.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    let s = replay_json(&p, &[]);
    assert_eq!(s["requests"], 50);
    assert_eq!(s["responses"], 50);
    assert_eq!(sections_string(&s), "/r0=25;/r1=25");
}

#[test]
fn replay_is_exactly_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.pcap");
    write_pcap(&p, LinkType::Ethernet, &sample_traffic(30, 20));
    let a = bin().arg("-r").arg(&p).arg("--json").output().unwrap();
    let b = bin().arg("-r").arg(&p).arg("--json").output().unwrap();
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn spike_in_a_capture_shows_alert_and_recovery_in_packet_time() {
    // 2 req/s for 30 s, 30 req/s for 10 s, 2 req/s for 60 s; window 20 s, threshold 5 req/s.
    let mut c = Conversation::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    let start = c.ts;
    let mut frames = c.handshake();
    let mut sent = 0u64;
    let mut base = 0.0f64;
    for (rate, secs) in [(2u32, 30u32), (30, 10), (2, 60)] {
        for k in 0..rate * secs {
            let t = base + f64::from(k) / f64::from(rate);
            sent += 1;
            c.ts = start.plus(std::time::Duration::from_secs_f64(t + 0.5));
            frames.push(c.send(Side::Client, b"GET /spike HTTP/1.1\r\nHost: x\r\n\r\n"));
            frames.push(c.send(
                Side::Server,
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ));
        }
        base += f64::from(secs);
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("spike.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    let out = bin()
        .arg("-r")
        .arg(&p)
        .args([
            "--json",
            "--window",
            "20s",
            "--threshold",
            "5",
            "--interval",
            "10s",
        ])
        .output()
        .unwrap();
    let lines = crate::util::json_lines(&out);
    let alerts: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert_eq!(alerts.len(), 2, "{lines:?}");
    assert_eq!(alerts[0]["kind"], "triggered");
    assert!(
        alerts[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("High traffic generated an alert - hits = ")
    );
    assert_eq!(alerts[1]["kind"], "recovered");
    assert!(
        alerts[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("High traffic alert recovered at ")
    );
    let reports = lines.iter().filter(|l| l["type"] == "report").count();
    assert!(
        (9..=10).contains(&reports),
        "a report every 10 s of packet time: {reports}"
    );
    assert_eq!(sent, 60 + 300 + 120);
    assert_eq!(lines.last().unwrap()["requests"], sent);
    // Plain mode prints the same alert lines.
    let plain = bin()
        .arg("-r")
        .arg(&p)
        .args(["--plain", "--window", "20s", "--threshold", "5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("High traffic generated an alert - hits = "));
    assert!(text.contains("High traffic alert recovered at "));
}

/// A TLS 1.2 ClientHello record carrying the SNI `name`.
fn client_hello(name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut sni = vec![0u8]; // host_name
    sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
    sni.extend_from_slice(n);
    let mut ext = vec![0, 0]; // server_name extension
    ext.extend_from_slice(&((sni.len() + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sni);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[test]
fn tls_is_recognised_and_http2_is_parsed() {
    let mut frames = Vec::new();
    let mut tls = Conversation::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:443".parse().unwrap(),
    );
    frames.extend(tls.handshake());
    frames.push(tls.send(Side::Client, &client_hello("shop.example")));
    frames.push(tls.send(Side::Server, &[0x16, 3, 3, 0, 2, 2, 0]));
    let mut h2 = Conversation::new(
        "10.0.0.1:40001".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    frames.extend(h2.handshake());
    frames.push(h2.send(
        Side::Client,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    ));
    let mut ok = Conversation::new(
        "10.0.0.1:40002".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    frames.extend(ok.handshake());
    frames.push(ok.send(Side::Client, b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mixed.pcap");
    write_pcap(&p, LinkType::Ethernet, &frames);
    let s = replay_json(&p, &[]);
    // After the preface, `GET / HTTP/1.1` is the header of a frame, not a request.
    assert_eq!(s["requests"], 1, "only the HTTP/1 request counts");
    assert_eq!(s["non_http"]["tls"], 1);
    assert_eq!(s["non_http"]["http2"], 0, "HTTP/2 is parsed, not set aside");
    assert_eq!(s["flow"]["h2"]["connections"], 1, "{s}");
    assert_eq!(s["flow"]["h2"]["frames_too_large"], 1, "{s}");
    assert_eq!(s["tls_server_names"][0], "shop.example");
}
