//! Dashboard state and key handling, free of any terminal: the latest snapshot, where the alert
//! history is scrolled to, whether help is shown, and whether the user asked to quit. The run
//! loop feeds it [`UiEvent`]s; tests call [`App::handle_key`] directly.

use std::cell::Cell;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::stats::Snapshot;

/// What the dashboard says about itself in its header.
#[derive(Debug, Clone)]
pub struct DashboardInfo {
    /// What is watched: interface and filter, or the file.
    pub source: String,
    pub version: &'static str,
}

/// Everything the run loop reacts to.
#[derive(Debug, Clone)]
pub enum UiEvent {
    Snapshot(Box<Snapshot>),
    Key(KeyEvent),
    Resize,
    Tick,
}

/// Alert rows moved by PgUp/PgDn before the panel has been drawn once.
const DEFAULT_PAGE: usize = 10;

/// The dashboard's state.
#[derive(Debug)]
pub struct App {
    pub info: DashboardInfo,
    /// The newest snapshot; `None` until the pipeline sends one.
    pub snapshot: Option<Snapshot>,
    /// Index of the first alert shown (0 = newest).
    pub alert_scroll: usize,
    pub show_help: bool,
    /// The tables show routes instead of sections (`r` toggles).
    pub show_routes: bool,
    pub started_at: Instant,
    /// Set by `q`, `Esc` or Ctrl-C; the run loop then returns.
    pub quit: bool,
    /// Alert rows visible at the last draw. Written by `render` (which only gets `&App`) so that
    /// paging moves by what the user sees and scrolling stops at a full last page.
    pub(super) alert_rows: Cell<usize>,
}

impl App {
    pub fn new(info: DashboardInfo) -> Self {
        App {
            info,
            snapshot: None,
            alert_scroll: 0,
            show_help: false,
            show_routes: false,
            started_at: Instant::now(),
            quit: false,
            alert_rows: Cell::new(0),
        }
    }

    /// Applies one event.
    pub fn update(&mut self, event: UiEvent) {
        match event {
            UiEvent::Snapshot(s) => self.on_snapshot(*s),
            UiEvent::Key(k) => self.handle_key(k),
            UiEvent::Resize | UiEvent::Tick => {}
        }
    }

