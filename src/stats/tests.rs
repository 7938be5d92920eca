//! Statistics and alerting on hand-set timestamps: a two-minute window in microseconds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::decode::Endpoint;

fn ep(port: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
    }
}

fn req(ts: Timestamp, section: &str) -> RequestEvent<'_> {
    RequestEvent {
        ts,
        client: ep(40_000),
        server: ep(5000),
        method: "GET",
        target: section,
        section,
        path: section,
        host: None,
        protocol: crate::flow::Protocol::Http11,
        bytes: 40,
        malformed: None,
    }
}

const T0: u64 = 1_795_500_000;

fn at(secs: f64) -> Timestamp {
    Timestamp(T0 * 1_000_000 + (secs * 1_000_000.0).round() as u64)
}

/// Feeds `rate` requests per second, evenly spaced, from `from` for `secs` seconds.
fn feed(s: &mut Stats, from: f64, secs: u64, rate: u64, out: &mut Vec<AlertEvent>) {
    for i in 0..secs * rate {
        let t = at(from + i as f64 / rate as f64);
        s.advance(t, out);
        s.record_request(&req(t, "/pages"));
    }
}

fn stats(window: u64, threshold: Threshold) -> Stats {
    Stats::new(StatsConfig {
        window_secs: window,
        threshold,
        ..StatsConfig::default()
    })
}

#[test]
fn no_traffic_no_alert() {
    let mut s = stats(120, Threshold::PerSecond(10.0));
    let mut out = Vec::new();
    s.advance(at(0.0), &mut out);
    s.advance(at(1000.0), &mut out);
    assert!(out.is_empty());
}

#[test]
fn just_below_and_exactly_at_threshold_do_not_alert() {
    for rate in [9, 10] {
        let mut s = stats(120, Threshold::PerSecond(10.0));
        let mut out = Vec::new();
        feed(&mut s, 0.0, 300, rate, &mut out);
        assert!(out.is_empty(), "rate {rate}");
        assert_eq!(s.window_hits(), 120 * rate);
    }
}

#[test]
fn just_above_alerts_with_hits_then_recovers_on_ticks_alone() {
    let mut s = stats(120, Threshold::PerSecond(10.0));
    let mut out = Vec::new();
    // 11 req/s: the 2-minute total passes 1200 when 110 s of traffic are in.
    feed(&mut s, 0.0, 200, 11, &mut out);
    assert_eq!(out.len(), 1);
    let e = out[0];
    assert_eq!(e.kind, AlertKind::Triggered);
    assert_eq!(
        e.hits,
        1201 + 10,
        "the first whole second whose window holds more than 1200"
    );
    assert!(
        e.message()
            .starts_with("High traffic generated an alert - hits = 1211, triggered at")
    );
    out.clear();
    // Silence: only the clock moves; the average falls and the alert recovers.
    for k in 200..400 {
        s.advance(at(k as f64 + 0.5), &mut out);
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].kind, AlertKind::Recovered);
    // Seconds 1..=199 hold 11 each, second 200 holds 10 (199.09..199.91): the window (T-120, T]
    // first holds <= 1200 at T = 211 (108 * 11 + 10 = 1198); at 210 it still holds 1209.
    assert_eq!(out[0].at, at(211.0));
    assert_eq!(
        out[0].message(),
        format!(
            "High traffic alert recovered at {}",
            at(211.0).rfc3339_utc()
        )
    );
}

#[test]
fn retriggers_after_recovery_and_history_is_newest_first() {
    let mut s = stats(10, Threshold::PerSecond(5.0));
    let mut out = Vec::new();
    feed(&mut s, 0.0, 20, 10, &mut out);
    feed(&mut s, 20.0, 20, 1, &mut out);
    feed(&mut s, 40.0, 20, 10, &mut out);
    s.advance(at(100.0), &mut out);
    let kinds: Vec<_> = out.iter().map(|e| e.kind).collect();
    use AlertKind::*;
    assert_eq!(kinds, [Triggered, Recovered, Triggered, Recovered]);
    let snap = s.snapshot();
    let newest_first: Vec<_> = snap.alerts.iter().map(|e| e.kind).collect();
    assert_eq!(newest_first, [Recovered, Triggered, Recovered, Triggered]);
    assert!(snap.alerts[0].at > snap.alerts[1].at);
}

