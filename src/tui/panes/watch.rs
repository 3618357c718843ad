//! Watch: the drop-folder rules, their counts and recent failures, from the
//! ledger that `atelier watch` keeps.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use crate::queue::run::format_time;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let rules = &app.snap.watch;
    if rules.is_empty() {
        f.render_widget(
            Paragraph::new(
                "No drop folders configured. Add [[watch]] rules to your config (see README, Drop folders) and run `atelier watch`; their state shows here.",
            )
            .wrap(Wrap { trim: true })
            .dim()
            .block(Block::bordered().title(" Watch ")),
            area,
        );
        return;
    }
    let [top, bottom] = Layout::vertical([
        Constraint::Length(rules.len() as u16 + 3),
        Constraint::Min(3),
    ])
    .areas(area);
    let rows: Vec<Row> = rules
        .iter()
        .map(|r| {
            Row::new(vec![
                r.name.clone(),
                r.inbox.display().to_string(),
                r.styles.join(", "),
                r.preset.clone().unwrap_or_else(|| "-".into()),
                if r.enabled { "on" } else { "off" }.to_string(),
                format!("{}", r.counts.queued),
                format!("{}", r.counts.done),
                format!("{}", r.counts.failed),
                format!("{}", r.counts.delivered),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Min(16),
        Constraint::Min(14),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(9),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .header(
                Row::new(vec![
                    "rule",
                    "inbox",
                    "styles",
                    "preset",
                    "on",
                    "queued",
                    "done",
                    "failed",
                    "delivered",
                ])
                .bold(),
            )
            .block(Block::bordered().title(" Watch: drop folders ")),
        top,
    );
    let mut lines: Vec<Line> = Vec::new();
    for r in rules {
        for fail in &r.failures {
            lines.push(Line::from(format!(
                "{}  {}  {}: {}",
                format_time(fail.time),
                r.name,
                fail.path.display(),
                fail.reason
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from("no failures").dim());
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Recent failures ")),
        bottom,
    );
}
