//! Access-log input: a web server's own log as the source of requests, where capture is not
//! allowed or the traffic is TLS. [`parse`] reads the Common and Combined Log Formats and their
//! variants, [`template`] nginx `log_format` and Apache `LogFormat` strings, [`json`] JSON
//! lines (nginx `escape=json`, Caddy), [`haproxy`] HAProxy's `httplog`, [`morgan`] Express's
//! `dev`; [`layout`] picks one (or recognises it, for `auto`). [`follow`] reads a file (or
//! standard input) and follows it through rotation as `tail -F` does, [`merge`] reads several
//! as one timeline, and [`record`] hands each entry to the same [`HttpSink`] the packet path
//! feeds, so the statistics, alerts and displays are the ones capture gets. Time is each
//! line's own timestamp, so an old log replays its alerts exactly.
//!
//! [`LogInput`] puts them together for a run loop: it yields parsed entries and counts lines,
//! bad lines by reason, cut lines and rotations ([`LogCounters`]). Bad lines are counted and
//! skipped, never fatal; the first of each burst is shown (in [`LogInput::take_notices`]),
//! so a wrong format is seen at once and a noisy log does not flood the terminal.

pub mod escape;
pub mod follow;
pub mod haproxy;
pub mod json;
pub mod layout;
pub mod merge;
pub mod morgan;
pub mod nginx_conf;
pub mod parse;
pub mod template;
pub mod timefmt;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

pub use follow::{FollowCounters, LogFollower, MAX_LINE, Next};
pub use layout::{FormatSpec, Layout};
pub use merge::{LogInputs, expand_paths};
pub use parse::{BadLine, ClfLayout, LogEntry, LogFormat, TimeUnit, parse_clf_time, parse_line};

use crate::decode::{Endpoint, Malformed, request_path, section_of};
use crate::error::Error;
use crate::flow::{HttpSink, RequestEvent, ResponseEvent};
use crate::time::Timestamp;

/// What the log input counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounters {
    /// Lines read (good and bad).
    pub lines: u64,
    /// Lines that were not log entries, skipped.
    pub bad_lines: u64,
    /// `bad_lines` by [`BadLine::index`].
    pub bad_by_reason: [u64; BadLine::ALL.len()],
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
/// the line's time, with the latency the log's timing field gives (the whole request, as the
/// server timed it). A client logged by name rather than address counts as `0.0.0.0`.
pub fn record(sink: &mut impl HttpSink, entry: &LogEntry<'_>) {
    let client = Endpoint {
        ip: entry.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        port: 0,
    };
    let section = section_of(entry.method, &entry.target);
    let (path, _) = request_path(entry.method, &entry.target, false);
    sink.request(&RequestEvent {
        ts: entry.ts,
        client,
        server: UNKNOWN_SERVER,
        method: entry.method,
        target: &entry.target,
        section,
        path: &path,
        host: None,
        protocol: entry.protocol(),
        // A log line has the response body size only.
        bytes: 0,
        malformed: entry.malformed.then_some(Malformed::RequestLine),
    });
    sink.response(&ResponseEvent {
        ts: entry.ts,
        client,
        server: UNKNOWN_SERVER,
        status: entry.status,
        method: Some(entry.method),
        section: Some(section),
        path: Some(&path),
        latency: entry.latency,
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

/// Lines kept to recognise the layout from (`auto`).
const SAMPLE_LINES: usize = 16;
/// Bad-line warnings shown in a run; later bursts are counted only.
const MAX_WARNINGS: u32 = 20;
/// Bytes of a bad line shown in a warning.
const SHOWN: usize = 200;

/// Bad lines counted, and the warnings to show about them.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    bad_lines: u64,
    bad_by_reason: [u64; BadLine::ALL.len()],
    in_burst: bool,
    warnings: u32,
    notices: Vec<String>,
    /// What the warnings call the input: `log`, or the file's name when several are read.
    name: Option<String>,
}

impl Tally {
    fn see<'a>(&mut self, r: Result<LogEntry<'a>, BadLine>, line: &[u8]) -> LogItem<'a> {
        self.lines += 1;
        match r {
            Ok(e) => {
                self.in_burst = false;
                LogItem::Entry(e)
            }
            // Blank lines are counted but are no one's mistake.
            Err(BadLine::Empty) => {
                self.bad_lines += 1;
                self.bad_by_reason[BadLine::Empty.index()] += 1;
                LogItem::Bad(BadLine::Empty)
            }
            Err(b) => {
                self.bad_lines += 1;
                if let Some(n) = self.bad_by_reason.get_mut(b.index()) {
                    *n += 1;
                }
                if !self.in_burst && self.warnings < MAX_WARNINGS {
                    self.warnings += 1;
                    let cut = line.get(..SHOWN).unwrap_or(line);
                    self.notices.push(format!(
                        "warning: {} line {} not read ({b}): '{}'{}; lines like it are counted as {}, not shown{}",
                        self.name.as_deref().unwrap_or("log"),
                        self.lines,
                        crate::output::escape_bytes(cut),
                        if cut.len() < line.len() { "…" } else { "" },
                        b.counter(),
                        if self.warnings == MAX_WARNINGS { " (no more warnings)" } else { "" },
                    ));
                }
                self.in_burst = true;
                LogItem::Bad(b)
            }
        }
    }
}

