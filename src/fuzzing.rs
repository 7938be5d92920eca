//! The bodies of the fuzz targets, in the library so that `fuzz/` (cargo-fuzz, libFuzzer) and
//! `tests/e2e/fuzz_corpus.rs` (`cargo test --features fuzzing`, replaying every committed
//! corpus and crash input) run exactly the same code. Not a public API: built only with the
//! `fuzzing` feature (and for unit tests), never into the release library.
//!
//! Each function takes arbitrary bytes and must return normally for every input: a panic is
//! a bug, either in the code under test or an invariant these harnesses check with `assert!`
//! (the caps hold, output carries no terminal control bytes). They never read the clock or
//! the network; `capture_file` writes one temporary file.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::decode::http2::hpack;
use crate::decode::{
    self, Endpoint, LinkType, MAX_SECTION_LEN, TcpFlags, TcpSegment, parse_request_head,
    parse_response_head, section_of,
};
use crate::flow::{FlowConfig, FlowTable, HttpSink, NonHttpKind, RequestEvent, ResponseEvent};
use crate::output::{escape, escape_bytes, json, plain};
use crate::pipeline::Pipeline;
use crate::stats::StatsConfig;
use crate::time::Timestamp;

/// The link types a frame can be decoded as; the fuzz input's first byte picks one.
const LINKS: [LinkType; 7] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::RawIp,
    LinkType::Other(147),
];

/// Small caps, so that a short input can reach every one of them.
pub fn small_flow_config() -> FlowConfig {
    FlowConfig {
        max_flows: 4,
        max_head_bytes: 256,
        max_ooo_bytes: 512,
        max_pending: 4,
        idle_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(1),
    }
}

/// Text that would act on a terminal if printed raw.
fn assert_printable(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n'
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "{what} not escaped: {s:?}"
    );
}

/// Checks what the flow layer reports.
struct CheckingSink {
    requests: u64,
}

impl HttpSink for CheckingSink {
    fn request(&mut self, req: &RequestEvent<'_>) {
        self.requests += 1;
        assert!(req.section.len() <= MAX_SECTION_LEN, "section over its cap");
        assert_printable("section", &escape(req.section));
        assert_printable("target", &escape(req.target));
        assert!(
            req.path.len() <= crate::decode::MAX_PATH_LEN,
            "path over its cap"
        );
        assert_printable("path", &escape(req.path));
        if let Some(h) = req.host {
            assert_printable("host", &escape_bytes(h));
        }
    }
    fn response(&mut self, resp: &ResponseEvent<'_>) {
        if let Some(s) = resp.section {
            assert!(s.len() <= MAX_SECTION_LEN);
        }
        if let Some(p) = resp.path {
            assert!(p.len() <= crate::decode::MAX_PATH_LEN);
        }
    }
    fn non_http(&mut self, _: NonHttpKind, _: Endpoint, server_name: Option<&[u8]>) {
        if let Some(n) = server_name {
            assert_printable("server name", &escape_bytes(n));
        }
    }
}

/// Target `decode_frame`: one link-layer frame; the first byte picks the link type.
pub fn decode_frame(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    if let Ok(seg) = decode::decode_frame(link, frame) {
        // Zero-copy: the payload is part of the frame.
        assert!(seg.payload.len() <= frame.len());
        let inside = frame.as_ptr_range();
        assert!(seg.payload.is_empty() || inside.contains(&seg.payload.as_ptr()));
    }
    let _ = decode::decode_ip(frame);
}

/// Reads the input as a list of segments on a handful of connections.
struct SegmentReader<'a> {
    data: &'a [u8],
}

