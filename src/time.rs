//! Time as the statistics see it: a `Timestamp` in microseconds since the Unix epoch, taken from
//! the packet headers (event time), and a `Clock` that the live loop reads only to move windows
//! forward when no packet arrives. decode, flow and stats never call the system clock themselves,
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

    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }

    pub fn minus(self, d: Duration) -> Timestamp {
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
        let (y, m, d) = self.date_utc();
        format!("{y:04}-{m:02}-{d:02}T{}Z", self.hms_utc())
    }

    /// Year, month (1..=12) and day (1..=31) in UTC.
    pub fn date_utc(self) -> (i64, u32, u32) {
        let days = i64::try_from(self.secs() / 86_400).unwrap_or(0);
        civil_from_days(days)
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

/// Parses a human duration: `90s`, `2m`, `500ms`, `1h`, `1m30s`, `1.5s`, or plain seconds `10`.
///
/// Units are `h`, `m`, `s` and `ms`; parts add up and may come in any order. The error is one
/// line naming the value in single quotes, ready to show after the option's name.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    duration_reason(s).map_err(|why| format!("invalid duration '{s}': {why}"))
}

/// [`parse_duration`] with the bare reason as error.
pub(crate) fn duration_reason(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| why.to_string();
    let t = s.trim();
    if t.is_empty() {
        return Err(bad(
            "empty; expected e.g. '90s', '2m', '500ms', '1m30s' or '10'",
        ));
    }
    let hint = "expected e.g. '90s', '2m', '500ms', '1h', '1m30s' or plain seconds '10'";
    // Plain number: seconds.
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return secs_to_duration(t, 1.0).ok_or_else(|| bad(hint));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad(hint));
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "h" => 3600.0,
            "m" | "min" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "" => return Err(bad("a number inside needs a unit (h, m, s or ms)")),
            _ => return Err(bad(&format!("unknown unit '{unit}'; use h, m, s or ms"))),
        };
        let part = secs_to_duration(num, scale).ok_or_else(|| bad(hint))?;
        total = total.checked_add(part).ok_or_else(|| bad("too long"))?;
        rest = after;
    }
    Ok(total)
}

fn secs_to_duration(num: &str, scale: f64) -> Option<Duration> {
    let v: f64 = num.parse().ok()?;
    Duration::try_from_secs_f64(v * scale).ok()
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
