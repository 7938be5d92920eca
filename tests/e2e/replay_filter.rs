//! Issue 6: `-r FILE --port P [--ip A]` tests the port and address in process instead of
//! having libpcap interpret BPF on every packet. Every count must stay what the BPF filter
//! gave. Adding an expression that changes nothing (`tcp`: the filter already keeps only TCP)
//! sends the same replay through libpcap's BPF, so each capture here is replayed both ways and
//! the summaries must be identical, field for field.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;
use traffic_watch::decode::LinkType;
use traffic_watch::synth::{Conversation, Frame, PcapWriter, Side};

use crate::util::{bin, shared_data, summary};

fn replay(path: &Path, args: &[&str]) -> Value {
    let out = bin()
        .arg("-r")
        .arg(path)
        .args(["--json", "--summary-only"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    summary(&out)
}

/// The summary in process and through libpcap's BPF; they must be equal. Returns it.
fn same_both_ways(path: &Path, args: &[&str]) -> Value {
    let in_process = replay(path, args);
    let mut with_bpf = args.to_vec();
    with_bpf.push("tcp");
    let bpf = replay(path, &with_bpf);
    assert_eq!(in_process, bpf, "{} {args:?}", path.display());
    in_process
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Where the IP header starts in a frame of `link` with `tags` VLAN tags.
fn ip_offset(link: LinkType, tags: usize) -> usize {
    match link {
        LinkType::Ethernet => 14 + 4 * tags,
        LinkType::LinuxSll => 16,
        LinkType::LinuxSll2 => 20,
        LinkType::Null | LinkType::Loop => 4,
        _ => 0,
    }
}

/// One request and its response.
fn exchange(c: &mut Conversation, path: &str) -> Vec<Frame> {
    let mut frames = vec![c.send(
        Side::Client,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )];
    frames.push(c.send(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ));
    frames
}

/// Everything a `tcp port P` BPF filter treats differently from our decoder: HTTP on the port
/// and off it, over IPv4 and IPv6, with VLAN tags (0 to 3) on Ethernet, and frames carrying
/// the port that are UDP, IPv4 fragments (first and later), IPv6 with an extension header or
/// a fragment header, cut short, with a nonsense IHL, or (BSD NULL) with the family in the
/// other byte order.
fn mixed_capture(link: LinkType) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut ts = traffic_watch::time::Timestamp::from_secs(1_700_000_000);
    let tag_sets: &[&[u16]] = if link == LinkType::Ethernet {
        &[&[], &[100], &[100, 200], &[1, 2, 3]]
    } else {
        &[&[]]
    };
    let pairs = [
        ("10.0.0.1:40000", "10.0.0.2:8090"),
        ("10.0.0.1:40001", "10.0.0.3:80"),
        ("10.0.0.2:40002", "10.0.0.4:8090"),
        ("[2001:db8::1]:40000", "[2001:db8::2]:8090"),
        ("[2001:db8::1]:40001", "[2001:db8::3]:80"),
    ];
    for (i, tags) in tag_sets.iter().enumerate() {
        for (j, (client, server)) in pairs.iter().enumerate() {
            let mut c = Conversation::new(addr(client), addr(server)).with_link(link);
            c.vlans = tags.to_vec();
            c.ts = ts;
            let mut conv = c.handshake();
            for k in 0..3 {
                conv.extend(exchange(&mut c, &format!("/t{i}/c{j}/{k}")));
            }
            // A segment carrying the port, to mangle into each odd case.
            let template = conv[3].data.clone();
            let ip = ip_offset(link, tags.len());
            let v6 = template[ip] >> 4 == 6;
            let mut odd = Vec::new();
            let mut edit = |f: &dyn Fn(&mut Vec<u8>)| {
                let mut d = template.clone();
                f(&mut d);
                odd.push(d);
            };
            if v6 {
                edit(&|d| d[ip + 6] = 17); // UDP
                // Hop-by-hop options, then TCP: BPF's `tcp port` does not look past it.
                for next in [0u8, 44] {
                    edit(&|d| {
                        let ext: [u8; 8] = if next == 0 {
                            [6, 0, 1, 4, 0, 0, 0, 0]
                        } else {
                            [6, 0, 0, 1, 0, 0, 0, 7] // fragment header, offset 0, MF
                        };
                        d[ip + 6] = next;
                        d.splice(ip + 40..ip + 40, ext);
                        let plen = u16::from_be_bytes([d[ip + 4], d[ip + 5]]) + 8;
                        d[ip + 4..ip + 6].copy_from_slice(&plen.to_be_bytes());
                    });
                }
                edit(&|d| d.truncate(ip + 44)); // ports, then cut
            } else {
                edit(&|d| d[ip + 9] = 17); // UDP
                edit(&|d| d[ip + 6] = 0x20); // first fragment (MF)
                edit(&|d| d[ip + 7] = 0x10); // a later fragment: no ports to match
                edit(&|d| d[ip] = 0x40); // IHL 0
                edit(&|d| d.truncate(ip + 24)); // ports, then cut
                edit(&|d| d.truncate(ip + 22)); // source port only
            }
            if link == LinkType::Null {
                // The family in the other byte order: our decoder takes it, BPF does not.
                edit(&|d| d[..4].copy_from_slice(&2u32.to_be_bytes()));
            }
            for (n, data) in odd.into_iter().enumerate() {
                conv.insert(
                    4 + n,
                    Frame {
                        ts: conv[3].ts,
                        data,
                    },
                );
            }
            conv.extend(c.close());
            ts = c.ts;
            frames.extend(conv);
        }
    }
    if link == LinkType::Ethernet {
        // ARP, and a frame too short for an EtherType.
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[8, 6]);
        arp.extend_from_slice(&[0; 28]);
        frames.push(Frame { ts, data: arp });
        frames.push(Frame {
            ts,
            data: vec![0; 13],
        });
    }
    frames
}

const FILTERS: [&[&str]; 9] = [
    &["--port", "8090"],
    &["--port", "80"],
    &["--port", "9"],
    &["--ip", "10.0.0.2"],
    &["--ip", "2001:db8::2"],
    &["--port", "8090", "--ip", "10.0.0.2"],
    &["--port", "8090", "--ip", "2001:db8::2"],
    &["--port", "80", "--ip", "10.0.0.4"],
    &["--port", "8090", "--ip", "::ffff:10.0.0.2"],
];

#[test]
fn r6_in_process_port_filter_counts_what_bpf_counted_on_every_link_type() {
    let dir = tempfile::tempdir().unwrap();
    for link in [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::RawIp,
    ] {
        let p = dir.path().join(format!("{link:?}.pcap"));
        let file = std::fs::File::create(&p).unwrap();
        let mut w = PcapWriter::new(std::io::BufWriter::new(file), link).unwrap();
        w.write_all(&mixed_capture(link)).unwrap();
        drop(w);
        let mut undecoded_seen = 0;
        for args in FILTERS {
            let s = same_both_ways(&p, args);
            undecoded_seen += s["undecoded"].as_object().map_or(0, |m| m.len());
            if args == ["--port", "8090"] {
                // Untagged, one and two tags; three tags are beyond the BPF expression.
                let convs = if link == LinkType::Ethernet { 9 } else { 3 };
                assert_eq!(s["requests"], 3 * convs, "{link:?}");
            }
        }
        assert!(
            undecoded_seen > 0,
            "{link:?}: some kept frames are undecodable"
        );
    }
}

#[test]
fn r6_in_process_port_filter_on_the_shared_captures() {
    let Some(dir) = shared_data() else { return };
    for name in ["curl-mix", "curl-keepalive", "ab-keepalive", "wrk-paths"] {
        let p = dir.join(format!("{name}.pcap"));
        for args in [
            &["--port", "8090"][..],
            &["--port", "8091"],
            &["--ip", "127.0.0.1"],
            &["--port", "8090", "--ip", "127.0.0.1"],
            &["--port", "8090", "--ip", "::1"],
        ] {
            same_both_ways(&p, args);
        }
    }
}
