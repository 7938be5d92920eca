//! Statistics: request rates, top sections over 10 s and 10 min, methods, status classes,
//! latency, clients, and the high-traffic alert.
//!
//! Pure code that never reads the clock: every call takes the time (`now`) from the packets or
//! from the run loop's tick, so replay is exactly repeatable and a two-minute window is tested
//! in microseconds. Memory is bounded whatever the traffic: per-second rings, a Space-Saving
//! section table (top-k in fixed memory), capped client and method maps. Displays read a [`Snapshot`]; they compute nothing.

mod alert;
mod histogram;
mod routes;
mod sections;
#[cfg(test)]
mod sections_reference;
mod snapshot;
mod status_class;
mod topk;
mod window;

use std::collections::HashMap;
use std::net::IpAddr;

pub use alert::{AlertEvent, AlertKind, AlertMonitor, MAX_ALERT_HISTORY, Threshold};
pub use histogram::{LatencyHistogram, Percentiles};
pub use routes::{RouteRun, RouteStats};
pub use sections::{Answer, OTHER_NAME, SectionCount, SectionTable, SectionWindow};
pub use snapshot::{
    Health, HookHealth, LATENCY_BOUNDS, LogHealth, RecordingCounters, RecordingHealth, RouteTotal,
    SectionRow, Snapshot,
};
pub use status_class::StatusClass;
pub use topk::{Recorded, TopK};
pub use window::{SecondCounts, second_of};

use crate::keyed_hash::KeyedState;

use crate::flow::{NonHttpKind, Protocol, RequestEvent, ResponseEvent};
use crate::time::Timestamp;

/// Settings of the statistics engine.
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// Alert window in seconds (`--window`, default 120).
    pub window_secs: u64,
    pub threshold: Threshold,
    /// Distinct sections tracked (Space-Saving: past it, a new section takes over the
    /// least-counted one's slot).
    pub max_sections: usize,
    /// Distinct routes tracked, the same way.
    pub max_routes: usize,
    /// Rows in the top-section lists of a snapshot.
    pub top_n: usize,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            window_secs: 120,
            threshold: Threshold::PerSecond(10.0),
            max_sections: 10_000,
            max_routes: 10_000,
            top_n: 10,
        }
    }
}

const MAX_METHODS: usize = 32;
const OTHER_METHOD: &str = "(other)";
const MAX_CLIENTS: usize = 10_000;
const MAX_TLS_NAMES: usize = 64;
/// Seconds of history kept for rates and the sparkline, beyond the alert window.
const MIN_HISTORY_SECS: u64 = 600;

/// Totals over the whole run.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub requests: u64,
    pub responses: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// Responses by [`StatusClass::index`].
    pub status_classes: [u64; StatusClass::ALL.len()],
    pub latency: LatencyHistogram,
    /// Connections not HTTP/1 by [`NonHttpKind::index`].
    pub non_http: [u64; NonHttpKind::ALL.len()],
    /// Requests by [`Protocol::index`].
    pub protocols: [u64; Protocol::ALL.len()],
    /// gRPC responses by `grpc-status` code (0..=16), the last slot for any other code.
    pub grpc_status: [u64; GRPC_CODES + 1],
}

/// gRPC status codes defined (OK .. UNAUTHENTICATED).
pub const GRPC_CODES: usize = 17;

/// The name of a gRPC status code (grpc/doc/statuscodes.md), or `other`.
pub fn grpc_code_name(code: usize) -> &'static str {
    const NAMES: [&str; GRPC_CODES] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(code).copied().unwrap_or("other")
}

/// The statistics engine. One owner (the pipeline thread); no locks.
#[derive(Debug)]
pub struct Stats {
    config: StatsConfig,
    alert: AlertMonitor,
    first: Option<Timestamp>,
    now: Timestamp,
    /// The last whole second the alert was checked at.
    checked: Option<u64>,
    per_second: SecondCounts,
    sections: SectionTable,
    last_10s: SectionWindow,
    last_10m: SectionWindow,
    routes: RouteStats,
    totals: Totals,
    /// At most `MAX_METHODS` names plus `(other)`, scanned in place: there are usually one to
    /// three, where a map would hash or compare the name at every level.
    methods: Vec<(String, u64)>,
    clients: HashMap<IpAddr, u64, KeyedState>,
    clients_folded: u64,
    /// The client of the latest requests, which is in `clients`, and how many of those
    /// requests `clients` does not count yet: requests come in runs from one address
    /// (keep-alive connections, a load generator), and a run is counted without hashing it.
    client_run: Option<(IpAddr, u64)>,
    tls_names: Vec<String>,
    /// Set by the pipeline while packets are being dropped: alerts then say hits is a lower bound.
    pub dropping: bool,
}