impl<'a> SegmentReader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.data.split_at_checked(n)?;
        self.data = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }

    /// `[flags][who][seq u32][ack u32][time step][len]` then `len` payload bytes (fewer at the
    /// end of the input). Flags: 1 SYN, 2 ACK, 4 FIN, 8 RST; the high four bits times 16 are
    /// payload bytes the capture did not keep after those (`TcpSegment::missing`). `who`:
    /// bits 0-2 pick the client address, bit 3 its port, bit 7 set means server to client.
    fn next(&mut self) -> Option<(TcpSegment<'a>, u8)> {
        let flags = self.u8()?;
        let who = self.u8()?;
        let seq = self.u32()?;
        let ack = self.u32()?;
        let step = self.u8()?;
        let len = usize::from(self.u8()?);
        let payload = self.take(len.min(self.data.len()))?;
        // Eight client addresses against one server, either way.
        let client = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, who & 7)),
            port: 40_000 + u16::from((who >> 3) & 1),
        };
        let server = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            port: 80,
        };
        let (src, dst) = if who & 0x80 == 0 {
            (client, server)
        } else {
            (server, client)
        };
        let seg = TcpSegment {
            src,
            dst,
            seq,
            ack,
            flags: TcpFlags {
                syn: flags & 1 != 0,
                ack: flags & 2 != 0,
                fin: flags & 4 != 0,
                rst: flags & 8 != 0,
            },
            payload,
            missing: u32::from(flags >> 4) * 16,
        };
        Some((seg, step))
    }
}

/// Target `reassembly`: a sequence of TCP segments into a [`FlowTable`] with small caps.
pub fn reassembly(data: &[u8]) {
    let config = small_flow_config();
    let max_flows = config.max_flows;
    let mut table = FlowTable::new(config);
    let mut sink = CheckingSink { requests: 0 };
    let mut now = Timestamp::from_secs(1_700_000_000);
    let mut reader = SegmentReader { data };
    let mut segments = 0u64;
    while let Some((seg, step)) = reader.next() {
        // Steps of up to ~2.5 s, so idle and handshake timeouts are reached.
        now = Timestamp(now.0 + u64::from(step) * 10_000);
        table.ingest(&seg, now, &mut sink);
        segments += 1;
        assert!(table.len() <= max_flows, "{} flows tracked", table.len());
        if step == 255 {
            table.expire(now, &mut sink);
        }
    }
    table.finish(&mut sink);
    assert_eq!(table.len(), 0);
    let c = table.counters();
    // Each segment can start at most one connection.
    assert!(c.connections <= segments);
    assert!(c.evicted_flows + c.expired_flows <= c.connections);
}

/// Target `http_parse`: bytes into the head parsers (held to the httparse reference), then as
/// the two sides of a connection.
/// The first byte picks the segment size; a `\0\0` splits client bytes from server bytes.
pub fn http_parse(data: &[u8]) {
    // The one-pass parsers accept, reject and wait exactly where httparse does.
    assert_eq!(
        parse_request_head(data),
        crate::decode::http_reference::parse_request_head(data)
    );
    assert_eq!(
        parse_response_head(data),
        crate::decode::http_reference::parse_response_head(data)
    );
    let lenient = crate::decode::read_request_lenient(data);
    if let Some(r) = &lenient {
        assert!(r.head_len <= data.len());
        assert_printable("lenient section", &escape(section_of(r.method, &r.target)));
    }
    if let Ok(Some(head)) = parse_request_head(data) {
        assert!(head.head_len <= data.len());
        let section = section_of(head.method, head.target);
        assert!(section.len() <= MAX_SECTION_LEN);
        assert_printable("section", &escape(section));
        assert_printable("target", &escape(head.target));
        // What the strict grammar reads, the counting rule reads the same, and finds nothing
        // wrong with.
        let r = lenient.as_ref().map(|r| {
            (
                r.method,
                &*r.target,
                r.host,
                r.body,
                r.head_len,
                r.malformed,
            )
        });
        assert_eq!(
            r,
            Some((
                head.method,
                head.target,
                head.host,
                Some(head.body),
                head.head_len,
                None
            ))
        );
    }
    let lenient = crate::decode::read_response_lenient(data);
    if let Ok(Some(head)) = parse_response_head(data) {
        assert!(head.head_len <= data.len());
        let r = lenient.map(|r| (r.status, r.version, r.body, r.head_len));
        assert_eq!(
            r,
            Some((head.status, head.version, Some(head.body), head.head_len))
        );
    }
    let Some((&mss, rest)) = data.split_first() else {
        return;
    };
    let mss = usize::from(mss % 64) * 23 + 1;
    let (client, server) = match rest.windows(2).position(|w| w == [0, 0]) {
        Some(i) => (&rest[..i], rest.get(i + 2..).unwrap_or(&[])),
        None => (rest, &[][..]),
    };
    converse(client, server, mss, true);
}

