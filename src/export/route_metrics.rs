//! Route series for /metrics: `traffic_watch_route_requests_total{route}`,
//! `traffic_watch_route_responses_total{route,status_class}` and the
//! `traffic_watch_route_response_latency_seconds{route}` histogram. They are families of their
//! own beside the section ones, so that the existing series keep their meaning and sums.
//!
//! Cardinality is bounded whatever the traffic: only the top N routes by requests over the run
//! get a label value of their own; every other route (and the engine's `(other)`) is summed
//! into `route="other"`, so the route series add up to the totals. Only the status classes a
//! route has seen are series, and only routes with a timed response have a histogram (a log
//! without a timing field has none): with N = 10, at most 11 route values, 66 status series
//! and 11 histograms, and usually far fewer.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::output::escape;
use crate::stats::{LATENCY_BOUNDS, OTHER_NAME, RouteTotal, Snapshot};

/// The route label that holds every route outside the top N.
pub const OTHER_ROUTE: &str = "other";

const STATUS_CLASSES: [&str; 6] = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];

/// One route label's counts.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    label: String,
    requests: u64,
    status: [u64; 6],
    /// Cumulative counts at `LATENCY_BOUNDS`.
    cumulative: Vec<u64>,
    count: u64,
    sum_seconds: f64,
}

impl Row {
    fn new(label: String) -> Self {
        Row {
            label,
            requests: 0,
            status: [0; 6],
            cumulative: vec![0; LATENCY_BOUNDS.len()],
            count: 0,
            sum_seconds: 0.0,
        }
    }

    fn add(&mut self, r: &RouteTotal) {
        self.requests += r.hits;
        for (a, b) in self.status.iter_mut().zip(r.status_classes) {
            *a += b;
        }
        for (a, (_, b)) in self.cumulative.iter_mut().zip(&r.latency_buckets) {
            *a += b;
        }
        self.count += r.latency_count;
        self.sum_seconds += r.latency_sum_seconds;
    }
}

/// The route series of one snapshot, bounded to `top_n` route labels plus `other`.
#[derive(Debug, Clone, Default)]
pub(super) struct RouteSeries {
    rows: Vec<Row>,
    tracked: usize,
    folded: u64,
    paths_cut: u64,
}

