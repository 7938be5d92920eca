//! The time forms access logs write, all to UTC [`Timestamp`]s: the Common Log Format's
//! `10/Oct/2000:13:55:36 -0700` (in brackets or not), HAProxy's `06/Feb/2009:12:14:14.655`
//! (local time with no zone, read as UTC), ISO 8601 / RFC 3339 (`2026-11-30T10:00:00+01:00`,
//! `…Z`, fractions), and epoch seconds with a fraction (nginx `$msec`, Caddy's `ts`).

use crate::time::Timestamp;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Digits at `r` as a number; `None` for anything but ASCII digits.
fn num(s: &[u8], r: std::ops::Range<usize>) -> Option<i64> {
    let d = s.get(r)?;
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    d.iter().try_fold(0i64, |n, &b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

/// A checked calendar date and time of day, as seconds since the epoch.
fn civil_secs(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    // 60 allows a leap second.
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn to_timestamp(secs: i64, micros: i64) -> Option<Timestamp> {
    let us = secs.checked_mul(1_000_000)?.checked_add(micros)?;
    u64::try_from(us).ok().map(Timestamp::from_micros)
}

/// `+hhmm`, `+hh:mm`, `Z`: seconds east of UTC.
fn zone(s: &[u8]) -> Option<i64> {
    if s == b"Z" || s == b"z" {
        return Some(0);
    }
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match s.len() {
        5 => (num(s, 1..3)?, num(s, 3..5)?),
        6 if s.get(3) == Some(&b':') => (num(s, 1..3)?, num(s, 4..6)?),
        3 => (num(s, 1..3)?, 0),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// `.123` → microseconds (digits past the sixth are dropped).
fn fraction(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b".").or_else(|| s.strip_prefix(b","))?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut us = 0;
    for i in 0..6 {
        us = us * 10 + digits.get(i).map_or(0, |&b| i64::from(b - b'0'));
    }
    Some(us)
}

/// `10/Oct/2000:13:55:36 -0700` → UTC. The offset is the local time's distance from UTC, so
/// UTC = local − offset.
pub fn parse_clf_time(s: &[u8]) -> Option<Timestamp> {
    // dd/Mon/yyyy:HH:MM:SS +hhmm, exactly 26 bytes.
    if s.len() != 26 || s.get(20) != Some(&b' ') {
        return None;
    }
    let (secs, _) = clf_local(s.get(..20)?)?;
    let z = s.get(21..)?;
    if z.len() != 5 {
        return None;
    }
    Some(secs - zone(z)?).and_then(|t| to_timestamp(t, 0))
}

/// `dd/Mon/yyyy:HH:MM:SS` with an optional fraction, no zone: seconds and microseconds.
fn clf_local(s: &[u8]) -> Option<(i64, i64)> {
    let sep_ok = s.get(2) == Some(&b'/')
        && s.get(6) == Some(&b'/')
        && s.get(11) == Some(&b':')
        && s.get(14) == Some(&b':')
        && s.get(17) == Some(&b':');
    if !sep_ok || s.len() < 20 {
        return None;
    }
    let month_name = s.get(3..6)?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))? as i64
        + 1;
    let secs = civil_secs(
        num(s, 7..11)?,
        month,
        num(s, 0..2)?,
        num(s, 12..14)?,
        num(s, 15..17)?,
        num(s, 18..20)?,
    )?;
    let us = match s.get(20..) {
        Some([]) | None => 0,
        Some(f) => fraction(f)?,
    };
    Some((secs, us))
}

/// HAProxy's `06/Feb/2009:12:14:14.655`: local time without a zone, taken as UTC.
pub fn parse_haproxy_time(s: &[u8]) -> Option<Timestamp> {
    let (secs, us) = clf_local(s)?;
    to_timestamp(secs, us)
}

/// `2026-11-30T10:00:00Z`, `2026-11-30T10:00:00.123+01:00`, a space for the `T`; no zone is UTC.
pub fn parse_iso8601(s: &[u8]) -> Option<Timestamp> {
    if s.len() < 19
        || s.get(4) != Some(&b'-')
        || s.get(7) != Some(&b'-')
        || !matches!(s.get(10), Some(b'T' | b't' | b' '))
        || s.get(13) != Some(&b':')
        || s.get(16) != Some(&b':')
    {
        return None;
    }
    let secs = civil_secs(
        num(s, 0..4)?,
        num(s, 5..7)?,
        num(s, 8..10)?,
        num(s, 11..13)?,
        num(s, 14..16)?,
        num(s, 17..19)?,
    )?;
    let rest = s.get(19..)?;
    let zone_at = rest
        .iter()
        .position(|&b| matches!(b, b'Z' | b'z' | b'+' | b'-'))
        .unwrap_or(rest.len());
    let us = match rest.get(..zone_at)? {
        [] => 0,
        f => fraction(f)?,
    };
    let offset = match rest.get(zone_at..)? {
        [] => 0,
        z => zone(z)?,
    };
    to_timestamp(secs - offset, us)
}

/// `1764496800.123`: seconds since the epoch, with an optional fraction.
pub fn parse_epoch(s: &[u8]) -> Option<Timestamp> {
    let dot = s.iter().position(|&b| b == b'.').unwrap_or(s.len());
    if dot == 0 || dot > 12 {
        return None;
    }
    let secs = num(s, 0..dot)?;
    let us = match s.get(dot..)? {
        [] => 0,
        f => fraction(f)?,
    };
    to_timestamp(secs, us)
}

/// Any of the forms above, told apart by their shape (brackets are removed first).
pub fn parse_any_time(s: &[u8]) -> Option<Timestamp> {
    let s = s
        .strip_prefix(b"[")
        .and_then(|t| t.strip_suffix(b"]"))
        .unwrap_or(s);
    match s.get(2) {
        Some(b'/') => parse_clf_time(s).or_else(|| parse_haproxy_time(s)),
        _ if s.get(4) == Some(&b'-') => parse_iso8601(s),
        _ => parse_epoch(s),
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_clf_time(b"01/Jan/1970:00:00:00 +0000"),
            Some(Timestamp::from_secs(0))
        );
        assert_eq!(parse_clf_time(b"01/Jan/1970:00:00:00 +0100"), None);
        assert_eq!(parse_clf_time(b"29/Feb/2001:00:00:00 +0000"), None);
        assert!(parse_clf_time(b"29/Feb/2000:00:00:00 +0000").is_some());
    }

    #[test]
    fn every_form_gives_the_same_instant() {
        let t = Timestamp::from_micros(1_796_032_800_250_000);
        assert_eq!(t.rfc3339_utc(), "2026-11-30T10:00:00Z");
        let whole = Timestamp::from_secs(t.secs());
        assert_eq!(parse_any_time(b"[30/Nov/2026:11:00:00 +0100]"), Some(whole));
        assert_eq!(parse_any_time(b"30/Nov/2026:10:00:00.250"), Some(t));
        assert_eq!(parse_any_time(b"2026-11-30T10:00:00.25Z"), Some(t));
        assert_eq!(parse_any_time(b"2026-11-30T11:00:00.250+01:00"), Some(t));
        assert_eq!(parse_any_time(b"2026-11-30T05:30:00-0430"), Some(whole));
        assert_eq!(parse_any_time(b"2026-11-30 10:00:00"), Some(whole));
        assert_eq!(parse_any_time(b"1796032800.25"), Some(t));
        assert_eq!(parse_any_time(b"1796032800"), Some(whole));
        for bad in [
            &b""[..],
            b".5",
            b"1e9",
            b"2026-13-01T00:00:00Z",
            b"2026-11-30T10:00:00+2",
            b"2026-11-30T10:00:00.Z",
            b"99999999999999999999",
            b"-5",
        ] {
            assert_eq!(
                parse_any_time(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
