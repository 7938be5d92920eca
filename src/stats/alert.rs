//! The high-traffic alert: the average request rate over a window (2 minutes by default)
//! compared with a threshold, checked once per second of event time. Pure: the caller passes
//! the time and the hits in the window.

use std::collections::VecDeque;

use crate::time::Timestamp;

/// When the alert fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Average requests per second over the window must go above this.
    PerSecond(f64),
    /// Total requests in the window must go above this.
    Total(u64),
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Triggered,
    Recovered,
}

/// One alert transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertEvent {
    pub kind: AlertKind,
    pub at: Timestamp,
    /// Requests in the window when it was checked.
    pub hits: u64,
    /// Packets were being dropped while this was decided: `hits` is a lower bound.
    pub lower_bound: bool,
}

impl AlertEvent {
    /// Worded exactly as documented: scripts and log watchers match on this text.
    pub fn message(&self) -> String {
        let mut m = match self.kind {
            AlertKind::Triggered => format!(
                "High traffic generated an alert - hits = {}, triggered at {}",
                self.hits,
                self.at.rfc3339_utc()
            ),
            AlertKind::Recovered => {
                format!("High traffic alert recovered at {}", self.at.rfc3339_utc())
            }
        };
        if self.lower_bound {
            m.push_str(" (packets were dropped: hits is a lower bound)");
        }
        m
    }
}

/// Alert history kept for display; older entries are folded into a count.
pub const MAX_ALERT_HISTORY: usize = 1_000;

/// Decides alert transitions and keeps their history.
#[derive(Debug, Clone)]
pub struct AlertMonitor {
    window_secs: u64,
    threshold: Threshold,
    active: bool,
    history: VecDeque<AlertEvent>,
    folded: u64,
    /// Every trigger since the start, beyond the history cap.
    triggered_total: u64,
}

impl AlertMonitor {
    pub fn new(window_secs: u64, threshold: Threshold) -> Self {
        AlertMonitor {
            window_secs: window_secs.max(1),
            threshold,
            active: false,
            history: VecDeque::new(),
            folded: 0,
            triggered_total: 0,
        }
    }

    pub fn window_secs(&self) -> u64 {
        self.window_secs
    }

    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// True when `hits` over the window is above the threshold.
    pub fn is_above(&self, hits: u64) -> bool {
        match self.threshold {
            Threshold::PerSecond(rate) => hits as f64 / self.window_secs as f64 > rate,
            Threshold::Total(total) => hits > total,
        }
    }

    /// Threshold expressed as requests per second, for display.
    pub fn threshold_rate(&self) -> f64 {
        match self.threshold {
            Threshold::PerSecond(rate) => rate,
            Threshold::Total(total) => total as f64 / self.window_secs as f64,
        }
    }

    /// One check at `at` with `hits` requests in the window ending there.
    pub fn check(&mut self, at: Timestamp, hits: u64, lower_bound: bool) -> Option<AlertEvent> {
        let above = self.is_above(hits);
        let kind = match (self.active, above) {
            (false, true) => AlertKind::Triggered,
            (true, false) => AlertKind::Recovered,
            _ => return None,
        };
        self.active = above;
        if kind == AlertKind::Triggered {
            self.triggered_total += 1;
        }
        let event = AlertEvent {
            kind,
            at,
            hits,
            lower_bound,
        };
        if self.history.len() == MAX_ALERT_HISTORY {
            self.history.pop_back();
            self.folded += 1;
        }
        self.history.push_front(event);
        Some(event)
    }

    /// Newest first.
    pub fn history(&self) -> impl Iterator<Item = &AlertEvent> {
        self.history.iter()
    }

    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Alerts triggered since the start (monotonic, whatever the history cap).
    pub fn triggered_total(&self) -> u64 {
        self.triggered_total
    }

    /// How many older alerts were dropped from the history.
    pub fn folded(&self) -> u64 {
        self.folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn exact_messages() {
        let e = AlertEvent {
            kind: AlertKind::Triggered,
            at: t(1_795_500_699),
            hits: 1201,
            lower_bound: false,
        };
        assert_eq!(
            e.message(),
            "High traffic generated an alert - hits = 1201, triggered at 2026-11-24T06:11:39Z"
        );
        let r = AlertEvent {
            kind: AlertKind::Recovered,
            ..e
        };
        assert_eq!(
            r.message(),
            "High traffic alert recovered at 2026-11-24T06:11:39Z"
        );
        let lb = AlertEvent {
            lower_bound: true,
            ..e
        };
        assert!(
            lb.message()
                .ends_with("(packets were dropped: hits is a lower bound)")
        );
    }

    #[test]
    fn threshold_is_strictly_above() {
        let mut m = AlertMonitor::new(120, Threshold::PerSecond(10.0));
        assert_eq!(m.check(t(1), 1200, false), None, "exactly at the threshold");
        let e = m.check(t(2), 1201, false).unwrap();
        assert_eq!((e.kind, e.hits), (AlertKind::Triggered, 1201));
        assert_eq!(m.check(t(3), 5000, false), None, "no repeat while active");
        let r = m.check(t(4), 1200, false).unwrap();
        assert_eq!(r.kind, AlertKind::Recovered);
        assert_eq!(
            m.check(t(5), 1201, false).unwrap().kind,
            AlertKind::Triggered
        );
        let kinds: Vec<_> = m.history().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                AlertKind::Triggered,
                AlertKind::Recovered,
                AlertKind::Triggered
            ]
        );
    }

    #[test]
    fn total_mode() {
        let mut m = AlertMonitor::new(60, Threshold::Total(100));
        assert_eq!(m.check(t(1), 100, false), None);
        assert_eq!(
            m.check(t(2), 101, false).unwrap().kind,
            AlertKind::Triggered
        );
        assert!((m.threshold_rate() - 100.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn history_is_capped_and_folded() {
        let mut m = AlertMonitor::new(1, Threshold::Total(0));
        for i in 0..(MAX_ALERT_HISTORY as u64 + 10) {
            m.check(t(i), i % 2, false);
        }
        assert_eq!(m.history_len(), MAX_ALERT_HISTORY);
        assert!(m.folded() > 0);
        assert_eq!(
            m.triggered_total(),
            (MAX_ALERT_HISTORY as u64 + 10) / 2,
            "beyond the cap"
        );
    }
}
