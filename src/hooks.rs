//! Alert hooks: run a command (`--alert-exec`) and POST a webhook (`--alert-webhook`) on every
//! alert and recovery, without ever holding up capture or the dashboard.
//!
//! [`AlertHooks::fire`] only queues the event (a bounded queue: when it is full the event is
//! dropped and counted); one worker thread delivers each event to each hook in turn, each
//! delivery limited in time (the command's process group is killed, the request abandoned).
//! The command is run directly, never through a shell: its words are split on whitespace once,
//! when the hooks are built, and the alert's values reach it in environment variables
//! (`TW_ALERT_KIND`, `TW_ALERT_MESSAGE`, `TW_ALERT_HITS`, `TW_ALERT_TIME`,
//! `TW_ALERT_LOWER_BOUND`). The webhook is plain `http://` over a minimal HTTP/1.1 client:
//! HTTPS is not supported (point it at a local relay). Its JSON body has a Slack-compatible
//! `text` and a Discord-compatible `content`, both the alert message, plus `kind`, `hits`,
//! `time` and `lower_bound`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::stats::{AlertEvent, AlertKind};

/// Events waiting for the worker before new ones are dropped.
pub const QUEUE_LEN: usize = 64;
/// How long one delivery (one command run, one request) may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(5);

/// The command to run: a program and its arguments, split once, never given to a shell.
#[derive(Debug, Clone)]
struct ExecHook {
    program: PathBuf,
    args: Vec<String>,
}

/// Where to POST: an `http://` URL taken apart.
#[derive(Debug, Clone)]
struct WebhookTarget {
    /// `host:port` to connect to (the host as written, brackets kept for IPv6).
    authority: String,
    /// The `Host` header value.
    host_header: String,
    /// Path and query, at least `/`.
    path: String,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    failures: AtomicU64,
    dropped: AtomicU64,
    /// Set when the owner is gone and the grace period passed: skip what is still queued.
    abandon: AtomicBool,
}

/// The configured hooks and their delivery thread. Dropping it lets the queue drain for at
/// most one time limit (plus a second); what is still queued then is skipped, and the worker
/// ends after its current delivery, itself time-limited.
#[derive(Debug)]
pub struct AlertHooks {
    tx: Mutex<Option<SyncSender<AlertEvent>>>,
    done: Mutex<Option<Receiver<()>>>,
    counters: Arc<Counters>,
    limit: Duration,
}

impl AlertHooks {
    /// Checks the command and URL now, so a mistake is a one-line error at start-up rather
    /// than a failure at the first alert. With neither, nothing runs and `fire` does nothing.
    pub fn new(exec: Option<String>, webhook: Option<String>) -> Result<Self, Error> {
        Self::with_time_limit(exec, webhook, TIME_LIMIT)
    }

