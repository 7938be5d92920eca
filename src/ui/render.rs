//! Drawing one frame from an [`App`]: header, drop banner, non-HTTP/1 notice, rate chart with the
//! threshold, top-section tables, status and latency, alert history and a health line. Pure with
//! respect to the snapshot: it formats, it never counts. Text that came off the network (section
//! names, TLS server names) goes through [`escape`] first.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};

use super::app::App;
use crate::flow::NonHttpKind;
use crate::output::escape;
use crate::output::plain::{fmt_duration, fmt_latency};
use crate::stats::{AlertEvent, AlertKind, SectionRow, Snapshot, StatusClass};

/// Smallest terminal the dashboard draws into; below it a message says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// TLS server names listed in the notice; the rest are counted.
const MAX_TLS_NAMES: usize = 5;

/// Draws the whole dashboard.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    match &app.snapshot {
        None => waiting(frame, area, app),
        Some(s) => dashboard(frame, area, app, s),
    }
    if app.show_help {
        help(frame, area);
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let msg = format!(
        "terminal too small ({}x{}); need at least {MIN_WIDTH}x{MIN_HEIGHT}",
        area.width, area.height
    );
    let p = Paragraph::new(msg)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    // Vertically centred; the message wraps on very narrow terminals.
    let h = 3.min(area.height);
    let y = area.y + (area.height - h) / 2;
    frame.render_widget(
        p,
        Rect {
            y,
            height: h,
            ..area
        },
    );
}

fn waiting(frame: &mut Frame, area: Rect, app: &App) {
    let lines = vec![
        Line::from(format!("traffic-watch {}", app.info.version)).style(bold()),
        Line::from(""),
        Line::from(format!(
            "waiting for traffic on {} …",
            escape(&app.info.source)
        )),
        Line::from(format!("({} so far)", fmt_uptime(app.uptime()))).style(dim()),
        Line::from(""),
        Line::from("? help · q quit").style(dim()),
    ];
    let inner = area.centered(
        Constraint::Percentage(90),
        Constraint::Length(lines.len() as u16),
    );
    frame.render_widget(Paragraph::new(lines).alignment(Alignment::Center), inner);
}

fn dashboard(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let dropped = s.health.dropped();
    let non_http: u64 = s.non_http.iter().sum();
    let banner_h = u16::from(dropped > 0);
    let notice_text = (non_http > 0).then(|| non_http_text(s));
    // Tall enough for the whole wrapped notice (+1 for word-wrap slack, +2 for the border).
    let notice_h = notice_text.as_ref().map_or(0, |t| {
        let inner = usize::from(area.width.saturating_sub(2)).max(1);
        u16::try_from(t.chars().count() / inner + 1)
            .unwrap_or(u16::MAX)
            .saturating_add(3)
    });
    // One line when wide enough, else wrapped onto two.
    let traffic_h = if area.width >= 120 { 1 } else { 2 };
    let fixed = 3 + banner_h + notice_h + traffic_h + 1;
    let rest = area.height.saturating_sub(fixed);
    // When short of rows, the chart goes first: the tables and alerts carry the numbers.
    let chart_h = if rest >= 10 {
        (rest / 3).clamp(3, 12)
    } else {
        0
    };
    let alerts_h = (rest / 4).clamp(2, 12);
    let [
        header,
        banner,
        notice,
        chart,
        tables,
        traffic,
        alerts,
        health,
    ] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(banner_h),
        Constraint::Length(notice_h),
        Constraint::Length(chart_h),
        Constraint::Fill(1),
        Constraint::Length(traffic_h),
        Constraint::Length(alerts_h),
        Constraint::Length(1),
    ])
    .areas(area);

    render_header(frame, header, app, s);
    if dropped > 0 {
        render_banner(frame, banner, s);
    }
    if let Some(t) = notice_text {
        render_non_http(frame, notice, t);
    }
    if chart_h > 0 {
        render_chart(frame, chart, s);
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(tables);
    let empty = match s.first {
        None => format!("waiting for traffic on {}", escape(&app.info.source)),
        Some(_) => "(no requests)".to_owned(),
    };
    if app.show_routes {
        super::routes::render_route_tables(frame, [left, right], s, &empty);
    } else {
        render_sections(
            frame,
            left,
            "top sections, last 10 s · r routes",
            &s.top_10s,
            &empty,
        );
        render_sections(
            frame,
            right,
            "top sections, last 10 min",
            &s.top_10m,
            &empty,
        );
    }
    render_traffic(frame, traffic, s);
    render_alerts(frame, alerts, app, s);
    render_health(frame, health, s);
}