impl Stats {
    pub fn new(config: StatsConfig) -> Self {
        let window = config.window_secs.max(1);
        Stats {
            alert: AlertMonitor::new(window, config.threshold),
            first: None,
            now: Timestamp::ZERO,
            checked: None,
            per_second: SecondCounts::new((window.max(MIN_HISTORY_SECS) + 2) as usize),
            sections: SectionTable::new(config.max_sections),
            last_10s: SectionWindow::new(1, 10),
            last_10m: SectionWindow::new(10, 60),
            routes: RouteStats::new(crate::routes::Routes::inferred(), config.max_routes),
            totals: Totals::default(),
            methods: Vec::new(),
            clients: HashMap::default(),
            clients_folded: 0,
            client_run: None,
            tls_names: Vec::new(),
            dropping: false,
            config,
        }
    }

    /// Maps paths to routes with `routes` (a spec) from now on, instead of inference alone.
    /// Meant for a fresh engine: routes counted so far start over.
    pub fn set_routes(&mut self, routes: crate::routes::Routes) {
        self.routes = RouteStats::new(routes, self.config.max_routes);
    }

    /// What the route engine counted.
    pub fn route_counters(&self) -> crate::routes::RouteCounters {
        self.routes.routes().counters()
    }

    pub fn config(&self) -> &StatsConfig {
        &self.config
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn alerts(&self) -> &AlertMonitor {
        &self.alert
    }

    /// The latest time seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn first(&self) -> Option<Timestamp> {
        self.first
    }

    /// Counts one request at its own time.
    pub fn record_request(&mut self, req: &RequestEvent<'_>) {
        self.touch(req.ts);
        let sec = second_of(req.ts);
        self.totals.requests += 1;
        self.totals.protocols[req.protocol.index()] += 1;
        self.totals.request_bytes += req.bytes;
        self.per_second.add(sec, 1);
        let (id, taken_over) = self.sections.record(req.section);
        if taken_over {
            // The id now names another section: what the windows hold for it goes to (other).
            self.last_10s.fold_into_other(id);
            self.last_10m.fold_into_other(id);
        }
        self.last_10s.record_hit(sec, id);
        self.last_10m.record_hit(sec, id);
        self.routes.record_request(sec, req.path);
        self.count_method(req.method);
        match &mut self.client_run {
            Some((ip, n)) if *ip == req.client.ip => *n += 1,
            _ => self.count_client(req.client.ip),
        }
    }

    /// Counts a request of a client other than the last one's: the last run goes into
    /// `clients`, and this one starts the next if its client is counted there.
    fn count_client(&mut self, ip: IpAddr) {
        if let Some((last, n)) = self.client_run.take()
            && let Some(c) = self.clients.get_mut(&last)
        {
            *c += n;
        }
        if let Some(n) = self.clients.get_mut(&ip) {
            *n += 1;
        } else if self.clients.len() < MAX_CLIENTS {
            self.clients.insert(ip, 1);
        } else {
            self.clients_folded += 1;
            return;
        }
        self.client_run = Some((ip, 0));
    }