impl RouteSeries {
    pub(super) fn new(s: &Snapshot, top_n: usize) -> Self {
        let mut series = RouteSeries {
            rows: Vec::new(),
            tracked: s.routes_tracked,
            folded: s.routes_folded,
            paths_cut: s.health.flow.paths_cut,
        };
        if s.routes.is_empty() {
            return series;
        }
        let mut ranked: Vec<&RouteTotal> = s.routes.iter().collect();
        // Ties by name, so the chosen set does not flicker between scrapes.
        ranked.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.route.cmp(&b.route)));
        let mut rows: Vec<Row> = Vec::new();
        let mut other = Row::new(OTHER_ROUTE.to_owned());
        let mut named = 0;
        for r in ranked {
            let label = escape(&r.route);
            if r.route == OTHER_NAME || label == OTHER_ROUTE || r.hits == 0 {
                other.add(r);
                continue;
            }
            // Two routes that escape alike share a label: a label set appears only once.
            if let Some(row) = rows.iter_mut().find(|x| x.label == label) {
                row.add(r);
            } else if named < top_n {
                named += 1;
                let mut row = Row::new(label);
                row.add(r);
                rows.push(row);
            } else {
                other.add(r);
            }
        }
        // Routes without buckets of their own are summed in the snapshot.
        for (a, (_, b)) in other.cumulative.iter_mut().zip(&s.routes_rest_latency) {
            *a += b;
        }
        rows.push(other);
        series.rows = rows;
        series
    }

    pub(super) fn encode(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let m = e.encode_descriptor(
            "routes_tracked",
            "Distinct routes tracked by the statistics engine (at most --max-routes)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.tracked as f64).encode(m)?;
        for (name, help, v) in [
            (
                "routes_folded_requests",
                "Requests counted under the engine's '(other)' route because its table was full",
                self.folded,
            ),
            (
                "flow_paths_cut",
                "Request paths longer than 512 bytes, cut (and marked) before their route was taken",
                self.paths_cut,
            ),
        ] {
            let m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(v).encode(m)?;
        }
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut m = e.encode_descriptor(
            "route_requests",
            "HTTP requests seen, by route (the top routes, then 'other' for the rest)",
            None,
            MetricType::Counter,
        )?;
        for r in &self.rows {
            let labels = [("route", r.label.as_str())];
            ConstCounter::new(r.requests).encode(m.encode_family(&labels)?)?;
        }
        let mut m = e.encode_descriptor(
            "route_responses",
            "HTTP final responses seen, by route and status class (a failed gRPC call is 5xx)",
            None,
            MetricType::Counter,
        )?;
        for r in &self.rows {
            for (class, n) in STATUS_CLASSES.iter().zip(r.status).filter(|(_, n)| *n > 0) {
                let labels = [("route", r.label.as_str()), ("status_class", class)];
                ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
            }
        }
        if self.rows.iter().all(|r| r.count == 0) {
            return Ok(());
        }
        let mut m = e.encode_descriptor(
            "route_response_latency",
            "First request byte to first response byte, by route",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for r in self.rows.iter().filter(|r| r.count > 0) {
            let labels = [("route", r.label.as_str())];
            let mut per_bucket = Vec::with_capacity(LATENCY_BOUNDS.len() + 1);
            let mut prev = 0u64;
            for (le, cum) in LATENCY_BOUNDS.iter().zip(&r.cumulative) {
                let cum = (*cum).max(prev);
                per_bucket.push((*le, cum - prev));
                prev = cum;
            }
            per_bucket.push((f64::INFINITY, r.count.saturating_sub(prev)));
            m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                r.sum_seconds,
                r.count.max(prev),
                &per_bucket,
                None,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(route: &str, hits: u64, fives: u64, latencies: u64) -> RouteTotal {
        RouteTotal {
            route: route.into(),
            hits,
            status_classes: [0, 0, hits - fives, 0, 0, fives],
            latency: None,
            // Every latency under 1 ms.
            latency_buckets: LATENCY_BOUNDS
                .iter()
                .map(|b| (*b, if *b >= 0.001 { latencies } else { 0 }))
                .collect(),
            latency_count: latencies,
            latency_sum_seconds: latencies as f64 * 0.0008,
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            requests: 16,
            routes: vec![
                total("/users/{id}", 9, 1, 9),
                total("/orders/{id}", 4, 4, 4),
                total("/a\"b\\c\u{1b}", 2, 0, 2),
                total(OTHER_NAME, 1, 0, 0),
            ],
            ..Snapshot::default()
        }
    }

    #[test]
    fn only_the_top_routes_get_a_label_and_other_holds_the_rest() {
        let s = RouteSeries::new(&snapshot(), 1);
        let rows: Vec<(&str, u64, u64, u64)> = s
            .rows
            .iter()
            .map(|r| (r.label.as_str(), r.requests, r.status[5], r.count))
            .collect();
        assert_eq!(rows, [("/users/{id}", 9, 1, 9), ("other", 7, 4, 6)]);
        assert_eq!(RouteSeries::new(&Snapshot::default(), 10).rows, []);
        assert_eq!(s.tracked, 0);
    }

    #[test]
    fn metrics_text_has_route_labels_on_requests_status_and_latency() {
        let mut reg = prometheus_client::registry::Registry::with_prefix("traffic_watch");
        #[derive(Debug)]
        struct C(RouteSeries);
        impl prometheus_client::collector::Collector for C {
            fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
                self.0.encode(&mut enc)
            }
        }
        reg.register_collector(Box::new(C(RouteSeries::new(&snapshot(), 10))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        for want in [
            "traffic_watch_route_requests_total{route=\"/users/{id}\"} 9",
            "traffic_watch_route_requests_total{route=\"other\"} 1",
            "traffic_watch_route_responses_total{route=\"/orders/{id}\",status_class=\"5xx\"} 4",
            "traffic_watch_route_response_latency_seconds_bucket{le=\"0.001\",route=\"/users/{id}\"} 9",
            "traffic_watch_route_response_latency_seconds_count{route=\"/orders/{id}\"} 4",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        assert!(
            text.contains("traffic_watch_routes_tracked 0.0\n"),
            "{text}"
        );
        assert!(
            text.contains("traffic_watch_flow_paths_cut_total 0\n"),
            "{text}"
        );
        // Classes not seen and routes with no timed response add no series.
        assert!(
            !text.contains("route=\"/orders/{id}\",status_class=\"2xx\""),
            "{text}"
        );
        assert!(
            !text.contains("latency_seconds_count{route=\"other\"}"),
            "{text}"
        );
        // The hostile route is escaped before it is a label value.
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(text.matches("route_requests_total{").count(), 4);
    }
}
