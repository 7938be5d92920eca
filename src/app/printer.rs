//! Plain text or NDJSON on an output stream: reports, alert lines and the summary, each
//! flushed as it is written so a pipe sees it at once.

use std::io::{self, Write};
use std::path::Path;

use super::config::OutputMode;
use crate::output::{json, plain};
use crate::stats::{AlertEvent, Snapshot};

/// Where reports, alerts and the summary go in plain or JSON mode.
pub struct Printer<W: Write> {
    out: W,
    mode: OutputMode,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, mode: OutputMode) -> Self {
        Printer { out, mode }
    }

    /// One alert transition, with the flight recorder's file for it when there is one.
    pub fn alert(&mut self, e: &AlertEvent, recording: Option<&Path>) -> io::Result<()> {
        let line = match self.mode {
            OutputMode::Json => json::alert(e, recording),
            _ => format!("[{}] {}", e.at.rfc3339_utc(), plain::alert(e, recording)),
        };
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    pub fn report(&mut self, s: &Snapshot) -> io::Result<()> {
        match self.mode {
            OutputMode::Json => writeln!(self.out, "{}", json::report(s))?,
            _ => writeln!(self.out, "{}", plain::report(s))?,
        }
        self.out.flush()
    }

    pub fn summary(&mut self, s: &Snapshot) -> io::Result<()> {
        match self.mode {
            OutputMode::Json => writeln!(self.out, "{}", json::summary(s))?,
            _ => write!(self.out, "{}", plain::summary(s))?,
        }
        self.out.flush()
    }
}
