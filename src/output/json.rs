//! NDJSON: one object per line with a `type` field (`report`, `alert`, `summary`).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::escape;
use crate::flow::{NonHttpKind, Protocol};
use crate::stats::{
    AlertEvent, AlertKind, Percentiles, SectionRow, Snapshot, StatusClass, grpc_code_name,
};

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn percentiles(p: Option<Percentiles>) -> Value {
    match p {
        Some(p) => json!({"p50": ms(p.p50), "p90": ms(p.p90), "p99": ms(p.p99)}),
        None => Value::Null,
    }
}

/// Rows of a top table, the name under `name_key` (`section`, or `route` for the route tables).
pub(super) fn rows(rows: &[SectionRow], name_key: &str) -> Value {
    rows.iter()
        .map(|r| {
            json!({
                name_key: escape(&r.section),
                "hits": r.hits,
                "share": (r.share * 1e4).round() / 1e4,
                "responses": r.responses,
                "errors_4xx": r.client_errors,
                "errors_5xx": r.server_errors,
                "latency_ms": percentiles(r.latency),
            })
        })
        .collect()
}

fn status(s: &Snapshot) -> Value {
    let by_class: Map<String, Value> = StatusClass::REPORT_ORDER
        .into_iter()
        .map(|c| (c.as_str().to_owned(), Value::from(s.status_count(c))))
        .collect();
    Value::Object(by_class)
}

/// `{"snaplen": N, "packets": cut}` when the capture cut packets short, else null.
fn truncated(s: &Snapshot) -> Value {
    match s.health.truncation() {
        Some((snaplen, packets)) => json!({"snaplen": snaplen, "packets": packets}),
        None => Value::Null,
    }
}

/// `-w` and the flight recorder, when in use; `null` otherwise.
fn recording(s: &Snapshot) -> Value {
    let r = &s.health.recording;
    if r.file.is_none() && r.alerts.is_none() {
        return Value::Null;
    }
    let mut out: Map<String, Value> = r
        .outputs()
        .map(|(name, c)| {
            (
                name.to_owned(),
                json!({
                    "packets": c.packets,
                    "bytes": c.bytes,
                    "files": c.files,
                    "dropped": c.dropped,
                    "errors": c.errors,
                }),
            )
        })
        .collect();
    if r.alerts.is_some() {
        out.insert(
            "buffer".into(),
            json!({"bytes": r.buffer_bytes, "limit": r.buffer_limit}),
        );
    }
    Value::Object(out)
}

fn drops(s: &Snapshot) -> Value {
    let h = &s.health;
    json!({
        "kernel_received": h.kernel_received,
        "kernel_dropped": h.kernel_dropped,
        "interface_dropped": h.interface_dropped,
        "queue_dropped": h.queue_dropped,
    })
}

/// The periodic report.
pub fn report(s: &Snapshot) -> String {
    let mut v = json!({
        "type": "report",
        "time": s.now.rfc3339_utc(),
        "requests": s.requests,
        "responses": s.responses,
        "rate_1s": s.rate_1s,
        "rate_10s": s.rate_10s,
        "window_secs": s.window_secs,
        "window_hits": s.window_hits,
        "window_avg": (s.window_avg * 1e3).round() / 1e3,
        "threshold": s.threshold_rate,
        "alert_active": s.alert_active,
        "top_sections_10s": rows(&s.top_10s, "section"),
        "top_sections_10m": rows(&s.top_10m, "section"),
        "protocols": protocols(s),
        "grpc_status": grpc_status(s),
        "status": status(s),
        "latency_ms": percentiles(s.latency),
        "non_http": non_http(s),
        "top_clients": clients(s),
        "drops": drops(s),
        "truncated": truncated(s),
        "recording": recording(s),
    });
    super::routes::add_to_report(&mut v, s);
    v.to_string()
}

fn clients(s: &Snapshot) -> Value {
    s.top_clients
        .iter()
        .map(|(ip, n)| json!({"client": ip.to_string(), "requests": n}))
        .collect()
}

/// One alert transition, the moment it happens, with the flight recorder's file for it.
pub fn alert(e: &AlertEvent, recording: Option<&Path>) -> String {
    json!({
        "type": "alert",
        "kind": match e.kind { AlertKind::Triggered => "triggered", AlertKind::Recovered => "recovered" },
        "time": e.at.rfc3339_utc(),
        "hits": e.hits,
        "lower_bound": e.lower_bound,
        "message": e.message(),
        "recording": recording.map(|p| p.display().to_string()),
    })
    .to_string()
}

fn non_http(s: &Snapshot) -> Value {
    let by_kind: Map<String, Value> = NonHttpKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_owned(), Value::from(s.non_http_count(k))))
        .collect();
    Value::Object(by_kind)
}

fn h2(h2: &crate::flow::H2Counters) -> Value {
    json!({
        "connections": h2.connections,
        "streams_reset": h2.streams_reset,
        "pushes": h2.pushes,
        "header_blocks_too_large": h2.header_blocks_too_large,
        "hpack_errors": h2.hpack_errors,
        "unknown_headers": h2.unknown_headers,
        "stream_id_errors": h2.stream_id_errors,
        "streams_overflow": h2.streams_overflow,
        "frames_too_large": h2.frames_too_large,
        "protocol_errors": h2.protocol_errors,
    })
}

