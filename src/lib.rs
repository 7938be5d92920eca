//! traffic-watch: HTTP traffic on a port, live, from the packets themselves.
//!
//! The layers, each a folder; dependencies point down, and only `capture` and `main.rs` touch
//! the operating system:
//! - [`capture`]: where packets come from: libpcap live capture with a kernel BPF filter, or a
//!   pcap/pcapng file. Yields `(Timestamp, frame bytes)`.
//! - [`decode`]: pure, zero-copy: link layer, VLAN, IPv4/IPv6, TCP; HTTP/1.x heads; sections.
//! - [`flow`]: TCP reassembly per connection and direction, HTTP request/response pairing,
//!   bounded by caps whose every bite is counted.
//! - [`stats`]: per-second windows, top sections, alerting. Never reads the clock: every call
//!   takes `now` (packet time, or a tick from the run loop).
//! - [`pipeline`]: glues decode → flow → stats for one packet stream, single-threaded.
//! - [`routes`]: route templates (`/users/{id}`) of request targets, from a spec or inferred.
//! - [`record`]: `-w` files with tcpdump's rotation, and the flight recorder that saves the
//!   packets around an alert; a writer thread behind a bounded queue does the I/O.
//! - [`output`]: pure renderings of a `stats::Snapshot`: plain text and JSON.
//! - [`ui`]: the terminal dashboard; it only reads snapshots.
//! - [`synth`]: builds TCP conversations and writes pcap files, for tests and sample captures.

pub mod capture;
pub mod cli;
pub mod decode;
pub mod demo;
pub mod error;
pub mod export;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub(crate) mod keyed_hash;
pub mod logs;
pub mod output;
pub mod pipeline;
pub mod record;
pub mod routes;
pub mod run;
pub mod stats;
pub mod synth;
pub mod time;
pub mod ui;
