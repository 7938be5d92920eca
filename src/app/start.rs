//! Starting a monitor run: open everything that needs privileges (the capture or the files,
//! the listeners, the recordings directory), drop the privileges before the first hostile
//! byte is parsed, say on stderr what is watched and as whom, then hand over to the runner.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::capture_thread::CaptureThread;
use super::config::{Config, Input, LiveSettings, LogSettings, OutputMode, Privileges};
use super::outputs::Outputs;
use super::runner;
use super::source::Source;
use crate::capture::privdrop;
use crate::capture::{CaptureFilter, FileSource, LiveConfig, LiveSource, default_interface};
use crate::error::{Error, Result};
use crate::logs::LogInputs;
use crate::record::Recording;
use crate::time::{Clock, SystemClock};

/// Kernel capture buffer when `-B` is not given: libpcap's 2 MiB default holds only 8
/// full-size frames on loopback (64 KiB MTU).
const DEFAULT_BUFFER_BYTES: usize = 32 * 1024 * 1024;

/// Runs the monitor `config` describes, to its end.
pub fn run(config: &Config) -> Result<()> {
    // Listening sockets and files first (they may need privileges), then everything else.
    let mut outputs = Outputs::open(&config.outputs, config.stats.top_n)?;
    let quiet = config.outputs.mode == OutputMode::Dashboard;
    let (source, stop) = match &config.input {
        Input::Replay(replay) => {
            let file = open_file(&replay.path, replay.filter.as_ref())?;
            // The file is open: parse hostile bytes with no privileges at all.
            drop_quietly(&config.privileges)?;
            print_to_locked_stdout(&mut outputs, config.outputs.mode);
            let source = Source::File {
                file,
                path: replay.path.clone(),
                read: Ok(()),
                two_threads: replay.threads > 1,
                reports: None,
            };
            (source, Arc::new(AtomicBool::new(false)))
        }
        Input::Log(log) => {
            let stop = stop_on_signals()?;
            (open_logs(config, log, &mut outputs, quiet)?, stop)
        }
        Input::Live(live) => {
            let stop = stop_on_signals()?;
            let capture = open_live(live)?;
            (
                start_capture(config, live, capture, &mut outputs, &stop)?,
                stop,
            )
        }
    };
    runner::run(config, source, outputs, stop)
}

/// A flag set by SIGINT or SIGTERM: the runner stops cleanly and prints its summary.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// An offline run prints through one locked, buffered stdout.
fn print_to_locked_stdout(outputs: &mut Outputs, mode: OutputMode) {
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    outputs.print_to(Box::new(out), mode);
}

/// Opens a capture file with its filter, falling back to the filter without its VLAN
/// branches when the file's link type cannot express them (the in-process port test is the
/// same for both).
fn open_file(path: &std::path::Path, filter: Option<&CaptureFilter>) -> Result<FileSource> {
    let Some(filter) = filter else {
        return FileSource::open(path, "", None);
    };
    match FileSource::open(path, &filter.bpf(), filter.ports()) {
        Err(Error::BadFilter { .. }) => FileSource::open(path, &filter.untagged(), filter.ports()),
        other => other,
    }
}

fn open_logs(
    config: &Config,
    log: &LogSettings,
    outputs: &mut Outputs,
    quiet: bool,
) -> Result<Source> {
    let logs = LogInputs::open(&log.paths, log.format.clone(), log.follow)?;
    if log.follow {
        let who = drop_for_log(&config.privileges, logs.paths())?;
        if !quiet {
            eprintln!("traffic-watch: following {}; {who}", logs.describe());
        }
    } else {
        drop_quietly(&config.privileges)?;
        print_to_locked_stdout(outputs, config.outputs.mode);
    }
    Ok(Source::Log {
        logs: Box::new(logs),
        follow: log.follow,
        quiet,
    })
}

/// An open live capture, not yet read (opened while privileged).
pub struct OpenCapture {
    source: LiveSource,
    /// Interface and filter, for messages.
    pub description: String,
}

impl OpenCapture {
    /// Starts the capture thread: the [`Source`] of a live run.
    pub fn start(self, stop: Arc<AtomicBool>) -> Result<Source> {
        let link = self.source.link_type();
        Ok(Source::Capture {
            thread: CaptureThread::spawn(self.source, stop)?,
            link,
            description: self.description,
        })
    }
}

