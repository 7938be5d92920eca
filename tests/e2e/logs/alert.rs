//! A combined-format access log with a traffic spike, replayed through the statistics engine
//! by the same `HttpSink` path the packets take: the alert triggers and recovers at the
//! seconds the log's own timestamps say, and bad lines in between are only counted.

use std::io::Write;
use std::time::Duration;

use traffic_watch::decode::Endpoint;
use traffic_watch::flow::{HttpSink, NonHttpKind, RequestEvent, ResponseEvent};
use traffic_watch::logs::{self, LogFormat, LogInput, LogInputs, LogItem};
use traffic_watch::stats::{AlertEvent, AlertKind, Stats, StatsConfig, Threshold};
use traffic_watch::time::Timestamp;

struct Sink<'a>(&'a mut Stats);

impl HttpSink for Sink<'_> {
    fn request(&mut self, req: &RequestEvent<'_>) {
        self.0.record_request(req);
    }
    fn response(&mut self, resp: &ResponseEvent<'_>) {
        self.0.record_response(resp);
    }
    fn non_http(&mut self, kind: NonHttpKind, _server: Endpoint, name: Option<&[u8]>) {
        self.0.record_non_http(kind, name);
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A local time two hours ahead of UTC, as a server in UTC+2 logs it. `utc` is within
/// 2026-11-24, so the date does not change.
fn clf_plus_two(utc: u64) -> String {
    let day_start = Timestamp::from_secs(utc).rfc3339_utc();
    assert!(day_start.starts_with("2026-11-24T"));
    let s = (utc % 86_400) + 2 * 3600;
    format!(
        "24/{}/2026:{:02}:{:02}:{:02} +0200",
        MONTHS[10],
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

#[test]
fn spike_in_a_log_alerts_and_recovers_at_log_time() {
    // 2026-11-24T06:00:00Z.
    let t0: u64 = 1_795_500_000 - 1_795_500_000 % 86_400 + 6 * 3600;
    // 1 request/s, then 30/s for 60 s, then 1/s again: 560 s in all.
    let per_second: Vec<u64> = (0..560)
        .map(|s| if (200..260).contains(&s) { 30 } else { 1 })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (s, n) in per_second.iter().enumerate() {
        let when = clf_plus_two(t0 + s as u64);
        for i in 0..*n {
            writeln!(
                f,
                "192.0.2.{} - - [{when}] \"GET /api/{i} HTTP/1.1\" 200 512 \"-\" \"load/1\"",
                i % 250
            )
            .unwrap();
        }
        if s % 100 == 0 {
            writeln!(f, "garbage {s}").unwrap();
        }
    }
    drop(f);

    // What the default 2-minute window and 10 req/s threshold must give, computed naively.
    let window = 120usize;
    let threshold = 10.0;
    let mut expected = Vec::new();
    let mut active = false;
    for t in 0..per_second.len() {
        let hits: u64 = per_second[t.saturating_sub(window - 1)..=t].iter().sum();
        let above = hits as f64 / window as f64 > threshold;
        if above != active {
            active = above;
            expected.push((above, t0 + t as u64, hits));
        }
    }
    assert_eq!(
        expected.iter().map(|e| e.1 - t0).collect::<Vec<_>>(),
        vec![237, 342],
        "the scenario itself"
    );

    let mut stats = Stats::new(StatsConfig {
        window_secs: 120,
        threshold: Threshold::PerSecond(threshold),
        ..StatsConfig::default()
    });
    let mut alerts: Vec<AlertEvent> = Vec::new();
    let mut input = LogInput::open(&path, LogFormat::Combined, false).unwrap();
    loop {
        match input.next(Duration::from_secs(5)).unwrap() {
            LogItem::Entry(e) => {
                // As the pipeline does for packets: windows move to the line's time first.
                stats.advance(e.ts, &mut alerts);
                logs::record(&mut Sink(&mut stats), &e);
            }
            LogItem::Bad(_) => {}
            LogItem::Idle => panic!("no-follow never idles"),
            LogItem::End => break,
        }
    }
    stats.advance(Timestamp::from_secs(t0 + 560), &mut alerts);

    let got: Vec<(bool, u64, u64)> = alerts
        .iter()
        .map(|a| (a.kind == AlertKind::Triggered, a.at.secs(), a.hits))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        alerts[0].message(),
        format!(
            "High traffic generated an alert - hits = {}, triggered at 2026-11-24T06:03:57Z",
            expected[0].2
        )
    );
    let c = input.counters();
    assert_eq!(c.bad_lines, 6);
    let requests: u64 = per_second.iter().sum();
    assert_eq!(c.lines, requests + 6);
    let snap = stats.snapshot();
    assert_eq!(snap.requests, requests);
    assert_eq!(snap.responses, requests);
    assert_eq!(snap.response_bytes, requests * 512);
    assert_eq!(snap.status_classes[2], requests);
    assert_eq!(snap.sections.first().map(|s| s.0.as_str()), Some("/api"));
}

/// Two servers' logs, each in its own time order, their times interleaved: read as one they
/// give the alert of the combined traffic at the seconds it happened, with exact counts. Read
/// one after the other they would not (the second file's lines would all be in the past).
#[test]
fn two_logs_merged_by_time_alert_as_one_timeline() {
    let t0: u64 = 1_795_500_000 - 1_795_500_000 % 86_400 + 6 * 3600;
    // 6 requests/s, then 30/s for 60 s, then 6/s: the spike only crosses the threshold with
    // both servers' requests counted together.
    let per_second: Vec<u64> = (0..400)
        .map(|s| if (100..160).contains(&s) { 30 } else { 6 })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let paths = [dir.path().join("a.log"), dir.path().join("b.log")];
    let mut files: Vec<_> = paths
        .iter()
        .map(|p| std::io::BufWriter::new(std::fs::File::create(p).unwrap()))
        .collect();
    for (s, n) in per_second.iter().enumerate() {
        let when = clf_plus_two(t0 + s as u64);
        for i in 0..*n {
            // Alternate lines between the servers, so each second is in both files.
            let f = &mut files[(i % 2) as usize];
            writeln!(
                f,
                "192.0.2.{} - - [{when}] \"GET /{}/x HTTP/1.1\" 200 100 \"-\" \"load/1\"",
                i % 250,
                if i % 2 == 0 { "a" } else { "b" }
            )
            .unwrap();
        }
    }
    writeln!(files[1], "garbage").unwrap();
    drop(files);

    let (window, threshold) = (60usize, 10.0);
    let mut expected = Vec::new();
    let mut active = false;
    for t in 0..per_second.len() {
        let hits: u64 = per_second[t.saturating_sub(window - 1)..=t].iter().sum();
        let above = hits as f64 / window as f64 > threshold;
        if above != active {
            active = above;
            expected.push((above, t0 + t as u64, hits));
        }
    }
    assert_eq!(expected.len(), 2, "the scenario itself: {expected:?}");

    let mut stats = Stats::new(StatsConfig {
        window_secs: window as u64,
        threshold: Threshold::PerSecond(threshold),
        ..StatsConfig::default()
    });
    let mut alerts: Vec<AlertEvent> = Vec::new();
    let mut input = LogInputs::open(&paths, LogFormat::Combined, false).unwrap();
    let mut last = Timestamp::ZERO;
    loop {
        match input.next(Duration::from_secs(5)).unwrap() {
            LogItem::Entry(e) => {
                assert!(e.ts >= last, "merged lines go forward in time");
                last = e.ts;
                stats.advance(e.ts, &mut alerts);
                logs::record(&mut Sink(&mut stats), &e);
            }
            LogItem::Bad(_) => {}
            LogItem::Idle => panic!("no-follow never idles"),
            LogItem::End => break,
        }
    }
    stats.advance(Timestamp::from_secs(t0 + 400), &mut alerts);
    let got: Vec<(bool, u64, u64)> = alerts
        .iter()
        .map(|a| (a.kind == AlertKind::Triggered, a.at.secs(), a.hits))
        .collect();
    assert_eq!(got, expected);

    let requests: u64 = per_second.iter().sum();
    let c = input.counters();
    assert_eq!((c.lines, c.bad_lines), (requests + 1, 1));
    let snap = stats.snapshot();
    assert_eq!(snap.requests, requests);
    assert_eq!(snap.responses, requests);
    let a: u64 = per_second.iter().map(|n| n.div_ceil(2)).sum();
    let sections: Vec<(String, u64)> = snap.sections.iter().map(|s| (s.0.clone(), s.1)).collect();
    assert!(sections.contains(&("/a".to_owned(), a)), "{sections:?}");
    assert!(
        sections.contains(&("/b".to_owned(), requests - a)),
        "{sections:?}"
    );
    let source = input.describe();
    assert!(
        source.contains("a.log") && source.contains("b.log"),
        "{source}"
    );
    assert_eq!(input.paths(), &paths);
}
