//! The application layer: one monitor run from its validated [`Config`] to its summary.
//!
//! - [`config`]: the typed settings of a run: `Input::{Live, Replay, Log}`, the outputs, caps.
//! - [`start`]: opens what needs privileges, drops them, builds the source and the outputs.
//! - [`source`]: where events come from (capture thread, capture file, access logs).
//! - [`capture_thread`]: the live capture's reading thread and its bounded queue.
//! - [`replay_thread`]: a capture file's decode and flows on a thread beside the statistics.
//! - [`report_clock`]: when an offline run's periodic reports fall, on event time.
//! - [`outputs`]: the fan-out: printer, dashboard, `/metrics` slot, alert hooks, recorder.
//! - [`printer`]: plain text and NDJSON on stdout.
//! - [`runner`]: the loop: drain, tick, publish, shut down.
//!
//! This layer touches the OS (signals, threads, stdout, privileges); the layers below it
//! compute, and it only wires them together.

pub mod capture_thread;
pub mod config;
pub mod outputs;
pub mod printer;
pub mod replay_thread;
pub mod report_clock;
pub mod runner;
pub mod source;
pub mod start;

pub use config::{Config, Input, OutputMode};
pub use start::run;
