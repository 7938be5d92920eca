//! Where a run's results go, behind one fan-out: the printer (plain text or NDJSON), the
//! dashboard's channel, the `/metrics` slot, the alert hooks and the packet recorder. The
//! runner hands it alerts and snapshots; each output takes what it needs.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::config::{OutputMode, OutputSettings};
use super::printer::Printer;
use crate::error::{Error, Result};
use crate::export::{MetricsServer, SnapshotSlot};
use crate::hooks::AlertHooks;
use crate::pipeline::Pipeline;
use crate::record::Recording;
use crate::stats::{AlertEvent, HookHealth, Snapshot};

/// The dashboard thread and the channel that feeds it snapshots.
struct Dashboard {
    tx: mpsc::Sender<Snapshot>,
    thread: JoinHandle<std::io::Result<()>>,
}

pub struct Outputs {
    /// Plain text or NDJSON; also the summary's way out after the dashboard closes.
    pub printer: Printer<Box<dyn Write>>,
    dashboard: Option<Dashboard>,
    metrics: Option<SnapshotSlot>,
    /// Kept so the listener lives as long as the run.
    _metrics_server: Option<MetricsServer>,
    hooks: Option<AlertHooks>,
    recorder: Option<Box<Recording>>,
}

impl Outputs {
    /// Builds the hooks (reading a webhook's CA file) and binds the `/metrics` listener: both
    /// may need privileges, so this comes before they are dropped. Output goes to stdout.
    pub fn open(settings: &OutputSettings, top_n: usize) -> Result<Outputs> {
        let hooks = if settings.hooks.is_empty() {
            None
        } else {
            Some(AlertHooks::with_settings(
                settings.hooks.exec.clone(),
                settings.hooks.webhook.clone(),
                settings.hooks.webhook_ca.as_deref(),
                crate::hooks::TIME_LIMIT,
            )?)
        };
        let (metrics, server) = match settings.metrics_addr {
            Some(addr) => {
                let slot = SnapshotSlot::new();
                let server = MetricsServer::start(addr, slot.clone(), top_n)?;
                (Some(slot), Some(server))
            }
            None => (None, None),
        };
        // The summary after a dashboard is plain text.
        let mode = match settings.mode {
            OutputMode::Json => OutputMode::Json,
            _ => OutputMode::Plain,
        };
        Ok(Outputs {
            printer: Printer::new(Box::new(std::io::stdout()), mode),
            dashboard: None,
            metrics,
            _metrics_server: server,
            hooks,
            recorder: None,
        })
    }

    /// Prints to `out` instead of unbuffered stdout (an offline run's locked, buffered stdout).
    pub fn print_to(&mut self, out: Box<dyn Write>, mode: OutputMode) {
        self.printer = Printer::new(out, mode);
    }

    /// Records the packets (`-w`, `--record-alerts`).
    pub fn record(&mut self, recording: Recording) {
        self.recorder = Some(Box::new(recording));
    }

    pub fn recorder(&mut self) -> Option<&mut Recording> {
        self.recorder.as_deref_mut()
    }

    /// Hands the terminal to the dashboard, on its own thread; it sets `stop` on `q`.
    pub fn start_dashboard(&mut self, source: String, stop: Arc<AtomicBool>) -> Result<()> {
        let (tx, rx) = mpsc::channel::<Snapshot>();
        let info = crate::ui::DashboardInfo {
            source,
            version: env!("CARGO_PKG_VERSION"),
        };
        let thread = std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || crate::ui::run(info, rx, stop))?;
        self.dashboard = Some(Dashboard { tx, thread });
        Ok(())
    }

    pub fn has_dashboard(&self) -> bool {
        self.dashboard.is_some()
    }

    /// Sends the dashboard a snapshot; false once it has gone (the user quit).
    pub fn show(&self, pipe: &Pipeline) -> bool {
        match &self.dashboard {
            Some(d) => d.tx.send(pipe.snapshot()).is_ok(),
            None => true,
        }
    }

    /// Waits for the dashboard to give the terminal back.
    pub fn close_dashboard(&mut self) -> Result<()> {
        match self.dashboard.take() {
            Some(Dashboard { tx, thread }) => {
                drop(tx);
                match thread.join() {
                    Ok(Err(e)) => Err(Error::from(e)),
                    _ => Ok(()),
                }
            }
            None => Ok(()),
        }
    }

    /// An alert transition to the recorder and the hooks; returns the flight recorder's file
    /// for it, for the printer and the dashboard.
    pub fn alert(&mut self, e: &AlertEvent) -> Option<PathBuf> {
        let path = self.recorder.as_mut().and_then(|r| r.alert(e));
        if let Some(h) = &self.hooks {
            h.fire_with_recording(e, path.as_deref());
        }
        path
    }

    pub fn has_metrics(&self) -> bool {
        self.metrics.is_some()
    }

    /// Hands the metrics endpoint a fresh snapshot, if there is one.
    pub fn publish(&self, pipe: &Pipeline) {
        if let Some(slot) = &self.metrics {
            slot.publish(pipe.snapshot());
        }
    }

    /// The hooks' deliveries so far.
    pub fn hook_health(&self) -> Option<HookHealth> {
        self.hooks.as_ref().map(|h| HookHealth {
            delivered: h.delivered(),
            failed: h.failures(),
            dropped: h.dropped(),
        })
    }

    /// Waits (bounded) for queued hook deliveries, so the counters in a summary are final.
    pub fn drain_hooks(&self) {
        if let Some(h) = &self.hooks {
            h.drain();
        }
    }
}
