//! Alert hooks: run a command (`--alert-exec`) and POST a webhook (`--alert-webhook`) on every
//! alert and recovery, without ever holding up capture or the dashboard.
//!
//! [`AlertHooks::fire`] only queues the event (a bounded queue: when it is full the event is
//! dropped and counted); one worker thread delivers each event to each hook in turn, each
//! delivery limited in time (the command's process group is killed, the request abandoned).
//! The command is run directly, never through a shell: its words are split on whitespace once,
//! when the hooks are built, and the alert's values reach it in environment variables
//! (`TW_ALERT_KIND`, `TW_ALERT_MESSAGE`, `TW_ALERT_HITS`, `TW_ALERT_TIME`,
//! `TW_ALERT_LOWER_BOUND`, and `TW_ALERT_RECORDING`, the flight recorder's file, when there is
//! one). The webhook is a minimal HTTP/1.1 client, over TLS (rustls, the
//! Mozilla roots built in, plus `--alert-webhook-ca` for a private CA) for `https://` URLs such
//! as Slack's and Discord's. Its JSON body has a Slack-compatible `text` and a
//! Discord-compatible `content`, both the alert message, plus `kind`, `hits`, `time`,
//! `lower_bound` and `recording` (a path, or null).

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

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::error::Error;
use crate::stats::{AlertEvent, AlertKind};

/// An event waiting for the worker, with the recording file it names.
#[derive(Debug)]
struct Queued {
    event: AlertEvent,
    recording: Option<PathBuf>,
}

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

/// Where to POST: an `http://` or `https://` URL taken apart.
#[derive(Debug, Clone)]
struct WebhookTarget {
    /// For `https://`: the client configuration (roots) and the name the certificate must carry.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
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
    tx: Mutex<Option<SyncSender<Queued>>>,
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
        Self::with_settings(exec, webhook, None, limit)
    }

    /// [`AlertHooks::new`] trusting, for an `https://` webhook, the CA certificates in the PEM
    /// file `webhook_ca` besides the built-in roots, with this time limit per delivery. The
    /// file is read now (before privileges are dropped).
    pub fn with_settings(
        exec: Option<String>,
        webhook: Option<String>,
        webhook_ca: Option<&Path>,
        limit: Duration,
    ) -> Result<Self, Error> {
        let exec = exec.as_deref().map(parse_exec).transpose()?;
        if webhook.is_none() && webhook_ca.is_some() {
            return Err(config_error(
                "--alert-webhook-ca needs an --alert-webhook https:// URL".into(),
            ));
        }
        let webhook = webhook
            .as_deref()
            .map(|url| parse_webhook(url, webhook_ca))
            .transpose()?;
        let counters = Arc::new(Counters::default());
        if exec.is_none() && webhook.is_none() {
            return Ok(AlertHooks {
                tx: Mutex::new(None),
                done: Mutex::new(None),
                counters,
                limit,
            });
        }
        let (tx, rx) = mpsc::sync_channel::<Queued>(QUEUE_LEN);
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
        self.fire_with_recording(event, None);
    }

    /// [`AlertHooks::fire`], with the file the flight recorder is writing for this alert.
    pub fn fire_with_recording(&self, event: &AlertEvent, recording: Option<&Path>) {
        let Ok(guard) = self.tx.lock() else { return };
        let Some(tx) = guard.as_ref() else { return };
        let queued = Queued {
            event: *event,
            recording: recording.map(Path::to_owned),
        };
        match tx.try_send(queued) {
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

fn parse_webhook(url: &str, ca: Option<&Path>) -> Result<WebhookTarget, Error> {
    let bad = |why: &str| config_error(format!("bad alert webhook URL '{url}': {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http[s]://host[:port]/path"))?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return Err(bad("only http:// and https:// URLs are supported"));
    };
    if !https && ca.is_some() {
        return Err(bad("--alert-webhook-ca is for https:// URLs"));
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
    let default_port = if https { 443 } else { 80 };
    let port: u16 = match port {
        None => default_port,
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    let tls = if https {
        let name = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let name = ServerName::try_from(name).map_err(|_| bad("not a valid host name"))?;
        Some((tls_config(ca)?, name))
    } else {
        None
    };
    Ok(WebhookTarget {
        tls,
        authority: format!("{host}:{port}"),
        host_header: if port == default_port {
            host
        } else {
            format!("{host}:{port}")
        },
        path,
    })
}

/// The TLS client: the Mozilla roots (webpki-roots, built in, so no system store is needed
/// and nothing is read after privileges are dropped), plus the CA certificates of `ca`.
fn tls_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca {
        let bad =
            |why: String| config_error(format!("--alert-webhook-ca {}: {why}", path.display()));
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(pem_reason(&e)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(pem_reason(&e)))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in the file".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| bad(format!("not a usable CA certificate ({e})")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not a PEM file ({other:?})"),
    }
}

fn kind_str(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Triggered => "triggered",
        AlertKind::Recovered => "recovered",
    }
}

