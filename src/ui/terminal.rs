//! The real terminal and the event loop. Raw mode and the alternate screen are undone on every
//! way out: a normal return, an I/O error (`?`) through a drop guard, and a panic through the
//! hook that `ratatui::try_init` installs (it restores the terminal, then calls the previous
//! hook, so the panic message lands on a usable screen).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};

use super::app::{App, DashboardInfo, UiEvent};
use super::render::render;
use crate::stats::Snapshot;

/// How long one wait for a key lasts; bounds how late a snapshot or `stop` is noticed.
const POLL: Duration = Duration::from_millis(100);
/// Redraw at least this often even when nothing arrives (the uptime moves).
const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// Restores the terminal when dropped, whatever the path out of [`run`].
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        // Errors are ignored: when init failed early (no TTY) there is nothing to undo, and the
        // caller already gets that error.
        let _ = ratatui::try_restore();
    }
}

/// Newest snapshot waiting in the channel, dropping older ones; never blocks.
/// The flag is true when the sender is gone.
fn drain(rx: &Receiver<Snapshot>) -> (Option<Snapshot>, bool) {
    let mut latest = None;
    loop {
        match rx.try_recv() {
            Ok(s) => latest = Some(s),
            Err(TryRecvError::Empty) => return (latest, false),
            Err(TryRecvError::Disconnected) => return (latest, true),
        }
    }
}

/// Shows the dashboard until the user quits, `stop` becomes true, or the snapshot sender goes
/// away. A user quit sets `stop` so the capture side ends too.
pub fn run(
    info: DashboardInfo,
    snapshots: Receiver<Snapshot>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    // The guard comes first so that a half-done init (raw mode on, no alternate screen) is undone.
    let _restore = Restore;
    let mut terminal = ratatui::try_init()?;
    let mut app = App::new(info);
    let mut last_draw: Option<Instant> = None;
    let mut dirty = true;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let (latest, disconnected) = drain(&snapshots);
        if let Some(s) = latest {
            app.update(UiEvent::Snapshot(Box::new(s)));
            dirty = true;
        }
        if disconnected {
            return Ok(());
        }
        if dirty || last_draw.is_none_or(|t| t.elapsed() >= REDRAW_EVERY) {
            terminal.draw(|f| render(f, &app))?;
            last_draw = Some(Instant::now());
            dirty = false;
        }
        if event::poll(POLL)? {
            match event::read()? {
                Event::Key(k) => {
                    app.update(UiEvent::Key(k));
                    dirty = true;
                }
                Event::Resize(..) => {
                    app.update(UiEvent::Resize);
                    dirty = true;
                }
                _ => {}
            }
        } else {
            app.update(UiEvent::Tick);
        }
        if app.quit {
            stop.store(true, Ordering::Relaxed);
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn drain_keeps_the_newest_and_reports_disconnect() {
        let (tx, rx) = mpsc::channel();
        assert!(drain(&rx).0.is_none());
        for n in 1..=3 {
            tx.send(Snapshot {
                requests: n,
                ..Default::default()
            })
            .unwrap();
        }
        let (s, gone) = drain(&rx);
        assert_eq!(s.map(|s| s.requests), Some(3));
        assert!(!gone);
        tx.send(Snapshot {
            requests: 4,
            ..Default::default()
        })
        .unwrap();
        drop(tx);
        let (s, gone) = drain(&rx);
        assert_eq!(
            s.map(|s| s.requests),
            Some(4),
            "the last snapshot is not lost"
        );
        assert!(gone);
    }
}
