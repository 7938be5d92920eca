//! Text renderings of a [`Snapshot`](crate::stats::Snapshot): plain reports for people and
//! NDJSON for scripts. Pure functions from a snapshot to a string; every string that came off
//! the network goes through [`escape`] first.

pub mod escape;
pub mod json;
pub mod plain;
pub mod routes;

pub use escape::{escape, escape_bytes};
