//! The HTTP endpoint: `GET /metrics` from the latest published snapshot, served by hyper's
//! HTTP/1 server on a current-thread tokio runtime of its own thread.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE as CONTENT_TYPE_HEADER, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

use super::latency_of;
use super::render::{CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, render, render_openmetrics};
use crate::error::Error;
use crate::export::SnapshotSlot;

/// How long a scraper may take to send its request head, and to finish the whole exchange.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request head read (hyper's smallest buffer); `/metrics` needs a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// Connections served at once. Prometheus scrapes one at a time; a few more let a slow client
/// not hold up a scrape, and the cap keeps a flood of connections from costing memory.
const MAX_CONNECTIONS: usize = 4;
/// Pause after a failed accept (out of file descriptors and the like) rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `GET /metrics` from the latest published snapshot on its own thread. Bound when
/// started (so it can happen before privileges are dropped); stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` now and serves from `slot` with at most `top_n` section series.
    pub fn start(addr: SocketAddr, slot: SnapshotSlot, top_n: usize) -> Result<Self, Error> {
        let err = |e: io::Error| listen_error(addr, &e);
        let listener = std::net::TcpListener::bind(addr).map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        // tokio drives the socket itself: it must not block.
        listener.set_nonblocking(true).map_err(err)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(err)?;
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(listener).map_err(err)?
        };
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            // Dropping the runtime at the end cancels connections still open.
            .spawn(move || rt.block_on(accept_loop(listener, slot, top_n, stopped)))
            .map_err(err)?;
        Ok(MetricsServer {
            addr: local,
            stop: Some(stop),
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
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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

async fn accept_loop(
    listener: tokio::net::TcpListener,
    slot: SnapshotSlot,
    top_n: usize,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Wait for room before accepting: past the cap, connections queue in the backlog.
        let permit = tokio::select! {
            _ = &mut stop => return,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let slot = slot.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = service_fn(move |req: Request<Incoming>| {
                let response = answer(&req, &slot, top_n);
                async move { Ok::<_, Infallible>(response) }
            });
            let mut builder = http1::Builder::new();
            builder
                // One exchange per connection, as a scrape is: nothing to time out between.
                .keep_alive(false)
                .title_case_headers(true)
                .max_buf_size(MAX_REQUEST_HEAD)
                .timer(TokioTimer::new())
                .header_read_timeout(IO_TIMEOUT);
            let exchange = builder.serve_connection(TokioIo::new(stream), svc);
            // A client that stops reading our answer is dropped; its failure is its business.
            let _ = tokio::time::timeout(2 * IO_TIMEOUT, exchange).await;
        });
    }
}

/// The response to one request: the exposition at `/metrics`, in OpenMetrics when the
/// scraper's `Accept` asks for it; 405 for other methods there, 404 elsewhere.
fn answer(req: &Request<Incoming>, slot: &SnapshotSlot, top_n: usize) -> Response<Full<Bytes>> {
    let metrics = req.uri().path() == "/metrics";
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    let (status, content_type, body) = match (metrics, readable) {
        (true, true) if wants_openmetrics(req.headers()) => {
            let snap = slot.latest();
            let text = render_openmetrics(&snap, top_n, latency_of(&snap).as_ref());
            (StatusCode::OK, OPENMETRICS_CONTENT_TYPE, Bytes::from(text))
        }
        (true, true) => (
            StatusCode::OK,
            CONTENT_TYPE,
            Bytes::from(render(&slot.latest(), top_n)),
        ),
        (true, false) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"use GET\n"),
        ),
        (false, _) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"not found; metrics are at /metrics\n"),
        ),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(content_type));
    response
}

/// True when an `Accept` header names OpenMetrics (Prometheus sends it, preferring it).
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    const OM: &[u8] = b"application/openmetrics-text";
    headers
        .get_all(ACCEPT)
        .iter()
        .any(|v| v.as_bytes().windows(OM.len()).any(|w| w == OM))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    fn exchange(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn head_has_no_body_and_other_methods_are_refused() {
        let server =
            MetricsServer::start(([127, 0, 0, 1], 0).into(), SnapshotSlot::new(), 10).unwrap();
        let head = exchange(server.addr(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body after the head: {head}");
        let post = exchange(server.addr(), "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        assert!(post.ends_with("use GET\n"), "{post}");
        let query = exchange(server.addr(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
        // hyper answers in the version it was asked in.
        assert!(query.starts_with("HTTP/1.0 200 OK\r\n"), "{query}");
        assert!(query.contains("\r\nContent-Type: text/plain; version=0.0.4"));
    }

    #[test]
    fn idle_connections_do_not_hold_up_a_scrape() {
        let server =
            MetricsServer::start(([127, 0, 0, 1], 0).into(), SnapshotSlot::new(), 10).unwrap();
        // Connected, sending nothing: each holds a slot until its head times out.
        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS - 1)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        let scrape = exchange(server.addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(scrape.starts_with("HTTP/1.1 200 OK\r\n"), "{scrape}");
        drop(idle);
    }
}
