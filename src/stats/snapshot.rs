//! A read-only picture of the statistics at one moment: everything a display shows, computed
//! once, so the dashboard, plain text, JSON and metrics never compute anything themselves.

use std::net::IpAddr;

use super::alert::AlertEvent;
use super::histogram::Percentiles;
use super::sections::SectionAgg;
use super::{Stats, StatusClass};
use crate::flow::{FlowCounters, NonHttpKind, Protocol};
use crate::time::Timestamp;

/// Upper bounds (seconds) of the latency histogram in snapshots and metrics.
pub const LATENCY_BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One row of a top-sections table.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionRow {
    /// As seen on the wire: escape before printing.
    pub section: String,
    pub hits: u64,
    /// Fraction of the window's requests (0..=1).
    pub share: f64,
    pub responses: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub latency: Option<Percentiles>,
}

/// One route over the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTotal {
    /// Built from the wire's path: escape before printing.
    pub route: String,
    pub hits: u64,
    /// Index 0: other; 1..=5: 1xx..5xx.
    pub status_classes: [u64; 6],
    pub latency: Option<Percentiles>,
    /// Cumulative response counts at [`LATENCY_BOUNDS`] seconds: only for the top `top_n`
    /// routes (the others are summed in [`Snapshot::routes_rest_latency`]), so a snapshot
    /// costs little however many routes are tracked.
    pub latency_buckets: Vec<(f64, u64)>,
    pub latency_count: u64,
    pub latency_sum_seconds: f64,
}

/// What the capture and the lower layers saw and gave up on. Filled by the pipeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// What is watched: interface and filter, or the file.
    pub source: String,
    pub packets: u64,
    /// Packets not decoded to TCP, by reason (`decode::Error::as_str`).
    pub undecoded: Vec<(&'static str, u64)>,
    pub flow: FlowCounters,
    pub flows_tracked: usize,
    /// libpcap's counters, live capture only.
    pub kernel_received: Option<u64>,
    pub kernel_dropped: Option<u64>,
    pub interface_dropped: Option<u64>,
    /// Packets dropped between the capture thread and the pipeline (queue full).
    pub queue_dropped: u64,
    /// The access-log input's counters, when reading logs.
    pub log: Option<LogHealth>,
    /// The alert hooks' deliveries, when hooks are configured.
    pub hooks: Option<HookHealth>,
    /// Packets the capture kept fewer bytes of than their IP length says (a snap length below
    /// the packet size): decoded as far as they go, or counted as `truncated_headers`.
    pub truncated_packets: u64,
    /// The snap length those packets were cut to; set only once one was seen.
    pub snaplen: Option<u32>,
    /// What `-w` and the flight recorder wrote, when in use.
    pub recording: RecordingHealth,
}

/// What the access-log input counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogHealth {
    pub lines: u64,
    pub bad_lines: u64,
    /// Lines cut at the length cap (counted in `lines` too).
    pub long_lines: u64,
    pub rotations: u64,
    /// Bad lines by reason, named as the summary and metrics name them; only reasons seen.
    pub bad_by_reason: Vec<(&'static str, u64)>,
}

/// What became of the alert hooks' deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookHealth {
    pub delivered: u64,
    pub failed: u64,
    /// Not delivered: the queue was full, or the run ended before they could be.
    pub dropped: u64,
}

/// What one recording output (`-w`, or the flight recorder) did with the packets it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordingCounters {
    /// Packets written to a file.
    pub packets: u64,
    /// Their captured bytes.
    pub bytes: u64,
    /// Files finished.
    pub files: u64,
    /// Packets not written: the writer's queue was full or the file could not be written.
    pub dropped: u64,
    /// Files that could not be created or written (one line on stderr each).
    pub errors: u64,
}

/// The recording outputs, filled by the run loop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingHealth {
    /// `-w FILE`.
    pub file: Option<RecordingCounters>,
    /// `--record-alerts DIR`.
    pub alerts: Option<RecordingCounters>,
    /// The flight recorder's ring: bytes held and its budget (`--record-buffer`).
    pub buffer_bytes: u64,
    pub buffer_limit: u64,
    /// The flight recorder's files by the time of the alert that opened them, newest first.
    pub files: Vec<(Timestamp, String)>,
}

impl RecordingHealth {
    /// The file recorded for the alert triggered at `at`, if any.
    pub fn file_for(&self, at: Timestamp) -> Option<&str> {
        self.files
            .iter()
            .find(|(t, _)| *t == at)
            .map(|(_, p)| p.as_str())
    }

    /// Both outputs, named as the summary, JSON and metrics name them.
    pub fn outputs(&self) -> impl Iterator<Item = (&'static str, RecordingCounters)> {
        [("file", self.file), ("alerts", self.alerts)]
            .into_iter()
            .filter_map(|(name, c)| c.map(|c| (name, c)))
    }
}

