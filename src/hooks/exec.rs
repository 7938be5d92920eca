//! The alert command: checked once at start-up, run directly (never through a shell) with the
//! alert in its environment, its process group killed past the time limit.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::queue::Queued;
use super::{config_error, kind_str};
use crate::error::Error;

/// The command to run: a program and its arguments, split once, never given to a shell.
#[derive(Debug, Clone)]
pub(super) struct ExecHook {
    program: PathBuf,
    args: Vec<String>,
}

pub(super) fn parse_exec(cmd: &str) -> Result<ExecHook, Error> {
    let mut words = cmd.split_whitespace();
    let Some(program) = words.next() else {
        return Err(config_error("alert command is empty".into()));
    };
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        find_in_path(program).ok_or_else(|| {
            config_error(format!(
                "alert command '{program}' not found on PATH; give its path"
            ))
        })?
    };
    let meta = std::fs::metadata(&path).map_err(|e| {
        config_error(format!(
            "alert command '{}': {}",
            path.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                _ => e.to_string(),
            }
        ))
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(config_error(format!(
            "alert command '{}' is not an executable file",
            path.display()
        )));
    }
    Ok(ExecHook {
        program: path,
        args: words.map(str::to_owned).collect(),
    })
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs the command with the alert in its environment; kills its process group after `limit`.
pub(super) fn run_exec(hook: &ExecHook, queued: &Queued, limit: Duration) -> Result<(), String> {
    let event = &queued.event;
    let mut command = Command::new(&hook.program);
    if let Some(path) = &queued.recording {
        command.env("TW_ALERT_RECORDING", path);
    }
    let mut child = command
        .args(&hook.args)
        .env("TW_ALERT_KIND", kind_str(event.kind))
        .env("TW_ALERT_MESSAGE", event.message())
        .env("TW_ALERT_HITS", event.hits.to_string())
        .env("TW_ALERT_TIME", event.at.rfc3339_utc())
        .env("TW_ALERT_LOWER_BOUND", event.lower_bound.to_string())
        // Output would land on the dashboard's terminal.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so a timeout also ends what a script started.
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed out".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_are_split_once() {
        let h = parse_exec("sh -c  x").unwrap();
        assert!(h.program.ends_with("sh"));
        assert_eq!(h.args, vec!["-c", "x"]);
        assert!(parse_exec("   ").is_err());
        assert!(parse_exec("/nonexistent/notify").is_err());
        assert!(parse_exec("/").is_err());
    }
}