/// Requests by protocol, every protocol named.
fn protocols(s: &Snapshot) -> Value {
    Protocol::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), Value::from(s.protocols[p.index()])))
        .collect::<Map<String, Value>>()
        .into()
}

/// gRPC responses by status name, only the codes seen.
fn grpc_status(s: &Snapshot) -> Value {
    s.grpc_status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (grpc_code_name(code).to_owned(), Value::from(*n)))
        .collect::<Map<String, Value>>()
        .into()
}

/// The whole run, printed last.
pub fn summary(s: &Snapshot) -> String {
    let h = &s.health;
    let methods: Map<String, Value> = s
        .methods
        .iter()
        .map(|(m, n)| (escape(m), Value::from(*n)))
        .collect();
    let undecoded: Map<String, Value> = h
        .undecoded
        .iter()
        .map(|(k, n)| ((*k).to_owned(), Value::from(*n)))
        .collect();
    let f = &h.flow;
    let sections: Vec<Value> = s
        .sections
        .iter()
        .map(|(name, n)| json!({"section": escape(name), "hits": n}))
        .collect();
    let duration = match s.first {
        Some(first) => s.now.saturating_sub(first).as_secs_f64(),
        None => 0.0,
    };
    let v = json!({
        "type": "summary",
        "source": h.source,
        "first": s.first.map(|t| t.rfc3339_utc()),
        "last": s.first.map(|_| s.now.rfc3339_utc()),
        "duration_s": (duration * 1e3).round() / 1e3,
        "packets": h.packets,
        "requests": s.requests,
        "responses": s.responses,
        "request_bytes": s.request_bytes,
        "response_bytes": s.response_bytes,
        "methods": methods,
        "protocols": protocols(s),
        "grpc_status": grpc_status(s),
        "status": status(s),
        "latency_ms": percentiles(s.latency),
        "sections": sections,
        "sections_tracked": s.sections_tracked,
        "sections_folded": s.sections_folded,
        "non_http": non_http(s),
        "top_clients": clients(s),
        "tls_server_names": s.tls_names.iter().map(|n| escape(n)).collect::<Vec<_>>(),
        "undecoded": undecoded,
        "flow": {
            "connections": f.connections,
            "tracked": h.flows_tracked,
            "evicted": f.evicted_flows,
            "expired": f.expired_flows,
            "ooo_overflows": f.ooo_overflows,
            "gaps_skipped": f.gaps_skipped,
            "heads_too_large": f.heads_too_large,
            "heads_cut": f.heads_cut,
            "malformed": f.malformed_by_reason()
                .map(|(r, n)| (r.to_owned(), Value::from(n)))
                .chain([("total".to_owned(), Value::from(f.malformed_total()))])
                .collect::<Map<String, Value>>(),
            "parse_errors": f.parse_errors,
            "pending_overflows": f.pending_overflows,
            "unpaired_responses": f.unpaired_responses,
            "requests_cut": f.requests_cut,
            "requests_unanswered": f.requests_unanswered,
            "h2": h2(&f.h2),
        },
        "alerts": s.alerts.len() as u64 + s.alerts_folded,
        "counters": h.counters().iter().map(|(k, n)| ((*k).to_owned(), Value::from(*n))).collect::<Map<String, Value>>(),
        "drops": drops(s),
        "truncated": truncated(s),
        "recording": recording(s),
    });
    super::routes::summary_with_routes(v, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Health;

    #[test]
    fn truncation_fields_in_report_and_summary() {
        let s = Snapshot {
            health: Health {
                truncated_packets: 62,
                snaplen: Some(96),
                ..Health::default()
            },
            ..Snapshot::default()
        };
        for text in [summary(&s), report(&s)] {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                v["truncated"],
                json!({"snaplen": 96, "packets": 62}),
                "{text}"
            );
        }
        let v: Value = serde_json::from_str(&summary(&Snapshot::default())).unwrap();
        assert_eq!(v["truncated"], Value::Null);
    }

    #[test]
    fn recording_in_summary_and_alert() {
        use crate::stats::{AlertKind, RecordingCounters, RecordingHealth};
        let s = Snapshot {
            health: Health {
                recording: RecordingHealth {
                    alerts: Some(RecordingCounters {
                        packets: 5,
                        dropped: 1,
                        ..RecordingCounters::default()
                    }),
                    buffer_bytes: 64,
                    buffer_limit: 128,
                    ..RecordingHealth::default()
                },
                ..Health::default()
            },
            ..Snapshot::default()
        };
        let v: Value = serde_json::from_str(&summary(&s)).unwrap();
        assert_eq!(
            v["recording"],
            json!({
                "alerts": {"packets": 5, "bytes": 0, "files": 0, "dropped": 1, "errors": 0},
                "buffer": {"bytes": 64, "limit": 128},
            })
        );
        let e = AlertEvent {
            kind: AlertKind::Triggered,
            at: crate::time::Timestamp::from_secs(1),
            hits: 3,
            lower_bound: false,
        };
        let a: Value = serde_json::from_str(&alert(&e, Some(Path::new("/d/a.pcapng")))).unwrap();
        assert_eq!(a["recording"], "/d/a.pcapng");
        let a: Value = serde_json::from_str(&alert(&e, None)).unwrap();
        assert_eq!(a["recording"], Value::Null);
    }
}