/// A client and a server stream sent as one TCP connection in segments of `mss` bytes, turn
/// about, through a flow table (with its handshake when `handshake`), checking every event.
fn converse(client: &[u8], server: &[u8], mss: usize, handshake: bool) -> FlowTable {
    let c = Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        port: 40_000,
    };
    let s = Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        port: 80,
    };
    let mut table = FlowTable::new(small_flow_config());
    let mut sink = CheckingSink { requests: 0 };
    let mut now = Timestamp::from_secs(1_700_000_000);
    let (mut cseq, mut sseq) = (1_000u32, 9_000u32);
    let flags = |syn, ack| TcpFlags {
        syn,
        ack,
        fin: false,
        rst: false,
    };
    let seg = |src, dst, seq, ack, flags, payload| TcpSegment {
        src,
        dst,
        seq,
        ack,
        flags,
        payload,
        missing: 0,
    };
    if handshake {
        table.ingest(&seg(c, s, cseq, 0, flags(true, false), &[]), now, &mut sink);
        table.ingest(
            &seg(s, c, sseq, cseq + 1, flags(true, true), &[]),
            now,
            &mut sink,
        );
        cseq += 1;
        sseq += 1;
    }
    let mut cs = client.chunks(mss);
    let mut ss = server.chunks(mss);
    loop {
        let (a, b) = (cs.next(), ss.next());
        if a.is_none() && b.is_none() {
            break;
        }
        now = Timestamp(now.0 + 1_000);
        if let Some(p) = a {
            table.ingest(
                &seg(c, s, cseq, sseq, flags(false, true), p),
                now,
                &mut sink,
            );
            cseq = cseq.wrapping_add(p.len() as u32);
        }
        if let Some(p) = b {
            table.ingest(
                &seg(s, c, sseq, cseq, flags(false, true), p),
                now,
                &mut sink,
            );
            sseq = sseq.wrapping_add(p.len() as u32);
        }
    }
    table.finish(&mut sink);
    table
}

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// A temporary file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Target `capture_file`: the input as a capture file, read by our classic-pcap or pcapng reader
/// and by libpcap (they must agree, see [`same_records_as_libpcap`]), then replayed through
/// [`FileSource`](crate::capture::FileSource) (which reads both formats with those readers) and
/// [`Pipeline`], then every rendering of the result checked for raw control bytes.
pub fn capture_file(data: &[u8]) {
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tw-fuzz-{}-{n}.pcap", std::process::id()));
    let file = TempFile(path);
    let written = std::fs::File::create(&file.0).and_then(|mut f| f.write_all(data));
    if written.is_err() {
        return;
    }
    same_records_as_libpcap(&file.0);
    let Ok(mut source) = crate::capture::FileSource::open(&file.0, "", None) else {
        return;
    };
    let stats = StatsConfig {
        max_sections: 8,
        max_routes: 8,
        ..StatsConfig::default()
    };
    let mut pipeline = Pipeline::new(source.link_type(), small_flow_config(), stats);
    let mut frames = 0u64;
    // A damaged file ends with an error after the frames before the damage: that is fine.
    let _ = source.for_each(|ts, frame| {
        pipeline.ingest(ts, frame);
        frames += 1;
    });
    pipeline.finish();
    assert_eq!(pipeline.packets(), frames);
    let snap = pipeline.snapshot();
    assert!(snap.sections_tracked <= 8);
    assert!(snap.routes_tracked <= 8);
    // Routes, like sections, account for every request: tracked ones plus (other).
    let routed: u64 = snap.routes.iter().map(|r| r.hits).sum();
    assert_eq!(routed, snap.requests);
    assert!(snap.health.flows_tracked <= small_flow_config().max_flows);
    for alert in pipeline.take_alerts() {
        assert_printable("alert", &json::alert(&alert, None));
    }
    assert_printable("json report", &json::report(&snap));
    assert_printable("json summary", &json::summary(&snap));
    assert_printable("plain report", &plain::report(&snap));
    assert_printable("plain summary", &plain::summary(&snap));
}