impl Health {
    /// The log input's and the hooks' counters by name, in the order the summary, the JSON
    /// and the metrics list them; empty when neither is in use.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut v = Vec::new();
        if let Some(l) = &self.log {
            v.extend([
                ("log_lines", l.lines),
                ("log_bad_lines", l.bad_lines),
                ("log_long_lines", l.long_lines),
                ("log_rotations", l.rotations),
            ]);
            v.extend(l.bad_by_reason.iter().copied());
        }
        if let Some(h) = &self.hooks {
            v.extend([
                ("hooks_delivered", h.delivered),
                ("hooks_failed", h.failed),
                ("hooks_dropped", h.dropped),
            ]);
        }
        v
    }

    /// Packets lost before we could look at them.
    pub fn dropped(&self) -> u64 {
        self.kernel_dropped.unwrap_or(0) + self.interface_dropped.unwrap_or(0) + self.queue_dropped
    }

    pub fn undecoded_total(&self) -> u64 {
        self.undecoded.iter().map(|(_, n)| n).sum()
    }

    /// `(snap length, packets cut)` when the capture cut packets: every count of bodies, and
    /// of messages that start past the cut, is then a lower bound.
    pub fn truncation(&self) -> Option<(u32, u64)> {
        match (self.snaplen, self.truncated_packets) {
            (Some(len), n) if n > 0 => Some((len, n)),
            _ => None,
        }
    }
}

/// Everything a display needs.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub now: Timestamp,
    pub first: Option<Timestamp>,
    pub requests: u64,
    pub responses: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// Requests in the last whole second, and the average over the last 10 s.
    pub rate_1s: f64,
    pub rate_10s: f64,
    pub window_secs: u64,
    pub window_hits: u64,
    pub window_avg: f64,
    pub threshold_rate: f64,
    pub alert_active: bool,
    /// Requests per second over the alert window, oldest first.
    pub per_second: Vec<u64>,
    /// Newest first.
    pub alerts: Vec<AlertEvent>,
    pub alerts_folded: u64,
    /// Alerts triggered since the start (not capped like `alerts`).
    pub alerts_triggered_total: u64,
    pub top_10s: Vec<SectionRow>,
    pub top_10m: Vec<SectionRow>,
    /// Every tracked section over the whole run, most hits first, with the requests it surely
    /// had (exact unless the table filled), plus `(other)` for the rest.
    pub sections: Vec<(String, u64)>,
    pub sections_tracked: usize,
    /// Requests counted under `(other)`: those of sections whose slot was taken over when the
    /// table was full.
    pub sections_folded: u64,
    /// Top routes over the last 10 s and 10 min, as the section rows (named by route).
    pub top_routes_10s: Vec<SectionRow>,
    pub top_routes_10m: Vec<SectionRow>,
    /// Every tracked route over the whole run, most hits first, plus `(other)` for the
    /// requests of routes whose slot was taken over.
    pub routes: Vec<RouteTotal>,
    pub routes_tracked: usize,
    /// Requests counted under `(other)`.
    pub routes_folded: u64,
    /// Routes merged into another when the engine folded them.
    pub routes_merged: u64,
    /// Cumulative latency counts at [`LATENCY_BOUNDS`] of every route without buckets of its
    /// own (all but the top `top_n`, and `(other)`).
    pub routes_rest_latency: Vec<(f64, u64)>,
    /// Rows the top lists hold (`--top`).
    pub top_n: usize,
    pub methods: Vec<(String, u64)>,
    /// Responses by [`StatusClass::index`]; read with [`Snapshot::status_count`].
    pub status_classes: [u64; StatusClass::ALL.len()],
    pub latency: Option<Percentiles>,
    /// Cumulative response counts at [`LATENCY_BOUNDS`] seconds, their total and sum.
    pub latency_buckets: Vec<(f64, u64)>,
    pub latency_count: u64,
    pub latency_sum_seconds: f64,
    pub top_clients: Vec<(IpAddr, u64)>,
    /// Connections not HTTP/1 by [`NonHttpKind::index`]; read with [`Snapshot::non_http_count`].
    pub non_http: [u64; NonHttpKind::ALL.len()],
    /// Requests by [`Protocol::index`].
    pub protocols: [u64; Protocol::ALL.len()],
    /// gRPC responses by status code, the last slot for codes past 16 (see `grpc_code_name`).
    pub grpc_status: [u64; super::GRPC_CODES + 1],
    pub tls_names: Vec<String>,
    pub health: Health,
}

impl Snapshot {
    /// Responses of one status class.
    pub fn status_count(&self, class: StatusClass) -> u64 {
        self.status_classes[class.index()]
    }

    /// Connections of one kind that were not HTTP/1.
    pub fn non_http_count(&self, kind: NonHttpKind) -> u64 {
        self.non_http[kind.index()]
    }
}

fn rows(top: Vec<(u32, &SectionAgg)>, total: u64, name: impl Fn(u32) -> String) -> Vec<SectionRow> {
    top.into_iter()
        .map(|(id, a)| SectionRow {
            section: name(id),
            hits: a.hits,
            share: if total == 0 {
                0.0
            } else {
                a.hits as f64 / total as f64
            },
            responses: a.responses,
            client_errors: a.client_errors,
            server_errors: a.server_errors,
            latency: a.latency.percentiles(),
        })
        .collect()
}