    /// Replaces the snapshot. When the user has scrolled down the alert history, the view stays
    /// on the same alerts even though new ones are added at the top.
    pub fn on_snapshot(&mut self, s: Snapshot) {
        let total = |s: &Snapshot| s.alerts.len() as u64 + s.alerts_folded;
        let old = self.snapshot.as_ref().map_or(0, total);
        let added = usize::try_from(total(&s).saturating_sub(old)).unwrap_or(usize::MAX);
        if self.alert_scroll > 0 {
            self.alert_scroll = self.alert_scroll.saturating_add(added);
        }
        self.snapshot = Some(s);
        self.alert_scroll = self.alert_scroll.min(self.max_scroll());
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        // Terminals that report releases (Windows, kitty protocol) would otherwise act twice.
        if key.kind == KeyEventKind::Release {
            return;
        }
        let page = match self.alert_rows.get() {
            0 => DEFAULT_PAGE,
            n => n,
        };
        match key.code {
            // Raw mode turns Ctrl-C into a key, not a signal.
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Char('q') | KeyCode::Char('Q') => self.quit = true,
            // Esc first closes the help, as overlays usually do.
            KeyCode::Esc if self.show_help => self.show_help = false,
            KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => {
                self.show_help = !self.show_help;
            }
            KeyCode::Char('r') | KeyCode::Char('R') => self.show_routes = !self.show_routes,
            KeyCode::Up | KeyCode::Char('k') => self.scroll_to(self.alert_scroll.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => {
                self.scroll_to(self.alert_scroll.saturating_add(1))
            }
            KeyCode::PageUp => self.scroll_to(self.alert_scroll.saturating_sub(page)),
            KeyCode::PageDown => self.scroll_to(self.alert_scroll.saturating_add(page)),
            KeyCode::Home | KeyCode::Char('g') => self.scroll_to(0),
            KeyCode::End | KeyCode::Char('G') => self.scroll_to(usize::MAX),
            _ => {}
        }
    }

    fn scroll_to(&mut self, offset: usize) {
        self.alert_scroll = offset.min(self.max_scroll());
    }

    /// The largest offset that still fills the alert panel (or shows the oldest alert).
    fn max_scroll(&self) -> usize {
        let len = self.snapshot.as_ref().map_or(0, |s| s.alerts.len());
        len.saturating_sub(self.alert_rows.get().max(1))
    }

    /// How long we have been watching: event time when packets have arrived, else wall time.
    pub fn uptime(&self) -> Duration {
        match &self.snapshot {
            Some(s) if s.first.is_some() => s.now.saturating_sub(s.first.unwrap_or(s.now)),
            _ => self.started_at.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{AlertEvent, AlertKind};
    use crate::time::Timestamp;

    fn app_with_alerts(n: u64) -> App {
        let mut app = App::new(DashboardInfo {
            source: "lo port 80".into(),
            version: "0.0.0",
        });
        let alerts = (0..n)
            .rev()
            .map(|i| AlertEvent {
                kind: if i % 2 == 0 {
                    AlertKind::Triggered
                } else {
                    AlertKind::Recovered
                },
                at: Timestamp::from_secs(1_000 + i),
                hits: 100 + i,
                lower_bound: false,
            })
            .collect();
        app.on_snapshot(Snapshot {
            alerts,
            ..Default::default()
        });
        app
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn quit_keys() {
        for k in [
            key(KeyCode::Char('q')),
            key(KeyCode::Esc),
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        ] {
            let mut app = app_with_alerts(0);
            app.handle_key(k);
            assert!(app.quit, "{k:?} quits");
        }
        let mut app = app_with_alerts(0);
        app.handle_key(key(KeyCode::Char('c')));
        assert!(!app.quit, "plain c does not quit");
    }

    #[test]
    fn esc_closes_help_before_quitting() {
        let mut app = app_with_alerts(0);
        app.handle_key(key(KeyCode::Char('?')));
        assert!(app.show_help);
        app.handle_key(key(KeyCode::Esc));
        assert!(!app.show_help && !app.quit);
        app.handle_key(key(KeyCode::Esc));
        assert!(app.quit);
    }

    #[test]
    fn scroll_keys_move_and_clamp_the_alert_offset() {
        let mut app = app_with_alerts(30);
        app.handle_key(key(KeyCode::Down));
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.alert_scroll, 2);
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.alert_scroll, 1);
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(app.alert_scroll, 1 + DEFAULT_PAGE);
        app.handle_key(key(KeyCode::PageUp));
        assert_eq!(app.alert_scroll, 1);
        app.handle_key(key(KeyCode::End));
        assert_eq!(
            app.alert_scroll, 29,
            "never drawn: stops at the oldest alert"
        );
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.alert_scroll, 29);
        app.handle_key(key(KeyCode::Home));
        assert_eq!(app.alert_scroll, 0);
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.alert_scroll, 0);

        // Once drawn with 8 visible rows, the last page is full and pages are 8 rows.
        app.alert_rows.set(8);
        app.handle_key(key(KeyCode::End));
        assert_eq!(app.alert_scroll, 22);
        app.handle_key(key(KeyCode::PageUp));
        assert_eq!(app.alert_scroll, 14);
    }

    #[test]
    fn release_events_are_ignored() {
        let mut app = app_with_alerts(5);
        let mut k = key(KeyCode::Down);
        k.kind = KeyEventKind::Release;
        app.handle_key(k);
        assert_eq!(app.alert_scroll, 0);
    }

    #[test]
    fn scrolled_view_stays_on_the_same_alerts_when_new_ones_arrive() {
        let mut app = app_with_alerts(10);
        app.handle_key(key(KeyCode::Down));
        app.handle_key(key(KeyCode::Down));
        let seen = app.snapshot.as_ref().map(|s| s.alerts[2]);
        let mut s = app.snapshot.clone().unwrap_or_default();
        s.alerts.insert(
            0,
            AlertEvent {
                kind: AlertKind::Triggered,
                at: Timestamp::from_secs(9_999),
                hits: 1,
                lower_bound: false,
            },
        );
        app.on_snapshot(s);
        assert_eq!(app.alert_scroll, 3);
        assert_eq!(app.snapshot.as_ref().map(|s| s.alerts[3]), seen);

        // At the top, the newest alert stays in view.
        app.handle_key(key(KeyCode::Home));
        let s = app.snapshot.clone().unwrap_or_default();
        app.on_snapshot(s);
        assert_eq!(app.alert_scroll, 0);
    }

    #[test]
    fn uptime_comes_from_event_time() {
        let mut app = app_with_alerts(0);
        app.on_snapshot(Snapshot {
            first: Some(Timestamp::from_secs(100)),
            now: Timestamp::from_secs(165),
            ..Default::default()
        });
        assert_eq!(app.uptime(), Duration::from_secs(65));
    }
}
