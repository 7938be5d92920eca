//! Access-log lines as servers write them, at chosen times: for the tests that feed `--log`.

use std::time::{SystemTime, UNIX_EPOCH};

use traffic_watch::time::Timestamp;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `utc` as an access log writes it in a zone `offset_minutes` east of UTC:
/// `24/Nov/2026:08:00:00 +0200`.
pub fn clf_time(utc: u64, offset_minutes: i64) -> String {
    let local = utc.checked_add_signed(offset_minutes * 60).unwrap();
    // "2026-11-24T08:00:00Z"
    let iso = Timestamp::from_secs(local).rfc3339_utc();
    let month: usize = iso[5..7].parse().unwrap();
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{}/{}/{}:{} {sign}{:02}{:02}",
        &iso[8..10],
        MONTHS[month - 1],
        &iso[0..4],
        &iso[11..19],
        off / 60,
        off % 60
    )
}

/// One combined-format line, as nginx writes it by default.
pub fn combined_line(client: u32, utc: u64, target: &str, status: u16) -> String {
    format!(
        "192.0.2.{} - - [{}] \"GET {target} HTTP/1.1\" {status} 512 \"-\" \"e2e/1\"\n",
        client % 250,
        clf_time(utc, 0)
    )
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// 2026-11-24T06:00:00Z.
pub const T0: u64 = 1_795_500_000 - 1_795_500_000 % 86_400 + 6 * 3600;

/// A combined log with `per_second[s]` requests at second `T0 + s`, written in UTC+2.
pub fn spike_log(per_second: &[u64]) -> String {
    let mut log = String::new();
    for (s, n) in per_second.iter().enumerate() {
        let when = clf_time(T0 + s as u64, 120);
        for i in 0..*n {
            log.push_str(&format!(
                "203.0.113.{} - alice [{when}] \"GET /spike/{i} HTTP/1.1\" 200 64 \"https://ref.example/\" \"Mozilla/5.0 (X11)\"\n",
                i % 200
            ));
        }
    }
    log
}

/// Alert transitions the engine must report for `per_second`, window `w` s and threshold
/// `rate`, by brute force: second T is checked once time is past T (a later line), over the
/// hits of seconds (T-w, T]. (kind, UTC second, hits).
pub fn expected_alerts(per_second: &[u64], w: usize, rate: f64) -> Vec<(&'static str, u64, u64)> {
    let mut out = Vec::new();
    let mut active = false;
    // The last second is never checked: no line comes after it.
    for t in 0..per_second.len() - 1 {
        let hits: u64 = per_second[(t + 1).saturating_sub(w)..=t].iter().sum();
        let above = hits as f64 / w as f64 > rate;
        if above != active {
            active = above;
            let kind = if above { "triggered" } else { "recovered" };
            out.push((kind, T0 + t as u64, hits));
        }
    }
    out
}

/// 2/s for 30 s, 30/s for 10 s, 2/s for 60 s: with a 20 s window and 5/s it alerts, then
/// recovers well before the end.
pub fn spike_profile() -> Vec<u64> {
    (0..100)
        .map(|s| if (30..40).contains(&s) { 30 } else { 2 })
        .collect()
}

/// `path` opened for appending, created if missing: as a server opens its log.
pub fn append(path: &std::path::Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}
