//! `--log` through the binary, as a user runs it: files followed through rotation and
//! truncation, read through a group after dropping root, standard input, offline reports with
//! a spike, and bad input.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use traffic_watch::time::Timestamp;

use crate::util::access_log::*;
use crate::util::*;

#[test]
#[ignore = "needs root"]
fn a_followed_log_is_read_as_nobody_through_its_group_across_a_rotation() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    // /tmp/…/logs (root:4242, 0750) / access.log (root:4242, 0640): readable through the
    // group only, as nginx's logs are through `adm`.
    const GROUP: u32 = 4242;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::os::unix::fs::chown(&logs, Some(0), Some(GROUP)).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o750)).unwrap();
    let path = logs.join("access.log");
    let write_log = |from: u32, n: u32| {
        let now = now_secs();
        let text: String = (from..from + n)
            .map(|i| combined_line(i, now, "/a/b", 200))
            .collect();
        std::fs::write(&path, text).unwrap();
        std::os::unix::fs::chown(&path, Some(0), Some(GROUP)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    };
    write_log(0, 30);
    let mut tw = Monitor::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("with no capabilities", Duration::from_secs(10));
    assert!(
        tw.stderr()
            .contains(&format!("and the log's group {GROUP}")),
        "{}",
        tw.stderr()
    );
    let pid = tw.id();
    assert!(!proc_status(pid, "Uid").starts_with('0'), "no longer root");
    assert!(
        proc_status(pid, "Groups")
            .split_whitespace()
            .any(|g| g == GROUP.to_string()),
        "keeps the log's group"
    );
    assert_eq!(proc_status(pid, "CapEff"), "0000000000000000");
    tw.wait_requests(30, Duration::from_secs(20));
    // logrotate's `create 0640 root 4242`: rename, then a new file with the same group.
    std::fs::rename(&path, logs.join("access.log.1")).unwrap();
    write_log(30, 20);
    tw.wait_requests(50, Duration::from_secs(20));
    let s = tw.stop();
    assert_eq!(s["requests"], 50);
}

#[test]
#[ignore = "needs root"]
fn a_log_only_root_can_read_is_followed_with_root_kept_and_said_so() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, combined_line(1, now_secs(), "/x", 200)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut tw = Monitor::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("keeping root", Duration::from_secs(10));
    tw.wait_requests(1, Duration::from_secs(20));
    assert_eq!(tw.stop()["requests"], 1);
}

// ---------------------------------------------------------------------------------------------
// Following a log through rotation.
// ---------------------------------------------------------------------------------------------

