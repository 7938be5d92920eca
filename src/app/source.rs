//! Where a run's events come from, behind one type: packets from the capture thread, packets
//! from a file, or access-log lines. [`Source::drain`] moves what is available into the
//! pipeline and tells the runner about each event; [`Source::health`] adds the source's own
//! counters to the snapshot; [`Source::close`] stops it and returns how reading went.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::capture_thread::{CaptureThread, Received};
use super::replay_thread;
use super::report_clock::ReportClock;
use crate::capture::FileSource;
use crate::decode::LinkType;
use crate::error::Result;
use crate::logs::{BadLine, LogInputs, LogItem};
use crate::pipeline::Pipeline;
use crate::stats::{Health, LogHealth};
use crate::time::Timestamp;

/// The longest wait for the capture thread's next batch or a log's next line: the runner's
/// wall-clock steps keep going (it passes the time to its next step, usually shorter).
pub const LIVE_WAIT: Duration = Duration::from_millis(50);
/// Log lines taken in one drain: a backlog still lets the runner publish between drains.
const LOG_LINES_PER_DRAIN: usize = 10_000;

/// One event, already fed to the pipeline.
pub enum Event<'f> {
    /// A packet, with its length on the wire and the bytes captured (the recorder's input).
    Packet {
        ts: Timestamp,
        wire_len: u32,
        frame: &'f [u8],
    },
    /// The packets delivered together have all been seen.
    BatchEnd,
    /// A packet from a file, decoded on the reader's thread.
    Replayed { ts: Timestamp },
    /// An access-log entry.
    Line { ts: Timestamp },
}

/// How a drain left the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Caught up: the wall clock may move the statistics on.
    Current,
    /// A log backlog is being read: its old lines must land at their own time, not "now", so
    /// the wall clock must not move the statistics yet.
    Behind,
    /// Nothing more will come.
    Ended,
}

pub enum Source {
    /// A live capture, read by its own thread.
    Capture {
        thread: CaptureThread,
        link: LinkType,
        description: String,
    },
    /// A capture file, read in one drain; a read error is kept for [`Source::close`] so the
    /// summary of what was read still comes first.
    File {
        file: FileSource,
        path: PathBuf,
        read: Result<()>,
        /// Decode and flows on a reader thread beside the statistics ([`replay_thread`]).
        two_threads: bool,
        /// When the runner prints its periodic reports (set by the runner).
        reports: Option<ReportClock>,
    },
    /// Access logs, followed or read to their end.
    Log {
        logs: Box<LogInputs>,
        follow: bool,
        /// The dashboard holds the terminal: the log's notices are left to its counters.
        quiet: bool,
    },
}

impl Source {
    /// The link type the pipeline decodes frames with.
    pub fn link_type(&self) -> LinkType {
        match self {
            Source::Capture { link, .. } => *link,
            Source::File { file, .. } => file.link_type(),
            Source::Log { .. } => LinkType::RawIp,
        }
    }

    /// Tells a file source when the runner prints its reports (see [`replay_thread::replay`]).
    pub fn set_reports(&mut self, clock: &ReportClock) {
        if let Source::File { reports, .. } = self {
            *reports = Some(clock.clone());
        }
    }

    /// What is watched, for the summary's and the dashboard's source line.
    pub fn describe(&self) -> String {
        match self {
            Source::Capture { description, .. } => description.clone(),
            Source::File { path, .. } => path.display().to_string(),
            Source::Log { logs, .. } => logs.describe(),
        }
    }

