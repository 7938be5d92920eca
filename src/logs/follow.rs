//! Reading a log file line by line and then following it as `tail -F` does, or standard input.
//!
//! A file is read from its start, then polled every [`POLL`]. At end of file the follower looks
//! at the path again: a different file there (rename-and-create, or deletion and recreation)
//! is switched to once the old one is read to its end (an open file can still be read after it
//! is renamed or deleted); a file that shrank in place (copytruncate) is read again from its
//! start; a path with no file is waited for. Each switch counts as a rotation. Lines longer
//! than [`MAX_LINE`] are cut there, counted, and the rest of that line skipped, so memory is
//! bounded whatever the file holds. Without following, the file is read to its end once.
//!
//! Lines written between a copytruncate's copy and its truncation are lost (they are in the
//! copy only), as with `tail -F`; logrotate documents this for copytruncate.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Longest line kept; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 16 * 1024;
/// How often a followed file is checked for growth and rotation.
pub const POLL: Duration = Duration::from_millis(100);
const CHUNK: usize = 64 * 1024;

/// What [`LogFollower::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// One line, without its `\n` (a `\r` before it is kept; the parser ignores it).
    Line(&'a [u8]),
    /// Nothing new within the wait.
    Idle,
    /// The input is over: end of file without following, or end of standard input.
    End,
}

/// What the follower counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowCounters {
    /// Lines returned, including cut ones.
    pub lines: u64,
    /// Lines longer than [`MAX_LINE`], cut.
    pub long_lines: u64,
    /// Times the followed file was replaced, truncated, or appeared after missing.
    pub rotations: u64,
}

/// A file's identity, to notice that the path now names another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

enum Source {
    /// A regular file being read; `pos` is the offset read up to.
    File { file: File, id: FileId, pos: u64 },
    /// Following a path that has no file (yet, or since deletion).
    Waiting,
    /// Standard input, read on its own thread so a wait can time out.
    Stdin(Receiver<io::Result<Vec<u8>>>),
    /// Nothing more will come.
    Done,
}

/// Reads lines from a file (following it or not) or from standard input.
pub struct LogFollower {
    path: PathBuf,
    follow: bool,
    source: Source,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out.
    start: usize,
    /// Inside a line longer than `MAX_LINE`, dropping bytes until its end.
    skipping: bool,
    /// The source reached its end: a partial last line may be handed out.
    at_end: bool,
    counters: FollowCounters,
}

impl std::fmt::Debug for LogFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFollower")
            .field("path", &self.path)
            .field("follow", &self.follow)
            .field("counters", &self.counters)
            .finish()
    }
}

fn open_error(path: &Path, e: &io::Error) -> Error {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    Error::Config(format!("cannot read log '{}': {why}", path.display()))
}

