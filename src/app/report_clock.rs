//! When an offline run prints its periodic reports: every `interval` of event time, the first
//! one `interval` after the first event. One type for the runner, which prints them, and for
//! a replay's reading thread, which must hand over its counts right before each one: both
//! step the same clock over the same packet times, so they agree without talking.

use std::time::Duration;

use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct ReportClock {
    interval: Duration,
    next: Option<Timestamp>,
}

impl ReportClock {
    pub fn new(interval: Duration) -> Self {
        ReportClock {
            interval,
            next: None,
        }
    }

    /// Whether a report is due after the event at `ts`; call it once per event, in order.
    pub fn is_due(&mut self, ts: Timestamp) -> bool {
        let due = *self.next.get_or_insert(ts.plus(self.interval));
        if ts < due {
            return false;
        }
        self.next = Some(due.plus(self.interval));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_fall_every_interval_from_the_first_event() {
        let mut c = ReportClock::new(Duration::from_secs(10));
        let s = |secs: u64| Timestamp(secs * 1_000_000);
        let due: Vec<u64> = [100, 105, 109, 110, 111, 125, 129, 130, 131]
            .into_iter()
            .filter(|t| c.is_due(s(*t)))
            .collect();
        // 110 is due; 125 makes up for 120 and moves the next to 130, which is due too.
        assert_eq!(due, [110, 125, 130]);
    }
}