    /// [`AlertHooks::new`] with another time limit per delivery.
    pub fn with_time_limit(
        exec: Option<String>,
        webhook: Option<String>,
        limit: Duration,
    ) -> Result<Self, Error> {
        let exec = exec.as_deref().map(parse_exec).transpose()?;
        let webhook = webhook.as_deref().map(parse_webhook).transpose()?;
        let counters = Arc::new(Counters::default());
        if exec.is_none() && webhook.is_none() {
            return Ok(AlertHooks {
                tx: Mutex::new(None),
                done: Mutex::new(None),
                counters,
                limit,
            });
        }
        let (tx, rx) = mpsc::sync_channel::<AlertEvent>(QUEUE_LEN);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let worker_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("alert-hooks".into())
            .spawn(move || {
                for event in rx {
                    if worker_counters.abandon.load(Ordering::Relaxed) {
                        worker_counters.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    for ok in [
                        exec.as_ref().map(|h| run_exec(h, &event, limit)),
                        webhook.as_ref().map(|w| post_webhook(w, &event, limit)),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        let c = if ok.is_ok() {
                            &worker_counters.delivered
                        } else {
                            &worker_counters.failures
                        };
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| Error::Other(format!("cannot start the alert hook thread: {e}")))?;
        Ok(AlertHooks {
            tx: Mutex::new(Some(tx)),
            done: Mutex::new(Some(done_rx)),
            counters,
            limit,
        })
    }

    /// True when no hook is configured (or the hooks were drained).
    pub fn is_empty(&self) -> bool {
        self.tx.lock().map(|t| t.is_none()).unwrap_or(true)
            && self.done.lock().map(|d| d.is_none()).unwrap_or(true)
    }

    /// Queues `event` for the hooks and returns at once.
    pub fn fire(&self, event: &AlertEvent) {
        let Ok(guard) = self.tx.lock() else { return };
        let Some(tx) = guard.as_ref() else { return };
        match tx.try_send(*event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Deliveries that succeeded (one per hook per event): exit status 0, or an HTTP 2xx.
    pub fn delivered(&self) -> u64 {
        self.counters.delivered.load(Ordering::Relaxed)
    }

    /// Deliveries that failed: could not start, non-zero exit, no 2xx answer, or timed out.
    pub fn failures(&self) -> u64 {
        self.counters.failures.load(Ordering::Relaxed)
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

impl AlertHooks {
    /// Closes the queue and waits (at most one time limit plus a second) for what is queued
    /// to be delivered, so the counters are final: call it before printing a summary. What
    /// is still queued after the wait is skipped.
    pub fn drain(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            *tx = None;
        }
        let done = self.done.lock().ok().and_then(|mut d| d.take());
        if let Some(done) = done
            && done
                .recv_timeout(self.limit + Duration::from_secs(1))
                .is_err()
        {
            self.counters.abandon.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for AlertHooks {
    fn drop(&mut self) {
        // A recovery at shutdown is worth sending: wait a little for the queue, never forever.
        self.drain();
    }
}

fn config_error(msg: String) -> Error {
    Error::Config(msg)
}

fn parse_exec(cmd: &str) -> Result<ExecHook, Error> {
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

fn parse_webhook(url: &str) -> Result<WebhookTarget, Error> {
    let bad = |why: &str| config_error(format!("bad alert webhook URL '{url}': {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http://host[:port]/path"))?;
    if scheme.eq_ignore_ascii_case("https") {
        return Err(bad(
            "https is not supported; use an http:// URL (e.g. a local relay)",
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(bad("only http:// URLs are supported"));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if authority.contains('@') {
        return Err(bad("user info in the URL is not supported"));
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80)
    {
        return Err(bad("spaces and control characters are not allowed"));
    }
    // host, host:port, [v6], [v6]:port
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("bad port"))?),
        };
        (format!("[{h}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    Ok(WebhookTarget {
        authority: format!("{host}:{port}"),
        host_header: if port == 80 {
            host
        } else {
            format!("{host}:{port}")
        },
        path,
    })
}

fn kind_str(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Triggered => "triggered",
        AlertKind::Recovered => "recovered",
    }
}

/// The webhook body.
pub fn webhook_json(event: &AlertEvent) -> String {
    let message = event.message();
    serde_json::json!({
        "text": message,
        "content": message,
        "kind": kind_str(event.kind),
        "hits": event.hits,
        "time": event.at.rfc3339_utc(),
        "lower_bound": event.lower_bound,
    })
    .to_string()
}

/// Runs the command with the alert in its environment; kills its process group after `limit`.
fn run_exec(hook: &ExecHook, event: &AlertEvent, limit: Duration) -> Result<(), String> {
    let mut child = Command::new(&hook.program)
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

/// POSTs the JSON body; succeeds on a 2xx status line within `limit`.
fn post_webhook(target: &WebhookTarget, event: &AlertEvent, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let addrs: Vec<_> = target
        .authority
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    let mut stream = None;
    for a in addrs {
        if Instant::now() >= deadline {
            break;
        }
        if let Ok(s) = TcpStream::connect_timeout(&a, left()) {
            stream = Some(s);
            break;
        }
    }
    let mut stream = stream.ok_or_else(|| "cannot connect".to_owned())?;
    let body = webhook_json(event);
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: traffic-watch/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.host_header,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream
        .set_write_timeout(Some(left()))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        if Instant::now() >= deadline {
            return Err("timed out".into());
        }
        stream
            .set_read_timeout(Some(left()))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) => return Err(e.to_string()),
        }
    }
    // "HTTP/1.1 204 No Content"
    let status = head
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<u16>().ok());
    match status {
        Some(s) if (200..300).contains(&s) => Ok(()),
        Some(s) => Err(format!("HTTP status {s}")),
        None => Err("no HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        let t = parse_webhook("http://127.0.0.1:8080/hooks/x?y=1").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.path, "/hooks/x?y=1");
        let t = parse_webhook("HTTP://[::1]").unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("[::1]:80", "/"));
        assert_eq!(t.host_header, "[::1]");
        for bad in [
            "https://hooks.example/x",
            "ftp://x",
            "http://",
            "http://:80/",
            "http://u:p@host/",
            "http://host:99999/",
            "http://host/a b",
            "localhost:8080",
        ] {
            assert!(parse_webhook(bad).is_err(), "{bad}");
        }
    }

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
