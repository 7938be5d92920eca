//! A snapshot's exposition as text, in the classic Prometheus format or in OpenMetrics.

use prometheus_client::registry::Registry;

use super::exposition::{Exposition, LatencyBuckets, latency_of};
use crate::stats::Snapshot;

/// Content type of [`render`]: the classic Prometheus text format, which every scraper and
/// `promtool check metrics` read.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Content type of [`render_openmetrics`], served when the scraper asks for it.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Renders `snapshot` in the Prometheus text format (0.0.4), with at most `top_n` section
/// series plus `other`.
pub fn render(snapshot: &Snapshot, top_n: usize) -> String {
    openmetrics_to_text(&render_openmetrics(
        snapshot,
        top_n,
        latency_of(snapshot).as_ref(),
    ))
}

/// The same series in the OpenMetrics text format, as `prometheus-client` writes it, plus a
/// `traffic_watch_response_latency_seconds` histogram when bucket counts are known.
pub fn render_openmetrics(
    snapshot: &Snapshot,
    top_n: usize,
    latency: Option<&LatencyBuckets>,
) -> String {
    let mut registry = Registry::with_prefix("traffic_watch");
    registry.register_collector(Box::new(Exposition::new(snapshot, top_n, latency.cloned())));
    let mut out = String::with_capacity(8 * 1024);
    // Writing into a String cannot fail and the collector never returns an error of its own;
    // should either happen, the partial text is still better than nothing for a scraper.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// [`render`] with the latency histogram, when bucket counts are known.
pub fn render_with_latency(
    snapshot: &Snapshot,
    top_n: usize,
    latency: Option<&LatencyBuckets>,
) -> String {
    openmetrics_to_text(&render_openmetrics(snapshot, top_n, latency))
}

/// OpenMetrics text as `prometheus-client` writes it → the classic text format. The two differ,
/// for what we emit, only in that OpenMetrics names a counter family without its `_total`
/// suffix, has `# UNIT` lines and ends with `# EOF`; samples and escaping are the same.
///
/// A rewrite, because `prometheus-client` (0.25) writes nothing but OpenMetrics, and the
/// classic format is still what `promtool check metrics` checks and what a scraper that does
/// not ask for OpenMetrics (an older Prometheus, curl, many agents) expects.
pub fn openmetrics_to_text(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) {
                out.push_str(prefix);
                out.push_str(name);
                out.push_str("_total ");
                out.push_str(tail);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