#[test]
fn window_edge_is_exact_to_the_microsecond() {
    // Total mode, threshold 0: one hit in the window is an alert.
    for (offset, inside) in [(0.0, false), (0.001, true)] {
        let mut s = stats(120, Threshold::Total(0));
        let mut out = Vec::new();
        s.advance(at(0.0), &mut out);
        s.record_request(&req(at(offset), "/a"));
        // Check exactly at 120 s: is a hit 120 s ago (out) or 119.999 s ago (in) counted?
        s.advance(at(119.5), &mut out);
        out.clear();
        let mut s2 = s;
        // Reset the alert state so only the check at second 120 is looked at.
        s2.alert = AlertMonitor::new(120, Threshold::Total(0));
        s2.advance(at(120.5), &mut out);
        let fired = out.iter().any(|e| e.kind == AlertKind::Triggered);
        assert_eq!(fired, inside, "hit at +{offset}s");
    }
}

#[test]
fn total_threshold_mode() {
    let mut s = stats(60, Threshold::Total(100));
    let mut out = Vec::new();
    feed(&mut s, 0.0, 50, 2, &mut out);
    assert!(out.is_empty(), "100 hits is not above 100");
    feed(&mut s, 50.0, 1, 5, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].hits > 100);
}

// The alert's contract: it fires when the average crosses the threshold, does not fire below
// it, recovers when traffic falls, and each message keeps its exact text (scripts match on it).
#[test]
fn alert_fires_on_the_spike_of_the_default_load_profile() {
    // `traffic-watch load`'s default: 20 req/s for 60 s, 100 req/s for 20 s, 20 req/s for 60 s;
    // threshold 30 req/s over 2 minutes.
    let mut s = stats(120, Threshold::PerSecond(30.0));
    let mut out = Vec::new();
    feed(&mut s, 0.0, 60, 20, &mut out);
    feed(&mut s, 60.0, 20, 100, &mut out);
    feed(&mut s, 80.0, 60, 20, &mut out);
    for k in 140..400 {
        s.advance(at(k as f64), &mut out);
    }
    let kinds: Vec<_> = out.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [AlertKind::Triggered, AlertKind::Recovered]);
    // 1200 + 2000 hits by 80 s, then 20/s: the window passes 3600 at about 101 s.
    assert!(
        out[0].at > at(95.0) && out[0].at < at(105.0),
        "{}",
        out[0].at.rfc3339_utc()
    );
    assert!(out[1].at > at(140.0));
}

#[test]
fn steady_traffic_below_the_threshold_never_alerts() {
    let mut s = stats(120, Threshold::PerSecond(30.0));
    let mut out = Vec::new();
    feed(&mut s, 0.0, 300, 20, &mut out);
    assert!(out.is_empty());
}

#[test]
fn sections_rates_and_totals() {
    let mut s = stats(120, Threshold::PerSecond(10.0));
    let mut out = Vec::new();
    for i in 0..30u64 {
        let t = at(i as f64 * 0.5);
        s.advance(t, &mut out);
        s.record_request(&req(t, if i % 3 == 0 { "/a" } else { "/b" }));
    }
    s.record_response(&ResponseEvent {
        ts: at(14.7),
        client: ep(1),
        server: ep(2),
        status: 503,
        method: Some("GET"),
        section: Some("/b"),
        path: Some("/b"),
        latency: Some(Duration::from_millis(3)),
        bytes: 10,
        interim: false,
        grpc_status: None,
    });
    s.advance(at(15.5), &mut out);
    let snap = s.snapshot();
    assert_eq!(snap.requests, 30);
    assert_eq!(
        snap.sections,
        vec![("/b".to_string(), 20), ("/a".to_string(), 10)]
    );
    assert_eq!(snap.top_10s[0].section, "/b");
    assert_eq!(snap.top_10s[0].server_errors, 1);
    assert_eq!(
        snap.top_10s[0].hits + snap.top_10s[1].hits,
        19,
        "(5, 15] holds 5.5..=14.5"
    );
    assert_eq!(snap.status_classes[5], 1);
    assert!((snap.rate_10s - 1.9).abs() < 1e-9);
    assert_eq!(snap.per_second.len(), 120);
}

