//! Keeping the evidence, live on loopback as root: the flight recorder's file for an alert
//! replays to what the server served, with the alert and its recovery; `-w` rotates by size and
//! by time into files libpcap and `-r` read, together holding every packet; a full disk and a
//! directory the dropped user cannot write cost recordings (counted), never counts.
//! Without capture permission each test prints why it skipped.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::util::{Monitor, bin, json_lines, load, require_root, server};

const ALERT_ARGS: [&str; 6] = ["--window", "2s", "--threshold", "20", "--interval", "1s"];

/// A directory the user `nobody` can reach (tempdirs are root's alone).
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn nobody() -> (u32, u32) {
    let u = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    (u.uid.as_raw(), u.gid.as_raw())
}

/// The files in `dir` whose names start with `prefix`, sorted by name.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Packets libpcap reads from `path`.
fn libpcap_packets(path: &Path) -> u64 {
    let mut cap = pcap::Capture::from_file(path).unwrap();
    let mut n = 0;
    loop {
        match cap.next_packet() {
            Ok(_) => n += 1,
            Err(pcap::Error::NoMorePackets) => return n,
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

/// `traffic-watch -r path --json` with `args`: every line.
fn replay(path: &Path, args: &[&str]) -> Vec<Value> {
    let out = bin()
        .arg("-r")
        .arg(path)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out)
}

fn recording<'a>(summary: &'a Value, output: &str) -> &'a Value {
    &summary["recording"][output]
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
#[ignore = "needs root"]
fn an_alert_leaves_a_file_that_replays_to_the_servers_count_with_alert_and_recovery() {
    require_root();
    let tmp = open_tempdir();
    // Not there yet: created before the drop, owned by the user we become.
    let dir = tmp.path().join("alerts");
    let srv = server();
    let port = srv.addr().port().to_string();
    // The alert command sees the file too; it runs as nobody, so it writes where nobody may.
    let hook_out = tmp.path().join("hook");
    std::fs::create_dir(&hook_out).unwrap();
    std::fs::set_permissions(&hook_out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = tmp.path().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf %s \"$TW_ALERT_RECORDING\" > {}/$TW_ALERT_KIND\n",
            hook_out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script_arg = script.to_string_lossy().into_owned();
    let dir_arg = dir.to_string_lossy().into_owned();
    let mut args = vec!["--port", &port, "-Z", "nobody", "--record-alerts", &dir_arg];
    args.extend(["--alert-exec", &script_arg]);
    args.extend(ALERT_ARGS);
    let mon = Monitor::live_as(&args, true);
    let spike = load(port.parse().unwrap(), 200.0, 1.0, true, 2);
    let alert = mon.wait_for("alert", Duration::from_secs(10), |v| v["type"] == "alert");
    assert_eq!(alert["kind"], "triggered");
    let path = PathBuf::from(alert["recording"].as_str().unwrap());
    assert_eq!(path.parent(), Some(dir.as_path()));
    let recovery = mon.wait_for("recovery", Duration::from_secs(10), |v| {
        v["type"] == "alert"
    });
    assert_eq!(recovery["kind"], "recovered");
    assert_eq!(recovery["recording"], alert["recording"]);
    // Everything the server served so far is in the file (the ring holds the whole run);
    // the next request's first packet comes after the recovery and ends the recording, so
    // nothing of it is counted in the file.
    let served = srv.served();
    assert_eq!(served, spike.answered);
    load(port.parse().unwrap(), 10.0, 0.1, false, 1);
    let (summary, stderr) = mon.stop_with_stderr();
    assert!(stderr.iter().all(|l| !l.contains("cannot")), "{stderr:?}");
    let rec = recording(&summary, "alerts");
    assert_eq!(
        (n(&rec["files"]), n(&rec["dropped"]), n(&rec["errors"])),
        (1, 0, 0),
        "{rec}"
    );
    assert!(n(&summary["recording"]["buffer"]["bytes"]) <= 128 << 20);
    // The hooks were drained before the summary was printed.
    assert_eq!(
        n(&summary["counters"]["hooks_delivered"]),
        2,
        "{}",
        summary["counters"]
    );
    for kind in ["triggered", "recovered"] {
        let seen = std::fs::read_to_string(hook_out.join(kind)).unwrap();
        assert_eq!(Path::new(&seen), path, "TW_ALERT_RECORDING for {kind}");
    }
    let (uid, gid) = nobody();
    for p in [&dir, &path] {
        let m = std::fs::metadata(p).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{}", p.display());
    }
    assert_eq!(libpcap_packets(&path), n(&rec["packets"]));

    let lines = replay(&path, &ALERT_ARGS);
    let kinds: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "alert")
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["triggered", "recovered"]);
    let alerts: Vec<&Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert_eq!(alerts[0]["message"], alert["message"]);
    assert_eq!(alerts[1]["message"], recovery["message"]);
    let replayed = lines.last().unwrap();
    assert_eq!(n(&replayed["requests"]), served, "{replayed}");
    assert_eq!(n(&replayed["responses"]), served);
    assert_eq!(n(&replayed["packets"]), n(&rec["packets"]));
    // The alert message travels in the file.
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(alert["message"].as_str().unwrap()));
    assert!(text.contains(recovery["message"].as_str().unwrap()));
}