pub(super) fn build(s: &Stats) -> Snapshot {
    let last = s.checked.unwrap_or(0);
    let window = s.alert.window_secs();
    let window_hits = s.window_hits();
    let name = |id: u32| s.sections.name(id).to_owned();
    // Lower bounds (exact while the table never filled), so the rows sum to the requests.
    let mut sections: Vec<(String, u64)> = s
        .sections
        .counts()
        .map(|c| (c.name.to_owned(), c.count - c.error))
        .collect();
    if s.sections.folded() > 0 {
        sections.push((super::OTHER_NAME.to_owned(), s.sections.folded()));
    }
    sections.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let r = &s.routes;
    let route_name = |id: u32| r.table.name(id).to_owned();
    let mut ranked: Vec<(u32, &super::RouteRun)> = r
        .run
        .iter()
        .enumerate()
        .map(|(id, run)| (id as u32, run))
        .filter(|(id, run)| *id != 0 || run.hits > 0 || run.latency.count() > 0)
        .filter(|(id, _)| *id == 0 || r.table.name(*id) != super::OTHER_NAME)
        .collect();
    ranked.sort_by(|a, b| {
        let name = |id| r.table.name(id);
        b.1.hits
            .cmp(&a.1.hits)
            .then_with(|| name(a.0).cmp(name(b.0)))
    });
    // Only the top routes get buckets of their own (what /metrics labels); the rest are
    // summed once, so a snapshot of thousands of routes stays cheap.
    let mut rest = super::LatencyHistogram::default();
    let mut own = 0;
    let routes: Vec<RouteTotal> = ranked
        .into_iter()
        .map(|(id, run)| {
            let h = &run.latency;
            let timed = h.count() > 0;
            let buckets = id != 0 && own < s.config.top_n;
            own += usize::from(id != 0);
            if timed && !buckets {
                rest.merge(h);
            }
            RouteTotal {
                route: route_name(id),
                hits: run.hits,
                status_classes: run.status_classes,
                latency: if timed { h.percentiles() } else { None },
                latency_buckets: if timed && buckets {
                    h.cumulative(&LATENCY_BOUNDS)
                } else {
                    Vec::new()
                },
                latency_count: h.count(),
                latency_sum_seconds: if timed {
                    h.approx_sum().as_secs_f64()
                } else {
                    0.0
                },
            }
        })
        .collect();
    let mut methods: Vec<(String, u64)> = s.methods.iter().map(|(k, v)| (k.clone(), *v)).collect();
    methods.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut clients: Vec<(IpAddr, u64)> = s.client_counts().collect();
    clients.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    clients.truncate(s.config.top_n);
    Snapshot {
        now: s.now,
        first: s.first,
        requests: s.totals.requests,
        responses: s.totals.responses,
        request_bytes: s.totals.request_bytes,
        response_bytes: s.totals.response_bytes,
        rate_1s: s.per_second.get(last) as f64,
        rate_10s: s.per_second.sum(last, 10) as f64 / 10.0,
        window_secs: window,
        window_hits,
        window_avg: window_hits as f64 / window as f64,
        threshold_rate: s.alert.threshold_rate(),
        alert_active: s.alert.is_active(),
        per_second: s.per_second.series(last, window),
        alerts: s.alert.history().copied().collect(),
        alerts_folded: s.alert.folded(),
        alerts_triggered_total: s.alert.triggered_total(),
        top_10s: rows(
            s.last_10s.top(s.config.top_n),
            s.last_10s.total_hits(),
            name,
        ),
        top_10m: rows(
            s.last_10m.top(s.config.top_n),
            s.last_10m.total_hits(),
            name,
        ),
        sections,
        sections_tracked: s.sections.len(),
        sections_folded: s.sections.folded(),
        top_routes_10s: rows(
            r.last_10s.top(s.config.top_n),
            r.last_10s.total_hits(),
            route_name,
        ),
        top_routes_10m: rows(
            r.last_10m.top(s.config.top_n),
            r.last_10m.total_hits(),
            route_name,
        ),
        routes_folded: r.run.first().map_or(0, |o| o.hits),
        routes,
        routes_tracked: r.table.len(),
        routes_merged: r.merged,
        routes_rest_latency: if rest.count() > 0 {
            rest.cumulative(&LATENCY_BOUNDS)
        } else {
            Vec::new()
        },
        top_n: s.config.top_n,
        methods,
        status_classes: s.totals.status_classes,
        latency: s.totals.latency.percentiles(),
        latency_buckets: s.totals.latency.cumulative(&LATENCY_BOUNDS),
        latency_count: s.totals.latency.count(),
        latency_sum_seconds: s.totals.latency.approx_sum().as_secs_f64(),
        top_clients: clients,
        non_http: s.totals.non_http,
        protocols: s.totals.protocols,
        grpc_status: s.totals.grpc_status,
        tls_names: s.tls_names.clone(),
        health: Health::default(),
    }
}
