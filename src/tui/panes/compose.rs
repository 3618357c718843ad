//! Compose: the content, the marked styles and the run parameters.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use crate::tui::app::{App, FIELDS};
use crate::tui::ui::ACCENT;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let c = &app.compose;
    let mut lines = vec![Line::from("Content").bold()];
    lines.push(match &c.content {
        Some(i) => Line::from(format!("  {}", i.name)).fg(ACCENT),
        None => Line::from("  none: in Library, Enter on a photo").dim(),
    });
    lines.push(Line::from(""));
    lines.push(Line::from(format!("Styles ({})", c.styles.len())).bold());
    if c.styles.is_empty() {
        lines.push(Line::from("  none: in Library, Space on paintings").dim());
    }
    for s in &c.styles {
        lines.push(Line::from(format!("  {}", s.name)).fg(ACCENT));
    }
    lines.push(Line::from(""));
    let n = c.styles.len();
    lines.push(if c.content.is_some() && n > 0 {
        Line::from(format!(
            "r queues {n} run{} (content × each style)",
            if n == 1 { "" } else { "s" }
        ))
        .fg(ACCENT)
    } else {
        Line::from("r queues the runs once both are chosen").dim()
    });
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Inputs ")),
        left,
    );
    let rows: Vec<Row> = FIELDS
        .iter()
        .enumerate()
        .map(|(i, name)| Row::new(vec![name.to_string(), c.value(i)]))
        .collect();
    let table = Table::new(rows, [Constraint::Length(16), Constraint::Min(10)])
        .block(
            Block::bordered()
                .title(" Parameters (↑↓ field · +/- change · Enter type) ")
                .border_style(Style::default().fg(ACCENT)),
        )
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(c.field));
    f.render_stateful_widget(table, right, &mut state);
}
