//! Keeping the evidence: packets written to pcapng files, off the packet path.
//!
//! - [`pcapng`]: the file format (section, interface, packets, closing statistics block).
//! - [`ring`]: the flight recorder's bounded memory of the last packets.
//! - [`rotation`]: `-w` names and `-C`/`-G`/`-W` rotation, as tcpdump does them.
//! - [`writer`]: the thread that writes, behind a bounded queue; a slow or full disk drops
//!   recorded packets (counted), never captured ones.
//! - [`recorder`]: the flight recorder's state machine, driven by the alert transitions.
//!
//! [`Recording`] holds what a live run asked for (`-w`, `--record-alerts`) and is what the run
//! loop talks to. This room touches the file system; it never reads the clock (time is the
//! packets', or the run loop's tick).
//!
//! Privileges: files are created as the user traffic-watch becomes. The first `-w` file is
//! opened after the drop, as tcpdump `-Z` does; `--record-alerts DIR` is created before the
//! drop, owned by that user, when it does not exist, and an existing directory that user
//! cannot write is warned about at start (recordings then fail and are counted).

pub mod pcapng;
pub mod recorder;
pub mod ring;
pub mod rotation;
pub mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use recorder::Recorder;
pub use ring::{Packet, Ring};
pub use rotation::Rotation;
pub use writer::{Format, Target, Writer};

use crate::error::{Error, Result};
use crate::stats::{AlertEvent, RecordingHealth};
use crate::time::Timestamp;

/// What a live run records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordConfig {
    /// `-w FILE` with its rotation.
    pub write: Option<Rotation>,
    /// `--record-alerts DIR`.
    pub alerts_dir: Option<PathBuf>,
    /// The ring's bounds (`--record-buffer`, and time).
    pub buffer_bytes: usize,
    pub span: Duration,
}

impl RecordConfig {
    pub fn is_empty(&self) -> bool {
        self.write.is_none() && self.alerts_dir.is_none()
    }
}

/// How long the end of a run waits for a writer to empty its queue.
const FINISH_LIMIT: Duration = Duration::from_secs(10);

/// `-w` and the flight recorder of one live run.
pub struct Recording {
    file: Option<(Writer, Vec<Packet>)>,
    recorder: Option<Recorder>,
    quiet: bool,
}

impl Recording {
    /// Before privileges are dropped: creates `--record-alerts DIR` when missing, owned by
    /// `owner` (the uid and gid we become) so files can be created in it after the drop.
    /// Returns a warning when an existing directory will not be writable then.
    pub fn prepare(config: &RecordConfig, owner: Option<(u32, u32)>) -> Result<Option<String>> {
        let Some(dir) = &config.alerts_dir else {
            return Ok(None);
        };
        let write_err = |source| Error::Write {
            path: dir.clone(),
            source,
        };
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(write_err)?;
            }
            return Ok(None);
        }
        let uid = owner.map_or_else(|| nix::unistd::Uid::effective().as_raw(), |o| o.0);
        let gid = owner.map_or_else(|| nix::unistd::Gid::effective().as_raw(), |o| o.1);
        Ok((!writable_by(dir, uid, gid)).then(|| {
            format!(
                "warning: '{}' is not writable by uid {uid}, the user traffic-watch runs as \
                 after dropping privileges: alert recordings will fail (counted); chown it to \
                 that user, pick another directory, or choose the user with -Z",
                dir.display()
            )
        }))
    }

    /// After privileges are dropped: opens the first `-w` file and starts the writers.
    /// `quiet`: the dashboard owns the terminal; write errors are printed when it closes.
    pub fn start(
        config: &RecordConfig,
        format: Format,
        now: Timestamp,
        quiet: bool,
    ) -> Result<Self> {
        let file = match &config.write {
            Some(rotation) => {
                let path = rotation.name(0, now);
                let first = File::create(&path).map_err(|source| Error::Write {
                    path: path.clone(),
                    source,
                })?;
                let target = Target::Rotating {
                    rotation: rotation.clone(),
                    first: (path, first),
                };
                Some((Writer::spawn("write", target, format, quiet)?, Vec::new()))
            }
            None => None,
        };
        let recorder = match &config.alerts_dir {
            Some(dir) => {
                let writer = Writer::spawn("record-alerts", Target::PerAlert, format, quiet)?;
                Some(Recorder::new(
                    dir.clone(),
                    config.buffer_bytes,
                    config.span,
                    writer,
                ))
            }
            None => None,
        };
        Ok(Recording {
            file,
            recorder,
            quiet,
        })
    }

    /// One captured packet (a copy is queued or buffered; nothing waits on the disk).
    pub fn packet(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) {
        if let Some((_, pending)) = &mut self.file {
            pending.push(Packet::new(ts, wire_len, data));
        }
        if let Some(r) = &mut self.recorder {
            r.packet(ts, wire_len, data);
        }
    }

    /// After each batch: hands the copies to the writers.
    pub fn end_batch(&mut self) {
        if let Some((w, pending)) = &mut self.file
            && !pending.is_empty()
        {
            w.packets(std::mem::take(pending));
        }
        if let Some(r) = &mut self.recorder {
            r.end_batch();
        }
    }

    /// An alert transition; returns the flight recorder's file for it.
    pub fn alert(&mut self, e: &AlertEvent) -> Option<PathBuf> {
        self.recorder.as_mut().and_then(|r| r.alert(e))
    }

    /// Time moved on with no packet.
    pub fn tick(&mut self, now: Timestamp) {
        if let Some(r) = &mut self.recorder {
            r.tick(now);
        }
    }

    /// The counters and files, for the health line, summary and metrics.
    pub fn health(&self) -> RecordingHealth {
        let mut h = RecordingHealth {
            file: self.file.as_ref().map(|(w, _)| w.counters()),
            ..RecordingHealth::default()
        };
        if let Some(r) = &self.recorder {
            h.alerts = Some(r.counters());
            h.buffer_bytes = r.buffer_bytes() as u64;
            h.buffer_limit = r.buffer_limit() as u64;
            h.files = r.files().to_vec();
        }
        h
    }

    /// End of the run: closes the files, waits (bounded) for the writers, prints the error
    /// lines kept while the dashboard was up. Returns the final counters.
    pub fn finish(&mut self) -> RecordingHealth {
        self.end_batch();
        let mut h = self.health();
        if let Some((w, _)) = &mut self.file {
            h.file = Some(w.finish(FINISH_LIMIT));
            if self.quiet {
                print_errors(w.take_errors());
            }
        }
        if let Some(r) = &mut self.recorder {
            h.alerts = Some(r.finish(FINISH_LIMIT));
            if self.quiet {
                print_errors(r.take_errors());
            }
        }
        h
    }
}

fn print_errors(lines: Vec<String>) {
    for l in lines {
        eprintln!("traffic-watch: {l}");
    }
}

/// Whether `uid`/`gid` may create files in `dir` (write and search), by its mode bits.
fn writable_by(dir: &Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(dir) else {
        return false;
    };
    if uid == 0 {
        return true;
    }
    let bits = if m.uid() == uid {
        (m.mode() >> 6) & 0o7
    } else if m.gid() == gid {
        (m.mode() >> 3) & 0o7
    } else {
        m.mode() & 0o7
    };
    m.is_dir() && bits & 0o3 == 0o3
}
