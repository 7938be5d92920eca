//! The demo HTTP server: answers every path with `Hello, your path is: {path}`.
//!
//! It answers as a minimal Flask app with one `<path:path>` route would, on hyper (HTTP/1.1, keep-alive and pipelining as
//! hyper does them), plus knobs to make the traffic interesting: a random per-request delay,
//! a fraction of 500s, and path prefixes that give 404. The same port also speaks HTTP/2
//! without TLS (h2c), both ways a client may start it: by prior knowledge (hyper-util's auto
//! builder tells the HTTP/2 preface from an HTTP/1 request) and by an HTTP/1.1 `Upgrade: h2c`
//! ([`super::h2c`]). [`start`] binds synchronously, so a port already in use is an error at
//! once, then serves on a background thread with its own tokio runtime; the [`ServerHandle`]
//! reports how many requests were answered, in total and per protocol. There are no magic
//! paths: every path is answered the same way, and the count is read through the handle.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::oneshot;

use super::{DemoError, h2c, io_reason};
use crate::flow::Protocol;

/// What the server does; `ServeConfig::default()` answers every path on 127.0.0.1:5000.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port to listen on; 0 lets the OS pick (read it back with [`ServerHandle::addr`]).
    pub port: u16,
    /// Delay every answer by a uniform random time in `min..=max`.
    pub latency: Option<(Duration, Duration)>,
    /// Fraction (0..=1) of requests answered 500.
    pub error_rate: f64,
    /// Paths starting with one of these get 404.
    pub not_found: Vec<String>,
    /// Seed of the random draws (delays, 500s): the same seed and request count give the same
    /// number of 500s, whatever the order the requests arrive in.
    pub seed: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5000,
            latency: None,
            error_rate: 0.0,
            not_found: Vec::new(),
            seed: 0x0074_7261_6666_6963,
        }
    }
}

/// A running server. Dropping it stops the server too; [`ServerHandle::shutdown`] also waits.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    served: Arc<Served>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address actually bound (with the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far (any status, any protocol), counted when the answer is ready
    /// to go out. The `101` that switches to h2c is not an answer: the upgraded request is
    /// counted once, as h2c, when it is answered on stream 1.
    pub fn served(&self) -> u64 {
        Protocol::ALL.iter().map(|p| self.served_by(*p)).sum()
    }

    /// Requests answered so far in one protocol.
    pub fn served_by(&self, protocol: Protocol) -> u64 {
        self.served.get(protocol)
    }

    /// Answers per protocol, for the closing line: `HTTP/1.1 12, h2c 30`.
    pub fn served_summary(&self) -> String {
        let parts: Vec<String> = Protocol::ALL
            .iter()
            .filter(|p| self.served_by(**p) > 0)
            .map(|p| format!("{} {}", p.as_str(), self.served_by(*p)))
            .collect();
        parts.join(", ")
    }

    /// Stops accepting, drops open connections and waits for the server thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Answers by protocol, indexed by [`Protocol::index`].
#[derive(Debug, Default)]
struct Served([AtomicU64; Protocol::ALL.len()]);