/// Runs the monitor with `-w` and `extra`, sends `bursts` (each its own load run, with
/// `gap` between), and returns the live summary.
fn write_run(w: &Path, extra: &[&str], bursts: usize, gap: Duration) -> Value {
    let srv = server();
    let port = srv.addr().port().to_string();
    let w = w.to_string_lossy().into_owned();
    let mut args = vec!["--port", &port, "--interval", "1s", "-w", &w];
    args.extend(extra);
    let mon = Monitor::live(&args);
    let mut answered = 0;
    for i in 0..bursts {
        if i > 0 {
            // Rotation by time is the subject: the gap is the traffic's shape, not a wait.
            std::thread::sleep(gap);
        }
        answered += load(port.parse().unwrap(), 300.0, 0.25, false, 2).answered;
    }
    let (summary, stderr) = mon.stop_with_stderr();
    assert!(stderr.iter().all(|l| !l.contains("cannot")), "{stderr:?}");
    assert_eq!(n(&summary["requests"]), answered);
    assert_eq!(srv.served(), answered);
    let rec = recording(&summary, "file");
    assert_eq!((n(&rec["dropped"]), n(&rec["errors"])), (0, 0), "{rec}");
    assert_eq!(n(&rec["packets"]), n(&summary["packets"]), "{rec}");
    summary
}

/// Each file read by libpcap and by `-r`; their packets and requests summed.
fn read_all(paths: &[PathBuf]) -> (u64, u64) {
    let (mut packets, mut requests) = (0, 0);
    for p in paths {
        let by_libpcap = libpcap_packets(p);
        let s = replay(p, &["--summary-only"]).pop().unwrap();
        assert_eq!(n(&s["packets"]), by_libpcap, "{}", p.display());
        packets += by_libpcap;
        requests += n(&s["requests"]);
    }
    (packets, requests)
}

#[test]
#[ignore = "needs root"]
fn write_rotates_by_size_and_the_files_hold_every_packet() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let limit = 20 * 1024;
    let summary = write_run(
        &tmp.path().join("all.pcapng"),
        &["-C", "20k"],
        1,
        Duration::ZERO,
    );
    let paths = files(tmp.path(), "all.pcapng");
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(paths.len() >= 3, "{paths:?} ({total} bytes)");
    // tcpdump's names: all.pcapng, all.pcapng1, all.pcapng2, ...
    for (i, p) in paths.iter().enumerate() {
        let want = if i == 0 {
            "all.pcapng".to_owned()
        } else {
            format!("all.pcapng{i}")
        };
        assert!(
            paths.iter().any(|q| q.ends_with(&want)),
            "{want} in {paths:?}"
        );
        let len = std::fs::metadata(p).unwrap().len();
        let last = i + 1 == paths.len();
        // A new file starts exactly when the current one has grown past the limit.
        assert!(last || len > limit, "{} is {len} bytes", p.display());
    }
    assert_eq!(
        files(tmp.path(), "all.pcapng").len(),
        summary_files(&summary)
    );
    let (packets, requests) = read_all(&paths);
    assert_eq!(packets, n(&summary["packets"]));
    assert_eq!(requests, n(&summary["requests"]));
}

fn summary_files(summary: &Value) -> usize {
    n(&recording(summary, "file")["files"]) as usize
}