    /// Requests by client address, the current run included.
    fn client_counts(&self) -> impl Iterator<Item = (IpAddr, u64)> + '_ {
        self.clients.iter().map(|(ip, n)| {
            let run = match self.client_run {
                Some((last, r)) if last == *ip => r,
                _ => 0,
            };
            (*ip, n + run)
        })
    }

    /// Past `MAX_METHODS` names, the rest count under `(other)` (which a method token, made of
    /// tchars, can never be).
    fn count_method(&mut self, method: &str) {
        if let Some((_, n)) = self
            .methods
            .iter_mut()
            .find(|(m, _)| sections::same_name(m, method))
        {
            *n += 1;
        } else if self.methods.len() < MAX_METHODS {
            self.methods.push((method.to_owned(), 1));
        } else if let Some((_, n)) = self.methods.iter_mut().find(|(m, _)| m == OTHER_METHOD) {
            *n += 1;
        } else {
            self.methods.push((OTHER_METHOD.to_owned(), 1));
        }
    }

    /// Counts one final response.
    pub fn record_response(&mut self, resp: &ResponseEvent<'_>) {
        self.touch(resp.ts);
        if resp.interim {
            // 100 Continue or 103 Early Hints: seen in the 1xx class, but the request's
            // answer (and its latency) is the final response that follows.
            self.totals.status_classes[StatusClass::Informational.index()] += 1;
            return;
        }
        let sec = second_of(resp.ts);
        self.totals.responses += 1;
        self.totals.response_bytes += resp.bytes;
        self.totals.status_classes[StatusClass::of(resp.status).index()] += 1;
        let latency = resp.latency.map(histogram::bucket_of);
        if let Some(b) = latency {
            self.totals.latency.add_bucket(b, 1);
        }
        // A failed gRPC call travels in a 200: in the section tables it is an error like a 5xx.
        let mut status = resp.status;
        if let Some(code) = resp.grpc_status {
            self.totals.grpc_status[usize::from(code).min(GRPC_CODES)] += 1;
            if code != 0 {
                status = status.max(500);
            }
        }
        let answer = Answer::new(status, latency);
        // A response whose request we never saw has no section; it still counts in totals.
        if let Some(section) = resp.section {
            // Usually answered by the table's cache of recent lookups, without hashing.
            let id = self.sections.lookup(section).unwrap_or(sections::OTHER_ID);
            self.last_10s.record_answer(sec, id, answer);
            self.last_10m.record_answer(sec, id, answer);
        }
        if let Some(path) = resp.path {
            self.routes.record_answer(sec, path, status, answer);
        }
    }

    /// Counts a connection that is not HTTP/1.
    pub fn record_non_http(&mut self, kind: NonHttpKind, server_name: Option<&[u8]>) {
        self.totals.non_http[kind.index()] += 1;
        if let Some(name) = server_name {
            let name = String::from_utf8_lossy(name);
            if self.tls_names.len() < MAX_TLS_NAMES && !self.tls_names.iter().any(|n| *n == name) {
                self.tls_names.push(name.into_owned());
            }
        }
    }

    fn touch(&mut self, ts: Timestamp) {
        if self.first.is_none() {
            self.first = Some(ts);
        }
    }

    /// Moves time forward to `now`, checking the alert at every whole second passed, and
    /// returns the alert transitions in order. Time never moves back: an older `now` is a no-op.
    #[inline]
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<AlertEvent>) {
        // Called for every packet, and all but one a second find the same second already
        // checked: nothing is due and the windows have moved.
        if self.checked == Some(second_of(now).saturating_sub(1)) {
            self.now = self.now.max(now);
            return;
        }
        self.advance_checking(now, out);
    }

    fn advance_checking(&mut self, now: Timestamp, out: &mut Vec<AlertEvent>) {
        if now <= self.now && self.checked.is_some() {
            return;
        }
        self.now = self.now.max(now);
        if self.first.is_none() {
            self.first = Some(now);
        }
        // Second T is checked once time is past T, so every event at exactly T is in.
        let last_due = second_of(now).saturating_sub(1);
        let mut t = match self.checked {
            Some(c) => c + 1,
            None => {
                self.checked = Some(last_due);
                self.move_windows(last_due);
                return;
            }
        };
        let window = self.alert.window_secs();
        while t <= last_due {
            let hits = self.per_second.sum(t, window);
            if let Some(e) = self
                .alert
                .check(Timestamp::from_secs(t), hits, self.dropping)
            {
                out.push(e);
            }
            // Nothing new can arrive in a silent stretch: once the window is empty and the
            // alert quiet, jump to the end instead of checking every second of a long gap.
            if hits == 0
                && !self.alert.is_active()
                && self.per_second.sum(last_due, last_due - t) == 0
            {
                t = last_due;
            }
            t += 1;
        }
        self.checked = Some(last_due);
        self.move_windows(last_due);
    }

    fn move_windows(&mut self, second: u64) {
        self.last_10s.advance(second);
        self.last_10m.advance(second);
        self.routes.advance(second);
    }

    /// Requests in the alert window ending at the last checked second.
    pub fn window_hits(&self) -> u64 {
        self.checked
            .map_or(0, |c| self.per_second.sum(c, self.alert.window_secs()))
    }

    /// A read-only picture for displays. `health` is filled in by the pipeline.
    pub fn snapshot(&self) -> Snapshot {
        snapshot::build(self)
    }
}

#[cfg(test)]
mod tests;