/// Writes lines like a web server: batches of 10 every 10 ms (about 1000 lines/s) to whatever
/// file the test hands it, counting what was written.
struct Writer {
    file: Arc<Mutex<std::fs::File>>,
    written: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(path: &Path) -> Writer {
        let file = Arc::new(Mutex::new(append(path)));
        let written = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (file, written, stop) =
                (Arc::clone(&file), Arc::clone(&written), Arc::clone(&stop));
            std::thread::spawn(move || {
                let sections = ["/", "/api", "/pages", "/static", "/report"];
                while !stop.load(Ordering::Relaxed) {
                    {
                        let mut f = file.lock().unwrap();
                        let n = written.load(Ordering::Relaxed);
                        let now = now_secs();
                        let batch: String = (n..n + 10)
                            .map(|i| {
                                let s = sections[(i % 5) as usize];
                                combined_line(i as u32, now, &format!("{s}/item{i}"), 200)
                            })
                            .collect();
                        f.write_all(batch.as_bytes()).unwrap();
                        written.store(n + 10, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Writer {
            file,
            written,
            stop,
            thread: Some(thread),
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.written()
    }
}

/// Lines written, and counted, between two rotations.
const LINES_BETWEEN_ROTATIONS: u64 = 300;

#[test]
fn log_follow_through_rotations_counts_every_line_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, "").unwrap();
    let mut tw = Monitor::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("following log", Duration::from_secs(10));
    let w = Writer::start(&path);
    // Between rotations, the writer adds lines and the follower counts them: it has then seen
    // the last rotation (it polls every 100 ms) before the next one comes.
    let write_a_while = || {
        let target = w.written() + LINES_BETWEEN_ROTATIONS;
        poll("the writer's next lines", Duration::from_secs(10), || {
            (w.written() >= target).then_some(())
        });
        tw.wait_for(
            &format!("a report counting {target} lines"),
            Duration::from_secs(10),
            |v| v["type"] == "report" && v["requests"].as_u64().is_some_and(|n| n >= target),
        );
    };

    // logrotate's default: rename, create a new file, the server reopens its log.
    write_a_while();
    {
        let mut f = w.file.lock().unwrap();
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        *f = append(&path);
    }
    // copytruncate. Lines written between the copy and the truncation would be in the copy
    // only (tail -F loses them too), so the writer pauses and the follower catches up first.
    write_a_while();
    {
        let f = w.file.lock().unwrap();
        let n = w.written();
        tw.wait_requests(n, Duration::from_secs(10));
        std::fs::copy(&path, dir.path().join("access.log.2")).unwrap();
        f.set_len(0).unwrap();
    }
    // Deleted and recreated.
    write_a_while();
    {
        let mut f = w.file.lock().unwrap();
        std::fs::remove_file(&path).unwrap();
        *f = append(&path);
    }
    write_a_while();
    let written = w.finish();
    assert!(
        written >= 4 * LINES_BETWEEN_ROTATIONS,
        "lines written around every rotation: {written}"
    );
    tw.wait_requests(written, Duration::from_secs(15));
    let s = tw.stop();
    assert_eq!(s["requests"], written, "{s}");
    assert_eq!(s["counters"]["log_lines"], written);
    assert_eq!(s["counters"]["log_bad_lines"], 0);
    assert_eq!(s["counters"]["log_rotations"], 3, "{}", s["counters"]);
    assert_eq!(s["status"]["2xx"], written);
}

#[test]
fn log_follow_waits_for_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let mut tw = Monitor::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_stderr("following log", Duration::from_secs(10));
    // It is waiting, not failing.
    tw.wait_for("a first report", Duration::from_secs(5), |v| {
        v["type"] == "report" && v["requests"] == 0
    });
    let now = now_secs();
    let lines: String = (0..50)
        .map(|i| combined_line(i, now, "/late/x", 404))
        .collect();
    std::fs::write(&path, lines).unwrap();
    tw.wait_requests(50, Duration::from_secs(10));
    let s = tw.stop();
    assert_eq!(s["requests"], 50);
    assert_eq!(s["status"]["4xx"], 50);
    assert_eq!(s["counters"]["log_rotations"], 1, "appearing counts once");
}

#[test]
fn log_follow_reads_a_truncated_file_before_switching_to_its_replacement() {
    // copytruncate, five lines written to the emptied file, then (within one 100 ms poll)
    // the file is replaced: the five lines are in the old file and must still be read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let now = now_secs();
    let batch = |from: u32| -> String {
        (from..from + 5)
            .map(|i| combined_line(i, now, "/t/x", 200))
            .collect()
    };
    std::fs::write(&path, batch(0).repeat(20)).unwrap();
    let mut tw = Monitor::spawn(&[
        "--log",
        path.to_str().unwrap(),
        "--json",
        "--interval",
        "1s",
    ]);
    tw.wait_requests(100, Duration::from_secs(10));
    let mut f = append(&path);
    f.set_len(0).unwrap();
    f.write_all(batch(100).as_bytes()).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, batch(105)).unwrap();
    tw.wait_for("a report", Duration::from_secs(5), |v| {
        v["type"] == "report"
    });
    let s = tw.stop();
    assert_eq!(s["requests"], 110, "{}", s["counters"]);
    assert_eq!(s["counters"]["log_rotations"], 2);
}

// ---------------------------------------------------------------------------------------------
// Standard input.
// ---------------------------------------------------------------------------------------------

fn n_lines(n: u32) -> String {
    (0..n)
        .map(|i| combined_line(i, T0 + u64::from(i / 50), &format!("/in{}/x", i % 4), 200))
        .collect()
}

#[test]
fn log_from_standard_input_offline_counts_every_line() {
    let out = bin()
        .args(["--log", "-", "--json", "--no-follow"])
        .write_stdin(n_lines(500))
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["requests"], 500);
    assert_eq!(s["source"], "standard input (combined)");
    assert_eq!(s["counters"]["log_lines"], 500);
    assert_eq!(
        crate::util::sections_string(&s),
        "/in0=125;/in1=125;/in2=125;/in3=125"
    );
    assert_eq!(s["first"], Timestamp::from_secs(T0).rfc3339_utc());
    assert_eq!(s["last"], Timestamp::from_secs(T0 + 9).rfc3339_utc());
}

#[test]
fn log_from_a_pipe_streams_and_ends_at_end_of_input() {
    // `tail -f access.log | traffic-watch --log -`: lines are counted as they arrive, and the
    // run ends by itself (with its summary) when the writer closes the pipe.
    let mut tw = Monitor::spawn_with(
        &["--log", "-", "--json", "--interval", "1s"],
        Stdio::piped(),
    );
    let mut stdin = tw.take_stdin();
    let all = n_lines(500);
    let (first, second) = all.split_at(all.match_indices('\n').nth(249).unwrap().0 + 1);
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    tw.wait_requests(250, Duration::from_secs(10));
    stdin.write_all(second.as_bytes()).unwrap();
    drop(stdin);
    let s = tw.wait_for("summary at end of input", Duration::from_secs(10), |v| {
        v["type"] == "summary"
    });
    assert_eq!(s["requests"], 500);
    assert_eq!(s["counters"]["log_lines"], 500);
    let status = tw.wait();
    assert!(status.success());
}

// ---------------------------------------------------------------------------------------------
// An offline log with a spike: alert and recovery at the log's own times.
// ---------------------------------------------------------------------------------------------

#[test]
fn offline_log_spike_alerts_and_recovers_at_the_times_the_log_says() {
    let per_second = spike_profile();
    let expected = expected_alerts(&per_second, 20, 5.0);
    assert_eq!(
        expected.iter().map(|e| (e.0, e.1 - T0)).collect::<Vec<_>>(),
        vec![("triggered", 32), ("recovered", 57)],
        "the scenario itself"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, spike_log(&per_second)).unwrap();
    let out = bin()
        .arg("--log")
        .arg(&path)
        .args([
            "--no-follow",
            "--json",
            "--window",
            "20s",
            "--threshold",
            "5",
        ])
        .args(["--log-format", "combined"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let alerts: Vec<(String, String, u64)> = lines
        .iter()
        .filter(|l| l["type"] == "alert")
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["time"].as_str().unwrap().to_owned(),
                l["hits"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = expected
        .iter()
        .map(|(k, t, h)| ((*k).to_owned(), Timestamp::from_secs(*t).rfc3339_utc(), *h))
        .collect();
    assert_eq!(alerts, want);
    // The +0200 in the log is honoured: 06:00:32Z is 08:00:32 local.
    assert_eq!(alerts[0].1, "2026-11-24T06:00:32Z");
    let trig = lines.iter().find(|l| l["kind"] == "triggered").unwrap();
    assert_eq!(
        trig["message"],
        format!(
            "High traffic generated an alert - hits = {}, triggered at 2026-11-24T06:00:32Z",
            expected[0].2
        )
    );
    let s = lines.last().unwrap();
    assert_eq!(s["type"], "summary");
    let total: u64 = per_second.iter().sum();
    assert_eq!(s["requests"], total);
    assert_eq!(s["alerts"], 2);
    assert_eq!(s["first"], "2026-11-24T06:00:00Z");
    assert_eq!(s["last"], "2026-11-24T06:01:39Z");
    // The same log read as `common` (it ignores the referer and agent) gives the same alerts.
    let common = bin()
        .arg("--log")
        .arg(&path)
        .args([
            "--no-follow",
            "--json",
            "--window",
            "20s",
            "--threshold",
            "5",
        ])
        .args(["--log-format", "common"])
        .output()
        .unwrap();
    let n = json_lines(&common)
        .iter()
        .filter(|l| l["type"] == "alert")
        .count();
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------------------------------------
// Bad input.
// ---------------------------------------------------------------------------------------------

fn offline(path: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("--log")
        .arg(path)
        .args(["--no-follow", "--json"])
        .args(extra)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

/// Exit code 2 and exactly one line on stderr, containing every `needle`.
fn one_line_error(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{n:?} in {err:?}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn garbage_binary_and_long_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // Good lines, garbage, invalid UTF-8 in a good line, a line over 16 KiB.
    let mut log: Vec<u8> = Vec::new();
    for i in 0..10 {
        log.extend_from_slice(combined_line(i, T0 + u64::from(i), "/ok/x", 200).as_bytes());
    }
    for g in [
        "garbage",
        "",
        "127.0.0.1 - - [not a time] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
        "127.0.0.1 - - [24/Nov/2026:06:00:00 +0000] \"-\" 400 0 \"-\" \"-\"",
        "127.0.0.1 - - [24/Nov/2026:06:00:00 +0000] \"GET / HTTP/1.1\" abc 1 \"-\" \"-\"",
    ] {
        log.extend_from_slice(g.as_bytes());
        log.push(b'\n');
    }
    log.extend_from_slice(b"192.0.2.9 - - [24/Nov/2026:06:00:11 +0000] \"GET /caf\xe9/\xff HTTP/1.1\" 200 1 \"-\" \"\xfe\"\n");
    log.extend_from_slice(format!("{}\n", "x".repeat(20_000)).as_bytes());
    let p = dir.path().join("mixed.log");
    std::fs::write(&p, &log).unwrap();
    let out = offline(&p, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    // The `"-" 400` line is a request nginx answered: counted, as malformed.
    assert_eq!(s["requests"], 12, "{s}");
    let c = &s["counters"];
    assert_eq!(c["log_lines"], 17, "{c}");
    assert_eq!(c["log_bad_lines"], 5, "{c}");
    assert_eq!(c["log_long_lines"], 1, "{c}");

    // A binary file: every "line" is bad, nothing is fatal, memory stays bounded.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let p = dir.path().join("binary.log");
    std::fs::write(&p, &bytes).unwrap();
    // `auto` reads no layout in it: an error showing its first line, not `requests: 0`.
    one_line_error(&offline(&p, &[]), &["binary.log", "its first line"]);
    let out = offline(&p, &["--log-format", "combined"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["requests"], 0);
    let c = &s["counters"];
    assert!(c["log_lines"].as_u64().unwrap() > 100, "{c}");
    assert_eq!(c["log_bad_lines"], c["log_lines"], "{c}");
}

#[test]
fn missing_file_directory_and_unknown_format_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.log");
    one_line_error(
        &offline(&missing, &[]),
        &["cannot read log", "nope.log", "no such file"],
    );
    one_line_error(
        &offline(dir.path(), &[]),
        &["cannot read log", "it is a directory"],
    );
    // Following a directory is no better.
    let out = bin()
        .arg("--log")
        .arg(dir.path())
        .arg("--json")
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    one_line_error(&out, &["cannot read log", "it is a directory"]);
    let p = dir.path().join("a.log");
    std::fs::write(&p, n_lines(3)).unwrap();
    let out = offline(&p, &["--log-format", "weird"]);
    one_line_error(&out, &["unknown log format 'weird'", "combined", "common"]);
    // --log and -r are two inputs: clap's usage error (2), not a run.
    let out = bin()
        .arg("--log")
        .arg(&p)
        .args(["-r", "x.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