impl Served {
    fn add(&self, protocol: Protocol) {
        self.0[protocol.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, protocol: Protocol) -> u64 {
        self.0[protocol.index()].load(Ordering::Relaxed)
    }
}

struct State {
    served: Arc<Served>,
    draws: AtomicU64,
    seed: u64,
    latency: Option<(Duration, Duration)>,
    error_rate: f64,
    not_found: Vec<String>,
}

/// Binds `config.bind:config.port` now and serves on a background thread.
pub fn start(config: ServeConfig) -> Result<ServerHandle, DemoError> {
    let want = SocketAddr::new(config.bind, config.port);
    let listen_err = |e: std::io::Error| DemoError::Listen {
        addr: want.to_string(),
        reason: io_reason(&e),
    };
    let std_listener = std::net::TcpListener::bind(want).map_err(listen_err)?;
    std_listener.set_nonblocking(true).map_err(listen_err)?;
    let addr = std_listener.local_addr().map_err(listen_err)?;

    // One current-thread runtime: on a 2-core machine the load generator needs the other core;
    // against it, 2 workers measured 115k-147k req/s and one thread 137k-189k.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DemoError::Runtime {
            what: "server runtime",
            source,
        })?;
    let listener = {
        let _guard = rt.enter();
        tokio::net::TcpListener::from_std(std_listener).map_err(listen_err)?
    };

    let served = Arc::new(Served::default());
    let state = Arc::new(State {
        served: Arc::clone(&served),
        draws: AtomicU64::new(0),
        seed: config.seed,
        latency: config.latency,
        error_rate: config.error_rate,
        not_found: config.not_found,
    });
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(format!("demo-serve-{}", addr.port()))
        .spawn(move || {
            rt.block_on(accept_loop(listener, state, stop_rx));
            // Dropping the runtime cancels the connection tasks still open.
            rt.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(|source| DemoError::Runtime {
            what: "server thread",
            source,
        })?;
    Ok(ServerHandle {
        addr,
        served,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Starts the server, prints where it listens, serves until Ctrl-C or SIGTERM, and prints
/// and returns how many requests it answered.
pub fn run_until_signal(config: ServeConfig) -> Result<u64, DemoError> {
    let handle = start(config)?;
    eprintln!(
        "serving on http://{} (every path answers 'Hello, your path is: …'); Ctrl-C to stop",
        handle.addr()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DemoError::Runtime {
            what: "signal runtime",
            source,
        })?;
    rt.block_on(wait_for_signal());
    let served = handle.served();
    let summary = handle.served_summary();
    handle.shutdown();
    if summary.is_empty() {
        eprintln!("served {served} requests");
    } else {
        eprintln!("served {served} requests ({summary})");
    }
    Ok(served)
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM; if a handler cannot be installed, on the other.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(_) => {
                    // Typically EMFILE: back off instead of spinning, then keep serving.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // Answers are written in one go; don't let Nagle hold the last bytes back.
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let svc = service_fn(move |req| route(req, Arc::clone(&state)));
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().pipeline_flush(true);
            // A client resetting or timing out is its business, not an error of ours.
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// An HTTP/1.1 request asking for h2c is answered `101`, and its answer goes out on stream 1
/// of the HTTP/2 connection that follows; every other request is answered here.
async fn route(
    mut req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(stream_one) = h2c::stream_one(&req) else {
        return answer(req, state).await;
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Some(io) = h2c::accept(on_upgrade, stream_one).await else {
            return;
        };
        let svc = service_fn(move |req| answer(req, Arc::clone(&state)));
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, svc)
            .await;
    });
    Ok(h2c::switching_protocols())
}

async fn answer(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let n = state.draws.fetch_add(1, Ordering::Relaxed);
    if let Some((lo, hi)) = state.latency {
        let frac = unit_draw(state.seed, 2 * n + 1);
        let delay = lo + (hi - lo).mul_f64(frac);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let path = req.uri().path();
    let (status, body) = if state.not_found.iter().any(|p| path.starts_with(p.as_str())) {
        (StatusCode::NOT_FOUND, format!("Not found: {path}"))
    } else if state.error_rate > 0.0 && unit_draw(state.seed, 2 * n) < state.error_rate {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error (on purpose: --error-rate)".to_string(),
        )
    } else {
        // Flask's `<path:path>` has no leading slash; answer with its exact words.
        let shown = path.strip_prefix('/').unwrap_or(path);
        (StatusCode::OK, format!("Hello, your path is: {shown}"))
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let protocol = match req.version() {
        Version::HTTP_10 | Version::HTTP_09 => Protocol::Http10,
        Version::HTTP_2 => Protocol::H2c,
        _ => Protocol::Http11,
    };
    state.served.add(protocol);
    Ok(resp)
}

/// A uniform draw in [0, 1) for draw number `n`: a hash of the index (splitmix64), so the
/// multiset of draws depends only on how many were made, not on which task made them.
fn unit_draw(seed: u64, n: u64) -> f64 {
    (splitmix64(seed ^ n) >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough() {
        let n = 100_000;
        let below: usize = (0..n).filter(|&i| unit_draw(1, i) < 0.02).count();
        // 2% of 100k = 2000; a fair draw stays well inside ±300.
        assert!((1700..2300).contains(&below), "{below}");
        assert!((0..n).all(|i| (0.0..1.0).contains(&unit_draw(7, i))));
    }

    #[test]
    fn port_in_use_is_an_error_at_once() {
        let first = start(ServeConfig {
            port: 0,
            ..ServeConfig::default()
        })
        .unwrap();
        let port = first.addr().port();
        let e = start(ServeConfig {
            port,
            ..ServeConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "cannot listen on '127.0.0.1:{port}': address already in use; pick another --port"
            )
        );
        first.shutdown();
    }
}
