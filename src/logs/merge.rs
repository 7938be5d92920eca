//! Several access logs read as one: `--log a.log --log b.log`, or a glob such as
//! `/var/log/nginx/*.access.log` that the shell left unexpanded (quoted, or matching nothing
//! when it looked).
//!
//! Read to their end, the logs are merged in time order (a k-way merge on each file's next
//! line, each file's own order kept), so the alert and the per-second rates see one timeline
//! whatever the order of the files. Followed, each file's lines are handed out as they arrive,
//! the oldest first among those ready; the statistics never move time back, so a line older
//! than the current second still counts in the totals and sections. Each file detects its own
//! layout.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{FormatSpec, LogCounters, LogInput, LogItem, Peek};
use crate::error::Error;
use crate::time::Timestamp;

/// The logs of one run, read as one input.
#[derive(Debug)]
pub struct LogInputs {
    inputs: Vec<LogInput>,
    paths: Vec<PathBuf>,
    /// Which inputs are over.
    ended: Vec<bool>,
    follow: bool,
}

/// What a look at every input's next line decided.
enum Choice {
    Ready(usize),
    /// Inputs with nothing yet: wait on them.
    Wait(Vec<usize>),
    End,
}

impl LogInputs {
    /// Expands `paths` (see [`expand_paths`]) and opens each; errors are one line naming the
    /// file.
    pub fn open(
        paths: &[PathBuf],
        format: impl Into<FormatSpec>,
        follow: bool,
    ) -> Result<Self, Error> {
        let spec = format.into();
        let paths = expand_paths(paths)?;
        let mut inputs = Vec::with_capacity(paths.len());
        for p in &paths {
            let mut input = LogInput::open(p, spec.clone(), follow)?;
            if paths.len() > 1 {
                input.name_in_warnings();
            }
            inputs.push(input);
        }
        Ok(LogInputs {
            ended: vec![false; inputs.len()],
            inputs,
            paths,
            follow,
        })
    }