#[test]
#[ignore = "needs root"]
fn write_rotates_by_time_and_keeps_at_most_w_files() {
    require_root();
    // Three bursts of a quarter second, 3 s apart, with -G 2: one file each. Rotation runs
    // on packet time; the margins leave a loaded machine room to pace the bursts late.
    let tmp = tempfile::tempdir().unwrap();
    let summary = write_run(
        &tmp.path().join("t.pcapng"),
        &["-G", "2"],
        3,
        Duration::from_secs(3),
    );
    let paths = files(tmp.path(), "t.pcapng");
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert_eq!(summary_files(&summary), 3);
    let (packets, requests) = read_all(&paths);
    assert_eq!(packets, n(&summary["packets"]));
    assert_eq!(requests, n(&summary["requests"]));

    // -C with -W 2: two names, reused in turn.
    let tmp = tempfile::tempdir().unwrap();
    let summary = write_run(
        &tmp.path().join("r.pcapng"),
        &["-C", "8k", "-W", "2"],
        1,
        Duration::ZERO,
    );
    let paths = files(tmp.path(), "r.pcapng");
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["r.pcapng0", "r.pcapng1"]);
    assert!(
        summary_files(&summary) > 2,
        "more files were written than kept"
    );
    read_all(&paths);
}

/// Mounts a small tmpfs at `dir` (root only); false, with the reason, when it cannot.
fn mount_small_tmpfs(dir: &Path) -> bool {
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48k,mode=0777", "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs here (needs root and mount rights)");
    }
    ok
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root"]
fn a_full_disk_drops_recorded_packets_not_counted_ones() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    if !mount_small_tmpfs(&disk) {
        return;
    }
    let _unmount = Unmount(disk.clone());
    let srv = server();
    let port = srv.addr().port().to_string();
    let w = disk.join("all.pcapng").to_string_lossy().into_owned();
    let mon = Monitor::live(&["--port", &port, "--interval", "1s", "-w", &w]);
    let r = load(port.parse().unwrap(), 300.0, 1.0, true, 2);
    let (summary, stderr) = mon.stop_with_stderr();
    assert_eq!(n(&summary["requests"]), r.answered, "monitoring is exact");
    assert_eq!(srv.served(), r.answered);
    let rec = recording(&summary, "file");
    assert_eq!(n(&rec["errors"]), 1, "{rec}");
    assert!(n(&rec["dropped"]) > 0, "{rec}");
    assert_eq!(
        n(&rec["packets"]) + n(&rec["dropped"]),
        n(&summary["packets"]),
        "every packet recorded or counted as dropped: {rec}"
    );
    let errors: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("cannot write"))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {stderr:?}");
    assert!(errors[0].contains("No space left"), "{}", errors[0]);
}

#[test]
#[ignore = "needs root"]
fn a_directory_the_dropped_user_cannot_write_is_warned_about_and_costs_only_the_recording() {
    require_root();
    let tmp = open_tempdir();
    // root's, 0755: nobody may not create files in it.
    let dir = tmp.path().join("root-only");
    std::fs::create_dir(&dir).unwrap();
    let srv = server();
    let port = srv.addr().port().to_string();
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["--port", &port, "-Z", "nobody", "--record-alerts", &d];
    args.extend(ALERT_ARGS);
    let mon = Monitor::live_as(&args, true);
    let r = load(port.parse().unwrap(), 200.0, 1.0, true, 2);
    let alert = mon.wait_for("alert", Duration::from_secs(10), |v| v["type"] == "alert");
    assert!(alert["recording"].as_str().is_some());
    let (summary, stderr) = mon.stop_with_stderr();
    assert_eq!(n(&summary["requests"]), r.answered, "monitoring is exact");
    let rec = recording(&summary, "alerts");
    assert_eq!(
        (n(&rec["packets"]), n(&rec["files"]), n(&rec["errors"])),
        (0, 0, 1),
        "{rec}"
    );
    assert!(n(&rec["dropped"]) > 0, "{rec}");
    assert!(
        stderr.iter().any(|l| l.contains("not writable by uid")),
        "warned at start: {stderr:?}"
    );
    let errors = stderr.iter().filter(|l| l.contains("cannot write")).count();
    assert_eq!(errors, 1, "{stderr:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
#[ignore = "needs root"]
fn the_flight_recorders_memory_stays_within_record_buffer_at_full_rate() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let srv = server();
    let port = srv.addr().port().to_string();
    let d = tmp.path().to_string_lossy().into_owned();
    // No alert (threshold out of reach): the ring only fills, as fast as loopback goes.
    let mut mon = Monitor::live(&[
        "--port",
        &port,
        "--threshold",
        "10000000",
        "--record-alerts",
        &d,
        "--record-buffer",
        "256k",
    ]);
    let r = load(port.parse().unwrap(), 0.0, 1.0, true, 4);
    let summary = mon.stop();
    assert_eq!(n(&summary["requests"]), r.answered);
    let buffer = &summary["recording"]["buffer"];
    assert_eq!(n(&buffer["limit"]), 256 * 1024);
    assert!(
        n(&buffer["bytes"]) > 0 && n(&buffer["bytes"]) <= 256 * 1024,
        "{buffer}"
    );
}
