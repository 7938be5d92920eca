//! The HTTP endpoint: `GET /metrics` from the latest published snapshot.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::latency_of;
use super::render::{CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, render, render_openmetrics};
use crate::error::Error;
use crate::export::SnapshotSlot;

/// How long one scrape connection may take to send its request or read our answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request head read; `/metrics` needs a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// Serves `GET /metrics` from the latest published snapshot on its own thread. Bound when
/// started (so it can happen before privileges are dropped); stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` now and serves from `slot` with at most `top_n` section series.
    pub fn start(addr: SocketAddr, slot: SnapshotSlot, top_n: usize) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr).map_err(|e| listen_error(addr, &e))?;
        let local = listener.local_addr().map_err(|e| listen_error(addr, &e))?;
        // Non-blocking accept so the thread can notice the stop flag without a wake-up dance.
        listener
            .set_nonblocking(true)
            .map_err(|e| listen_error(addr, &e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || serve(listener, slot, top_n, stop))
                .map_err(|e| listen_error(addr, &e))?
        };
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// The address actually bound (the port is filled in when `:0` was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn listen_error(addr: SocketAddr, e: &io::Error) -> Error {
    let why = match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_owned(),
        io::ErrorKind::AddrNotAvailable => "no such address on this machine".to_owned(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        _ => e.to_string(),
    };
    Error::Other(format!("cannot listen on '{addr}' for metrics: {why}"))
}

fn serve(listener: TcpListener, slot: SnapshotSlot, top_n: usize, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            // One scrape at a time: Prometheus scrapes sequentially, and the timeouts bound
            // how long a stuck client can hold the thread.
            Ok((stream, _)) => {
                let _ = answer(stream, &slot, top_n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Out of file descriptors and the like: back off rather than spin.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn answer(mut stream: TcpStream, slot: &SnapshotSlot, top_n: usize) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, ctype, body) = match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") if wants_openmetrics(&head) => (
            "200 OK",
            OPENMETRICS_CONTENT_TYPE,
            {
                let snap = slot.latest();
                render_openmetrics(&snap, top_n, latency_of(&snap).as_ref())
            }
            .into_bytes(),
        ),
        (b"GET" | b"HEAD", b"/metrics") => (
            "200 OK",
            CONTENT_TYPE,
            render(&slot.latest(), top_n).into_bytes(),
        ),
        (_, b"/metrics") => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"use GET\n".to_vec(),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            b"not found; metrics are at /metrics\n".to_vec(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != b"HEAD" {
        out.extend_from_slice(&body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// True when an `Accept` header names OpenMetrics (Prometheus sends it, preferring it).
fn wants_openmetrics(head: &[u8]) -> bool {
    const OM: &[u8] = b"application/openmetrics-text";
    head.split(|&b| b == b'\n').skip(1).any(|l| {
        l.len() > 7
            && l.get(..7)
                .is_some_and(|k| k.eq_ignore_ascii_case(b"accept:"))
            && l.windows(OM.len()).any(|w| w == OM)
    })
}

/// Reads up to the blank line ending the request head (or what fits in the cap).
fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_REQUEST_HEAD && Instant::now() < deadline {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    Ok(head)
}
