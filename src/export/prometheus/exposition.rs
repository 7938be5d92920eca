//! The series of one snapshot, as a `prometheus-client` collector: names, help, labels, and the
//! caps that keep label cardinality bounded.

use std::collections::HashMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::flow::{FlowCounters, NonHttpKind, Protocol};
use crate::output::escape;
use crate::stats::{GRPC_CODES, OTHER_NAME, Percentiles, Snapshot, StatusClass, grpc_code_name};

/// The section label that holds every section outside the top N.
pub const OTHER_SECTION: &str = "other";

/// A latency histogram ready to expose: cumulative counts per upper bound in seconds (the last
/// bound may be `+Inf`), the number of observations and their sum in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyBuckets {
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

/// The snapshot's response-latency histogram, when any response had one.
pub fn latency_of(snapshot: &Snapshot) -> Option<LatencyBuckets> {
    if snapshot.latency_count == 0 {
        return None;
    }
    let mut cumulative = snapshot.latency_buckets.clone();
    cumulative.push((f64::INFINITY, snapshot.latency_count));
    Some(LatencyBuckets {
        cumulative,
        count: snapshot.latency_count,
        sum_seconds: snapshot.latency_sum_seconds,
    })
}

/// Everything the exposition shows, owned and bounded, taken from one snapshot.
#[derive(Debug)]
pub(super) struct Exposition {
    sections: Vec<(String, u64)>,
    methods: Vec<(String, u64)>,
    status_classes: [u64; StatusClass::ALL.len()],
    request_bytes: u64,
    response_bytes: u64,
    latency: Option<Percentiles>,
    latency_buckets: Option<LatencyBuckets>,
    alert_active: bool,
    threshold_rate: f64,
    window_avg: f64,
    window_hits: u64,
    window_secs: u64,
    alerts_triggered: u64,
    sections_tracked: usize,
    sections_folded: u64,
    packets: u64,
    kernel_dropped: Option<u64>,
    interface_dropped: Option<u64>,
    queue_dropped: u64,
    truncated_packets: u64,
    snaplen: Option<u32>,
    undecoded: Vec<(&'static str, u64)>,
    input_counters: Vec<(&'static str, u64)>,
    flow: FlowCounters,
    flows_tracked: usize,
    non_http: [u64; NonHttpKind::ALL.len()],
    protocols: [u64; Protocol::ALL.len()],
    grpc_status: [u64; GRPC_CODES + 1],
    recording: crate::stats::RecordingHealth,
    routes: crate::export::route_metrics::RouteSeries,
}

impl Exposition {
    pub(super) fn new(s: &Snapshot, top_n: usize, latency_buckets: Option<LatencyBuckets>) -> Self {
        Exposition {
            sections: top_sections(&s.sections, s.requests, top_n),
            methods: merge_labels(s.methods.iter().map(|(m, n)| (escape(m), *n))),
            status_classes: s.status_classes,
            request_bytes: s.request_bytes,
            response_bytes: s.response_bytes,
            latency: s.latency,
            latency_buckets,
            alert_active: s.alert_active,
            threshold_rate: s.threshold_rate,
            window_avg: s.window_avg,
            window_hits: s.window_hits,
            window_secs: s.window_secs,
            alerts_triggered: s.alerts_triggered_total,
            sections_tracked: s.sections_tracked,
            sections_folded: s.sections_folded,
            packets: s.health.packets,
            kernel_dropped: s.health.kernel_dropped,
            interface_dropped: s.health.interface_dropped,
            queue_dropped: s.health.queue_dropped,
            truncated_packets: s.health.truncated_packets,
            snaplen: s.health.snaplen,
            undecoded: s.health.undecoded.clone(),
            input_counters: s.health.counters(),
            flow: s.health.flow.clone(),
            flows_tracked: s.health.flows_tracked,
            non_http: s.non_http,
            protocols: s.protocols,
            grpc_status: s.grpc_status,
            recording: s.health.recording.clone(),
            routes: crate::export::route_metrics::RouteSeries::new(s, top_n),
        }
    }

    /// `-w` and the flight recorder, labelled `output="file"` and `output="alerts"`.
    fn encode_recording(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let r = &self.recording;
        if r.file.is_none() && r.alerts.is_none() {
            return Ok(());
        }
        type Field = fn(&crate::stats::RecordingCounters) -> u64;
        let series: [(&str, &str, Field); 5] = [
            ("recorded_packets", "Packets written to pcapng files", |c| {
                c.packets
            }),
            (
                "recorded_bytes",
                "Captured bytes of the packets written",
                |c| c.bytes,
            ),
            ("recording_files", "pcapng files finished", |c| c.files),
            (
                "recording_dropped_packets",
                "Packets not recorded: the writer's queue was full or the file could not be \
                 written (capture and counting are not affected)",
                |c| c.dropped,
            ),
            (
                "recording_errors",
                "Files that could not be created or written",
                |c| c.errors,
            ),
        ];
        for (name, help, field) in series {
            labelled_counters(
                e,
                name,
                help,
                "output",
                r.outputs().map(|(o, c)| (o, field(&c))),
            )?;
        }
        if r.alerts.is_some() {
            let m = e.encode_descriptor(
                "record_buffer",
                "Memory the flight recorder's ring holds",
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?;
            ConstGauge::new(r.buffer_bytes as f64).encode(m)?;
            let m = e.encode_descriptor(
                "record_buffer_limit",
                "The flight recorder's ring budget (--record-buffer)",
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?;
            ConstGauge::new(r.buffer_limit as f64).encode(m)?;
        }
        Ok(())
    }
}

/// The `top_n` sections by hits, escaped, plus `other` = all requests not in them, so the
/// section series always add up to the request total. The engine's own `(other)` bucket and a
/// section literally named `other` fold into `other`; two sections that escape to the same
/// label are merged, as a label set may appear only once.
fn top_sections(sections: &[(String, u64)], requests: u64, top_n: usize) -> Vec<(String, u64)> {
    let mut ranked: Vec<&(String, u64)> = sections
        .iter()
        .filter(|(name, n)| *n > 0 && name != OTHER_NAME)
        .collect();
    // Ties by name, so the chosen set does not flicker between scrapes.
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(top_n);
    let mut out = merge_labels(ranked.into_iter().map(|(name, n)| (escape(name), *n)));
    let mut other = 0;
    out.retain(|(label, n)| {
        let keep = label != OTHER_SECTION;
        if !keep {
            other += n;
        }
        keep
    });
    let named: u64 = out.iter().map(|(_, n)| n).sum();
    out.push((
        OTHER_SECTION.to_owned(),
        requests.saturating_sub(named).max(other),
    ));
    out
}

/// Adds up entries with the same label, keeping first-seen order.
fn merge_labels(items: impl Iterator<Item = (String, u64)>) -> Vec<(String, u64)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<(String, u64)> = Vec::new();
    for (label, n) in items {
        if let Some(&i) = index.get(&label) {
            if let Some(e) = out.get_mut(i) {
                e.1 += n;
            }
        } else {
            index.insert(label.clone(), out.len());
            out.push((label, n));
        }
    }
    out
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

fn labelled_counters<'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    values: impl Iterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, n) in values {
        let labels = [(label, value)];
        ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let e = &mut enc;
        labelled_counters(
            e,
            "requests",
            "HTTP requests seen, by section (the top sections, then 'other' for the rest)",
            "section",
            self.sections.iter().map(|(s, n)| (s.as_str(), *n)),
        )?;
        labelled_counters(
            e,
            "requests_by_method",
            "HTTP requests seen, by method",
            "method",
            self.methods.iter().map(|(s, n)| (s.as_str(), *n)),
        )?;
        labelled_counters(
            e,
            "responses",
            "HTTP final responses seen, by status class ('other' outside 100-599)",
            "status_class",
            StatusClass::ALL
                .into_iter()
                .map(|c| (c.as_str(), self.status_classes[c.index()])),
        )?;
        counter(
            e,
            "request_bytes",
            "Request bytes (head plus declared body)",
            self.request_bytes,
        )?;
        counter(
            e,
            "response_bytes",
            "Response bytes (head plus declared body)",
            self.response_bytes,
        )?;
        if let Some(b) = &self.latency_buckets {
            let m = e.encode_descriptor(
                "response_latency",
                "First request byte to first response byte",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            histogram(m, b)?;
        }
        if let Some(p) = self.latency {
            // Separate gauges: a `quantile` label is reserved for summaries.
            for (name, help, d) in [
                (
                    "response_latency_p50",
                    "Median response latency over the run",
                    p.p50,
                ),
                (
                    "response_latency_p90",
                    "90th percentile response latency over the run",
                    p.p90,
                ),
                (
                    "response_latency_p99",
                    "99th percentile response latency over the run",
                    p.p99,
                ),
            ] {
                let m = e.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Gauge)?;
                ConstGauge::new(d.as_secs_f64()).encode(m)?;
            }
        }
        gauge(
            e,
            "alert_active",
            "1 while the high-traffic alert is active, else 0",
            if self.alert_active { 1.0 } else { 0.0 },
        )?;
        gauge(
            e,
            "alert_threshold_requests_per_second",
            "Average request rate over the alert window above which the alert fires",
            self.threshold_rate,
        )?;
        gauge(
            e,
            "window_average_requests_per_second",
            "Average request rate over the alert window",
            self.window_avg,
        )?;
        gauge(
            e,
            "window_requests",
            "Requests in the alert window",
            self.window_hits as f64,
        )?;
        gauge(
            e,
            "window_seconds",
            "Length of the alert window",
            self.window_secs as f64,
        )?;
        counter(
            e,
            "alerts_triggered",
            "High-traffic alerts triggered (within the kept history)",
            self.alerts_triggered,
        )?;
        gauge(
            e,
            "sections_tracked",
            "Distinct sections tracked by the statistics engine",
            self.sections_tracked as f64,
        )?;
        counter(
            e,
            "sections_folded_requests",
            "Requests counted under the engine's '(other)' section because its table was full",
            self.sections_folded,
        )?;
        counter(
            e,
            "capture_packets",
            "Packets read from the capture",
            self.packets,
        )?;
        if let Some(n) = self.kernel_dropped {
            counter(
                e,
                "kernel_dropped_packets",
                "Packets the kernel dropped (libpcap ps_drop)",
                n,
            )?;
        }
        if let Some(n) = self.interface_dropped {
            counter(
                e,
                "interface_dropped_packets",
                "Packets the interface dropped (libpcap ps_ifdrop)",
                n,
            )?;
        }
        counter(
            e,
            "queue_dropped_packets",
            "Packets dropped between the capture thread and the pipeline (queue full)",
            self.queue_dropped,
        )?;
        counter(
            e,
            "truncated_packets",
            "Packets the capture kept fewer bytes of than their IP length (snap length); \
             while above 0, counts are lower bounds",
            self.truncated_packets,
        )?;
        if let Some(len) = self.snaplen {
            let m = e.encode_descriptor(
                "capture_snaplen",
                "Snap length the truncated packets were cut to",
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?;
            ConstGauge::new(f64::from(len)).encode(m)?;
        }
        self.encode_recording(e)?;
        labelled_counters(
            e,
            "undecoded_packets",
            "Packets not decoded to TCP, by reason",
            "reason",
            self.undecoded.iter().copied(),
        )?;
        // Access-log lines and alert-hook deliveries, when those are in use.
        if !self.input_counters.is_empty() {
            labelled_counters(
                e,
                "input_events",
                "Access-log lines (read, bad, cut, rotations) and alert-hook deliveries \
                 (delivered, failed, dropped)",
                "kind",
                self.input_counters.iter().copied(),
            )?;
        }
        let f = &self.flow;
        for (name, help, v) in [
            ("flow_connections", "TCP connections seen", f.connections),
            (
                "flow_evictions",
                "Connections evicted because the flow table was full",
                f.evicted_flows,
            ),
            (
                "flow_expirations",
                "Connections expired after their idle timeout",
                f.expired_flows,
            ),
            (
                "flow_gaps",
                "Gaps (lost bytes) skipped in reassembled streams",
                f.gaps_skipped,
            ),
            (
                "flow_ooo_overflows",
                "Out-of-order segments that did not fit in the buffer",
                f.ooo_overflows,
            ),
            (
                "flow_heads_too_large",
                "HTTP heads larger than the head buffer (counted, the rest skipped unkept)",
                f.heads_too_large,
            ),
            (
                "flow_heads_cut",
                "HTTP heads counted from their start after their end was lost (gap or snap length)",
                f.heads_cut,
            ),
            (
                "flow_parse_errors",
                "HTTP heads or chunked framing that could not be parsed",
                f.parse_errors,
            ),
            (
                "flow_unpaired_responses",
                "Responses with no pending request to pair with",
                f.unpaired_responses,
            ),
        ] {
            counter(e, name, help, v)?;
        }
        gauge(
            e,
            "flows_tracked",
            "TCP connections currently tracked",
            self.flows_tracked as f64,
        )?;
        labelled_counters(
            e,
            "malformed_requests",
            "Requests counted although they broke the HTTP/1 grammar (servers answer them, \
             usually 400), by reason",
            "reason",
            self.flow.malformed_by_reason(),
        )?;
        labelled_counters(
            e,
            "non_http_connections",
            "Connections recognised as not HTTP (tls, other; http2 stays 0 now that h2c is parsed), by kind",
            "kind",
            NonHttpKind::ALL
                .into_iter()
                .map(|k| (k.as_str(), self.non_http[k.index()])),
        )?;
        labelled_counters(
            e,
            "requests_by_protocol",
            "Requests by protocol (HTTP/1.0, HTTP/1.1, h2c)",
            "protocol",
            Protocol::ALL
                .iter()
                .map(|p| (p.as_str(), self.protocols[p.index()])),
        )?;
        labelled_counters(
            e,
            "grpc_responses",
            "gRPC calls by the grpc-status they ended with",
            "code",
            self.grpc_status
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| (grpc_code_name(code), *n)),
        )?;
        let h2 = &self.flow.h2;
        for (name, help, v) in [
            ("h2_connections", "HTTP/2 (h2c) connections", h2.connections),
            (
                "h2_streams_reset",
                "HTTP/2 requests reset before their response (each still a request)",
                h2.streams_reset,
            ),
            (
                "h2_pushes",
                "HTTP/2 server pushes (not client requests)",
                h2.pushes,
            ),
            (
                "h2_header_blocks_too_large",
                "HTTP/2 header blocks over the buffer cap (their request counted, fields unknown)",
                h2.header_blocks_too_large,
            ),
            (
                "h2_hpack_errors",
                "HTTP/2 header blocks HPACK could not decode",
                h2.hpack_errors,
            ),
            (
                "h2_unknown_headers",
                "HTTP/2 header blocks with fields from before the capture or a gap",
                h2.unknown_headers,
            ),
            (
                "h2_stream_id_errors",
                "HTTP/2 client streams whose id did not go up (refused, not counted)",
                h2.stream_id_errors,
            ),
            (
                "h2_streams_overflow",
                "HTTP/2 requests past the per-connection stream table (counted, not paired)",
                h2.streams_overflow,
            ),
            (
                "h2_frames_too_large",
                "HTTP/2 frames over SETTINGS_MAX_FRAME_SIZE",
                h2.frames_too_large,
            ),
            (
                "h2_protocol_errors",
                "HTTP/2 frames out of place",
                h2.protocol_errors,
            ),
        ] {
            counter(e, name, help, v)?;
        }
        self.routes.encode(e)?;
        // A gauge rather than an OpenMetrics `info`, which the classic text parsers reject.
        let mut m = e.encode_descriptor(
            "build_info",
            "Always 1; the version is in the label",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("version", env!("CARGO_PKG_VERSION"))];
        ConstGauge::new(1i64).encode(m.encode_family(&labels)?)?;
        Ok(())
    }
}

/// Encodes cumulative buckets; the crate's encoder wants per-bucket counts and adds them up.
fn histogram(
    mut m: prometheus_client::encoding::MetricEncoder<'_>,
    b: &LatencyBuckets,
) -> fmt::Result {
    let mut per_bucket = Vec::with_capacity(b.cumulative.len() + 1);
    let mut prev = 0u64;
    for &(le, cum) in &b.cumulative {
        // A non-monotonic input must not produce negative buckets.
        let cum = cum.max(prev);
        per_bucket.push((le, cum - prev));
        prev = cum;
    }
    if per_bucket.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
        per_bucket.push((f64::INFINITY, b.count.saturating_sub(prev)));
    }
    let count = b.count.max(prev);
    m.encode_histogram::<NoLabelSet>(b.sum_seconds, count, &per_bucket, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::prometheus::{render, render_with_latency};
    use crate::stats::Health;

    #[test]
    fn recording_counters_are_series_by_output() {
        use crate::stats::{RecordingCounters, RecordingHealth};
        let c = |packets, dropped| RecordingCounters {
            packets,
            bytes: packets * 100,
            files: 2,
            dropped,
            errors: 1,
        };
        let s = Snapshot {
            health: Health {
                recording: RecordingHealth {
                    file: Some(c(10, 3)),
                    alerts: Some(c(5, 0)),
                    buffer_bytes: 4096,
                    buffer_limit: 8192,
                    ..RecordingHealth::default()
                },
                ..Health::default()
            },
            ..Snapshot::default()
        };
        let text = render(&s, 10);
        for line in [
            "traffic_watch_recorded_packets_total{output=\"file\"} 10",
            "traffic_watch_recorded_packets_total{output=\"alerts\"} 5",
            "traffic_watch_recorded_bytes_total{output=\"file\"} 1000",
            "traffic_watch_recording_files_total{output=\"alerts\"} 2",
            "traffic_watch_recording_dropped_packets_total{output=\"file\"} 3",
            "traffic_watch_recording_errors_total{output=\"alerts\"} 1",
            "traffic_watch_record_buffer_bytes 4096.0",
            "traffic_watch_record_buffer_limit_bytes 8192.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!render(&Snapshot::default(), 10).contains("record"));
    }

    #[test]
    fn truncation_is_a_counter_and_the_snap_length_a_gauge() {
        let whole = render(&Snapshot::default(), 10);
        assert!(
            whole.contains("\ntraffic_watch_truncated_packets_total 0\n"),
            "{whole}"
        );
        assert!(
            !whole.contains("snaplen"),
            "no snap length until a packet is cut"
        );
        let s = Snapshot {
            health: Health {
                truncated_packets: 62,
                snaplen: Some(96),
                ..Health::default()
            },
            ..Snapshot::default()
        };
        let t = render(&s, 10);
        assert!(
            t.contains("\ntraffic_watch_truncated_packets_total 62\n"),
            "{t}"
        );
        assert!(
            t.contains("# TYPE traffic_watch_capture_snaplen_bytes gauge\n"),
            "{t}"
        );
        assert!(
            t.contains("\ntraffic_watch_capture_snaplen_bytes 96.0\n"),
            "{t}"
        );
    }

    #[test]
    fn other_holds_the_rest_and_engine_other_folds_in() {
        let sections = vec![
            ("/a".to_owned(), 50),
            ("/b".to_owned(), 30),
            (OTHER_NAME.to_owned(), 15),
            ("/c".to_owned(), 5),
        ];
        let top = top_sections(&sections, 100, 2);
        assert_eq!(
            top,
            vec![
                ("/a".to_owned(), 50),
                ("/b".to_owned(), 30),
                ("other".to_owned(), 20)
            ]
        );
    }

    #[test]
    fn a_section_named_other_is_merged_not_duplicated() {
        let sections = vec![("other".to_owned(), 10), ("/x".to_owned(), 1)];
        let top = top_sections(&sections, 11, 5);
        assert_eq!(top, vec![("/x".to_owned(), 1), ("other".to_owned(), 10)]);
    }

    #[test]
    fn histogram_from_cumulative_buckets() {
        let b = LatencyBuckets {
            cumulative: vec![(0.01, 2), (0.1, 5), (1.0, 5)],
            count: 6,
            sum_seconds: 1.5,
        };
        let snap = Snapshot::default();
        let text = render_with_latency(&snap, 10, Some(&b));
        assert!(text.contains("# TYPE traffic_watch_response_latency_seconds histogram"));
        assert!(text.contains("traffic_watch_response_latency_seconds_bucket{le=\"0.01\"} 2\n"));
        assert!(text.contains("traffic_watch_response_latency_seconds_bucket{le=\"0.1\"} 5\n"));
        assert!(text.contains("traffic_watch_response_latency_seconds_bucket{le=\"1.0\"} 5\n"));
        assert!(text.contains("traffic_watch_response_latency_seconds_bucket{le=\"+Inf\"} 6\n"));
        assert!(text.contains("traffic_watch_response_latency_seconds_count 6\n"));
        assert!(text.contains("traffic_watch_response_latency_seconds_sum 1.5\n"));
    }
}