    /// The files read, globs expanded.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The next line of any of the logs, waiting at most `wait`: see the module docs for the
    /// order.
    pub fn next(&mut self, wait: Duration) -> Result<LogItem<'_>, Error> {
        if self.inputs.len() == 1 {
            return match self.inputs.first_mut() {
                Some(input) => input.next(wait),
                None => Ok(LogItem::End),
            };
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.choose()? {
                Choice::Ready(i) => {
                    return match self.inputs.get_mut(i) {
                        // It holds the line already: no wait.
                        Some(input) => input.next(Duration::ZERO),
                        None => Ok(LogItem::End),
                    };
                }
                Choice::End => return Ok(LogItem::End),
                Choice::Wait(idle) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(LogItem::Idle);
                    }
                    // Share what is left of the wait among the inputs with nothing yet.
                    let share = left / u32::try_from(idle.len().max(1)).unwrap_or(u32::MAX);
                    for i in idle {
                        let Some(input) = self.inputs.get_mut(i) else {
                            continue;
                        };
                        if input.peek(share)? != Peek::Idle {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Looks at every input's next line without waiting and picks the oldest. Read to their
    /// end, an input with nothing yet (standard input) may still have an older line, so it is
    /// waited for; followed, the lines ready go.
    fn choose(&mut self) -> Result<Choice, Error> {
        let mut best: Option<(usize, Timestamp)> = None;
        let mut idle = Vec::new();
        for (i, input) in self.inputs.iter_mut().enumerate() {
            if self.ended.get(i).copied().unwrap_or(true) {
                continue;
            }
            match input.peek(Duration::ZERO)? {
                // Not an entry: it has no time to wait for, and is only counted.
                Peek::Line(None) => return Ok(Choice::Ready(i)),
                // Strictly older only: on a tie the earlier file goes first.
                Peek::Line(Some(ts)) => {
                    if best.is_none_or(|(_, b)| ts < b) {
                        best = Some((i, ts));
                    }
                }
                Peek::Idle => idle.push(i),
                Peek::End => {
                    if let Some(e) = self.ended.get_mut(i) {
                        *e = true;
                    }
                }
            }
        }
        match best {
            Some((i, _)) if self.follow || idle.is_empty() => Ok(Choice::Ready(i)),
            _ if idle.is_empty() => Ok(Choice::End),
            _ => Ok(Choice::Wait(idle)),
        }
    }

    /// Messages for the user from every log since the last call.
    pub fn take_notices(&mut self) -> Vec<String> {
        self.inputs
            .iter_mut()
            .flat_map(LogInput::take_notices)
            .collect()
    }

    /// The counters of all the logs added up.
    pub fn counters(&self) -> LogCounters {
        let mut sum = LogCounters::default();
        for c in self.inputs.iter().map(LogInput::counters) {
            sum.lines += c.lines;
            sum.bad_lines += c.bad_lines;
            for (s, n) in sum.bad_by_reason.iter_mut().zip(c.bad_by_reason) {
                *s += n;
            }
            sum.long_lines += c.long_lines;
            sum.rotations += c.rotations;
        }
        sum
    }

    /// What is read, for the summary's source line: every file, each with its layout.
    pub fn describe(&self) -> String {
        self.inputs
            .iter()
            .map(LogInput::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl From<LogInput> for LogInputs {
    fn from(input: LogInput) -> Self {
        let follow = input.follows();
        LogInputs {
            paths: vec![input.path().to_owned()],
            inputs: vec![input],
            ended: vec![false],
            follow,
        }
    }
}

fn has_wildcard(s: &OsStr) -> bool {
    s.as_bytes().iter().any(|b| matches!(b, b'*' | b'?'))
}

/// The files `paths` name: each as it is, unless it does not exist and its last component
/// holds `*` or `?`, when it is matched against that directory's files (sorted; a leading
/// `.` only matched by one in the pattern, as the shell does). A file named twice is read
/// once. A pattern matching nothing is an error naming it.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out: Vec<PathBuf> = Vec::new();
    let push = |p: PathBuf, out: &mut Vec<PathBuf>| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for p in paths {
        let name = p.file_name().filter(|n| has_wildcard(n));
        let Some(pattern) = name.filter(|_| p != Path::new("-") && p.symlink_metadata().is_err())
        else {
            push(p.clone(), &mut out);
            continue;
        };
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if has_wildcard(dir.as_os_str()) {
            return Err(Error::Config(format!(
                "cannot read log '{}': only its file name may hold * or ?",
                p.display()
            )));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::Config(format!(
                "cannot read log '{}': its directory: {e}",
                p.display()
            ))
        })?;
        let pattern = pattern.as_bytes();
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name();
                let n = n.as_bytes();
                let hidden_ok = !n.starts_with(b".") || pattern.starts_with(b".");
                hidden_ok && wildcard_match(pattern, n)
            })
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        if found.is_empty() {
            return Err(Error::Config(format!(
                "cannot read log '{}': no file matches",
                p.display()
            )));
        }
        found.sort();
        for f in found {
            push(f, &mut out);
        }
    }
    Ok(out)
}

/// `*` (any run of bytes) and `?` (one byte) against a file name; anything else literal.
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and the name position it is tried to match up to.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == name.get(n) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, n: &str| wildcard_match(p.as_bytes(), n.as_bytes());
        assert!(m("*.access.log", "a.access.log"));
        assert!(m("*.access.log", ".access.log"));
        assert!(!m("*.access.log", "a.access.log.1"));
        assert!(m("access.log*", "access.log"));
        assert!(m("a?c*", "abcdef"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b", "xxaxxbxx"));
        assert!(m("*", ""));
        assert!(!m("?", ""));
    }

    #[test]
    fn globs_expand_sorted_and_dedup() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "b.access.log",
            "a.access.log",
            "a.error.log",
            ".h.access.log",
        ] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let got = expand_paths(&[
            dir.path().join("a.access.log"),
            dir.path().join("*.access.log"),
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                dir.path().join("a.access.log"),
                dir.path().join("b.access.log")
            ]
        );
        let err = expand_paths(&[dir.path().join("*.nothing")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("*.nothing") && err.contains("no file matches"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        // A path that exists is taken as it is, even with a `*` in its name.
        std::fs::write(dir.path().join("odd*.log"), "").unwrap();
        assert_eq!(
            expand_paths(&[dir.path().join("odd*.log")]).unwrap(),
            vec![dir.path().join("odd*.log")]
        );
    }
}