/// Opens `path` as a regular file (a directory or device is an error).
fn open_file(path: &Path) -> io::Result<(File, FileId)> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::other("it is a directory"));
    }
    Ok((
        file,
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

impl LogFollower {
    /// Opens `path`, or standard input for `-`. With `follow`, a missing file is waited for;
    /// without, it is an error. A directory is always an error. Errors are one line naming the
    /// file.
    pub fn open(path: &Path, follow: bool) -> Result<Self, Error> {
        let source = if path == Path::new("-") {
            Source::Stdin(spawn_stdin_reader().map_err(|e| open_error(path, &e))?)
        } else {
            match open_file(path) {
                Ok((file, id)) => Source::File { file, id, pos: 0 },
                Err(e) if follow && e.kind() == io::ErrorKind::NotFound => Source::Waiting,
                Err(e) => return Err(open_error(path, &e)),
            }
        };
        Ok(LogFollower {
            path: path.to_owned(),
            follow,
            source,
            buf: Vec::with_capacity(CHUNK),
            start: 0,
            skipping: false,
            at_end: false,
            counters: FollowCounters::default(),
        })
    }

    pub fn counters(&self) -> FollowCounters {
        self.counters
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn follows(&self) -> bool {
        self.follow
    }

    /// The next line, waiting at most `wait` for one to arrive.
    pub fn next_line(&mut self, wait: Duration) -> Result<Next<'_>, Error> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some((from, to, next)) = self.find_line() {
                self.start = next;
                self.counters.lines += 1;
                return Ok(Next::Line(self.buf.get(from..to).unwrap_or_default()));
            }
            let got = self.fill(deadline)?;
            if got == 0 {
                if matches!(self.source, Source::Done) && self.pending().is_empty() {
                    return Ok(Next::End);
                }
                if !self.at_end && Instant::now() >= deadline {
                    return Ok(Next::Idle);
                }
            }
        }
    }

    /// Bytes read and not yet handed out.
    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// A complete line among the pending bytes (or a cut or final one): where it begins and
    /// ends in `buf`, and where the next begins.
    fn find_line(&mut self) -> Option<(usize, usize, usize)> {
        if self.skipping {
            match self.pending().iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.start += nl + 1;
                    self.skipping = false;
                }
                None => {
                    self.start = self.buf.len();
                    self.at_end = false;
                    return None;
                }
            }
        }
        let from = self.start;
        let pending = self.pending();
        let len = pending.len();
        if let Some(nl) = pending.iter().take(MAX_LINE + 1).position(|&b| b == b'\n') {
            return Some((from, from + nl, from + nl + 1));
        }
        if len > MAX_LINE {
            // Cut: hand out the first MAX_LINE bytes, skip the rest of the line.
            self.counters.long_lines += 1;
            self.skipping = true;
            return Some((from, from + MAX_LINE, from + MAX_LINE));
        }
        if self.at_end {
            self.at_end = false;
            if len > 0 {
                // The source ended without a final newline: that is still a line.
                return Some((from, from + len, from + len));
            }
        }
        None
    }

    /// Reads more into `buf`. Returns the bytes read; 0 means nothing before the next poll (or
    /// the end). Sets `at_end` when a partial last line should be handed out as it is.
    fn fill(&mut self, deadline: Instant) -> Result<usize, Error> {
        // Compact only when more is needed, so each byte moves at most once per chunk.
        self.buf.drain(..self.start.min(self.buf.len()));
        self.start = 0;
        let mut chunk = [0u8; CHUNK];
        match &mut self.source {
            Source::Done => Ok(0),
            Source::Stdin(rx) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(Ok(data)) => {
                        self.buf.extend_from_slice(&data);
                        Ok(data.len())
                    }
                    Ok(Err(e)) => Err(Error::Config(format!("cannot read standard input: {e}"))),
                    Err(RecvTimeoutError::Timeout) => Ok(0),
                    Err(RecvTimeoutError::Disconnected) => {
                        self.source = Source::Done;
                        self.at_end = true;
                        Ok(0)
                    }
                }
            }
            Source::File { file, pos, .. } => {
                let n = match file.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
                    Err(e) => return Err(open_error(&self.path, &e)),
                };
                if n > 0 {
                    *pos += n as u64;
                    self.buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(n);
                }
                if !self.follow {
                    self.source = Source::Done;
                    self.at_end = true;
                    return Ok(0);
                }
                if self.check_rotation()? {
                    return Ok(0);
                }
                self.pause(deadline);
                Ok(0)
            }
            Source::Waiting => {
                if let Ok((file, id)) = open_file(&self.path) {
                    self.counters.rotations += 1;
                    self.source = Source::File { file, id, pos: 0 };
                    return Ok(0);
                }
                self.pause(deadline);
                Ok(0)
            }
        }
    }

    /// At the end of a followed file: has the path moved on? Returns true when it switched.
    fn check_rotation(&mut self) -> Result<bool, Error> {
        let Source::File { file, id, pos } = &mut self.source else {
            return Ok(false);
        };
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.dev() == id.dev && meta.ino() == id.ino => {
                if meta.len() < *pos {
                    // copytruncate: the same file, shorter than what we read. Start over.
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| open_error(&self.path, &e))?;
                    *pos = 0;
                    self.counters.rotations += 1;
                    self.end_partial_line();
                    return Ok(true);
                }
                Ok(false)
            }
            Ok(_) => {
                // Another file at the path. If the open one shrank first (copytruncate, then
                // replaced within one poll), it holds lines written after the truncate:
                // read them before moving on.
                if file.metadata().map(|m| m.len() < *pos).unwrap_or(false) {
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| open_error(&self.path, &e))?;
                    *pos = 0;
                    self.counters.rotations += 1;
                    self.end_partial_line();
                    return Ok(true);
                }
                // The old one was read to its end just now.
                match open_file(&self.path) {
                    Ok((file, id)) => {
                        self.source = Source::File { file, id, pos: 0 };
                        self.counters.rotations += 1;
                        self.end_partial_line();
                        Ok(true)
                    }
                    // Replaced again, or by something unreadable: look again next poll.
                    Err(_) => Ok(false),
                }
            }
            Err(_) => {
                // Deleted: keep reading the open file (a writer may still append to it)
                // until a new one appears at the path.
                Ok(false)
            }
        }
    }

    /// The old file ended mid-line and will not be continued: hand out what it had.
    fn end_partial_line(&mut self) {
        if !self.pending().is_empty() {
            self.at_end = true;
        }
    }

    fn pause(&self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            std::thread::sleep(left.min(POLL));
        }
    }
}

/// Reads standard input on a thread, in chunks; the channel closes at its end.
fn spawn_stdin_reader() -> io::Result<Receiver<io::Result<Vec<u8>>>> {
    let (tx, rx) = mpsc::sync_channel(16);
    std::thread::Builder::new()
        .name("log-stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut chunk = vec![0u8; CHUNK];
            loop {
                match stdin.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        if tx
                            .send(Ok(chunk.get(..n).unwrap_or_default().to_vec()))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        })?;
    Ok(rx)
}