/// The time a layout's lines without one are given: only morgan's lines carry no time, and
/// the others need no clock read per line.
fn line_clock(layout: &Layout) -> Timestamp {
    match layout {
        Layout::MorganDev => crate::time::Clock::now(&crate::time::SystemClock),
        _ => Timestamp::ZERO,
    }
}

/// A log file or standard input, parsed: the piece a run loop drives.
#[derive(Debug)]
pub struct LogInput {
    follower: LogFollower,
    spec: FormatSpec,
    /// The layout, once known (at once unless `auto` or JSON field detection).
    layout: Option<(Layout, String)>,
    /// The first lines, read to find the layout, then handed out.
    sample: Vec<Vec<u8>>,
    sample_at: usize,
    sample_ended: bool,
    tally: Tally,
    /// The next line, read by [`LogInput::peek`] and not yet handed out (when `has_held`).
    held: Vec<u8>,
    has_held: bool,
    /// `held`'s time, when it parsed.
    held_ts: Option<Timestamp>,
}

/// What [`LogInput::peek`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// A line is ready; its time, or `None` when it is not an entry.
    Line(Option<Timestamp>),
    Idle,
    End,
}

impl LogInput {
    /// Opens `path` (`-` for standard input); see [`LogFollower::open`] for the errors.
    pub fn open(path: &Path, format: impl Into<FormatSpec>, follow: bool) -> Result<Self, Error> {
        let spec = format.into();
        let layout = match &spec {
            FormatSpec::Fixed(l) => Some((l.clone(), l.describe())),
            _ => None,
        };
        Ok(LogInput {
            follower: LogFollower::open(path, follow)?,
            spec,
            layout,
            sample: Vec::new(),
            sample_at: 0,
            sample_ended: false,
            tally: Tally::default(),
            held: Vec::new(),
            has_held: false,
            held_ts: None,
        })
    }

    pub fn path(&self) -> &Path {
        self.follower.path()
    }

    /// Whether the file is followed as it grows.
    pub fn follows(&self) -> bool {
        self.follower.follows()
    }

    /// Names the file in bad-line warnings, for when several logs are read at once.
    pub fn name_in_warnings(&mut self) {
        self.tally.name = Some(format!("log {}", self.follower.path().display()));
    }

    /// The layout in use and its name, once known.
    pub fn layout(&self) -> Option<&(Layout, String)> {
        self.layout.as_ref()
    }

