//! Following an access log through the library API: a writer appends about 1000 lines/s while
//! the file is rotated by rename+create, by copytruncate and by delete+recreate, and every
//! line written is read exactly once, in order. Also: cut long lines, a final line without a
//! newline, waiting for a file that does not exist yet, and the one-line open errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use traffic_watch::logs::{LogFollower, LogFormat, LogInput, LogInputs, LogItem, MAX_LINE, Next};

use crate::util::access_log::append;
use crate::util::eventually;

fn line(i: u64) -> String {
    format!(
        "127.0.0.1 - - [24/Nov/2026:06:11:39 +0000] \"GET /s/{} HTTP/1.1\" 200 {i} \"-\" \"writer\"\n",
        i % 7
    )
}

#[test]
fn lines_survive_rename_copytruncate_and_delete() {
    const TOTAL: u64 = 4000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    // The writer's handle; rotations swap or truncate it while holding the lock, as a server
    // reopening its log (or logrotate truncating it) would between two writes.
    let file = Arc::new(Mutex::new(append(&path)));
    let written = Arc::new(AtomicU64::new(0));
    let read = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let reader = {
        let (path, read, stop) = (path.clone(), Arc::clone(&read), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut input = LogInput::open(&path, LogFormat::Combined, true).unwrap();
            let mut out_of_order = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match input.next(Duration::from_millis(100)).unwrap() {
                    LogItem::Entry(e) => {
                        let want = read.load(Ordering::Relaxed);
                        if e.bytes != want {
                            out_of_order.push((want, e.bytes));
                        }
                        read.store(want + 1, Ordering::Relaxed);
                    }
                    LogItem::Bad(b) => panic!("bad line: {b}"),
                    LogItem::Idle => {}
                    LogItem::End => panic!("a followed file never ends"),
                }
            }
            (input.counters(), out_of_order)
        })
    };
    let writer = {
        let (file, written) = (Arc::clone(&file), Arc::clone(&written));
        std::thread::spawn(move || {
            let start = Instant::now();
            for i in 0..TOTAL {
                {
                    let mut f = file.lock().unwrap();
                    f.write_all(line(i).as_bytes()).unwrap();
                    written.store(i + 1, Ordering::Relaxed);
                }
                // Pace at ~1000 lines/s.
                let due = start + Duration::from_micros(1000 * (i + 1));
                if let Some(d) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        })
    };
    let at = |n: u64| {
        assert!(eventually(Duration::from_secs(20), || written
            .load(Ordering::Relaxed)
            >= n))
    };

    // 1. rename + create: the old file is read to its end, then the new one from its start.
    at(800);
    {
        let mut f = file.lock().unwrap();
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        *f = append(&path);
    }
    // 2. copytruncate. Lines written between the copy and the truncation would be in the copy
    // only (as with tail -F), so the writer is held and the reader allowed to catch up first.
    at(1800);
    {
        let f = file.lock().unwrap();
        let w = written.load(Ordering::Relaxed);
        assert!(
            eventually(Duration::from_secs(10), || read.load(Ordering::Relaxed)
                == w),
            "reader did not catch up before copytruncate"
        );
        std::fs::copy(&path, dir.path().join("access.log.2")).unwrap();
        f.set_len(0).unwrap();
    }
    // 3. delete + recreate.
    at(2800);
    {
        let mut f = file.lock().unwrap();
        std::fs::remove_file(&path).unwrap();
        *f = append(&path);
    }
    writer.join().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || read.load(Ordering::Relaxed)
            == TOTAL),
        "read {} of {TOTAL}",
        read.load(Ordering::Relaxed)
    );
    stop.store(true, Ordering::Relaxed);
    let (counters, out_of_order) = reader.join().unwrap();
    assert!(
        out_of_order.is_empty(),
        "lines out of order: {out_of_order:?}"
    );
    assert_eq!(counters.lines, TOTAL);
    assert_eq!(counters.bad_lines, 0);
    assert_eq!(counters.rotations, 3);
}

fn lines_of(f: &mut LogFollower) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match f.next_line(Duration::from_secs(5)).unwrap() {
            Next::Line(l) => out.push(l.to_vec()),
            Next::Idle => panic!("no-follow never idles at the end"),
            Next::End => return out,
        }
    }
}

