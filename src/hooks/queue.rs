//! The bounded queue of alert events and the worker thread that delivers each to each hook.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use super::config_error;
use super::exec::{parse_exec, run_exec};
use super::webhook::Webhook;
use crate::error::Error;
use crate::stats::AlertEvent;

/// An event waiting for the worker, with the recording file it names.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) event: AlertEvent,
    pub(super) recording: Option<PathBuf>,
}

/// Events waiting for the worker before new ones are dropped.
pub const QUEUE_LEN: usize = 64;
/// How long one delivery (one command run, one request) may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub(super) struct Counters {
    delivered: AtomicU64,
    failures: AtomicU64,
    dropped: AtomicU64,
    /// Set when the owner is gone and the grace period passed: skip what is still queued.
    abandon: AtomicBool,
}

/// The configured hooks and their delivery thread. Dropping it lets the queue drain for at
/// most one time limit (plus a second); what is still queued then is skipped, and the worker
/// ends after its current delivery, itself time-limited.
#[derive(Debug)]
pub struct AlertHooks {
    tx: Mutex<Option<SyncSender<Queued>>>,
    done: Mutex<Option<Receiver<()>>>,
    counters: Arc<Counters>,
    limit: Duration,
}

impl AlertHooks {
    /// Checks the command and URL now, so a mistake is a one-line error at start-up rather
    /// than a failure at the first alert. With neither, nothing runs and `fire` does nothing.
    pub fn new(exec: Option<String>, webhook: Option<String>) -> Result<Self, Error> {
        Self::with_time_limit(exec, webhook, TIME_LIMIT)
    }

    /// [`AlertHooks::new`] with another time limit per delivery.
    pub fn with_time_limit(
        exec: Option<String>,
        webhook: Option<String>,
        limit: Duration,
    ) -> Result<Self, Error> {
        Self::with_settings(exec, webhook, None, limit)
    }

    /// [`AlertHooks::new`] trusting, for an `https://` webhook, the CA certificates in the PEM
    /// file `webhook_ca` besides the built-in roots, with this time limit per delivery. The
    /// file is read now (before privileges are dropped).
    pub fn with_settings(
        exec: Option<String>,
        webhook: Option<String>,
        webhook_ca: Option<&Path>,
        limit: Duration,
    ) -> Result<Self, Error> {
        let exec = exec.as_deref().map(parse_exec).transpose()?;
        if webhook.is_none() && webhook_ca.is_some() {
            return Err(config_error(
                "--alert-webhook-ca needs an --alert-webhook https:// URL".into(),
            ));
        }
        let webhook = webhook
            .as_deref()
            .map(|url| Webhook::new(url, webhook_ca))
            .transpose()?;
        let counters = Arc::new(Counters::default());
        if exec.is_none() && webhook.is_none() {
            return Ok(AlertHooks {
                tx: Mutex::new(None),
                done: Mutex::new(None),
                counters,
                limit,
            });
        }
        let (tx, rx) = mpsc::sync_channel::<Queued>(QUEUE_LEN);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let worker_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("alert-hooks".into())
            .spawn(move || {
                for event in rx {
                    if worker_counters.abandon.load(Ordering::Relaxed) {
                        worker_counters.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    for ok in [
                        exec.as_ref().map(|h| run_exec(h, &event, limit)),
                        webhook.as_ref().map(|w| w.post(&event, limit)),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        let c = if ok.is_ok() {
                            &worker_counters.delivered
                        } else {
                            &worker_counters.failures
                        };
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| Error::Other(format!("cannot start the alert hook thread: {e}")))?;
        Ok(AlertHooks {
            tx: Mutex::new(Some(tx)),
            done: Mutex::new(Some(done_rx)),
            counters,
            limit,
        })
    }

    /// True when no hook is configured (or the hooks were drained).
    pub fn is_empty(&self) -> bool {
        self.tx.lock().map(|t| t.is_none()).unwrap_or(true)
            && self.done.lock().map(|d| d.is_none()).unwrap_or(true)
    }

    /// Queues `event` for the hooks and returns at once.
    pub fn fire(&self, event: &AlertEvent) {
        self.fire_with_recording(event, None);
    }

    /// [`AlertHooks::fire`], with the file the flight recorder is writing for this alert.
    pub fn fire_with_recording(&self, event: &AlertEvent, recording: Option<&Path>) {
        let Ok(guard) = self.tx.lock() else { return };
        let Some(tx) = guard.as_ref() else { return };
        let queued = Queued {
            event: *event,
            recording: recording.map(Path::to_owned),
        };
        match tx.try_send(queued) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Deliveries that succeeded (one per hook per event): exit status 0, or an HTTP 2xx.
    pub fn delivered(&self) -> u64 {
        self.counters.delivered.load(Ordering::Relaxed)
    }

    /// Deliveries that failed: could not start, non-zero exit, no 2xx answer, or timed out.
    pub fn failures(&self) -> u64 {
        self.counters.failures.load(Ordering::Relaxed)
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

impl AlertHooks {
    /// Closes the queue and waits (at most one time limit plus a second) for what is queued
    /// to be delivered, so the counters are final: call it before printing a summary. What
    /// is still queued after the wait is skipped.
    pub fn drain(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            *tx = None;
        }
        let done = self.done.lock().ok().and_then(|mut d| d.take());
        if let Some(done) = done
            && done
                .recv_timeout(self.limit + Duration::from_secs(1))
                .is_err()
        {
            self.counters.abandon.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for AlertHooks {
    fn drop(&mut self) {
        // A recovery at shutdown is worth sending: wait a little for the queue, never forever.
        self.drain();
    }
}
