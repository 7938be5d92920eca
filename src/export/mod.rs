//! Exports for other tools: the Prometheus exposition of a [`Snapshot`] and the HTTP endpoint
//! that serves it (hyper, on its own thread: this room opens a socket). Rendering is a pure function of a snapshot, like the plain and JSON
//! outputs; the listener only reads the latest snapshot the run loop published in a
//! [`SnapshotSlot`]. Nothing here computes statistics or reads the clock.

pub mod prometheus;
mod route_metrics;

use std::sync::{Arc, RwLock};

use crate::stats::Snapshot;

pub use prometheus::{MetricsServer, render};

/// The latest snapshot, shared between the run loop (which publishes) and readers such as the
/// metrics listener. Cloning shares the same slot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSlot(Arc<RwLock<Arc<Snapshot>>>);

impl SnapshotSlot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the latest snapshot; readers holding the old one keep it.
    pub fn publish(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        // A reader that panicked cannot leave an `Arc` half-written: the poison is harmless.
        match self.0.write() {
            Ok(mut g) => *g = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// The latest snapshot published (an empty one before the first).
    pub fn latest(&self) -> Arc<Snapshot> {
        match self.0.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}