/// Link types whose frames libpcap edits when the file is byte-swapped (a pseudo-header's
/// fields, in `swap_pseudo_headers`): PFLOG, Linux cooked v1 and v2 (CAN frames), USB, USB
/// memory-mapped, NFLOG. Our reader hands out the bytes as stored.
const LIBPCAP_SWAPS_PSEUDO_HEADERS: [u32; 6] = [117, 113, 276, 189, 220, 239];

/// Reads the file at `path` with [`PcapReader`](crate::capture::pcap_reader::PcapReader) and with
/// libpcap, and asserts they give the same frames with the same timestamps, then end the same
/// way: at the end of the file, or with the same message. Does nothing for a file the reader
/// leaves to libpcap (not classic pcap 2.4, a header cut short); a pcapng file goes to
/// [`same_pcapng_records_as_libpcap`].
pub fn same_records_as_libpcap(path: &Path) {
    use crate::capture::pcap_reader::PcapReader;
    let Ok(Some(mut ours)) = std::fs::File::open(path).and_then(PcapReader::new) else {
        same_pcapng_records_as_libpcap(path);
        return;
    };
    let theirs = pcap::Capture::from_file(path);
    let Ok(mut theirs) = theirs else {
        panic!(
            "libpcap refuses a header our reader takes: {:?}",
            theirs.err()
        );
    };
    let h = ours.header();
    let swapped = h.big_endian != cfg!(target_endian = "big");
    let bytes_as_stored = !(swapped && LIBPCAP_SWAPS_PSEUDO_HEADERS.contains(&h.linktype));
    let mut n = 0u64;
    loop {
        match (ours.next_packet(), theirs.next_packet()) {
            (Ok(Some((ts, frame))), Ok(p)) => {
                let want = Timestamp::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec);
                assert_eq!(ts, want, "record {n}: timestamp");
                assert_eq!(frame.len(), p.data.len(), "record {n}: length");
                if bytes_as_stored {
                    assert!(frame == p.data, "record {n}: bytes differ");
                }
            }
            (Ok(None), Err(pcap::Error::NoMorePackets)) => return,
            (Err(e), Err(pcap::Error::PcapError(msg))) => {
                assert_eq!(e.to_string(), msg, "record {n}: how it ends");
                return;
            }
            (ours, theirs) => panic!(
                "record {n}: our reader gives {:?}, libpcap {:?}",
                ours.map(|o| o.map(|(ts, f)| (ts, f.len()))),
                theirs.map(|p| p.header.caplen)
            ),
        }
        n += 1;
    }
}