fn render_header(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let state = if s.alert_active {
        Span::styled(
            " ALERT ",
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        )
    } else {
        Span::styled(" OK ", Style::new().fg(Color::Black).bg(Color::Green))
    };
    let first = Line::from(vec![
        state,
        Span::styled(format!(" traffic-watch {}", app.info.version), bold()),
        Span::raw(format!(" · {}", escape(&app.info.source))),
        Span::raw(format!(" · up {}", fmt_uptime(app.uptime()))),
        Span::styled(" · ? help", dim()),
    ]);
    let above = s.window_avg > s.threshold_rate;
    let avg_style = if above {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let second = Line::from(vec![
        Span::raw(format!(
            "now {:.0}/s · 10s avg {:.1}/s · ",
            s.rate_1s, s.rate_10s
        )),
        Span::styled(
            format!("{}s avg {:.2}/s", s.window_secs, s.window_avg),
            avg_style,
        ),
        Span::raw(format!(" (threshold {:.2}/s)", s.threshold_rate)),
    ]);
    let h = &s.health;
    let dropped = h.dropped();
    let drop_style = if dropped > 0 {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    };
    let third = Line::from(vec![
        Span::raw(format!(
            "requests {} · responses {} · ",
            s.requests, s.responses
        )),
        Span::styled(
            format!(
                "dropped {dropped} (kernel {}, interface {}, queue {})",
                h.kernel_dropped.unwrap_or(0),
                h.interface_dropped.unwrap_or(0),
                h.queue_dropped
            ),
            drop_style,
        ),
    ]);
    frame.render_widget(Paragraph::new(vec![first, second, third]), area);
}

fn render_banner(frame: &mut Frame, area: Rect, s: &Snapshot) {
    let msg = format!(
        "INCOMPLETE: {} packets dropped — counts and alerts are lower bounds",
        s.health.dropped()
    );
    let style = Style::new()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    frame.render_widget(Paragraph::new(msg).style(style), area);
}

/// The plain-words explanation of traffic that traffic-watch cannot read.
fn non_http_text(s: &Snapshot) -> String {
    let tls = s.non_http_count(NonHttpKind::Tls);
    let h2 = s.non_http_count(NonHttpKind::Http2);
    let other = s.non_http_count(NonHttpKind::Other);
    let mut parts = Vec::new();
    if tls > 0 {
        let mut p = format!("TLS ({tls} connection{}", plural(tls));
        if !s.tls_names.is_empty() {
            let names: Vec<String> = s
                .tls_names
                .iter()
                .take(MAX_TLS_NAMES)
                .map(|n| escape(n))
                .collect();
            p.push_str(&format!("; server names: {}", names.join(", ")));
            if s.tls_names.len() > MAX_TLS_NAMES {
                p.push_str(&format!(" and {} more", s.tls_names.len() - MAX_TLS_NAMES));
            }
        }
        p.push(')');
        parts.push(p);
    }
    if h2 > 0 {
        parts.push(format!("HTTP/2 ({h2} connection{})", plural(h2)));
    }
    if other > 0 {
        parts.push(format!(
            "another protocol ({other} connection{})",
            plural(other)
        ));
    }
    let what = parts.join(" and ");
    if s.requests == 0 {
        format!(
            "This port carries {what} — traffic-watch reads plain HTTP/1 and h2c only; \
             use --log with the server's access log"
        )
    } else {
        format!(
            "This port also carries {what}, not counted — traffic-watch reads plain HTTP/1 and \
             h2c only"
        )
    }
}

fn render_non_http(frame: &mut Frame, area: Rect, text: String) {
    let block = Block::bordered()
        .title(" not HTTP ")
        .border_style(Style::new().fg(Color::Yellow));
    let p = Paragraph::new(text).block(block).wrap(Wrap { trim: true });
    frame.render_widget(p, area);
}

fn render_chart(frame: &mut Frame, area: Rect, s: &Snapshot) {
    let n = s.per_second.len();
    // Oldest first: x runs from -(n-1) seconds to 0 (now).
    let rate: Vec<(f64, f64)> = s
        .per_second
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64 - (n as f64 - 1.0), *v as f64))
        .collect();
    let x_min = -((s.window_secs.max(n as u64).max(2) - 1) as f64);
    let threshold = [(x_min, s.threshold_rate), (0.0, s.threshold_rate)];
    let peak = s.per_second.iter().copied().max().unwrap_or(0) as f64;
    let y_max = (peak.max(s.threshold_rate).max(1.0) * 1.2).ceil();
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Red))
            .data(&threshold),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&rate),
    ];
    let title = Line::from(vec![
        Span::raw(format!(" requests/s, last {} s → now ", s.window_secs)),
        Span::styled(
            format!("— threshold {:.1}/s ", s.threshold_rate),
            Style::new().fg(Color::Red),
        ),
    ]);
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title))
        .legend_position(None)
        // No x labels: they would cost two rows, and the title names the span.
        .x_axis(Axis::default().bounds([x_min, 0.0]))
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels(["0".to_owned(), format!("{y_max:.0}")])
                .style(dim()),
        );
    frame.render_widget(chart, area);
}