/// The webhook body.
pub fn webhook_json(event: &AlertEvent) -> String {
    webhook_json_with_recording(event, None)
}

/// The webhook body, with the flight recorder's file for this alert.
pub fn webhook_json_with_recording(event: &AlertEvent, recording: Option<&Path>) -> String {
    let message = event.message();
    serde_json::json!({
        "text": message,
        "content": message,
        "kind": kind_str(event.kind),
        "hits": event.hits,
        "time": event.at.rfc3339_utc(),
        "lower_bound": event.lower_bound,
        "recording": recording.map(|p| p.display().to_string()),
    })
    .to_string()
}

/// Runs the command with the alert in its environment; kills its process group after `limit`.
fn run_exec(hook: &ExecHook, queued: &Queued, limit: Duration) -> Result<(), String> {
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

/// POSTs the JSON body; succeeds on a 2xx status line within `limit`.
fn post_webhook(target: &WebhookTarget, event: &Queued, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
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
        if let Ok(s) = TcpStream::connect_timeout(&a, time_left(deadline)) {
            stream = Some(s);
            break;
        }
    }
    let stream = stream.ok_or_else(|| "cannot connect".to_owned())?;
    match &target.tls {
        None => exchange(stream, target, event, deadline),
        Some((config, name)) => {
            let conn = rustls::ClientConnection::new(Arc::clone(config), name.clone())
                .map_err(|e| e.to_string())?;
            // The handshake happens on the first write, under the same deadline.
            exchange(
                rustls::StreamOwned::new(conn, stream),
                target,
                event,
                deadline,
            )
        }
    }
}

fn time_left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// A connection to the webhook, plain or TLS, whose socket takes the time limits.
trait Connection: Read + Write {
    fn socket(&self) -> &TcpStream;
}

impl Connection for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Connection for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        self.get_ref()
    }
}

/// Sends the request and reads the status line.
fn exchange(
    mut conn: impl Connection,
    target: &WebhookTarget,
    event: &Queued,
    deadline: Instant,
) -> Result<(), String> {
    let body = webhook_json_with_recording(&event.event, event.recording.as_deref());
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: traffic-watch/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.host_header,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let timeouts = |conn: &dyn Connection| {
        let left = Some(time_left(deadline));
        conn.socket()
            .set_write_timeout(left)
            .and_then(|()| conn.socket().set_read_timeout(left))
            .map_err(|e| e.to_string())
    };
    timeouts(&conn)?;
    conn.write_all(request.as_bytes())
        .and_then(|()| conn.flush())
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        if Instant::now() >= deadline {
            return Err("timed out".into());
        }
        timeouts(&conn)?;
        match conn.read(&mut buf) {
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
    fn the_webhook_body_names_the_recording() {
        let e = AlertEvent {
            kind: AlertKind::Triggered,
            at: crate::time::Timestamp::from_secs(1_795_500_699),
            hits: 5,
            lower_bound: false,
        };
        let with: serde_json::Value = serde_json::from_str(&webhook_json_with_recording(
            &e,
            Some(Path::new("/r/alert-20261124T061139Z.pcapng")),
        ))
        .unwrap();
        assert_eq!(with["recording"], "/r/alert-20261124T061139Z.pcapng");
        let without: serde_json::Value = serde_json::from_str(&webhook_json(&e)).unwrap();
        assert_eq!(without["recording"], serde_json::Value::Null);
    }

    #[test]
    fn webhook_urls() {
        let t = parse_webhook("http://127.0.0.1:8080/hooks/x?y=1", None).unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.path, "/hooks/x?y=1");
        assert!(t.tls.is_none());
        let t = parse_webhook("HTTP://[::1]", None).unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("[::1]:80", "/"));
        assert_eq!(t.host_header, "[::1]");
        let t = parse_webhook("https://hooks.slack.com/services/T0/B0/x", None).unwrap();
        assert_eq!(t.authority, "hooks.slack.com:443");
        assert_eq!(t.host_header, "hooks.slack.com");
        let (_, name) = t.tls.unwrap();
        assert_eq!(name.to_str(), "hooks.slack.com");
        let t = parse_webhook("https://[::1]:8443/", None).unwrap();
        assert_eq!(
            (t.authority.as_str(), t.host_header.as_str()),
            ("[::1]:8443", "[::1]:8443")
        );
        assert_eq!(t.tls.unwrap().1.to_str(), "::1");
        for bad in [
            "ftp://x",
            "http://",
            "https://",
            "http://:80/",
            "http://u:p@host/",
            "http://host:99999/",
            "http://host/a b",
            "https://bad_name!/",
            "localhost:8080",
        ] {
            assert!(parse_webhook(bad, None).is_err(), "{bad}");
        }
        // A CA file only makes sense for https, and must hold a certificate.
        let missing = Path::new("/nonexistent/ca.pem");
        assert!(parse_webhook("http://h/", Some(missing)).is_err());
        let err = parse_webhook("https://h/", Some(missing)).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
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