/// [`same_records_as_libpcap`] for
/// [`PcapngReader`](crate::capture::pcapng_reader::PcapngReader): the same frames, timestamps
/// and end as libpcap, up to the end of the file or to a block the reader hands to libpcap;
/// then [`FileSource`](crate::capture::FileSource) (which reopens libpcap there) must give
/// exactly what libpcap gives for the whole file. Does nothing for a file libpcap refuses or
/// the reader leaves to it, except that the reader may not take a file libpcap refuses.
pub fn same_pcapng_records_as_libpcap(path: &Path) {
    use crate::capture::pcapng_reader::{Next, PcapngReader};
    let Ok(mut theirs) = pcap::Capture::from_file(path) else {
        let ours = std::fs::File::open(path).and_then(|f| PcapngReader::new(f, 1));
        assert!(
            !matches!(ours, Ok(Some(_))),
            "our pcapng reader takes a file libpcap refuses"
        );
        return;
    };
    let dlt = theirs.get_datalink().0 as u32;
    let Ok(Some(mut ours)) = std::fs::File::open(path).and_then(|f| PcapngReader::new(f, dlt))
    else {
        return;
    };
    let swapped = ours.opening().big_endian != cfg!(target_endian = "big");
    let bytes_as_stored = !(swapped && LIBPCAP_SWAPS_PSEUDO_HEADERS.contains(&dlt));
    let mut n = 0u64;
    let mut handed_off = false;
    loop {
        match (ours.next_packet(), theirs.next_packet()) {
            (Ok(Next::Packet(ts, frame)), Ok(p)) => {
                let want = Timestamp::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec);
                assert_eq!(ts, want, "block {n}: timestamp");
                assert_eq!(frame.len(), p.data.len(), "block {n}: length");
                if bytes_as_stored {
                    assert!(frame == p.data, "block {n}: bytes differ");
                }
            }
            (Ok(Next::End), Err(pcap::Error::NoMorePackets)) => break,
            (Ok(Next::Handoff), _) => {
                handed_off = true;
                break;
            }
            (Err(e), Err(pcap::Error::PcapError(msg))) => {
                assert_eq!(e.to_string(), msg, "packet {n}: how it ends");
                break;
            }
            (ours, theirs) => panic!(
                "packet {n}: our pcapng reader gives {:?}, libpcap {:?}",
                ours.map(|o| match o {
                    Next::Packet(ts, f) => Some((ts, f.len())),
                    _ => None,
                }),
                theirs.map(|p| p.header.caplen)
            ),
        }
        n += 1;
    }
    if !handed_off {
        return;
    }
    // The whole file through FileSource (ours, then libpcap from the handoff) against libpcap.
    let Ok(mut source) = crate::capture::FileSource::open(path, "", None) else {
        panic!("FileSource refuses a file libpcap opens");
    };
    let mut got = Vec::new();
    let end = source.for_each(|ts, f| got.push((ts, f.len())));
    let Ok(mut theirs) = pcap::Capture::from_file(path) else {
        panic!("libpcap opens the file only once");
    };
    let mut want = Vec::new();
    let want_end = loop {
        match theirs.next_packet() {
            Ok(p) => want.push((
                Timestamp::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec),
                p.data.len(),
            )),
            Err(pcap::Error::NoMorePackets) => break None,
            Err(e) => break Some(crate::capture::file::pcap_reason(&e)),
        }
    };
    assert_eq!(got, want, "frames through the handoff");
    let end = end.err().map(|e| match e {
        crate::error::Error::CaptureFile { reason, .. } => reason,
        other => other.to_string(),
    });
    assert_eq!(end, want_end, "how the handed-off file ends");
}

/// A decoded HPACK field, owned; `None` for an unknown one.
type OwnedField = Option<(Vec<u8>, Vec<u8>)>;

/// Decodes one block, checking the per-block caps; the fields handed on, or the error.
fn hpack_block(d: &mut hpack::Decoder, block: &[u8]) -> Result<Vec<OwnedField>, hpack::HpackError> {
    let mut fields = Vec::new();
    let mut bytes = 0;
    let r = d.decode(block, |f| {
        fields.push(match f {
            hpack::Field::Known { name, value } => {
                bytes += name.len() + value.len() + 32;
                Some((name.to_vec(), value.to_vec()))
            }
            hpack::Field::Unknown { index } => {
                assert!(
                    index > hpack::STATIC_TABLE.len(),
                    "unknown static entry {index}"
                );
                bytes += 32;
                None
            }
        })
    });
    assert!(fields.len() <= hpack::MAX_FIELDS_PER_BLOCK);
    assert!(bytes <= hpack::MAX_DECODED_BYTES_PER_BLOCK);
    assert!(
        d.table_size() <= hpack::TABLE_MEMORY_CAP,
        "table over its cap"
    );
    match r {
        Ok(stats) => {
            assert_eq!(stats.fields as usize, fields.len());
            Ok(fields)
        }
        Err(e) => {
            // A compression error ends the direction: every later block is refused.
            assert!(d.failed().is_some());
            if e != hpack::HpackError::Failed {
                assert_eq!(d.failed(), Some(e));
            }
            assert_eq!(d.decode(b"\x82", |_| {}), Err(hpack::HpackError::Failed));
            Err(e)
        }
    }
}