#[test]
fn health_counters_list_the_log_then_the_hooks_and_only_reasons_seen() {
    use crate::stats::{Health, HookHealth, LogHealth};
    let mut h = Health::default();
    assert!(h.counters().is_empty());
    h.hooks = Some(HookHealth {
        delivered: 3,
        failed: 1,
        dropped: 0,
    });
    h.log = Some(LogHealth {
        lines: 10,
        bad_lines: 2,
        long_lines: 1,
        rotations: 0,
        bad_by_reason: vec![("log_bad_status", 2)],
    });
    assert_eq!(
        h.counters(),
        [
            ("log_lines", 10),
            ("log_bad_lines", 2),
            ("log_long_lines", 1),
            ("log_rotations", 0),
            ("log_bad_status", 2),
            ("hooks_delivered", 3),
            ("hooks_failed", 1),
            ("hooks_dropped", 0),
        ]
    );
}

#[test]
fn snapshot_gives_latency_buckets_to_the_top_routes_and_sums_the_rest() {
    let mut s = Stats::new(StatsConfig {
        top_n: 1,
        ..StatsConfig::default()
    });
    let mut out = Vec::new();
    for (i, path) in [
        "/users/1",
        "/users/2",
        "/users/3/repos",
        "/teams/4",
        "/teams/5",
    ]
    .iter()
    .enumerate()
    {
        let t = at(i as f64);
        s.advance(t, &mut out);
        s.record_request(&RequestEvent {
            path,
            ..req(t, "/x")
        });
        s.record_response(&ResponseEvent {
            ts: t,
            client: ep(1),
            server: ep(2),
            status: 200,
            method: Some("GET"),
            section: Some("/x"),
            path: Some(path),
            latency: Some(Duration::from_millis(2)),
            bytes: 10,
            interim: false,
            grpc_status: None,
        });
    }
    let snap = s.snapshot();
    let rows: Vec<(&str, u64, usize, u64)> = snap
        .routes
        .iter()
        .map(|r| {
            (
                r.route.as_str(),
                r.hits,
                r.latency_buckets.len(),
                r.latency_count,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("/teams/{id}", 2, LATENCY_BOUNDS.len(), 2),
            ("/users/{id}", 2, 0, 2),
            ("/users/{id}/repos", 1, 0, 1)
        ]
    );
    assert!(snap.routes.iter().all(|r| r.latency.is_some()));
    assert_eq!(snap.routes_rest_latency.last().map(|b| b.1), Some(3));
    assert_eq!(snap.routes_tracked, 3);
}

#[test]
fn clients_are_counted_exactly_through_runs_and_past_the_cap() {
    let mut s = Stats::new(StatsConfig {
        top_n: 20_000,
        ..StatsConfig::default()
    });
    let mut want: HashMap<IpAddr, u64> = HashMap::new();
    let ip = |n: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
    // Runs of a few clients, then more distinct clients than are tracked, then runs again of
    // tracked and untracked ones.
    let mut order: Vec<u32> = [1, 1, 1, 2, 1, 3, 3, 2, 2, 2, 1].to_vec();
    order.extend(10..10_100);
    order.extend([1, 1, 20_000, 20_000, 2, 20_000, 1, 1, 10_050, 10_050, 3]);
    for (i, n) in order.iter().enumerate() {
        let mut r = req(at(i as f64 / 1000.0), "/a");
        r.client.ip = ip(*n);
        s.record_request(&r);
        if want.contains_key(&r.client.ip) || want.len() < MAX_CLIENTS {
            *want.entry(r.client.ip).or_default() += 1;
        }
        if i < 12 || i % 997 == 0 || i + 12 >= order.len() {
            let mut want: Vec<(IpAddr, u64)> = want.iter().map(|(k, v)| (*k, *v)).collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            assert_eq!(s.snapshot().top_clients, want, "after {i}");
        }
    }
    // 93 of the distinct clients past the cap, then three requests of 20,000 and two of 10,050.
    assert_eq!(s.clients_folded, 98);
}
