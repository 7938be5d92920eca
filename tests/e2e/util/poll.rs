//! Waiting for an event (a file grew, a port accepts, a line arrived) without fixed sleeps: the
//! condition is retried at a short interval, and the deadline only turns a hang into a failure.

use std::time::{Duration, Instant};

/// How long to rest between two tries: short, so a passing test is not slowed down.
const INTERVAL: Duration = Duration::from_millis(20);

/// Retries `f` until it gives `Some`, or `None` once `limit` has passed.
pub fn try_poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(INTERVAL);
    }
}

/// Retries `f` until it gives `Some`; panics naming `what` once `limit` has passed.
pub fn poll<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    try_poll(limit, f).unwrap_or_else(|| panic!("{what}: not within {limit:?}"))
}

/// Whether `cond` became true within `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    try_poll(limit, || cond().then_some(())).is_some()
}
