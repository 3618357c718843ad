//! Queue: running and queued runs, in the order they will be taken.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::tui::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered().title(format!(" Queue ({}) ", app.snap.queue.len()));
    if app.snap.queue.is_empty() {
        f.render_widget(
            Paragraph::new("nothing queued: compose a run (2) and press r")
                .style(app.theme.muted())
                .block(block),
            area,
        );
        return;
    }
    let rows: Vec<Row> = app
        .snap
        .queue
        .iter()
        .map(|r| {
            let mut cells = super::run_cells(r, &app.theme);
            cells.push(format!("{}", r.priority).into());
            cells.push(r.worker.clone().unwrap_or_default().into());
            Row::new(cells)
        })
        .collect();
    let widths = [
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(12),
        Constraint::Min(14),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Length(5),
        Constraint::Length(16),
    ];
    let table = Table::new(rows, widths)
        .header(
            Row::new(vec![
                "id", "status", "content", "style", "size", "steps", "loss", "prio", "worker",
            ])
            .bold(),
        )
        .block(block)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(app.queue_sel));
    f.render_stateful_widget(table, area, &mut state);
}
