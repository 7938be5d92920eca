//! Access-log input: a web server's own log as the source of requests, where capture is not
//! allowed or the traffic is TLS. [`parse`] reads Common and Combined Log Format lines,
//! [`follow`] reads a file (or standard input) and follows it through rotation as `tail -F`
//! does, and [`record`] hands each entry to the same [`HttpSink`] the packet path feeds, so the
//! statistics, alerts and displays are the ones capture gets. Time is each line's own
//! timestamp, so an old log replays its alerts exactly.
//!
//! [`LogInput`] puts the three together for a run loop: it yields parsed entries and counts
//! lines, bad lines, cut lines and rotations ([`LogCounters`]). Bad lines are counted and
//! skipped, never fatal.

pub mod follow;
pub mod parse;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

pub use follow::{FollowCounters, LogFollower, MAX_LINE, Next};
pub use parse::{BadLine, LogEntry, LogFormat, parse_clf_time, parse_line};

use crate::decode::{Endpoint, section_of};
use crate::error::Error;
use crate::flow::{HttpSink, RequestEvent, ResponseEvent};

/// What the log input counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounters {
    /// Lines read (good and bad).
    pub lines: u64,
    /// Lines that were not log entries, skipped.
    pub bad_lines: u64,
    /// Lines over [`MAX_LINE`] bytes, cut (they are counted in `lines` too).
    pub long_lines: u64,
    /// Times the followed file was rotated, truncated or recreated.
    pub rotations: u64,
}

/// The server side of every logged request: a log does not say which address and port
/// served it.
const UNKNOWN_SERVER: Endpoint = Endpoint {
    ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    port: 0,
};

/// Feeds one entry to `sink` as the packet path would: a request, then its response, both at
/// the line's time. Latency is unknown (logs record completion, not the first response
/// byte). A client logged by name rather than address counts as `0.0.0.0`.
pub fn record(sink: &mut impl HttpSink, entry: &LogEntry<'_>) {
    let client = Endpoint {
        ip: entry.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        port: 0,
    };
    let section = section_of(entry.method, &entry.target);
    sink.request(&RequestEvent {
        ts: entry.ts,
        client,
        server: UNKNOWN_SERVER,
        method: entry.method,
        target: &entry.target,
        section,
        host: None,
        protocol: entry.protocol(),
        // A log line has the response body size only.
        bytes: 0,
        malformed: None,
    });
    sink.response(&ResponseEvent {
        ts: entry.ts,
        client,
        server: UNKNOWN_SERVER,
        status: entry.status,
        method: Some(entry.method),
        section: Some(section),
        latency: None,
        bytes: entry.bytes,
        interim: false,
        grpc_status: None,
    });
}

/// What [`LogInput::next`] found.
#[derive(Debug)]
pub enum LogItem<'a> {
    Entry(LogEntry<'a>),
    /// A line that was not an entry (already counted).
    Bad(BadLine),
    /// Nothing new within the wait.
    Idle,
    /// The input is over.
    End,
}

/// A log file or standard input, parsed: the piece a run loop drives.
#[derive(Debug)]
pub struct LogInput {
    follower: LogFollower,
    format: LogFormat,
    bad_lines: u64,
}

impl LogInput {
    /// Opens `path` (`-` for standard input); see [`LogFollower::open`] for the errors.
    pub fn open(path: &Path, format: LogFormat, follow: bool) -> Result<Self, Error> {
        Ok(LogInput {
            follower: LogFollower::open(path, follow)?,
            format,
            bad_lines: 0,
        })
    }

    /// The next line, parsed, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Result<LogItem<'_>, Error> {
        match self.follower.next_line(wait)? {
            Next::Line(line) => match parse_line(line, self.format) {
                Ok(e) => Ok(LogItem::Entry(e)),
                Err(b) => {
                    self.bad_lines += 1;
                    Ok(LogItem::Bad(b))
                }
            },
            Next::Idle => Ok(LogItem::Idle),
            Next::End => Ok(LogItem::End),
        }
    }

    pub fn counters(&self) -> LogCounters {
        let f = self.follower.counters();
        LogCounters {
            lines: f.lines,
            bad_lines: self.bad_lines,
            long_lines: f.long_lines,
            rotations: f.rotations,
        }
    }

    /// What is read, for the summary's source line.
    pub fn describe(&self) -> String {
        let p = self.follower.path();
        if p == Path::new("-") {
            "standard input".to_owned()
        } else {
            format!("log {}", p.display())
        }
    }
}