/// Opens the live capture: the interface, the kernel filter and the buffer.
pub fn open_live(live: &LiveSettings) -> Result<OpenCapture> {
    let interface = match &live.interface {
        Some(i) => i.clone(),
        None => default_interface()?,
    };
    let mut settings = LiveConfig {
        interface,
        filter: live.filter.bpf(),
        buffer_bytes: Some(live.buffer_bytes.unwrap_or(DEFAULT_BUFFER_BYTES)),
        snaplen: i32::try_from(live.snaplen).unwrap_or(i32::MAX),
        // Immediate mode on Linux gives one ring slot per snaplen-sized frame, which drops
        // under load; block delivery with a 100 ms timeout packs frames and is still current.
        immediate: false,
        read_timeout: Duration::from_millis(100),
    };
    let source = match LiveSource::open(&settings) {
        // A link type without `vlan` (loopback, cooked): the same test without its branches.
        Err(Error::BadFilter { .. }) => {
            settings.filter = live.filter.untagged();
            LiveSource::open(&settings)?
        }
        other => other?,
    };
    let description = format!("{} ({})", source.interface(), live.filter.untagged());
    Ok(OpenCapture {
        source,
        description,
    })
}

/// After the capture is open: the recordings directory, the privilege drop, the messages,
/// the recording, and the capture thread.
fn start_capture(
    config: &Config,
    live: &LiveSettings,
    capture: OpenCapture,
    outputs: &mut Outputs,
    stop: &Arc<AtomicBool>,
) -> Result<Source> {
    let privileges = &config.privileges;
    let dashboard = config.outputs.mode == OutputMode::Dashboard;
    // The recordings directory must be the dropped user's to create files in after the drop.
    let owner = if privileges.drop {
        privdrop::target_ids(privileges.user.as_deref())?
    } else {
        None
    };
    let record_warning = Recording::prepare(&live.record, owner)?;
    let who = if privileges.drop {
        let d = privdrop::drop_privileges(privileges.user.as_deref())?;
        format!(
            "running as '{}' (uid {}) with no capabilities",
            d.user, d.uid
        )
    } else {
        "keeping privileges (--no-drop-privileges)".to_owned()
    };
    if !dashboard {
        eprintln!("traffic-watch: capturing on {}; {who}", capture.description);
    }
    // Before the dashboard too: a cut capture must not pass for a whole one.
    if let Some(w) = crate::capture::live::snaplen_warning(live.snaplen) {
        eprintln!("traffic-watch: warning: {w}");
    }
    if let Some(w) = record_warning {
        eprintln!("traffic-watch: {w}");
    }
    if !live.record.is_empty() {
        // Files are created as the user we now are, as tcpdump -Z does.
        let format = crate::record::Format {
            linktype: u16::try_from(capture.source.link_type().linktype()).unwrap_or(0),
            snaplen: live.snaplen,
        };
        let recording = Recording::start(&live.record, format, SystemClock.now(), dashboard)?;
        outputs.record(recording);
    }
    capture.start(Arc::clone(stop))
}

/// A followed log is reopened when it rotates, so the user we become must be able to read
/// it: root becomes the usual user with the log's group added, when that group (or everyone)
/// can read the file and search its directories; otherwise privileges are kept, as the only
/// way to follow a root-only log, and the message says so. Standard input needs nothing.
fn drop_for_log(privileges: &Privileges, paths: &[PathBuf]) -> Result<String> {
    if !privileges.drop {
        return Ok("keeping privileges (--no-drop-privileges)".into());
    }
    let user = privileges.user.as_deref();
    let stdin = paths.iter().any(|p| p.as_os_str() == "-");
    if stdin || !nix::unistd::Uid::effective().is_root() {
        let d = privdrop::drop_privileges(user)?;
        return Ok(format!(
            "running as '{}' (uid {}) with no capabilities",
            d.user, d.uid
        ));
    }
    // One extra group can be kept: every log must be readable with it.
    let mut keep: Option<u32> = None;
    for path in paths {
        let unreadable = match privdrop::readable_after_drop(path, user) {
            None => true,
            Some(None) => false,
            Some(Some(g)) => keep.replace(g).is_some_and(|k| k != g),
        };
        if unreadable {
            return Ok(format!(
                "keeping root: {} could not be reopened after a rotation without it (make it \
                 readable by a group, or run as a user who can read it)",
                path.display()
            ));
        }
    }
    let d = privdrop::drop_privileges_keeping_group(user, keep)?;
    let also = keep.map_or_else(String::new, |g| {
        let what = if paths.len() > 1 { "logs'" } else { "log's" };
        format!(", and the {what} group {g}")
    });
    Ok(format!(
        "running as '{}' (uid {}{also}) with no capabilities",
        d.user, d.uid
    ))
}

/// For offline inputs already open: drop root and capabilities if we have them.
fn drop_quietly(privileges: &Privileges) -> Result<()> {
    if privileges.drop {
        privdrop::drop_privileges(privileges.user.as_deref())?;
    }
    Ok(())
}