    /// Feeds what is available to `pipe`, calling `each` after every event; a live source
    /// waits at most `wait` for something to come.
    pub fn drain(
        &mut self,
        pipe: &mut Pipeline,
        stop: &AtomicBool,
        wait: Duration,
        each: &mut dyn FnMut(&mut Pipeline, Event<'_>),
    ) -> Result<Progress> {
        match self {
            Source::Capture { thread, .. } => match thread.recv(wait) {
                Received::Batch(batch) => {
                    for (ts, wire_len, frame) in batch.packets() {
                        pipe.ingest(ts, frame);
                        each(
                            pipe,
                            Event::Packet {
                                ts,
                                wire_len,
                                frame,
                            },
                        );
                    }
                    each(pipe, Event::BatchEnd);
                    thread.recycle(batch);
                    Ok(Progress::Current)
                }
                Received::Nothing => Ok(Progress::Current),
                // On stop the capture thread drains the kernel buffer and hangs up.
                Received::Ended => Ok(Progress::Ended),
            },
            Source::File {
                file,
                read,
                two_threads,
                reports,
                ..
            } => {
                if *two_threads && let Some(front) = pipe.take_front() {
                    let mut replayed = |p: &mut Pipeline, ts| each(p, Event::Replayed { ts });
                    *read = replay_thread::replay(file, front, reports.take(), pipe, &mut replayed);
                    return Ok(Progress::Ended);
                }
                *read = file.for_each(|ts, frame| {
                    pipe.ingest(ts, frame);
                    // Nothing records a replay (recording needs a live capture), so the
                    // captured length stands in for the length on the wire.
                    let wire_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
                    each(
                        pipe,
                        Event::Packet {
                            ts,
                            wire_len,
                            frame,
                        },
                    );
                });
                Ok(Progress::Ended)
            }
            Source::Log {
                logs,
                follow: false,
                quiet,
            } => {
                loop {
                    match logs.next(Duration::from_millis(200))? {
                        LogItem::Entry(e) => {
                            let ts = e.ts;
                            pipe.record_log(&e);
                            each(pipe, Event::Line { ts });
                        }
                        LogItem::Bad(_) | LogItem::Idle => show_notices(logs, *quiet),
                        LogItem::End => break,
                    }
                }
                show_notices(logs, *quiet);
                Ok(Progress::Ended)
            }
            Source::Log {
                logs,
                follow: true,
                quiet,
            } => {
                let mut progress = Progress::Behind;
                for _ in 0..LOG_LINES_PER_DRAIN {
                    match logs.next(LIVE_WAIT)? {
                        LogItem::Entry(e) => {
                            let ts = e.ts;
                            pipe.record_log(&e);
                            each(pipe, Event::Line { ts });
                        }
                        LogItem::Bad(_) => show_notices(logs, *quiet),
                        LogItem::Idle => {
                            show_notices(logs, *quiet);
                            progress = Progress::Current;
                            break;
                        }
                        LogItem::End => return Ok(Progress::Ended),
                    }
                }
                // Nothing to deliver after a stop: the log stays where it is.
                if stop.load(Ordering::Relaxed) {
                    return Ok(Progress::Ended);
                }
                Ok(progress)
            }
        }
    }

    /// The source's counters, into the snapshot's health.
    pub fn health(&self, h: &mut Health) {
        match self {
            Source::Capture { thread, .. } => thread.health(h),
            Source::File { .. } => {}
            Source::Log { logs, .. } => {
                h.source = logs.describe();
                h.log = Some(log_health(logs));
            }
        }
    }

    /// Stops the source (the capture thread must have been told to stop) and updates `h` one
    /// last time; the error, if reading failed.
    pub fn close(self, h: &mut Health) -> Result<()> {
        match self {
            Source::Capture { thread, .. } => thread.join(h),
            Source::File { read, .. } => read,
            logs @ Source::Log { .. } => {
                logs.health(h);
                Ok(())
            }
        }
    }
}

fn log_health(logs: &LogInputs) -> LogHealth {
    let c = logs.counters();
    LogHealth {
        lines: c.lines,
        bad_lines: c.bad_lines,
        long_lines: c.long_lines,
        rotations: c.rotations,
        // Each reason once it happened, so a clean log's summary stays short.
        bad_by_reason: BadLine::ALL
            .iter()
            .map(|b| {
                (
                    b.counter(),
                    c.bad_by_reason.get(b.index()).copied().unwrap_or(0),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect(),
    }
}

/// The log input's messages (the layout picked, bad-line warnings) on stderr, unless the
/// dashboard holds the terminal (its counters show them there).
fn show_notices(logs: &mut LogInputs, quiet: bool) {
    for n in logs.take_notices() {
        if !quiet {
            eprintln!("traffic-watch: {n}");
        }
    }
}
