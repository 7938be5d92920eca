//! Child processes: the monitor binary with its NDJSON stdout on a channel and its stderr
//! collected, and any other program (a server, Prometheus) killed when the test lets go of it,
//! passing or failing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use super::bin;
use super::poll::poll;

/// A running program, killed and reaped on drop.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    pub fn spawn(cmd: &mut Command) -> KillOnDrop {
        KillOnDrop(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program())),
        )
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The traffic-watch binary, running: stdout lines (NDJSON) arrive on a channel, stderr lines
/// are kept.
pub struct Monitor {
    child: KillOnDrop,
    lines: Receiver<Value>,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Monitor {
    pub fn spawn(args: &[&str]) -> Monitor {
        Self::spawn_with(args, Stdio::null())
    }

    pub fn spawn_with(args: &[&str], stdin: Stdio) -> Monitor {
        let mut child = KillOnDrop::spawn(
            Command::new(bin().get_program())
                .args(args)
                .stdin(stdin)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let out = child.0.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                // A line that is not JSON arrives as a string, which no `wait_for` matches.
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err = child.0.stderr.take().unwrap();
        let kept = Arc::clone(&stderr);
        let stderr_reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        }));
        Monitor {
            child,
            lines,
            stderr,
            stderr_reader,
        }
    }

    /// A live capture with `--json`, returned once it says the capture is open: only then may
    /// traffic start. Keeps root unless `drop_privileges`.
    pub fn live_as(args: &[&str], drop_privileges: bool) -> Monitor {
        let mut all = args.to_vec();
        all.push("--json");
        if !drop_privileges {
            all.push("--no-drop-privileges");
        }
        let mut mon = Monitor::spawn(&all);
        mon.wait_stderr("capturing on", Duration::from_secs(10));
        mon
    }

    /// [`Monitor::live_as`], keeping root.
    pub fn live(args: &[&str]) -> Monitor {
        Self::live_as(args, false)
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its standard input, once (spawned with `Stdio::piped()`).
    pub fn take_stdin(&mut self) -> std::process::ChildStdin {
        self.child.0.stdin.take().unwrap()
    }

    /// The exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.0.try_wait().unwrap()
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.0.wait().unwrap()
    }

    /// The next stdout line, if one comes within `limit`.
    pub fn next_line(&self, limit: Duration) -> Option<Value> {
        self.lines.recv_timeout(limit).ok()
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Every stderr line so far, as one text.
    pub fn stderr(&self) -> String {
        self.stderr_lines()
            .iter()
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Waits (bounded) until stderr contains `needle`; panics if the program exits first.
    pub fn wait_stderr(&mut self, needle: &str, limit: Duration) {
        poll(&format!("{needle:?} on stderr"), limit, || {
            if self.stderr().contains(needle) {
                return Some(());
            }
            if let Ok(Some(status)) = self.child.0.try_wait() {
                // Its last words are read once its stderr is closed.
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                if self.stderr().contains(needle) {
                    return Some(());
                }
                panic!(
                    "exited ({status}) before saying {needle:?}: {}",
                    self.stderr()
                );
            }
            None
        });
    }

    /// Waits (bounded) for a stdout line matching `want`.
    pub fn wait_for(&self, what: &str, limit: Duration, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if want(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no {what} within {limit:?}; stderr: {}", self.stderr()),
            }
        }
    }

    /// Waits for a report whose request count is `n`.
    pub fn wait_requests(&self, n: u64, limit: Duration) -> Value {
        self.wait_for(&format!("report with {n} requests"), limit, |v| {
            v["type"] == "report" && v["requests"] == n
        })
    }

    /// SIGINT, then the summary line and a clean exit.
    pub fn stop(&mut self) -> Value {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let s = self.wait_for("summary", Duration::from_secs(15), |v| {
            v["type"] == "summary"
        });
        let status = self.child.0.wait().unwrap();
        // The stderr reader ends when the process has closed its stderr.
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        assert!(status.success(), "exit {status}: {}", self.stderr());
        s
    }

    /// [`Monitor::stop`], with every stderr line.
    pub fn stop_with_stderr(mut self) -> (Value, Vec<String>) {
        let summary = self.stop();
        (summary, self.stderr_lines())
    }
}