    /// Messages for the user since the last call: the layout `auto` picked, bad-line warnings.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.tally.notices)
    }

    /// Reads the first lines and picks the layout. `Ok(false)`: not enough lines yet.
    fn detect(&mut self, wait: Duration) -> Result<bool, Error> {
        while self.sample.len() < SAMPLE_LINES && !self.sample_ended {
            match self.follower.next_line(wait)? {
                Next::Line(l) => self.sample.push(l.to_vec()),
                Next::Idle if self.sample.is_empty() => return Ok(false),
                Next::Idle => break,
                Next::End => self.sample_ended = true,
            }
        }
        let real = |l: &&Vec<u8>| !l.iter().all(u8::is_ascii_whitespace);
        let Some(first) = self.sample.iter().find(real) else {
            // Only blank lines so far: wait for more, or end.
            if self.sample_ended {
                return Ok(true);
            }
            return Ok(false);
        };
        match layout::detect(&self.spec, &self.sample) {
            Some((l, name)) => {
                self.tally
                    .notices
                    .push(format!("reading {} as {name}", self.describe_path()));
                self.layout = Some((l, name));
                Ok(true)
            }
            None => {
                let cut = first.get(..SHOWN).unwrap_or(first);
                let what = match self.spec {
                    FormatSpec::Json(_) => "a JSON object with a time, a request and a status",
                    _ => "any access-log format traffic-watch knows",
                };
                Err(Error::Config(format!(
                    "{} does not look like {what}; its first line: '{}'; give its format with --log-format nginx:'<log_format>' or apache:'<LogFormat>' ({})",
                    self.describe_path(),
                    crate::output::escape_bytes(cut),
                    layout::FORMAT_HELP
                )))
            }
        }
    }

    /// Finds the layout if it is not known yet. `Some`: no line can be read now.
    fn ensure_layout(&mut self, wait: Duration) -> Result<Option<Peek>, Error> {
        if self.layout.is_none() {
            if !self.detect(wait)? {
                return Ok(Some(Peek::Idle));
            }
            if self.layout.is_none() {
                // Blank lines only, and the input ended.
                let blank = std::mem::take(&mut self.sample);
                for l in &blank {
                    let _ = self.tally.see(Err(BadLine::Empty), l);
                }
                return Ok(Some(Peek::End));
            }
        }
        Ok(None)
    }

    /// Reads the next line without handing it out, and says when it happened, so that a merge
    /// of several logs can pick which goes first. The next [`LogInput::next`] returns it.
    pub fn peek(&mut self, wait: Duration) -> Result<Peek, Error> {
        if self.has_held {
            return Ok(Peek::Line(self.held_ts));
        }
        if let Some(p) = self.ensure_layout(wait)? {
            return Ok(p);
        }
        let LogInput {
            follower,
            layout,
            sample,
            sample_at,
            held,
            ..
        } = self;
        let Some((layout, _)) = layout.as_ref() else {
            return Ok(Peek::End);
        };
        held.clear();
        if let Some(line) = sample.get(*sample_at) {
            *sample_at += 1;
            held.extend_from_slice(line);
        } else {
            match follower.next_line(wait)? {
                Next::Line(line) => held.extend_from_slice(line),
                Next::Idle => return Ok(Peek::Idle),
                Next::End => return Ok(Peek::End),
            }
        }
        // Parsed again when handed out: an entry borrows its line, which `self` holds.
        let ts = layout.parse(held, line_clock(layout)).ok().map(|e| e.ts);
        self.held_ts = ts;
        self.has_held = true;
        Ok(Peek::Line(ts))
    }

    /// The next line, parsed, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Result<LogItem<'_>, Error> {
        if !self.has_held {
            match self.ensure_layout(wait)? {
                Some(Peek::End) => return Ok(LogItem::End),
                Some(_) => return Ok(LogItem::Idle),
                None => {}
            }
        }
        let LogInput {
            follower,
            layout,
            sample,
            sample_at,
            tally,
            held,
            has_held,
            ..
        } = self;
        let Some((layout, _)) = layout.as_ref() else {
            return Ok(LogItem::End);
        };
        let now = line_clock(layout);
        if *has_held {
            *has_held = false;
            return Ok(tally.see(layout.parse(held, now), held));
        }
        if let Some(line) = sample.get(*sample_at) {
            *sample_at += 1;
            return Ok(tally.see(layout.parse(line, now), line));
        }
        match follower.next_line(wait)? {
            Next::Line(line) => Ok(tally.see(layout.parse(line, now), line)),
            Next::Idle => Ok(LogItem::Idle),
            Next::End => Ok(LogItem::End),
        }
    }

    pub fn counters(&self) -> LogCounters {
        let f = self.follower.counters();
        LogCounters {
            lines: f.lines,
            bad_lines: self.tally.bad_lines,
            bad_by_reason: self.tally.bad_by_reason,
            long_lines: f.long_lines,
            rotations: f.rotations,
        }
    }

    fn describe_path(&self) -> String {
        let p = self.follower.path();
        if p == Path::new("-") {
            "standard input".to_owned()
        } else {
            format!("log {}", p.display())
        }
    }

    /// What is read, for the summary's source line: the file, and its layout once known.
    pub fn describe(&self) -> String {
        match &self.layout {
            Some((_, name)) => format!("{} ({name})", self.describe_path()),
            None => self.describe_path(),
        }
    }
}
