//! traffic-watch: HTTP traffic on a port, live, from the packets themselves.
//!
//! Every module, one line each, from the top down: a module imports only modules listed below
//! it (ARCHITECTURE.md draws the layers). The rooms that touch the OS (files, sockets,
//! threads, the clock, the terminal) say so; the others compute.
//! - [`cli`]: clap's `Args` (what was typed), turned into a validated `app::Config` in one place.
//! - [`demo`] (feature `demo`): `serve` and `load`, an HTTP server and a load generator on
//!   tokio/hyper, and `demo`, which builds its monitor's `Config` itself. OS: sockets, threads.
//! - [`app`]: one run from its `Config`: opens, drops privileges, then drives source →
//!   pipeline → outputs (drain, tick, publish, shut down). OS: signals, threads, stdout, clock.
//! - [`ui`]: the ratatui dashboard; it only reads snapshots. OS: the terminal.
//! - [`export`]: the Prometheus exposition of a snapshot and its `/metrics` listener. OS: socket.
//! - [`hooks`]: `--alert-exec` and `--alert-webhook`, off the packet path. OS: processes, sockets.
//! - [`record`]: `-w` files with tcpdump's rotation, and the flight recorder around an alert.
//!   OS: files, a writer thread.
//! - [`pipeline`]: decode → flow → stats for one stream of frames or log entries; its front
//!   (decode, flows) may run on a replay's reading thread and hand its events over in batches.
//! - [`logs`]: access logs as a second source of requests: formats, following, merging. OS: files.
//! - [`capture`]: packets from libpcap (live, kernel BPF) or a pcap/pcapng file, and the
//!   privilege drop. OS: devices, files, users.
//! - [`output`]: pure renderings of a `stats::Snapshot` (plain text, NDJSON) and the escaping
//!   of network text.
//! - [`stats`]: per-second windows, top sections, latency, alerting; `Snapshot`, what every
//!   output reads. Takes `now`, never reads the clock.
//! - [`routes`]: the route template of a request path (`/users/{id}`), inferred online or read
//!   from an OpenAPI document or a pattern list.
//! - [`flow`]: TCP reassembly per connection and direction, HTTP/1 and HTTP/2 request/response
//!   pairing, bounded by caps whose every bite is counted.
//! - [`decode`]: pure, zero-copy: link layer, VLAN, IPv4/IPv6, TCP; HTTP/1 heads, HTTP/2 frames
//!   and HPACK; sections.
//! - [`time`]: `Timestamp` (µs, event time) and the `Clock` that only `app` reads.
//! - [`error`]: the crate's one boundary error, worded as one line for the user.
//! - `keyed_hash`: the randomly keyed hasher of every map whose keys come off the network.
//!
//! Beside the layers, for tests and tools: [`synth`] builds TCP conversations and writes pcap
//! files (tests, `sample-capture`); `fuzzing` holds the fuzz targets' bodies, shared by
//! `fuzz/` and the corpus tests.

pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod export;
pub mod flow;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub(crate) mod keyed_hash;
pub mod logs;
pub mod output;
pub mod pipeline;
pub mod record;
pub mod route_args;
pub mod routes;
pub mod stats;
pub mod synth;
pub mod time;
pub mod ui;