fn render_sections(frame: &mut Frame, area: Rect, title: &str, rows: &[SectionRow], empty: &str) {
    render_table(frame, area, "section", title, rows, empty);
}

/// A top-N table of sections or routes (`name` heads the first column).
pub(super) fn render_table(
    frame: &mut Frame,
    area: Rect,
    name: &str,
    title: &str,
    rows: &[SectionRow],
    empty: &str,
) {
    let inner_w = area.width.saturating_sub(2);
    // Narrow panels drop columns rather than squeezing the section name to nothing.
    let latency = inner_w >= 56;
    let errors = inner_w >= 36;
    // Numbers are right-aligned, so their headings are too.
    let mut header = vec![
        name.to_owned(),
        format!("{:>7}", "hits"),
        format!("{:>6}", "share"),
    ];
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    if errors {
        header.push(format!("{:>5}", "5xx"));
        widths.push(Constraint::Length(5));
    }
    if latency {
        header.extend([format!("{:>8}", "p50"), format!("{:>8}", "p99")]);
        widths.extend([Constraint::Length(8), Constraint::Length(8)]);
    }
    let body: Vec<Row> = if rows.is_empty() {
        vec![Row::new([Cell::from(empty.to_owned()).style(dim())])]
    } else {
        rows.iter()
            .map(|r| {
                let mut cells = vec![
                    Cell::from(escape(&r.section)),
                    Cell::from(format!("{:>7}", r.hits)),
                    Cell::from(format!("{:>5.1}%", r.share * 100.0)),
                ];
                if errors {
                    let style = if r.server_errors > 0 {
                        Style::new().fg(Color::Red)
                    } else {
                        Style::new()
                    };
                    cells.push(Cell::from(format!("{:>5}", r.server_errors)).style(style));
                }
                if latency {
                    let (p50, p99) = match r.latency {
                        Some(p) => (fmt_duration(p.p50), fmt_duration(p.p99)),
                        None => ("-".to_owned(), "-".to_owned()),
                    };
                    cells.push(Cell::from(format!("{p50:>8}")));
                    cells.push(Cell::from(format!("{p99:>8}")));
                }
                Row::new(cells)
            })
            .collect()
    };
    let table = Table::new(body, widths)
        .header(Row::new(header).style(bold()))
        .block(Block::bordered().title(format!(" {title} ")));
    frame.render_widget(table, area);
}

fn render_traffic(frame: &mut Frame, area: Rect, s: &Snapshot) {
    let mut spans = vec![Span::styled("status ", bold())];
    for class in StatusClass::REPORT_ORDER {
        let n = s.status_count(class);
        if class == StatusClass::Other && n == 0 {
            continue;
        }
        let color = match class {
            StatusClass::Successful => Color::Green,
            StatusClass::ClientError => Color::Yellow,
            StatusClass::ServerError => Color::Red,
            _ => Color::Reset,
        };
        let style = if n > 0 { Style::new().fg(color) } else { dim() };
        spans.push(Span::styled(format!("{} {n}  ", class.as_str()), style));
    }
    spans.push(Span::styled("· latency ", bold()));
    spans.push(Span::raw(format!("{}  ", fmt_latency(s.latency))));
    spans.push(Span::styled("· methods ", bold()));
    let methods: Vec<String> = s
        .methods
        .iter()
        .map(|(m, n)| format!("{} {n}", escape(m)))
        .collect();
    spans.push(Span::raw(if methods.is_empty() {
        "-".to_owned()
    } else {
        methods.join(", ")
    }));
    spans.push(Span::styled("  · protocols ", bold()));
    spans.push(Span::raw(crate::output::plain::protocols_line(s)));
    if s.grpc_status.iter().any(|n| *n > 0) {
        spans.push(Span::styled("  · grpc ", bold()));
        spans.push(Span::raw(crate::output::plain::grpc_line(s)));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true }),
        area,
    );
}

