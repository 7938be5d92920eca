//! The Prometheus exposition of a [`Snapshot`], written with the official `prometheus-client`
//! crate ([`exposition`]), and [`MetricsServer`], hyper's HTTP/1 server on a thread of its own
//! that serves it on `GET /metrics` ([`server`]). The crate writes OpenMetrics text only;
//! [`render`] turns it into the classic Prometheus text format (what `promtool check metrics`
//! and most tools read), and the server sends OpenMetrics only to a scraper whose `Accept`
//! header asks for it, as Prometheus does.
//!
//! Series follow Prometheus naming: prefix `traffic_watch_`, base units (seconds, bytes),
//! counters end in `_total`. Label cardinality is bounded whatever the traffic: sections are the
//! top N by hits plus `other` (everything else, so the section series add up to the request
//! total); methods are capped by the statistics engine; the other labels are fixed sets. Every
//! label value that came off the network goes through [`crate::output::escape`] first.
//!
//! The snapshot holds totals per section, per method and per status class separately, not their
//! cross product, so each is its own counter family. Latency is exposed as p50/p90/p99 gauges
//! over the run; a true histogram needs bucket counts in the snapshot (see
//! [`LatencyBuckets`]).

mod exposition;
mod render;
mod server;

pub use exposition::{LatencyBuckets, OTHER_SECTION, latency_of};
pub use render::{
    CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, openmetrics_to_text, render, render_openmetrics,
    render_with_latency,
};
pub use server::MetricsServer;
