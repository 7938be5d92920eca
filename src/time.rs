//! Time as the statistics see it: a `Timestamp` in microseconds since the Unix epoch, taken from
//! the packet headers (event time), and a `Clock` that the live loop reads only to move windows
//! forward when no packet arrives. Nothing below `main`/`capture` calls the system clock itself,
//! so tests of a two-minute window run in microseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_micros(us: u64) -> Self {
        Timestamp(us)
    }

    pub fn from_secs(s: u64) -> Self {
        Timestamp(s.saturating_mul(1_000_000))
    }

    /// From a pcap `timeval`; negative or absurd values clamp to zero rather than panic.
    pub fn from_timeval(sec: i64, usec: i64) -> Self {
        let sec = u64::try_from(sec).unwrap_or(0);
        let usec = u64::try_from(usec).unwrap_or(0).min(999_999);
        Timestamp(sec.saturating_mul(1_000_000).saturating_add(usec))
    }

    pub fn micros(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0 / 1_000_000
    }

    pub fn saturating_sub(self, other: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(other.0))
    }

    pub fn add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }

    pub fn sub(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }

    /// `HH:MM:SS` in UTC, for alert lines and reports.
    pub fn hms_utc(self) -> String {
        let s = self.secs() % 86_400;
        format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }

    /// RFC 3339 in UTC with second precision, e.g. `2026-11-24T06:11:39Z`.
    pub fn rfc3339_utc(self) -> String {
        let secs = self.secs();
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{}Z", self.hms_utc())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where "now" comes from when no packet says so.
pub trait Clock: Send {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        ManualClock(std::sync::Arc::new(std::sync::atomic::AtomicU64::new(at.0)))
    }
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.0.fetch_add(us, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(
            Timestamp::from_secs(0).rfc3339_utc(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_secs(1_795_500_699).rfc3339_utc(),
            "2026-11-24T06:11:39Z"
        );
    }

    #[test]
    fn timeval_clamps() {
        assert_eq!(Timestamp::from_timeval(-5, 3), Timestamp(3));
        assert_eq!(Timestamp::from_timeval(1, 2), Timestamp(1_000_002));
    }

    #[test]
    fn manual_clock_moves() {
        let c = ManualClock::new(Timestamp::from_secs(10));
        c.advance(Duration::from_secs(120));
        assert_eq!(c.now(), Timestamp::from_secs(130));
    }
}

/// Parses a duration as people write it: `90s`, `2m`, `1m30s`, `500ms`, `1h`, or plain seconds
/// (`10`). The error names the bad value.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("'{s}' is not a duration; write e.g. '90s', '2m', '1m30s' or '500ms'");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 && secs < 1e12 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(bad())
        };
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_end == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ms" => 1e-3,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hours" => 3600.0,
            "us" | "µs" => 1e-6,
            _ => return Err(bad()),
        };
        let secs = n * scale;
        if !secs.is_finite() || secs > 1e12 {
            return Err(bad());
        }
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_end..];
    }
    Ok(total)
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "m", "2x", "-5", "1e300", "ten seconds"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