#[test]
fn long_lines_are_cut_and_the_rest_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let mut data = line(1).into_bytes();
    data.extend(std::iter::repeat_n(b'x', 100 * 1024));
    data.push(b'\n');
    data.extend_from_slice(line(2).as_bytes());
    data.extend(std::iter::repeat_n(b'y', MAX_LINE));
    data.push(b'\n');
    data.extend_from_slice(b"last line without newline");
    std::fs::write(&path, &data).unwrap();
    let mut f = LogFollower::open(&path, false).unwrap();
    let lines = lines_of(&mut f);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], line(1).trim_end().as_bytes());
    assert_eq!(lines[1], vec![b'x'; MAX_LINE]);
    assert_eq!(lines[2], line(2).trim_end().as_bytes());
    assert_eq!(lines[3].len(), MAX_LINE, "exactly MAX_LINE is not cut");
    assert_eq!(lines[4], b"last line without newline");
    assert_eq!(f.counters().long_lines, 1);
    assert_eq!(f.counters().lines, 5);
}

#[test]
fn garbage_and_binary_files_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin.log");
    // Binary with no newline for 300 kB: one long line, cut.
    let mut data: Vec<u8> = (0..=255u8)
        .cycle()
        .filter(|b| *b != b'\n')
        .take(300_000)
        .collect();
    data.extend_from_slice(b"\n");
    data.extend_from_slice(line(0).as_bytes());
    data.extend_from_slice(b"not a log line\n\xff\xfe\n");
    std::fs::write(&path, &data).unwrap();
    let mut input = LogInput::open(&path, LogFormat::Auto, false).unwrap();
    let mut good = 0;
    loop {
        match input.next(Duration::from_secs(5)).unwrap() {
            LogItem::Entry(_) => good += 1,
            LogItem::Bad(_) => {}
            LogItem::Idle => panic!("no-follow never idles"),
            LogItem::End => break,
        }
    }
    let c = input.counters();
    assert_eq!(good, 1);
    assert_eq!(c.lines, c.bad_lines + 1);
    assert_eq!(c.long_lines, 1);
    assert_eq!(c.lines, 4);
}

#[test]
fn following_waits_for_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let mut f = LogFollower::open(&path, true).unwrap();
    assert_eq!(f.next_line(Duration::from_millis(50)).unwrap(), Next::Idle);
    std::fs::write(&path, b"one\ntwo\n").unwrap();
    let mut got: Vec<Vec<u8>> = Vec::new();
    eventually(Duration::from_secs(10), || {
        if let Next::Line(l) = f.next_line(Duration::from_millis(200)).unwrap() {
            got.push(l.to_vec());
        }
        got.len() >= 2
    });
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(f.counters().rotations, 1);
}

fn err(path: &Path, follow: bool) -> String {
    LogFollower::open(path, follow).err().unwrap().to_string()
}

#[test]
fn missing_file_and_directory_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("nope.log");
    assert_eq!(
        err(&missing, false),
        format!("cannot read log '{}': no such file", missing.display())
    );
    for follow in [false, true] {
        assert_eq!(
            err(dir.path(), follow),
            format!(
                "cannot read log '{}': it is a directory",
                dir.path().display()
            )
        );
    }
}

/// Two followed logs: their backlogs merged by time, then each file's new lines as they are
/// written, every one read once, and a missing second file waited for (as a single one is).
#[test]
fn several_followed_logs_hand_out_lines_as_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let at = |s: u32, bytes: u64| {
        format!(
            "127.0.0.1 - - [24/Nov/2026:06:11:{s:02} +0000] \"GET /x HTTP/1.1\" 200 {bytes} \"-\" \"w\"\n"
        )
    };
    std::fs::write(&a, format!("{}{}", at(1, 1), at(3, 3))).unwrap();
    let mut input = LogInputs::open(&[a.clone(), b.clone()], LogFormat::Combined, true).unwrap();
    let mut read = Vec::new();
    let next = |input: &mut LogInputs| match input.next(Duration::from_millis(100)).unwrap() {
        LogItem::Entry(e) => Some(e.bytes),
        LogItem::Bad(b) => panic!("bad line: {b}"),
        LogItem::Idle => None,
        LogItem::End => panic!("followed files never end"),
    };
    while let Some(n) = next(&mut input) {
        read.push(n);
    }
    assert_eq!(read, [1, 3]);
    // b appears with an older backlog than a's last line: handed out all the same.
    std::fs::write(&b, format!("{}{}", at(0, 10), at(2, 12))).unwrap();
    append(&a).write_all(at(4, 4).as_bytes()).unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        while let Some(n) = next(&mut input) {
            read.push(n);
        }
        read.len() == 5
    }));
    let from_b: Vec<u64> = read.iter().copied().filter(|n| *n >= 10).collect();
    assert_eq!(from_b, [10, 12], "each file's own order: {read:?}");
    assert_eq!(input.counters().lines, 5);
    assert_eq!(input.counters().rotations, 1, "b appearing");
}
