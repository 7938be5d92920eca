//! The dashboard's route tables: shown in place of the section tables while `r` is on, with
//! the same columns (hits, share, 5xx, p50/p99), routes escaped like sections.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::render::render_table;
use crate::stats::Snapshot;

pub(super) fn render_route_tables(
    frame: &mut Frame,
    [left, right]: [Rect; 2],
    s: &Snapshot,
    empty: &str,
) {
    render_table(
        frame,
        left,
        "route",
        "top routes, last 10 s · r sections",
        &s.top_routes_10s,
        empty,
    );
    render_table(
        frame,
        right,
        "route",
        "top routes, last 10 min",
        &s.top_routes_10m,
        empty,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};

    use crate::stats::{SectionRow, Snapshot};
    use crate::time::Timestamp;
    use crate::ui::{App, DashboardInfo};

    fn row(name: &str, hits: u64, server_errors: u64) -> SectionRow {
        SectionRow {
            section: name.into(),
            hits,
            share: 0.5,
            responses: hits,
            client_errors: 0,
            server_errors,
            latency: None,
        }
    }

    fn draw(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(140, 40)).unwrap();
        t.draw(|f| crate::ui::render::render(f, app)).unwrap();
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn r_toggles_sections_and_routes() {
        let mut app = App::new(DashboardInfo {
            source: "lo".into(),
            version: "9.9.9",
        });
        app.on_snapshot(Snapshot {
            first: Some(Timestamp::from_secs(1)),
            top_10s: vec![row("/users", 9, 0)],
            top_routes_10s: vec![row("/users/{id}", 7, 3), row("/x\u{1b}[2J/{id}", 2, 0)],
            ..Snapshot::default()
        });
        let sections = draw(&app);
        assert!(
            sections.contains("top sections, last 10 s · r routes"),
            "{sections}"
        );
        assert!(!sections.contains("/users/{id}"), "{sections}");
        app.handle_key(KeyEvent::from(KeyCode::Char('r')));
        let routes = draw(&app);
        assert!(
            routes.contains("top routes, last 10 s · r sections"),
            "{routes}"
        );
        assert!(routes.contains("route"), "{routes}");
        let line = routes
            .lines()
            .find(|l| l.contains("/users/{id}"))
            .unwrap_or_default();
        assert!(
            line.contains(" 7 ") && line.contains(" 3 "),
            "hits and 5xx: {line}"
        );
        assert!(routes.contains("/x\\x1b[2J/{id}"), "escaped: {routes}");
        app.handle_key(KeyEvent::from(KeyCode::Char('r')));
        assert!(draw(&app).contains("top sections, last 10 s"));
    }

    #[test]
    fn help_names_the_routes_key() {
        let mut app = App::new(DashboardInfo {
            source: "lo".into(),
            version: "9.9.9",
        });
        app.on_snapshot(Snapshot::default());
        app.handle_key(KeyEvent::from(KeyCode::Char('?')));
        let out = draw(&app);
        assert!(
            out.contains("top routes (/users/{id}) instead of top sections"),
            "{out}"
        );
    }
}