fn alert_line(e: &AlertEvent, newest_and_active: bool, recording: Option<&str>) -> Line<'static> {
    let style = match e.kind {
        AlertKind::Triggered if newest_and_active => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        AlertKind::Triggered => Style::new().fg(Color::Yellow),
        AlertKind::Recovered => Style::new().fg(Color::Green),
    };
    let mut spans = vec![Span::styled(e.message(), style)];
    if let Some(path) = recording {
        // The evidence first: where the packets of this spike are being saved.
        spans.push(Span::styled(
            format!(" → {}", crate::output::escape::escape(path)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn render_alerts(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let rows = usize::from(area.height.saturating_sub(1));
    app.alert_rows.set(rows);
    let mut title = format!(" alerts: {}, newest first ", s.alerts.len());
    if s.alerts_folded > 0 {
        title.push_str(&format!("(+{} older folded) ", s.alerts_folded));
    }
    // Clamp here as well: the panel may have grown since the offset was set.
    let offset = app
        .alert_scroll
        .min(s.alerts.len().saturating_sub(rows.max(1)));
    if offset > 0 {
        title.push_str(&format!("· {} newer above ", offset));
    }
    let lines: Vec<Line> = if s.alerts.is_empty() {
        vec![Line::styled(
            format!(
                "no alerts yet (fires when the {} s average goes above {:.2}/s)",
                s.window_secs, s.threshold_rate
            ),
            dim(),
        )]
    } else {
        s.alerts
            .iter()
            .enumerate()
            .skip(offset)
            .take(rows)
            .map(|(i, e)| {
                let file = match e.kind {
                    AlertKind::Triggered => s.health.recording.file_for(e.at),
                    AlertKind::Recovered => None,
                };
                alert_line(e, i == 0 && s.alert_active, file)
            })
            .collect()
    };
    let border = if s.alert_active {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    };
    // Top border only: an alert message is 80 columns, a side border would cut it.
    let block = Block::new()
        .borders(Borders::TOP)
        .title(title)
        .border_style(border);
    let p = Paragraph::new(lines).block(block);
    frame.render_widget(p, area);
}

fn render_health(frame: &mut Frame, area: Rect, s: &Snapshot) {
    let h = &s.health;
    let f = &h.flow;
    let count = |label: &str, n: u64| {
        let style = if n > 0 {
            Style::new().fg(Color::Yellow)
        } else {
            dim()
        };
        Span::styled(format!(" · {label} {n}"), style)
    };
    let mut spans = vec![Span::styled(format!("packets {}", h.packets), dim())];
    if let Some((snaplen, cut)) = h.truncation() {
        // Counts are lower bounds: say so as plainly as drops.
        spans.push(Span::styled(
            format!(" · truncated to {snaplen} B ({cut} packets cut)"),
            Style::new().fg(Color::Yellow),
        ));
    }
    spans.extend([
        count("undecoded", h.undecoded_total()),
        Span::styled(format!(" · flows {}", h.flows_tracked), dim()),
        count("evicted", f.evicted_flows),
        count("gaps", f.gaps_skipped),
        count("malformed", f.malformed_total()),
        count("heads too large", f.heads_too_large),
        count("sections folded", s.sections_folded),
    ]);
    if f.heads_cut > 0 {
        spans.push(count("heads cut", f.heads_cut));
    }
    if s.routes_folded > 0 {
        spans.push(count("routes folded", s.routes_folded));
    }
    if f.paths_cut > 0 {
        spans.push(count("paths cut", f.paths_cut));
    }
    // Recording, when in use: what was saved, and drops and errors standing out.
    for (name, c) in h.recording.outputs() {
        let label = if name == "file" { "-w" } else { "recorded" };
        spans.push(Span::styled(
            format!(" · {label} {} pkts {} files", c.packets, c.files),
            dim(),
        ));
        spans.push(count("record drops", c.dropped));
        if c.errors > 0 {
            spans.push(count("write errors", c.errors));
        }
    }
    // Log input and alert hooks, when in use: bad lines and failed hooks stand out.
    for (name, n) in &h.counters() {
        let label = name.replace('_', " ");
        if matches!(*name, "log_lines" | "log_rotations" | "hooks_delivered") {
            spans.push(Span::styled(format!(" · {label} {n}"), dim()));
        } else {
            spans.push(count(&label, *n));
        }
    }
    let line = Line::from(spans);
    frame.render_widget(Paragraph::new(line), area);
}

fn help(frame: &mut Frame, area: Rect) {
    let keys = [
        ("q  Esc  Ctrl-C", "quit (Esc closes this help first)"),
        ("?", "show or hide this help"),
        (
            "r",
            "top routes (/users/{id}) instead of top sections, and back",
        ),
        ("Up  Down", "scroll the alert history by one"),
        ("PgUp  PgDn", "scroll the alert history by a page"),
        ("Home  End", "newest / oldest alert"),
    ];
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<16}"), bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "Counts come from captured packets; with drops they are lower bounds.",
        dim(),
    ));
    let box_area = area.centered(
        Constraint::Length(74.min(area.width)),
        Constraint::Length(lines.len() as u16 + 2),
    );
    frame.render_widget(Clear, box_area);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" help — keys ")
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        box_area,
    );
}

