//! Plain text for people: a report block every interval, alert lines as they happen, and a
//! summary at the end. No colours, no cursor movement: safe for pipes and log files.

use std::fmt::Write;
use std::path::Path;

use super::escape;
use crate::flow::{NonHttpKind, Protocol};
use crate::stats::{AlertEvent, Percentiles, SectionRow, Snapshot, StatusClass, grpc_code_name};

pub fn fmt_latency(p: Option<Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "p50 {} p90 {} p99 {}",
            fmt_duration(p.p50),
            fmt_duration(p.p90),
            fmt_duration(p.p99)
        ),
        None => "-".into(),
    }
}

pub fn fmt_duration(d: std::time::Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// `HTTP/1.1 120, h2c 30`: the protocols requests came in, those seen.
pub fn protocols_line(s: &Snapshot) -> String {
    let seen: Vec<String> = Protocol::ALL
        .iter()
        .filter(|p| s.protocols[p.index()] > 0)
        .map(|p| format!("{} {}", p.as_str(), s.protocols[p.index()]))
        .collect();
    if seen.is_empty() {
        "-".to_owned()
    } else {
        seen.join(", ")
    }
}

/// `OK 40, UNAVAILABLE 2`: how gRPC calls ended.
pub fn grpc_line(s: &Snapshot) -> String {
    s.grpc_status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| format!("{} {n}", grpc_code_name(code)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn status_line(s: &Snapshot) -> String {
    let mut parts = Vec::new();
    for class in StatusClass::REPORT_ORDER {
        let n = s.status_count(class);
        if class != StatusClass::Other || n > 0 {
            parts.push(format!("{} {n}", class.as_str()));
        }
    }
    parts.join("  ")
}

/// A top table of sections or routes: hits, share, name, 5xx, latency.
pub(super) fn section_table(out: &mut String, title: &str, rows: &[SectionRow]) {
    let _ = writeln!(out, "  {title}");
    if rows.is_empty() {
        let _ = writeln!(out, "    (no requests)");
    }
    for r in rows {
        let _ = writeln!(
            out,
            "    {:>8}  {:>5.1}%  {:<32}  5xx {:<5} {}",
            r.hits,
            r.share * 100.0,
            escape(&r.section),
            r.server_errors,
            fmt_latency(r.latency)
        );
    }
}

/// The periodic report block.
pub fn report(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {}  requests {}  now {:.0}/s  10s avg {:.1}/s  {}s avg {:.2}/s (threshold {:.2}/s){}",
        s.now.rfc3339_utc(),
        s.requests,
        s.rate_1s,
        s.rate_10s,
        s.window_secs,
        s.window_avg,
        s.threshold_rate,
        if s.alert_active { "  ALERT" } else { "" }
    );
    let dropped = s.health.dropped();
    if dropped > 0 {
        let _ = writeln!(out, "  INCOMPLETE: {dropped} packets dropped");
    }
    if let Some(line) = truncation(s) {
        let _ = writeln!(out, "  INCOMPLETE: {line}");
    }
    section_table(&mut out, "top sections, last 10 s:", &s.top_10s);
    section_table(&mut out, "top sections, last 10 min:", &s.top_10m);
    super::routes::report_lines(&mut out, s);
    let _ = writeln!(
        out,
        "  status: {}   latency: {}",
        status_line(s),
        fmt_latency(s.latency)
    );
    non_http_line(&mut out, s);
    out
}

fn non_http_line(out: &mut String, s: &Snapshot) {
    let tls = s.non_http_count(NonHttpKind::Tls);
    let h2 = s.non_http_count(NonHttpKind::Http2);
    let other = s.non_http_count(NonHttpKind::Other);
    if tls + h2 + other > 0 {
        let _ = write!(
            out,
            "  not HTTP: tls {tls}, other {other} connections{}",
            if h2 > 0 {
                format!(", http2 {h2}")
            } else {
                String::new()
            }
        );
        if !s.tls_names.is_empty() {
            let names: Vec<String> = s.tls_names.iter().map(|n| escape(n)).collect();
            let _ = write!(out, " (TLS names: {})", names.join(", "));
        }
        out.push('\n');
    }
}

/// One alert line, timestamped by its message, with the flight recorder's file for it.
pub fn alert(e: &AlertEvent, recording: Option<&Path>) -> String {
    match recording {
        Some(p) => format!(
            "{} (recording: {})",
            e.message(),
            escape(&p.display().to_string())
        ),
        None => e.message(),
    }
}

/// What `-w` and the flight recorder wrote, one line each, for the summary.
pub fn recording_lines(s: &Snapshot) -> Vec<String> {
    let r = &s.health.recording;
    r.outputs()
        .map(|(name, c)| {
            let what = if name == "file" { "-w" } else { "alerts" };
            format!(
                "{what}: {} packets ({} bytes) recorded in {} files, {} dropped, {} write errors",
                c.packets, c.bytes, c.files, c.dropped, c.errors
            )
        })
        .collect()
}

/// Says that the capture was cut short, when it was: a reader must know before any number that
/// the counts are lower bounds.
pub fn truncation(s: &Snapshot) -> Option<String> {
    let (snaplen, cut) = s.health.truncation()?;
    Some(format!(
        "capture truncated to {snaplen} bytes per packet ({cut} of {} packets cut): counts are \
         lower bounds (bodies and messages past the cut are not seen)",
        s.health.packets
    ))
}

/// The end-of-run summary. A truncated capture is its first line.
pub fn summary(s: &Snapshot) -> String {
    let h = &s.health;
    let mut out = String::new();
    if let Some(line) = truncation(s) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "traffic-watch summary: {}", h.source);
    if let Some(first) = s.first {
        let _ = writeln!(
            out,
            "  time        {} .. {} ({:.1} s)",
            first.rfc3339_utc(),
            s.now.rfc3339_utc(),
            s.now.saturating_sub(first).as_secs_f64()
        );
    }
    let _ = writeln!(out, "  packets     {}", h.packets);
    let f = &h.flow;
    if f.malformed_total() > 0 {
        let reasons: Vec<String> = f
            .malformed_by_reason()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{} {n}", r.replace('_', " ")))
            .collect();
        let _ = writeln!(
            out,
            "  requests    {} ({} malformed: {})",
            s.requests,
            f.malformed_total(),
            reasons.join(", ")
        );
    } else {
        let _ = writeln!(out, "  requests    {}", s.requests);
    }
    let _ = writeln!(out, "  responses   {}", s.responses);
    let methods: Vec<String> = s
        .methods
        .iter()
        .map(|(m, n)| format!("{} {n}", escape(m)))
        .collect();
    let _ = writeln!(
        out,
        "  methods     {}",
        if methods.is_empty() {
            "-".into()
        } else {
            methods.join(", ")
        }
    );
    let _ = writeln!(out, "  protocols   {}", protocols_line(s));
    let _ = writeln!(out, "  status      {}", status_line(s));
    if s.grpc_status.iter().any(|n| *n > 0) {
        let _ = writeln!(out, "  grpc        {}", grpc_line(s));
    }
    let _ = writeln!(out, "  latency     {}", fmt_latency(s.latency));
    let _ = writeln!(
        out,
        "  bytes       requests {}, responses {}",
        s.request_bytes, s.response_bytes
    );
    let _ = writeln!(
        out,
        "  sections    {} tracked{}",
        s.sections_tracked,
        if s.sections_folded > 0 {
            format!(", {} requests folded into (other)", s.sections_folded)
        } else {
            String::new()
        }
    );
    for (name, hits) in s.sections.iter().take(20) {
        let _ = writeln!(out, "    {hits:>10}  {}", escape(name));
    }
    if s.sections.len() > 20 {
        let _ = writeln!(out, "    … {} more (see --json)", s.sections.len() - 20);
    }
    super::routes::summary_lines(&mut out, s);
    if !s.top_clients.is_empty() {
        let c: Vec<String> = s
            .top_clients
            .iter()
            .take(5)
            .map(|(ip, n)| format!("{ip} {n}"))
            .collect();
        let _ = writeln!(out, "  clients     {}", c.join(", "));
    }
    // HTTP/2 without TLS is parsed; `http2` stays in the JSON for old readers.
    let tls = s.non_http_count(NonHttpKind::Tls);
    let other = s.non_http_count(NonHttpKind::Other);
    let _ = writeln!(out, "  not HTTP    tls {tls}, other {other} connections");
    let undecoded: Vec<String> = h
        .undecoded
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  undecoded   {}",
        if undecoded.is_empty() {
            "0".into()
        } else {
            undecoded.join(", ")
        }
    );
    let f = &h.flow;
    let _ = writeln!(
        out,
        "  connections {} (evicted {}, expired {}); gaps skipped {}, out-of-order overflows {}, \
         heads too large {}, heads cut {}, parse errors {}",
        f.connections,
        f.evicted_flows,
        f.expired_flows,
        f.gaps_skipped,
        f.ooo_overflows,
        f.heads_too_large,
        f.heads_cut,
        f.parse_errors
    );
    if f.h2.connections > 0 {
        let h2 = &f.h2;
        let _ = writeln!(
            out,
            "  http/2      connections {}, streams reset {}, pushes {}, header blocks with \
             unknown fields {}, too large {}, hpack errors {}, protocol errors {}",
            h2.connections,
            h2.streams_reset,
            h2.pushes,
            h2.unknown_headers,
            h2.header_blocks_too_large,
            h2.hpack_errors,
            h2.protocol_errors + h2.stream_id_errors + h2.frames_too_large
        );
    }
    let _ = writeln!(
        out,
        "  cut         requests incomplete at the end {}, unanswered {}, responses without request {}",
        f.requests_cut, f.requests_unanswered, f.unpaired_responses
    );
    let _ = writeln!(
        out,
        "  alerts      {}",
        s.alerts.len() as u64 + s.alerts_folded
    );
    let counters = h.counters();
    if !counters.is_empty() {
        let c: Vec<String> = counters.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "  input       {}", c.join(", "));
    }
    for line in recording_lines(s) {
        let _ = writeln!(out, "  recorded    {line}");
    }
    if let (Some(rx), Some(dr)) = (h.kernel_received, h.kernel_dropped) {
        let _ = writeln!(
            out,
            "  capture     {rx} received by filter, {dr} dropped by kernel, {} dropped by interface, {} dropped in queue",
            h.interface_dropped.unwrap_or(0),
            h.queue_dropped
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Health;

    fn cut() -> Snapshot {
        Snapshot {
            health: Health {
                source: "cut.pcap".into(),
                packets: 130,
                truncated_packets: 62,
                snaplen: Some(96),
                ..Health::default()
            },
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_truncated_capture_says_so_first() {
        let out = summary(&cut());
        let first = out.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(
                "capture truncated to 96 bytes per packet (62 of 130 packets cut): counts are \
                 lower bounds"
            ),
            "{out}"
        );
        assert!(report(&cut()).contains("\n  INCOMPLETE: capture truncated to 96 bytes"));
    }

    #[test]
    fn a_whole_capture_says_nothing_of_truncation() {
        let whole = Snapshot::default();
        assert!(summary(&whole).starts_with("traffic-watch summary: "));
        assert!(!report(&whole).contains("truncated"));
        // A snap length alone, with no packet cut, is not news.
        let mut s = cut();
        s.health.truncated_packets = 0;
        assert_eq!(truncation(&s), None);
    }
}
