//! The demo traffic generator: paced GET requests with an exact account of what happened.
//!
//! Every request is accounted for. Requests follow a rate profile
//! (default: 20 req/s for 60 s, 100 req/s for 20 s, 20 req/s for 60 s) with open-loop pacing:
//! request `j` of a step is due at `step start + j / rate`, counted from the run's start
//! instant, so a slow answer delays nothing but its own connection. Each of `connections`
//! tasks owns one connection and carries one request at a time (keep-alive, or a fresh
//! connection per request with `Connection: close`). Request `i`'s path is a pure function of
//! `i` ([`path_for`]), so a test can compute the section mix it should see ([`expected_sections`]).
//! A step that falls behind catches up by sending at once, but never more than 250 ms past its
//! planned end: what is still due then is skipped, and the report says which rate was not held.
//! Rate 0 means "as fast as the connections allow", for performance work.
//!
//! The client is a small hand-rolled HTTP/1.1 one on tokio `TcpStream`s, parsing answers with
//! `httparse` (Content-Length, chunked bodies stepped through with `decode::ChunkDecoder`, or
//! read-to-close bodies): that keeps the per-request cost to one write and usually one read. On the 2-core development machine, against
//! [`super::serve`] on loopback with 32 keep-alive connections (`--rate 0 --duration 3s`), it
//! measured 137k-189k answered requests/s (release build).
//!
//! The rooms: [`profile`] (rate steps), [`paths`] (which path request `i` asks for),
//! [`scheduler`] (pacing and the request loops), [`client`] (the HTTP/1.1 exchange) and
//! [`report`] (what happened).
//!
//! With [`Wire::H2c`] the same request loops speak HTTP/2 without TLS instead, several of them
//! sharing each connection so that it carries that many concurrent streams ([`super::load_h2`],
//! hyper's client).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

mod client;
mod paths;
mod profile;
mod report;
mod scheduler;

pub use client::Target;
pub(super) use client::{Answer, connect};
pub use paths::{clean_sections, expected_sections, path_for, write_path};
pub use profile::{Phase, default_profile, parse_profile, parse_rate};
pub(super) use report::{ErrKind, WorkerStats};
pub use report::{Latency, LoadReport, Shortfall};
pub(super) use scheduler::Shared;
pub use scheduler::run;

/// Which HTTP the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// HTTP/1.1: one request at a time on each connection.
    Http1,
    /// HTTP/2 without TLS, started by prior knowledge: each connection carries `streams`
    /// requests at once, one per stream.
    H2c {
        /// Concurrent streams per connection (at least 1).
        streams: usize,
    },
}

impl Wire {
    /// The protocol's name in reports: `HTTP/1.1` or `h2c`.
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Http1 => "HTTP/1.1",
            Wire::H2c { .. } => "h2c",
        }
    }
}

/// What to send, where, and how fast.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub target: Target,
    /// The rate steps, run one after another.
    pub profile: Vec<Phase>,
    /// Concurrent connections (with HTTP/1.1, one request in flight on each).
    pub connections: usize,
    /// HTTP/1.1, or h2c with several streams per connection.
    pub wire: Wire,
    /// Reuse connections; `false` sends `Connection: close` and reconnects for every request
    /// (HTTP/1.1 only: h2c connections are always reused).
    pub keep_alive: bool,
    /// First path segments the requests are spread over.
    pub sections: Vec<String>,
    /// Limit for one connection attempt plus one exchange.
    pub timeout: Duration,
    /// Stop early (and still report) on Ctrl-C or SIGTERM. This installs process-wide signal
    /// handlers that stay after the run, so only a command-line program should set it.
    pub stop_on_ctrl_c: bool,
    /// Stop early (and still report) when this flag becomes true (the demo's `q`).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            target: Target {
                host: "127.0.0.1".into(),
                port: 5000,
            },
            profile: default_profile(),
            connections: 4,
            wire: Wire::Http1,
            keep_alive: true,
            sections: ["foo", "bar", "baz", "spiffy", "zoom"]
                .map(String::from)
                .to_vec(),
            timeout: Duration::from_secs(5),
            stop_on_ctrl_c: false,
            stop: None,
        }
    }
}