fn fmt_uptime(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::stats::{Health, Percentiles};
    use crate::time::Timestamp;
    use crate::ui::DashboardInfo;

    /// The buffer as text, one line per row, trailing spaces trimmed.
    fn text(buf: &Buffer) -> String {
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn draw(app: &App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, app)).unwrap();
        text(t.backend().buffer())
    }

    fn app(s: Option<Snapshot>) -> App {
        let mut app = App::new(DashboardInfo {
            source: "eth0 tcp port 8080".into(),
            version: "9.9.9",
        });
        if let Some(s) = s {
            app.on_snapshot(s);
        }
        app
    }

    fn row(section: &str, hits: u64, share: f64) -> SectionRow {
        SectionRow {
            section: section.into(),
            hits,
            share,
            responses: hits,
            client_errors: 0,
            server_errors: 1,
            latency: Some(Percentiles {
                p50: Duration::from_micros(1_500),
                p90: Duration::from_millis(3),
                p99: Duration::from_millis(12),
            }),
        }
    }

    fn alert(kind: AlertKind, secs: u64, hits: u64) -> AlertEvent {
        AlertEvent {
            kind,
            at: Timestamp::from_secs(secs),
            hits,
            lower_bound: false,
        }
    }

    fn busy() -> Snapshot {
        Snapshot {
            now: Timestamp::from_secs(1_795_500_800),
            first: Some(Timestamp::from_secs(1_795_500_000)),
            requests: 4321,
            responses: 4300,
            rate_1s: 14.0,
            rate_10s: 12.5,
            window_secs: 120,
            window_hits: 1300,
            window_avg: 10.83,
            threshold_rate: 10.0,
            alert_active: true,
            per_second: (0..120).map(|i| i % 20).collect(),
            alerts: vec![
                alert(AlertKind::Triggered, 1_795_500_700, 1201),
                alert(AlertKind::Recovered, 1_795_500_600, 0),
                alert(AlertKind::Triggered, 1_795_500_500, 1500),
            ],
            top_10s: vec![row("/api", 30, 0.6), row("/a\u{1b}[2J", 20, 0.4)],
            top_10m: vec![row("/pages", 900, 0.5), row("/api", 800, 0.45)],
            methods: vec![("GET".into(), 4000), ("POST".into(), 321)],
            status_classes: [0, 0, 4000, 100, 150, 50],
            latency: row("/", 1, 1.0).latency,
            ..Default::default()
        }
    }

    fn position(hay: &str, needle: &str) -> usize {
        hay.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not found in:\n{hay}"))
    }

    #[test]
    fn dashboard_shows_the_essentials() {
        let out = draw(&app(Some(busy())), 140, 40);
        for needle in [
            "ALERT",
            "traffic-watch 9.9.9",
            "eth0 tcp port 8080",
            "up 13m20s",
            "now 14/s",
            "10s avg 12.5/s",
            "120s avg 10.83/s",
            "(threshold 10.00/s)",
            "requests 4321",
            "responses 4300",
            "threshold 10.0/s",
            "top sections, last 10 s",
            "top sections, last 10 min",
            "2xx 4000",
            "5xx 50",
            "p50 1.5ms",
            "GET 4000",
            "flows 0",
        ] {
            position(&out, needle);
        }
        assert!(!out.contains("INCOMPLETE"), "no drops, no banner");
        assert!(
            !out.contains("not HTTP"),
            "no notice without non-HTTP traffic"
        );
    }

    #[test]
    fn health_line_shows_malformed_requests_and_cut_heads() {
        let mut s = busy();
        s.health.flow.malformed = [7, 1, 2, 0];
        s.health.flow.heads_cut = 3;
        let out = draw(&app(Some(s)), 160, 40);
        position(&out, "malformed 10");
        position(&out, "heads cut 3");
        let out = draw(&app(Some(busy())), 160, 40);
        position(&out, "malformed 0");
        assert!(!out.contains("heads cut"), "shown only once it happened");
    }

    #[test]
    fn an_alerts_recording_is_on_its_line_and_recording_counts_on_the_health_line() {
        let mut s = busy();
        s.health.recording = crate::stats::RecordingHealth {
            alerts: Some(crate::stats::RecordingCounters {
                packets: 4321,
                files: 1,
                dropped: 7,
                ..Default::default()
            }),
            files: vec![(
                s.alerts[0].at,
                "/var/tw/alert-20261124T061140Z.pcapng".into(),
            )],
            ..Default::default()
        };
        // Wide enough for the whole health line, which is cut, not wrapped, when narrower.
        let out = draw(&app(Some(s)), 220, 40);
        let line = out
            .lines()
            .find(|l| l.contains("hits = 1201"))
            .unwrap_or_default();
        assert!(
            line.contains("→ /var/tw/alert-20261124T061140Z.pcapng"),
            "{out}"
        );
        // Only the alert that opened the file names it.
        assert_eq!(out.matches("alert-2026").count(), 1, "{out}");
        assert!(
            out.contains("recorded 4321 pkts 1 files · record drops 7"),
            "{out}"
        );
    }

    #[test]
    fn alerts_are_shown_newest_first() {
        let out = draw(&app(Some(busy())), 140, 40);
        let newest = position(&out, "hits = 1201, triggered at 2026-11-24T06:11:40Z");
        let middle = position(&out, "High traffic alert recovered at 2026-11-24T06:10:00Z");
        let oldest = position(&out, "hits = 1500, triggered at 2026-11-24T06:08:20Z");
        assert!(newest < middle && middle < oldest, "{out}");
    }

    #[test]
    fn alert_colours_follow_the_kind() {
        let mut t = Terminal::new(TestBackend::new(140, 40)).unwrap();
        let a = app(Some(busy()));
        t.draw(|f| render(f, &a)).unwrap();
        let buf = t.backend().buffer();
        let out = text(buf);
        let fg_of = |needle: &str| {
            let at = position(&out, needle);
            let y = out[..at].matches('\n').count() as u16;
            let x = out[..at].rsplit('\n').next().unwrap_or("").chars().count() as u16;
            buf[(x, y)].fg
        };
        assert_eq!(
            fg_of("High traffic generated an alert - hits = 1201"),
            Color::Red
        );
        assert_eq!(fg_of("High traffic alert recovered"), Color::Green);
        assert_eq!(
            fg_of("High traffic generated an alert - hits = 1500"),
            Color::Yellow
        );
    }

    #[test]
    fn scrolling_hides_newer_alerts() {
        let mut a = app(Some(busy()));
        let _ = draw(&a, 140, 15);
        a.handle_key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
        assert!(a.alert_scroll > 0);
        let out = draw(&a, 140, 15);
        assert!(!out.contains("hits = 1201"), "{out}");
        assert!(out.contains("hits = 1500"), "{out}");
        assert!(out.contains("newer above"), "{out}");
    }

    #[test]
    fn folded_alerts_are_counted() {
        let s = Snapshot {
            alerts_folded: 7,
            ..busy()
        };
        assert!(draw(&app(Some(s)), 140, 40).contains("(+7 older folded)"));
    }

    #[test]
    fn sections_keep_their_order_and_are_escaped() {
        let out = draw(&app(Some(busy())), 140, 40);
        let first = position(&out, "/api ");
        let second = position(&out, "/a\\x1b[2J");
        assert!(first < second);
        assert!(!out.contains('\u{1b}'), "a raw ESC reached the screen");
        // Also at the narrowest size, where columns are dropped.
        let narrow = draw(&app(Some(busy())), MIN_WIDTH, MIN_HEIGHT);
        assert!(!narrow.contains('\u{1b}'));
    }

    #[test]
    fn drops_show_a_banner_with_the_count() {
        let s = Snapshot {
            health: Health {
                kernel_dropped: Some(40),
                queue_dropped: 2,
                ..Default::default()
            },
            ..busy()
        };
        let out = draw(&app(Some(s)), 140, 40);
        position(&out, "INCOMPLETE: 42 packets dropped");
        position(&out, "dropped 42");
    }

    #[test]
    fn truncation_shows_in_the_health_line() {
        assert!(!draw(&app(Some(busy())), 140, 40).contains("truncated"));
        let s = Snapshot {
            health: Health {
                truncated_packets: 62,
                snaplen: Some(96),
                ..Default::default()
            },
            ..busy()
        };
        let out = draw(&app(Some(s)), 140, 40);
        position(&out, "truncated to 96 B (62 packets cut)");
    }

    #[test]
    fn tiny_terminal_gets_a_message() {
        let out = draw(&app(Some(busy())), 50, 10);
        position(&out, "terminal too small (50x10); need at least 60x15");
        let out = draw(&app(Some(busy())), 100, 14);
        position(&out, "terminal too small (100x14)");
        // Exactly the minimum draws the dashboard.
        let out = draw(&app(Some(busy())), MIN_WIDTH, MIN_HEIGHT);
        assert!(!out.contains("too small"), "{out}");
        position(&out, "ALERT");
    }

    #[test]
    fn waiting_before_the_first_snapshot() {
        let out = draw(&app(None), 80, 24);
        position(&out, "waiting for traffic on eth0 tcp port 8080");
    }

    #[test]
    fn tls_only_port_is_explained() {
        let s = Snapshot {
            first: Some(Timestamp::from_secs(1)),
            now: Timestamp::from_secs(5),
            window_secs: 120,
            threshold_rate: 10.0,
            non_http: [3, 0, 0],
            tls_names: vec!["example.com".into(), "evil\u{1b}[31m.test".into()],
            ..Default::default()
        };
        let out = draw(&app(Some(s.clone())), 200, 30);
        position(
            &out,
            "This port carries TLS (3 connections; server names: example.com, evil\\x1b[31m.test) — \
             traffic-watch reads plain HTTP/1 and h2c only; use --log with the server's access log",
        );
        assert!(!out.contains('\u{1b}'));
        // Wrapped but still there at 80 columns.
        let out = draw(&app(Some(s)), 80, 24);
        position(&out, "This port carries TLS (3 connections;");
        position(&out, "use --log");
    }

    #[test]
    fn mixed_port_mentions_what_is_not_counted() {
        let s = Snapshot {
            non_http: [0, 2, 1],
            ..busy()
        };
        let out = draw(&app(Some(s)), 200, 40);
        position(
            &out,
            "This port also carries HTTP/2 (2 connections) and another protocol (1 connection), not counted",
        );
    }

    #[test]
    fn help_overlay_toggles_with_question_mark() {
        let mut a = app(Some(busy()));
        assert!(!draw(&a, 100, 30).contains("scroll the alert history"));
        a.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        let out = draw(&a, 100, 30);
        position(&out, "help");
        position(&out, "scroll the alert history by a page");
        a.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        assert!(!draw(&a, 100, 30).contains("scroll the alert history"));
    }

    #[test]
    fn q_sets_quit() {
        let mut a = app(None);
        a.handle_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
        assert!(a.quit);
    }

    #[test]
    fn uptime_format() {
        assert_eq!(fmt_uptime(Duration::from_secs(5)), "5s");
        assert_eq!(fmt_uptime(Duration::from_secs(65)), "1m05s");
        assert_eq!(fmt_uptime(Duration::from_secs(3_725)), "1h02m05s");
    }
}