/// Target `hpack`: header blocks into a decoder that saw the connection from its start and
/// into one that joined it later, as a capture started mid-stream would. The first byte picks
/// the announced SETTINGS_HEADER_TABLE_SIZE (bit 7: announce one at all; bits 0-2: which) and
/// the block the late decoder joins at (bits 3-6). Then each block is `[len][len bytes]`, a
/// `len` of 255 meaning the rest of the input. Beyond the caps, the late decoder must never
/// contradict the other: where the full one decodes a block, the late one decodes it too,
/// and every field both know is the same.
pub fn hpack(data: &[u8]) {
    const ALLOWED: [u32; 8] = [0, 64, 256, 4096, 16_384, 65_536, 1 << 20, u32::MAX];
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let mut full = hpack::Decoder::new();
    let mut late = hpack::Decoder::mid_stream();
    if pick & 0x80 != 0 {
        let allowed = ALLOWED[usize::from(pick & 7)];
        full.set_max_allowed(allowed);
        late.set_max_allowed(allowed);
    }
    let join = usize::from((pick >> 3) & 0x0f);
    let mut full_ok = true;
    let mut i = 0;
    while let Some((&len, tail)) = rest.split_first() {
        let n = if len == 255 {
            tail.len()
        } else {
            usize::from(len).min(tail.len())
        };
        let (block, tail) = tail.split_at(n);
        rest = tail;
        let want = hpack_block(&mut full, block);
        full_ok &= want.is_ok();
        if i >= join {
            let got = hpack_block(&mut late, block);
            if full_ok {
                let (Ok(want), Ok(got)) = (&want, &got) else {
                    panic!("block {i}: full {want:?}, late {got:?}");
                };
                for (w, g) in want.iter().zip(got) {
                    if let (Some(w), Some(g)) = (w, g) {
                        assert_eq!(w, g, "block {i}: the late decoder disagrees");
                    }
                }
            }
        }
        i += 1;
    }
}

/// Runs the named target on `data`; `false` if there is no such target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "decode_frame" => decode_frame(data),
        "reassembly" => reassembly(data),
        "http_parse" => http_parse(data),
        "capture_file" => capture_file(data),
        "hpack" => hpack(data),
        "h2_flow" => h2_flow(data),
        _ => return false,
    }
    true
}

/// Every target's name, as in `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: [&str; 6] = [
    "decode_frame",
    "reassembly",
    "http_parse",
    "capture_file",
    "hpack",
    "h2_flow",
];

/// Target `h2_flow`: one HTTP/2 connection through the flow table. Input:
/// `[mode][mss][client length, 2 bytes BE][client bytes][server bytes]`. Mode bit 0: the
/// connection's start is seen and the client stream opens with the preface (else the capture
/// starts mid-connection). No panic, and the connection's memory stays within its caps.
pub fn h2_flow(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&mss, rest)) = rest.split_first() else {
        return;
    };
    let Some((len, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let n = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (client, server) = rest.split_at(n);
    let mss = usize::from(mss % 64) * 23 + 1;
    let start_seen = mode & 1 == 1;
    let mut stream = Vec::with_capacity(client.len() + 24);
    if start_seen {
        stream.extend_from_slice(crate::decode::http2::frame::PREFACE);
    }
    stream.extend_from_slice(client);
    let table = converse(&stream, server, mss, start_seen);
    assert_eq!(table.len(), 0, "the connection is finished");
}

/// Encodes one segment the way the `reassembly` target reads it (for seeds and tests).
pub fn encode_segment(
    out: &mut Vec<u8>,
    flags: u8,
    who: u8,
    seq: u32,
    ack: u32,
    step: u8,
    payload: &[u8],
) {
    let payload = payload.get(..255).unwrap_or(payload);
    out.extend_from_slice(&[flags, who]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ack.to_be_bytes());
    out.extend_from_slice(&[step, payload.len() as u8]);
    out.extend_from_slice(payload);
}
